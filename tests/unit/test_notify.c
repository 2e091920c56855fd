/*
 * test_notify - hub/notify against real peers on loopback: the webhook
 * receiver and SMTP relay in tests/peers/, started with fork/exec on
 * ephemeral ports, and a poll loop of the test's own standing in for the
 * hub's. Proves: signed webhooks with the bearer token, every documented
 * header and a signature a receiver can recompute; retries of 500s with
 * doubling backoff, of 429 after Retry-After (capped), of timeouts and of
 * refused connections, with attempt reports in order; no retry of 410, 400,
 * 401 or a redirect; HTTPS and STARTTLS/SMTPS trusting only the given CA;
 * e-mail headers, RFC 2047 subjects and the body as the relay received it;
 * SMTP auth, SMTP down, STARTTLS never downgraded; the queue's count and
 * byte limits; cancellation on free; the pollfds timeout contract; and that
 * notify_perform never takes 50 ms, even with a receiver that never answers.
 *
 * Without /usr/bin/python3 (or aiosmtpd, or openssl for the TLS cases) a
 * case is skipped with the reason; with CI set in the environment a missing
 * Python peer fails instead.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "notify.h"
#include "testutil.h"
#include "util.h"

#define PYTHON "/usr/bin/python3"
#define PEER_SECONDS "60" /* peers exit by themselves after this, whatever happens */
#define SECRET_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PERFORM_MAX_MS 50
#define MAX_REC 16

static char dir[128];
static const char *root = ".";
static uint8_t secret[32];
static int have_webhook_peer, have_smtp_peer, have_tls;
static char cert[256], key[256];
static long max_perform_ms, overall_max_ms;
static unsigned long performs;

/* ---- peers ------------------------------------------------------------- */

struct peer {
    pid_t pid;
    int port;
    char log[256];
};

/* Starts tests/peers/<script> with args (NULL-terminated), --log and
 * --max-seconds added; reads the port from its first line. 0 or -1. */
