/*
 * deliver - sessions, windows, retries and dead letters; see deliver.h.
 *
 * Attempt counts live here, in memory (a restart gives every waiting
 * delivery a fresh count); the store keeps what matters across restarts:
 * whether a delivery is pending, confirmed or dead.
 */
#include "deliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* How often a session with room in its window looks at the queue again
 * even when nothing told it to (deliveries replayed with ketenctl). */
#define RESCAN_MS 5000

struct inflight {
    int64_t seq;
    char event_id[64];
    char *payload;
    size_t len;
    int attempts;
    int64_t due_ms; /* resend (or dead-letter) when no receipt by then */
};

struct session {
    const struct partner *partner;
    int active;
    uint8_t rid[DELIVER_RID_MAX];
    size_t rid_len;
    int64_t last_heard_ms;
    int64_t next_scan_ms;
    int dirty; /* look at the queue on the next run */
    struct inflight *inflight;
    size_t ninflight;
};

/* Attempts of deliveries that left a window unconfirmed (session gone), so
 * a poison delivery that kills its adapter still reaches the limit. */
struct attempt {
    int64_t seq;
    const struct partner *partner;
    char event_id[64];
    int attempts;
};

struct deliver {
    const struct config *cfg;
    struct store *st;
    struct session *sessions; /* one per partner, index as in cfg->partners */
    struct attempt *attempts;
    size_t nattempts, cap_attempts;
    struct deliver_stats stats;
};

struct deliver *deliver_new(const struct config *cfg, struct store *st)
{
    struct deliver *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cfg = cfg;
    d->st = st;
    d->sessions = calloc(cfg->npartners + 1, sizeof *d->sessions);
    if (!d->sessions) {
        free(d);
        return NULL;
    }
    for (size_t i = 0; i < cfg->npartners; i++) {
        d->sessions[i].partner = &cfg->partners[i];
        d->sessions[i].inflight =
            calloc((size_t)cfg->delivery_window, sizeof *d->sessions[i].inflight);
        if (!d->sessions[i].inflight) {
            deliver_free(&d);
            return NULL;
        }
    }
    return d;
}

static void clear_inflight(struct session *s)
{
    for (size_t i = 0; i < s->ninflight; i++)
        free(s->inflight[i].payload);
    s->ninflight = 0;
}

void deliver_free(struct deliver **self_p)
{
    struct deliver *d = *self_p;
    if (!d)
        return;
    for (size_t i = 0; d->sessions && i < d->cfg->npartners; i++) {
        clear_inflight(&d->sessions[i]);
        free(d->sessions[i].inflight);
    }
    free(d->sessions);
    free(d->attempts);
    free(d);
    *self_p = NULL;
}

static struct session *session_of(struct deliver *d, const struct partner *p)
{
    size_t i = (size_t)(p - d->cfg->partners);
    return i < d->cfg->npartners ? &d->sessions[i] : NULL;
}

static struct attempt *attempt_of(struct deliver *d, int64_t seq)
{
    for (size_t i = 0; i < d->nattempts; i++)
        if (d->attempts[i].seq == seq)
            return &d->attempts[i];
    return NULL;
}

/* Forgets the count of delivery `seq`, or (seq 0) of `partner`'s `event_id`.
 * Returns 1 if there was one. */
static int forget_attempts(struct deliver *d, int64_t seq, const struct partner *partner,
                           const char *event_id)
{
    for (size_t i = 0; i < d->nattempts; i++) {
        struct attempt *a = &d->attempts[i];
        int match = seq ? a->seq == seq
                        : a->partner == partner && event_id && strcmp(a->event_id, event_id) == 0;
        if (match) {
            *a = d->attempts[--d->nattempts];
            return 1;
        }
    }
    return 0;
}

/* Keeps the attempt count of a delivery that leaves a window unconfirmed. */
static void remember_attempts(struct deliver *d, const struct partner *partner, int64_t seq,
                              const char *event_id, int attempts)
{
    struct attempt *a = attempt_of(d, seq);
    if (a) {
        a->attempts = attempts;
        return;
    }
    if (d->nattempts == d->cap_attempts) {
        size_t cap = d->cap_attempts ? d->cap_attempts * 2 : 64;
        struct attempt *grown = realloc(d->attempts, cap * sizeof *grown);
        if (!grown)
            return; /* worst case: the count starts over */
        d->attempts = grown;
        d->cap_attempts = cap;
    }
    d->attempts[d->nattempts].seq = seq;
    d->attempts[d->nattempts].partner = partner;
    snprintf(d->attempts[d->nattempts].event_id, sizeof d->attempts[d->nattempts].event_id, "%s",
             event_id);
    d->attempts[d->nattempts].attempts = attempts;
    d->nattempts++;
}

/* Drops a session: its unconfirmed deliveries wait in the store again. */
static void drop_session(struct deliver *d, struct session *s, const char *why)
{
    if (!s->active)
        return;
    log_msg(LOG_INFO, "event=session_closed partner=%s reason=%s unconfirmed=%zu", s->partner->id,
            why, s->ninflight);
    for (size_t i = 0; i < s->ninflight; i++)
        remember_attempts(d, s->partner, s->inflight[i].seq, s->inflight[i].event_id,
                          s->inflight[i].attempts);
    clear_inflight(s);
    s->active = 0;
}

