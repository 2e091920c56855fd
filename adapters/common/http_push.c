/*
 * http_push - POSTing deliveries to the partner's endpoint; see http_push.h.
 *
 * Queued posts wait in a FIFO; at most max_parallel are in curl's multi
 * handle at once. The endpoint has one state for all of them: after a
 * failure it waits (backoff or Retry-After) and every queued post is handed
 * back as RETRY with that wait, so the core holds them (unconfirmed) and
 * offers them again later; after a 410 it is retired. curl tells through
 * its socket callback which sockets to watch and through its timer callback
 * when it wants a call regardless; the adapter loop polls those.
 */
#include "http_push.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_listen.h"
#include "log.h"
#include "util.h"

#define URL_MAX 2048
#define SOCKS_MAX 64
#define RETRY_AFTER_CEILING_MS (24L * 3600 * 1000) /* a longer Retry-After is capped */
#define BODY_MAX (1024 * 1024)

struct item {
    struct item *next;
    char id[HTTP_PUSH_ID_MAX + 1];
    char ctype[96];
    char *body;
    size_t len;
    CURL *easy;
    struct curl_slist *headers;
    char retry_after[64];
    char errbuf[CURL_ERROR_SIZE];
};

struct sock {
    curl_socket_t fd;
    int what;
};

struct http_push {
    char url[URL_MAX + 1];
    char host[256];
    char *bearer; /* "Authorization: Bearer ..." header line, wiped on free */
    char *cert, *key, *ca, *status_file;
    long timeout_ms, backoff_initial_ms, backoff_max_ms;
    unsigned max_parallel;
    http_push_done_fn done;
    void *arg;
    CURLM *multi;
    struct item *head, *tail; /* waiting */
    struct item *flying;      /* in the multi handle */
    size_t nwaiting, nflying;
    struct sock socks[SOCKS_MAX];
    size_t nsocks;
    int64_t timer_ms; /* monotonic; -1 none */
    enum http_push_state state;
    int failures;      /* in a row */
    int64_t resume_ms; /* monotonic: end of the current wait */
    long last_status;
    char last_error[200];
    char since[UTIL_TIME_LEN];
};

static const char *state_name(enum http_push_state s)
{
    return s == HTTP_PUSH_ACTIVE ? "active" : s == HTTP_PUSH_BACKOFF ? "backoff" : "retired";
}

/* The status file: what an operator (or a status command) reads. Written
 * whole to a temporary file and renamed, so a reader never sees half. */
static void write_status(struct http_push *p)
{
    if (!p->status_file)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", p->status_file);
    char next[UTIL_TIME_LEN] = "";
    if (p->state == HTTP_PUSH_BACKOFF)
        util_time_format(util_wall_ms() + (p->resume_ms - util_mono_ms()), next);
    json_t *st =
        json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I}", "transport", "http-push",
                  "endpoint_host", p->host, "state", state_name(p->state), "since", p->since,
                  "failures_in_a_row", p->failures, "last_status", (int)p->last_status, "queued",
                  (json_int_t)p->nwaiting, "in_flight", (json_int_t)p->nflying);
    if (!st)
        return;
    if (next[0])
        json_object_set_new(st, "next_attempt", json_string(next));
    if (p->last_error[0])
        json_object_set_new(st, "last_error", json_string(p->last_error));
    if (p->state == HTTP_PUSH_RETIRED)
        json_object_set_new(st, "action",
                            json_string("the partner answered 410 Gone: fix the endpoint url in "
                                        "the config, then delete this file and restart"));
    if (json_dump_file(st, tmp, JSON_INDENT(2)) != 0 || rename(tmp, p->status_file) != 0)
        log_msg(LOG_WARN, "event=push_status_unwritable errno=%d", errno);
    json_decref(st);
}

static void set_state(struct http_push *p, enum http_push_state s)
{
    if (p->state != s)
        util_time_now(p->since);
    p->state = s;
    write_status(p);
}

/* ---- curl callbacks ---------------------------------------------------- */

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http_push *p = userp;
    size_t i = 0;
    while (i < p->nsocks && p->socks[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < p->nsocks)
            p->socks[i] = p->socks[--p->nsocks];
        return 0;
    }
    if (i == p->nsocks) {
        if (p->nsocks == SOCKS_MAX)
            return -1; /* curl fails that transfer; it is retried */
        p->nsocks++;
    }
    p->socks[i].fd = fd;
    p->socks[i].what = what;
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_push *p = userp;
    p->timer_ms = timeout_ms < 0 ? -1 : util_mono_ms() + timeout_ms;
    return 0;
}

