/*
 * util - small helpers shared by hub, ctl and adapters: files, paths, time.
 * No module state; nothing here logs.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_TIME_LEN 32 /* "2026-11-29T08:00:00.123Z" plus NUL, with room */

/* Writes the current UTC time as RFC 3339 with milliseconds into buf. */
void util_time_now(char buf[UTIL_TIME_LEN]);

/* Formats a UTC time given in milliseconds since the epoch (RFC 3339, ms). */
void util_time_format(int64_t ms, char buf[UTIL_TIME_LEN]);

/* Milliseconds since the epoch (wall clock) and since an arbitrary point
 * (monotonic clock, for intervals). */
int64_t util_wall_ms(void);
int64_t util_mono_ms(void);

/*
 * Reads a whole file of at most `max` bytes. Returns a NUL-terminated buffer the
 * caller frees, with its length in *len (may be NULL); NULL with err filled on
 * failure (missing, unreadable, too large).
 */
char *util_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* The folder part of `path` ("." when it has none). Caller frees. */
char *util_dirname(const char *path);

/* `path` if absolute, else `base_dir`/`path`. Caller frees. */
char *util_path_resolve(const char *base_dir, const char *path);

/* 1 if both paths name the same existing file or folder (same device and
 * inode), 0 if not, -1 if either cannot be looked at. */
int util_same_file(const char *a, const char *b);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const uint8_t *bytes, size_t n, char *out);

#define UTIL_UUID_LEN 37 /* 36 characters and NUL */

/* A random (version 4) UUID in its text form. */
void util_uuid4(char out[UTIL_UUID_LEN]);

/* A time-ordered (version 7, RFC 9562) UUID: 48 bits of Unix milliseconds,
 * then random bits. Ids made one after another sort (and index) in time
 * order, so a B-tree over them grows at its right edge. */
void util_uuid7(char out[UTIL_UUID_LEN]);

/* strtol with full-string and range checks. Returns 0, or -1. */
int util_parse_long(const char *s, long min, long max, long *out);

#endif
