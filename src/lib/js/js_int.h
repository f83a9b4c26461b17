/* SPDX-License-Identifier: MIT
 *
 * js_int.h - private header of the js module (JavaScriptCore runtime).
 *
 * js.c runs a job (context, watchdog, limits, result), js_entry.c resolves
 * the entry point (only a function the script declares), js_bind.c is the
 * host API the guest sees (console, crypto, getSecret) and what is taken out
 * of a fresh global (WebAssembly, Atomics), js_conv.c converts between C and
 * JS values (UTF-8 <-> UTF-16, exceptions, JSON), js_web.c the web platform
 * globals (with web.js, run on first use). Never include this header
 * from outside src/lib/js/ (tests excepted).
 */
#ifndef SR_JS_INT_H
#define SR_JS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <JavaScriptCore/JavaScript.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_js.h"

/*
 * JSContextGroupSetExecutionTimeLimit() is exported by libjavascriptcoregtk-4.1
 * (WebKit's JSContextRefPrivate.h) but declared in no installed header: this
 * is its one declaration in sealrun. The watchdog measures CPU time of the
 * thread running JS from each outermost VM entry; after 'limit' seconds it
 * calls 'callback' at the next safe point (loop back-edge, call, some C++
 * loops such as JSON.stringify's; not inside a single RegExp match).
 * true terminates the script with an exception the guest cannot catch.
 * false lets it go on; JSC 2.50 then does NOT re-arm the timer by itself (its
 * "re-arm" check sees the stale CPU deadline), so the callback must call
 * JSContextGroupSetExecutionTimeLimit() again to be called again.
 *
 * Known holes in what the watchdog sees (the supervisor's wall clock and
 * memory watch end these): a single RegExp match (Yarr stops at its own
 * backtracking limit: ~1 s of CPU with the JIT, ~5 s without), and JSC's
 * own String(value) of every exception that leaves the guest through the C
 * API (its inspector hook; a thrown array of 1e8 holes joins for ~11 s).
 * JSValueCreateJSONString() called from outside the guest does not enter the
 * VM either, so sealrun stringifies through sr_js__json() instead.
 */
typedef bool (*JSShouldTerminateCallback)(JSContextRef ctx, void *context);
void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef group, double limit,
                                         JSShouldTerminateCallback callback, void *context);
void JSContextGroupClearExecutionTimeLimit(JSContextGroupRef group);

/* Source URL the guest's stack traces name ("main@job.js:3:11"). */
#define SR_JS_SOURCE_URL "job.js"
/* Watchdog period: CPU seconds between checks of the budget and of RSS. */
#define SR_JS_WATCHDOG_PERIOD_S 0.010

/* Why the watchdog stopped the guest. */
enum sr_js__stop {
    SR_JS__STOP_NONE = 0,
    SR_JS__STOP_GAS,    /* cpu_limit_us used up */
    SR_JS__STOP_MEMORY, /* RSS above memory_bytes */
};

struct sr_js__backstop;

struct sr_js_vm {
    JSContextGroupRef group;
    struct sr_js__backstop *backstop; /* owned, NULL unless options.cpu_backstop */
    int own_statm_fd;                 /* /proc/self/statm opened by us on first need, or -1 */
    long page_size;                   /* bytes */
    bool is_jit;                      /* JIT state of the process when the VM was made */
    bool checked_globals; /* a context of this VM had no WebAssembly, SharedArrayBuffer */
};

