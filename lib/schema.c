/*
 * schema - a JSON Schema draft 2020-12 validator on jansson; see schema.h.
 *
 * Compilation turns every subschema of every document into a `struct schema`
 * node: keywords checked against one table (an unknown keyword is an error,
 * never ignored), numbers and lists pulled out of JSON, patterns compiled once,
 * properties sorted for binary search, and every $ref bound to its target
 * node. Validation then walks nodes; it allocates only for error objects and,
 * when a schema uses unevaluatedProperties/unevaluatedItems, for the bit sets
 * that track which members were evaluated.
 *
 * Not here: the format grammars (schema_format), ECMA-262 regexes
 * (schema_regex) and URI resolution (schema_uri). Nothing is fetched from the
 * network: a $ref resolves only to documents added to the registry.
 */
#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_format.h"
#include "schema_regex.h"
#include "schema_uri.h"

/* Deepest chain of schema applications in one validation: bounds hostile
 * instances and $ref cycles that consume no input. */
#define MAX_DEPTH 256

/* Instance types as a bit set for "type". */
enum {
    T_NULL = 1,
    T_BOOLEAN = 2,
    T_OBJECT = 4,
    T_ARRAY = 8,
    T_NUMBER = 16,
    T_STRING = 32,
    T_INTEGER = 64,
};

struct prop {
    const char *name; /* borrowed from the schema document */
    struct schema *node;
};

struct pattern_prop {
    struct schema_regex *re;
    const char *source;
    struct schema *node;
};

struct dep_required {
    const char *name;
    const char **names;
    size_t n;
};

struct node_list {
    struct schema **v;
    size_t n;
};

struct schema {
    int boolean; /* -1: an object schema; 0/1: the schema false/true */
    const json_t *json;
    char *base;  /* base URI in effect (the enclosing resource) */
    char *where; /* document URI + "#" + JSON pointer, for messages */
    int is_resource;

    unsigned types;
    const json_t *enum_values;
    const json_t *const_value;
    const json_t *minimum, *maximum, *exclusive_minimum, *exclusive_maximum, *multiple_of;
    long long min_length, max_length, min_items, max_items, min_properties, max_properties;
    long long min_contains, max_contains;
    int unique_items;
    struct schema_regex *pattern;
    const char *pattern_source;
    enum schema_format format;

    struct prop *props;
    size_t nprops;
    struct pattern_prop *pattern_props;
    size_t npattern_props;
    struct schema *additional_properties;
    struct schema *property_names;
    struct schema *unevaluated_properties;
    const char **required;
    size_t nrequired;
    struct dep_required *dep_required;
    size_t ndep_required;
    struct prop *dep_schemas;
    size_t ndep_schemas;

    struct node_list prefix_items;
    struct schema *items;
    struct schema *contains;
    struct schema *unevaluated_items;

    struct node_list all_of, any_of, one_of;
    struct schema *not_;
    struct schema *if_, *then_, *else_;

    char *ref_uri;
    struct schema *ref;
    char *dynamic_ref_uri;
    struct schema *dynamic_ref;   /* the static target */
    const char *dynamic_ref_name; /* set when the target holds a matching $dynamicAnchor */
    const char *dynamic_anchor;   /* this node's $dynamicAnchor */

    int needs_eval; /* has unevaluatedProperties or unevaluatedItems */
    const struct schema_registry *reg;
};

/* A string-keyed hash map (open addressing); values are borrowed pointers. */
struct map {
    char **keys;
    void **values;
    size_t cap, n;
};

struct schema_registry {
    json_t **docs;
    char **doc_uris;
    size_t ndocs;
    struct schema **nodes; /* every node, for freeing */
    size_t nnodes, cap_nodes;
    struct map resources; /* absolute URI without fragment -> resource root */
    struct map anchors;   /* "uri#name" -> node ($anchor and $dynamicAnchor) */
    struct map dynamic;   /* "uri#name" -> node ($dynamicAnchor only) */
    struct map by_json;   /* schema JSON (its address as text) -> node */
    int compiled;
    unsigned next_anon;
};

/* ---------------------------------------------------------------- maps */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void *map_get(const struct map *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (strcmp(m->keys[i], key) == 0)
            return m->values[i];
    }
}

/* Inserts key (copied) unless present. Returns 0, 1 if present, -1 on OOM. */
static int map_put(struct map *m, const char *key, void *value)
{
    if (map_get(m, key))
        return 1;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        char **keys = calloc(cap, sizeof *keys);
        void **values = calloc(cap, sizeof *values);
        if (!keys || !values) {
            free(keys);
            free(values);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = hash_str(m->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            values[j] = m->values[i];
        }
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->cap = cap;
    }
    char *copy = strdup(key);
    if (!copy)
        return -1;
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = copy;
    m->values[i] = value;
    m->n++;
    return 0;
}

static void map_free(struct map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

/* The key under which by_json knows a schema value: its address. Compile
 * time only, so a text key (one map implementation) costs nothing that counts. */
struct ptr_key {
    char text[2 * sizeof(void *) + 3];
};

static struct ptr_key ptr_key(const void *p)
{
    struct ptr_key k;
    snprintf(k.text, sizeof k.text, "%p", p);
    return k;
}

/* ------------------------------------------------------- JSON helpers */

static int json_eq(const json_t *a, const json_t *b);

static long double num_value(const json_t *v)
{
    return json_is_integer(v) ? (long double)json_integer_value(v)
                              : (long double)json_real_value(v);
}

/* -1, 0, 1; integers compare exactly, mixed through long double (exact for
 * every 64-bit integer on x86-64). */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    long double x = num_value(a), y = num_value(b);
    return x < y ? -1 : x > y;
}

static int json_eq(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            const json_t *w = json_object_get(b, k);
            if (!w || !json_eq(v, w))
                return 0;
        }
        return 1;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!json_eq(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return 1; /* null, true, false */
    }
}

