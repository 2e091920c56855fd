/*
 * report_render (ketenctl) - the report's model as CSV and as HTML; see
 * ctl/report_render.h and docs/reporting.md sections 2 and 3.
 *
 * The JSON model is read once into struct model, checked member by member
 * (a count is a number of 0 or from the threshold up, "<N" for threshold N,
 * or "x"; a statistic is a number or null); both writers then walk that
 * struct, so they cannot disagree on what a figure is. They write into a
 * memory stream first and copy it to `out` only when all went well: a bad
 * model leaves `out` untouched.
 *
 * Decimals are formatted here (rounded to tenths, '.' as the separator), not
 * with printf's %f, so a locale set by the caller cannot put a comma in a
 * CSV number or an SVG coordinate. SVG coordinates are whole pixels.
 */
#include "ctl/report_render.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define COUNT(a) (sizeof(a) / sizeof *(a))
#define PATH_MAX_LEN 160
#define FORMS_MAX 32
#define NUMBER_MAX 1e12 /* larger minutes or percentages are not real */

/* A count: n, or hidden (text is "<N" or "x", borrowed from the model). */
struct count {
    long long n;
    const char *text;
};

/* A statistic: v, unless known is 0 (null in the model). */
struct number {
    int known;
    double v;
};

enum { REF_OFFERED, REF_OPEN, REF_ACCEPTED, REF_DECLINED, REF_OTHER, REF_RECEIVED, REF_N };
static const char *const ref_keys[REF_N] = {"offered",  "open",  "accepted",
                                            "declined", "other", "received"};

enum { T_RECEIPT, T_DECISION, T_N };
static const char *const timing_keys[T_N] = {"receipt", "decision"};

struct timing {
    struct count answered, within;
    struct number median, p90, pct, deadline;
};

struct partner {
    const char *id, *name, *role;
    struct count n[REF_N];
    struct timing t[T_N];
};

struct month {
    const char *month;
    struct count signals;
    struct count *forms; /* one per model.forms, in that order */
};

/* One line of a simple breakdown: a role, a municipality, an age group. */
struct row {
    const char *key;  /* the role, the CBS code (NULL: none), the group */
    const char *name; /* a municipality's name; else NULL */
    struct count n;
};

struct level {
    long long level;
    struct count n;
};

/* Matches between two partners' roles: key is "role+role". */
struct match_pair {
    char key[72];
    struct count n;
};

static const char *const age_keys[] = {"minderjarig", "meerderjarig"};
static const char *const urgency_keys[] = {"crisis", "hoog", "normaal"};

struct model {
    long long version, threshold;
    const char *from, *to, *generated;
    struct count total;
    const char **forms;
    size_t nforms;
    struct month *months;
    size_t nmonths;
    struct count *by_form;
    struct row *roles, *munis;
    size_t nroles, nmunis;
    struct count age[COUNT(age_keys)], urgency[COUNT(urgency_keys)];
    struct partner *partners;
    size_t npartners;
    struct count ref_total[REF_N];
    struct count esc_total, acknowledged;
    struct level *levels;
    size_t nlevels;
    struct number ack_median, ack_p90;
    int matches_available;
    int matches_known;
    struct count matches;
    struct row *match_months; /* key: the month */
    size_t nmatch_months;
    struct match_pair *match_pairs;
    size_t nmatch_pairs;
};

/* ---- reading and checking the model ---- */

struct loader {
    char *err;
    size_t errlen;
    int failed;
    long long threshold;
    char small[24]; /* "<N" for threshold N */
};

static void bad(struct loader *l, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first problem: "report model: /path/key: what" (no "/key"
 * when key is NULL; the top level's path is ""). */
static void bad(struct loader *l, const char *path, const char *key, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    if (l->failed)
        return;
    l->failed = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(l->err, l->errlen, "report model: %s%s%s: %s", path[0] || key ? path : "/",
             key ? "/" : "", key ? key : "", what);
}

/* parent's member `key`, or NULL with a problem recorded. */
static const json_t *member(struct loader *l, const json_t *parent, const char *path,
                            const char *key)
{
    const json_t *v;
    if (!json_is_object(parent)) {
        bad(l, path, NULL, "must be an object");
        return NULL;
    }
    v = json_object_get(parent, key);
    if (!v)
        bad(l, path, key, "missing");
    return v;
}

static const json_t *get_object(struct loader *l, const json_t *parent, const char *path,
                                const char *key)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    if (v && !json_is_object(v)) {
        bad(l, path, key, "must be an object");
        return NULL;
    }
    return v;
}

static const json_t *get_array(struct loader *l, const json_t *parent, const char *path,
                               const char *key)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    if (v && !json_is_array(v)) {
        bad(l, path, key, "must be an array");
        return NULL;
    }
    return v;
}

/* A string member; with `nullable` null is allowed and gives NULL. */
static const char *get_string(struct loader *l, const json_t *parent, const char *path,
                              const char *key, int nullable)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    if (!v || (nullable && json_is_null(v)))
        return NULL;
    if (!json_is_string(v)) {
        bad(l, path, key, nullable ? "must be a string or null" : "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

static long long get_int(struct loader *l, const json_t *parent, const char *path, const char *key,
                         long long min, long long max)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        bad(l, path, key, "must be an integer from %lld to %lld", min, max);
        return 0;
    }
    return (long long)json_integer_value(v);
}

/* A count: 0, a number from the threshold up, "<N" or "x". A number from 1
 * to threshold - 1 is refused: section 1 says such a count is hidden, and
 * showing it would be the very leak the threshold is there to prevent. */
static void get_count(struct loader *l, const json_t *parent, const char *path, const char *key,
                      struct count *out)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    out->n = 0;
    out->text = NULL;
    if (!v)
        return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "x") != 0 && strcmp(s, l->small) != 0)
            bad(l, path, key, "\"%s\" is not a count (an integer, \"%s\" or \"x\")", s, l->small);
        out->text = s;
        return;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        bad(l, path, key, "must be a count (an integer, \"%s\" or \"x\")", l->small);
        return;
    }
    out->n = (long long)json_integer_value(v);
    if (out->n > 0 && out->n < l->threshold)
        bad(l, path, key, "%lld is below the threshold %lld and must be shown as \"%s\"", out->n,
            l->threshold, l->small);
}

static void get_number(struct loader *l, const json_t *parent, const char *path, const char *key,
                       struct number *out)
{
    const json_t *v = l->failed ? NULL : member(l, parent, path, key);
    out->known = 0;
    out->v = 0;
    if (!v || json_is_null(v))
        return;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > NUMBER_MAX) {
        bad(l, path, key, "must be a number from 0 up, or null");
        return;
    }
    out->known = 1;
    out->v = json_number_value(v);
}

/* Allocates n elements (at least one, so that 0 is not a failure). */
static void *alloc(struct loader *l, size_t n, size_t size)
{
    void *p = l->failed ? NULL : calloc(n ? n : 1, size);
    if (!p && !l->failed) {
        snprintf(l->err, l->errlen, "out of memory");
        l->failed = 1;
    }
    return p;
}

static void load_forms(struct loader *l, const json_t *signals, struct model *m)
{
    const json_t *forms = get_array(l, signals, "/signals", "forms");
    size_t i;
    const json_t *f;
    if (!forms)
        return;
    if (json_array_size(forms) > FORMS_MAX) {
        bad(l, "/signals", "forms", "more than %d forms", FORMS_MAX);
        return;
    }
    m->nforms = json_array_size(forms);
    m->forms = alloc(l, m->nforms, sizeof *m->forms);
    json_array_foreach(forms, i, f)
    {
        if (l->failed)
            return;
        if (!json_is_string(f) || json_string_length(f) == 0) {
            char key[32];
            snprintf(key, sizeof key, "%zu", i);
            bad(l, "/signals/forms", key, "must be a non-empty string");
            return;
        }
        m->forms[i] = json_string_value(f);
    }
}

