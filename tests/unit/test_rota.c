/*
 * test_rota - the duty rota: every bad officer, shift, override or time zone
 * is a config problem naming its JSON pointer; a week with a gap or an
 * overlap is refused, naming where; a sound rota names exactly one officer
 * at every moment (checked against libc's own local time for a whole year),
 * with the right since and until, through overrides, past midnight and over
 * both daylight saving changes of 2026 in Europe/Amsterdam.
 *
 * Configs are written to a temporary folder and read with config_load, so
 * rota_load runs exactly as it does in the hub. JSON below is written with
 * ' for " (load_rota swaps them) to keep it readable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "check.h"
#include "config.h"
#include "keyfile.h"
#include "rota.h"
#include "testconfig.h"
#include "testutil.h"

static char dir[128];
static char root[1024];
static char schemas[1040];

#define OFFICERS                                                                                   \
    "[{'id': 'a', 'name': 'Anna', 'email': 'anna@example.org', 'phone': '+31 53 000 0001',"        \
    "  'webhook': 'https://chat.example.org/hooks/a'},"                                            \
    " {'id': 'b', 'name': 'Bram'}, {'id': 'c', 'name': 'Cor'}]"

/* Office hours a, weeknights b, the weekend c (Friday 17:00 to Monday 08:00). */
#define OFFICE                                                                                     \
    "{'days': ['mon', 'tue', 'wed', 'thu', 'fri'], 'from': '08:00', 'to': '17:00', 'officer': "    \
    "'a'}"
#define NIGHTS                                                                                     \
    "{'days': ['mon', 'tue', 'wed', 'thu'], 'from': '17:00', 'to': '08:00', 'officer': 'b'}"
#define WEEKEND                                                                                    \
    "{'days': ['fri'], 'from': '17:00', 'to': '08:00', 'officer': 'c'},"                           \
    " {'days': ['sat', 'sun'], 'from': '08:00', 'to': '08:00', 'officer': 'c'}"
#define WEEK "[" OFFICE ", " NIGHTS ", " WEEKEND "]"

static void dump(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", problems[i]);
}

/* Writes a config with no partners plus `extra` top-level members (each '
 * becomes ") and loads it. */
static struct config *load_extra(const char *extra, char ***problems, size_t *n)
{
    char text[16384], path[256];
    int len = snprintf(text, sizeof text,
                       "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\",\n"
                       " \"schemas\": \"%s\", \"server_key\": \"hub.key\", " TU_SECRETS "\n"
                       " \"partners\": []%s}\n",
                       schemas, extra);
    if (len < 0 || (size_t)len >= sizeof text) {
        fprintf(stderr, "  test config too long\n");
        exit(2);
    }
    for (char *c = text; *c; c++)
        if (*c == '\'')
            *c = '"';
    tu_write(dir, "ketenhub.json", text, path, sizeof path);
    return config_load(path, problems, n);
}

/* Loads officers and a rota built from its members; must be sound. */
static struct config *load_rota(const char *officers, const char *rota_members)
{
    char extra[12288], **p = NULL;
    size_t n = 0;
    snprintf(extra, sizeof extra, ", 'officers': %s, 'rota': {%s}", officers, rota_members);
    struct config *cfg = load_extra(extra, &p, &n);
    if (!cfg) {
        fprintf(stderr, "  rota: %s\n", rota_members);
        dump(p, n);
    }
    config_problems_free(p, n);
    return cfg;
}

/* The same, refused; the caller frees *problems. */
static void load_bad(const char *officers, const char *rota_members, char ***problems, size_t *n)
{
    char extra[12288];
    snprintf(extra, sizeof extra, ", 'officers': %s, 'rota': {%s}", officers, rota_members);
    struct config *cfg = load_extra(extra, problems, n);
    CHECK(cfg == NULL);
    config_free(&cfg);
}

/* 1 if some problem starts with `prefix` and contains `text`; prints the list when not. */
static int has_problem(char **problems, size_t n, const char *prefix, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(problems[i], prefix, strlen(prefix)) == 0 && strstr(problems[i], text))
            return 1;
    fprintf(stderr, "  no problem \"%s...%s\" among:\n", prefix, text);
    dump(problems, n);
    return 0;
}

static int count_prefix(char **problems, size_t n, const char *prefix)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += strncmp(problems[i], prefix, strlen(prefix)) == 0;
    return c;
}

/* An RFC 3339 time as UTC ms (the test's own constant: must parse). */
static int64_t T(const char *text)
{
    int64_t ms = 0;
    if (rota_parse_time(text, &ms) != 0) {
        fprintf(stderr, "  bad test time %s\n", text);
        check_failed_asserts++;
    }
    return ms;
}

/* T(text), or `none` for NULL (an unbounded since or until). */
static int64_t T_or(const char *text, int64_t none)
{
    return text ? T(text) : none;
}

/* Checks the duty at `at`: officer id, why, since and until (NULL = unbounded). */
#define CHECK_DUTY(cfg, at, want_id, why_, since, until)                                           \
    do {                                                                                           \
        struct rota_duty d_;                                                                       \
        CHECK_INT(rota_duty_at((cfg), T(at), &d_), 0);                                             \
        CHECK_STR(d_.officer ? d_.officer->id : NULL, (want_id));                                  \
        CHECK_STR(d_.why, (why_));                                                                 \
        CHECK_INT(d_.since_ms, T_or((since), INT64_MIN));                                          \
        CHECK_INT(d_.until_ms, T_or((until), INT64_MAX));                                          \
    } while (0)

static const char *const NO_TIME = NULL;

/* ---- loading ------------------------------------------------------------ */

static void a_full_week_loads_officers_shifts_and_fallback(void)
{
    struct config *cfg =
        load_rota(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK ", 'fallback': 'a'");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nofficers, 3);
    CHECK_STR(cfg->officers[0].id, "a");
    CHECK_STR(cfg->officers[0].name, "Anna");
    CHECK_STR(cfg->officers[0].email, "anna@example.org");
    CHECK_STR(cfg->officers[0].phone, "+31 53 000 0001");
    CHECK_STR(cfg->officers[0].webhook, "https://chat.example.org/hooks/a");
    CHECK(cfg->officers[1].email == NULL && cfg->officers[1].webhook == NULL);
    CHECK(rota_officer(cfg, "b") == &cfg->officers[1]);
    CHECK(rota_officer(cfg, "z") == NULL);
    CHECK(rota_fallback(cfg) == &cfg->officers[0]);
    CHECK_STR(rota_timezone(cfg), "Europe/Amsterdam");
    config_free(&cfg);
}

