/*
 * store - the hub's durable state in SQLite: events and the audit trail.
 *
 * Opened in WAL mode with synchronous=FULL, both verified after open; a
 * quick_check at open refuses a damaged file; the schema is migrated by
 * PRAGMA user_version. Statements are prepared once. The caller groups writes
 * in transactions (store_begin/store_commit) so many events share one fsync.
 * A writable store checkpoints its WAL on a thread of its own (with its own
 * connection), so commits on the caller's thread never pay for copying pages
 * back into the database file.
 * Encryption at rest (docs/encryption.md): event bodies, delivery payloads
 * and officers' notes are stored sealed (lib/seal.h) under the key given at
 * open, and opened when read; every other column is in clear. Only one
 * process has the database open for writing at a time (`path`.lock).
 * Knows nothing of ZeroMQ or schemas. Does not log: errors go to the caller.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "audit.h"

#include "seal.h"

struct store;

/*
 * Opens (creating if needed) the database at `path` for the hub, with the
 * key that seals events.body and deliveries.payload (docs/encryption.md;
 * borrowed, must outlive the store). Takes an exclusive lock on `path`.lock
 * for as long as the store is open, so a second writer (another hub,
 * ketenctl rekey or purge) is refused. Refuses a database sealed under
 * another key, naming both key ids. Values stored in clear by a hub before
 * schema version 5 are sealed here, in one transaction. Returns the store
 * (caller closes), or NULL with err filled.
 */
struct store *store_open(const char *path, const struct seal_key *key, char *err, size_t errlen);

/* Opens an existing database read-only (for ketenctl); no migrations, no
 * lock. `key` may be NULL: then sealed values cannot be read. */
struct store *store_open_readonly(const char *path, const struct seal_key *key, char *err,
                                  size_t errlen);

/* 1 if `path`.lock is held by a process with the database open for writing
 * (a running hub), 0 if not, -1 when it cannot be told (err filled). */
int store_in_use(const char *path, char *err, size_t errlen);

/* Closes the database and sets *self_p to NULL. */
void store_close(struct store **self_p);

/* Transactions. Return 0, or -1 (see store_errmsg). */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* The last SQLite error message. The store owns it. */
const char *store_errmsg(const struct store *st);

/* What store_put_event did. */
enum store_put { STORE_NEW = 0, STORE_EXISTS = 1 };

/* One event to keep. All strings are borrowed for the call. */
struct store_event {
    const char *partner;  /* authenticated partner id */
    const char *source;   /* CloudEvents source */
    const char *id;       /* CloudEvents id */
    const char *type;     /* CloudEvents type */
    const char *time;     /* CloudEvents time, may be NULL */
    const char *received; /* when the hub received it, RFC 3339 UTC */
    const char *body;     /* the event as JSON text, as received */
    size_t body_len;
    /* The body already sealed by the caller (seal_encrypt with
     * SEAL_AD_EVENT(partner, source, id)), or NULL: the store seals it. */
    const uint8_t *sealed;
    size_t sealed_len;
};

/* Looks (partner, source, id) up. Returns 1 and sets *seq when it is stored,
 * 0 when not, -1 on a database error. */
int store_find_event(struct store *st, const struct store_event *ev, int64_t *seq);

/* Inserts an event the caller found absent (store_find_event) and sets *seq.
 * Returns 0, or -1 on a database error. Call inside a transaction. */
int store_insert_event(struct store *st, const struct store_event *ev, int64_t *seq);

/*
 * Stores an event unless (partner, source, id) is already there. Sets *seq to
 * the event's sequence number: the new one (STORE_NEW) or the stored one
 * (STORE_EXISTS; nothing written, the caller compares content). Returns -1 on
 * a database error. Call inside a transaction.
 */
int store_put_event(struct store *st, const struct store_event *ev, int64_t *seq);

/* A referral, as made by routing. Strings borrowed. Deadlines are UTC
 * milliseconds since the epoch; 0 means none. */
struct store_referral {
    const char *id; /* UUID */
    int64_t signal_seq;
    const char *partner;
    const char *policy;
    const char *rule;
    const char *state;
    const char *time;
    int64_t receipt_due_ms;
    int64_t decision_due_ms;
    int64_t created_ms; /* 0: unknown */
};

/* A referral as read back. */
struct store_referral_row {
    char id[64];
    int64_t signal_seq;
    char partner[65];
    char policy[128];
    char rule[128];
    char state[32];
    int64_t receipt_due_ms; /* 0: none */
    int64_t decision_due_ms;
};

/* One state change of a referral, for its history. Strings borrowed. */
struct store_history {
    const char *referral;
    const char *time;
    const char *actor;      /* partner id or "hub" */
    const char *event;      /* "aangeboden", "ontvangen", ... */
    const char *from_state; /* NULL when made */
    const char *to_state;
    int64_t event_seq; /* the event that caused it, 0 if none */
};

/* A pending delivery, as handed to a store_delivery_fn. Valid during the call. */
struct store_delivery {
    int64_t seq;
    const char *event_id;
    const char *payload;
    size_t payload_len;
    int attempts;
};
typedef void (*store_delivery_fn)(void *arg, const struct store_delivery *d);

/* Inserts a referral. 0 or -1. */
int store_put_referral(struct store *st, const struct store_referral *r);

/* Reads a referral: 1 found, 0 not found, -1 error. */
int store_get_referral(struct store *st, const char *id, struct store_referral_row *out);

/* Sets a referral's state and deadlines (0 = none). 0, or -1 (also if absent). */
int store_update_referral(struct store *st, const char *id, const char *state, const char *time,
                          int64_t receipt_due_ms, int64_t decision_due_ms);

