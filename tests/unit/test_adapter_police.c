/*
 * test_adapter_police - the police mapping, driven by the cases in
 * tests/data/adapters/police/ (README.md there): police file -> canonical
 * events, invalid file -> the errors it gets, hub event -> the exact file in
 * out/. Parse and invalid cases run through events_build with the hub's
 * schemas, as the running adapter does. Plus the CSV reader's edge cases.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "adapters/police/csv.h"
#include "adapters/police/mapping.h"
#include "check.h"
#include "events.h"
#include "util.h"
#include "validate.h"

#define DATA "tests/data/adapters/police"
#define SOURCE "urn:nld:oin:00000001003214345000:systeem:politie-test"

static struct validator *val;
static int cases_run;

static char *slurp(const char *path, size_t *len)
{
    char err[256];
    char *text = util_read_file(path, 1 << 20, len, err, sizeof err);
    if (!text)
        fprintf(stderr, "%s\n", err);
    return text;
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
    return j;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Builds the events of one input file; returns events_build's result. */
static int build(const char *dir, const char *name, json_t *events, json_t *errors)
{
    char path[512], digest[EVENTS_DIGEST_HEX];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = slurp(path, &len);
    if (!text)
        return -2;
    struct adapter_input in = {text, len, NULL, name};
    int rc = events_build(&police_mapping, NULL, val, SOURCE, &in, events, errors, digest);
    free(text);
    return rc;
}

static void parse_case(const char *name)
{
    char exp_path[512], base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strrchr(name, '.') - name), name);
    snprintf(exp_path, sizeof exp_path, DATA "/parse/%s.expected.json", base);
    json_t *expected = load_json(exp_path), *events = json_array(), *errors = json_array();
    int rc = build(DATA "/parse", name, events, errors);
    if (rc != 0) {
        char *e = json_dumps(errors, 0);
        fprintf(stderr, "parse/%s: refused: %s\n", name, e ? e : "");
        free(e);
    }
    CHECK_INT(rc, 0);
    CHECK(expected != NULL);
    CHECK_INT(json_array_size(events), json_array_size(expected));
    size_t i;
    json_t *want;
    json_array_foreach(expected, i, want)
    {
        json_t *got = json_array_get(events, i);
        if (!got)
            break;
        CHECK_STR(json_string_value(json_object_get(got, "specversion")), "1.0");
        CHECK_STR(json_string_value(json_object_get(got, "source")), SOURCE);
        CHECK_STR(json_string_value(json_object_get(got, "datacontenttype")), "application/json");
        CHECK_INT(json_string_length(json_object_get(got, "id")), 36);
        CHECK_STR(json_string_value(json_object_get(got, "type")),
                  json_string_value(json_object_get(want, "type")));
        CHECK_STR(json_string_value(json_object_get(got, "subject")),
                  json_string_value(json_object_get(want, "subject")));
        if (json_object_get(want, "time"))
            CHECK_STR(json_string_value(json_object_get(got, "time")),
                      json_string_value(json_object_get(want, "time")));
        int same = json_equal(json_object_get(got, "data"), json_object_get(want, "data"));
        if (!same) {
            char *g = json_dumps(json_object_get(got, "data"), JSON_SORT_KEYS);
            fprintf(stderr, "parse/%s: event %zu data differs: got %s\n", name, i, g ? g : "");
            free(g);
        }
        CHECK(same);
    }
    /* The same input gives the same ids (a re-read file is a duplicate). */
    json_t *again = json_array(), *errors2 = json_array();
    build(DATA "/parse", name, again, errors2);
    for (i = 0; i < json_array_size(events); i++)
        CHECK_STR(json_string_value(json_object_get(json_array_get(again, i), "id")),
                  json_string_value(json_object_get(json_array_get(events, i), "id")));
    json_decref(again);
    json_decref(errors2);
    json_decref(expected);
    json_decref(events);
    json_decref(errors);
    cases_run++;
}

