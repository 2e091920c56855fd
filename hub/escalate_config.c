/*
 * escalate_config - the config keys of escalation: each policy's
 * `escalation`, `teams`, `alerting` and `admin_socket`; see escalate.h and
 * docs/config.md. Runs after the officers and the rota are loaded, because
 * levels name them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <jansson.h>
#include <sodium.h>

#include "duration.h"
#include "escalate.h"
#include "rota.h"
#include "util.h"

#define SECRET_FILE_MAX 4096
#define LEVELS_MAX 16
#define TARGETS_MAX 32
#define REPEAT_MIN_MS 1000

const char *esc_deadline_name(enum esc_deadline d)
{
    return d == ESC_RECEIPT ? "receipt" : "decision";
}

/* Reads a secret from a file only its owner may read; strips one trailing
 * newline. Caller frees (sodium_memzero first). NULL with a problem added. */
static char *read_secret(const char *path, const char *ptr, struct config_problems *p)
{
    struct stat st;
    char err[256];
    if (stat(path, &st) != 0) {
        config_problem(p, "%s: cannot read %s", ptr, path);
        return NULL;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        config_problem(p, "%s: %s is accessible by group or others (mode %03o); chmod 600 it", ptr,
                       path, (unsigned)(st.st_mode & 0777));
        return NULL;
    }
    size_t len = 0;
    char *text = util_read_file(path, SECRET_FILE_MAX, &len, err, sizeof err);
    if (!text) {
        config_problem(p, "%s: %s", ptr, err);
        return NULL;
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (len == 0 || strlen(text) != len) {
        config_problem(p, "%s: %s is empty or not one line of text", ptr, path);
        sodium_memzero(text, len);
        free(text);
        return NULL;
    }
    return text;
}

static const char *const alerting_keys[] = {"webhook_secret_file",
                                            "webhook_token_file",
                                            "smtp_url",
                                            "smtp_starttls",
                                            "smtp_username",
                                            "smtp_password_file",
                                            "from",
                                            "ca_file",
                                            "ketenctl",
                                            "timeout",
                                            "max_attempts",
                                            "backoff_initial",
                                            "backoff_max",
                                            "redeliver"};

static int get_duration(const json_t *obj, const char *key, int64_t def, int64_t min, int64_t max,
                        const char *ptr, int64_t *out, struct config_problems *p)
{
    const json_t *v = json_object_get(obj, key);
    char err[160];
    *out = def;
    if (!v)
        return 0;
    if (!json_is_string(v) || duration_parse(json_string_value(v), out, err, sizeof err) != 0) {
        config_problem(p, "%s/%s: %s", ptr, key,
                       json_is_string(v) ? err : "must be an ISO 8601 duration string");
        return -1;
    }
    if (*out < min || *out > max) {
        char lo[32], hi[32];
        duration_format(min, lo, sizeof lo);
        duration_format(max, hi, sizeof hi);
        config_problem(p, "%s/%s: must be from %s to %s", ptr, key, lo, hi);
        return -1;
    }
    return 0;
}

static char *get_string(const json_t *obj, const char *key, const char *ptr,
                        struct config_problems *p)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return NULL;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024) {
        config_problem(p, "%s/%s: must be a non-empty string", ptr, key);
        return NULL;
    }
    return strdup(json_string_value(v));
}

static char *get_path(const struct config *cfg, const json_t *obj, const char *key,
                      struct config_problems *p)
{
    char *s = get_string(obj, key, "/alerting", p);
    if (!s)
        return NULL;
    char *r = util_path_resolve(cfg->dir, s);
    free(s);
    return r;
}

/* A plain addr-spec for From: (ASCII, one @, no spaces or angle brackets). */
static int address_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 254)
        return 0;
    for (const char *c = s; *c; c++)
        if (*c <= ' ' || *c >= 127 || strchr("<>()[],;:\\\"", *c))
            return 0;
    return 1;
}

