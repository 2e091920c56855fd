/*
 * fuzz_adapter_police - libFuzzer target: the police adapter's parser
 * (adapters/police/mapping.c and csv.c) through events_build, as the
 * running adapter reads the files the police drop in in/: a JSON document
 * (one signal or response, or an array of them) or a CSV export, picked by
 * the file name the route byte gives. See adapter_fixture.h.
 */
// fuzz-libs: adapters/police/mapping.c adapters/police/csv.c build/fuzz/libadapter.a
#include <stddef.h>
#include <stdint.h>

#include "adapter_fixture.h"
#include "adapters/police/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fuzz_route routes[] = {
    {"export.json", NULL},
    {"export.csv", NULL},
    {"export.txt", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_adapter_one(&police_mapping, routes, sizeof routes / sizeof *routes, data, size);
    return 0;
}
