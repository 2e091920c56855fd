/*
 * audit (ketenctl) - audit verify / export / subject, and the record of every
 * look-up; see ctl/audit.h and docs/audit.md.
 *
 * Two headers are called audit.h (hub's chain, this command's); both are
 * included by their folder.
 */
#include "ctl/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "config.h"
#include "ctl/report.h"
#include "ctl/db.h"
#include "ctl/load.h"
#include "hub/audit.h"
#include "pseudonym.h"
#include "util.h"

/* Exit codes of `ketenctl audit` (docs/ketenctl.md). */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_BROKEN 3

static const char *as_name;

int ctl_audit_set_as(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-' || c == ' '))
            return -1;
    }
    as_name = name;
    return 0;
}

/* The effective OS user's name (or "uid:N" when it has none). */
static void os_user(char out[80])
{
    uid_t uid = geteuid();
    const struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name && strlen(pw->pw_name) < 64)
        snprintf(out, 80, "%s", pw->pw_name);
    else
        snprintf(out, 80, "uid:%lu", (unsigned long)uid);
}

/* Opens the database (read-only unless writable) and checks its schema
 * version. Returns the connection (caller closes), or NULL with err. */
static sqlite3 *open_db(const char *path, int writable, char *err, size_t errlen)
{
    return ctl_db_open(path, writable, CTL_AUDIT_MIN_SCHEMA, "the audit chain needs", err, errlen);
}

int ctl_audit_record(const char *db_path, const struct ctl_lookup *lk, char *err, size_t errlen)
{
    char user[80], actor[96];
    os_user(user);
    snprintf(actor, sizeof actor, "admin:%s", user);
    json_t *d = lk->detail ? json_deep_copy(lk->detail) : json_object();
    const char *sudo = getenv("SUDO_USER");
    if (!d || json_object_set_new(d, "os_user", json_string(user)) != 0 ||
        (as_name && json_object_set_new(d, "as", json_string(as_name)) != 0) ||
        (sudo && *sudo && strlen(sudo) <= 64 && strcmp(sudo, user) != 0 &&
         json_object_set_new(d, "sudo_user", json_string(sudo)) != 0)) {
        json_decref(d);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    sqlite3 *db = detail ? open_db(db_path, 1, err, errlen) : NULL;
    struct audit_chain *chain = db ? audit_chain_new(db, err, errlen) : NULL;
    int rc = -1;
    if (!detail)
        snprintf(err, errlen, "out of memory");
    if (chain) {
        struct audit_record r = {NULL,        actor,  "admin",     lk->action, lk->object,
                                 lk->outcome, detail, lk->subject, "local",    lk->purpose};
        /* A transaction of its own: BEGIN IMMEDIATE takes the write lock
         * (waiting for a hub commit), the tail is read under it. */
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            audit_chain_append(chain, &r, NULL) != 0 ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot write the audit record of this look-up to %s: %s",
                     db_path, sqlite3_errmsg(db));
            if (!sqlite3_get_autocommit(db))
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            rc = 0;
        }
    }
    audit_chain_free(&chain);
    sqlite3_close(db);
    free(detail);
    return rc;
}

int ctl_capture_begin(struct ctl_capture *c)
{
    memset(c, 0, sizeof c[0]);
    if (fflush(stdout) != 0)
        return -1;
    c->mem = open_memstream(&c->buf, &c->len);
    if (!c->mem)
        return -1;
    /* glibc's stdout is a plain variable that may be assigned (its manual
     * shows this): the printing code of every command stays as it is. */
    c->real = stdout;
    stdout = c->mem;
    return 0;
}

int ctl_capture_end(struct ctl_capture *c, int emit)
{
    int rc = 0;
    if (!c->mem)
        return -1;
    stdout = c->real;
    if (fclose(c->mem) != 0)
        rc = -1;
    if (emit && rc == 0 && c->len &&
        (fwrite(c->buf, 1, c->len, stdout) != c->len || fflush(stdout) != 0))
        rc = -1;
    if (c->buf)
        sodium_memzero(c->buf, c->len);
    free(c->buf);
    memset(c, 0, sizeof c[0]);
    return rc;
}

