/*
 * test_route - routing rules: every bad rule is a config problem naming its
 * JSON pointer; a good rule set turns a signal's data into exactly the
 * referrals docs/routing.md promises (conditions, targets, first-rule-wins,
 * final, the coordinator fallback), including the Twente example config.
 *
 * Configs are written to a temporary folder and read with config_load, so
 * route_load runs exactly as it does in the hub.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "check.h"
#include "config.h"
#include "keyfile.h"
#include "referrals.h"
#include "route.h"
#include "testconfig.h"
#include "testutil.h"

static char dir[128];
static char schemas[1040]; /* root + "/schemas" */
static char root[1024];

/* The partners of every config below: two of each role that has a "which
 * one" question (municipality, care, coordinator), one of the others. */
static const struct {
    const char *id;
    const char *role;
} partner_list[] = {
    {"politie", "police"},
    {"gemeente-enschede", "municipality"},
    {"gemeente-hengelo", "municipality"},
    {"comensha", "comensha"},
    {"veilig-thuis", "care"},
    {"fier", "care"},
    {"kenniscentrum", "coordinator"},
    {"kenniscentrum-2", "coordinator"},
};
#define NPARTNERS (sizeof partner_list / sizeof *partner_list)
static char partners_json[4096];

#define MUNICIPALITIES                                                                             \
    "\"municipalities\": {\"GM0153\": \"gemeente-enschede\", \"GM0164\": \"gemeente-hengelo\"}"
#define POLICIES                                                                                   \
    "\"policies\": {\"crisis\": {\"receipt\": \"PT15M\", \"decision\": \"PT4H\"},"                 \
    " \"hoog\": {\"receipt\": \"PT4H\", \"decision\": \"P1D\"},"                                   \
    " \"standaard\": {\"receipt\": \"P1D\", \"decision\": \"P5D\"}}"

/* Writes a config with the test partners plus `extra` top-level members
 * (starting with a comma, or empty) and loads it. */
static struct config *load_extra(const char *extra, char ***problems, size_t *n)
{
    char text[16384], path[256];
    snprintf(text, sizeof text,
             "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\",\n"
             " \"schemas\": \"%s\", \"server_key\": \"hub.key\", " TU_SECRETS "\n"
             " \"partners\": %s%s}\n",
             schemas, partners_json, extra);
    tu_write(dir, "ketenhub.json", text, path, sizeof path);
    return config_load(path, problems, n);
}

static void dump(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", problems[i]);
}

/* Loads policies, municipalities and the given routes array; the config must
 * be sound (its problems are printed if not). */
static struct config *load_routes(const char *routes)
{
    char extra[12288], **p = NULL;
    size_t n = 0;
    snprintf(extra, sizeof extra, ", " POLICIES ", " MUNICIPALITIES ", \"routes\": %s", routes);
    struct config *cfg = load_extra(extra, &p, &n);
    if (!cfg) {
        fprintf(stderr, "  routes: %s\n", routes);
        dump(p, n);
    }
    config_problems_free(p, n);
    return cfg;
}

/* Loads the given routes array, which must be refused; the caller frees
 * *problems with config_problems_free. */
static void load_bad_routes(const char *routes, char ***problems, size_t *n)
{
    char extra[12288];
    snprintf(extra, sizeof extra, ", " POLICIES ", " MUNICIPALITIES ", \"routes\": %s", routes);
    struct config *cfg = load_extra(extra, problems, n);
    CHECK(cfg == NULL);
    config_free(&cfg);
}

/* 1 if some problem starts with `prefix` and contains `text` (which may be "");
 * prints the list when not, so a failure shows what came instead. */
static int has_problem(char **problems, size_t n, const char *prefix, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(problems[i], prefix, strlen(prefix)) == 0 && strstr(problems[i], text))
            return 1;
    fprintf(stderr, "  no problem \"%s...%s\" among:\n", prefix, text);
    dump(problems, n);
    return 0;
}

/* Evaluates the rules against the data written as JSON text. */
static size_t evaluate(const struct config *cfg, const char *data_json, struct route_hit *hits,
                       size_t cap)
{
    json_error_t jerr;
    json_t *data = json_loads(data_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!data) {
        fprintf(stderr, "  bad test data %s: %s\n", data_json, jerr.text);
        return 0;
    }
    size_t n = route_evaluate(cfg, data, hits, cap);
    json_decref(data);
    return n;
}

/* The hit for a partner id, or NULL. */
static const struct route_hit *hit_for(const struct route_hit *hits, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(hits[i].partner->id, id) == 0)
            return &hits[i];
    return NULL;
}

/* Checks that hit i goes to `id` under `policy` because of `rule`. */
#define CHECK_HIT(hits, n, i, want_id, want_policy, want_rule)                                     \
    do {                                                                                           \
        CHECK((size_t)(i) < (n));                                                                  \
        if ((size_t)(i) < (n)) {                                                                   \
            CHECK_STR((hits)[i].partner->id, want_id);                                             \
            CHECK_STR((hits)[i].policy->name, want_policy);                                        \
            CHECK_STR((hits)[i].rule, want_rule);                                                  \
        }                                                                                          \
    } while (0)

#define MINOR_CRISIS_ENSCHEDE                                                                      \
    "{\"vormenVanUitbuiting\": [\"seksueel\"], \"urgentie\": \"crisis\", \"minderjarig\": true,"   \
    " \"woongemeente\": \"GM0153\", \"indicatoren\": [\"loverboy-methode\"],"                      \
    " \"toestemming\": {\"registratieCoMensha\": false}}"

#define ADULT_LABOUR_HENGELO                                                                       \
    "{\"vormenVanUitbuiting\": [\"arbeid\"], \"urgentie\": \"hoog\", \"minderjarig\": false,"      \
    " \"woongemeente\": \"GM0164\", \"indicatoren\": [\"inhouding-van-loon\", \"onderbetaling\"]," \
    " \"toestemming\": {\"registratieCoMensha\": true, \"delenMetZorg\": true}}"

#define UNKNOWN_ABODE                                                                              \
    "{\"vormenVanUitbuiting\": [\"crimineel\", \"onbekend\"], \"urgentie\": \"normaal\","          \
    " \"minderjarig\": false, \"indicatoren\": [],"                                                \
    " \"toestemming\": {\"registratieCoMensha\": false}}"

/* ---- route_load: problems ---- */

