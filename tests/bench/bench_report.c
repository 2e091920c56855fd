/*
 * bench_report - `ketenctl report` over a year of a busy region: how long it
 * takes and how much memory it needs.
 *
 * In one new temp dir: keys and a config with 20 partners (every role, the
 * 14 Twente municipalities) and three policies, then a database opened
 * through store_open (so every migration runs, as in the hub) and filled in
 * one transaction with prepared statements on store_sqlite():
 *   - N signals (default 1,000,000) spread evenly over 2025-07-01 .. 2026-06-30:
 *     an events row (with a body of about 300 bytes, as a signal's would be,
 *     which the report must not read) and its signal_facts row: role, 1 - 3
 *     forms, urgency, minor, municipality (7% none, 3% outside Twente);
 *   - R referrals (default 3,000,000), R/N per signal, to distinct partners,
 *     with a policy by urgency and realistic states: ~4% still aangeboden,
 *     ~6% ontvangen, accepted, declined, completed, cancelled, failed; receipt
 *     and decision moments around the policy's deadlines (some late);
 *   - escalations of the late receipts and decisions of crisis and hoog
 *     referrals (a few percent of the referrals), levels -1 .. 1, two thirds
 *     acknowledged.
 * No referral_history and no deliveries: the report reads neither.
 * The data is made in a child process, so that this one stays small (see
 * generate()). Then runs `bin/ketenctl --config CFG report --from 2025-07-01 --to
 * 2026-06-30 --format F --out /dev/null` as a child process, for F = json and
 * html (three runs each), and the same for one month, and reports each run's
 * wall time and the child's peak RSS (wait4: ru_maxrss). One more JSON run
 * to a file checks that the report counted every signal.
 * Targets: under 5 s and under 100 MB per run (a miss is a PROBLEM).
 * The page cache is warm (the database was just written); a first read from
 * disk would be slower.
 */
#include <sys/time.h>
#include <sodium.h>

/* This bench starts no hub and opens no socket: most of benchutil.h is not
 * called here, and not all of it is marked BENCH_UNUSED. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "benchutil.h"
#pragma GCC diagnostic pop
#include "store.h"
#include "util.h"

#define TARGET_S 5.0
#define TARGET_MIB 100.0
#define RUNS 3
#define YEAR_FROM "2025-07-01"
#define YEAR_TO "2026-06-30"
#define MONTH_FROM "2026-03-01"
#define MONTH_TO "2026-03-31"
#define DAY_MS 86400000LL
#define MIN_MS 60000LL

struct options {
    long signals, referrals;
    const char *parent;
    int keep;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_report [--signals N] [--referrals R] [--dir PATH] [--keep]\n"
               "  --signals N    signals over the year (default 1000000)\n"
               "  --referrals R  referrals made from them (default 3000000; at most 20 per\n"
               "                 signal)\n"
               "  --dir PATH     make the temp dir (config, keys, database) under PATH\n"
               "                 (default /tmp)\n"
               "  --keep         leave the temp dir\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
    const struct long_option opts[] = {{"--signals", &o->signals, 1, 100000000},
                                       {"--referrals", &o->referrals, 0, 1000000000}};
    o->signals = 1000000;
    o->referrals = 3000000;
    o->parent = "/tmp";
    o->keep = 0;
    if (parse_long_options("bench_report", argc, argv, opts, sizeof opts / sizeof opts[0],
                           &o->parent, &o->keep, usage) != 0)
        return -1;
    if (o->referrals > 20 * o->signals) {
        fprintf(stderr, "bench_report: at most 20 referrals per signal\n");
        return -1;
    }
    return 0;
}

/* ---- the config --------------------------------------------------------- */

enum { POLICE, MUNICIPALITY, COMENSHA, CARE, COORDINATOR, NROLES };
static const char *const role_names[NROLES] = {"police", "municipality", "comensha", "care",
                                               "coordinator"};

struct partner_def {
    const char *id, *name, *code; /* code: the municipality it takes, or NULL */
    int role;
};

