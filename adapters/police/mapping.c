/*
 * police mapping - police export files <-> canonical events; see mapping.h
 * and docs/adapters.md "Police".
 *
 * The mapping checks the shape of the police's documents (members, columns,
 * ja/nee values, lists); the values of the signal fields are checked against
 * the hub's schemas by the core (config "schemas"), with the error's "item"
 * naming the record. Error paths here point into the police's file:
 *   JSON: "/urgentie" (one document) or "/2/urgentie" (third of an array);
 *   CSV:  "/<line>/<column>", the line of the file the record starts on
 *         (the header is line 1), e.g. "/3/minderjarig".
 */
#include "mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "event.h"

#define SIGNAL_TYPE "nl.mensenhandel.signalen.signaal-geregistreerd"
#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
#define RESPONSE_PREFIX "nl.mensenhandel.doorverwijzingen.doorverwijzing-"
#define MAX_RECORDS 10000

/* Members of a signal document that are copied into the event's data as
 * they are: the canonical signal fields (docs/glossary.md). */
static const char *const SIGNAL_FIELDS[] = {"vormenVanUitbuiting", "urgentie",       "minderjarig",
                                            "woongemeente",        "indicatoren",    "toestemming",
                                            "datumSignalering",    "leeftijdsgroep", "geslacht",
                                            "nationaliteit",       "omschrijving",   NULL};

static const char *const RESPONSE_STATUSES[] = {"ontvangen", "geaccepteerd", "afgewezen",
                                                "afgerond", NULL};
