/*
 * intake - validate, authorise, store and answer a batch of frames; see intake.h.
 *
 * Privacy: replies go back to the sender and may quote its own values; the
 * log and the audit trail get only ids, JSON pointers and keywords.
 */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "util.h"

struct intake {
    const struct config *cfg;
    const struct catalog *cat;
    struct store *st;
    char store_error[256];
};

/* What phase one (checking, no store) decided for one message. */
struct checked {
    json_t *event;  /* parsed event, NULL if rejected before parsing */
    json_t *errors; /* non-empty: rejected */
    const char *id; /* points into event, may be NULL */
    const char *type;
};

struct intake *intake_new(const struct config *cfg, const struct catalog *cat, struct store *st)
{
    struct intake *in = calloc(1, sizeof *in);
    if (in) {
        in->cfg = cfg;
        in->cat = cat;
        in->st = st;
    }
    return in;
}

void intake_free(struct intake **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

const char *intake_store_error(const struct intake *in)
{
    return in->store_error;
}

static void check_one(struct intake *in, const struct intake_msg *m, struct checked *c)
{
    size_t max_errors = (size_t)in->cfg->max_errors;
    c->errors = json_array();
    if (m->frames != 1) {
        event_error(c->errors, "", "frames",
                    "a message must be exactly one frame holding one JSON object, got %d frames",
                    m->frames);
        return;
    }
    c->event = event_parse(m->data, m->len, (int)in->cfg->max_json_depth, c->errors);
    if (!c->event)
        return;
    const json_t *id = json_object_get(c->event, "id");
    c->id = json_is_string(id) ? json_string_value(id) : NULL;
    schema_validate(catalog_envelope(in->cat), c->event, c->errors, "", max_errors);
    const json_t *type = json_object_get(c->event, "type");
    if (!json_is_string(type))
        return; /* the envelope schema has said so */
    c->type = json_string_value(type);
    enum event_type t;
    if (authz_type_parse(c->type, &t) != 0) {
        event_error(c->errors, "/type", "type", "unknown event type \"%s\"", c->type);
        return;
    }
    if (!(in->cfg->authorisation[m->partner->role] & (1u << t))) {
        event_error(c->errors, "/type", "authorisation",
                    "partner role \"%s\" may not send events of type \"%s\"",
                    authz_role_name(m->partner->role), c->type);
        return;
    }
    const json_t *data = json_object_get(c->event, "data");
    if (data)
        schema_validate(catalog_data(in->cat, t), data, c->errors, "/data", max_errors);
    while (json_array_size(c->errors) > max_errors)
        json_array_remove(c->errors, json_array_size(c->errors) - 1);
}

/* For an id already stored: 1 if the stored event has the same content as
 * this one (a resend), 0 if not (a conflict), -1 on a store error. */
static int same_as_stored(struct intake *in, int64_t seq, const struct intake_msg *m,
                          const json_t *event)
{
    size_t len = 0;
    char *stored = store_event_body(in->st, seq, &len);
    if (!stored)
        return -1;
    int same = event_same_content(stored, len, m->data, m->len, event);
    free(stored);
    return same;
}

static json_t *reply_rejected(const char *id, json_t *errors)
{
    return json_pack("{s:o, s:s, s:O}", "ack", id ? json_string(id) : json_null(), "status",
                     "rejected", "errors", errors);
}

/* "[{"path":..,"keyword":..}]" without messages: what the audit may keep. */
static char *errors_for_audit(const json_t *errors)
{
    json_t *slim = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        json_t *s = json_object();
        json_object_set(s, "path", json_object_get(e, "path"));
        if (json_object_get(e, "keyword"))
            json_object_set(s, "keyword", json_object_get(e, "keyword"));
        json_array_append_new(slim, s);
    }
    char *text = json_dumps(slim, JSON_COMPACT);
    json_decref(slim);
    return text;
}

