/*
 * http_push - the adapter POSTs deliveries to the partner's endpoint
 * (libcurl multi, never blocking the adapter's loop), by the NL GOV webhook
 * rules:
 *
 *   2xx         taken: only now is the delivery confirmed to the hub;
 *   429         not now: wait Retry-After (seconds or HTTP-date; at most a
 *               day), then again; the whole endpoint waits;
 *   410         the endpoint is gone: it is retired (error log, status file,
 *               nothing more is sent to it, also after a restart, until an
 *               operator removes the status file); the deliveries stay
 *               unconfirmed at the hub and in the adapter's failed list;
 *   otherwise   (no connection, timeout, 5xx, other 4xx, 3xx) backoff: the
 *               endpoint waits backoff_initial, doubling per failure in a
 *               row up to backoff_max; nothing is dropped.
 *
 * Authentication: a Bearer token (file, mode 0600) and/or mutual TLS with a
 * client certificate and key. http:// only to loopback.
 *
 * This module is the queue and the HTTP exchange; the adapter transport glue
 * (http_push_ops) sits at the end of http_push.c. Does not log bodies.
 */
#ifndef HTTP_PUSH_H
#define HTTP_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "adapter.h"

#define HTTP_PUSH_ID_MAX 128

/*
 * With "receipt_event": true, a 2xx answer is handed to the mapping as an
 * input of this content type (name "http-push"):
 *   {"ontvangstbevestiging": {"levering": "<delivery id>",
 *                             "doorverwijzing": "<the event's subject>",
 *                             "status": <HTTP status>}}
 * so it can become doorverwijzing-ontvangen (CoMensha). A local failure to
 * store it leaves the delivery unconfirmed (RETRY).
 */
#define HTTP_PUSH_RECEIPT_TYPE "application/vnd.ketenhub.push-receipt+json"

struct http_push;

enum http_push_state { HTTP_PUSH_ACTIVE, HTTP_PUSH_BACKOFF, HTTP_PUSH_RETIRED };

struct http_push_settings {
    const char *url;              /* https://..., or http:// to loopback */
    const char *token_file;       /* NULL: no Authorization header */
    const char *client_cert_file; /* PEM; with client_key_file: mutual TLS */
    const char *client_key_file;
    const char *ca_file;     /* NULL: the system's CA store */
    const char *status_file; /* NULL: state in memory only */
    long timeout_ms;         /* one attempt, connect to answer; 0: 10000 */
    long backoff_initial_ms; /* 0: 1000 */
    long backoff_max_ms;     /* 0: 300000 */
    unsigned max_parallel;   /* 0: 4 */
};

/* The outcome of one finished POST, as the owner's callback sees it. */
struct http_push_result {
    const char *id;             /* the id given to http_push_post */
    enum adapter_result result; /* TAKEN, RETRY or FAILED */
    long status;                /* HTTP status, 0 when no answer */
    long retry_after_ms;        /* for RETRY: when to try again */
    const char *why;            /* short text for logs; no personal data */
};

typedef void (*http_push_done_fn)(void *arg, const struct http_push_result *r);

/*
 * Creates the pusher. Reads the token file (mode 0600) and, when a status
 * file exists and says "retired", starts retired. Returns the handle (free
 * with http_push_free) or NULL with err filled.
 */
struct http_push *http_push_new(const struct http_push_settings *s, http_push_done_fn done,
                                void *arg, char *err, size_t errlen);

/* Cancels transfers in flight (their owners get no callback), frees, NULLs. */
void http_push_free(struct http_push **self_p);

/*
 * Queues one POST of `body` (copied) with this Content-Type, and an id (also
 * sent as the webhook-id header). Returns ADAPTER_PENDING (the callback
 * follows from http_push_process), ADAPTER_RETRY with *retry_after_ms when
 * the endpoint is waiting (backoff or 429), or ADAPTER_FAILED when it is
 * retired or the arguments are bad (why filled).
 */
enum adapter_result http_push_post(struct http_push *p, const char *id, const char *content_type,
                                   const char *body, size_t len, long *retry_after_ms, char *why,
                                   size_t whylen);

/* Poll items for curl's sockets (socket NULL, fd set); lowers *timeout_ms. */
int http_push_prepare(struct http_push *p, zmq_pollitem_t *items, int max, long *timeout_ms);

/* Acts on ready sockets and timers, calls the done callback for finished
 * transfers and starts queued ones. Never waits. */
void http_push_process(struct http_push *p, const zmq_pollitem_t *items, int n);

enum http_push_state http_push_state(const struct http_push *p);

/* Queued plus in flight. */
size_t http_push_pending(const struct http_push *p);

/* The adapter transport "http-push" (adapter.h). */
extern const struct adapter_transport_ops http_push_ops;

#endif
