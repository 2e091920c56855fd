/*
 * escalate - the escalation engine; see escalate.h and docs/escalation.md.
 *
 * Everything that matters is a row: escalations (state, level, next step),
 * alerts (one per officer and channel and round, with the text that goes
 * out) and alert_attempts. The heap only says when to look at a row again;
 * every entry is checked against its row when it comes up, so a stale entry
 * (a referral that moved on, a step that was rescheduled) does nothing.
 */
#include "escalate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "log.h"
#include "referral.h"
#include "rota.h"
#include "util.h"

#define TYPE_GESTART "nl.mensenhandel.escalaties.escalatie-gestart"
#define TYPE_BEVESTIGD "nl.mensenhandel.escalaties.escalatie-bevestigd"
#define RUN_MAX 256 /* heap items handled per escalate_run call */
#define OFFICERS_MAX 256
#define ON_TIME_MS 1000 /* a step this late still counts as on schedule */

enum item_kind { ITEM_RECEIPT, ITEM_DECISION, ITEM_STEP, ITEM_ALERT };

struct item {
    int64_t mono_due; /* when it may fire, monotonic ms */
    int64_t wall_due; /* the UTC ms its row holds: a mismatch means stale */
    int64_t key;      /* referral rowid, escalation id or alert seq */
    /* The item's own clock: UTC ms = monotonic ms + delta, fixed when the
     * hub learned of it. Everything the item does when it fires (which
     * level, when the next step is) counts in this clock, so a wall clock
     * that jumps later moves none of it. */
    int64_t delta;
    enum item_kind kind;
};

struct escalate {
    const struct config *cfg;
    struct store *st;
    sqlite3 *db;
    struct notify *n;
    escalate_touch_fn touch;
    void *touch_arg;
    struct item *heap;
    size_t nheap, cap;
    int64_t referral_cursor, history_cursor;
    long unresolved;   /* escalations not resolved */
    int any_policy;    /* some policy escalates */
    int in_perform;    /* notify callbacks inside escalate_perform's transaction */
    int64_t *to_queue; /* alerts to hand to notify after the commit */
    size_t nqueue, capqueue;
    sqlite3_stmt *s_new_refs, *s_ref, *s_new_hist, *s_open, *s_esc, *s_fire, *s_insert_alert,
        *s_alert, *s_alert_state, *s_attempt, *s_round, *s_resolve, *s_ack, *s_rearm, *s_unresolved,
        *s_max_ref, *s_max_hist, *s_undelivered, *s_count_attempt, *s_load_refs;
};

/* ---- heap ------------------------------------------------------------- */

static int heap_insert(struct escalate *e, struct item it)
{
    if (e->nheap == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        struct item *h = realloc(e->heap, cap * sizeof *h);
        if (!h)
            return -1;
        e->heap = h;
        e->cap = cap;
    }
    size_t i = e->nheap++;
    while (i > 0 && e->heap[(i - 1) / 2].mono_due > it.mono_due) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = it;
    return 0;
}

/* Schedules at UTC ms wall_due. `slack` ms are added to the time that
 * remains (measured from now on by the monotonic clock). */
static int heap_schedule(struct escalate *e, enum item_kind kind, int64_t key, int64_t wall_due,
                         int64_t wall_now, int64_t mono_now, int64_t slack)
{
    int64_t left = wall_due >= wall_now ? wall_due - wall_now + slack : 0;
    struct item it = {mono_now + left, wall_due, key, wall_now - mono_now, kind};
    return heap_insert(e, it);
}

/* With wall_now and mono_now read from the two clocks: one ms more, since
 * both are truncated to whole ms and nothing may fire before its moment. */
static int heap_push(struct escalate *e, enum item_kind kind, int64_t key, int64_t wall_due,
                     int64_t wall_now, int64_t mono_now)
{
    return heap_schedule(e, kind, key, wall_due, wall_now, mono_now, 1);
}

/* The next step of an item that is firing: `now` is that item's own clock
 * (monotonic + its offset), exact to the ms, so no slack. */
static int heap_push_next(struct escalate *e, enum item_kind kind, int64_t key, int64_t wall_due,
                          int64_t now, int64_t mono_now)
{
    return heap_schedule(e, kind, key, wall_due, now, mono_now, 0);
}

/* After a store error: the same items again in a second. */
static void heap_retry(struct escalate *e, const struct item *items, size_t n, int64_t mono)
{
    for (size_t i = 0; i < n; i++) {
        struct item it = items[i];
        it.mono_due = mono + 1000;
        heap_insert(e, it);
    }
}

static struct item heap_pop(struct escalate *e)
{
    struct item top = e->heap[0];
    struct item last = e->heap[--e->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= e->nheap)
            break;
        if (c + 1 < e->nheap && e->heap[c + 1].mono_due < e->heap[c].mono_due)
            c++;
        if (e->heap[c].mono_due >= last.mono_due)
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (e->nheap)
        e->heap[i] = last;
    return top;
}

/* ---- helpers ---------------------------------------------------------- */

