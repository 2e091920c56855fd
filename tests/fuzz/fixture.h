/*
 * fixture - what the fuzz targets share: a throw-away folder laid out as a
 * hub's config expects it, so a fuzzed or example config can load all the
 * way (keys, secrets, schemas, database folder) instead of stopping at the
 * first missing file.
 *
 *   <dir>/keys/hub.key, hub.pub    a CURVE key pair (ketenctl keygen)
 *   <dir>/keys/store.secret        encryption_key, mode 0600
 *   <dir>/keys/pseudonym.secret    pseudonym_key, mode 0600
 *   <dir>/db/                      the database's folder (nothing opens it)
 *   <dir>/schemas -> $KETENHUB_SCHEMAS (or ./schemas)
 *
 * Seeds in tests/data/fuzz/ name these paths relative to the config file,
 * which the targets write into <dir>. Header-only: run.sh builds each target
 * from one .c file. The folder is made once per process and removed when it
 * exits normally (atexit; libFuzzer's -max_total_time and -runs end that
 * way); a crashed run leaves it in /tmp.
 */
#ifndef FUZZ_FIXTURE_H
#define FUZZ_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "keyfile.h"

static char fixture_root[PATH_MAX];

/* Removes what the fixture made (a fixed list: nothing else is written). */
static void fixture_cleanup(void)
{
    static const char *const files[] = {
        "keys/hub.key",
        "keys/hub.pub",
        "keys/store.secret",
        "keys/pseudonym.secret",
        "keys/webhook.secret",
        "keys/webhook.token",
        "keys/smtp.password",
        "schemas",
        "example.json",
        "config.json",
        "keys",
        "db",
    };
    char path[PATH_MAX + 64];
    if (strncmp(fixture_root, "/tmp/ketenhub-fuzz-", 19) != 0)
        return;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", fixture_root, files[i]);
        remove(path); /* best effort: files, the symlink, then the emptied folders */
    }
    rmdir(fixture_root);
}

static void fixture_die(const char *what)
{
    fprintf(stderr, "fuzz fixture: %s\n", what);
    abort();
}

/* The fixture folder (made on the first call). */
static const char *fixture_dir(void)
{
    if (fixture_root[0])
        return fixture_root;
    char tmpl[] = "/tmp/ketenhub-fuzz-XXXXXX", path[PATH_MAX + 32], err[512];
    if (!mkdtemp(tmpl))
        fixture_die("mkdtemp failed");
    snprintf(fixture_root, sizeof fixture_root, "%s", tmpl);
    atexit(fixture_cleanup);
    snprintf(path, sizeof path, "%s/keys", tmpl);
    if (mkdir(path, 0700) != 0)
        fixture_die("mkdir keys failed");
    snprintf(path, sizeof path, "%s/db", tmpl);
    if (mkdir(path, 0700) != 0)
        fixture_die("mkdir db failed");
    snprintf(path, sizeof path, "%s/keys/hub", tmpl);
    if (keyfile_generate(path, err, sizeof err) != 0)
        fixture_die(err);
    snprintf(path, sizeof path, "%s/keys/store.secret", tmpl);
    if (keyfile_secret_generate(path, err, sizeof err) != 0)
        fixture_die(err);
    snprintf(path, sizeof path, "%s/keys/pseudonym.secret", tmpl);
    if (keyfile_secret_generate(path, err, sizeof err) != 0)
        fixture_die(err);
    const char *env = getenv("KETENHUB_SCHEMAS");
    char schemas[PATH_MAX];
    if (!realpath(env ? env : "schemas", schemas))
        fixture_die("schemas folder not found (set KETENHUB_SCHEMAS)");
    snprintf(path, sizeof path, "%s/schemas", tmpl);
    if (symlink(schemas, path) != 0)
        fixture_die("symlink schemas failed");
    return fixture_root;
}

/* Writes `len` bytes to <dir>/<name>; returns the path (static buffer). */
static const char *fixture_write(const char *name, const void *data, size_t len)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f)
        fixture_die("cannot write a fixture file");
    if (len && fwrite(data, 1, len, f) != len)
        fixture_die("short write");
    fclose(f);
    return path;
}

/*
 * The example config (config/ketenhub.example.json, or $KETENHUB_EXAMPLE)
 * with its file paths pointed into the fixture, loaded. Aborts when it does
 * not load: a target that silently ran without routing rules would fuzz
 * nothing of them.
 */
static struct config *fixture_example_config(void)
{
    const char *dir = fixture_dir();
    const char *src = getenv("KETENHUB_EXAMPLE");
    json_error_t jerr;
    json_t *root = json_load_file(src ? src : "config/ketenhub.example.json", 0, &jerr);
    if (!json_is_object(root))
        fixture_die("cannot read config/ketenhub.example.json (set KETENHUB_EXAMPLE)");
    json_object_set_new(root, "database", json_string("db/ketenhub.db"));
    json_object_set_new(root, "schemas", json_string("schemas"));
    json_object_set_new(root, "server_key", json_string("keys/hub.key"));
    json_object_set_new(root, "encryption_key", json_string("keys/store.secret"));
    json_object_set_new(root, "pseudonym_key", json_string("keys/pseudonym.secret"));
    json_object_del(root, "admin_socket");
    /* Alerting secrets are files the fixture does not have; the example's
     * escalation needs them, so they are written here. */
    json_t *alerting = json_object_get(root, "alerting");
    if (json_is_object(alerting)) {
        static const char secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
        static const char pw[] = "fuzz\n";
        char path[PATH_MAX + 64];
        fixture_write("keys/webhook.secret", secret, sizeof secret - 1);
        fixture_write("keys/webhook.token", pw, sizeof pw - 1);
        fixture_write("keys/smtp.password", pw, sizeof pw - 1);
        const char *files[] = {"keys/webhook.secret", "keys/webhook.token", "keys/smtp.password"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[i]);
            chmod(path, 0600);
        }
        if (json_object_get(alerting, "webhook_secret_file"))
            json_object_set_new(alerting, "webhook_secret_file", json_string(files[0]));
        if (json_object_get(alerting, "webhook_token_file"))
            json_object_set_new(alerting, "webhook_token_file", json_string(files[1]));
        if (json_object_get(alerting, "smtp_password_file"))
            json_object_set_new(alerting, "smtp_password_file", json_string(files[2]));
        json_object_del(alerting, "ca_file");
    }
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text)
        fixture_die("out of memory");
    const char *path = fixture_write("example.json", text, strlen(text));
    free(text);
    char **problems = NULL;
    size_t n = 0;
    struct config *cfg = config_load(path, &problems, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "fuzz fixture: example config: %s\n", problems[i]);
    config_problems_free(problems, n);
    if (!cfg)
        fixture_die("the example config does not load in the fixture");
    return cfg;
}

#endif