static void without_a_rota_nobody_is_named(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load_extra("", &p, &n);
    CHECK(cfg != NULL);
    dump(p, n);
    config_problems_free(p, n);
    if (!cfg)
        return;
    struct rota_duty d;
    const char *why = "untouched";
    CHECK(cfg->rota == NULL);
    CHECK_INT(rota_duty_at(cfg, T("2026-12-24T12:00:00Z"), &d), -1);
    CHECK(rota_on_duty(cfg, T("2026-12-24T12:00:00Z"), &why, NULL) == NULL);
    CHECK_STR(why, "untouched");
    CHECK(rota_fallback(cfg) == NULL);
    CHECK(rota_report(cfg, 0, 3) == NULL);
    config_free(&cfg);

    /* Officers alone are allowed (the rota comes later); still no rota. */
    cfg = load_extra(", 'officers': " OFFICERS, &p, &n);
    CHECK(cfg != NULL);
    dump(p, n);
    config_problems_free(p, n);
    if (cfg) {
        CHECK_INT(cfg->nofficers, 3);
        CHECK(cfg->rota == NULL);
    }
    config_free(&cfg);
}

static void a_rota_needs_officers(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load_extra(
        ", 'rota': {'timezone': 'Europe/Amsterdam', 'weekly': " WEEK ", 'fallback': 'a'}", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/rota: needs /officers", ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
    config_free(&cfg);
}

static void bad_officers_are_named_by_their_pointers(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg =
        load_extra(", 'officers': [{'id': 'a', 'name': 'Anna'}, {'id': 'a', 'name': 'Anna again'},"
                   " {'id': 'Bad Id', 'name': 'X'}, {'name': 'no id'}, {'id': 'd'},"
                   " {'id': 'e', 'name': 'E', 'email': 'not-an-address'},"
                   " {'id': 'f', 'name': 'F', 'email': 'f@localhost'},"
                   " {'id': 'g', 'name': 'G', 'webhook': 'ftp://example.org/x'},"
                   " {'id': 'h', 'name': 'H', 'webhook': 'https:///nohost'},"
                   " {'id': 'i', 'name': 'I', 'phone': 31530000000},"
                   " {'id': 'j', 'name': '', 'pager': '123'}, 7]",
                   &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/officers/1/id: duplicate officer id \"a\"", ""));
    CHECK(has_problem(p, n, "/officers/2/id: must be 1-64 characters", ""));
    CHECK(has_problem(p, n, "/officers/3/id: required key is missing", ""));
    CHECK(has_problem(p, n, "/officers/4/name: required key is missing", ""));
    CHECK(has_problem(p, n, "/officers/5/email:", "does not look like an e-mail address"));
    CHECK(has_problem(p, n, "/officers/6/email:", "does not look like an e-mail address"));
    CHECK(has_problem(p, n, "/officers/7/webhook: must be an https:// or http:// URL", ""));
    CHECK(has_problem(p, n, "/officers/8/webhook:", ""));
    CHECK(has_problem(p, n, "/officers/9/phone: must be text", ""));
    CHECK(has_problem(p, n, "/officers/10/name: must be text", ""));
    CHECK(has_problem(p, n, "/officers/10/pager: unknown key", ""));
    CHECK(has_problem(p, n, "/officers/11: must be an object", ""));
    CHECK_INT(n, 12);
    config_problems_free(p, n);
    config_free(&cfg);

    cfg = load_extra(", 'officers': {'a': 'Anna'}", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/officers: must be an array", ""));
    config_problems_free(p, n);
    config_free(&cfg);
}

static void unknown_officer_ids_are_refused_wherever_they_are_named(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': [" OFFICE ", " NIGHTS
             ", {'days': ['fri'], 'from': '17:00', 'to': '08:00', 'officer': 'zorro'},"
             " {'days': ['sat', 'sun'], 'from': '08:00', 'to': '08:00', 'officer': 3}],"
             " 'overrides': [{'from': '2026-12-24T17:00:00+01:00', 'to': "
             "'2026-12-27T08:00:00+01:00', 'officer': 'santa'}], 'fallback': 'nobody'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly/2/officer: not an officer id in /officers", ""));
    CHECK(has_problem(p, n, "/rota/weekly/3/officer: not an officer id in /officers", ""));
    CHECK(has_problem(p, n, "/rota/overrides/0/officer: not an officer id in /officers", ""));
    CHECK(has_problem(p, n, "/rota/fallback: not an officer id in /officers", ""));
    CHECK_INT(n, 4); /* the times are sound: no coverage problem on top */
    config_problems_free(p, n);

    load_bad(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK, &p, &n);
    CHECK(has_problem(p, n, "/rota/fallback: required key is missing", ""));
    config_problems_free(p, n);
}

static void a_bad_time_zone_is_refused(void)
{
    static const char *const zones[] = {"'Europe/Amstredam'",
                                        "'../../../etc/passwd'",
                                        "'zone.tab'",
                                        "'Europe'",
                                        "'right/Europe/Amsterdam'",
                                        "'/usr/share/zoneinfo/UTC'",
                                        "'localtime'",
                                        "''",
                                        "42"};
    for (size_t i = 0; i < sizeof zones / sizeof *zones; i++) {
        char members[4096], **p = NULL;
        size_t n = 0;
        snprintf(members, sizeof members, "'timezone': %s, 'weekly': " WEEK ", 'fallback': 'a'",
                 zones[i]);
        load_bad(OFFICERS, members, &p, &n);
        if (!has_problem(p, n, "/rota/timezone:", "is not a time zone in /usr/share/zoneinfo"))
            fprintf(stderr, "  for timezone %s\n", zones[i]);
        CHECK_INT(n, 1);
        config_problems_free(p, n);
    }
    char **p = NULL;
    size_t n = 0;
    load_bad(OFFICERS, "'weekly': " WEEK ", 'fallback': 'a'", &p, &n);
    CHECK(has_problem(p, n, "/rota/timezone: required key is missing", ""));
    config_problems_free(p, n);
    /* Other IANA zones load. */
    struct config *cfg =
        load_rota(OFFICERS, "'timezone': 'America/New_York', 'weekly': " WEEK ", 'fallback': 'a'");
    CHECK(cfg != NULL);
    config_free(&cfg);
    cfg = load_rota(OFFICERS, "'timezone': 'UTC', 'weekly': " WEEK ", 'fallback': 'a'");
    CHECK(cfg != NULL);
    config_free(&cfg);
}

