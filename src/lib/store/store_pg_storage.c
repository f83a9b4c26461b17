/* SPDX-License-Identifier: MIT
 *
 * store_pg_storage.c - the PostgreSQL backend's key-value storage, as in
 * store_sqlite_storage.c: namespace counters, entries, snapshots (one
 * REPEATABLE READ transaction each), the atomic commit of a write set and
 * the owners' totals. Ids are keyed hashes; names, keys and values arrive
 * sealed.
 *
 * A commit takes the owner's advisory lock ("storage:<owner>") before it
 * reads the namespace version: commits of one owner from any daemon are
 * applied one after the other, each on the committed state of the one
 * before (READ COMMITTED: every statement after the lock sees it), so the
 * version check, the counters and the owner quotas hold across daemons and
 * a lost race is the same res->moved (STORAGE_CONFLICT) as on SQLite.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
ids(struct pg_args *a, const char *owner, const uint8_t *ns_id, const uint8_t *key_id)
{
    sr_store__pg_text(a, owner);
    sr_store__pg_blob(a, ns_id, SR_KV_ID_LEN);
    if (key_id)
        sr_store__pg_blob(a, key_id, SR_KV_ID_LEN);
}

static sr_status
ns_read(struct pg_store *s, struct pg_conn *c, const char *owner, const uint8_t *ns_id,
        struct sr_kv_ns *out, bool *exists, sr_err *err)
{
    struct pg_args a = {0};
    ids(&a, owner, ns_id, NULL);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_KV_NS, &a, &res, "cannot read a namespace", err);
    memset(out, 0, sizeof(*out));
    *exists = rc == SR_OK && PQntuples(res) > 0;
    if (*exists) {
        out->version = (uint64_t)sr_store__pg_col_int(res, 0, 0);
        out->keys = (uint64_t)sr_store__pg_col_int(res, 0, 1);
        out->bytes = (uint64_t)sr_store__pg_col_int(res, 0, 2);
    }
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id, struct sr_kv_ns *out,
                   sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_conn *c = NULL;
    bool exists = false;
    sr_status rc = sr_store__pg_get(s, &c, err);
    if (rc == SR_OK) {
        rc = ns_read(s, c, owner, ns_id, out, &exists, err);
        sr_store__pg_put(s, c);
    }
    return rc;
}

sr_status
sr_store__pg_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id, const uint8_t *key_id,
                    struct sr_kv_row *out, sr_err *err)
{
    struct pg_args a = {0};
    ids(&a, owner, ns_id, key_id);
    PGresult *res = NULL;
    struct sr_kv_row r = {0};
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_KV_GET, &a, &res,
                                     "cannot read a storage entry", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "storage key not found");
    if (rc == SR_OK) {
        memcpy(r.id, key_id, SR_KV_ID_LEN);
        rc = sr_store__pg_col_blob(res, 0, 0, &r.key_blob, &r.key_blob_len, err);
        if (rc == SR_OK)
            rc = sr_store__pg_col_blob(res, 0, 1, &r.blob, &r.blob_len, err);
        r.size = (uint64_t)sr_store__pg_col_int(res, 0, 2);
        r.version = (uint64_t)sr_store__pg_col_int(res, 0, 3);
    }
    PQclear(res);
    if (rc != SR_OK)
        sr_kv_row_fini(&r);
    else
        *out = r;
    return rc;
}

static sr_status
entry_version(struct pg_store *s, struct pg_conn *c, const char *owner, const uint8_t *ns_id,
              const uint8_t *key_id, uint64_t *version, uint64_t *size, sr_err *err)
{
    struct pg_args a = {0};
    ids(&a, owner, ns_id, key_id);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_KV_VERSION, &a, &res, "cannot read a storage entry", err);
    *version = 0;
    *size = 0;
    if (rc == SR_OK && PQntuples(res) > 0) {
        *version = (uint64_t)sr_store__pg_col_int(res, 0, 0);
        *size = (uint64_t)sr_store__pg_col_int(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

static void
rows_free(struct sr_kv_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        sr_kv_row_fini(&rows[i]);
    free(rows);
}

/* Every entry of a namespace without values; the counters (keys) bound it. */
static sr_status
scan(struct pg_store *s, struct pg_conn *c, const char *owner, const uint8_t *ns_id, uint64_t keys,
     size_t max_rows, struct sr_kv_row **out, size_t *out_n, sr_err *err)
{
    if (keys > max_rows)
        return sr_err_set(err, SR_ELIMIT,
                          "the storage namespace holds %llu keys, more than the %zu that can be "
                          "listed",
                          (unsigned long long)keys, max_rows);
    struct pg_args a = {0};
    ids(&a, owner, ns_id, NULL);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_KV_SCAN, &a, &res, "cannot list a namespace", err);
    size_t n = rc == SR_OK ? (size_t)PQntuples(res) : 0, i = 0;
    if (rc == SR_OK && n > keys) /* the counters disagree with the rows: damage */
        rc = sr_err_set(err, SR_EIO, "storage namespace of '%s' holds more rows than its %llu keys",
                        owner, (unsigned long long)keys);
    struct sr_kv_row *rows = rc == SR_OK ? calloc(n + 1, sizeof(*rows)) : NULL;
    if (rc == SR_OK && !rows)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing storage");
    for (; rc == SR_OK && i < n; i++) {
        struct sr_kv_row *r = &rows[i];
        rc = sr_store__pg_col_fixed(res, (int)i, 0, r->id, SR_KV_ID_LEN, err);
        if (rc == SR_OK)
            rc = sr_store__pg_col_blob(res, (int)i, 1, &r->key_blob, &r->key_blob_len, err);
        r->size = (uint64_t)sr_store__pg_col_int(res, (int)i, 2);
        r->version = (uint64_t)sr_store__pg_col_int(res, (int)i, 3);
    }
    PQclear(res);
    if (rc != SR_OK) {
        rows_free(rows, i);
        return rc;
    }
    *out = rows;
    *out_n = n;
    return SR_OK;
}