/* ---- the commands ------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: ketenctl --config FILE audit verify [--json] [--anchor SEQ:HASH]\n"
                 "       ketenctl --config FILE audit export --from DATE --to DATE [--out FILE]\n"
                 "       ketenctl --config FILE audit subject (PSEUDONYM | --bsn BSN |\n"
                 "                     --name SURNAME --birthdate YYYY-MM-DD) [--json]\n"
                 "       (--bsn - and --name - read the value from standard input)\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ketenctl audit: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(stderr);
    return EXIT_USAGE;
}

/* The stored hash of record `seq` into out; 1 found, 0 not, -1 error. */
static int stored_hash(sqlite3 *db, long long seq, char out[AUDIT_HASH_LEN])
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT hash FROM audit WHERE seq = ?1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, seq);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(s, 0);
        snprintf(out, AUDIT_HASH_LEN, "%s", h ? (const char *)h : "");
        rc = 1;
    } else if (step == SQLITE_DONE) {
        rc = 0;
    }
    sqlite3_finalize(s);
    return rc;
}

/* `audit verify [--json] [--anchor SEQ:HASH]`: reads only. */
static int cmd_verify(const char *db_path, int argc, char **argv)
{
    int as_json = 0;
    long long anchor_seq = 0;
    const char *anchor_hash = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--anchor") == 0 && i + 1 < argc) {
            const char *a = argv[++i], *colon = strchr(a, ':');
            long v;
            char seqtext[24];
            if (!colon || colon - a >= (long)sizeof seqtext || strlen(colon + 1) != 64)
                return usage_error("--anchor \"%s\" is not SEQ:HASH (64 hex digits)", a);
            snprintf(seqtext, sizeof seqtext, "%.*s", (int)(colon - a), a);
            if (util_parse_long(seqtext, 1, LONG_MAX, &v) != 0)
                return usage_error("--anchor \"%s\": SEQ is not a positive integer", a);
            anchor_seq = v;
            anchor_hash = colon + 1;
        } else {
            return usage_error("verify: unknown argument \"%s\"", argv[i]);
        }
    }
    char err[1024] = "";
    sqlite3 *db = open_db(db_path, 0, err, sizeof err);
    if (!db) {
        fprintf(stderr, "ketenctl audit verify: %s\n", err);
        return EXIT_FAILED;
    }
    struct audit_verdict v;
    /* One read transaction: the chain as it was at one moment, even while
     * the hub appends. */
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
                 ? audit_verify(db, 0, &v, err, sizeof err)
                 : -1;
    char anchored[AUDIT_HASH_LEN] = "";
    int anchor_found = 0;
    if (rc == 0 && anchor_seq) {
        anchor_found = stored_hash(db, anchor_seq, anchored);
        if (anchor_found < 0)
            rc = -1;
        else if (!anchor_found || strcmp(anchored, anchor_hash) != 0) {
            rc = 1;
            v.bad_seq = anchor_seq;
            v.kind = anchor_found ? "rewritten" : "truncated";
            if (anchor_found)
                snprintf(v.what, sizeof v.what,
                         "record %lld has hash %s, the anchor says %s: the chain was rewritten "
                         "from there or before",
                         anchor_seq, anchored, anchor_hash);
            else
                snprintf(v.what, sizeof v.what,
                         "record %lld of the anchor is not there: records at the end were deleted",
                         anchor_seq);
        }
    }
    if (rc < 0) {
        fprintf(stderr, "ketenctl audit verify: %s\n", *err ? err : sqlite3_errmsg(db));
        sqlite3_close(db);
        return EXIT_FAILED;
    }
    sqlite3_close(db);
    if (as_json) {
        json_t *o =
            json_pack("{s:b, s:I, s:I, s:s}", "intact", rc == 0, "records", (json_int_t)v.records,
                      "head_seq", (json_int_t)v.head_seq, "head_hash", v.head_hash);
        if (o && rc != 0) {
            json_object_set_new(o, "bad_seq", json_integer(v.bad_seq));
            json_object_set_new(o, "kind", json_string(v.kind));
            json_object_set_new(o, "what", json_string(v.what));
        }
        if (o && anchor_seq)
            json_object_set_new(o, "anchor_seq", json_integer(anchor_seq));
        if (!o || json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
            json_decref(o);
            return EXIT_FAILED;
        }
        json_decref(o);
        putchar('\n');
    } else if (rc == 0) {
        printf("audit chain intact: %lld records\n", (long long)v.records);
        printf("head seq=%lld hash=%s\n", (long long)v.head_seq, v.head_hash);
        if (anchor_seq)
            printf("anchor seq=%lld matches\n", anchor_seq);
    } else {
        printf("audit chain BROKEN at seq %lld (%s): %s\n", (long long)v.bad_seq, v.kind, v.what);
        printf("head seq=%lld hash=%s\n", (long long)v.head_seq, v.head_hash);
    }
    if (fflush(stdout) != 0)
        return EXIT_FAILED;
    return rc == 0 ? EXIT_OK : EXIT_BROKEN;
}

