/*
 * schema_format - checkers for the "format" names the validator asserts.
 *
 * date-time, date, time, duration (RFC 3339 and its appendix A), email
 * (RFC 5321 mailbox, ASCII), hostname (RFC 1123 labels; xn-- labels must be
 * decodable Punycode, RFC 3492), ipv4 (dotted quad, no leading zeros), ipv6
 * (RFC 4291 text form, no zone id), uri and uri-reference (RFC 3986), uuid
 * (RFC 4122 text form, any version), json-pointer (RFC 6901) and
 * relative-json-pointer. Not here: idn-*, iri*, uri-template, regex. Each check
 * reads the string once, never allocates and accepts ASCII only where the
 * grammar does (so "১" is not a digit).
 */
#include "schema_format.h"

#include <stdint.h>
#include <string.h>

static const struct {
    const char *name;
    enum schema_format id;
    const char *describe;
} formats[] = {
    {"date-time", SCHEMA_FORMAT_DATE_TIME, "date-time (RFC 3339)"},
    {"date", SCHEMA_FORMAT_DATE, "date (RFC 3339 full-date)"},
    {"time", SCHEMA_FORMAT_TIME, "time (RFC 3339 full-time)"},
    {"duration", SCHEMA_FORMAT_DURATION, "duration (RFC 3339 appendix A)"},
    {"email", SCHEMA_FORMAT_EMAIL, "email address (RFC 5321)"},
    {"hostname", SCHEMA_FORMAT_HOSTNAME, "hostname (RFC 1123)"},
    {"ipv4", SCHEMA_FORMAT_IPV4, "IPv4 address"},
    {"ipv6", SCHEMA_FORMAT_IPV6, "IPv6 address (RFC 4291)"},
    {"uri", SCHEMA_FORMAT_URI, "absolute URI (RFC 3986)"},
    {"uri-reference", SCHEMA_FORMAT_URI_REFERENCE, "URI reference (RFC 3986)"},
    {"uuid", SCHEMA_FORMAT_UUID, "UUID (RFC 4122)"},
    {"json-pointer", SCHEMA_FORMAT_JSON_POINTER, "JSON pointer (RFC 6901)"},
    {"relative-json-pointer", SCHEMA_FORMAT_RELATIVE_JSON_POINTER, "relative JSON pointer"},
    /* Not a JSON Schema format: ketenhub's own, for the signal's identifying
     * fields (docs/schema.md). Other validators treat it as an annotation. */
    {"bsn", SCHEMA_FORMAT_BSN, "BSN (9 digits passing the elfproef)"},
};

enum schema_format schema_format_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].id;
    }
    return SCHEMA_FORMAT_NONE;
}

