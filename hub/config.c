/*
 * config - the hub's config file: one table of keys, every problem reported;
 * see config.h. Checking is separate from use: nothing here opens sockets or
 * databases, so `ketenhubd --check-config` is safe to run anywhere.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "duration.h"
#include "escalate.h"
#include "schema_format.h"
#include "keyfile.h"
#include "rota.h"
#include "route.h"
#include "util.h"

#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

enum key_type {
    KEY_STRING,
    KEY_PATH,
    KEY_INT,
    KEY_LOG_LEVEL,
    KEY_PARTNERS,
    KEY_AUTHORISATION,
    KEY_POLICIES,
    KEY_DEFAULT_POLICY,
    KEY_MUNICIPALITIES,
    KEY_PROFILES,
    KEY_ROUTES,
    KEY_OFFICERS,
    KEY_ROTA,
    KEY_ESCALATION, /* read by escalate_config_load after the others */
    KEY_DURATION,   /* an ISO 8601 duration (lib/duration.h), kept in ms; min/max/def in ms */
    KEY_RETENTION   /* the "retention" object (docs/retention.md) */
};

struct key_spec {
    const char *name;
    enum key_type type;
    int required;
    long min, max, def; /* KEY_INT only */
    size_t offset;
};

#define OFF(field) offsetof(struct config, field)

/* Every key the config may hold. docs/config.md documents each one. */
static const struct key_spec keys[] = {
    {"listen", KEY_STRING, 1, 0, 0, 0, OFF(listen)},
    {"database", KEY_PATH, 1, 0, 0, 0, OFF(database)},
    {"schemas", KEY_PATH, 1, 0, 0, 0, OFF(schemas)},
    {"server_key", KEY_PATH, 1, 0, 0, 0, OFF(server_key)},
    {"encryption_key", KEY_PATH, 1, 0, 0, 0, OFF(encryption_key)},
    {"pseudonym_key", KEY_PATH, 1, 0, 0, 0, OFF(pseudonym_key)},
    {"partners", KEY_PARTNERS, 1, 0, 0, 0, 0},
    {"authorisation", KEY_AUTHORISATION, 0, 0, 0, 0, 0},
    {"max_message_size", KEY_INT, 0, 1024, 16 * 1024 * 1024, 256 * 1024, OFF(max_message_size)},
    {"max_json_depth", KEY_INT, 0, 2, 512, 32, OFF(max_json_depth)},
    {"max_errors", KEY_INT, 0, 1, 1000, 20, OFF(max_errors)},
    {"group_commit_max", KEY_INT, 0, 1, 100000, 1024, OFF(group_commit_max)},
    {"heartbeat_interval_ms", KEY_INT, 0, 0, 3600000, 5000, OFF(heartbeat_interval_ms)},
    {"heartbeat_timeout_ms", KEY_INT, 0, 0, 3600000, 15000, OFF(heartbeat_timeout_ms)},
    {"log_level", KEY_LOG_LEVEL, 0, 0, 0, 0, 0},
    {"source", KEY_STRING, 0, 0, 0, 0, OFF(source)},
    /* Order matters below: each of these may name what the ones before define. */
    {"policies", KEY_POLICIES, 0, 0, 0, 0, 0},
    {"default_policy", KEY_DEFAULT_POLICY, 0, 0, 0, 0, 0},
    {"municipalities", KEY_MUNICIPALITIES, 0, 0, 0, 0, 0},
    {"profiles", KEY_PROFILES, 0, 0, 0, 0, 0},
    {"routes", KEY_ROUTES, 0, 0, 0, 0, 0},
    {"delivery_window", KEY_INT, 0, 1, 10000, 256, OFF(delivery_window)},
    {"delivery_ack_timeout_ms", KEY_INT, 0, 100, 3600000, 10000, OFF(delivery_ack_timeout_ms)},
    {"delivery_max_attempts", KEY_INT, 0, 1, 1000, 8, OFF(delivery_max_attempts)},
    {"delivery_backoff_max_ms", KEY_INT, 0, 100, 86400000, 300000, OFF(delivery_backoff_max_ms)},
    {"session_timeout_ms", KEY_INT, 0, 1000, 3600000, 15000, OFF(session_timeout_ms)},
    /* The rota names officers: rota.c loads the two together. */
    {"officers", KEY_OFFICERS, 0, 0, 0, 0, 0},
    {"rota", KEY_ROTA, 0, 0, 0, 0, 0},
    {"teams", KEY_ESCALATION, 0, 0, 0, 0, 0},
    {"alerting", KEY_ESCALATION, 0, 0, 0, 0, 0},
    {"admin_socket", KEY_ESCALATION, 0, 0, 0, 0, 0},
    {"audit_verify_at_start", KEY_INT, 0, 0, 1000000000, 1000, OFF(audit_verify_at_start)},
    {"audit_anchor_interval", KEY_DURATION, 0, 60000, 86400000, 3600000,
     OFF(audit_anchor_interval_ms)},
    {"retention", KEY_RETENTION, 0, 0, 0, 0, 0},
};

