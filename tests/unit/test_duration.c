/*
 * test_duration - ISO 8601 durations: valid texts and their milliseconds,
 * refused texts and their reasons, the canonical form and its round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "duration.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static void valid_durations_give_their_milliseconds(void)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"P1D", DAY},
        {"PT15M", 15 * MIN},
        {"PT2S", 2 * SEC},
        {"PT1H30M", HOUR + 30 * MIN},
        {"P1DT12H", DAY + 12 * HOUR},
        {"PT0.5S", 500},
        {"PT0,5S", 500}, /* ISO 8601 prefers the comma */
        {"PT1.5S", 1500},
        {"PT1.25S", 1250},
        {"PT1.001S", 1001},
        {"PT0.000S", 0},
        {"P2W", 14 * DAY},
        {"P1W", 7 * DAY},
        {"P1DT1H1M1S", DAY + HOUR + MIN + SEC},
        {"P1DT1M", DAY + MIN},
        {"P1DT1S", DAY + SEC},
        {"PT1H1S", HOUR + SEC},
        {"PT36H", 36 * HOUR},
        {"PT90M", 90 * MIN},
        {"PT3600S", HOUR},
        {"PT0S", 0},
        {"P0D", 0},
        {"P0W", 0},
        {"PT007M", 7 * MIN},
        {"P366D", 366 * DAY},
        {"P365DT23H59M59.999S", 366 * DAY - 1},
        {"PT8784H", 366 * DAY},
        {"PT31622400S", 366 * DAY},
        {"P52W", 364 * DAY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -7;
        char err[160] = "";
        int rc = duration_parse(cases[i].text, &ms, err, sizeof err);
        if (rc != 0 || ms != cases[i].ms)
            fprintf(stderr, "valid case \"%s\": %s\n", cases[i].text, err);
        CHECK_INT(rc, 0);
        CHECK_INT(ms, cases[i].ms);
    }
}

static void invalid_durations_are_refused_with_a_reason(void)
{
    static const struct {
        const char *text;
        const char *reason; /* a part the message must contain */
    } cases[] = {
        {"", "empty"},
        {"1D", "must start with 'P'"},
        {"T1H", "must start with 'P'"},
        {"p1D", "must start with 'P'"},
        {" P1D", "must start with 'P'"},
        {"+P1D", "must start with 'P'"},
        {"P", "'P' alone"},
        {"PT", "'T' must be followed"},
        {"P1DT", "'T' must be followed"},
        {"PTT1H", "only once"},
        {"PT1HT1M", "only once"},
        {"P1Y", "years and months are not fixed lengths; use days or weeks"},
        {"P1M", "years and months are not fixed lengths; use days or weeks"},
        {"P1Y2M3D", "years and months are not fixed lengths; use days or weeks"},
        {"-P1D", "negative"},
        {"P-1D", "negative"},
        {"PT-5M", "negative"},
        {"PT1M1H", "out of order"},
        {"PT1S1M", "out of order"},
        {"P1D2W", "out of order"},
        {"P1D1D", "twice"},
        {"PT1H2H", "twice"},
        {"PT1S1S", "twice"},
        {"PT1H1D", "go before 'T'"},
        {"PT1W", "go before 'T'"},
        {"P1H", "go after 'T'"},
        {"P1S", "go after 'T'"},
        {"P1W2D", "weeks cannot be combined"},
        {"P1WT1H", "weeks cannot be combined"},
        {"PT1.5M", "only seconds"},
        {"PT1.5H", "only seconds"},
        {"P1.5D", "only seconds"},
        {"P0.5W", "only seconds"},
        {"PT0.0001S", "at most 3 decimals"},
        {"PT1.S", "followed by digits"},
        {"PT.5S", "unexpected '.'"},
        {"PT1", "no unit"},
        {"P1", "no unit"},
        {"PT1X", "unexpected 'X'"},
        {"P1d", "unexpected 'd'"},
        {"PT1h", "unexpected 'h'"},
        {"P 1D", "unexpected byte 0x20"},
        {"P1D ", "unexpected byte 0x20"},
        {"PT15M\n", "unexpected byte 0x0a"},
        {"P1D\xc3\xa9", "unexpected byte 0xc3"},
        {"PTS", "unexpected 'S'"},
        {"Pabc", "unexpected 'a'"},
        {"P367D", "longer than 366 days"},
        {"P366DT1S", "longer than 366 days"},
        {"P366DT0.001S", "longer than 366 days"},
        {"P53W", "longer than 366 days"},
        {"PT8785H", "longer than 366 days"},
        {"PT31622401S", "longer than 366 days"},
        {"P99999999999999999999999999D", "longer than 366 days"},
        {"PT99999999999999999999999999.5S", "longer than 366 days"},
        {"P9223372036854775807D", "longer than 366 days"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -7;
        char err[256] = "";
        int rc = duration_parse(cases[i].text, &ms, err, sizeof err);
        if (rc != -1 || strstr(err, cases[i].reason) == NULL)
            fprintf(stderr, "invalid case \"%s\": rc %d, err \"%s\", want \"%s\"\n", cases[i].text,
                    rc, err, cases[i].reason);
        CHECK_INT(rc, -1);
        CHECK_INT(ms, -7);
        CHECK(strstr(err, cases[i].reason) != NULL);
    }
}

static void error_quotes_the_text_and_is_bounded(void)
{
    int64_t ms = 0;
    char err[256];
    CHECK_INT(duration_parse("P1Y", &ms, err, sizeof err), -1);
    CHECK_STR(err, "duration \"P1Y\": years and months are not fixed lengths; use days or weeks");

    /* A long value is cut, not copied whole, and the reason survives. */
    char long_text[200];
    memset(long_text, '9', sizeof long_text - 2);
    long_text[0] = 'P';
    long_text[sizeof long_text - 2] = 'D';
    long_text[sizeof long_text - 1] = '\0';
    CHECK_INT(duration_parse(long_text, &ms, err, sizeof err), -1);
    CHECK(strstr(err, "...\": longer than 366 days") != NULL);
    CHECK(strlen(err) < 120);

    /* The cut does not split a UTF-8 character. */
    char utf8_text[80];
    memset(utf8_text, 'x', sizeof utf8_text);
    utf8_text[0] = 'P';
    utf8_text[63] = '\xc3';
    utf8_text[64] = '\xa9';
    utf8_text[79] = '\0';
    CHECK_INT(duration_parse(utf8_text, &ms, err, sizeof err), -1);
    CHECK(strstr(err, "\xc3...") == NULL);

    /* Small and missing buffers are respected. */
    memset(err, 'z', sizeof err);
    CHECK_INT(duration_parse("P1Y", &ms, err, 5), -1);
    CHECK_STR(err, "dura");
    CHECK(err[5] == 'z');
    CHECK_INT(duration_parse("P1Y", &ms, NULL, 0), -1);
}

static void format_writes_the_canonical_form(void)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {5400000, "PT1H30M"},
        {90061000, "P1DT1H1M1S"},
        {0, "PT0S"},
        {1500, "PT1.5S"},
        {1, "PT0.001S"},
        {10, "PT0.01S"},
        {1050, "PT1.05S"},
        {15 * MIN, "PT15M"},
        {DAY, "P1D"},
        {14 * DAY, "P14D"},
        {DAY + 12 * HOUR, "P1DT12H"},
        {DAY + SEC, "P1DT1S"},
        {DAY + 500, "P1DT0.5S"},
        {HOUR + SEC, "PT1H1S"},
        {366 * DAY, "P366D"},
        {366 * DAY - 1, "P365DT23H59M59.999S"},
        {-1500, "-PT1.5S"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[DURATION_TEXT_LEN];
        duration_format(cases[i].ms, out, sizeof out);
        CHECK_STR(out, cases[i].text);
    }
}