static size_t discard_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    return size * nmemb;
}

/* Keeps the Retry-After value of the last response. */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct item *it = arg;
    size_t len = size * nmemb;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        size_t a = sizeof name - 1, b = len;
        while (a < b && (data[a] == ' ' || data[a] == '\t'))
            a++;
        while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n' || data[b - 1] == ' '))
            b--;
        if (b - a < sizeof it->retry_after) {
            memcpy(it->retry_after, data + a, b - a);
            it->retry_after[b - a] = '\0';
        }
    }
    return len;
}

/* Retry-After: delta-seconds or an HTTP-date; -1 when absent or unreadable. */
static long retry_after_ms(const char *v)
{
    long secs;
    if (!v[0])
        return -1;
    if (util_parse_long(v, 0, RETRY_AFTER_CEILING_MS / 1000, &secs) == 0)
        return secs * 1000;
    if (v[0] >= '0' && v[0] <= '9')
        return RETRY_AFTER_CEILING_MS; /* a larger number of seconds */
    time_t when = curl_getdate(v, NULL);
    if (when < 0)
        return -1;
    int64_t ms = (int64_t)when * 1000 - util_wall_ms();
    return ms < 0 ? 0 : ms > RETRY_AFTER_CEILING_MS ? RETRY_AFTER_CEILING_MS : (long)ms;
}

/* ---- items --------------------------------------------------------------- */

static void item_free(struct http_push *p, struct item *it)
{
    if (it->easy) {
        curl_multi_remove_handle(p->multi, it->easy);
        curl_easy_cleanup(it->easy);
    }
    for (struct curl_slist *l = it->headers; l; l = l->next)
        sodium_memzero(l->data, strlen(l->data));
    curl_slist_free_all(it->headers);
    free(it->body);
    free(it);
}

static void finish(struct http_push *p, struct item *it, enum adapter_result r, long status,
                   long wait_ms, const char *why)
{
    struct http_push_result res = {it->id, r, status, wait_ms, why};
    p->done(p->arg, &res);
}

/* Hands every waiting item back: RETRY with the endpoint's wait, or FAILED
 * when it is retired. The core holds them unconfirmed and offers them again. */
static void flush_waiting(struct http_push *p, const char *why)
{
    long wait = p->resume_ms - util_mono_ms();
    while (p->head) {
        struct item *it = p->head;
        p->head = it->next;
        p->nwaiting--;
        if (p->state == HTTP_PUSH_RETIRED)
            finish(p, it, ADAPTER_FAILED, 0, 0, why);
        else
            finish(p, it, ADAPTER_RETRY, 0, wait < 0 ? 0 : wait, why);
        item_free(p, it);
    }
    p->tail = NULL;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                             \
            goto fail;                                                                             \
    } while (0)

static int start_item(struct http_push *p, struct item *it)
{
    CURL *e = curl_easy_init();
    char line[160];
    if (!e)
        return -1;
    snprintf(line, sizeof line, "Content-Type: %s", it->ctype);
    struct curl_slist *h = curl_slist_append(NULL, line);
    snprintf(line, sizeof line, "webhook-id: %s", it->id);
    h = h ? curl_slist_append(h, line) : NULL;
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (h && p->bearer)
        h = curl_slist_append(h, p->bearer);
    if (!h)
        goto fail;
    it->headers = h;
    SETOPT(CURLOPT_PRIVATE, (void *)it);
    SETOPT(CURLOPT_URL, p->url);
    SETOPT(CURLOPT_ERRORBUFFER, it->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, p->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    SETOPT(CURLOPT_PROXY, "");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SETOPT(CURLOPT_USERAGENT, "ketenhub-adapter/1");
    if (p->ca) {
        SETOPT(CURLOPT_CAINFO, p->ca);
        SETOPT(CURLOPT_CAPATH, (char *)NULL);
    }
    if (p->cert) {
        SETOPT(CURLOPT_SSLCERT, p->cert);
        SETOPT(CURLOPT_SSLKEY, p->key);
    }
    SETOPT(CURLOPT_HTTPHEADER, it->headers);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_POSTFIELDS, it->body);
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    SETOPT(CURLOPT_WRITEFUNCTION, discard_cb);
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, (void *)it);
    it->retry_after[0] = '\0';
    it->errbuf[0] = '\0';
    if (curl_multi_add_handle(p->multi, e) != CURLM_OK)
        goto fail;
    it->easy = e;
    return 0;
