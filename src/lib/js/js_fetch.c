/* SPDX-License-Identifier: MIT
 *
 * js_fetch.c - the host side of the guest's fetch (docs/http.md, docs/js.md):
 * runs js_fetch.js (URL, URLSearchParams, Headers, Request, Response,
 * AbortSignal, AbortController, fetch) in a job's global object on the first
 * use of one of its names (js_web.c's first-use accessors) and gives it
 * three host functions, reachable only from inside that script's closure:
 *
 *   request(method, url, headers, body, timeoutMs, redirect): checks every
 *     argument, encodes one sr_http.h host call, hands it to the job's
 *     http_call (the supervisor performs it) and turns the answer into
 *     {status, url, redirected, headers, body} or {error, message};
 *   utf8Decode(bytes), utf8Encode(string): the UTF-8 the body methods and
 *     percent-encoding need, js_web.c's (WHATWG Encoding: invalid sequences
 *     and lone surrogates become U+FFFD).
 */
#include "js_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_http.h"
#include "sealrun/sr_limits.h"

static void
free_bytes(void *bytes, void *ctx)
{
    (void)ctx;
    free(bytes);
}

/* A Uint8Array that takes ownership of p (malloc'd). */
static JSValueRef
bytes_value(JSContextRef ctx, uint8_t *p, size_t len, JSValueRef *exc)
{
    JSObjectRef a = JSObjectMakeTypedArrayWithBytesNoCopy(ctx, kJSTypedArrayTypeUint8Array, p, len,
                                                          free_bytes, NULL, exc);
    if (!a)
        free(p);
    return a;
}

/* ---- request ---- */

struct req_args {
    sr_buf strings; /* method, URL, header names and values, back to back */
    struct sr_http_message m;
    size_t off_method, off_url, off_h[2 * SR_FETCH_MAX_HEADERS];
    size_t len_h[2 * SR_FETCH_MAX_HEADERS];
};

/* Appends a string argument: UTF-8 (latin1: each code unit must be <= 0xFF,
 * a ByteString, as header values are). Returns false with a TypeError. */
static bool
append_string(JSContextRef ctx, JSValueRef v, bool latin1, sr_buf *b, size_t max, const char *what,
              JSValueRef *exc)
{
    char msg[128];
    if (!JSValueIsString(ctx, v)) {
        (void)snprintf(msg, sizeof(msg), "fetch: %s must be a string", what);
        sr_js__throw(ctx, "TypeError", msg, exc);
        return false;
    }
    JSStringRef s = JSValueToStringCopy(ctx, v, exc);
    if (!s)
        return false;
    bool ok = true;
    if (!latin1) {
        ok = sr_js__string_append(b, s, max);
    } else {
        const JSChar *u = JSStringGetCharactersPtr(s);
        size_t n = JSStringGetLength(s);
        for (size_t i = 0; ok && i < n; i++) {
            uint8_t c = (uint8_t)u[i];
            ok = u[i] <= 0xff && sr_buf_append(b, &c, 1, NULL) == SR_OK;
        }
    }
    JSStringRelease(s);
    if (!ok) {
        (void)snprintf(msg, sizeof(msg), "fetch: %s is too long or not a ByteString", what);
        sr_js__throw(ctx, "TypeError", msg, exc);
    }
    return ok;
}

