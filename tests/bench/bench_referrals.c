/*
 * bench_referrals - routing and delivery end to end: a signal in, its
 * referrals out to the partners' adapters, and what the hub holds meanwhile.
 *
 * In one new temp dir: writes keys and a config in which one crisis signal
 * about a minor living in GM0153 yields exactly three referrals (veilig-thuis
 * by rule crisis-minderjarige, gemeente-enschede by municipality_of,
 * kenniscentrum by role coordinator), starts the real ketenhubd, and drives it
 * over CURVE as the adapters would:
 *   1. throughput: politie sends signals with W in flight for S seconds while
 *      three receivers (one DEALER per target partner) heartbeat, take every
 *      delivery and confirm it at once; end-to-end latency per signal is from
 *      sending it to the moment the last of its three referrals arrived;
 *   2. open referrals: with no receiver connected, N/3 signals leave about N
 *      deliveries waiting in the store; the hub's VmRSS is read then, and again
 *      after receivers connect and drain them all;
 *   3. SIGTERM, exit 0, and the stored counts.
 * A delivery is matched to its signal by a marker in `omschrijving`, which
 * every profile carries. Every signal must yield exactly one delivery per
 * receiver: a missing, extra or resent one makes the run broken (exit 1).
 *
 * Prints figures, not verdicts; the last line is one JSON object. Keys,
 * start and stop of the hub and the percentiles are shared with bench_intake
 * (benchutil.h).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "benchutil.h"
#include "util.h"

#define NRECV 3               /* target partners: one receiver each */
#define WARMUP_TIMEOUT_S 15   /* first heartbeat echo on a connection (CURVE + ZAP) */
#define STALL_TIMEOUT_S 10    /* no reply to a signal for this long: the hub stalled */
#define DELIVERY_STALL_S 20   /* no delivery for this long: longer than the hub's 10 s resend */
#define FILL_MAX_S 1800       /* bound of phase 2's sending */
#define SEND_TIMEOUT_MS 10000 /* a blocked zmq_send (receipt, heartbeat) */
#define HEARTBEAT_MS 1000     /* receivers' heartbeat interval */
#define SHOWN_MAX 3           /* odd frames kept per thread for printing */
#define CHUNK_BITS 16         /* the signal table grows by 65536 signals */
#define CHUNK_MAX 1024        /* ... up to 67 million */
#define SIGNAL_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"
#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
#define MARKER "\"omschrijving\":\"bench-signaal "
#define IDX_DIGITS 12 /* the signal's index: end of its id and end of its marker */

static const char *const partner_ids[NRECV + 1] = {"veilig-thuis", "gemeente-enschede",
                                                   "kenniscentrum", "politie"};
static const char *const partner_roles[NRECV + 1] = {"care", "municipality", "coordinator",
                                                     "police"};
static const char *const rules[NRECV] = {"crisis-minderjarige", "woongemeente", "coordinator"};
#define SENDER NRECV /* politie's index in the arrays above */

struct options {
    long window, seconds, open;
    const char *parent;
    int keep;
};

/* Small profiles, all with `omschrijving` (the marker); routes giving a crisis
 * signal about a minor in GM0153 three referrals, none to politie. Delivery
 * settings keep their defaults (docs/config.md). */
static const char config_fixed[] =
    "{\"database\": \"hub.db\", \"server_key\": \"keys/hub.key\", " BENCH_SECRETS
    "\"log_level\": \"warn\","
    " \"policies\": {\"crisis\": {\"receipt\": \"PT15M\", \"decision\": \"PT4H\"},"
    "              \"standaard\": {\"receipt\": \"P1D\", \"decision\": \"P5D\"}},"
    " \"default_policy\": \"standaard\","
    " \"municipalities\": {\"GM0153\": \"gemeente-enschede\"},"
    " \"profiles\": {"
    "   \"police\": [\"vormenVanUitbuiting\", \"urgentie\", \"omschrijving\"],"
    "   \"care\": [\"vormenVanUitbuiting\", \"urgentie\", \"minderjarig\", \"omschrijving\"],"
    "   \"municipality\": [\"vormenVanUitbuiting\", \"woongemeente\", \"omschrijving\"],"
    "   \"coordinator\": [\"vormenVanUitbuiting\", \"urgentie\", \"minderjarig\", \"woongemeente\","
    "                     \"omschrijving\"]},"
    " \"routes\": ["
    "   {\"name\": \"crisis-minderjarige\","
    "    \"when\": {\"/urgentie\": \"crisis\", \"/minderjarig\": true},"
    "    \"to\": [{\"partner\": \"veilig-thuis\"}], \"policy\": \"crisis\"},"
    "   {\"name\": \"woongemeente\", \"when\": {\"/woongemeente\": {\"present\": true}},"
    "    \"to\": [{\"municipality_of\": \"/woongemeente\"}]},"
    "   {\"name\": \"coordinator\", \"to\": [{\"role\": \"coordinator\"}]}]}";

/* The config but for "listen" and "schemas" (hub_start sets those), with
 * the partners' public keys; NULL with err filled. The caller owns it. */
