/*
 * duration - ISO 8601 durations <-> milliseconds; see duration.h.
 *
 * The parser walks the text once, component by component. Each designator
 * has a rank (W < D < H < M < S) so order and repetition are one comparison;
 * the digits of a number stop growing once they are past the 366-day cap, so
 * no input can overflow int64_t.
 */
#include "duration.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#define MS_SECOND 1000LL
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)
#define MS_DAY (24 * MS_HOUR)
#define MS_WEEK (7 * MS_DAY)

/* The rank of each designator; a component must rank above the one before it. */
enum rank { RANK_NONE, RANK_WEEK, RANK_DAY, RANK_HOUR, RANK_MINUTE, RANK_SECOND };

/* Writes `"text": reason` into err and returns -1. The text is cut at 64
 * bytes so a long config value cannot push the reason out of the buffer. */
static int fail(char *err, size_t errlen, const char *text, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *text, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return -1;
    /* Cut on a UTF-8 character boundary: the message may end up in JSON. */
    int cut = 0;
    while (cut < 64 && text[cut] != '\0')
        cut++;
    int more = text[cut] != '\0';
    while (more && cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    int n = snprintf(err, errlen, "duration \"%.*s%s\": ", cut, text, more ? "..." : "");
    if (n < 0 || (size_t)n >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Names the byte at `at`: printable ASCII as itself, anything else as hex,
 * so a stray byte never breaks the message's encoding. */
static int unexpected(char *err, size_t errlen, const char *text, const char *at,
                      const char *wanted)
{
    unsigned char c = (unsigned char)*at;
    if (c >= 0x21 && c <= 0x7e)
        return fail(err, errlen, text, "unexpected '%c' at position %d; expected %s", c,
                    (int)(at - text), wanted);
    return fail(err, errlen, text, "unexpected byte 0x%02x at position %d; expected %s", c,
                (int)(at - text), wanted);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* What a designator means where it stands: its rank and length, or RANK_NONE
 * with *why set to the reason it is not allowed there. */
static enum rank designator(char c, int in_time, int64_t *unit, const char **why)
{
    *why = NULL;
    if (!in_time) {
        switch (c) {
        case 'W':
            *unit = MS_WEEK;
            return RANK_WEEK;
        case 'D':
            *unit = MS_DAY;
            return RANK_DAY;
        case 'Y':
        case 'M':
            *why = "years and months are not fixed lengths; use days or weeks";
            return RANK_NONE;
        case 'H':
        case 'S':
            *why = "hours and seconds go after 'T' (e.g. PT2H)";
            return RANK_NONE;
        default:
            break;
        }
    } else {
        switch (c) {
        case 'H':
            *unit = MS_HOUR;
            return RANK_HOUR;
        case 'M':
            *unit = MS_MINUTE;
            return RANK_MINUTE;
        case 'S':
            *unit = MS_SECOND;
            return RANK_SECOND;
        case 'Y':
        case 'W':
        case 'D':
            *why = "years, weeks and days go before 'T' (e.g. P1DT2H)";
            return RANK_NONE;
        default:
            break;
        }
    }
    return RANK_NONE;
}

int duration_parse(const char *text, int64_t *ms, char *err, size_t errlen)
{
    return duration_parse_max(text, DURATION_MAX_MS, ms, err, errlen);
}

int duration_parse_max(const char *text, int64_t max_ms, int64_t *ms, char *err, size_t errlen)
{
    const char *p = text;
    int in_time = 0;
    enum rank last = RANK_NONE;
    int64_t total = 0;

    if (*p == '\0')
        return fail(err, errlen, text, "empty; expected an ISO 8601 duration such as PT15M");
    if (*p == '-')
        return fail(err, errlen, text, "negative durations are not allowed");
    if (*p != 'P')
        return fail(err, errlen, text, "must start with 'P' (ISO 8601, e.g. PT15M or P1D)");
    p++;
    if (*p == '\0')
        return fail(err, errlen, text, "'P' alone has no components (e.g. P1D)");

    while (*p != '\0') {
        if (*p == 'T') {
            if (in_time)
                return fail(err, errlen, text, "'T' may appear only once");
            in_time = 1;
            p++;
            if (*p == '\0')
                return fail(err, errlen, text,
                            "'T' must be followed by hours, minutes or seconds (e.g. PT15M)");
            continue;
        }
        if (*p == '-')
            return fail(err, errlen, text, "negative durations are not allowed");
        if (!is_digit(*p))
            return unexpected(err, errlen, text, p, "a number");

        /* Stop growing past the cap: the value is refused below either way. */
        int64_t value = 0;
        for (; is_digit(*p); p++)
            if (value <= max_ms)
                value = value * 10 + (*p - '0');

        int64_t frac_ms = 0;
        int has_frac = 0;
        if (*p == '.' || *p == ',') {
            has_frac = 1;
            p++;
            int digits = 0;
            for (; is_digit(*p); p++, digits++)
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (digits == 0)
                return fail(err, errlen, text, "a decimal sign must be followed by digits");
            if (digits > 3)
                return fail(err, errlen, text,
                            "at most 3 decimals: durations count in milliseconds");
            for (; digits < 3; digits++)
                frac_ms *= 10;
        }

        if (*p == '\0')
            return fail(err, errlen, text,
                        "the number at the end has no unit (W or D; H, M or S after 'T')");
        int64_t unit = 0;
        const char *why = NULL;
        char c = *p;
        enum rank r = designator(c, in_time, &unit, &why);
        if (r == RANK_NONE) {
            if (why)
                return fail(err, errlen, text, "%s", why);
            return unexpected(err, errlen, text, p, "a unit (W or D; H, M or S after 'T')");
        }
        p++;
        if (has_frac && r != RANK_SECOND)
            return fail(err, errlen, text, "only seconds may have a fraction (e.g. PT0.5S)");
        if (r == last)
            return fail(err, errlen, text, "'%c' appears twice", c);
        if (r < last)
            return fail(err, errlen, text, "'%c' is out of order; the order is PnDTnHnMnS", c);
        if (r == RANK_WEEK && *p != '\0')
            return fail(err, errlen, text,
                        "weeks cannot be combined with other components; use days");
        last = r;

        /* total <= max_ms holds before each step, so nothing overflows. */
        if (value > (max_ms - total) / unit)
            return fail(err, errlen, text, "longer than %lld days", (long long)(max_ms / MS_DAY));
        total += value * unit;
        if (frac_ms > max_ms - total)
            return fail(err, errlen, text, "longer than %lld days", (long long)(max_ms / MS_DAY));
        total += frac_ms;
    }

    *ms = total;
    return 0;
}

void duration_format(int64_t ms, char *out, size_t len)
{
    char buf[DURATION_TEXT_LEN];
    size_t n = 0;
    /* Unsigned, so that even INT64_MIN has a magnitude. */
    uint64_t left = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;

    if (len == 0)
        return;
    if (ms < 0)
        buf[n++] = '-';
    buf[n++] = 'P';

    uint64_t days = left / (uint64_t)MS_DAY;
    left %= (uint64_t)MS_DAY;
    uint64_t hours = left / (uint64_t)MS_HOUR;
    left %= (uint64_t)MS_HOUR;
    uint64_t minutes = left / (uint64_t)MS_MINUTE;
    left %= (uint64_t)MS_MINUTE;
    uint64_t seconds = left / (uint64_t)MS_SECOND;
    unsigned millis = (unsigned)(left % (uint64_t)MS_SECOND);

    /* Each piece fits: buf holds the longest (20-digit days and all the rest). */
    if (days)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 "D", days);
    if (hours || minutes || seconds || millis || days == 0) {
        buf[n++] = 'T';
        if (hours)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 "H", hours);
        if (minutes)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 "M", minutes);
        if (millis) {
            /* Three decimals, then drop the trailing zeros: 1.500 -> 1.5. */
            unsigned decimals = 3;
            while (millis % 10 == 0) {
                millis /= 10;
                decimals--;
            }
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 ".%0*uS", seconds,
                                  (int)decimals, millis);
        } else if (seconds || (days == 0 && hours == 0 && minutes == 0)) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%" PRIu64 "S", seconds);
        }
    }
    buf[n] = '\0';
    snprintf(out, len, "%s", buf);
}