const char *schema_format_describe(enum schema_format format)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (formats[i].id == format)
            return formats[i].describe;
    }
    return "format";
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int is_hex(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Value of exactly n ASCII digits at s, or -1. */
static int digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* --- RFC 3339 ------------------------------------------------------------ */

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

static int check_date(const char *s, size_t len)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    y = digits_value(s, 4);
    m = digits_value(s + 5, 2);
    d = digits_value(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return 0;
    return d <= days_in_month(y, m);
}

/* full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); a leap second only at 23:59 UTC. */
static int check_time(const char *s, size_t len)
{
    int h, m, sec, oh = 0, om = 0, sign = 0;
    size_t i = 8;

    if (len < 9 || s[2] != ':' || s[5] != ':')
        return 0;
    h = digits_value(s, 2);
    m = digits_value(s + 3, 2);
    sec = digits_value(s + 6, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return 0;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '+' ? 1 : -1;
        if (len - i != 6 || s[i + 3] != ':')
            return 0;
        oh = digits_value(s + i + 1, 2);
        om = digits_value(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return 0;
        i += 6;
    } else {
        return 0;
    }
    if (i != len)
        return 0;
    if (sec == 60) {
        int utc = ((h * 60 + m - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return 0;
    }
    return 1;
}

static int check_date_time(const char *s, size_t len)
{
    if (len < 20 || (s[10] != 'T' && s[10] != 't'))
        return 0;
    return check_date(s, 10) && check_time(s + 11, len - 11);
}

/* RFC 3339 appendix A: units appear in order and without gaps (no "P1Y2D"). */
static int duration_units(const char *s, size_t len, size_t *i, const char *units)
{
    int last = -1, any = 0;
    while (*i < len && s[*i] != 'T') {
        size_t start = *i;
        const char *u;
        while (*i < len && is_digit(s[*i]))
            (*i)++;
        if (*i == start || *i == len)
            return -1;
        u = strchr(units, s[*i]);
        if (s[*i] == '\0' || u == NULL)
            return -1;
        if (last >= 0 && (int)(u - units) != last + 1)
            return -1;
        last = (int)(u - units);
        any = 1;
        (*i)++;
    }
    return any;
}

static int check_duration(const char *s, size_t len)
{
    size_t i = 1;
    int date, time = 0;

    if (len < 3 || s[0] != 'P')
        return 0;
    if (s[len - 1] == 'W') {
        for (i = 1; i < len - 1; i++) {
            if (!is_digit(s[i]))
                return 0;
        }
        return 1;
    }
    date = duration_units(s, len, &i, "YMD");
    if (date < 0)
        return 0;
    if (i < len) { /* s[i] == 'T' */
        i++;
        time = duration_units(s, len, &i, "HMS");
        if (time <= 0 || i != len)
            return 0;
    }
    return date > 0 || time > 0;
}

/* --- addresses and names ------------------------------------------------- */

static int check_ipv4(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t start = i;
        int v = 0;
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return 0;
            start = ++i;
        }
        while (i < len && is_digit(s[i]) && i - start < 3) {
            v = v * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return 0;
    }
    return i == len;
}

static int check_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0, compressed = 0;

    if (len < 2)
        return 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return 0;
        compressed = 1;
        i = 2;
    }
    while (i < len) {
        size_t start = i;
        while (i < len && is_hex(s[i]) && i - start < 5)
            i++;
        if (i < len && s[i] == '.') { /* trailing dotted quad */
            if (!check_ipv4(s + start, len - start))
                return 0;
            groups += 2;
            break;
        }
        if (i == start || i - start > 4)
            return 0;
        groups++;
        if (i == len)
            break;
        if (s[i] != ':')
            return 0;
        i++;
        if (i < len && s[i] == ':') {
            if (compressed)
                return 0;
            compressed = 1;
            i++;
        } else if (i == len) {
            return 0;
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

/*
 * RFC 3492 decoding of one A-label body (after "xn--") into at most 63 code
 * points, to decide whether it is valid Punycode and a plausible U-label
 * (RFC 5891 4.2.3.1: no "--" in positions 3-4, no leading or trailing '-').
 * The IDNA2008 code point and context rules are not checked.
 */
static int punycode_valid(const char *s, size_t len)
{
    enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700, MAXOUT = 63 };
    uint32_t cps[MAXOUT];
    uint32_t n = 128, i = 0, bias = 72, out = 0;
    size_t b = 0, in;
    int first = 1;

    for (size_t k = 0; k < len; k++) {
        if (s[k] == '-')
            b = k;
    }
    if (b > MAXOUT)
        return 0;
    for (size_t k = 0; k < b; k++)
        cps[k] = (unsigned char)s[k];
    out = (uint32_t)b;
    in = b > 0 ? b + 1 : 0;
    if (in >= len)
        return 0; /* nothing encoded: not an A-label */
    while (in < len) {
        uint32_t oldi = i, w = 1, delta, k2 = 0;
        for (uint32_t k = BASE;; k += BASE) {
            uint32_t digit, t;
            char ch;
            if (in >= len)
                return 0;
            ch = s[in++];
            if (is_digit(ch))
                digit = (uint32_t)(ch - '0') + 26;
            else if (ch >= 'a' && ch <= 'z')
                digit = (uint32_t)(ch - 'a');
            else if (ch >= 'A' && ch <= 'Z')
                digit = (uint32_t)(ch - 'A');
            else
                return 0;
            if (digit > (UINT32_MAX - i) / w)
                return 0;
            i += digit * w;
            t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
            if (digit < t)
                break;
            if (w > UINT32_MAX / (BASE - t))
                return 0;
            w *= BASE - t;
        }
        if (out >= MAXOUT)
            return 0;
        out++;
        delta = first ? (i - oldi) / DAMP : (i - oldi) / 2;
        first = 0;
        delta += delta / out;
        while (delta > ((BASE - TMIN) * TMAX) / 2) {
            delta /= BASE - TMIN;
            k2 += BASE;
        }
        bias = k2 + (((BASE - TMIN + 1) * delta) / (delta + SKEW));
        if (i / out > UINT32_MAX - n)
            return 0;
        n += i / out;
        i %= out;
        if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
            return 0;
        memmove(cps + i + 1, cps + i, (out - 1 - i) * sizeof cps[0]);
        cps[i] = n;
        i++;
    }
    if (cps[0] == '-' || cps[out - 1] == '-' || (out >= 4 && cps[2] == '-' && cps[3] == '-'))
        return 0;
    return 1;
}

static int check_hostname(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || len > 253)
        return 0;
    while (i <= len) {
        size_t start = i, n;
        while (i < len && s[i] != '.')
            i++;
        n = i - start;
        if (n == 0 || n > 63 || s[start] == '-' || s[i - 1] == '-')
            return 0;
        for (size_t k = start; k < i; k++) {
            if (!is_alpha(s[k]) && !is_digit(s[k]) && s[k] != '-')
                return 0;
        }
        if (n >= 4 && s[start + 2] == '-' && s[start + 3] == '-') {
            /* RFC 5891 4.2.3.1: "--" in positions 3-4 only for A-labels */
            if ((s[start] != 'x' && s[start] != 'X') ||
                (s[start + 1] != 'n' && s[start + 1] != 'N'))
                return 0;
            if (!punycode_valid(s + start + 4, n - 4))
                return 0;
        }
        i++; /* past the '.', or past the end */
    }
    return 1;
}

static int is_atext(char ch)
{
    return is_alpha(ch) || is_digit(ch) || (ch != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

static int check_email(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return 0;
    if (s[0] == '"') {
        i = 1;
        for (;;) {
            if (i >= len)
                return 0;
            if (s[i] == '"')
                break;
            if (s[i] == '\\') {
                if (i + 1 >= len || (unsigned char)s[i + 1] < 0x20 ||
                    (unsigned char)s[i + 1] > 0x7e)
                    return 0;
                i += 2;
                continue;
            }
            if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
                return 0;
            i++;
        }
        i++;
    } else {
        for (;;) {
            size_t start = i;
            while (i < len && is_atext(s[i]))
                i++;
            if (i == start)
                return 0;
            if (i < len && s[i] == '.') {
                i++;
                continue;
            }
            break;
        }
    }
    if (i > 64 || i >= len || s[i] != '@')
        return 0;
    i++;
    if (i < len && s[i] == '[') {
        if (s[len - 1] != ']')
            return 0;
        if (len - i - 2 > 5 && memcmp(s + i + 1, "IPv6:", 5) == 0)
            return check_ipv6(s + i + 6, len - i - 7);
        return check_ipv4(s + i + 1, len - i - 2);
    }
    return check_hostname(s + i, len - i);
}

/* --- RFC 3986 ------------------------------------------------------------- */

static int is_unreserved(char ch)
{
    return is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static int is_sub_delim(char ch)
{
    return ch != '\0' && strchr("!$&'()*+,;=", ch) != NULL;
}

/*
 * Consumes characters that are unreserved, sub-delims, pct-encoded or in
 * `extra` from s[*i] up to `end`; stops at the first other one. Returns 0 on
 * a broken %-escape.
 */
static int scan_chars(const char *s, size_t *i, size_t end, const char *extra)
{
    while (*i < end) {
        char ch = s[*i];
        if (ch == '%') {
            if (*i + 2 >= end || !is_hex(s[*i + 1]) || !is_hex(s[*i + 2]))
                return 0;
            *i += 3;
        } else if (is_unreserved(ch) || is_sub_delim(ch) || (ch != '\0' && strchr(extra, ch))) {
            (*i)++;
        } else {
            break;
        }
    }
    return 1;
}

static int check_authority(const char *s, size_t len)
{
    size_t i = 0, at = len;

    for (size_t k = 0; k < len; k++) {
        if (s[k] == '@') {
            at = k;
            break;
        }
    }
    if (at < len) {
        if (!scan_chars(s, &i, at, ":") || i != at)
            return 0;
        i = at + 1;
    }
    if (i < len && s[i] == '[') {
        size_t close = i;
        while (close < len && s[close] != ']')
            close++;
        if (close == len)
            return 0;
        if (close > i + 1 && (s[i + 1] == 'v' || s[i + 1] == 'V')) {
            size_t k = i + 2, hex = k;
            while (k < close && is_hex(s[k]))
                k++;
            if (k == hex || k >= close || s[k] != '.')
                return 0;
            k++;
            if (k == close || !scan_chars(s, &k, close, ":") || k != close)
                return 0;
        } else if (!check_ipv6(s + i + 1, close - i - 1)) {
            return 0;
        }
        i = close + 1;
    } else {
        if (!scan_chars(s, &i, len, ""))
            return 0;
    }
    if (i < len) {
        if (s[i] != ':')
            return 0;
        for (i++; i < len; i++) {
            if (!is_digit(s[i]))
                return 0;
        }
    }
    return 1;
}

static int check_uri(const char *s, size_t len, int need_scheme)
{
    size_t i = 0, scheme = 0;

    if (len > 0 && is_alpha(s[0])) {
        size_t k = 1;
        while (k < len &&
               (is_alpha(s[k]) || is_digit(s[k]) || s[k] == '+' || s[k] == '-' || s[k] == '.'))
            k++;
        if (k < len && s[k] == ':')
            scheme = k + 1;
    }
    if (need_scheme && scheme == 0)
        return 0;
    i = scheme;
    if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t end = i + 2;
        while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#')
            end++;
        if (!check_authority(s + i + 2, end - i - 2))
            return 0;
        i = end;
    } else if (scheme == 0) {
        /* path-noscheme: no ':' in the first segment */
        size_t k = i;
        while (k < len && s[k] != '/' && s[k] != '?' && s[k] != '#') {
            if (s[k] == ':')
                return 0;
            k++;
        }
    }
    if (!scan_chars(s, &i, len, ":@/"))
        return 0;
    if (i < len && s[i] == '?') {
        i++;
        if (!scan_chars(s, &i, len, ":@/?"))
            return 0;
    }
    if (i < len && s[i] == '#') {
        i++;
        if (!scan_chars(s, &i, len, ":@/?"))
            return 0;
    }
    return i == len;
}

/* --- the rest ------------------------------------------------------------- */

static int check_uuid(const char *s, size_t len)
{
    if (len != 36)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int check_json_pointer(const char *s, size_t len)
{
    if (len == 0)
        return 1;
    if (s[0] != '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
            return 0;
    }
    return 1;
}

static int check_relative_json_pointer(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && is_digit(s[i]))
        i++;
    if (i == 0 || (s[0] == '0' && i > 1))
        return 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) { /* index manipulation */
        size_t start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start || (s[start] == '0' && i - start > 1))
            return 0;
    }
    if (i == len)
        return 1;
    if (s[i] == '#')
        return i + 1 == len;
    return check_json_pointer(s + i, len - i);
}

/* A BSN: nine digits whose weighted sum 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a
 * multiple of 11 (the "elfproef"), and not all zeros (which passes the sum). */
static int check_bsn(const char *s, size_t len)
{
    long sum = 0;
    int nonzero = 0;
    if (len != 9)
        return 0;
    for (size_t i = 0; i < 9; i++) {
        if (!is_digit(s[i]))
            return 0;
        int d = s[i] - '0';
        nonzero |= d;
        sum += i < 8 ? (long)(9 - i) * d : -(long)d;
    }
    return nonzero && sum % 11 == 0;
}

int schema_format_check(enum schema_format format, const char *s, size_t len)
{
    switch (format) {
    case SCHEMA_FORMAT_NONE:
        return 1;
    case SCHEMA_FORMAT_DATE_TIME:
        return check_date_time(s, len);
    case SCHEMA_FORMAT_DATE:
        return check_date(s, len);
    case SCHEMA_FORMAT_TIME:
        return check_time(s, len);
    case SCHEMA_FORMAT_DURATION:
        return check_duration(s, len);
    case SCHEMA_FORMAT_EMAIL:
        return check_email(s, len);
    case SCHEMA_FORMAT_HOSTNAME:
        return check_hostname(s, len);
    case SCHEMA_FORMAT_IPV4:
        return check_ipv4(s, len);
    case SCHEMA_FORMAT_IPV6:
        return check_ipv6(s, len);
    case SCHEMA_FORMAT_URI:
        return check_uri(s, len, 1);
    case SCHEMA_FORMAT_URI_REFERENCE:
        return check_uri(s, len, 0);
    case SCHEMA_FORMAT_UUID:
        return check_uuid(s, len);
    case SCHEMA_FORMAT_JSON_POINTER:
        return check_json_pointer(s, len);
    case SCHEMA_FORMAT_RELATIVE_JSON_POINTER:
        return check_relative_json_pointer(s, len);
    case SCHEMA_FORMAT_BSN:
        return check_bsn(s, len);
    }
    return 0;
}
