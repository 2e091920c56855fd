/*
 * schema_regex - ECMA-262 "pattern" regexes compiled once with PCRE2.
 *
 * PCRE2 runs in UTF mode WITHOUT PCRE2_UCP: that keeps \d, \w and \b ASCII-only,
 * exactly as ECMA-262 defines them even with the "u" flag (UCP would make them
 * Unicode-aware, which ECMA does not). What still differs is rewritten before
 * compiling:
 *   \s, \S   ECMA includes Unicode spaces (U+00A0, U+FEFF, Zs, U+2028/9):
 *            they are added to the class; \S inside a [class] becomes an
 *            alternation so the class stays exact.
 *   .        ECMA excludes only \n \r U+2028 U+2029 -> [^\n\r\u2028\u2029].
 *   \uD83D\uDE00  a surrogate pair becomes one code point \u{1F600}.
 *   [ in a class  is literal in ECMA, so it is escaped (no POSIX [:x:]).
 *   \p{Letter}    ECMA long General_Category names and gc= become PCRE2's
 *                 short names (\p{L}); scripts and binary properties pass.
 * and compile options do the rest: PCRE2_ALT_BSUX + PCRE2_EXTRA_ALT_BSUX
 * (\uXXXX, \u{X}, \xXX only), PCRE2_ALLOW_EMPTY_CLASS ([] and [^]),
 * PCRE2_DOLLAR_ENDONLY ($ does not match before a final newline).
 * Remaining deviations are in docs/schema.md. Matching is bounded by a match
 * limit so a hostile subject cannot pin the CPU.
 */
#include "schema_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backtracking budget per match: generous for real patterns, fatal for ReDoS. */
#define MATCH_LIMIT 5000000u
#define HEAP_LIMIT_KIB 20000u

struct schema_regex {
    pcre2_code *code;
    pcre2_match_context *mctx; /* read-only while matching: shared by threads */
};

/* ECMA-262 WhiteSpace and LineTerminator beyond the ASCII ones \s has. */
#define EXTRA_WS "\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

