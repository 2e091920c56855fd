/*
 * match - keeping pseudonyms and raising matches; see match.h and
 * docs/matching.md.
 *
 * Which matches, exactly: for each other partner that sent an earlier signal
 * sharing a pseudonym (of either kind) with the new one, one match naming
 * that partner's most recent such signal, and every kind the two share. A
 * partner's own earlier signals never match (it knows its own cases). So a
 * signal raises at most one match per earlier partner, however many signals
 * that partner sent about the person.
 */
#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <jansson.h>

#include "log.h"
#include "util.h"

/* Earlier partners considered per signal: a bound on the work one signal can
 * cause; far more than a chain has partners (the Twente example has 19). */
#define PARTNERS_MAX 256

struct match {
    struct store *st;
    sqlite3 *db;
    sqlite3_stmt *s_insert, *s_candidates, *s_earlier, *s_insert_match, *s_stored;
};

static int prep(struct match *m, sqlite3_stmt **out, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v3(m->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "match: cannot prepare statement: %s", sqlite3_errmsg(m->db));
        return -1;
    }
    return 0;
}

struct match *match_new(struct store *st, char *err, size_t errlen)
{
    struct match *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "match: out of memory");
        return NULL;
    }
    m->st = st;
    m->db = store_sqlite(st);
    if (prep(m, &m->s_insert,
             "INSERT INTO pseudonyms (seq, kind, pseudonym, partner, received_ms) "
             "VALUES (?1, ?2, ?3, ?4, ?5)",
             err, errlen) ||
        /* Per other partner, its most recent earlier signal with this
         * pseudonym: at most one row per partner. */
        prep(m, &m->s_candidates,
             "SELECT partner, MAX(seq) FROM pseudonyms "
             "WHERE pseudonym = ?1 AND kind = ?2 AND partner <> ?3 AND seq < ?4 "
             "GROUP BY partner ORDER BY 2 LIMIT 256", /* PARTNERS_MAX */
             err, errlen) ||
        prep(m, &m->s_earlier,
             "SELECT (SELECT id FROM events WHERE seq = ?1), "
             "(SELECT role FROM signal_facts WHERE seq = ?1), "
             "(SELECT MIN(received_ms) FROM pseudonyms WHERE seq = ?1)",
             err, errlen) ||
        prep(m, &m->s_insert_match,
             "INSERT INTO matches (seq, partner, role, earlier_seq, earlier_partner, "
             "earlier_role, kinds, found_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             err, errlen) ||
        prep(m, &m->s_stored, "SELECT kind, pseudonym FROM pseudonyms WHERE seq = ?1", err,
             errlen)) {
        match_free(&m);
        return NULL;
    }
    return m;
}

