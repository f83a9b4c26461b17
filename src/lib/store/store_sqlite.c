/* SPDX-License-Identifier: MIT
 *
 * store_sqlite.c - the SQLite backend's operations and its one exported
 * table, sr_store__sqlite_ops.
 *
 * Reads borrow a reader connection; writes are functions queued for group
 * commit (store_sqlite_db.c) and run on the writer inside the batch
 * transaction, each in its own savepoint. Every job statement filters on
 * owner in the SQL itself. Times: 0 in a row is NULL in the table.
 * request_json and result_json are sealed blobs (store_seal.c): sealed
 * before the write is queued, so the crypto never runs under the group
 * commit, and opened as rows are read.
 *
 * Sections: SQL; row codecs; tokens; jobs; the ops table. Modules are in
 * store_sqlite_modules.c, secrets and their audit in store_sqlite_secrets.c,
 * the sealing of legacy rows in store_sqlite_seal.c.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_util.h"

/* --- SQL --- */

#define JOB_COLS                                                                                   \
    "id, owner, state, runtime, request_json, result_json, created_at, started_at, "               \
    "finished_at, expires_at, gas_used, duration_us, error_code"
/* Lists skip request_json (the script and input): the list never shows it. */
#define LIST_COLS                                                                                  \
    "id, owner, state, runtime, NULL, result_json, created_at, started_at, finished_at, "          \
    "expires_at, gas_used, duration_us, error_code"
/* GET /jobs filters (struct sr_job_filter): ?5..?8 */
#define LIST_FILTER                                                                                \
    "created_at >= ?5 AND created_at < ?6 AND (?7 IS NULL OR state = ?7) AND "                     \
    "(?8 IS NULL OR runtime = ?8) "
#define TOKEN_COLS "hash, owner, label, created_at, revoked_at, scopes, expires_at"

