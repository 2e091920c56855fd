/*
 * test_adapter_mappings - the data-driven cases of the municipality, CoMensha
 * and care mappings (tests/data/adapters/<kind>/NNN-what.json), plus a few checks of
 * the mappings' config checks. Each case file is one JSON object:
 *
 *   {"description": "...", "config": {...}?            (else <kind>/config.json)
 *    partner -> canonical:
 *      "path": "/reacties", "content_type"?: "...",
 *      "input": <JSON> | "input_text": "<raw bytes>",
 *      "expect_items": [...]                           (exactly these items)
 *      | "expect_errors": [{"path", "keyword"}...]      (exactly these, in order)
 *    canonical -> partner:
 *      "event": {...},
 *      "expect_output": <JSON>, "expect_content_type": "..."
 *      | "expect_nothing": true                         (render answers 1)
 *      | "expect_errors": [...]}
 *
 * A new case is a new file. Run from the repository root (tests/run.sh does).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/care/mapping.h"
#include "adapters/comensha/mapping.h"
#include "adapters/municipality/mapping.h"
#include "check.h"
#include "http_push.h"

typedef int (*parse_fn)(const json_t *, const struct adapter_input *, json_t *, json_t *);
typedef int (*render_fn)(const json_t *, const json_t *, struct adapter_output *, json_t *);

struct kind {
    const char *name;
    parse_fn parse;
    render_fn render;
};

static const struct kind KINDS[] = {
    {"municipality", municipality_parse, municipality_render},
    {"comensha", comensha_parse, comensha_render},
    {"care", care_parse, care_render},
};

static int cases_run;

static void show(const char *what, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fprintf(stderr, "    %s: %s\n", what, s ? s : "(null)");
    free(s);
}

/* Errors compared on path and keyword, in order; messages are for people. */
static int errors_match(const json_t *got, const json_t *want)
{
    if (json_array_size(got) != json_array_size(want))
        return 0;
    for (size_t i = 0; i < json_array_size(want); i++) {
        const json_t *g = json_array_get(got, i), *w = json_array_get(want, i);
        if (!json_equal(json_object_get(g, "path"), json_object_get(w, "path")) ||
            !json_equal(json_object_get(g, "keyword"), json_object_get(w, "keyword")) ||
            !json_is_string(json_object_get(g, "message")))
            return 0;
    }
    return 1;
}

static void run_case(const struct kind *k, const char *file, const json_t *c, const json_t *cfg)
{
    int before = check_failed_asserts;
    json_t *errors = json_array();
    const json_t *want_errors = json_object_get(c, "expect_errors");
    const json_t *case_cfg = json_object_get(c, "config");
    if (case_cfg)
        cfg = case_cfg;
    if (json_object_get(c, "event")) {
        struct adapter_output out = {0};
        int rc = k->render(cfg, json_object_get(c, "event"), &out, errors);
        if (json_is_true(json_object_get(c, "expect_nothing"))) {
            CHECK_INT(rc, 1);
        } else if (want_errors) {
            CHECK_INT(rc, -1);
            CHECK(errors_match(errors, want_errors));
        } else {
            CHECK_INT(rc, 0);
            json_t *got = rc == 0 ? json_loadb(out.data, out.len, 0, NULL) : NULL;
            const json_t *want = json_object_get(c, "expect_output");
            CHECK(got != NULL && json_equal(got, want));
            CHECK_STR(out.content_type,
                      json_string_value(json_object_get(c, "expect_content_type")));
            CHECK(out.event == json_object_get(c, "event"));
            if (!got || !json_equal(got, want)) {
                show("got", got);
                show("want", want);
            }
            json_decref(got);
            free(out.data);
        }
    } else {
        const json_t *input = json_object_get(c, "input");
        char *text = input ? json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY)
                           : strdup(json_string_value(json_object_get(c, "input_text")));
        const char *ct = json_string_value(json_object_get(c, "content_type"));
        struct adapter_input in = {text, text ? strlen(text) : 0, ct ? ct : "application/json",
                                   json_string_value(json_object_get(c, "path"))};
        json_t *items = json_array();
        int rc = text ? k->parse(cfg, &in, items, errors) : -9;
        if (want_errors) {
            CHECK_INT(rc, -1);
            CHECK(errors_match(errors, want_errors));
            CHECK_INT(json_array_size(items), 0);
        } else {
            CHECK_INT(rc, 0);
            CHECK(json_equal(items, json_object_get(c, "expect_items")));
            if (!json_equal(items, json_object_get(c, "expect_items"))) {
                show("got", items);
                show("want", json_object_get(c, "expect_items"));
            }
        }
        json_decref(items);
        free(text);
    }
    if (want_errors && !errors_match(errors, want_errors)) {
        show("got errors", errors);
        show("want errors", want_errors);
    }
    json_decref(errors);
    cases_run++;
    if (check_failed_asserts == before) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "FAIL %s/%s\n", k->name, file);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_kind(const struct kind *k)
{
    char dir[256], path[600];
    snprintf(dir, sizeof dir, "tests/data/adapters/%s", k->name);
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_t *cfg = json_load_file(path, 0, NULL);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    int seen = 0;
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        const char *f = names[i]->d_name;
        size_t len = strlen(f);
        if (len > 5 && strcmp(f + len - 5, ".json") == 0 && strcmp(f, "config.json") != 0) {
            json_error_t jerr;
            snprintf(path, sizeof path, "%s/%s", dir, f);
            json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
            if (!c) {
                fprintf(stderr, "%s: %s\n", path, jerr.text);
                check_failed++;
            } else {
                run_case(k, f, c, cfg);
                seen++;
            }
            json_decref(c);
        }
        free(names[i]);
    }
    free(names);
    json_decref(cfg);
    /* A folder that lost its cases must not pass silently. */
    if (seen < 5) {
        fprintf(stderr, "%s: only %d cases\n", dir, seen);
        check_failed++;
    }
}

