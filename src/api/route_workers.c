/* SPDX-License-Identifier: MIT
 *
 * route_workers.c - remote workers (docs/workers.md): registration and
 * heartbeats of the workers themselves, and GET /workers for the operator.
 *
 * A worker authenticates every request twice: its worker token (Bearer;
 * only its SHA-256 is stored) and an Ed25519 signature of its worker key
 * over the request (sr_receipt.h, "a remote worker's signed requests"),
 * with a time within SR_WORKER_CLOCK_SKEW_MS of ours. The first
 * registration binds the key to the token; from then on a request signed
 * by any other key is refused, so a copied token alone gets nothing. A
 * revoked worker is refused at its next request (no cache). Failures
 * count against the client address like failed API tokens (guard.c).
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sealrun/sr_attest.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

#define QUERY_TEXT_MAX 512 /* bytes of the signed query text */

void
sr_api_set_worker_attestation(sr_api *api, bool require_tdx)
{
    api->workers_require_tdx = require_tdx;
}

static json_t *
text_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *
time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char t[32];
    sr_time_rfc3339(ms, t);
    return json_string(t);
}

/* A worker as the API shows it: never its token or the token's hash. */
static json_t *
worker_json(const struct sr_worker_row *w)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", w->id, "name",
                     w->name, "state", sr_worker_state_name(w->state), "public_key",
                     text_or_null(w->public_key), "measurement", text_or_null(w->measurement),
                     "attestation", text_or_null(w->attestation), "version",
                     text_or_null(w->version), "created_at", time_or_null(w->created_at_ms),
                     "registered_at", time_or_null(w->registered_at_ms), "last_seen_at",
                     time_or_null(w->seen_at_ms), "revoked_at", time_or_null(w->revoked_at_ms));
}

bool
sr_api__signed_query(const struct sr_api_request *req, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < req->nquery; i++) {
        int w = snprintf(out + at, cap - at, "%s%s=%s", i ? "&" : "", req->query[i].key,
                         req->query[i].value);
        if (w < 0 || (size_t)w >= cap - at)
            return false;
        at += (size_t)w;
    }
    return true;
}

/* A refusal of the worker's credentials: counted against the address. */
static void
refuse(const struct sr_api_request *req, struct sr_api_response *resp, sr_status st,
       const char *msg)
{
    sr_api__guard_failed(req->guard, &req->client, sr_mono_us() / 1000);
    sr_api__reply(resp, st, msg, "authenticating a worker");
}

/* Checks the worker token (known, not revoked) and the request's time.
 * true with *w filled and hash set; false after filling resp. */
static bool
worker_token(sr_api *api, const struct sr_api_request *req, struct sr_worker_row *w,
             uint8_t hash[32], struct sr_api_response *resp)
{
    if (!sr_api__bearer_hash(req->authorization, hash)) {
        sr_api__reply(resp, SR_EDENIED,
                      "missing worker token: send 'Authorization: Bearer <worker token>'",
                      "authenticating a worker");
        return false;
    }
    int64_t mono = sr_mono_us() / 1000;
    unsigned wait_s = sr_api__guard_wait(req->guard, &req->client, mono);
    if (wait_s) {
        char msg[128];
        (void)snprintf(msg, sizeof(msg),
                       "too many failed authentications from this address; retry in %u s", wait_s);
        resp->retry_after = wait_s;
        sr_api__reply(resp, SR_EBUSY, msg, "authenticating a worker");
        return false;
    }
    sr_err e = {0};
    sr_status rc = sr_store_worker_get(api->store, hash, w, &e);
    if (rc == SR_ENOTFOUND) {
        refuse(req, resp, SR_EDENIED, "invalid or revoked worker token");
        return false;
    }
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "checking a worker token");
        return false;
    }
    if (w->state == SR_WORKER_REVOKED) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "worker %s is revoked", w->id);
        refuse(req, resp, SR_EFORBIDDEN, msg);
        return false;
    }
    int64_t t = 0, now = sr_now_ms();
    if (!req->worker_time || sr_parse_i64(req->worker_time, 1, INT64_MAX / 2,
                                          "header " SR_WORKER_TIME_HEADER, &t, &e) != SR_OK) {
        refuse(req, resp, SR_EDENIED,
               "missing or malformed header " SR_WORKER_TIME_HEADER " (epoch milliseconds)");
        return false;
    }
    if (t < now - SR_WORKER_CLOCK_SKEW_MS || t > now + SR_WORKER_CLOCK_SKEW_MS) {
        char msg[160];
        (void)snprintf(msg, sizeof(msg),
                       "request time is %lld ms from the coordinator's clock; at most %d ms "
                       "are accepted (check the worker's clock)",
                       (long long)(t - now), SR_WORKER_CLOCK_SKEW_MS);
        refuse(req, resp, SR_EDENIED, msg);
        return false;
    }
    return true;
}

