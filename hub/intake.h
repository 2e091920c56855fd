/*
 * intake - turns raw frames from authenticated partners into stored events and
 * reply objects, a batch at a time.
 *
 * For each frame: bounded JSON parse, envelope schema, known type, role ×
 * type authorisation, data schema. Then one transaction stores every valid
 * event (idempotent on partner + source + id) and an audit record for every
 * frame, accepted or not; replies are final only once that commit returned.
 * Knows nothing of ZeroMQ: the broker hands frames in and sends replies out.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stddef.h>
#include <jansson.h>

#include "catalog.h"
#include "config.h"
#include "store.h"

struct intake;

/* One frame in, one reply out. */
struct intake_msg {
    const struct partner *partner; /* authenticated sender (from the CURVE User-Id) */
    const char *data;              /* the frame, borrowed */
    size_t len;
    int frames;    /* number of frames in the ZeroMQ message; anything but 1 is refused */
    json_t *reply; /* out: the reply object; caller owns it after intake_run */
};

/* Borrows cfg, cat and st for its lifetime. Caller frees with intake_free. */
struct intake *intake_new(const struct config *cfg, const struct catalog *cat, struct store *st);

/* Frees and sets *self_p to NULL. */
void intake_free(struct intake **self_p);

/*
 * Processes `n` messages: fills every msgs[i].reply. Returns 0 when the batch
 * committed, or -1 when the store failed: then nothing of the batch was kept
 * and every reply is a rejection saying so (the caller logs the store error).
 */
int intake_run(struct intake *in, struct intake_msg *msgs, size_t n);

/* The store's error after intake_run returned -1. */
const char *intake_store_error(const struct intake *in);

#endif
