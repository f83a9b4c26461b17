/* SPDX-License-Identifier: MIT
 *
 * router.c - the route table: every endpoint of the API (docs/http-api.md)
 * with its method, path pattern, whether it needs a token and which scope,
 * the query parameters it takes and its body cap; matching, authentication, and the
 * job and public endpoints' handlers (the others are in route_*.c).
 *
 * Every handler fills a status and a JSON body; nothing here touches a
 * socket. Authentication failures and "not yours" are indistinguishable
 * from "missing" by design (401 / 404 with fixed texts). Errors carry the
 * HTTP status and code of their library status (sr_api__reply); only
 * routing's own answers (404 no such endpoint, 405) are named here.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_keystore.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_metrics.h"
#include "sealrun/sr_util.h"

sr_status
sr_api_new(sr_engine *eng, sr_store *store, sr_api **out, sr_err *err)
{
    sr_api *api = calloc(1, sizeof(*api));
    if (!api)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the API");
    api->eng = eng;
    api->store = store;
    pthread_mutex_init(&api->seen_mu, NULL);
    *out = api;
    return SR_OK;
}

void
sr_api_set_metrics_only(sr_api *api)
{
    api->metrics_only = true;
}

void
sr_api_free(sr_api *api)
{
    if (api) {
        free(api->dashboard_dir);
        sr_api__rates_free(api->rates);
        pthread_mutex_destroy(&api->seen_mu);
    }
    free(api);
}

sr_status
sr_api_set_rate_limits(sr_api *api, unsigned per_token, unsigned per_address,
                       const char *users_file, sr_err *err)
{
    sr_api__rates *r = NULL;
    sr_status rc = sr_api__rates_new(per_token, per_address, users_file, &r, err);
    if (rc != SR_OK)
        return rc;
    sr_api__rates_free(api->rates);
    api->rates = r;
    return SR_OK;
}

void
sr_api__reply_error(struct sr_api_response *resp, unsigned status, const char *msg)
{
    resp->status = status;
    resp->body = sr_api_error_body(status, msg);
}

/* Library failure: EINTERNAL and ENOMEM details go to the log only. */
void
sr_api__reply(struct sr_api_response *resp, sr_status st, const char *msg, const char *what)
{
    unsigned http = sr_api_http_status(st);
    if (http == 500) {
        char rid[SR_ID_HEX_LEN + 1];
        sr_random_id(rid);
        sr_log(SR_LOG_ERROR, "api", "request %s: %s: %s", rid, what, msg);
        char text[128];
        (void)snprintf(text, sizeof(text), "internal error; request id %s", rid);
        resp->status = http;
        resp->body = sr_api_status_body(st, text);
        return;
    }
    if (http == 503)
        sr_log(SR_LOG_WARN, "api", "%s: %s", what, msg);
    if (st == SR_EBUSY && !resp->retry_after)
        resp->retry_after = 1;
    if (st == SR_EBUDGET && !resp->retry_after) /* budgets reset at the next UTC midnight */
        resp->retry_after = (unsigned)(SR_DAY_MS - sr_now_ms() % SR_DAY_MS + 999) / 1000;
    resp->status = http;
    resp->body = sr_api_status_body(st, msg);
}

void
sr_api__reply_status(struct sr_api_response *resp, const sr_err *e, const char *what)
{
    sr_api__reply(resp, e->status, e->msg, what);
}

/* Returns true with *tok filled (caller: sr_token_row_fini) or false after
 * filling a 401/429/503 response. An address over its limit of failed
 * attempts (req->guard, guard.c) gets 429 before its token is looked at;
 * successes cost nothing. Expiry is judged on the wall clock. */
static bool
authenticate(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp,
             struct sr_token_row *tok_row)
{
    const char *h = req->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        sr_api__reply(resp, SR_EDENIED,
                      "missing bearer token: send 'Authorization: Bearer <token>'",
                      "authenticating");
        return false;
    }
    int64_t now_ms = sr_mono_us() / 1000;
    unsigned wait_s = sr_api__guard_wait(req->guard, &req->client, now_ms);
    if (wait_s) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg),
                       "too many failed authentications from this address; retry in %u s", wait_s);
        resp->retry_after = wait_s;
        sr_api__reply(resp, SR_EBUSY, msg, "authenticating");
        return false;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > SR_MAX_TOKEN_TEXT) {
        sr_api__guard_failed(req->guard, &req->client, now_ms);
        sr_api__reply(resp, SR_EDENIED, "invalid or revoked token", "authenticating");
        return false;
    }
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    sr_err e = {0};
    sr_status rc = sr_store_token_lookup(api->store, hash, sr_now_ms(), tok_row, &e);
    if (rc == SR_ENOTFOUND) {
        sr_api__guard_failed(req->guard, &req->client, now_ms);
        sr_api__reply(resp, SR_EDENIED, "invalid, revoked or expired token", "authenticating");
        return false;
    }
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "checking a token");
        return false;
    }
    resp->authenticated = true;
    return true;
}

