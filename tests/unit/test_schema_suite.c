/*
 * test_schema_suite - the official JSON Schema Test Suite (draft 2020-12) run
 * against lib/schema.
 *
 * Reads $SHARED/testdata/json-schema-test-suite (SHARED defaults to ../shared,
 * relative to the project root, which is the working directory): every .json
 * file of tests/draft2020-12 (not optional/), with every document of remotes/
 * preloaded under http://localhost:1234/<relative path>, as the suite's README
 * asks. Each test group gets a fresh registry: the remotes, then the group's
 * schema under https://suite.example/<file>/<group#>.json, then one compile.
 *
 * Failures are compared with tests/data/schema-suite-known-failures.txt: a
 * failing test not listed there is a regression and fails the run; a listed
 * test that passes is reported so the line can be removed. Prints the pass
 * rate per file and overall; the last line is "test_schema_suite: N passed,
 * M failed" (N = tests behaving as expected, known failures included; M =
 * regressions), which tests/run.sh reads. Everything goes to stdout so the
 * order of the report is the order of events.
 *
 * Not here: the optional/ folder (format assertion, bignum, ECMA regex corner
 * cases), which covers behaviour the specification leaves open.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <jansson.h>

#include "schema.h"
#include "schema_uri.h"

#define SUITE_SUBDIR "testdata/json-schema-test-suite"
#define KNOWN_FAILURES_FILE "tests/data/schema-suite-known-failures.txt"
#define REMOTE_BASE "http://localhost:1234/"
#define GROUP_BASE "https://suite.example/"
#define MAX_ERRORS 20  /* per validation: enough to explain a failure */
#define SHOW_CHARS 300 /* data and error dumps in the report are cut here */
#define PATH_LEN 4096
#define ERR_LEN 1024
#define MSG_LEN 512 /* a message from the validator, quoted inside ERR_LEN */

/* One document of remotes/, and whether the validator took it. */
struct remote {
    char *rel;   /* path under remotes/, e.g. "draft2020-12/integer.json" */
    char *uri;   /* where the suite serves it: REMOTE_BASE + rel */
    char *id;    /* the absolute URI its $id gives it, when that is not `uri` */
    json_t *doc; /* the document */
    /* The suite serves every remote at `uri`, whatever its $id says. When the
     * registry knows a document with a different $id only by that $id, this
     * one-line document at `uri` stands in for the HTTP retrieval:
     * {"$ref": id}. Used only when the registry cannot find `uri` without it. */
    json_t *alias;
    int use_alias;
    int accepted;
    char err[ERR_LEN];
};

struct remote_list {
    struct remote *v;
    size_t n;
};

/* One line of the known-failures list. */
struct known {
    char *file;
    char *group;
    char *test;
    char *reason;
    int line;
    int seen;   /* the suite has this test */
    int passed; /* ... and it passed */
};

struct known_list {
    struct known *v;
    size_t n;
    int malformed;
};

struct tally {
    int total;       /* tests run */
    int pass;        /* the validator gave the expected verdict */
    int known;       /* failed, listed as known */
    int regressions; /* failed, not listed */
    int fixed;       /* passed, but listed: remove from the list */
    int contract;    /* verdict and error list disagree (reported, not failed) */
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* a followed by b, in a new string the caller frees. */
static char *concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s", a, b);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The entries of `dir` except dot files, sorted. Returns 0, or -1 when the
 * folder cannot be read. Caller frees with free_names. */
static int list_dir(const char *dir, char ***names_out, size_t *n_out)
{
    char **names = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            goto fail;
        names = grown;
        if (!(names[n] = dup_str(de->d_name)))
            goto fail;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, by_name);
    *names_out = names;
    *n_out = n;
    return 0;
fail:
    closedir(d);
    free_names(names, n);
    return -1;
}

