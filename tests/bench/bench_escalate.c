/*
 * bench_escalate - the escalation engine with many open referrals: what they
 * cost the hub at rest, and how late an alert is when a deadline passes while
 * the hub is busy with other signals.
 *
 * In one new temp dir: writes keys, a webhook secret and a config with three
 * policies (crisis: receipt PT2S, decision PT60S, escalating at once to the
 * officer on duty by webhook; lang: receipt P7D, decision P30D, the same
 * escalation; standaard: no escalation) and starts a webhook receiver of its
 * own, a thread on 127.0.0.1 that answers 204 and notes when each alert
 * arrived. Then, against the real ketenhubd:
 *   1. empty: the first start (new database): start-up time and VmRSS;
 *   2. preload: 4 senders put N "hoog" signals in (N open referrals to
 *      police-1 under `lang`, which never connects: they stay open, each with
 *      a receipt and a decision deadline days ahead);
 *   3. restart with them: start-up time (process start -> event=listening in
 *      the log, and event=escalation_loaded with its counts), VmRSS, then CPU
 *      and context switches (wake-ups) per thread over an idle window with no
 *      client connected;
 *   4. lateness: 3 senders keep a load of "normaal" signals (to the
 *      coordinator, no escalation) at RATE/s while a fourth sends C crisis
 *      signals spread over S seconds. Every crisis referral misses its
 *      receipt deadline (2 s after acceptance) during the load; its alert's
 *      lateness is the webhook's arrival (wall clock) minus its deadline_at;
 *   5. SIGTERM, exit 0, and what the store holds.
 * Every wait is bounded. Prints figures, not verdicts (the target is
 * printed next to the lateness); the last line is one JSON object. A run is
 * broken (exit 1) when the hub dies, rejects or loses a signal, an alert is
 * missing or repeated, or an alert comes more than 1 ms before its
 * deadline (the hub counts whole milliseconds).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>

#include "benchutil.h"
#include "util.h"

#define NLOAD 3             /* senders of the load */
#define NSEND (NLOAD + 1)   /* and one of the crisis signals */
#define CRISIS_SENDER NLOAD /* its index among the senders */
#define KEY_SENDER0 2       /* gemeente-1 .. gemeente-4 */
#define NKEYS (KEY_SENDER0 + NSEND)
#define RECEIPT_MS 2000       /* the crisis policy's receipt deadline (PT2S) */
#define WARMUP_TIMEOUT_S 15   /* first heartbeat echo on a connection (CURVE + ZAP) */
#define STALL_TIMEOUT_S 10    /* no reply to a signal for this long: the hub stalled */
#define SEND_TIMEOUT_MS 10000 /* a blocked zmq_send */
#define LISTEN_TIMEOUT_S 120  /* process start to event=listening */
#define PRELOAD_WINDOW 64     /* signals each preload sender keeps in flight */
#define PRELOAD_MAX_S 900     /* bound of the preload */
#define LOAD_WINDOW 256       /* bound of a load sender's backlog */
#define CRISIS_WINDOW 16      /* ... and of the crisis sender's */
#define CRISIS_DELAY_MS 2000  /* the load alone before the first crisis signal */
#define LOAD_AFTER_MS 2000    /* the load goes on this long after the last deadline */
#define ALERT_WAIT_S 15       /* after the load: how long a missing alert may still come */
/* The hub keeps time in whole milliseconds and adds one when it turns a
 * deadline into a moment on its monotonic clock, so no alert should come
 * before deadline_at; the bench's own reading of the clock is allowed 0 ms.
 * An alert before its deadline is a fault. */
#define EARLY_TOLERANCE_NS 0
#define SETTLE_MS 1000       /* after start-up, before memory and idle readings */
#define SHOWN_MAX 3          /* odd frames kept per thread for printing */
#define IDX_DIGITS 12        /* a signal's index: the end of its id */
#define HOOK_CONN_MAX 64     /* webhook connections open at once */
#define HOOK_HEAD_MAX 16384  /* request line and headers */
#define HOOK_BODY_MAX 262144 /* request body */
#define TASKS_MAX 64         /* hub threads read from /proc */
#define SLICE_S 5            /* the lateness phase is reported in slices this long */
#define SLICES_MAX 240
#define LOG_SHOWN 20 /* hub log lines printed per kind */
#define SIGNAL_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"

/* police-1 gets the crisis and lang referrals, kenniscentrum (coordinator) the
 * load's; gemeente-1 .. 4 send. Neither receiver ever connects. */
static const char *const key_ids[NKEYS] = {"police-1",   "kenniscentrum", "gemeente-1",
                                           "gemeente-2", "gemeente-3",    "gemeente-4"};
static const char *const key_roles[NKEYS] = {"police",       "coordinator",  "municipality",
                                             "municipality", "municipality", "municipality"};

struct options {
    long open, crisis, load, seconds, idle;
    const char *parent;
    int keep;
};

/* Policies, routes, officer and rota; build_config adds the partners, the
 * webhook URL and the alerting settings. crisis and hoog are final, so each
 * of those signals makes exactly one referral (to police-1). */
static const char config_fixed[] =
    "{\"database\": \"hub.db\", \"server_key\": \"keys/hub.key\", " BENCH_SECRETS
    "\"log_level\": \"info\","
    " \"policies\": {"
    "   \"crisis\": {\"receipt\": \"PT2S\", \"decision\": \"PT60S\", \"escalation\": {\"levels\":"
    "     [{\"after\": \"PT0S\", \"targets\": [\"on-duty\"], \"channels\": [\"webhook\"],"
    "       \"repeat\": \"PT1H\"}]}},"
    "   \"lang\": {\"receipt\": \"P7D\", \"decision\": \"P30D\", \"escalation\": {\"levels\":"
    "     [{\"after\": \"PT0S\", \"targets\": [\"on-duty\"], \"channels\": [\"webhook\"],"
    "       \"repeat\": \"PT1H\"}]}},"
    "   \"standaard\": {\"receipt\": \"P1D\", \"decision\": \"P5D\"}},"
    " \"default_policy\": \"standaard\","
    " \"rota\": {\"timezone\": \"Europe/Amsterdam\", \"weekly\": [{\"days\": [\"mon\", \"tue\","
    "   \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"], \"from\": \"00:00\", \"to\": \"00:00\","
    "   \"officer\": \"anna\"}], \"fallback\": \"anna\"},"
    " \"alerting\": {\"webhook_secret_file\": \"webhook.secret\", \"timeout\": \"PT5S\","
    "   \"max_attempts\": 3, \"redeliver\": \"PT1M\"},"
    " \"routes\": ["
    "   {\"name\": \"crisis\", \"when\": {\"/urgentie\": \"crisis\"},"
    "    \"to\": [{\"partner\": \"police-1\"}], \"policy\": \"crisis\", \"final\": true},"
    "   {\"name\": \"hoog\", \"when\": {\"/urgentie\": \"hoog\"},"
    "    \"to\": [{\"partner\": \"police-1\"}], \"policy\": \"lang\", \"final\": true},"
    "   {\"name\": \"rest\", \"to\": [{\"role\": \"coordinator\"}]}]}";

/* ---- small helpers ------------------------------------------------------ */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static double mib(long kib)
{
    return kib < 0 ? -1 : (double)kib / 1024.0;
}

/* A "VmRSS:" or "VmHWM:" line of /proc/<pid>/status, in KiB; -1 if unknown. */
static long proc_status_kib(pid_t pid, const char *key)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            kib = strtol(line + strlen(key), NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* The n decimal digits at p; -1 if one is not a digit. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* "2026-11-29T08:00:00.123Z" (fraction optional) to UTC ms; -1 if not that. */
static int parse_utc_ms(const char *s, int64_t *ms)
{
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2);
    int mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || d < 1 || h < 0 || mi < 0 || sec < 0)
        return -1;
    const char *p = s + 19;
    int frac = 0, digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (int k = digits; k < 3; k++)
            frac *= 10;
    }
    if (*p != 'Z')
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

static int send_heartbeat(void *sock, long n)
{
    char text[48];
    int len = snprintf(text, sizeof text, "{\"heartbeat\":%ld}", n);
    return zmq_send(sock, text, (size_t)len, 0) < 0 ? -1 : 0;
}

static int is_heartbeat_echo(const char *data, size_t len)
{
    return len > 13 && memcmp(data, "{\"heartbeat\":", 13) == 0;
}

