/*
 * client (ketenctl) - CURVE DEALER to the hub; see client.h.
 */
#include "client.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "keyfile.h"

int client_open(struct client *c, const char *hub, const char *hub_key, const char *key, char *err,
                size_t errlen)
{
    char hub_pub[41], sec[41];
    memset(c, 0, sizeof *c);
    if (keyfile_read_public(hub_key, hub_pub, err, errlen) != 0 ||
        keyfile_read_pair(key, c->partner_public, sec, err, errlen) != 0)
        return -1;
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
    if (!c->sock) {
        snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(errno));
        goto fail;
    }
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, hub_pub, 40);
    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, c->partner_public, 40);
    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    sodium_memzero(sec, sizeof sec);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://ketenctl-monitor-%p", (void *)c);
    zmq_socket_monitor(c->sock, endpoint,
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    c->monitor = zmq_socket(c->ctx, ZMQ_PAIR);
    if (!c->monitor || zmq_connect(c->monitor, endpoint) != 0) {
        snprintf(err, errlen, "cannot watch the connection: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_connect(c->sock, hub) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", hub, zmq_strerror(errno));
        goto fail;
    }
    return 0;
fail:
    sodium_memzero(sec, sizeof sec);
    client_close(c);
    return -1;
}

void client_close(struct client *c)
{
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->monitor)
        zmq_close(c->monitor);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    memset(c, 0, sizeof *c);
}

const char *client_handshake_failure(struct client *c)
{
    static char why[160];
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&event, zmq_msg_data(&m), 2);
        memcpy(&value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        zmq_msg_recv(&m, c->monitor, 0);
        zmq_msg_close(&m);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(why, sizeof why,
                 "the hub refused this key (status %u): is its public key in the hub's "
                 "partners list?",
                 value);
        return why;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        snprintf(why, sizeof why,
                 "CURVE handshake failed: is --hub-key the hub's current public key?");
        return why;
    }
    return NULL;
}
