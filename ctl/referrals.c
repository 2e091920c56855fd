/*
 * referrals (ketenctl) - referrals, dead letters and replay over the hub's
 * database; see ctl/referrals.h.
 *
 * Every query result becomes a jansson array of objects first; --json dumps
 * it, the human form prints the same rows as an aligned table. One path, so
 * the two outputs cannot disagree.
 */
#include "ctl/referrals.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "ctl/db.h"
#include "hub/audit.h"
#include "seal.h"
#include "util.h"

/* The hub commits in short group transactions; 5 s covers a slow fsync. */
#define MAX_COLUMNS 12
#define CELL_MAX 160

/* How a column of a query becomes a JSON value; SQL NULL is always null. */
enum kind {
    KIND_TEXT,
    KIND_INT,
    KIND_TIME_MS /* UTC ms since the epoch, shown as RFC 3339 */
};

/* Column i of a query is field i of the JSON row. */
struct field {
    const char *name;
    enum kind kind;
};

/* One column of a human table: its header, the JSON field it shows, and the
 * text for null. */
struct column {
    const char *header;
    const char *field;
    const char *absent;
};

static const struct field referral_fields[] = {
    {"id", KIND_TEXT},
    {"signal_seq", KIND_INT},
    {"partner", KIND_TEXT},
    {"policy", KIND_TEXT},
    {"rule", KIND_TEXT},
    {"state", KIND_TEXT},
    {"created", KIND_TEXT},
    {"updated", KIND_TEXT},
    {"receipt_due", KIND_TIME_MS},
    {"decision_due", KIND_TIME_MS},
};
#define REFERRAL_COLUMNS                                                                           \
    "id, signal_seq, partner, policy, rule, state, created, updated, receipt_due_ms, "             \
    "decision_due_ms"

static const struct column referral_table[] = {
    {"ID", "id", "-"},
    {"SIGNAL", "signal_seq", "-"},
    {"PARTNER", "partner", "-"},
    {"POLICY", "policy", "-"},
    {"RULE", "rule", "-"},
    {"STATE", "state", "-"},
    {"CREATED", "created", "-"},
    {"UPDATED", "updated", "-"},
    {"RECEIPT DUE", "receipt_due", "none"},
    {"DECISION DUE", "decision_due", "none"},
};

static const struct field history_fields[] = {
    {"time", KIND_TEXT},       {"actor", KIND_TEXT},    {"event", KIND_TEXT},
    {"from_state", KIND_TEXT}, {"to_state", KIND_TEXT}, {"event_seq", KIND_INT},
};

static const struct column history_table[] = {
    {"TIME", "time", "-"},       {"ACTOR", "actor", "-"}, {"EVENT", "event", "-"},
    {"FROM", "from_state", "-"}, {"TO", "to_state", "-"}, {"EVENT SEQ", "event_seq", "-"},
};

static const struct field delivery_fields[] = {
    {"seq", KIND_INT},          {"event_id", KIND_TEXT},     {"state", KIND_TEXT},
    {"attempts", KIND_INT},     {"last_attempt", KIND_TEXT}, {"confirmed", KIND_TEXT},
    {"dead_reason", KIND_TEXT},
};

static const struct column delivery_table[] = {
    {"SEQ", "seq", "-"},
    {"EVENT ID", "event_id", "-"},
    {"STATE", "state", "-"},
    {"ATTEMPTS", "attempts", "-"},
    {"LAST ATTEMPT", "last_attempt", "-"},
    {"CONFIRMED", "confirmed", "-"},
    {"DEAD REASON", "dead_reason", "-"},
};

static const struct field dead_fields[] = {
    {"seq", KIND_INT},          {"event_id", KIND_TEXT}, {"referral", KIND_TEXT},
    {"partner", KIND_TEXT},     {"attempts", KIND_INT},  {"last_attempt", KIND_TEXT},
    {"dead_reason", KIND_TEXT},
};

static const struct column dead_table[] = {
    {"SEQ", "seq", "-"},
    {"EVENT ID", "event_id", "-"},
    {"REFERRAL", "referral", "-"},
    {"PARTNER", "partner", "-"},
    {"ATTEMPTS", "attempts", "-"},
    {"LAST ATTEMPT", "last_attempt", "-"},
    {"REASON", "dead_reason", "-"},
};

