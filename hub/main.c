/*
 * ketenhubd - the ketenhub broker daemon.
 *
 *   ketenhubd --config FILE        run in the foreground, log to stderr
 *   ketenhubd --check-config FILE  check the config (and what it points at)
 *
 * Start-up is all-or-nothing: config, schemas, key and database must all be
 * sound before the socket is bound. SIGTERM/SIGINT stop the loop between
 * batches; every committed event has had its reply queued by then. SIGHUP
 * reloads the config between batches (reload() below; docs/operations.md):
 * a file with any problem changes nothing, and keys that only a restart can
 * apply keep their running value.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "audit.h"
#include "broker.h"
#include "catalog.h"
#include "config.h"
#include "deliver.h"
#include "escalate.h"
#include "intake.h"
#include "keyfile.h"
#include "log.h"
#include "retention.h"
#include "seal.h"
#include "store.h"
#include "util.h"
#include "version.h"

static int wake_pipe[2] = {-1, -1};
/* --allow-broken-audit: start although the audit chain's tail is broken. */
static int allow_broken_audit;

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    ssize_t w = write(wake_pipe[1], &c, 1);
    (void)w;
    errno = saved;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ketenhubd --config FILE [--allow-broken-audit]\n"
                 "       ketenhubd --check-config FILE\n"
                 "       ketenhubd --version\n");
}

static void print_problem(void *arg, const char *problem)
{
    (void)arg;
    fprintf(stderr, "ketenhubd: config error: %s\n", problem);
}

/* A profile may only name fields the signal schema has: a typo would
 * otherwise silently send nothing (or, worse, be fixed by a schema change).
 * Reports each bad one; returns how many. */
static int check_profiles(const struct config *cfg, const struct catalog *cat,
                          void (*report)(void *arg, const char *problem), void *arg)
{
    int bad = 0;
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (size_t i = 0; i < cfg->nprofile[r]; i++) {
            if (!catalog_signal_field(cat, cfg->profiles[r][i])) {
                char line[512];
                snprintf(line, sizeof line,
                         "/profiles/%s/%zu: \"%s\" is not a field of the "
                         "signal schema",
                         authz_role_name((enum role)r), i, cfg->profiles[r][i]);
                report(arg, line);
                bad++;
            }
        }
    }
    return bad;
}

/* Loads config and schemas; prints every problem. Returns 0 if all is sound. */
static int load(const char *path, struct config **cfg, struct catalog **cat)
{
    char **problems = NULL;
    size_t n = 0;
    *cfg = config_load(path, &problems, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "ketenhubd: config error: %s\n", problems[i]);
    config_problems_free(problems, n);
    if (!*cfg)
        return -1;
    char err[1024];
    *cat = catalog_load((*cfg)->schemas, err, sizeof err);
    if (!*cat) {
        fprintf(stderr, "ketenhubd: config error: /schemas: %s\n", err);
        config_free(cfg);
        return -1;
    }
    if (check_profiles(*cfg, *cat, print_problem, NULL) != 0) {
        catalog_free(cat);
        config_free(cfg);
        return -1;
    }
    return 0;
}

static int check_config(const char *path)
{
    struct config *cfg = NULL;
    struct catalog *cat = NULL;
    if (load(path, &cfg, &cat) != 0)
        return 1;
    printf("%s: OK (listen %s, %zu partners, database %s)\n", path, cfg->listen, cfg->npartners,
           cfg->database);
    catalog_free(&cat);
    config_free(&cfg);
    return 0;
}

/* Logs the audit chain's head, to be anchored outside the hub (docs/audit.md). */
static void log_audit_head(struct store *st, const char *when)
{
    char fields[128];
    if (audit_head_fields(store_sqlite(st), fields, sizeof fields) == 0)
        log_msg(LOG_INFO, "event=audit_head %s at=%s", fields, when);
    else
        log_msg(LOG_ERROR, "event=audit_head_failed error=\"%s\"", store_errmsg(st));
}

/* Verifies the last cfg->audit_verify_at_start records of the chain. A break
 * stops the start unless --allow-broken-audit was given; then it is logged
 * and audited. Returns 0 to go on. */
