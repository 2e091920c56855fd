/*
 * report (ketenctl) - the coordinator's overview; see ctl/report.h and
 * docs/reporting.md.
 *
 * Counts are gathered as plain integers into "cells", each remembering where
 * in the model it goes. Small-number protection then works on the cells and
 * the "lines" (cells that add up to a shown total): primary suppression of
 * counts 1 .. threshold-1, then secondary suppression until every line has
 * no hidden cell or at least two. Only then are the cells written into the
 * model, as integers, "<N" or "x".
 */
#include "ctl/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>

#include "authz.h"
#include "util.h"

#define NFORMS 5
#define MONTHS_MAX 1200
#define LEVELS_MAX 17
#define BUSY_TIMEOUT_MS 5000

static const char *const form_names[NFORMS] = {"seksueel", "arbeid", "crimineel",
                                               "orgaanverwijdering", "onbekend"};
static const char *const urgencies[] = {"crisis", "hoog", "normaal"};
#define NURGENCY 3

/* ---- cells and lines ------------------------------------------------- */

struct cell {
    json_t *obj; /* where it goes (borrowed from the model); NULL: never shown */
    char key[64];
    long long v;
    int hidden;  /* 0 shown, 1 small ("<N"), 2 secondary ("x") */
    size_t twin; /* SIZE_MAX, or the cell this one shows again (same value) */
};

/* A share shown next to counts: nulled when one of them ends up hidden. */
struct share {
    json_t *obj; /* holds within_deadline_pct */
    size_t answered, within;
};

struct book {
    struct cell *cells;
    size_t n, cap;
    struct share *shares;
    size_t nshares, capshares;
    size_t *members; /* lines, flattened: [count, idx...] */
    size_t nm, capm;
    int threshold;
    int oom;
};

static size_t cell_add(struct book *b, json_t *obj, const char *key, long long v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct cell *c = realloc(b->cells, cap * sizeof *c);
        if (!c) {
            b->oom = 1;
            return 0;
        }
        b->cells = c;
        b->cap = cap;
    }
    struct cell *c = &b->cells[b->n];
    c->obj = obj;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->v = v;
    c->hidden = v > 0 && v < b->threshold;
    c->twin = SIZE_MAX;
    if (obj) /* its place in the object's key order; the value comes last */
        json_object_set_new(obj, key, json_null());
    return b->n++;
}

static void push_member(struct book *b, size_t v)
{
    if (b->nm == b->capm) {
        size_t cap = b->capm ? b->capm * 2 : 256;
        size_t *m = realloc(b->members, cap * sizeof *m);
        if (!m) {
            b->oom = 1;
            return;
        }
        b->members = m;
        b->capm = cap;
    }
    b->members[b->nm++] = v;
}

/* A line: the cells idx[0..n) add up to the cell `total`. */
static void line_add(struct book *b, const size_t *idx, size_t n, size_t total)
{
    push_member(b, n + 1);
    for (size_t i = 0; i < n; i++)
        push_member(b, idx[i]);
    push_member(b, total);
}

/* Secondary suppression until every line has 0 or >= 2 hidden cells. */
static void protect(struct book *b)
{
    for (int changed = 1; changed && !b->oom;) {
        changed = 0;
        for (size_t at = 0; at < b->nm; at += b->members[at] + 1) {
            size_t n = b->members[at];
            const size_t *m = &b->members[at + 1];
            size_t hidden = 0, pick = (size_t)-1;
            for (size_t i = 0; i < n; i++) {
                struct cell *c = &b->cells[m[i]];
                if (c->hidden) {
                    hidden++;
                } else if (c->obj && c->v > 0 && (pick == (size_t)-1 || c->v < b->cells[pick].v)) {
                    pick = m[i];
                }
            }
            if (hidden == 1 && pick != (size_t)-1) {
                b->cells[pick].hidden = 2;
                changed = 1;
            }
        }
    }
}

