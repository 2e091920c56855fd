/*
 * referrals - what an accepted event does to referrals, inside intake's
 * transaction: a new signal is routed into referrals (each with its deadlines,
 * its history and a queued delivery carrying only the fields the receiving
 * role's profile allows); a partner's response moves its referral through the
 * state machine. Knows nothing of ZeroMQ; the broker sends the deliveries.
 */
#ifndef REFERRALS_H
#define REFERRALS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "authz.h"
#include "config.h"
#include "referral.h"
#include "store.h"
#include "util.h"

/* What a response will do, decided before the event is stored. */
struct referrals_response {
    char referral[64];
    enum referral_state from, to;
    enum referral_event event;
    int64_t receipt_due_ms, decision_due_ms; /* after the transition */
};

/*
 * Checks a partner's response (type is one of the doorverwijzing-* inbound
 * types) against the stored referral: it must exist, be addressed to
 * `partner`, and the state machine must allow the event. On a refusal appends
 * one error to `errors` (never saying whether a referral the partner does not
 * own exists) and sets *audit_reason for the audit trail only. Returns 0
 * when allowed (plan filled), 1 when refused, -1 on a store error.
 */
int referrals_check_response(struct store *st, const struct partner *partner, enum event_type type,
                             const json_t *data, json_t *errors, const char **audit_reason,
                             struct referrals_response *plan);

/* Applies a checked response: state, deadlines, history. 0 or -1. */
int referrals_apply_response(struct store *st, const struct partner *partner,
                             const struct referrals_response *plan, int64_t event_seq,
                             const char *time);

/* Called once per partner that got a new delivery. */
typedef void (*referrals_touched_fn)(void *arg, const struct partner *partner);

/* The referrals a signal will make, worked out before it is stored (on the
 * checking thread): targets, ids, deadlines and each offer's JSON text. */
struct referrals_item {
    const struct partner *partner;
    const struct policy *policy;
    const char *rule;
    char referral_id[UTIL_UUID_LEN];
    char event_id[UTIL_UUID_LEN];
    int64_t receipt_due_ms, decision_due_ms;
    char *payload;   /* the doorverwijzing-aangeboden event, owned */
    uint8_t *sealed; /* payload sealed by referrals_plan_seal, owned; NULL: not yet */
    size_t sealed_len;
};

struct referrals_plan {
    struct referrals_item *items;
    size_t n;
    int64_t now_ms;
    char time[UTIL_TIME_LEN]; /* now_ms as RFC 3339: created, and the offers' time */
    /* The signal's facts for the coordinator's report (docs/reporting.md). */
    unsigned forms; /* bits as in struct store_signal_facts */
    char urgency[16];
    int minor;
    char municipality[8]; /* "" when absent */
};

/*
 * Routes a valid signal's `data`, sent by a partner of role `sender`
 * (docs/routing.md), and prepares every
 * referral it makes, as of `now_ms`. Touches no store: safe on intake's
 * helper thread. Returns the plan (caller frees with referrals_plan_free),
 * or NULL when out of memory.
 */
struct referrals_plan *referrals_plan(const struct config *cfg, const json_t *data,
                                      enum role sender, int64_t now_ms);

/* Seals each offer's payload for its delivery row (SEAL_AD_DELIVERY), so the
 * store need not (docs/encryption.md). An offer left unsealed (no memory) is
 * sealed by the store. Safe on intake's helper thread. */
void referrals_plan_seal(struct referrals_plan *plan, const struct seal_key *key);

/* Frees a plan and sets *self_p to NULL. */
void referrals_plan_free(struct referrals_plan **self_p);

/*
 * Stores a planned signal's facts and referrals (signal already stored as
 * `signal_seq`, sent by `sender`): the facts, each referral, its first
 * history entry, an audit record and its queued delivery. Calls `touched`
 * per partner. Returns the number of referrals made, or -1 on a store error.
 * Call inside intake's transaction.
 */
int referrals_store(struct store *st, int64_t signal_seq, const struct partner *sender,
                    const struct referrals_plan *plan, referrals_touched_fn touched, void *arg);

/*
 * Builds the doorverwijzing-aangeboden event for one referral: a CloudEvent
 * whose data holds the referral id, policy, rule, deadlines, the role of the
 * partner that reported the signal (`melder`, when `sender` < ROLE_COUNT) and
 * the signal fields in the role's profile (and nothing else). Caller frees
 * the JSON text.
 */
char *referrals_offer_event(const struct config *cfg, const char *event_id, const char *referral_id,
                            const struct partner *partner, enum role sender,
                            const struct policy *policy, const char *rule, const json_t *data,
                            const char *time, int64_t receipt_due_ms, int64_t decision_due_ms);

#endif
