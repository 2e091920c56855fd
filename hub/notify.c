/*
 * notify - webhook and e-mail delivery on libcurl's multi interface; see
 * notify.h and docs/notify.md.
 *
 * One struct msg per queued message, in a FIFO list that owns it. A message
 * waits until its due time; then it gets an easy handle in the multi handle,
 * at most NOTIFY_PARALLEL_MAX at once. curl says through the socket callback
 * which sockets to watch (kept in `socks`) and through the timer callback
 * when it wants a call regardless. notify_perform polls those sockets with a
 * zero timeout itself, so the caller's loop needs no revents bookkeeping, and
 * hands curl only what is ready: nothing here waits.
 *
 * A webhook is signed anew on every attempt (a fresh webhook-timestamp, so a
 * late retry still passes a receiver's freshness check); an e-mail is built
 * once at queue time (one Date, one Message-ID for all attempts).
 */
#include "notify.h"

#include <arpa/inet.h>
#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

#define TOKEN_MAX 4096    /* bearer token, bytes */
#define CRED_MAX 1024     /* SMTP user name or password, bytes */
#define PATH_MAX_LEN 4096 /* ca_file */
#define URL_MAX 2048      /* webhook or SMTP URL */
#define ADDR_MAX 254      /* RFC 5321 path limit less the brackets */
#define SECRET_MIN 24     /* Standard Webhooks: 24 .. 64 bytes */
#define SECRET_MAX 64
#define LINE_MAX_LEN 998 /* RFC 5322 2.1.1, without CRLF */
#define WORD_BYTES 39    /* UTF-8 bytes per encoded-word: 52 base64 chars, 64 in all */
#define RETRY_AFTER_MAX_MS (7L * 24 * 3600 * 1000)
#define LEFT_OUT_POLL_MS 10 /* sockets that did not fit the caller's pollfd array */

enum kind { KIND_WEBHOOK, KIND_EMAIL };

enum verdict { V_DELIVERED, V_RETRY, V_PERMANENT };

struct msg {
    struct msg *prev, *next; /* queue order */
    enum kind kind;
    char id[NOTIFY_ID_MAX + 1];
    struct notify_report report;
    int attempts;            /* started so far */
    int64_t due_ms;          /* monotonic: start the next attempt then */
    int64_t started_ms;      /* of the attempt in flight */
    size_t bytes;            /* counted against NOTIFY_QUEUE_BYTES_MAX */
    CURL *easy;              /* non-NULL while an attempt is in flight */
    struct curl_slist *list; /* that attempt's headers (webhook) or recipient (e-mail) */
    size_t upload_off;       /* e-mail: bytes handed to curl in this attempt */
    char retry_after[64];    /* webhook: the last response's Retry-After value */
    char errbuf[CURL_ERROR_SIZE];
    /* Owned copies. body: the JSON (webhook) or the whole RFC 5322 message. */
    char *url;
    char *body;
    size_t body_len;
    char *ca_file;
    /* webhook */
    char *bearer; /* NULL: none; zeroed before free */
    uint8_t secret[SECRET_MAX];
    size_t secret_len;
    /* e-mail */
    int starttls;
    char *username, *password; /* password zeroed before free */
    char *mail_from, *rcpt;    /* "<addr>" */
};

struct sock {
    curl_socket_t fd;
    int what; /* CURL_POLL_IN / OUT / INOUT */
};

struct notify {
    struct notify_settings s;
    CURLM *multi;
    struct msg *head, *tail;
    size_t count, bytes;
    size_t inflight;
    struct sock *socks;
    struct pollfd *pfds; /* scratch for notify_perform, same capacity as socks */
    size_t nsocks, capsocks;
    int64_t timer_ms; /* monotonic time curl wants a timeout call; -1: none */
    int64_t next_due; /* earliest due_ms of a waiting message, or earlier; -1: none */
    int in_perform, closing;
};

/* ---- small text helpers ------------------------------------------------ */

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the well-formed UTF-8 sequence at s (len bytes left), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, cp = c & 0x1fu, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, cp = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, cp = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* 1 .. NOTIFY_ID_MAX of [A-Za-z0-9_.-], dots only between other characters:
 * valid as a header value and as the left part of a Message-ID. */
