/* SPDX-License-Identifier: MIT
 *
 * runner_http.c - outbound HTTP for WebAssembly guests: the imports of
 * module "sealrun" in docs/wasm.md ("Outbound HTTP") and
 * include/sealrun/guest/sealrun_http.h. A request is encoded in the
 * sr_http.h host-call format and sent to the supervisor over the job's
 * socketpair (this process has no socket); the answer is kept here until
 * the next request, and the guest copies out what it wants of it.
 *
 *   http_request(method, method_len, url, url_len, headers, headers_len,
 *                body, body_len, timeout_ms) -> HTTP status | E_*
 *   http_response_headers(buf, cap) -> bytes of "name: value\n" lines | E_*
 *   http_response_body(buf, cap)    -> bytes of the body | E_*
 *   http_error(buf, cap)            -> bytes of the last failure's message | E_*
 *
 * A result longer than cap is not copied (its length still comes back),
 * so the guest can call again with a larger buffer; the request is not
 * made again.
 */
#include "runner_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_http.h"
#include "sealrun/sr_limits.h"

/* keep in sync with include/sealrun/guest/sealrun_http.h and docs/wasm.md */
enum {
    E_INVALID = -1, /* a malformed request: method, URL, header line, placeholder */
    E_DENIED = -2,  /* HTTP_DENIED */
    E_LIMIT = -3,   /* HTTP_LIMIT */
    E_TIMEOUT = -4, /* HTTP_TIMEOUT */
    E_ERROR = -5,   /* HTTP_ERROR */
    E_FAULT = -6,   /* a pointer and length outside linear memory */
    E_NONE = -7,    /* no answer held (no request yet, or the last one failed) */
};

struct sr_runner__http {
    sr_sandbox_child *child;  /* borrowed; NULL: every request is refused */
    sr_buf answer;            /* the last answer, as the supervisor sent it */
    struct sr_http_message m; /* decoded from answer (borrows it) */
    bool has;                 /* m is an OK answer */
    char msg[SR_ERR_MSG_MAX]; /* the last failure's message */
};

sr_status
sr_runner__http_new(sr_sandbox_child *child, struct sr_runner__http **out, sr_err *err)
{
    struct sr_runner__http *h = calloc(1, sizeof(*h));
    if (!h)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a job's HTTP state");
    h->child = child;
    sr_buf_init_secure(&h->answer, SR_MAX_IPC_FRAME); /* a server may echo a secret */
    *out = h;
    return SR_OK;
}

void
sr_runner__http_free(struct sr_runner__http *h)
{
    if (!h)
        return;
    sr_buf_fini_secure(&h->answer);
    free(h);
}

static sr_status
ret(uint64_t *slots, int32_t v)
{
    slots[0] = (uint32_t)v;
    return SR_OK;
}

static int32_t failed(struct sr_runner__http *h, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int32_t
failed(struct sr_runner__http *h, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
    va_end(ap);
    h->has = false;
    return code;
}

/* Splits "Name: value\n" lines into m's headers; false when malformed. */
static bool
parse_headers(struct sr_http_message *m, const uint8_t *p, size_t len)
{
    size_t i = 0;
    m->nheaders = 0;
    while (i < len) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - p) : len, e = end;
        if (e > i && p[e - 1] == '\r')
            e--;
        if (e > i) {
            const uint8_t *colon = memchr(p + i, ':', e - i);
            if (!colon || colon == p + i)
                return false;
            if (m->nheaders == SR_FETCH_MAX_HEADERS + 1)
                return true; /* one over the cap: the supervisor answers HTTP_LIMIT */
            size_t v = (size_t)(colon - p) + 1;
            while (v < e && (p[v] == ' ' || p[v] == '\t'))
                v++;
            m->headers[m->nheaders++] =
                (struct sr_http_header){{p + i, (size_t)(colon - (p + i))}, {p + v, e - v}};
        }
        i = end + 1;
    }
    return true;
}

static int32_t
code_of(enum sr_http_wire_code c)
{
    switch (c) {
    case SR_HTTP_WIRE_DENIED:
        return E_DENIED;
    case SR_HTTP_WIRE_LIMIT:
        return E_LIMIT;
    case SR_HTTP_WIRE_TIMEOUT:
        return E_TIMEOUT;
    case SR_HTTP_WIRE_INVALID:
        return E_INVALID;
    case SR_HTTP_WIRE_ERROR:
    case SR_HTTP_WIRE_OK:
        break;
    }
    return E_ERROR;
}

