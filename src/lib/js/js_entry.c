/* SPDX-License-Identifier: MIT
 *
 * js_entry.c - which function a job calls: the entry point, resolved so that
 * only a function the script itself declares can be called (docs/js.md,
 * "Entry points"). Issue 9 item 1: any global was callable before, so
 * "entry_point": "getSecret" or "eval" turned a script pinned by a secret's
 * code_hashes policy into a secret reader or an eval of the input.
 *
 * "Declared by the script" means all of:
 *   1. the name is not reachable from the global object before the script
 *      runs (no built-in such as eval, Function or JSON, no host global such
 *      as getSecret, console, crypto, storage, input or secrets, nothing
 *      inherited from Object.prototype such as constructor or toString);
 *   2. after the top level ran, the name is a global property (function and
 *      var declarations, globalThis.x = ...) or a top-level let, const or
 *      class binding of the script;
 *   3. its value is a function whose source text is JavaScript (a declaration,
 *      expression, arrow, method, class): never a built-in, host, bound or
 *      proxy function, which Function.prototype.toString (the intrinsic,
 *      captured before the guest runs) shows as "[native code]".
 *
 * Nothing here evaluates a string built from the request. Lexical bindings
 * are not properties of anything, so they are read by a probe function whose
 * source is built from the script's own identifier-shaped words only (every
 * let/const/class name is written in the script): its text depends on the
 * script alone, never on the entry point, which is only ever compared as
 * data (sr_js__probe_source() is that function, and a test holds it to it).
 */
#include "js_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* How every built-in, host, bound and proxy function prints itself in
 * JavaScriptCore ("function max() {\n    [native code]\n}"). No JavaScript
 * source can end this way: "[native code]" is not an expression, and a
 * comment or template holding it cannot be followed by exactly "\n}". */
#define NATIVE_SUFFIX "() {\n    [native code]\n}"
/* The probe's source may be at most this many times the script, plus a
 * little: a word costs ~30 bytes of probe plus 3 times its length. */
#define PROBE_MAX_RATIO 12u
#define PROBE_SLACK 4096u

/* ---- the words of a script ---- */

static bool
is_word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool
is_word_char(unsigned char c)
{
    return is_word_start(c) || (c >= '0' && c <= '9');
}

/* Words that cannot be an identifier reference in strict code (the probe is
 * strict), or that mean something else inside a function. */
static bool
is_reserved(const char *w, size_t n)
{
    static const char *const words[] = {
        "await",    "break",      "case",      "catch",  "class",     "const",      "continue",
        "debugger", "default",    "delete",    "do",     "else",      "enum",       "export",
        "extends",  "false",      "finally",   "for",    "function",  "if",         "import",
        "in",       "instanceof", "new",       "null",   "return",    "super",      "switch",
        "this",     "throw",      "true",      "try",    "typeof",    "var",        "void",
        "while",    "with",       "yield",     "let",    "static",    "implements", "interface",
        "package",  "private",    "protected", "public", "arguments", "eval",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return true;
    }
    return false;
}

/* A set of (offset, length) spans of the script, open addressing. */
struct word_set {
    uint32_t *off; /* slot: offset + 1, 0 = empty */
    uint8_t *len;  /* <= SR_MAX_ENTRY_POINT */
    size_t cap;    /* power of two */
    size_t count;
};

static uint64_t
hash_word(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

static bool
set_grow(struct word_set *s, const char *text)
{
    size_t cap = s->cap ? s->cap * 2 : 256;
    uint32_t *off = calloc(cap, sizeof(*off));
    uint8_t *len = calloc(cap, sizeof(*len));
    if (!off || !len) {
        free(off);
        free(len);
        return false;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->off[i])
            continue;
        size_t j = hash_word(text + s->off[i] - 1, s->len[i]) & (cap - 1);
        while (off[j])
            j = (j + 1) & (cap - 1);
        off[j] = s->off[i];
        len[j] = s->len[i];
    }
    free(s->off);
    free(s->len);
    s->off = off;
    s->len = len;
    s->cap = cap;
    return true;
}

