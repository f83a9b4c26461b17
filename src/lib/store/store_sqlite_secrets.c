/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_secrets.c - the SQLite backend's secrets and audit. Values
 * are stored only as the at-rest blobs the secret module makes; policies
 * are sealed here (store_seal.c, AAD bound to owner and name); every
 * statement filters on owner. A value is replaced by compare-and-set on its
 * version (the version is part of the blob's AAD).
 *
 * The audit keeps individual rows, and summary rows for denied attempts by
 * other users (one per secret, user, outcome and window, with a count),
 * capped per (owner, user, window) so no one can grow another owner's audit
 * or spend the store's writes on it without bound (sr_store.h).
 */
#include "store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

struct secret_put_arg {
    const char *owner;
    const char *name;
    uint64_t expected;
    const uint8_t *blob;
    size_t len;
    int64_t now_ms;
};

/* A new secret must fit the owner's cap (checked in the write's transaction). */
static sr_status
check_secret_count(struct sq_conn *c, const char *owner, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_SECRET_COUNT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    int src = b ? b : sqlite3_step(stmt);
    int64_t n = src == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (src != SQLITE_ROW)
        rc = sr_store__sq_fail(c->db, src, err, "cannot count the secrets of '%s'", owner);
    else if (n >= SR_MAX_SECRETS_PER_OWNER)
        rc = sr_err_set(err, SR_ELIMIT,
                        "secret quota reached: '%s' has %lld secrets, at most %d; delete one "
                        "with DELETE /secrets/{name}",
                        owner, (long long)n, SR_MAX_SECRETS_PER_OWNER);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
w_secret_put(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct secret_put_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = a->expected ? SR_OK : check_secret_count(c, a->owner, err);
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, a->expected ? SQ_SECRET_UPDATE : SQ_SECRET_INSERT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, a->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->name);
    b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)(a->expected + 1));
    b = b ? b : sqlite3_bind_blob64(stmt, 4, a->blob, a->len, SQLITE_STATIC);
    b = b ? b : sqlite3_bind_int64(stmt, 5, a->now_ms);
    if (a->expected)
        b = b ? b : sqlite3_bind_int64(stmt, 6, (sqlite3_int64)a->expected);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "store secret", a->name);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && a->expected && sqlite3_changes(c->db) == 0)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "secret '%s' changed while it was being written (expected version %llu)",
                        a->name, (unsigned long long)a->expected);
    if (rc == SR_ECONFLICT && !a->expected)
        rc = sr_err_set(err, SR_ECONFLICT, "secret '%s' was created by another write", a->name);
    return rc;
}

sr_status
sr_store__sq_secret_put(sr_store *st, const char *owner, const char *name,
                        uint64_t expected_version, const uint8_t *blob, size_t len, int64_t now_ms,
                        sr_err *err)
{
    struct secret_put_arg a = {owner, name, expected_version, blob, len, now_ms};
    return sr_store__sq_write((struct sq_store *)st, w_secret_put, &a, err);
}

sr_status
sr_store__sq_secret_get(sr_store *st, const char *owner, const char *name,
                        struct sr_secret_stored *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_SECRET_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, name);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW) {
            size_t len = (size_t)sqlite3_column_bytes(stmt, 0);
            memset(out, 0, sizeof(*out));
            out->blob = malloc(len ? len : 1);
            if (!out->blob)
                rc = sr_err_set(err, SR_ENOMEM, "out of memory loading secret '%s'", name);
            else {
                memcpy(out->blob, sqlite3_column_blob(stmt, 0), len);
                out->blob_len = len;
                out->version = (uint64_t)sqlite3_column_int64(stmt, 1);
                rc = sr_store__sq_col_open(st->seal_key, stmt, 2, SR_SEAL_POLICY, owner, name,
                                           &out->policy_json, NULL, err);
            }
            if (rc != SR_OK)
                sr_secret_stored_fini(out);
        } else if (src == SQLITE_DONE) {
            rc = sr_err_set(err, SR_ENOTFOUND, "secret '%s' not found", name);
        } else {
            rc = sr_store__sq_fail(c->db, src, err, "cannot load secret '%s'", name);
        }
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct secret_name_arg {
    const char *owner;
    const char *name;
    const uint8_t *policy; /* sealed; NULL resets to the default */
    size_t policy_len;
    int64_t now_ms;
    bool is_delete;
};