static void book_write(struct book *b)
{
    /* A share next to a hidden count would give it away (100.0 says
     * within = answered): no share then. */
    for (size_t i = 0; i < b->nshares; i++)
        if (b->cells[b->shares[i].answered].hidden || b->cells[b->shares[i].within].hidden)
            json_object_set_new(b->shares[i].obj, "within_deadline_pct", json_null());
    char small[16];
    snprintf(small, sizeof small, "<%d", b->threshold);
    for (size_t i = 0; i < b->n; i++) {
        struct cell *c = &b->cells[i];
        if (c->twin != SIZE_MAX)
            c->hidden = b->cells[c->twin].hidden;
        if (!c->obj)
            continue; /* a cell that only takes part in a line */
        json_object_set_new(c->obj, c->key,
                            c->hidden == 1   ? json_string(small)
                            : c->hidden == 2 ? json_string("x")
                                             : json_integer(c->v));
    }
}

/* ---- helpers ------------------------------------------------------------ */

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Exactly YYYY-MM-DD, a real date from 1970 on. */
static int parse_date(const char *s, int *y, int *m, int *d)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    *y = digits(s, 4);
    *m = digits(s + 5, 2);
    *d = digits(s + 8, 2);
    if (*y < 1970 || *m < 1 || *m > 12 || *d < 1)
        return -1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    return *d <= mdays[*m - 1] + (*m == 2 && leap) ? 0 : -1;
}

int report_period_parse(const char *from, const char *to, struct report_period *out, char *err,
                        size_t errlen)
{
    int y1, m1, d1, y2, m2, d2;
    if (parse_date(from, &y1, &m1, &d1) != 0) {
        snprintf(err, errlen, "--from \"%s\" is not a date YYYY-MM-DD", from ? from : "");
        return -1;
    }
    if (parse_date(to, &y2, &m2, &d2) != 0) {
        snprintf(err, errlen, "--to \"%s\" is not a date YYYY-MM-DD", to ? to : "");
        return -1;
    }
    out->from_ms = days_from_civil(y1, m1, d1) * 86400000;
    out->to_ms = (days_from_civil(y2, m2, d2) + 1) * 86400000;
    if (out->to_ms <= out->from_ms) {
        snprintf(err, errlen, "--to %s is before --from %s", to, from);
        return -1;
    }
    if ((y2 * 12 + m2) - (y1 * 12 + m1) >= MONTHS_MAX) {
        snprintf(err, errlen, "the period is longer than %d months", MONTHS_MAX);
        return -1;
    }
    snprintf(out->from, sizeof out->from, "%s", from);
    snprintf(out->to, sizeof out->to, "%s", to);
    return 0;
}

