/* SPDX-License-Identifier: MIT
 *
 * replay.c - the replay half of record.c: answering a job process's host
 * calls from an opened recording, naming the first call that differs from
 * the recorded one, and sr_engine_replay (docs/http.md "Record and
 * replay"; `sealrun replay`).
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* The recording's plaintext: at most the recorded calls, the module and
 * the request, in base64 and JSON. */
#define MAX_PLAIN (2u * SR_MAX_RECORDING + 2u * SR_MAX_MODULE + 4u * SR_MAX_INPUT)

/* Keeps the first difference and refuses the call with it. */
static sr_status diverge(struct sr_engine__record *r, sr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sr_status
diverge(struct sr_engine__record *r, sr_err *err, const char *fmt, ...)
{
    char msg[SR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!r->diverged[0])
        (void)snprintf(r->diverged, sizeof(r->diverged), "%s", msg);
    return sr_err_set(err, SR_EINVAL, "replay: %s", msg);
}

static bool
same(const struct sr_http_bytes *a, const struct sr_http_bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Text of b for a message: at most 120 bytes, non-printable as '?'. */
static void
show(const struct sr_http_bytes *b, char out[128])
{
    size_t n = b->len < 120 ? b->len : 120;
    for (size_t i = 0; i < n; i++)
        out[i] = b->p[i] >= 0x20 && b->p[i] < 0x7f ? (char)b->p[i] : '?';
    (void)snprintf(out + n, 128 - n, "%s", b->len > 120 ? "..." : "");
}

/* The first field in which two HTTP requests differ, into why. */
static void
http_difference(const struct sr_http_message *a, const struct sr_http_message *b, char *why,
                size_t cap)
{
    char x[128], y[128];
    if (!same(&a->method, &b->method) || !same(&a->url, &b->url)) {
        bool m = !same(&a->method, &b->method);
        show(m ? &a->method : &a->url, x);
        show(m ? &b->method : &b->url, y);
        (void)snprintf(why, cap, "the %s is '%s', the recorded one '%s'", m ? "method" : "URL", x,
                       y);
        return;
    }
    for (size_t i = 0; i < a->nheaders || i < b->nheaders; i++) {
        if (i >= a->nheaders || i >= b->nheaders) {
            (void)snprintf(why, cap, "it has %zu headers, the recorded one %zu", a->nheaders,
                           b->nheaders);
            return;
        }
        bool n = !same(&a->headers[i].name, &b->headers[i].name);
        if (n || !same(&a->headers[i].value, &b->headers[i].value)) {
            show(n ? &a->headers[i].name : &a->headers[i].value, x);
            show(n ? &b->headers[i].name : &b->headers[i].value, y);
            (void)snprintf(why, cap, "header %zu's %s is '%s', the recorded one '%s'", i + 1,
                           n ? "name" : "value", x, y);
            return;
        }
    }
    if (!same(&a->body, &b->body))
        (void)snprintf(why, cap, "the body (%zu bytes) differs from the recorded one (%zu bytes)",
                       a->body.len, b->body.len);
    else
        (void)snprintf(why, cap, "its timeout or redirect mode differs from the recorded one");
}

/* Names how call i differs from the recorded request rec[0..rlen). */
static sr_status
refuse_difference(struct sr_engine__record *r, size_t i, const uint8_t *req, size_t len,
                  const uint8_t *rec, size_t rlen, sr_err *err)
{
    if (req[0] != rec[0])
        return diverge(r, err, "call %zu is a '%c' host call, the recorded one a '%c' call", i + 1,
                       req[0], rec[0]);
    if (req[0] != SR_HTTP_WIRE_OP) {
        size_t k = 0;
        while (k < len && k < rlen && req[k] == rec[k])
            k++;
        return diverge(r, err, "call %zu ('%c') differs from the recorded one at byte %zu", i + 1,
                       req[0], k);
    }
    struct sr_http_message *m = calloc(2, sizeof(*m));
    char why[400] = "it cannot be decoded";
    if (m && sr_http_wire_request_decode(req, len, &m[0], NULL) == SR_OK &&
        sr_http_wire_request_decode(rec, rlen, &m[1], NULL) == SR_OK)
        http_difference(&m[0], &m[1], why, sizeof(why));
    free(m);
    return diverge(r, err, "request %zu differs from the recorded one: %s", i + 1, why);
}

static sr_status
b64_field(const json_t *c, const char *key, uint8_t **out, size_t *len, sr_err *err)
{
    const json_t *v = json_object_get(c, key);
    if (!json_is_string(v))
        return sr_err_set(err, SR_EINVAL, "the recording's call has no '%s'", key);
    return sr_base64_decode(json_string_value(v), json_string_length(v), out, len, err);
}

sr_status
sr_engine__replay_call(struct sr_engine__record *r, const uint8_t *req, size_t len, sr_buf *resp,
                       sr_err *err)
{
    size_t i = r->next, n = json_array_size(r->calls);
    if (i >= n)
        return diverge(r, err, "call %zu ('%c') is past the end: the recording has %zu calls",
                       i + 1, req[0], n);
    const json_t *c = json_array_get(r->calls, i);
    uint8_t *rec = NULL, *ans = NULL;
    size_t rlen = 0, alen = 0;
    sr_status rc = b64_field(c, "request", &rec, &rlen, err);
    if (rc != SR_OK) {
        free(rec);
        return diverge(r, err, "call %zu of the recording is malformed", i + 1);
    }
    if (rlen != len || memcmp(rec, req, len) != 0) {
        rc = refuse_difference(r, i, req, len, rec, rlen, err);
        free(rec);
        return rc;
    }
    free(rec);
    r->next++;
    if (!json_object_get(c, "answer")) {
        json_int_t st = json_integer_value(json_object_get(c, "status"));
        const char *msg = json_string_value(json_object_get(c, "error"));
        return sr_err_set(err, st > SR_OK && st <= SR_EINTERNAL ? (sr_status)st : SR_EIO, "%s",
                          msg ? msg : "failed");
    }
    rc = b64_field(c, "answer", &ans, &alen, err);
    if (rc == SR_OK)
        rc = sr_buf_append(resp, ans ? ans : (const uint8_t *)"", alen, err);
    free(ans);
    return rc;
}

/* ---- sr_engine_replay ---- */

static sr_status
load_recording(const json_t *doc, struct sr_engine__record *r, struct sr_engine__replay_job *j,
               sr_err *err)
{
    const char *seed = json_string_value(json_object_get(doc, "seed"));
    const char *id = json_string_value(json_object_get(doc, "job_id"));
    const char *owner = json_string_value(json_object_get(doc, "owner"));
    const json_t *calls = json_object_get(doc, "calls");
    const json_t *storage = json_object_get(doc, "storage");
    if (json_integer_value(json_object_get(doc, "version")) != 1 || !seed || !id || !owner ||
        !json_is_array(calls) || !json_is_boolean(storage))
        return sr_err_set(err, SR_EINVAL,
                          "the recording is not a version 1 recording (version, job_id, owner, "
                          "seed, storage, request, calls)");
    if (strlen(seed) != 64 || sr_hex_decode(seed, 64, r->seed, sizeof(r->seed), NULL) != SR_OK ||
        strlen(id) != SR_ID_HEX_LEN || !sr_is_lower_hex(id, SR_ID_HEX_LEN) ||
        strlen(owner) > SR_MAX_USER_NAME || !owner[0])
        return sr_err_set(err, SR_EINVAL, "the recording's seed, job_id or owner is malformed");
    r->replay = true;
    r->calls = (json_t *)(uintptr_t)calls;
    (void)snprintf(j->job_id, sizeof(j->job_id), "%s", id);
    (void)snprintf(j->owner, sizeof(j->owner), "%s", owner);
    j->storage = json_is_true(storage);
    return SR_OK;
}

sr_status
sr_engine_replay(sr_engine *eng, const char *plain, size_t len, char **out, size_t *out_len,
                 char diverged[SR_ERR_MSG_MAX], sr_err *err)
{
    diverged[0] = '\0';
    if (eng->cfg.coordinator)
        return sr_err_set(err, SR_ECONFLICT,
                          "replays are not available on a coordinator: it runs no guest code "
                          "(docs/workers.md)");
    if (len > MAX_PLAIN)
        return sr_err_set(err, SR_ELIMIT, "the recording is %zu bytes, at most %u", len, MAX_PLAIN);
    json_t *doc = NULL;
    sr_status rc = sr_json_parse(plain, len, 64, "recording", &doc, err);
    if (rc != SR_OK)
        return rc;
    struct sr_engine__record r;
    memset(&r, 0, sizeof(r));
    struct sr_engine__replay_job j = {.rec = &r};
    struct sr_job_request req;
    bool has_req = false;
    rc = load_recording(doc, &r, &j, err);
    if (rc == SR_OK)
        rc = sr_job_request_parse(json_object_get(doc, "request"), &req, err);
    if (rc == SR_OK) {
        has_req = true;
        if (!req.record)
            rc = sr_err_set(err, SR_EINVAL, "the recording's request is not a recorded one");
    }
    struct sr_secret_refs refs;
    if (rc == SR_OK)
        rc = sr_engine__refs_check(j.owner, &req, &refs, err);
    struct job_outcome o;
    if (rc == SR_OK) {
        int64_t started = sr_now_ms(), t0 = sr_mono_us();
        sr_engine__run_job(eng, j.owner, j.job_id, &req, &refs, &j, NULL, &o);
        int64_t wall = sr_mono_us() - t0;
        if (!r.diverged[0] && r.next < json_array_size(r.calls))
            (void)snprintf(r.diverged, sizeof(r.diverged),
                           "the job made %zu host calls, the recording has %zu", r.next,
                           json_array_size(r.calls));
        (void)snprintf(diverged, SR_ERR_MSG_MAX, "%s", r.diverged);
        rc = sr_engine__job_text(eng, j.job_id, j.owner, &req, &o, started, started, sr_now_ms(),
                                 wall, out, out_len, err);
        sr_engine__outcome_fini(&o);
    }
    if (has_req)
        sr_job_request_fini(&req);
    json_decref(doc);
    return rc;
}
