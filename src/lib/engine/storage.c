/* SPDX-License-Identifier: MIT
 *
 * storage.c - the engine's side of storage (docs/storage.md): the data
 * step of store migration 6 at start, the per-job session the supervisor
 * answers host calls from, the commit after a completed job (a failed,
 * timed-out or killed job commits nothing; one a per-job cap ended gets
 * that cap's code), and single-key access, listings and the owner's
 * namespaces for the HTTP API.
 *
 * The writes are validated and sealed for the namespace's next version
 * before the job object is built, and committed in the same transaction
 * as the job's end (sr_store_job_end): the versions in the job and its
 * receipt are the committed ones, and a job whose end is not stored (its
 * lease was taken over, its daemon died) wrote nothing.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

/* The session configuration of owner's namespace 'ns' (NULL: default). */
static struct sr_storage_config
config(const sr_engine *eng, const char *owner, const char *ns)
{
    return (struct sr_storage_config){
        .store = eng->store,
        .keys = eng->keys,
        .owner = owner,
        .ns = ns,
        .max_keys = eng->cfg.storage_max_keys,
        .max_bytes = eng->cfg.storage_max_bytes,
        .max_namespaces = eng->cfg.storage_max_namespaces,
        .max_owner_bytes = eng->cfg.storage_max_owner_bytes,
    };
}

sr_status
sr_engine__storage_upgrade(sr_engine *eng, sr_err *err)
{
    uint64_t moved = 0;
    if (!eng->store || !eng->keys)
        return SR_OK;
    sr_status rc = sr_storage_upgrade(eng->store, eng->keys, &moved, err);
    if (rc == SR_OK && moved)
        sr_log(SR_LOG_INFO, "storage",
               "sealed the keys of %llu storage entries written by an "
               "older sealrun",
               (unsigned long long)moved);
    return rc;
}

sr_status
sr_engine__storage_begin(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                         sr_storage_session **out, sr_err *err)
{
    *out = NULL;
    if (!eng->store || !eng->keys)
        return SR_OK;
    const struct sr_storage_config cfg = config(eng, owner, req->storage_namespace);
    return sr_storage_session_new(&cfg, out, err);
}

/* A job that a per-job storage cap refused and that then failed in the
 * guest (uncaught exception, trap, non-zero exit) ended because of it: it
 * gets the cap's code, and the cap's message unless the guest's already
 * holds it. */
static void
cap_outcome(const sr_storage_session *s, struct job_outcome *o)
{
    static const enum sr_job_code codes[] = {
        [SR_STORAGE_CAP_READS] = SR_JOB_STORAGE_READ_LIMIT,
        [SR_STORAGE_CAP_LISTINGS] = SR_JOB_STORAGE_LIST_LIMIT,
        [SR_STORAGE_CAP_WRITES] = SR_JOB_STORAGE_WRITE_LIMIT,
    };
    const char *why = NULL;
    enum sr_storage_cap cap = sr_storage_session_cap(s, &why);
    if (cap == SR_STORAGE_CAP_NONE ||
        (o->code != SR_JOB_EXECUTION_ERROR && o->code != SR_JOB_EXIT_CODE))
        return;
    o->code = codes[cap];
    if (o->message && strstr(o->message, why))
        return;
    char msg[SR_ERR_MSG_MAX + 512];
    (void)snprintf(msg, sizeof(msg), "storage: %s; then: %s", why,
                   o->message ? o->message : "the job failed");
    free(o->message);
    o->message = strdup(msg);
}

void
sr_engine__storage_keep(sr_storage_session *s, struct job_outcome *o)
{
    if (!s)
        return;
    o->storage = s;
    o->has_storage = true;
    (void)snprintf(o->storage_ns, sizeof(o->storage_ns), "%s", sr_storage_session_ns(s));
    if (o->code != SR_JOB_OK)
        cap_outcome(s, o);
}

/* The job fails because of its storage; its writes are dropped. */
static void
storage_failed(struct job_outcome *o, enum sr_job_code code, const char *msg)
{
    o->storage_version_before[0] = '\0';
    o->storage_version_after[0] = '\0';
    sr_engine__fail(o, code, "storage: %s", msg);
}

const struct sr_kv_commit *
sr_engine__storage_prepare(struct job_outcome *o)
{
    if (!o->storage)
        return NULL;
    uint64_t before = 0, after = 0;
    const struct sr_kv_commit *kv = NULL;
    sr_err e = {0};
    sr_status rc;
    if (o->code == SR_JOB_OK) {
        rc = sr_storage_session_prepare(o->storage, &kv, &before, &after, &e);
    } else { /* nothing of a failed job is written: report the current version */
        rc = sr_storage_session_version(o->storage, &before, &e);
        after = before;
    }
    if (rc != SR_OK) {
        storage_failed(o, rc == SR_ECONFLICT ? SR_JOB_STORAGE_CONFLICT : SR_JOB_INTERNAL_ERROR,
                       e.msg);
        return NULL;
    }
    (void)snprintf(o->storage_version_before, sizeof(o->storage_version_before), "%llu",
                   (unsigned long long)before);
    (void)snprintf(o->storage_version_after, sizeof(o->storage_version_after), "%llu",
                   (unsigned long long)after);
    return kv;
}

