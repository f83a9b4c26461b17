/* SPDX-License-Identifier: MIT
 *
 * js.c - the JavaScript runtime: a VM (JSC context group) per job process,
 * a fresh global context per job, the CPU/memory watchdog, awaiting a
 * returned promise and turning the result into the job's output JSON.
 *
 * Guest time is measured on the thread CPU clock from the syntax check to
 * the end of JSON serialisation (gas_used). While a job with a CPU budget or
 * a memory cap runs, the watchdog fires every SR_JS_WATCHDOG_PERIOD_S of
 * guest CPU and terminates the guest when the budget is used up or RSS
 * passes the cap. JSC drains the microtask queue whenever an outermost API
 * call releases the VM lock, so a promise settles (or never will) by the time
 * the call that subscribed to it returns.
 */
#include "js_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jsc/jsc.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"

/* How many times a thenable may settle with another thenable. */
#define SR_JS_MAX_THEN_CHAIN 32

static pthread_mutex_t g_options_lock = PTHREAD_MUTEX_INITIALIZER;
static bool g_options_done;
static bool g_jit;

int64_t
sr_js__cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- VM ---- */

/* JSC freezes its options when the first VM is made: set them once. */
static sr_status
set_options_once(const struct sr_js_options *opt, sr_err *err)
{
    sr_status rc = SR_OK;
    (void)pthread_mutex_lock(&g_options_lock);
    if (!g_options_done) {
        bool jit = !(opt && opt->no_jit);
        if (!jsc_options_set_boolean(JSC_OPTIONS_USE_JIT, jit))
            rc = sr_err_set(err, SR_EINTERNAL, "JavaScriptCore refused option 'useJIT'");
        /* By default JSC stops JIT code for the watchdog by patching it to
         * fault and catching SIGSEGV; any other SIGSEGV handler in the
         * process (a test harness, a crash reporter) turns that into a crash.
         * Polling traps check a flag at loop heads instead: no signals. */
        if (rc == SR_OK && !jsc_options_set_boolean("usePollingTraps", true))
            rc = sr_err_set(err, SR_EINTERNAL, "JavaScriptCore refused option 'usePollingTraps'");
        /* Issue 9 item 12: WebAssembly run from JS escaped the CPU budget and
         * gave shared memory (and so Atomics.wait, a sleep that burns no
         * gas). WASM jobs are the way to run WebAssembly; in every realm of a
         * JS job there is none, and no SharedArrayBuffer or ShadowRealm
         * (js_bind.c also removes Atomics from each fresh global). */
        static const char *const off[] = {"useWasm", "useSharedArrayBuffer", "useShadowRealm"};
        for (size_t i = 0; rc == SR_OK && i < sizeof(off) / sizeof(off[0]); i++) {
            if (!jsc_options_set_boolean(off[i], false))
                rc = sr_err_set(err, SR_EINTERNAL, "JavaScriptCore refused option '%s'", off[i]);
        }
        g_jit = jit;
        g_options_done = true;
    }
    (void)pthread_mutex_unlock(&g_options_lock);
    return rc;
}

sr_status
sr_js_vm_new(const struct sr_js_options *opt, sr_js_vm **out, sr_err *err)
{
    sr_status rc = set_options_once(opt, err);
    if (rc != SR_OK)
        return rc;
    sr_js__crypto_init(); /* crypto.subtle's libcrypto, while files can still be opened */
    sr_js_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating a JavaScript VM");
    vm->group = JSContextGroupCreate();
    vm->own_statm_fd = -1;
    vm->page_size = sysconf(_SC_PAGESIZE);
    vm->is_jit = g_jit;
    if (!vm->group || vm->page_size <= 0) {
        sr_js_vm_free(vm);
        return sr_err_set(err, SR_EINTERNAL, "JavaScriptCore could not create a context group");
    }
    if (opt && opt->cpu_backstop) {
        rc = sr_js__backstop_new(&vm->backstop, err);
        if (rc != SR_OK) {
            sr_js_vm_free(vm);
            return rc;
        }
    }
    *out = vm;
    return SR_OK;
}

void
sr_js_vm_free(sr_js_vm *vm)
{
    if (!vm)
        return;
    sr_js__backstop_free(vm->backstop);
    if (vm->group)
        JSContextGroupRelease(vm->group);
    if (vm->own_statm_fd >= 0)
        (void)close(vm->own_statm_fd);
    free(vm);
}