static json_t *build_config(const struct partner_keys *pk, char *err, size_t errlen)
{
    json_t *cfg = json_loads(config_fixed, 0, NULL), *partners = json_array();
    for (int i = 0; i <= SENDER; i++)
        json_array_append_new(partners,
                              json_pack("{s:s, s:s, s:s}", "id", partner_ids[i], "role",
                                        partner_roles[i], "public_key", pk[i].public_z85));
    if (!cfg || json_object_set_new(cfg, "partners", partners) != 0) {
        json_decref(cfg);
        set_err(err, errlen, "cannot build the config");
        return NULL;
    }
    return cfg;
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

/* ---- signals: what was sent when, and what arrived where ---------------- */

/*
 * One entry per signal, by index. The sender writes sent_ns and accepted,
 * receiver r only its own got_ns[r], first_id[r] and n[r]: no two threads
 * write one field, and the main thread reads them after joining both.
 */
struct sig {
    int64_t sent_ns;
    int64_t got_ns[NRECV];    /* first delivery of its referral to receiver r */
    char first_id[NRECV][16]; /* that delivery's event id (start), to tell a resend */
    uint16_t n[NRECV];        /* deliveries for this signal at receiver r */
    unsigned char accepted;
};

/* Grows in chunks so receivers can read while the sender adds. */
struct table {
    _Atomic(struct sig *) chunk[CHUNK_MAX];
    atomic_long n; /* entries that exist: indexes below this are safe to read */
};

static struct sig *sig_at(struct table *t, long i)
{
    if (i < 0 || i >= atomic_load(&t->n))
        return NULL;
    struct sig *c = atomic_load(&t->chunk[i >> CHUNK_BITS]);
    return c ? &c[i & ((1L << CHUNK_BITS) - 1)] : NULL;
}

/* The entry for index i (the next new one, or an existing one); NULL when full. */
static struct sig *sig_new(struct table *t, long i)
{
    if (i < atomic_load(&t->n))
        return sig_at(t, i);
    if ((i >> CHUNK_BITS) >= CHUNK_MAX)
        return NULL;
    if (!atomic_load(&t->chunk[i >> CHUNK_BITS])) {
        struct sig *c = calloc((size_t)1 << CHUNK_BITS, sizeof *c);
        if (!c)
            return NULL;
        atomic_store(&t->chunk[i >> CHUNK_BITS], c);
    }
    atomic_store(&t->n, i + 1);
    return sig_at(t, i);
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

/* ---- peers -------------------------------------------------------------- */

struct peers {
    void *ctx;
    const struct hub *hub;
    const struct partner_keys *keys; /* by index in partner_ids */
    struct table *table;
};

static void *client_socket(const struct peers *pe, int partner, int hwm, char *err, size_t errlen)
{
    return curve_dealer(pe->ctx, pe->hub, &pe->keys[partner], hwm, SEND_TIMEOUT_MS, err, errlen);
}

static int send_heartbeat(void *sock, long n)
{
    char text[48];
    int len = snprintf(text, sizeof text, "{\"heartbeat\":%ld}", n);
    return zmq_send(sock, text, (size_t)len, 0) < 0 ? -1 : 0;
}

/* The n of a {"heartbeat":n} echo, or -1 when the frame is something else. */
static long heartbeat_echo(const char *data, size_t len)
{
    static const char pre[] = "{\"heartbeat\":";
    char num[24];
    if (len <= sizeof pre - 1 || len - (sizeof pre - 1) >= sizeof num ||
        memcmp(data, pre, sizeof pre - 1) != 0)
        return -1;
    memcpy(num, data + sizeof pre - 1, len - (sizeof pre - 1));
    num[len - (sizeof pre - 1)] = '\0';
    char *end;
    long n = strtol(num, &end, 10);
    return *end == '}' && end[1] == '\0' ? n : -1;
}

/*
 * A partner's adapter: heartbeats every second, confirms every delivery at
 * once with {"receipt": id}. Once it has `expect` distinct deliveries it sends
 * one more heartbeat: the echo comes after the hub committed every receipt
 * before it (one connection's frames are stored in order, replies after the
 * commit), so `settled` then means "all delivered and confirmed".
 */
struct receiver {
    pthread_t thread;
    int slot; /* index in partner_ids / rules */
    const struct peers *pe;
    long lo;            /* signals below this index belong to an earlier phase */
    atomic_long expect; /* set by main; 0: not yet known */
    atomic_int ready;   /* the first heartbeat came back: session open */
    atomic_int stop;
    atomic_long unique;  /* first deliveries for signals of this phase */
    atomic_long settled; /* the `expect` whose barrier echo came back */
    atomic_llong settled_ns;
    atomic_int failed;
    long resent, extra, stray, unknown, wrong_rule, other_frames;
    char error[256];
    char *shown[SHOWN_MAX];
    int nshown;
};

static void take_delivery(struct receiver *r, void *sock, const char *data, size_t len, int64_t t)
{
    static const char idkey[] = "\"id\":\"";
    char receipt[128], rule[64];
    const char *id = find(data, len, idkey), *marker = find(data, len, MARKER);
    const char *id_end = id ? memchr(id + 6, '"', len - (size_t)(id + 6 - data)) : NULL;
    if (!id_end || id_end - (id + 6) > 64 || !find(data, len, "\"type\":\"" OFFER_TYPE "\"")) {
        r->unknown++;
        keep_frame(r->shown, &r->nshown, SHOWN_MAX, 400, data, len);
        return;
    }
    id += 6;
    int n = snprintf(receipt, sizeof receipt, "{\"receipt\":\"%.*s\"}", (int)(id_end - id), id);
    if (zmq_send(sock, receipt, (size_t)n, 0) < 0 && !r->failed) {
        r->failed = 1;
        snprintf(r->error, sizeof r->error, "receipt not sent within %d ms: %s", SEND_TIMEOUT_MS,
                 zmq_strerror(errno));
    }
    snprintf(rule, sizeof rule, "\"regel\":\"%s\"", rules[r->slot]);
    if (!find(data, len, rule)) {
        r->wrong_rule++;
        keep_frame(r->shown, &r->nshown, SHOWN_MAX, 400, data, len);
    }
    size_t after = marker ? len - (size_t)(marker - data) : 0;
    long idx = after > sizeof MARKER - 1 + IDX_DIGITS
                   ? parse_idx(marker + sizeof MARKER - 1 + IDX_DIGITS)
                   : -1;
    struct sig *s = sig_at(r->pe->table, idx);
    if (!s) {
        r->unknown++;
        keep_frame(r->shown, &r->nshown, SHOWN_MAX, 400, data, len);
        return;
    }
    size_t idlen = (size_t)(id_end - id) < 16 ? (size_t)(id_end - id) : 16;
    if (s->n[r->slot] == 0) {
        s->got_ns[r->slot] = t;
        memcpy(s->first_id[r->slot], id, idlen);
        s->n[r->slot] = 1;
        if (idx < r->lo) {
            r->stray++; /* a first delivery for an earlier phase's signal, now */
            return;
        }
        atomic_fetch_add(&r->unique, 1);
        return;
    }
    if (s->n[r->slot] < UINT16_MAX)
        s->n[r->slot]++;
    if (memcmp(s->first_id[r->slot], id, idlen) == 0)
        r->resent++; /* the same delivery again: its receipt was not in time */
    else
        r->extra++; /* a second referral for one signal and partner */
    keep_frame(r->shown, &r->nshown, SHOWN_MAX, 400, data, len);
}

static void *receiver_main(void *arg)
{
    struct receiver *r = arg;
    void *sock = client_socket(r->pe, r->slot, 1000, r->error, sizeof r->error);
    long hb = 0, echo = 0, barrier_hb = 0, barrier_for = 0;
    int64_t next_hb = 0;
    if (!sock) {
        r->failed = 1;
        return NULL;
    }
    while (!atomic_load(&r->stop)) {
        int64_t t = now_ns();
        if (t >= next_hb) {
            if (send_heartbeat(sock, ++hb) != 0) {
                r->failed = 1;
                snprintf(r->error, sizeof r->error, "heartbeat not sent: %s", zmq_strerror(errno));
                break;
            }
            next_hb = t + (int64_t)HEARTBEAT_MS * 1000000;
        }
        long e = atomic_load(&r->expect);
        if (e > 0 && atomic_load(&r->unique) >= e && barrier_for != e) {
            if (send_heartbeat(sock, ++hb) != 0) {
                r->failed = 1;
                break;
            }
            barrier_hb = hb;
            barrier_for = e;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) < 0 && errno != EINTR) {
            r->failed = 1;
            snprintf(r->error, sizeof r->error, "poll: %s", zmq_strerror(errno));
            break;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            const char *data = zmq_msg_data(&m);
            size_t len = zmq_msg_size(&m);
            long n = heartbeat_echo(data, len);
            if (n >= 0) {
                echo = n > echo ? n : echo;
                atomic_store(&r->ready, 1);
            } else if (find(data, len < 32 ? len : 32, "\"specversion\"")) {
                take_delivery(r, sock, data, len, now_ns());
            } else {
                r->other_frames++; /* e.g. a rejected receipt */
                keep_frame(r->shown, &r->nshown, SHOWN_MAX, 400, data, len);
            }
        }
        zmq_msg_close(&m);
        if (barrier_for > 0 && echo >= barrier_hb && atomic_load(&r->settled) != barrier_for) {
            atomic_store(&r->settled_ns, now_ns());
            atomic_store(&r->settled, barrier_for);
        }
    }
    zmq_close(sock);
    return NULL;
}

/* politie: signals with `window` in flight until `stop` or `count` sent. */
struct sender {
    pthread_t thread;
    const struct peers *pe;
    long window, count, first; /* count 0: until stop; first: index of its first signal */
    atomic_int stop;
    atomic_int warm; /* warm-up done: the clock runs */
    atomic_int done;
    int64_t t0_ns, last_reply_ns;
    long sent, accepted, duplicates, rejected, odd_replies, unanswered;
    struct samples ack; /* send -> accepted reply, per signal */
    size_t signal_bytes;
    int failed;
    char error[256];
    char *shown[SHOWN_MAX];
    int nshown;
};

/* A crisis signal about a minor living in GM0153; index digits at *id_at and *mark_at. */
static int signal_init(char *text, size_t cap, size_t *id_at, size_t *mark_at)
{
    char prefix[25];
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    snprintf(prefix, sizeof prefix, "%02x%02x%02x%02x-%02x%02x-4%02x%x-8%02x%x-", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7] & 15, rnd[7], rnd[6] & 15);
    int n = snprintf(text, cap,
                     "{\"specversion\":\"1.0\",\"id\":\"%s%0*d\","
                     "\"source\":\"urn:nld:oin:00000001003214345000:systeem:politie-bench\","
                     "\"type\":\"" SIGNAL_TYPE "\",\"time\":\"2026-11-29T08:00:00Z\","
                     "\"datacontenttype\":\"application/json\",\"data\":{"
                     "\"vormenVanUitbuiting\":[\"seksueel\"],\"urgentie\":\"crisis\","
                     "\"minderjarig\":true,\"woongemeente\":\"GM0153\","
                     "\"indicatoren\":[\"loverboy-methode\",\"beperkte-bewegingsvrijheid\"],"
                     "\"toestemming\":{\"registratieCoMensha\":false},"
                     "\"leeftijdsgroep\":\"12-17\"," MARKER "%0*d\"}}",
                     prefix, IDX_DIGITS, 0, IDX_DIGITS, 0);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    *id_at = strlen("{\"specversion\":\"1.0\",\"id\":\"") + 24;
    *mark_at = (size_t)n - 3 - IDX_DIGITS;
    return n;
}

