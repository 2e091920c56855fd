/*
 * test_adapter_outbox - the adapter's local database: events wait in order
 * until acked, survive a reopen (a restart), an input is taken once, rejected
 * events move to the failed list with their errors, delivery ids are
 * deduplicated, and the durability settings are on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <jansson.h>

#include "check.h"
#include "outbox.h"

static char dir[64];
static char path[128];
static int serial;

static struct outbox *fresh(void)
{
    char err[256];
    snprintf(path, sizeof path, "%s/adapter-%d.db", dir, ++serial);
    struct outbox *ob = outbox_open(path, err, sizeof err);
    if (!ob)
        fprintf(stderr, "%s\n", err);
    return ob;
}

static json_t *events(int n, const char *prefix)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:{s:i}}", "specversion", "1.0", "id",
                                           id, "type", "t", "data", "n", i));
    }
    return a;
}

static void events_wait_in_order_until_acked(void)
{
    char err[256];
    struct outbox *ob = fresh();
    json_t *ev = events(3, "a");
    CHECK_INT(outbox_add(ob, "digest-a", "in.json", ev, err, sizeof err), 0);
    CHECK_INT(outbox_count(ob), 3);
    struct outbox_entry e[8];
    int n = outbox_pending(ob, 0, 8, e);
    CHECK_INT(n, 3);
    for (int i = 0; i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "a-%d", i);
        CHECK_STR(e[i].id, want);
        json_t *body = json_loads(e[i].body, 0, NULL);
        CHECK(json_equal(body, json_array_get(ev, (size_t)i)));
        json_decref(body);
    }
    /* The window reads past what it has: only later rows. */
    struct outbox_entry later[8];
    int m = outbox_pending(ob, e[1].seq, 8, later);
    CHECK_INT(m, 1);
    CHECK_STR(later[0].id, "a-2");
    free(later[0].body);
    CHECK_INT(outbox_remove(ob, "a-1"), 1);
    CHECK_INT(outbox_remove(ob, "a-1"), 0); /* a second ack (duplicate reply) is harmless */
    CHECK_INT(outbox_count(ob), 2);
    for (int i = 0; i < n; i++)
        free(e[i].body);
    json_decref(ev);
    outbox_close(&ob);
    CHECK(ob == NULL);
}

static void what_was_committed_survives_a_reopen(void)
{
    char err[256];
    struct outbox *ob = fresh();
    json_t *ev = events(2, "b");
    CHECK_INT(outbox_add(ob, "digest-b", NULL, ev, err, sizeof err), 0);
    CHECK_INT(outbox_remove(ob, "b-0"), 1);
    outbox_close(&ob);
    ob = outbox_open(path, err, sizeof err);
    CHECK(ob != NULL);
    struct outbox_entry e[4];
    int n = outbox_pending(ob, 0, 4, e);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(e[0].id, "b-1");
        free(e[0].body);
    }
    /* The input is still known after the restart: not taken twice. */
    CHECK_INT(outbox_add(ob, "digest-b", NULL, ev, err, sizeof err), 1);
    CHECK_INT(outbox_count(ob), 1);
    json_decref(ev);
    outbox_close(&ob);
}

static void an_input_is_taken_once_and_atomically(void)
{
    char err[256];
    struct outbox *ob = fresh();
    json_t *ev = events(2, "c");
    CHECK_INT(outbox_add(ob, "digest-c", "x.csv", ev, err, sizeof err), 0);
    CHECK_INT(outbox_add(ob, "digest-c", "y.csv", ev, err, sizeof err), 1);
    CHECK_INT(outbox_count(ob), 2);
    /* An input whose events include an id already waiting keeps one row. */
    json_t *again = events(3, "c");
    CHECK_INT(outbox_add(ob, "digest-c2", NULL, again, err, sizeof err), 0);
    CHECK_INT(outbox_count(ob), 3);
    json_decref(again);
    json_decref(ev);
    outbox_close(&ob);
}

