/*
 * adapter - the adapter core: config, loop, outbox sending with an in-flight
 * window, replies, deliveries and receipts; see adapter.h.
 *
 * Not here: partner formats (the mappings) and partner I/O (the transports),
 * the socket details (hublink), the database (outbox).
 *
 * Guarantees, and where they come from:
 *   - nothing the partner was told "received" is lost: adapter_take_input
 *     returns 0 only after the outbox commit (synchronous=FULL);
 *   - nothing is stored twice in the hub: an event keeps its id from the
 *     outbox row across resends and restarts, and the hub deduplicates by
 *     (source, id); an input read twice (crash between commit and moving the
 *     file) has the same digest and is not taken again;
 *   - a delivery is confirmed to the hub only after the transport said the
 *     partner side has it, and a redelivered id is confirmed without handing
 *     it over again (the `seen` table).
 */
#include "adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "aconfig.h"
#include "event.h"
#include "events.h"
#include "hublink.h"
#include "log.h"
#include "outbox.h"
#include "util.h"
#include "validate.h"

#define MAX_TRANSPORTS 4
#define MAX_POLL 64
#define MAX_PENDING 4096
#define MAX_FRAMES_PER_TURN 1000

struct inflight {
    int64_t seq;
    char id[64];
    char *body;
    int64_t sent_ms;    /* monotonic; 0 = not sent (since the last connection) */
    int64_t not_before; /* monotonic; after a transient rejection */
    int attempts;
};

struct pending {
    char id[64];
    json_t *event;
    int64_t next_ms; /* monotonic time of the next attempt; 0 = in progress */
    int attempts;
};

struct transport {
    const struct adapter_transport_ops *ops;
    void *state;
};

struct adapter {
    const struct adapter_mapping *mapping;
    struct aconfig *cfg;
    struct outbox *ob;
    struct validator *val;
    struct hublink *link;
    int wake[2];
    struct transport tr[MAX_TRANSPORTS];
    int n_tr;
    int deliverer;
    struct inflight *inflight;
    int n_inflight;
    int64_t cursor;
    struct pending *pending;
    int n_pending;
    long heartbeat_n;
    int64_t next_heartbeat, last_echo;
    int hub_silent_logged;
};

static volatile sig_atomic_t stopping;

/* obj[key] as a string, or def when absent or not a string. */
static const char *jstr(const json_t *obj, const char *key, const char *def)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : def;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

void adapter_output_clear(struct adapter_output *out)
{
    free(out->data);
    memset(out, 0, sizeof *out);
}

int adapter_output_json(struct adapter_output *out, json_t *doc, const char *content_type,
                        const json_t *event, json_t *errors)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        event_error(errors, "", "memory", "out of memory");
        return -1;
    }
    out->data = text;
    out->len = strlen(text);
    snprintf(out->content_type, sizeof out->content_type, "%s", content_type);
    out->name[0] = '\0';
    out->event = event;
    return 0;
}

const char *adapter_source(const struct adapter *ad)
{
    return ad->cfg->source;
}

const json_t *adapter_mapping_config(const struct adapter *ad)
{
    return ad->cfg->mapping;
}

int adapter_doc_put(struct adapter *ad, const char *key, const json_t *doc)
{
    return outbox_doc_put(ad->ob, key, doc);
}

json_t *adapter_doc_get(struct adapter *ad, const char *key)
{
    return outbox_doc_get(ad->ob, key);
}

/* ---- taking partner input ---------------------------------------------- */

