/* SPDX-License-Identifier: MIT
 *
 * js_storage.c - the guest's 'storage' object (docs/storage.md): get,
 * getBytes, set, delete, has and list. Each call checks its arguments,
 * encodes one request in the sr_storage.h wire format and hands it to the
 * job's host_call (the supervisor answers; this process never touches the
 * store). Guest mistakes throw TypeError or RangeError with the host's
 * message, as does a per-job cap (reads, listings, writes; the message
 * names it); a host failure throws Error.
 */
#include "js_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_storage.h"

/* Request frame cap: a 1 MiB value plus the header, with room to notice
 * one byte too many. */
#define REQ_MAX (SR_STORAGE_MAX_VALUE + SR_STORAGE_MAX_KEY + 64)

struct call {
    JSContextRef ctx;
    const char *fn; /* "storage.get" for messages */
    JSValueRef *exc;
    sr_buf req;
    sr_buf resp;
};

static JSValueRef fail(struct call *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static JSValueRef
fail(struct call *c, const char *type, const char *fmt, ...)
{
    char msg[SR_ERR_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sr_js__throw(c->ctx, type, msg, c->exc);
}

static void
call_fini(struct call *c)
{
    sr_buf_fini_secure(&c->req);
    sr_buf_fini_secure(&c->resp);
}

/* UTF-8 of a string argument into b (at most max bytes). false: thrown. */
static bool
string_arg(struct call *c, size_t argc, const JSValueRef argv[], size_t i, const char *name,
           size_t max, sr_buf *b)
{
    if (i >= argc || !JSValueIsString(c->ctx, argv[i])) {
        fail(c, "TypeError", "%s: '%s' must be a string, got %s", c->fn, name,
             i < argc ? sr_js__type_name(c->ctx, argv[i]) : "nothing");
        return false;
    }
    JSStringRef s = JSValueToStringCopy(c->ctx, argv[i], c->exc);
    if (!s)
        return false;
    bool fit = sr_js__string_append(b, s, max);
    JSStringRelease(s);
    if (!fit)
        fail(c, "RangeError", "%s: '%s' must be at most %zu bytes of UTF-8", c->fn, name, max);
    return fit;
}

/* Sends c->req; on SR_OK the answer's code is *code and its payload follows. */
static bool
send(struct call *c, struct sr_js__run *run, uint8_t *code)
{
    sr_err e = {0};
    if (!run->job->host_call) {
        fail(c, "Error", "%s: storage is not available here (no sealrund store)", c->fn);
        return false;
    }
    sr_status rc = run->job->host_call(run->job->host_ctx, (const uint8_t *)c->req.data, c->req.len,
                                       &c->resp, &e);
    if (rc == SR_OK && c->resp.len < 1)
        rc = sr_err_set(&e, SR_EINTERNAL, "empty answer");
    if (rc != SR_OK) {
        fail(c, "Error", "%s: storage is not available: %s", c->fn, e.msg);
        return false;
    }
    *code = (uint8_t)c->resp.data[0];
    if (*code == SR_STORAGE_WIRE_INVALID || *code == SR_STORAGE_WIRE_LIMIT) {
        fail(c, *code == SR_STORAGE_WIRE_LIMIT ? "RangeError" : "TypeError", "%s: %.*s", c->fn,
             (int)(c->resp.len - 1), c->resp.data + 1);
        return false;
    }
    if (*code == SR_STORAGE_WIRE_CAP) { /* the cap's number, then the message */
        size_t skip = c->resp.len < 2 ? c->resp.len : 2;
        fail(c, "RangeError", "%s: %.*s", c->fn, (int)(c->resp.len - skip), c->resp.data + skip);
        return false;
    }
    return true;
}

/* Starts a call with a key argument: checks, encodes op + key + payload. */
static struct sr_js__run *
begin(struct call *c, char op, size_t argc, const JSValueRef argv[], const uint8_t *payload,
      size_t plen)
{
    struct sr_js__run *run = sr_js__run_of(c->ctx);
    sr_buf_init(&c->req, REQ_MAX);
    sr_buf_init(&c->resp, SR_MAX_IPC_FRAME);
    if (!run) {
        fail(c, "TypeError", "%s is not available after the job ended", c->fn);
        return NULL;
    }
    sr_buf key;
    sr_buf_init(&key, SR_STORAGE_MAX_KEY);
    bool ok = string_arg(c, argc, argv, 0, "key", SR_STORAGE_MAX_KEY, &key);
    if (ok && sr_storage_wire_request(&c->req, op, (const uint8_t *)key.data, key.len, payload,
                                      plen, NULL) != SR_OK) {
        fail(c, "RangeError", "%s: out of memory", c->fn);
        ok = false;
    }
    sr_buf_fini(&key);
    return ok ? run : NULL;
}

static JSValueRef
get_common(JSContextRef ctx, size_t argc, const JSValueRef argv[], JSValueRef *exc, bool bytes)
{
    struct call c = {
        .ctx = ctx, .fn = bytes ? "storage.getBytes(key)" : "storage.get(key)", .exc = exc};
    struct sr_js__run *run = begin(&c, 'G', argc, argv, NULL, 0);
    uint8_t code = 0;
    JSValueRef v = NULL;
    if (!run || !send(&c, run, &code)) {
        call_fini(&c);
        return NULL;
    }
    const char *p = c.resp.data + 1;
    size_t len = c.resp.len - 1;
    if (code == SR_STORAGE_WIRE_NOTFOUND) {
        v = JSValueMakeNull(ctx);
    } else if (bytes) {
        JSObjectRef a = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, len, exc);
        uint8_t *dst = a && !*exc ? JSObjectGetTypedArrayBytesPtr(ctx, a, exc) : NULL;
        if (dst && len)
            memcpy(dst, p, len);
        v = dst || (a && !len && !*exc) ? a : NULL;
    } else {
        JSStringRef s = NULL;
        if (sr_js__string_new(p, len, &s, NULL) != SR_OK) {
            fail(&c, "TypeError",
                 "storage.get(key): the value is not UTF-8 text; use storage.getBytes(key)");
        } else {
            v = JSValueMakeString(ctx, s);
            JSStringRelease(s);
        }
    }
    call_fini(&c);
    return v;
}

static JSValueRef
storage_get(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return get_common(ctx, argc, argv, exc, false);
}

static JSValueRef
storage_get_bytes(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                  const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return get_common(ctx, argc, argv, exc, true);
}

static JSValueRef
storage_has(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct call c = {.ctx = ctx, .fn = "storage.has(key)", .exc = exc};
    struct sr_js__run *run = begin(&c, 'H', argc, argv, NULL, 0);
    uint8_t code = 0;
    JSValueRef v = NULL;
    if (run && send(&c, run, &code))
        v = JSValueMakeBoolean(ctx, c.resp.len >= 2 && c.resp.data[1] == 1);
    call_fini(&c);
    return v;
}

static JSValueRef
storage_delete(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
               const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct call c = {.ctx = ctx, .fn = "storage.delete(key)", .exc = exc};
    struct sr_js__run *run = begin(&c, 'D', argc, argv, NULL, 0);
    uint8_t code = 0;
    JSValueRef v = run && send(&c, run, &code) ? JSValueMakeUndefined(ctx) : NULL;
    call_fini(&c);
    return v;
}

static JSValueRef
storage_set(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct call c = {.ctx = ctx, .fn = "storage.set(key, value)", .exc = exc};
    sr_buf text;
    sr_buf_init(&text, SR_STORAGE_MAX_VALUE);
    const uint8_t *p = NULL;
    size_t len = 0;
    bool ok = true;
    if (argc >= 2 && JSValueIsString(ctx, argv[1])) {
        ok = string_arg(&c, argc, argv, 1, "value", SR_STORAGE_MAX_VALUE, &text);
        p = (const uint8_t *)text.data;
        len = text.len;
    } else if (argc < 2 || !JSValueIsObject(ctx, argv[1]) ||
               !sr_js__binary_bytes(ctx, argv[1], &p, &len)) {
        fail(&c, "TypeError",
             "storage.set(key, value): 'value' must be a string, Uint8Array or ArrayBuffer, got "
             "%s",
             argc >= 2 ? sr_js__type_name(ctx, argv[1]) : "nothing");
        ok = false;
    } else if (len > SR_STORAGE_MAX_VALUE) {
        fail(&c, "RangeError", "storage.set(key, value): the value is %zu bytes; the limit is %u",
             len, SR_STORAGE_MAX_VALUE);
        ok = false;
    }
    struct sr_js__run *run = ok ? begin(&c, 'S', argc, argv, p, len) : NULL;
    uint8_t code = 0;
    JSValueRef v = run && send(&c, run, &code) ? JSValueMakeUndefined(ctx) : NULL;
    call_fini(&c);
    sr_buf_fini_secure(&text);
    return v;
}

/* Reads {limit, after} of storage.list; false: thrown. */
static bool
list_options(struct call *c, size_t argc, const JSValueRef argv[], uint32_t *limit, sr_buf *after)
{
    *limit = SR_STORAGE_DEFAULT_LIST;
    if (argc < 2 || JSValueIsUndefined(c->ctx, argv[1]) || JSValueIsNull(c->ctx, argv[1]))
        return true;
    if (!JSValueIsObject(c->ctx, argv[1])) {
        fail(c, "TypeError", "%s: 'options' must be an object {limit, after}, got %s", c->fn,
             sr_js__type_name(c->ctx, argv[1]));
        return false;
    }
    JSObjectRef o = sr_js__obj(argv[1]);
    JSValueRef lim = sr_js__get(c->ctx, o, "limit", c->exc);
    JSValueRef aft = lim ? sr_js__get(c->ctx, o, "after", c->exc) : NULL;
    if (!lim || !aft)
        return false;
    if (!JSValueIsUndefined(c->ctx, lim)) {
        double n = JSValueIsNumber(c->ctx, lim) ? JSValueToNumber(c->ctx, lim, c->exc) : -1;
        if (!(n >= 1 && n <= SR_STORAGE_MAX_LIST) || n != floor(n)) {
            fail(c, "RangeError", "%s: 'limit' must be an integer from 1 to %d", c->fn,
                 SR_STORAGE_MAX_LIST);
            return false;
        }
        *limit = (uint32_t)n;
    }
    if (JSValueIsUndefined(c->ctx, aft) || JSValueIsNull(c->ctx, aft))
        return true;
    const JSValueRef one[1] = {aft};
    return string_arg(c, 1, one, 0, "after", SR_STORAGE_MAX_KEY, after);
}

/* {keys: [...], more: bool} from a list answer. */
static JSValueRef
list_result(struct call *c)
{
    const uint8_t *p = (const uint8_t *)c->resp.data + 1;
    size_t len = c->resp.len - 1, pos = 5;
    uint32_t n = 0;
    bool more = false;
    if (sr_storage_wire_list_head(p, len, &n, &more, NULL) != SR_OK || n > SR_STORAGE_MAX_LIST)
        return fail(c, "Error", "%s: the storage answer is malformed", c->fn);
    JSValueRef keys[SR_STORAGE_MAX_LIST];
    for (uint32_t i = 0; i < n; i++) {
        struct sr_storage_key_view k;
        JSStringRef s = NULL;
        if (sr_storage_wire_list_key(p, len, &pos, &k, NULL) != SR_OK ||
            sr_js__string_new((const char *)k.p, k.len, &s, NULL) != SR_OK)
            return fail(c, "Error", "%s: the storage answer is malformed", c->fn);
        keys[i] = JSValueMakeString(c->ctx, s);
        JSStringRelease(s);
    }
    JSObjectRef arr = JSObjectMakeArray(c->ctx, n, keys, c->exc);
    JSObjectRef o = arr ? JSObjectMake(c->ctx, NULL, NULL) : NULL;
    if (!o || !sr_js__set(c->ctx, o, "keys", arr, kJSPropertyAttributeNone, c->exc) ||
        !sr_js__set(c->ctx, o, "more", JSValueMakeBoolean(c->ctx, more), kJSPropertyAttributeNone,
                    c->exc))
        return NULL;
    return o;
}

static JSValueRef
storage_list(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct call c = {.ctx = ctx, .fn = "storage.list(prefix, options)", .exc = exc};
    struct sr_js__run *run = sr_js__run_of(ctx);
    sr_buf prefix, after;
    sr_buf_init(&prefix, SR_STORAGE_MAX_KEY);
    sr_buf_init(&after, SR_STORAGE_MAX_KEY);
    sr_buf_init(&c.req, REQ_MAX);
    sr_buf_init(&c.resp, SR_MAX_IPC_FRAME);
    uint32_t limit = 0;
    uint8_t code = 0;
    JSValueRef v = NULL;
    bool ok = run != NULL;
    if (!run)
        fail(&c, "TypeError", "%s is not available after the job ended", c.fn);
    /* prefix: a string, or undefined/null for every key */
    if (ok && argc >= 1 && !JSValueIsUndefined(ctx, argv[0]) && !JSValueIsNull(ctx, argv[0]))
        ok = string_arg(&c, argc, argv, 0, "prefix", SR_STORAGE_MAX_KEY, &prefix);
    ok = ok && list_options(&c, argc, argv, &limit, &after);
    if (ok && sr_storage_wire_list_request(&c.req, (const uint8_t *)prefix.data, prefix.len, limit,
                                           (const uint8_t *)after.data, after.len, NULL) != SR_OK) {
        fail(&c, "RangeError", "%s: out of memory", c.fn);
        ok = false;
    }
    if (ok && send(&c, run, &code))
        v = list_result(&c);
    sr_buf_fini(&prefix);
    sr_buf_fini(&after);
    call_fini(&c);
    return v;
}

sr_status
sr_js__install_storage(struct sr_js__run *run, JSObjectRef global, sr_err *err)
{
    static const char *const names[] = {"get", "getBytes", "set", "delete", "has", "list"};
    static const JSObjectCallAsFunctionCallback fns[] = {
        storage_get, storage_get_bytes, storage_set, storage_delete, storage_has, storage_list,
    };
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; o && i < sizeof(names) / sizeof(names[0]); i++)
        if (!sr_js__set(ctx, o, names[i], sr_js__function(ctx, names[i], fns[i]),
                        kJSPropertyAttributeDontEnum | kJSPropertyAttributeReadOnly, &exc))
            o = NULL;
    if (!o || !sr_js__set(ctx, global, "storage", o, kJSPropertyAttributeDontEnum, &exc))
        return sr_err_set(err, SR_EINTERNAL, "cannot install 'storage' in a fresh context");
    return SR_OK;
}
