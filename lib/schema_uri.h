/*
 * schema_uri - RFC 3986 URI references, as the schema validator needs them.
 *
 * Splits a URI reference into its five components and resolves a reference
 * against a base URI (RFC 3986 section 5.2, including dot-segment removal).
 * It does not normalise case or percent-encoding and does not judge whether
 * a string is a well-formed URI: that is the "uri" format check in
 * schema_format. Nothing here touches the network.
 */
#ifndef SCHEMA_URI_H
#define SCHEMA_URI_H

#include <stddef.h>

/* The components of a URI reference; each points into the split string.
 * A component that is absent has has_* == 0 (scheme: scheme_len == 0). */
struct schema_uri_parts {
    const char *scheme;
    size_t scheme_len;
    int has_authority;
    const char *authority;
    size_t authority_len;
    const char *path;
    size_t path_len;
    int has_query;
    const char *query;
    size_t query_len;
    int has_fragment;
    const char *fragment;
    size_t fragment_len;
};

/* Splits `uri` (NUL-terminated) into `out`, which then borrows from `uri`.
 * Every string splits; there is no failure. */
void schema_uri_split(const char *uri, struct schema_uri_parts *out);

/* 1 when `uri` starts with a scheme ("http:", "urn:"), else 0. */
int schema_uri_is_absolute(const char *uri);

/*
 * Resolves `ref` against `base` (RFC 3986 section 5.2.2). `base` must be
 * absolute unless `ref` is. Returns a new string the caller frees with free(),
 * or NULL when base is not absolute (and ref is relative) or out of memory.
 */
char *schema_uri_resolve(const char *base, const char *ref);

#endif