static char g_version[48];

static void
fill_version(void)
{
    (void)snprintf(g_version, sizeof(g_version), "JavaScriptCore %u.%u.%u", jsc_get_major_version(),
                   jsc_get_minor_version(), jsc_get_micro_version());
}

const char *
sr_js_engine_version(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)pthread_once(&once, fill_version);
    return g_version;
}

/* ---- results ---- */

void
sr_js_result_fini(struct sr_js_result *res)
{
    if (!res)
        return;
    /* guest text (a logged, returned or thrown secret) is wiped, not just freed */
    sr_js__free_secure(res->error_message);
    sr_js__free_secure(res->output_json);
    sr_js__wipe_strings(res->logs);
    json_decref(res->logs);
    res->error_message = NULL;
    res->output_json = NULL;
    res->logs = NULL;
}

void
sr_js__fail_take(struct sr_js_result *res, enum sr_job_code code, char *msg)
{
    sr_js__free_secure(res->error_message);
    sr_js__free_secure(res->output_json);
    res->output_json = NULL;
    res->ok = false;
    res->code = code;
    res->error_message = msg ? msg : strdup("out of memory describing the error");
}

void
sr_js__fail(struct sr_js_result *res, enum sr_job_code code, const char *fmt, ...)
{
    char msg[SR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sr_js__fail_take(res, code, strdup(msg));
}

/* ---- limits ---- */

/* RSS in bytes from /proc/self/statm ("size resident shared ..." in pages). */
static bool
read_rss(const struct sr_js__run *run, uint64_t *out)
{
    char text[128];
    ssize_t n = pread(run->statm_fd, text, sizeof(text) - 1, 0);
    if (n <= 0)
        return false;
    text[n] = '\0';
    unsigned long long size = 0;
    unsigned long long resident = 0;
    if (sscanf(text, "%llu %llu", &size, &resident) != 2)
        return false;
    *out = (uint64_t)resident * (uint64_t)run->vm->page_size;
    return true;
}

/* Seconds of CPU until the next check: the period, or just past the end of
 * the budget when that comes first. */
static double
next_period(const struct sr_js__run *run)
{
    double period = SR_JS_WATCHDOG_PERIOD_S;
    if (run->job->cpu_limit_us) {
        int64_t left = (int64_t)run->job->cpu_limit_us - (sr_js__cpu_us() - run->cpu_start_us);
        double s = (double)(left > 0 ? left : 0) / 1e6 + 0.0005;
        if (s < period)
            period = s;
    }
    return period;
}

static bool
watchdog(JSContextRef ctx, void *data)
{
    struct sr_js__run *run = data;
    const struct sr_js_job *job = run->job;
    if (run->stop != SR_JS__STOP_NONE)
        return true;
    int64_t used = sr_js__cpu_us() - run->cpu_start_us;
    if (job->cpu_limit_us && used >= (int64_t)job->cpu_limit_us) {
        run->stop = SR_JS__STOP_GAS;
        return true;
    }
    uint64_t rss = 0;
    if (job->memory_bytes && run->statm_fd >= 0 && read_rss(run, &rss) && rss > job->memory_bytes) {
        run->stop = SR_JS__STOP_MEMORY;
        run->stop_rss = rss;
        return true;
    }
    /* JSC 2.50 does not re-arm after 'false' by itself (see js_int.h) */
    JSContextGroupSetExecutionTimeLimit(JSContextGetGroup(ctx), next_period(run), watchdog, run);
    return false;
}

/* The fd to sample RSS from: the job's, or ours opened on first need. */
static sr_status
statm_fd(sr_js_vm *vm, const struct sr_js_job *job, int *out, sr_err *err)
{
    *out = -1;
    if (!job->memory_bytes)
        return SR_OK;
    if (job->statm_fd >= 0) {
        *out = job->statm_fd;
        return SR_OK;
    }
    if (vm->own_statm_fd < 0)
        vm->own_statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (vm->own_statm_fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '/proc/self/statm' to watch memory: %s",
                          strerror(errno));
    *out = vm->own_statm_fd;
    return SR_OK;
}

/* Turns a watchdog stop or an overrun budget into the job's error. */
static void
apply_limits(struct sr_js__run *run, struct sr_js_result *res)
{
    const struct sr_js_job *job = run->job;
    if (run->stop == SR_JS__STOP_MEMORY) {
        sr_js__fail(res, SR_JOB_MEMORY_LIMIT,
                    "memory limit exceeded: the job process used %llu MiB, the limit is %llu MiB",
                    (unsigned long long)(run->stop_rss / SR_MIB),
                    (unsigned long long)(job->memory_bytes / SR_MIB));
    } else if (run->stop == SR_JS__STOP_GAS ||
               (res->ok && job->cpu_limit_us && res->gas_used > job->cpu_limit_us)) {
        /* a job that ended between two checks past its budget has not
         * completed within it; a specific failure (too large, ...) stays */
        sr_js__fail(
            res, SR_JOB_GAS_EXHAUSTED,
            "CPU budget exhausted: the script used %llu us of CPU, the limit (gas_limit) is "
            "%llu us",
            (unsigned long long)res->gas_used, (unsigned long long)job->cpu_limit_us);
    } else {
        return;
    }
    res->discard = true;
}

/* ---- running the guest ---- */

/* The script as a JS string (SCRIPT_ERROR if it is not UTF-8) with its
 * syntax checked. NULL with res failed. Returns owned. */
static JSStringRef
compile_check(struct sr_js__run *run, struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    JSStringRef src = NULL;
    JSValueRef exc = NULL;
    sr_err e;
    if (sr_js__string_new(run->job->script, run->job->script_len, &src, &e) != SR_OK) {
        sr_js__fail(res, SR_JOB_SCRIPT_ERROR, "script: %s", e.msg);
        return NULL;
    }
    JSStringRef url = JSStringCreateWithUTF8CString(SR_JS_SOURCE_URL);
    bool ok = JSCheckScriptSyntax(ctx, src, url, 1, &exc);
    JSStringRelease(url);
    if (!ok) {
        sr_js__fail_take(res, SR_JOB_SCRIPT_ERROR, sr_js__describe(ctx, exc, NULL));
        JSStringRelease(src);
        return NULL;
    }
    return src;
}

/* Runs the top-level code. False with res failed. */
static bool
evaluate(struct sr_js__run *run, JSStringRef src, struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSStringRef url = JSStringCreateWithUTF8CString(SR_JS_SOURCE_URL);
    (void)JSEvaluateScript(ctx, src, NULL, url, 1, &exc);
    JSStringRelease(url);
    if (exc)
        sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR, sr_js__describe(ctx, exc, NULL));
    return exc == NULL;
}

