/*
 * test_deliver - store-and-forward delivery against a real store: sessions,
 * queue order, windows, resends with capped backoff, dead letters, session
 * timeouts and replacement, refused sends, partner isolation, attempt counts
 * across session drops, stats and the next-deadline contract of deliver_run.
 *
 * Time is explicit: every deliver_run gets its `now`, nothing sleeps. The
 * send function is a fake that records each call (routing id, payload, time,
 * what it answered) and answers what the test tells it to.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "check.h"
#include "config.h"
#include "deliver.h"
#include "log.h"
#include "store.h"
#include "testutil.h"

#define MAX_CALLS 128
#define T_QUEUED "2026-11-29T08:00:00.000Z"

static char dir[128];

/* One call of the fake send function. */
struct call {
    char rid[32];
    char payload[64];
    int64_t at; /* the `now` of the deliver_run that made it */
    int rc;     /* what the fake answered */
};

struct fake {
    int reply;         /* what sends return: 0 queued, 1 full, -1 gone */
    const int *script; /* when set, call i (i < nscript) returns script[i] instead */
    size_t nscript;
    int64_t now; /* set by run() before each deliver_run */
    size_t n;
    struct call calls[MAX_CALLS];
};

static int fake_send(void *arg, const uint8_t *rid, size_t rid_len, const char *data, size_t len)
{
    struct fake *f = arg;
    int rc = f->n < f->nscript ? f->script[f->n] : f->reply;
    if (f->n < MAX_CALLS) {
        struct call *c = &f->calls[f->n];
        snprintf(c->rid, sizeof c->rid, "%.*s", (int)rid_len, (const char *)rid);
        snprintf(c->payload, sizeof c->payload, "%.*s", (int)len, data);
        c->at = f->now;
        c->rc = rc;
    }
    f->n++;
    return rc;
}

struct fixture {
    char path[256];
    char id_a[16], id_b[16];
    struct partner partners[2];
    struct config cfg;
    struct store *st;
    struct deliver *d;
    struct fake fake;
    const struct partner *a, *b;
};

/* The config every test starts from; a test may change it before fixture_open. */
static void fixture_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->id_a, sizeof fx->id_a, "partner-a");
    snprintf(fx->id_b, sizeof fx->id_b, "partner-b");
    fx->partners[0].id = fx->id_a;
    fx->partners[1].id = fx->id_b;
    fx->cfg.partners = fx->partners;
    fx->cfg.npartners = 2;
    fx->cfg.delivery_window = 4;
    fx->cfg.delivery_ack_timeout_ms = 100;
    fx->cfg.delivery_max_attempts = 3;
    fx->cfg.delivery_backoff_max_ms = 400;
    fx->cfg.session_timeout_ms = 1000;
    fx->a = &fx->partners[0];
    fx->b = &fx->partners[1];
}

static void fixture_open(struct fixture *fx, const char *name)
{
    char err[256] = "";
    snprintf(fx->path, sizeof fx->path, "%s/%s.db", dir, name);
    fx->st = store_open(fx->path, tu_seal_key(), err, sizeof err);
    if (!fx->st) {
        fprintf(stderr, "store_open %s: %s\n", fx->path, err);
        exit(2);
    }
    fx->d = deliver_new(&fx->cfg, fx->st);
    if (!fx->d) {
        fprintf(stderr, "deliver_new: out of memory\n");
        exit(2);
    }
}

static void setup(struct fixture *fx, const char *name)
{
    fixture_init(fx);
    fixture_open(fx, name);
}

static void teardown(struct fixture *fx)
{
    deliver_free(&fx->d);
    CHECK(fx->d == NULL);
    store_close(&fx->st);
}

static void payload_of(const char *event_id, char *out, size_t len)
{
    snprintf(out, len, "{\"id\":\"%s\"}", event_id);
}

/* Queues deliveries for partner p, in the order given (NULL-terminated), in
 * one transaction. */
static void queue(struct fixture *fx, const struct partner *p, const char *const *ids)
{
    CHECK_INT(store_begin(fx->st), 0);
    for (size_t i = 0; ids[i]; i++) {
        char payload[64];
        payload_of(ids[i], payload, sizeof payload);
        CHECK_INT(store_put_delivery(fx->st, ids[i], "ref-1", p->id, T_QUEUED, payload), 0);
    }
    CHECK_INT(store_commit(fx->st), 0);
}