static const struct partner_def partners[] = {
    {"politie-oost-nederland", "Politie Oost-Nederland", NULL, POLICE},
    {"politie-recherche", "Politie, team Recherche", NULL, POLICE},
    {"gemeente-almelo", "Gemeente Almelo", "GM0141", MUNICIPALITY},
    {"gemeente-borne", "Gemeente Borne", "GM0147", MUNICIPALITY},
    {"gemeente-dinkelland", "Gemeente Dinkelland", "GM1774", MUNICIPALITY},
    {"gemeente-enschede", "Gemeente Enschede", "GM0153", MUNICIPALITY},
    {"gemeente-haaksbergen", "Gemeente Haaksbergen", "GM0158", MUNICIPALITY},
    {"gemeente-hellendoorn", "Gemeente Hellendoorn", "GM0163", MUNICIPALITY},
    {"gemeente-hengelo", "Gemeente Hengelo", "GM0164", MUNICIPALITY},
    {"gemeente-hof-van-twente", "Gemeente Hof van Twente", "GM1735", MUNICIPALITY},
    {"gemeente-losser", "Gemeente Losser", "GM0168", MUNICIPALITY},
    {"gemeente-oldenzaal", "Gemeente Oldenzaal", "GM0173", MUNICIPALITY},
    {"gemeente-rijssen-holten", "Gemeente Rijssen-Holten", "GM1742", MUNICIPALITY},
    {"gemeente-tubbergen", "Gemeente Tubbergen", "GM0183", MUNICIPALITY},
    {"gemeente-twenterand", "Gemeente Twenterand", "GM1700", MUNICIPALITY},
    {"gemeente-wierden", "Gemeente Wierden", "GM0189", MUNICIPALITY},
    {"comensha", "CoMensha", NULL, COMENSHA},
    {"veilig-thuis-twente", "Veilig Thuis Twente", NULL, CARE},
    {"fier", "Fier", NULL, CARE},
    {"kenniscentrum-twente", "Regionaal kenniscentrum mensenhandel Twente", NULL, COORDINATOR},
};
#define NPARTNERS ((int)(sizeof partners / sizeof *partners))
#define FIRST_MUNI 2
#define NMUNI 14
static const char *const outside_codes[] = {"GM0363", "GM0518", "GM0599", "GM0344"};

enum { CRISIS, HOOG, STANDAARD, NPOLICIES };
static const char *const policy_names[NPOLICIES] = {"crisis", "hoog", "standaard"};
static const int64_t receipt_ms[NPOLICIES] = {15 * MIN_MS, 4 * 60 * MIN_MS, DAY_MS};
static const int64_t decision_ms[NPOLICIES] = {4 * 60 * MIN_MS, DAY_MS, 5 * DAY_MS};

static json_t *build_config(const struct hub *h, const struct partner_keys *keys)
{
    json_t *ps = json_array(), *munis = json_object();
    for (int i = 0; i < NPARTNERS; i++) {
        json_array_append_new(ps, json_pack("{s:s, s:s, s:s, s:s}", "id", partners[i].id, "name",
                                            partners[i].name, "role", role_names[partners[i].role],
                                            "public_key", keys[i].public_z85));
        if (partners[i].code)
            json_object_set_new(munis, partners[i].code, json_string(partners[i].id));
    }
    json_t *pol = json_object();
    static const char *const rec[NPOLICIES] = {"PT15M", "PT4H", "P1D"};
    static const char *const dec[NPOLICIES] = {"PT4H", "P1D", "P5D"};
    for (int p = 0; p < NPOLICIES; p++)
        json_object_set_new(pol, policy_names[p],
                            json_pack("{s:s, s:s}", "receipt", rec[p], "decision", dec[p]));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "listen",
                     "tcp://127.0.0.1:*", "database", "hub.db", "schemas", h->schemas, "server_key",
                     "keys/hub.key", "encryption_key", "keys/store.secret", "pseudonym_key",
                     "keys/pseudonym.secret", "log_level", "warn", "partners", ps, "municipalities",
                     munis, "policies", pol, "default_policy", "standaard");
}

/* Keys for the hub and every partner, and the config; the config (caller
 * frees), or NULL with err filled. */
