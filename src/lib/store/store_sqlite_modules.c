/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_modules.c - the SQLite backend's WebAssembly modules: one
 * row per module (its bytes and description sealed, the AAD bound to the
 * hash: the row is shared by every owner who uploaded it) and one claim per
 * (owner, module) with the bytes it counts against the owner's quota and
 * its last use.
 *
 * The quota check and the insert run in the same write of the group commit
 * (one transaction), so no two uploads can pass the quota together. A
 * module's row is deleted in the same transaction as its last claim.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- put --- */

struct module_put_arg {
    const struct sr_module_put *p;
    uint8_t *bytes; /* owned, sealed */
    size_t bytes_len;
    uint8_t *info; /* owned, sealed */
    size_t info_len;
    uint64_t stored; /* what the claim counts */
    bool created;
    struct sr_module_usage usage;
};

/* Whether owner claims hash. */
static sr_status
has_claim(struct sq_conn *c, const char *owner, const char *hash, bool *has, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_CLAIM, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, hash);
    int src = b ? b : sqlite3_step(stmt);
    *has = src == SQLITE_ROW;
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the claim of '%s'", owner);
    sr_store__sq_done(stmt);
    return rc;
}

/* The owner's claims in total (one index range: at most the count quota). */
static sr_status
usage_of(struct sq_conn *c, const char *owner, struct sr_module_usage *u, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_USAGE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        u->count = (uint64_t)sqlite3_column_int64(stmt, 0);
        u->bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    } else {
        rc = sr_store__sq_fail(c->db, src, err, "cannot sum the modules of '%s'", owner);
    }
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
check_quota(const struct module_put_arg *a, sr_err *err)
{
    const struct sr_module_put *p = a->p;
    const struct sr_module_usage *u = &a->usage;
    if (p->max_count && u->count + 1 > p->max_count)
        return sr_err_set(err, SR_ELIMIT,
                          "module quota of '%s' reached: %llu modules claimed, at most %llu",
                          p->owner, (unsigned long long)u->count, (unsigned long long)p->max_count);
    if (p->max_bytes && u->bytes + a->stored > p->max_bytes)
        return sr_err_set(err, SR_ELIMIT,
                          "module quota of '%s' exceeded: %llu bytes claimed, this module adds "
                          "%llu, at most %llu",
                          p->owner, (unsigned long long)u->bytes, (unsigned long long)a->stored,
                          (unsigned long long)p->max_bytes);
    return SR_OK;
}

static sr_status
insert_module(struct sq_conn *c, const struct module_put_arg *a, sr_err *err)
{
    const struct sr_module_put *p = a->p;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_PUT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, p->hash_hex);
    b = b ? b : sr_store__sq_bind_blob(stmt, 2, a->bytes, a->bytes_len);
    b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)p->len);
    b = b ? b : sr_store__sq_bind_blob(stmt, 4, a->info, a->info_len);
    b = b ? b : sqlite3_bind_int64(stmt, 5, p->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "store module", p->hash_hex);
    sr_store__sq_done(stmt);
    if (rc != SR_OK)
        return rc;
    rc = sr_store__sq_stmt(c, SQ_MODULE_OWN, &stmt, err);
    if (rc != SR_OK)
        return rc;
    b = sr_store__sq_bind_text(stmt, 1, p->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, p->hash_hex);
    b = b ? b : sqlite3_bind_int64(stmt, 3, p->now_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 4, (sqlite3_int64)a->stored);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "record the owner of module", p->hash_hex);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
touch(struct sq_conn *c, const char *owner, const char *hash, int64_t now_ms, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_TOUCH, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, hash);
    b = b ? b : sqlite3_bind_int64(stmt, 3, now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "record the use of module", hash);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && sqlite3_changes(c->db) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash);
    return rc;
}

static sr_status
w_module_put(struct sq_conn *c, void *arg, sr_err *err)
{
    struct module_put_arg *a = arg;
    const struct sr_module_put *p = a->p;
    bool has = false;
    sr_status rc = has_claim(c, p->owner, p->hash_hex, &has, err);
    if (rc == SR_OK)
        rc = usage_of(c, p->owner, &a->usage, err);
    if (rc != SR_OK)
        return rc;
    if (has) /* uploading it again is a use, and adds nothing */
        return touch(c, p->owner, p->hash_hex, p->now_ms, err);
    rc = check_quota(a, err);
    if (rc == SR_OK)
        rc = insert_module(c, a, err);
    a->created = rc == SR_OK;
    return rc;
}

