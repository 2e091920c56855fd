/*
 * match - pseudonymised matching of signals, inside intake's transaction.
 *
 * Keeps the pseudonyms a new signal carried (table `pseudonyms`) and, when
 * one equals a pseudonym of an earlier signal from another partner, raises a
 * match: a row in `matches`, an audit record, and a match-gevonden event for
 * every coordinator partner, stored as a delivery like the escalation
 * events. The event names the two signals and partners and the kinds of
 * identifier; never the person's data nor the pseudonym (docs/matching.md).
 * Knows nothing of ZeroMQ; the clear values never reach this module.
 */
#ifndef MATCH_H
#define MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "pseudonym.h"
#include "store.h"

#define MATCH_EVENT_TYPE "nl.mensenhandel.signalen.match-gevonden"

/* One pseudonym of a signal. `kind` is PSEUDONYM_KIND_BSN or _NAME (static). */
struct match_pseudonym {
    const char *kind;
    char hex[PSEUDONYM_HEX_LEN];
};

/* A signal's pseudonyms: at most one per kind. */
#define MATCH_KINDS 2

struct match;

/* Prepares its statements on the store's connection (borrows st for its
 * lifetime). Returns the matcher (caller frees), or NULL with err. */
struct match *match_new(struct store *st, char *err, size_t errlen);

/* Frees and sets *self_p to NULL. */
void match_free(struct match **self_p);

/* Called once per coordinator that got a match event. */
typedef void (*match_touched_fn)(void *arg, const struct partner *partner);

/* The new signal whose pseudonyms are being kept. Strings borrowed. */
struct match_signal {
    int64_t seq;
    const char *event_id; /* its CloudEvents id */
    const struct partner *partner;
    int64_t received_ms;
};

/*
 * Stores the `n` pseudonyms of signal `sig` and raises one match per earlier
 * partner whose signals share one of them (docs/matching.md, "Which
 * matches"); the events go to the coordinators of `cfg` (borrowed for the
 * call). Call inside intake's transaction, after the signal itself is
 * stored. Returns how many matches were raised, or -1 on a store error.
 */
int match_signal(struct match *m, const struct config *cfg, const struct match_signal *sig,
                 const struct match_pseudonym *ps, size_t n, match_touched_fn touched, void *arg);

/* For a resend of stored signal `seq`: 1 when its stored pseudonyms are
 * exactly `ps` (same kinds, same values), 0 when not, -1 on a store error. */
int match_same_pseudonyms(struct match *m, int64_t seq, const struct match_pseudonym *ps, size_t n);

#endif