static int prep(struct escalate *e, sqlite3_stmt **out, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(e->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot prepare statement: %s", sqlite3_errmsg(e->db));
        return -1;
    }
    return 0;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : "";
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void audit(struct escalate *e, const char *actor, const char *action, const char *object,
                  const char *outcome, json_t *detail)
{
    char when[UTIL_TIME_LEN];
    util_time_now(when);
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    /* An admin acts through the admin socket (ketenctl ack); the rest is the hub's own. */
    int admin = strncmp(actor, "admin", 5) == 0;
    struct audit_record ar = {.time = when,
                              .actor = actor,
                              .role = admin ? "admin" : NULL,
                              .action = action,
                              .object = object,
                              .outcome = outcome,
                              .detail = d,
                              .address = admin ? "admin socket" : NULL};
    if (store_audit(e->st, &ar) != 0)
        log_msg(LOG_ERROR, "event=audit_failed action=%s error=\"%s\"", action,
                store_errmsg(e->st));
    free(d);
}

static const struct escalation_policy *policy_of(const struct config *cfg, const char *name)
{
    const struct policy *p = config_policy(cfg, name);
    return p ? p->escalation : NULL;
}

static int awaits(const char *state, enum esc_deadline d)
{
    enum referral_state s;
    if (referral_state_parse(state, &s) != 0)
        return 0;
    /* A referral the hub could not deliver was answered by nobody: its
     * escalation goes on until a person acknowledges. */
    if (s == REFERRAL_MISLUKT)
        return 1;
    return d == ESC_RECEIPT ? referral_awaits_receipt(s) : referral_awaits_decision(s);
}

static const char *deadline_nl(enum esc_deadline d)
{
    return d == ESC_RECEIPT ? "ontvangst" : "besluit";
}

static int deadline_parse(const char *s, enum esc_deadline *d)
{
    if (strcmp(s, "receipt") == 0)
        *d = ESC_RECEIPT;
    else if (strcmp(s, "decision") == 0)
        *d = ESC_DECISION;
    else
        return -1;
    return 0;
}

/* One escalation row as the engine needs it. */
struct esc_row {
    long long id;
    char referral[64];
    enum esc_deadline deadline;
    int64_t due_ms;
    char policy[128];
    char partner[65];
    char state[16];
    int64_t base_ms;
    int level;
    int64_t fired_ms;
    int rounds;
    int64_t next_ms; /* 0: none */
    int rearms;
};

static int read_esc(struct escalate *e, long long id, struct esc_row *r)
{
    sqlite3_stmt *s = e->s_esc;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(r, 0, sizeof *r);
        r->id = id;
        snprintf(r->referral, sizeof r->referral, "%s", col_text(s, 0));
        if (deadline_parse(col_text(s, 1), &r->deadline) != 0)
            rc = SQLITE_ERROR;
        r->due_ms = sqlite3_column_int64(s, 2);
        snprintf(r->policy, sizeof r->policy, "%s", col_text(s, 3));
        snprintf(r->partner, sizeof r->partner, "%s", col_text(s, 4));
        snprintf(r->state, sizeof r->state, "%s", col_text(s, 5));
        r->base_ms = sqlite3_column_int64(s, 6);
        r->level = sqlite3_column_int(s, 7);
        r->fired_ms = sqlite3_column_int64(s, 8);
        r->rounds = sqlite3_column_int(s, 9);
        r->next_ms = sqlite3_column_int64(s, 10);
        r->rearms = sqlite3_column_int(s, 11);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The referral's current state, or "" when it is gone. */
static int referral_state(struct escalate *e, const char *id, char *state, size_t len)
{
    sqlite3_stmt *s = e->s_ref;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    snprintf(state, len, "%s", rc == SQLITE_ROW ? col_text(s, 0) : "");
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Emits an escalation event to every coordinator partner (their deliveries). */
static int emit(struct escalate *e, const char *type, const char *referral, json_t *data,
                const char *time)
{
    int rc = 0;
    for (size_t i = 0; i < e->cfg->npartners && rc == 0; i++) {
        const struct partner *p = &e->cfg->partners[i];
        if (p->role != ROLE_COORDINATOR)
            continue;
        char id[UTIL_UUID_LEN];
        util_uuid7(id);
        json_t *ev =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0", "id", id,
                      "source", e->cfg->source, "type", type, "time", time, "datacontenttype",
                      "application/json", "subject", referral, "data", data);
        char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        json_decref(ev);
        rc = text ? store_put_delivery(e->st, id, referral, p->id, time, text) : -1;
        free(text);
        if (rc == 0 && e->touch)
            e->touch(e->touch_arg, p);
    }
    json_decref(data);
    return rc;
}

/* escalatie-gestart: opened (heropend 0) or re-armed for the n-th time. */
static int emit_started(struct escalate *e, long long id, const char *referral, const char *partner,
                        const char *policy, enum esc_deadline d, const char *due_text, int heropend,
                        const char *now)
{
    return emit(e, TYPE_GESTART, referral,
                json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i}", "escalatie", (json_int_t)id,
                          "doorverwijzing", referral, "partner", partner, "beleid", policy,
                          "termijn", deadline_nl(d), "termijnVerstreken", due_text, "heropend",
                          heropend),
                now);
}

/* ---- alerts ----------------------------------------------------------- */

/* Remembers an alert to hand to notify once its row is committed. */
static int remember(struct escalate *e, int64_t seq)
{
    if (e->nqueue == e->capqueue) {
        size_t cap = e->capqueue ? e->capqueue * 2 : 64;
        int64_t *q = realloc(e->to_queue, cap * sizeof *q);
        if (!q)
            return -1;
        e->to_queue = q;
        e->capqueue = cap;
    }
    e->to_queue[e->nqueue++] = seq;
    return 0;
}

static void overdue_text(int64_t ms, char *out, size_t len)
{
    int64_t min = ms > 0 ? ms / 60000 : 0;
    if (min < 1)
        snprintf(out, len, "%lld s", (long long)(ms > 0 ? ms / 1000 : 0));
    else if (min < 120)
        snprintf(out, len, "%lld min", (long long)min);
    else
        snprintf(out, len, "%lld h %lld min", (long long)(min / 60), (long long)(min % 60));
}

/* Builds and inserts the alerts of one round (one per officer and channel
 * they have) and remembers them for queueing after the commit. Returns how
 * many, or -1 on a store error. */
