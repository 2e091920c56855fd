/*
 * ketenhubd - the ketenhub broker daemon.
 *
 *   ketenhubd --config FILE        run in the foreground, log to stderr
 *   ketenhubd --check-config FILE  check the config (and what it points at)
 *
 * Start-up is all-or-nothing: config, schemas, key and database must all be
 * sound before the socket is bound. SIGTERM/SIGINT stop the loop between
 * batches; every committed event has had its reply queued by then.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "broker.h"
#include "catalog.h"
#include "config.h"
#include "deliver.h"
#include "escalate.h"
#include "intake.h"
#include "keyfile.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "version.h"

static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    ssize_t w = write(wake_pipe[1], &c, 1);
    (void)w;
    errno = saved;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ketenhubd --config FILE\n"
                 "       ketenhubd --check-config FILE\n"
                 "       ketenhubd --version\n");
}

/* Loads config and schemas; prints every problem. Returns 0 if all is sound. */
static int load(const char *path, struct config **cfg, struct catalog **cat)
{
    char **problems = NULL;
    size_t n = 0;
    *cfg = config_load(path, &problems, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "ketenhubd: config error: %s\n", problems[i]);
    config_problems_free(problems, n);
    if (!*cfg)
        return -1;
    char err[1024];
    *cat = catalog_load((*cfg)->schemas, err, sizeof err);
    if (!*cat) {
        fprintf(stderr, "ketenhubd: config error: /schemas: %s\n", err);
        config_free(cfg);
        return -1;
    }
    /* A profile may only name fields the signal schema has: a typo would
     * otherwise silently send nothing (or, worse, be fixed by a schema change). */
    int bad = 0;
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (size_t i = 0; i < (*cfg)->nprofile[r]; i++) {
            if (!catalog_signal_field(*cat, (*cfg)->profiles[r][i])) {
                fprintf(stderr,
                        "ketenhubd: config error: /profiles/%s/%zu: \"%s\" is not a field of "
                        "the signal schema\n",
                        authz_role_name((enum role)r), i, (*cfg)->profiles[r][i]);
                bad = 1;
            }
        }
    }
    if (bad) {
        catalog_free(cat);
        config_free(cfg);
        return -1;
    }
    return 0;
}

static int check_config(const char *path)
{
    struct config *cfg = NULL;
    struct catalog *cat = NULL;
    if (load(path, &cfg, &cat) != 0)
        return 1;
    printf("%s: OK (listen %s, %zu partners, database %s)\n", path, cfg->listen, cfg->npartners,
           cfg->database);
    catalog_free(&cat);
    config_free(&cfg);
    return 0;
}

/* escalate's touch: an escalation event was queued for a partner. */
static void touch_partner(void *arg, const struct partner *partner)
{
    deliver_touch(arg, partner);
}

static int run(const char *path)
{
    struct config *cfg = NULL;
    struct catalog *cat = NULL;
    struct store *st = NULL;
    struct intake *in = NULL;
    struct broker *b = NULL;
    struct deliver *dl = NULL;
    struct notify *nt = NULL;
    struct escalate *esc = NULL;
    char pub[41], sec[41], err[1024];
    int rc = 1;
    if (load(path, &cfg, &cat) != 0)
        return 1;
    log_threshold = cfg->log_level;
    if (keyfile_read_pair(cfg->server_key, pub, sec, err, sizeof err) != 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    st = store_open(cfg->database, err, sizeof err);
    if (!st) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    in = intake_new(cfg, cat, st);
    if (!in || pipe(wake_pipe) != 0) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"out of resources\"");
        goto done;
    }
    fcntl(wake_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    dl = deliver_new(cfg, st);
    b = dl ? broker_new(cfg, pub, sec, in, st, dl, err, sizeof err) : NULL;
    sodium_memzero(sec, sizeof sec);
    if (!b) {
        log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
        goto done;
    }
    int escalates = 0;
    for (size_t i = 0; i < cfg->npolicies; i++)
        escalates |= cfg->policies[i].escalation != NULL;
    if (escalates) {
        nt = notify_new(&cfg->alerting->notify, err, sizeof err);
        esc = nt ? escalate_new(cfg, st, nt, util_wall_ms(), util_mono_ms(), touch_partner, dl, err,
                                sizeof err)
                 : NULL;
        if (!esc) {
            log_msg(LOG_ERROR, "event=start_failed reason=\"%s\"", err);
            goto done;
        }
        broker_set_escalation(b, esc, nt);
    }
    log_msg(LOG_INFO, "event=started version=%s config=%s database=%s", KETENHUB_VERSION, path,
            cfg->database);
    if (broker_run(b, wake_pipe[0]) == 0) {
        log_msg(LOG_INFO, "event=stopping");
        rc = 0;
    }
done:
    sodium_memzero(sec, sizeof sec);
    notify_free(&nt); /* before escalate: its callbacks use it */
    escalate_free(&esc);
    broker_free(&b);
    deliver_free(&dl);
    intake_free(&in);
    store_close(&st);
    catalog_free(&cat);
    config_free(&cfg);
    if (rc == 0)
        log_msg(LOG_INFO, "event=stopped");
    return rc;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "ketenhubd: libsodium failed to initialise\n");
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--config") == 0)
        return run(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--check-config") == 0)
        return check_config(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("ketenhubd %s\n", KETENHUB_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
