/*
 * rota - loading the duty rota and answering who is on duty; see rota.h.
 *
 * The weekly shifts become one array of 10080 entries, the shift that owns
 * each minute of the week (local Monday 00:00 first): coverage and overlaps
 * are checked on it at load, and a question is one lookup. Local time is UTC
 * plus the offset the zone table gives for that instant, so daylight saving
 * needs no special case: on the spring change the local hour 02:00-03:00 does
 * not occur and a shift there gets no time that day; on the autumn change it
 * occurs twice and its shift lasts two hours (docs/escalation.md).
 */
#include "rota.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "notify.h"
#include "schema_format.h"

#define ZONEINFO "/usr/share/zoneinfo"
#define MIN_MS INT64_C(60000)
#define DAY_MS INT64_C(86400000)
#define DAY_MIN 1440
#define WEEK_MIN (7 * DAY_MIN)
#define MAX_SHIFTS 1000
#define MAX_OVERRIDES 10000
#define MAX_GAPS 10
/* The zone table is sampled once a week and each change found by bisection:
 * it would miss a zone that changes its offset and back within one week
 * (none does since 1970). */
#define TZ_STEP_S (7 * 86400)

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

struct shift {
    unsigned days;                 /* bit 0 = mon ... bit 6 = sun */
    int from, to;                  /* minutes of the day; to <= from runs into the next day */
    const struct officer *officer; /* NULL when its id was not an officer */
};

struct override {
    int64_t from, to; /* UTC ms, from < to */
    const struct officer *officer;
    char *reason; /* may be NULL */
    long index;   /* position in /rota/overrides */
};

/* From `at` (UTC ms) on, local time is UTC + off_s seconds. */
struct tz_change {
    int64_t at;
    int32_t off_s;
};

struct rota {
    char *timezone;
    struct shift *shifts;
    size_t nshifts;
    int16_t owner[WEEK_MIN];    /* the shift owning each minute of the week, -1 nobody */
    int16_t ahead[WEEK_MIN];    /* minutes from this one on with the same officer (max a week) */
    int16_t behind[WEEK_MIN];   /* minutes before this one with the same officer */
    struct override *overrides; /* sorted by from, never overlapping */
    size_t noverrides;
    const struct officer *fallback;
    struct tz_change *tz; /* sorted; tz[0].at == ROTA_FIRST_MS; NULL if the zone was bad */
    size_t ntz;
};

/* ---- problems ---------------------------------------------------------- */

/* Where the loader's problems go. */
struct load {
    struct config_problems *p;
};

static void problem(struct load *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct load *L, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    config_problem(L->p, "%s", buf);
}

/* A member name as one JSON pointer segment (~ and / escaped), cut short. */
static void escape_segment(const char *name, char *out, size_t len)
{
    size_t o = 0;
    for (const char *c = name; *c && o + 3 < len; c++) {
        if (*c == '~' || *c == '/') {
            out[o++] = '~';
            out[o++] = *c == '~' ? '0' : '1';
        } else {
            out[o++] = *c;
        }
    }
    out[o] = '\0';
}

static void unknown_keys(struct load *L, const json_t *o, const char *where,
                         const char *const *allowed, size_t nallowed, const char *list)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        int known = 0;
        for (size_t i = 0; i < nallowed; i++)
            known |= strcmp(k, allowed[i]) == 0;
        if (!known) {
            char seg[128];
            escape_segment(k, seg, sizeof seg);
            problem(L, "%s/%s: unknown key (allowed: %s)", where, seg, list);
        }
    }
}

/* o[key] as text of 1..max bytes without control characters; NULL when it
 * is absent (a problem if required) or not such text (a problem). */
static const char *text_field(struct load *L, const json_t *o, const char *key, const char *where,
                              size_t max, int required)
{
    const json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            problem(L, "%s/%s: required key is missing", where, key);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    int ok = s && n > 0 && n <= max;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok) {
        problem(L, "%s/%s: must be text of 1 to %zu characters without control characters", where,
                key, max);
        return NULL;
    }
    return s;
}

/* ---- time arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

/* H. Hinnant's days_from_civil and civil_from_days. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Minute of the week (Monday 00:00 = 0) of a local time in ms. */
static int minute_of_week(int64_t local_ms)
{
    int64_t days = floor_div(local_ms, DAY_MS);
    int wd = (int)floor_mod(days + 3, 7); /* 1970-01-01 was a Thursday */
    return wd * DAY_MIN + (int)(floor_mod(local_ms, DAY_MS) / MIN_MS);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rota_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, se, frac = 0;
    if (!s || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    int sign = 0, oh = 0, om = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        sign = 1;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) &&
               p[3] == ':' && !digits(p + 4, 2, &om)) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return -1;
    }
    /* Leap seconds (:60) are refused: nothing here could act on one. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59 ||
        oh > 23 || om > 59)
        return -1;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *ms = (secs - sign * (oh * 3600 + om * 60)) * 1000 + frac;
    return 0;
}

/* RFC 3339 of UTC ms shown at offset off_s: with Z and ms when utc, else
 * with the offset (and ms only when not 0). */
