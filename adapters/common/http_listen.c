/*
 * http_listen - the partner-side HTTP endpoint; see http_listen.h.
 *
 * Each request goes through, in this order: authentication (401: no token
 * gives away which paths exist), routing (404, 405), the token's methods
 * (403), the declared body size (413, answered before the body is read),
 * then the body is collected up to max_body (413 again for a chunked body
 * that outgrows it) and the route's handler answers. Errors are
 * application/problem+json bodies.
 */
#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define ROUTES_MAX 16
#define TOKEN_MIN 32
#define TOKEN_MAX 512
#define TLS_FILE_MAX (64 * 1024)
#define BODY_DEFAULT (64 * 1024)
#define BODY_CEILING (4 * 1024 * 1024)

struct token {
    char name[HTTP_LISTEN_NAME_MAX + 1];
    unsigned char hash[crypto_hash_sha256_BYTES];
    unsigned methods;
};

struct route {
    char method[8];
    char path[128];
    int prefix;
    http_listen_fn fn;
    void *arg;
};

struct http_listen {
    struct MHD_Daemon *daemon;
    struct token tokens[HTTP_LISTEN_MAX_TOKENS];
    size_t ntokens;
    struct route routes[ROUTES_MAX];
    size_t nroutes;
    size_t max_body;
    unsigned port;
    int epoll_fd;
    char *tls_cert, *tls_key;
    size_t tls_key_len;
};

/* Per request, from the first call of the access handler to completion. */
struct req_state {
    const struct token *client;
    const struct route *route;
    char *body;
    size_t len, cap;
    int too_big;
};

