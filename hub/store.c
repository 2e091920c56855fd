/*
 * store - SQLite persistence for events and audit records; see store.h.
 *
 * Durability rests on three checked settings: journal_mode=WAL,
 * synchronous=FULL (every commit fsyncs the WAL) and a clean quick_check.
 * If SQLite refuses any of them the hub does not start: acknowledging an event
 * that is not on disk would break the one promise a broker makes.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

struct store {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *find_event, *insert_event, *insert_audit;
};

/* Migrations: entry i brings user_version from i to i + 1. Append only. */
static const char *const migrations[] = {
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  partner TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  time TEXT,"
    "  received TEXT NOT NULL,"
    "  digest BLOB NOT NULL,"
    "  body TEXT NOT NULL,"
    "  UNIQUE (partner, source, id)"
    ");"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  time TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  role TEXT,"
    "  action TEXT NOT NULL,"
    "  object TEXT,"
    "  outcome TEXT NOT NULL,"
    "  detail TEXT"
    ");",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof *migrations))

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

static int prepare(struct store *st, sqlite3_stmt **out, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot prepare statement: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

static int migrate(struct store *st, char *err, size_t errlen)
{
    char buf[32];
    if (pragma_text(st->db, "PRAGMA user_version", buf, sizeof buf) != 0) {
        snprintf(err, errlen, "cannot read user_version: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    int version = (int)strtol(buf, NULL, 10);
    if (version > SCHEMA_VERSION) {
        snprintf(err, errlen, "database schema version %d is newer than this hub (%d)", version,
                 SCHEMA_VERSION);
        return -1;
    }
    for (; version < SCHEMA_VERSION; version++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, migrations[version], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "migration to version %d failed: %s", version + 1,
                     sqlite3_errmsg(st->db));
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

static struct store *open_common(const char *path, int readonly, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    char buf[64] = "";
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    if (!readonly) {
        if (pragma_text(st->db, "PRAGMA journal_mode=WAL", buf, sizeof buf) != 0 ||
            strcmp(buf, "wal") != 0) {
            snprintf(err, errlen, "database %s: cannot switch to WAL mode (%s)", path,
                     sqlite3_errmsg(st->db));
            goto fail;
        }
        sqlite3_exec(st->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
        if (pragma_text(st->db, "PRAGMA synchronous", buf, sizeof buf) != 0 ||
            strcmp(buf, "2") != 0) {
            snprintf(err, errlen, "database %s: synchronous=FULL did not take (got %s)", path, buf);
            goto fail;
        }
    }
    if (pragma_text(st->db, "PRAGMA quick_check", buf, sizeof buf) != 0 || strcmp(buf, "ok") != 0) {
        snprintf(err, errlen, "database %s failed its integrity check: %s", path,
                 buf[0] ? buf : sqlite3_errmsg(st->db));
        goto fail;
    }
    if (!readonly && migrate(st, err, errlen) != 0)
        goto fail;
    if (readonly) {
        if (pragma_text(st->db, "PRAGMA user_version", buf, sizeof buf) != 0 ||
            strtol(buf, NULL, 10) != SCHEMA_VERSION) {
            snprintf(err, errlen, "database %s has schema version %s, expected %d", path, buf,
                     SCHEMA_VERSION);
            goto fail;
        }
        return st;
    }
    if (prepare(st, &st->begin, "BEGIN IMMEDIATE", err, errlen) ||
        prepare(st, &st->commit, "COMMIT", err, errlen) ||
        prepare(st, &st->rollback, "ROLLBACK", err, errlen) ||
        prepare(st, &st->find_event,
                "SELECT seq, digest FROM events WHERE partner = ?1 AND source = ?2 AND id = ?3",
                err, errlen) ||
        prepare(st, &st->insert_event,
                "INSERT INTO events (partner, source, id, type, time, received, digest, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                err, errlen) ||
        prepare(st, &st->insert_audit,
                "INSERT INTO audit (time, actor, role, action, object, outcome, detail) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                err, errlen))
        goto fail;
    return st;
fail:
    store_close(&st);
    return NULL;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
    return open_common(path, 0, err, errlen);
}

struct store *store_open_readonly(const char *path, char *err, size_t errlen)
{
    return open_common(path, 1, err, errlen);
}

void store_close(struct store **self_p)
{
    struct store *st = *self_p;
    if (!st)
        return;
    sqlite3_finalize(st->begin);
    sqlite3_finalize(st->commit);
    sqlite3_finalize(st->rollback);
    sqlite3_finalize(st->find_event);
    sqlite3_finalize(st->insert_event);
    sqlite3_finalize(st->insert_audit);
    sqlite3_close(st->db);
    free(st);
    *self_p = NULL;
}

static int step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_begin(struct store *st)
{
    return step_done(st->begin);
}

int store_commit(struct store *st)
{
    return step_done(st->commit);
}

void store_rollback(struct store *st)
{
    if (sqlite3_get_autocommit(st->db) == 0)
        step_done(st->rollback);
}

const char *store_errmsg(const struct store *st)
{
    return sqlite3_errmsg(st->db);
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, i);
}

int store_put_event(struct store *st, const struct store_event *ev, int64_t *seq)
{
    sqlite3_stmt *f = st->find_event;
    bind_text(f, 1, ev->partner);
    bind_text(f, 2, ev->source);
    bind_text(f, 3, ev->id);
    int rc = sqlite3_step(f);
    if (rc == SQLITE_ROW) {
        int same = sqlite3_column_bytes(f, 1) == 32 &&
                   memcmp(sqlite3_column_blob(f, 1), ev->digest, 32) == 0;
        if (same)
            *seq = sqlite3_column_int64(f, 0);
        sqlite3_reset(f);
        return same ? STORE_DUPLICATE : STORE_CONFLICT;
    }
    sqlite3_reset(f);
    if (rc != SQLITE_DONE)
        return -1;
    sqlite3_stmt *in = st->insert_event;
    bind_text(in, 1, ev->partner);
    bind_text(in, 2, ev->source);
    bind_text(in, 3, ev->id);
    bind_text(in, 4, ev->type);
    bind_text(in, 5, ev->time);
    bind_text(in, 6, ev->received);
    sqlite3_bind_blob(in, 7, ev->digest, 32, SQLITE_STATIC);
    bind_text(in, 8, ev->body);
    if (step_done(in) != 0)
        return -1;
    *seq = sqlite3_last_insert_rowid(st->db);
    return STORE_NEW;
}

int store_audit(struct store *st, const struct audit_record *rec)
{
    sqlite3_stmt *a = st->insert_audit;
    bind_text(a, 1, rec->time);
    bind_text(a, 2, rec->actor);
    bind_text(a, 3, rec->role);
    bind_text(a, 4, rec->action);
    bind_text(a, 5, rec->object);
    bind_text(a, 6, rec->outcome);
    bind_text(a, 7, rec->detail);
    return step_done(a);
}

static int query_int(sqlite3 *db, const char *sql, long long *out)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

static json_t *query_groups(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    json_t *out = json_object();
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        json_decref(out);
        return NULL;
    }
    while (sqlite3_step(s) == SQLITE_ROW)
        json_object_set_new(out, (const char *)sqlite3_column_text(s, 0),
                            json_integer(sqlite3_column_int64(s, 1)));
    sqlite3_finalize(s);
    return out;
}

json_t *store_stats(struct store *st)
{
    long long events, last, audit, version;
    if (query_int(st->db, "SELECT count(*) FROM events", &events) ||
        query_int(st->db, "SELECT coalesce(max(seq), 0) FROM events", &last) ||
        query_int(st->db, "SELECT count(*) FROM audit", &audit) ||
        query_int(st->db, "PRAGMA user_version", &version))
        return NULL;
    json_t *by_type = query_groups(st->db, "SELECT type, count(*) FROM events GROUP BY type");
    json_t *by_partner =
        query_groups(st->db, "SELECT partner, count(*) FROM events GROUP BY partner");
    json_t *rejected = query_groups(st->db, "SELECT outcome, count(*) FROM audit "
                                            "WHERE action = 'intake' GROUP BY outcome");
    if (!by_type || !by_partner || !rejected) {
        json_decref(by_type);
        json_decref(by_partner);
        json_decref(rejected);
        return NULL;
    }
    return json_pack("{sI sI so so so sI sI}", "events", (json_int_t)events, "last_seq",
                     (json_int_t)last, "by_type", by_type, "by_partner", by_partner,
                     "intake_outcomes", rejected, "audit_records", (json_int_t)audit,
                     "schema_version", (json_int_t)version);
}

char *store_event_body(struct store *st, int64_t seq)
{
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(st->db, "SELECT body FROM events WHERE seq = ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(s, 1, seq);
    if (sqlite3_step(s) == SQLITE_ROW)
        out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}
