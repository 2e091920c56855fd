/*
 * store - SQLite persistence for events and audit records; see store.h.
 *
 * Durability rests on three checked settings: journal_mode=WAL,
 * synchronous=FULL (every commit fsyncs the WAL) and a clean quick_check.
 * If SQLite refuses any of them the hub does not start: acknowledging an event
 * that is not on disk would break the one promise a broker makes.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include "audit.h"
#include "keymap.h"

/* WAL size (pages) at which the checkpoint thread is woken: SQLite's own
 * autocheckpoint default. Under steady load the thread is always one commit
 * behind, so the WAL would never start over: at WAL_RESET_PAGES (16 MB) the
 * writer copies that last stretch itself, and its next commit starts the WAL
 * from the beginning. */
#define CHECKPOINT_PAGES 1000
#define WAL_RESET_PAGES 4000

/* The checkpoint thread and its own connection. Only `wanted` and `stop` are
 * shared with the caller's thread, under the mutex. */
struct checkpointer {
    sqlite3 *db;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int wanted, stop;
    unsigned long runs; /* checkpoints done; read after join or under mu */
};

struct store {
    sqlite3 *db;
    struct checkpointer ck;
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *event_key_columns, *insert_event, *insert_key;
    struct audit_chain *chain; /* appends to the audit trail (writable store) */
    sqlite3_stmt *insert_referral, *get_referral, *update_referral, *insert_history;
    sqlite3_stmt *referral_answered, *insert_facts;
    sqlite3_stmt *insert_delivery, *pending_deliveries, *confirm_delivery, *dead_delivery;
    sqlite3_stmt *read_body;
    const struct seal_key *key; /* seals events.body and deliveries.payload; NULL: cannot */
    int lock_fd;                /* flock'ed `path`.lock of a writable store, else -1 */
    uint8_t *buf;               /* scratch for sealing on the caller's thread */
    size_t bufcap;
    char err[320]; /* the store's own last error (sealing), "" when SQLite's applies */
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
    struct keymap *keys;
    struct pending_key {
        uint64_t hash;
        int64_t seq;
    } * pending; /* keys added in the open transaction */
    size_t npending, cap_pending;
};