/* 1 when snprintf's result n fitted in len bytes. */
static int fits(int n, size_t len)
{
    return n >= 0 && (size_t)n < len;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Compact JSON text of v cut to SHOW_CHARS, into buf. */
static void show(const json_t *v, char *buf, size_t len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(buf, len, "(unprintable)");
        return;
    }
    if (strlen(s) > SHOW_CHARS)
        snprintf(buf, len, "%.*s...", SHOW_CHARS, s);
    else
        snprintf(buf, len, "%s", s);
    free(s);
}

/*
 * The absolute URI a document is registered under when added with `base`:
 * its $id resolved against base (an empty "#" fragment dropped), else base.
 * Caller frees; NULL when out of memory or the $id cannot be resolved.
 */
static char *document_uri(const json_t *doc, const char *base)
{
    const json_t *id = json_is_object(doc) ? json_object_get(doc, "$id") : NULL;
    if (!json_is_string(id))
        return dup_str(base);
    char *uri = schema_uri_resolve(base, json_string_value(id));
    char *hash = uri ? strchr(uri, '#') : NULL;
    if (hash)
        *hash = '\0';
    return uri;
}

/* ---- remotes ---- */

static void remotes_free(struct remote_list *rl)
{
    for (size_t i = 0; i < rl->n; i++) {
        free(rl->v[i].rel);
        free(rl->v[i].uri);
        free(rl->v[i].id);
        json_decref(rl->v[i].doc);
        json_decref(rl->v[i].alias);
    }
    free(rl->v);
    rl->v = NULL;
    rl->n = 0;
}

static int remote_push(struct remote_list *rl, const char *rel, json_t *doc)
{
    struct remote *grown = realloc(rl->v, (rl->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    rl->v = grown;
    struct remote *r = &rl->v[rl->n];
    memset(r, 0, sizeof *r);
    r->doc = doc;
    rl->n++;
    if (!(r->rel = dup_str(rel)) || !(r->uri = concat(REMOTE_BASE, rel)))
        return -1;
    char *id = document_uri(doc, r->uri);
    if (!id)
        return -1;
    if (strcmp(id, r->uri) == 0) {
        free(id);
        return 0;
    }
    r->id = id;
    r->alias = json_pack("{ss}", "$ref", id);
    return r->alias ? 0 : -1;
}

/* Loads every .json below root/rel (rel "" for root itself), depth first. */
static int remotes_collect(const char *root, const char *rel, struct remote_list *rl)
{
    char dir[PATH_LEN];
    char **names = NULL;
    size_t n = 0;
    int rc = -1;
    if (!fits(snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel), sizeof dir) ||
        list_dir(dir, &names, &n) != 0) {
        printf("cannot read %s\n", dir);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char path[PATH_LEN], child[PATH_LEN];
        if (!fits(snprintf(path, sizeof path, "%s/%s", dir, names[i]), sizeof path) ||
            !fits(snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", names[i]),
                  sizeof child)) {
            printf("remote path too long under %s, skipped\n", dir);
            continue;
        }
        if (is_dir(path)) {
            if (remotes_collect(root, child, rl) != 0)
                goto done;
            continue;
        }
        if (!ends_with(names[i], ".json"))
            continue;
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
        if (!doc) {
            printf("remote %s: not JSON: %s (line %d), skipped\n", child, jerr.text, jerr.line);
            continue;
        }
        if (remote_push(rl, child, doc) != 0)
            goto done;
    }
    rc = 0;
done:
    free_names(names, n);
    return rc;
}

/* Adds remote r (and its alias when used) to reg. Returns 0, or -1 with err filled. */
static int remote_add(struct schema_registry *reg, const struct remote *r, char *err, size_t errlen)
{
    char serr[MSG_LEN];
    if (schema_registry_add(reg, r->doc, r->uri, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "add: %s", serr);
        return -1;
    }
    if (r->use_alias && schema_registry_add(reg, r->alias, r->uri, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "add alias %s -> %s: %s", r->uri, r->id, serr);
        return -1;
    }
    return 0;
}

/* Adds every accepted remote to reg. Returns 0, or -1 with err filled. */
static int remotes_add_accepted(struct schema_registry *reg, const struct remote_list *rl,
                                char *err, size_t errlen)
{
    for (size_t i = 0; i < rl->n; i++) {
        char rerr[MSG_LEN];
        if (rl->v[i].accepted && remote_add(reg, &rl->v[i], rerr, sizeof rerr) != 0) {
            snprintf(err, errlen, "remote %s: %s", rl->v[i].rel, rerr);
            return -1;
        }
    }
    return 0;
}

/*
 * Compiles the accepted remotes plus r (with its alias when use_alias).
 * Returns 1 when that compiles and r is found at its suite address, 0 when it
 * compiles but r is not found there, -1 with err filled when it is refused.
 */
static int remote_try(const struct remote_list *rl, struct remote *r, int use_alias, char *err,
                      size_t errlen)
{
    int rc = -1;
    struct schema_registry *reg = schema_registry_new();
    r->use_alias = use_alias;
    if (!reg)
        snprintf(err, errlen, "out of memory");
    else if (remotes_add_accepted(reg, rl, err, errlen) == 0 &&
             remote_add(reg, r, err, errlen) == 0 && schema_registry_compile(reg, err, errlen) == 0)
        rc = schema_registry_get(reg, r->uri) != NULL;
    schema_registry_free(&reg);
    r->use_alias = 0;
    return rc;
}

/*
 * Decides which remotes the validator accepts: a remote is taken when a
 * registry of the already taken ones plus it compiles. Repeated until nothing
 * changes, so a remote that $refs another (nested/foo-ref-string.json ->
 * string.json) gets in once its target has. The rest (other drafts' keywords,
 * metaschemas that are not bundled) stay out with the validator's reason; the
 * tests that need them then fail and are in the known-failures list.
 */
static void remotes_select(struct remote_list *rl)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < rl->n; i++) {
            struct remote *r = &rl->v[i];
            char err[ERR_LEN];
            if (r->accepted)
                continue;
            int rc = remote_try(rl, r, 0, r->err, sizeof r->err);
            if (rc < 0)
                continue;
            if (rc == 0 && r->alias && remote_try(rl, r, 1, err, sizeof err) == 1)
                r->use_alias = 1;
            r->accepted = 1;
            r->err[0] = '\0';
            changed = 1;
        }
    }
}

