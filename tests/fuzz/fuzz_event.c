/*
 * fuzz_event - libFuzzer target: the event path end to end, as the hub runs
 * it for one frame from a partner: bounded JSON parse, envelope schema, type,
 * role x type authorisation, data schema, and for a valid signal the routing
 * decision and the referral offers (intake's check phase, which calls
 * route_evaluate through referrals_plan) under the example config's rules
 * (config/ketenhub.example.json). Then the resend comparison.
 *
 * The input is the frame, sent once as a partner of each role the example
 * config has, so the authorisation matrix is crossed too. What it checks
 * besides the sanitizers: a valid signal always yields a plan with at least
 * one referral (never nowhere), each to a configured partner under a
 * configured policy, each offer valid JSON; a rejected frame has errors and
 * no plan.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "catalog.h"
#include "event.h"
#include "fixture.h"
#include "intake.h"
#include "referrals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;
static struct catalog *cat;
static struct intake *in;
static const struct partner *senders[ROLE_COUNT];
static size_t nsenders;

static void setup(void)
{
    char err[512];
    cfg = fixture_example_config();
    cat = catalog_load(cfg->schemas, err, sizeof err);
    if (!cat) {
        fprintf(stderr, "fuzz_event: %s\n", err);
        abort();
    }
    in = intake_new(cfg, cat, NULL); /* the check phase never touches the store */
    if (!in)
        abort();
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (size_t i = 0; i < cfg->npartners; i++) {
            if (cfg->partners[i].role == (enum role)r) {
                senders[nsenders++] = &cfg->partners[i];
                break;
            }
        }
    }
}

static int configured_partner(const struct partner *p)
{
    return p >= cfg->partners && p < cfg->partners + cfg->npartners;
}

static int configured_policy(const struct policy *p)
{
    return p >= cfg->policies && p < cfg->policies + cfg->npolicies;
}

static void check_plan(const struct intake_msg *m)
{
    const struct intake_check *c = &m->check;
    int valid = json_array_size(c->errors) == 0;
    enum event_type t;
    int signal = valid && m->kind == INTAKE_EVENT && c->type &&
                 authz_type_parse(c->type, &t) == 0 && t == TYPE_SIGNAAL_GEREGISTREERD;
    if (!valid && c->plan)
        abort(); /* a rejected frame must not be routed */
    if (!signal)
        return;
    if (!c->plan || c->plan->n == 0)
        abort(); /* a valid signal goes somewhere: the coordinators at least */
    for (size_t i = 0; i < c->plan->n; i++) {
        const struct referrals_item *it = &c->plan->items[i];
        if (!configured_partner(it->partner) || !configured_policy(it->policy) || !it->payload)
            abort();
        json_t *offer = json_loads(it->payload, 0, NULL);
        if (!json_is_object(offer))
            abort();
        json_decref(offer);
        for (size_t j = 0; j < i; j++)
            if (c->plan->items[j].partner == it->partner)
                abort(); /* one referral per partner */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg)
        setup();
    for (size_t s = 0; s < nsenders; s++) {
        struct intake_msg m;
        memset(&m, 0, sizeof m);
        m.partner = senders[s];
        m.data = (const char *)data;
        m.len = size;
        m.frames = 1;
        intake_check_start(in, &m, 1);
        intake_check_wait(in);
        check_plan(&m);
        if (s == 0 && m.check.event)
            event_same_content((const char *)data, size, (const char *)data, size, m.check.event);
        intake_release(&m, 1);
    }
    return 0;
}
