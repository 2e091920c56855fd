/*
 * privacy (ketenctl) - rekey, keycheck, purge; see privacy.h.
 */
#include "privacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "ctl/load.h"
#include "audit.h"
#include "config.h"
#include "keyfile.h"
#include "retention.h"
#include "seal.h"
#include "store.h"
#include "util.h"

/* A purge through the hub runs up to 50 batches of 100 signals. */
#define PURGE_TIMEOUT_MS 60000
/* Lines of a dry run before "... and N more" (the count is always exact). */
#define DRY_RUN_MAX 100000

static int usage(const char *cmd, const char *text)
{
    fprintf(stderr, "ketenctl %s: %s\n", cmd, text);
    return 2;
}

/* Who the audit names: --by NAME, else the login name. */
static void actor_name(const char *by, char *out, size_t len)
{
    const char *user = by ? by : getenv("USER");
    snprintf(out, len, "admin:%.64s", user && *user ? user : "unknown");
}

int privacy_rekey(const char *config_path, int argc, char **argv)
{
    const char *new_path = NULL, *by = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--new-key") == 0 || strcmp(argv[i], "--by") == 0) && i + 1 < argc) {
            *(argv[i][2] == 'n' ? &new_path : &by) = argv[i + 1];
            i++;
        } else {
            return usage("rekey", "usage: ketenctl --config FILE rekey --new-key NEWFILE "
                                  "[--by NAME]");
        }
    }
    if (!config_path || !new_path)
        return usage("rekey", "--config FILE and --new-key NEWFILE are required");
    struct config *cfg = ctl_load_config("rekey", config_path);
    if (!cfg)
        return 1;
    int rc = 1;
    char err[1024];
    uint8_t secret[KEYFILE_SECRET_LEN];
    struct seal_key from, to;
    struct store *st = NULL;
    memset(&to, 0, sizeof to);
    seal_key_init(&from, cfg->encryption_secret);
    if (keyfile_secret_read(new_path, secret, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl rekey: --new-key: %s\n", err);
        goto done;
    }
    seal_key_init(&to, secret);
    sodium_memzero(secret, sizeof secret);
    char *kdir = util_dirname(new_path), *ddir = util_dirname(cfg->database);
    int beside = kdir && ddir && util_same_file(kdir, ddir) == 1;
    free(kdir);
    free(ddir);
    if (beside) {
        fprintf(stderr,
                "ketenctl rekey: --new-key: %s is in the database's folder; keep keys in "
                "another folder so that a copy of the database does not carry its key\n",
                new_path);
        goto done;
    }
    if (strcmp(from.id_hex, to.id_hex) == 0) {
        fprintf(stderr, "ketenctl rekey: %s holds the key already in use (key id %s)\n", new_path,
                to.id_hex);
        goto done;
    }
    st = store_open(cfg->database, &from, err, sizeof err);
    if (!st) {
        fprintf(stderr, "ketenctl rekey: %s\n", err);
        if (strstr(err, "is in use"))
            fprintf(stderr, "ketenctl rekey: stop the hub first: a rekey runs offline\n");
        goto done;
    }
    char actor[80], detail[160], when[UTIL_TIME_LEN];
    actor_name(by, actor, sizeof actor);
    snprintf(detail, sizeof detail, "{\"from_key_id\":\"%s\",\"to_key_id\":\"%s\"}", from.id_hex,
             to.id_hex);
    util_time_now(when);
    struct audit_record ar = {.time = when,
                              .actor = actor,
                              .role = "admin",
                              .action = "rekey",
                              .object = "database",
                              .outcome = "done",
                              .detail = detail,
                              .address = "local"};
    struct store_seal_counts n;
    if (store_rekey(st, &to, &ar, &n, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl rekey: %s\n", err);
        goto done;
    }
    printf("re-encrypted %lld event bodies, %lld delivery payloads and %lld notes (%lld purged "
           "values had nothing to re-encrypt)\nfrom key id %s to key id %s, in one "
           "transaction.\n",
           n.events, n.deliveries, n.notes, n.purged, from.id_hex, to.id_hex);
    printf("Now point \"encryption_key\" in %s at %s and start the hub.\nKeep the old key "
           "file as long as you keep backups made before this rekey: they need it.\n",
           config_path, new_path);
    rc = 0;
done:
    store_close(&st);
    seal_key_wipe(&from);
    seal_key_wipe(&to);
    config_free(&cfg);
    return rc;
}

int privacy_keycheck(const char *config_path, int argc, char **argv)
{
    if (argc != 1 || !config_path)
        return usage("keycheck", "usage: ketenctl --config FILE keycheck");
    struct config *cfg = ctl_load_config("keycheck", config_path);
    if (!cfg)
        return 1;
    char err[1024] = "", have[SEAL_KEY_ID_HEX];
    struct seal_key key;
    seal_key_init(&key, cfg->encryption_secret);
    struct store *st = store_open_readonly(cfg->database, &key, err, sizeof err);
    int rc = 1;
    struct store_seal_counts n;
    if (st && (store_key_id(st, have) != 0 || (have[0] && strcmp(have, key.id_hex) != 0)))
        snprintf(err, sizeof err,
                 "database %s: encrypted under key id %s; the configured key is %s", cfg->database,
                 have[0] ? have : "?", key.id_hex);
    if (!st || err[0] || store_seal_check(st, &n, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl keycheck: %s\n", err);
    } else {
        printf("key id %s opens all %lld event bodies, %lld delivery payloads and %lld notes "
               "(%lld purged)\n",
               key.id_hex, n.events, n.deliveries, n.notes, n.purged);
        rc = 0;
    }
    store_close(&st);
    seal_key_wipe(&key);
    config_free(&cfg);
    return rc;
}

struct dry {
    json_t *list; /* --json */
    long long n, after_closed, without_referral;
};

static void print_due(void *arg, const struct retention_due *d)
{
    struct dry *dr = arg;
    dr->n++;
    if (strcmp(d->rule, "after_closed") == 0)
        dr->after_closed++;
    else
        dr->without_referral++;
    if (dr->list)
        json_array_append_new(dr->list, json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)d->seq,
                                                  "id", d->id, "rule", d->rule, "since", d->since));
    else
        printf("%lld\t%s\t%s\t%s\n", (long long)d->seq, d->id, d->rule, d->since);
}

