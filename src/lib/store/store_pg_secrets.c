/* SPDX-License-Identifier: MIT
 *
 * store_pg_secrets.c - the PostgreSQL backend's secrets (ciphertext only,
 * versions compare-and-set in the UPDATE itself) and their audit, as in
 * store_sqlite_secrets.c.
 *
 * Across daemons: a new secret is counted against the owner's cap under the
 * owner's advisory lock ("secrets-of:<owner>"); a denied-attempt summary
 * counts its window under the lock of (owner, user) ("audit:<owner>:<user>"),
 * so the caps hold however many daemons write at once. A version CAS needs
 * no lock: the UPDATE matches only the expected version.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

struct put_arg {
    const char *owner;
    const char *name;
    uint64_t expected;
    const uint8_t *blob;
    size_t len;
    int64_t now_ms;
};

static sr_status
check_secret_count(struct pg_store *s, struct pg_conn *c, const char *owner, sr_err *err)
{
    char lock[SR_ERR_MSG_MAX];
    (void)snprintf(lock, sizeof(lock), "secrets-of:%s", owner);
    sr_status rc = sr_store__pg_lock(s, c, lock, err);
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_SECRET_COUNT, &a, &res, "cannot count the secrets", err);
    int64_t n = rc == SR_OK ? sr_store__pg_col_int(res, 0, 0) : 0;
    PQclear(res);
    if (rc == SR_OK && n >= SR_MAX_SECRETS_PER_OWNER)
        rc = sr_err_set(err, SR_ELIMIT,
                        "secret quota reached: '%s' has %lld secrets, at most %d; delete one "
                        "with DELETE /secrets/{name}",
                        owner, (long long)n, SR_MAX_SECRETS_PER_OWNER);
    return rc;
}

static sr_status
tx_secret_put(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct put_arg *p = arg;
    sr_status rc = p->expected ? SR_OK : check_secret_count(s, c, p->owner, err);
    if (rc != SR_OK)
        return rc;
    struct pg_args a = {0};
    sr_store__pg_text(&a, p->owner);
    sr_store__pg_text(&a, p->name);
    sr_store__pg_int(&a, (int64_t)(p->expected + 1));
    sr_store__pg_blob(&a, p->blob, p->len);
    sr_store__pg_int(&a, p->now_ms);
    if (p->expected)
        sr_store__pg_int(&a, (int64_t)p->expected);
    PGresult *res = NULL;
    rc = sr_store__pg_run(s, c, p->expected ? PG_SECRET_UPDATE : PG_SECRET_INSERT, &a, &res,
                          "cannot store a secret", err);
    if (rc == SR_OK && p->expected && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "secret '%s' changed while it was being written (expected version %llu)",
                        p->name, (unsigned long long)p->expected);
    if (rc == SR_ECONFLICT && !p->expected)
        rc = sr_err_set(err, SR_ECONFLICT, "secret '%s' was created by another write", p->name);
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_secret_put(sr_store *st, const char *owner, const char *name,
                        uint64_t expected_version, const uint8_t *blob, size_t len, int64_t now_ms,
                        sr_err *err)
{
    struct put_arg a = {owner, name, expected_version, blob, len, now_ms};
    return sr_store__pg_tx((struct pg_store *)st, tx_secret_put, &a, err);
}

sr_status
sr_store__pg_secret_get(sr_store *st, const char *owner, const char *name,
                        struct sr_secret_stored *out, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, name);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_SECRET_GET, &a, &res,
                                     "cannot load a secret", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "secret '%s' not found", name);
    if (rc == SR_OK) {
        memset(out, 0, sizeof(*out));
        rc = sr_store__pg_col_blob(res, 0, 0, &out->blob, &out->blob_len, err);
        out->version = (uint64_t)sr_store__pg_col_int(res, 0, 1);
        if (rc == SR_OK)
            rc = sr_store__pg_col_open(st->seal_key, res, 0, 2, SR_SEAL_POLICY, owner, name,
                                       &out->policy_json, NULL, err);
        if (rc != SR_OK)
            sr_secret_stored_fini(out);
    }
    PQclear(res);
    return rc;
}

static sr_status
change(sr_store *st, const char *owner, const char *name, const uint8_t *policy, size_t plen,
       int64_t now_ms, bool is_delete, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, name);
    if (!is_delete) {
        sr_store__pg_blob(&a, policy, plen);
        sr_store__pg_int(&a, now_ms);
    }
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, is_delete ? PG_SECRET_DELETE : PG_SECRET_POLICY,
                          &a, &res, "cannot change a secret", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "secret '%s' not found", name);
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_secret_policy(sr_store *st, const char *owner, const char *name,
                           const char *policy_json, int64_t now_ms, sr_err *err)
{
    uint8_t *sealed = NULL;
    size_t len = 0;
    sr_status rc = policy_json
                       ? sr_store__seal(st->seal_key, SR_SEAL_POLICY, owner, name, policy_json,
                                        strlen(policy_json), &sealed, &len, err)
                       : SR_OK;
    if (rc == SR_OK)
        rc = change(st, owner, name, sealed, len, now_ms, false, err);
    free(sealed);
    return rc;
}

sr_status
sr_store__pg_secret_delete(sr_store *st, const char *owner, const char *name, sr_err *err)
{
    return change(st, owner, name, NULL, 0, 0, true, err);
}

sr_status
sr_store__pg_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **rows, size_t *n,
                         sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_SECRET_LIST, &a, &res,
                                     "cannot list secrets", err);
    int k = rc == SR_OK ? PQntuples(res) : 0, i = 0;
    struct sr_secret_meta *v = rc == SR_OK ? calloc((size_t)k + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing %d secrets", k);
    for (; rc == SR_OK && i < k; i++) {
        struct sr_secret_meta *m = &v[i];
        rc = sr_store__pg_col_dup(res, i, 0, &m->name, err);
        if (rc == SR_OK)
            rc = sr_store__pg_col_open(st->seal_key, res, i, 2, SR_SEAL_POLICY, owner, m->name,
                                       &m->policy_json, NULL, err);
        m->version = (uint64_t)sr_store__pg_col_int(res, i, 1);
        m->created_at_ms = sr_store__pg_col_int(res, i, 3);
        m->updated_at_ms = sr_store__pg_col_int(res, i, 4);
    }
    PQclear(res);
    if (rc != SR_OK) {
        for (int j = 0; v && j < i; j++)
            sr_secret_meta_fini(&v[j]);
        free(v);
        return rc;
    }
    *rows = v;
    *n = (size_t)k;
    return SR_OK;
}

/* --- audit --- */

