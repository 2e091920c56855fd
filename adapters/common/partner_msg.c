/*
 * partner_msg - partner messages over http-listen -> canonical items; see
 * partner_msg.h.
 */
#include "partner_msg.h"

#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "http_push.h"
#include "schema_format.h"

#define MAX_DEPTH 16
#define TOELICHTING_MAX 500 /* characters, schemas/defs.json */
#define KENMERK_MAX 128

static const char *const REDENEN[] = {
    "geen-capaciteit",   "buiten-werkgebied",      "niet-bevoegd", "geen-signalen-mensenhandel",
    "al-in-behandeling", "client-niet-bereikbaar", "anders",       NULL};
static const char *const UITKOMSTEN[] = {"hulp-geboden",      "doorverwezen", "geen-hulp-nodig",
                                         "contact-verbroken", "anders",       NULL};
static const char *const KINDS[4] = {"ontvangen", "geaccepteerd", "afgewezen", "afgerond"};

json_t *partner_msg_load(const char *data, size_t len, json_t *errors)
{
    return event_parse(data, len, MAX_DEPTH, errors);
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static void list_text(const char *const *list, size_t n, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && list[i]; i++) {
        int w = snprintf(out + used, outlen - used, "%s\"%s\"", i ? ", " : "", list[i]);
        if (w < 0 || (size_t)w >= outlen - used)
            break;
        used += (size_t)w;
    }
}

/* Characters (code points) of a valid UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int is_format(const json_t *v, enum schema_format f)
{
    return json_is_string(v) &&
           schema_format_check(f, json_string_value(v), json_string_length(v)) == 1;
}

static int kenmerk_ok(const char *s)
{
    size_t n = strnlen(s, KENMERK_MAX + 1);
    if (n == 0 || n > KENMERK_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("._:/-", s[i])))
            return 0;
    return 1;
}

/* Members not in `allowed` are errors at their own pointer. */
static void only_members(const json_t *msg, const char *const *allowed, json_t *errors)
{
    const char *key;
    json_t *v;
    char path[300];
    json_object_foreach((json_t *)msg, key, v)
    {
        if (in_list(key, allowed))
            continue;
        /* A member name with '/' or '~' is escaped as RFC 6901 says. */
        size_t o = 0;
        path[o++] = '/';
        for (const char *c = key; *c && o + 3 < sizeof path; c++) {
            if (*c == '~' || *c == '/') {
                path[o++] = '~';
                path[o++] = *c == '~' ? '0' : '1';
            } else {
                path[o++] = *c;
            }
        }
        path[o] = '\0';
        event_error(errors, path, "additionalProperties", "member \"%.64s\" is not allowed here",
                    key);
    }
}

/* Optional "tijdstip" and "id", copied to the item as time and id. */
static void common_members(const json_t *msg, json_t *item, json_t *errors)
{
    const json_t *t = json_object_get(msg, "tijdstip");
    if (t && !is_format(t, SCHEMA_FORMAT_DATE_TIME))
        event_error(errors, "/tijdstip", "format",
                    "must be an RFC 3339 date-time, e.g. 2026-11-29T10:15:00Z");
    else if (t)
        json_object_set(item, "time", (json_t *)t);
    const json_t *id = json_object_get(msg, "id");
    if (id && !is_format(id, SCHEMA_FORMAT_UUID))
        event_error(errors, "/id", "format", "must be a UUID (your message id, kept on resend)");
    else if (id)
        json_object_set(item, "id", (json_t *)id);
}

