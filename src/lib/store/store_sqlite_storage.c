/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_storage.c - the SQLite backend's key-value storage
 * (docs/storage.md): namespace counters, entries, consistent snapshots for
 * the storage module's validation and listings, the atomic commit of a
 * job's write set, the owners' totals, and the data step of migration 6.
 *
 * Namespaces and keys arrive as 32-byte ids (keyed hashes) with their
 * sealed names and keys; values arrive sealed. This file never sees a
 * name, a key or a value in clear, so it cannot order or filter keys: the
 * storage module does that on a snapshot of the whole namespace.
 *
 * A commit is one write of the group commit (its own savepoint inside the
 * batch transaction). Its reads were validated beforehand, outside the
 * write lock, at a namespace version; under the lock it only checks that
 * the version is still that one, then applies the puts and deletes and
 * updates the counters: the time it holds the lock grows with its writes,
 * never with what the job read. Every statement filters on owner (and
 * namespace).
 *
 * Sections: helpers; reads and snapshots; the commit; the upgrade.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* sqlite3_bind_blob with a NULL pointer binds NULL, not an empty blob. */
static const uint8_t empty_blob[1];

static int
bind_blob(sqlite3_stmt *stmt, int i, const uint8_t *p, size_t len)
{
    return sqlite3_bind_blob64(stmt, i, p ? p : empty_blob, len, SQLITE_STATIC);
}

/* ?1 owner, ?2 namespace id, and ?3 the key id when key_id != NULL. */
static int
bind_ids(sqlite3_stmt *stmt, const char *owner, const uint8_t *ns_id, const uint8_t *key_id)
{
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : bind_blob(stmt, 2, ns_id, SR_KV_ID_LEN);
    return b || !key_id ? b : bind_blob(stmt, 3, key_id, SR_KV_ID_LEN);
}

static sr_status
dup_blob(sqlite3_stmt *stmt, int i, uint8_t **out, size_t *len, sr_err *err)
{
    size_t n = (size_t)sqlite3_column_bytes(stmt, i);
    *out = malloc(n ? n : 1);
    if (!*out)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a storage entry");
    if (n)
        memcpy(*out, sqlite3_column_blob(stmt, i), n);
    *len = n;
    return SR_OK;
}

/* Copies a column that must be exactly SR_KV_ID_LEN bytes. */
static sr_status
read_id(sqlite3_stmt *stmt, int i, uint8_t out[SR_KV_ID_LEN], sr_err *err)
{
    if (sqlite3_column_bytes(stmt, i) != SR_KV_ID_LEN)
        return sr_err_set(err, SR_EIO, "storage row has an id of %d bytes, expected %d",
                          sqlite3_column_bytes(stmt, i), SR_KV_ID_LEN);
    memcpy(out, sqlite3_column_blob(stmt, i), SR_KV_ID_LEN);
    return SR_OK;
}

static void
rows_free(struct sr_kv_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        sr_kv_row_fini(&rows[i]);
    free(rows);
}

/* ---- reads and snapshots ---- */

/* The counters of a namespace; *exists false (and zeros) without a row. */
static sr_status
ns_read(struct sq_conn *c, const char *owner, const uint8_t *ns_id, struct sr_kv_ns *out,
        bool *exists, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_NS, &stmt, err);
    if (rc != SR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    int b = bind_ids(stmt, owner, ns_id, NULL);
    int src = b ? b : sqlite3_step(stmt);
    *exists = src == SQLITE_ROW;
    if (src == SQLITE_ROW) {
        out->version = (uint64_t)sqlite3_column_int64(stmt, 0);
        out->keys = (uint64_t)sqlite3_column_int64(stmt, 1);
        out->bytes = (uint64_t)sqlite3_column_int64(stmt, 2);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read a storage namespace of '%s'", owner);
    }
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id, struct sr_kv_ns *out,
                   sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    bool exists = false;
    sr_status rc = ns_read(c, owner, ns_id, out, &exists, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

sr_status
sr_store__sq_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id, const uint8_t *key_id,
                    struct sr_kv_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    struct sr_kv_row r = {0};
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = bind_ids(stmt, owner, ns_id, key_id);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW) {
            memcpy(r.id, key_id, SR_KV_ID_LEN);
            rc = dup_blob(stmt, 0, &r.key_blob, &r.key_blob_len, err);
            if (rc == SR_OK)
                rc = dup_blob(stmt, 1, &r.blob, &r.blob_len, err);
            r.size = (uint64_t)sqlite3_column_int64(stmt, 2);
            r.version = (uint64_t)sqlite3_column_int64(stmt, 3);
        } else if (src == SQLITE_DONE) {
            rc = sr_err_set(err, SR_ENOTFOUND, "storage key not found");
        } else {
            rc = sr_store__sq_fail(c->db, src, err, "cannot read a storage entry of '%s'", owner);
        }
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    if (rc != SR_OK)
        sr_kv_row_fini(&r);
    else
        *out = r;
    return rc;
}