/* Migrations: entry i brings user_version from i to i + 1. Append only. */
static const char *const migrations[] = {
    "CREATE TABLE meta ("
    "  name TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL"
    ");"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  partner TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  time TEXT,"
    "  received TEXT NOT NULL,"
    "  body TEXT NOT NULL"
    ");"
    /* The idempotency keys: a keyed 64-bit hash of (partner, source, id) per
     * event, appended in seq order (cheap to write), read into the in-memory
     * keymap at start-up. No index on random keys: see keymap.h. */
    "CREATE TABLE event_keys ("
    "  seq INTEGER PRIMARY KEY,"
    "  key_hash INTEGER NOT NULL"
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
    /* 2: referrals, their history, and the deliveries to partners. Deadlines
     * are UTC milliseconds since the epoch (NULL once met or moot). */
    "CREATE TABLE referrals ("
    "  id TEXT PRIMARY KEY,"
    "  signal_seq INTEGER NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  policy TEXT NOT NULL,"
    "  rule TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  created TEXT NOT NULL,"
    "  updated TEXT NOT NULL,"
    "  receipt_due_ms INTEGER,"
    "  decision_due_ms INTEGER"
    ");"
    "CREATE INDEX referrals_by_partner ON referrals (partner, state);"
    "CREATE INDEX referrals_by_signal ON referrals (signal_seq);"
    "CREATE TABLE referral_history ("
    "  seq INTEGER PRIMARY KEY,"
    "  referral TEXT NOT NULL,"
    "  time TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  event TEXT NOT NULL,"
    "  from_state TEXT,"
    "  to_state TEXT NOT NULL,"
    "  event_seq INTEGER"
    ");"
    "CREATE INDEX history_by_referral ON referral_history (referral, seq);"
    "CREATE TABLE deliveries ("
    "  seq INTEGER PRIMARY KEY,"
    "  event_id TEXT NOT NULL UNIQUE,"
    "  referral TEXT NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL,"
    "  last_attempt TEXT,"
    "  confirmed TEXT,"
    "  dead_reason TEXT,"
    "  payload TEXT NOT NULL"
    ");"
    "CREATE INDEX deliveries_by_partner ON deliveries (partner, state, seq);"
    "CREATE INDEX deliveries_by_referral ON deliveries (referral);"
    "CREATE INDEX deliveries_by_state ON deliveries (state);",
    /* 3: escalations of missed deadlines, the alerts they sent and every
     * attempt (docs/escalation.md). Times in *_ms are UTC milliseconds. */
    "CREATE INDEX referrals_by_state ON referrals (state);"
    "CREATE TABLE escalations ("
    "  id INTEGER PRIMARY KEY,"
    "  referral TEXT NOT NULL,"
    "  deadline TEXT NOT NULL,"
    "  due_ms INTEGER NOT NULL,"
    "  policy TEXT NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  base_ms INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  fired_ms INTEGER,"
    "  rounds INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER,"
    "  rearms INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL,"
    "  updated TEXT NOT NULL,"
    "  acked TEXT,"
    "  acked_by TEXT,"
    "  ack_note TEXT,"
    "  resolved TEXT,"
    "  resolution TEXT,"
    "  UNIQUE (referral, deadline)"
    ");"
    "CREATE INDEX escalations_by_state ON escalations (state);"
    "CREATE TABLE alerts ("
    "  seq INTEGER PRIMARY KEY,"
    "  escalation INTEGER NOT NULL,"
    "  round INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  officer TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  cycles INTEGER NOT NULL DEFAULT 1,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL,"
    "  updated TEXT NOT NULL,"
    "  retry_ms INTEGER,"
    "  subject TEXT,"
    "  body TEXT NOT NULL"
    ");"
    "CREATE INDEX alerts_by_escalation ON alerts (escalation, round);"
    "CREATE INDEX alerts_by_state ON alerts (state);"
    "CREATE TABLE alert_attempts ("
    "  seq INTEGER PRIMARY KEY,"
    "  alert INTEGER NOT NULL,"
    "  time TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  code INTEGER,"
    "  error TEXT,"
    "  elapsed_ms INTEGER"
    ");"
    "CREATE INDEX attempts_by_alert ON alert_attempts (alert, seq);",
    /* 4: what the coordinator's report reads (docs/reporting.md): a signal's
     * facts in clear, and the moments a referral was made, answered and an
     * escalation acknowledged. Backfilled from what versions 1-3 kept (the
     * sender's role was not kept: "unknown"). */
    "CREATE TABLE signal_facts ("
    "  seq INTEGER PRIMARY KEY,"
    "  received_ms INTEGER NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  forms INTEGER NOT NULL,"
    "  urgency TEXT NOT NULL,"
    "  minor INTEGER NOT NULL,"
    "  municipality TEXT"
    ");"
    "CREATE INDEX signal_facts_by_time ON signal_facts (received_ms);"
    "INSERT INTO signal_facts "
    "SELECT e.seq, CAST(ROUND((julianday(e.received) - 2440587.5) * 86400000) AS INTEGER), "
    "e.partner, "
    "  'unknown', "
    "  (SELECT COALESCE(SUM(DISTINCT CASE j.value WHEN 'seksueel' THEN 1 WHEN 'arbeid' THEN 2 "
    "     WHEN 'crimineel' THEN 4 WHEN 'orgaanverwijdering' THEN 8 WHEN 'onbekend' THEN 16 "
    "     ELSE 0 END), 0) FROM json_each(e.body, '$.data.vormenVanUitbuiting') j), "
    "  COALESCE(json_extract(e.body, '$.data.urgentie'), 'normaal'), "
    "  COALESCE(json_extract(e.body, '$.data.minderjarig'), 0), "
    "  json_extract(e.body, '$.data.woongemeente') "
    "FROM events e WHERE e.type = 'nl.mensenhandel.signalen.signaal-geregistreerd' "
    "AND json_valid(e.body);"
    "ALTER TABLE referrals ADD COLUMN created_ms INTEGER;"
    "ALTER TABLE referrals ADD COLUMN receipt_deadline_ms INTEGER;"
    "ALTER TABLE referrals ADD COLUMN decision_deadline_ms INTEGER;"
    "ALTER TABLE referrals ADD COLUMN received_ms INTEGER;"
    "ALTER TABLE referrals ADD COLUMN decided_ms INTEGER;"
    "UPDATE referrals SET "
    "  created_ms = CAST(ROUND((julianday(created) - 2440587.5) * 86400000) AS INTEGER),"
    "  receipt_deadline_ms = receipt_due_ms, decision_deadline_ms = decision_due_ms,"
    "  received_ms = (SELECT CAST(ROUND((julianday(MIN(h.time)) - 2440587.5) * 86400000) AS "
    "INTEGER) "
    "    FROM referral_history h WHERE h.referral = referrals.id "
    "    AND h.to_state IN ('ontvangen', 'geaccepteerd', 'afgewezen')),"
    "  decided_ms = (SELECT CAST(ROUND((julianday(MIN(h.time)) - 2440587.5) * 86400000) AS "
    "INTEGER) "
    "    FROM referral_history h WHERE h.referral = referrals.id "
    "    AND h.to_state IN ('geaccepteerd', 'afgewezen'));"
    "ALTER TABLE escalations ADD COLUMN acked_ms INTEGER;"
    "UPDATE escalations SET acked_ms = "
    "  CAST(ROUND((julianday(acked) - 2440587.5) * 86400000) AS INTEGER) WHERE acked IS NOT NULL;",
    /* 5: privacy and security (docs/security.md, docs/privacy.md), in three
     * parts: the audit chain; encryption at rest and retention; pseudonyms
     * and matches. */
    /* 5a: the audit chain (docs/audit.md). Each record gains the person it
     * is about (a pseudonym), where the request came from, why, and its
     * place in the chain: prev_hash, and hash = SHA-256(prev_hash ||
     * canonical content). Older records get the purpose their action implies
     * (audit_default_purpose) and are chained by audit_seal_unchained in the
     * same transaction as this migration (see migrate()). */
    "ALTER TABLE audit ADD COLUMN subject TEXT;"
    "ALTER TABLE audit ADD COLUMN address TEXT;"
    "ALTER TABLE audit ADD COLUMN purpose TEXT;"
    "ALTER TABLE audit ADD COLUMN prev_hash TEXT;"
    "ALTER TABLE audit ADD COLUMN hash TEXT;"
    "UPDATE audit SET purpose = CASE "
    "  WHEN action IN ('intake', 'referral', 'delivery', 'escalation', 'alert', "
    "                  'acknowledgement', 'match') THEN 'ketenzorg' "
    "  WHEN action = 'connect' THEN 'beveiliging' ELSE 'beheer' END;"
    /* 5b: encryption at rest and retention (docs/encryption.md,
     * docs/retention.md). events.body and deliveries.payload hold sealed
     * BLOBs from now on (store.c seals the clear TEXT of earlier versions
     * right after this migration); `purged` is when retention removed the
     * value (then a zero-length BLOB). The partial index holds only signals
     * whose body is still there, in arrival order: retention's candidates. */
    "ALTER TABLE events ADD COLUMN purged TEXT;"
    "ALTER TABLE deliveries ADD COLUMN purged TEXT;"
    "CREATE INDEX events_unpurged_signals ON events (received) WHERE purged IS NULL "
    "AND type = 'nl.mensenhandel.signalen.signaal-geregistreerd';"
    /* 5c: pseudonyms of identifying fields and the matches between signals
     * (docs/matching.md). One row per pseudonym a signal carried: `kind`
     * "bsn" or "naam-geboortedatum", `pseudonym` the keyed HMAC-SHA256 in hex. */
    "CREATE TABLE pseudonyms ("
    "  seq INTEGER NOT NULL," /* the signal's events.seq */
    "  kind TEXT NOT NULL,"
    "  pseudonym TEXT NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (seq, kind)"
    ");"
    "CREATE INDEX pseudonyms_by_value ON pseudonyms (pseudonym);"
    /* One row per match raised (hub/match.c): the new signal and the earlier
     * one it matched, their partners and those partners' roles, the kinds
     * that matched ("bsn", "naam-geboortedatum" or both, comma-separated)
     * and when. Ids only, never a pseudonym: the report reads this table,
     * and it outlives the pseudonyms that retention purges. */
    "CREATE TABLE matches ("
    "  id INTEGER PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  partner TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  earlier_seq INTEGER NOT NULL,"
    "  earlier_partner TEXT NOT NULL,"
    "  earlier_role TEXT NOT NULL,"
    "  kinds TEXT NOT NULL,"
    "  found_ms INTEGER NOT NULL"
    ");"
    "CREATE INDEX matches_by_time ON matches (found_ms);",
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
            /* Version 5 chains the audit records kept so far, once, inside
             * the migration: a record without a hash later is tampering. */
            (version + 1 == 5 && audit_seal_unchained(st->db) != 0) ||
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

static void *checkpoint_main(void *arg)
{
    struct checkpointer *ck = arg;
    pthread_mutex_lock(&ck->mu);
    for (;;) {
        while (!ck->wanted && !ck->stop)
            pthread_cond_wait(&ck->cv, &ck->mu);
        if (ck->stop)
            break;
        ck->wanted = 0;
        pthread_mutex_unlock(&ck->mu);
        /* PASSIVE never blocks the writer. Once it has copied every frame,
         * the writer's next transaction starts the WAL from the beginning
         * again, so the file stops growing. */
        sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&ck->mu);
        ck->runs++;
    }
    pthread_mutex_unlock(&ck->mu);
    return NULL;
}

