/*
 * bench_intake - how fast the hub takes in events, next to what its disk can do.
 *
 * In one run and in one folder (a fresh temp dir): measures the disk's own
 * fsync rate and latency, starts the real ketenhubd there (its own config,
 * keys and database), and drives it over CURVE as partners' adapters would:
 *   - throughput: N DEALER senders, each keeping W events in flight;
 *   - latency: one sender, one event in flight.
 * Then stops the hub with SIGTERM and checks that it exits 0 and stored every
 * accepted event.
 *
 * Prints figures, never verdicts on them: the targets live in
 * docs/benchmarks.md. It exits 1 only for a broken run (the hub does not start,
 * dies, stalls, rejects a valid event or exits non-zero), because such a run's
 * figures mean nothing. The last line of output is one JSON object with every
 * figure, for scripts.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "benchutil.h"
#include "util.h"

#define EVENT_BYTES 1024 /* size of every event frame */
#define EVENT_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"
#define FSYNC_SECONDS 2.0      /* bound of the main fsync probe */
#define FSYNC_MAX_COUNT 200000 /* ... and its count bound */
#define FSYNC_ALT_SECONDS 1.0  /* bound of the overwrite variant */
#define WARMUP_TIMEOUT_S 15    /* first reply on a connection (CURVE + ZAP) */
#define STALL_TIMEOUT_S 10     /* no reply at all for this long: the hub stalled */
#define LATENCY_MAX_S 60       /* bound of the latency scenario */
#define THROUGHPUT_WARMUP 8    /* events per sender before the clock starts */
#define LATENCY_WARMUP 50
#define SHOWN_PER_SENDER 3 /* odd replies kept for printing */
#define SHOWN_MAX 10

struct options {
    long senders;
    long window;
    long seconds;
    long latency_count;
    const char *parent; /* folder the temp dir is made in */
    int keep;
};

/* ---- 1. the disk -------------------------------------------------------- */

struct fsync_result {
    const char *method;
    double seconds;
    double per_s;
    struct dist lat;
};

/*
 * Writes 1 KiB and syncs it, in a loop, on a file in `dir`, until `seconds`
 * or `max_count`. append = 1 grows the file (a WAL being filled: fdatasync
 * must also persist the new size); 0 overwrites 64 KiB in place (a WAL
 * reused after a checkpoint). fdatasync is what SQLite calls on Linux.
 */
static int measure_fsync(const char *dir, int append, double seconds, long max_count,
                         struct fsync_result *out, char *err, size_t errlen)
{
    char path[PATH_MAX], block[1024];
    struct samples s = {0};
    int rc = -1;
    memset(block, 'k', sizeof block);
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (!append) {
        for (int i = 0; i < 64; i++)
            if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
                goto io_fail;
        if (fsync(fd) != 0)
            goto io_fail;
    }
    int64_t start = now_ns(), bound = start + (int64_t)(seconds * NS_PER_S);
    long i = 0;
    for (; i < max_count; i++) {
        int64_t t0 = now_ns();
        if (t0 >= bound)
            break;
        ssize_t w = append ? write(fd, block, sizeof block)
                           : pwrite(fd, block, sizeof block, (off_t)((i % 64) * 1024));
        if (w != (ssize_t)sizeof block || fdatasync(fd) != 0)
            goto io_fail;
        if (samples_add(&s, now_ns() - t0) != 0) {
            set_err(err, errlen, "out of memory");
            goto done;
        }
    }
    out->method = append ? "append 1 KiB + fdatasync" : "overwrite 1 KiB in place + fdatasync";
    out->seconds = (double)(now_ns() - start) / NS_PER_S;
    out->per_s = out->seconds > 0 ? (double)i / out->seconds : 0;
    out->lat = summarise(&s);
    rc = 0;
    goto done;
io_fail:
    set_err(err, errlen, "write/fdatasync on %s failed: %s", path, strerror(errno));
done:
    close(fd);
    unlink(path);
    free(s.v);
    return rc;
}

/* ---- 2. the hub --------------------------------------------------------- */

/* The hub's config but for "listen" and "schemas" (hub_start sets those):
 * one police partner per sender. NULL with err filled; the caller owns it. */