/* Replies come in order; each names its signal by the index at the end of its id. */
static void take_reply(struct sender *s, const char *data, size_t len, int64_t t)
{
    static const char pre[] = "{\"ack\":\"", post[] = "\",\"status\":\"accepted\"";
    s->last_reply_ns = t;
    long idx = len > 8 + 36 + 21 && memcmp(data, pre, 8) == 0 ? parse_idx(data + 44) : -1;
    struct sig *sg = idx >= s->first && idx < s->first + s->sent ? sig_at(s->pe->table, idx) : NULL;
    if (!sg || sg->accepted) {
        s->odd_replies++;
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
        return;
    }
    sg->accepted = 1;
    if (memcmp(data + 44, post, 21) != 0) {
        sg->accepted = 2; /* answered, not accepted */
        s->rejected++;
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
    } else if (find(data + 65, len - 65, "\"duplicate\"")) {
        s->duplicates++; /* every id is new: a duplicate is a hub bug */
        keep_frame(s->shown, &s->nshown, SHOWN_MAX, 400, data, len);
    } else {
        s->accepted++;
        if (samples_add(&s->ack, t - sg->sent_ns) != 0)
            s->failed = 1;
    }
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char text[1024];
    size_t id_at, mark_at;
    int len = signal_init(text, sizeof text, &id_at, &mark_at);
    long inflight = 0;
    void *sock = client_socket(s->pe, SENDER, (int)s->window + 16, s->error, sizeof s->error);
    if (len < 0 || !sock) {
        if (len < 0)
            snprintf(s->error, sizeof s->error, "cannot build the signal");
        goto fail;
    }
    s->signal_bytes = (size_t)len;
    /* A heartbeat round trip first: CURVE and ZAP are done before the clock. */
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    char buf[64];
    if (send_heartbeat(sock, 1) != 0 || zmq_poll(&it, 1, WARMUP_TIMEOUT_S * 1000) <= 0 ||
        zmq_recv(sock, buf, sizeof buf, 0) < 0) {
        snprintf(s->error, sizeof s->error, "no heartbeat echo within %d s (CURVE refused?)",
                 WARMUP_TIMEOUT_S);
        goto fail;
    }
    s->t0_ns = s->last_reply_ns = now_ns();
    atomic_store(&s->warm, 1);
    int64_t last_progress = s->t0_ns;
    for (;;) {
        int stopping = atomic_load(&s->stop) || (s->count && s->sent >= s->count);
        while (!stopping && inflight < s->window && (!s->count || s->sent < s->count)) {
            long idx = s->first + s->sent;
            struct sig *sg = sig_new(s->pe->table, idx);
            if (!sg) {
                snprintf(s->error, sizeof s->error, "signal table full or out of memory");
                goto fail;
            }
            put_idx(text + id_at, idx);
            put_idx(text + mark_at, idx);
            sg->sent_ns = now_ns();
            if (zmq_send(sock, text, (size_t)len, ZMQ_DONTWAIT) < 0) {
                if (errno == EAGAIN)
                    break;
                snprintf(s->error, sizeof s->error, "send: %s", zmq_strerror(errno));
                goto fail;
            }
            s->sent++;
            inflight++;
        }
        if (inflight == 0 && stopping)
            break;
        if (zmq_poll(&it, 1, 100) < 0 && errno != EINTR) {
            snprintf(s->error, sizeof s->error, "poll: %s", zmq_strerror(errno));
            goto fail;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) {
            int64_t t = now_ns();
            if (heartbeat_echo(zmq_msg_data(&m), zmq_msg_size(&m)) < 0) {
                take_reply(s, zmq_msg_data(&m), zmq_msg_size(&m), t);
                inflight--;
            }
            last_progress = t;
        }
        zmq_msg_close(&m);
        if (inflight > 0 && now_ns() - last_progress > (int64_t)STALL_TIMEOUT_S * NS_PER_S) {
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

/* ---- phases ------------------------------------------------------------- */

/* What one phase's signals did, from the table. */
struct outcome {
    long signals, complete, missing, resent, extra, stray, unknown, wrong_rule, other_frames;
    long referrals;       /* first deliveries received */
    int64_t last_full_ns; /* the last signal to have all three */
    int64_t settled_ns;   /* all receipts committed (barrier echo); 0 if never */
    struct dist e2e;
    struct dist e2e_first, e2e_last; /* signals sent in the phase's first, last second */
};

static void start_receivers(struct receiver *rs, const struct peers *pe, long lo, long expect)
{
    for (int i = 0; i < NRECV; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].slot = i;
        rs[i].pe = pe;
        rs[i].lo = lo;
        atomic_store(&rs[i].expect, expect);
        if (pthread_create(&rs[i].thread, NULL, receiver_main, &rs[i]) != 0) {
            fprintf(stderr, "bench_referrals: cannot start a receiver thread\n");
            exit(1); /* threads before it are running: nothing sane to unwind */
        }
    }
}

static long total_unique(struct receiver *rs)
{
    long n = 0;
    for (int i = 0; i < NRECV; i++)
        n += atomic_load(&rs[i].unique);
    return n;
}

/* Until every receiver has settled `expect` (0), nothing arrived for
 * DELIVERY_STALL_S (-1), or the hub is gone (-2). */
static int wait_settled(struct receiver *rs, long expect, struct hub *h)
{
    long seen = -1;
    int64_t progress = now_ns();
    for (;;) {
        int all = 1;
        for (int i = 0; i < NRECV; i++) {
            atomic_store(&rs[i].expect, expect);
            all &= atomic_load(&rs[i].settled) == expect;
        }
        if (all || expect == 0)
            return 0;
        long u = total_unique(rs);
        if (u != seen) {
            seen = u;
            progress = now_ns();
        }
        if (!hub_running(h))
            return -2;
        if (now_ns() - progress > (int64_t)DELIVERY_STALL_S * NS_PER_S)
            return -1;
        sleep_ms(5);
    }
}

static void stop_receivers(struct receiver *rs)
{
    for (int i = 0; i < NRECV; i++)
        atomic_store(&rs[i].stop, 1);
    for (int i = 0; i < NRECV; i++)
        pthread_join(rs[i].thread, NULL);
}

/* Reads the table for signals [first, first + n) and the receivers' counts. */
static void tally(struct table *t, long first, long n, struct receiver *rs, struct outcome *o)
{
    struct samples lat = {0}, early = {0}, late = {0};
    struct sig *a = sig_at(t, first), *z = sig_at(t, first + n - 1);
    int64_t early_end = a ? a->sent_ns + NS_PER_S : 0, late_start = z ? z->sent_ns - NS_PER_S : 0;
    memset(o, 0, sizeof *o);
    for (long i = first; i < first + n; i++) {
        struct sig *s = sig_at(t, i);
        if (!s || s->accepted != 1)
            continue;
        o->signals++;
        int64_t last = 0;
        int have = 0;
        for (int r = 0; r < NRECV; r++) {
            if (s->n[r] == 0)
                continue;
            have++;
            last = s->got_ns[r] > last ? s->got_ns[r] : last;
        }
        o->missing += NRECV - have;
        if (have == NRECV) {
            o->complete++;
            o->last_full_ns = last > o->last_full_ns ? last : o->last_full_ns;
            samples_add(&lat, last - s->sent_ns);
            if (s->sent_ns < early_end)
                samples_add(&early, last - s->sent_ns);
            if (s->sent_ns >= late_start)
                samples_add(&late, last - s->sent_ns);
        }
    }
    int settled = 1;
    for (int r = 0; r < NRECV; r++) {
        struct receiver *x = &rs[r];
        o->referrals += atomic_load(&x->unique);
        o->resent += x->resent;
        o->extra += x->extra;
        o->stray += x->stray;
        o->unknown += x->unknown;
        o->wrong_rule += x->wrong_rule;
        o->other_frames += x->other_frames;
        settled &= atomic_load(&x->settled) == atomic_load(&x->expect);
        int64_t sn = atomic_load(&x->settled_ns);
        o->settled_ns = sn > o->settled_ns ? sn : o->settled_ns;
    }
    if (!settled)
        o->settled_ns = 0;
    o->e2e = summarise(&lat);
    o->e2e_first = summarise(&early);
    o->e2e_last = summarise(&late);
    free(lat.v);
    free(early.v);
    free(late.v);
}

/* Prints and frees what a thread kept; flags its failure as a problem. */
static void report_thread(const char *who, int failed, const char *error, char **shown, int nshown,
                          json_t *problems)
{
    if (failed)
        problem(problems, "%s: %s", who, error[0] ? error : "failed");
    for (int k = 0; k < nshown; k++) {
        printf("  %s: unexpected frame: %s\n", who, shown[k]);
        free(shown[k]);
    }
}

/* The checks common to both phases; returns the receivers' results as JSON. */
static json_t *check_outcome(const char *phase, const struct outcome *o, struct receiver *rs,
                             json_t *problems)
{
    printf("  per signal: %ld of %ld with all %d referrals; missing %ld, resent %ld, extra %ld,"
           " earlier-phase %ld, unmatched %ld, wrong rule %ld, other frames %ld\n",
           o->complete, o->signals, NRECV, o->missing, o->resent, o->extra, o->stray, o->unknown,
           o->wrong_rule, o->other_frames);
    for (int r = 0; r < NRECV; r++)
        report_thread(partner_ids[r], rs[r].failed, rs[r].error, rs[r].shown, rs[r].nshown,
                      problems);
    if (o->missing || o->complete != o->signals)
        problem(problems, "%s: %ld referrals never arrived (%ld of %ld signals complete)", phase,
                o->missing, o->complete, o->signals);
    if (o->resent)
        problem(problems, "%s: %ld deliveries arrived twice with the same event id (resent)", phase,
                o->resent);
    if (o->extra)
        problem(problems, "%s: %ld extra referrals (a second one for the same signal and partner)",
                phase, o->extra);
    if (o->stray + o->unknown + o->wrong_rule + o->other_frames)
        problem(problems, "%s: %ld frames not matching a signal of this phase or its rule", phase,
                o->stray + o->unknown + o->wrong_rule + o->other_frames);
    if (!o->settled_ns)
        problem(problems, "%s: receipts not all confirmed (no heartbeat echo after the last)",
                phase);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "signals", (json_int_t)o->signals,
                     "complete", (json_int_t)o->complete, "referrals", (json_int_t)o->referrals,
                     "missing", (json_int_t)o->missing, "resent", (json_int_t)o->resent, "extra",
                     (json_int_t)o->extra, "unmatched",
                     (json_int_t)o->stray + o->unknown + o->wrong_rule, "other_frames",
                     (json_int_t)o->other_frames);
}

/* Says why deliveries stopped, after wait_settled returned rc. */
static void stopped(json_t *problems, const char *phase, int rc, struct hub *h)
{
    char how[96];
    if (rc == -1) {
        problem(problems, "%s: no new delivery for %d s with some still missing", phase,
                DELIVERY_STALL_S);
    } else if (rc == -2) {
        describe_status(h->status, how, sizeof how);
        problem(problems, "%s: the hub is gone (%s)", phase, how);
    }
}

/* Runs a sender to the end: `seconds` (count 0) or `count` signals. */
static void run_sender(struct sender *s, struct hub *h, double seconds)
{
    if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        s->failed = 1;
        snprintf(s->error, sizeof s->error, "cannot start the sender thread");
        return;
    }
    int64_t bound = 0; /* `seconds` from the end of the warm-up, itself bounded */
    while (!atomic_load(&s->done) && hub_running(h)) {
        if (!bound && atomic_load(&s->warm))
            bound = now_ns() + (int64_t)(seconds * NS_PER_S);
        if (bound && now_ns() >= bound)
            atomic_store(&s->stop, 1);
        sleep_ms(5);
    }
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
}