/* Month index since year 0 of a UTC ms. */
static int month_of(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

/* The k-th smallest of v[0..n) (0-based), moving elements about
 * (Hoare's quickselect; median of three). */
static long long select_kth(long long *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        long long a = v[lo], b = v[mid], c = v[hi];
        long long pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                long long t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* Nearest-rank percentile of v[0..n) (reordered), n >= 1. */
static long long percentile(long long *v, size_t n, int p)
{
    if (!v || n == 0) /* callers ask only when there are enough */
        return 0;
    size_t rank = (size_t)ceil((double)p / 100.0 * (double)n);
    return select_kth(v, n, rank ? rank - 1 : 0);
}

static json_t *minutes(double ms)
{
    return json_real(round(ms / 6000.0) / 10.0);
}

/* Growable list of durations (ms). */
struct durations {
    long long *v;
    size_t n, cap;
};

static int dur_add(struct durations *d, long long ms)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        long long *v = realloc(d->v, cap * sizeof *v);
        if (!v)
            return -1;
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = ms;
    return 0;
}

/* ---- signals ------------------------------------------------------------- */

struct muni {
    char code[8];
    long long n;
};

static int cmp_muni(const void *a, const void *b)
{
    return strcmp(((const struct muni *)a)->code, ((const struct muni *)b)->code);
}

static const char *muni_name(const struct config *cfg, const char *code)
{
    const struct partner *p = config_municipality(cfg, code);
    return p && p->name ? p->name : code;
}

static int signals_section(sqlite3 *db, const struct config *cfg, const struct report_period *pd,
                           struct book *b, json_t *model, size_t *total_cell, char *err,
                           size_t errlen)
{
    int m0 = month_of(pd->from_ms), m1 = month_of(pd->to_ms - 1);
    int nmonths = m1 - m0 + 1;
    if (nmonths > MONTHS_MAX) {
        snprintf(err, errlen, "the period is longer than %d months", MONTHS_MAX);
        return -1;
    }
    long long(*month)[NFORMS + 1] = calloc((size_t)nmonths, sizeof *month);
    struct muni *munis = calloc(cfg->nmunicipalities + 1, sizeof *munis);
    size_t nmunis = 0, cap_munis = cfg->nmunicipalities + 1;
    long long forms[NFORMS] = {0}, roles[ROLE_COUNT + 1] = {0}, minor[2] = {0}, urg[NURGENCY] = {0};
    long long total = 0, no_muni = 0;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (!month || !munis) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cfg->nmunicipalities; i++)
        snprintf(munis[nmunis++].code, sizeof munis->code, "%s", cfg->municipalities[i].code);
    if (sqlite3_prepare_v2(db,
                           "SELECT received_ms, role, forms, urgency, minor, municipality "
                           "FROM signal_facts WHERE received_ms >= ?1 AND received_ms < ?2",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_int64(s, 1, pd->from_ms);
    sqlite3_bind_int64(s, 2, pd->to_ms);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        total++;
        int mi = month_of(sqlite3_column_int64(s, 0)) - m0;
        if (mi < 0 || mi >= nmonths)
            continue;
        month[mi][NFORMS]++;
        unsigned f = (unsigned)sqlite3_column_int(s, 2);
        for (int k = 0; k < NFORMS; k++)
            if (f & (1u << k)) {
                month[mi][k]++;
                forms[k]++;
            }
        enum role r;
        const char *role = (const char *)sqlite3_column_text(s, 1);
        roles[role && authz_role_parse(role, &r) == 0 ? (int)r : ROLE_COUNT]++;
        const char *u = (const char *)sqlite3_column_text(s, 3);
        for (int k = 0; k < NURGENCY; k++)
            urg[k] += u && strcmp(u, urgencies[k]) == 0;
        minor[sqlite3_column_int(s, 4) ? 0 : 1]++;
        const char *gm = (const char *)sqlite3_column_text(s, 5);
        if (!gm || !*gm) {
            no_muni++;
            continue;
        }
        size_t k = 0;
        while (k < nmunis && strcmp(munis[k].code, gm) != 0)
            k++;
        if (k == nmunis) {
            if (nmunis == cap_munis) {
                struct muni *mm = realloc(munis, cap_munis * 2 * sizeof *mm);
                if (!mm) {
                    snprintf(err, errlen, "out of memory");
                    goto done;
                }
                munis = mm;
                cap_munis *= 2;
            }
            memset(&munis[nmunis], 0, sizeof *munis);
            snprintf(munis[nmunis++].code, sizeof munis->code, "%.7s", gm);
        }
        munis[k].n++;
    }
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    qsort(munis, nmunis, sizeof *munis, cmp_muni);

    json_t *sig = json_object();
    json_object_set_new(model, "signals", sig);
    size_t t = cell_add(b, sig, "total", total);
    *total_cell = t;
    json_t *fl = json_array();
    for (int k = 0; k < NFORMS; k++)
        json_array_append_new(fl, json_string(form_names[k]));
    json_object_set_new(sig, "forms", fl);
    /* by_month: the months' signals add up to the total; each form column
     * adds up to by_form. */
    json_t *bm = json_array(), *bf = json_object();
    json_object_set_new(sig, "by_month", bm);
    size_t *col = calloc((size_t)nmonths * (NFORMS + 1), sizeof *col);
    if (!col) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int i = 0; i < nmonths; i++) {
        json_t *row = json_object();
        char mon[16];
        snprintf(mon, sizeof mon, "%04d-%02d", (m0 + i) / 12, (m0 + i) % 12 + 1);
        json_object_set_new(row, "month", json_string(mon));
        json_array_append_new(bm, row);
        col[(size_t)i * (NFORMS + 1) + NFORMS] = cell_add(b, row, "signals", month[i][NFORMS]);
        for (int k = 0; k < NFORMS; k++)
            col[(size_t)i * (NFORMS + 1) + k] = cell_add(b, row, form_names[k], month[i][k]);
    }
    json_object_set_new(sig, "by_form", bf);
    size_t *line = calloc((size_t)nmonths + 8 + nmunis, sizeof *line);
    if (!line) {
        free(col);
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int k = 0; k <= NFORMS; k++) {
        for (int i = 0; i < nmonths; i++)
            line[i] = col[(size_t)i * (NFORMS + 1) + k];
        size_t tot = k < NFORMS ? cell_add(b, bf, form_names[k], forms[k]) : t;
        line_add(b, line, (size_t)nmonths, tot);
    }
    free(col);
    /* by_role */
    json_t *br = json_array();
    json_object_set_new(sig, "by_role", br);
    size_t nl = 0;
    for (int r = 0; r <= ROLE_COUNT; r++) {
        if (r == ROLE_COUNT && roles[r] == 0)
            break;
        json_t *row =
            json_pack("{s:s}", "role", r < ROLE_COUNT ? authz_role_name((enum role)r) : "unknown");
        json_array_append_new(br, row);
        line[nl++] = cell_add(b, row, "signals", roles[r]);
    }
    line_add(b, line, nl, t);
    /* by_municipality */
    json_t *bmu = json_array();
    json_object_set_new(sig, "by_municipality", bmu);
    nl = 0;
    for (size_t i = 0; i < nmunis; i++) {
        json_t *row =
            json_pack("{s:s, s:s}", "code", munis[i].code, "name", muni_name(cfg, munis[i].code));
        json_array_append_new(bmu, row);
        line[nl++] = cell_add(b, row, "signals", munis[i].n);
    }
    json_t *unk = json_pack("{s:n, s:s}", "code", "name", "onbekend");
    json_array_append_new(bmu, unk);
    line[nl++] = cell_add(b, unk, "signals", no_muni);
    line_add(b, line, nl, t);
    /* by_age, by_urgency */
    json_t *age = json_object(), *bu = json_object();
    json_object_set_new(sig, "by_age", age);
    json_object_set_new(sig, "by_urgency", bu);
    line[0] = cell_add(b, age, "minderjarig", minor[0]);
    line[1] = cell_add(b, age, "meerderjarig", minor[1]);
    line_add(b, line, 2, t);
    for (int k = 0; k < NURGENCY; k++)
        line[k] = cell_add(b, bu, urgencies[k], urg[k]);
    line_add(b, line, NURGENCY, t);
    free(line);
    rc = b->oom ? -1 : 0;
    if (b->oom)
        snprintf(err, errlen, "out of memory");
done:
    sqlite3_finalize(s);
    free(month);
    free(munis);
    return rc;
}

