/*
 * test_store - durability settings, idempotency, conflicts, reopen, audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "check.h"
#include "store.h"
#include "testutil.h"

static char dir[128];

static struct store_event sample(const char *id, const char *body)
{
    struct store_event ev = {
        .partner = "police-1",
        .source = "urn:test",
        .id = id,
        .type = "nl.mensenhandel.signalen.signaal-geregistreerd",
        .time = "2026-11-29T08:00:00Z",
        .received = "2026-11-29T08:00:01.000Z",
        .body = body,
        .body_len = strlen(body),
    };
    return ev;
}

static void open_sets_wal_and_full_sync_and_version(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/a.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    store_close(&st);
    CHECK(st == NULL);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(s, 0), 5);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void existing_key_is_reported_with_its_seq_and_nothing_written(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/b.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    int64_t seq = -1, seq2 = -1;
    struct store_event ev = sample("e1", "{\"a\":1}");
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    CHECK_INT(seq, 1);
    /* Same key inside the same transaction: found, with the first seq. */
    struct store_event other = sample("e1", "{\"a\":2}");
    CHECK_INT(store_put_event(st, &other, &seq2), STORE_EXISTS);
    CHECK_INT(seq2, 1);
    /* The same source and id from another partner is another event. */
    other.partner = "police-2";
    CHECK_INT(store_put_event(st, &other, &seq2), STORE_NEW);
    CHECK_INT(seq2, 2);
    CHECK_INT(store_commit(st), 0);
    size_t len = 0;
    char *body = store_event_body(st, 1, &len);
    CHECK_STR(body, "{\"a\":1}");
    CHECK_INT(len, 7);
    free(body);
    store_close(&st);
}

static void rolled_back_event_is_new_again_and_keys_survive_reopen(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/keys.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    int64_t seq = 0;
    struct store_event ev = sample("k1", "{}");
    store_begin(st);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    store_rollback(st);
    store_begin(st);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW); /* not "exists": it was undone */
    CHECK_INT(store_commit(st), 0);
    int64_t first = seq;
    store_close(&st);
    st = store_open(path, tu_seal_key(), err, sizeof err);
    store_begin(st);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_EXISTS); /* the key came back from disk */
    CHECK_INT(seq, first);
    store_rollback(st);
    store_close(&st);
}

static void wal_is_checkpointed_off_the_writers_thread(void)
{
    char path[256], wal[300], err[256], body[1100];
    snprintf(path, sizeof path, "%s/wal.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    /* About 24 MB through the WAL: well past the checkpoint threshold. */
    for (int batch = 0; batch < 24; batch++) {
        store_begin(st);
        for (int i = 0; i < 1000; i++) {
            char id[32];
            int64_t seq;
            snprintf(id, sizeof id, "e%d-%d", batch, i);
            struct store_event ev = sample(id, body);
            CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
        }
        CHECK_INT(store_commit(st), 0);
    }
    /* The thread runs on its own; give it a bounded moment. */
    for (int i = 0; i < 200 && store_checkpoints(st) == 0; i++)
        usleep(10000);
    CHECK(store_checkpoints(st) > 0);
    struct stat sw, sd;
    CHECK(stat(wal, &sw) == 0);
    CHECK(stat(path, &sd) == 0);
    CHECK(sd.st_size > 4 * 1024 * 1024);  /* pages reached the database file */
    CHECK(sw.st_size < 20 * 1024 * 1024); /* and the WAL was restarted, not grown */
    store_close(&st);
}

static void rollback_keeps_nothing_and_reopen_keeps_commits(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/c.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    int64_t seq;
    struct store_event ev = sample("kept", "{\"id\":\"x\"}");
    store_begin(st);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    store_commit(st);
    ev.id = "lost";
    store_begin(st);
    CHECK_INT(store_put_event(st, &ev, &seq), STORE_NEW);
    store_rollback(st);
    store_close(&st);

    st = store_open_readonly(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    json_t *stats = store_stats(st);
    CHECK_INT(json_integer_value(json_object_get(stats, "events")), 1);
    CHECK_INT(json_integer_value(json_object_get(stats, "last_seq")), 1);
    json_decref(stats);
    char *body = store_event_body(st, 1, NULL);
    CHECK_STR(body, "{\"id\":\"x\"}");
    free(body);
    CHECK(store_event_body(st, 2, NULL) == NULL);
    store_close(&st);
}

static void audit_records_are_counted_by_outcome(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/d.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct audit_record a = {.time = "2026-11-29T08:00:00.000Z",
                             .actor = "police-1",
                             .role = "police",
                             .action = "intake",
                             .object = "e1",
                             .outcome = "rejected",
                             .detail = "[{\"path\":\"/data\"}]"};
    store_begin(st);
    CHECK_INT(store_audit(st, &a), 0);
    a.outcome = "accepted";
    CHECK_INT(store_audit(st, &a), 0);
    CHECK_INT(store_audit(st, &a), 0);
    store_commit(st);
    json_t *stats = store_stats(st);
    CHECK_INT(json_integer_value(json_object_get(stats, "audit_records")), 3);
    json_t *outcomes = json_object_get(stats, "intake_outcomes");
    CHECK_INT(json_integer_value(json_object_get(outcomes, "accepted")), 2);
    CHECK_INT(json_integer_value(json_object_get(outcomes, "rejected")), 1);
    json_decref(stats);
    store_close(&st);
}

static void damaged_file_is_refused_with_a_clear_error(void)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 2048; i++)
        fputs("this is not a database ", f);
    fclose(f);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, path) != NULL);
    store_close(&st);
}

static void readonly_open_of_missing_file_fails(void)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/none.db", dir);
    struct store *st = store_open_readonly(path, tu_seal_key(), err, sizeof err);
    CHECK(st == NULL);
    CHECK(err[0] != '\0');
}

static void newer_schema_version_is_refused(void)
{
    char path[256], err[256] = "";
    snprintf(path, sizeof path, "%s/future.db", dir);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "newer") != NULL);
}

int main(void)
{
    tu_tempdir(dir, sizeof dir);
    RUN(open_sets_wal_and_full_sync_and_version);
    RUN(existing_key_is_reported_with_its_seq_and_nothing_written);
    RUN(rolled_back_event_is_new_again_and_keys_survive_reopen);
    RUN(wal_is_checkpointed_off_the_writers_thread);
    RUN(rollback_keeps_nothing_and_reopen_keeps_commits);
    RUN(audit_records_are_counted_by_outcome);
    RUN(damaged_file_is_refused_with_a_clear_error);
    RUN(readonly_open_of_missing_file_fails);
    RUN(newer_schema_version_is_refused);
    tu_rmdir(dir);
    return CHECK_DONE();
}