/* The index in the last IDX_DIGITS characters before `end`; -1 if not digits. */
static long parse_idx(const char *end)
{
    long v = 0;
    for (const char *p = end - IDX_DIGITS; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static void put_idx(char *at, long idx)
{
    for (int i = IDX_DIGITS - 1; i >= 0; i--, idx /= 10)
        at[i] = (char)('0' + idx % 10);
}

/* Prints and frees what a thread kept; flags its failure as a problem. */
static void report_thread(const char *who, int failed, const char *error, char **shown, int nshown,
                          json_t *problems)
{
    if (failed)
        problem(problems, "%s: %s", who, error[0] ? error : "failed");
    for (int k = 0; k < nshown; k++) {
        printf("  %s: unexpected: %s\n", who, shown[k]);
        free(shown[k]);
    }
}

/* ---- the webhook receiver ----------------------------------------------- */

/* One alert as it arrived. */
struct hook_rec {
    int64_t recv_ns;     /* wall clock when the whole request was in */
    int64_t deadline_ms; /* its deadline_at */
    long long escalation;
    int round;
    char referral[48];
    char deadline[12]; /* "receipt" or "decision" */
    char urgency[24];  /* the policy */
};

struct hooks {
    pthread_t thread;
    int lfd, port, running;
    atomic_int stop;
    atomic_long crisis_firsts; /* crisis receipt alerts of round 1 (duplicates included) */
    pthread_mutex_t mu;        /* guards v, n, cap */
    struct hook_rec *v;
    size_t n, cap;
    long requests, bad, conns; /* the thread's own; read after it stopped */
    int failed;
    char error[256];
    char *shown[SHOWN_MAX];
    int nshown;
};

struct conn {
    char *buf;
    size_t len, cap;
    int fd;
    int continued; /* "100 Continue" sent for the request in buf */
};

static void hook_take(struct hooks *hk, const char *body, size_t len, int64_t t)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *due = json_string_value(json_object_get(j, "deadline_at"));
    const char *ref = json_string_value(json_object_get(j, "referral"));
    const char *kind = json_string_value(json_object_get(j, "deadline"));
    const char *pol = json_string_value(json_object_get(j, "urgency"));
    struct hook_rec r;
    memset(&r, 0, sizeof r);
    if (!due || !ref || !kind || !pol || parse_utc_ms(due, &r.deadline_ms) != 0) {
        hk->bad++;
        keep_frame(hk->shown, &hk->nshown, SHOWN_MAX, 400, body, len);
        json_decref(j);
        return;
    }
    r.recv_ns = t;
    r.escalation = (long long)json_integer_value(json_object_get(j, "escalation"));
    r.round = (int)json_integer_value(json_object_get(j, "round"));
    snprintf(r.referral, sizeof r.referral, "%s", ref);
    snprintf(r.deadline, sizeof r.deadline, "%s", kind);
    snprintf(r.urgency, sizeof r.urgency, "%s", pol);
    json_decref(j);
    pthread_mutex_lock(&hk->mu);
    if (hk->n == hk->cap) {
        size_t cap = hk->cap ? hk->cap * 2 : 1024;
        struct hook_rec *grown = realloc(hk->v, cap * sizeof *grown);
        if (grown) {
            hk->v = grown;
            hk->cap = cap;
        }
    }
    if (hk->n < hk->cap)
        hk->v[hk->n++] = r;
    else
        hk->failed = 1;
    pthread_mutex_unlock(&hk->mu);
    if (strcmp(r.urgency, "crisis") == 0 && strcmp(r.deadline, "receipt") == 0 && r.round == 1)
        atomic_fetch_add(&hk->crisis_firsts, 1);
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, 1000) <= 0)
                return -1;
            continue;
        }
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The value of header `name` (lower case, with the colon) in the NUL-ended
 * head, into out; 0 if present. */
static int header_value(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, nl) != 0)
            continue;
        const char *v = line + nl, *end = strstr(v, "\r\n");
        while (*v == ' ' || *v == '\t')
            v++;
        size_t vl = end ? (size_t)(end - v) : strlen(v);
        snprintf(out, outlen, "%.*s", (int)(vl < outlen ? vl : outlen - 1), v);
        return 0;
    }
    return -1;
}

/* Answers every complete request in c->buf. Returns -1 when the connection
 * is to be closed (asked for, or a request this receiver does not take). */
static int conn_serve(struct hooks *hk, struct conn *c, int64_t t)
{
    static const char ok[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    char head[HOOK_HEAD_MAX + 1], v[64];
    for (;;) {
        const char *end = find(c->buf, c->len, "\r\n\r\n");
        if (!end) {
            if (c->len <= HOOK_HEAD_MAX)
                return 0;
            hk->bad++;
            send_all(c->fd, bad, sizeof bad - 1);
            return -1;
        }
        size_t hlen = (size_t)(end - c->buf) + 4;
        if (hlen > HOOK_HEAD_MAX) {
            hk->bad++;
            send_all(c->fd, bad, sizeof bad - 1);
            return -1;
        }
        memcpy(head, c->buf, hlen);
        head[hlen] = '\0';
        long clen = 0;
        int chunked = header_value(head, "transfer-encoding:", v, sizeof v) == 0 &&
                      strncasecmp(v, "chunked", 7) == 0;
        if (header_value(head, "content-length:", v, sizeof v) == 0 &&
            util_parse_long(v, 0, HOOK_BODY_MAX, &clen) != 0)
            clen = -1;
        if (chunked || clen < 0 || strncmp(head, "POST ", 5) != 0) {
            hk->bad++;
            keep_frame(hk->shown, &hk->nshown, SHOWN_MAX, 400, head, hlen);
            send_all(c->fd, bad, sizeof bad - 1);
            return -1;
        }
        if (!c->continued && header_value(head, "expect:", v, sizeof v) == 0 &&
            strncasecmp(v, "100-continue", 12) == 0) {
            c->continued = 1;
            if (send_all(c->fd, cont, sizeof cont - 1) != 0)
                return -1;
        }
        if (c->len < hlen + (size_t)clen)
            return 0;
        hook_take(hk, c->buf + hlen, (size_t)clen, t);
        hk->requests++;
        int close_after =
            header_value(head, "connection:", v, sizeof v) == 0 && strncasecmp(v, "close", 5) == 0;
        if (send_all(c->fd, ok, sizeof ok - 1) != 0 || close_after)
            return -1;
        c->len -= hlen + (size_t)clen;
        memmove(c->buf, c->buf + hlen + (size_t)clen, c->len);
        c->continued = 0;
    }
}

/* Reads what is there; -1 when the peer closed or the connection broke. */
static int conn_read(struct hooks *hk, struct conn *c)
{
    for (;;) {
        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 16384;
            char *grown = cap <= HOOK_HEAD_MAX + HOOK_BODY_MAX + 8192 ? realloc(c->buf, cap) : NULL;
            if (!grown)
                return -1;
            c->buf = grown;
            c->cap = cap;
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
        if (conn_serve(hk, c, wall_ns()) != 0)
            return -1;
    }
}

static void *hooks_main(void *arg)
{
    struct hooks *hk = arg;
    struct conn conns[HOOK_CONN_MAX];
    struct pollfd pf[HOOK_CONN_MAX + 1];
    int nc = 0;
    while (!atomic_load(&hk->stop)) {
        pf[0] = (struct pollfd){hk->lfd, POLLIN, 0};
        for (int i = 0; i < nc; i++)
            pf[i + 1] = (struct pollfd){conns[i].fd, POLLIN, 0};
        int polled = nc;
        if (poll(pf, (nfds_t)polled + 1, 50) < 0) {
            if (errno == EINTR)
                continue;
            hk->failed = 1;
            snprintf(hk->error, sizeof hk->error, "poll: %s", strerror(errno));
            break;
        }
        for (int i = polled - 1; i >= 0; i--) {
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (conn_read(hk, &conns[i]) == 0)
                continue;
            close(conns[i].fd);
            free(conns[i].buf);
            conns[i] = conns[--nc];
        }
        if (pf[0].revents & POLLIN) {
            int fd;
            while ((fd = accept(hk->lfd, NULL, NULL)) >= 0) {
                hk->conns++;
                if (nc == HOOK_CONN_MAX) {
                    hk->bad++;
                    close(fd);
                    continue;
                }
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                conns[nc++] = (struct conn){NULL, 0, 0, fd, 0};
            }
        }
    }
    for (int i = 0; i < nc; i++) {
        close(conns[i].fd);
        free(conns[i].buf);
    }
    return NULL;
}

static int hooks_start(struct hooks *hk, char *err, size_t errlen)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&hk->mu, NULL);
    hk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (hk->lfd < 0 || setsockopt(hk->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(hk->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(hk->lfd, 128) != 0 ||
        getsockname(hk->lfd, (struct sockaddr *)&a, &alen) != 0 ||
        fcntl(hk->lfd, F_SETFL, fcntl(hk->lfd, F_GETFL) | O_NONBLOCK) != 0) {
        set_err(err, errlen, "webhook receiver: cannot listen on 127.0.0.1: %s", strerror(errno));
        return -1;
    }
    hk->port = ntohs(a.sin_port);
    if (pthread_create(&hk->thread, NULL, hooks_main, hk) != 0) {
        set_err(err, errlen, "cannot start the webhook receiver thread");
        return -1;
    }
    hk->running = 1;
    return 0;
}

static void hooks_stop(struct hooks *hk)
{
    if (hk->running) {
        atomic_store(&hk->stop, 1);
        pthread_join(hk->thread, NULL);
        hk->running = 0;
    }
    if (hk->lfd >= 0)
        close(hk->lfd);
    hk->lfd = -1;
}

/* ---- senders ------------------------------------------------------------ */

struct sent {
    int64_t ns;     /* sent, monotonic */
    int64_t ack_ns; /* send -> accepted reply; 0 when not (yet) accepted */
    unsigned char replied;
};

/*
 * One partner sending signals with urgentie `urgentie`: `count` of them
 * (0: until stop), one every `interval_ns` from `delay_ns` after go (0: as
 * fast as the window allows), with at most `window` unanswered.
 */
struct sender {
    pthread_t thread;
    void *ctx;
    const struct hub *hub;
    const struct partner_keys *key;
    const char *urgentie;
    long count, window;
    int64_t interval_ns, delay_ns;
    int64_t t0_ns, last_send_ns, last_reply_ns;
    long sent, accepted, rejected, duplicates, odd_replies, unanswered;
    struct sent *log; /* by index */
    size_t cap;
    struct samples ack; /* send -> accepted reply */
    size_t signal_bytes;
    char *shown[SHOWN_MAX];
    atomic_int go, stop, warm, done;
    int running, failed, nshown;
    char error[256];
};

/* A signal with urgentie `urgentie` and a fresh UUID-shaped id whose last
 * IDX_DIGITS characters, at *id_at, are the index. */
static int signal_init(char *text, size_t cap, const char *urgentie, size_t *id_at)
{
    char prefix[25];
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(prefix, sizeof prefix, "%02x%02x%02x%02x-%02x%02x-4%02x%x-8%02x%x-", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7] & 15, rnd[7], rnd[6] & 15);
    int n = snprintf(text, cap,
                     "{\"specversion\":\"1.0\",\"id\":\"%s%0*d\","
                     "\"source\":\"urn:nld:oin:00000001003214345000:systeem:gemeente-bench\","
                     "\"type\":\"" SIGNAL_TYPE "\",\"time\":\"2026-11-29T08:00:00Z\","
                     "\"datacontenttype\":\"application/json\",\"data\":{"
                     "\"vormenVanUitbuiting\":[\"arbeid\"],\"urgentie\":\"%s\","
                     "\"minderjarig\":false,\"woongemeente\":\"GM0153\","
                     "\"indicatoren\":[\"onderbetaling\"],"
                     "\"toestemming\":{\"registratieCoMensha\":false}}}",
                     prefix, IDX_DIGITS, 0, urgentie);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    *id_at = strlen("{\"specversion\":\"1.0\",\"id\":\"") + 24;
    return n;
}

