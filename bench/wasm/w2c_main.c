/* SPDX-License-Identifier: MIT
 *
 * w2c_main.c - times a benchmark guest translated by wabt's wasm2c and
 * compiled with gcc -O2 (the near-native ceiling for a Wasm engine).
 *
 * Compiled once per guest with -DGUEST=<name> -include <name>.h (the header
 * wasm2c wrote); prints result=<u64> best_ms=<t> like native_main.c. Each of
 * the REPS (default 3) calls gets a fresh instance.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wasm-rt.h"

#define CAT3(a, b, c) a##b##c
#define XCAT3(a, b, c) CAT3(a, b, c)
#define INSTANCE_T XCAT3(Z_, GUEST, _instance_t)
#define INIT_MODULE XCAT3(Z_, GUEST, _init_module)
#define INSTANTIATE XCAT3(Z_, GUEST, _instantiate)
#define FREE XCAT3(Z_, GUEST, _free)
#define RUN XCAT3(Z_, GUEST, Z_run)
#define FUEL_GLOBAL XCAT3(Z_, GUEST, Z_sealrunZ3Afuel)

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
    long reps = argc > 1 ? strtol(argv[1], NULL, 10) : 3;
    if (reps < 1)
        reps = 1;
    wasm_rt_init();
    INIT_MODULE();
    double best = 1e300;
    uint64_t result = 0;
    uint64_t fuel_used = 0;
    for (long r = 0; r < reps; r++) {
        INSTANCE_T inst;
        INSTANTIATE(&inst);
        const double t0 = now_ms();
        result = RUN(&inst);
        const double t = now_ms() - t0;
        if (t < best)
            best = t;
#ifdef W2C_FUEL
        fuel_used = (uint64_t)W2C_FUEL - *FUEL_GLOBAL(&inst);
#endif
        FREE(&inst);
    }
    wasm_rt_free();
#ifdef W2C_FUEL
    printf("result=%" PRIu64 " best_ms=%.3f fuel_used=%" PRIu64 "\n", result, best, fuel_used);
#else
    (void)fuel_used;
    printf("result=%" PRIu64 " best_ms=%.3f\n", result, best);
#endif
    return 0;
}
