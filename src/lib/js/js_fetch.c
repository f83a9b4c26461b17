/* SPDX-License-Identifier: MIT
 *
 * js_fetch.c - the host side of the guest's fetch (docs/http.md, docs/js.md):
 * installs js_fetch.js (URL, URLSearchParams, Headers, Request, Response,
 * AbortSignal, AbortController, fetch) in a fresh global object and gives it
 * three host functions, reachable only from inside that script's closure:
 *
 *   request(method, url, headers, body, timeoutMs, redirect): checks every
 *     argument, encodes one sr_http.h host call, hands it to the job's
 *     http_call (the supervisor performs it) and turns the answer into
 *     {status, url, redirected, headers, body} or {error, message};
 *   utf8Decode(bytes), utf8Encode(string): the UTF-8 the body methods and
 *     percent-encoding need (WHATWG Encoding: invalid sequences and lone
 *     surrogates become U+FFFD).
 */
#include "js_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_http.h"
#include "sealrun/sr_limits.h"

extern const char sr_js__fetch_src[];
extern const size_t sr_js__fetch_src_len;

/* The largest string utf8Encode converts (bytes of UTF-8): a request body
 * is capped far below; this only bounds the work. */
#define ENCODE_MAX (16u * SR_MIB)

/* ---- UTF-8 ---- */

/* Decodes one UTF-8 sequence at p (n bytes left) into *cp; returns the
 * bytes used (1 for an invalid start, as the Encoding Standard's decoder
 * resynchronises) and sets *cp to U+FFFD when invalid. */
static size_t
utf8_one(const uint8_t *p, size_t n, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t need = c < 0x80             ? 0
                  : (c & 0xe0) == 0xc0 ? 1
                  : (c & 0xf0) == 0xe0 ? 2
                  : (c & 0xf8) == 0xf0 ? 3
                                       : 9;
    if (need == 0) {
        *cp = c;
        return 1;
    }
    uint8_t lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (need == 9 || c < 0xc2 || c > 0xf4) {
        *cp = 0xfffd;
        return 1;
    }
    uint32_t v = c & (0x3fu >> need);
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *cp = 0xfffd;
            return i;
        }
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    *cp = v;
    return need + 1;
}

static JSValueRef
utf8_decode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    const uint8_t *p = NULL;
    size_t len = 0;
    if (argc < 1 || !sr_js__binary_bytes(ctx, argv[0], &p, &len))
        return sr_js__throw(ctx, "TypeError", "utf8Decode: expected a Uint8Array or ArrayBuffer",
                            exc);
    JSChar *out = malloc((len ? len : 1) * sizeof(JSChar));
    if (!out)
        return sr_js__throw(ctx, "RangeError", "out of memory decoding UTF-8", exc);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_one(p + i, len - i, &cp);
        if (cp >= 0x10000) { /* 4 bytes became 2 code units: never more units than bytes */
            out[n++] = (JSChar)(0xd800 + ((cp - 0x10000) >> 10));
            out[n++] = (JSChar)(0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            out[n++] = (JSChar)cp;
        }
    }
    JSStringRef s = JSStringCreateWithCharacters(out, n);
    free(out);
    JSValueRef v = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    return v;
}

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

static JSValueRef
utf8_encode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    if (argc < 1 || !JSValueIsString(ctx, argv[0]))
        return sr_js__throw(ctx, "TypeError", "utf8Encode: expected a string", exc);
    JSStringRef s = JSValueToStringCopy(ctx, argv[0], exc);
    if (!s)
        return NULL;
    sr_buf b;
    sr_buf_init(&b, ENCODE_MAX);
    bool fit = sr_js__string_append(&b, s, ENCODE_MAX);
    JSStringRelease(s);
    if (!fit) {
        sr_buf_fini(&b);
        return sr_js__throw(ctx, "RangeError",
                            "a string to send is more than 16 MiB of UTF-8 (the request body "
                            "limit is 1 MiB)",
                            exc);
    }
    size_t len = b.len;
    uint8_t *p = (uint8_t *)sr_buf_steal(&b);
    return p ? bytes_value(ctx, p, len, exc)
             : sr_js__throw(ctx, "RangeError", "out of memory encoding UTF-8", exc);
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

/* Evaluates js_fetch.js and calls it with the host functions: it defines
 * the globals as data properties, over the lazy accessors. */
