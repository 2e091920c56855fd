/*
 * db - opening the hub's database from ketenctl; see db.h.
 */
#include "ctl/db.h"

#include <stdio.h>

#define BUSY_TIMEOUT_MS 5000

sqlite3 *ctl_db_open(const char *path, int writable, int min_version, const char *needs, char *err,
                     size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        snprintf(err, errlen, "cannot read the schema version of %s: %s", path, sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_int64 version = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (version < min_version) {
        snprintf(err, errlen,
                 "database %s has schema version %lld, %s version %d or later "
                 "(start this release's ketenhubd once to migrate it)",
                 path, (long long)version, needs, min_version);
        goto fail;
    }
    if (writable && sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database %s: cannot set synchronous=FULL: %s", path,
                 sqlite3_errmsg(db));
        goto fail;
    }
    return db;
fail:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return NULL;
}
