/*
 * pseudonym - turns a person's identifying value (a BSN, or a surname with a
 * date of birth) into a keyed pseudonym: HMAC-SHA256 under the hub's
 * pseudonym key over a normalised, domain-separated input.
 *
 * The same person written in slightly different ways by two partners (case,
 * spaces, accents, Dutch tussenvoegsels, "1234.56.782") gets the same
 * pseudonym; without the key nobody can compute or test one. What is
 * normalised, and how, is in docs/matching.md. Pure functions: no store, no
 * log, safe on any thread. Copies of clear values made here are zeroed before
 * they are freed.
 */
#ifndef PSEUDONYM_H
#define PSEUDONYM_H

#include <stddef.h>

/* The two kinds of identifier. */
#define PSEUDONYM_KIND_BSN "bsn"
#define PSEUDONYM_KIND_NAME "naam-geboortedatum"

/* Hex digits of a pseudonym, plus the NUL. */
#define PSEUDONYM_HEX_LEN 65

/*
 * The text that is MACed for (kind, value), without the domain prefix:
 *   kind "bsn": the digits of `value` (spaces, dots and hyphens dropped); it
 *     must then be 9 digits passing the elfproef.
 *   kind "naam-geboortedatum": `value` is "SURNAME|YYYY-MM-DD" (split at the
 *     last '|'); the surname normalised (docs/matching.md), "|", the date.
 * Writes it NUL-terminated into out (outlen bytes). Returns its length, or -1
 * when kind is unknown, the value is not valid for it, the surname has
 * nothing left to match on, or out is too small. Exposed for tests and for
 * ketenctl; the caller zeroes out when done.
 */
int pseudonym_normalise(const char *kind, const char *value, char *out, size_t outlen);

/*
 * The pseudonym of (kind, value) under `key`: lower-case hex of
 * HMAC-SHA256(key, "ketenhub/pseudonym/v1" NUL kind NUL normalised), in
 * out_hex. Returns 0, or -1 (out_hex then "") for what pseudonym_normalise
 * refuses. Used by the hub at intake and by ketenctl (pseudonym, audit
 * subject); the signature is a contract between them.
 */
int pseudonym_compute(const unsigned char key[32], const char *kind, const char *value,
                      char out_hex[65]);

#endif