static json_t *build_config(const struct partner_keys *pk, long n, char *err, size_t errlen)
{
    json_t *partners = json_array();
    for (long i = 0; i < n; i++)
        json_array_append_new(partners, json_pack("{s:s, s:s, s:s, s:s}", "id", pk[i].id, "name",
                                                  "bench sender", "role", "police", "public_key",
                                                  pk[i].public_z85));
    /* Every hub needs a coordinator: signals that no route sends anywhere go
     * there. This one never connects, so each signal costs the hub a
     * referral and a queued delivery, as a real signal does. */
    char coord_pub[KEYFILE_Z85_LEN + 1], coord_sec[KEYFILE_Z85_LEN + 1];
    if (zmq_curve_keypair(coord_pub, coord_sec) != 0) {
        json_decref(partners);
        set_err(err, errlen, "cannot make a key pair: %s", zmq_strerror(errno));
        return NULL;
    }
    json_array_append_new(partners, json_pack("{s:s, s:s, s:s, s:s}", "id", "bench-coordinator",
                                              "name", "bench coordinator (never connects)", "role",
                                              "coordinator", "public_key", coord_pub));
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "database", "hub.db", "server_key",
                            "keys/hub.key", "encryption_key", "keys/store.secret", "pseudonym_key",
                            "keys/pseudonym.secret", "log_level", "warn", "partners", partners);
    if (!cfg)
        set_err(err, errlen, "cannot build the config");
    return cfg;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, c;
    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* CPU time all processes spent busy since boot (not idle, not waiting on I/O). */
