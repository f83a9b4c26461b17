/* SPDX-License-Identifier: MIT
 *
 * job.c - one job from request to result: running it in the sandbox,
 * turning the sandbox's report into a job outcome, and building the job
 * object with its output protection (docs/output-protection.md). Requests
 * are parsed in request.c.
 *
 * Sections: running; the job object.
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_util.h"

/* ---- running ---- */

void
sr_engine__outcome_fini(struct job_outcome *o)
{
    free(o->message);
    json_decref(o->output);
    json_decref(o->logs);
    json_decref(o->secrets_used);
    memset(o, 0, sizeof(*o));
}

static void fail(struct job_outcome *o, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct job_outcome *o, const char *code, const char *fmt, ...)
{
    char msg[SR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->ok = false;
    o->code = code;
    free(o->message);
    o->message = strdup(msg);
    json_decref(o->output);
    o->output = NULL;
}

/* The request frame for the job process: a JSON header (child.c documents
 * it), a NUL, the secrets object (JSON), a NUL, then the module bytes for a
 * WASM job. The frame holds secret values: the caller wipes it. */
static sr_status
build_child_request(const struct sr_job_request *req, uint64_t budget, const sr_buf *secrets,
                    sr_buf *frame)
{
    bool wasm = strcmp(req->runtime, "wasm") == 0;
    json_t *o = json_pack("{s:s, s:s%, s:I, s:I, s:I}", "runtime", req->runtime, "input",
                          req->input_json, req->input_len, wasm ? "fuel" : "cpu_limit_us",
                          (json_int_t)budget, "memory_bytes", (json_int_t)req->memory_mb * SR_MIB,
                          "output_format", (json_int_t)req->output_format);
    if (o && !wasm) {
        json_object_set_new(o, "script", json_stringn(req->script, req->script_len));
        json_object_set_new(o, "entry_point", json_string(req->entry_point));
    }
    json_t *args = json_array(), *env = json_array();
    for (size_t i = 0; args && i < req->nargs; i++)
        json_array_append_new(args, json_string(req->args[i]));
    for (size_t i = 0; env && i < req->nenv; i++)
        json_array_append_new(env, json_string(req->env[i]));
    if (o) {
        json_object_set_new(o, "args", args ? args : json_array());
        json_object_set_new(o, "env", env ? env : json_array());
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return sr_err_set(NULL, SR_ENOMEM, "out of memory");
    sr_status rc = sr_buf_append(frame, text, strlen(text) + 1, NULL);
    free(text);
    if (rc == SR_OK)
        rc = sr_buf_append(frame, secrets->data, secrets->len + 1, NULL); /* with its NUL */
    if (rc == SR_OK && wasm)
        rc = sr_buf_append(frame, req->module, req->module_len, NULL);
    return rc;
}

/* Reads the job process's answer into *o. */
static void
read_child_response(const sr_buf *resp, bool budget_is_timeout, struct job_outcome *o)
{
    json_t *j = NULL;
    if (sr_json_parse(resp->data, resp->len, SR_MAX_JSON_DEPTH, "job response", &j, NULL) !=
        SR_OK) {
        fail(o, SR_CODE_INTERNAL_ERROR, "the job process sent an unreadable answer");
        return;
    }
    o->gas_used = (uint64_t)json_integer_value(json_object_get(j, "gas_used"));
    json_t *logs = json_object_get(j, "logs");
    if (json_is_array(logs)) {
        json_decref(o->logs);
        o->logs = json_incref(logs);
    }
    const char *out_text = json_string_value(json_object_get(j, "output"));
    if (json_is_true(json_object_get(j, "ok")) && out_text) {
        sr_err e;
        /* jansson's own depth limit (2048) bounds the output's nesting. */
        if (sr_json_parse(out_text, strlen(out_text), 2048, "output", &o->output, &e) == SR_OK)
            o->ok = true;
        else
            fail(o, SR_CODE_OUTPUT_NOT_JSON, "%s", e.msg);
    } else {
        const char *code = json_string_value(json_object_get(j, "code"));
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (code && budget_is_timeout && strcmp(code, SR_CODE_GAS_EXHAUSTED) == 0)
            fail(o, SR_CODE_TIMEOUT, "the script used its whole time budget (timeout)");
        else {
            /* map to the static code strings so o->code never dangles */
            static const char *const codes[] = {
                SR_CODE_SCRIPT_ERROR,     SR_CODE_ENTRY_POINT_NOT_FOUND, SR_CODE_EXECUTION_ERROR,
                SR_CODE_TIMEOUT,          SR_CODE_GAS_EXHAUSTED,         SR_CODE_MEMORY_LIMIT,
                SR_CODE_OUTPUT_TOO_LARGE, SR_CODE_INPUT_TOO_LARGE,       SR_CODE_OUTPUT_NOT_JSON,
                SR_CODE_EXIT_CODE,        SR_CODE_MODULE_ERROR,          SR_CODE_SECRET_UNAVAILABLE,
            };
            const char *c = SR_CODE_INTERNAL_ERROR;
            for (size_t i = 0; code && i < sizeof(codes) / sizeof(codes[0]); i++)
                if (strcmp(code, codes[i]) == 0)
                    c = codes[i];
            fail(o, c, "%s", msg ? msg : "the job failed");
        }
    }
    json_decref(j);
}

void
sr_engine__run(sr_engine *eng, const char *owner, const char *job_id,
               const struct sr_job_request *req, struct job_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->logs = json_array();
    if (req->input_len > SR_MAX_INPUT) {
        fail(o, SR_CODE_INPUT_TOO_LARGE, "input is %zu bytes of JSON; the limit is %u bytes",
             req->input_len, SR_MAX_INPUT);
        return;
    }
    bool wasm = strcmp(req->runtime, "wasm") == 0;
    uint64_t budget_timeout = (uint64_t)req->timeout_s * 1000000u;
    /* JS: the CPU budget is gas_limit or the timeout, whichever is smaller;
     * WASM: fuel, always given (the default applies in request.c) */
    bool budget_is_timeout = !wasm && (!req->gas_limit || req->gas_limit >= budget_timeout);
    uint64_t budget = wasm || !budget_is_timeout ? req->gas_limit : budget_timeout;
    sr_buf secrets, frame;
    sr_buf_init(&secrets, SR_MAX_IPC_FRAME);
    sr_buf_init(&frame, SR_MAX_IPC_FRAME);
    char unavailable[SR_ERR_MSG_MAX];
    sr_err e = {0};
    sr_status rc = sr_engine__secrets_for_job(eng, owner, job_id, req, &secrets, &o->secrets_used,
                                              unavailable, sizeof(unavailable), &e);
    if (rc == SR_OK && unavailable[0])
        fail(o, SR_CODE_SECRET_UNAVAILABLE, "%s", unavailable);
    else if (rc != SR_OK)
        fail(o, SR_CODE_INTERNAL_ERROR, "secrets could not be prepared: %s", e.msg);
    else if (build_child_request(req, budget, &secrets, &frame) != SR_OK)
        fail(o, SR_CODE_INTERNAL_ERROR, "out of memory preparing the job");
    sr_buf_fini_secure(&secrets);
    if (o->code) {
        sr_buf_fini_secure(&frame);
        return;
    }
    /* The runtime stops the guest at its own checks first (with logs);
     * the supervisor's kill is the backstop: wall clock plus a grace, and
     * memory with headroom for the engine's own baseline. */
    sr_storage_session *storage = NULL;
    if (sr_engine__storage_begin(eng, owner, req, &storage, &e) != SR_OK) {
        fail(o, SR_CODE_INTERNAL_ERROR, "storage could not be prepared: %s", e.msg);
        sr_buf_fini_secure(&frame);
        return;
    }
    const struct sr_sandbox_limits lim = {
        .wall_ms = (uint64_t)req->timeout_s * 1000u + 500u,
        .memory_bytes = (uint64_t)req->memory_mb * SR_MIB * 3 / 2 + 128ull * SR_MIB,
        .host_fn = storage ? sr_storage_session_handle : NULL,
        .host_arg = storage,
    };
    sr_buf resp;
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    struct sr_sandbox_report rep = {0};
    rc = sr_sandbox_run(eng->sandbox, owner, (const uint8_t *)frame.data, frame.len, &lim, &resp,
                        &rep, &e);
    sr_buf_fini_secure(&frame);
    if (rc != SR_OK)
        fail(o, SR_CODE_INTERNAL_ERROR, "the sandbox could not run the job: %s", e.msg);
    else if (rep.outcome == SR_SANDBOX_OK)
        read_child_response(&resp, budget_is_timeout, o);
    else if (rep.outcome == SR_SANDBOX_TIMEOUT)
        fail(o, SR_CODE_TIMEOUT, "the job ran past its timeout of %u s and was killed",
             req->timeout_s);
    else if (rep.outcome == SR_SANDBOX_MEMORY)
        fail(o, SR_CODE_MEMORY_LIMIT, "the job used more than its memory limit of %u MiB",
             req->memory_mb);
    else
        fail(o, SR_CODE_SANDBOX_CRASHED, "the job process ended abnormally: %s", rep.detail);
    /* a killed process reports nothing: JS gas is then its CPU time; WASM
     * fuel is unknown and stays 0 */
    if (!wasm && !o->gas_used)
        o->gas_used = rep.cpu_us;
    sr_buf_fini(&resp);
    /* commits the job's writes only if it completed (docs/storage.md) */
    sr_engine__storage_finish(storage, o);
}

/* ---- the job object ---- */

static sr_status
protect_output(const sr_engine *eng, const char *id, const struct sr_job_request *req,
               const json_t *output, json_t *job, sr_err *err)
{
    sr_buf canon;
    sr_buf_init(&canon, 4u * SR_MAX_OUTPUT);
    sr_status rc = sr_json_canonical(output, &canon, err);
    if (rc != SR_OK) {
        sr_buf_fini(&canon);
        return sr_err_wrap(err, "canonicalising the output");
    }
    char hash[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(canon.data, canon.len, hash);
    json_object_set_new(job, "output_hash", json_string(hash));
    if (eng->keys) {
        char mac[SR_HASH_HEX_LEN + 1];
        sr_output_mac(eng->keys, id, hash, mac);
        json_object_set_new(job, "signature", json_string(mac));
    }
    if (req->has_pubkey) {
        char *sealed = NULL;
        rc = sr_box_seal(req->output_pubkey, canon.data, canon.len, &sealed, err);
        if (rc == SR_OK)
            json_object_set_new(job, "encrypted_output", json_string(sealed));
        free(sealed);
    }
    sr_buf_fini(&canon);
    return rc;
}

/* The job's secret references ([{owner,name,version}] from the secret
 * resolution) as receipt references; the strings stay borrowed from 'used'. */
static sr_status
receipt_refs(const char *id, const json_t *used, struct sr_receipt_secret_ref *refs, size_t *n,
             sr_err *err)
{
    size_t count = json_array_size(used);
    if (count > SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_EINTERNAL, "job '%s' used %zu secrets; a receipt holds %d", id,
                          count, SR_MAX_SECRET_REFS);
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(used, i);
        json_int_t v = json_integer_value(json_object_get(e, "version"));
        refs[i] = (struct sr_receipt_secret_ref){
            .owner = json_string_value(json_object_get(e, "owner")),
            .name = json_string_value(json_object_get(e, "name")),
            .version = v > 0 ? (uint64_t)v : 0,
        };
    }
    *n = count;
    return SR_OK;
}

/* Times and limits of a run, as the job object states them. */
struct run_facts {
    uint64_t gas_limit;
    int64_t started_ms, finished_ms, wall_us;
};

/* input_hash of an input past SR_MAX_INPUT (an INPUT_TOO_LARGE job: up to a
 * whole request body, more than the receipt library hashes): the same
 * SHA-256(JCS(input)), computed here. */
static sr_status
big_input_hash(const json_t *input, char out[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    sr_buf canon;
    sr_buf_init(&canon, 2u * SR_MAX_BODY);
    sr_status rc = sr_json_canonical(input, &canon, err);
    if (rc == SR_OK)
        sr_sha256_hex(canon.data ? canon.data : "", canon.len, out);
    sr_buf_fini(&canon);
    return rc;
}

/* Signs 'receipt' (taken) and attaches it and its signature to the job. */
static sr_status
sign_receipt(const sr_engine *eng, json_t *receipt, json_t *job, sr_err *err)
{
    char *canon = NULL;
    size_t len = 0;
    char sig[SR_ED25519_SIG_HEX_LEN + 1];
    sr_status rc = sr_receipt_canonical(receipt, &canon, &len, err);
    if (rc == SR_OK)
        rc = sr_receipt_sign(eng->wkey, canon, len, sig, err);
    free(canon);
    if (rc != SR_OK) {
        json_decref(receipt);
        return rc;
    }
    json_object_set_new(job, "receipt", receipt);
    json_object_set_new(job, "receipt_signature", json_string(sig));
    return SR_OK;
}

/* Builds, signs and attaches "receipt" and "receipt_signature"
 * (docs/receipts.md). 'job' already holds encrypted_output when sealed.
 * Any failure is SR_EINTERNAL: it is sealrun's, never the client's. */
static sr_status
add_receipt(const sr_engine *eng, const char *id, const char *owner,
            const struct sr_job_request *req, const struct job_outcome *o,
            const struct run_facts *rf, json_t *job, sr_err *err)
{
    struct sr_receipt_secret_ref refs[SR_MAX_SECRET_REFS];
    size_t nrefs = 0;
    sr_status rc = receipt_refs(id, o->secrets_used, refs, &nrefs, err);
    if (rc != SR_OK)
        return rc;
    bool wasm = strcmp(req->runtime, "wasm") == 0;
    json_t *input = json_loadb(req->input_json, req->input_len, JSON_DECODE_ANY, NULL);
    if (!input)
        return sr_err_set(err, SR_EINTERNAL, "job '%s': its input could not be read back", id);
    bool big = req->input_len > SR_MAX_INPUT;
    char big_hash[SR_HASH_HEX_LEN + 1];
    if (big)
        rc = big_input_hash(input, big_hash, err);
    const struct sr_receipt_fields f = {
        .job_id = id,
        .owner = owner,
        .runtime = req->runtime,
        .engine_version = wasm ? "sealrun-wasm " SR_VERSION : sr_js_engine_version(),
        .entry_point = wasm ? NULL : req->entry_point,
        .code = wasm ? (const void *)req->module : (const void *)req->script,
        .code_len = wasm ? req->module_len : req->script_len,
        .input = big ? NULL : input, /* big: input_hash is replaced below */
        .secret_refs = refs,
        .n_secret_refs = nrefs,
        .timeout_s = req->timeout_s,
        .memory_mb = req->memory_mb,
        .gas_limit = rf->gas_limit,
        .gas_used = o->gas_used,
        .duration_us = rf->wall_us > 0 ? (uint64_t)rf->wall_us : 0,
        .completed = o->ok,
        .error_code = o->ok ? NULL : o->code,
        .output = o->ok ? o->output : NULL,
        .encrypted_output = json_string_value(json_object_get(job, "encrypted_output")),
        .logs = o->logs,
        .started_ms = rf->started_ms,
        .finished_ms = rf->finished_ms,
        .worker_pk = eng->pk,
        .measurement = eng->measurement,
        .quote = eng->quote,
        .storage_version_before = o->has_storage ? o->storage_version_before : NULL,
        .storage_version_after = o->has_storage ? o->storage_version_after : NULL,
    };
    json_t *receipt = NULL;
    if (rc == SR_OK)
        rc = sr_receipt_build(&f, &receipt, NULL, err);
    json_decref(input);
    if (rc == SR_OK && big)
        json_object_set_new(receipt, "input_hash", json_string(big_hash));
    if (rc == SR_OK)
        rc = sign_receipt(eng, receipt, job, err);
    if (rc != SR_OK) {
        sr_err_wrap(err, "the receipt of job '%s'", id);
        if (err)
            err->status = SR_EINTERNAL;
        return SR_EINTERNAL;
    }
    return SR_OK;
}

/* "storage": {namespace, version_before, version_after} or null (no store,
 * or the job never ran). Versions as numbers; a failed commit leaves them
 * null. */
static json_t *
storage_json(const struct job_outcome *o)
{
    if (!o->has_storage)
        return json_null();
    json_t *s = json_pack("{s:s}", "namespace", o->storage_ns);
    int64_t b = 0, a = 0;
    bool known =
        o->storage_version_before[0] &&
        sr_parse_i64(o->storage_version_before, 0, INT64_MAX, "version", &b, NULL) == SR_OK &&
        sr_parse_i64(o->storage_version_after, 0, INT64_MAX, "version", &a, NULL) == SR_OK;
    json_object_set_new(s, "version_before", known ? json_integer(b) : json_null());
    json_object_set_new(s, "version_after", known ? json_integer(a) : json_null());
    return s;
}

static void
set_time(json_t *job, const char *key, int64_t ms)
{
    char ts[32];
    sr_time_rfc3339(ms, ts);
    json_object_set_new(job, key, json_string(ts));
}

sr_status
sr_engine__job_object(const sr_engine *eng, const char *id, const char *owner,
                      const struct sr_job_request *req, struct job_outcome *o, int64_t created_ms,
                      int64_t started_ms, int64_t finished_ms, int64_t wall_us, json_t **out,
                      sr_err *err)
{
    json_t *job = json_object();
    if (!job)
        return sr_err_set(err, SR_ENOMEM, "out of memory building job '%s'", id);
    json_object_set_new(job, "job_id", json_string(id));
    json_object_set_new(job, "status", json_string(o->ok ? "completed" : "failed"));
    json_object_set_new(job, "runtime", json_string(req->runtime));
    /* With output_pubkey the output is only given sealed (docs/http-api.md). */
    bool clear = o->ok && !req->has_pubkey;
    json_object_set(job, "output", clear ? o->output : json_null());
    json_object_set(job, "logs", o->logs ? o->logs : json_array());
    if (!o->ok)
        json_object_set_new(
            job, "error",
            json_pack("{s:s, s:s}", "code", o->code, "message", o->message ? o->message : ""));
    json_object_set_new(job, "gas_used", json_integer((json_int_t)o->gas_used));
    uint64_t budget = (uint64_t)req->timeout_s * 1000000u;
    bool wasm = strcmp(req->runtime, "wasm") == 0;
    uint64_t limit = wasm || (req->gas_limit && req->gas_limit < budget) ? req->gas_limit : budget;
    json_object_set_new(job, "gas_limit", json_integer((json_int_t)limit));
    json_object_set_new(job, "storage", storage_json(o));
    set_time(job, "created_at", created_ms);
    set_time(job, "started_at", started_ms);
    set_time(job, "finished_at", finished_ms);
    char dur[32];
    sr_duration_str(wall_us, dur);
    json_object_set_new(job, "duration", json_string(dur));
    json_object_set_new(job, "duration_ms", json_integer((json_int_t)(wall_us / 1000)));
    sr_status rc = SR_OK;
    if (o->ok)
        rc = protect_output(eng, id, req, o->output, job, err);
    if (rc == SR_OK && eng->wkey) {
        const struct run_facts rf = {limit, started_ms, finished_ms, wall_us};
        rc = add_receipt(eng, id, owner, req, o, &rf, job, err);
    }
    if (rc != SR_OK) {
        json_decref(job);
        return rc;
    }
    *out = job;
    return SR_OK;
}
