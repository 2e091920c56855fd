/*
 * catalog - the schemas the hub validates with, loaded from the schemas folder.
 *
 * Every *.json file in the folder is added to one schema registry, so schemas
 * may $ref each other's $defs (shared definitions). Two names are special:
 * `cloudevent.json` validates the envelope of every event, and `<type>.json`
 * (e.g. nl.mensenhandel.signalen.signaal-geregistreerd.json) validates the
 * `data` of events of that type. A known type without its schema, or a schema
 * that does not compile, stops the hub at start-up. Does not log.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stddef.h>

#include "authz.h"
#include "schema.h"

struct catalog;

/* Loads and compiles the folder. Returns the catalog (caller frees), or NULL
 * with err naming the file and what is wrong. */
struct catalog *catalog_load(const char *dir, char *err, size_t errlen);

/* Frees the catalog and sets *self_p to NULL. */
void catalog_free(struct catalog **self_p);

/* The envelope schema; the catalog owns it. */
const struct schema *catalog_envelope(const struct catalog *cat);

/* The data schema of a known type; the catalog owns it. */
const struct schema *catalog_data(const struct catalog *cat, enum event_type type);

/* 1 if `name` is a top-level field of the signal's data schema, else 0. */
int catalog_signal_field(const struct catalog *cat, const char *name);

#endif
