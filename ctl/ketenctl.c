/*
 * ketenctl - the ketenhub admin and partner-developer command line.
 *
 *   ketenctl keygen PATH
 *   ketenctl --config FILE status [--json]
 *   ketenctl --config FILE referrals [--state S] [--partner P] [--limit N] [--json]
 *   ketenctl --config FILE referral ID [--json]
 *   ketenctl --config FILE deadletters [--json]
 *   ketenctl --config FILE replay (SEQ... | --all) --by NAME
 *   ketenctl --config FILE oncall [--at TIME] [--json]
 *   ketenctl receive --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key [--accept]
 *   ketenctl send --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key
 *                 [--timeout SECONDS] EVENT.json...
 *   ketenctl --config FILE audit verify|export|subject ...   (ctl/audit.c)
 *
 * `status`, `referrals`, `referral` and `deadletters` read the hub's database
 * read-only, then append their look-up to the audit chain (ctl/audit.h) and
 * only then print; `replay` writes to it beside the running hub (ctl/referrals.c);
 * `send` is a test client that speaks the partner protocol exactly as
 * docs/protocol.md describes it. Every command is in docs/ketenctl.md.
 * Exit codes: 0 done, 1 failed (or not found, or not all done), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "ctl/load.h"
#include "client.h"
#include "config.h"
#include "ctl/audit.h"
#include "receive.h"
#include "ctl/privacy.h"
#include "ctl/pseudonym_cmd.h"
#include "ctl/referrals.h"
#include "ctl/report.h"
#include "ctl/report_render.h"
#include "keyfile.h"
#include "referral.h"
#include "rota.h"
#include "store.h"
#include "util.h"

#define EVENT_FILE_MAX (16 * 1024 * 1024)
#define SEND_WINDOW 64

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: ketenctl keygen PATH\n"
        "       ketenctl keygen --secret PATH\n"
        "       ketenctl --config FILE status [--json]\n"
        "       ketenctl --config FILE referrals [--state S] [--partner P] [--limit N] [--json]\n"
        "       ketenctl --config FILE referral ID [--json]\n"
        "       ketenctl --config FILE deadletters [--json]\n"
        "       ketenctl --config FILE replay (SEQ... | --all) --by NAME\n"
        "       ketenctl --config FILE oncall [--at TIME] [--json]\n"
        "       ketenctl --config FILE escalations [--open] [--json]\n"
        "       ketenctl --config FILE ack ESCALATION_ID --by OFFICER [--note TEXT] [--json]\n"
        "       ketenctl --config FILE reload [--json]\n"
        "       ketenctl --config FILE report --from DATE --to DATE [--format json|csv|html]\n"
        "                     [--out PATH] [--threshold N]\n"
        "       ketenctl --config FILE rekey --new-key NEWFILE [--by NAME]\n"
        "       ketenctl --config FILE keycheck\n"
        "       ketenctl --config FILE purge [--dry-run] [--json] [--by NAME]\n"
        "       ketenctl --config FILE audit verify [--json] [--anchor SEQ:HASH]\n"
        "       ketenctl --config FILE audit export --from DATE --to DATE [--out FILE]\n"
        "       ketenctl --config FILE audit subject (PSEUDONYM | --bsn BSN |\n"
        "                     --name SURNAME --birthdate YYYY-MM-DD) [--json]\n"
        "       ketenctl --config FILE pseudonym (--bsn BSN | --name SURNAME --birthdate\n"
        "                     YYYY-MM-DD) [--json]\n"
        "       ketenctl send --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key\n"
        "                     [--timeout SECONDS] EVENT.json...\n"
        "       ketenctl receive --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key\n"
        "                     [--accept] [--count N] [--timeout SECONDS]\n"
        "\n");
    /* Two strings: C11 compilers need only take 4095 characters in one. */
    fprintf(
        out,
        "keygen       writes PATH.pub (Z85 public key) and PATH.key (key pair, mode 0600)\n"
        "             --secret: writes PATH, a secret key (encryption_key, pseudonym_key)\n"
        "status       counts of stored events, intake outcomes and audit records\n"
        "referrals    referrals, newest first, at most N (default 100); S is one of\n"
        "             aangeboden ontvangen geaccepteerd afgewezen afgerond geannuleerd mislukt\n"
        "referral     one referral with its history and its deliveries\n"
        "deadletters  deliveries the hub gave up on\n"
        "replay       puts dead-lettered deliveries (by seq, or --all) back in the queue,\n"
        "             audited as admin:NAME; the running hub sends them again by itself\n"
        "oncall       the duty officer at TIME (RFC 3339 with offset, or now: the default),\n"
        "             why, since and until when, the fallback and the next three changes\n"
        "escalations  escalations of missed deadlines, newest first; --open: only those\n"
        "             waiting for an acknowledgement\n"
        "ack          acknowledges an escalation through the running hub (its admin\n"
        "             socket): stops the repeats; OFFICER is an officer id\n"
        "reload       makes the running hub read its config again (as SIGHUP does) and\n"
        "             prints what changed; exits 1 if the hub kept the running config\n"
        "report       the coordinator's overview of a period (dates YYYY-MM-DD, UTC, both\n"
        "             included): signals, referrals, response times, escalations; counts\n"
        "             below N (default 5) hidden (docs/reporting.md)\n"
        "rekey        re-encrypts every stored value under NEWFILE's key, in one\n"
        "             transaction, with the hub stopped (docs/encryption.md)\n"
        "keycheck     opens every encrypted value with the configured key (read-only)\n"
        "purge        removes the payload retention says is due (docs/retention.md):\n"
        "             --dry-run lists it; else the running hub does it (admin socket),\n"
        "             or ketenctl itself when the hub is stopped\n"
        "audit        verify: checks the audit chain (exit 3 when broken); export: the\n"
        "             records of a period as JSON lines; subject: who accessed the data\n"
        "             of one person, by pseudonym (docs/audit.md)\n"
        "pseudonym    the pseudonym of a person's BSN, or surname and date of birth, under\n"
        "             the pseudonym key (\"-\": read from stdin); for an access request\n"
        "             with audit subject (docs/matching.md)\n"
        "send         sends each event file (\"-\" = stdin) over CURVE, prints each reply\n"
        "             as one JSON line; exits 0 only if every event was accepted\n"
        "receive      takes deliveries as the partner: prints each as one JSON line and\n"
        "             confirms it; --accept answers each referral with ontvangen and\n"
        "             geaccepteerd; stops after N deliveries or SECONDS\n"
        "\n"
        "The database commands read the database named in the config; see docs/ketenctl.md.\n"
        "Every command that shows case data is audited as admin:<OS user>; --as NAME (before\n"
        "the command) adds the officer's name to that record.\n");
}

