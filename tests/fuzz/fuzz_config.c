/*
 * fuzz_config - libFuzzer target: arbitrary bytes as the hub's config file,
 * through config_load (the --check-config path).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/ketenhub-fuzz-config-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char **problems = NULL;
    size_t n = 0;
    struct config *cfg = config_load(path, &problems, &n);
    config_problems_free(problems, n);
    config_free(&cfg);
    unlink(path);
    return 0;
}
