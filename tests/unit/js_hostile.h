/* SPDX-License-Identifier: MIT
 *
 * js_hostile.h - the hostile-script cases shared by js_limits_test.c (JIT on)
 * and js_nojit_test.c (JIT off): the JIT option is process-wide, so each mode
 * is its own binary running this one list. The including file defines
 * BUDGET_US, MARGIN_US, REGEX_MARGIN_US, MEMORY_HEADROOM and
 * JS_HOSTILE_NO_JIT (0 or 1) first, and includes the test headers.
 */
#ifndef SR_TEST_JS_HOSTILE_H
#define SR_TEST_JS_HOSTILE_H

static bool g_no_jit = JS_HOSTILE_NO_JIT;

/* The least wall-clock bound of a hostile job (see check_hostile). */
#define HOSTILE_WALL_FLOOR_US 30000000u

struct hostile {
    const char *name;
    const char *script;
    enum sr_job_code code; /* expected error code */
    const char *needle;    /* expected in the message */
    uint64_t margin_us;    /* 0: MARGIN_US */
    bool is_memory;        /* give a memory cap of RSS + MEMORY_HEADROOM */
    bool keeps_vm;         /* a plain guest error: the VM need not be discarded */
};

static const struct hostile g_hostile[] = {
    {"infinite loop", "function main() { for (;;) {} }", SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in try/catch", "function main() { for (;;) { try { for (;;) {} } catch (e) {} } }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in try/finally",
     "function main() { for (;;) { try { for (;;) {} } finally { continue; } } }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"top-level loop", "for (;;) {}\nfunction main() {}", SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    /* in a loop: JavaScriptCore gives up one such match after its own
     * backtracking limit (false, after about the budget on a quiet machine);
     * the job must still end at its budget, wherever the watchdog finds it */
    {"catastrophic regex", "function main() { for (;;) /(a+)+$/.test('a'.repeat(40) + 'b'); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget", REGEX_MARGIN_US},
    {"memory bomb",
     "function main() { const a = []; for (let i = 0;; i++) a.push('x'.repeat(1000) + i); }",
     SR_JOB_MEMORY_LIMIT, "memory limit exceeded", 0, true},
    {"deep recursion", "function f(n) { return f(n + 1) + 1; }\nfunction main() { return f(0); }",
     SR_JOB_EXECUTION_ERROR, "RangeError: Maximum call stack size exceeded", 0, false, true},
    {"huge output", "function main() { return {s: 'x'.repeat(64 * 1024 * 1024)}; }",
     SR_JOB_OUTPUT_TOO_LARGE, "output is at least 67108872 bytes", 0, false, true},
    {"log flood", "function main() { for (let i = 0;; i++) console.log('flood', i); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"never-settling promise", "function main() { return new Promise(() => {}); }", SR_JOB_TIMEOUT,
     "never settles"},
    {"sparse JSON.stringify",
     "function main() { let a = []; a[1e8] = 1; return JSON.stringify(a).length; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"sparse array as output", "function main() { let a = []; a[1e8] = 1; return a; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"sparse array logged", "function main() { let a = []; a[1e8] = 1; console.log(a); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    /* Not here: throwing a huge sparse array. JSC itself (its inspector hook
     * in the C API) calls toString() on every exception that leaves the
     * guest, and Array.prototype.join does not poll the watchdog: ~11 s of
     * CPU for 1e8 holes, ended by the supervisor's wall clock (js_int.h). */
    {"loop after await", "async function main() { await null; for (;;) {} }", SR_JOB_GAS_EXHAUSTED,
     "CPU budget"},
    {"loop in a microtask",
     "function main() { Promise.resolve().then(() => { for (;;) {} }); return 1; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in an output getter", "function main() { return {get x() { for (;;) {} }}; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in toJSON of a log", "function main() { console.log({toJSON() { for (;;) {} }}); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in a thrown getter", "function main() { throw {get x() { for (;;) {} }}; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"loop in a then()", "function main() { return {then() { for (;;) {} }}; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    /* Issue 9 item 12: WebAssembly from JS ran past the budget until the
     * wall clock, and its shared memory let Atomics.wait sleep for free.
     * A JS job has neither (WASM jobs run WebAssembly under fuel). */
    {"WebAssembly infinite loop",
     "function main() {\n"
     "  const b = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7,\n"
     "    5, 1, 1, 102, 0, 0, 10, 9, 1, 7, 0, 3, 64, 12, 0, 11, 11]); // loop { br 0 }\n"
     "  new WebAssembly.Instance(new WebAssembly.Module(b)).exports.f();\n"
     "}",
     SR_JOB_EXECUTION_ERROR, "Can't find variable: WebAssembly", 0, false, true},
    {"Atomics.wait on shared memory",
     "function main() {\n"
     "  const m = new WebAssembly.Memory({initial: 1, maximum: 1, shared: true});\n"
     "  Atomics.wait(new Int32Array(m.buffer), 0, 0, 60000);\n"
     "}",
     SR_JOB_EXECUTION_ERROR, "Can't find variable: WebAssembly", 0, false, true},
    {"Atomics.wait on a SharedArrayBuffer",
     "function main() { Atomics.wait(new Int32Array(new SharedArrayBuffer(16)), 0, 0, 6e4); }",
     SR_JOB_EXECUTION_ERROR, "undefined is not an object (evaluating 'Atomics.wait')", 0, false,
     true},
    {"a SharedArrayBuffer", "function main() { return new SharedArrayBuffer(16); }",
     SR_JOB_EXECUTION_ERROR, "Can't find variable: SharedArrayBuffer", 0, false, true},
    /* the same class: other work that could run outside the watchdog */
    {"sort with a looping comparator",
     "function main() { return Array.from({length: 1e5}, (_, i) => i).sort(() => { for (;;) {} "
     "}); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    /* one default sort has C++ parts the watchdog does not interrupt (~10 ms per
     * 1,000 elements here); between calls it does, and js_backstop_test.c
     * covers one huge call */
    {"default sorts in a loop",
     "function main() { for (;;) Array.from({length: 2e3}, (_, i) => -i).sort(); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"Intl in a loop",
     "function main() { const s = '\\u1e9b\\u0323'.repeat(1 << 16);\n"
     "  for (let i = 0;; i++) s.normalize('NFKD').localeCompare(s, 'de', {sensitivity: 'base'}); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"Intl formatting in a loop",
     "function main() { const f = new Intl.NumberFormat('en-IN', {style: 'currency', currency: "
     "'INR'});\n  for (let i = 0;; i++) f.format(i); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"promise job queued while the output is read",
     "function main() { return {toJSON() { Promise.resolve().then(() => { for (;;) {} }); "
     "return 1; }}; }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"promise job queued by a rejected promise's reason",
     "function main() { return Promise.reject({get message() { Promise.resolve().then(() => { "
     "for (;;) {} }); return 'm'; }}); }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
    {"promise job queued before a termination",
     "function main() { Promise.resolve().then(() => { for (;;) {} }); for (;;) {} }",
     SR_JOB_GAS_EXHAUSTED, "CPU budget"},
};

static uint64_t
rss_bytes(void)
{
    char text[128] = {0};
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    (void)close(fd);
    assert_true(n > 0);
    unsigned long long size = 0;
    unsigned long long resident = 0;
    assert_int_equal(sscanf(text, "%llu %llu", &size, &resident), 2);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Runs one hostile script in a fresh VM (as a fresh job process would). */
static void
check_hostile(const struct hostile *h)
{
    sr_err err = {0};
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, &err), SR_OK);
    struct sr_js_job job = {
        .script = h->script,
        .script_len = strlen(h->script),
        .cpu_limit_us = h->is_memory ? 20 * BUDGET_US : BUDGET_US,
        .memory_bytes = h->is_memory ? rss_bytes() + MEMORY_HEADROOM : 0,
        .statm_fd = -1,
    };
    uint64_t margin = h->margin_us ? h->margin_us : MARGIN_US;
    struct sr_js_result res;
    int64_t t0 = sr_mono_us();
    assert_int_equal(sr_js_run(vm, &job, &res, &err), SR_OK);
    int64_t wall = sr_mono_us() - t0;
    print_message("%-24s %-18s gas %7.1f ms wall %7.1f ms\n", h->name,
                  res.ok ? "ok" : sr_job_code_name(res.code), (double)res.gas_used / 1000.0,
                  (double)wall / 1000.0);
    if (res.ok || res.code != h->code)
        fail_msg("%s: got %s (%s), want %s", h->name, res.ok ? "ok" : sr_job_code_name(res.code),
                 res.ok ? res.output_json : res.error_message, sr_job_code_name(h->code));
    if (!strstr(res.error_message, h->needle))
        fail_msg("%s: message '%s' lacks '%s'", h->name, res.error_message, h->needle);
    if (!h->is_memory && res.gas_used > BUDGET_US + margin)
        fail_msg("%s: used %llu us of CPU, budget %u us + margin %llu us", h->name,
                 (unsigned long long)res.gas_used, BUDGET_US, (unsigned long long)margin);
    /* wall clock only proves nothing hangs or sleeps (the sleeps tried here
     * ask for 60 s): up to 9 builds and test runs share the 2 cores, so a job
     * may get a tenth of one */
    uint64_t wall_max = 5 * ((h->is_memory ? 20 * BUDGET_US : BUDGET_US) + margin);
    if (wall_max < HOSTILE_WALL_FLOOR_US)
        wall_max = HOSTILE_WALL_FLOOR_US;
    if ((uint64_t)wall > wall_max)
        fail_msg("%s: took %lld us of wall clock", h->name, (long long)wall);
    assert_true(res.discard == !h->keeps_vm);
    assert_non_null(res.logs);
    assert_true(json_array_size(res.logs) <= SR_MAX_LOG_ENTRIES);
    sr_js_result_fini(&res);
    sr_js_vm_free(vm);
}

static void
test_hostile_scripts_hit_their_limits(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(g_hostile) / sizeof(g_hostile[0]); i++)
        check_hostile(&g_hostile[i]);
}

static void
test_log_flood_keeps_capped_logs(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, NULL), SR_OK);
    const char *script = "function main() { for (let i = 0; i < 200000; i++) console.log('x', i); "
                         "return 1; }";
    struct sr_js_job job = {.script = script,
                            .script_len = strlen(script),
                            .cpu_limit_us = 5 * BUDGET_US,
                            .statm_fd = -1};
    struct sr_js_result res;
    assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
    assert_true(res.ok);
    assert_int_equal(json_array_size(res.logs), SR_MAX_LOG_ENTRIES);
    assert_string_equal(json_string_value(json_array_get(res.logs, 99)),
                        "x 99 [log limit: 199900 more entries dropped]");
    sr_js_result_fini(&res);
    sr_js_vm_free(vm);
}

static void
test_gas_exhausted_keeps_logs_and_gas(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, NULL), SR_OK);
    const char *script = "function main() { console.log('start'); for (;;) {} }";
    struct sr_js_job job = {
        .script = script, .script_len = strlen(script), .cpu_limit_us = 100000, .statm_fd = -1};
    struct sr_js_result res;
    assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
    assert_int_equal(res.code, SR_JOB_GAS_EXHAUSTED);
    assert_true(res.gas_used >= 100000 && res.gas_used < 100000 + MARGIN_US);
    assert_int_equal(json_array_size(res.logs), 1);
    assert_true(res.discard);
    sr_js_result_fini(&res);
    /* the process would end here; the VM still answers correctly anyway */
    job.script = "function main() { return 7; }";
    job.script_len = strlen(job.script);
    assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
    assert_true(res.ok);
    assert_string_equal(res.output_json, "{\"result\":7}");
    sr_js_result_fini(&res);
    sr_js_vm_free(vm);
}

