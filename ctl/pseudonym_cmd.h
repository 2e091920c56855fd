/*
 * pseudonym (ketenctl) - prints the pseudonym the hub gives a person's BSN,
 * or surname and date of birth, under the configured pseudonym key: the
 * first step of a person's access request (docs/matching.md). Reads no
 * database and stores nothing; the clear value is zeroed after use.
 */
#ifndef CTL_PSEUDONYM_CMD_H
#define CTL_PSEUDONYM_CMD_H

/* `ketenctl --config FILE pseudonym (--bsn BSN | --name SURNAME --birthdate
 * YYYY-MM-DD) [--json]`; argv[0] is "pseudonym". A value "-" is read from
 * standard input (one line), so it stays out of the process list and the
 * shell's history. Returns the exit code: 0, 1 (config or value refused), 2
 * (usage). */
int ctl_pseudonym(const char *config_path, int argc, char **argv);

#endif
