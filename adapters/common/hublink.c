/*
 * hublink - CURVE DEALER to the hub; see hublink.h.
 */
#include "hublink.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "keyfile.h"

#define MAX_FRAME (16 * 1024 * 1024)

struct hublink {
    void *ctx, *sock, *monitor;
};

static void setopt_int(void *s, int opt, long v)
{
    int i = (int)v;
    zmq_setsockopt(s, opt, &i, sizeof i);
}

struct hublink *hublink_open(const struct hublink_config *cfg, char *err, size_t errlen)
{
    char hub_pub[41], pub[41], sec[41];
    struct hublink *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (keyfile_read_public(cfg->hub_public_key, hub_pub, err, errlen) != 0 ||
        keyfile_read_pair(cfg->key, pub, sec, err, errlen) != 0)
        goto fail;
    l->ctx = zmq_ctx_new();
    l->sock = l->ctx ? zmq_socket(l->ctx, ZMQ_DEALER) : NULL;
    if (!l->sock) {
        snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(errno));
        goto fail;
    }
    setopt_int(l->sock, ZMQ_LINGER, 0);
    setopt_int(l->sock, ZMQ_IMMEDIATE, 1);
    setopt_int(l->sock, ZMQ_RECONNECT_IVL, cfg->reconnect_min_ms);
    setopt_int(l->sock, ZMQ_RECONNECT_IVL_MAX, cfg->reconnect_max_ms);
    setopt_int(l->sock, ZMQ_HEARTBEAT_IVL, cfg->heartbeat_interval_ms);
    setopt_int(l->sock, ZMQ_HEARTBEAT_TIMEOUT, cfg->heartbeat_timeout_ms);
    setopt_int(l->sock, ZMQ_HEARTBEAT_TTL, cfg->heartbeat_timeout_ms);
    zmq_setsockopt(l->sock, ZMQ_CURVE_SERVERKEY, hub_pub, 40);
    zmq_setsockopt(l->sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(l->sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    sodium_memzero(sec, sizeof sec);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://adapter-monitor-%p", (void *)l);
    if (zmq_socket_monitor(l->sock, endpoint,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        !(l->monitor = zmq_socket(l->ctx, ZMQ_PAIR)) || zmq_connect(l->monitor, endpoint) != 0) {
        snprintf(err, errlen, "cannot watch the connection: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_connect(l->sock, cfg->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", cfg->endpoint, zmq_strerror(errno));
        goto fail;
    }
    return l;
fail:
    sodium_memzero(sec, sizeof sec);
    hublink_close(&l);
    return NULL;
}

void hublink_close(struct hublink **self_p)
{
    struct hublink *l = self_p ? *self_p : NULL;
    if (!l)
        return;
    if (l->sock) {
        zmq_socket_monitor(l->sock, NULL, 0);
        zmq_close(l->sock);
    }
    if (l->monitor)
        zmq_close(l->monitor);
    if (l->ctx)
        zmq_ctx_term(l->ctx);
    free(l);
    *self_p = NULL;
}

void *hublink_socket(struct hublink *l)
{
    return l->sock;
}

void *hublink_monitor(struct hublink *l)
{
    return l->monitor;
}

int hublink_send(struct hublink *l, const char *text, size_t len)
{
    return zmq_send(l->sock, text, len, ZMQ_DONTWAIT) == (int)len ? 0 : -1;
}

int hublink_send_json(struct hublink *l, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    int rc = text ? hublink_send(l, text, strlen(text)) : -1;
    free(text);
    return rc;
}

json_t *hublink_recv(struct hublink *l, int *dropped)
{
    zmq_msg_t m;
    json_t *j = NULL;
    if (dropped)
        *dropped = 0;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    int more = zmq_msg_more(&m);
    if (!more && zmq_msg_size(&m) <= MAX_FRAME)
        j = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), JSON_REJECT_DUPLICATES, NULL);
    zmq_msg_close(&m);
    /* The hub never sends several frames; drain any rest rather than misread it. */
    for (int i = 0; more && i < 64; i++) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0)
            more = 0;
        else
            more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    if (!j && dropped)
        *dropped = 1;
    return j ? j : NULL;
}

static int read_event(struct hublink *l, uint16_t *event)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, l->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    *event = 0;
    if (zmq_msg_size(&m) >= 6)
        memcpy(event, zmq_msg_data(&m), 2);
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        zmq_msg_recv(&m, l->monitor, 0);
        zmq_msg_close(&m);
    }
    return 0;
}

enum hublink_event hublink_event(struct hublink *l)
{
    uint16_t event;
    /* Skip notifications we did not ask for (bounded). */
    for (int i = 0; i < 64 && read_event(l, &event) == 0; i++) {
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            return HUBLINK_UP;
        case ZMQ_EVENT_DISCONNECTED:
            return HUBLINK_DOWN;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            return HUBLINK_REFUSED;
        default:
            break;
        }
    }
    return HUBLINK_NONE;
}
