/* SPDX-License-Identifier: MIT
 *
 * job.c - one job from request to result: the typed job spec sent to a job
 * process, the host calls it makes (its module, storage), the answer read
 * back with caps, and the job object with its output protection
 * (docs/output-protection.md) and signed receipt (docs/receipts.md).
 *
 * The job process is untrusted: its answer is decoded by
 * sr_job_answer_decode and nothing else, and its output is parsed here
 * exactly once. That parse gives the canonical output (RFC 8785) once, and
 * those bytes are what output_hash, the MAC, the receipt, encrypted_output,
 * the store and the reply all use: the job object's "output" is spliced in
 * from them, byte for byte.
 *
 * Sections: outcomes; the spec and host calls; reading the answer; running;
 * the job object.
 */
#include "engine_int.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sealrun/sr_js.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"
#include "sealrun/sr_vrf.h"

/* ---- outcomes ---- */

void
sr_engine__outcome_init(struct job_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->logs = json_array();
    sr_buf_init(&o->canon, SR_MAX_OUTPUT);
}

void
sr_engine__outcome_fini(struct job_outcome *o)
{
    free(o->message);
    json_decref(o->logs);
    json_decref(o->vrf);
    json_decref(o->key_uses);
    json_decref(o->http);
    sr_storage_session_free(o->storage);
    free(o->recording);
    sr_buf_fini(&o->canon);
    memset(o, 0, sizeof(*o));
}

