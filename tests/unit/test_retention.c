/*
 * test_retention - which signals lose their payload when (now as a
 * parameter), what a purge empties and what it keeps, bounded batches, one
 * audit record per purge transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sodium.h>

#include "check.h"
#include "log.h"
#include "retention.h"
#include "store.h"
#include "testutil.h"
#include "util.h"

#define SIGNAL "nl.mensenhandel.signalen.signaal-geregistreerd"
#define RESPONSE "nl.mensenhandel.doorverwijzingen.doorverwijzing-afgewezen"
#define DAY (24LL * 3600 * 1000)
/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

static char dir[128];

static const struct retention_policy policy = {30 * DAY, 10 * DAY, 3600000};

static void at(int64_t ms, char out[UTIL_TIME_LEN])
{
    util_time_format(ms, out);
}

/* A signal received at `t`, seq returned. */
static int64_t signal_at(struct store *st, const char *id, int64_t t)
{
    char when[UTIL_TIME_LEN];
    at(t, when);
    int64_t seq = 0;
    struct store_event ev = {"police-1", "urn:s", id, SIGNAL, NULL, when, "{\"s\":1}", 7, NULL, 0};
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    return seq;
}

/* A referral of `signal` made at `t`, with its offer; final at `closed` (0: open). */
static void referral_of(struct store *st, int64_t signal, const char *ref, int64_t t,
                        int64_t closed)
{
    char when[UTIL_TIME_LEN], off[64];
    at(t, when);
    struct store_referral r = {ref, signal, "gemeente-1", "standaard", "r", "aangeboden", when, 0,
                               0,   t};
    CHECK_INT(store_put_referral(st, &r), 0);
    struct store_history h = {ref, when, "hub", "aangeboden", NULL, "aangeboden", signal};
    CHECK_INT(store_add_history(st, &h), 0);
    snprintf(off, sizeof off, "offer-%s", ref);
    CHECK_INT(store_put_delivery(st, off, ref, "gemeente-1", when, "{\"offer\":1}"), 0);
    if (!closed)
        return;
    char done[UTIL_TIME_LEN], rid[64];
    at(closed, done);
    snprintf(rid, sizeof rid, "resp-%s", ref);
    int64_t seq = 0;
    struct store_event ev = {"gemeente-1", "urn:g",     rid, RESPONSE, NULL,
                             done,         "{\"r\":1}", 7,   NULL,     0};
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    struct store_history h2 = {ref,          done,        "gemeente-1", "afgewezen",
                               "aangeboden", "afgewezen", seq};
    CHECK_INT(store_add_history(st, &h2), 0);
    CHECK_INT(store_update_referral(st, ref, "afgewezen", done, 0, 0), 0);
}

struct seen {
    int64_t seqs[16];
    char rules[16][24];
    int n;
};

static void remember(void *arg, const struct retention_due *d)
{
    struct seen *s = arg;
    if (s->n < 16) {
        s->seqs[s->n] = d->seq;
        snprintf(s->rules[s->n], sizeof s->rules[s->n], "%s", d->rule);
        s->n++;
    }
}

static struct seen due(struct store *st, int64_t now)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    CHECK(retention_select(store_sqlite(st), &policy, now, 16, remember, &s) >= 0);
    return s;
}

static long long q(struct store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(store_sqlite(st), sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, sqlite3_errmsg(store_sqlite(st)));
    sqlite3_finalize(s);
    return v;
}

static int counted;
static void count_one(void *arg, const struct store_delivery *d)
{
    (void)arg;
    (void)d;
    counted++;
}

static struct store *fixture(const char *name)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    if (!st)
        fprintf(stderr, "store_open: %s\n", err);
    return st;
}

static void the_periods_start_when_the_last_referral_closes_or_at_arrival(void)
{
    struct store *st = fixture("select.db");
    if (!st)
        return;
    CHECK(store_begin(st) == 0);
    int64_t lone = signal_at(st, "lone", T0);            /* no referral: due at T0 + 10 d */
    int64_t closed = signal_at(st, "closed", T0);        /* closed at T0 + 5 d: due at T0 + 35 d */
    int64_t half = signal_at(st, "half", T0);            /* one closed, one open: never */
    int64_t late = signal_at(st, "late", T0 + 20 * DAY); /* no referral: due at T0 + 30 d */
    referral_of(st, closed, "r-closed", T0, T0 + 5 * DAY);
    referral_of(st, half, "r-half-1", T0, T0 + 1 * DAY);
    referral_of(st, half, "r-half-2", T0, 0);
    CHECK(store_commit(st) == 0);

    struct seen s = due(st, T0 + 10 * DAY - 1);
    CHECK_INT(s.n, 0);
    s = due(st, T0 + 10 * DAY + 1);
    CHECK_INT(s.n, 1);
    CHECK_INT(s.seqs[0], lone);
    CHECK_STR(s.rules[0], "without_referral");
    s = due(st, T0 + 35 * DAY - 1);
    CHECK_INT(s.n, 2); /* lone, late */
    CHECK_INT(s.seqs[1], late);
    s = due(st, T0 + 35 * DAY + 1);
    CHECK_INT(s.n, 3);
    CHECK_INT(s.seqs[0], lone);
    CHECK_INT(s.seqs[1], closed);
    CHECK_STR(s.rules[1], "after_closed");
    CHECK_INT(s.seqs[2], late);
    /* An open referral keeps its signal's payload, however old. */
    s = due(st, T0 + 3650 * DAY);
    CHECK_INT(s.n, 3);
    for (int i = 0; i < s.n; i++)
        CHECK(s.seqs[i] != half);
    store_close(&st);
}