fail:
    curl_easy_cleanup(e);
    return -1;
}

/* Starts waiting items while there is room and the endpoint is not waiting. */
static void start_waiting(struct http_push *p)
{
    if (p->state == HTTP_PUSH_BACKOFF && util_mono_ms() >= p->resume_ms)
        set_state(p, HTTP_PUSH_ACTIVE);
    if (p->state != HTTP_PUSH_ACTIVE) {
        flush_waiting(p, p->state == HTTP_PUSH_RETIRED ? "endpoint retired (410 Gone)"
                                                       : "endpoint waiting (backoff)");
        return;
    }
    while (p->head && p->nflying < p->max_parallel) {
        struct item *it = p->head;
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        p->nwaiting--;
        if (start_item(p, it) != 0) {
            finish(p, it, ADAPTER_RETRY, 0, p->backoff_initial_ms, "could not start a transfer");
            item_free(p, it);
            continue;
        }
        it->next = p->flying;
        p->flying = it;
        p->nflying++;
    }
}

/* One finished transfer: the endpoint's state, then the owner's callback. */
static void on_done(struct http_push *p, struct item *it, CURLcode cc)
{
    long status = 0;
    char why[200];
    if (cc == CURLE_OK)
        curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &status);
    p->last_status = status;
    if (cc == CURLE_OK && status >= 200 && status < 300) {
        p->failures = 0;
        p->last_error[0] = '\0';
        if (p->state != HTTP_PUSH_ACTIVE)
            set_state(p, HTTP_PUSH_ACTIVE);
        log_msg(LOG_INFO, "event=push_delivered delivery=%s status=%ld", it->id, status);
        finish(p, it, ADAPTER_TAKEN, status, 0, "delivered");
        return;
    }
    if (cc == CURLE_OK && status == 410) {
        snprintf(p->last_error, sizeof p->last_error, "HTTP 410 Gone");
        log_msg(LOG_ERROR,
                "event=push_endpoint_retired host=%s delivery=%s status=410 "
                "action=\"fix the url, delete the status file, restart\"",
                p->host, it->id);
        set_state(p, HTTP_PUSH_RETIRED);
        finish(p, it, ADAPTER_FAILED, status, 0, "endpoint retired (410 Gone)");
        return;
    }
    long wait;
    if (cc == CURLE_OK && status == 429) {
        wait = retry_after_ms(it->retry_after);
        if (wait < 0)
            wait = p->backoff_initial_ms;
        snprintf(why, sizeof why, "HTTP 429, Retry-After %s",
                 it->retry_after[0] ? it->retry_after : "absent");
    } else {
        p->failures++;
        wait = p->backoff_initial_ms;
        for (int i = 1; i < p->failures && wait < p->backoff_max_ms; i++)
            wait *= 2;
        if (wait > p->backoff_max_ms)
            wait = p->backoff_max_ms;
        if (cc != CURLE_OK)
            snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
        else
            snprintf(why, sizeof why, "HTTP %ld", status);
    }
    snprintf(p->last_error, sizeof p->last_error, "%s", why);
    p->resume_ms = util_mono_ms() + wait;
    log_msg(LOG_WARN, "event=push_retry host=%s delivery=%s status=%ld wait_ms=%ld why=\"%s\"",
            p->host, it->id, status, wait, why);
    set_state(p, HTTP_PUSH_BACKOFF);
    finish(p, it, ADAPTER_RETRY, status, wait, why);
}

static void collect(struct http_push *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct item *it = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&it);
        CURLcode cc = m->data.result;
        struct item **pp = &p->flying;
        while (*pp && *pp != it)
            pp = &(*pp)->next;
        if (!*pp)
            continue;
        *pp = it->next;
        p->nflying--;
        on_done(p, it, cc); /* m is invalid after the handle goes */
        item_free(p, it);
    }
}

/* ---- API ----------------------------------------------------------------- */

