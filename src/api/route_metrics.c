/* SPDX-License-Identifier: MIT
 *
 * route_metrics.c - GET /metrics on a metrics listener (sealrund
 * --metrics-listen, docs/operations.md): the engine's gauges read now and
 * the process's counters and histograms (sr_metrics.h), in the Prometheus
 * text format 0.0.4. A scrape reads no store (its cost does not grow with the
 * jobs stored). The answer is built in a buffer capped at 1 MiB: the
 * series are bounded (sr_metrics.h), so it is never near that.
 */
#include "api_int.h"

#include "sealrun/sr_buf.h"
#include "sealrun/sr_metrics.h"

#define METRICS_MAX_BYTES (1u << 20)

void
sr_api__metrics(sr_api *api, struct sr_api_response *resp)
{
    struct sr_engine_stats st;
    sr_err e = {0};
    sr_engine_live_stats(api->eng, &st);
    struct sr_metrics_gauges g = {
        .jobs_running = st.running,
        .jobs_queued = st.queued,
        .processes_busy = st.processes_busy,
        .processes_warm = st.processes - st.processes_busy,
    };
    sr_buf b;
    sr_buf_init(&b, METRICS_MAX_BYTES);
    if (sr_metrics_render(&g, &b, &e) != SR_OK) {
        sr_buf_fini(&b);
        sr_api__reply_status(resp, &e, "rendering metrics");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->raw_len = b.len;
    resp->raw_owned = sr_buf_steal(&b);
    resp->raw = resp->raw_owned;
    if (!resp->raw_owned && resp->raw_len) {
        resp->raw_len = 0;
        sr_api__reply(resp, SR_ENOMEM, "out of memory rendering metrics", "metrics");
    }
}
