/*
 * benchutil.h - what the bench programs share: clock and sleep, latency
 * samples and their percentiles, JSON figures, the temp dir, the hub's keys,
 * starting and stopping a real ketenhubd on a free port, /proc and sqlite
 * readings, CURVE DEALER sockets and the "PROBLEM:" reports.
 *
 * Header-only on purpose: the Makefile builds every tests/bench source into
 * its own program, with no library of bench code between them. So everything
 * here is `static`, and what one of the programs does not call is marked
 * BENCH_UNUSED, so neither compiler warns. What a bench measures, and its
 * config, stay in its own .c: hub_start takes a config object the program
 * builds.
 */
#ifndef KETENHUB_BENCHUTIL_H
#define KETENHUB_BENCHUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zmq.h>

#include "keyfile.h"
#include "util.h"

#define START_TIMEOUT_S 15 /* hub start-up, each attempt */
#define START_ATTEMPTS 3   /* a picked port may be taken by someone else */
#define STOP_TIMEOUT_S 15  /* SIGTERM to exit */
#define LOG_LINES_SHOWN 40

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000.0

#define BENCH_UNUSED __attribute__((unused))

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills the caller's error buffer; a long path is cut, which is fine there. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Where `needle` starts in data[0..len), or NULL (memmem is not C11). */
static const char *find(const char *data, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (data[i] == needle[0] && memcmp(data + i, needle, nl) == 0)
            return data + i;
    return NULL;
}

/* Keeps a copy of at most `cap` bytes of an odd frame, while fewer than `max`
 * are kept; the caller prints and frees shown[0..*nshown). */
static void keep_frame(char **shown, int *nshown, int max, size_t cap, const char *data, size_t len)
{
    if (*nshown >= max)
        return;
    size_t n = len < cap ? len : cap;
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, data, n);
        copy[n] = '\0';
        shown[(*nshown)++] = copy;
    }
}

/* ---- latency samples and percentiles ------------------------------------ */

/* A growing array of latencies in nanoseconds; the owner frees v. */
struct samples {
    int64_t *v;
    size_t n, cap;
};

static int samples_add(struct samples *s, int64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        int64_t *grown = realloc(s->v, cap * sizeof *grown);
        if (!grown)
            return -1;
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

BENCH_UNUSED static int samples_append(struct samples *into, const struct samples *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (samples_add(into, from->v[i]) != 0)
            return -1;
    return 0;
}

/* Percentiles in milliseconds (nearest rank); zeros when there are no samples. */
struct dist {
    size_t n;
    double p50, p90, p99, p999, max;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double rank(const int64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)ceil(p * (double)n);
    return (double)sorted[(i < 1 ? 1 : i) - 1] / NS_PER_MS;
}

/* Sorts s in place. */
static struct dist summarise(struct samples *s)
{
    struct dist d = {s->n, 0, 0, 0, 0, 0};
    if (s->n == 0)
        return d;
    qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    d.p50 = rank(s->v, s->n, 0.50);
    d.p90 = rank(s->v, s->n, 0.90);
    d.p99 = rank(s->v, s->n, 0.99);
    d.p999 = rank(s->v, s->n, 0.999);
    d.max = (double)s->v[s->n - 1] / NS_PER_MS;
    return d;
}

/* ---- JSON figures and problems ------------------------------------------ */

/* Rounds for the JSON line, so it shows 0.123 and not 0.12300000000000001. */
static json_t *real3(double x)
{
    return json_real(round(x * 1000.0) / 1000.0);
}

static json_t *dist_json(const struct dist *d)
{
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "count", (json_int_t)d->n, "p50_ms",
                     real3(d->p50), "p90_ms", real3(d->p90), "p99_ms", real3(d->p99), "p999_ms",
                     real3(d->p999), "max_ms", real3(d->max));
}

