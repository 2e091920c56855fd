/*
 * test_reload - the pieces of a config reload (SIGHUP) below the loop:
 * config_reload_prepare (what changed, which partners were added, removed
 * or rekeyed, and that start-only keys keep their running value, both ways)
 * and deliver_reconfigure (sessions follow their partner by id; a removed
 * or rekeyed partner's session is closed; unconfirmed deliveries survive the
 * move without being sent again early). The live path (broker, ZAP, audit)
 * is tests/integration/25_reload.py.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zmq.h>

#include "check.h"
#include "config.h"
#include "deliver.h"
#include "escalate.h"
#include "keyfile.h"
#include "log.h"
#include "store.h"
#include "testconfig.h"
#include "testutil.h"

static char dir[128], root[1024], schemas[1100];

static int listed(const json_t *sum, const char *list, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(sum, list), i, v)
    {
        if (strcmp(json_string_value(v), value) == 0)
            return 1;
    }
    return 0;
}

/* The example config as written by tc_load_example, changed by `edit`, then
 * loaded from the same path (as a reload reads the same file). */
static struct config *load_edited(void (*edit)(json_t *doc))
{
    char path[300], **p = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/example.json", dir);
    json_t *doc = json_load_file(path, 0, NULL);
    if (!doc)
        return NULL;
    edit(doc);
    CHECK_INT(json_dump_file(doc, path, JSON_INDENT(2)), 0);
    json_decref(doc);
    struct config *cfg = config_load(path, &p, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  problem: %s\n", p[i]);
    config_problems_free(p, n);
    return cfg;
}

static json_t *partner_json(json_t *doc, const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(doc, "partners"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "id")), id) == 0)
            return p;
    }
    return NULL;
}

static void edit_partners_and_keys(json_t *doc)
{
    char pub[41], sec[41], pub2[41];
    zmq_curve_keypair(pub, sec);
    zmq_curve_keypair(pub2, sec);
    json_t *partners = json_object_get(doc, "partners");
    size_t i;
    json_t *p;
    json_array_foreach(partners, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "id")), "fier") == 0) {
            json_array_remove(partners, i);
            break;
        }
    }
    json_object_set_new(partner_json(doc, "gemeente-enschede"), "public_key", json_string(pub));
    json_object_set_new(partner_json(doc, "comensha"), "name", json_string("CoMensha (nieuw)"));
    json_array_append_new(partners, json_pack("{s:s, s:s, s:s}", "id", "zorg-nieuw", "role", "care",
                                              "public_key", pub2));
    json_object_set_new(doc, "listen", json_string("tcp://127.0.0.1:1"));
    json_object_set_new(doc, "delivery_window", json_integer(7));
    json_object_set_new(doc, "max_errors", json_integer(3));
}

static void summary_names_partners_and_keeps_start_only_keys(void)
{
    struct config *cur = tc_load_example(root, schemas, dir);
    CHECK(cur != NULL);
    if (!cur)
        return;
    char listen[128];
    snprintf(listen, sizeof listen, "%s", cur->listen);
    long window = cur->delivery_window;
    struct config *next = load_edited(edit_partners_and_keys);
    CHECK(next != NULL);
    if (!next) {
        config_free(&cur);
        return;
    }
    char err[512] = "";
    json_t *sum = config_reload_prepare(cur, next, err, sizeof err);
    CHECK(sum != NULL);
    if (sum) {
        CHECK(listed(sum, "partners_removed", "fier"));
        CHECK(listed(sum, "partners_rekeyed", "gemeente-enschede"));
        CHECK(listed(sum, "partners_added", "zorg-nieuw"));
        CHECK(listed(sum, "partners_changed", "comensha"));
        CHECK_INT(json_array_size(json_object_get(sum, "partners_removed")), 1);
        CHECK_INT(json_array_size(json_object_get(sum, "partners_rekeyed")), 1);
        CHECK(listed(sum, "needs_restart", "listen"));
        CHECK(listed(sum, "needs_restart", "delivery_window"));
        CHECK(listed(sum, "changed", "max_errors"));
        CHECK(listed(sum, "changed", "partners"));
        CHECK(!listed(sum, "changed", "listen"));
        CHECK(!listed(sum, "changed", "routes"));
        CHECK_INT(json_array_size(json_object_get(sum, "needs_restart")), 2);
    }
    /* The running values went into next; next's own into cur. */
    CHECK_STR(next->listen, listen);
    CHECK_INT(next->delivery_window, window);
    CHECK_STR(cur->listen, "tcp://127.0.0.1:1");
    CHECK_INT(next->max_errors, 3);
    /* Back again: the same keys swap back. */
    json_t *back = config_reload_prepare(next, cur, err, sizeof err);
    CHECK(back != NULL);
    CHECK_STR(cur->listen, listen);
    CHECK_INT(cur->delivery_window, window);
    json_decref(back);
    json_decref(sum);
    config_free(&next);
    config_free(&cur);
}

