/*
 * validate - local schema check of outgoing events; see validate.h.
 */
#include "validate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "schema.h"
#include "util.h"

#define SCHEMA_FILE_MAX (1024 * 1024)
#define MAX_FILES 256
#define MAX_ERRORS 20

struct validator {
    struct schema_registry *reg;
    int n;
    char *names[MAX_FILES]; /* file name without .json */
    char *uris[MAX_FILES];
};

static int add_file(struct validator *v, const char *dir, const char *name, char *err,
                    size_t errlen)
{
    char *path = util_path_resolve(dir, name);
    size_t len;
    int rc = -1;
    json_t *doc = NULL;
    char *text = path ? util_read_file(path, SCHEMA_FILE_MAX, &len, err, errlen) : NULL;
    if (!text)
        goto done;
    json_error_t jerr;
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!doc) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    char base[4200], serr[512];
    snprintf(base, sizeof base, "file://%s", path);
    if (schema_registry_add(v->reg, doc, base, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "%s: %s", path, serr);
        goto done;
    }
    const char *id = json_string_value(json_object_get(doc, "$id"));
    v->uris[v->n] = strdup(id ? id : base);
    v->names[v->n] = strndup(name, strlen(name) - 5);
    v->n++;
    rc = 0;
done:
    json_decref(doc);
    free(path);
    return rc;
}

struct validator *validator_load(const char *dir, char *err, size_t errlen)
{
    struct validator *v = calloc(1, sizeof *v);
    DIR *d = NULL;
    if (!v || !(v->reg = schema_registry_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(d = opendir(dir))) {
        snprintf(err, errlen, "cannot open schemas folder %s", dir);
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (v->n == MAX_FILES) {
            snprintf(err, errlen, "schemas folder %s has more than %d files", dir, MAX_FILES);
            goto fail;
        }
        if (add_file(v, dir, de->d_name, err, errlen) != 0)
            goto fail;
    }
    closedir(d);
    d = NULL;
    char serr[512];
    if (schema_registry_compile(v->reg, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "schemas in %s: %s", dir, serr);
        goto fail;
    }
    return v;
fail:
    if (d)
        closedir(d);
    validator_free(&v);
    return NULL;
}

void validator_free(struct validator **self_p)
{
    struct validator *v = self_p ? *self_p : NULL;
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        free(v->names[i]);
        free(v->uris[i]);
    }
    schema_registry_free(&v->reg);
    free(v);
    *self_p = NULL;
}

static const struct schema *lookup(const struct validator *v, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->names[i], name) == 0)
            return schema_registry_get(v->reg, v->uris[i]);
    return NULL;
}

int validator_check(const struct validator *v, const json_t *event, json_t *errors)
{
    int ok = 1;
    const struct schema *env = lookup(v, "cloudevent");
    if (env && !schema_validate(env, event, errors, "", MAX_ERRORS))
        ok = 0;
    const char *type = json_string_value(json_object_get(event, "type"));
    const struct schema *data = type && strcmp(type, "cloudevent") != 0 ? lookup(v, type) : NULL;
    if (!data) {
        event_error(errors, "/type", "type", "unknown event type \"%s\"", type ? type : "");
        return 0;
    }
    const json_t *d = json_object_get(event, "data");
    if (d && !schema_validate(data, d, errors, "/data", MAX_ERRORS))
        ok = 0;
    schema_thread_done();
    return ok;
}