static const char *const RESPONSE_FIELDS[] = {"reden", "toelichting", "uitkomst", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* ---- JSON documents ----------------------------------------------------- */

static void parse_signal_doc(const json_t *doc, const char *at, json_t *items, json_t *errors)
{
    json_t *data = json_object();
    const char *key;
    json_t *v;
    const json_t *ref = json_object_get(doc, "referentie");
    const json_t *when = json_object_get(doc, "tijdstip");
    json_object_foreach((json_t *)doc, key, v)
    {
        if (in_list(SIGNAL_FIELDS, key))
            json_object_set(data, key, v);
        else if (strcmp(key, "referentie") != 0 && strcmp(key, "tijdstip") != 0)
            event_error(errors, "", "additionalProperties",
                        "%s/%s: member \"%s\" is not part of a police signal document", at, key,
                        key);
    }
    if (!json_is_string(ref) || json_string_length(ref) == 0)
        event_error(errors, "", "required",
                    "%s/referentie: the police case reference is required (a string)", at);
    if (when && !json_is_string(when))
        event_error(errors, "", "type", "%s/tijdstip: must be an RFC 3339 date-time string", at);
    json_t *item = json_pack("{s:s, s:o, s:s}", "type", SIGNAL_TYPE, "data", data, "origin", at);
    if (json_is_string(ref))
        json_object_set(item, "subject", (json_t *)ref);
    if (json_is_string(when))
        json_object_set(item, "time", (json_t *)when);
    json_array_append_new(items, item);
}

static void parse_response_doc(const json_t *doc, const char *at, json_t *items, json_t *errors)
{
    json_t *data = json_object();
    const char *key;
    json_t *v;
    const json_t *ref = json_object_get(doc, "doorverwijzing");
    const char *status = json_string_value(json_object_get(doc, "status"));
    const json_t *when = json_object_get(doc, "tijdstip");
    json_object_set(data, "doorverwijzing", (json_t *)ref);
    json_object_foreach((json_t *)doc, key, v)
    {
        if (in_list(RESPONSE_FIELDS, key))
            json_object_set(data, key, v);
        else if (strcmp(key, "doorverwijzing") != 0 && strcmp(key, "status") != 0 &&
                 strcmp(key, "tijdstip") != 0)
            event_error(errors, "", "additionalProperties",
                        "%s/%s: member \"%s\" is not part of a police response document", at, key,
                        key);
    }
    if (!json_is_string(ref))
        event_error(errors, "", "type", "%s/doorverwijzing: must be the referral id (a string)",
                    at);
    if (!status || !in_list(RESPONSE_STATUSES, status))
        event_error(errors, "", "enum",
                    "%s/status: must be one of ontvangen, geaccepteerd, afgewezen, afgerond", at);
    if (when && !json_is_string(when))
        event_error(errors, "", "type", "%s/tijdstip: must be an RFC 3339 date-time string", at);
    char type[128];
    snprintf(type, sizeof type, "%s%s", RESPONSE_PREFIX, status ? status : "onbekend");
    json_t *item = json_pack("{s:s, s:o, s:s}", "type", type, "data", data, "origin", at);
    if (json_is_string(ref))
        json_object_set(item, "subject", (json_t *)ref);
    if (json_is_string(when))
        json_object_set(item, "time", (json_t *)when);
    json_array_append_new(items, item);
}

/* The event_error calls above put the pointer in the message; move it into
 * "path" so every error has the pointer where tools look for it. */
static void pointers_from_messages(json_t *errors, size_t from)
{
    for (size_t i = from; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *colon = msg ? strstr(msg, ": ") : NULL;
        if (!msg || msg[0] != '/' || !colon)
            continue;
        json_object_set_new(e, "path", json_stringn(msg, (size_t)(colon - msg)));
        json_object_set_new(e, "message", json_string(colon + 2));
    }
}

static void parse_doc(const json_t *doc, const char *at, json_t *items, json_t *errors)
{
    if (!json_is_object(doc)) {
        event_error(errors, at, "type", "a record must be a JSON object");
        return;
    }
    if (json_object_get(doc, "doorverwijzing"))
        parse_response_doc(doc, at, items, errors);
    else
        parse_signal_doc(doc, at, items, errors);
}

static int parse_json(const struct adapter_input *in, json_t *items, json_t *errors)
{
    size_t before = json_array_size(errors);
    json_error_t jerr;
    if (event_depth(in->data, in->len, 32) > 32) {
        event_error(errors, "", "maxDepth", "the JSON is nested deeper than 32 levels");
        return -1;
    }
    json_t *doc = json_loadb(in->data, in->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        event_error(errors, "", "json", "not valid JSON: line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
        return -1;
    }
    if (json_is_array(doc)) {
        if (json_array_size(doc) == 0)
            event_error(errors, "", "minItems", "the file holds an empty list");
        if (json_array_size(doc) > MAX_RECORDS)
            event_error(errors, "", "maxItems", "more than %d records in one file", MAX_RECORDS);
        size_t i;
        json_t *d;
        json_array_foreach(doc, i, d)
        {
            if (i >= MAX_RECORDS)
                break;
            char at[32];
            snprintf(at, sizeof at, "/%zu", i);
            parse_doc(d, at, items, errors);
        }
    } else {
        parse_doc(doc, "", items, errors);
    }
    json_decref(doc);
    pointers_from_messages(errors, before);
    return json_array_size(errors) == before ? 0 : -1;
}

/* ---- CSV ------------------------------------------------------------------ */

enum col_kind { COL_TEXT, COL_LIST, COL_BOOL };

struct column {
    const char *name;
    enum col_kind kind;
    int required;
};

static const struct column COLUMNS[] = {
    {"referentie", COL_TEXT, 1},
    {"tijdstip", COL_TEXT, 0},
    {"datumSignalering", COL_TEXT, 0},
    {"vormenVanUitbuiting", COL_LIST, 1},
    {"urgentie", COL_TEXT, 1},
    {"minderjarig", COL_BOOL, 1},
    {"woongemeente", COL_TEXT, 0},
    {"indicatoren", COL_LIST, 0},
    {"toestemmingRegistratieCoMensha", COL_BOOL, 1},
    {"toestemmingDelenMetZorg", COL_BOOL, 0},
    {"leeftijdsgroep", COL_TEXT, 0},
    {"geslacht", COL_TEXT, 0},
    {"nationaliteit", COL_TEXT, 0},
    {"omschrijving", COL_TEXT, 0},
    {NULL, COL_TEXT, 0},
};

static const struct column *column(const char *name)
{
    for (const struct column *c = COLUMNS; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* "seksueel|arbeid" -> ["seksueel", "arbeid"]; spaces around items trimmed. */
static json_t *split_list(const char *s)
{
    json_t *list = json_array();
    while (*s) {
        const char *end = strchr(s, '|');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *a = s, *b = s + n;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a)
            json_array_append_new(list, json_stringn(a, (size_t)(b - a)));
        s = end ? end + 1 : s + n;
    }
    return list;
}

static int parse_bool(const char *s, int *out)
{
    if (strcasecmp(s, "ja") == 0 || strcasecmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(s, "nee") == 0 || strcasecmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static void csv_row(const json_t *header, const json_t *row, long rowno, json_t *items,
                    json_t *errors)
{
    char at[32], p[160];
    snprintf(at, sizeof at, "/%ld", rowno);
    if (json_array_size(row) != json_array_size(header)) {
        event_error(errors, at, "columns", "line %ld has %zu fields; the header has %zu", rowno,
                    json_array_size(row), json_array_size(header));
        return;
    }
    json_t *data = json_object(), *toestemming = json_object();
    json_t *item = json_pack("{s:s, s:s}", "type", SIGNAL_TYPE, "origin", at);
    json_object_set_new(data, "indicatoren", json_array());
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h)
    {
        const char *name = json_string_value(h);
        const char *val = json_string_value(json_array_get(row, i));
        const struct column *c = column(name);
        snprintf(p, sizeof p, "%s/%s", at, name);
        if (!c || !val)
            continue;
        if (*val == '\0') {
            if (c->required)
                event_error(errors, p, "required", "line %ld: %s is empty; it is required", rowno,
                            name);
            continue;
        }
        if (strcmp(name, "referentie") == 0) {
            json_object_set_new(item, "subject", json_string(val));
        } else if (strcmp(name, "tijdstip") == 0) {
            json_object_set_new(item, "time", json_string(val));
        } else if (c->kind == COL_LIST) {
            json_object_set_new(data, name, split_list(val));
        } else if (c->kind == COL_BOOL) {
            int b;
            if (parse_bool(val, &b) != 0) {
                event_error(errors, p, "type", "line %ld: %s must be ja or nee", rowno, name);
                continue;
            }
            if (strcmp(name, "minderjarig") == 0)
                json_object_set_new(data, name, json_boolean(b));
            else
                json_object_set_new(toestemming,
                                    strcmp(name, "toestemmingRegistratieCoMensha") == 0
                                        ? "registratieCoMensha"
                                        : "delenMetZorg",
                                    json_boolean(b));
        } else {
            json_object_set_new(data, name, json_string(val));
        }
    }
    json_object_set_new(data, "toestemming", toestemming);
    json_object_set_new(item, "data", data);
    json_array_append_new(items, item);
}

static int parse_csv(const struct adapter_input *in, json_t *items, json_t *errors)
{
    char err[256];
    size_t before = json_array_size(errors);
    json_t *lines = json_array();
    json_t *rows = csv_parse(in->data, in->len, MAX_RECORDS + 1, lines, err, sizeof err);
    if (!rows) {
        event_error(errors, "", "csv", "%s", err);
        json_decref(lines);
        return -1;
    }
    const json_t *header = json_array_get(rows, 0);
    if (json_array_size(rows) < 2) {
        event_error(errors, "", "minItems", "the file has no rows below the header");
        goto out;
    }
    size_t i;
    json_t *h;
    json_array_foreach(header, i, h)
    {
        const char *name = json_string_value(h);
        char p[160];
        snprintf(p, sizeof p, "/1/%s", name);
        if (!column(name))
            event_error(errors, p, "additionalProperties",
                        "unknown column \"%s\" (docs/adapters.md lists the columns)", name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(json_string_value(json_array_get(header, k)), name) == 0)
                event_error(errors, p, "uniqueItems", "column \"%s\" appears twice", name);
    }
    for (const struct column *c = COLUMNS; c->name; c++) {
        int found = 0;
        json_array_foreach(header, i, h) found |= strcmp(json_string_value(h), c->name) == 0;
        if (c->required && !found) {
            char p[160];
            snprintf(p, sizeof p, "/1/%s", c->name);
            event_error(errors, p, "required", "the header has no column \"%s\"", c->name);
        }
    }
    if (json_array_size(errors) != before)
        goto out;
    for (i = 1; i < json_array_size(rows); i++)
        /* The line the record starts on, counted from 1 (the header). */
        csv_row(header, json_array_get(rows, i), (long)json_integer_value(json_array_get(lines, i)),
                items, errors);
out:
    json_decref(rows);
    json_decref(lines);
    return json_array_size(errors) == before ? 0 : -1;
}

/* ---- the mapping -------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int parse(struct adapter *ad, const struct adapter_input *in, json_t *items, json_t *errors)
{
    (void)ad;
    const char *ct = in->content_type ? in->content_type : "";
    const char *name = in->name ? in->name : "";
    if (strncmp(ct, "application/json", 16) == 0 || ends_with(name, ".json"))
        return parse_json(in, items, errors);
    if (strncmp(ct, "text/csv", 8) == 0 || ends_with(name, ".csv"))
        return parse_csv(in, items, errors);
    event_error(errors, "", "format",
                "unknown file type: the police adapter reads .json and .csv files");
    return -1;
}

/* A referral offered to the police -> its "case table" record. */
static int render(struct adapter *ad, const json_t *event, struct adapter_output *out,
                  json_t *errors)
{
    (void)ad;
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *id = json_string_value(json_object_get(event, "id"));
    const json_t *data = json_object_get(event, "data");
    json_t *doc;
    if (!type || !id) {
        event_error(errors, "", "required", "the event has no type or id");
        return -1;
    }
    if (strcmp(type, OFFER_TYPE) == 0) {
        const char *ref = json_string_value(json_object_get(data, "doorverwijzing"));
        const json_t *terms = json_object_get(data, "termijnen");
        if (!ref || !json_is_object(terms)) {
            event_error(errors, "/data", "required",
                        "an offer without doorverwijzing or termijnen");
            return -1;
        }
        doc = json_pack(
            "{s:s, s:s, s:s, s:O, s:O, s:O, s:{s:O, s:O}, s:O}", "soort", "doorverwijzing",
            "doorverwijzing", ref, "aanbod", id, "aangeboden", json_object_get(event, "time"),
            "beleid", json_object_get(data, "beleid"), "regel",
            json_object_get(data, "regel") ? json_object_get(data, "regel") : json_null(),
            "reageerVoor", "ontvangst", json_object_get(terms, "ontvangst"), "besluit",
            json_object_get(terms, "besluit"), "signaal",
            json_object_get(data, "signaal") ? json_object_get(data, "signaal") : json_object());
        snprintf(out->name, sizeof out->name, "doorverwijzing-%.64s.json", ref);
    } else {
        /* Anything else the hub sends is handed over as the event itself. */
        doc = json_pack("{s:s, s:O}", "soort", "gebeurtenis", "gebeurtenis", event);
        snprintf(out->name, sizeof out->name, "gebeurtenis-%.64s.json", id);
    }
    if (!doc) {
        event_error(errors, "", "mapping", "cannot build the case table record");
        return -1;
    }
    out->data = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!out->data)
        return -1;
    /* A text file ends with a line end. */
    size_t n = strlen(out->data);
    char *grown = realloc(out->data, n + 2);
    if (!grown)
        return -1;
    grown[n] = '\n';
    grown[n + 1] = '\0';
    out->data = grown;
    out->len = n + 1;
    snprintf(out->content_type, sizeof out->content_type, "application/json");
    return 0;
}

const struct adapter_mapping police_mapping = {
    .name = "police",
    .check_config = NULL,
    .parse = parse,
    .render = render,
};