static void load_months(struct loader *l, const json_t *signals, struct model *m)
{
    const json_t *months = get_array(l, signals, "/signals", "by_month");
    size_t i;
    const json_t *e;
    char path[PATH_MAX_LEN];
    if (!months)
        return;
    m->nmonths = json_array_size(months);
    m->months = alloc(l, m->nmonths, sizeof *m->months);
    json_array_foreach(months, i, e)
    {
        if (l->failed)
            return;
        snprintf(path, sizeof path, "/signals/by_month/%zu", i);
        struct month *mo = &m->months[i];
        mo->forms = alloc(l, m->nforms, sizeof *mo->forms);
        if (!mo->forms)
            return;
        mo->month = get_string(l, e, path, "month", 0);
        get_count(l, e, path, "signals", &mo->signals);
        for (size_t k = 0; k < m->nforms; k++)
            get_count(l, e, path, m->forms[k], &mo->forms[k]);
    }
}

/* An array of objects {key_name: string, "signals": count} (with_name: and
 * "name"; a null key allowed) into rows. */
static struct row *load_rows(struct loader *l, const json_t *signals, const char *member_name,
                             const char *key_name, int with_name, size_t *n)
{
    char parent[64], path[PATH_MAX_LEN];
    const json_t *arr = get_array(l, signals, "/signals", member_name);
    size_t i;
    const json_t *e;
    struct row *rows;
    *n = 0;
    if (!arr)
        return NULL;
    rows = alloc(l, json_array_size(arr), sizeof *rows);
    if (!rows)
        return NULL;
    *n = json_array_size(arr);
    snprintf(parent, sizeof parent, "/signals/%s", member_name);
    json_array_foreach(arr, i, e)
    {
        snprintf(path, sizeof path, "%s/%zu", parent, i);
        rows[i].key = get_string(l, e, path, key_name, with_name);
        if (with_name)
            rows[i].name = get_string(l, e, path, "name", 0);
        get_count(l, e, path, "signals", &rows[i].n);
    }
    return rows;
}

static void load_signals(struct loader *l, const json_t *doc, struct model *m)
{
    const json_t *s = get_object(l, doc, "", "signals");
    const json_t *o;
    get_count(l, s, "/signals", "total", &m->total);
    load_forms(l, s, m);
    load_months(l, s, m);
    if ((o = get_object(l, s, "/signals", "by_form")) != NULL) {
        m->by_form = alloc(l, m->nforms, sizeof *m->by_form);
        for (size_t k = 0; m->by_form && k < m->nforms; k++)
            get_count(l, o, "/signals/by_form", m->forms[k], &m->by_form[k]);
    }
    m->roles = load_rows(l, s, "by_role", "role", 0, &m->nroles);
    m->munis = load_rows(l, s, "by_municipality", "code", 1, &m->nmunis);
    if ((o = get_object(l, s, "/signals", "by_age")) != NULL)
        for (size_t k = 0; k < COUNT(age_keys); k++)
            get_count(l, o, "/signals/by_age", age_keys[k], &m->age[k]);
    if ((o = get_object(l, s, "/signals", "by_urgency")) != NULL)
        for (size_t k = 0; k < COUNT(urgency_keys); k++)
            get_count(l, o, "/signals/by_urgency", urgency_keys[k], &m->urgency[k]);
}

static void load_timing(struct loader *l, const json_t *partner, const char *ppath, int which,
                        struct timing *t)
{
    char path[2 * PATH_MAX_LEN];
    const json_t *o = get_object(l, partner, ppath, timing_keys[which]);
    snprintf(path, sizeof path, "%s/%s", ppath, timing_keys[which]);
    get_count(l, o, path, "answered", &t->answered);
    get_number(l, o, path, "median_minutes", &t->median);
    get_number(l, o, path, "p90_minutes", &t->p90);
    get_count(l, o, path, "within_deadline", &t->within);
    get_number(l, o, path, "within_deadline_pct", &t->pct);
    get_number(l, o, path, "deadline_minutes", &t->deadline);
}

static void load_referrals(struct loader *l, const json_t *doc, struct model *m)
{
    const json_t *r = get_object(l, doc, "", "referrals");
    const json_t *arr = get_array(l, r, "/referrals", "partners");
    const json_t *total = get_object(l, r, "/referrals", "total");
    char path[PATH_MAX_LEN];
    if (arr) {
        m->npartners = json_array_size(arr);
        m->partners = alloc(l, m->npartners, sizeof *m->partners);
    }
    for (size_t i = 0; m->partners && !l->failed && i < m->npartners; i++) {
        const json_t *e = json_array_get(arr, i);
        struct partner *p = &m->partners[i];
        snprintf(path, sizeof path, "/referrals/partners/%zu", i);
        p->id = get_string(l, e, path, "partner", 0);
        p->name = get_string(l, e, path, "name", 0);
        p->role = get_string(l, e, path, "role", 0);
        for (int k = 0; k < REF_N; k++)
            get_count(l, e, path, ref_keys[k], &p->n[k]);
        for (int k = 0; k < T_N; k++)
            load_timing(l, e, path, k, &p->t[k]);
    }
    for (int k = 0; k < REF_N; k++)
        get_count(l, total, "/referrals/total", ref_keys[k], &m->ref_total[k]);
}

static void load_escalations(struct loader *l, const json_t *doc, struct model *m)
{
    const json_t *e = get_object(l, doc, "", "escalations");
    const json_t *arr, *t;
    char path[PATH_MAX_LEN];
    get_count(l, e, "/escalations", "total", &m->esc_total);
    arr = get_array(l, e, "/escalations", "by_level");
    if (arr) {
        m->nlevels = json_array_size(arr);
        m->levels = alloc(l, m->nlevels, sizeof *m->levels);
    }
    for (size_t i = 0; m->levels && !l->failed && i < m->nlevels; i++) {
        const json_t *v = json_array_get(arr, i);
        snprintf(path, sizeof path, "/escalations/by_level/%zu", i);
        m->levels[i].level = get_int(l, v, path, "level", 0, 1000);
        get_count(l, v, path, "escalations", &m->levels[i].n);
    }
    get_count(l, e, "/escalations", "acknowledged", &m->acknowledged);
    t = get_object(l, e, "/escalations", "time_to_ack");
    get_number(l, t, "/escalations/time_to_ack", "median_minutes", &m->ack_median);
    get_number(l, t, "/escalations/time_to_ack", "p90_minutes", &m->ack_p90);
}

static void load_matches(struct loader *l, const json_t *doc, struct model *m)
{
    const json_t *o = get_object(l, doc, "", "matches");
    const json_t *a = l->failed ? NULL : member(l, o, "/matches", "available");
    if (a && !json_is_boolean(a))
        bad(l, "/matches", "available", "must be true or false");
    m->matches_available = json_is_true(a);
    if (l->failed)
        return;
    if (json_is_null(json_object_get(o, "count")) && !m->matches_available)
        return;
    get_count(l, o, "/matches", "count", &m->matches);
    m->matches_known = 1;
    if (!m->matches_available)
        return;
    char path[PATH_MAX_LEN];
    size_t i;
    const json_t *e, *arr = get_array(l, o, "/matches", "by_month");
    if (arr && (m->match_months = alloc(l, json_array_size(arr), sizeof *m->match_months))) {
        m->nmatch_months = json_array_size(arr);
        json_array_foreach(arr, i, e)
        {
            snprintf(path, sizeof path, "/matches/by_month/%zu", i);
            m->match_months[i].key = get_string(l, e, path, "month", 0);
            get_count(l, e, path, "matches", &m->match_months[i].n);
        }
    }
    arr = get_array(l, o, "/matches", "by_roles");
    if (arr && (m->match_pairs = alloc(l, json_array_size(arr), sizeof *m->match_pairs))) {
        m->nmatch_pairs = json_array_size(arr);
        json_array_foreach(arr, i, e)
        {
            snprintf(path, sizeof path, "/matches/by_roles/%zu", i);
            const json_t *roles = get_array(l, e, path, "roles");
            const char *r1 = json_string_value(json_array_get(roles, 0));
            const char *r2 = json_string_value(json_array_get(roles, 1));
            if (roles &&
                (json_array_size(roles) != 2 || !r1 || !r2 || strlen(r1) > 32 || strlen(r2) > 32))
                bad(l, path, "roles", "must be two role names");
            else if (roles)
                snprintf(m->match_pairs[i].key, sizeof m->match_pairs[i].key, "%s+%s", r1, r2);
            get_count(l, e, path, "matches", &m->match_pairs[i].n);
        }
    }
}