int partner_msg_response(const json_t *msg, const struct partner_verbs *verbs, json_t *items,
                         json_t *errors)
{
    size_t before = json_array_size(errors);
    char list[300];
    const char *allowed[] = {"doorverwijzing", verbs->member, "reden", "uitkomst",
                             "toelichting",    "tijdstip",    "id",    NULL};
    json_t *item = json_object(), *data = json_object();
    if (!item || !data) {
        event_error(errors, "", "memory", "out of memory");
        goto out;
    }
    only_members(msg, allowed, errors);
    const json_t *ref = json_object_get(msg, "doorverwijzing");
    if (!ref)
        event_error(errors, "", "required", "member \"doorverwijzing\" is missing");
    else if (!is_format(ref, SCHEMA_FORMAT_UUID))
        event_error(errors, "/doorverwijzing", "format",
                    "must be the referral id (a UUID) from the notification");
    const char *verb = json_string_value(json_object_get(msg, verbs->member));
    int kind = -1;
    for (int i = 0; verb && i < 4; i++)
        if (verbs->words[i] && strcmp(verb, verbs->words[i]) == 0)
            kind = i;
    char vpath[80];
    snprintf(vpath, sizeof vpath, "/%s", verbs->member);
    list_text(verbs->words, 4, list, sizeof list);
    if (!json_object_get(msg, verbs->member))
        event_error(errors, "", "required", "member \"%s\" is missing (one of %s)", verbs->member,
                    list);
    else if (kind < 0)
        event_error(errors, vpath, "enum", "must be one of %s", list);
    const json_t *reden = json_object_get(msg, "reden");
    const json_t *uitkomst = json_object_get(msg, "uitkomst");
    const json_t *toel = json_object_get(msg, "toelichting");
    if (kind == 2 && !reden) {
        list_text(REDENEN, 7, list, sizeof list);
        event_error(errors, "", "required", "member \"reden\" is missing (one of %s)", list);
    }
    if (reden && kind >= 0 && kind != 2)
        event_error(errors, "/reden", "dependentRequired", "only with \"%s\"", verbs->words[2]);
    else if (reden && !in_list(json_string_value(reden), REDENEN)) {
        list_text(REDENEN, 7, list, sizeof list);
        event_error(errors, "/reden", "enum", "must be one of %s", list);
    }
    if (uitkomst && kind >= 0 && kind != 3)
        event_error(errors, "/uitkomst", "dependentRequired", "only with \"%s\"", verbs->words[3]);
    else if (uitkomst && !in_list(json_string_value(uitkomst), UITKOMSTEN)) {
        list_text(UITKOMSTEN, 5, list, sizeof list);
        event_error(errors, "/uitkomst", "enum", "must be one of %s", list);
    }
    if (toel && kind == 0)
        event_error(errors, "/toelichting", "dependentRequired", "not with \"%s\"",
                    verbs->words[0]);
    else if (toel && !json_is_string(toel))
        event_error(errors, "/toelichting", "type", "must be a string");
    else if (toel && utf8_chars(json_string_value(toel)) > TOELICHTING_MAX)
        event_error(errors, "/toelichting", "maxLength", "at most %d characters", TOELICHTING_MAX);
    common_members(msg, item, errors);
    if (json_array_size(errors) != before || kind < 0 || !ref)
        goto out;
    char type[96];
    snprintf(type, sizeof type, "%s%s", PARTNER_MSG_TYPE_PREFIX, KINDS[kind]);
    json_object_set(data, "doorverwijzing", (json_t *)ref);
    if (reden)
        json_object_set(data, "reden", (json_t *)reden);
    if (uitkomst)
        json_object_set(data, "uitkomst", (json_t *)uitkomst);
    if (toel)
        json_object_set(data, "toelichting", (json_t *)toel);
    json_object_set_new(item, "type", json_string(type));
    json_object_set(item, "subject", (json_t *)ref);
    json_object_set(item, "data", data);
    json_object_set_new(item, "origin", json_string(""));
    json_array_append(items, item);
out:
    json_decref(item);
    json_decref(data);
    return json_array_size(errors) == before ? 0 : -1;
}

int partner_msg_signal(const json_t *msg, json_t *items, json_t *errors)
{
    size_t before = json_array_size(errors);
    static const char *const allowed[] = {"signaal", "kenmerk", "tijdstip", "id", NULL};
    json_t *item = json_object();
    if (!item) {
        event_error(errors, "", "memory", "out of memory");
        return -1;
    }
    only_members(msg, allowed, errors);
    const json_t *sig = json_object_get(msg, "signaal");
    if (!sig)
        event_error(errors, "", "required", "member \"signaal\" is missing");
    else if (!json_is_object(sig))
        event_error(errors, "/signaal", "type", "must be an object");
    const json_t *k = json_object_get(msg, "kenmerk");
    if (k && !(json_is_string(k) && kenmerk_ok(json_string_value(k))))
        event_error(errors, "/kenmerk", "pattern",
                    "must be 1-128 of A-Z a-z 0-9 . _ : / - (a case reference, never a name or "
                    "BSN)");
    common_members(msg, item, errors);
    if (json_array_size(errors) == before) {
        json_object_set_new(item, "type", json_string(PARTNER_MSG_SIGNAL_TYPE));
        json_object_set(item, "data", (json_t *)sig);
        if (k)
            json_object_set(item, "subject", (json_t *)k);
        json_object_set_new(item, "origin", json_string("/signaal"));
        json_array_append(items, item);
    }
    json_decref(item);
    return json_array_size(errors) == before ? 0 : -1;
}

int partner_msg_push_receipt(const struct adapter_input *in, json_t *items, json_t *errors)
{
    /* Only http-push makes these (its inputs are named "http-push"; an
     * http-listen input is named by its path, which starts with '/'). */
    if (!in->content_type || strcmp(in->content_type, HTTP_PUSH_RECEIPT_TYPE) != 0 || !in->name ||
        strcmp(in->name, "http-push") != 0)
        return 1;
    json_t *msg = partner_msg_load(in->data, in->len, errors);
    if (!msg)
        return -1;
    const json_t *ref =
        json_object_get(json_object_get(msg, "ontvangstbevestiging"), "doorverwijzing");
    int rc = -1;
    if (!is_format(ref, SCHEMA_FORMAT_UUID)) {
        event_error(errors, "/ontvangstbevestiging/doorverwijzing", "format",
                    "the delivery had no referral id");
    } else {
        json_t *item = json_pack("{s:s, s:O, s:{s:O}, s:s}", "type",
                                 PARTNER_MSG_TYPE_PREFIX "ontvangen", "subject", ref, "data",
                                 "doorverwijzing", ref, "origin", "/ontvangstbevestiging");
        if (item && json_array_append_new(items, item) == 0)
            rc = 0;
        else
            event_error(errors, "", "memory", "out of memory");
    }
    json_decref(msg);
    return rc;
}
