/*
 * care mapping - a care provider's system <-> canonical events.
 *
 *   hub -> care provider: the referral as a CloudEvent 1.0 in the HTTP
 *     binding's structured mode (Content-Type application/cloudevents+json),
 *     pushed by http-push;
 *   care provider -> hub: its answers over http-listen (POST /reacties):
 *     {"doorverwijzing", "actie": "ontvangen" | "accepteren" | "afwijzen" |
 *      "afronden", "reden"?, "uitkomst"?, "toelichting"?, "tijdstip"?, "id"?}
 *     -> doorverwijzing-ontvangen / -geaccepteerd / -afgewezen / -afgerond.
 *
 * Pure functions. docs/adapters.md "Care provider".
 */
#ifndef CARE_MAPPING_H
#define CARE_MAPPING_H

#include <jansson.h>

#include "adapter.h"

#define CARE_CONTENT_TYPE "application/cloudevents+json; charset=utf-8"

extern const struct adapter_mapping care_mapping;

int care_parse(const json_t *cfg, const struct adapter_input *in, json_t *items, json_t *errors);

/* 0 with out filled, 1 for anything but an offer, -1 with errors. */
int care_render(const json_t *cfg, const json_t *event, struct adapter_output *out, json_t *errors);

#endif
