/* SPDX-License-Identifier: MIT
 *
 * route_stats.c - the caller's statistics and the filters of the job list
 * (docs/http-api.md), what the dashboard's Stats and Jobs pages need:
 *   GET /stats?since=&until=&step=   finished jobs per bin: status, runtime,
 *                                    error codes, gas, run-time percentiles
 *   GET /jobs?status=&runtime=&since=&until=  (the filter is parsed here;
 *                                    the route is router.c's)
 * A time is RFC 3339 ("2026-11-21T10:00:00Z") or Unix milliseconds. The
 * route table refuses query parameters a route does not take.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* The value of query parameter 'key', or NULL. */
static const char *
query(const struct sr_api_request *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
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

static bool
parse_state(const char *v, struct sr_job_filter *f, sr_err *err)
{
    static const char *const states[] = {"queued", "running", "completed", "failed"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, states[i]) == 0) {
            f->has_state = true;
            f->state = (enum sr_job_state)i;
            return true;
        }
    (void)sr_err_set(err, SR_EINVAL,
                     "query parameter 'status' must be queued, running, completed or failed, got "
                     "'%.40s'",
                     v);
    return false;
}

bool
sr_api__job_filter_parse(const struct sr_api_request *req, struct sr_job_filter *f,
                         struct sr_api_response *resp)
{
    memset(f, 0, sizeof(*f));
    sr_err e = {0};
    const char *status = query(req, "status"), *runtime = query(req, "runtime");
    const char *since = query(req, "since"), *until = query(req, "until");
    bool ok = !status || parse_state(status, f, &e);
    if (ok && runtime && strcmp(runtime, "js") != 0 && strcmp(runtime, "wasm") != 0) {
        (void)sr_err_set(&e, SR_EINVAL, "query parameter 'runtime' must be js or wasm, got '%.40s'",
                         runtime);
        ok = false;
    }
    f->runtime = runtime;
    ok = ok && (!since || parse_time(since, "query parameter 'since'", &f->since_ms, &e) == SR_OK);
    ok = ok && (!until || parse_time(until, "query parameter 'until'", &f->until_ms, &e) == SR_OK);
    if (ok && since && until && f->until_ms <= f->since_ms) {
        (void)sr_err_set(&e, SR_EINVAL, "query parameter 'since' must be before 'until'");
        ok = false;
    }
    if (!ok)
        sr_api__reply_status(resp, &e, "listing jobs");
    return ok;
}

/* The window of GET /stats from since, until and step (defaults: the hour
 * up to the end of the current step, by the minute). */
static sr_status
stats_window(const struct sr_api_request *req, struct sr_stats_window *w, sr_err *e)
{
    int64_t step_s = SR_STATS_DEFAULT_STEP_MS / 1000;
    const char *step = query(req, "step"), *since = query(req, "since");
    const char *until = query(req, "until");
    if (step &&
        sr_parse_i64(step, 1, 86400, "query parameter 'step' (seconds)", &step_s, e) != SR_OK)
        return SR_EINVAL;
    w->step_ms = step_s * 1000;
    w->until_ms = sr_now_ms();
    if (until && parse_time(until, "query parameter 'until'", &w->until_ms, e) != SR_OK)
        return SR_EINVAL;
    if (!until) /* the current bin ends at the next whole step */
        w->until_ms = (w->until_ms / w->step_ms + 1) * w->step_ms;
    w->since_ms = w->until_ms - SR_STATS_DEFAULT_WINDOW_MS;
    if (!since && SR_STATS_DEFAULT_WINDOW_MS % w->step_ms) /* whole steps back */
        w->since_ms = w->until_ms - (SR_STATS_DEFAULT_WINDOW_MS / w->step_ms + 1) * w->step_ms;
    if (since && parse_time(since, "query parameter 'since'", &w->since_ms, e) != SR_OK)
        return SR_EINVAL;
    return SR_OK;
}

void
sr_api__stats(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_stats_window w = {0};
    sr_err e = {0};
    if (stats_window(c->req, &w, &e) != SR_OK ||
        sr_engine_job_stats(api->eng, c->owner, &w, &resp->body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    resp->status = 200;
}
