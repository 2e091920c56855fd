/*
 * test_intake - a batch of frames through checks, store and replies, with the
 * real schemas: mixed outcomes in one commit, audit rows, no values in audit.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "catalog.h"
#include "check.h"
#include "config.h"
#include "intake.h"
#include "store.h"
#include "testutil.h"

static char dir[128];

#define ENVELOPE(id, data)                                                                         \
    "{\"specversion\":\"1.0\",\"id\":\"" id "\",\"source\":\"urn:test\","                          \
    "\"type\":\"nl.mensenhandel.signalen.signaal-geregistreerd\","                                 \
    "\"time\":\"2026-11-29T08:00:00Z\",\"data\":" data "}"
#define DATA_OK                                                                                    \
    "{\"vormenVanUitbuiting\":[\"arbeid\"],\"urgentie\":\"hoog\",\"minderjarig\":false,"           \
    "\"indicatoren\":[],\"toestemming\":{\"registratieCoMensha\":true}}"
#define DATA_BAD                                                                                   \
    "{\"vormenVanUitbuiting\":[\"arbeid\"],\"urgentie\":\"spoed\",\"minderjarig\":false,"          \
    "\"indicatoren\":[],\"toestemming\":{\"registratieCoMensha\":true},\"naam\":\"Jansen\"}"

/* The reply of a message, parsed; kept until replies_free. */
static json_t *kept[128];
static size_t nkept;

static json_t *R(const struct intake_msg *m)
{
    json_t *r = m->reply ? json_loadb(m->reply, m->reply_len, 0, NULL) : NULL;
    if (nkept < sizeof kept / sizeof *kept)
        kept[nkept++] = r;
    CHECK(r != NULL);
    return r;
}

static void replies_free(struct intake_msg *msgs, size_t n)
{
    for (size_t i = 0; i < nkept; i++)
        json_decref(kept[i]);
    nkept = 0;
    for (size_t i = 0; i < n; i++) {
        free(msgs[i].reply);
        msgs[i].reply = NULL;
    }
}

static const char *status_of(const json_t *reply)
{
    return json_string_value(json_object_get(reply, "status"));
}