static int cmd_keygen(int argc, char **argv)
{
    char err[512];
    if (argc == 3 && strcmp(argv[1], "--secret") == 0) {
        if (keyfile_secret_generate(argv[2], err, sizeof err) != 0) {
            fprintf(stderr, "ketenctl keygen: %s\n", err);
            return 1;
        }
        fprintf(stderr, "wrote %s (secret key, mode 0600)\n", argv[2]);
        return 0;
    }
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    if (keyfile_generate(argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl keygen: %s\n", err);
        return 1;
    }
    char pub[41], path[4096];
    snprintf(path, sizeof path, "%s.pub", argv[1]);
    if (keyfile_read_public(path, pub, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl keygen: %s\n", err);
        return 1;
    }
    fprintf(stderr, "wrote %s.key (secret, mode 0600) and %s.pub\n", argv[1], argv[1]);
    printf("%s\n", pub); /* the public key on stdout, so scripts can capture it */
    return 0;
}

static void print_groups(const char *title, const json_t *obj)
{
    const char *k;
    json_t *v;
    printf("  %-11s", title);
    if (json_object_size(obj) == 0)
        printf(" -");
    int first = 1;
    json_object_foreach((json_t *)obj, k, v)
    {
        printf("%s %s: %lld", first ? "" : ",", k, (long long)json_integer_value(v));
        first = 0;
    }
    printf("\n");
}

/*
 * A look-up's output is held back (ctl_capture_begin) until its audit record
 * is committed: `rc` is what the look-up returned (0 shown, 1 not found, -1
 * failed, err said why). Records `lk` with the outcome, then prints or drops
 * the output. Returns 0, 1, or -1 when it failed or could not be recorded.
 */
static int lookup_done(const char *cmd, const char *db, struct ctl_capture *cap, int rc,
                       struct ctl_lookup *lk)
{
    char err[1024];
    if (rc < 0) {
        ctl_capture_end(cap, 0);
        return -1;
    }
    lk->outcome = rc == 0 ? "shown" : "not_found";
    if (ctl_audit_record(db, lk, err, sizeof err) != 0) {
        ctl_capture_end(cap, 0);
        fprintf(stderr, "ketenctl %s: %s; nothing shown\n", cmd, err);
        return -1;
    }
    if (ctl_capture_end(cap, 1) != 0) {
        fprintf(stderr, "ketenctl %s: cannot write to standard output\n", cmd);
        return -1;
    }
    return rc;
}

/* Starts holding a look-up's output back; says why on failure. 0 or -1. */
static int lookup_begin(const char *cmd, struct ctl_capture *cap)
{
    if (ctl_capture_begin(cap) == 0)
        return 0;
    fprintf(stderr, "ketenctl %s: cannot buffer the output: %s\n", cmd, strerror(errno));
    return -1;
}

static int cmd_status(const char *config_path, int argc, char **argv)
{
    int as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (!config_path || (argc > 1 && !as_json)) {
        usage(stderr);
        return 2;
    }
    struct config *cfg = ctl_load_config(NULL, config_path);
    if (!cfg)
        return 1;
    char err[1024];
    struct store *st = store_open_readonly(cfg->database, NULL, err, sizeof err);
    if (!st) {
        fprintf(stderr, "ketenctl status: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    json_t *s = store_stats(st);
    int rc = 0;
    struct ctl_capture cap;
    if (s && lookup_begin("status", &cap) != 0) {
        json_decref(s);
        s = NULL;
        rc = 1;
    } else if (!s) {
        fprintf(stderr, "ketenctl status: cannot read %s: %s\n", cfg->database, store_errmsg(st));
        rc = 1;
    } else if (as_json) {
        json_object_set_new(s, "database", json_string(cfg->database));
        json_dumpf(s, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
    } else {
        printf("database   %s (schema version %lld)\n", cfg->database,
               (long long)json_integer_value(json_object_get(s, "schema_version")));
        printf("events     %lld stored, last seq %lld\n",
               (long long)json_integer_value(json_object_get(s, "events")),
               (long long)json_integer_value(json_object_get(s, "last_seq")));
        print_groups("by type", json_object_get(s, "by_type"));
        print_groups("by partner", json_object_get(s, "by_partner"));
        print_groups("intake", json_object_get(s, "intake_outcomes"));
        print_groups("referrals", json_object_get(s, "referrals_by_state"));
        print_groups("deliveries", json_object_get(s, "deliveries_by_state"));
        print_groups("escalations", json_object_get(s, "escalations_by_state"));
        print_groups("alerts", json_object_get(s, "alerts_by_state"));
        printf("audit      %lld records\n",
               (long long)json_integer_value(json_object_get(s, "audit_records")));
    }
    store_close(&st);
    if (s) {
        struct ctl_lookup lk = {"lookup", "status", NULL, "beheer", NULL, NULL};
        rc = lookup_done("status", cfg->database, &cap, 0, &lk) == 0 ? 0 : 1;
    }
    json_decref(s);
    config_free(&cfg);
    return rc;
}

/* A usage error of `cmd`: what is wrong, then the usage. Returns 2. */
static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ketenctl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr);
    return 2;
}

/* The database path from the config at `config_path`, or NULL after saying
 * why on stderr. Caller frees. */
static char *database_path(const char *cmd, const char *config_path)
{
    struct config *cfg = ctl_load_config(cmd, config_path);
    if (!cfg)
        return NULL;
    char *path = strdup(cfg->database);
    if (!path)
        fprintf(stderr, "ketenctl %s: out of memory\n", cmd);
    config_free(&cfg);
    return path;
}

/* The store's key from the config's encryption_key (docs/encryption.md).
 * 0, or -1 (the problems printed). */
static int load_seal_key(const char *cmd, const char *config_path, struct seal_key *key)
{
    struct config *cfg = ctl_load_config(cmd, config_path);
    if (!cfg)
        return -1;
    seal_key_init(key, cfg->encryption_secret);
    config_free(&cfg);
    return 0;
}

/* `ketenctl referrals`: filters, limit, --json. */
static int cmd_referrals(const char *config_path, int argc, char **argv)
{
    struct referrals_filter f = {NULL, NULL, 100};
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--json") == 0) {
            as_json = 1;
            continue;
        }
        if (strcmp(opt, "--state") != 0 && strcmp(opt, "--partner") != 0 &&
            strcmp(opt, "--limit") != 0)
            return usage_error("referrals", "unknown option \"%s\"", opt);
        if (i + 1 >= argc)
            return usage_error("referrals", "%s needs a value", opt);
        const char *value = argv[++i];
        enum referral_state state;
        if (strcmp(opt, "--state") == 0) {
            if (referral_state_parse(value, &state) != 0) {
                char names[256] = ""; /* from the state machine, so it cannot go stale */
                size_t off = 0;
                for (int k = 0; k < REFERRAL_STATE_COUNT && off < sizeof names; k++)
                    off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", k ? " " : "",
                                            referral_state_name((enum referral_state)k));
                return usage_error("referrals", "unknown state \"%s\" (one of %s)", value, names);
            }
            f.state = value;
        } else if (strcmp(opt, "--partner") == 0) {
            f.partner = value;
        } else if (util_parse_long(value, 1, 1000000, &f.limit) != 0) {
            return usage_error("referrals", "--limit \"%s\" is not a number from 1 to 1000000",
                               value);
        }
    }
    if (!config_path)
        return usage_error("referrals", "%s", "--config FILE is required");
    char err[1024];
    char *db = database_path("referrals", config_path);
    if (!db)
        return 1;
    struct ctl_capture cap;
    if (lookup_begin("referrals", &cap) != 0) {
        free(db);
        return 1;
    }
    int rc = referrals_list(db, &f, as_json, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "ketenctl referrals: %s\n", err);
    json_t *detail = json_pack("{s:s?, s:s?, s:i}", "state", f.state, "partner", f.partner, "limit",
                               (int)f.limit);
    struct ctl_lookup lk = {"lookup", "referrals", NULL, "ketenzorg", NULL, detail};
    rc = lookup_done("referrals", db, &cap, rc, &lk);
    json_decref(detail);
    free(db);
    return rc == 0 ? 0 : 1;
}

