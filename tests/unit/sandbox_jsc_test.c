/* SPDX-License-Identifier: MIT
 *
 * tests/unit/sandbox_jsc_test.c - a real JavaScriptCore VM inside a job
 * process, so the seccomp allowlist is proven against what JSC actually
 * calls: JIT on and off, GC under pressure, big allocations, the CPU-time
 * watchdog, dates and regexes.
 *
 * The library is dlopen()ed by main() before the sandboxes are created (the
 * zygote inherits the mapping; no VM exists before the fork), and the VM is
 * created in proc_init, before seccomp, as the JS runtime does. A syscall
 * outside the allowlist kills the process with SIGSYS, which these tests
 * report with the job's detail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_sandbox.h"

typedef void *(*ctx_create_fn)(void *group, void *global_class);
typedef void *(*group_create_fn)(void);
typedef void *(*str_create_fn)(const char *);
typedef void (*str_release_fn)(void *);
typedef void *(*eval_fn)(void *ctx, void *script, void *self, void *url, int line, void **exc);
typedef void *(*to_string_fn)(void *ctx, void *value, void **exc);
typedef size_t (*str_utf8_fn)(void *str, char *buf, size_t cap);
typedef void (*ctx_release_fn)(void *ctx);
typedef void (*gc_fn)(void *ctx);
typedef int (*opt_bool_fn)(const char *name, int value);
typedef int (*limit_cb_fn)(void *ctx, void *data);
typedef void (*set_limit_fn)(void *group, double seconds, limit_cb_fn cb, void *data);

static struct {
    group_create_fn group_create;
    ctx_create_fn ctx_create;
    str_create_fn str_create;
    str_release_fn str_release;
    eval_fn eval;
    to_string_fn to_string;
    str_utf8_fn str_utf8;
    ctx_release_fn ctx_release;
    gc_fn gc;
    opt_bool_fn opt_bool;
    set_limit_fn set_limit;
} jsc;

struct jsc_arg {
    int jit;
};

struct jsc_state {
    void *group;
};

static int
load_jsc(void)
{
    void *h = dlopen("libjavascriptcoregtk-4.1.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        return -1;
    *(void **)&jsc.group_create = dlsym(h, "JSContextGroupCreate");
    *(void **)&jsc.ctx_create = dlsym(h, "JSGlobalContextCreateInGroup");
    *(void **)&jsc.str_create = dlsym(h, "JSStringCreateWithUTF8CString");
    *(void **)&jsc.str_release = dlsym(h, "JSStringRelease");
    *(void **)&jsc.eval = dlsym(h, "JSEvaluateScript");
    *(void **)&jsc.to_string = dlsym(h, "JSValueToStringCopy");
    *(void **)&jsc.str_utf8 = dlsym(h, "JSStringGetUTF8CString");
    *(void **)&jsc.ctx_release = dlsym(h, "JSGlobalContextRelease");
    *(void **)&jsc.gc = dlsym(h, "JSGarbageCollect");
    *(void **)&jsc.opt_bool = dlsym(h, "jsc_options_set_boolean");
    *(void **)&jsc.set_limit = dlsym(h, "JSContextGroupSetExecutionTimeLimit");
    return jsc.group_create && jsc.ctx_create && jsc.eval && jsc.opt_bool && jsc.set_limit ? 0 : -1;
}

static sr_status
jsc_init(void *arg, void **state, sr_err *err)
{
    const struct jsc_arg *a = arg;
    static struct jsc_state st;

    (void)jsc.opt_bool("useJIT", a->jit);
    st.group = jsc.group_create();
    if (!st.group)
        return sr_err_set(err, SR_EIO, "cannot create a JSC context group");
    /* The first context creates the VM and its threads, before seccomp. */
    void *ctx = jsc.ctx_create(st.group, NULL);
    if (!ctx)
        return sr_err_set(err, SR_EIO, "cannot create a JSC context");
    jsc.ctx_release(ctx);
    *state = &st;
    return SR_OK;
}

static int
stop_now(void *ctx, void *data)
{
    (void)ctx;
    (void)data;
    return 1;
}

/* Evaluates the request as a script in a fresh context; answers "ok:<value>"
 * or "exc:<exception>". A request starting with "!" arms a 0.2 s CPU limit. */
static sr_status
jsc_job(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len,
        sr_buf *resp, bool *discard, sr_err *err)
{
    struct jsc_state *st = state;
    const char *src = (const char *)req;
    void *exc = NULL;
    char out[256] = "";
    (void)arg, (void)child, (void)discard, (void)len;

    if (src[0] == '!') {
        jsc.set_limit(st->group, 0.2, stop_now, NULL);
        src++;
    }
    void *ctx = jsc.ctx_create(st->group, NULL);
    void *script = jsc.str_create(src);
    void *v = jsc.eval(ctx, script, NULL, NULL, 1, &exc);
    void *s = jsc.to_string(ctx, v ? v : exc, NULL);
    if (s) {
        (void)jsc.str_utf8(s, out, sizeof(out));
        jsc.str_release(s);
    }
    jsc.str_release(script);
    jsc.gc(ctx);
    jsc.ctx_release(ctx);
    return sr_buf_printf(resp, err, "%s:%s", v ? "ok" : "exc", out);
}

static sr_sandbox *g_jit;
static sr_sandbox *g_nojit;
static sr_sandbox *g_jit_job;
static struct jsc_arg g_arg_jit = {.jit = 1};
static struct jsc_arg g_arg_nojit = {.jit = 0};