static const struct column replay_table[] = {
    {"SEQ", "seq", "-"},         {"EVENT ID", "event_id", "-"}, {"REFERRAL", "referral", "-"},
    {"PARTNER", "partner", "-"}, {"RESULT", "result", "-"},
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Opens the database (read-only unless `writable`) and checks that it has
 * referrals. Returns the connection (caller closes), or NULL with err filled. */
static sqlite3 *open_db(const char *path, int writable, char *err, size_t errlen)
{
    return ctl_db_open(path, writable, REFERRALS_MIN_SCHEMA, "referrals need", err, errlen);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* The current row of `s` as a JSON object (caller owns it), or NULL. */
static json_t *row_object(sqlite3_stmt *s, const struct field *fields, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        int col = (int)i;
        json_t *v;
        if (sqlite3_column_type(s, col) == SQLITE_NULL) {
            v = json_null();
        } else if (fields[i].kind == KIND_INT) {
            v = json_integer((json_int_t)sqlite3_column_int64(s, col));
        } else if (fields[i].kind == KIND_TIME_MS) {
            char t[UTIL_TIME_LEN];
            util_time_format(sqlite3_column_int64(s, col), t);
            v = json_string(t);
        } else {
            const char *text = (const char *)sqlite3_column_text(s, col);
            v = json_stringn(text ? text : "", (size_t)sqlite3_column_bytes(s, col));
            if (!v) /* the hub writes only UTF-8; say so rather than fail */
                v = json_string("(not UTF-8)");
        }
        if (json_object_set_new(o, fields[i].name, v) != 0) { /* steals v, also on failure */
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* Steps `s` to its end; returns the rows as a JSON array (caller owns it), at
 * most `max` of them (0: no limit), or NULL with err filled. */
static json_t *query_rows(sqlite3 *db, sqlite3_stmt *s, const struct field *fields, size_t n,
                          size_t max, char *err, size_t errlen)
{
    json_t *rows = json_array();
    int rc = SQLITE_DONE;
    if (!rows)
        goto oom;
    while ((max == 0 || json_array_size(rows) < max) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = row_object(s, fields, n);
        if (!row || json_array_append_new(rows, row) != 0)
            goto oom;
    }
    if (max != 0 && json_array_size(rows) == max)
        return rows;
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        json_decref(rows);
        return NULL;
    }
    return rows;
oom:
    snprintf(err, errlen, "out of memory");
    json_decref(rows);
    return NULL;
}

/* Columns on screen: a UTF-8 sequence counts once. */
static size_t display_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void cell_text(const json_t *v, const char *absent, char out[CELL_MAX])
{
    if (json_is_integer(v)) {
        snprintf(out, CELL_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_string(v)) {
        snprintf(out, CELL_MAX, "%s", json_string_value(v));
        /* Values come from the database, not from us: no control character
         * reaches the terminal. */
        for (char *p = out; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    } else {
        snprintf(out, CELL_MAX, "%s", absent);
    }
}

static void pad(size_t n)
{
    while (n-- > 0)
        putchar(' ');
}

/* Prints `rows` as a table: a header line, then one line per row, each column
 * as wide as its widest cell, two spaces apart, each line after `indent`. */
static void print_table(const json_t *rows, const struct column *cols, size_t ncols,
                        const char *indent)
{
    size_t width[MAX_COLUMNS];
    char cell[CELL_MAX];
    size_t i;
    const json_t *row;
    if (ncols > MAX_COLUMNS)
        ncols = MAX_COLUMNS;
    for (size_t c = 0; c < ncols; c++)
        width[c] = display_width(cols[c].header);
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < ncols; c++) {
            cell_text(json_object_get(row, cols[c].field), cols[c].absent, cell);
            size_t w = display_width(cell);
            if (w > width[c])
                width[c] = w;
        }
    }
    fputs(indent, stdout);
    for (size_t c = 0; c < ncols; c++) {
        fputs(cols[c].header, stdout);
        if (c + 1 < ncols)
            pad(width[c] - display_width(cols[c].header) + 2);
    }
    putchar('\n');
    json_array_foreach(rows, i, row)
    {
        fputs(indent, stdout);
        for (size_t c = 0; c < ncols; c++) {
            cell_text(json_object_get(row, cols[c].field), cols[c].absent, cell);
            fputs(cell, stdout);
            if (c + 1 < ncols)
                pad(width[c] - display_width(cell) + 2);
        }
        putchar('\n');
    }
}

static int print_json(const json_t *doc, char *err, size_t errlen)
{
    if (json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF) {
        snprintf(err, errlen, "cannot write the JSON output");
        return -1;
    }
    return 0;
}

static int flush_out(char *err, size_t errlen)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        snprintf(err, errlen, "cannot write to standard output");
        return -1;
    }
    return 0;
}

int referrals_list(const char *db_path, const struct referrals_filter *filter, int as_json,
                   char *err, size_t errlen)
{
    sqlite3 *db = open_db(db_path, 0, err, errlen);
    sqlite3_stmt *s = NULL;
    json_t *rows = NULL, *doc = NULL;
    int rc = -1;
    if (!db)
        return -1;
    /* rowid order is insertion order, which is creation order (only the hub
     * inserts, stamping the current time): newest first without a sort. */
    if (prepare(db,
                "SELECT " REFERRAL_COLUMNS " FROM referrals "
                "WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR partner = ?2) "
                "ORDER BY rowid DESC LIMIT ?3",
                &s, err, errlen) != 0)
        goto done;
    if (filter->state)
        sqlite3_bind_text(s, 1, filter->state, -1, SQLITE_STATIC);
    if (filter->partner)
        sqlite3_bind_text(s, 2, filter->partner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)filter->limit + 1); /* one more: truncated? */
    rows = query_rows(db, s, referral_fields, COUNT(referral_fields), 0, err, errlen);
    if (!rows)
        goto done;
    int truncated = json_array_size(rows) > (size_t)filter->limit;
    if (truncated)
        json_array_remove(rows, json_array_size(rows) - 1);
    if (as_json) {
        doc = json_pack("{s:O, s:b}", "referrals", rows, "truncated", truncated);
        if (!doc) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (print_json(doc, err, errlen) != 0)
            goto done;
    } else if (json_array_size(rows) == 0) {
        printf("no referrals%s\n", filter->state || filter->partner ? " match" : "");
    } else {
        print_table(rows, referral_table, COUNT(referral_table), "");
        if (truncated)
            fprintf(stderr, "(the newest %ld shown; there are more: use --limit)\n", filter->limit);
    }
    rc = flush_out(err, errlen);
done:
    json_decref(doc);
    json_decref(rows);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

static void print_detail(const json_t *ref)
{
    static const struct {
        const char *label, *field, *absent;
    } lines[] = {
        {"referral", "id", "-"},
        {"signal seq", "signal_seq", "-"},
        {"partner", "partner", "-"},
        {"policy", "policy", "-"},
        {"rule", "rule", "-"},
        {"state", "state", "-"},
        {"created", "created", "-"},
        {"updated", "updated", "-"},
        {"receipt due", "receipt_due", "none"},
        {"decision due", "decision_due", "none"},
    };
    char cell[CELL_MAX];
    for (size_t i = 0; i < COUNT(lines); i++) {
        cell_text(json_object_get(ref, lines[i].field), lines[i].absent, cell);
        printf("%-14s%s\n", lines[i].label, cell);
    }
    const json_t *history = json_object_get(ref, "history");
    const json_t *deliveries = json_object_get(ref, "deliveries");
    printf("\nhistory (%zu)\n", json_array_size(history));
    print_table(history, history_table, COUNT(history_table), "  ");
    printf("\ndeliveries (%zu)\n", json_array_size(deliveries));
    if (json_array_size(deliveries) > 0)
        print_table(deliveries, delivery_table, COUNT(delivery_table), "  ");
}

int referrals_show(const char *db_path, const char *id, int as_json, char *err, size_t errlen)
{
    sqlite3 *db = open_db(db_path, 0, err, errlen);
    sqlite3_stmt *ref_q = NULL, *hist_q = NULL, *deliv_q = NULL;
    json_t *refs = NULL, *ref = NULL, *history = NULL, *deliveries = NULL;
    int rc = -1;
    if (!db)
        return -1;
    /* One read transaction: a snapshot, so the history and the deliveries
     * belong to the state shown even while the hub writes. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    if (prepare(db, "SELECT " REFERRAL_COLUMNS " FROM referrals WHERE id = ?1", &ref_q, err,
                errlen) != 0 ||
        prepare(db,
                "SELECT time, actor, event, from_state, to_state, event_seq "
                "FROM referral_history WHERE referral = ?1 ORDER BY seq",
                &hist_q, err, errlen) != 0 ||
        prepare(db,
                "SELECT seq, event_id, state, attempts, last_attempt, confirmed, dead_reason "
                "FROM deliveries WHERE referral = ?1 ORDER BY seq",
                &deliv_q, err, errlen) != 0)
        goto done;
    sqlite3_bind_text(ref_q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(hist_q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(deliv_q, 1, id, -1, SQLITE_STATIC);
    refs = query_rows(db, ref_q, referral_fields, COUNT(referral_fields), 1, err, errlen);
    if (!refs)
        goto done;
    if (json_array_size(refs) == 0) {
        rc = 1;
        goto done;
    }
    history = query_rows(db, hist_q, history_fields, COUNT(history_fields), 0, err, errlen);
    deliveries = query_rows(db, deliv_q, delivery_fields, COUNT(delivery_fields), 0, err, errlen);
    if (!history || !deliveries)
        goto done;
    ref = json_array_get(refs, 0); /* borrowed from refs */
    if (json_object_set(ref, "history", history) != 0 ||
        json_object_set(ref, "deliveries", deliveries) != 0) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (as_json) {
        if (print_json(ref, err, errlen) != 0)
            goto done;
    } else {
        print_detail(ref);
    }
    rc = flush_out(err, errlen);
done:
    json_decref(history);
    json_decref(deliveries);
    json_decref(refs);
    sqlite3_finalize(ref_q);
    sqlite3_finalize(hist_q);
    sqlite3_finalize(deliv_q);
    sqlite3_close(db); /* ends the read transaction */
    return rc;
}

int referrals_dead_letters(const char *db_path, int as_json, char *err, size_t errlen)
{
    sqlite3 *db = open_db(db_path, 0, err, errlen);
    sqlite3_stmt *s = NULL;
    json_t *rows = NULL, *doc = NULL;
    int rc = -1;
    if (!db)
        return -1;
    if (prepare(db,
                "SELECT seq, event_id, referral, partner, attempts, last_attempt, dead_reason "
                "FROM deliveries WHERE state = 'dead' ORDER BY seq",
                &s, err, errlen) != 0)
        goto done;
    rows = query_rows(db, s, dead_fields, COUNT(dead_fields), 0, err, errlen);
    if (!rows)
        goto done;
    if (as_json) {
        doc = json_pack("{s:O}", "dead_letters", rows);
        if (!doc) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (print_json(doc, err, errlen) != 0)
            goto done;
    } else if (json_array_size(rows) == 0) {
        printf("no dead letters\n");
    } else {
        print_table(rows, dead_table, COUNT(dead_table), "");
    }
    rc = flush_out(err, errlen);
done:
    json_decref(doc);
    json_decref(rows);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rc;
}

/* The seqs to replay: the named ones without repeats, or every dead one.
 * Returns the array (caller frees) and its size in *n, or NULL with err. */
static int64_t *replay_targets(sqlite3 *db, const int64_t *seqs, size_t nseqs, int all, size_t *n,
                               char *err, size_t errlen)
{
    int64_t *out = NULL;
    sqlite3_stmt *s = NULL;
    *n = 0;
    if (!all) {
        out = malloc((nseqs ? nseqs : 1) * sizeof *out);
        if (!out)
            goto oom;
        for (size_t i = 0; i < nseqs; i++) {
            size_t j = 0;
            while (j < *n && out[j] != seqs[i])
                j++;
            if (j == *n)
                out[(*n)++] = seqs[i];
        }
        return out;
    }
    if (prepare(db, "SELECT seq FROM deliveries WHERE state = 'dead' ORDER BY seq", &s, err,
                errlen) != 0)
        return NULL;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *grown = realloc(out, cap * sizeof *out);
            if (!grown)
                goto oom;
            out = grown;
        }
        out[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the dead letters: %s", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_finalize(s);
    if (!out) /* none: an empty list, not an error */
        out = malloc(sizeof *out);
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return out;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    sqlite3_finalize(s);
    free(out);
    return NULL;
}

/* Requeues delivery `seq` if it is dead; appends its result row to
 * `results`. Returns 1 when requeued, 0 when skipped, -1 on a database error. */
static int replay_one(sqlite3 *db, sqlite3_stmt *get, sqlite3_stmt *requeue,
                      struct audit_chain *audit, int64_t seq, const char *actor, const char *now,
                      json_t *results)
{
    static const char *const names[] = {"event_id", "referral", "partner"};
    int rc = -1;
    char state[41] = "", result[96];
    char *detail = NULL;
    json_t *row = json_pack("{s:I}", "seq", (json_int_t)seq);
    sqlite3_bind_int64(get, 1, seq);
    int step = sqlite3_step(get);
    if (!row || (step != SQLITE_ROW && step != SQLITE_DONE))
        goto done;
    /* Copied out before anything writes: the row is not read again. */
    for (int i = 0; step == SQLITE_ROW && i < 3; i++) {
        const char *t = (const char *)sqlite3_column_text(get, i + 1);
        json_object_set_new(row, names[i], t ? json_string(t) : json_null());
    }
    if (step == SQLITE_ROW)
        snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(get, 0));
    sqlite3_reset(get);
    if (step == SQLITE_DONE) {
        snprintf(result, sizeof result, "skipped: no such delivery");
        rc = 0;
    } else if (strcmp(state, "dead") != 0) {
        snprintf(result, sizeof result, "skipped: %s, not dead", state);
        rc = 0;
    } else {
        json_t *d =
            json_pack("{s:I, s:O, s:O}", "delivery", (json_int_t)seq, "referral",
                      json_object_get(row, "referral"), "partner", json_object_get(row, "partner"));
        detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        if (!detail)
            goto done;
        sqlite3_bind_int64(requeue, 1, seq);
        struct audit_record ar = {.time = now,
                                  .actor = actor,
                                  .action = "replay",
                                  .object = json_string_value(json_object_get(row, "event_id")),
                                  .outcome = "requeued",
                                  .detail = detail,
                                  .address = "local",
                                  .purpose = "beheer"};
        if (sqlite3_step(requeue) != SQLITE_DONE || sqlite3_changes(db) != 1 ||
            audit_chain_append(audit, &ar, NULL) != 0)
            goto done;
        snprintf(result, sizeof result, "requeued");
        rc = 1;
    }
    if (json_object_set_new(row, "result", json_string(result)) != 0 ||
        json_array_append(results, row) != 0)
        rc = -1;
done:
    json_decref(row);
    free(detail);
    sqlite3_reset(get);
    sqlite3_reset(requeue);
    return rc;
}

