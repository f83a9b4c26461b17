/* SPDX-License-Identifier: MIT
 *
 * webhook.c - completion webhooks (docs/accounts.md#webhooks): an async
 * job's callback_url is checked at submit against the operator's outbound
 * HTTP policy and address guard and recorded in the store (a webhook row);
 * once the job has ended, a delivery worker of some daemon claims the row,
 * POSTs the job object (exactly GET /jobs/{id}'s text) signed with the
 * worker key, and records the attempt with the next state: delivered,
 * pending again after a pause that doubles each time, or failed after
 * SR_WEBHOOK_MAX_ATTEMPTS. The request goes through the same outbound HTTP
 * session as a job's fetch (policy on the hop, resolution once, connection
 * to the checked address, no redirects followed, the answer's body read up
 * to SR_WEBHOOK_MAX_RESPONSE). Rows live in the store, so pending
 * deliveries survive a restart, and a claim makes each attempt one
 * daemon's.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define CLAIM_MS (SR_WEBHOOK_TIMEOUT_MS + 50000) /* a claim outlives one attempt */
#define IDLE_WAIT_MS 1000                        /* a worker looks for due deliveries this often */
#define SIGN_DOMAIN "sealrun.webhook.v1"         /* signed: DOMAIN, a NUL byte, the body */

/* ---- at submit ---- */

sr_status
sr_engine__webhook_check(sr_engine *eng, const struct sr_job_request *req, sr_err *err)
{
    if (!req->callback_url)
        return SR_OK;
    if (!req->async)
        return sr_err_set(err, SR_EINVAL,
                          "field 'callback_url' needs \"async\": true (a synchronous job's "
                          "answer is its own notification)");
    if (!eng->wkey)
        return sr_err_set(err, SR_EINVAL,
                          "field 'callback_url': this server has no worker key to sign "
                          "deliveries with");
    char pattern[SR_FETCH_MAX_PATTERN + 16];
    if (sr_http_url_check(eng->http, req->callback_url, pattern, sizeof(pattern), err) != SR_OK)
        return sr_err_wrap(err, "field 'callback_url'");
    return SR_OK;
}

/* ---- one attempt ---- */

/* The body to POST: the job object, or, past the outbound request body
 * cap, the same object without its output and logs ("truncated": true;
 * the whole job stays at GET /jobs/{id}). Owned. */
static char *
body_of(char *text, size_t *len)
{
    if (*len <= SR_FETCH_MAX_REQUEST_BODY)
        return text;
    json_t *job = NULL;
    char *small = NULL;
    if (sr_json_parse_stored(text, *len, 2048 + 8, "stored job", &job, NULL) == SR_OK) {
        json_object_del(job, "output");
        json_object_del(job, "logs");
        json_object_del(job, "encrypted_output");
        json_object_set_new(job, "truncated", json_true());
        small = sr_json_dumps(job, JSON_COMPACT);
    }
    json_decref(job);
    free(text);
    *len = small ? strlen(small) : 0;
    return small;
}

struct attempt_out {
    unsigned status;
    bool ok;
    char error[256];
};

static void
header(struct sr_http_message *m, const char *name, const char *value)
{
    m->headers[m->nheaders++] =
        (struct sr_http_header){.name = {(const uint8_t *)name, strlen(name)},
                                .value = {(const uint8_t *)value, strlen(value)}};
}

/* POSTs body to url through an outbound HTTP session limited to the URL's
 * own host and port; fills *out. */
