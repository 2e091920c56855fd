/*
 * fuzz_config - libFuzzer target: arbitrary bytes as the hub's config file,
 * through config_load (the --check-config and SIGHUP reload path).
 *
 * The file is written into the fixture folder (fixture.h), so a config that
 * names keys/hub.key, schemas, db/... loads all the way and its partners,
 * policies, routes, rota and escalation are checked and then used. Checks
 * besides the sanitizers: config_load returns a config exactly when it
 * reports no problem, and every problem starts with a JSON pointer or the
 * file name; a config that loads routes a few example signals without
 * trouble (each hit a configured partner), and is compared with the example
 * config as a reload would (config_reload_diff), both ways.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fixture.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *example;

static const char *const signals[] = {
    "{\"vormenVanUitbuiting\":[\"seksueel\"],\"urgentie\":\"crisis\",\"minderjarig\":true,"
    "\"woongemeente\":\"GM0153\"}",
    "{\"vormenVanUitbuiting\":[\"arbeid\",\"crimineel\"],\"urgentie\":\"normaal\","
    "\"minderjarig\":false,\"woongemeente\":\"GM0164\"}",
    "{\"vormenVanUitbuiting\":[\"onbekend\"],\"urgentie\":\"hoog\"}",
    "{}",
};

static void use_config(const struct config *cfg)
{
    struct route_hit hits[64];
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) {
        json_t *d = json_loads(signals[i], 0, NULL);
        size_t n = route_evaluate(cfg, d, hits, 64);
        for (size_t k = 0; k < n; k++)
            if (hits[k].partner < cfg->partners ||
                hits[k].partner >= cfg->partners + cfg->npartners || !hits[k].policy)
                abort();
        json_decref(d);
    }
}

/* 1 if `key` is in the summary's array `list`. */
static int listed(const json_t *sum, const char *list, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(sum, list), i, v)
    {
        if (strcmp(json_string_value(v), key) == 0)
            return 1;
    }
    return 0;
}

/* A reload from the example to `cfg` and back, as the hub does it: after
 * each, the running values of the start-only keys must be the ones kept. */
static void reload_both_ways(struct config *cfg)
{
    char err[512], listen[256];
    long window = example->delivery_window;
    snprintf(listen, sizeof listen, "%s", example->listen);
    json_t *sum = config_reload_prepare(example, cfg, err, sizeof err);
    if (!sum)
        return; /* refused: e.g. a channel the example's alerting lacks */
    if (cfg->delivery_window != window || strcmp(cfg->listen, listen) != 0)
        abort(); /* the running values are kept */
    if (listed(sum, "changed", "listen") || listed(sum, "changed", "alerting"))
        abort(); /* start-only keys are never "changed" */
    use_config(cfg);
    json_t *back = config_reload_prepare(cfg, example, err, sizeof err);
    if (!back)
        abort(); /* what ran before can always run again */
    if (example->delivery_window != window || strcmp(example->listen, listen) != 0)
        abort();
    json_decref(back);
    json_decref(sum);
    use_config(example);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!example)
        example = fixture_example_config();
    const char *path = fixture_write("config.json", data, size);
    char **problems = NULL;
    size_t n = 0;
    struct config *cfg = config_load(path, &problems, &n);
    if ((cfg != NULL) != (n == 0))
        abort();
    for (size_t i = 0; i < n; i++)
        if (!problems[i] ||
            (problems[i][0] != '/' && strncmp(problems[i], path, strlen(path)) != 0 &&
             strstr(problems[i], "out of memory") == NULL &&
             strncmp(problems[i], "cannot", 6) != 0))
            abort();
    config_problems_free(problems, n);
    if (cfg) {
        use_config(cfg);
        reload_both_ways(cfg);
    }
    config_free(&cfg);
    return 0;
}
