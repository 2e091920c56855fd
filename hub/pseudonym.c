/*
 * pseudonym - keyed pseudonyms of identifying values; see pseudonym.h and
 * docs/matching.md (which lists every normalisation rule below).
 */
#include "pseudonym.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "schema_format.h"

/* Changing anything in the normalisation or the MAC input changes every
 * pseudonym: bump this tag with it (docs/matching.md, "Key and versions"). */
static const char domain[] = "ketenhub/pseudonym/v1";

#define VALUE_MAX 4096 /* longer input is refused, not cut */

/* U+00C0 .. U+017F (Latin-1 letters and Latin Extended-A) to lower-case
 * ASCII without diacritics. Made from Unicode's NFKD decomposition; the
 * letters it does not decompose are written out (Æ ae, Ø o, Þ th, ß ss,
 * Đ d, Ħ h, ı i, Ĳ ij, ĸ k, Ŀ l, Ł l, ŉ n, Ŋ n, Œ oe, Ŧ t, ſ s). "" is no
 * letter (× and ÷): a word break. */
static const char *const latin[0x180 - 0xC0] = {
    /* U+00C0 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "ae",
    "c",
    "e",
    "e",
    "e",
    "e",
    "i",
    "i",
    "i",
    "i",
    /* U+00D0 */ "d",
    "n",
    "o",
    "o",
    "o",
    "o",
    "o",
    "",
    "o",
    "u",
    "u",
    "u",
    "u",
    "y",
    "th",
    "ss",
    /* U+00E0 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "ae",
    "c",
    "e",
    "e",
    "e",
    "e",
    "i",
    "i",
    "i",
    "i",
    /* U+00F0 */ "d",
    "n",
    "o",
    "o",
    "o",
    "o",
    "o",
    "",
    "o",
    "u",
    "u",
    "u",
    "u",
    "y",
    "th",
    "y",
    /* U+0100 */ "a",
    "a",
    "a",
    "a",
    "a",
    "a",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "c",
    "d",
    "d",
    /* U+0110 */ "d",
    "d",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "e",
    "g",
    "g",
    "g",
    "g",
    /* U+0120 */ "g",
    "g",
    "g",
    "g",
    "h",
    "h",
    "h",
    "h",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    "i",
    /* U+0130 */ "i",
    "i",
    "ij",
    "ij",
    "j",
    "j",
    "k",
    "k",
    "k",
    "l",
    "l",
    "l",
    "l",
    "l",
    "l",
    "l",
    /* U+0140 */ "l",
    "l",
    "l",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "n",
    "o",
    "o",
    "o",
    "o",
    /* U+0150 */ "o",
    "o",
    "oe",
    "oe",
    "r",
    "r",
    "r",
    "r",
    "r",
    "r",
    "s",
    "s",
    "s",
    "s",
    "s",
    "s",
    /* U+0160 */ "s",
    "s",
    "t",
    "t",
    "t",
    "t",
    "t",
    "t",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    "u",
    /* U+0170 */ "u",
    "u",
    "u",
    "u",
    "w",
    "w",
    "y",
    "y",
    "y",
    "z",
    "z",
    "z",
    "z",
    "z",
    "z",
    "s",
};

/* Name particles (Dutch tussenvoegsels, and the common ones of names from
 * elsewhere), as words after folding: dropped wherever they stand, so that
 * "van der Berg", "Berg, van der" and "Berg" are one name. Sorted for bsearch. */
static const char *const particles[] = {
    "aan", "al", "am", "auf", "bij", "d",   "da",  "das", "de",  "del",  "della", "den", "der",
    "des", "di", "do", "dos", "du",  "el",  "het", "in",  "l",   "la",   "le",    "les", "op",
    "s",   "t",  "te", "ten", "ter", "uit", "van", "vom", "von", "voor", "zu",    "zum", "zur",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static int is_particle(const char *word)
{
    return bsearch(word, particles, sizeof particles / sizeof *particles, sizeof *particles,
                   cmp_word) != NULL;
}

/* Decodes one UTF-8 sequence at s (n bytes left): the code point, or -1 for
 * an invalid sequence. Sets *used. */
static long utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n)
        return -1;
    long cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *used = len;
    return cp;
}

/* Folds a surname into words of lower-case letters and digits separated by
 * one space (no leading or trailing space). out has room for n + 1 bytes:
 * no rule makes the text longer. Returns the length, or -1 for bad UTF-8. */
