/*
 * schema_format - the JSON Schema "format" names the validator asserts.
 *
 * Each checker is a small hand-written parser of the RFC grammar (no regex,
 * no allocation, ASCII only where the RFC is). Names not listed here are
 * annotation-only for the validator; see docs/schema.md. Does not log.
 */
#ifndef SCHEMA_FORMAT_H
#define SCHEMA_FORMAT_H

#include <stddef.h>

enum schema_format {
    SCHEMA_FORMAT_NONE = 0, /* not asserted: annotation only */
    SCHEMA_FORMAT_DATE_TIME,
    SCHEMA_FORMAT_DATE,
    SCHEMA_FORMAT_TIME,
    SCHEMA_FORMAT_DURATION,
    SCHEMA_FORMAT_EMAIL,
    SCHEMA_FORMAT_HOSTNAME,
    SCHEMA_FORMAT_IPV4,
    SCHEMA_FORMAT_IPV6,
    SCHEMA_FORMAT_URI,
    SCHEMA_FORMAT_URI_REFERENCE,
    SCHEMA_FORMAT_UUID,
    SCHEMA_FORMAT_JSON_POINTER,
    SCHEMA_FORMAT_RELATIVE_JSON_POINTER,
    SCHEMA_FORMAT_BSN /* ketenhub's own: a Dutch citizen service number (elfproef) */
};

/* The format asserted for `name`, or SCHEMA_FORMAT_NONE when it is not. */
enum schema_format schema_format_lookup(const char *name);

/* Static text naming the format and its grammar, e.g. "date-time (RFC 3339)". */
const char *schema_format_describe(enum schema_format format);

/* 1 when `s` (`len` bytes) is valid for `format`, else 0; NONE is always 1. */
int schema_format_check(enum schema_format format, const char *s, size_t len);

#endif