static void format_time(int64_t ms, int32_t off_s, int utc, char buf[ROTA_TIME_LEN])
{
    if (ms == INT64_MIN || ms == INT64_MAX) {
        snprintf(buf, ROTA_TIME_LEN, "-");
        return;
    }
    int64_t local = ms + (int64_t)off_s * 1000;
    int64_t y;
    int m, d;
    civil_from_days(floor_div(local, DAY_MS), &y, &m, &d);
    int64_t in_day = floor_mod(local, DAY_MS);
    int hh = (int)(in_day / 3600000), mm = (int)(in_day / 60000 % 60);
    int ss = (int)(in_day / 1000 % 60), milli = (int)(in_day % 1000);
    int n = snprintf(buf, ROTA_TIME_LEN, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d, hh,
                     mm, ss);
    if (n < 0 || n >= ROTA_TIME_LEN)
        return;
    if (utc) {
        snprintf(buf + n, (size_t)(ROTA_TIME_LEN - n), ".%03dZ", milli);
        return;
    }
    if (milli)
        n += snprintf(buf + n, (size_t)(ROTA_TIME_LEN - n), ".%03d", milli);
    int32_t a = off_s < 0 ? -off_s : off_s;
    if (n < ROTA_TIME_LEN)
        snprintf(buf + n, (size_t)(ROTA_TIME_LEN - n), "%c%02d:%02d", off_s < 0 ? '-' : '+',
                 (int)(a / 3600), (int)(a / 60 % 60));
}

/* ---- officers ---------------------------------------------------------- */

static int looks_like_email(const char *s)
{
    const char *at = strrchr(s, '@');
    return strlen(s) <= 254 && at && at != s && strchr(at, '.') &&
           schema_format_check(SCHEMA_FORMAT_EMAIL, s, strlen(s));
}

static int valid_webhook(const char *s)
{
    size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    return skip && s[skip] != '\0' && s[skip] != '/' &&
           schema_format_check(SCHEMA_FORMAT_URI, s, strlen(s));
}

const struct officer *rota_officer(const struct config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->nofficers; i++)
        if (cfg->officers[i].id && strcmp(cfg->officers[i].id, id) == 0)
            return &cfg->officers[i];
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void load_officers(struct config *cfg, const json_t *arr, struct load *L)
{
    static const char *const keys[] = {"id", "name", "email", "phone", "webhook"};
    if (!json_is_array(arr)) {
        problem(L, "/officers: must be an array of officers");
        return;
    }
    size_t n = json_array_size(arr);
    cfg->officers = calloc(n ? n : 1, sizeof *cfg->officers);
    if (!cfg->officers) {
        problem(L, "/officers: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof where, "/officers/%zu", i);
        if (!json_is_object(o)) {
            problem(L, "%s: must be an object with id, name and optionally email, phone, webhook",
                    where);
            continue;
        }
        unknown_keys(L, o, where, keys, sizeof keys / sizeof *keys,
                     "id, name, email, phone, webhook");
        const json_t *idv = json_object_get(o, "id");
        const char *id = json_string_value(idv);
        int id_ok = 0;
        if (!idv)
            problem(L, "%s/id: required key is missing", where);
        else if (!id || !config_valid_id(id))
            problem(L,
                    "%s/id: must be 1-64 characters a-z 0-9 - _ . starting with a letter or "
                    "digit",
                    where);
        else if (rota_officer(cfg, id))
            problem(L, "%s/id: duplicate officer id \"%s\"", where, id);
        else
            id_ok = 1;
        const char *name = text_field(L, o, "name", where, 200, 1);
        const char *email = text_field(L, o, "email", where, 254, 0);
        const char *phone = text_field(L, o, "phone", where, 64, 0);
        const char *webhook = text_field(L, o, "webhook", where, 2048, 0);
        if (email && !looks_like_email(email))
            problem(L, "%s/email: \"%.64s\" does not look like an e-mail address", where, email);
        char err[256];
        if (webhook && !valid_webhook(webhook))
            problem(L, "%s/webhook: must be an https:// or http:// URL with a host", where);
        else if (webhook && notify_check_url(webhook, 0, 0, err, sizeof err) != 0)
            problem(L, "%s/webhook: %s", where, err); /* plain http to another machine */
        if (!id_ok)
            continue;
        /* Registered even when another field is wrong, so the rota's
         * references to it do not add problems of their own. */
        struct officer *of = &cfg->officers[cfg->nofficers];
        of->id = strdup(id);
        of->name = dup_or_null(name);
        of->email = dup_or_null(email);
        of->phone = dup_or_null(phone);
        of->webhook = dup_or_null(webhook);
        if (!of->id) {
            problem(L, "%s: out of memory", where);
            continue;
        }
        cfg->nofficers++;
    }
}

/* An officer id at o[key]; NULL (with a problem) when it is not one. */
static const struct officer *officer_field(const struct config *cfg, struct load *L,
                                           const json_t *o, const char *key, const char *where)
{
    const json_t *v = json_object_get(o, key);
    const struct officer *of = json_is_string(v) ? rota_officer(cfg, json_string_value(v)) : NULL;
    if (!v)
        problem(L, "%s/%s: required key is missing", where, key);
    else if (!of)
        problem(L, "%s/%s: not an officer id in /officers", where, key);
    return of;
}

/* ---- the time zone ----------------------------------------------------- */

/* An IANA name as a path below ZONEINFO: no "..", no absolute path, and not
 * the files there that are no zone of their own (right/ counts leap seconds). */
static int zone_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '/' || s[n - 1] == '/' || strstr(s, "//") ||
        strncmp(s, "right/", 6) == 0 || strcmp(s, "localtime") == 0 || strcmp(s, "posixrules") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+'))
            return 0;
    }
    return 1;
}

