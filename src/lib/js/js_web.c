/* SPDX-License-Identifier: MIT
 *
 * js_web.c - the native half of the web platform globals (web.js is the
 * other): UTF-8 encoding and decoding as WHATWG Encoding specifies it,
 * forgiving base64 for atob/btoa, and the random fill behind
 * crypto.getRandomValues. The helpers live on an object only web.js holds;
 * each still checks its arguments, since web.js passes guest values.
 * Every helper is linear in its input and allocates at most its output.
 */
#include "js_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_util.h"

/* Web Crypto 10.1.1: getRandomValues refuses more bytes than this. */
#define RANDOM_FILL_MAX 65536u
/* Source URL of the prelude in the guest's stack traces. */
#define WEB_JS_URL "sealrun:web.js"

/* randomFill's answers (web.js turns them into DOMExceptions). */
enum { FILL_OK = 0, FILL_TYPE_MISMATCH = 1, FILL_QUOTA = 2 };

static JSValueRef
oom(JSContextRef ctx, const char *what, JSValueRef *exc)
{
    char msg[96];
    (void)snprintf(msg, sizeof(msg), "%s: out of memory", what);
    return sr_js__throw(ctx, "RangeError", msg, exc);
}

/* The string argument i as a JS string (owned), or NULL with a TypeError. */
static JSStringRef
string_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], const char *what,
           JSValueRef *exc)
{
    if (argc < 1 || !JSValueIsString(ctx, argv[0])) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "%s: expected a string", what);
        (void)sr_js__throw(ctx, "TypeError", msg, exc);
        return NULL;
    }
    return JSValueToStringCopy(ctx, argv[0], exc);
}

/* A new Uint8Array of n bytes; *p points at them. NULL when it threw. */
static JSObjectRef
new_bytes(JSContextRef ctx, size_t n, uint8_t **p, JSValueRef *exc)
{
    JSObjectRef a = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, n, exc);
    if (!a || *exc)
        return NULL;
    *p = JSObjectGetTypedArrayBytesPtr(ctx, a, exc);
    return *exc || (!*p && n) ? NULL : a;
}

/* ---- UTF-8 ---- */

/* utf8Encode(s): the UTF-8 bytes of s (lone surrogates as U+FFFD). */
JSValueRef
sr_js__utf8_encode_fn(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                      const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    JSStringRef s = string_arg(ctx, argc, argv, "utf8Encode", exc);
    if (!s)
        return NULL;
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    uint8_t *out = NULL;
    JSObjectRef a = new_bytes(ctx, sr_js__string_utf8_len(s), &out, exc);
    for (size_t i = 0, o = 0; a && i < n;)
        o += sr_js__utf8_encode(sr_js__utf16_next(u, n, &i), out + o);
    JSStringRelease(s);
    return a;
}

/* utf8EncodeInto(s, u8): as many whole code points of s as fit into u8;
 * returns [UTF-16 units read, bytes written] (Encoding 8.2.2). */
static JSValueRef
utf8_encode_into(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                 const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    const uint8_t *view = NULL;
    size_t cap = 0;
    if (argc < 2 || !JSValueIsObject(ctx, argv[1]) ||
        JSValueGetTypedArrayType(ctx, argv[1], NULL) != kJSTypedArrayTypeUint8Array ||
        !sr_js__binary_bytes(ctx, argv[1], &view, &cap))
        return sr_js__throw(ctx, "TypeError", "utf8EncodeInto: expected a Uint8Array", exc);
    uint8_t *dst = (uint8_t *)(uintptr_t)view; /* the guest's own array, written in place */
    JSStringRef s = string_arg(ctx, argc, argv, "utf8EncodeInto", exc);
    if (!s)
        return NULL;
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    size_t read = 0;
    size_t written = 0;
    while (read < n) {
        unsigned char tmp[4];
        size_t next = read;
        size_t len = sr_js__utf8_encode(sr_js__utf16_next(u, n, &next), tmp);
        if (len > cap - written)
            break;
        memcpy(dst + written, tmp, len);
        written += len;
        read = next;
    }
    JSStringRelease(s);
    JSValueRef r[2] = {JSValueMakeNumber(ctx, (double)read),
                       JSValueMakeNumber(ctx, (double)written)};
    return JSObjectMakeArray(ctx, 2, r, exc);
}

