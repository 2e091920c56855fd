/*
 * test_pseudonym - keyed pseudonyms of identifying values: the elfproef,
 * what normalisation makes equal and what it keeps apart, HMAC values
 * computed independently (Python's hmac), refusals, and that the key and the
 * kind both change the pseudonym.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "pseudonym.h"
#include "schema_format.h"

/* The test key: bytes 0x00, 0x01, ..., 0x1f. */
static unsigned char key[32];

static void make_key(void)
{
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
}

static int bsn_ok(const char *s)
{
    return schema_format_check(SCHEMA_FORMAT_BSN, s, strlen(s));
}

static void elfproef_accepts_valid_and_refuses_invalid_bsns(void)
{
    /* 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3-1*3 = 66 = 6*11 */
    CHECK(bsn_ok("111222333"));
    CHECK(bsn_ok("123456782")); /* 154 = 14*11 */
    CHECK(bsn_ok("999999990"));
    CHECK(bsn_ok("100617682"));
    CHECK(!bsn_ok("123456789")); /* one digit off */
    CHECK(!bsn_ok("111222334"));
    CHECK(!bsn_ok("000000000")); /* passes the sum, is no BSN */
    CHECK(!bsn_ok("11122233"));  /* 8 digits */
    CHECK(!bsn_ok("1112223330"));
    CHECK(!bsn_ok("11122233a"));
    CHECK(!bsn_ok("111 222 333")); /* the schema format wants the digits only */
    CHECK(!bsn_ok(""));
    CHECK(schema_format_lookup("bsn") == SCHEMA_FORMAT_BSN);
}

static const char *norm(const char *kind, const char *value)
{
    static char out[512];
    if (pseudonym_normalise(kind, value, out, sizeof out) < 0)
        return NULL;
    return out;
}

static void bsn_normalises_to_its_digits(void)
{
    CHECK_STR(norm("bsn", "111222333"), "111222333");
    CHECK_STR(norm("bsn", "1112.22.333"), "111222333");
    CHECK_STR(norm("bsn", " 111 222 333 "), "111222333");
    CHECK_STR(norm("bsn", "111-222-333"), "111222333");
    CHECK(norm("bsn", "123456789") == NULL);  /* fails the elfproef */
    CHECK(norm("bsn", "1112223330") == NULL); /* ten digits */
    CHECK(norm("bsn", "111222333x") == NULL);
    CHECK(norm("bsn", "") == NULL);
}

static void surname_is_case_folded_trimmed_and_spaces_collapsed(void)
{
    CHECK_STR(norm("naam-geboortedatum", "Jansen|1990-03-05"), "jansen|1990-03-05");
    CHECK_STR(norm("naam-geboortedatum", "  JANSEN  |1990-03-05"), "jansen|1990-03-05");
    CHECK_STR(norm("naam-geboortedatum", "Jansen   Smit|1990-03-05"), "jansen smit|1990-03-05");
    CHECK_STR(norm("naam-geboortedatum", "Jansen-Smit|1990-03-05"), "jansen smit|1990-03-05");
    CHECK_STR(norm("naam-geboortedatum", "Jansen\tSmit|1990-03-05"), "jansen smit|1990-03-05");
    /* the last '|' splits: a surname cannot smuggle in another date */
    CHECK_STR(norm("naam-geboortedatum", "a|b|1990-03-05"), "a b|1990-03-05");
}

static void diacritics_are_stripped_for_latin_letters(void)
{
    /* precomposed (NFC) */
    CHECK_STR(norm("naam-geboortedatum", "\xC3\x89\x6C\xC3\xAF\x7A\x61|2000-01-01"),
              "eliza|2000-01-01"); /* Éliza with ï */
    CHECK_STR(norm("naam-geboortedatum", "M\xC3\xBCller|2000-01-01"), "muller|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "Stra\xC3\x9F"
                                         "e|2000-01-01"),
              "strasse|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "\xC5\x81ukasz|2000-01-01"), "lukasz|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "Wi\xC5\x9Bniewska|2000-01-01"), "wisniewska|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "\xC5\x9E"
                                         "ahin|2000-01-01"),
              "sahin|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "\xC3\x98stergaard|2000-01-01"), "ostergaard|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "\xC4\xB2sselmuiden|2000-01-01"),
              "ijsselmuiden|2000-01-01"); /* the Dutch IJ ligature */
    /* decomposed (NFD): e + combining acute is the same as é */
    CHECK_STR(norm("naam-geboortedatum", "Rene\xCC\x81|2000-01-01"), "rene|2000-01-01");
    CHECK_STR(norm("naam-geboortedatum", "Ren\xC3\xA9|2000-01-01"), "rene|2000-01-01");
    /* other scripts are kept as written */
    CHECK_STR(
        norm("naam-geboortedatum", "\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD\xD0\xBE\xD0\xB2|2000-01-01"),
        "\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD\xD0\xBE\xD0\xB2|2000-01-01");
}