/* 1 when ZONEINFO/name is a regular TZif file (not zone.tab, not a folder). */
static int zone_file_ok(const char *name)
{
    char path[sizeof ZONEINFO + 160];
    snprintf(path, sizeof path, ZONEINFO "/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    struct stat st;
    char magic[4] = {0};
    int ok = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
             fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

static int32_t libc_offset(int64_t secs)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int32_t)tm.tm_gmtoff;
}

static int tz_push(struct rota *r, size_t *cap, int64_t at, int32_t off_s)
{
    if (r->ntz == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct tz_change *grown = realloc(r->tz, ncap * sizeof *grown);
        if (!grown)
            return -1;
        r->tz = grown;
        *cap = ncap;
    }
    r->tz[r->ntz].at = at;
    r->tz[r->ntz].off_s = off_s;
    r->ntz++;
    return 0;
}

/*
 * Reads the zone's UTC offsets for the rota's years into r->tz, through libc
 * (which knows TZif and its rules) with TZ set to the zone file, then puts TZ
 * back as it was. This is the one place that touches the environment.
 */
static int build_tz_table(struct rota *r)
{
    char zone[sizeof ZONEINFO + 160];
    snprintf(zone, sizeof zone, ":" ZONEINFO "/%s", r->timezone);
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    if (old && !saved)
        return -1;
    if (setenv("TZ", zone, 1) != 0) {
        free(saved);
        return -1;
    }
    tzset();
    size_t cap = 0;
    int rc = 0;
    int64_t lo = ROTA_FIRST_MS / 1000, last = ROTA_END_MS / 1000 - 1;
    int32_t off = libc_offset(lo);
    rc = tz_push(r, &cap, ROTA_FIRST_MS, off);
    while (rc == 0 && lo < last) {
        int64_t hi = lo + TZ_STEP_S < last ? lo + TZ_STEP_S : last;
        if (libc_offset(hi) == off) {
            lo = hi;
            continue;
        }
        while (hi - lo > 1) { /* the first second with the new offset */
            int64_t mid = lo + (hi - lo) / 2;
            if (libc_offset(mid) == off)
                lo = mid;
            else
                hi = mid;
        }
        off = libc_offset(hi);
        rc = tz_push(r, &cap, hi * 1000, off);
        lo = hi;
    }
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return rc;
}

static int load_timezone(struct rota *r, const json_t *v, struct load *L)
{
    const char *s = json_string_value(v);
    if (!v) {
        problem(L, "/rota/timezone: required key is missing (an IANA time zone, e.g. "
                   "Europe/Amsterdam)");
        return 0;
    }
    if (!s || !zone_name_ok(s) || !zone_file_ok(s)) {
        problem(L,
                "/rota/timezone: %s%.64s%s is not a time zone in " ZONEINFO
                " (an IANA name, e.g. Europe/Amsterdam)",
                s ? "\"" : "", s ? s : "the value", s ? "\"" : "");
        return 0;
    }
    r->timezone = strdup(s);
    if (!r->timezone || build_tz_table(r) != 0) {
        problem(L, "/rota/timezone: cannot read the offsets of \"%s\" (out of memory)", s);
        return 0;
    }
    return 1;
}

