/*
 * broker - CURVE ROUTER, ZAP handler and the event loop; see broker.h.
 *
 * One thread. The loop sleeps in zmq_poll until a partner frame, a ZAP request
 * or a signal arrives; it never polls on a short timer.
 */
#include "broker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "admin.h"
#include "retention.h"
#include "audit.h"
#include "deliver.h"
#include "event.h"
#include "keyfile.h"
#include "log.h"
#include "util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "ketenhub"
#define RID_MAX 256
#define SHUTDOWN_LINGER_MS 2000
/* Frames queued towards one peer before sends to it fail with EAGAIN: its
 * deliveries (a window) plus replies to what it has in flight. A peer that
 * stops reading holds at most this much of the hub's memory. */
#define SEND_HWM 1000
/* A client with an unknown key retries every ~100 ms (libzmq reconnect):
 * the same key from the same address is logged and audited once per window,
 * with the number of attempts in between, so a rogue client cannot flood
 * the audit trail or steal fsyncs from intake. */
#define REFUSAL_WINDOW_MS 60000
#define REFUSAL_SLOTS 32
/* The ZAP handler's metadata property naming the key a connection
 * authenticated with (Z85): checked against the config on every message, so
 * a key removed or replaced by a reload is refused at its next message. */
#define KEY_PROPERTY "Partner-Key"

struct refusal {
    char action[16]; /* "connect", or "message" for a revoked key's message */
    char key[41];
    char address[64];
    int64_t since_ms;
    unsigned repeats;
};

/* The ZeroMQ side of one message: who to answer, and the frame. */
struct frame {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    zmq_msg_t body;
};

/* One batch: its frames and, index for index, their intake messages. Two
 * slots: one being checked (helper thread) while the other is stored. */
struct slot {
    struct frame *frames;
    struct intake_msg *msgs;
    size_t n;
};

struct broker {
    const struct config *cfg;
    struct intake *in;
    struct store *st;
    struct deliver *deliver;
    void *ctx;
    void *router;
    void *zap;
    char endpoint[256];
    struct slot slots[2];
    size_t batch_cap;
    struct refusal refusals[REFUSAL_SLOTS];
    size_t next_refusal;
    void *admin; /* ROUTER on ipc://cfg->admin_socket, or NULL */
    /* Monotonic: when the audit head is logged next; 0: unset. */
    int64_t next_anchor_ms;
    struct escalate *esc;
    struct notify *notify;
    struct retention *retention; /* the purge schedule, or NULL (no "retention" configured) */
    broker_reload_fn reload;
    void *reload_arg;
    /* A reload waiting for the top of the loop; `reload_rid`: the admin
     * client that asked for it (its reply is the outcome), if any. */
    int reload_pending;
    uint8_t reload_rid[RID_MAX];
    size_t reload_rid_len;
    int reload_req;       /* that client is a REQ socket: its reply needs the delimiter */
    char reload_user[65]; /* the request's "user" (ketenctl's OS user), or "" */
};

static int setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

