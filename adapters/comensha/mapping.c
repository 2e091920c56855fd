/*
 * comensha mapping - see mapping.h and docs/adapters.md "CoMensha".
 *
 * The record carries registration type, basis (consent or legal duty),
 * forms of exploitation, minor yes/no, age group, gender, nationality, the
 * reporting organisation and the date: nothing else of the referral leaves,
 * even when the hub's profile gives more (e.g. the place of residence).
 */
#include "mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "partner_msg.h"

#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"

static const struct adapter_cfg_key KEYS[] = {
    {"meldende_organisatie", ADAPTER_CFG_STRING, 1, 0, 0},
    {"legal_duty_roles", ADAPTER_CFG_ARRAY, 0, 0, 0},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

static const char *const ROLES[] = {"police", "municipality", "comensha",
                                    "care",   "coordinator",  NULL};

int comensha_check_config(const json_t *cfg, const char *pointer, json_t *errors)
{
    char p[300];
    if (!cfg) {
        adapter_cfg_error(errors, pointer, "missing: needs meldende_organisatie");
        return -1;
    }
    size_t before = json_array_size(errors);
    if (adapter_cfg_check(cfg, pointer, KEYS, errors) != 0 && !json_is_object(cfg))
        return -1;
    const char *org = json_string_value(json_object_get(cfg, "meldende_organisatie"));
    snprintf(p, sizeof p, "%s/meldende_organisatie", pointer);
    if (org && strlen(org) > 200)
        adapter_cfg_error(errors, p, "at most 200 bytes");
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(cfg, "legal_duty_roles"), i, v)
    {
        int ok = 0;
        for (int r = 0; ROLES[r]; r++)
            ok |= json_is_string(v) && strcmp(json_string_value(v), ROLES[r]) == 0;
        snprintf(p, sizeof p, "%s/legal_duty_roles/%zu", pointer, i);
        if (!ok)
            adapter_cfg_error(errors, p,
                              "must be a role: police, municipality, comensha, care, coordinator");
    }
    return json_array_size(errors) == before ? 0 : -1;
}

int comensha_parse(const json_t *cfg, const struct adapter_input *in, json_t *items, json_t *errors)
{
    int rc = partner_msg_push_receipt(in, items, errors);
    if (rc == 1) {
        event_error(errors, "", "route",
                    "this adapter takes no messages from CoMensha: its 2xx answer is its receipt");
        rc = -1;
    }
    return rc;
}

/* "toestemming" or "meldplicht", or NULL when neither holds. */
static const char *basis(const json_t *cfg, const json_t *data)
{
    const json_t *sig = json_object_get(data, "signaal");
    if (json_is_true(json_object_get(json_object_get(sig, "toestemming"), "registratieCoMensha")))
        return "toestemming";
    const char *role = json_string_value(json_object_get(json_object_get(data, "melder"), "rol"));
    const json_t *duty = json_object_get(cfg, "legal_duty_roles");
    size_t i;
    const json_t *v;
    if (!role)
        return NULL;
    if (!duty)
        return strcmp(role, "police") == 0 ? "meldplicht" : NULL;
    json_array_foreach(duty, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), role) == 0)
            return "meldplicht";
    }
    return NULL;
}

static json_t *str_or(const json_t *obj, const char *key, const char *def)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_incref((json_t *)v) : json_string(def);
}

int comensha_render(const json_t *cfg, const json_t *event, struct adapter_output *out,
                    json_t *errors)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!type || strcmp(type, OFFER_TYPE) != 0)
        return 1;
    const json_t *data = json_object_get(event, "data");
    const json_t *sig = json_object_get(data, "signaal");
    const char *ref = json_string_value(json_object_get(data, "doorverwijzing"));
    const char *time = json_string_value(json_object_get(event, "time"));
    if (!ref || !time || strlen(time) < 10) {
        event_error(errors, ref ? "/time" : "/data/doorverwijzing", "required",
                    "the offer lacks what the registration needs");
        return -1;
    }
    const char *why = basis(cfg, data);
    if (!why)
        return 1;
    json_t *forms = json_object_get(sig, "vormenVanUitbuiting");
    char day[11];
    memcpy(day, time, 10);
    day[10] = '\0';
    json_t *rec = json_object();
    json_object_set_new(rec, "registratieKenmerk", json_string(ref));
    json_object_set_new(rec, "registratietype", json_string("mogelijk-slachtoffer"));
    json_object_set_new(rec, "grondslag", json_string(why));
    json_object_set_new(rec, "vormenVanUitbuiting",
                        json_is_array(forms) ? json_deep_copy(forms)
                                             : json_pack("[s]", "onbekend"));
    if (json_is_boolean(json_object_get(sig, "minderjarig")))
        json_object_set(rec, "minderjarig", json_object_get(sig, "minderjarig"));
    json_object_set_new(rec, "leeftijdsgroep", str_or(sig, "leeftijdsgroep", "onbekend"));
    json_object_set_new(rec, "geslacht", str_or(sig, "geslacht", "onbekend"));
    json_object_set_new(rec, "nationaliteit", str_or(sig, "nationaliteit", "onbekend"));
    json_object_set_new(
        rec, "meldendeOrganisatie",
        json_string(json_string_value(json_object_get(cfg, "meldende_organisatie"))
                        ? json_string_value(json_object_get(cfg, "meldende_organisatie"))
                        : "onbekend"));
    json_object_set_new(rec, "datumSignalering", str_or(sig, "datumSignalering", day));
    return adapter_output_json(out, rec, "application/json", event, errors);
}

static int check_cb(const json_t *section, const char *pointer, json_t *errors)
{
    return comensha_check_config(section, pointer, errors);
}

static int parse_cb(struct adapter *ad, const struct adapter_input *in, json_t *items,
                    json_t *errors)
{
    return comensha_parse(adapter_mapping_config(ad), in, items, errors);
}

static int render_cb(struct adapter *ad, const json_t *event, struct adapter_output *out,
                     json_t *errors)
{
    int rc = comensha_render(adapter_mapping_config(ad), event, out, errors);
    if (rc == 1) {
        const json_t *data = json_object_get(event, "data");
        const char *ref = json_string_value(json_object_get(data, "doorverwijzing"));
        if (ref)
            log_msg(LOG_WARN,
                    "event=registration_withheld referral=%s reason=\"no consent and no legal "
                    "duty to report\"",
                    ref);
    }
    return rc;
}

const struct adapter_mapping comensha_mapping = {
    .name = "comensha",
    .check_config = check_cb,
    .parse = parse_cb,
    .render = render_cb,
};
