/* SPDX-License-Identifier: MIT
 *
 * job.c - one job from request to result: validating the request, running
 * it in the sandbox, turning the sandbox's report into a job outcome, and
 * building the job object with its output protection
 * (docs/output-protection.md).
 *
 * Sections: request parsing; running; the job object.
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

/* ---- request parsing ---- */

static const char *const known_fields[] = {
    "runtime", "script",     "entry_point",   "input", "secret_refs",
    "timeout", "memory_mb",  "gas_limit",     "async", "output_pubkey",
};

static sr_status
check_fields(const json_t *body, sr_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)body, k, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
            known = known || strcmp(k, known_fields[i]) == 0;
        if (!known)
            return sr_err_set(err, SR_EINVAL,
                              "unknown field '%.64s'; expected runtime, script, entry_point, "
                              "input, secret_refs, timeout, memory_mb, gas_limit, async, "
                              "output_pubkey",
                              k);
    }
    return SR_OK;
}

static sr_status
get_uint(const json_t *body, const char *name, int64_t min, int64_t max, int64_t def,
         int64_t *out, sr_err *err)
{
    const json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) {
        *out = def;
        return SR_OK;
    }
    double d = json_is_integer(v) ? (double)json_integer_value(v)
                                  : (json_is_real(v) ? json_real_value(v) : -1.0);
    if (!json_is_number(v) || d != (double)(int64_t)d)
        return sr_err_set(err, SR_EINVAL, "field '%s' must be a whole number", name);
    int64_t n = (int64_t)d;
    if (n < min || n > max)
        return sr_err_set(err, SR_EINVAL, "field '%s' must be %lld..%lld, got %lld", name,
                          (long long)min, (long long)max, (long long)n);
    *out = n;
    return SR_OK;
}

static sr_status
parse_runtime(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *rt = json_object_get(body, "runtime");
    const char *name = rt ? json_string_value(rt) : "js";
    if (!name)
        return sr_err_set(err, SR_EINVAL, "field 'runtime' must be a string (\"js\")");
    if (strcmp(name, "js") != 0)
        return sr_err_set(err, SR_EINVAL,
                          "runtime '%.32s' is not supported by this server; expected \"js\"",
                          name);
    out->runtime = strdup(name);
    return out->runtime ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
}

static sr_status
parse_script(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *s = json_object_get(body, "script");
    if (!s)
        return sr_err_set(err, SR_EINVAL, "field 'script' is required (JavaScript source text)");
    if (!json_is_string(s))
        return sr_err_set(err, SR_EINVAL, "field 'script' must be a string");
    size_t len = json_string_length(s);
    if (len == 0)
        return sr_err_set(err, SR_EINVAL, "field 'script' is empty");
    if (len > SR_MAX_SCRIPT)
        return sr_err_set(err, SR_ELIMIT, "field 'script' is %zu bytes; the limit is %u bytes",
                          len, SR_MAX_SCRIPT);
    out->script = malloc(len + 1);
    if (!out->script)
        return sr_err_set(err, SR_ENOMEM, "out of memory copying the script");
    memcpy(out->script, json_string_value(s), len + 1);
    out->script_len = len;
    return SR_OK;
}