static void a_valid_rule_set_loads_into_conditions_and_targets(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"r\", \"when\": {\"/urgentie\": \"crisis\", \"/woongemeente\": "
        "{\"present\": false}, \"/vormenVanUitbuiting\": {\"contains_any\": [\"arbeid\"]}},"
        "  \"to\": [{\"partner\": \"politie\"}, {\"role\": \"care\"},"
        "          {\"municipality_of\": \"/woongemeente\"}],"
        "  \"policy\": \"crisis\", \"final\": true},"
        " {\"name\": \"s\", \"to\": [{\"role\": \"coordinator\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nroutes, 2);
    const struct route *r = &cfg->routes[0];
    CHECK_STR(r->name, "r");
    CHECK_INT(r->nconditions, 3);
    CHECK_STR(r->conditions[0].pointer, "/urgentie");
    CHECK_INT(r->conditions[0].op, ROUTE_EQUALS);
    CHECK_INT(r->conditions[1].op, ROUTE_PRESENT);
    CHECK_INT(r->conditions[1].present, 0);
    CHECK(r->conditions[1].value == NULL);
    CHECK_INT(r->conditions[2].op, ROUTE_CONTAINS_ANY);
    CHECK_INT(r->ntargets, 3);
    CHECK_INT(r->targets[0].kind, ROUTE_TO_PARTNER);
    CHECK(r->targets[0].partner == config_partner(cfg, "politie"));
    CHECK_INT(r->targets[1].kind, ROUTE_TO_ROLE);
    CHECK_INT(r->targets[1].role, ROLE_CARE);
    CHECK_INT(r->targets[2].kind, ROUTE_TO_MUNICIPALITY_OF);
    CHECK_STR(r->targets[2].pointer, "/woongemeente");
    CHECK(r->policy == config_policy(cfg, "crisis"));
    CHECK_INT(r->final, 1);
    CHECK_INT(cfg->routes[1].nconditions, 0);
    CHECK(cfg->routes[1].policy == NULL); /* the default policy, decided when evaluating */
    CHECK_INT(cfg->routes[1].final, 0);
    config_free(&cfg);
}

static void each_bad_target_is_named_by_its_pointer(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes("[{\"name\": \"ok\", \"to\": [{\"partner\": \"politie\"}]},"
                    " {\"name\": \"targets\", \"to\": ["
                    "   {\"partner\": \"niemand\"},"                     /* 0 */
                    "   {\"role\": \"sheriff\"},"                        /* 1 */
                    "   {\"municipality_of\": \"woongemeente\"},"        /* 2 */
                    "   {\"partner\": \"politie\", \"role\": \"care\"}," /* 3 */
                    "   \"politie\","                                    /* 4 */
                    "   {\"gemeente\": \"gemeente-enschede\"},"          /* 5 */
                    "   {\"partner\": 5},"                               /* 6 */
                    "   {\"municipality_of\": 7},"                       /* 7 */
                    "   {\"role\": [\"care\"]},"                         /* 8 */
                    "   {}]}]",                                          /* 9 */
                    &p, &n);
    CHECK(has_problem(p, n, "/routes/1/to/0/partner: ", "not a partner id"));
    CHECK(has_problem(p, n, "/routes/1/to/1/role: ", "unknown role"));
    CHECK(has_problem(p, n, "/routes/1/to/2/municipality_of: ", "JSON pointer"));
    CHECK(has_problem(p, n, "/routes/1/to/3: ", "must be"));
    CHECK(has_problem(p, n, "/routes/1/to/4: ", "must be"));
    CHECK(has_problem(p, n, "/routes/1/to/5: ", "unknown target"));
    CHECK(has_problem(p, n, "/routes/1/to/6/partner: ", "not a partner id"));
    CHECK(has_problem(p, n, "/routes/1/to/7/municipality_of: ", "JSON pointer"));
    CHECK(has_problem(p, n, "/routes/1/to/8/role: ", "unknown role"));
    CHECK(has_problem(p, n, "/routes/1/to/9: ", "must be"));
    /* The good rule before them is not blamed. */
    for (size_t i = 0; i < n; i++)
        CHECK(strncmp(p[i], "/routes/0", 9) != 0);
    CHECK_INT(n, 10);
    config_problems_free(p, n);
}

static void a_rule_needs_a_non_empty_list_of_targets(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes("[{\"name\": \"geen-to\"}, {\"name\": \"leeg\", \"to\": []},"
                    " {\"name\": \"tekst\", \"to\": {\"partner\": \"politie\"}}]",
                    &p, &n);
    CHECK(has_problem(p, n, "/routes/0/to: ", "non-empty array"));
    CHECK(has_problem(p, n, "/routes/1/to: ", "non-empty array"));
    CHECK(has_problem(p, n, "/routes/2/to: ", "non-empty array"));
    CHECK_INT(n, 3);
    config_problems_free(p, n);
}

static void unknown_keys_in_a_rule_are_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes("[{\"name\": \"r\", \"to\": [{\"partner\": \"politie\"}], \"prioriteit\": 1,"
                    "  \"When\": {}}]",
                    &p, &n);
    CHECK(has_problem(p, n, "/routes/0/prioriteit: unknown key", ""));
    CHECK(has_problem(p, n, "/routes/0/When: unknown key", "")); /* keys are case-sensitive */
    CHECK_INT(n, 2);
    config_problems_free(p, n);
}

static void a_policy_that_is_not_defined_is_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes(
        "[{\"name\": \"a\", \"to\": [{\"partner\": \"politie\"}], \"policy\": \"spoed\"},"
        " {\"name\": \"b\", \"to\": [{\"partner\": \"politie\"}], \"policy\": 1},"
        " {\"name\": \"c\", \"to\": [{\"partner\": \"politie\"}], \"policy\": \"Crisis\"}]",
        &p, &n);
    CHECK(has_problem(p, n, "/routes/0/policy: ", "not a policy"));
    CHECK(has_problem(p, n, "/routes/1/policy: ", "not a policy"));
    CHECK(has_problem(p, n, "/routes/2/policy: ", "not a policy"));
    CHECK_INT(n, 3);
    config_problems_free(p, n);
}