static void model_free(struct model *m)
{
    for (size_t i = 0; m->months && i < m->nmonths; i++)
        free(m->months[i].forms);
    free(m->months);
    free(m->forms);
    free(m->by_form);
    free(m->roles);
    free(m->munis);
    free(m->partners);
    free(m->levels);
    free(m->match_months);
    free(m->match_pairs);
    memset(m, 0, sizeof *m);
}

/* Reads and checks the whole model. Returns 0, or -1 with err filled (the
 * model freed). Strings stay borrowed from doc. */
static int model_load(const json_t *doc, struct model *m, char *err, size_t errlen)
{
    struct loader l = {.err = err, .errlen = errlen, .threshold = 5};
    const json_t *period;
    memset(m, 0, sizeof *m);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "report model: not a JSON object");
        return -1;
    }
    m->version = get_int(&l, doc, "", "version", 0, 1000000);
    if (!l.failed && m->version != REPORT_RENDER_VERSION)
        bad(&l, "", "version", "is %lld; this ketenctl renders version %d", m->version,
            REPORT_RENDER_VERSION);
    m->threshold = get_int(&l, doc, "", "threshold", 2, 100);
    l.threshold = m->threshold;
    snprintf(l.small, sizeof l.small, "<%lld", m->threshold);
    period = get_object(&l, doc, "", "period");
    m->from = get_string(&l, period, "/period", "from", 0);
    m->to = get_string(&l, period, "/period", "to", 0);
    m->generated = get_string(&l, doc, "", "generated", 0);
    load_signals(&l, doc, m);
    load_referrals(&l, doc, m);
    load_escalations(&l, doc, m);
    load_matches(&l, doc, m);
    if (l.failed) {
        model_free(m);
        return -1;
    }
    return 0;
}

/* ---- formatting ---- */

#define TEXT_LEN 48

/* v rounded to one decimal, '.' as separator whatever the locale. */
static const char *fmt_dec(double v, char buf[TEXT_LEN])
{
    long long t = llround(v * 10.0);
    snprintf(buf, TEXT_LEN, "%s%lld.%lld", t < 0 ? "-" : "", llabs(t) / 10, llabs(t) % 10);
    return buf;
}

/* A count as the model has it: the number, or "<N" / "x". */
static const char *fmt_count(const struct count *c, char buf[TEXT_LEN])
{
    if (c->text)
        return c->text;
    snprintf(buf, TEXT_LEN, "%lld", c->n);
    return buf;
}

/* An axis label: whole numbers without decimals. */
static const char *fmt_tick(double v, char buf[TEXT_LEN])
{
    if (fabs(v - round(v)) < 1e-6) {
        snprintf(buf, TEXT_LEN, "%lld", (long long)llround(v));
        return buf;
    }
    return fmt_dec(v, buf);
}

/* ---- CSV ---- */

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* One line table,row,column,value; a NULL row or value is an empty field. */
static void csv_line(FILE *f, const char *table, const char *row, const char *column,
                     const char *value)
{
    csv_field(f, table);
    fputc(',', f);
    csv_field(f, row ? row : "");
    fputc(',', f);
    csv_field(f, column);
    fputc(',', f);
    csv_field(f, value ? value : "");
    fputs("\r\n", f);
}

static void csv_count(FILE *f, const char *table, const char *row, const char *column,
                      const struct count *c)
{
    char buf[TEXT_LEN];
    csv_line(f, table, row, column, fmt_count(c, buf));
}

static void csv_number(FILE *f, const char *table, const char *row, const char *column,
                       const struct number *v)
{
    char buf[TEXT_LEN];
    csv_line(f, table, row, column, v->known ? fmt_dec(v->v, buf) : NULL);
}

static void csv_signals(FILE *f, const struct model *m)
{
    csv_count(f, "signals", "total", "signals", &m->total);
    for (size_t i = 0; i < m->nmonths; i++) {
        const struct month *mo = &m->months[i];
        csv_count(f, "by_month", mo->month, "signals", &mo->signals);
        for (size_t k = 0; k < m->nforms; k++)
            csv_count(f, "by_month", mo->month, m->forms[k], &mo->forms[k]);
    }
    for (size_t k = 0; k < m->nforms; k++)
        csv_count(f, "by_form", m->forms[k], "signals", &m->by_form[k]);
    for (size_t i = 0; i < m->nroles; i++)
        csv_count(f, "by_role", m->roles[i].key, "signals", &m->roles[i].n);
    for (size_t i = 0; i < m->nmunis; i++) {
        csv_line(f, "by_municipality", m->munis[i].key, "name", m->munis[i].name);
        csv_count(f, "by_municipality", m->munis[i].key, "signals", &m->munis[i].n);
    }
    for (size_t k = 0; k < COUNT(age_keys); k++)
        csv_count(f, "by_age", age_keys[k], "signals", &m->age[k]);
    for (size_t k = 0; k < COUNT(urgency_keys); k++)
        csv_count(f, "by_urgency", urgency_keys[k], "signals", &m->urgency[k]);
}

static void csv_timing(FILE *f, const char *partner, const char *kind, const struct timing *t)
{
    char col[64];
#define TIMING_COL(name) (snprintf(col, sizeof col, "%s_%s", kind, name), col)
    csv_count(f, "referrals", partner, TIMING_COL("answered"), &t->answered);
    csv_number(f, "referrals", partner, TIMING_COL("median_minutes"), &t->median);
    csv_number(f, "referrals", partner, TIMING_COL("p90_minutes"), &t->p90);
    csv_count(f, "referrals", partner, TIMING_COL("within_deadline"), &t->within);
    csv_number(f, "referrals", partner, TIMING_COL("within_deadline_pct"), &t->pct);
    csv_number(f, "referrals", partner, TIMING_COL("deadline_minutes"), &t->deadline);
#undef TIMING_COL
}

static void csv_referrals(FILE *f, const struct model *m)
{
    for (size_t i = 0; i < m->npartners; i++) {
        const struct partner *p = &m->partners[i];
        csv_line(f, "referrals", p->id, "name", p->name);
        csv_line(f, "referrals", p->id, "role", p->role);
        for (int k = 0; k < REF_N; k++)
            csv_count(f, "referrals", p->id, ref_keys[k], &p->n[k]);
        for (int k = 0; k < T_N; k++)
            csv_timing(f, p->id, timing_keys[k], &p->t[k]);
    }
    for (int k = 0; k < REF_N; k++)
        csv_count(f, "referrals", "total", ref_keys[k], &m->ref_total[k]);
}

static void csv_rest(FILE *f, const struct model *m)
{
    char row[32];
    csv_count(f, "escalations", "total", "escalations", &m->esc_total);
    for (size_t i = 0; i < m->nlevels; i++) {
        snprintf(row, sizeof row, "level %lld", m->levels[i].level);
        csv_count(f, "escalations", row, "escalations", &m->levels[i].n);
    }
    csv_count(f, "escalations", "acknowledged", "escalations", &m->acknowledged);
    csv_number(f, "escalations", "time_to_ack", "median_minutes", &m->ack_median);
    csv_number(f, "escalations", "time_to_ack", "p90_minutes", &m->ack_p90);
    csv_line(f, "matches", "count", "available", m->matches_available ? "true" : "false");
    if (m->matches_known)
        csv_count(f, "matches", "count", "matches", &m->matches);
    else
        csv_line(f, "matches", "count", "matches", NULL);
    for (size_t i = 0; i < m->nmatch_months; i++)
        csv_count(f, "matches", m->match_months[i].key, "matches", &m->match_months[i].n);
    for (size_t i = 0; i < m->nmatch_pairs; i++)
        csv_count(f, "matches", m->match_pairs[i].key, "matches", &m->match_pairs[i].n);
}

