/*
 * events - partner input -> complete, checked CloudEvents; see events.h.
 */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "event.h"
#include "util.h"

void events_derived_id(const char *source, const char *digest, size_t index, char out[37])
{
    char text[512];
    unsigned char h[16];
    char hex[33];
    snprintf(text, sizeof text, "%s\n%s\n%zu", source, digest, index);
    crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x80); /* version 8 */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    util_hex(h, sizeof h, hex);
    snprintf(out, UTIL_UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

/* Builds the complete CloudEvent of one parsed item. NULL (with an error) if
 * the mapping gave no type or data. */
static json_t *complete(const char *source, const json_t *item, const char *digest, size_t index,
                        json_t *errors)
{
    const char *type = json_string_value(json_object_get(item, "type"));
    json_t *data = json_object_get(item, "data");
    if (!type || !json_is_object(data)) {
        event_error(errors, "", "mapping", "record %zu: the mapping made no type or data", index);
        return NULL;
    }
    char id[UTIL_UUID_LEN], now[UTIL_TIME_LEN];
    const char *given_id = json_string_value(json_object_get(item, "id"));
    if (!given_id)
        events_derived_id(source, digest, index, id);
    const char *time = json_string_value(json_object_get(item, "time"));
    if (!time) {
        util_time_now(now);
        time = now;
    }
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "specversion", "1.0", "id",
                           given_id ? given_id : id, "source", source, "type", type, "time", time,
                           "datacontenttype", "application/json");
    if (!ev)
        return NULL;
    const json_t *subject = json_object_get(item, "subject");
    if (json_is_string(subject))
        json_object_set(ev, "subject", (json_t *)subject);
    json_object_set(ev, "data", data);
    return ev;
}

int events_build(const struct adapter_mapping *m, struct adapter *ad, const struct validator *v,
                 const char *source, const struct adapter_input *in, json_t *events, json_t *errors,
                 char digest[EVENTS_DIGEST_HEX])
{
    unsigned char h[32];
    size_t before = json_array_size(errors);
    json_t *items = json_array();
    crypto_generichash(h, sizeof h, (const unsigned char *)in->data, in->len, NULL, 0);
    util_hex(h, sizeof h, digest);
    if (!items)
        return -1;
    if (m->parse(ad, in, items, errors) != 0 || json_array_size(errors) != before) {
        if (json_array_size(errors) == before)
            event_error(errors, "", "format", "the input could not be read");
        goto out;
    }
    if (json_array_size(items) == 0) {
        event_error(errors, "", "format", "the input holds no records");
        goto out;
    }
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        json_t *errs = json_array();
        json_t *ev = complete(source, item, digest, i, errs);
        char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        if (text && strlen(text) > EVENTS_MAX_BYTES)
            event_error(errs, "", "maxSize",
                        "the event would be %zu bytes; the hub takes at most %d per event",
                        strlen(text), EVENTS_MAX_BYTES);
        else if (ev && v)
            validator_check(v, ev, errs);
        free(text);
        const json_t *origin = json_object_get(item, "origin");
        size_t k;
        json_t *e;
        json_array_foreach(errs, k, e)
        {
            if (json_is_string(origin))
                json_object_set(e, "item", (json_t *)origin);
            json_array_append(errors, e);
        }
        if (ev)
            json_array_append_new(events, ev);
        json_decref(errs);
    }
out:
    json_decref(items);
    return json_array_size(errors) == before ? 0 : -1;
}