static int is_integer_value(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    if (!json_is_real(v))
        return 0;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static size_t utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

/* Short text of a value for messages: JSON, cut at 60 bytes. Serialises into
 * the caller's buffer: nothing allocated, whatever allocator jansson uses. */
static void describe(const json_t *v, char *out, size_t len)
{
    size_t need = json_dumpb(v, out, len - 1, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0) {
        snprintf(out, len, "(value)");
    } else if (need > len - 1 || need > 60) {
        size_t keep = (len - 1 < 60 ? len - 1 : 60) - 3;
        memcpy(out + keep, "...", 4);
    } else {
        out[need] = '\0';
    }
}

static const char *type_name_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return is_integer_value(v) ? "integer" : "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* ------------------------------------------------------------ compile */

struct compiler {
    struct schema_registry *reg;
    char *err;
    size_t errlen;
    int failed;
};

static void cfail(struct compiler *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfail(struct compiler *c, const char *where, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s", where, msg);
}

/* Appends one JSON pointer segment (escaped) to a "uri#/pointer" string. */
static char *extend_where(const char *where, const char *segment)
{
    size_t extra = 1;
    for (const char *p = segment; *p; p++)
        extra += (*p == '~' || *p == '/') ? 2 : 1;
    size_t n = strlen(where);
    char *out = malloc(n + extra + 1);
    if (!out)
        return NULL;
    memcpy(out, where, n);
    char *o = out + n;
    *o++ = '/';
    for (const char *p = segment; *p; p++) {
        if (*p == '~') {
            *o++ = '~';
            *o++ = '0';
        } else if (*p == '/') {
            *o++ = '~';
            *o++ = '1';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static char *strip_empty_fragment(char *uri)
{
    size_t n = strlen(uri);
    if (n && uri[n - 1] == '#')
        uri[n - 1] = '\0';
    return uri;
}

static struct schema *compile_node(struct compiler *c, const json_t *json, const char *base,
                                   const char *where);

static struct schema *compile_sub(struct compiler *c, const json_t *json,
                                  const struct schema *parent, const char *segment)
{
    char *where = extend_where(parent->where, segment);
    if (!where) {
        cfail(c, parent->where, "out of memory");
        return NULL;
    }
    struct schema *n = compile_node(c, json, parent->base, where);
    free(where);
    return n;
}

static struct schema *compile_sub2(struct compiler *c, const json_t *json,
                                   const struct schema *parent, const char *kw, const char *seg)
{
    char *mid = extend_where(parent->where, kw);
    if (!mid) {
        cfail(c, parent->where, "out of memory");
        return NULL;
    }
    char *where = extend_where(mid, seg);
    free(mid);
    if (!where) {
        cfail(c, parent->where, "out of memory");
        return NULL;
    }
    struct schema *n = compile_node(c, json, parent->base, where);
    free(where);
    return n;
}

static int kw_non_negative(struct compiler *c, const char *at, const char *kw, const json_t *v,
                           long long *out)
{
    if (!is_integer_value(v) || num_value(v) < 0) {
        cfail(c, at, "\"%s\" must be a non-negative integer", kw);
        return -1;
    }
    *out = json_is_integer(v) ? (long long)json_integer_value(v) : (long long)json_real_value(v);
    return 0;
}

static int kw_schema_list(struct compiler *c, struct schema *s, const char *at, const char *kw,
                          const json_t *v, struct node_list *out)
{
    if (!json_is_array(v) || json_array_size(v) == 0) {
        cfail(c, at, "\"%s\" must be a non-empty array of schemas", kw);
        return -1;
    }
    out->n = json_array_size(v);
    out->v = calloc(out->n, sizeof *out->v);
    if (!out->v) {
        cfail(c, at, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%zu", i);
        out->v[i] = compile_sub2(c, json_array_get(v, i), s, kw, idx);
        if (!out->v[i])
            return -1;
    }
    return 0;
}

static int cmp_prop(const void *a, const void *b)
{
    return strcmp(((const struct prop *)a)->name, ((const struct prop *)b)->name);
}

static int kw_schema_map(struct compiler *c, struct schema *s, const char *at, const char *kw,
                         const json_t *v, struct prop **out, size_t *n)
{
    if (!json_is_object(v)) {
        cfail(c, at, "\"%s\" must be an object of schemas", kw);
        return -1;
    }
    *n = 0;
    *out = calloc(json_object_size(v) + 1, sizeof **out);
    if (!*out) {
        cfail(c, at, "out of memory");
        return -1;
    }
    const char *k;
    json_t *sub;
    json_object_foreach((json_t *)v, k, sub)
    {
        struct prop *p = &(*out)[(*n)++];
        p->name = k;
        p->node = compile_sub2(c, sub, s, kw, k);
        if (!p->node)
            return -1;
    }
    qsort(*out, *n, sizeof **out, cmp_prop);
    return 0;
}

static int kw_string_list(struct compiler *c, struct schema *s, const char *at, const char *kw,
                          const json_t *v, const char ***out, size_t *n)
{
    if (!json_is_array(v)) {
        cfail(c, at, "\"%s\" must be an array of strings", kw);
        return -1;
    }
    *n = json_array_size(v);
    *out = calloc(*n + 1, sizeof **out);
    if (!*out) {
        cfail(c, at, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < *n; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e)) {
            cfail(c, at, "\"%s\" must be an array of strings", kw);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*out)[j], json_string_value(e)) == 0) {
                cfail(c, at, "\"%s\" lists \"%s\" twice", kw, json_string_value(e));
                return -1;
            }
        }
        (*out)[i] = json_string_value(e);
    }
    return 0;
}

static int parse_type(struct compiler *c, struct schema *s, const char *at, const json_t *v)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"null", T_NULL},      {"boolean", T_BOOLEAN}, {"object", T_OBJECT},
                 {"array", T_ARRAY},    {"number", T_NUMBER},   {"string", T_STRING},
                 {"integer", T_INTEGER}};
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && n == 0)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e))
            goto bad;
        unsigned bit = 0;
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
            if (strcmp(json_string_value(e), names[j].name) == 0)
                bit = names[j].bit;
        if (!bit || (s->types & bit))
            goto bad;
        s->types |= bit;
    }
    return 0;
bad:
    cfail(c, at, "\"type\" must be a type name or an array of distinct type names");
    return -1;
}

/* Keywords that carry no assertion: accepted and ignored by design. */
static const char *const annotation_keywords[] = {
    "$schema",          "$comment",        "$vocabulary",   "title",    "description",
    "default",          "examples",        "deprecated",    "readOnly", "writeOnly",
    "contentMediaType", "contentEncoding", "contentSchema",
};

static int is_annotation(const char *kw)
{
    for (size_t i = 0; i < sizeof annotation_keywords / sizeof *annotation_keywords; i++)
        if (strcmp(kw, annotation_keywords[i]) == 0)
            return 1;
    return 0;
}

static const char *const known_schema_uris[] = {
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2020-12/schema#",
};

