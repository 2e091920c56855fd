/*
 * config - loads and checks the hub's JSON config file.
 *
 * Every key is in one table (name, type, required, bounds, default), like
 * redis' static_configs[]; unknown keys, wrong types, values out of bounds,
 * duplicate partner ids or keys are all reported, each naming its key as a JSON
 * pointer, and the hub refuses to start. Relative paths resolve against the
 * config file's folder. Does not log: problems go to the caller.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "authz.h"
#include "log.h"

struct partner {
    char *id;   /* the partner id: the ZAP User-Id of its messages */
    char *name; /* human-readable organisation name, may be NULL */
    enum role role;
    char public_z85[41];    /* CURVE public key, Z85 */
    uint8_t public_key[32]; /* the same, binary, as ZAP delivers it */
};

/* A referral policy: its deadlines (receipt, accept/decline), in ms. */
struct policy {
    char *name;
    int64_t receipt_ms;
    int64_t decision_ms;
    struct escalation_policy *escalation; /* NULL: deadlines are tracked, never escalated */
    struct json_t *escalation_json;       /* while loading only */
};

/* A municipality's CBS code and the partner that takes its referrals. */
struct municipality {
    char code[7]; /* "GM0153" */
    const struct partner *partner;
};

struct route;             /* a routing rule; see route.h */
struct officer;           /* a duty officer; see rota.h */
struct rota;              /* the duty rota; see rota.h */
struct team;              /* a group of officers; see escalate.h */
struct alerting;          /* alert channel settings; see escalate.h */
struct escalation_policy; /* see escalate.h */

struct config {
    char *path; /* the config file as given */
    char *dir;  /* its folder: base of relative paths */
    char *listen;
    char *database;   /* resolved path */
    char *schemas;    /* resolved path */
    char *server_key; /* resolved path */
    /* Secret keys (docs/security.md): resolved paths, and the keys read from
     * them by config_load (zeroed by config_free). */
    char *encryption_key;
    char *pseudonym_key;
    unsigned char encryption_secret[32];
    unsigned char pseudonym_secret[32];
    long max_message_size;
    long max_json_depth;
    long max_errors;
    long group_commit_max;
    long heartbeat_interval_ms;
    long heartbeat_timeout_ms;
    enum log_level log_level;
    unsigned authorisation[ROLE_COUNT]; /* bit set of enum event_type per role */
    struct partner *partners;
    size_t npartners;

    /* Routing and delivery (docs/routing.md). */
    char *source; /* CloudEvents source of the events the hub makes */
    struct policy *policies;
    size_t npolicies;
    const struct policy *default_policy;
    struct municipality *municipalities;
    size_t nmunicipalities;
    char **profiles[ROLE_COUNT]; /* signal fields a role's referrals carry */
    size_t nprofile[ROLE_COUNT];
    struct route *routes;
    size_t nroutes;
    long delivery_window;
    long delivery_ack_timeout_ms;
    long delivery_max_attempts;
    long delivery_backoff_max_ms;
    long session_timeout_ms;

    /* The duty rota (docs/escalation.md); NULL/0 when not configured. */
    struct officer *officers;
    size_t nofficers;
    struct rota *rota;

    /* Escalation (docs/escalation.md); NULL/0 when not configured. */
    struct team *teams;
    size_t nteams;
    struct alerting *alerting;
    char *admin_socket; /* resolved path of the admin socket (ipc) */

    /* The audit chain (docs/audit.md). */
    long audit_verify_at_start;    /* records of the tail checked at start-up; 0: none */
    long audit_anchor_interval_ms; /* how often the head is logged (audit_head) */

    struct json_t *root; /* the file as loaded: config_reload_prepare compares keys */

    /* Retention (docs/retention.md); `retention` 0: not configured, nothing
     * is purged. */
    int retention;
    int64_t retention_after_closed_ms;     /* after every referral is final */
    int64_t retention_without_referral_ms; /* after a signal that made none arrived */
    int64_t retention_interval_ms;         /* how often the hub purges */
};

/* Collects config problems; route.c adds to it while config_load runs. */
struct config_problems;

/* Adds one problem line (printf-style, starting with the key's pointer). */
void config_problem(struct config_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Loads and checks `path`. On success returns the config (caller frees with
 * config_free). On failure returns NULL and appends one line per problem to
 * `problems` (caller-owned; each line starts with the key's JSON pointer).
 * Also checks what the keys point at: the server key file (readable, mode
 * 0600), the schemas folder and the database folder.
 */
struct config *config_load(const char *path, char ***problems, size_t *nproblems);

/* Frees a config and sets *self_p to NULL. */
void config_free(struct config **self_p);

/* Frees a problems list from config_load. */
void config_problems_free(char **problems, size_t n);

/* The partner with this id, or NULL. The config owns it. */
const struct partner *config_partner(const struct config *cfg, const char *id);

/* 1 if `s` is a valid partner or officer id: 1-64 characters a-z 0-9 - _ .,
 * starting with a letter or digit. */
int config_valid_id(const char *s);

/* The policy with this name, or NULL. The config owns it. */
const struct policy *config_policy(const struct config *cfg, const char *name);

/* The partner that takes referrals for this CBS municipality code, or NULL. */
const struct partner *config_municipality(const struct config *cfg, const char *code);

/* The partner with this binary CURVE public key, or NULL. */
const struct partner *config_partner_by_key(const struct config *cfg, const uint8_t key[32]);

/*
 * Readies `next`, just loaded from the running hub's config file, to replace
 * `cur` (a reload on SIGHUP; docs/operations.md). The keys the hub uses only
 * at start-up keep their running value: listen, database, schemas,
 * server_key, encryption_key, pseudonym_key (and the keys read from them),
 * admin_socket, max_message_size, heartbeat_interval_ms,
 * heartbeat_timeout_ms, group_commit_max, delivery_window,
 * audit_verify_at_start, retention and alerting. Each
 * such value is swapped: `next` gets the running one, `cur` the new one (freed
 * with `cur`). Everything else is `next`'s.
 *
 * Returns the summary (caller owns the reference): {"changed": [top-level keys
 * that now apply], "needs_restart": [keys kept at the running value],
 * "partners_added", "partners_removed", "partners_rekeyed" (same id, another
 * public key), "partners_changed" (role or name): [partner ids]}. Returns
 * NULL with err (naming the key) when `next` cannot run with the kept values
 * (an escalation level's channel the running alerting does not have); then
 * neither config was touched.
 */
struct json_t *config_reload_prepare(struct config *cur, struct config *next, char *err,
                                     size_t errlen);

#endif
