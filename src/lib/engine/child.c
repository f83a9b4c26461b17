/* SPDX-License-Identifier: MIT
 *
 * child.c - the engine's side of a job process: creates the runtime once per
 * process (before seccomp) and runs each job the supervisor sends.
 *
 * Request (supervisor -> job process): a JSON header, a NUL, the secrets
 * object as JSON text (values plus SEALRUN_JOB_ID and SEALRUN_USER), a NUL,
 * and for a WASM job the module bytes:
 *   {"runtime":"js"|"wasm","input":<json text>,"memory_bytes":N,
 *    js: "script":S,"entry_point":E,"cpu_limit_us":N,
 *    wasm: "fuel":N,"output_format":0|1|2,"args":[..],"env":["K=V",..]}
 * JS sees the secrets object as 'secrets'; WASM gets each member as an
 * environment variable NAME=value (after the request's own env, so a
 * secret wins over a variable of the same name).
 * Response, JSON:
 *   {"ok":bool,"output":<json text>|null,"logs":[..],"gas_used":N,
 *    "code":C|null,"message":M|null}
 * Storage calls (JS storage.*, WASM "sealrun" imports; child_storage.c) are
 * host calls over the job's socketpair.
 * Everything here runs under the sandbox's seccomp policy: no files, no
 * sockets. A secret reaches this process only inside the request.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_util.h"
#include "sealrun/sr_wasm.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_json.h"

struct proc_state {
    sr_js_vm *js;
};

sr_status
sr_engine__proc_init(void *arg, void **state, sr_err *err)
{
    const sr_engine *eng = arg;
    struct proc_state *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting a job process");
    const struct sr_js_options opt = {.no_jit = eng->cfg.js_no_jit};
    sr_status rc = sr_js_vm_new(&opt, &ps->js, err);
    if (rc != SR_OK) {
        free(ps);
        return sr_err_wrap(err, "starting the JavaScript runtime");
    }
    *state = ps;
    return SR_OK;
}

/* The answer to the supervisor. Takes nothing; copies what it needs. */
struct answer {
    bool ok;
    const char *output_json; /* when ok */
    json_t *logs;            /* borrowed array, may be NULL */
    uint64_t gas_used;
    const char *code;    /* when !ok */
    const char *message; /* when !ok */
};

static sr_status
write_answer(const struct answer *a, sr_buf *resp, sr_err *err)
{
    json_t *o = json_object();
    if (!o)
        return sr_err_set(err, SR_ENOMEM, "out of memory building a job response");
    json_object_set_new(o, "ok", json_boolean(a->ok));
    json_object_set_new(o, "output", a->output_json ? json_string(a->output_json) : json_null());
    json_object_set_new(o, "logs", a->logs ? json_incref(a->logs) : json_array());
    json_object_set_new(o, "gas_used", json_integer((json_int_t)a->gas_used));
    json_object_set_new(o, "code", a->code ? json_string(a->code) : json_null());
    json_object_set_new(o, "message", a->message ? json_string(a->message) : json_null());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding a job response");
    sr_status rc = sr_buf_append_str(resp, text, err);
    free(text);
    return rc;
}

static sr_status
run_js(struct proc_state *ps, const json_t *j, const char *secrets, sr_sandbox_child *child,
       sr_buf *resp, bool *discard, sr_err *err)
{
    const json_t *script = json_object_get(j, "script");
    struct sr_js_job job = {
        .script = json_string_value(script),
        .script_len = json_string_length(script),
        .entry_point = json_string_value(json_object_get(j, "entry_point")),
        .input_json = json_string_value(json_object_get(j, "input")),
        .secrets_json = secrets,
        .cpu_limit_us = (uint64_t)json_integer_value(json_object_get(j, "cpu_limit_us")),
        .memory_bytes = (uint64_t)json_integer_value(json_object_get(j, "memory_bytes")),
        .statm_fd = sr_sandbox_child_statm_fd(child),
        .host_call = sr_engine__js_hostcall,
        .host_ctx = child,
    };
    if (!job.script)
        return sr_err_set(err, SR_EINTERNAL, "job request without a script");
    struct sr_js_result r = {0};
    sr_status rc = sr_js_run(ps->js, &job, &r, err);
    if (rc == SR_OK) {
        const struct answer a = {r.ok,       r.output_json, r.logs,
                                 r.gas_used, r.error_code,  r.error_message};
        rc = write_answer(&a, resp, err);
    }
    *discard = r.discard;
    sr_js_result_fini(&r);
    return rc;
}

/* ---- WebAssembly ---- */

/* stderr becomes log entries, one per line, with the JS runtime's caps and
 * truncation markers. */