static void fail_msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_msg(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Reads a secret file of at most max bytes that only its owner may read.
 * Returns a NUL-terminated buffer (caller wipes and frees) or NULL. */
static char *read_private(const char *path, size_t max, size_t *len_out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    char *buf = NULL;
    struct stat st;
    if (fd < 0) {
        fail_msg(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail_msg(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    if (st.st_mode & 077) {
        fail_msg(err, errlen, "%s: accessible by group or others (mode %o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        goto fail;
    }
    if ((size_t)st.st_size > max) {
        fail_msg(err, errlen, "%s: larger than %zu bytes", path, max);
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fail_msg(err, errlen, "out of memory");
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fail_msg(err, errlen, "%s: read failed", path);
            sodium_memzero(buf, (size_t)st.st_size + 1);
            free(buf);
            buf = NULL;
            goto fail;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (len_out)
        *len_out = got;
fail:
    close(fd);
    return buf;
}

char *http_read_token_file(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *t = read_private(path, TOKEN_MAX + 2, &len, err, errlen);
    if (!t)
        return NULL;
    while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
        t[--len] = '\0';
    int ok = len >= TOKEN_MIN && len <= TOKEN_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)t[i] > 0x20 && (unsigned char)t[i] < 0x7f;
    if (!ok) {
        fail_msg(err, errlen, "%s: a token is one line of %d-%d visible ASCII characters", path,
                 TOKEN_MIN, TOKEN_MAX);
        sodium_memzero(t, len);
        free(t);
        return NULL;
    }
    return t;
}

/* A token file's SHA-256: what the endpoint keeps and compares. */
static int load_token(const char *path, unsigned char hash[crypto_hash_sha256_BYTES], char *err,
                      size_t errlen)
{
    char *t = http_read_token_file(path, err, errlen);
    if (!t)
        return -1;
    crypto_hash_sha256(hash, (const unsigned char *)t, strlen(t));
    sodium_memzero(t, strlen(t));
    free(t);
    return 0;
}

static int name_ok(const char *s)
{
    size_t len = s ? strnlen(s, HTTP_LISTEN_NAME_MAX + 1) : 0;
    if (len == 0 || len > HTTP_LISTEN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

/* ---- answers --------------------------------------------------------- */

void http_answer_problem(struct http_answer *answer, int status, const char *title, json_t *errors)
{
    json_decref(answer->body);
    answer->status = status;
    answer->content_type = "application/problem+json";
    answer->body =
        json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title", title, "status", status);
    if (answer->body && errors)
        json_object_set_new(answer->body, "errors", errors);
    else
        json_decref(errors);
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, struct http_answer *a,
                                   const char *allow, int challenge)
{
    char *text = NULL;
    size_t len = 0;
    if (a->body) {
        text = json_dumps(a->body, JSON_COMPACT);
        len = text ? strlen(text) : 0;
    }
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        json_decref(a->body);
        a->body = NULL;
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                a->content_type ? a->content_type : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (a->location[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, a->location);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (a->retry_after_s > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%d", a->retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"ketenhub\"");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)a->status, r);
    MHD_destroy_response(r);
    json_decref(a->body);
    a->body = NULL;
    return ret;
}

static enum MHD_Result send_problem(struct MHD_Connection *conn, int status, const char *title,
                                    const char *allow, int challenge)
{
    struct http_answer a = {0};
    http_answer_problem(&a, status, title, NULL);
    return send_answer(conn, &a, allow, challenge);
}

/* ---- request handling ------------------------------------------------ */

/* The token whose hash matches, comparing against every token (no early
 * exit) so the time taken does not say which one nearly matched. */
static const struct token *authenticate(const struct http_listen *hl, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    size_t len = strnlen(t, TOKEN_MAX + 1);
    if (len < TOKEN_MIN || len > TOKEN_MAX)
        return NULL;
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)t, len);
    const struct token *found = NULL;
    for (size_t i = 0; i < hl->ntokens; i++)
        if (sodium_memcmp(hash, hl->tokens[i].hash, sizeof hash) == 0)
            found = &hl->tokens[i];
    return found;
}

static int path_matches(const struct route *r, const char *url)
{
    size_t n = strlen(r->path);
    return r->prefix ? strncmp(url, r->path, n) == 0 && url[n] != '\0' : strcmp(url, r->path) == 0;
}

/* The route for (method, url); *allow lists the methods of matching paths. */
static const struct route *find_route(const struct http_listen *hl, const char *method,
                                      const char *url, char *allow, size_t allowlen)
{
    const struct route *hit = NULL;
    allow[0] = '\0';
    for (size_t i = 0; i < hl->nroutes; i++) {
        const struct route *r = &hl->routes[i];
        if (!path_matches(r, url))
            continue;
        if (strcmp(r->method, method) == 0 && !hit)
            hit = r;
        if (!strstr(allow, r->method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", r->method);
        }
    }
    return hit;
}

static unsigned method_bit(const char *method)
{
    if (strcmp(method, "GET") == 0)
        return HTTP_LISTEN_METHOD_GET;
    if (strcmp(method, "POST") == 0)
        return HTTP_LISTEN_METHOD_POST;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_listen *hl = cls;
    struct req_state *st = *con_cls;
    if (!st) {
        /* First call: headers only. Decide everything that does not need
         * the body now, so a refused body is never read. */
        const struct token *client = authenticate(hl, conn);
        if (!client) {
            log_msg(LOG_WARN, "event=http_refused status=401 method=%.8s", method);
            return send_problem(conn, 401, "missing or invalid bearer token", NULL, 1);
        }
        char allow[64];
        const struct route *route = find_route(hl, method, url, allow, sizeof allow);
        if (!route && !allow[0])
            return send_problem(conn, 404, "no such resource", NULL, 0);
        if (!route)
            return send_problem(conn, 405, "method not allowed on this resource", allow, 0);
        if (!(client->methods & method_bit(method))) {
            log_msg(LOG_WARN, "event=http_refused status=403 client=%s method=%.8s", client->name,
                    method);
            return send_problem(conn, 403, "this client may not use this method", NULL, 0);
        }
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || *end || n > hl->max_body)
                return send_problem(conn, 413, "request body too large", NULL, 0);
        }
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->client = client;
        st->route = route;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_big || st->len + n > hl->max_body) {
            st->too_big = 1;
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 4096;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *p = realloc(st->body, cap);
            if (!p)
                return MHD_NO;
            st->body = p;
            st->cap = cap;
        }
        memcpy(st->body + st->len, upload_data, n);
        st->len += n;
        st->body[st->len] = '\0';
        return MHD_YES;
    }
    if (st->too_big)
        return send_problem(conn, 413, "request body too large", NULL, 0);
    struct http_request req = {
        .method = method,
        .path = url,
        .client = st->client->name,
        .content_type =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = st->body ? st->body : "",
        .body_len = st->len,
    };
    struct http_answer a = {0};
    a.status = 500;
    st->route->fn(st->route->arg, &req, &a);
    if (a.status < 200 || a.status > 599)
        a.status = 500;
    return send_answer(conn, &a, NULL, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_state *st = *con_cls;
    if (!st)
        return;
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    log_msg(LOG_DEBUG, "event=http_server detail=\"%s\"", line);
}

/* ---- set-up ---------------------------------------------------------- */

struct http_listen *http_listen_open(const struct http_listen_settings *s, char *err, size_t errlen)
{
    struct http_listen *hl = calloc(1, sizeof *hl);
    struct sockaddr_in sa;
    if (!hl) {
        fail_msg(err, errlen, "out of memory");
        return NULL;
    }
    hl->epoll_fd = -1;
    hl->max_body = s->max_body ? s->max_body : BODY_DEFAULT;
    if (hl->max_body < 256 || hl->max_body > BODY_CEILING) {
        fail_msg(err, errlen, "max_body %zu is out of range 256..%d", hl->max_body, BODY_CEILING);
        goto fail;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->port);
    if (!s->address || inet_pton(AF_INET, s->address, &sa.sin_addr) != 1 || s->port > 65535) {
        fail_msg(err, errlen, "listen address must be an IPv4 address and a port 0-65535");
        goto fail;
    }
    int loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    int tls = s->tls_cert_file || s->tls_key_file;
    if (tls && !(s->tls_cert_file && s->tls_key_file)) {
        fail_msg(err, errlen, "TLS needs both a certificate file and a key file");
        goto fail;
    }
    if (!tls && !loopback) {
        fail_msg(err, errlen,
                 "listening on %s without TLS: outside loopback a certificate and key are "
                 "required",
                 s->address);
        goto fail;
    }
    if (s->ntokens == 0 || s->ntokens > HTTP_LISTEN_MAX_TOKENS) {
        fail_msg(err, errlen, "between 1 and %d tokens are needed", HTTP_LISTEN_MAX_TOKENS);
        goto fail;
    }
    for (size_t i = 0; i < s->ntokens; i++) {
        struct token *t = &hl->tokens[i];
        if (!name_ok(s->tokens[i].name)) {
            fail_msg(err, errlen, "token %zu: name must be 1-64 of a-z 0-9 . _ -", i);
            goto fail;
        }
        snprintf(t->name, sizeof t->name, "%s", s->tokens[i].name);
        t->methods = s->tokens[i].methods ? s->tokens[i].methods
                                          : HTTP_LISTEN_METHOD_GET | HTTP_LISTEN_METHOD_POST;
        if (load_token(s->tokens[i].token_file, t->hash, err, errlen) != 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (sodium_memcmp(hl->tokens[j].hash, t->hash, sizeof t->hash) == 0) {
                fail_msg(err, errlen, "token %zu (%s): same token as %s", i, t->name,
                         hl->tokens[j].name);
                goto fail;
            }
            if (strcmp(hl->tokens[j].name, t->name) == 0) {
                fail_msg(err, errlen, "token %zu: name %s used twice", i, t->name);
                goto fail;
            }
        }
        hl->ntokens = i + 1;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (tls) {
        flags |= MHD_USE_TLS;
        if (!(hl->tls_cert = util_read_file(s->tls_cert_file, TLS_FILE_MAX, NULL, err, errlen)))
            goto fail;
        if (!(hl->tls_key =
                  read_private(s->tls_key_file, TLS_FILE_MAX, &hl->tls_key_len, err, errlen)))
            goto fail;
    }
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_CONNECTION_LIMIT, s->max_connections ? s->max_connections : 32, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s ? s->timeout_s : 30, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, hl->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, hl->tls_key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1"},
        {MHD_OPTION_END, 0, NULL},
    };
    hl->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, hl, MHD_OPTION_ARRAY, opts,
                                  MHD_OPTION_END);
    if (!hl->daemon) {
        fail_msg(err, errlen, "cannot listen on %s:%u (in use, or TLS files not usable)",
                 s->address, s->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(hl->daemon, MHD_DAEMON_INFO_BIND_PORT);
    hl->port = info ? info->port : s->port;
    info = MHD_get_daemon_info(hl->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        fail_msg(err, errlen, "libmicrohttpd without epoll support");
        goto fail;
    }
    hl->epoll_fd = info->epoll_fd;
    return hl;
fail:
    http_listen_close(&hl);
    return NULL;
}

void http_listen_close(struct http_listen **self_p)
{
    struct http_listen *hl = *self_p;
    if (!hl)
        return;
    if (hl->daemon)
        MHD_stop_daemon(hl->daemon);
    if (hl->tls_key) {
        sodium_memzero(hl->tls_key, hl->tls_key_len);
        free(hl->tls_key);
    }
    free(hl->tls_cert);
    sodium_memzero(hl->tokens, sizeof hl->tokens);
    free(hl);
    *self_p = NULL;
}

int http_listen_route(struct http_listen *hl, const char *method, const char *path, int prefix,
                      http_listen_fn fn, void *arg)
{
    if (hl->nroutes >= ROUTES_MAX || strlen(method) >= sizeof hl->routes[0].method ||
        strlen(path) >= sizeof hl->routes[0].path)
        return -1;
    struct route *r = &hl->routes[hl->nroutes++];
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->prefix = prefix;
    r->fn = fn;
    r->arg = arg;
    return 0;
}

unsigned http_listen_port(const struct http_listen *hl)
{
    return hl->port;
}

int http_listen_fd(const struct http_listen *hl)
{
    return hl->epoll_fd;
}

long http_listen_timeout_ms(const struct http_listen *hl)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    if (MHD_get_timeout(hl->daemon, &t) != MHD_YES)
        return -1;
    return t > 60000 ? 60000 : (long)t;
}

void http_listen_run(struct http_listen *hl)
{
    MHD_run(hl->daemon);
}

/* ---- the adapter transport "http-listen" ------------------------------- */

#define POST_PATHS_MAX 8
#define RESOURCE_KEY_MAX 128

struct listen_tr {
    struct adapter *ad;
    struct http_listen *hl;
    size_t resource_prefix_len;
};

static const struct adapter_cfg_key LISTEN_KEYS[] = {
    {"listen", ADAPTER_CFG_STRING, 1, 0, 0},
    {"tls_cert_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"tls_key_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"tokens", ADAPTER_CFG_ARRAY, 1, 0, 0},
    {"post_paths", ADAPTER_CFG_ARRAY, 1, 0, 0},
    {"resource_path", ADAPTER_CFG_STRING, 0, 0, 0},
    {"max_body", ADAPTER_CFG_INT, 0, 256, BODY_CEILING},
    {"max_connections", ADAPTER_CFG_INT, 0, 1, 1024},
    {"timeout_s", ADAPTER_CFG_INT, 0, 1, 3600},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

static const struct adapter_cfg_key TOKEN_KEYS[] = {
    {"name", ADAPTER_CFG_STRING, 1, 0, 0},
    {"token_file", ADAPTER_CFG_STRING, 1, 0, 0},
    {"methods", ADAPTER_CFG_ARRAY, 0, 0, 0},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

/* "127.0.0.1:8080" -> address and port. */
static int split_listen(const char *s, char *addr, size_t addrlen, unsigned *port)
{
    const char *colon = strrchr(s, ':');
    long v;
    if (!colon || (size_t)(colon - s) >= addrlen || util_parse_long(colon + 1, 0, 65535, &v) != 0)
        return -1;
    memcpy(addr, s, (size_t)(colon - s));
    addr[colon - s] = '\0';
    struct in_addr ia;
    if (inet_pton(AF_INET, addr, &ia) != 1)
        return -1;
    *port = (unsigned)v;
    return 0;
}

/* A URL path: starts with '/', then [A-Za-z0-9._~/-], at most 100. */
static int url_path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 100 || p[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || strchr("._~/-", p[i])))
            return 0;
    return 1;
}

static unsigned methods_of(const json_t *arr, const char *pointer, json_t *errors)
{
    unsigned m = 0;
    size_t i;
    const json_t *v;
    char p[300];
    if (!arr)
        return HTTP_LISTEN_METHOD_GET | HTTP_LISTEN_METHOD_POST;
    json_array_foreach(arr, i, v)
    {
        unsigned bit = json_is_string(v) ? method_bit(json_string_value(v)) : 0;
        snprintf(p, sizeof p, "%s/%zu", pointer, i);
        if (!bit && errors)
            adapter_cfg_error(errors, p, "must be \"GET\" or \"POST\"");
        m |= bit;
    }
    if (!m && errors && json_array_size(arr) == 0)
        adapter_cfg_error(errors, pointer, "must name at least one method");
    return m;
}

static int listen_check(const json_t *sec, const char *pointer, const char *base_dir,
                        json_t *errors)
{
    char p[300], addr[64];
    unsigned port;
    size_t before = json_array_size(errors);
    if (adapter_cfg_check(sec, pointer, LISTEN_KEYS, errors) != 0 && !json_is_object(sec))
        return -1;
    const char *listen = json_string_value(json_object_get(sec, "listen"));
    snprintf(p, sizeof p, "%s/listen", pointer);
    if (listen && split_listen(listen, addr, sizeof addr, &port) != 0)
        adapter_cfg_error(errors, p, "must be IPv4-address:port, e.g. 127.0.0.1:8080");
    int tls_cert = json_object_get(sec, "tls_cert_file") != NULL;
    int tls_key = json_object_get(sec, "tls_key_file") != NULL;
    if (tls_cert != tls_key)
        adapter_cfg_error(errors, pointer, "tls_cert_file and tls_key_file go together");
    if (listen && !tls_cert && split_listen(listen, addr, sizeof addr, &port) == 0 &&
        strncmp(addr, "127.", 4) != 0)
        adapter_cfg_error(
            errors, p, "%s is not loopback: TLS (tls_cert_file, tls_key_file) is required", addr);
    const json_t *tokens = json_object_get(sec, "tokens");
    size_t i;
    const json_t *t;
    if (json_is_array(tokens) &&
        (json_array_size(tokens) == 0 || json_array_size(tokens) > HTTP_LISTEN_MAX_TOKENS)) {
        snprintf(p, sizeof p, "%s/tokens", pointer);
        adapter_cfg_error(errors, p, "must hold 1-%d tokens", HTTP_LISTEN_MAX_TOKENS);
    }
    json_array_foreach(json_is_array(tokens) ? tokens : NULL, i, t)
    {
        snprintf(p, sizeof p, "%s/tokens/%zu", pointer, i);
        if (adapter_cfg_check(t, p, TOKEN_KEYS, errors) != 0)
            continue;
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!name_ok(name)) {
            char q[320];
            snprintf(q, sizeof q, "%s/name", p);
            adapter_cfg_error(errors, q, "must be 1-64 of a-z 0-9 . _ -");
        }
        char q[320];
        snprintf(q, sizeof q, "%s/methods", p);
        methods_of(json_object_get(t, "methods"), q, errors);
    }
    const json_t *paths = json_object_get(sec, "post_paths");
    const json_t *v;
    if (json_is_array(paths) &&
        (json_array_size(paths) == 0 || json_array_size(paths) > POST_PATHS_MAX)) {
        snprintf(p, sizeof p, "%s/post_paths", pointer);
        adapter_cfg_error(errors, p, "must hold 1-%d paths", POST_PATHS_MAX);
    }
    json_array_foreach(json_is_array(paths) ? paths : NULL, i, v)
    {
        snprintf(p, sizeof p, "%s/post_paths/%zu", pointer, i);
        if (!json_is_string(v) || !url_path_ok(json_string_value(v)))
            adapter_cfg_error(errors, p, "must be a path such as \"/reacties\"");
    }
    const char *rp = json_string_value(json_object_get(sec, "resource_path"));
    snprintf(p, sizeof p, "%s/resource_path", pointer);
    if (rp && (!url_path_ok(rp) || rp[strlen(rp) - 1] != '/'))
        adapter_cfg_error(errors, p, "must be a path ending in /, e.g. \"/doorverwijzingen/\"");
    return json_array_size(errors) == before ? 0 : -1;
}

static int problem_is_syntax(const json_t *errors)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "keyword"));
        if (k && strcmp(k, "json") == 0)
            return 1;
    }
    return 0;
}

