/*
 * test_report_render - the report's CSV and HTML writers (ctl/report_render)
 * over a hand-written model that has every section, hidden counts ("<5",
 * "x"), null statistics, a municipality whose name holds "&" and "<", a
 * partner whose name holds a quote and a comma, and a signal without a
 * municipality. The CSV must be exactly the expected text; the HTML must be
 * one self-contained page (no script, no outside reference, every name
 * escaped, one <svg> per chart section) and pass tests/report/check_html.py.
 * Bad models are refused with the JSON path of the problem and nothing
 * written.
 *
 *   test_report_render                 run the tests
 *   test_report_render --html PATH     write the fixture's page to PATH
 *   test_report_render --csv PATH      write the fixture's CSV to PATH
 *
 * JSON below is written with ' for " (model() swaps them).
 */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "check.h"
#include "ctl/report_render.h"

#define FIXTURE                                                                                    \
    "{'report': 'ketenhub', 'version': 1,"                                                         \
    " 'period': {'from': '2026-01-01', 'to': '2026-03-31'},"                                       \
    " 'generated': '2026-04-01T08:00:00.000Z', 'threshold': 5,"                                    \
    " 'signals': {"                                                                                \
    "  'total': 1234,"                                                                             \
    "  'forms': ['seksueel', 'arbeid', 'crimineel', 'orgaanverwijdering', 'onbekend'],"            \
    "  'by_month': ["                                                                              \
    "   {'month': '2026-01', 'signals': 102, 'seksueel': 40, 'arbeid': 51, 'crimineel': 12,"       \
    "    'orgaanverwijdering': 0, 'onbekend': '<5'},"                                              \
    "   {'month': '2026-02', 'signals': 'x', 'seksueel': 'x', 'arbeid': '<5', 'crimineel': 0,"     \
    "    'orgaanverwijdering': 0, 'onbekend': 0},"                                                 \
    "   {'month': '2026-03', 'signals': 20, 'seksueel': 9, 'arbeid': 11, 'crimineel': '<5',"       \
    "    'orgaanverwijdering': '<5', 'onbekend': 0}],"                                             \
    "  'by_form': {'seksueel': 400, 'arbeid': 610, 'crimineel': 150,"                              \
    "   'orgaanverwijdering': '<5', 'onbekend': 'x'},"                                             \
    "  'by_role': [{'role': 'police', 'signals': 500}, {'role': 'municipality', 'signals': 'x'},"  \
    "   {'role': 'comensha', 'signals': '<5'}, {'role': 'care', 'signals': 0},"                    \
    "   {'role': 'coordinator', 'signals': 0}],"                                                   \
    "  'by_municipality': [{'code': 'GM0153', 'name': 'Gemeente Enschede', 'signals': 210},"       \
    "   {'code': 'GM0999', 'name': 'Zorg & Veilig <Noord>', 'signals': '<5'},"                     \
    "   {'code': null, 'name': 'onbekend', 'signals': 20}],"                                       \
    "  'by_age': {'minderjarig': 80, 'meerderjarig': 'x'},"                                        \
    "  'by_urgency': {'crisis': 31, 'hoog': '<5', 'normaal': 'x'}},"                               \
    " 'referrals': {'partners': ["                                                                 \
    "   {'partner': 'politie-oost-nederland', 'name': 'Politie Oost-Nederland', 'role': 'police'," \
    "    'offered': 40, 'open': '<5', 'accepted': 30, 'declined': 6, 'other': 'x',"                \
    "    'received': 38,"                                                                          \
    "    'receipt': {'answered': 38, 'median_minutes': 12.5, 'p90_minutes': 40.0,"                 \
    "     'within_deadline': 35, 'within_deadline_pct': 92.1, 'deadline_minutes': 15.0},"          \
    "    'decision': {'answered': 36, 'median_minutes': 130.0, 'p90_minutes': 300.0,"              \
    "     'within_deadline': 30, 'within_deadline_pct': 83.3, 'deadline_minutes': 240}},"          \
    "   {'partner': 'zorg-west', 'name': 'Zorg \\u0022West\\u0022, Oost', 'role': 'care',"         \
    "    'offered': '<5', 'open': 0, 'accepted': '<5', 'declined': 0, 'other': 0,"                 \
    "    'received': '<5',"                                                                        \
    "    'receipt': {'answered': '<5', 'median_minutes': null, 'p90_minutes': null,"               \
    "     'within_deadline': '<5', 'within_deadline_pct': null, 'deadline_minutes': null},"        \
    "    'decision': {'answered': 0, 'median_minutes': null, 'p90_minutes': null,"                 \
    "     'within_deadline': 0, 'within_deadline_pct': null, 'deadline_minutes': 60.0}}],"         \
    "  'total': {'offered': 'x', 'open': '<5', 'accepted': 'x', 'declined': 6, 'other': 'x',"      \
    "   'received': 'x'}},"                                                                        \
    " 'escalations': {'total': 12, 'by_level': [{'level': 0, 'escalations': 0},"                   \
    "   {'level': 1, 'escalations': 9}, {'level': 2, 'escalations': '<5'}],"                       \
    "  'acknowledged': 10, 'time_to_ack': {'median_minutes': 14.0, 'p90_minutes': 35.47}},"        \
    " 'matches': {'available': true, 'count': 7,"                                                  \
    "  'by_month': [{'month': '2026-01', 'matches': '<5'}, {'month': '2026-02', 'matches': 'x'},"  \
    "   {'month': '2026-03', 'matches': 0}],"                                                      \
    "  'by_roles': [{'roles': ['police', 'municipality'], 'matches': '<5'},"                       \
    "   {'roles': ['police', 'care'], 'matches': 'x'}]}}"