static void edit_nothing(json_t *doc)
{
    (void)doc;
}

static void same_file_changes_nothing(void)
{
    struct config *cur = tc_load_example(root, schemas, dir);
    struct config *next = load_edited(edit_nothing);
    CHECK(cur && next);
    if (cur && next) {
        char err[512];
        json_t *sum = config_reload_prepare(cur, next, err, sizeof err);
        CHECK(sum != NULL);
        const char *lists[] = {"changed",          "needs_restart",    "partners_added",
                               "partners_removed", "partners_rekeyed", "partners_changed"};
        for (size_t i = 0; sum && i < sizeof lists / sizeof *lists; i++)
            CHECK_INT(json_array_size(json_object_get(sum, lists[i])), 0);
        json_decref(sum);
    }
    config_free(&next);
    config_free(&cur);
}

static void edit_alerting_without_webhook(json_t *doc)
{
    json_t *a = json_object_get(doc, "alerting");
    json_object_del(a, "webhook_secret_file");
    /* No level may use the webhook now: the example's levels do, so drop
     * the escalation of every policy (the new file is valid on its own). */
    const char *name;
    json_t *pol;
    json_object_foreach(json_object_get(doc, "policies"), name, pol)
    {
        json_object_del(pol, "escalation");
    }
}

static void alerting_change_is_kept_and_checked(void)
{
    /* Running alerting without a webhook secret; the new file has one and a
     * webhook level: the running alerting is kept, so the reload is refused
     * as a whole, and neither config is touched. */
    struct config *cur = tc_load_example(root, schemas, dir);
    struct config *plain = load_edited(edit_alerting_without_webhook);
    CHECK(cur && plain);
    if (!cur || !plain) {
        config_free(&cur);
        config_free(&plain);
        return;
    }
    char err[512] = "";
    json_t *sum = config_reload_prepare(plain, cur, err, sizeof err);
    CHECK(sum == NULL);
    CHECK(strstr(err, "/escalation/levels/") != NULL);
    CHECK(strstr(err, "webhook") != NULL);
    CHECK(plain->alerting->webhook_secret_len == 0); /* untouched */
    CHECK(cur->alerting->webhook_secret_len > 0);
    json_decref(sum);
    /* The other way (the webhook dropped with the escalation): applies, and
     * keeps the running alerting, listed as needing a restart. */
    sum = config_reload_prepare(cur, plain, err, sizeof err);
    CHECK(sum != NULL);
    CHECK(sum && listed(sum, "needs_restart", "alerting"));
    CHECK(plain->alerting->webhook_secret_len > 0);
    json_decref(sum);
    config_free(&plain);
    config_free(&cur);
}

/* ---- deliver_reconfigure ---------------------------------------------- */

static int sends;

static int count_send(void *arg, const uint8_t *rid, size_t rid_len, const char *data, size_t len)
{
    (void)arg;
    (void)rid;
    (void)rid_len;
    (void)data;
    (void)len;
    sends++;
    return 0;
}

static void make_partner(struct partner *p, char *id, uint8_t keybyte)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    memset(p->public_key, keybyte, sizeof p->public_key);
}

