/* SPDX-License-Identifier: MIT
 *
 * storage.c - the engine's side of storage (docs/storage.md): the per-job
 * session the supervisor answers host calls from, the commit after a
 * completed job (a failed, timed-out or killed job commits nothing), and
 * single-key access plus listings for the HTTP API.
 *
 * The commit happens before the job object is built and stored, so the
 * versions in the job (and its receipt) are the committed ones.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_util.h"

sr_status
sr_engine__storage_begin(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                         sr_storage_session **out, sr_err *err)
{
    *out = NULL;
    if (!eng->store || !eng->keys)
        return SR_OK;
    const struct sr_storage_config cfg = {
        .store = eng->store,
        .keys = eng->keys,
        .owner = owner,
        .ns = req->storage_namespace,
        .max_keys = eng->cfg.storage_max_keys,
        .max_bytes = eng->cfg.storage_max_bytes,
    };
    return sr_storage_session_new(&cfg, out, err);
}

void
sr_engine__storage_finish(sr_storage_session *s, struct job_outcome *o)
{
    if (!s)
        return;
    uint64_t before = 0, after = 0;
    sr_err e = {0};
    sr_status rc;
    if (o->code == SR_JOB_OK) {
        rc = sr_storage_session_commit(s, &before, &after, &e);
    } else { /* nothing of a failed job is written: report the current version */
        rc = sr_storage_session_version(s, &before, &e);
        after = before;
    }
    o->has_storage = true;
    (void)snprintf(o->storage_ns, sizeof(o->storage_ns), "%s", sr_storage_session_ns(s));
    if (rc == SR_OK) {
        (void)snprintf(o->storage_version_before, sizeof(o->storage_version_before), "%llu",
                       (unsigned long long)before);
        (void)snprintf(o->storage_version_after, sizeof(o->storage_version_after), "%llu",
                       (unsigned long long)after);
    } else {
        sr_engine__fail(o,
                        rc == SR_ECONFLICT ? SR_JOB_STORAGE_CONFLICT
                        : rc == SR_ELIMIT  ? SR_JOB_STORAGE_QUOTA
                                           : SR_JOB_INTERNAL_ERROR,
                        "storage: %s", e.msg);
    }
    sr_storage_session_free(s);
}

/* ---- the HTTP API ---- */

static sr_status
need_store(const sr_engine *eng, sr_err *err)
{
    if (!eng->store || !eng->keys)
        return sr_err_set(err, SR_EINVAL, "storage needs a server with a store and keys");
    return SR_OK;
}

sr_status
sr_engine_storage_get(sr_engine *eng, const char *owner, const char *ns, const uint8_t *key,
                      size_t key_len, uint8_t **value, size_t *len, uint64_t *version, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    return rc == SR_OK ? sr_storage_get(eng->store, eng->keys, owner, ns, key, key_len, value, len,
                                        version, err)
                       : rc;
}

sr_status
sr_engine_storage_put(sr_engine *eng, const char *owner, const char *ns, const uint8_t *key,
                      size_t key_len, const uint8_t *value, size_t len, uint64_t *version,
                      sr_err *err)
{
    sr_status rc = need_store(eng, err);
    return rc == SR_OK
               ? sr_storage_put(eng->store, eng->keys, owner, ns, key, key_len, value, len,
                                eng->cfg.storage_max_keys, eng->cfg.storage_max_bytes, version, err)
               : rc;
}

static json_t *
list_json(const char *ns, const struct sr_kv_ns *info, const struct sr_kv_row *rows, size_t n,
          size_t limit)
{
    json_t *keys = json_array();
    size_t shown = n > limit ? limit : n;
    for (size_t i = 0; keys && i < shown; i++) {
        json_t *k = json_stringn((const char *)rows[i].key, rows[i].key_len);
        json_array_append_new(keys, json_pack("{s:o, s:I, s:I}", "key", k ? k : json_null(), "size",
                                              (json_int_t)(rows[i].size - rows[i].key_len),
                                              "version", (json_int_t)rows[i].version));
    }
    json_t *next = n > limit && shown
                       ? json_stringn((const char *)rows[shown - 1].key, rows[shown - 1].key_len)
                       : json_null();
    return json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "namespace", ns, "version",
                     (json_int_t)info->version, "key_count", (json_int_t)info->keys, "bytes",
                     (json_int_t)info->bytes, "keys", keys ? keys : json_array(), "next",
                     next ? next : json_null());
}

sr_status
sr_engine_storage_list(sr_engine *eng, const char *owner, const char *ns, const char *prefix,
                       const char *after, size_t limit, json_t **out, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_storage_ns_check(ns, strlen(ns), err);
    size_t plen = prefix ? strlen(prefix) : 0, alen = after && *after ? strlen(after) : 0;
    if (rc == SR_OK && plen > SR_STORAGE_MAX_KEY)
        rc = sr_err_set(err, SR_EINVAL, "prefix must be at most %d bytes, got %zu",
                        SR_STORAGE_MAX_KEY, plen);
    if (rc == SR_OK && alen)
        rc = sr_storage_key_check((const uint8_t *)after, alen, err);
    if (rc == SR_OK && (limit == 0 || limit > SR_STORAGE_MAX_LIST))
        rc = sr_err_set(err, SR_EINVAL, "limit must be 1..%d, got %zu", SR_STORAGE_MAX_LIST, limit);
    struct sr_kv_ns info = {0};
    struct sr_kv_row *rows = NULL;
    size_t n = 0;
    if (rc == SR_OK)
        rc = sr_store_kv_ns(eng->store, owner, ns, &info, err);
    if (rc == SR_OK)
        rc =
            sr_store_kv_list(eng->store, owner, ns, (const uint8_t *)prefix, plen,
                             alen ? (const uint8_t *)after : NULL, alen, limit + 1, &rows, &n, err);
    if (rc == SR_OK) {
        *out = list_json(ns, &info, rows, n, limit);
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory listing namespace '%s'", ns);
    }
    for (size_t i = 0; i < n; i++)
        sr_kv_row_fini(&rows[i]);
    free(rows);
    return rc;
}