static const char *const partner_keys[] = {"id", "name", "role", "public_key"};

struct config_problems {
    char **list;
    size_t n;
};

void config_problem(struct config_problems *p, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **grown = realloc(p->list, (p->n + 1) * sizeof *grown);
    if (!grown)
        return;
    p->list = grown;
    p->list[p->n++] = strdup(buf);
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int config_valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '-' || c == '_' || c == '.'));
        if (!ok)
            return 0;
    }
    return 1;
}

static void load_partners(struct config *cfg, const json_t *arr, struct config_problems *p)
{
    if (!json_is_array(arr)) {
        config_problem(p, "/partners: must be an array, got %s", json_type_name(arr));
        return;
    }
    size_t n = json_array_size(arr);
    cfg->partners = calloc(n ? n : 1, sizeof *cfg->partners);
    if (!cfg->partners) {
        config_problem(p, "/partners: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        struct partner *pt = &cfg->partners[cfg->npartners];
        if (!json_is_object(o)) {
            config_problem(p, "/partners/%zu: must be an object, got %s", i, json_type_name(o));
            continue;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)o, k, v)
        {
            int known = 0;
            for (size_t j = 0; j < sizeof partner_keys / sizeof *partner_keys; j++)
                known |= strcmp(k, partner_keys[j]) == 0;
            if (!known)
                config_problem(
                    p, "/partners/%zu/%s: unknown key (allowed: id, name, role, public_key)", i, k);
        }
        const json_t *id = json_object_get(o, "id");
        const json_t *name = json_object_get(o, "name");
        const json_t *role = json_object_get(o, "role");
        const json_t *key = json_object_get(o, "public_key");
        int ok = 1;
        if (!json_is_string(id) || !config_valid_id(json_string_value(id))) {
            config_problem(
                p, "/partners/%zu/id: %s", i,
                id ? "must be 1-64 characters a-z 0-9 - _ . starting with a letter or digit"
                   : "required key is missing");
            ok = 0;
        }
        if (name && !json_is_string(name)) {
            config_problem(p, "/partners/%zu/name: must be a string, got %s", i,
                           json_type_name(name));
            ok = 0;
        }
        if (!json_is_string(role) || authz_role_parse(json_string_value(role), &pt->role) != 0) {
            config_problem(p, "/partners/%zu/role: %s", i,
                           role ? "must be one of police, municipality, comensha, care, coordinator"
                                : "required key is missing");
            ok = 0;
        }
        if (!json_is_string(key) || !keyfile_valid_z85(json_string_value(key))) {
            config_problem(
                p, "/partners/%zu/public_key: %s", i,
                key ? "must be a Z85 CURVE public key (40 characters, from ketenctl keygen)"
                    : "required key is missing");
            ok = 0;
        }
        if (!ok)
            continue;
        for (size_t j = 0; j < cfg->npartners; j++) {
            if (strcmp(cfg->partners[j].id, json_string_value(id)) == 0) {
                config_problem(p, "/partners/%zu/id: duplicate partner id \"%s\"", i,
                               json_string_value(id));
                ok = 0;
            }
            if (strcmp(cfg->partners[j].public_z85, json_string_value(key)) == 0) {
                config_problem(p, "/partners/%zu/public_key: same key as partner \"%s\"", i,
                               cfg->partners[j].id);
                ok = 0;
            }
        }
        if (!ok)
            continue;
        pt->id = strdup(json_string_value(id));
        pt->name = name ? strdup(json_string_value(name)) : NULL;
        snprintf(pt->public_z85, sizeof pt->public_z85, "%s", json_string_value(key));
        zmq_z85_decode(pt->public_key, pt->public_z85);
        cfg->npartners++;
    }
}