/* ---- referrals ------------------------------------------------------------ */

/* One partner's receipt or decision figures. */
struct answers {
    struct durations d; /* time to answer, of those with a known offer time */
    long long known;    /* answered with a known deadline */
    long long within;   /* of those, on time */
    long long deadline; /* the deadline every referral had, ms; -1 none seen, -2 mixed */
};

struct part {
    char id[65];
    long long offered, open, accepted, declined, other, received, decided;
    struct answers rec, dec;
};

static int part_index(struct part **ps, size_t *n, size_t *cap, const char *id)
{
    size_t lo = 0, hi = *n; /* kept sorted by id */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp((*ps)[mid].id, id);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct part *np = realloc(*ps, nc * sizeof *np);
        if (!np)
            return -1;
        *ps = np;
        *cap = nc;
    }
    memmove(&(*ps)[lo + 1], &(*ps)[lo], (*n - lo) * sizeof **ps);
    memset(&(*ps)[lo], 0, sizeof **ps);
    snprintf((*ps)[lo].id, sizeof(*ps)[lo].id, "%s", id);
    (*ps)[lo].rec.deadline = (*ps)[lo].dec.deadline = -1;
    (*n)++;
    return (int)lo;
}

static void note_deadline(long long *seen, long long d)
{
    if (*seen == -1)
        *seen = d;
    else if (*seen != d)
        *seen = -2;
}