static void the_builtin_policy_can_be_named_without_policies(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load_extra(
        ", \"routes\": [{\"name\": \"a\", \"to\": [{\"partner\": \"politie\"}], \"policy\": "
        "\"standaard\"}]",
        &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(cfg->routes[0].policy == config_policy(cfg, "standaard"));
        CHECK(cfg->routes[0].policy == cfg->default_policy);
    }
    config_free(&cfg);
    config_problems_free(p, n);
    /* ...but no other name: "crisis" exists only when the config defines it. */
    cfg = load_extra(", \"routes\": [{\"name\": \"a\", \"to\": [{\"partner\": \"politie\"}],"
                     " \"policy\": \"crisis\"}]",
                     &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/routes/0/policy: ", "not a policy"));
    config_problems_free(p, n);
}

static void duplicate_rule_names_are_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes("[{\"name\": \"crisis\", \"to\": [{\"partner\": \"politie\"}]},"
                    " {\"name\": \"ander\", \"to\": [{\"partner\": \"politie\"}]},"
                    " {\"name\": \"crisis\", \"to\": [{\"partner\": \"fier\"}]}]",
                    &p, &n);
    CHECK(has_problem(p, n, "/routes/2/name: ", "/routes/0"));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
}

static void a_rule_needs_a_non_empty_string_name(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes("[{\"to\": [{\"partner\": \"politie\"}]},"
                    " {\"name\": \"\", \"to\": [{\"partner\": \"politie\"}]},"
                    " {\"name\": 3, \"to\": [{\"partner\": \"politie\"}]}]",
                    &p, &n);
    CHECK(has_problem(p, n, "/routes/0/name: ", "required"));
    CHECK(has_problem(p, n, "/routes/1/name: ", "required"));
    CHECK(has_problem(p, n, "/routes/2/name: ", "required"));
    CHECK_INT(n, 3);
    config_problems_free(p, n);
}

static void a_bad_condition_operator_is_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes(
        "[{\"name\": \"a\", \"when\": {\"/urgentie\": {\"gelijk\": \"crisis\"}},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"b\", \"when\": {\"/urgentie\": {}}, \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"c\", \"when\": {\"/urgentie\": {\"equals\": \"crisis\", \"in\": "
        "[\"hoog\"]}},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"d\", \"when\": {\"/urgentie\": {\"in\": \"crisis\"}},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"e\", \"when\": {\"/indicatoren\": {\"contains_any\": \"onderbetaling\"}},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"f\", \"when\": {\"/woongemeente\": {\"present\": \"ja\"}},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"g\", \"when\": {\"/urgentie\": {\"Equals\": \"crisis\"}},"
        "  \"to\": [{\"partner\": \"politie\"}]}]",
        &p, &n);
    /* Each problem names the rule's `when` and the condition's field. */
    CHECK(has_problem(p, n, "/routes/0/when/", "equals, in, present, contains, contains_any"));
    CHECK(has_problem(p, n, "/routes/1/when/", "equals, in, present, contains, contains_any"));
    CHECK(has_problem(p, n, "/routes/2/when/", "equals, in, present, contains, contains_any"));
    CHECK(has_problem(p, n, "/routes/3/when/", "\"in\" takes an array"));
    CHECK(has_problem(p, n, "/routes/4/when/", "\"contains_any\" takes an array"));
    CHECK(has_problem(p, n, "/routes/5/when/", "\"present\" takes true or false"));
    CHECK(has_problem(p, n, "/routes/6/when/", "equals, in, present, contains, contains_any"));
    for (size_t i = 0; i < n; i++)
        CHECK(strstr(p[i], "urgentie") || strstr(p[i], "indicatoren") ||
              strstr(p[i], "woongemeente"));
    CHECK_INT(n, 7);
    config_problems_free(p, n);
}

static void condition_keys_must_be_json_pointers(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes(
        "[{\"name\": \"a\", \"when\": {\"urgentie\": \"crisis\"},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"b\", \"when\": {\"\": true}, \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"c\", \"when\": {\"/minderjarig\": true, \"#/urgentie\": \"hoog\"},"
        "  \"to\": [{\"partner\": \"politie\"}]}]",
        &p, &n);
    CHECK(has_problem(p, n, "/routes/0/when: \"urgentie\" ", "not a JSON pointer"));
    CHECK(has_problem(p, n, "/routes/1/when: \"\" ", "not a JSON pointer"));
    CHECK(has_problem(p, n, "/routes/2/when: \"#/urgentie\" ", "not a JSON pointer"));
    CHECK_INT(n, 3);
    config_problems_free(p, n);
}

static void malformed_rule_structure_is_refused(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes(
        "[\"crisis\","
        " {\"name\": \"b\", \"when\": [\"/urgentie\"], \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"c\", \"to\": [{\"partner\": \"politie\"}], \"final\": \"ja\"},"
        " {\"name\": \"d\", \"to\": [{\"partner\": \"politie\"}], \"final\": 1}]",
        &p, &n);
    CHECK(has_problem(p, n, "/routes/0: ", "must be an object"));
    CHECK(has_problem(p, n, "/routes/1/when: ", "must be an object"));
    CHECK(has_problem(p, n, "/routes/2/final: ", "true or false"));
    CHECK(has_problem(p, n, "/routes/3/final: ", "true or false"));
    CHECK_INT(n, 4);
    config_problems_free(p, n);

    load_bad_routes("{\"name\": \"crisis\"}", &p, &n);
    CHECK(has_problem(p, n, "/routes: ", "must be an array"));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
}

/* ---- route_evaluate: conditions ---- */

static void an_equality_condition_matches_only_its_value(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
                    "  \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"crisis\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "politie", "standaard", "crisis");
    n = evaluate(cfg, "{\"urgentie\": \"hoog\"}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"urgentie\": \"Crisis\"}", hits, 16); /* case-sensitive */
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"urgentie\": [\"crisis\"]}", hits, 16); /* type matters */
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{}", hits, 16); /* a missing field equals nothing */
    CHECK(hit_for(hits, n, "politie") == NULL);
    config_free(&cfg);
}

static void equals_compares_booleans_and_whole_arrays(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"minor\", \"when\": {\"/minderjarig\": true},"
        "  \"to\": [{\"partner\": \"veilig-thuis\"}]},"
        " {\"name\": \"labour-only\", \"when\": {\"/vormenVanUitbuiting\": {\"equals\": "
        "[\"arbeid\"]}},"
        "  \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n =
        evaluate(cfg, "{\"minderjarig\": true, \"vormenVanUitbuiting\": [\"arbeid\"]}", hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "veilig-thuis", "standaard", "minor");
    CHECK_HIT(hits, n, 1, "politie", "standaard", "labour-only");
    n = evaluate(cfg,
                 "{\"minderjarig\": false, \"vormenVanUitbuiting\": [\"arbeid\", \"seksueel\"]}",
                 hits, 16);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"minderjarig\": \"true\", \"vormenVanUitbuiting\": \"arbeid\"}", hits, 16);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    CHECK(hit_for(hits, n, "politie") == NULL);
    config_free(&cfg);
}