int adapter_take_input(struct adapter *ad, const struct adapter_input *in, json_t *errors,
                       int *n_events)
{
    json_t *events = json_array();
    int rc = -1;
    char digest[EVENTS_DIGEST_HEX], err[512];
    if (n_events)
        *n_events = 0;
    if (!events)
        return -2;
    if (events_build(ad->mapping, ad, ad->val, ad->cfg->source, in, events, errors, digest) != 0) {
        log_msg(LOG_INFO, "event=input_refused errors=%zu", json_array_size(errors));
        goto out;
    }
    int added = outbox_add(ad->ob, digest, in->name, events, err, sizeof err);
    if (added < 0) {
        log_msg(LOG_ERROR, "event=outbox_failed error=\"%s\"", err);
        rc = -2;
        goto out;
    }
    if (added == 1) {
        log_msg(LOG_INFO, "event=input_repeat digest=%.16s (taken before; nothing new)", digest);
    } else {
        log_msg(LOG_INFO, "event=input_taken digest=%.16s events=%zu", digest,
                json_array_size(events));
        if (n_events)
            *n_events = (int)json_array_size(events);
        /* Wake the loop (it may be in zmq_poll); a full pipe is already awake. */
        ssize_t w = write(ad->wake[1], "x", 1);
        (void)w;
    }
    rc = 0;
out:
    json_decref(events);
    return rc;
}

/* ---- sending the outbox ------------------------------------------------ */

/* Keeps the rest in outbox order: a resend after a reconnect goes out in the
 * order the partner handed things in (a referral's "ontvangen" before its
 * "afgerond"), which the hub's state machine depends on. */
static void drop_inflight(struct adapter *ad, int i)
{
    free(ad->inflight[i].body);
    memmove(&ad->inflight[i], &ad->inflight[i + 1],
            (size_t)(ad->n_inflight - i - 1) * sizeof *ad->inflight);
    ad->n_inflight--;
}

static int find_inflight(struct adapter *ad, const char *id)
{
    for (int i = 0; i < ad->n_inflight; i++)
        if (strcmp(ad->inflight[i].id, id) == 0)
            return i;
    return -1;
}

static void fill_window(struct adapter *ad)
{
    int room = (int)ad->cfg->window - ad->n_inflight;
    if (room <= 0)
        return;
    struct outbox_entry *e = calloc((size_t)room, sizeof *e);
    if (!e)
        return;
    int n = outbox_pending(ad->ob, ad->cursor, room, e);
    for (int i = 0; i < n; i++) {
        struct inflight *f = &ad->inflight[ad->n_inflight++];
        memset(f, 0, sizeof *f);
        f->seq = e[i].seq;
        snprintf(f->id, sizeof f->id, "%s", e[i].id);
        f->body = e[i].body;
        if (e[i].seq > ad->cursor)
            ad->cursor = e[i].seq;
    }
    free(e);
}

/* Sends what is due; returns the next time something will be due (or -1). */
static int64_t send_due(struct adapter *ad, int64_t now)
{
    int64_t next = -1;
    for (int i = 0; i < ad->n_inflight; i++) {
        struct inflight *f = &ad->inflight[i];
        int64_t due = f->sent_ms == 0 ? f->not_before : f->sent_ms + ad->cfg->ack_timeout_ms;
        if (due <= now) {
            if (hublink_send(ad->link, f->body, strlen(f->body)) != 0)
                return now + 200; /* no connection: try again shortly */
            if (f->sent_ms != 0)
                log_msg(LOG_INFO, "event=resend id=%s attempt=%d", f->id, f->attempts + 1);
            else
                log_msg(LOG_DEBUG, "event=sent id=%s attempt=%d", f->id, f->attempts + 1);
            f->sent_ms = now;
            f->attempts++;
            due = now + ad->cfg->ack_timeout_ms;
        }
        if (next < 0 || due < next)
            next = due;
    }
    return next;
}

static int has_keyword(const json_t *errors, const char *keyword)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "keyword"));
        if (k && strcmp(k, keyword) == 0)
            return 1;
    }
    return 0;
}