static int make_alerts(struct escalate *e, const struct esc_row *r, int round, int level,
                       int fallback, const struct officer *const *officers, size_t nofficers,
                       unsigned channels, int64_t now)
{
    const struct escalation_policy *ep = policy_of(e->cfg, r->policy);
    const struct partner *partner = config_partner(e->cfg, r->partner);
    const char *pname = partner && partner->name ? partner->name : r->partner;
    char due[UTIL_TIME_LEN], at[UTIL_TIME_LEN], over[48];
    util_time_format(r->due_ms, due);
    util_time_format(now, at);
    overdue_text(now - r->due_ms, over, sizeof over);
    const char *ctl = e->cfg->alerting && e->cfg->alerting->ketenctl ? e->cfg->alerting->ketenctl
                                                                     : "ketenctl --config CONFIG";
    char urgency[128];
    snprintf(urgency, sizeof urgency, "%s", r->policy);
    for (char *c = urgency; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    int made = 0;
    for (size_t i = 0; i < nofficers; i++) {
        const struct officer *o = officers[i];
        for (unsigned bit = ESC_CHANNEL_WEBHOOK; bit <= ESC_CHANNEL_EMAIL; bit <<= 1) {
            const char *addr = bit == ESC_CHANNEL_WEBHOOK ? o->webhook : o->email;
            if (!(channels & bit) || !addr)
                continue;
            char subject[512], ack[1024], look[1024];
            snprintf(subject, sizeof subject,
                     "[ketenhub] %s: no %s from %s, %s past the deadline (escalation %lld, %s %d)",
                     urgency, r->deadline == ESC_RECEIPT ? "receipt" : "accept or decline", pname,
                     over, r->id, fallback ? "fallback for level" : "level", level + 1);
            snprintf(ack, sizeof ack, "%s ack %lld --by %s", ctl, r->id, o->id);
            snprintf(look, sizeof look, "%s referral %s", ctl, r->referral);
            char *body = NULL;
            if (bit == ESC_CHANNEL_WEBHOOK) {
                json_t *j = json_pack(
                    "{s:s, s:I, s:i, s:i, s:i, s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, "
                    "s:s, s:s, s:s}",
                    "type", "ketenhub.escalation.alert", "escalation", (json_int_t)r->id, "round",
                    round, "level", level + 1, "levels", ep ? (int)ep->nlevels : 0, "fallback",
                    fallback, "referral", r->referral, "urgency", r->policy, "partner", r->partner,
                    "partner_name", pname, "deadline", esc_deadline_name(r->deadline),
                    "deadline_at", due, "alerted_at", at, "overdue_seconds",
                    (json_int_t)((now - r->due_ms) / 1000), "officer", o->id, "summary", subject,
                    "acknowledge", ack, "look_up", look);
                body = j ? json_dumps(j, JSON_COMPACT) : NULL;
                json_decref(j);
            } else {
                size_t cap = 4096;
                body = malloc(cap);
                if (body)
                    snprintf(body, cap,
                             "A %s referral has not been answered in time.\n"
                             "\n"
                             "  escalation:  %lld (%s %d of %zu, alert round %d)\n"
                             "  referral:    %s\n"
                             "  partner:     %s (%s)\n"
                             "  deadline:    %s, was due %s (%s ago)\n"
                             "  alerted:     %s, to %s\n"
                             "\n"
                             "Acknowledge (this stops the repeats):\n"
                             "  %s\n"
                             "\n"
                             "Look it up:\n"
                             "  %s\n"
                             "\n"
                             "This message holds no personal data. Look the case up in the\n"
                             "partner's own system.\n",
                             r->policy, r->id, fallback ? "fallback for level" : "level", level + 1,
                             ep ? ep->nlevels : 0, round, r->referral, pname, r->partner,
                             r->deadline == ESC_RECEIPT ? "receipt" : "accept or decline", due,
                             over, at, o->name, ack, look);
            }
            if (!body)
                return -1;
            char created[UTIL_TIME_LEN];
            util_time_now(created);
            sqlite3_stmt *s = e->s_insert_alert;
            sqlite3_bind_int64(s, 1, r->id);
            sqlite3_bind_int(s, 2, round);
            sqlite3_bind_int(s, 3, level);
            sqlite3_bind_text(s, 4, fallback ? "fallback" : "level", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 6, bit == ESC_CHANNEL_WEBHOOK ? "webhook" : "email", -1,
                              SQLITE_STATIC);
            sqlite3_bind_text(s, 7, created, -1, SQLITE_STATIC);
            if (bit == ESC_CHANNEL_EMAIL)
                sqlite3_bind_text(s, 8, subject, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 9, body, -1, SQLITE_STATIC);
            int rc = step_done(s);
            free(body);
            if (rc != 0)
                return -1;
            if (remember(e, sqlite3_last_insert_rowid(e->db)) != 0)
                return -1;
            made++;
        }
    }
    return made;
}

static void on_attempt(void *arg, const char *message_id, const struct notify_attempt *a);
static void on_done(void *arg, const char *message_id, enum notify_outcome outcome, int attempts);

static void set_alert_state(struct escalate *e, int64_t seq, const char *state, int64_t retry_ms,
                            int bump_cycle)
{
    char now[UTIL_TIME_LEN];
    util_time_now(now);
    sqlite3_stmt *s = e->s_alert_state;
    sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
    if (retry_ms)
        sqlite3_bind_int64(s, 3, retry_ms);
    sqlite3_bind_int(s, 4, bump_cycle);
    sqlite3_bind_int64(s, 5, seq);
    if (step_done(s) != 0)
        log_msg(LOG_ERROR, "event=alert_update_failed alert=%lld error=\"%s\"", (long long)seq,
                sqlite3_errmsg(e->db));
}

/* Hands one stored alert to notify. On refusal the alert is failed and
 * retried after `redeliver`. */
static void queue_alert(struct escalate *e, int64_t seq, int64_t wall, int64_t mono)
{
    sqlite3_stmt *s = e->s_alert;
    sqlite3_bind_int64(s, 1, seq);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return;
    }
    const struct officer *o = rota_officer(e->cfg, col_text(s, 1));
    const char *channel = col_text(s, 2);
    const struct alerting *a = e->cfg->alerting;
    char id[32], err[256] = "officer or channel no longer configured";
    snprintf(id, sizeof id, "alert-%lld", (long long)seq);
    struct notify_report rep = {on_attempt, on_done, e};
    int rc = NOTIFY_EINVAL;
    if (o && a && strcmp(channel, "webhook") == 0 && o->webhook && a->webhook_secret_len) {
        struct notify_webhook w = {o->webhook, a->webhook_token, a->webhook_secret,
                                   a->webhook_secret_len, a->ca_file};
        rc = notify_webhook(e->n, &w, id, col_text(s, 4), &rep, err, sizeof err);
    } else if (o && a && strcmp(channel, "email") == 0 && o->email && a->smtp_url) {
        struct notify_email m = {a->smtp_url,      a->smtp_starttls, a->smtp_username,
                                 a->smtp_password, a->from,          a->ca_file};
        rc = notify_email(e->n, &m, id, o->email, col_text(s, 3), col_text(s, 4), &rep, err,
                          sizeof err);
    }
    sqlite3_reset(s);
    if (rc == 0)
        return;
    log_msg(LOG_ERROR, "event=alert_not_queued alert=%lld reason=\"%s\"", (long long)seq, err);
    char object[32];
    snprintf(object, sizeof object, "alert:%lld", (long long)seq);
    audit(e, "hub", "alert", object, "not_queued", json_pack("{s:s}", "reason", err));
    int64_t retry = wall + (a ? a->redeliver_ms : 300000);
    set_alert_state(e, seq, "failed", retry, 0);
    heap_push(e, ITEM_ALERT, seq, retry, wall, mono);
}

/* Queues what make_alerts remembered; after the commit. */
static void flush_queue(struct escalate *e, int64_t wall, int64_t mono)
{
    int own = 0;
    for (size_t i = 0; i < e->nqueue; i++) {
        if (!e->n)
            break;
        if (!own && !e->in_perform && store_begin(e->st) == 0)
            own = 1;
        queue_alert(e, e->to_queue[i], wall, mono);
    }
    e->nqueue = 0;
    if (own && store_commit(e->st) != 0) {
        log_msg(LOG_ERROR, "event=commit_failed where=alerts error=\"%s\"", store_errmsg(e->st));
        store_rollback(e->st);
    }
}

