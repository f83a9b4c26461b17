/* SPDX-License-Identifier: MIT
 *
 * js_bind.c - the host API a job's script sees: the globals 'input' and
 * 'secrets', console.log/info/warn/error (captured, capped), crypto.sha256,
 * crypto.randomBytes and getSecret (storage.* is in js_storage.c). Every host function checks its
 * arguments and throws TypeError/RangeError into the guest on misuse.
 */
#include "js_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* Marks on cut log entries and on the last entry when entries were dropped. */
#define LOG_CUT_MARK " [truncated: log entry longer than 4096 bytes]"
#define LOG_DROP_FMT " [log limit: %zu more entries dropped]"
/* getSecret(name): longer names cannot exist (store keys are short). */
#define SECRET_NAME_MAX 256

/* The job running on this thread. Not private data of the global object:
 * a global object with a JSClass makes every global lookup (Math, JSON, ...)
 * uncacheable, and a numeric loop calling Math.sqrt runs 20 times slower. */
static _Thread_local struct sr_js__run *tl_run;

struct sr_js__run *
sr_js__run_of(JSContextRef ctx)
{
    struct sr_js__run *run = tl_run;
    return run && run->ctx == JSContextGetGlobalContext(ctx) ? run : NULL;
}

struct sr_js__run *
sr_js__run_enter(struct sr_js__run *run)
{
    struct sr_js__run *prev = tl_run;
    tl_run = run;
    return prev;
}

/* typeof-like name of v for messages ("string", "Int8Array", "object"). */
const char *
sr_js__type_name(JSContextRef ctx, JSValueRef v)
{
    static const char *const typed[] = {
        "Int8Array",   "Int16Array",    "Int32Array",     "Uint8Array",   "Uint8ClampedArray",
        "Uint16Array", "Uint32Array",   "Float32Array",   "Float64Array", "ArrayBuffer",
        "object",      "BigInt64Array", "BigUint64Array",
    };
    switch (JSValueGetType(ctx, v)) {
    case kJSTypeUndefined:
        return "undefined";
    case kJSTypeNull:
        return "null";
    case kJSTypeBoolean:
        return "boolean";
    case kJSTypeNumber:
        return "number";
    case kJSTypeString:
        return "string";
    case kJSTypeSymbol:
        return "symbol";
    case kJSTypeBigInt:
        return "bigint";
    case kJSTypeObject:
    default:
        break;
    }
    if (JSObjectIsFunction(ctx, sr_js__obj(v)))
        return "function";
    JSValueRef exc = NULL;
    JSTypedArrayType t = JSValueGetTypedArrayType(ctx, v, &exc);
    if (!exc && (size_t)t < sizeof(typed) / sizeof(typed[0]))
        return typed[t];
    return "object";
}

/* ---- console ---- */

static JSValueRef
console_emit(JSContextRef ctx, size_t argc, const JSValueRef argv[], const char *prefix,
             JSValueRef *exc)
{
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run)
        return sr_js__throw(ctx, "TypeError", "console is not available after the job ended", exc);
    if (json_array_size(run->logs) >= SR_MAX_LOG_ENTRIES) {
        run->logs_dropped++;
        return JSValueMakeUndefined(ctx);
    }
    sr_buf b;
    sr_buf_init(&b, SR_MAX_LOG_ENTRY);
    /* the whole entry at once: a growing buffer would leave copies behind */
    bool fit = sr_buf_reserve(&b, SR_MAX_LOG_ENTRY, NULL) == SR_OK &&
               sr_buf_append_str(&b, prefix, NULL) == SR_OK;
    for (size_t i = 0; fit && i < argc; i++) {
        if (i > 0)
            fit = sr_buf_append(&b, " ", 1, NULL) == SR_OK;
        fit = fit && sr_js__format(ctx, argv[i], &b, SR_MAX_LOG_ENTRY, exc);
        if (*exc) {
            sr_buf_fini_secure(&b);
            return NULL; /* a guest exception (or termination) goes on */
        }
    }
    if (!fit) {
        sr_js__utf8_cut(&b, SR_MAX_LOG_ENTRY - (sizeof(LOG_CUT_MARK) - 1));
        (void)sr_buf_append_str(&b, LOG_CUT_MARK, NULL);
    }
    json_t *entry = json_stringn(b.data ? b.data : "", b.len);
    sr_buf_fini_secure(&b);
    if (!entry || json_array_append_new(run->logs, entry) != 0)
        run->logs_dropped++;
    return JSValueMakeUndefined(ctx);
}