static int peer_start(struct peer *p, const char *script, const char *const *args)
{
    static int seq;
    char path[512], line[16];
    const char *argv[40];
    int k = 0, fds[2];
    snprintf(path, sizeof path, "%s/tests/peers/%s", root, script);
    snprintf(p->log, sizeof p->log, "%s/peer-%d.jsonl", dir, ++seq);
    argv[k++] = PYTHON;
    argv[k++] = path;
    argv[k++] = "--log";
    argv[k++] = p->log;
    argv[k++] = "--max-seconds";
    argv[k++] = PEER_SECONDS;
    for (; *args && k < 39; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    p->pid = 0;
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(PYTHON, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    int64_t deadline = util_mono_ms() + 10000;
    while (len < sizeof line - 1) {
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        int64_t left = deadline - util_mono_ms();
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0 || read(fds[0], line + len, 1) != 1 ||
            line[len] == '\n')
            break;
        len++;
    }
    line[len] = '\0';
    close(fds[0]);
    long port;
    if (util_parse_long(line, 1, 65535, &port) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    p->pid = pid;
    p->port = (int)port;
    return 0;
}

static void peer_stop(struct peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

/* Starts the webhook receiver with the test's secret and token "tok-123". */
static int webhook_peer(struct peer *p, const char *const *behaviour, int tls)
{
    const char *args[16];
    int k = 0;
    args[k++] = "--secret-hex";
    args[k++] = SECRET_HEX;
    args[k++] = "--token";
    args[k++] = "tok-123";
    if (tls) {
        args[k++] = "--tls-cert";
        args[k++] = cert;
        args[k++] = "--tls-key";
        args[k++] = key;
    }
    for (; *behaviour; behaviour++)
        args[k++] = *behaviour;
    args[k] = NULL;
    return peer_start(p, "webhook_receiver.py", args);
}

/* A loopback port nothing listens on (bound, then closed). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (s >= 0)
        close(s);
    return port;
}

/* Whether a case can run; says why not. Under CI a missing peer fails. */
static int need(int have, const char *what, const char *test)
{
    if (have)
        return 1;
    if (getenv("CI") && strcmp(what, "openssl") != 0) {
        fprintf(stderr, "%s: %s is not available (CI is set: failing)\n", test, what);
        CHECK(have);
        return 0;
    }
    printf("SKIP %s: %s is not available\n", test, what);
    return 0;
}

/* The peer's log, one JSON object per line, as an array. */
static json_t *read_log(const char *path)
{
    json_t *arr = json_array();
    FILE *f = fopen(path, "r");
    static char line[200000];
    while (f && fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (o)
            json_array_append_new(arr, o);
    }
    if (f)
        fclose(f);
    return arr;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *jhdr(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(json_object_get(o, "headers"), name));
}

/* ---- the caller's side ------------------------------------------------- */

struct rec {
    int n;
    struct {
        int no, will_retry;
        long code, retry_in_ms, elapsed_ms;
        int64_t at;
        char error[256];
        char id[NOTIFY_ID_MAX + 1];
    } a[MAX_REC];
    int done, done_attempts, attempt_after_done;
    enum notify_outcome outcome;
    int64_t done_at;
    char done_id[NOTIFY_ID_MAX + 1];
};

static void on_attempt(void *arg, const char *id, const struct notify_attempt *a)
{
    struct rec *r = arg;
    if (getenv("NOTIFY_DEBUG"))
        fprintf(stderr, "attempt %s #%d code=%ld retry=%d in=%ld err=%s\n", id, a->attempt_no,
                a->code, a->will_retry, a->retry_in_ms, a->error);
    if (r->done)
        r->attempt_after_done = 1;
    if (r->n < MAX_REC) {
        r->a[r->n].no = a->attempt_no;
        r->a[r->n].code = a->code;
        r->a[r->n].will_retry = a->will_retry;
        r->a[r->n].retry_in_ms = a->retry_in_ms;
        r->a[r->n].elapsed_ms = a->elapsed_ms;
        r->a[r->n].at = util_mono_ms();
        snprintf(r->a[r->n].error, sizeof r->a[r->n].error, "%s", a->error);
        snprintf(r->a[r->n].id, sizeof r->a[r->n].id, "%s", id);
    }
    r->n++;
}

static void on_done(void *arg, const char *id, enum notify_outcome outcome, int attempts)
{
    struct rec *r = arg;
    r->done++;
    r->outcome = outcome;
    r->done_attempts = attempts;
    r->done_at = util_mono_ms();
    snprintf(r->done_id, sizeof r->done_id, "%s", id);
}

static struct notify_report report(struct rec *r)
{
    return (struct notify_report){.attempt = on_attempt, .done = on_done, .arg = r};
}

struct tally {
    int cancelled, gave_up, other;
};

static void count_done(void *arg, const char *id, enum notify_outcome outcome, int attempts)
{
    struct tally *t = arg;
    if (outcome == NOTIFY_CANCELLED && attempts == 0)
        t->cancelled++;
    else if (outcome == NOTIFY_GAVE_UP && attempts == 1)
        t->gave_up++;
    else
        t->other++;
}

static struct notify *mk(long timeout_ms, int attempts, long b0, long bmax)
{
    char err[256] = "";
    struct notify_settings s = {.timeout_ms = timeout_ms,
                                .max_attempts = attempts,
                                .backoff_initial_ms = b0,
                                .backoff_max_ms = bmax};
    struct notify *n = notify_new(&s, err, sizeof err);
    if (!n) {
        fprintf(stderr, "notify_new: %s\n", err);
        exit(2);
    }
    return n;
}

/* The hub's loop in miniature: poll what notify asks for, then perform,
 * until nothing is pending or `ms` passed. Tracks the longest perform. */
static void drive(struct notify *n, long ms)
{
    int64_t end = util_mono_ms() + ms;
    while (notify_pending(n) > 0) {
        int64_t now = util_mono_ms();
        if (now >= end)
            break;
        struct pollfd fds[NOTIFY_POLLFDS_MAX];
        long t;
        size_t k = notify_pollfds(n, fds, NOTIFY_POLLFDS_MAX, &t);
        if (t < 0 || t > end - now)
            t = (long)(end - now);
        poll(fds, k, (int)t);
        int64_t t0 = util_mono_ms();
        notify_perform(n);
        long d = (long)(util_mono_ms() - t0);
        if (d > max_perform_ms)
            max_perform_ms = d;
        if (d > overall_max_ms)
            overall_max_ms = d;
        performs++;
    }
    if (getenv("NOTIFY_DEBUG"))
        fprintf(stderr, "drive: %lu performs so far, max %ld ms\n", performs, max_perform_ms);
}

static struct notify_webhook hook(char *url, size_t len, const char *scheme, int port)
{
    snprintf(url, len, "%s://127.0.0.1:%d/hook", scheme, port);
    return (struct notify_webhook){
        .url = url, .bearer_token = "tok-123", .secret = secret, .secret_len = sizeof secret};
}

#define BODY "{\"type\":\"nl.ketenhub.alert\",\"data\":{\"text\":\"Crisis referral unanswered\"}}"

/* ---- cases: arguments -------------------------------------------------- */

static void settings_out_of_range_are_refused_with_a_reason(void)
{
    char err[256];
    struct notify_settings ok = {10000, 5, 1000, 60000};
    struct notify_settings bad[] = {
        {50, 5, 1000, 60000},   {10000, 0, 1000, 60000},         {10000, 5, 0, 60000},
        {10000, 5, 2000, 1000}, {10000, 5, 1000, 86400000L * 8}, {10000, 1001, 1000, 60000},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        struct notify *n = notify_new(&bad[i], err, sizeof err);
        CHECK(n == NULL);
        CHECK(strstr(err, "notify") != NULL);
        notify_free(&n);
    }
    struct notify *n = notify_new(&ok, err, sizeof err);
    CHECK(n != NULL);
    long t = 0;
    struct pollfd fds[4];
    if (n) {
        CHECK_INT(notify_pollfds(n, fds, 4, &t), 0);
        CHECK_INT(t, -1); /* idle: the loop may sleep for ever as far as notify cares */
    }
    notify_free(&n);
    CHECK(n == NULL);
    notify_free(&n); /* twice is harmless */
}

static void bad_arguments_are_refused_before_anything_is_queued(void)
{
    struct notify *n = mk(1000, 3, 100, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", 9);
    uint8_t short_secret[23] = {0};
    char big[NOTIFY_BODY_MAX + 16];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    struct {
        const char *id, *body;
    } bad_msgs[] = {
        {"", BODY},          {"a b", BODY},       {".a", BODY},
        {"a..b", BODY},      {"a\r\nX: y", BODY}, {"ok-1", "{"},
        {"ok-1", "\"str\""}, {"ok-1", "{} x"},    {"ok-1", "{\"a\":\"\xff\"}"},
    };
    for (size_t i = 0; i < sizeof bad_msgs / sizeof bad_msgs[0]; i++)
        CHECK_INT(notify_webhook(n, &w, bad_msgs[i].id, bad_msgs[i].body, &rep, err, sizeof err),
                  NOTIFY_EINVAL);
    CHECK_INT(notify_webhook(n, &w, "ok-1", big, &rep, err, sizeof err), NOTIFY_EINVAL);
    CHECK(strstr(err, "longer") != NULL);

    struct notify_webhook v = w;
    v.secret = short_secret;
    v.secret_len = sizeof short_secret;
    CHECK_INT(notify_webhook(n, &v, "ok-1", BODY, &rep, err, sizeof err), NOTIFY_EINVAL);
    CHECK(strstr(err, "secret") != NULL);
    v = w;
    v.bearer_token = "tok\r\nX-Evil: 1";
    CHECK_INT(notify_webhook(n, &v, "ok-1", BODY, &rep, err, sizeof err), NOTIFY_EINVAL);
    v = w;
    const char *far[] = {"http://alerts.example.nl/hook", "http://127.evil.example/hook",
                         "http://10.0.0.1/hook", "http://[::2]/hook"};
    for (size_t i = 0; i < 4; i++) { /* a token in clear over the network */
        v.url = far[i];
        err[0] = '\0';
        CHECK_INT(notify_webhook(n, &v, "ok-1", BODY, &rep, err, sizeof err), NOTIFY_EINVAL);
        CHECK(strstr(err, "plain http") != NULL);
    }
    v.url = "http://localhost:9/hook"; /* loopback: fine */
    CHECK_INT(notify_webhook(n, &v, "ok-5", BODY, &rep, err, sizeof err), 0);
    v.url = "http://127.0.0.2:9/hook";
    CHECK_INT(notify_webhook(n, &v, "ok-6", BODY, &rep, err, sizeof err), 0);
    v.url = "http://alerts.example.nl/hook";
    v.bearer_token = NULL; /* without a token plain http is allowed (signed anyway) */
    CHECK_INT(notify_webhook(n, &v, "ok-1", BODY, &rep, err, sizeof err), 0);
    v = w;
    const char *bad_urls[] = {"ftp://127.0.0.1/x", "file:///etc/passwd", "not a url",
                              "http://user:pw@127.0.0.1/x"};
    for (size_t i = 0; i < 4; i++) {
        v.url = bad_urls[i];
        CHECK_INT(notify_webhook(n, &v, "ok-1", BODY, &rep, err, sizeof err), NOTIFY_EINVAL);
    }

    struct notify_email e = {.smtp_url = "smtp://127.0.0.1:25", .from = "hub@ketenhub.test"};
    const char *bad_to[] = {"",       "no-at",      "a@b@c", "<x@y.z>", "x@y.z\r\nBcc: e@f.g",
                            "x @y.z", "a@b.c,d@e.f"};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++)
        CHECK_INT(notify_email(n, &e, "m-1", bad_to[i], "Subject", "text", &rep, err, sizeof err),
                  NOTIFY_EINVAL);
    const char *bad_subjects[] = {"", "two\r\nBcc: x@y.z", "tab\there", "bad \xc3\x28 utf8",
                                  "overlong \xc0\xaf"};
    for (size_t i = 0; i < sizeof bad_subjects / sizeof bad_subjects[0]; i++)
        CHECK_INT(notify_email(n, &e, "m-1", "x@y.z", bad_subjects[i], "t", &rep, err, sizeof err),
                  NOTIFY_EINVAL);
    char long_line[1100];
    memset(long_line, 'x', 999);
    long_line[999] = '\0';
    CHECK_INT(notify_email(n, &e, "m-1", "x@y.z", "S", long_line, &rep, err, sizeof err),
              NOTIFY_EINVAL);
    CHECK(strstr(err, "998") != NULL);
    long_line[998] = '\0'; /* exactly 998 is allowed */
    CHECK_INT(notify_email(n, &e, "m-2", "x@y.z", "S", long_line, &rep, err, sizeof err), 0);
    CHECK_INT(notify_email(n, &e, "m-1", "x@y.z", "S", "bare\rCR", &rep, err, sizeof err),
              NOTIFY_EINVAL);
    CHECK_INT(notify_email(n, &e, "m-1", "x@y.z", "S", "nul-free \x01", &rep, err, sizeof err),
              NOTIFY_EINVAL);

    struct notify_email ce = e;
    ce.smtp_url = "smtp://mail.example.nl:587"; /* password in clear over the network */
    ce.username = "hub";
    ce.password = "pw";
    CHECK_INT(notify_email(n, &ce, "m-1", "x@y.z", "S", "t", &rep, err, sizeof err), NOTIFY_EINVAL);
    CHECK(strstr(err, "TLS") != NULL);
    ce.starttls_required = 1;
    CHECK_INT(notify_email(n, &ce, "m-3", "x@y.z", "S", "t", &rep, err, sizeof err), 0);
    ce.starttls_required = 0;
    ce.smtp_url = "smtps://mail.example.nl:465";
    CHECK_INT(notify_email(n, &ce, "m-4", "x@y.z", "S", "t", &rep, err, sizeof err), 0);
    ce.smtp_url = "http://127.0.0.1:25";
    CHECK_INT(notify_email(n, &ce, "m-1", "x@y.z", "S", "t", &rep, err, sizeof err), NOTIFY_EINVAL);

    CHECK_INT(notify_pending(n), 6); /* the accepted ones only */
    CHECK_INT(r.n, 0);
    CHECK_INT(r.done, 0);
    notify_free(&n);
    CHECK_INT(r.done, 6); /* cancelled, each reported once */
    CHECK_INT(r.outcome, NOTIFY_CANCELLED);
    CHECK_INT(r.done_attempts, 0);
    CHECK_INT(r.n, 0);
}

/* ---- cases: webhooks --------------------------------------------------- */

static void webhook_arrives_signed_with_bearer_token_and_every_documented_header(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ok", NULL}, 0), 0);
    struct notify *n = mk(5000, 3, 100, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256] = "", url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    max_perform_ms = 0;
    int64_t wall0 = util_wall_ms() / 1000;
    CHECK_INT(notify_webhook(n, &w, "msg_2Yh6.alert-1", BODY, &rep, err, sizeof err), 0);
    CHECK_STR(err, "");
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.done_attempts, 1);
    CHECK_STR(r.done_id, "msg_2Yh6.alert-1");
    CHECK_INT(r.n, 1);
    CHECK_INT(r.a[0].no, 1);
    CHECK_INT(r.a[0].code, 204);
    CHECK_STR(r.a[0].error, "");
    CHECK_INT(r.a[0].will_retry, 0);
    CHECK_INT(r.attempt_after_done, 0);

    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 1);
    json_t *q = json_array_get(log, 0);
    CHECK(json_is_true(json_object_get(q, "verified")));
    CHECK(json_is_true(json_object_get(q, "token_ok")));
    CHECK(json_is_true(json_object_get(q, "signature_ok")));
    CHECK_STR(jstr(q, "method"), "POST");
    CHECK_STR(jstr(q, "path"), "/hook");
    CHECK_STR(jstr(q, "body"), BODY);
    CHECK_STR(jhdr(q, "content-type"), "application/json");
    CHECK_STR(jhdr(q, "authorization"), "Bearer tok-123");
    CHECK_STR(jhdr(q, "webhook-id"), "msg_2Yh6.alert-1");
    CHECK_STR(jhdr(q, "user-agent"), "ketenhub-notify/1");
    CHECK(jhdr(q, "expect") == NULL);
    const char *ts = jhdr(q, "webhook-timestamp");
    long tsv = 0;
    CHECK(ts && util_parse_long(ts, 0, 4000000000L, &tsv) == 0);
    CHECK(tsv >= wall0 - 1 && tsv <= wall0 + 10);

    /* The receiver's recipe from docs/notify.md, done again here in C. */
    char signed_[512], b64[64], want[80];
    snprintf(signed_, sizeof signed_, "%s.%s.%s", "msg_2Yh6.alert-1", ts ? ts : "", BODY);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, secret, sizeof secret);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signed_, strlen(signed_));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "v1,%s", b64);
    CHECK_STR(jhdr(q, "webhook-signature"), want);
    json_decref(log);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
    peer_stop(&p);
}