static void on_reply(struct adapter *ad, const json_t *r, int64_t now)
{
    const char *id = json_string_value(json_object_get(r, "ack"));
    const char *status = json_string_value(json_object_get(r, "status"));
    const json_t *errors = json_object_get(r, "errors");
    if (!id || !status) {
        log_msg(LOG_WARN, "event=reply_unmatched status=%s errors=%zu", status ? status : "-",
                json_array_size(errors));
        return;
    }
    int i = find_inflight(ad, id);
    if (strcmp(status, "accepted") == 0) {
        int had = outbox_remove(ad->ob, id);
        if (had < 0)
            log_msg(LOG_ERROR, "event=outbox_failed op=remove id=%s", id);
        log_msg(LOG_DEBUG, "event=acked id=%s seq=%lld duplicate=%d", id,
                (long long)json_integer_value(json_object_get(r, "seq")),
                json_is_true(json_object_get(r, "duplicate")));
        if (i >= 0 && had >= 0)
            drop_inflight(ad, i);
        return;
    }
    if (has_keyword(errors, "store")) { /* the hub could not commit: send again later */
        log_msg(LOG_WARN, "event=hub_store_busy id=%s", id);
        if (i >= 0) {
            ad->inflight[i].sent_ms = 0;
            ad->inflight[i].not_before = now + ad->cfg->ack_timeout_ms;
        }
        return;
    }
    int had = outbox_reject(ad->ob, id, errors);
    size_t k;
    const json_t *e;
    json_array_foreach(errors, k, e)
    {
        log_msg(LOG_WARN, "event=rejected id=%s path=\"%s\" keyword=%s", id, jstr(e, "path", ""),
                jstr(e, "keyword", "-"));
    }
    if (had < 0)
        log_msg(LOG_ERROR, "event=outbox_failed op=reject id=%s", id);
    else if (i >= 0)
        drop_inflight(ad, i);
}

/* ---- deliveries from the hub ------------------------------------------- */

static int find_pending(struct adapter *ad, const char *id)
{
    for (int i = 0; i < ad->n_pending; i++)
        if (strcmp(ad->pending[i].id, id) == 0)
            return i;
    return -1;
}

static void drop_pending(struct adapter *ad, int i)
{
    json_decref(ad->pending[i].event);
    ad->pending[i] = ad->pending[--ad->n_pending];
}

static void send_receipt(struct adapter *ad, const char *id)
{
    json_t *r = json_pack("{s:s}", "receipt", id);
    if (hublink_send_json(ad->link, r) != 0)
        log_msg(LOG_WARN, "event=receipt_not_sent id=%s (the hub will offer it again)", id);
    else
        log_msg(LOG_DEBUG, "event=receipt id=%s", id);
    json_decref(r);
}

static void delivery_result(struct adapter *ad, int i, enum adapter_result result,
                            long retry_after_ms, const char *why)
{
    struct pending *p = &ad->pending[i];
    const char *type = json_string_value(json_object_get(p->event, "type"));
    switch (result) {
    case ADAPTER_TAKEN:
        if (outbox_mark_seen(ad->ob, p->id) != 0)
            log_msg(LOG_ERROR, "event=outbox_failed op=seen id=%s", p->id);
        log_msg(LOG_INFO, "event=delivered id=%s type=%s", p->id, type ? type : "-");
        send_receipt(ad, p->id);
        drop_pending(ad, i);
        return;
    case ADAPTER_PENDING:
        p->next_ms = 0;
        return;
    case ADAPTER_RETRY: {
        long delay = ad->cfg->delivery_retry_min_ms;
        for (int k = 0; k < p->attempts && delay < ad->cfg->delivery_retry_max_ms; k++)
            delay *= 2;
        if (delay > ad->cfg->delivery_retry_max_ms)
            delay = ad->cfg->delivery_retry_max_ms;
        if (retry_after_ms > delay)
            delay = retry_after_ms;
        p->attempts++;
        p->next_ms = util_mono_ms() + delay;
        log_msg(LOG_WARN, "event=delivery_retry id=%s attempt=%d in_ms=%ld why=\"%s\"", p->id,
                p->attempts, delay, why ? why : "");
        return;
    }
    case ADAPTER_FAILED: {
        json_t *errs = json_array();
        event_error(errs, "", "transport", "%s", why && *why ? why : "the partner refused it");
        outbox_fail_delivery(ad->ob, p->id, type, NULL, errs);
        json_decref(errs);
        log_msg(LOG_ERROR, "event=delivery_failed id=%s why=\"%s\" (not confirmed to the hub)",
                p->id, why ? why : "");
        drop_pending(ad, i);
        return;
    }
    }
}