/* Checks the request's signature: by 'pk' when given (a registration
 * proves the key it brings), else by the key registered for w. */
static bool
worker_signed(const struct sr_api_request *req, const uint8_t *pk, const struct sr_worker_row *w,
              struct sr_api_response *resp)
{
    sr_err e = {0};
    uint8_t reg[SR_ED25519_PK_LEN];
    if (!pk) {
        if (!w->public_key[0] ||
            sr_hex_decode(w->public_key, 64, reg, sizeof(reg), NULL) != SR_OK) {
            char msg[128];
            (void)snprintf(msg, sizeof(msg),
                           "worker %s has not registered: POST /worker/register first", w->id);
            refuse(req, resp, SR_EDENIED, msg);
            return false;
        }
        pk = reg;
    }
    char query[QUERY_TEXT_MAX];
    if (!sr_api__signed_query(req, query, sizeof(query))) {
        sr_api__reply(resp, SR_EINVAL, "query string too long for a worker request",
                      "authenticating a worker");
        return false;
    }
    uint8_t digest[32];
    sr_worker_request_digest(req->method, req->path, query, req->worker_time, req->body,
                             req->body_len, digest);
    if (sr_worker_request_verify(pk, digest, req->worker_signature, &e) != SR_OK) {
        refuse(req, resp, SR_EDENIED, e.msg);
        return false;
    }
    resp->authenticated = true;
    return true;
}

bool
sr_api__worker_token_ok(sr_api *api, const uint8_t hash[32])
{
    struct sr_worker_row w;
    return sr_store_worker_get(api->store, hash, &w, NULL) == SR_OK && w.state != SR_WORKER_REVOKED;
}

/* What a registration brings (borrowed from the parsed body). */
struct reg_body {
    const char *public_key, *measurement, *attestation, *quote, *version;
};