int referrals_replay(const char *db_path, const int64_t *seqs, size_t nseqs, int all,
                     const char *admin, char *err, size_t errlen)
{
    sqlite3 *db = open_db(db_path, 1, err, errlen);
    sqlite3_stmt *get = NULL, *requeue = NULL;
    struct audit_chain *audit = NULL;
    int64_t *targets = NULL;
    json_t *results = json_array();
    size_t n = 0, skipped = 0;
    int rc = -1, in_tx = 0;
    char actor[128], now[UTIL_TIME_LEN];
    if (!db)
        goto done;
    if (!results) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    snprintf(actor, sizeof actor, "admin:%s", admin);
    /* IMMEDIATE: take the write lock now (waiting up to the busy timeout for
     * the hub's commit), so no row changes between reading and requeueing. */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot start a write transaction on %s: %s", db_path,
                 sqlite3_errmsg(db));
        goto done;
    }
    in_tx = 1;
    if (prepare(db, "SELECT state, event_id, referral, partner FROM deliveries WHERE seq = ?1",
                &get, err, errlen) != 0 ||
        prepare(db,
                "UPDATE deliveries SET state = 'pending', attempts = 0, dead_reason = NULL "
                "WHERE seq = ?1 AND state = 'dead'",
                &requeue, err, errlen) != 0)
        goto done;
    /* Appended to the hash chain inside this transaction (hub/audit.h). */
    audit = audit_chain_new(db, err, errlen);
    if (!audit)
        goto done;
    targets = replay_targets(db, seqs, nseqs, all, &n, err, errlen);
    if (!targets)
        goto done;
    util_time_now(now);
    for (size_t i = 0; i < n; i++) {
        int done = replay_one(db, get, requeue, audit, targets[i], actor, now, results);
        if (done < 0) {
            snprintf(err, errlen, "cannot requeue delivery %lld: %s", (long long)targets[i],
                     sqlite3_errmsg(db));
            goto done;
        }
        skipped += done == 0;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot commit the replay: %s", sqlite3_errmsg(db));
        goto done;
    }
    in_tx = 0;
    /* Printed only now: "requeued" means committed. */
    if (n == 0)
        printf("no dead letters to replay\n");
    else
        print_table(results, replay_table, COUNT(replay_table), "");
    if (flush_out(err, errlen) != 0)
        fprintf(stderr, "ketenctl replay: %s (the replay was committed)\n", err);
    rc = skipped > (size_t)INT_MAX ? INT_MAX : (int)skipped;