static int url_ok(const char *url, char *host, size_t hostlen, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL;
    int ok = 0;
    if (!u || strlen(url) > URL_MAX || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
        snprintf(err, errlen, "url: not a valid URL");
        goto out;
    }
    snprintf(host, hostlen, "%s", h);
    if (strcmp(scheme, "https") == 0) {
        ok = 1;
    } else if (strcmp(scheme, "http") == 0) {
        ok = strncmp(h, "127.", 4) == 0 || strcmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0;
        if (!ok)
            snprintf(err, errlen, "url: http:// only to this machine; use https://");
    } else {
        snprintf(err, errlen, "url: must be https:// (or http:// to this machine)");
    }
out:
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

struct http_push *http_push_new(const struct http_push_settings *s, http_push_done_fn done,
                                void *arg, char *err, size_t errlen)
{
    struct http_push *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->done = done;
    p->arg = arg;
    p->timer_ms = -1;
    p->timeout_ms = s->timeout_ms ? s->timeout_ms : 10000;
    p->backoff_initial_ms = s->backoff_initial_ms ? s->backoff_initial_ms : 1000;
    p->backoff_max_ms = s->backoff_max_ms ? s->backoff_max_ms : 300000;
    p->max_parallel = s->max_parallel ? s->max_parallel : 4;
    if (p->backoff_max_ms < p->backoff_initial_ms)
        p->backoff_max_ms = p->backoff_initial_ms;
    util_time_now(p->since);
    if (!s->url || url_ok(s->url, p->host, sizeof p->host, err, errlen) != 0)
        goto fail;
    snprintf(p->url, sizeof p->url, "%s", s->url);
    if (s->token_file) {
        char *t = http_read_token_file(s->token_file, err, errlen);
        if (!t)
            goto fail;
        size_t n = strlen(t) + sizeof "Authorization: Bearer ";
        p->bearer = malloc(n);
        if (p->bearer)
            snprintf(p->bearer, n, "Authorization: Bearer %s", t);
        sodium_memzero(t, strlen(t));
        free(t);
        if (!p->bearer)
            goto oom;
    }
    if ((s->client_cert_file != NULL) != (s->client_key_file != NULL)) {
        snprintf(err, errlen, "mutual TLS needs both client_cert_file and client_key_file");
        goto fail;
    }
    if ((s->client_cert_file &&
         (!(p->cert = strdup(s->client_cert_file)) || !(p->key = strdup(s->client_key_file)))) ||
        (s->ca_file && !(p->ca = strdup(s->ca_file))) ||
        (s->status_file && !(p->status_file = strdup(s->status_file))))
        goto oom;
    if (p->key && access(p->key, R_OK) != 0) {
        snprintf(err, errlen, "client_key_file %s: %s", p->key, strerror(errno));
        goto fail;
    }
    if (!(p->multi = curl_multi_init()) ||
        curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, (void *)p) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, (void *)p) != CURLM_OK)
        goto oom;
    if (p->status_file) {
        json_t *old = json_load_file(p->status_file, 0, NULL);
        const char *st = json_string_value(json_object_get(old, "state"));
        if (st && strcmp(st, "retired") == 0) {
            const char *since = json_string_value(json_object_get(old, "since"));
            snprintf(p->since, sizeof p->since, "%s", since ? since : "");
            p->state = HTTP_PUSH_RETIRED;
            p->last_status = 410;
            snprintf(p->last_error, sizeof p->last_error, "HTTP 410 Gone");
            log_msg(LOG_ERROR, "event=push_endpoint_retired host=%s since=%s status_file=%s",
                    p->host, p->since, p->status_file);
        }
        json_decref(old);
        write_status(p);
    }
    return p;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    http_push_free(&p);
    return NULL;
}

void http_push_free(struct http_push **self_p)
{
    struct http_push *p = *self_p;
    if (!p)
        return;
    while (p->flying) {
        struct item *it = p->flying;
        p->flying = it->next;
        item_free(p, it);
    }
    while (p->head) {
        struct item *it = p->head;
        p->head = it->next;
        item_free(p, it);
    }
    if (p->multi)
        curl_multi_cleanup(p->multi);
    if (p->bearer) {
        sodium_memzero(p->bearer, strlen(p->bearer));
        free(p->bearer);
    }
    free(p->cert);
    free(p->key);
    free(p->ca);
    free(p->status_file);
    free(p);
    *self_p = NULL;
}