/* Replies come in order; each names its signal by the index at the end of its id. */
static void take_reply(struct sender *s, const char *data, size_t len, int64_t t)
{
    static const char pre[] = "{\"ack\":\"", post[] = "\",\"status\":\"accepted\"";
    s->last_reply_ns = t;
    long idx = len > 8 + 36 + 21 && memcmp(data, pre, 8) == 0 ? parse_idx(data + 44) : -1;
    struct sent *sg = idx >= 0 && idx < s->sent ? &s->log[idx] : NULL;
    if (!sg || sg->replied) {
        s->odd_replies++;
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
        return;
    }
    sg->replied = 1;
    if (memcmp(data + 44, post, 21) != 0) {
        s->rejected++;
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
    } else if (find(data + 65, len - 65, "\"duplicate\"")) {
        s->duplicates++; /* every id is new: a duplicate is a hub bug */
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
    } else {
        s->accepted++;
        sg->ack_ns = t - sg->ns > 0 ? t - sg->ns : 1;
        if (samples_add(&s->ack, t - sg->ns) != 0)
            s->failed = 1;
    }
}

static int sender_grow(struct sender *s)
{
    if ((size_t)s->sent < s->cap)
        return 0;
    size_t cap = s->cap ? s->cap * 2 : 4096;
    struct sent *grown = realloc(s->log, cap * sizeof *grown);
    if (!grown)
        return -1;
    s->log = grown;
    s->cap = cap;
    return 0;
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char text[1024], buf[64];
    size_t id_at;
    int len = signal_init(text, sizeof text, s->urgentie, &id_at);
    long inflight = 0;
    void *sock = curve_dealer(s->ctx, s->hub, s->key, (int)s->window + 16, SEND_TIMEOUT_MS,
                              s->error, sizeof s->error);
    if (len < 0 || !sock) {
        if (len < 0)
            snprintf(s->error, sizeof s->error, "cannot build the signal");
        goto fail;
    }
    s->signal_bytes = (size_t)len;
    /* A heartbeat round trip first: CURVE and ZAP are done before the clock. */
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (send_heartbeat(sock, 1) != 0 || zmq_poll(&it, 1, WARMUP_TIMEOUT_S * 1000) <= 0 ||
        zmq_recv(sock, buf, sizeof buf, 0) < 0) {
        snprintf(s->error, sizeof s->error, "no heartbeat echo within %d s (CURVE refused?)",
                 WARMUP_TIMEOUT_S);
        goto fail;
    }
    atomic_store(&s->warm, 1);
    while (!atomic_load(&s->go) && !atomic_load(&s->stop))
        sleep_ms(1);
    s->t0_ns = now_ns() + s->delay_ns;
    while (now_ns() < s->t0_ns && !atomic_load(&s->stop))
        sleep_ms(1);
    s->last_reply_ns = now_ns();
    int64_t last_progress = s->last_reply_ns;
    for (;;) {
        int stopping = atomic_load(&s->stop) || (s->count && s->sent >= s->count);
        int64_t t = now_ns();
        while (!stopping && inflight < s->window && (!s->count || s->sent < s->count) &&
               (!s->interval_ns || t >= s->t0_ns + s->sent * s->interval_ns)) {
            if (sender_grow(s) != 0) {
                snprintf(s->error, sizeof s->error, "out of memory");
                goto fail;
            }
            put_idx(text + id_at, s->sent);
            s->log[s->sent] = (struct sent){now_ns(), 0, 0};
            if (zmq_send(sock, text, (size_t)len, ZMQ_DONTWAIT) < 0) {
                if (errno == EAGAIN)
                    break;
                snprintf(s->error, sizeof s->error, "send: %s", zmq_strerror(errno));
                goto fail;
            }
            s->last_send_ns = s->log[s->sent].ns;
            s->sent++;
            inflight++;
        }
        if (inflight == 0 && stopping)
            break;
        long wait_ms = 100;
        if (!stopping && s->interval_ns && inflight < s->window) {
            int64_t due = s->t0_ns + s->sent * s->interval_ns - now_ns();
            wait_ms = due <= 0 ? 0 : (long)((due + 999999) / 1000000);
            wait_ms = wait_ms > 100 ? 100 : wait_ms;
        }
        if (zmq_poll(&it, 1, wait_ms) < 0 && errno != EINTR) {
            snprintf(s->error, sizeof s->error, "poll: %s", zmq_strerror(errno));
            goto fail;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            int64_t tr = now_ns();
            if (!is_heartbeat_echo(zmq_msg_data(&m), zmq_msg_size(&m))) {
                take_reply(s, zmq_msg_data(&m), zmq_msg_size(&m), tr);
                inflight--;
            }
            last_progress = tr;
        }
        zmq_msg_close(&m);
        if (inflight == 0)
            last_progress = now_ns();
        if (now_ns() - last_progress > (int64_t)STALL_TIMEOUT_S * NS_PER_S) {
            snprintf(s->error, sizeof s->error,
                     "no reply for %d s with %ld signals in flight: the hub stalled",
                     STALL_TIMEOUT_S, inflight);
            goto fail;
        }
    }
    goto done;
fail:
    s->failed = 1;
done:
    s->unanswered = inflight > 0 ? inflight : 0;
    if (sock)
        zmq_close(sock);
    atomic_store(&s->done, 1);
    return NULL;
}

static void sender_setup(struct sender *s, void *ctx, const struct hub *h,
                         const struct partner_keys *key, const char *urgentie, long count,
                         long window, int64_t interval_ns, int64_t delay_ns)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->hub = h;
    s->key = key;
    s->urgentie = urgentie;
    s->count = count;
    s->window = window;
    s->interval_ns = interval_ns;
    s->delay_ns = delay_ns;
}

