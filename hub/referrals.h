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

/*
 * Routes a newly stored signal (`signal_seq`, its `data`) into referrals:
 * for each target a referral, its first history entry, an audit record and a
 * queued doorverwijzing-aangeboden delivery. Returns the number of referrals
 * made, or -1 on a store error.
 */
int referrals_make(const struct config *cfg, struct store *st, int64_t signal_seq,
                   const json_t *data, const char *time, int64_t now_ms,
                   referrals_touched_fn touched, void *arg);

/*
 * Builds the doorverwijzing-aangeboden event for one referral: a CloudEvent
 * whose data holds the referral id, policy, rule, deadlines and the signal
 * fields in the role's profile (and nothing else). Caller frees the JSON text.
 */
char *referrals_offer_event(const struct config *cfg, const char *event_id, const char *referral_id,
                            const struct partner *partner, const struct policy *policy,
                            const char *rule, const json_t *data, const char *time,
                            int64_t receipt_due_ms, int64_t decision_due_ms);

#endif