/* keep in sync with enum sq_stmt in store_sqlite_int.h */
const char *const sr_store__sq_sql[SQ__COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SAVEPOINT] = "SAVEPOINT w",
    [SQ_RELEASE] = "RELEASE w",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO w",
    [SQ_PING] = "SELECT max(version) FROM schema_version",
    [SQ_TOKEN_ADD] = "INSERT INTO tokens (hash, owner, label, created_at, scopes, expires_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = ?1",
    [SQ_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_at DESC, hash",
    [SQ_TOKEN_LIST_OWNER] =
        "SELECT " TOKEN_COLS " FROM tokens WHERE owner = ?1 ORDER BY created_at DESC, hash",
    [SQ_TOKEN_MATCH] = "SELECT hash, revoked_at FROM tokens "
                       "WHERE substr(lower(hex(hash)), 1, length(?1)) = ?1 "
                       "AND (?2 IS NULL OR owner = ?2) LIMIT 2",
    [SQ_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?2 WHERE hash = ?1",
    [SQ_JOB_INSERT] = "INSERT INTO jobs (" JOB_COLS ") "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [SQ_JOB_UPDATE] = "UPDATE jobs SET state = ?3, result_json = ?4, started_at = ?5, "
                      "finished_at = ?6, expires_at = ?7, gas_used = ?8, duration_us = ?9, "
                      "error_code = ?10 WHERE id = ?1 AND owner = ?2",
    [SQ_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1 AND owner = ?2",
    [SQ_JOB_CURSOR] = "SELECT created_at FROM jobs WHERE id = ?1 AND owner = ?2",
    [SQ_JOB_LIST_FIRST] = "SELECT " LIST_COLS " FROM jobs WHERE owner = ?1 AND " LIST_FILTER
                          "ORDER BY created_at DESC, id DESC LIMIT ?2",
    [SQ_JOB_LIST_AFTER] = "SELECT " LIST_COLS " FROM jobs "
                          "WHERE owner = ?1 AND (created_at, id) < (?3, ?4) AND " LIST_FILTER
                          "ORDER BY created_at DESC, id DESC LIMIT ?2",
    [SQ_JOB_FIGURES] = "SELECT finished_at, state, runtime, error_code, "
                       "coalesce(duration_us, (finished_at - started_at) * 1000), "
                       "coalesce(gas_used, 0) FROM jobs WHERE owner = ?1 AND finished_at >= ?2 "
                       "AND finished_at < ?3 AND state IN ('completed', 'failed')",
    [SQ_JOBS_RUNNING_IDS] = "SELECT id, owner FROM jobs WHERE state = 'running' ORDER BY id",
    [SQ_JOB_INTERRUPT_ONE] = "UPDATE jobs SET state = 'failed', result_json = ?3, "
                             "finished_at = ?4, gas_used = 0, error_code = 'INTERRUPTED' "
                             "WHERE id = ?1 AND owner = ?2 AND state = 'running'",
    [SQ_JOBS_RUNNING] =
        "SELECT " JOB_COLS " FROM jobs WHERE state = 'running' ORDER BY created_at, id",
    [SQ_JOBS_QUEUED] =
        "SELECT " JOB_COLS " FROM jobs WHERE state = 'queued' ORDER BY created_at, id",
    [SQ_JOBS_PURGE] = "DELETE FROM jobs WHERE expires_at <= ?1",
    [SQ_JOBS_COUNT] = "SELECT count(*) FROM jobs",
    [SQ_RECORDING_PUT] = "INSERT INTO recordings (job_id, owner, sealed, sha256, created_at, "
                         "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_RECORDING_GET] = "SELECT sealed, sha256 FROM recordings WHERE job_id = ?1 AND owner = ?2",
    [SQ_RECORDINGS_PURGE] = "DELETE FROM recordings WHERE expires_at <= ?1",
    /* a webhook's row is written just before its job's: one older than ten
     * minutes without a job belongs to a submission that was refused */
    [SQ_WEBHOOKS_ORPHANS_PURGE] = "DELETE FROM webhooks WHERE created_at < ?1 - 600000 AND "
                                  "NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = webhooks.job_id)",
    [SQ_MODULE_PUT] = "INSERT INTO modules (hash, bytes, size, info_json, created_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
    [SQ_MODULE_OWN] = "INSERT INTO module_owners (owner, hash, created_at, size, last_used_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?3)",
    [SQ_MODULE_GET] = "SELECT m.bytes, m.info_json, o.created_at, o.last_used_at "
                      "FROM module_owners o JOIN modules m ON m.hash = o.hash "
                      "WHERE o.owner = ?1 AND o.hash = ?2",
    [SQ_MODULE_CLAIM] = "SELECT size FROM module_owners WHERE owner = ?1 AND hash = ?2",
    [SQ_MODULE_USAGE] =
        "SELECT count(*), coalesce(sum(size), 0) FROM module_owners WHERE owner = ?1",
    [SQ_MODULE_TOUCH] = "UPDATE module_owners SET last_used_at = max(last_used_at, ?3) "
                        "WHERE owner = ?1 AND hash = ?2",
    [SQ_MODULE_DISOWN] = "DELETE FROM module_owners WHERE owner = ?1 AND hash = ?2",
    [SQ_MODULE_FREE] = "DELETE FROM modules WHERE hash = ?1 "
                       "AND NOT EXISTS (SELECT 1 FROM module_owners WHERE hash = ?1)",
    [SQ_MODULE_CURSOR] = "SELECT created_at FROM module_owners WHERE owner = ?1 AND hash = ?2",
    [SQ_MODULE_LIST_FIRST] = "SELECT o.hash, m.size, o.size, o.created_at, o.last_used_at "
                             "FROM module_owners o JOIN modules m ON m.hash = o.hash "
                             "WHERE o.owner = ?1 ORDER BY o.created_at DESC, o.hash DESC LIMIT ?2",
    [SQ_MODULE_LIST_AFTER] = "SELECT o.hash, m.size, o.size, o.created_at, o.last_used_at "
                             "FROM module_owners o JOIN modules m ON m.hash = o.hash "
                             "WHERE o.owner = ?1 AND (o.created_at, o.hash) < (?3, ?4) "
                             "ORDER BY o.created_at DESC, o.hash DESC LIMIT ?2",
    [SQ_MODULES_STALE] = "SELECT owner, hash FROM module_owners WHERE last_used_at < ?1 "
                         "ORDER BY last_used_at LIMIT ?2",
    [SQ_SECRET_GET] =
        "SELECT blob, version, policy_json FROM secrets WHERE owner = ?1 AND name = ?2",
    [SQ_SECRET_COUNT] = "SELECT count(*) FROM secrets WHERE owner = ?1",
    [SQ_SECRET_INSERT] = "INSERT INTO secrets (owner, name, version, blob, created_at, updated_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    [SQ_SECRET_UPDATE] = "UPDATE secrets SET version = ?3, blob = ?4, updated_at = ?5 "
                         "WHERE owner = ?1 AND name = ?2 AND version = ?6",
    [SQ_SECRET_POLICY] = "UPDATE secrets SET policy_json = ?3, updated_at = ?4 "
                         "WHERE owner = ?1 AND name = ?2",
    [SQ_SECRET_DELETE] = "DELETE FROM secrets WHERE owner = ?1 AND name = ?2",
    [SQ_SECRET_LIST] = "SELECT name, version, policy_json, created_at, updated_at FROM secrets "
                       "WHERE owner = ?1 ORDER BY name",
    [SQ_AUDIT_ADD] = "INSERT INTO secret_audit (owner, name, job_id, user, version, outcome, "
                     "reason, time_ms, last_ms, count, window_ms, code_hash, entry_point) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1, NULL, ?10, ?11)",
    [SQ_AUDIT_WINDOW] = "SELECT count(*), coalesce(sum(count), 0), "
                        "coalesce(max(name = ?4 AND outcome = ?5), 0) FROM secret_audit "
                        "WHERE owner = ?1 AND user = ?2 AND window_ms = ?3",
    [SQ_AUDIT_SUMMARY] =
        "INSERT INTO secret_audit (owner, name, job_id, user, version, outcome, reason, "
        "time_ms, last_ms, count, window_ms, code_hash, entry_point) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1, ?9, ?10, ?11) "
        "ON CONFLICT (owner, name, user, outcome, window_ms) WHERE window_ms IS NOT NULL "
        "DO UPDATE SET count = count + 1, last_ms = max(last_ms, excluded.last_ms), "
        "job_id = excluded.job_id, reason = excluded.reason, version = excluded.version, "
        "code_hash = excluded.code_hash, entry_point = excluded.entry_point",
    [SQ_AUDIT_LIST] = "SELECT id, owner, name, job_id, user, version, outcome, reason, time_ms, "
                      "last_ms, count, window_ms, code_hash, entry_point FROM secret_audit "
                      "WHERE owner = ?1 AND name = ?2 AND id < ?4 ORDER BY id DESC LIMIT ?3",
    [SQ_AUDIT_PURGE] = "DELETE FROM secret_audit WHERE id IN "
                       "(SELECT id FROM secret_audit WHERE last_ms < ?1 LIMIT ?2)",
    /* storage (store_sqlite_storage.c): namespaces by (owner, id), entries by
     * (owner, ns, id); ids are keyed hashes, names and keys are sealed */
    [SQ_KV_NS] = "SELECT version, keys, bytes FROM storage_ns WHERE owner = ?1 AND id = ?2",
    [SQ_KV_GET] = "SELECT key, value, size, version FROM storage_kv "
                  "WHERE owner = ?1 AND ns = ?2 AND id = ?3",
    [SQ_KV_SNAPSHOT] = "BEGIN DEFERRED",
    [SQ_KV_SCAN] = "SELECT id, key, size, version FROM storage_kv WHERE owner = ?1 AND ns = ?2",
    [SQ_KV_VERSION] =
        "SELECT version, size FROM storage_kv WHERE owner = ?1 AND ns = ?2 AND id = ?3",
    [SQ_KV_PUT] = "INSERT INTO storage_kv (owner, ns, id, key, value, size, version) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (owner, ns, id) DO UPDATE "
                  "SET key = excluded.key, value = excluded.value, size = excluded.size, "
                  "version = excluded.version",
    [SQ_KV_DELETE] = "DELETE FROM storage_kv WHERE owner = ?1 AND ns = ?2 AND id = ?3",
    [SQ_KV_NS_PUT] = "INSERT INTO storage_ns (owner, id, name, version, keys, bytes, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (owner, id) DO "
                     "UPDATE SET version = excluded.version, keys = excluded.keys, "
                     "bytes = excluded.bytes, updated_at = excluded.updated_at",
    [SQ_KV_NS_LIST] = "SELECT id, name, version, keys, bytes FROM storage_ns WHERE owner = ?1",
    [SQ_KV_OWNER] = "SELECT namespaces, bytes FROM storage_owners WHERE owner = ?1",
    [SQ_KV_OWNER_PUT] = "INSERT INTO storage_owners (owner, namespaces, bytes) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT (owner) DO UPDATE SET namespaces = excluded.namespaces, "
                        "bytes = excluded.bytes",
    [SQ_WORKER_ADD] = "INSERT INTO workers (hash, name, created_at) VALUES (?1, ?2, ?3)",
    [SQ_WORKER_GET] = "SELECT " SR_STORE_WORKER_COLS " FROM workers WHERE hash = ?1",
    [SQ_WORKER_LIST] = "SELECT " SR_STORE_WORKER_COLS " FROM workers ORDER BY created_at, hash",
    [SQ_WORKER_MATCH] = "SELECT " SR_STORE_WORKER_COLS " FROM workers "
                        "WHERE substr(lower(hex(hash)), 1, length(?1)) = ?1 LIMIT 2",
    [SQ_WORKER_REGISTER] = "UPDATE workers SET public_key = ?2, measurement = ?3, "
                           "attestation = ?4, version = ?5, "
                           "registered_at = coalesce(registered_at, ?6), seen_at = ?6 "
                           "WHERE hash = ?1",
    [SQ_WORKER_SEEN] = "UPDATE workers SET seen_at = ?2 WHERE hash = ?1 AND state <> 'revoked'",
    [SQ_WORKER_STATE] = "UPDATE workers SET state = ?2, "
                        "revoked_at = CASE WHEN ?2 = 'revoked' THEN ?3 ELSE revoked_at END "
                        "WHERE hash = ?1",
    [SQ_JOB_FINISH] = "UPDATE jobs SET state = ?3, result_json = ?4, started_at = ?5, "
                      "finished_at = ?6, expires_at = ?7, gas_used = ?8, duration_us = ?9, "
                      "error_code = ?10, lease_until = NULL WHERE id = ?1 AND owner = ?2 AND "
                      "state = 'running' AND lease_holder = ?11 AND lease_fence = ?12",
    /* money (store_sqlite_money.c) */
    [SQ_USAGE_GET] = "SELECT jobs, gas_js, gas_wasm, wall_ms, http FROM usage_days "
                     "WHERE subject = ?1 AND day = ?2",
    [SQ_USAGE_ADD] = "INSERT INTO usage_days (subject, day, jobs, gas_js, gas_wasm, wall_ms, http) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (subject, day) DO UPDATE SET "
                     "jobs = jobs + excluded.jobs, gas_js = gas_js + excluded.gas_js, "
                     "gas_wasm = gas_wasm + excluded.gas_wasm, "
                     "wall_ms = wall_ms + excluded.wall_ms, http = http + excluded.http",
    [SQ_USAGE_SUB] = "UPDATE usage_days SET jobs = max(jobs - ?3, 0), "
                     "gas_js = max(gas_js - ?4, 0), gas_wasm = max(gas_wasm - ?5, 0), "
                     "wall_ms = max(wall_ms - ?6, 0), http = max(http - ?7, 0) "
                     "WHERE subject = ?1 AND day = ?2",
    [SQ_USAGE_PURGE] = "DELETE FROM usage_days WHERE day < ?1",
    [SQ_HOLD_INSERT] = "INSERT INTO holds (job_id, owner, token_id, day, jobs, gas_js, gas_wasm, "
                       "wall_ms, http, cost, created_at) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_HOLD_GET] = "SELECT owner, token_id, day, jobs, gas_js, gas_wasm, wall_ms, http, cost, "
                    "created_at, settled_at, charged FROM holds WHERE job_id = ?1",
    [SQ_HOLD_CLOSE] = "UPDATE holds SET settled_at = ?2, charged = ?3 "
                      "WHERE job_id = ?1 AND settled_at = 0",
    [SQ_HOLDS_DANGLING] = "SELECT job_id FROM holds h WHERE settled_at = 0 AND created_at < ?1 "
                          "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id "
                          "AND j.state IN ('queued', 'running')) ORDER BY created_at LIMIT ?2",
    [SQ_HOLDS_PURGE] = "DELETE FROM holds WHERE settled_at > 0 AND settled_at < ?1",
    [SQ_BALANCE_GET] = "SELECT balance FROM accounts WHERE owner = ?1",
    [SQ_BALANCE_TAKE] = "UPDATE accounts SET balance = balance - ?2, updated_at = ?3 "
                        "WHERE owner = ?1 AND balance >= ?2",
    [SQ_BALANCE_ADD] = "INSERT INTO accounts (owner, balance, updated_at) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT (owner) DO UPDATE SET balance = balance + excluded.balance, "
                       "updated_at = excluded.updated_at",
    [SQ_LEDGER_ADD] = "INSERT INTO ledger (owner, kind, amount, delta, balance, job_id, actor, "
                      "note, time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* a storage charge's mark: store_meta 'storage_charge:DAY:OWNER' = DAY */
    [SQ_STORAGE_DUE] = "SELECT owner, bytes FROM storage_owners o WHERE bytes > 0 AND NOT EXISTS "
                       "(SELECT 1 FROM store_meta m WHERE m.key = 'storage_charge:' || ?1 || ':' "
                       "|| o.owner) ORDER BY owner LIMIT ?2",
    [SQ_STORAGE_MARK] = "INSERT INTO store_meta (key, value) VALUES ('storage_charge:' || ?1 || "
                        "':' || ?2, ?1) ON CONFLICT (key) DO NOTHING",
    [SQ_STORAGE_MARKS_PURGE] = "DELETE FROM store_meta WHERE key LIKE 'storage\\_charge:%' "
                               "ESCAPE '\\' AND value < ?1",
    [SQ_LEDGER_LIST] = "SELECT id, kind, amount, delta, balance, job_id, actor, note, time_ms "
                       "FROM ledger WHERE owner = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    [SQ_WEBHOOK_ADD] = "INSERT INTO webhooks (job_id, owner, state, next_at, created_at) "
                       "VALUES (?1, ?2, 'pending', ?3, ?3)",
    /* due: pending, next_at passed, unclaimed, its job ended, its owner
     * under the per-owner count of claimed ones (?3) */
    [SQ_WEBHOOK_DUE] = "SELECT w.job_id, w.owner, w.attempts FROM webhooks w JOIN jobs j ON "
                       "j.id = w.job_id WHERE w.state = 'pending' AND w.next_at <= ?1 AND "
                       "w.claim_until <= ?1 AND j.state IN ('completed', 'failed') AND (SELECT "
                       "count(*) FROM webhooks x WHERE x.owner = w.owner AND x.state = 'pending' "
                       "AND x.claim_until > ?1) < ?3 ORDER BY w.next_at, w.job_id LIMIT ?2",
    /* the owner's count again: earlier claims of this batch count too */
    [SQ_WEBHOOK_CLAIM] = "UPDATE webhooks SET claim_holder = ?2, claim_until = ?3 WHERE "
                         "job_id = ?1 AND state = 'pending' AND claim_until <= ?4 AND (SELECT "
                         "count(*) FROM webhooks x WHERE x.owner = webhooks.owner AND "
                         "x.state = 'pending' AND x.claim_until > ?4) < ?5",
    [SQ_WEBHOOK_ATTEMPT_ADD] = "INSERT INTO webhook_attempts (job_id, attempt, owner, at, "
                               "duration_ms, status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_WEBHOOK_SET] = "UPDATE webhooks SET state = ?3, attempts = ?4, next_at = ?5, "
                       "claim_holder = NULL, claim_until = 0 WHERE job_id = ?1 AND "
                       "claim_holder = ?2",
    [SQ_WEBHOOK_GET] = "SELECT state FROM webhooks WHERE job_id = ?1 AND owner = ?2",
    [SQ_WEBHOOK_ATTEMPTS] = "SELECT attempt, at, duration_ms, status, error FROM "
                            "webhook_attempts WHERE job_id = ?1 AND owner = ?2 ORDER BY attempt "
                            "LIMIT ?3",
};

/* --- row codecs --- */

int
sr_store__sq_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    return s ? sqlite3_bind_text(stmt, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(stmt, i);
}

static int
bind_ms(sqlite3_stmt *stmt, int i, int64_t ms)
{
    return ms ? sqlite3_bind_int64(stmt, i, ms) : sqlite3_bind_null(stmt, i);
}

sr_status
sr_store__sq_bind_failed(sqlite3_stmt *stmt, int rc, sr_err *err)
{
    return sr_store__sq_fail(sqlite3_db_handle(stmt), rc, err, "cannot bind a parameter");
}

/* Duplicates a text column; NULL stays NULL. */
sr_status
sr_store__sq_col_dup(sqlite3_stmt *stmt, int i, char **out, sr_err *err)
{
    *out = NULL;
    if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
        return SR_OK;
    const char *t = (const char *)sqlite3_column_text(stmt, i);
    *out = t ? strdup(t) : NULL;
    if (!*out)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading column %d", i);
    return SR_OK;
}

int
sr_store__sq_bind_blob(sqlite3_stmt *stmt, int i, const uint8_t *p, size_t len)
{
    return p ? sqlite3_bind_blob64(stmt, i, p, len, SQLITE_STATIC) : sqlite3_bind_null(stmt, i);
}

sr_status
sr_store__sq_col_open(const uint8_t *key, sqlite3_stmt *stmt, int i, const char *field,
                      const char *owner, const char *record, char **out, size_t *out_len,
                      sr_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    int type = sqlite3_column_type(stmt, i);
    if (type == SQLITE_NULL)
        return SR_OK;
    if (type != SQLITE_BLOB) /* clear text of a legacy row that was never sealed */
        return sr_err_set(err, SR_EIO,
                          "stored %s of '%s' is not sealed: open the database with the master "
                          "keys once to seal rows written by an older sealrun",
                          field, record);
    const uint8_t *blob = sqlite3_column_blob(stmt, i);
    size_t len = (size_t)sqlite3_column_bytes(stmt, i);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sr_status rc = sr_store__open(key, field, owner, record, blob, len, &plain, &plain_len, err);
    if (rc == SR_OK) {
        *out = (char *)plain;
        if (out_len)
            *out_len = plain_len;
    }
    return rc;
}

static sr_status
parse_state(const char *text, enum sr_job_state *out, sr_err *err)
{
    for (int s = SR_JOB_QUEUED; s <= SR_JOB_FAILED; s++) {
        if (text && strcmp(text, sr_job_state_name((enum sr_job_state)s)) == 0) {
            *out = (enum sr_job_state)s;
            return SR_OK;
        }
    }
    return sr_err_set(err, SR_EINTERNAL, "stored job has unknown state '%s'",
                      text ? text : "(null)");
}

/* Reads JOB_COLS (or LIST_COLS) of the current row into *row, opening the
 * sealed columns with 'key'. On failure *row is left empty (fini'd). */
static sr_status
read_job(const uint8_t *key, sqlite3_stmt *stmt, struct sr_job_row *row, sr_err *err)
{
    memset(row, 0, sizeof(*row));
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    (void)snprintf(row->id, sizeof(row->id), "%s", id ? id : "");
    sr_status rc = sr_store__sq_col_dup(stmt, 1, &row->owner, err);
    if (rc == SR_OK && !row->owner)
        rc = sr_err_set(err, SR_EINTERNAL, "stored job '%s' has no owner", row->id);
    if (rc == SR_OK)
        rc = parse_state((const char *)sqlite3_column_text(stmt, 2), &row->state, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_dup(stmt, 3, &row->runtime, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_open(key, stmt, 4, SR_SEAL_JOB_REQUEST, row->owner, row->id,
                                   &row->request_json, NULL, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_open(key, stmt, 5, SR_SEAL_JOB_RESULT, row->owner, row->id,
                                   &row->result_json, NULL, err);
    if (rc != SR_OK) {
        sr_job_row_fini(row);
        return rc;
    }
    row->created_at_ms = sqlite3_column_int64(stmt, 6);
    row->started_at_ms = sqlite3_column_int64(stmt, 7); /* NULL reads as 0 */
    row->finished_at_ms = sqlite3_column_int64(stmt, 8);
    row->expires_at_ms = sqlite3_column_int64(stmt, 9);
    row->gas_used = (uint64_t)sqlite3_column_int64(stmt, 10);
    row->duration_us = sqlite3_column_int64(stmt, 11);
    const char *code = (const char *)sqlite3_column_text(stmt, 12);
    (void)snprintf(row->error_code, sizeof(row->error_code), "%s", code ? code : "");
    return SR_OK;
}

static sr_status
read_token(sqlite3_stmt *stmt, struct sr_token_row *row, sr_err *err)
{
    memset(row, 0, sizeof(*row));
    const uint8_t *hash = sqlite3_column_blob(stmt, 0);
    if (!hash || sqlite3_column_bytes(stmt, 0) != 32)
        return sr_err_set(err, SR_EINTERNAL, "stored token hash is not 32 bytes");
    sr_hex_encode(hash, 8, row->id);
    sr_status rc = sr_store__sq_col_dup(stmt, 1, &row->owner, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_dup(stmt, 2, &row->label, err);
    if (rc != SR_OK) {
        sr_token_row_fini(row);
        return rc;
    }
    row->created_at_ms = sqlite3_column_int64(stmt, 3);
    row->revoked_at_ms = sqlite3_column_int64(stmt, 4);
    row->scopes = (uint32_t)sqlite3_column_int64(stmt, 5);
    row->expires_at_ms = sqlite3_column_int64(stmt, 6); /* NULL reads as 0: never */
    return SR_OK;
}

/* Returns rows grown to hold more than *cap elements of 'size' bytes (the
 * old pointer is dead), or NULL with err set (the old one still valid). */
static void *
grow(void *rows, size_t *cap, size_t size, sr_err *err)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    size_t bytes = 0;
    if (!sr_mul_size(ncap, size, &bytes)) {
        (void)sr_err_set(err, SR_ELIMIT, "too many rows: %zu", *cap);
        return NULL;
    }
    void *p = realloc(rows, bytes);
    if (!p) {
        (void)sr_err_set(err, SR_ENOMEM, "out of memory reading %zu rows", ncap);
        return NULL;
    }
    *cap = ncap;
    return p;
}

sr_status
sr_store__sq_collect(sqlite3_stmt *stmt, size_t size, sr_store__sq_row_fn read, void *ctx,
                     sr_store__sq_fini_fn fini, const char *what, void **out, size_t *out_n,
                     sr_err *err)
{
    char *rows = NULL;
    size_t n = 0, cap = 0;
    sr_status rc = SR_OK;
    int src = SQLITE_OK;
    while (rc == SR_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            void *p = grow(rows, &cap, size, err);
            if (!p) {
                rc = err ? err->status : SR_ENOMEM;
                break;
            }
            rows = p;
        }
        rc = read(ctx, stmt, rows + n * size, err); /* on failure the row is left empty */
        n += rc == SR_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(sqlite3_db_handle(stmt), src, err, "cannot read %s", what);
    if (rc != SR_OK) {
        for (size_t i = 0; i < n; i++)
            fini(rows + i * size);
        free(rows);
        return rc;
    }
    *out = rows;
    *out_n = n;
    return SR_OK;
}

static sr_status
read_job_row(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    return read_job(ctx, stmt, row, err);
}

static void
fini_job_row(void *row)
{
    sr_job_row_fini(row);
}

static sr_status
read_token_row(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    return read_token(stmt, row, err);
}

static void
fini_token_row(void *row)
{
    sr_token_row_fini(row);
}

/* Steps a bound statement to the end, collecting every job row. */
static sr_status
collect_jobs(const struct sq_store *s, sqlite3_stmt *stmt, struct sr_job_row **out, size_t *out_n,
             sr_err *err)
{
    return sr_store__sq_collect(stmt, sizeof(**out), read_job_row, s->base.seal_key, fini_job_row,
                                "jobs", (void **)out, out_n, err);
}

static sr_status
collect_tokens(sqlite3_stmt *stmt, struct sr_token_row **out, size_t *out_n, sr_err *err)
{
    return sr_store__sq_collect(stmt, sizeof(**out), read_token_row, NULL, fini_token_row, "tokens",
                                (void **)out, out_n, err);
}

/* Runs a bound write statement to completion. */
sr_status
sr_store__sq_step_done(sqlite3_stmt *stmt, sr_err *err, const char *what, const char *subject)
{
    int src = sqlite3_step(stmt);
    if (src == SQLITE_DONE)
        return SR_OK;
    return sr_store__sq_fail(sqlite3_db_handle(stmt), src, err, "cannot %s '%s'", what, subject);
}

/* --- tokens --- */

static sr_status
w_token_add(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct sr_token_new *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_TOKEN_ADD, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, a->hash, 32, SQLITE_STATIC);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, a->label);
    b = b ? b : sqlite3_bind_int64(stmt, 4, a->now_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 5, a->scopes);
    b = b ? b : bind_ms(stmt, 6, a->expires_at_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "add a token for", a->owner);
    sr_store__sq_done(stmt);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "a token with this hash exists already");
    return rc;
}

static sr_status
sq_token_add(sr_store *st, const struct sr_token_new *t, sr_err *err)
{
    return sr_store__sq_write((struct sq_store *)st, w_token_add, (void *)(uintptr_t)t, err);
}

static sr_status
sq_token_get(sr_store *st, const uint8_t hash[32], struct sr_token_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_TOKEN_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW)
            rc = read_token(stmt, out, err);
        else if (src == SQLITE_DONE)
            rc = sr_err_set(err, SR_ENOTFOUND, "token not found");
        else
            rc = sr_store__sq_fail(c->db, src, err, "cannot look up a token");
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

static sr_status
sq_token_list(sr_store *st, const char *owner, struct sr_token_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc =
        sr_store__sq_stmt(c, owner ? SQ_TOKEN_LIST_OWNER : SQ_TOKEN_LIST_ALL, &stmt, err);
    if (rc == SR_OK) {
        int b = owner ? sr_store__sq_bind_text(stmt, 1, owner) : SQLITE_OK;
        rc = b ? sr_store__sq_bind_failed(stmt, b, err) : collect_tokens(stmt, rows, n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct token_revoke_arg {
    const char *owner; /* NULL: any */
    const char *prefix;
    int64_t now_ms;
};

/* Finds the one token whose id starts with a->prefix; copies its hash. */
static sr_status
token_match(struct sq_conn *c, const char *owner, const char *prefix, uint8_t hash[32],
            bool *revoked, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_TOKEN_MATCH, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int n = 0;
    int src = sr_store__sq_bind_text(stmt, 1, prefix);
    src = src ? src : sr_store__sq_bind_text(stmt, 2, owner);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        src = sqlite3_step(stmt);
        if (src == SQLITE_ROW && n++ == 0) {
            memcpy(hash, sqlite3_column_blob(stmt, 0), 32); /* CHECK: 32 bytes */
            *revoked = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
        }
    }
    if (src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot look up token '%s'", prefix);
    else if (n == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "token '%s' not found", prefix);
    else if (n > 1)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "token id '%s' is ambiguous: it matches more than one token; give more "
                        "characters",
                        prefix);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
w_token_revoke(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct token_revoke_arg *a = arg;
    uint8_t hash[32];
    bool revoked = false;
    sr_status rc = token_match(c, a->owner, a->prefix, hash, &revoked, err);
    if (rc != SR_OK)
        return rc;
    if (revoked)
        return sr_err_set(err, SR_ECONFLICT, "token '%s' is already revoked", a->prefix);
    sqlite3_stmt *stmt = NULL;
    rc = sr_store__sq_stmt(c, SQ_TOKEN_REVOKE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    b = b ? b : sqlite3_bind_int64(stmt, 2, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "revoke token", a->prefix);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
sq_token_revoke(sr_store *st, const char *owner, const char *id_prefix, int64_t now_ms, sr_err *err)
{
    struct token_revoke_arg a = {owner, id_prefix, now_ms};
    return sr_store__sq_write((struct sq_store *)st, w_token_revoke, &a, err);
}

/* --- jobs --- */

/* A job row with its sealed columns, sealed before the write is queued. */
struct job_write {
    const struct sr_job_row *row;
    uint8_t *request; /* owned sealed request_json, or NULL */
    size_t request_len;
    uint8_t *result; /* owned sealed result_json, or NULL */
    size_t result_len;
};

static sr_status
job_write_seal(const uint8_t *key, const struct sr_job_row *r, bool with_request,
               struct job_write *w, sr_err *err)
{
    memset(w, 0, sizeof(*w));
    w->row = r;
    sr_status rc = SR_OK;
    if (with_request && r->request_json)
        rc = sr_store__seal(key, SR_SEAL_JOB_REQUEST, r->owner, r->id, r->request_json,
                            strlen(r->request_json), &w->request, &w->request_len, err);
    if (rc == SR_OK && r->result_json)
        rc = sr_store__seal(key, SR_SEAL_JOB_RESULT, r->owner, r->id, r->result_json,
                            strlen(r->result_json), &w->result, &w->result_len, err);
    return rc;
}

static void
job_write_fini(struct job_write *w)
{
    free(w->request);
    free(w->result);
    memset(w, 0, sizeof(*w));
}

/* gas_used, duration_us, error_code at i, i+1, i+2: NULL until finished. */
static int
bind_figures(sqlite3_stmt *stmt, int i, const struct sr_job_row *r)
{
    bool done = r->state == SR_JOB_COMPLETED || r->state == SR_JOB_FAILED;
    int b =
        done ? sqlite3_bind_int64(stmt, i, (sqlite3_int64)r->gas_used) : sqlite3_bind_null(stmt, i);
    b = b ? b
          : (done ? sqlite3_bind_int64(stmt, i + 1, r->duration_us)
                  : sqlite3_bind_null(stmt, i + 1));
    return b ? b
             : sr_store__sq_bind_text(stmt, i + 2, done && r->error_code[0] ? r->error_code : NULL);
}

static sr_status
w_job_insert(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct job_write *w = arg;
    const struct sr_job_row *r = w->row;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_JOB_INSERT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, r->id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, r->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, sr_job_state_name(r->state));
    b = b ? b : sr_store__sq_bind_text(stmt, 4, r->runtime);
    b = b ? b : sr_store__sq_bind_blob(stmt, 5, w->request, w->request_len);
    b = b ? b : sr_store__sq_bind_blob(stmt, 6, w->result, w->result_len);
    b = b ? b : sqlite3_bind_int64(stmt, 7, r->created_at_ms);
    b = b ? b : bind_ms(stmt, 8, r->started_at_ms);
    b = b ? b : bind_ms(stmt, 9, r->finished_at_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 10, r->expires_at_ms);
    b = b ? b : bind_figures(stmt, 11, r);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "insert job", r->id);
    sr_store__sq_done(stmt);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "job '%s' exists already", r->id);
    return rc;
}

/* Updates the row; under 'lease' (not NULL) only while it is the job's
 * current one (SR_ECONFLICT otherwise). */
static sr_status
job_update_on(struct sq_conn *c, const struct job_write *w, const struct sr_lease *lease,
              sr_err *err)
{
    const struct sr_job_row *r = w->row;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, lease ? SQ_JOB_FINISH : SQ_JOB_UPDATE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, r->id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, r->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, sr_job_state_name(r->state));
    b = b ? b : sr_store__sq_bind_blob(stmt, 4, w->result, w->result_len);
    b = b ? b : bind_ms(stmt, 5, r->started_at_ms);
    b = b ? b : bind_ms(stmt, 6, r->finished_at_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 7, r->expires_at_ms);
    b = b ? b : bind_figures(stmt, 8, r);
    if (lease) {
        b = b ? b : sr_store__sq_bind_text(stmt, 11, lease->holder);
        b = b ? b : sqlite3_bind_int64(stmt, 12, (sqlite3_int64)lease->fence);
    }
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "update job", r->id);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && sqlite3_changes(c->db) == 0)
        rc = lease ? sr_err_set(err, SR_ECONFLICT,
                                "job '%s' was taken over (its lease, fence %llu, is no longer "
                                "held): nothing written",
                                r->id, (unsigned long long)lease->fence)
                   : sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", r->id);
    return rc;
}

static sr_status
w_job_update(struct sq_conn *c, void *arg, sr_err *err)
{
    return job_update_on(c, arg, NULL, err);
}

static sr_status
job_write(sr_store *st, const struct sr_job_row *row, bool insert, sr_err *err)
{
    struct job_write w;
    sr_status rc = job_write_seal(st->seal_key, row, insert, &w, err);
    if (rc == SR_OK)
        rc = sr_store__sq_write((struct sq_store *)st, insert ? w_job_insert : w_job_update, &w,
                                err);
    job_write_fini(&w);
    return rc;
}

static sr_status
sq_job_insert(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    return job_write(st, row, true, err);
}

static sr_status
sq_job_update(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    return job_write(st, row, false, err);
}

struct job_end_arg {
    struct job_write w;
    const struct sr_job_end *end;
    struct sr_kv_result *res;
};

/* The write set first (nothing is written when the namespace moved or a
 * quota refuses it), then the row: a failure of either rolls back the
 * savepoint that holds both. */
static sr_status
w_job_end(struct sq_conn *c, void *arg, sr_err *err)
{
    struct job_end_arg *a = arg;
    const struct sr_job_end *end = a->end;
    if (end->kv) {
        sr_status rc = sr_store__sq_kv_apply(c, end->kv, a->res, err);
        if (rc != SR_OK || a->res->moved)
            return rc;
    }
    return end->insert && !end->lease ? w_job_insert(c, &a->w, err)
                                      : job_update_on(c, &a->w, end->lease, err);
}

static sr_status
sq_job_end(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res, sr_err *err)
{
    struct job_end_arg a = {.end = end, .res = res};
    sr_status rc = job_write_seal(st->seal_key, end->row, end->insert, &a.w, err);
    if (rc == SR_OK)
        rc = sr_store__sq_write((struct sq_store *)st, w_job_end, &a, err);
    job_write_fini(&a.w);
    if (rc != SR_OK && rc != SR_ELIMIT && res) /* ELIMIT keeps which quota */
        memset(res, 0, sizeof(*res));
    return rc;
}

static sr_status
sq_job_get(sr_store *st, const char *owner, const char *id, struct sr_job_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_JOB_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, id);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, owner);
        int src = b ? b : sqlite3_step(stmt);
        struct sr_job_row row;
        if (src == SQLITE_ROW && (rc = read_job(st->seal_key, stmt, &row, err)) == SR_OK)
            *out = row;
        else if (src == SQLITE_DONE)
            rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", id);
        else if (src != SQLITE_ROW)
            rc = sr_store__sq_fail(c->db, src, err, "cannot load job '%s'", id);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* Binds the filter's ?5..?8 (LIST_FILTER). */