static void load_authorisation(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    if (!json_is_object(obj)) {
        config_problem(p, "/authorisation: must be an object, got %s", json_type_name(obj));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        enum role role;
        if (authz_role_parse(k, &role) != 0) {
            config_problem(p, "/authorisation/%s: unknown role", k);
            continue;
        }
        if (!json_is_array(v)) {
            config_problem(p, "/authorisation/%s: must be an array of event types", k);
            continue;
        }
        unsigned set = 0;
        size_t i;
        json_t *t;
        json_array_foreach(v, i, t)
        {
            enum event_type type;
            if (!json_is_string(t) || authz_type_parse(json_string_value(t), &type) != 0) {
                config_problem(p, "/authorisation/%s/%zu: unknown event type%s%s", k, i,
                               json_is_string(t) ? " " : "",
                               json_is_string(t) ? json_string_value(t) : "");
                continue;
            }
            set |= 1u << type;
        }
        cfg->authorisation[role] = set;
    }
}

static void load_policies(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        config_problem(p, "/policies: must be a non-empty object of policies");
        return;
    }
    cfg->policies = calloc(json_object_size(obj), sizeof *cfg->policies);
    if (!cfg->policies)
        return;
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)obj, name, v)
    {
        if (!json_is_object(v)) {
            config_problem(p, "/policies/%s: must be an object with receipt and decision", name);
            continue;
        }
        struct policy *pol = &cfg->policies[cfg->npolicies];
        int ok = 1;
        const char *k;
        json_t *d;
        json_object_foreach(v, k, d)
        {
            int64_t *into = strcmp(k, "receipt") == 0    ? &pol->receipt_ms
                            : strcmp(k, "decision") == 0 ? &pol->decision_ms
                                                         : NULL;
            char err[160];
            if (strcmp(k, "escalation") == 0) {
                pol->escalation_json = json_incref(d); /* read after the officers */
            } else if (!into) {
                config_problem(p,
                               "/policies/%s/%s: unknown key (allowed: receipt, decision, "
                               "escalation)",
                               name, k);
                ok = 0;
            } else if (!json_is_string(d) ||
                       duration_parse(json_string_value(d), into, err, sizeof err) != 0) {
                config_problem(p, "/policies/%s/%s: %s", name, k,
                               json_is_string(d) ? err : "must be an ISO 8601 duration string");
                ok = 0;
            }
        }
        if (!json_object_get(v, "receipt") || !json_object_get(v, "decision")) {
            config_problem(p, "/policies/%s: needs both receipt and decision (ISO 8601 durations)",
                           name);
            ok = 0;
        } else if (ok && (pol->receipt_ms <= 0 || pol->decision_ms <= 0)) {
            config_problem(p, "/policies/%s: a deadline of zero would be missed at once", name);
            ok = 0;
        } else if (ok && pol->decision_ms < pol->receipt_ms) {
            /* Accepting or declining a referral confirms its receipt too. */
            config_problem(p, "/policies/%s/decision: is shorter than receipt", name);
            ok = 0;
        }
        if (ok) {
            pol->name = strdup(name);
            cfg->npolicies++;
        } else {
            json_decref(pol->escalation_json);
            pol->escalation_json = NULL;
        }
    }
}

static void load_default_policy(struct config *cfg, const json_t *v, struct config_problems *p)
{
    if (!json_is_string(v) || !config_policy(cfg, json_string_value(v)))
        config_problem(p, "/default_policy: must name one of the policies");
    else
        cfg->default_policy = config_policy(cfg, json_string_value(v));
}

static void load_municipalities(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    if (!json_is_object(obj)) {
        config_problem(p, "/municipalities: must be an object from CBS code to partner id");
        return;
    }
    cfg->municipalities = calloc(json_object_size(obj) + 1, sizeof *cfg->municipalities);
    if (!cfg->municipalities)
        return;
    const char *code;
    json_t *v;
    json_object_foreach((json_t *)obj, code, v)
    {
        int code_ok = strlen(code) == 6 && code[0] == 'G' && code[1] == 'M';
        for (int i = 2; code_ok && i < 6; i++)
            code_ok = code[i] >= '0' && code[i] <= '9';
        const struct partner *pt =
            json_is_string(v) ? config_partner(cfg, json_string_value(v)) : NULL;
        if (!code_ok) {
            config_problem(p, "/municipalities/%s: not a CBS municipality code (GM + 4 digits)",
                           code);
        } else if (!pt) {
            config_problem(p, "/municipalities/%s: must name a partner id", code);
        } else if (pt->role != ROLE_MUNICIPALITY) {
            config_problem(p, "/municipalities/%s: partner \"%s\" does not have role municipality",
                           code, pt->id);
        } else {
            struct municipality *m = &cfg->municipalities[cfg->nmunicipalities++];
            snprintf(m->code, sizeof m->code, "%s", code);
            m->partner = pt;
        }
    }
}