static int check_audit(struct store *st, const struct config *cfg)
{
    struct audit_verdict v;
    char err[512];
    if (cfg->audit_verify_at_start == 0)
        return 0;
    int rc = audit_verify(store_sqlite(st), cfg->audit_verify_at_start, &v, err, sizeof err);
    if (rc < 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        return -1;
    }
    if (rc == 0) {
        log_msg(LOG_INFO, "event=audit_verified records=%lld from_seq=%lld head_seq=%lld",
                (long long)v.records, (long long)v.from_seq, (long long)v.head_seq);
        return 0;
    }
    if (!allow_broken_audit) {
        log_msg(LOG_ERROR,
                "event=start_failed reason=\"the audit chain is broken at seq %lld (%s): %s; "
                "run ketenctl audit verify, investigate, and start with --allow-broken-audit "
                "to run on (docs/audit.md)\" seq=%lld kind=%s",
                (long long)v.bad_seq, v.kind, v.what, (long long)v.bad_seq, v.kind);
        return -1;
    }
    log_msg(LOG_ERROR,
            "event=audit_broken seq=%lld kind=%s override=allow-broken-audit what=\"%s\"",
            (long long)v.bad_seq, v.kind, v.what);
    char detail[160];
    snprintf(detail, sizeof detail, "{\"seq\":%lld,\"kind\":\"%s\"}", (long long)v.bad_seq, v.kind);
    struct audit_record r = {NULL,   "hub", NULL,    "audit-verify", "audit", "broken-accepted",
                             detail, NULL,  "local", "beheer"};
    if (store_audit(st, &r) != 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"cannot audit the override: %s\"",
                store_errmsg(st));
        return -1;
    }
    return 0;
}

/* ---- reload (SIGHUP; docs/operations.md) ------------------------------ */

/* What a reload swaps the config in. */
struct hub {
    const char *path;
    struct config **cfg; /* run()'s: freed there at the end */
    const struct catalog *cat;
    struct store *st;
    struct intake *in;
    struct deliver *dl;
    struct escalate *esc;
    const char *admin_user; /* the reload under way: asked for on the admin socket by this
                               OS user ("" unknown), or NULL (SIGHUP) */
};

/* A config problem for the log: quoted values ("..." or '...') become '…',
 * since a value may be an officer's contact detail; the JSON pointer and the
 * sentence stay. Single quotes, so the line's problem="..." field stays one
 * field. `ketenhubd --check-config FILE` prints the problems in full. */
static void redact(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    char quote = 0;
    for (const char *p = in; *p && o + 5 < outlen; p++) {
        if (quote) {
            if (*p == quote) {
                out[o++] = '\'';
                quote = 0;
            }
            continue;
        }
        if (*p == '"' || *p == '\'') {
            quote = *p;
            memcpy(out + o, "'\xe2\x80\xa6", 4); /* '… */
            o += 4;
            continue;
        }
        out[o++] = *p;
    }
    if (quote)
        out[o++] = '\'';
    out[o] = '\0';
}

/* The JSON pointer a problem starts with ("" when it names none). */
static void problem_key(const char *problem, char *out, size_t outlen)
{
    size_t n = problem[0] == '/' ? strcspn(problem, ": ") : 0;
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), problem);
}

struct reload_problems {
    json_t *keys; /* the problems' JSON pointers, for the audit */
    int n;
};

static void log_reload_problem(void *arg, const char *problem)
{
    struct reload_problems *rp = arg;
    char line[1024], key[256];
    redact(problem, line, sizeof line);
    problem_key(problem, key, sizeof key);
    log_msg(LOG_ERROR, "event=reload_problem key=%s problem=\"%s\"", key[0] ? key : "-", line);
    if (json_array_size(rp->keys) < 50)
        json_array_append_new(rp->keys, json_string(key));
    rp->n++;
}

/* Audits a reload; `detail` is borrowed and gets the trigger added. */
static void audit_reload(struct hub *h, const char *outcome, json_t *detail)
{
    char when[UTIL_TIME_LEN];
    util_time_now(when);
    json_object_set_new(detail, "trigger", json_string(h->admin_user ? "admin socket" : "SIGHUP"));
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    char actor[80] = "hub";
    if (h->admin_user)
        snprintf(actor, sizeof actor, "admin%s%s", h->admin_user[0] ? ":" : "", h->admin_user);
    struct audit_record ar = {when,
                              actor,
                              h->admin_user ? "admin" : NULL,
                              "config_reload",
                              (*h->cfg)->path,
                              outcome,
                              text,
                              NULL,
                              h->admin_user ? "admin socket" : "local",
                              NULL};
    if (store_audit(h->st, &ar) != 0)
        log_msg(LOG_ERROR, "event=audit_failed action=config_reload error=\"%s\"",
                store_errmsg(h->st));
    free(text);
}

