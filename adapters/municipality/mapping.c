/*
 * municipality mapping - see mapping.h and docs/adapters.md "Municipality".
 *
 * The notification says only that there is a referral and where to fetch
 * it: kenmerken carry the policy and the deadlines, never a signal field
 * (urgency, age, place or anything about a person).
 */
#include "mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "partner_msg.h"

#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
#define URL_MAX 512

static const struct partner_verbs VERBS = {"reactie",
                                           {"ontvangen", "geaccepteerd", "afgewezen", "afgerond"}};

static const struct adapter_cfg_key KEYS[] = {
    {"resource_url", ADAPTER_CFG_STRING, 1, 0, 0},
    {"kanaal", ADAPTER_CFG_STRING, 0, 0, 0},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

int municipality_check_config(const json_t *cfg, const char *pointer, json_t *errors)
{
    char p[300];
    if (!cfg) {
        adapter_cfg_error(errors, pointer, "missing: needs resource_url");
        return -1;
    }
    size_t before = json_array_size(errors);
    if (adapter_cfg_check(cfg, pointer, KEYS, errors) != 0 && !json_is_object(cfg))
        return -1;
    const char *url = json_string_value(json_object_get(cfg, "resource_url"));
    snprintf(p, sizeof p, "%s/resource_url", pointer);
    if (url && (strlen(url) > 400 || url[strlen(url) - 1] != '/' ||
                (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://127.", 11) != 0 &&
                 strncmp(url, "http://localhost", 16) != 0)))
        adapter_cfg_error(errors, p,
                          "must be the https:// URL of http-listen's resource_path, ending in /");
    const char *k = json_string_value(json_object_get(cfg, "kanaal"));
    snprintf(p, sizeof p, "%s/kanaal", pointer);
    if (k && strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(k))
        adapter_cfg_error(errors, p, "must be lower-case letters, digits and -");
    return json_array_size(errors) == before ? 0 : -1;
}

int municipality_parse(const json_t *cfg, const struct adapter_input *in, json_t *items,
                       json_t *errors)
{
    int receipt = partner_msg_push_receipt(in, items, errors);
    if (receipt != 1)
        return receipt; /* http-push "receipt_event": the partner's 2xx */
    const char *name = in->name ? in->name : "";
    int signal = strcmp(name, "/signalen") == 0;
    if (!signal && strcmp(name, "/reacties") != 0) {
        event_error(errors, "", "route", "this adapter takes /reacties and /signalen only");
        return -1;
    }
    json_t *msg = partner_msg_load(in->data, in->len, errors);
    if (!msg)
        return -1;
    int rc = signal ? partner_msg_signal(msg, items, errors)
                    : partner_msg_response(msg, &VERBS, items, errors);
    json_decref(msg);
    return rc;
}

int municipality_render(const json_t *cfg, const json_t *event, struct adapter_output *out,
                        json_t *errors)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!type || strcmp(type, OFFER_TYPE) != 0)
        return 1;
    const json_t *data = json_object_get(event, "data");
    const char *ref = json_string_value(json_object_get(data, "doorverwijzing"));
    const char *time = json_string_value(json_object_get(event, "time"));
    const char *base = json_string_value(json_object_get(cfg, "resource_url"));
    const char *kanaal = json_string_value(json_object_get(cfg, "kanaal"));
    const json_t *terms = json_object_get(data, "termijnen");
    const char *beleid = json_string_value(json_object_get(data, "beleid"));
    if (!ref || !time || !base) {
        event_error(errors, ref ? "/time" : "/data/doorverwijzing", "required",
                    "the offer lacks what the notification needs");
        return -1;
    }
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s%s", base, ref);
    json_t *kenmerken = json_object();
    if (beleid)
        json_object_set_new(kenmerken, "beleid", json_string(beleid));
    const char *o = json_string_value(json_object_get(terms, "ontvangst"));
    const char *b = json_string_value(json_object_get(terms, "besluit"));
    if (o)
        json_object_set_new(kenmerken, "ontvangstUiterlijk", json_string(o));
    if (b)
        json_object_set_new(kenmerken, "besluitUiterlijk", json_string(b));
    json_t *n = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "kanaal",
                          kanaal ? kanaal : "doorverwijzingen", "hoofdObject", url, "resource",
                          "doorverwijzing", "resourceUrl", url, "actie", "create", "aanmaakdatum",
                          time, "kenmerken", kenmerken);
    return adapter_output_json(out, n, "application/json", event, errors);
}

static int check_cb(const json_t *section, const char *pointer, json_t *errors)
{
    return municipality_check_config(section, pointer, errors);
}

static int parse_cb(struct adapter *ad, const struct adapter_input *in, json_t *items,
                    json_t *errors)
{
    return municipality_parse(adapter_mapping_config(ad), in, items, errors);
}

static int render_cb(struct adapter *ad, const json_t *event, struct adapter_output *out,
                     json_t *errors)
{
    return municipality_render(adapter_mapping_config(ad), event, out, errors);
}

const struct adapter_mapping municipality_mapping = {
    .name = "municipality",
    .check_config = check_cb,
    .parse = parse_cb,
    .render = render_cb,
};
