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
#include <sodium.h>

#include "event.h"
#include "log.h"
#include "pseudonym.h"
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
    struct match *match; /* pseudonyms and matches; NULL without a store (fuzzing) */
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
    char err[256];
    if (st)
        in->match = match_new(st, err, sizeof err);
    if (!in->touched || (st && !in->match)) {
        free(in->touched);
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
    match_free(&in->match);
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

int intake_reconfigure(struct intake *in, const struct config *cfg)
{
    const struct partner **touched = calloc(cfg->npartners + 1, sizeof *touched);
    if (!touched)
        return -1;
    free(in->touched);
    in->touched = touched;
    in->ntouched = 0;
    in->cfg = cfg;
    return 0;
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
    free(c->body);
    free(c->sealed);
    memset(c, 0, sizeof *c);
}

/* ---- identifying fields (docs/matching.md) ------------------------------
 * `identificatie` in a signal is turned into pseudonyms and removed on the
 * checking thread, before anything is routed or stored: what is stored, routed,
 * offered, logged and audited is the event without it. Runs on intake's
 * helper thread for large batches: it touches only this message's own JSON,
 * the config (read-only) and libsodium (thread-safe after sodium_init). */

#define IDF_PATH "/data/identificatie"

/* The schema's messages may quote the value (enum, const, minimum, ...). For
 * an identifying field the reply names the pointer and the rule, never the
 * value; a member that is not allowed is reported on the object, since its
 * name could be the value itself ({"123456782": true}). */
static void hide_identifying_values(json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *kw = json_string_value(json_object_get(e, "keyword"));
        size_t plen = strlen(IDF_PATH);
        if (!path || strncmp(path, IDF_PATH, plen) != 0 || (path[plen] && path[plen] != '/'))
            continue;
        const char *member = path[plen] ? path + plen + 1 : "";
        int known = strcmp(member, "bsn") == 0 || strcmp(member, "achternaam") == 0 ||
                    strcmp(member, "geboortedatum") == 0 || *member == '\0';
        char msg[200];
        if (kw &&
            (strcmp(kw, "required") == 0 || strcmp(kw, "dependentRequired") == 0 ||
             strcmp(kw, "minProperties") == 0 || strcmp(kw, "type") == 0) &&
            known)
            continue; /* these messages name properties and types, not values */
        if (!known || (kw && strcmp(kw, "additionalProperties") == 0)) {
            json_object_set_new(e, "path", json_string(IDF_PATH));
            snprintf(msg, sizeof msg,
                     "only \"bsn\", \"achternaam\" and \"geboortedatum\" are allowed here");
        } else if (strcmp(member, "bsn") == 0) {
            snprintf(msg, sizeof msg,
                     "not a BSN: 9 digits passing the elfproef (%s); the hub never repeats "
                     "identifying values",
                     kw ? kw : "invalid");
        } else {
            snprintf(msg, sizeof msg,
                     "the value fails \"%s\"; the hub never repeats identifying values",
                     kw ? kw : "invalid");
        }
        json_object_set_new(e, "message", json_string(msg));
    }
}

/* Overwrites every string inside `v` (jansson's own copies of the frame's
 * values) before the JSON is freed. jansson gives out const pointers to
 * buffers it allocated itself and never shares: writing zeros there is safe.
 * The frame itself belongs to libzmq (docs/matching.md, "In memory"). */
static void scrub(json_t *v, int depth)
{
    if (depth > 64)
        return;
    if (json_is_string(v)) {
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            scrub(m, depth + 1);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            scrub(m, depth + 1);
        }
    }
}

/* Computes one pseudonym into the check; adds an error (without the value)
 * when the value gives none. */
static void add_pseudonym(struct intake *in, struct intake_check *c, const char *kind,
                          const char *value, const char *path, const char *why)
{
    struct match_pseudonym *p = &c->pseudonyms[c->npseudonyms];
    p->kind = kind;
    if (pseudonym_compute(in->cfg->pseudonym_secret, kind, value, p->hex) == 0)
        c->npseudonyms++;
    else
        event_error(c->errors, path, "pseudonym", "%s; the hub never repeats identifying values",
                    why);
}

/* A valid signal's identifying fields: pseudonyms into the check, then the
 * fields zeroed and removed from the event, and the event as it will be
 * stored serialised into c->body. Errors (invalid ones) are added. */
static void take_identifying_fields(struct intake *in, struct intake_check *c, json_t *data)
{
    json_t *idf = json_object_get(data, "identificatie");
    if (!idf)
        return;
    if (json_array_size(c->errors) == 0) {
        const char *bsn = json_string_value(json_object_get(idf, "bsn"));
        const char *surname = json_string_value(json_object_get(idf, "achternaam"));
        const char *born = json_string_value(json_object_get(idf, "geboortedatum"));
        if (bsn)
            add_pseudonym(in, c, PSEUDONYM_KIND_BSN, bsn, IDF_PATH "/bsn",
                          "not a BSN: 9 digits passing the elfproef");
        if (surname && born) {
            size_t cap = strlen(surname) + strlen(born) + 2;
            char *value = malloc(cap);
            if (value) {
                snprintf(value, cap, "%s|%s", surname, born);
                add_pseudonym(in, c, PSEUDONYM_KIND_NAME, value, IDF_PATH "/achternaam",
                              "the surname has no letters or digits to match on");
                sodium_memzero(value, cap);
                free(value);
            } else {
                event_error(c->errors, "", "store",
                            "the hub is out of memory; send it again later");
            }
        }
    }
    scrub(idf, 0);
    json_object_del(data, "identificatie");
    if (json_array_size(c->errors) == 0) {
        c->body = json_dumps(c->event, JSON_COMPACT);
        c->body_len = c->body ? strlen(c->body) : 0;
        if (!c->body)
            event_error(c->errors, "", "store", "the hub is out of memory; send it again later");
    }
}