static long fold(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, used = 0;
    for (size_t i = 0; i < n; i += used) {
        long cp = utf8_next(s + i, n - i, &used);
        if (cp < 0)
            return -1;
        const char *ascii = NULL;
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            out[o++] = (char)cp;
            continue;
        }
        if (cp >= 'A' && cp <= 'Z') {
            out[o++] = (char)(cp - 'A' + 'a');
            continue;
        }
        if (cp >= 0x300 && cp <= 0x36F)
            continue; /* a combining accent (decomposed input): dropped like the others */
        if (cp >= 0xC0 && cp < 0x180)
            ascii = latin[cp - 0xC0];
        if (ascii && *ascii) {
            size_t k = strlen(ascii);
            memcpy(out + o, ascii, k);
            o += k;
            continue;
        }
        /* Other ASCII, the rest of Latin-1 (symbols, no-break space), the
         * General Punctuation block (dashes, quotes, spaces) and the
         * modifier apostrophe are word breaks. */
        if (ascii || cp < 0xC0 || (cp >= 0x2000 && cp <= 0x206F) || cp == 0x2BC) {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
            continue;
        }
        /* Any other script is kept as written (not case-folded). */
        memcpy(out + o, s + i, used);
        o += used;
    }
    if (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return (long)o;
}

/* The folded surname without its particles (all of them kept when nothing
 * else is left), into out (room for strlen(folded) + 1). Returns the length. */
static size_t drop_particles(char *folded, char *out)
{
    size_t o = 0;
    for (int pass = 0; pass < 2 && o == 0; pass++) {
        char *p = folded;
        while (*p) {
            char *end = strchr(p, ' ');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char save = p[len];
            p[len] = '\0';
            if (pass == 1 || !is_particle(p)) {
                if (o > 0)
                    out[o++] = ' ';
                memcpy(out + o, p, len);
                o += len;
            }
            p[len] = save;
            p += len + (save ? 1 : 0);
        }
    }
    out[o] = '\0';
    return o;
}

static int normalise_bsn(const char *value, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen < 10)
        return -1;
    for (const char *p = value; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (o >= 9)
                return -1;
            out[o++] = *p;
        } else if (*p != ' ' && *p != '.' && *p != '-') {
            return -1;
        }
    }
    if (!schema_format_check(SCHEMA_FORMAT_BSN, out, o))
        return -1;
    out[o] = '\0';
    return (int)o;
}

static int normalise_name(const char *value, char *out, size_t outlen)
{
    const char *bar = strrchr(value, '|');
    if (!bar)
        return -1;
    const char *date = bar + 1;
    size_t n = (size_t)(bar - value), dlen = strlen(date);
    if (dlen != 10 || !schema_format_check(SCHEMA_FORMAT_DATE, date, dlen))
        return -1;
    char *folded = malloc(n + 1);
    int rc = -1;
    if (!folded)
        return -1;
    long flen = fold(value, n, folded);
    if (flen > 0 && (size_t)flen + 1 + dlen + 1 <= outlen) {
        size_t o = drop_particles(folded, out);
        out[o++] = '|';
        memcpy(out + o, date, dlen + 1);
        rc = (int)(o + dlen);
    }
    sodium_memzero(folded, n + 1);
    free(folded);
    return rc;
}

int pseudonym_normalise(const char *kind, const char *value, char *out, size_t outlen)
{
    if (!kind || !value || !out || outlen == 0 || strlen(value) > VALUE_MAX)
        return -1;
    out[0] = '\0';
    int rc = -1;
    if (strcmp(kind, PSEUDONYM_KIND_BSN) == 0)
        rc = normalise_bsn(value, out, outlen);
    else if (strcmp(kind, PSEUDONYM_KIND_NAME) == 0)
        rc = normalise_name(value, out, outlen);
    if (rc < 0)
        sodium_memzero(out, outlen);
    return rc;
}

int pseudonym_compute(const unsigned char key[32], const char *kind, const char *value,
                      char out_hex[65])
{
    out_hex[0] = '\0';
    size_t cap = (value ? strlen(value) : 0) + 16;
    char *norm = malloc(cap);
    if (!norm)
        return -1;
    int len = pseudonym_normalise(kind, value, norm, cap);
    if (len >= 0) {
        crypto_auth_hmacsha256_state st;
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_init(&st, key, 32);
        /* Domain separation: the tag and the kind, each NUL-terminated, so
         * no BSN can collide with a name and a later v2 with this v1. */
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)domain, sizeof domain);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)norm, (size_t)len);
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_bin2hex(out_hex, PSEUDONYM_HEX_LEN, mac, sizeof mac);
        sodium_memzero(&st, sizeof st);
        sodium_memzero(mac, sizeof mac);
    }
    sodium_memzero(norm, cap);
    free(norm);
    return len >= 0 ? 0 : -1;
}