static void load_profiles(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    if (!json_is_object(obj)) {
        config_problem(p, "/profiles: must be an object from role to a list of signal fields");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        enum role role;
        if (authz_role_parse(k, &role) != 0) {
            config_problem(p, "/profiles/%s: unknown role", k);
            continue;
        }
        if (!json_is_array(v)) {
            config_problem(p, "/profiles/%s: must be an array of signal field names", k);
            continue;
        }
        cfg->profiles[role] = calloc(json_array_size(v) + 1, sizeof(char *));
        size_t i;
        json_t *f;
        json_array_foreach(v, i, f)
        {
            if (!json_is_string(f)) {
                config_problem(p, "/profiles/%s/%zu: must be a field name", k, i);
                continue;
            }
            if (cfg->profiles[role])
                cfg->profiles[role][cfg->nprofile[role]++] = strdup(json_string_value(f));
        }
    }
}

/* Built in when the config names no policies, so every signal still gets
 * deadlines: a day to confirm receipt, five to accept or decline. */
static void default_policies(struct config *cfg)
{
    cfg->policies = calloc(1, sizeof *cfg->policies);
    if (!cfg->policies)
        return;
    cfg->policies[0].name = strdup("standaard");
    cfg->policies[0].receipt_ms = 24LL * 3600 * 1000;
    cfg->policies[0].decision_ms = 5LL * 24 * 3600 * 1000;
    cfg->npolicies = 1;
}

/* "retention": {"after_closed", "without_referral" (both required), "interval"
 * (default PT1H)}: ISO 8601 durations (docs/retention.md). */
static void load_retention(struct config *cfg, const json_t *v, struct config_problems *p)
{
    static const struct {
        const char *name;
        int required;
        int64_t min, max, def;
    } fields[] = {
        {"after_closed", 1, 0, DURATION_LONG_MAX_MS, 0},
        {"without_referral", 1, 0, DURATION_LONG_MAX_MS, 0},
        {"interval", 0, 60000, 86400000, 3600000},
    };
    int64_t *into[] = {&cfg->retention_after_closed_ms, &cfg->retention_without_referral_ms,
                       &cfg->retention_interval_ms};
    if (!json_is_object(v)) {
        config_problem(p, "/retention: must be an object, got %s", json_type_name(v));
        return;
    }
    const char *k;
    const json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        int known = 0;
        for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
            known |= strcmp(k, fields[i].name) == 0;
        if (!known)
            config_problem(p,
                           "/retention/%s: unknown key (known: after_closed, "
                           "without_referral, interval)",
                           k);
    }
    int ok = 1;
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const json_t *f = json_object_get(v, fields[i].name);
        char derr[160] = "must be an ISO 8601 duration string (e.g. P365D)";
        int64_t ms = fields[i].def;
        if (!f) {
            if (fields[i].required) {
                config_problem(p, "/retention/%s: required key is missing", fields[i].name);
                ok = 0;
            }
        } else if (!json_is_string(f) || duration_parse_max(json_string_value(f), fields[i].max,
                                                            &ms, derr, sizeof derr) != 0) {
            config_problem(p, "/retention/%s: %s", fields[i].name, derr);
            ok = 0;
        } else if (ms < fields[i].min) {
            config_problem(p, "/retention/%s: \"%s\" is shorter than the least, %lld ms",
                           fields[i].name, json_string_value(f), (long long)fields[i].min);
            ok = 0;
        }
        *into[i] = ms;
    }
    cfg->retention = ok;
}

/* A secret key file: readable, mode 0600, the right format, and not in the
 * database's folder (a copy of that folder must not carry its own key). */
static void check_secret(const struct config *cfg, const char *name, const char *path,
                         unsigned char *key, struct config_problems *p)
{
    char err[512];
    if (!path)
        return;
    if (keyfile_secret_read(path, key, err, sizeof err) != 0) {
        config_problem(p, "/%s: %s", name, err);
        return;
    }
    if (cfg->database) {
        char *kdir = util_dirname(path), *ddir = util_dirname(cfg->database);
        if (kdir && ddir && util_same_file(kdir, ddir) == 1)
            config_problem(p,
                           "/%s: %s is in the database's folder; keep keys in another folder "
                           "so that a copy of the database does not carry its key",
                           name, path);
        free(kdir);
        free(ddir);
    }
}

