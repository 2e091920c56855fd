/*
 * intake - validate, authorise, store and answer a batch of frames; see intake.h.
 *
 * Privacy: replies go back to the sender and may quote its own values; the
 * log and the audit trail get only ids, JSON pointers and keywords.
 */
#include "intake.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "referrals.h"
#include "util.h"

/* Batches smaller than this are checked on the caller's thread: for a few
 * events the hand-over costs more than it saves, and latency matters. */
#define PARALLEL_MIN 16

/* The helper thread that checks a batch while the caller stores the one
 * before. The fields below the mutex are handed over under it; a batch's
 * messages belong to the helper from intake_check_start to intake_check_wait. */
struct helper {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int has_job, stop;
    struct intake_msg *msgs;
    size_t n;
};

struct intake {
    const struct config *cfg;
    const struct catalog *cat;
    struct store *st;
    char store_error[256];
    struct helper helper;
    const struct partner **touched; /* partners with new deliveries, this batch */
    size_t ntouched;
};

/* Receipts ({"receipt": "<event id>"}) and heartbeats ({"heartbeat": n}) are
 * not events. Returns 0 for an event, 1 for one of these (m->kind set, or an
 * error added when the frame looks like one but is malformed). */
static int classify_control(struct intake_msg *m)
{
    struct intake_check *c = &m->check;
    const json_t *receipt = json_object_get(c->event, "receipt");
    const json_t *heartbeat = json_object_get(c->event, "heartbeat");
    if ((!receipt && !heartbeat) || json_object_get(c->event, "specversion"))
        return 0;
    if (json_object_size(c->event) == 1 && json_is_string(receipt) &&
        json_string_length(receipt) > 0 && json_string_length(receipt) < 64) {
        m->kind = INTAKE_RECEIPT;
        c->id = json_string_value(receipt);
    } else if (json_object_size(c->event) == 1 && json_is_integer(heartbeat)) {
        m->kind = INTAKE_HEARTBEAT;
    } else {
        event_error(c->errors, "", "frame",
                    "a receipt is {\"receipt\": \"<event id>\"} and a heartbeat is "
                    "{\"heartbeat\": <integer>}, with nothing else");
    }
    return 1;
}

static void check_one(struct intake *in, struct intake_msg *m);

static void check_range(struct intake *in, struct intake_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_one(in, &msgs[i]);
}

static void *helper_main(void *arg)
{
    struct intake *in = arg;
    struct helper *h = &in->helper;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->has_job && !h->stop)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        pthread_mutex_unlock(&h->mu);
        check_range(in, h->msgs, h->n);
        pthread_mutex_lock(&h->mu);
        h->has_job = 0;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    schema_thread_done();
    return NULL;
}

struct intake *intake_new(const struct config *cfg, const struct catalog *cat, struct store *st)
{
    struct intake *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->cfg = cfg;
    in->cat = cat;
    in->st = st;
    in->touched = calloc(cfg->npartners + 1, sizeof *in->touched);
    if (!in->touched) {
        free(in);
        return NULL;
    }
    /* jansson's hash seed is set by the first JSON value made, and the config
     * and schemas were loaded on this thread before: the helper starts after. */
    struct helper *h = &in->helper;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    h->started = pthread_create(&h->thread, NULL, helper_main, in) == 0;
    return in;
}

void intake_free(struct intake **self_p)
{
    struct intake *in = *self_p;
    if (!in)
        return;
    struct helper *h = &in->helper;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = 1;
        pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(in->touched);
    free(in);
    *self_p = NULL;
}