static void webhook_with_the_wrong_secret_is_refused_by_the_receiver_and_not_retried(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ok", NULL}, 0), 0);
    struct notify *n = mk(5000, 3, 100, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    uint8_t other[32];
    memcpy(other, secret, sizeof other);
    other[31] ^= 1;
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    w.secret = other;
    CHECK_INT(notify_webhook(n, &w, "wrong-secret", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_REJECTED);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.a[0].code, 401);
    CHECK_STR(r.a[0].error, "HTTP 401");
    CHECK_INT(r.a[0].will_retry, 0);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 1);
    CHECK(json_is_false(json_object_get(json_array_get(log, 0), "signature_ok")));
    CHECK(json_is_true(json_object_get(json_array_get(log, 0), "token_ok")));
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void webhook_500s_are_retried_with_doubling_backoff_then_delivered(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"fail", "2", NULL}, 0), 0);
    struct notify *n = mk(5000, 5, 200, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    max_perform_ms = 0;
    CHECK_INT(notify_webhook(n, &w, "retry-500", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.done_attempts, 3);
    CHECK_INT(r.n, 3);
    for (int i = 0; i < 3 && i < r.n; i++) {
        CHECK_INT(r.a[i].no, i + 1);
        CHECK_STR(r.a[i].id, "retry-500");
    }
    CHECK_INT(r.a[0].code, 500);
    CHECK_STR(r.a[0].error, "HTTP 500");
    CHECK_INT(r.a[0].will_retry, 1);
    CHECK_INT(r.a[0].retry_in_ms, 200);
    CHECK_INT(r.a[1].code, 500);
    CHECK_INT(r.a[1].will_retry, 1);
    CHECK_INT(r.a[1].retry_in_ms, 400);
    CHECK_INT(r.a[2].code, 204);
    CHECK_INT(r.a[2].will_retry, 0);
    CHECK(r.a[1].at - r.a[0].at >= 200);
    CHECK(r.a[2].at - r.a[1].at >= 400);
    CHECK_INT(r.attempt_after_done, 0);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 3);
    for (size_t i = 0; i < json_array_size(log); i++) {
        json_t *q = json_array_get(log, i);
        CHECK(json_is_true(json_object_get(q, "verified"))); /* re-signed every attempt */
        CHECK_STR(jhdr(q, "webhook-id"), "retry-500");       /* one id for all attempts */
    }
    json_decref(log);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
    peer_stop(&p);
}

