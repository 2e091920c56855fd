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
    /* Accepting or declining implies receipt; the first moment of each is kept. */
    int decided = plan->to == REFERRAL_GEACCEPTEERD || plan->to == REFERRAL_AFGEWEZEN;
    int received = decided || plan->to == REFERRAL_ONTVANGEN;
    int64_t now = util_wall_ms();
    if ((received || decided) &&
        store_referral_answered(st, plan->referral, received ? now : 0, decided ? now : 0) != 0)
        return -1;
    struct store_history h = {plan->referral,
                              time,
                              partner->id,
                              referral_event_name(plan->event),
                              referral_state_name(plan->from),
                              to,
                              event_seq};
    /* The state change itself is audited (NEN 7513: every change), beside the
     * intake record of the event that caused it. */
    char detail[128];
    snprintf(detail, sizeof detail, "{\"from\":\"%s\",\"event_seq\":%lld}",
             referral_state_name(plan->from), (long long)event_seq);
    struct audit_record ar = {.time = time,
                              .actor = partner->id,
                              .role = authz_role_name(partner->role),
                              .action = "referral",
                              .object = plan->referral,
                              .outcome = to,
                              .detail = detail};
    return store_add_history(st, &h) == 0 && store_audit(st, &ar) == 0 ? 0 : -1;
}

char *referrals_offer_event(const struct config *cfg, const char *event_id, const char *referral_id,
                            const struct partner *partner, enum role sender,
                            const struct policy *policy, const char *rule, const json_t *data,
                            const char *time, int64_t receipt_due_ms, int64_t decision_due_ms)
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
    /* Who reported it, as a role: not personal data, and what CoMensha's
     * adapter needs to tell a legal duty to report from consent. */
    if (ev && sender < ROLE_COUNT)
        json_object_set_new(json_object_get(ev, "data"), "melder",
                            json_pack("{s:s}", "rol", authz_role_name(sender)));
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

struct referrals_plan *referrals_plan(const struct config *cfg, const json_t *data,
                                      enum role sender, int64_t now_ms)
{
    struct referrals_plan *plan = calloc(1, sizeof *plan);
    /* One hit per partner at most: room for all of them, so none is cut. */
    struct route_hit *hits = calloc(cfg->npartners + 1, sizeof *hits);
    if (!plan || !hits)
        goto fail;
    size_t n = route_evaluate_from(cfg, data, sender, hits, cfg->npartners);
    plan->items = calloc(n + 1, sizeof *plan->items);
    if (!plan->items)
        goto fail;
    plan->now_ms = now_ms;
    util_time_format(now_ms, plan->time);
    static const char *const forms[] = {"seksueel", "arbeid", "crimineel", "orgaanverwijdering",
                                        "onbekend"};
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(data, "vormenVanUitbuiting"), k, v)
    {
        for (unsigned b = 0; b < sizeof forms / sizeof *forms; b++)
            if (json_is_string(v) && strcmp(json_string_value(v), forms[b]) == 0)
                plan->forms |= 1u << b;
    }
    const char *urgency = json_string_value(json_object_get(data, "urgentie"));
    snprintf(plan->urgency, sizeof plan->urgency, "%s", urgency ? urgency : "normaal");
    plan->minor = json_is_true(json_object_get(data, "minderjarig"));
    const char *gm = json_string_value(json_object_get(data, "woongemeente"));
    snprintf(plan->municipality, sizeof plan->municipality, "%s", gm && strlen(gm) == 6 ? gm : "");
    for (size_t i = 0; i < n; i++) {
        struct referrals_item *it = &plan->items[i];
        it->partner = hits[i].partner;
        it->policy = hits[i].policy;
        it->rule = hits[i].rule;
        /* Time-ordered ids: the referral and delivery tables are indexed by
         * them, and random ids would dirty one index page per referral. */
        util_uuid7(it->referral_id);
        util_uuid7(it->event_id);
        it->receipt_due_ms = now_ms + it->policy->receipt_ms;
        it->decision_due_ms = now_ms + it->policy->decision_ms;
        it->payload = referrals_offer_event(cfg, it->event_id, it->referral_id, it->partner, sender,
                                            it->policy, it->rule, data, plan->time,
                                            it->receipt_due_ms, it->decision_due_ms);
        plan->n = i + 1;
        if (!it->payload)
            goto fail;
    }
    free(hits);
    return plan;