/* WHATWG Encoding 9.1.1, the UTF-8 decoder: every maximal invalid subpart
 * becomes one U+FFFD. Writes at most len + 1 units to out; returns how many,
 * or SIZE_MAX at the first error when 'fatal'. */
static size_t
decode_utf8(const uint8_t *p, size_t len, bool fatal, JSChar *out)
{
    size_t n = 0;
    uint32_t cp = 0;
    unsigned need = 0;
    unsigned seen = 0;
    uint8_t lower = 0x80;
    uint8_t upper = 0xbf;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        if (need == 0) {
            if (b <= 0x7f) {
                out[n++] = b;
                continue;
            }
            if (b >= 0xc2 && b <= 0xdf) {
                need = 1;
                cp = b & 0x1fu;
            } else if (b >= 0xe0 && b <= 0xef) {
                lower = b == 0xe0 ? 0xa0 : 0x80;
                upper = b == 0xed ? 0x9f : 0xbf;
                need = 2;
                cp = b & 0xfu;
            } else if (b >= 0xf0 && b <= 0xf4) {
                lower = b == 0xf0 ? 0x90 : 0x80;
                upper = b == 0xf4 ? 0x8f : 0xbf;
                need = 3;
                cp = b & 0x7u;
            } else {
                if (fatal)
                    return SIZE_MAX;
                out[n++] = 0xfffd;
            }
            continue;
        }
        if (b < lower || b > upper) {
            /* the byte is not part of this sequence: it is looked at again */
            if (fatal)
                return SIZE_MAX;
            need = seen = 0;
            lower = 0x80;
            upper = 0xbf;
            out[n++] = 0xfffd;
            i--;
            continue;
        }
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (b & 0x3fu);
        if (++seen < need)
            continue;
        if (cp >= 0x10000) {
            out[n++] = (JSChar)(0xd800 + ((cp - 0x10000) >> 10));
            out[n++] = (JSChar)(0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            out[n++] = (JSChar)cp;
        }
        need = seen = 0;
    }
    if (need) {
        if (fatal)
            return SIZE_MAX;
        out[n++] = 0xfffd;
    }
    return n;
}

/* utf8Decode(bytes, fatal): the text, or null when fatal and not UTF-8. */
JSValueRef
sr_js__utf8_decode_fn(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                      const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    const uint8_t *p = NULL;
    size_t len = 0;
    if (argc < 1 || !JSValueIsObject(ctx, argv[0]) || !sr_js__binary_bytes(ctx, argv[0], &p, &len))
        return sr_js__throw(ctx, "TypeError", "utf8Decode: expected a Uint8Array or ArrayBuffer",
                            exc);
    bool fatal = argc >= 2 && JSValueToBoolean(ctx, argv[1]);
    size_t bytes = 0;
    if (!sr_mul_size(len + 1, sizeof(JSChar), &bytes))
        return oom(ctx, "TextDecoder.decode", exc);
    JSChar *out = malloc(bytes);
    if (!out)
        return oom(ctx, "TextDecoder.decode", exc);
    size_t n = decode_utf8(p, len, fatal, out);
    JSValueRef v = JSValueMakeNull(ctx);
    if (n != SIZE_MAX) {
        JSStringRef s = JSStringCreateWithCharacters(out, n);
        v = JSValueMakeString(ctx, s);
        JSStringRelease(s);
    }
    sodium_memzero(out, bytes); /* decoded guest data, perhaps a secret */
    free(out);
    return v;
}

/* ---- base64 (HTML 8.3: btoa, and atob's forgiving-base64 decode) ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* btoa(s): base64 of the Latin-1 string s, or null when s holds a unit
 * above U+00FF. */