static json_t *
stderr_logs(const uint8_t *p, size_t len)
{
    json_t *logs = json_array();
    size_t dropped = 0;
    for (size_t i = 0; logs && i < len;) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (p + i)) : len - i;
        if (json_array_size(logs) >= SR_MAX_LOG_ENTRIES) {
            dropped++;
        } else {
            char line[SR_MAX_LOG_ENTRY + 64];
            bool cut = n > SR_MAX_LOG_ENTRY;
            int w = snprintf(line, sizeof(line), "%.*s%s", (int)(cut ? SR_MAX_LOG_ENTRY : n),
                             (const char *)p + i,
                             cut ? " [truncated: log entry longer than 4096 bytes]" : "");
            /* json_stringn refuses invalid UTF-8 (a cut may split a character) */
            json_t *s = w > 0 ? json_stringn(line, (size_t)w) : NULL;
            json_array_append_new(logs, s ? s : json_string("[log line is not valid UTF-8]"));
        }
        i += n + 1;
    }
    if (logs && dropped) {
        size_t last = json_array_size(logs) - 1;
        char tail[SR_MAX_LOG_ENTRY + 128];
        (void)snprintf(tail, sizeof(tail), "%s [log limit: %zu more entries dropped]",
                       json_string_value(json_array_get(logs, last)), dropped);
        json_array_set_new(logs, last, json_string(tail));
    }
    return logs;
}

/* Turns stdout into the output's JSON text per output_format. Returns the
 * text (owned), or NULL with the reason in msg. */
static char *
wasm_output(const struct sr_wasi_result *r, int format, char *msg, size_t msg_len)
{
    json_t *v = NULL;
    if (format == SR_OUTPUT_BASE64) {
        char *b64 = sr_base64_encode(r->stdout_data, r->stdout_len);
        v = b64 ? json_string(b64) : NULL;
        free(b64);
    } else if (format == SR_OUTPUT_TEXT) {
        v = json_stringn((const char *)r->stdout_data, r->stdout_len);
        if (!v)
            (void)snprintf(msg, msg_len,
                           "stdout is not valid UTF-8 text; use output_format "
                           "\"base64\"");
    } else {
        sr_err e = {0};
        if (r->stdout_len == 0)
            (void)snprintf(msg, msg_len,
                           "the program wrote nothing to stdout; output_format "
                           "\"json\" expects one JSON value");
        else if (sr_json_parse((const char *)r->stdout_data, r->stdout_len, 2048, "stdout", &v,
                               &e) != SR_OK)
            (void)snprintf(msg, msg_len, "%s (use output_format \"text\" or \"base64\")", e.msg);
    }
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return text;
}

static void
wasm_failure(sr_status rc, const struct sr_wasi_result *r, const char **code, char *msg,
             size_t msg_len)
{
    if (r->trap == SR_WASM_TRAP_FUEL) {
        *code = SR_CODE_GAS_EXHAUSTED;
        (void)snprintf(msg, msg_len, "the program used all of its fuel (gas_limit)");
    } else if (r->stdout_truncated) {
        *code = SR_CODE_OUTPUT_TOO_LARGE;
        (void)snprintf(msg, msg_len, "the program wrote more than %u bytes to stdout",
                       SR_MAX_OUTPUT);
    } else if (r->memory_limit) {
        *code = SR_CODE_MEMORY_LIMIT;
        (void)snprintf(msg, msg_len, "the program needed more linear memory than memory_mb: %s",
                       r->message);
    } else if (rc == SR_EINVAL) {
        *code = SR_CODE_MODULE_ERROR;
        (void)snprintf(msg, msg_len, "%s", r->message);
    } else {
        *code = SR_CODE_EXECUTION_ERROR;
        (void)snprintf(msg, msg_len, "wasm trap: %s", r->message);
    }
}

/* The last bytes of stderr, for an EXIT_CODE message. */
static void
exit_message(const struct sr_wasi_result *r, char *msg, size_t msg_len)
{
    size_t tail = r->stderr_len > 300 ? 300 : r->stderr_len;
    const char *p = (const char *)r->stderr_data + r->stderr_len - tail;
    int n = snprintf(msg, msg_len, "the program exited with code %u", r->exit_code);
    if (tail && n > 0 && (size_t)n < msg_len)
        (void)snprintf(msg + n, msg_len - (size_t)n, "; stderr ends with: %.*s", (int)tail, p);
}

/* The environment: the request's NAME=value strings, then one per member
 * of the secrets object. Returns owned strings in env[0..*n) (free each). */