/* Called by SQLite on the writer's thread after each commit. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct checkpointer *ck = arg;
    (void)name;
    if (pages >= WAL_RESET_PAGES)
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&ck->mu);
        ck->wanted = 1;
        pthread_cond_signal(&ck->cv);
        pthread_mutex_unlock(&ck->mu);
    }
    return SQLITE_OK;
}

static int start_checkpointer(struct store *st, const char *path, char *err, size_t errlen)
{
    struct checkpointer *ck = &st->ck;
    if (sqlite3_open_v2(path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s for checkpoints: %s", path,
                 ck->db ? sqlite3_errmsg(ck->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(ck->db, 1000);
    /* A connection reads the file lazily; until it has, it does not know
     * the database is in WAL mode and a checkpoint would be a no-op. */
    char mode[16] = "";
    if (pragma_text(ck->db, "PRAGMA journal_mode", mode, sizeof mode) != 0 ||
        strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "database %s: checkpoint connection is not in WAL mode", path);
        return -1;
    }
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->cv, NULL);
    if (pthread_create(&ck->thread, NULL, checkpoint_main, ck) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        pthread_mutex_destroy(&ck->mu);
        pthread_cond_destroy(&ck->cv);
        return -1;
    }
    ck->started = 1;
    /* Replaces SQLite's own autocheckpoint, which would run in the commit. */
    sqlite3_wal_hook(st->db, on_wal_commit, ck);
    return 0;
}

static void stop_checkpointer(struct store *st)
{
    struct checkpointer *ck = &st->ck;
    if (ck->started) {
        sqlite3_wal_hook(st->db, NULL, NULL);
        pthread_mutex_lock(&ck->mu);
        ck->stop = 1;
        pthread_cond_signal(&ck->cv);
        pthread_mutex_unlock(&ck->mu);
        pthread_join(ck->thread, NULL);
        pthread_mutex_destroy(&ck->mu);
        pthread_cond_destroy(&ck->cv);
        ck->started = 0;
    }
    sqlite3_close(ck->db);
    ck->db = NULL;
}

/* Reads every idempotency key into the keymap. */
static int load_keys(struct store *st, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    st->keys = keymap_new();
    if (!st->keys || sqlite3_prepare_v2(st->db, "SELECT seq, key_hash FROM event_keys", -1, &s,
                                        NULL) != SQLITE_OK)
        goto done;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if (keymap_add(st->keys, (uint64_t)sqlite3_column_int64(s, 1),
                       sqlite3_column_int64(s, 0)) != 0)
            goto done;
    rc = step == SQLITE_DONE ? 0 : -1;
done:
    if (rc != 0)
        snprintf(err, errlen, "cannot load the idempotency keys: %s",
                 st->keys ? sqlite3_errmsg(st->db) : "out of memory");
    sqlite3_finalize(s);
    return rc;
}

/* The key of key_hash: random per database, made at creation, kept in meta. */
static int load_hash_key(struct store *st, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE name = 'key_hash_key'", -1, &s,
                           NULL) != SQLITE_OK)
        goto done;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_bytes(s, 0) == (int)sizeof st->hash_key) {
        memcpy(st->hash_key, sqlite3_column_blob(s, 0), sizeof st->hash_key);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        sqlite3_finalize(s);
        randombytes_buf(st->hash_key, sizeof st->hash_key);
        if (sqlite3_prepare_v2(st->db, "INSERT INTO meta (name, value) VALUES ('key_hash_key', ?1)",
                               -1, &s, NULL) != SQLITE_OK)
            goto done;
        sqlite3_bind_blob(s, 1, st->hash_key, sizeof st->hash_key, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    }
done:
    if (rc != 0)
        snprintf(err, errlen, "cannot read or create the key_hash key: %s", sqlite3_errmsg(st->db));
    sqlite3_finalize(s);
    return rc;
}

static int lock_database(struct store *st, const char *path, char *err, size_t errlen);
static int seal_existing(struct store *st, const char *path, char *err, size_t errlen);