static sr_status
parse_entry(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *e = json_object_get(body, "entry_point");
    const char *name = "main";
    if (e && !json_is_null(e)) {
        name = json_string_value(e);
        if (!name)
            return sr_err_set(err, SR_EINVAL, "field 'entry_point' must be a string");
        size_t n = strlen(name);
        bool ok = n > 0 && n <= SR_MAX_ENTRY_POINT;
        for (size_t i = 0; ok && i < n; i++) {
            char c = name[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
                 (i > 0 && c >= '0' && c <= '9');
        }
        if (!ok)
            return sr_err_set(err, SR_EINVAL,
                              "field 'entry_point' must be a JavaScript identifier of 1..%d "
                              "characters, got '%.64s'",
                              SR_MAX_ENTRY_POINT, name);
    }
    out->entry_point = strdup(name);
    return out->entry_point ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
}

static sr_status
parse_misc(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *refs = json_object_get(body, "secret_refs");
    if (refs && !json_is_null(refs)) {
        if (!json_is_array(refs))
            return sr_err_set(err, SR_EINVAL, "field 'secret_refs' must be an array of names");
        if (json_array_size(refs) > 0)
            return sr_err_set(err, SR_EINVAL,
                              "field 'secret_refs' names %zu secret(s), but this server has no "
                              "secret store yet; remove secret_refs",
                              json_array_size(refs));
    }
    const json_t *a = json_object_get(body, "async");
    if (a && !json_is_boolean(a) && !json_is_null(a))
        return sr_err_set(err, SR_EINVAL, "field 'async' must be true or false");
    out->async = a && json_is_true(a);
    const json_t *pk = json_object_get(body, "output_pubkey");
    if (pk && !json_is_null(pk)) {
        if (!json_is_string(pk))
            return sr_err_set(err, SR_EINVAL,
                              "field 'output_pubkey' must be a base64 X25519 public key");
        sr_status rc = sr_box_pk_parse(json_string_value(pk), out->output_pubkey, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "field 'output_pubkey'");
        out->has_pubkey = true;
    }
    return SR_OK;
}

static sr_status
parse_limits(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    int64_t t, m, g;
    sr_status rc = get_uint(body, "timeout", 1, SR_MAX_TIMEOUT_S, SR_DEFAULT_TIMEOUT_S, &t, err);
    if (rc == SR_OK)
        rc = get_uint(body, "memory_mb", 16, SR_MAX_MEMORY_MB, SR_DEFAULT_MEMORY_MB, &m, err);
    if (rc == SR_OK)
        rc = get_uint(body, "gas_limit", 1, (int64_t)SR_MAX_TIMEOUT_S * 1000000, 0, &g, err);
    if (rc != SR_OK)
        return rc;
    out->timeout_s = (uint32_t)t;
    out->memory_mb = (uint32_t)m;
    out->gas_limit = (uint64_t)g;
    return SR_OK;
}

static sr_status
parse_input(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    const json_t *in = json_object_get(body, "input");
    char *text = json_dumps(in ? in : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding the input");
    out->input_json = text;
    out->input_len = strlen(text);
    return SR_OK;
}

sr_status
sr_job_request_parse(const json_t *body, struct sr_job_request *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body))
        return sr_err_set(err, SR_EINVAL, "request body must be a JSON object");
    sr_status rc = check_fields(body, err);
    if (rc == SR_OK)
        rc = parse_runtime(body, out, err);
    if (rc == SR_OK)
        rc = parse_script(body, out, err);
    if (rc == SR_OK)
        rc = parse_entry(body, out, err);
    if (rc == SR_OK)
        rc = parse_limits(body, out, err);
    if (rc == SR_OK)
        rc = parse_misc(body, out, err);
    if (rc == SR_OK)
        rc = parse_input(body, out, err);
    if (rc != SR_OK)
        sr_job_request_fini(out);
    return rc;
}

void
sr_job_request_fini(struct sr_job_request *req)
{
    free(req->runtime);
    free(req->script);
    free(req->entry_point);
    free(req->input_json);
    memset(req, 0, sizeof(*req));
}

json_t *
sr_job_request_to_json(const struct sr_job_request *req)
{
    json_t *input = json_loadb(req->input_json, req->input_len, JSON_DECODE_ANY, NULL);
    json_t *o = json_pack("{s:s, s:s%, s:s, s:o, s:I, s:I, s:b}", "runtime", req->runtime,
                          "script", req->script, req->script_len, "entry_point",
                          req->entry_point, "input", input ? input : json_null(), "timeout",
                          (json_int_t)req->timeout_s, "memory_mb", (json_int_t)req->memory_mb,
                          "async", req->async);
    if (o && req->gas_limit)
        json_object_set_new(o, "gas_limit", json_integer((json_int_t)req->gas_limit));
    if (o && req->has_pubkey) {
        char *b64 = sr_base64_encode(req->output_pubkey, SR_BOX_PK_LEN);
        if (b64)
            json_object_set_new(o, "output_pubkey", json_string(b64));
        free(b64);
    }
    return o;
}

