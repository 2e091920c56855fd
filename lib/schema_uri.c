/*
 * schema_uri - RFC 3986 URI reference splitting and resolution.
 *
 * Used at schema compile time to turn $id and $ref values into absolute URIs.
 * Implements section 3 (component split, by the regular expression of
 * appendix B) and section 5.2 (resolution, merge, remove_dot_segments,
 * recomposition). It never validates or normalises; see schema_format for the
 * "uri" format assertion.
 */
#include "schema_uri.h"

#include <stdlib.h>
#include <string.h>

static int is_scheme_char(char ch, int first)
{
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))
        return 1;
    if (first)
        return 0;
    return (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.';
}

/* Length of the scheme when `uri` starts with "scheme:", else 0. */
static size_t scheme_length(const char *uri)
{
    size_t i = 0;
    if (!is_scheme_char(uri[0], 1))
        return 0;
    while (is_scheme_char(uri[i], i == 0))
        i++;
    return uri[i] == ':' ? i : 0;
}

void schema_uri_split(const char *uri, struct schema_uri_parts *out)
{
    const char *p = uri;
    size_t n;

    memset(out, 0, sizeof *out);
    n = scheme_length(p);
    if (n > 0) {
        out->scheme = p;
        out->scheme_len = n;
        p += n + 1;
    }
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        out->has_authority = 1;
        out->authority = p;
        n = strcspn(p, "/?#");
        out->authority_len = n;
        p += n;
    }
    out->path = p;
    n = strcspn(p, "?#");
    out->path_len = n;
    p += n;
    if (*p == '?') {
        p++;
        out->has_query = 1;
        out->query = p;
        n = strcspn(p, "#");
        out->query_len = n;
        p += n;
    }
    if (*p == '#') {
        p++;
        out->has_fragment = 1;
        out->fragment = p;
        out->fragment_len = strlen(p);
    }
}

int schema_uri_is_absolute(const char *uri)
{
    return scheme_length(uri) > 0;
}

/* A growable string for the resolver; all appends are bounded by the inputs. */
struct buf {
    char *s;
    size_t len;
    size_t cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (p == NULL)
            return -1;
        b->s = p;
        b->cap = cap;
    }
    if (n == 0 || b->s == NULL || s == NULL)
        return b->s == NULL ? -1 : 0;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

/* Cuts the last segment and the '/' before it off `out` (5.2.4 step C). */
static void drop_last_segment(struct buf *out, size_t start)
{
    size_t cut = out->len;
    while (cut > start && out->s[cut - 1] != '/')
        cut--;
    if (cut > start)
        cut--;
    out->len = cut;
    if (out->s != NULL)
        out->s[cut] = '\0';
}

/*
 * RFC 3986 section 5.2.4 on `path` (n bytes), appending the result to `out`.
 * The input is copied because steps B and C rewrite its head to "/".
 */
static int remove_dot_segments(struct buf *out, const char *path, size_t n)
{
    size_t start = out->len;
    size_t i = 0;
    char *s = malloc(n + 1);

    if (s == NULL)
        return -1;
    memcpy(s, path, n);
    s[n] = '\0';
    while (i < n) {
        const char *p = s + i;
        size_t left = n - i;
        if (left >= 3 && memcmp(p, "../", 3) == 0) {
            i += 3;
        } else if ((left >= 2 && memcmp(p, "./", 2) == 0) ||
                   (left >= 3 && memcmp(p, "/./", 3) == 0)) {
            i += 2; /* "./" dropped; "/./" becomes "/" */
        } else if (left == 2 && memcmp(p, "/.", 2) == 0) {
            i += 1;
            s[i] = '/';
        } else if (left >= 4 && memcmp(p, "/../", 4) == 0) {
            i += 3;
            drop_last_segment(out, start);
        } else if (left == 3 && memcmp(p, "/..", 3) == 0) {
            i += 2;
            s[i] = '/';
            drop_last_segment(out, start);
        } else if ((left == 1 && p[0] == '.') || (left == 2 && memcmp(p, "..", 2) == 0)) {
            i = n;
        } else {
            size_t seg = p[0] == '/' ? 1 : 0;
            while (seg < left && p[seg] != '/')
                seg++;
            if (buf_add(out, p, seg) < 0) {
                free(s);
                return -1;
            }
            i += seg;
        }
    }
    free(s);
    return buf_add(out, "", 0);
}

char *schema_uri_resolve(const char *base, const char *ref)
{
    struct schema_uri_parts b, r;
    struct buf out = {NULL, 0, 0};
    const char *query = NULL;
    size_t query_len = 0;
    int has_query = 0;

    schema_uri_split(ref, &r);
    if (r.scheme_len == 0 && (base == NULL || !schema_uri_is_absolute(base)))
        return NULL;
    if (base == NULL)
        base = ref;
    schema_uri_split(base, &b);

    if (r.scheme_len > 0) {
        if (buf_add(&out, r.scheme, r.scheme_len) < 0 || buf_add(&out, ":", 1) < 0)
            goto fail;
        if (r.has_authority) {
            if (buf_add(&out, "//", 2) < 0 || buf_add(&out, r.authority, r.authority_len) < 0)
                goto fail;
        }
        if (remove_dot_segments(&out, r.path, r.path_len) < 0)
            goto fail;
        has_query = r.has_query, query = r.query, query_len = r.query_len;
    } else {
        if (buf_add(&out, b.scheme, b.scheme_len) < 0 || buf_add(&out, ":", 1) < 0)
            goto fail;
        if (r.has_authority) {
            if (buf_add(&out, "//", 2) < 0 || buf_add(&out, r.authority, r.authority_len) < 0)
                goto fail;
            if (remove_dot_segments(&out, r.path, r.path_len) < 0)
                goto fail;
            has_query = r.has_query, query = r.query, query_len = r.query_len;
        } else {
            if (b.has_authority) {
                if (buf_add(&out, "//", 2) < 0 || buf_add(&out, b.authority, b.authority_len) < 0)
                    goto fail;
            }
            if (r.path_len == 0) {
                if (buf_add(&out, b.path, b.path_len) < 0)
                    goto fail;
                if (r.has_query)
                    has_query = 1, query = r.query, query_len = r.query_len;
                else
                    has_query = b.has_query, query = b.query, query_len = b.query_len;
            } else {
                if (r.path[0] == '/') {
                    if (remove_dot_segments(&out, r.path, r.path_len) < 0)
                        goto fail;
                } else {
                    /* merge (5.2.3), then remove dot segments */
                    struct buf merged = {NULL, 0, 0};
                    int rc = 0;
                    if (b.has_authority && b.path_len == 0) {
                        rc = buf_add(&merged, "/", 1);
                    } else {
                        size_t keep = b.path_len;
                        while (keep > 0 && b.path[keep - 1] != '/')
                            keep--;
                        rc = buf_add(&merged, b.path, keep);
                    }
                    if (rc == 0)
                        rc = buf_add(&merged, r.path, r.path_len);
                    if (rc == 0)
                        rc = remove_dot_segments(&out, merged.s, merged.len);
                    free(merged.s);
                    if (rc < 0)
                        goto fail;
                }
                has_query = r.has_query, query = r.query, query_len = r.query_len;
            }
        }
    }
    if (has_query) {
        if (buf_add(&out, "?", 1) < 0 || buf_add(&out, query, query_len) < 0)
            goto fail;
    }
    if (r.has_fragment) {
        if (buf_add(&out, "#", 1) < 0 || buf_add(&out, r.fragment, r.fragment_len) < 0)
            goto fail;
    }
    return out.s;
fail:
    free(out.s);
    return NULL;
}