static void
audit_args(struct pg_args *a, const struct sr_audit_row *r)
{
    sr_store__pg_text(a, r->owner);
    sr_store__pg_text(a, r->name);
    sr_store__pg_text(a, r->job_id);
    sr_store__pg_text(a, r->user);
    sr_store__pg_int(a, (int64_t)r->version);
    sr_store__pg_text(a, r->outcome);
    sr_store__pg_text(a, r->reason ? r->reason : "");
    sr_store__pg_int(a, r->time_ms);
    if (r->window_ms)
        sr_store__pg_int(a, r->window_ms);
    sr_store__pg_text(a, r->code_hash); /* NULL: SQL NULL */
    sr_store__pg_text(a, r->entry_point);
}

/* The caps of the summary window (store_sqlite_secrets.c has the same). */
static sr_status
window_check(struct pg_store *s, struct pg_conn *c, const struct sr_audit_row *r, sr_err *err)
{
    char lock[2 * SR_ERR_MSG_MAX];
    (void)snprintf(lock, sizeof(lock), "audit:%s:%s", r->owner, r->user);
    sr_status rc = sr_store__pg_lock(s, c, lock, err);
    struct pg_args a = {0};
    sr_store__pg_text(&a, r->owner);
    sr_store__pg_text(&a, r->user);
    sr_store__pg_int(&a, r->window_ms);
    sr_store__pg_text(&a, r->name);
    sr_store__pg_text(&a, r->outcome);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_AUDIT_WINDOW, &a, &res, "cannot read the audit", err);
    if (rc != SR_OK)
        return rc;
    int64_t rows = sr_store__pg_col_int(res, 0, 0), attempts = sr_store__pg_col_int(res, 0, 1);
    bool has_row = sr_store__pg_col_int(res, 0, 2) != 0;
    PQclear(res);
    char until[32];
    sr_time_rfc3339(r->window_ms + SR_AUDIT_WINDOW_MS, until);
    if (attempts >= SR_AUDIT_MAX_DENIED_ATTEMPTS)
        return sr_err_set(err, SR_ELIMIT,
                          "too many denied attempts by '%s' on secrets of '%s': %lld in this "
                          "hour, at most %d; try again after %s",
                          r->user, r->owner, (long long)attempts, SR_AUDIT_MAX_DENIED_ATTEMPTS,
                          until);
    if (!has_row && rows >= SR_AUDIT_MAX_DENIED_ROWS)
        return sr_err_set(err, SR_ELIMIT,
                          "too many different denied references by '%s' to secrets of '%s': %lld "
                          "in this hour, at most %d; try again after %s",
                          r->user, r->owner, (long long)rows, SR_AUDIT_MAX_DENIED_ROWS, until);
    return SR_OK;
}

