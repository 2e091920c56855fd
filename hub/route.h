/*
 * route - routing rules: which partners get a referral for a signal.
 *
 * Rules come from the config (`routes`, docs/routing.md) and are evaluated in
 * order against the signal's `data`. Every rule whose conditions all hold
 * adds its targets; a partner named by several rules gets one referral, with
 * the policy of the first rule that named it; a rule marked `final` stops the
 * evaluation. A signal that yields no target at all goes to every partner
 * with role coordinator, under the default policy: never nowhere.
 * Pure: no I/O, no logging, no allocation while evaluating.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>
#include <jansson.h>

#include "config.h"

enum route_op { ROUTE_EQUALS, ROUTE_IN, ROUTE_PRESENT, ROUTE_CONTAINS, ROUTE_CONTAINS_ANY };

struct route_condition {
    char *pointer; /* JSON pointer into the signal's data, e.g. "/urgentie" */
    enum route_op op;
    json_t *value; /* owned; NULL for ROUTE_PRESENT */
    int present;   /* ROUTE_PRESENT: must the field be there (1) or not (0) */
};

enum route_target_kind { ROUTE_TO_PARTNER, ROUTE_TO_ROLE, ROUTE_TO_MUNICIPALITY_OF };

struct route_target {
    enum route_target_kind kind;
    const struct partner *partner; /* ROUTE_TO_PARTNER */
    enum role role;                /* ROUTE_TO_ROLE */
    char *pointer;                 /* ROUTE_TO_MUNICIPALITY_OF: CBS code field */
};

struct route {
    char *name;
    struct route_condition *conditions;
    size_t nconditions;
    struct route_target *targets;
    size_t ntargets;
    const struct policy *policy;
    int final;
    unsigned from_roles; /* `from`: bit set of enum role of the sender; 0: any */
};

/* Parses the `routes` array into cfg->routes, adding a problem (named by its
 * JSON pointer) for anything wrong. Partners and policies must be loaded. */
void route_load(struct config *cfg, const json_t *routes, struct config_problems *p);

/* Frees an array of n routes made by route_load. */
void route_free(struct route *routes, size_t n);

/* One referral to make. All pointers borrow from the config. */
struct route_hit {
    const struct partner *partner;
    const struct policy *policy;
    const char *rule; /* the rule's name, or "coordinator-fallback" */
};

/*
 * Evaluates the rules against a signal's `data`. Fills at most `cap` hits,
 * one per partner, in rule order; returns how many. Returns 0 only when no
 * rule gave a target and the config has no coordinator (config_load refuses
 * that, so the hub never sees it).
 */
size_t route_evaluate(const struct config *cfg, const json_t *data, struct route_hit *hits,
                      size_t cap);

/* The same, for a signal sent by a partner of role `sender`: a rule with
 * `from` holds only for a sender of one of its roles. route_evaluate is this
 * with no sender known (ROLE_COUNT): rules with `from` never hold. */
size_t route_evaluate_from(const struct config *cfg, const json_t *data, enum role sender,
                           struct route_hit *hits, size_t cap);

/* The value at a JSON pointer below `root`, or NULL. Borrowed. */
const json_t *route_pointer_get(const json_t *root, const char *pointer);

#endif
