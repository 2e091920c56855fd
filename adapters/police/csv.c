/*
 * csv - RFC 4180 reader; see csv.h.
 */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
};

static int put(struct buf *b, char c)
{
    if (b->n + 1 >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
    return 0;
}

static char delimiter_of(const char *s, size_t len)
{
    size_t semi = 0, comma = 0;
    int quoted = 0;
    for (size_t i = 0; i < len && s[i] != '\n'; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && s[i] == ';')
            semi++;
        else if (!quoted && s[i] == ',')
            comma++;
    }
    return comma > semi ? ',' : ';';
}

static int row_empty(const json_t *row)
{
    return json_array_size(row) == 1 && json_string_length(json_array_get(row, 0)) == 0;
}

json_t *csv_parse(const char *data, size_t len, size_t max_rows, json_t *lines, char *err,
                  size_t errlen)
{
    json_t *rows = json_array(), *row = json_array();
    struct buf field = {0};
    size_t i = 0, line = 1, row_line = 1;
    int had_quotes = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    char delim = delimiter_of(data + i, len - i);
    put(&field, '\0');
    field.n = 0;
    while (i <= len) {
        char c = i < len ? data[i] : '\n'; /* a last line without a line end */
        if (i < len && c == '\0') {
            snprintf(err, errlen, "line %zu: a NUL byte (not a text file)", line);
            goto fail;
        }
        if (c == '"' && field.n == 0 && !had_quotes) {
            /* quoted field: read to the closing quote */
            had_quotes = 1;
            size_t start_line = line;
            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(err, errlen, "line %zu: a quoted field is not closed", start_line);
                    goto fail;
                }
                if (data[i] == '"') {
                    if (i + 1 < len && data[i + 1] == '"') {
                        if (put(&field, '"') != 0)
                            goto oom;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (data[i] == '\n')
                    line++;
                if (put(&field, data[i]) != 0)
                    goto oom;
                i++;
            }
            if (i < len && data[i] != delim && data[i] != '\n' && data[i] != '\r') {
                snprintf(err, errlen, "line %zu: text after the closing quote of a field", line);
                goto fail;
            }
            continue;
        }
        if (c == delim || c == '\n' || (c == '\r' && (i + 1 >= len || data[i + 1] == '\n'))) {
            json_t *cell = json_stringn(field.p ? field.p : "", field.n);
            if (!cell) {
                snprintf(err, errlen, "line %zu: not valid UTF-8 text", line);
                goto fail;
            }
            json_array_append_new(row, cell);
            field.n = 0;
            if (field.p)
                field.p[0] = '\0';
            had_quotes = 0;
            if (c == '\r')
                i++; /* the \n of CRLF */
            if (c != delim) {
                if (!row_empty(row)) {
                    if (json_array_size(rows) == max_rows) {
                        snprintf(err, errlen, "more than %zu rows", max_rows);
                        goto fail;
                    }
                    json_array_append(rows, row);
                    if (lines)
                        json_array_append_new(lines, json_integer((json_int_t)row_line));
                }
                json_decref(row);
                row = json_array();
                line++;
                row_line = line;
            }
            i++;
            continue;
        }
        if (had_quotes) {
            snprintf(err, errlen, "line %zu: text after the closing quote of a field", line);
            goto fail;
        }
        if (put(&field, c) != 0)
            goto oom;
        i++;
    }
    json_decref(row);
    free(field.p);
    return rows;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    json_decref(row);
    json_decref(rows);
    free(field.p);
    return NULL;
}
