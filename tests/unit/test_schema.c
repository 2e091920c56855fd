/*
 * test_schema - the JSON Schema validator (lib/schema) on cases the official
 * suite does not pin down: the error objects we promise to callers (path,
 * keyword, message, path_prefix, max_errors), compile-time refusals (unknown
 * keyword, bad regex, unresolvable $ref), the registry across documents,
 * Unicode lengths, number equality, formats, hostile depth and recursion, and
 * the project's own schemas with the example events in config/examples.
 * The broad keyword semantics are tested by test_schema_suite.
 * Runs from the project root (schemas/ and config/examples/ are read).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "check.h"
#include "schema.h"

#define BASE "https://test.example/schema.json"
#define ERR_LEN 1024
#define SCHEMAS_DIR "schemas"
#define EXAMPLES_DIR "config/examples"
#define INVALID_EXAMPLE "config/examples/invalid/signaal-ongeldig.json"
#define ENVELOPE_URI "https://ketenhub.nl/schemas/v1/cloudevent.json"
#define SIGNAAL_URI                                                                                \
    "https://ketenhub.nl/schemas/v1/nl.mensenhandel.signalen.signaal-geregistreerd.json"

/* Parses test text; a typo in a test is the test's bug, so it stops the run. */
static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        fprintf(stderr, "test JSON does not parse: %s: %s\n", text, jerr.text);
        exit(2);
    }
    return v;
}

/*
 * Adds each of the n schema texts (the first under BASE, the rest only by
 * their $id) and compiles. Returns the registry, or NULL with err filled
 * (a refusal at add or at compile: the API allows either).
 */
static struct schema_registry *load_n(const char *const *texts, size_t n, char *err, size_t errlen)
{
    struct schema_registry *reg = schema_registry_new();
    if (!reg) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *doc = parse(texts[i]);
        int rc = schema_registry_add(reg, doc, i == 0 ? BASE : NULL, err, errlen);
        json_decref(doc); /* the registry took its own reference */
        if (rc != 0)
            goto fail;
    }
    if (schema_registry_compile(reg, err, errlen) != 0)
        goto fail;
    return reg;
fail:
    schema_registry_free(&reg);
    return NULL;
}

static struct schema_registry *load(const char *text, char *err, size_t errlen)
{
    return load_n(&text, 1, err, errlen);
}

/* Validates the instance text against the schema; errors may be NULL. */
static int validate(const struct schema *s, const char *instance, json_t *errors)
{
    json_t *v = parse(instance);
    int rc = schema_validate(s, v, errors, NULL, 0);
    json_decref(v);
    return rc;
}

/* The error with this path and keyword, or NULL. */
static const json_t *find_error(const json_t *errors, const char *path, const char *keyword)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *k = json_string_value(json_object_get(e, "keyword"));
        if (p && k && strcmp(p, path) == 0 && strcmp(k, keyword) == 0)
            return e;
    }
    return NULL;
}

static const char *message_of(const json_t *e)
{
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : "";
}

/* Prints the errors when a test is about to fail on them. */
static void dump_errors(const char *what, const json_t *errors)
{
    char *s = json_dumps(errors, JSON_COMPACT);
    fprintf(stderr, "  %s errors: %s\n", what, s ? s : "(unprintable)");
    free(s);
}

/* ---- error objects ---- */

static void errors_point_into_nested_objects_and_arrays_with_escaped_names(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"properties\": {"
             "  \"a/b\": {\"properties\": {\"c~d\": {\"type\": \"integer\"}}},"
             "  \"list\": {\"items\": {\"properties\": {\"x\": {\"type\": \"string\"}}}}}}",
             err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    CHECK(s != NULL);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "{\"a/b\": {\"c~d\": \"no\"}, \"list\": [{\"x\": \"ok\"}, {\"x\": 5}]}",
                       errors),
              0);
    CHECK_INT(json_array_size(errors), 2);
    const json_t *e1 = find_error(errors, "/a~1b/c~0d", "type");
    const json_t *e2 = find_error(errors, "/list/1/x", "type");
    CHECK(e1 != NULL);
    CHECK(e2 != NULL);
    CHECK(*message_of(e1) != '\0');
    CHECK(*message_of(e2) != '\0');
    if (!e1 || !e2)
        dump_errors("nested", errors);
    json_decref(errors);
    schema_registry_free(&reg);
    CHECK(reg == NULL);
}