static sr_status
parse_reg(const json_t *body, struct reg_body *r, sr_err *err)
{
    if (!json_is_object(body))
        return sr_err_set(err, SR_EINVAL, "request body must be a JSON object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)body, k, v)
    {
        const char **dst = strcmp(k, "public_key") == 0    ? &r->public_key
                           : strcmp(k, "measurement") == 0 ? &r->measurement
                           : strcmp(k, "attestation") == 0 ? &r->attestation
                           : strcmp(k, "quote") == 0       ? &r->quote
                           : strcmp(k, "version") == 0     ? &r->version
                                                           : NULL;
        if (!dst)
            return sr_err_set(err, SR_EINVAL,
                              "unknown field '%.64s'; expected public_key, measurement, "
                              "attestation, quote, version",
                              k);
        if (json_is_null(v) && strcmp(k, "quote") == 0)
            continue;
        if (!json_is_string(v))
            return sr_err_set(err, SR_EINVAL, "field '%s' must be a string", k);
        *dst = json_string_value(v);
    }
    if (!r->public_key || !sr_is_lower_hex(r->public_key, 64))
        return sr_err_set(err, SR_EINVAL,
                          "field 'public_key' must be the worker's Ed25519 key, 64 lower-case "
                          "hex characters");
    if (!r->measurement || !sr_is_lower_hex(r->measurement, 64))
        return sr_err_set(err, SR_EINVAL,
                          "field 'measurement' must be 64 lower-case hex characters");
    if (!r->attestation ||
        (strcmp(r->attestation, "none") != 0 && strcmp(r->attestation, "tdx") != 0))
        return sr_err_set(err, SR_EINVAL, "field 'attestation' must be \"none\" or \"tdx\"");
    if (strcmp(r->attestation, "tdx") == 0 && !r->quote)
        return sr_err_set(err, SR_EINVAL, "attestation \"tdx\" needs field 'quote' (base64)");
    if (strcmp(r->attestation, "none") == 0 && r->quote)
        return sr_err_set(err, SR_EINVAL, "attestation \"none\" has no 'quote'");
    if (!r->version || !*r->version || strlen(r->version) > 31)
        return sr_err_set(err, SR_EINVAL, "field 'version' must be 1..31 bytes");
    return SR_OK;
}

/* The attestation the coordinator accepts: with --worker-attestation tdx
 * only a TDX quote whose report_data binds (key, measurement). The quote's
 * signature chain is Intel's DCAP tooling's to check (docs/workers.md). */
static sr_status
check_attestation(const sr_api *api, const struct reg_body *r, const uint8_t pk[32], sr_err *err)
{
    if (strcmp(r->attestation, "none") == 0)
        return api->workers_require_tdx
                   ? sr_err_set(err, SR_EFORBIDDEN,
                                "this coordinator accepts only workers attested by TDX "
                                "(--worker-attestation tdx); the worker sent attestation "
                                "\"none\": start it with --attestation tdx on a TDX guest")
                   : SR_OK;
    uint8_t meas[32];
    uint8_t *quote = NULL;
    size_t qlen = 0;
    sr_status rc = sr_hex_decode(r->measurement, 64, meas, sizeof(meas), err);
    if (rc == SR_OK)
        rc = sr_base64_decode(r->quote, strlen(r->quote), &quote, &qlen, err);
    if (rc == SR_OK && (qlen == 0 || qlen > SR_ATTEST_MAX_QUOTE))
        rc = sr_err_set(err, SR_EINVAL, "field 'quote' must be 1..%u bytes, got %zu",
                        SR_ATTEST_MAX_QUOTE, qlen);
    if (rc == SR_OK)
        rc = sr_attest_tdx_check_binding(quote, qlen, pk, meas, err);
    free(quote);
    if (rc != SR_OK)
        return sr_err_wrap(err, "checking the worker's TDX quote");
    return SR_OK;
}

void
sr_api__worker_register(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    struct reg_body r = {0};
    uint8_t pk[SR_ED25519_PK_LEN], hash[32];
    struct sr_worker_row w;
    if (!worker_token(api, req, &w, hash, resp))
        return;
    sr_status rc =
        sr_json_parse(req->body ? req->body : "", req->body_len, 4, "request body", &body, &e);
    if (rc == SR_OK)
        rc = parse_reg(body, &r, &e);
    if (rc == SR_OK)
        rc = sr_hex_decode(r.public_key, 64, pk, sizeof(pk), &e);
    if (rc != SR_OK) {
        json_decref(body);
        sr_api__reply_status(resp, &e, "registering a worker");
        return;
    }
    /* the signature by the key it brings proves the worker holds it */
    if (!worker_signed(req, pk, &w, resp)) {
        json_decref(body);
        return;
    }
    rc = check_attestation(api, &r, pk, &e);
    if (rc == SR_OK) {
        const struct sr_worker_reg reg = {.public_key = r.public_key,
                                          .measurement = r.measurement,
                                          .attestation = r.attestation,
                                          .version = r.version,
                                          .now_ms = sr_now_ms()};
        rc = sr_store_worker_register(api->store, hash, &reg, &w, &e);
    }
    json_decref(body);
    if (rc != SR_OK) {
        sr_log(SR_LOG_WARN, "workers", "registration of worker %s refused: %s", w.id, e.msg);
        sr_api__reply_status(resp, &e, "registering a worker");
        return;
    }
    sr_log(SR_LOG_INFO, "workers", "worker %s (%s) registered: key %s, attestation %s", w.id,
           w.name, w.public_key, w.attestation);
    char holder[SR_ID_HEX_LEN + 1];
    sr_engine_worker_holder(pk, holder);
    sr_engine_worker_restarted(api->eng, holder); /* its jobs from before: INTERRUPTED now */
    resp->status = 200;
    resp->body =
        json_pack("{s:o, s:i}", "worker", worker_json(&w), "heartbeat_s", SR_WORKER_HEARTBEAT_S);
}

/* The lease holder id of a registered worker (its key's). */
static void
holder_of(const struct sr_worker_row *w, char holder[SR_ID_HEX_LEN + 1])
{
    uint8_t pk[SR_ED25519_PK_LEN];
    (void)sr_hex_decode(w->public_key, 64, pk, sizeof(pk), NULL); /* checked by worker_signed */
    sr_engine_worker_holder(pk, holder);
}

/* A worker's signed request with a JSON body: false after answering a
 * refused token or signature; else the worker, its token's hash and the parsed body (owned;
 * *rc and *e say why it does not parse). */
static bool
signed_json(sr_api *api, const struct sr_api__call *c, struct sr_worker_row *w, uint8_t hash[32],
            json_t **body, sr_status *rc, sr_err *e, struct sr_api_response *resp)
{
    if (!worker_token(api, c->req, w, hash, resp) || !worker_signed(c->req, NULL, w, resp))
        return false;
    *rc = sr_json_parse(c->req->body ? c->req->body : "", c->req->body_len, 4, "request body", body,
                        e);
    return true;
}

/* Renews the leases of the jobs a heartbeat names ({"jobs": [{"id",
 * "fence"}]}); the ids whose lease is lost go into 'lost'. */
static sr_status
renew_jobs(sr_api *api, const struct sr_worker_row *w, const struct sr_api_request *req,
           json_t *lost, sr_err *err)
{
    json_t *body = NULL;
    sr_status rc = sr_json_parse(req->body, req->body_len, 4, "request body", &body, err);
    if (rc != SR_OK)
        return rc;
    const json_t *jobs = json_object_get(body, "jobs");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_array(jobs) ||
        json_array_size(jobs) > SR_WORKER_MAX_JOBS) {
        json_decref(body);
        return sr_err_set(err, SR_EINVAL,
                          "a heartbeat's body is {\"jobs\": [{\"id\", \"fence\"}]} with at most "
                          "%d jobs",
                          SR_WORKER_MAX_JOBS);
    }
    char holder[SR_ID_HEX_LEN + 1];
    holder_of(w, holder);
    for (size_t i = 0; rc == SR_OK && i < json_array_size(jobs); i++) {
        const json_t *j = json_array_get(jobs, i);
        const char *id = json_string_value(json_object_get(j, "id"));
        const json_t *f = json_object_get(j, "fence");
        if (!id || !json_is_integer(f) || json_integer_value(f) < 1) {
            rc = sr_err_set(err, SR_EINVAL, "each of 'jobs' needs 'id' and 'fence' (>= 1)");
            break;
        }
        sr_err e = {0};
        sr_status r =
            sr_engine_worker_renew(api->eng, holder, id, (uint64_t)json_integer_value(f), &e);
        if (r == SR_ECONFLICT)
            json_array_append_new(lost, json_string(id));
        else if (r != SR_OK)
            sr_log(SR_LOG_WARN, "workers", "worker %s: renewing job '%.32s': %s", w->id, id, e.msg);
    }
    json_decref(body);
    return rc;
}