static int
group_setup(void **state)
{
    (void)state;
    struct sr_sandbox_config c = {.proc_init = jsc_init, .job_fn = jsc_job, .arg = &g_arg_jit};
    if (sr_sandbox_new(&c, &g_jit, NULL) != SR_OK)
        return -1;
    c.isolation = SR_ISOLATION_JOB;
    if (sr_sandbox_new(&c, &g_jit_job, NULL) != SR_OK)
        return -1;
    c.isolation = SR_ISOLATION_TENANT;
    c.arg = &g_arg_nojit;
    return sr_sandbox_new(&c, &g_nojit, NULL) == SR_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    sr_sandbox_free(g_jit);
    sr_sandbox_free(g_nojit);
    sr_sandbox_free(g_jit_job);
    return 0;
}

/* Runs src in sb and checks the answer; prints the report on a mismatch. */
static void
expect(sr_sandbox *sb, const char *src, const char *want)
{
    sr_buf resp;
    struct sr_sandbox_report rep;
    const struct sr_sandbox_limits lim = {.wall_ms = 20000};

    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    assert_int_equal(
        sr_sandbox_run(sb, "owner", (const uint8_t *)src, strlen(src), &lim, &resp, &rep, NULL),
        SR_OK);
    if (rep.outcome != SR_SANDBOX_OK || strcmp(resp.data, want) != 0)
        print_error("script '%.60s': outcome %d, detail '%s', answer '%s', want '%s'\n", src,
                    (int)rep.outcome, rep.detail, resp.data ? resp.data : "", want);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    assert_string_equal(resp.data, want);
    sr_buf_fini(&resp);
}

static const char fib[] =
    "function fib(n){return n<2?n:fib(n-1)+fib(n-2)} var s=0; for(var i=0;i<3;i++) s+=fib(24); s";
static const char strings[] = "var a=[]; for (var i=0;i<200000;i++) a.push('x'+i);"
                              "var j=JSON.stringify({a:a}); JSON.parse(j).a.length + j.length";
static const char gc_pressure[] =
    "var keep=0; for (var r=0;r<20;r++){ var o=[]; for (var i=0;i<50000;i++) o.push({i:i,s:'v'+i});"
    " keep+=o.length; } keep";
static const char big_alloc[] = "var b=new ArrayBuffer(200*1024*1024); var u=new Uint8Array(b);"
                                " for (var i=0;i<u.length;i+=4096) u[i]=1; var t=0; for (var "
                                "i=0;i<u.length;i+=4096) t+=u[i]; t";
static const char misc[] = "var d=new Date(0); var r=/^(a+)+b$/.test('aaaab');"
                           "[d.getTime(), r, typeof Math.random(), String(1.5e300), "
                           "Date.now()>0, new Date().toString().length>10].join(',')";

static void
test_runs_fib_with_jit(void **state)
{
    (void)state;
    expect(g_jit, fib, "ok:139104");
    expect(g_jit, fib, "ok:139104");
}

static void
test_runs_fib_without_jit(void **state)
{
    (void)state;
    expect(g_nojit, fib, "ok:139104");
}

static void
test_builds_strings_and_json(void **state)
{
    (void)state;
    expect(g_jit, strings, "ok:2088897");
    expect(g_nojit, strings, "ok:2088897");
}

static void
test_survives_gc_pressure(void **state)
{
    (void)state;
    expect(g_jit, gc_pressure, "ok:1000000");
    expect(g_nojit, gc_pressure, "ok:1000000");
}

static void
test_allocates_a_big_buffer(void **state)
{
    (void)state;
    expect(g_jit, big_alloc, "ok:51200");
    expect(g_nojit, big_alloc, "ok:51200");
}

static void
test_runs_dates_regexes_and_random(void **state)
{
    (void)state;
    expect(g_jit, misc, "ok:0,true,number,1.5e+300,true,true");
    expect(g_nojit, misc, "ok:0,true,number,1.5e+300,true,true");
}

static void
test_stops_a_loop_with_the_watchdog(void **state)
{
    (void)state;
    sr_buf resp;
    struct sr_sandbox_report rep;
    const char *src = "!for(;;){}";
    const struct sr_sandbox_limits lim = {.wall_ms = 10000};

    sr_buf_init(&resp, 1024);
    assert_int_equal(
        sr_sandbox_run(g_jit, "owner", (const uint8_t *)src, strlen(src), &lim, &resp, &rep, NULL),
        SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    assert_non_null(strstr(resp.data, "exc:"));
    assert_true(rep.wall_us < 5000000);
    sr_buf_fini(&resp);
}

static void
test_runs_in_fresh_processes(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        expect(g_jit_job, fib, "ok:139104");
}

int
main(void)
{
    if (load_jsc() != 0) {
        (void)fprintf(stderr, "cannot load libjavascriptcoregtk-4.1.so.0: %s\n", dlerror());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_fib_with_jit),
        cmocka_unit_test(test_runs_fib_without_jit),
        cmocka_unit_test(test_builds_strings_and_json),
        cmocka_unit_test(test_survives_gc_pressure),
        cmocka_unit_test(test_allocates_a_big_buffer),
        cmocka_unit_test(test_runs_dates_regexes_and_random),
        cmocka_unit_test(test_stops_a_loop_with_the_watchdog),
        cmocka_unit_test(test_runs_in_fresh_processes),
    };
    return cmocka_run_group_tests_name("sandbox_jsc", tests, group_setup, group_teardown);
}
