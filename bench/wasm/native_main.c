/* SPDX-License-Identifier: MIT
 *
 * native_main.c - times a benchmark guest compiled natively (gcc -O2).
 *
 * usage: native_<guest> [REPS]     prints result=<u64> best_ms=<t>
 *
 * run() writes only static storage and reinitialises what it uses, so
 * repeated calls do the same work; the fastest of REPS (default 3) counts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t run(void);

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
    double best = 1e300;
    uint64_t result = 0;
    for (long r = 0; r < reps; r++) {
        const double t0 = now_ms();
        result = run();
        const double t = now_ms() - t0;
        if (t < best)
            best = t;
    }
    printf("result=%" PRIu64 " best_ms=%.3f\n", result, best);
    return 0;
}