/* Reads the arguments into a; false when one threw. */
static bool
read_args(JSContextRef ctx, size_t argc, const JSValueRef argv[], struct req_args *a,
          JSValueRef *exc)
{
    if (argc < 6)
        return sr_js__throw(ctx, "TypeError", "fetch: internal call with too few arguments", exc),
               false;
    /* caps: past them the frame says so and the supervisor answers HTTP_LIMIT */
    size_t max = SR_FETCH_MAX_URL + 2 * SR_FETCH_MAX_HEADER_BYTES + 64;
    a->off_method = a->strings.len;
    if (!append_string(ctx, argv[0], false, &a->strings, 64, "the method", exc))
        return false;
    a->off_url = a->strings.len;
    if (!append_string(ctx, argv[1], false, &a->strings, max, "the URL", exc))
        return false;
    size_t url_len = a->strings.len - a->off_url;
    JSObjectRef hs = JSValueIsArray(ctx, argv[2]) ? sr_js__obj(argv[2]) : NULL;
    JSValueRef lv = hs ? sr_js__get(ctx, hs, "length", exc) : NULL;
    double n = lv ? JSValueToNumber(ctx, lv, exc) : -1;
    if (n < 0 || n > 2 * SR_FETCH_MAX_HEADERS + 2 || (size_t)n % 2)
        return sr_js__throw(ctx, "TypeError", "fetch: too many headers (at most 64)", exc), false;
    for (size_t i = 0; i < (size_t)n && i < 2 * SR_FETCH_MAX_HEADERS; i++) {
        JSValueRef v = JSObjectGetPropertyAtIndex(ctx, hs, (unsigned)i, exc);
        a->off_h[i] = a->strings.len;
        if (!v || !append_string(ctx, v, i % 2 == 1, &a->strings, max,
                                 i % 2 ? "a header value" : "a header name", exc))
            return false;
        a->len_h[i] = a->strings.len - a->off_h[i];
    }
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (!JSValueIsUndefined(ctx, argv[3]) && !sr_js__binary_bytes(ctx, argv[3], &body, &blen))
        return sr_js__throw(ctx, "TypeError", "fetch: the body must be bytes", exc), false;
    double t = JSValueToNumber(ctx, argv[4], exc);
    JSStringRef rs = JSValueIsString(ctx, argv[5]) ? JSValueToStringCopy(ctx, argv[5], exc) : NULL;
    char redirect[16] = "";
    if (rs) {
        JSStringGetUTF8CString(rs, redirect, sizeof(redirect));
        JSStringRelease(rs);
    }
    /* the strings may have moved while growing: point into them now */
    const uint8_t *base = (const uint8_t *)a->strings.data;
    a->m.method = (struct sr_http_bytes){base + a->off_method, a->off_url - a->off_method};
    a->m.url = (struct sr_http_bytes){base + a->off_url, url_len};
    a->m.nheaders = (size_t)n > 2 * SR_FETCH_MAX_HEADERS ? SR_FETCH_MAX_HEADERS + 1 : (size_t)n / 2;
    for (size_t i = 0; i < (size_t)n / 2 && i < SR_FETCH_MAX_HEADERS; i++)
        a->m.headers[i] =
            (struct sr_http_header){{base + a->off_h[2 * i], a->len_h[2 * i]},
                                    {base + a->off_h[2 * i + 1], a->len_h[2 * i + 1]}};
    a->m.body = (struct sr_http_bytes){body, blen};
    a->m.timeout_ms = t > 0 && t < 4294967295.0 ? (uint32_t)t : 0;
    a->m.redirect = strcmp(redirect, "manual") == 0  ? SR_HTTP_REDIRECT_MANUAL
                    : strcmp(redirect, "error") == 0 ? SR_HTTP_REDIRECT_ERROR
                                                     : SR_HTTP_REDIRECT_FOLLOW;
    return true;
}

static JSValueRef
failure(JSContextRef ctx, const char *code, const uint8_t *msg, size_t len, JSValueRef *exc)
{
    JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
    JSStringRef s = NULL;
    if (sr_js__string_new((const char *)msg, len, &s, NULL) != SR_OK)
        s = JSStringCreateWithUTF8CString("(the message is not UTF-8)");
    bool ok = sr_js__set(ctx, o, "error", sr_js__cstring(ctx, code), 0, exc) &&
              sr_js__set(ctx, o, "message", JSValueMakeString(ctx, s), 0, exc);
    JSStringRelease(s);
    return ok ? o : NULL;
}

static JSValueRef
latin1_value(JSContextRef ctx, const struct sr_http_bytes *b)
{
    JSChar stack[256];
    JSChar *u = b->len <= 256 ? stack : malloc(b->len * sizeof(JSChar));
    if (!u)
        return JSValueMakeString(ctx, JSStringCreateWithUTF8CString(""));
    for (size_t i = 0; i < b->len; i++)
        u[i] = b->p[i];
    JSStringRef s = JSStringCreateWithCharacters(u, b->len);
    if (u != stack)
        free(u);
    JSValueRef v = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    return v;
}

/* {status, url, redirected, headers, body} from an OK answer. */
static JSValueRef
success(JSContextRef ctx, const struct sr_http_message *m, JSValueRef *exc)
{
    JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
    JSValueRef *hv = calloc(2 * m->nheaders + 1, sizeof(JSValueRef));
    uint8_t *body = malloc(m->body.len ? m->body.len : 1);
    if (!hv || !body) {
        free(hv);
        free(body);
        return sr_js__throw(ctx, "RangeError", "out of memory reading a response", exc);
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        hv[2 * i] = latin1_value(ctx, &m->headers[i].name);
        hv[2 * i + 1] = latin1_value(ctx, &m->headers[i].value);
    }
    JSObjectRef headers = JSObjectMakeArray(ctx, 2 * m->nheaders, hv, exc);
    free(hv);
    if (m->body.len)
        memcpy(body, m->body.p, m->body.len);
    JSValueRef b = bytes_value(ctx, body, m->body.len, exc);
    bool ok =
        headers && b && sr_js__set(ctx, o, "status", JSValueMakeNumber(ctx, m->status), 0, exc) &&
        sr_js__set(ctx, o, "url", latin1_value(ctx, &m->url), 0, exc) &&
        sr_js__set(ctx, o, "redirected", JSValueMakeBoolean(ctx, m->redirected), 0, exc) &&
        sr_js__set(ctx, o, "headers", headers, 0, exc) && sr_js__set(ctx, o, "body", b, 0, exc);
    return ok ? o : NULL;
}