done:
    if (in_tx && rc < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        size_t len = strlen(err);
        if (len < errlen)
            snprintf(err + len, errlen - len, "; nothing was requeued");
    }
    free(targets);
    json_decref(results);
    sqlite3_finalize(get);
    sqlite3_finalize(requeue);
    audit_chain_free(&audit);
    sqlite3_close(db);
    return rc;
}

/* ---- escalations ------------------------------------------------------ */

static const struct field escalation_fields[] = {
    {"id", KIND_INT},
    {"state", KIND_TEXT},
    {"referral", KIND_TEXT},
    {"partner", KIND_TEXT},
    {"policy", KIND_TEXT},
    {"deadline", KIND_TEXT},
    {"due", KIND_TIME_MS},
    {"level", KIND_INT},
    {"rounds", KIND_INT},
    {"next", KIND_TIME_MS},
    {"rearms", KIND_INT},
    {"created", KIND_TEXT},
    {"acknowledged", KIND_TEXT},
    {"acknowledged_by", KIND_TEXT},
    {"note", KIND_TEXT},
    {"resolved", KIND_TEXT},
    {"resolution", KIND_TEXT},
    {"alerts_delivered", KIND_INT},
    {"alerts_failed", KIND_INT},
};

static const struct column escalation_table[] = {
    {"ID", "id", "-"},
    {"STATE", "state", "-"},
    {"LEVEL", "level", "-"},
    {"ROUNDS", "rounds", "-"},
    {"REFERRAL", "referral", "-"},
    {"PARTNER", "partner", "-"},
    {"POLICY", "policy", "-"},
    {"DEADLINE", "deadline", "-"},
    {"DUE", "due", "-"},
    {"NEXT", "next", "-"},
    {"ALERTS OK/FAILED", "alerts", "-"},
    {"ACKNOWLEDGED BY", "acknowledged_by", "-"},
};

