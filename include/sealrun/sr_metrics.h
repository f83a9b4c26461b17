/* SPDX-License-Identifier: MIT
 *
 * sr_metrics.h - the process's counters and histograms, and their
 * Prometheus text exposition (format 0.0.4) for GET /metrics
 * (docs/operations.md lists every series).
 *
 * Every series has a bounded set of labels fixed here: runtimes, job codes
 * (sr_codes.h), store connections, and for HTTP a method from a fixed list,
 * a route pattern of the router's table and a status. So the memory behind
 * /metrics is a fixed size whatever clients send.
 *
 * Thread-safety: every function may be called from any thread at any time;
 * the recording functions take no lock except sr_metrics_http (a short one).
 */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_err.h"

/* At most this many (method, route, status) series; requests past it count
 * in one series with route "other". */
#define SR_METRICS_MAX_HTTP_SERIES 512

/* A finished job: its runtime, its code (SR_JOB_OK: completed), its wall
 * time and its gas (µs of CPU for JS, fuel for WASM). */
void sr_metrics_job(enum sr_runtime rt, enum sr_job_code code, int64_t duration_us,
                    uint64_t gas_used);

/* An HTTP request answered by the router: 'method' as sent (counted as
 * GET, HEAD, POST, PUT, DELETE or OTHER), 'route' the pattern of the
 * route that took it ("/jobs/{}"), which must be a static string, or NULL
 * for a request no route took. */
void sr_metrics_http(const char *method, const char *route, unsigned status);

/* One store statement on the writer connection or a reader, and how long it
 * took in nanoseconds. */
void sr_metrics_store(bool writer, int64_t ns);

/* A WASM job this process ran, by tier: the native tier or the interpreter. */
void sr_metrics_wasm_tier(bool native);

/* The native tier's cache (sr_native.h): a lookup that found an object (hit)
 * or did not (miss); 'n' objects evicted to keep it under its cap. */
void sr_metrics_native_lookup(bool hit);
void sr_metrics_native_evicted(unsigned n);

/* A compilation of a module to native code: whether it made an object, and
 * its wall time in nanoseconds. */
void sr_metrics_native_compile(bool ok, int64_t ns);

/* The values read at scrape time. */
struct sr_metrics_gauges {
    unsigned jobs_running;
    unsigned jobs_queued;
    unsigned processes_busy; /* job processes running a job */
    unsigned processes_warm; /* job processes kept for their owner's next job */
};

/* Appends the exposition of every series, and of the gauges, to b. */
sr_status sr_metrics_render(const struct sr_metrics_gauges *g, sr_buf *b, sr_err *err);

#endif /* SR_METRICS_H */