sr_status
sr_store__sq_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                        struct sr_module_usage *usage, sr_err *err)
{
    struct module_put_arg a = {.p = p};
    size_t info_len = strlen(p->info_json);
    a.stored = (uint64_t)p->len + info_len;
    /* sealed before queueing: the crypto never runs under the group commit */
    sr_status rc = sr_store__seal(st->seal_key, SR_SEAL_MODULE_BYTES, "", p->hash_hex, p->bytes,
                                  p->len, &a.bytes, &a.bytes_len, err);
    if (rc == SR_OK)
        rc = sr_store__seal(st->seal_key, SR_SEAL_MODULE_INFO, "", p->hash_hex, p->info_json,
                            info_len, &a.info, &a.info_len, err);
    if (rc == SR_OK)
        rc = sr_store__sq_write((struct sq_store *)st, w_module_put, &a, err);
    free(a.bytes);
    free(a.info);
    if ((rc == SR_OK || rc == SR_ELIMIT) && usage)
        *usage = a.usage;
    if (rc == SR_OK && created)
        *created = a.created;
    return rc;
}

/* --- get, touch, usage --- */

static sr_status
read_module(const uint8_t *key, sqlite3_stmt *stmt, const char *hash, struct sr_module_row *out,
            sr_err *err)
{
    memset(out, 0, sizeof(*out));
    char *bytes = NULL;
    sr_status rc =
        sr_store__sq_col_open(key, stmt, 0, SR_SEAL_MODULE_BYTES, "", hash, &bytes, &out->len, err);
    if (rc == SR_OK && !bytes)
        rc = sr_err_set(err, SR_EINTERNAL, "stored module '%s' has no bytes", hash);
    out->bytes = (uint8_t *)bytes;
    if (rc == SR_OK)
        rc = sr_store__sq_col_open(key, stmt, 1, SR_SEAL_MODULE_INFO, "", hash, &out->info_json,
                                   NULL, err);
    out->created_at_ms = sqlite3_column_int64(stmt, 2);
    out->last_used_at_ms = sqlite3_column_int64(stmt, 3);
    if (rc != SR_OK)
        sr_module_row_fini(out);
    return rc;
}

sr_status
sr_store__sq_module_get(sr_store *st, const char *owner, const char *hash_hex,
                        struct sr_module_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, hash_hex);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW)
            rc = read_module(st->seal_key, stmt, hash_hex, out, err);
        else if (src == SQLITE_DONE)
            rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash_hex);
        else
            rc = sr_store__sq_fail(c->db, src, err, "cannot load module '%s'", hash_hex);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct claim_arg {
    const char *owner;
    const char *hash;
    int64_t now_ms;
    bool freed;
};

static sr_status
w_module_touch(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct claim_arg *a = arg;
    return touch(c, a->owner, a->hash, a->now_ms, err);
}

sr_status
sr_store__sq_module_touch(sr_store *st, const char *owner, const char *hash_hex, int64_t now_ms,
                          sr_err *err)
{
    struct claim_arg a = {owner, hash_hex, now_ms, false};
    return sr_store__sq_write((struct sq_store *)st, w_module_touch, &a, err);
}

sr_status
sr_store__sq_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    struct sr_module_usage u = {0};
    sr_status rc = usage_of(c, owner, &u, err);
    sr_store__sq_reader_put(s, c);
    if (rc == SR_OK)
        *out = u;
    return rc;
}

/* --- delete and expiry --- */

/* Drops one claim and, when it was the last, the module. SR_ENOTFOUND when
 * there was no such claim. */
static sr_status
drop_claim(struct sq_conn *c, const char *owner, const char *hash, bool *freed, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_DISOWN, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, hash);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "drop the claim on module", hash);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && sqlite3_changes(c->db) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash);
    if (rc != SR_OK)
        return rc;
    rc = sr_store__sq_stmt(c, SQ_MODULE_FREE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    b = sr_store__sq_bind_text(stmt, 1, hash);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "delete module", hash);
    *freed = rc == SR_OK && sqlite3_changes(c->db) > 0;
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
w_module_delete(struct sq_conn *c, void *arg, sr_err *err)
{
    struct claim_arg *a = arg;
    return drop_claim(c, a->owner, a->hash, &a->freed, err);
}