void deliver_heard(struct deliver *d, const struct partner *partner, const uint8_t *rid,
                   size_t rid_len, int64_t now)
{
    struct session *s = session_of(d, partner);
    if (!s || rid_len > DELIVER_RID_MAX)
        return;
    if (s->active && (s->rid_len != rid_len || memcmp(s->rid, rid, rid_len) != 0))
        drop_session(d, s, "replaced");
    if (!s->active) {
        memcpy(s->rid, rid, rid_len);
        s->rid_len = rid_len;
        s->active = 1;
        s->dirty = 1;
        log_msg(LOG_INFO, "event=session_opened partner=%s", partner->id);
    }
    s->last_heard_ms = now;
}

void deliver_confirmed(struct deliver *d, const struct partner *partner, const char *event_id)
{
    struct session *s = session_of(d, partner);
    if (!s)
        return;
    for (size_t i = 0; i < s->ninflight; i++) {
        if (strcmp(s->inflight[i].event_id, event_id) == 0) {
            forget_attempts(d, s->inflight[i].seq, NULL, NULL);
            free(s->inflight[i].payload);
            s->inflight[i] = s->inflight[--s->ninflight];
            d->stats.confirmed++;
            s->dirty = 1;
            return;
        }
    }
    /* Confirmed in the store but not in a window (sent on a session that was
     * dropped since): nothing left to send, and nothing left to count. */
    if (forget_attempts(d, 0, partner, event_id))
        d->stats.confirmed++;
}

void deliver_touch(struct deliver *d, const struct partner *partner)
{
    struct session *s = session_of(d, partner);
    if (s)
        s->dirty = 1;
}

static int64_t backoff(const struct deliver *d, int attempts)
{
    int64_t ms = d->cfg->delivery_ack_timeout_ms;
    for (int i = 1; i < attempts && ms < d->cfg->delivery_backoff_max_ms; i++)
        ms *= 2;
    return ms < d->cfg->delivery_backoff_max_ms ? ms : d->cfg->delivery_backoff_max_ms;
}

static void dead_letter(struct deliver *d, struct session *s, size_t i)
{
    struct inflight *f = &s->inflight[i];
    char when[UTIL_TIME_LEN], reason[96], detail[160];
    util_time_now(when);
    snprintf(reason, sizeof reason, "no receipt after %d attempts", f->attempts);
    snprintf(detail, sizeof detail, "{\"delivery\":%lld,\"attempts\":%d}", (long long)f->seq,
             f->attempts);
    struct audit_record ar = {.time = when,
                              .actor = "hub",
                              .action = "delivery",
                              .object = f->event_id,
                              .outcome = "dead",
                              .detail = detail};
    if (store_begin(d->st) != 0 ||
        store_dead_letter(d->st, f->seq, f->attempts, reason, when) != 0 ||
        store_audit(d->st, &ar) != 0 || store_commit(d->st) != 0) {
        store_rollback(d->st);
        log_msg(LOG_ERROR, "event=dead_letter_failed partner=%s delivery=%lld error=\"%s\"",
                s->partner->id, (long long)f->seq, store_errmsg(d->st));
        f->due_ms += d->cfg->delivery_ack_timeout_ms; /* try again later */
        return;
    }
    log_msg(LOG_ERROR, "event=dead_letter partner=%s delivery=%lld event_id=%s attempts=%d",
            s->partner->id, (long long)f->seq, f->event_id, f->attempts);
    d->stats.dead++;
    forget_attempts(d, f->seq, NULL, NULL);
    free(f->payload);
    s->inflight[i] = s->inflight[--s->ninflight];
    s->dirty = 1;
}

/* Sends (or resends) inflight entry i. Returns the send function's result. */
static int send_one(struct deliver *d, struct session *s, struct inflight *f, int64_t now,
                    deliver_send_fn send, void *arg)
{
    int rc = send(arg, s->rid, s->rid_len, f->payload, f->len);
    if (rc == 0) {
        f->attempts++;
        f->due_ms = now + backoff(d, f->attempts);
    } else if (rc > 0) {
        f->due_ms = now + 100; /* the peer's queue is full: look again soon */
    }
    return rc;
}

struct load_ctx {
    struct deliver *d;
    struct session *s;
    int64_t now;
};

static void load_one(void *arg, const struct store_delivery *row)
{
    struct load_ctx *lc = arg;
    struct session *s = lc->s;
    if (s->ninflight >= (size_t)lc->d->cfg->delivery_window)
        return;
    for (size_t i = 0; i < s->ninflight; i++)
        if (s->inflight[i].seq == row->seq)
            return; /* already on its way */
    struct inflight *f = &s->inflight[s->ninflight];
    f->payload = malloc(row->payload_len + 1);
    if (!f->payload)
        return;
    memcpy(f->payload, row->payload, row->payload_len);
    f->payload[row->payload_len] = '\0';
    f->len = row->payload_len;
    f->seq = row->seq;
    snprintf(f->event_id, sizeof f->event_id, "%s", row->event_id);
    struct attempt *a = attempt_of(lc->d, row->seq);
    f->attempts = a ? a->attempts : 0;
    f->due_ms = lc->now; /* send now */
    s->ninflight++;
}

