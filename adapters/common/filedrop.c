/*
 * filedrop - folder exchange transport; see filedrop.h.
 *
 * Every step that tells the partner something is done after the step it
 * depends on is durable: a file moves to done/ only after its events were
 * committed to the outbox; a delivery is renamed into out/ only after its
 * bytes were fsynced, and reported taken only after out/ itself was fsynced.
 */
#include "filedrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "util.h"

#define MAX_CANDIDATES 1024
#define MAX_FILES_PER_SCAN 200
#define NAME_MAX_LEN 200

struct candidate {
    char name[NAME_MAX_LEN + 1];
    off_t size;
    struct timespec mtime;
    int64_t stable_since; /* monotonic ms */
    int seen_this_scan;
};

struct filedrop {
    struct adapter *ad;
    char *in, *out, *done, *failed;
    long scan_interval_ms, settle_ms, max_file_bytes;
    int64_t next_scan;
    struct candidate cand[MAX_CANDIDATES];
    int n_cand;
};

static const struct adapter_cfg_key KEYS[] = {
    {"dir", ADAPTER_CFG_STRING, 1, 0, 0},
    {"scan_interval_ms", ADAPTER_CFG_INT, 0, 10, 600000},
    {"settle_ms", ADAPTER_CFG_INT, 0, 0, 600000},
    {"max_file_bytes", ADAPTER_CFG_INT, 0, 16, 64 * 1024 * 1024},
    {NULL, ADAPTER_CFG_STRING, 0, 0, 0},
};

int filedrop_ignored_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || name[0] == '.' || n > NAME_MAX_LEN)
        return 1;
    if (name[n - 1] == '~')
        return 1;
    if (n >= 4 && strcmp(name + n - 4, ".tmp") == 0)
        return 1;
    if (n >= 5 && strcmp(name + n - 5, ".part") == 0)
        return 1;
    /* our own error files never come back in */
    if (n >= 11 && strcmp(name + n - 11, ".error.json") == 0)
        return 1;
    return 0;
}

static int check_config(const json_t *section, const char *pointer, const char *base_dir,
                        json_t *errors)
{
    int rc = adapter_cfg_check(section, pointer, KEYS, errors);
    const char *dir = json_string_value(json_object_get(section, "dir"));
    if (dir && *dir) {
        char *path = util_path_resolve(base_dir, dir);
        struct stat sb;
        char p[300];
        snprintf(p, sizeof p, "%s/dir", pointer);
        if (!path || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            adapter_cfg_error(errors, p, "%s is not a folder", path ? path : dir);
            rc = -1;
        }
        free(path);
    }
    return rc;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static char *sub(const char *base, const char *name)
{
    char *p = util_path_resolve(base, name);
    if (p && mkdir(p, 0750) != 0 && errno != EEXIST) {
        free(p);
        return NULL;
    }
    return p;
}

static void stop(void **state)
{
    struct filedrop *fd = state ? *state : NULL;
    if (!fd)
        return;
    free(fd->in);
    free(fd->out);
    free(fd->done);
    free(fd->failed);
    free(fd);
    *state = NULL;
}

/* Removes out/.NAME.tmp files a crash left half written: their deliveries
 * were not confirmed, so the hub offers them again. */
static void remove_stale_temps(const char *out)
{
    DIR *d = opendir(out);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)) != NULL && n < 10000) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' && len > 5 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", out, de->d_name);
            if (unlink(path) == 0)
                n++;
        }
    }
    if (d)
        closedir(d);
    if (n > 0)
        log_msg(LOG_INFO, "event=filedrop_stale_temps_removed count=%d", n);
}

