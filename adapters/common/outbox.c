/*
 * outbox - the adapter's local database; see outbox.h.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, both checked after they
 * are set, so a commit is on disk when outbox_add returns. Statements are
 * prepared per call: the adapter's rates (a few events a second at most) do
 * not need cached statements, and per-call statements keep the mutex scope
 * obvious.
 */
#include "outbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "util.h"

struct outbox {
    sqlite3 *db;
    pthread_mutex_t lock;
};

static const char *const SCHEMA_SQL = "CREATE TABLE IF NOT EXISTS outbox ("
                                      "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                                      "  id TEXT NOT NULL UNIQUE,"
                                      "  type TEXT NOT NULL,"
                                      "  body TEXT NOT NULL,"
                                      "  input TEXT,"
                                      "  created_ms INTEGER NOT NULL);"
                                      "CREATE TABLE IF NOT EXISTS inputs ("
                                      "  digest TEXT PRIMARY KEY,"
                                      "  name TEXT,"
                                      "  events INTEGER NOT NULL,"
                                      "  taken_ms INTEGER NOT NULL);"
                                      "CREATE TABLE IF NOT EXISTS failed ("
                                      "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                                      "  id TEXT NOT NULL,"
                                      "  direction TEXT NOT NULL,"
                                      "  type TEXT,"
                                      "  input TEXT,"
                                      "  errors TEXT NOT NULL,"
                                      "  count INTEGER NOT NULL DEFAULT 1,"
                                      "  failed_ms INTEGER NOT NULL,"
                                      "  UNIQUE (id, direction));"
                                      "CREATE TABLE IF NOT EXISTS seen ("
                                      "  id TEXT PRIMARY KEY,"
                                      "  taken_ms INTEGER NOT NULL);"
                                      "CREATE TABLE IF NOT EXISTS docs ("
                                      "  key TEXT PRIMARY KEY,"
                                      "  body TEXT NOT NULL,"
                                      "  updated_ms INTEGER NOT NULL);"
                                      "PRAGMA user_version = 1;";

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