static void csv_write(FILE *f, const struct model *m)
{
    char buf[TEXT_LEN];
    csv_line(f, "table", "row", "column", "value");
    snprintf(buf, sizeof buf, "%lld", m->version);
    csv_line(f, "report", "version", "value", buf);
    csv_line(f, "report", "period", "from", m->from);
    csv_line(f, "report", "period", "to", m->to);
    csv_line(f, "report", "generated", "value", m->generated);
    snprintf(buf, sizeof buf, "%lld", m->threshold);
    csv_line(f, "report", "threshold", "value", buf);
    csv_signals(f, m);
    csv_referrals(f, m);
    csv_rest(f, m);
}

/* ---- HTML: text ---- */

/* Writes s as HTML text (also safe inside a quoted attribute): the five
 * special characters as references, control characters other than tab and
 * line break as U+FFFD (HTML does not allow them). */
static void h_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                fputs("\xEF\xBF\xBD", f);
            else
                fputc(c, f);
        }
    }
}

/* At most max characters (UTF-8 sequences) of s, with "…" when cut. */
static const char *clip(const char *s, size_t max, char *buf, size_t size)
{
    size_t chars = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max)
            break;
    }
    if (!s[i] || i + 4 > size) /* fits, or no room to clip: the whole text */
        return s;
    memcpy(buf, s, i);
    memcpy(buf + i, "\xE2\x80\xA6", 4);
    return buf;
}

/* A table cell with a count, right-aligned; hidden counts marked. */
static void h_count_cell(FILE *f, const struct count *c)
{
    char buf[TEXT_LEN];
    fputs(c->text ? "<td class=\"n hid\">" : "<td class=\"n\">", f);
    h_text(f, fmt_count(c, buf));
    fputs("</td>", f);
}

/* A table cell with a statistic; null as a dash (explained below the table). */
static void h_number_cell(FILE *f, const struct number *v)
{
    char buf[TEXT_LEN];
    if (v->known)
        fprintf(f, "<td class=\"n\">%s</td>", fmt_dec(v->v, buf));
    else
        fputs("<td class=\"n na\">\xE2\x80\x93</td>", f);
}

/* <table> with a caption and header cells; a header starting with '#' is a
 * number column (the '#' is not shown). */
static void h_table_head(FILE *f, const char *caption, const char *const *heads, size_t n)
{
    fputs("<table>\n<caption>", f);
    h_text(f, caption);
    fputs("</caption>\n<thead><tr>", f);
    for (size_t i = 0; i < n; i++) {
        fputs(heads[i][0] == '#' ? "<th class=\"n\">" : "<th>", f);
        h_text(f, heads[i] + (heads[i][0] == '#'));
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
}

/* A two-column table: label, count. */
static void h_simple_table(FILE *f, const char *caption, const char *head,
                           const char *const *labels, const struct count *counts, size_t n)
{
    const char *heads[] = {head, "#signals"};
    h_table_head(f, caption, heads, COUNT(heads));
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        h_text(f, labels[i]);
        fputs("</td>", f);
        h_count_cell(f, &counts[i]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* ---- HTML: SVG charts ---- */

#define SVG_W 1000
#define HIDDEN_BOX 20         /* height (px) of a hidden count's box in the month chart */
#define HIDDEN_BAR_PX 48      /* length (px) of a hidden count's bar in a bar chart */
#define HIDDEN_LABEL_MIN_W 24 /* the narrowest month bar with text on its hidden boxes */

/* Colour-blind safe (Okabe & Ito), cycled when there are more forms. */
static const char *const palette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                      "#56b4e9", "#d55e00", "#b8a200", "#666666"};
#define HIDDEN_COLOUR "#8c8c8c"
/* Text classes t (16px) and s (14px), as the page's CSS sets them; a chart
 * 1000 wide is shown about 720 px wide on A4. CHAR_W: the width allowed per
 * character of t when laying out a legend. */
#define CHAR_W 10

/* A step of 1, 2 or 5 times a power of ten giving about `ticks` steps up to
 * max; at least `min_step`. */
static double nice_step(double max, int ticks, double min_step)
{
    double raw = max / ticks, step;
    if (!(raw > 0))
        return min_step;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    return step < min_step ? min_step : step;
}

static void svg_open(FILE *f, int height, const char *label)
{
    fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
            SVG_W, height, SVG_W, height);
    h_text(f, label);
    fputs("\">\n<title>", f);
    h_text(f, label);
    fputs("</title>\n", f);
}

/* A hatch pattern `id` in `colour` (inside <defs>). */
static void svg_hatch(FILE *f, const char *id, const char *colour)
{
    fprintf(f,
            "<pattern id=\"%s\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"%s\" stroke-width=\"2.5\"/>"
            "</pattern>\n",
            id, colour);
}

/* <text> at x, y with a class and an anchor (start, middle, end). */
static void svg_text(FILE *f, long x, long y, const char *cls, const char *anchor, const char *text)
{
    fprintf(f, "<text x=\"%ld\" y=\"%ld\" class=\"%s\" text-anchor=\"%s\">", x, y, cls, anchor);
    h_text(f, text);
    fputs("</text>\n", f);
}

/* A chart that shows nothing: its frame and one line of text. */
static void svg_empty(FILE *f, const char *label, const char *text)
{
    svg_open(f, 60, label);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"60\" class=\"frame\"/>\n", SVG_W);
    svg_text(f, SVG_W / 2, 35, "t na", "middle", text);
    fputs("</svg>\n", f);
}

/* One legend entry at x, y: a swatch (fill, or a line when `line`) and text;
 * returns the x of the next entry. */
static long svg_legend_item(FILE *f, long x, long y, const char *fill, int line, const char *text)
{
    if (line)
        fprintf(f,
                "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n",
                x, y - 5, x + 14, y - 5, fill);
    else
        fprintf(f,
                "<rect x=\"%ld\" y=\"%ld\" width=\"14\" height=\"12\" fill=\"%s\" "
                "stroke=\"#555555\" stroke-width=\"0.5\"/>\n",
                x, y - 12, fill);
    svg_text(f, x + 20, y, "t", "start", text);
    return x + 20 + (long)strlen(text) * CHAR_W + 22;
}

/* Horizontal bars: one per label, lengths on one scale; a hidden count as a
 * hatched bar of fixed length with its text. */
static void svg_hbars(FILE *f, const char *label, const char *pattern_id, const char *const *labels,
                      const struct count *counts, size_t n, const char *unit)
{
    const long left = 300, right = 70, top = 30, row_h = 28;
    const long plot_w = SVG_W - left - right;
    long long max = 0;
    char buf[TEXT_LEN], clipped[160];
    if (n == 0) {
        svg_empty(f, label, "none in the period");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!counts[i].text && counts[i].n > max)
            max = counts[i].n;
    double step = nice_step((double)(max > 0 ? max : 1), 5, 1);
    double axis = ceil((double)(max > 0 ? max : 1) / step) * step;
    long height = top + (long)n * row_h + 12;
    svg_open(f, (int)height, label);
    fputs("<defs>", f);
    svg_hatch(f, pattern_id, HIDDEN_COLOUR);
    fputs("</defs>\n", f);
    svg_text(f, left - 8, top - 10, "s", "end", unit);
    for (int tick = 0; tick * step <= axis + 1e-9; tick++) {
        double v = tick * step;
        long x = left + lround(v / axis * (double)plot_w);
        fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>\n", x,
                top - 6, x, height - 12);
        svg_text(f, x, top - 10, "s", "middle", fmt_tick(v, buf));
    }
    for (size_t i = 0; i < n; i++) {
        long y = top + (long)i * row_h;
        svg_text(f, left - 8, y + 19, "t", "end", clip(labels[i], 26, clipped, sizeof clipped));
        if (counts[i].text) {
            fprintf(f,
                    "<rect x=\"%ld\" y=\"%ld\" width=\"%d\" height=\"%ld\" fill=\"url(#%s)\" "
                    "stroke=\"%s\"/>\n",
                    left, y + 4, HIDDEN_BAR_PX, row_h - 8, pattern_id, HIDDEN_COLOUR);
            svg_text(f, left + HIDDEN_BAR_PX + 6, y + 19, "t hid", "start", counts[i].text);
        } else {
            long w = lround((double)counts[i].n / axis * (double)plot_w);
            fprintf(f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"%ld\" fill=\"%s\"/>\n",
                    left, y + 4, w, row_h - 8, palette[0]);
            svg_text(f, left + w + 6, y + 19, "t", "start", fmt_count(&counts[i], buf));
        }
    }
    fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"axis\"/>\n", left,
            top - 6, left, height - 12);
    fputs("</svg>\n", f);
}