struct snapshot_q {
    const char *owner;
    const uint8_t *ns_id;
    struct sr_kv_probe *probes;
    size_t nprobes;
    size_t max_rows;
    struct sr_kv_ns *info;
    struct sr_kv_row **rows; /* NULL: no rows */
    size_t *nrows;
};

static sr_status
tx_snapshot(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct snapshot_q *q = arg;
    bool exists = false;
    sr_status rc = ns_read(s, c, q->owner, q->ns_id, q->info, &exists, err);
    for (size_t i = 0; rc == SR_OK && i < q->nprobes; i++) {
        uint64_t size = 0;
        rc = entry_version(s, c, q->owner, q->ns_id, q->probes[i].id, &q->probes[i].version, &size,
                           err);
    }
    if (rc == SR_OK && q->rows)
        rc = scan(s, c, q->owner, q->ns_id, q->info->keys, q->max_rows, q->rows, q->nrows, err);
    return rc;
}

sr_status
sr_store__pg_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                         struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                         struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows, sr_err *err)
{
    struct sr_kv_row *got = NULL;
    size_t ngot = 0;
    struct snapshot_q q = {owner, ns_id, probes, nprobes, max_rows, info, rows ? &got : NULL,
                           &ngot};
    sr_status rc = sr_store__pg_snapshot((struct pg_store *)st, tx_snapshot, &q, err);
    if (rc != SR_OK) { /* the rows of a snapshot that did not commit are not returned */
        rows_free(got, ngot);
        return rc;
    }
    if (rows) {
        *rows = got;
        *nrows = ngot;
    }
    return SR_OK;
}

