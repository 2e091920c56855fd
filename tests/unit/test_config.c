/*
 * test_config - the hub's config: every problem found, named by its key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "keyfile.h"
#include "testutil.h"

static char dir[128];
static char schemas[1024];
static char pub_a[41], pub_b[41], pub_c[41];

/* Every config with partners needs a coordinator. */
#define COORDINATOR "{\"id\": \"kenniscentrum\", \"role\": \"coordinator\", \"public_key\": \"%s\"}"

/* Writes a config with the given partners array and extra top-level members. */
static struct config *load_with(const char *partners, const char *extra, char ***problems,
                                size_t *n)
{
    char text[8192], path[256];
    snprintf(text, sizeof text,
             "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\",\n"
             " \"schemas\": \"%s\", \"server_key\": \"hub.key\", " TU_SECRETS "\n"
             " \"partners\": %s%s}\n",
             schemas, partners, extra);
    tu_write(dir, "ketenhub.json", text, path, sizeof path);
    return config_load(path, problems, n);
}

static int has_problem(char **problems, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(problems[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

static void dump(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", problems[i]);
}

static void valid_config_loads_with_defaults_and_resolved_paths(void)
{
    char partners[512], **p = NULL;
    size_t n = 0;
    snprintf(partners, sizeof partners,
             "[{\"id\": \"police-1\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"gemeente-enschede\", \"name\": \"Gemeente Enschede\","
             "  \"role\": \"municipality\", \"public_key\": \"%s\"}, " COORDINATOR "]",
             pub_a, pub_b, pub_c);
    struct config *cfg = load_with(partners, "", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    CHECK_INT(n, 0);
    if (!cfg)
        return;
    char want[256];
    snprintf(want, sizeof want, "%s/hub.db", dir);
    CHECK_STR(cfg->database, want);
    snprintf(want, sizeof want, "%s/hub.key", dir);
    CHECK_STR(cfg->server_key, want);
    CHECK_INT(cfg->max_message_size, 256 * 1024);
    CHECK_INT(cfg->max_json_depth, 32);
    CHECK_INT(cfg->npartners, 3);
    CHECK_INT(cfg->partners[1].role, ROLE_MUNICIPALITY);
    CHECK_STR(cfg->partners[1].name, "Gemeente Enschede");
    CHECK(config_partner(cfg, "police-1") == &cfg->partners[0]);
    CHECK(config_partner(cfg, "police-2") == NULL);
    CHECK(config_partner_by_key(cfg, cfg->partners[1].public_key) == &cfg->partners[1]);
    CHECK(cfg->authorisation[ROLE_POLICE] & (1u << TYPE_SIGNAAL_GEREGISTREERD));
    config_free(&cfg);
    CHECK(cfg == NULL);
}

static void every_problem_is_reported_with_its_key(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    snprintf(partners, sizeof partners,
             "[{\"id\": \"a\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"a\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"b\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"Bad Id\", \"role\": \"sheriff\", \"public_key\": \"short\", \"x\": 1},"
             " 7]",
             pub_a, pub_b, pub_a);
    struct config *cfg = load_with(partners,
                                   ", \"max_message_size\": 10, \"max_json_depth\": \"deep\","
                                   " \"colour\": \"blue\", \"log_level\": \"loud\"",
                                   &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/partners/1/id: duplicate partner id"));
    CHECK(has_problem(p, n, "/partners/2/public_key: same key as partner"));
    CHECK(has_problem(p, n, "/partners/3/id:"));
    CHECK(has_problem(p, n, "/partners/3/role:"));
    CHECK(has_problem(p, n, "/partners/3/public_key:"));
    CHECK(has_problem(p, n, "/partners/3/x: unknown key"));
    CHECK(has_problem(p, n, "/partners/4: must be an object"));
    CHECK(has_problem(p, n, "/max_message_size: 10 is out of range"));
    CHECK(has_problem(p, n, "/max_json_depth: must be an integer"));
    CHECK(has_problem(p, n, "/colour: unknown key"));
    CHECK(has_problem(p, n, "/log_level:"));
    CHECK(n >= 11);
    config_problems_free(p, n);
}

static void heartbeats_without_a_timeout_are_refused(void)
{
    char partners[512], **p = NULL;
    size_t n = 0;
    snprintf(partners, sizeof partners, "[" COORDINATOR "]", pub_c);
    struct config *cfg = load_with(partners, ", \"heartbeat_timeout_ms\": 0", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/heartbeat_timeout_ms: must be set"));
    config_problems_free(p, n);
    cfg =
        load_with(partners, ", \"heartbeat_interval_ms\": 0, \"heartbeat_timeout_ms\": 0", &p, &n);
    CHECK(cfg != NULL); /* both off is allowed */
    config_free(&cfg);
}

static void missing_required_keys_and_files_are_named(void)
{
    char path[256], **p = NULL;
    size_t n = 0;
    tu_write(dir, "empty.json", "{}", path, sizeof path);
    struct config *cfg = config_load(path, &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/listen: required key is missing"));
    CHECK(has_problem(p, n, "/database: required key is missing"));
    CHECK(has_problem(p, n, "/schemas: required key is missing"));
    CHECK(has_problem(p, n, "/server_key: required key is missing"));
    CHECK(has_problem(p, n, "/partners: required key is missing"));
    config_problems_free(p, n);

    char text[1024];
    snprintf(text, sizeof text,
             "{\"listen\": \"udp://x\", \"database\": \"nowhere/hub.db\", \"schemas\": \"nope\","
             " \"server_key\": \"missing.key\", \"partners\": []}");
    tu_write(dir, "files.json", text, path, sizeof path);
    cfg = config_load(path, &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/listen: must be a tcp:// or ipc://"));
    CHECK(has_problem(p, n, "/database: folder"));
    CHECK(has_problem(p, n, "/schemas:"));
    CHECK(has_problem(p, n, "/server_key: cannot read key file"));
    config_problems_free(p, n);
}

static void malformed_json_and_duplicate_keys_are_refused(void)
{
    char path[256], **p = NULL;
    size_t n = 0;
    tu_write(dir, "bad.json", "{\"listen\": ", path, sizeof path);
    CHECK(config_load(path, &p, &n) == NULL);
    CHECK_INT(n, 1);
    CHECK(n == 1 && strstr(p[0], "bad.json:1:") != NULL);
    config_problems_free(p, n);
    tu_write(dir, "dup.json", "{\"listen\": \"tcp://a:1\", \"listen\": \"tcp://b:2\"}", path,
             sizeof path);
    CHECK(config_load(path, &p, &n) == NULL);
    CHECK(n == 1 && strstr(p[0], "duplicate") != NULL);
    config_problems_free(p, n);
    tu_write(dir, "array.json", "[]", path, sizeof path);
    CHECK(config_load(path, &p, &n) == NULL);
    CHECK(n == 1 && strstr(p[0], "must be a JSON object") != NULL);
    config_problems_free(p, n);
}

static void authorisation_replaces_a_roles_list(void)
{
    char partners[512], **p = NULL;
    size_t n = 0;
    snprintf(partners, sizeof partners,
             "[{\"id\": \"police-1\", \"role\": \"police\", \"public_key\": \"%s\"}, " COORDINATOR
             "]",
             pub_a, pub_c);
    struct config *cfg = load_with(partners, ", \"authorisation\": {\"police\": []}", &p, &n);
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK_INT(cfg->authorisation[ROLE_POLICE], 0);
        CHECK(cfg->authorisation[ROLE_CARE] & (1u << TYPE_SIGNAAL_GEREGISTREERD));
        config_free(&cfg);
    }
    cfg = load_with(partners,
                    ", \"authorisation\": {\"sheriff\": [], \"care\": [\"nl.example.onbekend\"]}",
                    &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/authorisation/sheriff: unknown role"));
    CHECK(has_problem(p, n, "/authorisation/care/0: unknown event type nl.example.onbekend"));
    config_problems_free(p, n);
}

static void server_key_readable_by_others_is_refused(void)
{
    char partners[256], path[256], **p = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/hub.key", dir);
    CHECK(chmod(path, 0644) == 0);
    snprintf(partners, sizeof partners, "[]");
    struct config *cfg = load_with(partners, "", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/server_key: key file"));
    config_problems_free(p, n);
    CHECK(chmod(path, 0600) == 0);
}

/* 1 if a problem starts with `prefix` and contains `text`. */
static int any_contains(char **problems, size_t n, const char *prefix, const char *text)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(problems[i], prefix, strlen(prefix)) == 0 && strstr(problems[i], text))
            return 1;
    return 0;
}

/* Loads a config with the given encryption_key and pseudonym_key paths. */
static struct config *load_secrets(const char *enc, const char *pse, char ***p, size_t *n)
{
    char text[2048], path[256];
    snprintf(text, sizeof text,
             "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\","
             " \"schemas\": \"%s\", \"server_key\": \"hub.key\","
             " \"encryption_key\": \"%s\", \"pseudonym_key\": \"%s\", \"partners\": []}\n",
             schemas, enc, pse);
    tu_write(dir, "secrets.json", text, path, sizeof path);
    return config_load(path, p, n);
}

static void secret_keys_are_checked(void)
{
    char path[256], err[512], **p = NULL;
    size_t n = 0;
    /* One file for both keys. */
    struct config *cfg = load_secrets("keys/store.secret", "keys/store.secret", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/pseudonym_key: must be another file than encryption_key"));
    config_problems_free(p, n);
    /* A key in the database's folder; another file that is no key. */
    snprintf(path, sizeof path, "%s/db.secret", dir);
    CHECK_INT(keyfile_secret_generate(path, err, sizeof err), 0);
    tu_write(dir, "keys/garbage.secret", "ketenhub-secret-v1 0123\n", path, sizeof path);
    CHECK(chmod(path, 0600) == 0);
    cfg = load_secrets("db.secret", "keys/garbage.secret", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/encryption_key: "));
    CHECK(any_contains(p, n, "/encryption_key: ", "is in the database's folder"));
    CHECK(has_problem(p, n, "/pseudonym_key: key file"));
    CHECK(any_contains(p, n, "/pseudonym_key: ", "is not a secret key file"));
    config_problems_free(p, n);
    /* Readable by the group; missing. */
    snprintf(path, sizeof path, "%s/keys/pseudonym.secret", dir);
    CHECK(chmod(path, 0640) == 0);
    cfg = load_secrets("keys/missing.secret", "keys/pseudonym.secret", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/encryption_key: cannot read key file"));
    CHECK(any_contains(p, n, "/pseudonym_key: ", "accessible by group or others (mode 640)"));
    config_problems_free(p, n);
    CHECK(chmod(path, 0600) == 0);
    /* And the good pair loads, with the key read. */
    cfg = load_secrets("keys/store.secret", "keys/pseudonym.secret", &p, &n);
    config_problems_free(p, n);
    CHECK(cfg != NULL);
    unsigned char key[32];
    CHECK_INT(keyfile_secret_read(cfg ? cfg->encryption_key : "", key, err, sizeof err), 0);
    CHECK(cfg && memcmp(key, cfg->encryption_secret, 32) == 0);
    config_free(&cfg);
}

/* Police, a municipality and the coordinator: what the routing keys refer to. */
static void three_partners(char *out, size_t len)
{
    snprintf(out, len,
             "[{\"id\": \"police-1\", \"role\": \"police\", \"public_key\": \"%s\"},"
             " {\"id\": \"gemeente-enschede\", \"role\": \"municipality\", \"public_key\": \"%s\"},"
             " " COORDINATOR "]",
             pub_a, pub_b, pub_c);
}

static void without_routing_keys_the_defaults_apply(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(partners, "", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    /* The built-in policy: a day to confirm receipt, five to decide. */
    CHECK_INT(cfg->npolicies, 1);
    CHECK_STR(cfg->policies[0].name, "standaard");
    CHECK_INT(cfg->policies[0].receipt_ms, 24LL * 3600 * 1000);
    CHECK_INT(cfg->policies[0].decision_ms, 5LL * 24 * 3600 * 1000);
    CHECK(cfg->default_policy == &cfg->policies[0]);
    CHECK(config_policy(cfg, "standaard") == &cfg->policies[0]);
    CHECK(config_policy(cfg, "crisis") == NULL);
    CHECK_STR(cfg->source, "urn:ketenhub:hub");
    CHECK_INT(cfg->nmunicipalities, 0);
    CHECK(config_municipality(cfg, "GM0153") == NULL);
    CHECK_INT(cfg->nroutes, 0);
    /* Least data by default: no role has a profile, so no signal field leaves. */
    for (int r = 0; r < ROLE_COUNT; r++)
        CHECK_INT(cfg->nprofile[r], 0);
    CHECK_INT(cfg->delivery_window, 256);
    CHECK_INT(cfg->delivery_ack_timeout_ms, 10000);
    CHECK_INT(cfg->delivery_max_attempts, 8);
    CHECK_INT(cfg->delivery_backoff_max_ms, 300000);
    CHECK_INT(cfg->session_timeout_ms, 15000);
    config_free(&cfg);
}

static void source_replaces_the_default_and_must_be_a_string(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(
        partners, ", \"source\": \"urn:nld:oin:00000001234567890000:systeem:ketenhub\"", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (cfg)
        CHECK_STR(cfg->source, "urn:nld:oin:00000001234567890000:systeem:ketenhub");
    config_free(&cfg);
    cfg = load_with(partners, ", \"source\": \"\"", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/source: must be a non-empty string"));
    config_problems_free(p, n);
    cfg = load_with(partners, ", \"source\": 7", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/source: must be a non-empty string"));
    config_problems_free(p, n);
}

static void policies_are_read_as_iso_8601_durations(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg =
        load_with(partners,
                  ", \"policies\": {\"crisis\": {\"receipt\": \"PT15M\", \"decision\": \"PT4H\"},"
                  " \"hoog\": {\"decision\": \"P1D\", \"receipt\": \"PT4H\"},"
                  " \"standaard\": {\"receipt\": \"P1D\", \"decision\": \"P1W\"}}",
                  &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->npolicies, 3);
    const struct policy *crisis = config_policy(cfg, "crisis");
    const struct policy *hoog = config_policy(cfg, "hoog");
    CHECK(crisis != NULL && hoog != NULL);
    if (crisis && hoog) {
        CHECK_INT(crisis->receipt_ms, 15 * 60 * 1000);
        CHECK_INT(crisis->decision_ms, 4 * 3600 * 1000);
        CHECK_INT(hoog->receipt_ms, 4 * 3600 * 1000);
        CHECK_INT(hoog->decision_ms, 24LL * 3600 * 1000);
    }
    /* Several policies and no default_policy: the one named "standaard". */
    CHECK(cfg->default_policy == config_policy(cfg, "standaard"));
    CHECK_INT(cfg->default_policy ? cfg->default_policy->decision_ms : 0, 7LL * 24 * 3600 * 1000);
    config_free(&cfg);
}

static void each_policy_problem_names_its_key(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(
        partners,
        ", \"policies\": {"
        " \"zonder-besluit\": {\"receipt\": \"PT15M\"},"
        " \"zonder-ontvangst\": {\"decision\": \"PT4H\"},"
        " \"leeg\": {},"
        " \"tekst\": {\"receipt\": \"15 minuten\", \"decision\": \"PT4H\"},"
        " \"getal\": {\"receipt\": \"PT1H\", \"decision\": 3600},"
        " \"jaar\": {\"receipt\": \"P1Y\", \"decision\": \"P5D\"},"
        " \"maand\": {\"receipt\": \"P1D\", \"decision\": \"P1M\"},"
        " \"extra\": {\"receipt\": \"PT1H\", \"decision\": \"P1D\", \"escalatie\": \"PT1H\"},"
        " \"geen-object\": \"PT1H\","
        " \"standaard\": {\"receipt\": \"P1D\", \"decision\": \"P5D\"}}",
        &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/policies/zonder-besluit: needs both receipt and decision"));
    CHECK(has_problem(p, n, "/policies/zonder-ontvangst: needs both receipt and decision"));
    CHECK(has_problem(p, n, "/policies/leeg: needs both receipt and decision"));
    CHECK(has_problem(p, n, "/policies/tekst/receipt: duration \"15 minuten\""));
    CHECK(has_problem(p, n, "/policies/getal/decision: must be an ISO 8601 duration string"));
    CHECK(has_problem(p, n, "/policies/jaar/receipt: duration \"P1Y\""));
    CHECK(has_problem(p, n, "/policies/maand/decision: duration \"P1M\""));
    CHECK(has_problem(p, n, "/policies/extra/escalatie: unknown key"));
    CHECK(has_problem(p, n, "/policies/geen-object: must be an object"));
    for (size_t i = 0; i < n; i++)
        CHECK(strncmp(p[i], "/policies/standaard", 19) != 0);
    CHECK_INT(n, 9);
    if (n != 9)
        dump(p, n);
    config_problems_free(p, n);

    cfg = load_with(partners, ", \"policies\": {}", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/policies: must be a non-empty object"));
    config_problems_free(p, n);
    cfg = load_with(partners, ", \"policies\": [\"standaard\"]", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/policies: must be a non-empty object"));
    config_problems_free(p, n);
}

static void default_policy_must_name_a_policy(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    const char *two = ", \"policies\": {\"crisis\": {\"receipt\": \"PT15M\", \"decision\": "
                      "\"PT4H\"}, \"hoog\": {\"receipt\": \"PT4H\", \"decision\": \"P1D\"}}";
    char extra[1024];
    snprintf(extra, sizeof extra, "%s, \"default_policy\": \"hoog\"", two);
    struct config *cfg = load_with(partners, extra, &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (cfg)
        CHECK(cfg->default_policy == config_policy(cfg, "hoog"));
    config_free(&cfg);

    snprintf(extra, sizeof extra, "%s, \"default_policy\": \"spoed\"", two);
    cfg = load_with(partners, extra, &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/default_policy: must name one of the policies"));
    config_problems_free(p, n);

    snprintf(extra, sizeof extra, "%s, \"default_policy\": 1", two);
    cfg = load_with(partners, extra, &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/default_policy: must name one of the policies"));
    config_problems_free(p, n);

    /* Two policies, neither named standaard, and no default_policy. */
    cfg = load_with(partners, two, &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/default_policy: required"));
    config_problems_free(p, n);

    /* The built-in policy only exists when the config defines none. */
    cfg = load_with(partners, ", \"default_policy\": \"standaard\"", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    config_free(&cfg);
    cfg = load_with(partners, ", \"default_policy\": \"crisis\"", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/default_policy: must name one of the policies"));
    config_problems_free(p, n);
}

static void a_single_policy_is_the_default(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(
        partners, ", \"policies\": {\"kort\": {\"receipt\": \"PT1H\", \"decision\": \"PT8H\"}}", &p,
        &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->npolicies, 1);
    CHECK(config_policy(cfg, "standaard") == NULL); /* no built-in beside it */
    CHECK(cfg->default_policy == config_policy(cfg, "kort"));
    config_free(&cfg);
}

static void municipalities_map_cbs_codes_to_municipality_partners(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg =
        load_with(partners, ", \"municipalities\": {\"GM0153\": \"gemeente-enschede\"}", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nmunicipalities, 1);
    CHECK(config_municipality(cfg, "GM0153") == config_partner(cfg, "gemeente-enschede"));
    CHECK(config_municipality(cfg, "GM0164") == NULL);
    CHECK(config_municipality(cfg, "gm0153") == NULL);
    config_free(&cfg);
}

static void each_municipality_problem_names_its_code(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(partners,
                                   ", \"municipalities\": {"
                                   " \"GM153\": \"gemeente-enschede\","
                                   " \"GM01530\": \"gemeente-enschede\","
                                   " \"gm0153\": \"gemeente-enschede\","
                                   " \"0153\": \"gemeente-enschede\","
                                   " \"GM01a3\": \"gemeente-enschede\","
                                   " \"GM0164\": \"gemeente-hengelo\","
                                   " \"GM0141\": 141,"
                                   " \"GM0147\": \"police-1\","
                                   " \"GM0189\": \"kenniscentrum\","
                                   " \"GM0153\": \"gemeente-enschede\"}",
                                   &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/municipalities/GM153: not a CBS municipality code"));
    CHECK(has_problem(p, n, "/municipalities/GM01530: not a CBS municipality code"));
    CHECK(has_problem(p, n, "/municipalities/gm0153: not a CBS municipality code"));
    CHECK(has_problem(p, n, "/municipalities/0153: not a CBS municipality code"));
    CHECK(has_problem(p, n, "/municipalities/GM01a3: not a CBS municipality code"));
    CHECK(has_problem(p, n, "/municipalities/GM0164: must name a partner id"));
    CHECK(has_problem(p, n, "/municipalities/GM0141: must name a partner id"));
    CHECK(has_problem(p, n, "/municipalities/GM0147: partner \"police-1\" does not have role"));
    CHECK(
        has_problem(p, n, "/municipalities/GM0189: partner \"kenniscentrum\" does not have role"));
    CHECK_INT(n, 9);
    if (n != 9)
        dump(p, n);
    config_problems_free(p, n);

    cfg = load_with(partners, ", \"municipalities\": [\"GM0153\"]", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/municipalities: must be an object"));
    config_problems_free(p, n);
}

static void profiles_list_the_fields_a_role_receives(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg =
        load_with(partners,
                  ", \"profiles\": {\"police\": [\"urgentie\", \"minderjarig\", \"omschrijving\"],"
                  " \"comensha\": []}",
                  &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    CHECK_INT(cfg->nprofile[ROLE_POLICE], 3);
    if (cfg->nprofile[ROLE_POLICE] == 3) {
        CHECK_STR(cfg->profiles[ROLE_POLICE][0], "urgentie");
        CHECK_STR(cfg->profiles[ROLE_POLICE][2], "omschrijving");
    }
    CHECK_INT(cfg->nprofile[ROLE_COMENSHA], 0);
    CHECK_INT(cfg->nprofile[ROLE_CARE], 0); /* not listed: nothing */
    config_free(&cfg);
}

static void each_profile_problem_names_its_key(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    struct config *cfg = load_with(partners,
                                   ", \"profiles\": {\"sheriff\": [\"urgentie\"],"
                                   " \"police\": \"urgentie\","
                                   " \"care\": [\"urgentie\", 5, {\"veld\": \"omschrijving\"}],"
                                   " \"Coordinator\": []}",
                                   &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/profiles/sheriff: unknown role"));
    CHECK(has_problem(p, n, "/profiles/police: must be an array"));
    CHECK(has_problem(p, n, "/profiles/care/1: must be a field name"));
    CHECK(has_problem(p, n, "/profiles/care/2: must be a field name"));
    CHECK(has_problem(p, n, "/profiles/Coordinator: unknown role"));
    CHECK_INT(n, 5);
    if (n != 5)
        dump(p, n);
    config_problems_free(p, n);

    cfg = load_with(partners, ", \"profiles\": [\"urgentie\"]", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/profiles: must be an object"));
    config_problems_free(p, n);
}

static void partners_without_a_coordinator_are_refused(void)
{
    char partners[1024], **p = NULL;
    size_t n = 0;
    snprintf(
        partners, sizeof partners,
        "[{\"id\": \"police-1\", \"role\": \"police\", \"public_key\": \"%s\"},"
        " {\"id\": \"gemeente-enschede\", \"role\": \"municipality\", \"public_key\": \"%s\"}]",
        pub_a, pub_b);
    struct config *cfg = load_with(partners, "", &p, &n);
    CHECK(cfg == NULL);
    CHECK(has_problem(p, n, "/partners: at least one partner needs role coordinator"));
    CHECK_INT(n, 1);
    config_problems_free(p, n);
    /* No partners at all is a hub nobody can use yet, not a routing hole. */
    cfg = load_with("[]", "", &p, &n);
    dump(p, n);
    CHECK(cfg != NULL);
    config_free(&cfg);
}

static void delivery_keys_are_bounded(void)
{
    static const struct {
        const char *key;
        long min, max;
    } cases[] = {
        {"delivery_window", 1, 10000},         {"delivery_ack_timeout_ms", 100, 3600000},
        {"delivery_max_attempts", 1, 1000},    {"delivery_backoff_max_ms", 100, 86400000},
        {"session_timeout_ms", 1000, 3600000},
    };
    char partners[1024], extra[256], want[128], **p = NULL;
    size_t n = 0;
    three_partners(partners, sizeof partners);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *k = cases[i].key;
        snprintf(extra, sizeof extra, ", \"%s\": %ld", k, cases[i].min - 1);
        struct config *cfg = load_with(partners, extra, &p, &n);
        CHECK(cfg == NULL);
        snprintf(want, sizeof want, "/%s: %ld is out of range %ld..%ld", k, cases[i].min - 1,
                 cases[i].min, cases[i].max);
        CHECK(has_problem(p, n, want));
        config_problems_free(p, n);

        snprintf(extra, sizeof extra, ", \"%s\": %ld", k, cases[i].max + 1);
        cfg = load_with(partners, extra, &p, &n);
        CHECK(cfg == NULL);
        snprintf(want, sizeof want, "/%s: %ld is out of range", k, cases[i].max + 1);
        CHECK(has_problem(p, n, want));
        config_problems_free(p, n);

        snprintf(extra, sizeof extra, ", \"%s\": \"%ld\"", k, cases[i].min);
        cfg = load_with(partners, extra, &p, &n);
        CHECK(cfg == NULL);
        snprintf(want, sizeof want, "/%s: must be an integer", k);
        CHECK(has_problem(p, n, want));
        config_problems_free(p, n);

        snprintf(extra, sizeof extra, ", \"%s\": %ld.5", k, cases[i].min);
        cfg = load_with(partners, extra, &p, &n);
        CHECK(cfg == NULL);
        CHECK(has_problem(p, n, want));
        config_problems_free(p, n);
    }
    /* Both ends of every range are allowed. */
    for (int end = 0; end < 2; end++) {
        size_t len = 0;
        char all[1024] = "";
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
            len += (size_t)snprintf(all + len, sizeof all - len, ", \"%s\": %ld", cases[i].key,
                                    end ? cases[i].max : cases[i].min);
        struct config *cfg = load_with(partners, all, &p, &n);
        dump(p, n);
        CHECK(cfg != NULL);
        if (cfg) {
            CHECK_INT(cfg->delivery_window, end ? 10000 : 1);
            CHECK_INT(cfg->delivery_ack_timeout_ms, end ? 3600000 : 100);
            CHECK_INT(cfg->delivery_max_attempts, end ? 1000 : 1);
            CHECK_INT(cfg->delivery_backoff_max_ms, end ? 86400000 : 100);
            CHECK_INT(cfg->session_timeout_ms, end ? 3600000 : 1000);
        }
        config_free(&cfg);
    }
}

int main(void)
{
    char err[256], path[256];
    tu_tempdir(dir, sizeof dir);
    tu_secrets(dir);
    if (!getcwd(schemas, sizeof schemas - 16))
        return 2;
    size_t sl = strlen(schemas);
    snprintf(schemas + sl, sizeof schemas - sl, "/schemas");
    snprintf(path, sizeof path, "%s/hub", dir);
    if (keyfile_generate(path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    char sec[41];
    snprintf(path, sizeof path, "%s/a", dir);
    keyfile_generate(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/a.key", dir);
    keyfile_read_pair(path, pub_a, sec, err, sizeof err);
    snprintf(path, sizeof path, "%s/b", dir);
    keyfile_generate(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/b.key", dir);
    keyfile_read_pair(path, pub_b, sec, err, sizeof err);
    snprintf(path, sizeof path, "%s/c", dir);
    keyfile_generate(path, err, sizeof err);
    snprintf(path, sizeof path, "%s/c.key", dir);
    keyfile_read_pair(path, pub_c, sec, err, sizeof err);

    RUN(valid_config_loads_with_defaults_and_resolved_paths);
    RUN(every_problem_is_reported_with_its_key);
    RUN(heartbeats_without_a_timeout_are_refused);
    RUN(missing_required_keys_and_files_are_named);
    RUN(malformed_json_and_duplicate_keys_are_refused);
    RUN(authorisation_replaces_a_roles_list);
    RUN(server_key_readable_by_others_is_refused);
    RUN(secret_keys_are_checked);
    RUN(without_routing_keys_the_defaults_apply);
    RUN(source_replaces_the_default_and_must_be_a_string);
    RUN(policies_are_read_as_iso_8601_durations);
    RUN(each_policy_problem_names_its_key);
    RUN(default_policy_must_name_a_policy);
    RUN(a_single_policy_is_the_default);
    RUN(municipalities_map_cbs_codes_to_municipality_partners);
    RUN(each_municipality_problem_names_its_code);
    RUN(profiles_list_the_fields_a_role_receives);
    RUN(each_profile_problem_names_its_key);
    RUN(partners_without_a_coordinator_are_refused);
    RUN(delivery_keys_are_bounded);
    tu_rmdir(dir);
    return CHECK_DONE();
}
