/* SPDX-License-Identifier: MIT
 *
 * json.c - the JSON edge: strict, bounded parsing (sr_json_parse), RFC 8785
 * (JCS) canonical output, and sealrun's JSON writer (sr_json_dumps).
 *
 * Parsing is two passes, each linear in the text: a scan that skips
 * strings and checks the nesting depth and every number literal
 * (json_num.c), then jansson, which refuses duplicate keys. The scan runs
 * first so that a too-deep document is refused before jansson builds it.
 *
 * Canonical form: object members sorted by the UTF-16 code units of their
 * names, no insignificant whitespace, strings with only the escapes JSON
 * requires (short forms for \b \t \n \f \r, \u00xx for other controls),
 * numbers as ECMAScript's Number::toString of the IEEE double. The writer
 * uses the same strings and numbers with the caller's spacing and the
 * members in their order. Recursion over a tree is bounded by the depth
 * sr_json_parse() allows and by jansson's JSON_PARSER_MAX_DEPTH (2048).
 */
#include "json_int.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---- */

/* The index just past the string whose body starts at t[i]. */
static size_t
skip_string(const char *t, size_t len, size_t i)
{
    while (i < len) {
        if (t[i] == '\\')
            i += 2;
        else if (t[i] == '"')
            return i + 1;
        else
            i++;
    }
    return len;
}

/* Literals longer than this are not read back for the message. */
#define NUMBER_SHOWN_MAX 1024

static sr_status
number_error(const char *t, const struct sr_json__literal *lit, const char *what, sr_err *err)
{
    size_t n = lit->end - lit->start;
    char shown[96];
    if (n <= 48)
        (void)snprintf(shown, sizeof(shown), "%.*s", (int)n, t + lit->start);
    else
        (void)snprintf(shown, sizeof(shown), "%.40s... (%zu characters)", t + lit->start, n);
    if (n > NUMBER_SHOWN_MAX)
        return sr_err_set(err, SR_EINVAL,
                          "%s has a number that RFC 8785 cannot hash exactly: '%s' at byte %zu "
                          "has more digits than an IEEE 754 double holds; send it as a string",
                          what, shown, lit->start);
    char copy[NUMBER_SHOWN_MAX + 1];
    memcpy(copy, t + lit->start, n);
    copy[n] = '\0';
    double x = strtod(copy, NULL);
    if (!isfinite(x))
        return sr_err_set(err, SR_EINVAL,
                          "%s has a number that RFC 8785 cannot hash: '%s' at byte %zu is beyond "
                          "the largest IEEE 754 double (1.7976931348623157e+308); send it as a "
                          "string",
                          what, shown, lit->start);
    char as[SR_JSON__NUMBER_TEXT_MAX];
    (void)sr_json__number_text(x, as);
    return sr_err_set(err, SR_EINVAL,
                      "%s has a number that RFC 8785 cannot hash exactly: '%s' at byte %zu would "
                      "be hashed as %s (the nearest IEEE 754 double); send it as a string",
                      what, shown, lit->start, as);
}

/* The first pass: nesting depth and number literals, outside strings.
 * 'stored': also accept the legacy 17-digit reals (sr_json_parse_stored). */
static sr_status
scan(const char *t, size_t len, size_t max_depth, bool stored, const char *what,
     enum sr_json_fault *fault, sr_err *err)
{
    size_t depth = 0;
    for (size_t i = 0; i < len;) {
        char c = t[i];
        if (c == '"') {
            i = skip_string(t, len, i + 1);
            continue;
        }
        if ((c == '[' || c == '{') && ++depth > max_depth) {
            *fault = SR_JSON_FAULT_DEPTH;
            return sr_err_set(err, SR_EINVAL, "%s nests deeper than %zu levels", what, max_depth);
        }
        if ((c == ']' || c == '}') && depth > 0)
            depth--;
        struct sr_json__literal lit;
        if ((c == '-' || (c >= '0' && c <= '9')) && sr_json__literal_read(t, len, i, &lit)) {
            if (!sr_json__literal_exact(&lit) && !(stored && sr_json__literal_legacy(&lit))) {
                *fault = SR_JSON_FAULT_NUMBER;
                return number_error(t, &lit, what, err);
            }
            i = lit.end;
            continue;
        }
        i++;
    }
    return SR_OK;
}