static void attempt_delivery(struct adapter *ad, int i)
{
    struct pending *p = &ad->pending[i];
    struct adapter_output out;
    json_t *errs = json_array();
    memset(&out, 0, sizeof out);
    int r = ad->mapping->render(ad, p->event, &out, errs);
    if (r == 1) {
        log_msg(LOG_INFO, "event=delivery_not_for_partner id=%s", p->id);
        delivery_result(ad, i, ADAPTER_TAKEN, 0, NULL);
    } else if (r != 0) {
        const char *type = json_string_value(json_object_get(p->event, "type"));
        if (json_array_size(errs) == 0)
            event_error(errs, "", "mapping", "cannot render this event for the partner");
        outbox_fail_delivery(ad->ob, p->id, type, NULL, errs);
        log_msg(LOG_ERROR, "event=render_failed id=%s errors=%zu (not confirmed to the hub)", p->id,
                json_array_size(errs));
        drop_pending(ad, i);
    } else {
        struct transport *t = &ad->tr[ad->deliverer];
        long retry_after = 0;
        char why[256] = "";
        out.event = p->event;
        p->next_ms = 0;
        char id[sizeof p->id];
        memcpy(id, p->id, sizeof id);
        enum adapter_result res =
            t->ops->deliver(t->state, id, &out, &retry_after, why, sizeof why);
        /* Look it up again: the array is not ours while the transport runs. */
        int k = find_pending(ad, id);
        if (k >= 0)
            delivery_result(ad, k, res, retry_after, why);
    }
    adapter_output_clear(&out);
    json_decref(errs);
}

void adapter_delivery_done(struct adapter *ad, const char *delivery_id, enum adapter_result result,
                           long retry_after_ms, const char *why)
{
    int i = find_pending(ad, delivery_id);
    if (i >= 0 && result != ADAPTER_PENDING)
        delivery_result(ad, i, result, retry_after_ms, why);
}

static void on_delivery(struct adapter *ad, json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "id"));
    if (!id || !*id || strlen(id) > 63) {
        log_msg(LOG_WARN, "event=delivery_without_id");
        return;
    }
    int seen = outbox_seen(ad->ob, id);
    if (seen == 1) {
        log_msg(LOG_INFO, "event=redelivery id=%s (taken before: receipt only)", id);
        send_receipt(ad, id);
        return;
    }
    if (seen < 0 || find_pending(ad, id) >= 0 || ad->n_pending >= MAX_PENDING)
        return; /* in progress, or no room: the hub offers it again */
    struct pending *p = &ad->pending[ad->n_pending++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    p->event = json_incref(ev);
    attempt_delivery(ad, ad->n_pending - 1);
}

static int64_t retry_deliveries(struct adapter *ad, int64_t now)
{
    int64_t next = -1;
    for (int i = 0; i < ad->n_pending; i++) {
        int64_t due = ad->pending[i].next_ms;
        if (due == 0)
            continue;
        if (due <= now) {
            attempt_delivery(ad, i);
            return now; /* the array may have changed: look again next turn */
        }
        if (next < 0 || due < next)
            next = due;
    }
    return next;
}

/* ---- the loop ---------------------------------------------------------- */

static void on_frame(struct adapter *ad, json_t *f, int64_t now)
{
    if (json_object_get(f, "specversion"))
        on_delivery(ad, f);
    else if (json_object_get(f, "ack"))
        on_reply(ad, f, now);
    else if (json_object_get(f, "heartbeat"))
        ad->last_echo = now;
    else
        log_msg(LOG_WARN, "event=frame_unknown");
}