static double mib(long kib)
{
    return kib < 0 ? -1 : (double)kib / 1024.0;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_referrals [--window W] [--seconds S] [--open N] [--dir PATH] [--keep]\n"
            "  --window W    signals politie keeps in flight (default 64)\n"
            "  --seconds S   length of the throughput phase (default 5)\n"
            "  --open N      referrals left waiting with no receiver connected (N/3\n"
            "                signals, rounded up), then drained; 0 skips it (default 100000)\n"
            "  --dir PATH    make the temp dir (database, log) under PATH (default /tmp)\n"
            "  --keep        leave the temp dir (config, keys, database, hub log)\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    const struct long_option opts[] = {{"--window", &o->window, 1, 100000},
                                       {"--seconds", &o->seconds, 1, 3600},
                                       {"--open", &o->open, 0, 30000000}};
    o->window = 64;
    o->seconds = 5;
    o->open = 100000;
    o->parent = "/tmp";
    o->keep = 0;
    return parse_long_options("bench_referrals", argc, argv, opts, sizeof opts / sizeof opts[0],
                              &o->parent, &o->keep, usage);
}

static void cpu_line(const char *what, double hub_s, double bench_s, double wall_s)
{
    if (hub_s >= 0 && wall_s > 0)
        printf("  CPU over %.2f s (%s): hub %.2f s (%.0f%% of one core), bench %.2f s (%.0f%%)\n",
               wall_s, what, hub_s, 100 * hub_s / wall_s, bench_s, 100 * bench_s / wall_s);
}