char *
sr_api__authenticate(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    struct sr_token_row row;
    if (!authenticate(api, req, resp, &row))
        return NULL;
    char *owner = row.owner;
    row.owner = NULL;
    sr_token_row_fini(&row);
    return owner;
}

/* ---- the job and public endpoints ---- */

static void
route_execute(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    if (sr_json_parse(req->body ? req->body : "", req->body_len, SR_MAX_JSON_DEPTH, "request body",
                      &body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "parsing a request");
        return;
    }
    struct sr_job_request jr;
    sr_status rc = sr_job_request_parse(body, &jr, &e);
    json_decref(body);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "validating a request");
        return;
    }
    /* the token's budget counts the job (docs/accounts.md#budgets) */
    (void)snprintf(jr.token_id, sizeof(jr.token_id), "%s", c->token->id);
    json_t *job = NULL;
    rc = jr.async ? sr_engine_submit(api->eng, c->owner, &jr, &job, &e)
                  : sr_engine_execute(api->eng, c->owner, &jr, &resp->text, &resp->text_len, &e);
    bool async = jr.async;
    sr_job_request_fini(&jr);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "running a job");
        return;
    }
    resp->status = async ? 202 : 200;
    resp->body = job;
}

static bool
valid_job_id(const char *id)
{
    return sr_is_lower_hex(id, SR_ID_HEX_LEN);
}

static void
route_job(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    if (!valid_job_id(c->arg[0])) {
        sr_api__reply(resp, SR_ENOTFOUND, "job not found", "loading a job");
        return;
    }
    sr_err e = {0};
    if (sr_engine_job_get(api->eng, c->owner, c->arg[0], &resp->text, &resp->text_len, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "loading a job");
        return;
    }
    sr_api__test_tamper(api, resp);
    resp->status = 200;
}

/* GET /jobs/{id}/recording: a recorded job's sealed recording (docs/http.md
 * "Record and replay"), only to its owner. */
static void
route_job_recording(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    if (!valid_job_id(c->arg[0])) {
        sr_api__reply(resp, SR_ENOTFOUND, "job not found", "loading a recording");
        return;
    }
    sr_err e = {0};
    json_t *body = NULL;
    if (sr_engine_job_recording(api->eng, c->owner, c->arg[0], &body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "loading a recording");
        return;
    }
    resp->status = 200;
    resp->body = body;
}

static void
route_job_cancel(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    if (!valid_job_id(c->arg[0])) {
        sr_api__reply(resp, SR_ENOTFOUND, "job not found", "cancelling a job");
        return;
    }
    sr_err e = {0};
    if (sr_engine_job_cancel(api->eng, c->owner, c->arg[0], &resp->text, &resp->text_len, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "cancelling a job");
        return;
    }
    resp->status = 200;
}

static void
route_job_deliveries(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *body = NULL;
    if (sr_engine_job_deliveries(api->eng, c->owner, c->arg[0], &body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing a job's deliveries");
        return;
    }
    resp->status = 200;
    resp->body = body;
}

static void
route_jobs(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    int64_t limit = SR_DEFAULT_PAGE;
    sr_err e = {0};
    if (req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                         "query parameter 'limit'", &limit, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing jobs");
        return;
    }
    if (req->query_before && !valid_job_id(req->query_before)) {
        sr_api__reply(resp, SR_EINVAL,
                      "query parameter 'before' must be a job id (32 hex characters)",
                      "listing jobs");
        return;
    }
    struct sr_job_filter f;
    if (!sr_api__job_filter_parse(req, &f, resp))
        return;
    if (sr_engine_job_list(api->eng, c->owner, &f, (size_t)limit, req->query_before, &resp->text,
                           &resp->text_len, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing jobs");
        return;
    }
    resp->status = 200;
}

static json_t *
info_limits(void)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I}", "script_bytes",
        (json_int_t)SR_MAX_SCRIPT, "module_bytes", (json_int_t)SR_MAX_MODULE, "input_bytes",
        (json_int_t)SR_MAX_INPUT, "output_bytes", (json_int_t)SR_MAX_OUTPUT, "body_bytes",
        (json_int_t)SR_MAX_BODY, "log_entries", (json_int_t)SR_MAX_LOG_ENTRIES, "log_entry_bytes",
        SR_MAX_LOG_ENTRY, "timeout_default_s", SR_DEFAULT_TIMEOUT_S, "timeout_max_s",
        SR_MAX_TIMEOUT_S, "memory_default_mb", SR_DEFAULT_MEMORY_MB, "memory_max_mb",
        SR_MAX_MEMORY_MB, "random_bytes_max", SR_MAX_RANDOM_BYTES, "fuel_default",
        (json_int_t)SR_DEFAULT_FUEL, "fuel_max", (json_int_t)SR_MAX_FUEL);
}