static void loading_puts_tz_back_as_it_was(void)
{
    setenv("TZ", "Asia/Tokyo", 1);
    struct config *cfg =
        load_rota(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK ", 'fallback': 'a'");
    CHECK(cfg != NULL);
    CHECK_STR(getenv("TZ"), "Asia/Tokyo");
    config_free(&cfg);
    unsetenv("TZ");
    cfg =
        load_rota(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK ", 'fallback': 'a'");
    CHECK(cfg != NULL);
    CHECK(getenv("TZ") == NULL);
    config_free(&cfg);
}

/* ---- coverage ----------------------------------------------------------- */

static void a_gap_is_named_by_its_first_uncovered_day_and_time(void)
{
    char **p = NULL;
    size_t n = 0;
    /* The weekend shift ends Saturday 23:00 instead of Sunday 08:00... and
     * Sunday starts at midnight: Saturday 23:00-24:00 is nobody's. */
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': [" OFFICE ", " NIGHTS
             ", {'days': ['fri'], 'from': '17:00', 'to': '08:00', 'officer': 'c'},"
             " {'days': ['sat'], 'from': '08:00', 'to': '23:00', 'officer': 'c'},"
             " {'days': ['sun'], 'from': '00:00', 'to': '08:00', 'officer': 'c'},"
             " {'days': ['sun'], 'from': '08:00', 'to': '08:00', 'officer': 'c'}],"
             " 'fallback': 'a'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly: nobody is on duty on sat from 23:00 to 24:00", ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
}

static void gaps_are_listed_in_week_order_and_one_over_sunday_midnight_is_one(void)
{
    char **p = NULL;
    size_t n = 0;
    /* Nobody Sunday 23:00 to Monday 01:00, Tuesday 12:00-13:00, and Wednesday
     * 20:00 to Thursday 08:00. */
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': ["
             "{'days': ['mon'], 'from': '01:00', 'to': '00:00', 'officer': 'a'},"
             "{'days': ['tue'], 'from': '00:00', 'to': '12:00', 'officer': 'a'},"
             "{'days': ['tue'], 'from': '13:00', 'to': '24:00', 'officer': 'a'},"
             "{'days': ['wed'], 'from': '00:00', 'to': '20:00', 'officer': 'b'},"
             "{'days': ['thu', 'fri', 'sat'], 'from': '08:00', 'to': '08:00', 'officer': 'c'},"
             "{'days': ['sun'], 'from': '08:00', 'to': '23:00', 'officer': 'c'}],"
             " 'fallback': 'a'",
             &p, &n);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(p[0], "/rota/weekly: nobody is on duty on tue from 12:00 to 13:00");
        CHECK_STR(p[1], "/rota/weekly: nobody is on duty from wed 20:00 to thu 08:00");
        CHECK_STR(p[2], "/rota/weekly: nobody is on duty from sun 23:00 to mon 01:00");
    }
    dump(p, n == 3 ? 0 : n);
    config_problems_free(p, n);
}

static void an_overlap_names_both_shifts_and_when(void)
{
    char **p = NULL;
    size_t n = 0;
    /* The nights start at 16:00 on Tuesday: one hour shared with the office. */
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': [" OFFICE ","
             " {'days': ['mon', 'wed', 'thu'], 'from': '17:00', 'to': '08:00', 'officer': 'b'},"
             " {'days': ['tue'], 'from': '16:00', 'to': '08:00', 'officer': 'b'}, " WEEKEND "],"
             " 'fallback': 'a'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly/2: overlaps /rota/weekly/0 on tue from 16:00 to 17:00",
                      ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);

    /* The same shift listed twice overlaps everywhere: one line, and no gap. */
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': [" OFFICE ", " NIGHTS ", " WEEKEND
             ", " OFFICE "], 'fallback': 'a'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly/4: overlaps /rota/weekly/0 on mon from 08:00 to 17:00",
                      ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);

    /* An overlap across midnight names both days. */
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': ["
             "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '00:00', 'to': '00:00',"
             " 'officer': 'a'}, {'days': ['sat'], 'from': '22:00', 'to': '02:00', 'officer': 'b'}],"
             " 'fallback': 'a'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly/1: overlaps /rota/weekly/0 from sat 22:00 to sun 02:00",
                      ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
}