void
sr_engine__fail(struct job_outcome *o, enum sr_job_code code, const char *fmt, ...)
{
    char msg[SR_MAX_ERROR_MSG + 512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->code = code;
    free(o->message);
    o->message = strdup(msg);
    sr_buf_reset(&o->canon);
    o->output_hash[0] = '\0';
}

/* ---- the spec and host calls ---- */

/* The CPU budget of a JS job is gas_limit or the timeout, whichever is
 * smaller (budget_is_timeout says which); WASM fuel is always given (the
 * default applies in request.c). This is also the job's "gas_limit". */
static uint64_t
job_budget(const struct sr_job_request *req, bool *is_timeout)
{
    uint64_t t = (uint64_t)req->timeout_s * 1000000u;
    bool wasm = req->runtime == SR_RUNTIME_WASM;
    bool by_time = !wasm && (!req->gas_limit || req->gas_limit >= t);
    if (is_timeout)
        *is_timeout = by_time;
    return by_time ? t : req->gas_limit;
}

static struct sr_bytes
bytes_of(const void *p, size_t len)
{
    return (struct sr_bytes){(const uint8_t *)p, len};
}

/* Encodes the job spec into frame (wiped by the caller: it holds the
 * secret values). The module of a WASM job given by hash is not sent: the
 * job process has it compiled, or asks for it (host_call). */
static sr_status
encode_spec(const struct sr_job_request *req, const char *owner, const char *job_id,
            const struct sr_secret_set *set, bool storage, const struct sr_engine__record *rec,
            enum sr_spec_native native, sr_buf *frame, sr_err *err)
{
    struct sr_job_spec *s = calloc(1, sizeof(*s));
    if (!s)
        return sr_err_set(err, SR_ENOMEM, "out of memory preparing a job");
    bool wasm = req->runtime == SR_RUNTIME_WASM;
    s->runtime = req->runtime;
    memcpy(s->code_hash, req->code_hash, 32);
    s->code = wasm ? bytes_of(NULL, 0) : bytes_of(req->code, req->code_len);
    s->entry = bytes_of(req->entry_point, req->entry_point ? strlen(req->entry_point) : 0);
    s->input =
        wasm ? bytes_of(req->stdin_data, req->stdin_len) : bytes_of(req->input, req->input_len);
    s->output_format = req->output_format;
    s->budget = job_budget(req, &s->budget_is_timeout);
    s->memory_bytes = (uint64_t)req->memory_mb * SR_MIB;
    s->storage = storage;
    (void)snprintf(s->job_id, sizeof(s->job_id), "%s", job_id);
    (void)snprintf(s->user, sizeof(s->user), "%s", owner);
    for (size_t i = 0; i < req->nargs; i++)
        s->args[s->nargs++] = bytes_of(req->args[i], strlen(req->args[i]));
    for (size_t i = 0; i < req->nenv; i++)
        s->env[s->nenv++] = bytes_of(req->env[i], strlen(req->env[i]));
    for (size_t i = 0; i < set->n; i++) {
        if (req->http_only_refs & (1u << i))
            continue; /* for placeholders only: it never enters the job process */
        s->secrets[s->nsecrets++] =
            (struct sr_job_secret){bytes_of(set->entry[i].key, strlen(set->entry[i].key)),
                                   bytes_of(set->entry[i].value.data, set->entry[i].value.len)};
    }
    s->native = native;
    if (rec) { /* recorded or replayed: randomness from the seed, the clock by host call */
        s->record = true;
        memcpy(s->record_seed, rec->seed, sizeof(s->record_seed));
    }
    sr_status rc = sr_job_spec_encode(s, frame, err);
    free(s);
    return rc;
}

/* What the supervisor answers for one job's host calls. */
struct job_host {
    const struct sr_job_request *req; /* its code is the module a WASM job may ask for */
    sr_storage_session *storage;      /* NULL: storage calls are refused */
    sr_http_session *http;            /* outbound HTTP (docs/http.md) */
    const sr_engine *eng;             /* its worker key proves crypto.vrf (NULL: no VRF) */
    const char *owner;
    const char *job_id;
    struct job_outcome *o;                /* collects the VRF and key uses for the receipt */
    const struct sr_engine__keys *keys;   /* the job's generated keys (held here) */
    struct sr_engine__record *rec;        /* recorded or replayed (docs/http.md); NULL: neither */
    const struct sr_engine_remote_io *io; /* a remote worker's job: storage at the coordinator */
    sr_engine *neng;                      /* its native tier answers 'N' */
    int fd;                               /* a descriptor for the answer (sr_sandbox_limits) */
};

/* 'V' seed: the VRF of the job's seed under the worker's VRF key
 * (docs/receipts.md "Verifiable randomness"). Answer: proof (80) ||
 * output (64) || the VRF public key (32). Recorded for the receipt. */
static sr_status
vrf_call(const struct job_host *h, const uint8_t *seed, size_t len, sr_buf *resp, sr_err *err)
{
    const sr_worker_key *key = h->eng ? h->eng->wkey : NULL;
    if (!key)
        return sr_err_set(err, SR_EDENIED,
                          "crypto.vrf: this service has no worker key to prove with");
    if (len > SR_VRF_MAX_SEED)
        return sr_err_set(err, SR_ELIMIT, "crypto.vrf: the seed is %zu bytes, the limit is %d", len,
                          SR_VRF_MAX_SEED);
    if (json_array_size(h->o->vrf) >= SR_VRF_MAX_CALLS)
        return sr_err_set(err, SR_ELIMIT, "crypto.vrf: a job may call it at most %d times",
                          SR_VRF_MAX_CALLS);
    sr_buf alpha;
    sr_buf_init(&alpha, 256 + SR_VRF_MAX_SEED);
    uint8_t out[SR_VRF_PROOF + SR_VRF_OUTPUT + SR_VRF_PUBLIC];
    char hex[2 * SR_VRF_MAX_SEED + 1];
    char proof_hex[2 * SR_VRF_PROOF + 1];
    char output_hex[2 * SR_VRF_OUTPUT + 1];
    char owner_hash[SR_HASH_HEX_LEN + 1];
    sr_receipt_owner_hash(h->owner, owner_hash);
    sr_status rc = sr_vrf_alpha(h->job_id, owner_hash, seed, len, &alpha, err);
    if (rc == SR_OK)
        rc = sr_worker_key_vrf_prove(key, (const uint8_t *)alpha.data, alpha.len, out,
                                     out + SR_VRF_PROOF, err);
    sr_buf_fini(&alpha);
    if (rc != SR_OK)
        return rc;
    sr_worker_key_vrf_public(key, out + SR_VRF_PROOF + SR_VRF_OUTPUT);
    sr_hex_encode(seed, len, hex);
    sr_hex_encode(out, SR_VRF_PROOF, proof_hex);
    sr_hex_encode(out + SR_VRF_PROOF, SR_VRF_OUTPUT, output_hex);
    if (!h->o->vrf)
        h->o->vrf = json_array();
    json_t *use =
        json_pack("{s:s, s:s, s:s}", "seed", hex, "output", output_hex, "proof", proof_hex);
    if (!use || json_array_append_new(h->o->vrf, use) != 0)
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a VRF use");
    return sr_buf_append(resp, out, sizeof(out), err);
}

static sr_status host_call(void *arg, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err);

/* Every host call: a recorded or replayed job's through record.c (its
 * module excepted: the same bytes either way, and a warm process never
 * asks); a clock read only for those. */
static sr_status
job_host_fn(void *arg, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    const struct job_host *h = arg;
    bool module =
        len >= 1 && (req[0] == SR_RUNNER_HOSTCALL_MODULE || req[0] == SR_RUNNER_HOSTCALL_NATIVE);
    if (h->rec && !module)
        return sr_engine__record_call(h->rec, host_call, arg, req, len, resp, err);
    if (len >= 1 && req[0] == SR_RUNNER_HOSTCALL_TIME)
        return sr_err_set(err, SR_EDENIED, "a clock host call in a job that is not recorded");
    return host_call(arg, req, len, resp, err);
}

static sr_status
host_call(void *arg, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    struct job_host *h = arg;
    if (len >= 1 && req[0] == SR_RUNNER_HOSTCALL_NATIVE) {
        if (h->req->runtime != SR_RUNTIME_WASM)
            return sr_err_set(err, SR_EDENIED, "a JavaScript job has no native code");
        return sr_engine__native_call(h->neng->native, h->req->code_hash, req, len, &h->fd, err);
    }
    if (len >= 1 && req[0] == SR_RUNNER_HOSTCALL_MODULE) {
        const struct sr_job_request *jr = h->req;
        if (len != 33 || jr->runtime != SR_RUNTIME_WASM || !jr->code ||
            memcmp(req + 1, jr->code_hash, 32) != 0)
            return sr_err_set(err, SR_EDENIED, "a job may only load its own module");
        /* once per process and module: the process keeps it compiled */
        sr_log(SR_LOG_DEBUG, "engine", "sent module %.16s (%zu bytes) to a job process",
               jr->code_hash_hex, jr->code_len);
        return sr_buf_append(resp, jr->code, jr->code_len, err);
    }
    if (len >= 1 && req[0] == SR_RUNNER_HOSTCALL_VRF)
        return vrf_call(h, req + 1, len - 1, resp, err);
    if (len >= 1 && req[0] == SR_RUNNER_HOSTCALL_KEY)
        return sr_engine__key_call(h->keys, req, len, &h->o->key_uses, resp, err);
    if (len >= 1 && req[0] == SR_HTTP_WIRE_OP)
        return sr_http_session_handle(h->http, req, len, resp, err);
    if (!h->storage && h->io && h->io->storage_call)
        return h->io->storage_call(h->io->arg, req, len, resp, err);
    if (!h->storage)
        return sr_err_set(err, SR_EDENIED, "storage is not available here (no store)");
    return sr_storage_session_handle(h->storage, req, len, resp, err);
}

/* ---- reading the answer ---- */

static void
take_logs(const struct sr_job_answer *a, struct job_outcome *o)
{
    for (size_t i = 0; i < a->nlogs; i++) {
        json_t *s = json_stringn((const char *)a->logs[i].p, a->logs[i].len);
        /* json_stringn refuses invalid UTF-8 (WASM stderr is any bytes) */
        (void)json_array_append_new(o->logs, s ? s : json_string("[log line is not valid UTF-8]"));
    }
}

/* The guest's output as a JSON value: JS gives JSON text; WASM gives its
 * stdout, read per output_format. NULL with o failed when it is not one. */
static json_t *
output_value(const struct sr_job_request *req, const struct sr_bytes *out, struct job_outcome *o)
{
    bool wasm = req->runtime == SR_RUNTIME_WASM;
    json_t *v = NULL;
    sr_err e = {0};
    enum sr_json_fault why = SR_JSON_FAULT_NONE;
    if (wasm && req->output_format == SR_OUTPUT_BASE64) {
        char *b64 = sr_base64_encode(out->p, out->len);
        v = b64 ? json_string(b64) : NULL;
        free(b64);
        if (!v)
            sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "out of memory encoding the output");
    } else if (wasm && req->output_format == SR_OUTPUT_TEXT) {
        v = json_stringn((const char *)out->p, out->len);
        if (!v)
            sr_engine__fail(o, SR_JOB_OUTPUT_NOT_JSON,
                            "stdout is not valid UTF-8 text; use output_format \"base64\"");
    } else if (wasm && out->len == 0) {
        sr_engine__fail(o, SR_JOB_OUTPUT_NOT_JSON,
                        "the program wrote nothing to stdout; output_format \"json\" expects one "
                        "JSON value");
    } else if (sr_json_parse_fault((const char *)out->p, out->len, 2048, wasm ? "stdout" : "output",
                                   &v, &why, &e) != SR_OK) {
        /* a number RFC 8785 cannot hash exactly has its own code */
        sr_engine__fail(
            o, why == SR_JSON_FAULT_NUMBER ? SR_JOB_OUTPUT_NUMBER_INEXACT : SR_JOB_OUTPUT_NOT_JSON,
            "%s%s", e.msg,
            wasm && why != SR_JSON_FAULT_NUMBER ? " (use output_format \"text\" or \"base64\")"
                                                : "");
        v = NULL;
    }
    return v;
}