static JSValueRef
console_log(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return console_emit(ctx, argc, argv, "", exc);
}

static JSValueRef
console_info(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return console_emit(ctx, argc, argv, "[info] ", exc);
}

static JSValueRef
console_warn(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return console_emit(ctx, argc, argv, "[warn] ", exc);
}

static JSValueRef
console_error(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    return console_emit(ctx, argc, argv, "[error] ", exc);
}

void
sr_js__logs_finish(struct sr_js__run *run)
{
    size_t n = json_array_size(run->logs);
    if (run->logs_dropped == 0 || n == 0)
        return;
    char mark[80];
    int mark_len = snprintf(mark, sizeof(mark), LOG_DROP_FMT, run->logs_dropped);
    json_t *last = json_array_get(run->logs, n - 1);
    sr_buf b;
    sr_buf_init(&b, SR_MAX_LOG_ENTRY);
    if (sr_buf_reserve(&b, SR_MAX_LOG_ENTRY, NULL) != SR_OK ||
        sr_buf_append(&b, json_string_value(last), json_string_length(last), NULL) != SR_OK) {
        sr_buf_fini_secure(&b);
        return;
    }
    sr_js__utf8_cut(&b, SR_MAX_LOG_ENTRY - (size_t)mark_len);
    (void)sr_buf_append(&b, mark, (size_t)mark_len, NULL);
    json_t *entry = json_stringn(b.data, b.len);
    if (entry) {
        sodium_memzero((char *)(uintptr_t)json_string_value(last), json_string_length(last));
        (void)json_array_set_new(run->logs, n - 1, entry);
    }
    sr_buf_fini_secure(&b);
}

/* ---- crypto ---- */

static JSValueRef
hex_value(JSContextRef ctx, const uint8_t *p, size_t len)
{
    char hex[2 * SR_MAX_RANDOM_BYTES + 1];
    if (len > SR_MAX_RANDOM_BYTES)
        len = SR_MAX_RANDOM_BYTES;
    sr_hex_encode(p, len, hex);
    return sr_js__cstring(ctx, hex);
}

static void
hash_chunk(void *arg, const char *p, size_t len)
{
    crypto_hash_sha256_update(arg, (const uint8_t *)p, len);
}

/* Points p and len at the bytes of a Uint8Array or ArrayBuffer; false if v is
 * neither (or its buffer is detached). */
bool
sr_js__binary_bytes(JSContextRef ctx, JSValueRef v, const uint8_t **p, size_t *len)
{
    JSValueRef exc = NULL;
    JSObjectRef o = sr_js__obj(v);
    JSTypedArrayType t = JSValueGetTypedArrayType(ctx, v, &exc);
    if (exc)
        return false;
    if (t == kJSTypedArrayTypeUint8Array) {
        /* the bytes pointer is the buffer's start: add the view's offset */
        const uint8_t *base = JSObjectGetTypedArrayBytesPtr(ctx, o, &exc);
        size_t off = JSObjectGetTypedArrayByteOffset(ctx, o, &exc);
        *len = JSObjectGetTypedArrayByteLength(ctx, o, &exc);
        *p = base ? base + off : NULL;
    } else if (t == kJSTypedArrayTypeArrayBuffer) {
        *p = JSObjectGetArrayBufferBytesPtr(ctx, o, &exc);
        *len = JSObjectGetArrayBufferByteLength(ctx, o, &exc);
    } else {
        return false;
    }
    return !exc && (*p != NULL || *len == 0);
}

