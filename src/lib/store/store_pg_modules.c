/* SPDX-License-Identifier: MIT
 *
 * store_pg_modules.c - the PostgreSQL backend's WebAssembly modules: one
 * row per module (sealed, bound to its hash) and one claim per (owner,
 * module), as in store_sqlite_modules.c.
 *
 * Several daemons may upload, delete and expire at once. An upload takes
 * the owner's advisory lock ("modules-of:<owner>": the quota check and the
 * insert cannot interleave with another upload of that owner), then the
 * module's ("module:<hash>"); deletes and expiry take only the module's, so
 * a module's last claim and its bytes go together and an upload of the same
 * module waits for them. Locks are always taken owner first: no cycle.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sr_status
lock_module(struct pg_store *s, struct pg_conn *c, const char *hash, sr_err *err)
{
    char name[80];
    (void)snprintf(name, sizeof(name), "module:%s", hash);
    return sr_store__pg_lock(s, c, name, err);
}

static sr_status
lock_owner(struct pg_store *s, struct pg_conn *c, const char *owner, sr_err *err)
{
    char name[SR_ERR_MSG_MAX];
    (void)snprintf(name, sizeof(name), "modules-of:%s", owner);
    return sr_store__pg_lock(s, c, name, err);
}

static sr_status
usage_of(struct pg_store *s, struct pg_conn *c, const char *owner, struct sr_module_usage *u,
         sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_MODULE_USAGE, &a, &res, "cannot sum the modules", err);
    if (rc == SR_OK) {
        u->count = (uint64_t)sr_store__pg_col_int(res, 0, 0);
        u->bytes = (uint64_t)sr_store__pg_col_int(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

static sr_status
touch(struct pg_store *s, struct pg_conn *c, const char *owner, const char *hash, int64_t now_ms,
      sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, hash);
    sr_store__pg_int(&a, now_ms);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_MODULE_TOUCH, &a, &res, "cannot record the use of a module", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash);
    PQclear(res);
    return rc;
}

/* --- put --- */

struct put_arg {
    const struct sr_module_put *p;
    uint8_t *bytes; /* owned, sealed */
    size_t bytes_len;
    uint8_t *info; /* owned, sealed */
    size_t info_len;
    uint64_t stored;
    bool created;
    struct sr_module_usage usage;
};

static sr_status
check_quota(const struct put_arg *a, sr_err *err)
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
insert_module(struct pg_store *s, struct pg_conn *c, const struct put_arg *a, sr_err *err)
{
    const struct sr_module_put *p = a->p;
    struct pg_args m = {0};
    sr_store__pg_text(&m, p->hash_hex);
    sr_store__pg_blob(&m, a->bytes, a->bytes_len);
    sr_store__pg_int(&m, (int64_t)p->len);
    sr_store__pg_blob(&m, a->info, a->info_len);
    sr_store__pg_int(&m, p->now_ms);
    sr_status rc = sr_store__pg_run(s, c, PG_MODULE_PUT, &m, NULL, "cannot store a module", err);
    if (rc != SR_OK)
        return rc;
    struct pg_args o = {0};
    sr_store__pg_text(&o, p->owner);
    sr_store__pg_text(&o, p->hash_hex);
    sr_store__pg_int(&o, p->now_ms);
    sr_store__pg_int(&o, (int64_t)a->stored);
    return sr_store__pg_run(s, c, PG_MODULE_OWN, &o, NULL, "cannot record the owner of a module",
                            err);
}

static sr_status
tx_module_put(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct put_arg *a = arg;
    const struct sr_module_put *p = a->p;
    sr_status rc = lock_owner(s, c, p->owner, err);
    if (rc == SR_OK)
        rc = lock_module(s, c, p->hash_hex, err);
    struct pg_args q = {0};
    sr_store__pg_text(&q, p->owner);
    sr_store__pg_text(&q, p->hash_hex);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_MODULE_CLAIM, &q, &res, "cannot read a claim", err);
    bool has = rc == SR_OK && PQntuples(res) > 0;
    PQclear(res);
    if (rc == SR_OK)
        rc = usage_of(s, c, p->owner, &a->usage, err);
    if (rc != SR_OK)
        return rc;
    if (has) /* uploading it again is a use, and adds nothing */
        return touch(s, c, p->owner, p->hash_hex, p->now_ms, err);
    rc = check_quota(a, err);
    if (rc == SR_OK)
        rc = insert_module(s, c, a, err);
    a->created = rc == SR_OK;
    return rc;
}