static void
test_memory_limit_uses_given_statm_fd(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, NULL), SR_OK);
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    /* a cap below the current RSS trips at the first check */
    const char *script = "function main() { for (;;) {} }";
    struct sr_js_job job = {.script = script,
                            .script_len = strlen(script),
                            .memory_bytes = 1024 * 1024,
                            .statm_fd = fd};
    struct sr_js_result res;
    assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
    assert_int_equal(res.code, SR_JOB_MEMORY_LIMIT);
    assert_non_null(strstr(res.error_message, "the limit is 1 MiB"));
    assert_true(res.gas_used < MARGIN_US);
    sr_js_result_fini(&res);
    (void)close(fd);
    sr_js_vm_free(vm);
}

/* Runs one job in vm with the given budget; returns its result (fini it). */
static struct sr_js_result
run_in(sr_js_vm *vm, const char *script, uint64_t budget_us)
{
    struct sr_js_job job = {
        .script = script, .script_len = strlen(script), .cpu_limit_us = budget_us, .statm_fd = -1};
    struct sr_js_result res;
    assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
    return res;
}

/* Issue 9 item 12: no path from a JS job to WebAssembly, shared memory,
 * Atomics, a second realm or a timer: not the global, not Reflect, not a
 * fresh Function's global, not eval. */