static sr_status
install_now(struct sr_js__run *run, sr_err *err)
{
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSStringRef src = NULL, url = JSStringCreateWithUTF8CString("sealrun:fetch.js");
    if (sr_js__string_new(sr_js__fetch_src, sr_js__fetch_src_len, &src, err) != SR_OK) {
        JSStringRelease(url);
        return sr_err_wrap(err, "js_fetch.js");
    }
    JSValueRef f = JSEvaluateScript(ctx, src, NULL, url, 1, &exc);
    JSStringRelease(src);
    JSStringRelease(url);
    JSObjectRef native = JSObjectMake(ctx, NULL, NULL);
    bool ok = f && !exc && JSValueIsObject(ctx, f) &&
              sr_js__set(ctx, native, "request", sr_js__function(ctx, "request", http_request), 0,
                         &exc) &&
              sr_js__set(ctx, native, "utf8Decode", sr_js__function(ctx, "utf8Decode", utf8_decode),
                         0, &exc) &&
              sr_js__set(ctx, native, "utf8Encode", sr_js__function(ctx, "utf8Encode", utf8_encode),
                         0, &exc);
    JSValueRef arg = native;
    if (ok)
        (void)JSObjectCallAsFunction(ctx, sr_js__obj(f), NULL, 1, &arg, &exc);
    if (!ok || exc) {
        char *why = exc ? sr_js__describe(ctx, exc, NULL) : NULL;
        sr_status rc =
            sr_err_set(err, SR_EINTERNAL, "cannot install fetch: %s", why ? why : "unknown");
        free(why);
        return rc;
    }
    return SR_OK;
}

static JSValueRef
lazy_get(JSContextRef ctx, const char *name, JSValueRef *exc)
{
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run)
        return sr_js__throw(ctx, "TypeError", "fetch is not available after the job ended", exc);
    if (run->fetch_installed) /* the script failed to install: nothing to give */
        return JSValueMakeUndefined(ctx);
    run->fetch_installed = true;
    sr_err e = {0};
    if (install_now(run, &e) != SR_OK)
        return sr_js__throw(ctx, "Error", e.msg, exc);
    return sr_js__get(ctx, JSContextGetGlobalObject(ctx), name, exc);
}

/* The guest assigns the name first: its value, as a plain property. */
static JSValueRef
lazy_set(JSContextRef ctx, const char *name, size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    JSValueRef v = argc ? argv[0] : JSValueMakeUndefined(ctx);
    JSStringRef key = JSStringCreateWithUTF8CString(name);
    (void)JSObjectDeleteProperty(ctx, global, key, exc);
    JSStringRelease(key);
    if (*exc || !sr_js__set(ctx, global, name, v, kJSPropertyAttributeDontEnum, exc))
        return NULL;
    return JSValueMakeUndefined(ctx);
}

#define LAZY(fn, name)                                                                             \
    static JSValueRef get_##fn(JSContextRef ctx, JSObjectRef f, JSObjectRef self, size_t argc,     \
                               const JSValueRef argv[], JSValueRef *exc)                           \
    {                                                                                              \
        (void)f, (void)self, (void)argc, (void)argv;                                               \
        return lazy_get(ctx, name, exc);                                                           \
    }                                                                                              \
    static JSValueRef set_##fn(JSContextRef ctx, JSObjectRef f, JSObjectRef self, size_t argc,     \
                               const JSValueRef argv[], JSValueRef *exc)                           \
    {                                                                                              \
        (void)f, (void)self;                                                                       \
        return lazy_set(ctx, name, argc, argv, exc);                                               \
    }
LAZY(fetch, "fetch")
LAZY(url, "URL")
LAZY(params, "URLSearchParams")
LAZY(headers, "Headers")
LAZY(request, "Request")
LAZY(response, "Response")
LAZY(signal, "AbortSignal")
LAZY(controller, "AbortController")
#undef LAZY

sr_status
sr_js__install_fetch(struct sr_js__run *run, JSObjectRef global, sr_err *err)
{
    static const struct {
        const char *name;
        JSObjectCallAsFunctionCallback get, set;
    } names[] = {
        {"fetch", get_fetch, set_fetch},
        {"URL", get_url, set_url},
        {"URLSearchParams", get_params, set_params},
        {"Headers", get_headers, set_headers},
        {"Request", get_request, set_request},
        {"Response", get_response, set_response},
        {"AbortSignal", get_signal, set_signal},
        {"AbortController", get_controller, set_controller},
    };
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSValueRef object = sr_js__get(ctx, global, "Object", &exc);
    JSValueRef dp = object && JSValueIsObject(ctx, object)
                        ? sr_js__get(ctx, sr_js__obj(object), "defineProperty", &exc)
                        : NULL;
    if (!dp || !JSValueIsObject(ctx, dp))
        return sr_err_set(err, SR_EINTERNAL, "Object.defineProperty is missing in a fresh context");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        JSObjectRef desc = JSObjectMake(ctx, NULL, NULL);
        bool ok = sr_js__set(ctx, desc, "get", sr_js__function(ctx, names[i].name, names[i].get), 0,
                             &exc) &&
                  sr_js__set(ctx, desc, "set", sr_js__function(ctx, names[i].name, names[i].set), 0,
                             &exc) &&
                  sr_js__set(ctx, desc, "configurable", JSValueMakeBoolean(ctx, true), 0, &exc);
        JSValueRef args[3] = {global, sr_js__cstring(ctx, names[i].name), desc};
        if (!ok || !JSObjectCallAsFunction(ctx, sr_js__obj(dp), NULL, 3, args, &exc) || exc)
            return sr_err_set(err, SR_EINTERNAL, "cannot define '%s' in a fresh context",
                              names[i].name);
    }
    return SR_OK;
}