static void load_alerting(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    struct alerting *a = calloc(1, sizeof *a);
    if (!a)
        return;
    cfg->alerting = a;
    a->notify.timeout_ms = 10000;
    a->notify.max_attempts = 5;
    a->notify.backoff_initial_ms = 1000;
    a->notify.backoff_max_ms = 300000;
    a->redeliver_ms = 300000;
    a->smtp_starttls = 1;
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        config_problem(p, "/alerting: must be an object");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < sizeof alerting_keys / sizeof *alerting_keys; i++)
            known |= strcmp(k, alerting_keys[i]) == 0;
        if (!known)
            config_problem(p, "/alerting/%s: unknown key", k);
    }
    char *path = get_path(cfg, obj, "webhook_secret_file", p);
    if (path) {
        char *text = read_secret(path, "/alerting/webhook_secret_file", p);
        if (text) {
            /* Standard Webhooks: "whsec_" + base64 of 24 .. 64 random bytes. */
            size_t n = 0;
            const char *b64 = strncmp(text, "whsec_", 6) == 0 ? text + 6 : NULL;
            if (!b64 ||
                sodium_base642bin(a->webhook_secret, sizeof a->webhook_secret, b64, strlen(b64),
                                  NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
                n < 24) {
                config_problem(p,
                               "/alerting/webhook_secret_file: %s must hold whsec_ and the "
                               "base64 of 24 to 64 random bytes (e.g. echo whsec_$(openssl "
                               "rand -base64 32))",
                               path);
                n = 0;
            }
            a->webhook_secret_len = n;
            sodium_memzero(text, strlen(text));
            free(text);
        }
        free(path);
    }
    path = get_path(cfg, obj, "webhook_token_file", p);
    if (path) {
        a->webhook_token = read_secret(path, "/alerting/webhook_token_file", p);
        free(path);
    }
    a->smtp_url = get_string(obj, "smtp_url", "/alerting", p);
    const json_t *tls = json_object_get(obj, "smtp_starttls");
    if (tls && !json_is_boolean(tls))
        config_problem(p, "/alerting/smtp_starttls: must be true or false");
    else if (tls)
        a->smtp_starttls = json_is_true(tls);
    char err[256];
    if (a->smtp_url && notify_check_url(a->smtp_url, 1, a->smtp_starttls, err, sizeof err) != 0)
        config_problem(p, "/alerting/smtp_url: %s", err);
    a->smtp_username = get_string(obj, "smtp_username", "/alerting", p);
    path = get_path(cfg, obj, "smtp_password_file", p);
    if (path) {
        a->smtp_password = read_secret(path, "/alerting/smtp_password_file", p);
        free(path);
    }
    if (!a->smtp_username != !json_object_get(obj, "smtp_password_file"))
        config_problem(p, "/alerting/smtp_username: give both smtp_username and "
                          "smtp_password_file, or neither");
    a->from = get_string(obj, "from", "/alerting", p);
    if (a->from && !address_ok(a->from))
        config_problem(p, "/alerting/from: must be a plain e-mail address (name@host)");
    if (a->smtp_url && !a->from)
        config_problem(p, "/alerting/from: required with smtp_url");
    a->ca_file = get_path(cfg, obj, "ca_file", p);
    a->ketenctl = get_string(obj, "ketenctl", "/alerting", p);
    int64_t ms;
    if (get_duration(obj, "timeout", 10000, 100, 600000, "/alerting", &ms, p) == 0)
        a->notify.timeout_ms = (long)ms;
    if (get_duration(obj, "backoff_initial", 1000, 1, 3600000, "/alerting", &ms, p) == 0)
        a->notify.backoff_initial_ms = (long)ms;
    if (get_duration(obj, "backoff_max", 300000, 1, 86400000, "/alerting", &ms, p) == 0)
        a->notify.backoff_max_ms = (long)ms;
    if (a->notify.backoff_max_ms < a->notify.backoff_initial_ms)
        config_problem(p, "/alerting/backoff_max: must not be shorter than backoff_initial");
    get_duration(obj, "redeliver", 300000, 1000, 86400000, "/alerting", &a->redeliver_ms, p);
    const json_t *ma = json_object_get(obj, "max_attempts");
    if (ma && (!json_is_integer(ma) || json_integer_value(ma) < 1 || json_integer_value(ma) > 1000))
        config_problem(p, "/alerting/max_attempts: must be an integer 1..1000");
    else if (ma)
        a->notify.max_attempts = (int)json_integer_value(ma);
}