static void a_purge_empties_the_payload_and_keeps_metadata_and_audit(void)
{
    struct store *st = fixture("purge.db");
    if (!st)
        return;
    CHECK(store_begin(st) == 0);
    int64_t gone = signal_at(st, "gone", T0);
    int64_t kept = signal_at(st, "kept", T0);
    referral_of(st, gone, "r-gone", T0, T0 + DAY);
    referral_of(st, kept, "r-kept", T0, 0);
    CHECK(store_commit(st) == 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS pseudonyms (seq INTEGER, kind TEXT, pseudonym TEXT, "
             "partner TEXT, received_ms INTEGER);"
             "INSERT INTO pseudonyms (seq, kind, pseudonym, partner, received_ms) VALUES "
             "(%lld, 'bsn', 'aa', 'police-1', 0), (%lld, 'bsn', 'bb', 'police-1', 0);"
             "INSERT INTO escalations (referral, deadline, due_ms, policy, partner, state, "
             "base_ms, level, created, updated, ack_note) VALUES ('r-gone', 'receipt', 0, 'p', "
             "'gemeente-1', 'resolved', 0, 0, 'x', 'x', 'called her sister');",
             (long long)gone, (long long)kept);
    CHECK(sqlite3_exec(store_sqlite(st), sql, NULL, NULL, NULL) == SQLITE_OK);
    long long audit_before = q(st, "SELECT count(*) FROM audit");
    struct retention_counts c = {0, 0, 0, 0, 0};
    char err[512];
    CHECK_INT(
        retention_purge(st, &policy, T0 + 40 * DAY, RETENTION_BATCH, "hub", &c, err, sizeof err),
        1);
    CHECK_INT(c.signals, 1);
    CHECK_INT(c.events, 2); /* the signal and the response about its referral */
    CHECK_INT(c.deliveries, 1);
    CHECK_INT(c.notes, 1);
    CHECK_INT(c.pseudonyms, 1);
    char *body = NULL;
    CHECK_INT(store_event_read(st, gone, &body, NULL), 0);
    CHECK_INT(store_event_read(st, kept, &body, NULL), 1);
    CHECK_STR(body, "{\"s\":1}");
    free(body);
    CHECK_INT(q(st, "SELECT count(*) FROM events WHERE purged IS NOT NULL AND length(body) = 0"),
              2);
    CHECK_INT(q(st, "SELECT count(*) FROM deliveries WHERE referral = 'r-kept' AND purged IS NULL "
                    "AND length(payload) > 0"),
              1);
    CHECK_INT(q(st, "SELECT count(*) FROM pseudonyms"), 1);
    CHECK_INT(q(st, "SELECT count(*) FROM escalations WHERE ack_note IS NULL"), 1);
    /* Metadata stays: the events, referrals, history and facts rows. */
    CHECK_INT(q(st, "SELECT count(*) FROM events"), 3);
    CHECK_INT(q(st, "SELECT count(*) FROM referrals WHERE id = 'r-gone' AND state = 'afgewezen'"),
              1);
    CHECK_INT(q(st, "SELECT count(*) FROM referral_history WHERE referral = 'r-gone'"), 2);
    /* One audit record, naming the signal by seq, with counts. */
    CHECK_INT(q(st, "SELECT count(*) FROM audit") - audit_before, 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit WHERE action = 'purge' AND actor = 'hub' AND "
             "json_extract(detail, '$.signal_seqs[0]') = %lld AND "
             "json_extract(detail, '$.events') = 2 AND json_extract(detail, '$.after_closed') = "
             "'P30D'",
             (long long)gone);
    CHECK_INT(q(st, sql), 1);
    /* Pending offers of a purged signal are not sent any more: only r-kept's. */
    counted = 0;
    CHECK_INT(store_pending_deliveries(st, "gemeente-1", 0, 10, count_one, NULL), 1);
    CHECK_INT(counted, 1);
    /* Nothing more is due: a second run writes no audit record. */
    CHECK_INT(
        retention_purge(st, &policy, T0 + 40 * DAY, RETENTION_BATCH, "hub", &c, err, sizeof err),
        0);
    CHECK_INT(q(st, "SELECT count(*) FROM audit") - audit_before, 1);
    /* A resend of a purged event still counts as a duplicate: it was stored. */
    int64_t seq = 0;
    struct store_event again = {"police-1", "urn:s", "gone", SIGNAL, NULL, "x", "{}", 2, NULL, 0};
    CHECK_INT(store_find_event(st, &again, &seq), 1);
    CHECK_INT(seq, gone);
    store_close(&st);
}

static void purges_go_in_bounded_batches(void)
{
    struct store *st = fixture("batches.db");
    if (!st)
        return;
    CHECK(store_begin(st) == 0);
    for (int i = 0; i < 2 * RETENTION_BATCH + 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "s-%d", i);
        signal_at(st, id, T0);
    }
    CHECK(store_commit(st) == 0);
    struct retention_counts c = {0, 0, 0, 0, 0};
    char err[512];
    long long audit_before = q(st, "SELECT count(*) FROM audit");
    CHECK_INT(retention_purge(st, &policy, T0 + 11 * DAY, 1000, "hub", &c, err, sizeof err),
              RETENTION_BATCH);
    int more = 0;
    CHECK_INT(retention_purge_all(st, &policy, T0 + 11 * DAY, 1, "admin:test", &c, &more, err,
                                  sizeof err),
              0);
    CHECK_INT(more, 1); /* one batch allowed, more were due */
    CHECK_INT(retention_purge_all(st, &policy, T0 + 11 * DAY, 10, "admin:test", &c, &more, err,
                                  sizeof err),
              0);
    CHECK_INT(more, 0);
    CHECK_INT(c.signals, 2 * RETENTION_BATCH + 5);
    CHECK_INT(q(st, "SELECT count(*) FROM audit") - audit_before, 3);
    /* Asked again with nothing due: one record says so; the hub's own
     * schedule writes none. */
    CHECK_INT(retention_purge_all(st, &policy, T0 + 11 * DAY, 10, "admin:test", &c, &more, err,
                                  sizeof err),
              0);
    CHECK_INT(
        retention_purge_all(st, &policy, T0 + 11 * DAY, 10, "hub", &c, &more, err, sizeof err), 0);
    CHECK_INT(q(st, "SELECT count(*) FROM audit") - audit_before, 4);
    CHECK_INT(q(st, "SELECT count(*) FROM audit WHERE outcome = 'nothing-due' AND "
                    "actor = 'admin:test'"),
              1);
    CHECK_INT(q(st, "SELECT count(*) FROM audit WHERE action = 'purge' AND actor = 'admin:test' "
                    "AND role = 'admin'"),
              3);
    counted = 0;
    CHECK_INT(store_pending_deliveries(st, "gemeente-1", 0, 10, count_one, NULL), 0);
    store_close(&st);
}

