/*
 * check.h - the tiny assertion kit every unit test runner uses.
 *
 * Each test is a function; RUN(fn) calls it and counts it as failed when any
 * CHECK inside failed. A failing CHECK prints file:line and the values compared.
 * CHECK_DONE() prints "N passed, N failed" and yields the process exit code.
 * Not a framework: no fixtures, no forking; a crash fails the whole runner.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_asserts;
static int check_passed;
static int check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            check_failed_asserts++;                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #got, g_,    \
                    w_);                                                                           \
            check_failed_asserts++;                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) {                           \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #got,    \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                       \
            check_failed_asserts++;                                                                \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        int before_ = check_failed_asserts;                                                        \
        fn();                                                                                      \
        if (check_failed_asserts == before_) {                                                     \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_DONE()                                                                               \
    (printf("%s: %d passed, %d failed\n", __FILE__, check_passed, check_failed),                   \
     check_failed ? 1 : 0)

#endif