static sr_status
w_secret_change(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct secret_name_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc =
        sr_store__sq_stmt(c, a->is_delete ? SQ_SECRET_DELETE : SQ_SECRET_POLICY, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, a->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->name);
    if (!a->is_delete) {
        b = b ? b : sr_store__sq_bind_blob(stmt, 3, a->policy, a->policy_len);
        b = b ? b : sqlite3_bind_int64(stmt, 4, a->now_ms);
    }
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "change secret", a->name);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && sqlite3_changes(c->db) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "secret '%s' not found", a->name);
    return rc;
}

sr_status
sr_store__sq_secret_policy(sr_store *st, const char *owner, const char *name,
                           const char *policy_json, int64_t now_ms, sr_err *err)
{
    struct secret_name_arg a = {owner, name, NULL, 0, now_ms, false};
    uint8_t *sealed = NULL;
    sr_status rc = policy_json
                       ? sr_store__seal(st->seal_key, SR_SEAL_POLICY, owner, name, policy_json,
                                        strlen(policy_json), &sealed, &a.policy_len, err)
                       : SR_OK;
    a.policy = sealed;
    if (rc == SR_OK)
        rc = sr_store__sq_write((struct sq_store *)st, w_secret_change, &a, err);
    free(sealed);
    return rc;
}

sr_status
sr_store__sq_secret_delete(sr_store *st, const char *owner, const char *name, sr_err *err)
{
    struct secret_name_arg a = {owner, name, NULL, 0, 0, true};
    return sr_store__sq_write((struct sq_store *)st, w_secret_change, &a, err);
}

/* Listing context: the key and the owner (the AAD of each policy). */
struct meta_ctx {
    const uint8_t *key;
    const char *owner;
};

static sr_status
read_meta(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    const struct meta_ctx *mc = ctx;
    struct sr_secret_meta *m = row;
    memset(m, 0, sizeof(*m));
    sr_status rc = sr_store__sq_col_dup(stmt, 0, &m->name, err);
    if (rc == SR_OK && !m->name)
        rc = sr_err_set(err, SR_EINTERNAL, "stored secret of '%s' has no name", mc->owner);
    if (rc == SR_OK)
        rc = sr_store__sq_col_open(mc->key, stmt, 2, SR_SEAL_POLICY, mc->owner, m->name,
                                   &m->policy_json, NULL, err);
    m->version = (uint64_t)sqlite3_column_int64(stmt, 1);
    m->created_at_ms = sqlite3_column_int64(stmt, 3);
    m->updated_at_ms = sqlite3_column_int64(stmt, 4);
    if (rc != SR_OK)
        sr_secret_meta_fini(m);
    return rc;
}

static void
fini_meta(void *row)
{
    sr_secret_meta_fini(row);
}

sr_status
sr_store__sq_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **out,
                         size_t *out_n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    struct meta_ctx mc = {st->seal_key, owner};
    sr_status rc = sr_store__sq_stmt(c, SQ_SECRET_LIST, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(**out), read_meta, &mc, fini_meta, "secrets",
                                      (void **)out, out_n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* --- audit --- */

static int
bind_audit(sqlite3_stmt *stmt, const struct sr_audit_row *r)
{
    int b = sr_store__sq_bind_text(stmt, 1, r->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, r->name);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, r->job_id);
    b = b ? b : sr_store__sq_bind_text(stmt, 4, r->user);
    b = b ? b : sqlite3_bind_int64(stmt, 5, (sqlite3_int64)r->version);
    b = b ? b : sr_store__sq_bind_text(stmt, 6, r->outcome);
    b = b ? b : sr_store__sq_bind_text(stmt, 7, r->reason ? r->reason : "");
    b = b ? b : sqlite3_bind_int64(stmt, 8, r->time_ms);
    if (r->window_ms)
        b = b ? b : sqlite3_bind_int64(stmt, 9, r->window_ms);
    b = b ? b : sr_store__sq_bind_text(stmt, 10, r->code_hash);
    b = b ? b : sr_store__sq_bind_text(stmt, 11, r->entry_point);
    return b;
}

/* What the summary window of (owner, user) holds so far. */
struct window_use {
    int64_t rows;
    int64_t attempts;
    bool has_row; /* the row this attempt would be counted in exists */
};