static JSValueRef
settle(JSContextRef ctx, size_t argc, const JSValueRef argv[], bool fulfilled)
{
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (run && !run->is_settled) {
        run->is_settled = true;
        run->is_fulfilled = fulfilled;
        run->settled_value = argc ? argv[0] : JSValueMakeUndefined(ctx);
        JSValueProtect(ctx, run->settled_value);
    }
    return JSValueMakeUndefined(ctx);
}

static JSValueRef
on_fulfilled(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self, (void)exc;
    return settle(ctx, argc, argv, true);
}

static JSValueRef
on_rejected(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self, (void)exc;
    return settle(ctx, argc, argv, false);
}

/* Awaits v while it is a thenable. *out is the value it settled with;
 * false with res failed on rejection, a throw or a promise that can never
 * settle. */
static bool
await_value(struct sr_js__run *run, const char *name, JSValueRef v, JSValueRef *out,
            struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    for (int depth = 0; depth < SR_JS_MAX_THEN_CHAIN; depth++) {
        JSValueRef exc = NULL;
        JSValueRef then =
            JSValueIsObject(ctx, v) ? sr_js__get(ctx, sr_js__obj(v), "then", &exc) : NULL;
        if (!exc &&
            (!then || !JSValueIsObject(ctx, then) || !JSObjectIsFunction(ctx, sr_js__obj(then)))) {
            *out = v;
            return true;
        }
        if (run->settled_value)
            JSValueUnprotect(ctx, run->settled_value);
        run->settled_value = NULL;
        run->is_settled = false;
        JSValueRef cbs[2] = {sr_js__function(ctx, "onFulfilled", on_fulfilled),
                             sr_js__function(ctx, "onRejected", on_rejected)};
        if (!exc)
            (void)JSObjectCallAsFunction(ctx, sr_js__obj(then), sr_js__obj(v), 2, cbs, &exc);
        if (exc) {
            sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR, sr_js__describe(ctx, exc, NULL));
            return false;
        }
        if (!run->is_settled) {
            sr_js__fail(
                res, SR_JOB_TIMEOUT,
                "the promise returned by '%s' never settles: nothing left to run can resolve "
                "or reject it (jobs have no timers or I/O)",
                name);
            return false;
        }
        if (!run->is_fulfilled) {
            sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR,
                             sr_js__describe(ctx, run->settled_value, "promise rejected: "));
            return false;
        }
        v = run->settled_value;
    }
    sr_js__fail(res, SR_JOB_EXECUTION_ERROR,
                "the result of '%s' is a chain of more than %d thenables", name,
                SR_JS_MAX_THEN_CHAIN);
    return false;
}