static int id_ok(const char *id)
{
    size_t len = strnlen(id, NOTIFY_ID_MAX + 1);
    if (len == 0 || len > NOTIFY_ID_MAX || id[0] == '.' || id[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
        if (c == '.' && id[i + 1] == '.')
            return 0;
    }
    return 1;
}

/* A plain ASCII addr-spec without anything a header or SMTP command could
 * read as syntax: no brackets, quotes, comments, spaces or lists. */
static int address_ok(const char *a)
{
    size_t len = strnlen(a, ADDR_MAX + 1), at = 0, nat = 0;
    if (len < 3 || len > ADDR_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
            return 0;
        if (c == '@')
            at = i, nat++;
    }
    return nat == 1 && at > 0 && at < len - 1;
}

/* 1 .. max visible ASCII characters (no space, no control). */
static int visible_ok(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* A growing buffer; callers bound what goes in. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_add(struct buf *b, const void *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

static int buf_str(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

/* ---- URLs -------------------------------------------------------------- */

/* Checks `url` has one of two schemes (lowercase into scheme) and no user
 * part; *loopback tells whether the host is this machine. */
static int url_check(const char *url, const char *s1, const char *s2, char scheme[8], int *loopback,
                     char *err, size_t errlen)
{
    int rc = -1;
    char *sch = NULL, *host = NULL, *user = NULL;
    CURLU *u = curl_url();
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strnlen(url, URL_MAX + 1) > URL_MAX ||
        curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &sch, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "not a valid URL");
        goto done;
    }
    if (strcmp(sch, s1) != 0 && strcmp(sch, s2) != 0) {
        snprintf(err, errlen, "URL scheme must be %s or %s", s1, s2);
        goto done;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(err, errlen, "URL must not carry credentials");
        goto done;
    }
    snprintf(scheme, 8, "%s", sch);
    /* An address literal, not a name that merely starts with "127.". */
    struct in_addr a4;
    *loopback = strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
                (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127);
    rc = 0;
done:
    curl_free(sch);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

int notify_check_url(const char *url, int email, int starttls_required, char *err, size_t errlen)
{
    char scheme[8];
    int loopback;
    if (!url || url_check(url, email ? "smtp" : "http", email ? "smtps" : "https", scheme,
                          &loopback, err, errlen) != 0)
        return -1;
    int plain =
        email ? strcmp(scheme, "smtp") == 0 && !starttls_required : strcmp(scheme, "http") == 0;
    if (plain && !loopback) {
        snprintf(err, errlen, "%s to another machine must be encrypted (%s)",
                 email ? "e-mail" : "a webhook",
                 email ? "smtps://, or smtp:// with STARTTLS required" : "https://");
        return -1;
    }
    return 0;
}

/* ---- e-mail ------------------------------------------------------------ */

static void rfc5322_date(char out[40])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* One line of valid UTF-8 without control characters. 1: plain ASCII that
 * can go as it is; 2: needs RFC 2047 (non-ASCII, or "=?" that a reader would
 * take for an encoded-word); 0: not acceptable. */
static int subject_kind(const char *s, size_t len)
{
    int kind = strstr(s, "=?") ? 2 : 1;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            return 0;
        if (n > 1)
            kind = 2;
        i += n;
    }
    return kind;
}

/* "Subject: =?UTF-8?B?...?=" words of at most WORD_BYTES bytes each, never
 * splitting a character, folded onto continuation lines (RFC 2047 2, 5). */
static int subject_encode(struct buf *b, const char *s, size_t len)
{
    char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    if (buf_str(b, "Subject:") != 0)
        return -1;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len) {
            size_t n = utf8_seq((const unsigned char *)s + end, len - end);
            if (end + n - i > WORD_BYTES)
                break;
            end += n;
        }
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, end - i,
                          sodium_base64_VARIANT_ORIGINAL);
        if (buf_str(b, i == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?") != 0 || buf_str(b, b64) != 0 ||
            buf_str(b, "?=") != 0)
            return -1;
        i = end;
    }
    return buf_str(b, "\r\n");
}

/* The text with every line ending made CRLF and a final one added; refuses
 * invalid UTF-8, control characters other than tab, a CR not before LF and
 * lines longer than LINE_MAX_LEN bytes. */
static int text_append(struct buf *b, const char *t, size_t len, char *err, size_t errlen)
{
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\r' && i + 1 < len && t[i + 1] == '\n')
            i++, c = '\n';
        if (c == '\n') {
            if (buf_add(b, "\r\n", 2) != 0)
                goto oom;
            line = 0;
            i++;
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(err, errlen, "text has a control character at byte %zu", i);
            return NOTIFY_EINVAL;
        }
        size_t n = utf8_seq((const unsigned char *)t + i, len - i);
        if (n == 0) {
            snprintf(err, errlen, "text is not UTF-8 at byte %zu", i);
            return NOTIFY_EINVAL;
        }
        line += n;
        if (line > LINE_MAX_LEN) {
            snprintf(err, errlen, "text has a line longer than %d bytes", LINE_MAX_LEN);
            return NOTIFY_EINVAL;
        }
        if (buf_add(b, t + i, n) != 0)
            goto oom;
        i += n;
    }
    if ((len == 0 || line > 0) && buf_add(b, "\r\n", 2) != 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return NOTIFY_ENOMEM;
}

/* ---- the queue --------------------------------------------------------- */

