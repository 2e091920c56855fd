/*
 * test_escalate - escalation policies and the engine, with an injected clock.
 *
 * Config: every bad level, target, channel, team or alerting key is a problem
 * naming its JSON pointer. Schedule: levels start `after` the missed
 * deadline, repeat while current, and skip a repeat that would collide with
 * the next level. Engine (a real store in a temporary folder, no notify, so
 * alerts stay queued rows): nothing opens before the deadline; a deadline
 * opens one escalation and level 1 fires at once; wall-clock jumps neither
 * advance nor delay a deadline the engine knows; a restart long after the
 * deadline fires once; an acknowledgement stops the rounds and re-arms; a
 * referral that moves on resolves its escalation; the events it emits are
 * valid against their schemas.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include <sqlite3.h>

#include "check.h"
#include "config.h"
#include "escalate.h"
#include "keyfile.h"
#include "log.h"
#include "rota.h"
#include "schema.h"
#include "store.h"
#include "testutil.h"
#include "util.h"

static char dir[128];
static char root[1024];
static char schemas[1040];
static char coordinator_key[41], police_key[41];

#define OFFICERS                                                                                   \
    "[{'id': 'anna', 'name': 'Anna', 'email': 'anna@example.org',"                                 \
    "  'webhook': 'https://alerts.example.org/anna'},"                                             \
    " {'id': 'bram', 'name': 'Bram', 'email': 'bram@example.org'},"                                \
    " {'id': 'cor', 'name': 'Cor', 'email': 'cor@example.org'}]"
#define ROTA                                                                                       \
    "{'timezone': 'Europe/Amsterdam', 'weekly': [{'days': ['mon', 'tue', 'wed', 'thu', 'fri', "    \
    "'sat', 'sun'], 'from': '00:00', 'to': '00:00', 'officer': 'anna'}], 'fallback': 'cor'}"
#define ALERTING                                                                                   \
    "{'webhook_secret_file': 'secret', 'smtp_url': 'smtps://mail.example.org', "                   \
    "'from': 'hub@example.org'}"
#define LEVELS                                                                                     \
    "[{'after': 'PT0S', 'targets': ['on-duty'], 'channels': ['webhook', 'email'], "                \
    "'repeat': 'PT10M'},"                                                                          \
    " {'after': 'PT30M', 'targets': ['on-duty', 'team:piket'], 'channels': ['email'], "            \
    "'repeat': 'PT15M'}]"

static void dump(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", problems[i]);
}

/* Writes and loads a config: one coordinator partner, officers, rota, teams
 * and alerting as above unless `extra` replaces them, and a crisis policy
 * whose escalation is `escalation` (' becomes "). */
static struct config *load(const char *escalation, const char *extra, char ***problems, size_t *n)
{
    char text[16384], path[256];
    int len = snprintf(text, sizeof text,
                       "{\"listen\": \"tcp://127.0.0.1:5570\", \"database\": \"hub.db\",\n"
                       " \"schemas\": \"%s\", \"server_key\": \"hub.key\", " TU_SECRETS "\n"
                       " \"partners\": [{'id': 'kc', 'role': 'coordinator', 'public_key': '%s'},"
                       "               {'id': 'police', 'role': 'police', 'public_key': '%s'}],\n"
                       " \"policies\": {'crisis': {'receipt': 'PT15M', 'decision': 'PT4H'%s%s},"
                       "                'standaard': {'receipt': 'P1D', 'decision': 'P5D'}}%s}\n",
                       schemas, coordinator_key, police_key, escalation ? ", 'escalation': " : "",
                       escalation ? escalation : "",
                       extra ? extra
                             : ", 'officers': " OFFICERS ", 'rota': " ROTA ", 'alerting': " ALERTING
                               ", 'teams': {'piket': ['anna', 'bram']}");
    if (len < 0 || (size_t)len >= sizeof text) {
        fprintf(stderr, "  test config too long\n");
        exit(2);
    }
    for (char *c = text; *c; c++)
        if (*c == '\'')
            *c = '"';
    tu_write(dir, "ketenhub.json", text, path, sizeof path);
    return config_load(path, problems, n);
}