static void load_teams(struct config *cfg, const json_t *obj, struct config_problems *p)
{
    if (!obj)
        return;
    if (!json_is_object(obj)) {
        config_problem(p, "/teams: must be an object of team id -> officer ids");
        return;
    }
    cfg->teams = calloc(json_object_size(obj) + 1, sizeof *cfg->teams);
    if (!cfg->teams)
        return;
    const char *id;
    json_t *v;
    json_object_foreach((json_t *)obj, id, v)
    {
        if (!config_valid_id(id)) {
            config_problem(p, "/teams/%s: a team id is 1-64 of a-z 0-9 - _ .", id);
            continue;
        }
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 256) {
            config_problem(p, "/teams/%s: must be a non-empty array of officer ids", id);
            continue;
        }
        struct team *t = &cfg->teams[cfg->nteams];
        t->members = calloc(json_array_size(v), sizeof *t->members);
        if (!t->members)
            return;
        size_t i;
        json_t *m;
        int ok = 1;
        json_array_foreach(v, i, m)
        {
            const struct officer *o =
                json_is_string(m) ? rota_officer(cfg, json_string_value(m)) : NULL;
            for (size_t j = 0; o && j < t->nmembers; j++)
                if (t->members[j] == o) {
                    config_problem(p, "/teams/%s/%zu: %s is listed twice", id, i, o->id);
                    ok = 0;
                }
            if (!o) {
                config_problem(p, "/teams/%s/%zu: not an officer id from /officers", id, i);
                ok = 0;
            } else {
                t->members[t->nmembers++] = o;
            }
        }
        if (!ok) {
            free(t->members);
            memset(t, 0, sizeof *t);
            continue;
        }
        t->id = strdup(id);
        cfg->nteams++;
    }
}

static const struct team *find_team(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nteams; i++)
        if (strcmp(cfg->teams[i].id, id) == 0)
            return &cfg->teams[i];
    return NULL;
}

/* Every officer a target can reach must have one of the level's channels. */
static void check_reachable(const struct config *cfg, const struct esc_level *lv,
                            const struct esc_target *t, const char *ptr, struct config_problems *p)
{
    const struct officer *list[256];
    size_t n = 0;
    if (t->kind == ESC_TARGET_OFFICER) {
        list[n++] = t->officer;
    } else if (t->kind == ESC_TARGET_TEAM) {
        for (size_t i = 0; i < t->team->nmembers && n < 256; i++)
            list[n++] = t->team->members[i];
    } else if (t->kind == ESC_TARGET_FALLBACK) {
        list[n++] = rota_fallback(cfg);
    } else { /* anyone the rota may name: every officer */
        for (size_t i = 0; i < cfg->nofficers && n < 256; i++)
            list[n++] = &cfg->officers[i];
    }
    for (size_t i = 0; i < n; i++) {
        const struct officer *o = list[i];
        if (!o)
            continue;
        int reach = ((lv->channels & ESC_CHANNEL_WEBHOOK) && o->webhook) ||
                    ((lv->channels & ESC_CHANNEL_EMAIL) && o->email);
        if (!reach)
            config_problem(p, "%s: officer %s has no address for any channel of this level (%s)",
                           ptr, o->id,
                           lv->channels == ESC_CHANNEL_WEBHOOK ? "webhook"
                           : lv->channels == ESC_CHANNEL_EMAIL ? "email"
                                                               : "webhook, email");
    }
}