static int
bind_filter(sqlite3_stmt *stmt, const struct sr_job_filter *f)
{
    int b = sqlite3_bind_int64(stmt, 5, f->since_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 6, f->until_ms ? f->until_ms : INT64_MAX);
    b = b ? b : sr_store__sq_bind_text(stmt, 7, f->has_state ? sr_job_state_name(f->state) : NULL);
    return b ? b : sr_store__sq_bind_text(stmt, 8, f->runtime);
}

/* Binds the page query: the first page, or the page after the cursor job. */
static sr_status
bind_page(struct sq_conn *c, const char *owner, const struct sr_job_filter *f, size_t limit,
          const char *before_id, sqlite3_stmt **out, sr_err *err)
{
    int64_t created = 0;
    sqlite3_stmt *stmt = NULL;
    sr_status rc;
    if (before_id) {
        rc = sr_store__sq_stmt(c, SQ_JOB_CURSOR, &stmt, err);
        if (rc != SR_OK)
            return rc;
        int b = sr_store__sq_bind_text(stmt, 1, before_id);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, owner);
        int src = b ? b : sqlite3_step(stmt);
        if (src == SQLITE_ROW)
            created = sqlite3_column_int64(stmt, 0);
        else if (src == SQLITE_DONE)
            rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", before_id);
        else
            rc = sr_store__sq_fail(c->db, src, err, "cannot load job '%s'", before_id);
        sr_store__sq_done(stmt);
        if (rc != SR_OK)
            return rc;
    }
    rc = sr_store__sq_stmt(c, before_id ? SQ_JOB_LIST_AFTER : SQ_JOB_LIST_FIRST, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit);
    if (before_id) {
        b = b ? b : sqlite3_bind_int64(stmt, 3, created);
        b = b ? b : sr_store__sq_bind_text(stmt, 4, before_id);
    }
    b = b ? b : bind_filter(stmt, f);
    if (b) {
        rc = sr_store__sq_bind_failed(stmt, b, err);
        sr_store__sq_done(stmt);
        return rc;
    }
    *out = stmt;
    return SR_OK;
}