static void bad_shifts_are_named_and_no_coverage_is_claimed_from_them(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad(OFFICERS,
             "'timezone': 'Europe/Amsterdam', 'weekly': ["
             "{'days': ['maandag'], 'from': '08:00', 'to': '17:00', 'officer': 'a'},"
             "{'days': ['tue', 'tue'], 'from': '8:00', 'to': '25:00', 'officer': 'a', 'x': 1},"
             "{'days': [], 'from': '24:00', 'to': '12:60', 'officer': 'a'},"
             "{'from': '08:00', 'officer': 'a'}, 'mon 08:00', {'days': 'mon', 'from': 800,"
             " 'to': '08:00', 'officer': 'a'}],"
             " 'fallback': 'a', 'colour': 'red'",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly/0/days/0: not a day", ""));
    CHECK(has_problem(p, n, "/rota/weekly/1/days/1: tue is listed twice", ""));
    CHECK(has_problem(p, n, "/rota/weekly/1/from: must be a time \"HH:MM\"", ""));
    CHECK(has_problem(p, n, "/rota/weekly/1/to: must be a time \"HH:MM\"", ""));
    CHECK(has_problem(p, n, "/rota/weekly/1/x: unknown key", ""));
    CHECK(has_problem(p, n, "/rota/weekly/2/days: must be a non-empty array", ""));
    CHECK(has_problem(p, n, "/rota/weekly/2/from: must be a time", ""));
    CHECK(has_problem(p, n, "/rota/weekly/2/to: must be a time", ""));
    CHECK(has_problem(p, n, "/rota/weekly/3/days: required key is missing", ""));
    CHECK(has_problem(p, n, "/rota/weekly/3/to: required key is missing", ""));
    CHECK(has_problem(p, n, "/rota/weekly/4: must be an object", ""));
    CHECK(has_problem(p, n, "/rota/weekly/5/days: must be a non-empty array", ""));
    CHECK(has_problem(p, n, "/rota/weekly/5/from: must be a time", ""));
    CHECK(has_problem(p, n, "/rota/colour: unknown key", ""));
    CHECK_INT(count_prefix(p, n, "/rota/weekly:"), 0);
    CHECK_INT(n, 14);
    config_problems_free(p, n);

    load_bad(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': [], 'fallback': 'a'", &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly: must be an array of 1 to", ""));
    config_problems_free(p, n);
    load_bad(OFFICERS, "'timezone': 'Europe/Amsterdam', 'fallback': 'a'", &p, &n);
    CHECK(has_problem(p, n, "/rota/weekly: required key is missing", ""));
    config_problems_free(p, n);
}

/* ---- who is on duty ----------------------------------------------------- */

#define AMS_WEEK "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK ", 'fallback': 'a'"

static void office_hours_and_a_night_shift_past_midnight(void)
{
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    /* Tuesday 1 December 2026, CET (+01:00). */
    CHECK_DUTY(cfg, "2026-12-01T10:00:00+01:00", "a", "weekly", "2026-12-01T08:00:00+01:00",
               "2026-12-01T17:00:00+01:00");
    CHECK_DUTY(cfg, "2026-12-01T23:30:00+01:00", "b", "weekly", "2026-12-01T17:00:00+01:00",
               "2026-12-02T08:00:00+01:00");
    CHECK_DUTY(cfg, "2026-12-02T03:00:00+01:00", "b", "weekly", "2026-12-01T17:00:00+01:00",
               "2026-12-02T08:00:00+01:00");
    /* The weekend: three shifts of one officer are one duty, Friday 17:00 to
     * Monday 08:00, over Sunday midnight. */
    CHECK_DUTY(cfg, "2026-12-06T23:59:00+01:00", "c", "weekly", "2026-12-04T17:00:00+01:00",
               "2026-12-07T08:00:00+01:00");
    CHECK_DUTY(cfg, "2026-12-07T00:00:00+01:00", "c", "weekly", "2026-12-04T17:00:00+01:00",
               "2026-12-07T08:00:00+01:00");
    const char *why = NULL;
    int64_t until = 0;
    const struct officer *o = rota_on_duty(cfg, T("2026-12-05T12:00:00Z"), &why, &until);
    CHECK_STR(o ? o->id : NULL, "c");
    CHECK_STR(why, "weekly");
    CHECK_INT(until, T("2026-12-07T07:00:00Z"));
    CHECK(rota_on_duty(cfg, T("2026-12-05T12:00:00Z"), NULL, NULL) == o);
    struct rota_duty d;
    CHECK_INT(rota_duty_at(cfg, T("2026-12-01T10:00:00+01:00"), &d), 0);
    CHECK_INT(d.index, 0);
    CHECK(d.reason == NULL);
    CHECK_INT(rota_duty_at(cfg, T("2026-12-05T12:00:00+01:00"), &d), 0);
    CHECK_INT(d.index, 3);
    config_free(&cfg);
}

static void until_and_since_are_exact_at_a_boundary(void)
{
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    int64_t eight = T("2026-12-01T08:00:00+01:00");
    struct rota_duty d;
    CHECK_INT(rota_duty_at(cfg, eight - 1, &d), 0);
    CHECK_STR(d.officer->id, "b");
    CHECK_INT(d.until_ms, eight);
    CHECK_INT(rota_duty_at(cfg, eight, &d), 0);
    CHECK_STR(d.officer->id, "a");
    CHECK_INT(d.since_ms, eight);
    CHECK_INT(d.until_ms, T("2026-12-01T17:00:00+01:00"));
    CHECK_INT(rota_duty_at(cfg, eight + 1, &d), 0);
    CHECK_INT(d.since_ms, eight);
    config_free(&cfg);
}

static void a_whole_day_shift_and_24_00(void)
{
    struct config *cfg = load_rota(
        OFFICERS,
        "'timezone': 'UTC', 'weekly': ["
        "{'days': ['mon', 'wed', 'fri', 'sun'], 'from': '00:00', 'to': '00:00', 'officer': 'a'},"
        "{'days': ['tue', 'thu'], 'from': '00:00', 'to': '24:00', 'officer': 'b'},"
        "{'days': ['sat'], 'from': '00:00', 'to': '12:00', 'officer': 'c'},"
        "{'days': ['sat'], 'from': '12:00', 'to': '24:00', 'officer': 'a'}],"
        " 'fallback': 'a'");
    if (!cfg) {
        CHECK(0);
        return;
    }
    CHECK_DUTY(cfg, "2026-12-02T05:00:00Z", "a", "weekly", "2026-12-02T00:00:00Z",
               "2026-12-03T00:00:00Z");
    CHECK_DUTY(cfg, "2026-12-03T23:59:59.999Z", "b", "weekly", "2026-12-03T00:00:00Z",
               "2026-12-04T00:00:00Z");
    /* Saturday 12:00 to Tuesday 00:00 is all a's. */
    CHECK_DUTY(cfg, "2026-12-06T12:00:00Z", "a", "weekly", "2026-12-05T12:00:00Z",
               "2026-12-08T00:00:00Z");
    config_free(&cfg);
}

static void a_rota_of_one_officer_never_changes(void)
{
    struct config *cfg =
        load_rota(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': ["
                            "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '06:00',"
                            " 'to': '06:00', 'officer': 'b'}], 'fallback': 'a'");
    if (!cfg) {
        CHECK(0);
        return;
    }
    /* It runs from the first moment the rota covers to the last one. */
    CHECK_DUTY(cfg, "2026-06-01T12:00:00Z", "b", "weekly", "1970-01-01T00:00:00Z",
               "2100-01-01T00:00:00Z");
    config_free(&cfg);
}

#define CHRISTMAS                                                                                  \
    "'overrides': [{'from': '2026-12-24T12:00:00+01:00', 'to': '2026-12-27T08:00:00+01:00',"       \
    " 'officer': 'b', 'reason': 'kerst'},"                                                         \
    " {'from': '2026-12-31T18:00:00+01:00', 'to': '2027-01-01T00:00:00+01:00', 'officer': 'a'},"   \
    " {'from': '2027-01-01T00:00:00+01:00', 'to': '2027-01-01T10:00:00+01:00', 'officer': 'a',"    \
    " 'reason': 'nieuwjaar'}]"

static void overrides_win_while_they_last_and_the_week_resumes(void)
{
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK ", " CHRISTMAS);
    if (!cfg) {
        CHECK(0);
        return;
    }
    /* Thursday 24 December: the office hours end early, at the override. */
    CHECK_DUTY(cfg, "2026-12-24T11:00:00+01:00", "a", "weekly", "2026-12-24T08:00:00+01:00",
               "2026-12-24T12:00:00+01:00");
    CHECK_DUTY(cfg, "2026-12-24T12:00:00+01:00", "b", "override", "2026-12-24T12:00:00+01:00",
               "2026-12-27T08:00:00+01:00");
    CHECK_DUTY(cfg, "2026-12-26T03:00:00+01:00", "b", "override", "2026-12-24T12:00:00+01:00",
               "2026-12-27T08:00:00+01:00");
    struct rota_duty d;
    CHECK_INT(rota_duty_at(cfg, T("2026-12-25T12:00:00Z"), &d), 0);
    CHECK_STR(d.reason, "kerst");
    CHECK_INT(d.index, 0);
    /* Sunday 27 December 08:00: the weekend duty resumes until Monday 08:00;
     * it began when the override ended, not on Friday. */
    CHECK_DUTY(cfg, "2026-12-27T08:00:00+01:00", "c", "weekly", "2026-12-27T08:00:00+01:00",
               "2026-12-28T08:00:00+01:00");
    /* Two overrides back to back for the same officer are two duties (two
     * reasons); between them nothing of the week shows. */
    CHECK_DUTY(cfg, "2026-12-31T23:59:00+01:00", "a", "override", "2026-12-31T18:00:00+01:00",
               "2027-01-01T00:00:00+01:00");
    CHECK_DUTY(cfg, "2027-01-01T00:00:00+01:00", "a", "override", "2027-01-01T00:00:00+01:00",
               "2027-01-01T10:00:00+01:00");
    CHECK_INT(rota_duty_at(cfg, T("2027-01-01T00:00:00+01:00"), &d), 0);
    CHECK_STR(d.reason, "nieuwjaar");
    CHECK_INT(d.index, 2);
    /* Friday 1 January 10:00: back to the office hours. */
    CHECK_DUTY(cfg, "2027-01-01T10:00:00+01:00", "a", "weekly", "2027-01-01T10:00:00+01:00",
               "2027-01-01T17:00:00+01:00");
    /* The night before New Year's Eve 18:00 runs up to the override. */
    CHECK_DUTY(cfg, "2026-12-31T17:30:00+01:00", "b", "weekly", "2026-12-31T17:00:00+01:00",
               "2026-12-31T18:00:00+01:00");
    config_free(&cfg);
}

static void overlapping_overrides_are_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad(OFFICERS,
             AMS_WEEK ", 'overrides': ["
                      "{'from': '2026-12-24T12:00:00+01:00', 'to': '2026-12-27T08:00:00+01:00',"
                      " 'officer': 'b'},"
                      "{'from': '2026-12-31T18:00:00+01:00', 'to': '2027-01-01T10:00:00+01:00',"
                      " 'officer': 'a'},"
                      "{'from': '2026-12-26T08:00:00+01:00', 'to': '2026-12-26T20:00:00+01:00',"
                      " 'officer': 'c'}]",
             &p, &n);
    CHECK(has_problem(p, n,
                      "/rota/overrides/2: overlaps /rota/overrides/0 from "
                      "2026-12-26T07:00:00.000Z to 2026-12-26T19:00:00.000Z",
                      ""));
    CHECK_INT(n, 1);
    config_problems_free(p, n);

    /* One that starts inside a long one after a short one in between. */
    load_bad(OFFICERS,
             AMS_WEEK
             ", 'overrides': ["
             "{'from': '2026-12-01T00:00:00Z', 'to': '2026-12-31T00:00:00Z', 'officer': 'b'},"
             "{'from': '2026-12-02T00:00:00Z', 'to': '2026-12-03T00:00:00Z', 'officer': 'a'},"
             "{'from': '2026-12-10T00:00:00Z', 'to': '2027-01-03T00:00:00Z', 'officer': 'c'}]",
             &p, &n);
    CHECK(has_problem(p, n, "/rota/overrides/1: overlaps /rota/overrides/0", ""));
    CHECK(has_problem(p, n, "/rota/overrides/2: overlaps /rota/overrides/0", ""));
    CHECK_INT(n, 2);
    config_problems_free(p, n);
}