static int parse_target(const struct config *cfg, const char *s, struct esc_target *t,
                        const char *ptr, struct config_problems *p)
{
    memset(t, 0, sizeof *t);
    if (strcmp(s, "on-duty") == 0 || strcmp(s, "fallback") == 0) {
        t->kind = s[0] == 'o' ? ESC_TARGET_ON_DUTY : ESC_TARGET_FALLBACK;
        if (!cfg->rota) {
            config_problem(p, "%s: \"%s\" needs a duty rota (/rota)", ptr, s);
            return -1;
        }
        return 0;
    }
    if (strncmp(s, "officer:", 8) == 0) {
        t->kind = ESC_TARGET_OFFICER;
        t->officer = rota_officer(cfg, s + 8);
        if (!t->officer) {
            config_problem(p, "%s: %s is not in /officers", ptr, s + 8);
            return -1;
        }
        return 0;
    }
    if (strncmp(s, "team:", 5) == 0) {
        t->kind = ESC_TARGET_TEAM;
        t->team = find_team(cfg, s + 5);
        if (!t->team) {
            config_problem(p, "%s: %s is not in /teams", ptr, s + 5);
            return -1;
        }
        return 0;
    }
    config_problem(p, "%s: must be \"on-duty\", \"fallback\", \"officer:ID\" or \"team:ID\"", ptr);
    return -1;
}

static void load_level(const struct config *cfg, const json_t *v, struct esc_level *lv,
                       const char *ptr, int last, int *ok, struct config_problems *p)
{
    static const char *const allowed[] = {"after", "targets", "channels", "repeat"};
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        int known = 0;
        for (size_t i = 0; i < 4; i++)
            known |= strcmp(k, allowed[i]) == 0;
        if (!known) {
            config_problem(p, "%s/%s: unknown key (allowed: after, targets, channels, repeat)", ptr,
                           k);
            *ok = 0;
        }
    }
    if (!json_object_get(v, "after")) {
        config_problem(p, "%s/after: required (ISO 8601 duration after the missed deadline)", ptr);
        *ok = 0;
    } else if (get_duration(v, "after", 0, 0, DURATION_MAX_MS, ptr, &lv->after_ms, p) != 0) {
        *ok = 0;
    }
    if (get_duration(v, "repeat", 0, REPEAT_MIN_MS, DURATION_MAX_MS, ptr, &lv->repeat_ms, p) != 0)
        *ok = 0;
    if (last && !json_object_get(v, "repeat")) {
        config_problem(p,
                       "%s/repeat: the last level must repeat, so an unanswered case keeps "
                       "alerting until somebody acknowledges",
                       ptr);
        *ok = 0;
    }
    const json_t *ch = json_object_get(v, "channels");
    size_t i;
    json_t *c;
    if (!json_is_array(ch) || json_array_size(ch) == 0) {
        config_problem(p, "%s/channels: must be a non-empty array of \"webhook\", \"email\"", ptr);
        *ok = 0;
    } else {
        json_array_foreach(ch, i, c)
        {
            const char *s = json_string_value(c);
            unsigned bit = s && strcmp(s, "webhook") == 0 ? ESC_CHANNEL_WEBHOOK
                           : s && strcmp(s, "email") == 0 ? ESC_CHANNEL_EMAIL
                                                          : 0;
            if (!bit || (lv->channels & bit)) {
                config_problem(p, "%s/channels/%zu: %s", ptr, i,
                               bit ? "listed twice" : "must be \"webhook\" or \"email\"");
                *ok = 0;
            }
            lv->channels |= bit;
        }
    }
    const struct alerting *a = cfg->alerting;
    if ((lv->channels & ESC_CHANNEL_WEBHOOK) && (!a || !a->webhook_secret_len)) {
        config_problem(p, "%s/channels: webhook needs /alerting/webhook_secret_file", ptr);
        *ok = 0;
    }
    if ((lv->channels & ESC_CHANNEL_EMAIL) && (!a || !a->smtp_url)) {
        config_problem(p, "%s/channels: email needs /alerting/smtp_url and /alerting/from", ptr);
        *ok = 0;
    }
    const json_t *ts = json_object_get(v, "targets");
    if (!json_is_array(ts) || json_array_size(ts) == 0 || json_array_size(ts) > TARGETS_MAX) {
        config_problem(p, "%s/targets: must be an array of 1..%d targets", ptr, TARGETS_MAX);
        *ok = 0;
        return;
    }
    lv->targets = calloc(json_array_size(ts), sizeof *lv->targets);
    if (!lv->targets) {
        *ok = 0;
        return;
    }
    json_array_foreach(ts, i, c)
    {
        char tptr[512];
        snprintf(tptr, sizeof tptr, "%s/targets/%zu", ptr, i);
        if (!json_is_string(c)) {
            config_problem(p, "%s: must be a string", tptr);
            *ok = 0;
            continue;
        }
        struct esc_target *t = &lv->targets[lv->ntargets];
        if (parse_target(cfg, json_string_value(c), t, tptr, p) != 0) {
            *ok = 0;
            continue;
        }
        lv->ntargets++;
        if (*ok)
            check_reachable(cfg, lv, t, tptr, p);
    }
}