/* What the phases share. */
struct bench {
    struct options o;
    struct hub h;
    struct partner_keys keys[NRECV + 1]; /* by index in partner_ids */
    struct table *table;
    struct peers pe;
    json_t *problems;
};

static json_t *cpu_json(const double cpu[3])
{
    return json_pack("{s:o, s:o, s:o}", "hub_cpu_s", real3(cpu[0]), "bench_cpu_s", real3(cpu[1]),
                     "cpu_wall_s", real3(cpu[2]));
}

static void cpu_start(const struct hub *h, double cpu[3], int64_t *t0)
{
    cpu[0] = proc_cpu_s(h->pid);
    cpu[1] = self_cpu_s();
    *t0 = now_ns();
}

static void cpu_end(struct hub *h, double cpu[3], int64_t t0)
{
    cpu[0] = hub_running(h) ? proc_cpu_s(h->pid) - cpu[0] : -1;
    cpu[1] = self_cpu_s() - cpu[1];
    cpu[2] = (double)(now_ns() - t0) / NS_PER_S;
}

/* 1. politie sends for S seconds with W in flight; receivers take everything. */
static json_t *phase_throughput(struct bench *b, struct sender *tp)
{
    struct receiver rs[NRECV];
    struct outcome oc;
    double cpu[3];
    int64_t w0;
    printf("\n[throughput] politie keeps %ld signals in flight for %ld s; %d receivers heartbeat"
           " every %d ms and confirm each delivery at once\n",
           b->o.window, b->o.seconds, NRECV, HEARTBEAT_MS);
    start_receivers(rs, &b->pe, 0, 0);
    int64_t ready_by = now_ns() + (int64_t)WARMUP_TIMEOUT_S * NS_PER_S;
    int ready = 0;
    while (ready < NRECV && now_ns() < ready_by && hub_running(&b->h)) {
        ready = 0;
        for (int i = 0; i < NRECV; i++)
            ready += atomic_load(&rs[i].ready) || rs[i].failed;
        sleep_ms(5);
    }
    cpu_start(&b->h, cpu, &w0);
    tp->pe = &b->pe;
    tp->window = b->o.window;
    if (ready == NRECV)
        run_sender(tp, &b->h, (double)b->o.seconds);
    else
        problem(b->problems, "receivers: no heartbeat echo within %d s", WARMUP_TIMEOUT_S);
    stopped(b->problems, "throughput", wait_settled(rs, tp->accepted + tp->duplicates, &b->h),
            &b->h);
    stop_receivers(rs);
    cpu_end(&b->h, cpu, w0);
    report_thread("politie", tp->failed, tp->error, tp->shown, tp->nshown, b->problems);
    tally(b->table, 0, tp->sent, rs, &oc);

    double intake_s = (double)(tp->last_reply_ns - tp->t0_ns) / NS_PER_S;
    double intake_rate = intake_s > 0 ? (double)tp->accepted / intake_s : 0;
    double full_s = oc.complete ? (double)(oc.last_full_ns - tp->t0_ns) / NS_PER_S : 0;
    double settled_s = oc.settled_ns ? (double)(oc.settled_ns - tp->t0_ns) / NS_PER_S : -1;
    double sig_rate = full_s > 0 ? (double)oc.complete / full_s : 0;
    double ref_rate = full_s > 0 ? (double)oc.referrals / full_s : 0;
    struct dist ack = summarise(&tp->ack);
    free(tp->ack.v);
    printf("  signals: sent %ld, accepted %ld in %.2f s = %.0f signals/s; rejected %ld,"
           " duplicate %ld, odd replies %ld, unanswered %ld (%zu-byte signal)\n",
           tp->sent, tp->accepted, intake_s, intake_rate, tp->rejected, tp->duplicates,
           tp->odd_replies, tp->unanswered, tp->signal_bytes);
    printf("  fully delivered: %ld signals (%ld referrals) by %.2f s = %.0f signals/s,"
           " %.0f referrals/s; every receipt committed by %.2f s%s\n",
           oc.complete, oc.referrals, full_s, sig_rate, ref_rate, settled_s,
           oc.settled_ns ? "" : " (never)");
    printf("  end to end (signal sent -> last of its %d referrals received): p50 %.3f ms,"
           " p99 %.3f ms, max %.3f ms (p90 %.3f, p99.9 %.3f; %zu signals)\n",
           NRECV, oc.e2e.p50, oc.e2e.p99, oc.e2e.max, oc.e2e.p90, oc.e2e.p999, oc.e2e.n);
    printf("    signals sent in the first second: p50 %.3f ms, p99 %.3f ms; in the last second:"
           " p50 %.3f ms, p99 %.3f ms\n",
           oc.e2e_first.p50, oc.e2e_first.p99, oc.e2e_last.p50, oc.e2e_last.p99);
    printf(
        "  intake alone (signal sent -> accepted reply): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
        ack.p50, ack.p99, ack.max);
    cpu_line("sending and delivering", cpu[0], cpu[1], cpu[2]);
    json_t *j = check_outcome("throughput", &oc, rs, b->problems);
    long odd = tp->rejected + tp->duplicates + tp->odd_replies + tp->unanswered;
    if (odd)
        problem(b->problems, "throughput: %ld replies were not a plain accept of a new signal",
                odd);
    json_object_update_missing_new(
        j, json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "window", (json_int_t)b->o.window, "seconds", (json_int_t)b->o.seconds, "sent",
                     (json_int_t)tp->sent, "accepted", (json_int_t)tp->accepted, "accepted_per_s",
                     real3(intake_rate), "delivered_s", real3(full_s), "signals_per_s",
                     real3(sig_rate), "referrals_per_s", real3(ref_rate), "confirmed_s",
                     real3(settled_s), "end_to_end", dist_json(&oc.e2e), "end_to_end_first_second",
                     dist_json(&oc.e2e_first), "end_to_end_last_second", dist_json(&oc.e2e_last),
                     "ack_latency", dist_json(&ack), "cpu", cpu_json(cpu)));
    return j;
}

