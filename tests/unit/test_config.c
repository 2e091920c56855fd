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
             " \"schemas\": \"%s\", \"server_key\": \"hub.key\",\n"
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

int main(void)
{
    char err[256], path[256];
    tu_tempdir(dir, sizeof dir);
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
    RUN(missing_required_keys_and_files_are_named);
    RUN(malformed_json_and_duplicate_keys_are_refused);
    RUN(authorisation_replaces_a_roles_list);
    RUN(server_key_readable_by_others_is_refused);
    tu_rmdir(dir);
    return CHECK_DONE();
}