/* Writes receipt / decision statistics of one partner into obj[key], and
 * returns the cell that counts the answers. `same` is a cell that already
 * counts them elsewhere in the row (SIZE_MAX: none); then that one cell is
 * shown in both places, hidden in both or neither. */
static size_t stats(struct book *b, json_t *obj, const char *key, struct answers *a, long long n,
                    size_t same)
{
    json_t *o = json_object();
    json_object_set_new(obj, key, o);
    size_t shown = cell_add(b, o, "answered", n);
    size_t answered = shown;
    if (same != SIZE_MAX) {
        b->cells[shown].twin = same;
        answered = same;
    }
    /* answered = within + late + unknown: late and unknown are not shown,
     * but could be worked out from the others. */
    size_t idx[3];
    idx[0] = cell_add(b, o, "within_deadline", a->within);
    idx[1] = cell_add(b, NULL, "late", a->known - a->within);
    idx[2] = cell_add(b, NULL, "unknown", n - a->known);
    line_add(b, idx, 3, answered);
    int enough = a->d.n >= (size_t)b->threshold;
    json_object_set_new(o, "median_minutes",
                        enough ? minutes((double)percentile(a->d.v, a->d.n, 50)) : json_null());
    json_object_set_new(o, "p90_minutes",
                        enough ? minutes((double)percentile(a->d.v, a->d.n, 90)) : json_null());
    /* The share only when every answer's deadline is known, and never when
     * it would give a hidden count away. */
    long long late = a->known - a->within;
    int shows = a->known == n && n >= b->threshold &&
                (a->within == 0 || a->within >= b->threshold) &&
                (late == 0 || late >= b->threshold);
    json_object_set_new(o, "within_deadline_pct",
                        shows ? json_real(round(1000.0 * (double)a->within / (double)n) / 10.0)
                              : json_null());
    json_object_set_new(o, "deadline_minutes",
                        a->deadline >= 0 ? minutes((double)a->deadline) : json_null());
    if (b->nshares == b->capshares) {
        size_t cap = b->capshares ? b->capshares * 2 : 32;
        struct share *sh = realloc(b->shares, cap * sizeof *sh);
        if (!sh) {
            b->oom = 1;
            return answered;
        }
        b->shares = sh;
        b->capshares = cap;
    }
    b->shares[b->nshares++] = (struct share){o, answered, idx[0]};
    return answered;
}