static JSValueRef
web_btoa(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
         JSValueRef *exc)
{
    (void)fn, (void)self;
    JSStringRef s = string_arg(ctx, argc, argv, "btoa", exc);
    if (!s)
        return NULL;
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    JSValueRef v = JSValueMakeNull(ctx);
    JSChar *out = NULL;
    size_t units = (n / 3 + (n % 3 != 0)) * 4;
    for (size_t i = 0; i < n; i++)
        if (u[i] > 0xff)
            goto done;
    out = malloc((units ? units : 1) * sizeof(JSChar));
    if (!out) {
        v = oom(ctx, "btoa", exc);
        goto done;
    }
    for (size_t i = 0, o = 0; i < n; i += 3, o += 4) {
        uint32_t w = (uint32_t)u[i] << 16;
        w |= i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0;
        w |= i + 2 < n ? u[i + 2] : 0;
        out[o] = (JSChar)b64_alphabet[w >> 18];
        out[o + 1] = (JSChar)b64_alphabet[(w >> 12) & 63];
        out[o + 2] = i + 1 < n ? (JSChar)b64_alphabet[(w >> 6) & 63] : '=';
        out[o + 3] = i + 2 < n ? (JSChar)b64_alphabet[w & 63] : '=';
    }
    JSStringRef r = JSStringCreateWithCharacters(out, units);
    v = JSValueMakeString(ctx, r);
    JSStringRelease(r);
done:
    free(out);
    JSStringRelease(s);
    return v;
}

static int
b64_value(JSChar c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool
is_ascii_space(JSChar c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

/* HTML's forgiving-base64 decode of u[0..n) into out (at most n * 3 / 4
 * units, one per byte). Returns the byte count, or SIZE_MAX on failure. */
static size_t
forgiving_decode(const JSChar *u, size_t n, JSChar *out)
{
    size_t chars = 0;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_ascii_space(u[i]))
            continue;
        if (u[i] == '=') {
            pad++;
            continue;
        }
        if (pad || b64_value(u[i]) < 0)
            return SIZE_MAX; /* '=' only at the end; nothing outside the alphabet */
        chars++;
    }
    if (pad > 2 || (pad && (chars + pad) % 4 != 0) || chars % 4 == 1)
        return SIZE_MAX;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64_value(u[i]);
        if (d < 0)
            continue;
        acc = (acc << 6) | (uint32_t)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (JSChar)((acc >> bits) & 0xff);
        }
    }
    return o; /* leftover bits (at most 4) are dropped, as the algorithm says */
}

/* atob(s): the Latin-1 string s decodes to, or null when s is not base64. */
static JSValueRef
web_atob(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
         JSValueRef *exc)
{
    (void)fn, (void)self;
    JSStringRef s = string_arg(ctx, argc, argv, "atob", exc);
    if (!s)
        return NULL;
    size_t n = JSStringGetLength(s);
    JSChar *out = malloc((n ? n : 1) * sizeof(JSChar));
    JSValueRef v = JSValueMakeNull(ctx);
    if (!out) {
        v = oom(ctx, "atob", exc);
    } else {
        size_t len = forgiving_decode(JSStringGetCharactersPtr(s), n, out);
        if (len != SIZE_MAX) {
            JSStringRef r = JSStringCreateWithCharacters(out, len);
            v = JSValueMakeString(ctx, r);
            JSStringRelease(r);
        }
        sodium_memzero(out, n * sizeof(JSChar));
    }
    free(out);
    JSStringRelease(s);
    return v;
}

/* ---- random ---- */

/* randomFill(view): fills an integer typed array with random bytes.
 * FILL_TYPE_MISMATCH for other views, FILL_QUOTA past 65536 bytes. */