/* Asks the running hub to purge now. */
static int purge_through_hub(const struct config *cfg, const char *by, int as_json)
{
    if (!cfg->admin_socket) {
        fprintf(stderr, "ketenctl purge: the hub is running and has no admin_socket to ask; it "
                        "purges by itself every retention.interval\n");
        return 1;
    }
    json_t *req = json_pack("{s:s, s:s}", "op", "purge", "by", by);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    char endpoint[4200], buf[16384];
    int linger = 0, rc = 1;
    json_t *reply = NULL;
    snprintf(endpoint, sizeof endpoint, "ipc://%s", cfg->admin_socket);
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (!text || !sock || access(cfg->admin_socket, R_OK | W_OK) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(sock, endpoint) != 0 || zmq_send(sock, text, strlen(text), 0) < 0) {
        fprintf(stderr, "ketenctl purge: cannot reach the hub at %s: %s\n", cfg->admin_socket,
                errno ? strerror(errno) : "error");
    } else if (zmq_poll(&item, 1, PURGE_TIMEOUT_MS) != 1) {
        fprintf(stderr, "ketenctl purge: no answer from the hub within %d s\n",
                PURGE_TIMEOUT_MS / 1000);
    } else {
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        json_error_t jerr;
        reply = n > 0 && n <= (int)sizeof buf ? json_loadb(buf, (size_t)n, 0, &jerr) : NULL;
        if (!json_is_true(json_object_get(reply, "ok"))) {
            const char *why = json_string_value(json_object_get(reply, "error"));
            fprintf(stderr, "ketenctl purge: refused: %s\n", why ? why : "(no answer)");
        } else if (as_json) {
            json_dumpf(reply, stdout, JSON_INDENT(2));
            putchar('\n');
            rc = 0;
        } else {
            const json_t *p = json_object_get(reply, "purged");
            printf("the hub purged %lld signals: %lld events, %lld deliveries, %lld notes, "
                   "%lld pseudonyms%s\n",
                   (long long)json_integer_value(json_object_get(p, "signals")),
                   (long long)json_integer_value(json_object_get(p, "events")),
                   (long long)json_integer_value(json_object_get(p, "deliveries")),
                   (long long)json_integer_value(json_object_get(p, "notes")),
                   (long long)json_integer_value(json_object_get(p, "pseudonyms")),
                   json_is_true(json_object_get(reply, "more"))
                       ? "; more are due: run it again, or let the hub's schedule go on"
                       : "");
            rc = 0;
        }
    }
    json_decref(reply);
    free(text);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int privacy_purge(const char *config_path, int argc, char **argv)
{
    int dry = 0, as_json = 0;
    const char *by = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0)
            dry = 1;
        else if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc)
            by = argv[++i];
        else
            return usage("purge", "usage: ketenctl --config FILE purge [--dry-run] [--json] "
                                  "[--by NAME]");
    }
    if (!config_path)
        return usage("purge", "--config FILE is required");
    struct config *cfg = ctl_load_config("purge", config_path);
    if (!cfg)
        return 1;
    int rc = 1;
    char err[1024], actor[80];
    struct store *st = NULL;
    struct seal_key key;
    seal_key_init(&key, cfg->encryption_secret);
    actor_name(by, actor, sizeof actor);
    struct retention_policy rp = {cfg->retention_after_closed_ms,
                                  cfg->retention_without_referral_ms, cfg->retention_interval_ms};
    int64_t now = util_wall_ms();
    if (!cfg->retention) {
        fprintf(stderr, "ketenctl purge: the config has no \"retention\": nothing is purged\n");
        goto done;
    }
    if (dry) {
        st = store_open_readonly(cfg->database, NULL, err, sizeof err);
        struct dry dr = {as_json ? json_array() : NULL, 0, 0, 0};
        if (!st) {
            fprintf(stderr, "ketenctl purge: %s\n", err);
        } else if (retention_select(store_sqlite(st), &rp, now, DRY_RUN_MAX, print_due, &dr) < 0) {
            fprintf(stderr, "ketenctl purge: cannot read the database: %s\n", store_errmsg(st));
        } else {
            char at[UTIL_TIME_LEN];
            util_time_format(now, at);
            if (as_json) {
                json_t *out =
                    json_pack("{s:s, s:I, s:I, s:I, s:o}", "now", at, "signals", (json_int_t)dr.n,
                              "after_closed", (json_int_t)dr.after_closed, "without_referral",
                              (json_int_t)dr.without_referral, "due", dr.list);
                dr.list = NULL;
                json_dumpf(out, stdout, JSON_INDENT(2));
                putchar('\n');
                json_decref(out);
            } else {
                printf("%lld signals would lose their payload as of %s (%lld after_closed, "
                       "%lld without_referral)%s\n",
                       dr.n, at, dr.after_closed, dr.without_referral,
                       dr.n == DRY_RUN_MAX ? "; listing stopped at the first 100000" : "");
            }
            rc = 0;
        }
        json_decref(dr.list);
        goto done;
    }
    int running = store_in_use(cfg->database, err, sizeof err);
    if (running < 0) {
        fprintf(stderr, "ketenctl purge: %s\n", err);
        goto done;
    }
    if (running) {
        rc = purge_through_hub(cfg, actor + strlen("admin:"), as_json);
        goto done;
    }
    st = store_open(cfg->database, &key, err, sizeof err);
    if (!st) {
        fprintf(stderr, "ketenctl purge: %s\n", err);
        goto done;
    }
    struct retention_counts c = {0, 0, 0, 0, 0};
    int more = 0;
    /* Offline, nothing else waits on the database: every batch at once. */
    if (retention_purge_all(st, &rp, now, 1000000, actor, &c, &more, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl purge: %s\n", err);
        goto done;
    }
    if (as_json) {
        json_t *out = json_pack("{s:b, s:o, s:b}", "ok", 1, "purged", retention_counts_json(&c),
                                "more", more);
        json_dumpf(out, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(out);
    } else {
        printf("purged %lld signals: %lld events, %lld deliveries, %lld notes, %lld pseudonyms "
               "(the hub is not running: done here)\n",
               c.signals, c.events, c.deliveries, c.notes, c.pseudonyms);
    }
    rc = 0;
done:
    store_close(&st);
    seal_key_wipe(&key);
    config_free(&cfg);
    return fflush(stdout) == 0 ? rc : 1;
}
