/*
 * test_adapter_config - an adapter's config is checked like the hub's: every
 * problem at once, each named by the JSON pointer of the key at fault;
 * defaults for what is left out; the files it names are checked too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "aconfig.h"
#include "check.h"
#include "filedrop.h"
#include "keyfile.h"

static char dir[64];

/* A mapping with one setting, to check the "mapping" section is handed on. */
static int demo_check(const json_t *section, const char *pointer, json_t *errors)
{
    static const struct adapter_cfg_key keys[] = {{"prefix", ADAPTER_CFG_STRING, 0, 0, 0},
                                                  {NULL, ADAPTER_CFG_STRING, 0, 0, 0}};
    return section ? adapter_cfg_check(section, pointer, keys, errors) : 0;
}

static const struct adapter_mapping demo = {"demo", demo_check, NULL, NULL};
static const struct adapter_transport_ops *const transports[] = {&filedrop_ops, NULL};

static const char *const VALID =
    "{\"hub\": {\"endpoint\": \"tcp://127.0.0.1:5570\", \"public_key\": \"keys/hub.pub\","
    "          \"key\": \"keys/adapter.key\"},"
    " \"source\": \"urn:nld:oin:00000001003214345000:systeem:test\","
    " \"data_dir\": \"data\","
    " \"transports\": {\"filedrop\": {\"dir\": \"drop\"}}}";

static json_t *errors_of(const char *text, struct aconfig **out)
{
    char path[128];
    snprintf(path, sizeof path, "%s/adapter.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    json_t *errors = json_array();
    struct aconfig *c = aconfig_load(path, &demo, transports, 1, errors);
    if (out)
        *out = c;
    else
        aconfig_free(&c);
    return errors;
}

/* 1 when some error has exactly this path and a message containing `part`. */
static int has_error(const json_t *errors, const char *path, const char *part)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "path")), path) == 0 &&
            strstr(json_string_value(json_object_get(e, "message")), part))
            return 1;
    }
    return 0;
}

static void dump(const json_t *errors)
{
    char *t = json_dumps(errors, 0);
    fprintf(stderr, "  errors: %s\n", t ? t : "");
    free(t);
}

static void a_valid_config_loads_with_its_defaults(void)
{
    struct aconfig *c = NULL;
    json_t *errors = errors_of(VALID, &c);
    CHECK_INT(json_array_size(errors), 0);
    if (json_array_size(errors))
        dump(errors);
    CHECK(c != NULL);
    if (c) {
        char want[256];
        snprintf(want, sizeof want, "%s/keys/adapter.key", dir);
        CHECK_STR(c->key, want); /* relative to the config's folder */
        snprintf(want, sizeof want, "%s/data", dir);
        CHECK_STR(c->data_dir, want);
        CHECK_INT(c->window, 64);
        CHECK_INT(c->heartbeat_interval_ms, 2000);
        CHECK_INT(c->ack_timeout_ms, 10000);
        CHECK_INT(c->retention_days, 90);
        CHECK(c->schemas == NULL);
    }
    aconfig_free(&c);
    CHECK(c == NULL);
    json_decref(errors);
}

static void every_problem_is_named_by_its_pointer(void)
{
    json_t *errors = errors_of(
        "{\"hub\": {\"endpoint\": \"http://hub\", \"public_key\": \"keys/hub.pub\","
        "          \"key\": \"keys/adapter.key\", \"window\": 0, \"colour\": \"red\","
        "          \"heartbeat_interval_ms\": \"2s\"},"
        " \"source\": \"politie systeem\", \"data_dir\": \"data\", \"log_level\": \"loud\","
        " \"retention\": 5,"
        " \"transports\": {\"filedrop\": {\"dir\": \"drop\", \"settle_ms\": -1, \"speed\": 1},"
        "                 \"carrier-pigeon\": {}},"
        " \"mapping\": {\"prefix\": 3}}",
        NULL);
    CHECK(has_error(errors, "/hub/endpoint", "tcp://"));
    CHECK(has_error(errors, "/hub/window", "out of range 1..10000"));
    CHECK(has_error(errors, "/hub/colour", "unknown key"));
    CHECK(has_error(errors, "/hub/heartbeat_interval_ms", "integer"));
    CHECK(has_error(errors, "/source", "absolute URI"));
    CHECK(has_error(errors, "/log_level", "debug, info, warn, error"));
    CHECK(has_error(errors, "/retention", "unknown key"));
    CHECK(has_error(errors, "/transports/filedrop/settle_ms", "out of range"));
    CHECK(has_error(errors, "/transports/filedrop/speed", "unknown key"));
    CHECK(has_error(errors, "/transports/carrier-pigeon", "unknown transport"));
    CHECK(has_error(errors, "/mapping/prefix", "string"));
    CHECK_INT(json_array_size(errors), 11);
    if (json_array_size(errors) != 11)
        dump(errors);
    json_decref(errors);
}

