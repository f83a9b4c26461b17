/* SPDX-License-Identifier: MIT
 *
 * js_conv.c - conversions between C and JavaScriptCore values: strict UTF-8
 * in, capped UTF-8 out, property helpers, console formatting and the text of
 * guest exceptions.
 */
#include "js_int.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* ---- UTF-8 -> UTF-16 ---- */

/* Decodes one strict UTF-8 sequence at p[0..len) (no overlongs, no
 * surrogates, <= U+10FFFF). Returns its length in bytes, 0 if invalid. */
static size_t
utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v;
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

sr_status
sr_js__string_new(const char *p, size_t len, JSStringRef *out, sr_err *err)
{
    size_t bytes;
    /* one UTF-16 unit per input byte at most (4 bytes -> 2 units) */
    if (!sr_mul_size(len ? len : 1, sizeof(JSChar), &bytes))
        return sr_err_set(err, SR_ENOMEM, "text of %zu bytes is too large to convert", len);
    JSChar *u = malloc(bytes);
    if (!u)
        return sr_err_set(err, SR_ENOMEM, "out of memory converting %zu bytes of text", len);
    const unsigned char *s = (const unsigned char *)p;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t used = utf8_decode(s + i, len - i, &cp);
        if (used == 0) {
            sodium_memzero(u, bytes);
            free(u);
            return sr_err_set(err, SR_EINVAL, "text is not valid UTF-8 at byte %zu", i);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            u[n++] = (JSChar)(0xd800 + (cp >> 10));
            u[n++] = (JSChar)(0xdc00 + (cp & 0x3ff));
        } else {
            u[n++] = (JSChar)cp;
        }
        i += used;
    }
    *out = JSStringCreateWithCharacters(u, n);
    sodium_memzero(u, bytes); /* the text may be the job's secrets */
    free(u);
    return SR_OK;
}

/* ---- UTF-16 -> UTF-8 ---- */

/* Next code point of u[*i..n); lone surrogates give U+FFFD. */
static uint32_t
utf16_next(const JSChar *u, size_t n, size_t *i)
{
    uint32_t c = u[(*i)++];
    if (c >= 0xd800 && c <= 0xdbff && *i < n && u[*i] >= 0xdc00 && u[*i] <= 0xdfff)
        return 0x10000 + ((c - 0xd800) << 10) + (u[(*i)++] - 0xdc00u);
    if (c >= 0xd800 && c <= 0xdfff)
        return 0xfffd;
    return c;
}

static size_t
utf8_encode(uint32_t cp, unsigned char out[4])
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

uint32_t
sr_js__utf16_next(const JSChar *u, size_t n, size_t *i)
{
    return utf16_next(u, n, i);
}

size_t
sr_js__utf8_encode(uint32_t cp, unsigned char out[4])
{
    return utf8_encode(cp, out);
}

size_t
sr_js__string_utf8_len(JSStringRef s)
{
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    size_t total = 0;
    unsigned char tmp[4];
    for (size_t i = 0; i < n;)
        total += utf8_encode(utf16_next(u, n, &i), tmp);
    return total;
}

void
sr_js__string_chunks(JSStringRef s, void (*fn)(void *arg, const char *p, size_t len), void *arg)
{
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    unsigned char chunk[4096];
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        if (used > sizeof(chunk) - 4) {
            fn(arg, (const char *)chunk, used);
            used = 0;
        }
        used += utf8_encode(utf16_next(u, n, &i), chunk + used);
    }
    if (used)
        fn(arg, (const char *)chunk, used);
    sodium_memzero(chunk, sizeof(chunk));
}

bool
sr_js__string_append(sr_buf *b, JSStringRef s, size_t max)
{
    const JSChar *u = JSStringGetCharactersPtr(s);
    size_t n = JSStringGetLength(s);
    size_t room = b->len < max ? max - b->len : 0;
    size_t want = n <= room / 3 ? n * 3 : room; /* 3 bytes per unit at most */
    if (b->max - b->len < want)
        want = b->max - b->len;
    if (sr_buf_reserve(b, want, NULL) != SR_OK)
        return false;
    size_t limit = b->len + want;
    unsigned char tmp[4];
    for (size_t i = 0; i < n;) {
        size_t k = utf8_encode(utf16_next(u, n, &i), tmp);
        if (b->len + k > limit) {
            b->data[b->len] = '\0';
            return false;
        }
        memcpy(b->data + b->len, tmp, k);
        b->len += k;
    }
    b->data[b->len] = '\0';
    return true;
}