static void problem(json_t *problems, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A broken run: says so in the output, in order, and in the JSON line. */
static void problem(json_t *problems, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("PROBLEM: %s\n", text);
    json_array_append_new(problems, json_string(text));
}

/* Prints the last line of output, one JSON object; steals `all` (may be NULL). */
static void print_json_line(json_t *all, const char *bench)
{
    char *line = all ? json_dumps(all, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    if (line)
        printf("\n%s\n", line);
    else
        printf("\n{\"bench\":\"%s\",\"ok\":false}\n", bench);
    free(line);
    json_decref(all);
}

/* ---- options ------------------------------------------------------------ */

/* An option that takes an integer from min to max. */
struct long_option {
    const char *name;
    long *target;
    long min, max;
};

/*
 * Parses argv: the integer options in opts[0..n), --dir PATH into *dir,
 * --keep into *keep; --help prints usage to stdout and exits 0. Returns -1
 * after saying what is wrong on stderr, after "<prog>: ". Defaults are the
 * caller's: what is not given is left as it was.
 */
static int parse_long_options(const char *prog, int argc, char **argv,
                              const struct long_option *opts, size_t n, const char **dir, int *keep,
                              void (*usage)(FILE *f))
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct long_option *opt = NULL;
        if (strcmp(a, "--keep") == 0) {
            *keep = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, a);
            return -1;
        }
        if (strcmp(a, "--dir") == 0) {
            *dir = argv[++i];
            continue;
        }
        for (size_t k = 0; k < n && !opt; k++)
            if (strcmp(a, opts[k].name) == 0)
                opt = &opts[k];
        if (!opt) {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            return -1;
        }
        if (util_parse_long(argv[++i], opt->min, opt->max, opt->target) != 0) {
            fprintf(stderr, "%s: %s must be an integer from %ld to %ld\n", prog, a, opt->min,
                    opt->max);
            return -1;
        }
    }
    return 0;
}

/* ---- the machine -------------------------------------------------------- */

static void cpu_model(char *out, size_t outlen)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(out, outlen, "unknown");
    while (f && fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, outlen, "%s", colon + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

/* utime + stime of a process in seconds, from /proc/<pid>/stat; -1 if unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    if (!p)
        return -1;
    p++;
    for (int field = 0; field < 11; field++) { /* state, then ten fields */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    char *end;
    errno = 0;
    unsigned long long ut = strtoull(p, &end, 10), st = strtoull(end, &end, 10);
    if (errno != 0 || end == p)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- the temp dir ------------------------------------------------------- */

/* Removes a folder and everything in it (the bench's own temp dir only). */
static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    int rc = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        struct stat st;
        if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= (int)sizeof child ||
            lstat(child, &st) != 0) {
            rc = -1;
            continue;
        }
        if (S_ISDIR(st.st_mode) ? rm_tree(child) : unlink(child))
            rc = -1;
    }
    closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

/* Prints up to max_lines lines of a file, each after `prefix`, and how many
 * more there are. Returns the number of lines (0 if it cannot be read). */
static int print_file(const char *path, const char *prefix, int max_lines)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int total = 0;
    while (f && fgets(line, sizeof line, f))
        if (total++ < max_lines)
            printf("%s%s%s", prefix, line, strchr(line, '\n') ? "" : "\n");
    if (total > max_lines)
        printf("%s... %d more lines in %s\n", prefix, total - max_lines, path);
    if (f)
        fclose(f);
    return total;
}

/* ---- the hub ------------------------------------------------------------ */

struct hub {
    char dir[PATH_MAX];
    char config[PATH_MAX + 32];
    char log[PATH_MAX + 32];
    char hubd[PATH_MAX];
    char schemas[PATH_MAX];
    char endpoint[64];
    char public_z85[KEYFILE_Z85_LEN + 1];
    pid_t pid;
    int exited; /* reaped: status holds the wait status */
    int status;
};

/* A partner's key pair, for its peer; id names it in the config and its key file. */
struct partner_keys {
    char id[32];
    char public_z85[KEYFILE_Z85_LEN + 1];
    char secret_z85[KEYFILE_Z85_LEN + 1];
};