/* Sends the request in *req and keeps the answer; the status or E_*. */
static int32_t
exchange(struct sr_runner__http *h, struct sr_http_message *req)
{
    sr_buf frame;
    sr_err e = {0};
    sr_buf_init_secure(&frame, SR_FETCH_MAX_REQUEST_BODY + SR_FETCH_MAX_URL +
                                   2 * SR_FETCH_MAX_HEADER_BYTES + 4096);
    sr_buf_reset(&h->answer);
    h->has = false;
    sr_status rc = sr_http_wire_request(&frame, req, &e);
    if (rc == SR_OK)
        rc = sr_sandbox_hostcall(h->child, (const uint8_t *)frame.data, frame.len, &h->answer, &e);
    sr_buf_fini_secure(&frame);
    enum sr_http_wire_code code = SR_HTTP_WIRE_ERROR;
    if (rc == SR_OK)
        rc = sr_http_wire_answer_decode((const uint8_t *)h->answer.data, h->answer.len, &code,
                                        &h->m, &e);
    if (rc != SR_OK)
        return failed(h, E_ERROR, "%s", e.msg);
    if (code != SR_HTTP_WIRE_OK)
        return failed(h, code_of(code), "%.*s", (int)h->m.body.len, (const char *)h->m.body.p);
    h->has = true;
    h->msg[0] = '\0';
    return h->m.status;
}

static sr_status
w_request(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct sr_runner__http *h = ctx;
    struct sr_http_message *req = calloc(1, sizeof(*req));
    if (!req)
        return ret(s, failed(h, E_ERROR, "out of memory making a request"));
    uint32_t len[4] = {(uint32_t)s[1], (uint32_t)s[3], (uint32_t)s[5], (uint32_t)s[7]};
    const uint8_t *p[4];
    int32_t r = 0;
    for (size_t i = 0; i < 4; i++) {
        p[i] = len[i] ? sr_wasm_guest_bytes(inst, (uint32_t)s[2 * i], len[i]) : NULL;
        if (len[i] && !p[i])
            r = failed(h, E_FAULT, "argument %zu points outside linear memory", 2 * i);
    }
    if (r == 0 && !h->child)
        r = failed(h, E_DENIED, "outbound HTTP is not available here (no sealrund supervisor)");
    if (r == 0 && !parse_headers(req, p[2], len[2]))
        r = failed(h, E_INVALID, "headers must be \"Name: value\" lines separated by \\n");
    if (r == 0) {
        req->method = (struct sr_http_bytes){p[0], len[0]};
        req->url = (struct sr_http_bytes){p[1], len[1]};
        req->body = (struct sr_http_bytes){p[3], len[3]};
        req->timeout_ms = (uint32_t)s[8];
        req->redirect = SR_HTTP_REDIRECT_FOLLOW;
        r = exchange(h, req);
    }
    free(req);
    return ret(s, r);
}

/* Copies n bytes of src to the guest when they fit; their count either way. */
static int32_t
give(sr_wasm_instance *inst, const void *src, size_t n, uint32_t ptr, uint32_t cap)
{
    if (n > (size_t)INT32_MAX)
        return E_LIMIT;
    if (n <= cap && n) {
        uint8_t *dst = sr_wasm_guest_bytes(inst, ptr, n);
        if (!dst)
            return E_FAULT;
        memcpy(dst, src, n);
    }
    return (int32_t)n;
}

static sr_status
w_headers(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct sr_runner__http *h = ctx;
    if (!h->has)
        return ret(s, E_NONE);
    sr_buf text;
    sr_buf_init(&text, SR_FETCH_MAX_RESP_HEADER_BYTES + 4 * SR_FETCH_MAX_RESP_HEADERS);
    for (size_t i = 0; i < h->m.nheaders; i++) {
        (void)sr_buf_append(&text, h->m.headers[i].name.p, h->m.headers[i].name.len, NULL);
        (void)sr_buf_append(&text, ": ", 2, NULL);
        (void)sr_buf_append(&text, h->m.headers[i].value.p, h->m.headers[i].value.len, NULL);
        (void)sr_buf_append(&text, "\n", 1, NULL);
    }
    int32_t r = give(inst, text.data, text.len, (uint32_t)s[0], (uint32_t)s[1]);
    sr_buf_fini(&text);
    return ret(s, r);
}

static sr_status
w_body(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct sr_runner__http *h = ctx;
    if (!h->has)
        return ret(s, E_NONE);
    return ret(s, give(inst, h->m.body.p, h->m.body.len, (uint32_t)s[0], (uint32_t)s[1]));
}

static sr_status
w_error(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct sr_runner__http *h = ctx;
    if (!h->msg[0])
        return ret(s, E_NONE);
    return ret(s, give(inst, h->msg, strlen(h->msg), (uint32_t)s[0], (uint32_t)s[1]));
}

void
sr_runner__wasm_http_funcs(struct sr_runner__http *h,
                           struct sr_wasi_host_func funcs[SR_RUNNER__WASM_HTTP_FUNCS])
{
    funcs[0] = (struct sr_wasi_host_func){"sealrun", "http_request", "iiiiiiiii:i", w_request, h};
    funcs[1] = (struct sr_wasi_host_func){"sealrun", "http_response_headers", "ii:i", w_headers, h};
    funcs[2] = (struct sr_wasi_host_func){"sealrun", "http_response_body", "ii:i", w_body, h};
    funcs[3] = (struct sr_wasi_host_func){"sealrun", "http_error", "ii:i", w_error, h};
}