static void required_error_is_at_the_object_and_names_the_property(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"properties\": {\"o\": {\"required\": [\"have\", \"need\"]}}}", err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "{\"o\": {\"have\": 1}}", errors), 0);
    CHECK_INT(json_array_size(errors), 1);
    const json_t *e = find_error(errors, "/o", "required");
    CHECK(e != NULL);
    CHECK(strstr(message_of(e), "need") != NULL);
    CHECK(strstr(message_of(e), "have") == NULL);
    if (!e)
        dump_errors("required", errors);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void additional_and_unevaluated_property_errors_are_at_the_property(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"additionalProperties\": false, \"properties\": {\"a\": {}, "
             "\"u\": {\"unevaluatedProperties\": false, "
             "\"properties\": {\"k\": true}}}}",
             err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "{\"a\": 1, \"u\": {\"k\": 1, \"x~y\": 2}, \"extra\": 2}", errors), 0);
    CHECK(find_error(errors, "/extra", "additionalProperties") != NULL);
    CHECK(find_error(errors, "/u/x~0y", "unevaluatedProperties") != NULL);
    CHECK_INT(json_array_size(errors), 2);
    if (json_array_size(errors) != 2)
        dump_errors("additional/unevaluated", errors);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void path_prefix_goes_before_every_path(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"type\": \"object\", \"properties\": {\"n\": {\"type\": "
                                       "\"integer\"}}, \"additionalProperties\": false}",
                                       err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    json_t *errors = json_array();
    json_t *v = parse("{\"n\": \"x\", \"extra\": 1}");
    CHECK_INT(schema_validate(s, v, errors, "/data", 0), 0);
    CHECK(find_error(errors, "/data/n", "type") != NULL);
    CHECK(find_error(errors, "/data/extra", "additionalProperties") != NULL);
    json_decref(v);

    /* an error at the root gets the prefix itself; "" and NULL add nothing */
    json_array_clear(errors);
    v = parse("[]");
    CHECK_INT(schema_validate(s, v, errors, "/data", 0), 0);
    CHECK(find_error(errors, "/data", "type") != NULL);
    json_array_clear(errors);
    CHECK_INT(schema_validate(s, v, errors, "", 0), 0);
    CHECK(find_error(errors, "", "type") != NULL);
    json_array_clear(errors);
    CHECK_INT(schema_validate(s, v, errors, NULL, 0), 0);
    CHECK(find_error(errors, "", "type") != NULL);
    json_decref(v);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void max_errors_bounds_the_list_not_the_verdict(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"items\": {\"type\": \"string\"}}", err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    json_t *errors = json_array();
    json_t *v = parse("[1, 2, 3, 4, 5]");
    CHECK_INT(schema_validate(s, v, errors, NULL, 2), 0);
    CHECK_INT(json_array_size(errors), 2);
    json_array_clear(errors);
    CHECK_INT(schema_validate(s, v, errors, NULL, 0), 0);
    CHECK_INT(json_array_size(errors), 5);
    CHECK(find_error(errors, "/4", "type") != NULL);
    /* errors already in the caller's array are kept; the bound counts new ones */
    CHECK_INT(schema_validate(s, v, errors, NULL, 1), 0);
    CHECK_INT(json_array_size(errors), 6);
    json_decref(v);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void errors_may_be_null_when_only_the_verdict_is_wanted(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"required\": [\"a\"], \"properties\": {\"a\": {\"minimum\": 3}}}", err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    CHECK_INT(validate(s, "{\"a\": 4}", NULL), 1);
    CHECK_INT(validate(s, "{\"a\": 2}", NULL), 0);
    CHECK_INT(validate(s, "{}", NULL), 0);
    json_t *v = parse("{}");
    CHECK_INT(schema_validate(s, v, NULL, "/data", 1), 0);
    json_decref(v);
    schema_registry_free(&reg);
}

/* ---- refused at load ---- */

static void unknown_keyword_is_refused_with_its_pointer(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load(
        "{\"properties\": {\"a\": {\"type\": \"string\", \"frobnicate\": 1}}}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "/properties/a/frobnicate") != NULL);
    if (!strstr(err, "/properties/a/frobnicate"))
        fprintf(stderr, "  err: %s\n", err);
    schema_registry_free(&reg);

    /* also inside an array of subschemas, and a misspelt real keyword */
    err[0] = '\0';
    reg = load("{\"anyOf\": [{\"type\": \"string\"}, {\"maxLenght\": 3}]}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "/anyOf/1/maxLenght") != NULL);
    schema_registry_free(&reg);
}

static void unknown_keyword_refusal_names_the_document_uri_at_compile(void)
{
    /* add may already refuse (then it names the pointer); if add accepts,
     * the compile error must name the document as well as the pointer */
    char err[ERR_LEN] = "";
    struct schema_registry *reg = schema_registry_new();
    json_t *doc = parse("{\"$defs\": {\"x\": {\"frobnicate\": true}}}");
    int added = schema_registry_add(reg, doc, BASE, err, sizeof err);
    json_decref(doc);
    if (added == 0) {
        CHECK_INT(schema_registry_compile(reg, err, sizeof err), -1);
        CHECK(strstr(err, BASE) != NULL);
    }
    CHECK(strstr(err, "/$defs/x/frobnicate") != NULL);
    schema_registry_free(&reg);
}

static void bad_regex_is_refused_at_load(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"pattern\": \"(unclosed\"}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "/pattern") != NULL);
    schema_registry_free(&reg);

    err[0] = '\0';
    reg = load("{\"patternProperties\": {\"a{2,1}\": true}}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "/patternProperties") != NULL);
    schema_registry_free(&reg);
}

static void unresolvable_ref_is_refused_at_compile(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"$ref\": \"#/$defs/missing\"}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "$ref") != NULL);
    schema_registry_free(&reg);

    err[0] = '\0';
    reg = load("{\"properties\": {\"a\": {\"$ref\": \"other.json#/$defs/x\"}}}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "/properties/a") != NULL);
    schema_registry_free(&reg);

    err[0] = '\0';
    reg = load("{\"$ref\": \"#no-such-anchor\"}", err, sizeof err);
    CHECK(reg == NULL);
    schema_registry_free(&reg);
}

/* ---- registry ---- */

static void two_documents_with_one_id_are_refused(void)
{
    static const char *const docs[] = {
        "{\"$id\": \"https://x.example/same.json\", \"type\": \"string\"}",
        "{\"$id\": \"https://x.example/same.json\", \"type\": \"integer\"}",
    };
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load_n(docs, 2, err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "https://x.example/same.json") != NULL);
    schema_registry_free(&reg);
}

static void compile_errors_name_the_keyword(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"properties\": {\"a\": {\"minLength\": \"x\"}}}", err, sizeof err);
    CHECK(reg == NULL);
    CHECK(strstr(err, "#/properties/a/minLength:") != NULL);
    schema_registry_free(&reg);
}

static void ref_reaches_another_document_relative_to_its_id(void)
{
    /* main first: a reference may point at a document added later */
    static const char *const docs[] = {
        "{\"$id\": \"https://test.example/schemas/main.json\","
        " \"properties\": {\"n\": {\"$ref\": \"defs.json#/$defs/x\"}}}",
        "{\"$id\": \"https://test.example/schemas/defs.json\","
        " \"$defs\": {\"x\": {\"type\": \"integer\", \"minimum\": 3}}}",
    };
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load_n(docs, 2, err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, "https://test.example/schemas/main.json");
    CHECK(s != NULL);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "{\"n\": 5}", errors), 1);
    CHECK_INT(validate(s, "{\"n\": 1}", errors), 0);
    CHECK(find_error(errors, "/n", "minimum") != NULL);
    CHECK_INT(validate(s, "{\"n\": \"five\"}", NULL), 0);
    /* the defs themselves, by URI with a pointer fragment */
    const struct schema *x =
        schema_registry_get(reg, "https://test.example/schemas/defs.json#/$defs/x");
    CHECK(x != NULL);
    if (x) {
        CHECK_INT(validate(x, "7", NULL), 1);
        CHECK_INT(validate(x, "2", NULL), 0);
    }
    CHECK(schema_registry_get(reg, "https://test.example/schemas/nothing.json") == NULL);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void anchor_names_a_subschema(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"$id\": \"https://test.example/anchored.json\","
             " \"$defs\": {\"p\": {\"$anchor\": \"positive\", \"type\": \"number\","
             " \"exclusiveMinimum\": 0}},"
             " \"items\": {\"$ref\": \"#positive\"}}",
             err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, "https://test.example/anchored.json");
    CHECK(s != NULL);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "[1, 2.5]", errors), 1);
    CHECK_INT(validate(s, "[1, -1]", errors), 0);
    CHECK(find_error(errors, "/1", "exclusiveMinimum") != NULL);
    const struct schema *p =
        schema_registry_get(reg, "https://test.example/anchored.json#positive");
    CHECK(p != NULL);
    if (p) {
        CHECK_INT(validate(p, "3", NULL), 1);
        CHECK_INT(validate(p, "0", NULL), 0);
    }
    json_decref(errors);
    schema_registry_free(&reg);
}

