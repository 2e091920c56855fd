/*
 * test_seal - encryption at rest: the sealed format, wrong keys, moved and
 * changed values; and the store's side: values sealed in the file, a
 * version-4 database with clear text sealed at first open (idempotent), a
 * database under another key refused with both key ids, rekey in one
 * transaction, the writer's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sodium.h>

#include "check.h"
#include "seal.h"
#include "store.h"
#include "testutil.h"
#include "util.h"

#define CANARY "CANARY-7f3a-omschrijving-in-clear"

static char dir[128];

/* memmem, which C11 does not have. */
static const void *find(const void *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp((const char *)hay + i, needle, m) == 0)
            return (const char *)hay + i;
    return NULL;
}

static void key_from(struct seal_key *k, uint8_t fill)
{
    uint8_t secret[SEAL_SECRET_BYTES];
    memset(secret, fill, sizeof secret);
    seal_key_init(k, secret);
}

static void a_sealed_value_opens_only_in_its_own_row(void)
{
    struct seal_key k;
    key_from(&k, 1);
    const char *plain = "{\"omschrijving\":\"" CANARY "\"}";
    size_t n = strlen(plain);
    uint8_t a[256], b[256];
    char out[256];
    size_t len = 0;
    char err[200] = "";
    CHECK_INT(seal_encrypt(&k, SEAL_AD_EVENT("p1", "urn:s", "id-1"), SEAL_AD_EVENT_N, plain, n, a),
              0);
    CHECK_INT(seal_encrypt(&k, SEAL_AD_EVENT("p1", "urn:s", "id-1"), SEAL_AD_EVENT_N, plain, n, b),
              0);
    CHECK(memcmp(a, "khs1", 4) == 0);
    CHECK(memcmp(a + 4, k.id, SEAL_KEY_ID_BYTES) == 0);
    CHECK(memcmp(a, b, seal_size(n)) != 0); /* a fresh nonce each time */
    CHECK(find(a, seal_size(n), "CANARY", 6) == NULL);
    CHECK_INT(seal_decrypt(&k, SEAL_AD_EVENT("p1", "urn:s", "id-1"), SEAL_AD_EVENT_N, a,
                           seal_size(n), out, &len, err, sizeof err),
              SEAL_OK);
    CHECK_INT(len, n);
    CHECK_STR(out, plain);
    /* Another row: another id, partner or table. */
    CHECK_INT(seal_decrypt(&k, SEAL_AD_EVENT("p1", "urn:s", "id-2"), SEAL_AD_EVENT_N, a,
                           seal_size(n), out, &len, err, sizeof err),
              SEAL_FORGED);
    CHECK(strstr(err, "copied from another row") != NULL);
    CHECK_INT(seal_decrypt(&k, SEAL_AD_EVENT("p2", "urn:s", "id-1"), SEAL_AD_EVENT_N, a,
                           seal_size(n), out, &len, err, sizeof err),
              SEAL_FORGED);
    CHECK_INT(seal_decrypt(&k, SEAL_AD_DELIVERY("id-1"), SEAL_AD_DELIVERY_N, a, seal_size(n), out,
                           &len, err, sizeof err),
              SEAL_FORGED);
    /* "p1" + "urn:s" must not read as "p1u" + "rn:s": the parts are NUL-separated. */
    CHECK_INT(seal_decrypt(&k, SEAL_AD_EVENT("p1u", "rn:s", "id-1"), SEAL_AD_EVENT_N, a,
                           seal_size(n), out, &len, err, sizeof err),
              SEAL_FORGED);
}

static void a_changed_value_or_header_is_refused_by_name(void)
{
    struct seal_key k, other;
    key_from(&k, 1);
    key_from(&other, 2);
    uint8_t v[128];
    char out[128], err[200] = "";
    size_t len = 0;
    CHECK_INT(seal_encrypt(&k, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, "hello", 5, v), 0);
    size_t n = seal_size(5);
    v[SEAL_HEADER_BYTES] ^= 1; /* ciphertext */
    CHECK_INT(seal_decrypt(&k, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, v, n, out, &len, err,
                           sizeof err),
              SEAL_FORGED);
    v[SEAL_HEADER_BYTES] ^= 1;
    v[12] ^= 1; /* nonce */
    CHECK_INT(seal_decrypt(&k, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, v, n, out, &len, err,
                           sizeof err),
              SEAL_FORGED);
    v[12] ^= 1;
    /* Opened with another key: named before anything is decrypted. */
    CHECK_INT(seal_decrypt(&other, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, v, n, out, &len, err,
                           sizeof err),
              SEAL_OTHER_KEY);
    char want[200];
    snprintf(want, sizeof want, "encrypted under key id %s; the configured key is %s", k.id_hex,
             other.id_hex);
    CHECK_STR(err, want);
    /* The magic, and too short a value. */
    CHECK_INT(seal_decrypt(&k, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, v, n - 1 - 5, out, &len,
                           err, sizeof err),
              SEAL_NOT_SEALED);
    v[0] = '{';
    CHECK_INT(seal_decrypt(&k, SEAL_AD_DELIVERY("e1"), SEAL_AD_DELIVERY_N, v, n, out, &len, err,
                           sizeof err),
              SEAL_NOT_SEALED);
    char id[SEAL_KEY_ID_HEX];
    CHECK_INT(seal_key_id_of(v, n, id), -1);
    CHECK_STR(id, "-");
}

