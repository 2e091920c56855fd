/*
 * test_match - raising matches from pseudonyms, on a real store: another
 * partner's signal matches, the same partner's does not, one match per
 * earlier partner naming its most recent signal with every shared kind, a
 * resend's pseudonyms compared, and the event each coordinator gets passes
 * schemas/nl.mensenhandel.signalen.match-gevonden.json without carrying the
 * pseudonym.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sqlite3.h>

#include "check.h"
#include "config.h"
#include "match.h"
#include "schema.h"
#include "store.h"
#include "testutil.h"

static char dir[128];

static struct partner partners[] = {
    {.id = "politie", .role = ROLE_POLICE},
    {.id = "gemeente", .role = ROLE_MUNICIPALITY},
    {.id = "zorg", .role = ROLE_CARE},
    {.id = "centrum", .role = ROLE_COORDINATOR},
    {.id = "centrum-2", .role = ROLE_COORDINATOR},
};
static struct config cfg = {.partners = partners,
                            .npartners = sizeof partners / sizeof *partners,
                            .source = "urn:ketenhub:test"};

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define N1 "1111111111111111111111111111111111111111111111111111111111111111"
#define N2 "2222222222222222222222222222222222222222222222222222222222222222"

static int touched_count;

static void touched(void *arg, const struct partner *p)
{
    (void)arg;
    CHECK(p->role == ROLE_COORDINATOR);
    touched_count++;
}

/* Stores a signal of partner `who` with a BSN pseudonym `bsn` and/or a name
 * pseudonym `name` (NULL: none) and runs the matching; returns how many
 * matches it raised (-1 on error) and its seq in *seq. */
static int add_signal(struct store *st, struct match *m, int who, const char *bsn, const char *name,
                      int64_t *seq)
{
    static int n;
    char id[64], received[32];
    snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", ++n);
    snprintf(received, sizeof received, "2026-11-29T10:00:%02d.000Z", n % 60);
    struct store_event ev = {.partner = partners[who].id,
                             .source = "urn:test",
                             .id = id,
                             .type = "nl.mensenhandel.signalen.signaal-geregistreerd",
                             .received = received,
                             .body = "{}",
                             .body_len = 2};
    struct match_pseudonym ps[2];
    size_t np = 0;
    if (bsn) {
        ps[np].kind = PSEUDONYM_KIND_BSN;
        snprintf(ps[np++].hex, sizeof ps[0].hex, "%s", bsn);
    }
    if (name) {
        ps[np].kind = PSEUDONYM_KIND_NAME;
        snprintf(ps[np++].hex, sizeof ps[0].hex, "%s", name);
    }
    int raised = -1;
    if (store_begin(st) != 0)
        return -1;
    if (store_insert_event(st, &ev, seq) == 0) {
        struct store_signal_facts f = {*seq,
                                       1764410400000 + n,
                                       partners[who].id,
                                       authz_role_name(partners[who].role),
                                       1,
                                       "normaal",
                                       0,
                                       NULL};
        struct match_signal sig = {*seq, id, &partners[who], 1764410400000 + n};
        if (store_put_signal_facts(st, &f) == 0)
            raised = match_signal(m, &cfg, &sig, ps, np, touched, NULL);
    }
    if (raised < 0 || store_commit(st) != 0) {
        store_rollback(st);
        return -1;
    }
    return raised;
}

struct collected {
    json_t *events;
};

static void collect(void *arg, const struct store_delivery *d)
{
    struct collected *c = arg;
    json_t *ev = json_loadb(d->payload, d->payload_len, 0, NULL);
    CHECK(ev != NULL);
    CHECK(strstr(d->payload, A) == NULL && strstr(d->payload, B) == NULL);
    CHECK(strstr(d->payload, N1) == NULL && strstr(d->payload, N2) == NULL);
    json_array_append_new(c->events, ev);
}

/* The match events partner `who` has pending, oldest first. */
static json_t *events_of(struct store *st, const char *who)
{
    struct collected c = {json_array()};
    CHECK(store_pending_deliveries(st, who, 0, 1000, collect, &c) >= 0);
    return c.events;
}

static struct schema_registry *match_schema(void)
{
    static const char *const files[] = {"defs.json",
                                        "nl.mensenhandel.signalen.match-gevonden.json"};
    struct schema_registry *reg = schema_registry_new();
    char path[256], err[256];
    for (size_t i = 0; reg && i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "schemas/%s", files[i]);
        json_t *doc = json_load_file(path, 0, NULL);
        if (!doc || schema_registry_add(reg, doc, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "  %s: %s\n", path, doc ? err : "cannot read");
            schema_registry_free(&reg);
        }
        json_decref(doc);
    }
    if (reg && schema_registry_compile(reg, err, sizeof err) != 0) {
        fprintf(stderr, "  compile: %s\n", err);
        schema_registry_free(&reg);
    }
    return reg;
}

