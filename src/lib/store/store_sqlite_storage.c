/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_storage.c - the SQLite backend's key-value storage
 * (docs/storage.md): namespace counters, entries, prefix listings and the
 * atomic commit of a job's write set.
 *
 * A commit is one write of the group commit (its own savepoint inside the
 * batch transaction): it re-checks every key and listing the job read
 * against the committed state, then applies puts and deletes, updates the
 * namespace's counters and bumps its version by one. Every statement
 * filters on owner and namespace. Values arrive sealed; this file never
 * sees plaintext.
 *
 * Sections: reads; the commit.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sqlite3_bind_blob with a NULL pointer binds NULL, not an empty blob. */
static const uint8_t empty_blob[1];

static int
bind_blob(sqlite3_stmt *stmt, int i, const uint8_t *p, size_t len)
{
    return sqlite3_bind_blob64(stmt, i, p ? p : empty_blob, len, SQLITE_STATIC);
}

static int
bind_key(sqlite3_stmt *stmt, const char *owner, const char *ns, const uint8_t *key, size_t len)
{
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, ns);
    return b ? b : bind_blob(stmt, 3, key, len);
}

/* Keys are UTF-8 text; messages show at most 64 bytes of one. */
#define KEY_FMT "'%.*s'"
#define KEY_ARG(p, n) (int)((n) > 64 ? 64 : (n)), (const char *)(p)

/* ---- reads ---- */