void
sr_js__utf8_cut(sr_buf *b, size_t max)
{
    if (b->len <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)b->data[cut] & 0xc0) == 0x80)
        cut--;
    b->len = cut;
    b->data[cut] = '\0';
}

void
sr_js__free_secure(char *p)
{
    if (!p)
        return;
    sodium_memzero(p, strlen(p));
    free(p);
}

void
sr_js__wipe_strings(json_t *array)
{
    for (size_t i = 0; i < json_array_size(array); i++) {
        json_t *e = json_array_get(array, i);
        /* jansson's own heap copy, about to be freed with the array */
        char *p = (char *)(uintptr_t)json_string_value(e);
        if (p)
            sodium_memzero(p, json_string_length(e));
    }
}

/* ---- property helpers ---- */

JSValueRef
sr_js__get(JSContextRef ctx, JSObjectRef obj, const char *name, JSValueRef *exc)
{
    JSStringRef key = JSStringCreateWithUTF8CString(name);
    JSValueRef v = JSObjectGetProperty(ctx, obj, key, exc);
    JSStringRelease(key);
    return *exc ? NULL : v;
}

bool
sr_js__set(JSContextRef ctx, JSObjectRef obj, const char *name, JSValueRef v, unsigned attrs,
           JSValueRef *exc)
{
    JSStringRef key = JSStringCreateWithUTF8CString(name);
    JSObjectSetProperty(ctx, obj, key, v, attrs, exc);
    JSStringRelease(key);
    return *exc == NULL;
}

JSObjectRef
sr_js__function(JSContextRef ctx, const char *name, JSObjectCallAsFunctionCallback fn)
{
    JSStringRef key = JSStringCreateWithUTF8CString(name);
    JSObjectRef f = JSObjectMakeFunctionWithCallback(ctx, key, fn);
    JSStringRelease(key);
    return f;
}

JSValueRef
sr_js__cstring(JSContextRef ctx, const char *s)
{
    JSStringRef str = JSStringCreateWithUTF8CString(s);
    JSValueRef v = JSValueMakeString(ctx, str);
    JSStringRelease(str);
    return v;
}

JSStringRef
sr_js__json(JSContextRef ctx, JSValueRef v, JSValueRef *exc)
{
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run || !run->json_stringify)
        return JSValueCreateJSONString(ctx, v, 0, exc);
    JSValueRef text = JSObjectCallAsFunction(ctx, run->json_stringify, NULL, 1, &v, exc);
    if (!text || *exc || !JSValueIsString(ctx, text))
        return NULL;
    return JSValueToStringCopy(ctx, text, exc);
}

JSValueRef
sr_js__throw(JSContextRef ctx, const char *type, const char *msg, JSValueRef *exc)
{
    JSValueRef args[1] = {sr_js__cstring(ctx, msg)};
    JSValueRef inner = NULL;
    JSValueRef ctor = sr_js__get(ctx, JSContextGetGlobalObject(ctx), type, &inner);
    JSObjectRef err = NULL;
    if (!inner && ctor && JSValueIsObject(ctx, ctor) &&
        JSObjectIsConstructor(ctx, sr_js__obj(ctor)))
        err = JSObjectCallAsConstructor(ctx, sr_js__obj(ctor), 1, args, &inner);
    if (inner)
        *exc = inner; /* a guest-replaced constructor threw: pass that on */
    else if (err)
        *exc = err;
    else
        *exc = JSObjectMakeError(ctx, 1, args, NULL);
    return JSValueMakeUndefined(ctx);
}

/* ---- console formatting ---- */

