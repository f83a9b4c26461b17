/* SPDX-License-Identifier: MIT
 *
 * http_wire.c - the host-call format of an HTTP request and its answer
 * (sr_http.h). The supervisor decodes what an untrusted job process sent:
 * every length is checked against its cap and against the bytes left
 * before anything is used; nothing is copied (the fields borrow the frame).
 */
#include "http_int.h"

#include <string.h>

/* ---- encoding ---- */

static sr_status
put(sr_buf *b, const void *p, size_t n, sr_err *err)
{
    return sr_buf_append(b, p, n, err);
}

static sr_status
put_uint(sr_buf *b, uint64_t v, unsigned bytes, sr_err *err)
{
    uint8_t le[8];
    for (unsigned i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    return put(b, le, bytes, err);
}

/* A field over its cap: in a request (over not NULL) only its length is
 * written and the frame ends there (*over), so the supervisor refuses it by
 * that cap and counts it as the job's HTTP_LIMIT; in an answer it is an
 * error. */
static sr_status
put_field(sr_buf *b, const struct sr_http_bytes *f, unsigned lenbytes, size_t cap, const char *what,
          bool *over, sr_err *err)
{
    uint64_t max_len = lenbytes == 1 ? 0xffu : lenbytes == 2 ? 0xffffu : 0xffffffffu;
    if (f->len > cap && (!over || f->len > max_len))
        return sr_err_set(err, SR_ELIMIT, "the %s is %zu bytes; the limit is %zu", what, f->len,
                          cap);
    sr_status rc = put_uint(b, f->len, lenbytes, err);
    if (f->len > cap) {
        *over = true;
        return rc;
    }
    return rc == SR_OK && f->len ? put(b, f->p, f->len, err) : rc;
}

static sr_status
put_headers(sr_buf *b, const struct sr_http_message *m, size_t max, size_t max_bytes, bool *over,
            sr_err *err)
{
    if (m->nheaders > max && !over)
        return sr_err_set(err, SR_ELIMIT, "%zu headers; the limit is %zu", m->nheaders, max);
    sr_status rc = put_uint(b, m->nheaders > 0xffff ? 0xffff : m->nheaders, 2, err);
    if (m->nheaders > max) {
        *over = true;
        return rc;
    }
    for (size_t i = 0; rc == SR_OK && !(over && *over) && i < m->nheaders; i++) {
        rc = put_field(b, &m->headers[i].name, 2, max_bytes, "header name", over, err);
        if (rc == SR_OK && !(over && *over))
            rc = put_field(b, &m->headers[i].value, 4, max_bytes, "header value", over, err);
    }
    return rc;
}

sr_status
sr_http_wire_request(sr_buf *b, const struct sr_http_message *m, sr_err *err)
{
    uint8_t op = SR_HTTP_WIRE_OP;
    bool over = false;
    sr_status rc = put(b, &op, 1, err);
    if (rc == SR_OK)
        rc = put_field(b, &m->method, 1, SR_FETCH_MAX_METHOD, "method", &over, err);
    if (rc == SR_OK && !over)
        rc = put_field(b, &m->url, 4, SR_FETCH_MAX_URL, "URL", &over, err);
    if (rc == SR_OK && !over)
        rc = put_headers(b, m, SR_FETCH_MAX_HEADERS, SR_FETCH_MAX_HEADER_BYTES, &over, err);
    if (rc == SR_OK && !over)
        rc = put_field(b, &m->body, 4, SR_FETCH_MAX_REQUEST_BODY, "request body", &over, err);
    if (rc == SR_OK && !over)
        rc = put_uint(b, m->timeout_ms, 4, err);
    if (rc == SR_OK && !over)
        rc = put_uint(b, (uint64_t)m->redirect, 1, err);
    return rc;
}

sr_status
sr_http_wire_answer(sr_buf *b, const struct sr_http_message *m, sr_err *err)
{
    uint8_t code = SR_HTTP_WIRE_OK;
    sr_status rc = put(b, &code, 1, err);
    if (rc == SR_OK)
        rc = put_uint(b, m->status, 2, err);
    if (rc == SR_OK)
        rc = put_uint(b, m->redirected ? 1 : 0, 1, err);
    if (rc == SR_OK)
        rc = put_field(b, &m->url, 4, SR_FETCH_MAX_URL, "URL", NULL, err);
    if (rc == SR_OK)
        rc =
            put_headers(b, m, SR_FETCH_MAX_RESP_HEADERS, SR_FETCH_MAX_RESP_HEADER_BYTES, NULL, err);
    if (rc == SR_OK)
        rc = put_field(b, &m->body, 4, SR_FETCH_MAX_RESPONSE, "response body", NULL, err);
    return rc;
}

/* ---- decoding ---- */

struct rd {
    const uint8_t *p;
    size_t left;
    sr_err *err;
    bool bad;
};

static uint64_t
get_uint(struct rd *r, unsigned bytes, const char *what)
{
    uint64_t v = 0;
    if (r->bad)
        return 0;
    if (r->left < bytes) {
        r->bad = true;
        sr_err_set(r->err, SR_EINVAL, "HTTP host call truncated in its %s", what);
        return 0;
    }
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    r->left -= bytes;
    return v;
}

static struct sr_http_bytes
get_field(struct rd *r, unsigned lenbytes, size_t cap, const char *what)
{
    struct sr_http_bytes f = {0};
    uint64_t n = get_uint(r, lenbytes, what);
    if (r->bad)
        return f;
    if (n > cap || n > r->left) {
        r->bad = true;
        sr_err_set(r->err, n > cap ? SR_ELIMIT : SR_EINVAL,
                   "HTTP host call: the %s is %llu bytes; %s %zu", what, (unsigned long long)n,
                   n > cap ? "the limit is" : "the frame has", n > cap ? cap : r->left);
        return f;
    }
    f.p = r->p;
    f.len = (size_t)n;
    r->p += n;
    r->left -= (size_t)n;
    return f;
}

static void
get_headers(struct rd *r, struct sr_http_message *m, size_t max, size_t max_bytes)
{
    uint64_t n = get_uint(r, 2, "header count");
    if (!r->bad && n > max) {
        r->bad = true;
        sr_err_set(r->err, SR_ELIMIT, "HTTP host call: %llu headers; the limit is %zu",
                   (unsigned long long)n, max);
    }
    size_t total = 0;
    for (size_t i = 0; !r->bad && i < n; i++) {
        m->headers[i].name = get_field(r, 2, max_bytes, "header name");
        m->headers[i].value = get_field(r, 4, max_bytes, "header value");
        total += m->headers[i].name.len + m->headers[i].value.len;
        if (!r->bad && total > max_bytes) {
            r->bad = true;
            sr_err_set(r->err, SR_ELIMIT, "HTTP host call: the headers are more than %zu bytes",
                       max_bytes);
        }
    }
    m->nheaders = r->bad ? 0 : (size_t)n;
}

sr_status
sr_http_wire_request_decode(const uint8_t *p, size_t len, struct sr_http_message *m, sr_err *err)
{
    memset(m, 0, sizeof(*m));
    struct rd r = {p, len, err, false};
    if (get_uint(&r, 1, "operation") != SR_HTTP_WIRE_OP && !r.bad) {
        return sr_err_set(err, SR_EINVAL, "not an HTTP host call");
    }
    m->method = get_field(&r, 1, SR_FETCH_MAX_METHOD, "method");
    m->url = get_field(&r, 4, SR_FETCH_MAX_URL, "URL");
    get_headers(&r, m, SR_FETCH_MAX_HEADERS, SR_FETCH_MAX_HEADER_BYTES);
    m->body = get_field(&r, 4, SR_FETCH_MAX_REQUEST_BODY, "request body");
    m->timeout_ms = (uint32_t)get_uint(&r, 4, "timeout");
    uint64_t redirect = get_uint(&r, 1, "redirect mode");
    if (r.bad)
        return err ? err->status : SR_EINVAL;
    if (redirect > SR_HTTP_REDIRECT_ERROR)
        return sr_err_set(err, SR_EINVAL, "HTTP host call: unknown redirect mode %llu",
                          (unsigned long long)redirect);
    if (r.left)
        return sr_err_set(err, SR_EINVAL, "HTTP host call: %zu bytes after the request", r.left);
    m->redirect = (enum sr_http_redirect)redirect;
    return SR_OK;
}

sr_status
sr_http_wire_answer_decode(const uint8_t *p, size_t len, enum sr_http_wire_code *code,
                           struct sr_http_message *m, sr_err *err)
{
    memset(m, 0, sizeof(*m));
    if (len < 1 || p[0] > SR_HTTP_WIRE_INVALID)
        return sr_err_set(err, SR_EINVAL, "HTTP answer has no valid code");
    *code = (enum sr_http_wire_code)p[0];
    if (*code != SR_HTTP_WIRE_OK) {
        m->body = (struct sr_http_bytes){p + 1, len - 1};
        return SR_OK;
    }
    struct rd r = {p + 1, len - 1, err, false};
    m->status = (uint16_t)get_uint(&r, 2, "status");
    uint64_t redirected = get_uint(&r, 1, "redirected");
    if (!r.bad && redirected > 1)
        return sr_err_set(err, SR_EINVAL, "HTTP answer: redirected must be 0 or 1, got %llu",
                          (unsigned long long)redirected);
    m->redirected = redirected == 1;
    m->url = get_field(&r, 4, SR_FETCH_MAX_URL, "URL");
    get_headers(&r, m, SR_FETCH_MAX_RESP_HEADERS, SR_FETCH_MAX_RESP_HEADER_BYTES);
    m->body = get_field(&r, 4, SR_FETCH_MAX_RESPONSE, "response body");
    if (r.bad)
        return err ? err->status : SR_EINVAL;
    if (r.left)
        return sr_err_set(err, SR_EINVAL, "HTTP answer: %zu bytes after the body", r.left);
    return SR_OK;
}