static void msg_free(struct msg *m)
{
    if (!m)
        return;
    if (m->bearer)
        sodium_memzero(m->bearer, strlen(m->bearer));
    if (m->password)
        sodium_memzero(m->password, strlen(m->password));
    sodium_memzero(m->secret, sizeof m->secret);
    free(m->url);
    free(m->body);
    free(m->ca_file);
    free(m->bearer);
    free(m->username);
    free(m->password);
    free(m->mail_from);
    free(m->rcpt);
    free(m);
}

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* A waiting message is due at `due`: keeps next_due the earliest. */
static void note_due(struct notify *n, int64_t due)
{
    if (n->next_due < 0 || due < n->next_due)
        n->next_due = due;
}

/* Takes m: queues it, or frees it and says why not. */
static int enqueue(struct notify *n, struct msg *m, const struct notify_report *report, char *err,
                   size_t errlen)
{
    m->bytes = sizeof *m + m->body_len + 1 + slen(m->url) + slen(m->ca_file) + slen(m->bearer) +
               slen(m->username) + slen(m->password) + slen(m->mail_from) + slen(m->rcpt);
    if (n->count >= NOTIFY_QUEUE_MAX || n->bytes + m->bytes > NOTIFY_QUEUE_BYTES_MAX) {
        snprintf(err, errlen, "notify queue full (%zu messages, %zu bytes)", n->count, n->bytes);
        msg_free(m);
        return NOTIFY_EFULL;
    }
    if (report)
        m->report = *report;
    m->due_ms = util_mono_ms();
    note_due(n, m->due_ms);
    m->prev = n->tail;
    if (n->tail)
        n->tail->next = m;
    else
        n->head = m;
    n->tail = m;
    n->count++;
    n->bytes += m->bytes;
    return 0;
}

static void unlink_msg(struct notify *n, struct msg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        n->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        n->tail = m->prev;
    m->prev = m->next = NULL;
    n->count--;
    n->bytes -= m->bytes;
}

/* Ends the attempt in flight: out of the multi handle, secrets wiped. */
static void detach(struct notify *n, struct msg *m)
{
    if (m->easy) {
        curl_multi_remove_handle(n->multi, m->easy);
        curl_easy_cleanup(m->easy);
        m->easy = NULL;
        n->inflight--;
    }
    for (struct curl_slist *l = m->list; l; l = l->next)
        sodium_memzero(l->data, strlen(l->data));
    curl_slist_free_all(m->list);
    m->list = NULL;
}

/* ---- curl callbacks ------------------------------------------------------ */

static int sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct notify *n = userp;
    size_t i = 0;
    while (i < n->nsocks && n->socks[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < n->nsocks)
            n->socks[i] = n->socks[--n->nsocks];
        return 0;
    }
    if (i == n->nsocks) {
        if (n->nsocks == n->capsocks) {
            size_t cap = n->capsocks ? n->capsocks * 2 : 16;
            struct sock *s = realloc(n->socks, cap * sizeof *s);
            if (!s)
                return -1;
            n->socks = s;
            struct pollfd *p = realloc(n->pfds, cap * sizeof *p);
            if (!p)
                return -1;
            n->pfds = p;
            n->capsocks = cap;
        }
        n->socks[n->nsocks++].fd = fd;
    }
    n->socks[i].what = what;
    return 0;
}

/* curl rounds its timeout up to whole ms and so does this, by adding one:
 * a call that comes early finds nothing expired and leaves curl nothing to
 * tell us, which would otherwise be a lost timer (or a spin). */
static void set_timer(struct notify *n, long timeout_ms)
{
    n->timer_ms = timeout_ms < 0 ? -1 : util_mono_ms() + timeout_ms + (timeout_ms > 0);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    set_timer(userp, timeout_ms);
    return 0;
}

static size_t discard_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    return size * nmemb;
}

/* Keeps the Retry-After of the last response (a 100 Continue resets it). */
static size_t header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct msg *m = arg;
    size_t len = size * nmemb;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        m->retry_after[0] = '\0';
    } else if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
        size_t a = 12, b = len;
        while (a < b && (data[a] == ' ' || data[a] == '\t'))
            a++;
        while (b > a && (data[b - 1] == '\r' || data[b - 1] == '\n' || data[b - 1] == ' ' ||
                         data[b - 1] == '\t'))
            b--;
        /* The server's text ends up in the caller's logs: visible ASCII only. */
        if (b - a < sizeof m->retry_after) {
            for (size_t i = a; i < b; i++)
                m->retry_after[i - a] =
                    (unsigned char)data[i] < 0x20 || (unsigned char)data[i] >= 0x7f ? '?' : data[i];
            m->retry_after[b - a] = '\0';
        }
    }
    return len;
}

static size_t read_cb(char *out, size_t size, size_t nitems, void *arg)
{
    struct msg *m = arg;
    size_t room = size * nitems, left = m->body_len - m->upload_off;
    size_t k = left < room ? left : room;
    memcpy(out, m->body + m->upload_off, k);
    m->upload_off += k;
    return k;
}

