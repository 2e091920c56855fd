/*
 * http_listen - the partner-side HTTP endpoint of an adapter (libmicrohttpd).
 *
 * The partner's system POSTs its messages here (and GETs what the adapter
 * serves, e.g. the municipality's referral details). Every request carries
 * "Authorization: Bearer <token>"; each partner system has its own token,
 * read from a file of mode 0600, compared in constant time, and allowed a
 * set of methods. Bodies are bounded. TLS (GnuTLS, through libmicrohttpd) is
 * on when a certificate and key are configured, and required for any bind
 * address other than loopback.
 *
 * Threading: libmicrohttpd runs in "external polling" mode with epoll: the
 * daemon exposes one file descriptor (http_listen_fd) and a timeout
 * (http_listen_timeout_ms) that the adapter's own loop (zmq_poll) waits on,
 * and http_listen_run then does the work. So request handlers run on the
 * adapter's thread and may write the outbox (SQLite) directly: a 202 is
 * sent only after that commit returned, with no hand-off between threads and
 * no locks. The price is that a slow handler holds up the loop; handlers
 * only do a local SQLite commit.
 *
 * Does not log request contents; the caller logs with ids.
 */
#ifndef HTTP_LISTEN_H
#define HTTP_LISTEN_H

#include <jansson.h>
#include <stddef.h>

#include "adapter.h"

#define HTTP_LISTEN_MAX_TOKENS 16
#define HTTP_LISTEN_NAME_MAX 64
#define HTTP_LISTEN_METHOD_GET 1u
#define HTTP_LISTEN_METHOD_POST 2u

struct http_listen;

/* One partner system that may call the endpoint. */
struct http_listen_token {
    const char *name;       /* for logs and handlers: 1-64 of [a-z0-9._-] */
    const char *token_file; /* one line, mode 0600, 32-512 visible ASCII characters */
    unsigned methods;       /* HTTP_LISTEN_METHOD_* bits; 0 means GET and POST */
};

struct http_listen_settings {
    const char *address;                      /* IPv4 address to bind, e.g. "127.0.0.1" */
    unsigned port;                            /* 0: any free port (see http_listen_port) */
    const char *tls_cert_file, *tls_key_file; /* PEM; both or neither */
    size_t max_body;                          /* bytes; 0: 65536 */
    unsigned max_connections;                 /* 0: 32 */
    unsigned timeout_s;                       /* idle connection timeout; 0: 30 */
    const struct http_listen_token *tokens;
    size_t ntokens;
};

/* One request as a handler sees it. All pointers are valid during the call. */
struct http_request {
    const char *method;       /* "GET" or "POST" */
    const char *path;         /* the URL path, without query */
    const char *client;       /* the name of the token that authenticated */
    const char *content_type; /* NULL when absent */
    const char *body;         /* NUL-terminated; "" for GET */
    size_t body_len;
};

/* What a handler answers. `body` (may be NULL: no body) is stolen. */
struct http_answer {
    int status;
    json_t *body;
    const char *content_type; /* static string; NULL: application/json */
    char location[256];       /* Location header when not empty */
    int retry_after_s;        /* Retry-After header when > 0 */
};

typedef void (*http_listen_fn)(void *arg, const struct http_request *req,
                               struct http_answer *answer);

/*
 * Starts the endpoint. Reads the token files and TLS files; refuses a token
 * file readable by group or others, a duplicate token, and a non-loopback
 * address without TLS. Returns the handle (caller frees with
 * http_listen_close), or NULL with err filled.
 */
struct http_listen *http_listen_open(const struct http_listen_settings *s, char *err,
                                     size_t errlen);

/* Stops the daemon, closes connections, wipes the tokens, sets *self_p NULL. */
void http_listen_close(struct http_listen **self_p);

/*
 * Adds a route: requests with this method whose path equals `path` (or, with
 * prefix set, starts with it) go to fn(arg, ...). A path matched by some
 * route but not for the method gets 405 with an Allow header; a path no
 * route matches gets 404. Returns 0, or -1 when the table is full (16).
 */
int http_listen_route(struct http_listen *hl, const char *method, const char *path, int prefix,
                      http_listen_fn fn, void *arg);

/* The port bound (useful with port 0). */
unsigned http_listen_port(const struct http_listen *hl);

/* The file descriptor to poll for input (epoll set of the daemon). */
int http_listen_fd(const struct http_listen *hl);

/* Milliseconds until http_listen_run must be called even without input;
 * -1 when only input matters. */
long http_listen_timeout_ms(const struct http_listen *hl);

/* Does all pending work without blocking (accepts, reads, runs handlers,
 * writes answers). Call after polling http_listen_fd, or on its timeout. */
void http_listen_run(struct http_listen *hl);

/*
 * Fills `answer` with an application/problem+json body:
 *   {"type": "about:blank", "title": title, "status": status,
 *    "errors": [{"path", "keyword", "message"}, ...]}
 * `errors` (may be NULL) is stolen.
 */
void http_answer_problem(struct http_answer *answer, int status, const char *title, json_t *errors);

/*
 * Reads a token file: one line of 32-512 visible ASCII characters, in a file
 * only its owner may read (mode 0600). Returns the token without its newline
 * (caller wipes it with sodium_memzero and frees it), or NULL with err filled.
 */
char *http_read_token_file(const char *path, char *err, size_t errlen);

/* The adapter transport "http-listen" (adapter.h): POSTs on the configured
 * paths go to adapter_take_input; GETs under resource_path are answered from
 * adapter_doc_get. It delivers nothing. */
extern const struct adapter_transport_ops http_listen_ops;

#endif