static int referrals_section(sqlite3 *db, const struct config *cfg, const struct report_period *pd,
                             struct book *b, json_t *model, char *err, size_t errlen)
{
    struct part *ps = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.partner, r.state, r.created_ms, r.receipt_deadline_ms, "
                           "r.decision_deadline_ms, r.received_ms, r.decided_ms "
                           "FROM signal_facts f JOIN referrals r ON r.signal_seq = f.seq "
                           "WHERE f.received_ms >= ?1 AND f.received_ms < ?2",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, pd->from_ms);
    sqlite3_bind_int64(s, 2, pd->to_ms);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int i = part_index(&ps, &n, &cap, (const char *)sqlite3_column_text(s, 0));
        if (i < 0)
            goto oom;
        struct part *p = &ps[i];
        const char *st = (const char *)sqlite3_column_text(s, 1);
        p->offered++;
        if (strcmp(st, "aangeboden") == 0 || strcmp(st, "ontvangen") == 0)
            p->open++;
        else if (strcmp(st, "geaccepteerd") == 0 || strcmp(st, "afgerond") == 0)
            p->accepted++;
        else if (strcmp(st, "afgewezen") == 0)
            p->declined++;
        else
            p->other++;
        int64_t created = sqlite3_column_int64(s, 2);
        int has_created = sqlite3_column_type(s, 2) != SQLITE_NULL;
        for (int k = 0; k < 2; k++) { /* receipt, decision */
            int at_col = 5 + k, dl_col = 3 + k;
            if (sqlite3_column_type(s, at_col) == SQLITE_NULL)
                continue;
            struct answers *a = k ? &p->dec : &p->rec;
            if (k)
                p->decided++;
            else
                p->received++;
            int64_t at = sqlite3_column_int64(s, at_col);
            if (has_created && dur_add(&a->d, at - created) != 0)
                goto oom;
            if (has_created && sqlite3_column_type(s, dl_col) != SQLITE_NULL) {
                int64_t dl = sqlite3_column_int64(s, dl_col);
                a->known++;
                a->within += at <= dl;
                note_deadline(&a->deadline, dl - created);
            }
        }
    }
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    static const char *const cols[] = {"offered",  "open",  "accepted",
                                       "declined", "other", "received"};
    json_t *sec = json_object(), *arr = json_array(), *tot = json_object();
    json_object_set_new(model, "referrals", sec);
    json_object_set_new(sec, "partners", arr);
    size_t *colidx = calloc((n + 1) * 6, sizeof *colidx);
    if (!colidx)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        struct part *p = &ps[i];
        const struct partner *cp = config_partner(cfg, p->id);
        json_t *row = json_pack("{s:s, s:s, s:s}", "partner", p->id, "name",
                                cp && cp->name ? cp->name : p->id, "role",
                                cp ? authz_role_name(cp->role) : "unknown");
        json_array_append_new(arr, row);
        long long v[6] = {p->offered, p->open, p->accepted, p->declined, p->other, p->received};
        for (int c = 0; c < 6; c++)
            colidx[i * 6 + (size_t)c] = cell_add(b, row, cols[c], v[c]);
        line_add(b, &colidx[i * 6 + 1], 4, colidx[i * 6]); /* offered = the four states */
        stats(b, row, "receipt", &p->rec, p->received, colidx[i * 6 + 5]);
        size_t decided = stats(b, row, "decision", &p->dec, p->decided, SIZE_MAX);
        /* Decided = accepted + declined + those decided and since cancelled
         * or failed (not shown). */
        size_t dl[3] = {colidx[i * 6 + 2], colidx[i * 6 + 3],
                        cell_add(b, NULL, "decided_other", p->decided - p->accepted - p->declined)};
        if (p->decided >= p->accepted + p->declined)
            line_add(b, dl, 3, decided);
    }
    json_object_set_new(sec, "total", tot);
    size_t *line = calloc(n + 1, sizeof *line);
    if (!line) {
        free(colidx);
        goto oom;
    }
    size_t totidx[6];
    for (int c = 0; c < 6; c++) {
        long long sum = 0;
        for (size_t i = 0; i < n; i++) {
            line[i] = colidx[i * 6 + (size_t)c];
            sum += b->cells[line[i]].v;
        }
        totidx[c] = cell_add(b, tot, cols[c], sum);
        line_add(b, line, n, totidx[c]);
    }
    line_add(b, &totidx[1], 4, totidx[0]);
    free(line);
    free(colidx);
    rc = b->oom ? -1 : 0;
    if (b->oom)
        snprintf(err, errlen, "out of memory");
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    for (size_t i = 0; i < n; i++) {
        free(ps[i].rec.d.v);
        free(ps[i].dec.d.v);
    }
    free(ps);
    sqlite3_finalize(s);
    return rc;
}

