/*
 * ketenctl - the ketenhub admin and partner-developer command line.
 *
 *   ketenctl keygen PATH
 *   ketenctl --config FILE status [--json]
 *   ketenctl send --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key
 *                 [--timeout SECONDS] EVENT.json...
 *
 * `status` reads the hub's database read-only; `send` is a test client that
 * speaks the partner protocol exactly as docs/protocol.md describes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "config.h"
#include "keyfile.h"
#include "store.h"
#include "util.h"

#define EVENT_FILE_MAX (16 * 1024 * 1024)
#define SEND_WINDOW 64

static void usage(FILE *out)
{
    fprintf(out, "usage: ketenctl keygen PATH\n"
                 "       ketenctl --config FILE status [--json]\n"
                 "       ketenctl send --hub ENDPOINT --hub-key HUB.pub --key PARTNER.key\n"
                 "                     [--timeout SECONDS] EVENT.json...\n"
                 "\n"
                 "keygen   writes PATH.pub (Z85 public key) and PATH.key (key pair, mode 0600)\n"
                 "status   counts of stored events, intake outcomes and audit records\n"
                 "send     sends each event file (\"-\" = stdin) over CURVE, prints each reply\n"
                 "         as one JSON line; exits 0 only if every event was accepted\n");
}

static int cmd_keygen(int argc, char **argv)
{
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    char err[512];
    if (keyfile_generate(argv[1], err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl keygen: %s\n", err);
        return 1;
    }
    char pub[41];
    if (keyfile_read_public(argv[1], pub, err, sizeof err) == 0)
        fprintf(stderr, "wrote %s.key (secret, mode 0600) and %s.pub\n", argv[1], argv[1]);
    /* The public key on stdout, so scripts can capture it. */
    char path[4096];
    snprintf(path, sizeof path, "%s.pub", argv[1]);
    if (keyfile_read_public(path, pub, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", pub);
    return 0;
}

static void print_groups(const char *title, const json_t *obj)
{
    const char *k;
    json_t *v;
    printf("  %-10s", title);
    if (json_object_size(obj) == 0)
        printf(" -");
    int first = 1;
    json_object_foreach((json_t *)obj, k, v)
    {
        printf("%s %s: %lld", first ? "" : ",", k, (long long)json_integer_value(v));
        first = 0;
    }
    printf("\n");
}

static int cmd_status(const char *config_path, int argc, char **argv)
{
    int as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (!config_path || (argc > 1 && !as_json)) {
        usage(stderr);
        return 2;
    }
    char **problems = NULL;
    size_t np = 0;
    struct config *cfg = config_load(config_path, &problems, &np);
    for (size_t i = 0; i < np; i++)
        fprintf(stderr, "ketenctl: config error: %s\n", problems[i]);
    config_problems_free(problems, np);
    if (!cfg)
        return 1;
    char err[1024];
    struct store *st = store_open_readonly(cfg->database, err, sizeof err);
    if (!st) {
        fprintf(stderr, "ketenctl status: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    json_t *s = store_stats(st);
    int rc = 0;
    if (!s) {
        fprintf(stderr, "ketenctl status: cannot read %s: %s\n", cfg->database, store_errmsg(st));
        rc = 1;
    } else if (as_json) {
        json_object_set_new(s, "database", json_string(cfg->database));
        json_dumpf(s, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("\n");
    } else {
        printf("database   %s (schema version %lld)\n", cfg->database,
               (long long)json_integer_value(json_object_get(s, "schema_version")));
        printf("events     %lld stored, last seq %lld\n",
               (long long)json_integer_value(json_object_get(s, "events")),
               (long long)json_integer_value(json_object_get(s, "last_seq")));
        print_groups("by type", json_object_get(s, "by_type"));
        print_groups("by partner", json_object_get(s, "by_partner"));
        print_groups("intake", json_object_get(s, "intake_outcomes"));
        printf("audit      %lld records\n",
               (long long)json_integer_value(json_object_get(s, "audit_records")));
    }
    json_decref(s);
    store_close(&st);
    config_free(&cfg);
    return rc;
}

static char *read_event(const char *path, size_t *len, char *err, size_t errlen)
{
    if (strcmp(path, "-") != 0)
        return util_read_file(path, EVENT_FILE_MAX, len, err, errlen);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *grown = cap < EVENT_FILE_MAX ? realloc(buf, cap * 2) : NULL;
            if (!grown) {
                free(buf);
                snprintf(err, errlen, "stdin is larger than %d bytes", EVENT_FILE_MAX);
                return NULL;
            }
            buf = grown;
            cap *= 2;
        }
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *len = n;
    return buf;
}

/* Why a connection failed, from the socket monitor; NULL while no news. */
static const char *monitor_failure(void *mon)
{
    static char why[160];
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&event, zmq_msg_data(&m), 2);
        memcpy(&value, (char *)zmq_msg_data(&m) + 2, 4);
    }
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) { /* the endpoint frame */
        zmq_msg_init(&m);
        zmq_msg_recv(&m, mon, 0);
        zmq_msg_close(&m);
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(why, sizeof why,
                 "the hub refused this key (status %u): is its public key in the hub's "
                 "partners list?",
                 value);
        return why;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        snprintf(why, sizeof why,
                 "CURVE handshake failed: is --hub-key the hub's current public key?");
        return why;
    }
    return NULL;
}

