/*
 * deliver - store-and-forward delivery of queued events to partner sessions.
 *
 * A session is a partner's adapter connection, known from the frames it
 * sends (any frame: an event, a receipt, a heartbeat). Deliveries wait in the
 * store until their partner has a session; then they go out in queue order,
 * at most `delivery_window` unconfirmed per session, each resent with backoff
 * until the adapter's receipt confirms it or `delivery_max_attempts` is
 * spent, when it is dead-lettered (logged, audited, visible in ketenctl). A
 * session that sends nothing for `session_timeout_ms` is dropped and its
 * unconfirmed deliveries go back to waiting. Memory is bounded by the window
 * per partner. Knows nothing of ZeroMQ: the caller passes a send function.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

#define DELIVER_RID_MAX 256

struct deliver;

/* Borrows cfg and st. Caller frees with deliver_free. NULL when out of memory. */
struct deliver *deliver_new(const struct config *cfg, struct store *st);

/* Frees and sets *self_p to NULL. */
void deliver_free(struct deliver **self_p);

/*
 * A frame came from `partner` over routing id `rid` at monotonic time `now`:
 * the partner has a session there (a new routing id replaces the old session;
 * its unconfirmed deliveries are offered again on the new one).
 */
void deliver_heard(struct deliver *d, const struct partner *partner, const uint8_t *rid,
                   size_t rid_len, int64_t now);

/* The partner's receipt for `event_id` was committed: it leaves the window. */
void deliver_confirmed(struct deliver *d, const struct partner *partner, const char *event_id);

/* New deliveries for `partner` were committed. */
void deliver_touch(struct deliver *d, const struct partner *partner);

/*
 * Sends one frame to a session. Returns 0 when queued, 1 when the session
 * cannot take more now (try later), -1 when the peer is gone.
 */
typedef int (*deliver_send_fn)(void *arg, const uint8_t *rid, size_t rid_len, const char *data,
                               size_t len);

/*
 * Does everything due at `now`: drops silent sessions, resends or
 * dead-letters unconfirmed deliveries, fills windows from the queue. Returns
 * the monotonic time of the next thing due, or -1 when nothing is.
 */
int64_t deliver_run(struct deliver *d, int64_t now, deliver_send_fn send, void *arg);

/*
 * The config was reloaded: `cfg` replaces the one `d` runs with, which must
 * stay valid during the call (its partners are compared). Each session
 * follows its partner by id. The session of a partner that is gone, or whose
 * public key changed, is closed (reason "revoked"): its unconfirmed
 * deliveries wait in the store (a rekeyed partner gets them on its next
 * session with the new key). cfg->delivery_window must be the old one's
 * (config_reload_prepare keeps it). Borrows cfg from now on. Returns 0, or
 * -1 when out of memory; then nothing changed.
 */
int deliver_reconfigure(struct deliver *d, const struct config *cfg);

/* Figures for logs and tests. */
struct deliver_stats {
    size_t sessions;
    size_t inflight;
    unsigned long sent, resent, confirmed, dead;
};
void deliver_get_stats(const struct deliver *d, struct deliver_stats *out);

#endif