static double machine_busy_s(void)
{
    char line[512];
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    if (!ok || strncmp(line, "cpu ", 4) != 0)
        return -1;
    /* user nice system idle iowait irq softirq steal */
    char *p = line + 4, *end;
    for (int i = 0; i < 8; i++) {
        v[i] = strtoull(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

/* ---- 3 and 4. the senders ----------------------------------------------- */

/* One ~1 KiB event; only the id changes from one to the next. */
struct event_buf {
    char text[EVENT_BYTES + 1];
    size_t len;
    size_t id_at;
};

static void uuid_v4(char out[36])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
}

static int event_init(struct event_buf *e, int sender)
{
    static const char pad[] = "Bench-signaal zonder persoonsgegevens, opvulling tot 1 KiB. ";
    char head[512], tail[16];
    int hn = snprintf(head, sizeof head,
                      "{\"specversion\":\"1.0\",\"id\":\"%036d\","
                      "\"source\":\"urn:nld:oin:00000001003214345000:systeem:bench-%02d\","
                      "\"type\":\"" EVENT_TYPE "\",\"time\":\"2026-11-29T08:00:00Z\","
                      "\"datacontenttype\":\"application/json\",\"data\":{"
                      "\"vormenVanUitbuiting\":[\"arbeid\"],\"urgentie\":\"normaal\","
                      "\"minderjarig\":false,\"woongemeente\":\"GM0153\","
                      "\"indicatoren\":[\"onderbetaling\",\"excessieve-werktijden\"],"
                      "\"toestemming\":{\"registratieCoMensha\":false},\"omschrijving\":\"",
                      0, sender);
    int tn = snprintf(tail, sizeof tail, "\"}}");
    if (hn < 0 || tn < 0 || (size_t)hn + (size_t)tn >= EVENT_BYTES)
        return -1;
    size_t padlen = EVENT_BYTES - (size_t)hn - (size_t)tn;
    memcpy(e->text, head, (size_t)hn);
    for (size_t i = 0; i < padlen; i++)
        e->text[(size_t)hn + i] = pad[i % (sizeof pad - 1)];
    memcpy(e->text + hn + padlen, tail, (size_t)tn);
    e->len = EVENT_BYTES;
    e->text[e->len] = '\0';
    e->id_at = (size_t)(strstr(e->text, "\"id\":\"") - e->text) + 6;
    return 0;
}

/* Gives the event a fresh id and copies it to id (36 chars, no NUL). */
static void event_renew(struct event_buf *e, char id[36])
{
    uuid_v4(e->text + e->id_at);
    memcpy(id, e->text + e->id_at, 36);
}

enum reply_kind { REPLY_ACCEPTED, REPLY_DUPLICATE, REPLY_REJECTED, REPLY_MALFORMED };

/*
 * What a reply says, and which event it answers (id, 36 chars; *has_id 0 when
 * the ack is null or not a UUID-length string). The common accepted reply is
 * recognised without a JSON parse so the bench leaves the CPU to the hub.
 */
static enum reply_kind classify(const char *data, size_t len, char id[36], int *has_id)
{
    static const char pre[] = "{\"ack\":\"", post[] = "\",\"status\":\"accepted\"";
    *has_id = 0;
    if (len > 8 + 36 + 21 && memcmp(data, pre, 8) == 0 && memcmp(data + 44, post, 21) == 0) {
        memcpy(id, data + 8, 36);
        *has_id = 1;
        return find(data + 65, len - 65, "\"duplicate\"") ? REPLY_DUPLICATE : REPLY_ACCEPTED;
    }
    json_t *r = json_loadb(data, len, 0, NULL);
    enum reply_kind kind = REPLY_MALFORMED;
    const char *ack = json_string_value(json_object_get(r, "ack"));
    const char *status = json_string_value(json_object_get(r, "status"));
    if (ack && strlen(ack) == 36) {
        memcpy(id, ack, 36);
        *has_id = 1;
    }
    if (status && strcmp(status, "accepted") == 0 && json_is_integer(json_object_get(r, "seq")))
        kind = json_is_true(json_object_get(r, "duplicate")) ? REPLY_DUPLICATE : REPLY_ACCEPTED;
    else if (status && strcmp(status, "rejected") == 0)
        kind = REPLY_REJECTED;
    json_decref(r);
    return kind;
}

/* Shared by the senders of one scenario. */
struct run {
    void *ctx;
    const struct hub *hub;
    pthread_barrier_t ready, go;
    atomic_int stop;      /* stop sending, collect what is in flight */
    atomic_int abort_run; /* a sender failed its warm-up: nobody starts */
    atomic_int finished;
};

struct flight {
    char id[36];
    int64_t sent_ns;
    int done;
};

struct sender {
    pthread_t thread;
    int index;
    struct run *run;
    const struct partner_keys *keys;
    long window;
    long max_events; /* 0: until run->stop */
    long warmup;
    /* results */
    struct samples lat;
    long sent, accepted, duplicates, rejected, malformed, unknown_acks, unanswered;
    long warmup_accepted, warmup_other;
    int64_t last_reply_ns;
    int failed;
    char error[256];
    char *shown[SHOWN_PER_SENDER];
    int nshown;
};

static void keep_reply(struct sender *s, const char *data, size_t len)
{
    keep_frame(s->shown, &s->nshown, SHOWN_PER_SENDER, 600, data, len);
}

/* Sends `count` events one at a time, each answered within the timeout. */
static int warm_up(struct sender *s, void *sock, struct event_buf *ev)
{
    for (long i = 0; i < s->warmup; i++) {
        char id[36], got[36];
        int has_id;
        event_renew(ev, id);
        if (zmq_send(sock, ev->text, ev->len, 0) < 0) {
            snprintf(s->error, sizeof s->error, "warm-up send: %s", zmq_strerror(errno));
            return -1;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, WARMUP_TIMEOUT_S * 1000) <= 0) {
            snprintf(s->error, sizeof s->error,
                     "no reply to a warm-up event within %d s (CURVE handshake refused?)",
                     WARMUP_TIMEOUT_S);
            return -1;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            snprintf(s->error, sizeof s->error, "warm-up recv: %s", zmq_strerror(errno));
            return -1;
        }
        enum reply_kind k = classify(zmq_msg_data(&m), zmq_msg_size(&m), got, &has_id);
        if (k == REPLY_ACCEPTED && has_id && memcmp(got, id, 36) == 0) {
            s->warmup_accepted++;
        } else {
            s->warmup_other++;
            keep_reply(s, zmq_msg_data(&m), zmq_msg_size(&m));
        }
        zmq_msg_close(&m);
    }
    return 0;
}

/* Matches one reply to its event (oldest first: replies come in order). */
static void take_reply(struct sender *s, struct flight *ring, size_t *head, size_t *count,
                       const char *data, size_t len, int64_t t)
{
    char id[36];
    int has_id;
    enum reply_kind kind = classify(data, len, id, &has_id);
    struct flight *hit = NULL;
    size_t w = (size_t)s->window;
    s->last_reply_ns = t;
    for (size_t i = 0; has_id && i < *count; i++) {
        struct flight *f = &ring[(*head + i) % w];
        if (!f->done && memcmp(f->id, id, 36) == 0) {
            hit = f;
            break;
        }
    }
    if (!hit) {
        s->unknown_acks++;
        keep_reply(s, data, len);
        return;
    }
    hit->done = 1;
    if (samples_add(&s->lat, t - hit->sent_ns) != 0)
        s->failed = 1;
    switch (kind) {
    case REPLY_ACCEPTED:
        s->accepted++;
        break;
    case REPLY_DUPLICATE:
        s->duplicates++; /* every id is fresh: a duplicate is a hub bug */
        keep_reply(s, data, len);
        break;
    case REPLY_REJECTED:
        s->rejected++;
        keep_reply(s, data, len);
        break;
    case REPLY_MALFORMED:
        s->malformed++;
        keep_reply(s, data, len);
        break;
    }
    while (*count > 0 && ring[*head].done) {
        *head = (*head + 1) % w;
        (*count)--;
    }
}

static void pump(struct sender *s, void *sock, struct event_buf *ev)
{
    size_t w = (size_t)s->window, head = 0, count = 0;
    struct flight *ring = calloc(w, sizeof *ring);
    if (!ring) {
        s->failed = 1;
        snprintf(s->error, sizeof s->error, "out of memory");
        return;
    }
    int64_t last_progress = now_ns();
    for (;;) {
        int stopping = atomic_load(&s->run->stop);
        while (!stopping && count < w && (s->max_events == 0 || s->sent < s->max_events)) {
            struct flight *f = &ring[(head + count) % w];
            event_renew(ev, f->id);
            f->done = 0;
            f->sent_ns = now_ns();
            if (zmq_send(sock, ev->text, ev->len, ZMQ_DONTWAIT) < 0) {
                if (errno == EAGAIN)
                    break;
                snprintf(s->error, sizeof s->error, "send: %s", zmq_strerror(errno));
                s->failed = 1;
                goto done;
            }
            count++;
            s->sent++;
        }
        if (count == 0 && (stopping || (s->max_events && s->sent >= s->max_events)))
            break;
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) < 0 && errno != EINTR) {
            snprintf(s->error, sizeof s->error, "poll: %s", zmq_strerror(errno));
            s->failed = 1;
            goto done;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            int64_t t = now_ns();
            take_reply(s, ring, &head, &count, zmq_msg_data(&m), zmq_msg_size(&m), t);
            last_progress = t;
        }
        zmq_msg_close(&m);
        if (count > 0 && now_ns() - last_progress > (int64_t)STALL_TIMEOUT_S * NS_PER_S) {
            snprintf(s->error, sizeof s->error,
                     "no reply for %d s with %zu events in flight: the hub stalled",
                     STALL_TIMEOUT_S, count);
            s->failed = 1;
            break;
        }
    }