static const struct field alert_fields[] = {
    {"seq", KIND_INT},      {"round", KIND_INT},       {"level", KIND_INT},
    {"kind", KIND_TEXT},    {"officer", KIND_TEXT},    {"channel", KIND_TEXT},
    {"state", KIND_TEXT},   {"attempts", KIND_INT},    {"created", KIND_TEXT},
    {"updated", KIND_TEXT}, {"last_error", KIND_TEXT},
};

/* Puts escalation `id`'s note, opened, into row["note"] (null when none).
 * 0, or -1 with err filled (a note that does not open under the key). */
static int open_note(sqlite3_stmt *n, const struct seal_key *key, json_t *row, char *err,
                     size_t errlen)
{
    json_int_t id = json_integer_value(json_object_get(row, "id"));
    char idtext[32], why[200];
    snprintf(idtext, sizeof idtext, "%" JSON_INTEGER_FORMAT, id);
    sqlite3_reset(n);
    sqlite3_bind_int64(n, 1, id);
    if (sqlite3_step(n) != SQLITE_ROW || sqlite3_column_type(n, 0) == SQLITE_NULL)
        return json_object_set_new(row, "note", json_null());
    const uint8_t *sealed = sqlite3_column_blob(n, 0);
    size_t len = (size_t)sqlite3_column_bytes(n, 0), plain_len = 0;
    char *plain = len >= SEAL_OVERHEAD ? malloc(len) : NULL;
    int rc = -1;
    if (!plain)
        snprintf(err, errlen, "escalation %s: the note is not an encrypted value", idtext);
    else if (seal_decrypt(key, SEAL_AD_NOTE(idtext), SEAL_AD_NOTE_N, sealed, len, plain, &plain_len,
                          why, sizeof why) != SEAL_OK)
        snprintf(err, errlen, "escalation %s: the note %s", idtext, why);
    else
        rc = json_object_set_new(row, "note", json_stringn(plain, plain_len));
    if (plain)
        sodium_memzero(plain, len);
    free(plain);
    return rc;
}

