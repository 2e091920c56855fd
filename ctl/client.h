/*
 * client (ketenctl) - a partner's side of the wire protocol, for `send` and
 * `receive`: a CURVE DEALER connected to the hub with a partner's key pair,
 * and the socket monitor that tells a refused key from a silent hub.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <stddef.h>

struct client {
    void *ctx;
    void *sock;
    void *monitor; /* PAIR receiving handshake failures */
    char partner_public[41];
};

/* Connects to `hub` with the hub's public key file and the partner's key
 * pair file. Returns 0, or -1 with err filled (nothing left open). */
int client_open(struct client *c, const char *hub, const char *hub_key, const char *key, char *err,
                size_t errlen);

/* Closes everything. */
void client_close(struct client *c);

/* When the monitor has news of a failed handshake, a message saying why;
 * NULL otherwise. Static storage. */
const char *client_handshake_failure(struct client *c);

#endif
