/*
 * receive (ketenctl) - receive deliveries as a partner; see receive.h.
 */
#include "receive.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "util.h"

#define HEARTBEAT_MS 2000
#define OFFER_TYPE "nl.mensenhandel.doorverwijzingen.doorverwijzing-aangeboden"
#define RESPONSE_PREFIX "nl.mensenhandel.doorverwijzingen.doorverwijzing-"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

struct receive_opts {
    const char *hub, *hub_key, *key;
    int accept;
    long count;   /* 0: no limit */
    long timeout; /* seconds, 0: none */
};

static int parse(int argc, char **argv, struct receive_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--accept") == 0) {
            o->accept = 1;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (strcmp(a, "--hub") == 0)
            o->hub = v;
        else if (strcmp(a, "--hub-key") == 0)
            o->hub_key = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--count") == 0) {
            if (util_parse_long(v, 1, 1000000, &o->count) != 0)
                return -1;
        } else if (strcmp(a, "--timeout") == 0) {
            if (util_parse_long(v, 1, 86400, &o->timeout) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return o->hub && o->hub_key && o->key ? 0 : -1;
}

static void send_json(void *sock, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (text)
        zmq_send(sock, text, strlen(text), 0);
    free(text);
    json_decref(j);
}

/* Answers a referral: received, then accepted (two events). */
static void accept_offer(struct client *c, const json_t *offer)
{
    const char *ref =
        json_string_value(json_object_get(json_object_get(offer, "data"), "doorverwijzing"));
    if (!ref)
        return;
    static const char *const kinds[] = {"ontvangen", "geaccepteerd"};
    for (int i = 0; i < 2; i++) {
        char id[UTIL_UUID_LEN], when[UTIL_TIME_LEN], type[128], source[96];
        util_uuid4(id);
        util_time_now(when);
        snprintf(type, sizeof type, "%s%s", RESPONSE_PREFIX, kinds[i]);
        snprintf(source, sizeof source, "urn:ketenhub:ketenctl:%.40s", c->partner_public);
        for (char *p = source; *p; p++) /* Z85 has characters a URN should not */
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == ':'))
                *p = '-';
        send_json(c->sock, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s}}", "specversion", "1.0",
                                     "id", id, "source", source, "type", type, "time", when, "data",
                                     "doorverwijzing", ref));
    }
}

int receive_main(int argc, char **argv)
{
    struct receive_opts o = {0};
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: ketenctl receive --hub ENDPOINT --hub-key HUB.pub --key "
                        "PARTNER.key [--accept] [--count N] [--timeout SECONDS]\n");
        return 2;
    }
    char err[512];
    struct client c;
    if (client_open(&c, o.hub, o.hub_key, o.key, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl receive: %s\n", err);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long received = 0, heartbeat = 0;
    int rc = 0;
    int64_t start = util_mono_ms(), next_beat = 0;
    while (!stopping && (o.count == 0 || received < o.count)) {
        int64_t now = util_mono_ms();
        if (o.timeout && now - start >= o.timeout * 1000) {
            rc = o.count ? 1 : 0;
            if (o.count)
                fprintf(stderr, "ketenctl receive: %ld of %ld deliveries within %ld s\n", received,
                        o.count, o.timeout);
            break;
        }
        if (now >= next_beat) {
            /* Heartbeats open the session (the hub learns where to deliver
             * from any frame) and keep it open. */
            send_json(c.sock, json_pack("{s:I}", "heartbeat", (json_int_t)++heartbeat));
            next_beat = now + HEARTBEAT_MS;
        }
        zmq_pollitem_t items[2] = {{c.sock, 0, ZMQ_POLLIN, 0}, {c.monitor, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, (long)(next_beat - now)) < 0)
            continue; /* EINTR: the loop checks `stopping` */
        if (items[1].revents & ZMQ_POLLIN) {
            const char *why = client_handshake_failure(&c);
            if (why) {
                fprintf(stderr, "ketenctl receive: %s\n", why);
                rc = 1;
                break;
            }
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c.sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        json_t *frame = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
        const char *event_id = json_string_value(json_object_get(frame, "id"));
        if (json_object_get(frame, "specversion") && event_id) {
            fwrite(zmq_msg_data(&m), 1, zmq_msg_size(&m), stdout);
            fputc('\n', stdout);
            fflush(stdout);
            /* Printed: now it is ours, and the receipt may go. */
            send_json(c.sock, json_pack("{s:s}", "receipt", event_id));
            const char *type = json_string_value(json_object_get(frame, "type"));
            if (o.accept && type && strcmp(type, OFFER_TYPE) == 0)
                accept_offer(&c, frame);
            received++;
        } else if (json_object_get(frame, "ack")) {
            const char *status = json_string_value(json_object_get(frame, "status"));
            if (!status || strcmp(status, "accepted") != 0) {
                fprintf(stderr, "ketenctl receive: the hub rejected an answer: %.*s\n",
                        (int)zmq_msg_size(&m), (const char *)zmq_msg_data(&m));
                rc = 1;
            }
        }
        json_decref(frame);
        zmq_msg_close(&m);
    }
    /* Let the last receipts and answers leave before closing. */
    int linger = 1000;
    zmq_setsockopt(c.sock, ZMQ_LINGER, &linger, sizeof linger);
    client_close(&c);
    return rc;
}