static int sender_start(struct sender *s)
{
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        s->failed = 1;
        snprintf(s->error, sizeof s->error, "cannot start the sender thread");
        atomic_store(&s->done, 1);
        return -1;
    }
    s->running = 1;
    return 0;
}

static void sender_join(struct sender *s)
{
    atomic_store(&s->stop, 1);
    if (s->running)
        pthread_join(s->thread, NULL);
    s->running = 0;
}

static void sender_free(struct sender *s)
{
    free(s->log);
    free(s->ack.v);
    s->log = NULL;
    s->ack.v = NULL;
}

/* Starts n senders, waits (bounded) until each has its session, then lets
 * them go at once. Returns the mono time of go, or 0 when one never warmed. */
static int64_t senders_go(struct sender *s, int n, struct hub *h)
{
    for (int i = 0; i < n; i++)
        sender_start(&s[i]);
    int64_t until = now_ns() + (int64_t)WARMUP_TIMEOUT_S * NS_PER_S;
    int ready = 0;
    while (ready < n && now_ns() < until && hub_running(h)) {
        ready = 0;
        for (int i = 0; i < n; i++)
            ready += atomic_load(&s[i].warm) || atomic_load(&s[i].done);
        sleep_ms(2);
    }
    for (int i = 0; i < n; i++)
        if (!atomic_load(&s[i].warm))
            return 0;
    int64_t go = now_ns();
    for (int i = 0; i < n; i++)
        atomic_store(&s[i].go, 1);
    return go;
}

/* ---- the hub's threads, from /proc -------------------------------------- */

struct task {
    int tid;
    char comm[32];
    long long run_ns; /* on-CPU time from schedstat */
    long vol, invol;  /* context switches */
};

static size_t read_tasks(pid_t pid, struct task *out, size_t max)
{
    char path[96], line[256];
    size_t n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && n < max && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        struct task *t = &out[n];
        memset(t, 0, sizeof *t);
        t->tid = (int)strtol(e->d_name, NULL, 10);
        t->run_ns = -1;
        snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, t->tid);
        FILE *f = fopen(path, "r");
        if (f && fgets(t->comm, sizeof t->comm, f))
            t->comm[strcspn(t->comm, "\n")] = '\0';
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, t->tid);
        f = fopen(path, "r");
        if (f && fgets(line, sizeof line, f)) {
            char *end;
            errno = 0;
            t->run_ns = strtoll(line, &end, 10);
            if (errno != 0 || end == line)
                t->run_ns = -1;
        }
        if (f)
            fclose(f);
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, t->tid);
        f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0)
                t->vol = strtol(line + 24, NULL, 10);
            else if (strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0)
                t->invol = strtol(line + 27, NULL, 10);
        }
        if (f)
            fclose(f);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* ---- the hub's log ------------------------------------------------------ */

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* The UTC ms of a log line's ts=; -1 if it has none. */
static int64_t line_ts(const char *line)
{
    int64_t ms;
    const char *ts = strstr(line, "ts=");
    return ts && parse_utc_ms(ts + 3, &ms) == 0 ? ms : -1;
}

static long line_long(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Start-up as the log tells it, from the wall-clock ms the process started. */
struct startup {
    double loaded_ms, listening_ms; /* -1: not (yet) in the log */
    long scheduled, unresolved;
};

/* Reads the log from `off` for event=escalation_loaded and event=listening. */
static void scan_startup(const char *log, off_t off, int64_t t0_ms, struct startup *su)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    if (!f)
        return;
    if (fseeko(f, off, SEEK_SET) == 0) {
        while (fgets(line, sizeof line, f)) {
            int64_t ts = line_ts(line);
            if (strstr(line, "event=escalation_loaded") && ts >= 0) {
                su->loaded_ms = (double)(ts - t0_ms);
                su->scheduled = line_long(line, "scheduled=");
                su->unresolved = line_long(line, "unresolved=");
            } else if (strstr(line, "event=listening") && ts >= 0) {
                su->listening_ms = (double)(ts - t0_ms);
            }
        }
    }
    fclose(f);
}

/*
 * Starts the hub and waits for event=listening in its log: the port is bound
 * before the escalation engine loads, so an open port does not mean ready.
 */
static int start_timed(struct hub *h, json_t *cfg, struct startup *su, char *err, size_t errlen)
{
    off_t off = file_size(h->log);
    su->loaded_ms = su->listening_ms = -1;
    su->scheduled = su->unresolved = -1;
    int64_t t0 = util_wall_ms();
    if (hub_start(h, cfg, err, errlen) != 0)
        return -1;
    int64_t until = now_ns() + (int64_t)LISTEN_TIMEOUT_S * NS_PER_S;
    while (su->listening_ms < 0 && hub_running(h) && now_ns() < until) {
        scan_startup(h->log, off, t0, su);
        if (su->listening_ms < 0)
            sleep_ms(5);
    }
    if (su->listening_ms < 0) {
        set_err(err, errlen, "no event=listening in the hub's log within %d s%s", LISTEN_TIMEOUT_S,
                hub_running(h) ? "" : " (the hub exited)");
        return -1;
    }
    return 0;
}

/* The hub's memory: VmRSS split into anonymous memory (heap: the engine's
 * deadline heap, the keymap, SQLite's page cache) and file pages. */
struct mem {
    long rss, hwm, anon, file; /* KiB, -1 if unknown */
};

static struct mem read_mem(pid_t pid)
{
    struct mem m = {proc_status_kib(pid, "VmRSS:"), proc_status_kib(pid, "VmHWM:"),
                    proc_status_kib(pid, "RssAnon:"), proc_status_kib(pid, "RssFile:")};
    return m;
}

static void print_startup(const char *what, const struct startup *su, const struct mem *m)
{
    printf("  start-up (%s): process start -> event=escalation_loaded %.0f ms"
           " (scheduled=%ld unresolved=%ld) -> event=listening %.0f ms\n",
           what, su->loaded_ms, su->scheduled, su->unresolved, su->listening_ms);
    printf("  hub VmRSS %.1f MiB %d ms after event=listening (RssAnon %.1f MiB, RssFile %.1f MiB;"
           " VmHWM %.1f MiB)\n",
           mib(m->rss), SETTLE_MS, mib(m->anon), mib(m->file), mib(m->hwm));
}

static json_t *startup_json(const struct startup *su, const struct mem *m)
{
    return json_pack("{s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "escalation_loaded_ms",
                     real3(su->loaded_ms), "listening_ms", real3(su->listening_ms), "scheduled",
                     (json_int_t)su->scheduled, "unresolved", (json_int_t)su->unresolved, "rss_mib",
                     real3(mib(m->rss)), "rss_anon_mib", real3(mib(m->anon)), "rss_file_mib",
                     real3(mib(m->file)), "hwm_mib", real3(mib(m->hwm)));
}

/* ---- the bench ---------------------------------------------------------- */

struct bench {
    struct options o;
    struct hub h;
    struct partner_keys keys[NKEYS];
    struct hooks hk;
    void *ctx;
    json_t *cfg, *problems;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_escalate [--open N] [--crisis C] [--load RATE] [--seconds S]\n"
            "                      [--idle I] [--dir PATH] [--keep]\n"
            "  --open N      open referrals (policy lang, receipt P7D, escalating) put in\n"
            "                before the restart; 0 skips the preload (default 100000)\n"
            "  --crisis C    crisis signals whose receipt deadline (PT2S) passes under the\n"
            "                load (default 500)\n"
            "  --load RATE   signals/s of the background load, over %d senders; 0: no\n"
            "                load (default 1000)\n"
            "  --seconds S   the crisis signals are spread over S seconds (default 20)\n"
            "  --idle I      the idle window after the restart, in seconds (default 10)\n"
            "  --dir PATH    make the temp dir (database, log) under PATH (default /tmp)\n"
            "  --keep        leave the temp dir (config, keys, database, hub log)\n",
            NLOAD);
}

static int parse_options(int argc, char **argv, struct options *o)
{
    const struct long_option opts[] = {{"--open", &o->open, 0, 10000000},
                                       {"--crisis", &o->crisis, 1, 100000},
                                       {"--load", &o->load, 0, 1000000},
                                       {"--seconds", &o->seconds, 1, 600},
                                       {"--idle", &o->idle, 1, 600}};
    o->open = 100000;
    o->crisis = 500;
    o->load = 1000;
    o->seconds = 20;
    o->idle = 10;
    o->parent = "/tmp";
    o->keep = 0;
    return parse_long_options("bench_escalate", argc, argv, opts, sizeof opts / sizeof opts[0],
                              &o->parent, &o->keep, usage);
}