/* GET /info "sandbox": what the zygote and the job processes run with
 * (docs/http-api.md, docs/security-model.md). */
static json_t *
info_sandbox(const sr_api *api)
{
    static const char *const names[] = {"user", "pid", "net", "mount", "ipc", "uts"};
    struct sr_sandbox_protections p;
    sr_engine_sandbox_protections(api->eng, &p);
    json_t *zns = json_array(), *jns = json_array();
    for (unsigned i = 0; i < 6; i++) {
        if (p.zygote_ns & (1u << i))
            json_array_append_new(zns, json_string(names[i]));
        if (p.job_ns & (1u << i))
            json_array_append_new(jns, json_string(names[i]));
    }
    return json_pack("{s:I, s:I, s:I, s:o, s:o, s:b, s:b}", "zygote_uid", (json_int_t)p.zygote_uid,
                     "job_uid_first", (json_int_t)p.job_uid_first, "job_uid_count",
                     (json_int_t)p.job_uid_count, "zygote_namespaces", zns, "job_namespaces", jns,
                     "empty_root", p.empty_root, "bounding_set_cleared", p.bounding_cleared);
}

static void
route_info(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)c;
    struct sr_engine_stats st;
    sr_err e = {0};
    if (sr_engine_stats(api->eng, &st, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading statistics");
        return;
    }
    const struct sr_engine_config *cfg = sr_engine_config(api->eng);
    json_t *limits = info_limits();
    json_object_set_new(limits, "running_jobs_per_user", json_integer(cfg->max_running_per_user));
    json_object_set_new(limits, "queued_jobs_per_user", json_integer(cfg->max_queued_per_user));
    /* --queue-max-age (docs/accounts.md#queue-expiry); 0: never */
    json_object_set_new(limits, "queue_max_age_s",
                        json_integer(cfg->queue_max_age_ms < 0 ? 0
                                     : cfg->queue_max_age_ms   ? cfg->queue_max_age_ms / 1000
                                                               : SR_DEFAULT_QUEUE_MAX_AGE_S));
    /* 0: no limit (docs/accounts.md#rate-limits); a user may have an override */
    json_object_set_new(limits, "requests_per_minute_per_token",
                        json_integer(sr_api__rate_per_token(api->rates)));
    json_object_set_new(limits, "requests_per_minute_per_address",
                        json_integer(sr_api__rate_per_address(api->rates)));
    char ttl[32];
    int64_t ms = st.result_ttl_ms;
    if (ms % 3600000 == 0)
        (void)snprintf(ttl, sizeof(ttl), "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        (void)snprintf(ttl, sizeof(ttl), "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        (void)snprintf(ttl, sizeof(ttl), "%llds", (long long)(ms / 1000));
    else
        (void)snprintf(ttl, sizeof(ttl), "%lldms", (long long)ms);
    resp->status = 200;
    resp->body = json_pack(
        "{s:s, s:s, s:{s:{s:s, s:b}, s:{s:s, s:s}}, s:s, s:o, s:{s:I, s:i, s:i, s:i}, s:s, "
        "s:I}",
        "name", "sealrun", "version", SR_VERSION, "engines", "js", "engine", sr_js_engine_version(),
        "jit", !cfg->js_no_jit, "wasm", "engine", "sealrun-wasm " SR_VERSION, "wasi", "preview1",
        "isolation", cfg->isolation == SR_ISOLATION_JOB ? "job" : "tenant", "limits", limits,
        "stats", "jobs_total", (json_int_t)st.jobs_total, "jobs_running", (int)st.running,
        "jobs_queued", (int)st.queued, "job_processes", (int)st.processes, "result_ttl", ttl,
        "result_ttl_ms", (json_int_t)st.result_ttl_ms);
    json_object_set_new(resp->body, "sandbox", info_sandbox(api));
    json_t *wasm = json_object_get(json_object_get(resp->body, "engines"), "wasm");
    json_t *native = sr_engine_native_info(api->eng);
    if (wasm && native)
        json_object_set_new(wasm, "native", native);
    json_t *cluster = sr_engine_cluster_info(api->eng);
    if (cluster)
        json_object_set_new(resp->body, "cluster", cluster);
}

static void
route_health(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)api;
    (void)c;
    resp->status = 200;
    resp->body = json_pack("{s:s}", "status", "ok");
}