static sr_status
window_use(struct sq_conn *c, const struct sr_audit_row *r, struct window_use *u, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_AUDIT_WINDOW, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, r->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, r->user);
    b = b ? b : sqlite3_bind_int64(stmt, 3, r->window_ms);
    b = b ? b : sr_store__sq_bind_text(stmt, 4, r->name);
    b = b ? b : sr_store__sq_bind_text(stmt, 5, r->outcome);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        u->rows = sqlite3_column_int64(stmt, 0);
        u->attempts = sqlite3_column_int64(stmt, 1);
        u->has_row = sqlite3_column_int64(stmt, 2) != 0;
    } else {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the audit of '%s'", r->owner);
    }
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
window_full(const struct sr_audit_row *r, const struct window_use *u, sr_err *err)
{
    char until[32];
    sr_time_rfc3339(r->window_ms + SR_AUDIT_WINDOW_MS, until);
    if (u->attempts >= SR_AUDIT_MAX_DENIED_ATTEMPTS)
        return sr_err_set(err, SR_ELIMIT,
                          "too many denied attempts by '%s' on secrets of '%s': %lld in this "
                          "hour, at most %d; try again after %s",
                          r->user, r->owner, (long long)u->attempts, SR_AUDIT_MAX_DENIED_ATTEMPTS,
                          until);
    if (!u->has_row && u->rows >= SR_AUDIT_MAX_DENIED_ROWS)
        return sr_err_set(err, SR_ELIMIT,
                          "too many different denied references by '%s' to secrets of '%s': %lld "
                          "in this hour, at most %d; try again after %s",
                          r->user, r->owner, (long long)u->rows, SR_AUDIT_MAX_DENIED_ROWS, until);
    return SR_OK;
}

static sr_status
w_audit_add(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct sr_audit_row *r = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = SR_OK;
    if (r->window_ms) {
        struct window_use u = {0};
        rc = window_use(c, r, &u, err);
        if (rc == SR_OK)
            rc = window_full(r, &u, err);
    }
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, r->window_ms ? SQ_AUDIT_SUMMARY : SQ_AUDIT_ADD, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_audit(stmt, r);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "audit secret", r->name);
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err)
{
    return sr_store__sq_write((struct sq_store *)st, w_audit_add, (void *)(uintptr_t)row, err);
}

static sr_status
read_audit(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    struct sr_audit_row *r = row;
    memset(r, 0, sizeof(*r));
    /* column i + 1 of SQ_AUDIT_LIST; NULL where the column is not text */
    char **text[] = {&r->owner, &r->name, &r->job_id, &r->user, NULL, &r->outcome, &r->reason};
    sr_status rc = SR_OK;
    for (int i = 0; rc == SR_OK && i < 7; i++)
        if (text[i])
            rc = sr_store__sq_col_dup(stmt, i + 1, text[i], err);
    r->id = sqlite3_column_int64(stmt, 0);
    r->version = (uint64_t)sqlite3_column_int64(stmt, 5);
    r->time_ms = sqlite3_column_int64(stmt, 8);
    r->last_ms = sqlite3_column_int64(stmt, 9);
    r->count = (uint64_t)sqlite3_column_int64(stmt, 10);
    r->window_ms = sqlite3_column_int64(stmt, 11); /* NULL reads as 0 */
    if (rc == SR_OK)
        rc = sr_store__sq_col_dup(stmt, 12, &r->code_hash, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_dup(stmt, 13, &r->entry_point, err);
    if (rc != SR_OK)
        sr_audit_row_fini(r);
    return rc;
}

static void
fini_audit(void *row)
{
    sr_audit_row_fini(row);
}

sr_status
sr_store__sq_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                        int64_t before_id, struct sr_audit_row **out, size_t *out_n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_AUDIT_LIST, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, name);
        b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit);
        b = b ? b : sqlite3_bind_int64(stmt, 4, before_id > 0 ? before_id : INT64_MAX);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(**out), read_audit, NULL, fini_audit,
                                      "the audit", (void **)out, out_n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct audit_purge_arg {
    int64_t before_ms;
    size_t max;
    size_t n;
};

static sr_status
w_audit_purge(struct sq_conn *c, void *arg, sr_err *err)
{
    struct audit_purge_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_AUDIT_PURGE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_int64(stmt, 1, a->before_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)a->max);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "purge", "old audit rows");
    a->n = rc == SR_OK ? (size_t)sqlite3_changes64(c->db) : 0;
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n, sr_err *err)
{
    struct audit_purge_arg a = {before_ms, max, 0};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_audit_purge, &a, err);
    *n = a.n;
    return rc;
}