static const char expected_csv[] =
    "table,row,column,value\r\n"
    "report,version,value,1\r\n"
    "report,period,from,2026-01-01\r\n"
    "report,period,to,2026-03-31\r\n"
    "report,generated,value,2026-04-01T08:00:00.000Z\r\n"
    "report,threshold,value,5\r\n"
    "signals,total,signals,1234\r\n"
    "by_month,2026-01,signals,102\r\n"
    "by_month,2026-01,seksueel,40\r\n"
    "by_month,2026-01,arbeid,51\r\n"
    "by_month,2026-01,crimineel,12\r\n"
    "by_month,2026-01,orgaanverwijdering,0\r\n"
    "by_month,2026-01,onbekend,<5\r\n"
    "by_month,2026-02,signals,x\r\n"
    "by_month,2026-02,seksueel,x\r\n"
    "by_month,2026-02,arbeid,<5\r\n"
    "by_month,2026-02,crimineel,0\r\n"
    "by_month,2026-02,orgaanverwijdering,0\r\n"
    "by_month,2026-02,onbekend,0\r\n"
    "by_month,2026-03,signals,20\r\n"
    "by_month,2026-03,seksueel,9\r\n"
    "by_month,2026-03,arbeid,11\r\n"
    "by_month,2026-03,crimineel,<5\r\n"
    "by_month,2026-03,orgaanverwijdering,<5\r\n"
    "by_month,2026-03,onbekend,0\r\n"
    "by_form,seksueel,signals,400\r\n"
    "by_form,arbeid,signals,610\r\n"
    "by_form,crimineel,signals,150\r\n"
    "by_form,orgaanverwijdering,signals,<5\r\n"
    "by_form,onbekend,signals,x\r\n"
    "by_role,police,signals,500\r\n"
    "by_role,municipality,signals,x\r\n"
    "by_role,comensha,signals,<5\r\n"
    "by_role,care,signals,0\r\n"
    "by_role,coordinator,signals,0\r\n"
    "by_municipality,GM0153,name,Gemeente Enschede\r\n"
    "by_municipality,GM0153,signals,210\r\n"
    "by_municipality,GM0999,name,Zorg & Veilig <Noord>\r\n"
    "by_municipality,GM0999,signals,<5\r\n"
    "by_municipality,,name,onbekend\r\n"
    "by_municipality,,signals,20\r\n"
    "by_age,minderjarig,signals,80\r\n"
    "by_age,meerderjarig,signals,x\r\n"
    "by_urgency,crisis,signals,31\r\n"
    "by_urgency,hoog,signals,<5\r\n"
    "by_urgency,normaal,signals,x\r\n"
    "referrals,politie-oost-nederland,name,Politie Oost-Nederland\r\n"
    "referrals,politie-oost-nederland,role,police\r\n"
    "referrals,politie-oost-nederland,offered,40\r\n"
    "referrals,politie-oost-nederland,open,<5\r\n"
    "referrals,politie-oost-nederland,accepted,30\r\n"
    "referrals,politie-oost-nederland,declined,6\r\n"
    "referrals,politie-oost-nederland,other,x\r\n"
    "referrals,politie-oost-nederland,received,38\r\n"
    "referrals,politie-oost-nederland,receipt_answered,38\r\n"
    "referrals,politie-oost-nederland,receipt_median_minutes,12.5\r\n"
    "referrals,politie-oost-nederland,receipt_p90_minutes,40.0\r\n"
    "referrals,politie-oost-nederland,receipt_within_deadline,35\r\n"
    "referrals,politie-oost-nederland,receipt_within_deadline_pct,92.1\r\n"
    "referrals,politie-oost-nederland,receipt_deadline_minutes,15.0\r\n"
    "referrals,politie-oost-nederland,decision_answered,36\r\n"
    "referrals,politie-oost-nederland,decision_median_minutes,130.0\r\n"
    "referrals,politie-oost-nederland,decision_p90_minutes,300.0\r\n"
    "referrals,politie-oost-nederland,decision_within_deadline,30\r\n"
    "referrals,politie-oost-nederland,decision_within_deadline_pct,83.3\r\n"
    "referrals,politie-oost-nederland,decision_deadline_minutes,240.0\r\n"
    "referrals,zorg-west,name,\"Zorg \"\"West\"\", Oost\"\r\n"
    "referrals,zorg-west,role,care\r\n"
    "referrals,zorg-west,offered,<5\r\n"
    "referrals,zorg-west,open,0\r\n"
    "referrals,zorg-west,accepted,<5\r\n"
    "referrals,zorg-west,declined,0\r\n"
    "referrals,zorg-west,other,0\r\n"
    "referrals,zorg-west,received,<5\r\n"
    "referrals,zorg-west,receipt_answered,<5\r\n"
    "referrals,zorg-west,receipt_median_minutes,\r\n"
    "referrals,zorg-west,receipt_p90_minutes,\r\n"
    "referrals,zorg-west,receipt_within_deadline,<5\r\n"
    "referrals,zorg-west,receipt_within_deadline_pct,\r\n"
    "referrals,zorg-west,receipt_deadline_minutes,\r\n"
    "referrals,zorg-west,decision_answered,0\r\n"
    "referrals,zorg-west,decision_median_minutes,\r\n"
    "referrals,zorg-west,decision_p90_minutes,\r\n"
    "referrals,zorg-west,decision_within_deadline,0\r\n"
    "referrals,zorg-west,decision_within_deadline_pct,\r\n"
    "referrals,zorg-west,decision_deadline_minutes,60.0\r\n"
    "referrals,total,offered,x\r\n"
    "referrals,total,open,<5\r\n"
    "referrals,total,accepted,x\r\n"
    "referrals,total,declined,6\r\n"
    "referrals,total,other,x\r\n"
    "referrals,total,received,x\r\n"
    "escalations,total,escalations,12\r\n"
    "escalations,level 0,escalations,0\r\n"
    "escalations,level 1,escalations,9\r\n"
    "escalations,level 2,escalations,<5\r\n"
    "escalations,acknowledged,escalations,10\r\n"
    "escalations,time_to_ack,median_minutes,14.0\r\n"
    "escalations,time_to_ack,p90_minutes,35.5\r\n"
    "matches,count,available,true\r\n"
    "matches,count,matches,7\r\n"
    "matches,2026-01,matches,<5\r\n"
    "matches,2026-02,matches,x\r\n"
    "matches,2026-03,matches,0\r\n"
    "matches,police+municipality,matches,<5\r\n"
    "matches,police+care,matches,x\r\n";