static JSValueRef
random_fill(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    if (argc < 1 || !JSValueIsObject(ctx, argv[0]))
        return JSValueMakeNumber(ctx, FILL_TYPE_MISMATCH);
    JSTypedArrayType t = JSValueGetTypedArrayType(ctx, argv[0], exc);
    if (*exc)
        return NULL;
    switch (t) {
    case kJSTypedArrayTypeInt8Array:
    case kJSTypedArrayTypeUint8Array:
    case kJSTypedArrayTypeUint8ClampedArray:
    case kJSTypedArrayTypeInt16Array:
    case kJSTypedArrayTypeUint16Array:
    case kJSTypedArrayTypeInt32Array:
    case kJSTypedArrayTypeUint32Array:
    case kJSTypedArrayTypeBigInt64Array:
    case kJSTypedArrayTypeBigUint64Array:
        break;
    default:
        return JSValueMakeNumber(ctx, FILL_TYPE_MISMATCH);
    }
    JSObjectRef o = sr_js__obj(argv[0]);
    size_t len = JSObjectGetTypedArrayByteLength(ctx, o, exc);
    if (len > RANDOM_FILL_MAX)
        return JSValueMakeNumber(ctx, FILL_QUOTA);
    uint8_t *base = JSObjectGetTypedArrayBytesPtr(ctx, o, exc);
    size_t off = JSObjectGetTypedArrayByteOffset(ctx, o, exc);
    if (*exc)
        return NULL;
    if (base && len)
        randombytes_buf(base + off, len);
    return JSValueMakeNumber(ctx, FILL_OK);
}

/* ---- installation ---- */

sr_status
sr_js__eval_prelude(JSContextRef ctx, const char *source, const char *url, size_t argc,
                    const JSValueRef argv[], JSValueRef *out, JSValueRef *exc)
{
    JSStringRef src = JSStringCreateWithUTF8CString(source);
    JSStringRef u = JSStringCreateWithUTF8CString(url);
    JSValueRef f = JSEvaluateScript(ctx, src, NULL, u, 1, exc);
    JSStringRelease(u);
    JSStringRelease(src);
    if (*exc)
        return SR_EINTERNAL;
    if (!f || !JSValueIsObject(ctx, f) || !JSObjectIsFunction(ctx, sr_js__obj(f))) {
        (void)sr_js__throw(ctx, "Error", "sealrun: a prelude is not a function", exc);
        return SR_EINTERNAL;
    }
    *out = JSObjectCallAsFunction(ctx, sr_js__obj(f), NULL, argc, argv, exc);
    return *exc ? SR_EINTERNAL : SR_OK;
}

/* Every global defined on first use: its name, its group (the step that
 * defines it, enum sr_js__lazy) and whether it lives on 'crypto' rather
 * than on the global object. */
static const struct lazy_name {
    const char *name;
    enum sr_js__lazy group;
    bool on_crypto;
} lazy_names[] = {
    {"DOMException", SR_JS__LAZY_WEB, false},
    {"TextEncoder", SR_JS__LAZY_WEB, false},
    {"TextDecoder", SR_JS__LAZY_WEB, false},
    {"atob", SR_JS__LAZY_WEB, false},
    {"btoa", SR_JS__LAZY_WEB, false},
    {"structuredClone", SR_JS__LAZY_WEB, false},
    {"Crypto", SR_JS__LAZY_WEB, false},
    {"getRandomValues", SR_JS__LAZY_WEB, true},
    {"randomUUID", SR_JS__LAZY_WEB, true},
    {"CryptoKey", SR_JS__LAZY_SUBTLE, false},
    {"SubtleCrypto", SR_JS__LAZY_SUBTLE, false},
    {"keys", SR_JS__LAZY_SUBTLE, false},
    {"subtle", SR_JS__LAZY_SUBTLE, true},
    {"secp256k1", SR_JS__LAZY_K1, true}, /* made in C (js_secp256k1.c) */
    {"fetch", SR_JS__LAZY_FETCH, false},
    {"URL", SR_JS__LAZY_FETCH, false},
    {"URLSearchParams", SR_JS__LAZY_FETCH, false},
    {"Headers", SR_JS__LAZY_FETCH, false},
    {"Request", SR_JS__LAZY_FETCH, false},
    {"Response", SR_JS__LAZY_FETCH, false},
    {"AbortSignal", SR_JS__LAZY_FETCH, false},
    {"AbortController", SR_JS__LAZY_FETCH, false},
};
#define K1_MEMBER "secp256k1"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static sr_status
run_web(struct sr_js__run *run, JSValueRef *exc)
{
    static const char *const names[] = {"utf8Encode", "utf8EncodeInto", "utf8Decode",
                                        "btoa",       "atob",           "randomFill"};
    static const JSObjectCallAsFunctionCallback fns[] = {sr_js__utf8_encode_fn,
                                                         utf8_encode_into,
                                                         sr_js__utf8_decode_fn,
                                                         web_btoa,
                                                         web_atob,
                                                         random_fill};
    JSContextRef ctx = run->ctx;
    JSObjectRef natives = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!sr_js__set(ctx, natives, names[i], sr_js__function(ctx, names[i], fns[i]),
                        kJSPropertyAttributeReadOnly, exc))
            return SR_EINTERNAL;
    JSValueRef args[2] = {natives, JSContextGetGlobalObject(ctx)};
    JSValueRef out = NULL;
    sr_status rc = sr_js__eval_prelude(ctx, sr_js__web_js, WEB_JS_URL, 2, args, &out, exc);
    if (rc == SR_OK) {
        run->web_internals = out;
        JSValueProtect(ctx, out);
    }
    return rc;
}