static void required_keys_and_a_delivering_transport_are_needed(void)
{
    json_t *errors = errors_of("{\"hub\": {}, \"transports\": {}}", NULL);
    CHECK(has_error(errors, "/source", "required"));
    CHECK(has_error(errors, "/data_dir", "required"));
    CHECK(has_error(errors, "/hub/endpoint", "required"));
    CHECK(has_error(errors, "/hub/public_key", "required"));
    CHECK(has_error(errors, "/hub/key", "required"));
    CHECK(has_error(errors, "/transports", "names no transport"));
    json_decref(errors);
    errors = errors_of("[1, 2]", NULL);
    CHECK(has_error(errors, "", "must be an object"));
    json_decref(errors);
    errors = errors_of("{\"hub\": ", NULL);
    CHECK(has_error(errors, "", "line 1"));
    json_decref(errors);
}

static void the_files_it_names_are_checked(void)
{
    char p[160];
    snprintf(p, sizeof p, "%s/keys/adapter.key", dir);
    chmod(p, 0644);
    snprintf(p, sizeof p, "%s/data", dir);
    rmdir(p);
    json_t *errors = errors_of(VALID, NULL);
    CHECK(has_error(errors, "/hub/key", "group or others"));
    CHECK(has_error(errors, "/data_dir", "not a folder"));
    json_decref(errors);
    snprintf(p, sizeof p, "%s/keys/adapter.key", dir);
    chmod(p, 0600);
    snprintf(p, sizeof p, "%s/data", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/drop", dir);
    rmdir(p);
    errors = errors_of(VALID, NULL);
    CHECK(has_error(errors, "/transports/filedrop/dir", "not a folder"));
    CHECK_INT(json_array_size(errors), 1);
    json_decref(errors);
    mkdir(p, 0700);
}

static void timing_keys_must_agree(void)
{
    json_t *errors = errors_of(
        "{\"hub\": {\"endpoint\": \"tcp://127.0.0.1:5570\", \"public_key\": \"keys/hub.pub\","
        "          \"key\": \"keys/adapter.key\", \"heartbeat_interval_ms\": 5000,"
        "          \"heartbeat_timeout_ms\": 4000, \"reconnect_min_ms\": 1000,"
        "          \"reconnect_max_ms\": 500},"
        " \"source\": \"urn:x:y\", \"data_dir\": \"data\","
        " \"delivery_retry_min_ms\": 2000, \"delivery_retry_max_ms\": 1000,"
        " \"transports\": {\"filedrop\": {\"dir\": \"drop\"}}}",
        NULL);
    CHECK(has_error(errors, "/hub/heartbeat_timeout_ms", "longer than"));
    CHECK(has_error(errors, "/hub/reconnect_max_ms", "not be less"));
    CHECK(has_error(errors, "/delivery_retry_max_ms", "not be less"));
    CHECK_INT(json_array_size(errors), 3);
    json_decref(errors);
}

int main(void)
{
    char p[160], err[256];
    snprintf(dir, sizeof dir, "/tmp/ketenhub-adapter-unit-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    const char *subs[] = {"keys", "data", "drop"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        mkdir(p, 0700);
    }
    snprintf(p, sizeof p, "%s/keys/hub", dir);
    if (keyfile_generate(p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    snprintf(p, sizeof p, "%s/keys/adapter", dir);
    if (keyfile_generate(p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    RUN(a_valid_config_loads_with_its_defaults);
    RUN(every_problem_is_named_by_its_pointer);
    RUN(required_keys_and_a_delivering_transport_are_needed);
    RUN(the_files_it_names_are_checked);
    RUN(timing_keys_must_agree);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