/* Appends String(v); false if cut or if it threw (*exc). */
static bool
append_tostring(JSContextRef ctx, JSValueRef v, sr_buf *b, size_t max, JSValueRef *exc)
{
    JSStringRef s = JSValueToStringCopy(ctx, v, exc);
    if (!s)
        return false;
    bool fit = sr_js__string_append(b, s, max);
    JSStringRelease(s);
    return fit;
}

static bool
append_text(sr_buf *b, const char *text, size_t max)
{
    size_t n = strlen(text);
    if (b->len + n > max) {
        n = max > b->len ? max - b->len : 0;
        (void)sr_buf_append(b, text, n, NULL);
        sr_js__utf8_cut(b, b->len);
        return false;
    }
    return sr_buf_append(b, text, n, NULL) == SR_OK;
}

static bool
format_symbol(JSContextRef ctx, JSValueRef v, sr_buf *b, size_t max, JSValueRef *exc)
{
    JSObjectRef wrapper = JSValueToObject(ctx, v, exc);
    if (!wrapper)
        return false;
    JSValueRef desc = sr_js__get(ctx, wrapper, "description", exc);
    if (!desc)
        return false;
    if (!append_text(b, "Symbol(", max))
        return false;
    if (JSValueIsString(ctx, desc) && !append_tostring(ctx, desc, b, max, exc))
        return false;
    return append_text(b, ")", max);
}

static bool
format_function(JSContextRef ctx, JSObjectRef f, sr_buf *b, size_t max, JSValueRef *exc)
{
    JSValueRef name = sr_js__get(ctx, f, "name", exc);
    if (!name)
        return false;
    JSStringRef s = JSValueIsString(ctx, name) ? JSValueToStringCopy(ctx, name, NULL) : NULL;
    if (!s || JSStringGetLength(s) == 0) {
        if (s)
            JSStringRelease(s);
        return append_text(b, "[Function (anonymous)]", max);
    }
    bool fit = append_text(b, "[Function: ", max) && sr_js__string_append(b, s, max) &&
               append_text(b, "]", max);
    JSStringRelease(s);
    return fit;
}

static bool
is_error(JSContextRef ctx, JSValueRef v)
{
    JSValueRef exc = NULL;
    JSValueRef ctor = sr_js__get(ctx, JSContextGetGlobalObject(ctx), "Error", &exc);
    if (!ctor || !JSValueIsObject(ctx, ctor) || !JSObjectIsConstructor(ctx, sr_js__obj(ctor)))
        return false;
    return JSValueIsInstanceOfConstructor(ctx, v, sr_js__obj(ctor), &exc) && !exc;
}

static bool
format_error(JSContextRef ctx, JSObjectRef e, sr_buf *b, size_t max, JSValueRef *exc)
{
    if (!append_tostring(ctx, e, b, max, exc))
        return false;
    JSValueRef stack = sr_js__get(ctx, e, "stack", exc);
    if (!stack)
        return false;
    if (!JSValueIsString(ctx, stack))
        return true;
    return append_text(b, "\n", max) && append_tostring(ctx, stack, b, max, exc);
}

/* Objects as JSON; if JSON cannot say it (cycle, BigInt, toJSON gives
 * undefined) as String(v). A guest exception from toJSON, a getter or
 * toString is passed on, and so is the watchdog's termination. */
static bool
format_object(JSContextRef ctx, JSObjectRef o, sr_buf *b, size_t max, JSValueRef *exc)
{
    if (JSObjectIsFunction(ctx, o))
        return format_function(ctx, o, b, max, exc);
    if (is_error(ctx, o))
        return format_error(ctx, o, b, max, exc);
    JSValueRef inner = NULL;
    JSStringRef json = sr_js__json(ctx, o, &inner);
    if (json) {
        bool fit = sr_js__string_append(b, json, max);
        JSStringRelease(json);
        return fit;
    }
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (inner && run && run->stop != SR_JS__STOP_NONE) {
        *exc = inner;
        return false;
    }
    return append_tostring(ctx, o, b, max, exc);
}