/* Output JSON: undefined/null -> {}, an object's JSON as it is, any other
 * JSON text t (arrays included) -> {"result":t}. */
static void
serialise(struct sr_js__run *run, const char *name, JSValueRef v, struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    if (JSValueIsUndefined(ctx, v) || JSValueIsNull(ctx, v)) {
        res->output_json = strdup("{}");
        res->ok = res->output_json != NULL;
        return;
    }
    JSStringRef json = sr_js__json(ctx, v, &exc);
    if (exc || !json) {
        if (exc)
            sr_js__fail_take(res, SR_JOB_OUTPUT_NOT_JSON,
                             sr_js__describe(ctx, exc, "the result cannot be converted to JSON: "));
        else
            sr_js__fail(res, SR_JOB_OUTPUT_NOT_JSON,
                        "the result of '%s' has no JSON form (a function, a symbol, or toJSON() "
                        "returning undefined)",
                        name);
        return;
    }
    size_t units = JSStringGetLength(json);
    if (units > SR_MAX_OUTPUT) { /* every UTF-16 unit is at least one byte */
        sr_js__fail(res, SR_JOB_OUTPUT_TOO_LARGE,
                    "output is at least %zu bytes of JSON, the limit is %u bytes", units,
                    SR_MAX_OUTPUT);
        JSStringRelease(json);
        return;
    }
    bool is_object = JSStringGetCharactersPtr(json)[0] == '{'; /* JSON text is never empty */
    sr_buf b;
    sr_buf_init(&b, SR_MAX_OUTPUT);
    /* one allocation for the whole output: growing would leave copies */
    size_t want = units <= (SR_MAX_OUTPUT - 16) / 3 ? 3 * units + 16 : SR_MAX_OUTPUT;
    bool fit = sr_buf_reserve(&b, want, NULL) == SR_OK &&
               (is_object || sr_buf_append_str(&b, "{\"result\":", NULL) == SR_OK) &&
               sr_js__string_append(&b, json, SR_MAX_OUTPUT) &&
               (is_object || sr_buf_append_str(&b, "}", NULL) == SR_OK);
    if (fit) {
        res->output_json = sr_buf_steal(&b);
        res->ok = res->output_json != NULL;
    } else {
        size_t total = sr_js__string_utf8_len(json) + (is_object ? 0 : 11);
        sr_js__fail(res, SR_JOB_OUTPUT_TOO_LARGE,
                    "output is %zu bytes of JSON, the limit is %u bytes", total, SR_MAX_OUTPUT);
    }
    sr_buf_fini_secure(&b);
    JSStringRelease(json);
}

/* The top level of the script, then the entry point (only a function the
 * script declares: js_entry.c), called, awaited and serialised. */
static void
call_entry(struct sr_js__run *run, const char *name, JSStringRef key, struct sr_js_result *res)
{
    JSContextRef ctx = run->ctx;
    JSStringRef src = compile_check(run, res);
    if (!src)
        return;
    bool existed = sr_js__entry_existed(run, key);
    if (existed)
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND,
                    "entry point '%s' is a built-in or host global, not a function the script "
                    "declares: name a function the script declares at its top level",
                    name);
    bool ran = !existed && evaluate(run, src, res);
    JSStringRelease(src);
    JSObjectRef fn = ran ? sr_js__find_entry(run, name, key, res) : NULL;
    if (!fn)
        return;
    JSValueRef exc = NULL;
    JSValueRef args[2] = {run->input, run->secrets_js};
    JSValueRef v = JSObjectCallAsFunction(ctx, fn, NULL, 2, args, &exc);
    if (exc) {
        sr_js__fail_take(res, SR_JOB_EXECUTION_ERROR, sr_js__describe(ctx, exc, NULL));
        return;
    }
    if (!await_value(run, name, v, &v, res))
        return;
    serialise(run, name, v, res);
}