struct buf {
    char *s;
    size_t len;
    size_t cap;
    int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static int hex4(const char *s, size_t left, unsigned *out)
{
    unsigned v = 0;
    if (left < 4)
        return 0;
    for (int k = 0; k < 4; k++) {
        char ch = s[k];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* ECMA-262 General_Category names (long forms and aliases) PCRE2 10.42 only
 * knows by their short form; scripts and binary properties pass unchanged. */
static const char *const gc_names[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "LC"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

/* \p{...} or \P{...} at src[i]: writes the PCRE2 spelling; returns the index
 * after it, or 0 when it is not a braced property (copied as is then). */
static size_t translate_property(const char *src, size_t len, size_t i, struct buf *out)
{
    const char *name = src + i + 3;
    const char *end;
    size_t n;

    if (i + 3 >= len || src[i + 2] != '{')
        return 0;
    end = memchr(name, '}', len - i - 3);
    if (end == NULL)
        return 0;
    n = (size_t)(end - name);
    if (n > 17 && memcmp(name, "General_Category=", 17) == 0)
        name += 17, n -= 17;
    else if (n > 3 && memcmp(name, "gc=", 3) == 0)
        name += 3, n -= 3;
    for (size_t k = 0; k < sizeof gc_names / sizeof gc_names[0]; k++) {
        if (strlen(gc_names[k][0]) == n && memcmp(gc_names[k][0], name, n) == 0) {
            name = gc_names[k][1];
            n = strlen(name);
            break;
        }
    }
    buf_add(out, src + i, 2);
    buf_str(out, "{");
    buf_add(out, name, n);
    buf_str(out, "}");
    return (size_t)(end - src) + 1;
}

/*
 * Translates the escape at src[i] == '\\' into `out`; returns the index after
 * it. In a class, \S cannot be written as a class member, so it only sets
 * *neg_space and the caller rewrites the class.
 */
static size_t translate_escape(const char *src, size_t len, size_t i, struct buf *out, int in_class,
                               int *neg_space)
{
    unsigned hi, lo;
    char next;

    if (i + 1 >= len) {
        buf_str(out, "\\"); /* PCRE2 reports the trailing backslash */
        return i + 1;
    }
    next = src[i + 1];
    if (next == 's') {
        buf_str(out, in_class ? "\\s" EXTRA_WS : "[\\s" EXTRA_WS "]");
        return i + 2;
    }
    if (next == 'S') {
        if (in_class)
            *neg_space = 1;
        else
            buf_str(out, "[^\\s" EXTRA_WS "]");
        return i + 2;
    }
    if (next == 'u' && hex4(src + i + 2, len - i - 2, &hi) && hi >= 0xD800 && hi <= 0xDBFF &&
        i + 12 <= len && src[i + 6] == '\\' && src[i + 7] == 'u' &&
        hex4(src + i + 8, len - i - 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        char tmp[24];
        unsigned cp = 0x10000u + ((hi - 0xD800u) << 10) + (lo - 0xDC00u);
        snprintf(tmp, sizeof tmp, "\\u{%X}", cp);
        buf_str(out, tmp);
        return i + 12;
    }
    if (next == 'p' || next == 'P') {
        size_t after = translate_property(src, len, i, out);
        if (after > 0)
            return after;
    }
    buf_add(out, src + i, 2);
    return i + 2;
}

/* Translates the class starting at src[i] == '['; returns the index after it. */
static size_t translate_class(const char *src, size_t len, size_t i, struct buf *out)
{
    struct buf body = {NULL, 0, 0, 0};
    int negated = 0, neg_space = 0, closed = 0;

    i++;
    if (i < len && src[i] == '^') {
        negated = 1;
        i++;
    }
    buf_add(&body, "", 0);
    while (i < len) {
        char ch = src[i];
        if (ch == ']') {
            closed = 1;
            i++;
            break;
        }
        if (ch == '\\') {
            i = translate_escape(src, len, i, &body, 1, &neg_space);
        } else if (ch == '[') {
            buf_str(&body, "\\[");
            i++;
        } else {
            buf_add(&body, &ch, 1);
            i++;
        }
    }
    if (body.oom) {
        out->oom = 1;
    } else if (!closed || !neg_space) {
        buf_str(out, negated ? "[^" : "[");
        buf_add(out, body.s, body.len);
        if (closed)
            buf_str(out, "]");
    } else if (!negated) {
        /* [X\S] = X or any non-space */
        buf_str(out, "(?:[");
        buf_add(out, body.s, body.len);
        buf_str(out, "]|[^\\s" EXTRA_WS "])");
    } else {
        /* [^X\S] = a space that is not in X */
        buf_str(out, "(?:(?![");
        buf_add(out, body.s, body.len);
        buf_str(out, "])[\\s" EXTRA_WS "])");
    }
    free(body.s);
    return i;
}

/* The PCRE2 spelling of an ECMA-262 pattern; NULL when out of memory. */
static char *translate(const char *src, size_t len, size_t *out_len)
{
    struct buf out = {NULL, 0, 0, 0};
    size_t i = 0;
    int unused = 0;

    buf_add(&out, "", 0);
    while (i < len) {
        char ch = src[i];
        if (ch == '\\') {
            i = translate_escape(src, len, i, &out, 0, &unused);
        } else if (ch == '[') {
            i = translate_class(src, len, i, &out);
        } else if (ch == '.') {
            buf_str(&out, "[^\\n\\r\\u2028\\u2029]");
            i++;
        } else {
            buf_add(&out, &ch, 1);
            i++;
        }
    }
    if (out.oom) {
        free(out.s);
        return NULL;
    }
    *out_len = out.len;
    return out.s;
}

struct schema_regex *schema_regex_compile(const char *src, size_t len, char *err, size_t errlen)
{
    struct schema_regex *re = NULL;
    pcre2_compile_context *cctx = NULL;
    char *pcre_src = NULL;
    size_t pcre_len = 0;
    int errcode = 0;
    PCRE2_SIZE erroffset = 0;

    re = calloc(1, sizeof *re);
    pcre_src = translate(src, len, &pcre_len);
    cctx = pcre2_compile_context_create(NULL);
    if (re == NULL || pcre_src == NULL || cctx == NULL)
        goto oom;
    pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
    re->code =
        pcre2_compile((PCRE2_SPTR)pcre_src, pcre_len,
                      PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_DOLLAR_ENDONLY,
                      &errcode, &erroffset, cctx);
    if (re->code == NULL) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", errcode);
        snprintf(err, errlen, "%s (at offset %zu of the translated pattern)", (char *)msg,
                 (size_t)erroffset);
        goto fail;
    }
    /* JIT is an optimisation only: without it the interpreter runs. */
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->mctx = pcre2_match_context_create(NULL);
    if (re->mctx == NULL)
        goto oom;
    pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
    pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB);
    pcre2_compile_context_free(cctx);
    free(pcre_src);
    return re;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    pcre2_compile_context_free(cctx);
    free(pcre_src);
    schema_regex_free(&re);
    return NULL;
}

/* Match data is the only thing a match writes to: one per thread, for every
 * pattern (a match only needs the pair for the whole match). */
static _Thread_local pcre2_match_data *thread_md;

void schema_regex_thread_done(void)
{
    pcre2_match_data_free(thread_md);
    thread_md = NULL;
}

int schema_regex_match(const struct schema_regex *re, const char *subject, size_t len)
{
    if (thread_md == NULL && (thread_md = pcre2_match_data_create(1, NULL)) == NULL)
        return -1;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, thread_md, re->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

void schema_regex_free(struct schema_regex **self_p)
{
    struct schema_regex *re;

    if (self_p == NULL || *self_p == NULL)
        return;
    re = *self_p;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    free(re);
    *self_p = NULL;
}