void
sr_api__worker_heartbeat(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_worker_row w;
    uint8_t hash[32];
    if (!worker_token(api, c->req, &w, hash, resp) || !worker_signed(c->req, NULL, &w, resp))
        return;
    sr_err e = {0};
    json_t *lost = json_array();
    if (!lost) {
        sr_api__reply(resp, SR_ENOMEM, "out of memory", "a worker's heartbeat");
        return;
    }
    if (c->req->body_len && renew_jobs(api, &w, c->req, lost, &e) != SR_OK) {
        json_decref(lost);
        sr_api__reply_status(resp, &e, "a worker's heartbeat");
        return;
    }
    if (sr_store_worker_seen(api->store, hash, sr_now_ms(), &e) != SR_OK) {
        json_decref(lost);
        sr_api__reply_status(resp, &e, "a worker's heartbeat");
        return;
    }
    resp->status = 200;
    resp->body =
        json_pack("{s:s, s:s, s:i, s:o}", "id", w.id, "state", sr_worker_state_name(w.state),
                  "heartbeat_s", SR_WORKER_HEARTBEAT_S, "lost", lost);
}

/* A polling worker may still get a job: its token is neither revoked nor
 * draining now (asked before each claim while the poll waits). */
struct poll_check {
    sr_api *api;
    uint8_t hash[32];
};