static sr_status
sq_job_list(sr_store *st, const char *owner, const struct sr_job_filter *filter, size_t limit,
            const char *before_id, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = bind_page(c, owner, filter, limit, before_id, &stmt, err);
    if (rc == SR_OK)
        rc = collect_jobs(s, stmt, rows, n, err);
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

static sr_status
sq_job_figures(sr_store *st, const char *owner, int64_t since_ms, int64_t until_ms,
               sr_job_figures_fn fn, void *ctx, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_JOB_FIGURES, &stmt, err);
    int src = SQLITE_DONE;
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, owner);
        b = b ? b : sqlite3_bind_int64(stmt, 2, since_ms);
        b = b ? b : sqlite3_bind_int64(stmt, 3, until_ms);
        src = b ? b : SQLITE_OK;
    }
    while (rc == SR_OK && src != SQLITE_DONE && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(stmt, 1);
        const char *runtime = (const char *)sqlite3_column_text(stmt, 2);
        const char *code = (const char *)sqlite3_column_text(stmt, 3);
        struct sr_job_figures f = {
            .finished_at_ms = sqlite3_column_int64(stmt, 0),
            .state = state && strcmp(state, "completed") == 0 ? SR_JOB_COMPLETED : SR_JOB_FAILED,
            .runtime = runtime ? runtime : "",
            .error_code = code ? code : "",
            .duration_us = sqlite3_column_int64(stmt, 4),
            .gas_used = (uint64_t)sqlite3_column_int64(stmt, 5),
        };
        fn(ctx, &f);
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the job figures of '%s'", owner);
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* One running job to fail: its id, owner and sealed result. */
struct interrupted {
    char id[33];
    char *owner;
    uint8_t *result;
    size_t result_len;
};

struct interrupt_arg {
    const uint8_t *key;
    const char *result_json;
    int64_t now_ms;
    size_t n;
};

/* Reads the running jobs' ids and owners on the writer (inside the write,
 * so none can start or finish meanwhile). Owned array of *out_n. */
static sr_status
running_ids(struct sq_conn *c, struct interrupted **out, size_t *out_n, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    struct interrupted *v = NULL;
    size_t n = 0, cap = 0;
    sr_status rc = sr_store__sq_stmt(c, SQ_JOBS_RUNNING_IDS, &stmt, err);
    int src = SQLITE_OK;
    while (rc == SR_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            void *p = grow(v, &cap, sizeof(*v), err);
            if (!p) {
                rc = err ? err->status : SR_ENOMEM;
                break;
            }
            v = p;
        }
        memset(&v[n], 0, sizeof(v[n]));
        const char *id = (const char *)sqlite3_column_text(stmt, 0);
        (void)snprintf(v[n].id, sizeof(v[n].id), "%s", id ? id : "");
        rc = sr_store__sq_col_dup(stmt, 1, &v[n].owner, err);
        n += rc == SR_OK;
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot list running jobs");
    sr_store__sq_done(stmt);
    *out = v;
    *out_n = n;
    return rc;
}

static sr_status
interrupt_one(struct sq_conn *c, const struct interrupt_arg *a, struct interrupted *j, sr_err *err)
{
    sr_status rc =
        sr_store__seal(a->key, SR_SEAL_JOB_RESULT, j->owner ? j->owner : "", j->id, a->result_json,
                       strlen(a->result_json), &j->result, &j->result_len, err);
    sqlite3_stmt *stmt = NULL;
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, SQ_JOB_INTERRUPT_ONE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, j->id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, j->owner);
    b = b ? b : sr_store__sq_bind_blob(stmt, 3, j->result, j->result_len);
    b = b ? b : sqlite3_bind_int64(stmt, 4, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "interrupt job", j->id);
    sr_store__sq_done(stmt);
    return rc;
}