/* The version (0: absent) and size of one entry, on connection c. */
static sr_status
entry_version(struct sq_conn *c, const char *owner, const uint8_t *ns_id, const uint8_t *key_id,
              uint64_t *version, uint64_t *size, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_VERSION, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_ids(stmt, owner, ns_id, key_id);
    int src = b ? b : sqlite3_step(stmt);
    *version = 0;
    *size = 0;
    if (src == SQLITE_ROW) {
        *version = (uint64_t)sqlite3_column_int64(stmt, 0);
        *size = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read a storage entry of '%s'", owner);
    }
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
scan_row(sqlite3_stmt *stmt, struct sr_kv_row *r, sr_err *err)
{
    sr_status rc = read_id(stmt, 0, r->id, err);
    if (rc == SR_OK)
        rc = dup_blob(stmt, 1, &r->key_blob, &r->key_blob_len, err);
    r->size = (uint64_t)sqlite3_column_int64(stmt, 2);
    r->version = (uint64_t)sqlite3_column_int64(stmt, 3);
    return rc;
}

/* Every entry of a namespace (without values), at most max_rows. The array
 * is sized from the counters read in the same snapshot (keys), so it is
 * never grown while rows arrive. */
static sr_status
scan(struct sq_conn *c, const char *owner, const uint8_t *ns_id, uint64_t keys, size_t max_rows,
     struct sr_kv_row **out, size_t *out_n, sr_err *err)
{
    if (keys > max_rows)
        return sr_err_set(err, SR_ELIMIT,
                          "the storage namespace holds %llu keys, more than the %zu that can be "
                          "listed",
                          (unsigned long long)keys, max_rows);
    sqlite3_stmt *stmt = NULL;
    struct sr_kv_row *rows = calloc(keys + 1, sizeof(*rows));
    size_t n = 0;
    sr_status rc = rows ? sr_store__sq_stmt(c, SQ_KV_SCAN, &stmt, err)
                        : sr_err_set(err, SR_ENOMEM, "out of memory listing storage");
    int src = rc == SR_OK ? bind_ids(stmt, owner, ns_id, NULL) : SQLITE_OK;
    while (rc == SR_OK && src == SQLITE_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == keys) { /* the counters disagree with the rows: damage */
            rc = sr_err_set(err, SR_EIO,
                            "storage namespace of '%s' holds more rows than its %llu "
                            "keys",
                            owner, (unsigned long long)keys);
            break;
        }
        rc = scan_row(stmt, &rows[n++], err);
        src = SQLITE_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot list a storage namespace of '%s'", owner);
    sr_store__sq_done(stmt);
    if (rc != SR_OK) {
        rows_free(rows, n);
        return rc;
    }
    *out = rows;
    *out_n = n;
    return SR_OK;
}

/* Runs a statement without parameters (transaction control) on c. */
static sr_status
exec_ctl(struct sq_conn *c, enum sq_stmt id, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, id, &stmt, err);
    int src = rc == SR_OK ? sqlite3_step(stmt) : SQLITE_OK;
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot run '%s'", sr_store__sq_sql[id]);
    sr_store__sq_done(stmt);
    return rc;
}

struct snapshot_q {
    const char *owner;
    const uint8_t *ns_id;
    struct sr_kv_probe *probes;
    size_t nprobes;
    size_t max_rows;
    struct sr_kv_row **rows; /* NULL: no rows */
    size_t *nrows;
};

static sr_status
snapshot_reads(struct sq_conn *c, const struct snapshot_q *q, struct sr_kv_ns *info, sr_err *err)
{
    bool exists = false;
    sr_status rc = ns_read(c, q->owner, q->ns_id, info, &exists, err);
    for (size_t i = 0; rc == SR_OK && i < q->nprobes; i++) {
        uint64_t size = 0;
        rc = entry_version(c, q->owner, q->ns_id, q->probes[i].id, &q->probes[i].version, &size,
                           err);
    }
    if (rc == SR_OK && q->rows)
        rc = scan(c, q->owner, q->ns_id, info->keys, q->max_rows, q->rows, q->nrows, err);
    return rc;
}