static void
wasi_env(const json_t *j, const char *secrets, char **env, size_t cap, size_t *n)
{
    const json_t *req_env = json_object_get(j, "env");
    for (size_t i = 0; i < json_array_size(req_env) && *n < cap; i++) {
        char *kv = strdup(json_string_value(json_array_get(req_env, i)));
        if (kv)
            env[(*n)++] = kv;
    }
    json_t *sec = secrets ? json_loads(secrets, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(sec, k, v)
    {
        const char *val = json_string_value(v);
        size_t len = strlen(k) + (val ? strlen(val) : 0) + 2;
        char *kv = val && *n < cap ? malloc(len) : NULL;
        if (!kv)
            continue;
        (void)snprintf(kv, len, "%s=%s", k, val);
        env[(*n)++] = kv;
    }
    json_decref(sec);
}

/* Input: a JSON string arrives as its UTF-8 bytes, anything else as JSON text. */
static sr_status
run_wasi(const json_t *j, const char *secrets, const sr_wasm_module *mod, sr_sandbox_child *child,
         struct sr_wasi_result *r, sr_err *err)
{
    const char *input = json_string_value(json_object_get(j, "input"));
    json_t *in = input ? json_loads(input, JSON_DECODE_ANY, NULL) : NULL;
    const char *stdin_data = input ? input : "null";
    size_t stdin_len = strlen(stdin_data);
    if (json_is_string(in)) {
        stdin_data = json_string_value(in);
        stdin_len = json_string_length(in);
    }
    const json_t *args = json_object_get(j, "args");
    const char *argv[SR_MAX_WASI_ARGS + 1] = {"job"};
    char *env[SR_MAX_WASI_ENV + SR_MAX_SECRET_REFS + 2];
    size_t argc = 1, envc = 0;
    for (size_t i = 0; i < json_array_size(args) && argc <= SR_MAX_WASI_ARGS; i++)
        argv[argc++] = json_string_value(json_array_get(args, i));
    wasi_env(j, secrets, env, sizeof(env) / sizeof(env[0]), &envc);
    uint64_t mem = (uint64_t)json_integer_value(json_object_get(j, "memory_bytes"));
    const struct sr_wasm_limits lim = {
        .max_pages = (uint32_t)(mem / 65536u),
        .fuel = (uint64_t)json_integer_value(json_object_get(j, "fuel")),
    };
    struct sr_wasi_host_func storage[SR_ENGINE__WASM_STORAGE_FUNCS];
    sr_engine__wasm_storage_funcs(child, storage);
    const struct sr_wasi_config cfg = {
        .host_funcs = storage,
        .nhost_funcs = SR_ENGINE__WASM_STORAGE_FUNCS,
        .argv = argv,
        .argc = argc,
        .env = (const char *const *)env,
        .envc = envc,
        .stdin_data = (const uint8_t *)stdin_data,
        .stdin_len = stdin_len,
    };
    sr_status rc = sr_wasm_run_wasi(mod, &lim, &cfg, r, err);
    for (size_t i = 0; i < envc; i++)
        free(env[i]);
    json_decref(in);
    return rc;
}

static sr_status
run_wasm(const json_t *j, const char *secrets, const uint8_t *module, size_t module_len,
         sr_sandbox_child *child, sr_buf *resp, sr_err *err)
{
    char msg[1024] = "";
    const char *code = NULL;
    struct sr_wasi_result r = {0};
    char *out = NULL;
    sr_wasm_module *mod = NULL;
    sr_status rc = sr_wasm_module_new(module, module_len, &mod, err);
    if (rc == SR_ENOMEM)
        return rc;
    if (rc != SR_OK) {
        code = SR_CODE_MODULE_ERROR;
        (void)snprintf(msg, sizeof(msg), "invalid module: %s", err->msg);
    } else {
        rc = run_wasi(j, secrets, mod, child, &r, err);
        if (rc == SR_ENOMEM || rc == SR_EINTERNAL) {
            sr_wasm_module_free(mod);
            sr_wasi_result_fini(&r);
            return rc;
        }
        if (rc != SR_OK)
            wasm_failure(rc, &r, &code, msg, sizeof(msg));
        else if (r.exit_code != 0) {
            code = SR_CODE_EXIT_CODE;
            exit_message(&r, msg, sizeof(msg));
        } else {
            out = wasm_output(&r, (int)json_integer_value(json_object_get(j, "output_format")), msg,
                              sizeof(msg));
            code = out ? NULL : SR_CODE_OUTPUT_NOT_JSON;
        }
    }
    json_t *logs = stderr_logs(r.stderr_data, r.stderr_len);
    const struct answer a = {code == NULL, out, logs, r.fuel_used, code, code ? msg : NULL};
    rc = write_answer(&a, resp, err);
    json_decref(logs);
    free(out);
    sr_wasi_result_fini(&r);
    sr_wasm_module_free(mod);
    return rc;
}

sr_status
sr_engine__job_fn(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len,
                  sr_buf *resp, bool *discard, sr_err *err)
{
    (void)arg;
    /* header NUL secrets NUL [module] */
    const uint8_t *nul1 = memchr(req, 0, len);
    const uint8_t *nul2 = nul1 ? memchr(nul1 + 1, 0, len - (size_t)(nul1 + 1 - req)) : NULL;
    if (!nul2)
        return sr_err_set(err, SR_EINTERNAL, "malformed job frame (%zu bytes)", len);
    json_t *j = NULL;
    sr_status rc = sr_json_parse((const char *)req, (size_t)(nul1 - req), SR_MAX_JSON_DEPTH + 4,
                                 "job request", &j, err);
    if (rc != SR_OK)
        return rc;
    const char *secrets = (const char *)nul1 + 1;
    const char *runtime = json_string_value(json_object_get(j, "runtime"));
    if (runtime && strcmp(runtime, "wasm") == 0)
        rc = run_wasm(j, secrets, nul2 + 1, len - (size_t)(nul2 + 1 - req), child, resp, err);
    else
        rc = run_js(state, j, secrets, child, resp, discard, err);
    json_decref(j);
    return rc;
}
