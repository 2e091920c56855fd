/*
 * fuzz_adapter_municipality - libFuzzer target: the municipality adapter's partner-format
 * parser (adapters/municipality/mapping.c, municipality_parse) through events_build, as
 * the running adapter takes input: the municipality's answers (POST /reacties) and signals (POST
 * /signalen), and http-push receipts (the partner's 2xx). The mapping's config is
 * tests/data/adapters/municipality/config.json. See adapter_fixture.h for the route byte and what
 * is checked.
 */
// fuzz-libs: adapters/municipality/mapping.c build/fuzz/libadapter.a
#include <stddef.h>
#include <stdint.h>

#include "adapter_fixture.h"
#include "adapters/municipality/mapping.h"
#include "http_push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *cfg;

static int parse_cb(struct adapter *ad, const struct adapter_input *in, json_t *items,
                    json_t *errors)
{
    (void)ad;
    return municipality_parse(cfg, in, items, errors);
}

static const struct adapter_mapping mapping = {.name = "municipality", .parse = parse_cb};

static const struct fuzz_route routes[] = {
    {"/reacties", "application/json"},
    {"/signalen", "application/json"},
    {"http-push", HTTP_PUSH_RECEIPT_TYPE},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg)
        cfg = fuzz_mapping_config("tests/data/adapters/municipality/config.json");
    fuzz_adapter_one(&mapping, routes, sizeof routes / sizeof *routes, data, size);
    return 0;
}