/* ---- escalations ------------------------------------------------------------ */

static int escalations_section(sqlite3 *db, const struct report_period *pd, struct book *b,
                               json_t *model, char *err, size_t errlen)
{
    long long levels[LEVELS_MAX] = {0}, total = 0;
    struct durations ack = {0};
    int maxlevel = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT x.level, x.due_ms, x.acked_ms FROM signal_facts f "
                           "JOIN referrals r ON r.signal_seq = f.seq "
                           "JOIN escalations x ON x.referral = r.id "
                           "WHERE f.received_ms >= ?1 AND f.received_ms < ?2",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(s, 1, pd->from_ms);
    sqlite3_bind_int64(s, 2, pd->to_ms);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        total++;
        int level = sqlite3_column_int(s, 0) + 1; /* 0: no alert yet */
        if (level < 0)
            level = 0;
        if (level >= LEVELS_MAX)
            level = LEVELS_MAX - 1;
        levels[level]++;
        if (level > maxlevel)
            maxlevel = level;
        if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
            dur_add(&ack, sqlite3_column_int64(s, 2) - sqlite3_column_int64(s, 1)) != 0) {
            snprintf(err, errlen, "out of memory");
            sqlite3_finalize(s);
            free(ack.v);
            return -1;
        }
    }
    sqlite3_finalize(s);
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        free(ack.v);
        return -1;
    }
    json_t *sec = json_object(), *bl = json_array();
    json_object_set_new(model, "escalations", sec);
    size_t t = cell_add(b, sec, "total", total);
    json_object_set_new(sec, "by_level", bl);
    size_t line[LEVELS_MAX], nl = 0;
    for (int l = levels[0] ? 0 : 1; l <= (maxlevel ? maxlevel : 0); l++) {
        json_t *row = json_pack("{s:i}", "level", l);
        json_array_append_new(bl, row);
        line[nl++] = cell_add(b, row, "escalations", levels[l]);
    }
    if (nl)
        line_add(b, line, nl, t);
    cell_add(b, sec, "acknowledged", (long long)ack.n);
    int enough = ack.n >= (size_t)b->threshold;
    json_object_set_new(
        sec, "time_to_ack",
        json_pack("{s:o, s:o}", "median_minutes",
                  enough ? minutes((double)percentile(ack.v, ack.n, 50)) : json_null(),
                  "p90_minutes",
                  enough ? minutes((double)percentile(ack.v, ack.n, 90)) : json_null()));
    free(ack.v);
    return 0;
}

/* ---- matches ------------------------------------------------------------------ */

/* A role name's index in the role order, ROLE_COUNT for any other ("unknown"). */
static int role_index(const unsigned char *name)
{
    enum role r;
    return name && authz_role_parse((const char *)name, &r) == 0 ? (int)r : ROLE_COUNT;
}

/* The matches raised in the period (docs/matching.md), from the matches
 * table only: per month (every month of the period) and per pair of the two
 * partners' roles (every pair of the five roles, then pairs with "unknown"
 * when there are any). Both add up to the count. A database from before
 * schema version 5 has no matches: available false. */