/* application/json or application/<x>+json, parameters allowed. */
static int json_media_type(const char *ct)
{
    if (!ct)
        return 0;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static void on_post(void *arg, const struct http_request *req, struct http_answer *answer)
{
    struct listen_tr *tr = arg;
    if (!json_media_type(req->content_type)) {
        http_answer_problem(answer, 415, "Content-Type must be application/json", NULL);
        return;
    }
    struct adapter_input in = {req->body, req->body_len, req->content_type, req->path};
    json_t *errors = json_array();
    int n = 0;
    int rc = errors ? adapter_take_input(tr->ad, &in, errors, &n) : -2;
    if (rc == 0) {
        log_msg(LOG_INFO, "event=http_taken client=%s path=%s events=%d", req->client, req->path,
                n);
        answer->status = 202;
        answer->body = json_pack("{s:i, s:i}", "status", 202, "events", n);
        json_decref(errors);
        return;
    }
    if (rc == -1) {
        int syntax = problem_is_syntax(errors);
        log_msg(LOG_INFO, "event=http_refused status=%d client=%s path=%s errors=%zu",
                syntax ? 400 : 422, req->client, req->path, json_array_size(errors));
        http_answer_problem(answer, syntax ? 400 : 422,
                            syntax ? "the body is not valid JSON"
                                   : "the message is not valid; nothing was taken",
                            errors);
        return;
    }
    json_decref(errors);
    log_msg(LOG_ERROR, "event=http_take_failed client=%s path=%s", req->client, req->path);
    http_answer_problem(answer, 503, "could not store the message; send it again later", NULL);
    answer->retry_after_s = 5;
}

static int resource_key_ok(const char *k)
{
    size_t n = strnlen(k, RESOURCE_KEY_MAX + 1);
    if (n == 0 || n > RESOURCE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
              (k[i] >= '0' && k[i] <= '9') || strchr("._:-", k[i])))
            return 0;
    return 1;
}