/* Adds text[at..at+n) unless present; *added says which. False on ENOMEM. */
static bool
set_add(struct word_set *s, const char *text, size_t at, size_t n, bool *added)
{
    *added = false;
    if ((s->count + 1) * 2 > s->cap && !set_grow(s, text))
        return false;
    size_t j = hash_word(text + at, n) & (s->cap - 1);
    for (; s->off[j]; j = (j + 1) & (s->cap - 1)) {
        if (s->len[j] == n && memcmp(text + s->off[j] - 1, text + at, n) == 0)
            return true;
    }
    s->off[j] = (uint32_t)at + 1;
    s->len[j] = (uint8_t)n;
    s->count++;
    *added = true;
    return true;
}

static void
set_free(struct word_set *s)
{
    free(s->off);
    free(s->len);
}

/* The next candidate word at or after *i: an ASCII identifier of at most
 * SR_MAX_ENTRY_POINT bytes that is not part of a longer identifier (Unicode
 * letters or escapes around it), not a property name after '.', not a
 * reserved word. False when there is none. */
static bool
next_word(const char *text, size_t len, size_t *i, size_t *at, size_t *n)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*i < len) {
        size_t start = *i;
        if (!is_word_start(s[start]) ||
            (start > 0 &&
             (is_word_char(s[start - 1]) || s[start - 1] >= 0x80 || s[start - 1] == '\\'))) {
            (*i)++;
            continue;
        }
        size_t end = start;
        while (end < len && is_word_char(s[end]))
            end++;
        *i = end;
        bool glued = end < len && (s[end] >= 0x80 || s[end] == '\\');
        bool member = start > 0 && s[start - 1] == '.';
        size_t k = end - start;
        if (!glued && !member && k <= SR_MAX_ENTRY_POINT && !is_reserved(text + start, k)) {
            *at = start;
            *n = k;
            return true;
        }
    }
    return false;
}

/* True if 'name' can be found in ctx's global scope as a property (own or
 * inherited): such a word is not a lexical binding, and reading it through
 * the probe could run a getter. */
static bool
is_global_property(JSContextRef ctx, const char *w, size_t n)
{
    char buf[SR_MAX_ENTRY_POINT + 1];
    memcpy(buf, w, n);
    buf[n] = '\0';
    JSStringRef key = JSStringCreateWithUTF8CString(buf);
    bool has = JSObjectHasProperty(ctx, JSContextGetGlobalObject(ctx), key);
    JSStringRelease(key);
    return has;
}

sr_status
sr_js__probe_source(JSContextRef ctx, const char *script, size_t len, sr_buf *out, sr_err *err)
{
    struct word_set set = {0};
    sr_status rc = sr_buf_append_str(out, "(function(){\"use strict\";try{", err);
    size_t i = 0;
    size_t at = 0;
    size_t n = 0;
    while (rc == SR_OK && next_word(script, len, &i, &at, &n)) {
        bool added = false;
        if (!set_add(&set, script, at, n, &added)) {
            rc = sr_err_set(err, SR_ENOMEM, "out of memory listing the script's names");
            break;
        }
        if (added && (!ctx || !is_global_property(ctx, script + at, n)))
            rc = sr_buf_printf(out, err, "if(typeof %.*s!==\"undefined\")this.%.*s=%.*s;", (int)n,
                               script + at, (int)n, script + at, (int)n, script + at);
    }
    if (rc == SR_OK)
        rc = sr_buf_append_str(out, "}catch{}return this})", err);
    set_free(&set);
    if (rc == SR_ELIMIT)
        return sr_err_set(err, SR_ELIMIT,
                          "the script has too many distinct names (%zu) to search its let, const "
                          "and class bindings",
                          set.count);
    return rc;
}

/* ---- reading the entry point ---- */

/* The value of the script's top-level lexical binding 'name', NULL if it has
 * none. Runs the probe (its cost counts as the job's CPU). */
