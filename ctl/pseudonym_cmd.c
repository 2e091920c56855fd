/*
 * pseudonym (ketenctl) - a person's pseudonym from the command line; see
 * pseudonym_cmd.h.
 */
#include "ctl/pseudonym_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ctl/load.h"
#include "config.h"
#include "hub/pseudonym.h"

#define LINE_MAX_BYTES 1024

static void usage(void)
{
    fprintf(stderr, "usage: ketenctl --config FILE pseudonym (--bsn BSN | --name SURNAME "
                    "--birthdate YYYY-MM-DD) [--json]\n"
                    "       a value \"-\" is read from standard input\n");
}

/* The value of an option: argv's own text, or one line of standard input
 * for "-" (into buf, without the line end). NULL when stdin gave nothing. */
static const char *option_value(const char *arg, char *buf, size_t len)
{
    if (strcmp(arg, "-") != 0)
        return arg;
    if (!fgets(buf, (int)len, stdin))
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

int ctl_pseudonym(const char *config_path, int argc, char **argv)
{
    const char *bsn = NULL, *name = NULL, *born = NULL;
    int as_json = 0, rc = 2;
    char bsn_buf[LINE_MAX_BYTES], name_buf[LINE_MAX_BYTES], born_buf[64];
    char *value = NULL;
    size_t value_len = 0;
    struct config *cfg = NULL;
    for (int i = 1; i < argc; i++) {
        int has_arg = i + 1 < argc;
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--bsn") == 0 && has_arg && !bsn) {
            bsn = option_value(argv[++i], bsn_buf, sizeof bsn_buf);
        } else if (strcmp(argv[i], "--name") == 0 && has_arg && !name) {
            name = option_value(argv[++i], name_buf, sizeof name_buf);
        } else if (strcmp(argv[i], "--birthdate") == 0 && has_arg && !born) {
            born = option_value(argv[++i], born_buf, sizeof born_buf);
        } else {
            usage();
            goto done;
        }
    }
    if (!config_path || (!bsn && !name && !born) || (bsn && (name || born)) ||
        (!bsn && (!name || !born))) {
        usage();
        goto done;
    }
    cfg = ctl_load_config(NULL, config_path);
    rc = 1;
    if (!cfg)
        goto done;
    const char *kind = bsn ? PSEUDONYM_KIND_BSN : PSEUDONYM_KIND_NAME;
    if (bsn) {
        value_len = strlen(bsn) + 1;
        value = malloc(value_len);
        if (value)
            memcpy(value, bsn, value_len);
    } else {
        value_len = strlen(name) + strlen(born) + 2;
        value = malloc(value_len);
        if (value)
            snprintf(value, value_len, "%s|%s", name, born);
    }
    char hex[PSEUDONYM_HEX_LEN];
    if (!value || pseudonym_compute(cfg->pseudonym_secret, kind, value, hex) != 0) {
        /* The value is not repeated: it is a person's data. */
        fprintf(stderr, "ketenctl pseudonym: %s\n",
                !value ? "out of memory"
                : bsn  ? "not a BSN: 9 digits (spaces, dots and hyphens allowed) passing the "
                         "elfproef"
                       : "need a surname with letters or digits and a date YYYY-MM-DD");
        goto done;
    }
    if (as_json)
        printf("{\"kind\":\"%s\",\"pseudonym\":\"%s\"}\n", kind, hex);
    else
        printf("%s %s\n", kind, hex);
    rc = 0;
done:
    if (value) {
        sodium_memzero(value, value_len);
        free(value);
    }
    sodium_memzero(bsn_buf, sizeof bsn_buf);
    sodium_memzero(name_buf, sizeof name_buf);
    sodium_memzero(born_buf, sizeof born_buf);
    config_free(&cfg);
    return rc;
}