enum adapter_result http_push_post(struct http_push *p, const char *id, const char *content_type,
                                   const char *body, size_t len, long *retry_after_ms, char *why,
                                   size_t whylen)
{
    if (p->state == HTTP_PUSH_RETIRED) {
        snprintf(why, whylen, "endpoint retired (410 Gone since %s)", p->since);
        return ADAPTER_FAILED;
    }
    int64_t now = util_mono_ms();
    if (p->state == HTTP_PUSH_BACKOFF && now < p->resume_ms) {
        *retry_after_ms = (long)(p->resume_ms - now);
        snprintf(why, whylen, "endpoint waiting: %s", p->last_error);
        return ADAPTER_RETRY;
    }
    if (!id || strlen(id) > HTTP_PUSH_ID_MAX || !content_type ||
        strlen(content_type) >= sizeof((struct item *)0)->ctype || strpbrk(content_type, "\r\n") ||
        strpbrk(id, "\r\n") || len > BODY_MAX) {
        snprintf(why, whylen, "delivery not postable (id, content type or size)");
        return ADAPTER_FAILED;
    }
    for (struct item *it = p->flying; it; it = it->next)
        if (strcmp(it->id, id) == 0)
            return ADAPTER_PENDING; /* a copy of one in flight: its answer counts */
    for (struct item *it = p->head; it; it = it->next)
        if (strcmp(it->id, id) == 0)
            return ADAPTER_PENDING;
    struct item *it = calloc(1, sizeof *it);
    if (!it || !(it->body = malloc(len + 1))) {
        free(it);
        *retry_after_ms = p->backoff_initial_ms;
        snprintf(why, whylen, "out of memory");
        return ADAPTER_RETRY;
    }
    memcpy(it->body, body, len);
    it->body[len] = '\0';
    it->len = len;
    snprintf(it->id, sizeof it->id, "%s", id);
    snprintf(it->ctype, sizeof it->ctype, "%s", content_type);
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->nwaiting++;
    return ADAPTER_PENDING;
}

int http_push_prepare(struct http_push *p, zmq_pollitem_t *items, int max, long *timeout_ms)
{
    int k = 0;
    for (size_t i = 0; i < p->nsocks && k < max; i++, k++) {
        items[k].socket = NULL;
        items[k].fd = p->socks[i].fd;
        items[k].events = (short)(((p->socks[i].what & CURL_POLL_IN) ? ZMQ_POLLIN : 0) |
                                  ((p->socks[i].what & CURL_POLL_OUT) ? ZMQ_POLLOUT : 0));
        items[k].revents = 0;
    }
    int64_t now = util_mono_ms(), due = p->timer_ms;
    if (p->head && p->nflying < p->max_parallel)
        due = now; /* queued work can start at once */
    if (p->state == HTTP_PUSH_BACKOFF && (due < 0 || p->resume_ms < due))
        due = p->resume_ms;
    if ((size_t)k < p->nsocks && (due < 0 || due > now + 10))
        due = now + 10; /* sockets that did not fit: look again soon */
    if (due >= 0) {
        long t = due <= now ? 0 : (long)(due - now);
        if (*timeout_ms < 0 || t < *timeout_ms)
            *timeout_ms = t;
    }
    return k;
}

