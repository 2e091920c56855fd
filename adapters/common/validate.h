/*
 * validate - checks an event against the hub's own schemas before it goes
 * into the outbox, so a partner hears about a bad record at once (its file
 * goes to failed/, its POST gets a 4xx) instead of after a round trip to the
 * hub. The hub validates again: this is a courtesy, not the gate.
 *
 * Loads every *.json of a schemas folder (the hub's schemas/) into one
 * lib/schema registry: cloudevent.json for the envelope, <type>.json for
 * each type's data. Does not log.
 */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stddef.h>
#include <jansson.h>

struct validator;

/* Loads and compiles the folder. Caller frees. NULL with err filled. */
struct validator *validator_load(const char *dir, char *err, size_t errlen);

/* Frees and sets *self_p to NULL. */
void validator_free(struct validator **self_p);

/*
 * Validates envelope and data. Appends the hub's kind of error objects
 * (paths into the event, e.g. "/data/urgentie") to errors. A type without a
 * schema in the folder is an error at "/type". Returns 1 valid, 0 invalid.
 */
int validator_check(const struct validator *v, const json_t *event, json_t *errors);

#endif