static void on_attempt(void *arg, const char *message_id, const struct notify_attempt *a)
{
    struct escalate *e = arg;
    long long seq = strtoll(message_id + 6, NULL, 10);
    char now[UTIL_TIME_LEN];
    util_time_now(now);
    sqlite3_stmt *s = e->s_attempt;
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, a->attempt_no);
    sqlite3_bind_int64(s, 4, a->code);
    sqlite3_bind_text(s, 5, a->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, a->elapsed_ms);
    int rc = step_done(s);
    if (rc == 0) {
        sqlite3_bind_int64(e->s_count_attempt, 1, seq);
        rc = step_done(e->s_count_attempt);
    }
    if (rc != 0)
        log_msg(LOG_ERROR, "event=alert_attempt_not_recorded alert=%lld error=\"%s\"", seq,
                sqlite3_errmsg(e->db));
    if (*a->error)
        log_msg(a->will_retry ? LOG_WARN : LOG_ERROR,
                "event=alert_attempt_failed alert=%lld attempt=%d code=%ld error=\"%s\" "
                "retry_in_ms=%ld",
                seq, a->attempt_no, a->code, a->error, a->will_retry ? a->retry_in_ms : -1L);
}

/* When no alert of a round reached anybody: raise it to the fallback
 * officer (once per round); when the fallback failed too, say so loudly. */
static void check_round(struct escalate *e, long long esc, int round, int64_t wall, int64_t mono)
{
    sqlite3_stmt *s = e->s_round;
    sqlite3_bind_int64(s, 1, esc);
    sqlite3_bind_int(s, 2, round);
    int delivered = 0, pending = 0, fallbacks = 0, level = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        delivered = sqlite3_column_int(s, 0);
        pending = sqlite3_column_int(s, 1);
        fallbacks = sqlite3_column_int(s, 2);
        level = sqlite3_column_int(s, 3);
    }
    sqlite3_reset(s);
    if (delivered || pending)
        return;
    struct esc_row r;
    if (read_esc(e, esc, &r) != 1)
        return;
    char object[32];
    snprintf(object, sizeof object, "escalation:%lld", esc);
    if (fallbacks) {
        log_msg(LOG_ERROR,
                "event=alert_all_channels_failed escalation=%lld round=%d fallback=failed "
                "action=\"every alert of this round failed, also to the fallback officer; "
                "each is queued again after alerting.redeliver\"",
                esc, round);
        audit(e, "hub", "alert", object, "all_failed",
              json_pack("{s:i, s:b}", "round", round, "fallback", 1));
        return;
    }
    const struct officer *fb = rota_fallback(e->cfg);
    log_msg(LOG_ERROR,
            "event=alert_all_channels_failed escalation=%lld round=%d fallback=%s "
            "action=\"raised to the fallback officer\"",
            esc, round, fb ? fb->id : "none");
    audit(e, "hub", "alert", object, "all_failed",
          json_pack("{s:i, s:s?}", "round", round, "fallback", fb ? fb->id : NULL));
    if (!fb || strcmp(r.state, "open") != 0)
        return;
    const struct officer *list[1] = {fb};
    if (make_alerts(e, &r, round, level, 1, list, 1, ESC_CHANNEL_WEBHOOK | ESC_CHANNEL_EMAIL,
                    wall) < 0)
        log_msg(LOG_ERROR, "event=fallback_alert_failed escalation=%lld error=\"%s\"", esc,
                sqlite3_errmsg(e->db));
    flush_queue(e, wall, mono);
}

static void on_done(void *arg, const char *message_id, enum notify_outcome outcome, int attempts)
{
    struct escalate *e = arg;
    long long seq = strtoll(message_id + 6, NULL, 10);
    if (outcome == NOTIFY_CANCELLED)
        return; /* shutting down: still "queued", sent again after the restart */
    int64_t wall = util_wall_ms(), mono = util_mono_ms();
    long long esc = 0;
    int round = 0, cycles = 1;
    sqlite3_stmt *s = e->s_alert;
    sqlite3_bind_int64(s, 1, seq);
    if (sqlite3_step(s) == SQLITE_ROW) {
        esc = sqlite3_column_int64(s, 0);
        round = sqlite3_column_int(s, 5);
        cycles = sqlite3_column_int(s, 6);
    }
    sqlite3_reset(s);
    char object[32];
    snprintf(object, sizeof object, "alert:%lld", seq);
    if (outcome == NOTIFY_DELIVERED) {
        set_alert_state(e, seq, "delivered", 0, 0);
        log_msg(LOG_INFO, "event=alert_delivered alert=%lld escalation=%lld attempts=%d", seq, esc,
                attempts);
        audit(e, "hub", "alert", object, "delivered",
              json_pack("{s:I, s:i}", "escalation", (json_int_t)esc, "attempts", attempts));
        return;
    }
    const struct alerting *a = e->cfg->alerting;
    if (outcome == NOTIFY_REJECTED) {
        set_alert_state(e, seq, "rejected", 0, 0);
        log_msg(LOG_ERROR,
                "event=alert_rejected alert=%lld escalation=%lld attempts=%d "
                "action=\"the receiver refused it for good: check the officer's address\"",
                seq, esc, attempts);
    } else {
        int64_t retry = wall + (a ? a->redeliver_ms : 300000);
        set_alert_state(e, seq, "failed", retry, 0);
        heap_push(e, ITEM_ALERT, seq, retry, wall, mono);
        log_msg(LOG_ERROR,
                "event=alert_failed alert=%lld escalation=%lld attempts=%d retry_at_ms=%lld", seq,
                esc, attempts, (long long)retry);
    }
    audit(e, "hub", "alert", object, notify_outcome_name(outcome),
          json_pack("{s:I, s:i}", "escalation", (json_int_t)esc, "attempts", attempts));
    if (cycles == 1)
        check_round(e, esc, round, wall, mono);
}

/* ---- the engine ------------------------------------------------------- */

static int open_escalation(struct escalate *e, const char *referral, enum esc_deadline d,
                           int64_t due, const char *policy, const char *partner, int64_t wall,
                           int64_t mono)
{
    const struct escalation_policy *ep = policy_of(e->cfg, policy);
    if (!ep)
        return 0;
    char now[UTIL_TIME_LEN];
    util_time_format(wall, now);
    int64_t next = due + ep->levels[0].after_ms;
    sqlite3_stmt *s = e->s_open;
    sqlite3_bind_text(s, 1, referral, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, esc_deadline_name(d), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, due);
    sqlite3_bind_text(s, 4, policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, partner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, next);
    sqlite3_bind_text(s, 7, now, -1, SQLITE_STATIC);
    if (step_done(s) != 0)
        return -1;
    if (sqlite3_changes(e->db) == 0)
        return 0; /* already escalated */
    long long id = sqlite3_last_insert_rowid(e->db);
    e->unresolved++;
    char due_text[UTIL_TIME_LEN], object[32];
    util_time_format(due, due_text);
    snprintf(object, sizeof object, "escalation:%lld", id);
    log_msg(LOG_WARN,
            "event=escalation_opened escalation=%lld referral=%s deadline=%s policy=%s "
            "partner=%s due=%s",
            id, referral, esc_deadline_name(d), policy, partner, due_text);
    audit(e, "hub", "escalation", object, "opened",
          json_pack("{s:s, s:s, s:s, s:s}", "referral", referral, "deadline", esc_deadline_name(d),
                    "policy", policy, "partner", partner));
    if (emit_started(e, id, referral, partner, policy, d, due_text, 0, now) != 0)
        return -1;
    return heap_push_next(e, ITEM_STEP, id, next, wall, mono);
}