static void free_policy(struct escalation_policy *ep)
{
    if (!ep)
        return;
    for (size_t i = 0; i < ep->nlevels; i++)
        free(ep->levels[i].targets);
    free(ep->levels);
    free(ep);
}

static void load_escalation(struct config *cfg, struct policy *pol, struct config_problems *p)
{
    const json_t *v = pol->escalation_json;
    char ptr[256];
    snprintf(ptr, sizeof ptr, "/policies/%s/escalation", pol->name);
    if (!json_is_object(v)) {
        config_problem(p, "%s: must be an object with levels", ptr);
        return;
    }
    const char *k;
    json_t *x;
    int ok = 1;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "levels") != 0 && strcmp(k, "rearm") != 0) {
            config_problem(p, "%s/%s: unknown key (allowed: levels, rearm)", ptr, k);
            ok = 0;
        }
    }
    const json_t *levels = json_object_get(v, "levels");
    if (!json_is_array(levels) || json_array_size(levels) == 0 ||
        json_array_size(levels) > LEVELS_MAX) {
        config_problem(p, "%s/levels: must be an array of 1..%d levels", ptr, LEVELS_MAX);
        return;
    }
    struct escalation_policy *ep = calloc(1, sizeof *ep);
    if (!ep || !(ep->levels = calloc(json_array_size(levels), sizeof *ep->levels))) {
        free(ep);
        return;
    }
    if (get_duration(v, "rearm", 0, REPEAT_MIN_MS, DURATION_MAX_MS, ptr, &ep->rearm_ms, p) != 0)
        ok = 0;
    size_t i;
    json_array_foreach(levels, i, x)
    {
        char lptr[300];
        snprintf(lptr, sizeof lptr, "%s/levels/%zu", ptr, i);
        struct esc_level *lv = &ep->levels[ep->nlevels++];
        if (!json_is_object(x)) {
            config_problem(p, "%s: must be an object", lptr);
            ok = 0;
            continue;
        }
        load_level(cfg, x, lv, lptr, i + 1 == json_array_size(levels), &ok, p);
        if (i > 0 && ok && lv->after_ms <= ep->levels[i - 1].after_ms) {
            config_problem(p, "%s/after: must be later than the level before", lptr);
            ok = 0;
        }
    }
    if (!ok) {
        free_policy(ep);
        return;
    }
    pol->escalation = ep;
}