static struct config *load_ok(const char *escalation)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load(escalation, NULL, &p, &n);
    if (!cfg)
        dump(p, n);
    config_problems_free(p, n);
    return cfg;
}

/* 1 if the config is refused with a problem that starts with `prefix` and
 * contains `text`; prints the problems when not. */
static int refused(const char *escalation, const char *extra, const char *prefix, const char *text)
{
    char **p = NULL;
    size_t n = 0;
    struct config *cfg = load(escalation, extra, &p, &n);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= strncmp(p[i], prefix, strlen(prefix)) == 0 && strstr(p[i], text) != NULL;
    if (!found) {
        fprintf(stderr, "  no problem \"%s...%s\" among:\n", prefix, text);
        dump(p, n);
    }
    config_problems_free(p, n);
    int ok = cfg == NULL && found;
    config_free(&cfg);
    return ok;
}

/* ---- config ------------------------------------------------------------- */

static void a_policy_with_levels_loads(void)
{
    struct config *cfg = load_ok("{'levels': " LEVELS ", 'rearm': 'PT1H'}");
    CHECK(cfg != NULL);
    if (!cfg)
        return;
    const struct policy *p = config_policy(cfg, "crisis");
    CHECK(p && p->escalation);
    CHECK(config_policy(cfg, "standaard")->escalation == NULL);
    const struct escalation_policy *ep = p->escalation;
    CHECK_INT(ep->nlevels, 2);
    CHECK_INT(ep->levels[0].after_ms, 0);
    CHECK_INT(ep->levels[0].repeat_ms, 600000);
    CHECK_INT(ep->levels[0].channels, ESC_CHANNEL_WEBHOOK | ESC_CHANNEL_EMAIL);
    CHECK_INT(ep->levels[1].after_ms, 1800000);
    CHECK_INT(ep->levels[1].ntargets, 2);
    CHECK_INT(ep->levels[1].targets[1].kind, ESC_TARGET_TEAM);
    CHECK_INT(ep->rearm_ms, 3600000);
    CHECK_INT(cfg->alerting->webhook_secret_len, 32);
    CHECK(cfg->alerting->ketenctl && strstr(cfg->alerting->ketenctl, "ketenctl --config /"));
    CHECK(cfg->admin_socket && strstr(cfg->admin_socket, "/ketenhub.sock"));
    /* Level 2 at any moment: anna (on duty) and the team, each once. */
    const struct officer *who[8];
    size_t n = esc_level_officers(cfg, &ep->levels[1], 0, who, 8);
    CHECK_INT(n, 2);
    CHECK_STR(who[0]->id, "anna");
    CHECK_STR(who[1]->id, "bram");
    config_free(&cfg);
}

static void bad_levels_are_named_by_their_pointers(void)
{
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['on-duty'], 'channels': ['email']}]}",
                  NULL, "/policies/crisis/escalation/levels/0/repeat", "must repeat"));
    CHECK(refused("{'levels': []}", NULL, "/policies/crisis/escalation/levels", "1..16"));
    CHECK(refused("{'levels': " LEVELS ", 'rearm': 'soon'}", NULL,
                  "/policies/crisis/escalation/rearm", ""));
    CHECK(refused("{'levels': " LEVELS ", 'loops': 3}", NULL, "/policies/crisis/escalation/loops",
                  "unknown key"));
    CHECK(refused("{'levels': [{'after': 'PT10M', 'targets': ['on-duty'], 'channels': ['email'], "
                  "'repeat': 'PT5M'}, {'after': 'PT10M', 'targets': ['on-duty'], 'channels': "
                  "['email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/1/after", "later than"));
    CHECK(refused("{'levels': [{'targets': ['on-duty'], 'channels': ['email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/after", "required"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['on-duty'], 'channels': ['sms'], "
                  "'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/channels/0", "webhook"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['on-duty'], 'channels': ['email', "
                  "'email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/channels/1", "twice"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['officer:zed'], 'channels': "
                  "['email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/targets/0", "zed"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['team:nope'], 'channels': "
                  "['email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/targets/0", "nope"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['everyone'], 'channels': "
                  "['email'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/targets/0", "on-duty"));
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['on-duty'], 'channels': "
                  "['email'], 'repeat': 'PT0.5S'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/repeat", "from PT1S"));
}