sr_status
sr_store__sq_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                         struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                         struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    const struct snapshot_q q = {owner, ns_id, probes, nprobes, max_rows, rows, nrows};
    /* one read transaction: every statement sees the same committed state */
    sr_status rc = exec_ctl(c, SQ_KV_SNAPSHOT, err);
    if (rc == SR_OK) {
        rc = snapshot_reads(c, &q, info, err);
        sr_status end =
            exec_ctl(c, rc == SR_OK ? SQ_COMMIT : SQ_ROLLBACK, rc == SR_OK ? err : NULL);
        if (rc == SR_OK && end != SR_OK && rows) {
            rows_free(*rows, *nrows);
            *rows = NULL;
        }
        rc = rc == SR_OK ? end : rc;
    }
    sr_store__sq_reader_put(s, c);
    return rc;
}

static sr_status
owner_read(struct sq_conn *c, const char *owner, struct sr_kv_usage *out, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_OWNER, &stmt, err);
    if (rc != SR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        out->namespaces = (uint64_t)sqlite3_column_int64(stmt, 0);
        out->bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the storage totals of '%s'", owner);
    }
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
ns_row(sqlite3_stmt *stmt, struct sr_kv_ns_row *r, sr_err *err)
{
    sr_status rc = read_id(stmt, 0, r->id, err);
    if (rc == SR_OK)
        rc = dup_blob(stmt, 1, &r->name_blob, &r->name_blob_len, err);
    r->counters.version = (uint64_t)sqlite3_column_int64(stmt, 2);
    r->counters.keys = (uint64_t)sqlite3_column_int64(stmt, 3);
    r->counters.bytes = (uint64_t)sqlite3_column_int64(stmt, 4);
    return rc;
}

static sr_status
ns_list(struct sq_conn *c, const char *owner, size_t max_rows, struct sr_kv_ns_row **out,
        size_t *out_n, struct sr_kv_usage *usage, sr_err *err)
{
    sr_status rc = owner_read(c, owner, usage, err);
    if (rc == SR_OK && usage->namespaces > max_rows)
        rc = sr_err_set(err, SR_ELIMIT, "owner '%s' has %llu storage namespaces, more than %zu",
                        owner, (unsigned long long)usage->namespaces, max_rows);
    size_t cap = rc == SR_OK ? (size_t)usage->namespaces : 0, n = 0;
    struct sr_kv_ns_row *rows = rc == SR_OK ? calloc(cap + 1, sizeof(*rows)) : NULL;
    sqlite3_stmt *stmt = NULL;
    if (rc == SR_OK)
        rc = rows ? sr_store__sq_stmt(c, SQ_KV_NS_LIST, &stmt, err)
                  : sr_err_set(err, SR_ENOMEM, "out of memory listing storage namespaces");
    int src = rc == SR_OK ? sr_store__sq_bind_text(stmt, 1, owner) : SQLITE_OK;
    while (rc == SR_OK && src == SQLITE_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            rc = sr_err_set(err, SR_EIO, "owner '%s' has more storage namespaces than counted",
                            owner);
            break;
        }
        rc = ns_row(stmt, &rows[n++], err);
        src = SQLITE_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc =
            sr_store__sq_fail(c->db, src, err, "cannot list the storage namespaces of '%s'", owner);
    sr_store__sq_done(stmt);
    if (rc != SR_OK) {
        for (size_t i = 0; rows && i < n; i++)
            sr_kv_ns_row_fini(&rows[i]);
        free(rows);
        return rc;
    }
    *out = rows;
    *out_n = n;
    return SR_OK;
}