static int start(struct adapter *ad, const json_t *section, const char *base_dir, void **state,
                 char *err, size_t errlen)
{
    struct filedrop *fd = calloc(1, sizeof *fd);
    char *dir = util_path_resolve(base_dir, json_string_value(json_object_get(section, "dir")));
    if (!fd || !dir) {
        snprintf(err, errlen, "out of memory");
        free(dir);
        free(fd);
        return -1;
    }
    *state = fd;
    fd->ad = ad;
    const json_t *v;
    fd->scan_interval_ms = json_is_integer(v = json_object_get(section, "scan_interval_ms"))
                               ? (long)json_integer_value(v)
                               : 500;
    fd->settle_ms = json_is_integer(v = json_object_get(section, "settle_ms"))
                        ? (long)json_integer_value(v)
                        : 1000;
    fd->max_file_bytes = json_is_integer(v = json_object_get(section, "max_file_bytes"))
                             ? (long)json_integer_value(v)
                             : 1024 * 1024;
    fd->in = sub(dir, "in");
    fd->out = sub(dir, "out");
    fd->done = sub(dir, "done");
    fd->failed = sub(dir, "failed");
    if (!fd->in || !fd->out || !fd->done || !fd->failed) {
        snprintf(err, errlen, "cannot create in/, out/, done/ and failed/ under %s: %s", dir,
                 strerror(errno));
        free(dir);
        stop(state);
        return -1;
    }
    remove_stale_temps(fd->out);
    log_msg(LOG_INFO, "event=filedrop_started dir=%s settle_ms=%ld", dir, fd->settle_ms);
    free(dir);
    return 0;
}

/* Writes `len` bytes to dir/name atomically: dir/.name.tmp, fsync, rename,
 * fsync the folder. Returns 0, or -1 with errno set. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[4096], final[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    int f = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (f < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(f, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    if (fsync(f) != 0)
        goto fail;
    if (close(f) != 0) {
        f = -1;
        goto fail;
    }
    f = -1;
    if (rename(tmp, final) != 0)
        goto fail;
    return fsync_dir(dir);
fail : {
    int e = errno;
    if (f >= 0)
        close(f);
    unlink(tmp);
    errno = e;
    return -1;
}
}

/* Moves in/name to dest/name without replacing a file there (then name.1,
 * name.2, ...); fsyncs both folders. Returns 0 or -1. */