static sr_status
owner_read(struct pg_store *s, struct pg_conn *c, const char *owner, struct sr_kv_usage *out,
           sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_KV_OWNER, &a, &res, "cannot read the storage totals", err);
    memset(out, 0, sizeof(*out));
    if (rc == SR_OK && PQntuples(res) > 0) {
        out->namespaces = (uint64_t)sr_store__pg_col_int(res, 0, 0);
        out->bytes = (uint64_t)sr_store__pg_col_int(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

struct ns_list_q {
    const char *owner;
    size_t max_rows;
    struct sr_kv_ns_row **rows;
    size_t *n;
    struct sr_kv_usage *usage;
};

static sr_status
tx_ns_list(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct ns_list_q *q = arg;
    sr_status rc = owner_read(s, c, q->owner, q->usage, err);
    if (rc == SR_OK && q->usage->namespaces > q->max_rows)
        return sr_err_set(err, SR_ELIMIT, "owner '%s' has %llu storage namespaces, more than %zu",
                          q->owner, (unsigned long long)q->usage->namespaces, q->max_rows);
    struct pg_args a = {0};
    sr_store__pg_text(&a, q->owner);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_KV_NS_LIST, &a, &res, "cannot list namespaces", err);
    size_t n = rc == SR_OK ? (size_t)PQntuples(res) : 0, i = 0;
    if (rc == SR_OK && n > q->usage->namespaces)
        rc = sr_err_set(err, SR_EIO, "owner '%s' has more storage namespaces than counted",
                        q->owner);
    struct sr_kv_ns_row *v = rc == SR_OK ? calloc(n + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing storage namespaces");
    for (; rc == SR_OK && i < n; i++) {
        rc = sr_store__pg_col_fixed(res, (int)i, 0, v[i].id, SR_KV_ID_LEN, err);
        if (rc == SR_OK)
            rc = sr_store__pg_col_blob(res, (int)i, 1, &v[i].name_blob, &v[i].name_blob_len, err);
        v[i].counters.version = (uint64_t)sr_store__pg_col_int(res, (int)i, 2);
        v[i].counters.keys = (uint64_t)sr_store__pg_col_int(res, (int)i, 3);
        v[i].counters.bytes = (uint64_t)sr_store__pg_col_int(res, (int)i, 4);
    }
    PQclear(res);
    if (rc != SR_OK) {
        for (size_t j = 0; v && j < i; j++)
            sr_kv_ns_row_fini(&v[j]);
        free(v);
        return rc;
    }
    *q->rows = v;
    *q->n = n;
    return SR_OK;
}

sr_status
sr_store__pg_kv_namespaces(sr_store *st, const char *owner, size_t max_rows,
                           struct sr_kv_ns_row **rows, size_t *n, struct sr_kv_usage *usage,
                           sr_err *err)
{
    struct ns_list_q q = {owner, max_rows, rows, n, usage};
    return sr_store__pg_snapshot((struct pg_store *)st, tx_ns_list, &q, err);
}

/* ---- the commit ---- */

static sr_status
apply_write(struct pg_store *s, struct pg_conn *c, const struct sr_kv_commit *k,
            const struct sr_kv_write *w, uint64_t version, struct sr_kv_ns *ns, sr_err *err)
{
    uint64_t old_v = 0, old_size = 0;
    sr_status rc = entry_version(s, c, k->owner, k->ns_id, w->id, &old_v, &old_size, err);
    if (rc != SR_OK || (!w->blob && !old_v))
        return rc; /* deleting an absent key changes nothing */
    struct pg_args a = {0};
    ids(&a, k->owner, k->ns_id, w->id);
    if (w->blob) {
        sr_store__pg_blob(&a, w->key_blob, w->key_blob_len);
        sr_store__pg_blob(&a, w->blob, w->blob_len);
        sr_store__pg_int(&a, (int64_t)w->size);
        sr_store__pg_int(&a, (int64_t)version);
    }
    rc = sr_store__pg_run(s, c, w->blob ? PG_KV_PUT : PG_KV_DELETE, &a, NULL,
                          "cannot write the storage", err);
    if (rc != SR_OK)
        return rc;
    ns->keys = ns->keys + (w->blob ? 1 : 0) - (old_v ? 1 : 0);
    ns->bytes = ns->bytes + (w->blob ? w->size : 0) - old_size;
    return SR_OK;
}

static sr_status
quota_hit(struct sr_kv_result *res, enum sr_kv_quota q, uint64_t would, uint64_t limit, sr_err *err)
{
    static const char *const what[] = {
        [SR_KV_QUOTA_KEYS] = "keys in the namespace",
        [SR_KV_QUOTA_BYTES] = "bytes in the namespace",
        [SR_KV_QUOTA_NAMESPACES] = "namespaces of the owner",
        [SR_KV_QUOTA_OWNER_BYTES] = "bytes of the owner in all namespaces",
    };
    res->quota = q;
    res->quota_would = would;
    res->quota_limit = limit;
    return sr_err_set(err, SR_ELIMIT, "storage quota: %llu %s, the limit is %llu",
                      (unsigned long long)would, what[q], (unsigned long long)limit);
}

static sr_status
check_quota(const struct sr_kv_commit *k, const struct sr_kv_ns *before,
            const struct sr_kv_ns *after, const struct sr_kv_usage *usage, struct sr_kv_result *res,
            sr_err *err)
{
    if (k->max_keys && after->keys > k->max_keys && after->keys > before->keys)
        return quota_hit(res, SR_KV_QUOTA_KEYS, after->keys, k->max_keys, err);
    if (k->max_bytes && after->bytes > k->max_bytes && after->bytes > before->bytes)
        return quota_hit(res, SR_KV_QUOTA_BYTES, after->bytes, k->max_bytes, err);
    uint64_t owner_bytes = usage->bytes - before->bytes + after->bytes;
    if (k->max_owner_bytes && owner_bytes > k->max_owner_bytes && after->bytes > before->bytes)
        return quota_hit(res, SR_KV_QUOTA_OWNER_BYTES, owner_bytes, k->max_owner_bytes, err);
    return SR_OK;
}

static sr_status
write_counters(struct pg_store *s, struct pg_conn *c, const struct sr_kv_commit *k,
               const struct sr_kv_ns *ns, const struct sr_kv_usage *after, sr_err *err)
{
    struct pg_args a = {0};
    ids(&a, k->owner, k->ns_id, NULL);
    sr_store__pg_blob(&a, k->name_blob, k->name_blob_len);
    sr_store__pg_int(&a, (int64_t)ns->version);
    sr_store__pg_int(&a, (int64_t)ns->keys);
    sr_store__pg_int(&a, (int64_t)ns->bytes);
    sr_store__pg_int(&a, k->now_ms);
    sr_status rc =
        sr_store__pg_run(s, c, PG_KV_NS_PUT, &a, NULL, "cannot write a storage namespace", err);
    if (rc != SR_OK)
        return rc;
    struct pg_args o = {0};
    sr_store__pg_text(&o, k->owner);
    sr_store__pg_int(&o, (int64_t)after->namespaces);
    sr_store__pg_int(&o, (int64_t)after->bytes);
    return sr_store__pg_run(s, c, PG_KV_OWNER_PUT, &o, NULL, "cannot write the storage totals",
                            err);
}

struct commit_arg {
    const struct sr_kv_commit *k;
    struct sr_kv_result *res;
};

static sr_status
tx_kv_commit(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct commit_arg *a = arg;
    return sr_store__pg_kv_apply(s, c, a->k, a->res, err);
}

sr_status
sr_store__pg_kv_apply(struct pg_store *s, struct pg_conn *c, const struct sr_kv_commit *k,
                      struct sr_kv_result *res, sr_err *err)
{
    char lock[SR_ERR_MSG_MAX];
    (void)snprintf(lock, sizeof(lock), "storage:%s", k->owner);
    struct sr_kv_ns before, ns;
    struct sr_kv_usage usage;
    bool exists = false;
    sr_status rc = sr_store__pg_lock(s, c, lock, err);
    if (rc == SR_OK)
        rc = ns_read(s, c, k->owner, k->ns_id, &before, &exists, err);
    if (rc != SR_OK)
        return rc;
    res->version_before = before.version;
    if (before.version != k->expected_version) {
        res->moved = true;
        res->version_after = before.version;
        return SR_OK;
    }
    rc = owner_read(s, c, k->owner, &usage, err);
    if (rc == SR_OK && !exists && k->max_namespaces && usage.namespaces >= k->max_namespaces)
        rc = quota_hit(res, SR_KV_QUOTA_NAMESPACES, usage.namespaces + 1, k->max_namespaces, err);
    ns = before;
    ns.version = before.version + 1;
    for (size_t i = 0; rc == SR_OK && i < k->nwrites; i++)
        rc = apply_write(s, c, k, &k->writes[i], ns.version, &ns, err);
    if (rc == SR_OK)
        rc = check_quota(k, &before, &ns, &usage, res, err);
    const struct sr_kv_usage after = {usage.namespaces + (exists ? 0 : 1),
                                      usage.bytes - before.bytes + ns.bytes};
    if (rc == SR_OK)
        rc = write_counters(s, c, k, &ns, &after, err);
    if (rc == SR_OK)
        res->version_after = ns.version;
    return rc;
}

sr_status
sr_store__pg_kv_commit(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                       sr_err *err)
{
    struct commit_arg a = {c, res};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_kv_commit, &a, err);
    if (rc != SR_OK && rc != SR_ELIMIT) /* ELIMIT keeps which quota */
        memset(res, 0, sizeof(*res));
    return rc;
}

/* ---- the upgrade ---- */

sr_status
sr_store__pg_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved, sr_err *err)
{
    (void)st;
    (void)u;
    (void)err;
    *moved = 0; /* no old tables: schema/postgres/0004_storage.sql */
    return SR_OK;
}
