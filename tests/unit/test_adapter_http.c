/*
 * test_adapter_http - http_listen and http_push against each other on
 * 127.0.0.1, in one thread: the pusher is the listener's client and the
 * listener is the pusher's partner endpoint, both driven by one zmq_poll
 * loop as the adapter drives them. Each test waits at most a few seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "http_listen.h"
#include "http_push.h"
#include "util.h"

#define TOKEN_A "token-for-the-partner-system-aaaaaaaaaaaaaaaa"
#define TOKEN_B "token-for-a-read-only-client-bbbbbbbbbbbbbbbb"

static char dir[64];
static char tok_a[128], tok_b[128], tok_open[128], status_path[128];

/* What the listener's test handler answers, and what it saw. */
static int answer_status = 200;
static int answer_retry_after;
static int handled;
static char seen_body[256], seen_client[80], seen_ctype[80];

/* The pusher's last result. */
static int results;
static struct {
    enum adapter_result result;
    long status, wait;
} last;

static void write_file(const char *name, const char *text, mode_t mode, char *path)
{
    snprintf(path, 128, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void handler(void *arg, const struct http_request *req, struct http_answer *a)
{
    handled++;
    snprintf(seen_body, sizeof seen_body, "%s", req->body);
    snprintf(seen_client, sizeof seen_client, "%s", req->client);
    snprintf(seen_ctype, sizeof seen_ctype, "%s", req->content_type ? req->content_type : "");
    a->status = answer_status;
    a->retry_after_s = answer_retry_after;
    a->body = json_pack("{s:s}", "ok", "yes");
}

static void on_result(void *arg, const struct http_push_result *r)
{
    results++;
    last.result = r->result;
    last.status = r->status;
    last.wait = r->retry_after_ms;
}

static struct http_listen *listener(unsigned methods_b, size_t max_body)
{
    struct http_listen_token toks[2] = {{"zaaksysteem", tok_a, 0},
                                        {"alleen-lezen", tok_b, methods_b}};
    struct http_listen_settings s = {"127.0.0.1", 0, NULL, NULL, max_body, 0, 5, toks, 2};
    char err[300];
    struct http_listen *hl = http_listen_open(&s, err, sizeof err);
    if (!hl) {
        fprintf(stderr, "http_listen_open: %s\n", err);
        exit(2);
    }
    CHECK_INT(http_listen_route(hl, "POST", "/reacties", 0, handler, NULL), 0);
    CHECK_INT(http_listen_route(hl, "GET", "/doorverwijzingen/", 1, handler, NULL), 0);
    return hl;
}

static struct http_push *pusher(unsigned port, const char *path, const char *token_file,
                                const char *status_file)
{
    char url[128], err[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    struct http_push_settings s = {url,         token_file, NULL, NULL, NULL,
                                   status_file, 3000,       100,  400,  0};
    struct http_push *p = http_push_new(&s, on_result, NULL, err, sizeof err);
    if (!p) {
        fprintf(stderr, "http_push_new: %s\n", err);
        exit(2);
    }
    return p;
}

/* Runs both until the pusher reported `want` results, at most 5 s. */
static void pump(struct http_listen *hl, struct http_push *p, int want)
{
    int64_t end = util_mono_ms() + 5000;
    while (results < want && util_mono_ms() < end) {
        zmq_pollitem_t items[32];
        long timeout = 100;
        int n = 0;
        items[n].socket = NULL;
        items[n].fd = http_listen_fd(hl);
        items[n].events = ZMQ_POLLIN;
        n++;
        long t = http_listen_timeout_ms(hl);
        if (t >= 0 && t < timeout)
            timeout = t;
        int np = http_push_prepare(p, items + n, 31, &timeout);
        zmq_poll(items, n + np, timeout);
        http_listen_run(hl);
        http_push_process(p, items + n, np);
    }
}

static enum adapter_result post(struct http_listen *hl, struct http_push *p, const char *id,
                                const char *body, long *wait)
{
    char why[200];
    int before = results;
    *wait = -1;
    enum adapter_result r =
        http_push_post(p, id, "application/json", body, strlen(body), wait, why, sizeof why);
    if (r == ADAPTER_PENDING)
        pump(hl, p, before + 1);
    return r;
}

static void test_listen_takes_an_authenticated_post(void)
{
    struct http_listen *hl = listener(HTTP_LISTEN_METHOD_GET, 0);
    struct http_push *p = pusher(http_listen_port(hl), "/reacties", tok_a, NULL);
    long wait;
    handled = 0;
    answer_status = 202;
    CHECK_INT(post(hl, p, "d1", "{\"a\":1}", &wait), ADAPTER_PENDING);
    CHECK_INT(handled, 1);
    CHECK_INT(last.result, ADAPTER_TAKEN);
    CHECK_INT(last.status, 202);
    CHECK_STR(seen_body, "{\"a\":1}");
    CHECK_STR(seen_client, "zaaksysteem");
    CHECK_STR(seen_ctype, "application/json");
    CHECK_INT(http_push_state(p), HTTP_PUSH_ACTIVE);
    http_push_free(&p);
    http_listen_close(&hl);
    CHECK(hl == NULL && p == NULL);
}

static void test_listen_refusals_before_the_handler(void)
{
    struct http_listen *hl = listener(HTTP_LISTEN_METHOD_GET, 512);
    unsigned port = http_listen_port(hl);
    long wait;
    char big[1024];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct {
        const char *path, *token;
        const char *body;
        long want;
    } cases[] = {
        {"/reacties", NULL, "{}", 401},            /* no token */
        {"/reacties", tok_open, "{}", 401},        /* a token the listener does not know */
        {"/onbekend", tok_a, "{}", 404},           /* no such path */
        {"/doorverwijzingen/x", tok_a, "{}", 405}, /* GET-only path */
        {"/reacties", tok_b, "{}", 403},           /* read-only client posts */
        {"/reacties", tok_a, big, 413},            /* over max_body */
    };
    handled = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* tok_open is mode 0644: the pusher refuses it too, so send it via a
         * 0600 copy. */
        char copy[128] = "";
        if (cases[i].token == tok_open) {
            write_file("other.token", "some-other-token-that-nobody-configured-zzzz\n", 0600, copy);
        }
        struct http_push *p = pusher(port, cases[i].path, copy[0] ? copy : cases[i].token, NULL);
        CHECK_INT(post(hl, p, "d", cases[i].body, &wait), ADAPTER_PENDING);
        CHECK_INT(last.status, cases[i].want);
        CHECK_INT(last.result, ADAPTER_RETRY);
        http_push_free(&p);
    }
    CHECK_INT(handled, 0);
    http_listen_close(&hl);
}

static void test_listen_refuses_open_token_file_and_plain_remote(void)
{
    char err[300];
    struct http_listen_token t1 = {"a", tok_open, 0};
    struct http_listen_settings s = {"127.0.0.1", 0, NULL, NULL, 0, 0, 0, &t1, 1};
    CHECK(http_listen_open(&s, err, sizeof err) == NULL);
    CHECK(strstr(err, "chmod 600") != NULL);
    struct http_listen_token t2 = {"a", tok_a, 0};
    struct http_listen_settings s2 = {"0.0.0.0", 0, NULL, NULL, 0, 0, 0, &t2, 1};
    CHECK(http_listen_open(&s2, err, sizeof err) == NULL);
    CHECK(strstr(err, "TLS") != NULL);
    struct http_listen_token two[2] = {{"a", tok_a, 0}, {"b", tok_a, 0}};
    struct http_listen_settings s3 = {"127.0.0.1", 0, NULL, NULL, 0, 0, 0, two, 2};
    CHECK(http_listen_open(&s3, err, sizeof err) == NULL);
    CHECK(strstr(err, "same token") != NULL);
}

static void test_push_backoff_doubles_up_to_the_cap(void)
{
    struct http_listen *hl = listener(0, 0);
    struct http_push *p = pusher(http_listen_port(hl), "/reacties", tok_a, NULL);
    long wait, waits[4] = {0};
    answer_status = 500;
    for (int i = 0; i < 4; i++) {
        /* Wait out the backoff so the next post really goes out. */
        int64_t until = util_mono_ms() + (i ? waits[i - 1] : 0);
        while (util_mono_ms() < until)
            usleep(5000);
        CHECK_INT(post(hl, p, "d-fail", "{}", &wait), ADAPTER_PENDING);
        CHECK_INT(last.result, ADAPTER_RETRY);
        CHECK_INT(last.status, 500);
        waits[i] = last.wait;
    }
    CHECK_INT(waits[0], 100);
    CHECK_INT(waits[1], 200);
    CHECK_INT(waits[2], 400);
    CHECK_INT(waits[3], 400);
    /* While waiting, a post is handed back at once, without a request. */
    handled = 0;
    CHECK_INT(post(hl, p, "d-other", "{}", &wait), ADAPTER_RETRY);
    CHECK(wait > 0 && wait <= 400);
    CHECK_INT(handled, 0);
    CHECK_INT(http_push_state(p), HTTP_PUSH_BACKOFF);
    /* A success resets the count. */
    usleep(450 * 1000);
    answer_status = 204;
    CHECK_INT(post(hl, p, "d-ok", "{}", &wait), ADAPTER_PENDING);
    CHECK_INT(last.result, ADAPTER_TAKEN);
    CHECK_INT(http_push_state(p), HTTP_PUSH_ACTIVE);
    answer_status = 503;
    CHECK_INT(post(hl, p, "d-again", "{}", &wait), ADAPTER_PENDING);
    CHECK_INT(last.wait, 100);
    http_push_free(&p);
    http_listen_close(&hl);
}

static void test_push_retired_on_410_and_stays_retired(void)
{
    struct http_listen *hl = listener(0, 0);
    snprintf(status_path, sizeof status_path, "%s/push.status.json", dir);
    unlink(status_path);
    struct http_push *p = pusher(http_listen_port(hl), "/reacties", tok_a, status_path);
    long wait;
    answer_status = 410;
    CHECK_INT(post(hl, p, "d-gone", "{}", &wait), ADAPTER_PENDING);
    CHECK_INT(last.result, ADAPTER_FAILED);
    CHECK_INT(last.status, 410);
    CHECK_INT(http_push_state(p), HTTP_PUSH_RETIRED);
    handled = 0;
    answer_status = 200;
    CHECK_INT(post(hl, p, "d-next", "{}", &wait), ADAPTER_FAILED);
    CHECK_INT(handled, 0);
    json_t *st = json_load_file(status_path, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(st, "state")), "retired");
    CHECK_INT(json_integer_value(json_object_get(st, "last_status")), 410);
    json_decref(st);
    http_push_free(&p);
    /* A restart keeps it retired until the status file is removed. */
    p = pusher(http_listen_port(hl), "/reacties", tok_a, status_path);
    CHECK_INT(http_push_state(p), HTTP_PUSH_RETIRED);
    http_push_free(&p);
    unlink(status_path);
    p = pusher(http_listen_port(hl), "/reacties", tok_a, status_path);
    CHECK_INT(http_push_state(p), HTTP_PUSH_ACTIVE);
    http_push_free(&p);
    http_listen_close(&hl);
}

static void test_push_honours_retry_after(void)
{
    struct http_listen *hl = listener(0, 0);
    struct http_push *p = pusher(http_listen_port(hl), "/reacties", tok_a, NULL);
    long wait;
    answer_status = 429;
    CHECK_INT(post(hl, p, "d-busy", "{}", &wait), ADAPTER_PENDING);
    CHECK_INT(last.result, ADAPTER_RETRY);
    CHECK_INT(last.status, 429);
    /* No Retry-After: the initial backoff. */
    CHECK_INT(last.wait, 100);
    usleep(150 * 1000);
    answer_retry_after = 2;
    CHECK_INT(post(hl, p, "d-busy", "{}", &wait), ADAPTER_PENDING);
    CHECK_INT(last.status, 429);
    CHECK_INT(last.wait, 2000);
    /* The endpoint waits those 2 s: the next post is handed back at once. */
    handled = 0;
    CHECK_INT(post(hl, p, "d-later", "{}", &wait), ADAPTER_RETRY);
    CHECK(wait > 1500 && wait <= 2000);
    CHECK_INT(handled, 0);
    answer_retry_after = 0;
    http_push_free(&p);
    http_listen_close(&hl);
}

static void test_push_refuses_plain_http_to_another_host(void)
{
    char err[300];
    struct http_push_settings s = {
        "http://partner.example/hook", NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    CHECK(http_push_new(&s, on_result, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "https") != NULL);
    s.url = "https://partner.example/hook";
    s.client_cert_file = "/nonexistent.pem";
    CHECK(http_push_new(&s, on_result, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "both") != NULL);
}

/* A self-signed certificate for 127.0.0.1 made with openssl; 0 when made. */
static int make_cert(char *crt, char *key)
{
    char cmd[700];
    snprintf(crt, 128, "%s/server.crt", dir);
    snprintf(key, 128, "%s/server.key", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1 && "
             "chmod 600 %s",
             key, crt, key);
    return system(cmd);
}

static void test_tls_endpoint_and_verified_push(void)
{
    char crt[128], key[128], err[300], url[128];
    if (make_cert(crt, key) != 0) {
        fprintf(stderr, "SKIP test_tls_endpoint_and_verified_push: openssl failed\n");
        return;
    }
    struct http_listen_token t = {"zaaksysteem", tok_a, 0};
    struct http_listen_settings s = {"127.0.0.1", 0, crt, key, 0, 0, 5, &t, 1};
    struct http_listen *hl = http_listen_open(&s, err, sizeof err);
    CHECK(hl != NULL);
    if (!hl) {
        fprintf(stderr, "http_listen_open: %s\n", err);
        return;
    }
    CHECK_INT(http_listen_route(hl, "POST", "/reacties", 0, handler, NULL), 0);
    snprintf(url, sizeof url, "https://127.0.0.1:%u/reacties", http_listen_port(hl));
    long wait;
    /* Trusting the certificate: delivered over TLS. */
    struct http_push_settings ps = {url, tok_a, NULL, NULL, crt, NULL, 3000, 100, 400, 0};
    struct http_push *p = http_push_new(&ps, on_result, NULL, err, sizeof err);
    CHECK(p != NULL);
    answer_status = 200;
    handled = 0;
    if (p) {
        CHECK_INT(post(hl, p, "d-tls", "{\"tls\":true}", &wait), ADAPTER_PENDING);
        CHECK_INT(last.result, ADAPTER_TAKEN);
        CHECK_INT(handled, 1);
        CHECK_STR(seen_body, "{\"tls\":true}");
        http_push_free(&p);
    }
    /* Not trusting it (system CAs): no answer, retried, the handler never ran. */
    ps.ca_file = NULL;
    p = http_push_new(&ps, on_result, NULL, err, sizeof err);
    CHECK(p != NULL);
    if (p) {
        CHECK_INT(post(hl, p, "d-untrusted", "{}", &wait), ADAPTER_PENDING);
        CHECK_INT(last.result, ADAPTER_RETRY);
        CHECK_INT(last.status, 0);
        CHECK_INT(handled, 1);
        http_push_free(&p);
    }
    http_listen_close(&hl);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The error paths a transport's config check gives for `text`, sorted and
 * joined by spaces, equal `want` (also sorted by the caller's writing). */
static int cfg_errors(const struct adapter_transport_ops *ops, const char *text, const char *want)
{
    json_t *sec = json_loads(text, 0, NULL);
    json_t *errors = json_array();
    int rc = ops->check_config(sec, "/t", "/base", errors);
    const char *paths[32];
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (n < 32)
            paths[n++] = json_string_value(json_object_get(e, "path"));
    }
    qsort(paths, n, sizeof *paths, by_str);
    char got[1024] = "";
    size_t used = 0;
    for (i = 0; i < n; i++) {
        int w = snprintf(got + used, sizeof got - used, "%s%s", used ? " " : "", paths[i]);
        if (w > 0 && (size_t)w < sizeof got - used)
            used += (size_t)w;
    }
    int ok = strcmp(got, want) == 0 && rc == (json_array_size(errors) ? -1 : 0);
    if (!ok)
        fprintf(stderr, "  config %s\n  errors \"%s\", expected \"%s\"\n", text, got, want);
    json_decref(sec);
    json_decref(errors);
    return ok;
}

static void test_listen_config_check(void)
{
    const char *good = "{\"listen\": \"127.0.0.1:8081\", \"tokens\": [{\"name\": \"z\", "
                       "\"token_file\": \"z.token\"}], \"post_paths\": [\"/reacties\"]}";
    CHECK(cfg_errors(&http_listen_ops, good, ""));
    CHECK(cfg_errors(&http_listen_ops,
                     "{\"listen\": \"0.0.0.0:443\", \"tokens\": [{\"name\": \"z\", "
                     "\"token_file\": \"z\"}], \"post_paths\": [\"/r\"]}",
                     "/t/listen"));
    CHECK(cfg_errors(&http_listen_ops,
                     "{\"listen\": \"0.0.0.0:443\", \"tls_cert_file\": \"c\", "
                     "\"tls_key_file\": \"k\", \"tokens\": [{\"name\": \"z\", "
                     "\"token_file\": \"z\"}], \"post_paths\": [\"/r\"]}",
                     ""));
    CHECK(cfg_errors(&http_listen_ops,
                     "{\"listen\": \"localhost\", \"tokens\": [{\"name\": \"Z Z\", "
                     "\"token_file\": \"z\", \"methods\": [\"PUT\"]}], \"post_paths\": "
                     "[\"reacties\"], \"resource_path\": \"/d\", \"max_body\": 10, "
                     "\"colour\": 1}",
                     "/t/colour /t/listen /t/max_body /t/post_paths/0 /t/resource_path "
                     "/t/tokens/0/methods/0 /t/tokens/0/name"));
    CHECK(cfg_errors(&http_listen_ops,
                     "{\"listen\": \"127.0.0.1:1\", \"tls_key_file\": "
                     "\"k\", \"tokens\": [], \"post_paths\": []}",
                     "/t /t/post_paths /t/tokens"));
}

static void test_push_config_check(void)
{
    CHECK(cfg_errors(&http_push_ops, "{\"url\": \"https://partner.example/hook\"}", ""));
    CHECK(cfg_errors(&http_push_ops, "{\"url\": \"http://partner.example/hook\"}", "/t/url"));
    CHECK(cfg_errors(&http_push_ops, "{\"url\": \"ftp://127.0.0.1/x\"}", "/t/url"));
    CHECK(cfg_errors(&http_push_ops,
                     "{\"url\": \"https://p.example/\", \"client_cert_file\": \"c\", "
                     "\"backoff_initial_ms\": 5000, \"backoff_max_ms\": 1000, "
                     "\"receipt_event\": \"yes\"}",
                     "/t /t/backoff_max_ms /t/receipt_event"));
    CHECK(cfg_errors(&http_push_ops, "{}", "/t/url"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ketenhub-unit-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    write_file("a.token", TOKEN_A "\n", 0600, tok_a);
    write_file("b.token", TOKEN_B "\n", 0600, tok_b);
    write_file("open.token", "some-other-token-that-nobody-configured-zzzz\n", 0644, tok_open);
    RUN(test_listen_takes_an_authenticated_post);
    RUN(test_listen_refusals_before_the_handler);
    RUN(test_listen_refuses_open_token_file_and_plain_remote);
    RUN(test_push_backoff_doubles_up_to_the_cap);
    RUN(test_push_retired_on_410_and_stays_retired);
    RUN(test_push_honours_retry_after);
    RUN(test_push_refuses_plain_http_to_another_host);
    RUN(test_tls_endpoint_and_verified_push);
    RUN(test_listen_config_check);
    RUN(test_push_config_check);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