/* `ketenctl referral ID [--json]`. */
static int cmd_referral(const char *config_path, int argc, char **argv)
{
    const char *id = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strncmp(argv[i], "--", 2) == 0)
            return usage_error("referral", "unknown option \"%s\"", argv[i]);
        else if (id)
            return usage_error("referral", "one referral id only, not also \"%s\"", argv[i]);
        else
            id = argv[i];
    }
    if (!id)
        return usage_error("referral", "%s", "which referral? give its ID");
    if (!config_path)
        return usage_error("referral", "%s", "--config FILE is required");
    char err[1024];
    char *db = database_path("referral", config_path);
    if (!db)
        return 1;
    struct ctl_capture cap;
    if (lookup_begin("referral", &cap) != 0) {
        free(db);
        return 1;
    }
    int rc = referrals_show(db, id, as_json, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "ketenctl referral: %s\n", err);
    /* A look-up of an id that is not there is recorded too. */
    struct ctl_lookup lk = {"lookup", id, NULL, "ketenzorg", NULL, NULL};
    rc = lookup_done("referral", db, &cap, rc, &lk);
    if (rc == 1)
        fprintf(stderr, "ketenctl referral: no referral %s\n", id);
    free(db);
    return rc == 0 ? 0 : 1;
}

/* `ketenctl deadletters [--json]`. */
static int cmd_deadletters(const char *config_path, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0)
            return usage_error("deadletters", "unknown argument \"%s\"", argv[i]);
        as_json = 1;
    }
    if (!config_path)
        return usage_error("deadletters", "%s", "--config FILE is required");
    char err[1024];
    char *db = database_path("deadletters", config_path);
    if (!db)
        return 1;
    struct ctl_capture cap;
    if (lookup_begin("deadletters", &cap) != 0) {
        free(db);
        return 1;
    }
    int rc = referrals_dead_letters(db, as_json, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "ketenctl deadletters: %s\n", err);
    struct ctl_lookup lk = {"lookup", "deadletters", NULL, "beheer", NULL, NULL};
    rc = lookup_done("deadletters", db, &cap, rc, &lk);
    free(db);
    return rc == 0 ? 0 : 1;
}

