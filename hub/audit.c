/*
 * audit - the hash-chained audit trail; see audit.h and docs/audit.md.
 *
 * The canonical form is length-prefixed rather than JSON so that an auditor
 * can rebuild it in a few lines of any language without a JSON canonicaliser,
 * and so that no value (a NUL, a newline, a quote) can make two different
 * records serialise alike.
 */
#include "audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sqlite3.h>

#include "util.h"

#define CANON_HEADER "ketenhub-audit-v1\n"
/* How far from its place audit_verify looks for the seq a moved record was
 * written with (each try is one SHA-256 of a few hundred bytes). */
#define MOVED_SEARCH_MAX 10000000

const char audit_genesis[AUDIT_HASH_LEN] =
    "0000000000000000000000000000000000000000000000000000000000000000";

const char *audit_default_purpose(const char *action)
{
    static const char *const care[] = {"intake", "referral",        "delivery", "escalation",
                                       "alert",  "acknowledgement", "match"};
    if (!action)
        return "beheer";
    for (size_t i = 0; i < sizeof care / sizeof *care; i++)
        if (strcmp(action, care[i]) == 0)
            return "ketenzorg";
    if (strcmp(action, "connect") == 0)
        return "beveiliging";
    return "beheer";
}

/* A growable byte buffer. */
struct buf {
    char *data;
    size_t len, cap;
    int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* One field: "-\n" for NULL, else "<length>:<bytes>\n". */
static void buf_field(struct buf *b, const char *s, size_t n)
{
    if (!s) {
        buf_add(b, "-\n", 2);
        return;
    }
    char len[24];
    int k = snprintf(len, sizeof len, "%zu:", n);
    buf_add(b, len, (size_t)k);
    buf_add(b, s, n);
    buf_add(b, "\n", 1);
}

static void buf_str(struct buf *b, const char *s)
{
    buf_field(b, s, s ? strlen(s) : 0);
}

/* header + the seq field: what changes when only the seq does. */
static void canon_prefix(struct buf *b, int64_t seq)
{
    char text[24];
    int k = snprintf(text, sizeof text, "%" PRId64, seq);
    b->len = 0;
    buf_add(b, CANON_HEADER, sizeof CANON_HEADER - 1);
    buf_field(b, text, (size_t)k);
}

/* Every field after seq, in canonical order. */
static void canon_rest(struct buf *b, const struct audit_record *r)
{
    b->len = 0;
    buf_str(b, r->time);
    buf_str(b, r->actor);
    buf_str(b, r->role);
    buf_str(b, r->action);
    buf_str(b, r->object);
    buf_str(b, r->outcome);
    buf_str(b, r->subject);
    buf_str(b, r->address);
    buf_str(b, r->purpose);
    buf_str(b, r->detail);
}

char *audit_canonical(int64_t seq, const struct audit_record *rec, size_t *len)
{
    struct buf head = {0}, rest = {0};
    canon_prefix(&head, seq);
    canon_rest(&rest, rec);
    buf_add(&head, rest.data ? rest.data : "", rest.len);
    free(rest.data);
    if (head.failed || rest.failed) {
        free(head.data);
        return NULL;
    }
    *len = head.len;
    return head.data;
}

static void hash_parts(const char *prev_hex, const char *a, size_t alen, const char *b, size_t blen,
                       char out[AUDIT_HASH_LEN])
{
    crypto_hash_sha256_state h;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)prev_hex, 64);
    crypto_hash_sha256_update(&h, (const unsigned char *)a, alen);
    if (blen)
        crypto_hash_sha256_update(&h, (const unsigned char *)b, blen);
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(out, AUDIT_HASH_LEN, digest, sizeof digest);
}

void audit_hash(const char *prev_hex, const char *canon, size_t len, char out[AUDIT_HASH_LEN])
{
    hash_parts(prev_hex, canon, len, NULL, 0, out);
}

/* ---- appending ---------------------------------------------------------- */

struct audit_chain {
    sqlite3 *db;
    sqlite3_stmt *tail, *insert, *version;
    int cached; /* tail_seq and tail_hash are the database's last record */
    int64_t tail_seq;
    char tail_hash[AUDIT_HASH_LEN];
    int64_t data_version;
    int checked; /* the tail was checked in the transaction now open */
    struct buf prefix, rest;
};

/* SQLite calls this on every rollback of the connection: the records this
 * chain appended in that transaction are gone, so is the cached tail. */