/* ---- values ---- */

static void string_lengths_count_code_points(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"minLength\": 3, \"maxLength\": 3}", err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    /* 2 + 3 + 4 bytes, 3 code points */
    CHECK_INT(validate(s, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", NULL), 1);
    /* 5 bytes, 2 code points: too short although 5 bytes */
    CHECK_INT(validate(s, "\"\xc3\xa9\xe2\x82\xac\"", NULL), 0);
    /* 4 code points of 4 bytes each: too long */
    CHECK_INT(validate(s, "\"\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\\ud83d\\ude00\"", NULL), 0);
    /* an embedded NUL is a code point like any other */
    CHECK_INT(validate(s, "\"a\\u0000b\"", NULL), 1);
    schema_registry_free(&reg);
}

static void integers_equal_their_real_forms(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"properties\": {\"e\": {\"enum\": [1, \"x\"]}, \"c\": {\"const\": {\"a\": [2.0]}},"
             " \"u\": {\"uniqueItems\": true}, \"i\": {\"type\": \"integer\"}}}",
             err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    CHECK_INT(validate(s, "{\"e\": 1.0}", NULL), 1);
    CHECK_INT(validate(s, "{\"e\": 1}", NULL), 1);
    CHECK_INT(validate(s, "{\"e\": 1.5}", NULL), 0);
    CHECK_INT(validate(s, "{\"e\": true}", NULL), 0); /* true is not 1 */
    CHECK_INT(validate(s, "{\"c\": {\"a\": [2]}}", NULL), 1);
    CHECK_INT(validate(s, "{\"c\": {\"a\": [2.5]}}", NULL), 0);
    json_t *errors = json_array();
    CHECK_INT(validate(s, "{\"u\": [1, 1.0]}", errors), 0);
    CHECK(find_error(errors, "/u", "uniqueItems") != NULL);
    CHECK_INT(validate(s, "{\"u\": [{\"k\": 1}, {\"k\": 1.0}]}", NULL), 0);
    CHECK_INT(validate(s, "{\"u\": [1, true, \"1\", [1]]}", NULL), 1);
    CHECK_INT(validate(s, "{\"i\": 3.0}", NULL), 1);
    CHECK_INT(validate(s, "{\"i\": 3.5}", NULL), 0);
    json_decref(errors);
    schema_registry_free(&reg);
}

static void multiple_of_survives_decimal_fractions(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg =
        load("{\"properties\": {\"a\": {\"multipleOf\": 0.0001}, \"b\": {\"multipleOf\": 0.0075},"
             " \"c\": {\"multipleOf\": 0.01}, \"d\": {\"multipleOf\": 2}}}",
             err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);
    /* 0.0075 / 0.0001 is 74.99999999999999 in binary floating point */
    CHECK_INT(validate(s, "{\"a\": 0.0075}", NULL), 1);
    CHECK_INT(validate(s, "{\"a\": 0.00751}", NULL), 0);
    CHECK_INT(validate(s, "{\"b\": 0.0225}", NULL), 1);
    CHECK_INT(validate(s, "{\"b\": 0.0075}", NULL), 1);
    CHECK_INT(validate(s, "{\"b\": 0.01}", NULL), 0);
    CHECK_INT(validate(s, "{\"c\": 19.99}", NULL), 1);
    CHECK_INT(validate(s, "{\"c\": 19.995}", NULL), 0);
    CHECK_INT(validate(s, "{\"d\": 4}", NULL), 1);
    CHECK_INT(validate(s, "{\"d\": 4.0}", NULL), 1);
    CHECK_INT(validate(s, "{\"d\": 3}", NULL), 0);
    CHECK_INT(validate(s, "{\"d\": 1e308}", NULL), 1);
    schema_registry_free(&reg);
}

static void formats_are_asserted_for_the_listed_names(void)
{
    static const struct {
        const char *format;
        const char *good;
        const char *bad;
    } cases[] = {
        {"uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "2eb8aa08-aa98-11ea-b4aa-73b441d1638"},
        {"uuid", "0D8F3B7A-2C4E-4A61-B9F0-6E1D5C3A2B77", "0d8f3b7a2c4e4a61b9f06e1d5c3a2b77"},
        {"date", "2024-02-29", "2023-02-29"},
        {"date", "2026-11-28", "2026-11-28T00:00:00Z"},
        {"date-time", "2026-11-28T23:14:05Z", "2026-11-28T25:14:05Z"},
        {"date-time", "1963-06-19T08:30:06.283185+01:00", "1963-06-19T08:30:06"},
        {"email", "joe.bloggs@example.com", "joe.bloggs.example.com"},
        {"email", "a+b@x.nl", "@example.com"},
        {"uri", "urn:nld:oin:00000001003214345000:systeem:politie-bvh", "//example.com/a"},
        {"uri", "https://example.com/a?b=c#d", "https://example.com/a b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256], good[300], bad[300], err[ERR_LEN] = "";
        snprintf(text, sizeof text, "{\"format\": \"%s\"}", cases[i].format);
        struct schema_registry *reg = load(text, err, sizeof err);
        CHECK_STR(err, "");
        if (!reg)
            continue;
        const struct schema *s = schema_registry_get(reg, BASE);
        snprintf(good, sizeof good, "\"%s\"", cases[i].good);
        snprintf(bad, sizeof bad, "\"%s\"", cases[i].bad);
        int g = validate(s, good, NULL);
        json_t *errors = json_array();
        int b = validate(s, bad, errors);
        CHECK_INT(g, 1);
        CHECK_INT(b, 0);
        CHECK(b == 1 || find_error(errors, "", "format") != NULL);
        if (g != 1 || b != 0)
            fprintf(stderr, "  format %s: \"%s\" -> %d, \"%s\" -> %d\n", cases[i].format,
                    cases[i].good, g, cases[i].bad, b);
        /* a format applies to strings only */
        CHECK_INT(validate(s, "12", NULL), 1);
        json_decref(errors);
        schema_registry_free(&reg);
    }

    /* a name that is not asserted is an annotation: anything passes */
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"format\": \"iri-reference\"}", err, sizeof err);
    CHECK_STR(err, "");
    if (reg) {
        CHECK_INT(validate(schema_registry_get(reg, BASE), "\"\\\\ not an iri\"", NULL), 1);
        schema_registry_free(&reg);
    }
}

/* ---- hostile input ---- */

static void deeply_nested_instance_is_bounded(void)
{
    char err[ERR_LEN] = "";
    struct schema_registry *reg = load("{\"items\": {\"$ref\": \"#\"}}", err, sizeof err);
    CHECK_STR(err, "");
    if (!reg)
        return;
    const struct schema *s = schema_registry_get(reg, BASE);

    /* shallow nesting is just valid */
    json_t *v = json_array();
    for (int i = 0; i < 20; i++) {
        json_t *outer = json_array();
        json_array_append_new(outer, v);
        v = outer;
    }
    CHECK_INT(schema_validate(s, v, NULL, NULL, 0), 1);
    json_decref(v);

    /* 10,000 levels: either verdict, without a crash; an invalid one says why */
    v = json_array();
    for (int i = 0; i < 10000 && v; i++) {
        json_t *outer = json_array();
        if (!outer || json_array_append_new(outer, v) != 0) {
            json_decref(outer);
            break;
        }
        v = outer;
    }
    json_t *errors = json_array();
    int rc = schema_validate(s, v, errors, NULL, 0);
    CHECK(rc == 0 || rc == 1);
    CHECK(rc == 1 || json_array_size(errors) > 0);
    CHECK(rc == 0 || json_array_size(errors) == 0);
    printf("10,000 nested arrays: %s, %zu errors\n", rc ? "valid" : "invalid",
           json_array_size(errors));
    json_decref(errors);
    json_decref(v);
    schema_registry_free(&reg);
}

static void self_recursive_schema_is_refused_or_terminates(void)
{
    static const char *const texts[] = {
        "{\"$ref\": \"#\"}",
        ("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}},"
         " \"$ref\": \"#/$defs/a\"}"),
        "{\"allOf\": [{\"$ref\": \"#\"}]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char err[ERR_LEN] = "";
        struct schema_registry *reg = load(texts[i], err, sizeof err);
        if (!reg) {
            CHECK(err[0] != '\0'); /* refused, with a reason */
            printf("recursive schema %zu refused: %s\n", i, err);
            continue;
        }
        const struct schema *s = schema_registry_get(reg, BASE);
        json_t *errors = json_array();
        int rc = validate(s, "{\"a\": [1]}", errors);
        CHECK(rc == 0 || rc == 1);
        printf("recursive schema %zu compiled; validation ended: %s\n", i,
               rc ? "valid" : "invalid");
        json_decref(errors);
        schema_registry_free(&reg);
    }
}

/* ---- the project's schemas and examples ---- */

/* Adds every .json file of schemas/ to a new registry and compiles it, or NULL. */
static struct schema_registry *project_registry(void)
{
    struct schema_registry *reg = schema_registry_new();
    DIR *d = opendir(SCHEMAS_DIR);
    int added = 0;
    CHECK(d != NULL);
    if (!d || !reg)
        goto fail;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[PATH_MAX], base[PATH_MAX + 16], err[ERR_LEN] = "";
        snprintf(path, sizeof path, SCHEMAS_DIR "/%s", de->d_name);
        snprintf(base, sizeof base, "file:///ketenhub/" SCHEMAS_DIR "/%.255s", de->d_name);
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        CHECK(doc != NULL);
        if (!doc) {
            fprintf(stderr, "  %s: %s\n", path, jerr.text);
            continue;
        }
        int rc = schema_registry_add(reg, doc, base, err, sizeof err);
        json_decref(doc);
        CHECK_INT(rc, 0);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", path, err);
        added += rc == 0;
    }
    closedir(d);
    d = NULL;
    CHECK(added >= 3);
    char err[ERR_LEN] = "";
    int rc = schema_registry_compile(reg, err, sizeof err);
    CHECK_STR(err, "");
    if (rc != 0)
        goto fail;
    return reg;
fail:
    if (d)
        closedir(d);
    schema_registry_free(&reg);
    return NULL;
}

/* Validates event (envelope) and its data; returns 1 when both are valid. */
static int event_valid(const struct schema_registry *reg, const json_t *event, json_t *errors)
{
    const struct schema *env = schema_registry_get(reg, ENVELOPE_URI);
    const struct schema *sig = schema_registry_get(reg, SIGNAAL_URI);
    CHECK(env != NULL);
    CHECK(sig != NULL);
    if (!env || !sig)
        return 0;
    int e = schema_validate(env, event, errors, "", 0);
    int d = schema_validate(sig, json_object_get(event, "data"), errors, "/data", 0);
    return e && d;
}

static void example_events_match_the_project_schemas(void)
{
    struct schema_registry *reg = project_registry();
    if (!reg)
        return;
    DIR *d = opendir(EXAMPLES_DIR);
    int seen = 0;
    CHECK(d != NULL);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, EXAMPLES_DIR "/%s", de->d_name);
        json_error_t jerr;
        json_t *event = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        CHECK(event != NULL);
        if (!event)
            continue;
        json_t *errors = json_array();
        int ok = event_valid(reg, event, errors);
        CHECK_INT(ok, 1);
        CHECK_INT(json_array_size(errors), 0);
        if (!ok)
            dump_errors(path, errors);
        seen++;
        json_decref(errors);
        json_decref(event);
    }
    if (d)
        closedir(d);
    CHECK(seen >= 3);
    schema_registry_free(&reg);
}

