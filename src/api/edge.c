/* SPDX-License-Identifier: MIT
 *
 * edge.c - what a request must look like before anything acts on it
 * (RFC 9112 sections 2 to 7, RFC 9110 section 5; docs/http-api.md, "What the
 * server accepts"). Pure functions over bytes, so the unit tests reach every
 * rule without a socket:
 *   - the request line: a token method, one space, a target, one space,
 *     HTTP/1.0 or HTTP/1.1;
 *   - the target: origin form, only the bytes RFC 3986 allows, strict
 *     percent-escapes, and once decoded no NUL and valid UTF-8; query
 *     parameters decoded the same way, each name at most once;
 *   - the header fields: token names, values without control bytes, the
 *     singletons (Host, Authorization, Content-Type, Content-Length) once,
 *     framing by exactly one of Content-Length (digits) and
 *     "Transfer-Encoding: chunked" (never both, never in HTTP/1.0);
 *   - the header block as libmicrohttpd 0.9.75 left it, so that a NUL the
 *     parser's C strings would hide is found (edge_block_check below).
 * Each failure names what was wrong and what is expected; the server answers
 * it and closes the connection.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool
sr_api__is_token(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return false;
    return true;
}

/* RFC 3986 3.3 and 3.4: pchar, '/' and '?' (and '%' for an escape). */
static bool
is_target_char(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c && strchr("-._~!$&'()*+,;=:@/?%", c) != NULL;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (len == 0 || c > 0xf4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

bool
sr_api__is_utf8(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

/* Decodes raw[0..n) into out (n + 1 bytes are enough: decoding only shrinks)
 * and NUL-terminates it. 'plus' turns '+' into a space (query strings).
 * 'what' names the part for the message. */
static sr_status
decode_part(const char *raw, size_t n, bool plus, char *out, const char *what, sr_err *err)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)raw[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)raw[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return sr_err_set(err, SR_EINVAL,
                                  "%s has a malformed percent-escape at offset %zu; expected "
                                  "'%%' and two hex digits",
                                  what, i);
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0)
                return sr_err_set(err, SR_EINVAL,
                                  "%s contains '%%00' (a NUL byte), which no endpoint accepts",
                                  what);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (!sr_api__is_utf8(out, o))
        return sr_err_set(err, SR_EINVAL, "%s is not valid UTF-8 once percent-decoded", what);
    return SR_OK;
}

static sr_status
query_add(struct sr_api_target *t, const char *seg, size_t n, char **w, sr_err *err)
{
    if (t->nquery == SR_HTTP_MAX_QUERY_PARAMS)
        return sr_err_set(err, SR_EINVAL, "the query has more than %d parameters",
                          SR_HTTP_MAX_QUERY_PARAMS);
    const char *eq = memchr(seg, '=', n);
    size_t kn = eq ? (size_t)(eq - seg) : n;
    char *key = *w;
    sr_status rc = decode_part(seg, kn, true, key, "a query parameter name", err);
    if (rc != SR_OK)
        return rc;
    if (!key[0])
        return sr_err_set(err, SR_EINVAL, "a query parameter has an empty name");
    char *value = key + strlen(key) + 1;
    if (eq)
        rc = decode_part(eq + 1, n - kn - 1, true, value, "a query parameter value", err);
    else
        value[0] = '\0';
    if (rc != SR_OK)
        return rc;
    for (size_t i = 0; i < t->nquery; i++)
        if (strcmp(t->query[i].key, key) == 0)
            return sr_err_set(err, SR_EINVAL,
                              "query parameter '%.64s' is given more than once; give it once", key);
    t->query[t->nquery].key = key;
    t->query[t->nquery].value = value;
    t->nquery++;
    *w = value + strlen(value) + 1;
    return SR_OK;
}

sr_status
sr_api__target_parse(const char *raw, size_t len, struct sr_api_target *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (len > SR_HTTP_MAX_TARGET)
        return sr_err_set(err, SR_ELIMIT,
                          "the request target is %zu bytes; at most %u are accepted", len,
                          SR_HTTP_MAX_TARGET);
    if (len == 0 || raw[0] != '/')
        return sr_err_set(err, SR_EINVAL,
                          "the request target must be a path starting with '/' (origin form)");
    for (size_t i = 0; i < len; i++)
        if (!is_target_char((unsigned char)raw[i]))
            return sr_err_set(err, SR_EINVAL,
                              "the request target has the byte 0x%02x at offset %zu; send it "
                              "percent-encoded",
                              (unsigned char)raw[i], i);
    /* Decoded parts are written one after the other: the path and each
     * parameter's name and value take at most their raw bytes plus a NUL
     * each, so 2 * len + 2 bytes hold them all. */
    out->buf = malloc(2 * len + 2);
    if (!out->buf)
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing the request target");
    const char *q = memchr(raw, '?', len);
    size_t plen = q ? (size_t)(q - raw) : len;
    char *w = out->buf;
    sr_status rc = decode_part(raw, plen, false, w, "the request path", err);
    if (rc != SR_OK)
        goto fail;
    out->path = w;
    w += strlen(w) + 1;
    const char *p = q ? q + 1 : raw + len;
    const char *end = raw + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if (seg_end > p) {
            rc = query_add(out, p, (size_t)(seg_end - p), &w, err);
            if (rc != SR_OK)
                goto fail;
        }
        p = seg_end + 1;
    }
    return SR_OK;
fail:
    sr_api__target_fini(out);
    return rc;
}