static sr_status
ns_read(struct sq_conn *c, const char *owner, const char *ns, struct sr_kv_ns *out, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_NS, &stmt, err);
    if (rc != SR_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, ns);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        out->version = (uint64_t)sqlite3_column_int64(stmt, 0);
        out->keys = (uint64_t)sqlite3_column_int64(stmt, 1);
        out->bytes = (uint64_t)sqlite3_column_int64(stmt, 2);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read storage namespace '%s'", ns);
    }
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_kv_ns(sr_store *st, const char *owner, const char *ns, struct sr_kv_ns *out,
                   sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = ns_read(c, owner, ns, out, err);
    sr_store__sq_reader_put(s, c);
    return rc;
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

sr_status
sr_store__sq_kv_get(sr_store *st, const char *owner, const char *ns, const uint8_t *key,
                    size_t key_len, struct sr_kv_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    struct sr_kv_row r = {0};
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = bind_key(stmt, owner, ns, key, key_len);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW) {
            rc = dup_blob(stmt, 0, &r.blob, &r.blob_len, err);
            r.size = (uint64_t)sqlite3_column_int64(stmt, 1);
            r.version = (uint64_t)sqlite3_column_int64(stmt, 2);
            if (rc == SR_OK) {
                r.key = malloc(key_len);
                rc = r.key ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
            }
            if (rc == SR_OK) {
                memcpy(r.key, key, key_len);
                r.key_len = key_len;
            }
        } else if (src == SQLITE_DONE) {
            rc = sr_err_set(err, SR_ENOTFOUND, "key " KEY_FMT " not found in namespace '%s'",
                            KEY_ARG(key, key_len), ns);
        } else {
            rc = sr_store__sq_fail(c->db, src, err, "cannot read storage namespace '%s'", ns);
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

static void
rows_free(struct sr_kv_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sr_kv_row_fini(&rows[i]);
    free(rows);
}

struct list_query {
    const char *owner;
    const char *ns;
    const uint8_t *prefix;
    size_t prefix_len;
    const uint8_t *after;
    size_t after_len;
    size_t limit;
};

/* Runs a listing on connection c (a reader, or the writer inside a commit). */
static sr_status
list_rows(struct sq_conn *c, const struct list_query *q, struct sr_kv_row **out, size_t *out_n,
          sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    struct sr_kv_row *rows = calloc(q->limit, sizeof(*rows));
    size_t n = 0;
    sr_status rc = rows ? sr_store__sq_stmt(c, q->after ? SQ_KV_LIST_AFTER : SQ_KV_LIST, &stmt, err)
                        : sr_err_set(err, SR_ENOMEM, "out of memory listing storage");
    int src = SQLITE_OK;
    if (rc == SR_OK) {
        src = bind_key(stmt, q->owner, q->ns, q->prefix, q->prefix_len);
        src = src ? src : sqlite3_bind_int64(stmt, 4, (sqlite3_int64)q->limit);
        if (q->after)
            src = src ? src : bind_blob(stmt, 5, q->after, q->after_len);
    }
    while (rc == SR_OK && src == SQLITE_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct sr_kv_row *r = &rows[n++];
        rc = dup_blob(stmt, 0, &r->key, &r->key_len, err);
        r->size = (uint64_t)sqlite3_column_int64(stmt, 1);
        r->version = (uint64_t)sqlite3_column_int64(stmt, 2);
        src = n < q->limit ? SQLITE_OK : SQLITE_DONE;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot list storage namespace '%s'", q->ns);
    sr_store__sq_done(stmt);
    if (rc != SR_OK) {
        rows_free(rows, n);
        return rc;
    }
    *out = rows;
    *out_n = n;
    return SR_OK;
}

sr_status
sr_store__sq_kv_list(sr_store *st, const char *owner, const char *ns, const uint8_t *prefix,
                     size_t prefix_len, const uint8_t *after, size_t after_len, size_t limit,
                     struct sr_kv_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    const struct list_query q = {owner, ns, prefix, prefix_len, after, after_len, limit};
    sr_status rc = list_rows(c, &q, rows, n, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* ---- the commit ---- */

/* The version (0: absent) and size of one entry, on the writer. */
static sr_status
entry_version(struct sq_conn *c, const char *owner, const char *ns, const uint8_t *key, size_t len,
              uint64_t *version, uint64_t *size, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_VERSION, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_key(stmt, owner, ns, key, len);
    int src = b ? b : sqlite3_step(stmt);
    *version = 0;
    *size = 0;
    if (src == SQLITE_ROW) {
        *version = (uint64_t)sqlite3_column_int64(stmt, 0);
        *size = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read storage namespace '%s'", ns);
    }
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
check_reads(struct sq_conn *c, const struct sr_kv_commit *k, sr_err *err)
{
    for (size_t i = 0; i < k->nreads; i++) {
        const struct sr_kv_read *r = &k->reads[i];
        uint64_t v = 0, size = 0;
        sr_status rc = entry_version(c, k->owner, k->ns, r->key, r->key_len, &v, &size, err);
        if (rc != SR_OK)
            return rc;
        if (v != r->version)
            return sr_err_set(err, SR_ECONFLICT,
                              "key " KEY_FMT " of namespace '%s' changed after the job read it "
                              "(read at version %llu, now %s %llu)",
                              KEY_ARG(r->key, r->key_len), k->ns, (unsigned long long)r->version,
                              v ? "version" : "deleted, was",
                              (unsigned long long)(v ? v : r->version));
    }
    return SR_OK;
}

static bool
same_rows(const struct sr_kv_range *g, const struct sr_kv_row *rows, size_t n)
{
    if (n != g->nrows)
        return false;
    for (size_t i = 0; i < n; i++)
        if (rows[i].key_len != g->rows[i].key_len || rows[i].version != g->rows[i].version ||
            memcmp(rows[i].key, g->rows[i].key, rows[i].key_len) != 0)
            return false;
    return true;
}

static sr_status
check_ranges(struct sq_conn *c, const struct sr_kv_commit *k, sr_err *err)
{
    for (size_t i = 0; i < k->nranges; i++) {
        const struct sr_kv_range *g = &k->ranges[i];
        const struct list_query q = {k->owner, k->ns,        g->prefix, g->prefix_len,
                                     g->after, g->after_len, g->limit};
        struct sr_kv_row *rows = NULL;
        size_t n = 0;
        sr_status rc = list_rows(c, &q, &rows, &n, err);
        if (rc != SR_OK)
            return rc;
        bool same = same_rows(g, rows, n);
        rows_free(rows, n);
        if (!same)
            return sr_err_set(err, SR_ECONFLICT,
                              "the keys under prefix " KEY_FMT " of namespace '%s' changed after "
                              "the job listed them",
                              KEY_ARG(g->prefix ? g->prefix : (const uint8_t *)"", g->prefix_len),
                              k->ns);
    }
    return SR_OK;
}

/* Applies one put or delete and adjusts the counters. */
static sr_status
apply_write(struct sq_conn *c, const struct sr_kv_commit *k, const struct sr_kv_write *w,
            uint64_t version, struct sr_kv_ns *ns, sr_err *err)
{
    uint64_t old_v = 0, old_size = 0;
    sr_status rc = entry_version(c, k->owner, k->ns, w->key, w->key_len, &old_v, &old_size, err);
    if (rc != SR_OK || (!w->blob && !old_v))
        return rc; /* deleting an absent key changes nothing */
    sqlite3_stmt *stmt = NULL;
    rc = sr_store__sq_stmt(c, w->blob ? SQ_KV_PUT : SQ_KV_DELETE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_key(stmt, k->owner, k->ns, w->key, w->key_len);
    if (w->blob) {
        b = b ? b : bind_blob(stmt, 4, w->blob, w->blob_len);
        b = b ? b : sqlite3_bind_int64(stmt, 5, (sqlite3_int64)w->size);
        b = b ? b : sqlite3_bind_int64(stmt, 6, (sqlite3_int64)version);
    }
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "write storage namespace", k->ns);
    sr_store__sq_done(stmt);
    if (rc != SR_OK)
        return rc;
    ns->keys = ns->keys + (w->blob ? 1 : 0) - (old_v ? 1 : 0);
    ns->bytes = ns->bytes + (w->blob ? w->size : 0) - old_size;
    return SR_OK;
}

static sr_status
check_quota(const struct sr_kv_commit *k, const struct sr_kv_ns *before,
            const struct sr_kv_ns *after, sr_err *err)
{
    /* a write set that shrinks an over-quota namespace (quota lowered) may pass */
    if (k->max_keys && after->keys > k->max_keys && after->keys > before->keys)
        return sr_err_set(err, SR_ELIMIT,
                          "namespace '%s' would hold %llu keys; its quota is %llu keys", k->ns,
                          (unsigned long long)after->keys, (unsigned long long)k->max_keys);
    if (k->max_bytes && after->bytes > k->max_bytes && after->bytes > before->bytes)
        return sr_err_set(err, SR_ELIMIT,
                          "namespace '%s' would hold %llu bytes; its quota is %llu bytes", k->ns,
                          (unsigned long long)after->bytes, (unsigned long long)k->max_bytes);
    return SR_OK;
}

static sr_status
ns_write(struct sq_conn *c, const struct sr_kv_commit *k, const struct sr_kv_ns *ns, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_KV_NS_PUT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, k->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, k->ns);
    b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)ns->version);
    b = b ? b : sqlite3_bind_int64(stmt, 4, (sqlite3_int64)ns->keys);
    b = b ? b : sqlite3_bind_int64(stmt, 5, (sqlite3_int64)ns->bytes);
    b = b ? b : sqlite3_bind_int64(stmt, 6, k->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "write storage namespace", k->ns);
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
    const struct sr_kv_commit *k = a->k;
    struct sr_kv_ns before, ns;
    sr_status rc = ns_read(c, k->owner, k->ns, &before, err);
    if (rc == SR_OK)
        rc = check_reads(c, k, err);
    if (rc == SR_OK)
        rc = check_ranges(c, k, err);
    if (rc != SR_OK)
        return rc;
    a->res->version_before = before.version;
    if (before.version != k->expected_version) {
        a->res->moved = true;
        a->res->version_after = before.version;
        return SR_OK;
    }
    ns = before;
    ns.version = before.version + 1;
    for (size_t i = 0; rc == SR_OK && i < k->nwrites; i++)
        rc = apply_write(c, k, &k->writes[i], ns.version, &ns, err);
    if (rc == SR_OK)
        rc = check_quota(k, &before, &ns, err);
    if (rc == SR_OK)
        rc = ns_write(c, k, &ns, err);
    if (rc == SR_OK)
        a->res->version_after = ns.version;
    return rc;
}

sr_status
sr_store__sq_kv_commit(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                       sr_err *err)
{
    if (c->nwrites == 0) {
        struct sr_kv_ns ns;
        sr_status rc = sr_store__sq_kv_ns(st, c->owner, c->ns, &ns, err);
        res->version_before = res->version_after = rc == SR_OK ? ns.version : 0;
        return rc;
    }
    struct commit_arg a = {c, res};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_kv_commit, &a, err);
    if (rc != SR_OK)
        memset(res, 0, sizeof(*res));
    return rc;
}