static int matches_section(sqlite3 *db, int version, const struct report_period *pd, struct book *b,
                           json_t *model, char *err, size_t errlen)
{
    enum { NR = ROLE_COUNT + 1 };
    if (version < 5) {
        json_object_set_new(model, "matches", json_pack("{s:b, s:n}", "available", 0, "count"));
        return 0;
    }
    int m0 = month_of(pd->from_ms), m1 = month_of(pd->to_ms - 1);
    int nmonths = m1 - m0 + 1;
    long long pairs[NR][NR] = {{0}}, total = 0;
    long long *month = calloc((size_t)nmonths, sizeof *month);
    size_t *line = calloc((size_t)nmonths + NR * NR, sizeof *line);
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (!month || !line) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT found_ms, role, earlier_role FROM matches "
                           "WHERE found_ms >= ?1 AND found_ms < ?2",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot query the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_int64(s, 1, pd->from_ms);
    sqlite3_bind_int64(s, 2, pd->to_ms);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int mi = month_of(sqlite3_column_int64(s, 0)) - m0;
        int x = role_index(sqlite3_column_text(s, 1)), y = role_index(sqlite3_column_text(s, 2));
        if (mi < 0 || mi >= nmonths)
            continue;
        month[mi]++;
        pairs[x < y ? x : y][x < y ? y : x]++;
        total++;
    }
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        goto done;
    }
    json_t *sec = json_pack("{s:b}", "available", 1), *bm = json_array(), *br = json_array();
    json_object_set_new(model, "matches", sec);
    size_t t = cell_add(b, sec, "count", total);
    json_object_set_new(sec, "by_month", bm);
    json_object_set_new(sec, "by_roles", br);
    for (int i = 0; i < nmonths; i++) {
        char mon[16];
        snprintf(mon, sizeof mon, "%04d-%02d", (m0 + i) / 12, (m0 + i) % 12 + 1);
        json_t *row = json_pack("{s:s}", "month", mon);
        json_array_append_new(bm, row);
        line[i] = cell_add(b, row, "matches", month[i]);
    }
    line_add(b, line, (size_t)nmonths, t);
    size_t nl = 0;
    for (int x = 0; x < NR; x++) {
        for (int y = x; y < NR; y++) {
            if (y == ROLE_COUNT && pairs[x][y] == 0)
                continue; /* "unknown" only when there is one */
            json_t *row = json_pack("{s:[s, s]}", "roles",
                                    x < ROLE_COUNT ? authz_role_name((enum role)x) : "unknown",
                                    y < ROLE_COUNT ? authz_role_name((enum role)y) : "unknown");
            json_array_append_new(br, row);
            line[nl++] = cell_add(b, row, "matches", pairs[x][y]);
        }
    }
    line_add(b, line, nl, t);
    rc = 0;
done:
    sqlite3_finalize(s);
    free(month);
    free(line);
    return rc;
}

/* ---- the report ---------------------------------------------------------- */

json_t *report_build(const char *db_path, const struct config *cfg, const struct report_period *pd,
                     int threshold, int64_t generated_ms, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    json_t *model = NULL;
    struct book b = {.threshold = threshold};
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", db_path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_stmt *v = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK &&
        sqlite3_step(v) == SQLITE_ROW)
        version = sqlite3_column_int(v, 0);
    sqlite3_finalize(v);
    if (version < 4) {
        snprintf(err, errlen,
                 "database %s has schema version %d; the report needs version 4 or later "
                 "(start this release's ketenhubd once to migrate it)",
                 db_path, version);
        goto fail;
    }
    /* One read transaction: every section sees the same snapshot. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot read the database: %s", sqlite3_errmsg(db));
        goto fail;
    }
    char generated[UTIL_TIME_LEN];
    util_time_format(generated_ms, generated);
    model = json_pack("{s:s, s:i, s:{s:s, s:s}, s:s, s:i}", "report", "ketenhub", "version", 1,
                      "period", "from", pd->from, "to", pd->to, "generated", generated, "threshold",
                      threshold);
    size_t total;
    if (!model || signals_section(db, cfg, pd, &b, model, &total, err, errlen) != 0 ||
        referrals_section(db, cfg, pd, &b, model, err, errlen) != 0 ||
        escalations_section(db, pd, &b, model, err, errlen) != 0 ||
        matches_section(db, version, pd, &b, model, err, errlen) != 0)
        goto fail;
    protect(&b);
    if (b.oom) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    book_write(&b);
    free(b.cells);
    free(b.members);
    free(b.shares);
    sqlite3_close(db);
    return model;
fail:
    if (!*err)
        snprintf(err, errlen, "out of memory");
    free(b.cells);
    free(b.members);
    free(b.shares);
    json_decref(model);
    sqlite3_close(db);
    return NULL;
}
