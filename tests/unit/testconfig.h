/*
 * testconfig.h - loading config/ketenhub.example.json in a unit test, with
 * its paths pointed into the test's own folder. Header-only, like testutil.h;
 * for the runners that link the hub's config module.
 */
#ifndef TESTCONFIG_H
#define TESTCONFIG_H

#include <stdio.h>
#include <sys/stat.h>
#include <jansson.h>

#include "config.h"
#include "testutil.h"

/* Loads <root>/config/ketenhub.example.json with database, schemas,
 * server_key, admin_socket and the alerting secret pointed into `dir`
 * (server key: <dir>/hub.key, which the caller made; the secret is written).
 * Prints any config problem. Returns the config (caller frees), or NULL. */
static inline struct config *tc_load_example(const char *root, const char *schemas, const char *dir)
{
    char path[1400], out[256], **p = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/config/ketenhub.example.json", root);
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        fprintf(stderr, "  %s: %s\n", path, jerr.text);
        return NULL;
    }
    json_object_set_new(doc, "database", json_string("hub.db"));
    json_object_set_new(doc, "schemas", json_string(schemas));
    json_object_set_new(doc, "server_key", json_string("hub.key"));
    tu_secrets(dir);
    json_object_set_new(doc, "encryption_key", json_string("keys/store.secret"));
    json_object_set_new(doc, "pseudonym_key", json_string("keys/pseudonym.secret"));
    /* The alerting secret lives in run/ (made by make run): give it one here. */
    char secret[300];
    snprintf(secret, sizeof secret, "%s/webhook.secret", dir);
    FILE *f = fopen(secret, "w");
    if (!f)
        return NULL;
    fputs("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", f);
    fclose(f);
    chmod(secret, 0600);
    json_t *alerting = json_object_get(doc, "alerting");
    if (alerting)
        json_object_set_new(alerting, "webhook_secret_file", json_string("webhook.secret"));
    json_object_set_new(doc, "admin_socket", json_string("ketenhub.sock"));
    snprintf(out, sizeof out, "%s/example.json", dir);
    int rc = json_dump_file(doc, out, JSON_INDENT(2));
    json_decref(doc);
    if (rc != 0)
        return NULL;
    struct config *cfg = config_load(out, &p, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", p[i]);
    config_problems_free(p, n);
    return cfg;
}

#endif
