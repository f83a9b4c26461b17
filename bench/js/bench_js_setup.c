/* SPDX-License-Identifier: MIT
 *
 * bench_js_setup.c - what one trivial JavaScript job costs in a warm VM
 * (context, host API, first-use accessors, run, release), for callgrind's
 * instruction counts, which repeat on a shared machine where wall time does
 * not (style.md 2.14):
 *
 *   valgrind --tool=callgrind --toggle-collect=sr_js_run \
 *       build/release/bench/js/bench_js_setup 60
 *
 * Runs N (default 60) jobs of `function main(input) { return {ok: true}; }`
 * in one VM without the JIT (its compiler threads would blur the counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_js.h"

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 60;
    if (n < 1 || n > 100000) {
        fprintf(stderr, "usage: bench_js_setup [JOBS, 1..100000]\n");
        return 2;
    }
    static const char script[] = "function main(input) { return {ok: true}; }";
    sr_err e = {0};
    sr_js_vm *vm = NULL;
    const struct sr_js_options o = {.no_jit = true};
    if (sr_crypto_init(&e) != SR_OK || sr_js_vm_new(&o, &vm, &e) != SR_OK) {
        fprintf(stderr, "bench_js_setup: %s\n", e.msg);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        const struct sr_js_job job = {
            .script = script, .script_len = strlen(script), .statm_fd = -1};
        struct sr_js_result r = {0};
        if (sr_js_run(vm, &job, &r, &e) != SR_OK || !r.ok) {
            fprintf(stderr, "bench_js_setup: job %ld failed: %s\n", i,
                    r.error_message ? r.error_message : e.msg);
            sr_js_result_fini(&r);
            sr_js_vm_free(vm);
            return 1;
        }
        sr_js_result_fini(&r);
    }
    sr_js_vm_free(vm);
    printf("%ld trivial jobs\n", n);
    return 0;
}