static void channels_must_reach_every_officer_a_level_names(void)
{
    /* Only anna has a webhook: on-duty may be anyone, so webhook alone is
     * not enough. */
    CHECK(refused("{'levels': [{'after': 'PT0S', 'targets': ['on-duty'], 'channels': "
                  "['webhook'], 'repeat': 'PT5M'}]}",
                  NULL, "/policies/crisis/escalation/levels/0/targets/0", "officer bram"));
    /* Channels need their alerting settings. */
    CHECK(refused("{'levels': " LEVELS "}",
                  ", 'officers': " OFFICERS ", 'rota': " ROTA
                  ", 'teams': {'piket': ['anna']}, 'alerting': {'smtp_url': "
                  "'smtps://mail.example.org', 'from': 'hub@example.org'}",
                  "/policies/crisis/escalation/levels/0/channels", "webhook_secret_file"));
    CHECK(refused("{'levels': " LEVELS "}",
                  ", 'officers': " OFFICERS ", 'rota': " ROTA
                  ", 'teams': {'piket': ['anna']}, 'alerting': {'webhook_secret_file': 'secret'}",
                  "/policies/crisis/escalation/levels/0/channels", "smtp_url"));
    /* on-duty needs a rota. */
    CHECK(refused("{'levels': " LEVELS "}",
                  ", 'officers': " OFFICERS ", 'alerting': " ALERTING
                  ", 'teams': {'piket': ['anna']}",
                  "/policies/crisis/escalation/levels/0/targets/0", "rota"));
}

static void bad_alerting_and_teams_are_named(void)
{
    char path[256];
    tu_write(dir, "open-secret", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", path,
             sizeof path);
    chmod(path, 0644);
    CHECK(refused(NULL,
                  ", 'officers': " OFFICERS ", 'rota': " ROTA
                  ", 'alerting': {'webhook_secret_file': 'open-secret'}",
                  "/alerting/webhook_secret_file", "chmod 600"));
    tu_write(dir, "short-secret", "whsec_c2hvcnQ=\n", path, sizeof path);
    chmod(path, 0600);
    CHECK(refused(NULL, ", 'alerting': {'webhook_secret_file': 'short-secret'}",
                  "/alerting/webhook_secret_file", "24 to 64"));
    CHECK(refused(NULL,
                  ", 'alerting': {'smtp_url': 'smtp://mail.example.org', 'smtp_starttls': false, "
                  "'from': 'a@b.nl'}",
                  "/alerting/smtp_url", "encrypted"));
    CHECK(refused(NULL, ", 'alerting': {'smtp_url': 'smtps://mail.example.org'}", "/alerting/from",
                  "required"));
    CHECK(refused(NULL, ", 'alerting': {'from': 'not an address'}", "/alerting/from", "plain"));
    CHECK(refused(NULL, ", 'alerting': {'colour': 'red'}", "/alerting/colour", "unknown key"));
    CHECK(refused(NULL, ", 'alerting': {'max_attempts': 0}", "/alerting/max_attempts", "1..1000"));
    CHECK(refused(NULL, ", 'alerting': {'backoff_initial': 'PT10S', 'backoff_max': 'PT1S'}",
                  "/alerting/backoff_max", "not be shorter"));
    CHECK(refused(NULL, ", 'officers': " OFFICERS ", 'teams': {'piket': ['anna', 'zed']}",
                  "/teams/piket/1", "not an officer"));
    CHECK(refused(NULL, ", 'officers': " OFFICERS ", 'teams': {'piket': ['anna', 'anna']}",
                  "/teams/piket/1", "twice"));
    CHECK(refused(NULL, ", 'admin_socket': 7", "/admin_socket", "path"));
}