static void
test_no_webassembly_shared_memory_atomics_or_timers(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, NULL), SR_OK);
    const char *script =
        "function main() {\n"
        "  const names = ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'ShadowRealm',\n"
        "    'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask',\n"
        "    'requestAnimationFrame', 'Worker', '$vm', 'gc', 'print', 'readline'];\n"
        "  const g2 = Function('return this')();\n"
        "  const found = names.filter((n) => globalThis[n] !== undefined ||\n"
        "    Reflect.get(globalThis, n) !== undefined || g2[n] !== undefined ||\n"
        "    eval('typeof ' + n) !== 'undefined' ||\n"
        "    (Object.getOwnPropertyDescriptor(globalThis, n) || {}).value !== undefined);\n"
        "  /* Atomics is an own property holding undefined; the others do not exist */\n"
        "  const absent = names.filter((n) => n !== 'Atomics' && !(n in globalThis));\n"
        "  const objects = Object.getOwnPropertyNames(globalThis).map((n) => globalThis[n])\n"
        "    .filter((v) => v && /Atomics|WebAssembly|SharedArrayBuffer/.test(\n"
        "      String(v[Symbol.toStringTag]) + String(v.name)));\n"
        "  return {found, absent: absent.length, objects: objects.length};\n"
        "}";
    struct sr_js_result res = run_in(vm, script, 5 * BUDGET_US);
    if (!res.ok)
        fail_msg("%s: %s", sr_job_code_name(res.code), res.error_message);
    assert_string_equal(res.output_json, "{\"found\":[],\"absent\":13,\"objects\":0}");
    sr_js_result_fini(&res);
    sr_js_vm_free(vm);
}

