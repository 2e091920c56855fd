/*
 * notify - delivers alert messages by webhook (HTTP POST, signed) and by
 * e-mail (SMTP), driven by the caller's poll loop and never blocking it.
 *
 * The caller queues a message; the loop asks notify_pollfds which sockets to
 * watch and how long it may sleep, and calls notify_perform after poll. Every
 * attempt and the final outcome of every message are reported through the
 * caller's callbacks, which record them: this module does not log and keeps
 * nothing on disk (a restart forgets the queue).
 *
 * Does not decide what to send, to whom or when (the escalation engine does)
 * and adds no content of its own beyond the transport headers documented in
 * docs/notify.md: the caller builds the alert text, which carries no personal
 * data. Uses libcurl's multi interface with socket and timer callbacks; never
 * follows redirects, never uses a proxy, and never sends a bearer token or
 * SMTP password in clear text to a host other than loopback. Not thread-safe:
 * every call comes from the loop's thread.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_QUEUE_MAX 10000                     /* messages queued or in flight */
#define NOTIFY_QUEUE_BYTES_MAX (32u * 1024 * 1024) /* their copies, all together */
#define NOTIFY_PARALLEL_MAX 16                     /* attempts in flight at once */
#define NOTIFY_POLLFDS_MAX 64                      /* a pollfd array this size is always enough */
#define NOTIFY_BODY_MAX 65536                      /* webhook JSON or e-mail text, bytes */
#define NOTIFY_SUBJECT_MAX 255                     /* bytes of UTF-8 */
#define NOTIFY_ID_MAX 128                          /* message id, bytes */

/* What notify_webhook and notify_email return when they did not queue. */
#define NOTIFY_ENOMEM (-1)
#define NOTIFY_EINVAL (-2) /* an argument is not acceptable; err says which */
#define NOTIFY_EFULL (-3)  /* NOTIFY_QUEUE_MAX or NOTIFY_QUEUE_BYTES_MAX reached */

struct notify;

struct notify_settings {
    long timeout_ms;         /* per attempt, connect to answer: 100 .. 600000 */
    int max_attempts;        /* 1 .. 1000 */
    long backoff_initial_ms; /* wait after the first failed attempt: 1 .. backoff_max_ms */
    long backoff_max_ms;     /* cap of the doubling wait and of Retry-After: <= 7 days */
};

/* A webhook endpoint. All borrowed for the call only; notify keeps copies. */
struct notify_webhook {
    const char *url;          /* http:// or https:// */
    const char *bearer_token; /* NULL or "": no Authorization header */
    const uint8_t *secret;    /* HMAC-SHA256 key, 24 .. 64 bytes (Standard Webhooks) */
    size_t secret_len;
    const char *ca_file; /* NULL: the system's CA store; else a PEM file to trust instead */
};

/* An SMTP relay. All borrowed for the call only; notify keeps copies. */
struct notify_email {
    const char *smtp_url;  /* smtp://host:port[/ehlo-name] or smtps://host:port[/ehlo-name] */
    int starttls_required; /* smtp://: upgrade with STARTTLS or fail; never falls back */
    const char *username;  /* NULL: no AUTH */
    const char *password;
    const char *from;    /* envelope and From: address, plain addr-spec (ASCII) */
    const char *ca_file; /* as for webhooks */
};

enum notify_outcome {
    NOTIFY_DELIVERED = 0, /* 2xx, or the SMTP relay took the message */
    NOTIFY_REJECTED,      /* permanent failure: not retried (4xx, 410, 3xx, SMTP 5xx, TLS, URL) */
    NOTIFY_GAVE_UP,       /* max_attempts spent on transient failures */
    NOTIFY_CANCELLED,     /* notify_free while the message was still pending */
};

/* "delivered", "rejected", "gave_up", "cancelled" (static strings). */
const char *notify_outcome_name(enum notify_outcome outcome);