sr_status
sr_store__pg_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                        struct sr_module_usage *usage, sr_err *err)
{
    struct put_arg a = {.p = p};
    size_t info_len = strlen(p->info_json);
    a.stored = (uint64_t)p->len + info_len;
    sr_status rc = sr_store__seal(st->seal_key, SR_SEAL_MODULE_BYTES, "", p->hash_hex, p->bytes,
                                  p->len, &a.bytes, &a.bytes_len, err);
    if (rc == SR_OK)
        rc = sr_store__seal(st->seal_key, SR_SEAL_MODULE_INFO, "", p->hash_hex, p->info_json,
                            info_len, &a.info, &a.info_len, err);
    if (rc == SR_OK)
        rc = sr_store__pg_tx((struct pg_store *)st, tx_module_put, &a, err);
    free(a.bytes);
    free(a.info);
    if ((rc == SR_OK || rc == SR_ELIMIT) && usage)
        *usage = a.usage;
    if (rc == SR_OK && created)
        *created = a.created;
    return rc;
}

/* --- get, touch, usage --- */

sr_status
sr_store__pg_module_get(sr_store *st, const char *owner, const char *hash_hex,
                        struct sr_module_row *out, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, hash_hex);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_MODULE_GET, &a, &res,
                                     "cannot load a module", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash_hex);
    if (rc == SR_OK) {
        memset(out, 0, sizeof(*out));
        char *bytes = NULL;
        rc = sr_store__pg_col_open(st->seal_key, res, 0, 0, SR_SEAL_MODULE_BYTES, "", hash_hex,
                                   &bytes, &out->len, err);
        if (rc == SR_OK && !bytes)
            rc = sr_err_set(err, SR_EINTERNAL, "stored module '%s' has no bytes", hash_hex);
        out->bytes = (uint8_t *)bytes;
        if (rc == SR_OK)
            rc = sr_store__pg_col_open(st->seal_key, res, 0, 1, SR_SEAL_MODULE_INFO, "", hash_hex,
                                       &out->info_json, NULL, err);
        out->created_at_ms = sr_store__pg_col_int(res, 0, 2);
        out->last_used_at_ms = sr_store__pg_col_int(res, 0, 3);
        if (rc != SR_OK)
            sr_module_row_fini(out);
    }
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_module_touch(sr_store *st, const char *owner, const char *hash_hex, int64_t now_ms,
                          sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_conn *c = NULL;
    sr_status rc = sr_store__pg_get(s, &c, err);
    if (rc == SR_OK) {
        rc = touch(s, c, owner, hash_hex, now_ms, err);
        sr_store__pg_put(s, c);
    }
    return rc;
}

sr_status
sr_store__pg_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out, sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_conn *c = NULL;
    struct sr_module_usage u = {0};
    sr_status rc = sr_store__pg_get(s, &c, err);
    if (rc == SR_OK) {
        rc = usage_of(s, c, owner, &u, err);
        sr_store__pg_put(s, c);
    }
    if (rc == SR_OK)
        *out = u;
    return rc;
}

/* --- delete and expiry --- */

/* Drops one claim and, when it was the last, the module (under its lock). */
static sr_status
drop_claim(struct pg_store *s, struct pg_conn *c, const char *owner, const char *hash, bool *freed,
           sr_err *err)
{
    sr_status rc = lock_module(s, c, hash, err);
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, hash);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_MODULE_DISOWN, &a, &res, "cannot drop a claim", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", hash);
    PQclear(res);
    res = NULL;
    if (rc != SR_OK)
        return rc;
    struct pg_args f = {0};
    sr_store__pg_text(&f, hash);
    rc = sr_store__pg_run(s, c, PG_MODULE_FREE, &f, &res, "cannot delete a module", err);
    *freed = rc == SR_OK && sr_store__pg_changes(res) > 0;
    PQclear(res);
    return rc;
}

struct claim_arg {
    const char *owner;
    const char *hash;
    bool freed;
};

static sr_status
tx_module_delete(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct claim_arg *a = arg;
    return drop_claim(s, c, a->owner, a->hash, &a->freed, err);
}