sr_status
sr_store__sq_kv_namespaces(sr_store *st, const char *owner, size_t max_rows,
                           struct sr_kv_ns_row **rows, size_t *n, struct sr_kv_usage *usage,
                           sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = exec_ctl(c, SQ_KV_SNAPSHOT, err);
    if (rc == SR_OK) {
        rc = ns_list(c, owner, max_rows, rows, n, usage, err);
        (void)exec_ctl(c, rc == SR_OK ? SQ_COMMIT : SQ_ROLLBACK, NULL);
    }
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* ---- the commit ---- */

/* Applies one put or delete and adjusts the counters. */
static sr_status
apply_write(struct sq_conn *c, const struct sr_kv_commit *k, const struct sr_kv_write *w,
            uint64_t version, struct sr_kv_ns *ns, sr_err *err)
{
    uint64_t old_v = 0, old_size = 0;
    sr_status rc = entry_version(c, k->owner, k->ns_id, w->id, &old_v, &old_size, err);
    if (rc != SR_OK || (!w->blob && !old_v))
        return rc; /* deleting an absent key changes nothing */
    sqlite3_stmt *stmt = NULL;
    rc = sr_store__sq_stmt(c, w->blob ? SQ_KV_PUT : SQ_KV_DELETE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_ids(stmt, k->owner, k->ns_id, w->id);
    if (w->blob) {
        b = b ? b : bind_blob(stmt, 4, w->key_blob, w->key_blob_len);
        b = b ? b : bind_blob(stmt, 5, w->blob, w->blob_len);
        b = b ? b : sqlite3_bind_int64(stmt, 6, (sqlite3_int64)w->size);
        b = b ? b : sqlite3_bind_int64(stmt, 7, (sqlite3_int64)version);
    }
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "write the storage of", k->owner);
    sr_store__sq_done(stmt);
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

/* A write set that shrinks what a quota measures (after the quota was
 * lowered) may pass; one that grows it past the quota may not. */
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
ns_write(struct sq_conn *c, const struct sr_kv_commit *k, const struct sr_kv_ns *ns, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_NS_PUT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_ids(stmt, k->owner, k->ns_id, NULL);
    b = b ? b : bind_blob(stmt, 3, k->name_blob, k->name_blob_len);
    b = b ? b : sqlite3_bind_int64(stmt, 4, (sqlite3_int64)ns->version);
    b = b ? b : sqlite3_bind_int64(stmt, 5, (sqlite3_int64)ns->keys);
    b = b ? b : sqlite3_bind_int64(stmt, 6, (sqlite3_int64)ns->bytes);
    b = b ? b : sqlite3_bind_int64(stmt, 7, k->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "write a storage namespace of", k->owner);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
owner_write(struct sq_conn *c, const char *owner, const struct sr_kv_usage *u, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_OWNER_PUT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)u->namespaces);
    b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)u->bytes);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "write the storage totals of", owner);
    sr_store__sq_done(stmt);
    return rc;
}

struct commit_arg {
    const struct sr_kv_commit *k;
    struct sr_kv_result *res;
};

static sr_status
w_kv_commit(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct commit_arg *a = arg;
    return sr_store__sq_kv_apply(c, a->k, a->res, err);
}

sr_status
sr_store__sq_kv_apply(struct sq_conn *c, const struct sr_kv_commit *k, struct sr_kv_result *res,
                      sr_err *err)
{
    struct sr_kv_ns before, ns;
    struct sr_kv_usage usage;
    bool exists = false;
    sr_status rc = ns_read(c, k->owner, k->ns_id, &before, &exists, err);
    if (rc != SR_OK)
        return rc;
    res->version_before = before.version;
    if (before.version != k->expected_version) {
        res->moved = true;
        res->version_after = before.version;
        return SR_OK;
    }
    rc = owner_read(c, k->owner, &usage, err);
    if (rc == SR_OK && !exists && k->max_namespaces && usage.namespaces >= k->max_namespaces)
        rc = quota_hit(res, SR_KV_QUOTA_NAMESPACES, usage.namespaces + 1, k->max_namespaces, err);
    ns = before;
    ns.version = before.version + 1;
    for (size_t i = 0; rc == SR_OK && i < k->nwrites; i++)
        rc = apply_write(c, k, &k->writes[i], ns.version, &ns, err);
    if (rc == SR_OK)
        rc = check_quota(k, &before, &ns, &usage, res, err);
    if (rc == SR_OK)
        rc = ns_write(c, k, &ns, err);
    if (rc == SR_OK) {
        const struct sr_kv_usage after = {usage.namespaces + (exists ? 0 : 1),
                                          usage.bytes - before.bytes + ns.bytes};
        rc = owner_write(c, k->owner, &after, err);
    }
    if (rc == SR_OK)
        res->version_after = ns.version;
    return rc;
}

