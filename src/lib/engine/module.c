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
 *
 * Claims (docs/http-api.md "Modules"): each owner's modules count against a
 * quota of modules and bytes, checked by the store in the transaction that
 * inserts; an owner can list and delete them; a claim no job used for the
 * expiry period is dropped by the purge (sr_engine__modules_expire).
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
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
    char *text = sr_json_dumps(info, JSON_COMPACT);
    const char *hash = json_string_value(json_object_get(info, "hash"));
    rc = text ? sr_engine__module_store(eng, owner, hash, bytes, len, text, created, err)
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
        char ts[32], used[32];
        sr_time_rfc3339(row.created_at_ms, ts);
        sr_time_rfc3339(row.last_used_at_ms, used);
        json_object_set_new(info, "created_at", json_string(ts));
        json_object_set_new(info, "last_used_at", json_string(used));
    }
    sr_module_row_fini(&row);
    if (!info)
        return sr_err_set(err, SR_EINTERNAL, "stored metadata of module '%s' is unreadable", hash);
    *out = info;
    return SR_OK;
}

static void module_used(sr_engine *eng, const char *owner, const char *hash, int64_t last_used_ms);

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
    module_used(eng, owner, req->code_hash_hex, row.last_used_at_ms);
    req->code = row.bytes;
    req->code_len = row.len;
    row.bytes = NULL;
    sr_module_row_fini(&row);
    return SR_OK;
}

/* ---- quotas, listing, deletion, expiry ---- */

static uint64_t
quota_bytes(const sr_engine *eng)
{
    return eng->cfg.module_quota_bytes ? eng->cfg.module_quota_bytes
                                       : SR_DEFAULT_MODULE_QUOTA_BYTES;
}

static uint64_t
quota_count(const sr_engine *eng)
{
    return eng->cfg.module_quota_count ? eng->cfg.module_quota_count
                                       : SR_DEFAULT_MODULE_QUOTA_COUNT;
}

/* The quota message: which quota, the owner's usage, the limit, the fix. */
static sr_status
quota_error(const sr_engine *eng, const char *owner, const struct sr_module_usage *u, uint64_t adds,
            sr_err *err)
{
    if (u->count + 1 > quota_count(eng))
        return sr_err_set(err, SR_ELIMIT,
                          "module quota reached: '%s' has %llu modules, the limit is %llu "
                          "(--module-quota-count); delete one with DELETE /modules/{hash}",
                          owner, (unsigned long long)u->count,
                          (unsigned long long)quota_count(eng));
    return sr_err_set(err, SR_ELIMIT,
                      "module quota exceeded: '%s' has %llu bytes of modules and this one needs "
                      "%llu more (its bytes and description), the limit is %llu bytes "
                      "(--module-quota-bytes); delete modules with DELETE /modules/{hash}",
                      owner, (unsigned long long)u->bytes, (unsigned long long)adds,
                      (unsigned long long)quota_bytes(eng));
}

sr_status
sr_engine__module_store(sr_engine *eng, const char *owner, const char *hash, const uint8_t *bytes,
                        size_t len, const char *info_json, bool *created, sr_err *err)
{
    const struct sr_module_put p = {
        .owner = owner,
        .hash_hex = hash,
        .bytes = bytes,
        .len = len,
        .info_json = info_json,
        .now_ms = sr_now_ms(),
        .max_count = quota_count(eng),
        .max_bytes = quota_bytes(eng),
    };
    struct sr_module_usage u = {0};
    sr_status rc = sr_store_module_put(eng->store, &p, created, &u, err);
    if (rc == SR_ELIMIT)
        return quota_error(eng, owner, &u, (uint64_t)len + strlen(info_json), err);
    return rc;
}

/* Records a job's use of a module when the last record is older than
 * SR_MODULE_TOUCH_MS: most jobs write nothing. A failure costs only
 * precision of the expiry, so it is logged and the job goes on. */
static void
module_used(sr_engine *eng, const char *owner, const char *hash, int64_t last_used_ms)
{
    int64_t now = sr_now_ms();
    if (now - last_used_ms < SR_MODULE_TOUCH_MS)
        return;
    sr_err e = {0};
    if (sr_store_module_touch(eng->store, owner, hash, now, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine", "recording the use of module '%s' by '%s': %s", hash, owner,
               e.msg);
}

sr_status
sr_engine_module_delete(sr_engine *eng, const char *owner, const char *hash, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "module '%.70s' not found", hash);
    bool freed = false;
    sr_status rc = sr_store_module_delete(eng->store, owner, hash, &freed, err);
    /* whether the bytes went is not the caller's to know: it says whether
     * someone else uploaded the same module */
    if (rc == SR_OK)
        sr_log(SR_LOG_DEBUG, "engine", "module '%s': claim of '%s' dropped%s", hash, owner,
               freed ? ", bytes deleted" : "");
    return rc;
}

static json_t *
meta_json(const struct sr_module_meta *m)
{
    char c[32], u[32];
    sr_time_rfc3339(m->created_at_ms, c);
    sr_time_rfc3339(m->last_used_at_ms, u);
    return json_pack("{s:s, s:I, s:I, s:s, s:s}", "hash", m->hash, "size", (json_int_t)m->size,
                     "stored_bytes", (json_int_t)m->stored, "created_at", c, "last_used_at", u);
}

sr_status
sr_engine_module_list(sr_engine *eng, const char *owner, size_t limit, const char *before,
                      json_t **out, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "listing modules needs a server with a store");
    struct sr_module_meta *rows = NULL;
    size_t n = 0;
    struct sr_module_usage u = {0};
    sr_status rc = sr_store_module_list(eng->store, owner, limit + 1, before, &rows, &n, err);
    if (rc == SR_OK)
        rc = sr_store_module_usage(eng->store, owner, &u, err);
    if (rc != SR_OK) {
        free(rows);
        return rc;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, meta_json(&rows[i]));
    json_t *next = n > limit ? json_string(rows[limit - 1].hash) : json_null();
    free(rows);
    *out = json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "modules", arr, "next", next, "usage",
                     "modules", (json_int_t)u.count, "bytes", (json_int_t)u.bytes, "quota_modules",
                     (json_int_t)quota_count(eng), "quota_bytes", (json_int_t)quota_bytes(eng));
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory listing modules");
}

/* At most this many batches per purge run; the rest waits for the next. */
#define EXPIRE_MAX_BATCHES 20

void
sr_engine__modules_expire(sr_engine *eng, int64_t now_ms)
{
    int64_t ttl =
        eng->cfg.module_expiry_ms ? eng->cfg.module_expiry_ms : SR_DEFAULT_MODULE_EXPIRY_MS;
    size_t claims = 0, freed = 0, total_claims = 0, total_freed = 0;
    sr_err e = {0};
    for (int i = 0; i < EXPIRE_MAX_BATCHES; i++) {
        if (sr_store_modules_expire(eng->store, now_ms - ttl, SR_PURGE_BATCH, &claims, &freed,
                                    &e) != SR_OK) {
            sr_log(SR_LOG_WARN, "engine", "expiring unused modules failed: %s", e.msg);
            break;
        }
        total_claims += claims;
        total_freed += freed;
        if (claims < SR_PURGE_BATCH)
            break;
    }
    if (total_claims)
        sr_log(SR_LOG_INFO, "engine",
               "dropped %zu module claim(s) unused for %lld s; %zu module(s) deleted", total_claims,
               (long long)(ttl / 1000), total_freed);
}