static void
route_ready(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)c;
    char why[128];
    if (!sr_engine_ready(api->eng, why, sizeof(why))) {
        sr_api__reply(resp, SR_EIO, why, "readiness");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s}", "status", "ready");
}

/* The OpenAPI 3.1 description of every route below (docs/openapi.json,
 * built in; tests/integration/test_openapi.py checks real answers of every
 * route against it). */
static void
route_openapi(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)api;
    (void)c;
    resp->status = 200;
    resp->content_type = "application/json";
    resp->raw = sr_api__openapi;
    resp->raw_len = sr_api__openapi_len;
}

/* ---- the table ---- */

/* The table: every endpoint with the scope its token needs (sr_scope.h;
 * docs/accounts.md#scopes lists them, and tests/unit/api_scope_test.c
 * walks every row). SCOPE_TOKEN: any valid token; the handler decides
 * (the /tokens routes: a user's own tokens, or anyone's with admin). */
#define SCOPE_TOKEN 0u
#define EXEC SR_SCOPE_EXECUTE
#define JOBS SR_SCOPE_JOBS_READ
#define SEC_W SR_SCOPE_SECRETS_WRITE
#define SEC_R SR_SCOPE_SECRETS_READ
#define KV_R SR_SCOPE_STORAGE_READ
#define KV_W SR_SCOPE_STORAGE_WRITE
#define MOD_W SR_SCOPE_MODULES_WRITE