void intake_check_start(struct intake *in, struct intake_msg *msgs, size_t n)
{
    struct helper *h = &in->helper;
    if (!h->started || n < PARALLEL_MIN) {
        check_range(in, msgs, n);
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->msgs = msgs;
    h->n = n;
    h->has_job = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void intake_check_wait(struct intake *in)
{
    struct helper *h = &in->helper;
    if (!h->started)
        return;
    pthread_mutex_lock(&h->mu);
    while (h->has_job)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

int intake_run(struct intake *in, struct intake_msg *msgs, size_t n)
{
    intake_check_start(in, msgs, n);
    intake_check_wait(in);
    int rc = intake_store(in, msgs, n);
    intake_release(msgs, n);
    return rc;
}

const char *intake_store_error(const struct intake *in)
{
    return in->store_error;
}

/* Frees what an earlier check left in `c`. */
static void release_check(struct intake_check *c)
{
    json_decref(c->errors);
    json_decref(c->event);
    referrals_plan_free(&c->plan);
    memset(c, 0, sizeof *c);
}

void intake_release(struct intake_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        release_check(&msgs[i].check);
}

static void check_one(struct intake *in, struct intake_msg *m)
{
    struct intake_check *c = &m->check;
    /* The previous batch in this slot is freed here, on the checking
     * thread, rather than by the caller that commits and answers. */
    release_check(c);
    size_t max_errors = (size_t)in->cfg->max_errors;
    c->errors = json_array();
    if (m->frames != 1) {
        event_error(c->errors, "", "frames",
                    "a message must be exactly one frame holding one JSON object, got %d frames",
                    m->frames);
        return;
    }
    m->kind = INTAKE_EVENT;
    c->event = event_parse(m->data, m->len, (int)in->cfg->max_json_depth, c->errors);
    if (!c->event)
        return;
    if (classify_control(m) != 0)
        return; /* a receipt or heartbeat, or a malformed one (errors say so) */
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
        goto trim;
    }
    if (!(in->cfg->authorisation[m->partner->role] & (1u << t))) {
        event_error(c->errors, "/type", "authorisation",
                    "partner role \"%s\" may not send events of type \"%s\"",
                    authz_role_name(m->partner->role), c->type);
        goto trim;
    }
    const json_t *data = json_object_get(c->event, "data");
    if (data)
        schema_validate(catalog_data(in->cat, t), data, c->errors, "/data", max_errors);
    /* Routing and the offers' JSON are worked out here, on the checking
     * thread, so the committing thread only writes rows. */
    if (t == TYPE_SIGNAAL_GEREGISTREERD && json_array_size(c->errors) == 0) {
        c->plan = referrals_plan(in->cfg, data, util_wall_ms());
        if (!c->plan)
            event_error(c->errors, "", "store", "the hub is out of memory; send it again later");
    }
trim:
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

/* Serialises a reply object into m->reply (freeing any earlier one). */
static void set_reply(struct intake_msg *m, json_t *reply)
{
    free(m->reply);
    m->reply = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    m->reply_len = m->reply ? strlen(m->reply) : 0;
    json_decref(reply);
}

static void reply_rejected(struct intake_msg *m, const char *id, json_t *errors)
{
    set_reply(m, json_pack("{s:o, s:s, s:O}", "ack", id ? json_string(id) : json_null(), "status",
                           "rejected", "errors", errors));
}

/* Whether `id` can go into JSON text as it is (no escaping needed). */
static int plain_id(const char *id)
{
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-' || *p == '.' || *p == '_' || *p == ':'))
            return 0;
    return *id != '\0' && strlen(id) <= 256;
}

/* The accepted reply, written directly: it is most of the traffic, and a
 * UUID needs no escaping. Other ids go through jansson. */
static void reply_accepted(struct intake_msg *m, const char *id, int64_t seq, int duplicate)
{
    free(m->reply);
    m->reply = NULL;
    if (plain_id(id)) {
        size_t cap = strlen(id) + 96;
        m->reply = malloc(cap);
        if (m->reply) {
            int n =
                snprintf(m->reply, cap, "{\"ack\":\"%s\",\"status\":\"accepted\",\"seq\":%lld%s}",
                         id, (long long)seq, duplicate ? ",\"duplicate\":true" : "");
            m->reply_len = (size_t)n;
        }
        return;
    }
    json_t *r =
        json_pack("{s:s, s:s, s:I}", "ack", id, "status", "accepted", "seq", (json_int_t)seq);
    if (duplicate)
        json_object_set_new(r, "duplicate", json_true());
    set_reply(m, r);
}

/* {"errors": [{"path", "keyword"}], "reason"?}: what the audit may keep of a
 * rejection. No messages (they may quote values); `reason` is for the audit
 * only (e.g. that a partner asked about someone else's referral). */
static char *errors_for_audit(const json_t *errors, const char *reason)
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
    json_t *d = json_pack("{s:o}", "errors", slim);
    if (d && reason)
        json_object_set_new(d, "reason", json_string(reason));
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
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

static void touch(void *arg, const struct partner *partner)
{
    struct intake *in = arg;
    for (size_t i = 0; i < in->ntouched; i++)
        if (in->touched[i] == partner)
            return;
    if (in->ntouched < in->cfg->npartners)
        in->touched[in->ntouched++] = partner;
}

const struct partner *const *intake_touched(const struct intake *in, size_t *n)
{
    *n = in->ntouched;
    return in->touched;
}

/* Stores one checked, valid, new event and what it causes. Returns 0 when
 * stored (reply and audit filled in), 1 when refused (errors added), -1 on a
 * store error. */
static int store_new(struct intake *in, struct intake_msg *m, const struct store_event *ev,
                     const char *received, int64_t *seq, const char **reason)
{
    struct intake_check *c = &m->check;
    enum event_type type;
    struct referrals_response plan;
    const json_t *data = json_object_get(c->event, "data");
    if (authz_type_parse(c->type, &type) != 0)
        return 1; /* checked before; cannot happen */
    int is_response = type != TYPE_SIGNAAL_GEREGISTREERD;
    if (is_response) {
        int rc = referrals_check_response(in->st, m->partner, type, data, c->errors, reason, &plan);
        if (rc != 0)
            return rc;
    }
    if (store_insert_event(in->st, ev, seq) != 0)
        return -1;
    if (is_response)
        return referrals_apply_response(in->st, m->partner, &plan, *seq, received);
    return referrals_store(in->st, *seq, m->partner, c->plan, touch, in) < 0 ? -1 : 0;
}

/* A heartbeat gets its echo; a receipt confirms a delivery (audited, no
 * reply). Returns 0, or -1 on a store error. */
static int store_control(struct intake *in, struct intake_msg *m, const char *received)
{
    free(m->reply);
    m->reply = NULL;
    m->reply_len = 0;
    if (m->kind == INTAKE_HEARTBEAT) {
        char text[64];
        int n =
            snprintf(text, sizeof text, "{\"heartbeat\":%lld}",
                     (long long)json_integer_value(json_object_get(m->check.event, "heartbeat")));
        m->reply = strdup(text);
        m->reply_len = m->reply ? (size_t)n : 0;
        return 0;
    }
    int rc = store_confirm_delivery(in->st, m->check.id, m->partner->id, received);
    if (rc < 0)
        return -1;
    m->confirmed = rc;
    struct audit_record ar = {
        received,
        m->partner->id,
        authz_role_name(m->partner->role),
        "delivery",
        m->check.id,
        rc ? "confirmed" : "refused",
        rc ? NULL : "{\"reason\":\"no pending delivery with this id for this partner\"}"};
    if (!rc)
        log_msg(LOG_INFO, "event=receipt_refused partner=%s event_id=%s", m->partner->id,
                m->check.id);
    return store_audit(in->st, &ar);
}

int intake_store(struct intake *in, struct intake_msg *msgs, size_t n)
{
    char received[UTIL_TIME_LEN];
    int rc = 0;
    util_time_now(received);
    in->ntouched = 0;

    if (store_begin(in->st) != 0)
        goto store_failed;
    for (size_t i = 0; i < n; i++) {
        struct intake_check *c = &msgs[i].check;
        const struct partner *p = msgs[i].partner;
        struct audit_record ar = {received, p->id, authz_role_name(p->role), "intake", c->id,
                                  NULL,     NULL};
        const char *reason = NULL;
        char *detail = NULL;
        msgs[i].confirmed = 0;
        if (json_array_size(c->errors) == 0 && msgs[i].kind != INTAKE_EVENT) {
            if (store_control(in, &msgs[i], received) != 0)
                goto store_failed;
            continue;
        }
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
            int found = store_find_event(in->st, &ev, &seq);
            int same = found == 1 ? same_as_stored(in, seq, &msgs[i], c->event) : 1;
            int stored = found == 0 ? store_new(in, &msgs[i], &ev, received, &seq, &reason) : 0;
            if (found < 0 || same < 0 || stored < 0)
                goto store_failed;
            if (!same) {
                event_error(c->errors, "/id", "idempotency",
                            "id \"%s\" from source \"%s\" was already used for an event with "
                            "other content",
                            c->id, ev.source);
            } else if (stored == 0) {
                reply_accepted(&msgs[i], c->id, seq, found == 1);
                ar.outcome = found == 1 ? "duplicate" : "accepted";
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
        detail = errors_for_audit(c->errors, reason);
        ar.outcome = "rejected";
        ar.detail = detail;
        int arc = store_audit(in->st, &ar);
        free(detail);
        if (arc != 0)
            goto store_failed;
        reply_rejected(&msgs[i], c->id, c->errors);
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
        json_t *errors = json_array();
        event_error(errors, "", "store",
                    "the hub could not store this event; nothing was kept, send it again later");
        reply_rejected(&msgs[i], msgs[i].check.id, errors);
        json_decref(errors);
    }
done:
    return rc;
}