/* ketenhubd next to this program, and the repo's schemas folder above it. */
static int find_paths(struct hub *h, char *err, size_t errlen)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        set_err(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if (snprintf(h->hubd, sizeof h->hubd, "%s/ketenhubd", exe) >= (int)sizeof h->hubd ||
        access(h->hubd, X_OK) != 0) {
        set_err(err, errlen, "%s is missing (run `make` first)", h->hubd);
        return -1;
    }
    const char *root = getenv("KETENHUB_ROOT");
    const char *bases[] = {root, "/..", "/../..", "/../../.."};
    for (size_t i = 0; i < 4; i++) {
        if (i == 0 && !root)
            continue;
        snprintf(probe, sizeof probe, "%s%s/schemas", i ? exe : "", bases[i]);
        char file[PATH_MAX + 96];
        snprintf(file, sizeof file, "%s/cloudevent.json", probe);
        if (access(file, R_OK) == 0 && realpath(probe, h->schemas))
            return 0;
    }
    set_err(err, errlen, "cannot find the schemas folder above %s (set KETENHUB_ROOT)", exe);
    return -1;
}

/* A new temp dir under `parent` for the hub's config, keys, database and log. */
static int hub_make_dir(struct hub *h, const char *parent, char *err, size_t errlen)
{
    snprintf(h->dir, sizeof h->dir, "%s/ketenhub-bench-XXXXXX", parent);
    if (!mkdtemp(h->dir)) {
        set_err(err, errlen, "cannot create a temp dir under %s: %s", parent, strerror(errno));
        return -1;
    }
    snprintf(h->config, sizeof h->config, "%s/ketenhub.json", h->dir);
    snprintf(h->log, sizeof h->log, "%s/hub.log", h->dir);
    return 0;
}

/* Writes keys/hub.key, the secret keys keys/store.secret and
 * keys/pseudonym.secret (BENCH_SECRETS), and keys/<pk[i].id>.key (ids set by the caller) and
 * fills in the public keys, and each partner's secret one. */
/* The config members naming the secret keys write_keys makes. */
#define BENCH_SECRETS                                                                              \
    "\"encryption_key\": \"keys/store.secret\", \"pseudonym_key\": \"keys/pseudonym.secret\", "

static int write_keys(struct hub *h, struct partner_keys *pk, long n, char *err, size_t errlen)
{
    char keys[PATH_MAX + 8], base[PATH_MAX + 64], key_path[PATH_MAX + 80];
    char sec[KEYFILE_Z85_LEN + 1];
    snprintf(keys, sizeof keys, "%s/keys", h->dir);
    if (mkdir(keys, 0700) != 0) {
        set_err(err, errlen, "cannot create %s: %s", keys, strerror(errno));
        return -1;
    }
    snprintf(base, sizeof base, "%s/hub", keys);
    snprintf(key_path, sizeof key_path, "%s.key", base);
    if (keyfile_generate(base, err, errlen) != 0 ||
        keyfile_read_pair(key_path, h->public_z85, sec, err, errlen) != 0)
        return -1;
    sodium_memzero(sec, sizeof sec);
    const char *secrets[] = {"store.secret", "pseudonym.secret"};
    for (int i = 0; i < 2; i++) {
        snprintf(key_path, sizeof key_path, "%s/%s", keys, secrets[i]);
        if (keyfile_secret_generate(key_path, err, errlen) != 0)
            return -1;
    }
    for (long i = 0; i < n; i++) {
        snprintf(base, sizeof base, "%s/%s", keys, pk[i].id);
        snprintf(key_path, sizeof key_path, "%s.key", base);
        if (keyfile_generate(base, err, errlen) != 0 ||
            keyfile_read_pair(key_path, pk[i].public_z85, pk[i].secret_z85, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Reaps the hub if it has exited. Returns 1 while it runs. */
static int hub_running(struct hub *h)
{
    if (h->pid <= 0 || h->exited)
        return 0;
    int status;
    if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
        h->exited = 1;
        h->status = status;
        return 0;
    }
    return 1;
}

static void describe_status(int status, char *out, size_t outlen)
{
    if (WIFEXITED(status))
        snprintf(out, outlen, "exit code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outlen, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, outlen, "wait status %d", status);
}

/*
 * Starts ketenhubd on a free port and waits until it accepts connections.
 * `cfg` is the caller's config without "listen" and "schemas": each attempt
 * sets those two in it (the caller still owns it) and writes it to h->config.
 */
static int hub_start(struct hub *h, json_t *cfg, char *err, size_t errlen)
{
    for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
        int port = free_port();
        if (port <= 0) {
            set_err(err, errlen, "cannot find a free port: %s", strerror(errno));
            return -1;
        }
        snprintf(h->endpoint, sizeof h->endpoint, "tcp://127.0.0.1:%d", port);
        if (json_object_set_new(cfg, "listen", json_string(h->endpoint)) != 0 ||
            json_object_set_new(cfg, "schemas", json_string(h->schemas)) != 0 ||
            json_dump_file(cfg, h->config, JSON_INDENT(2)) != 0) {
            set_err(err, errlen, "cannot write %s", h->config);
            return -1;
        }
        fflush(stdout);
        h->exited = 0;
        h->pid = fork();
        if (h->pid < 0) {
            set_err(err, errlen, "fork: %s", strerror(errno));
            return -1;
        }
        if (h->pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a crashed bench */
            int logfd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            int nullfd = open("/dev/null", O_RDONLY);
            if (logfd < 0 || nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 ||
                dup2(logfd, 2) < 0)
                _exit(126);
            execl(h->hubd, h->hubd, "--config", h->config, (char *)NULL);
            _exit(127);
        }
        int64_t deadline = now_ns() + (int64_t)START_TIMEOUT_S * NS_PER_S;
        while (now_ns() < deadline && hub_running(h)) {
            if (port_open(port))
                return 0;
            sleep_ms(20);
        }
        if (hub_running(h)) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, &h->status, 0);
            h->exited = 1;
            set_err(err, errlen, "ketenhubd did not listen on %s within %d s", h->endpoint,
                    START_TIMEOUT_S);
            return -1;
        }
        char how[96], line[2048];
        describe_status(h->status, how, sizeof how);
        set_err(err, errlen, "ketenhubd exited during start-up (%s)", how);
        FILE *f = fopen(h->log, "r"); /* only a lost race for the port is worth a retry */
        int port_taken = 0;
        while (f && fgets(line, sizeof line, f))
            port_taken |= strstr(line, "cannot listen") != NULL;
        if (f)
            fclose(f);
        if (!port_taken)
            return -1;
    }
    return -1;
}

/* SIGTERM, then waits. Returns the wait status, or -1 if it had to be killed. */
static int hub_stop(struct hub *h)
{
    if (hub_running(h)) {
        kill(h->pid, SIGTERM);
        int64_t deadline = now_ns() + (int64_t)STOP_TIMEOUT_S * NS_PER_S;
        while (hub_running(h) && now_ns() < deadline)
            sleep_ms(10);
        if (hub_running(h)) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, &h->status, 0);
            h->exited = 1;
            return -1;
        }
    }
    return h->exited ? h->status : -1;
}