/* ---- known failures ---- */

static void known_free(struct known_list *kl)
{
    for (size_t i = 0; i < kl->n; i++) {
        free(kl->v[i].file);
        free(kl->v[i].group);
        free(kl->v[i].test);
        free(kl->v[i].reason);
    }
    free(kl->v);
    kl->v = NULL;
    kl->n = 0;
}

/* A copy of s[0..n) without surrounding blanks. */
static char *trimmed(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/*
 * Parses one "file | group | test | reason" line into k. The descriptions in
 * the suite contain no " | ", so the first three separators split the fields
 * and the reason is the rest. Returns 0, or -1 when a field is missing.
 */
static int known_parse(const char *line, struct known *k)
{
    const char *field[4];
    size_t len[4];
    const char *p = line;
    for (int f = 0; f < 3; f++) {
        const char *sep = strstr(p, " | ");
        if (!sep)
            return -1;
        field[f] = p;
        len[f] = (size_t)(sep - p);
        p = sep + 3;
    }
    field[3] = p;
    len[3] = strlen(p);
    memset(k, 0, sizeof *k);
    k->file = trimmed(field[0], len[0]);
    k->group = trimmed(field[1], len[1]);
    k->test = trimmed(field[2], len[2]);
    k->reason = trimmed(field[3], len[3]);
    if (!k->file || !k->group || !k->test || !k->reason || !*k->file || !*k->group || !*k->test ||
        !*k->reason) {
        free(k->file);
        free(k->group);
        free(k->test);
        free(k->reason);
        memset(k, 0, sizeof *k);
        return -1;
    }
    return 0;
}

/* Reads the list; a missing file is an empty list. Returns 0, or -1 on OOM. */
static int known_load(const char *path, struct known_list *kl)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int lineno = 0;
    if (!f) {
        printf("known failures: %s not found, treating the list as empty\n", path);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
            continue;
        struct known k;
        if (known_parse(s, &k) != 0) {
            printf("known failures: %s:%d: malformed, want \"file.json | group | test | "
                   "reason\"\n",
                   path, lineno);
            kl->malformed++;
            continue;
        }
        k.line = lineno;
        struct known *grown = realloc(kl->v, (kl->n + 1) * sizeof *grown);
        if (!grown) {
            free(k.file);
            free(k.group);
            free(k.test);
            free(k.reason);
            fclose(f);
            return -1;
        }
        kl->v = grown;
        kl->v[kl->n++] = k;
    }
    fclose(f);
    return 0;
}