/* webhook.secret: "whsec_" and the base64 of 32 random bytes, mode 0600. */
static int write_secret(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], text[128];
    uint8_t key[32];
    randombytes_buf(key, sizeof key);
    memcpy(text, "whsec_", 6);
    sodium_bin2base64(text + 6, sizeof text - 6, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    snprintf(path, sizeof path, "%s/webhook.secret", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    size_t len = strlen(text);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    if (fd >= 0)
        ok &= close(fd) == 0;
    sodium_memzero(text, sizeof text);
    if (!ok) {
        set_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static json_t *build_config(const struct bench *b, char *err, size_t errlen)
{
    char url[64];
    json_t *cfg = json_loads(config_fixed, 0, NULL), *partners = json_array();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/anna", b->hk.port);
    for (int i = 0; i < NKEYS; i++)
        json_array_append_new(partners,
                              json_pack("{s:s, s:s, s:s}", "id", key_ids[i], "role", key_roles[i],
                                        "public_key", b->keys[i].public_z85));
    json_t *officers = json_pack("[{s:s, s:s, s:s}]", "id", "anna", "name", "Anna", "webhook", url);
    if (!cfg || !officers || json_object_set_new(cfg, "partners", partners) != 0 ||
        json_object_set_new(cfg, "officers", officers) != 0) {
        json_decref(cfg);
        set_err(err, errlen, "cannot build the config");
        return NULL;
    }
    return cfg;
}

static void cpu_line(const char *what, double hub_s, double bench_s, double wall_s)
{
    if (hub_s >= 0 && wall_s > 0)
        printf("  CPU over %.2f s (%s): hub %.2f s (%.0f%% of one core), bench %.2f s (%.0f%%)\n",
               wall_s, what, hub_s, 100 * hub_s / wall_s, bench_s, 100 * bench_s / wall_s);
}

/* What the senders of one phase did, added up. */
struct totals {
    long sent, accepted, rejected, duplicates, odd, unanswered;
    int64_t first_ns, last_reply_ns;
};

static void add_up(struct sender *s, int n, struct totals *t, json_t *problems, const char *who)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", who, s[i].key->id);
        report_thread(name, s[i].failed, s[i].error, s[i].shown, s[i].nshown, problems);
        t->sent += s[i].sent;
        t->accepted += s[i].accepted;
        t->rejected += s[i].rejected;
        t->duplicates += s[i].duplicates;
        t->odd += s[i].odd_replies;
        t->unanswered += s[i].unanswered;
        if (s[i].sent && (!t->first_ns || s[i].t0_ns < t->first_ns))
            t->first_ns = s[i].t0_ns;
        if (s[i].last_reply_ns > t->last_reply_ns)
            t->last_reply_ns = s[i].last_reply_ns;
    }
    long odd = t->rejected + t->duplicates + t->odd + t->unanswered;
    if (odd)
        problem(problems,
                "%s: %ld replies were not a plain accept of a new signal (rejected %ld,"
                " duplicate %ld, odd %ld, unanswered %ld)",
                who, odd, t->rejected, t->duplicates, t->odd, t->unanswered);
}

/* 1 and 2: the first start with a new database, then N open referrals. */
static json_t *phase_preload(struct bench *b, json_t **empty)
{
    struct startup su;
    char err[1024];
    if (start_timed(&b->h, b->cfg, &su, err, sizeof err) != 0) {
        problem(b->problems, "first start: %s; its log:", err);
        print_file(b->h.log, "  hub: ", 200);
        return json_null();
    }
    sleep_ms(SETTLE_MS);
    struct mem m = read_mem(b->h.pid);
    printf("\n[empty] %s pid %d on %s, new database, log_level info\n", b->h.hubd, (int)b->h.pid,
           b->h.endpoint);
    print_startup("new database", &su, &m);
    *empty = startup_json(&su, &m);
    if (b->o.open == 0)
        return json_null();

    struct sender s[NSEND];
    struct totals t;
    printf("\n[preload] %d senders put in %ld signals with urgentie hoog (%d in flight each):"
           " each one referral to police-1, policy lang (receipt P7D, decision P30D)\n",
           NSEND, b->o.open, PRELOAD_WINDOW);
    for (int i = 0; i < NSEND; i++)
        sender_setup(&s[i], b->ctx, &b->h, &b->keys[KEY_SENDER0 + i], "hoog",
                     b->o.open / NSEND + (i < b->o.open % NSEND), PRELOAD_WINDOW, 0, 0);
    int64_t go = senders_go(s, NSEND, &b->h);
    int64_t until = now_ns() + (int64_t)PRELOAD_MAX_S * NS_PER_S;
    int done = 0;
    while (go && done < NSEND && hub_running(&b->h) && now_ns() < until) {
        done = 0;
        for (int i = 0; i < NSEND; i++)
            done += atomic_load(&s[i].done);
        sleep_ms(10);
    }
    for (int i = 0; i < NSEND; i++)
        sender_join(&s[i]);
    if (!go)
        problem(b->problems, "preload: a sender had no session within %d s", WARMUP_TIMEOUT_S);
    else if (done < NSEND)
        problem(b->problems, "preload: not done within %d s", PRELOAD_MAX_S);
    add_up(s, NSEND, &t, b->problems, "preload");
    double secs = go ? (double)(t.last_reply_ns - go) / NS_PER_S : 0;
    double rate = secs > 0 ? (double)t.accepted / secs : 0;
    long rss = proc_status_kib(b->h.pid, "VmRSS:"), hwm = proc_status_kib(b->h.pid, "VmHWM:");
    printf("  accepted %ld of %ld in %.2f s = %.0f signals/s\n", t.accepted, b->o.open, secs, rate);
    printf("  hub VmRSS after the preload, before the restart: %.1f MiB (VmHWM %.1f MiB)\n",
           mib(rss), mib(hwm));
    if (t.accepted != b->o.open)
        problem(b->problems, "preload: %ld of %ld signals accepted", t.accepted, b->o.open);
    for (int i = 0; i < NSEND; i++)
        sender_free(&s[i]);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o}", "requested", (json_int_t)b->o.open,
                     "accepted", (json_int_t)t.accepted, "seconds", real3(secs), "signals_per_s",
                     real3(rate), "rss_after_mib", real3(mib(rss)), "hwm_after_mib",
                     real3(mib(hwm)));
}

/* The open referrals as the store holds them, and the database's size. */
static json_t *store_after_preload(struct bench *b)
{
    char db[PATH_MAX + 16], wal[PATH_MAX + 16];
    long open = db_count(b->h.dir,
                         "SELECT count(*) FROM referrals WHERE policy = 'lang' AND"
                         " state = 'aangeboden' AND receipt_due_ms IS NOT NULL AND"
                         " decision_due_ms IS NOT NULL",
                         SQLITE_OPEN_READONLY);
    long refs = db_count(b->h.dir, "SELECT count(*) FROM referrals", SQLITE_OPEN_READONLY);
    snprintf(db, sizeof db, "%s/hub.db", b->h.dir);
    snprintf(wal, sizeof wal, "%s/hub.db-wal", b->h.dir);
    double size = (double)(file_size(db) + file_size(wal)) / (1024.0 * 1024.0);
    printf("  store: %ld referrals, %ld of them open (aangeboden, policy lang, both deadlines set);"
           " hub.db + WAL %.1f MiB\n",
           refs, open, size);
    if (open != b->o.open)
        problem(b->problems, "preload: the store holds %ld open lang referrals, expected %ld", open,
                b->o.open);
    return json_pack("{s:I, s:I, s:o}", "referrals", (json_int_t)refs, "open_lang",
                     (json_int_t)open, "db_mib", real3(size));
}

