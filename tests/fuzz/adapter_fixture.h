/*
 * adapter_fixture - what the adapter fuzz targets share: one input from the
 * partner side through a mapping's parser and on to complete, checked
 * CloudEvents, exactly as the running adapter builds them (events_build:
 * the mapping's parse, the envelope, the local check against the hub's
 * schemas).
 *
 * The input's first byte picks the route it arrives on (the file name or
 * request path, and content type, the mapping dispatches on); the rest is
 * the partner's bytes. Checks besides the sanitizers: events_build returns
 * 0 exactly when it reports no error; on 0 there is at least one event, and
 * each is a JSON object that passes the validator again, fits the hub's size
 * limit and survives a dump and reload unchanged. Header-only (run.sh builds
 * each target from one .c file).
 */
#ifndef FUZZ_ADAPTER_FIXTURE_H
#define FUZZ_ADAPTER_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "adapter.h"
#include "events.h"
#include "validate.h"

#define FUZZ_SOURCE "urn:nld:oin:00000001003214345000:systeem:fuzz"

/* A way in: the name (file name or request path) and content type. */
struct fuzz_route {
    const char *name;
    const char *content_type;
};

static struct validator *fuzz_validator;

/* The mapping's config from a JSON file (NULL path: an empty object). */
static json_t *fuzz_mapping_config(const char *path)
{
    if (!path)
        return json_object();
    json_error_t jerr;
    json_t *cfg = json_load_file(path, 0, &jerr);
    if (!cfg) {
        fprintf(stderr, "adapter fixture: %s: %s\n", path, jerr.text);
        abort();
    }
    return cfg;
}

static void fuzz_adapter_check(const json_t *events, const json_t *errors, int rc)
{
    if ((rc == 0) != (json_array_size(errors) == 0))
        abort();
    if (rc != 0)
        return;
    if (json_array_size(events) == 0)
        abort();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        if (!json_is_object(ev))
            abort();
        json_t *again = json_array();
        if (validator_check(fuzz_validator, ev, again) != 1 || json_array_size(again) != 0)
            abort(); /* what passed once passes again */
        json_decref(again);
        char *text = json_dumps(ev, JSON_COMPACT);
        if (!text || strlen(text) > EVENTS_MAX_BYTES)
            abort();
        json_t *back = json_loads(text, 0, NULL);
        if (!back || !json_equal(back, ev))
            abort();
        json_decref(back);
        free(text);
    }
}

/* One input through `m`, on the route its first byte picks. */
static void fuzz_adapter_one(const struct adapter_mapping *m, const struct fuzz_route *routes,
                             size_t nroutes, const uint8_t *data, size_t size)
{
    if (!fuzz_validator) {
        char err[512];
        const char *dir = getenv("KETENHUB_SCHEMAS");
        fuzz_validator = validator_load(dir ? dir : "schemas", err, sizeof err);
        if (!fuzz_validator) {
            fprintf(stderr, "adapter fixture: %s\n", err);
            abort();
        }
    }
    if (size == 0)
        return;
    const struct fuzz_route *r = &routes[data[0] % nroutes];
    struct adapter_input in = {(const char *)data + 1, size - 1, r->content_type, r->name};
    json_t *events = json_array(), *errors = json_array();
    char digest[EVENTS_DIGEST_HEX];
    int rc = events_build(m, NULL, fuzz_validator, FUZZ_SOURCE, &in, events, errors, digest);
    fuzz_adapter_check(events, errors, rc);
    json_decref(events);
    json_decref(errors);
}

#endif