sr_status
sr_store__pg_module_delete(sr_store *st, const char *owner, const char *hash_hex, bool *freed,
                           sr_err *err)
{
    struct claim_arg a = {owner, hash_hex, false};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_module_delete, &a, err);
    if (rc == SR_OK && freed)
        *freed = a.freed;
    return rc;
}

struct expire_arg {
    int64_t before_ms;
    size_t max;
    size_t claims;
    size_t freed;
};

static sr_status
tx_modules_expire(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct expire_arg *a = arg;
    bool mine = false; /* one daemon expires at a time (the purge's lock) */
    sr_status lk = sr_store__pg_try_lock(s, c, "sealrun.purge.modules", &mine, err);
    if (lk != SR_OK || !mine)
        return lk;
    struct pg_args q = {0};
    sr_store__pg_int(&q, a->before_ms);
    sr_store__pg_int(&q, (int64_t)a->max);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_MODULES_STALE, &q, &res, "cannot list unused claims", err);
    int n = rc == SR_OK ? PQntuples(res) : 0;
    for (int i = 0; rc == SR_OK && i < n; i++) {
        bool freed = false;
        rc = drop_claim(s, c, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), &freed, err);
        if (rc == SR_ENOTFOUND) { /* dropped by its owner meanwhile */
            rc = SR_OK;
            continue;
        }
        a->claims += rc == SR_OK;
        a->freed += rc == SR_OK && freed;
    }
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max, size_t *claims,
                            size_t *freed, sr_err *err)
{
    struct expire_arg a = {unused_before_ms, max, 0, 0};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_modules_expire, &a, err);
    *claims = rc == SR_OK ? a.claims : 0;
    *freed = rc == SR_OK ? a.freed : 0;
    return rc;
}

/* --- listing --- */

struct list_arg {
    const char *owner;
    size_t limit;
    const char *before;
    struct sr_module_meta **rows;
    size_t *n;
};

static sr_status
tx_module_list(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct list_arg *a = arg;
    int64_t created = 0;
    PGresult *res = NULL;
    sr_status rc = SR_OK;
    if (a->before) {
        struct pg_args q = {0};
        sr_store__pg_text(&q, a->owner);
        sr_store__pg_text(&q, a->before);
        rc = sr_store__pg_run(s, c, PG_MODULE_CURSOR, &q, &res, "cannot load a module", err);
        if (rc == SR_OK && PQntuples(res) == 0)
            rc = sr_err_set(err, SR_ENOTFOUND, "module '%s' not found", a->before);
        if (rc == SR_OK)
            created = sr_store__pg_col_int(res, 0, 0);
        PQclear(res);
        res = NULL;
        if (rc != SR_OK)
            return rc;
    }
    struct pg_args l = {0};
    sr_store__pg_text(&l, a->owner);
    sr_store__pg_int(&l, (int64_t)a->limit);
    if (a->before) {
        sr_store__pg_int(&l, created);
        sr_store__pg_text(&l, a->before);
    }
    rc = sr_store__pg_run(s, c, a->before ? PG_MODULE_LIST_AFTER : PG_MODULE_LIST_FIRST, &l, &res,
                          "cannot list modules", err);
    int n = rc == SR_OK ? PQntuples(res) : 0;
    struct sr_module_meta *v = rc == SR_OK ? calloc((size_t)n + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing %d modules", n);
    for (int i = 0; rc == SR_OK && i < n; i++) {
        (void)snprintf(v[i].hash, sizeof(v[i].hash), "%s", PQgetvalue(res, i, 0));
        v[i].size = (uint64_t)sr_store__pg_col_int(res, i, 1);
        v[i].stored = (uint64_t)sr_store__pg_col_int(res, i, 2);
        v[i].created_at_ms = sr_store__pg_col_int(res, i, 3);
        v[i].last_used_at_ms = sr_store__pg_col_int(res, i, 4);
    }
    PQclear(res);
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    *a->rows = v;
    *a->n = (size_t)n;
    return SR_OK;
}

sr_status
sr_store__pg_module_list(sr_store *st, const char *owner, size_t limit, const char *before_hash,
                         struct sr_module_meta **rows, size_t *n, sr_err *err)
{
    struct list_arg a = {owner, limit, before_hash, rows, n};
    return sr_store__pg_snapshot((struct pg_store *)st, tx_module_list, &a, err);
}
