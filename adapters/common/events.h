/*
 * events - partner input -> complete, checked CloudEvents, without I/O: the
 * mapping's parse, the envelope the core adds (specversion, id, source, time,
 * datacontenttype), and the local schema check. adapter_take_input stores
 * what this builds; the unit tests call it directly. Does not log.
 */
#ifndef EVENTS_H
#define EVENTS_H

#include <jansson.h>

#include "adapter.h"
#include "validate.h"

#define EVENTS_DIGEST_HEX 65

/* The largest event (compact JSON) taken: below the hub's default frame
 * limit (max_message_size 262144, minus CURVE's overhead), so an event the
 * hub would drop unanswered is refused when it is handed in instead. */
#define EVENTS_MAX_BYTES 260000

/*
 * Parses `in` with the mapping (ad is passed on to it and may be NULL for a
 * mapping that does not use it), completes each item's envelope with
 * `source`, validates it with `v` (may be NULL: no local check), and appends
 * the events to `events`. Fills `digest` (hex BLAKE2b-256 of the input bytes).
 * Returns 0, or -1 with `errors` filled (each error of a record carries an
 * "item" member: the record's pointer in the input). Pure.
 */
int events_build(const struct adapter_mapping *m, struct adapter *ad, const struct validator *v,
                 const char *source, const struct adapter_input *in, json_t *events, json_t *errors,
                 char digest[EVENTS_DIGEST_HEX]);

/* The id of record `index` of the input with `digest` from `source`: a name-
 * based UUID (RFC 9562 version 8), the same every time. */
void events_derived_id(const char *source, const char *digest, size_t index, char out[37]);

#endif
