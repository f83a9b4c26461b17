/* SPDX-License-Identifier: MIT
 *
 * wasm_bench.c - times one call of a benchmark guest's export "run" in sr_wasm.
 *
 * usage: wasm_bench [--fuel N] [--reps R] FILE.wasm
 *
 * Decodes, validates and translates the module once (compile time reported
 * separately), then R times (default 3): instantiate with the given fuel
 * (0 = unlimited), call run(), and keep the fastest call. Prints one line:
 *   result=<u64> best_ms=<t> compile_ms=<t> fuel_used=<n>
 * Exits 1 with a message if the module fails to load or run() traps.
 * Built twice by CMakeLists.txt: wasm_bench (the engine as shipped) and
 * wasm_bench_nofuel (the engine compiled with SR_WASM_NO_FUEL, which emits no
 * fuel instructions: the baseline for the cost of metering).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"

#define BENCH_MAX_MODULE (16u << 20)

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint8_t *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wasm_bench: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(BENCH_MAX_MODULE);
    *len = buf ? fread(buf, 1, BENCH_MAX_MODULE, f) : 0;
    fclose(f);
    if (!buf)
        fprintf(stderr, "wasm_bench: out of memory reading %s\n", path);
    return buf;
}

static int
parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

int
main(int argc, char **argv)
{
    struct sr_wasm_limits lim = {0};
    uint64_t reps = 3;
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        uint64_t v = 0;
        if (parse_u64(argv[i + 1], &v) != 0) {
            fprintf(stderr, "wasm_bench: %s wants a number, got '%s'\n", argv[i], argv[i + 1]);
            return 1;
        }
        if (strcmp(argv[i], "--fuel") == 0)
            lim.fuel = v;
        else if (strcmp(argv[i], "--reps") == 0 && v > 0)
            reps = v;
        else {
            fprintf(stderr, "wasm_bench: unknown option %s\n", argv[i]);
            return 1;
        }
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: wasm_bench [--fuel N] [--reps R] FILE.wasm\n");
        return 1;
    }
    size_t len = 0;
    uint8_t *bytes = read_file(argv[i], &len);
    if (!bytes)
        return 1;
    sr_err err;
    memset(&err, 0, sizeof err);
    sr_wasm_module *mod = NULL;
    double t0 = now_ms();
    if (sr_wasm_module_new(bytes, len, &mod, &err) != SR_OK) {
        fprintf(stderr, "wasm_bench: %s: %s\n", argv[i], err.msg);
        free(bytes);
        return 1;
    }
    const double compile_ms = now_ms() - t0;
    free(bytes);
    double best = 1e300;
    uint64_t result = 0, fuel = 0;
    int rc = 0;
    for (uint64_t r = 0; r < reps && rc == 0; r++) {
        sr_wasm_instance *inst = NULL;
        if (sr_wasm_instance_new(mod, &lim, &inst, &err) != SR_OK) {
            fprintf(stderr, "wasm_bench: instantiate: %s\n", err.msg);
            rc = 1;
            break;
        }
        t0 = now_ms();
        if (sr_wasm_call(inst, "run", NULL, 0, &result, 1, &err) != SR_OK) {
            fprintf(stderr, "wasm_bench: run(): %s\n", err.msg);
            rc = 1;
        }
        const double t = now_ms() - t0;
        if (t < best)
            best = t;
        fuel = sr_wasm_instance_fuel_used(inst);
        sr_wasm_instance_free(inst);
    }
    if (rc == 0)
        printf("result=%" PRIu64 " best_ms=%.3f compile_ms=%.3f fuel_used=%" PRIu64 "\n", result,
               best, compile_ms, fuel);
    sr_wasm_module_free(mod);
    return rc;
}