static void
post(sr_engine *eng, const char *url, const char *job_id, uint32_t attempt, const char *body,
     size_t len, struct attempt_out *out)
{
    char pattern[SR_FETCH_MAX_PATTERN + 16];
    sr_err e = {0};
    if (sr_http_url_check(eng->http, url, pattern, sizeof(pattern), &e) != SR_OK) {
        (void)snprintf(out->error, sizeof(out->error), "refused: %.200s", e.msg);
        return;
    }
    /* the signature: Ed25519 of the worker key over DOMAIN, NUL, body */
    size_t dlen = sizeof(SIGN_DOMAIN);
    uint8_t *msg = malloc(dlen + len);
    if (!msg) {
        (void)snprintf(out->error, sizeof(out->error), "out of memory");
        return;
    }
    memcpy(msg, SIGN_DOMAIN, dlen);
    memcpy(msg + dlen, body, len);
    uint8_t sig[SR_ED25519_SIG_LEN];
    sr_worker_key_sign(eng->wkey, msg, dlen + len, sig);
    free(msg);
    char sig_hex[2 * SR_ED25519_SIG_LEN + 1], pk_hex[2 * SR_ED25519_PK_LEN + 1], n[16];
    sr_hex_encode(sig, sizeof(sig), sig_hex);
    sr_hex_encode(eng->pk, sizeof(eng->pk), pk_hex);
    (void)snprintf(n, sizeof(n), "%u", attempt);

    char *allow[1] = {pattern};
    const struct sr_http_job job = {
        .allow = allow, .nallow = 1, .max_requests = 1, .max_response = SR_WEBHOOK_MAX_RESPONSE};
    const struct sr_http_session_config cfg = {
        .policy = eng->http,
        .job = &job,
        .deadline_us = sr_mono_us() + (int64_t)SR_WEBHOOK_TIMEOUT_MS * 1000,
    };
    sr_http_session *s = NULL;
    struct sr_http_message m = {
        .method = {(const uint8_t *)"POST", 4},
        .url = {(const uint8_t *)url, strlen(url)},
        .body = {(const uint8_t *)body, len},
        .timeout_ms = SR_WEBHOOK_TIMEOUT_MS,
        .redirect = SR_HTTP_REDIRECT_MANUAL, /* a redirect is an answer, never followed */
    };
    header(&m, "Content-Type", "application/json");
    header(&m, "User-Agent", "sealrund/" SR_VERSION);
    header(&m, "Sealrun-Job", job_id);
    header(&m, "Sealrun-Delivery", n);
    header(&m, "Sealrun-Signature", sig_hex);
    header(&m, "Sealrun-Worker-Key", pk_hex);
    sr_buf req, resp;
    sr_buf_init(&req, len + SR_FETCH_MAX_HEADER_BYTES + SR_WEBHOOK_MAX_URL + 64);
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    sr_status rc = sr_http_session_new(&cfg, &s, &e);
    if (rc == SR_OK)
        rc = sr_http_wire_request(&req, &m, &e);
    if (rc == SR_OK)
        rc = sr_http_session_handle(s, (const uint8_t *)req.data, req.len, &resp, &e);
    enum sr_http_wire_code code = SR_HTTP_WIRE_ERROR;
    struct sr_http_message *a = rc == SR_OK ? calloc(1, sizeof(*a)) : NULL;
    if (rc == SR_OK && !a)
        rc = sr_err_set(&e, SR_ENOMEM, "out of memory");
    if (rc == SR_OK)
        rc = sr_http_wire_answer_decode((const uint8_t *)resp.data, resp.len, &code, a, &e);
    if (rc != SR_OK) {
        (void)snprintf(out->error, sizeof(out->error), "sealrund could not send it: %.200s", e.msg);
    } else if (code != SR_HTTP_WIRE_OK) {
        static const char *const kinds[] = {"",          "refused", "over a limit",
                                            "timed out", "failed",  "invalid"};
        (void)snprintf(out->error, sizeof(out->error), "%s: %.*s",
                       (unsigned)code < 6 ? kinds[code] : "failed", (int)a->body.len,
                       (const char *)a->body.p);
    } else {
        out->status = a->status;
        out->ok = a->status >= 200 && a->status < 300;
        if (!out->ok)
            (void)snprintf(out->error, sizeof(out->error), "the receiver answered %u", a->status);
    }
    free(a);
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    sr_http_session_free(s);
}