/* The month chart's x labels: every month when they fit, else every k-th,
 * slanted when there are more than 12. */
static void svg_month_labels(FILE *f, const struct model *m, long left, long slot, long base)
{
    size_t every = m->nmonths > 36 ? (m->nmonths + 35) / 36 : 1;
    for (size_t i = 0; i < m->nmonths; i += every) {
        long x = left + (long)i * slot + slot / 2;
        if (m->nmonths <= 12) {
            svg_text(f, x, base + 20, "s", "middle", m->months[i].month);
        } else {
            fprintf(f,
                    "<text x=\"%ld\" y=\"%ld\" class=\"s\" text-anchor=\"end\" "
                    "transform=\"rotate(-45 %ld %ld)\">",
                    x, base + 14, x, base + 14);
            h_text(f, m->months[i].month);
            fputs("</text>\n", f);
        }
    }
}

/* One month's stack: known counts as coloured blocks from the axis up, then
 * each hidden one as a hatched box of fixed height with its text (when the
 * bar is wide enough for it; the month table has every value), then the
 * month's total signals as a black mark when it is shown. */
static void svg_month_bar(FILE *f, const struct model *m, const struct month *mo, long x,
                          long bar_w, long base, double scale)
{
    char buf[TEXT_LEN];
    long long sum = 0;
    long y = base;
    for (size_t k = 0; k < m->nforms; k++) {
        const struct count *c = &mo->forms[k];
        if (c->text || c->n == 0)
            continue;
        sum += c->n;
        long top = base - lround((double)sum * scale);
        fprintf(f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"%ld\" fill=\"%s\"><title>", x,
                top, bar_w, y - top, palette[k % COUNT(palette)]);
        h_text(f, mo->month);
        fputs(" ", f);
        h_text(f, m->forms[k]);
        fprintf(f, ": %lld</title></rect>\n", c->n);
        y = top;
    }
    for (size_t k = 0; k < m->nforms; k++) {
        const struct count *c = &mo->forms[k];
        if (!c->text)
            continue;
        y -= HIDDEN_BOX;
        fprintf(f,
                "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"%d\" fill=\"url(#hm%zu)\" "
                "stroke=\"%s\"><title>",
                x, y, bar_w, HIDDEN_BOX, k, palette[k % COUNT(palette)]);
        h_text(f, mo->month);
        fputs(" ", f);
        h_text(f, m->forms[k]);
        fputs(": ", f);
        h_text(f, c->text);
        fputs(" (hidden)</title></rect>\n", f);
        if (bar_w < HIDDEN_LABEL_MIN_W) /* no room: the table below has it */
            continue;
        fprintf(f, "<text x=\"%ld\" y=\"%ld\" class=\"s hbox\" text-anchor=\"middle\">",
                x + bar_w / 2, y + HIDDEN_BOX - 5);
        h_text(f, c->text);
        fputs("</text>\n", f);
    }
    if (!mo->signals.text) {
        long ty = base - lround((double)mo->signals.n * scale);
        fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"mark\"><title>",
                x - 4, ty, x + bar_w + 4, ty);
        h_text(f, mo->month);
        fprintf(f, ": %s signals</title></line>\n", fmt_count(&mo->signals, buf));
    }
}

/* Signals per month, stacked by form. The scale is chosen so that each
 * month's known blocks plus its hidden boxes fit the plot. */
static void svg_months(FILE *f, const struct model *m)
{
    const long left = 64, right = 16, top = 28, plot_h = 300;
    const long plot_w = SVG_W - left - right;
    const long base = top + plot_h;
    const long labels_h = m->nmonths > 12 ? 70 : 32;
    const char *label = "Signals per month, by form of exploitation";
    char buf[TEXT_LEN];
    double scale = 0; /* px per signal */
    double axis;
    if (m->nmonths == 0) {
        svg_empty(f, label, "no months in the period");
        return;
    }
    for (size_t i = 0; i < m->nmonths; i++) {
        long long sum = 0, hidden = 0;
        for (size_t k = 0; k < m->nforms; k++) {
            if (m->months[i].forms[k].text)
                hidden++;
            else
                sum += m->months[i].forms[k].n;
        }
        if (!m->months[i].signals.text && m->months[i].signals.n > sum)
            sum = m->months[i].signals.n; /* the black mark must fit too */
        if (sum > 0) {
            double s = (double)(plot_h - hidden * HIDDEN_BOX) / (double)sum;
            if (scale == 0 || s < scale)
                scale = s;
        }
    }
    if (scale <= 0)
        scale = (double)(plot_h - (long)m->nforms * HIDDEN_BOX) / 4.0;
    axis = (double)plot_h / scale;
    double step = nice_step(axis, 5, 1);

    /* The legend: one row, wrapped when long. */
    long lx = left, ly = 0, rows = 1;
    for (size_t k = 0; k < m->nforms + 2; k++) {
        const char *t = k < m->nforms    ? m->forms[k]
                        : k == m->nforms ? "hidden count (height means nothing)"
                                         : "signals in the month";
        long w = 20 + (long)strlen(t) * CHAR_W + 22;
        if (lx + w > SVG_W && lx > left) {
            lx = left;
            rows++;
        }
        lx += w;
    }
    long legend_top = base + labels_h + 8;
    long height = legend_top + rows * 24 + 6;
    svg_open(f, (int)height, label);
    fputs("<defs>", f);
    for (size_t k = 0; k < m->nforms; k++) {
        char id[24];
        snprintf(id, sizeof id, "hm%zu", k);
        svg_hatch(f, id, palette[k % COUNT(palette)]);
    }
    svg_hatch(f, "hmx", HIDDEN_COLOUR);
    fputs("</defs>\n", f);
    svg_text(f, left - 8, 14, "s", "end", "signals");
    for (int tick = 0; tick * step <= axis + 1e-9; tick++) {
        double v = tick * step;
        long y = base - lround(v * scale);
        fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>\n", left, y,
                left + plot_w, y);
        svg_text(f, left - 8, y + 4, "s", "end", fmt_tick(v, buf));
    }
    long slot = plot_w / (long)m->nmonths;
    long bar_w = slot * 64 / 100 > 2 ? slot * 64 / 100 : 2;
    for (size_t i = 0; i < m->nmonths; i++)
        svg_month_bar(f, m, &m->months[i], left + (long)i * slot + (slot - bar_w) / 2, bar_w, base,
                      scale);
    fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"axis\"/>\n", left, top,
            left, base);
    fprintf(f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"axis\"/>\n", left, base,
            left + plot_w, base);
    svg_month_labels(f, m, left, slot, base);
    lx = left;
    ly = legend_top + 14;
    for (size_t k = 0; k < m->nforms + 2; k++) {
        char fill[24];
        const char *t = k < m->nforms    ? m->forms[k]
                        : k == m->nforms ? "hidden count (height means nothing)"
                                         : "signals in the month";
        long w = 20 + (long)strlen(t) * CHAR_W + 22;
        if (lx + w > SVG_W && lx > left) {
            lx = left;
            ly += 24;
        }
        if (k < m->nforms)
            snprintf(fill, sizeof fill, "%s", palette[k % COUNT(palette)]);
        else if (k == m->nforms)
            snprintf(fill, sizeof fill, "url(#hmx)");
        else
            snprintf(fill, sizeof fill, "#000000");
        lx = svg_legend_item(f, lx, ly, fill, k == m->nforms + 1, t);
    }
    fputs("</svg>\n", f);
}