/* 2. N/3 signals with nobody to deliver to, the hub's memory, then a drain. */
static json_t *phase_open(struct bench *b, long first, struct sender *fill, json_t *mem)
{
    struct receiver rs[NRECV];
    struct outcome oc;
    double cpu[3];
    int64_t d0;
    fill->pe = &b->pe;
    fill->window = b->o.window;
    fill->count = (b->o.open + NRECV - 1) / NRECV;
    fill->first = first;
    printf("\n[open referrals] no receiver connected; politie sends %ld signals (%ld referrals),"
           " %ld in flight\n",
           fill->count, fill->count * NRECV, b->o.window);
    run_sender(fill, &b->h, FILL_MAX_S);
    free(fill->ack.v);
    report_thread("politie", fill->failed, fill->error, fill->shown, fill->nshown, b->problems);
    double fill_s = (double)(fill->last_reply_ns - fill->t0_ns) / NS_PER_S;
    long rss = proc_status_kib(b->h.pid, "VmRSS:"), hwm = proc_status_kib(b->h.pid, "VmHWM:");
    long pending = db_count(b->h.dir, "SELECT count(*) FROM deliveries WHERE state = 'pending'",
                            SQLITE_OPEN_READONLY);
    printf("  accepted %ld of %ld in %.2f s = %.0f signals/s (%.0f referrals/s stored);"
           " rejected %ld, duplicate %ld, odd %ld, unanswered %ld\n",
           fill->accepted, fill->sent, fill_s, fill_s > 0 ? (double)fill->accepted / fill_s : 0,
           fill_s > 0 ? (double)fill->accepted * NRECV / fill_s : 0, fill->rejected,
           fill->duplicates, fill->odd_replies, fill->unanswered);
    printf("  waiting in the store: %ld pending deliveries\n", pending);
    printf("  hub VmRSS with them waiting: %.1f MiB (peak VmHWM %.1f MiB)\n", mib(rss), mib(hwm));
    json_object_set_new(mem, "rss_open_mib", real3(mib(rss)));
    json_object_set_new(mem, "hwm_open_mib", real3(mib(hwm)));
    if (fill->accepted != fill->sent || fill->failed)
        problem(b->problems, "open referrals: %ld of %ld signals accepted", fill->accepted,
                fill->sent);
    if (pending != fill->accepted * NRECV)
        problem(b->problems, "open referrals: %ld pending deliveries, expected %ld", pending,
                fill->accepted * NRECV);
    json_t *j = json_pack("{s:I, s:I, s:I, s:o, s:I}", "requested", (json_int_t)b->o.open,
                          "signals", (json_int_t)fill->sent, "accepted", (json_int_t)fill->accepted,
                          "fill_s", real3(fill_s), "pending", (json_int_t)pending);
    if (json_array_size(b->problems) != 0)
        return j;

    printf("\n[drain] %d receivers connect and confirm each delivery at once\n", NRECV);
    cpu_start(&b->h, cpu, &d0);
    start_receivers(rs, &b->pe, first, fill->accepted);
    stopped(b->problems, "drain", wait_settled(rs, fill->accepted, &b->h), &b->h);
    stop_receivers(rs);
    cpu_end(&b->h, cpu, d0);
    tally(b->table, first, fill->sent, rs, &oc);
    double got_s = oc.complete ? (double)(oc.last_full_ns - d0) / NS_PER_S : 0;
    double drain_s = oc.settled_ns ? (double)(oc.settled_ns - d0) / NS_PER_S : -1;
    double rate = drain_s > 0 ? (double)oc.referrals / drain_s : 0;
    sleep_ms(1000); /* the hub's loop is idle again before its memory is read */
    rss = proc_status_kib(b->h.pid, "VmRSS:");
    hwm = proc_status_kib(b->h.pid, "VmHWM:");
    printf("  %ld referrals received by %.2f s and all confirmed by %.2f s%s after connecting"
           " = %.0f referrals/s\n",
           oc.referrals, got_s, drain_s, oc.settled_ns ? "" : " (never)", rate);
    cpu_line("draining", cpu[0], cpu[1], cpu[2]);
    printf("  hub VmRSS 1 s after the drain: %.1f MiB (peak VmHWM %.1f MiB)\n", mib(rss), mib(hwm));
    json_object_set_new(mem, "rss_drained_mib", real3(mib(rss)));
    json_object_set_new(mem, "hwm_end_mib", real3(mib(hwm)));
    json_t *d = check_outcome("drain", &oc, rs, b->problems);
    json_object_update_missing_new(d, json_pack("{s:o, s:o, s:o, s:o}", "received_s", real3(got_s),
                                                "confirmed_s", real3(drain_s), "referrals_per_s",
                                                real3(rate), "cpu", cpu_json(cpu)));
    json_object_set_new(j, "drain", d);
    return j;
}