/* ---- attempts ---------------------------------------------------------- */

/* Retry-After as seconds or an HTTP date, in ms from now; -1 if none. */
static long retry_after_ms(const char *v)
{
    size_t len = strlen(v), digits = strspn(v, "0123456789");
    if (len == 0)
        return -1;
    if (digits == len) {
        long secs;
        if (len > 9 || util_parse_long(v, 0, RETRY_AFTER_MAX_MS / 1000, &secs) != 0)
            return RETRY_AFTER_MAX_MS;
        return secs * 1000;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    double d = difftime(t, time(NULL));
    if (d <= 0)
        return 0;
    return d * 1000 > (double)RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : (long)(d * 1000);
}

/* The wait after failed attempt number `failed`: initial, doubling, capped. */
static long backoff_ms(const struct notify_settings *s, int failed)
{
    long d = s->backoff_initial_ms;
    for (int i = 1; i < failed && d < s->backoff_max_ms; i++)
        d = d > s->backoff_max_ms / 2 ? s->backoff_max_ms : d * 2;
    return d < s->backoff_max_ms ? d : s->backoff_max_ms;
}

/* Failures that the same request cannot fix by waiting: configuration,
 * certificates, credentials. */
static int curl_error_permanent(CURLcode r)
{
    switch (r) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
        return 1;
    default:
        return 0;
    }
}

/* What an ended attempt means; *wait_ms is a Retry-After to honour, or -1. */
static enum verdict classify(const struct msg *m, CURLcode result, long code, long *wait_ms)
{
    *wait_ms = -1;
    if (m->kind == KIND_EMAIL) {
        if (result == CURLE_OK)
            return V_DELIVERED;
        if (code >= 500 && code <= 599)
            return V_PERMANENT;
        if (code >= 400 && code <= 499)
            return V_RETRY;
        return curl_error_permanent(result) ? V_PERMANENT : V_RETRY;
    }
    if (result != CURLE_OK)
        return curl_error_permanent(result) ? V_PERMANENT : V_RETRY;
    if (code >= 200 && code <= 299)
        return V_DELIVERED;
    if (code == 429 || code == 503) {
        *wait_ms = retry_after_ms(m->retry_after);
        return V_RETRY;
    }
    if (code == 408 || (code >= 500 && code <= 599))
        return V_RETRY;
    return V_PERMANENT;
}

/* Reports the attempt, then schedules the next one or reports the end and
 * frees the message. */
static void finish_attempt(struct notify *n, struct msg *m, CURLcode result, long code,
                           const char *curl_err)
{
    int64_t now = util_mono_ms();
    long wait;
    enum verdict v = classify(m, result, code, &wait);
    char text[CURL_ERROR_SIZE + 64] = "";
    if (result != CURLE_OK)
        snprintf(text, sizeof text, "%s", *curl_err ? curl_err : curl_easy_strerror(result));
    else if (v != V_DELIVERED && wait >= 0)
        snprintf(text, sizeof text, "HTTP %ld (Retry-After: %s)", code, m->retry_after);
    else if (v != V_DELIVERED && code >= 300 && code <= 399)
        snprintf(text, sizeof text, "HTTP %ld (redirects are not followed)", code);
    else if (v != V_DELIVERED)
        snprintf(text, sizeof text, "HTTP %ld", code);

    struct notify_attempt a = {.attempt_no = m->attempts,
                               .code = code,
                               .error = text,
                               .elapsed_ms = (long)(now - m->started_ms)};
    if (v == V_RETRY && m->attempts < n->s.max_attempts) {
        a.will_retry = 1;
        a.retry_in_ms = wait >= 0 ? (wait < n->s.backoff_max_ms ? wait : n->s.backoff_max_ms)
                                  : backoff_ms(&n->s, m->attempts);
        m->due_ms = now + a.retry_in_ms;
        note_due(n, m->due_ms);
    }
    if (m->report.attempt)
        m->report.attempt(m->report.arg, m->id, &a);
    if (a.will_retry)
        return;
    enum notify_outcome outcome = v == V_DELIVERED   ? NOTIFY_DELIVERED
                                  : v == V_PERMANENT ? NOTIFY_REJECTED
                                                     : NOTIFY_GAVE_UP;
    unlink_msg(n, m);
    if (m->report.done)
        m->report.done(m->report.arg, m->id, outcome, m->attempts);
    msg_free(m);
}

