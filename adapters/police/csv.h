/*
 * csv - a small RFC 4180 reader for the police's CSV exports: a header row,
 * ";" or "," as delimiter (whichever the header uses; ";" wins a tie, as
 * Dutch spreadsheet programs write it), fields in double quotes may hold the
 * delimiter, line breaks and "" for a quote; CRLF or LF line ends; a UTF-8
 * byte order mark is skipped. Does not log; pure.
 */
#ifndef CSV_H
#define CSV_H

#include <stddef.h>
#include <jansson.h>

/*
 * Parses `len` bytes into a JSON array of rows, each an array of strings
 * (the header is row 0). Rows that are completely empty are skipped; each
 * kept row's 1-based line number in the file (where it starts) goes into
 * `lines` (array of integers). At most max_rows rows. Returns the rows (caller
 * owns), or NULL with err filled (unterminated quote, text after a closing
 * quote, too many rows, a NUL byte).
 */
json_t *csv_parse(const char *data, size_t len, size_t max_rows, json_t *lines, char *err,
                  size_t errlen);

#endif
