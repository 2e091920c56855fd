/*
 * duration - ISO 8601 durations as written in config deadlines ("PT15M", "P1D",
 * "P2W", "PT0.5S"), to and from milliseconds.
 *
 * Does: the fixed-length subset PnW and PnDTnHnMnS, fractional seconds to the
 * millisecond, a canonical text form.
 * Does not: years or months (their length depends on the calendar), negative
 * durations, durations longer than 366 days, start/end intervals or
 * repetitions. No state, no allocation, does not log.
 */
#ifndef DURATION_H
#define DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration duration_parse accepts: 366 days, in milliseconds. */
#define DURATION_MAX_MS (366LL * 24 * 60 * 60 * 1000)

/* Room for any text duration_format writes, NUL included. */
#define DURATION_TEXT_LEN 48

/*
 * Parses `text` (not NULL) as an ISO 8601 duration: "PnW" alone, or
 * "P[nD][T[nH][nM][nS]]" with at least one component, in that order, each at
 * most once; only seconds may have a fraction ('.' or ',', at most 3 digits).
 * Returns 0 and sets *ms; or -1, *ms untouched, and a message in err (err may be
 * NULL when errlen is 0). Refused: empty text, no leading 'P', "P" or "PT"
 * alone, years and months, signs, lowercase designators, anything over 366 days.
 */
int duration_parse(const char *text, int64_t *ms, char *err, size_t errlen);

/* duration_parse with another upper bound than 366 days: `max_ms` (at most
 * DURATION_LONG_MAX_MS), for periods counted in years such as retention. */
int duration_parse_max(const char *text, int64_t max_ms, int64_t *ms, char *err, size_t errlen);

/* The longest bound duration_parse_max takes: 100 years of 366 days. */
#define DURATION_LONG_MAX_MS (100LL * DURATION_MAX_MS)

/*
 * Writes the canonical form of `ms` into out (at most len bytes, always
 * NUL-terminated when len > 0): days, then T with hours, minutes and seconds,
 * zero components left out, seconds with up to 3 decimals and no trailing
 * zeros; "PT0S" for 0. Weeks are written as days (P14D). 5400000 -> "PT1H30M",
 * 90061000 -> "P1DT1H1M1S", 1500 -> "PT1.5S". For ms <= DURATION_MAX_MS the
 * text parses back to ms. A negative ms gets a leading '-' (which
 * duration_parse refuses).
 */
void duration_format(int64_t ms, char *out, size_t len);

#endif