static JSValueRef
lexical_value(struct sr_js__run *run, JSStringRef key, struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    const struct sr_js_job *job = run->job;
    sr_buf src;
    sr_buf_init(&src, (size_t)PROBE_MAX_RATIO * job->script_len + PROBE_SLACK);
    sr_err e;
    if (sr_js__probe_source(ctx, job->script, job->script_len, &src, &e) != SR_OK) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND, "entry point lookup: %s", e.msg);
        sr_buf_fini(&src);
        return NULL;
    }
    JSStringRef text = JSStringCreateWithUTF8CString(src.data);
    sr_buf_fini(&src);
    JSValueRef exc = NULL;
    JSValueRef fn = JSEvaluateScript(ctx, text, NULL, NULL, 1, &exc);
    JSStringRelease(text);
    JSObjectRef table = JSObjectMake(ctx, NULL, NULL);
    JSObjectSetPrototype(ctx, table, JSValueMakeNull(ctx)); /* reads see own data only */
    if (!exc && fn && JSValueIsObject(ctx, fn))
        (void)JSObjectCallAsFunction(ctx, sr_js__obj(fn), table, 0, NULL, &exc);
    if (exc) {
        /* only a termination (CPU or memory limit) reaches here: the probe
         * catches everything it can */
        sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR,
                         sr_js__describe(ctx, exc, "looking up the entry point: "));
        return NULL;
    }
    JSValueRef v = JSObjectGetProperty(ctx, table, key, &exc);
    return !exc && v && !JSValueIsUndefined(ctx, v) ? v : NULL;
}

bool
sr_js__is_script_function(struct sr_js__run *run, JSObjectRef fn)
{
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSValueRef text = JSObjectCallAsFunction(ctx, run->fn_to_string, fn, 0, NULL, &exc);
    if (exc || !text || !JSValueIsString(ctx, text))
        return false;
    JSStringRef s = JSValueToStringCopy(ctx, text, &exc);
    if (!s)
        return false;
    static const char suffix[] = NATIVE_SUFFIX;
    size_t n = JSStringGetLength(s);
    size_t k = sizeof(suffix) - 1;
    const JSChar *u = JSStringGetCharactersPtr(s);
    bool native = n >= k;
    for (size_t i = 0; native && i < k; i++)
        native = u[n - k + i] == (JSChar)(unsigned char)suffix[i];
    JSStringRelease(s);
    return !native;
}

bool
sr_js__entry_existed(struct sr_js__run *run, JSStringRef key)
{
    return JSObjectHasProperty(run->ctx, JSContextGetGlobalObject(run->ctx), key);
}

JSObjectRef
sr_js__find_entry(struct sr_js__run *run, const char *name, JSStringRef key,
                  struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    JSValueRef exc = NULL;
    JSValueRef v = NULL;
    if (JSObjectHasProperty(ctx, global, key)) {
        v = JSObjectGetProperty(ctx, global, key, &exc); /* a getter is the script's own code */
        if (exc) {
            sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR,
                             sr_js__describe(ctx, exc, "reading the entry point threw: "));
            return NULL;
        }
    } else {
        size_t at = 0;
        size_t n = 0;
        size_t i = 0;
        size_t len = strlen(name);
        if (next_word(name, len, &i, &at, &n) && at == 0 && n == len)
            v = lexical_value(run, key, res);
        if (res->code != SR_JOB_OK)
            return NULL;
    }
    if (!v || JSValueIsUndefined(ctx, v)) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND,
                    "entry point '%s' is not defined: the script must declare function "
                    "%s(input, secrets) at its top level",
                    name, name);
        return NULL;
    }
    if (!JSValueIsObject(ctx, v) || !JSObjectIsFunction(ctx, sr_js__obj(v))) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND, "entry point '%s' is not a function", name);
        return NULL;
    }
    if (!sr_js__is_script_function(run, sr_js__obj(v))) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND,
                    "entry point '%s' is a built-in, host, bound or proxy function, not one "
                    "written in the script: declare function %s(input, secrets) in the script",
                    name, name);
        return NULL;
    }
    return sr_js__obj(v);
}