/* An admin name for the audit trail: 1 to 64 of [A-Za-z0-9._@-], so that
 * "admin:NAME" reads unambiguously. */
static int admin_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

/* `ketenctl replay (SEQ... | --all) --by NAME`. */
static int cmd_replay(const char *config_path, int argc, char **argv)
{
    const char *by = NULL;
    int all = 0, rc = 2;
    size_t n = 0;
    char *db = NULL;
    int64_t *seqs = calloc((size_t)argc, sizeof *seqs);
    if (!seqs) {
        fprintf(stderr, "ketenctl replay: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        long seq;
        if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (strcmp(argv[i], "--by") == 0) {
            if (i + 1 >= argc) {
                rc = usage_error("replay", "%s", "--by needs a value (your name, for the audit)");
                goto done;
            }
            by = argv[++i];
        } else if (strncmp(argv[i], "--", 2) == 0) {
            rc = usage_error("replay", "unknown option \"%s\"", argv[i]);
            goto done;
        } else if (util_parse_long(argv[i], 1, LONG_MAX, &seq) == 0) {
            seqs[n++] = seq;
        } else {
            rc =
                usage_error("replay", "\"%s\" is not a delivery seq (a positive integer)", argv[i]);
            goto done;
        }
    }
    if (!by) {
        rc = usage_error("replay", "%s", "--by NAME is required (who replays, for the audit)");
        goto done;
    }
    if (!admin_name_ok(by)) {
        rc = usage_error("replay", "--by \"%s\" is not a name: 1 to 64 of A-Z a-z 0-9 . _ @ -", by);
        goto done;
    }
    if (all == (n > 0)) {
        rc = usage_error("replay", "%s",
                         all ? "give delivery seqs or --all, not both"
                             : "which deliveries? give their seqs, or --all");
        goto done;
    }
    if (!config_path) {
        rc = usage_error("replay", "%s", "--config FILE is required");
        goto done;
    }
    rc = 1;
    db = database_path("replay", config_path);
    if (!db)
        goto done;
    char err[1024];
    int skipped = referrals_replay(db, seqs, n, all, by, err, sizeof err);
    if (skipped < 0)
        fprintf(stderr, "ketenctl replay: %s\n", err);
    else if (skipped > 0)
        fprintf(stderr, "ketenctl replay: %d of %zu deliveries not requeued (see RESULT)\n",
                skipped, n);
    rc = skipped == 0 ? 0 : 1;
done:
    free(db);
    free(seqs);
    return rc;
}

/* One moment for people: local weekday and time, and UTC. */
static void print_moment(const struct config *cfg, const char *label, int64_t ms)
{
    char local[ROTA_TIME_LEN], utc[ROTA_TIME_LEN];
    if (ms == INT64_MIN || ms == INT64_MAX) {
        printf("%-10s-\n", label);
        return;
    }
    rota_format_local(cfg, ms, local);
    rota_format_local(NULL, ms, utc);
    printf("%-10s%s %s  (%s)\n", label, rota_weekday(cfg, ms), local, utc);
}

static void print_officer(const char *label, const struct officer *o)
{
    printf("%-10s%s [%s]", label, o->name ? o->name : o->id, o->id);
    if (o->email)
        printf("  e-mail %s", o->email);
    if (o->phone)
        printf("  phone %s", o->phone);
    printf("%s\n", o->webhook ? "  webhook" : "");
}

static void print_why(const struct rota_duty *d)
{
    if (strcmp(d->why, "override") == 0)
        printf("override /rota/overrides/%ld%s%s", d->index, d->reason ? ": " : "",
               d->reason ? d->reason : "");
    else if (strcmp(d->why, "weekly") == 0)
        printf("weekly shift /rota/weekly/%ld", d->index);
    else
        printf("fallback (outside the years the rota covers, 1970-2099)");
}

/* `ketenctl oncall [--at TIME] [--json]`: who is on duty at TIME, from the config. */
static int cmd_oncall(const char *config_path, int argc, char **argv)
{
    const char *at = "now";
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (strcmp(argv[i], "--at") != 0)
            return usage_error("oncall", "unknown argument \"%s\"", argv[i]);
        else if (i + 1 >= argc)
            return usage_error("oncall", "%s", "--at needs a value: an RFC 3339 time or now");
        else
            at = argv[++i];
    }
    int64_t when = 0;
    if (strcmp(at, "now") == 0)
        when = util_wall_ms();
    else if (rota_parse_time(at, &when) != 0)
        return usage_error("oncall",
                           "--at \"%s\" is not an RFC 3339 time with an offset "
                           "(e.g. 2026-12-24T23:30:00+01:00) or now",
                           at);
    if (!config_path)
        return usage_error("oncall", "%s", "--config FILE is required");
    struct config *cfg = ctl_load_config("oncall", config_path);
    if (!cfg)
        return 1;
    int rc = 0;
    struct rota_duty d;
    if (rota_duty_at(cfg, when, &d) != 0) {
        fprintf(stderr,
                "ketenctl oncall: no rota configured in %s (keys officers and rota, "
                "docs/escalation.md)\n",
                config_path);
        rc = 1;
    } else if (as_json) {
        json_t *doc = rota_report(cfg, when, 3);
        rc = doc && json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 ? 0 : 1;
        printf("\n");
        json_decref(doc);
    } else {
        print_moment(cfg, "at", when);
        printf("%-10s%s\n", "timezone", rota_timezone(cfg));
        print_officer("on duty", d.officer);
        printf("%-10s", "why");
        print_why(&d);
        printf("\n");
        print_moment(cfg, "since", d.since_ms);
        print_moment(cfg, "until", d.until_ms);
        print_officer("fallback", rota_fallback(cfg));
        printf("\nnext changes\n");
        for (int i = 0; i < 3 && d.until_ms != INT64_MAX; i++) {
            char local[ROTA_TIME_LEN];
            int64_t from = d.until_ms;
            if (rota_duty_at(cfg, from, &d) != 0)
                break;
            rota_format_local(cfg, from, local);
            printf("  %s %s  %s  ", rota_weekday(cfg, from), local, d.officer->id);
            print_why(&d);
            printf("\n");
        }
        if (d.until_ms == INT64_MAX)
            printf("  none after this\n");
    }
    config_free(&cfg);
    return rc;
}