void escalate_config_load(struct config *cfg, const json_t *root, struct config_problems *p)
{
    load_teams(cfg, json_object_get(root, "teams"), p);
    load_alerting(cfg, json_object_get(root, "alerting"), p);
    if (cfg->alerting && !cfg->alerting->ketenctl && cfg->path) {
        char *abs = realpath(cfg->path, NULL);
        size_t n = strlen(abs ? abs : cfg->path) + 32;
        cfg->alerting->ketenctl = malloc(n);
        if (cfg->alerting->ketenctl)
            snprintf(cfg->alerting->ketenctl, n, "ketenctl --config %s", abs ? abs : cfg->path);
        free(abs);
    }
    for (size_t i = 0; i < cfg->npolicies; i++) {
        struct policy *pol = &cfg->policies[i];
        if (pol->escalation_json)
            load_escalation(cfg, pol, p);
        json_decref(pol->escalation_json);
        pol->escalation_json = NULL;
    }
    const json_t *as = json_object_get(root, "admin_socket");
    if (as && (!json_is_string(as) || json_string_length(as) == 0)) {
        config_problem(p, "/admin_socket: must be a non-empty path");
    } else if (as) {
        cfg->admin_socket = util_path_resolve(cfg->dir, json_string_value(as));
    } else if (cfg->database) {
        char *dir = util_dirname(cfg->database);
        cfg->admin_socket = dir ? util_path_resolve(dir, "ketenhub.sock") : NULL;
        free(dir);
    }
    struct sockaddr_un sun;
    if (cfg->admin_socket && strlen(cfg->admin_socket) >= sizeof sun.sun_path)
        config_problem(p, "/admin_socket: %s is longer than %zu bytes (a Unix socket limit)",
                       cfg->admin_socket, sizeof sun.sun_path - 1);
}

void escalate_config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->npolicies; i++) {
        free_policy(cfg->policies[i].escalation);
        cfg->policies[i].escalation = NULL;
    }
    for (size_t i = 0; i < cfg->nteams; i++) {
        free(cfg->teams[i].id);
        free(cfg->teams[i].members);
    }
    free(cfg->teams);
    cfg->teams = NULL;
    cfg->nteams = 0;
    struct alerting *a = cfg->alerting;
    if (a) {
        sodium_memzero(a->webhook_secret, sizeof a->webhook_secret);
        if (a->webhook_token)
            sodium_memzero(a->webhook_token, strlen(a->webhook_token));
        if (a->smtp_password)
            sodium_memzero(a->smtp_password, strlen(a->smtp_password));
        free(a->webhook_token);
        free(a->smtp_url);
        free(a->smtp_username);
        free(a->smtp_password);
        free(a->from);
        free(a->ca_file);
        free(a->ketenctl);
        free(a);
        cfg->alerting = NULL;
    }
    free(cfg->admin_socket);
    cfg->admin_socket = NULL;
}

size_t esc_level_officers(const struct config *cfg, const struct esc_level *lv, int64_t when,
                          const struct officer **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < lv->ntargets; i++) {
        const struct esc_target *t = &lv->targets[i];
        const struct officer *one[256];
        size_t k = 0;
        if (t->kind == ESC_TARGET_ON_DUTY) {
            one[k] = rota_on_duty(cfg, when, NULL, NULL);
            k += one[k] != NULL;
        } else if (t->kind == ESC_TARGET_FALLBACK) {
            one[k] = rota_fallback(cfg);
            k += one[k] != NULL;
        } else if (t->kind == ESC_TARGET_OFFICER) {
            one[k++] = t->officer;
        } else {
            for (size_t j = 0; j < t->team->nmembers && k < 256; j++)
                one[k++] = t->team->members[j];
        }
        for (size_t j = 0; j < k; j++) {
            int dup = 0;
            for (size_t m = 0; m < n; m++)
                dup |= out[m] == one[j];
            if (!dup && n < max)
                out[n++] = one[j];
        }
    }
    return n;
}

int64_t esc_next_ms(const struct escalation_policy *ep, int64_t base_ms, int level,
                    int64_t fired_ms)
{
    if (level + 1 < (int)ep->nlevels) {
        int64_t next_level = base_ms + ep->levels[level + 1].after_ms;
        if (level >= 0 && ep->levels[level].repeat_ms > 0 &&
            fired_ms + ep->levels[level].repeat_ms < next_level)
            return fired_ms + ep->levels[level].repeat_ms;
        return next_level;
    }
    if (level >= 0 && ep->levels[level].repeat_ms > 0)
        return fired_ms + ep->levels[level].repeat_ms;
    return INT64_MAX;
}

int esc_level_at(const struct escalation_policy *ep, int64_t base_ms, int64_t now_ms)
{
    int level = 0;
    for (size_t i = 1; i < ep->nlevels; i++)
        if (base_ms + ep->levels[i].after_ms <= now_ms)
            level = (int)i;
    return level;
}
