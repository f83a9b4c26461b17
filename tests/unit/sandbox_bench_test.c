/* SPDX-License-Identifier: MIT
 *
 * tests/unit/sandbox_bench_test.c - measures the sandbox's own overhead with
 * a trivial job: a warm tenant process (two small frames per job) and job
 * mode (fork + limits + seccomp + job + kill per job), sequential and with
 * two callers. Prints the numbers; asserts only that every job succeeded
 * (timing is not asserted: the machine is shared).
 *
 * SR_SANDBOX_BENCH_N scales the run (default 400 tenant jobs, 100 job-mode
 * jobs per phase). For real numbers build the release preset and run
 *   SR_SANDBOX_BENCH_N=5000 build/release/sandbox_bench_test */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealrun/sr_sandbox.h"

static sr_status
b_job(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
      bool *discard, sr_err *err)
{
    (void)arg, (void)state, (void)child, (void)discard;
    return sr_buf_append(resp, req, len, err);
}

static sr_sandbox *g_tenant;
static sr_sandbox *g_job;
static long g_n = 400;

static uint64_t
now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct phase {
    sr_sandbox *sb;
    long n;
    const char *owner;
    uint64_t *lat; /* us per job, n entries */
    long ok;
};

static void *
phase_main(void *arg)
{
    struct phase *p = arg;
    sr_buf resp;

    sr_buf_init(&resp, 4096);
    for (long i = 0; i < p->n; i++) {
        struct sr_sandbox_report rep;
        uint64_t t0 = now_us();
        sr_buf_reset(&resp);
        if (sr_sandbox_run(p->sb, p->owner, (const uint8_t *)"{\"x\":1}", 7, NULL, &resp, &rep,
                           NULL) == SR_OK &&
            rep.outcome == SR_SANDBOX_OK && resp.len == 7)
            p->ok++;
        p->lat[i] = now_us() - t0;
    }
    sr_buf_fini(&resp);
    return NULL;
}

/* Runs 'threads' callers of n jobs each and prints jobs/s, p50 and p99. */
static void
measure(const char *name, sr_sandbox *sb, long n, int threads)
{
    struct phase ph[2];
    pthread_t t[2];
    uint64_t *all = calloc((size_t)(n * threads), sizeof(*all));
    const char *owners[2] = {"bench-a", "bench-b"};

    assert_non_null(all);
    uint64_t t0 = now_us();
    for (int i = 0; i < threads; i++) {
        ph[i] = (struct phase){.sb = sb, .n = n, .owner = owners[i], .lat = all + i * n};
        assert_int_equal(pthread_create(&t[i], NULL, phase_main, &ph[i]), 0);
    }
    for (int i = 0; i < threads; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(ph[i].ok, n);
    }
    uint64_t dt = now_us() - t0;
    size_t total = (size_t)(n * threads);
    qsort(all, total, sizeof(*all), cmp_u64);
    (void)printf("sandbox bench: %-22s %6zu jobs  %9.0f jobs/s  p50 %6llu us  p99 %6llu us\n", name,
                 total, (double)total * 1e6 / (double)(dt ? dt : 1),
                 (unsigned long long)all[total / 2], (unsigned long long)all[total * 99 / 100]);
    free(all);
}

static void
test_measures_tenant_overhead(void **state)
{
    (void)state;
    measure("tenant warm, 1 caller", g_tenant, g_n, 1);
    measure("tenant warm, 2 callers", g_tenant, g_n, 2);
}

static void
test_measures_job_mode_rate(void **state)
{
    (void)state;
    long n = g_n / 4 > 0 ? g_n / 4 : 1;
    measure("job mode, 1 caller", g_job, n, 1);
    measure("job mode, 2 callers", g_job, n, 2);
}

static int
group_setup(void **state)
{
    (void)state;
    const char *env = getenv("SR_SANDBOX_BENCH_N");
    if (env && strtol(env, NULL, 10) > 0)
        g_n = strtol(env, NULL, 10);
    struct sr_sandbox_config c = {.job_fn = b_job, .max_jobs_per_process = 1u << 30};
    if (sr_sandbox_new(&c, &g_tenant, NULL) != SR_OK)
        return -1;
    c.isolation = SR_ISOLATION_JOB;
    return sr_sandbox_new(&c, &g_job, NULL) == SR_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    sr_sandbox_free(g_tenant);
    sr_sandbox_free(g_job);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measures_tenant_overhead),
        cmocka_unit_test(test_measures_job_mode_rate),
    };
    return cmocka_run_group_tests_name("sandbox_bench", tests, group_setup, group_teardown);
}