static void on_rollback(void *arg)
{
    struct audit_chain *c = arg;
    c->cached = 0;
    c->checked = 0;
}

/* And on every commit: the next transaction checks data_version again. */
static int on_commit(void *arg)
{
    struct audit_chain *c = arg;
    c->checked = 0;
    return 0;
}

struct audit_chain *audit_chain_new(sqlite3 *db, char *err, size_t errlen)
{
    struct audit_chain *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->db = db;
    if (sqlite3_prepare_v3(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1,
                           SQLITE_PREPARE_PERSISTENT, &c->tail, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(db,
                           "INSERT INTO audit (seq, time, actor, role, action, object, outcome, "
                           "subject, address, purpose, detail, prev_hash, hash) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                           -1, SQLITE_PREPARE_PERSISTENT, &c->insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT, &c->version,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot prepare the audit chain: %s", sqlite3_errmsg(db));
        audit_chain_free(&c);
        return NULL;
    }
    sqlite3_rollback_hook(db, on_rollback, c);
    sqlite3_commit_hook(db, on_commit, c);
    return c;
}

void audit_chain_free(struct audit_chain **self_p)
{
    struct audit_chain *c = *self_p;
    if (!c)
        return;
    if (c->db && c->insert) {
        sqlite3_rollback_hook(c->db, NULL, NULL);
        sqlite3_commit_hook(c->db, NULL, NULL);
    }
    sqlite3_finalize(c->tail);
    sqlite3_finalize(c->insert);
    sqlite3_finalize(c->version);
    free(c->prefix.data);
    free(c->rest.data);
    free(c);
    *self_p = NULL;
}

static int read_tail(sqlite3_stmt *s, int64_t *seq, char hash[AUDIT_HASH_LEN])
{
    int rc = sqlite3_step(s);
    *seq = 0;
    memcpy(hash, audit_genesis, AUDIT_HASH_LEN);
    if (rc == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(s, 1);
        *seq = sqlite3_column_int64(s, 0);
        /* A tail without a valid hash was tampered with; chain on from
         * zeros so that verify names it rather than this append failing. */
        if (h && strlen((const char *)h) == 64)
            memcpy(hash, h, AUDIT_HASH_LEN);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Makes c->tail_* the database's tail, reading it only when another
 * connection has committed since it was last read (or nothing is cached).
 * Checked once per transaction: while it is open this connection holds the
 * write lock, so nobody else can append. */
static int fresh_tail(struct audit_chain *c)
{
    if (c->checked && c->cached)
        return 0;
    int rc = sqlite3_step(c->version);
    int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(c->version, 0) : -1;
    sqlite3_reset(c->version);
    if (rc != SQLITE_ROW)
        return -1;
    if (c->cached && version == c->data_version) {
        c->checked = 1;
        return 0;
    }
    if (read_tail(c->tail, &c->tail_seq, c->tail_hash) != 0)
        return -1;
    c->data_version = version;
    c->cached = 1;
    c->checked = 1;
    return 0;
}

static void bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static int append_in_tx(struct audit_chain *c, const struct audit_record *in, int64_t *seq_out)
{
    char now[UTIL_TIME_LEN], hash[AUDIT_HASH_LEN];
    struct audit_record r = *in;
    if (!r.time) {
        util_time_now(now);
        r.time = now;
    }
    if (!r.purpose)
        r.purpose = audit_default_purpose(r.action);
    if (fresh_tail(c) != 0)
        return -1;
    int64_t seq = c->tail_seq + 1;
    canon_prefix(&c->prefix, seq);
    canon_rest(&c->rest, &r);
    if (c->prefix.failed || c->rest.failed) {
        c->prefix.failed = c->rest.failed = 0;
        return -1;
    }
    hash_parts(c->tail_hash, c->prefix.data, c->prefix.len, c->rest.data, c->rest.len, hash);
    sqlite3_stmt *s = c->insert;
    sqlite3_bind_int64(s, 1, seq);
    bind_opt(s, 2, r.time);
    bind_opt(s, 3, r.actor);
    bind_opt(s, 4, r.role);
    bind_opt(s, 5, r.action);
    bind_opt(s, 6, r.object);
    bind_opt(s, 7, r.outcome);
    bind_opt(s, 8, r.subject);
    bind_opt(s, 9, r.address);
    bind_opt(s, 10, r.purpose);
    bind_opt(s, 11, r.detail);
    sqlite3_bind_text(s, 12, c->tail_hash, 64, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, hash, 64, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        c->cached = 0;
        return -1;
    }
    c->tail_seq = seq;
    memcpy(c->tail_hash, hash, AUDIT_HASH_LEN);
    if (seq_out)
        *seq_out = seq;
    return 0;
}

int audit_chain_append(struct audit_chain *c, const struct audit_record *rec, int64_t *seq)
{
    if (!sqlite3_get_autocommit(c->db))
        return append_in_tx(c, rec, seq);
    /* No transaction open: one of its own, taking the write lock first so
     * the tail read below is the tail the insert follows. */
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (append_in_tx(c, rec, seq) != 0 ||
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (!sqlite3_get_autocommit(c->db))
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        c->cached = 0;
        return -1;
    }
    return 0;
}

void audit_chain_end(struct audit_chain *c, int committed)
{
    if (c && !committed)
        c->cached = 0;
}

int audit_head(sqlite3 *db, int64_t *seq, char hash[AUDIT_HASH_LEN])
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    int rc = read_tail(s, seq, hash);
    if (rc == 0 && *seq > 0) {
        /* The head as stored, even when it is not a valid hash. */
        sqlite3_reset(s);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const unsigned char *h = sqlite3_column_text(s, 1);
            snprintf(hash, AUDIT_HASH_LEN, "%s", h ? (const char *)h : "");
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- verifying ---------------------------------------------------------- */

#define ROW_COLUMNS                                                                                \
    "seq, time, actor, role, action, object, outcome, subject, address, purpose, detail, "         \
    "prev_hash, hash"

/* One row as read: the seq, both hashes and the canonical rest. */
struct row {
    int64_t seq;
    char prev[AUDIT_HASH_LEN]; /* "" when NULL or not 64 characters */
    char hash[AUDIT_HASH_LEN];
    struct buf rest;
};

static void copy_hash(sqlite3_stmt *s, int col, char out[AUDIT_HASH_LEN])
{
    const unsigned char *t = sqlite3_column_text(s, col);
    if (t && strlen((const char *)t) == 64)
        memcpy(out, t, AUDIT_HASH_LEN);
    else
        out[0] = '\0';
}

static void read_row(sqlite3_stmt *s, struct row *r)
{
    struct audit_record rec = {0};
    const char **f[] = {&rec.time,    &rec.actor,   &rec.role,    &rec.action,  &rec.object,
                        &rec.outcome, &rec.subject, &rec.address, &rec.purpose, &rec.detail};
    r->seq = sqlite3_column_int64(s, 0);
    for (int i = 0; i < 10; i++)
        *f[i] = (const char *)sqlite3_column_text(s, i + 1);
    canon_rest(&r->rest, &rec);
    copy_hash(s, 11, r->prev);
    copy_hash(s, 12, r->hash);
}

/* 1 if row r, written as seq `as_seq` after prev_hex, has hash r->hash. */
static int hashes_as(const struct row *r, const char *prev_hex, int64_t as_seq, struct buf *scratch)
{
    char h[AUDIT_HASH_LEN];
    if (!prev_hex[0] || !r->hash[0])
        return 0;
    canon_prefix(scratch, as_seq);
    hash_parts(prev_hex, scratch->data, scratch->len, r->rest.data, r->rest.len, h);
    return strcmp(h, r->hash) == 0;
}

/* The seq of the record whose hash is `hash`, or 0. */
static int64_t seq_of_hash(sqlite3 *db, const char *hash)
{
    sqlite3_stmt *s = NULL;
    int64_t seq = 0;
    if (!hash[0] || sqlite3_prepare_v2(db, "SELECT seq FROM audit WHERE hash = ?1 LIMIT 1", -1, &s,
                                       NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        seq = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return seq;
}

/* The prev_hash of the first record after `seq` ("" when none), and its seq. */
static int64_t next_prev(sqlite3 *db, int64_t seq, char prev[AUDIT_HASH_LEN])
{
    sqlite3_stmt *s = NULL;
    int64_t next = 0;
    prev[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, prev_hash FROM audit WHERE seq > ?1 ORDER BY seq "
                           "LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(s, 1, seq);
    if (sqlite3_step(s) == SQLITE_ROW) {
        next = sqlite3_column_int64(s, 0);
        copy_hash(s, 1, prev);
    }
    sqlite3_finalize(s);
    return next;
}

/* The seq row r was written with, if not its own: tried outward from its
 * place up to `max_seq`. 0 when none fits. */
static int64_t written_as(const struct row *r, int64_t max_seq, struct buf *scratch)
{
    if (!r->prev[0])
        return 0;
    for (int64_t d = 1; d <= MOVED_SEARCH_MAX; d++) {
        int64_t up = r->seq + d, down = r->seq - d;
        if (up > max_seq && down < 1)
            break;
        if (up <= max_seq && hashes_as(r, r->prev, up, scratch))
            return up;
        if (down >= 1 && hashes_as(r, r->prev, down, scratch))
            return down;
    }
    return 0;
}

/* Names what is wrong with row r, the first that does not fit after the
 * record (prev_seq, prev_hash). */
static void diagnose(sqlite3 *db, const struct row *r, int64_t prev_seq, const char *prev_hash,
                     int64_t max_seq, struct buf *scratch, struct audit_verdict *v)
{
    int self = hashes_as(r, r->prev, r->seq, scratch);
    int linked = r->prev[0] && strcmp(r->prev, prev_hash) == 0;
    char next_prev_hash[AUDIT_HASH_LEN];
    int64_t next = next_prev(db, r->seq, next_prev_hash);
    int next_skips = next && strcmp(next_prev_hash, prev_hash) == 0;
    v->bad_seq = r->seq;
    if (!self) {
        int64_t as = linked ? 0 : written_as(r, max_seq + 1, scratch);
        int64_t pred = as ? seq_of_hash(db, r->prev) : 0;
        if (as && as < r->seq) {
            v->kind = "inserted";
            v->bad_seq = as;
            snprintf(v->what, sizeof v->what,
                     "record %" PRId64 " was inserted: the record now at seq %" PRId64
                     " was written as seq %" PRId64 " and the records from there on renumbered",
                     as, r->seq, as);
        } else if (as && !pred) {
            v->kind = "deleted";
            snprintf(v->what, sizeof v->what,
                     "a record at seq %" PRId64 " was deleted and the records after it renumbered "
                     "(the record now at seq %" PRId64 " was written as seq %" PRId64 ")",
                     r->seq, r->seq, as);
        } else if (as) {
            v->kind = "reordered";
            snprintf(v->what, sizeof v->what,
                     "record %" PRId64 " was moved: it was written as seq %" PRId64
                     ", after record %" PRId64,
                     r->seq, as, pred);
        } else if (next_skips) {
            v->kind = "inserted";
            snprintf(v->what, sizeof v->what,
                     "record %" PRId64 " was inserted: it does not fit its hash, and the record "
                     "after it (seq %" PRId64 ") chains to record %" PRId64,
                     r->seq, next, prev_seq);
        } else {
            v->kind = "changed";
            snprintf(v->what, sizeof v->what,
                     "record %" PRId64 " was changed: its content does not match its hash%s",
                     r->seq, linked ? "" : " nor its place after the record before it");
        }
        return;
    }
    /* Its own hash fits, its link does not. */
    if (next_skips || !next || strcmp(next_prev_hash, r->hash) != 0) {
        v->kind = "inserted";
        snprintf(v->what, sizeof v->what,
                 "record %" PRId64 " does not chain to record %" PRId64
                 ": it was inserted (or record %" PRId64 " was rewritten with a new hash)",
                 r->seq, prev_seq, prev_seq);
    } else {
        v->kind = "changed";
        v->bad_seq = prev_seq;
        snprintf(v->what, sizeof v->what,
                 "record %" PRId64 " was changed and its hash recomputed: record %" PRId64
                 " chains to the hash it had",
                 prev_seq, r->seq);
    }
}

int audit_verify(sqlite3 *db, int64_t last_n, struct audit_verdict *v, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    struct row r = {0};
    struct buf scratch = {0};
    int64_t prev_seq = 0, max_seq = 0;
    char prev_hash[AUDIT_HASH_LEN];
    int rc = -1;
    memset(v, 0, sizeof *v);
    memcpy(prev_hash, audit_genesis, AUDIT_HASH_LEN);
    if (audit_head(db, &v->head_seq, v->head_hash) != 0)
        goto dberr;
    max_seq = v->head_seq;
    if (last_n > 0) {
        /* Start after the record before the window, trusting its hash. */
        sqlite3_stmt *a = NULL;
        if (sqlite3_prepare_v2(db,
                               "SELECT seq, hash FROM audit WHERE seq <= ?1 ORDER BY seq DESC "
                               "LIMIT 1",
                               -1, &a, NULL) != SQLITE_OK)
            goto dberr;
        sqlite3_bind_int64(a, 1, max_seq - last_n);
        if (max_seq - last_n > 0 && sqlite3_step(a) == SQLITE_ROW) {
            prev_seq = sqlite3_column_int64(a, 0);
            copy_hash(a, 1, prev_hash);
        }
        sqlite3_finalize(a);
    }
    if (sqlite3_prepare_v2(db, "SELECT " ROW_COLUMNS " FROM audit WHERE seq > ?1 ORDER BY seq", -1,
                           &s, NULL) != SQLITE_OK)
        goto dberr;
    sqlite3_bind_int64(s, 1, prev_seq);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        read_row(s, &r);
        if (r.rest.failed || scratch.failed) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (!v->from_seq)
            v->from_seq = r.seq;
        v->records++;
        if (r.seq > prev_seq + 1) {
            v->bad_seq = prev_seq + 1;
            v->kind = "deleted";
            if (r.seq == prev_seq + 2)
                snprintf(v->what, sizeof v->what, "record %" PRId64 " is missing (deleted)",
                         prev_seq + 1);
            else
                snprintf(v->what, sizeof v->what,
                         "records %" PRId64 " to %" PRId64 " are missing (deleted)", prev_seq + 1,
                         r.seq - 1);
            rc = 1;
            goto done;
        }
        if (strcmp(r.prev, prev_hash) != 0 || !hashes_as(&r, prev_hash, r.seq, &scratch)) {
            diagnose(db, &r, prev_seq, prev_hash, max_seq, &scratch, v);
            rc = 1;
            goto done;
        }
        prev_seq = r.seq;
        memcpy(prev_hash, r.hash, AUDIT_HASH_LEN);
    }
    if (step != SQLITE_DONE)
        goto dberr;
    rc = 0;
    goto done;
dberr:
    snprintf(err, errlen, "cannot read the audit trail: %s", sqlite3_errmsg(db));
done:
    sqlite3_finalize(s);
    free(r.rest.data);
    free(scratch.data);
    return rc;
}

int audit_seal_unchained(sqlite3 *db)
{
    sqlite3_stmt *next = NULL, *set = NULL;
    struct row r = {0};
    struct buf prefix = {0};
    char prev[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN];
    int rc = -1, step;
    int64_t seq = 0;
    memcpy(prev, audit_genesis, AUDIT_HASH_LEN);
    /* One row per query: the rows are updated as they are read. */
    if (sqlite3_prepare_v2(db,
                           "SELECT " ROW_COLUMNS " FROM audit WHERE seq > ?1 AND hash IS NULL "
                           "ORDER BY seq LIMIT 1",
                           -1, &next, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", -1,
                           &set, NULL) != SQLITE_OK)
        goto done;
    for (;;) {
        sqlite3_bind_int64(next, 1, seq);
        step = sqlite3_step(next);
        if (step != SQLITE_ROW)
            break;
        read_row(next, &r);
        sqlite3_reset(next);
        canon_prefix(&prefix, r.seq);
        if (r.rest.failed || prefix.failed)
            goto done;
        hash_parts(prev, prefix.data, prefix.len, r.rest.data, r.rest.len, hash);
        sqlite3_bind_text(set, 1, prev, 64, SQLITE_STATIC);
        sqlite3_bind_text(set, 2, hash, 64, SQLITE_STATIC);
        sqlite3_bind_int64(set, 3, r.seq);
        if (sqlite3_step(set) != SQLITE_DONE)
            goto done;
        sqlite3_reset(set);
        memcpy(prev, hash, AUDIT_HASH_LEN);
        seq = r.seq;
    }
    rc = step == SQLITE_DONE ? 0 : -1;
done:
    sqlite3_finalize(next);
    sqlite3_finalize(set);
    free(r.rest.data);
    free(prefix.data);
    return rc;
}

int audit_head_fields(sqlite3 *db, char *out, size_t len)
{
    int64_t seq;
    char hash[AUDIT_HASH_LEN];
    if (audit_head(db, &seq, hash) != 0)
        return -1;
    snprintf(out, len, "seq=%" PRId64 " hash=%s", seq, hash);
    return 0;
}
