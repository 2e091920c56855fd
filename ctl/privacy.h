/*
 * privacy (ketenctl) - the commands about data at rest: `rekey` (encrypt every
 * sealed value under a new key), `keycheck` (does this key open everything?)
 * and `purge` (retention, now or as a dry run). docs/encryption.md and
 * docs/retention.md explain them; docs/ketenctl.md lists their options.
 *
 * `rekey` and a `purge` without a running hub open the database for writing
 * and take its lock (store_open), so they refuse while the hub runs and the
 * hub refuses to start while they run. `purge` beside a running hub asks it
 * over the admin socket. `keycheck` and `purge --dry-run` only read.
 */
#ifndef CTL_PRIVACY_H
#define CTL_PRIVACY_H

/* Each takes the config path (may be NULL: a usage error) and the command's
 * own argv (argv[0] is the command). Returns the exit code: 0 done, 1 failed,
 * 2 usage. */
int privacy_rekey(const char *config_path, int argc, char **argv);
int privacy_keycheck(const char *config_path, int argc, char **argv);
int privacy_purge(const char *config_path, int argc, char **argv);

#endif