static bool
still_active(void *arg)
{
    struct poll_check *p = arg;
    struct sr_worker_row w;
    return sr_store_worker_get(p->api->store, p->hash, &w, NULL) == SR_OK &&
           w.state == SR_WORKER_ACTIVE;
}

/* A poll is taken once: its signature (over its time, within the clock
 * window) is remembered until that time is outside the window, so a poll
 * captured on the wire and sent again is refused instead of taking a job
 * in the worker's name. One scan of a fixed table: bounded memory. */
static bool
poll_fresh(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp)
{
    uint8_t d[32];
    int64_t t = 0, now = sr_now_ms();
    (void)sr_parse_i64(req->worker_time, 1, INT64_MAX / 2, "time", &t, NULL); /* checked */
    sr_sha256(req->worker_signature, strlen(req->worker_signature), d);
    pthread_mutex_lock(&api->seen_mu);
    struct sr_api__seen *free_slot = NULL;
    bool replay = false;
    for (size_t i = 0; i < SR_API_SEEN_POLLS; i++) {
        struct sr_api__seen *s = &api->seen[i];
        if (s->until_ms <= now) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (memcmp(s->h, d, sizeof(s->h)) == 0)
            replay = true;
    }
    if (!replay && free_slot) {
        memcpy(free_slot->h, d, sizeof(free_slot->h));
        free_slot->until_ms = t + SR_WORKER_CLOCK_SKEW_MS + 1000;
    }
    pthread_mutex_unlock(&api->seen_mu);
    if (replay) {
        refuse(req, resp, SR_EDENIED,
               "this poll was accepted before: a signed request is taken once (a replay is "
               "refused); sign each poll anew");
        return false;
    }
    if (!free_slot) {
        resp->retry_after = 1;
        sr_api__reply(resp, SR_EBUSY, "too many polls within the clock window; retry later",
                      "a worker's poll");
        return false;
    }
    return true;
}