struct broker *broker_new(const struct config *cfg, const char *public_z85, const char *secret_z85,
                          struct intake *in, struct store *st, struct deliver *deliver, char *err,
                          size_t errlen)
{
    struct broker *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = cfg;
    b->in = in;
    b->st = st;
    b->deliver = deliver;
    b->batch_cap = (size_t)cfg->group_commit_max;
    for (int i = 0; i < 2; i++) {
        b->slots[i].frames = calloc(b->batch_cap, sizeof *b->slots[i].frames);
        b->slots[i].msgs = calloc(b->batch_cap, sizeof *b->slots[i].msgs);
    }
    b->ctx = zmq_ctx_new();
    if (!b->slots[0].frames || !b->slots[0].msgs || !b->slots[1].frames || !b->slots[1].msgs ||
        !b->ctx) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* The ZAP handler must be bound before the first handshake can start. */
    b->zap = zmq_socket(b->ctx, ZMQ_REP);
    if (!b->zap || zmq_bind(b->zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot start the ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    b->router = zmq_socket(b->ctx, ZMQ_ROUTER);
    int64_t maxmsg = cfg->max_message_size;
    if (!b->router || setopt_int(b->router, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(b->router, ZMQ_CURVE_SECRETKEY, secret_z85, KEYFILE_Z85_LEN) != 0 ||
        zmq_setsockopt(b->router, ZMQ_CURVE_PUBLICKEY, public_z85, KEYFILE_Z85_LEN) != 0 ||
        zmq_setsockopt(b->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0 ||
        zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        setopt_int(b->router, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        setopt_int(b->router, ZMQ_RCVHWM, 100000) != 0 ||
        setopt_int(b->router, ZMQ_SNDHWM, SEND_HWM) != 0 ||
        setopt_int(b->router, ZMQ_LINGER, SHUTDOWN_LINGER_MS) != 0) {
        snprintf(err, errlen, "cannot configure the partner socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (cfg->heartbeat_interval_ms > 0 &&
        (setopt_int(b->router, ZMQ_HEARTBEAT_IVL, (int)cfg->heartbeat_interval_ms) != 0 ||
         setopt_int(b->router, ZMQ_HEARTBEAT_TIMEOUT, (int)cfg->heartbeat_timeout_ms) != 0 ||
         setopt_int(b->router, ZMQ_HEARTBEAT_TTL, (int)cfg->heartbeat_timeout_ms) != 0)) {
        snprintf(err, errlen, "cannot set heartbeats: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(b->router, cfg->listen) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, zmq_strerror(errno));
        goto fail;
    }
    size_t len = sizeof b->endpoint;
    if (zmq_getsockopt(b->router, ZMQ_LAST_ENDPOINT, b->endpoint, &len) != 0)
        snprintf(b->endpoint, sizeof b->endpoint, "%s", cfg->listen);
    if (cfg->admin_socket) {
        /* Only the hub's own user (and root) may connect: the socket file
         * is made 0600 (umask while binding, chmod after). */
        char ep[160];
        snprintf(ep, sizeof ep, "ipc://%s", cfg->admin_socket);
        b->admin = zmq_socket(b->ctx, ZMQ_ROUTER);
        int64_t adminmax = ADMIN_REQUEST_MAX;
        mode_t old = umask(0077);
        int rc =
            b->admin ? zmq_setsockopt(b->admin, ZMQ_MAXMSGSIZE, &adminmax, sizeof adminmax) : -1;
        if (rc == 0)
            rc = setopt_int(b->admin, ZMQ_LINGER, 0);
        if (rc == 0)
            rc = zmq_bind(b->admin, ep);
        umask(old);
        if (rc != 0 || chmod(cfg->admin_socket, 0600) != 0) {
            snprintf(err, errlen, "cannot open the admin socket %s: %s", cfg->admin_socket,
                     zmq_strerror(errno));
            goto fail;
        }
    }
    return b;
fail:
    broker_free(&b);
    return NULL;
}

void broker_set_retention(struct broker *b, struct retention *r)
{
    b->retention = r;
}

void broker_set_escalation(struct broker *b, struct escalate *esc, struct notify *n)
{
    b->esc = esc;
    b->notify = n;
}

void broker_set_reload(struct broker *b, broker_reload_fn fn, void *arg)
{
    b->reload = fn;
    b->reload_arg = arg;
}

static void admin_reply(struct broker *b, const void *rid, size_t rid_len, int req,
                        const char *reply)
{
    zmq_send(b->admin, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (req)
        zmq_send(b->admin, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(b->admin, reply, strlen(reply), ZMQ_DONTWAIT);
}

/* {"op": "reload"}: the loop does it at its next turn, between batches, and
 * answers then. Returns 1 when the request was one. */
static int admin_reload_request(struct broker *b, zmq_msg_t *rid, zmq_msg_t *body, int req)
{
    json_t *r = json_loadb(zmq_msg_data(body), zmq_msg_size(body), JSON_REJECT_DUPLICATES, NULL);
    const char *op = json_string_value(json_object_get(r, "op"));
    const json_t *user = json_object_get(r, "user");
    int is_reload = op && strcmp(op, "reload") == 0;
    if (!is_reload) {
        json_decref(r);
        return 0;
    }
    /* The user only names who asked, in the audit trail (like ack's). */
    const char *u = json_string_value(user);
    size_t ulen = u ? strlen(u) : 0;
    int user_ok =
        ulen <= 64 && strspn(u ? u : "", "abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == ulen;
    if (json_object_size(r) != (user ? 2u : 1u) || (user && (!u || !user_ok))) {
        json_decref(r);
        admin_reply(b, zmq_msg_data(rid), zmq_msg_size(rid), req,
                    "{\"ok\":false,\"error\":\"reload takes only \\\"user\\\" (1-64 of "
                    "A-Z a-z 0-9 . _ @ -) besides \\\"op\\\"\"}");
        return 1;
    }
    if (b->reload_pending && b->reload_rid_len) {
        admin_reply(b, zmq_msg_data(rid), zmq_msg_size(rid), req,
                    "{\"ok\":false,\"error\":\"another reload request is under way; try "
                    "again\"}");
        return 1;
    }
    b->reload_pending = 1;
    b->reload_rid_len = zmq_msg_size(rid) < RID_MAX ? zmq_msg_size(rid) : RID_MAX;
    memcpy(b->reload_rid, zmq_msg_data(rid), b->reload_rid_len);
    b->reload_req = req;
    snprintf(b->reload_user, sizeof b->reload_user, "%s", u ? u : "");
    json_decref(r);
    log_msg(LOG_INFO, "event=reload_requested by=admin_socket");
    return 1;
}

/* Does a pending reload, and answers the admin client that asked for it. */
static void do_reload(struct broker *b)
{
    json_t *outcome = NULL;
    b->reload_pending = 0;
    if (b->reload)
        b->cfg = b->reload(b->reload_arg, b->reload_rid_len ? b->reload_user : NULL, &outcome);
    else
        log_msg(LOG_WARN, "event=reload_ignored reason=\"no reload function\"");
    if (b->reload_rid_len && b->admin) {
        const char *result = json_string_value(json_object_get(outcome, "outcome"));
        int applied = result && strcmp(result, "applied") == 0;
        json_t *r = applied ? json_pack("{s:b, s:O}", "ok", 1, "reload", outcome)
                            : json_pack("{s:b, s:s, s:O?}", "ok", 0, "error",
                                        "the config was not reloaded: it has problems (the hub's "
                                        "log names each; ketenhubd --check-config prints them); "
                                        "the running config stays",
                                        "reload", outcome);
        char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        if (text)
            admin_reply(b, b->reload_rid, b->reload_rid_len, b->reload_req, text);
        free(text);
        json_decref(r);
    }
    b->reload_rid_len = 0;
    json_decref(outcome);
}

/* One admin request: [routing id][JSON]; the reply goes back the same way. */
static void handle_admin(struct broker *b)
{
    for (;;) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, b->admin, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        zmq_msg_init(&body);
        int ok = zmq_msg_more(&rid) && zmq_msg_recv(&body, b->admin, 0) >= 0;
        /* A REQ client puts an empty delimiter frame first: skip it, and
         * answer with one, so REQ and DEALER clients both work. */
        int req = ok && zmq_msg_size(&body) == 0 && zmq_msg_more(&body);
        if (req)
            ok = zmq_msg_recv(&body, b->admin, 0) >= 0;
        int more = ok && zmq_msg_more(&body);
        while (more) { /* extra frames: drop */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            more = zmq_msg_recv(&extra, b->admin, 0) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        if (ok && admin_reload_request(b, &rid, &body, req)) {
            zmq_msg_close(&body);
            zmq_msg_close(&rid);
            continue;
        }
        if (ok) {
            char *reply = admin_handle(b->esc, b->retention, zmq_msg_data(&body),
                                       zmq_msg_size(&body), util_wall_ms(), util_mono_ms());
            if (reply) {
                zmq_send(b->admin, zmq_msg_data(&rid), zmq_msg_size(&rid),
                         ZMQ_SNDMORE | ZMQ_DONTWAIT);
                if (req)
                    zmq_send(b->admin, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
                zmq_send(b->admin, reply, strlen(reply), ZMQ_DONTWAIT);
                free(reply);
            }
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
}

/* Logs the audit chain's head every audit_anchor_interval (docs/audit.md).
 * Returns the poll timeout until the next time. */
static long anchor_audit(struct broker *b)
{
    int64_t now = util_mono_ms(), every = b->cfg->audit_anchor_interval_ms;
    if (every <= 0)
        return -1;
    if (b->next_anchor_ms == 0)
        b->next_anchor_ms = now + every; /* main logged it at start-up */
    if (now >= b->next_anchor_ms) {
        char fields[128];
        if (audit_head_fields(store_sqlite(b->st), fields, sizeof fields) == 0)
            log_msg(LOG_INFO, "event=audit_head %s at=interval", fields);
        else
            log_msg(LOG_ERROR, "event=audit_head_failed error=\"%s\"", store_errmsg(b->st));
        b->next_anchor_ms = now + every;
    }
    return (long)(b->next_anchor_ms - now);
}

/* Takes the smaller of two poll timeouts (-1: none). */
static long min_timeout(long a, long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

const char *broker_endpoint(const struct broker *b)
{
    return b->endpoint;
}

/* Receives one frame into buf (truncated to cap). Returns its size, or -1. */
static int recv_frame(void *sock, char *buf, size_t cap, int *more)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m);
    memcpy(buf, zmq_msg_data(&m), n < cap ? n : cap);
    *more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    return (int)n;
}

static void send_frames(void *sock, const char *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        zmq_send(sock, frames[i], lens[i], i < n - 1 ? ZMQ_SNDMORE : 0);
}

/*
 * The refusal slot of (action, address, key) when this refusal is to be
 * logged and audited: the first one, or the first after REFUSAL_WINDOW_MS
 * (its `repeats` then counts those in between). NULL when it falls inside
 * the window: then it is only counted.
 */
static struct refusal *refusal_slot(struct broker *b, const char *action, const char *address,
                                    const char *key, int64_t now)
{
    struct refusal *r = NULL;
    for (size_t i = 0; i < REFUSAL_SLOTS && !r; i++)
        if (strcmp(b->refusals[i].key, key) == 0 && strcmp(b->refusals[i].address, address) == 0 &&
            strcmp(b->refusals[i].action, action) == 0)
            r = &b->refusals[i];
    if (r && now - r->since_ms < REFUSAL_WINDOW_MS) {
        r->repeats++;
        log_msg(LOG_DEBUG, "event=%s_refused address=%s key=%s repeat=%u", action, address, key,
                r->repeats);
        return NULL;
    }
    if (!r) {
        r = &b->refusals[b->next_refusal++ % REFUSAL_SLOTS];
        if (r->repeats)
            log_msg(LOG_WARN, "event=%s_refused address=%s key=%s repeats=%u", r->action,
                    r->address, r->key, r->repeats);
        snprintf(r->action, sizeof r->action, "%s", action);
        snprintf(r->key, sizeof r->key, "%s", key);
        snprintf(r->address, sizeof r->address, "%s", address);
        r->repeats = 0;
    }
    r->since_ms = now;
    return r;
}

/* Logs and audits a refused connection, once per window per key + address. */
static void record_refusal(struct broker *b, const char *full_address, const char *mechanism,
                           const char *key)
{
    char address[64];
    snprintf(address, sizeof address, "%.63s", full_address);
    int64_t now = util_mono_ms();
    struct refusal *r = refusal_slot(b, "connect", address, key, now);
    if (!r)
        return; /* counted: logged and audited with the next one after the window */
    unsigned repeats = r->repeats;
    r->repeats = 0;
    log_msg(LOG_WARN, "event=connect_refused address=%s mechanism=%s key=%s repeats=%u", address,
            mechanism, key, repeats);
    char when[UTIL_TIME_LEN];
    util_time_now(when);
    json_t *d = json_pack("{s:s, s:s, s:s, s:i}", "address", address, "mechanism", mechanism, "key",
                          key, "repeats", (int)repeats);
    char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct audit_record ar = {.time = when,
                              .actor = "unknown",
                              .action = "connect",
                              .object = key,
                              .outcome = "refused",
                              .detail = detail,
                              .address = address};
    if (store_audit(b->st, &ar) != 0)
        log_msg(LOG_ERROR, "event=audit_failed action=connect error=\"%s\"", store_errmsg(b->st));
    free(detail);
}

/* One ZAP request (RFC 27): version, request id, domain, address, routing id,
 * mechanism, credentials. Anything but a known CURVE key is refused. */
static void handle_zap(struct broker *b)
{
    char f[7][256];
    int len[7] = {0};
    int more = 1, n = 0;
    while (more && n < 7) {
        len[n] = recv_frame(b->zap, f[n], sizeof f[n] - 1, &more);
        if (len[n] < 0)
            return;
        f[n][len[n] < (int)sizeof f[n] - 1 ? len[n] : (int)sizeof f[n] - 1] = '\0';
        n++;
    }
    while (more) { /* drain anything beyond the frames we use */
        char scratch[64];
        if (recv_frame(b->zap, scratch, sizeof scratch, &more) < 0)
            return;
    }
    const struct partner *p = NULL;
    const char *mechanism = n >= 6 ? f[5] : "";
    if (n == 7 && strcmp(mechanism, "CURVE") == 0 && len[6] == 32)
        p = config_partner_by_key(b->cfg, (const uint8_t *)f[6]);
    const char *address = n >= 4 ? f[3] : "?";
    char key_z85[41] = "-";
    if (n == 7 && len[6] == 32)
        zmq_z85_encode(key_z85, (const uint8_t *)f[6], 32);
    const char *status = p ? "200" : "400";
    const char *text = p ? "OK" : "unknown key";
    const char *user = p ? p->id : "";
    /* Metadata (ZMTP property list: name length, name, 4-byte value length,
     * value): the key, so every message says which key it came in with. A
     * ZAP property wins over a same-named one the client sends itself. */
    char meta[1 + sizeof KEY_PROPERTY + 4 + 40];
    size_t meta_len = 0;
    if (p) {
        size_t nl = strlen(KEY_PROPERTY);
        meta[0] = (char)nl;
        memcpy(meta + 1, KEY_PROPERTY, nl);
        meta[1 + nl] = meta[2 + nl] = meta[3 + nl] = 0;
        meta[4 + nl] = 40;
        memcpy(meta + 5 + nl, key_z85, 40);
        meta_len = 5 + nl + 40;
    }
    const char *frames[6] = {"1.0", f[1], status, text, user, meta};
    size_t lens[6] = {3, (size_t)(n > 1 ? len[1] : 0), 3, strlen(text), strlen(user), meta_len};
    send_frames(b->zap, frames, lens, 6);
    if (p) {
        log_msg(LOG_INFO, "event=connect partner=%s address=%s", p->id, address);
        return;
    }
    record_refusal(b, address, mechanism, key_z85);
}

/*
 * A message whose connection authenticated with a key the config no longer
 * has for its partner (removed, or replaced, by a reload): answered with a
 * rejection (keyword "revoked"), never handed to intake, never a session.
 * Logged and audited like refused connections (once per window per key and
 * address, with the count in between).
 */
static void refuse_revoked(struct broker *b, const struct frame *fr, const char *user,
                           const char *key)
{
    const char *full_address = zmq_msg_gets((zmq_msg_t *)&fr->body, "Peer-Address");
    char address[64];
    snprintf(address, sizeof address, "%.63s", full_address ? full_address : "?");
    json_t *errors = json_array();
    json_t *ev =
        event_parse(zmq_msg_data((zmq_msg_t *)&fr->body), zmq_msg_size((zmq_msg_t *)&fr->body),
                    (int)b->cfg->max_json_depth, errors);
    const char *id = json_string_value(json_object_get(ev, "id"));
    json_array_clear(errors);
    event_error(errors, "", "revoked",
                "the key this connection authenticated with is no longer the key of partner "
                "\"%s\" (removed or replaced when the hub's config was reloaded); nothing of "
                "this message was kept",
                user);
    json_t *reply = json_pack("{s:o, s:s, s:O}", "ack", id ? json_string(id) : json_null(),
                              "status", "rejected", "errors", errors);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    if (text && (zmq_send(b->router, fr->rid, fr->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                 zmq_send(b->router, text, strlen(text), ZMQ_DONTWAIT) < 0))
        log_msg(LOG_INFO, "event=reply_undelivered partner=%s reason=\"%s\"", user,
                zmq_strerror(errno));
    free(text);
    json_decref(reply);
    json_decref(errors);
    struct refusal *r = refusal_slot(b, "message", address, key ? key : "-", util_mono_ms());
    if (r) {
        unsigned repeats = r->repeats;
        r->repeats = 0;
        log_msg(LOG_WARN,
                "event=message_refused partner=%s address=%s reason=revoked key=%s repeats=%u",
                user, address, key ? key : "-", repeats);
        char when[UTIL_TIME_LEN];
        util_time_now(when);
        json_t *d = json_pack("{s:s, s:s, s:s, s:i}", "reason", "key_revoked", "address", address,
                              "key", key ? key : "-", "repeats", (int)repeats);
        char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        struct audit_record ar = {when,      user,   NULL, "intake", id,
                                  "refused", detail, NULL, address,  NULL};
        if (store_audit(b->st, &ar) != 0)
            log_msg(LOG_ERROR, "event=audit_failed action=intake error=\"%s\"",
                    store_errmsg(b->st));
        free(detail);
    }
    json_decref(ev);
}

/* Receives every complete message waiting on the ROUTER, up to the batch
 * size, into the slot. Returns how many. */
static size_t receive_batch(struct broker *b, struct slot *sl)
{
    size_t n = 0;
    while (n < b->batch_cap) {
        struct frame *fr = &sl->frames[n];
        zmq_msg_t rid;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, b->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            break;
        }
        fr->rid_len = zmq_msg_size(&rid) < RID_MAX ? zmq_msg_size(&rid) : RID_MAX;
        memcpy(fr->rid, zmq_msg_data(&rid), fr->rid_len);
        int more = zmq_msg_more(&rid);
        zmq_msg_close(&rid);
        zmq_msg_init(&fr->body);
        int frames = 0;
        /* A message is atomic: once its first frame is here, all are. Keep
         * the first body frame, count (and drop) any further ones. */
        while (more) {
            zmq_msg_t extra;
            zmq_msg_t *into = frames == 0 ? &fr->body : &extra;
            if (frames > 0)
                zmq_msg_init(&extra);
            if (zmq_msg_recv(into, b->router, 0) < 0)
                break;
            more = zmq_msg_more(into);
            if (frames > 0)
                zmq_msg_close(&extra);
            frames++;
        }
        const char *user = frames > 0 ? zmq_msg_gets(&fr->body, "User-Id") : NULL;
        const struct partner *p = user ? config_partner(b->cfg, user) : NULL;
        const char *key = user ? zmq_msg_gets(&fr->body, KEY_PROPERTY) : NULL;
        if (user && (!p || !key || strcmp(key, p->public_z85) != 0)) {
            /* Authenticated, but under a key the current config does not
             * give this partner: revoked by a reload. */
            refuse_revoked(b, fr, user, key);
            zmq_msg_close(&fr->body);
            continue;
        }
        if (!p) {
            /* Cannot happen while ZAP admits only configured keys; never
             * attribute a frame to a partner we cannot name. */
            log_msg(LOG_ERROR, "event=frame_dropped reason=no_partner user_id=%s",
                    user ? user : "-");
            zmq_msg_close(&fr->body);
            continue;
        }
        deliver_heard(b->deliver, p, fr->rid, fr->rid_len, util_mono_ms());
        struct intake_msg *m = &sl->msgs[n]; /* m->check: intake frees the old one */
        m->partner = p;
        m->data = zmq_msg_data(&fr->body);
        m->len = zmq_msg_size(&fr->body);
        m->frames = frames;
        /* Valid while the frame is: closed after the batch is answered. */
        m->address = zmq_msg_gets(&fr->body, "Peer-Address");
        m->reply = NULL;
        n++;
    }
    sl->n = n;
    return n;
}

static void send_reply(struct broker *b, const struct frame *fr, const struct intake_msg *m)
{
    if (!m->reply)
        return; /* a receipt (no reply), or no memory to make one: the sender resends */
    int rc = zmq_send(b->router, fr->rid, fr->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(b->router, m->reply, m->reply_len, ZMQ_DONTWAIT);
    if (rc < 0) {
        /* The event's fate is already on disk; a sender that lost the reply
         * resends and gets "duplicate": true with the same seq. */
        log_msg(errno == EHOSTUNREACH ? LOG_INFO : LOG_WARN,
                "event=reply_undelivered partner=%s reason=\"%s\"", m->partner->id,
                zmq_strerror(errno));
    }
}

/* Stores a checked batch, answers every message, releases the frames. */
static void store_batch(struct broker *b, struct slot *sl)
{
    if (intake_store(b->in, sl->msgs, sl->n) != 0)
        log_msg(LOG_ERROR, "event=store_failed batch=%zu error=\"%s\"", sl->n,
                intake_store_error(b->in));
    if (b->esc && escalate_sync(b->esc, util_wall_ms(), util_mono_ms()) != 0)
        log_msg(LOG_ERROR, "event=escalate_sync_failed");
    size_t ntouched;
    const struct partner *const *touched = intake_touched(b->in, &ntouched);
    for (size_t i = 0; i < ntouched; i++)
        deliver_touch(b->deliver, touched[i]);
    for (size_t i = 0; i < sl->n; i++) {
        if (sl->msgs[i].kind == INTAKE_RECEIPT && sl->msgs[i].confirmed)
            deliver_confirmed(b->deliver, sl->msgs[i].partner, sl->msgs[i].check.id);
        send_reply(b, &sl->frames[i], &sl->msgs[i]);
        free(sl->msgs[i].reply);
        sl->msgs[i].reply = NULL;
        zmq_msg_close(&sl->frames[i].body);
    }
    sl->n = 0;
}

/* deliver's send function: one delivery frame to a session. */
static int send_delivery(void *arg, const uint8_t *rid, size_t rid_len, const char *data,
                         size_t len)
{
    struct broker *b = arg;
    if (zmq_send(b->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(b->router, data, len, ZMQ_DONTWAIT) < 0)
        return errno == EAGAIN ? 1 : -1;
    return 0;
}

/* Runs due delivery work; returns the zmq_poll timeout until the next. */
static long run_deliveries(struct broker *b)
{
    int64_t now = util_mono_ms();
    int64_t next = deliver_run(b->deliver, now, send_delivery, b);
    if (next < 0)
        return -1;
    return next <= now ? 0 : (long)(next - now);
}

int broker_run(struct broker *b, int wake_fd)
{
    log_msg(LOG_INFO, "event=listening endpoint=%s partners=%zu", b->endpoint, b->cfg->npartners);
    /* `ready`: a checked batch waiting to be stored, or NULL. While it is
     * stored on this thread, the next batch is checked on intake's helper. */
    struct slot *ready = NULL;
    for (;;) {
        if (b->reload_pending) {
            /* Between batches: the checked one is stored and answered under
             * the config it was checked with (its messages point into it). */
            if (ready)
                store_batch(b, ready);
            ready = NULL;
            do_reload(b);
        }
        zmq_pollitem_t items[4 + NOTIFY_POLLFDS_MAX] = {
            {b->router, 0, ZMQ_POLLIN, 0},
            {b->zap, 0, ZMQ_POLLIN, 0},
            {NULL, wake_fd, ZMQ_POLLIN, 0},
            {b->admin, 0, b->admin ? ZMQ_POLLIN : 0, 0},
        };
        int nitems = b->admin ? 4 : 3;
        /* Sleep until a frame arrives, an alert transfer can move, or
         * delivery or escalation work is due; never while a checked batch
         * waits for its commit. */
        long timeout = min_timeout(run_deliveries(b), anchor_audit(b));
        if (b->esc) {
            int64_t mono = util_mono_ms();
            int64_t next = escalate_run(b->esc, util_wall_ms(), mono);
            if (next >= 0)
                timeout = min_timeout(timeout, next <= mono ? 0 : (long)(next - mono));
        }
        if (b->retention) { /* one bounded purge batch when due */
            int64_t mono = util_mono_ms();
            int64_t next = retention_run(b->retention, util_wall_ms(), mono);
            if (next >= 0)
                timeout = min_timeout(timeout, next <= mono ? 0 : (long)(next - mono));
        }
        if (b->notify) {
            struct pollfd fds[NOTIFY_POLLFDS_MAX];
            long t = -1;
            size_t k = notify_pollfds(b->notify, fds, NOTIFY_POLLFDS_MAX, &t);
            if (!b->admin) /* keep the admin slot's index: an inert entry */
                items[nitems++] = (zmq_pollitem_t){NULL, -1, 0, 0};
            for (size_t i = 0; i < k; i++) {
                short ev = (short)(((fds[i].events & POLLIN) ? ZMQ_POLLIN : 0) |
                                   ((fds[i].events & POLLOUT) ? ZMQ_POLLOUT : 0));
                items[nitems++] = (zmq_pollitem_t){NULL, fds[i].fd, ev, 0};
            }
            timeout = min_timeout(timeout, t);
        }
        if (ready)
            timeout = 0;
        if (zmq_poll(items, nitems, timeout) < 0) {
            if (errno == EINTR)
                continue;
            log_msg(LOG_ERROR, "event=poll_failed error=\"%s\"", zmq_strerror(errno));
            if (ready)
                store_batch(b, ready);
            return -1;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            int stop = 0, reload = 0;
            char sigs[64];
            ssize_t k;
            for (int rounds = 0; rounds < 16 && (k = read(wake_fd, sigs, sizeof sigs)) > 0;
                 rounds++)
                for (ssize_t i = 0; i < k; i++)
                    *(sigs[i] == SIGHUP ? &reload : &stop) = 1;
            if (stop) {
                if (ready)
                    store_batch(b, ready); /* received and checked: answer it */
                return 0;
            }
            b->reload_pending |= reload;
            continue; /* reload at the top; what else was ready still is */
        }
        if (b->esc)
            escalate_perform(b->esc); /* alert transfers: whatever poll said */
        if (b->admin && (items[3].revents & ZMQ_POLLIN))
            handle_admin(b);
        if (items[1].revents & ZMQ_POLLIN) {
            int events = 0;
            size_t sz = sizeof events;
            do {
                handle_zap(b);
            } while (zmq_getsockopt(b->zap, ZMQ_EVENTS, &events, &sz) == 0 &&
                     (events & ZMQ_POLLIN));
        }
        struct slot *next = ready == &b->slots[0] ? &b->slots[1] : &b->slots[0];
        size_t n = (items[0].revents & ZMQ_POLLIN) ? receive_batch(b, next) : 0;
        if (n)
            intake_check_start(b->in, next->msgs, n);
        if (ready)
            store_batch(b, ready);
        ready = NULL;
        if (n) {
            intake_check_wait(b->in);
            ready = next;
        }
    }
}

void broker_free(struct broker **self_p)
{
    struct broker *b = *self_p;
    if (!b)
        return;
    if (b->router)
        zmq_close(b->router);
    if (b->admin) {
        zmq_close(b->admin);
        unlink(b->cfg->admin_socket);
    }
    if (b->zap) {
        setopt_int(b->zap, ZMQ_LINGER, 0);
        zmq_close(b->zap);
    }
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    for (int i = 0; i < 2; i++) {
        if (b->slots[i].msgs)
            intake_release(b->slots[i].msgs, b->batch_cap);
        free(b->slots[i].frames);
        free(b->slots[i].msgs);
    }
    free(b);
    *self_p = NULL;
}