/* The webhook-* headers and Authorization for one attempt, signed now. */
static struct curl_slist *webhook_headers(const struct msg *m)
{
    char ts[24], line[NOTIFY_ID_MAX + 64];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    struct curl_slist *l = NULL, *t;
    char *auth = NULL;

    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, m->secret, m->secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)m->id, strlen(m->id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)m->body, m->body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);

    if (!(t = curl_slist_append(l, "Content-Type: application/json")))
        goto fail;
    l = t;
    snprintf(line, sizeof line, "webhook-id: %s", m->id);
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    snprintf(line, sizeof line, "webhook-timestamp: %s", ts);
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    snprintf(line, sizeof line, "webhook-signature: v1,%s", b64);
    if (!(t = curl_slist_append(l, line)))
        goto fail;
    l = t;
    /* curl would otherwise wait for 100 Continue on large bodies. */
    if (!(t = curl_slist_append(l, "Expect:")))
        goto fail;
    l = t;
    if (m->bearer) {
        size_t len = strlen(m->bearer) + sizeof "Authorization: Bearer ";
        if (!(auth = malloc(len)))
            goto fail;
        snprintf(auth, len, "Authorization: Bearer %s", m->bearer);
        t = curl_slist_append(l, auth);
        sodium_memzero(auth, len);
        free(auth);
        if (!t)
            goto fail;
        l = t;
    }
    return l;
fail:
    curl_slist_free_all(l);
    return NULL;
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)

/* Starts the message's next attempt; one that cannot even start is
 * finished at once as a failed attempt. */
static void start_attempt(struct notify *n, struct msg *m, int64_t now)
{
    CURLcode rc = CURLE_OK;
    CURL *e = curl_easy_init();
    m->attempts++;
    m->started_ms = now;
    m->upload_off = 0;
    m->retry_after[0] = '\0';
    m->errbuf[0] = '\0';
    if (!e) {
        rc = CURLE_OUT_OF_MEMORY;
        goto fail;
    }
    SETOPT(CURLOPT_PRIVATE, (void *)m);
    SETOPT(CURLOPT_URL, m->url);
    SETOPT(CURLOPT_ERRORBUFFER, m->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, n->s.timeout_ms);
    SETOPT(CURLOPT_PROXY, "");          /* no proxy, whatever the environment says */
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is a failure, not a new target */
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* A cancelled name lookup must not make curl wait for the resolver thread. */
    SETOPT(CURLOPT_QUICK_EXIT, 1L);
    /* One CA file and no hashed CA folder: the given file is then the only
     * trust anchor, and curl can cache the parsed store across attempts (it
     * does not when a CA folder is set; parsing the system bundle costs
     * ~20 ms of the loop's CPU). */
    SETOPT(CURLOPT_CAPATH, (char *)NULL);
    if (m->ca_file)
        SETOPT(CURLOPT_CAINFO, m->ca_file);
    if (m->kind == KIND_WEBHOOK) {
        if (!(m->list = webhook_headers(m))) {
            rc = CURLE_OUT_OF_MEMORY;
            goto fail;
        }
        SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
        SETOPT(CURLOPT_USERAGENT, "ketenhub-notify/1");
        SETOPT(CURLOPT_HTTPHEADER, m->list);
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDS, m->body);
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->body_len);
        SETOPT(CURLOPT_WRITEFUNCTION, discard_cb);
        SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
        SETOPT(CURLOPT_HEADERDATA, (void *)m);
    } else {
        if (!(m->list = curl_slist_append(NULL, m->rcpt))) {
            rc = CURLE_OUT_OF_MEMORY;
            goto fail;
        }
        SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        SETOPT(CURLOPT_MAIL_FROM, m->mail_from);
        SETOPT(CURLOPT_MAIL_RCPT, m->list);
        SETOPT(CURLOPT_USE_SSL, m->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
        if (m->username) {
            SETOPT(CURLOPT_USERNAME, m->username);
            SETOPT(CURLOPT_PASSWORD, m->password ? m->password : "");
        }
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_READFUNCTION, read_cb);
        SETOPT(CURLOPT_READDATA, (void *)m);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->body_len);
    }
    if (rc != CURLE_OK)
        goto fail;
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK) {
        rc = CURLE_OUT_OF_MEMORY;
        goto fail;
    }
    m->easy = e;
    n->inflight++;
    return;
fail:
    curl_easy_cleanup(e);
    detach(n, m);
    finish_attempt(n, m, rc, 0, "");
}

#undef SETOPT

/* Starts due messages in queue order while there is room, and works out
 * next_due again. Walks the queue only when something is due, so a loop
 * turn with nothing to start costs nothing however long the queue. */
static void start_due(struct notify *n, int64_t now)
{
    struct msg *next;
    if (n->next_due < 0 || n->next_due > now || n->inflight >= NOTIFY_PARALLEL_MAX)
        return;
    n->next_due = -1;
    for (struct msg *m = n->head; m; m = next) {
        next = m->next;
        if (m->easy)
            continue;
        if (m->due_ms <= now && n->inflight < NOTIFY_PARALLEL_MAX)
            start_attempt(n, m, now); /* a failed start calls note_due itself */
        else
            note_due(n, m->due_ms);
    }
}