/* The fixture (or `text`) as a model; exits when it does not parse. */
static json_t *model_from(const char *text)
{
    char *copy = strdup(text);
    json_error_t e;
    json_t *m;
    for (char *c = copy; *c; c++)
        if (*c == '\'')
            *c = '"';
    m = json_loads(copy, 0, &e);
    if (!m) {
        fprintf(stderr, "fixture: %s at line %d column %d\n", e.text, e.line, e.column);
        exit(2);
    }
    free(copy);
    return m;
}

static json_t *model(void)
{
    return model_from(FIXTURE);
}

/* Runs a writer into memory. Returns its result; *text the output (caller
 * frees), *err the error. */
static int render(int (*writer)(const json_t *, FILE *, char *, size_t), const json_t *m,
                  char **text, char *err, size_t errlen)
{
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    int rc;
    if (!f) {
        perror("open_memstream");
        exit(2);
    }
    err[0] = '\0';
    rc = writer(m, f, err, errlen);
    fclose(f);
    return rc;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Prints the first line where got and want differ (easier to read than two
 * 4 kB strings). */
static void show_difference(const char *got, const char *want)
{
    size_t line = 1, i = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n')
            line++;
        i++;
    }
    fprintf(stderr, "  first difference at line %zu:\n  got:  %.80s\n  want: %.80s\n", line,
            got + i, want + i);
}