fail:
    free(hits);
    referrals_plan_free(&plan);
    return NULL;
}

void referrals_plan_seal(struct referrals_plan *plan, const struct seal_key *key)
{
    for (size_t i = 0; i < plan->n; i++) {
        struct referrals_item *it = &plan->items[i];
        size_t n = strlen(it->payload);
        it->sealed = malloc(seal_size(n));
        if (it->sealed && seal_encrypt(key, SEAL_AD_DELIVERY(it->event_id), SEAL_AD_DELIVERY_N,
                                       it->payload, n, it->sealed) == 0) {
            it->sealed_len = seal_size(n);
        } else {
            free(it->sealed);
            it->sealed = NULL;
        }
    }
}

void referrals_plan_free(struct referrals_plan **self_p)
{
    struct referrals_plan *plan = *self_p;
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n; i++)
        free(plan->items[i].payload);
    for (size_t i = 0; i < plan->n; i++)
        free(plan->items[i].sealed);
    free(plan->items);
    free(plan);
    *self_p = NULL;
}

int referrals_store(struct store *st, int64_t signal_seq, const struct partner *sender,
                    const struct referrals_plan *plan, referrals_touched_fn touched, void *arg)
{
    const char *time = plan->time;
    struct store_signal_facts f = {
        signal_seq,  plan->now_ms,  sender->id,  authz_role_name(sender->role),
        plan->forms, plan->urgency, plan->minor, plan->municipality};
    if (store_put_signal_facts(st, &f) != 0)
        return -1;
    for (size_t i = 0; i < plan->n; i++) {
        const struct referrals_item *it = &plan->items[i];
        struct store_referral r = {it->referral_id,
                                   signal_seq,
                                   it->partner->id,
                                   it->policy->name,
                                   it->rule,
                                   referral_state_name(REFERRAL_AANGEBODEN),
                                   time,
                                   it->receipt_due_ms,
                                   it->decision_due_ms,
                                   plan->now_ms};
        struct store_history h = {it->referral_id, time,      "hub", "aangeboden", NULL,
                                  "aangeboden",    signal_seq};
        char detail[512];
        /* Partner ids are [a-z0-9._-]; rule and policy names come from the
         * config and are escaped by jansson only on the rare path below. */
        json_t *d = json_pack("{s:s, s:s, s:s, s:I}", "partner", it->partner->id, "rule", it->rule,
                              "policy", it->policy->name, "signal_seq", (json_int_t)signal_seq);
        size_t dn = d ? json_dumpb(d, detail, sizeof detail - 1, JSON_COMPACT) : 0;
        json_decref(d);
        detail[dn < sizeof detail ? dn : 0] = '\0';
        struct audit_record ar = {.time = time,
                                  .actor = "hub",
                                  .action = "referral",
                                  .object = it->referral_id,
                                  .outcome = "created",
                                  .detail = detail[0] ? detail : NULL};
        if (store_put_referral(st, &r) != 0 || store_add_history(st, &h) != 0 ||
            (it->sealed
                 ? store_put_delivery_sealed(st, it->event_id, it->referral_id, it->partner->id,
                                             time, it->sealed, it->sealed_len)
                 : store_put_delivery(st, it->event_id, it->referral_id, it->partner->id, time,
                                      it->payload)) != 0 ||
            store_audit(st, &ar) != 0)
            return -1;
        if (touched)
            touched(arg, it->partner);
    }
    return (int)plan->n;
}
