/* SPDX-License-Identifier: MIT
 *
 * route_stats.c - the caller's statistics and the filters of the job list
 * (docs/http-api.md), what the dashboard's Stats and Jobs pages need:
 *   GET /stats?since=&until=&step=   finished jobs per bin: status, runtime,
 *                                    error codes, gas, run-time percentiles
 *   GET /jobs?status=&runtime=&since=&until=  (the filter is parsed here;
 *                                    the route is router.c's)
 * A time is RFC 3339 ("2026-11-21T10:00:00Z") or Unix milliseconds. A query
 * parameter a route does not take is a 400 naming it, as /execute refuses
 * unknown fields.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

bool
sr_api__is_stats_path(const char *path)
{
    return strcmp(path, "/stats") == 0;
}

/* A time parameter: RFC 3339 or Unix ms (0..year 9999). */
static sr_status
parse_time(const char *v, const char *name, int64_t *out, sr_err *err)
{
    if (v[0] >= '0' && v[0] <= '9' && strchr(v, '-') == NULL)
        return sr_parse_i64(v, 0, 253402300799999, name, out, err);
    if (sr_time_parse_rfc3339(v, strlen(v), out))
        return SR_OK;
    return sr_err_set(err, SR_EINVAL,
                      "%s must be an RFC 3339 time like 2026-11-21T10:00:00Z or Unix "
                      "milliseconds, got '%.40s'",
                      name, v);
}

/* Refuses a query parameter that 'route' does not take; 'takes' lists them. */
static bool
refuse_unknown(const struct sr_api_request *req, const char *const *others, const char *route,
               const char *takes, struct sr_api_response *resp)
{
    const char *bad = req->query_unknown;
    for (size_t i = 0; !bad && others[i]; i += 2)
        if (others[i + 1])
            bad = others[i];
    if (!bad)
        return false;
    char msg[256];
    (void)snprintf(msg, sizeof(msg), "unknown query parameter '%.40s' for %s; it takes %s", bad,
                   route, takes);
    sr_api__reply_error(resp, 400, msg);
    return true;
}

bool
sr_api__job_filter_parse(const struct sr_api_request *req, struct sr_job_filter *f,
                         struct sr_api_response *resp)
{
    const char *const others[] = {"prefix", req->query_prefix, "after", req->query_after,
                                  "step",   req->query_step,   NULL,    NULL};
    memset(f, 0, sizeof(*f));
    if (refuse_unknown(req, others, "GET /jobs", "limit, before, status, runtime, since, until",
                       resp))
        return false;
    static const char *const states[] = {"queued", "running", "completed", "failed"};
    if (req->query_status) {
        for (int i = 0; i < 4 && !f->has_state; i++)
            if (strcmp(req->query_status, states[i]) == 0) {
                f->has_state = true;
                f->state = (enum sr_job_state)i;
            }
        if (!f->has_state) {
            char msg[160];
            (void)snprintf(msg, sizeof(msg),
                           "query parameter 'status' must be queued, running, completed or "
                           "failed, got '%.40s'",
                           req->query_status);
            sr_api__reply_error(resp, 400, msg);
            return false;
        }
    }
    if (req->query_runtime) {
        if (strcmp(req->query_runtime, "js") != 0 && strcmp(req->query_runtime, "wasm") != 0) {
            char msg[128];
            (void)snprintf(msg, sizeof(msg),
                           "query parameter 'runtime' must be js or wasm, got '%.40s'",
                           req->query_runtime);
            sr_api__reply_error(resp, 400, msg);
            return false;
        }
        f->runtime = req->query_runtime;
    }
    sr_err e = {0};
    if ((req->query_since &&
         parse_time(req->query_since, "query parameter 'since'", &f->since_ms, &e) != SR_OK) ||
        (req->query_until &&
         parse_time(req->query_until, "query parameter 'until'", &f->until_ms, &e) != SR_OK)) {
        sr_api__reply_status(resp, &e, "listing jobs");
        return false;
    }
    if (req->query_since && req->query_until && f->until_ms <= f->since_ms) {
        sr_api__reply_error(resp, 400, "query parameter 'since' must be before 'until'");
        return false;
    }
    return true;
}

void
sr_api__route_stats(sr_api *api, const char *owner, const struct sr_api_request *req,
                    struct sr_api_response *resp)
{
    const char *const others[] = {"limit",   req->query_limit,
                                  "before",  req->query_before,
                                  "prefix",  req->query_prefix,
                                  "after",   req->query_after,
                                  "status",  req->query_status,
                                  "runtime", req->query_runtime,
                                  NULL,      NULL};
    if (strcmp(req->method, "GET") != 0) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "method %.10s not allowed on '/stats'; use GET",
                       req->method);
        sr_api__reply_error(resp, 405, msg);
        return;
    }
    if (refuse_unknown(req, others, "GET /stats", "since, until, step", resp))
        return;
    sr_err e = {0};
    int64_t step_s = SR_STATS_DEFAULT_STEP_MS / 1000;
    struct sr_stats_window w = {.until_ms = sr_now_ms()};
    if (req->query_step && sr_parse_i64(req->query_step, 1, 86400,
                                        "query parameter 'step' (seconds)", &step_s, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    w.step_ms = step_s * 1000;
    if (req->query_until &&
        parse_time(req->query_until, "query parameter 'until'", &w.until_ms, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    if (!req->query_until) /* the current bin ends at the next whole step */
        w.until_ms = (w.until_ms / w.step_ms + 1) * w.step_ms;
    w.since_ms = w.until_ms - SR_STATS_DEFAULT_WINDOW_MS;
    if (req->query_since &&
        parse_time(req->query_since, "query parameter 'since'", &w.since_ms, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    if (!req->query_since && SR_STATS_DEFAULT_WINDOW_MS % w.step_ms) /* whole steps back */
        w.since_ms = w.until_ms - (SR_STATS_DEFAULT_WINDOW_MS / w.step_ms + 1) * w.step_ms;
    if (sr_engine_job_stats(api->eng, owner, &w, &resp->body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    resp->status = 200;
}