/* ---- schedule ------------------------------------------------------------ */

static void the_schedule_repeats_then_moves_to_the_next_level(void)
{
    struct esc_level lv[2] = {{.after_ms = 0, .repeat_ms = 600000},
                              {.after_ms = 1800000, .repeat_ms = 900000}};
    struct escalation_policy ep = {lv, 2, 0};
    const int64_t D = 1000000000;             /* the missed deadline */
    CHECK_INT(esc_next_ms(&ep, D, -1, 0), D); /* -1: nothing fired yet: level 1's start */
    CHECK_INT(esc_next_ms(&ep, D, 0, D), D + 600000);
    CHECK_INT(esc_next_ms(&ep, D, 0, D + 1200000), D + 1800000); /* repeat would be at +30 min */
    CHECK_INT(esc_next_ms(&ep, D, 0, D + 1500000), D + 1800000); /* no repeat past level 2 */
    CHECK_INT(esc_next_ms(&ep, D, 1, D + 1800000), D + 2700000);
    CHECK_INT(esc_next_ms(&ep, D, 1, D + 99000000), D + 99900000); /* late: from when it fired */
    CHECK_INT(esc_level_at(&ep, D, D), 0);
    CHECK_INT(esc_level_at(&ep, D, D + 1799999), 0);
    CHECK_INT(esc_level_at(&ep, D, D + 1800000), 1);
    CHECK_INT(esc_level_at(&ep, D, D - 5), 0);
    struct esc_level once[1] = {{.after_ms = 0, .repeat_ms = 0}};
    struct escalation_policy one = {once, 1, 0};
    CHECK(esc_next_ms(&one, D, 0, D) == INT64_MAX);
}

/* ---- engine -------------------------------------------------------------- */

static struct store *fresh_store(const char *name)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    if (!st)
        fprintf(stderr, "  %s\n", err);
    return st;
}

/* Stores one referral to police in state aangeboden with its receipt due at
 * `due`, and its first history row. */
static void put_referral(struct store *st, const char *id, int64_t due)
{
    struct store_referral r = {id,
                               1,
                               "police",
                               "crisis",
                               "crisis",
                               "aangeboden",
                               "2026-11-29T08:00:00.000Z",
                               due,
                               due + 86400000,
                               due - 60000};
    struct store_history h = {
        id, "2026-11-29T08:00:00.000Z", "hub", "aangeboden", NULL, "aangeboden", 1};
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_put_referral(st, &r), 0);
    CHECK_INT(store_add_history(st, &h), 0);
    CHECK_INT(store_commit(st), 0);
}

/* The coordinator's queued deliveries, opened through the store (payloads
 * are sealed at rest, docs/encryption.md), as a JSON array of strings. */
static void collect_payload(void *arg, const struct store_delivery *d)
{
    json_array_append_new(arg, json_stringn(d->payload, d->payload_len));
}

static json_t *kc_payloads(struct store *st)
{
    json_t *a = json_array();
    CHECK(store_pending_deliveries(st, "kc", 0, 1000, collect_payload, a) >= 0);
    return a;
}

/* How many of the coordinator's queued deliveries contain `needle`. */
static int count_kc_payloads(struct store *st, const char *needle)
{
    json_t *a = kc_payloads(st), *v;
    size_t i;
    int n = 0;
    json_array_foreach(a, i, v) n += strstr(json_string_value(v), needle) != NULL;
    json_decref(a);
    return n;
}

