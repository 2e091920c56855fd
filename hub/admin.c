/*
 * admin - ketenctl's requests to the running hub; see admin.h.
 */
#include "admin.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "retention.h"
#include "version.h"

static char *reply_error(const char *msg)
{
    json_t *r = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
    char *text = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return text;
}

/* "admin:<user>" for the audit when ketenctl named its OS user (a name of
 * [A-Za-z0-9._-], else ignored), plain "admin" otherwise. Anyone who can use
 * the 0600 socket runs as the hub's user, so the name is what they say. */
static const char *admin_actor(const json_t *req, char *out, size_t len)
{
    const char *user = json_string_value(json_object_get(req, "user"));
    size_t n = user ? strlen(user) : 0;
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (user[i] >= 'a' && user[i] <= 'z') || (user[i] >= 'A' && user[i] <= 'Z') ||
             (user[i] >= '0' && user[i] <= '9') || user[i] == '.' || user[i] == '_' ||
             user[i] == '-';
    snprintf(out, len, ok ? "admin:%s" : "admin", ok ? user : "");
    return out;
}

char *admin_handle(struct escalate *esc, struct retention *ret, const char *request, size_t len,
                   int64_t wall_ms, int64_t mono_ms)
{
    if (len > ADMIN_REQUEST_MAX)
        return reply_error("request larger than 8192 bytes");
    json_error_t jerr;
    json_t *req = json_loadb(request, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(req)) {
        json_decref(req);
        return reply_error("request is not a JSON object");
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    char *out = NULL;
    if (op && strcmp(op, "ping") == 0) {
        json_t *r = json_pack("{s:b, s:s}", "ok", 1, "version", KETENHUB_VERSION);
        out = r ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
    } else if (op && strcmp(op, "ack") == 0) {
        const json_t *id = json_object_get(req, "escalation");
        const json_t *by = json_object_get(req, "by");
        const json_t *note = json_object_get(req, "note");
        char err[512], actor[96];
        json_t *result = NULL;
        if (!esc)
            out = reply_error("no policy in this hub's config escalates");
        else if (!json_is_integer(id) || json_integer_value(id) < 1)
            out = reply_error("/escalation: must be a positive integer");
        else if (!json_is_string(by))
            out = reply_error("/by: must be an officer id");
        else if (note && !json_is_string(note) && !json_is_null(note))
            out = reply_error("/note: must be a string");
        else if (escalate_ack(esc, (long long)json_integer_value(id), json_string_value(by),
                              json_string_value(note), admin_actor(req, actor, sizeof actor),
                              wall_ms, mono_ms, &result, err, sizeof err) != 0)
            out = reply_error(err);
        else {
            json_t *r = json_pack("{s:b, s:o}", "ok", 1, "escalation", result);
            out = r ? json_dumps(r, JSON_COMPACT) : NULL;
            json_decref(r);
        }
    } else if (op && strcmp(op, "purge") == 0) {
        const json_t *by = json_object_get(req, "by");
        if (!ret) {
            out = reply_error("no \"retention\" in this hub's config: nothing is purged");
        } else if (!json_is_string(by) || json_string_length(by) == 0 ||
                   json_string_length(by) > 64) {
            out = reply_error("/by: must be the name of the person asking (1-64 characters)");
        } else {
            json_t *r = retention_admin(ret, json_string_value(by), wall_ms);
            out = r ? json_dumps(r, JSON_COMPACT) : NULL;
            json_decref(r);
        }
    } else {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "/op: unknown operation \"%.64s\" (known: ack, ping, purge, reload)",
                 op ? op : "");
        out = reply_error(msg);
    }
    json_decref(req);
    return out;
}
