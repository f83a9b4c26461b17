/* SPDX-License-Identifier: MIT
 *
 * module.c - WebAssembly modules in the service: validating and describing
 * uploads, storing them by SHA-256 for their owner, and loading a job's
 * module by hash. Decoding and validation are the wasm module's
 * (sr_wasm_module_new); a module that fails them is never stored.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_util.h"
#include "sealrun/sr_wasm.h"

static const char *
kind_name(int kind)
{
    static const char *const names[] = {"func", "table", "memory", "global"};
    return kind >= 0 && kind < 4 ? names[kind] : "unknown";
}

static json_t *
describe_externs(const sr_wasm_module *mod, bool imports)
{
    json_t *arr = json_array();
    size_t n = imports ? sr_wasm_module_import_count(mod) : sr_wasm_module_export_count(mod);
    for (size_t i = 0; arr && i < n; i++) {
        struct sr_wasm_extern_info x;
        if (!(imports ? sr_wasm_module_import(mod, i, &x) : sr_wasm_module_export(mod, i, &x)))
            continue;
        json_t *e = json_object();
        if (imports)
            json_object_set_new(e, "module", json_string(x.module));
        /* names may hold any UTF-8, NUL included */
        json_object_set_new(e, "name", json_stringn(x.name, x.name_len));
        json_object_set_new(e, "kind", json_string(kind_name(x.kind)));
        json_array_append_new(arr, e);
    }
    return arr;
}

sr_status
sr_engine_module_describe(const uint8_t *bytes, size_t len, json_t **out, sr_err *err)
{
    sr_wasm_module *mod = NULL;
    sr_status rc = sr_wasm_module_new(bytes, len, &mod, err);
    if (rc != SR_OK)
        return rc == SR_ENOMEM ? rc : sr_err_set(err, SR_EINVAL, "invalid module: %s", err->msg);
    char hash[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(bytes, len, hash);
    json_t *info =
        json_pack("{s:s, s:I, s:o, s:o}", "hash", hash, "size", (json_int_t)len, "imports",
                  describe_externs(mod, true), "exports", describe_externs(mod, false));
    sr_wasm_module_free(mod);
    if (!info)
        return sr_err_set(err, SR_ENOMEM, "out of memory describing a module");
    *out = info;
    return SR_OK;
}

sr_status
sr_engine_module_put(sr_engine *eng, const char *owner, const uint8_t *bytes, size_t len,
                     bool *created, json_t **out, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "storing modules needs a server with a store");
    json_t *info = NULL;
    sr_status rc = sr_engine_module_describe(bytes, len, &info, err);
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
    json_t *info = json_loads(row.info_json, 0, NULL);
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
    if (strcmp(req->runtime, "wasm") != 0 || req->module)
        return SR_OK;
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "module '%s' not found (no store)", req->module_hash);
    struct sr_module_row row = {0};
    sr_status rc = sr_store_module_get(eng->store, owner, req->module_hash, &row, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND,
                          "module '%s' not found: upload it with POST /modules first",
                          req->module_hash);
    if (rc != SR_OK)
        return rc;
    req->module = row.bytes;
    req->module_len = row.len;
    row.bytes = NULL;
    sr_module_row_fini(&row);
    return SR_OK;
}