/* Fills the session's window from the queue, in queue order. */
static void fill_window(struct deliver *d, struct session *s, int64_t now)
{
    size_t room = (size_t)d->cfg->delivery_window - s->ninflight;
    if (room == 0)
        return;
    struct load_ctx lc = {d, s, now};
    /* Inflight ones are still pending in the store: ask for enough rows to
     * see past them. */
    if (store_pending_deliveries(d->st, s->partner->id, 0, room + s->ninflight, load_one, &lc) < 0)
        log_msg(LOG_ERROR, "event=queue_read_failed partner=%s error=\"%s\"", s->partner->id,
                store_errmsg(d->st));
}

int64_t deliver_run(struct deliver *d, int64_t now, deliver_send_fn send, void *arg)
{
    int64_t next = -1;
#define SOONER(t) (next = (next < 0 || (t) < next) ? (t) : next)
    for (size_t i = 0; i < d->cfg->npartners; i++) {
        struct session *s = &d->sessions[i];
        if (!s->active)
            continue;
        if (now - s->last_heard_ms >= d->cfg->session_timeout_ms) {
            drop_session(d, s, "silent");
            continue;
        }
        if (s->dirty || now >= s->next_scan_ms) {
            s->dirty = 0;
            s->next_scan_ms = now + RESCAN_MS;
            fill_window(d, s, now);
        }
        for (size_t k = 0; k < s->ninflight && s->active;) {
            struct inflight *f = &s->inflight[k];
            if (f->due_ms > now) {
                SOONER(f->due_ms);
                k++;
                continue;
            }
            if (f->attempts >= d->cfg->delivery_max_attempts) {
                dead_letter(d, s, k);
                continue; /* k now holds another entry */
            }
            int first = f->attempts == 0;
            int rc = send_one(d, s, f, now, send, arg);
            if (rc < 0) {
                drop_session(d, s, "unreachable");
                break;
            }
            SOONER(f->due_ms);
            if (rc > 0) {
                /* Full for now: nothing more to this peer in this run, so
                 * what it gets keeps queue order. */
                for (size_t j = k + 1; j < s->ninflight; j++)
                    if (s->inflight[j].due_ms <= now)
                        s->inflight[j].due_ms = f->due_ms;
                break;
            }
            if (first)
                d->stats.sent++;
            else
                d->stats.resent++;
            k++;
        }
        if (!s->active)
            continue; /* dropped during this run: nothing of it is due */
        SOONER(s->last_heard_ms + d->cfg->session_timeout_ms);
        if (s->ninflight < (size_t)d->cfg->delivery_window)
            SOONER(s->next_scan_ms);
        if (s->dirty)
            SOONER(now);
    }
#undef SOONER
    return next;
}

int deliver_reconfigure(struct deliver *d, const struct config *cfg)
{
    struct session *sessions = calloc(cfg->npartners + 1, sizeof *sessions);
    if (!sessions)
        return -1;
    for (size_t i = 0; i < cfg->npartners; i++) {
        sessions[i].partner = &cfg->partners[i];
        sessions[i].inflight = calloc((size_t)cfg->delivery_window, sizeof *sessions[i].inflight);
        if (!sessions[i].inflight) {
            for (size_t k = 0; k <= i; k++)
                free(sessions[k].inflight);
            free(sessions);
            return -1;
        }
    }
    for (size_t i = 0; i < d->cfg->npartners; i++) {
        struct session *s = &d->sessions[i];
        const struct partner *p = config_partner(cfg, s->partner->id);
        if (p && memcmp(p->public_key, s->partner->public_key, sizeof p->public_key) == 0) {
            struct session *to = &sessions[p - cfg->partners];
            free(to->inflight);
            *to = *s;
            to->partner = p;
            s->inflight = NULL; /* moved: nothing of it is freed below */
            s->ninflight = 0;
            continue;
        }
        drop_session(d, s, "revoked");
    }
    /* Attempt counts follow their partner by id; a removed partner's go. */
    for (size_t i = 0; i < d->nattempts;) {
        const struct partner *p = config_partner(cfg, d->attempts[i].partner->id);
        if (p) {
            d->attempts[i++].partner = p;
            continue;
        }
        d->attempts[i] = d->attempts[--d->nattempts];
    }
    for (size_t i = 0; i < d->cfg->npartners; i++) {
        clear_inflight(&d->sessions[i]);
        free(d->sessions[i].inflight);
    }
    free(d->sessions);
    d->sessions = sessions;
    d->cfg = cfg;
    return 0;
}

void deliver_get_stats(const struct deliver *d, struct deliver_stats *out)
{
    *out = d->stats;
    out->sessions = 0;
    out->inflight = 0;
    for (size_t i = 0; i < d->cfg->npartners; i++) {
        out->sessions += d->sessions[i].active != 0;
        out->inflight += d->sessions[i].ninflight;
    }
}