/* ---- weekly shifts ----------------------------------------------------- */

/* "HH:MM" into minutes; "24:00" only when allow_24 (as 1440). */
static int parse_hhmm(const char *s, int allow_24, int *min)
{
    int h, m;
    if (!s || strlen(s) != 5 || digits(s, 2, &h) || s[2] != ':' || digits(s + 3, 2, &m) || m > 59)
        return -1;
    if (h == 24 && m == 0 && allow_24) {
        *min = DAY_MIN;
        return 0;
    }
    if (h > 23)
        return -1;
    *min = h * 60 + m;
    return 0;
}

static int shift_len(const struct shift *s)
{
    return s->to > s->from ? s->to - s->from : DAY_MIN - s->from + s->to;
}

/* "on sat from 23:00 to 24:00" or "from sat 23:00 to sun 02:00" for `len`
 * minutes from minute of the week `start`. */
static void span_text(int start, int len, char *buf, size_t size)
{
    int end = start + len;
    int sd = start / DAY_MIN % 7, sm = start % DAY_MIN;
    int ed = end % DAY_MIN == 0 ? (end / DAY_MIN + 6) % 7 : end / DAY_MIN % 7;
    int em = end % DAY_MIN == 0 ? DAY_MIN : end % DAY_MIN;
    if (ed == sd && len <= DAY_MIN)
        snprintf(buf, size, "on %s from %02d:%02d to %02d:%02d", day_names[sd], sm / 60, sm % 60,
                 em / 60, em % 60);
    else
        snprintf(buf, size, "from %s %02d:%02d to %s %02d:%02d", day_names[sd], sm / 60, sm % 60,
                 day_names[ed], em / 60, em % 60);
}

struct gap {
    int start, len;
};