/* Notes when a referral was first answered: received_ms (its receipt, or an
 * accept/decline, which implies it) and decided_ms (accepted or declined);
 * 0 leaves one as it is, and a moment already set is kept. 0 or -1. */
int store_referral_answered(struct store *st, const char *id, int64_t received_ms,
                            int64_t decided_ms);

/* A signal's facts, kept in clear for the coordinator's report
 * (docs/reporting.md). Strings borrowed. */
struct store_signal_facts {
    int64_t seq; /* the signal's event seq */
    int64_t received_ms;
    const char *partner;
    const char *role;
    unsigned forms; /* bit 0 seksueel, 1 arbeid, 2 crimineel, 3 orgaanverwijdering, 4 onbekend */
    const char *urgency;
    int minor;
    const char *municipality; /* CBS code, or NULL / "" when absent */
};

/* Stores a signal's facts. 0 or -1. Call inside intake's transaction. */
int store_put_signal_facts(struct store *st, const struct store_signal_facts *f);

/* Appends to a referral's history. 0 or -1. */
int store_add_history(struct store *st, const struct store_history *h);

/* Queues a delivery (an event for a partner, kept until confirmed); the
 * payload is sealed here (SEAL_AD_DELIVERY(event_id)). 0 or -1. */
int store_put_delivery(struct store *st, const char *event_id, const char *referral,
                       const char *partner, const char *time, const char *payload);

/* store_put_delivery with the payload already sealed by the caller
 * (seal_encrypt with SEAL_AD_DELIVERY(event_id)). 0 or -1. */
int store_put_delivery_sealed(struct store *st, const char *event_id, const char *referral,
                              const char *partner, const char *time, const uint8_t *sealed,
                              size_t sealed_len);

/* The key the store seals with (borrowed), or NULL for a read-only store
 * opened without one. */
const struct seal_key *store_key(const struct store *st);

/* Calls fn for up to `max` pending deliveries of `partner` with seq > after_seq,
 * in seq order, each payload opened (decrypted); purged ones are left out.
 * Returns how many, or -1 on a database error or when a payload did not open
 * (that one is skipped, the others are passed; store_errmsg names it). */
int store_pending_deliveries(struct store *st, const char *partner, int64_t after_seq, size_t max,
                             store_delivery_fn fn, void *arg);

/* Marks a pending delivery confirmed if it is this partner's. Returns 1 when it
 * was, 0 when no pending delivery with that id belongs to the partner, -1. */
int store_confirm_delivery(struct store *st, const char *event_id, const char *partner,
                           const char *time);

/* Dead-letters a pending delivery after `attempts` sends without a receipt
 * (it is not sent again until replayed with ketenctl). 0 or -1. */
int store_dead_letter(struct store *st, int64_t seq, int attempts, const char *reason,
                      const char *time);

/* Appends `rec` (struct audit_record: hub/audit.h) to the hash-chained audit
 * trail. Call inside the caller's transaction (it then commits or rolls back
 * with it); outside one it commits on its own. Returns 0, or -1. */
int store_audit(struct store *st, const struct audit_record *rec);

/*
 * Figures for `ketenctl status`: {"events": N, "last_seq": N, "by_type": {..},
 * "by_partner": {..}, "intake_outcomes": {..}, "referrals_by_state": {..},
 * "deliveries_by_state": {..}, "audit_records": N, "schema_version": N}.
 * Caller owns the returned object; NULL on error.
 */
json_t *store_stats(struct store *st);

/* The connection, for a module that keeps its own tables in this database
 * (escalate): same connection, so its writes share store_begin/commit. */
struct sqlite3 *store_sqlite(struct store *st);

/* How many WAL checkpoints the checkpoint thread has run (0 read-only). */
unsigned long store_checkpoints(struct store *st);

/* The stored JSON text of event `seq` (NUL-terminated, its length in *len if
 * len is not NULL), or NULL (absent, purged or an error). Caller frees. */
char *store_event_body(struct store *st, int64_t seq, size_t *len);

/*
 * Reads and opens event `seq`'s body into *body (caller frees; length in *len
 * if len is not NULL). Returns 1 when read, 0 when the event is absent or its
 * body was purged under retention (*body NULL), -1 on a database error or a
 * value that does not open (store_errmsg says which, e.g. the key ids).
 */
int store_event_read(struct store *st, int64_t seq, char **body, size_t *len);

/* What store_rekey and store_seal_check went through. */
struct store_seal_counts {
    long long events, deliveries, notes; /* sealed values (notes: escalations.ack_note) */
    long long purged;                    /* purged values (nothing to seal) */
};

/*
 * Opens every sealed value under the store's key and seals it again under
 * `to`, in one transaction, then records `to` as the database's key and
 * appends `rec` (may be NULL) to the audit trail in the same transaction. The
 * store keeps using its old key afterwards: close it. On any value that does
 * not open, nothing changes and err names its table and row. 0 or -1.
 */
int store_rekey(struct store *st, const struct seal_key *to, const struct audit_record *rec,
                struct store_seal_counts *counts, char *err, size_t errlen);

/* Opens every sealed value (and discards it): 0 when all open under the
 * store's key, -1 with err naming the first that does not. */
int store_seal_check(struct store *st, struct store_seal_counts *counts, char *err, size_t errlen);

/* The key id the database records as its key (hex), or "" when none yet. */
int store_key_id(struct store *st, char out[SEAL_KEY_ID_HEX]);

#endif