void intake_release(struct intake_msg *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        release_check(&msgs[i].check);
}

/* Encryption at rest, done here on the checking thread so that the thread
 * that commits only writes rows (docs/encryption.md, docs/benchmarks.md):
 * the body as it will be stored, and each offer the signal makes. Bound to
 * the rows they go into exactly as the store would bind them. When memory
 * runs out, nothing is sealed here and the store seals on its own. */
static void seal_checked(struct intake *in, struct intake_msg *m)
{
    struct intake_check *c = &m->check;
    const struct seal_key *key = in->st ? store_key(in->st) : NULL;
    const char *source = json_string_value(json_object_get(c->event, "source"));
    if (!key || !source || !c->id)
        return;
    const char *body = c->body ? c->body : m->data;
    size_t len = c->body ? c->body_len : m->len;
    c->sealed = malloc(seal_size(len));
    if (c->sealed && seal_encrypt(key, SEAL_AD_EVENT(m->partner->id, source, c->id),
                                  SEAL_AD_EVENT_N, body, len, c->sealed) == 0) {
        c->sealed_len = seal_size(len);
    } else {
        free(c->sealed);
        c->sealed = NULL;
    }
    if (c->plan)
        referrals_plan_seal(c->plan, key);
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
    json_t *data = json_object_get(c->event, "data");
    if (data)
        schema_validate(catalog_data(in->cat, t), data, c->errors, "/data", max_errors);
    if (t == TYPE_SIGNAAL_GEREGISTREERD && json_is_object(data)) {
        hide_identifying_values(c->errors);
        take_identifying_fields(in, c, data);
    }
    /* Routing and the offers' JSON are worked out here, on the checking
     * thread, so the committing thread only writes rows. */
    if (t == TYPE_SIGNAAL_GEREGISTREERD && json_array_size(c->errors) == 0) {
        c->plan = referrals_plan(in->cfg, data, m->partner->role, util_wall_ms());
        if (!c->plan)
            event_error(c->errors, "", "store", "the hub is out of memory; send it again later");
    }
    if (json_array_size(c->errors) == 0)
        seal_checked(in, m);
trim:
    while (json_array_size(c->errors) > max_errors)
        json_array_remove(c->errors, json_array_size(c->errors) - 1);
}

/* For an id already stored: 1 if the stored event has the same content as
 * this one (a resend), 0 if not (a conflict), -1 on a store error (also a
 * stored body that does not open under the key). A body purged under
 * retention cannot be compared: the resend counts as one (docs/retention.md). */
static int same_as_stored(struct intake *in, int64_t seq, const struct intake_msg *m,
                          const json_t *event)
{
    size_t len = 0;
    char *stored = NULL;
    int found = store_event_read(in->st, seq, &stored, &len);
    if (found <= 0)
        return found < 0 ? -1 : 1;
    /* A signal that carried identifying fields was stored without them: it is
     * compared in that form, and its pseudonyms with the stored ones (a
     * resend with another BSN is other content). */
    const struct intake_check *c = &m->check;
    int same = c->body ? event_same_content(stored, len, c->body, c->body_len, event)
                       : event_same_content(stored, len, m->data, m->len, event);
    free(stored);
    if (same == 1 && in->match && c->plan) /* a signal (only signals have a plan) */
        same = match_same_pseudonyms(in->match, seq, c->pseudonyms, c->npseudonyms);
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
    if (referrals_store(in->st, *seq, m->partner, c->plan, touch, in) < 0)
        return -1;
    if (c->npseudonyms > 0 && in->match) {
        /* Same transaction as the signal: a match is never lost. */
        struct match_signal sig = {*seq, c->id, m->partner, c->plan->now_ms};
        if (match_signal(in->match, in->cfg, &sig, c->pseudonyms, c->npseudonyms, touch, in) < 0)
            return -1;
    }
    return 0;
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
        rc ? NULL : "{\"reason\":\"no pending delivery with this id for this partner\"}",
        NULL,
        m->address,
        NULL};
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
        struct audit_record ar = {.time = received,
                                  .actor = p->id,
                                  .role = authz_role_name(p->role),
                                  .action = "intake",
                                  .object = c->id,
                                  .address = msgs[i].address};
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
             * and byte for byte what the partner sent. Except a signal with
             * identifying fields: it is kept without them (c->body). */
            struct store_event ev = {
                .partner = p->id,
                .source = json_string_value(json_object_get(c->event, "source")),
                .id = c->id,
                .type = c->type,
                .time = json_string_value(json_object_get(c->event, "time")),
                .received = received,
                .body = c->body ? c->body : msgs[i].data,
                .body_len = c->body ? c->body_len : msgs[i].len,
                .sealed = c->sealed,
                .sealed_len = c->sealed_len,
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
                /* The person, by pseudonym (the BSN's when there is one). */
                ar.subject = c->npseudonyms > 0 ? c->pseudonyms[0].hex : NULL;
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
