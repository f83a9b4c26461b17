/* SPDX-License-Identifier: MIT
 *
 * json.c - bounded JSON parsing and RFC 8785 (JCS) canonical output.
 *
 * Canonical form: object members sorted by the UTF-16 code units of their
 * names, no insignificant whitespace, strings with only the escapes JSON
 * requires (short forms for \b \t \n \f \r, \u00xx for other controls),
 * numbers as ECMAScript's Number::toString of the IEEE double. Recursion is
 * bounded: jansson refuses documents deeper than JSON_PARSER_MAX_DEPTH
 * (2048), and sr_json_parse() enforces the caller's smaller cap.
 */
#include "sealrun/sr_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static size_t
depth_of(const json_t *v)
{
    size_t max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)(uintptr_t)v, k, m)
        {
            size_t d = depth_of(m);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            size_t d = depth_of(m);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
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

sr_status
sr_json_parse(const char *text, size_t len, size_t max_depth, const char *what, json_t **out,
              sr_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v && strstr(je.text, "too big")) {
        /* integers beyond int64 are numbers like any other in JSON */
        v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        if (v)
            v = restore_ints(v);
    }
    if (!v)
        return sr_err_set(err, SR_EINVAL, "%s is not valid JSON: %s at line %d, column %d", what,
                          je.text, je.line, je.column);
    if (depth_of(v) > max_depth) {
        json_decref(v);
        return sr_err_set(err, SR_EINVAL, "%s nests deeper than %zu levels", what, max_depth);
    }
    *out = v;
    return SR_OK;
}

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

/* ECMAScript Number::toString for a finite double (RFC 8785 section 3.2.2.3). */
static sr_status
put_number(sr_buf *b, double x, sr_err *err)
{
    if (!isfinite(x))
        return sr_err_set(err, SR_EINVAL, "JSON number is not finite (NaN or Infinity)");
    if (x == 0)
        return sr_buf_append(b, "0", 1, err);
    char tmp[40];
    int prec = 0;
    for (prec = 0; prec < 17; prec++) {
        (void)snprintf(tmp, sizeof(tmp), "%.*e", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    /* tmp is "[-]d.ddde[+-]XX": collect the digits and the exponent. */
    char digits[20];
    size_t k = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    int n = (int)strtol(p + 1, NULL, 10) + 1; /* exponent printed by snprintf above */
    char out[64];
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if ((int)k <= n && n <= 21) {
        memcpy(out + o, digits, k);
        o += k;
        for (int i = 0; i < n - (int)k; i++)
            out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, digits, (size_t)n);
        o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, digits + n, k - (size_t)n);
        o += k - (size_t)n;
    } else if (-6 < n && n <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -n; i++)
            out[o++] = '0';
        memcpy(out + o, digits, k);
        o += k;
    } else {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, k - 1);
            o += k - 1;
        }
        int e = n - 1;
        o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    return sr_buf_append(b, out, o, err);
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

static sr_status put_value(const json_t *v, sr_buf *b, sr_err *err);

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static sr_status
put_object(const json_t *v, sr_buf *b, sr_err *err)
{
    size_t n = json_object_size(v);
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        return sr_err_set(err, SR_ENOMEM, "out of memory sorting %zu JSON members", n);
    size_t i = 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)(uintptr_t)v, k, m) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_utf16);
    sr_status rc = sr_buf_append(b, "{", 1, err);
    for (i = 0; rc == SR_OK && i < n; i++) {
        if (i)
            rc = sr_buf_append(b, ",", 1, err);
        if (rc == SR_OK)
            rc = put_string(b, keys[i], strlen(keys[i]), err);
        if (rc == SR_OK)
            rc = sr_buf_append(b, ":", 1, err);
        if (rc == SR_OK)
            rc = put_value(json_object_get(v, keys[i]), b, err);
    }
    free(keys);
    if (rc == SR_OK)
        rc = sr_buf_append(b, "}", 1, err);
    return rc;
}

/* NOLINTNEXTLINE(misc-no-recursion): depth <= JSON_PARSER_MAX_DEPTH */
static sr_status
put_value(const json_t *v, sr_buf *b, sr_err *err)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return put_object(v, b, err);
    case JSON_ARRAY: {
        sr_status rc = sr_buf_append(b, "[", 1, err);
        for (size_t i = 0; rc == SR_OK && i < json_array_size(v); i++) {
            if (i)
                rc = sr_buf_append(b, ",", 1, err);
            if (rc == SR_OK)
                rc = put_value(json_array_get(v, i), b, err);
        }
        return rc == SR_OK ? sr_buf_append(b, "]", 1, err) : rc;
    }
    case JSON_STRING:
        return put_string(b, json_string_value(v), json_string_length(v), err);
    case JSON_INTEGER:
        return put_number(b, (double)json_integer_value(v), err);
    case JSON_REAL:
        return put_number(b, json_real_value(v), err);
    case JSON_TRUE:
        return sr_buf_append(b, "true", 4, err);
    case JSON_FALSE:
        return sr_buf_append(b, "false", 5, err);
    case JSON_NULL:
        return sr_buf_append(b, "null", 4, err);
    }
    return sr_err_set(err, SR_EINTERNAL, "unknown JSON type");
}

sr_status
sr_json_canonical(const json_t *v, sr_buf *b, sr_err *err)
{
    return put_value(v, b, err);
}