static void webhook_429_waits_retry_after_seconds_not_the_backoff(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ratelimit", "1", "1", NULL}, 0), 0);
    struct notify *n = mk(5000, 3, 50, 5000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    CHECK_INT(notify_webhook(n, &w, "rate-1", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.a[0].code, 429);
    CHECK_INT(r.a[0].will_retry, 1);
    CHECK_INT(r.a[0].retry_in_ms, 1000);
    CHECK_STR(r.a[0].error, "HTTP 429 (Retry-After: 1)");
    CHECK_INT(r.a[1].code, 204);
    CHECK(r.a[1].at - r.a[0].at >= 1000);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 2);
    if (json_array_size(log) == 2) {
        double t0 = json_real_value(json_object_get(json_array_get(log, 0), "t"));
        double t1 = json_real_value(json_object_get(json_array_get(log, 1), "t"));
        CHECK(t1 - t0 >= 1.0); /* as the receiver saw it */
    }
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void retry_after_as_an_http_date_is_honoured_and_garbage_means_backoff(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    char date[64];
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm); /* C locale */
    const char *values[] = {date, "soon"};
    for (int i = 0; i < 2; i++) {
        struct peer p = {0};
        CHECK_INT(webhook_peer(&p, (const char *[]){"ratelimit", "1", values[i], NULL}, 0), 0);
        struct notify *n = mk(5000, 3, 50, 5000);
        struct rec r = {0};
        struct notify_report rep = report(&r);
        char err[256], url[128];
        struct notify_webhook w = hook(url, sizeof url, "http", p.port);
        CHECK_INT(notify_webhook(n, &w, "rate-date", BODY, &rep, err, sizeof err), 0);
        drive(n, 10000);
        CHECK_INT(r.outcome, NOTIFY_DELIVERED);
        CHECK_INT(r.n, 2);
        CHECK_INT(r.a[0].code, 429);
        if (i == 0)
            CHECK(r.a[0].retry_in_ms >= 900 && r.a[0].retry_in_ms <= 2000);
        else
            CHECK_INT(r.a[0].retry_in_ms, 50);
        notify_free(&n);
        peer_stop(&p);
    }
}

static void retry_after_longer_than_backoff_max_is_capped(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ratelimit", "1", "30", NULL}, 0), 0);
    struct notify *n = mk(5000, 3, 50, 300);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    int64_t t0 = util_mono_ms();
    CHECK_INT(notify_webhook(n, &w, "rate-30", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.a[0].retry_in_ms, 300);
    CHECK(r.done_at - t0 < 5000);
    notify_free(&n);
    peer_stop(&p);
}

static void hanging_receiver_times_out_each_attempt_and_the_loop_never_blocks(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"hang", NULL}, 0), 0);
    struct notify *n = mk(500, 2, 100, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    max_perform_ms = 0;
    unsigned long performs0 = performs;
    int64_t t0 = util_mono_ms();
    CHECK_INT(notify_webhook(n, &w, "hang-1", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_GAVE_UP);
    CHECK_INT(r.done_attempts, 2);
    CHECK_INT(r.n, 2);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(r.a[i].code, 0);
        CHECK(strstr(r.a[i].error, "timed out") != NULL);
        CHECK(r.a[i].elapsed_ms >= 500 && r.a[i].elapsed_ms < 1500);
    }
    CHECK_INT(r.a[0].will_retry, 1);
    CHECK_INT(r.a[1].will_retry, 0);
    CHECK(r.done_at - t0 >= 1100);
    /* The loop was the test's: it got control back quickly every time. */
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    CHECK(performs - performs0 >= 2);
    CHECK(performs - performs0 < 100); /* and was not woken for nothing either */
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 2);
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void gone_400_and_redirect_are_rejected_without_retry(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    const char *const behaviours[][3] = {
        {"gone", NULL, NULL}, {"status", "400", NULL}, {"status", "302", NULL}};
    const long codes[] = {410, 400, 302};
    for (int i = 0; i < 3; i++) {
        struct peer p = {0};
        CHECK_INT(webhook_peer(&p, behaviours[i], 0), 0);
        struct notify *n = mk(5000, 5, 50, 1000);
        struct rec r = {0};
        struct notify_report rep = report(&r);
        char err[256], url[128];
        struct notify_webhook w = hook(url, sizeof url, "http", p.port);
        CHECK_INT(notify_webhook(n, &w, "no-retry", BODY, &rep, err, sizeof err), 0);
        drive(n, 10000);
        CHECK_INT(r.done, 1);
        CHECK_INT(r.outcome, NOTIFY_REJECTED);
        CHECK_INT(r.done_attempts, 1);
        CHECK_INT(r.n, 1);
        CHECK_INT(r.a[0].code, codes[i]);
        CHECK_INT(r.a[0].will_retry, 0);
        json_t *log = read_log(p.log);
        CHECK_INT(json_array_size(log), 1);
        json_decref(log);
        notify_free(&n);
        peer_stop(&p);
    }
}