/* "path:keyword,path:keyword" for a log line, bounded. */
static void errors_for_log(const json_t *errors, char *out, size_t outlen)
{
    size_t used = 0, i;
    json_t *e;
    out[0] = '\0';
    json_array_foreach(errors, i, e)
    {
        const char *kw = json_string_value(json_object_get(e, "keyword"));
        int w = snprintf(out + used, outlen - used, "%s%s:%s", i ? "," : "",
                         json_string_value(json_object_get(e, "path")), kw ? kw : "-");
        if (w < 0 || (size_t)w >= outlen - used)
            break;
        used += (size_t)w;
    }
}

int intake_run(struct intake *in, struct intake_msg *msgs, size_t n)
{
    struct checked *cs = calloc(n, sizeof *cs);
    char received[UTIL_TIME_LEN];
    int rc = 0;
    if (!cs)
        return -1;
    util_time_now(received);
    for (size_t i = 0; i < n; i++)
        check_one(in, &msgs[i], &cs[i]);

    if (store_begin(in->st) != 0)
        goto store_failed;
    for (size_t i = 0; i < n; i++) {
        struct checked *c = &cs[i];
        const struct partner *p = msgs[i].partner;
        struct audit_record ar = {received, p->id, authz_role_name(p->role), "intake", c->id,
                                  NULL,     NULL};
        char *detail = NULL;
        if (json_array_size(c->errors) == 0) {
            /* The frame as received is what is kept: no second serialisation,
             * and byte for byte what the partner sent. */
            struct store_event ev = {
                .partner = p->id,
                .source = json_string_value(json_object_get(c->event, "source")),
                .id = c->id,
                .type = c->type,
                .time = json_string_value(json_object_get(c->event, "time")),
                .received = received,
                .body = msgs[i].data,
                .body_len = msgs[i].len,
            };
            int64_t seq = 0;
            int put = store_put_event(in->st, &ev, &seq);
            int same = put == STORE_EXISTS ? same_as_stored(in, seq, &msgs[i], c->event) : 1;
            if (put < 0 || same < 0)
                goto store_failed;
            if (!same) {
                event_error(c->errors, "/id", "idempotency",
                            "id \"%s\" from source \"%s\" was already used for an event with "
                            "other content",
                            c->id, ev.source);
            } else {
                msgs[i].reply = json_pack("{s:s, s:s, s:I}", "ack", c->id, "status", "accepted",
                                          "seq", (json_int_t)seq);
                if (put == STORE_EXISTS)
                    json_object_set_new(msgs[i].reply, "duplicate", json_true());
                ar.outcome = put == STORE_EXISTS ? "duplicate" : "accepted";
                char seqtext[32];
                snprintf(seqtext, sizeof seqtext, "{\"seq\":%lld}", (long long)seq);
                ar.detail = seqtext;
                if (store_audit(in->st, &ar) != 0)
                    goto store_failed;
                log_msg(LOG_DEBUG, "event=intake partner=%s id=%s outcome=%s seq=%lld", p->id,
                        c->id, ar.outcome, (long long)seq);
                continue;
            }
        }
        detail = errors_for_audit(c->errors);
        ar.outcome = "rejected";
        ar.detail = detail;
        int arc = store_audit(in->st, &ar);
        free(detail);
        if (arc != 0)
            goto store_failed;
        msgs[i].reply = reply_rejected(c->id, c->errors);
        if (log_threshold <= LOG_INFO) {
            char paths[512];
            errors_for_log(c->errors, paths, sizeof paths);
            log_msg(LOG_INFO, "event=intake partner=%s id=%s outcome=rejected errors=%s", p->id,
                    c->id ? c->id : "-", paths);
        }
    }
    if (store_commit(in->st) != 0)
        goto store_failed;
    goto done;

store_failed:
    snprintf(in->store_error, sizeof in->store_error, "%s", store_errmsg(in->st));
    store_rollback(in->st);
    rc = -1;
    for (size_t i = 0; i < n; i++) {
        json_decref(msgs[i].reply);
        json_t *errors = json_array();
        event_error(errors, "", "store",
                    "the hub could not store this event; nothing was kept, send it again later");
        msgs[i].reply = reply_rejected(cs[i].id, errors);
        json_decref(errors);
    }
done:
    for (size_t i = 0; i < n; i++) {
        json_decref(cs[i].errors);
        json_decref(cs[i].event);
    }
    free(cs);
    return rc;
}