static long long query_int(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Runs the engine just after a moment: the first time the engine learns a
 * deadline it adds 1 ms, since it reads two clocks truncated to whole ms. */
static int64_t run_at(struct escalate *e, int64_t wall, int64_t mono)
{
    return escalate_run(e, wall + 1, mono + 1);
}

#define REF "01a2270a-0000-7000-8000-000000000001"
#define T0 INT64_C(1795939200000) /* 2026-11-29T08:00:00Z */
#define M0 INT64_C(5000000)       /* the monotonic clock then */

/* Loads a config whose crisis policy escalates as `escalation`, opens a new
 * store `db` with one referral whose receipt is due at T0 + 60 s, and starts
 * the engine at (wall, mono). Returns it, or NULL after a failed CHECK; the
 * caller frees *cfg and *st (set as far as they got) either way. */
static struct escalate *start(const char *escalation, const char *db, int64_t wall, int64_t mono,
                              struct config **cfg, struct store **st)
{
    char err[256];
    *cfg = load_ok(escalation);
    *st = fresh_store(db);
    CHECK(*cfg && *st);
    if (!*cfg || !*st)
        return NULL;
    put_referral(*st, REF, T0 + 60000);
    struct escalate *e = escalate_new(*cfg, *st, NULL, wall, mono, NULL, NULL, err, sizeof err);
    if (!e)
        fprintf(stderr, "  escalate_new: %s\n", err);
    CHECK(e != NULL);
    return e;
}

static void a_deadline_opens_one_escalation_and_fires_level_one(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    struct escalate *e = start("{'levels': " LEVELS "}", "open.db", T0, M0, &cfg, &st);
    if (!e)
        goto done;
    CHECK_INT(escalate_scheduled(e), 2); /* receipt and decision */
    /* Just before: nothing. The engine says when to come back. */
    CHECK_INT(escalate_run(e, T0 + 59999, M0 + 59999), M0 + 60001);
    CHECK_INT(escalate_run(e, T0 + 60000, M0 + 60000), M0 + 60001); /* never early, by 1 ms */
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations"), 0);
    /* At the deadline: opened and level 1 fired (anna: webhook and email). */
    run_at(e, T0 + 60000, M0 + 60000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations WHERE state = 'open' AND "
                            "deadline = 'receipt' AND level = 0 AND rounds = 1"),
              1);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM alerts WHERE officer = 'anna' AND round = 1 AND "
                            "state = 'queued'"),
              2);
    /* The coordinator got escalatie-gestart. */
    CHECK_INT(count_kc_payloads(st, "escalatie-gestart"), 1);
    /* 10 minutes on: round 2; 30 minutes on: level 2, anna and bram by email. */
    run_at(e, T0 + 660000, M0 + 660000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 2);
    run_at(e, T0 + 1260000, M0 + 1260000);
    run_at(e, T0 + 1860000, M0 + 1860000);
    CHECK_INT(query_int(st, "SELECT level FROM escalations"), 1);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM alerts WHERE level = 1 AND channel = 'email'"),
              2);
    /* Running again at the same moment does nothing more. */
    long long alerts = query_int(st, "SELECT COUNT(*) FROM alerts");
    run_at(e, T0 + 1860000, M0 + 1860000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM alerts"), alerts);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

static void wall_clock_jumps_neither_advance_nor_delay_a_known_deadline(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    char err[256];
    struct escalate *e = start("{'levels': " LEVELS "}", "jump.db", T0, M0, &cfg, &st);
    if (!e)
        goto done;
    /* The wall clock jumps an hour ahead after 10 s: nothing fires early. */
    run_at(e, T0 + 3610000, M0 + 10000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations"), 0);
    /* It jumps back two hours: at 60 s real time the deadline fires anyway,
     * and level 1 with it (its `after` is PT0S). */
    run_at(e, T0 - 7140000, M0 + 60000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations"), 1);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    /* The repeat comes 10 minutes of real time later, and level 2 after 30,
     * whatever the wall clock says meanwhile. */
    run_at(e, T0 + 86400000, M0 + 60000 + 599000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    run_at(e, T0 + 86400000, M0 + 60000 + 600000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 2);
    CHECK_INT(query_int(st, "SELECT level FROM escalations"), 0);
    run_at(e, T0 - 86400000, M0 + 60000 + 1800000);
    CHECK_INT(query_int(st, "SELECT level FROM escalations"), 1);
    escalate_free(&e);
    store_close(&st);
    /* A jump forward at the deadline does not skip level 1. */
    st = fresh_store("jump2.db");
    if (!st)
        goto done;
    put_referral(st, REF, T0 + 60000);
    e = escalate_new(cfg, st, NULL, T0, M0, NULL, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e)
        goto done;
    run_at(e, T0 + 3660000, M0 + 60000);
    CHECK_INT(query_int(st, "SELECT level FROM escalations"), 0);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM alerts WHERE level = 0"), 2);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

static void after_a_restart_an_overdue_escalation_fires_once(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    char err[256];
    /* Down from before the deadline until 3 hours after it: the hub starts
     * with a new monotonic clock. One round, at level 2, at once. */
    struct escalate *e =
        start("{'levels': " LEVELS "}", "restart.db", T0 + 10860000, 42, &cfg, &st);
    if (!e)
        goto done;
    run_at(e, T0 + 10860000, 42);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    CHECK_INT(query_int(st, "SELECT level FROM escalations"), 1);
    /* The next repeat counts from now: 15 minutes on, not at once. */
    run_at(e, T0 + 10860000 + 899000, 42 + 899000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    run_at(e, T0 + 10860000 + 900000, 42 + 900000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 2);
    escalate_free(&e);
    /* Another restart with the step overdue: again one round. */
    e = escalate_new(cfg, st, NULL, T0 + 20000000, 7, NULL, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (e)
        run_at(e, T0 + 20000000, 7);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 3);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations"), 1);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

static void an_acknowledgement_stops_the_rounds_and_rearms(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    char err[256];
    struct escalate *e =
        start("{'levels': " LEVELS ", 'rearm': 'PT1H'}", "ack.db", T0, M0, &cfg, &st);
    if (!e)
        goto done;
    run_at(e, T0 + 60000, M0 + 60000);
    json_t *res = NULL;
    CHECK_INT(
        escalate_ack(e, 1, "zed", NULL, "admin", T0 + 120000, M0 + 120000, &res, err, sizeof err),
        -1);
    CHECK(strstr(err, "officer") != NULL);
    CHECK_INT(
        escalate_ack(e, 99, "anna", NULL, "admin", T0 + 120000, M0 + 120000, &res, err, sizeof err),
        -1);
    CHECK(strstr(err, "no escalation 99") != NULL);
    CHECK_INT(escalate_ack(e, 1, "anna", "politie gebeld", "admin", T0 + 120000, M0 + 120000, &res,
                           err, sizeof err),
              0);
    CHECK_STR(json_string_value(json_object_get(res, "state")), "acknowledged");
    CHECK_INT(query_int(st, "SELECT acked_ms FROM escalations WHERE id = 1"), T0 + 120000);
    CHECK_STR(json_string_value(json_object_get(res, "rearm_at")), "2026-11-29T09:02:00.000Z");
    json_decref(res);
    res = NULL;
    CHECK_INT(
        escalate_ack(e, 1, "anna", NULL, "admin", T0 + 130000, M0 + 130000, &res, err, sizeof err),
        -1);
    CHECK(strstr(err, "acknowledged, not open") != NULL);
    /* The 10-minute repeat does not come. */
    run_at(e, T0 + 660000, M0 + 660000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    CHECK_INT(count_kc_payloads(st, "escalatie-bevestigd"), 1);
    /* An hour after the acknowledgement, still unanswered: open again, level 1. */
    run_at(e, T0 + 3720000, M0 + 3720000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations WHERE state = 'open' AND rearms = 1 "
                            "AND level = 0 AND rounds = 2"),
              1);
    CHECK_INT(count_kc_payloads(st, "escalatie-gestart"), 2);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

static void a_referral_that_moves_on_resolves_its_escalation(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    struct escalate *e = start("{'levels': " LEVELS "}", "resolve.db", T0, M0, &cfg, &st);
    if (!e)
        goto done;
    run_at(e, T0 + 60000, M0 + 60000);
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(
        store_update_referral(st, REF, "ontvangen", "2026-11-29T08:02:00.000Z", 0, T0 + 86460000),
        0);
    struct store_history h = {
        REF, "2026-11-29T08:02:00.000Z", "police", "ontvangen", "aangeboden", "ontvangen", 2};
    CHECK_INT(store_add_history(st, &h), 0);
    CHECK_INT(store_commit(st), 0);
    CHECK_INT(escalate_sync(e, T0 + 120000, M0 + 120000), 0);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations WHERE state = 'resolved' AND "
                            "resolution = 'ontvangen'"),
              1);
    run_at(e, T0 + 660000, M0 + 660000);
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 1);
    /* The decision deadline still runs, and escalates on its own. */
    run_at(e, T0 + 86460000, M0 + 86460000);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations WHERE deadline = 'decision' AND "
                            "state = 'open'"),
              1);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

static void a_referral_nobody_could_be_given_keeps_escalating(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    struct escalate *e = start("{'levels': " LEVELS "}", "failed.db", T0, M0, &cfg, &st);
    if (!e)
        goto done;
    run_at(e, T0 + 60000, M0 + 60000);
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_update_referral(st, REF, "mislukt", "2026-11-29T08:02:00.000Z", 0, 0), 0);
    struct store_history h = {
        REF, "2026-11-29T08:02:00.000Z", "hub", "mislukt", "aangeboden", "mislukt", 0};
    CHECK_INT(store_add_history(st, &h), 0);
    CHECK_INT(store_commit(st), 0);
    CHECK_INT(escalate_sync(e, T0 + 120000, M0 + 120000), 0);
    CHECK_INT(query_int(st, "SELECT COUNT(*) FROM escalations WHERE state = 'open'"), 1);
    run_at(e, T0 + 660000, M0 + 660000); /* the 10-minute repeat still comes */
    CHECK_INT(query_int(st, "SELECT rounds FROM escalations"), 2);
    escalate_free(&e);
done:
    store_close(&st);
    config_free(&cfg);
}

/* Loads every schema file in schemas/ into one registry. */
static struct schema_registry *load_schemas(void)
{
    static const char *const files[] = {"defs.json",
                                        "nl.mensenhandel.signalen.signaal-geregistreerd.json",
                                        "nl.mensenhandel.escalaties.escalatie-gestart.json",
                                        "nl.mensenhandel.escalaties.escalatie-bevestigd.json"};
    struct schema_registry *reg = schema_registry_new();
    char path[1200], err[256];
    for (size_t i = 0; reg && i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", schemas, files[i]);
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        if (!doc || schema_registry_add(reg, doc, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "  %s: %s\n", path, doc ? err : jerr.text);
            json_decref(doc);
            schema_registry_free(&reg);
            return NULL;
        }
        json_decref(doc);
    }
    if (reg && schema_registry_compile(reg, err, sizeof err) != 0) {
        fprintf(stderr, "  compile: %s\n", err);
        schema_registry_free(&reg);
    }
    return reg;
}

static void the_emitted_events_match_their_schemas(void)
{
    struct config *cfg = NULL;
    struct store *st = NULL;
    char err[256];
    struct schema_registry *reg = load_schemas();
    CHECK(reg != NULL);
    struct escalate *e =
        start("{'levels': " LEVELS ", 'rearm': 'PT1H'}", "events.db", T0, M0, &cfg, &st);
    if (!e || !reg)
        goto done;
    run_at(e, T0 + 60000, M0 + 60000);
    json_t *res = NULL;
    CHECK_INT(
        escalate_ack(e, 1, "bram", NULL, "admin", T0 + 70000, M0 + 70000, &res, err, sizeof err),
        0);
    json_decref(res);
    escalate_free(&e);
    int seen = 0;
    json_t *payloads = kc_payloads(st);
    size_t k;
    json_t *payload;
    json_array_foreach(payloads, k, payload)
    {
        json_error_t jerr;
        json_t *ev = json_loads(json_string_value(payload), 0, &jerr);
        const char *type = json_string_value(json_object_get(ev, "type"));
        char uri[256];
        snprintf(uri, sizeof uri, "https://ketenhub.nl/schemas/v1/%s.json", type ? type : "?");
        const struct schema *sc = schema_registry_get(reg, uri);
        CHECK(sc != NULL);
        json_t *errors = json_array();
        if (sc)
            CHECK_INT(schema_validate(sc, json_object_get(ev, "data"), errors, "/data", 10), 1);
        if (json_array_size(errors)) {
            char *t = json_dumps(errors, 0);
            fprintf(stderr, "  %s: %s\n", type, t);
            free(t);
        }
        CHECK_STR(json_string_value(json_object_get(ev, "subject")), REF);
        json_decref(errors);
        json_decref(ev);
        seen++;
    }
    json_decref(payloads);
    CHECK_INT(seen, 2);
done:
    escalate_free(&e);
    schema_registry_free(&reg);
    store_close(&st);
    config_free(&cfg);
}

int main(void)
{
    char err[256], path[256], pub[41], sec[41];
    log_threshold = LOG_ERROR; /* the engine warnings are expected here */
    tu_tempdir(dir, sizeof dir);
    tu_secrets(dir);
    if (!getcwd(root, sizeof root - 16))
        return 2;
    snprintf(schemas, sizeof schemas, "%s/schemas", root);
    snprintf(path, sizeof path, "%s/hub", dir);
    char keypath[300];
    snprintf(keypath, sizeof keypath, "%s.key", path);
    if (keyfile_generate(path, err, sizeof err) != 0 ||
        keyfile_read_pair(keypath, pub, sec, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    snprintf(coordinator_key, sizeof coordinator_key, "%s", pub);
    snprintf(path, sizeof path, "%s/police", dir);
    snprintf(keypath, sizeof keypath, "%s.key", path);
    if (keyfile_generate(path, err, sizeof err) != 0 ||
        keyfile_read_pair(keypath, pub, sec, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    snprintf(police_key, sizeof police_key, "%s", pub);
    /* The Standard Webhooks secret: whsec_ + base64 of 32 bytes. */
    tu_write(dir, "secret", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", path,
             sizeof path);
    chmod(path, 0600);

    RUN(a_policy_with_levels_loads);
    RUN(bad_levels_are_named_by_their_pointers);
    RUN(channels_must_reach_every_officer_a_level_names);
    RUN(bad_alerting_and_teams_are_named);
    RUN(the_schedule_repeats_then_moves_to_the_next_level);
    RUN(a_deadline_opens_one_escalation_and_fires_level_one);
    RUN(wall_clock_jumps_neither_advance_nor_delay_a_known_deadline);
    RUN(after_a_restart_an_overdue_escalation_fires_once);
    RUN(an_acknowledgement_stops_the_rounds_and_rearms);
    RUN(a_referral_that_moves_on_resolves_its_escalation);
    RUN(a_referral_nobody_could_be_given_keeps_escalating);
    RUN(the_emitted_events_match_their_schemas);
    tu_rmdir(dir);
    return CHECK_DONE();
}
