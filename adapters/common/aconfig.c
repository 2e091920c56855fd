/*
 * aconfig - an adapter instance's config; see aconfig.h and docs/adapters.md.
 */
#include "aconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "util.h"

void adapter_cfg_error(json_t *errors, const char *pointer, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_pack("{s:s, s:s}", "path", pointer, "message", msg));
}

static const char *type_name(enum adapter_cfg_type t)
{
    switch (t) {
    case ADAPTER_CFG_STRING:
        return "a string";
    case ADAPTER_CFG_INT:
        return "an integer";
    case ADAPTER_CFG_BOOL:
        return "true or false";
    case ADAPTER_CFG_OBJECT:
        return "an object";
    case ADAPTER_CFG_ARRAY:
        return "an array";
    }
    return "?";
}

static int has_type(const json_t *v, enum adapter_cfg_type t)
{
    switch (t) {
    case ADAPTER_CFG_STRING:
        return json_is_string(v);
    case ADAPTER_CFG_INT:
        return json_is_integer(v);
    case ADAPTER_CFG_BOOL:
        return json_is_boolean(v);
    case ADAPTER_CFG_OBJECT:
        return json_is_object(v);
    case ADAPTER_CFG_ARRAY:
        return json_is_array(v);
    }
    return 0;
}

int adapter_cfg_check(const json_t *obj, const char *pointer, const struct adapter_cfg_key *keys,
                      json_t *errors)
{
    char p[512];
    size_t before = json_array_size(errors);
    if (!json_is_object(obj)) {
        adapter_cfg_error(errors, pointer, "must be an object");
        return -1;
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)obj, name, v)
    {
        const struct adapter_cfg_key *k = keys;
        while (k->name && strcmp(k->name, name) != 0)
            k++;
        snprintf(p, sizeof p, "%s/%s", pointer, name);
        if (!k->name) {
            adapter_cfg_error(errors, p, "unknown key");
            continue;
        }
        if (!has_type(v, k->type)) {
            adapter_cfg_error(errors, p, "must be %s", type_name(k->type));
            continue;
        }
        if (k->type == ADAPTER_CFG_INT &&
            (json_integer_value(v) < k->min || json_integer_value(v) > k->max))
            adapter_cfg_error(errors, p, "%lld is out of range %lld..%lld",
                              (long long)json_integer_value(v), k->min, k->max);
        if (k->type == ADAPTER_CFG_STRING && json_string_length(v) == 0)
            adapter_cfg_error(errors, p, "must not be empty");
    }
    for (const struct adapter_cfg_key *k = keys; k->name; k++) {
        if (k->required && !json_object_get(obj, k->name)) {
            snprintf(p, sizeof p, "%s/%s", pointer, k->name);
            adapter_cfg_error(errors, p, "missing (required)");
        }
    }
    return json_array_size(errors) == before ? 0 : -1;
}

static const struct adapter_cfg_key TOP_KEYS[] = {
    {"hub", ADAPTER_CFG_OBJECT, 1, 0, 0},
    {"source", ADAPTER_CFG_STRING, 1, 0, 0},
    {"data_dir", ADAPTER_CFG_STRING, 1, 0, 0},
    {"schemas", ADAPTER_CFG_STRING, 0, 0, 0},
    {"log_level", ADAPTER_CFG_STRING, 0, 0, 0},
    {"delivery_retry_min_ms", ADAPTER_CFG_INT, 0, 10, 3600000},
    {"delivery_retry_max_ms", ADAPTER_CFG_INT, 0, 10, 86400000},
    {"retention_days", ADAPTER_CFG_INT, 0, 1, 3650},
    {"transports", ADAPTER_CFG_OBJECT, 1, 0, 0},
    {"mapping", ADAPTER_CFG_OBJECT, 0, 0, 0},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

static const struct adapter_cfg_key HUB_KEYS[] = {
    {"endpoint", ADAPTER_CFG_STRING, 1, 0, 0},
    {"public_key", ADAPTER_CFG_STRING, 1, 0, 0},
    {"key", ADAPTER_CFG_STRING, 1, 0, 0},
    {"heartbeat_interval_ms", ADAPTER_CFG_INT, 0, 100, 60000},
    {"heartbeat_timeout_ms", ADAPTER_CFG_INT, 0, 1000, 600000},
    {"ack_timeout_ms", ADAPTER_CFG_INT, 0, 100, 3600000},
    {"window", ADAPTER_CFG_INT, 0, 1, 10000},
    {"reconnect_min_ms", ADAPTER_CFG_INT, 0, 10, 60000},
    {"reconnect_max_ms", ADAPTER_CFG_INT, 0, 10, 3600000},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

static long get_int(const json_t *obj, const char *key, long def)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long)json_integer_value(v) : def;
}

