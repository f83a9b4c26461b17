/* SPDX-License-Identifier: MIT
 *
 * metrics.c - the process's counters and histograms (sr_metrics.h) and
 * their Prometheus text exposition. Counters and histogram buckets are
 * 64-bit integers updated with relaxed atomics (a scrape may see a job's
 * count before its bucket: Prometheus tolerates that); the HTTP series
 * table is a fixed array searched under a mutex, linear in its at most
 * SR_METRICS_MAX_HTTP_SERIES entries.
 */
#include "sealrun/sr_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAX_BOUNDS 16

/* A histogram: counts[i] of values <= bounds[i] (not cumulative here; the
 * exposition sums them), counts[n] above the last bound, the sum in the
 * recorded unit. */
struct hist {
    const double *bounds; /* in the exposition's unit */
    size_t n;
    double unit; /* exposition value = recorded value * unit */
    uint64_t counts[MAX_BOUNDS + 1];
    uint64_t sum;
};

static const double duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,      2.5,   5,    10,    30,   60,  120};
static const double gas_bounds[] = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12};
static const double store_bounds[] = {1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1};

#define NB(a) (sizeof(a) / sizeof((a)[0]))
#define HIST(b, u)                                                                                 \
    {                                                                                              \
        .bounds = (b), .n = NB(b), .unit = (u)                                                     \
    }

static const char *const runtimes[] = {"js", "wasm"};

static struct {
    uint64_t jobs[2][SR_JOB_CODE_COUNT_];
    struct hist duration[2];
    struct hist gas[2];
    struct hist store[2]; /* [0] readers, [1] the writer */
} m = {
    .duration = {HIST(duration_bounds, 1e-6), HIST(duration_bounds, 1e-6)},
    .gas = {HIST(gas_bounds, 1), HIST(gas_bounds, 1)},
    .store = {HIST(store_bounds, 1e-9), HIST(store_bounds, 1e-9)},
};

/* The native tier: WASM jobs by tier ([0] interp, [1] native), cache lookups
 * ([0] miss, [1] hit), evictions, compilations ([0] failed, [1] ok) and their
 * nanoseconds. */
static struct {
    uint64_t tier[2];
    uint64_t lookup[2];
    uint64_t evicted;
    uint64_t compiles[2];
    uint64_t compile_ns;
} nat;

struct http_series {
    const char *method; /* one of methods[] */
    const char *route;  /* static */
    unsigned status;
    uint64_t count;
};

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OTHER"};
static pthread_mutex_t http_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_series http[SR_METRICS_MAX_HTTP_SERIES];
static size_t nhttp;

static void
hist_add(struct hist *h, double value, uint64_t raw)
{
    size_t i = 0;
    while (i < h->n && value > h->bounds[i])
        i++;
    __atomic_fetch_add(&h->counts[i], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum, raw, __ATOMIC_RELAXED);
}

void
sr_metrics_job(enum sr_runtime rt, enum sr_job_code code, int64_t duration_us, uint64_t gas_used)
{
    unsigned r = rt == SR_RUNTIME_WASM ? 1 : 0;
    unsigned c = (unsigned)code < SR_JOB_CODE_COUNT_ ? (unsigned)code : SR_JOB_INTERNAL_ERROR;
    uint64_t us = duration_us > 0 ? (uint64_t)duration_us : 0;
    __atomic_fetch_add(&m.jobs[r][c], 1, __ATOMIC_RELAXED);
    hist_add(&m.duration[r], (double)us * 1e-6, us);
    hist_add(&m.gas[r], (double)gas_used, gas_used);
}

void
sr_metrics_wasm_tier(bool native)
{
    __atomic_fetch_add(&nat.tier[native ? 1 : 0], 1, __ATOMIC_RELAXED);
}

void
sr_metrics_native_lookup(bool hit)
{
    __atomic_fetch_add(&nat.lookup[hit ? 1 : 0], 1, __ATOMIC_RELAXED);
}

void
sr_metrics_native_evicted(unsigned n)
{
    __atomic_fetch_add(&nat.evicted, n, __ATOMIC_RELAXED);
}

void
sr_metrics_native_compile(bool ok, int64_t ns)
{
    __atomic_fetch_add(&nat.compiles[ok ? 1 : 0], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&nat.compile_ns, ns > 0 ? (uint64_t)ns : 0, __ATOMIC_RELAXED);
}