sr_status
sr_store__sq_kv_commit(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                       sr_err *err)
{
    struct commit_arg a = {c, res};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_kv_commit, &a, err);
    if (rc != SR_OK && rc != SR_ELIMIT) /* ELIMIT keeps which quota */
        memset(res, 0, sizeof(*res));
    return rc;
}

/* ---- the upgrade (the data step of migration 6) ---- */

struct upgrade_arg {
    const struct sr_kv_upgrade *u;
    uint64_t moved;
    bool legacy; /* the old tables were there */
};

/* Prepares sql on the writer; *out finalised by the caller. */
static sr_status
prepare(struct sq_conn *c, const char *sql, sqlite3_stmt **out, sr_err *err)
{
    int src = sqlite3_prepare_v2(c->db, sql, -1, out, NULL);
    return src == SQLITE_OK ? SR_OK
                            : sr_store__sq_fail(c->db, src, err, "cannot prepare '%.60s'", sql);
}

static sr_status
legacy_exists(struct sq_conn *c, bool *yes, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = prepare(
        c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'storage_entries'",
        &stmt, err);
    int src = rc == SR_OK ? sqlite3_step(stmt) : SQLITE_OK;
    if (rc == SR_OK && src != SQLITE_ROW)
        rc = sr_store__sq_fail(c->db, src, err, "cannot look for the old storage tables");
    *yes = rc == SR_OK && sqlite3_column_int(stmt, 0) > 0;
    sqlite3_finalize(stmt);
    return rc;
}

/* One legacy namespace row (owner, name, version, keys, bytes, updated_at)
 * into storage_ns. */