static const struct sr_api__route routes[] = {
    {"GET", "/health", false, 0, "", 0, route_health},
    {"GET", "/ready", false, 0, "", 0, route_ready},
    {"GET", "/info", false, 0, "", 0, route_info},
    {"GET", "/attestation", false, 0, "", 0, sr_api__attestation},
    {"GET", "/openapi.json", false, 0, "", 0, route_openapi},
    {"POST", "/execute", true, EXEC, "", 0, route_execute},
    {"GET", "/jobs", true, JOBS, "limit before status runtime since until", 0, route_jobs},
    {"GET", "/jobs/{}", true, JOBS, "", 0, route_job},
    {"GET", "/jobs/{}/recording", true, JOBS, "", 0, route_job_recording},
    {"GET", "/jobs/{}/deliveries", true, JOBS, "", 0, route_job_deliveries},
    {"POST", "/jobs/{}/cancel", true, EXEC, "", 64, route_job_cancel}, /* no body: at most "{}" */
    {"GET", "/modules", true, EXEC, "limit before", 0, sr_api__modules_list},
    {"POST", "/modules", true, MOD_W, "", SR_MAX_MODULE, sr_api__module_put},
    {"GET", "/modules/{}", true, EXEC, "", 0, sr_api__module_get},
    {"DELETE", "/modules/{}", true, MOD_W, "", 0, sr_api__module_delete},
    {"GET", "/secrets", true, SEC_R, "", 0, sr_api__secrets_list},
    {"GET", "/secrets/pubkey", true, SEC_W, "", 0, sr_api__secrets_pubkey},
    {"PUT", "/secrets/{}", true, SEC_W, "", 0, sr_api__secret_put},
    {"DELETE", "/secrets/{}", true, SEC_W, "", 0, sr_api__secret_delete},
    {"PUT", "/secrets/{}/policy", true, SEC_W, "", 0, sr_api__secret_policy},
    {"POST", "/secrets/{}/generate", true, SEC_W, "", 0, sr_api__secret_generate},
    {"GET", "/secrets/{}/audit", true, SEC_R, "limit before", 0, sr_api__secret_audit},
    {"GET", "/storage", true, KV_R, "", 0, sr_api__storage_namespaces},
    {"GET", "/storage/{}", true, KV_R, "prefix limit after", 0, sr_api__storage_list},
    {"GET", "/storage/{}/{*}", true, KV_R, "", 0, sr_api__storage_get},
    {"PUT", "/storage/{}/{*}", true, KV_W, "", 0, sr_api__storage_put},
    {"DELETE", "/storage/{}/{*}", true, KV_W, "", 0, sr_api__storage_delete},
    {"GET", "/stats", true, JOBS, "since until step", 0, sr_api__stats},
    {"GET", "/tokens", true, SCOPE_TOKEN, "user", 0, sr_api__tokens_list},
    {"POST", "/tokens", true, SCOPE_TOKEN, "", SR_API_TOKEN_BODY_MAX, sr_api__token_create},
    {"DELETE", "/tokens/{}", true, SCOPE_TOKEN, "", 0, sr_api__token_revoke},
    {"POST", "/estimate", true, EXEC, "", 0, sr_api__estimate},
    {"GET", "/account", true, SCOPE_TOKEN, "user limit before", 0, sr_api__account},
    {"POST", "/account/credit", true, SR_SCOPE_ADMIN, "", SR_API_CREDIT_BODY_MAX,
     sr_api__account_credit},
    {"GET", "/workers", true, SR_SCOPE_ADMIN, "", 0, sr_api__workers_list},
    /* a remote worker's own requests: its worker token and signature,
     * checked by the handler (route_workers.c) */
    {"POST", "/worker/register", false, 0, "", SR_API_WORKER_BODY_MAX, sr_api__worker_register},
    {"POST", "/worker/heartbeat", false, 0, "", SR_API_WORKER_BEAT_MAX, sr_api__worker_heartbeat},
    {"GET", "/worker/jobs", false, 0, "wait jobs", 0, sr_api__worker_jobs},
    {"GET", "/worker/modules/{}", false, 0, "", 0, sr_api__worker_module},
    {"POST", "/worker/jobs/{}/result", false, 0, "", SR_API_WORKER_RESULT_MAX,
     sr_api__worker_result},
    {"POST", "/worker/jobs/{}/storage", false, 0, "", SR_API_WORKER_STORAGE_MAX,
     sr_api__worker_storage},
    /* the keystore's requests: signed by its pinned key (route_keystore.c) */
    {"POST", "/keystore/context", false, 0, "", SR_API_KEYSTORE_CONTEXT_MAX,
     sr_api__keystore_context},
    {"POST", "/keystore/audit", false, 0, "", SR_API_KEYSTORE_AUDIT_MAX, sr_api__keystore_audit},
    {"GET", "/", false, 0, "", 0, sr_api__ui},
    {"HEAD", "/", false, 0, "", 0, sr_api__ui},
    {"GET", "/ui", false, 0, "", 0, sr_api__ui},
    {"HEAD", "/ui", false, 0, "", 0, sr_api__ui},
    {"GET", "/ui/", false, 0, "", 0, sr_api__ui},
    {"HEAD", "/ui/", false, 0, "", 0, sr_api__ui},
    {"GET", "/ui/{*}", false, 0, "", 0, sr_api__ui},
    {"HEAD", "/ui/{*}", false, 0, "", 0, sr_api__ui},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const struct sr_api__route *
sr_api__routes(size_t *n)
{
    *n = NROUTES;
    return routes;
}

/* Matches path against pattern; on a match the parts of the path the
 * pattern's {} and {*} stand for are recorded as (offset, length). Linear
 * in the path. */
static bool
match(const char *pattern, const char *path, size_t off[2], size_t len[2])
{
    const char *pp = pattern, *p = path;
    size_t n = 0;
    while (*pp && *p) {
        if (strncmp(pp, "{*}", 3) == 0) {
            if (n >= 2)
                return false;
            off[n] = (size_t)(p - path);
            len[n++] = strlen(p);
            return len[n - 1] > 0 && pp[3] == '\0';
        }
        if (strncmp(pp, "{}", 2) == 0) {
            const char *end = strchr(p, '/');
            size_t seg = end ? (size_t)(end - p) : strlen(p);
            if (seg == 0 || n >= 2)
                return false;
            off[n] = (size_t)(p - path);
            len[n++] = seg;
            p += seg;
            pp += 2;
            continue;
        }
        if (*pp != *p)
            return false;
        pp++;
        p++;
    }
    return *pp == '\0' && *p == '\0';
}

/* The route for (method, path), or NULL; then *auth says whether a route
 * of the path needs a token, and 'allowed' lists the methods it has ("GET,
 * PUT or DELETE"; empty when no route has the path). */
static const struct sr_api__route *
find(const char *method, const char *path, size_t off[2], size_t len[2], bool *auth, char *allowed,
     size_t cap)
{
    const char *names[NROUTES];
    size_t n = 0;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, path, off, len))
            continue;
        if (strcmp(routes[i].method, method) == 0)
            return &routes[i];
        *auth = *auth || routes[i].auth;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen = seen || strcmp(names[j], routes[i].method) == 0;
        if (!seen)
            names[n++] = routes[i].method;
    }
    size_t at = 0;
    for (size_t j = 0; j < n; j++) {
        const char *sep = j == 0 ? "" : j + 1 == n ? " or " : ", ";
        int w = snprintf(allowed + at, cap - at, "%s%s", sep, names[j]);
        if (w > 0 && (size_t)w < cap - at)
            at += (size_t)w;
    }
    return NULL;
}

