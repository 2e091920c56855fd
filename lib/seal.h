/*
 * seal - encryption at rest of one stored value (docs/encryption.md).
 *
 * libsodium's XChaCha20-Poly1305-IETF AEAD with a random 24-byte nonce per
 * value. A sealed value is a self-describing byte string:
 *
 *   offset  0  4 bytes  magic "khs1" (ketenhub seal, format version 1)
 *   offset  4  8 bytes  key id: the first 8 bytes of a BLAKE2b of the key
 *   offset 12 24 bytes  nonce
 *   offset 36  n bytes  ciphertext of the n plaintext bytes
 *   then      16 bytes  Poly1305 tag
 *
 * The associated data binds the value to its row: the first 12 bytes of the
 * sealed value (format and key id), then the names of the row, NUL-separated
 * (e.g. "events", partner, source, id). A value copied into another row, or a
 * header edited, fails to open; a value under another key is named by its
 * key id before any decryption is tried.
 *
 * Does: key set-up from the 32-byte secret of a key file, sealing, opening,
 * key ids as hex. Does not: read key files (keyfile), know tables (store),
 * log. Thread-safe: a seal_key is read-only once made.
 */
#ifndef SEAL_H
#define SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_SECRET_BYTES 32
#define SEAL_KEY_ID_BYTES 8
#define SEAL_HEADER_BYTES 36 /* magic, key id, nonce */
#define SEAL_OVERHEAD 52     /* header and tag */
#define SEAL_KEY_ID_HEX 17   /* 16 hex digits and NUL */

/* A key ready for use. Wipe it with seal_key_wipe when done. */
struct seal_key {
    uint8_t key[SEAL_SECRET_BYTES]; /* the AEAD key, derived from the secret */
    uint8_t id[SEAL_KEY_ID_BYTES];
    char id_hex[SEAL_KEY_ID_HEX];
};

/* What seal_open found. */
enum seal_status {
    SEAL_OK = 0,
    SEAL_NOT_SEALED = -1, /* too short or not format "khs1": not a sealed value */
    SEAL_OTHER_KEY = -2,  /* sealed under another key (its id in the message) */
    SEAL_FORGED = -3,     /* the tag does not verify: changed, or moved from another row */
};

/* Makes a key from a key file's 32-byte secret (the secret is not kept). */
void seal_key_init(struct seal_key *k, const uint8_t secret[SEAL_SECRET_BYTES]);

/* Zeroes a key. */
void seal_key_wipe(struct seal_key *k);

/* The size of the sealed form of n plaintext bytes. */
static inline size_t seal_size(size_t n)
{
    return n + SEAL_OVERHEAD;
}

/*
 * Seals `n` bytes of `plain` into out (room for seal_size(n) bytes), bound to
 * the row named by the `nparts` strings in `ad` (none may be NULL). Returns 0,
 * or -1 when out of memory (the associated data of a long name).
 */
int seal_encrypt(const struct seal_key *k, const char *const *ad, size_t nparts, const void *plain,
                 size_t n, uint8_t *out);

/*
 * Opens a sealed value of `len` bytes into out (room for len - SEAL_OVERHEAD
 * bytes, plus one for a NUL the function adds), with the same row names it
 * was sealed with. Sets *plain_len. On failure writes a message into err
 * (err may be NULL when errlen is 0) that never quotes the value: e.g.
 * "encrypted under key id 1f2e...; the configured key is 9a8b...".
 */
enum seal_status seal_decrypt(const struct seal_key *k, const char *const *ad, size_t nparts,
                              const uint8_t *sealed, size_t len, char *out, size_t *plain_len,
                              char *err, size_t errlen);

/* The key id of a sealed value as hex (17 bytes), or "-" when it is not one.
 * Returns 0 for a sealed value, -1 otherwise. */
int seal_key_id_of(const uint8_t *sealed, size_t len, char out[SEAL_KEY_ID_HEX]);

/* Names of the rows that hold sealed values, as seal_encrypt's `ad`. */
#define SEAL_AD_EVENT(partner, source, id)                                                         \
    (const char *const[])                                                                          \
    {                                                                                              \
        "events", (partner), (source), (id)                                                        \
    }
#define SEAL_AD_EVENT_N 4
#define SEAL_AD_DELIVERY(event_id)                                                                 \
    (const char *const[])                                                                          \
    {                                                                                              \
        "deliveries", (event_id)                                                                   \
    }
#define SEAL_AD_DELIVERY_N 2
/* escalations.ack_note; `id` the escalation's id in decimal. */
#define SEAL_AD_NOTE(id)                                                                           \
    (const char *const[])                                                                          \
    {                                                                                              \
        "escalations", (id)                                                                        \
    }
#define SEAL_AD_NOTE_N 2

#endif