/* 3. Restart with the open referrals: start-up, memory, an idle window. */
static json_t *phase_restart(struct bench *b)
{
    struct startup su;
    struct task before[TASKS_MAX], after[TASKS_MAX];
    char err[1024];
    if (start_timed(&b->h, b->cfg, &su, err, sizeof err) != 0) {
        problem(b->problems, "restart: %s; its log:", err);
        print_file(b->h.log, "  hub: ", 200);
        return json_null();
    }
    sleep_ms(SETTLE_MS);
    struct mem m = read_mem(b->h.pid);
    printf("\n[restart] pid %d with %ld open referrals in the store\n", (int)b->h.pid, b->o.open);
    print_startup("with them", &su, &m);
    if (b->o.open && su.scheduled < 2 * b->o.open)
        problem(b->problems,
                "restart: event=escalation_loaded scheduled=%ld, expected %ld (a receipt and a"
                " decision deadline per open referral)",
                su.scheduled, 2 * b->o.open);

    printf("  idle for %ld s: no client connected, nothing due\n", b->o.idle);
    size_t nb = read_tasks(b->h.pid, before, TASKS_MAX);
    double c0 = proc_cpu_s(b->h.pid);
    int64_t w0 = now_ns();
    sleep_ms(b->o.idle * 1000);
    double c1 = proc_cpu_s(b->h.pid);
    size_t na = read_tasks(b->h.pid, after, TASKS_MAX);
    double wall = (double)(now_ns() - w0) / NS_PER_S;
    double cpu = c0 >= 0 && c1 >= 0 ? c1 - c0 : -1;
    long long run = 0;
    long vol = 0, invol = 0;
    json_t *threads = json_array();
    char list[1024] = "";
    for (size_t i = 0; i < na; i++) {
        const struct task *a = &after[i], *p = NULL;
        for (size_t k = 0; k < nb && !p; k++)
            if (before[k].tid == a->tid)
                p = &before[k];
        long long dr = p && a->run_ns >= 0 && p->run_ns >= 0 ? a->run_ns - p->run_ns : a->run_ns;
        long dv = a->vol - (p ? p->vol : 0), di = a->invol - (p ? p->invol : 0);
        run += dr > 0 ? dr : 0;
        vol += dv;
        invol += di;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s %ld", used ? ", " : "", a->comm, dv + di);
        json_array_append_new(
            threads, json_pack("{s:s, s:I, s:I, s:o}", "name", a->comm, "voluntary", (json_int_t)dv,
                               "involuntary", (json_int_t)di, "run_ms", real3((double)dr / 1e6)));
    }
    printf("  CPU while idle: %.2f CPU-seconds (utime+stime, %ld Hz ticks) over %.2f s = %.2f%%"
           " of one core; on-CPU %.3f ms by schedstat\n",
           cpu, sysconf(_SC_CLK_TCK), wall, cpu >= 0 ? 100 * cpu / wall : -1, (double)run / 1e6);
    printf("  wake-ups: %ld voluntary + %ld involuntary context switches over %.2f s = %.1f/s,"
           " %zu threads (by thread: %s)\n",
           vol, invol, wall, (double)(vol + invol) / wall, na, list);
    return json_pack("{s:o, s:{s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o}}", "startup",
                     startup_json(&su, &m), "idle", "seconds", real3(wall), "cpu_s", real3(cpu),
                     "cpu_pct", real3(cpu >= 0 ? 100 * cpu / wall : -1), "run_ms",
                     real3((double)run / 1e6), "voluntary", (json_int_t)vol, "involuntary",
                     (json_int_t)invol, "wakeups_per_s", real3((double)(vol + invol) / wall),
                     "threads", threads);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct hook_rec *x = a, *y = b;
    int c = strcmp(x->referral, y->referral);
    if (!c)
        c = strcmp(x->deadline, y->deadline);
    if (c)
        return c;
    return (x->recv_ns > y->recv_ns) - (x->recv_ns < y->recv_ns);
}

/* The first alerts for one kind of crisis deadline. */
struct alert_kind {
    long firsts;
    int64_t min_ns;
    struct dist late;
};

/* What the receiver got, sorted and counted. */
struct alerts {
    long total, repeats, other;
    struct alert_kind receipt, decision; /* crisis deadlines */
};

/* The hub's CPU at every SLICE_S boundary of the lateness phase, read while
 * the main thread waits. */
struct timeline {
    pid_t pid;
    int64_t go_ns, go_wall_ns;
    int n; /* slices closed */
    double cpu_at[SLICES_MAX + 1];
};

static void timeline_tick(struct timeline *tl)
{
    int64_t t = now_ns();
    while (tl->n < SLICES_MAX && t >= tl->go_ns + (int64_t)(tl->n + 1) * SLICE_S * NS_PER_S)
        tl->cpu_at[++tl->n] = proc_cpu_s(tl->pid);
}

/* Sorts the receiver's records; counts first alerts per crisis deadline and
 * their lateness, repeats, and alerts of other policies. */
static void count_alerts(struct hooks *hk, struct alerts *al)
{
    struct samples lat[2] = {{0}, {0}};
    struct alert_kind *kinds[2] = {&al->receipt, &al->decision};
    memset(al, 0, sizeof *al);
    al->receipt.min_ns = al->decision.min_ns = INT64_MAX;
    pthread_mutex_lock(&hk->mu);
    qsort(hk->v, hk->n, sizeof *hk->v, cmp_rec);
    for (size_t i = 0; i < hk->n; i++) {
        const struct hook_rec *r = &hk->v[i];
        int k = strcmp(r->deadline, "receipt") == 0    ? 0
                : strcmp(r->deadline, "decision") == 0 ? 1
                                                       : -1;
        al->total++;
        if (strcmp(r->urgency, "crisis") != 0 || k < 0) {
            al->other++;
            continue;
        }
        if (i > 0 && strcmp(hk->v[i - 1].referral, r->referral) == 0 &&
            strcmp(hk->v[i - 1].deadline, r->deadline) == 0) {
            al->repeats++;
            continue;
        }
        int64_t late = r->recv_ns - r->deadline_ms * 1000000;
        kinds[k]->firsts++;
        kinds[k]->min_ns = late < kinds[k]->min_ns ? late : kinds[k]->min_ns;
        samples_add(&lat[k], late);
    }
    pthread_mutex_unlock(&hk->mu);
    for (int k = 0; k < 2; k++) {
        if (kinds[k]->min_ns == INT64_MAX)
            kinds[k]->min_ns = 0;
        kinds[k]->late = summarise(&lat[k]);
        free(lat[k].v);
    }
}

/* Per slice: the hub's CPU, the load's send -> accepted reply p99 (by time
 * sent) and the receipt alerts (by deadline) with their worst lateness. */
static json_t *print_slices(const struct timeline *tl, struct sender *load, int nload,
                            struct hooks *hk)
{
    json_t *arr = json_array();
    if (tl->n == 0)
        return arr;
    printf("  per %d s slice from the start of the load: hub CPU (%% of one core) | load send ->"
           " accepted p99 | receipt deadlines in the slice: alerts, worst lateness\n",
           SLICE_S);
    for (int k = 0; k < tl->n; k++) {
        int64_t lo = tl->go_ns + (int64_t)k * SLICE_S * NS_PER_S, hi = lo + SLICE_S * NS_PER_S;
        int64_t wlo = tl->go_wall_ns + (lo - tl->go_ns), whi = wlo + SLICE_S * NS_PER_S;
        struct samples ack = {0};
        for (int i = 0; i < nload; i++)
            for (long x = 0; x < load[i].sent; x++)
                if (load[i].log[x].ns >= lo && load[i].log[x].ns < hi && load[i].log[x].ack_ns)
                    samples_add(&ack, load[i].log[x].ack_ns);
        long alerts = 0;
        int64_t worst = 0;
        pthread_mutex_lock(&hk->mu);
        for (size_t i = 0; i < hk->n; i++) {
            const struct hook_rec *r = &hk->v[i];
            int64_t due = r->deadline_ms * 1000000;
            if (due < wlo || due >= whi || strcmp(r->urgency, "crisis") != 0 ||
                strcmp(r->deadline, "receipt") != 0 ||
                (i > 0 && strcmp(hk->v[i - 1].referral, r->referral) == 0 &&
                 strcmp(hk->v[i - 1].deadline, r->deadline) == 0))
                continue;
            alerts++;
            worst = r->recv_ns - due > worst ? r->recv_ns - due : worst;
        }
        pthread_mutex_unlock(&hk->mu);
        struct dist d = summarise(&ack);
        free(ack.v);
        double cpu = tl->cpu_at[k] >= 0 && tl->cpu_at[k + 1] >= 0
                         ? 100 * (tl->cpu_at[k + 1] - tl->cpu_at[k]) / SLICE_S
                         : -1;
        printf("    %3d-%3d s: %3.0f%% | %8.3f ms (%zu) | %4ld, %8.3f ms\n", k * SLICE_S,
               (k + 1) * SLICE_S, cpu, d.p99, d.n, alerts, (double)worst / NS_PER_MS);
        json_array_append_new(
            arr, json_pack("{s:i, s:o, s:o, s:I, s:I, s:o}", "from_s", k * SLICE_S, "hub_cpu_pct",
                           real3(cpu), "load_ack_p99_ms", real3(d.p99), "load_signals",
                           (json_int_t)d.n, "receipt_alerts", (json_int_t)alerts,
                           "worst_lateness_ms", real3((double)worst / NS_PER_MS)));
    }
    return arr;
}

