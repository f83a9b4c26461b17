/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_seal.c - seals, in place, the rows a sealrun from before
 * at-rest sealing wrote in clear: jobs' request_json and result_json,
 * modules' bytes and info_json, secrets' policy_json.
 *
 * Migration 0005 sets store_meta 'seal_legacy'. The first open with the
 * master keys then, in one transaction on the writer: re-reads the flag
 * (another process may have done it), seals every clear row (a clear row is
 * one whose column is TEXT; a legacy module is recognised by its clear
 * description), deletes the flag and sets 'compact_due'. Any failure rolls
 * everything back and fails the open with the row's id. Rows are visited
 * one at a time in key order (one index step each), so memory is one row
 * and the work is linear in the table.
 *
 * The old clear values are still in the file's free pages and in the WAL
 * after that commit; VACUUM rewrites the file from live rows only and the
 * TRUNCATE checkpoint empties the WAL. 'compact_due' is deleted once both
 * worked, so a compaction a concurrent reader blocked is retried at the next
 * open with keys.
 */
#include "store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"

struct seal_pass {
    sqlite3 *db;
    const uint8_t *key;
    size_t jobs, modules, policies;
};

static sr_status
exec(sqlite3 *db, const char *sql, sr_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    sr_status st = SR_OK;
    if (rc != SQLITE_OK)
        st = sr_err_set(err, (rc & 0xff) == SQLITE_NOMEM ? SR_ENOMEM : SR_EIO,
                        "sealing legacy rows: '%s': %s", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return st;
}

/* Whether store_meta has 'key'. */
static sr_status
meta_has(sqlite3 *db, const char *key, bool *has, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM store_meta WHERE key = ?1", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    *has = rc == SQLITE_ROW;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sr_store__sq_fail(db, rc, err, "cannot read store_meta '%s'", key);
    return SR_OK;
}

/* Seals column i of the current row when it is clear text; *out NULL (SR_OK)
 * when it is NULL or already sealed (nothing to write). */
static sr_status
seal_col(const struct seal_pass *p, sqlite3_stmt *stmt, int i, const char *field, const char *owner,
         const char *record, uint8_t **out, size_t *out_len, sr_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (sqlite3_column_type(stmt, i) != SQLITE_TEXT)
        return SR_OK;
    const void *text = sqlite3_column_blob(stmt, i); /* the bytes of the text, as stored */
    size_t len = (size_t)sqlite3_column_bytes(stmt, i);
    return sr_store__seal(p->key, field, owner, record, text ? text : "", len, out, out_len, err);
}

/* Runs 'sql' with ?1 = record (text) and ?2 = blob, for one column. */
static sr_status
update_col(const struct seal_pass *p, const char *sql, const char *k1, const char *k2,
           const uint8_t *blob, size_t len, sr_err *err)
{
    if (!blob)
        return SR_OK;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(p->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 1, k1, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && k2)
        rc = sqlite3_bind_text(stmt, 3, k2, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob64(stmt, 2, blob, len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return sr_store__sq_fail(p->db, rc, err, "cannot seal '%s'", k2 ? k2 : k1);
    return SR_OK;
}

/* Steps 'sql' (?1 = the last key seen, "" at first) to its next row. */
static int
next_row(sqlite3 *db, const char *sql, const char *after, const char *after2, sqlite3_stmt **stmt)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(*stmt, 1, after, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && after2)
        rc = sqlite3_bind_text(*stmt, 2, after2, -1, SQLITE_TRANSIENT);
    return rc == SQLITE_OK ? sqlite3_step(*stmt) : rc;
}

static sr_status
seal_job(struct seal_pass *p, sqlite3_stmt *stmt, char last[33], sr_err *err)
{
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    const char *owner = (const char *)sqlite3_column_text(stmt, 1);
    if (!id || !owner || strlen(id) != 32)
        return sr_err_set(err, SR_EINTERNAL, "a stored job has a malformed id or no owner");
    memcpy(last, id, 33);
    uint8_t *req = NULL, *res = NULL;
    size_t req_len = 0, res_len = 0;
    sr_status rc = seal_col(p, stmt, 2, SR_SEAL_JOB_REQUEST, owner, id, &req, &req_len, err);
    if (rc == SR_OK)
        rc = seal_col(p, stmt, 3, SR_SEAL_JOB_RESULT, owner, id, &res, &res_len, err);
    if (rc == SR_OK)
        rc = update_col(p, "UPDATE jobs SET request_json = ?2 WHERE id = ?1", last, NULL, req,
                        req_len, err);
    if (rc == SR_OK)
        rc = update_col(p, "UPDATE jobs SET result_json = ?2 WHERE id = ?1", last, NULL, res,
                        res_len, err);
    free(req);
    free(res);
    p->jobs += rc == SR_OK;
    return rc;
}

static sr_status
seal_jobs(struct seal_pass *p, sr_err *err)
{
    static const char sql[] =
        "SELECT id, owner, request_json, result_json FROM jobs WHERE id > ?1 AND "
        "(typeof(request_json) = 'text' OR typeof(result_json) = 'text') ORDER BY id LIMIT 1";
    char last[33] = "";
    for (;;) {
        sqlite3_stmt *stmt = NULL;
        int src = next_row(p->db, sql, last, NULL, &stmt);
        sr_status rc = SR_OK;
        if (src == SQLITE_ROW)
            rc = seal_job(p, stmt, last, err);
        else if (src != SQLITE_DONE)
            rc = sr_store__sq_fail(p->db, src, err, "cannot read legacy jobs");
        sqlite3_finalize(stmt);
        if (rc != SR_OK)
            return sr_err_wrap(err, "sealing job '%s'", last);
        if (src == SQLITE_DONE)
            return SR_OK;
    }
}

static sr_status
seal_module(struct seal_pass *p, sqlite3_stmt *stmt, char last[65], sr_err *err)
{
    const char *hash = (const char *)sqlite3_column_text(stmt, 0);
    if (!hash || strlen(hash) != 64)
        return sr_err_set(err, SR_EINTERNAL, "a stored module has a malformed hash");
    memcpy(last, hash, 65);
    uint8_t *bytes = NULL, *info = NULL;
    size_t bytes_len = 0, info_len = 0;
    const void *raw = sqlite3_column_blob(stmt, 1);
    size_t raw_len = (size_t)sqlite3_column_bytes(stmt, 1);
    sr_status rc = sr_store__seal(p->key, SR_SEAL_MODULE_BYTES, "", last, raw ? raw : "", raw_len,
                                  &bytes, &bytes_len, err);
    if (rc == SR_OK)
        rc = seal_col(p, stmt, 2, SR_SEAL_MODULE_INFO, "", last, &info, &info_len, err);
    if (rc == SR_OK)
        rc = update_col(p, "UPDATE modules SET bytes = ?2 WHERE hash = ?1", last, NULL, bytes,
                        bytes_len, err);
    if (rc == SR_OK)
        rc = update_col(p, "UPDATE modules SET info_json = ?2 WHERE hash = ?1", last, NULL, info,
                        info_len, err);
    free(bytes);
    free(info);
    p->modules += rc == SR_OK;
    return rc;
}

static sr_status
seal_modules(struct seal_pass *p, sr_err *err)
{
    /* a legacy module's description is clear text; a sealed one's is a blob */
    static const char sql[] = "SELECT hash, bytes, info_json FROM modules WHERE hash > ?1 AND "
                              "typeof(info_json) = 'text' ORDER BY hash LIMIT 1";
    char last[65] = "";
    for (;;) {
        sqlite3_stmt *stmt = NULL;
        int src = next_row(p->db, sql, last, NULL, &stmt);
        sr_status rc = SR_OK;
        if (src == SQLITE_ROW)
            rc = seal_module(p, stmt, last, err);
        else if (src != SQLITE_DONE)
            rc = sr_store__sq_fail(p->db, src, err, "cannot read legacy modules");
        sqlite3_finalize(stmt);
        if (rc != SR_OK)
            return sr_err_wrap(err, "sealing module '%s'", last);
        if (src == SQLITE_DONE)
            return SR_OK;
    }
}

/* The secret names are [A-Za-z0-9_]{1,128}, owners at most 64 bytes. */
struct secret_key {
    char owner[SR_MAX_USER_NAME + 1];
    char name[130];
};

static sr_status
seal_policy(struct seal_pass *p, sqlite3_stmt *stmt, struct secret_key *last, sr_err *err)
{
    const char *owner = (const char *)sqlite3_column_text(stmt, 0);
    const char *name = (const char *)sqlite3_column_text(stmt, 1);
    if (!owner || !name || strlen(owner) >= sizeof(last->owner) ||
        strlen(name) >= sizeof(last->name))
        return sr_err_set(err, SR_EINTERNAL, "a stored secret has a malformed owner or name");
    memcpy(last->owner, owner, strlen(owner) + 1);
    memcpy(last->name, name, strlen(name) + 1);
    uint8_t *pol = NULL;
    size_t pol_len = 0;
    sr_status rc =
        seal_col(p, stmt, 2, SR_SEAL_POLICY, last->owner, last->name, &pol, &pol_len, err);
    if (rc == SR_OK)
        rc = update_col(p, "UPDATE secrets SET policy_json = ?2 WHERE owner = ?1 AND name = ?3",
                        last->owner, last->name, pol, pol_len, err);
    free(pol);
    p->policies += rc == SR_OK;
    return rc;
}

static sr_status
seal_policies(struct seal_pass *p, sr_err *err)
{
    static const char sql[] = "SELECT owner, name, policy_json FROM secrets "
                              "WHERE (owner, name) > (?1, ?2) AND typeof(policy_json) = 'text' "
                              "ORDER BY owner, name LIMIT 1";
    struct secret_key last = {"", ""};
    for (;;) {
        sqlite3_stmt *stmt = NULL;
        int src = next_row(p->db, sql, last.owner, last.name, &stmt);
        sr_status rc = SR_OK;
        if (src == SQLITE_ROW)
            rc = seal_policy(p, stmt, &last, err);
        else if (src != SQLITE_DONE)
            rc = sr_store__sq_fail(p->db, src, err, "cannot read legacy policies");
        sqlite3_finalize(stmt);
        if (rc != SR_OK)
            return sr_err_wrap(err, "sealing the policy of secret '%s' of '%s'", last.name,
                               last.owner);
        if (src == SQLITE_DONE)
            return SR_OK;
    }
}

/* The transaction: re-check the flag, seal, swap the flags. */
static sr_status
seal_all(struct seal_pass *p, sr_err *err)
{
    sr_status rc = exec(p->db, "BEGIN IMMEDIATE", err);
    if (rc != SR_OK)
        return rc;
    bool due = false;
    rc = meta_has(p->db, "seal_legacy", &due, err);
    if (rc == SR_OK && due) {
        rc = seal_jobs(p, err);
        if (rc == SR_OK)
            rc = seal_modules(p, err);
        if (rc == SR_OK)
            rc = seal_policies(p, err);
        if (rc == SR_OK)
            rc = exec(p->db,
                      "DELETE FROM store_meta WHERE key = 'seal_legacy'; INSERT OR REPLACE INTO "
                      "store_meta (key, value) VALUES ('compact_due', 1)",
                      err);
    }
    if (rc == SR_OK)
        rc = exec(p->db, "COMMIT", err);
    if (rc != SR_OK)
        (void)sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* VACUUM and an emptied WAL; a failure is logged and retried next time. */
static void
compact(struct sq_store *s)
{
    sqlite3 *db = s->writer.db;
    sr_err e = {0};
    bool due = false;
    if (meta_has(db, "compact_due", &due, &e) != SR_OK || !due)
        return;
    sr_status rc = exec(db, "VACUUM", &e);
    if (rc == SR_OK &&
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
        rc = sr_err_set(&e, SR_EIO, "checkpoint: %s", sqlite3_errmsg(db));
    if (rc == SR_OK)
        rc = exec(db, "DELETE FROM store_meta WHERE key = 'compact_due'", &e);
    if (rc != SR_OK)
        sr_log(SR_LOG_WARN, "store",
               "database '%s': clear copies of rows sealed at rest may remain in free pages "
               "until the next open with keys: compaction failed: %s",
               s->path, e.msg);
}

sr_status
sr_store__sq_seal_legacy(struct sq_store *s, const uint8_t *key, sr_err *err)
{
    struct seal_pass p = {.db = s->writer.db, .key = key};
    bool due = false;
    sr_status rc = meta_has(p.db, "seal_legacy", &due, err);
    if (rc == SR_OK && due)
        rc = seal_all(&p, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "database '%s'", s->path);
    if (p.jobs || p.modules || p.policies)
        sr_log(SR_LOG_INFO, "store",
               "database '%s': sealed at rest %zu job(s), %zu module(s) and %zu policy(ies) "
               "written by an older sealrun",
               s->path, p.jobs, p.modules, p.policies);
    compact(s);
    return SR_OK;
}