struct outbox *outbox_open(const char *path, char *err, size_t errlen)
{
    struct outbox *ob = calloc(1, sizeof *ob);
    char buf[32];
    if (!ob) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&ob->lock, NULL);
    if (sqlite3_open_v2(path, &ob->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database %s: %s", path,
                 ob->db ? sqlite3_errmsg(ob->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(ob->db, 5000);
    if (pragma_text(ob->db, "PRAGMA journal_mode=WAL", buf, sizeof buf) != 0 ||
        strcmp(buf, "wal") != 0) {
        snprintf(err, errlen, "database %s: WAL mode did not take", path);
        goto fail;
    }
    sqlite3_exec(ob->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    if (pragma_text(ob->db, "PRAGMA synchronous", buf, sizeof buf) != 0 || strcmp(buf, "2") != 0) {
        snprintf(err, errlen, "database %s: synchronous=FULL did not take", path);
        goto fail;
    }
    if (pragma_text(ob->db, "PRAGMA quick_check", buf, sizeof buf) != 0 || strcmp(buf, "ok") != 0) {
        snprintf(err, errlen, "database %s: quick_check failed: %s", path, buf);
        goto fail;
    }
    char *msg = NULL;
    if (sqlite3_exec(ob->db, SCHEMA_SQL, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "database %s: %s", path, msg ? msg : "cannot create tables");
        sqlite3_free(msg);
        goto fail;
    }
    return ob;
fail:
    outbox_close(&ob);
    return NULL;
}

void outbox_close(struct outbox **self_p)
{
    struct outbox *ob = self_p ? *self_p : NULL;
    if (!ob)
        return;
    if (ob->db)
        sqlite3_close(ob->db);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
    *self_p = NULL;
}

/* Runs one statement with text parameters (NULL = SQL NULL). Returns the
 * number of changed rows, or -1. Caller holds the lock. */
static int exec_text(sqlite3 *db, const char *sql, int n, const char *const *args)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < n; i++) {
        if (args[i])
            sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, i + 1);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

int outbox_add(struct outbox *ob, const char *digest, const char *name, const json_t *events,
               char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int64_t now = util_wall_ms();
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "begin: %s", sqlite3_errmsg(ob->db));
        goto out;
    }
    if (sqlite3_prepare_v2(ob->db,
                           "INSERT OR IGNORE INTO inputs (digest, name, events, taken_ms) "
                           "VALUES (?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)json_array_size(events));
    sqlite3_bind_int64(st, 4, now);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_changes(ob->db) == 0) { /* taken before */
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
        rc = 1;
        goto out;
    }
    if (sqlite3_prepare_v2(ob->db,
                           "INSERT OR IGNORE INTO outbox (id, type, body, input, created_ms) "
                           "VALUES (?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    size_t i;
    const json_t *ev;
    json_array_foreach(events, i, ev)
    {
        char *body = json_dumps(ev, JSON_COMPACT);
        if (!body)
            goto rollback;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, json_string_value(json_object_get(ev, "id")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, json_string_value(json_object_get(ev, "type")), -1,
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, body, -1, SQLITE_TRANSIENT);
        if (name)
            sqlite3_bind_text(st, 4, name, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_int64(st, 5, now);
        int step = sqlite3_step(st);
        free(body);
        if (step != SQLITE_DONE)
            goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "commit: %s", sqlite3_errmsg(ob->db));
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    rc = 0;
    goto out;
rollback:
    snprintf(err, errlen, "outbox: %s", sqlite3_errmsg(ob->db));
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pthread_mutex_unlock(&ob->lock);
    return rc;
}

int outbox_pending(struct outbox *ob, int64_t after_seq, int max, struct outbox_entry *out)
{
    sqlite3_stmt *st = NULL;
    int n = 0;
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_prepare_v2(ob->db,
                           "SELECT seq, id, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        n = -1;
        goto out;
    }
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int(st, 2, max);
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *body = (const char *)sqlite3_column_text(st, 2);
        out[n].seq = sqlite3_column_int64(st, 0);
        snprintf(out[n].id, sizeof out[n].id, "%s", id ? id : "");
        out[n].body = strdup(body ? body : "");
        if (!out[n].body)
            break;
        n++;
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    return n;
}

long outbox_count(struct outbox *ob)
{
    sqlite3_stmt *st = NULL;
    long n = -1;
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_prepare_v2(ob->db, "SELECT count(*) FROM outbox", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    return n;
}

int outbox_remove(struct outbox *ob, const char *id)
{
    pthread_mutex_lock(&ob->lock);
    const char *args[] = {id};
    int n = exec_text(ob->db, "DELETE FROM outbox WHERE id = ?", 1, args);
    pthread_mutex_unlock(&ob->lock);
    return n < 0 ? -1 : n > 0;
}

int outbox_reject(struct outbox *ob, const char *id, const json_t *errors)
{
    char *errs = json_dumps(errors, JSON_COMPACT);
    char now[32];
    int rc = -1;
    if (!errs)
        return -1;
    snprintf(now, sizeof now, "%lld", (long long)util_wall_ms());
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    const char *ins[] = {errs, now, id};
    int n = exec_text(ob->db,
                      "INSERT OR REPLACE INTO failed (id, direction, type, input, errors, "
                      "failed_ms) SELECT id, 'in', type, input, ?, ? FROM outbox WHERE id = ?",
                      3, ins);
    const char *del[] = {id};
    int d = n < 0 ? -1 : exec_text(ob->db, "DELETE FROM outbox WHERE id = ?", 1, del);
    if (d < 0 || sqlite3_exec(ob->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    rc = d > 0;
out:
    pthread_mutex_unlock(&ob->lock);
    free(errs);
    return rc;
}

int outbox_fail_delivery(struct outbox *ob, const char *id, const char *type, const char *name,
                         const json_t *errors)
{
    char *errs = json_dumps(errors, JSON_COMPACT);
    char now[32];
    if (!errs)
        return -1;
    snprintf(now, sizeof now, "%lld", (long long)util_wall_ms());
    pthread_mutex_lock(&ob->lock);
    const char *args[] = {id, type, name, errs, now};
    int n = exec_text(ob->db,
                      "INSERT INTO failed (id, direction, type, input, errors, failed_ms) "
                      "VALUES (?, 'out', ?, ?, ?, ?) ON CONFLICT (id, direction) DO UPDATE SET "
                      "count = count + 1, errors = excluded.errors, failed_ms = excluded.failed_ms",
                      5, args);
    pthread_mutex_unlock(&ob->lock);
    free(errs);
    return n < 0 ? -1 : 0;
}

json_t *outbox_failed_list(struct outbox *ob, int limit)
{
    sqlite3_stmt *st = NULL;
    json_t *list = json_array();
    pthread_mutex_lock(&ob->lock);
    if (!list || sqlite3_prepare_v2(ob->db,
                                    "SELECT id, direction, type, input, errors, count, failed_ms "
                                    "FROM failed ORDER BY failed_ms DESC, seq DESC LIMIT ?",
                                    -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int(st, 1, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char when[UTIL_TIME_LEN];
        const char *type = (const char *)sqlite3_column_text(st, 2);
        const char *input = (const char *)sqlite3_column_text(st, 3);
        json_t *errors = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
        util_time_format(sqlite3_column_int64(st, 6), when);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:s}", "id",
                                              (const char *)sqlite3_column_text(st, 0), "direction",
                                              (const char *)sqlite3_column_text(st, 1), "type",
                                              type ? json_string(type) : json_null(), "input",
                                              input ? json_string(input) : json_null(), "errors",
                                              errors ? errors : json_array(), "count",
                                              (json_int_t)sqlite3_column_int64(st, 5), "failed_at",
                                              when));
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    return list;
fail:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    json_decref(list);
    return NULL;
}

int outbox_seen(struct outbox *ob, const char *id)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_prepare_v2(ob->db, "SELECT 1 FROM seen WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(st);
        rc = step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    return rc;
}

int outbox_mark_seen(struct outbox *ob, const char *id)
{
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)util_wall_ms());
    pthread_mutex_lock(&ob->lock);
    const char *args[] = {id, now};
    int n = exec_text(ob->db, "INSERT OR IGNORE INTO seen (id, taken_ms) VALUES (?, ?)", 2, args);
    pthread_mutex_unlock(&ob->lock);
    return n < 0 ? -1 : 0;
}

long outbox_prune(struct outbox *ob, int64_t before_ms)
{
    char before[32];
    snprintf(before, sizeof before, "%lld", (long long)before_ms);
    const char *args[] = {before};
    pthread_mutex_lock(&ob->lock);
    int a = exec_text(ob->db, "DELETE FROM seen WHERE taken_ms < ?", 1, args);
    int b = a < 0 ? -1 : exec_text(ob->db, "DELETE FROM inputs WHERE taken_ms < ?", 1, args);
    pthread_mutex_unlock(&ob->lock);
    return a < 0 || b < 0 ? -1 : (long)a + b;
}

int outbox_doc_put(struct outbox *ob, const char *key, const json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    char now[32];
    if (!body)
        return -1;
    snprintf(now, sizeof now, "%lld", (long long)util_wall_ms());
    pthread_mutex_lock(&ob->lock);
    const char *args[] = {key, body, now};
    int n = exec_text(
        ob->db, "INSERT OR REPLACE INTO docs (key, body, updated_ms) VALUES (?, ?, ?)", 3, args);
    pthread_mutex_unlock(&ob->lock);
    free(body);
    return n < 0 ? -1 : 0;
}

json_t *outbox_doc_get(struct outbox *ob, const char *key)
{
    sqlite3_stmt *st = NULL;
    json_t *doc = NULL;
    pthread_mutex_lock(&ob->lock);
    if (sqlite3_prepare_v2(ob->db, "SELECT body FROM docs WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            doc = json_loads((const char *)sqlite3_column_text(st, 0), JSON_DECODE_ANY, NULL);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&ob->lock);
    return doc;
}
