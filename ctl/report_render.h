/*
 * report_render (ketenctl) - `ketenctl report` as CSV and as one HTML page.
 *
 * Does: turn the report's JSON model (docs/reporting.md section 1) into a
 * long-format CSV table (section 2) or a self-contained HTML page with inline
 * SVG charts (section 3). Both show exactly the figures of the model: a
 * hidden count ("<5", "x") is shown as that text, never as a number or a
 * length, and a null statistic as empty (CSV) or "not enough answers".
 * Does not: read the database or the config, or compute any figure (that is
 * ctl/report.c). The model is checked first, completely: a model that is not
 * as section 1 says is refused with the JSON path of the first problem, and
 * nothing is written.
 */
#ifndef CTL_REPORT_RENDER_H
#define CTL_REPORT_RENDER_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

/* The model version (its "version" member) these renderers know. */
#define REPORT_RENDER_VERSION 1

/*
 * Writes the model as CSV (RFC 4180: header `table,row,column,value`, lines
 * ending in CRLF, fields quoted when they hold a comma, quote or line break).
 * Returns 0, or -1 with err filled (model not as documented, or writing to
 * `out` failed); on a bad model nothing is written.
 */
int report_write_csv(const json_t *model, FILE *out, char *err, size_t errlen);

/*
 * Writes the model as one HTML page: UTF-8, inline CSS for screen and A4
 * print, inline SVG charts, no script and no reference to anything outside
 * the file. Returns 0, or -1 with err filled, as report_write_csv.
 */
int report_write_html(const json_t *model, FILE *out, char *err, size_t errlen);

#endif