static void invalid_case(const char *name)
{
    char exp_path[512], base[256];
    snprintf(base, sizeof base, "%.*s", (int)(strrchr(name, '.') - name), name);
    snprintf(exp_path, sizeof exp_path, DATA "/invalid/%s.errors.json", base);
    json_t *expected = load_json(exp_path), *events = json_array(), *errors = json_array();
    int rc = build(DATA "/invalid", name, events, errors);
    CHECK_INT(rc, -1);
    CHECK(expected != NULL);
    int ok = json_array_size(errors) == json_array_size(expected);
    size_t i;
    json_t *want;
    json_array_foreach(expected, i, want)
    {
        json_t *got = json_array_get(errors, i);
        const char *keys[] = {"path", "keyword", "item"};
        for (int k = 0; k < 3; k++) {
            const char *w = json_string_value(json_object_get(want, keys[k]));
            const char *g = json_string_value(json_object_get(got, keys[k]));
            if (k < 2 || w)
                ok &= w && g && strcmp(w, g) == 0;
        }
        ok &= json_string_length(json_object_get(got, "message")) > 0;
    }
    if (!ok) {
        char *g = json_dumps(errors, JSON_INDENT(1));
        fprintf(stderr, "invalid/%s: errors differ; got %s\n", name, g ? g : "");
        free(g);
    }
    CHECK(ok);
    json_decref(expected);
    json_decref(events);
    json_decref(errors);
    cases_run++;
}

static void render_case(const char *name)
{
    char path[512], base[256];
    size_t len, elen, nlen;
    snprintf(base, sizeof base, "%.*s", (int)(strlen(name) - strlen(".event.json")), name);
    snprintf(path, sizeof path, DATA "/render/%s", name);
    json_t *event = load_json(path);
    snprintf(path, sizeof path, DATA "/render/%s.out", base);
    char *want = slurp(path, &elen);
    snprintf(path, sizeof path, DATA "/render/%s.name", base);
    char *want_name = slurp(path, &nlen);
    struct adapter_output out;
    memset(&out, 0, sizeof out);
    json_t *errors = json_array();
    CHECK(event && want && want_name);
    if (event && want && want_name) {
        CHECK_INT(police_mapping.render(NULL, event, &out, errors), 0);
        want_name[strcspn(want_name, "\n")] = '\0';
        CHECK_STR(out.name, want_name);
        CHECK_STR(out.content_type, "application/json");
        len = out.len;
        CHECK_INT(len, elen);
        CHECK(out.data && memcmp(out.data, want, elen < len ? elen : len) == 0);
        if (out.data && strcmp(out.data, want) != 0)
            fprintf(stderr, "render/%s: got\n%s", name, out.data);
    }
    adapter_output_clear(&out);
    json_decref(errors);
    json_decref(event);
    free(want);
    free(want_name);
    cases_run++;
}

static void run_dir(const char *sub, const char *skip_suffix, const char *only_suffix,
                    void (*fn)(const char *))
{
    char dir[256];
    snprintf(dir, sizeof dir, DATA "/%s", sub);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || (skip_suffix && has_suffix(de->d_name, skip_suffix)) ||
            (only_suffix && !has_suffix(de->d_name, only_suffix)))
            continue;
        if (only_suffix == NULL && !strchr(de->d_name, '.'))
            continue;
        int before = check_failed_asserts;
        fn(de->d_name);
        if (check_failed_asserts != before)
            fprintf(stderr, "  in case %s/%s\n", sub, de->d_name);
    }
    closedir(d);
}

static void parse_cases_give_the_expected_events(void)
{
    run_dir("parse", ".expected.json", NULL, parse_case);
}

static void invalid_cases_get_the_expected_errors_and_no_events(void)
{
    run_dir("invalid", ".errors.json", NULL, invalid_case);
}

static void render_cases_give_the_exact_file(void)
{
    run_dir("render", NULL, ".event.json", render_case);
}

static void every_case_folder_has_cases(void)
{
    /* A renamed folder must not make the data-driven tests pass vacuously. */
    CHECK(cases_run >= 4 + 15 + 3);
}

static void the_ids_of_different_inputs_differ_and_look_like_uuids(void)
{
    char a[37], b[37], c[37];
    events_derived_id(SOURCE, "aa", 0, a);
    events_derived_id(SOURCE, "aa", 1, b);
    events_derived_id(SOURCE, "ab", 0, c);
    CHECK(strcmp(a, b) != 0);
    CHECK(strcmp(a, c) != 0);
    CHECK_INT(strlen(a), 36);
    CHECK(a[14] == '8');                                /* version 8 */
    CHECK(strchr("89ab", a[19]) != NULL);               /* RFC 4122 variant */
    CHECK(a[8] == '-' && a[13] == '-' && a[23] == '-'); /* text form */
}