/* 3. SIGTERM, exit 0, and what the store holds against what was accepted. */
static json_t *phase_stop(struct bench *b, long signals)
{
    char how[96];
    int clean = hub_stop_report(&b->h, b->problems, how, sizeof how);
    const char *dir = b->h.dir;
    long events = db_count(dir, "SELECT count(*) FROM events", SQLITE_OPEN_READONLY);
    long refs = db_count(dir, "SELECT count(*) FROM referrals", SQLITE_OPEN_READONLY);
    long dels = db_count(dir, "SELECT count(*) FROM deliveries", SQLITE_OPEN_READONLY);
    long conf = db_count(dir, "SELECT count(*) FROM deliveries WHERE state = 'confirmed'",
                         SQLITE_OPEN_READONLY);
    long dead =
        db_count(dir, "SELECT count(*) FROM deliveries WHERE state = 'dead'", SQLITE_OPEN_READONLY);
    printf("  stored: %ld events, %ld referrals, %ld deliveries (%ld confirmed, %ld dead);"
           " accepted signals %ld x %d = %ld\n",
           events, refs, dels, conf, dead, signals, NRECV, signals * NRECV);
    if (refs != events * NRECV || dels != refs)
        problem(b->problems,
                "the store holds %ld signals, %ld referrals and %ld deliveries:"
                " expected %d referrals and deliveries per signal",
                events, refs, dels, NRECV);
    /* After a broken run these would only repeat it: a signal committed but
     * not answered, a delivery not confirmed when the hub went away. */
    if (json_array_size(b->problems) == 0 && (events != signals || conf != dels))
        problem(b->problems,
                "the store holds %ld signals (%ld accepted) and %ld of %ld"
                " deliveries confirmed",
                events, signals, conf, dels);
    printf("  hub log (level warn):\n");
    int log_lines = print_file(b->h.log, "  hub: ", LOG_LINES_SHOWN);
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:i}", "exit", how, "exit_clean", clean,
                     "events", (json_int_t)events, "referrals", (json_int_t)refs, "deliveries",
                     (json_int_t)dels, "deliveries_confirmed", (json_int_t)conf, "deliveries_dead",
                     (json_int_t)dead, "log_lines", log_lines);
}