static struct known *known_find(struct known_list *kl, const char *file, const char *group,
                                const char *test)
{
    for (size_t i = 0; i < kl->n; i++)
        if (strcmp(kl->v[i].file, file) == 0 && strcmp(kl->v[i].group, group) == 0 &&
            strcmp(kl->v[i].test, test) == 0)
            return &kl->v[i];
    return NULL;
}

/* ---- running ---- */

/* 1 when the error list is well formed for the verdict: empty when valid,
 * non-empty when invalid, and each entry {"path","keyword","message"} strings. */
static int errors_consistent(int valid, const json_t *errors)
{
    size_t i;
    const json_t *e;
    if (valid != (json_array_size(errors) == 0))
        return 0;
    json_array_foreach(errors, i, e)
    {
        if (!json_is_string(json_object_get(e, "path")) ||
            !json_is_string(json_object_get(e, "keyword")) ||
            !json_is_string(json_object_get(e, "message")))
            return 0;
    }
    return 1;
}

/* Builds the group's registry and finds its schema. Returns the registry
 * (caller frees) and *schema, or NULL with err filled. */
static struct schema_registry *group_compile(const struct remote_list *rl, json_t *doc,
                                             const char *base, const struct schema **schema,
                                             char *err, size_t errlen)
{
    char serr[MSG_LEN];
    char *uri = NULL;
    struct schema_registry *reg = schema_registry_new();
    if (!reg) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (remotes_add_accepted(reg, rl, err, errlen) != 0)
        goto fail;
    if (schema_registry_add(reg, doc, base, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "add refused: %s", serr);
        goto fail;
    }
    if (schema_registry_compile(reg, serr, sizeof serr) != 0) {
        snprintf(err, errlen, "compile refused: %s", serr);
        goto fail;
    }
    uri = document_uri(doc, base);
    *schema = uri ? schema_registry_get(reg, uri) : NULL;
    if (!*schema)
        *schema = schema_registry_get(reg, base);
    if (!*schema) {
        snprintf(err, errlen, "compiled, but no schema at %.300s", uri ? uri : base);
        goto fail;
    }
    free(uri);
    return reg;
fail:
    free(uri);
    schema_registry_free(&reg);
    return NULL;
}

static void report_failure(const char *tag, const char *file, const char *group, const char *test,
                           const json_t *data, int expected, const char *why)
{
    char shown[SHOW_CHARS + 16];
    show(data, shown, sizeof shown);
    printf("%s: %s | %s | %s\n", tag, file, group, test);
    printf("    data: %s\n    expected: %s, got: %s\n", shown, expected ? "valid" : "invalid", why);
}