void
sr_api__worker_jobs(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct poll_check pc = {.api = api};
    struct sr_worker_row w;
    if (!worker_token(api, c->req, &w, pc.hash, resp) || !worker_signed(c->req, NULL, &w, resp) ||
        !poll_fresh(api, c->req, resp))
        return;
    int64_t wait_s = 0;
    sr_err e = {0};
    const char *q = sr_api__query_value(c->req, "wait");
    if (q &&
        sr_parse_i64(q, 0, SR_WORKER_MAX_WAIT_S, "query parameter 'wait'", &wait_s, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "a worker's poll");
        return;
    }
    int64_t takes = 1;
    q = sr_api__query_value(c->req, "jobs");
    if (q && sr_parse_i64(q, 1, SR_ENGINE_WORKER_MAX_JOBS, "query parameter 'jobs'", &takes, &e) !=
                 SR_OK) {
        sr_api__reply_status(resp, &e, "a worker's poll");
        return;
    }
    (void)sr_store_worker_seen(api->store, pc.hash, sr_now_ms(), NULL);
    json_t *job = NULL;
    if (w.state == SR_WORKER_ACTIVE) {
        uint8_t pk[SR_ED25519_PK_LEN];
        (void)sr_hex_decode(w.public_key, 64, pk, sizeof(pk), NULL); /* checked: signed */
        if (sr_engine_worker_claim(api->eng, pk, (unsigned)takes, wait_s * 1000, still_active, &pc,
                                   &job, &e) != SR_OK) {
            sr_api__reply_status(resp, &e, "a worker's poll");
            return;
        }
    }
    if (job)
        sr_log(SR_LOG_INFO, "workers", "job '%s' handed to worker %s (fence %lld)",
               json_string_value(json_object_get(job, "id")), w.id,
               (long long)json_integer_value(json_object_get(job, "fence")));
    resp->status = 200;
    resp->body = json_pack("{s:o, s:s}", "job", job ? job : json_null(), "state",
                           sr_worker_state_name(w.state));
}

void
sr_api__worker_result(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_worker_row w;
    uint8_t hash[32];
    json_t *body = NULL;
    sr_err e = {0};
    sr_status rc = SR_OK;
    if (!signed_json(api, c, &w, hash, &body, &rc, &e, resp))
        return;
    const json_t *job = json_object_get(body, "job");
    const json_t *fence = json_object_get(body, "fence");
    const json_t *rec = json_object_get(body, "recording");
    if (rc == SR_OK &&
        (!json_is_object(body) || !json_is_string(job) || !json_is_integer(fence) ||
         json_integer_value(fence) < 1 || (rec && !json_is_null(rec) && !json_is_string(rec))))
        rc = sr_err_set(&e, SR_EINVAL,
                        "a result is {\"fence\": N, \"job\": \"<the job object's text>\", "
                        "\"recording\": base64 or null}");
    if (rc == SR_OK) {
        uint8_t pk[SR_ED25519_PK_LEN];
        char holder[SR_ID_HEX_LEN + 1];
        (void)sr_hex_decode(w.public_key, 64, pk, sizeof(pk), NULL); /* checked by worker_signed */
        holder_of(&w, holder);
        rc = sr_engine_worker_result(api->eng, holder, pk, c->arg[0],
                                     (uint64_t)json_integer_value(fence), json_string_value(job),
                                     json_string_length(job), json_string_value(rec), &e);
    }
    json_decref(body);
    if (rc == SR_EBUSY) { /* the storage end is to be asked for again */
        sr_api__reply_status(resp, &e, "a worker's result");
        return;
    }
    if (rc != SR_OK) {
        sr_log(SR_LOG_WARN, "workers", "result of worker %s for job '%.32s' refused: %s", w.id,
               c->arg[0], e.msg);
        sr_api__reply_status(resp, &e, "a worker's result");
        return;
    }
    (void)sr_store_worker_seen(api->store, hash, sr_now_ms(), NULL);
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s}", "job_id", c->arg[0], "status", "stored");
}

void
sr_api__workers_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)c;
    struct sr_worker_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_worker_list(api->store, &rows, &n, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing workers");
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, worker_json(&rows[i]));
    free(rows);
    resp->status = 200;
    resp->body = json_pack("{s:o}", "workers", list);
}

