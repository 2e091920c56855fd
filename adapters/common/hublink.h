/*
 * hublink - the adapter's one CURVE DEALER connection to the hub
 * (docs/protocol.md §1, §2, §9).
 *
 * libzmq reconnects by itself with exponential backoff between
 * reconnect_min_ms and reconnect_max_ms (ZMQ_RECONNECT_IVL, _IVL_MAX).
 * ZMQ_IMMEDIATE is on, so a send while no connection is up fails at once
 * (EAGAIN) instead of queueing in libzmq, where a crash would lose it: what is
 * not sent stays in the outbox. ZMTP heartbeats drop a dead connection. A
 * socket monitor tells the core when the connection comes up, goes down, or
 * the hub refuses the key. Frames are JSON objects. Does not log.
 */
#ifndef HUBLINK_H
#define HUBLINK_H

#include <stddef.h>
#include <jansson.h>

struct hublink;

struct hublink_config {
    const char *endpoint;       /* tcp://host:port or ipc://path */
    const char *hub_public_key; /* path of the hub's .pub */
    const char *key;            /* path of our .key (mode 0600) */
    long heartbeat_interval_ms, heartbeat_timeout_ms;
    long reconnect_min_ms, reconnect_max_ms;
};

enum hublink_event {
    HUBLINK_NONE = 0,
    HUBLINK_UP,      /* handshake done: the session can be opened */
    HUBLINK_DOWN,    /* connection closed (libzmq will reconnect) */
    HUBLINK_REFUSED, /* the hub refused our key or we have its key wrong */
};

/* Connects (asynchronously). Caller owns the link. NULL with err filled. */
struct hublink *hublink_open(const struct hublink_config *cfg, char *err, size_t errlen);

/* Closes and sets *self_p to NULL. */
void hublink_close(struct hublink **self_p);

/* The DEALER and the monitor socket, for zmq_poll (ZMQ_POLLIN). */
void *hublink_socket(struct hublink *l);
void *hublink_monitor(struct hublink *l);

/* Sends `len` bytes as one frame without blocking. Returns 0, or -1 when no
 * connection is up (or the send failed). */
int hublink_send(struct hublink *l, const char *text, size_t len);

/* Sends a JSON object (borrowed) as one compact frame. Returns 0 or -1. */
int hublink_send_json(struct hublink *l, const json_t *j);

/*
 * Receives one frame without blocking. Returns a new object reference (caller
 * owns), or NULL when nothing is waiting; a frame that is not a JSON object
 * is dropped (*dropped set to 1 when given).
 */
json_t *hublink_recv(struct hublink *l, int *dropped);

/* Reads one monitor notification without blocking; HUBLINK_NONE if none. */
enum hublink_event hublink_event(struct hublink *l);

#endif
