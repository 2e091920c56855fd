/*
 * retention - purge personal payload after its retention period; see
 * retention.h.
 *
 * Times in the tables are RFC 3339 UTC text as util_time_format writes it
 * (fixed width, so text order is time order); the cut-offs are written the
 * same way and compared as text, so the partial index on events.received
 * (migration 5b) serves the selection.
 */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "audit.h"
#include "duration.h"
#include "log.h"
#include "referral.h"
#include "util.h"

#define SIGNAL_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"
#define ADMIN_MAX_BATCHES 50

/* "'afgewezen', 'afgerond', ...": the final states, from the state machine. */
static void final_states(char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int s = 0; s < REFERRAL_STATE_COUNT; s++) {
        if (!referral_is_final((enum referral_state)s))
            continue;
        int w = snprintf(out + used, len - used, "%s'%s'", used ? ", " : "",
                         referral_state_name((enum referral_state)s));
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

int retention_select(struct sqlite3 *db, const struct retention_policy *p, int64_t now_ms,
                     size_t max, retention_due_fn fn, void *arg)
{
    char finals[256], sql[2048], cut_closed[UTIL_TIME_LEN], cut_none[UTIL_TIME_LEN];
    final_states(finals, sizeof finals);
    /* A signal with referrals is due once each is final and the last of
     * them changed (reached its final state) before the cut-off; its arrival
     * is earlier still, which lets the index narrow the scan. */
    /* Each half walks the partial index in arrival order and stops at `max`
     * rows, so a batch costs about `max` signals (plus those kept by an
     * open referral) however large a backlog is. */
    snprintf(sql, sizeof sql,
             "SELECT * FROM (SELECT e.seq, e.id, 'without_referral', e.received FROM events e "
             "WHERE e.purged IS NULL AND e.type = '" SIGNAL_TYPE "' AND e.received < ?1 "
             "AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.signal_seq = e.seq) "
             "ORDER BY e.received LIMIT ?3) "
             "UNION ALL "
             "SELECT * FROM (SELECT e.seq, e.id, 'after_closed', "
             "(SELECT max(r.updated) FROM referrals r WHERE r.signal_seq = e.seq) FROM events e "
             "WHERE e.purged IS NULL AND e.type = '" SIGNAL_TYPE "' AND e.received < ?2 "
             "AND EXISTS (SELECT 1 FROM referrals r WHERE r.signal_seq = e.seq) "
             "AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.signal_seq = e.seq "
             "AND (r.state NOT IN (%s) OR r.updated >= ?2)) "
             "ORDER BY e.received LIMIT ?3) "
             "ORDER BY 1 LIMIT ?3",
             finals);
    util_time_format(now_ms - p->without_referral_ms, cut_none);
    util_time_format(now_ms - p->after_closed_ms, cut_closed);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, cut_none, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, cut_closed, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *since = sqlite3_column_text(s, 3);
        struct retention_due d = {
            sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1),
            (const char *)sqlite3_column_text(s, 2), since ? (const char *)since : ""};
        if (fn)
            fn(arg, &d);
        n++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? n : -1;
}

/* What one purge needs: the signals chosen, then the statements. */
struct batch {
    int64_t seqs[RETENTION_BATCH];
    size_t n;
};

static void collect(void *arg, const struct retention_due *d)
{
    struct batch *b = arg;
    if (b->n < RETENTION_BATCH)
        b->seqs[b->n++] = d->seq;
}