static int compile_keyword_at(struct compiler *c, struct schema *s, const char *kw, const json_t *v,
                              const char *at)
{
#define IS(name) (strcmp(kw, name) == 0)
#define SUB(field)                                                                                 \
    do {                                                                                           \
        s->field = compile_sub(c, v, s, kw);                                                       \
        return s->field ? 0 : -1;                                                                  \
    } while (0)
    if (IS("$id") || IS("$anchor") || IS("$dynamicAnchor") || IS("$defs"))
        return 0; /* handled in compile_node */
    if (IS("$schema")) {
        int ok = 0;
        for (size_t i = 0; i < 2; i++)
            ok |= json_is_string(v) && strcmp(json_string_value(v), known_schema_uris[i]) == 0;
        if (!ok) {
            cfail(c, at, "\"$schema\" must be draft 2020-12 (%s)", known_schema_uris[0]);
            return -1;
        }
        return 0;
    }
    if (is_annotation(kw))
        return 0;
    if (IS("type"))
        return parse_type(c, s, at, v);
    if (IS("enum")) {
        if (!json_is_array(v)) {
            cfail(c, at, "\"enum\" must be an array");
            return -1;
        }
        s->enum_values = v;
        return 0;
    }
    if (IS("const")) {
        s->const_value = v;
        return 0;
    }
    if (IS("minimum") || IS("maximum") || IS("exclusiveMinimum") || IS("exclusiveMaximum") ||
        IS("multipleOf")) {
        if (!json_is_number(v) || (IS("multipleOf") && num_value(v) <= 0)) {
            cfail(c, at, "\"%s\" must be a %snumber", kw, IS("multipleOf") ? "positive " : "");
            return -1;
        }
        if (IS("minimum"))
            s->minimum = v;
        else if (IS("maximum"))
            s->maximum = v;
        else if (IS("exclusiveMinimum"))
            s->exclusive_minimum = v;
        else if (IS("exclusiveMaximum"))
            s->exclusive_maximum = v;
        else
            s->multiple_of = v;
        return 0;
    }
    if (IS("minLength"))
        return kw_non_negative(c, at, kw, v, &s->min_length);
    if (IS("maxLength"))
        return kw_non_negative(c, at, kw, v, &s->max_length);
    if (IS("minItems"))
        return kw_non_negative(c, at, kw, v, &s->min_items);
    if (IS("maxItems"))
        return kw_non_negative(c, at, kw, v, &s->max_items);
    if (IS("minProperties"))
        return kw_non_negative(c, at, kw, v, &s->min_properties);
    if (IS("maxProperties"))
        return kw_non_negative(c, at, kw, v, &s->max_properties);
    if (IS("minContains"))
        return kw_non_negative(c, at, kw, v, &s->min_contains);
    if (IS("maxContains"))
        return kw_non_negative(c, at, kw, v, &s->max_contains);
    if (IS("uniqueItems")) {
        if (!json_is_boolean(v)) {
            cfail(c, at, "\"uniqueItems\" must be a boolean");
            return -1;
        }
        s->unique_items = json_is_true(v);
        return 0;
    }
    if (IS("pattern")) {
        char rerr[256];
        if (!json_is_string(v)) {
            cfail(c, at, "\"pattern\" must be a string");
            return -1;
        }
        s->pattern =
            schema_regex_compile(json_string_value(v), json_string_length(v), rerr, sizeof rerr);
        s->pattern_source = json_string_value(v);
        if (!s->pattern) {
            cfail(c, at, "\"pattern\" is not a valid regular expression: %s", rerr);
            return -1;
        }
        return 0;
    }
    if (IS("format")) {
        if (!json_is_string(v)) {
            cfail(c, at, "\"format\" must be a string");
            return -1;
        }
        s->format = schema_format_lookup(json_string_value(v));
        return 0;
    }
    if (IS("properties"))
        return kw_schema_map(c, s, at, kw, v, &s->props, &s->nprops);
    if (IS("patternProperties")) {
        struct prop *tmp = NULL;
        size_t n = 0;
        int rc = kw_schema_map(c, s, at, kw, v, &tmp, &n);
        s->pattern_props = calloc(n + 1, sizeof *s->pattern_props);
        if (!s->pattern_props) {
            free(tmp);
            cfail(c, at, "out of memory");
            return -1;
        }
        for (size_t i = 0; rc == 0 && i < n; i++) {
            char rerr[256];
            s->pattern_props[i].source = tmp[i].name;
            s->pattern_props[i].node = tmp[i].node;
            s->pattern_props[i].re =
                schema_regex_compile(tmp[i].name, strlen(tmp[i].name), rerr, sizeof rerr);
            s->npattern_props = i + 1;
            if (!s->pattern_props[i].re) {
                cfail(c, at, "patternProperties: \"%s\" is not a valid regular expression: %s",
                      tmp[i].name, rerr);
                rc = -1;
            }
        }
        free(tmp);
        return rc;
    }
    if (IS("additionalProperties"))
        SUB(additional_properties);
    if (IS("propertyNames"))
        SUB(property_names);
    if (IS("unevaluatedProperties")) {
        s->needs_eval = 1;
        SUB(unevaluated_properties);
    }
    if (IS("required"))
        return kw_string_list(c, s, at, kw, v, &s->required, &s->nrequired);
    if (IS("dependentRequired")) {
        if (!json_is_object(v)) {
            cfail(c, at, "\"dependentRequired\" must be an object of string arrays");
            return -1;
        }
        s->dep_required = calloc(json_object_size(v) + 1, sizeof *s->dep_required);
        if (!s->dep_required) {
            cfail(c, at, "out of memory");
            return -1;
        }
        const char *k;
        json_t *list;
        json_object_foreach((json_t *)v, k, list)
        {
            struct dep_required *d = &s->dep_required[s->ndep_required++];
            d->name = k;
            if (kw_string_list(c, s, at, kw, list, &d->names, &d->n) != 0)
                return -1;
        }
        return 0;
    }
    if (IS("dependentSchemas"))
        return kw_schema_map(c, s, at, kw, v, &s->dep_schemas, &s->ndep_schemas);
    if (IS("prefixItems"))
        return kw_schema_list(c, s, at, kw, v, &s->prefix_items);
    if (IS("items"))
        SUB(items);
    if (IS("contains"))
        SUB(contains);
    if (IS("unevaluatedItems")) {
        s->needs_eval = 1;
        SUB(unevaluated_items);
    }
    if (IS("allOf"))
        return kw_schema_list(c, s, at, kw, v, &s->all_of);
    if (IS("anyOf"))
        return kw_schema_list(c, s, at, kw, v, &s->any_of);
    if (IS("oneOf"))
        return kw_schema_list(c, s, at, kw, v, &s->one_of);
    if (IS("not"))
        SUB(not_);
    if (IS("if"))
        SUB(if_);
    if (IS("then"))
        SUB(then_);
    if (IS("else"))
        SUB(else_);
    if (IS("$ref") || IS("$dynamicRef")) {
        if (!json_is_string(v)) {
            cfail(c, at, "\"%s\" must be a string", kw);
            return -1;
        }
        char *uri = schema_uri_resolve(s->base, json_string_value(v));
        if (!uri) {
            cfail(c, at, "\"%s\" cannot be resolved against base URI %s", kw, s->base);
            return -1;
        }
        if (IS("$ref"))
            s->ref_uri = strip_empty_fragment(uri);
        else
            s->dynamic_ref_uri = strip_empty_fragment(uri);
        return 0;
    }
    cfail(c, at, "unknown keyword \"%s\": the validator refuses keywords it does not implement",
          kw);
    return -1;
#undef IS
#undef SUB
}

/* Compiles one keyword; errors name the keyword's own JSON pointer. */
static int compile_keyword(struct compiler *c, struct schema *s, const char *kw, const json_t *v)
{
    char *at = extend_where(s->where, kw);
    if (!at) {
        cfail(c, s->where, "out of memory");
        return -1;
    }
    int rc = compile_keyword_at(c, s, kw, v, at);
    free(at);
    return rc;
}

