/*
 * comensha mapping - registration records for CoMensha, the national
 * coordination centre against human trafficking.
 *
 *   hub -> CoMensha: a referral becomes a registration record (the documented
 *     format in docs/adapters.md "CoMensha": only what registration needs),
 *     pushed by http-push, and only when the person consented
 *     (signaal.toestemming.registratieCoMensha) or the reporting partner has
 *     a legal duty to report (data.melder.rol in legal_duty_roles; the hub
 *     does not send melder yet). Otherwise nothing is sent (render 1).
 *   CoMensha -> hub: its 2xx answer (http-push "receipt_event") becomes
 *     doorverwijzing-ontvangen. CoMensha posts nothing else.
 *
 * Pure functions; `cfg` is the config's "mapping" object.
 */
#ifndef COMENSHA_MAPPING_H
#define COMENSHA_MAPPING_H

#include <jansson.h>

#include "adapter.h"

extern const struct adapter_mapping comensha_mapping;

int comensha_check_config(const json_t *cfg, const char *pointer, json_t *errors);

/* Takes only the push receipt input (HTTP_PUSH_RECEIPT_TYPE). */
int comensha_parse(const json_t *cfg, const struct adapter_input *in, json_t *items,
                   json_t *errors);

/* 0 with out filled; 1 when there is nothing to register (not an offer, or no
 * consent and no legal duty); -1 with errors. */
int comensha_render(const json_t *cfg, const json_t *event, struct adapter_output *out,
                    json_t *errors);

#endif