/* One attempt, as reported to the caller. Valid during the callback only. */
struct notify_attempt {
    int attempt_no;    /* 1, 2, ... */
    long code;         /* HTTP status or last SMTP reply code; 0 when none came */
    const char *error; /* "" if delivered; else curl's reason or "HTTP 500"; no bodies */
    int will_retry;    /* 1: another attempt follows after retry_in_ms */
    long retry_in_ms;
    long elapsed_ms; /* how long the attempt took */
};

/* Called once per attempt, before `done` for the last one. */
typedef void (*notify_attempt_fn)(void *arg, const char *message_id,
                                  const struct notify_attempt *attempt);

/* Called exactly once per queued message, after its last attempt;
 * `attempts` is how many were reported through notify_attempt_fn (an attempt
 * cut short by notify_free is not one of them). */
typedef void (*notify_done_fn)(void *arg, const char *message_id, enum notify_outcome outcome,
                               int attempts);

/* Where a message reports; either function may be NULL. Copied by the queue
 * calls; `arg` is the caller's and must stay valid until `done` was called. */
struct notify_report {
    notify_attempt_fn attempt;
    notify_done_fn done;
    void *arg;
};

/*
 * Checks the settings and sets up libcurl (curl_global_init) and libsodium.
 * Caller frees with notify_free. NULL with err filled on bad settings or
 * when out of memory.
 */
struct notify *notify_new(const struct notify_settings *s, char *err, size_t errlen);

/*
 * Aborts what is in flight, calls `done` with NOTIFY_CANCELLED for every
 * message still pending (so free notify before what its callbacks use),
 * frees, and sets *self_p to NULL.
 */
void notify_free(struct notify **self_p);

/*
 * Queues one signed webhook POST of `json_body` (a JSON object or array,
 * UTF-8, copied) with header webhook-id = message_id (1 .. NOTIFY_ID_MAX of
 * [A-Za-z0-9_.-], no leading, trailing or double dot; the same on every
 * attempt, so a receiver can drop duplicates). Returns 0 when queued, else
 * NOTIFY_EINVAL / NOTIFY_EFULL / NOTIFY_ENOMEM with err filled; callbacks
 * are only ever called for queued messages. Safe to call from a callback.
 */
int notify_webhook(struct notify *n, const struct notify_webhook *w, const char *message_id,
                   const char *json_body, const struct notify_report *report, char *err,
                   size_t errlen);

/*
 * Queues one plain-text e-mail (UTF-8, 8bit; lines end in LF or CRLF, at most
 * 998 bytes each) to the single address `to`, with `subject` (one line;
 * RFC 2047 encoded when not ASCII). Message-ID is <message_id@ketenhub>, the
 * same on every attempt. Returns and copies as notify_webhook.
 */
int notify_email(struct notify *n, const struct notify_email *e, const char *message_id,
                 const char *to, const char *subject, const char *text,
                 const struct notify_report *report, char *err, size_t errlen);

/*
 * For the loop: fills up to `max` pollfd (events set, revents 0) with the
 * sockets transfers wait on, and *timeout_ms with how long the loop may sleep
 * before notify_perform is due even without I/O (-1: nothing pending; 0: now).
 * Returns the number filled. With max >= NOTIFY_POLLFDS_MAX none is left out.
 */
size_t notify_pollfds(struct notify *n, struct pollfd *fds, size_t max, long *timeout_ms);

/*
 * After poll (whatever it returned): does what the transfers can do now
 * without blocking, starts attempts that are due, and calls the callbacks of
 * attempts that ended. Not re-entrant: never call it (or notify_free) from a
 * callback.
 */
void notify_perform(struct notify *n);

/*
 * For config checks: 0 when notify takes `url` as a webhook URL (http,
 * https) or, with `email`, an SMTP relay URL (smtp, smtps), and a plain-text
 * one (http://, or smtp:// without STARTTLS required) points at this
 * machine. Else -1 with err filled.
 */
int notify_check_url(const char *url, int email, int starttls_required, char *err, size_t errlen);

/* Messages queued or in flight. */
size_t notify_pending(const struct notify *n);

#endif