static void on_link_event(struct adapter *ad, enum hublink_event e, int64_t now)
{
    switch (e) {
    case HUBLINK_UP:
        log_msg(LOG_INFO, "event=hub_connected endpoint=%s", ad->cfg->endpoint);
        ad->next_heartbeat = now; /* open the session at once */
        ad->last_echo = now;
        for (int i = 0; i < ad->n_inflight; i++)
            ad->inflight[i].sent_ms = 0; /* what went out on a dead connection may be lost */
        break;
    case HUBLINK_DOWN:
        log_msg(LOG_WARN, "event=hub_disconnected endpoint=%s (reconnecting)", ad->cfg->endpoint);
        for (int i = 0; i < ad->n_inflight; i++)
            ad->inflight[i].sent_ms = 0;
        break;
    case HUBLINK_REFUSED:
        log_msg(LOG_ERROR,
                "event=hub_refused endpoint=%s (is our public key in the hub's partners list, "
                "and hub.public_key the hub's current key?)",
                ad->cfg->endpoint);
        break;
    case HUBLINK_NONE:
        break;
    }
}

static int64_t heartbeat(struct adapter *ad, int64_t now)
{
    if (now >= ad->next_heartbeat) {
        json_t *hb = json_pack("{s:I}", "heartbeat", (json_int_t)++ad->heartbeat_n);
        hublink_send_json(ad->link, hb);
        json_decref(hb);
        ad->next_heartbeat = now + ad->cfg->heartbeat_interval_ms;
    }
    if (now - ad->last_echo > ad->cfg->heartbeat_timeout_ms) {
        if (!ad->hub_silent_logged)
            log_msg(LOG_WARN, "event=hub_silent ms=%lld outbox=%ld",
                    (long long)(now - ad->last_echo), outbox_count(ad->ob));
        ad->hub_silent_logged = 1;
    } else if (ad->hub_silent_logged) {
        log_msg(LOG_INFO, "event=hub_answering");
        ad->hub_silent_logged = 0;
    }
    return ad->next_heartbeat;
}

static void lower(long *timeout, int64_t due, int64_t now)
{
    if (due < 0)
        return;
    long t = due <= now ? 0 : (long)(due - now);
    if (*timeout < 0 || t < *timeout)
        *timeout = t;
}

static int run_loop(struct adapter *ad)
{
    zmq_pollitem_t items[MAX_POLL];
    int first[MAX_TRANSPORTS], count[MAX_TRANSPORTS];
    int64_t next_prune = 0;
    while (!stopping) {
        int64_t now = util_mono_ms();
        fill_window(ad);
        long timeout = 1000;
        lower(&timeout, send_due(ad, now), now);
        lower(&timeout, heartbeat(ad, now), now);
        lower(&timeout, retry_deliveries(ad, now), now);
        if (now >= next_prune) {
            int64_t before = util_wall_ms() - (int64_t)ad->cfg->retention_days * 86400000;
            outbox_prune(ad->ob, before);
            next_prune = now + 3600000;
        }
        int n = 0;
        items[n++] = (zmq_pollitem_t){hublink_socket(ad->link), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){hublink_monitor(ad->link), 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){NULL, ad->wake[0], ZMQ_POLLIN, 0};
        for (int t = 0; t < ad->n_tr; t++) {
            first[t] = n;
            count[t] = 0;
            if (ad->tr[t].ops->prepare)
                count[t] =
                    ad->tr[t].ops->prepare(ad->tr[t].state, items + n, MAX_POLL - n, &timeout);
            n += count[t];
        }
        if (zmq_poll(items, n, timeout) < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "event=poll_failed error=\"%s\"", zmq_strerror(errno));
            return 1;
        }
        now = util_mono_ms();
        if (items[2].revents & ZMQ_POLLIN) {
            char buf[256];
            while (read(ad->wake[0], buf, sizeof buf) > 0)
                ;
        }
        enum hublink_event e;
        for (int k = 0; k < 64 && (e = hublink_event(ad->link)) != HUBLINK_NONE; k++)
            on_link_event(ad, e, now);
        for (int k = 0; k < MAX_FRAMES_PER_TURN; k++) {
            int dropped;
            json_t *f = hublink_recv(ad->link, &dropped);
            if (!f) {
                if (dropped) {
                    log_msg(LOG_WARN, "event=frame_not_json");
                    continue;
                }
                break;
            }
            on_frame(ad, f, now);
            json_decref(f);
        }
        for (int t = 0; t < ad->n_tr; t++)
            if (ad->tr[t].ops->process)
                ad->tr[t].ops->process(ad->tr[t].state, items + first[t], count[t]);
    }
    return 0;
}