static void bad_overrides_are_named(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad(OFFICERS,
             AMS_WEEK
             ", 'overrides': ["
             "{'from': '2026-12-24T12:00:00', 'to': '2026-12-27T08:00:00+01:00', 'officer': 'b'},"
             "{'from': '2026-12-27T08:00:00+01:00', 'to': '2026-12-24T12:00:00+01:00',"
             " 'officer': 'b'},"
             "{'from': '2026-02-30T00:00:00Z', 'to': 5, 'officer': 'b', 'who': 'x'},"
             "{'from': '2026-12-01T00:00:00Z', 'to': '2026-12-02T00:00:00Z',"
             " 'officer': 'b', 'reason': ''},"
             "{'to': '2026-12-02T00:00:00Z'}, []]",
             &p, &n);
    CHECK(
        has_problem(p, n, "/rota/overrides/0/from: must be an RFC 3339 date-time with offset", ""));
    CHECK(has_problem(p, n, "/rota/overrides/1/to: must be after from", ""));
    CHECK(has_problem(p, n, "/rota/overrides/2/from: must be an RFC 3339", ""));
    CHECK(has_problem(p, n, "/rota/overrides/2/to: must be an RFC 3339", ""));
    CHECK(has_problem(p, n, "/rota/overrides/2/who: unknown key", ""));
    CHECK(has_problem(p, n, "/rota/overrides/3/reason: must be text", ""));
    CHECK(has_problem(p, n, "/rota/overrides/4/from: required key is missing", ""));
    CHECK(has_problem(p, n, "/rota/overrides/4/officer: required key is missing", ""));
    CHECK(has_problem(p, n, "/rota/overrides/5: must be an object", ""));
    CHECK_INT(n, 9);
    config_problems_free(p, n);
    load_bad(OFFICERS, AMS_WEEK ", 'overrides': {}", &p, &n);
    CHECK(has_problem(p, n, "/rota/overrides: must be an array", ""));
    config_problems_free(p, n);
}