/* Parses the output once and keeps its canonical bytes and their hash. */
static void
take_output(const struct sr_job_request *req, const struct sr_bytes *out, struct job_outcome *o)
{
    json_t *v = output_value(req, out, o);
    if (!v)
        return;
    sr_err e = {0};
    sr_status rc = sr_json_canonical(v, &o->canon, &e);
    json_decref(v);
    if (rc == SR_ELIMIT)
        sr_engine__fail(o, SR_JOB_OUTPUT_TOO_LARGE,
                        "the output is more than %u bytes of canonical JSON", SR_MAX_OUTPUT);
    else if (rc == SR_EINVAL) /* an integer RFC 8785 cannot hash exactly (sr_json.h) */
        sr_engine__fail(o, SR_JOB_OUTPUT_NUMBER_INEXACT, "%s", e.msg);
    else if (rc != SR_OK)
        sr_engine__fail(o, SR_JOB_OUTPUT_NOT_JSON, "%s", e.msg);
    else
        sr_sha256_hex(o->canon.data ? o->canon.data : "", o->canon.len, o->output_hash);
}

static void
read_answer(const struct sr_job_request *req, const sr_buf *resp, struct job_outcome *o)
{
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    sr_err e = {0};
    if (!a) {
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "out of memory reading the job's answer");
        return;
    }
    if (sr_job_answer_decode((const uint8_t *)resp->data, resp->len, a, &e) != SR_OK) {
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "the job process sent an unreadable answer: %s",
                        e.msg);
        free(a);
        return;
    }
    o->gas_used = a->gas_used;
    o->native = req->runtime == SR_RUNTIME_WASM && a->native;
    o->module_invalid = a->code == SR_JOB_MODULE_ERROR && a->module_invalid;
    take_logs(a, o);
    if (a->code == SR_JOB_OK)
        take_output(req, &a->output, o);
    else
        sr_engine__fail(o, a->code, "%.*s", (int)a->message.len, (const char *)a->message.p);
    free(a);
}