static int resolve(struct escalate *e, long long id, const char *referral_state, int64_t wall)
{
    char now[UTIL_TIME_LEN], object[32];
    util_time_format(wall, now);
    sqlite3_stmt *s = e->s_resolve;
    sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, referral_state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, id);
    if (step_done(s) != 0)
        return -1;
    if (sqlite3_changes(e->db) == 0)
        return 0;
    e->unresolved--;
    snprintf(object, sizeof object, "escalation:%lld", id);
    log_msg(LOG_INFO, "event=escalation_resolved escalation=%lld referral_state=%s", id,
            referral_state);
    audit(e, "hub", "escalation", object, "resolved",
          json_pack("{s:s}", "referral_state", referral_state));
    return 0;
}

/* One round at the level due now; schedules the next step. */
static int fire(struct escalate *e, struct esc_row *r, int64_t wall, int64_t mono)
{
    const struct escalation_policy *ep = policy_of(e->cfg, r->policy);
    if (!ep) { /* the policy lost its escalation in a new config: stop it */
        log_msg(LOG_WARN,
                "event=escalation_stopped escalation=%lld reason=\"policy %s no longer "
                "escalates\"",
                r->id, r->policy);
        return resolve(e, r->id, "policy-without-escalation", wall);
    }
    /* A step comes up no earlier than its time; if the wall clock went back
     * meanwhile, count levels from the step's own time. */
    int64_t at = wall > r->next_ms ? wall : r->next_ms;
    int level = esc_level_at(ep, r->base_ms, at);
    if (level < r->level)
        level = r->level;
    const struct esc_level *lv = &ep->levels[level];
    const struct officer *officers[OFFICERS_MAX];
    size_t n = esc_level_officers(e->cfg, lv, wall, officers, OFFICERS_MAX);
    int round = r->rounds + 1;
    int made = make_alerts(e, r, round, level, 0, officers, n, lv->channels, wall);
    if (made < 0)
        return -1;
    /* Repeats keep to the schedule (every `repeat` from the level's start)
     * when a step fires on time; a step that fires late (after a restart)
     * counts its next one from now, so missed repeats do not come in a burst. */
    int64_t fired = wall - r->next_ms <= ON_TIME_MS ? r->next_ms : wall;
    int64_t next = esc_next_ms(ep, r->base_ms, level, fired);
    char now[UTIL_TIME_LEN], object[32];
    util_time_format(wall, now);
    sqlite3_stmt *s = e->s_fire;
    sqlite3_bind_int(s, 1, level);
    sqlite3_bind_int64(s, 2, wall);
    sqlite3_bind_int(s, 3, round);
    if (next != INT64_MAX)
        sqlite3_bind_int64(s, 4, next);
    sqlite3_bind_text(s, 5, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, r->id);
    if (step_done(s) != 0)
        return -1;
    snprintf(object, sizeof object, "escalation:%lld", r->id);
    char officers_list[1024] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(officers_list + strlen(officers_list),
                 sizeof officers_list - strlen(officers_list), "%s%s", i ? "," : "",
                 officers[i]->id);
    log_msg(LOG_WARN,
            "event=escalation_alert escalation=%lld level=%d round=%d officers=%s alerts=%d", r->id,
            level + 1, round, officers_list, made);
    audit(e, "hub", "escalation", object, "alerted",
          json_pack("{s:i, s:i, s:s, s:i}", "level", level + 1, "round", round, "officers",
                    officers_list, "alerts", made));
    if (made == 0) {
        log_msg(LOG_ERROR, "event=escalation_nobody escalation=%lld level=%d", r->id, level + 1);
        const struct officer *fb = rota_fallback(e->cfg);
        if (fb && make_alerts(e, r, round, level, 1, &fb, 1,
                              ESC_CHANNEL_WEBHOOK | ESC_CHANNEL_EMAIL, wall) < 0)
            return -1;
    }
    return next == INT64_MAX ? 0 : heap_push_next(e, ITEM_STEP, r->id, next, wall, mono);
}

static int rearm(struct escalate *e, struct esc_row *r, int64_t wall, int64_t mono)
{
    const struct escalation_policy *ep = policy_of(e->cfg, r->policy);
    if (!ep)
        return resolve(e, r->id, "policy-without-escalation", wall);
    char now[UTIL_TIME_LEN], object[32], due_text[UTIL_TIME_LEN];
    util_time_format(wall, now);
    util_time_format(r->due_ms, due_text);
    int64_t next = wall + ep->levels[0].after_ms;
    sqlite3_stmt *s = e->s_rearm;
    sqlite3_bind_int64(s, 1, wall);
    sqlite3_bind_int64(s, 2, next);
    sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, r->id);
    if (step_done(s) != 0)
        return -1;
    snprintf(object, sizeof object, "escalation:%lld", r->id);
    log_msg(LOG_WARN, "event=escalation_rearmed escalation=%lld referral=%s", r->id, r->referral);
    audit(e, "hub", "escalation", object, "rearmed", json_pack("{s:i}", "rearms", r->rearms + 1));
    if (emit_started(e, r->id, r->referral, r->partner, r->policy, r->deadline, due_text,
                     r->rearms + 1, now) != 0)
        return -1;
    return heap_push_next(e, ITEM_STEP, r->id, next, wall, mono);
}

/* A deadline came up: open its escalation if the referral still waits. */
static int on_deadline(struct escalate *e, const struct item *it, int64_t wall, int64_t mono)
{
    sqlite3_stmt *s = e->s_new_refs; /* rowid = ?: reuse with bounds [key-1, key] */
    sqlite3_bind_int64(s, 1, it->key - 1);
    sqlite3_bind_int64(s, 2, it->key);
    int rc = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        enum esc_deadline d = it->kind == ITEM_RECEIPT ? ESC_RECEIPT : ESC_DECISION;
        int64_t due = sqlite3_column_int64(s, 5 + (int)d);
        char referral[64], policy[128], partner[65];
        snprintf(referral, sizeof referral, "%s", col_text(s, 1));
        snprintf(partner, sizeof partner, "%s", col_text(s, 2));
        snprintf(policy, sizeof policy, "%s", col_text(s, 3));
        int still = awaits(col_text(s, 4), d) && due == it->wall_due;
        sqlite3_reset(s);
        if (still)
            rc = open_escalation(e, referral, d, due, policy, partner, wall, mono);
    }
    sqlite3_reset(s);
    return rc;
}