int main(int argc, char **argv)
{
    struct bench b;
    struct sender tp, fill;
    char err[1024], cpu[256], date[UTIL_TIME_LEN];
    void *ctx = NULL;
    int started = 0;
    json_t *j1 = json_null(), *j2 = json_null(), *daemon = json_null(), *mem = json_object();
    json_t *cfg = NULL;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&b, 0, sizeof b);
    memset(&tp, 0, sizeof tp);
    memset(&fill, 0, sizeof fill);
    b.problems = json_array();
    if (parse_options(argc, argv, &b.o) != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0 || find_paths(&b.h, err, sizeof err) != 0) {
        fprintf(stderr, "bench_referrals: %s\n", err);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_model(cpu, sizeof cpu);
    util_time_now(date);
    printf("bench_referrals: %s, %ld CPUs online (%s)\n", date, ncpu, cpu);
    printf("note: the hub (loop, intake helper, WAL checkpoint and ZeroMQ I/O threads) and this"
           " bench (1 sender + %d receiver threads + ZeroMQ I/O thread) share these %ld CPUs;"
           " the hub does not have the machine to itself.\n",
           NRECV, ncpu);
    if (hub_make_dir(&b.h, b.o.parent, err, sizeof err) != 0) {
        fprintf(stderr, "bench_referrals: %s\n", err);
        return 1;
    }
    printf("folder: %s (hub config, keys, database and log)\n", b.h.dir);

    b.table = calloc(1, sizeof *b.table);
    ctx = zmq_ctx_new();
    if (!b.table || !ctx) {
        problem(b.problems, "out of memory");
        goto cleanup;
    }
    b.pe = (struct peers){ctx, &b.h, b.keys, b.table};
    for (int i = 0; i <= SENDER; i++)
        snprintf(b.keys[i].id, sizeof b.keys[i].id, "%s", partner_ids[i]);
    if (write_keys(&b.h, b.keys, NRECV + 1, err, sizeof err) != 0 ||
        !(cfg = build_config(b.keys, err, sizeof err))) {
        problem(b.problems, "%s", err);
        goto cleanup;
    }
    if (hub_start(&b.h, cfg, err, sizeof err) != 0) {
        problem(b.problems, "%s; its log:", err);
        print_file(b.h.log, "  hub: ", 200);
        goto cleanup;
    }
    started = 1;
    sleep_ms(200);
    long rss = proc_status_kib(b.h.pid, "VmRSS:");
    json_object_set_new(mem, "rss_start_mib", real3(mib(rss)));
    printf("\n[hub] %s pid %d on %s, log_level warn, VmRSS %.1f MiB after start\n", b.h.hubd,
           (int)b.h.pid, b.h.endpoint, mib(rss));
    printf("  politie sends crisis signals about a minor in GM0153; each makes %d referrals:"
           " %s (%s), %s (%s), %s (%s)\n",
           NRECV, partner_ids[0], rules[0], partner_ids[1], rules[1], partner_ids[2], rules[2]);

    j1 = phase_throughput(&b, &tp);
    rss = hub_running(&b.h) ? proc_status_kib(b.h.pid, "VmRSS:") : -1;
    json_object_set_new(mem, "rss_after_throughput_mib", real3(mib(rss)));
    if (rss >= 0)
        printf("  hub VmRSS after this phase: %.1f MiB\n", mib(rss));
    if (b.o.open > 0 && json_array_size(b.problems) == 0)
        j2 = phase_open(&b, tp.sent, &fill, mem);

cleanup:
    if (ctx)
        zmq_ctx_term(ctx); /* every socket is closed by now */
    if (started)
        daemon = phase_stop(&b, tp.accepted + tp.duplicates + fill.accepted + fill.duplicates);
    if (b.o.keep)
        printf("  kept %s\n", b.h.dir);
    else if (rm_tree(b.h.dir) != 0)
        problem(b.problems, "could not remove all of %s", b.h.dir);

    int ok = json_array_size(b.problems) == 0;
    json_t *all =
        json_pack("{s:s, s:s, s:{s:I, s:s}, s:s, s:I, s:o, s:o, s:o, s:o, s:b, s:o}", "bench",
                  "referrals", "date", date, "machine", "nproc", (json_int_t)ncpu, "cpu", cpu,
                  "dir", b.h.dir, "signal_bytes", (json_int_t)tp.signal_bytes, "throughput", j1,
                  "open", j2, "memory", mem, "daemon", daemon, "ok", ok, "problems", b.problems);
    print_json_line(all, "referrals");
    json_decref(cfg);
    for (long c = 0; b.table && c < CHUNK_MAX; c++)
        free(atomic_load(&b.table->chunk[c]));
    free(b.table);
    return ok ? 0 : 1;
}
