/*
 * fuzz_schema - libFuzzer target: arbitrary bytes as a JSON Schema document
 * (compiled, must never crash or leak), then as an instance against it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "event.h"
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (event_depth((const char *)data, size, 64) > 64)
        return 0;
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!doc)
        return 0;
    struct schema_registry *reg = schema_registry_new();
    char err[512];
    if (schema_registry_add(reg, doc, "https://fuzz.example/s.json", err, sizeof err) == 0 &&
        schema_registry_compile(reg, err, sizeof err) == 0) {
        const struct schema *s = schema_registry_get(reg, "https://fuzz.example/s.json");
        if (s) {
            json_t *errors = json_array();
            schema_validate(s, doc, errors, "", 0);
            json_decref(errors);
        }
    }
    schema_registry_free(&reg);
    json_decref(doc);
    return 0;
}