static int on_step(struct escalate *e, const struct item *it, int64_t wall, int64_t mono)
{
    struct esc_row r;
    int rc = read_esc(e, it->key, &r);
    if (rc != 1 || r.next_ms != it->wall_due || strcmp(r.state, "resolved") == 0)
        return rc < 0 ? -1 : 0; /* stale */
    char state[32];
    if (referral_state(e, r.referral, state, sizeof state) != 0)
        return -1;
    if (!awaits(state, r.deadline))
        return resolve(e, r.id, *state ? state : "gone", wall);
    if (strcmp(r.state, "acknowledged") == 0)
        return rearm(e, &r, wall, mono);
    return fire(e, &r, wall, mono);
}

static int on_alert_retry(struct escalate *e, const struct item *it, int64_t wall, int64_t mono)
{
    sqlite3_stmt *s = e->s_alert;
    sqlite3_bind_int64(s, 1, it->key);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return 0;
    }
    long long esc = sqlite3_column_int64(s, 0);
    int stale = strcmp(col_text(s, 7), "failed") != 0 || sqlite3_column_int64(s, 8) != it->wall_due;
    sqlite3_reset(s);
    if (stale)
        return 0;
    struct esc_row r;
    if (read_esc(e, esc, &r) != 1)
        return 0;
    if (strcmp(r.state, "open") != 0) {
        set_alert_state(e, it->key, "cancelled", 0, 0);
        return 0;
    }
    set_alert_state(e, it->key, "queued", 0, 1);
    (void)wall;
    (void)mono;
    return remember(e, it->key);
}

int64_t escalate_run(struct escalate *e, int64_t wall, int64_t mono)
{
    struct item popped[RUN_MAX];
    size_t done = 0;
    int began = 0;
    while (e->nheap && e->heap[0].mono_due <= mono && done < RUN_MAX) {
        if (!began) {
            if (store_begin(e->st) != 0) {
                log_msg(LOG_ERROR, "event=escalate_failed error=\"%s\"", store_errmsg(e->st));
                return mono + 1000;
            }
            began = 1;
        }
        struct item it = heap_pop(e);
        popped[done] = it;
        int64_t now = mono + it.delta; /* "now" in the item's clock */
        int rc = it.kind == ITEM_STEP    ? on_step(e, &it, now, mono)
                 : it.kind == ITEM_ALERT ? on_alert_retry(e, &it, now, mono)
                                         : on_deadline(e, &it, now, mono);
        if (rc != 0) {
            /* Keep it: try again in a second, without losing it. */
            log_msg(LOG_ERROR, "event=escalate_failed error=\"%s\"", sqlite3_errmsg(e->db));
            store_rollback(e->st);
            began = 0;
            e->nqueue = 0;
            heap_retry(e, popped, done + 1, mono);
            break;
        }
        done++;
    }
    if (began) {
        if (store_commit(e->st) != 0) {
            log_msg(LOG_ERROR, "event=commit_failed where=escalate error=\"%s\"",
                    store_errmsg(e->st));
            store_rollback(e->st);
            e->nqueue = 0;
            heap_retry(e, popped, done, mono);
        }
        flush_queue(e, wall, mono);
    }
    return e->nheap ? e->heap[0].mono_due : -1;
}

void escalate_perform(struct escalate *e)
{
    if (!e->n || notify_pending(e->n) == 0)
        return;
    int began = store_begin(e->st) == 0;
    e->in_perform = began;
    notify_perform(e->n);
    e->in_perform = 0;
    if (began && store_commit(e->st) != 0) {
        log_msg(LOG_ERROR, "event=commit_failed where=alerts error=\"%s\"", store_errmsg(e->st));
        store_rollback(e->st);
    }
}

/* Pushes the deadlines of referral rows from s_new_refs. */
static int push_referrals(struct escalate *e, sqlite3_stmt *s, int64_t wall, int64_t mono,
                          int64_t *last_rowid)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(s, 0);
        *last_rowid = rowid;
        if (!policy_of(e->cfg, col_text(s, 3)))
            continue;
        const char *state = col_text(s, 4);
        if (awaits(state, ESC_RECEIPT) && sqlite3_column_int64(s, 5) && !sqlite3_column_int(s, 7))
            heap_push(e, ITEM_RECEIPT, rowid, sqlite3_column_int64(s, 5), wall, mono);
        if (awaits(state, ESC_DECISION) && sqlite3_column_int64(s, 6) && !sqlite3_column_int(s, 8))
            heap_push(e, ITEM_DECISION, rowid, sqlite3_column_int64(s, 6), wall, mono);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int64_t max_of(sqlite3_stmt *s)
{
    int64_t v = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
}

int escalate_sync(struct escalate *e, int64_t wall, int64_t mono)
{
    if (!e->any_policy)
        return 0;
    sqlite3_bind_int64(e->s_new_refs, 1, e->referral_cursor);
    sqlite3_bind_int64(e->s_new_refs, 2, INT64_MAX);
    if (push_referrals(e, e->s_new_refs, wall, mono, &e->referral_cursor) != 0)
        return -1;
    if (e->unresolved == 0) {
        e->history_cursor = max_of(e->s_max_hist);
        return 0;
    }
    /* State changes since last time: resolve what they answer. Read them
     * all first (only rows of referrals with a live escalation), then write. */
    int64_t upto = max_of(e->s_max_hist); /* the cursor moves past every row read */
    sqlite3_stmt *s = e->s_new_hist;
    sqlite3_bind_int64(s, 1, e->history_cursor);
    sqlite3_bind_int64(s, 2, upto);
    struct resolution {
        long long id;
        char state[32];
    } *pending = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        enum esc_deadline d;
        if (deadline_parse(col_text(s, 2), &d) != 0 || awaits(col_text(s, 3), d))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct resolution *t = realloc(pending, cap * sizeof *t);
            if (!t) {
                rc = SQLITE_NOMEM;
                break;
            }
            pending = t;
        }
        pending[n].id = sqlite3_column_int64(s, 1);
        snprintf(pending[n].state, sizeof pending[n].state, "%s", col_text(s, 3));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(pending);
        return -1;
    }
    e->history_cursor = upto;
    if (n && store_begin(e->st) == 0) {
        for (size_t i = 0; i < n; i++)
            resolve(e, pending[i].id, pending[i].state, wall);
        if (store_commit(e->st) != 0) {
            store_rollback(e->st);
            free(pending);
            return -1;
        }
    }
    free(pending);
    (void)mono;
    return 0;
}

