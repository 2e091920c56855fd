/*
 * schema_regex - ECMA-262 regular expressions (JSON Schema "pattern") on PCRE2.
 *
 * Translates the few places where ECMA-262 (with the "u" flag, as JSON Schema
 * asks) and PCRE2 disagree, compiles once, and matches without allocating.
 * Deviations that remain are listed in docs/schema.md. Does not log.
 */
#ifndef SCHEMA_REGEX_H
#define SCHEMA_REGEX_H

#include <stddef.h>

struct schema_regex;

/*
 * Compiles the ECMA-262 pattern `src` (`len` bytes of UTF-8). Returns a new
 * regex the caller frees with schema_regex_free, or NULL with the reason in
 * err (PCRE2's message and offset, or "out of memory").
 */
struct schema_regex *schema_regex_compile(const char *src, size_t len, char *err, size_t errlen);

/*
 * Searches `subject` (`len` bytes of UTF-8) for a match anywhere (patterns are
 * not anchored). Returns 1 on a match, 0 on none, -1 when matching gave up
 * (match or depth limit hit by a hostile subject, invalid UTF-8, or no memory
 * for the match data). Thread-safe: match data is per thread, made on first
 * use; a thread that ends calls schema_regex_thread_done.
 */
int schema_regex_match(const struct schema_regex *re, const char *subject, size_t len);

/* Frees the calling thread's match data (before a matching thread ends). */
void schema_regex_thread_done(void);

/* Frees the regex and sets *self_p to NULL; NULL is fine. */
void schema_regex_free(struct schema_regex **self_p);

#endif