static void the_schedule_runs_a_batch_when_due_and_again_at_once_when_full(void)
{
    struct store *st = fixture("schedule.db");
    if (!st)
        return;
    CHECK(store_begin(st) == 0);
    for (int i = 0; i < RETENTION_BATCH + 1; i++) {
        char id[32];
        snprintf(id, sizeof id, "s-%d", i);
        signal_at(st, id, T0);
    }
    CHECK(store_commit(st) == 0);
    struct retention *r = retention_new(&policy, st);
    int64_t mono = 1000;
    /* Nothing due before the period ends: next run one interval on. */
    CHECK_INT(retention_run(r, T0 + DAY, mono), mono + policy.interval_ms);
    CHECK_INT(retention_run(r, T0 + 11 * DAY, mono + 1), mono + policy.interval_ms);
    mono += policy.interval_ms;
    CHECK_INT(retention_run(r, T0 + 11 * DAY, mono), mono); /* a full batch: again at once */
    CHECK_INT(q(st, "SELECT count(*) FROM events WHERE purged IS NOT NULL"), RETENTION_BATCH);
    CHECK_INT(retention_run(r, T0 + 11 * DAY, mono), mono + policy.interval_ms);
    CHECK_INT(q(st, "SELECT count(*) FROM events WHERE purged IS NOT NULL"), RETENTION_BATCH + 1);
    retention_free(&r);
    CHECK(r == NULL);
    store_close(&st);
}

int main(void)
{
    if (sodium_init() < 0)
        return 2;
    log_threshold = LOG_ERROR;
    tu_tempdir(dir, sizeof dir);
    RUN(the_periods_start_when_the_last_referral_closes_or_at_arrival);
    RUN(a_purge_empties_the_payload_and_keeps_metadata_and_audit);
    RUN(purges_go_in_bounded_batches);
    RUN(the_schedule_runs_a_batch_when_due_and_again_at_once_when_full);
    tu_rmdir(dir);
    return CHECK_DONE();
}