/* A FinalizationRegistry callback of one job never runs in a later job of
 * the same VM (it would burn that job's CPU with the old job's code): JSC
 * runs such callbacks from a run loop, and a job process runs none. */
static void
test_finalization_callbacks_never_run_in_a_later_job(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = g_no_jit}, &vm, NULL), SR_OK);
    struct sr_js_result res =
        run_in(vm,
               "const r = new FinalizationRegistry(() => { console.log('ran'); for (;;) {} });\n"
               "function main() { for (let i = 0; i < 5000; i++) r.register({a: [i]}, i); }",
               5 * BUDGET_US);
    assert_true(res.ok);
    assert_int_equal(json_array_size(res.logs), 0);
    sr_js_result_fini(&res);
    for (int i = 0; i < 3; i++) {
        /* allocates enough to collect the first job's registered objects */
        res = run_in(vm,
                     "function main() { const a = []; for (let i = 0; i < 200; i++)\n"
                     "  a.push(new Array(5000).fill(i)); return a.length; }",
                     5 * BUDGET_US);
        if (!res.ok)
            fail_msg("job %d after the registry: %s: %s", i, sr_job_code_name(res.code),
                     res.error_message);
        assert_string_equal(res.output_json, "{\"result\":200}");
        assert_int_equal(json_array_size(res.logs), 0);
        sr_js_result_fini(&res);
    }
    sr_js_vm_free(vm);
}

#endif /* SR_TEST_JS_HOSTILE_H */