static void run_group(const char *file, size_t gi, const json_t *group,
                      const struct remote_list *rl, struct known_list *kl, struct tally *t)
{
    const char *gdesc = json_string_value(json_object_get(group, "description"));
    json_t *doc = json_object_get(group, "schema");
    const json_t *tests = json_object_get(group, "tests");
    char base[PATH_LEN], err[ERR_LEN];
    const struct schema *schema = NULL;
    struct schema_registry *reg = NULL;
    size_t i;
    const json_t *test;

    if (!gdesc)
        gdesc = "(no description)";
    if (!fits(snprintf(base, sizeof base, GROUP_BASE "%s/%zu.json", file, gi), sizeof base))
        snprintf(err, sizeof err, "file name too long");
    else if (doc)
        reg = group_compile(rl, doc, base, &schema, err, sizeof err);
    else
        snprintf(err, sizeof err, "group has no schema");

    json_array_foreach(tests, i, test)
    {
        const char *tdesc = json_string_value(json_object_get(test, "description"));
        const json_t *data = json_object_get(test, "data");
        int expected = json_is_true(json_object_get(test, "valid"));
        char why[ERR_LEN + SHOW_CHARS + 64];
        int got = -1;
        json_t *errors = json_array();

        if (!tdesc)
            tdesc = "(no description)";
        t->total++;
        if (reg && errors) {
            got = schema_validate(schema, data, errors, NULL, MAX_ERRORS);
            char shown[SHOW_CHARS + 16];
            show(errors, shown, sizeof shown);
            snprintf(why, sizeof why, "%s, errors %s", got ? "valid" : "invalid", shown);
            if (!errors_consistent(got, errors)) {
                t->contract++;
                report_failure("CONTRACT (error list does not match the verdict)", file, gdesc,
                               tdesc, data, expected, why);
            }
        } else {
            snprintf(why, sizeof why, "no verdict: %s", reg ? "out of memory" : err);
        }
        json_decref(errors);

        struct known *k = known_find(kl, file, gdesc, tdesc);
        if (k)
            k->seen = 1;
        if (got == expected) {
            t->pass++;
            if (k) {
                k->passed = 1;
                t->fixed++;
                printf("now passes, remove from list (line %d): %s | %s | %s\n", k->line, file,
                       gdesc, tdesc);
            }
        } else if (k) {
            t->known++;
        } else {
            t->regressions++;
            report_failure("REGRESSION", file, gdesc, tdesc, data, expected, why);
        }
    }
    schema_registry_free(&reg);
}

/* Runs one suite file. Returns 0, or -1 when it cannot be read. */
static int run_file(const char *dir, const char *file, const struct remote_list *rl,
                    struct known_list *kl, struct tally *all)
{
    char path[PATH_LEN];
    json_error_t jerr = {0};
    struct tally t = {0};
    size_t gi;
    const json_t *group;

