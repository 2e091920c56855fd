/*
 * log - one line per event on stderr, as key=value fields.
 *
 * log_msg checks the level before any formatting is done (redis serverLog),
 * so debug lines cost nothing when off. Callers never put personal data in a
 * line: ids, counts, JSON pointers and keywords only, never payload values.
 */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern enum log_level log_threshold;

/* Parses "debug", "info", "warn" or "error". Returns 0, or -1 if unknown. */
int log_parse_level(const char *name, enum log_level *out);

/* Writes "ts=<UTC> level=<level> <formatted text>\n" to stderr in one write. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_msg(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) >= log_threshold)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#endif