done:
    for (size_t i = 0; i < count; i++)
        s->unanswered += !ring[(head + i) % w].done;
    free(ring);
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    struct event_buf *ev = malloc(sizeof *ev);
    void *sock = NULL;
    int ok = 0;
    if (!ev || event_init(ev, s->index + 1) != 0)
        snprintf(s->error, sizeof s->error, "cannot build the event");
    else if ((sock = curve_dealer(s->run->ctx, s->run->hub, s->keys, (int)s->window + 16, -1,
                                  s->error, sizeof s->error)) != NULL &&
             warm_up(s, sock, ev) == 0)
        ok = 1;
    if (!ok) {
        s->failed = 1;
        atomic_store(&s->run->abort_run, 1);
    }
    pthread_barrier_wait(&s->run->ready);
    pthread_barrier_wait(&s->run->go);
    if (ok && !atomic_load(&s->run->abort_run))
        pump(s, sock, ev);
    if (sock)
        zmq_close(sock);
    free(ev);
    atomic_fetch_add(&s->run->finished, 1);
    return NULL;
}

struct scenario {
    long senders, window;
    double seconds; /* clock start to the last reply */
    long sent, accepted, duplicates, rejected, malformed, unknown_acks, unanswered;
    long warmup_accepted, warmup_other;
    double per_s;
    struct dist lat;
    double hub_cpu_s, bench_cpu_s, other_cpu_s; /* other: every other process */
    double cpu_wall_s;                          /* the interval those were measured over */
    int failed;
};