void http_push_process(struct http_push *p, const zmq_pollitem_t *items, int n)
{
    int running;
    start_waiting(p);
    /* A copy of the ready ones: curl changes its socket set while acting. */
    zmq_pollitem_t ready[SOCKS_MAX];
    int nready = 0;
    for (int i = 0; i < n && nready < SOCKS_MAX; i++)
        if (items[i].revents)
            ready[nready++] = items[i];
    for (int i = 0; i < nready; i++) {
        int mask = ((ready[i].revents & ZMQ_POLLIN) ? CURL_CSELECT_IN : 0) |
                   ((ready[i].revents & ZMQ_POLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((ready[i].revents & ZMQ_POLLERR) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(p->multi, ready[i].fd, mask, &running);
    }
    if (nready == 0 || (p->timer_ms >= 0 && p->timer_ms <= util_mono_ms()))
        curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(p);
    start_waiting(p);
    long t;
    if (curl_multi_timeout(p->multi, &t) == CURLM_OK)
        p->timer_ms = t < 0 ? -1 : util_mono_ms() + t;
}

enum http_push_state http_push_state(const struct http_push *p)
{
    return p->state;
}

size_t http_push_pending(const struct http_push *p)
{
    return p->nwaiting + p->nflying;
}

/* ---- the adapter transport "http-push" --------------------------------- */

/* A delivery in progress: its id and the referral it is about, for the
 * receipt event made after a 2xx. */
struct pending {
    struct pending *next;
    char id[HTTP_PUSH_ID_MAX + 1];
    char subject[HTTP_PUSH_ID_MAX + 1];
};

struct push_tr {
    struct adapter *ad;
    struct http_push *push;
    int receipt_event, store_resource;
    struct pending *pending;
};

static const struct adapter_cfg_key PUSH_KEYS[] = {
    {"url", ADAPTER_CFG_STRING, 1, 0, 0},
    {"token_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"client_cert_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"client_key_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"ca_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"status_file", ADAPTER_CFG_STRING, 0, 0, 0},
    {"timeout_ms", ADAPTER_CFG_INT, 0, 100, 600000},
    {"backoff_initial_ms", ADAPTER_CFG_INT, 0, 10, 3600000},
    {"backoff_max_ms", ADAPTER_CFG_INT, 0, 10, 86400000},
    {"max_parallel", ADAPTER_CFG_INT, 0, 1, 64},
    {"receipt_event", ADAPTER_CFG_BOOL, 0, 0, 0},
    {"store_resource", ADAPTER_CFG_BOOL, 0, 0, 0},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

static int push_check(const json_t *sec, const char *pointer, const char *base_dir, json_t *errors)
{
    char p[300], host[256], e[300];
    size_t before = json_array_size(errors);
    if (adapter_cfg_check(sec, pointer, PUSH_KEYS, errors) != 0 && !json_is_object(sec))
        return -1;
    const char *url = json_string_value(json_object_get(sec, "url"));
    snprintf(p, sizeof p, "%s/url", pointer);
    if (url && url_ok(url, host, sizeof host, e, sizeof e) != 0)
        adapter_cfg_error(errors, p, "%s", e + strlen("url: "));
    if ((json_object_get(sec, "client_cert_file") != NULL) !=
        (json_object_get(sec, "client_key_file") != NULL))
        adapter_cfg_error(errors, pointer, "client_cert_file and client_key_file go together");
    const json_t *lo = json_object_get(sec, "backoff_initial_ms");
    const json_t *hi = json_object_get(sec, "backoff_max_ms");
    if (json_is_integer(lo) && json_is_integer(hi) &&
        json_integer_value(hi) < json_integer_value(lo)) {
        snprintf(p, sizeof p, "%s/backoff_max_ms", pointer);
        adapter_cfg_error(errors, p, "must not be less than backoff_initial_ms");
    }
    return json_array_size(errors) == before ? 0 : -1;
}

static void push_done(void *arg, const struct http_push_result *r)
{
    struct push_tr *tr = arg;
    struct pending **pp = &tr->pending;
    while (*pp && strcmp((*pp)->id, r->id) != 0)
        pp = &(*pp)->next;
    struct pending *pd = *pp;
    if (pd)
        *pp = pd->next;
    enum adapter_result res = r->result;
    long wait = r->retry_after_ms;
    const char *why = r->why;
    if (res == ADAPTER_TAKEN && tr->receipt_event && pd) {
        /* The partner's 2xx is its receipt: the mapping turns this input
         * into the business receipt (doorverwijzing-ontvangen). Same
         * delivery, same bytes, so a repeat gets the same event id. */
        json_t *doc = json_pack("{s:{s:s, s:s, s:i}}", "ontvangstbevestiging", "levering", r->id,
                                "doorverwijzing", pd->subject, "status", (int)r->status);
        char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        struct adapter_input in = {body, body ? strlen(body) : 0, HTTP_PUSH_RECEIPT_TYPE,
                                   "http-push"};
        json_t *errors = json_array();
        int rc = errors && body ? adapter_take_input(tr->ad, &in, errors, NULL) : -2;
        free(body);
        if (rc != 0) {
            log_msg(LOG_ERROR, "event=push_receipt_event_failed delivery=%s rc=%d", r->id, rc);
            if (rc == -2) {
                /* Not confirmed: the partner gets it again (same id) later. */
                res = ADAPTER_RETRY;
                wait = tr->push->backoff_initial_ms;
                why = "delivered, but the receipt event could not be stored";
            }
        }
        json_decref(errors);
    }
    free(pd);
    adapter_delivery_done(tr->ad, r->id, res, wait, why);
}

static int push_start(struct adapter *ad, const json_t *sec, const char *base_dir, void **state,
                      char *err, size_t errlen)
{
    struct http_push_settings s = {0};
    char *paths[5] = {0};
    static const char *const keys[5] = {"token_file", "client_cert_file", "client_key_file",
                                        "ca_file", "status_file"};
    const char **dst[5] = {&s.token_file, &s.client_cert_file, &s.client_key_file, &s.ca_file,
                           &s.status_file};
    struct push_tr *tr = calloc(1, sizeof *tr);
    int rc = -1;
    char e2[300];
    if (!tr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    tr->ad = ad;
    tr->receipt_event = json_is_true(json_object_get(sec, "receipt_event"));
    tr->store_resource = json_is_true(json_object_get(sec, "store_resource"));
    for (int i = 0; i < 5; i++) {
        const char *v = json_string_value(json_object_get(sec, keys[i]));
        if (v)
            *dst[i] = paths[i] = util_path_resolve(base_dir, v);
    }
    s.url = json_string_value(json_object_get(sec, "url"));
    s.timeout_ms = (long)json_integer_value(json_object_get(sec, "timeout_ms"));
    s.backoff_initial_ms = (long)json_integer_value(json_object_get(sec, "backoff_initial_ms"));
    s.backoff_max_ms = (long)json_integer_value(json_object_get(sec, "backoff_max_ms"));
    s.max_parallel = (unsigned)json_integer_value(json_object_get(sec, "max_parallel"));
    if (!(tr->push = http_push_new(&s, push_done, tr, e2, sizeof e2))) {
        snprintf(err, errlen, "http-push: %s", e2);
        free(tr);
        goto out;
    }
    *state = tr;
    rc = 0;
out:
    for (int i = 0; i < 5; i++)
        free(paths[i]);
    return rc;
}

static void push_stop(void **state)
{
    struct push_tr *tr = *state;
    if (!tr)
        return;
    http_push_free(&tr->push);
    while (tr->pending) {
        struct pending *pd = tr->pending;
        tr->pending = pd->next;
        free(pd);
    }
    free(tr);
    *state = NULL;
}

static int push_prepare(void *state, zmq_pollitem_t *items, int max, long *timeout_ms)
{
    struct push_tr *tr = state;
    return http_push_prepare(tr->push, items, max, timeout_ms);
}

static void push_process(void *state, const zmq_pollitem_t *items, int n)
{
    struct push_tr *tr = state;
    http_push_process(tr->push, items, n);
}

static enum adapter_result push_deliver(void *state, const char *delivery_id,
                                        const struct adapter_output *out, long *retry_after_ms,
                                        char *why, size_t whylen)
{
    struct push_tr *tr = state;
    const char *subject = json_string_value(json_object_get(out->event, "subject"));
    if (tr->store_resource) {
        /* The partner fetches the details after the notification: they must
         * be there before it goes out. */
        const json_t *data = json_object_get(out->event, "data");
        if (!subject || !json_is_object(data)) {
            snprintf(why, whylen, "delivery without subject or data: nothing to serve");
            return ADAPTER_FAILED;
        }
        if (adapter_doc_put(tr->ad, subject, data) != 0) {
            snprintf(why, whylen, "could not store the resource for fetching");
            *retry_after_ms = 0;
            return ADAPTER_RETRY;
        }
    }
    int known = 0;
    for (struct pending *pd = tr->pending; pd; pd = pd->next)
        known |= strcmp(pd->id, delivery_id) == 0;
    enum adapter_result r = http_push_post(
        tr->push, delivery_id, out->content_type[0] ? out->content_type : "application/json",
        out->data, out->len, retry_after_ms, why, whylen);
    if (r == ADAPTER_PENDING && !known) {
        struct pending *pd = calloc(1, sizeof *pd);
        if (pd) {
            snprintf(pd->id, sizeof pd->id, "%s", delivery_id);
            snprintf(pd->subject, sizeof pd->subject, "%s", subject ? subject : "");
            pd->next = tr->pending;
            tr->pending = pd;
        }
    }
    return r;
}

const struct adapter_transport_ops http_push_ops = {
    .name = "http-push",
    .check_config = push_check,
    .start = push_start,
    .stop = push_stop,
    .prepare = push_prepare,
    .process = push_process,
    .deliver = push_deliver,
};