/* After a parse with JSON_DECODE_INT_AS_REAL: integral reals that fit an
 * int64 exactly become integers again, so they print as "5", not "5.0". */
/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static json_t *
restore_ints(json_t *v)
{
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0) {
            json_t *i = json_integer((json_int_t)d);
            if (i) {
                json_decref(v);
                return i;
            }
        }
        return v;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_set_new(v, i, restore_ints(json_incref(json_array_get(v, i))));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, m)
            json_object_set_new(v, k, restore_ints(json_incref(m)));
    }
    return v;
}

/* jansson's message for a duplicate key is "duplicate object key near
 * '<the key as written>'"; the key's last byte is at je->position - 1. */
static sr_status
duplicate_error(const json_error_t *je, const char *what, sr_err *err)
{
    const char *near = strstr(je->text, "near '");
    const char *key = near ? near + 6 : "";
    size_t n = strlen(key);
    if (n && key[n - 1] == '\'')
        n--;
    long at = (long)je->position - (long)n;
    return sr_err_set(err, SR_EINVAL,
                      "%s has the key %.*s twice in one object (the second at byte %ld); a key "
                      "may appear only once",
                      what, (int)n, key, at > 0 ? at : 0);
}

static sr_status
parse(const char *text, size_t len, size_t max_depth, bool stored, const char *what, json_t **out,
      enum sr_json_fault *fault, sr_err *err)
{
    enum sr_json_fault ignored;
    if (!fault)
        fault = &ignored;
    *fault = SR_JSON_FAULT_NONE;
    sr_status rc = scan(text, len, max_depth, stored, what, fault, err);
    if (rc != SR_OK)
        return rc;
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES;
    json_error_t je;
    json_t *v = json_loadb(text, len, flags, &je);
    if (!v && json_error_code(&je) == json_error_numeric_overflow) {
        /* integers beyond int64 are numbers like any other in JSON (the scan
         * has checked that their double holds them exactly) */
        v = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, &je);
        if (v)
            v = restore_ints(v);
    }
    if (v) {
        *out = v;
        return SR_OK;
    }
    switch (json_error_code(&je)) {
    case json_error_out_of_memory:
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing %s (%zu bytes)", what, len);
    case json_error_duplicate_key:
        *fault = SR_JSON_FAULT_DUPLICATE;
        return duplicate_error(&je, what, err);
    default:
        *fault = SR_JSON_FAULT_SYNTAX;
        return sr_err_set(err, SR_EINVAL, "%s is not valid JSON: %s at line %d, column %d", what,
                          je.text, je.line, je.column);
    }
}

sr_status
sr_json_parse_fault(const char *text, size_t len, size_t max_depth, const char *what, json_t **out,
                    enum sr_json_fault *fault, sr_err *err)
{
    return parse(text, len, max_depth, false, what, out, fault, err);
}

sr_status
sr_json_parse(const char *text, size_t len, size_t max_depth, const char *what, json_t **out,
              sr_err *err)
{
    return parse(text, len, max_depth, false, what, out, NULL, err);
}

sr_status
sr_json_parse_stored(const char *text, size_t len, size_t max_depth, const char *what, json_t **out,
                     sr_err *err)
{
    return parse(text, len, max_depth, true, what, out, NULL, err);
}

/* ---- writing ---- */

static sr_status
put_string(sr_buf *b, const char *s, size_t len, sr_err *err)
{
    sr_status rc = sr_buf_append(b, "\"", 1, err);
    size_t run = 0;
    for (size_t i = 0; rc == SR_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = sr_buf_append(b, s + run, i - run, err);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"':
            memcpy(esc, "\\\"", 3);
            break;
        case '\\':
            memcpy(esc, "\\\\", 3);
            break;
        case '\b':
            memcpy(esc, "\\b", 3);
            break;
        case '\t':
            memcpy(esc, "\\t", 3);
            break;
        case '\n':
            memcpy(esc, "\\n", 3);
            break;
        case '\f':
            memcpy(esc, "\\f", 3);
            break;
        case '\r':
            memcpy(esc, "\\r", 3);
            break;
        default:
            (void)snprintf(esc, sizeof(esc), "\\u%04x", c);
            break;
        }
        if (rc == SR_OK)
            rc = sr_buf_append_str(b, esc, err);
    }
    if (rc == SR_OK)
        rc = sr_buf_append(b, s + run, len - run, err);
    if (rc == SR_OK)
        rc = sr_buf_append(b, "\"", 1, err);
    return rc;
}