static JSValueRef
crypto_sha256(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    char msg[160];
    crypto_hash_sha256_state st;
    uint8_t digest[crypto_hash_sha256_BYTES];
    const uint8_t *p = NULL;
    size_t len = 0;

    crypto_hash_sha256_init(&st);
    if (argc >= 1 && JSValueIsString(ctx, argv[0])) {
        JSStringRef s = JSValueToStringCopy(ctx, argv[0], exc);
        if (!s)
            return NULL;
        sr_js__string_chunks(s, hash_chunk, &st);
        JSStringRelease(s);
    } else if (argc >= 1 && JSValueIsObject(ctx, argv[0]) &&
               sr_js__binary_bytes(ctx, argv[0], &p, &len)) {
        crypto_hash_sha256_update(&st, p ? p : (const uint8_t *)"", len);
    } else {
        (void)snprintf(msg, sizeof(msg),
                       "crypto.sha256(data): 'data' must be a string, Uint8Array or ArrayBuffer, "
                       "got %s",
                       argc ? sr_js__type_name(ctx, argv[0]) : "nothing");
        return sr_js__throw(ctx, "TypeError", msg, exc);
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_memzero(&st, sizeof(st)); /* it hashed guest text, perhaps a secret */
    return hex_value(ctx, digest, sizeof(digest));
}

static JSValueRef
crypto_random_bytes(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                    const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    char msg[160];
    uint8_t bytes[SR_MAX_RANDOM_BYTES];

    if (argc < 1 || !JSValueIsNumber(ctx, argv[0])) {
        (void)snprintf(msg, sizeof(msg), "crypto.randomBytes(n): 'n' must be a number, got %s",
                       argc ? sr_js__type_name(ctx, argv[0]) : "nothing");
        return sr_js__throw(ctx, "TypeError", msg, exc);
    }
    double n = JSValueToNumber(ctx, argv[0], exc);
    if (*exc)
        return NULL;
    if (!(n >= 0 && n <= SR_MAX_RANDOM_BYTES) || n != floor(n)) {
        (void)snprintf(msg, sizeof(msg),
                       "crypto.randomBytes(n): 'n' must be an integer from 0 to %d, got %g",
                       SR_MAX_RANDOM_BYTES, n);
        return sr_js__throw(ctx, "RangeError", msg, exc);
    }
    randombytes_buf(bytes, (size_t)n);
    JSValueRef v = hex_value(ctx, bytes, (size_t)n);
    sodium_memzero(bytes, sizeof(bytes));
    return v;
}

/* ---- getSecret ---- */

/* getSecret(name): the value of the job's secret 'name' (the same frozen
 * data as secrets[name]) or undefined. It reads a null-prototype table made
 * from the secrets object before the guest ran, so nothing the guest does to
 * Object.prototype or to 'secrets' changes what it returns, and no copy of
 * a secret value is made in C. */
static JSValueRef
get_secret(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
           JSValueRef *exc)
{
    (void)fn, (void)self;
    char msg[120];
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run)
        return sr_js__throw(ctx, "TypeError", "getSecret is not available after the job ended",
                            exc);
    if (argc < 1 || !JSValueIsString(ctx, argv[0])) {
        (void)snprintf(msg, sizeof(msg), "getSecret(name): 'name' must be a string, got %s",
                       argc ? sr_js__type_name(ctx, argv[0]) : "nothing");
        return sr_js__throw(ctx, "TypeError", msg, exc);
    }
    JSStringRef name = JSValueToStringCopy(ctx, argv[0], exc);
    if (!name)
        return NULL;
    JSValueRef v = NULL;
    if (JSStringGetLength(name) <= SECRET_NAME_MAX)
        v = JSObjectGetProperty(ctx, run->secret_table, name, exc);
    JSStringRelease(name);
    if (*exc)
        return NULL;
    return v ? v : JSValueMakeUndefined(ctx);
}

/* ---- installation ---- */

/* Freezes v and everything reachable through its own enumerable properties.
 * NOLINT(misc-no-recursion): depth <= SR_MAX_JSON_DEPTH (JSON from sealrun). */