static int cmp_gap(const void *a, const void *b)
{
    const struct gap *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static const struct officer *officer_of(const struct rota *r, int m)
{
    return r->shifts[r->owner[m]].officer;
}

/* Fills r->ahead and r->behind from a complete r->owner, so that a question
 * never walks the week: a duty's end and start are one lookup each. */
static void index_runs(struct rota *r)
{
    int edge = -1; /* a minute whose officer differs from the next one's */
    for (int m = 0; m < WEEK_MIN && edge < 0; m++)
        if (officer_of(r, m) != officer_of(r, (m + 1) % WEEK_MIN))
            edge = m;
    if (edge < 0) { /* one officer all week */
        for (int m = 0; m < WEEK_MIN; m++) {
            r->ahead[m] = WEEK_MIN;
            r->behind[m] = WEEK_MIN - 1;
        }
        return;
    }
    r->ahead[edge] = 1;
    for (int k = 1; k < WEEK_MIN; k++) {
        int m = (edge - k + WEEK_MIN) % WEEK_MIN, n = (m + 1) % WEEK_MIN;
        r->ahead[m] = (int16_t)(officer_of(r, m) == officer_of(r, n) ? r->ahead[n] + 1 : 1);
    }
    int start = (edge + 1) % WEEK_MIN; /* the first minute of a run */
    r->behind[start] = 0;
    for (int k = 1; k < WEEK_MIN; k++) {
        int m = (start + k) % WEEK_MIN, b = (m - 1 + WEEK_MIN) % WEEK_MIN;
        r->behind[m] = (int16_t)(officer_of(r, m) == officer_of(r, b) ? r->behind[b] + 1 : 0);
    }
}

/* Fills r->owner; every minute claimed twice or by nobody is a problem. */
static void check_coverage(struct rota *r, struct load *L)
{
    unsigned char *reported = calloc(r->nshifts, 1);
    if (!reported) {
        problem(L, "/rota/weekly: out of memory");
        return;
    }
    for (size_t i = 0; i < r->nshifts; i++) {
        const struct shift *s = &r->shifts[i];
        int len = shift_len(s);
        memset(reported, 0, r->nshifts);
        for (int d = 0; d < 7; d++) {
            if (!(s->days & (1u << d)))
                continue;
            int start = d * DAY_MIN + s->from;
            for (int x = 0; x < len; x++) {
                int m = (start + x) % WEEK_MIN;
                int j = r->owner[m];
                if (j < 0) {
                    r->owner[m] = (int16_t)i;
                    continue;
                }
                int run = 1; /* one problem per pair, naming the first time they share */
                while (x + run < len && r->owner[(start + x + run) % WEEK_MIN] == j)
                    run++;
                if (!reported[j]) {
                    char span[64];
                    reported[j] = 1;
                    span_text(m, run, span, sizeof span);
                    problem(L, "/rota/weekly/%zu: overlaps /rota/weekly/%d %s", i, j, span);
                }
                x += run - 1;
            }
        }
    }
    free(reported);
    int first = -1;
    for (int m = 0; m < WEEK_MIN && first < 0; m++)
        if (r->owner[m] >= 0)
            first = m;
    if (first < 0)
        return; /* no shift has a day: the shifts' own problems say so */
    /* Walk the week from a covered minute, so a gap over Sunday midnight is one gap. */
    struct gap gaps[MAX_GAPS];
    int ngaps = 0, more = 0;
    for (int x = 0; x < WEEK_MIN;) {
        int m = (first + x) % WEEK_MIN;
        if (r->owner[m] >= 0) {
            x++;
            continue;
        }
        int len = 0;
        while (x + len < WEEK_MIN && r->owner[(first + x + len) % WEEK_MIN] < 0)
            len++;
        if (ngaps < MAX_GAPS)
            gaps[ngaps++] = (struct gap){m, len};
        else
            more++;
        x += len;
    }
    qsort(gaps, (size_t)ngaps, sizeof *gaps, cmp_gap);
    for (int g = 0; g < ngaps; g++) {
        char span[64];
        span_text(gaps[g].start, gaps[g].len, span, sizeof span);
        problem(L, "/rota/weekly: nobody is on duty %s", span);
    }
    if (more)
        problem(L, "/rota/weekly: and %d more gaps where nobody is on duty", more);
    if (ngaps == 0)
        index_runs(r);
}

/* One shift; returns 1 when its days and times are sound. */
static int load_shift(const struct config *cfg, struct shift *s, const json_t *o, const char *where,
                      struct load *L)
{
    static const char *const keys[] = {"days", "from", "to", "officer"};
    if (!json_is_object(o)) {
        problem(L, "%s: must be an object with days, from, to and officer", where);
        return 0;
    }
    unknown_keys(L, o, where, keys, sizeof keys / sizeof *keys, "days, from, to, officer");
    int ok = 1;
    const json_t *days = json_object_get(o, "days");
    if (!days) {
        problem(L, "%s/days: required key is missing", where);
        ok = 0;
    } else if (!json_is_array(days) || json_array_size(days) == 0) {
        problem(L, "%s/days: must be a non-empty array of mon tue wed thu fri sat sun", where);
        ok = 0;
    }
    size_t k;
    const json_t *dv;
    json_array_foreach(days, k, dv)
    {
        const char *name = json_string_value(dv);
        int d = 0;
        while (name && d < 7 && strcmp(name, day_names[d]) != 0)
            d++;
        if (!name || d == 7) {
            problem(L, "%s/days/%zu: not a day (mon tue wed thu fri sat sun)", where, k);
            ok = 0;
        } else if (s->days & (1u << d)) {
            problem(L, "%s/days/%zu: %s is listed twice", where, k, name);
            ok = 0;
        } else {
            s->days |= 1u << d;
        }
    }
    const json_t *from = json_object_get(o, "from");
    const json_t *to = json_object_get(o, "to");
    if (!from || parse_hhmm(json_string_value(from), 0, &s->from) != 0) {
        problem(L, "%s/from: %s", where,
                from ? "must be a time \"HH:MM\" from 00:00 to 23:59" : "required key is missing");
        ok = 0;
    }
    if (!to || parse_hhmm(json_string_value(to), 1, &s->to) != 0) {
        problem(L, "%s/to: %s", where,
                to ? "must be a time \"HH:MM\" from 00:00 to 24:00" : "required key is missing");
        ok = 0;
    }
    s->to %= DAY_MIN; /* "24:00" is the next midnight, as "00:00" is */
    s->officer = officer_field(cfg, L, o, "officer", where);
    return ok;
}

static void load_weekly(const struct config *cfg, struct rota *r, const json_t *arr, struct load *L)
{
    if (!arr) {
        problem(L, "/rota/weekly: required key is missing");
        return;
    }
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > MAX_SHIFTS) {
        problem(L, "/rota/weekly: must be an array of 1 to %d shifts", MAX_SHIFTS);
        return;
    }
    r->shifts = calloc(n, sizeof *r->shifts);
    if (!r->shifts) {
        problem(L, "/rota/weekly: out of memory");
        return;
    }
    r->nshifts = n;
    int sound = 1;
    for (size_t i = 0; i < n; i++) {
        char where[48];
        snprintf(where, sizeof where, "/rota/weekly/%zu", i);
        sound &= load_shift(cfg, &r->shifts[i], json_array_get(arr, i), where, L);
    }
    if (sound) /* a broken shift would show up again as a gap */
        check_coverage(r, L);
}

/* ---- overrides --------------------------------------------------------- */

