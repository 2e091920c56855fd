/*
 * event - bounded parsing, error objects and content comparison for event frames;
 * see event.h.
 */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void event_error(json_t *errors, const char *path, const char *keyword, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "path", json_string(path ? path : ""));
    if (keyword)
        json_object_set_new(e, "keyword", json_string(keyword));
    /* The message may quote the sender's own text; json_string refuses invalid
     * UTF-8, so fall back to a plain one rather than lose the error. */
    json_t *m = json_string(msg);
    json_object_set_new(e, "message", m ? m : json_string("invalid value"));
    json_array_append_new(errors, e);
}

int event_depth(const char *buf, size_t len, int limit)
{
    int depth = 0, max = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *event_parse(const char *buf, size_t len, int max_depth, json_t *errors)
{
    if (event_depth(buf, len, max_depth) > max_depth) {
        event_error(errors, "", "maxDepth", "JSON nesting is deeper than the limit of %d levels",
                    max_depth);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson ends most texts with " near '<the bytes read so far>'":
         * that could be part of a BSN or a name (docs/matching.md), so the
         * reply gives the position and the reason only. */
        char *near = strstr(jerr.text, " near '");
        if (near)
            *near = '\0';
        event_error(errors, "", "json", "malformed JSON at line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        event_error(errors, "", "type", "an event must be a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

int event_same_content(const char *a, size_t alen, const char *b, size_t blen,
                       const json_t *b_parsed)
{
    if (alen == blen && memcmp(a, b, alen) == 0)
        return 1;
    json_t *pa = json_loadb(a, alen, 0, NULL);
    int same = pa && json_equal(pa, b_parsed);
    json_decref(pa);
    return same;
}