static char *get_path(const struct aconfig *c, const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? util_path_resolve(c->base_dir, s) : NULL;
}

const struct adapter_transport_ops *
aconfig_transport(const struct adapter_transport_ops *const *transports, const char *name)
{
    for (; transports && *transports; transports++)
        if (strcmp((*transports)->name, name) == 0)
            return *transports;
    return NULL;
}

/* A URI with a scheme ("urn:...", "https://..."), no spaces or controls. */
static int absolute_uri(const char *s)
{
    const char *p = s;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':' || p[1] == '\0')
        return 0;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>')
            return 0;
    return 1;
}

static void check_files(struct aconfig *c, json_t *errors)
{
    char err[512], pub[41], sec[41];
    struct stat sb;
    if (keyfile_read_public(c->hub_public_key, pub, err, sizeof err) != 0)
        adapter_cfg_error(errors, "/hub/public_key", "%s", err);
    if (keyfile_read_pair(c->key, pub, sec, err, sizeof err) != 0)
        adapter_cfg_error(errors, "/hub/key", "%s", err);
    memset(sec, 0, sizeof sec);
    if (stat(c->data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        adapter_cfg_error(errors, "/data_dir", "%s is not a folder", c->data_dir);
    else if (access(c->data_dir, W_OK) != 0)
        adapter_cfg_error(errors, "/data_dir", "%s is not writable", c->data_dir);
    if (c->schemas && (stat(c->schemas, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        adapter_cfg_error(errors, "/schemas", "%s is not a folder", c->schemas);
}

struct aconfig *aconfig_load(const char *path, const struct adapter_mapping *mapping,
                             const struct adapter_transport_ops *const *transports,
                             int check_file_refs, json_t *errors)
{
    json_error_t jerr;
    size_t before = json_array_size(errors);
    struct aconfig *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->root) {
        adapter_cfg_error(errors, "", "%s: line %d column %d: %s", path, jerr.line, jerr.column,
                          jerr.text);
        goto fail;
    }
    c->base_dir = util_dirname(path);
    if (adapter_cfg_check(c->root, "", TOP_KEYS, errors) != 0 && !json_is_object(c->root))
        goto fail;
    const json_t *hub = json_object_get(c->root, "hub");
    if (json_is_object(hub))
        adapter_cfg_check(hub, "/hub", HUB_KEYS, errors);
    const char *ep = json_string_value(json_object_get(hub, "endpoint"));
    if (ep && strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0)
        adapter_cfg_error(errors, "/hub/endpoint", "must start with tcp:// or ipc://");
    c->endpoint = ep ? strdup(ep) : NULL;
    c->hub_public_key = get_path(c, hub, "public_key");
    c->key = get_path(c, hub, "key");
    c->heartbeat_interval_ms = get_int(hub, "heartbeat_interval_ms", 2000);
    c->heartbeat_timeout_ms = get_int(hub, "heartbeat_timeout_ms", 10000);
    if (c->heartbeat_timeout_ms <= c->heartbeat_interval_ms)
        adapter_cfg_error(errors, "/hub/heartbeat_timeout_ms",
                          "must be longer than heartbeat_interval_ms (%ld)",
                          c->heartbeat_interval_ms);
    c->ack_timeout_ms = get_int(hub, "ack_timeout_ms", 10000);
    c->window = get_int(hub, "window", 64);
    c->reconnect_min_ms = get_int(hub, "reconnect_min_ms", 100);
    c->reconnect_max_ms = get_int(hub, "reconnect_max_ms", 10000);
    if (c->reconnect_max_ms < c->reconnect_min_ms)
        adapter_cfg_error(errors, "/hub/reconnect_max_ms", "must not be less than %ld",
                          c->reconnect_min_ms);

    const char *src = json_string_value(json_object_get(c->root, "source"));
    if (src && (strlen(src) > 256 || !absolute_uri(src)))
        adapter_cfg_error(errors, "/source",
                          "must be an absolute URI of at most 256 characters, e.g. "
                          "urn:nld:oin:<OIN>:systeem:<name>");
    c->source = src ? strdup(src) : NULL;
    c->data_dir = get_path(c, c->root, "data_dir");
    c->schemas = get_path(c, c->root, "schemas");
    const char *lvl = json_string_value(json_object_get(c->root, "log_level"));
    c->log_level = LOG_INFO;
    if (lvl && log_parse_level(lvl, &c->log_level) != 0)
        adapter_cfg_error(errors, "/log_level", "must be one of debug, info, warn, error");
    c->delivery_retry_min_ms = get_int(c->root, "delivery_retry_min_ms", 1000);
    c->delivery_retry_max_ms = get_int(c->root, "delivery_retry_max_ms", 300000);
    if (c->delivery_retry_max_ms < c->delivery_retry_min_ms)
        adapter_cfg_error(errors, "/delivery_retry_max_ms", "must not be less than %ld",
                          c->delivery_retry_min_ms);
    c->retention_days = get_int(c->root, "retention_days", 90);

    c->transports = json_object_get(c->root, "transports");
    if (json_is_object(c->transports)) {
        int delivering = 0;
        const char *name;
        const json_t *section;
        if (json_object_size(c->transports) == 0)
            adapter_cfg_error(errors, "/transports", "names no transport");
        json_object_foreach((json_t *)c->transports, name, section)
        {
            char p[256];
            snprintf(p, sizeof p, "/transports/%s", name);
            const struct adapter_transport_ops *ops = aconfig_transport(transports, name);
            if (!ops) {
                char known[256] = "";
                for (const struct adapter_transport_ops *const *t = transports; t && *t; t++)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                             known[0] ? ", " : "", (*t)->name);
                adapter_cfg_error(errors, p, "unknown transport for adapter-%s (known: %s)",
                                  mapping->name, known);
                continue;
            }
            if (!json_is_object(section)) {
                adapter_cfg_error(errors, p, "must be an object");
                continue;
            }
            if (ops->deliver)
                delivering++;
            if (ops->check_config)
                ops->check_config(section, p, c->base_dir, errors);
        }
        if (delivering != 1 && json_object_size(c->transports) > 0)
            adapter_cfg_error(errors, "/transports",
                              "exactly one transport must deliver to the partner (has %d)",
                              delivering);
    }
    c->mapping = json_object_get(c->root, "mapping");
    if (mapping->check_config)
        mapping->check_config(c->mapping, "/mapping", errors);
    else if (c->mapping && json_object_size(c->mapping) > 0)
        adapter_cfg_error(errors, "/mapping", "adapter-%s takes no mapping settings",
                          mapping->name);

    if (check_file_refs && c->hub_public_key && c->key && c->data_dir)
        check_files(c, errors);
    if (json_array_size(errors) != before)
        goto fail;
    return c;
fail:
    aconfig_free(&c);
    return NULL;
}

void aconfig_free(struct aconfig **self_p)
{
    struct aconfig *c = self_p ? *self_p : NULL;
    if (!c)
        return;
    json_decref(c->root);
    free(c->base_dir);
    free(c->endpoint);
    free(c->hub_public_key);
    free(c->key);
    free(c->source);
    free(c->data_dir);
    free(c->schemas);
    free(c);
    *self_p = NULL;
}