    json_t *groups = NULL;
    if (fits(snprintf(path, sizeof path, "%s/%s", dir, file), sizeof path))
        groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    else
        snprintf(jerr.text, sizeof jerr.text, "path too long");
    if (!json_is_array(groups)) {
        printf("%s: cannot load: %s (line %d)\n", file, groups ? "not an array" : jerr.text,
               jerr.line);
        json_decref(groups);
        return -1;
    }
    json_array_foreach(groups, gi, group)
    {
        run_group(file, gi, group, rl, kl, &t);
    }
    json_decref(groups);
    if (t.known)
        printf("%s: %d/%d (%d known failures)\n", file, t.pass, t.total, t.known);
    else
        printf("%s: %d/%d\n", file, t.pass, t.total);
    all->total += t.total;
    all->pass += t.pass;
    all->known += t.known;
    all->regressions += t.regressions;
    all->fixed += t.fixed;
    all->contract += t.contract;
    return 0;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(void)
{
    const char *shared = getenv("SHARED");
    const char *ci = getenv("CI");
    char suite[PATH_LEN], tests_dir[PATH_LEN], remotes_dir[PATH_LEN];
    struct remote_list rl = {0};
    struct known_list kl = {0};
    struct tally all = {0};
    char **files = NULL;
    size_t nfiles = 0;
    int unreadable = 0;
    struct timespec start;

    clock_gettime(CLOCK_MONOTONIC, &start);
    if (!shared || !*shared)
        shared = "../shared";
    if (!fits(snprintf(suite, sizeof suite, "%s/" SUITE_SUBDIR, shared), sizeof suite) ||
        !fits(snprintf(tests_dir, sizeof tests_dir, "%s/tests/draft2020-12", suite),
              sizeof tests_dir) ||
        !fits(snprintf(remotes_dir, sizeof remotes_dir, "%s/remotes", suite), sizeof remotes_dir)) {
        printf("SHARED path too long\ntest_schema_suite: 0 passed, 1 failed\n");
        return 1;
    }

    if (!is_dir(tests_dir)) {
        if (ci && *ci) {
            printf("FAIL: JSON Schema Test Suite not found at %s (CI is set: the suite is "
                   "required; put it under $SHARED/" SUITE_SUBDIR ")\n",
                   tests_dir);
            printf("test_schema_suite: 0 passed, 1 failed\n");
            return 1;
        }
        printf("skipped: JSON Schema Test Suite not found at %s\n", tests_dir);
        printf("test_schema_suite: 0 passed, 0 failed\n");
        return 0;
    }
    if (known_load(KNOWN_FAILURES_FILE, &kl) != 0 || list_dir(tests_dir, &files, &nfiles) != 0) {
        printf("out of memory or cannot read %s\n", tests_dir);
        goto fail;
    }

    if (!is_dir(remotes_dir)) {
        printf("remotes: %s not found, running without them\n", remotes_dir);
    } else {
        if (remotes_collect(remotes_dir, "", &rl) != 0) {
            printf("remotes: cannot load %s\n", remotes_dir);
            goto fail;
        }
        remotes_select(&rl);
        size_t taken = 0, aliased = 0;
        for (size_t i = 0; i < rl.n; i++) {
            taken += (size_t)rl.v[i].accepted;
            aliased += (size_t)rl.v[i].use_alias;
        }
        printf("remotes: %zu of %zu documents preloaded under " REMOTE_BASE
               " (%zu reached there through an alias)\n",
               taken, rl.n, aliased);
        for (size_t i = 0; i < rl.n; i++)
            if (!rl.v[i].accepted)
                printf("  refused %s: %s\n", rl.v[i].rel, rl.v[i].err);
    }

    for (size_t i = 0; i < nfiles; i++) {
        if (!ends_with(files[i], ".json"))
            continue; /* optional/ and anything else */
        if (run_file(tests_dir, files[i], &rl, &kl, &all) != 0)
            unreadable++;
    }

    int stale = 0, bugs = 0;
    for (size_t i = 0; i < kl.n; i++) {
        if (!kl.v[i].seen) {
            stale++;
            printf("known failures line %d matches no test in the suite: %s | %s | %s\n",
                   kl.v[i].line, kl.v[i].file, kl.v[i].group, kl.v[i].test);
        }
        if (strncmp(kl.v[i].reason, "BUG", 3) == 0)
            bugs++;
    }
    printf("overall: %d/%d tests pass (%.1f%%) in %.2f s\n", all.pass, all.total,
           all.total ? 100.0 * all.pass / all.total : 0.0, seconds_since(&start));
    printf("known failures: %d failing as listed; list has %zu entries (%d marked BUG, %d "
           "now passing, %d matching no test)\n",
           all.known, kl.n, bugs, all.fixed, stale);
    if (all.contract)
        printf("error lists not matching the verdict: %d (see CONTRACT lines)\n", all.contract);
    printf("regressions: %d\n", all.regressions);

    int failed = all.regressions + unreadable + kl.malformed;
    printf("test_schema_suite: %d passed, %d failed\n", all.total - all.regressions, failed);
    free_names(files, nfiles);
    remotes_free(&rl);
    known_free(&kl);
    return failed ? 1 : 0;
fail:
    printf("test_schema_suite: 0 passed, 1 failed\n");
    free_names(files, nfiles);
    remotes_free(&rl);
    known_free(&kl);
    return 1;
}