void match_free(struct match **self_p)
{
    struct match *m = *self_p;
    if (!m)
        return;
    sqlite3_finalize(m->s_insert);
    sqlite3_finalize(m->s_candidates);
    sqlite3_finalize(m->s_earlier);
    sqlite3_finalize(m->s_insert_match);
    sqlite3_finalize(m->s_stored);
    free(m);
    *self_p = NULL;
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* One earlier partner's candidate: its most recent matching signal, and the
 * kinds (bit i: the signal's pseudonym i) by which that signal matched. */
struct candidate {
    char partner[65];
    int64_t seq;
    unsigned kinds;
};

/* Adds the rows of one kind's query to the candidates. Returns 0 or -1. */
static int collect(struct match *m, const struct match_signal *sig, const struct match_pseudonym *p,
                   unsigned bit, struct candidate *c, size_t *nc)
{
    sqlite3_stmt *s = m->s_candidates;
    sqlite3_bind_text(s, 1, p->hex, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sig->partner->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, sig->seq);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *partner = (const char *)sqlite3_column_text(s, 0);
        int64_t seq = sqlite3_column_int64(s, 1);
        if (!partner)
            continue;
        size_t i = 0;
        while (i < *nc && strcmp(c[i].partner, partner) != 0)
            i++;
        if (i == *nc) {
            if (*nc == PARTNERS_MAX)
                continue;
            snprintf(c[i].partner, sizeof c[i].partner, "%s", partner);
            c[i].seq = 0;
            c[i].kinds = 0;
            (*nc)++;
        }
        /* The most recent signal wins; a kind counts only for that signal
         * (its most recent match by this kind is then that very signal). */
        if (seq > c[i].seq) {
            c[i].seq = seq;
            c[i].kinds = bit;
        } else if (seq == c[i].seq) {
            c[i].kinds |= bit;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int by_seq(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The earlier signal's CloudEvents id (may be ""), its sender's role then
 * ("unknown" if not kept) and when it was received. 0 or -1. */
static int earlier_facts(struct match *m, int64_t seq, char *id, size_t idlen, char *role,
                         size_t rolelen, int64_t *received_ms)
{
    sqlite3_stmt *s = m->s_earlier;
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(id, idlen, "%s", t ? (const char *)t : "");
        t = sqlite3_column_text(s, 1);
        snprintf(role, rolelen, "%s", t ? (const char *)t : "unknown");
        *received_ms = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* {"seq", "id"?, "partner", "ontvangen"} */
static json_t *signal_ref(int64_t seq, const char *id, const char *partner, int64_t received_ms)
{
    char when[UTIL_TIME_LEN];
    util_time_format(received_ms, when);
    json_t *o =
        json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)seq, "partner", partner, "ontvangen", when);
    if (o && id && *id)
        json_object_set_new(o, "id", json_string(id));
    return o;
}

/* Raises one match: its row, its audit record and an event per coordinator.
 * Returns 0 or -1. */
static int raise_one(struct match *m, const struct config *cfg, const struct match_signal *sig,
                     const struct match_pseudonym *ps, size_t n, const struct candidate *c,
                     match_touched_fn touched, void *arg)
{
    char id[256], role[32], kinds[64] = "", time[UTIL_TIME_LEN];
    int64_t earlier_ms = 0, now = util_wall_ms();
    if (earlier_facts(m, c->seq, id, sizeof id, role, sizeof role, &earlier_ms) != 0)
        return -1;
    util_time_format(now, time);
    json_t *soort = json_array();
    const char *subject_pseudonym = NULL;
    for (size_t k = 0; k < n; k++) {
        if (!(c->kinds & (1u << k)))
            continue;
        if (!subject_pseudonym)
            subject_pseudonym = ps[k].hex;
        json_array_append_new(soort, json_string(ps[k].kind));
        size_t used = strlen(kinds);
        snprintf(kinds + used, sizeof kinds - used, "%s%s", used ? "," : "", ps[k].kind);
    }
    sqlite3_stmt *s = m->s_insert_match;
    sqlite3_bind_int64(s, 1, sig->seq);
    sqlite3_bind_text(s, 2, sig->partner->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, authz_role_name(sig->partner->role), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, c->seq);
    sqlite3_bind_text(s, 5, c->partner, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, kinds, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 8, now);
    if (step_done(s) != 0) {
        json_decref(soort);
        return -1;
    }
    long long match_id = (long long)sqlite3_last_insert_rowid(m->db);
    char subject[40];
    snprintf(subject, sizeof subject, "match-%lld", match_id);
    json_t *data = json_pack(
        "{s:I, s:o, s:o, s:o, s:s}", "match", (json_int_t)match_id, "soort", soort, "signaal",
        signal_ref(sig->seq, sig->event_id, sig->partner->id, sig->received_ms), "eerderSignaal",
        signal_ref(c->seq, id, c->partner, earlier_ms), "gevondenOp", time);
    int rc = data ? 0 : -1;
    for (size_t i = 0; i < cfg->npartners && rc == 0; i++) {
        const struct partner *p = &cfg->partners[i];
        if (p->role != ROLE_COORDINATOR)
            continue;
        char event_id[UTIL_UUID_LEN];
        util_uuid7(event_id);
        json_t *ev =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0", "id",
                      event_id, "source", cfg->source, "type", MATCH_EVENT_TYPE, "time", time,
                      "datacontenttype", "application/json", "subject", subject, "data", data);
        char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
        json_decref(ev);
        rc = text ? store_put_delivery(m->st, event_id, subject, p->id, time, text) : -1;
        free(text);
        if (rc == 0 && touched)
            touched(arg, p);
    }
    json_decref(data);
    if (rc != 0)
        return -1;
    /* Ids, partners and kinds: what the coordinator learns, nothing more. */
    char detail[512];
    json_t *d = json_pack("{s:I, s:s, s:I, s:s, s:s}", "signal_seq", (json_int_t)sig->seq,
                          "partner", sig->partner->id, "earlier_seq", (json_int_t)c->seq,
                          "earlier_partner", c->partner, "kinds", kinds);
    size_t dn = d ? json_dumpb(d, detail, sizeof detail - 1, JSON_COMPACT) : 0;
    json_decref(d);
    detail[dn < sizeof detail ? dn : 0] = '\0';
    /* The audit may name the person by pseudonym (the first kind that
     * matched), so that a person's access request finds this record. */
    struct audit_record ar = {.time = time,
                              .actor = "hub",
                              .action = "match",
                              .object = subject,
                              .outcome = "raised",
                              .detail = detail[0] ? detail : NULL,
                              .subject = subject_pseudonym};
    if (store_audit(m->st, &ar) != 0)
        return -1;
    log_msg(LOG_INFO,
            "event=match_raised match=%lld seq=%lld partner=%s earlier_seq=%lld "
            "earlier_partner=%s kinds=%s",
            match_id, (long long)sig->seq, sig->partner->id, (long long)c->seq, c->partner, kinds);
    return 0;
}

int match_signal(struct match *m, const struct config *cfg, const struct match_signal *sig,
                 const struct match_pseudonym *ps, size_t n, match_touched_fn touched, void *arg)
{
    struct candidate *c = NULL;
    size_t nc = 0;
    int raised = 0;
    if (n == 0)
        return 0;
    if (n > MATCH_KINDS)
        return -1; /* a programmer error: intake makes at most one per kind */
    for (size_t k = 0; k < n; k++) {
        sqlite3_stmt *s = m->s_insert;
        sqlite3_bind_int64(s, 1, sig->seq);
        sqlite3_bind_text(s, 2, ps[k].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, ps[k].hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, sig->partner->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, sig->received_ms);
        if (step_done(s) != 0)
            return -1;
    }
    c = calloc(PARTNERS_MAX, sizeof *c);
    if (!c)
        return -1;
    for (size_t k = 0; k < n && raised == 0; k++)
        if (collect(m, sig, &ps[k], 1u << k, c, &nc) != 0)
            raised = -1;
    /* In the order of the earlier signals: deterministic, oldest first. */
    qsort(c, nc, sizeof *c, by_seq);
    for (size_t i = 0; i < nc && raised >= 0; i++)
        raised = raise_one(m, cfg, sig, ps, n, &c[i], touched, arg) == 0 ? raised + 1 : -1;
    free(c);
    return raised;
}

int match_same_pseudonyms(struct match *m, int64_t seq, const struct match_pseudonym *ps, size_t n)
{
    sqlite3_stmt *s = m->s_stored;
    sqlite3_bind_int64(s, 1, seq);
    size_t rows = 0;
    int same = 1, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && rows <= MATCH_KINDS) {
        const char *kind = (const char *)sqlite3_column_text(s, 0);
        const char *hex = (const char *)sqlite3_column_text(s, 1);
        size_t k = 0;
        while (k < n && !(kind && strcmp(ps[k].kind, kind) == 0))
            k++;
        if (k == n || !hex || strcmp(ps[k].hex, hex) != 0)
            same = 0;
        rows++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return -1;
    return same && rows == n;
}