static struct store *open_common(const char *path, const struct seal_key *key, int readonly,
                                 char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    char buf[64] = "";
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->key = key;
    st->lock_fd = -1;
    if (!readonly && lock_database(st, path, err, errlen) != 0)
        goto fail;
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
        /* What is overwritten or deleted (a value sealed over its clear
         * text, a purged payload) is zeroed in the file, not left in free
         * space (docs/encryption.md). */
        sqlite3_exec(st->db, "PRAGMA secure_delete=ON", NULL, NULL, NULL);
        if (pragma_text(st->db, "PRAGMA synchronous", buf, sizeof buf) != 0 ||
            strcmp(buf, "2") != 0) {
            snprintf(err, errlen, "database %s: synchronous=FULL did not take (got %s)", path, buf);
            goto fail;
        }
    }
    /* The hub checks the file at every start; a read-only look (ketenctl
     * status, beside the running hub) does not read the whole file again. */
    if (!readonly && (pragma_text(st->db, "PRAGMA quick_check", buf, sizeof buf) != 0 ||
                      strcmp(buf, "ok") != 0)) {
        snprintf(err, errlen, "database %s failed its integrity check: %s", path,
                 buf[0] ? buf : sqlite3_errmsg(st->db));
        goto fail;
    }
    if (!readonly && (migrate(st, err, errlen) != 0 || load_hash_key(st, err, errlen) != 0 ||
                      seal_existing(st, path, err, errlen) != 0))
        goto fail;
    /* Room for the (partner, source, id) index of a busy year in memory. */
    sqlite3_exec(st->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    if (readonly) {
        if (pragma_text(st->db, "PRAGMA user_version", buf, sizeof buf) != 0 ||
            strtol(buf, NULL, 10) != SCHEMA_VERSION) {
            snprintf(err, errlen, "database %s has schema version %s, expected %d", path, buf,
                     SCHEMA_VERSION);
            goto fail;
        }
        if (prepare(st, &st->read_body,
                    "SELECT partner, source, id, body, purged FROM events "
                    "WHERE seq = ?1",
                    err, errlen))
            goto fail;
        return st;
    }
    if (prepare(st, &st->begin, "BEGIN IMMEDIATE", err, errlen) ||
        prepare(st, &st->commit, "COMMIT", err, errlen) ||
        prepare(st, &st->rollback, "ROLLBACK", err, errlen) ||
        prepare(st, &st->event_key_columns, "SELECT partner, source, id FROM events WHERE seq = ?1",
                err, errlen) ||
        prepare(st, &st->insert_event,
                "INSERT INTO events (partner, source, id, type, time, received, body) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                err, errlen) ||
        prepare(st, &st->insert_key, "INSERT INTO event_keys (seq, key_hash) VALUES (?1, ?2)", err,
                errlen) ||
        prepare(st, &st->insert_referral,
                "INSERT INTO referrals (id, signal_seq, partner, policy, rule, state, created, "
                "updated, receipt_due_ms, decision_due_ms, created_ms, receipt_deadline_ms, "
                "decision_deadline_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?8, ?9)",
                err, errlen) ||
        prepare(st, &st->get_referral,
                "SELECT id, signal_seq, partner, policy, rule, state, receipt_due_ms, "
                "decision_due_ms FROM referrals WHERE id = ?1",
                err, errlen) ||
        prepare(st, &st->referral_answered,
                "UPDATE referrals SET received_ms = COALESCE(received_ms, ?2), "
                "decided_ms = COALESCE(decided_ms, ?3) WHERE id = ?1",
                err, errlen) ||
        prepare(st, &st->insert_facts,
                "INSERT INTO signal_facts (seq, received_ms, partner, role, forms, urgency, minor, "
                "municipality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                err, errlen) ||
        prepare(st, &st->update_referral,
                "UPDATE referrals SET state = ?2, updated = ?3, receipt_due_ms = ?4, "
                "decision_due_ms = ?5 WHERE id = ?1",
                err, errlen) ||
        prepare(st, &st->insert_history,
                "INSERT INTO referral_history (referral, time, actor, event, from_state, "
                "to_state, event_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                err, errlen) ||
        prepare(st, &st->insert_delivery,
                "INSERT INTO deliveries (event_id, referral, partner, state, created, payload) "
                "VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
                err, errlen) ||
        prepare(st, &st->pending_deliveries,
                "SELECT seq, event_id, payload, attempts FROM deliveries "
                "WHERE partner = ?1 AND state = 'pending' AND seq > ?2 AND purged IS NULL "
                "ORDER BY seq LIMIT ?3",
                err, errlen) ||
        prepare(st, &st->confirm_delivery,
                "UPDATE deliveries SET state = 'confirmed', confirmed = ?3 "
                "WHERE event_id = ?1 AND partner = ?2 AND state = 'pending'",
                err, errlen) ||
        prepare(st, &st->dead_delivery,
                "UPDATE deliveries SET state = 'dead', dead_reason = ?2, last_attempt = ?3, "
                "attempts = ?4 WHERE seq = ?1 AND state = 'pending'",
                err, errlen) ||
        prepare(st, &st->read_body,
                "SELECT partner, source, id, body, purged FROM events WHERE seq = ?1", err, errlen))
        goto fail;
    st->chain = audit_chain_new(st->db, err, errlen);
    if (!st->chain)
        goto fail;
    if (load_keys(st, err, errlen) != 0 || start_checkpointer(st, path, err, errlen) != 0)
        goto fail;
    return st;
fail:
    store_close(&st);
    return NULL;
}

struct store *store_open(const char *path, const struct seal_key *key, char *err, size_t errlen)
{
    if (!key) {
        snprintf(err, errlen, "database %s: no encryption key", path);
        return NULL;
    }
    return open_common(path, key, 0, err, errlen);
}

struct store *store_open_readonly(const char *path, const struct seal_key *key, char *err,
                                  size_t errlen)
{
    return open_common(path, key, 1, err, errlen);
}

void store_close(struct store **self_p)
{
    struct store *st = *self_p;
    if (!st)
        return;
    stop_checkpointer(st);
    sqlite3_finalize(st->begin);
    sqlite3_finalize(st->commit);
    sqlite3_finalize(st->rollback);
    sqlite3_finalize(st->event_key_columns);
    sqlite3_finalize(st->insert_referral);
    sqlite3_finalize(st->get_referral);
    sqlite3_finalize(st->update_referral);
    sqlite3_finalize(st->referral_answered);
    sqlite3_finalize(st->insert_facts);
    sqlite3_finalize(st->insert_history);
    sqlite3_finalize(st->insert_delivery);
    sqlite3_finalize(st->pending_deliveries);
    sqlite3_finalize(st->confirm_delivery);
    sqlite3_finalize(st->dead_delivery);
    sqlite3_finalize(st->insert_key);
    keymap_free(&st->keys);
    free(st->pending);
    sqlite3_finalize(st->insert_event);
    audit_chain_free(&st->chain);
    sqlite3_finalize(st->read_body);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock */
    if (st->buf)
        sodium_memzero(st->buf, st->bufcap);
    free(st->buf);
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
    st->npending = 0;
    st->err[0] = '\0';
    return step_done(st->begin);
}

int store_commit(struct store *st)
{
    if (step_done(st->commit) != 0)
        return -1;
    st->npending = 0;
    return 0;
}

void store_rollback(struct store *st)
{
    if (sqlite3_get_autocommit(st->db) == 0)
        step_done(st->rollback);
    /* Keys of events that are not in the database any more. */
    for (size_t i = 0; i < st->npending; i++)
        keymap_remove(st->keys, st->pending[i].hash, st->pending[i].seq);
    st->npending = 0;
}

const char *store_errmsg(const struct store *st)
{
    return st->err[0] ? st->err : sqlite3_errmsg(st->db);
}

/* Room for n bytes in the scratch buffer. 0 or -1. */
static int reserve(struct store *st, size_t n)
{
    if (n <= st->bufcap)
        return 0;
    size_t cap = st->bufcap ? st->bufcap : 4096;
    while (cap < n)
        cap *= 2;
    uint8_t *grown = malloc(cap);
    if (!grown) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return -1;
    }
    if (st->buf)
        sodium_memzero(st->buf, st->bufcap);
    free(st->buf);
    st->buf = grown;
    st->bufcap = cap;
    return 0;
}

static void bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, i);
}

