/*
 * test_audit - the audit chain: canonical form and hash (against vectors
 * computed with Python's hashlib, an independent implementation), appends
 * through the store and from a second connection, the tail cache across a
 * rollback, verify of a whole chain and of its tail, and every kind of
 * tampering: changed, deleted, inserted, reordered, rewritten.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "audit.h"
#include "check.h"
#include "store.h"
#include "testutil.h"

static char dir[128];
static int dbn;

static const struct audit_record first = {"2026-11-29T08:00:00.000Z",
                                          "police-1",
                                          "police",
                                          "intake",
                                          "e1",
                                          "accepted",
                                          "{\"seq\":1}",
                                          NULL,
                                          "127.0.0.1",
                                          "ketenzorg"};

static void canonical_form_is_length_prefixed_with_dashes_for_null(void)
{
    size_t len = 0;
    char *c = audit_canonical(1, &first, &len);
    const char *want = "ketenhub-audit-v1\n1:1\n24:2026-11-29T08:00:00.000Z\n8:police-1\n"
                       "6:police\n6:intake\n2:e1\n8:accepted\n-\n9:127.0.0.1\n9:ketenzorg\n"
                       "9:{\"seq\":1}\n";
    CHECK_STR(c, want);
    CHECK_INT(len, strlen(want));
    free(c);
    /* Lengths are bytes, not characters: "Zoë" is 4. */
    struct audit_record r = {"t",     "a",  NULL, "lookup", "Zo\xc3\xab",
                             "shown", NULL, NULL, NULL,     NULL};
    c = audit_canonical(12, &r, &len);
    CHECK_STR(
        c, "ketenhub-audit-v1\n2:12\n1:t\n1:a\n-\n6:lookup\n4:Zo\xc3\xab\n5:shown\n-\n-\n-\n-\n");
    free(c);
}

static void hash_matches_an_independent_implementation(void)
{
    size_t len = 0;
    char h1[AUDIT_HASH_LEN], h2[AUDIT_HASH_LEN];
    char *c = audit_canonical(1, &first, &len);
    audit_hash(audit_genesis, c, len, h1);
    free(c);
    CHECK_STR(h1, "00ef92628593ae92ca10056a7b44fa5668f7572f1a0d9155c110689f7804b156");
    struct audit_record r = {"2026-11-29T08:00:01.000Z",
                             "admin:jdevries",
                             "admin",
                             "lookup",
                             "Zo\xc3\xab",
                             "shown",
                             NULL,
                             NULL,
                             "local",
                             "beheer"};
    c = audit_canonical(2, &r, &len);
    audit_hash(h1, c, len, h2);
    free(c);
    CHECK_STR(h2, "57610728f21cdd461f6660b0e778dc78ba880c8e1d27833fb25843a8f15a8922");
}

static void default_purposes_follow_the_action(void)
{
    CHECK_STR(audit_default_purpose("intake"), "ketenzorg");
    CHECK_STR(audit_default_purpose("escalation"), "ketenzorg");
    CHECK_STR(audit_default_purpose("connect"), "beveiliging");
    CHECK_STR(audit_default_purpose("replay"), "beheer");
    CHECK_STR(audit_default_purpose(NULL), "beheer");
}

/* A store at a fresh path with n records (some in a transaction, some on
 * their own); the path goes to out. */
static void make_chain(int n, char *out, size_t len)
{
    char err[256];
    snprintf(out, len, "%s/c%d.db", dir, ++dbn);
    struct store *st = store_open(out, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_INT(store_begin(st), 0);
    for (int i = 1; i <= n; i++) {
        char object[32], detail[32];
        snprintf(object, sizeof object, "event-%d", i);
        snprintf(detail, sizeof detail, "{\"seq\":%d}", i);
        struct audit_record r = {NULL,       "police-1", "police", "intake",    object,
                                 "accepted", detail,     NULL,     "127.0.0.1", NULL};
        if (i == n / 2) { /* half in one transaction, the rest each on its own */
            CHECK_INT(store_commit(st), 0);
        }
        CHECK_INT(store_audit(st, &r), 0);
    }
    if (sqlite3_get_autocommit(store_sqlite(st)) == 0)
        CHECK_INT(store_commit(st), 0);
    store_close(&st);
}

static sqlite3 *raw(const char *path)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "SQL failed: %s: %s\n", sql, msg ? msg : "?");
        check_failed_asserts++;
    }
    sqlite3_free(msg);
}

/* Verifies the whole chain at path; returns the verdict's rc. */
static int verify(const char *path, int64_t last_n, struct audit_verdict *v)
{
    char err[256] = "";
    sqlite3 *db = raw(path);
    int rc = audit_verify(db, last_n, v, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "verify: %s\n", err);
    sqlite3_close(db);
    return rc;
}