/* Finishes every attempt curl reports done. */
static void collect_done(struct notify *n)
{
    CURLMsg *cm;
    int left;
    while ((cm = curl_multi_info_read(n->multi, &left))) {
        if (cm->msg != CURLMSG_DONE)
            continue;
        CURL *e = cm->easy_handle;
        CURLcode result = cm->data.result;
        char *priv = NULL;
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        struct msg *m = (struct msg *)(void *)priv;
        char err[CURL_ERROR_SIZE];
        snprintf(err, sizeof err, "%s", m->errbuf);
        detach(n, m); /* cm is invalid from here */
        finish_attempt(n, m, result, code, err);
    }
}

/* ---- public ------------------------------------------------------------ */

const char *notify_outcome_name(enum notify_outcome outcome)
{
    switch (outcome) {
    case NOTIFY_DELIVERED:
        return "delivered";
    case NOTIFY_REJECTED:
        return "rejected";
    case NOTIFY_GAVE_UP:
        return "gave_up";
    case NOTIFY_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

struct notify *notify_new(const struct notify_settings *s, char *err, size_t errlen)
{
    struct notify *n = NULL;
    if (s->timeout_ms < 100 || s->timeout_ms > 600000) {
        snprintf(err, errlen, "notify timeout_ms must be 100 .. 600000");
        return NULL;
    }
    if (s->max_attempts < 1 || s->max_attempts > 1000) {
        snprintf(err, errlen, "notify max_attempts must be 1 .. 1000");
        return NULL;
    }
    if (s->backoff_max_ms > RETRY_AFTER_MAX_MS || s->backoff_initial_ms < 1 ||
        s->backoff_initial_ms > s->backoff_max_ms) {
        snprintf(err, errlen,
                 "notify backoff must be 1 <= backoff_initial_ms <= backoff_max_ms <= %ld",
                 RETRY_AFTER_MAX_MS);
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium did not initialise");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl did not initialise");
        return NULL;
    }
    if (!(n = calloc(1, sizeof *n)))
        goto fail;
    n->s = *s;
    n->timer_ms = -1;
    n->next_due = -1;
    if (!(n->multi = curl_multi_init()))
        goto fail;
    if (curl_multi_setopt(n->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
        curl_multi_setopt(n->multi, CURLMOPT_SOCKETDATA, (void *)n) != CURLM_OK ||
        curl_multi_setopt(n->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(n->multi, CURLMOPT_TIMERDATA, (void *)n) != CURLM_OK)
        goto fail;
    return n;
fail:
    snprintf(err, errlen, "out of memory setting up notify");
    if (n)
        curl_multi_cleanup(n->multi);
    free(n);
    curl_global_cleanup();
    return NULL;
}

void notify_free(struct notify **self_p)
{
    struct notify *n = *self_p;
    if (!n)
        return;
    assert(!n->in_perform);
    n->closing = 1;
    while (n->head) {
        struct msg *m = n->head;
        int reported = m->easy ? m->attempts - 1 : m->attempts;
        detach(n, m);
        unlink_msg(n, m);
        if (m->report.done)
            m->report.done(m->report.arg, m->id, NOTIFY_CANCELLED, reported);
        msg_free(m);
    }
    curl_multi_cleanup(n->multi);
    free(n->socks);
    free(n->pfds);
    free(n);
    curl_global_cleanup();
    *self_p = NULL;
}

int notify_webhook(struct notify *n, const struct notify_webhook *w, const char *message_id,
                   const char *json_body, const struct notify_report *report, char *err,
                   size_t errlen)
{
    char scheme[8];
    int loopback;
    struct msg *m = NULL;
    if (n->closing || !w || !w->url || !message_id || !json_body) {
        snprintf(err, errlen, "webhook: missing argument");
        return NOTIFY_EINVAL;
    }
    if (!id_ok(message_id)) {
        snprintf(err, errlen, "webhook: message id must be 1 .. %d of [A-Za-z0-9_.-]",
                 NOTIFY_ID_MAX);
        return NOTIFY_EINVAL;
    }
    if (url_check(w->url, "http", "https", scheme, &loopback, err, errlen) != 0)
        return NOTIFY_EINVAL;
    int has_token = w->bearer_token && *w->bearer_token;
    if (has_token && !visible_ok(w->bearer_token, TOKEN_MAX)) {
        snprintf(err, errlen, "webhook: bearer token must be 1 .. %d visible ASCII characters",
                 TOKEN_MAX);
        return NOTIFY_EINVAL;
    }
    if (has_token && strcmp(scheme, "http") == 0 && !loopback) {
        snprintf(err, errlen, "webhook: refusing to send a bearer token over plain http");
        return NOTIFY_EINVAL;
    }
    if (!w->secret || w->secret_len < SECRET_MIN || w->secret_len > SECRET_MAX) {
        snprintf(err, errlen, "webhook: secret must be %d .. %d bytes", SECRET_MIN, SECRET_MAX);
        return NOTIFY_EINVAL;
    }
    if (w->ca_file && strnlen(w->ca_file, PATH_MAX_LEN + 1) > PATH_MAX_LEN) {
        snprintf(err, errlen, "webhook: ca_file path too long");
        return NOTIFY_EINVAL;
    }
    size_t len = strnlen(json_body, NOTIFY_BODY_MAX + 1);
    if (len > NOTIFY_BODY_MAX) {
        snprintf(err, errlen, "webhook: body longer than %d bytes", NOTIFY_BODY_MAX);
        return NOTIFY_EINVAL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(json_body, len, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "webhook: body is not a JSON object or array: %s", jerr.text);
        return NOTIFY_EINVAL;
    }
    json_decref(j);

    if (!(m = calloc(1, sizeof *m)))
        goto oom;
    m->kind = KIND_WEBHOOK;
    snprintf(m->id, sizeof m->id, "%s", message_id);
    memcpy(m->secret, w->secret, w->secret_len);
    m->secret_len = w->secret_len;
    m->body_len = len;
    if (!(m->url = strdup(w->url)) || !(m->body = strdup(json_body)))
        goto oom;
    if ((has_token && !(m->bearer = strdup(w->bearer_token))) ||
        (w->ca_file && *w->ca_file && !(m->ca_file = strdup(w->ca_file))))
        goto oom;
    return enqueue(n, m, report, err, errlen);
oom:
    msg_free(m);
    snprintf(err, errlen, "webhook: out of memory");
    return NOTIFY_ENOMEM;
}

int notify_email(struct notify *n, const struct notify_email *e, const char *message_id,
                 const char *to, const char *subject, const char *text,
                 const struct notify_report *report, char *err, size_t errlen)
{
    char scheme[8], date[40], line[NOTIFY_ID_MAX + ADDR_MAX + 32];
    int loopback, rc = NOTIFY_ENOMEM;
    struct msg *m = NULL;
    struct buf b = {0};
    if (n->closing || !e || !e->smtp_url || !e->from || !message_id || !to || !subject || !text) {
        snprintf(err, errlen, "e-mail: missing argument");
        return NOTIFY_EINVAL;
    }
    if (!id_ok(message_id)) {
        snprintf(err, errlen, "e-mail: message id must be 1 .. %d of [A-Za-z0-9_.-]",
                 NOTIFY_ID_MAX);
        return NOTIFY_EINVAL;
    }
    if (url_check(e->smtp_url, "smtp", "smtps", scheme, &loopback, err, errlen) != 0)
        return NOTIFY_EINVAL;
    int has_user = e->username && *e->username;
    if (has_user && (strnlen(e->username, CRED_MAX + 1) > CRED_MAX ||
                     (e->password && strnlen(e->password, CRED_MAX + 1) > CRED_MAX))) {
        snprintf(err, errlen, "e-mail: user name or password longer than %d bytes", CRED_MAX);
        return NOTIFY_EINVAL;
    }
    if (has_user && strcmp(scheme, "smtp") == 0 && !e->starttls_required && !loopback) {
        snprintf(err, errlen,
                 "e-mail: refusing to send a password without TLS "
                 "(use smtps:// or starttls_required)");
        return NOTIFY_EINVAL;
    }
    if (!address_ok(e->from) || !address_ok(to)) {
        snprintf(err, errlen, "e-mail: from and to must be plain ASCII addresses");
        return NOTIFY_EINVAL;
    }
    if (e->ca_file && strnlen(e->ca_file, PATH_MAX_LEN + 1) > PATH_MAX_LEN) {
        snprintf(err, errlen, "e-mail: ca_file path too long");
        return NOTIFY_EINVAL;
    }
    size_t sublen = strnlen(subject, NOTIFY_SUBJECT_MAX + 1);
    int skind = sublen <= NOTIFY_SUBJECT_MAX ? subject_kind(subject, sublen) : 0;
    if (sublen == 0 || skind == 0) {
        snprintf(err, errlen, "e-mail: subject must be 1 .. %d bytes of UTF-8 on one line",
                 NOTIFY_SUBJECT_MAX);
        return NOTIFY_EINVAL;
    }
    size_t tlen = strnlen(text, NOTIFY_BODY_MAX + 1);
    if (tlen > NOTIFY_BODY_MAX) {
        snprintf(err, errlen, "e-mail: text longer than %d bytes", NOTIFY_BODY_MAX);
        return NOTIFY_EINVAL;
    }

    rfc5322_date(date);
    if (buf_str(&b, "Date: ") != 0 || buf_str(&b, date) != 0 || buf_str(&b, "\r\nFrom: ") != 0 ||
        buf_str(&b, e->from) != 0 || buf_str(&b, "\r\nTo: ") != 0 || buf_str(&b, to) != 0 ||
        buf_str(&b, "\r\n") != 0)
        goto oom;
    if (skind == 2 ? subject_encode(&b, subject, sublen) != 0
                   : (buf_str(&b, "Subject: ") != 0 || buf_str(&b, subject) != 0 ||
                      buf_str(&b, "\r\n") != 0))
        goto oom;
    snprintf(line, sizeof line, "Message-ID: <%s@ketenhub>\r\n", message_id);
    if (buf_str(&b, line) != 0 || buf_str(&b, "MIME-Version: 1.0\r\n"
                                              "Content-Type: text/plain; charset=UTF-8\r\n"
                                              "Content-Transfer-Encoding: 8bit\r\n"
                                              "Auto-Submitted: auto-generated\r\n"
                                              "\r\n") != 0)
        goto oom;
    if ((rc = text_append(&b, text, tlen, err, errlen)) != 0)
        goto fail;

    rc = NOTIFY_ENOMEM;
    if (!(m = calloc(1, sizeof *m)))
        goto oom;
    m->kind = KIND_EMAIL;
    snprintf(m->id, sizeof m->id, "%s", message_id);
    m->body = b.p;
    m->body_len = b.len;
    b.p = NULL;
    m->starttls = e->starttls_required != 0;
    if (!(m->url = strdup(e->smtp_url)))
        goto oom;
    if ((e->ca_file && *e->ca_file && !(m->ca_file = strdup(e->ca_file))) ||
        (has_user && (!(m->username = strdup(e->username)) ||
                      !(m->password = strdup(e->password ? e->password : "")))))
        goto oom;
    snprintf(line, sizeof line, "<%s>", e->from);
    if (!(m->mail_from = strdup(line)))
        goto oom;
    snprintf(line, sizeof line, "<%s>", to);
    if (!(m->rcpt = strdup(line)))
        goto oom;
    return enqueue(n, m, report, err, errlen);
oom:
    snprintf(err, errlen, "e-mail: out of memory");
fail:
    free(b.p);
    msg_free(m);
    return rc;
}

size_t notify_pollfds(struct notify *n, struct pollfd *fds, size_t max, long *timeout_ms)
{
    size_t k = 0;
    for (; k < n->nsocks && k < max; k++) {
        fds[k].fd = n->socks[k].fd;
        fds[k].events = (short)(((n->socks[k].what & CURL_POLL_IN) ? POLLIN : 0) |
                                ((n->socks[k].what & CURL_POLL_OUT) ? POLLOUT : 0));
        fds[k].revents = 0;
    }
    int64_t now = util_mono_ms(), due = n->timer_ms;
    if (n->inflight < NOTIFY_PARALLEL_MAX && n->next_due >= 0 && (due < 0 || n->next_due < due))
        due = n->next_due;
    if (k < n->nsocks && (due < 0 || due > now + LEFT_OUT_POLL_MS))
        due = now + LEFT_OUT_POLL_MS;
    *timeout_ms = due < 0 ? -1 : due <= now ? 0 : (long)(due - now);
    return k;
}

void notify_perform(struct notify *n)
{
    int running;
    assert(!n->in_perform);
    n->in_perform = 1;
    start_due(n, util_mono_ms());

    /* Which of curl's sockets are ready, without waiting; a copy, because
     * curl changes the set while it acts. */
    size_t k = n->nsocks;
    for (size_t i = 0; i < k; i++) {
        n->pfds[i].fd = n->socks[i].fd;
        n->pfds[i].events = (short)(((n->socks[i].what & CURL_POLL_IN) ? POLLIN : 0) |
                                    ((n->socks[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        n->pfds[i].revents = 0;
    }
    if (k > 0 && poll(n->pfds, k, 0) > 0) {
        /* pfds may move when curl adds sockets: walk a snapshot of the ready ones. */
        struct pollfd ready[NOTIFY_POLLFDS_MAX];
        size_t nready = 0;
        for (size_t i = 0; i < k; i++)
            if (n->pfds[i].revents) {
                ready[nready++] = n->pfds[i];
                if (nready == NOTIFY_POLLFDS_MAX)
                    break;
            }
        for (size_t i = 0; i < nready; i++) {
            int mask = ((ready[i].revents & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
                       ((ready[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                       ((ready[i].revents & (POLLERR | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(n->multi, ready[i].fd, mask, &running);
        }
    }
    if (n->timer_ms >= 0 && n->timer_ms <= util_mono_ms())
        curl_multi_socket_action(n->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(n);
    start_due(n, util_mono_ms());
    /* timer_cb only reports changes: after a timeout call that changed
     * nothing, or once the last transfer left, curl 7.88 may not call it,
     * and a timer already passed would spin the loop. Ask curl instead. */
    long t;
    if (curl_multi_timeout(n->multi, &t) == CURLM_OK)
        set_timer(n, t);
    n->in_perform = 0;
}

size_t notify_pending(const struct notify *n)
{
    return n->count;
}