static sr_status
move_ns(const struct sr_kv_upgrade *u, sqlite3_stmt *row, sqlite3_stmt *ins, sr_err *err)
{
    const char *owner = (const char *)sqlite3_column_text(row, 0);
    const char *name = (const char *)sqlite3_column_text(row, 1);
    uint8_t id[SR_KV_ID_LEN];
    uint8_t *blob = NULL;
    size_t len = 0;
    if (!owner || !name)
        return sr_err_set(err, SR_EIO, "old storage namespace row without owner or name");
    sr_status rc = u->ns(u->arg, owner, name, id, &blob, &len, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(ins, 1, owner);
    b = b ? b : bind_blob(ins, 2, id, sizeof(id));
    b = b ? b : bind_blob(ins, 3, blob, len);
    for (int i = 2; !b && i < 6; i++)
        b = sqlite3_bind_int64(ins, i + 2, sqlite3_column_int64(row, i));
    rc = b ? sr_store__sq_bind_failed(ins, b, err)
           : sr_store__sq_step_done(ins, err, "move a storage namespace of", owner);
    (void)sqlite3_reset(ins);
    free(blob);
    return rc;
}

/* One legacy entry (owner, namespace, key, value, size, version) into
 * storage_kv. */
static sr_status
move_entry(const struct sr_kv_upgrade *u, sqlite3_stmt *row, sqlite3_stmt *ins, sr_err *err)
{
    const char *owner = (const char *)sqlite3_column_text(row, 0);
    const char *name = (const char *)sqlite3_column_text(row, 1);
    const uint8_t *key = sqlite3_column_blob(row, 2);
    size_t key_len = (size_t)sqlite3_column_bytes(row, 2);
    uint8_t ns_id[SR_KV_ID_LEN], id[SR_KV_ID_LEN];
    uint8_t *nblob = NULL, *kblob = NULL;
    size_t nlen = 0, klen = 0;
    if (!owner || !name || !key)
        return sr_err_set(err, SR_EIO, "old storage entry without owner, namespace or key");
    sr_status rc = u->ns(u->arg, owner, name, ns_id, &nblob, &nlen, err);
    if (rc == SR_OK)
        rc = u->key(u->arg, owner, name, key, key_len, id, &kblob, &klen, err);
    int b = rc == SR_OK ? sr_store__sq_bind_text(ins, 1, owner) : SQLITE_OK;
    b = b ? b : bind_blob(ins, 2, ns_id, sizeof(ns_id));
    b = b ? b : bind_blob(ins, 3, id, sizeof(id));
    b = b ? b : bind_blob(ins, 4, kblob, klen);
    b = b ? b
          : sqlite3_bind_blob64(ins, 5, sqlite3_column_blob(row, 3),
                                (sqlite3_uint64)sqlite3_column_bytes(row, 3), SQLITE_STATIC);
    b = b ? b : sqlite3_bind_int64(ins, 6, sqlite3_column_int64(row, 4));
    b = b ? b : sqlite3_bind_int64(ins, 7, sqlite3_column_int64(row, 5));
    if (rc == SR_OK)
        rc = b ? sr_store__sq_bind_failed(ins, b, err)
               : sr_store__sq_step_done(ins, err, "move a storage entry of", owner);
    (void)sqlite3_reset(ins);
    free(nblob);
    free(kblob);
    return rc;
}

typedef sr_status (*move_fn)(const struct sr_kv_upgrade *u, sqlite3_stmt *row, sqlite3_stmt *ins,
                             sr_err *err);

/* Moves every row 'select' returns with 'fn' through 'insert'. */
static sr_status
move_rows(struct sq_conn *c, const struct sr_kv_upgrade *u, const char *select, const char *insert,
          move_fn fn, uint64_t *n, sr_err *err)
{
    sqlite3_stmt *row = NULL, *ins = NULL;
    sr_status rc = prepare(c, select, &row, err);
    if (rc == SR_OK)
        rc = prepare(c, insert, &ins, err);
    int src = SQLITE_OK;
    while (rc == SR_OK && (src = sqlite3_step(row)) == SQLITE_ROW) {
        rc = fn(u, row, ins, err);
        *n += rc == SR_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the old storage tables");
    sqlite3_finalize(row);
    sqlite3_finalize(ins);
    return rc;
}

static sr_status
w_kv_upgrade(struct sq_conn *c, void *arg, sr_err *err)
{
    struct upgrade_arg *a = arg;
    bool legacy = false;
    uint64_t nns = 0;
    sr_status rc = legacy_exists(c, &legacy, err);
    if (rc != SR_OK || !legacy)
        return rc;
    a->legacy = true;
    /* the pages the old tables free are zeroed, not left with keys in clear */
    (void)sqlite3_exec(c->db, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
    rc = move_rows(c, a->u,
                   "SELECT owner, name, version, keys, bytes, updated_at FROM storage_namespaces",
                   "INSERT INTO storage_ns (owner, id, name, version, keys, bytes, updated_at) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                   move_ns, &nns, err);
    if (rc == SR_OK)
        rc = move_rows(c, a->u,
                       "SELECT owner, namespace, key, value, size, version FROM storage_entries",
                       "INSERT INTO storage_kv (owner, ns, id, key, value, size, version) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       move_entry, &a->moved, err);
    char *msg = NULL;
    if (rc == SR_OK &&
        sqlite3_exec(c->db,
                     "INSERT OR REPLACE INTO storage_owners (owner, namespaces, bytes) "
                     "SELECT owner, count(*), sum(bytes) FROM storage_ns GROUP BY owner; "
                     "DROP TABLE storage_entries; DROP TABLE storage_namespaces",
                     NULL, NULL, &msg) != SQLITE_OK)
        rc = sr_err_set(err, SR_EIO, "cannot finish moving the old storage tables: %s",
                        msg ? msg : sqlite3_errmsg(c->db));
    sqlite3_free(msg);
    (void)sqlite3_exec(c->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
    return rc;
}

/* Copies the write-ahead log into the database and empties it, so the old
 * pages (keys in clear) leave both files now rather than at some later
 * checkpoint. Runs on the writer as the group commit's leader, outside any
 * transaction. A reader in the way (another process) only delays it: the
 * next checkpoint does the same. */
static void
checkpoint_truncate(struct sq_store *s)
{
    pthread_mutex_lock(&s->wlock);
    while (s->has_leader)
        pthread_cond_wait(&s->wdone, &s->wlock);
    s->has_leader = true;
    pthread_mutex_unlock(&s->wlock);
    (void)sqlite3_wal_checkpoint_v2(s->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    pthread_mutex_lock(&s->wlock);
    s->has_leader = false;
    pthread_cond_broadcast(&s->wdone);
    pthread_mutex_unlock(&s->wlock);
}

sr_status
sr_store__sq_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved, sr_err *err)
{
    struct upgrade_arg a = {u, 0, false};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_kv_upgrade, &a, err);
    if (rc == SR_OK && a.legacy)
        checkpoint_truncate((struct sq_store *)st);
    if (rc == SR_OK)
        *moved = a.moved;
    return rc;
}