/* 4. Crisis deadlines passing while a load of ordinary signals runs. */
static json_t *phase_lateness(struct bench *b)
{
    struct sender s[NSEND];
    struct totals tl, tc;
    struct alerts al;
    int nload = b->o.load > 0 ? NLOAD : 0;
    int64_t interval = b->o.seconds * NS_PER_S / b->o.crisis;
    int64_t load_interval = nload ? (int64_t)((double)NS_PER_S * NLOAD / (double)b->o.load) : 0;
    printf("\n[lateness] load: %d senders, %ld signals/s in all (urgentie normaal: one referral"
           " to kenniscentrum, policy standaard, no escalation), at most %d unanswered each\n",
           nload, b->o.load, LOAD_WINDOW);
    printf("  crisis: %s sends %ld signals, one every %.1f ms from %d ms after the load starts;"
           " each makes a referral to police-1 whose receipt deadline (PT2S) passes unanswered:"
           " one webhook alert each to anna at 127.0.0.1:%d\n",
           key_ids[KEY_SENDER0 + CRISIS_SENDER], b->o.crisis, (double)interval / NS_PER_MS,
           CRISIS_DELAY_MS, b->hk.port);
    /* s[0 .. nload): the load; s[nload]: the crisis sender. */
    for (int i = 0; i < nload; i++)
        sender_setup(&s[i], b->ctx, &b->h, &b->keys[KEY_SENDER0 + i], "normaal", 0, LOAD_WINDOW,
                     load_interval, 0);
    struct sender *crisis = &s[nload], *first = s;
    int nrun = nload + 1;
    sender_setup(crisis, b->ctx, &b->h, &b->keys[KEY_SENDER0 + CRISIS_SENDER], "crisis",
                 b->o.crisis, CRISIS_WINDOW, interval, (int64_t)CRISIS_DELAY_MS * 1000000);
    struct timeline line;
    memset(&line, 0, sizeof line);
    line.pid = b->h.pid;
    double h0 = proc_cpu_s(b->h.pid), b0 = self_cpu_s();
    int64_t go = senders_go(first, nrun, &b->h);
    line.go_ns = go;
    line.go_wall_ns = wall_ns();
    line.cpu_at[0] = proc_cpu_s(b->h.pid);
    int64_t until = now_ns() + (b->o.seconds + 60) * NS_PER_S;
    while (go && !atomic_load(&crisis->done) && hub_running(&b->h) && now_ns() < until) {
        timeline_tick(&line);
        sleep_ms(5);
    }
    /* The load goes on until the last deadline has passed, and a little more. */
    int64_t load_end = crisis->last_reply_ns + (int64_t)(RECEIPT_MS + LOAD_AFTER_MS) * 1000000;
    while (go && hub_running(&b->h) && now_ns() < load_end) {
        timeline_tick(&line);
        sleep_ms(5);
    }
    for (int i = 0; i < nrun; i++)
        atomic_store(&first[i].stop, 1);
    int64_t stop_at = now_ns();
    for (int i = 0; i < nrun; i++)
        sender_join(&first[i]);
    if (!go)
        problem(b->problems, "lateness: a sender had no session within %d s", WARMUP_TIMEOUT_S);
    else if (!atomic_load(&crisis->done) || crisis->sent < crisis->count)
        problem(b->problems, "lateness: the crisis sender did not finish (%ld of %ld sent)",
                crisis->sent, crisis->count);
    add_up(first, nload, &tl, b->problems, "load");
    add_up(crisis, 1, &tc, b->problems, "crisis");
    until = now_ns() + (int64_t)ALERT_WAIT_S * NS_PER_S;
    while (atomic_load(&b->hk.crisis_firsts) < tc.accepted && hub_running(&b->h) &&
           now_ns() < until) {
        timeline_tick(&line);
        sleep_ms(5);
    }
    int64_t end = now_ns();
    double hub_cpu = hub_running(&b->h) && h0 >= 0 ? proc_cpu_s(b->h.pid) - h0 : -1;
    double bench_cpu = self_cpu_s() - b0;
    double wall = go ? (double)(end - go) / NS_PER_S : 0;

    double load_s = nload && go ? (double)(stop_at - go) / NS_PER_S : 0;
    double load_rate = load_s > 0 ? (double)tl.accepted / load_s : 0;
    struct samples lack = {0};
    for (int i = 0; i < nload; i++)
        samples_append(&lack, &first[i].ack);
    struct dist ld = summarise(&lack), cd = summarise(&crisis->ack);
    free(lack.v);
    double crisis_s = (double)(crisis->last_send_ns - crisis->t0_ns) / NS_PER_S;
    if (nload)
        printf("  load: %ld signals accepted over %.2f s = %.0f signals/s (asked %ld/s);"
               " send -> accepted reply p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
               tl.accepted, load_s, load_rate, b->o.load, ld.p50, ld.p99, ld.max);
    printf("  crisis: %ld of %ld signals accepted, sent over %.2f s; send -> accepted reply"
           " p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           tc.accepted, crisis->count, crisis_s, cd.p50, cd.p99, cd.max);

    count_alerts(&b->hk, &al);
    json_t *slices = print_slices(&line, first, nload, &b->hk);
    printf("  alerts: %ld of %ld crisis receipt deadlines alerted (webhooks: %ld in all, %ld for"
           " crisis decision deadlines (PT60S), %ld repeated, %ld for other policies;"
           " %ld connections, %ld odd requests)\n",
           al.receipt.firsts, tc.accepted, al.total, al.decision.firsts, al.repeats, al.other,
           b->hk.conns, b->hk.bad);
    printf("  LATENESS (deadline_at -> webhook received): p50 %.3f ms, p99 %.3f ms, max %.3f ms"
           " (p90 %.3f, min %.3f: never negative; %zu receipt"
           " alerts); target p99 < 1000 ms\n",
           al.receipt.late.p50, al.receipt.late.p99, al.receipt.late.max, al.receipt.late.p90,
           (double)al.receipt.min_ns / NS_PER_MS, al.receipt.late.n);
    if (al.decision.firsts)
        printf("    decision deadlines that passed during the run: p50 %.3f ms, p99 %.3f ms,"
               " max %.3f ms (%zu alerts)\n",
               al.decision.late.p50, al.decision.late.p99, al.decision.late.max,
               al.decision.late.n);
    cpu_line("load, crisis signals and alerts", hub_cpu, bench_cpu, wall);
    report_thread("webhook receiver", b->hk.failed, b->hk.error, b->hk.shown, b->hk.nshown,
                  b->problems);
    b->hk.nshown = 0;
    if (al.receipt.firsts != tc.accepted)
        problem(b->problems,
                "lateness: %ld of %ld crisis receipt deadlines alerted within %d s"
                " of the load's end",
                al.receipt.firsts, tc.accepted, ALERT_WAIT_S);
    if (al.repeats || al.other)
        problem(b->problems,
                "lateness: %ld repeated alerts and %ld alerts for other policies"
                " (none expected: repeat is PT1H, the lang deadlines are days ahead)",
                al.repeats, al.other);
    int64_t min_ns =
        al.receipt.min_ns < al.decision.min_ns ? al.receipt.min_ns : al.decision.min_ns;
    if (min_ns < -EARLY_TOLERANCE_NS)
        problem(b->problems,
                "lateness: an alert came %.3f ms before its deadline (more than the hub's"
                " 1 ms clock granularity)",
                -(double)min_ns / NS_PER_MS);
    if (b->hk.bad)
        problem(b->problems, "webhook receiver: %ld requests it could not take", b->hk.bad);
    json_t *j = json_pack(
        "{s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:o, "
        "s:o, s:o, s:o}",
        "load_senders", (json_int_t)nload, "load_accepted", (json_int_t)tl.accepted, "load_s",
        real3(load_s), "load_per_s", real3(load_rate), "load_ack", dist_json(&ld), "crisis_sent",
        (json_int_t)tc.sent, "crisis_accepted", (json_int_t)tc.accepted, "crisis_spread_s",
        real3(crisis_s), "crisis_ack", dist_json(&cd), "lateness", dist_json(&al.receipt.late),
        "alerted", (json_int_t)al.receipt.firsts, "decision_lateness", dist_json(&al.decision.late),
        "webhooks", (json_int_t)al.total, "decision_alerts", (json_int_t)al.decision.firsts,
        "repeated", (json_int_t)al.repeats, "other", (json_int_t)al.other, "min_lateness_ms",
        real3((double)al.receipt.min_ns / NS_PER_MS), "hub_cpu_s", real3(hub_cpu), "cpu_wall_s",
        real3(wall), "slices", slices);
    for (int i = 0; i < nrun; i++)
        sender_free(&first[i]);
    return j;
}

/* Prints the hub's log lines of one kind: level=error, or warn lines other
 * than the expected escalation ones. Returns how many there were. */
static long print_log_kind(const char *log, int errors)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    long n = 0;
    while (f && fgets(line, sizeof line, f)) {
        int hit = errors
                      ? strstr(line, " level=error ") != NULL
                      : strstr(line, " level=warn ") && !strstr(line, "event=escalation_opened") &&
                            !strstr(line, "event=escalation_alert");
        if (hit && n++ < LOG_SHOWN)
            printf("  hub: %s%s", line, strchr(line, '\n') ? "" : "\n");
    }
    if (n > LOG_SHOWN)
        printf("  hub: ... %ld more\n", n - LOG_SHOWN);
    if (f)
        fclose(f);
    return n;
}