static int64_t key_hash(const struct store *st, const struct store_event *ev)
{
    /* partner NUL source NUL id: unambiguous, as none of them holds a NUL. */
    size_t lp = strlen(ev->partner), ls = strlen(ev->source), li = strlen(ev->id);
    size_t n = lp + ls + li + 2;
    unsigned char stack[512];
    unsigned char *buf = n <= sizeof stack ? stack : malloc(n);
    uint8_t out[crypto_shorthash_BYTES];
    int64_t h = 0;
    if (!buf)
        return 0; /* a constant hash is slower, never wrong: columns decide */
    memcpy(buf, ev->partner, lp + 1);
    memcpy(buf + lp + 1, ev->source, ls + 1);
    memcpy(buf + lp + ls + 2, ev->id, li);
    crypto_shorthash(out, buf, n, st->hash_key);
    memcpy(&h, out, sizeof h);
    if (buf != stack)
        free(buf);
    return h;
}

/* 1 if stored event `seq` has this partner, source and id; 0 if not; -1 on error. */
static int same_key(struct store *st, int64_t seq, const struct store_event *ev)
{
    sqlite3_stmt *s = st->event_key_columns;
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    int same = 0;
    if (rc == SQLITE_ROW)
        same = strcmp((const char *)sqlite3_column_text(s, 0), ev->partner) == 0 &&
               strcmp((const char *)sqlite3_column_text(s, 1), ev->source) == 0 &&
               strcmp((const char *)sqlite3_column_text(s, 2), ev->id) == 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? same : -1;
}

int store_find_event(struct store *st, const struct store_event *ev, int64_t *seq)
{
    uint64_t h = (uint64_t)key_hash(st, ev);
    size_t cursor = 0;
    int64_t candidate;
    while ((candidate = keymap_next(st->keys, h, &cursor)) != 0) {
        int same = same_key(st, candidate, ev);
        if (same < 0)
            return -1;
        if (same) {
            *seq = candidate;
            return 1;
        }
    }
    return 0;
}

int store_insert_event(struct store *st, const struct store_event *ev, int64_t *seq)
{
    uint64_t h = (uint64_t)key_hash(st, ev);
    if (st->npending == st->cap_pending) {
        size_t cap = st->cap_pending ? st->cap_pending * 2 : 256;
        struct pending_key *grown = realloc(st->pending, cap * sizeof *grown);
        if (!grown)
            return -1;
        st->pending = grown;
        st->cap_pending = cap;
    }
    const uint8_t *sealed = ev->sealed;
    size_t sealed_len = ev->sealed_len;
    if (!sealed) {
        if (!st->key || reserve(st, seal_size(ev->body_len)) != 0 ||
            seal_encrypt(st->key, SEAL_AD_EVENT(ev->partner, ev->source, ev->id), SEAL_AD_EVENT_N,
                         ev->body, ev->body_len, st->buf) != 0) {
            if (!st->err[0])
                snprintf(st->err, sizeof st->err, "cannot seal the event: %s",
                         st->key ? "out of memory" : "no encryption key");
            return -1;
        }
        sealed = st->buf;
        sealed_len = seal_size(ev->body_len);
    }
    sqlite3_stmt *in = st->insert_event;
    bind_text(in, 1, ev->partner);
    bind_text(in, 2, ev->source);
    bind_text(in, 3, ev->id);
    bind_text(in, 4, ev->type);
    bind_text(in, 5, ev->time);
    bind_text(in, 6, ev->received);
    sqlite3_bind_blob(in, 7, sealed, (int)sealed_len, SQLITE_STATIC);
    if (step_done(in) != 0)
        return -1;
    int64_t new_seq = sqlite3_last_insert_rowid(st->db);
    sqlite3_stmt *k = st->insert_key;
    sqlite3_bind_int64(k, 1, new_seq);
    sqlite3_bind_int64(k, 2, (int64_t)h);
    if (step_done(k) != 0 || keymap_add(st->keys, h, new_seq) != 0)
        return -1; /* the caller rolls back; a key added above is removed then */
    st->pending[st->npending].hash = h;
    st->pending[st->npending].seq = new_seq;
    st->npending++;
    *seq = new_seq;
    return 0;
}

int store_put_event(struct store *st, const struct store_event *ev, int64_t *seq)
{
    int found = store_find_event(st, ev, seq);
    if (found != 0)
        return found < 0 ? -1 : STORE_EXISTS;
    return store_insert_event(st, ev, seq) == 0 ? STORE_NEW : -1;
}

static void bind_ms(sqlite3_stmt *s, int i, int64_t ms)
{
    if (ms > 0)
        sqlite3_bind_int64(s, i, ms);
    else
        sqlite3_bind_null(s, i);
}

int store_put_referral(struct store *st, const struct store_referral *r)
{
    sqlite3_stmt *s = st->insert_referral;
    bind_text(s, 1, r->id);
    sqlite3_bind_int64(s, 2, r->signal_seq);
    bind_text(s, 3, r->partner);
    bind_text(s, 4, r->policy);
    bind_text(s, 5, r->rule);
    bind_text(s, 6, r->state);
    bind_text(s, 7, r->time);
    bind_ms(s, 8, r->receipt_due_ms);
    bind_ms(s, 9, r->decision_due_ms);
    bind_ms(s, 10, r->created_ms);
    return step_done(s);
}

int store_referral_answered(struct store *st, const char *id, int64_t received_ms,
                            int64_t decided_ms)
{
    sqlite3_stmt *s = st->referral_answered;
    bind_text(s, 1, id);
    bind_ms(s, 2, received_ms);
    bind_ms(s, 3, decided_ms);
    return step_done(s);
}

int store_put_signal_facts(struct store *st, const struct store_signal_facts *f)
{
    sqlite3_stmt *s = st->insert_facts;
    sqlite3_bind_int64(s, 1, f->seq);
    sqlite3_bind_int64(s, 2, f->received_ms);
    bind_text(s, 3, f->partner);
    bind_text(s, 4, f->role);
    sqlite3_bind_int(s, 5, (int)f->forms);
    bind_text(s, 6, f->urgency);
    sqlite3_bind_int(s, 7, f->minor);
    if (f->municipality && *f->municipality)
        bind_text(s, 8, f->municipality);
    else
        sqlite3_bind_null(s, 8);
    return step_done(s);
}

