/* SPDX-License-Identifier: MIT
 *
 * router.c - maps (method, path) to a handler and runs it: authentication,
 * the job endpoints, and the public health/ready/info endpoints.
 *
 * Every handler fills a status and a JSON body; nothing here touches a
 * socket. Authentication failures and "not yours" are indistinguishable
 * from "missing" by design (401 / 404 with fixed texts).
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

sr_status
sr_api_new(sr_engine *eng, sr_store *store, sr_api **out, sr_err *err)
{
    sr_api *api = calloc(1, sizeof(*api));
    if (!api)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the API");
    api->eng = eng;
    api->store = store;
    *out = api;
    return SR_OK;
}

void
sr_api_free(sr_api *api)
{
    free(api);
}

void
sr_api__reply_error(struct sr_api_response *resp, unsigned status, const char *msg)
{
    resp->status = status;
    resp->body = sr_api_error_body(status, msg);
}

/* Library failure: EINTERNAL and ENOMEM details go to the log only. */
void
sr_api__reply_status(struct sr_api_response *resp, const sr_err *e, const char *what)
{
    unsigned st = sr_api_http_status(e->status);
    if (st == 500) {
        char rid[SR_ID_HEX_LEN + 1];
        sr_random_id(rid);
        sr_log(SR_LOG_ERROR, "api", "request %s: %s: %s", rid, what, e->msg);
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "internal error; request id %s", rid);
        sr_api__reply_error(resp, 500, msg);
        return;
    }
    if (st == 503)
        sr_log(SR_LOG_WARN, "api", "%s: %s", what, e->msg);
    sr_api__reply_error(resp, st, e->msg);
}

/* Returns the owner (owned) or NULL after filling a 401/429/503 response.
 * An address over its limit of failed attempts (req->guard, guard.c) gets
 * 429 before its token is looked at; successes cost nothing. */
static char *
authenticate(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    const char *h = req->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        sr_api__reply_error(resp, 401,
                            "missing bearer token: send 'Authorization: Bearer <token>'");
        return NULL;
    }
    int64_t now_ms = sr_mono_us() / 1000;
    unsigned wait_s = sr_api__guard_wait(req->guard, &req->client, now_ms);
    if (wait_s) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg),
                       "too many failed authentications from this address; retry in %u s", wait_s);
        sr_api__reply_error(resp, 429, msg);
        resp->retry_after = wait_s;
        return NULL;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > SR_MAX_TOKEN_TEXT) {
        sr_api__guard_failed(req->guard, &req->client, now_ms);
        sr_api__reply_error(resp, 401, "invalid or revoked token");
        return NULL;
    }
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    char *owner = NULL;
    sr_err e = {0};
    sr_status rc = sr_store_token_owner(api->store, hash, &owner, &e);
    if (rc == SR_ENOTFOUND) {
        sr_api__guard_failed(req->guard, &req->client, now_ms);
        sr_api__reply_error(resp, 401, "invalid or revoked token");
        return NULL;
    }
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "checking a token");
        return NULL;
    }
    resp->authenticated = true;
    return owner;
}

char *
sr_api__authenticate(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    return authenticate(api, req, resp);
}

static void
route_execute(sr_api *api, const char *owner, const struct sr_api_request *req,
              struct sr_api_response *resp)
{
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
    json_t *job = NULL;
    rc = jr.async ? sr_engine_submit(api->eng, owner, &jr, &job, &e)
                  : sr_engine_execute(api->eng, owner, &jr, &resp->text, &resp->text_len, &e);
    bool async = jr.async;
    sr_job_request_fini(&jr);
    if (rc == SR_EBUSY) {
        sr_api__reply_error(resp, 429, e.msg);
        resp->retry_after = 1;
        return;
    }
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
route_job(sr_api *api, const char *owner, const char *id, struct sr_api_response *resp)
{
    if (!valid_job_id(id)) {
        sr_api__reply_error(resp, 404, "job not found");
        return;
    }
    sr_err e = {0};
    if (sr_engine_job_get(api->eng, owner, id, &resp->text, &resp->text_len, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "loading a job");
        return;
    }
    resp->status = 200;
}

static void
route_jobs(sr_api *api, const char *owner, const struct sr_api_request *req,
           struct sr_api_response *resp)
{
    int64_t limit = SR_DEFAULT_PAGE;
    sr_err e = {0};
    if (req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                         "query parameter 'limit'", &limit, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing jobs");
        return;
    }
    if (req->query_before && !valid_job_id(req->query_before)) {
        sr_api__reply_error(resp, 400,
                            "query parameter 'before' must be a job id (32 hex characters)");
        return;
    }
    if (sr_engine_job_list(api->eng, owner, (size_t)limit, req->query_before, &resp->text,
                           &resp->text_len, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing jobs");
        return;
    }
    resp->status = 200;
}

size_t
sr_api_body_limit(const char *method, const char *path)
{
    return strcmp(method, "POST") == 0 && strcmp(path, "/modules") == 0 ? SR_MAX_MODULE
                                                                        : SR_MAX_BODY;
}

static void
route_module_put(sr_api *api, const char *owner, const struct sr_api_request *req,
                 struct sr_api_response *resp)
{
    const char *ct = req->content_type;
    if (!ct || strncasecmp(ct, "application/wasm", 16) != 0) {
        sr_api__reply_error(resp, 400,
                            "POST /modules takes the raw module bytes with 'Content-Type: "
                            "application/wasm'");
        return;
    }
    if (req->body_len == 0) {
        sr_api__reply_error(resp, 400, "the request body is empty; send the module's bytes");
        return;
    }
    bool created = false;
    json_t *info = NULL;
    sr_err e = {0};
    sr_status rc = sr_engine_module_put(api->eng, owner, (const uint8_t *)req->body, req->body_len,
                                        &created, &info, &e);
    if (rc == SR_EBUSY)
        resp->retry_after = 1;
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "storing a module");
        return;
    }
    json_object_set_new(info, "created", json_boolean(created));
    resp->status = created ? 201 : 200;
    resp->body = info;
}

