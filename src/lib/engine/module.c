/* SPDX-License-Identifier: MIT
 *
 * module.c - WebAssembly modules in the service: checking and describing
 * uploads, storing them by SHA-256 for their owner, and loading a job's
 * module by hash.
 *
 * Module bytes are untrusted: this process never parses them (design.md
 * invariant 6). A check runs in a job process of the uploader (its own
 * memory and time limits, counted as one of the owner's running jobs),
 * which decodes, validates and compiles the module and answers with its
 * imports and exports; only a module that passed is stored. The answer is
 * read with sr_job_answer_decode's caps.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* A module check's limits: decoding and compiling are linear in the
 * module's bytes (<= SR_MAX_MODULE), so these are generous backstops. */
#define CHECK_WALL_MS 20000u
#define CHECK_MEMORY (768ull * SR_MIB)

static const char *
kind_name(enum sr_extern_kind kind)
{
    static const char *const names[] = {"func", "table", "memory", "global"};
    return (unsigned)kind < 4 ? names[kind] : "unknown";
}

static json_t *
name_json(const struct sr_bytes *b)
{
    /* names may hold any UTF-8, NUL included; a name cut to its cap may not */
    json_t *s = json_stringn((const char *)b->p, b->len);
    return s ? s : json_string("[name is not valid UTF-8]");
}

static json_t *
describe_externs(const struct sr_extern_view *x, size_t n, bool imports)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_object();
        if (imports)
            json_object_set_new(e, "module", name_json(&x[i].module));
        json_object_set_new(e, "name", name_json(&x[i].name));
        json_object_set_new(e, "kind", json_string(kind_name(x[i].kind)));
        json_array_append_new(arr, e);
    }
    return arr;
}

/* Reads a check's answer into the module's metadata, or SR_EINVAL with
 * the decoder's message. */
static sr_status
check_answer(const sr_buf *resp, const uint8_t *bytes, size_t len, json_t **out, sr_err *err)
{
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    if (!a)
        return sr_err_set(err, SR_ENOMEM, "out of memory checking a module");
    sr_status rc = sr_job_answer_decode((const uint8_t *)resp->data, resp->len, a, err);
    if (rc != SR_OK) {
        free(a);
        return sr_err_set(err, SR_EINTERNAL, "the job process sent an unreadable module check");
    }
    if (a->code != SR_JOB_OK) {
        rc = sr_err_set(err, SR_EINVAL, "%.*s", (int)a->message.len, (const char *)a->message.p);
        free(a);
        return rc;
    }
    char hash[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(bytes, len, hash);
    json_t *info =
        json_pack("{s:s, s:I, s:o, s:o, s:I, s:I}", "hash", hash, "size", (json_int_t)len,
                  "imports", describe_externs(a->imports, a->nimports, true), "exports",
                  describe_externs(a->exports, a->nexports, false), "import_count",
                  (json_int_t)a->import_count, "export_count", (json_int_t)a->export_count);
    free(a);
    if (!info)
        return sr_err_set(err, SR_ENOMEM, "out of memory describing a module");
    *out = info;
    return SR_OK;
}

sr_status
sr_engine_module_describe(sr_engine *eng, const char *owner, const uint8_t *bytes, size_t len,
                          json_t **out, sr_err *err)
{
    if (len == 0)
        return sr_err_set(err, SR_EINVAL, "invalid module: it is empty");
    sr_buf frame, resp;
    sr_buf_init(&frame, SR_MAX_IPC_FRAME);
    sr_buf_init(&resp, SR_RUNNER_MAX_ANSWER);
    sr_status rc = sr_module_check_encode(bytes, len, &frame, err);
    bool slot = false;
    if (rc == SR_OK) {
        rc = sr_engine__slot_take(eng, owner, err);
        slot = rc == SR_OK;
    }
    struct sr_sandbox_report rep = {0};
    const struct sr_sandbox_limits lim = {.wall_ms = CHECK_WALL_MS, .memory_bytes = CHECK_MEMORY};
    if (rc == SR_OK)
        rc = sr_sandbox_run(eng->sandbox, owner, (const uint8_t *)frame.data, frame.len, &lim,
                            &resp, &rep, err);
    if (slot)
        sr_engine__slot_release(eng, owner);
    if (rc == SR_OK && rep.outcome == SR_SANDBOX_OK)
        rc = check_answer(&resp, bytes, len, out, err);
    else if (rc == SR_OK && rep.outcome == SR_SANDBOX_TIMEOUT)
        rc = sr_err_set(err, SR_ELIMIT, "invalid module: checking it took longer than %u s",
                        CHECK_WALL_MS / 1000);
    else if (rc == SR_OK && rep.outcome == SR_SANDBOX_MEMORY)
        rc = sr_err_set(err, SR_ELIMIT, "invalid module: checking it needed more than %llu MiB",
                        CHECK_MEMORY / SR_MIB);
    else if (rc == SR_OK)
        rc = sr_err_set(err, SR_EINTERNAL, "the module check's process ended abnormally: %s",
                        rep.detail);
    sr_buf_fini(&frame);
    sr_buf_fini(&resp);
    return rc;
}

sr_status
sr_engine_module_put(sr_engine *eng, const char *owner, const uint8_t *bytes, size_t len,
                     bool *created, json_t **out, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "storing modules needs a server with a store");
    json_t *info = NULL;
    sr_status rc = sr_engine_module_describe(eng, owner, bytes, len, &info, err);
    if (rc != SR_OK)
        return rc;
    char *text = json_dumps(info, JSON_COMPACT);
    const char *hash = json_string_value(json_object_get(info, "hash"));
    int64_t now = sr_now_ms();
    rc = text ? sr_store_module_put(eng->store, owner, hash, bytes, len, text, now, created, err)
              : sr_err_set(err, SR_ENOMEM, "out of memory storing a module");
    free(text);
    if (rc == SR_OK)
        rc = sr_engine_module_info(eng, owner, hash, out, err);
    json_decref(info); /* owns 'hash' */
    return rc;
}

sr_status
sr_engine_module_info(sr_engine *eng, const char *owner, const char *hash, json_t **out,
                      sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "module '%.70s' not found", hash);
    struct sr_module_row row = {0};
    sr_status rc = sr_store_module_get(eng->store, owner, hash, &row, err);
    if (rc != SR_OK)
        return rc;
    json_t *info = NULL;
    (void)sr_json_parse(row.info_json, strlen(row.info_json), SR_MAX_JSON_DEPTH,
                        "stored module metadata", &info, NULL);
    if (info) {
        char ts[32];
        sr_time_rfc3339(row.created_at_ms, ts);
        json_object_set_new(info, "created_at", json_string(ts));
    }
    sr_module_row_fini(&row);
    if (!info)
        return sr_err_set(err, SR_EINTERNAL, "stored metadata of module '%s' is unreadable", hash);
    *out = info;
    return SR_OK;
}

sr_status
sr_engine__module_load(sr_engine *eng, const char *owner, struct sr_job_request *req, sr_err *err)
{
    if (req->runtime != SR_RUNTIME_WASM || req->code)
        return SR_OK;
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "module '%s' not found (no store)",
                          req->code_hash_hex);
    struct sr_module_row row = {0};
    sr_status rc = sr_store_module_get(eng->store, owner, req->code_hash_hex, &row, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND,
                          "module '%s' not found: upload it with POST /modules first",
                          req->code_hash_hex);
    if (rc != SR_OK)
        return rc;
    req->code = row.bytes;
    req->code_len = row.len;
    row.bytes = NULL;
    sr_module_row_fini(&row);
    return SR_OK;
}