static void invalid_example_fails_on_the_expected_fields(void)
{
    static const struct {
        const char *path;
        const char *keyword;
    } want[] = {
        {"/data/vormenVanUitbuiting/1", "enum"}, /* "mensensmokkel" is not a form */
        {"/data/urgentie", "enum"},              /* "spoed" */
        {"/data/minderjarig", "type"},           /* "ja" is not a boolean */
        {"/data/woongemeente", "pattern"},       /* a name, not GM0000 */
        {"/data/naam", "additionalProperties"},  /* names never enter the hub */
        {"/data", "required"},                   /* toestemming is missing */
    };
    struct schema_registry *reg = project_registry();
    if (!reg)
        return;
    json_error_t jerr;
    json_t *event = json_load_file(INVALID_EXAMPLE, JSON_REJECT_DUPLICATES, &jerr);
    CHECK(event != NULL);
    if (!event) {
        schema_registry_free(&reg);
        return;
    }
    json_t *errors = json_array();
    CHECK_INT(schema_validate(schema_registry_get(reg, ENVELOPE_URI), event, errors, "", 0), 1);
    CHECK_INT(json_array_size(errors), 0);
    CHECK_INT(event_valid(reg, event, errors), 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const json_t *e = find_error(errors, want[i].path, want[i].keyword);
        CHECK(e != NULL);
        if (!e)
            fprintf(stderr, "  missing error %s %s\n", want[i].path, want[i].keyword);
    }
    CHECK(strstr(message_of(find_error(errors, "/data", "required")), "toestemming") != NULL);
    CHECK_INT(json_array_size(errors), sizeof want / sizeof want[0]);
    if (json_array_size(errors) != sizeof want / sizeof want[0])
        dump_errors(INVALID_EXAMPLE, errors);
    json_decref(errors);
    json_decref(event);
    schema_registry_free(&reg);
}

