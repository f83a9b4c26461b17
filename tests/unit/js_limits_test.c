/* SPDX-License-Identifier: MIT
 *
 * tests/unit/js_limits_test.c - hostile scripts with the JIT on: each is
 * answered with the right error code within its limit plus a margin, and the
 * VM is marked for discarding. (js_nojit_test.c runs the same list with the
 * JIT off: the JIT option is process-wide.) */
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
#include "js_int.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define BUDGET_US 500000u        /* CPU budget of every hostile job */
#define MARGIN_US 250000u        /* CPU and wall clock allowed past the budget */
#define REGEX_MARGIN_US 1500000u /* a RegExp match is not interruptible (js_int.h) */
#define MEMORY_HEADROOM (192u * SR_MIB)

#define JS_HOSTILE_NO_JIT 0
#include "js_hostile.h"

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
        cmocka_unit_test(test_hostile_scripts_hit_their_limits),
        cmocka_unit_test(test_log_flood_keeps_capped_logs),
        cmocka_unit_test(test_gas_exhausted_keeps_logs_and_gas),
        cmocka_unit_test(test_memory_limit_uses_given_statm_fd),
        cmocka_unit_test(test_no_webassembly_shared_memory_atomics_or_timers),
        cmocka_unit_test(test_finalization_callbacks_never_run_in_a_later_job),
    };
    return cmocka_run_group_tests_name("js_limits", tests, NULL, NULL);
}