const char *
sr_api__target_query(const struct sr_api_target *t, const char *key)
{
    for (size_t i = 0; i < t->nquery; i++)
        if (strcmp(t->query[i].key, key) == 0)
            return t->query[i].value;
    return NULL;
}

void
sr_api__target_fini(struct sr_api_target *t)
{
    free(t->buf);
    memset(t, 0, sizeof(*t));
}

/* Copies at most cap - 1 bytes of p[0..n) for a message, with every byte a
 * JSON string or a log line should not carry as '?'. */
static const char *
shown(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = p[i];
        else
            out[o++] = '?';
    }
    out[o] = '\0';
    return out;
}

unsigned
sr_api__request_line_check(const char *method, const char *target, size_t target_len,
                           const char *version, sr_err *err)
{
    size_t mlen = strlen(method);
    /* libmicrohttpd replaced the two spaces with NULs in place: anything
     * else between the parts (a NUL inside one of them, a second space)
     * breaks this adjacency. */
    if (!sr_api__is_token(method, mlen) || target != method + mlen + 1 ||
        version != target + target_len + 1) {
        sr_err_set(err, SR_EINVAL,
                   "the request line must be 'METHOD /path HTTP/1.1' with single spaces and no "
                   "control bytes");
        return 400;
    }
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
        char v[24];
        sr_err_set(err, SR_EINVAL, "HTTP version '%s' is not supported; use HTTP/1.1 or HTTP/1.0",
                   shown(v, sizeof(v), version, strlen(version)));
        return 505;
    }
    return 0;
}

static bool
is_singleton(const char *name, size_t n, const char **which)
{
    static const char *const once[] = {"Host", "Authorization", "Content-Type", "Content-Length",
                                       "Transfer-Encoding"};
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        if (strlen(once[i]) == n && strncasecmp(name, once[i], n) == 0) {
            *which = once[i];
            return true;
        }
    return false;
}

/* Name and value of one field: a token name, a value without control
 * bytes other than HTAB (RFC 9110 5.1, 5.5), and within the line cap. */
static unsigned
field_check(const struct sr_api_field *f, sr_err *err)
{
    char nm[48];
    if (f->name_len + 2 + f->value_len > SR_HTTP_MAX_FIELD_LINE) {
        sr_err_set(err, SR_ELIMIT, "header field '%s' is longer than %d bytes",
                   shown(nm, sizeof(nm), f->name, f->name_len), SR_HTTP_MAX_FIELD_LINE);
        return 431;
    }
    if (!sr_api__is_token(f->name, f->name_len)) {
        sr_err_set(err, SR_EINVAL,
                   "header field name '%s' is not a token (letters, digits and !#$%%&'*+-.^_`|~ "
                   "only, and no space before the ':')",
                   shown(nm, sizeof(nm), f->name, f->name_len));
        return 400;
    }
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            sr_err_set(err, SR_EINVAL,
                       "header field '%s' contains the control byte 0x%02x; field values are "
                       "text",
                       shown(nm, sizeof(nm), f->name, f->name_len), c);
            return 400;
        }
    }
    return 0;
}