static void key_ids_are_stable_and_differ_per_key(void)
{
    struct seal_key a, a2, b;
    key_from(&a, 7);
    key_from(&a2, 7);
    key_from(&b, 8);
    CHECK_STR(a.id_hex, a2.id_hex);
    CHECK(strcmp(a.id_hex, b.id_hex) != 0);
    CHECK_INT(strlen(a.id_hex), 16);
    /* The id is not the key, nor its first bytes. */
    uint8_t secret[SEAL_SECRET_BYTES];
    memset(secret, 7, sizeof secret);
    CHECK(memcmp(a.id, secret, SEAL_KEY_ID_BYTES) != 0);
    CHECK(memcmp(a.id, a.key, SEAL_KEY_ID_BYTES) != 0);
    /* A long row name (beyond the stack buffer) works. */
    char longid[2000];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    uint8_t v[64];
    char out[64];
    size_t len;
    CHECK_INT(seal_encrypt(&a, SEAL_AD_DELIVERY(longid), SEAL_AD_DELIVERY_N, "x", 1, v), 0);
    CHECK_INT(seal_decrypt(&a, SEAL_AD_DELIVERY(longid), SEAL_AD_DELIVERY_N, v, seal_size(1), out,
                           &len, NULL, 0),
              SEAL_OK);
}

