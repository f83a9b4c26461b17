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
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_receipt.h"
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

/* The decoded query as the worker signed it: "k=v" joined by '&'. */
static bool
query_text(const struct sr_api_request *req, char *out, size_t cap)
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
    if (!query_text(req, query, sizeof(query))) {
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
    resp->status = 200;
    resp->body =
        json_pack("{s:o, s:i}", "worker", worker_json(&w), "heartbeat_s", SR_WORKER_HEARTBEAT_S);
}

void
sr_api__worker_heartbeat(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    struct sr_worker_row w;
    uint8_t hash[32];
    if (!worker_token(api, c->req, &w, hash, resp) || !worker_signed(c->req, NULL, &w, resp))
        return;
    if (c->req->body_len) {
        sr_api__reply(resp, SR_EINVAL, "POST /worker/heartbeat takes no body",
                      "a worker's heartbeat");
        return;
    }
    sr_err e = {0};
    if (sr_store_worker_seen(api->store, hash, sr_now_ms(), &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "a worker's heartbeat");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:i}", "id", w.id, "state", sr_worker_state_name(w.state),
                           "heartbeat_s", SR_WORKER_HEARTBEAT_S);
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