sr_status
sr_json_append_string(sr_buf *b, const char *s, size_t len, sr_err *err)
{
    return put_string(b, s, len, err);
}

/* Next UTF-16 code unit of a UTF-8 string (valid: jansson checks). */
struct u16_iter {
    const unsigned char *p;
    const unsigned char *end;
    unsigned pending; /* low surrogate still to yield, or 0 */
};

static int
u16_next(struct u16_iter *it)
{
    if (it->pending) {
        int u = (int)it->pending;
        it->pending = 0;
        return u;
    }
    if (it->p >= it->end)
        return -1;
    unsigned c = *it->p++;
    unsigned cp;
    int extra;
    if (c < 0x80) {
        cp = c;
        extra = 0;
    } else if (c < 0xE0) {
        cp = c & 0x1F;
        extra = 1;
    } else if (c < 0xF0) {
        cp = c & 0x0F;
        extra = 2;
    } else {
        cp = c & 0x07;
        extra = 3;
    }
    for (; extra > 0 && it->p < it->end; extra--)
        cp = cp << 6 | (*it->p++ & 0x3F);
    if (cp >= 0x10000) {
        cp -= 0x10000;
        it->pending = 0xDC00 | (cp & 0x3FF);
        return (int)(0xD800 | (cp >> 10));
    }
    return (int)cp;
}

static int
cmp_utf16(const void *a, const void *b)
{
    const char *sa = *(const char *const *)a;
    const char *sb = *(const char *const *)b;
    struct u16_iter ia = {(const unsigned char *)sa, (const unsigned char *)sa + strlen(sa), 0};
    struct u16_iter ib = {(const unsigned char *)sb, (const unsigned char *)sb + strlen(sb), 0};
    for (;;) {
        int ua = u16_next(&ia);
        int ub = u16_next(&ib);
        if (ua != ub)
            return ua < ub ? -1 : 1;
        if (ua < 0)
            return 0;
    }
}

/* How a tree is written: canonically (sorted members, no spaces, integers
 * held to the RFC 8785 rule) or as sr_json_dumps() was asked to. */
struct writer {
    sr_buf *b;
    bool canonical;
    bool compact;
    size_t indent; /* spaces per level; 0 = one line */
};

/* Integers up to 2^53 are exact doubles and print as themselves. */
#define EXACT_INT_MAX 9007199254740992LL

static sr_status
put_integer(const struct writer *w, json_int_t n, sr_err *err)
{
    char want[32];
    int len = snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT, n);
    if (!w->canonical || (n >= -EXACT_INT_MAX && n <= EXACT_INT_MAX))
        return sr_buf_append(w->b, want, (size_t)len, err);
    char as[SR_JSON__NUMBER_TEXT_MAX];
    size_t alen = sr_json__number_text((double)n, as);
    if (strcmp(as, want) != 0)
        return sr_err_set(err, SR_EINVAL,
                          "integer %s cannot be hashed exactly: RFC 8785 would write it as %s "
                          "(the nearest IEEE 754 double); send it as a string",
                          want, as);
    return sr_buf_append(w->b, as, alen, err);
}

static sr_status
put_real(const struct writer *w, double x, sr_err *err)
{
    if (!isfinite(x))
        return sr_err_set(err, SR_EINVAL, "JSON number is not finite (NaN or Infinity)");
    char t[SR_JSON__NUMBER_TEXT_MAX];
    size_t n = sr_json__number_text(x, t);
    return sr_buf_append(w->b, t, n, err);
}

/* A newline and the indent of 'depth' levels, or with 'space' the single
 * space of the default (neither compact nor indented) style. */
static sr_status
put_break(const struct writer *w, size_t depth, bool space, sr_err *err)
{
    if (w->indent) {
        sr_status rc = sr_buf_append(w->b, "\n", 1, err);
        for (size_t i = 0; rc == SR_OK && i < depth * w->indent; i++)
            rc = sr_buf_append(w->b, " ", 1, err);
        return rc;
    }
    if (space && !w->compact && !w->canonical)
        return sr_buf_append(w->b, " ", 1, err);
    return SR_OK;
}