static const char *
code_name(enum sr_http_wire_code c)
{
    switch (c) {
    case SR_HTTP_WIRE_DENIED:
        return "HTTP_DENIED";
    case SR_HTTP_WIRE_LIMIT:
        return "HTTP_LIMIT";
    case SR_HTTP_WIRE_TIMEOUT:
        return "HTTP_TIMEOUT";
    case SR_HTTP_WIRE_ERROR:
        return "HTTP_ERROR";
    case SR_HTTP_WIRE_INVALID:
    case SR_HTTP_WIRE_OK:
        break;
    }
    return "INVALID";
}

static JSValueRef
http_request(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run)
        return sr_js__throw(ctx, "TypeError", "fetch is not available after the job ended", exc);
    if (!run->job->http_call) {
        static const char m[] = "outbound HTTP is not available here (no sealrund supervisor)";
        return failure(ctx, "HTTP_DENIED", (const uint8_t *)m, sizeof(m) - 1, exc);
    }
    struct req_args *a = calloc(1, sizeof(*a));
    struct sr_http_message *ans = calloc(1, sizeof(*ans));
    JSValueRef out = NULL;
    sr_buf frame, resp;
    /* header values may hold what the guest got from its secrets */
    sr_buf_init_secure(&frame, SR_FETCH_MAX_REQUEST_BODY + SR_FETCH_MAX_URL +
                                   2 * SR_FETCH_MAX_HEADER_BYTES + 4096);
    sr_buf_init_secure(&resp, SR_MAX_IPC_FRAME);
    if (!a || !ans) {
        out = sr_js__throw(ctx, "RangeError", "out of memory making a request", exc);
        goto done;
    }
    sr_buf_init_secure(&a->strings, 4 * SR_FETCH_MAX_URL + 4 * SR_FETCH_MAX_HEADER_BYTES);
    if (!read_args(ctx, argc, argv, a, exc))
        goto done;
    sr_err e = {0};
    sr_status rc = sr_http_wire_request(&frame, &a->m, &e);
    if (rc == SR_OK)
        rc = run->job->http_call(run->job->host_ctx, (const uint8_t *)frame.data, frame.len, &resp,
                                 &e);
    enum sr_http_wire_code code = SR_HTTP_WIRE_ERROR;
    if (rc == SR_OK)
        rc = sr_http_wire_answer_decode((const uint8_t *)resp.data, resp.len, &code, ans, &e);
    if (rc != SR_OK) {
        out = failure(ctx, "HTTP_ERROR", (const uint8_t *)e.msg, strlen(e.msg), exc);
    } else if (code == SR_HTTP_WIRE_INVALID) {
        char msg[SR_ERR_MSG_MAX + 16];
        (void)snprintf(msg, sizeof(msg), "fetch: %.*s", (int)ans->body.len,
                       (const char *)ans->body.p);
        out = sr_js__throw(ctx, "TypeError", msg, exc);
    } else if (code != SR_HTTP_WIRE_OK) {
        out = failure(ctx, code_name(code), ans->body.p, ans->body.len, exc);
    } else {
        out = success(ctx, ans, exc);
    }
done:
    if (a)
        sr_buf_fini_secure(&a->strings);
    free(a);
    free(ans);
    sr_buf_fini_secure(&frame);
    sr_buf_fini_secure(&resp);
    return out;
}

/* ---- installation ---- */

sr_status
sr_js__run_fetch(struct sr_js__run *run, JSValueRef *exc)
{
    static const char *const names[] = {"request", "utf8Decode", "utf8Encode"};
    static const JSObjectCallAsFunctionCallback fns[] = {http_request, sr_js__utf8_decode_fn,
                                                         sr_js__utf8_encode_fn};
    JSContextRef ctx = run->ctx;
    JSObjectRef native = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!sr_js__set(ctx, native, names[i], sr_js__function(ctx, names[i], fns[i]), 0, exc))
            return SR_EINTERNAL;
    JSValueRef arg = native;
    JSValueRef out = NULL;
    return sr_js__eval_prelude(ctx, sr_js__js_fetch_js, "sealrun:fetch.js", 1, &arg, &out, exc);
}
