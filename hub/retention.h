/*
 * retention - removes personal payload once it has been kept long enough
 * (docs/retention.md).
 *
 * A signal's payload goes `after_closed` after every referral it made reached
 * a final state (afgewezen, afgerond, geannuleerd, mislukt: referral.h), or
 * `without_referral` after it arrived when it made none. Purging a signal
 * empties the sealed values that carry its person's data: its own event body,
 * the bodies of the responses about its referrals, its deliveries' payloads,
 * and the notes officers wrote on its escalations; and deletes its pseudonyms.
 * The metadata (types, times, states, partners, the report's facts) and the
 * audit trail stay. Each purge transaction writes one audit record naming the
 * purged signals by seq, with counts.
 *
 * The selection is one function with `now` as a parameter, shared by the hub,
 * `ketenctl purge` and `ketenctl purge --dry-run`, and by the tests. Bounded:
 * at most RETENTION_BATCH signals per transaction, so the hub's loop is never
 * held for long. Does not log: the caller does.
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "store.h"

struct sqlite3;

/* Signals per purge transaction (and per loop turn of the hub). */
#define RETENTION_BATCH 100

/* The configured periods, in milliseconds (config "retention"). */
struct retention_policy {
    int64_t after_closed_ms;
    int64_t without_referral_ms;
    int64_t interval_ms; /* how often the hub purges */
};

/* One signal due to lose its payload. `rule` is "after_closed" or
 * "without_referral"; `since` the moment its period started (RFC 3339). */
struct retention_due {
    int64_t seq;
    const char *id; /* the signal's CloudEvents id */
    const char *rule;
    const char *since;
};
typedef void (*retention_due_fn)(void *arg, const struct retention_due *d);

/*
 * The signals whose payload is due to go as of `now_ms` (UTC ms), at most
 * `max` (the earliest arrivals under each rule), in seq order: calls fn for
 * each (strings valid during the call). Its cost grows with `max` and the
 * old signals an open referral keeps, not with the number of stored signals.
 * Reads only; `db` is any connection to a schema-5 database. Returns
 * how many, or -1 on a database error.
 */
int retention_select(struct sqlite3 *db, const struct retention_policy *p, int64_t now_ms,
                     size_t max, retention_due_fn fn, void *arg);

/* What a purge removed. */
struct retention_counts {
    long long signals, events, deliveries, notes, pseudonyms;
};

/*
 * Purges at most `max` (<= RETENTION_BATCH) due signals in one transaction
 * of `st` (not inside one of the caller's), with one audit record by `actor`
 * ("hub", or "admin:<name>"). Adds what it removed to *counts. Returns the
 * number of signals purged (0: none was due), or -1 (err filled; nothing
 * changed).
 */
int retention_purge(struct store *st, const struct retention_policy *p, int64_t now_ms, size_t max,
                    const char *actor, struct retention_counts *counts, char *err, size_t errlen);

/*
 * Purges batch after batch until nothing is due, at most `max_batches`
 * transactions. Sets *more when signals were still due after the last one.
 * When an admin (`actor` other than "hub") asked and nothing was due, writes
 * one audit record saying so (outcome "nothing-due"). Returns 0, or -1 (err
 * filled; the batches before the failing one stay).
 */
int retention_purge_all(struct store *st, const struct retention_policy *p, int64_t now_ms,
                        int max_batches, const char *actor, struct retention_counts *counts,
                        int *more, char *err, size_t errlen);

/* {"signals": N, "events": N, ...} of counts. Caller owns it. */
json_t *retention_counts_json(const struct retention_counts *c);

/* The hub's schedule: a purge batch every interval, more at once while a
 * batch came back full. */
struct retention;

/* Borrows st; copies p. Returns the schedule (caller frees), NULL when out of
 * memory. The first purge is due at once. */
struct retention *retention_new(const struct retention_policy *p, struct store *st);

/* Frees and sets *self_p to NULL. */
void retention_free(struct retention **self_p);

/* Runs one batch if it is due at monotonic `mono_ms` (logs what it did).
 * Returns the monotonic ms at which it is next due. */
int64_t retention_run(struct retention *r, int64_t wall_ms, int64_t mono_ms);

/* The admin request "purge": purges now, up to 50 batches. Returns the reply
 * object ({"ok": true, "purged": {...}, "more": bool} or {"ok": false,
 * "error": ...}); caller owns it. */
json_t *retention_admin(struct retention *r, const char *by, int64_t wall_ms);

#endif