/* The pause before attempt 'next' (2, 3, ...): 1 s, doubling, capped. */
static int64_t
pause_ms(uint32_t next)
{
    int64_t ms = SR_WEBHOOK_FIRST_RETRY_MS;
    for (uint32_t i = 2; i < next && ms < SR_WEBHOOK_MAX_RETRY_MS; i++)
        ms *= 2;
    return ms < SR_WEBHOOK_MAX_RETRY_MS ? ms : SR_WEBHOOK_MAX_RETRY_MS;
}

/* Reads the job's URL and text; false (with why) when the job is gone or
 * its request cannot be read back. */
static bool
load(sr_engine *eng, const struct sr_webhook_row *w, char **url, char **text, size_t *len,
     char *why, size_t cap)
{
    struct sr_job_row r = {0};
    sr_err e = {0};
    if (sr_store_job_get(eng->store, w->owner, w->job_id, &r, &e) != SR_OK) {
        (void)snprintf(why, cap, "the job could not be read: %.200s", e.msg);
        return false;
    }
    struct sr_job_request req;
    bool ok = sr_engine__request_from_row(&r, &req, &e) == SR_OK;
    sr_job_row_fini(&r);
    if (!ok) {
        (void)snprintf(why, cap, "the job's request could not be read back: %.180s", e.msg);
        return false;
    }
    *url = req.callback_url;
    req.callback_url = NULL;
    sr_job_request_fini(&req);
    if (!*url) {
        (void)snprintf(why, cap, "the job has no callback_url");
        return false;
    }
    if (sr_engine_job_get(eng, w->owner, w->job_id, text, len, &e) != SR_OK) {
        (void)snprintf(why, cap, "the job could not be read: %.200s", e.msg);
        free(*url);
        return false;
    }
    return true;
}

static void
deliver(sr_engine *eng, const struct sr_webhook_row *w)
{
    struct sr_webhook_attempt a = {.attempt = w->attempts + 1, .at_ms = sr_now_ms()};
    int64_t t0 = sr_mono_us();
    char *url = NULL, *text = NULL;
    size_t len = 0;
    struct attempt_out out = {0};
    bool loaded = load(eng, w, &url, &text, &len, out.error, sizeof(out.error));
    if (loaded) {
        text = body_of(text, &len);
        if (text)
            post(eng, url, w->job_id, a.attempt, text, len, &out);
        else
            (void)snprintf(out.error, sizeof(out.error), "out of memory");
    }
    free(url);
    free(text);
    a.duration_ms = (sr_mono_us() - t0) / 1000;
    a.status = out.status;
    (void)snprintf(a.error, sizeof(a.error), "%s", out.ok ? "" : out.error);
    enum sr_webhook_state next = out.ok ? SR_WEBHOOK_DELIVERED
                                 : (!loaded || a.attempt >= SR_WEBHOOK_MAX_ATTEMPTS)
                                     ? SR_WEBHOOK_FAILED
                                     : SR_WEBHOOK_PENDING;
    int64_t next_at = next == SR_WEBHOOK_PENDING ? sr_now_ms() + pause_ms(a.attempt + 1) : 0;
    sr_err e = {0};
    if (sr_store_webhook_attempt(eng->store, eng->holder, w, &a, next, next_at, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "webhook", "job '%s': recording attempt %u: %s", w->job_id, a.attempt,
               e.msg);
    else if (next == SR_WEBHOOK_DELIVERED)
        sr_log(SR_LOG_DEBUG, "webhook", "job '%s' of '%s': delivered (attempt %u, %u)", w->job_id,
               w->owner, a.attempt, a.status);
    else
        sr_log(next == SR_WEBHOOK_FAILED ? SR_LOG_WARN : SR_LOG_INFO, "webhook",
               "job '%s' of '%s': attempt %u failed (%s)%s", w->job_id, w->owner, a.attempt,
               a.error, next == SR_WEBHOOK_FAILED ? "; no more attempts" : "");
}

/* ---- the workers ---- */

static bool
stopping(sr_engine *eng)
{
    pthread_mutex_lock(&eng->mu);
    bool s = eng->stopping;
    pthread_mutex_unlock(&eng->mu);
    return s;
}

static void
idle(sr_engine *eng)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t ns = (int64_t)until.tv_nsec + (int64_t)IDLE_WAIT_MS * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&eng->mu);
    /* cv is signalled only to stop */
    while (!eng->stopping && pthread_cond_timedwait(&eng->cv, &eng->mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&eng->mu);
}