/* The response-time chart's geometry: two panels (receipt, decision) side
 * by side, one row per partner. */
#define RT_LABEL_W 230
#define RT_PANEL_W 340
#define RT_GAP 40
#define RT_TOP 52
#define RT_ROW_H 54

static long rt_panel_x(int which)
{
    return RT_LABEL_W + 10 + which * (RT_PANEL_W + RT_GAP);
}

/* The largest minutes to show in panel `which`: p90s, medians, deadlines. */
static double rt_max(const struct model *m, int which)
{
    double max = 0;
    for (size_t i = 0; i < m->npartners; i++) {
        const struct timing *t = &m->partners[i].t[which];
        const struct number *v[] = {&t->median, &t->p90, &t->deadline};
        for (size_t k = 0; k < COUNT(v); k++)
            if (v[k]->known && v[k]->v > max)
                max = v[k]->v;
    }
    return max > 0 ? max : 1;
}

/* One bar of the response-time chart (median or p90), or "not enough
 * answers" in its place. */
static void rt_bar(FILE *f, long x0, long y, double axis, const struct number *v, const char *what,
                   const char *colour)
{
    char buf[TEXT_LEN], text[TEXT_LEN + 32];
    if (!v->known) {
        svg_text(f, x0 + 4, y + 13, "s na", "start", "not enough answers");
        return;
    }
    long w = lround(v->v / axis * RT_PANEL_W);
    fprintf(f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"17\" fill=\"%s\"/>\n", x0, y, w,
            colour);
    snprintf(text, sizeof text, "%s %s", what, fmt_dec(v->v, buf));
    if (w > RT_PANEL_W - 110) /* no room after the bar: inside it */
        svg_text(f, x0 + w - 4, y + 13, "s in", "end", text);
    else
        svg_text(f, x0 + w + 4, y + 13, "s", "start", text);
}

static void rt_panel_row(FILE *f, const struct timing *t, int which, long y, double axis)
{
    char buf[TEXT_LEN];
    long x0 = rt_panel_x(which);
    if (!t->median.known && !t->p90.known) {
        svg_text(f, x0 + 4, y + 31, "t na", "start", "not enough answers");
    } else {
        rt_bar(f, x0, y + 7, axis, &t->median, "median", "#1b4f72");
        rt_bar(f, x0, y + 28, axis, &t->p90, "p90", "#85b6d9");
    }
    if (t->deadline.known) {
        long x = x0 + lround(t->deadline.v / axis * RT_PANEL_W);
        fprintf(f,
                "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" class=\"deadline\">"
                "<title>deadline %s minutes</title></line>\n",
                x, y + 2, x, y + RT_ROW_H - 4, fmt_dec(t->deadline.v, buf));
    }
}

/* Response times per partner: median and p90 bars for receipt and for
 * decision, each panel on its own scale, the policy deadline as a red line. */
static void svg_response_times(FILE *f, const struct model *m)
{
    const char *label = "Response times per partner (minutes)";
    static const char *const titles[T_N] = {"time to receipt (minutes)",
                                            "time to decision (minutes)"};
    char buf[TEXT_LEN], clipped[160];
    double axis[T_N];
    if (m->npartners == 0) {
        svg_empty(f, label, "no referrals in the period");
        return;
    }
    long rows_end = RT_TOP + (long)m->npartners * RT_ROW_H;
    long height = rows_end + 40;
    svg_open(f, (int)height, label);
    for (int w = 0; w < T_N; w++) {
        long x0 = rt_panel_x(w);
        double max = rt_max(m, w);
        double step = nice_step(max, 4, 0.1);
        axis[w] = ceil(max / step - 1e-9) * step;
        svg_text(f, x0, 16, "t b", "start", titles[w]);
        for (int tick = 0; tick * step <= axis[w] + 1e-9; tick++) {
            double v = tick * step;
            long x = x0 + lround(v / axis[w] * RT_PANEL_W);
            fprintf(f, "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%ld\" class=\"grid\"/>\n", x,
                    RT_TOP - 6, x, rows_end);
            svg_text(f, x, RT_TOP - 10, "s", "middle", fmt_tick(v, buf));
        }
        fprintf(f, "<line x1=\"%ld\" y1=\"%d\" x2=\"%ld\" y2=\"%ld\" class=\"axis\"/>\n", x0,
                RT_TOP - 6, x0, rows_end);
    }
    for (size_t i = 0; i < m->npartners; i++) {
        const struct partner *p = &m->partners[i];
        long y = RT_TOP + (long)i * RT_ROW_H;
        if (i > 0)
            fprintf(f, "<line x1=\"0\" y1=\"%ld\" x2=\"%d\" y2=\"%ld\" class=\"sep\"/>\n", y, SVG_W,
                    y);
        svg_text(f, RT_LABEL_W - 4, y + 24, "t", "end", clip(p->name, 19, clipped, sizeof clipped));
        svg_text(f, RT_LABEL_W - 4, y + 42, "s id", "end",
                 clip(p->id, 24, clipped, sizeof clipped));
        for (int w = 0; w < T_N; w++)
            rt_panel_row(f, &p->t[w], w, y, axis[w]);
    }
    long lx = rt_panel_x(0), ly = rows_end + 28;
    lx = svg_legend_item(f, lx, ly, "#1b4f72", 0, "median");
    lx = svg_legend_item(f, lx, ly, "#85b6d9", 0, "90th percentile");
    svg_legend_item(f, lx, ly, "#c0392b", 1, "the policy's deadline");
    fputs("</svg>\n", f);
}

/* ---- HTML: the page ---- */

static const char page_style[] =
    "@page { size: A4; margin: 14mm 12mm; }\n"
    "html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n"
    "body { font-family: \"DejaVu Sans\", \"Liberation Sans\", Arial, sans-serif; "
    "font-size: 10.5pt; line-height: 1.35; color: #1d1d1d; max-width: 190mm; margin: 0 auto; "
    "padding: 8mm 4mm; }\n"
    "h1 { font-size: 18pt; margin: 0 0 4pt; color: #1b4f72; }\n"
    "h2 { font-size: 14pt; margin: 20pt 0 6pt; padding-bottom: 2pt; border-bottom: 2px solid "
    "#1b4f72; color: #1b4f72; break-after: avoid; }\n"
    "header p { margin: 2pt 0; }\n"
    ".note { margin-top: 6pt; padding: 4pt 8pt; background: #f1f5f8; border-left: 4px solid "
    "#1b4f72; }\n"
    ".big { font-size: 20pt; font-weight: bold; }\n"
    "figure { margin: 8pt 0 10pt; break-inside: avoid; }\n"
    "figcaption { font-size: 9pt; color: #555555; }\n"
    "svg { display: block; width: 100%; height: auto; }\n"
    "svg .t { font-size: 16px; fill: #1d1d1d; }\n"
    "svg .s { font-size: 14px; fill: #444444; }\n"
    "svg .b { font-weight: bold; }\n"
    "svg .na { font-style: italic; fill: #777777; }\n"
    "svg .hid { font-style: italic; fill: #7a4b00; }\n"
    "svg .hbox { font-weight: bold; fill: #1d1d1d; }\n"
    "svg .id { fill: #777777; }\n"
    "svg .in { fill: #ffffff; font-weight: bold; }\n"
    "svg .grid { stroke: #e3e3e3; stroke-width: 1; }\n"
    "svg .axis { stroke: #333333; stroke-width: 1.5; }\n"
    "svg .sep { stroke: #eeeeee; stroke-width: 1; }\n"
    "svg .mark { stroke: #000000; stroke-width: 3; }\n"
    "svg .deadline { stroke: #c0392b; stroke-width: 2.5; stroke-dasharray: 5 3; }\n"
    "svg .frame { fill: #fafafa; stroke: #dddddd; }\n"
    ".tables { display: flex; flex-wrap: wrap; gap: 0 18pt; align-items: flex-start; }\n"
    "table { border-collapse: collapse; margin: 6pt 0 10pt; font-size: 9.5pt; break-inside: "
    "avoid; }\n"
    "caption { text-align: left; font-weight: bold; padding-bottom: 3pt; }\n"
    "th, td { padding: 2pt 6pt; border-bottom: 1px solid #d0d0d0; text-align: left; "
    "vertical-align: top; }\n"
    "th { background: #eaf0f5; }\n"
    ".n { text-align: right; font-variant-numeric: tabular-nums; }\n"
    "td.n { white-space: nowrap; }\n"
    ".hid { font-style: italic; color: #7a4b00; }\n"
    ".na { color: #777777; }\n"
    ".id { color: #666666; font-size: 8.5pt; }\n"
    "tfoot td { font-weight: bold; border-top: 2px solid #999999; }\n"
    ".foot { font-size: 9pt; color: #555555; margin: 0 0 8pt; }\n"
    "@media print { body { max-width: none; padding: 0; } section { break-inside: auto; } }\n";

