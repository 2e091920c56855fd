/*
 * report (ketenctl) - the coordinator's overview (docs/reporting.md): counts
 * of signals, referral response times and escalations over a period, built
 * from the metadata the hub keeps in clear (signal_facts and the referral and
 * escalation moments), with small numbers hidden. Produces the report's JSON
 * model; ctl/report_render.c turns it into CSV or HTML. Reads the database
 * read-only and never a signal's body.
 */
#ifndef CTL_REPORT_H
#define CTL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"

#define REPORT_THRESHOLD_DEFAULT 5
#define REPORT_THRESHOLD_MIN 2
#define REPORT_THRESHOLD_MAX 100

struct report_period {
    char from[11];          /* YYYY-MM-DD, included */
    char to[11];            /* YYYY-MM-DD, included */
    int64_t from_ms, to_ms; /* [from 00:00Z, to + 1 day 00:00Z) */
};

/* Parses two dates into a period. 0, or -1 with err (a bad date, or to
 * before from). */
int report_period_parse(const char *from, const char *to, struct report_period *out, char *err,
                        size_t errlen);

/*
 * Builds the report's model (docs/reporting.md §1) for `period` from the
 * database at db_path, with names from cfg and small numbers below
 * `threshold` hidden. `generated_ms` is the time stamped on it. Returns the
 * model (caller frees), or NULL with err filled.
 */
json_t *report_build(const char *db_path, const struct config *cfg,
                     const struct report_period *period, int threshold, int64_t generated_ms,
                     char *err, size_t errlen);

#endif