static void check_files(struct config *cfg, struct config_problems *p)
{
    struct stat st;
    char err[512];
    if (cfg->schemas && (stat(cfg->schemas, &st) != 0 || !S_ISDIR(st.st_mode)))
        config_problem(p, "/schemas: %s is not a folder", cfg->schemas);
    if (cfg->server_key) {
        char pub[41], sec[41];
        if (keyfile_read_pair(cfg->server_key, pub, sec, err, sizeof err) != 0)
            config_problem(p, "/server_key: %s", err);
        memset(sec, 0, sizeof sec);
    }
    check_secret(cfg, "encryption_key", cfg->encryption_key, cfg->encryption_secret, p);
    check_secret(cfg, "pseudonym_key", cfg->pseudonym_key, cfg->pseudonym_secret, p);
    if (cfg->encryption_key && cfg->pseudonym_key &&
        util_same_file(cfg->encryption_key, cfg->pseudonym_key) == 1)
        config_problem(p, "/pseudonym_key: must be another file than encryption_key "
                          "(each key has one purpose)");
    if (cfg->database) {
        char *dir = util_dirname(cfg->database);
        if (dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
            config_problem(p, "/database: folder %s does not exist", dir);
        free(dir);
    }
    if (cfg->listen && strncmp(cfg->listen, "tcp://", 6) != 0 &&
        strncmp(cfg->listen, "ipc://", 6) != 0)
        config_problem(p, "/listen: must be a tcp:// or ipc:// ZeroMQ endpoint");
    if (cfg->heartbeat_interval_ms > 0 && cfg->heartbeat_timeout_ms == 0)
        config_problem(p, "/heartbeat_timeout_ms: must be set when heartbeat_interval_ms is: "
                          "without it a dead peer is never noticed");
    if (cfg->heartbeat_interval_ms > 0 && cfg->heartbeat_timeout_ms > 0 &&
        cfg->heartbeat_timeout_ms < cfg->heartbeat_interval_ms)
        config_problem(p, "/heartbeat_timeout_ms: must not be shorter than heartbeat_interval_ms");
}

struct config *config_load(const char *path, char ***problems, size_t *nproblems)
{
    struct config_problems p = {NULL, 0};
    struct config *cfg = calloc(1, sizeof *cfg);
    json_t *root = NULL;
    char err[512];
    if (!cfg)
        goto fail;
    cfg->path = strdup(path);
    cfg->dir = util_dirname(path);
    size_t len = 0;
    char *text = util_read_file(path, CONFIG_MAX_BYTES, &len, err, sizeof err);
    if (!text) {
        config_problem(&p, "%s", err);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        config_problem(&p, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto fail;
    }
    if (!json_is_object(root)) {
        config_problem(&p, "%s: the config must be a JSON object", path);
        goto fail;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            known |= strcmp(k, keys[i].name) == 0;
        if (!known)
            config_problem(&p, "/%s: unknown key", k);
    }
    for (int r = 0; r < ROLE_COUNT; r++)
        cfg->authorisation[r] = authz_default((enum role)r);
    cfg->log_level = LOG_INFO;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const struct key_spec *ks = &keys[i];
        v = json_object_get(root, ks->name);
        if (ks->type == KEY_INT || ks->type == KEY_DURATION)
            *(long *)((char *)cfg + ks->offset) = ks->def;
        if (!v && ks->type == KEY_POLICIES)
            default_policies(cfg); /* before the keys that name policies */
        if (!v) {
            if (ks->required)
                config_problem(&p, "/%s: required key is missing", ks->name);
            continue;
        }
        switch (ks->type) {
        case KEY_STRING:
        case KEY_PATH:
            if (!json_is_string(v) || json_string_length(v) == 0) {
                config_problem(&p, "/%s: must be a non-empty string, got %s", ks->name,
                               json_type_name(v));
                break;
            }
            *(char **)((char *)cfg + ks->offset) =
                ks->type == KEY_PATH ? util_path_resolve(cfg->dir, json_string_value(v))
                                     : strdup(json_string_value(v));
            break;
        case KEY_INT:
            if (!json_is_integer(v)) {
                config_problem(&p, "/%s: must be an integer, got %s", ks->name, json_type_name(v));
            } else if (json_integer_value(v) < ks->min || json_integer_value(v) > ks->max) {
                config_problem(&p, "/%s: %lld is out of range %ld..%ld", ks->name,
                               (long long)json_integer_value(v), ks->min, ks->max);
            } else {
                *(long *)((char *)cfg + ks->offset) = (long)json_integer_value(v);
            }
            break;
        case KEY_LOG_LEVEL:
            if (!json_is_string(v) || log_parse_level(json_string_value(v), &cfg->log_level) != 0)
                config_problem(&p, "/%s: must be one of debug, info, warn, error", ks->name);
            break;
        case KEY_PARTNERS:
            load_partners(cfg, v, &p);
            break;
        case KEY_AUTHORISATION:
            load_authorisation(cfg, v, &p);
            break;
        case KEY_POLICIES:
            load_policies(cfg, v, &p);
            break;
        case KEY_DEFAULT_POLICY:
            load_default_policy(cfg, v, &p);
            break;
        case KEY_MUNICIPALITIES:
            load_municipalities(cfg, v, &p);
            break;
        case KEY_PROFILES:
            load_profiles(cfg, v, &p);
            break;
        case KEY_ROUTES:
            route_load(cfg, v, &p);
            break;
        case KEY_OFFICERS:
            rota_load(cfg, v, json_object_get(root, "rota"), &p);
            break;
        case KEY_ROTA:
            if (!json_object_get(root, "officers")) /* else loaded with the officers */
                rota_load(cfg, NULL, v, &p);
            break;
        case KEY_ESCALATION:
            break;
        case KEY_RETENTION:
            load_retention(cfg, v, &p);
            break;
        case KEY_DURATION: {
            char derr[128] = "must be an ISO 8601 duration string";
            int64_t ms = 0;
            if (!json_is_string(v) || duration_parse(json_string_value(v), &ms, derr, sizeof derr))
                config_problem(&p, "/%s: %s", ks->name, derr);
            else if (ms < ks->min || ms > ks->max)
                config_problem(&p, "/%s: \"%s\" is out of range %ld..%ld ms", ks->name,
                               json_string_value(v), ks->min, ks->max);
            else
                *(long *)((char *)cfg + ks->offset) = (long)ms;
            break;
        }
        }
    }
    escalate_config_load(cfg, root, &p);
    if (!cfg->default_policy && !json_object_get(root, "default_policy"))
        cfg->default_policy =
            cfg->npolicies == 1 ? &cfg->policies[0] : config_policy(cfg, "standaard");
    const json_t *pols = json_object_get(root, "policies");
    int policies_ok = !pols || cfg->npolicies == json_object_size(pols);
    if (!cfg->default_policy && !json_object_get(root, "default_policy") && policies_ok)
        config_problem(&p, "/default_policy: required when there is no policy named \"standaard\"");
    if (cfg->source && (strlen(cfg->source) > 256 ||
                        !schema_format_check(SCHEMA_FORMAT_URI, cfg->source, strlen(cfg->source))))
        config_problem(&p, "/source: must be an absolute URI of at most 256 characters, e.g. "
                           "urn:nld:oin:<OIN>:systeem:ketenhub");
    if (cfg->delivery_backoff_max_ms < cfg->delivery_ack_timeout_ms)
        config_problem(&p, "/delivery_backoff_max_ms: must not be shorter than "
                           "delivery_ack_timeout_ms");
    if (!cfg->source)
        cfg->source = strdup("urn:ketenhub:hub");
    int coordinators = 0;
    for (size_t i = 0; i < cfg->npartners; i++)
        coordinators += cfg->partners[i].role == ROLE_COORDINATOR;
    if (cfg->npartners && !coordinators)
        config_problem(&p, "/partners: at least one partner needs role coordinator: a signal "
                           "that no route sends anywhere goes to the coordinator");
    check_files(cfg, &p);
    if (p.n)
        goto fail;
    cfg->root = root; /* kept: a reload compares its keys with the next file's */
    *problems = NULL;
    *nproblems = 0;
    return cfg;
fail:
    json_decref(root);
    config_free(&cfg);
    if (p.n == 0)
        config_problem(&p, "out of memory");
    *problems = p.list;
    *nproblems = p.n;
    return NULL;
}

void config_free(struct config **self_p)
{
    struct config *cfg = *self_p;
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->npartners; i++) {
        free(cfg->partners[i].id);
        free(cfg->partners[i].name);
    }
    free(cfg->partners);
    escalate_config_free(cfg);
    for (size_t i = 0; i < cfg->npolicies; i++) {
        free(cfg->policies[i].name);
        json_decref(cfg->policies[i].escalation_json);
    }
    free(cfg->policies);
    free(cfg->municipalities);
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (size_t i = 0; i < cfg->nprofile[r]; i++)
            free(cfg->profiles[r][i]);
        free(cfg->profiles[r]);
    }
    route_free(cfg->routes, cfg->nroutes);
    rota_free(cfg->rota);
    rota_officers_free(cfg->officers, cfg->nofficers);
    free(cfg->source);
    free(cfg->path);
    free(cfg->dir);
    free(cfg->listen);
    free(cfg->database);
    free(cfg->schemas);
    free(cfg->server_key);
    free(cfg->encryption_key);
    free(cfg->pseudonym_key);
    sodium_memzero(cfg->encryption_secret, sizeof cfg->encryption_secret);
    sodium_memzero(cfg->pseudonym_secret, sizeof cfg->pseudonym_secret);
    json_decref(cfg->root);
    free(cfg);
    *self_p = NULL;
}