static sr_status
tx_audit_add(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct sr_audit_row *r = arg;
    sr_status rc = r->window_ms ? window_check(s, c, r, err) : SR_OK;
    struct pg_args a = {0};
    audit_args(&a, r);
    return rc == SR_OK ? sr_store__pg_run(s, c, r->window_ms ? PG_AUDIT_SUMMARY : PG_AUDIT_ADD, &a,
                                          NULL, "cannot audit a secret", err)
                       : rc;
}

sr_status
sr_store__pg_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err)
{
    if (!row->window_ms) { /* one insert: no transaction needed */
        struct pg_args a = {0};
        audit_args(&a, row);
        return sr_store__pg_run1((struct pg_store *)st, PG_AUDIT_ADD, &a, NULL,
                                 "cannot audit a secret", err);
    }
    return sr_store__pg_tx((struct pg_store *)st, tx_audit_add, (void *)(uintptr_t)row, err);
}

static sr_status
read_audit(const PGresult *res, int i, struct sr_audit_row *r, sr_err *err)
{
    memset(r, 0, sizeof(*r));
    /* column k + 1; NULL where the column is not text */
    char **text[] = {&r->owner, &r->name, &r->job_id, &r->user, NULL, &r->outcome, &r->reason};
    sr_status rc = SR_OK;
    for (int k = 0; rc == SR_OK && k < 7; k++)
        if (text[k])
            rc = sr_store__pg_col_dup(res, i, k + 1, text[k], err);
    r->id = sr_store__pg_col_int(res, i, 0);
    r->version = (uint64_t)sr_store__pg_col_int(res, i, 5);
    r->time_ms = sr_store__pg_col_int(res, i, 8);
    r->last_ms = sr_store__pg_col_int(res, i, 9);
    r->count = (uint64_t)sr_store__pg_col_int(res, i, 10);
    r->window_ms = sr_store__pg_col_int(res, i, 11);
    if (rc == SR_OK)
        rc = sr_store__pg_col_dup(res, i, 12, &r->code_hash, err);
    if (rc == SR_OK)
        rc = sr_store__pg_col_dup(res, i, 13, &r->entry_point, err);
    if (rc != SR_OK)
        sr_audit_row_fini(r);
    return rc;
}

sr_status
sr_store__pg_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                        int64_t before_id, struct sr_audit_row **rows, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, name);
    sr_store__pg_int(&a, (int64_t)limit);
    sr_store__pg_int(&a, before_id > 0 ? before_id : INT64_MAX);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_AUDIT_LIST, &a, &res,
                                     "cannot read the audit", err);
    int k = rc == SR_OK ? PQntuples(res) : 0, i = 0;
    struct sr_audit_row *v = rc == SR_OK ? calloc((size_t)k + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory reading %d audit rows", k);
    for (; rc == SR_OK && i < k; i++)
        rc = read_audit(res, i, &v[i], err);
    PQclear(res);
    if (rc != SR_OK) {
        for (int j = 0; v && j < i; j++)
            sr_audit_row_fini(&v[j]);
        free(v);
        return rc;
    }
    *rows = v;
    *n = (size_t)k;
    return SR_OK;
}

sr_status
sr_store__pg_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_int(&a, before_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_AUDIT_PURGE, &a, &res,
                                     "cannot purge old audit rows", err);
    *n = rc == SR_OK ? (size_t)sr_store__pg_changes(res) : 0;
    PQclear(res);
    return rc;
}
