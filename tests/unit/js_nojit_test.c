/* SPDX-License-Identifier: MIT
 *
 * tests/unit/js_nojit_test.c - the runtime with the JIT off (--js-jit=off,
 * JSC's interpreter only). The JIT option is process-wide and fixed by the
 * first VM, so this is its own binary: it runs the hostile list of
 * js_hostile.h (shared with js_limits_test.c) and a few jobs whose results
 * must not depend on the JIT. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <jsc/jsc.h>
#include "js_int.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define BUDGET_US 500000u /* CPU budget of every hostile job */
#define MARGIN_US 250000u /* CPU and wall clock allowed past the budget */
#define REGEX_MARGIN_US                                                                            \
    8000000u /* a RegExp match is not interruptible (js_int.h);                                    \
              * the Yarr interpreter reaches its limit after ~5 s */
#define MEMORY_HEADROOM (192u * SR_MIB)

#define JS_HOSTILE_NO_JIT 1
#include "js_hostile.h"

static void
test_jit_is_off_for_the_process(void **state)
{
    (void)state;
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = true}, &vm, NULL), SR_OK);
    gboolean jit = TRUE;
    assert_true(jsc_options_get_boolean(JSC_OPTIONS_USE_JIT, &jit));
    assert_false(jit);
    assert_false(vm->is_jit);
    sr_js_vm_free(vm);
    /* a later request for the JIT does not change a process already set up */
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = false}, &vm, NULL), SR_OK);
    assert_false(vm->is_jit);
    sr_js_vm_free(vm);
}

static void
test_results_do_not_depend_on_the_jit(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n"
         "function main() { return fib(20); }",
         "{\"result\":6765}"},
        {"async function main(i) { await null; return {h: crypto.sha256(i.s), n: i.n * 2}; }",
         "{\"h\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\"n\":4}"},
        {"function main() { return JSON.parse(JSON.stringify({a: [1, 'x', null]})); }",
         "{\"a\":[1,\"x\",null]}"},
        {"function main() { return /^(a|b)+c$/.test('ababc'); }", "{\"result\":true}"},
    };
    sr_js_vm *vm = NULL;
    assert_int_equal(sr_js_vm_new(&(struct sr_js_options){.no_jit = true}, &vm, NULL), SR_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sr_js_job job = {.script = cases[i][0],
                                .script_len = strlen(cases[i][0]),
                                .input_json = "{\"s\":\"abc\",\"n\":2}",
                                .cpu_limit_us = 5000000,
                                .statm_fd = -1};
        struct sr_js_result res;
        assert_int_equal(sr_js_run(vm, &job, &res, NULL), SR_OK);
        if (!res.ok)
            fail_msg("case %zu failed: %s", i, res.error_message);
        assert_string_equal(res.output_json, cases[i][1]);
        sr_js_result_fini(&res);
    }
    sr_js_vm_free(vm);
}

/* LeakSanitizer: JSC's side tables that only its self-mapped GC heap points
 * to look leaked (src/lib/js/lsan.supp explains; keep the two in sync). */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
    return "leak:WTF::BitVector::resizeOutOfLine\n"
           "leak:WTF::StringImpl::createStaticStringImpl\n";
}

/* JSC is built without frame pointers: only the slow unwinder sees the JSC
 * function a leaked block comes from, which the suppression above needs. */
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
        cmocka_unit_test(test_jit_is_off_for_the_process),
        cmocka_unit_test(test_results_do_not_depend_on_the_jit),
        cmocka_unit_test(test_hostile_scripts_hit_their_limits),
        cmocka_unit_test(test_log_flood_keeps_capped_logs),
        cmocka_unit_test(test_gas_exhausted_keeps_logs_and_gas),
        cmocka_unit_test(test_memory_limit_uses_given_statm_fd),
        cmocka_unit_test(test_no_webassembly_shared_memory_atomics_or_timers),
        cmocka_unit_test(test_finalization_callbacks_never_run_in_a_later_job),
    };
    return cmocka_run_group_tests_name("js_nojit", tests, NULL, NULL);
}