int escalate_ack(struct escalate *e, long long id, const char *by, const char *note,
                 const char *actor, int64_t wall, int64_t mono, json_t **result, char *err,
                 size_t errlen)
{
    const struct officer *o = by ? rota_officer(e->cfg, by) : NULL;
    if (!o) {
        snprintf(err, errlen, "--by must be an officer id from the config's officers");
        return -1;
    }
    if (note && strlen(note) > 1000) {
        snprintf(err, errlen, "--note is longer than 1000 bytes");
        return -1;
    }
    struct esc_row r;
    int rc = read_esc(e, id, &r);
    if (rc != 1) {
        if (rc == 0)
            snprintf(err, errlen, "no escalation %lld", id);
        else
            snprintf(err, errlen, "store error: %s", sqlite3_errmsg(e->db));
        return -1;
    }
    if (strcmp(r.state, "open") != 0) {
        snprintf(err, errlen, "escalation %lld is %s, not open", id, r.state);
        return -1;
    }
    const struct escalation_policy *ep = policy_of(e->cfg, r.policy);
    int64_t next = ep && ep->rearm_ms ? wall + ep->rearm_ms : 0;
    char now[UTIL_TIME_LEN], object[32];
    util_time_format(wall, now);
    if (store_begin(e->st) != 0) {
        snprintf(err, errlen, "store error: %s", store_errmsg(e->st));
        return -1;
    }
    sqlite3_stmt *s = e->s_ack;
    sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, o->id, -1, SQLITE_STATIC);
    /* The note is an officer's free text: it may name a person, so it is
     * sealed like a signal's payload (docs/encryption.md). */
    uint8_t *sealed_note = NULL;
    if (note && *note) {
        char idtext[32];
        size_t n = strlen(note);
        const struct seal_key *key = store_key(e->st);
        snprintf(idtext, sizeof idtext, "%lld", id);
        sealed_note = key ? malloc(seal_size(n)) : NULL;
        if (!sealed_note ||
            seal_encrypt(key, SEAL_AD_NOTE(idtext), SEAL_AD_NOTE_N, note, n, sealed_note) != 0) {
            free(sealed_note);
            sqlite3_clear_bindings(s);
            store_rollback(e->st);
            snprintf(err, errlen, "cannot encrypt the note: %s",
                     key ? "out of memory" : "no encryption key");
            return -1;
        }
        sqlite3_bind_blob(s, 3, sealed_note, (int)seal_size(n), SQLITE_TRANSIENT);
        free(sealed_note);
    }
    if (next)
        sqlite3_bind_int64(s, 4, next);
    sqlite3_bind_int64(s, 5, id);
    sqlite3_bind_int64(s, 6, wall);
    snprintf(object, sizeof object, "escalation:%lld", id);
    rc = step_done(s);
    if (rc == 0) {
        audit(e, actor, "escalation", object, "acknowledged",
              json_pack("{s:s, s:b}", "by", o->id, "note", note && *note));
        rc = emit(e, TYPE_BEVESTIGD, r.referral,
                  json_pack("{s:I, s:s, s:s, s:s}", "escalatie", (json_int_t)id, "doorverwijzing",
                            r.referral, "bevestigdDoor", o->id, "bevestigdOp", now),
                  now);
    }
    if (rc != 0 || store_commit(e->st) != 0) {
        snprintf(err, errlen, "store error: %s", store_errmsg(e->st));
        store_rollback(e->st);
        return -1;
    }
    if (next)
        heap_push(e, ITEM_STEP, id, next, wall, mono);
    log_msg(LOG_INFO, "event=escalation_acknowledged escalation=%lld by=%s actor=%s rearm_ms=%lld",
            id, o->id, actor, (long long)(next ? next - wall : 0));
    char rearm_at[UTIL_TIME_LEN] = "";
    if (next)
        util_time_format(next, rearm_at);
    *result =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?}", "escalation", (json_int_t)id, "state",
                  "acknowledged", "referral", r.referral, "acknowledged", now, "by", o->id,
                  "deadline", esc_deadline_name(r.deadline), "rearm_at", next ? rearm_at : NULL);
    return 0;
}

size_t escalate_scheduled(const struct escalate *e)
{
    return e->nheap;
}

/* ---- set-up ----------------------------------------------------------- */