static void appended_records_chain_and_verify_intact(void)
{
    char path[256];
    struct audit_verdict v;
    make_chain(20, path, sizeof path);
    CHECK_INT(verify(path, 0, &v), 0);
    CHECK_INT(v.records, 20);
    CHECK_INT(v.head_seq, 20);
    CHECK_INT(v.bad_seq, 0);
    sqlite3 *db = raw(path);
    int64_t seq;
    char head[AUDIT_HASH_LEN], fields[128];
    CHECK_INT(audit_head(db, &seq, head), 0);
    CHECK_INT(seq, 20);
    CHECK_STR(head, v.head_hash);
    CHECK_INT(audit_head_fields(db, fields, sizeof fields), 0);
    CHECK(strncmp(fields, "seq=20 hash=", 12) == 0 && strcmp(fields + 12, head) == 0);
    /* Each record's prev_hash is the hash of the one before; the first's is zeros. */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db,
                       "SELECT count(*) FROM audit a JOIN audit b ON b.seq = a.seq + 1 "
                       "WHERE b.prev_hash = a.hash",
                       -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(s, 0), 19);
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "SELECT prev_hash, purpose FROM audit WHERE seq = 1", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(s, 0), audit_genesis);
    CHECK_STR((const char *)sqlite3_column_text(s, 1), "ketenzorg");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void a_rollback_drops_the_cached_tail(void)
{
    char path[256], err[256];
    struct audit_verdict v;
    snprintf(path, sizeof path, "%s/rb.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct audit_record r = {NULL, "hub", NULL, "referral", "x", "created", NULL, NULL, NULL, NULL};
    CHECK_INT(store_audit(st, &r), 0);
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_audit(st, &r), 0);
    CHECK_INT(store_audit(st, &r), 0);
    store_rollback(st);
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_audit(st, &r), 0); /* seq 2 again, after record 1's hash */
    CHECK_INT(store_commit(st), 0);
    store_close(&st);
    CHECK_INT(verify(path, 0, &v), 0);
    CHECK_INT(v.records, 2);
}

