/*
 * keyfile - reading and writing CURVE key files; see keyfile.h.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#include "util.h"

#define KEYFILE_MAX 4096

int keyfile_valid_z85(const char *z85)
{
    uint8_t bin[32];
    if (!z85 || strlen(z85) != KEYFILE_Z85_LEN)
        return 0;
    return zmq_z85_decode(bin, z85) != NULL;
}

static int write_new(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = (w == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
    }
    return rc;
}

int keyfile_generate(const char *path, char *err, size_t errlen)
{
    char pub[KEYFILE_Z85_LEN + 1], sec[KEYFILE_Z85_LEN + 1];
    char pub_path[4096], key_path[4096], text[512], ts[UTIL_TIME_LEN];
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= (int)sizeof pub_path ||
        snprintf(key_path, sizeof key_path, "%s.key", path) >= (int)sizeof key_path) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot generate a CURVE key pair: %s", zmq_strerror(errno));
        return -1;
    }
    util_time_now(ts);
    snprintf(text, sizeof text,
             "#   ketenhub CURVE key pair, generated %s by ketenctl keygen\n"
             "#   SECRET: keep this file mode 0600; give only %s.pub to others.\n"
             "\n"
             "metadata\n"
             "curve\n"
             "    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             ts, path, pub, sec);
    if (write_new(key_path, 0600, text, err, errlen) != 0)
        goto fail;
    snprintf(text, sizeof text, "%s\n", pub);
    if (write_new(pub_path, 0644, text, err, errlen) != 0) {
        unlink(key_path);
        goto fail;
    }
    memset(sec, 0, sizeof sec);
    return 0;
fail:
    memset(sec, 0, sizeof sec);
    return -1;
}

/* Finds `name = "value"` on a line of its own and copies a 40-char value. */
static int find_key(const char *text, const char *name, char *out)
{
    size_t nlen = strlen(name);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, name, nlen) != 0)
            continue;
        p += nlen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '"')
            continue;
        const char *end = strchr(p, '"');
        if (!end || end - p != KEYFILE_Z85_LEN)
            return -1;
        memcpy(out, p, KEYFILE_Z85_LEN);
        out[KEYFILE_Z85_LEN] = '\0';
        return keyfile_valid_z85(out) ? 0 : -1;
    }
    return -1;
}

int keyfile_read_pair(const char *path, char *public_z85, char *secret_z85, char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "key file %s is accessible by group or others (mode %03o); "
                 "chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        return -1;
    }
    char *text = util_read_file(path, KEYFILE_MAX, NULL, err, errlen);
    if (!text)
        return -1;
    int rc = -1;
    char derived[KEYFILE_Z85_LEN + 1];
    if (find_key(text, "public-key", public_z85) != 0 ||
        find_key(text, "secret-key", secret_z85) != 0) {
        snprintf(err, errlen, "key file %s has no valid public-key and secret-key lines", path);
        goto done;
    }
    if (zmq_curve_public(derived, secret_z85) != 0 || strcmp(derived, public_z85) != 0) {
        snprintf(err, errlen, "key file %s: public-key does not belong to secret-key", path);
        goto done;
    }
    rc = 0;
done:
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

int keyfile_read_public(const char *path, char *public_z85, char *err, size_t errlen)
{
    char *text = util_read_file(path, KEYFILE_MAX, NULL, err, errlen);
    if (!text)
        return -1;
    int rc = 0;
    size_t n = strcspn(text, "\r\n");
    if (n == KEYFILE_Z85_LEN) {
        memcpy(public_z85, text, n);
        public_z85[n] = '\0';
        if (!keyfile_valid_z85(public_z85))
            rc = -1;
    } else if (find_key(text, "public-key", public_z85) != 0) {
        rc = -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "%s holds no valid Z85 CURVE public key", path);
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

#define SECRET_TAG "ketenhub-secret-v1 "

int keyfile_secret_generate(const char *path, char *err, size_t errlen)
{
    unsigned char key[KEYFILE_SECRET_LEN];
    char hex[2 * KEYFILE_SECRET_LEN + 1], text[sizeof SECRET_TAG + sizeof hex + 1];
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    randombytes_buf(key, sizeof key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    snprintf(text, sizeof text, SECRET_TAG "%s\n", hex);
    int rc = write_new(path, 0600, text, err, errlen);
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    sodium_memzero(text, sizeof text);
    return rc;
}

int keyfile_secret_read(const char *path, unsigned char *key, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", path);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen,
                 "key file %s is accessible by group or others (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return -1;
    }
    size_t len = 0;
    char *text = util_read_file(path, KEYFILE_MAX, &len, err, errlen);
    if (!text)
        return -1;
    const size_t tag = sizeof SECRET_TAG - 1, hexlen = 2 * KEYFILE_SECRET_LEN;
    size_t bin = 0;
    int rc = -1;
    if (len >= tag + hexlen && memcmp(text, SECRET_TAG, tag) == 0 &&
        (len == tag + hexlen || (len == tag + hexlen + 1 && text[len - 1] == '\n')) &&
        sodium_hex2bin(key, KEYFILE_SECRET_LEN, text + tag, hexlen, NULL, &bin, NULL) == 0 &&
        bin == KEYFILE_SECRET_LEN)
        rc = 0;
    else
        snprintf(err, errlen,
                 "key file %s is not a secret key file (one line: ketenhub-secret-v1 and 64 "
                 "hex digits; write one with ketenctl keygen --secret)",
                 path);
    sodium_memzero(text, len);
    free(text);
    return rc;
}