/* Logs and audits a refused reload; returns the outcome for the admin. */
static json_t *refuse_reload(struct hub *h, struct reload_problems *rp)
{
    log_msg(LOG_ERROR,
            "event=reload_failed problems=%d config=%s action=\"kept the running config; "
            "ketenhubd --check-config prints the problems in full\"",
            rp->n, (*h->cfg)->path);
    json_t *detail = json_pack("{s:i, s:O}", "problems", rp->n, "keys", rp->keys);
    audit_reload(h, "failed", detail);
    json_t *outcome = json_pack("{s:s}", "outcome", "failed");
    if (outcome && detail)
        json_object_update(outcome, detail);
    json_decref(detail);
    return outcome;
}

static int any_escalation(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->npolicies; i++)
        if (cfg->policies[i].escalation)
            return 1;
    return 0;
}

/* "a,b,c" of a JSON array of strings, for a log line ("-" when empty). */
static void join(const json_t *arr, char *out, size_t outlen)
{
    size_t used = 0, i;
    json_t *v;
    snprintf(out, outlen, "-");
    json_array_foreach(arr, i, v)
    {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? "," : "", json_string_value(v));
        if (w < 0 || (size_t)w >= outlen - used)
            break;
        used += (size_t)w;
    }
}

/* broker's reload function: see broker.h. Loads and checks the file the hub
 * started with; on any problem keeps the running config. Runs on the loop's
 * thread between batches: intake's helper is idle. config_load's rota_load
 * sets TZ for a moment (rota.h); no other thread of the hub reads the time
 * zone, and glibc never frees the environment strings a reader may hold. */
static const struct config *reload(void *arg, const char *admin_user, json_t **outcome)
{
    struct hub *h = arg;
    h->admin_user = admin_user;
    *outcome = NULL;
    struct config *cur = *h->cfg;
    struct reload_problems rp = {json_array(), 0};
    char **problems = NULL;
    size_t n = 0;
    log_msg(LOG_INFO, "event=reload_started config=%s trigger=%s", cur->path,
            admin_user ? "admin_socket" : "SIGHUP");
    struct config *next = config_load(cur->path, &problems, &n);
    for (size_t i = 0; i < n; i++)
        log_reload_problem(&rp, problems[i]);
    config_problems_free(problems, n);
    char err[512];
    json_t *sum = NULL;
    if (next)
        check_profiles(next, h->cat, log_reload_problem, &rp);
    if (next && rp.n == 0 && !h->esc && any_escalation(next)) {
        /* No engine runs (nothing escalated at start): one cannot be added
         * to the running loop. */
        log_reload_problem(&rp, "/policies: the running hub started without any escalating "
                                "policy; adding escalation needs a restart");
    }
    if (next && rp.n == 0 && !(sum = config_reload_prepare(cur, next, err, sizeof err)))
        log_reload_problem(&rp, err);
    if (!next || rp.n) {
        *outcome = refuse_reload(h, &rp);
        config_free(&next);
        json_decref(rp.keys);
        return cur;
    }
    if (intake_reconfigure(h->in, next) != 0 || deliver_reconfigure(h->dl, next) != 0) {
        /* Out of memory: put back what prepare moved, and stay as we were. */
        intake_reconfigure(h->in, cur);
        json_decref(config_reload_prepare(next, cur, err, sizeof err));
        log_reload_problem(&rp, "out of memory");
        *outcome = refuse_reload(h, &rp);
        config_free(&next);
        json_decref(sum);
        json_decref(rp.keys);
        return cur;
    }
    if (h->esc)
        escalate_reconfigure(h->esc, next);
    log_threshold = next->log_level;
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(sum, "needs_restart"), i, k)
    {
        log_msg(LOG_WARN,
                "event=reload_needs_restart key=/%s action=\"kept the running value; restart "
                "the hub to apply it\"",
                json_string_value(k));
    }
    char changed[512], added[512], removed[512], rekeyed[512];
    join(json_object_get(sum, "changed"), changed, sizeof changed);
    join(json_object_get(sum, "partners_added"), added, sizeof added);
    join(json_object_get(sum, "partners_removed"), removed, sizeof removed);
    join(json_object_get(sum, "partners_rekeyed"), rekeyed, sizeof rekeyed);
    log_msg(LOG_INFO,
            "event=reloaded config=%s changed=%s partners=%zu partners_added=%s "
            "partners_removed=%s partners_rekeyed=%s",
            next->path, changed, next->npartners, added, removed, rekeyed);
    *h->cfg = next;
    audit_reload(h, "applied", sum);
    *outcome = json_pack("{s:s}", "outcome", "applied");
    if (*outcome)
        json_object_update(*outcome, sum);
    json_decref(sum);
    json_decref(rp.keys);
    config_free(&cur);
    return next;
}

