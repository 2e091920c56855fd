/*
 * catalog - loading the schemas folder into one registry; see catalog.h.
 */
#include "catalog.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "util.h"

#define SCHEMA_FILE_MAX (1024 * 1024)
#define ENVELOPE_FILE "cloudevent.json"

struct catalog {
    struct schema_registry *reg;
    char *envelope_uri;
    char *data_uri[TYPE_COUNT];
    const struct schema *envelope;
    const struct schema *data[TYPE_COUNT];
    json_t *signal_doc; /* the signal's schema document, for its field names */
};

/* The URI the registry knows a document by: its $id, else file://<path>. */
static char *document_uri(const json_t *doc, const char *path)
{
    const json_t *id = json_is_object(doc) ? json_object_get(doc, "$id") : NULL;
    if (json_is_string(id))
        return strdup(json_string_value(id));
    size_t n = strlen(path) + 8;
    char *uri = malloc(n);
    if (uri)
        snprintf(uri, n, "file://%s", path);
    return uri;
}

static int add_file(struct catalog *cat, const char *dir, const char *name, char *err,
                    size_t errlen)
{
    char *path = util_path_resolve(dir, name);
    char *uri = NULL;
    json_t *doc = NULL;
    int rc = -1;
    size_t len;
    char *text = util_read_file(path, SCHEMA_FILE_MAX, &len, err, errlen);
    if (!text)
        goto done;
    json_error_t jerr;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!doc) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    uri = document_uri(doc, path);
    char base[4200];
    snprintf(base, sizeof base, "file://%s", path);
    char serr[512];
    if (schema_registry_add(cat->reg, doc, base, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "%s: %s", path, serr);
        goto done;
    }
    if (strcmp(name, ENVELOPE_FILE) == 0) {
        cat->envelope_uri = uri;
        uri = NULL;
    }
    for (int t = 0; t < TYPE_COUNT; t++) {
        size_t tl = strlen(authz_type_name((enum event_type)t));
        if (uri && strncmp(name, authz_type_name((enum event_type)t), tl) == 0 &&
            strcmp(name + tl, ".json") == 0) {
            cat->data_uri[t] = uri;
            uri = NULL;
            if (t == TYPE_SIGNAAL_GEREGISTREERD)
                cat->signal_doc = json_incref(doc);
        }
    }
    rc = 0;
done:
    free(uri);
    json_decref(doc);
    free(path);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct catalog *catalog_load(const char *dir, char *err, size_t errlen)
{
    struct catalog *cat = calloc(1, sizeof *cat);
    char **names = NULL;
    size_t n = 0;
    DIR *d = NULL;
    if (!cat || !(cat->reg = schema_registry_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open schemas folder %s", dir);
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            goto fail;
        names = grown;
        names[n++] = strdup(de->d_name);
    }
    /* A fixed order, so an error names the same file on every start. */
    if (n > 1)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++)
        if (add_file(cat, dir, names[i], err, errlen) != 0)
            goto fail;
    char serr[512];
    if (schema_registry_compile(cat->reg, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "schemas in %s: %s", dir, serr);
        goto fail;
    }
    if (!cat->envelope_uri || !(cat->envelope = schema_registry_get(cat->reg, cat->envelope_uri))) {
        snprintf(err, errlen, "schemas folder %s has no %s (the CloudEvents envelope)", dir,
                 ENVELOPE_FILE);
        goto fail;
    }
    for (int t = 0; t < TYPE_COUNT; t++) {
        if (!cat->data_uri[t] ||
            !(cat->data[t] = schema_registry_get(cat->reg, cat->data_uri[t]))) {
            snprintf(err, errlen, "schemas folder %s has no %s.json for a type the hub accepts",
                     dir, authz_type_name((enum event_type)t));
            goto fail;
        }
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return cat;
fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    catalog_free(&cat);
    return NULL;
}

void catalog_free(struct catalog **self_p)
{
    struct catalog *cat = *self_p;
    if (!cat)
        return;
    schema_registry_free(&cat->reg);
    json_decref(cat->signal_doc);
    free(cat->envelope_uri);
    for (int t = 0; t < TYPE_COUNT; t++)
        free(cat->data_uri[t]);
    free(cat);
    *self_p = NULL;
}

const struct schema *catalog_envelope(const struct catalog *cat)
{
    return cat->envelope;
}

const struct schema *catalog_data(const struct catalog *cat, enum event_type type)
{
    return type < TYPE_COUNT ? cat->data[type] : NULL;
}

int catalog_signal_field(const struct catalog *cat, const char *name)
{
    const json_t *props = json_object_get(cat->signal_doc, "properties");
    return json_object_get(props, name) != NULL;
}