/* Each row is sealed for its own id and owner, so the sweep is one
 * update per running job (at start only; they are few). */
static sr_status
w_jobs_interrupt(struct sq_conn *c, void *arg, sr_err *err)
{
    struct interrupt_arg *a = arg;
    struct interrupted *jobs = NULL;
    size_t n = 0;
    sr_status rc = running_ids(c, &jobs, &n, err);
    for (size_t i = 0; rc == SR_OK && i < n; i++)
        rc = interrupt_one(c, a, &jobs[i], err);
    a->n = rc == SR_OK ? n : 0;
    for (size_t i = 0; i < n; i++) {
        free(jobs[i].owner);
        free(jobs[i].result);
    }
    free(jobs);
    return rc;
}

static sr_status
sq_jobs_interrupt(sr_store *st, const char *interrupted_result_json, int64_t now_ms, size_t *n,
                  sr_err *err)
{
    struct interrupt_arg a = {st->seal_key, interrupted_result_json, now_ms, 0};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_jobs_interrupt, &a, err);
    if (rc == SR_OK && n)
        *n = a.n;
    return rc;
}

static sr_status
jobs_in_state(sr_store *st, enum sq_stmt which, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, which, &stmt, err);
    if (rc == SR_OK)
        rc = collect_jobs(s, stmt, rows, n, err);
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

