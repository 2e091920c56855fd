/*
 * outbox - the adapter's local SQLite database (WAL, synchronous=FULL).
 *
 * Tables: `outbox` (events taken from the partner, not yet acked by the hub,
 * in the order taken), `inputs` (digests of partner inputs already taken, so a
 * re-read file or a re-sent POST is not taken twice), `failed` (events the hub
 * rejected and deliveries that could not be handed over, with the errors),
 * `seen` (ids of hub deliveries the partner side has taken: dedup of
 * redeliveries) and `docs` (a key -> JSON store for transports).
 *
 * Every function is thread-safe (one mutex around the connection): an HTTP
 * transport thread may take input while the loop sends. Does not log.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct outbox;

/* Opens (creates, migrates) the database at `path`; checks WAL and
 * synchronous=FULL took. Caller owns the handle. NULL with err filled. */
struct outbox *outbox_open(const char *path, char *err, size_t errlen);

/* Closes and sets *self_p to NULL. */
void outbox_close(struct outbox **self_p);

/*
 * Commits, in one transaction, the input's digest (with its name, may be NULL)
 * and every event of `events` (an array of complete CloudEvents; borrowed).
 * Returns 0 when committed, 1 when the digest was taken before (nothing
 * stored), -1 on a database failure (nothing stored; err filled).
 */
int outbox_add(struct outbox *ob, const char *digest, const char *name, const json_t *events,
               char *err, size_t errlen);

/* One event waiting for the hub's ack. `body` is malloc'ed: caller frees. */
struct outbox_entry {
    int64_t seq;
    char id[64];
    char *body;
};

/* Fills up to `max` entries with seq > after_seq, in seq order. Returns how
 * many, or -1. The caller frees each entry's body. */
int outbox_pending(struct outbox *ob, int64_t after_seq, int max, struct outbox_entry *out);

/* Number of events waiting for an ack, or -1. */
long outbox_count(struct outbox *ob);

/* The hub acked `id`: deletes it. Returns 1 if it was there, 0 if not, -1. */
int outbox_remove(struct outbox *ob, const char *id);

/*
 * Moves `id` from the outbox to the failed list with `errors` (the hub's error
 * array; borrowed). Returns 1 if it was in the outbox, 0 if not, -1.
 */
int outbox_reject(struct outbox *ob, const char *id, const json_t *errors);

/*
 * Records a failure that is not an outbox event (direction "out": a delivery
 * that could not be rendered or handed over), keyed by (id, direction): a
 * repeat updates the row (count + 1). `type`, `name` may be NULL. Returns 0/-1.
 */
int outbox_fail_delivery(struct outbox *ob, const char *id, const char *type, const char *name,
                         const json_t *errors);

/* The failed list, newest first, at most `limit`: a JSON array of
 * {"id","type","direction","input","origin","errors","count","failed_at"}.
 * Caller owns it. NULL on failure. */
json_t *outbox_failed_list(struct outbox *ob, int limit);

/* 1 when delivery `id` was taken by the partner side before, 0 if not, -1. */
int outbox_seen(struct outbox *ob, const char *id);

/* Records that the partner side took delivery `id`. Returns 0/-1. */
int outbox_mark_seen(struct outbox *ob, const char *id);

/* Forgets seen ids and input digests older than `before_ms` (wall clock,
 * ms since the epoch). Returns how many rows went, or -1. */
long outbox_prune(struct outbox *ob, int64_t before_ms);

/* Key -> JSON document store (see adapter_doc_put). put borrows doc; get
 * returns a new reference or NULL. */
int outbox_doc_put(struct outbox *ob, const char *key, const json_t *doc);
json_t *outbox_doc_get(struct outbox *ob, const char *key);

#endif