/* The entry point's name as a JS string, then call_entry(). */
static void
run_guest(struct sr_js__run *run, const char *name, struct sr_js_result *res)
{
    JSStringRef key = NULL;
    if (sr_js__string_new(name, strlen(name), &key, NULL) != SR_OK) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND, "entry point name is not valid UTF-8");
        return;
    }
    call_entry(run, name, key, res);
    JSStringRelease(key);
}

/* Size checks that come before anything is parsed. False with res failed. */
static bool
check_job(const struct sr_js_job *job, const char *name, struct sr_js_result *res)
{
    size_t n = job->input_json ? strnlen(job->input_json, SR_MAX_INPUT + 1) : 0;
    if (n > SR_MAX_INPUT) {
        sr_js__fail(res, SR_JOB_INPUT_TOO_LARGE,
                    "input is more than %u bytes of JSON, the limit is %u bytes", SR_MAX_INPUT,
                    SR_MAX_INPUT);
        return false;
    }
    size_t len = strnlen(name, SR_MAX_ENTRY_POINT + 1);
    if (len == 0 || len > SR_MAX_ENTRY_POINT) {
        sr_js__fail(res, SR_JOB_ENTRY_POINT_NOT_FOUND,
                    "entry point name must be 1 to %d bytes, got %s", SR_MAX_ENTRY_POINT,
                    len ? "a longer one" : "an empty one");
        return false;
    }
    return true;
}

static void
release_run(struct sr_js__run *run)
{
    JSContextRef ctx = run->ctx;
    if (run->settled_value)
        JSValueUnprotect(ctx, run->settled_value);
    if (run->input)
        JSValueUnprotect(ctx, run->input);
    if (run->secrets_js)
        JSValueUnprotect(ctx, run->secrets_js);
    if (run->secret_table)
        JSValueUnprotect(ctx, run->secret_table);
    if (run->json_stringify)
        JSValueUnprotect(ctx, run->json_stringify);
    if (run->fn_to_string)
        JSValueUnprotect(ctx, run->fn_to_string);
    if (run->web_internals)
        JSValueUnprotect(ctx, run->web_internals);
    JSGarbageCollect(ctx); /* only a hint that this object graph is now garbage */
    JSGlobalContextRelease(run->ctx);
}

sr_status
sr_js_run(sr_js_vm *vm, const struct sr_js_job *job, struct sr_js_result *res, sr_err *err)
{
    memset(res, 0, sizeof(*res));
    res->logs = json_array();
    if (!res->logs)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting a JavaScript job");
    if (!job->script || job->script_len > SR_MAX_SCRIPT)
        return sr_err_set(err, SR_EINVAL, "script must be given and at most %u bytes, got %zu",
                          SR_MAX_SCRIPT, job->script_len);
    const char *name = job->entry_point ? job->entry_point : "main";
    if (!check_job(job, name, res))
        return SR_OK;
    struct sr_js__run run = {.vm = vm, .job = job, .logs = res->logs};
    sr_status rc = statm_fd(vm, job, &run.statm_fd, err);
    if (rc != SR_OK)
        return rc;
    run.ctx = JSGlobalContextCreateInGroup(vm->group, NULL);
    if (!run.ctx)
        return sr_err_set(err, SR_ENOMEM, "JavaScriptCore could not create a global context");
    struct sr_js__run *prev = sr_js__run_enter(&run);
    rc = sr_js__install(&run, err);
    if (rc == SR_OK) {
        bool watch = job->cpu_limit_us || job->memory_bytes;
        run.cpu_start_us = sr_js__cpu_us();
        sr_js__backstop_arm(vm->backstop, job->cpu_limit_us);
        if (watch)
            JSContextGroupSetExecutionTimeLimit(vm->group, next_period(&run), watchdog, &run);
        run_guest(&run, name, res);
        res->gas_used = (uint64_t)(sr_js__cpu_us() - run.cpu_start_us);
        if (watch)
            JSContextGroupClearExecutionTimeLimit(vm->group);
        apply_limits(&run, res);
        if (res->code == SR_JOB_TIMEOUT)
            res->discard = true;
    } else {
        (void)sr_err_wrap(err, "setting up the job's JavaScript context");
        res->discard = true;
    }
    sr_js__logs_finish(&run);
    release_run(&run); /* armed until here: releasing can drain microtasks */
    sr_js__backstop_disarm(vm->backstop);
    (void)sr_js__run_enter(prev);
    return rc;
}