/* ---- running ---- */

/* A JS job process ends itself (SIGXCPU, or SR_JS_BACKSTOP_EXIT_STATUS as a PID
 * namespace's init) when its guest used the CPU budget plus a grace in work
 * the watchdog cannot interrupt (the runtime's CPU backstop, sr_js.h): that is
 * the budget running out. */
static void
report_backstop(const struct sr_job_request *req, const struct sr_sandbox_report *rep,
                struct job_outcome *o)
{
    bool by_time = false;
    uint64_t budget = job_budget(req, &by_time);
    if (by_time)
        sr_engine__fail(o, SR_JOB_TIMEOUT, "the script used its whole time budget (timeout)");
    else
        sr_engine__fail(o, SR_JOB_GAS_EXHAUSTED,
                        "CPU budget exhausted: the script used %llu us of CPU, the limit "
                        "(gas_limit) is %llu us; it was stopped in work the watchdog cannot "
                        "interrupt (a chain of promise jobs, one long RegExp match)",
                        (unsigned long long)rep->cpu_us, (unsigned long long)budget);
}

static void
report_outcome(const struct sr_job_request *req, const struct sr_sandbox_report *rep,
               const sr_buf *resp, struct job_outcome *o)
{
    switch (rep->outcome) {
    case SR_SANDBOX_OK:
        read_answer(req, resp, o);
        break;
    case SR_SANDBOX_TIMEOUT:
        sr_engine__fail(o, SR_JOB_TIMEOUT, "the job ran past its timeout of %u s and was killed",
                        req->timeout_s);
        break;
    case SR_SANDBOX_MEMORY:
        sr_engine__fail(o, SR_JOB_MEMORY_LIMIT, "the job used more than its memory limit of %u MiB",
                        req->memory_mb);
        break;
    case SR_SANDBOX_CANCELLED: /* its daemon lost the job: this end is never written */
        sr_engine__fail(o, SR_JOB_INTERRUPTED, "the job was stopped: %s", rep->detail);
        break;
    case SR_SANDBOX_CRASHED:
        if (req->runtime == SR_RUNTIME_JS &&
            (rep->signal == SIGXCPU ||
             (rep->signal == 0 && rep->exit_status == SR_JS_BACKSTOP_EXIT_STATUS))) {
            report_backstop(req, rep, o);
            break;
        }
        /* fall through */
    default:
        sr_engine__fail(o, SR_JOB_SANDBOX_CRASHED, "the job process ended abnormally: %s",
                        rep->detail);
        break;
    }
    /* a killed process reports nothing: JS gas is then its CPU time */
    if (req->runtime == SR_RUNTIME_JS && !o->gas_used)
        o->gas_used = rep->cpu_us;
}

/* A job whose HTTP request was refused or failed, and that then failed in
 * the guest (uncaught exception, trap, non-zero exit), ended because of it:
 * it gets the request's code (HTTP_DENIED, ...), as a storage cap does. */