static void test_csv_exact(void)
{
    json_t *m = model();
    char *csv = NULL, err[256];
    CHECK_INT(render(report_write_csv, m, &csv, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(strcmp(csv, expected_csv) == 0);
    if (strcmp(csv, expected_csv) != 0)
        show_difference(csv, expected_csv);
    free(csv);
    json_decref(m);
}

/* Decimals do not follow the locale: a comma would split a CSV field. */
static void test_csv_locale(void)
{
    static const char *const locales[] = {"nl_NL.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; !set && i < sizeof locales / sizeof *locales; i++)
        set = setlocale(LC_NUMERIC, locales[i]) ? locales[i] : NULL;
    if (!set) {
        printf("test_csv_locale: no locale with a decimal comma installed; C locale only\n");
        return;
    }
    json_t *m = model();
    char *csv = NULL, err[256];
    CHECK_INT(render(report_write_csv, m, &csv, err, sizeof err), 0);
    CHECK(strcmp(csv, expected_csv) == 0);
    free(csv);
    json_decref(m);
    setlocale(LC_NUMERIC, "C");
}

static char *section(const char *html, const char *id);

static void test_csv_statistics_null_and_matches(void)
{
    json_t *m = model();
    char *csv = NULL, err[256];
    json_t *t = json_object_get(json_object_get(m, "escalations"), "time_to_ack");
    json_object_set_new(t, "median_minutes", json_null());
    /* A database from before matching: not available, no rows. */
    json_object_set_new(m, "matches", json_pack("{s:b, s:n}", "available", 0, "count"));
    CHECK_INT(render(report_write_csv, m, &csv, err, sizeof err), 0);
    CHECK(strstr(csv, "\r\nescalations,time_to_ack,median_minutes,\r\n"
                      "escalations,time_to_ack,p90_minutes,35.5\r\n") != NULL);
    const char *tail = "\r\nmatches,count,available,false\r\nmatches,count,matches,\r\n";
    CHECK(csv && strlen(csv) > strlen(tail) && strcmp(csv + strlen(csv) - strlen(tail), tail) == 0);
    free(csv);
    char *html = NULL;
    CHECK_INT(render(report_write_html, m, &html, err, sizeof err), 0);
    char *matches = section(html ? html : "", "matches");
    CHECK(matches && strstr(matches, "Not available yet") && !strstr(matches, "<table"));
    free(matches);
    free(html);
    json_decref(m);
}

/* The section of html that starts with `<section id="id"`, up to its end,
 * as a new string (NULL when absent). */
static char *section(const char *html, const char *id)
{
    char open[64];
    snprintf(open, sizeof open, "<section id=\"%s\"", id);
    const char *start = strstr(html, open);
    const char *end = start ? strstr(start, "</section>") : NULL;
    return end ? strndup(start, (size_t)(end - start)) : NULL;
}

static void test_html_page(void)
{
    json_t *m = model();
    char *html = NULL, err[256];
    CHECK_INT(render(report_write_html, m, &html, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
    CHECK(strstr(html, "<meta charset=\"utf-8\">") != NULL);
    CHECK(strstr(html, "<style>") != NULL);
    char *lower = strdup(html);
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    CHECK(strstr(lower, "<script") == NULL);
    free(lower);
    CHECK(strstr(html, "http://") == NULL);
    CHECK(strstr(html, "https://") == NULL);
    CHECK(strstr(html, "src=") == NULL);
    CHECK(strstr(html, "href=") == NULL);
    CHECK(strstr(html, "</html>\n") != NULL);
    /* Four chart sections, one <svg> each; the rest none. */
    CHECK_INT(count_of(html, "<svg"), 4);
    static const char *const charts[] = {"signals", "municipalities", "referrals", "escalations"};
    for (size_t i = 0; i < sizeof charts / sizeof *charts; i++) {
        char *s = section(html, charts[i]);
        CHECK(s != NULL);
        if (s) {
            CHECK(strstr(s, "class=\"chart\"") != NULL);
            CHECK_INT(count_of(s, "<svg"), 1);
            CHECK_INT(count_of(s, "</svg>"), 1);
        }
        free(s);
    }
    char *matches = section(html, "matches");
    CHECK(matches && !strstr(matches, "Not available yet") && !strstr(matches, "<svg"));
    CHECK(matches && strstr(matches, ">7</span>") && strstr(matches, "police+municipality") &&
          strstr(matches, "<td class=\"n hid\">x</td>") && strstr(matches, "2026-03"));
    free(matches);
    /* Names escaped, in text and in the chart. */
    CHECK(strstr(html, "Zorg & Veilig") == NULL);
    CHECK(strstr(html, "<Noord>") == NULL);
    CHECK_INT(count_of(html, "Zorg &amp; Veilig &lt;Noord&gt;"), 2);
    CHECK(strstr(html, "Zorg &quot;West&quot;, Oost") != NULL);
    CHECK(strstr(html, "\"West\"") == NULL);
    /* Hidden counts appear only as their escaped text, marked. */
    CHECK(strstr(html, "<5") == NULL);
    CHECK(strstr(html, "<td class=\"n hid\">&lt;5</td>") != NULL);
    CHECK(strstr(html, "<td class=\"n hid\">x</td>") != NULL);
    CHECK(strstr(html, "&#8220;&lt;5&#8221; is a count from 1 to 4") != NULL);
    CHECK(strstr(html, "fill=\"url(#hm") != NULL);
    /* The month chart draws the 5 hidden form counts as boxes with their text. */
    CHECK_INT(count_of(html, "class=\"s hbox\""), 5);
    /* Statistics: one decimal; null ones said to be so. */
    CHECK(strstr(html, "<td class=\"n\">12.5</td>") != NULL);
    CHECK(strstr(html, "<td class=\"n\">240.0</td>") != NULL);
    CHECK(strstr(html, "<td class=\"n\">35.5</td>") != NULL);
    CHECK(strstr(html, "not enough answers") != NULL);
    /* Deadlines drawn where known: police receipt and decision, zorg-west's decision. */
    CHECK_INT(count_of(html, "class=\"deadline\""), 3);
    CHECK(strstr(html, "<title>deadline 15.0 minutes</title>") != NULL);
    free(html);
    json_decref(m);
}

/* Empty lists still give one (empty) chart per chart section; many months
 * get slanted labels. */
static void test_html_empty_and_long(void)
{
    json_t *m = model();
    char *html = NULL, err[256];
    json_t *months = json_array();
    for (int i = 0; i < 24; i++) {
        char mon[16];
        snprintf(mon, sizeof mon, "%04d-%02d", 2025 + i / 12, i % 12 + 1);
        json_t *row = json_pack("{s:s, s:i, s:i, s:s, s:i, s:i, s:i}", "month", mon, "signals",
                                10 + i, "seksueel", 10 + i, "arbeid", "<5", "crimineel", 0,
                                "orgaanverwijdering", 0, "onbekend", 0);
        json_array_append_new(months, row);
    }
    json_object_set_new(json_object_get(m, "signals"), "by_month", months);
    json_object_set_new(json_object_get(m, "signals"), "by_municipality", json_array());
    json_object_set_new(json_object_get(m, "referrals"), "partners", json_array());
    json_object_set_new(json_object_get(m, "escalations"), "by_level", json_array());
    CHECK_INT(render(report_write_html, m, &html, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_INT(count_of(html, "<svg"), 4);
    CHECK(strstr(html, "no referrals in the period") != NULL);
    CHECK_INT(count_of(html, "none in the period"), 2);
    CHECK_INT(count_of(html, "transform=\"rotate(-45"), 24);
    CHECK_INT(count_of(html, "class=\"s hbox\""), 24); /* each month's hidden arbeid */
    free(html);
    json_decref(m);
}

/* Renders m (the fixture changed by `change`) and expects a refusal whose
 * message holds `want`, with nothing written. */
static void refused(json_t *m, const char *want)
{
    char *out = NULL, err[256];
    CHECK_INT(render(report_write_csv, m, &out, err, sizeof err), -1);
    CHECK(strstr(err, want) != NULL);
    if (!strstr(err, want))
        fprintf(stderr, "  error \"%s\" does not hold \"%s\"\n", err, want);
    CHECK_STR(out, "");
    free(out);
    CHECK_INT(render(report_write_html, m, &out, err, sizeof err), -1);
    CHECK(strstr(err, want) != NULL);
    CHECK_STR(out, "");
    free(out);
    json_decref(m);
}

static void test_bad_models(void)
{
    json_t *m;
    refused(json_string("report"), "report model: not a JSON object");
    m = model();
    json_object_del(m, "signals");
    refused(m, "report model: /signals: missing");
    m = model();
    json_object_set_new(m, "version", json_integer(2));
    refused(m, "/version: is 2");
    m = model();
    json_object_set_new(json_object_get(m, "signals"), "total", json_string("many"));
    refused(m, "/signals/total: \"many\" is not a count");
    m = model();
    json_object_set_new(json_object_get(m, "signals"), "total", json_string("<3"));
    refused(m, "/signals/total: \"<3\" is not a count");
    m = model();
    json_object_set_new(json_object_get(json_object_get(m, "signals"), "by_age"), "minderjarig",
                        json_integer(3));
    refused(m, "/signals/by_age/minderjarig: 3 is below the threshold 5");
    m = model();
    json_object_del(json_array_get(json_object_get(json_object_get(m, "signals"), "by_month"), 1),
                    "arbeid");
    refused(m, "/signals/by_month/1/arbeid: missing");
    m = model();
    json_object_set_new(
        json_object_get(
            json_array_get(json_object_get(json_object_get(m, "referrals"), "partners"), 0),
            "receipt"),
        "median_minutes", json_string("12"));
    refused(m, "/referrals/partners/0/receipt/median_minutes: must be a number");
    m = model();
    json_array_set_new(json_object_get(json_object_get(m, "escalations"), "by_level"), 0,
                       json_integer(1));
    refused(m, "/escalations/by_level/0: must be an object");
    m = model();
    json_object_set_new(json_object_get(m, "matches"), "available", json_string("no"));
    refused(m, "/matches/available: must be true or false");
    m = model();
    json_array_set_new(
        json_object_get(
            json_array_get(json_object_get(json_object_get(m, "matches"), "by_roles"), 1), "roles"),
        1, json_integer(3));
    refused(m, "/matches/by_roles/1/roles: must be two role names");
    m = model();
    json_object_del(json_object_get(m, "matches"), "by_month");
    refused(m, "/matches/by_month: missing");
}

/* The page passes the strict checker (when the tree's script is at hand:
 * tests/run.sh runs from the tree and sets KETENHUB_ROOT). */
static void test_html_checker(void)
{
    const char *root = getenv("KETENHUB_ROOT");
    char script[1024], path[] = "/tmp/test_report_render_XXXXXX.html", cmd[2200];
    snprintf(script, sizeof script, "%s/tests/report/check_html.py", root ? root : ".");
    if (access(script, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0) {
        printf("test_html_checker: %s or /usr/bin/python3 missing; not run\n", script);
        return;
    }
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    json_t *m = model();
    char err[256];
    CHECK_INT(report_write_html(m, f, err, sizeof err), 0);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s >/dev/null", script, path);
    int rc = system(cmd);
    CHECK_INT(rc, 0);
    if (rc != 0) { /* again, to show its findings */
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s >&2", script, path);
        if (system(cmd) == -1)
            perror("system");
    }
    unlink(path);
    json_decref(m);
}

/* --html PATH / --csv PATH: writes the fixture's output for the checkers. */
static int write_fixture(const char *format, const char *path)
{
    json_t *m = model();
    char err[256];
    FILE *f = fopen(path, "w");
    int rc;
    if (!f) {
        perror(path);
        return 2;
    }
    rc = strcmp(format, "--html") == 0 ? report_write_html(m, f, err, sizeof err)
                                       : report_write_csv(m, f, err, sizeof err);
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "%s: %s\n", path, rc ? err : "cannot write");
        return 1;
    }
    json_decref(m);
    printf("%s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[1], "--html") == 0 || strcmp(argv[1], "--csv") == 0))
        return write_fixture(argv[1], argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--html PATH | --csv PATH]\n", argv[0]);
        return 2;
    }
    RUN(test_csv_exact);
    RUN(test_csv_locale);
    RUN(test_csv_statistics_null_and_matches);
    RUN(test_html_page);
    RUN(test_html_empty_and_long);
    RUN(test_bad_models);
    RUN(test_html_checker);
    return CHECK_DONE();
}
