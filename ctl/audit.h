/*
 * audit (ketenctl) - the audit commands (verify, export, subject) and the
 * audit record every look-up through ketenctl writes; see docs/audit.md.
 *
 * Does: `ketenctl audit ...`; appending a look-up record (actor
 * "admin:<OS user>", address "local") to the hub's chain in a short
 * BEGIN IMMEDIATE transaction of its own, after the read; holding a
 * command's standard output back until that record is committed.
 * Does not: verify through the hub (it reads the database file), or show
 * anything whose look-up could not be recorded: when the database cannot be
 * written, the look-up fails (exit 1) and prints nothing.
 */
#ifndef CTL_AUDIT_H
#define CTL_AUDIT_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* The oldest database schema (PRAGMA user_version) with the audit chain. */
#define CTL_AUDIT_MIN_SCHEMA 5

/* Sets the officer name of --as (borrowed for the process's life; NULL: none).
 * Returns 0, or -1 when it is not 1-64 of A-Z a-z 0-9 . _ @ - and space. */
int ctl_audit_set_as(const char *name);

/* One look-up to record. Strings borrowed. */
struct ctl_lookup {
    const char *action;  /* "lookup", "report", "export" */
    const char *object;  /* what was looked at: a referral id, "referrals", "audit", ... */
    const char *outcome; /* "shown", "not_found", "requested", ... */
    const char *purpose; /* "ketenzorg", "beheer", "rapportage", "verantwoording", "inzage" */
    const char *subject; /* a pseudonym, or NULL */
    json_t *detail;      /* borrowed, may be NULL: the command's arguments (no personal data) */
};

/*
 * Appends the record of `lk` to the audit chain of the database at db_path:
 * opens it read-write, BEGIN IMMEDIATE (waiting up to 5 s for the hub),
 * appends, commits with synchronous=FULL. Adds "os_user" (and "as",
 * "sudo_user" when known) to the detail. Returns 0, or -1 with err filled.
 */
int ctl_audit_record(const char *db_path, const struct ctl_lookup *lk, char *err, size_t errlen);

/* Standard output held back while a look-up runs (see the banner). */
struct ctl_capture {
    FILE *real;
    FILE *mem;
    char *buf;
    size_t len;
};

/* Points stdout at memory. Returns 0, or -1 (stdout unchanged). */
int ctl_capture_begin(struct ctl_capture *c);

/* Points stdout back; writes what was captured when `emit`, drops it
 * otherwise. Returns 0, or -1 when writing failed. */
int ctl_capture_end(struct ctl_capture *c, int emit);

/* `ketenctl --config FILE audit verify|export|subject ...`: argv[0] is
 * "audit". Returns the exit code (docs/ketenctl.md). */
int ctl_audit_main(const char *config_path, int argc, char **argv);

#endif