static void
http_outcome(const sr_http_session *s, struct job_outcome *o)
{
    static const enum sr_job_code codes[] = {
        [SR_HTTP_WIRE_DENIED] = SR_JOB_HTTP_DENIED,      [SR_HTTP_WIRE_LIMIT] = SR_JOB_HTTP_LIMIT,
        [SR_HTTP_WIRE_TIMEOUT] = SR_JOB_HTTP_TIMEOUT,    [SR_HTTP_WIRE_ERROR] = SR_JOB_HTTP_ERROR,
        [SR_HTTP_WIRE_INVALID] = SR_JOB_EXECUTION_ERROR,
    };
    const char *why = NULL;
    enum sr_http_wire_code c = sr_http_session_failure(s, &why);
    if (c == SR_HTTP_WIRE_OK || c == SR_HTTP_WIRE_INVALID ||
        (o->code != SR_JOB_EXECUTION_ERROR && o->code != SR_JOB_EXIT_CODE))
        return;
    o->code = codes[c];
    if (o->message && strstr(o->message, why))
        return;
    char msg[SR_ERR_MSG_MAX + 1024];
    (void)snprintf(msg, sizeof(msg), "http: %s; then: %s", why,
                   o->message ? o->message : "the job failed");
    free(o->message);
    o->message = strdup(msg);
}

/* The job's HTTP session: its allow list and limits, the operator's
 * policy, the job's wall clock, its secrets for placeholders. */
static sr_status
http_begin(sr_engine *eng, const struct sr_job_request *req, const struct sr_secret_set *set,
           struct sr_http_secret *secs, sr_http_session **out, sr_err *err)
{
    for (size_t i = 0; i < set->n; i++)
        secs[i] = (struct sr_http_secret){.name = set->entry[i].key,
                                          .value = (const uint8_t *)set->entry[i].value.data,
                                          .len = set->entry[i].value.len,
                                          .hosts = (const char *const *)set->entry[i].http_hosts,
                                          .nhosts = set->entry[i].n_http_hosts};
    const struct sr_http_session_config cfg = {
        .policy = eng->http,
        .job = &req->http,
        /* a request never outlives the job: the guest still gets its answer */
        .deadline_us = sr_mono_us() + (int64_t)req->timeout_s * 1000000 - 50000,
        .secrets = secs,
        .nsecrets = set->n,
    };
    return sr_http_session_new(&cfg, out, err);
}

/* Sends the spec to a job process of 'owner' and reads what happened. */
static void
run_in_sandbox(sr_engine *eng, const char *owner, const char *job_id,
               const struct sr_job_request *req, const sr_buf *frame, sr_storage_session *storage,
               sr_http_session *http, const struct sr_engine__keys *keys,
               struct sr_engine__record *rec, const struct sr_engine_remote_io *io,
               sr_sandbox_cancel *cancel, struct job_outcome *o)
{
    struct job_host host = {.io = io,
                            .keys = keys,
                            .rec = rec,
                            .req = req,
                            .storage = storage,
                            .http = http,
                            .eng = eng,
                            .owner = owner,
                            .job_id = job_id,
                            .o = o,
                            .neng = eng,
                            .fd = -1};
    /* The runtime stops the guest at its own checks first (with logs);
     * the supervisor's kill is the backstop: wall clock plus a grace, and
     * memory with headroom for the engine's own baseline. */
    const struct sr_sandbox_limits lim = {
        .wall_ms = (uint64_t)req->timeout_s * 1000u + 500u,
        .memory_bytes = (uint64_t)req->memory_mb * SR_MIB * 3 / 2 + 128ull * SR_MIB,
        .host_fn = job_host_fn,
        .host_arg = &host,
        .discard_after = o->discard_process,
        .label = job_id, /* names the job in the process's log lines */
        .cancel = cancel,
        .host_fd = &host.fd,
    };
    sr_buf resp;
    sr_buf_init_secure(&resp, SR_RUNNER_MAX_ANSWER);
    struct sr_sandbox_report rep = {0};
    sr_err e = {0};
    sr_status rc = sr_sandbox_run(eng->sandbox, owner, (const uint8_t *)frame->data, frame->len,
                                  &lim, &resp, &rep, &e);
    if (rc != SR_OK)
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "the sandbox could not run the job: %s", e.msg);
    else
        report_outcome(req, &rep, &resp, o);
    sr_buf_fini_secure(&resp); /* a guest may echo its secrets into the output */
    if (host.fd >= 0)          /* a descriptor never sent */
        close(host.fd);
}

/* A recorded job's recording, sealed into o (or the job failed with
 * RECORDING_LIMIT when it outgrew its cap). */