static void copy_column(sqlite3_stmt *s, int col, char *out, size_t len)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, len, "%s", t ? (const char *)t : "");
}

int store_get_referral(struct store *st, const char *id, struct store_referral_row *out)
{
    sqlite3_stmt *s = st->get_referral;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        copy_column(s, 0, out->id, sizeof out->id);
        out->signal_seq = sqlite3_column_int64(s, 1);
        copy_column(s, 2, out->partner, sizeof out->partner);
        copy_column(s, 3, out->policy, sizeof out->policy);
        copy_column(s, 4, out->rule, sizeof out->rule);
        copy_column(s, 5, out->state, sizeof out->state);
        out->receipt_due_ms = sqlite3_column_int64(s, 6);
        out->decision_due_ms = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_update_referral(struct store *st, const char *id, const char *state, const char *time,
                          int64_t receipt_due_ms, int64_t decision_due_ms)
{
    sqlite3_stmt *s = st->update_referral;
    bind_text(s, 1, id);
    bind_text(s, 2, state);
    bind_text(s, 3, time);
    bind_ms(s, 4, receipt_due_ms);
    bind_ms(s, 5, decision_due_ms);
    return step_done(s) == 0 && sqlite3_changes(st->db) == 1 ? 0 : -1;
}

int store_add_history(struct store *st, const struct store_history *h)
{
    sqlite3_stmt *s = st->insert_history;
    bind_text(s, 1, h->referral);
    bind_text(s, 2, h->time);
    bind_text(s, 3, h->actor);
    bind_text(s, 4, h->event);
    bind_text(s, 5, h->from_state);
    bind_text(s, 6, h->to_state);
    if (h->event_seq > 0)
        sqlite3_bind_int64(s, 7, h->event_seq);
    else
        sqlite3_bind_null(s, 7);
    return step_done(s);
}

int store_put_delivery(struct store *st, const char *event_id, const char *referral,
                       const char *partner, const char *time, const char *payload)
{
    size_t n = strlen(payload);
    if (!st->key || reserve(st, seal_size(n)) != 0 ||
        seal_encrypt(st->key, SEAL_AD_DELIVERY(event_id), SEAL_AD_DELIVERY_N, payload, n,
                     st->buf) != 0) {
        if (!st->err[0])
            snprintf(st->err, sizeof st->err, "cannot seal the delivery: %s",
                     st->key ? "out of memory" : "no encryption key");
        return -1;
    }
    return store_put_delivery_sealed(st, event_id, referral, partner, time, st->buf, seal_size(n));
}

int store_put_delivery_sealed(struct store *st, const char *event_id, const char *referral,
                              const char *partner, const char *time, const uint8_t *sealed,
                              size_t sealed_len)
{
    sqlite3_stmt *s = st->insert_delivery;
    bind_text(s, 1, event_id);
    bind_text(s, 2, referral);
    bind_text(s, 3, partner);
    bind_text(s, 4, time);
    sqlite3_bind_blob(s, 5, sealed, (int)sealed_len, SQLITE_STATIC);
    return step_done(s);
}

const struct seal_key *store_key(const struct store *st)
{
    return st->key;
}

int store_pending_deliveries(struct store *st, const char *partner, int64_t after_seq, size_t max,
                             store_delivery_fn fn, void *arg)
{
    sqlite3_stmt *s = st->pending_deliveries;
    bind_text(s, 1, partner);
    sqlite3_bind_int64(s, 2, after_seq);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    int rc, n = 0, unopened = 0;
    st->err[0] = '\0';
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *event_id = (const char *)sqlite3_column_text(s, 1);
        const uint8_t *sealed = sqlite3_column_blob(s, 2);
        size_t sealed_len = (size_t)sqlite3_column_bytes(s, 2);
        size_t len = 0;
        char why[200];
        if (!st->key || sealed_len < SEAL_OVERHEAD || reserve(st, sealed_len) != 0 ||
            seal_decrypt(st->key, SEAL_AD_DELIVERY(event_id), SEAL_AD_DELIVERY_N, sealed,
                         sealed_len, (char *)st->buf, &len, why, sizeof why) != SEAL_OK) {
            if (!unopened++)
                snprintf(st->err, sizeof st->err, "deliveries seq %lld: %s",
                         (long long)sqlite3_column_int64(s, 0),
                         !st->key                     ? "no encryption key"
                         : sealed_len < SEAL_OVERHEAD ? "not an encrypted value"
                                                      : why);
            continue;
        }
        struct store_delivery d = {
            .seq = sqlite3_column_int64(s, 0),
            .event_id = event_id,
            .payload = (const char *)st->buf,
            .payload_len = len,
            .attempts = sqlite3_column_int(s, 3),
        };
        fn(arg, &d);
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        st->err[0] = '\0'; /* SQLite's message applies */
    return rc == SQLITE_DONE && !unopened ? n : -1;
}

int store_confirm_delivery(struct store *st, const char *event_id, const char *partner,
                           const char *time)
{
    sqlite3_stmt *s = st->confirm_delivery;
    bind_text(s, 1, event_id);
    bind_text(s, 2, partner);
    bind_text(s, 3, time);
    if (step_done(s) != 0)
        return -1;
    return sqlite3_changes(st->db) == 1;
}

int store_dead_letter(struct store *st, int64_t seq, int attempts, const char *reason,
                      const char *time)
{
    sqlite3_stmt *s = st->dead_delivery;
    sqlite3_bind_int64(s, 1, seq);
    bind_text(s, 2, reason);
    bind_text(s, 3, time);
    sqlite3_bind_int(s, 4, attempts);
    return step_done(s);
}

int store_audit(struct store *st, const struct audit_record *rec)
{
    return st->chain ? audit_chain_append(st->chain, rec, NULL) : -1; /* read-only: none */
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
    json_t *referrals =
        query_groups(st->db, "SELECT state, count(*) FROM referrals GROUP BY state");
    json_t *deliveries =
        query_groups(st->db, "SELECT state, count(*) FROM deliveries GROUP BY state");
    json_t *escalations =
        query_groups(st->db, "SELECT state, count(*) FROM escalations GROUP BY state");
    json_t *alerts = query_groups(st->db, "SELECT state, count(*) FROM alerts GROUP BY state");
    if (!by_type || !by_partner || !rejected || !referrals || !deliveries || !escalations ||
        !alerts) {
        json_decref(escalations);
        json_decref(alerts);
        json_decref(by_type);
        json_decref(by_partner);
        json_decref(rejected);
        json_decref(referrals);
        json_decref(deliveries);
        return NULL;
    }
    return json_pack("{sI sI so so so so so so so sI sI}", "events", (json_int_t)events, "last_seq",
                     (json_int_t)last, "by_type", by_type, "by_partner", by_partner,
                     "intake_outcomes", rejected, "referrals_by_state", referrals,
                     "deliveries_by_state", deliveries, "escalations_by_state", escalations,
                     "alerts_by_state", alerts, "audit_records", (json_int_t)audit,
                     "schema_version", (json_int_t)version);
}

struct sqlite3 *store_sqlite(struct store *st)
{
    return st->db;
}

unsigned long store_checkpoints(struct store *st)
{
    if (!st->ck.started)
        return 0;
    pthread_mutex_lock(&st->ck.mu);
    unsigned long runs = st->ck.runs;
    pthread_mutex_unlock(&st->ck.mu);
    return runs;
}

char *store_event_body(struct store *st, int64_t seq, size_t *len)
{
    char *out = NULL;
    return store_event_read(st, seq, &out, len) == 1 ? out : NULL;
}

/* ---- encryption at rest (docs/encryption.md) ---------------------------- */

static int lock_database(struct store *st, const char *path, char *err, size_t errlen)
{
    char lock[4096];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock) {
        snprintf(err, errlen, "database path %s is too long", path);
        return -1;
    }
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen,
                 "database %s is in use: %s is held by another process (a running ketenhubd, "
                 "or ketenctl rekey or purge)",
                 path, lock);
        return -1;
    }
    return 0;
}

