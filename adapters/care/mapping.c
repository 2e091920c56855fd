/*
 * care mapping - see mapping.h and docs/adapters.md "Care provider".
 *
 * The CloudEvent is the hub's offer with the attributes CloudEvents 1.0
 * defines (the hub already strips the signal to the care profile), plus
 * dataschema naming the schema of its data. Unknown attributes of the hub's
 * event are not copied, so nothing unplanned reaches the care provider.
 */
#include "mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "partner_msg.h"

#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
#define SCHEMA_BASE "https://ketenhub.nl/schemas/v1/"

static const struct partner_verbs VERBS = {"actie",
                                           {"ontvangen", "accepteren", "afwijzen", "afronden"}};

int care_parse(const json_t *cfg, const struct adapter_input *in, json_t *items, json_t *errors)
{
    int receipt = partner_msg_push_receipt(in, items, errors);
    if (receipt != 1)
        return receipt; /* http-push "receipt_event": the partner's 2xx */
    if (!in->name || strcmp(in->name, "/reacties") != 0) {
        event_error(errors, "", "route", "this adapter takes /reacties only");
        return -1;
    }
    json_t *msg = partner_msg_load(in->data, in->len, errors);
    if (!msg)
        return -1;
    int rc = partner_msg_response(msg, &VERBS, items, errors);
    json_decref(msg);
    return rc;
}

int care_render(const json_t *cfg, const json_t *event, struct adapter_output *out, json_t *errors)
{
    static const char *const attrs[] = {"specversion", "id",      "source", "type",
                                        "time",        "subject", NULL};
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!type || strcmp(type, OFFER_TYPE) != 0)
        return 1;
    json_t *ce = json_object();
    for (int i = 0; attrs[i]; i++) {
        const json_t *v = json_object_get(event, attrs[i]);
        if (!json_is_string(v)) {
            char p[32];
            snprintf(p, sizeof p, "/%s", attrs[i]);
            event_error(errors, p, "required", "the offer lacks this attribute");
            json_decref(ce);
            return -1;
        }
        json_object_set(ce, attrs[i], (json_t *)v);
    }
    const json_t *data = json_object_get(event, "data");
    if (!json_is_object(data)) {
        event_error(errors, "/data", "required", "the offer has no data");
        json_decref(ce);
        return -1;
    }
    json_object_set_new(ce, "datacontenttype", json_string("application/json"));
    json_object_set_new(ce, "dataschema", json_string(SCHEMA_BASE OFFER_TYPE ".json"));
    json_object_set(ce, "data", (json_t *)data);
    return adapter_output_json(out, ce, CARE_CONTENT_TYPE, event, errors);
}

static int parse_cb(struct adapter *ad, const struct adapter_input *in, json_t *items,
                    json_t *errors)
{
    return care_parse(adapter_mapping_config(ad), in, items, errors);
}

static int render_cb(struct adapter *ad, const json_t *event, struct adapter_output *out,
                     json_t *errors)
{
    return care_render(adapter_mapping_config(ad), event, out, errors);
}

const struct adapter_mapping care_mapping = {
    .name = "care",
    .check_config = NULL,
    .parse = parse_cb,
    .render = render_cb,
};