static unsigned
length_check(const struct sr_api_field *f, struct sr_api_framing *out, sr_err *err)
{
    uint64_t v = 0;
    bool ok = f->value_len > 0 && f->value_len <= 19;
    for (size_t i = 0; ok && i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        ok = c >= '0' && c <= '9';
        v = v * 10 + (uint64_t)(c - '0');
    }
    if (!ok) {
        char shown_v[40];
        sr_err_set(err, SR_EINVAL, "Content-Length must be a decimal number of bytes, got '%s'",
                   shown(shown_v, sizeof(shown_v), f->value, f->value_len));
        return 400;
    }
    out->has_length = true;
    out->content_length = v;
    return 0;
}

static unsigned
framing_check(const struct sr_api_field *te, bool http10, struct sr_api_framing *out, sr_err *err)
{
    if (!te)
        return 0;
    if (http10) {
        sr_err_set(err, SR_EINVAL, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
        return 400;
    }
    if (out->has_length) {
        sr_err_set(err, SR_EINVAL,
                   "a request must not have both Content-Length and Transfer-Encoding; send one");
        return 400;
    }
    /* libmicrohttpd frames the body as chunked only for exactly this value;
     * anything else it would read until the connection closes. */
    if (te->value_len != 7 || strncasecmp(te->value, "chunked", 7) != 0) {
        char v[40];
        sr_err_set(err, SR_EINVAL,
                   "Transfer-Encoding '%s' is not supported; send 'chunked' or a Content-Length",
                   shown(v, sizeof(v), te->value, te->value_len));
        return 400;
    }
    out->chunked = true;
    return 0;
}

unsigned
sr_api__fields_check(const struct sr_api_field *f, size_t n, bool http10,
                     struct sr_api_framing *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (n > SR_HTTP_MAX_FIELDS) {
        sr_err_set(err, SR_ELIMIT, "the request has %zu header fields; at most %d are accepted", n,
                   SR_HTTP_MAX_FIELDS);
        return 431;
    }
    size_t total = 0;
    const struct sr_api_field *te = NULL;
    bool has_host = false;
    const char *seen[5] = {0};
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned st = field_check(&f[i], err);
        if (st)
            return st;
        total += f[i].name_len + 2 + f[i].value_len + 2;
        const char *which = NULL;
        if (!is_singleton(f[i].name, f[i].name_len, &which))
            continue;
        for (size_t k = 0; k < nseen; k++)
            if (seen[k] == which) {
                sr_err_set(err, SR_EINVAL, "header field '%s' is given more than once", which);
                return 400;
            }
        seen[nseen++] = which;
        if (strcmp(which, "Content-Length") == 0 && (st = length_check(&f[i], out, err)) != 0)
            return st;
        if (strcmp(which, "Transfer-Encoding") == 0)
            te = &f[i];
        else if (strcmp(which, "Authorization") == 0)
            out->authorization = f[i].value;
        else if (strcmp(which, "Content-Type") == 0)
            out->content_type = f[i].value;
        else if (strcmp(which, "Host") == 0)
            has_host = true;
    }
    if (total > SR_HTTP_MAX_HEADER_BYTES) {
        sr_err_set(err, SR_ELIMIT, "the request's header fields take %zu bytes; at most %u", total,
                   SR_HTTP_MAX_HEADER_BYTES);
        return 431;
    }
    if (!http10 && !has_host) {
        sr_err_set(err, SR_EINVAL, "an HTTP/1.1 request must have a Host header field");
        return 400;
    }
    return framing_check(te, http10, out, err);
}

bool
sr_api__block_check(const char *line_end, const char *end, const struct sr_api_field *f, size_t n)
{
    const char *p = line_end;
    for (size_t i = 0; i < n; i++) {
        /* The previous line's terminator: CRLF or LF, each byte now a NUL. */
        const char *k = f[i].name;
        if (k < p + 1 || k > p + 2 || k >= end)
            return false;
        for (const char *q = p; q < k; q++)
            if (*q)
                return false;
        /* The ':' became a NUL; then optional whitespace, then the value. */
        const char *c = k + f[i].name_len;
        const char *v = f[i].value;
        if (c >= end || *c || v < c + 1 || v > end)
            return false;
        for (const char *q = c + 1; q < v; q++)
            if (*q != ' ' && *q != '\t')
                return false;
        p = v + f[i].value_len;
        if (p > end)
            return false;
    }
    /* The last line's terminator and the empty line: 2 to 4 NULs, nothing
     * else (a byte here is what followed a NUL inside the last value). */
    size_t rest = (size_t)(end - p);
    if (rest < 2 || rest > 4)
        return false;
    for (const char *q = p; q < end; q++)
        if (*q)
            return false;
    return true;
}