#define RECORD_COLUMNS                                                                             \
    "seq, time, actor, role, action, object, outcome, subject, address, purpose, detail, "         \
    "prev_hash, hash"
static const char *const record_fields[] = {"seq",    "time",      "actor",   "role",    "action",
                                            "object", "outcome",   "subject", "address", "purpose",
                                            "detail", "prev_hash", "hash"};
#define NFIELDS (sizeof record_fields / sizeof *record_fields)

/* The current row as a JSON object with every field (caller owns it). */
static json_t *record_json(sqlite3_stmt *s)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < NFIELDS; i++) {
        json_t *v;
        if (i == 0)
            v = json_integer(sqlite3_column_int64(s, 0));
        else if (sqlite3_column_type(s, (int)i) == SQLITE_NULL)
            v = json_null();
        else {
            v = json_stringn((const char *)sqlite3_column_text(s, (int)i),
                             (size_t)sqlite3_column_bytes(s, (int)i));
            if (!v) /* not UTF-8: say so, the hash check will fail on it anyway */
                v = json_string("(not UTF-8)");
        }
        if (json_object_set_new(o, record_fields[i], v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* `audit export --from DATE --to DATE [--out FILE]`. */
static int cmd_export(const char *db_path, int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--from") != 0 && strcmp(opt, "--to") != 0 && strcmp(opt, "--out") != 0)
            return usage_error("export: unknown argument \"%s\"", opt);
        if (i + 1 >= argc)
            return usage_error("export: %s needs a value", opt);
        const char *v = argv[++i];
        *(strcmp(opt, "--from") == 0 ? &from : strcmp(opt, "--to") == 0 ? &to : &out_path) = v;
    }
    char err[1024];
    struct report_period pd;
    if (!from || !to)
        return usage_error("export: --from DATE and --to DATE are required");
    if (report_period_parse(from, to, &pd, err, sizeof err) != 0)
        return usage_error("export: %s", err);
    char lo[UTIL_TIME_LEN], hi[UTIL_TIME_LEN];
    util_time_format(pd.from_ms, lo);
    util_time_format(pd.to_ms, hi);
    /* Recorded before the read: an export can be large, and is written as
     * it is read. When the window includes now, the export holds its own
     * record. */
    json_t *detail = json_pack("{s:s, s:s, s:s}", "from", pd.from, "to", pd.to, "out",
                               out_path ? "file" : "stdout");
    struct ctl_lookup lk = {"export", "audit", "requested", "verantwoording", NULL, detail};
    int recorded = detail ? ctl_audit_record(db_path, &lk, err, sizeof err) : -1;
    json_decref(detail);
    if (recorded != 0) {
        fprintf(stderr, "ketenctl audit export: %s; nothing exported\n",
                detail ? err : "out of memory");
        return EXIT_FAILED;
    }
    sqlite3 *db = open_db(db_path, 0, err, sizeof err);
    sqlite3_stmt *s = NULL;
    FILE *out = stdout;
    int rc = EXIT_FAILED;
    long long n = 0;
    if (!db) {
        fprintf(stderr, "ketenctl audit export: %s\n", err);
        return EXIT_FAILED;
    }
    if (out_path) {
        /* The trail names partners, officers and pseudonyms: 0600. */
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!out) {
            fprintf(stderr, "ketenctl audit export: cannot write %s: %s\n", out_path,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            sqlite3_close(db);
            return EXIT_FAILED;
        }
    }
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT " RECORD_COLUMNS " FROM audit WHERE time >= ?1 AND time < ?2 "
                           "ORDER BY seq",
                           -1, &s, NULL) != SQLITE_OK) {
        fprintf(stderr, "ketenctl audit export: cannot read the audit trail: %s\n",
                sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_text(s, 1, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hi, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *o = record_json(s);
        int w = o ? json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
        json_decref(o);
        if (w != 0 || fputc('\n', out) == EOF) {
            fprintf(stderr, "ketenctl audit export: cannot write the export\n");
            goto done;
        }
        n++;
    }
    if (step != SQLITE_DONE) {
        fprintf(stderr, "ketenctl audit export: cannot read the audit trail: %s\n",
                sqlite3_errmsg(db));
        goto done;
    }
    rc = EXIT_OK;
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "ketenctl audit export: cannot write %s\n", out_path ? out_path : "stdout");
        rc = EXIT_FAILED;
    } else if (rc == EXIT_OK) {
        fprintf(stderr, "ketenctl audit export: %lld records from %s to %s\n", n, pd.from, pd.to);
    }
    return rc;
}