/* The partner's receipt for event_id, committed, then told to deliver. */
static void confirm(struct fixture *fx, const struct partner *p, const char *event_id)
{
    CHECK_INT(store_begin(fx->st), 0);
    CHECK_INT(store_confirm_delivery(fx->st, event_id, p->id, T_QUEUED), 1);
    CHECK_INT(store_commit(fx->st), 0);
    deliver_confirmed(fx->d, p, event_id);
}

static void heard(struct fixture *fx, const struct partner *p, const char *rid, int64_t now)
{
    deliver_heard(fx->d, p, (const uint8_t *)rid, strlen(rid), now);
}

static int64_t run(struct fixture *fx, int64_t now)
{
    fx->fake.now = now;
    return deliver_run(fx->d, now, fake_send, &fx->fake);
}

/* Runs as the broker does: again while something is due right now. Returns
 * the deadline it settled on. */
static int64_t run_until_idle(struct fixture *fx, int64_t now)
{
    int64_t next = run(fx, now);
    for (int i = 0; i < 10 && next >= 0 && next <= now; i++)
        next = run(fx, now);
    CHECK(next < 0 || next > now);
    return next;
}

static struct deliver_stats stats(const struct fixture *fx)
{
    struct deliver_stats s;
    deliver_get_stats(fx->d, &s);
    return s;
}

/* How many sends of event_id's payload the fake accepted (rid NULL: any). */
static int sends_of(const struct fixture *fx, const char *event_id, const char *rid)
{
    char payload[64];
    payload_of(event_id, payload, sizeof payload);
    int n = 0;
    for (size_t i = 0; i < fx->fake.n && i < MAX_CALLS; i++) {
        const struct call *c = &fx->fake.calls[i];
        if (c->rc == 0 && strcmp(c->payload, payload) == 0 && (!rid || strcmp(c->rid, rid) == 0))
            n++;
    }
    return n;
}

/* Checks call i: sent to rid with event_id's payload at time `at`. */
static void check_call(const struct fixture *fx, size_t i, const char *rid, const char *event_id,
                       int64_t at)
{
    char payload[64];
    payload_of(event_id, payload, sizeof payload);
    CHECK(i < fx->fake.n);
    if (i >= fx->fake.n || i >= MAX_CALLS)
        return;
    CHECK_STR(fx->fake.calls[i].rid, rid);
    CHECK_STR(fx->fake.calls[i].payload, payload);
    CHECK_INT(fx->fake.calls[i].at, at);
}

/* Prints every call, for a failing order check. */
static void dump_calls(const struct fixture *fx)
{
    for (size_t i = 0; i < fx->fake.n && i < MAX_CALLS; i++)
        fprintf(stderr, "  call %zu: at=%lld rid=%s rc=%d %s\n", i, (long long)fx->fake.calls[i].at,
                fx->fake.calls[i].rid, fx->fake.calls[i].rc, fx->fake.calls[i].payload);
}

/* A delivery row as the store file holds it. */
struct row {
    char state[16];
    int attempts;
    char reason[128];
};