static void an_array_or_in_matches_any_of_its_values(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"bare\", \"when\": {\"/urgentie\": [\"crisis\", \"hoog\"]},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"in\", \"when\": {\"/leeftijdsgroep\": {\"in\": [\"0-11\", \"12-17\"]}},"
        "  \"to\": [{\"partner\": \"veilig-thuis\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"hoog\", \"leeftijdsgroep\": \"12-17\"}", hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "politie", "standaard", "bare");
    CHECK_HIT(hits, n, 1, "veilig-thuis", "standaard", "in");
    n = evaluate(cfg, "{\"urgentie\": \"crisis\", \"leeftijdsgroep\": \"0-11\"}", hits, 16);
    CHECK(hit_for(hits, n, "politie") != NULL);
    CHECK(hit_for(hits, n, "veilig-thuis") != NULL);
    n = evaluate(cfg, "{\"urgentie\": \"normaal\", \"leeftijdsgroep\": \"18-23\"}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    n = evaluate(cfg, "{}", hits, 16); /* a missing field is in no list */
    CHECK(hit_for(hits, n, "politie") == NULL);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    config_free(&cfg);
}

static void present_true_and_false_test_whether_a_field_is_there(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"known\", \"when\": {\"/woongemeente\": {\"present\": true}},"
                    "  \"to\": [{\"partner\": \"gemeente-enschede\"}]},"
                    " {\"name\": \"unknown\", \"when\": {\"/woongemeente\": {\"present\": false}},"
                    "  \"to\": [{\"partner\": \"fier\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"woongemeente\": \"GM0141\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "gemeente-enschede", "standaard", "known");
    /* Present means there, whatever the value: null and false too. */
    n = evaluate(cfg, "{\"woongemeente\": null}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "gemeente-enschede", "standaard", "known");
    n = evaluate(cfg, "{\"urgentie\": \"hoog\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "fier", "standaard", "unknown");
    config_free(&cfg);
}

static void contains_looks_inside_an_array_field(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"labour\", \"when\": {\"/vormenVanUitbuiting\": "
                    "{\"contains\": \"arbeid\"}}, \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"vormenVanUitbuiting\": [\"seksueel\", \"arbeid\"]}", hits, 16);
    CHECK(hit_for(hits, n, "politie") != NULL);
    n = evaluate(cfg, "{\"vormenVanUitbuiting\": [\"seksueel\"]}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"vormenVanUitbuiting\": []}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    /* A string is not an array: "arbeid" does not contain "arbeid". */
    n = evaluate(cfg, "{\"vormenVanUitbuiting\": \"arbeid\"}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    config_free(&cfg);
}

static void contains_any_needs_one_common_value(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"labour\", \"when\": {\"/indicatoren\": {\"contains_any\": "
                    "[\"inhouding-van-loon\", \"onderbetaling\", \"excessieve-werktijden\"]}},"
                    "  \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"indicatoren\": [\"taalbarriere\", \"onderbetaling\"]}", hits, 16);
    CHECK(hit_for(hits, n, "politie") != NULL);
    n = evaluate(cfg, "{\"indicatoren\": [\"excessieve-werktijden\"]}", hits, 16);
    CHECK(hit_for(hits, n, "politie") != NULL);
    n = evaluate(cfg, "{\"indicatoren\": [\"taalbarriere\", \"sociaal-isolement\"]}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"indicatoren\": []}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    n = evaluate(cfg, "{\"indicatoren\": \"onderbetaling\"}", hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    config_free(&cfg);
}

static void nested_pointers_reach_into_objects_and_arrays(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"consent\", \"when\": {\"/toestemming/registratieCoMensha\": true},"
        "  \"to\": [{\"partner\": \"comensha\"}]},"
        " {\"name\": \"first-form\", \"when\": {\"/vormenVanUitbuiting/0\": \"arbeid\"},"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"escaped\", \"when\": {\"/a~1b/c~0d\": 1},"
        "  \"to\": [{\"partner\": \"fier\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg,
                        "{\"toestemming\": {\"registratieCoMensha\": true},"
                        " \"vormenVanUitbuiting\": [\"arbeid\", \"seksueel\"],"
                        " \"a/b\": {\"c~d\": 1}}",
                        hits, 16);
    CHECK_INT(n, 3);
    CHECK_HIT(hits, n, 0, "comensha", "standaard", "consent");
    CHECK_HIT(hits, n, 1, "politie", "standaard", "first-form");
    CHECK_HIT(hits, n, 2, "fier", "standaard", "escaped");
    n = evaluate(cfg,
                 "{\"toestemming\": {\"registratieCoMensha\": false},"
                 " \"vormenVanUitbuiting\": [\"seksueel\", \"arbeid\"]}",
                 hits, 16);
    CHECK(hit_for(hits, n, "comensha") == NULL);
    CHECK(hit_for(hits, n, "politie") == NULL);
    /* The same value one level up is not the nested field. */
    n = evaluate(cfg, "{\"registratieCoMensha\": true, \"toestemming\": {}}", hits, 16);
    CHECK(hit_for(hits, n, "comensha") == NULL);
    n = evaluate(cfg, "{\"toestemming\": true}", hits, 16);
    CHECK(hit_for(hits, n, "comensha") == NULL);
    config_free(&cfg);
}

static void pointer_get_follows_rfc_6901(void)
{
    json_t *doc = json_loads("{\"a\": {\"b\": [10, 20, {\"c\": true}]}, \"x/y\": 1, \"m~n\": 2,"
                             " \"\": 3}",
                             0, NULL);
    CHECK(doc != NULL);
    if (!doc)
        return;
    CHECK(route_pointer_get(doc, "") == doc);
    CHECK_INT(json_integer_value(route_pointer_get(doc, "/a/b/1")), 20);
    CHECK(json_is_true(route_pointer_get(doc, "/a/b/2/c")));
    CHECK_INT(json_integer_value(route_pointer_get(doc, "/x~1y")), 1);
    CHECK_INT(json_integer_value(route_pointer_get(doc, "/m~0n")), 2);
    CHECK_INT(json_integer_value(route_pointer_get(doc, "/")), 3);
    CHECK(route_pointer_get(doc, "/a/b/3") == NULL);
    CHECK(route_pointer_get(doc, "/a/b/-") == NULL);
    CHECK(route_pointer_get(doc, "/a/b/-1") == NULL);
    CHECK(route_pointer_get(doc, "/a/b/x") == NULL);
    CHECK(route_pointer_get(doc, "/a/c") == NULL);
    CHECK(route_pointer_get(doc, "/a/b/0/d") == NULL); /* below a number */
    CHECK(route_pointer_get(doc, "a") == NULL);
    json_decref(doc);
}

static void every_condition_of_a_rule_must_hold(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"crisis-minor\", \"when\": {\"/urgentie\": \"crisis\", "
                    "\"/minderjarig\": true},"
                    "  \"to\": [{\"partner\": \"veilig-thuis\"}], \"policy\": \"crisis\"}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"crisis\", \"minderjarig\": true}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "veilig-thuis", "crisis", "crisis-minor");
    n = evaluate(cfg, "{\"urgentie\": \"crisis\", \"minderjarig\": false}", hits, 16);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    n = evaluate(cfg, "{\"urgentie\": \"hoog\", \"minderjarig\": true}", hits, 16);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    n = evaluate(cfg, "{\"urgentie\": \"crisis\"}", hits, 16);
    CHECK(hit_for(hits, n, "veilig-thuis") == NULL);
    config_free(&cfg);
}

/* ---- route_evaluate: targets, order, policies ---- */

static void every_matching_rule_adds_its_targets_in_rule_order(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"one\", \"when\": {\"/urgentie\": \"crisis\"},"
        "  \"to\": [{\"partner\": \"politie\"}, {\"partner\": \"veilig-thuis\"}], \"policy\": "
        "\"crisis\"},"
        " {\"name\": \"skipped\", \"when\": {\"/urgentie\": \"normaal\"},"
        "  \"to\": [{\"partner\": \"fier\"}]},"
        " {\"name\": \"two\", \"when\": {\"/minderjarig\": true},"
        "  \"to\": [{\"partner\": \"comensha\"}], \"policy\": \"hoog\"},"
        " {\"name\": \"always\", \"to\": [{\"partner\": \"kenniscentrum\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"crisis\", \"minderjarig\": true}", hits, 16);
    CHECK_INT(n, 4);
    CHECK_HIT(hits, n, 0, "politie", "crisis", "one");
    CHECK_HIT(hits, n, 1, "veilig-thuis", "crisis", "one");
    CHECK_HIT(hits, n, 2, "comensha", "hoog", "two");
    CHECK_HIT(hits, n, 3, "kenniscentrum", "standaard", "always");
    CHECK(hit_for(hits, n, "fier") == NULL);
    config_free(&cfg);
}

static void a_partner_named_twice_gets_one_referral_with_the_first_rules_policy(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
        "  \"to\": [{\"partner\": \"politie\"}, {\"partner\": \"politie\"}], \"policy\": "
        "\"crisis\"},"
        " {\"name\": \"labour\", \"when\": {\"/vormenVanUitbuiting\": {\"contains\": \"arbeid\"}},"
        "  \"to\": [{\"partner\": \"fier\"}, {\"role\": \"police\"}], \"policy\": \"standaard\"},"
        " {\"name\": \"care\", \"to\": [{\"role\": \"care\"}], \"policy\": \"hoog\"}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"crisis\", \"vormenVanUitbuiting\": [\"arbeid\"]}",
                        hits, 16);
    CHECK_INT(n, 3);
    CHECK_HIT(hits, n, 0, "politie", "crisis", "crisis");
    CHECK_HIT(hits, n, 1, "fier", "standaard", "labour");
    CHECK_HIT(hits, n, 2, "veilig-thuis", "hoog", "care");
    /* Without the crisis the police get theirs from the labour rule. */
    n = evaluate(cfg, "{\"urgentie\": \"hoog\", \"vormenVanUitbuiting\": [\"arbeid\"]}", hits, 16);
    CHECK_INT(n, 3);
    CHECK_HIT(hits, n, 0, "fier", "standaard", "labour");
    CHECK_HIT(hits, n, 1, "politie", "standaard", "labour");
    CHECK_HIT(hits, n, 2, "veilig-thuis", "hoog", "care");
    config_free(&cfg);
}

static void a_final_rule_that_holds_stops_evaluation(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"test-signal\", \"when\": {\"/omschrijving\": \"TEST\"},"
        "  \"to\": [{\"partner\": \"kenniscentrum\"}], \"final\": true},"
        " {\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
        "  \"to\": [{\"partner\": \"politie\"}], \"policy\": \"crisis\", \"final\": false},"
        " {\"name\": \"rest\", \"to\": [{\"partner\": \"fier\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"omschrijving\": \"TEST\", \"urgentie\": \"crisis\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "kenniscentrum", "standaard", "test-signal");
    /* A final rule that does not hold stops nothing; "final": false is no stop. */
    n = evaluate(cfg, "{\"omschrijving\": \"echt\", \"urgentie\": \"crisis\"}", hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "politie", "crisis", "crisis");
    CHECK_HIT(hits, n, 1, "fier", "standaard", "rest");
    config_free(&cfg);
}

static void a_rule_without_policy_uses_the_default_policy(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load_extra(
        ", " POLICIES ", \"default_policy\": \"hoog\", \"routes\": ["
        "{\"name\": \"plain\", \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"own\", \"to\": [{\"partner\": \"fier\"}], \"policy\": \"crisis\"}]",
        &p, &n);
    dump(p, n);
    config_problems_free(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t k = evaluate(cfg, "{}", hits, 16);
    CHECK_INT(k, 2);
    CHECK_HIT(hits, k, 0, "politie", "hoog", "plain");
    CHECK_HIT(hits, k, 1, "fier", "crisis", "own");
    CHECK(k > 0 && hits[0].policy == config_policy(cfg, "hoog"));
    config_free(&cfg);
}

static void a_role_target_names_every_partner_with_that_role(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"care\", \"to\": [{\"role\": \"care\"}], \"policy\": \"hoog\"},"
                    " {\"name\": \"gemeenten\", \"when\": {\"/urgentie\": \"hoog\"},"
                    "  \"to\": [{\"role\": \"municipality\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"hoog\"}", hits, 16);
    CHECK_INT(n, 4);
    CHECK_HIT(hits, n, 0, "veilig-thuis", "hoog", "care"); /* in /partners order */
    CHECK_HIT(hits, n, 1, "fier", "hoog", "care");
    CHECK_HIT(hits, n, 2, "gemeente-enschede", "standaard", "gemeenten");
    CHECK_HIT(hits, n, 3, "gemeente-hengelo", "standaard", "gemeenten");
    config_free(&cfg);
}

static void a_role_without_partners_gives_no_target(void)
{
    char partners[512], extra[2048], path[256], **p = NULL;
    size_t n = 0;
    /* Only police and a coordinator: nobody has role care. */
    char pub_police[41], pub_coord[41], sec[41], err[256];
    snprintf(path, sizeof path, "%s/politie.key", dir);
    keyfile_read_pair(path, pub_police, sec, err, sizeof err);
    snprintf(path, sizeof path, "%s/kenniscentrum.key", dir);
    keyfile_read_pair(path, pub_coord, sec, err, sizeof err);
    snprintf(partners, sizeof partners,
             "[{\"id\": \"politie\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"kenniscentrum\", \"role\": \"coordinator\", \"public_key\": \"%s\"}]",
             pub_police, pub_coord);
    snprintf(extra, sizeof extra,
             "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\", \"schemas\": \"%s\","
             " \"server_key\": \"hub.key\", " TU_SECRETS " \"partners\": %s,"
             " \"routes\": [{\"name\": \"care\", \"to\": [{\"role\": \"care\"}]}]}",
             schemas, partners);
    tu_write(dir, "small.json", extra, path, sizeof path);
    struct config *cfg = config_load(path, &p, &n);
    dump(p, n);
    config_problems_free(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t k = evaluate(cfg, "{}", hits, 16);
    CHECK_INT(k, 1);
    CHECK_HIT(hits, k, 0, "kenniscentrum", "standaard", "coordinator-fallback");
    config_free(&cfg);
}

static void municipality_of_looks_up_the_code_in_the_table(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"woongemeente\", \"when\": {\"/woongemeente\": {\"present\": true}},"
        "  \"to\": [{\"municipality_of\": \"/woongemeente\"}], \"policy\": \"hoog\"},"
        " {\"name\": \"police\", \"when\": {\"/urgentie\": \"crisis\"},"
        "  \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"woongemeente\": \"GM0153\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "gemeente-enschede", "hoog", "woongemeente");
    n = evaluate(cfg, "{\"woongemeente\": \"GM0164\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "gemeente-hengelo", "hoog", "woongemeente");
    /* Almelo (GM0141) has no partner in the table: no municipality referral,
     * but the police rule still gives its target and no fallback is needed. */
    n = evaluate(cfg, "{\"woongemeente\": \"GM0141\", \"urgentie\": \"crisis\"}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "politie", "standaard", "police");
    /* A code is matched exactly. */
    n = evaluate(cfg, "{\"woongemeente\": \"gm0153\", \"urgentie\": \"crisis\"}", hits, 16);
    CHECK(hit_for(hits, n, "gemeente-enschede") == NULL);
    config_free(&cfg);
}

static void municipality_of_a_field_that_is_not_a_code_gives_no_target(void)
{
    struct config *cfg = load_routes(
        "[{\"name\": \"w\", \"to\": [{\"municipality_of\": \"/woongemeente\"},"
        "  {\"municipality_of\": \"/minderjarig\"}, {\"municipality_of\": \"/gemeenten/0\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"minderjarig\": true, \"gemeenten\": [\"GM0164\"]}", hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "gemeente-hengelo", "standaard", "w");
    n = evaluate(cfg, "{\"woongemeente\": [\"GM0153\"], \"minderjarig\": true}", hits, 16);
    CHECK(hit_for(hits, n, "gemeente-enschede") == NULL);
    config_free(&cfg);
}

/* ---- route_evaluate: never nowhere ---- */

static void no_matching_rule_sends_the_signal_to_every_coordinator(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
                    "  \"to\": [{\"partner\": \"politie\"}], \"policy\": "
                    "\"crisis\"}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, UNKNOWN_ABODE, hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "kenniscentrum", "standaard", "coordinator-fallback");
    CHECK_HIT(hits, n, 1, "kenniscentrum-2", "standaard", "coordinator-fallback");
    CHECK(n > 0 && hits[0].policy == cfg->default_policy);
    /* A signal that does give a target does not also go to the coordinators. */
    n = evaluate(cfg, MINOR_CRISIS_ENSCHEDE, hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "politie", "crisis", "crisis");
    config_free(&cfg);
}

static void matching_rules_without_a_target_fall_back_to_the_coordinators(void)
{
    /* Rules hold, but the code has no partner; the final rule stops the rest. */
    struct config *cfg = load_routes(
        "[{\"name\": \"woongemeente\", \"when\": {\"/woongemeente\": {\"present\": true}},"
        "  \"to\": [{\"municipality_of\": \"/woongemeente\"}], \"policy\": \"hoog\", \"final\": "
        "true},"
        " {\"name\": \"never\", \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"woongemeente\": \"GM0141\"}", hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "kenniscentrum", "standaard", "coordinator-fallback");
    CHECK_HIT(hits, n, 1, "kenniscentrum-2", "standaard", "coordinator-fallback");
    config_free(&cfg);
}

static void no_routes_at_all_sends_everything_to_the_coordinators(void)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load_extra("", &p, &n);
    dump(p, n);
    config_problems_free(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nroutes, 0);
    struct route_hit hits[16];
    size_t k = evaluate(cfg, MINOR_CRISIS_ENSCHEDE, hits, 16);
    CHECK_INT(k, 2);
    CHECK_HIT(hits, k, 0, "kenniscentrum", "standaard", "coordinator-fallback");
    CHECK_HIT(hits, k, 1, "kenniscentrum-2", "standaard", "coordinator-fallback");
    CHECK(k > 0 && hits[0].policy->receipt_ms == 24LL * 3600 * 1000);
    config_free(&cfg);
}

static void a_coordinator_named_by_a_rule_keeps_that_rules_policy(void)
{
    struct config *cfg =
        load_routes("[{\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
                    "  \"to\": [{\"role\": \"coordinator\"}], \"policy\": \"crisis\"}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[16];
    size_t n = evaluate(cfg, "{\"urgentie\": \"crisis\"}", hits, 16);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "kenniscentrum", "crisis", "crisis");
    CHECK_HIT(hits, n, 1, "kenniscentrum-2", "crisis", "crisis");
    config_free(&cfg);
}

static void from_limits_a_rule_to_senders_of_its_roles(void)
{
    struct config *cfg = load_routes("[{\"name\": \"meldplicht\", \"from\": [\"police\", \"care\"],"
                                     "  \"to\": [{\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    json_t *data = json_pack("{s:s}", "urgentie", "normaal");
    struct route_hit hits[16];
    size_t n = route_evaluate_from(cfg, data, ROLE_POLICE, hits, 16);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "politie", "standaard", "meldplicht");
    n = route_evaluate_from(cfg, data, ROLE_CARE, hits, 16);
    CHECK(hit_for(hits, n, "politie") != NULL);
    /* Another sender's role, or no sender known: the rule does not hold. */
    n = route_evaluate_from(cfg, data, ROLE_MUNICIPALITY, hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    CHECK_HIT(hits, n, 0, "kenniscentrum", "standaard", "coordinator-fallback");
    n = route_evaluate(cfg, data, hits, 16);
    CHECK(hit_for(hits, n, "politie") == NULL);
    json_decref(data);
    config_free(&cfg);
}

static void a_bad_from_is_refused_by_its_pointer(void)
{
    char **p = NULL;
    size_t n = 0;
    load_bad_routes(
        "[{\"name\": \"a\", \"from\": [], \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"b\", \"from\": [\"police\", \"politie\", 3],"
        "  \"to\": [{\"partner\": \"politie\"}]},"
        " {\"name\": \"c\", \"from\": \"police\", \"to\": [{\"partner\": \"politie\"}]}]",
        &p, &n);
    CHECK(has_problem(p, n, "/routes/0/from: must be a non-empty array of roles", ""));
    CHECK(has_problem(p, n, "/routes/1/from/1: not a role", ""));
    CHECK(has_problem(p, n, "/routes/1/from/2: not a role", ""));
    CHECK(has_problem(p, n, "/routes/2/from: must be a non-empty array of roles", ""));
    CHECK_INT(n, 4);
    config_problems_free(p, n);
}

static void the_offer_names_the_reporters_role_and_nothing_else_new(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    const struct partner *comensha = config_partner(cfg, "comensha");
    json_t *data = json_pack("{s:[s], s:b}", "vormenVanUitbuiting", "arbeid", "minderjarig", 0);
    char *text = referrals_offer_event(cfg, "e1", "r1", comensha, ROLE_POLICE,
                                       config_policy(cfg, "standaard"), "meldplicht-comensha", data,
                                       "2026-11-29T12:00:00Z", 0, 0);
    json_t *ev = text ? json_loads(text, 0, NULL) : NULL;
    json_t *d = json_object_get(ev, "data");
    CHECK_STR(json_string_value(json_object_get(json_object_get(d, "melder"), "rol")), "police");
    CHECK_INT(json_object_size(json_object_get(d, "melder")), 1);
    free(text);
    json_decref(ev);
    /* No sender known (ROLE_COUNT): no melder. */
    text = referrals_offer_event(cfg, "e2", "r2", comensha, ROLE_COUNT,
                                 config_policy(cfg, "standaard"), "x", data, "2026-11-29T12:00:00Z",
                                 0, 0);
    ev = text ? json_loads(text, 0, NULL) : NULL;
    CHECK(ev != NULL && json_object_get(json_object_get(ev, "data"), "melder") == NULL);
    free(text);
    json_decref(ev);
    json_decref(data);
    config_free(&cfg);
}

static void example_config_sends_police_signals_to_comensha_without_consent(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    json_t *data =
        json_pack("{s:[s], s:s, s:b, s:{s:b}}", "vormenVanUitbuiting", "arbeid", "urgentie",
                  "normaal", "minderjarig", 0, "toestemming", "registratieCoMensha", 0);
    struct route_hit hits[64];
    size_t n = route_evaluate_from(cfg, data, ROLE_POLICE, hits, 64);
    const struct route_hit *h = hit_for(hits, n, "comensha");
    CHECK(h != NULL);
    CHECK_STR(h ? h->rule : "", "meldplicht-comensha");
    n = route_evaluate_from(cfg, data, ROLE_CARE, hits, 64);
    CHECK(hit_for(hits, n, "comensha") == NULL); /* care has no duty to report */
    json_decref(data);
    config_free(&cfg);
}

static void no_more_hits_than_the_caller_has_room_for(void)
{
    struct config *cfg = load_routes("[{\"name\": \"all\", \"to\": [{\"role\": \"municipality\"},"
                                     "  {\"role\": \"care\"}, {\"partner\": \"politie\"}]}]");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[3];
    memset(hits, 0, sizeof hits);
    size_t n = evaluate(cfg, "{}", hits, 2);
    CHECK_INT(n, 2);
    CHECK_HIT(hits, n, 0, "gemeente-enschede", "standaard", "all");
    CHECK_HIT(hits, n, 1, "gemeente-hengelo", "standaard", "all");
    CHECK(hits[2].partner == NULL); /* nothing written past cap */
    config_free(&cfg);
}

/* ---- the example config for Twente (config/ketenhub.example.json) ---- */

static int profile_has(const struct config *cfg, enum role role, const char *field)
{
    for (size_t i = 0; i < cfg->nprofile[role]; i++)
        if (strcmp(cfg->profiles[role][i], field) == 0)
            return 1;
    return 0;
}

static void example_config_routes_a_crisis_about_a_minor_in_enschede(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[64];
    size_t n = evaluate(cfg, MINOR_CRISIS_ENSCHEDE, hits, 64);
    CHECK_INT(n, 4);
    CHECK_HIT(hits, n, 0, "veilig-thuis-twente", "crisis", "crisis-minderjarige");
    CHECK_HIT(hits, n, 1, "politie-oost-nederland", "crisis", "crisis-minderjarige");
    CHECK_HIT(hits, n, 2, "gemeente-enschede", "hoog", "woongemeente-hoog");
    CHECK_HIT(hits, n, 3, "kenniscentrum-twente", "standaard", "coordinator");
    CHECK(hit_for(hits, n, "comensha") == NULL); /* no consent to register */
    config_free(&cfg);
}

static void example_config_routes_labour_in_hengelo_and_an_unknown_abode(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    struct route_hit hits[64];
    size_t n = evaluate(cfg, ADULT_LABOUR_HENGELO, hits, 64);
    CHECK_INT(n, 3);
    CHECK_HIT(hits, n, 0, "gemeente-hengelo", "hoog", "woongemeente-hoog");
    CHECK_HIT(hits, n, 1, "comensha", "standaard", "registratie-comensha");
    CHECK_HIT(hits, n, 2, "kenniscentrum-twente", "standaard", "coordinator");
    n = evaluate(cfg, UNKNOWN_ABODE, hits, 64);
    CHECK_INT(n, 1);
    CHECK_HIT(hits, n, 0, "kenniscentrum-twente", "standaard", "coordinator");
    /* Every one of the 14 Twente municipalities has its partner. */
    static const char *const codes[] = {"GM0141", "GM0147", "GM1774", "GM0153", "GM0158",
                                        "GM0163", "GM0164", "GM1735", "GM0168", "GM0173",
                                        "GM1742", "GM0183", "GM1700", "GM0189"};
    CHECK_INT(cfg->nmunicipalities, 14);
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        const struct partner *pt = config_municipality(cfg, codes[i]);
        CHECK(pt != NULL);
        if (!pt)
            fprintf(stderr, "  no partner for %s\n", codes[i]);
        else
            CHECK_INT(pt->role, ROLE_MUNICIPALITY);
    }
    config_free(&cfg);
}

static void example_profiles_keep_free_text_from_comensha(void)
{
    struct config *cfg = tc_load_example(root, schemas, dir);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK(!profile_has(cfg, ROLE_COMENSHA, "omschrijving"));
    CHECK(!profile_has(cfg, ROLE_COMENSHA, "indicatoren"));
    CHECK(profile_has(cfg, ROLE_COMENSHA, "vormenVanUitbuiting"));
    CHECK(!profile_has(cfg, ROLE_MUNICIPALITY, "omschrijving"));
    CHECK(!profile_has(cfg, ROLE_POLICE, "toestemming"));
    CHECK(profile_has(cfg, ROLE_CARE, "toestemming"));
    CHECK_INT(cfg->nprofile[ROLE_POLICE], 10);
    CHECK_INT(cfg->nprofile[ROLE_MUNICIPALITY], 8);
    /* toestemming: the CoMensha adapter registers only with consent. */
    CHECK(profile_has(cfg, ROLE_COMENSHA, "toestemming"));
    CHECK_INT(cfg->nprofile[ROLE_COMENSHA], 8);
    CHECK_INT(cfg->nprofile[ROLE_CARE], 9);
    CHECK_INT(cfg->nprofile[ROLE_COORDINATOR], 11); /* every field of the signal */
    CHECK_INT(cfg->policies ? config_policy(cfg, "crisis")->receipt_ms : 0, 15 * 60 * 1000);
    CHECK(cfg->default_policy == config_policy(cfg, "standaard"));
    config_free(&cfg);
}

int main(void)
{
    char err[256], path[256], sec[41];
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
    size_t len = 0;
    len += (size_t)snprintf(partners_json + len, sizeof partners_json - len, "[");
    for (size_t i = 0; i < NPARTNERS; i++) {
        char pub[41];
        snprintf(path, sizeof path, "%s/%s", dir, partner_list[i].id);
        if (keyfile_generate(path, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        snprintf(path, sizeof path, "%s/%s.key", dir, partner_list[i].id);
        if (keyfile_read_pair(path, pub, sec, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        len += (size_t)snprintf(partners_json + len, sizeof partners_json - len,
                                "%s{\"id\": \"%s\", \"role\": \"%s\", \"public_key\": \"%s\"}",
                                i ? ", " : "", partner_list[i].id, partner_list[i].role, pub);
    }
    snprintf(partners_json + len, sizeof partners_json - len, "]");

    RUN(a_valid_rule_set_loads_into_conditions_and_targets);
    RUN(each_bad_target_is_named_by_its_pointer);
    RUN(a_rule_needs_a_non_empty_list_of_targets);
    RUN(unknown_keys_in_a_rule_are_refused);
    RUN(a_policy_that_is_not_defined_is_refused);
    RUN(the_builtin_policy_can_be_named_without_policies);
    RUN(duplicate_rule_names_are_refused);
    RUN(a_rule_needs_a_non_empty_string_name);
    RUN(a_bad_condition_operator_is_refused);
    RUN(condition_keys_must_be_json_pointers);
    RUN(malformed_rule_structure_is_refused);

    RUN(an_equality_condition_matches_only_its_value);
    RUN(equals_compares_booleans_and_whole_arrays);
    RUN(an_array_or_in_matches_any_of_its_values);
    RUN(present_true_and_false_test_whether_a_field_is_there);
    RUN(contains_looks_inside_an_array_field);
    RUN(contains_any_needs_one_common_value);
    RUN(nested_pointers_reach_into_objects_and_arrays);
    RUN(pointer_get_follows_rfc_6901);
    RUN(every_condition_of_a_rule_must_hold);

    RUN(every_matching_rule_adds_its_targets_in_rule_order);
    RUN(a_partner_named_twice_gets_one_referral_with_the_first_rules_policy);
    RUN(a_final_rule_that_holds_stops_evaluation);
    RUN(a_rule_without_policy_uses_the_default_policy);
    RUN(a_role_target_names_every_partner_with_that_role);
    RUN(a_role_without_partners_gives_no_target);
    RUN(municipality_of_looks_up_the_code_in_the_table);
    RUN(municipality_of_a_field_that_is_not_a_code_gives_no_target);

    RUN(no_matching_rule_sends_the_signal_to_every_coordinator);
    RUN(matching_rules_without_a_target_fall_back_to_the_coordinators);
    RUN(no_routes_at_all_sends_everything_to_the_coordinators);
    RUN(a_coordinator_named_by_a_rule_keeps_that_rules_policy);
    RUN(no_more_hits_than_the_caller_has_room_for);
    RUN(from_limits_a_rule_to_senders_of_its_roles);
    RUN(a_bad_from_is_refused_by_its_pointer);

    RUN(example_config_routes_a_crisis_about_a_minor_in_enschede);
    RUN(example_config_routes_labour_in_hengelo_and_an_unknown_abode);
    RUN(example_profiles_keep_free_text_from_comensha);
    RUN(the_offer_names_the_reporters_role_and_nothing_else_new);
    RUN(example_config_sends_police_signals_to_comensha_without_consent);
    tu_rmdir(dir);
    return CHECK_DONE();
}
