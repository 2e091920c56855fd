/*
 * aconfig - loading and checking one adapter instance's JSON config.
 *
 * One table of known keys per object (adapter_cfg_check, declared in
 * adapter.h); every problem is reported with the JSON pointer of the key at
 * fault, all of them at once. The transports' and the mapping's own sections
 * are checked by their check_config callbacks. Relative paths resolve against
 * the config file's folder. Does not log.
 */
#ifndef ACONFIG_H
#define ACONFIG_H

#include <jansson.h>

#include "adapter.h"
#include "log.h"

struct aconfig {
    json_t *root; /* the whole document (owned) */
    char *base_dir;
    /* hub */
    char *endpoint, *hub_public_key, *key; /* paths resolved */
    long heartbeat_interval_ms, heartbeat_timeout_ms, ack_timeout_ms, window;
    long reconnect_min_ms, reconnect_max_ms;
    /* the rest */
    char *source, *data_dir, *schemas; /* schemas may be NULL */
    enum log_level log_level;
    long delivery_retry_min_ms, delivery_retry_max_ms, retention_days;
    const json_t *transports; /* borrowed from root */
    const json_t *mapping;    /* borrowed from root; may be NULL */
};

/*
 * Loads and checks `path` against the common keys, then every transport
 * section (by the ops in `transports`, NULL-terminated) and the mapping's
 * section. Appends {"path", "message"} objects to `errors`. Returns a config
 * the caller frees with aconfig_free, or NULL when there was any problem.
 * `check_files`: also read the key files and check the folders exist.
 */
struct aconfig *aconfig_load(const char *path, const struct adapter_mapping *mapping,
                             const struct adapter_transport_ops *const *transports, int check_files,
                             json_t *errors);

/* Frees and sets *self_p to NULL. */
void aconfig_free(struct aconfig **self_p);

/* The ops named `name` in the NULL-terminated list, or NULL. */
const struct adapter_transport_ops *
aconfig_transport(const struct adapter_transport_ops *const *transports, const char *name);

#endif