void
sr_metrics_store(bool writer, int64_t ns)
{
    uint64_t v = ns > 0 ? (uint64_t)ns : 0;
    hist_add(&m.store[writer ? 1 : 0], (double)v * 1e-9, v);
}

void
sr_metrics_http(const char *method, const char *route, unsigned status)
{
    const char *mt = methods[NB(methods) - 1];
    for (size_t i = 0; method && i + 1 < NB(methods); i++)
        if (strcmp(method, methods[i]) == 0)
            mt = methods[i];
    if (!route)
        route = "unmatched";
    if (status > 999)
        status = 0;
    (void)pthread_mutex_lock(&http_mu);
    size_t i = 0;
    while (i < nhttp &&
           !(http[i].method == mt && http[i].route == route && http[i].status == status))
        i++;
    if (i == nhttp && nhttp == SR_METRICS_MAX_HTTP_SERIES) {
        /* full: the last entry becomes the catch-all */
        i = nhttp - 1;
        http[i].method = methods[NB(methods) - 1];
        http[i].route = "other";
        http[i].status = 0;
    } else if (i == nhttp) {
        http[nhttp++] = (struct http_series){.method = mt, .route = route, .status = status};
    }
    http[i].count++;
    (void)pthread_mutex_unlock(&http_mu);
}

static uint64_t
load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static sr_status
render_hist(sr_buf *b, const char *name, const char *label, const char *value, const struct hist *h,
            sr_err *err)
{
    uint64_t cum = 0;
    sr_status rc = SR_OK;
    for (size_t i = 0; rc == SR_OK && i <= h->n; i++) {
        cum += load(&h->counts[i]);
        if (i < h->n)
            rc = sr_buf_printf(b, err, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value,
                               h->bounds[i], (unsigned long long)cum);
        else
            rc = sr_buf_printf(b, err, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label,
                               value, (unsigned long long)cum);
    }
    if (rc == SR_OK)
        rc = sr_buf_printf(b, err, "%s_sum{%s=\"%s\"} %.9g\n%s_count{%s=\"%s\"} %llu\n", name,
                           label, value, (double)load(&h->sum) * h->unit, name, label, value,
                           (unsigned long long)cum);
    return rc;
}

static sr_status
render_jobs(sr_buf *b, sr_err *err)
{
    sr_status rc = sr_buf_printf(b, err,
                                 "# HELP sealrun_jobs_total Jobs finished, by runtime, status and "
                                 "error code (docs/errors.md).\n"
                                 "# TYPE sealrun_jobs_total counter\n");
    for (unsigned r = 0; rc == SR_OK && r < 2; r++) {
        rc = sr_buf_printf(b, err, "sealrun_jobs_total{runtime=\"%s\",status=\"completed\"} %llu\n",
                           runtimes[r], (unsigned long long)load(&m.jobs[r][0]));
        for (unsigned c = 1; rc == SR_OK && c < SR_JOB_CODE_COUNT_; c++) {
            uint64_t n = load(&m.jobs[r][c]);
            if (n)
                rc = sr_buf_printf(
                    b, err,
                    "sealrun_jobs_total{runtime=\"%s\",status=\"failed\",code=\"%s\"} %llu\n",
                    runtimes[r], sr_job_code_name((enum sr_job_code)c), (unsigned long long)n);
        }
    }
    if (rc == SR_OK)
        rc = sr_buf_printf(b, err,
                           "# HELP sealrun_job_duration_seconds Wall time of finished jobs.\n"
                           "# TYPE sealrun_job_duration_seconds histogram\n");
    for (unsigned r = 0; rc == SR_OK && r < 2; r++)
        rc = render_hist(b, "sealrun_job_duration_seconds", "runtime", runtimes[r], &m.duration[r],
                         err);
    if (rc == SR_OK)
        rc = sr_buf_printf(b, err,
                           "# HELP sealrun_job_gas Gas used by finished jobs (js: CPU "
                           "microseconds; wasm: fuel).\n"
                           "# TYPE sealrun_job_gas histogram\n");
    for (unsigned r = 0; rc == SR_OK && r < 2; r++)
        rc = render_hist(b, "sealrun_job_gas", "runtime", runtimes[r], &m.gas[r], err);
    return rc;
}

