/*
 * db - how ketenctl opens the hub's database for its reads (and the audit
 * records it appends): one place for the flags, the busy timeout, the schema
 * version check and synchronous=FULL for writers.
 */
#ifndef CTL_DB_H
#define CTL_DB_H

#include <stddef.h>
#include <sqlite3.h>

/*
 * Opens `path` read-only, or read-write when `writable` (then with
 * synchronous=FULL: what ketenctl writes must be on disk when it says so).
 * Refuses a database whose schema version is below `min_version`, saying
 * that `needs` (e.g. "referrals need") version min_version. Returns the
 * connection (caller closes), or NULL with err filled.
 */
sqlite3 *ctl_db_open(const char *path, int writable, int min_version, const char *needs, char *err,
                     size_t errlen);

#endif
