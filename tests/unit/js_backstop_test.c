/* SPDX-License-Identifier: MIT
 *
 * tests/unit/js_backstop_test.c - the CPU backstop (sr_js_options.
 * cpu_backstop): work JavaScriptCore's watchdog cannot interrupt ends the
 * job process with SIGXCPU soon after its CPU budget, and nothing else does.
 *
 * Each case runs in a forked child that creates its own VM (the parent never
 * creates one: a process must not fork after JSC started its threads), so
 * the JIT can be on or off per case. The parent measures the child's CPU
 * time (all threads) from wait4(), never a timed assertion on wall time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "js_int.h"
#include "sealrun/sr_codes.h"

#define BUDGET_US 100000u
/* CPU of the whole child past budget + grace: VM start-up, ASan, and the
 * JIT compiler and GC threads, which work beside the job thread (the
 * backstop and gas count the job thread only; a chain of promise jobs keeps
 * the JIT compiling about as long again). */
#define MARGIN_US 1200000u
/* A child that has not ended after this much wall time has hung. */
#define HANG_S 60

struct outcome {
    int sig;         /* terminating signal, 0 if it exited */
    int status;      /* exit status when sig == 0 */
    uint64_t cpu_us; /* user + system CPU of the child */
};

/* Exit statuses of a child whose job returned. */
enum { CHILD_COMPLETED = 10, CHILD_GAS = 11, CHILD_OTHER = 12, CHILD_SETUP = 13 };

static int
child_run(const char *script, bool no_jit, bool backstop, int jobs, unsigned idle_ms)
{
    sr_js_vm *vm = NULL;
    if (sr_js_vm_new(&(struct sr_js_options){.no_jit = no_jit, .cpu_backstop = backstop}, &vm,
                     NULL) != SR_OK)
        return CHILD_SETUP;
    int code = CHILD_OTHER;
    for (int i = 0; i < jobs; i++) {
        struct sr_js_job job = {.script = script,
                                .script_len = strlen(script),
                                .cpu_limit_us = BUDGET_US,
                                .statm_fd = -1};
        struct sr_js_result res;
        if (sr_js_run(vm, &job, &res, NULL) != SR_OK)
            return CHILD_SETUP;
        code = res.ok                             ? CHILD_COMPLETED
               : res.code == SR_JOB_GAS_EXHAUSTED ? CHILD_GAS
                                                  : CHILD_OTHER;
        sr_js_result_fini(&res);
        struct timespec ts = {.tv_sec = idle_ms / 1000,
                              .tv_nsec = (long)(idle_ms % 1000) * 1000000};
        (void)nanosleep(&ts, NULL);
    }
    sr_js_vm_free(vm);
    return code;
}

/* Runs 'jobs' jobs of 'script' (each with BUDGET_US of CPU, 'idle_ms' of
 * sleep after each) in a fresh child and says how the child ended. */
static struct outcome
run_child(const char *script, bool no_jit, bool backstop, int jobs, unsigned idle_ms)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)alarm(HANG_S); /* a hang ends the child with SIGALRM: the test fails */
        _exit(child_run(script, no_jit, backstop, jobs, idle_ms));
    }
    int st = 0;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    struct outcome o = {
        .sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0,
        .status = WIFEXITED(st) ? WEXITSTATUS(st) : -1,
        .cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
    };
    return o;
}

struct overrun {
    const char *name;
    const char *script;
};

/* Each of these ran to the wall clock (or far past the budget) before. */
static const struct overrun g_overruns[] = {
    {"chain of promise jobs", "function spin() { Promise.resolve().then(spin); }\n"
                              "function main() { spin(); return 1; }"},
    {"two promise chains", "function a() { Promise.resolve().then(b); }\n"
                           "function b() { Promise.resolve().then(a); }\n"
                           "function main() { a(); b(); }"},
    {"await in an endless loop", "async function main() { for (;;) await null; }"},
    {"promise chain started by the output",
     "function spin() { Promise.resolve().then(spin); }\n"
     "function main() { return {toJSON() { spin(); return 1; }}; }"},
    {"one long RegExp match", "function main() { return /(a|a)*$/.test('a'.repeat(60) + 'b'); }"},
    {"join over holes", "function main() { return new Array(1e8).join().length; }"},
};

static void
check_overruns(bool no_jit)
{
    for (size_t i = 0; i < sizeof(g_overruns) / sizeof(g_overruns[0]); i++) {
        struct outcome o = run_child(g_overruns[i].script, no_jit, true, 1, 0);
        print_message("%-40s %s: signal %d status %d, %llu us of CPU\n", g_overruns[i].name,
                      no_jit ? "no JIT" : "JIT", o.sig, o.status, (unsigned long long)o.cpu_us);
        if (o.sig != SIGXCPU)
            fail_msg("%s (%s): ended with signal %d status %d, want SIGXCPU", g_overruns[i].name,
                     no_jit ? "no JIT" : "JIT", o.sig, o.status);
        if (o.cpu_us > BUDGET_US + SR_JS_BACKSTOP_GRACE_US + MARGIN_US)
            fail_msg("%s: the child used %llu us of CPU, budget %u + grace %u + margin %u",
                     g_overruns[i].name, (unsigned long long)o.cpu_us, BUDGET_US,
                     SR_JS_BACKSTOP_GRACE_US, MARGIN_US);
    }
}

static void
test_backstop_ends_what_the_watchdog_cannot_jit(void **state)
{
    (void)state;
    check_overruns(false);
}

static void
test_backstop_ends_what_the_watchdog_cannot_nojit(void **state)
{
    (void)state;
    check_overruns(true);
}

/* Without the backstop the chain is not stopped at all: this is what the
 * backstop is for (the child hangs until its alarm). */
static void
test_promise_chain_outruns_the_watchdog_alone(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)alarm(3);
        _exit(child_run(g_overruns[0].script, false, false, 1, 0));
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGALRM);
}

/* The watchdog's own stop comes first whenever it can: a plain loop ends as
 * GAS_EXHAUSTED in the job, the process lives on. */
static void
test_watchdog_stops_come_first(void **state)
{
    (void)state;
    struct outcome o = run_child("function main() { for (;;) {} }", false, true, 3, 0);
    assert_int_equal(o.sig, 0);
    assert_int_equal(o.status, CHILD_GAS);
}

/* Jobs within their budget, with idle time between them, are never ended;
 * the idle backstop costs no CPU. */
static void
test_jobs_within_budget_and_idle_time_are_left_alone(void **state)
{
    (void)state;
    const char *script = "async function main() { let s = 0;\n"
                         "  for (let i = 0; i < 2000; i++) s += await i; return s; }";
    struct outcome o = run_child(script, false, true, 4, 300);
    assert_int_equal(o.sig, 0);
    assert_int_equal(o.status, CHILD_COMPLETED);
    print_message("4 jobs + 1.2 s idle: %llu us of CPU\n", (unsigned long long)o.cpu_us);
    assert_true(o.cpu_us < 4 * BUDGET_US + MARGIN_US);
}

const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:WTF::BitVector::resizeOutOfLine\n"
           "leak:WTF::StringImpl::createStaticStringImpl\n";
}

const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backstop_ends_what_the_watchdog_cannot_jit),
        cmocka_unit_test(test_backstop_ends_what_the_watchdog_cannot_nojit),
        cmocka_unit_test(test_promise_chain_outruns_the_watchdog_alone),
        cmocka_unit_test(test_watchdog_stops_come_first),
        cmocka_unit_test(test_jobs_within_budget_and_idle_time_are_left_alone),
    };
    return cmocka_run_group_tests_name("js_backstop", tests, NULL, NULL);
}
