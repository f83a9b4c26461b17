/* SPDX-License-Identifier: MIT
 *
 * storage_api.c - storage outside jobs (docs/storage.md "Outside jobs"):
 * listings for GET /storage/{namespace}, the owner's namespaces for
 * GET /storage, and the data step of store migration 6 (sealing the keys
 * and names an older sealrun stored in clear). Single-key get and put are
 * in storage_session.c (a put is a one-key session).
 */
#include "storage_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"

void
sr_storage_listing_fini(struct sr_storage_listing *l)
{
    for (size_t i = 0; l->items && i < l->n; i++)
        free(l->items[i].key);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static sr_status
list_args(const struct sr_storage_config *cfg, const char *ns, size_t prefix_len,
          const uint8_t *after, size_t after_len, size_t limit, sr_err *err)
{
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc == SR_OK && (!cfg->store || !cfg->keys || !cfg->owner))
        rc = sr_err_set(err, SR_EINVAL, "storage needs a store, keys and an owner");
    if (rc == SR_OK && prefix_len > SR_STORAGE_MAX_KEY)
        rc = sr_err_set(err, SR_EINVAL, "prefix must be at most %d bytes, got %zu",
                        SR_STORAGE_MAX_KEY, prefix_len);
    if (rc == SR_OK && after)
        rc = sr_storage_key_check(after, after_len, err);
    if (rc == SR_OK && (limit == 0 || limit > SR_STORAGE_MAX_LIST))
        rc = sr_err_set(err, SR_EINVAL, "limit must be 1..%d, got %zu", SR_STORAGE_MAX_LIST, limit);
    return rc;
}

/* Copies the index rows of q's range, at most limit. */
static sr_status
take(const struct sr_storage__index *idx, const struct sr_storage__query *q, size_t limit,
     struct sr_storage_listing *out, sr_err *err)
{
    size_t i = sr_storage__index_seek(idx, q);
    out->items = calloc(limit + 1, sizeof(*out->items));
    if (!out->items)
        return sr_err_set(err, SR_ENOMEM, "out of memory listing storage");
    for (; i < idx->n && sr_storage__in_range(idx->e[i].key, idx->e[i].key_len, q); i++) {
        if (out->n == limit) {
            out->more = true;
            break;
        }
        const struct sr_storage__entry *e = &idx->e[i];
        struct sr_storage_item *it = &out->items[out->n];
        it->key = malloc(e->key_len);
        if (!it->key)
            return sr_err_set(err, SR_ENOMEM, "out of memory listing storage");
        memcpy(it->key, e->key, e->key_len);
        it->key_len = e->key_len;
        it->value_len = e->size - e->key_len;
        it->version = e->version;
        out->n++;
    }
    return SR_OK;
}

sr_status
sr_storage_list(const struct sr_storage_config *cfg, const uint8_t *prefix, size_t prefix_len,
                const uint8_t *after, size_t after_len, size_t limit,
                struct sr_storage_listing *out, sr_err *err)
{
    const char *ns = cfg->ns ? cfg->ns : SR_STORAGE_DEFAULT_NS;
    memset(out, 0, sizeof(*out));
    sr_status rc = list_args(cfg, ns, prefix_len, after, after_len, limit, err);
    if (rc != SR_OK)
        return rc;
    struct sr_storage_ns_keys k;
    struct sr_storage__index idx = {0};
    sr_storage_ns_keys_init(cfg->keys, cfg->owner, ns, &k);
    const struct sr_storage__ns c = {cfg->store, cfg->owner, ns, &k};
    const struct sr_storage__query q = {prefix_len ? prefix : NULL, prefix_len, after, after_len};
    rc = sr_storage__index_load(&idx, &c, err);
    if (rc == SR_OK) {
        out->info = idx.info;
        rc = take(&idx, &q, limit, out, err);
    }
    sr_storage__index_fini(&idx);
    sr_storage_ns_keys_wipe(&k);
    if (rc != SR_OK)
        sr_storage_listing_fini(out);
    return rc;
}

/* ---- the owner's namespaces ---- */

void
sr_storage_namespaces_fini(struct sr_storage_namespaces *l)
{
    free(l->ns);
    memset(l, 0, sizeof(*l));
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sr_storage_ns_info *)a)->name,
                  ((const struct sr_storage_ns_info *)b)->name);
}

sr_status
sr_storage_namespaces(sr_store *st, const sr_keys *keys, const char *owner,
                      struct sr_storage_namespaces *out, sr_err *err)
{
    struct sr_kv_ns_row *rows = NULL;
    size_t n = 0;
    memset(out, 0, sizeof(*out));
    sr_status rc = sr_store_kv_namespaces(st, owner, SR_STORAGE_HARD_MAX_NAMESPACES, &rows, &n,
                                          &out->usage, err);
    if (rc == SR_OK && !(out->ns = calloc(n + 1, sizeof(*out->ns))))
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing storage namespaces");
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        rc = sr_storage_name_open(keys, owner, rows[i].id, rows[i].name_blob, rows[i].name_blob_len,
                                  out->ns[i].name, NULL);
        if (rc != SR_OK)
            rc = sr_err_set(err, SR_EINTERNAL,
                            "a stored namespace name of '%s' does not open: the store is damaged "
                            "or was changed outside sealrun",
                            owner);
        out->ns[i].counters = rows[i].counters;
        out->n++;
    }
    for (size_t i = 0; i < n; i++)
        sr_kv_ns_row_fini(&rows[i]);
    free(rows);
    if (rc != SR_OK) {
        sr_storage_namespaces_fini(out);
        return rc;
    }
    qsort(out->ns, out->n, sizeof(*out->ns), name_cmp);
    return SR_OK;
}

/* ---- the data step of migration 6 ---- */

static sr_status
upgrade_ns(void *arg, const char *owner, const char *ns, uint8_t id[SR_KV_ID_LEN], uint8_t **blob,
           size_t *len, sr_err *err)
{
    struct sr_storage_ns_keys k;
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc == SR_OK) {
        sr_storage_ns_keys_init(arg, owner, ns, &k);
        memcpy(id, k.id, SR_KV_ID_LEN);
        rc = sr_storage_name_seal(&k, owner, ns, blob, len, err);
        sr_storage_ns_keys_wipe(&k);
    }
    return rc;
}

static sr_status
upgrade_key(void *arg, const char *owner, const char *ns, const uint8_t *key, size_t key_len,
            uint8_t id[SR_KV_ID_LEN], uint8_t **blob, size_t *len, sr_err *err)
{
    struct sr_storage_ns_keys k;
    sr_status rc = sr_storage_key_check(key, key_len, err);
    if (rc == SR_OK) {
        sr_storage_ns_keys_init(arg, owner, ns, &k);
        sr_storage_key_id(&k, key, key_len, id);
        rc = sr_storage_key_seal(&k, owner, ns, key, key_len, id, blob, len, err);
        sr_storage_ns_keys_wipe(&k);
    }
    return rc;
}

sr_status
sr_storage_upgrade(sr_store *st, const sr_keys *keys, uint64_t *moved, sr_err *err)
{
    /* the store's callbacks take a mutable arg; the keys are only read */
    const struct sr_kv_upgrade u = {(void *)(uintptr_t)keys, upgrade_ns, upgrade_key};
    sr_status rc = sr_store_kv_upgrade(st, &u, moved, err);
    return rc == SR_OK ? SR_OK : sr_err_wrap(err, "sealing the storage keys of an older store");
}