static void another_connection_appending_is_seen_by_the_cached_tail(void)
{
    char path[256], err[256];
    struct audit_verdict v;
    snprintf(path, sizeof path, "%s/two.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    sqlite3 *other = raw(path);
    sqlite3_busy_timeout(other, 5000);
    struct audit_chain *c = audit_chain_new(other, err, sizeof err);
    CHECK(c != NULL);
    struct audit_record hub = {NULL,      "hub", NULL, "referral", "h",
                               "created", NULL,  NULL, NULL,       NULL};
    struct audit_record ctl = {NULL,    "admin:test", "admin", "lookup", "status",
                               "shown", NULL,         NULL,    "local",  "beheer"};
    for (int i = 0; i < 5; i++) {
        /* The hub's tail is cached between these; the other process's
         * commits must make it read the tail again. */
        CHECK_INT(store_begin(st), 0);
        CHECK_INT(store_audit(st, &hub), 0);
        CHECK_INT(store_audit(st, &hub), 0);
        CHECK_INT(store_commit(st), 0);
        exec(other, "BEGIN IMMEDIATE");
        CHECK_INT(audit_chain_append(c, &ctl, NULL), 0);
        exec(other, "COMMIT");
        CHECK_INT(audit_chain_append(c, &ctl, NULL), 0); /* a transaction of its own */
    }
    audit_chain_free(&c);
    sqlite3_close(other);
    store_close(&st);
    CHECK_INT(verify(path, 0, &v), 0);
    CHECK_INT(v.records, 20);
    CHECK_INT(v.head_seq, 20);
}

/* Makes a chain of 10, applies `sql`, verifies: expects a break at `seq` of `kind`. */
static void tamper(const char *sql, int64_t seq, const char *kind, int line)
{
    char path[256];
    struct audit_verdict v;
    make_chain(10, path, sizeof path);
    sqlite3 *db = raw(path);
    exec(db, sql);
    sqlite3_close(db);
    int rc = verify(path, 0, &v);
    if (rc != 1 || v.bad_seq != seq || !v.kind || strcmp(v.kind, kind) != 0) {
        fprintf(stderr,
                "line %d: after %s: rc %d, bad_seq %" PRId64 ", kind %s (%s); "
                "expected %" PRId64 " %s\n",
                line, sql, rc, v.bad_seq, v.kind ? v.kind : "-", v.what, seq, kind);
        check_failed_asserts++;
    }
}

/* Moves records >= k one seq up, leaving k free. */
#define MAKE_ROOM(k)                                                                               \
    "UPDATE audit SET seq = seq + 1000 WHERE seq >= " #k ";"                                       \
    "UPDATE audit SET seq = seq - 999 WHERE seq >= 1000;"

static void every_kind_of_tampering_is_named_at_its_record(void)
{
    tamper("UPDATE audit SET outcome = 'rejected' WHERE seq = 4", 4, "changed", __LINE__);
    tamper("UPDATE audit SET time = '2026-11-29T07:00:00.000Z' WHERE seq = 10", 10, "changed",
           __LINE__);
    tamper("UPDATE audit SET hash = NULL WHERE seq = 6", 6, "changed", __LINE__);
    tamper("UPDATE audit SET purpose = NULL WHERE seq = 1", 1, "changed", __LINE__);
    tamper("DELETE FROM audit WHERE seq = 5", 5, "deleted", __LINE__);
    tamper("DELETE FROM audit WHERE seq IN (3, 4, 5)", 3, "deleted", __LINE__);
    tamper("DELETE FROM audit WHERE seq = 1", 1, "deleted", __LINE__);
    /* Deleted, and the later records renumbered to hide the gap. */
    tamper("DELETE FROM audit WHERE seq = 5; UPDATE audit SET seq = seq - 1 WHERE seq > 5", 5,
           "deleted", __LINE__);
    /* A forged record slipped in at 6 (the rest moved up), chained to 5 but
     * with a made-up hash. */
    tamper(MAKE_ROOM(6) "INSERT INTO audit (seq, time, actor, role, action, object, outcome, "
                        "purpose, prev_hash, hash) SELECT 6, time, 'police-1', 'police', "
                        "'intake', 'forged', 'accepted', 'ketenzorg', hash, "
                        "'1111111111111111111111111111111111111111111111111111111111111111' "
                        "FROM audit WHERE seq = 5",
           6, "inserted", __LINE__);
    /* Two records swapped (their seqs exchanged). */
    tamper("UPDATE audit SET seq = 100 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4;"
           "UPDATE audit SET seq = 4 WHERE seq = 100",
           3, "reordered", __LINE__);
    tamper("UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 8;"
           "UPDATE audit SET seq = 8 WHERE seq = 100",
           2, "reordered", __LINE__);
}

/* A forger who knows the algorithm and recomputes the hash of the record he
 * inserts (or changes) is still named: the record after it does not fit. */
static void a_forgery_with_a_correct_hash_is_named_by_its_successor(void)
{
    char path[256], err[256];
    struct audit_verdict v;
    make_chain(8, path, sizeof path);
    sqlite3 *db = raw(path);
    exec(db, MAKE_ROOM(4));
    /* The forged record 4, hashed correctly after record 3. */
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = 3", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    char prev[AUDIT_HASH_LEN], hash[AUDIT_HASH_LEN], sql[1024];
    snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    struct audit_record forged = {"2026-11-29T09:00:00.000Z",
                                  "admin:mallory",
                                  "admin",
                                  "lookup",
                                  "x",
                                  "shown",
                                  NULL,
                                  NULL,
                                  "local",
                                  "beheer"};
    size_t len;
    char *c = audit_canonical(4, &forged, &len);
    audit_hash(prev, c, len, hash);
    free(c);
    snprintf(sql, sizeof sql,
             "INSERT INTO audit (seq, time, actor, role, action, object, outcome, address, "
             "purpose, prev_hash, hash) VALUES (4, '%s', '%s', '%s', '%s', '%s', '%s', '%s', "
             "'%s', '%s', '%s')",
             forged.time, forged.actor, forged.role, forged.action, forged.object, forged.outcome,
             forged.address, forged.purpose, prev, hash);
    exec(db, sql);
    sqlite3_close(db);
    CHECK_INT(verify(path, 0, &v), 1);
    CHECK_INT(v.bad_seq, 4);
    CHECK_STR(v.kind, "inserted");
    /* A record changed and re-hashed: named at itself, by the next one. */
    make_chain(8, path, sizeof path);
    db = raw(path);
    sqlite3_prepare_v2(db, "SELECT prev_hash FROM audit WHERE seq = 5", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    struct audit_record changed = {"2026-11-29T09:00:00.000Z",
                                   "police-1",
                                   "police",
                                   "intake",
                                   "event-5",
                                   "rejected",
                                   "{\"seq\":5}",
                                   NULL,
                                   "127.0.0.1",
                                   "ketenzorg"};
    c = audit_canonical(5, &changed, &len);
    audit_hash(prev, c, len, hash);
    free(c);
    snprintf(sql, sizeof sql,
             "UPDATE audit SET time = '%s', outcome = 'rejected', hash = '%s' WHERE seq = 5",
             changed.time, hash);
    exec(db, sql);
    sqlite3_close(db);
    CHECK_INT(verify(path, 0, &v), 1);
    CHECK_INT(v.bad_seq, 5);
    CHECK_STR(v.kind, "changed");
    (void)err;
}

static void verifying_the_tail_checks_only_the_last_records(void)
{
    char path[256];
    struct audit_verdict v;
    make_chain(30, path, sizeof path);
    sqlite3 *db = raw(path);
    exec(db, "UPDATE audit SET outcome = 'x' WHERE seq = 5");
    sqlite3_close(db);
    CHECK_INT(verify(path, 10, &v), 0); /* records 21-30: intact */
    CHECK_INT(v.records, 10);
    CHECK_INT(v.from_seq, 21);
    CHECK_INT(verify(path, 26, &v), 1); /* 5-30: not */
    CHECK_INT(v.bad_seq, 5);
    CHECK_INT(verify(path, 1000, &v), 1);
    CHECK_INT(v.bad_seq, 5);
}

static void records_kept_before_the_chain_are_sealed_once(void)
{
    char path[256];
    struct audit_verdict v;
    make_chain(6, path, sizeof path);
    sqlite3 *db = raw(path);
    /* As a version 4 database would be after the columns were added. */
    exec(db, "UPDATE audit SET prev_hash = NULL, hash = NULL");
    CHECK_INT(audit_seal_unchained(db), 0);
    sqlite3_close(db);
    CHECK_INT(verify(path, 0, &v), 0);
    CHECK_INT(v.records, 6);
}

/* A version 4 database with audit rows: the migration to 5 gives them their
 * purposes and chains them, in its own transaction. */
static void migrating_to_version_5_chains_the_records_kept_before(void)
{
    char path[256], err[256];
    struct audit_verdict v;
    snprintf(path, sizeof path, "%s/v4.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    store_close(&st);
    sqlite3 *db = raw(path);
    /* Back to version 4: what version 5 added goes. */
    exec(db, "ALTER TABLE audit DROP COLUMN subject; ALTER TABLE audit DROP COLUMN address;"
             "ALTER TABLE audit DROP COLUMN purpose; ALTER TABLE audit DROP COLUMN prev_hash;"
             "ALTER TABLE audit DROP COLUMN hash; DROP INDEX events_unpurged_signals;"
             "ALTER TABLE events DROP COLUMN purged; ALTER TABLE deliveries DROP COLUMN purged;"
             "DROP TABLE pseudonyms; DROP TABLE IF EXISTS matches; PRAGMA user_version = 4;"
             "INSERT INTO audit (time, actor, action, object, outcome) VALUES "
             "('2026-01-01T00:00:00.000Z', 'police-1', 'intake', 'e1', 'accepted'),"
             "('2026-01-01T00:00:01.000Z', 'unknown', 'connect', 'k', 'refused'),"
             "('2026-01-01T00:00:02.000Z', 'admin:jan', 'replay', 'd1', 'requeued');");
    sqlite3_close(db);
    st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    struct audit_record r = {.actor = "hub", .action = "referral", .outcome = "created"};
    CHECK_INT(store_audit(st, &r), 0); /* appended after the old ones */
    store_close(&st);
    CHECK_INT(verify(path, 0, &v), 0);
    CHECK_INT(v.records, 4);
    db = raw(path);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db,
                       "SELECT group_concat(purpose, ',') FROM (SELECT purpose FROM audit "
                       "ORDER BY seq)",
                       -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(s, 0), "ketenzorg,beveiliging,beheer,ketenzorg");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

int main(void)
{
    tu_tempdir(dir, sizeof dir);
    RUN(canonical_form_is_length_prefixed_with_dashes_for_null);
    RUN(hash_matches_an_independent_implementation);
    RUN(default_purposes_follow_the_action);
    RUN(appended_records_chain_and_verify_intact);
    RUN(a_rollback_drops_the_cached_tail);
    RUN(another_connection_appending_is_seen_by_the_cached_tail);
    RUN(every_kind_of_tampering_is_named_at_its_record);
    RUN(a_forgery_with_a_correct_hash_is_named_by_its_successor);
    RUN(verifying_the_tail_checks_only_the_last_records);
    RUN(records_kept_before_the_chain_are_sealed_once);
    RUN(migrating_to_version_5_chains_the_records_kept_before);
    tu_rmdir(dir);
    return CHECK_DONE();
}
