/*
 * seal - AEAD of stored values; see seal.h.
 *
 * The AEAD key is derived from the key file's secret (crypto_kdf, context
 * "khseal01") rather than used as it is, so the same secret could never end
 * up keying two algorithms. The key id is a BLAKE2b of the derived key under
 * its own domain string: it names a key without revealing anything of it.
 */
#include "seal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static const uint8_t MAGIC[4] = {'k', 'h', 's', '1'};

#define AD_STACK 512

void seal_key_init(struct seal_key *k, const uint8_t secret[SEAL_SECRET_BYTES])
{
    static const char domain[] = "ketenhub seal key id v1";
    uint8_t digest[16];
    crypto_kdf_derive_from_key(k->key, sizeof k->key, 1, "khseal01", secret);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof digest);
    crypto_generichash_update(&h, (const unsigned char *)domain, sizeof domain - 1);
    crypto_generichash_update(&h, k->key, sizeof k->key);
    crypto_generichash_final(&h, digest, sizeof digest);
    memcpy(k->id, digest, sizeof k->id);
    sodium_bin2hex(k->id_hex, sizeof k->id_hex, k->id, sizeof k->id);
}

void seal_key_wipe(struct seal_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* The associated data: header[0..12) then each part followed by a NUL.
 * Written into `stack` when it fits, else into a malloc'd buffer (*heap). */
static uint8_t *make_ad(const uint8_t *header, const char *const *ad, size_t nparts, uint8_t *stack,
                        size_t *len, uint8_t **heap)
{
    size_t n = 12;
    for (size_t i = 0; i < nparts; i++)
        n += strlen(ad[i]) + 1;
    uint8_t *buf = stack;
    *heap = NULL;
    if (n > AD_STACK) {
        buf = *heap = malloc(n);
        if (!buf)
            return NULL;
    }
    memcpy(buf, header, 12);
    size_t at = 12;
    for (size_t i = 0; i < nparts; i++) {
        size_t l = strlen(ad[i]) + 1;
        memcpy(buf + at, ad[i], l);
        at += l;
    }
    *len = n;
    return buf;
}

int seal_encrypt(const struct seal_key *k, const char *const *ad, size_t nparts, const void *plain,
                 size_t n, uint8_t *out)
{
    uint8_t stack[AD_STACK], *heap;
    size_t adlen = 0;
    memcpy(out, MAGIC, sizeof MAGIC);
    memcpy(out + 4, k->id, SEAL_KEY_ID_BYTES);
    randombytes_buf(out + 12, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const uint8_t *a = make_ad(out, ad, nparts, stack, &adlen, &heap);
    if (!a)
        return -1;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_HEADER_BYTES, NULL, plain, n, a, adlen,
                                               NULL, out + 12, k->key);
    free(heap);
    return 0;
}

static enum seal_status failure(enum seal_status s, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum seal_status failure(enum seal_status s, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

int seal_key_id_of(const uint8_t *sealed, size_t len, char out[SEAL_KEY_ID_HEX])
{
    if (len < SEAL_OVERHEAD || memcmp(sealed, MAGIC, sizeof MAGIC) != 0) {
        snprintf(out, SEAL_KEY_ID_HEX, "-");
        return -1;
    }
    sodium_bin2hex(out, SEAL_KEY_ID_HEX, sealed + 4, SEAL_KEY_ID_BYTES);
    return 0;
}

enum seal_status seal_decrypt(const struct seal_key *k, const char *const *ad, size_t nparts,
                              const uint8_t *sealed, size_t len, char *out, size_t *plain_len,
                              char *err, size_t errlen)
{
    char id[SEAL_KEY_ID_HEX];
    if (seal_key_id_of(sealed, len, id) != 0)
        return failure(SEAL_NOT_SEALED, err, errlen,
                       "not an encrypted value (%zu bytes without the \"khs1\" header)", len);
    if (memcmp(sealed + 4, k->id, SEAL_KEY_ID_BYTES) != 0)
        return failure(SEAL_OTHER_KEY, err, errlen,
                       "encrypted under key id %s; the configured key is %s", id, k->id_hex);
    uint8_t stack[AD_STACK], *heap;
    size_t adlen = 0;
    const uint8_t *a = make_ad(sealed, ad, nparts, stack, &adlen, &heap);
    if (!a)
        return failure(SEAL_FORGED, err, errlen, "out of memory");
    unsigned long long n = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
        (unsigned char *)out, &n, NULL, sealed + SEAL_HEADER_BYTES, len - SEAL_HEADER_BYTES, a,
        adlen, sealed + 12, k->key);
    free(heap);
    if (rc != 0)
        return failure(SEAL_FORGED, err, errlen,
                       "does not verify under key id %s: changed, or copied from another row", id);
    out[n] = '\0';
    *plain_len = (size_t)n;
    return SEAL_OK;
}