static void format_fits_its_buffer_for_extreme_values(void)
{
    char out[DURATION_TEXT_LEN];
    duration_format(INT64_MAX, out, sizeof out);
    CHECK(out[0] == 'P');
    CHECK(strchr(out, 'S') != NULL);
    duration_format(INT64_MIN, out, sizeof out);
    CHECK(out[0] == '-');
    CHECK(out[1] == 'P');

    char small[6];
    memset(small, 'z', sizeof small);
    duration_format(90061000, small, 4);
    CHECK_STR(small, "P1D");
    CHECK(small[4] == 'z');
    duration_format(90061000, small, 0); /* writes nothing */
    CHECK(small[4] == 'z');
}

static void format_round_trips_through_parse(void)
{
    static const int64_t values[] = {
        0,
        1,
        999,
        1000,
        1001,
        1500,
        59999,
        MIN,
        90 * MIN,
        HOUR - 1,
        HOUR,
        DAY - 1,
        DAY,
        DAY + 1,
        90061000,
        7 * DAY,
        123456789,
        30 * DAY + 1234,
        100 * DAY,
        365 * DAY,
        366 * DAY,
        366 * DAY - 1,
        366 * DAY - SEC,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[DURATION_TEXT_LEN];
        char err[160] = "";
        int64_t back = -1;
        duration_format(values[i], out, sizeof out);
        int rc = duration_parse(out, &back, err, sizeof err);
        if (rc != 0 || back != values[i])
            fprintf(stderr, "round trip %lld -> \"%s\": %s\n", (long long)values[i], out, err);
        CHECK_INT(rc, 0);
        CHECK_INT(back, values[i]);
    }
    /* And a sweep over every millisecond pattern of one second plus each unit. */
    for (int64_t v = 0; v < 2 * SEC; v += 7) {
        const int64_t bases[] = {0, MIN, HOUR, DAY, DAY + HOUR + MIN};
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
            char out[DURATION_TEXT_LEN];
            int64_t back = -1;
            duration_format(bases[b] + v, out, sizeof out);
            CHECK_INT(duration_parse(out, &back, NULL, 0), 0);
            CHECK_INT(back, bases[b] + v);
        }
    }
}

int main(void)
{
    RUN(valid_durations_give_their_milliseconds);
    RUN(invalid_durations_are_refused_with_a_reason);
    RUN(error_quotes_the_text_and_is_bounded);
    RUN(format_writes_the_canonical_form);
    RUN(format_fits_its_buffer_for_extreme_values);
    RUN(format_round_trips_through_parse);
    return CHECK_DONE();
}