void config_problems_free(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(problems[i]);
    free(problems);
}

const struct partner *config_partner(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->npartners; i++)
        if (strcmp(cfg->partners[i].id, id) == 0)
            return &cfg->partners[i];
    return NULL;
}

const struct policy *config_policy(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->npolicies; i++)
        if (strcmp(cfg->policies[i].name, name) == 0)
            return &cfg->policies[i];
    return NULL;
}

const struct partner *config_municipality(const struct config *cfg, const char *code)
{
    for (size_t i = 0; i < cfg->nmunicipalities; i++)
        if (strcmp(cfg->municipalities[i].code, code) == 0)
            return cfg->municipalities[i].partner;
    return NULL;
}

const struct partner *config_partner_by_key(const struct config *cfg, const uint8_t key[32])
{
    for (size_t i = 0; i < cfg->npartners; i++)
        if (memcmp(cfg->partners[i].public_key, key, 32) == 0)
            return &cfg->partners[i];
    return NULL;
}

/* ---- reload ----------------------------------------------------------- */

#define SWAP(type, a, b)                                                                           \
    do {                                                                                           \
        type swap_tmp_ = (a);                                                                      \
        (a) = (b);                                                                                 \
        (b) = swap_tmp_;                                                                           \
    } while (0)

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The keys only start-up reads (sockets bound, files opened, buffers sized,
 * the alert sender set up): a reload keeps their running values. */