/* One job in progress (sr_js__run_of() finds it from a host function). */
struct sr_js__run {
    sr_js_vm *vm;
    const struct sr_js_job *job;
    JSGlobalContextRef ctx;
    json_t *logs;               /* borrowed from the result: array of strings */
    size_t logs_dropped;        /* console calls after SR_MAX_LOG_ENTRIES */
    JSObjectRef secret_table;   /* protected: null-prototype name -> value, for getSecret */
    JSValueRef input;           /* protected: the job's input value */
    JSValueRef secrets_js;      /* protected: the frozen secrets object */
    JSObjectRef json_stringify; /* protected: the intrinsic JSON.stringify */
    JSObjectRef fn_to_string;   /* protected: the intrinsic Function.prototype.toString */
    int statm_fd;               /* fd to sample RSS from, or -1 (no memory limit) */
    int64_t cpu_start_us;       /* thread CPU clock when the guest started */
    enum sr_js__stop stop;
    uint64_t stop_rss;        /* bytes, RSS seen when SR_JS__STOP_MEMORY */
    bool is_settled;          /* the awaited promise settled */
    bool is_fulfilled;        /* ... and was fulfilled (else rejected) */
    JSValueRef settled_value; /* protected while set */
    /* The preludes (js_web.c), run on a script's first use of one of their
     * globals: web.js's internals once it ran (protected), and whether a
     * prelude has run (true also when it threw: it never runs twice). */
    JSValueRef web_internals;
    bool web_ran;
    bool subtle_ran;
    bool k1_ran;          /* crypto.secp256k1 was made */
    bool fetch_installed; /* js_fetch.js ran in ctx (on first use of one of its names) */
};

/* A JSValueRef known to be an object as a JSObjectRef (the two types differ
 * only in const; this keeps -Wcast-qual quiet in one place). */
static inline JSObjectRef
sr_js__obj(JSValueRef v)
{
    return (JSObjectRef)(uintptr_t)v;
}

/* CPU time of the calling thread, microseconds. */
int64_t sr_js__cpu_us(void);

/* Marks the job failed with 'code' and a message (printf format). A second
 * failure replaces the first (limits override what they caused). */