static void connection_refused_is_retried_then_given_up(void)
{
    struct notify *n = mk(2000, 3, 50, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", free_port());
    max_perform_ms = 0;
    CHECK_INT(notify_webhook(n, &w, "refused", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_GAVE_UP);
    CHECK_INT(r.done_attempts, 3);
    CHECK_INT(r.n, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(r.a[i].no, i + 1);
        CHECK_INT(r.a[i].code, 0);
        CHECK(strstr(r.a[i].error, "onnect") != NULL);
    }
    CHECK_INT(r.a[0].will_retry, 1);
    CHECK_INT(r.a[0].retry_in_ms, 50);
    CHECK_INT(r.a[1].will_retry, 1);
    CHECK_INT(r.a[1].retry_in_ms, 100);
    CHECK_INT(r.a[2].will_retry, 0);
    CHECK(r.a[2].at - r.a[0].at >= 150);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
}

static void pollfds_timeout_is_the_next_retry_and_perform_before_it_does_nothing(void)
{
    struct notify *n = mk(2000, 2, 3000, 3000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", free_port());
    struct pollfd fds[NOTIFY_POLLFDS_MAX];
    long t = -2;
    CHECK_INT(notify_webhook(n, &w, "next-due", BODY, &rep, err, sizeof err), 0);
    notify_pollfds(n, fds, NOTIFY_POLLFDS_MAX, &t);
    CHECK_INT(t, 0); /* queued: due now */
    int64_t end = util_mono_ms() + 5000;
    while (r.n == 0 && util_mono_ms() < end) {
        size_t k = notify_pollfds(n, fds, NOTIFY_POLLFDS_MAX, &t);
        poll(fds, k, t < 0 || t > 100 ? 100 : (int)t);
        notify_perform(n);
    }
    CHECK_INT(r.n, 1);
    CHECK_INT(r.a[0].retry_in_ms, 3000);
    CHECK_INT(notify_pollfds(n, fds, NOTIFY_POLLFDS_MAX, &t), 0);
    CHECK(t > 2500 && t <= 3000);
    notify_perform(n); /* early: nothing happens */
    CHECK_INT(r.n, 1);
    CHECK_INT(notify_pending(n), 1);
    notify_free(&n);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_CANCELLED);
    CHECK_INT(r.done_attempts, 1);
}

static void free_with_an_attempt_in_flight_cancels_it(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"hang", NULL}, 0), 0);
    struct notify *n = mk(5000, 2, 100, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    CHECK_INT(notify_webhook(n, &w, "in-flight", BODY, &rep, err, sizeof err), 0);
    drive(n, 300);
    CHECK_INT(notify_pending(n), 1);
    int64_t t0 = util_mono_ms();
    notify_free(&n);
    CHECK(util_mono_ms() - t0 < PERFORM_MAX_MS);
    CHECK_INT(r.n, 0);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_CANCELLED);
    CHECK_INT(r.done_attempts, 0);
    peer_stop(&p);
}

static void at_most_parallel_max_attempts_are_in_flight_the_rest_wait_their_turn(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"hang", NULL}, 0), 0);
    struct notify *n = mk(600, 1, 100, 1000);
    struct tally t = {0};
    struct notify_report rep = {.done = count_done, .arg = &t};
    char err[256], url[128], id[32];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    for (int i = 0; i < NOTIFY_PARALLEL_MAX + 4; i++) {
        snprintf(id, sizeof id, "par-%d", i);
        CHECK_INT(notify_webhook(n, &w, id, BODY, &rep, err, sizeof err), 0);
    }
    max_perform_ms = 0;
    drive(n, 400);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), NOTIFY_PARALLEL_MAX);
    json_decref(log);
    drive(n, 5000);
    CHECK_INT(notify_pending(n), 0);
    CHECK_INT(t.gave_up, NOTIFY_PARALLEL_MAX + 4);
    log = read_log(p.log);
    CHECK_INT(json_array_size(log), NOTIFY_PARALLEL_MAX + 4);
    json_decref(log);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
    peer_stop(&p);
}

/* Queues a second message from inside the first one's done callback. */
struct chain {
    struct notify *n;
    struct notify_webhook *w;
    struct rec second;
    int queued;
};

static void chain_done(void *arg, const char *id, enum notify_outcome outcome, int attempts)
{
    struct chain *c = arg;
    char err[256];
    struct notify_report rep = report(&c->second);
    c->queued = notify_webhook(c->n, c->w, "chained-2", BODY, &rep, err, sizeof err) == 0;
}

