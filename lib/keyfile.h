/*
 * keyfile - CURVE key files as written by `ketenctl keygen PATH`.
 *
 *   PATH.pub  the Z85 public key, one line (hand it to the other side)
 *   PATH.key  the key pair in ZeroMQ's certificate text format (the format of
 *             czmq zcert and pyzmq zmq.auth), mode 0600:
 *                 curve
 *                     public-key = "<40 Z85 characters>"
 *                     secret-key = "<40 Z85 characters>"
 *
 * Does not log; errors go to the caller's buffer.
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>

#define KEYFILE_Z85_LEN 40

/* Writes PATH.pub and PATH.key for a new key pair. Refuses to overwrite
 * either file. Returns 0, or -1 with err filled. */
int keyfile_generate(const char *path, char *err, size_t errlen);

/*
 * Reads a PATH.key file. Refuses a file that group or others may read (like
 * ssh does), a file without both keys, and a public key that does not belong
 * to the secret key. Fills public_z85 and secret_z85 (41 bytes each, NUL
 * terminated). Returns 0, or -1 with err filled.
 */
int keyfile_read_pair(const char *path, char *public_z85, char *secret_z85, char *err,
                      size_t errlen);

/* Reads a public key: a .pub file (one Z85 line) or the public-key line of a
 * .key file. Fills public_z85 (41 bytes). Returns 0, or -1 with err filled. */
int keyfile_read_public(const char *path, char *public_z85, char *err, size_t errlen);

/*
 * Secret keys (the store's encryption key, the pseudonym key; docs/security.md):
 * a file of one line, `ketenhub-secret-v1 <64 hex digits>`, mode 0600, written
 * by `ketenctl keygen --secret PATH`. The 32 bytes are random.
 */
#define KEYFILE_SECRET_LEN 32

/* Writes a new secret key file at `path` (mode 0600, refuses to overwrite).
 * Returns 0, or -1 with err filled. */
int keyfile_secret_generate(const char *path, char *err, size_t errlen);

/* Reads a secret key file into key[KEYFILE_SECRET_LEN]. Refuses a path that
 * is not a regular file, a file that group or others may access, and any
 * content but the one line. Returns 0, or -1 with err filled. */
int keyfile_secret_read(const char *path, unsigned char *key, char *err, size_t errlen);

/* 1 if `z85` is 40 valid Z85 characters that decode to a 32-byte key. */
int keyfile_valid_z85(const char *z85);

#endif