static void *
webhook_main(void *arg)
{
    sr_engine *eng = arg;
    while (!stopping(eng)) {
        struct sr_webhook_row *rows = NULL;
        size_t n = 0;
        sr_err e = {0};
        int64_t now = sr_now_ms();
        if (sr_store_webhooks_claim(eng->store, eng->holder, now, now + CLAIM_MS, 1,
                                    SR_WEBHOOK_PER_USER, &rows, &n, &e) != SR_OK) {
            sr_log(SR_LOG_WARN, "webhook", "looking for due deliveries: %s", e.msg);
            n = 0;
        }
        for (size_t i = 0; i < n; i++)
            deliver(eng, &rows[i]);
        free(rows);
        if (!n)
            idle(eng);
    }
    return NULL;
}

sr_status
sr_engine__webhooks_start(sr_engine *eng, sr_err *err)
{
    if (!eng->holder[0]) { /* the embedded store: the same id as a cluster daemon's */
        uint8_t h[32];
        sr_sha256(eng->pk, sizeof(eng->pk), h);
        sr_hex_encode(h, SR_ID_HEX_LEN / 2, eng->holder);
    }
    for (unsigned i = 0; i < SR_WEBHOOK_WORKERS; i++) {
        if (pthread_create(&eng->hooks[i], NULL, webhook_main, eng) != 0)
            return sr_err_set(err, SR_EIO, "cannot start webhook worker %u", i);
        eng->nhooks++;
    }
    return SR_OK;
}

/* ---- GET /jobs/{id}/deliveries ---- */

sr_status
sr_engine_job_deliveries(sr_engine *eng, const char *owner, const char *id, json_t **out,
                         sr_err *err)
{
    if (!eng->store || !sr_is_lower_hex(id, SR_ID_HEX_LEN))
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    struct sr_job_row r = {0};
    sr_status rc = sr_store_job_get(eng->store, owner, id, &r, err);
    sr_job_row_fini(&r);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    if (rc != SR_OK)
        return rc;
    enum sr_webhook_state st = SR_WEBHOOK_PENDING;
    struct sr_webhook_attempt *a = NULL;
    size_t n = 0;
    rc = sr_store_webhook_get(eng->store, owner, id, &st, &a, &n, err);
    bool none = rc == SR_ENOTFOUND;
    if (rc != SR_OK && !none)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        char at[32];
        sr_time_rfc3339(a[i].at_ms, at);
        json_array_append_new(
            list, json_pack("{s:i, s:s, s:I, s:o, s:o}", "attempt", (int)a[i].attempt, "at", at,
                            "duration_ms", (json_int_t)a[i].duration_ms, "status",
                            a[i].status ? json_integer(a[i].status) : json_null(), "error",
                            a[i].error[0] ? json_string(a[i].error) : json_null()));
    }
    free(a);
    json_t *o = list ? json_pack("{s:s, s:s, s:o}", "job_id", id, "state",
                                 none ? "none" : sr_webhook_state_name(st), "attempts", list)
                     : NULL;
    if (!o)
        return sr_err_set(err, SR_ENOMEM, "out of memory listing deliveries");
    *out = o;
    return SR_OK;
}