/*
 * Runs n senders until max_seconds have passed (throughput) or each has sent
 * its max_events (latency; then max_seconds is only the bound). Prints every
 * sender's error and odd replies.
 */
static int run_scenario(struct hub *h, void *ctx, struct sender *ss, long n, double max_seconds,
                        struct scenario *out)
{
    struct run r;
    struct samples all = {0};
    long started = 0;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.hub = h;
    pthread_barrier_init(&r.ready, NULL, (unsigned)n + 1);
    pthread_barrier_init(&r.go, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; i++) {
        ss[i].run = &r;
        if (pthread_create(&ss[i].thread, NULL, sender_main, &ss[i]) != 0) {
            /* The barriers count n + 1: without every thread nobody passes. */
            fprintf(stderr, "bench_intake: cannot start sender thread %ld\n", i);
            exit(1);
        }
        started++;
    }
    pthread_barrier_wait(&r.ready);
    double hub0 = proc_cpu_s(h->pid), self0 = self_cpu_s(), busy0 = machine_busy_s();
    int64_t t0 = now_ns();
    pthread_barrier_wait(&r.go);
    int aborted = atomic_load(&r.abort_run);
    int64_t bound = t0 + (int64_t)(max_seconds * NS_PER_S);
    while (!aborted && atomic_load(&r.finished) < n && now_ns() < bound) {
        if (!hub_running(h))
            break;
        sleep_ms(10);
    }
    atomic_store(&r.stop, 1);
    for (long i = 0; i < started; i++)
        pthread_join(ss[i].thread, NULL);
    pthread_barrier_destroy(&r.ready);
    pthread_barrier_destroy(&r.go);
    out->hub_cpu_s = hub_running(h) ? proc_cpu_s(h->pid) - hub0 : -1;
    out->bench_cpu_s = self_cpu_s() - self0;
    out->other_cpu_s = machine_busy_s() - busy0 - out->hub_cpu_s - out->bench_cpu_s;
    if (out->other_cpu_s < 0) /* /proc/stat ticks are coarser than the processes' own */
        out->other_cpu_s = 0;
    out->cpu_wall_s = (double)(now_ns() - t0) / NS_PER_S;

    int64_t last = t0;
    int shown = 0;
    out->senders = n;
    out->window = ss[0].window;
    out->failed = aborted;
    for (long i = 0; i < n; i++) {
        struct sender *s = &ss[i];
        out->sent += s->sent;
        out->accepted += s->accepted;
        out->duplicates += s->duplicates;
        out->rejected += s->rejected;
        out->malformed += s->malformed;
        out->unknown_acks += s->unknown_acks;
        out->unanswered += s->unanswered;
        out->warmup_accepted += s->warmup_accepted;
        out->warmup_other += s->warmup_other;
        if (s->last_reply_ns > last)
            last = s->last_reply_ns;
        if (samples_append(&all, &s->lat) != 0)
            out->failed = 1;
        if (s->failed) {
            out->failed = 1;
            printf("  sender %s: FAILED: %s\n", s->keys->id, s->error[0] ? s->error : "?");
        }
        for (int k = 0; k < s->nshown; k++) {
            if (shown++ < SHOWN_MAX)
                printf("  sender %s: unexpected reply: %s\n", s->keys->id, s->shown[k]);
            free(s->shown[k]);
        }
        free(s->lat.v);
    }
    if (!hub_running(h)) {
        char how[96];
        describe_status(h->status, how, sizeof how);
        printf("  the hub is gone during the scenario: %s\n", how);
        out->failed = 1;
    }
    out->seconds = (double)(last - t0) / NS_PER_S;
    out->per_s = out->seconds > 0 ? (double)out->accepted / out->seconds : 0;
    out->lat = summarise(&all);
    free(all.v);
    return out->failed ? -1 : 0;
}