int main(void)
{
    RUN(errors_point_into_nested_objects_and_arrays_with_escaped_names);
    RUN(required_error_is_at_the_object_and_names_the_property);
    RUN(additional_and_unevaluated_property_errors_are_at_the_property);
    RUN(path_prefix_goes_before_every_path);
    RUN(max_errors_bounds_the_list_not_the_verdict);
    RUN(errors_may_be_null_when_only_the_verdict_is_wanted);
    RUN(unknown_keyword_is_refused_with_its_pointer);
    RUN(unknown_keyword_refusal_names_the_document_uri_at_compile);
    RUN(bad_regex_is_refused_at_load);
    RUN(unresolvable_ref_is_refused_at_compile);
    RUN(two_documents_with_one_id_are_refused);
    RUN(compile_errors_name_the_keyword);
    RUN(ref_reaches_another_document_relative_to_its_id);
    RUN(anchor_names_a_subschema);
    RUN(string_lengths_count_code_points);
    RUN(integers_equal_their_real_forms);
    RUN(multiple_of_survives_decimal_fractions);
    RUN(formats_are_asserted_for_the_listed_names);
    RUN(deeply_nested_instance_is_bounded);
    RUN(self_recursive_schema_is_refused_or_terminates);
    RUN(example_events_match_the_project_schemas);
    RUN(invalid_example_fails_on_the_expected_fields);
    return CHECK_DONE();
}
