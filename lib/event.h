/*
 * event - the wire-level handling of one event frame: bounded parsing into a
 * JSON object, error objects with JSON pointers, and content comparison.
 *
 * Knows nothing of schemas, partners or storage; the hub's intake and the
 * adapters build on it. Does not log.
 */
#ifndef EVENT_H
#define EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/*
 * Appends {"path", "keyword", "message"} to the `errors` array (keyword may be
 * NULL, then the member is left out). The message is formatted printf-style.
 */
void event_error(json_t *errors, const char *path, const char *keyword, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Returns the nesting depth of the JSON text (objects and arrays, strings
 * skipped), scanning at most until the depth passes `limit` (then limit + 1).
 * Runs before the parser so hostile nesting never reaches recursion.
 */
int event_depth(const char *buf, size_t len, int limit);

/*
 * Parses one frame as a JSON object, refusing nesting deeper than max_depth,
 * invalid UTF-8, bad JSON (with line/column) and non-objects. Returns a new
 * reference the caller owns, or NULL after appending one error to `errors`.
 */
json_t *event_parse(const char *buf, size_t len, int max_depth, json_t *errors);

/*
 * 1 when the JSON text `a` carries the same content as the text `b` (already
 * parsed as `b_parsed`): byte-identical, or equal as JSON with whitespace and
 * key order ignored. 0 otherwise, also when `a` does not parse.
 */
int event_same_content(const char *a, size_t alen, const char *b, size_t blen,
                       const json_t *b_parsed);

#endif