static void a_rejected_event_moves_to_the_failed_list_with_the_errors(void)
{
    char err[256];
    struct outbox *ob = fresh();
    json_t *ev = events(2, "d");
    CHECK_INT(outbox_add(ob, "digest-d", "signalen.csv", ev, err, sizeof err), 0);
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "path", "/data/urgentie", "keyword", "enum",
                               "message", "value is not one of ...");
    CHECK_INT(outbox_reject(ob, "d-0", errors), 1);
    CHECK_INT(outbox_reject(ob, "nope", errors), 0);
    CHECK_INT(outbox_count(ob), 1);
    json_t *list = outbox_failed_list(ob, 10);
    CHECK_INT(json_array_size(list), 1);
    json_t *f = json_array_get(list, 0);
    CHECK_STR(json_string_value(json_object_get(f, "id")), "d-0");
    CHECK_STR(json_string_value(json_object_get(f, "direction")), "in");
    CHECK_STR(json_string_value(json_object_get(f, "type")), "t");
    CHECK_STR(json_string_value(json_object_get(f, "input")), "signalen.csv");
    CHECK(json_equal(json_object_get(f, "errors"), errors));
    CHECK_INT(json_string_length(json_object_get(f, "failed_at")), 24);
    json_decref(list);
    json_decref(errors);
    json_decref(ev);
    outbox_close(&ob);
}

static void a_delivery_failing_again_is_one_row_with_a_count(void)
{
    struct outbox *ob = fresh();
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "path", "", "keyword", "transport", "message",
                               "cannot write to out/");
    CHECK_INT(outbox_fail_delivery(ob, "e-1", "offer", NULL, errors), 0);
    CHECK_INT(outbox_fail_delivery(ob, "e-1", "offer", NULL, errors), 0);
    json_t *list = outbox_failed_list(ob, 10);
    CHECK_INT(json_array_size(list), 1);
    CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "direction")), "out");
    CHECK_INT(json_integer_value(json_object_get(json_array_get(list, 0), "count")), 2);
    json_decref(list);
    json_decref(errors);
    outbox_close(&ob);
}

static void delivery_ids_are_remembered_until_pruned(void)
{
    char err[256];
    struct outbox *ob = fresh();
    CHECK_INT(outbox_seen(ob, "f-1"), 0);
    CHECK_INT(outbox_mark_seen(ob, "f-1"), 0);
    CHECK_INT(outbox_mark_seen(ob, "f-1"), 0);
    CHECK_INT(outbox_seen(ob, "f-1"), 1);
    CHECK_INT(outbox_seen(ob, "f-2"), 0);
    outbox_close(&ob);
    ob = outbox_open(path, err, sizeof err);
    CHECK_INT(outbox_seen(ob, "f-1"), 1); /* across a restart */
    CHECK_INT(outbox_prune(ob, 0), 0);    /* nothing that old */
    CHECK_INT(outbox_prune(ob, INT64_MAX), 1);
    CHECK_INT(outbox_seen(ob, "f-1"), 0);
    outbox_close(&ob);
}

static void documents_round_trip(void)
{
    struct outbox *ob = fresh();
    json_t *doc = json_pack("{s:s, s:[i,i]}", "a", "b", "c", 1, 2);
    CHECK(outbox_doc_get(ob, "k") == NULL);
    CHECK_INT(outbox_doc_put(ob, "k", doc), 0);
    json_t *got = outbox_doc_get(ob, "k");
    CHECK(json_equal(got, doc));
    json_decref(got);
    json_decref(doc);
    outbox_close(&ob);
}

static void the_database_is_wal_with_full_sync(void)
{
    struct outbox *ob = fresh();
    outbox_close(&ob);
    sqlite3 *db;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void a_database_that_is_not_one_is_refused(void)
{
    char err[256], p[128];
    snprintf(p, sizeof p, "%s/garbage.db", dir);
    FILE *f = fopen(p, "w");
    fputs("this is not an SQLite database, but it is long enough to look like one......", f);
    fclose(f);
    struct outbox *ob = outbox_open(p, err, sizeof err);
    CHECK(ob == NULL);
    CHECK(strstr(err, p) != NULL);
    outbox_close(&ob);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ketenhub-adapter-unit-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(events_wait_in_order_until_acked);
    RUN(what_was_committed_survives_a_reopen);
    RUN(an_input_is_taken_once_and_atomically);
    RUN(a_rejected_event_moves_to_the_failed_list_with_the_errors);
    RUN(a_delivery_failing_again_is_one_row_with_a_count);
    RUN(delivery_ids_are_remembered_until_pruned);
    RUN(documents_round_trip);
    RUN(the_database_is_wal_with_full_sync);
    RUN(a_database_that_is_not_one_is_refused);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