static sr_status
sq_jobs_queued(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    return jobs_in_state(st, SQ_JOBS_QUEUED, rows, n, err);
}

static sr_status
sq_jobs_running(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    return jobs_in_state(st, SQ_JOBS_RUNNING, rows, n, err);
}

struct purge_arg {
    int64_t now_ms;
    size_t n;
};

static sr_status
w_jobs_purge(struct sq_conn *c, void *arg, sr_err *err)
{
    struct purge_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_JOBS_PURGE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_int64(stmt, 1, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "purge", "expired jobs");
    sr_store__sq_done(stmt);
    a->n = rc == SR_OK ? (size_t)sqlite3_changes64(c->db) : 0;
    if (rc != SR_OK)
        return rc;
    /* recordings go with their jobs (they share the expiry) */
    rc = sr_store__sq_stmt(c, SQ_RECORDINGS_PURGE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    b = sqlite3_bind_int64(stmt, 1, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "purge", "expired recordings");
    sr_store__sq_done(stmt);
    if (rc != SR_OK)
        return rc;
    rc = sr_store__sq_stmt(c, SQ_WEBHOOKS_ORPHANS_PURGE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    b = sqlite3_bind_int64(stmt, 1, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "purge", "webhooks of jobs never stored");
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
sq_jobs_purge(sr_store *st, int64_t now_ms, size_t *n, sr_err *err)
{
    struct purge_arg a = {now_ms, 0};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_jobs_purge, &a, err);
    if (rc == SR_OK && n)
        *n = a.n;
    return rc;
}

/* Runs a one-row, one-integer query on a reader. */
static sr_status
read_int(struct sq_store *s, enum sq_stmt id, int64_t *out, sr_err *err)
{
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, id, &stmt, err);
    if (rc == SR_OK) {
        int src = sqlite3_step(stmt);
        if (src == SQLITE_ROW)
            *out = sqlite3_column_int64(stmt, 0);
        else
            rc = sr_store__sq_fail(c->db, src, err, "cannot query database '%s'", s->path);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

static sr_status
sq_jobs_count(sr_store *st, int64_t *total, sr_err *err)
{
    return read_int((struct sq_store *)st, SQ_JOBS_COUNT, total, err);
}

/* --- recordings --- */

static sr_status
w_recording_put(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct sr_recording_row *r = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_RECORDING_PUT, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, r->job_id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, r->owner);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, r->sealed);
    b = b ? b : sr_store__sq_bind_text(stmt, 4, r->sha256);
    b = b ? b : sqlite3_bind_int64(stmt, 5, r->created_at_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 6, r->expires_at_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "store the recording of job", r->job_id);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
sq_recording_put(sr_store *st, const struct sr_recording_row *row, sr_err *err)
{
    return sr_store__sq_write((struct sq_store *)st, w_recording_put, (void *)(uintptr_t)row, err);
}

static sr_status
sq_recording_get(sr_store *st, const char *owner, const char *id, char **sealed,
                 char sha256[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_RECORDING_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, id);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, owner);
        int src = b ? b : sqlite3_step(stmt);
        const char *text = src == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
        const char *hash = src == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 1) : NULL;
        if (text && hash && strlen(hash) == SR_HASH_HEX_LEN) {
            *sealed = strdup(text);
            memcpy(sha256, hash, SR_HASH_HEX_LEN + 1);
            if (!*sealed)
                rc = sr_err_set(err, SR_ENOMEM, "out of memory loading a recording");
        } else if (src == SQLITE_DONE) {
            rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' has no recording", id);
        } else {
            rc = sr_store__sq_fail(c->db, src, err, "cannot load the recording of job '%s'", id);
        }
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* --- the ops table --- */

static sr_status
sq_open(const char *path, const uint8_t *seal_key, sr_store **out, sr_err *err)
{
    struct sq_store *s = NULL;
    sr_status rc = sr_store__sq_open(path, seal_key, &s, err);
    if (rc == SR_OK)
        *out = &s->base;
    return rc;
}

static void
sq_close(sr_store *st)
{
    sr_store__sq_close((struct sq_store *)st);
}

static int
sq_schema_version(sr_store *st)
{
    return ((struct sq_store *)st)->version;
}

static bool
sq_ping(sr_store *st)
{
    int64_t v = 0;
    return read_int((struct sq_store *)st, SQ_PING, &v, NULL) == SR_OK && v > 0;
}

void
sr_store__sqlite_stats(sr_store *st, uint64_t *commits, uint64_t *writes)
{
    struct sq_store *s = (struct sq_store *)st;
    pthread_mutex_lock(&s->wlock);
    *commits = s->commits;
    *writes = s->writes;
    pthread_mutex_unlock(&s->wlock);
}

const struct sr_store_ops sr_store__sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .ping = sq_ping,
    .token_add = sq_token_add,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .job_insert = sq_job_insert,
    .job_update = sq_job_update,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .job_figures = sq_job_figures,
    .jobs_interrupt = sq_jobs_interrupt,
    .jobs_queued = sq_jobs_queued,
    .jobs_running = sq_jobs_running,
    .jobs_purge = sq_jobs_purge,
    .jobs_count = sq_jobs_count,
    .worker_add = sr_store__sq_worker_add,
    .worker_get = sr_store__sq_worker_get,
    .worker_register = sr_store__sq_worker_register,
    .worker_seen = sr_store__sq_worker_seen,
    .worker_list = sr_store__sq_worker_list,
    .worker_set_state = sr_store__sq_worker_set_state,
    .job_end = sq_job_end,
    .recording_put = sq_recording_put,
    .recording_get = sq_recording_get,
    .module_put = sr_store__sq_module_put,
    .module_get = sr_store__sq_module_get,
    .module_touch = sr_store__sq_module_touch,
    .module_delete = sr_store__sq_module_delete,
    .module_list = sr_store__sq_module_list,
    .module_usage = sr_store__sq_module_usage,
    .modules_expire = sr_store__sq_modules_expire,
    .secret_get = sr_store__sq_secret_get,
    .secret_put = sr_store__sq_secret_put,
    .secret_policy = sr_store__sq_secret_policy,
    .secret_delete = sr_store__sq_secret_delete,
    .secret_list = sr_store__sq_secret_list,
    .audit_add = sr_store__sq_audit_add,
    .audit_list = sr_store__sq_audit_list,
    .audit_purge = sr_store__sq_audit_purge,
    .kv_ns = sr_store__sq_kv_ns,
    .kv_get = sr_store__sq_kv_get,
    .kv_snapshot = sr_store__sq_kv_snapshot,
    .kv_commit = sr_store__sq_kv_commit,
    .kv_namespaces = sr_store__sq_kv_namespaces,
    .kv_upgrade = sr_store__sq_kv_upgrade,
    .hold_add = sr_store__sq_hold_add,
    .hold_get = sr_store__sq_hold_get,
    .hold_settle = sr_store__sq_hold_settle,
    .holds_release = sr_store__sq_holds_release,
    .money_purge = sr_store__sq_money_purge,
    .usage_get = sr_store__sq_usage_get,
    .balance = sr_store__sq_balance,
    .credit = sr_store__sq_credit,
    .ledger_list = sr_store__sq_ledger_list,
    .storage_charge = sr_store__sq_storage_charge,
    .webhook_add = sr_store__sq_webhook_add,
    .webhooks_claim = sr_store__sq_webhooks_claim,
    .webhook_attempt = sr_store__sq_webhook_attempt,
    .webhook_get = sr_store__sq_webhook_get,
};