void sr_js__fail(struct sr_js_result *res, enum sr_job_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, taking an owned message (NULL: out of memory). */
void sr_js__fail_take(struct sr_js_result *res, enum sr_job_code code, char *msg);

/* ---- js_backstop.c: the CPU backstop (sr_js_options.cpu_backstop) ---- */

/* Starts the backstop thread, idle until armed. Returns owned. */
sr_status sr_js__backstop_new(struct sr_js__backstop **out, sr_err *err);
/* Stops and joins the thread. NULL is a no-op. */
void sr_js__backstop_free(struct sr_js__backstop *b);
/* From the thread about to run a job: end the process with SIGXCPU once this
 * thread has used budget_us + SR_JS_BACKSTOP_GRACE_US more CPU. b NULL or
 * budget 0: nothing. */
void sr_js__backstop_arm(struct sr_js__backstop *b, uint64_t budget_us);
/* The job is over: back to idle. NULL is a no-op. */
void sr_js__backstop_disarm(struct sr_js__backstop *b);

/* ---- js_entry.c: the entry point ---- */

/* True if 'key' names something reachable from the global object (own or
 * inherited) before the script runs: such a name is never an entry point. */
bool sr_js__entry_existed(struct sr_js__run *run, JSStringRef key);

/* After the top level ran: the function the script declared under 'name'
 * (key is the same name as a JS string). NULL with res failed
 * (ENTRY_POINT_NOT_FOUND, or the limit that stopped the lookup). */
JSObjectRef sr_js__find_entry(struct sr_js__run *run, const char *name, JSStringRef key,
                              struct sr_js_result *res);

/* True unless fn is a built-in, host, bound or proxy function (by the
 * intrinsic Function.prototype.toString in run->fn_to_string). */
bool sr_js__is_script_function(struct sr_js__run *run, JSObjectRef fn);

/* Appends to out the source of the lexical-binding probe for 'script': a
 * strict function that copies each of the script's identifier-shaped words
 * that has a value and is no property of ctx's global object (ctx NULL: all
 * words) onto its 'this'. Depends on the script (and the global) only, never
 * on the entry point. SR_ELIMIT past out's cap, SR_ENOMEM. */
sr_status sr_js__probe_source(JSContextRef ctx, const char *script, size_t len, sr_buf *out,
                              sr_err *err);

/* ---- js_conv.c: conversions ---- */

/* Makes a JS string from UTF-8 p[0..len) (NULs allowed). Invalid UTF-8 gives
 * SR_EINVAL naming the byte offset. Returns owned: JSStringRelease(). */
sr_status sr_js__string_new(const char *p, size_t len, JSStringRef *out, sr_err *err);

/* Appends the UTF-8 form of s to b, at most 'max' bytes, cut at a character
 * boundary; lone surrogates become U+FFFD. Returns false when s did not fit
 * (b then holds the longest prefix that does), or when b is out of memory. */
bool sr_js__string_append(sr_buf *b, JSStringRef s, size_t max);

/* Calls fn with the UTF-8 form of s in pieces of at most 4 KiB (no copy of
 * the whole string; s may be huge). */
void sr_js__string_chunks(JSStringRef s, void (*fn)(void *arg, const char *p, size_t len),
                          void *arg);

/* Next code point of u[*i..n) (advancing *i); a lone surrogate gives
 * U+FFFD, as WHATWG's "convert to a scalar value string" does. */
uint32_t sr_js__utf16_next(const JSChar *u, size_t n, size_t *i);
/* Writes the UTF-8 form of the scalar value cp; returns its length (1-4). */
size_t sr_js__utf8_encode(uint32_t cp, unsigned char out[4]);

/* Bytes the UTF-8 form of s takes (lone surrogates count as U+FFFD). */
size_t sr_js__string_utf8_len(JSStringRef s);

/* obj[name] (name is ASCII). NULL with *exc set when the getter threw. */
JSValueRef sr_js__get(JSContextRef ctx, JSObjectRef obj, const char *name, JSValueRef *exc);
/* obj[name] = v with JSPropertyAttributes 'attrs'. False when it threw. */
bool sr_js__set(JSContextRef ctx, JSObjectRef obj, const char *name, JSValueRef v, unsigned attrs,
                JSValueRef *exc);
/* A function object named 'name' that calls 'fn'. NULL when it threw. */
JSObjectRef sr_js__function(JSContextRef ctx, const char *name, JSObjectCallAsFunctionCallback fn);
/* A JS string from a C string (ASCII or UTF-8 text). */
JSValueRef sr_js__cstring(JSContextRef ctx, const char *s);
/* JSON text of v (NULL with no exception when JSON has no text for it),
 * via the intrinsic JSON.stringify called as a function: unlike
 * JSValueCreateJSONString() from outside the guest, a call enters the VM, so
 * the watchdog runs while a huge value is stringified. Returns owned. */
JSStringRef sr_js__json(JSContextRef ctx, JSValueRef v, JSValueRef *exc);
/* Throws a new TypeError/RangeError with 'msg' into the guest (*exc). */
JSValueRef sr_js__throw(JSContextRef ctx, const char *type, const char *msg, JSValueRef *exc);

/* Appends the console form of v to b (strings as they are, primitives as
 * String(v), errors with their stack, other objects as JSON) within 'max'
 * bytes; returns false if cut. A guest exception while formatting is
 * returned in *exc (the caller rethrows it). */
bool sr_js__format(JSContextRef ctx, JSValueRef v, sr_buf *b, size_t max, JSValueRef *exc);

/* Describes a thrown value for a user: "Name: message (job.js:L:C)" then the
 * stack, at most SR_MAX_ERROR_MSG bytes. Returns owned (free()), NULL only on
 * ENOMEM. 'prefix' (may be NULL) goes first. */
char *sr_js__describe(JSContextRef ctx, JSValueRef thrown, const char *prefix);

/* Cuts the NUL-terminated UTF-8 text in b to at most 'max' bytes at a
 * character boundary. */
void sr_js__utf8_cut(sr_buf *b, size_t max);

/* Wipes and frees a NUL-terminated string (guest text may hold a secret).
 * NULL is a no-op. */
void sr_js__free_secure(char *p);
/* Wipes the text of every string in a JSON array (before it is freed). */
void sr_js__wipe_strings(json_t *array);

/* ---- js_bind.c: the host API ---- */

/* The job running in ctx on this thread, or NULL (a host function called
 * after its job ended). */
struct sr_js__run *sr_js__run_of(JSContextRef ctx);
/* Makes run the job of this thread (NULL: none); returns the previous one. */
struct sr_js__run *sr_js__run_enter(struct sr_js__run *run);

/* Removes Atomics (and WebAssembly, SharedArrayBuffer) from the global object
 * of run->ctx, then installs input, secrets (deep-frozen), console, crypto
 * and getSecret, and captures the intrinsics the runtime calls later
 * (JSON.stringify, Function.prototype.toString). Parses the job's input and secrets (their JSON
 * text has been size-checked). SR_EINVAL when that text is not JSON (the
 * caller's bug), SR_ENOMEM, SR_EINTERNAL when JSC throws while setting up. */
sr_status sr_js__install(struct sr_js__run *run, sr_err *err);

/* typeof-like name of v for messages ("string", "Uint8Array", "object"). */
const char *sr_js__type_name(JSContextRef ctx, JSValueRef v);
/* Points p and len at the bytes of a Uint8Array or ArrayBuffer; false if v is
 * neither (or detached). Borrowed until the guest runs again. */
bool sr_js__binary_bytes(JSContextRef ctx, JSValueRef v, const uint8_t **p, size_t *len);

/* ---- js_storage.c: the storage object ---- */

/* Installs 'storage' (get, getBytes, set, delete, has, list) in 'global'. */
sr_status sr_js__install_storage(struct sr_js__run *run, JSObjectRef global, sr_err *err);

/* ---- js_fetch.c: fetch and the web platform around it ---- */

/* Puts URL, URLSearchParams, Headers, Request, Response, AbortSignal,
 * AbortController and fetch on 'global' as accessors that evaluate
 * js_fetch.js on the first use of any of them (a job that never touches
 * them does not pay for it); assigning one first replaces it. */
sr_status sr_js__install_fetch(struct sr_js__run *run, JSObjectRef global, sr_err *err);

/* Marks dropped log entries in the last kept entry (call once, at the end). */
void sr_js__logs_finish(struct sr_js__run *run);

/* ---- js_web.c: the web platform globals (web.js) ---- */

/* The preludes, NUL-terminated (generated from web.js ... by embed_js.cmake). */
extern const char sr_js__web_js[];
extern const char sr_js__subtle_js[];

/* Evaluates a prelude (source text whose value is a function) in ctx and
 * calls it with argv; *out is what it returned. SR_EINTERNAL with *exc set
 * when either step throws (a guest's limit can stop a prelude too). */
sr_status sr_js__eval_prelude(JSContextRef ctx, const char *source, const char *url, size_t argc,
                              const JSValueRef argv[], JSValueRef *out, JSValueRef *exc);

/* Installs DOMException, TextEncoder, TextDecoder, atob, btoa,
 * structuredClone, Crypto, crypto.getRandomValues and crypto.randomUUID
 * (and, once js_crypto.c is in, crypto.subtle, SubtleCrypto, CryptoKey) as
 * accessors that run their prelude on first use and are then replaced by
 * it with the data properties a browser has: a job that uses none of them
 * pays nothing for them. The global 'crypto' must exist. */
sr_status sr_js__install_web(struct sr_js__run *run, JSObjectRef global, sr_err *err);

/* ---- js_crypto.c: crypto.subtle (subtle.js) ---- */

/* Runs subtle.js with its natives (web.js must have run:
 * run->web_internals). SR_EINTERNAL with *exc set when it threw. */
sr_status sr_js__run_subtle(struct sr_js__run *run, JSValueRef *exc);

/* One use of the job's generated key 'name' through the supervisor ('K'
 * host call, sr_runner.h: op, name, data); the answer appended to resp.
 * SR_EDENIED without a supervisor, else the supervisor's status. */
sr_status sr_js__key_use(struct sr_js__run *run, char op, const char *name, size_t name_len,
                         const uint8_t *data, size_t len, sr_buf *resp, sr_err *err);

/* Process-wide libcrypto set-up, before any sandbox: called by
 * sr_js_vm_new. */
void sr_js__crypto_init(void);

/* ---- js_secp256k1.c: crypto.secp256k1 ---- */

/* A new crypto.secp256k1 object (getPublicKey, sign, verify, recover,
 * schnorr.*). NULL with *exc when JSC threw. */
JSObjectRef sr_js__secp256k1_object(JSContextRef ctx, JSValueRef *exc);

/* ---- js_vrf.c: crypto.vrf ---- */

/* Installs crypto.vrf(seed) (a host call to the supervisor) on 'crypto'. */
sr_status sr_js__install_vrf(JSContextRef ctx, JSObjectRef crypto, sr_err *err);

/* js_record.c: a recorded job's Date and Math.random (job->record); a
 * no-op for other jobs. */
sr_status sr_js__install_record(struct sr_js__run *run, sr_err *err);

#endif /* SR_JS_INT_H */
