/*
 * test_referral - the referral state machine: every state x event pair against
 * an expectation list written here by hand (not taken from referral.c's table),
 * refusal messages, wire names, final states and running deadlines.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "referral.h"

#define NO (-1)

/*
 * All 7 x 6 = 42 pairs, one line each, written from the specification:
 * aangeboden+ontvangen->ontvangen; aangeboden+geaccepteerd->geaccepteerd;
 * aangeboden+afgewezen->afgewezen; ontvangen+geaccepteerd->geaccepteerd;
 * ontvangen+afgewezen->afgewezen; geaccepteerd+afgerond->afgerond;
 * aangeboden|ontvangen|geaccepteerd + geannuleerd->geannuleerd;
 * aangeboden+mislukt->mislukt; all else refused.
 */
static const struct {
    enum referral_state from;
    enum referral_event event;
    int to; /* an enum referral_state, or NO */
} expected[] = {
    {REFERRAL_AANGEBODEN, REFERRAL_EV_ONTVANGEN, REFERRAL_ONTVANGEN},
    {REFERRAL_AANGEBODEN, REFERRAL_EV_GEACCEPTEERD, REFERRAL_GEACCEPTEERD},
    {REFERRAL_AANGEBODEN, REFERRAL_EV_AFGEWEZEN, REFERRAL_AFGEWEZEN},
    {REFERRAL_AANGEBODEN, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_AANGEBODEN, REFERRAL_EV_GEANNULEERD, REFERRAL_GEANNULEERD},
    {REFERRAL_AANGEBODEN, REFERRAL_EV_MISLUKT, REFERRAL_MISLUKT},

    {REFERRAL_ONTVANGEN, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_ONTVANGEN, REFERRAL_EV_GEACCEPTEERD, REFERRAL_GEACCEPTEERD},
    {REFERRAL_ONTVANGEN, REFERRAL_EV_AFGEWEZEN, REFERRAL_AFGEWEZEN},
    {REFERRAL_ONTVANGEN, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_ONTVANGEN, REFERRAL_EV_GEANNULEERD, REFERRAL_GEANNULEERD},
    {REFERRAL_ONTVANGEN, REFERRAL_EV_MISLUKT, NO},

    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_GEACCEPTEERD, NO},
    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_AFGEWEZEN, NO},
    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_AFGEROND, REFERRAL_AFGEROND},
    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_GEANNULEERD, REFERRAL_GEANNULEERD},
    {REFERRAL_GEACCEPTEERD, REFERRAL_EV_MISLUKT, NO},

    {REFERRAL_AFGEWEZEN, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_AFGEWEZEN, REFERRAL_EV_GEACCEPTEERD, NO},
    {REFERRAL_AFGEWEZEN, REFERRAL_EV_AFGEWEZEN, NO},
    {REFERRAL_AFGEWEZEN, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_AFGEWEZEN, REFERRAL_EV_GEANNULEERD, NO},
    {REFERRAL_AFGEWEZEN, REFERRAL_EV_MISLUKT, NO},

    {REFERRAL_AFGEROND, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_AFGEROND, REFERRAL_EV_GEACCEPTEERD, NO},
    {REFERRAL_AFGEROND, REFERRAL_EV_AFGEWEZEN, NO},
    {REFERRAL_AFGEROND, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_AFGEROND, REFERRAL_EV_GEANNULEERD, NO},
    {REFERRAL_AFGEROND, REFERRAL_EV_MISLUKT, NO},

    {REFERRAL_GEANNULEERD, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_GEANNULEERD, REFERRAL_EV_GEACCEPTEERD, NO},
    {REFERRAL_GEANNULEERD, REFERRAL_EV_AFGEWEZEN, NO},
    {REFERRAL_GEANNULEERD, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_GEANNULEERD, REFERRAL_EV_GEANNULEERD, NO},
    {REFERRAL_GEANNULEERD, REFERRAL_EV_MISLUKT, NO},

    {REFERRAL_MISLUKT, REFERRAL_EV_ONTVANGEN, NO},
    {REFERRAL_MISLUKT, REFERRAL_EV_GEACCEPTEERD, NO},
    {REFERRAL_MISLUKT, REFERRAL_EV_AFGEWEZEN, NO},
    {REFERRAL_MISLUKT, REFERRAL_EV_AFGEROND, NO},
    {REFERRAL_MISLUKT, REFERRAL_EV_GEANNULEERD, NO},
    {REFERRAL_MISLUKT, REFERRAL_EV_MISLUKT, NO},
};

#define EXPECTED_COUNT (sizeof expected / sizeof expected[0])

/* The wire names, written out again here rather than read back from the module. */
static const char *const state_wire[] = {"aangeboden", "ontvangen",   "geaccepteerd", "afgewezen",
                                         "afgerond",   "geannuleerd", "mislukt"};