static sr_status
deep_freeze(JSContextRef ctx, JSObjectRef freeze, JSValueRef v, int depth, sr_err *err)
{
    if (!JSValueIsObject(ctx, v))
        return SR_OK;
    if (depth > SR_MAX_JSON_DEPTH)
        return sr_err_set(err, SR_EINVAL, "secrets nest deeper than %d levels", SR_MAX_JSON_DEPTH);
    JSObjectRef o = sr_js__obj(v);
    JSValueRef exc = NULL;
    JSPropertyNameArrayRef names = JSObjectCopyPropertyNames(ctx, o);
    size_t n = JSPropertyNameArrayGetCount(names);
    sr_status rc = SR_OK;
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        JSValueRef child =
            JSObjectGetProperty(ctx, o, JSPropertyNameArrayGetNameAtIndex(names, i), &exc);
        rc = exc ? sr_err_set(err, SR_EINTERNAL, "reading the secrets object threw")
                 : deep_freeze(ctx, freeze, child, depth + 1, err); // NOLINT(misc-no-recursion)
    }
    JSPropertyNameArrayRelease(names);
    if (rc == SR_OK)
        (void)JSObjectCallAsFunction(ctx, freeze, NULL, 1, &v, &exc);
    if (rc == SR_OK && exc)
        rc = sr_err_set(err, SR_EINTERNAL, "Object.freeze threw on the secrets object");
    return rc;
}

/* Parses JSON text (size-checked by the caller) into a JS value. */
static sr_status
parse_json(JSContextRef ctx, const char *text, const char *what, JSValueRef *out, sr_err *err)
{
    JSStringRef s = NULL;
    sr_status rc = sr_js__string_new(text, strlen(text), &s, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "job %s", what);
    *out = JSValueMakeFromJSONString(ctx, s);
    JSStringRelease(s);
    if (!*out)
        return sr_err_set(err, SR_EINVAL, "job %s is not valid JSON", what);
    return SR_OK;
}

/* The null-prototype table getSecret reads: the secrets object's own
 * enumerable members (JSON.parse made all of them data properties). */
static sr_status
make_secret_table(struct sr_js__run *run, JSObjectRef secrets, sr_err *err)
{
    JSContextRef ctx = run->ctx;
    JSObjectRef table = JSObjectMake(ctx, NULL, NULL);
    JSObjectSetPrototype(ctx, table, JSValueMakeNull(ctx));
    run->secret_table = table;
    JSValueProtect(ctx, table);
    JSPropertyNameArrayRef names = JSObjectCopyPropertyNames(ctx, secrets);
    size_t n = JSPropertyNameArrayGetCount(names);
    JSValueRef exc = NULL;
    for (size_t i = 0; !exc && i < n; i++) {
        JSStringRef name = JSPropertyNameArrayGetNameAtIndex(names, i);
        JSValueRef v = JSObjectGetProperty(ctx, secrets, name, &exc);
        if (!exc)
            JSObjectSetProperty(ctx, table, name, v, kJSPropertyAttributeReadOnly, &exc);
    }
    JSPropertyNameArrayRelease(names);
    return exc ? sr_err_set(err, SR_EINTERNAL, "copying the secrets for getSecret threw") : SR_OK;
}

/* Members of the JSON object text 'text' at its top level (a linear scan:
 * strings skipped with their escapes, commas counted at depth 1). */
static size_t
top_level_members(const char *text)
{
    size_t members = 0;
    int depth = 0;
    bool in_string = false;
    bool any = false;
    for (const char *p = text; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_string = false;
            continue;
        }
        if (*p == '"') {
            in_string = true;
            any = any || depth == 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == ',' && depth == 1) {
            members++;
        }
    }
    return any ? members + 1 : 0;
}

/* Everything sealrun parses refuses a duplicate key (issue 9 item 10); the
 * secrets are parsed by JavaScriptCore alone (no C copy of the values), which
 * keeps the last of two: a parsed object with fewer names than the text has
 * members had one twice. */