static void tussenvoegsels_are_dropped_wherever_they_stand(void)
{
    const char *want = "berg|1979-02-28";
    CHECK_STR(norm("naam-geboortedatum", "van der Berg|1979-02-28"), want);
    CHECK_STR(norm("naam-geboortedatum", "Van Der Berg|1979-02-28"), want);
    CHECK_STR(norm("naam-geboortedatum", "Berg, van der|1979-02-28"), want);
    CHECK_STR(norm("naam-geboortedatum", "Berg|1979-02-28"), want);
    CHECK_STR(norm("naam-geboortedatum", "van 't Berg|1979-02-28"), want);
    CHECK_STR(norm("naam-geboortedatum", "Jansen-van der Berg|1979-02-28"),
              "jansen berg|1979-02-28");
    CHECK_STR(norm("naam-geboortedatum", "d'Ancona|2001-12-31"), "ancona|2001-12-31");
    CHECK_STR(norm("naam-geboortedatum", "d\xE2\x80\x99"
                                         "Ancona|2001-12-31"),
              "ancona|2001-12-31"); /* typographic apostrophe */
    CHECK_STR(norm("naam-geboortedatum", "O'Connor|1985-07-14"), "o connor|1985-07-14");
    CHECK_STR(norm("naam-geboortedatum", "von Essen|1985-07-14"), "essen|1985-07-14");
    CHECK_STR(norm("naam-geboortedatum", "vom Hofe|1985-07-14"), "hofe|1985-07-14");
    /* a name that is nothing but particles is kept whole */
    CHECK_STR(norm("naam-geboortedatum", "Le|1985-07-14"), "le|1985-07-14");
    CHECK_STR(norm("naam-geboortedatum", "De La|1985-07-14"), "de la|1985-07-14");
    /* a particle inside a word is not one */
    CHECK_STR(norm("naam-geboortedatum", "Vandenberg|1985-07-14"), "vandenberg|1985-07-14");
}

static void refused_names_and_dates(void)
{
    CHECK(norm("naam-geboortedatum", "Jansen") == NULL);            /* no date */
    CHECK(norm("naam-geboortedatum", "Jansen|1990-3-5") == NULL);   /* not YYYY-MM-DD */
    CHECK(norm("naam-geboortedatum", "Jansen|1990-02-30") == NULL); /* no such day */
    CHECK(norm("naam-geboortedatum", " - '|1990-03-05") == NULL);   /* nothing to match on */
    CHECK(norm("naam-geboortedatum", "|1990-03-05") == NULL);
    CHECK(norm("naam-geboortedatum", "Jan\xC3|1990-03-05") == NULL);     /* bad UTF-8 */
    CHECK(norm("naam-geboortedatum", "Jan\xC0\xAF|1990-03-05") == NULL); /* overlong */
    CHECK(norm("iban", "NL91ABNA0417164300") == NULL);
    char small[8];
    CHECK_INT(pseudonym_normalise("naam-geboortedatum", "Jansen|1990-03-05", small, sizeof small),
              -1);
    CHECK_INT(pseudonym_normalise("bsn", "111222333", small, sizeof small), -1);
}

/* The expected values were computed independently with Python:
 *   import hmac, hashlib
 *   key = bytes(range(32))
 *   def ps(kind, norm):
 *       msg = b"ketenhub/pseudonym/v1\0" + kind.encode() + b"\0" + norm.encode()
 *       return hmac.new(key, msg, hashlib.sha256).hexdigest()
 *   ps("bsn", "111222333"); ps("naam-geboortedatum", "berg|1990-03-05"); ... */