static const char *const start_only_keys[] = {
    "listen",
    "database",
    "schemas",
    "server_key",
    "encryption_key",
    "pseudonym_key",
    "admin_socket",
    "max_message_size",
    "heartbeat_interval_ms",
    "heartbeat_timeout_ms",
    "group_commit_max",
    "delivery_window",
    "alerting",
    "audit_verify_at_start",
    "retention",
};

/* Keeps the running value of a string key: `next` gets cur's. */
static void keep_string(json_t *restart, const char *key, char **cur, char **next)
{
    if (same_string(*cur, *next))
        return;
    json_array_append_new(restart, json_string(key));
    SWAP(char *, *cur, *next);
}

static void keep_long(json_t *restart, const char *key, const long *cur, long *next)
{
    if (*cur == *next)
        return;
    json_array_append_new(restart, json_string(key));
    *next = *cur;
}

/* Whether every escalation level of `cfg` has the channels `a` provides;
 * err names the first that does not. */
static int channels_served(const struct config *cfg, const struct alerting *a, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < cfg->npolicies; i++) {
        const struct escalation_policy *ep = cfg->policies[i].escalation;
        for (size_t l = 0; ep && l < ep->nlevels; l++) {
            unsigned ch = ep->levels[l].channels;
            const char *missing = NULL;
            if ((ch & ESC_CHANNEL_WEBHOOK) && (!a || !a->webhook_secret_len))
                missing = "webhook";
            else if ((ch & ESC_CHANNEL_EMAIL) && (!a || !a->smtp_url))
                missing = "email";
            if (missing) {
                snprintf(err, errlen,
                         "/policies/%s/escalation/levels/%zu/channels: uses %s, which the "
                         "running alerting settings do not have (alerting changes need a "
                         "restart)",
                         cfg->policies[i].name, l, missing);
                return 0;
            }
        }
    }
    return 1;
}

