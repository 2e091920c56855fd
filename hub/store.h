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
 * Knows nothing of ZeroMQ or schemas. Does not log: errors go to the caller.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct store;

/* Opens (creating if needed) the database at `path` for the hub. Returns the
 * store (caller closes), or NULL with err filled. */
struct store *store_open(const char *path, char *err, size_t errlen);

/* Opens an existing database read-only (for ketenctl); no migrations. */
struct store *store_open_readonly(const char *path, char *err, size_t errlen);

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

/* Queues a delivery (an event for a partner, kept until confirmed). 0 or -1. */
int store_put_delivery(struct store *st, const char *event_id, const char *referral,
                       const char *partner, const char *time, const char *payload);

/* Calls fn for up to `max` pending deliveries of `partner` with seq > after_seq,
 * in seq order. Returns how many, or -1. */
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

/* One audit record. Strings borrowed; any but action/outcome may be NULL.
 * Never holds personal data: ids, JSON pointers, keywords, counts. */
struct audit_record {
    const char *time;
    const char *actor;   /* partner id, "admin:<user>" or "hub" */
    const char *role;    /* the actor's role */
    const char *action;  /* e.g. "intake", "connect" */
    const char *object;  /* e.g. event id */
    const char *outcome; /* e.g. "accepted", "rejected", "refused" */
    const char *detail;  /* JSON text, e.g. the failing pointers */
};

/* Appends an audit record. Returns 0, or -1. */
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
 * len is not NULL), or NULL. Caller frees. */
char *store_event_body(struct store *st, int64_t seq, size_t *len);

#endif
