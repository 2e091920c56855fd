/*
 * fuzz_adapter_comensha - libFuzzer target: the comensha adapter's partner-format
 * parser (adapters/comensha/mapping.c, comensha_parse) through events_build, as
 * the running adapter takes input: what may come from CoMensha: only http-push receipts (its 2xx);
 * anything posted is refused. The mapping's config is tests/data/adapters/comensha/config.json. See
 * adapter_fixture.h for the route byte and what is checked.
 */
// fuzz-libs: adapters/comensha/mapping.c build/fuzz/libadapter.a
#include <stddef.h>
#include <stdint.h>

#include "adapter_fixture.h"
#include "adapters/comensha/mapping.h"
#include "http_push.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *cfg;

static int parse_cb(struct adapter *ad, const struct adapter_input *in, json_t *items,
                    json_t *errors)
{
    (void)ad;
    return comensha_parse(cfg, in, items, errors);
}

static const struct adapter_mapping mapping = {.name = "comensha", .parse = parse_cb};

static const struct fuzz_route routes[] = {
    {"/berichten", "application/json"},
    {"http-push", HTTP_PUSH_RECEIPT_TYPE},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg)
        cfg = fuzz_mapping_config("tests/data/adapters/comensha/config.json");
    fuzz_adapter_one(&mapping, routes, sizeof routes / sizeof *routes, data, size);
    return 0;
}
