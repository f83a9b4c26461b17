/* SPDX-License-Identifier: MIT
 *
 * record.c - record and replay (docs/http.md "Record and replay").
 *
 * A recorded job ("record": true) keeps, in order, every host call its job
 * process made and the supervisor's answer: outbound HTTP (the answer as
 * received, or the failure), clock reads ('T', answered only for recorded
 * jobs), VRF and key uses, storage calls. With the seed of the job's
 * randomness (in its spec) that is every input that can make two runs of
 * the same code on the same input differ. After the run the recording
 * (the request, the module of a WASM job, the seed and the calls, as JSON)
 * is sealed to the job's record_pubkey with the primitive encrypted_output
 * uses, its SHA-256 goes into the receipt, and the store keeps it with the
 * job's TTL.
 *
 * A replay runs the same request in a local job process with the recorded
 * seed and answers each host call from the recording, in order, after
 * checking that the call is the recorded one; the first that differs (or
 * one past the end) is refused with a message naming the difference, and
 * no call ever reaches the network, the store or a key.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define RECORD_VERSION 1
#define CALL_OVERHEAD 64u /* bytes charged per call besides its request and answer */

void
sr_engine__record_init(struct sr_engine__record *r)
{
    memset(r, 0, sizeof(*r));
    r->calls = json_array();
    sr_random_bytes(r->seed, sizeof(r->seed));
}

void
sr_engine__record_fini(struct sr_engine__record *r)
{
    if (!r->replay)
        json_decref(r->calls);
    memset(r, 0, sizeof(*r));
}

/* 'T' id: the supervisor's clock (docs/http.md): realtime, or monotonic
 * for every other id (a recorded job's CPU clocks read it too). */
static sr_status
clock_call(const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    if (len != 2 || req[1] > 3)
        return sr_err_set(err, SR_EINVAL, "a clock host call is 'T' and a clock id 0..3");
    struct timespec ts;
    if (clock_gettime(req[1] == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts) != 0)
        return sr_err_set(err, SR_EIO, "the clock could not be read");
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(ns >> (8 * i));
    return sr_buf_append(resp, b, sizeof(b), err);
}

static json_t *
b64_json(const void *p, size_t len)
{
    char *s = sr_base64_encode(len ? p : (const uint8_t *)"", len);
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    return v;
}

static sr_status
over(struct sr_engine__record *r, sr_err *err)
{
    r->over = true;
    return sr_err_set(err, SR_ELIMIT, "the job's recording is past its cap of %u bytes",
                      SR_MAX_RECORDING);
}

/* Keeps one call and what it answered (rc, resp or err's message). */
static sr_status
keep(struct sr_engine__record *r, const uint8_t *req, size_t len, sr_status rc, const sr_buf *resp,
     sr_err *err)
{
    const char *msg = rc == SR_OK ? NULL : err ? err->msg : "failed";
    size_t size = len + (rc == SR_OK ? resp->len : strlen(msg)) + CALL_OVERHEAD;
    if (size > SR_MAX_RECORDING - r->bytes)
        return over(r, err);
    r->bytes += size;
    char op[2] = {(char)req[0], '\0'};
    json_t *c = json_pack("{s:s, s:o}", "op", op, "request", b64_json(req, len));
    if (c && rc == SR_OK)
        json_object_set_new(c, "answer", b64_json(resp->data, resp->len));
    else if (c) {
        json_object_set_new(c, "status", json_integer(rc));
        json_object_set_new(c, "error", json_string(msg));
    }
    if (!c || json_array_append_new(r->calls, c) != 0)
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a host call");
    return rc;
}

sr_status
sr_engine__record_call(struct sr_engine__record *r, sr_sandbox_host_fn fn, void *arg,
                       const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    if (len < 1)
        return sr_err_set(err, SR_EINVAL, "an empty host call");
    if (r->replay)
        return sr_engine__replay_call(r, req, len, resp, err);
    if (r->over)
        return over(r, err);
    sr_status rc = req[0] == SR_RUNNER_HOSTCALL_TIME ? clock_call(req, len, resp, err)
                                                     : fn(arg, req, len, resp, err);
    return keep(r, req, len, rc, resp, err);
}

/* ---- sealing ---- */

/* The request as replay parses it back: without what a local run cannot
 * have (secret references, async), with the module's bytes. */
static json_t *
replay_request(const struct sr_job_request *req)
{
    json_t *o = sr_job_request_to_json(req);
    if (!o)
        return NULL;
    json_object_del(o, "async");
    json_object_del(o, "secret_refs");
    json_object_del(o, "output_pubkey");
    if (req->runtime == SR_RUNTIME_WASM && req->code) {
        json_object_del(o, "module_hash");
        json_object_set_new(o, "module", b64_json(req->code, req->code_len));
    }
    return o;
}

sr_status
sr_engine__record_seal(const struct sr_engine__record *r, const char *owner, const char *job_id,
                       const struct sr_job_request *req, bool storage, char **sealed,
                       char hash[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    char seed[65];
    sr_hex_encode(r->seed, sizeof(r->seed), seed);
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:b, s:o, s:O}", "version", RECORD_VERSION,
                            "job_id", job_id, "owner", owner, "seed", seed, "storage", storage,
                            "request", replay_request(req), "calls", r->calls);
    char *text = doc ? sr_json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory sealing the recording of job '%s'",
                          job_id);
    char *b64 = NULL;
    sr_status rc = sr_box_seal(req->record_pubkey, text, strlen(text), &b64, err);
    free(text);
    if (rc != SR_OK)
        return sr_err_wrap(err, "sealing the recording of job '%s'", job_id);
    sr_sha256_hex(b64, strlen(b64), hash);
    *sealed = b64;
    return SR_OK;
}