/* Refuses a query parameter the route does not take (a typo must not be
 * silently ignored, as with unknown body fields). */
static bool
query_ok(const struct sr_api__route *r, const struct sr_api_request *req,
         struct sr_api_response *resp)
{
    for (size_t i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key;
        size_t n = strlen(k);
        const char *q = r->query;
        bool known = false;
        while (!known && (q = strstr(q, k)) != NULL) {
            known = (q == r->query || q[-1] == ' ') && (q[n] == ' ' || q[n] == '\0');
            q += n;
        }
        if (!known) {
            char msg[256];
            (void)snprintf(msg, sizeof(msg), "unknown query parameter '%.64s' for %s %s; %s%s", k,
                           r->method, r->pattern, *r->query ? "expected " : "it takes none",
                           r->query);
            sr_api__reply(resp, SR_EINVAL, msg, "routing");
            return false;
        }
    }
    return true;
}

size_t
sr_api_body_limit(const char *method, const char *path)
{
    size_t off[2], len[2];
    char allowed[64] = "";
    bool auth = false;
    const struct sr_api__route *r = find(method, path, off, len, &auth, allowed, sizeof(allowed));
    if (!r && strncmp(path, "/keystore/", 10) == 0)
        return SR_KEYSTORE_MAX_BODY; /* a keystore's own routes (route_keystore.c) */
    return r && r->body_max ? r->body_max : SR_MAX_BODY;
}

/* Takes one request from a bucket: false after filling a 429 naming the
 * limit; the headers show the bucket with the least left. */
static bool
rate_ok(sr_api *api, const uint8_t key[SR_API_RATE_KEY_LEN], unsigned per_min, const char *whose,
        struct sr_api_response *resp)
{
    struct sr_api__rate_answer a;
    sr_api__rate_take(api->rates, key, per_min, sr_mono_us(), &a);
    if (!a.limit)
        return true;
    if (!resp->ratelimit_limit || a.remaining < resp->ratelimit_remaining) {
        resp->ratelimit_limit = a.limit;
        resp->ratelimit_remaining = a.remaining;
        resp->ratelimit_reset = a.reset_s;
    }
    if (!a.refused)
        return true;
    char msg[200];
    (void)snprintf(msg, sizeof(msg),
                   "rate limit: %s may make %u requests per minute; retry in %u s", whose, a.limit,
                   a.retry_after_s);
    resp->retry_after = a.retry_after_s;
    sr_api__reply(resp, SR_EBUSY, msg, "rate limiting");
    return false;
}

/* The per-address limit (every route), before a token is looked at. */
static bool
address_rate_ok(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    uint8_t key[SR_API_RATE_KEY_LEN];
    sr_api__rate_key_address(&req->client, key);
    return rate_ok(api, key, sr_api__rate_per_address(api->rates), "this address", resp);
}

/* The per-token limit: the owner's override, or the default. */
static bool
token_rate_ok(sr_api *api, const struct sr_token_row *tok, struct sr_api_response *resp)
{
    uint8_t key[SR_API_RATE_KEY_LEN];
    char whose[32];
    sr_api__rate_key_token(tok->id, key);
    (void)snprintf(whose, sizeof(whose), "token %s", tok->id);
    return rate_ok(api, key, sr_api__rate_of(api->rates, tok->owner), whose, resp);
}

