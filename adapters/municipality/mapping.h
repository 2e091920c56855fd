/*
 * municipality mapping - the municipality's system <-> canonical events.
 *
 *   hub -> municipality: an information-poor notification in the shape of the
 *     VNG Notificaties API (kanaal, hoofdObject, resource, resourceUrl, actie,
 *     aanmaakdatum, kenmerken), pushed by http-push; the referral's details
 *     are fetched by the municipality with GET on resourceUrl (http-listen).
 *   municipality -> hub: responses (POST /reacties) and signals
 *     (POST /signalen), see partner_msg.h and docs/adapters.md.
 *
 * The functions below are pure (no I/O); `cfg` is the config's "mapping"
 * object. Errors as in adapter.h.
 */
#ifndef MUNICIPALITY_MAPPING_H
#define MUNICIPALITY_MAPPING_H

#include <jansson.h>

#include "adapter.h"

extern const struct adapter_mapping municipality_mapping;

int municipality_check_config(const json_t *cfg, const char *pointer, json_t *errors);

/* Input named by its request path ("/reacties" or "/signalen"). */
int municipality_parse(const json_t *cfg, const struct adapter_input *in, json_t *items,
                       json_t *errors);

/* 0 with out filled, 1 for events the municipality gets nothing for, -1. */
int municipality_render(const json_t *cfg, const json_t *event, struct adapter_output *out,
                        json_t *errors);

#endif