int store_in_use(const char *path, char *err, size_t errlen)
{
    char lock[4096];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock) {
        snprintf(err, errlen, "database path %s is too long", path);
        return -1;
    }
    int fd = open(lock, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0; /* never opened for writing */
        snprintf(err, errlen, "cannot open %s: %s", lock, strerror(errno));
        return -1;
    }
    int rc = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            rc = 1;
        } else {
            snprintf(err, errlen, "cannot test the lock %s: %s", lock, strerror(errno));
            rc = -1;
        }
    }
    close(fd); /* releases a shared lock taken above */
    return rc;
}

int store_key_id(struct store *st, char out[SEAL_KEY_ID_HEX])
{
    sqlite3_stmt *s = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE name = 'seal_key_id'", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(out, SEAL_KEY_ID_HEX, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int set_key_id(struct store *st, const struct seal_key *k)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO meta (name, value) VALUES ('seal_key_id', ?1)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, k->id_hex, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

/* The sealed columns: each names its row by the columns after the value. */
struct sealed_column {
    const char *table;
    const char *select_clear;  /* rows still in clear text (before version 5) */
    const char *select_sealed; /* rows holding a sealed value */
    const char *update;
    int nparts; /* AD parts after the table name */
};

static const struct sealed_column sealed_columns[] = {
    {"events",
     "SELECT seq, body, partner, source, id FROM events WHERE seq > ?1 AND typeof(body) = 'text' "
     "ORDER BY seq LIMIT 256",
     "SELECT seq, body, partner, source, id FROM events WHERE seq > ?1 AND purged IS NULL "
     "ORDER BY seq LIMIT 256",
     "UPDATE events SET body = ?2 WHERE seq = ?1", 3},
    {"deliveries",
     "SELECT seq, payload, event_id FROM deliveries WHERE seq > ?1 AND typeof(payload) = 'text' "
     "ORDER BY seq LIMIT 256",
     "SELECT seq, payload, event_id FROM deliveries WHERE seq > ?1 AND purged IS NULL "
     "ORDER BY seq LIMIT 256",
     "UPDATE deliveries SET payload = ?2 WHERE seq = ?1", 1},
    /* An officer's free-text note on an acknowledgement (hub/escalate.c). */
    {"escalations",
     "SELECT id, ack_note, id FROM escalations WHERE id > ?1 AND typeof(ack_note) = 'text' "
     "ORDER BY id LIMIT 256",
     "SELECT id, ack_note, id FROM escalations WHERE id > ?1 AND ack_note IS NOT NULL "
     "ORDER BY id LIMIT 256",
     "UPDATE escalations SET ack_note = ?2 WHERE id = ?1", 1},
};

struct resealed {
    int64_t seq;
    uint8_t *value;
    size_t len;
};

/*
 * Goes through one sealed column: opens each value under `from` (NULL: the
 * column is read as clear text, the rows of a version before 5) and, when
 * `to` is not NULL, seals it under `to` and writes it back. Rows are read in
 * batches of 256 and written after each batch, so no statement reads a table
 * while it is written. Call inside a transaction. Returns 0 or -1 (err).
 */
static int reseal_column(struct store *st, const struct sealed_column *c,
                         const struct seal_key *from, const struct seal_key *to, long long *count,
                         char *err, size_t errlen)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    struct resealed batch[256];
    size_t nb = 0;
    int64_t last = 0;
    int rc = -1, more = 1;
    char *plain = NULL;
    size_t plaincap = 0;
    if (sqlite3_prepare_v2(st->db, from ? c->select_sealed : c->select_clear, -1, &sel, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(st->db, c->update, -1, &upd, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", c->table, sqlite3_errmsg(st->db));
        goto done;
    }
    while (more) {
        more = 0;
        nb = 0;
        sqlite3_bind_int64(sel, 1, last);
        int step;
        while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
            more = 1;
            struct resealed *r = &batch[nb];
            r->seq = last = sqlite3_column_int64(sel, 0);
            r->value = NULL;
            const void *value = sqlite3_column_blob(sel, 1);
            size_t len = (size_t)sqlite3_column_bytes(sel, 1);
            const char *parts[4] = {c->table, NULL, NULL, NULL};
            for (int i = 0; i < c->nparts; i++) {
                const unsigned char *t = sqlite3_column_text(sel, 2 + i);
                parts[1 + i] = t ? (const char *)t : "";
            }
            const char *text = value;
            size_t text_len = len;
            if (from) {
                char why[200];
                if (len + 1 > plaincap) {
                    free(plain);
                    plaincap = len + 1;
                    plain = malloc(plaincap);
                    if (!plain) {
                        snprintf(err, errlen, "out of memory");
                        goto done;
                    }
                }
                if (seal_decrypt(from, parts, (size_t)c->nparts + 1, value, len, plain, &text_len,
                                 why, sizeof why) != SEAL_OK) {
                    snprintf(err, errlen, "%s seq %lld: %s", c->table, (long long)r->seq, why);
                    goto done;
                }
                text = plain;
            }
            ++*count;
            if (!to)
                continue;
            r->len = seal_size(text_len);
            r->value = malloc(r->len);
            if (!r->value ||
                seal_encrypt(to, parts, (size_t)c->nparts + 1, text, text_len, r->value) != 0) {
                free(r->value);
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            nb++;
        }
        sqlite3_reset(sel);
        if (step != SQLITE_DONE) {
            snprintf(err, errlen, "%s: %s", c->table, sqlite3_errmsg(st->db));
            goto done;
        }
        for (size_t i = 0; i < nb; i++) {
            sqlite3_bind_int64(upd, 1, batch[i].seq);
            sqlite3_bind_blob(upd, 2, batch[i].value, (int)batch[i].len, SQLITE_STATIC);
            if (step_done(upd) != 0) {
                snprintf(err, errlen, "%s seq %lld: %s", c->table, (long long)batch[i].seq,
                         sqlite3_errmsg(st->db));
                goto done;
            }
        }
        for (size_t i = 0; i < nb; i++)
            free(batch[i].value);
        nb = 0;
    }
    rc = 0;
done:
    for (size_t i = 0; i < nb; i++)
        free(batch[i].value);
    if (plain)
        sodium_memzero(plain, plaincap);
    free(plain);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

static int count_purged(struct store *st, long long *out)
{
    return query_int(st->db,
                     "SELECT (SELECT count(*) FROM events WHERE purged IS NOT NULL) + "
                     "(SELECT count(*) FROM deliveries WHERE purged IS NOT NULL)",
                     out);
}

static int reseal_all(struct store *st, const struct seal_key *from, const struct seal_key *to,
                      struct store_seal_counts *counts, char *err, size_t errlen)
{
    struct store_seal_counts n = {0, 0, 0, 0};
    if (reseal_column(st, &sealed_columns[0], from, to, &n.events, err, errlen) != 0 ||
        reseal_column(st, &sealed_columns[1], from, to, &n.deliveries, err, errlen) != 0 ||
        reseal_column(st, &sealed_columns[2], from, to, &n.notes, err, errlen) != 0)
        return -1;
    if (count_purged(st, &n.purged) != 0) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
        return -1;
    }
    if (counts)
        *counts = n;
    return 0;
}

/* After migrate(): checks the database's key against ours; a database that
 * has none yet (new, or made by a hub before version 5) gets its clear-text
 * values sealed and our key id, in one transaction. Idempotent: a crash
 * before the commit leaves it as it was. */
static int seal_existing(struct store *st, const char *path, char *err, size_t errlen)
{
    char have[SEAL_KEY_ID_HEX];
    if (store_key_id(st, have) != 0) {
        snprintf(err, errlen, "database %s: cannot read its key id: %s", path,
                 sqlite3_errmsg(st->db));
        return -1;
    }
    if (have[0]) {
        if (strcmp(have, st->key->id_hex) == 0)
            return 0;
        snprintf(err, errlen,
                 "database %s: encrypted under key id %s; the configured key is %s "
                 "(/encryption_key names another key file than the database's, or the database "
                 "was re-keyed; see docs/encryption.md)",
                 path, have, st->key->id_hex);
        return -1;
    }
    char why[512] = "";
    struct store_seal_counts n = {0, 0, 0, 0};
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        reseal_all(st, NULL, st->key, &n, why, sizeof why) != 0 || set_key_id(st, st->key) != 0 ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database %s: cannot encrypt the stored values: %s", path,
                 why[0] ? why : sqlite3_errmsg(st->db));
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    /* The clear text is zeroed in the pages (secure_delete); the WAL still
     * holds the old page images until it is reused: copy it back and empty
     * it now. */
    if (n.events + n.deliveries + n.notes > 0 &&
        sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "database %s: cannot checkpoint after encrypting: %s", path,
                 sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

int store_rekey(struct store *st, const struct seal_key *to, const struct audit_record *rec,
                struct store_seal_counts *counts, char *err, size_t errlen)
{
    char why[512] = "";
    if (!st->key) {
        snprintf(err, errlen, "no encryption key");
        return -1;
    }
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
        reseal_all(st, st->key, to, counts, why, sizeof why) != 0 || set_key_id(st, to) != 0 ||
        (rec && store_audit(st, rec) != 0) ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s; nothing was changed", why[0] ? why : store_errmsg(st));
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int store_seal_check(struct store *st, struct store_seal_counts *counts, char *err, size_t errlen)
{
    if (!st->key) {
        snprintf(err, errlen, "no encryption key");
        return -1;
    }
    /* One read transaction: a consistent view beside a running hub. */
    sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    int rc = reseal_all(st, st->key, NULL, counts, err, errlen);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

int store_event_read(struct store *st, int64_t seq, char **body, size_t *len)
{
    sqlite3_stmt *s = st->read_body;
    int rc = -1;
    *body = NULL;
    st->err[0] = '\0';
    sqlite3_bind_int64(s, 1, seq);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE || (step == SQLITE_ROW && sqlite3_column_type(s, 4) != SQLITE_NULL)) {
        rc = 0; /* absent, or purged under retention */
    } else if (step == SQLITE_ROW) {
        const char *parts[4] = {"events", (const char *)sqlite3_column_text(s, 0),
                                (const char *)sqlite3_column_text(s, 1),
                                (const char *)sqlite3_column_text(s, 2)};
        const uint8_t *sealed = sqlite3_column_blob(s, 3);
        size_t n = (size_t)sqlite3_column_bytes(s, 3), plain_len = 0;
        char why[200];
        char *out = n >= SEAL_OVERHEAD ? malloc(n) : NULL;
        if (!st->key)
            snprintf(st->err, sizeof st->err, "events seq %lld: no encryption key", (long long)seq);
        else if (n < SEAL_OVERHEAD)
            snprintf(st->err, sizeof st->err, "events seq %lld: not an encrypted value",
                     (long long)seq);
        else if (!out)
            snprintf(st->err, sizeof st->err, "out of memory");
        else if (seal_decrypt(st->key, parts, SEAL_AD_EVENT_N, sealed, n, out, &plain_len, why,
                              sizeof why) != SEAL_OK)
            snprintf(st->err, sizeof st->err, "events seq %lld: %s", (long long)seq, why);
        else {
            *body = out;
            out = NULL;
            if (len)
                *len = plain_len;
            rc = 1;
        }
        free(out);
    }
    sqlite3_reset(s);
    return rc;
}