/* Runs web.js unless it ran. False with *exc set when it threw now. */
static bool
ensure_web(struct sr_js__run *run, JSValueRef *exc)
{
    if (run->lazy_ran & (1u << SR_JS__LAZY_WEB))
        return true;
    run->lazy_ran |= 1u << SR_JS__LAZY_WEB;
    return run_web(run, exc) == SR_OK;
}

static const struct lazy_name *
lazy_find(const char *name)
{
    for (size_t i = 0; i < COUNT(lazy_names); i++)
        if (strcmp(name, lazy_names[i].name) == 0)
            return &lazy_names[i];
    return NULL;
}

static bool make_k1(struct sr_js__run *run, JSValueRef *exc);

/* Runs the step of group g (and those it builds on). False with *exc on a
 * throw, or with nothing set when it ran already (and so failed to
 * replace the accessor that called again). */
static bool
run_group(struct sr_js__run *run, enum sr_js__lazy g, JSValueRef *exc)
{
    unsigned bit = 1u << g;
    if (run->lazy_ran & bit)
        return false;
    if (g == SR_JS__LAZY_SUBTLE && (!ensure_web(run, exc) || !run->web_internals))
        return false;
    run->lazy_ran |= bit;
    switch (g) {
    case SR_JS__LAZY_WEB:
        return run_web(run, exc) == SR_OK;
    case SR_JS__LAZY_SUBTLE:
        return sr_js__run_subtle(run, exc) == SR_OK;
    case SR_JS__LAZY_K1:
        return make_k1(run, exc);
    default:
        return sr_js__run_fetch(run, exc) == SR_OK;
    }
}

/* Runs the step that defines 'name'; *holder is the object that holds
 * 'name' afterwards. False as run_group, or when 'name' is not lazy. */
static bool
materialise(struct sr_js__run *run, const char *name, JSObjectRef *holder, JSValueRef *exc)
{
    JSContextRef ctx = run->ctx;
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    const struct lazy_name *l = lazy_find(name);
    if (!l || !run_group(run, l->group, exc))
        return false;
    *holder = global;
    if (l->on_crypto) {
        JSValueRef c = sr_js__get(ctx, global, "crypto", exc);
        if (!c || !JSValueIsObject(ctx, c))
            return false;
        *holder = sr_js__obj(c);
    }
    return true;
}

/* crypto.secp256k1 on first use: the accessor gives way to a data
 * property (deleted first: setting would call the accessor's setter). */