/* Stops the hub, prints "[stop] ..." and flags anything but exit code 0 as a
 * problem. Fills how[] with what happened; returns 1 for a clean exit. */
static int hub_stop_report(struct hub *h, json_t *problems, char *how, size_t howlen)
{
    int status = hub_stop(h);
    if (status < 0)
        snprintf(how, howlen, "did not exit within %d s of SIGTERM: killed", STOP_TIMEOUT_S);
    else
        describe_status(status, how, howlen);
    int clean = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("\n[stop] SIGTERM: hub %s\n", how);
    if (!clean)
        problem(problems, "hub on SIGTERM: %s, expected exit code 0", how);
    return clean;
}

/* One count(*) from the hub's database; -1 on error. Read-only while the hub
 * runs (WAL lets us read); `flags` as for sqlite3_open_v2. */
static long db_count(const char *dir, const char *sql, int flags)
{
    char path[PATH_MAX + 16];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long n = -1;
    snprintf(path, sizeof path, "%s/hub.db", dir);
    if (sqlite3_open_v2(path, &db, flags, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/*
 * A CURVE DEALER of partner `k` connected to the hub, or NULL with err filled.
 * hwm for both directions; sndtimeo_ms -1 blocks (ZeroMQ's default).
 * The caller closes the socket.
 */
static void *curve_dealer(void *ctx, const struct hub *h, const struct partner_keys *k, int hwm,
                          int sndtimeo_ms, char *err, size_t errlen)
{
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    if (!sock || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, h->public_z85, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_z85, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret_z85, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo_ms, sizeof sndtimeo_ms) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(sock, h->endpoint) != 0) {
        set_err(err, errlen, "cannot set up the DEALER: %s", zmq_strerror(errno));
        if (sock)
            zmq_close(sock);
        return NULL;
    }
    return sock;
}

#endif
