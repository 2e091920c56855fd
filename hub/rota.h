/*
 * rota - the duty rota (piket): which officer gets the alerts at a moment.
 *
 * Loaded from the config's `officers` and `rota` keys (docs/escalation.md):
 * weekly shifts in local wall-clock time of one IANA time zone, dated
 * overrides (absolute instants) that win while they last, and a fallback
 * officer. Loading proves the weekly shifts cover every minute of the week
 * exactly once and that no two overrides overlap, so a loaded rota always
 * names somebody: a gap is a config error, never a silent nobody.
 *
 * The time zone's UTC offsets from 1970 up to 2100 are read once, at load,
 * into a table (through libc with TZ set for a moment and then restored);
 * every question after that is arithmetic on the table: no environment,
 * no locks, no allocation, safe from any thread. It does not send alerts,
 * know about referrals, or log.
 */
#ifndef ROTA_H
#define ROTA_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"

/* A duty officer. Staff data from the config (never victims' data). */
struct officer {
    char *id;      /* same charset as partner ids */
    char *name;    /* for people */
    char *email;   /* may be NULL */
    char *phone;   /* free text, may be NULL */
    char *webhook; /* http(s) URL, may be NULL; may hold a secret token */
};

struct rota; /* owned by struct config */

/* The rota answers for instants from ROTA_FIRST_MS (1970-01-01T00:00Z) up to,
 * not including, ROTA_END_MS (2100-01-01T00:00Z); outside them only
 * overrides and the fallback officer apply (docs/escalation.md). */
#define ROTA_FIRST_MS INT64_C(0)
#define ROTA_END_MS INT64_C(4102444800000)

/*
 * Parses `officers` (array) into cfg->officers and `rota` (object) into
 * cfg->rota, adding one problem per fault, each starting with its JSON
 * pointer. Either may be NULL (key absent); a rota needs officers. The
 * config owns what is loaded, also after problems (config_free frees it).
 * Sets TZ in the environment for a moment and restores it: call it before
 * starting threads (config_load runs at start-up).
 */
void rota_load(struct config *cfg, const json_t *officers, const json_t *rota,
               struct config_problems *p);

/* Frees a rota (NULL is fine). */
void rota_free(struct rota *r);

/* Frees an array of n officers made by rota_load (NULL is fine). */
void rota_officers_free(struct officer *officers, size_t n);

/* One duty: who, why, and the moments it starts and ends. */
struct rota_duty {
    const struct officer *officer; /* borrowed from the config */
    const char *why;               /* "override", "weekly" or "fallback" (static) */
    const char *reason;            /* the override's reason, or NULL (borrowed) */
    long index;                    /* position in /rota/overrides or /rota/weekly; -1 fallback */
    int64_t since_ms;              /* when it began (UTC ms); INT64_MIN when unknown */
    int64_t until_ms;              /* when the next duty begins; INT64_MAX when never */
};

/*
 * The duty at UTC ms `when_ms`: the override that holds then, else the
 * weekly shift, else (outside the rota's years) the fallback officer.
 * Adjacent weekly shifts of one officer are one duty. Returns 0, or -1 when
 * the config has no rota (*out untouched).
 */
int rota_duty_at(const struct config *cfg, int64_t when_ms, struct rota_duty *out);

/*
 * Who is on duty at UTC ms `when`: the override, else the weekly shift; never
 * NULL when a rota is loaded. Fills *why with "override"/"weekly"/"fallback"
 * and *until_ms with when this duty ends (next change; INT64_MAX for never).
 * why and until_ms may be NULL. Borrowed from the config.
 */
const struct officer *rota_on_duty(const struct config *cfg, int64_t when_ms, const char **why,
                                   int64_t *until_ms);

/* The fallback officer, or NULL without a rota. Borrowed from the config. */
const struct officer *rota_fallback(const struct config *cfg);

/* The officer with this id, or NULL. Borrowed from the config. */
const struct officer *rota_officer(const struct config *cfg, const char *id);

/* The rota's IANA time zone name, or NULL without a rota. Borrowed. */
const char *rota_timezone(const struct config *cfg);

/*
 * Parses an RFC 3339 date-time with a UTC offset or Z, e.g.
 * "2026-12-24T23:30:00+01:00" (fractions of a second down to ms), into UTC ms.
 * Returns 0, or -1 when `s` is not one (no offset, a field out of range).
 */
int rota_parse_time(const char *s, int64_t *ms);

#define ROTA_TIME_LEN 40

/*
 * Formats UTC ms as local time in the rota's zone, RFC 3339 with its offset:
 * "2026-12-24T23:30:00+01:00" (".123" before the offset when ms are not 0).
 * Outside the rota's years, or without a rota, the UTC form ("...Z").
 */
void rota_format_local(const struct config *cfg, int64_t ms, char buf[ROTA_TIME_LEN]);

/* "mon" ... "sun": the local day of the week at UTC ms (UTC outside the rota's years). */
const char *rota_weekday(const struct config *cfg, int64_t ms);

/*
 * The `ketenctl oncall --json` document for `when_ms` (docs/ketenctl.md):
 * the duty then, the fallback officer and the next `nnext` duties. NULL
 * without a rota (or out of memory). Caller owns the reference.
 */
json_t *rota_report(const struct config *cfg, int64_t when_ms, size_t nnext);

#endif