static void matches_follow_the_rules(void)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/match.db", dir);
    struct store *st = store_open(path, tu_seal_key(), err, sizeof err);
    CHECK(st != NULL);
    struct match *m = st ? match_new(st, err, sizeof err) : NULL;
    CHECK(m != NULL);
    struct schema_registry *reg = match_schema();
    CHECK(reg != NULL);
    if (!st || !m || !reg)
        goto done;
    int64_t s1, s2, s3, s4, s5, s6, s7;
    touched_count = 0;
    CHECK_INT(add_signal(st, m, 0, A, NULL, &s1), 0);  /* politie: first, nothing to match */
    CHECK_INT(add_signal(st, m, 0, A, NULL, &s2), 0);  /* politie again: own signal */
    CHECK_INT(add_signal(st, m, 1, B, NULL, &s3), 0);  /* gemeente, another person */
    CHECK_INT(add_signal(st, m, 1, A, N1, &s4), 1);    /* gemeente: matches politie's s2 */
    CHECK_INT(touched_count, 2);                       /* both coordinators */
    CHECK_INT(add_signal(st, m, 2, NULL, N1, &s5), 1); /* zorg: gemeente's s4, by name */
    /* politie once more, by BSN and name: gemeente (s4, both kinds) and zorg
     * (s5, name); its own s1 and s2 do not count. */
    CHECK_INT(add_signal(st, m, 0, A, N1, &s6), 2);
    CHECK_INT(add_signal(st, m, 2, NULL, N2, &s7), 0); /* another name */
    (void)s1;
    (void)s3;
    (void)s7;
    sqlite3 *db = store_sqlite(st);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT seq, partner, role, earlier_seq, earlier_partner, "
                             "earlier_role, kinds FROM matches ORDER BY id",
                             -1, &q, NULL) == SQLITE_OK);
    static const struct {
        const char *partner, *role, *earlier_partner, *earlier_role, *kinds;
    } want[] = {
        {"gemeente", "municipality", "politie", "police", "bsn"},
        {"zorg", "care", "gemeente", "municipality", "naam-geboortedatum"},
        {"politie", "police", "gemeente", "municipality", "bsn,naam-geboortedatum"},
        {"politie", "police", "zorg", "care", "naam-geboortedatum"},
    };
    int64_t want_seq[][2] = {{s4, s2}, {s5, s4}, {s6, s4}, {s6, s5}};
    size_t rows = 0;
    while (q && sqlite3_step(q) == SQLITE_ROW && rows < 10) {
        if (rows < sizeof want / sizeof *want) {
            CHECK_INT(sqlite3_column_int64(q, 0), want_seq[rows][0]);
            CHECK_STR((const char *)sqlite3_column_text(q, 1), want[rows].partner);
            CHECK_STR((const char *)sqlite3_column_text(q, 2), want[rows].role);
            CHECK_INT(sqlite3_column_int64(q, 3), want_seq[rows][1]);
            CHECK_STR((const char *)sqlite3_column_text(q, 4), want[rows].earlier_partner);
            CHECK_STR((const char *)sqlite3_column_text(q, 5), want[rows].earlier_role);
            CHECK_STR((const char *)sqlite3_column_text(q, 6), want[rows].kinds);
        }
        rows++;
    }
    sqlite3_finalize(q);
    CHECK_INT(rows, 4);
    /* Each coordinator has the four events, valid, naming ids only. */
    for (int c = 3; c < 5; c++) {
        json_t *evs = events_of(st, partners[c].id);
        CHECK_INT(json_array_size(evs), 4);
        size_t i;
        json_t *ev;
        json_array_foreach(evs, i, ev)
        {
            CHECK_STR(json_string_value(json_object_get(ev, "type")), MATCH_EVENT_TYPE);
            const json_t *data = json_object_get(ev, "data");
            json_t *errors = json_array();
            CHECK_INT(schema_validate(
                          schema_registry_get(reg, "https://ketenhub.nl/schemas/v1/"
                                                   "nl.mensenhandel.signalen.match-gevonden.json"),
                          data, errors, "/data", 20),
                      1);
            CHECK_INT(json_array_size(errors), 0);
            json_decref(errors);
            char subject[32];
            snprintf(subject, sizeof subject, "match-%lld",
                     (long long)json_integer_value(json_object_get(data, "match")));
            CHECK_STR(json_string_value(json_object_get(ev, "subject")), subject);
            if (i < sizeof want / sizeof *want) {
                CHECK_INT(json_integer_value(
                              json_object_get(json_object_get(data, "eerderSignaal"), "seq")),
                          want_seq[i][1]);
                CHECK(json_string_length(
                          json_object_get(json_object_get(data, "eerderSignaal"), "id")) == 36);
            }
        }
        json_decref(evs);
    }
    for (int p = 0; p < 3; p++) {
        json_t *evs = events_of(st, partners[p].id);
        CHECK_INT(json_array_size(evs), 0);
        json_decref(evs);
    }
    /* Audited, once per match, with the pseudonym only as the subject. */
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT count(*), sum(detail LIKE '%aaaa%'), "
                             "sum(subject IS NOT NULL) FROM audit WHERE action = 'match'",
                             -1, &q, NULL) == SQLITE_OK);
    if (q && sqlite3_step(q) == SQLITE_ROW) {
        CHECK_INT(sqlite3_column_int(q, 0), 4);
        CHECK_INT(sqlite3_column_int(q, 1), 0);
        CHECK_INT(sqlite3_column_int(q, 2), 4);
    }
    sqlite3_finalize(q);
    /* A resend is compared by its pseudonyms. */
    struct match_pseudonym same[2] = {{PSEUDONYM_KIND_BSN, A}, {PSEUDONYM_KIND_NAME, N1}};
    struct match_pseudonym other[2] = {{PSEUDONYM_KIND_BSN, B}, {PSEUDONYM_KIND_NAME, N1}};
    CHECK_INT(match_same_pseudonyms(m, s6, same, 2), 1);
    CHECK_INT(match_same_pseudonyms(m, s6, other, 2), 0);
    CHECK_INT(match_same_pseudonyms(m, s6, same, 1), 0); /* one missing */
    CHECK_INT(match_same_pseudonyms(m, s3, NULL, 0), 0); /* s3 had one */
    CHECK_INT(match_same_pseudonyms(m, 9999, NULL, 0), 1);
done:
    schema_registry_free(&reg);
    match_free(&m);
    store_close(&st);
}

int main(void)
{
    tu_tempdir(dir, sizeof dir);
    RUN(matches_follow_the_rules);
    tu_rmdir(dir);
    return CHECK_DONE();
}