/* 5. SIGTERM, exit 0, the stored escalations and alerts against what was
 * accepted and received (webhooks < 0: the lateness phase did not run), the log. */
static json_t *phase_stop(struct bench *b, long crisis_accepted, long webhooks)
{
    char how[96];
    int clean = hub_stop_report(&b->h, b->problems, how, sizeof how);
    const char *dir = b->h.dir;
    int ro = SQLITE_OPEN_READONLY;
    long crisis = db_count(dir, "SELECT count(*) FROM referrals WHERE policy = 'crisis'", ro);
    long esc = db_count(dir, "SELECT count(*) FROM escalations", ro);
    long esc_receipt = db_count(
        dir, "SELECT count(*) FROM escalations WHERE policy = 'crisis' AND deadline = 'receipt'",
        ro);
    long esc_decision = db_count(
        dir, "SELECT count(*) FROM escalations WHERE policy = 'crisis' AND deadline = 'decision'",
        ro);
    long alerts = db_count(dir, "SELECT count(*) FROM alerts", ro);
    long delivered = db_count(dir, "SELECT count(*) FROM alerts WHERE state = 'delivered'", ro);
    long failed_attempts = db_count(
        dir, "SELECT count(*) FROM alert_attempts WHERE error IS NOT NULL AND error != ''", ro);
    printf("  stored: %ld crisis referrals; %ld escalations (crisis: %ld receipt, %ld decision);"
           " %ld alerts (%ld delivered); %ld failed attempts\n",
           crisis, esc, esc_receipt, esc_decision, alerts, delivered, failed_attempts);
    if (webhooks >= 0 && crisis >= 0 &&
        (crisis != crisis_accepted || esc_receipt != crisis || esc != esc_receipt + esc_decision))
        problem(b->problems,
                "the store holds %ld crisis referrals (%ld signals accepted) and %ld escalations"
                " (crisis: %ld receipt, %ld decision): expected one receipt escalation per"
                " crisis referral and no others but crisis decision ones",
                crisis, crisis_accepted, esc, esc_receipt, esc_decision);
    if (webhooks >= 0 && alerts >= 0 &&
        (alerts != esc || delivered != alerts || alerts != webhooks))
        problem(b->problems,
                "%ld alerts stored for %ld escalations, %ld delivered, %ld webhooks received:"
                " expected one each",
                alerts, esc, delivered, webhooks);
    if (failed_attempts > 0)
        problem(b->problems, "%ld alert attempts failed", failed_attempts);
    printf("  hub log (log_level info), lines at level error:\n");
    long errors = print_log_kind(b->h.log, 1);
    printf("  lines at level warn, other than event=escalation_opened and escalation_alert:\n");
    long warns = print_log_kind(b->h.log, 0);
    if (errors)
        problem(b->problems, "the hub logged %ld lines at level error", errors);
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "exit", how,
                     "exit_clean", clean, "crisis_referrals", (json_int_t)crisis, "escalations",
                     (json_int_t)esc, "escalations_crisis_receipt", (json_int_t)esc_receipt,
                     "escalations_crisis_decision", (json_int_t)esc_decision, "alerts",
                     (json_int_t)alerts, "alerts_delivered", (json_int_t)delivered,
                     "failed_attempts", (json_int_t)failed_attempts, "log_errors",
                     (json_int_t)errors, "log_other_warnings", (json_int_t)warns);
}

int main(int argc, char **argv)
{
    struct bench b;
    char err[1024], cpu[256], date[UTIL_TIME_LEN];
    int started = 0;
    long crisis_accepted = 0, webhooks = -1;
    json_t *empty = json_null(), *pre = json_null(), *store = json_null(), *restart = json_null();
    json_t *late = json_null(), *daemon = json_null();

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&b, 0, sizeof b);
    b.hk.lfd = -1;
    b.problems = json_array();
    if (parse_options(argc, argv, &b.o) != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0 || find_paths(&b.h, err, sizeof err) != 0) {
        fprintf(stderr, "bench_escalate: %s\n", err);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_model(cpu, sizeof cpu);
    util_time_now(date);
    printf("bench_escalate: %s, %ld CPUs online (%s)\n", date, ncpu, cpu);
    printf("note: the hub (loop, intake helper, WAL checkpoint and ZeroMQ I/O threads) and this"
           " bench (%d sender threads, a webhook receiver thread, ZeroMQ I/O thread) share these"
           " %ld CPUs.\n",
           NSEND, ncpu);
    printf("config: --open %ld --crisis %ld --load %ld --seconds %ld --idle %ld; policies crisis"
           " (receipt PT2S, decision PT60S), lang (receipt P7D, decision P30D), both escalating"
           " at once (after PT0S, repeat PT1H) to the officer on duty (anna, all week) by"
           " webhook; alerting timeout PT5S, max_attempts 3, redeliver PT1M; standaard"
           " (P1D/P5D) without escalation\n",
           b.o.open, b.o.crisis, b.o.load, b.o.seconds, b.o.idle);
    if (hub_make_dir(&b.h, b.o.parent, err, sizeof err) != 0) {
        fprintf(stderr, "bench_escalate: %s\n", err);
        return 1;
    }
    printf("folder: %s (hub config, keys, database and log)\n", b.h.dir);
    b.ctx = zmq_ctx_new();
    if (!b.ctx) {
        problem(b.problems, "cannot create a ZeroMQ context");
        goto cleanup;
    }
    for (int i = 0; i < NKEYS; i++)
        snprintf(b.keys[i].id, sizeof b.keys[i].id, "%s", key_ids[i]);
    if (write_keys(&b.h, b.keys, NKEYS, err, sizeof err) != 0 ||
        write_secret(b.h.dir, err, sizeof err) != 0 || hooks_start(&b.hk, err, sizeof err) != 0 ||
        !(b.cfg = build_config(&b, err, sizeof err))) {
        problem(b.problems, "%s", err);
        goto cleanup;
    }
    started = 1;
    pre = phase_preload(&b, &empty);
    if (json_array_size(b.problems) != 0)
        goto cleanup;
    char how[96];
    if (!hub_stop_report(&b.h, b.problems, how, sizeof how))
        goto cleanup;
    if (b.o.open)
        store = store_after_preload(&b);
    restart = phase_restart(&b);
    if (json_array_size(b.problems) != 0)
        goto cleanup;
    late = phase_lateness(&b);
    crisis_accepted = (long)json_integer_value(json_object_get(late, "crisis_accepted"));
    if (json_object_get(late, "webhooks"))
        webhooks = (long)json_integer_value(json_object_get(late, "webhooks"));

cleanup:
    if (started && b.h.pid > 0)
        daemon = phase_stop(&b, crisis_accepted, webhooks);
    hooks_stop(&b.hk);
    for (int k = 0; k < b.hk.nshown; k++)
        free(b.hk.shown[k]);
    free(b.hk.v);
    if (b.ctx)
        zmq_ctx_term(b.ctx); /* every socket is closed by now */
    if (b.o.keep)
        printf("  kept %s\n", b.h.dir);
    else if (rm_tree(b.h.dir) != 0)
        problem(b.problems, "could not remove all of %s", b.h.dir);

    int ok = json_array_size(b.problems) == 0;
    json_t *all = json_pack(
        "{s:s, s:s, s:{s:I, s:s}, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:b, s:o}",
        "bench", "escalate", "date", date, "machine", "nproc", (json_int_t)ncpu, "cpu", cpu, "dir",
        b.h.dir, "options", "open", (json_int_t)b.o.open, "crisis", (json_int_t)b.o.crisis,
        "load_per_s", (json_int_t)b.o.load, "seconds", (json_int_t)b.o.seconds, "idle_s",
        (json_int_t)b.o.idle, "receipt_ms", (json_int_t)RECEIPT_MS, "empty", empty, "preload", pre,
        "store", store, "restart", restart, "lateness", late, "daemon", daemon, "ok", ok,
        "problems", b.problems);
    print_json_line(all, "escalate");
    json_decref(b.cfg);
    return ok ? 0 : 1;
}