json_t *config_reload_prepare(struct config *cur, struct config *next, char *err, size_t errlen)
{
    const json_t *cur_alerting = cur->root ? json_object_get(cur->root, "alerting") : NULL;
    const json_t *next_alerting = next->root ? json_object_get(next->root, "alerting") : NULL;
    int alerting_same = (!cur_alerting && !next_alerting) ||
                        (cur_alerting && next_alerting && json_equal(cur_alerting, next_alerting));
    /* Checked before anything moves, so a refusal leaves both as they were. */
    if (!alerting_same && !channels_served(next, cur->alerting, err, errlen))
        return NULL;
    json_t *sum =
        json_pack("{s:[], s:[], s:[], s:[], s:[], s:[]}", "changed", "needs_restart",
                  "partners_added", "partners_removed", "partners_rekeyed", "partners_changed");
    if (!sum) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_t *changed = json_object_get(sum, "changed");
    json_t *restart = json_object_get(sum, "needs_restart");
    keep_string(restart, "listen", &cur->listen, &next->listen);
    keep_string(restart, "database", &cur->database, &next->database);
    keep_string(restart, "schemas", &cur->schemas, &next->schemas);
    keep_string(restart, "server_key", &cur->server_key, &next->server_key);
    keep_string(restart, "encryption_key", &cur->encryption_key, &next->encryption_key);
    if (sodium_memcmp(cur->encryption_secret, next->encryption_secret,
                      sizeof cur->encryption_secret) != 0) {
        if (same_string(cur->encryption_key, next->encryption_key))
            json_array_append_new(restart, json_string("encryption_key"));
        memcpy(next->encryption_secret, cur->encryption_secret, sizeof next->encryption_secret);
    }
    keep_string(restart, "pseudonym_key", &cur->pseudonym_key, &next->pseudonym_key);
    if (sodium_memcmp(cur->pseudonym_secret, next->pseudonym_secret,
                      sizeof cur->pseudonym_secret) != 0) {
        if (same_string(cur->pseudonym_key, next->pseudonym_key))
            json_array_append_new(restart, json_string("pseudonym_key"));
        memcpy(next->pseudonym_secret, cur->pseudonym_secret, sizeof next->pseudonym_secret);
    }
    keep_string(restart, "admin_socket", &cur->admin_socket, &next->admin_socket);
    keep_long(restart, "max_message_size", &cur->max_message_size, &next->max_message_size);
    keep_long(restart, "heartbeat_interval_ms", &cur->heartbeat_interval_ms,
              &next->heartbeat_interval_ms);
    keep_long(restart, "heartbeat_timeout_ms", &cur->heartbeat_timeout_ms,
              &next->heartbeat_timeout_ms);
    keep_long(restart, "group_commit_max", &cur->group_commit_max, &next->group_commit_max);
    keep_long(restart, "delivery_window", &cur->delivery_window, &next->delivery_window);
    keep_long(restart, "audit_verify_at_start", &cur->audit_verify_at_start,
              &next->audit_verify_at_start);
    if (!alerting_same) {
        json_array_append_new(restart, json_string("alerting"));
        SWAP(struct alerting *, cur->alerting, next->alerting);
    }
    /* The purge schedule copies its periods at start-up (hub/retention). */
    const json_t *cur_ret = cur->root ? json_object_get(cur->root, "retention") : NULL;
    const json_t *next_ret = next->root ? json_object_get(next->root, "retention") : NULL;
    if (!((!cur_ret && !next_ret) || (cur_ret && next_ret && json_equal(cur_ret, next_ret)))) {
        json_array_append_new(restart, json_string("retention"));
        next->retention = cur->retention;
        next->retention_after_closed_ms = cur->retention_after_closed_ms;
        next->retention_without_referral_ms = cur->retention_without_referral_ms;
        next->retention_interval_ms = cur->retention_interval_ms;
    }
    /* What applies now: every other top-level key whose value differs. */
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *k = keys[i].name;
        int start_only = 0;
        for (size_t j = 0; j < sizeof start_only_keys / sizeof *start_only_keys; j++)
            start_only |= strcmp(start_only_keys[j], k) == 0;
        const json_t *a = cur->root ? json_object_get(cur->root, k) : NULL;
        const json_t *b = next->root ? json_object_get(next->root, k) : NULL;
        int same = (!a && !b) || (a && b && json_equal(a, b));
        if (!same && !start_only)
            json_array_append_new(changed, json_string(k));
    }
    for (size_t i = 0; i < cur->npartners; i++) {
        const struct partner *o = &cur->partners[i];
        const struct partner *n = config_partner(next, o->id);
        if (!n)
            json_array_append_new(json_object_get(sum, "partners_removed"), json_string(o->id));
        else if (memcmp(o->public_key, n->public_key, sizeof o->public_key) != 0)
            json_array_append_new(json_object_get(sum, "partners_rekeyed"), json_string(o->id));
        else if (o->role != n->role || !same_string(o->name, n->name))
            json_array_append_new(json_object_get(sum, "partners_changed"), json_string(o->id));
    }
    for (size_t i = 0; i < next->npartners; i++)
        if (!config_partner(cur, next->partners[i].id))
            json_array_append_new(json_object_get(sum, "partners_added"),
                                  json_string(next->partners[i].id));
    return sum;
}