static char *read_event(const char *path, size_t *len, char *err, size_t errlen)
{
    if (strcmp(path, "-") != 0)
        return util_read_file(path, EVENT_FILE_MAX, len, err, errlen);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *grown = cap < EVENT_FILE_MAX ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                snprintf(err, errlen, "stdin is larger than %d bytes", EVENT_FILE_MAX);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *len = n;
    return buf;
}

struct send_opts {
    const char *hub, *hub_key, *key;
    long timeout_s;
    char **files;
    int nfiles;
};

static int parse_send(int argc, char **argv, struct send_opts *o)
{
    o->timeout_s = 10;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--hub") == 0)
            o->hub = argv[i + 1];
        else if (strcmp(argv[i], "--hub-key") == 0)
            o->hub_key = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            o->key = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0) {
            if (util_parse_long(argv[i + 1], 1, 3600, &o->timeout_s) != 0)
                return -1;
        } else
            return -1;
    }
    o->files = argv + i;
    o->nfiles = argc - i;
    return o->hub && o->hub_key && o->key && o->nfiles > 0 ? 0 : -1;
}

static int cmd_send(int argc, char **argv)
{
    struct send_opts o = {0};
    char err[1024];
    if (parse_send(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    /* Read every file first: a typo in the last name should not leave half sent. */
    char **bodies = calloc((size_t)o.nfiles, sizeof *bodies);
    size_t *lens = calloc((size_t)o.nfiles, sizeof *lens);
    struct client c = {0};
    int rc = 2;
    if (!bodies || !lens)
        goto done;
    for (int i = 0; i < o.nfiles; i++) {
        bodies[i] = read_event(o.files[i], &lens[i], err, sizeof err);
        if (!bodies[i]) {
            fprintf(stderr, "ketenctl send: %s\n", err);
            goto done;
        }
    }
    if (client_open(&c, o.hub, o.hub_key, o.key, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl send: %s\n", err);
        goto done;
    }
    int sent = 0, replies = 0, accepted = 0;
    int64_t deadline = util_mono_ms() + o.timeout_s * 1000;
    rc = 1;
    while (replies < o.nfiles) {
        while (sent < o.nfiles && sent - replies < SEND_WINDOW) {
            if (zmq_send(c.sock, bodies[sent], lens[sent], 0) < 0) {
                fprintf(stderr, "ketenctl send: %s\n", zmq_strerror(errno));
                goto done;
            }
            sent++;
        }
        zmq_pollitem_t items[2] = {{c.sock, 0, ZMQ_POLLIN, 0}, {c.monitor, 0, ZMQ_POLLIN, 0}};
        long wait = (long)(deadline - util_mono_ms());
        if (wait <= 0 || zmq_poll(items, 2, wait) < 0)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            const char *why = client_handshake_failure(&c);
            if (why) {
                fprintf(stderr, "ketenctl send: %s\n", why);
                goto done;
            }
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c.sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        json_t *reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
        if (!json_object_get(reply, "ack")) {
            /* A delivery (or a heartbeat answer) for this partner: not ours to
             * take. Left unconfirmed, the hub offers it again later. */
            const char *type = json_string_value(json_object_get(reply, "type"));
            fprintf(stderr, "ketenctl send: not taking a delivery for this partner (%s)\n",
                    type ? type : "frame");
            json_decref(reply);
            zmq_msg_close(&m);
            continue;
        }
        fwrite(zmq_msg_data(&m), 1, zmq_msg_size(&m), stdout);
        fputc('\n', stdout);
        fflush(stdout);
        zmq_msg_close(&m);
        const char *status = json_string_value(json_object_get(reply, "status"));
        accepted += status && strcmp(status, "accepted") == 0;
        json_decref(reply);
        replies++;
        deadline = util_mono_ms() + o.timeout_s * 1000;
    }
    if (replies < o.nfiles)
        fprintf(stderr,
                "ketenctl send: no reply from %s within %ld s for %d of %d events "
                "(is the hub running there?)\n",
                o.hub, o.timeout_s, o.nfiles - replies, o.nfiles);
    rc = accepted == o.nfiles ? 0 : 1;
done:
    if (bodies)
        for (int i = 0; i < o.nfiles; i++)
            free(bodies[i]);
    free(bodies);
    free(lens);
    client_close(&c);
    return rc;
}

/* `ketenctl escalations [--open] [--json]`. */
static int cmd_escalations(const char *config_path, int argc, char **argv)
{
    int open_only = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--open") == 0)
            open_only = 1;
        else if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else
            return usage_error("escalations", "unknown argument \"%s\"", argv[i]);
    }
    if (!config_path)
        return usage_error("escalations", "%s", "--config FILE is required");
    char err[1024];
    char *db = database_path("escalations", config_path);
    if (!db)
        return 1;
    /* The officers' notes are sealed (docs/encryption.md): the key opens them. */
    struct seal_key key;
    if (load_seal_key("escalations", config_path, &key) != 0) {
        free(db);
        return 1;
    }
    struct ctl_capture cap;
    if (lookup_begin("escalations", &cap) != 0) {
        seal_key_wipe(&key);
        free(db);
        return 1;
    }
    int rc = escalations_list(db, &key, open_only, as_json, err, sizeof err);
    seal_key_wipe(&key);
    if (rc != 0)
        fprintf(stderr, "ketenctl escalations: %s\n", err);
    json_t *detail = json_pack("{s:b}", "open", open_only);
    struct ctl_lookup lk = {"lookup", "escalations", NULL, "ketenzorg", NULL, detail};
    rc = lookup_done("escalations", db, &cap, rc, &lk);
    json_decref(detail);
    free(db);
    return rc == 0 ? 0 : 1;
}

#define ADMIN_TIMEOUT_MS 10000

/* Sends one request to the hub's admin socket; returns the reply (caller
 * frees) or NULL with err filled. */
static json_t *admin_request(const char *socket_path, const json_t *req, char *err, size_t errlen)
{
    struct stat st;
    if (stat(socket_path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "no admin socket at %s: is ketenhubd running with this config?",
                 socket_path);
        return NULL;
    }
    if (access(socket_path, R_OK | W_OK) != 0) {
        snprintf(err, errlen,
                 "may not use the admin socket %s (%s): run ketenctl as the hub's user",
                 socket_path, strerror(errno));
        return NULL;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    json_t *reply = NULL;
    char endpoint[160];
    snprintf(endpoint, sizeof endpoint, "ipc://%s", socket_path);
    int linger = 0;
    if (!text || !sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(sock, endpoint) != 0 || zmq_send(sock, text, strlen(text), 0) < 0) {
        snprintf(err, errlen, "cannot reach the hub at %s: %s", socket_path, zmq_strerror(errno));
        goto done;
    }
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, ADMIN_TIMEOUT_MS) != 1) {
        snprintf(err, errlen, "no answer from the hub at %s within %d s", socket_path,
                 ADMIN_TIMEOUT_MS / 1000);
        goto done;
    }
    char buf[16384];
    int n = zmq_recv(sock, buf, sizeof buf, 0);
    json_error_t jerr;
    reply = n > 0 && n <= (int)sizeof buf ? json_loadb(buf, (size_t)n, 0, &jerr) : NULL;
    if (!json_is_object(reply)) {
        snprintf(err, errlen, "the hub's answer is not a JSON object");
        json_decref(reply);
        reply = NULL;
    }
done:
    free(text);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return reply;
}

/* `ketenctl ack ESCALATION_ID --by OFFICER [--note TEXT] [--json]`. */
/* Prints one list of the reload's outcome ("-" when empty). */
static void print_list(const char *label, const json_t *arr)
{
    size_t i;
    json_t *v;
    printf("%-17s", label);
    if (json_array_size(arr) == 0)
        printf(" -");
    json_array_foreach(arr, i, v)
    {
        printf(" %s", json_string_value(v));
    }
    putchar('\n');
}

static int cmd_reload(const char *config_path, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else
            return usage_error("reload", "unknown argument \"%s\"", argv[i]);
    }
    if (!config_path)
        return usage_error("reload", "%s", "--config FILE is required");
    /* Only to find the admin socket: the hub checks the file itself and
     * keeps its running config when it has a problem. */
    struct config *cfg = ctl_load_config("reload", config_path);
    if (!cfg) {
        fprintf(stderr, "ketenctl reload: not sent: the hub would refuse this config too\n");
        return 1;
    }
    char user[80] = "";
    const struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && strlen(pw->pw_name) <= 64)
        snprintf(user, sizeof user, "%s", pw->pw_name);
    json_t *req = json_pack("{s:s, s:s*}", "op", "reload", "user", user[0] ? user : NULL);
    char err[1024];
    json_t *reply = req ? admin_request(cfg->admin_socket, req, err, sizeof err) : NULL;
    json_decref(req);
    config_free(&cfg);
    if (!reply) {
        fprintf(stderr, "ketenctl reload: %s\n", err);
        return 1;
    }
    const json_t *r = json_object_get(reply, "reload");
    int ok = json_is_true(json_object_get(reply, "ok"));
    if (as_json) {
        json_dumpf(reply, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (!ok) {
        const char *why = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "ketenctl reload: refused: %s\n", why ? why : "(no reason given)");
    } else {
        printf("reloaded\n");
        print_list("changed:", json_object_get(r, "changed"));
        print_list("needs restart:", json_object_get(r, "needs_restart"));
        print_list("partners added:", json_object_get(r, "partners_added"));
        print_list("partners removed:", json_object_get(r, "partners_removed"));
        print_list("partners rekeyed:", json_object_get(r, "partners_rekeyed"));
        print_list("partners changed:", json_object_get(r, "partners_changed"));
    }
    json_decref(reply);
    return fflush(stdout) == 0 && ok ? 0 : 1;
}