/* escalate's touch: an escalation event was queued for a partner. */
static void touch_partner(void *arg, const struct partner *partner)
{
    deliver_touch(arg, partner);
}

static int run(const char *path)
{
    struct config *cfg = NULL;
    struct catalog *cat = NULL;
    struct store *st = NULL;
    struct intake *in = NULL;
    struct broker *b = NULL;
    struct deliver *dl = NULL;
    struct notify *nt = NULL;
    struct escalate *esc = NULL;
    char pub[41], sec[41], err[1024];
    struct seal_key seal; /* the store's key (docs/encryption.md); outlives the store */
    struct retention *ret = NULL;
    int rc = 1;
    memset(&seal, 0, sizeof seal);
    if (load(path, &cfg, &cat) != 0)
        return 1;
    log_threshold = cfg->log_level;
    if (keyfile_read_pair(cfg->server_key, pub, sec, err, sizeof err) != 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    seal_key_init(&seal, cfg->encryption_secret);
    st = store_open(cfg->database, &seal, err, sizeof err);
    if (!st) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    if (check_audit(st, cfg) != 0)
        goto done;
    log_audit_head(st, "start");
    in = intake_new(cfg, cat, st);
    if (!in || pipe(wake_pipe) != 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"out of resources\"");
        goto done;
    }
    fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    dl = deliver_new(cfg, st);
    b = dl ? broker_new(cfg, pub, sec, in, st, dl, err, sizeof err) : NULL;
    sodium_memzero(sec, sizeof sec);
    if (!b) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    int escalates = 0;
    for (size_t i = 0; i < cfg->npolicies; i++)
        escalates |= cfg->policies[i].escalation != NULL;
    if (escalates) {
        nt = notify_new(&cfg->alerting->notify, err, sizeof err);
        esc = nt ? escalate_new(cfg, st, nt, util_wall_ms(), util_mono_ms(), touch_partner, dl, err,
                                sizeof err)
                 : NULL;
        if (!esc) {
            log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
            goto done;
        }
        broker_set_escalation(b, esc, nt);
    }
    if (cfg->retention) { /* docs/retention.md */
        struct retention_policy rp = {cfg->retention_after_closed_ms,
                                      cfg->retention_without_referral_ms,
                                      cfg->retention_interval_ms};
        ret = retention_new(&rp, st);
        if (!ret) {
            log_msg(LOG_ERROR, "event=start_failed reason=\"out of memory\"");
            goto done;
        }
        broker_set_retention(b, ret);
    }
    struct hub h = {path, &cfg, cat, st, in, dl, esc, NULL};
    broker_set_reload(b, reload, &h);
    log_msg(LOG_INFO, "event=started version=%s config=%s database=%s", KETENHUB_VERSION, path,
            cfg->database);
    if (broker_run(b, wake_pipe[0]) == 0) {
        log_msg(LOG_INFO, "event=stopping");
        rc = 0;
    }
    log_audit_head(st, "stop");
done:
    sodium_memzero(sec, sizeof sec);
    notify_free(&nt); /* before escalate: its callbacks use it */
    escalate_free(&esc);
    broker_free(&b);
    retention_free(&ret);
    deliver_free(&dl);
    intake_free(&in);
    store_close(&st);
    seal_key_wipe(&seal);
    catalog_free(&cat);
    config_free(&cfg);
    if (rc == 0)
        log_msg(LOG_INFO, "event=stopped");
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "ketenhubd: libsodium failed to initialise\n");
        return 1;
    }
    if (argc == 4 && strcmp(argv[1], "--config") == 0 &&
        strcmp(argv[3], "--allow-broken-audit") == 0)
        allow_broken_audit = 1;
    if ((argc == 3 || allow_broken_audit) && strcmp(argv[1], "--config") == 0)
        return run(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
        return check_config(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("ketenhubd %s\n", KETENHUB_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
