/*
 * intake - turns raw frames from authenticated partners into stored events and
 * reply objects, a batch at a time.
 *
 * For each frame: bounded JSON parse, envelope schema, known type, role ×
 * type authorisation, data schema. Then one transaction stores every valid
 * event (idempotent on partner + source + id) and an audit record for every
 * frame, accepted or not; replies are final only once that commit returned.
 * Knows nothing of ZeroMQ: the broker hands frames in and sends replies out.
 *
 * The two phases can overlap: while the caller stores and answers one batch
 * (intake_store), a helper thread checks the next (intake_check_start), so the
 * parsing and validation of events use the second core.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include <stddef.h>
#include <jansson.h>

#include "catalog.h"
#include "config.h"
#include "match.h"
#include "store.h"

struct referrals_plan;

struct intake;

/* What the check phase found; private to intake. */
struct intake_check {
    json_t *event;  /* parsed event, NULL if rejected before parsing */
    json_t *errors; /* non-empty: rejected */
    const char *id; /* points into event, may be NULL */
    const char *type;
    struct referrals_plan *plan; /* a valid signal's referrals, prepared while checking */
    /* A signal that carried identifying fields (docs/matching.md): their
     * pseudonyms, and the event as stored, without them (owned). body is
     * NULL when the frame is stored as received. */
    struct match_pseudonym pseudonyms[MATCH_KINDS];
    size_t npseudonyms;
    char *body;
    size_t body_len;
    /* The stored body, sealed on the checking thread (docs/encryption.md),
     * owned; NULL: the store seals it. */
    uint8_t *sealed;
    size_t sealed_len;
};

/* What a frame turned out to be. */
enum intake_kind {
    INTAKE_EVENT,     /* a CloudEvent: one reply */
    INTAKE_RECEIPT,   /* {"receipt": "<event id>"}: confirms a delivery, no reply */
    INTAKE_HEARTBEAT, /* {"heartbeat": n}: answered with the same */
};

/* One frame in, at most one reply out (none for a valid receipt). */
struct intake_msg {
    const struct partner *partner; /* authenticated sender (from the CURVE User-Id) */
    const char *data;              /* the frame, borrowed */
    size_t len;
    int frames;  /* number of frames in the ZeroMQ message; anything but 1 is refused */
    char *reply; /* out: the reply, JSON text; caller frees it after intake_store */
    size_t reply_len;
    /* The sender's peer address (for the audit), borrowed; may be NULL. */
    const char *address;
    enum intake_kind kind;     /* out: set by the check */
    int confirmed;             /* out: a receipt that confirmed a pending delivery */
    struct intake_check check; /* private: zero it once, then leave it to intake */
};

/* Borrows cfg, cat and st for its lifetime. Caller frees with intake_free. */
struct intake *intake_new(const struct config *cfg, const struct catalog *cat, struct store *st);

/* Frees and sets *self_p to NULL. */
void intake_free(struct intake **self_p);

/*
 * Phase one: parses, validates and authorises `n` messages, without touching
 * the store. A batch of 16 or more goes to the helper thread and this returns
 * at once; a smaller one is checked here. One batch at a time: call
 * intake_check_wait before starting the next. Borrows msgs until the wait.
 */
void intake_check_start(struct intake *in, struct intake_msg *msgs, size_t n);

/* Waits until the batch of the last intake_check_start is checked. */
void intake_check_wait(struct intake *in);

/*
 * Phase two, for a checked batch: one transaction stores every valid event
 * and an audit record per message; fills every msgs[i].reply. Returns 0 when
 * the batch committed, or -1 when the store failed: then nothing of the batch
 * was kept and every reply is a rejection saying so (the caller logs the
 * store error).
 */
int intake_store(struct intake *in, struct intake_msg *msgs, size_t n);

/*
 * Frees the check results kept in msgs. intake_check_start frees the results
 * of the batch before it in the same array itself (on the helper thread, off
 * the committing thread); call this for the last batch of an array, before
 * the array goes away.
 */
void intake_release(struct intake_msg *msgs, size_t n);

/* Both phases, one after the other, then intake_release. Returns what
 * intake_store returns. */
int intake_run(struct intake *in, struct intake_msg *msgs, size_t n);

/* The partners that got new deliveries in the last intake_store (each once).
 * The intake owns the array; valid until the next intake_store. */
const struct partner *const *intake_touched(const struct intake *in, size_t *n);

/*
 * The config was reloaded: checks from now on use `cfg` (borrowed). Call
 * only between batches (no check running, none checked and not yet stored:
 * their messages point at the old config's partners). 0, or -1 when out of
 * memory (then the old config stays in use).
 */
int intake_reconfigure(struct intake *in, const struct config *cfg);

/* The store's error after intake_store returned -1. */
const char *intake_store_error(const struct intake *in);

#endif