static sr_status
render_native(sr_buf *b, sr_err *err)
{
    return sr_buf_printf(
        b, err,
        "# HELP sealrun_wasm_jobs_total WASM jobs this process ran, by tier (docs/wasm.md "
        "\"Two tiers\").\n"
        "# TYPE sealrun_wasm_jobs_total counter\n"
        "sealrun_wasm_jobs_total{tier=\"interp\"} %llu\n"
        "sealrun_wasm_jobs_total{tier=\"native\"} %llu\n"
        "# HELP sealrun_native_compiles_total Modules compiled to native code, by result.\n"
        "# TYPE sealrun_native_compiles_total counter\n"
        "sealrun_native_compiles_total{result=\"ok\"} %llu\n"
        "sealrun_native_compiles_total{result=\"failed\"} %llu\n"
        "# HELP sealrun_native_compile_seconds_total Wall time spent compiling modules to "
        "native code.\n"
        "# TYPE sealrun_native_compile_seconds_total counter\n"
        "sealrun_native_compile_seconds_total %.9g\n"
        "# HELP sealrun_native_cache_total The native tier's object cache: lookups that found "
        "an object (hit) or not (miss), objects evicted (eviction).\n"
        "# TYPE sealrun_native_cache_total counter\n"
        "sealrun_native_cache_total{event=\"hit\"} %llu\n"
        "sealrun_native_cache_total{event=\"miss\"} %llu\n"
        "sealrun_native_cache_total{event=\"eviction\"} %llu\n",
        (unsigned long long)load(&nat.tier[0]), (unsigned long long)load(&nat.tier[1]),
        (unsigned long long)load(&nat.compiles[1]), (unsigned long long)load(&nat.compiles[0]),
        (double)load(&nat.compile_ns) * 1e-9, (unsigned long long)load(&nat.lookup[1]),
        (unsigned long long)load(&nat.lookup[0]), (unsigned long long)load(&nat.evicted));
}

static sr_status
render_http(sr_buf *b, sr_err *err)
{
    sr_status rc = sr_buf_printf(b, err,
                                 "# HELP sealrun_http_requests_total HTTP requests answered by the "
                                 "router, by method, route pattern and status.\n"
                                 "# TYPE sealrun_http_requests_total counter\n");
    (void)pthread_mutex_lock(&http_mu);
    for (size_t i = 0; rc == SR_OK && i < nhttp; i++)
        rc = sr_buf_printf(
            b, err, "sealrun_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %llu\n",
            http[i].method, http[i].route, http[i].status, (unsigned long long)http[i].count);
    (void)pthread_mutex_unlock(&http_mu);
    return rc;
}

sr_status
sr_metrics_render(const struct sr_metrics_gauges *g, sr_buf *b, sr_err *err)
{
    sr_status rc = render_jobs(b, err);
    if (rc == SR_OK)
        rc = sr_buf_printf(
            b, err,
            "# HELP sealrun_jobs_running Jobs running now.\n"
            "# TYPE sealrun_jobs_running gauge\n"
            "sealrun_jobs_running %u\n"
            "# HELP sealrun_queue_depth Async jobs waiting for a worker.\n"
            "# TYPE sealrun_queue_depth gauge\n"
            "sealrun_queue_depth %u\n"
            "# HELP sealrun_job_processes Live job processes, busy (running a job) or warm (kept "
            "for their owner).\n"
            "# TYPE sealrun_job_processes gauge\n"
            "sealrun_job_processes{state=\"busy\"} %u\n"
            "sealrun_job_processes{state=\"warm\"} %u\n",
            g->jobs_running, g->jobs_queued, g->processes_busy, g->processes_warm);
    if (rc == SR_OK)
        rc = sr_buf_printf(b, err,
                           "# HELP sealrun_store_statement_seconds Time of each store (SQLite) "
                           "statement, by connection.\n"
                           "# TYPE sealrun_store_statement_seconds histogram\n");
    if (rc == SR_OK)
        rc = render_hist(b, "sealrun_store_statement_seconds", "connection", "reader", &m.store[0],
                         err);
    if (rc == SR_OK)
        rc = render_hist(b, "sealrun_store_statement_seconds", "connection", "writer", &m.store[1],
                         err);
    if (rc == SR_OK)
        rc = render_native(b, err);
    if (rc == SR_OK)
        rc = render_http(b, err);
    return rc;
}