void
sr_engine__storage_refused(struct job_outcome *o, const struct sr_kv_result *res, const sr_err *why)
{
    sr_err e = {0};
    if (res) {
        e = *why; /* kept when the store named a quota the session does not know */
        (void)sr_storage_session_quota_error(o->storage, res, &e);
        storage_failed(o, SR_JOB_STORAGE_QUOTA, e.msg);
    } else {
        storage_failed(o, SR_JOB_STORAGE_CONFLICT,
                       "the namespace kept changing while the job's end was stored");
    }
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
    const struct sr_storage_config cfg = config(eng, owner, ns);
    sr_status rc = need_store(eng, err);
    return rc == SR_OK ? sr_storage_get(&cfg, key, key_len, value, len, version, err) : rc;
}

sr_status
sr_engine_storage_put(sr_engine *eng, const char *owner, const char *ns, const uint8_t *key,
                      size_t key_len, const uint8_t *value, size_t len, uint64_t *version,
                      sr_err *err)
{
    const struct sr_storage_config cfg = config(eng, owner, ns);
    sr_status rc = need_store(eng, err);
    return rc == SR_OK ? sr_storage_put(&cfg, key, key_len, value, len, version, err) : rc;
}

static json_t *
list_json(const char *ns, const struct sr_storage_listing *l)
{
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < l->n; i++) {
        const struct sr_storage_item *it = &l->items[i];
        json_t *k = json_stringn((const char *)it->key, it->key_len);
        json_array_append_new(keys, json_pack("{s:o, s:I, s:I}", "key", k ? k : json_null(), "size",
                                              (json_int_t)it->value_len, "version",
                                              (json_int_t)it->version));
    }
    const struct sr_storage_item *last = l->n ? &l->items[l->n - 1] : NULL;
    json_t *next =
        l->more && last ? json_stringn((const char *)last->key, last->key_len) : json_null();
    return json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "namespace", ns, "version",
                     (json_int_t)l->info.version, "key_count", (json_int_t)l->info.keys, "bytes",
                     (json_int_t)l->info.bytes, "keys", keys ? keys : json_array(), "next",
                     next ? next : json_null());
}

sr_status
sr_engine_storage_list(sr_engine *eng, const char *owner, const char *ns, const char *prefix,
                       const char *after, size_t limit, json_t **out, sr_err *err)
{
    const struct sr_storage_config cfg = config(eng, owner, ns);
    size_t plen = prefix ? strlen(prefix) : 0, alen = after && *after ? strlen(after) : 0;
    struct sr_storage_listing l = {0};
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_storage_list(&cfg, (const uint8_t *)prefix, plen,
                             alen ? (const uint8_t *)after : NULL, alen, limit, &l, err);
    if (rc == SR_OK) {
        *out = list_json(ns, &l);
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory listing namespace '%s'", ns);
    }
    sr_storage_listing_fini(&l);
    return rc;
}

sr_status
sr_engine_storage_namespaces(sr_engine *eng, const char *owner, json_t **out, sr_err *err)
{
    struct sr_storage_namespaces l = {0};
    *out = NULL;
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_storage_namespaces(eng->store, eng->keys, owner, &l, err);
    json_t *arr = rc == SR_OK ? json_array() : NULL;
    for (size_t i = 0; arr && i < l.n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "namespace", l.ns[i].name,
                                             "version", (json_int_t)l.ns[i].counters.version,
                                             "key_count", (json_int_t)l.ns[i].counters.keys,
                                             "bytes", (json_int_t)l.ns[i].counters.bytes));
    const struct sr_storage_config cfg = config(eng, owner, NULL);
    uint64_t max_ns = cfg.max_namespaces ? cfg.max_namespaces : SR_STORAGE_DEFAULT_MAX_NAMESPACES;
    uint64_t max_b = cfg.max_owner_bytes ? cfg.max_owner_bytes : SR_STORAGE_DEFAULT_MAX_OWNER_BYTES;
    if (arr)
        *out = json_pack("{s:o, s:I, s:I, s:I, s:I}", "namespaces", arr, "namespace_count",
                         (json_int_t)l.usage.namespaces, "bytes", (json_int_t)l.usage.bytes,
                         "max_namespaces", (json_int_t)max_ns, "max_bytes", (json_int_t)max_b);
    if (rc == SR_OK && !*out)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing storage namespaces");
    sr_storage_namespaces_fini(&l);
    return rc;
}