static sr_status
refuse_duplicates(JSContextRef ctx, const char *text, JSObjectRef secrets, sr_err *err)
{
    JSPropertyNameArrayRef names = JSObjectCopyPropertyNames(ctx, secrets);
    size_t n = JSPropertyNameArrayGetCount(names);
    JSPropertyNameArrayRelease(names);
    if (n != top_level_members(text))
        return sr_err_set(err, SR_EINVAL, "job secrets name a secret twice");
    return SR_OK;
}

/* 'secrets': the job's secrets JSON (built by sealrun, never client text)
 * parsed by JavaScriptCore alone, deep-frozen. No C copy of the values is
 * kept: getSecret reads the same JS values (make_secret_table). */
static sr_status
install_secrets(struct sr_js__run *run, JSObjectRef global, sr_err *err)
{
    JSContextRef ctx = run->ctx;
    const char *text = run->job->secrets_json ? run->job->secrets_json : "{}";
    JSValueRef secrets = NULL;
    sr_status rc = parse_json(ctx, text, "secrets", &secrets, err);
    if (rc == SR_OK && (!JSValueIsObject(ctx, secrets) || JSValueIsArray(ctx, secrets)))
        rc = sr_err_set(err, SR_EINVAL, "job secrets must be a JSON object, got %s",
                        JSValueIsArray(ctx, secrets) ? "an array" : sr_js__type_name(ctx, secrets));
    if (rc == SR_OK)
        rc = refuse_duplicates(ctx, text, sr_js__obj(secrets), err);
    if (rc != SR_OK)
        return rc;
    JSValueRef exc = NULL;
    JSValueRef object = sr_js__get(ctx, global, "Object", &exc);
    JSValueRef freeze = object && JSValueIsObject(ctx, object)
                            ? sr_js__get(ctx, sr_js__obj(object), "freeze", &exc)
                            : NULL;
    if (!freeze || !JSValueIsObject(ctx, freeze))
        return sr_err_set(err, SR_EINTERNAL, "Object.freeze is missing in a fresh context");
    rc = deep_freeze(ctx, sr_js__obj(freeze), secrets, 0, err);
    if (rc != SR_OK)
        return rc;
    run->secrets_js = secrets;
    JSValueProtect(ctx, secrets);
    rc = make_secret_table(run, sr_js__obj(secrets), err);
    if (rc != SR_OK)
        return rc;
    if (!sr_js__set(ctx, global, "secrets", secrets, kJSPropertyAttributeReadOnly, &exc))
        return sr_err_set(err, SR_EINTERNAL, "cannot set the global 'secrets'");
    return SR_OK;
}

/* Makes an object with the given methods and sets it as global[name]. */
static bool
install_object(JSContextRef ctx, JSObjectRef global, const char *name, const char *const *names,
               const JSObjectCallAsFunctionCallback *fns, size_t n)
{
    JSValueRef exc = NULL;
    JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        if (!sr_js__set(ctx, o, names[i], sr_js__function(ctx, names[i], fns[i]),
                        kJSPropertyAttributeDontEnum, &exc))
            return false;
    }
    return sr_js__set(ctx, global, name, o, kJSPropertyAttributeDontEnum, &exc);
}

/* Globals a fresh context has that a job must not: Atomics (Atomics.wait
 * sleeps outside the CPU budget) and, should the JSC options that keep them
 * out (js.c) ever stop working, WebAssembly and SharedArrayBuffer. Atomics
 * becomes undefined in every context: nothing else refers to that object, so
 * no path leads to it any more. Not deleted: a delete on the global object
 * costs as much as the whole context (~0.7 M instructions), overwriting a
 * tenth of that. The other two depend on process-wide options only, so the
 * first context of a VM proves they are absent from all. */