static void sessions_follow_partners_and_revoked_ones_close(void)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/deliver.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    char a[] = "partner-a", b[] = "partner-b", c[] = "partner-c";
    struct partner old_p[2], new_p[3];
    make_partner(&old_p[0], a, 1);
    make_partner(&old_p[1], b, 2);
    make_partner(&new_p[0], c, 3); /* added, listed first: indexes move */
    make_partner(&new_p[1], a, 1); /* same key: session kept */
    make_partner(&new_p[2], b, 9); /* rekeyed: session closed */
    struct config old_cfg, new_cfg;
    memset(&old_cfg, 0, sizeof old_cfg);
    old_cfg.partners = old_p;
    old_cfg.npartners = 2;
    old_cfg.delivery_window = 4;
    old_cfg.delivery_ack_timeout_ms = 1000;
    old_cfg.delivery_max_attempts = 5;
    old_cfg.delivery_backoff_max_ms = 4000;
    old_cfg.session_timeout_ms = 100000;
    new_cfg = old_cfg;
    new_cfg.partners = new_p;
    new_cfg.npartners = 3;
    struct deliver *d = deliver_new(&old_cfg, st);
    CHECK(d != NULL);
    CHECK_INT(store_begin(st), 0);
    CHECK_INT(store_put_delivery(st, "ev-a", "ref-1", "partner-a", "2026-11-29T08:00:00.000Z",
                                 "{\"id\":\"ev-a\"}"),
              0);
    CHECK_INT(store_put_delivery(st, "ev-b", "ref-2", "partner-b", "2026-11-29T08:00:00.000Z",
                                 "{\"id\":\"ev-b\"}"),
              0);
    CHECK_INT(store_commit(st), 0);
    deliver_heard(d, &old_p[0], (const uint8_t *)"rid-a", 5, 0);
    deliver_heard(d, &old_p[1], (const uint8_t *)"rid-b", 5, 0);
    deliver_touch(d, &old_p[0]);
    deliver_touch(d, &old_p[1]);
    sends = 0;
    deliver_run(d, 0, count_send, NULL);
    CHECK_INT(sends, 2); /* one each, both unconfirmed */
    struct deliver_stats ds;
    deliver_get_stats(d, &ds);
    CHECK_INT(ds.inflight, 2);
    /* Regression: a moved session with deliveries in flight once had them
     * freed twice (ASan: attempting double-free / NULL read). */
    CHECK_INT(deliver_reconfigure(d, &new_cfg), 0);
    deliver_get_stats(d, &ds);
    CHECK_INT(ds.sessions, 1); /* a's kept, b's closed */
    CHECK_INT(ds.inflight, 1); /* a's delivery still in its window */
    sends = 0;
    deliver_run(d, 500, count_send, NULL);
    CHECK_INT(sends, 0); /* not resent before its ack timeout */
    deliver_run(d, 1000, count_send, NULL);
    CHECK_INT(sends, 1); /* resent to a, on the same session; b has none */
    /* b with its new key: a new session gets the waiting delivery. */
    deliver_heard(d, &new_p[2], (const uint8_t *)"rid-b2", 6, 1000);
    sends = 0;
    deliver_run(d, 1000, count_send, NULL);
    CHECK_INT(sends, 1);
    deliver_confirmed(d, &new_p[1], "ev-a");
    deliver_free(&d);
    store_close(&st);
}

int main(void)
{
    char err[256], path[256];
    log_threshold = LOG_ERROR;
    tu_tempdir(dir, sizeof dir);
    tu_secrets(dir);
    if (!getcwd(root, sizeof root - 16))
        return 2;
    snprintf(schemas, sizeof schemas, "%s/schemas", root);
    snprintf(path, sizeof path, "%s/hub", dir);
    if (keyfile_generate(path, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    RUN(summary_names_partners_and_keeps_start_only_keys);
    RUN(same_file_changes_nothing);
    RUN(alerting_change_is_kept_and_checked);
    RUN(sessions_follow_partners_and_revoked_ones_close);
    tu_rmdir(dir);
    return CHECK_DONE();
}