static void on_get(void *arg, const struct http_request *req, struct http_answer *answer)
{
    struct listen_tr *tr = arg;
    const char *key = req->path + tr->resource_prefix_len;
    json_t *doc = resource_key_ok(key) ? adapter_doc_get(tr->ad, key) : NULL;
    if (!doc) {
        http_answer_problem(answer, 404, "no such resource", NULL);
        return;
    }
    log_msg(LOG_INFO, "event=http_resource_served client=%s key=%s", req->client, key);
    answer->status = 200;
    answer->body = doc;
}

static int listen_start(struct adapter *ad, const json_t *sec, const char *base_dir, void **state,
                        char *err, size_t errlen)
{
    struct http_listen_token toks[HTTP_LISTEN_MAX_TOKENS];
    char *paths[HTTP_LISTEN_MAX_TOKENS] = {0};
    char addr[64];
    const char *s;
    struct http_listen_settings set = {0};
    struct listen_tr *tr = calloc(1, sizeof *tr);
    char *cert = NULL, *key = NULL;
    size_t i, n = 0;
    const json_t *t;
    int rc = -1;
    if (!tr) {
        fail_msg(err, errlen, "out of memory");
        return -1;
    }
    tr->ad = ad;
    if (split_listen(json_string_value(json_object_get(sec, "listen")), addr, sizeof addr,
                     &set.port) != 0) {
        fail_msg(err, errlen, "http-listen: bad listen address");
        goto out;
    }
    set.address = addr;
    if ((s = json_string_value(json_object_get(sec, "tls_cert_file"))))
        set.tls_cert_file = cert = util_path_resolve(base_dir, s);
    if ((s = json_string_value(json_object_get(sec, "tls_key_file"))))
        set.tls_key_file = key = util_path_resolve(base_dir, s);
    set.max_body = (size_t)json_integer_value(json_object_get(sec, "max_body"));
    set.max_connections = (unsigned)json_integer_value(json_object_get(sec, "max_connections"));
    set.timeout_s = (unsigned)json_integer_value(json_object_get(sec, "timeout_s"));
    json_array_foreach(json_object_get(sec, "tokens"), i, t)
    {
        if (n == HTTP_LISTEN_MAX_TOKENS)
            break;
        paths[n] = util_path_resolve(base_dir, json_string_value(json_object_get(t, "token_file")));
        toks[n].name = json_string_value(json_object_get(t, "name"));
        toks[n].token_file = paths[n];
        toks[n].methods = methods_of(json_object_get(t, "methods"), "", NULL);
        n++;
    }
    set.tokens = toks;
    set.ntokens = n;
    char e2[300];
    if (!(tr->hl = http_listen_open(&set, e2, sizeof e2))) {
        fail_msg(err, errlen, "http-listen: %s", e2);
        goto out;
    }
    json_array_foreach(json_object_get(sec, "post_paths"), i, t)
    {
        if (http_listen_route(tr->hl, "POST", json_string_value(t), 0, on_post, tr) != 0) {
            fail_msg(err, errlen, "http-listen: too many routes");
            goto out;
        }
    }
    if ((s = json_string_value(json_object_get(sec, "resource_path")))) {
        tr->resource_prefix_len = strlen(s);
        if (http_listen_route(tr->hl, "GET", s, 1, on_get, tr) != 0) {
            fail_msg(err, errlen, "http-listen: too many routes");
            goto out;
        }
    }
    log_msg(LOG_INFO, "event=http_listening address=%s port=%u tls=%s", addr,
            http_listen_port(tr->hl), cert ? "yes" : "no");
    *state = tr;
    tr = NULL;
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(paths[i]);
    free(cert);
    free(key);
    if (tr) {
        http_listen_close(&tr->hl);
        free(tr);
    }
    return rc;
}

static void listen_stop(void **state)
{
    struct listen_tr *tr = *state;
    if (!tr)
        return;
    http_listen_close(&tr->hl);
    free(tr);
    *state = NULL;
}

static int listen_prepare(void *state, zmq_pollitem_t *items, int max, long *timeout_ms)
{
    struct listen_tr *tr = state;
    if (max < 1)
        return 0;
    items[0].socket = NULL;
    items[0].fd = http_listen_fd(tr->hl);
    items[0].events = ZMQ_POLLIN;
    items[0].revents = 0;
    long t = http_listen_timeout_ms(tr->hl);
    if (t >= 0 && (*timeout_ms < 0 || t < *timeout_ms))
        *timeout_ms = t;
    return 1;
}

static void listen_process(void *state, const zmq_pollitem_t *items, int n)
{
    struct listen_tr *tr = state;
    http_listen_run(tr->hl);
}

const struct adapter_transport_ops http_listen_ops = {
    .name = "http-listen",
    .check_config = listen_check,
    .start = listen_start,
    .stop = listen_stop,
    .prepare = listen_prepare,
    .process = listen_process,
    .deliver = NULL,
};