static sr_status put_value(const struct writer *w, const json_t *v, size_t depth, sr_err *err);

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static sr_status
put_object(const struct writer *w, const json_t *v, size_t depth, sr_err *err)
{
    size_t n = json_object_size(v);
    if (n == 0)
        return sr_buf_append(w->b, "{}", 2, err);
    const char **keys = calloc(n, sizeof(*keys));
    if (!keys)
        return sr_err_set(err, SR_ENOMEM, "out of memory writing %zu JSON members", n);
    size_t i = 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)(uintptr_t)v, k, m) keys[i++] = k;
    if (w->canonical)
        qsort(keys, n, sizeof(*keys), cmp_utf16);
    const char *colon = w->compact || w->canonical ? ":" : ": ";
    sr_status rc = sr_buf_append(w->b, "{", 1, err);
    if (rc == SR_OK)
        rc = put_break(w, depth + 1, false, err);
    for (i = 0; rc == SR_OK && i < n; i++) {
        if (i) {
            rc = sr_buf_append(w->b, ",", 1, err);
            if (rc == SR_OK)
                rc = put_break(w, depth + 1, true, err);
        }
        if (rc == SR_OK)
            rc = put_string(w->b, keys[i], strlen(keys[i]), err);
        if (rc == SR_OK)
            rc = sr_buf_append_str(w->b, colon, err);
        if (rc == SR_OK)
            rc = put_value(w, json_object_get(v, keys[i]), depth + 1, err);
    }
    free(keys);
    if (rc == SR_OK)
        rc = put_break(w, depth, false, err);
    return rc == SR_OK ? sr_buf_append(w->b, "}", 1, err) : rc;
}

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static sr_status
put_array(const struct writer *w, const json_t *v, size_t depth, sr_err *err)
{
    size_t n = json_array_size(v);
    if (n == 0)
        return sr_buf_append(w->b, "[]", 2, err);
    sr_status rc = sr_buf_append(w->b, "[", 1, err);
    if (rc == SR_OK)
        rc = put_break(w, depth + 1, false, err);
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        if (i) {
            rc = sr_buf_append(w->b, ",", 1, err);
            if (rc == SR_OK)
                rc = put_break(w, depth + 1, true, err);
        }
        if (rc == SR_OK)
            rc = put_value(w, json_array_get(v, i), depth + 1, err);
    }
    if (rc == SR_OK)
        rc = put_break(w, depth, false, err);
    return rc == SR_OK ? sr_buf_append(w->b, "]", 1, err) : rc;
}

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static sr_status
put_value(const struct writer *w, const json_t *v, size_t depth, sr_err *err)
{
    if (!v)
        return sr_err_set(err, SR_EINVAL, "missing JSON value");
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(w, v, depth, err);
    case JSON_ARRAY:
        return put_array(w, v, depth, err);
    case JSON_STRING:
        return put_string(w->b, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        return put_integer(w, json_integer_value(v), err);
    case JSON_REAL:
        return put_real(w, json_real_value(v), err);
    case JSON_TRUE:
        return sr_buf_append(w->b, "true", 4, err);
    case JSON_FALSE:
        return sr_buf_append(w->b, "false", 5, err);
    case JSON_NULL:
        return sr_buf_append(w->b, "null", 4, err);
    }
    return sr_err_set(err, SR_EINTERNAL, "unknown JSON type");
}

sr_status
sr_json_canonical(const json_t *v, sr_buf *b, sr_err *err)
{
    const struct writer w = {.b = b, .canonical = true};
    return put_value(&w, v, 0, err);
}

char *
sr_json_dumps(const json_t *v, size_t flags)
{
    sr_buf b;
    sr_buf_init(&b, SIZE_MAX / 2);
    const struct writer w = {
        .b = &b,
        .compact = (flags & JSON_COMPACT) != 0,
        .indent = flags & JSON_MAX_INDENT,
    };
    if (put_value(&w, v, 0, NULL) != SR_OK) {
        sr_buf_fini(&b);
        return NULL;
    }
    return sr_buf_steal(&b);
}
