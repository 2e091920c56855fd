/*
 * escalate - unanswered referrals reach a person: escalation policies, the
 * escalation engine, and the alerts it sends (docs/escalation.md).
 *
 * Config side (escalate_config.c): a policy's `escalation` levels, the
 * `teams`, the `alerting` channel settings and the `admin_socket`, loaded
 * and checked after the officers and the rota, every problem named by its
 * JSON pointer.
 *
 * Engine side (escalate.c): runs on the broker's thread. It learns of new
 * referrals and of their state changes from the store after each committed
 * batch (escalate_sync), keeps the deadlines that can escalate in a heap,
 * opens an escalation when a deadline passes unanswered, and fires its
 * levels: one alert per officer and channel, through hub/notify. Every
 * escalation, alert and attempt is a row in the store, so deadlines, repeats
 * and undelivered alerts survive a restart; after one, whatever is overdue
 * fires once. Time: a deadline is a UTC instant; once the running hub knows
 * it, it fires when the monotonic clock says the remaining time has passed,
 * so wall clock jumps neither advance nor delay it.
 */
#ifndef ESCALATE_H
#define ESCALATE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "config.h"
#include "notify.h"
#include "store.h"

/* ---- configuration ---------------------------------------------------- */

enum esc_target_kind {
    ESC_TARGET_ON_DUTY,  /* "on-duty": whoever the rota names at that moment */
    ESC_TARGET_FALLBACK, /* "fallback": the rota's fallback officer */
    ESC_TARGET_OFFICER,  /* "officer:ID" */
    ESC_TARGET_TEAM,     /* "team:ID": every member */
};

#define ESC_CHANNEL_WEBHOOK 1u
#define ESC_CHANNEL_EMAIL 2u

struct team {
    char *id;
    const struct officer **members; /* borrowed from cfg->officers */
    size_t nmembers;
};

struct esc_target {
    enum esc_target_kind kind;
    const struct officer *officer; /* ESC_TARGET_OFFICER */
    const struct team *team;       /* ESC_TARGET_TEAM */
};

struct esc_level {
    int64_t after_ms;  /* from the missed deadline to this level's first alert */
    int64_t repeat_ms; /* alert again this often while this level is current; 0: once */
    struct esc_target *targets;
    size_t ntargets;
    unsigned channels; /* ESC_CHANNEL_* bits */
};

/* A policy's escalation (docs/escalation.md): levels in order of `after`;
 * the last one repeats, so an unanswered case keeps alerting until somebody
 * acknowledges. `rearm_ms` > 0: an acknowledged escalation whose referral
 * is still unanswered starts over that long after the acknowledgement. */
struct escalation_policy {
    struct esc_level *levels;
    size_t nlevels;
    int64_t rearm_ms;
};

/* The `alerting` key: how alerts leave the hub. Secrets are read from files
 * at load; nothing here is logged. */
struct alerting {
    uint8_t webhook_secret[64]; /* HMAC key (Standard Webhooks "whsec_" file) */
    size_t webhook_secret_len;  /* 0: no webhook channel */
    char *webhook_token;        /* Bearer token, or NULL */
    char *smtp_url;             /* NULL: no e-mail channel */
    int smtp_starttls;          /* smtp://: STARTTLS required */
    char *smtp_username;
    char *smtp_password;
    char *from;
    char *ca_file;
    char *ketenctl; /* how alerts tell people to run ketenctl */
    struct notify_settings notify;
    int64_t redeliver_ms; /* an alert whose attempts all failed is queued again after this */
};

/*
 * Loads `teams`, `alerting`, `admin_socket` and every policy's `escalation`
 * (kept by load_policies in policy->escalation_json) into cfg, after the
 * officers and the rota. Adds one problem per fault. Called by config_load.
 */
void escalate_config_load(struct config *cfg, const json_t *root, struct config_problems *p);

/* Frees what escalate_config_load added to cfg. */
void escalate_config_free(struct config *cfg);

/* "receipt" / "decision": the two deadlines of a referral. */
enum esc_deadline { ESC_RECEIPT = 0, ESC_DECISION = 1 };
const char *esc_deadline_name(enum esc_deadline d);

/*
 * The officers a level alerts at UTC ms `when` (rota looked up then),
 * without duplicates, into out (capacity max). Returns how many.
 */
size_t esc_level_officers(const struct config *cfg, const struct esc_level *lv, int64_t when,
                          const struct officer **out, size_t max);

/*
 * The schedule (pure, for the engine and the tests): an escalation whose
 * levels count from `base_ms` last fired level `level` (-1: none yet) at
 * `fired_ms`. Returns the UTC ms of its next alert, or INT64_MAX when none
 * follows (a last level without repeat; config forbids it).
 */
int64_t esc_next_ms(const struct escalation_policy *ep, int64_t base_ms, int level,
                    int64_t fired_ms);

/* The level that fires at `now_ms`: the last one whose start has come
 * (never below level + 1 when a new level is due, never below 0). */
int esc_level_at(const struct escalation_policy *ep, int64_t base_ms, int64_t now_ms);

/* ---- engine ----------------------------------------------------------- */

struct escalate;

/* Called when the engine queued an event for a partner (deliver_touch). */
typedef void (*escalate_touch_fn)(void *arg, const struct partner *partner);

/*
 * Loads open escalations, pending deadlines and undelivered alerts from the
 * store (queueing those alerts again). Borrows cfg, st and n. `wall_ms` and
 * `mono_ms` are now. NULL with err on a store error.
 */
struct escalate *escalate_new(const struct config *cfg, struct store *st, struct notify *n,
                              int64_t wall_ms, int64_t mono_ms, escalate_touch_fn touch,
                              void *touch_arg, char *err, size_t errlen);

void escalate_free(struct escalate **self_p);

/* After intake committed: learns new referrals and state changes. 0 or -1. */
int escalate_sync(struct escalate *e, int64_t wall_ms, int64_t mono_ms);

/*
 * Does what is due at (wall_ms, mono_ms): opens escalations, fires levels,
 * requeues failed alerts; at most a bounded amount per call. Returns the
 * monotonic ms of the next due item (<= mono_ms: call again at once), or -1
 * when nothing is scheduled.
 */
int64_t escalate_run(struct escalate *e, int64_t wall_ms, int64_t mono_ms);

/*
 * Runs notify_perform inside one transaction, so the attempt and outcome
 * rows its callbacks write share a commit.
 */
void escalate_perform(struct escalate *e);

/*
 * Acknowledges escalation `id` as officer `by` (an officer id) with an
 * optional note. Records it, stops the repeats, emits escalatie-bevestigd
 * and, with rearm, schedules the re-arm. On success returns 0 and sets
 * *result (caller frees) to the escalation as JSON; else -1 with err (a
 * sentence for the operator).
 */
int escalate_ack(struct escalate *e, long long id, const char *by, const char *note,
                 const char *actor, int64_t wall_ms, int64_t mono_ms, json_t **result, char *err,
                 size_t errlen);

/*
 * The config was reloaded: from now on the engine reads `cfg` (borrowed):
 * policies, officers, rota, teams and alerting are looked up by name at
 * each step, so an open escalation follows the new levels and rota from its
 * next step on. Deadlines it already holds stay; one whose policy no longer
 * escalates stops when it comes up. Call between loop turns.
 */
void escalate_reconfigure(struct escalate *e, const struct config *cfg);

/* Figures: heap size, open escalations, alerts in flight. */
size_t escalate_scheduled(const struct escalate *e);

#endif