/* A night rota where the 02:00-03:00 hour is its own shift (c), between two
 * shifts of b: what happens to it on the two DST Sundays of 2026 in
 * Europe/Amsterdam (29 March 02:00 CET -> 03:00 CEST, 25 October 03:00
 * CEST -> 02:00 CET, both at 01:00 UTC). */
#define DST_WEEK                                                                                   \
    "'timezone': 'Europe/Amsterdam', 'weekly': ["                                                  \
    "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '08:00', 'to': '17:00',"        \
    " 'officer': 'a'},"                                                                            \
    "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '17:00', 'to': '02:00',"        \
    " 'officer': 'b'},"                                                                            \
    "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '02:00', 'to': '03:00',"        \
    " 'officer': 'c'},"                                                                            \
    "{'days': ['mon','tue','wed','thu','fri','sat','sun'], 'from': '03:00', 'to': '08:00',"        \
    " 'officer': 'b'}], 'fallback': 'a'"

static void spring_forward_skips_the_hour_that_does_not_exist(void)
{
    struct config *cfg = load_rota(OFFICERS, DST_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    /* An ordinary night (Saturday 28 March, CET): c has 02:00-03:00. */
    CHECK_DUTY(cfg, "2026-03-28T02:30:00+01:00", "c", "weekly", "2026-03-28T02:00:00+01:00",
               "2026-03-28T03:00:00+01:00");
    /* Sunday 29 March: 01:59 CET is followed by 03:00 CEST; c gets no time
     * and b is on duty from Saturday 17:00 CET to Sunday 08:00 CEST. */
    CHECK_DUTY(cfg, "2026-03-29T01:59:59+01:00", "b", "weekly", "2026-03-28T17:00:00+01:00",
               "2026-03-29T08:00:00+02:00");
    CHECK_DUTY(cfg, "2026-03-29T03:00:00+02:00", "b", "weekly", "2026-03-28T17:00:00+01:00",
               "2026-03-29T08:00:00+02:00");
    CHECK_DUTY(cfg, "2026-03-29T01:00:00Z", "b", "weekly", "2026-03-28T17:00:00+01:00",
               "2026-03-29T06:00:00Z");
    /* The day after, in summer time: a from 08:00 CEST (06:00 UTC). */
    CHECK_DUTY(cfg, "2026-03-29T12:00:00+02:00", "a", "weekly", "2026-03-29T06:00:00Z",
               "2026-03-29T15:00:00Z");
    CHECK_DUTY(cfg, "2026-03-30T02:15:00+02:00", "c", "weekly", "2026-03-30T02:00:00+02:00",
               "2026-03-30T03:00:00+02:00");
    char buf[ROTA_TIME_LEN];
    rota_format_local(cfg, T("2026-03-29T00:59:59Z"), buf);
    CHECK_STR(buf, "2026-03-29T01:59:59+01:00");
    rota_format_local(cfg, T("2026-03-29T01:00:00Z"), buf);
    CHECK_STR(buf, "2026-03-29T03:00:00+02:00");
    config_free(&cfg);
}

static void fall_back_gives_the_repeated_hour_twice(void)
{
    struct config *cfg = load_rota(OFFICERS, DST_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    /* Sunday 25 October: 02:00-03:00 happens in CEST, then again in CET; c
     * is on duty for both, two real hours (00:00-02:00 UTC). */
    CHECK_DUTY(cfg, "2026-10-25T01:59:00+02:00", "b", "weekly", "2026-10-24T17:00:00+02:00",
               "2026-10-25T02:00:00+02:00");
    CHECK_DUTY(cfg, "2026-10-25T02:30:00+02:00", "c", "weekly", "2026-10-25T00:00:00Z",
               "2026-10-25T02:00:00Z");
    CHECK_DUTY(cfg, "2026-10-25T02:30:00+01:00", "c", "weekly", "2026-10-25T00:00:00Z",
               "2026-10-25T02:00:00Z");
    CHECK_DUTY(cfg, "2026-10-25T03:00:00+01:00", "b", "weekly", "2026-10-25T03:00:00+01:00",
               "2026-10-25T08:00:00+01:00");
    /* A shift that lies across the change is an hour longer in real time:
     * b's night from Saturday 17:00 CEST runs to 02:00 CEST, seven hours... */
    CHECK_DUTY(cfg, "2026-10-24T20:00:00+02:00", "b", "weekly", "2026-10-24T15:00:00Z",
               "2026-10-25T00:00:00Z");
    /* ...and the Sunday daytime (08:00-17:00 CET) is an ordinary nine hours. */
    CHECK_DUTY(cfg, "2026-10-25T12:00:00+01:00", "a", "weekly", "2026-10-25T07:00:00Z",
               "2026-10-25T16:00:00Z");
    char buf[ROTA_TIME_LEN];
    rota_format_local(cfg, T("2026-10-25T00:30:00Z"), buf);
    CHECK_STR(buf, "2026-10-25T02:30:00+02:00");
    rota_format_local(cfg, T("2026-10-25T01:30:00Z"), buf);
    CHECK_STR(buf, "2026-10-25T02:30:00+01:00");
    CHECK_STR(rota_weekday(cfg, T("2026-10-25T01:30:00Z")), "sun");
    CHECK_STR(rota_weekday(cfg, T("2026-10-24T22:30:00Z")), "sun"); /* 00:30 CEST */
    config_free(&cfg);
}

/* The week as the test knows it, for one local weekday (0 = mon) and minute. */
static const char *expected_officer(int wd, int minute)
{
    int hour = minute / 60;
    if (wd == 4 && hour >= 17)
        return "c";
    if (wd == 5 || wd == 6)
        return "c";
    if (wd == 0 && hour < 8)
        return "c";
    if (hour >= 8 && hour < 17)
        return "a";
    return "b";
}

/* Every 7 minutes of 2026 (both DST changes, every weekday and time), the
 * rota's answer matches libc's local time in the zone; each duty's until is
 * the next duty's since, and the officer then is the one at until. */
static void the_answer_matches_libc_local_time_all_through_2026(void)
{
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    setenv("TZ", ":/usr/share/zoneinfo/Europe/Amsterdam", 1);
    tzset();
    int bad = 0;
    for (int64_t t = T("2026-01-01T00:00:00Z"); t < T("2027-01-01T00:00:00Z") && bad < 5;
         t += 7 * 60000 + 13) {
        time_t secs = (time_t)(t / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        const char *want = expected_officer((tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min);
        struct rota_duty d, next;
        if (rota_duty_at(cfg, t, &d) != 0 || strcmp(d.officer->id, want) != 0 || d.since_ms > t ||
            d.until_ms <= t || rota_duty_at(cfg, d.until_ms, &next) != 0 ||
            next.since_ms != d.until_ms || next.officer == d.officer) {
            fprintf(stderr, "  at %lld: got %s, want %s\n", (long long)t,
                    d.officer ? d.officer->id : "-", want);
            bad++;
        }
    }
    unsetenv("TZ");
    tzset();
    CHECK_INT(bad, 0);
    config_free(&cfg);
}

static void outside_the_years_of_the_table_the_fallback_answers(void)
{
    struct config *cfg = load_rota(OFFICERS, "'timezone': 'Europe/Amsterdam', 'weekly': " WEEK
                                             ", 'fallback': 'b', 'overrides': [{'from': "
                                             "'2100-06-01T00:00:00Z', 'to': "
                                             "'2100-06-02T00:00:00Z', 'officer': 'a'}]");
    if (!cfg) {
        CHECK(0);
        return;
    }
    CHECK_DUTY(cfg, "1969-12-31T23:59:59Z", "b", "fallback", NO_TIME, "1970-01-01T00:00:00Z");
    CHECK_DUTY(cfg, "2100-01-01T00:00:00Z", "b", "fallback", "2100-01-01T00:00:00Z",
               "2100-06-01T00:00:00Z");
    CHECK_DUTY(cfg, "2100-06-01T12:00:00Z", "a", "override", "2100-06-01T00:00:00Z",
               "2100-06-02T00:00:00Z");
    CHECK_DUTY(cfg, "2200-01-01T00:00:00Z", "b", "fallback", "2100-06-02T00:00:00Z", NO_TIME);
    /* 31 December 2099, a Thursday: the night shift is cut at the end. */
    CHECK_DUTY(cfg, "2099-12-31T23:00:00Z", "b", "weekly", "2099-12-31T16:00:00Z",
               "2100-01-01T00:00:00Z");
    char buf[ROTA_TIME_LEN];
    rota_format_local(cfg, T("2100-01-01T00:00:00Z"), buf);
    CHECK_STR(buf, "2100-01-01T00:00:00Z");
    config_free(&cfg);
}

/* ---- times -------------------------------------------------------------- */

static void rfc_3339_times_parse_only_with_an_offset(void)
{
    int64_t ms = 0;
    CHECK_INT(rota_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    CHECK_INT(ms, 0);
    CHECK_INT(rota_parse_time("2026-12-24T23:30:00+01:00", &ms), 0);
    CHECK_INT(ms, INT64_C(1798151400000));
    CHECK_INT(rota_parse_time("2026-12-24t22:30:00.5z", &ms), 0);
    CHECK_INT(ms, INT64_C(1798151400500));
    CHECK_INT(rota_parse_time("2026-12-24T22:30:00.123456-00:00", &ms), 0);
    CHECK_INT(ms, INT64_C(1798151400123));
    CHECK_INT(rota_parse_time("1969-12-31T23:59:59.999Z", &ms), 0);
    CHECK_INT(ms, -1);
    CHECK_INT(rota_parse_time("2028-02-29T12:00:00+05:30", &ms), 0);
    CHECK_INT(ms, INT64_C(1835418600000));
    static const char *const bad[] = {"2026-12-24T23:30:00",
                                      "2026-12-24 23:30:00Z",
                                      "2026-12-24T23:30Z",
                                      "2026-13-01T00:00:00Z",
                                      "2026-02-29T00:00:00Z",
                                      "2026-04-31T00:00:00Z",
                                      "2026-12-24T24:00:00Z",
                                      "2026-12-31T23:59:60Z",
                                      "2026-12-24T23:30:00+1:00",
                                      "2026-12-24T23:30:00+24:00",
                                      "2026-12-24T23:30:00.Z",
                                      "2026-12-24T23:30:00Zjunk",
                                      "now",
                                      ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (rota_parse_time(bad[i], &ms) != -1) {
            fprintf(stderr, "  parsed \"%s\"\n", bad[i]);
            CHECK(0);
        }
    CHECK_INT(rota_parse_time(NULL, &ms), -1);
}

static void local_times_carry_their_offset(void)
{
    char buf[ROTA_TIME_LEN];
    rota_format_local(NULL, T("2026-12-24T22:30:00.25Z"), buf);
    CHECK_STR(buf, "2026-12-24T22:30:00.250Z");
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK);
    if (!cfg) {
        CHECK(0);
        return;
    }
    rota_format_local(cfg, T("2026-12-24T22:30:00Z"), buf);
    CHECK_STR(buf, "2026-12-24T23:30:00+01:00");
    rota_format_local(cfg, T("2026-07-01T22:30:00.007Z"), buf);
    CHECK_STR(buf, "2026-07-02T00:30:00.007+02:00");
    CHECK_STR(rota_weekday(cfg, T("2026-07-01T22:30:00Z")), "thu");
    CHECK_STR(rota_weekday(NULL, T("2026-07-01T22:30:00Z")), "wed");
    config_free(&cfg);
    cfg =
        load_rota(OFFICERS, "'timezone': 'America/New_York', 'weekly': " WEEK ", 'fallback': 'a'");
    if (cfg) {
        rota_format_local(cfg, T("2026-12-24T22:30:00Z"), buf);
        CHECK_STR(buf, "2026-12-24T17:30:00-05:00");
        /* New York's office hours are its own: 08:00 EST is 13:00 UTC. */
        CHECK_DUTY(cfg, "2026-12-24T13:00:00Z", "a", "weekly", "2026-12-24T08:00:00-05:00",
                   "2026-12-24T17:00:00-05:00");
    }
    config_free(&cfg);
}

/* ---- the oncall report and the example config --------------------------- */

static void the_report_has_the_duty_the_fallback_and_the_next_changes(void)
{
    struct config *cfg = load_rota(OFFICERS, AMS_WEEK ", " CHRISTMAS);
    if (!cfg) {
        CHECK(0);
        return;
    }
    json_t *doc = rota_report(cfg, T("2026-12-24T23:30:00+01:00"), 3);
    CHECK(doc != NULL);
    if (!doc) {
        config_free(&cfg);
        return;
    }
    const json_t *on = json_object_get(doc, "on_duty");
    CHECK_STR(json_string_value(json_object_get(doc, "at")), "2026-12-24T22:30:00.000Z");
    CHECK_STR(json_string_value(json_object_get(doc, "at_local")), "2026-12-24T23:30:00+01:00");
    CHECK_STR(json_string_value(json_object_get(doc, "timezone")), "Europe/Amsterdam");
    CHECK_STR(json_string_value(json_object_get(json_object_get(on, "officer"), "id")), "b");
    CHECK_STR(json_string_value(json_object_get(on, "why")), "override");
    CHECK_STR(json_string_value(json_object_get(on, "source")), "/rota/overrides/0");
    CHECK_STR(json_string_value(json_object_get(on, "reason")), "kerst");
    CHECK_STR(json_string_value(json_object_get(on, "since")), "2026-12-24T11:00:00.000Z");
    CHECK_STR(json_string_value(json_object_get(on, "until_local")), "2026-12-27T08:00:00+01:00");
    const json_t *fb = json_object_get(doc, "fallback");
    CHECK_STR(json_string_value(json_object_get(fb, "email")), "anna@example.org");
    CHECK(json_is_true(json_object_get(fb, "has_webhook")));
    CHECK(json_object_get(fb, "webhook") == NULL); /* the URL may hold a secret */
    const json_t *next = json_object_get(doc, "next");
    CHECK_INT(json_array_size(next), 3);
    static const char *const ids[] = {"c", "a", "b"};
    static const char *const since[] = {"2026-12-27T07:00:00.000Z", "2026-12-28T07:00:00.000Z",
                                        "2026-12-28T16:00:00.000Z"};
    for (size_t i = 0; i < 3 && i < json_array_size(next); i++) {
        const json_t *e = json_array_get(next, i);
        CHECK_STR(json_string_value(json_object_get(json_object_get(e, "officer"), "id")), ids[i]);
        CHECK_STR(json_string_value(json_object_get(e, "since")), since[i]);
        CHECK_STR(json_string_value(json_object_get(e, "why")), "weekly");
        CHECK(json_is_null(json_object_get(e, "reason")));
    }
    json_decref(doc);
    config_free(&cfg);
}

static void the_example_rota_covers_the_week_and_christmas(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK(cfg->rota != NULL);
    CHECK_INT(cfg->nofficers, 3);
    CHECK_STR(rota_timezone(cfg), "Europe/Amsterdam");
    CHECK_DUTY(cfg, "2026-12-01T10:00:00+01:00", "anouk-jansen", "weekly",
               "2026-12-01T08:00:00+01:00", "2026-12-01T17:00:00+01:00");
    struct rota_duty d;
    CHECK_INT(rota_duty_at(cfg, T("2026-12-24T23:30:00+01:00"), &d), 0);
    CHECK_STR(d.why, "override");
    CHECK(d.officer && d.officer->email && strstr(d.officer->email, "@example.org"));
    for (size_t i = 0; i < cfg->nofficers; i++)
        CHECK(cfg->officers[i].email && strstr(cfg->officers[i].email, "@example.org"));
    CHECK(rota_fallback(cfg) != NULL);
    config_free(&cfg);
}

int main(void)
{
    char err[256], path[256];
    tu_tempdir(dir, sizeof dir);
    tu_secrets(dir);
    if (!getcwd(root, sizeof root - 16))
        return 2;
    snprintf(schemas, sizeof schemas, "%s/schemas", root);
    snprintf(path, sizeof path, "%s/hub", dir);
    if (keyfile_generate(path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    RUN(a_full_week_loads_officers_shifts_and_fallback);
    RUN(without_a_rota_nobody_is_named);
    RUN(a_rota_needs_officers);
    RUN(bad_officers_are_named_by_their_pointers);
    RUN(unknown_officer_ids_are_refused_wherever_they_are_named);
    RUN(a_bad_time_zone_is_refused);
    RUN(loading_puts_tz_back_as_it_was);

    RUN(a_gap_is_named_by_its_first_uncovered_day_and_time);
    RUN(gaps_are_listed_in_week_order_and_one_over_sunday_midnight_is_one);
    RUN(an_overlap_names_both_shifts_and_when);
    RUN(bad_shifts_are_named_and_no_coverage_is_claimed_from_them);

    RUN(office_hours_and_a_night_shift_past_midnight);
    RUN(until_and_since_are_exact_at_a_boundary);
    RUN(a_whole_day_shift_and_24_00);
    RUN(a_rota_of_one_officer_never_changes);
    RUN(overrides_win_while_they_last_and_the_week_resumes);
    RUN(overlapping_overrides_are_refused);
    RUN(bad_overrides_are_named);
    RUN(spring_forward_skips_the_hour_that_does_not_exist);
    RUN(fall_back_gives_the_repeated_hour_twice);
    RUN(the_answer_matches_libc_local_time_all_through_2026);
    RUN(outside_the_years_of_the_table_the_fallback_answers);

    RUN(rfc_3339_times_parse_only_with_an_offset);
    RUN(local_times_carry_their_offset);

    RUN(the_report_has_the_duty_the_fallback_and_the_next_changes);
    RUN(the_example_rota_covers_the_week_and_christmas);
    tu_rmdir(dir);
    return CHECK_DONE();
}