static int prepare_all(struct escalate *e, char *err, size_t errlen)
{
    /* Referral rows in a rowid range, with whether each deadline already
     * has an escalation. */
    /* Referral rows that may wait on a deadline (the index on state), with
     * whether each deadline already has an escalation; for start-up. */
    if (prep(e, &e->s_load_refs,
             "SELECT r.rowid, r.id, r.partner, r.policy, r.state, r.receipt_due_ms, "
             "r.decision_due_ms, "
             "EXISTS(SELECT 1 FROM escalations x WHERE x.referral = r.id AND x.deadline = "
             "'receipt'), "
             "EXISTS(SELECT 1 FROM escalations x WHERE x.referral = r.id AND x.deadline = "
             "'decision') "
             "FROM referrals r WHERE r.state IN ('aangeboden', 'ontvangen')",
             err, errlen) != 0)
        return -1;
    return prep(e, &e->s_new_refs,
                "SELECT r.rowid, r.id, r.partner, r.policy, r.state, r.receipt_due_ms, "
                "r.decision_due_ms, "
                "EXISTS(SELECT 1 FROM escalations x WHERE x.referral = r.id AND x.deadline = "
                "'receipt'), "
                "EXISTS(SELECT 1 FROM escalations x WHERE x.referral = r.id AND x.deadline = "
                "'decision') "
                "FROM referrals r WHERE r.rowid > ?1 AND r.rowid <= ?2 ORDER BY r.rowid",
                err, errlen) ||
           prep(e, &e->s_ref, "SELECT state FROM referrals WHERE id = ?1", err, errlen) ||
           prep(e, &e->s_new_hist,
                "SELECT h.seq, x.id, x.deadline, h.to_state FROM referral_history h "
                "JOIN escalations x ON x.referral = h.referral AND x.state != 'resolved' "
                "WHERE h.seq > ?1 AND h.seq <= ?2 AND h.from_state IS NOT NULL ORDER BY h.seq",
                err, errlen) ||
           prep(e, &e->s_open,
                "INSERT OR IGNORE INTO escalations (referral, deadline, due_ms, policy, partner, "
                "state, base_ms, level, next_ms, created, updated) "
                "VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?3, -1, ?6, ?7, ?7)",
                err, errlen) ||
           prep(e, &e->s_esc,
                "SELECT referral, deadline, due_ms, policy, partner, state, base_ms, level, "
                "fired_ms, rounds, next_ms, rearms FROM escalations WHERE id = ?1",
                err, errlen) ||
           prep(e, &e->s_fire,
                "UPDATE escalations SET level = ?1, fired_ms = ?2, rounds = ?3, next_ms = ?4, "
                "updated = ?5 WHERE id = ?6",
                err, errlen) ||
           prep(e, &e->s_insert_alert,
                "INSERT INTO alerts (escalation, round, level, kind, officer, channel, state, "
                "created, updated, subject, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7, ?8, ?9)",
                err, errlen) ||
           prep(e, &e->s_alert,
                "SELECT escalation, officer, channel, subject, body, round, cycles, state, "
                "retry_ms FROM alerts WHERE seq = ?1",
                err, errlen) ||
           prep(e, &e->s_alert_state,
                "UPDATE alerts SET state = ?1, updated = ?2, retry_ms = ?3, cycles = cycles + ?4 "
                "WHERE seq = ?5",
                err, errlen) ||
           prep(e, &e->s_attempt,
                "INSERT INTO alert_attempts (alert, time, attempt, code, error, elapsed_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6);",
                err, errlen) ||
           prep(e, &e->s_round,
                "SELECT COALESCE(SUM(state = 'delivered'), 0), "
                "COALESCE(SUM(state = 'queued' AND cycles = 1), 0), "
                "COALESCE(SUM(kind = 'fallback'), 0), COALESCE(MAX(level), 0) "
                "FROM alerts WHERE escalation = ?1 AND round = ?2",
                err, errlen) ||
           prep(e, &e->s_resolve,
                "UPDATE escalations SET state = 'resolved', resolved = ?1, resolution = ?2, "
                "next_ms = NULL, updated = ?1 WHERE id = ?3 AND state != 'resolved'",
                err, errlen) ||
           prep(e, &e->s_ack,
                "UPDATE escalations SET state = 'acknowledged', acked = ?1, acked_by = ?2, "
                "ack_note = ?3, next_ms = ?4, updated = ?1, acked_ms = COALESCE(acked_ms, ?6) "
                "WHERE id = ?5 AND state = 'open'",
                err, errlen) ||
           prep(e, &e->s_rearm,
                "UPDATE escalations SET state = 'open', base_ms = ?1, level = -1, next_ms = ?2, "
                "rearms = rearms + 1, updated = ?3 WHERE id = ?4",
                err, errlen) ||
           prep(e, &e->s_unresolved,
                "SELECT id, state, next_ms FROM escalations WHERE state != 'resolved'", err,
                errlen) ||
           prep(e, &e->s_max_ref, "SELECT COALESCE(MAX(rowid), 0) FROM referrals", err, errlen) ||
           prep(e, &e->s_max_hist, "SELECT COALESCE(MAX(seq), 0) FROM referral_history", err,
                errlen) ||
           prep(e, &e->s_count_attempt, "UPDATE alerts SET attempts = attempts + 1 WHERE seq = ?1",
                err, errlen) ||
           prep(e, &e->s_undelivered,
                "SELECT seq, state, retry_ms FROM alerts WHERE state IN "
                "('queued', 'failed')",
                err, errlen);
}

void escalate_reconfigure(struct escalate *e, const struct config *cfg)
{
    e->cfg = cfg;
    /* Never back to 0: referrals made while no policy escalates are still
     * read (and skipped), so the cursor stays current for a later reload. */
    for (size_t i = 0; i < cfg->npolicies; i++)
        e->any_policy |= cfg->policies[i].escalation != NULL;
}

struct escalate *escalate_new(const struct config *cfg, struct store *st, struct notify *n,
                              int64_t wall, int64_t mono, escalate_touch_fn touch, void *touch_arg,
                              char *err, size_t errlen)
{
    struct escalate *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->st = st;
    e->db = store_sqlite(st);
    e->n = n;
    e->touch = touch;
    e->touch_arg = touch_arg;
    for (size_t i = 0; i < cfg->npolicies; i++)
        e->any_policy |= cfg->policies[i].escalation != NULL;
    if (prepare_all(e, err, errlen) != 0)
        goto fail;
    /* Deadlines of referrals that still wait and have no escalation yet. */
    e->history_cursor = max_of(e->s_max_hist);
    int64_t last = 0;
    if (e->any_policy && push_referrals(e, e->s_load_refs, wall, mono, &last) != 0)
        goto db_fail;
    e->referral_cursor = max_of(e->s_max_ref);
    /* Escalations not resolved: their next step (overdue ones come up at
     * once, and fire once). */
    sqlite3_stmt *s = e->s_unresolved;
    while (sqlite3_step(s) == SQLITE_ROW) {
        e->unresolved++;
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            heap_push(e, ITEM_STEP, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 2), wall,
                      mono);
    }
    sqlite3_reset(s);
    /* Alerts not delivered: queued ones go out again now (same id, so a
     * receiver that did get one drops the copy), failed ones at retry_ms. */
    s = e->s_undelivered;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        if (strcmp(col_text(s, 1), "failed") == 0)
            heap_push(e, ITEM_ALERT, seq, sqlite3_column_int64(s, 2), wall, mono);
        else if (remember(e, seq) != 0)
            break;
    }
    sqlite3_reset(s);
    if (e->nqueue)
        log_msg(LOG_WARN, "event=alerts_requeued count=%zu", e->nqueue);
    flush_queue(e, wall, mono);
    log_msg(LOG_INFO, "event=escalation_loaded scheduled=%zu unresolved=%ld", e->nheap,
            e->unresolved);
    return e;
db_fail:
    snprintf(err, errlen, "cannot load escalations: %s", sqlite3_errmsg(e->db));
fail:
    escalate_free(&e);
    return NULL;
}

void escalate_free(struct escalate **self_p)
{
    struct escalate *e = *self_p;
    if (!e)
        return;
    sqlite3_stmt **all[] = {
        &e->s_new_refs,    &e->s_ref,         &e->s_new_hist,      &e->s_open,
        &e->s_esc,         &e->s_fire,        &e->s_insert_alert,  &e->s_alert,
        &e->s_alert_state, &e->s_attempt,     &e->s_round,         &e->s_resolve,
        &e->s_ack,         &e->s_rearm,       &e->s_unresolved,    &e->s_max_ref,
        &e->s_max_hist,    &e->s_undelivered, &e->s_count_attempt, &e->s_load_refs};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(*all[i]);
    free(e->heap);
    free(e->to_queue);
    free(e);
    *self_p = NULL;
}