void
sr_api__worker_module(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_worker_row w;
    uint8_t hash[32];
    if (!worker_token(api, c->req, &w, hash, resp) || !worker_signed(c->req, NULL, &w, resp))
        return;
    const char *mh = c->arg[0];
    if (strlen(mh) != SR_HASH_HEX_LEN || !sr_is_lower_hex(mh, SR_HASH_HEX_LEN)) {
        sr_api__reply(resp, SR_EINVAL, "a module hash is 64 lower-case hex characters",
                      "a worker's module");
        return;
    }
    char holder[SR_ID_HEX_LEN + 1];
    holder_of(&w, holder);
    uint8_t *bytes = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (sr_engine_worker_module(api->eng, holder, mh, &bytes, &len, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "a worker's module");
        return;
    }
    char *b64 = sr_base64_encode(bytes, len);
    free(bytes);
    if (!b64) {
        sr_api__reply(resp, SR_ENOMEM, "out of memory", "a worker's module");
        return;
    }
    sr_log(SR_LOG_INFO, "workers", "module %.16s (%zu bytes) sent to worker %s", mh, len, w.id);
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s}", "hash", mh, "module", b64);
    free(b64);
}

/* POST /worker/jobs/{id}/storage: {"fence", "call": base64 host call} ->
 * {"answer": base64}, or {"fence", "end": {"code", "message"}} -> the
 * job's storage end. */
void
sr_api__worker_storage(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_worker_row w;
    uint8_t hash[32];
    json_t *body = NULL;
    sr_err e = {0};
    sr_status rc = SR_OK;
    if (!signed_json(api, c, &w, hash, &body, &rc, &e, resp))
        return;
    const json_t *fence = json_object_get(body, "fence");
    const json_t *call = json_object_get(body, "call");
    const json_t *end = json_object_get(body, "end");
    const json_t *cj = json_object_get(end, "code"); /* null: completed */
    const char *code = json_string_value(cj);
    enum sr_job_code jc = SR_JOB_OK;
    if (rc == SR_OK &&
        (!json_is_object(body) || !json_is_integer(fence) || json_integer_value(fence) < 1 ||
         (call != NULL) == (end != NULL) || (call && !json_is_string(call)) ||
         (end && !json_is_null(cj) && (!code || !sr_job_code_from_name(code, strlen(code), &jc)))))
        rc = sr_err_set(&e, SR_EINVAL,
                        "a storage request is {\"fence\": N, \"call\": base64} or {\"fence\": "
                        "N, \"end\": {\"code\": a job code or null, \"message\"}}");
    char holder[SR_ID_HEX_LEN + 1];
    holder_of(&w, holder);
    uint64_t f = (uint64_t)json_integer_value(fence);
    json_t *ans = NULL;
    if (rc == SR_OK && call) {
        uint8_t *raw = NULL;
        size_t len = 0;
        sr_buf out;
        sr_buf_init(&out, SR_STORAGE_MAX_VALUE + 64 * 1024);
        rc = sr_base64_decode(json_string_value(call), json_string_length(call), &raw, &len, &e);
        if (rc == SR_OK)
            rc = sr_engine_worker_storage(api->eng, holder, c->arg[0], f, raw, len, &out, &e);
        free(raw);
        char *b64 = rc == SR_OK
                        ? sr_base64_encode((const uint8_t *)(out.data ? out.data : ""), out.len)
                        : NULL;
        sr_buf_fini(&out);
        if (rc == SR_OK && !b64)
            rc = sr_err_set(&e, SR_ENOMEM, "out of memory");
        if (rc == SR_OK)
            ans = json_pack("{s:s}", "answer", b64);
        free(b64);
    } else if (rc == SR_OK) {
        const char *msg = json_string_value(json_object_get(end, "message"));
        rc = sr_engine_worker_storage_end(api->eng, holder, c->arg[0], f, jc, msg, &ans, &e);
    }
    json_decref(body);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "a worker's storage call");
        return;
    }
    resp->status = 200;
    resp->body = ans;
}
