/*
 * broker - the ZeroMQ side of the hub: the CURVE ROUTER socket partners'
 * adapters connect to, the ZAP handler that maps their public keys to partner
 * ids, and the one-thread event loop.
 *
 * Every frame is attributed to the partner behind the authenticated key
 * (ZMQ "User-Id" metadata set by the ZAP handler), never to anything in the
 * payload. Frames that arrive together are handed to intake as one batch, so
 * they share one commit; replies go out only after that commit.
 */
#ifndef BROKER_H
#define BROKER_H

#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "deliver.h"
#include "escalate.h"
#include "intake.h"
#include "store.h"

struct broker;

/*
 * Creates the sockets and binds cfg->listen with the hub's key pair (Z85).
 * Borrows cfg, in and st. Returns the broker (caller frees), or NULL with err.
 */
struct broker *broker_new(const struct config *cfg, const char *public_z85, const char *secret_z85,
                          struct intake *in, struct store *st, struct deliver *deliver, char *err,
                          size_t errlen);

/* Hands the loop the escalation engine and the alert sender (either NULL:
 * none). Borrowed; set before broker_run. */
void broker_set_escalation(struct broker *b, struct escalate *esc, struct notify *n);

/* Hands the loop the retention schedule (docs/retention.md; NULL: none).
 * Borrowed; set before broker_run. */
struct retention;
void broker_set_retention(struct broker *b, struct retention *r);

/*
 * Reloads the config (SIGHUP, or the admin request {"op": "reload"}): called
 * by the loop between batches, with no check running and every received
 * message answered. Returns the config the broker is to use from now on: a
 * new one (the old one may be freed by then; the broker no longer reads it),
 * or the one it had when the reload failed. `admin_user`: the OS user named
 * in the admin request that asked for it ("" when none), or NULL (SIGHUP).
 * Sets *outcome (caller owns) to {"outcome": "applied" | "failed", ...}
 * (docs/protocol.md §12), or NULL.
 */
typedef const struct config *(*broker_reload_fn)(void *arg, const char *admin_user,
                                                 struct json_t **outcome);

/* Sets the reload function (NULL: a reload request is logged and ignored). */
void broker_set_reload(struct broker *b, broker_reload_fn fn, void *arg);

/* The endpoint actually bound (a "*" port resolved). The broker owns it. */
const char *broker_endpoint(const struct broker *b);

/*
 * Runs the loop until a fatal error or a stop signal. `wake_fd` is the
 * signal handler's self-pipe (non-blocking), one byte per signal, the
 * signal's number: SIGHUP reloads the config (broker_set_reload), any other
 * stops the loop. Returns 0 after a clean stop, -1 on error.
 */
int broker_run(struct broker *b, int wake_fd);

/* Closes the sockets (sending pending replies, bounded linger), frees, nulls. */
void broker_free(struct broker **self_p);

#endif
