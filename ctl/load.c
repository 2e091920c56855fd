/*
 * load - loading the config for a ketenctl command; see load.h.
 */
#include "ctl/load.h"

#include <stdio.h>

struct config *ctl_load_config(const char *cmd, const char *config_path)
{
    char **problems = NULL;
    size_t np = 0;
    struct config *cfg = config_load(config_path, &problems, &np);
    for (size_t i = 0; i < np; i++)
        fprintf(stderr, "ketenctl%s%s: config error: %s\n", cmd ? " " : "", cmd ? cmd : "",
                problems[i]);
    config_problems_free(problems, np);
    return cfg;
}
