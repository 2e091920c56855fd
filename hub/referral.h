/*
 * referral - the state machine of one referral (a "warme overdracht" from one
 * chain partner to another), modelled on the FHIR Task status with Dutch wire
 * names.
 *
 * Does: name <-> enum conversion for states and events, the one transition
 * table, and which states are final or still wait on a deadline.
 * Does not: store referrals, keep time, check who sent an event (the target
 * partner sends ontvangen/geaccepteerd/afgewezen/afgerond, the hub the others;
 * that is authz's job), detect resent events (event-id idempotency in the
 * store), allocate or log. Pure functions over small enums; thread-safe.
 */
#ifndef REFERRAL_H
#define REFERRAL_H

#include <stddef.h>

/* Where a referral stands. Wire names in referral_state_name. */
enum referral_state {
    REFERRAL_AANGEBODEN,   /* offered by the source; the target has not answered */
    REFERRAL_ONTVANGEN,    /* the target confirmed receipt */
    REFERRAL_GEACCEPTEERD, /* the target accepted the client */
    REFERRAL_AFGEWEZEN,    /* the target declined (final) */
    REFERRAL_AFGEROND,     /* the target completed the work (final) */
    REFERRAL_GEANNULEERD,  /* withdrawn by the hub/coordinator (final) */
    REFERRAL_MISLUKT,      /* the hub gave up delivering it (final) */
    REFERRAL_STATE_COUNT
};

/* What happens to a referral. Wire names in referral_event_name. */
enum referral_event {
    REFERRAL_EV_ONTVANGEN,    /* target: received */
    REFERRAL_EV_GEACCEPTEERD, /* target: accepted (implies received) */
    REFERRAL_EV_AFGEWEZEN,    /* target: declined */
    REFERRAL_EV_AFGEROND,     /* target: completed */
    REFERRAL_EV_GEANNULEERD,  /* hub/coordinator: cancelled */
    REFERRAL_EV_MISLUKT,      /* hub: delivery given up */
    REFERRAL_EVENT_COUNT
};

/* The wire name of a state ("aangeboden", ...), or "?" when out of range.
 * Returns a static string; the caller does not free it. */
const char *referral_state_name(enum referral_state s);

/* Sets *out to the state whose wire name is exactly `name` (case-sensitive).
 * Returns 0, or -1 for NULL or an unknown name (then *out is left as it was). */
int referral_state_parse(const char *name, enum referral_state *out);

/* The wire name of an event ("ontvangen", ...), or "?" when out of range.
 * Returns a static string; the caller does not free it. */
const char *referral_event_name(enum referral_event e);

/* Sets *out to the event whose wire name is exactly `name` (case-sensitive).
 * Returns 0, or -1 for NULL or an unknown name (then *out is left as it was). */
int referral_event_parse(const char *name, enum referral_event *out);

/*
 * The one transition table. Returns 0 and sets *next (not NULL) when `event` is
 * allowed in `current`; otherwise -1, *next untouched, and a message naming both
 * (e.g. a referral in state "afgewezen" cannot be "geaccepteerd") in err
 * (err may be NULL when errlen is 0). Repeating the current state's event is
 * refused: resends are caught earlier by event-id idempotency.
 */
int referral_apply(enum referral_state current, enum referral_event event,
                   enum referral_state *next, char *err, size_t errlen);

/* 1 for afgewezen, afgerond, geannuleerd and mislukt; 0 otherwise (also when
 * out of range). */
int referral_is_final(enum referral_state s);

/* 1 while the receipt deadline runs: only in aangeboden. 0 otherwise. */
int referral_awaits_receipt(enum referral_state s);

/* 1 while the decision (accept/decline) deadline runs: in aangeboden and
 * ontvangen. 0 otherwise. */
int referral_awaits_decision(enum referral_state s);

#endif