static int cmp_override(const void *a, const void *b)
{
    const struct override *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static void load_overrides(const struct config *cfg, struct rota *r, const json_t *arr,
                           struct load *L)
{
    static const char *const keys[] = {"from", "to", "officer", "reason"};
    if (!arr)
        return;
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n > MAX_OVERRIDES) {
        problem(L, "/rota/overrides: must be an array of at most %d overrides", MAX_OVERRIDES);
        return;
    }
    r->overrides = calloc(n ? n : 1, sizeof *r->overrides);
    if (!r->overrides) {
        problem(L, "/rota/overrides: out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(arr, i);
        char where[48];
        snprintf(where, sizeof where, "/rota/overrides/%zu", i);
        if (!json_is_object(o)) {
            problem(L, "%s: must be an object with from, to, officer and optionally reason", where);
            continue;
        }
        unknown_keys(L, o, where, keys, sizeof keys / sizeof *keys, "from, to, officer, reason");
        struct override ov = {0, 0, NULL, NULL, (long)i};
        int ok = 1;
        const char *names[2] = {"from", "to"};
        int64_t *into[2] = {&ov.from, &ov.to};
        for (int e = 0; e < 2; e++) {
            const json_t *v = json_object_get(o, names[e]);
            if (!v || rota_parse_time(json_string_value(v), into[e]) != 0) {
                problem(L, "%s/%s: %s", where, names[e],
                        v ? "must be an RFC 3339 date-time with offset, e.g. "
                            "2026-12-24T17:00:00+01:00"
                          : "required key is missing");
                ok = 0;
            }
        }
        if (ok && ov.to <= ov.from) {
            problem(L, "%s/to: must be after from", where);
            ok = 0;
        }
        ov.officer = officer_field(cfg, L, o, "officer", where);
        const json_t *reason = json_object_get(o, "reason");
        const char *text = text_field(L, o, "reason", where, 200, 0);
        if (!ov.officer || (reason && !text))
            ok = 0;
        if (!ok)
            continue;
        ov.reason = dup_or_null(text);
        r->overrides[r->noverrides++] = ov;
    }
    qsort(r->overrides, r->noverrides, sizeof *r->overrides, cmp_override);
    /* Sorted by start, an override overlaps an earlier one exactly when it
     * starts before the latest end so far. */
    size_t latest = 0;
    for (size_t k = 1; k < r->noverrides; k++) {
        const struct override *a = &r->overrides[latest], *b = &r->overrides[k];
        if (b->from < a->to) {
            char from[ROTA_TIME_LEN], to[ROTA_TIME_LEN];
            format_time(b->from, 0, 1, from);
            format_time(b->to < a->to ? b->to : a->to, 0, 1, to);
            problem(L, "/rota/overrides/%ld: overlaps /rota/overrides/%ld from %s to %s", b->index,
                    a->index, from, to);
        }
        if (b->to > a->to)
            latest = k;
    }
}

/* ---- loading ----------------------------------------------------------- */

void rota_load(struct config *cfg, const json_t *officers, const json_t *rota,
               struct config_problems *p)
{
    static const char *const keys[] = {"timezone", "weekly", "overrides", "fallback"};
    struct load L = {p};
    if (officers)
        load_officers(cfg, officers, &L);
    if (!rota)
        return;
    if (!officers) {
        problem(&L, "/rota: needs /officers, the officers it names");
        return;
    }
    if (!json_is_object(rota)) {
        problem(&L, "/rota: must be an object with timezone, weekly, overrides and fallback");
        return;
    }
    unknown_keys(&L, rota, "/rota", keys, sizeof keys / sizeof *keys,
                 "timezone, weekly, overrides, fallback");
    struct rota *r = calloc(1, sizeof *r);
    if (!r) {
        problem(&L, "/rota: out of memory");
        return;
    }
    cfg->rota = r;
    for (int m = 0; m < WEEK_MIN; m++)
        r->owner[m] = -1;
    load_timezone(r, json_object_get(rota, "timezone"), &L);
    load_weekly(cfg, r, json_object_get(rota, "weekly"), &L);
    load_overrides(cfg, r, json_object_get(rota, "overrides"), &L);
    r->fallback = officer_field(cfg, &L, rota, "fallback", "/rota");
}

void rota_free(struct rota *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->noverrides; i++)
        free(r->overrides[i].reason);
    free(r->overrides);
    free(r->shifts);
    free(r->tz);
    free(r->timezone);
    free(r);
}

void rota_officers_free(struct officer *officers, size_t n)
{
    for (size_t i = 0; officers && i < n; i++) {
        free(officers[i].id);
        free(officers[i].name);
        free(officers[i].email);
        free(officers[i].phone);
        free(officers[i].webhook);
    }
    free(officers);
}

/* ---- questions --------------------------------------------------------- */

