/* SPDX-License-Identifier: MIT
 *
 * child.c - the engine's side of a job process: creates the runtime once per
 * process (before seccomp) and runs each job the supervisor sends.
 *
 * Request (supervisor -> job process), JSON:
 *   {"runtime":"js","script":S,"entry_point":E,"input":<json text>,
 *    "secrets":<json text>,"cpu_limit_us":N,"memory_bytes":N}
 * Response, JSON:
 *   {"ok":bool,"output":<json text>|null,"logs":[..],"gas_used":N,
 *    "code":C|null,"message":M|null,"discard":bool}
 * Everything here runs under the sandbox's seccomp policy: no files, no
 * sockets. A secret reaches this process only inside the request.
 */
#include "engine_int.h"

#include <string.h>
#include "sealrun/sr_js.h"
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

static sr_status
write_response(const struct sr_js_result *r, sr_buf *resp, sr_err *err)
{
    json_t *o = json_object();
    if (!o)
        return sr_err_set(err, SR_ENOMEM, "out of memory building a job response");
    json_object_set_new(o, "ok", json_boolean(r->ok));
    json_object_set_new(o, "output", r->output_json ? json_string(r->output_json) : json_null());
    json_object_set(o, "logs", r->logs ? r->logs : json_array());
    if (!r->logs)
        json_object_set_new(o, "logs", json_array());
    json_object_set_new(o, "gas_used", json_integer((json_int_t)r->gas_used));
    json_object_set_new(o, "code", r->error_code ? json_string(r->error_code) : json_null());
    json_object_set_new(o, "message",
                        r->error_message ? json_string(r->error_message) : json_null());
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding a job response");
    sr_status rc = sr_buf_append_str(resp, text, err);
    free(text);
    return rc;
}

sr_status
sr_engine__job_fn(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req,
                  size_t len, sr_buf *resp, bool *discard, sr_err *err)
{
    (void)arg;
    (void)child;
    struct proc_state *ps = state;
    json_t *j = NULL;
    sr_status rc = sr_json_parse((const char *)req, len, SR_MAX_JSON_DEPTH + 4, "job request",
                                 &j, err);
    if (rc != SR_OK)
        return rc;
    struct sr_js_job job = {
        .script = json_string_value(json_object_get(j, "script")),
        .script_len = json_string_length(json_object_get(j, "script")),
        .entry_point = json_string_value(json_object_get(j, "entry_point")),
        .input_json = json_string_value(json_object_get(j, "input")),
        .secrets_json = json_string_value(json_object_get(j, "secrets")),
        .cpu_limit_us = (uint64_t)json_integer_value(json_object_get(j, "cpu_limit_us")),
        .memory_bytes = (uint64_t)json_integer_value(json_object_get(j, "memory_bytes")),
        .statm_fd = sr_sandbox_child_statm_fd(child),
    };
    if (!job.script) {
        json_decref(j);
        return sr_err_set(err, SR_EINTERNAL, "job request without a script");
    }
    struct sr_js_result r = {0};
    rc = sr_js_run(ps->js, &job, &r, err);
    json_decref(j);
    if (rc == SR_OK)
        rc = write_response(&r, resp, err);
    *discard = r.discard;
    sr_js_result_fini(&r);
    return rc;
}