static void print_scenario(const struct scenario *sc)
{
    printf("  sent %ld, accepted %ld in %.2f s = %.0f events/s\n", sc->sent, sc->accepted,
           sc->seconds, sc->per_s);
    printf("  ack latency (send -> reply, per event): p50 %.3f ms, p99 %.3f ms, max %.3f ms"
           " (p90 %.3f, p99.9 %.3f; %zu samples)\n",
           sc->lat.p50, sc->lat.p99, sc->lat.max, sc->lat.p90, sc->lat.p999, sc->lat.n);
    printf("  rejected %ld, duplicate %ld, malformed %ld, unmatched ack %ld, unanswered %ld%s\n",
           sc->rejected, sc->duplicates, sc->malformed, sc->unknown_acks, sc->unanswered,
           sc->rejected + sc->duplicates + sc->malformed + sc->unknown_acks + sc->unanswered
               ? "   <-- HUB BUG: every event is valid and new"
               : "");
    if (sc->hub_cpu_s >= 0 && sc->cpu_wall_s > 0) {
        double w = sc->cpu_wall_s / 100;
        printf("  CPU over %.2f s: hub %.2f s (%.0f%% of one core), bench %.2f s (%.0f%%),"
               " other processes %.2f s (%.0f%%)%s\n",
               sc->cpu_wall_s, sc->hub_cpu_s, sc->hub_cpu_s / w, sc->bench_cpu_s,
               sc->bench_cpu_s / w, sc->other_cpu_s, sc->other_cpu_s / w,
               sc->other_cpu_s / w > 10 ? "   <-- the machine was not quiet" : "");
    }
}

static json_t *scenario_json(const struct scenario *sc)
{
    json_t *j =
        json_pack("{s:I, s:I, s:o, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o}", "senders",
                  (json_int_t)sc->senders, "window", (json_int_t)sc->window, "seconds",
                  real3(sc->seconds), "sent", (json_int_t)sc->sent, "accepted",
                  (json_int_t)sc->accepted, "events_per_s", real3(sc->per_s), "rejected",
                  (json_int_t)sc->rejected, "duplicates", (json_int_t)sc->duplicates, "malformed",
                  (json_int_t)sc->malformed, "unmatched_acks", (json_int_t)sc->unknown_acks,
                  "unanswered", (json_int_t)sc->unanswered, "ack_latency", dist_json(&sc->lat));
    json_object_set_new(j, "hub_cpu_s", real3(sc->hub_cpu_s));
    json_object_set_new(j, "bench_cpu_s", real3(sc->bench_cpu_s));
    json_object_set_new(j, "other_cpu_s", real3(sc->other_cpu_s));
    json_object_set_new(j, "cpu_wall_s", real3(sc->cpu_wall_s));
    return j;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_intake [--senders N] [--window W] [--seconds S]\n"
               "                    [--latency-count C] [--dir PATH] [--keep]\n"
               "  --senders N        concurrent CURVE senders, one partner each (default 8)\n"
               "  --window W         events each sender keeps in flight (default 64)\n"
               "  --seconds S        length of the throughput scenario (default 5)\n"
               "  --latency-count C  events of the 1-in-flight scenario, 0 skips it"
               " (default 2000)\n"
               "  --dir PATH         make the temp dir (database, fsync probe) under PATH"
               " (default /tmp)\n"
               "  --keep             leave the temp dir (config, keys, database, hub log)\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    const struct long_option opts[] = {{"--senders", &o->senders, 1, 256},
                                       {"--window", &o->window, 1, 100000},
                                       {"--seconds", &o->seconds, 1, 3600},
                                       {"--latency-count", &o->latency_count, 0, 10000000}};
    o->senders = 8;
    o->window = 64;
    o->seconds = 5;
    o->latency_count = 2000;
    o->parent = "/tmp";
    o->keep = 0;
    return parse_long_options("bench_intake", argc, argv, opts, sizeof opts / sizeof opts[0],
                              &o->parent, &o->keep, usage);
}

static json_t *fsync_json(const struct fsync_result *fs)
{
    json_t *j = dist_json(&fs->lat);
    json_object_set_new(j, "method", json_string(fs->method));
    json_object_set_new(j, "per_s", real3(fs->per_s));
    return j;
}