/* ---- the program ------------------------------------------------------- */

static void print_errors(const char *prog, const json_t *errors)
{
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
    {
        fprintf(stderr, "%s: config error: %s: %s\n", prog,
                json_string_value(json_object_get(e, "path")),
                json_string_value(json_object_get(e, "message")));
    }
}

static char *db_path(const struct aconfig *cfg)
{
    return util_path_resolve(cfg->data_dir, "adapter.db");
}

static int list_failed(const char *prog, struct aconfig *cfg, int as_json)
{
    char err[512];
    char *path = db_path(cfg);
    struct outbox *ob = path ? outbox_open(path, err, sizeof err) : NULL;
    free(path);
    if (!ob) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }
    json_t *list = outbox_failed_list(ob, 1000);
    long waiting = outbox_count(ob);
    outbox_close(&ob);
    if (!list) {
        fprintf(stderr, "%s: cannot read the failed list\n", prog);
        return 1;
    }
    if (as_json) {
        json_t *doc = json_pack("{s:o, s:I}", "failed", list, "outbox", (json_int_t)waiting);
        char *text = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
        return 0;
    }
    if (json_array_size(list) == 0)
        printf("no failed events (%ld waiting for the hub)\n", waiting);
    size_t i;
    const json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *dir = json_string_value(json_object_get(f, "direction"));
        printf("%s  %s  %s  %s%s%s\n", json_string_value(json_object_get(f, "failed_at")),
               json_string_value(json_object_get(f, "id")),
               strcmp(dir, "in") == 0 ? "to-hub  " : "from-hub", jstr(f, "type", "-"),
               json_is_string(json_object_get(f, "input")) ? "  input=" : "", jstr(f, "input", ""));
        size_t k;
        const json_t *e;
        json_array_foreach(json_object_get(f, "errors"), k, e)
        {
            printf("    %s%s%s: %s: %s\n", jstr(e, "item", ""),
                   json_object_get(e, "item") ? " " : "", jstr(e, "path", ""),
                   jstr(e, "keyword", "-"), jstr(e, "message", ""));
        }
    }
    if (json_array_size(list) > 0)
        printf("%zu failed; %ld waiting for the hub\n", json_array_size(list), waiting);
    json_decref(list);
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --config FILE              run the adapter\n"
            "       %s --check-config FILE        check the config; exit 0 or 1\n"
            "       %s --config FILE failed [--json]   list events that failed\n",
            prog, prog, prog);
}

static void adapter_free(struct adapter *ad)
{
    for (int t = ad->n_tr - 1; t >= 0; t--)
        if (ad->tr[t].ops->stop)
            ad->tr[t].ops->stop(&ad->tr[t].state);
    for (int i = 0; i < ad->n_inflight; i++)
        free(ad->inflight[i].body);
    free(ad->inflight);
    for (int i = 0; i < ad->n_pending; i++)
        json_decref(ad->pending[i].event);
    free(ad->pending);
    hublink_close(&ad->link);
    validator_free(&ad->val);
    outbox_close(&ad->ob);
    if (ad->wake[0] >= 0)
        close(ad->wake[0]);
    if (ad->wake[1] >= 0)
        close(ad->wake[1]);
    aconfig_free(&ad->cfg);
}