static void
record_finish(const struct sr_engine__record *rec, const char *owner, const char *job_id,
              const struct sr_job_request *req, bool storage, struct job_outcome *o)
{
    if (rec->over || !rec->calls) {
        sr_engine__fail(o, SR_JOB_RECORDING_LIMIT,
                        "the job's recording outgrew its cap of %u bytes of host calls "
                        "(docs/limits.md)",
                        SR_MAX_RECORDING);
        return;
    }
    sr_err e = {0};
    if (sr_engine__record_seal(rec, owner, job_id, req, storage, &o->recording, o->recording_sha256,
                               &e) != SR_OK)
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "%s", e.msg);
}

static void run_with_set(sr_engine *eng, const char *owner, const char *job_id,
                         const struct sr_job_request *req, struct sr_secret_set *given,
                         const struct sr_engine__replay_job *replay,
                         const struct sr_engine_remote_io *io, sr_sandbox_cancel *cancel,
                         struct job_outcome *o);

void
sr_engine__run(sr_engine *eng, const char *owner, const char *job_id,
               const struct sr_job_request *req, const struct sr_secret_refs *refs,
               sr_sandbox_cancel *cancel, struct job_outcome *o)
{
    sr_engine__run_job(eng, owner, job_id, req, refs, NULL, cancel, o);
}

void
sr_engine__run_job(sr_engine *eng, const char *owner, const char *job_id,
                   const struct sr_job_request *req, const struct sr_secret_refs *refs,
                   const struct sr_engine__replay_job *replay, sr_sandbox_cancel *cancel,
                   struct job_outcome *o)
{
    sr_engine__outcome_init(o);
    if (req->input_len > SR_MAX_INPUT) {
        sr_engine__fail(o, SR_JOB_INPUT_TOO_LARGE,
                        "input is %zu bytes of JSON; the limit is %u bytes", req->input_len,
                        SR_MAX_INPUT);
        return;
    }
    struct sr_secret_set set;
    char unavailable[SR_ERR_MSG_MAX];
    sr_err e = {0};
    sr_status rc = sr_engine__secrets_for_job(eng, owner, job_id, req, refs, &set, o, unavailable,
                                              sizeof(unavailable), &e);
    if (rc != SR_OK) {
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "secrets could not be prepared: %s", e.msg);
        return;
    }
    if (unavailable[0]) {
        sr_engine__fail(o, SR_JOB_SECRET_UNAVAILABLE, "%s", unavailable);
        return;
    }
    run_with_set(eng, owner, job_id, req, &set, replay, NULL, cancel, o);
}

void
sr_engine__run_given(sr_engine *eng, const char *owner, const char *job_id,
                     const struct sr_job_request *req, struct sr_secret_set *given,
                     const struct sr_engine_remote_io *io, sr_sandbox_cancel *cancel,
                     struct job_outcome *o)
{
    sr_engine__outcome_init(o);
    if (req->input_len > SR_MAX_INPUT) {
        sr_secret_set_fini(given);
        sr_engine__fail(o, SR_JOB_INPUT_TOO_LARGE,
                        "input is %zu bytes of JSON; the limit is %u bytes", req->input_len,
                        SR_MAX_INPUT);
        return;
    }
    sr_engine__secrets_used(owner, given, o);
    run_with_set(eng, owner, job_id, req, given, NULL, io, cancel, o);
}

/* The run of a job whose secrets are resolved into *set (wiped here). */
static void
run_with_set(sr_engine *eng, const char *owner, const char *job_id,
             const struct sr_job_request *req, struct sr_secret_set *given,
             const struct sr_engine__replay_job *replay, const struct sr_engine_remote_io *io,
             sr_sandbox_cancel *cancel, struct job_outcome *o)
{
    sr_err e = {0};
    struct sr_secret_set set = *given; /* moved: given is emptied */
    memset(given, 0, sizeof(*given));
    /* generated keys stay here: from now on the set holds their public
     * references only (for the job, placeholders and all that follows) */
    struct sr_engine__keys keys;
    sr_status rc = sr_engine__keys_take(&set, &keys, &e);
    sr_storage_session *storage = NULL;
    sr_http_session *http = NULL;
    struct sr_http_secret secs[SR_MAX_SECRET_REFS];
    if (rc == SR_OK)
        rc = sr_engine__storage_begin(eng, owner, req, &storage, &e);
    if (rc == SR_OK)
        rc = http_begin(eng, req, &set, secs, &http, &e);
    sr_buf frame;
    sr_buf_init_secure(&frame, SR_MAX_IPC_FRAME); /* holds secret values */
    struct sr_engine__record own;
    bool recording = req->record && !replay;
    if (recording)
        sr_engine__record_init(&own);
    struct sr_engine__record *rec = replay ? replay->rec : recording ? &own : NULL;
    bool has_storage = storage != NULL || (replay && replay->storage) || (io && io->storage_call);
    /* a replay runs where the recording did not say: the interpreter */
    enum sr_spec_native native = replay ? SR_SPEC_INTERP : sr_engine__native_plan(eng->native, req);
    o->native = native == SR_SPEC_NATIVE; /* what a process that dies without answering ran */
    if (rc == SR_OK)
        rc = encode_spec(req, owner, job_id, &set, has_storage, rec, native, &frame, &e);
    if (rc == SR_OK)
        run_in_sandbox(eng, owner, job_id, req, &frame, storage, http, &keys, rec, io, cancel, o);
    else
        sr_engine__fail(o, SR_JOB_INTERNAL_ERROR, "the job could not be prepared: %s", e.msg);
    sr_buf_fini_secure(&frame);
    /* the values were needed for placeholders until the job ended */
    sr_secret_set_fini(&set);
    sr_engine__keys_audit(eng, &keys, o->key_uses, owner, job_id, req);
    sr_engine__keys_fini(&keys);
    size_t nx = 0;
    const struct sr_http_exchange *x = sr_http_session_exchanges(http, &nx);
    o->http = sr_http_exchanges_json(x, nx);
    http_outcome(http, o);
    sr_http_session_free(http);
    if (recording && rc == SR_OK)
        record_finish(&own, owner, job_id, req, has_storage, o);
    if (recording)
        sr_engine__record_fini(&own);
    /* its writes are committed with its end, only if it completed
     * (docs/storage.md, docs/cluster.md "A job's end") */
    sr_engine__storage_keep(storage, o);
}