static sr_status
remove_globals(struct sr_js__run *run, JSObjectRef global, sr_err *err)
{
    static const char *const absent[] = {"WebAssembly", "SharedArrayBuffer"};
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSStringRef key = JSStringCreateWithUTF8CString("Atomics");
    JSObjectSetProperty(ctx, global, key, JSValueMakeUndefined(ctx), kJSPropertyAttributeDontEnum,
                        &exc);
    JSValueRef v = exc ? NULL : JSObjectGetProperty(ctx, global, key, &exc);
    JSStringRelease(key);
    if (exc || !v || !JSValueIsUndefined(ctx, v))
        return sr_err_set(err, SR_EINTERNAL, "cannot remove the global 'Atomics' from a context");
    for (size_t i = 0; !run->vm->checked_globals && i < sizeof(absent) / sizeof(absent[0]); i++) {
        key = JSStringCreateWithUTF8CString(absent[i]);
        bool has = JSObjectHasProperty(ctx, global, key);
        JSStringRelease(key);
        if (has)
            return sr_err_set(err, SR_EINTERNAL,
                              "JavaScriptCore still exposes '%s' although it was turned off",
                              absent[i]);
    }
    run->vm->checked_globals = true;
    return SR_OK;
}

sr_status
sr_js__install(struct sr_js__run *run, sr_err *err)
{
    static const char *const console_names[] = {"log", "info", "warn", "error"};
    static const JSObjectCallAsFunctionCallback console_fns[] = {console_log, console_info,
                                                                 console_warn, console_error};
    static const char *const crypto_names[] = {"sha256", "randomBytes"};
    static const JSObjectCallAsFunctionCallback crypto_fns[] = {crypto_sha256, crypto_random_bytes};
    JSContextRef ctx = run->ctx;
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    JSValueRef exc = NULL;

    sr_status removed = remove_globals(run, global, err);
    if (removed != SR_OK)
        return removed;
    JSValueRef json = sr_js__get(ctx, global, "JSON", &exc);
    JSValueRef stringify = json && JSValueIsObject(ctx, json)
                               ? sr_js__get(ctx, sr_js__obj(json), "stringify", &exc)
                               : NULL;
    if (!stringify || !JSValueIsObject(ctx, stringify))
        return sr_err_set(err, SR_EINTERNAL, "JSON.stringify is missing in a fresh context");
    run->json_stringify = sr_js__obj(stringify);
    JSValueProtect(ctx, stringify);
    JSValueRef function = sr_js__get(ctx, global, "Function", &exc);
    JSValueRef proto = function && JSValueIsObject(ctx, function)
                           ? sr_js__get(ctx, sr_js__obj(function), "prototype", &exc)
                           : NULL;
    JSValueRef to_string = proto && JSValueIsObject(ctx, proto)
                               ? sr_js__get(ctx, sr_js__obj(proto), "toString", &exc)
                               : NULL;
    if (!to_string || !JSValueIsObject(ctx, to_string))
        return sr_err_set(err, SR_EINTERNAL,
                          "Function.prototype.toString is missing in a fresh context");
    run->fn_to_string = sr_js__obj(to_string);
    JSValueProtect(ctx, to_string);
    JSValueRef input = JSValueMakeNull(ctx);
    if (run->job->input_json) {
        sr_status rc = parse_json(ctx, run->job->input_json, "input", &input, err);
        if (rc != SR_OK)
            return rc;
    }
    run->input = input;
    JSValueProtect(ctx, input);
    if (!sr_js__set(ctx, global, "input", input, kJSPropertyAttributeNone, &exc))
        return sr_err_set(err, SR_EINTERNAL, "cannot set the global 'input'");
    sr_status rc = install_secrets(run, global, err);
    if (rc != SR_OK)
        return rc;
    if (!install_object(ctx, global, "console", console_names, console_fns, 4) ||
        !install_object(ctx, global, "crypto", crypto_names, crypto_fns, 2) ||
        !sr_js__set(ctx, global, "getSecret", sr_js__function(ctx, "getSecret", get_secret),
                    kJSPropertyAttributeDontEnum, &exc))
        return sr_err_set(err, SR_EINTERNAL, "cannot install the host API in a fresh context");
    rc = sr_js__install_web(run, global, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_js__install_storage(run, global, err);
    if (rc == SR_OK)
        rc = sr_js__install_record(run, err);
    return rc == SR_OK ? sr_js__install_fetch(run, global, err) : rc;
}