struct send_opts {
    const char *hub, *hub_key, *key;
    long timeout_s;
    char **files;
    int nfiles;
};

static int parse_send(int argc, char **argv, struct send_opts *o)
{
    o->timeout_s = 10;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            return -1;
        if (strcmp(argv[i], "--hub") == 0)
            o->hub = argv[i + 1];
        else if (strcmp(argv[i], "--hub-key") == 0)
            o->hub_key = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            o->key = argv[i + 1];
        else if (strcmp(argv[i], "--timeout") == 0) {
            if (util_parse_long(argv[i + 1], 1, 3600, &o->timeout_s) != 0)
                return -1;
        } else
            return -1;
    }
    o->files = argv + i;
    o->nfiles = argc - i;
    return o->hub && o->hub_key && o->key && o->nfiles > 0 ? 0 : -1;
}

static int cmd_send(int argc, char **argv)
{
    struct send_opts o = {0};
    char err[1024], hub_pub[41], pub[41], sec[41];
    if (parse_send(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (keyfile_read_public(o.hub_key, hub_pub, err, sizeof err) != 0 ||
        keyfile_read_pair(o.key, pub, sec, err, sizeof err) != 0) {
        fprintf(stderr, "ketenctl send: %s\n", err);
        return 2;
    }
    /* Read every file first: a typo in the last name should not leave half sent. */
    char **bodies = calloc((size_t)o.nfiles, sizeof *bodies);
    size_t *lens = calloc((size_t)o.nfiles, sizeof *lens);
    int rc = 2;
    void *ctx = zmq_ctx_new(), *sock = NULL, *mon = NULL;
    if (!bodies || !lens || !ctx)
        goto done;
    for (int i = 0; i < o.nfiles; i++) {
        bodies[i] = read_event(o.files[i], &lens[i], err, sizeof err);
        if (!bodies[i]) {
            fprintf(stderr, "ketenctl send: %s\n", err);
            goto done;
        }
    }
    sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, hub_pub, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    sodium_memzero(sec, sizeof sec);
    zmq_socket_monitor(sock, "inproc://ketenctl-monitor",
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
    mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_connect(mon, "inproc://ketenctl-monitor");
    if (zmq_connect(sock, o.hub) != 0) {
        fprintf(stderr, "ketenctl send: cannot connect to %s: %s\n", o.hub, zmq_strerror(errno));
        goto done;
    }
    int sent = 0, replies = 0, accepted = 0;
    int64_t deadline = util_mono_ms() + o.timeout_s * 1000;
    rc = 1;
    while (replies < o.nfiles) {
        while (sent < o.nfiles && sent - replies < SEND_WINDOW) {
            if (zmq_send(sock, bodies[sent], lens[sent], 0) < 0) {
                fprintf(stderr, "ketenctl send: %s\n", zmq_strerror(errno));
                goto done;
            }
            sent++;
        }
        zmq_pollitem_t items[2] = {{sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        long wait = (long)(deadline - util_mono_ms());
        if (wait <= 0 || zmq_poll(items, 2, wait) < 0)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            const char *why = monitor_failure(mon);
            if (why) {
                fprintf(stderr, "ketenctl send: %s\n", why);
                goto done;
            }
        }
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        json_t *reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
        fwrite(zmq_msg_data(&m), 1, zmq_msg_size(&m), stdout);
        fputc('\n', stdout);
        fflush(stdout);
        zmq_msg_close(&m);
        const char *status = json_string_value(json_object_get(reply, "status"));
        accepted += status && strcmp(status, "accepted") == 0;
        json_decref(reply);
        replies++;
        deadline = util_mono_ms() + o.timeout_s * 1000;
    }
    if (replies < o.nfiles)
        fprintf(stderr,
                "ketenctl send: no reply from %s within %ld s for %d of %d events "
                "(is the hub running there?)\n",
                o.hub, o.timeout_s, o.nfiles - replies, o.nfiles);
    rc = accepted == o.nfiles ? 0 : 1;
done:
    sodium_memzero(sec, sizeof sec);
    if (bodies)
        for (int i = 0; i < o.nfiles; i++)
            free(bodies[i]);
    free(bodies);
    free(lens);
    if (sock) {
        zmq_socket_monitor(sock, NULL, 0);
        zmq_close(sock);
    }
    if (mon)
        zmq_close(mon);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int i = 1;
    if (sodium_init() < 0)
        return 1;
    while (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
        config_path = argv[i + 1];
        i += 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(argc - i, argv + i);
    if (strcmp(cmd, "status") == 0)
        return cmd_status(config_path, argc - i, argv + i);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(argc - i, argv + i);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ketenctl: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
