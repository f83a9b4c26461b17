/* SPDX-License-Identifier: MIT
 *
 * core_metrics_test.c - the Prometheus exposition: job counters by runtime,
 * status and code, cumulative histogram buckets with sum and count, the
 * gauges, store statements by connection, HTTP series by method, route and
 * status, an unknown method counted as OTHER, and the bounded series table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sealrun/sr_metrics.h"

static char *
render(sr_buf *b)
{
    sr_buf_init(b, 1u << 24);
    struct sr_metrics_gauges g = {
        .jobs_running = 3, .jobs_queued = 7, .processes_busy = 2, .processes_warm = 5};
    assert_int_equal(sr_metrics_render(&g, b, NULL), SR_OK);
    assert_int_equal(sr_buf_append(b, "", 1, NULL), SR_OK);
    return b->data;
}

static void
has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing '%s' in:\n%s", line, text);
}

static void
test_jobs_and_histograms(void **state)
{
    (void)state;
    sr_metrics_job(SR_RUNTIME_JS, SR_JOB_OK, 2000, 1500);        /* 2 ms */
    sr_metrics_job(SR_RUNTIME_JS, SR_JOB_OK, 40000, 50000);      /* 40 ms */
    sr_metrics_job(SR_RUNTIME_JS, SR_JOB_TIMEOUT, 30000000, 30); /* 30 s */
    sr_metrics_job(SR_RUNTIME_WASM, SR_JOB_GAS_EXHAUSTED, 500, 1000000000);
    sr_buf b;
    char *t = render(&b);
    has(t, "# TYPE sealrun_jobs_total counter\n");
    has(t, "sealrun_jobs_total{runtime=\"js\",status=\"completed\"} 2\n");
    has(t, "sealrun_jobs_total{runtime=\"js\",status=\"failed\",code=\"TIMEOUT\"} 1\n");
    has(t, "sealrun_jobs_total{runtime=\"wasm\",status=\"completed\"} 0\n");
    has(t, "sealrun_jobs_total{runtime=\"wasm\",status=\"failed\",code=\"GAS_EXHAUSTED\"} 1\n");
    /* buckets are cumulative: 2 ms is <= 0.0025, 40 ms <= 0.05, 30 s <= 30 */
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"0.001\"} 0\n");
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"0.0025\"} 1\n");
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"0.05\"} 2\n");
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"10\"} 2\n");
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"30\"} 3\n");
    has(t, "sealrun_job_duration_seconds_bucket{runtime=\"js\",le=\"+Inf\"} 3\n");
    has(t, "sealrun_job_duration_seconds_sum{runtime=\"js\"} 30.042\n");
    has(t, "sealrun_job_duration_seconds_count{runtime=\"js\"} 3\n");
    has(t, "sealrun_job_gas_bucket{runtime=\"wasm\",le=\"1e+09\"} 1\n");
    has(t, "sealrun_job_gas_bucket{runtime=\"wasm\",le=\"1e+08\"} 0\n");
    has(t, "sealrun_job_gas_sum{runtime=\"js\"} 51530\n");
    has(t, "sealrun_jobs_running 3\n");
    has(t, "sealrun_queue_depth 7\n");
    has(t, "sealrun_job_processes{state=\"busy\"} 2\n");
    has(t, "sealrun_job_processes{state=\"warm\"} 5\n");
    sr_buf_fini(&b);
}

static void
test_store_and_http(void **state)
{
    (void)state;
    sr_metrics_store(true, 2000000); /* 2 ms */
    sr_metrics_store(false, 20000);  /* 20 us */
    static const char route[] = "/jobs/{}";
    sr_metrics_http("GET", route, 200);
    sr_metrics_http("GET", route, 200);
    sr_metrics_http("GET", route, 404);
    sr_metrics_http("BREW", NULL, 405);
    sr_buf b;
    char *t = render(&b);
    has(t, "sealrun_store_statement_seconds_bucket{connection=\"writer\",le=\"0.001\"} 0\n");
    has(t, "sealrun_store_statement_seconds_bucket{connection=\"writer\",le=\"0.005\"} 1\n");
    has(t, "sealrun_store_statement_seconds_bucket{connection=\"reader\",le=\"5e-05\"} 1\n");
    has(t, "sealrun_http_requests_total{method=\"GET\",route=\"/jobs/{}\",status=\"200\"} 2\n");
    has(t, "sealrun_http_requests_total{method=\"GET\",route=\"/jobs/{}\",status=\"404\"} 1\n");
    has(t, "sealrun_http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"405\"} 1\n");
    sr_buf_fini(&b);
}

static void
test_series_table_is_bounded(void **state)
{
    (void)state;
    static const char route[] = "/x";
    for (unsigned s = 0; s < SR_METRICS_MAX_HTTP_SERIES + 50; s++)
        sr_metrics_http("PUT", route, 100 + s % 900);
    sr_buf b;
    char *t = render(&b);
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, "sealrun_http_requests_total{")) != NULL; p++)
        n++;
    assert_int_equal(n, SR_METRICS_MAX_HTTP_SERIES);
    has(t, "sealrun_http_requests_total{method=\"OTHER\",route=\"other\",status=\"0\"}");
    sr_buf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jobs_and_histograms),
        cmocka_unit_test(test_store_and_http),
        cmocka_unit_test(test_series_table_is_bounded),
    };
    return cmocka_run_group_tests_name("core_metrics", tests, NULL, NULL);
}