static void hmac_matches_independently_computed_values(void)
{
    char hex[PSEUDONYM_HEX_LEN];
    CHECK_INT(pseudonym_compute(key, "bsn", "111222333", hex), 0);
    CHECK_STR(hex, "1aeb8913cfbe9649d297063a898495dfd257cae1182f4e4adbf53dfc4df4eb6a");
    CHECK_INT(pseudonym_compute(key, "bsn", "1112.22.333", hex), 0);
    CHECK_STR(hex, "1aeb8913cfbe9649d297063a898495dfd257cae1182f4e4adbf53dfc4df4eb6a");
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "van den Berg|1990-03-05", hex), 0);
    CHECK_STR(hex, "55d487e3ef78b55a05669f8ad4ba68482ef38bb494d38b688666942aaf05cde2");
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "d'Ancona|2001-12-31", hex), 0);
    CHECK_STR(hex, "4b752b15d0cd59044abac309b980451bde4e10bba222f599f5c094a5c1466f29");
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "O'Connor|1985-07-14", hex), 0);
    CHECK_STR(hex, "eebf41eb41c7e190c6287a3bd817f2d8aa6a4acfb84146bf2feb0c353a4dfe22");
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "JANSEN-VAN DER BERG|1979-02-28", hex),
              0);
    CHECK_STR(hex, "2dd7ce6da049b6b3aac28f98c8d60086b0c59cef6fd3d27688792cf5b688efa0");
    /* key 0xff * 32:
     *   hmac.new(b"\xff" * 32, b"ketenhub/pseudonym/v1\0bsn\0123456782", hashlib.sha256) */
    unsigned char other[32];
    memset(other, 0xff, sizeof other);
    CHECK_INT(pseudonym_compute(other, "bsn", "123456782", hex), 0);
    CHECK_STR(hex, "cb8f7d4342de4147ad505be2a5783235895c32d53e543506e4ab53b9157152cb");
}

static void key_and_kind_change_the_pseudonym(void)
{
    char a[PSEUDONYM_HEX_LEN], b[PSEUDONYM_HEX_LEN];
    unsigned char key2[32];
    memcpy(key2, key, sizeof key2);
    key2[31] ^= 1;
    CHECK_INT(pseudonym_compute(key, "bsn", "123456782", a), 0);
    CHECK_INT(pseudonym_compute(key2, "bsn", "123456782", b), 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(strlen(a), 64);
    /* different people, different pseudonyms */
    CHECK_INT(pseudonym_compute(key, "bsn", "111222333", b), 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "Jansen|1990-03-05", a), 0);
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "Jansen|1990-03-06", b), 0);
    CHECK(strcmp(a, b) != 0);
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "Janssen|1990-03-05", b), 0);
    CHECK(strcmp(a, b) != 0);
}

static void refusal_leaves_no_pseudonym(void)
{
    char hex[PSEUDONYM_HEX_LEN];
    memset(hex, 'x', sizeof hex);
    CHECK_INT(pseudonym_compute(key, "bsn", "123456789", hex), -1);
    CHECK_STR(hex, "");
    CHECK_INT(pseudonym_compute(key, "naam-geboortedatum", "Jansen", hex), -1);
    CHECK_STR(hex, "");
    CHECK_INT(pseudonym_compute(key, "nope", "111222333", hex), -1);
    CHECK_INT(pseudonym_compute(key, "bsn", NULL, hex), -1);
}

int main(void)
{
    make_key();
    RUN(elfproef_accepts_valid_and_refuses_invalid_bsns);
    RUN(bsn_normalises_to_its_digits);
    RUN(surname_is_case_folded_trimmed_and_spaces_collapsed);
    RUN(diacritics_are_stripped_for_latin_letters);
    RUN(tussenvoegsels_are_dropped_wherever_they_stand);
    RUN(refused_names_and_dates);
    RUN(hmac_matches_independently_computed_values);
    RUN(key_and_kind_change_the_pseudonym);
    RUN(refusal_leaves_no_pseudonym);
    return CHECK_DONE();
}