/* Reads one line of standard input into out (no newline). 0, or -1. */
static int read_stdin_line(char *out, size_t len)
{
    if (!fgets(out, (int)len, stdin))
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

/* Every record about the signals that carried pseudonym ?1, their referrals,
 * deliveries, escalations, alerts and matches, and the look-ups made by that
 * pseudonym (docs/audit.md §subject). */
static const char subject_sql[] =
    "WITH sig(seq) AS (SELECT seq FROM pseudonyms WHERE pseudonym = ?1),"
    " ref(id) AS (SELECT id FROM referrals WHERE signal_seq IN (SELECT seq FROM sig)),"
    " resp(seq) AS (SELECT event_seq FROM referral_history WHERE event_seq IS NOT NULL"
    "   AND referral IN (SELECT id FROM ref)),"
    " mat(obj) AS (SELECT object FROM audit WHERE action = 'match' AND json_valid(detail)"
    "   AND (json_extract(detail, '$.signal_seq') IN (SELECT seq FROM sig)"
    "     OR json_extract(detail, '$.earlier_seq') IN (SELECT seq FROM sig))),"
    " del(id) AS (SELECT event_id FROM deliveries WHERE referral IN (SELECT id FROM ref)"
    "   OR referral IN (SELECT obj FROM mat)),"
    " esc(id) AS (SELECT id FROM escalations WHERE referral IN (SELECT id FROM ref)),"
    " obj(o) AS (SELECT id FROM ref UNION SELECT id FROM del UNION SELECT obj FROM mat"
    "   UNION SELECT 'escalation:' || id FROM esc"
    "   UNION SELECT 'alert:' || seq FROM alerts WHERE escalation IN (SELECT id FROM esc))"
    " SELECT " RECORD_COLUMNS " FROM audit WHERE subject = ?1"
    " OR object IN (SELECT o FROM obj)"
    " OR (action = 'intake' AND outcome IN ('accepted', 'duplicate') AND json_valid(detail)"
    "   AND (json_extract(detail, '$.seq') IN (SELECT seq FROM sig)"
    "     OR json_extract(detail, '$.seq') IN (SELECT seq FROM resp)))"
    " ORDER BY seq";

static int is_pseudonym(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* `audit subject (PSEUDONYM | --bsn X | --name S --birthdate D) [--json]`. */
static int cmd_subject(const struct config *cfg, const char *db_path, int argc, char **argv)
{
    const char *pseudonym = NULL, *bsn = NULL, *name = NULL, *birth = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--json") == 0) {
            as_json = 1;
        } else if (strcmp(opt, "--bsn") == 0 || strcmp(opt, "--name") == 0 ||
                   strcmp(opt, "--birthdate") == 0) {
            if (i + 1 >= argc)
                return usage_error("subject: %s needs a value", opt);
            *(opt[2] == 'b' && opt[3] == 's' ? &bsn : opt[2] == 'n' ? &name : &birth) = argv[++i];
        } else if (strncmp(opt, "--", 2) == 0) {
            return usage_error("subject: unknown option \"%s\"", opt);
        } else if (pseudonym) {
            return usage_error("subject: one pseudonym only");
        } else {
            pseudonym = opt;
        }
    }
    int ways = (pseudonym != NULL) + (bsn != NULL) + (name != NULL || birth != NULL);
    if (ways != 1)
        return usage_error("subject: give a PSEUDONYM, or --bsn, or --name with --birthdate");
    if ((name && !birth) || (birth && !name))
        return usage_error("subject: --name and --birthdate go together");
    if (pseudonym && !is_pseudonym(pseudonym))
        return usage_error("subject: \"%.80s\" is not a pseudonym (64 lower-case hex digits)",
                           pseudonym);
    char hex[PSEUDONYM_HEX_LEN] = "", value[512] = "", err[1024];
    const char *by = "pseudonym";
    if (!pseudonym) {
        /* The clear value lives only here, and is zeroed below. */
        int ok = 0;
        if (bsn) {
            by = PSEUDONYM_KIND_BSN;
            if (strcmp(bsn, "-") == 0)
                ok = read_stdin_line(value, sizeof value) == 0;
            else
                ok = snprintf(value, sizeof value, "%s", bsn) < (int)sizeof value;
        } else {
            char surname[256] = "";
            by = PSEUDONYM_KIND_NAME;
            if (strcmp(name, "-") == 0)
                ok = read_stdin_line(surname, sizeof surname) == 0;
            else
                ok = snprintf(surname, sizeof surname, "%s", name) < (int)sizeof surname;
            ok = ok && snprintf(value, sizeof value, "%s|%s", surname, birth) < (int)sizeof value;
            sodium_memzero(surname, sizeof surname);
        }
        int computed = ok ? pseudonym_compute(cfg->pseudonym_secret, by, value, hex) : -1;
        sodium_memzero(value, sizeof value);
        if (!ok)
            return usage_error("subject: no value given");
        if (computed != 0) {
            fprintf(stderr, "ketenctl audit subject: %s\n",
                    strcmp(by, PSEUDONYM_KIND_BSN) == 0
                        ? "not a BSN (9 digits passing the elfproef)"
                        : "not a surname with a date of birth YYYY-MM-DD");
            return EXIT_FAILED;
        }
        pseudonym = hex;
    }
    sqlite3 *db = open_db(db_path, 0, err, sizeof err);
    sqlite3_stmt *s = NULL;
    json_t *records = json_array(), *signals = json_array();
    int rc = EXIT_FAILED;
    if (!db || !records || !signals) {
        fprintf(stderr, "ketenctl audit subject: %s\n", db ? "out of memory" : err);
        goto done;
    }
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT seq FROM pseudonyms WHERE pseudonym = ?1 ORDER BY seq", -1,
                           &s, NULL) != SQLITE_OK)
        goto dberr;
    sqlite3_bind_text(s, 1, pseudonym, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(signals, json_integer(sqlite3_column_int64(s, 0)));
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(db, subject_sql, -1, &s, NULL) != SQLITE_OK)
        goto dberr;
    sqlite3_bind_text(s, 1, pseudonym, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *o = record_json(s);
        if (!o || json_array_append_new(records, o) != 0)
            goto dberr;
    }
    if (step != SQLITE_DONE)
        goto dberr;
    sqlite3_finalize(s);
    s = NULL;
    sqlite3_close(db);
    db = NULL;
    /* Recorded after the read, shown after the record is committed. */
    json_t *detail =
        json_pack("{s:s, s:I, s:I}", "by", by, "signals", (json_int_t)json_array_size(signals),
                  "records", (json_int_t)json_array_size(records));
    struct ctl_lookup lk = {"lookup", "audit",   json_array_size(records) ? "shown" : "not_found",
                            "inzage", pseudonym, detail};
    int recorded = detail ? ctl_audit_record(db_path, &lk, err, sizeof err) : -1;
    json_decref(detail);
    if (recorded != 0) {
        fprintf(stderr, "ketenctl audit subject: %s; nothing shown\n", err);
        goto done;
    }
    if (as_json) {
        json_t *doc = json_pack("{s:s, s:O, s:O}", "pseudonym", pseudonym, "signals", signals,
                                "records", records);
        int w = doc ? json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : -1;
        json_decref(doc);
        if (w != 0)
            goto done;
        putchar('\n');
    } else {
        size_t i;
        json_t *r;
        printf("pseudonym %s: %zu signal(s), %zu audit record(s) before this look-up\n", pseudonym,
               json_array_size(signals), json_array_size(records));
        printf("%-8s  %-24s  %-28s  %-10s  %-36s  %-12s  %-14s  %s\n", "SEQ", "TIME", "ACTOR",
               "ACTION", "OBJECT", "OUTCOME", "FROM", "PURPOSE");
        json_array_foreach(records, i, r)
        {
            const char *f[7] = {"time",    "actor",   "action", "object",
                                "outcome", "address", "purpose"};
            const char *v[7];
            for (int k = 0; k < 7; k++) {
                v[k] = json_string_value(json_object_get(r, f[k]));
                v[k] = v[k] ? v[k] : "-";
            }
            printf("%-8lld  %-24s  %-28s  %-10s  %-36s  %-12s  %-14s  %s\n",
                   (long long)json_integer_value(json_object_get(r, "seq")), v[0], v[1], v[2], v[3],
                   v[4], v[5], v[6]);
        }
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
    goto done;
dberr:
    fprintf(stderr, "ketenctl audit subject: cannot read the database: %s\n",
            db ? sqlite3_errmsg(db) : "out of memory");
done:
    sqlite3_finalize(s);
    sqlite3_close(db);
    json_decref(records);
    json_decref(signals);
    return rc;
}

int ctl_audit_main(const char *config_path, int argc, char **argv)
{
    if (argc < 2)
        return usage_error("which? verify, export or subject");
    const char *sub = argv[1];
    if (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0 && strcmp(sub, "subject") != 0)
        return usage_error("unknown audit command \"%s\" (verify, export, subject)", sub);
    if (!config_path)
        return usage_error("--config FILE is required");
    struct config *cfg = ctl_load_config("audit", config_path);
    if (!cfg)
        return EXIT_FAILED;
    int rc;
    if (strcmp(sub, "verify") == 0)
        rc = cmd_verify(cfg->database, argc - 1, argv + 1);
    else if (strcmp(sub, "export") == 0)
        rc = cmd_export(cfg->database, argc - 1, argv + 1);
    else
        rc = cmd_subject(cfg, cfg->database, argc - 1, argv + 1);
    config_free(&cfg);
    return rc;
}
