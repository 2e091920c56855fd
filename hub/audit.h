/*
 * audit - the tamper-evident audit trail: records chained by SHA-256.
 *
 * Does: the record (NEN 7513 / BIO fields), its canonical form and hash, the
 * append to the chain inside the writer's transaction, verifying the chain
 * (or its tail) and naming the first record that does not fit, and the head.
 * The chain is per database: every record holds prev_hash (the hash of the
 * record before it) and hash = SHA-256(prev_hash || canonical content), both
 * as lower-case hex; docs/audit.md defines the canonical form byte for byte.
 *
 * Two processes append to one chain (ketenhubd, and ketenctl for its
 * look-ups), so the tail is read inside the write transaction: SQLite lets
 * one writer at a time, and a chain handle caches the tail only while no
 * other connection has committed (PRAGMA data_version, checked at the first
 * append of each transaction). A stale tail would also be caught by the
 * insert itself: the record's seq is given explicitly, so a second record
 * with the same seq fails the transaction instead of forking the chain.
 *
 * Does not: decide what is audited (the callers), log, or open databases. It
 * works on a bare sqlite3 connection so ketenctl, which does not go through
 * hub/store, appends with the same code.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* Hex digits of a hash, plus the NUL. */
#define AUDIT_HASH_LEN 65

/*
 * One audit record. Strings borrowed for the call; any but action and outcome
 * may be NULL. Never holds personal data: ids, pseudonyms, JSON pointers,
 * keywords, counts. Positional initialisers of the first seven fields keep
 * working; the rest default to NULL.
 */
struct audit_record {
    const char *time;    /* when, RFC 3339 UTC with ms; NULL: now */
    const char *actor;   /* who: partner id, "admin:<user>", "hub" or "unknown" */
    const char *role;    /* the actor's role (partner role, or "admin") */
    const char *action;  /* what: "intake", "referral", "delivery", "lookup", ... */
    const char *object;  /* on what: event id, referral id, "escalation:N", ... */
    const char *outcome; /* how it ended: "accepted", "rejected", "refused", ... */
    const char *detail;  /* JSON text: ids, pointers, keywords, counts */
    const char *subject; /* the person's pseudonym (hex), when the record is about one */
    const char *address; /* from where: a partner's peer address, "admin socket", "local" */
    const char *purpose; /* why; NULL: audit_default_purpose(action) */
};

/* The purpose recorded for `action` when the caller gives none:
 * "ketenzorg" for referral traffic, "beveiliging" for connections,
 * "beheer" for the rest (docs/audit.md lists them). Never NULL. */
const char *audit_default_purpose(const char *action);

/*
 * The canonical content of record `rec` as seq `seq` (purpose already
 * resolved: the caller passes what is stored), as hashed: "ketenhub-audit-v1\n"
 * then, for seq, time, actor, role, action, object, outcome, subject,
 * address, purpose, detail in that order, "-\n" for NULL or
 * "<byte length>:<bytes>\n". Returns a malloc'd buffer (caller frees) and its
 * length in *len, or NULL when out of memory.
 */
char *audit_canonical(int64_t seq, const struct audit_record *rec, size_t *len);

/* hash = lower-case hex SHA-256 of the 64 hex characters of prev_hex followed
 * by the canonical bytes. */
void audit_hash(const char *prev_hex, const char *canon, size_t len, char out[AUDIT_HASH_LEN]);

/* The prev_hash of the first record: 64 zeros. */
extern const char audit_genesis[AUDIT_HASH_LEN];

/* An appender bound to one connection; see the banner for the tail cache. */
struct audit_chain;

/* Prepares the statements on `db` (which must have the audit table of schema
 * version 5). Returns the chain (caller frees), or NULL with err filled. */
struct audit_chain *audit_chain_new(struct sqlite3 *db, char *err, size_t errlen);

/* Finalises the statements (not the connection) and sets *self_p to NULL. */
void audit_chain_free(struct audit_chain **self_p);

/*
 * Appends `rec` as the next record of the chain and sets *seq (may be NULL).
 * Call inside the connection's write transaction (BEGIN IMMEDIATE); outside
 * one, the append runs in a transaction of its own. Returns 0, or -1 (the
 * caller's transaction must then be rolled back; see sqlite3_errmsg).
 */
int audit_chain_append(struct audit_chain *c, const struct audit_record *rec, int64_t *seq);

/* Tells the chain that the connection's transaction ended: committed (1) or
 * rolled back (0). After a rollback the cached tail is dropped. */
void audit_chain_end(struct audit_chain *c, int committed);

/* The last record: its seq (0 when the trail is empty) and hash (the genesis
 * zeros then). Returns 0, or -1 on a database error. */
int audit_head(struct sqlite3 *db, int64_t *seq, char hash[AUDIT_HASH_LEN]);

/* Chains the records that have no hash yet (kept before schema version 5),
 * in seq order from the genesis: for the migration to version 5 only, inside
 * its transaction. Returns 0, or -1 on a database error. */
int audit_seal_unchained(struct sqlite3 *db);

/* The head as log fields for the anchoring line (docs/audit.md):
 * "seq=N hash=H" into out. Returns 0, or -1 on a database error. */
int audit_head_fields(struct sqlite3 *db, char *out, size_t len);

/* What audit_verify found. */
struct audit_verdict {
    int64_t records;                /* records checked */
    int64_t from_seq;               /* the first seq checked (0 when none) */
    int64_t head_seq;               /* the last record's seq, 0 when empty */
    char head_hash[AUDIT_HASH_LEN]; /* its stored hash */
    int64_t bad_seq;                /* 0: intact; else the first record that does not fit */
    const char *kind;               /* "changed", "deleted", "inserted", "reordered", or NULL */
    char what[512];                 /* one sentence for people, naming seqs */
};

/*
 * Walks the chain in seq order: all of it (last_n 0), or the last `last_n`
 * records, starting from the stored hash of the record before them. Returns
 * 0 when intact, 1 when a record does not fit (v->bad_seq, kind, what), -1 on
 * a database error (err filled). Reads only; run it in a read transaction for
 * a consistent snapshot.
 */
int audit_verify(struct sqlite3 *db, int64_t last_n, struct audit_verdict *v, char *err,
                 size_t errlen);

#endif