/* Reads event_id's delivery row with sqlite3 itself. Returns 1 found, 0 not. */
static int read_row(const struct fixture *fx, const char *event_id, struct row *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int found = 0;
    memset(out, 0, sizeof *out);
    if (sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT state, attempts, dead_reason FROM deliveries WHERE event_id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(s, 1, event_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *state = sqlite3_column_text(s, 0);
        const unsigned char *reason = sqlite3_column_text(s, 2);
        snprintf(out->state, sizeof out->state, "%s", state ? (const char *)state : "");
        out->attempts = sqlite3_column_int(s, 1);
        snprintf(out->reason, sizeof out->reason, "%s", reason ? (const char *)reason : "");
        found = 1;
    }
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return found;
}

/* Counts audit records of dead-lettered deliveries for event_id. */
static int dead_audits(const struct fixture *fx, const char *event_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int n = -1;
    if (sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM audit WHERE action = 'delivery' AND "
                           "outcome = 'dead' AND object = ?",
                           -1, &s, NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_text(s, 1, event_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void nothing_is_sent_without_a_session_then_the_queue_goes_in_seq_order(void)
{
    struct fixture fx;
    setup(&fx, "order");
    /* Ids that sort differently from their queue order. */
    queue(&fx, fx.a, (const char *const[]){"z9", "a1", "m5", NULL});
    deliver_touch(fx.d, fx.a);
    CHECK_INT(run(&fx, 0), -1);
    CHECK_INT(run(&fx, 10000), -1);
    CHECK_INT(fx.fake.n, 0);
    CHECK_INT(stats(&fx).sessions, 0);

    heard(&fx, fx.a, "rid-a", 20000);
    run(&fx, 20000);
    CHECK_INT(fx.fake.n, 3);
    check_call(&fx, 0, "rid-a", "z9", 20000);
    check_call(&fx, 1, "rid-a", "a1", 20000);
    check_call(&fx, 2, "rid-a", "m5", 20000);
    teardown(&fx);
}

static void window_holds_at_most_delivery_window_and_receipts_let_the_next_go(void)
{
    struct fixture fx;
    setup(&fx, "window");
    /* All runs stay before t=100, the first resend deadline: every call below
     * is a first send. */
    queue(&fx, fx.a, (const char *const[]){"a1", "a2", "a3", "a4", "a5", "a6", NULL});
    heard(&fx, fx.a, "rid-a", 0);
    run(&fx, 0);
    CHECK_INT(fx.fake.n, 4);
    CHECK_INT(stats(&fx).inflight, 4);
    check_call(&fx, 3, "rid-a", "a4", 0);
    run(&fx, 50);
    CHECK_INT(fx.fake.n, 4); /* window full: a5 waits */

    confirm(&fx, fx.a, "a2");
    CHECK_INT(stats(&fx).inflight, 3);
    run(&fx, 60);
    CHECK_INT(fx.fake.n, 5);
    check_call(&fx, 4, "rid-a", "a5", 60);
    CHECK_INT(stats(&fx).inflight, 4);
    run(&fx, 65);
    CHECK_INT(fx.fake.n, 5);

    /* A new one queued while the window is full waits behind a6. */
    queue(&fx, fx.a, (const char *const[]){"a7", NULL});
    deliver_touch(fx.d, fx.a);
    run(&fx, 70);
    CHECK_INT(fx.fake.n, 5);
    confirm(&fx, fx.a, "a1");
    run(&fx, 75);
    CHECK_INT(fx.fake.n, 6);
    check_call(&fx, 5, "rid-a", "a6", 75);
    confirm(&fx, fx.a, "a3");
    run(&fx, 80);
    CHECK_INT(fx.fake.n, 7);
    check_call(&fx, 6, "rid-a", "a7", 80);
    CHECK_INT(stats(&fx).inflight, 4);

    /* Room in the window and an empty queue: nothing; then a new delivery and
     * a touch send it. */
    confirm(&fx, fx.a, "a4");
    run(&fx, 85);
    CHECK_INT(fx.fake.n, 7);
    queue(&fx, fx.a, (const char *const[]){"a8", NULL});
    deliver_touch(fx.d, fx.a);
    run(&fx, 90);
    CHECK_INT(fx.fake.n, 8);
    check_call(&fx, 7, "rid-a", "a8", 90);
    CHECK_INT(stats(&fx).inflight, 4);
    CHECK_INT(stats(&fx).sent, 8);
    CHECK_INT(stats(&fx).resent, 0);
    teardown(&fx);
}

static void unconfirmed_delivery_is_resent_with_doubling_wait_capped_at_backoff_max(void)
{
    struct fixture fx;
    fixture_init(&fx);
    /* With 3 attempts the waits are 100, 200 and 400: the cap (400) would
     * never bite. Five attempts show it: 100, 200, 400, 400. */
    fx.cfg.delivery_max_attempts = 5;
    fixture_open(&fx, "backoff");
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    /* The partner keeps talking (heartbeats), so the session stays. */
    heard(&fx, fx.a, "rid-a", 1000);
    CHECK_INT(run(&fx, 1000), 1100);
    CHECK_INT(fx.fake.n, 1);
    check_call(&fx, 0, "rid-a", "a1", 1000);

    CHECK_INT(run(&fx, 1099), 1100); /* not yet */
    CHECK_INT(fx.fake.n, 1);
    heard(&fx, fx.a, "rid-a", 1100);
    CHECK_INT(run(&fx, 1100), 1300); /* waited 100, now waits 200 */
    CHECK_INT(fx.fake.n, 2);
    check_call(&fx, 1, "rid-a", "a1", 1100);

    CHECK_INT(run(&fx, 1299), 1300);
    CHECK_INT(fx.fake.n, 2);
    heard(&fx, fx.a, "rid-a", 1300);
    CHECK_INT(run(&fx, 1300), 1700); /* 400 */
    check_call(&fx, 2, "rid-a", "a1", 1300);

    heard(&fx, fx.a, "rid-a", 1700);
    CHECK_INT(run(&fx, 1700), 2100); /* 400 again, not 800 */
    check_call(&fx, 3, "rid-a", "a1", 1700);
    CHECK_INT(run(&fx, 2099), 2100);
    CHECK_INT(fx.fake.n, 4);

    heard(&fx, fx.a, "rid-a", 2100);
    CHECK_INT(run(&fx, 2100), 2500);
    check_call(&fx, 4, "rid-a", "a1", 2100);
    CHECK_INT(fx.fake.n, 5);
    CHECK_INT(stats(&fx).sent, 1);
    CHECK_INT(stats(&fx).resent, 4);
    teardown(&fx);
}

static void delivery_without_receipt_after_max_attempts_is_dead_lettered_and_not_sent_again(void)
{
    struct fixture fx;
    setup(&fx, "dead");
    static const char *const ids[] = {"a1", "a2", "a3", "a4", NULL};
    queue(&fx, fx.a, (const char *const[]){"a1", "a2", "a3", "a4", "a5", NULL});
    /* a1..a4 go at 0, 100, 300 (waits 100, 200, 400); at 700 they are spent. */
    const int64_t times[] = {0, 100, 300};
    for (size_t t = 0; t < 3; t++) {
        heard(&fx, fx.a, "rid-a", times[t]);
        run(&fx, times[t]);
        for (size_t i = 0; ids[i]; i++)
            CHECK_INT(sends_of(&fx, ids[i], "rid-a"), (int)t + 1);
    }
    CHECK_INT(sends_of(&fx, "a5", NULL), 0);
    heard(&fx, fx.a, "rid-a", 700);
    run_until_idle(&fx, 700);
    for (size_t i = 0; ids[i]; i++) {
        struct row r;
        CHECK_INT(read_row(&fx, ids[i], &r), 1);
        CHECK_STR(r.state, "dead");
        CHECK_INT(r.attempts, 3);
        CHECK(r.reason[0] != '\0');
        CHECK_INT(dead_audits(&fx, ids[i]), 1);
        CHECK_INT(sends_of(&fx, ids[i], NULL), 3);
    }
    /* The next queued one took their place, as a first send, at once. */
    CHECK_INT(sends_of(&fx, "a5", "rid-a"), 1);
    CHECK_INT(fx.fake.calls[fx.fake.n - 1].at, 700);
    struct row r5;
    CHECK_INT(read_row(&fx, "a5", &r5), 1);
    CHECK_STR(r5.state, "pending");
    CHECK_INT(stats(&fx).dead, 4);
    CHECK_INT(stats(&fx).inflight, 1);

    /* Much later (session kept alive): the dead ones never go again. */
    for (int64_t t = 800; t <= 3000; t += 100) {
        heard(&fx, fx.a, "rid-a", t);
        run(&fx, t);
    }
    for (size_t i = 0; ids[i]; i++)
        CHECK_INT(sends_of(&fx, ids[i], NULL), 3);
    CHECK_INT(sends_of(&fx, "a5", NULL), 3);
    CHECK_INT(read_row(&fx, "a5", &r5), 1);
    CHECK_STR(r5.state, "dead");
    CHECK_INT(r5.attempts, 3);
    CHECK_INT(stats(&fx).dead, 5);
    CHECK_INT(stats(&fx).inflight, 0);
    teardown(&fx);
}

static void silent_session_is_dropped_and_resent_the_same_payload_when_heard_again(void)
{
    struct fixture fx;
    setup(&fx, "silent");
    heard(&fx, fx.a, "rid-a", 0); /* and never again until t=2000 */
    CHECK_INT(run(&fx, 0), 1000);
    /* Queued late enough that two sends happen before the timeout, not three
     * (a third would dead-letter it on its next turn). */
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    deliver_touch(fx.d, fx.a);
    CHECK_INT(run(&fx, 800), 900);
    CHECK_INT(run(&fx, 900), 1000); /* resent; the session timeout is sooner than 1100 */
    CHECK_INT(sends_of(&fx, "a1", "rid-a"), 2);
    CHECK_INT(run(&fx, 999), 1000);
    CHECK_INT(stats(&fx).sessions, 1);

    CHECK_INT(run(&fx, 1000), -1); /* silent for session_timeout_ms */
    CHECK_INT(stats(&fx).sessions, 0);
    CHECK_INT(stats(&fx).inflight, 0);
    size_t before = fx.fake.n;
    CHECK_INT(run(&fx, 1100), -1); /* a1's resend deadline: not to a dropped session */
    CHECK_INT(run(&fx, 1500), -1);
    queue(&fx, fx.a, (const char *const[]){"a2", NULL});
    deliver_touch(fx.d, fx.a);
    CHECK_INT(run(&fx, 1600), -1);
    CHECK_INT(fx.fake.n, before);

    heard(&fx, fx.a, "rid-a", 2000);
    run(&fx, 2000);
    CHECK_INT(fx.fake.n, before + 2);
    check_call(&fx, before, "rid-a", "a1", 2000); /* the same payload as before */
    check_call(&fx, before + 1, "rid-a", "a2", 2000);
    CHECK_INT(stats(&fx).sessions, 1);
    teardown(&fx);
}

static void new_routing_id_replaces_the_session_and_unconfirmed_go_to_it(void)
{
    struct fixture fx;
    setup(&fx, "replace");
    queue(&fx, fx.a, (const char *const[]){"a1", "a2", "a3", NULL});
    heard(&fx, fx.a, "rid-old", 0);
    run(&fx, 0);
    CHECK_INT(fx.fake.n, 3);
    confirm(&fx, fx.a, "a2");

    heard(&fx, fx.a, "rid-new", 50);
    CHECK_INT(stats(&fx).sessions, 1);
    run(&fx, 50);
    CHECK_INT(fx.fake.n, 5);
    check_call(&fx, 3, "rid-new", "a1", 50);
    check_call(&fx, 4, "rid-new", "a3", 50);

    /* Later resends follow the new session too. */
    for (int64_t t = 100; t <= 600; t += 50) {
        heard(&fx, fx.a, "rid-new", t);
        run(&fx, t);
    }
    CHECK(fx.fake.n > 5);
    for (size_t i = 3; i < fx.fake.n && i < MAX_CALLS; i++)
        CHECK_STR(fx.fake.calls[i].rid, "rid-new");
    CHECK_INT(sends_of(&fx, "a1", "rid-old"), 1);
    CHECK_INT(sends_of(&fx, "a2", NULL), 1);
    teardown(&fx);
}

static void send_gone_drops_the_session_without_counting_an_attempt(void)
{
    struct fixture fx;
    setup(&fx, "gone");
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    heard(&fx, fx.a, "rid-a", 0);
    fx.fake.reply = -1;
    run(&fx, 0); /* its return value is checked in the deadline test */
    CHECK_INT(fx.fake.n, 1);
    CHECK_INT(fx.fake.calls[0].rc, -1);
    CHECK_INT(stats(&fx).sessions, 0);
    CHECK_INT(stats(&fx).sent, 0);
    fx.fake.reply = 0;
    CHECK_INT(run(&fx, 100), -1);
    CHECK_INT(run(&fx, 500), -1);
    CHECK_INT(fx.fake.n, 1);

    /* Back again: three accepted sends before the dead letter, since the
     * refused one did not count. */
    const int64_t times[] = {1000, 1100, 1300, 1700};
    for (size_t t = 0; t < 4; t++) {
        heard(&fx, fx.a, "rid-a", times[t]);
        run_until_idle(&fx, times[t]);
    }
    CHECK_INT(sends_of(&fx, "a1", "rid-a"), 3);
    struct row r;
    CHECK_INT(read_row(&fx, "a1", &r), 1);
    CHECK_STR(r.state, "dead");
    CHECK_INT(r.attempts, 3);
    CHECK_INT(stats(&fx).sent, 1);
    CHECK_INT(stats(&fx).resent, 2);
    teardown(&fx);
}

static void send_full_retries_soon_without_counting_an_attempt(void)
{
    struct fixture fx;
    setup(&fx, "full");
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    fx.fake.reply = 1;
    int64_t now = 0;
    /* More refusals than delivery_max_attempts. */
    for (int i = 0; i < 5; i++) {
        heard(&fx, fx.a, "rid-a", now);
        int64_t next = run(&fx, now);
        CHECK_INT(fx.fake.n, (size_t)i + 1);
        CHECK(next > now);
        CHECK(next <= now + fx.cfg.delivery_ack_timeout_ms); /* soon */
        CHECK_INT(stats(&fx).sessions, 1);
        if (next <= now)
            break;
        now = next;
    }
    CHECK_INT(stats(&fx).sent, 0);
    CHECK_INT(sends_of(&fx, "a1", NULL), 0);

    fx.fake.reply = 0;
    heard(&fx, fx.a, "rid-a", now);
    CHECK_INT(run(&fx, now), now + 100);
    CHECK_INT(sends_of(&fx, "a1", "rid-a"), 1);
    const int64_t waits[] = {100, 200, 400};
    for (size_t i = 0; i < 3; i++) {
        now += waits[i];
        heard(&fx, fx.a, "rid-a", now);
        run_until_idle(&fx, now);
    }
    CHECK_INT(sends_of(&fx, "a1", "rid-a"), 3);
    struct row r;
    CHECK_INT(read_row(&fx, "a1", &r), 1);
    CHECK_STR(r.state, "dead");
    CHECK_INT(r.attempts, 3);
    CHECK_INT(stats(&fx).sent, 1);
    CHECK_INT(stats(&fx).resent, 2);
    CHECK_INT(stats(&fx).dead, 1);
    teardown(&fx);
}

static void session_full_for_a_moment_keeps_queue_order(void)
{
    struct fixture fx;
    setup(&fx, "fullorder");
    queue(&fx, fx.a, (const char *const[]){"a1", "a2", "a3", NULL});
    heard(&fx, fx.a, "rid-a", 0);
    /* The session is full for the first send only; the pipe drains at once. */
    static const int script[] = {1};
    fx.fake.script = script;
    fx.fake.nscript = 1;
    int64_t next = run(&fx, 0);
    CHECK(next > 0 && next <= 100);
    if (next > 0)
        run(&fx, next);
    /* Each went out, first sends in queue order: "cannot take more now" is
     * no cue to send a2 and a3 ahead of a1. */
    static const char *const ids[] = {"a1", "a2", "a3"};
    size_t first[3];
    for (size_t k = 0; k < 3; k++) {
        char payload[64];
        payload_of(ids[k], payload, sizeof payload);
        first[k] = SIZE_MAX;
        for (size_t i = 0; i < fx.fake.n && i < MAX_CALLS; i++) {
            if (fx.fake.calls[i].rc == 0 && strcmp(fx.fake.calls[i].payload, payload) == 0) {
                first[k] = i;
                break;
            }
        }
        CHECK(first[k] != SIZE_MAX);
    }
    CHECK(first[0] < first[1]);
    CHECK(first[1] < first[2]);
    if (!(first[0] < first[1] && first[1] < first[2]))
        dump_calls(&fx);
    teardown(&fx);
}

static void two_partners_deliveries_never_cross(void)
{
    struct fixture fx;
    setup(&fx, "cross");
    /* Interleaved in the queue. */
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    queue(&fx, fx.b, (const char *const[]){"b1", NULL});
    queue(&fx, fx.a, (const char *const[]){"a2", NULL});
    queue(&fx, fx.b, (const char *const[]){"b2", "b3", NULL});
    heard(&fx, fx.a, "rid-a", 0);
    run(&fx, 0);
    CHECK_INT(fx.fake.n, 2); /* only A has a session */
    heard(&fx, fx.b, "rid-b", 10);
    run(&fx, 10);
    CHECK_INT(fx.fake.n, 5);

    /* B's receipt for A's event is not B's: A's window keeps it. */
    CHECK_INT(store_begin(fx.st), 0);
    CHECK_INT(store_confirm_delivery(fx.st, "a1", fx.b->id, T_QUEUED), 0);
    CHECK_INT(store_commit(fx.st), 0);
    deliver_confirmed(fx.d, fx.b, "a1");
    CHECK_INT(stats(&fx).confirmed, 0);
    CHECK_INT(stats(&fx).inflight, 5);

    /* B moves to another routing id, A goes silent then comes back. */
    heard(&fx, fx.b, "rid-b2", 50);
    for (int64_t t = 50; t <= 2000; t += 50) {
        heard(&fx, fx.b, "rid-b2", t);
        if (t == 1500)
            heard(&fx, fx.a, "rid-a", t);
        run(&fx, t);
    }
    int a_sends = 0, b_sends = 0;
    for (size_t i = 0; i < fx.fake.n && i < MAX_CALLS; i++) {
        const struct call *c = &fx.fake.calls[i];
        if (strncmp(c->payload, "{\"id\":\"a", 8) == 0) {
            a_sends++;
            CHECK_STR(c->rid, "rid-a");
        } else {
            b_sends++;
            CHECK(strncmp(c->payload, "{\"id\":\"b", 8) == 0);
            CHECK(strcmp(c->rid, "rid-b") == 0 || strcmp(c->rid, "rid-b2") == 0);
        }
    }
    CHECK(a_sends >= 2);
    CHECK(b_sends >= 3);
    CHECK_INT(sends_of(&fx, "b1", "rid-b2"), 2); /* resent on the new session */
    teardown(&fx);
}

static void poison_delivery_reaches_the_attempt_limit_across_session_drops(void)
{
    struct fixture fx;
    setup(&fx, "poison");
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    /* The adapter dies on each send and comes back with a new routing id. */
    static const char *const rids[] = {"rid-1", "rid-2", "rid-3"};
    for (size_t i = 0; i < 3; i++) {
        heard(&fx, fx.a, rids[i], (int64_t)i * 10);
        run(&fx, (int64_t)i * 10);
        CHECK_INT(sends_of(&fx, "a1", rids[i]), 1);
    }
    heard(&fx, fx.a, "rid-4", 30);
    run_until_idle(&fx, 30);
    CHECK_INT(sends_of(&fx, "a1", "rid-4"), 0);
    CHECK_INT(sends_of(&fx, "a1", NULL), 3);
    struct row r;
    CHECK_INT(read_row(&fx, "a1", &r), 1);
    CHECK_STR(r.state, "dead");
    CHECK_INT(r.attempts, 3);
    CHECK_INT(stats(&fx).dead, 1);
    CHECK_INT(stats(&fx).inflight, 0);
    teardown(&fx);
}

static void stats_count_sessions_inflight_sent_resent_confirmed_and_dead(void)
{
    struct fixture fx;
    setup(&fx, "stats");
    struct deliver_stats s = stats(&fx);
    CHECK_INT(s.sessions + s.inflight + s.sent + s.resent + s.confirmed + s.dead, 0);

    queue(&fx, fx.a, (const char *const[]){"a1", "a2", "a3", "a4", "a5", NULL});
    queue(&fx, fx.b, (const char *const[]){"b1", NULL});
    heard(&fx, fx.a, "rid-a", 0);
    heard(&fx, fx.b, "rid-b", 0);
    run(&fx, 0);
    s = stats(&fx);
    CHECK_INT(s.sessions, 2);
    CHECK_INT(s.inflight, 5);
    CHECK_INT(s.sent, 5);
    CHECK_INT(s.resent, 0);

    confirm(&fx, fx.a, "a1");
    confirm(&fx, fx.b, "b1");
    s = stats(&fx);
    CHECK_INT(s.confirmed, 2);
    CHECK_INT(s.inflight, 3);
    run(&fx, 50); /* a5 */
    s = stats(&fx);
    CHECK_INT(s.sent, 6);
    CHECK_INT(s.inflight, 4);

    /* a2..a4 were sent at 0, a5 at 50: resends at 100/300 and 150/350, dead at
     * 700 and 750. B is last heard at 100. */
    heard(&fx, fx.b, "rid-b", 100);
    const int64_t times[] = {100, 150, 300, 350};
    for (size_t i = 0; i < 4; i++) {
        heard(&fx, fx.a, "rid-a", times[i]);
        run(&fx, times[i]);
    }
    s = stats(&fx);
    CHECK_INT(s.resent, 8);
    CHECK_INT(s.dead, 0);
    heard(&fx, fx.a, "rid-a", 700);
    run_until_idle(&fx, 700);
    CHECK_INT(stats(&fx).dead, 3);
    heard(&fx, fx.a, "rid-a", 750);
    run_until_idle(&fx, 750);
    s = stats(&fx);
    CHECK_INT(s.dead, 4);
    CHECK_INT(s.inflight, 0);
    CHECK_INT(s.sessions, 2);

    run(&fx, 1100); /* B silent since 100 */
    s = stats(&fx);
    CHECK_INT(s.sessions, 1);
    CHECK_INT(s.sent, 6);
    CHECK_INT(s.resent, 8);
    CHECK_INT(s.confirmed, 2);
    CHECK_INT(s.dead, 4);
    /* The fake saw exactly the sends the stats count. */
    CHECK_INT(fx.fake.n, s.sent + s.resent);
    teardown(&fx);
}

static void run_returns_minus_one_when_idle_and_the_earliest_deadline_otherwise(void)
{
    struct fixture fx;
    setup(&fx, "deadline");
    CHECK_INT(run(&fx, 0), -1);
    queue(&fx, fx.a, (const char *const[]){"a1", NULL});
    deliver_touch(fx.d, fx.a);
    CHECK_INT(run(&fx, 10), -1); /* queued, but nobody to send to */

    heard(&fx, fx.b, "rid-b", 100); /* nothing queued for B: only its timeout */
    CHECK_INT(run(&fx, 100), 1100);
    heard(&fx, fx.a, "rid-a", 200);
    CHECK_INT(run(&fx, 200), 300); /* a1's resend */
    heard(&fx, fx.b, "rid-b", 250);
    CHECK_INT(run(&fx, 250), 300);
    confirm(&fx, fx.a, "a1");
    CHECK_INT(run(&fx, 260), 1200); /* A's timeout, before B's (1250) */
    heard(&fx, fx.b, "rid-b", 400);
    CHECK_INT(run(&fx, 400), 1200);
    CHECK_INT(run(&fx, 1200), 1400); /* A dropped, B left */
    CHECK_INT(run(&fx, 1400), -1);
    CHECK_INT(stats(&fx).sessions, 0);

    /* A session that turns out gone during the run leaves nothing due. */
    queue(&fx, fx.a, (const char *const[]){"a2", NULL});
    heard(&fx, fx.a, "rid-a", 2000);
    fx.fake.reply = -1;
    CHECK_INT(run(&fx, 2000), -1);
    CHECK_INT(stats(&fx).sessions, 0);
    teardown(&fx);
}

int main(void)
{
    /* Session and dead-letter lines would bury a failing CHECK in the log. */
    log_threshold = LOG_ERROR;
    tu_tempdir(dir, sizeof dir);
    RUN(nothing_is_sent_without_a_session_then_the_queue_goes_in_seq_order);
    RUN(window_holds_at_most_delivery_window_and_receipts_let_the_next_go);
    RUN(unconfirmed_delivery_is_resent_with_doubling_wait_capped_at_backoff_max);
    RUN(delivery_without_receipt_after_max_attempts_is_dead_lettered_and_not_sent_again);
    RUN(silent_session_is_dropped_and_resent_the_same_payload_when_heard_again);
    RUN(new_routing_id_replaces_the_session_and_unconfirmed_go_to_it);
    RUN(send_gone_drops_the_session_without_counting_an_attempt);
    RUN(send_full_retries_soon_without_counting_an_attempt);
    RUN(session_full_for_a_moment_keeps_queue_order);
    RUN(two_partners_deliveries_never_cross);
    RUN(poison_delivery_reaches_the_attempt_limit_across_session_drops);
    RUN(stats_count_sessions_inflight_sent_resent_confirmed_and_dead);
    RUN(run_returns_minus_one_when_idle_and_the_earliest_deadline_otherwise);
    tu_rmdir(dir);
    return CHECK_DONE();
}