static const char *const event_wire[] = {"ontvangen", "geaccepteerd", "afgewezen",
                                         "afgerond",  "geannuleerd",  "mislukt"};

static void expectation_list_covers_each_pair_exactly_once(void)
{
    int seen[REFERRAL_STATE_COUNT][REFERRAL_EVENT_COUNT] = {{0}};
    CHECK_INT(EXPECTED_COUNT, 42);
    CHECK_INT(REFERRAL_STATE_COUNT * REFERRAL_EVENT_COUNT, 42);
    for (size_t i = 0; i < EXPECTED_COUNT; i++)
        seen[expected[i].from][expected[i].event]++;
    for (int s = 0; s < REFERRAL_STATE_COUNT; s++)
        for (int e = 0; e < REFERRAL_EVENT_COUNT; e++)
            CHECK_INT(seen[s][e], 1);
}

static void every_state_and_event_pair_follows_the_expectation_list(void)
{
    for (size_t i = 0; i < EXPECTED_COUNT; i++) {
        enum referral_state next = REFERRAL_STATE_COUNT; /* sentinel: must stay when refused */
        char err[128] = "";
        int rc = referral_apply(expected[i].from, expected[i].event, &next, err, sizeof err);
        if (expected[i].to == NO) {
            if (rc != -1 || next != REFERRAL_STATE_COUNT || err[0] == '\0')
                fprintf(stderr, "case %zu: %s + %s should be refused\n", i,
                        state_wire[expected[i].from], event_wire[expected[i].event]);
            CHECK_INT(rc, -1);
            CHECK_INT(next, REFERRAL_STATE_COUNT);
            CHECK(err[0] != '\0');
        } else {
            if (rc != 0 || (int)next != expected[i].to)
                fprintf(stderr, "case %zu: %s + %s should give %s\n", i,
                        state_wire[expected[i].from], event_wire[expected[i].event],
                        state_wire[expected[i].to]);
            CHECK_INT(rc, 0);
            CHECK_INT(next, expected[i].to);
            CHECK_STR(err, "");
        }
    }
}

static void refusal_message_names_state_and_event(void)
{
    enum referral_state next = REFERRAL_AANGEBODEN;
    char err[128];
    CHECK_INT(referral_apply(REFERRAL_AFGEWEZEN, REFERRAL_EV_GEACCEPTEERD, &next, err, sizeof err),
              -1);
    CHECK_STR(err, "a referral in state \"afgewezen\" cannot be \"geaccepteerd\"");

    for (size_t i = 0; i < EXPECTED_COUNT; i++) {
        if (expected[i].to != NO)
            continue;
        char want_state[32], want_event[32];
        snprintf(want_state, sizeof want_state, "\"%s\"", state_wire[expected[i].from]);
        snprintf(want_event, sizeof want_event, "\"%s\"", event_wire[expected[i].event]);
        err[0] = '\0';
        CHECK_INT(referral_apply(expected[i].from, expected[i].event, &next, err, sizeof err), -1);
        CHECK(strstr(err, want_state) != NULL);
        CHECK(strstr(err, want_event) != NULL);
    }
}

static void refusal_respects_small_or_missing_error_buffer(void)
{
    enum referral_state next = REFERRAL_AANGEBODEN;
    char err[8];
    memset(err, 'x', sizeof err);
    CHECK_INT(referral_apply(REFERRAL_MISLUKT, REFERRAL_EV_ONTVANGEN, &next, err, 4), -1);
    CHECK_STR(err, "a r");
    CHECK(err[4] == 'x');
    CHECK_INT(referral_apply(REFERRAL_MISLUKT, REFERRAL_EV_ONTVANGEN, &next, NULL, 0), -1);
}

static void out_of_range_state_or_event_is_refused(void)
{
    enum referral_state next = REFERRAL_AANGEBODEN;
    char err[128] = "";
    CHECK_INT(referral_apply(REFERRAL_STATE_COUNT, REFERRAL_EV_ONTVANGEN, &next, err, sizeof err),
              -1);
    CHECK(err[0] != '\0');
    CHECK_INT(referral_apply(REFERRAL_AANGEBODEN, REFERRAL_EVENT_COUNT, &next, err, sizeof err),
              -1);
    CHECK_INT(
        referral_apply((enum referral_state) - 1, REFERRAL_EV_ONTVANGEN, &next, err, sizeof err),
        -1);
    CHECK_INT(next, REFERRAL_AANGEBODEN);
}