static int cmd_ack(const char *config_path, int argc, char **argv)
{
    const char *by = NULL, *note = NULL;
    long id = 0;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--by") == 0 || strcmp(argv[i], "--note") == 0) {
            if (i + 1 >= argc)
                return usage_error("ack", "%s needs a value", argv[i]);
            *(argv[i][2] == 'b' ? &by : &note) = argv[i + 1];
            i++;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return usage_error("ack", "unknown option \"%s\"", argv[i]);
        } else if (id) {
            return usage_error("ack", "one escalation id only, not also \"%s\"", argv[i]);
        } else if (util_parse_long(argv[i], 1, LONG_MAX, &id) != 0) {
            return usage_error("ack", "\"%s\" is not an escalation id (a positive integer)",
                               argv[i]);
        }
    }
    if (!id)
        return usage_error("ack", "%s", "which escalation? give its ID (ketenctl escalations)");
    if (!by)
        return usage_error("ack", "%s", "--by OFFICER is required (your officer id)");
    if (!config_path)
        return usage_error("ack", "%s", "--config FILE is required");
    struct config *cfg = ctl_load_config("ack", config_path);
    if (!cfg)
        return 1;
    /* The hub audits the acknowledgement as admin:<OS user> (docs/audit.md). */
    char user[80] = "";
    const struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name)
        snprintf(user, sizeof user, "%s", pw->pw_name);
    json_t *req = json_pack("{s:s, s:I, s:s, s:s*, s:s*}", "op", "ack", "escalation",
                            (json_int_t)id, "by", by, "note", note, "user", user[0] ? user : NULL);
    char err[1024];
    json_t *reply = req ? admin_request(cfg->admin_socket, req, err, sizeof err) : NULL;
    json_decref(req);
    config_free(&cfg);
    if (!reply) {
        fprintf(stderr, "ketenctl ack: %s\n", err);
        return 1;
    }
    int rc = 1;
    const json_t *esc = json_object_get(reply, "escalation");
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *why = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "ketenctl ack: refused: %s\n", why ? why : "(no reason given)");
    } else if (as_json) {
        json_dumpf(esc, stdout, JSON_INDENT(2));
        putchar('\n');
        rc = 0;
    } else {
        const char *rearm = json_string_value(json_object_get(esc, "rearm_at"));
        printf("escalation %ld acknowledged by %s at %s: repeats stopped.\n", id,
               json_string_value(json_object_get(esc, "by")),
               json_string_value(json_object_get(esc, "acknowledged")));
        if (rearm)
            printf("If referral %s is still not answered at %s, it escalates again.\n",
                   json_string_value(json_object_get(esc, "referral")), rearm);
        rc = 0;
    }
    json_decref(reply);
    return fflush(stdout) == 0 ? rc : 1;
}