/* ---- running ---- */

void
sr_engine__outcome_fini(struct job_outcome *o)
{
    free(o->message);
    json_decref(o->output);
    json_decref(o->logs);
    memset(o, 0, sizeof(*o));
}

static void
fail(struct job_outcome *o, const char *code, const char *fmt, ...)
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

static char *
build_child_request(const struct sr_job_request *req, uint64_t cpu_us)
{
    json_t *o = json_pack("{s:s, s:s%, s:s, s:s%, s:s, s:I, s:I}", "runtime", req->runtime,
                          "script", req->script, req->script_len, "entry_point",
                          req->entry_point, "input", req->input_json, req->input_len, "secrets",
                          "{}", "cpu_limit_us", (json_int_t)cpu_us, "memory_bytes",
                          (json_int_t)req->memory_mb * SR_MIB);
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
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
sr_engine__run(sr_engine *eng, const char *owner, const struct sr_job_request *req,
               struct job_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->logs = json_array();
    if (req->input_len > SR_MAX_INPUT) {
        fail(o, SR_CODE_INPUT_TOO_LARGE, "input is %zu bytes of JSON; the limit is %u bytes",
             req->input_len, SR_MAX_INPUT);
        return;
    }
    uint64_t budget_timeout = (uint64_t)req->timeout_s * 1000000u;
    bool budget_is_timeout = !req->gas_limit || req->gas_limit >= budget_timeout;
    uint64_t cpu_us = budget_is_timeout ? budget_timeout : req->gas_limit;
    char *creq = build_child_request(req, cpu_us);
    if (!creq) {
        fail(o, SR_CODE_INTERNAL_ERROR, "out of memory preparing the job");
        return;
    }
    /* The runtime stops the guest at its own checks first (with logs);
     * the supervisor's kill is the backstop: wall clock plus a grace, and
     * memory with headroom for the engine's own baseline. */
    const struct sr_sandbox_limits lim = {
        .wall_ms = (uint64_t)req->timeout_s * 1000u + 500u,
        .memory_bytes = (uint64_t)req->memory_mb * SR_MIB * 3 / 2 + 64ull * SR_MIB,
    };
    sr_buf resp;
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    struct sr_sandbox_report rep = {0};
    sr_err e = {0};
    sr_status rc = sr_sandbox_run(eng->sandbox, owner, (const uint8_t *)creq, strlen(creq), &lim,
                                  &resp, &rep, &e);
    free(creq);
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
    if (rep.outcome != SR_SANDBOX_OK || !o->gas_used)
        o->gas_used = o->gas_used ? o->gas_used : rep.cpu_us;
    sr_buf_fini(&resp);
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

static void
set_time(json_t *job, const char *key, int64_t ms)
{
    char ts[32];
    sr_time_rfc3339(ms, ts);
    json_object_set_new(job, key, json_string(ts));
}

sr_status
sr_engine__job_object(const sr_engine *eng, const char *id, const struct sr_job_request *req,
                      struct job_outcome *o, int64_t created_ms, int64_t started_ms,
                      int64_t finished_ms, int64_t wall_us, json_t **out, sr_err *err)
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
        json_object_set_new(job, "error", json_pack("{s:s, s:s}", "code", o->code, "message",
                                                    o->message ? o->message : ""));
    json_object_set_new(job, "gas_used", json_integer((json_int_t)o->gas_used));
    uint64_t budget = (uint64_t)req->timeout_s * 1000000u;
    json_object_set_new(job, "gas_limit", json_integer((json_int_t)(
                                              req->gas_limit && req->gas_limit < budget
                                                  ? req->gas_limit
                                                  : budget)));
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
    if (rc != SR_OK) {
        json_decref(job);
        return rc;
    }
    *out = job;
    return SR_OK;
}