static void a_callback_may_queue_the_next_message(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ok", NULL}, 0), 0);
    struct notify *n = mk(5000, 2, 100, 1000);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "http", p.port);
    struct chain c = {.n = n, .w = &w};
    struct notify_report rep = {.done = chain_done, .arg = &c};
    CHECK_INT(notify_webhook(n, &w, "chained-1", BODY, &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(c.queued, 1);
    CHECK_INT(c.second.done, 1);
    CHECK_INT(c.second.outcome, NOTIFY_DELIVERED);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 2);
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void https_webhook_trusts_only_the_given_ca(void)
{
    if (!need(have_webhook_peer, "the webhook receiver", __func__) ||
        !need(have_tls, "openssl", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(webhook_peer(&p, (const char *[]){"ok", NULL}, 1), 0);
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r = {0}, r2 = {0};
    struct notify_report rep = report(&r), rep2 = report(&r2);
    char err[256], url[128];
    struct notify_webhook w = hook(url, sizeof url, "https", p.port);
    w.ca_file = cert;
    CHECK_INT(notify_webhook(n, &w, "tls-1", BODY, &rep, err, sizeof err), 0);
    w.ca_file = NULL; /* the system store does not know the test's certificate */
    CHECK_INT(notify_webhook(n, &w, "tls-2", BODY, &rep2, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.a[0].code, 204);
    CHECK_INT(r2.done, 1);
    CHECK_INT(r2.outcome, NOTIFY_REJECTED); /* not retried: waiting will not fix it */
    CHECK_INT(r2.n, 1);
    CHECK(strstr(r2.a[0].error, "certificate") != NULL);
    /* The system store was parsed once (CPU on the loop, tens of ms); curl
     * keeps it, so the next attempt that uses it is quick again. */
    struct rec r3 = {0};
    struct notify_report rep3 = report(&r3);
    CHECK_INT(notify_webhook(n, &w, "tls-3", BODY, &rep3, err, sizeof err), 0);
    max_perform_ms = 0;
    drive(n, 10000);
    CHECK_INT(r3.outcome, NOTIFY_REJECTED);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 1);
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

/* ---- cases: e-mail ----------------------------------------------------- */

static int smtp_peer(struct peer *p, const char *const *args)
{
    return peer_start(p, "smtp_receiver.py", args);
}

/* The value of header `name` in the raw message (first occurrence, with
 * folded lines kept), or "" when missing. */
static void header_of(const char *raw, const char *name, char *out, size_t len)
{
    char pat[64];
    out[0] = '\0';
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *end = strstr(raw, "\r\n\r\n");
    const char *h = NULL;
    if (strncmp(raw, pat + 2, strlen(pat) - 2) == 0)
        h = raw + strlen(pat) - 2;
    else if ((h = strstr(raw, pat)))
        h += strlen(pat);
    if (!h || !end || h > end)
        return;
    const char *e = h;
    while (e < end && !(e[0] == '\r' && e[1] == '\n' && e[2] != ' '))
        e++;
    snprintf(out, len, "%.*s", (int)(e - h), h);
}

/* "Sat, 29 Nov 2026 08:00:00 +0000": RFC 5322 date-time in UTC, English
 * names whatever the locale. */
static int date_shape_ok(const char *v)
{
    static const char shape[] = "Aaa, 99 Aaa 9999 99:99:99 +0000";
    static const char *const days = "Mon,Tue,Wed,Thu,Fri,Sat,Sun";
    static const char *const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (strlen(v) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = v[i], k = shape[i];
        int ok = k == '9'   ? (c >= '0' && c <= '9')
                 : k == 'A' ? (c >= 'A' && c <= 'Z')
                 : k == 'a' ? (c >= 'a' && c <= 'z')
                            : c == k;
        if (!ok)
            return 0;
    }
    char day[4], mon[4];
    snprintf(day, sizeof day, "%.3s", v);
    snprintf(mon, sizeof mon, "%.3s", v + 8);
    return strstr(days, day) != NULL && strstr(months, mon) != NULL &&
           strncmp(v + 12, "20", 2) == 0;
}

static void email_arrives_with_subject_from_to_date_message_id_and_body(void)
{
    if (!need(have_smtp_peer, "the SMTP receiver (aiosmtpd)", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(smtp_peer(&p, (const char *[]){NULL}), 0);
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256] = "", url[128], v[512];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d/hub.ketenhub.test", p.port);
    struct notify_email e = {.smtp_url = url, .from = "alerts@ketenhub.test"};
    max_perform_ms = 0;
    CHECK_INT(notify_email(n, &e, "alert-42", "dienst@gemeente.test", "Crisis referral unanswered",
                           "Referral R-17 has no answer after 30 minutes.\n.starts with a dot\n"
                           "Caf\xc3\xa9 \xe2\x80\x93 UTF-8\r\nlast line",
                           &rep, err, sizeof err),
              0);
    CHECK_STR(err, "");
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.a[0].code, 250);
    CHECK_STR(r.a[0].error, "");
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 1);
    json_t *q = json_array_get(log, 0);
    CHECK_STR(jstr(q, "mail_from"), "alerts@ketenhub.test");
    CHECK_STR(json_string_value(json_array_get(json_object_get(q, "rcpt_tos"), 0)),
              "dienst@gemeente.test");
    CHECK_INT(json_array_size(json_object_get(q, "rcpt_tos")), 1);
    CHECK_STR(jstr(q, "subject"), "Crisis referral unanswered");
    const char *raw = jstr(q, "content");
    CHECK(raw != NULL);
    if (raw) {
        header_of(raw, "From", v, sizeof v);
        CHECK_STR(v, "alerts@ketenhub.test");
        header_of(raw, "To", v, sizeof v);
        CHECK_STR(v, "dienst@gemeente.test");
        header_of(raw, "Subject", v, sizeof v);
        CHECK_STR(v, "Crisis referral unanswered");
        header_of(raw, "Message-ID", v, sizeof v);
        CHECK_STR(v, "<alert-42@ketenhub>");
        header_of(raw, "MIME-Version", v, sizeof v);
        CHECK_STR(v, "1.0");
        header_of(raw, "Content-Type", v, sizeof v);
        CHECK_STR(v, "text/plain; charset=UTF-8");
        header_of(raw, "Content-Transfer-Encoding", v, sizeof v);
        CHECK_STR(v, "8bit");
        header_of(raw, "Auto-Submitted", v, sizeof v);
        CHECK_STR(v, "auto-generated");
        header_of(raw, "Date", v, sizeof v);
        CHECK(date_shape_ok(v));
        const char *body = strstr(raw, "\r\n\r\n");
        CHECK_STR(body ? body + 4 : NULL,
                  "Referral R-17 has no answer after 30 minutes.\r\n.starts with a dot\r\n"
                  "Caf\xc3\xa9 \xe2\x80\x93 UTF-8\r\nlast line\r\n");
    }
    json_decref(log);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
    peer_stop(&p);
}

static void non_ascii_subject_is_rfc2047_encoded_and_decodes_back(void)
{
    if (!need(have_smtp_peer, "the SMTP receiver (aiosmtpd)", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(smtp_peer(&p, (const char *[]){NULL}), 0);
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r1 = {0}, r2 = {0}, r3 = {0};
    struct notify_report rep1 = report(&r1), rep2 = report(&r2), rep3 = report(&r3);
    char err[256], url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", p.port);
    struct notify_email e = {.smtp_url = url, .from = "alerts@ketenhub.test"};
    const char *short_s = "Cris\xc3\xa9s \xe2\x80\x93 actie";
    /* Long enough for several encoded-words; 3- and 4-byte characters at
     * every offset so that a split inside one would show. */
    static const char chars[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\xa8"; /* 2 + 3 + 4 bytes */
    char long_s[NOTIFY_SUBJECT_MAX + 1];
    size_t ls = 0;
    while (ls + sizeof chars - 1 <= NOTIFY_SUBJECT_MAX) {
        memcpy(long_s + ls, chars, sizeof chars - 1);
        ls += sizeof chars - 1;
    }
    long_s[ls] = '\0';
    const char *eq = "Looks like =?UTF-8?B?eA==?= but is not";
    CHECK_INT(notify_email(n, &e, "s-1", "a@b.test", short_s, "x", &rep1, err, sizeof err), 0);
    CHECK_INT(notify_email(n, &e, "s-2", "a@b.test", long_s, "x", &rep2, err, sizeof err), 0);
    CHECK_INT(notify_email(n, &e, "s-3", "a@b.test", eq, "x", &rep3, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r1.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r2.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r3.outcome, NOTIFY_DELIVERED);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 3);
    const char *want[] = {short_s, long_s, eq};
    for (size_t i = 0; i < json_array_size(log) && i < 3; i++) {
        /* In parallel, so in any order: which one is it? */
        json_t *q = json_array_get(log, i);
        const char *raw = jstr(q, "content");
        char mid[64];
        header_of(raw ? raw : "", "Message-ID", mid, sizeof mid);
        size_t which = mid[3] == '1' ? 0 : mid[3] == '2' ? 1 : 2;
        CHECK(strncmp(mid, "<s-", 3) == 0);
        CHECK_STR(jstr(q, "subject"), want[which]); /* as a mail reader decodes it */
        const char *end = raw ? strstr(raw, "\r\n\r\n") : NULL;
        CHECK(end != NULL);
        if (!raw || !end)
            continue;
        CHECK(strstr(raw, "\r\nSubject: =?UTF-8?B?") != NULL);
        /* Headers stay 7-bit ASCII, lines at most 78 characters. */
        size_t line = 0;
        for (const char *c = raw; c < end; c++) {
            CHECK((unsigned char)*c < 0x80);
            line = *c == '\n' ? 0 : line + 1;
            CHECK(line <= 79); /* 78 plus the CR */
        }
    }
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void email_with_auth_is_delivered_and_a_wrong_password_is_rejected(void)
{
    if (!need(have_smtp_peer, "the SMTP receiver (aiosmtpd)", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(smtp_peer(&p, (const char *[]){"--auth", "hub:s3cret", NULL}), 0);
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r1 = {0}, r2 = {0}, r3 = {0};
    struct notify_report rep1 = report(&r1), rep2 = report(&r2), rep3 = report(&r3);
    char err[256], url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", p.port);
    struct notify_email e = {
        .smtp_url = url, .username = "hub", .password = "s3cret", .from = "alerts@ketenhub.test"};
    CHECK_INT(notify_email(n, &e, "auth-ok", "a@b.test", "S", "x", &rep1, err, sizeof err), 0);
    e.password = "wrong";
    CHECK_INT(notify_email(n, &e, "auth-bad", "a@b.test", "S", "x", &rep2, err, sizeof err), 0);
    e.username = NULL;
    CHECK_INT(notify_email(n, &e, "auth-none", "a@b.test", "S", "x", &rep3, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r1.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r2.done, 1);
    CHECK_INT(r2.outcome, NOTIFY_REJECTED);
    CHECK_INT(r2.n, 1);
    CHECK_INT(r2.a[0].code, 535);
    CHECK_INT(r3.outcome, NOTIFY_REJECTED); /* 530 authentication required */
    CHECK_INT(r3.n, 1);
    CHECK_INT(r3.a[0].code, 530);
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 1);
    CHECK(json_is_true(json_object_get(json_array_get(log, 0), "authenticated")));
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void smtp_down_is_retried_then_given_up(void)
{
    struct notify *n = mk(2000, 2, 50, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", free_port());
    struct notify_email e = {.smtp_url = url, .from = "alerts@ketenhub.test"};
    max_perform_ms = 0;
    CHECK_INT(notify_email(n, &e, "down-1", "a@b.test", "S", "x", &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_GAVE_UP);
    CHECK_INT(r.done_attempts, 2);
    CHECK_INT(r.n, 2);
    CHECK_INT(r.a[0].will_retry, 1);
    CHECK_INT(r.a[0].retry_in_ms, 50);
    CHECK_INT(r.a[1].will_retry, 0);
    CHECK(strstr(r.a[0].error, "onnect") != NULL);
    CHECK(max_perform_ms < PERFORM_MAX_MS);
    notify_free(&n);
}

static void starttls_required_is_never_downgraded(void)
{
    if (!need(have_smtp_peer, "the SMTP receiver (aiosmtpd)", __func__))
        return;
    struct peer p = {0};
    CHECK_INT(smtp_peer(&p, (const char *[]){NULL}), 0); /* offers no STARTTLS */
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r = {0};
    struct notify_report rep = report(&r);
    char err[256], url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", p.port);
    struct notify_email e = {.smtp_url = url, .starttls_required = 1, .from = "a@ketenhub.test"};
    CHECK_INT(notify_email(n, &e, "tls-req", "a@b.test", "S", "x", &rep, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r.done, 1);
    CHECK_INT(r.outcome, NOTIFY_REJECTED);
    CHECK_INT(r.n, 1);
    CHECK(r.a[0].error[0] != '\0');
    json_t *log = read_log(p.log);
    CHECK_INT(json_array_size(log), 0);
    json_decref(log);
    notify_free(&n);
    peer_stop(&p);
}

static void starttls_and_smtps_with_a_trusted_certificate_deliver(void)
{
    if (!need(have_smtp_peer, "the SMTP receiver (aiosmtpd)", __func__) ||
        !need(have_tls, "openssl", __func__))
        return;
    struct peer ps = {0}, pt = {0};
    CHECK_INT(smtp_peer(&ps, (const char *[]){"--tls", "starttls", "--tls-cert", cert, "--tls-key",
                                              key, "--auth", "hub:s3cret", NULL}),
              0);
    CHECK_INT(smtp_peer(&pt, (const char *[]){"--tls", "smtps", "--tls-cert", cert, "--tls-key",
                                              key, NULL}),
              0);
    struct notify *n = mk(5000, 3, 50, 1000);
    struct rec r1 = {0}, r2 = {0};
    struct notify_report rep1 = report(&r1), rep2 = report(&r2);
    char err[256], url1[128], url2[128];
    snprintf(url1, sizeof url1, "smtp://127.0.0.1:%d", ps.port);
    snprintf(url2, sizeof url2, "smtps://127.0.0.1:%d", pt.port);
    struct notify_email e1 = {.smtp_url = url1,
                              .starttls_required = 1,
                              .username = "hub",
                              .password = "s3cret",
                              .from = "alerts@ketenhub.test",
                              .ca_file = cert};
    struct notify_email e2 = {.smtp_url = url2, .from = "alerts@ketenhub.test", .ca_file = cert};
    CHECK_INT(notify_email(n, &e1, "starttls", "a@b.test", "S", "x", &rep1, err, sizeof err), 0);
    CHECK_INT(notify_email(n, &e2, "smtps", "a@b.test", "S", "x", &rep2, err, sizeof err), 0);
    drive(n, 10000);
    CHECK_INT(r1.outcome, NOTIFY_DELIVERED);
    CHECK_INT(r2.outcome, NOTIFY_DELIVERED);
    json_t *l1 = read_log(ps.log), *l2 = read_log(pt.log);
    CHECK_INT(json_array_size(l1), 1);
    CHECK_INT(json_array_size(l2), 1);
    CHECK(json_is_true(json_object_get(json_array_get(l1, 0), "tls")));
    CHECK(json_is_true(json_object_get(json_array_get(l1, 0), "authenticated")));
    CHECK(json_is_true(json_object_get(json_array_get(l2, 0), "tls")));
    json_decref(l1);
    json_decref(l2);
    notify_free(&n);
    peer_stop(&ps);
    peer_stop(&pt);
}

/* ---- cases: limits ----------------------------------------------------- */

static void queue_limit_refuses_message_10001_and_free_cancels_every_one(void)
{
    struct notify *n = mk(1000, 3, 100, 1000);
    struct tally t = {0};
    struct notify_report rep = {.done = count_done, .arg = &t};
    char err[256], url[128], id[32];
    struct notify_webhook w = hook(url, sizeof url, "http", free_port());
    int ok = 0;
    for (int i = 0; i < NOTIFY_QUEUE_MAX; i++) {
        snprintf(id, sizeof id, "q-%d", i);
        ok += notify_webhook(n, &w, id, "{}", &rep, err, sizeof err) == 0;
    }
    CHECK_INT(ok, NOTIFY_QUEUE_MAX);
    CHECK_INT(notify_pending(n), NOTIFY_QUEUE_MAX);
    CHECK_INT(notify_webhook(n, &w, "q-over", "{}", &rep, err, sizeof err), NOTIFY_EFULL);
    CHECK(strstr(err, "full") != NULL);
    struct notify_email e = {.smtp_url = "smtp://127.0.0.1:25", .from = "a@b.test"};
    CHECK_INT(notify_email(n, &e, "q-over", "c@d.test", "S", "x", &rep, err, sizeof err),
              NOTIFY_EFULL);
    CHECK_INT(notify_pending(n), NOTIFY_QUEUE_MAX);
    notify_free(&n);
    CHECK_INT(t.cancelled, NOTIFY_QUEUE_MAX);
    CHECK_INT(t.other, 0);
}

static void byte_limit_refuses_large_messages_before_the_count_limit(void)
{
    struct notify *n = mk(1000, 3, 100, 1000);
    struct tally t = {0};
    struct notify_report rep = {.done = count_done, .arg = &t};
    char err[256], url[128], id[32];
    static char body[NOTIFY_BODY_MAX + 1];
    memset(body, ' ', NOTIFY_BODY_MAX);
    body[0] = '[';
    body[NOTIFY_BODY_MAX - 1] = ']';
    body[NOTIFY_BODY_MAX] = '\0';
    struct notify_webhook w = hook(url, sizeof url, "http", free_port());
    int ok = 0, rc = 0;
    for (int i = 0; i < NOTIFY_QUEUE_MAX && rc == 0; i++) {
        snprintf(id, sizeof id, "big-%d", i);
        rc = notify_webhook(n, &w, id, body, &rep, err, sizeof err);
        ok += rc == 0;
    }
    CHECK_INT(rc, NOTIFY_EFULL);
    CHECK(ok > 100 && ok < NOTIFY_QUEUE_MAX);
    CHECK((size_t)ok * NOTIFY_BODY_MAX <= NOTIFY_QUEUE_BYTES_MAX);
    /* Refused at the byte limit: bookkeeping per message is under 2 KiB. */
    CHECK((size_t)(ok + 1) * (NOTIFY_BODY_MAX + 2048) > NOTIFY_QUEUE_BYTES_MAX);
    notify_free(&n);
    CHECK_INT(t.cancelled, ok);
}

/* ---- main -------------------------------------------------------------- */

/* Whether a peer script starts at all (python3 there, aiosmtpd importable). */
static int probe(const char *script, const char *const *args)
{
    struct peer p = {0};
    if (peer_start(&p, script, args) != 0)
        return 0;
    peer_stop(&p);
    return 1;
}

int main(void)
{
    if (getenv("KETENHUB_ROOT"))
        root = getenv("KETENHUB_ROOT");
    if (sodium_init() < 0)
        return 2;
    sodium_hex2bin(secret, sizeof secret, SECRET_HEX, strlen(SECRET_HEX), NULL, NULL, NULL);
    tu_tempdir(dir, sizeof dir);
    have_webhook_peer =
        probe("webhook_receiver.py", (const char *[]){"--secret-hex", SECRET_HEX, "ok", NULL});
    have_smtp_peer = probe("smtp_receiver.py", (const char *[]){NULL});
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout '%s' -out '%s' -days 2 -subj /CN=localhost "
             "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
             key, cert);
    have_tls = system(cmd) == 0; // NOLINT(cert-env33-c): test set-up, fixed command

    RUN(settings_out_of_range_are_refused_with_a_reason);
    RUN(bad_arguments_are_refused_before_anything_is_queued);
    RUN(webhook_arrives_signed_with_bearer_token_and_every_documented_header);
    RUN(webhook_with_the_wrong_secret_is_refused_by_the_receiver_and_not_retried);
    RUN(webhook_500s_are_retried_with_doubling_backoff_then_delivered);
    RUN(webhook_429_waits_retry_after_seconds_not_the_backoff);
    RUN(retry_after_as_an_http_date_is_honoured_and_garbage_means_backoff);
    RUN(retry_after_longer_than_backoff_max_is_capped);
    RUN(hanging_receiver_times_out_each_attempt_and_the_loop_never_blocks);
    RUN(gone_400_and_redirect_are_rejected_without_retry);
    RUN(connection_refused_is_retried_then_given_up);
    RUN(pollfds_timeout_is_the_next_retry_and_perform_before_it_does_nothing);
    RUN(free_with_an_attempt_in_flight_cancels_it);
    RUN(at_most_parallel_max_attempts_are_in_flight_the_rest_wait_their_turn);
    RUN(a_callback_may_queue_the_next_message);
    RUN(https_webhook_trusts_only_the_given_ca);
    RUN(email_arrives_with_subject_from_to_date_message_id_and_body);
    RUN(non_ascii_subject_is_rfc2047_encoded_and_decodes_back);
    RUN(email_with_auth_is_delivered_and_a_wrong_password_is_rejected);
    RUN(smtp_down_is_retried_then_given_up);
    RUN(starttls_required_is_never_downgraded);
    RUN(starttls_and_smtps_with_a_trusted_certificate_deliver);
    RUN(queue_limit_refuses_message_10001_and_free_cancels_every_one);
    RUN(byte_limit_refuses_large_messages_before_the_count_limit);
    printf("longest notify_perform: %ld ms over %lu calls\n", overall_max_ms, performs);
    tu_rmdir(dir);
    return CHECK_DONE();
}
