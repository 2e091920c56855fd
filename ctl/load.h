/*
 * load - how every ketenctl command loads the config: config_load, each
 * problem printed to stderr as "ketenctl CMD: config error: ...".
 */
#ifndef CTL_LOAD_H
#define CTL_LOAD_H

#include "config.h"

/* Loads `config_path`, printing each problem (prefixed "ketenctl CMD:", or
 * "ketenctl:" when cmd is NULL). Returns the config (caller frees with
 * config_free), or NULL when it has problems. */
struct config *ctl_load_config(const char *cmd, const char *config_path);

#endif