/* ---- config checks ---------------------------------------------------- */

static int config_errors(int (*fn)(const json_t *, const char *, json_t *), const char *text)
{
    json_t *cfg = text ? json_loads(text, 0, NULL) : NULL;
    json_t *errors = json_array();
    int rc = fn(cfg, "/mapping", errors);
    int n = (int)json_array_size(errors);
    CHECK(rc == (n ? -1 : 0));
    json_decref(cfg);
    json_decref(errors);
    return n;
}

static void test_municipality_config_needs_https_resource_url_ending_in_slash(void)
{
    CHECK_INT(config_errors(municipality_check_config,
                            "{\"resource_url\": \"https://a.example/doorverwijzingen/\"}"),
              0);
    CHECK_INT(config_errors(municipality_check_config,
                            "{\"resource_url\": \"http://gemeente.example/d/\"}"),
              1);
    CHECK_INT(
        config_errors(municipality_check_config, "{\"resource_url\": \"https://a.example/d\"}"), 1);
    CHECK_INT(config_errors(municipality_check_config, NULL), 1);
    CHECK_INT(config_errors(municipality_check_config,
                            "{\"resource_url\": \"https://a.example/d/\", \"kanaal\": \"X y\", "
                            "\"colour\": 1}"),
              2);
}

static void test_comensha_config_checks_roles(void)
{
    CHECK_INT(config_errors(comensha_check_config, "{\"meldende_organisatie\": \"RK Twente\", "
                                                   "\"legal_duty_roles\": [\"police\"]}"),
              0);
    CHECK_INT(config_errors(comensha_check_config, "{\"meldende_organisatie\": \"RK Twente\", "
                                                   "\"legal_duty_roles\": [\"sheriff\"]}"),
              1);
    CHECK_INT(config_errors(comensha_check_config, "{}"), 1);
}

/* The push receipt a 2xx makes is exactly what the CoMensha mapping reads. */
static void test_comensha_reads_the_push_receipt_format(void)
{
    const char *body = "{\"ontvangstbevestiging\":{\"levering\":\"x\",\"doorverwijzing\":"
                       "\"0190a3c2-7d1e-7b3a-9c2d-1a2b3c4d5e6f\",\"status\":201}}";
    struct adapter_input in = {body, strlen(body), HTTP_PUSH_RECEIPT_TYPE, "http-push"};
    json_t *items = json_array(), *errors = json_array();
    CHECK_INT(comensha_parse(NULL, &in, items, errors), 0);
    CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "type")),
              "nl.mensenhandel.doorverwijzingen.doorverwijzing-ontvangen");
    in.content_type = "application/json";
    json_array_clear(items);
    CHECK_INT(comensha_parse(NULL, &in, items, errors), -1);
    CHECK_INT(json_array_size(items), 0);
    json_decref(items);
    json_decref(errors);
}

int main(void)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
        run_kind(&KINDS[i]);
    RUN(test_municipality_config_needs_https_resource_url_ending_in_slash);
    RUN(test_comensha_config_checks_roles);
    RUN(test_comensha_reads_the_push_receipt_format);
    printf("data cases run: %d\n", cases_run);
    return CHECK_DONE();
}
