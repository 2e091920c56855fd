/*
 * fuzz_event - libFuzzer target: one frame through the bounded parser, the
 * envelope and signal schemas, and the content comparison, as intake does it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "authz.h"
#include "catalog.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog *cat;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cat) {
        char err[512];
        const char *dir = getenv("KETENHUB_SCHEMAS");
        cat = catalog_load(dir ? dir : "schemas", err, sizeof err);
        if (!cat) {
            fprintf(stderr, "fuzz_event: %s\n", err);
            abort();
        }
    }
    json_t *errors = json_array();
    json_t *ev = event_parse((const char *)data, size, 32, errors);
    if (ev) {
        schema_validate(catalog_envelope(cat), ev, errors, "", 20);
        json_t *d = json_object_get(ev, "data");
        if (d)
            schema_validate(catalog_data(cat, TYPE_SIGNAAL_GEREGISTREERD), d, errors, "/data", 0);
        event_same_content((const char *)data, size, (const char *)data, size, ev);
        json_decref(ev);
    }
    json_decref(errors);
    return 0;
}