int main(int argc, char **argv)
{
    struct options o;
    struct hub h;
    struct partner_keys *pk = NULL;
    struct sender *ss = NULL;
    struct fsync_result fs, fs_alt;
    struct scenario tp, lt;
    char err[1024], cpu[256], date[UTIL_TIME_LEN];
    void *ctx = NULL;
    int started = 0, ran_fsync = 0, ran_tp = 0, ran_lt = 0;
    json_t *problems = json_array();
    json_t *daemon = json_object();
    json_t *cfg = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&h, 0, sizeof h);
    memset(&tp, 0, sizeof tp);
    memset(&lt, 0, sizeof lt);
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "bench_intake: libsodium failed to initialise\n");
        return 1;
    }
    if (find_paths(&h, err, sizeof err) != 0) {
        fprintf(stderr, "bench_intake: %s\n", err);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_model(cpu, sizeof cpu);
    util_time_now(date);
    printf("bench_intake: %s, %ld CPUs online (%s)\n", date, ncpu, cpu);
    printf("note: the hub (its loop thread + ZeroMQ I/O thread) and this bench (%ld sender"
           " threads + ZeroMQ I/O thread) share these %ld CPUs, so the hub does not have the"
           " machine to itself.\n",
           o.senders, ncpu);

    if (hub_make_dir(&h, o.parent, err, sizeof err) != 0) {
        fprintf(stderr, "bench_intake: %s\n", err);
        return 1;
    }
    printf("folder: %s (database, fsync probe, hub config, keys and log)\n", h.dir);

    /* 1. the disk, in the folder the database will live in */
    if (measure_fsync(h.dir, 1, FSYNC_SECONDS, FSYNC_MAX_COUNT, &fs, err, sizeof err) != 0 ||
        measure_fsync(h.dir, 0, FSYNC_ALT_SECONDS, FSYNC_MAX_COUNT, &fs_alt, err, sizeof err) !=
            0) {
        problem(problems, "fsync probe: %s", err);
        goto cleanup;
    }
    ran_fsync = 1;
    printf("\n[disk] %s, %zu times in %.2f s\n", fs.method, fs.lat.n, fs.seconds);
    printf("  fsync rate %.0f /s, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", fs.per_s,
           fs.lat.p50, fs.lat.p99, fs.lat.max);
    printf("  (for reference, %s: %.0f /s, p50 %.3f ms, p99 %.3f ms)\n", fs_alt.method,
           fs_alt.per_s, fs_alt.lat.p50, fs_alt.lat.p99);

    /* 2. the hub */
    pk = calloc((size_t)o.senders, sizeof *pk);
    ss = calloc((size_t)o.senders, sizeof *ss);
    if (!pk || !ss) {
        problem(problems, "out of memory");
        goto cleanup;
    }
    for (long i = 0; i < o.senders; i++)
        snprintf(pk[i].id, sizeof pk[i].id, "bench-%02ld", i + 1);
    if (write_keys(&h, pk, o.senders, err, sizeof err) != 0 ||
        !(cfg = build_config(pk, o.senders, err, sizeof err))) {
        problem(problems, "%s", err);
        goto cleanup;
    }
    if (hub_start(&h, cfg, err, sizeof err) != 0) {
        problem(problems, "%s; its stderr:", err);
        print_file(h.log, "  hub: ", 200);
        goto cleanup;
    }
    started = 1;
    printf("\n[hub] %s pid %d listening on %s, %ld partners (role police), log_level warn\n",
           h.hubd, (int)h.pid, h.endpoint, o.senders);
    ctx = zmq_ctx_new();
    if (!ctx) {
        problem(problems, "zmq_ctx_new: %s", zmq_strerror(errno));
        goto cleanup;
    }

    /* 3. throughput */
    printf("\n[throughput] %ld senders x %ld in flight, %d-byte events, %ld s\n", o.senders,
           o.window, EVENT_BYTES, o.seconds);
    for (long i = 0; i < o.senders; i++) {
        ss[i].index = (int)i;
        ss[i].keys = &pk[i];
        ss[i].window = o.window;
        ss[i].warmup = THROUGHPUT_WARMUP;
    }
    ran_tp = 1;
    if (run_scenario(&h, ctx, ss, o.senders, (double)o.seconds, &tp) != 0)
        problem(problems, "throughput scenario failed (see above)");
    print_scenario(&tp);
    printf("  group commit factor: %.1f (accepted events/s / fsync rate %.0f /s)\n",
           fs.per_s > 0 ? tp.per_s / fs.per_s : 0, fs.per_s);

    /* 4. latency */
    if (o.latency_count > 0 && json_array_size(problems) == 0) {
        printf("\n[latency] 1 sender, 1 in flight, %ld events (bound %d s)\n", o.latency_count,
               LATENCY_MAX_S);
        memset(ss, 0, sizeof *ss);
        ss[0].keys = &pk[0];
        ss[0].window = 1;
        ss[0].max_events = o.latency_count;
        ss[0].warmup = LATENCY_WARMUP;
        ran_lt = 1;
        if (run_scenario(&h, ctx, ss, 1, LATENCY_MAX_S, &lt) != 0)
            problem(problems, "latency scenario failed (see above)");
        print_scenario(&lt);
        printf("  p99 ack latency - fsync p99: %.3f ms (%.3f - %.3f)\n", lt.lat.p99 - fs.lat.p99,
               lt.lat.p99, fs.lat.p99);
    }
    long bad = tp.rejected + tp.duplicates + tp.malformed + tp.unknown_acks + tp.unanswered +
               tp.warmup_other + lt.rejected + lt.duplicates + lt.malformed + lt.unknown_acks +
               lt.unanswered + lt.warmup_other;
    if (bad)
        problem(problems, "%ld replies were not a plain accept of a new event (see above)", bad);

cleanup:
    if (ctx)
        zmq_ctx_term(ctx);
    if (started) {
        /* 5. stop */
        char how[96];
        int clean = hub_stop_report(&h, problems, how, sizeof how);
        /* The hub has stopped: open as it would, to see what it left. */
        long stored = db_count(h.dir, "SELECT count(*) FROM events", SQLITE_OPEN_READWRITE);
        long accepted = tp.accepted + tp.duplicates + tp.warmup_accepted + lt.accepted +
                        lt.duplicates + lt.warmup_accepted;
        printf("  events stored %ld, accepted replies (incl. warm-up) %ld\n", stored, accepted);
        if (stored != accepted)
            problem(problems, "the database holds %ld events, the hub accepted %ld", stored,
                    accepted);
        int log_lines = count_lines(h.log);
        printf("  hub log (level warn): %d lines%s\n", log_lines, log_lines ? ":" : "");
        print_file(h.log, "  hub: ", LOG_LINES_SHOWN);
        json_object_set_new(daemon, "exit", json_string(how));
        json_object_set_new(daemon, "exit_clean", json_boolean(clean));
        json_object_set_new(daemon, "stored_events", json_integer(stored));
        json_object_set_new(daemon, "log_lines", json_integer(log_lines));
    }
    if (o.keep)
        printf("  kept %s\n", h.dir);
    else if (rm_tree(h.dir) != 0)
        problem(problems, "could not remove all of %s", h.dir);

    json_t *tpj = ran_tp ? scenario_json(&tp) : json_null();
    if (ran_tp)
        json_object_set_new(tpj, "group_commit_factor",
                            real3(fs.per_s > 0 ? tp.per_s / fs.per_s : 0));
    json_t *ltj = ran_lt ? scenario_json(&lt) : json_null();
    if (ran_lt)
        json_object_set_new(ltj, "p99_minus_fsync_p99_ms", real3(lt.lat.p99 - fs.lat.p99));
    int ok = json_array_size(problems) == 0;
    json_t *all = json_pack("{s:s, s:s, s:{s:I, s:s}, s:s, s:I, s:o, s:o, s:o, s:o, s:o, s:b, s:o}",
                            "bench", "intake", "date", date, "machine", "nproc", (json_int_t)ncpu,
                            "cpu", cpu, "dir", h.dir, "event_bytes", (json_int_t)EVENT_BYTES,
                            "fsync", ran_fsync ? fsync_json(&fs) : json_null(), "fsync_overwrite",
                            ran_fsync ? fsync_json(&fs_alt) : json_null(), "throughput", tpj,
                            "latency", ltj, "daemon", daemon, "ok", ok, "problems", problems);
    print_json_line(all, "intake");
    json_decref(cfg);
    free(pk);
    free(ss);
    return ok ? 0 : 1;
}
