/*
 * test_adapter_filedrop - the folder transport's own rules, without a hub:
 * which names are never read, the folders it makes, deliveries written
 * atomically under a safe name, a folder it cannot write to answered with
 * "retry", stale temporary files removed at start, and its config check.
 * (Reading in/ goes through the core; tests/integration/2[01]_adapter_* cover
 * it against the real hub.)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "check.h"
#include "filedrop.h"
#include "log.h"
#include "util.h"

static char dir[64];

static int exists(const char *sub, const char *name)
{
    char p[256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    return stat(p, &sb) == 0;
}

static int count_entries(const char *sub)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    if (d)
        closedir(d);
    return n;
}

static void temporary_and_hidden_names_are_never_read(void)
{
    const char *ignored[] = {".x.json",           "x.json.tmp", "x.csv.part", "x.json~",
                             "x.json.error.json", "",           "."};
    const char *read[] = {"x.json", "signalen.csv", "x.tmp.json", "tmp", "export 2026.csv"};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        CHECK_INT(filedrop_ignored_name(ignored[i]), 1);
    for (size_t i = 0; i < sizeof read / sizeof *read; i++)
        CHECK_INT(filedrop_ignored_name(read[i]), 0);
}

static void *started(void)
{
    char err[256];
    void *state = NULL;
    json_t *section = json_pack("{s:s}", "dir", dir);
    int rc = filedrop_ops.start(NULL, section, "/", &state, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    json_decref(section);
    return state;
}

static void start_makes_the_four_folders_and_clears_stale_temps(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/out", dir);
    mkdir(p, 0750);
    snprintf(p, sizeof p, "%s/out/.half.json.tmp", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"half", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/out/kept.json", dir);
    f = fopen(p, "w");
    fputs("{}", f);
    fclose(f);
    void *state = started();
    CHECK(state != NULL);
    const char *subs[] = {"in", "out", "done", "failed"};
    for (int i = 0; i < 4; i++) {
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode));
    }
    CHECK(!exists("out", ".half.json.tmp"));
    CHECK(exists("out", "kept.json")); /* a complete delivery is the partner's */
    filedrop_ops.stop(&state);
    CHECK(state == NULL);
    snprintf(p, sizeof p, "%s/out/kept.json", dir);
    unlink(p);
}

static enum adapter_result deliver(void *state, const char *id, const char *name, const char *text,
                                   char *why, size_t whylen)
{
    struct adapter_output out;
    long retry_after = 0;
    memset(&out, 0, sizeof out);
    out.data = strdup(text);
    out.len = strlen(text);
    snprintf(out.name, sizeof out.name, "%s", name);
    enum adapter_result r = filedrop_ops.deliver(state, id, &out, &retry_after, why, whylen);
    adapter_output_clear(&out);
    return r;
}

static void a_delivery_is_written_whole_under_a_safe_name(void)
{
    char why[128] = "", p[256];
    void *state = started();
    CHECK_INT(deliver(state, "id-1", "doorverwijzing-1.json", "{\"a\": 1}\n", why, sizeof why),
              ADAPTER_TAKEN);
    snprintf(p, sizeof p, "%s/out/doorverwijzing-1.json", dir);
    size_t len;
    char err[128];
    char *got = util_read_file(p, 1024, &len, err, sizeof err);
    CHECK_STR(got, "{\"a\": 1}\n");
    free(got);
    /* Names that could escape out/ or hide in it fall back to the id. */
    CHECK_INT(deliver(state, "id-2", "../escape.json", "{}", why, sizeof why), ADAPTER_TAKEN);
    CHECK(exists("out", "id-2.json"));
    CHECK_INT(deliver(state, "id-3", ".hidden.json", "{}", why, sizeof why), ADAPTER_TAKEN);
    CHECK(exists("out", "id-3.json"));
    CHECK_INT(deliver(state, "id-4", "", "{}", why, sizeof why), ADAPTER_TAKEN);
    CHECK(exists("out", "id-4.json"));
    CHECK_INT(count_entries("out"), 4); /* and no temporary file left */
    /* The same delivery again replaces the file with the same content. */
    CHECK_INT(deliver(state, "id-1", "doorverwijzing-1.json", "{\"a\": 1}\n", why, sizeof why),
              ADAPTER_TAKEN);
    CHECK_INT(count_entries("out"), 4);
    filedrop_ops.stop(&state);
}

static void an_unwritable_out_is_retried_not_failed(void)
{
    char why[128] = "", p[256], q[256];
    void *state = started();
    snprintf(p, sizeof p, "%s/out", dir);
    snprintf(q, sizeof q, "%s/out.saved", dir);
    CHECK_INT(rename(p, q), 0);
    FILE *f = fopen(p, "w"); /* a file where the folder was */
    fclose(f);
    CHECK_INT(deliver(state, "id-5", "x.json", "{}", why, sizeof why), ADAPTER_RETRY);
    CHECK(strstr(why, "out/") != NULL);
    unlink(p);
    CHECK_INT(rename(q, p), 0);
    CHECK_INT(deliver(state, "id-5", "x.json", "{}", why, sizeof why), ADAPTER_TAKEN);
    filedrop_ops.stop(&state);
}

static void the_config_names_its_faults(void)
{
    json_t *errors = json_array();
    json_t *section =
        json_pack("{s:s, s:i, s:b}", "dir", "/nonexistent/drop", "settle_ms", -5, "watch", 1);
    CHECK_INT(filedrop_ops.check_config(section, "/transports/filedrop", "/", errors), -1);
    const char *want[] = {"/transports/filedrop/settle_ms", "/transports/filedrop/watch",
                          "/transports/filedrop/dir"};
    CHECK_INT(json_array_size(errors), 3);
    for (int i = 0; i < 3 && i < (int)json_array_size(errors); i++)
        CHECK_STR(json_string_value(json_object_get(json_array_get(errors, (size_t)i), "path")),
                  want[i]);
    json_decref(section);
    json_array_clear(errors);
    section = json_pack("{s:s}", "dir", dir);
    CHECK_INT(filedrop_ops.check_config(section, "/transports/filedrop", "/", errors), 0);
    CHECK_INT(json_array_size(errors), 0);
    json_decref(section);
    json_decref(errors);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ketenhub-adapter-unit-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    log_threshold = LOG_ERROR;
    RUN(temporary_and_hidden_names_are_never_read);
    RUN(start_makes_the_four_folders_and_clears_stale_temps);
    RUN(a_delivery_is_written_whole_under_a_safe_name);
    RUN(an_unwritable_out_is_retried_not_failed);
    RUN(the_config_names_its_faults);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return CHECK_DONE();
}