/* The statements that empty one signal's payload; ?1 the signal's seq, ?2 the time. */
static const char *const purge_sql[] = {
    /* the signal and the responses about its referrals */
    "UPDATE events SET body = X'', purged = ?2 WHERE purged IS NULL AND (seq = ?1 OR seq IN "
    "(SELECT h.event_seq FROM referral_history h JOIN referrals r ON r.id = h.referral "
    "WHERE r.signal_seq = ?1 AND h.event_seq IS NOT NULL))",
    "UPDATE deliveries SET payload = X'', purged = ?2 WHERE purged IS NULL AND referral IN "
    "(SELECT id FROM referrals WHERE signal_seq = ?1)",
    "UPDATE escalations SET ack_note = NULL WHERE ack_note IS NOT NULL AND referral IN "
    "(SELECT id FROM referrals WHERE signal_seq = ?1)",
    "DELETE FROM pseudonyms WHERE seq = ?1",
};
#define NPURGE (sizeof purge_sql / sizeof *purge_sql)

int retention_purge(struct store *st, const struct retention_policy *p, int64_t now_ms, size_t max,
                    const char *actor, struct retention_counts *counts, char *err, size_t errlen)
{
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *s[NPURGE] = {NULL};
    struct batch b = {{0}, 0};
    long long removed[NPURGE] = {0};
    char when[UTIL_TIME_LEN];
    char *detail = NULL;
    int rc = -1;
    util_time_format(now_ms, when);
    if (max > RETENTION_BATCH)
        max = RETENTION_BATCH;
    if (store_begin(st) != 0)
        goto fail;
    /* Chosen inside the transaction: what is purged is what was due. */
    if (retention_select(db, p, now_ms, max, collect, &b) < 0)
        goto fail;
    if (b.n == 0) {
        store_rollback(st);
        return 0;
    }
    for (size_t k = 0; k < NPURGE; k++)
        if (sqlite3_prepare_v2(db, purge_sql[k], -1, &s[k], NULL) != SQLITE_OK)
            goto fail;
    json_t *ids = json_array();
    for (size_t i = 0; i < b.n; i++) {
        for (size_t k = 0; k < NPURGE; k++) {
            sqlite3_bind_int64(s[k], 1, b.seqs[i]);
            if (k < 2)
                sqlite3_bind_text(s[k], 2, when, -1, SQLITE_STATIC);
            int step = sqlite3_step(s[k]);
            sqlite3_reset(s[k]);
            if (step != SQLITE_DONE) {
                json_decref(ids);
                goto fail;
            }
            removed[k] += sqlite3_changes(db);
        }
        json_array_append_new(ids, json_integer(b.seqs[i]));
    }
    struct retention_counts c = {(long long)b.n, removed[0], removed[1], removed[2], removed[3]};
    char after_closed[DURATION_TEXT_LEN], without[DURATION_TEXT_LEN];
    duration_format(p->after_closed_ms, after_closed, sizeof after_closed);
    duration_format(p->without_referral_ms, without, sizeof without);
    json_t *d = retention_counts_json(&c);
    json_object_set_new(d, "signal_seqs", ids);
    json_object_set_new(d, "after_closed", json_string(after_closed));
    json_object_set_new(d, "without_referral", json_string(without));
    detail = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    struct audit_record ar = {
        .time = when,
        .actor = actor,
        .role = strcmp(actor, "hub") == 0 ? NULL : "admin",
        .action = "purge",
        .object = "retention",
        .outcome = "purged",
        .detail = detail,
    };
    if (!detail || store_audit(st, &ar) != 0 || store_commit(st) != 0)
        goto fail;
    counts->signals += c.signals;
    counts->events += c.events;
    counts->deliveries += c.deliveries;
    counts->notes += c.notes;
    counts->pseudonyms += c.pseudonyms;
    rc = (int)b.n;
    goto done;
fail:
    snprintf(err, errlen, "purge failed: %s", store_errmsg(st));
    store_rollback(st);
done:
    free(detail);
    for (size_t k = 0; k < NPURGE; k++)
        sqlite3_finalize(s[k]);
    return rc;
}

/* A purge someone asked for that found nothing due is still an admin
 * action: one audit record says so. */