static void h_header(FILE *f, const struct model *m)
{
    fputs("<header id=\"report\">\n<h1>Ketenhub: the coordinator&#39;s report</h1>\n", f);
    fputs("<p>Signals received from <strong>", f);
    h_text(f, m->from);
    fputs("</strong> to <strong>", f);
    h_text(f, m->to);
    fputs("</strong> (both included, UTC), with the referrals and escalations made from "
          "them.</p>\n<p>Generated ",
          f);
    h_text(f, m->generated);
    fprintf(f, "; small-number threshold %lld.</p>\n", m->threshold);
    fprintf(f,
            "<p class=\"note\">&#8220;&lt;%lld&#8221; is a count from 1 to %lld, hidden so that "
            "no one can be recognised from it; &#8220;x&#8221; is a count of %lld or more, "
            "hidden so that a hidden small count cannot be worked out by subtraction. Zero is "
            "shown as 0. Hidden counts are never drawn to scale.</p>\n</header>\n",
            m->threshold, m->threshold - 1, m->threshold);
}

static void h_month_table(FILE *f, const struct model *m)
{
    fputs("<table>\n<caption>By month</caption>\n<thead><tr><th>month</th>"
          "<th class=\"n\">signals</th>",
          f);
    for (size_t k = 0; k < m->nforms; k++) {
        fputs("<th class=\"n\">", f);
        h_text(f, m->forms[k]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < m->nmonths; i++) {
        fputs("<tr><td>", f);
        h_text(f, m->months[i].month);
        fputs("</td>", f);
        h_count_cell(f, &m->months[i].signals);
        for (size_t k = 0; k < m->nforms; k++)
            h_count_cell(f, &m->months[i].forms[k]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

/* The keys (with `names`: the names) and the counts of rows as two arrays
 * (caller frees both), for the table and chart helpers. Returns 0, or -1. */
static int split_rows(const struct row *rows, size_t n, int names, const char ***labels,
                      struct count **counts)
{
    *labels = calloc(n ? n : 1, sizeof **labels);
    *counts = calloc(n ? n : 1, sizeof **counts);
    if (!*labels || !*counts) {
        free(*labels);
        free(*counts);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        (*labels)[i] = names ? rows[i].name : rows[i].key;
        (*counts)[i] = rows[i].n;
    }
    return 0;
}

static int h_signals(FILE *f, const struct model *m)
{
    char buf[TEXT_LEN];
    const char **role_labels;
    struct count *role_counts;
    if (split_rows(m->roles, m->nroles, 0, &role_labels, &role_counts) != 0)
        return -1;
    fputs("<section id=\"signals\" class=\"chart\">\n<h2>Signals</h2>\n<p><span class=\"big", f);
    fputs(m->total.text ? " hid\">" : "\">", f);
    h_text(f, fmt_count(&m->total, buf));
    fputs("</span> signals received in the period.</p>\n<figure>\n", f);
    svg_months(f, m);
    fputs("<figcaption>Signals per month, stacked by the form of exploitation they name. A "
          "signal may name several forms, so a bar can be taller than the month&#39;s signals "
          "(the black mark). A hatched box is a hidden count: its height means "
          "nothing.</figcaption>\n</figure>\n",
          f);
    h_month_table(f, m);
    fputs("<div class=\"tables\">\n", f);
    h_simple_table(f, "By form", "form", m->forms, m->by_form, m->nforms);
    h_simple_table(f, "By role of the sender", "role", role_labels, role_counts, m->nroles);
    free(role_labels);
    free(role_counts);
    h_simple_table(f, "By age", "age", age_keys, m->age, COUNT(age_keys));
    h_simple_table(f, "By urgency", "urgency", urgency_keys, m->urgency, COUNT(urgency_keys));
    fputs("</div>\n<p class=\"foot\">A signal may name several forms, so the forms do not add "
          "up to the total.</p>\n</section>\n",
          f);
    return 0;
}

static int h_municipalities(FILE *f, const struct model *m)
{
    const char **labels;
    struct count *counts;
    static const char *const heads[] = {"code", "municipality", "#signals"};
    if (split_rows(m->munis, m->nmunis, 1, &labels, &counts) != 0)
        return -1;
    fputs("<section id=\"municipalities\" class=\"chart\">\n<h2>Signals by "
          "municipality</h2>\n<figure>\n",
          f);
    svg_hbars(f, "Signals by municipality", "hmu", labels, counts, m->nmunis, "signals");
    fputs("<figcaption>Signals by the municipality the person lives in (woongemeente). A "
          "hatched bar is a hidden count: its length means nothing.</figcaption>\n</figure>\n",
          f);
    h_table_head(f, "By municipality", heads, COUNT(heads));
    for (size_t i = 0; i < m->nmunis; i++) {
        fputs("<tr><td>", f);
        h_text(f, m->munis[i].key ? m->munis[i].key : "\xE2\x80\x93");
        fputs("</td><td>", f);
        h_text(f, m->munis[i].name);
        fputs("</td>", f);
        h_count_cell(f, &m->munis[i].n);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n</section>\n", f);
    free(labels);
    free(counts);
    return 0;
}

static void h_referral_counts(FILE *f, const struct model *m)
{
    static const char *const heads[] = {"partner",   "role",      "#offered", "#open",
                                        "#accepted", "#declined", "#other",   "#received"};
    h_table_head(f, "Referrals by partner", heads, COUNT(heads));
    for (size_t i = 0; i < m->npartners; i++) {
        const struct partner *p = &m->partners[i];
        fputs("<tr><td>", f);
        h_text(f, p->name);
        fputs("<br><span class=\"id\">", f);
        h_text(f, p->id);
        fputs("</span></td><td>", f);
        h_text(f, p->role);
        fputs("</td>", f);
        for (int k = 0; k < REF_N; k++)
            h_count_cell(f, &p->n[k]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n<tfoot><tr><td>total</td><td></td>", f);
    for (int k = 0; k < REF_N; k++)
        h_count_cell(f, &m->ref_total[k]);
    fputs("</tr></tfoot>\n</table>\n<p class=\"foot\">open: offered or received, no answer "
          "yet; accepted: accepted or completed; other: cancelled or failed; received: "
          "confirmed receipt at some point.</p>\n",
          f);
}

static void h_response_table(FILE *f, const struct model *m)
{
    static const char *const heads[] = {
        "partner",          "",          "#answered",      "#median (min)", "#p90 (min)",
        "#within deadline", "#% within", "#deadline (min)"};
    h_table_head(f, "Response times", heads, COUNT(heads));
    for (size_t i = 0; i < m->npartners; i++) {
        const struct partner *p = &m->partners[i];
        for (int k = 0; k < T_N; k++) {
            const struct timing *t = &p->t[k];
            fputs("<tr>", f);
            if (k == 0) {
                fprintf(f, "<td rowspan=\"%d\">", T_N);
                h_text(f, p->name);
                fputs("</td>", f);
            }
            fprintf(f, "<td>%s</td>", timing_keys[k]);
            h_count_cell(f, &t->answered);
            h_number_cell(f, &t->median);
            h_number_cell(f, &t->p90);
            h_count_cell(f, &t->within);
            h_number_cell(f, &t->pct);
            h_number_cell(f, &t->deadline);
            fputs("</tr>\n", f);
        }
    }
    fputs("</tbody>\n</table>\n<p class=\"foot\">Receipt: from the offer to the confirmed "
          "receipt; decision: from the offer to the acceptance or refusal; p90: the 90th "
          "percentile. &#8211; in a time or a percentage: not enough answers to show one; in "
          "the deadline: the referrals did not all have the same one.</p>\n",
          f);
}

static void h_referrals(FILE *f, const struct model *m)
{
    fputs("<section id=\"referrals\" class=\"chart\">\n<h2>Referrals</h2>\n", f);
    h_referral_counts(f, m);
    fputs("<figure>\n", f);
    svg_response_times(f, m);
    fputs("<figcaption>Median and 90th percentile of the time to confirm receipt and to "
          "decide, per partner, in minutes; the red line is the policy&#39;s deadline where "
          "all the partner&#39;s referrals had the same one.</figcaption>\n</figure>\n",
          f);
    h_response_table(f, m);
    fputs("</section>\n", f);
}

static int h_escalations(FILE *f, const struct model *m)
{
    char buf[TEXT_LEN];
    const char **labels = calloc(m->nlevels ? m->nlevels : 1, sizeof *labels);
    char(*names)[40] = calloc(m->nlevels ? m->nlevels : 1, sizeof *names);
    struct count *counts = calloc(m->nlevels ? m->nlevels : 1, sizeof *counts);
    static const char *const heads[] = {"highest level reached", "#escalations"};
    if (!labels || !names || !counts) {
        free(labels);
        free(names);
        free(counts);
        return -1;
    }
    for (size_t i = 0; i < m->nlevels; i++) {
        if (m->levels[i].level == 0)
            snprintf(names[i], sizeof names[i], "level 0 (no alert yet)");
        else
            snprintf(names[i], sizeof names[i], "level %lld", m->levels[i].level);
        labels[i] = names[i];
        counts[i] = m->levels[i].n;
    }
    fputs("<section id=\"escalations\" class=\"chart\">\n<h2>Escalations</h2>\n<p><span "
          "class=\"big",
          f);
    fputs(m->esc_total.text ? " hid\">" : "\">", f);
    h_text(f, fmt_count(&m->esc_total, buf));
    fputs("</span> escalations of the period&#39;s referrals.</p>\n<figure>\n", f);
    svg_hbars(f, "Escalations by the highest level they reached", "hes", labels, counts, m->nlevels,
              "escalations");
    fputs("<figcaption>Escalations by the highest level they reached. A hatched bar is a hidden "
          "count: its length means nothing.</figcaption>\n</figure>\n<div class=\"tables\">\n",
          f);
    h_table_head(f, "By level", heads, COUNT(heads));
    for (size_t i = 0; i < m->nlevels; i++) {
        fputs("<tr><td>", f);
        h_text(f, labels[i]);
        fputs("</td>", f);
        h_count_cell(f, &counts[i]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n<tfoot><tr><td>total</td>", f);
    h_count_cell(f, &m->esc_total);
    fputs("</tr></tfoot>\n</table>\n<table>\n<caption>Time to acknowledgement</caption>\n"
          "<tbody>\n<tr><th>acknowledged</th>",
          f);
    h_count_cell(f, &m->acknowledged);
    fputs("</tr>\n", f);
    const struct number *stats[] = {&m->ack_median, &m->ack_p90};
    static const char *const stat_names[] = {"median (minutes)", "90th percentile (minutes)"};
    for (size_t i = 0; i < COUNT(stats); i++) {
        fprintf(f, "<tr><th>%s</th>", stat_names[i]);
        if (stats[i]->known)
            fprintf(f, "<td class=\"n\">%s</td>", fmt_dec(stats[i]->v, buf));
        else
            fputs("<td class=\"n na\">not enough answers</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n</div>\n<p class=\"foot\">Time to acknowledgement: from the "
          "missed deadline to the first acknowledgement.</p>\n</section>\n",
          f);
    free(labels);
    free(names);
    free(counts);
    return 0;
}

static void h_matches(FILE *f, const struct model *m)
{
    char buf[TEXT_LEN];
    fputs("<section id=\"matches\">\n<h2>Matches</h2>\n", f);
    if (!m->matches_available) {
        fputs("<p class=\"na\">Not available yet: the hub does not raise pseudonymised "
              "matches yet.</p>\n",
              f);
    } else {
        fputs("<p><span class=\"big", f);
        fputs(m->matches.text ? " hid\">" : "\">", f);
        h_text(f, m->matches_known ? fmt_count(&m->matches, buf) : "\xE2\x80\x93");
        fputs("</span> pseudonymised matches raised: two partners reported signals about "
              "the same person (docs/matching.md).</p>\n",
              f);
        const char *month_heads[] = {"month", "#matches"};
        h_table_head(f, "Matches by month", month_heads, COUNT(month_heads));
        for (size_t i = 0; i < m->nmatch_months; i++) {
            fputs("<tr><td>", f);
            h_text(f, m->match_months[i].key);
            fputs("</td>", f);
            h_count_cell(f, &m->match_months[i].n);
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
        const char *pair_heads[] = {"roles of the two partners", "#matches"};
        h_table_head(f, "Matches by the partners' roles", pair_heads, COUNT(pair_heads));
        for (size_t i = 0; i < m->nmatch_pairs; i++) {
            fputs("<tr><td>", f);
            h_text(f, m->match_pairs[i].key);
            fputs("</td>", f);
            h_count_cell(f, &m->match_pairs[i].n);
            fputs("</tr>\n", f);
        }
        fputs("</tbody>\n</table>\n", f);
    }
    fputs("</section>\n", f);
}

static int html_write(FILE *f, const struct model *m)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; "
          "style-src &#39;unsafe-inline&#39;\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    fputs("Ketenhub report ", f);
    h_text(f, m->from);
    fputs(" to ", f);
    h_text(f, m->to);
    fputs("</title>\n<style>\n", f);
    fputs(page_style, f);
    fputs("</style>\n</head>\n<body>\n", f);
    h_header(f, m);
    fputs("<main>\n", f);
    if (h_signals(f, m) != 0 || h_municipalities(f, m) != 0)
        return -1;
    h_referrals(f, m);
    if (h_escalations(f, m) != 0)
        return -1;
    h_matches(f, m);
    fputs("</main>\n</body>\n</html>\n", f);
    return 0;
}

/* ---- entry points ---- */

/* Loads the model, runs `write` into memory, then copies the result to out. */
static int render(const json_t *doc, int (*writer)(FILE *, const struct model *), FILE *out,
                  char *err, size_t errlen)
{
    struct model m;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    int rc;
    if (model_load(doc, &m, err, errlen) != 0)
        return -1;
    mem = open_memstream(&buf, &len);
    if (!mem) {
        snprintf(err, errlen, "out of memory");
        model_free(&m);
        return -1;
    }
    rc = writer(mem, &m);
    if (ferror(mem))
        rc = -1;
    if (fclose(mem) != 0)
        rc = -1;
    model_free(&m);
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        free(buf);
        return -1;
    }
    if (fwrite(buf, 1, len, out) != len || fflush(out) != 0) {
        snprintf(err, errlen, "cannot write the report");
        free(buf);
        return -1;
    }
    free(buf);
    return 0;
}

static int csv_write_model(FILE *f, const struct model *m)
{
    csv_write(f, m);
    return 0;
}

int report_write_csv(const json_t *model, FILE *out, char *err, size_t errlen)
{
    return render(model, csv_write_model, out, err, errlen);
}

int report_write_html(const json_t *model, FILE *out, char *err, size_t errlen)
{
    return render(model, html_write, out, err, errlen);
}