static void mixed_batch_is_answered_frame_by_frame_in_one_commit(void)
{
    struct partner police = {.id = "police-1", .role = ROLE_POLICE};
    struct partner care = {.id = "care-1", .role = ROLE_CARE};
    struct config cfg = {.max_json_depth = 32, .max_errors = 20};
    for (int r = 0; r < ROLE_COUNT; r++)
        cfg.authorisation[r] = authz_default((enum role)r);
    cfg.authorisation[ROLE_CARE] = 0;
    char err[512], path[256];
    struct catalog *cat = catalog_load("schemas", err, sizeof err);
    CHECK(cat != NULL);
    if (!cat) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    snprintf(path, sizeof path, "%s/intake.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct intake *in = intake_new(&cfg, cat, st);
    const char *frames[] = {
        ENVELOPE("11111111-1111-4111-8111-111111111111", DATA_OK),
        ENVELOPE("22222222-2222-4222-8222-222222222222", DATA_BAD),
        ENVELOPE("11111111-1111-4111-8111-111111111111", DATA_OK),
        "{not json",
        ENVELOPE("33333333-3333-4333-8333-333333333333", DATA_OK),
        ENVELOPE("11111111-1111-4111-8111-111111111111", "{}"),
    };
    struct intake_msg msgs[6];
    for (int i = 0; i < 6; i++) {
        msgs[i] = (struct intake_msg){.partner = i == 4 ? &care : &police,
                                      .data = frames[i],
                                      .len = strlen(frames[i]),
                                      .frames = 1};
    }
    CHECK_INT(intake_run(in, msgs, 6), 0);
    CHECK_STR(status_of(R(&msgs[0])), "accepted");
    CHECK_INT(json_integer_value(json_object_get(R(&msgs[0]), "seq")), 1);
    CHECK_STR(status_of(R(&msgs[1])), "rejected");
    json_t *errs = json_object_get(R(&msgs[1]), "errors");
    CHECK_INT(json_array_size(errs), 2);
    CHECK_STR(status_of(R(&msgs[2])), "accepted");
    CHECK(json_is_true(json_object_get(R(&msgs[2]), "duplicate")));
    CHECK_INT(json_integer_value(json_object_get(R(&msgs[2]), "seq")), 1);
    CHECK_STR(status_of(R(&msgs[3])), "rejected");
    CHECK(json_is_null(json_object_get(R(&msgs[3]), "ack")));
    CHECK_STR(status_of(R(&msgs[4])), "rejected");
    CHECK_STR(json_string_value(json_object_get(
                  json_array_get(json_object_get(R(&msgs[4]), "errors"), 0), "keyword")),
              "authorisation");
    /* Same id, other content: a conflict naming /id (data "{}" fails schema
     * first, so this one is a schema rejection, not a conflict). */
    CHECK_STR(status_of(R(&msgs[5])), "rejected");
    replies_free(msgs, 6);

    json_t *stats = store_stats(st);
    CHECK_INT(json_integer_value(json_object_get(stats, "events")), 1);
    CHECK_INT(json_integer_value(json_object_get(stats, "audit_records")), 6);
    json_decref(stats);
    intake_free(&in);
    store_close(&st);
    catalog_free(&cat);

    /* The audit keeps pointers and keywords, never the values. */
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT group_concat(detail, ' ') FROM audit", -1, &s, NULL);
    CHECK(sqlite3_step(s) == SQLITE_ROW);
    const char *all = (const char *)sqlite3_column_text(s, 0);
    CHECK(all && strstr(all, "/data/naam") != NULL);
    CHECK(all && strstr(all, "Jansen") == NULL);
    CHECK(all && strstr(all, "spoed") == NULL);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void multi_frame_message_is_rejected_without_parsing(void)
{
    struct partner police = {.id = "police-1", .role = ROLE_POLICE};
    struct config cfg = {.max_json_depth = 32, .max_errors = 20};
    cfg.authorisation[ROLE_POLICE] = authz_default(ROLE_POLICE);
    char err[512], path[256];
    struct catalog *cat = catalog_load("schemas", err, sizeof err);
    snprintf(path, sizeof path, "%s/frames.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct intake *in = intake_new(&cfg, cat, st);
    const char *frame = ENVELOPE("44444444-4444-4444-8444-444444444444", DATA_OK);
    struct intake_msg m = {.partner = &police, .data = frame, .len = strlen(frame), .frames = 2};
    CHECK_INT(intake_run(in, &m, 1), 0);
    CHECK_STR(status_of(R(&m)), "rejected");
    CHECK(json_is_null(json_object_get(R(&m), "ack")));
    replies_free(&m, 1);
    json_t *stats = store_stats(st);
    CHECK_INT(json_integer_value(json_object_get(stats, "events")), 0);
    json_decref(stats);
    intake_free(&in);
    store_close(&st);
    catalog_free(&cat);
}

static void conflicting_content_for_a_stored_id_names_id(void)
{
    struct partner police = {.id = "police-1", .role = ROLE_POLICE};
    struct config cfg = {.max_json_depth = 32, .max_errors = 20};
    cfg.authorisation[ROLE_POLICE] = authz_default(ROLE_POLICE);
    char err[512], path[256];
    struct catalog *cat = catalog_load("schemas", err, sizeof err);
    snprintf(path, sizeof path, "%s/conflict.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct intake *in = intake_new(&cfg, cat, st);
    const char *a = ENVELOPE("55555555-5555-4555-8555-555555555555", DATA_OK);
    const char *b = "{\"specversion\":\"1.0\",\"id\":\"55555555-5555-4555-8555-555555555555\","
                    "\"source\":\"urn:test\",\"type\":\"nl.mensenhandel.signalen.signaal-"
                    "geregistreerd\",\"time\":\"2026-11-29T09:00:00Z\",\"data\":" DATA_OK "}";
    struct intake_msg m[2] = {{.partner = &police, .data = a, .len = strlen(a), .frames = 1},
                              {.partner = &police, .data = b, .len = strlen(b), .frames = 1}};
    CHECK_INT(intake_run(in, m, 2), 0);
    CHECK_STR(status_of(R(&m[0])), "accepted");
    CHECK_STR(status_of(R(&m[1])), "rejected");
    json_t *e = json_array_get(json_object_get(R(&m[1]), "errors"), 0);
    CHECK_STR(json_string_value(json_object_get(e, "path")), "/id");
    CHECK_STR(json_string_value(json_object_get(e, "keyword")), "idempotency");
    replies_free(m, 2);
    intake_free(&in);
    store_close(&st);
    catalog_free(&cat);
}

/* Two batches of 40 (above the helper threshold): the second is checked on
 * the helper thread while the first is stored, as the broker does it. */
static void pipelined_batches_are_checked_on_the_helper_and_stored_in_order(void)
{
    struct partner police = {.id = "police-1", .role = ROLE_POLICE};
    struct config cfg = {.max_json_depth = 32, .max_errors = 20};
    cfg.authorisation[ROLE_POLICE] = authz_default(ROLE_POLICE);
    char err[512], path[256];
    struct catalog *cat = catalog_load("schemas", err, sizeof err);
    snprintf(path, sizeof path, "%s/pipeline.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    struct intake *in = intake_new(&cfg, cat, st);
    enum { N = 40 };
    static char texts[2][N][1024];
    struct intake_msg a[N], b[N];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) {
            /* every seventh event is invalid (urgentie "spoed") */
            snprintf(texts[k][i], sizeof texts[k][i],
                     "{\"specversion\":\"1.0\",\"id\":\"%08d-0000-4000-8000-00000000000%d\","
                     "\"source\":\"urn:test\",\"type\":\"nl.mensenhandel.signalen.signaal-"
                     "geregistreerd\",\"time\":\"2026-11-29T08:00:00Z\",\"data\":%s}",
                     i, k, i % 7 == 3 ? DATA_BAD : DATA_OK);
            struct intake_msg *m = k == 0 ? &a[i] : &b[i];
            m->partner = &police;
            m->data = texts[k][i];
            m->len = strlen(texts[k][i]);
            m->frames = 1;
        }
    }
    intake_check_start(in, a, N);
    intake_check_wait(in);
    intake_check_start(in, b, N);         /* helper checks b ... */
    CHECK_INT(intake_store(in, a, N), 0); /* ... while a is stored */
    intake_check_wait(in);
    CHECK_INT(intake_store(in, b, N), 0);
    int64_t last = 0;
    int accepted = 0;
    for (int i = 0; i < 2 * N; i++) {
        const json_t *r = R(i < N ? &a[i] : &b[i - N]);
        int bad = (i % N) % 7 == 3;
        CHECK_STR(status_of(r), bad ? "rejected" : "accepted");
        if (!bad) {
            int64_t seq = json_integer_value(json_object_get(r, "seq"));
            CHECK(seq == last + 1);
            last = seq;
            accepted++;
        }
    }
    CHECK_INT(accepted, 2 * (N - 6));
    replies_free(a, N);
    replies_free(b, N);
    intake_release(a, N);
    intake_release(b, N);
    intake_free(&in);
    store_close(&st);
    catalog_free(&cat);
}

int main(void)
{
    tu_tempdir(dir, sizeof dir);
    RUN(mixed_batch_is_answered_frame_by_frame_in_one_commit);
    RUN(multi_frame_message_is_rejected_without_parsing);
    RUN(conflicting_content_for_a_stored_id_names_id);
    RUN(pipelined_batches_are_checked_on_the_helper_and_stored_in_order);
    tu_rmdir(dir);
    return CHECK_DONE();
}