/* 403 when the token lacks the route's scope, naming it (and the token). */
static bool
scope_ok(const struct sr_api__route *r, const struct sr_token_row *tok,
         struct sr_api_response *resp)
{
    if ((tok->scopes & r->scope) == r->scope)
        return true;
    char need[SR_SCOPES_TEXT_MAX], has[SR_SCOPES_TEXT_MAX], msg[400];
    (void)snprintf(msg, sizeof(msg), "%s %s needs the '%s' scope; token %s has: %s", r->method,
                   r->pattern, sr_scopes_format(r->scope & ~tok->scopes, need, sizeof(need)),
                   tok->id, sr_scopes_format(tok->scopes, has, sizeof(has)));
    sr_api__reply(resp, SR_EFORBIDDEN, msg, "checking a scope");
    return false;
}

static void
call(sr_api *api, const struct sr_api__route *r, const struct sr_api_request *req,
     const size_t off[2], const size_t len[2], struct sr_api_response *resp)
{
    if (!query_ok(r, req, resp) || !address_rate_ok(api, req, resp))
        return;
    struct sr_token_row tok = {.id = ""};
    if (r->auth && !authenticate(api, req, resp, &tok))
        return;
    if (r->auth && (!token_rate_ok(api, &tok, resp) || !scope_ok(r, &tok, resp))) {
        sr_token_row_fini(&tok);
        return;
    }
    size_t n = strlen(req->path);
    char *parts = malloc(n + 2);
    if (!parts) {
        sr_token_row_fini(&tok);
        sr_api__reply(resp, SR_ENOMEM, "out of memory routing a request", "routing");
        return;
    }
    struct sr_api__call c = {.req = req, .owner = tok.owner, .arg = {"", ""}, .token = &tok};
    /* each part a C string: parts are disjoint and in order, so copying
     * them one after another with a NUL each fits in n + 2 bytes */
    size_t at = 0;
    for (size_t i = 0; i < 2 && len[i]; i++) {
        memcpy(parts + at, req->path + off[i], len[i]);
        parts[at + len[i]] = '\0';
        c.arg[i] = parts + at;
        at += len[i] + 1;
    }
    r->fn(api, &c, resp);
    free(parts);
    sr_token_row_fini(&tok);
}

/* GET /metrics, the only route of a metrics listener (sealrund
 * --metrics-listen): the Prometheus text exposition, unauthenticated. */
static void
dispatch_metrics(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    if (strcmp(req->path, "/metrics") != 0) {
        char msg[160];
        (void)snprintf(msg, sizeof(msg), "no such endpoint '%.100s'; this address serves /metrics",
                       req->path);
        sr_api__reply_error(resp, 404, msg);
    } else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "method %.10s not allowed on '/metrics'; use GET",
                       req->method);
        sr_api__reply_error(resp, 405, msg);
    } else if (req->nquery) {
        sr_api__reply(resp, SR_EINVAL, "GET /metrics takes no query parameters", "metrics");
    } else {
        sr_api__metrics(api, resp);
    }
    sr_metrics_http(req->method, resp->status == 404 ? NULL : "/metrics", resp->status);
}

void
sr_api_dispatch(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (api->metrics_only) {
        dispatch_metrics(api, req, resp);
        return;
    }
    if (api->keystore) {
        sr_api__dispatch_keystore(api, req, resp);
        return;
    }
    size_t off[2] = {0, 0}, len[2] = {0, 0};
    char allowed[64] = "";
    bool auth = false;
    const struct sr_api__route *r =
        find(req->method, req->path, off, len, &auth, allowed, sizeof(allowed));
    if (r) {
        call(api, r, req, off, len, resp);
        sr_metrics_http(req->method, r->pattern, resp->status);
        return;
    }
    char msg[224];
    if (allowed[0]) {
        (void)snprintf(msg, sizeof(msg), "method %.10s not allowed on '%.100s'; use %s",
                       req->method, req->path, allowed);
        sr_api__reply_error(resp, 405, msg);
    } else {
        (void)snprintf(msg, sizeof(msg), "no such endpoint '%.100s'", req->path);
        sr_api__reply_error(resp, 404, msg);
    }
    sr_metrics_http(req->method, NULL, resp->status);
}

const char *
sr_api__query_value(const struct sr_api_request *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}