sr_status
sr_store__sq_module_delete(sr_store *st, const char *owner, const char *hash_hex, bool *freed,
                           sr_err *err)
{
    struct claim_arg a = {owner, hash_hex, 0, false};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_module_delete, &a, err);
    if (rc == SR_OK && freed)
        *freed = a.freed;
    return rc;
}

struct stale_claim {
    char *owner;
    char hash[65];
};

struct expire_arg {
    int64_t before_ms;
    size_t max;
    size_t claims;
    size_t freed;
};

/* The stale claims, oldest use first, at most a->max (owned array). */
static sr_status
stale_claims(struct sq_conn *c, const struct expire_arg *a, struct stale_claim **out, size_t *out_n,
             sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    struct stale_claim *v = calloc(a->max, sizeof(*v));
    size_t n = 0;
    if (!v)
        return sr_err_set(err, SR_ENOMEM, "out of memory expiring %zu module claims", a->max);
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULES_STALE, &stmt, err);
    int src = SQLITE_OK;
    if (rc == SR_OK) {
        int b = sqlite3_bind_int64(stmt, 1, a->before_ms);
        b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)a->max);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err) : SR_OK;
    }
    while (rc == SR_OK && n < a->max && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(stmt, 1);
        (void)snprintf(v[n].hash, sizeof(v[n].hash), "%s", h ? h : "");
        rc = sr_store__sq_col_dup(stmt, 0, &v[n].owner, err);
        n += rc == SR_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE && src != SQLITE_ROW)
        rc = sr_store__sq_fail(c->db, src, err, "cannot list unused module claims");
    sr_store__sq_done(stmt);
    *out = v;
    *out_n = n;
    return rc;
}

static sr_status
w_modules_expire(struct sq_conn *c, void *arg, sr_err *err)
{
    struct expire_arg *a = arg;
    struct stale_claim *v = NULL;
    size_t n = 0;
    sr_status rc = stale_claims(c, a, &v, &n, err);
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        bool freed = false;
        rc = drop_claim(c, v[i].owner ? v[i].owner : "", v[i].hash, &freed, err);
        a->claims += rc == SR_OK;
        a->freed += rc == SR_OK && freed;
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].owner);
    free(v);
    return rc;
}

sr_status
sr_store__sq_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max, size_t *claims,
                            size_t *freed, sr_err *err)
{
    struct expire_arg a = {unused_before_ms, max, 0, 0};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_modules_expire, &a, err);
    *claims = rc == SR_OK ? a.claims : 0;
    *freed = rc == SR_OK ? a.freed : 0;
    return rc;
}

/* --- listing --- */

static sr_status
read_meta(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    (void)err;
    struct sr_module_meta *m = row;
    memset(m, 0, sizeof(*m));
    const char *h = (const char *)sqlite3_column_text(stmt, 0);
    (void)snprintf(m->hash, sizeof(m->hash), "%s", h ? h : "");
    m->size = (uint64_t)sqlite3_column_int64(stmt, 1);
    m->stored = (uint64_t)sqlite3_column_int64(stmt, 2);
    m->created_at_ms = sqlite3_column_int64(stmt, 3);
    m->last_used_at_ms = sqlite3_column_int64(stmt, 4);
    return SR_OK;
}

static void
fini_meta(void *row)
{
    (void)row;
}

/* The claim's created_at, for the page after it. */
static sr_status
cursor_of(struct sq_conn *c, const char *owner, const char *hash, int64_t *created, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_MODULE_CURSOR, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, hash);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW)
        *created = sqlite3_column_int64(stmt, 0);
    else if (src == SQLITE_DONE)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash);
    else
        rc = sr_store__sq_fail(c->db, src, err, "cannot load module '%s'", hash);
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_module_list(sr_store *st, const char *owner, size_t limit, const char *before_hash,
                         struct sr_module_meta **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    int64_t created = 0;
    sr_status rc = before_hash ? cursor_of(c, owner, before_hash, &created, err) : SR_OK;
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, before_hash ? SQ_MODULE_LIST_AFTER : SQ_MODULE_LIST_FIRST, &stmt,
                               err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit);
        if (before_hash) {
            b = b ? b : sqlite3_bind_int64(stmt, 3, created);
            b = b ? b : sr_store__sq_bind_text(stmt, 4, before_hash);
        }
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(**rows), read_meta, NULL, fini_meta, "modules",
                                      (void **)rows, n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}
