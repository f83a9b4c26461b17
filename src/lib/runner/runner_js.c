/* SPDX-License-Identifier: MIT
 *
 * runner_js.c - a JavaScript job in the job process: the spec becomes an
 * sr_js_job (script, entry point, canonical input, the 'secrets' object
 * with SEALRUN_JOB_ID and SEALRUN_USER, limits, the storage host call),
 * sr_js_run() runs it in a fresh global context, and the result becomes
 * the answer.
 *
 * The secrets object is built in one buffer reserved to its worst-case
 * size (so it never grows and leaves a copy behind) and wiped after the run.
 */
#include "runner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"

sr_status
sr_runner__secrets_text(const struct sr_job_spec *spec, sr_buf *out, sr_err *err)
{
    size_t bound = 64 + 2 * SR_MAX_USER_NAME + 64;
    for (size_t i = 0; i < spec->nsecrets; i++)
        bound += 6 * (spec->secrets[i].name.len + spec->secrets[i].value.len) + 8;
    sr_status rc = sr_buf_reserve(out, bound, err);
    if (rc == SR_OK)
        rc = sr_buf_append_str(out, "{\"SEALRUN_JOB_ID\":", err);
    if (rc == SR_OK)
        rc = sr_json_append_string(out, spec->job_id, strlen(spec->job_id), err);
    if (rc == SR_OK)
        rc = sr_buf_append_str(out, ",\"SEALRUN_USER\":", err);
    if (rc == SR_OK)
        rc = sr_json_append_string(out, spec->user, strlen(spec->user), err);
    for (size_t i = 0; rc == SR_OK && i < spec->nsecrets; i++) {
        const struct sr_job_secret *s = &spec->secrets[i];
        rc = sr_buf_append(out, ",", 1, err);
        if (rc == SR_OK)
            rc = sr_json_append_string(out, (const char *)s->name.p, s->name.len, err);
        if (rc == SR_OK)
            rc = sr_buf_append(out, ":", 1, err);
        if (rc == SR_OK)
            rc = sr_json_append_string(out, (const char *)s->value.p, s->value.len, err);
    }
    if (rc == SR_OK)
        rc = sr_buf_append(out, "}", 1, err);
    return rc;
}

static sr_status
answer_of(const struct sr_js_result *r, const struct sr_job_spec *spec, char *msg, size_t cap,
          sr_buf *resp, sr_err *err)
{
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    if (!a)
        return sr_err_set(err, SR_ENOMEM, "out of memory answering a job");
    a->gas_used = r->gas_used;
    if (r->ok) {
        a->output = (struct sr_bytes){(const uint8_t *)r->output_json, strlen(r->output_json)};
    } else {
        enum sr_job_code code = r->code != SR_JOB_OK ? r->code : SR_JOB_INTERNAL_ERROR;
        if (code == SR_JOB_GAS_EXHAUSTED && spec->budget_is_timeout)
            sr_runner__fail(a, SR_JOB_TIMEOUT, msg, cap,
                            "the script used its whole time budget (timeout)");
        else
            sr_runner__fail(a, code, msg, cap, "%.*s", SR_MAX_ERROR_MSG,
                            r->error_message ? r->error_message : "the job failed");
    }
    size_t n = json_array_size(r->logs);
    for (size_t i = 0; i < n && a->nlogs < SR_MAX_LOG_ENTRIES; i++) {
        const json_t *e = json_array_get(r->logs, i);
        size_t len = json_string_length(e);
        if (len > SR_RUNNER_MAX_LOG_BYTES)
            len = SR_RUNNER_MAX_LOG_BYTES;
        a->logs[a->nlogs++] = (struct sr_bytes){(const uint8_t *)json_string_value(e), len};
    }
    sr_status rc = sr_job_answer_encode(a, resp, err);
    free(a);
    return rc;
}

sr_status
sr_runner__run_js(struct runner_proc *ps, const struct sr_job_spec *spec, sr_sandbox_child *child,
                  sr_buf *resp, bool *discard, sr_err *err)
{
    char entry[SR_MAX_ENTRY_POINT + 1] = "main";
    if (spec->entry.len) {
        memcpy(entry, spec->entry.p, spec->entry.len);
        entry[spec->entry.len] = '\0';
    }
    char *input = malloc(spec->input.len + 1);
    if (!input)
        return sr_err_set(err, SR_ENOMEM, "out of memory copying a job's input");
    memcpy(input, spec->input.p, spec->input.len);
    input[spec->input.len] = '\0';
    sr_buf secrets;
    sr_buf_init_secure(&secrets, SR_MAX_IPC_FRAME); /* growing must not leave copies */
    sr_status rc = sr_runner__secrets_text(spec, &secrets, err);
    struct sr_js_job job = {
        .script = (const char *)spec->code.p,
        .script_len = spec->code.len,
        .entry_point = entry,
        .input_json = spec->input.len ? input : NULL,
        .secrets_json = secrets.data,
        .cpu_limit_us = spec->budget,
        .memory_bytes = spec->memory_bytes,
        .statm_fd = sr_sandbox_child_statm_fd(child),
        .host_call = spec->storage ? sr_runner__js_hostcall : NULL,
        .host_ctx = child,
        .http_call = child ? sr_runner__js_hostcall : NULL,
        .service_call = sr_runner__js_hostcall,
        .record = spec->record,
    };
    struct sr_js_result r = {0};
    if (rc == SR_OK)
        rc = sr_js_run(ps->js, &job, &r, err);
    sr_buf_fini_secure(&secrets);
    free(input);
    char msg[SR_RUNNER_MAX_MESSAGE];
    if (rc == SR_OK)
        rc = answer_of(&r, spec, msg, sizeof(msg), resp, err);
    *discard = r.discard;
    sr_js_result_fini(&r);
    return rc;
}