static int valid_anchor(const char *a)
{
    if (!((a[0] >= 'A' && a[0] <= 'Z') || (a[0] >= 'a' && a[0] <= 'z') || a[0] == '_'))
        return 0;
    for (const char *p = a + 1; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

static int register_anchor(struct compiler *c, struct schema *s, const char *name, int dynamic)
{
    size_t n = strlen(s->base) + strlen(name) + 2;
    char *key = malloc(n);
    if (!key) {
        cfail(c, s->where, "out of memory");
        return -1;
    }
    snprintf(key, n, "%s#%s", s->base, name);
    int rc = map_put(&c->reg->anchors, key, s);
    if (rc == 1 && map_get(&c->reg->anchors, key) != s) {
        cfail(c, s->where, "anchor \"%s\" is defined twice in %s", name, s->base);
        rc = -1;
    } else if (rc == 0 && dynamic) {
        rc = map_put(&c->reg->dynamic, key, s) < 0 ? -1 : 0;
    }
    free(key);
    return rc < 0 ? -1 : 0;
}

static struct schema *new_node(struct compiler *c, const json_t *json, const char *base,
                               const char *where)
{
    struct schema_registry *reg = c->reg;
    if (reg->nnodes == reg->cap_nodes) {
        size_t cap = reg->cap_nodes ? reg->cap_nodes * 2 : 64;
        struct schema **grown = realloc(reg->nodes, cap * sizeof *grown);
        if (!grown)
            return NULL;
        reg->nodes = grown;
        reg->cap_nodes = cap;
    }
    struct schema *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->json = json;
    s->reg = reg;
    s->boolean = json_is_boolean(json) ? json_is_true(json) : -1;
    s->base = strdup(base);
    s->where = strdup(where);
    s->min_length = s->min_items = s->min_properties = s->min_contains = -1;
    s->max_length = s->max_items = s->max_properties = s->max_contains = -1;
    reg->nodes[reg->nnodes++] = s;
    if (!s->base || !s->where || map_put(&reg->by_json, ptr_key(json).text, s) != 0)
        return NULL;
    return s;
}

static struct schema *compile_node(struct compiler *c, const json_t *json, const char *base,
                                   const char *where)
{
    if (c->failed)
        return NULL;
    struct schema *s = map_get(&c->reg->by_json, ptr_key(json).text);
    if (s)
        return s;
    if (!json_is_object(json) && !json_is_boolean(json)) {
        cfail(c, where, "a schema must be an object or a boolean");
        return NULL;
    }
    char *own_base = NULL;
    const json_t *id = json_is_object(json) ? json_object_get(json, "$id") : NULL;
    if (id) {
        const char *hash = json_is_string(id) ? strchr(json_string_value(id), '#') : NULL;
        if (!json_is_string(id) || (hash && hash[1])) {
            cfail(c, where, "\"$id\" must be a URI reference without a fragment");
            return NULL;
        }
        own_base = schema_uri_resolve(base, json_string_value(id));
        if (!own_base) {
            cfail(c, where, "\"$id\" cannot be resolved against base URI %s", base);
            return NULL;
        }
        strip_empty_fragment(own_base);
    }
    s = new_node(c, json, own_base ? own_base : base, where);
    if (!s) {
        free(own_base);
        cfail(c, where, "out of memory");
        return NULL;
    }
    if (own_base) {
        s->is_resource = 1;
        int rc = map_put(&c->reg->resources, own_base, s);
        if (rc < 0)
            cfail(c, where, "out of memory");
        else if (rc == 1 && map_get(&c->reg->resources, own_base) != s)
            cfail(c, where, "two schemas have the same $id %s", own_base);
        free(own_base);
        if (c->failed)
            return NULL;
    }
    if (s->boolean >= 0)
        return s;

    const json_t *anchor = json_object_get(json, "$anchor");
    if (anchor) {
        if (!json_is_string(anchor) || !valid_anchor(json_string_value(anchor))) {
            cfail(c, where,
                  "\"$anchor\" must be a plain name (letter or _, then letters, digits, - _ .)");
            return NULL;
        }
        if (register_anchor(c, s, json_string_value(anchor), 0) != 0)
            return NULL;
    }
    const json_t *danchor = json_object_get(json, "$dynamicAnchor");
    if (danchor) {
        if (!json_is_string(danchor) || !valid_anchor(json_string_value(danchor))) {
            cfail(c, where, "\"$dynamicAnchor\" must be a plain name");
            return NULL;
        }
        s->dynamic_anchor = json_string_value(danchor);
        if (register_anchor(c, s, s->dynamic_anchor, 1) != 0)
            return NULL;
    }
    const json_t *defs = json_object_get(json, "$defs");
    if (defs) {
        if (!json_is_object(defs)) {
            cfail(c, where, "\"$defs\" must be an object of schemas");
            return NULL;
        }
        const char *k;
        json_t *sub;
        json_object_foreach((json_t *)defs, k, sub)
        {
            if (!compile_sub2(c, sub, s, "$defs", k))
                return NULL;
        }
    }
    const char *kw;
    json_t *v;
    json_object_foreach((json_t *)json, kw, v)
    {
        if (compile_keyword(c, s, kw, v) != 0) {
            if (!c->failed)
                cfail(c, where, "keyword \"%s\" is invalid", kw);
            return NULL;
        }
    }
    return s;
}

/* Finds the node a resolved absolute URI names, compiling a subschema found
 * by JSON pointer if no keyword reached it. */
static struct schema *lookup(struct compiler *c, const char *uri)
{
    const char *hash = strchr(uri, '#');
    size_t blen = hash ? (size_t)(hash - uri) : strlen(uri);
    char *base = strndup(uri, blen);
    if (!base)
        return NULL;
    struct schema *root = map_get(&c->reg->resources, base);
    struct schema *found = NULL;
    if (!root || !hash || !hash[1]) {
        found = root;
    } else if (hash[1] != '/') {
        found = map_get(&c->reg->anchors, uri);
    } else {
        /* JSON pointer, percent-decoded, then ~1 and ~0. */
        const json_t *cur = root->json;
        char *where = strdup(root->where);
        const char *p = hash + 1;
        while (cur && where && *p == '/') {
            p++;
            char seg[1024];
            size_t n = 0;
            while (*p && *p != '/' && n < sizeof seg - 1) {
                if (p[0] == '%' && p[1] && p[2]) {
                    char hex[3] = {p[1], p[2], 0};
                    seg[n++] = (char)strtol(hex, NULL, 16);
                    p += 3;
                } else if (p[0] == '~' && p[1] == '1') {
                    seg[n++] = '/';
                    p += 2;
                } else if (p[0] == '~' && p[1] == '0') {
                    seg[n++] = '~';
                    p += 2;
                } else {
                    seg[n++] = *p++;
                }
            }
            seg[n] = '\0';
            if (json_is_object(cur)) {
                cur = json_object_get(cur, seg);
            } else if (json_is_array(cur)) {
                char *end;
                long idx = strtol(seg, &end, 10);
                cur = (*end || n == 0 || idx < 0) ? NULL : json_array_get(cur, (size_t)idx);
            } else {
                cur = NULL;
            }
            char *next = where ? extend_where(where, seg) : NULL;
            free(where);
            where = next;
        }
        if (cur && where) {
            found = map_get(&c->reg->by_json, ptr_key(cur).text);
            if (!found)
                found = compile_node(c, cur, root->base, where);
        }
        free(where);
    }
    free(base);
    return found;
}

/* Binds every $ref and $dynamicRef; repeats while binding compiles new nodes. */
static int bind_refs(struct compiler *c)
{
    for (size_t i = 0; i < c->reg->nnodes && !c->failed; i++) {
        struct schema *s = c->reg->nodes[i];
        if (s->ref_uri && !s->ref) {
            s->ref = lookup(c, s->ref_uri);
            if (!s->ref && !c->failed)
                cfail(c, s->where, "$ref \"%s\" does not resolve to a schema in the registry",
                      s->ref_uri);
        }
        if (s->dynamic_ref_uri && !s->dynamic_ref) {
            s->dynamic_ref = lookup(c, s->dynamic_ref_uri);
            if (!s->dynamic_ref && !c->failed)
                cfail(c, s->where,
                      "$dynamicRef \"%s\" does not resolve to a schema in the registry",
                      s->dynamic_ref_uri);
            const char *frag = strchr(s->dynamic_ref_uri, '#');
            /* Dynamic only when the fragment is a name and the static
             * target carries the same $dynamicAnchor (the "bookend"). */
            if (s->dynamic_ref && frag && frag[1] && frag[1] != '/' &&
                s->dynamic_ref->dynamic_anchor &&
                strcmp(s->dynamic_ref->dynamic_anchor, frag + 1) == 0)
                s->dynamic_ref_name = s->dynamic_ref->dynamic_anchor;
        }
    }
    return c->failed ? -1 : 0;
}

struct schema_registry *schema_registry_new(void)
{
    return calloc(1, sizeof(struct schema_registry));
}

static void node_free(struct schema *s)
{
    free(s->base);
    free(s->where);
    schema_regex_free(&s->pattern);
    free(s->props);
    for (size_t i = 0; i < s->npattern_props; i++)
        schema_regex_free(&s->pattern_props[i].re);
    free(s->pattern_props);
    free(s->required);
    for (size_t i = 0; i < s->ndep_required; i++)
        free(s->dep_required[i].names);
    free(s->dep_required);
    free(s->dep_schemas);
    free(s->prefix_items.v);
    free(s->all_of.v);
    free(s->any_of.v);
    free(s->one_of.v);
    free(s->ref_uri);
    free(s->dynamic_ref_uri);
    free(s);
}

void schema_registry_free(struct schema_registry **self_p)
{
    struct schema_registry *reg = *self_p;
    if (!reg)
        return;
    for (size_t i = 0; i < reg->nnodes; i++)
        node_free(reg->nodes[i]);
    free(reg->nodes);
    for (size_t i = 0; i < reg->ndocs; i++) {
        json_decref(reg->docs[i]);
        free(reg->doc_uris[i]);
    }
    free(reg->docs);
    free(reg->doc_uris);
    map_free(&reg->resources);
    map_free(&reg->anchors);
    map_free(&reg->dynamic);
    map_free(&reg->by_json);
    free(reg);
    *self_p = NULL;
}

int schema_registry_add(struct schema_registry *reg, json_t *doc, const char *base_uri, char *err,
                        size_t errlen)
{
    char anon[64];
    if (reg->compiled) {
        snprintf(err, errlen, "the registry is already compiled");
        return -1;
    }
    if (!json_is_object(doc) && !json_is_boolean(doc)) {
        snprintf(err, errlen, "a schema must be an object or a boolean");
        return -1;
    }
    if (!base_uri) {
        snprintf(anon, sizeof anon, "urn:ketenhub:schema:%u", reg->next_anon++);
        base_uri = anon;
    }
    if (!schema_uri_is_absolute(base_uri)) {
        snprintf(err, errlen, "base URI \"%s\" is not absolute", base_uri);
        return -1;
    }
    json_t **docs = realloc(reg->docs, (reg->ndocs + 1) * sizeof *docs);
    if (docs)
        reg->docs = docs;
    char **uris = realloc(reg->doc_uris, (reg->ndocs + 1) * sizeof *uris);
    if (uris)
        reg->doc_uris = uris;
    char *uri = strdup(base_uri);
    if (!docs || !uris || !uri) {
        free(uri);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    strip_empty_fragment(uri);
    reg->docs[reg->ndocs] = json_incref(doc);
    reg->doc_uris[reg->ndocs] = uri;
    reg->ndocs++;
    return 0;
}

int schema_registry_compile(struct schema_registry *reg, char *err, size_t errlen)
{
    struct compiler c = {reg, err, errlen, 0};
    if (reg->compiled) {
        snprintf(err, errlen, "the registry is already compiled");
        return -1;
    }
    for (size_t i = 0; i < reg->ndocs && !c.failed; i++) {
        const char *uri = reg->doc_uris[i];
        char where[2048];
        snprintf(where, sizeof where, "%s#", uri);
        struct schema *root = compile_node(&c, reg->docs[i], uri, where);
        /* A document is also known by the URI it was added under (its
         * retrieval URI), as a $ref from another document may use it. */
        int rc = root ? map_put(&reg->resources, uri, root) : 0;
        if (rc < 0)
            cfail(&c, where, "out of memory");
        else if (rc == 1 && map_get(&reg->resources, uri) != root)
            cfail(&c, where, "two schema documents are both known as %s", uri);
        if (root)
            root->is_resource = 1;
    }
    if (!c.failed)
        bind_refs(&c);
    if (c.failed)
        return -1;
    reg->compiled = 1;
    return 0;
}

const struct schema *schema_registry_get(const struct schema_registry *reg, const char *uri)
{
    if (!reg->compiled)
        return NULL;
    const char *hash = strchr(uri, '#');
    if (!hash || !hash[1]) {
        char *base = hash ? strndup(uri, (size_t)(hash - uri)) : strdup(uri);
        const struct schema *s = base ? map_get(&reg->resources, base) : NULL;
        free(base);
        return s;
    }
    if (hash[1] != '/')
        return map_get(&reg->anchors, uri);
    /* A JSON pointer: only nodes that compilation reached. */
    char *base = strndup(uri, (size_t)(hash - uri));
    const struct schema *root = base ? map_get(&reg->resources, base) : NULL;
    free(base);
    if (!root)
        return NULL;
    size_t rl = strlen(root->where);
    size_t pl = strlen(hash + 1);
    for (size_t i = 0; i < reg->nnodes; i++) {
        const struct schema *s = reg->nodes[i];
        if (strlen(s->where) == rl + pl && strncmp(s->where, root->where, rl) == 0 &&
            strcmp(s->where + rl, hash + 1) == 0)
            return s;
    }
    return NULL;
}

/* ----------------------------------------------------------- validate */

/* Which members of the current instance some subschema evaluated. */
struct evaluated {
    size_t n;
    uint64_t *bits;
    uint64_t inline_bits[4];
    int all;
};

static int eval_init(struct evaluated *e, size_t n)
{
    memset(e, 0, sizeof *e);
    e->n = n;
    if (n <= 256) {
        e->bits = e->inline_bits;
        return 0;
    }
    e->bits = calloc((n + 63) / 64, sizeof *e->bits);
    return e->bits ? 0 : -1;
}

static void eval_done(struct evaluated *e)
{
    if (e->bits && e->bits != e->inline_bits)
        free(e->bits);
    e->bits = NULL;
}

static void eval_mark(struct evaluated *e, size_t i)
{
    if (e && i < e->n)
        e->bits[i / 64] |= 1ull << (i % 64);
}

static int eval_has(const struct evaluated *e, size_t i)
{
    return e->all || (e->bits[i / 64] >> (i % 64)) & 1;
}

static void eval_merge(struct evaluated *into, const struct evaluated *from)
{
    if (!into)
        return;
    if (from->all)
        into->all = 1;
    for (size_t i = 0; i < (into->n + 63) / 64; i++)
        into->bits[i] |= from->bits[i];
}

struct vctx {
    json_t *errors;
    size_t max_errors;
    int quiet; /* > 0 inside anyOf/oneOf/not/if/contains: no error objects */
    int stop;  /* max_errors reached: the verdict is final */
    int depth;
    char *path; /* JSON pointer of the current instance */
    size_t path_len, path_cap;
    const char **scope; /* dynamic scope: base URIs of resources entered */
    size_t nscope, cap_scope;
    int oom;
};

static void path_push(struct vctx *v, const char *seg, size_t *saved)
{
    *saved = v->path_len;
    size_t need = v->path_len + 2 * strlen(seg) + 2;
    if (need > v->path_cap || !v->path) {
        size_t cap = need * 2;
        char *p = realloc(v->path, cap);
        if (!p) {
            v->oom = 1;
            return;
        }
        v->path = p;
        v->path_cap = cap;
    }
    char *o = v->path + v->path_len;
    *o++ = '/';
    for (const char *c = seg; *c; c++) {
        if (*c == '~' || *c == '/') {
            *o++ = '~';
            *o++ = *c == '~' ? '0' : '1';
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    v->path_len = (size_t)(o - v->path);
}

static void path_push_index(struct vctx *v, size_t i, size_t *saved)
{
    char seg[32];
    snprintf(seg, sizeof seg, "%zu", i);
    path_push(v, seg, saved);
}

static void path_pop(struct vctx *v, size_t saved)
{
    v->path_len = saved;
    if (v->path)
        v->path[saved] = '\0';
}

static void verror(struct vctx *v, const char *keyword, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records one failure. Always returns 0 (invalid), for `return verror(...)`. */
static void verror(struct vctx *v, const char *keyword, const char *fmt, ...)
{
    if (v->quiet || !v->errors || v->stop)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "path", json_string(v->path ? v->path : ""));
    json_object_set_new(e, "keyword", json_string(keyword));
    json_t *m = json_string(msg);
    json_object_set_new(e, "message", m ? m : json_string("invalid value"));
    json_array_append_new(v->errors, e);
    if (v->max_errors && json_array_size(v->errors) >= v->max_errors)
        v->stop = 1;
}

/* Whether failing now is final: nobody needs more errors or annotations. */
#define FAST(v, ev) ((void)(ev), (v)->quiet || !(v)->errors || (v)->stop)

static int validate(struct vctx *v, const struct schema *s, const json_t *inst,
                    struct evaluated *ev);

/* Validates `inst` against `s` with errors suppressed; the verdict only. */
static int quietly(struct vctx *v, const struct schema *s, const json_t *inst, struct evaluated *ev)
{
    v->quiet++;
    int ok = validate(v, s, inst, ev);
    v->quiet--;
    return ok;
}

/* Validates a member/element of the current instance at a child path. */
static int validate_child(struct vctx *v, const struct schema *s, const json_t *child,
                          const char *key, size_t index)
{
    size_t saved;
    if (key)
        path_push(v, key, &saved);
    else
        path_push_index(v, index, &saved);
    int ok = validate(v, s, child, NULL);
    path_pop(v, saved);
    return ok;
}

/* In-place applicator: validates `inst` against `sub` and, when it passes,
 * merges what it evaluated into `ev`. */
static int apply_in_place(struct vctx *v, const struct schema *sub, const json_t *inst,
                          struct evaluated *ev, int quiet)
{
    struct evaluated local;
    struct evaluated *lp = NULL;
    if (ev) {
        if (eval_init(&local, ev->n) != 0) {
            v->oom = 1;
            return 0;
        }
        lp = &local;
    }
    int ok = quiet ? quietly(v, sub, inst, lp) : validate(v, sub, inst, lp);
    if (ok && lp)
        eval_merge(ev, lp);
    if (lp)
        eval_done(lp);
    return ok;
}

static int check_number(struct vctx *v, const struct schema *s, const json_t *inst)
{
    int ok = 1;
    char a[80], b[80];
    if (s->minimum && num_cmp(inst, s->minimum) < 0) {
        describe(inst, a, sizeof a), describe(s->minimum, b, sizeof b);
        verror(v, "minimum", "value %s is less than the minimum %s", a, b);
        ok = 0;
    }
    if (s->maximum && num_cmp(inst, s->maximum) > 0) {
        describe(inst, a, sizeof a), describe(s->maximum, b, sizeof b);
        verror(v, "maximum", "value %s is greater than the maximum %s", a, b);
        ok = 0;
    }
    if (s->exclusive_minimum && num_cmp(inst, s->exclusive_minimum) <= 0) {
        describe(inst, a, sizeof a), describe(s->exclusive_minimum, b, sizeof b);
        verror(v, "exclusiveMinimum", "value %s must be greater than %s", a, b);
        ok = 0;
    }
    if (s->exclusive_maximum && num_cmp(inst, s->exclusive_maximum) >= 0) {
        describe(inst, a, sizeof a), describe(s->exclusive_maximum, b, sizeof b);
        verror(v, "exclusiveMaximum", "value %s must be less than %s", a, b);
        ok = 0;
    }
    if (s->multiple_of) {
        int multiple;
        if (json_is_integer(inst) && json_is_integer(s->multiple_of)) {
            multiple = json_integer_value(inst) % json_integer_value(s->multiple_of) == 0;
        } else {
            /* In double on purpose: a quotient past DBL_MAX is no multiple,
             * and past 2^53 every double is a whole number. */
            double q = (double)num_value(inst) / (double)num_value(s->multiple_of);
            multiple = isfinite(q) && fabs(q - round(q)) < 1e-9;
        }
        if (!multiple) {
            describe(inst, a, sizeof a), describe(s->multiple_of, b, sizeof b);
            verror(v, "multipleOf", "value %s is not a multiple of %s", a, b);
            ok = 0;
        }
    }
    return ok;
}

static int check_string(struct vctx *v, const struct schema *s, const json_t *inst)
{
    int ok = 1;
    const char *str = json_string_value(inst);
    size_t bytes = json_string_length(inst);
    if (s->min_length >= 0 || s->max_length >= 0) {
        size_t n = utf8_length(str, bytes);
        if (s->min_length >= 0 && (long long)n < s->min_length) {
            verror(v, "minLength", "string is %zu characters, shorter than the minimum %lld", n,
                   s->min_length);
            ok = 0;
        }
        if (s->max_length >= 0 && (long long)n > s->max_length) {
            verror(v, "maxLength", "string is %zu characters, longer than the maximum %lld", n,
                   s->max_length);
            ok = 0;
        }
    }
    if (s->pattern && (ok || !FAST(v, NULL))) {
        int m = schema_regex_match(s->pattern, str, bytes);
        if (m != 1) {
            verror(v, "pattern",
                   m < 0 ? "string could not be matched against pattern %s"
                         : "string does not match the pattern %s",
                   s->pattern_source);
            ok = 0;
        }
    }
    if (s->format != SCHEMA_FORMAT_NONE && !schema_format_check(s->format, str, bytes)) {
        verror(v, "format", "string is not a valid %s", schema_format_describe(s->format));
        ok = 0;
    }
    return ok;
}

static const struct schema *find_prop(const struct schema *s, const char *name)
{
    size_t lo = 0, hi = s->nprops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, s->props[mid].name);
        if (c == 0)
            return s->props[mid].node;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int check_object(struct vctx *v, const struct schema *s, const json_t *inst,
                        struct evaluated *ev)
{
    int ok = 1;
    size_t size = json_object_size(inst);
    if (s->min_properties >= 0 && (long long)size < s->min_properties) {
        verror(v, "minProperties", "object has %zu properties, fewer than the minimum %lld", size,
               s->min_properties);
        ok = 0;
    }
    if (s->max_properties >= 0 && (long long)size > s->max_properties) {
        verror(v, "maxProperties", "object has %zu properties, more than the maximum %lld", size,
               s->max_properties);
        ok = 0;
    }
    for (size_t i = 0; i < s->nrequired; i++) {
        if (!json_object_get(inst, s->required[i])) {
            verror(v, "required", "required property \"%s\" is missing", s->required[i]);
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    for (size_t i = 0; i < s->ndep_required; i++) {
        const struct dep_required *d = &s->dep_required[i];
        if (!json_object_get(inst, d->name))
            continue;
        for (size_t j = 0; j < d->n; j++) {
            if (!json_object_get(inst, d->names[j])) {
                verror(v, "dependentRequired", "property \"%s\" is required when \"%s\" is present",
                       d->names[j], d->name);
                ok = 0;
            }
        }
    }
    if (!ok && FAST(v, ev))
        return 0;
    int walk = s->nprops || s->npattern_props || s->additional_properties || s->property_names;
    if (walk) {
        const char *key;
        json_t *value;
        size_t idx = 0;
        json_object_foreach((json_t *)inst, key, value)
        {
            int matched = 0;
            const struct schema *p = s->nprops ? find_prop(s, key) : NULL;
            if (p) {
                matched = 1;
                eval_mark(ev, idx);
                if (!validate_child(v, p, value, key, 0)) {
                    ok = 0;
                    if (FAST(v, ev))
                        return 0;
                }
            }
            for (size_t i = 0; i < s->npattern_props; i++) {
                const struct pattern_prop *pp = &s->pattern_props[i];
                int m = schema_regex_match(pp->re, key, strlen(key));
                if (m == 1) {
                    matched = 1;
                    eval_mark(ev, idx);
                    if (!validate_child(v, pp->node, value, key, 0)) {
                        ok = 0;
                        if (FAST(v, ev))
                            return 0;
                    }
                } else if (m < 0) {
                    ok = 0;
                    verror(v, "patternProperties", "property name could not be matched against %s",
                           pp->source);
                }
            }
            if (!matched && s->additional_properties) {
                eval_mark(ev, idx);
                if (s->additional_properties->boolean == 0) {
                    size_t saved;
                    path_push(v, key, &saved);
                    verror(v, "additionalProperties",
                           "property \"%s\" is not allowed (additionalProperties is false)", key);
                    path_pop(v, saved);
                    ok = 0;
                } else if (!validate_child(v, s->additional_properties, value, key, 0)) {
                    ok = 0;
                }
                if (!ok && FAST(v, ev))
                    return 0;
            }
            if (s->property_names) {
                json_t *name = json_stringn(key, strlen(key));
                int pn = name && quietly(v, s->property_names, name, NULL);
                json_decref(name);
                if (!pn) {
                    size_t saved;
                    path_push(v, key, &saved);
                    verror(v, "propertyNames", "property name \"%s\" is not allowed", key);
                    path_pop(v, saved);
                    ok = 0;
                    if (FAST(v, ev))
                        return 0;
                }
            }
            idx++;
        }
    }
    for (size_t i = 0; i < s->ndep_schemas; i++) {
        if (json_object_get(inst, s->dep_schemas[i].name) &&
            !apply_in_place(v, s->dep_schemas[i].node, inst, ev, 0)) {
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    return ok;
}

static int check_array(struct vctx *v, const struct schema *s, const json_t *inst,
                       struct evaluated *ev)
{
    int ok = 1;
    size_t size = json_array_size(inst);
    if (s->min_items >= 0 && (long long)size < s->min_items) {
        verror(v, "minItems", "array has %zu items, fewer than the minimum %lld", size,
               s->min_items);
        ok = 0;
    }
    if (s->max_items >= 0 && (long long)size > s->max_items) {
        verror(v, "maxItems", "array has %zu items, more than the maximum %lld", size,
               s->max_items);
        ok = 0;
    }
    if (s->unique_items) {
        for (size_t i = 1; i < size && ok; i++) {
            for (size_t j = 0; j < i; j++) {
                if (json_eq(json_array_get(inst, i), json_array_get(inst, j))) {
                    verror(v, "uniqueItems", "items %zu and %zu are equal; items must be unique", j,
                           i);
                    ok = 0;
                    break;
                }
            }
        }
    }
    if (!ok && FAST(v, ev))
        return 0;
    size_t i = 0;
    for (; i < size && i < s->prefix_items.n; i++) {
        eval_mark(ev, i);
        if (!validate_child(v, s->prefix_items.v[i], json_array_get(inst, i), NULL, i)) {
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    if (s->items) {
        for (; i < size; i++) {
            eval_mark(ev, i);
            if (s->items->boolean == 0) {
                size_t saved;
                path_push_index(v, i, &saved);
                verror(v, "items", "item %zu is not allowed (items is false)", i);
                path_pop(v, saved);
                ok = 0;
            } else if (!validate_child(v, s->items, json_array_get(inst, i), NULL, i)) {
                ok = 0;
            }
            if (!ok && FAST(v, ev))
                return 0;
        }
    }
    if (s->contains) {
        long long matches = 0;
        for (size_t k = 0; k < size; k++) {
            if (quietly(v, s->contains, json_array_get(inst, k), NULL)) {
                matches++;
                eval_mark(ev, k);
            }
        }
        long long min = s->min_contains >= 0 ? s->min_contains : 1;
        if (matches < min) {
            verror(v, s->min_contains >= 0 ? "minContains" : "contains",
                   "array has %lld items matching \"contains\", fewer than %lld", matches, min);
            ok = 0;
        }
        if (s->max_contains >= 0 && matches > s->max_contains) {
            verror(v, "maxContains", "array has %lld items matching \"contains\", more than %lld",
                   matches, s->max_contains);
            ok = 0;
        }
    }
    return ok;
}

/* Resolves $dynamicRef: the outermost resource in the dynamic scope that
 * defines the anchor wins; otherwise the static target. */
static const struct schema *dynamic_target(struct vctx *v, const struct schema *s)
{
    if (!s->dynamic_ref_name)
        return s->dynamic_ref;
    for (size_t i = 0; i < v->nscope; i++) {
        char key[2048];
        snprintf(key, sizeof key, "%s#%s", v->scope[i], s->dynamic_ref_name);
        const struct schema *t = map_get(&s->reg->dynamic, key);
        if (t)
            return t;
    }
    return s->dynamic_ref;
}

static int validate_applicators(struct vctx *v, const struct schema *s, const json_t *inst,
                                struct evaluated *ev);

static int validate(struct vctx *v, const struct schema *s, const json_t *inst,
                    struct evaluated *ev)
{
    if (v->stop)
        return 0;
    if (s->boolean >= 0) {
        if (s->boolean == 1)
            return 1; /* true asserts nothing and, unlike items/properties, annotates nothing */
        verror(v, "false", "no value is allowed here (the schema is false)");
        return 0;
    }
    if (++v->depth > MAX_DEPTH) {
        v->depth--;
        verror(v, "$ref", "schema or instance nesting deeper than %d levels", MAX_DEPTH);
        return 0;
    }
    int pushed = 0;
    if (s->is_resource || v->nscope == 0 || strcmp(v->scope[v->nscope - 1], s->base) != 0) {
        if (v->nscope == v->cap_scope) {
            size_t cap = v->cap_scope ? v->cap_scope * 2 : 16;
            const char **grown = realloc(v->scope, cap * sizeof *grown);
            if (!grown) {
                v->oom = 1;
                v->depth--;
                return 0;
            }
            v->scope = grown;
            v->cap_scope = cap;
        }
        v->scope[v->nscope++] = s->base;
        pushed = 1;
    }
    struct evaluated own;
    struct evaluated *evp = ev;
    int own_used = 0;
    if (s->needs_eval && !ev) {
        size_t n = json_is_object(inst)  ? json_object_size(inst)
                   : json_is_array(inst) ? json_array_size(inst)
                                         : 0;
        if (eval_init(&own, n) != 0) {
            v->oom = 1;
            v->depth--;
            return 0;
        }
        evp = &own;
        own_used = 1;
    }
    int ok = validate_applicators(v, s, inst, evp);
    if (own_used)
        eval_done(&own);
    if (pushed)
        v->nscope--;
    v->depth--;
    return ok;
}

static int validate_applicators(struct vctx *v, const struct schema *s, const json_t *inst,
                                struct evaluated *ev)
{
    int ok = 1;
    char a[80];
    if (s->types) {
        unsigned t = 0;
        switch (json_typeof(inst)) {
        case JSON_OBJECT:
            t = T_OBJECT;
            break;
        case JSON_ARRAY:
            t = T_ARRAY;
            break;
        case JSON_STRING:
            t = T_STRING;
            break;
        case JSON_INTEGER:
            t = T_NUMBER | T_INTEGER;
            break;
        case JSON_REAL:
            t = T_NUMBER | (is_integer_value(inst) ? T_INTEGER : 0);
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            t = T_BOOLEAN;
            break;
        case JSON_NULL:
            t = T_NULL;
            break;
        }
        if (!(s->types & t)) {
            char want[128] = "";
            static const char *const names[] = {"null",   "boolean", "object", "array",
                                                "number", "string",  "integer"};
            for (int i = 0; i < 7; i++) {
                if (s->types & (1u << i)) {
                    size_t l = strlen(want);
                    snprintf(want + l, sizeof want - l, "%s%s", l ? " or " : "", names[i]);
                }
            }
            verror(v, "type", "value is %s %s, expected %s",
                   strcmp(type_name_of(inst), "integer") == 0 ||
                           strcmp(type_name_of(inst), "array") == 0 ||
                           strcmp(type_name_of(inst), "object") == 0
                       ? "an"
                       : "a",
                   type_name_of(inst), want);
            return 0;
        }
    }
    if (s->const_value && !json_eq(inst, s->const_value)) {
        char b[80];
        describe(inst, a, sizeof a);
        describe(s->const_value, b, sizeof b);
        verror(v, "const", "value %s is not the required value %s", a, b);
        ok = 0;
    }
    if (s->enum_values) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(s->enum_values) && !found; i++)
            found = json_eq(inst, json_array_get(s->enum_values, i));
        if (!found) {
            char list[200] = "";
            for (size_t i = 0; i < json_array_size(s->enum_values); i++) {
                char item[80];
                size_t l = strlen(list);
                describe(json_array_get(s->enum_values, i), item, sizeof item);
                if (l + strlen(item) + 8 >= sizeof list) {
                    snprintf(list + l, sizeof list - l, ", ...");
                    break;
                }
                snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", item);
            }
            describe(inst, a, sizeof a);
            verror(v, "enum", "value %s is not one of %s", a, list);
            ok = 0;
        }
    }
    if (!ok && FAST(v, ev))
        return 0;
    if (json_is_number(inst))
        ok &= check_number(v, s, inst);
    else if (json_is_string(inst))
        ok &= check_string(v, s, inst);
    else if (json_is_object(inst))
        ok &= check_object(v, s, inst, ev);
    else if (json_is_array(inst))
        ok &= check_array(v, s, inst, ev);
    if (!ok && FAST(v, ev))
        return 0;

    if (s->ref && !apply_in_place(v, s->ref, inst, ev, 0)) {
        ok = 0;
        if (FAST(v, ev))
            return 0;
    }
    if (s->dynamic_ref && !apply_in_place(v, dynamic_target(v, s), inst, ev, 0)) {
        ok = 0;
        if (FAST(v, ev))
            return 0;
    }
    for (size_t i = 0; i < s->all_of.n; i++) {
        if (!apply_in_place(v, s->all_of.v[i], inst, ev, 0)) {
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    if (s->any_of.n) {
        int any = 0;
        for (size_t i = 0; i < s->any_of.n; i++) {
            if (apply_in_place(v, s->any_of.v[i], inst, ev, 1)) {
                any = 1;
                if (!ev)
                    break; /* annotations need every passing branch */
            }
        }
        if (!any) {
            verror(v, "anyOf", "value matches none of the %zu schemas in anyOf", s->any_of.n);
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    if (s->one_of.n) {
        size_t passed = 0, first = 0;
        for (size_t i = 0; i < s->one_of.n; i++) {
            if (apply_in_place(v, s->one_of.v[i], inst, ev, 1)) {
                if (passed++ == 0)
                    first = i;
            }
        }
        if (passed != 1) {
            if (passed == 0)
                verror(v, "oneOf", "value matches none of the %zu schemas in oneOf", s->one_of.n);
            else
                verror(v, "oneOf",
                       "value matches %zu of the schemas in oneOf (%zu and more); "
                       "exactly one must match",
                       passed, first);
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    if (s->not_) {
        if (quietly(v, s->not_, inst, NULL)) {
            verror(v, "not", "value matches the schema in \"not\"");
            ok = 0;
            if (FAST(v, ev))
                return 0;
        }
    }
    if (s->if_) {
        if (apply_in_place(v, s->if_, inst, ev, 1)) {
            if (s->then_ && !apply_in_place(v, s->then_, inst, ev, 0)) {
                ok = 0;
            }
        } else if (s->else_ && !apply_in_place(v, s->else_, inst, ev, 0)) {
            ok = 0;
        }
        if (!ok && FAST(v, ev))
            return 0;
    }
    /* unevaluated* look at what everything above evaluated. */
    if (s->unevaluated_properties && json_is_object(inst)) {
        const char *key;
        json_t *value;
        size_t idx = 0;
        json_object_foreach((json_t *)inst, key, value)
        {
            if (!eval_has(ev, idx)) {
                if (s->unevaluated_properties->boolean == 0) {
                    size_t saved;
                    path_push(v, key, &saved);
                    verror(v, "unevaluatedProperties",
                           "property \"%s\" is not allowed (unevaluatedProperties is false)", key);
                    path_pop(v, saved);
                    ok = 0;
                } else if (!validate_child(v, s->unevaluated_properties, value, key, 0)) {
                    ok = 0;
                }
                if (!ok && FAST(v, NULL))
                    return 0;
            }
            idx++;
        }
        ev->all = 1;
    }
    if (s->unevaluated_items && json_is_array(inst)) {
        size_t n = json_array_size(inst);
        for (size_t i = 0; i < n; i++) {
            if (eval_has(ev, i))
                continue;
            if (s->unevaluated_items->boolean == 0) {
                size_t saved;
                path_push_index(v, i, &saved);
                verror(v, "unevaluatedItems", "item %zu is not allowed (unevaluatedItems is false)",
                       i);
                path_pop(v, saved);
                ok = 0;
            } else if (!validate_child(v, s->unevaluated_items, json_array_get(inst, i), NULL, i)) {
                ok = 0;
            }
            if (!ok && FAST(v, NULL))
                return 0;
        }
        ev->all = 1;
    }
    return ok;
}

void schema_thread_done(void)
{
    schema_regex_thread_done();
}

int schema_validate(const struct schema *schema, const json_t *instance, json_t *errors,
                    const char *path_prefix, size_t max_errors)
{
    struct vctx v = {0};
    v.errors = errors;
    v.max_errors = max_errors;
    size_t plen = path_prefix ? strlen(path_prefix) : 0;
    v.path_cap = plen + 256;
    v.path = malloc(v.path_cap);
    if (!v.path)
        return 0;
    memcpy(v.path, path_prefix ? path_prefix : "", plen);
    v.path[plen] = '\0';
    v.path_len = plen;
    if (errors)
        v.max_errors = max_errors ? json_array_size(errors) + max_errors : 0;
    int ok = validate(&v, schema, instance, NULL);
    if (v.oom) {
        ok = 0;
        verror(&v, "memory", "out of memory while validating");
    }
    free(v.path);
    free(v.scope);
    return ok;
}
