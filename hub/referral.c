/*
 * referral - the referral state machine; see referral.h.
 *
 * The transition table below is the whole policy: every (state, event) pair
 * has one cell, and a cell is either the next state or REFUSED. Nothing else
 * in this file decides what may happen to a referral.
 */
#include "referral.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#define REFUSED (-1)

static const char *const state_names[REFERRAL_STATE_COUNT] = {
    [REFERRAL_AANGEBODEN] = "aangeboden",     [REFERRAL_ONTVANGEN] = "ontvangen",
    [REFERRAL_GEACCEPTEERD] = "geaccepteerd", [REFERRAL_AFGEWEZEN] = "afgewezen",
    [REFERRAL_AFGEROND] = "afgerond",         [REFERRAL_GEANNULEERD] = "geannuleerd",
    [REFERRAL_MISLUKT] = "mislukt",
};

static const char *const event_names[REFERRAL_EVENT_COUNT] = {
    [REFERRAL_EV_ONTVANGEN] = "ontvangen",     [REFERRAL_EV_GEACCEPTEERD] = "geaccepteerd",
    [REFERRAL_EV_AFGEWEZEN] = "afgewezen",     [REFERRAL_EV_AFGEROND] = "afgerond",
    [REFERRAL_EV_GEANNULEERD] = "geannuleerd", [REFERRAL_EV_MISLUKT] = "mislukt",
};

/* Short aliases so that each state is one readable row of the table. */
#define ONTV REFERRAL_ONTVANGEN
#define ACPT REFERRAL_GEACCEPTEERD
#define AFGW REFERRAL_AFGEWEZEN
#define AFRD REFERRAL_AFGEROND
#define ANNU REFERRAL_GEANNULEERD
#define MISL REFERRAL_MISLUKT

/*
 * transitions[current][event] = next state, or REFUSED.
 * An accept straight from aangeboden implies receipt. Only the hub cancels or
 * gives up, and it can give up only while nobody has answered yet: once the
 * target confirmed receipt, delivery has succeeded. Final states take nothing.
 */
/* clang-format off */
static const int transitions[REFERRAL_STATE_COUNT][REFERRAL_EVENT_COUNT] = {
    /*                      ontvangen  geaccepteerd  afgewezen  afgerond  geannuleerd  mislukt */
    [REFERRAL_AANGEBODEN]   = {ONTV,    ACPT,         AFGW,      REFUSED,  ANNU,        MISL},
    [REFERRAL_ONTVANGEN]    = {REFUSED, ACPT,         AFGW,      REFUSED,  ANNU,        REFUSED},
    [REFERRAL_GEACCEPTEERD] = {REFUSED, REFUSED,      REFUSED,   AFRD,     ANNU,        REFUSED},
    [REFERRAL_AFGEWEZEN]    = {REFUSED, REFUSED,      REFUSED,   REFUSED,  REFUSED,     REFUSED},
    [REFERRAL_AFGEROND]     = {REFUSED, REFUSED,      REFUSED,   REFUSED,  REFUSED,     REFUSED},
    [REFERRAL_GEANNULEERD]  = {REFUSED, REFUSED,      REFUSED,   REFUSED,  REFUSED,     REFUSED},
    [REFERRAL_MISLUKT]      = {REFUSED, REFUSED,      REFUSED,   REFUSED,  REFUSED,     REFUSED},
};
/* clang-format on */

#undef ONTV
#undef ACPT
#undef AFGW
#undef AFRD
#undef ANNU
#undef MISL

/* Casting through unsigned also catches negative values forced into the enum. */
static int state_valid(enum referral_state s)
{
    return (unsigned)s < REFERRAL_STATE_COUNT;
}

static int event_valid(enum referral_event e)
{
    return (unsigned)e < REFERRAL_EVENT_COUNT;
}

const char *referral_state_name(enum referral_state s)
{
    return state_valid(s) ? state_names[s] : "?";
}

int referral_state_parse(const char *name, enum referral_state *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < REFERRAL_STATE_COUNT; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum referral_state)i;
            return 0;
        }
    }
    return -1;
}

const char *referral_event_name(enum referral_event e)
{
    return event_valid(e) ? event_names[e] : "?";
}

int referral_event_parse(const char *name, enum referral_event *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < REFERRAL_EVENT_COUNT; i++) {
        if (strcmp(name, event_names[i]) == 0) {
            *out = (enum referral_event)i;
            return 0;
        }
    }
    return -1;
}

int referral_apply(enum referral_state current, enum referral_event event,
                   enum referral_state *next, char *err, size_t errlen)
{
    assert(next != NULL);
    if (!state_valid(current) || !event_valid(event)) {
        if (err && errlen)
            snprintf(err, errlen, "unknown referral state %d or event %d", (int)current,
                     (int)event);
        return -1;
    }
    int to = transitions[current][event];
    if (to == REFUSED) {
        if (err && errlen)
            snprintf(err, errlen, "a referral in state \"%s\" cannot be \"%s\"",
                     state_names[current], event_names[event]);
        return -1;
    }
    *next = (enum referral_state)to;
    return 0;
}

int referral_is_final(enum referral_state s)
{
    return s == REFERRAL_AFGEWEZEN || s == REFERRAL_AFGEROND || s == REFERRAL_GEANNULEERD ||
           s == REFERRAL_MISLUKT;
}

int referral_awaits_receipt(enum referral_state s)
{
    return s == REFERRAL_AANGEBODEN;
}

int referral_awaits_decision(enum referral_state s)
{
    return s == REFERRAL_AANGEBODEN || s == REFERRAL_ONTVANGEN;
}