static void
route_module_get(sr_api *api, const char *owner, const char *hash, struct sr_api_response *resp)
{
    json_t *info = NULL;
    sr_err e = {0};
    if (sr_engine_module_info(api->eng, owner, hash, &info, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "loading a module");
        return;
    }
    resp->status = 200;
    resp->body = info;
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
route_info(sr_api *api, struct sr_api_response *resp)
{
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
}

static void
route_public(sr_api *api, const char *path, struct sr_api_response *resp)
{
    if (strcmp(path, "/health") == 0) {
        resp->status = 200;
        resp->body = json_pack("{s:s}", "status", "ok");
    } else if (strcmp(path, "/ready") == 0) {
        char why[128];
        if (sr_engine_ready(api->eng, why, sizeof(why))) {
            resp->status = 200;
            resp->body = json_pack("{s:s}", "status", "ready");
        } else {
            sr_api__reply_error(resp, 503, why);
        }
    } else {
        route_info(api, resp);
    }
}

static bool
is_public(const char *path)
{
    return strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 ||
           strcmp(path, "/info") == 0;
}

void
sr_api_dispatch(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    const char *m = req->method;
    const char *path = req->path;
    bool is_get = strcmp(m, "GET") == 0;
    bool is_post = strcmp(m, "POST") == 0;
    bool is_jobs = strcmp(path, "/jobs") == 0 || strncmp(path, "/jobs/", 6) == 0;
    bool is_module_put = strcmp(path, "/modules") == 0;
    bool is_module_get = strncmp(path, "/modules/", 9) == 0 && path[9];
    bool known = is_public(path) || strcmp(path, "/execute") == 0 || is_jobs || is_module_put ||
                 is_module_get || sr_api__is_secrets_path(path) ||
                 sr_api__is_attestation_path(path) || sr_api__is_storage_path(path);
    if (!known) {
        char msg[160];
        (void)snprintf(msg, sizeof(msg), "no such endpoint '%.100s'", path);
        sr_api__reply_error(resp, 404, msg);
        return;
    }
    if (sr_api__is_attestation_path(path)) {
        sr_api__route_attestation(api, req, resp);
        return;
    }
    if (sr_api__is_secrets_path(path)) {
        char *owner = authenticate(api, req, resp);
        if (owner)
            sr_api__route_secrets(api, owner, req, resp);
        free(owner);
        return;
    }
    if (sr_api__is_storage_path(path)) {
        char *owner = authenticate(api, req, resp);
        if (owner)
            sr_api__route_storage(api, owner, req, resp);
        free(owner);
        return;
    }
    if (sr_api__is_module_admin(m, path)) {
        char *owner = authenticate(api, req, resp);
        if (owner)
            sr_api__route_modules(api, owner, req, resp);
        free(owner);
        return;
    }
    bool want_post = strcmp(path, "/execute") == 0 || is_module_put;
    if ((want_post && !is_post) || (!want_post && !is_get)) {
        char msg[160];
        (void)snprintf(msg, sizeof(msg), "method %.10s not allowed on '%.100s'; use %s", m, path,
                       want_post ? "POST" : "GET");
        sr_api__reply_error(resp, 405, msg);
        return;
    }
    if (is_public(path)) {
        route_public(api, path, resp);
        return;
    }
    char *owner = authenticate(api, req, resp);
    if (!owner)
        return;
    if (is_module_put)
        route_module_put(api, owner, req, resp);
    else if (is_module_get)
        route_module_get(api, owner, path + 9, resp);
    else if (want_post)
        route_execute(api, owner, req, resp);
    else if (strcmp(path, "/jobs") == 0)
        route_jobs(api, owner, req, resp);
    else
        route_job(api, owner, path + 6, resp);
    free(owner);
}