/* The zone table entry in force at t (ROTA_FIRST_MS <= t < ROTA_END_MS). */
static size_t tz_index(const struct rota *r, int64_t t)
{
    size_t lo = 0, hi = r->ntz; /* the first entry after t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->tz[mid].at <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? lo - 1 : 0;
}

static int in_years(const struct rota *r, int64_t t)
{
    return r->ntz > 0 && t >= ROTA_FIRST_MS && t < ROTA_END_MS;
}

/* The UTC offset at t in seconds; 0 outside the rota's years. */
static int32_t offset_at(const struct rota *r, int64_t t)
{
    return r && in_years(r, t) ? r->tz[tz_index(r, t)].off_s : 0;
}

static int weekly_minute(const struct rota *r, int64_t t)
{
    return minute_of_week(t + (int64_t)offset_at(r, t) * 1000);
}

/* The first instant after t whose weekly officer is another one (at most
 * ROTA_END_MS). Between two zone changes local time runs with UTC, so the
 * change is where the officer's run of minutes ends, unless the zone changes
 * first; then it goes on from there. */
static int64_t weekly_next(const struct rota *r, int64_t t)
{
    for (;;) {
        size_t k = tz_index(r, t);
        int64_t seg_end = k + 1 < r->ntz ? r->tz[k + 1].at : ROTA_END_MS;
        int64_t off = (int64_t)r->tz[k].off_s * 1000, local = t + off;
        int m = minute_of_week(local);
        const struct officer *o = officer_of(r, m);
        int run = r->ahead[m];
        if (run < WEEK_MIN) {
            int64_t c = floor_div(local, MIN_MS) * MIN_MS + run * MIN_MS - off;
            if (c < seg_end)
                return c;
        }
        if (seg_end >= ROTA_END_MS)
            return ROTA_END_MS;
        if (officer_of(r, weekly_minute(r, seg_end)) != o)
            return seg_end;
        t = seg_end;
    }
}

/* The instant the weekly officer at t took over (at least ROTA_FIRST_MS). */
static int64_t weekly_since(const struct rota *r, int64_t t)
{
    for (;;) {
        size_t k = tz_index(r, t);
        int64_t seg_start = r->tz[k].at;
        int64_t off = (int64_t)r->tz[k].off_s * 1000, local = t + off;
        int m = minute_of_week(local);
        const struct officer *o = officer_of(r, m);
        int back = r->behind[m];
        if (back < WEEK_MIN - 1) {
            int64_t c = floor_div(local, MIN_MS) * MIN_MS - back * MIN_MS - off;
            if (c > seg_start)
                return c;
        }
        if (seg_start <= ROTA_FIRST_MS)
            return ROTA_FIRST_MS;
        if (officer_of(r, weekly_minute(r, seg_start - 1)) != o)
            return seg_start;
        t = seg_start - 1;
    }
}

int rota_duty_at(const struct config *cfg, int64_t when_ms, struct rota_duty *out)
{
    const struct rota *r = cfg ? cfg->rota : NULL;
    if (!r)
        return -1;
    size_t lo = 0, hi = r->noverrides; /* the first override starting after when */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->overrides[mid].from <= when_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct override *prev = lo ? &r->overrides[lo - 1] : NULL;
    const struct override *next = lo < r->noverrides ? &r->overrides[lo] : NULL;
    struct rota_duty d = {NULL, NULL, NULL, -1, INT64_MIN, INT64_MAX};
    if (prev && when_ms < prev->to) {
        d.officer = prev->officer;
        d.why = "override";
        d.reason = prev->reason;
        d.index = prev->index;
        d.since_ms = prev->from;
        d.until_ms = prev->to;
        *out = d;
        return 0;
    }
    /* Overrides never overlap, so `prev` is the last one to end before now. */
    int64_t after = prev ? prev->to : INT64_MIN;
    int64_t before = next ? next->from : INT64_MAX;
    if (!in_years(r, when_ms)) {
        d.officer = r->fallback;
        d.why = "fallback";
        if (when_ms < ROTA_FIRST_MS) {
            d.since_ms = after;
            d.until_ms = before < ROTA_FIRST_MS ? before : ROTA_FIRST_MS;
        } else {
            d.since_ms = after > ROTA_END_MS ? after : ROTA_END_MS;
            d.until_ms = before;
        }
    } else {
        int m = weekly_minute(r, when_ms);
        int64_t since = weekly_since(r, when_ms), until = weekly_next(r, when_ms);
        d.officer = officer_of(r, m);
        d.why = "weekly";
        d.index = r->owner[m];
        d.since_ms = since > after ? since : after;
        d.until_ms = until < before ? until : before;
    }
    *out = d;
    return 0;
}

const struct officer *rota_on_duty(const struct config *cfg, int64_t when_ms, const char **why,
                                   int64_t *until_ms)
{
    struct rota_duty d;
    if (rota_duty_at(cfg, when_ms, &d) != 0)
        return NULL;
    if (why)
        *why = d.why;
    if (until_ms)
        *until_ms = d.until_ms;
    return d.officer;
}

const struct officer *rota_fallback(const struct config *cfg)
{
    return cfg && cfg->rota ? cfg->rota->fallback : NULL;
}

const char *rota_timezone(const struct config *cfg)
{
    return cfg && cfg->rota ? cfg->rota->timezone : NULL;
}

void rota_format_local(const struct config *cfg, int64_t ms, char buf[ROTA_TIME_LEN])
{
    const struct rota *r = cfg ? cfg->rota : NULL;
    if (!r || !in_years(r, ms)) {
        format_time(ms, 0, 0, buf);
        size_t n = strlen(buf); /* "+00:00" reads as a zone; this is plain UTC */
        if (n > 6 && strcmp(buf + n - 6, "+00:00") == 0)
            snprintf(buf + n - 6, 7, "Z");
        return;
    }
    format_time(ms, offset_at(r, ms), 0, buf);
}

const char *rota_weekday(const struct config *cfg, int64_t ms)
{
    const struct rota *r = cfg ? cfg->rota : NULL;
    int64_t local = ms + (int64_t)offset_at(r, ms) * 1000;
    return day_names[(int)floor_mod(floor_div(local, DAY_MS) + 3, 7)];
}

/* ---- the oncall report ------------------------------------------------- */

static json_t *time_json(int64_t ms)
{
    char buf[ROTA_TIME_LEN];
    if (ms == INT64_MIN || ms == INT64_MAX)
        return json_null();
    format_time(ms, 0, 1, buf);
    return json_string(buf);
}

static json_t *local_json(const struct config *cfg, int64_t ms)
{
    char buf[ROTA_TIME_LEN];
    if (ms == INT64_MIN || ms == INT64_MAX)
        return json_null();
    rota_format_local(cfg, ms, buf);
    return json_string(buf);
}

static json_t *text_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* An officer as oncall shows it: the webhook URL stays in the config (it
 * often carries a secret token); only whether there is one. */
static json_t *officer_json(const struct officer *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(o->id));
    json_object_set_new(j, "name", text_json(o->name));
    json_object_set_new(j, "email", text_json(o->email));
    json_object_set_new(j, "phone", text_json(o->phone));
    json_object_set_new(j, "has_webhook", json_boolean(o->webhook != NULL));
    return j;
}