static int start(struct adapter *ad, const char *prog,
                 const struct adapter_transport_ops *const *transports)
{
    char err[512];
    char *path = db_path(ad->cfg);
    ad->ob = path ? outbox_open(path, err, sizeof err) : NULL;
    free(path);
    if (!ad->ob)
        goto fail;
    if (ad->cfg->schemas && !(ad->val = validator_load(ad->cfg->schemas, err, sizeof err)))
        goto fail;
    if (pipe(ad->wake) != 0) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        goto fail;
    }
    for (int k = 0; k < 2; k++) {
        fcntl(ad->wake[k], F_SETFL, fcntl(ad->wake[k], F_GETFL) | O_NONBLOCK);
        fcntl(ad->wake[k], F_SETFD, FD_CLOEXEC);
    }
    ad->inflight = calloc((size_t)ad->cfg->window, sizeof *ad->inflight);
    ad->pending = calloc(MAX_PENDING, sizeof *ad->pending);
    if (!ad->inflight || !ad->pending) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    struct hublink_config lc = {ad->cfg->endpoint,
                                ad->cfg->hub_public_key,
                                ad->cfg->key,
                                ad->cfg->heartbeat_interval_ms,
                                ad->cfg->heartbeat_timeout_ms,
                                ad->cfg->reconnect_min_ms,
                                ad->cfg->reconnect_max_ms};
    if (!(ad->link = hublink_open(&lc, err, sizeof err)))
        goto fail;
    ad->last_echo = util_mono_ms(); /* not "silent" before the first connection */
    const char *name;
    const json_t *section;
    json_object_foreach((json_t *)ad->cfg->transports, name, section)
    {
        const struct adapter_transport_ops *ops = aconfig_transport(transports, name);
        if (!ops || ad->n_tr == MAX_TRANSPORTS)
            continue;
        struct transport *t = &ad->tr[ad->n_tr];
        t->ops = ops;
        char terr[400];
        if (ops->start(ad, section, ad->cfg->base_dir, &t->state, terr, sizeof terr) != 0) {
            snprintf(err, sizeof err, "transport %s: %s", name, terr);
            goto fail;
        }
        if (ops->deliver)
            ad->deliverer = ad->n_tr;
        ad->n_tr++;
    }
    return 0;
fail:
    log_msg(LOG_ERROR, "event=start_failed error=\"%s\"", err);
    fprintf(stderr, "%s: %s\n", prog, err);
    return -1;
}

int adapter_main(int argc, char **argv, const struct adapter_mapping *mapping,
                 const struct adapter_transport_ops *const *transports)
{
    char prog[64];
    snprintf(prog, sizeof prog, "adapter-%s", mapping->name);
    const char *config = NULL, *check = NULL;
    int failed_cmd = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--check-config") == 0 && i + 1 < argc)
            check = argv[++i];
        else if (strcmp(argv[i], "failed") == 0)
            failed_cmd = 1;
        else if (strcmp(argv[i], "--json") == 0 && failed_cmd)
            as_json = 1;
        else {
            usage(prog);
            return 2;
        }
    }
    if ((config == NULL) == (check == NULL) || (check && failed_cmd)) {
        usage(prog);
        return 2;
    }
    json_t *errors = json_array();
    struct adapter ad;
    memset(&ad, 0, sizeof ad);
    ad.wake[0] = ad.wake[1] = -1;
    ad.mapping = mapping;
    ad.cfg = aconfig_load(check ? check : config, mapping, transports, 1, errors);
    if (!ad.cfg) {
        print_errors(prog, errors);
        json_decref(errors);
        return check ? 1 : 2;
    }
    json_decref(errors);
    if (check) {
        if (ad.cfg->schemas) {
            char err[512];
            struct validator *v = validator_load(ad.cfg->schemas, err, sizeof err);
            if (!v) {
                fprintf(stderr, "%s: config error: /schemas: %s\n", prog, err);
                aconfig_free(&ad.cfg);
                return 1;
            }
            validator_free(&v);
        }
        printf("%s: config ok: hub %s, source %s, %zu transport(s)\n", prog, ad.cfg->endpoint,
               ad.cfg->source, json_object_size(ad.cfg->transports));
        aconfig_free(&ad.cfg);
        return 0;
    }
    if (failed_cmd) {
        int rc = list_failed(prog, ad.cfg, as_json);
        aconfig_free(&ad.cfg);
        return rc;
    }
    log_threshold = ad.cfg->log_level;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = 1;
    if (start(&ad, prog, transports) == 0) {
        log_msg(LOG_INFO, "event=started adapter=%s hub=%s outbox=%ld", mapping->name,
                ad.cfg->endpoint, outbox_count(ad.ob));
        rc = run_loop(&ad);
        log_msg(LOG_INFO, "event=stopped outbox=%ld", outbox_count(ad.ob));
    }
    adapter_free(&ad);
    return rc;
}
