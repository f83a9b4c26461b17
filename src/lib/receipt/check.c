/* SPDX-License-Identifier: MIT
 *
 * check.c - every check a verifier makes on a job object with its receipt
 * (what `sealrun verify` prints and what examples/verify-receipt.mjs does
 * again in JavaScript). Each check reports one line; the job passes only if
 * none failed.
 */
#include "receipt_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_util.h"

struct ctx {
    sr_receipt_check_fn fn;
    void *arg;
    int failed;
    char first[SR_ERR_MSG_MAX]; /* the first failing line */
};

static void report(struct ctx *c, enum sr_check_result res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct ctx *c, enum sr_check_result res, const char *fmt, ...)
{
    char line[SR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (res == SR_CHECK_FAIL && c->failed++ == 0)
        (void)snprintf(c->first, sizeof(c->first), "%s", line);
    if (c->fn)
        c->fn(c->arg, res, line);
}

static const char *
field(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Both NULL, or both equal strings. */
static bool
same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *
show(const char *s)
{
    return s ? s : "null";
}

static void
check_signature(struct ctx *c, const json_t *r, const char *sig, const uint8_t *pk)
{
    sr_err e = {0};
    if (sr_receipt_verify(r, sig, pk, &e) != SR_OK)
        report(c, SR_CHECK_FAIL, "signature: %s", e.msg);
    else if (pk)
        report(c, SR_CHECK_OK, "signature (Ed25519) by the pinned worker key %s",
               field(r, "worker_public_key"));
    else
        report(c, SR_CHECK_OK,
               "signature (Ed25519) by the receipt's own key %s (not pinned: pass the worker's "
               "public key to prove who signed)",
               field(r, "worker_public_key"));
}

static void
check_identity(struct ctx *c, const json_t *job, const json_t *r)
{
    const char *id = field(job, "job_id");
    if (same(id, field(r, "job_id")) && id)
        report(c, SR_CHECK_OK, "job_id matches the receipt: %s", id);
    else
        report(c, SR_CHECK_FAIL, "job_id '%s' differs from the receipt's '%s'", show(id),
               show(field(r, "job_id")));
    /* the job says which runtime ran it: a WebAssembly receipt must not pass
     * for a JavaScript job (their code hashes cover different bytes) */
    const char *rt = field(job, "runtime");
    if (rt && same(rt, field(r, "runtime")))
        report(c, SR_CHECK_OK, "runtime matches the receipt: %s", rt);
    else
        report(c, SR_CHECK_FAIL, "runtime '%s' differs from the receipt's '%s'", show(rt),
               show(field(r, "runtime")));
    /* WebAssembly jobs say which tier ran them (older receipts do not) */
    const char *tier = field(job, "tier");
    const char *rtier = field(r, "tier");
    if (json_object_get(job, "tier") || json_object_get(r, "tier")) {
        bool known = tier && (strcmp(tier, "interp") == 0 || strcmp(tier, "native") == 0);
        if (known && same(tier, rtier))
            report(c, SR_CHECK_OK, "tier matches the receipt: %s", tier);
        else
            report(c, SR_CHECK_FAIL,
                   "tier '%s' differs from the receipt's '%s' (expected \"interp\" or "
                   "\"native\" in both)",
                   show(tier), show(rtier));
    }
    const char *st = field(job, "status");
    const char *code = field(json_object_get(job, "error"), "code");
    if (same(st, field(r, "status")) && same(code, field(r, "error_code")))
        report(c, SR_CHECK_OK, "status and error code match the receipt: %s, %s", show(st),
               show(code));
    else
        report(c, SR_CHECK_FAIL, "status/error code '%s'/'%s' differ from the receipt's '%s'/'%s'",
               show(st), show(code), show(field(r, "status")), show(field(r, "error_code")));
}

static void
check_hash_of(struct ctx *c, const char *what, const json_t *v, const char *want)
{
    char h[SR_HASH_HEX_LEN + 1];
    sr_err e = {0};
    if (sr_receipt_json_hash(v, h, &e) != SR_OK)
        report(c, SR_CHECK_FAIL, "%s cannot be hashed: %s", what, e.msg);
    else if (same(h, want))
        report(c, SR_CHECK_OK, "%s hash matches the receipt: %s", what, h);
    else
        report(c, SR_CHECK_FAIL, "%s hash %s differs from the receipt's %s", what, h, show(want));
}

static void
check_output(struct ctx *c, const json_t *job, const json_t *r)
{
    const char *want = field(r, "output_hash");
    const char *listed = field(job, "output_hash");
    const json_t *out = json_object_get(job, "output");
    if (listed && !same(listed, want))
        report(c, SR_CHECK_FAIL, "job output_hash %s differs from the receipt's %s", listed,
               show(want));
    const char *st = field(r, "status");
    if (st && strcmp(st, "completed") != 0) {
        if (out && !json_is_null(out))
            report(c, SR_CHECK_FAIL, "failed job, yet the job carries an output");
        else if (!want && json_is_null(json_object_get(r, "output_hash")))
            report(c, SR_CHECK_OK, "failed job: no output, and the receipt has no output hash");
        else
            report(c, SR_CHECK_FAIL, "failed job, yet the receipt has output hash %s", show(want));
        return;
    }
    if (field(job, "encrypted_output") && (!out || json_is_null(out)))
        report(c, SR_CHECK_SKIP,
               "output is sealed (encrypted_output): open it and compare with output_hash %s",
               show(want));
    else
        check_hash_of(c, "output", out ? out : json_null(), want);
}

static void
check_sealed_and_logs(struct ctx *c, const json_t *job, const json_t *r)
{
    const char *enc = field(job, "encrypted_output");
    const char *want = field(r, "encrypted_output_hash");
    if (enc) {
        char h[SR_HASH_HEX_LEN + 1];
        sr_sha256_hex(enc, strlen(enc), h);
        if (same(h, want))
            report(c, SR_CHECK_OK, "encrypted_output hash matches the receipt: %s", h);
        else
            report(c, SR_CHECK_FAIL, "encrypted_output hash %s differs from the receipt's %s", h,
                   show(want));
    } else if (want) {
        report(c, SR_CHECK_FAIL, "the receipt has encrypted_output_hash %s but the job has none",
               want);
    }
    const json_t *logs = json_object_get(job, "logs");
    json_t *empty = json_array();
    check_hash_of(c, "logs", logs ? logs : empty, field(r, "logs_hash"));
    json_decref(empty);
}

static void
check_inputs(struct ctx *c, const json_t *r, const struct sr_receipt_check_opts *o)
{
    const char *code = field(r, "code_hash");
    if (o->has_code) {
        char h[SR_HASH_HEX_LEN + 1];
        sr_sha256_hex(o->code ? o->code : "", o->code_len, h);
        if (same(h, code))
            report(c, SR_CHECK_OK, "code hash matches the given code: %s", h);
        else
            report(c, SR_CHECK_FAIL, "code hash of the given code %s differs from the receipt's %s",
                   h, show(code));
    } else {
        report(c, SR_CHECK_SKIP, "code hash not checked (no script or module given): %s",
               show(code));
    }
    if (o->input)
        check_hash_of(c, "input", o->input, field(r, "input_hash"));
    else
        report(c, SR_CHECK_SKIP, "input hash not checked (no input given): %s",
               show(field(r, "input_hash")));
}

static void
check_measurement(struct ctx *c, const json_t *r, const uint8_t *expected)
{
    const char *m = field(r, "measurement");
    if (!expected) {
        report(c, SR_CHECK_SKIP, "measurement not compared (none expected): %s", show(m));
        return;
    }
    char want[2 * SR_MEASUREMENT_LEN + 1];
    sr_hex_encode(expected, SR_MEASUREMENT_LEN, want);
    if (same(m, want))
        report(c, SR_CHECK_OK, "measurement is the expected %s", want);
    else
        report(c, SR_CHECK_FAIL, "measurement %s differs from the expected %s", show(m), want);
}

static void
check_quote(struct ctx *c, const json_t *r)
{
    const char *type = field(r, "quote_type");
    const char *q = field(r, "quote");
    if (same(type, "none") && json_is_null(json_object_get(r, "quote"))) {
        report(c, SR_CHECK_SKIP, "quote: none (software only: no hardware vouches for this key)");
        return;
    }
    if (!same(type, "tdx") || !q) {
        report(c, SR_CHECK_FAIL, "quote_type '%s' with quote %s is not a known combination",
               show(type), q ? "present" : "null");
        return;
    }
    uint8_t pk[32];
    uint8_t m[32];
    uint8_t *bytes = NULL;
    size_t len = 0;
    sr_err e = {0};
    const char *pk_hex = field(r, "worker_public_key");
    const char *m_hex = field(r, "measurement");
    sr_status rc = sr_base64_decode(q, strlen(q), &bytes, &len, &e);
    if (rc == SR_OK &&
        (!sr_is_lower_hex(m_hex, 64) || !pk_hex || sr_hex_decode(pk_hex, 64, pk, 32, &e) != SR_OK))
        rc = sr_err_set(&e, SR_EINVAL, "measurement or worker key is not 64 lower-case hex");
    if (rc == SR_OK)
        (void)sr_hex_decode(m_hex, 64, m, 32, NULL);
    if (rc == SR_OK)
        rc = sr_attest_tdx_check_binding(bytes, len, pk, m, &e);
    free(bytes);
    if (rc == SR_OK)
        report(c, SR_CHECK_OK,
               "TDX quote carries SHA-512(worker key || measurement) as report_data (check its "
               "signature chain with Intel DCAP)");
    else
        report(c, SR_CHECK_FAIL, "quote: %s", e.msg);
}

/* One exchange of the receipt's "http" list has the fields of docs/http.md. */
static bool
exchange_ok(const json_t *x, const json_t *r)
{
    const json_t *names = json_object_get(x, "header_names");
    const json_t *status = json_object_get(x, "status");
    const json_t *dur = json_object_get(x, "duration_us");
    const char *rsp = field(x, "response_body_sha256");
    const char *at = field(x, "started_at");
    const char *from = field(r, "started_at"), *to = field(r, "finished_at");
    if (!json_is_object(x) || !field(x, "method") || !field(x, "url") || !json_is_array(names) ||
        !sr_is_lower_hex(field(x, "request_body_sha256"), 64) ||
        (rsp && !sr_is_lower_hex(rsp, 64)) || !json_is_integer(status) ||
        json_integer_value(status) < 0 || json_integer_value(status) > 999 ||
        !json_is_integer(dur) || json_integer_value(dur) < 0 || !at)
        return false;
    size_t i;
    const json_t *n;
    json_array_foreach(names, i, n) if (!json_is_string(n)) return false;
    /* RFC 3339 with milliseconds in UTC sorts as text: within the run */
    return !from || !to || (strcmp(at, from) >= 0 && strcmp(at, to) <= 0);
}

/* The receipt's "http" list: well formed, and the same the job object shows. */
static void
check_http(struct ctx *c, const json_t *job, const json_t *r)
{
    const json_t *list = json_object_get(r, "http");
    const json_t *shown = json_object_get(job, "http");
    if (!list && !shown)
        return; /* no request: nothing to say (older receipts verify as they did) */
    if (!json_is_array(list)) {
        report(c, SR_CHECK_FAIL, "http: the job shows requests the receipt does not list");
        return;
    }
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x)
    {
        if (!exchange_ok(x, r)) {
            report(c, SR_CHECK_FAIL, "http: exchange %zu of the receipt is malformed", i);
            return;
        }
    }
    if (shown && !json_equal(shown, list)) {
        report(c, SR_CHECK_FAIL, "http: the job's list of exchanges differs from the receipt's");
        return;
    }
    report(c, SR_CHECK_OK,
           "http: %zu exchange(s) listed, each with its URL as written, request "
           "and response hashes, status and time",
           json_array_size(list));
}

sr_status
sr_receipt_check_job(const json_t *job, const struct sr_receipt_check_opts *opts,
                     sr_receipt_check_fn fn, void *arg, sr_err *err)
{
    static const struct sr_receipt_check_opts none = {0};
    const struct sr_receipt_check_opts *o = opts ? opts : &none;
    struct ctx c = {.fn = fn, .arg = arg};
    const json_t *r = json_object_get(job, "receipt");
    const char *sig = field(job, "receipt_signature");
    if (!json_is_object(job) || !json_is_object(r) || !sig) {
        report(&c, SR_CHECK_FAIL, "job has no receipt object and receipt_signature string");
        return sr_err_set(err, SR_EDENIED, "%s", c.first);
    }
    report(&c, SR_CHECK_OK, "job has a receipt (%s)", show(field(r, "version")));
    check_signature(&c, r, sig, o->worker_pk);
    check_identity(&c, job, r);
    check_output(&c, job, r);
    check_sealed_and_logs(&c, job, r);
    check_inputs(&c, r, o);
    check_measurement(&c, r, o->measurement);
    check_quote(&c, r);
    check_http(&c, job, r);
    if (c.failed)
        return sr_err_set(err, SR_EDENIED, "%d check(s) failed; first: %s", c.failed, c.first);
    return SR_OK;
}