static void state_names_are_the_dutch_wire_names_and_round_trip(void)
{
    for (int s = 0; s < REFERRAL_STATE_COUNT; s++) {
        CHECK_STR(referral_state_name((enum referral_state)s), state_wire[s]);
        enum referral_state back = REFERRAL_STATE_COUNT;
        CHECK_INT(referral_state_parse(state_wire[s], &back), 0);
        CHECK_INT(back, s);
    }
    CHECK_STR(referral_state_name(REFERRAL_STATE_COUNT), "?");
    CHECK_STR(referral_state_name((enum referral_state) - 1), "?");
}

static void event_names_are_the_dutch_wire_names_and_round_trip(void)
{
    for (int e = 0; e < REFERRAL_EVENT_COUNT; e++) {
        CHECK_STR(referral_event_name((enum referral_event)e), event_wire[e]);
        enum referral_event back = REFERRAL_EVENT_COUNT;
        CHECK_INT(referral_event_parse(event_wire[e], &back), 0);
        CHECK_INT(back, e);
    }
    CHECK_STR(referral_event_name(REFERRAL_EVENT_COUNT), "?");
    CHECK_STR(referral_event_name((enum referral_event) - 1), "?");
}

static void unknown_names_are_refused_and_leave_output_alone(void)
{
    static const char *const bad[] = {
        "",         "?",          "Ontvangen", "ONTVANGEN", "ontvangen ", " ontvangen",
        "ontvange", "ontvangenx", "accepted",  "requested", "completed",  "in-progress",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum referral_state s = REFERRAL_MISLUKT;
        enum referral_event e = REFERRAL_EV_MISLUKT;
        CHECK_INT(referral_state_parse(bad[i], &s), -1);
        CHECK_INT(referral_event_parse(bad[i], &e), -1);
        CHECK_INT(s, REFERRAL_MISLUKT);
        CHECK_INT(e, REFERRAL_EV_MISLUKT);
    }
    enum referral_state s = REFERRAL_MISLUKT;
    enum referral_event e = REFERRAL_EV_MISLUKT;
    CHECK_INT(referral_state_parse(NULL, &s), -1);
    CHECK_INT(referral_event_parse(NULL, &e), -1);
    /* "aangeboden" is a state only: nothing sends an event of that name. */
    CHECK_INT(referral_event_parse("aangeboden", &e), -1);
    CHECK_INT(e, REFERRAL_EV_MISLUKT);
}

static void final_states_and_running_deadlines_per_state(void)
{
    static const struct {
        enum referral_state s;
        int final, receipt, decision;
    } want[] = {
        {REFERRAL_AANGEBODEN, 0, 1, 1},   {REFERRAL_ONTVANGEN, 0, 0, 1},
        {REFERRAL_GEACCEPTEERD, 0, 0, 0}, {REFERRAL_AFGEWEZEN, 1, 0, 0},
        {REFERRAL_AFGEROND, 1, 0, 0},     {REFERRAL_GEANNULEERD, 1, 0, 0},
        {REFERRAL_MISLUKT, 1, 0, 0},
    };
    CHECK_INT(sizeof want / sizeof want[0], REFERRAL_STATE_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(referral_is_final(want[i].s), want[i].final);
        CHECK_INT(referral_awaits_receipt(want[i].s), want[i].receipt);
        CHECK_INT(referral_awaits_decision(want[i].s), want[i].decision);
    }
    CHECK_INT(referral_is_final(REFERRAL_STATE_COUNT), 0);
    CHECK_INT(referral_awaits_receipt(REFERRAL_STATE_COUNT), 0);
    CHECK_INT(referral_awaits_decision(REFERRAL_STATE_COUNT), 0);
}

static void final_states_accept_no_event(void)
{
    /* Cross-check of two exports: a final state must refuse everything. */
    for (int s = 0; s < REFERRAL_STATE_COUNT; s++) {
        if (!referral_is_final((enum referral_state)s))
            continue;
        for (int e = 0; e < REFERRAL_EVENT_COUNT; e++) {
            enum referral_state next = REFERRAL_AANGEBODEN;
            CHECK_INT(
                referral_apply((enum referral_state)s, (enum referral_event)e, &next, NULL, 0), -1);
        }
    }
}

int main(void)
{
    RUN(expectation_list_covers_each_pair_exactly_once);
    RUN(every_state_and_event_pair_follows_the_expectation_list);
    RUN(refusal_message_names_state_and_event);
    RUN(refusal_respects_small_or_missing_error_buffer);
    RUN(out_of_range_state_or_event_is_refused);
    RUN(state_names_are_the_dutch_wire_names_and_round_trip);
    RUN(event_names_are_the_dutch_wire_names_and_round_trip);
    RUN(unknown_names_are_refused_and_leave_output_alone);
    RUN(final_states_and_running_deadlines_per_state);
    RUN(final_states_accept_no_event);
    return CHECK_DONE();
}