int escalations_list(const char *db_path, const struct seal_key *key, int open_only, int as_json,
                     char *err, size_t errlen)
{
    sqlite3 *db = open_db(db_path, 0, err, errlen);
    sqlite3_stmt *s = NULL, *a = NULL, *n = NULL;
    json_t *rows = NULL, *doc = NULL;
    int rc = -1;
    if (!db)
        return -1;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        prepare(db,
                "SELECT id, state, referral, partner, policy, deadline, due_ms, "
                "CASE WHEN level < 0 THEN NULL ELSE level + 1 END, rounds, next_ms, rearms, "
                "created, acked, acked_by, NULL, resolved, resolution, "
                "(SELECT COUNT(*) FROM alerts a WHERE a.escalation = x.id AND a.state = "
                "'delivered'), "
                "(SELECT COUNT(*) FROM alerts a WHERE a.escalation = x.id AND a.state IN "
                "('failed', 'rejected')) "
                "FROM escalations x WHERE ?1 = 0 OR state = 'open' ORDER BY id DESC LIMIT 1000",
                &s, err, errlen) != 0 ||
        prepare(db,
                "SELECT seq, round, level + 1, kind, officer, channel, state, attempts, created, "
                "updated, (SELECT error FROM alert_attempts t WHERE t.alert = a.seq AND "
                "t.error != '' ORDER BY t.seq DESC LIMIT 1) "
                "FROM alerts a WHERE escalation = ?1 ORDER BY seq",
                &a, err, errlen) != 0 ||
        prepare(db, "SELECT ack_note FROM escalations WHERE id = ?1", &n, err, errlen) != 0) {
        if (!*err || strstr(err, "no such table"))
            snprintf(err, errlen,
                     "database %s has no escalations yet (start this release's ketenhubd once "
                     "to migrate it)",
                     db_path);
        goto done;
    }
    sqlite3_bind_int(s, 1, open_only);
    rows = query_rows(db, s, escalation_fields, COUNT(escalation_fields), 0, err, errlen);
    if (!rows)
        goto done;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        char ok_failed[64];
        snprintf(ok_failed, sizeof ok_failed, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(row, "alerts_delivered")),
                 json_integer_value(json_object_get(row, "alerts_failed")));
        json_object_set_new(row, "alerts", json_string(ok_failed));
        if (open_note(n, key, row, err, errlen) != 0)
            goto done;
        if (as_json) {
            sqlite3_reset(a);
            sqlite3_bind_int64(a, 1, json_integer_value(json_object_get(row, "id")));
            json_t *alerts = query_rows(db, a, alert_fields, COUNT(alert_fields), 0, err, errlen);
            if (!alerts)
                goto done;
            json_object_set_new(row, "alerts", alerts);
        }
    }
    if (as_json) {
        doc = json_pack("{s:O}", "escalations", rows);
        if (!doc || print_json(doc, err, errlen) != 0)
            goto done;
    } else if (json_array_size(rows) == 0) {
        printf("no %sescalations\n", open_only ? "open " : "");
    } else {
        print_table(rows, escalation_table, COUNT(escalation_table), "");
    }
    rc = flush_out(err, errlen);
done:
    json_decref(doc);
    json_decref(rows);
    sqlite3_finalize(s);
    sqlite3_finalize(a);
    sqlite3_finalize(n);
    sqlite3_close(db);
    return rc;
}
