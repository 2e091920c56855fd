/*
 * referrals - routing signals into referrals and applying responses; see
 * referrals.h.
 */
#include "referrals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "util.h"

static enum referral_event event_of(enum event_type type)
{
    switch (type) {
    case TYPE_DOORVERWIJZING_ONTVANGEN:
        return REFERRAL_EV_ONTVANGEN;
    case TYPE_DOORVERWIJZING_GEACCEPTEERD:
        return REFERRAL_EV_GEACCEPTEERD;
    case TYPE_DOORVERWIJZING_AFGEWEZEN:
        return REFERRAL_EV_AFGEWEZEN;
    default:
        return REFERRAL_EV_AFGEROND;
    }
}

int referrals_check_response(struct store *st, const struct partner *partner, enum event_type type,
                             const json_t *data, json_t *errors, const char **audit_reason,
                             struct referrals_response *plan)
{
    const char *id = json_string_value(json_object_get(data, "doorverwijzing"));
    struct store_referral_row row;
    int found = id ? store_get_referral(st, id, &row) : 0;
    if (found < 0)
        return -1;
    if (!found || strcmp(row.partner, partner->id) != 0) {
        /* One answer for "no such referral" and "someone else's": a partner
         * must not learn which referrals exist. The audit tells them apart. */
        json_t *e =
            json_pack("{s:s, s:s, s:s}", "path", "/data/doorverwijzing", "keyword", "referral",
                      "message", "no referral with this id is addressed to you");
        json_array_append_new(errors, e);
        *audit_reason = found ? "referral_of_other_partner" : "referral_unknown";
        return 1;
    }
    memset(plan, 0, sizeof *plan);
    snprintf(plan->referral, sizeof plan->referral, "%s", row.id);
    plan->event = event_of(type);
    char err[160];
    if (referral_state_parse(row.state, &plan->from) != 0 ||
        referral_apply(plan->from, plan->event, &plan->to, err, sizeof err) != 0) {
        json_t *e =
            json_pack("{s:s, s:s, s:s}", "path", "/type", "keyword", "state", "message", err);
        json_array_append_new(errors, e);
        *audit_reason = "transition_refused";
        return 1;
    }
    /* A deadline that no longer applies is cleared; one that still does stays. */
    plan->receipt_due_ms = referral_awaits_receipt(plan->to) ? row.receipt_due_ms : 0;
    plan->decision_due_ms = referral_awaits_decision(plan->to) ? row.decision_due_ms : 0;
    return 0;
}

int referrals_apply_response(struct store *st, const struct partner *partner,
                             const struct referrals_response *plan, int64_t event_seq,
                             const char *time)
{
    const char *to = referral_state_name(plan->to);
    if (store_update_referral(st, plan->referral, to, time, plan->receipt_due_ms,
                              plan->decision_due_ms) != 0)
        return -1;
    struct store_history h = {plan->referral,
                              time,
                              partner->id,
                              referral_event_name(plan->event),
                              referral_state_name(plan->from),
                              to,
                              event_seq};
    return store_add_history(st, &h);
}

char *referrals_offer_event(const struct config *cfg, const char *event_id, const char *referral_id,
                            const struct partner *partner, const struct policy *policy,
                            const char *rule, const json_t *data, const char *time,
                            int64_t receipt_due_ms, int64_t decision_due_ms)
{
    char receipt[UTIL_TIME_LEN], decision[UTIL_TIME_LEN];
    util_time_format(receipt_due_ms, receipt);
    util_time_format(decision_due_ms, decision);
    /* Data minimisation: only the fields of this role's profile leave. */
    json_t *signal = json_object();
    for (size_t i = 0; i < cfg->nprofile[partner->role]; i++) {
        const char *field = cfg->profiles[partner->role][i];
        json_t *v = json_object_get(data, field);
        if (v)
            json_object_set(signal, field, v);
    }
    json_t *ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}, s:o}}", "specversion",
        "1.0", "id", event_id, "source", cfg->source, "type", TYPE_NAME_DOORVERWIJZING_AANGEBODEN,
        "time", time, "datacontenttype", "application/json", "subject", referral_id, "data",
        "doorverwijzing", referral_id, "beleid", policy->name, "regel", rule, "termijnen",
        "ontvangst", receipt, "besluit", decision, "signaal", signal);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

int referrals_make(const struct config *cfg, struct store *st, int64_t signal_seq,
                   const json_t *data, const char *time, int64_t now_ms,
                   referrals_touched_fn touched, void *arg)
{
    /* One hit per partner at most: room for all of them, so none is cut. */
    struct route_hit *hits = calloc(cfg->npartners + 1, sizeof *hits);
    if (!hits)
        return -1;
    size_t n = route_evaluate(cfg, data, hits, cfg->npartners);
    int made = -1;
    for (size_t i = 0; i < n; i++) {
        char ref_id[UTIL_UUID_LEN], event_id[UTIL_UUID_LEN];
        util_uuid4(ref_id);
        util_uuid4(event_id);
        int64_t receipt_due = now_ms + hits[i].policy->receipt_ms;
        int64_t decision_due = now_ms + hits[i].policy->decision_ms;
        struct store_referral r = {ref_id,
                                   signal_seq,
                                   hits[i].partner->id,
                                   hits[i].policy->name,
                                   hits[i].rule,
                                   referral_state_name(REFERRAL_AANGEBODEN),
                                   time,
                                   receipt_due,
                                   decision_due};
        struct store_history h = {ref_id, time,         "hub",     "aangeboden",
                                  NULL,   "aangeboden", signal_seq};
        char *payload =
            referrals_offer_event(cfg, event_id, ref_id, hits[i].partner, hits[i].policy,
                                  hits[i].rule, data, time, receipt_due, decision_due);
        json_t *d =
            json_pack("{s:s, s:s, s:s, s:I}", "partner", hits[i].partner->id, "rule", hits[i].rule,
                      "policy", hits[i].policy->name, "signal_seq", (json_int_t)signal_seq);
        char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        struct audit_record ar = {time, "hub", NULL, "referral", ref_id, "created", detail};
        int rc = payload && store_put_referral(st, &r) == 0 && store_add_history(st, &h) == 0 &&
                         store_put_delivery(st, event_id, ref_id, hits[i].partner->id, time,
                                            payload) == 0 &&
                         store_audit(st, &ar) == 0
                     ? 0
                     : -1;
        free(payload);
        free(detail);
        if (rc != 0)
            goto done;
        if (touched)
            touched(arg, hits[i].partner);
    }
    made = (int)n;
done:
    free(hits);
    return made;
}