static json_t *duty_json(const struct config *cfg, const struct rota_duty *d)
{
    char source[48];
    if (strcmp(d->why, "override") == 0)
        snprintf(source, sizeof source, "/rota/overrides/%ld", d->index);
    else if (strcmp(d->why, "weekly") == 0)
        snprintf(source, sizeof source, "/rota/weekly/%ld", d->index);
    else
        snprintf(source, sizeof source, "/rota/fallback");
    json_t *j = json_object();
    json_object_set_new(j, "officer", officer_json(d->officer));
    json_object_set_new(j, "why", json_string(d->why));
    json_object_set_new(j, "source", json_string(source));
    json_object_set_new(j, "reason", text_json(d->reason));
    json_object_set_new(j, "since", time_json(d->since_ms));
    json_object_set_new(j, "since_local", local_json(cfg, d->since_ms));
    json_object_set_new(j, "until", time_json(d->until_ms));
    json_object_set_new(j, "until_local", local_json(cfg, d->until_ms));
    return j;
}

json_t *rota_report(const struct config *cfg, int64_t when_ms, size_t nnext)
{
    struct rota_duty d;
    if (rota_duty_at(cfg, when_ms, &d) != 0)
        return NULL;
    json_t *doc = json_object();
    json_t *next = json_array();
    if (!doc || !next) {
        json_decref(doc);
        json_decref(next);
        return NULL;
    }
    json_object_set_new(doc, "at", time_json(when_ms));
    json_object_set_new(doc, "at_local", local_json(cfg, when_ms));
    json_object_set_new(doc, "timezone", json_string(rota_timezone(cfg)));
    json_object_set_new(doc, "on_duty", duty_json(cfg, &d));
    json_object_set_new(doc, "fallback", officer_json(rota_fallback(cfg)));
    for (size_t i = 0; i < nnext && d.until_ms != INT64_MAX; i++) {
        if (rota_duty_at(cfg, d.until_ms, &d) != 0)
            break;
        json_array_append_new(next, duty_json(cfg, &d));
    }
    json_object_set_new(doc, "next", next);
    return doc;
}