static int audit_nothing_due(struct store *st, int64_t now_ms, const char *actor)
{
    char when[UTIL_TIME_LEN];
    util_time_format(now_ms, when);
    struct audit_record ar = {.time = when,
                              .actor = actor,
                              .role = "admin",
                              .action = "purge",
                              .object = "retention",
                              .outcome = "nothing-due",
                              .detail = "{\"signals\":0}"};
    return store_audit(st, &ar);
}

int retention_purge_all(struct store *st, const struct retention_policy *p, int64_t now_ms,
                        int max_batches, const char *actor, struct retention_counts *counts,
                        int *more, char *err, size_t errlen)
{
    long long before = counts->signals;
    *more = 0;
    for (int i = 0; i < max_batches; i++) {
        int n = retention_purge(st, p, now_ms, RETENTION_BATCH, actor, counts, err, errlen);
        if (n < 0)
            return -1;
        if (n < RETENTION_BATCH)
            goto done;
    }
    *more = retention_select(store_sqlite(st), p, now_ms, 1, NULL, NULL) != 0;
done:
    if (counts->signals == before && strcmp(actor, "hub") != 0 &&
        audit_nothing_due(st, now_ms, actor) != 0) {
        snprintf(err, errlen, "cannot write the audit record: %s", store_errmsg(st));
        return -1;
    }
    return 0;
}

json_t *retention_counts_json(const struct retention_counts *c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "signals", (json_int_t)c->signals, "events",
                     (json_int_t)c->events, "deliveries", (json_int_t)c->deliveries, "notes",
                     (json_int_t)c->notes, "pseudonyms", (json_int_t)c->pseudonyms);
}

struct retention {
    struct retention_policy policy;
    struct store *st;
    int64_t next_mono; /* 0: at once */
};

struct retention *retention_new(const struct retention_policy *p, struct store *st)
{
    struct retention *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->policy = *p;
    r->st = st;
    return r;
}

void retention_free(struct retention **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

int64_t retention_run(struct retention *r, int64_t wall_ms, int64_t mono_ms)
{
    if (mono_ms < r->next_mono)
        return r->next_mono;
    struct retention_counts c = {0, 0, 0, 0, 0};
    char err[512];
    int n =
        retention_purge(r->st, &r->policy, wall_ms, RETENTION_BATCH, "hub", &c, err, sizeof err);
    if (n < 0) {
        log_msg(LOG_ERROR, "event=purge_failed error=\"%s\"", err);
        /* Try again in a minute, not at once: the cause may last. */
        r->next_mono = mono_ms + (r->policy.interval_ms < 60000 ? r->policy.interval_ms : 60000);
        return r->next_mono;
    }
    if (n > 0)
        log_msg(LOG_INFO,
                "event=purged signals=%lld events=%lld deliveries=%lld notes=%lld "
                "pseudonyms=%lld",
                c.signals, c.events, c.deliveries, c.notes, c.pseudonyms);
    /* A full batch: there may be more; the next turn of the loop goes on
     * (after whatever else is waiting), so a backlog drains without
     * holding the loop. */
    r->next_mono = n == RETENTION_BATCH ? mono_ms : mono_ms + r->policy.interval_ms;
    return r->next_mono;
}

json_t *retention_admin(struct retention *r, const char *by, int64_t wall_ms)
{
    char actor[96], err[512];
    struct retention_counts c = {0, 0, 0, 0, 0};
    int more = 0;
    snprintf(actor, sizeof actor, "admin:%s", by);
    if (retention_purge_all(r->st, &r->policy, wall_ms, ADMIN_MAX_BATCHES, actor, &c, &more, err,
                            sizeof err) != 0)
        return json_pack("{s:b, s:s}", "ok", 0, "error", err);
    if (c.signals > 0)
        log_msg(LOG_INFO, "event=purged by=%s signals=%lld events=%lld deliveries=%lld", by,
                c.signals, c.events, c.deliveries);
    return json_pack("{s:b, s:o, s:b}", "ok", 1, "purged", retention_counts_json(&c), "more", more);
}
