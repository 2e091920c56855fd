/*
 * testutil.h - helpers the unit test runners share: temp folders and files.
 * Header-only and static, so each runner stays one file plus this.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "seal.h"

/* The config members naming the two secret keys tu_secrets makes. */
#define TU_SECRETS                                                                                 \
    "\"encryption_key\": \"keys/store.secret\", \"pseudonym_key\": \"keys/pseudonym.secret\","

/* Makes a fresh folder under /tmp; writes its path into dir (>= 64 bytes). */
static inline void tu_tempdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/ketenhub-unit-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

/* Writes text to dir/name; path receives the full path. */
static inline void tu_write(const char *dir, const char *name, const char *text, char *path,
                            size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* Makes dir/keys/store.secret and dir/keys/pseudonym.secret (once). */
static inline void tu_secrets(const char *dir)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/keys", dir);
    mkdir(path, 0700);
    const char *names[] = {"store.secret", "pseudonym.secret"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", dir, names[i]);
        if (access(path, F_OK) != 0 && keyfile_secret_generate(path, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(2);
        }
    }
}

/* A fixed store key for unit tests (docs/encryption.md); the same for every
 * call, so a database written in one step opens in the next. */
static inline const struct seal_key *tu_seal_key(void)
{
    static struct seal_key k;
    static int made;
    if (!made) {
        uint8_t secret[SEAL_SECRET_BYTES];
        for (size_t i = 0; i < sizeof secret; i++)
            secret[i] = (uint8_t)(i * 7 + 1);
        seal_key_init(&k, secret);
        made = 1;
    }
    return &k;
}

/* rm -rf dir (test folders only, under /tmp). */
static inline void tu_rmdir(const char *dir)
{
    char cmd[512];
    if (strncmp(dir, "/tmp/ketenhub-unit-", 19) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