/* ---- the job object ---- */

/* MAC and sealed copy of the canonical output. */
static sr_status
protect_output(const sr_engine *eng, const char *id, const struct sr_job_request *req,
               const struct job_outcome *o, json_t *job, sr_err *err)
{
    json_object_set_new(job, "output_hash", json_string(o->output_hash));
    if (eng->keys) {
        char mac[SR_HASH_HEX_LEN + 1];
        sr_output_mac(eng->keys, id, o->output_hash, mac);
        json_object_set_new(job, "signature", json_string(mac));
    }
    if (!req->has_pubkey)
        return SR_OK;
    char *sealed = NULL;
    sr_status rc = sr_box_seal(req->output_pubkey, o->canon.data ? o->canon.data : "", o->canon.len,
                               &sealed, err);
    if (rc == SR_OK)
        json_object_set_new(job, "encrypted_output", json_string(sealed));
    free(sealed);
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

/* Times and limits of a run, as the job object states them. */
struct run_facts {
    uint64_t gas_limit;
    int64_t started_ms, finished_ms, wall_us;
};

/* Builds, signs and attaches "receipt" and "receipt_signature"
 * (docs/receipts.md). 'job' already holds encrypted_output when sealed.
 * Any failure is SR_EINTERNAL: it is sealrun's, never the client's. */
static sr_status
add_receipt(const sr_engine *eng, const char *id, const char *owner,
            const struct sr_job_request *req, const struct job_outcome *o,
            const struct run_facts *rf, json_t *job, sr_err *err)
{
    struct sr_receipt_secret_ref refs[SR_MAX_SECRET_REFS];
    for (size_t i = 0; i < o->nused; i++)
        refs[i] =
            (struct sr_receipt_secret_ref){o->used[i].name, o->used[i].owner, o->used[i].version};
    bool ok = o->code == SR_JOB_OK;
    uint8_t vrf_pk[SR_VRF_PUBLIC];
    sr_worker_key_vrf_public(eng->wkey, vrf_pk);
    const struct sr_receipt_fields f = {
        .job_id = id,
        .owner = owner,
        .runtime = sr_runtime_name(req->runtime),
        .engine_version =
            req->runtime == SR_RUNTIME_WASM ? "sealrun-wasm " SR_VERSION : sr_js_engine_version(),
        .entry_point = req->runtime == SR_RUNTIME_WASM ? NULL : req->entry_point,
        .code_hash_hex = req->code_hash_hex,
        .input_hash_hex = req->input_hash_hex,
        .secret_refs = refs,
        .n_secret_refs = o->nused,
        .timeout_s = req->timeout_s,
        .memory_mb = req->memory_mb,
        .gas_limit = rf->gas_limit,
        .gas_used = o->gas_used,
        .duration_us = rf->wall_us > 0 ? (uint64_t)rf->wall_us : 0,
        .completed = ok,
        .error_code = ok ? NULL : sr_job_code_name(o->code),
        .output_hash_hex = ok ? o->output_hash : NULL,
        .encrypted_output = json_string_value(json_object_get(job, "encrypted_output")),
        .logs = o->logs,
        .started_ms = rf->started_ms,
        .finished_ms = rf->finished_ms,
        .worker_pk = eng->pk,
        .measurement = eng->measurement,
        .quote = eng->quote,
        .storage_version_before = o->has_storage ? o->storage_version_before : NULL,
        .storage_version_after = o->has_storage ? o->storage_version_after : NULL,
        .vrf = o->vrf,
        .vrf_pk = vrf_pk,
        .http = o->http,
        .key_uses = o->key_uses,
        .cost = json_object_get(job, "cost"),
        .recording_sha256 = o->recording ? o->recording_sha256 : NULL,
        .tier = req->runtime == SR_RUNTIME_WASM ? (o->native ? "native" : "interp") : NULL,
    };
    json_t *receipt = NULL;
    sr_status rc = sr_receipt_build(&f, &receipt, NULL, err);
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

/* Serialises job (without "output") and splices "output" in: the
 * canonical bytes, or null. The text starts {"output":..., then the
 * members sr_json_dumps wrote. */
static sr_status
splice_output(const json_t *job, const struct job_outcome *o, bool clear, char **out,
              size_t *out_len, sr_err *err)
{
    char *rest = sr_json_dumps(job, JSON_COMPACT);
    if (!rest)
        return sr_err_set(err, SR_ENOMEM, "out of memory serialising a job");
    size_t rest_len = strlen(rest);
    sr_buf b;
    sr_buf_init(&b, SR_MAX_OUTPUT + rest_len + 64);
    sr_status rc = sr_buf_append_str(&b, "{\"output\":", err);
    if (rc == SR_OK)
        rc = clear ? sr_buf_append(&b, o->canon.data, o->canon.len, err)
                   : sr_buf_append_str(&b, "null", err);
    if (rc == SR_OK && rest_len > 2)
        rc = sr_buf_append(&b, ",", 1, err);
    if (rc == SR_OK)
        rc = sr_buf_append(&b, rest + 1, rest_len - 1, err); /* members and the '}' */
    free(rest);
    if (rc != SR_OK) {
        sr_buf_fini(&b);
        return rc;
    }
    *out_len = b.len;
    *out = sr_buf_steal(&b);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory serialising a job");
}

sr_status
sr_engine__job_text(const sr_engine *eng, const char *id, const char *owner,
                    const struct sr_job_request *req, const struct job_outcome *o,
                    int64_t created_ms, int64_t started_ms, int64_t finished_ms, int64_t wall_us,
                    char **out, size_t *out_len, sr_err *err)
{
    bool ok = o->code == SR_JOB_OK;
    json_t *job = json_object();
    if (!job)
        return sr_err_set(err, SR_ENOMEM, "out of memory building job '%s'", id);
    json_object_set_new(job, "job_id", json_string(id));
    json_object_set_new(job, "status", json_string(ok ? "completed" : "failed"));
    json_object_set_new(job, "runtime", json_string(sr_runtime_name(req->runtime)));
    if (req->runtime == SR_RUNTIME_WASM)
        json_object_set_new(job, "tier", json_string(o->native ? "native" : "interp"));
    json_object_set(job, "logs", o->logs);
    if (!ok)
        json_object_set_new(job, "error",
                            json_pack("{s:s, s:s}", "code", sr_job_code_name(o->code), "message",
                                      o->message ? o->message : ""));
    json_object_set_new(job, "gas_used", json_integer((json_int_t)o->gas_used));
    uint64_t limit = job_budget(req, NULL);
    json_object_set_new(job, "gas_limit", json_integer((json_int_t)limit));
    json_object_set_new(job, "storage", storage_json(o));
    if (o->http) /* the exchanges the receipt signs (docs/http.md) */
        json_object_set(job, "http", o->http);
    json_t *cost = sr_engine__cost_json(&o->money); /* priced jobs (docs/accounts.md) */
    if (cost)
        json_object_set_new(job, "cost", cost);
    if (o->recording) /* GET /jobs/{id}/recording (docs/http.md "Record and replay") */
        json_object_set_new(job, "recording_sha256", json_string(o->recording_sha256));
    set_time(job, "created_at", created_ms);
    set_time(job, "started_at", started_ms);
    set_time(job, "finished_at", finished_ms);
    char dur[32];
    sr_duration_str(wall_us, dur);
    json_object_set_new(job, "duration", json_string(dur));
    json_object_set_new(job, "duration_ms", json_integer((json_int_t)(wall_us / 1000)));
    sr_status rc = SR_OK;
    if (ok)
        rc = protect_output(eng, id, req, o, job, err);
    if (rc == SR_OK && eng->wkey) {
        const struct run_facts rf = {limit, started_ms, finished_ms, wall_us};
        rc = add_receipt(eng, id, owner, req, o, &rf, job, err);
    }
    /* With output_pubkey the output is only given sealed (docs/http-api.md). */
    if (rc == SR_OK)
        rc = splice_output(job, o, ok && !req->has_pubkey, out, out_len, err);
    json_decref(job);
    return rc;
}