static int move_to(const struct filedrop *fd, const char *name, const char *dest, char *final_name,
                   size_t final_len)
{
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/%s", fd->in, name);
    for (int i = 0; i < 1000; i++) {
        if (i == 0)
            snprintf(final_name, final_len, "%s", name);
        else
            snprintf(final_name, final_len, "%s.%d", name, i);
        snprintf(to, sizeof to, "%s/%s", dest, final_name);
        if (link(from, to) == 0) {
            if (unlink(from) != 0)
                return -1;
            fsync_dir(dest);
            fsync_dir(fd->in);
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* Moves in/name to failed/ with NAME.error.json beside it. The error file is
 * written first, so whoever sees the file in failed/ finds the reason too. */
static void refuse(struct filedrop *fd, const char *name, json_t *errors)
{
    char when[UTIL_TIME_LEN], final_name[NAME_MAX_LEN + 16], errname[NAME_MAX_LEN + 40];
    char from[4096], to[4096];
    util_time_now(when);
    snprintf(from, sizeof from, "%s/%s", fd->in, name);
    int moved = 0;
    for (int i = 0; i < 1000 && !moved; i++) {
        if (i == 0)
            snprintf(final_name, sizeof final_name, "%s", name);
        else
            snprintf(final_name, sizeof final_name, "%s.%d", name, i);
        snprintf(to, sizeof to, "%s/%s", fd->failed, final_name);
        if (access(to, F_OK) == 0)
            continue;
        json_t *doc =
            json_pack("{s:s, s:s, s:O}", "file", final_name, "failed_at", when, "errors", errors);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        snprintf(errname, sizeof errname, "%s.error.json", final_name);
        if (!text || write_atomic(fd->failed, errname, text, strlen(text)) != 0)
            log_msg(LOG_ERROR, "event=filedrop_error_file_failed error=\"%s\"", strerror(errno));
        free(text);
        json_decref(doc);
        if (link(from, to) == 0)
            moved = 1;
        else if (errno != EEXIST)
            break;
    }
    if (!moved) {
        log_msg(LOG_ERROR, "event=filedrop_move_failed to=failed error=\"%s\"", strerror(errno));
        return;
    }
    unlink(from);
    fsync_dir(fd->failed);
    fsync_dir(fd->in);
    log_msg(LOG_WARN, "event=file_refused errors=%zu (see failed/)", json_array_size(errors));
}

static const char *content_type_of(const char *name)
{
    size_t n = strlen(name);
    if (n >= 5 && strcasecmp(name + n - 5, ".json") == 0)
        return "application/json";
    if (n >= 4 && strcasecmp(name + n - 4, ".csv") == 0)
        return "text/csv";
    return NULL;
}

/* Reads in/name if it is a regular file that did not change while read.
 * Returns the bytes (caller frees), NULL with *changed set when it changed,
 * or NULL with *too_big set. */
static char *read_stable(const struct filedrop *fd, const char *name, const struct stat *before,
                         size_t *len, int *changed, int *too_big)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", fd->in, name);
    *changed = *too_big = 0;
    if (before->st_size < 0 || before->st_size > fd->max_file_bytes) {
        *too_big = 1;
        return NULL;
    }
    int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0) {
        *changed = 1;
        return NULL;
    }
    char *buf = malloc((size_t)before->st_size + 1);
    size_t off = 0;
    while (buf && off < (size_t)before->st_size) {
        ssize_t r = read(f, buf + off, (size_t)before->st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    struct stat after;
    char extra;
    if (!buf || off != (size_t)before->st_size || fstat(f, &after) != 0 ||
        after.st_size != before->st_size || after.st_mtim.tv_sec != before->st_mtim.tv_sec ||
        after.st_mtim.tv_nsec != before->st_mtim.tv_nsec || read(f, &extra, 1) != 0) {
        free(buf);
        close(f);
        *changed = 1;
        return NULL;
    }
    close(f);
    buf[off] = '\0';
    *len = off;
    return buf;
}

static void take_file(struct filedrop *fd, const char *name, const struct stat *sb)
{
    size_t len = 0;
    int changed, too_big;
    json_t *errors = json_array();
    char *data = read_stable(fd, name, sb, &len, &changed, &too_big);
    if (!data && changed)
        goto out; /* try again next scan */
    if (too_big) {
        event_error(errors, "", "maxSize", "the file has %lld bytes; at most %ld are taken",
                    (long long)sb->st_size, fd->max_file_bytes);
        refuse(fd, name, errors);
        goto out;
    }
    struct adapter_input in = {data, len, content_type_of(name), name};
    int n = 0;
    int rc = adapter_take_input(fd->ad, &in, errors, &n);
    if (rc == 0) {
        char final_name[NAME_MAX_LEN + 16];
        if (move_to(fd, name, fd->done, final_name, sizeof final_name) != 0)
            log_msg(LOG_ERROR, "event=filedrop_move_failed to=done error=\"%s\"", strerror(errno));
        else
            log_msg(LOG_INFO, "event=file_taken events=%d", n);
    } else if (rc == -1) {
        refuse(fd, name, errors);
    } else {
        log_msg(LOG_ERROR, "event=file_not_taken (local failure; left in in/, retried)");
    }
out:
    free(data);
    json_decref(errors);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct candidate *candidate(struct filedrop *fd, const char *name)
{
    for (int i = 0; i < fd->n_cand; i++)
        if (strcmp(fd->cand[i].name, name) == 0)
            return &fd->cand[i];
    if (fd->n_cand == MAX_CANDIDATES)
        return NULL;
    struct candidate *c = &fd->cand[fd->n_cand++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->size = -1;
    return c;
}

static void scan(struct filedrop *fd, int64_t now)
{
    DIR *d = opendir(fd->in);
    char *names[MAX_FILES_PER_SCAN];
    int n = 0;
    if (!d) {
        log_msg(LOG_ERROR, "event=filedrop_scan_failed error=\"%s\"", strerror(errno));
        return;
    }
    struct dirent *de;
    while (n < MAX_FILES_PER_SCAN && (de = readdir(d)) != NULL)
        if (!filedrop_ignored_name(de->d_name))
            names[n++] = strdup(de->d_name);
    closedir(d);
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < fd->n_cand; i++)
        fd->cand[i].seen_this_scan = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        if (!names[i])
            continue;
        snprintf(path, sizeof path, "%s/%s", fd->in, names[i]);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            goto next; /* folders, links, sockets are not read */
        struct candidate *c = candidate(fd, names[i]);
        if (!c)
            goto next;
        c->seen_this_scan = 1;
        if (c->size != sb.st_size || c->mtime.tv_sec != sb.st_mtim.tv_sec ||
            c->mtime.tv_nsec != sb.st_mtim.tv_nsec) {
            c->size = sb.st_size;
            c->mtime = sb.st_mtim;
            c->stable_since = now;
        }
        /* Unchanged for settle_ms by our clock, and its mtime that old too. */
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t age_ms = ((int64_t)wall.tv_sec - sb.st_mtim.tv_sec) * 1000 +
                         ((int64_t)wall.tv_nsec - sb.st_mtim.tv_nsec) / 1000000;
        if (fd->settle_ms > 0 && (now - c->stable_since < fd->settle_ms || age_ms < fd->settle_ms))
            goto next;
        take_file(fd, names[i], &sb);
        c->seen_this_scan = 0; /* gone (or retried as new) */
    next:
        free(names[i]);
    }
    for (int i = 0; i < fd->n_cand;) {
        if (!fd->cand[i].seen_this_scan)
            fd->cand[i] = fd->cand[--fd->n_cand];
        else
            i++;
    }
}

static int prepare(void *state, zmq_pollitem_t *items, int max, long *timeout_ms)
{
    struct filedrop *fd = state;
    (void)items;
    (void)max;
    int64_t now = util_mono_ms();
    long t = fd->next_scan <= now ? 0 : (long)(fd->next_scan - now);
    if (*timeout_ms < 0 || t < *timeout_ms)
        *timeout_ms = t;
    return 0;
}

static void process(void *state, const zmq_pollitem_t *items, int n)
{
    struct filedrop *fd = state;
    (void)items;
    (void)n;
    int64_t now = util_mono_ms();
    if (now < fd->next_scan)
        return;
    scan(fd, now);
    fd->next_scan = util_mono_ms() + fd->scan_interval_ms;
}

/* A file name the partner can use as is: [A-Za-z0-9._-], not starting with
 * "." and not ignored by our own reading rules. */
static int safe_name(const char *name)
{
    if (!*name || name[0] == '.' || strlen(name) > NAME_MAX_LEN || filedrop_ignored_name(name))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    return 1;
}

static enum adapter_result deliver(void *state, const char *delivery_id,
                                   const struct adapter_output *out, long *retry_after_ms,
                                   char *why, size_t whylen)
{
    struct filedrop *fd = state;
    char name[NAME_MAX_LEN + 1];
    (void)retry_after_ms;
    if (safe_name(out->name))
        snprintf(name, sizeof name, "%s", out->name);
    else
        snprintf(name, sizeof name, "%.63s.json", delivery_id);
    if (!safe_name(name)) {
        snprintf(why, whylen, "no safe file name for delivery");
        return ADAPTER_FAILED;
    }
    if (write_atomic(fd->out, name, out->data, out->len) != 0) {
        snprintf(why, whylen, "cannot write to out/: %s", strerror(errno));
        return ADAPTER_RETRY;
    }
    return ADAPTER_TAKEN;
}

const struct adapter_transport_ops filedrop_ops = {
    .name = "filedrop",
    .check_config = check_config,
    .start = start,
    .stop = stop,
    .prepare = prepare,
    .process = process,
    .deliver = deliver,
};