bool
sr_js__format(JSContextRef ctx, JSValueRef v, sr_buf *b, size_t max, JSValueRef *exc)
{
    switch (JSValueGetType(ctx, v)) {
    case kJSTypeUndefined:
        return append_text(b, "undefined", max);
    case kJSTypeNull:
        return append_text(b, "null", max);
    case kJSTypeSymbol:
        return format_symbol(ctx, v, b, max, exc);
    case kJSTypeBigInt:
        return append_tostring(ctx, v, b, max, exc) && append_text(b, "n", max);
    case kJSTypeObject:
        return format_object(ctx, sr_js__obj(v), b, max, exc);
    case kJSTypeBoolean:
    case kJSTypeNumber:
    case kJSTypeString:
    default:
        return append_tostring(ctx, v, b, max, exc);
    }
}

/* ---- exceptions ---- */

/* Appends " (job.js:L:C)" from the error's line/column properties if any. */
static void
append_location(JSContextRef ctx, JSObjectRef e, sr_buf *b)
{
    JSValueRef exc = NULL;
    JSValueRef line = sr_js__get(ctx, e, "line", &exc);
    if (!line || !JSValueIsNumber(ctx, line))
        return;
    double l = JSValueToNumber(ctx, line, &exc);
    JSValueRef col = sr_js__get(ctx, e, "column", &exc);
    double c = col && JSValueIsNumber(ctx, col) ? JSValueToNumber(ctx, col, &exc) : 0;
    if (exc || !(l >= 1 && l < 1e9))
        return;
    if (c >= 1 && c < 1e9)
        (void)sr_buf_printf(b, NULL, " (%s:%.0f:%.0f)", SR_JS_SOURCE_URL, l, c);
    else
        (void)sr_buf_printf(b, NULL, " (%s:%.0f)", SR_JS_SOURCE_URL, l);
}

/* "Name: message (job.js:L:C)\nstack" for Error objects; false if the
 * value is not an Error or a getter threw. */
static bool
describe_error(JSContextRef ctx, JSObjectRef e, sr_buf *b)
{
    JSValueRef exc = NULL;
    if (!is_error(ctx, e))
        return false;
    JSValueRef name = sr_js__get(ctx, e, "name", &exc);
    JSValueRef msg = name ? sr_js__get(ctx, e, "message", &exc) : NULL;
    if (!msg || !JSValueIsString(ctx, name) || !JSValueIsString(ctx, msg))
        return false;
    size_t max = SR_MAX_ERROR_MSG;
    (void)(append_tostring(ctx, name, b, max, &exc) && append_text(b, ": ", max) &&
           append_tostring(ctx, msg, b, max, &exc));
    append_location(ctx, e, b);
    JSValueRef stack = sr_js__get(ctx, e, "stack", &exc);
    if (stack && JSValueIsString(ctx, stack) && append_text(b, "\n", max))
        (void)append_tostring(ctx, stack, b, max, &exc);
    return true;
}

char *
sr_js__describe(JSContextRef ctx, JSValueRef thrown, const char *prefix)
{
    sr_buf b;
    sr_buf_init(&b, SR_MAX_ERROR_MSG + 64);
    /* all at once: a growing buffer would leave copies of guest text behind */
    if (sr_buf_reserve(&b, SR_MAX_ERROR_MSG + 63, NULL) != SR_OK)
        return NULL;
    if (prefix)
        (void)sr_buf_append_str(&b, prefix, NULL);
    size_t start = b.len;
    if (!thrown || !JSValueIsObject(ctx, thrown) || !describe_error(ctx, sr_js__obj(thrown), &b)) {
        b.len = start;
        if (b.data)
            b.data[start] = '\0';
        JSValueRef exc = NULL;
        (void)append_text(&b, "uncaught exception: ", SR_MAX_ERROR_MSG);
        if (thrown)
            (void)sr_js__format(ctx, thrown, &b, SR_MAX_ERROR_MSG, &exc);
        if (exc || !thrown)
            (void)append_text(&b, "(a value that cannot be shown)", SR_MAX_ERROR_MSG);
    }
    sr_js__utf8_cut(&b, SR_MAX_ERROR_MSG);
    return sr_buf_steal(&b);
}