/* 1 if the file at `path` contains `needle`. */
static int file_has(const char *path, const char *needle)
{
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char *buf = malloc(64 << 20);
    if (buf)
        len = fread(buf, 1, 64 << 20, f);
    fclose(f);
    int has = buf && find(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return has;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    return rc;
}

static char *slurp(const char *path)
{
    size_t len = 0;
    char err[256];
    return util_read_file(path, 1 << 20, &len, err, sizeof err);
}

/* A database as a hub before version 5 left it: clear-text bodies. */
static void make_v4(const char *path)
{
    sqlite3 *db;
    char *ddl = slurp("tests/data/store_v4.sql");
    CHECK(ddl != NULL);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK_INT(exec(db, "PRAGMA journal_mode=WAL"), SQLITE_OK);
    CHECK_INT(exec(db, ddl ? ddl : ""), SQLITE_OK);
    CHECK_INT(exec(db,
                   "INSERT INTO events (partner, source, id, type, time, received, body) VALUES "
                   "('police-1', 'urn:s', 'ev-1', "
                   "'nl.mensenhandel.signalen.signaal-geregistreerd', NULL, "
                   "'2026-01-01T00:00:00.000Z', '{\"omschrijving\":\"" CANARY "-1\"}'),"
                   "('police-1', 'urn:s', 'ev-2', "
                   "'nl.mensenhandel.signalen.signaal-geregistreerd', NULL, "
                   "'2026-01-01T00:00:01.000Z', '{\"omschrijving\":\"" CANARY "-2\"}');"
                   "INSERT INTO event_keys (seq, key_hash) VALUES (1, 11), (2, 22);"
                   "INSERT INTO deliveries (event_id, referral, partner, state, created, "
                   "payload) VALUES ('off-1', 'ref-1', 'gemeente-1', 'pending', "
                   "'2026-01-01T00:00:00.000Z', '{\"signaal\":\"" CANARY "-3\"}');"
                   "INSERT INTO escalations (id, referral, deadline, due_ms, policy, partner, "
                   "state, base_ms, level, created, updated, acked, acked_by, ack_note) "
                   "VALUES (5, 'ref-1', 'receipt', 0, 'p', 'gemeente-1', 'acknowledged', 0, "
                   "0, 'x', 'x', 'x', 'anna', 'called " CANARY "-4');"
                   "PRAGMA user_version = 4;"),
              SQLITE_OK);
    sqlite3_close(db);
    free(ddl);
}

static void collect(void *arg, const struct store_delivery *d)
{
    snprintf(arg, 256, "%.*s", (int)d->payload_len, d->payload);
}

static void a_version_4_database_is_sealed_at_first_open(void)
{
    char path[256], wal[300], err[512], got[256] = "";
    snprintf(path, sizeof path, "%s/v4.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    make_v4(path);
    CHECK(file_has(path, CANARY) || file_has(wal, CANARY)); /* the test means something */
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    size_t len = 0;
    char *body = store_event_body(st, 2, &len);
    CHECK_STR(body, "{\"omschrijving\":\"" CANARY "-2\"}");
    free(body);
    CHECK_INT(store_pending_deliveries(st, "gemeente-1", 0, 10, collect, got), 1);
    CHECK_STR(got, "{\"signaal\":\"" CANARY "-3\"}");
    char id[SEAL_KEY_ID_HEX];
    CHECK_INT(store_key_id(st, id), 0);
    CHECK_STR(id, tu_seal_key()->id_hex);
    struct store_seal_counts counts;
    CHECK_INT(store_seal_check(st, &counts, err, sizeof err), 0);
    CHECK_INT(counts.events, 2);
    CHECK_INT(counts.deliveries, 1);
    CHECK_INT(counts.notes, 1);
    /* The officer's note opens under its escalation's id. */
    sqlite3_stmt *ns;
    sqlite3_prepare_v2(store_sqlite(st), "SELECT ack_note FROM escalations WHERE id = 5", -1, &ns,
                       NULL);
    CHECK(sqlite3_step(ns) == SQLITE_ROW);
    char note[128] = "";
    size_t note_len = 0;
    CHECK_INT(seal_decrypt(tu_seal_key(), SEAL_AD_NOTE("5"), SEAL_AD_NOTE_N,
                           sqlite3_column_blob(ns, 0), (size_t)sqlite3_column_bytes(ns, 0), note,
                           &note_len, NULL, 0),
              SEAL_OK);
    CHECK_STR(note, "called " CANARY "-4");
    sqlite3_finalize(ns);
    store_close(&st);
    CHECK(!file_has(path, CANARY));
    CHECK(!file_has(wal, CANARY));
    /* Opening again changes nothing (no value is sealed twice). */
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT body FROM events WHERE seq = 1", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    uint8_t *before = malloc(n);
    memcpy(before, sqlite3_column_blob(s, 0), n);
    CHECK_INT(sqlite3_column_type(s, 0), SQLITE_BLOB);
    sqlite3_finalize(s);
    sqlite3_close(db);
    st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    store_close(&st);
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "SELECT body FROM events WHERE seq = 1", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK(sqlite3_column_bytes(s, 0) == (int)n &&
          memcmp(sqlite3_column_blob(s, 0), before, n) == 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    free(before);
}

static void another_key_is_refused_naming_both_key_ids(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/other.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    store_close(&st);
    struct seal_key other;
    key_from(&other, 99);
    st = store_open(path, &other, err, sizeof err);
    CHECK(st == NULL);
    char want[200];
    snprintf(want, sizeof want, "encrypted under key id %s; the configured key is %s",
             tu_seal_key()->id_hex, other.id_hex);
    CHECK(strstr(err, want) != NULL);
    store_close(&st);
}

static void swapped_or_changed_rows_do_not_open(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/swap.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    int64_t seq;
    struct store_event a = {"police-1",      "urn:s", "A",  "t", NULL, "2026-01-01T00:00:00.000Z",
                            "{\"x\":\"a\"}", 9,       NULL, 0};
    struct store_event b = {"police-1",      "urn:s", "B",  "t", NULL, "2026-01-01T00:00:00.000Z",
                            "{\"x\":\"b\"}", 9,       NULL, 0};
    CHECK_INT(store_put_event(st, &a, &seq), STORE_NEW);
    CHECK_INT(store_put_event(st, &b, &seq), STORE_NEW);
    /* Someone with write access to the file moves B's body into A's row. */
    CHECK_INT(
        exec(store_sqlite(st),
             "UPDATE events SET body = (SELECT body FROM events WHERE seq = 2) WHERE seq = 1"),
        SQLITE_OK);
    char *body = NULL;
    CHECK_INT(store_event_read(st, 1, &body, NULL), -1);
    CHECK(body == NULL);
    CHECK(strstr(store_errmsg(st), "events seq 1: does not verify") != NULL);
    CHECK_INT(store_event_read(st, 2, &body, NULL), 1);
    CHECK_STR(body, "{\"x\":\"b\"}");
    free(body);
    /* A purged body reads as gone, not as an error. */
    CHECK_INT(
        exec(store_sqlite(st),
             "UPDATE events SET body = X'', purged = '2026-02-01T00:00:00.000Z' WHERE seq = 2"),
        SQLITE_OK);
    CHECK_INT(store_event_read(st, 2, &body, NULL), 0);
    CHECK(body == NULL);
    store_close(&st);
}

static void rekey_is_one_transaction(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/rekey.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    int64_t seq;
    char ids[300][16];
    for (int i = 0; i < 300; i++) { /* more than one batch of 256 */
        snprintf(ids[i], sizeof ids[i], "ev-%d", i);
        struct store_event ev = {
            "police-1",  "urn:s", ids[i], "t", NULL, "2026-01-01T00:00:00.000Z",
            "{\"n\":1}", 7,       NULL,   0};
        CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    }
    CHECK_INT(store_put_delivery(st, "off-1", "ref-1", "gemeente-1", "2026-01-01T00:00:00.000Z",
                                 "{\"offer\":1}"),
              0);
    struct seal_key next;
    key_from(&next, 42);
    /* A damaged value at the end: the rekey fails and nothing changes. */
    CHECK_INT(exec(store_sqlite(st), "UPDATE events SET body = X'6b687331' || "
                                     "substr(body, 5) WHERE seq = 300"),
              SQLITE_OK);
    CHECK_INT(exec(store_sqlite(st), "UPDATE events SET body = substr(body, 1, 40) || X'00' || "
                                     "substr(body, 42) WHERE seq = 300"),
              SQLITE_OK);
    struct store_seal_counts n;
    CHECK_INT(store_rekey(st, &next, NULL, &n, err, sizeof err), -1);
    CHECK(strstr(err, "events seq 300") != NULL);
    CHECK(strstr(err, "nothing was changed") != NULL);
    char id[SEAL_KEY_ID_HEX];
    store_key_id(st, id);
    CHECK_STR(id, tu_seal_key()->id_hex);
    char *body = store_event_body(st, 299, NULL);
    CHECK_STR(body, "{\"n\":1}"); /* still under the old key */
    free(body);
    CHECK_INT(exec(store_sqlite(st), "DELETE FROM events WHERE seq = 300"), SQLITE_OK);
    CHECK_INT(store_rekey(st, &next, NULL, &n, err, sizeof err), 0);
    CHECK_INT(n.events, 299);
    CHECK_INT(n.deliveries, 1);
    store_close(&st);
    /* The old key is refused now; the new one opens everything. */
    st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, next.id_hex) != NULL);
    st = store_open(path, &next, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_INT(store_seal_check(st, &n, err, sizeof err), 0);
    CHECK_INT(n.events, 299);
    body = store_event_body(st, 1, NULL);
    CHECK_STR(body, "{\"n\":1}");
    free(body);
    store_close(&st);
}

static void a_second_writer_is_refused_while_the_first_has_it_open(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/lock.db", dir);
    CHECK_INT(store_in_use(path, err, sizeof err), 0);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    CHECK_INT(store_in_use(path, err, sizeof err), 1);
    struct store *second = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(second == NULL);
    CHECK(strstr(err, "is in use") != NULL);
    /* A reader is no writer: allowed beside it. */
    struct store *reader = store_open_readonly(path, NULL, err, sizeof err);
    CHECK(reader != NULL);
    store_close(&reader);
    store_close(&st);
    CHECK_INT(store_in_use(path, err, sizeof err), 0);
    second = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(second != NULL);
    store_close(&second);
}

int main(void)
{
    if (sodium_init() < 0)
        return 2;
    tu_tempdir(dir, sizeof dir);
    RUN(a_sealed_value_opens_only_in_its_own_row);
    RUN(a_changed_value_or_header_is_refused_by_name);
    RUN(key_ids_are_stable_and_differ_per_key);
    RUN(a_version_4_database_is_sealed_at_first_open);
    RUN(another_key_is_refused_naming_both_key_ids);
    RUN(swapped_or_changed_rows_do_not_open);
    RUN(rekey_is_one_transaction);
    RUN(a_second_writer_is_refused_while_the_first_has_it_open);
    tu_rmdir(dir);
    return CHECK_DONE();
}