static bool
make_k1(struct sr_js__run *run, JSValueRef *exc)
{
    JSContextRef ctx = run->ctx;
    JSValueRef c = sr_js__get(ctx, JSContextGetGlobalObject(ctx), "crypto", exc);
    if (!c || !JSValueIsObject(ctx, c))
        return false;
    JSObjectRef o = sr_js__secp256k1_object(ctx, exc);
    JSStringRef key = JSStringCreateWithUTF8CString(K1_MEMBER);
    if (o)
        (void)JSObjectDeleteProperty(ctx, sr_js__obj(c), key, exc);
    JSStringRelease(key);
    return o && !*exc &&
           sr_js__set(ctx, sr_js__obj(c), K1_MEMBER, o, kJSPropertyAttributeDontEnum, exc);
}

/* first_use(name) / first_use(name, value): what each first-use accessor
 * does when read or assigned: runs the step of name's group, then reads
 * (or assigns) the data property the step put in the accessor's place. */
static JSValueRef
first_use(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
          JSValueRef *exc)
{
    (void)fn, (void)self;
    struct sr_js__run *run = sr_js__run_of(ctx);
    char name[32];
    JSObjectRef holder = NULL;
    JSStringRef s =
        argc >= 1 && JSValueIsString(ctx, argv[0]) ? JSValueToStringCopy(ctx, argv[0], exc) : NULL;
    bool named = s && JSStringGetLength(s) < sizeof(name) &&
                 JSStringGetUTF8CString(s, name, sizeof(name)) > 1;
    if (s)
        JSStringRelease(s);
    if (!run || !named || !materialise(run, name, &holder, exc))
        return *exc ? NULL : JSValueMakeUndefined(ctx);
    if (argc < 2)
        return sr_js__get(ctx, holder, name, exc);
    (void)sr_js__set(ctx, holder, name, argv[1], kJSPropertyAttributeNone, exc);
    return *exc ? NULL : JSValueMakeUndefined(ctx);
}

/* Puts the first-use accessors on the global object and on 'crypto': one
 * small script (JavaScriptCore keeps its compiled code for the next
 * context) that makes a get/set pair of closures per name around the one
 * host function first_use; cheaper than a host function object per
 * accessor. The names come from lazy_names, as two comma-separated lists. */
static const char lazy_js[] =
    "(function (G, C, use, globals, members) {\n"
    "'use strict';\n"
    "const define = Object.defineProperty;\n"
    "const lazy = (o, n) => define(o, n, {get() { return use(n); }, set(v) { use(n, v); },\n"
    "                                     configurable: true});\n"
    "for (const n of globals.split(',')) lazy(G, n);\n"
    "for (const n of members.split(',')) lazy(C, n);\n"
    "})";

/* lazy_names' names as "a,b,c" lists: on the global object and on crypto. */
static void
name_lists(char *globals, size_t gcap, char *members, size_t mcap)
{
    size_t g = 0, m = 0;
    globals[0] = members[0] = '\0';
    for (size_t i = 0; i < COUNT(lazy_names); i++) {
        bool c = lazy_names[i].on_crypto;
        char *dst = c ? members : globals;
        size_t *n = c ? &m : &g;
        int w =
            snprintf(dst + *n, (c ? mcap : gcap) - *n, "%s%s", *n ? "," : "", lazy_names[i].name);
        if (w > 0)
            *n += (size_t)w;
    }
}

sr_status
sr_js__install_web(struct sr_js__run *run, JSObjectRef global, sr_err *err)
{
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSValueRef crypto = sr_js__get(ctx, global, "crypto", &exc);
    if (!crypto || !JSValueIsObject(ctx, crypto))
        return sr_err_set(err, SR_EINTERNAL, "the global 'crypto' is missing");
    char globals[512], members[128];
    name_lists(globals, sizeof(globals), members, sizeof(members));
    JSValueRef args[5] = {global, crypto, sr_js__function(ctx, "firstUse", first_use),
                          sr_js__cstring(ctx, globals), sr_js__cstring(ctx, members)};
    JSValueRef out = NULL;
    if (sr_js__eval_prelude(ctx, lazy_js, "sealrun:lazy.js", 5, args, &out, &exc) != SR_OK)
        return sr_err_set(err, SR_EINTERNAL, "cannot define the web platform globals");
    return sr_js__install_vrf(ctx, sr_js__obj(crypto), err);
}