static void csv_quotes_delimiters_and_line_ends(void)
{
    char err[128];
    const char text[] = "a;b;c\r\n\"x;y\";\"he said \"\"hi\"\"\";\r\n\n1;2;3";
    json_t *lines = json_array();
    json_t *rows = csv_parse(text, sizeof text - 1, 10, lines, err, sizeof err);
    CHECK(rows != NULL);
    CHECK_INT(json_array_size(rows), 3);
    CHECK_STR(json_string_value(json_array_get(json_array_get(rows, 1), 0)), "x;y");
    CHECK_STR(json_string_value(json_array_get(json_array_get(rows, 1), 1)), "he said \"hi\"");
    CHECK_STR(json_string_value(json_array_get(json_array_get(rows, 1), 2)), "");
    CHECK_STR(json_string_value(json_array_get(json_array_get(rows, 2), 2)), "3");
    CHECK_INT(json_integer_value(json_array_get(lines, 2)), 4); /* the empty line counts */
    json_decref(rows);
    json_decref(lines);
}

static void csv_refuses_what_it_cannot_read(void)
{
    char err[128];
    const char nul[] = "a;b\n1;\0\n";
    CHECK(csv_parse(nul, sizeof nul - 1, 10, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "NUL") != NULL);
    const char latin1[] = "a;b\n1;caf\xe9\n";
    CHECK(csv_parse(latin1, sizeof latin1 - 1, 10, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "line 2") != NULL && strstr(err, "UTF-8") != NULL);
    const char after_quote[] = "a;b\n\"1\"x;2\n";
    CHECK(csv_parse(after_quote, sizeof after_quote - 1, 10, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "closing quote") != NULL);
    const char many[] = "a\n1\n2\n3\n";
    CHECK(csv_parse(many, sizeof many - 1, 3, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "more than 3 rows") != NULL);
}

static void a_comma_header_makes_comma_the_delimiter(void)
{
    char err[128];
    const char text[] = "a,b\n1,2;3\n";
    json_t *rows = csv_parse(text, sizeof text - 1, 10, NULL, err, sizeof err);
    CHECK(rows != NULL);
    CHECK_INT(json_array_size(json_array_get(rows, 1)), 2);
    CHECK_STR(json_string_value(json_array_get(json_array_get(rows, 1), 1)), "2;3");
    json_decref(rows);
}

static void an_event_too_large_for_the_hub_is_refused(void)
{
    /* Without a schema check (v = NULL) nothing else would stop it. */
    size_t n = 300000;
    char *big = malloc(n + 200), digest[EVENTS_DIGEST_HEX];
    int len = snprintf(big, 200, "{\"referentie\": \"PL1\", \"omschrijving\": \"");
    memset(big + len, 'x', n);
    snprintf(big + len + n, 200 - (size_t)len, "\"}");
    struct adapter_input in = {big, strlen(big), "application/json", "groot.json"};
    json_t *events = json_array(), *errors = json_array();
    CHECK_INT(events_build(&police_mapping, NULL, NULL, SOURCE, &in, events, errors, digest), -1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "keyword")), "maxSize");
    CHECK_STR(json_string_value(json_object_get(json_array_get(errors, 0), "item")), "");
    json_decref(events);
    json_decref(errors);
    free(big);
}

int main(void)
{
    char err[512];
    val = validator_load("schemas", err, sizeof err);
    if (!val) {
        fprintf(stderr, "%s (run from the repository root)\n", err);
        return 1;
    }
    RUN(parse_cases_give_the_expected_events);
    RUN(invalid_cases_get_the_expected_errors_and_no_events);
    RUN(render_cases_give_the_exact_file);
    RUN(every_case_folder_has_cases);
    RUN(the_ids_of_different_inputs_differ_and_look_like_uuids);
    RUN(csv_quotes_delimiters_and_line_ends);
    RUN(csv_refuses_what_it_cannot_read);
    RUN(a_comma_header_makes_comma_the_delimiter);
    RUN(an_event_too_large_for_the_hub_is_refused);
    validator_free(&val);
    return CHECK_DONE();
}
