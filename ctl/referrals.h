/*
 * referrals (ketenctl) - the admin's view of referrals and dead letters, and
 * the one repair: putting dead-lettered deliveries back in the queue.
 *
 * Does: the SQL over the hub's tables referrals, referral_history and
 * deliveries (plus one audit row per replayed delivery), and the printing of
 * what it reads, as an aligned table or as one JSON document on stdout.
 * Does not: parse the command line, load the config, or go through hub/store
 * (store_open migrates and loads every idempotency key: wrong for a tool that
 * runs beside the hub). Never reads event bodies or delivery payloads: what it
 * prints holds ids, names, states, counts and times, no personal data.
 * Read commands open the database read-only; replay opens it read-write with
 * a busy timeout, as the hub may be writing. Not the same module as
 * hub/referrals.h (routing inside the hub); hence the explicit "ctl/" include.
 */
#ifndef CTL_REFERRALS_H
#define CTL_REFERRALS_H

#include <stddef.h>
#include <stdint.h>

/* The oldest database schema (PRAGMA user_version) that has referrals. */
#define REFERRALS_MIN_SCHEMA 2

/* Which referrals `ketenctl referrals` lists. Strings borrowed for the call. */
struct referrals_filter {
    const char *state;   /* a state's wire name (the caller checks it), or NULL for any */
    const char *partner; /* a partner id, or NULL for any */
    long limit;          /* at most this many, newest first; > 0 */
};

/*
 * Prints the referrals matching `filter`, newest first: a table, or with
 * as_json one JSON document {"referrals": [...], "truncated": bool}. Returns 0,
 * or -1 with err filled (database missing, too old, unreadable).
 */
int referrals_list(const char *db_path, const struct referrals_filter *filter, int as_json,
                   char *err, size_t errlen);

/*
 * Prints referral `id` with its history and its deliveries (as a table, or
 * one JSON object with "history" and "deliveries" arrays), read in one
 * transaction so they agree. Returns 0, 1 when there is no such referral
 * (nothing printed), or -1 with err filled.
 */
int referrals_show(const char *db_path, const char *id, int as_json, char *err, size_t errlen);

/* Prints the dead-lettered deliveries, oldest first (table, or JSON
 * {"dead_letters": [...]}). Returns 0, or -1 with err filled. */
int referrals_dead_letters(const char *db_path, int as_json, char *err, size_t errlen);

/*
 * Puts dead-lettered deliveries back in the queue (state pending, attempts 0,
 * no dead reason): the `nseqs` deliveries in `seqs` (borrowed), or with `all`
 * every dead one. Rows not in state dead are skipped, not touched. All in one
 * transaction, with one audit row (actor "admin:<admin>", action "replay")
 * per requeued delivery. Prints one result line per delivery after the
 * commit. Returns how many named deliveries were skipped (0: all requeued),
 * or -1 with err filled when nothing was changed (database error, busy).
 */
int referrals_replay(const char *db_path, const int64_t *seqs, size_t nseqs, int all,
                     const char *admin, char *err, size_t errlen);

/*
 * Prints the escalations, newest first, at most 1000 (all, or with open_only
 * those waiting for an acknowledgement), as a table or as JSON (with every
 * alert of each: docs/ketenctl.md). Officers' notes are stored sealed and opened
 * with `key` (docs/encryption.md). Returns 0, or -1 with err filled.
 */
struct seal_key;
int escalations_list(const char *db_path, const struct seal_key *key, int open_only, int as_json,
                     char *err, size_t errlen);

#endif
