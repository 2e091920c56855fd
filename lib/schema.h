/*
 * schema - a JSON Schema (draft 2020-12) validator on jansson.
 *
 * Schemas are compiled once when loaded (keywords checked, regexes compiled,
 * $ref targets resolved) and then validate any number of instances without
 * allocating per keyword. A schema that uses a keyword this validator does not
 * implement is refused at load time: fail closed, never silently ignored.
 *
 * A registry holds several schema documents keyed by their absolute URI ($id or
 * the base URI given when adding), so one document can $ref another (shared
 * definitions). Nothing is ever fetched from the network.
 *
 * Building a registry (add, compile) is single-threaded. A compiled registry is
 * read-only: any number of threads may validate against it at once; a thread
 * that validated and then ends calls schema_thread_done. Does not log: errors
 * go to the caller.
 */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <stddef.h>
#include <jansson.h>

struct schema_registry;
struct schema;

/* New empty registry. Caller owns it; free with schema_registry_free. */
struct schema_registry *schema_registry_new(void);

/* Frees the registry, every schema in it, and sets *self_p to NULL. */
void schema_registry_free(struct schema_registry **self_p);

/*
 * Adds one schema document. `base_uri` is used when the document has no $id
 * (may be NULL then a document without $id gets a unique internal URI).
 * Borrows `doc` (takes its own reference). Returns 0, or -1 with a message in
 * err naming the JSON pointer of the offending keyword inside the document.
 * References to other documents are resolved by schema_registry_compile.
 */
int schema_registry_add(struct schema_registry *reg, json_t *doc, const char *base_uri, char *err,
                        size_t errlen);

/*
 * Compiles every added document: checks all keywords, compiles patterns and
 * resolves every $ref. Must be called after the last add and before lookups.
 * Returns 0, or -1 with err naming the document URI and JSON pointer at fault.
 */
int schema_registry_compile(struct schema_registry *reg, char *err, size_t errlen);

/* The compiled schema at `uri` (absolute URI, optionally with a #fragment),
 * or NULL. The registry owns it; valid until the registry is freed. */
const struct schema *schema_registry_get(const struct schema_registry *reg, const char *uri);

/*
 * Validates `instance` against `schema`. Appends one object per failure to
 * `errors` (a JSON array the caller owns), each
 *   {"path": "<JSON pointer into the instance>", "keyword": "<keyword>",
 *    "message": "<human text>"}
 * with `path_prefix` (may be NULL or "") put before each path, so a caller
 * validating event["data"] can pass "/data". Stops adding after `max_errors`
 * (0 = no limit) but still returns the verdict. `errors` may be NULL when only
 * the verdict is wanted. Returns 1 if valid, 0 if invalid.
 */
int schema_validate(const struct schema *schema, const json_t *instance, json_t *errors,
                    const char *path_prefix, size_t max_errors);

/* Frees what validation keeps per thread (regex match data). */
void schema_thread_done(void);

#endif