/* `ketenctl report --from DATE --to DATE [--format F] [--out PATH] [--threshold N]`. */
static int cmd_report(const char *config_path, int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *format = "json", *out_path = NULL;
    long threshold = REPORT_THRESHOLD_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--from") != 0 && strcmp(opt, "--to") != 0 &&
            strcmp(opt, "--format") != 0 && strcmp(opt, "--out") != 0 &&
            strcmp(opt, "--threshold") != 0)
            return usage_error("report", "unknown argument \"%s\"", opt);
        if (i + 1 >= argc)
            return usage_error("report", "%s needs a value", opt);
        const char *v = argv[++i];
        if (strcmp(opt, "--from") == 0)
            from = v;
        else if (strcmp(opt, "--to") == 0)
            to = v;
        else if (strcmp(opt, "--format") == 0)
            format = v;
        else if (strcmp(opt, "--out") == 0)
            out_path = v;
        else if (util_parse_long(v, REPORT_THRESHOLD_MIN, REPORT_THRESHOLD_MAX, &threshold) != 0)
            return usage_error("report", "--threshold \"%s\" is not a number from %d to %d", v,
                               REPORT_THRESHOLD_MIN, REPORT_THRESHOLD_MAX);
    }
    if (!from || !to)
        return usage_error("report", "%s", "--from DATE and --to DATE are required");
    if (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "html") != 0)
        return usage_error("report", "--format \"%s\" is not one of json, csv, html", format);
    char err[1024];
    struct report_period pd;
    if (report_period_parse(from, to, &pd, err, sizeof err) != 0)
        return usage_error("report", "%s", err);
    if (!config_path)
        return usage_error("report", "%s", "--config FILE is required");
    struct config *cfg = ctl_load_config("report", config_path);
    if (!cfg)
        return 1;
    json_t *model =
        report_build(cfg->database, cfg, &pd, (int)threshold, util_wall_ms(), err, sizeof err);
    if (!model) {
        config_free(&cfg);
        fprintf(stderr, "ketenctl report: %s\n", err);
        return 1;
    }
    /* Recorded after the read, before anything is written. */
    json_t *detail =
        json_pack("{s:s, s:s, s:s, s:i, s:s}", "from", pd.from, "to", pd.to, "format", format,
                  "threshold", (int)threshold, "out", out_path ? "file" : "stdout");
    struct ctl_lookup lk = {"report", "report", "shown", "rapportage", NULL, detail};
    int recorded = detail ? ctl_audit_record(cfg->database, &lk, err, sizeof err) : -1;
    json_decref(detail);
    config_free(&cfg);
    if (recorded != 0) {
        fprintf(stderr, "ketenctl report: %s; nothing written\n", detail ? err : "out of memory");
        json_decref(model);
        return 1;
    }
    /* A report is for sharing: mode 0644 whatever the umask. */
    FILE *out = stdout;
    if (out_path) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        out = fd >= 0 && fchmod(fd, 0644) == 0 ? fdopen(fd, "w") : NULL;
        if (!out && fd >= 0)
            close(fd);
    }
    int rc = 1;
    if (!out) {
        fprintf(stderr, "ketenctl report: cannot write %s: %s\n", out_path, strerror(errno));
    } else {
        int w;
        if (strcmp(format, "csv") == 0)
            w = report_write_csv(model, out, err, sizeof err);
        else if (strcmp(format, "html") == 0)
            w = report_write_html(model, out, err, sizeof err);
        else {
            w = json_dumpf(model, out, JSON_INDENT(2)) == 0 && fputc('\n', out) != EOF ? 0 : -1;
            snprintf(err, sizeof err, "cannot write the report");
        }
        if (w != 0)
            fprintf(stderr, "ketenctl report: %s\n", err);
        int closed = fflush(out);
        if (out != stdout && fclose(out) != 0)
            closed = EOF;
        if (w == 0 && closed != 0)
            fprintf(stderr, "ketenctl report: cannot write %s\n", out_path ? out_path : "stdout");
        rc = w == 0 && closed == 0 ? 0 : 1;
    }
    json_decref(model);
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int i = 1;
    if (sodium_init() < 0)
        return 1;
    while (i + 1 < argc && (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--as") == 0)) {
        if (strcmp(argv[i], "--config") == 0) {
            config_path = argv[i + 1];
        } else if (ctl_audit_set_as(argv[i + 1]) != 0) {
            fprintf(stderr,
                    "ketenctl: --as \"%s\" is not a name: 1 to 64 of A-Z a-z 0-9 . _ @ - "
                    "and space\n",
                    argv[i + 1]);
            return 2;
        }
        i += 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - i, argv + i);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(config_path, argc - i, argv + i);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(argc - i, argv + i);
    if (strcmp(cmd, "receive") == 0)
        return receive_main(argc - i, argv + i);
    if (strcmp(cmd, "referrals") == 0)
        return cmd_referrals(config_path, argc - i, argv + i);
    if (strcmp(cmd, "referral") == 0)
        return cmd_referral(config_path, argc - i, argv + i);
    if (strcmp(cmd, "deadletters") == 0)
        return cmd_deadletters(config_path, argc - i, argv + i);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(config_path, argc - i, argv + i);
    if (strcmp(cmd, "oncall") == 0)
        return cmd_oncall(config_path, argc - i, argv + i);
    if (strcmp(cmd, "escalations") == 0)
        return cmd_escalations(config_path, argc - i, argv + i);
    if (strcmp(cmd, "ack") == 0)
        return cmd_ack(config_path, argc - i, argv + i);
    if (strcmp(cmd, "reload") == 0)
        return cmd_reload(config_path, argc - i, argv + i);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(config_path, argc - i, argv + i);
    if (strcmp(cmd, "rekey") == 0)
        return privacy_rekey(config_path, argc - i, argv + i);
    if (strcmp(cmd, "keycheck") == 0)
        return privacy_keycheck(config_path, argc - i, argv + i);
    if (strcmp(cmd, "purge") == 0)
        return privacy_purge(config_path, argc - i, argv + i);
    if (strcmp(cmd, "pseudonym") == 0)
        return ctl_pseudonym(config_path, argc - i, argv + i);
    if (strcmp(cmd, "audit") == 0)
        return ctl_audit_main(config_path, argc - i, argv + i);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ketenctl: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