__attribute__((noinline)) static json_t *write_config(struct hub *h, struct partner_keys *keys,
                                                      char *err, size_t errlen)
{
    for (int i = 0; i < NPARTNERS; i++)
        snprintf(keys[i].id, sizeof keys[i].id, "%s", partners[i].id);
    if (write_keys(h, keys, NPARTNERS, err, errlen) != 0)
        return NULL;
    json_t *cfg = build_config(h, keys);
    if (!cfg || json_dump_file(cfg, h->config, JSON_INDENT(2)) != 0) {
        set_err(err, errlen, "cannot write %s", h->config);
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- the data ----------------------------------------------------------- */

/* xorshift64*: fast, and the same data for the same sizes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* Uniform in [0, n). */
static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* Uniform in [0, 1). */
static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* A response time for a deadline of `due` ms: mostly well within, ~15% late. */
static int64_t response(int64_t due)
{
    double r = -log(1.0 - unit()) * 0.45; /* exponential, mean 0.45 of the deadline */
    return 1000 + (int64_t)(r * (double)due);
}

/* A v7-style (time-ordered) UUID from our own generator, as the hub makes
 * referral ids. */
static void uuid7(int64_t ms, char out[UTIL_UUID_LEN])
{
    uint64_t a = rnd(), b = rnd();
    snprintf(out, UTIL_UUID_LEN, "%08x-%04x-7%03x-%04x-%012llx", (unsigned)(ms >> 16),
             (unsigned)(ms & 0xffff), (unsigned)(a & 0xfff),
             (unsigned)(0x8000 | ((a >> 12) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

static void uuid4(char out[UTIL_UUID_LEN])
{
    uint64_t a = rnd(), b = rnd();
    snprintf(out, UTIL_UUID_LEN, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a & 0xffff), (unsigned)((a >> 16) & 0xfff), (unsigned)(0x8000 | (b >> 50)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* UTC ms of a date "YYYY-MM-DD" (one of this file's constants). */
static int64_t date_ms(const char *date)
{
    char *end;
    int y = (int)strtol(date, &end, 10);
    int m = (int)strtol(end + 1, &end, 10);
    int d = (int)strtol(end + 1, &end, 10);
    /* days from civil (H. Hinnant) */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (era * 146097 + doe - 719468) * DAY_MS;
}

struct stmts {
    sqlite3_stmt *event, *facts, *referral, *escalation;
};

static int prep(sqlite3 *db, sqlite3_stmt **s, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
        set_err(err, errlen, "cannot prepare \"%.60s...\": %s", sql, sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int done(sqlite3 *db, sqlite3_stmt *s, char *err, size_t errlen)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        set_err(err, errlen, "insert failed: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static void bind_ms_or_null(sqlite3_stmt *s, int i, int64_t v)
{
    if (v > 0)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

struct counts {
    long signals, referrals, escalations, in_year;
    long states[7];
};

static const char *const state_names[7] = {"aangeboden", "ontvangen",   "geaccepteerd", "afgewezen",
                                           "afgerond",   "geannuleerd", "mislukt"};

/* One referral of signal `seq` (received at t) to partner p under policy pol,
 * with its escalations. */
static int add_referral(sqlite3 *db, struct stmts *st, int64_t seq, int64_t t, int p, int pol,
                        struct counts *c, char *err, size_t errlen)
{
    char id[UTIL_UUID_LEN], created[UTIL_TIME_LEN], updated[UTIL_TIME_LEN];
    int64_t rdl = t + receipt_ms[pol], ddl = t + decision_ms[pol];
    int64_t rec = t + response(receipt_ms[pol]);
    int64_t dec = rec + response(decision_ms[pol]) / 2;
    int64_t received = 0, decided = 0, end = t;
    uint64_t x = below(100);
    int state = x < 4    ? 0  /* aangeboden */
                : x < 10 ? 1  /* ontvangen */
                : x < 50 ? 2  /* geaccepteerd */
                : x < 63 ? 3  /* afgewezen */
                : x < 88 ? 4  /* afgerond */
                : x < 95 ? 5  /* geannuleerd */
                         : 6; /* mislukt */
    switch (state) {
    case 0:
        break;
    case 1:
        received = end = rec;
        break;
    case 2:
    case 3:
        received = rec;
        decided = end = dec;
        if (below(5) == 0) /* accepted or declined at once: receipt implied */
            received = decided = end = rec;
        break;
    case 4:
        received = rec;
        decided = dec;
        end = dec + (int64_t)below(30) * DAY_MS;
        break;
    case 5:
        if (below(2)) {
            received = rec;
            end = rec + (int64_t)below(3 * DAY_MS);
        } else {
            end = t + (int64_t)below(3 * DAY_MS);
        }
        break;
    default:
        end = t + 20 * MIN_MS + (int64_t)below(2 * DAY_MS);
        break;
    }
    c->states[state]++;
    uuid7(t, id);
    util_time_format(t, created);
    util_time_format(end, updated);
    sqlite3_stmt *s = st->referral;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_text(s, 3, partners[p].id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, policy_names[pol], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, policy_names[pol], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, state_names[state], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, created, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, updated, -1, SQLITE_TRANSIENT);
    bind_ms_or_null(s, 9, state == 0 ? rdl : 0);
    bind_ms_or_null(s, 10, state <= 1 ? ddl : 0);
    sqlite3_bind_int64(s, 11, t);
    sqlite3_bind_int64(s, 12, rdl);
    sqlite3_bind_int64(s, 13, ddl);
    bind_ms_or_null(s, 14, received);
    bind_ms_or_null(s, 15, decided);
    if (done(db, s, err, errlen) != 0)
        return -1;
    c->referrals++;
    if (pol == STANDAARD)
        return 0;
    /* Escalations of the deadlines missed (answered late, or not at all). */
    int final = state >= 3;
    for (int d = 0; d < 2; d++) {
        int64_t due = d ? ddl : rdl, answer = d ? decided : received;
        int64_t stop = answer ? answer : (final ? end : 0);
        if ((stop && stop <= due) || (d && state == 6))
            continue;
        int64_t late = stop ? stop - due : 10 * DAY_MS;
        int level = below(50) == 0 ? -1 : late > 30 * MIN_MS ? 1 : 0;
        int64_t acked =
            below(3) ? due + (int64_t)below(late < 2 * 3600000 ? late + 1 : 7200000) : 0;
        const char *state_esc = stop ? "resolved" : acked ? "acknowledged" : "open";
        char due_t[UTIL_TIME_LEN], ack_t[UTIL_TIME_LEN];
        util_time_format(due, due_t);
        util_time_format(acked, ack_t);
        s = st->escalation;
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, d ? "decision" : "receipt", -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, due);
        sqlite3_bind_text(s, 4, policy_names[pol], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, partners[p].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, state_esc, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 7, due);
        sqlite3_bind_int(s, 8, level);
        sqlite3_bind_text(s, 9, due_t, -1, SQLITE_TRANSIENT);
        if (acked) {
            sqlite3_bind_text(s, 10, ack_t, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 11, "anna", -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 12, acked);
        }
        if (done(db, s, err, errlen) != 0)
            return -1;
        c->escalations++;
    }
    return 0;
}

/* Partners for a signal's referrals: its municipality's, police for crisis,
 * then others, each once. */
static int pick_partners(int k, int urgency, int muni, int *out)
{
    int n = 0, used[NPARTNERS] = {0};
    if (muni >= 0 && n < k) {
        out[n++] = FIRST_MUNI + muni;
        used[FIRST_MUNI + muni] = 1;
    }
    if (urgency == CRISIS && n < k && !used[0]) {
        out[n++] = 0;
        used[0] = 1;
    }
    static const int others[] = {16, 19, 17, 0, 18, 1};
    for (size_t i = 0; i < sizeof others / sizeof *others && n < k; i++)
        if (!used[others[i]] && below(3) != 0) {
            out[n++] = others[i];
            used[others[i]] = 1;
        }
    while (n < k) { /* more than the usual ones: any partner not yet used */
        int p = (int)below(NPARTNERS);
        if (!used[p]) {
            out[n++] = p;
            used[p] = 1;
        }
    }
    return n;
}

static int fill(sqlite3 *db, const struct options *o, struct counts *c, char *err, size_t errlen)
{
    struct stmts st = {NULL, NULL, NULL, NULL};
    int rc = -1;
    if (prep(db, &st.event,
             "INSERT INTO events (partner, source, id, type, time, received, body) "
             "VALUES (?1, ?2, ?3, 'nl.mensenhandel.signalen.signaal-geregistreerd', ?4, ?4, ?5)",
             err, errlen) ||
        prep(db, &st.facts,
             "INSERT INTO signal_facts (seq, received_ms, partner, role, forms, urgency, minor, "
             "municipality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             err, errlen) ||
        prep(db, &st.referral,
             "INSERT INTO referrals (id, signal_seq, partner, policy, rule, state, created, "
             "updated, receipt_due_ms, decision_due_ms, created_ms, receipt_deadline_ms, "
             "decision_deadline_ms, received_ms, decided_ms) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
             err, errlen) ||
        prep(db, &st.escalation,
             "INSERT INTO escalations (referral, deadline, due_ms, policy, partner, state, "
             "base_ms, level, created, updated, acked, acked_by, acked_ms) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)",
             err, errlen))
        goto out;
    static const char *const urgencies[] = {"crisis", "hoog", "normaal"};
    static const char *const forms[] = {"seksueel", "arbeid", "crimineel", "orgaanverwijdering",
                                        "onbekend"};
    int64_t t0 = date_ms(YEAR_FROM), span = date_ms(YEAR_TO) + DAY_MS - t0;
    for (long i = 0; i < o->signals; i++) {
        int64_t t = t0 + (int64_t)((double)span * ((double)i + unit()) / (double)o->signals);
        uint64_t x = below(100);
        int role = x < 45   ? POLICE
                   : x < 70 ? MUNICIPALITY
                   : x < 82 ? COMENSHA
                   : x < 99 ? CARE
                            : COORDINATOR;
        int sender = role == POLICE         ? (int)below(2)
                     : role == MUNICIPALITY ? FIRST_MUNI + (int)below(NMUNI)
                     : role == COMENSHA     ? 16
                     : role == CARE         ? 17 + (int)below(2)
                                            : 19;
        x = below(1000);
        unsigned bits = 1u << (x < 400 ? 0 : x < 750 ? 1 : x < 930 ? 2 : x < 932 ? 3 : 4);
        if (below(100) < 15)
            bits |= 1u << below(3);
        x = below(100);
        int urgency = x < 8 ? CRISIS : x < 30 ? HOOG : STANDAARD;
        int minor = below(100) < 12;
        x = below(100);
        int muni = x < 90 ? (int)below(NMUNI) : -1;
        const char *code = muni >= 0 ? partners[FIRST_MUNI + muni].code
                           : x < 93  ? outside_codes[below(4)]
                                     : NULL;
        char id[UTIL_UUID_LEN], when[UTIL_TIME_LEN], source[128], body[768], fl[96] = "";
        uuid4(id);
        util_time_format(t, when);
        snprintf(source, sizeof source, "urn:nld:oin:00000001003214345000:systeem:%s",
                 partners[sender].id);
        for (int k = 0; k < 5; k++)
            if (bits & (1u << k))
                snprintf(fl + strlen(fl), sizeof fl - strlen(fl), "%s\"%s\"", fl[0] ? "," : "",
                         forms[k]);
        char gm[32] = "";
        if (code)
            snprintf(gm, sizeof gm, "\"woongemeente\":\"%s\",", code);
        snprintf(body, sizeof body,
                 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\",\"type\":"
                 "\"nl.mensenhandel.signalen.signaal-geregistreerd\",\"time\":\"%s\","
                 "\"datacontenttype\":\"application/json\",\"data\":{\"vormenVanUitbuiting\":"
                 "[%s],\"urgentie\":\"%s\",\"minderjarig\":%s,%s\"indicatoren\":"
                 "[\"onderbetaling\"],\"toestemming\":{\"registratieCoMensha\":false}}}",
                 id, source, when, fl, urgencies[urgency], minor ? "true" : "false", gm);
        sqlite3_stmt *s = st.event;
        sqlite3_bind_text(s, 1, partners[sender].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, when, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, body, -1, SQLITE_TRANSIENT);
        if (done(db, s, err, errlen) != 0)
            goto out;
        int64_t seq = sqlite3_last_insert_rowid(db);
        s = st.facts;
        sqlite3_bind_int64(s, 1, seq);
        sqlite3_bind_int64(s, 2, t);
        sqlite3_bind_text(s, 3, partners[sender].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, role_names[role], -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, (int)bits);
        sqlite3_bind_text(s, 6, urgencies[urgency], -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 7, minor);
        if (code)
            sqlite3_bind_text(s, 8, code, -1, SQLITE_STATIC);
        if (done(db, s, err, errlen) != 0)
            goto out;
        c->signals++;
        /* Exactly R referrals in all: signal i makes floor((i+1)R/N) - floor(iR/N). */
        long k = (long)((long long)(i + 1) * o->referrals / o->signals -
                        (long long)i * o->referrals / o->signals);
        int to[NPARTNERS];
        int n = pick_partners((int)k, urgency, muni, to);
        for (int j = 0; j < n; j++) {
            int pol = partners[to[j]].role == MUNICIPALITY && urgency == CRISIS ? HOOG : urgency;
            if (add_referral(db, &st, seq, t, to[j], pol, c, err, errlen) != 0)
                goto out;
        }
    }
    c->in_year = c->signals;
    rc = 0;
out:
    sqlite3_finalize(st.event);
    sqlite3_finalize(st.facts);
    sqlite3_finalize(st.referral);
    sqlite3_finalize(st.escalation);
    return rc;
}

/* What the generating child tells its parent. */
struct generated {
    struct counts c;
    int ok;
    char err[512];
};

/*
 * Makes the database in a child process, so that this process stays small:
 * a child forked from a big process starts with the parent's pages counted
 * in its RSS, and exec() keeps that peak in ru_maxrss, which would then be
 * reported as ketenctl's. Returns 0, or -1 with err filled.
 */
static int generate(const char *db_path, const struct options *o, struct counts *c, char *err,
                    size_t errlen)
{
    int fd[2];
    struct generated g;
    memset(&g, 0, sizeof g);
    if (pipe(fd) != 0) {
        set_err(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        set_err(err, errlen, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* A throwaway key: the report never reads a sealed value. */
        uint8_t secret[SEAL_SECRET_BYTES];
        struct seal_key key;
        randombytes_buf(secret, sizeof secret);
        seal_key_init(&key, secret);
        struct store *st = store_open(db_path, &key, g.err, sizeof g.err);
        if (st) {
            sqlite3 *db = store_sqlite(st);
            sqlite3_exec(db, "PRAGMA cache_size = -262144", NULL, NULL, NULL); /* 256 MiB */
            g.ok = store_begin(st) == 0 && fill(db, o, &g.c, g.err, sizeof g.err) == 0;
            if (g.ok && store_commit(st) != 0) {
                snprintf(g.err, sizeof g.err, "commit: %s", store_errmsg(st));
                g.ok = 0;
            }
            if (!g.ok)
                store_rollback(st);
            store_close(&st); /* the last connection: checkpoints the WAL into the file */
        }
        ssize_t w = write(fd[1], &g, sizeof g);
        _exit(w == (ssize_t)sizeof g && g.ok ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof g) {
        ssize_t r = read(fd[0], (char *)&g + got, sizeof g - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof g) {
        char how[96];
        describe_status(status, how, sizeof how);
        set_err(err, errlen, "the generating process ended (%s) without its figures", how);
        return -1;
    }
    *c = g.c;
    if (!g.ok) {
        set_err(err, errlen, "%s", g.err);
        return -1;
    }
    return 0;
}

/* ---- running the report ------------------------------------------------- */

struct run {
    double wall_s, mib;
    int ok;
    char how[96];
};

/* Runs ketenctl report as a child; its wall time and ru_maxrss. */
static struct run run_report(const char *ctl, const char *cfg, const char *from, const char *to,
                             const char *format, const char *out)
{
    struct run r = {0, 0, 0, ""};
    fflush(stdout);
    int64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r.how, sizeof r.how, "fork: %s", strerror(errno));
        return r;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int nullfd = open("/dev/null", O_RDWR);
        if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(nullfd, 1) < 0)
            _exit(126);
        execl(ctl, ctl, "--config", cfg, "report", "--from", from, "--to", to, "--format", format,
              "--out", out, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    r.wall_s = (double)(now_ns() - t0) / NS_PER_S;
    r.mib = (double)ru.ru_maxrss / 1024.0;
    describe_status(status, r.how, sizeof r.how);
    r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* RUNS runs of one report; prints and returns the figures. */
static json_t *measure(const char *ctl, const char *cfg, const char *label, const char *from,
                       const char *to, const char *format, json_t *problems)
{
    double wall[RUNS], worst_mib = 0;
    printf("  %-5s %s .. %s:", format, from, to);
    for (int i = 0; i < RUNS; i++) {
        struct run r = run_report(ctl, cfg, from, to, format, "/dev/null");
        wall[i] = r.wall_s;
        if (r.mib > worst_mib)
            worst_mib = r.mib;
        printf(" %.2f s / %.1f MiB%s", r.wall_s, r.mib, i + 1 < RUNS ? "," : "");
        if (!r.ok)
            problem(problems, "report %s %s: ketenctl %s", label, format, r.how);
    }
    qsort(wall, RUNS, sizeof *wall, cmp_double);
    printf("  -> median %.2f s, max %.2f s, peak RSS %.1f MiB (targets < %.0f s, < %.0f MiB)\n",
           wall[RUNS / 2], wall[RUNS - 1], worst_mib, TARGET_S, TARGET_MIB);
    if (wall[RUNS - 1] >= TARGET_S)
        problem(problems, "report %s %s took %.2f s (target < %.0f s)", label, format,
                wall[RUNS - 1], TARGET_S);
    if (worst_mib >= TARGET_MIB)
        problem(problems, "report %s %s peaked at %.1f MiB (target < %.0f MiB)", label, format,
                worst_mib, TARGET_MIB);
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "from", from, "to", to, "median_s",
                     real3(wall[RUNS / 2]), "max_s", real3(wall[RUNS - 1]), "peak_rss_mib",
                     real3(worst_mib));
}

static long file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (long)s.st_size : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    struct hub h;
    struct partner_keys keys[NPARTNERS];
    struct counts c;
    char err[1024], cpu[256], date[UTIL_TIME_LEN], db_path[PATH_MAX + 16], ctl[PATH_MAX + 16];
    json_t *problems = json_array(), *runs = json_object(), *gen = json_null(), *cfg = NULL;
    int made_dir = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(&h, 0, sizeof h);
    memset(&c, 0, sizeof c);
    memset(keys, 0, sizeof keys);
    if (parse_options(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0 || find_paths(&h, err, sizeof err) != 0) {
        fprintf(stderr, "bench_report: %s\n", err);
        return 1;
    }
    snprintf(ctl, sizeof ctl, "%s", h.hubd);
    char *slash = strrchr(ctl, '/');
    snprintf(slash ? slash + 1 : ctl, sizeof ctl - (size_t)(slash ? slash + 1 - ctl : 0),
             "ketenctl");
    if (access(ctl, X_OK) != 0) {
        fprintf(stderr, "bench_report: %s is missing (run `make` first)\n", ctl);
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_model(cpu, sizeof cpu);
    util_time_now(date);
    printf("bench_report: %s, %ld CPUs online (%s)\n", date, ncpu, cpu);
    if (hub_make_dir(&h, o.parent, err, sizeof err) != 0) {
        fprintf(stderr, "bench_report: %s\n", err);
        return 1;
    }
    made_dir = 1;
    printf("folder: %s (config, keys, database)\n", h.dir);
    if (!(cfg = write_config(&h, keys, err, sizeof err))) {
        problem(problems, "cannot write the config: %s", err);
        goto cleanup;
    }

    /* 1. The database. */
    snprintf(db_path, sizeof db_path, "%s/hub.db", h.dir);
    printf("\n[generate] %ld signals over %s .. %s, %ld referrals, in one transaction\n", o.signals,
           YEAR_FROM, YEAR_TO, o.referrals);
    int64_t g0 = now_ns();
    int filled = generate(db_path, &o, &c, err, sizeof err) == 0;
    if (!filled)
        problem(problems, "generating the data: %s", err);
    double gen_s = (double)(now_ns() - g0) / NS_PER_S;
    char wal[PATH_MAX + 32];
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    long db_bytes = file_size(db_path), wal_bytes = file_size(wal);
    printf("  %ld signals, %ld referrals (aangeboden %ld, ontvangen %ld, geaccepteerd %ld,"
           " afgewezen %ld, afgerond %ld, geannuleerd %ld, mislukt %ld), %ld escalations"
           " in %.1f s\n",
           c.signals, c.referrals, c.states[0], c.states[1], c.states[2], c.states[3], c.states[4],
           c.states[5], c.states[6], c.escalations, gen_s);
    printf("  database %.1f MiB (+ WAL %.1f MiB)\n", (double)db_bytes / 1048576.0,
           (double)wal_bytes / 1048576.0);
    gen = json_pack("{s:I, s:I, s:I, s:o, s:o}", "signals", (json_int_t)c.signals, "referrals",
                    (json_int_t)c.referrals, "escalations", (json_int_t)c.escalations, "seconds",
                    real3(gen_s), "db_mib", real3((double)(db_bytes + wal_bytes) / 1048576.0));
    if (!filled)
        goto cleanup;

    /* 2. The report: is it right at all? */
    char out[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/report.json", h.dir);
    printf("\n[check] %s --config %s report --from %s --to %s --format json --out %s\n", ctl,
           h.config, YEAR_FROM, YEAR_TO, out);
    struct run chk = run_report(ctl, h.config, YEAR_FROM, YEAR_TO, "json", out);
    json_error_t jerr;
    json_t *doc = chk.ok ? json_load_file(out, 0, &jerr) : NULL;
    json_t *total = json_object_get(json_object_get(doc, "signals"), "total");
    json_t *offered =
        json_object_get(json_object_get(json_object_get(doc, "referrals"), "total"), "offered");
    char *total_text = total ? json_dumps(total, JSON_ENCODE_ANY) : NULL; /* may be "<5" */
    char *offered_text = offered ? json_dumps(offered, JSON_ENCODE_ANY) : NULL;
    printf("  %s in %.2f s, %.1f MiB: signals.total %s, referrals offered %s\n", chk.how,
           chk.wall_s, chk.mib, total_text ? total_text : "-", offered_text ? offered_text : "-");
    free(total_text);
    free(offered_text);
    if (!chk.ok || !doc)
        problem(problems, "the check run: ketenctl %s%s", chk.how, doc ? "" : ", no JSON");
    else if (c.in_year >= 5 && (!json_is_integer(total) || json_integer_value(total) != c.in_year))
        problem(problems, "signals.total is %lld, expected %ld",
                (long long)json_integer_value(total), c.in_year);
    else if (json_is_integer(offered) && json_integer_value(offered) != c.referrals)
        problem(problems, "referrals.total.offered is %lld, expected %ld",
                (long long)json_integer_value(offered), c.referrals);
    json_decref(doc);

    /* 3. Timing and memory. */
    printf("\n[report] %d runs each, output to /dev/null: wall time / peak RSS\n", RUNS);
    json_object_set_new(runs, "year_json",
                        measure(ctl, h.config, "year", YEAR_FROM, YEAR_TO, "json", problems));
    json_object_set_new(runs, "year_html",
                        measure(ctl, h.config, "year", YEAR_FROM, YEAR_TO, "html", problems));
    json_object_set_new(runs, "year_csv",
                        measure(ctl, h.config, "year", YEAR_FROM, YEAR_TO, "csv", problems));
    json_object_set_new(runs, "month_json",
                        measure(ctl, h.config, "month", MONTH_FROM, MONTH_TO, "json", problems));
    json_object_set_new(runs, "month_html",
                        measure(ctl, h.config, "month", MONTH_FROM, MONTH_TO, "html", problems));

cleanup:
    if (made_dir && o.keep)
        printf("  kept %s\n", h.dir);
    else if (made_dir && rm_tree(h.dir) != 0)
        problem(problems, "could not remove all of %s", h.dir);
    int ok = json_array_size(problems) == 0;
    json_t *all = json_pack("{s:s, s:s, s:{s:I, s:s}, s:s, s:o, s:o, s:b, s:o}", "bench", "report",
                            "date", date, "machine", "nproc", (json_int_t)ncpu, "cpu", cpu, "dir",
                            h.dir, "generate", gen, "runs", runs, "ok", ok, "problems", problems);
    print_json_line(all, "report");
    json_decref(cfg);
    return ok ? 0 : 1;
}
