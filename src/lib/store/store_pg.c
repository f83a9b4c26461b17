/* SPDX-License-Identifier: MIT
 *
 * store_pg.c - the PostgreSQL backend's statements, its tokens and jobs,
 * and its one exported table, sr_store__pg_ops.
 *
 * The same tables and columns as the SQLite backend (the migrations are
 * twins, schema/postgres/), so `sealrun store copy` can move rows as they
 * are. Every job statement filters on owner in the SQL itself. Times: 0 in
 * a row is NULL in the table. request_json and result_json are sealed
 * (store_seal.c) before they are sent and opened as rows are read.
 *
 * Sections: SQL; row codecs; tokens; jobs; the ops table. Modules,
 * secrets and storage are in store_pg_modules.c, store_pg_secrets.c and
 * store_pg_storage.c; the pool and transactions in store_pg_db.c.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

/* --- SQL --- */

#define JOB_COLS                                                                                   \
    "id, owner, state, runtime, request_json, result_json, created_at, started_at, "               \
    "finished_at, expires_at, gas_used, duration_us, error_code"
#define LIST_COLS                                                                                  \
    "id, owner, state, runtime, NULL::bytea, result_json, created_at, started_at, finished_at, "   \
    "expires_at, gas_used, duration_us, error_code"
#define TOKEN_COLS "hash, owner, label, created_at, revoked_at, scopes, expires_at"
#define MODULE_META "o.hash, m.size, o.size, o.created_at, o.last_used_at"

/* keep in sync with enum pg_stmt in store_pg_int.h */
const char *const sr_store__pg_sql[PG__COUNT] = {
    [PG_PING] = "SELECT max(version) FROM schema_version",
    [PG_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))",
    [PG_TOKEN_ADD] = "INSERT INTO tokens (hash, owner, label, created_at, scopes, expires_at) "
                     "VALUES ($1, $2, $3, $4, $5, $6)",
    [PG_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE hash = $1",
    [PG_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLS " FROM tokens ORDER BY created_at DESC, hash",
    [PG_TOKEN_LIST_OWNER] =
        "SELECT " TOKEN_COLS " FROM tokens WHERE owner = $1 ORDER BY created_at DESC, hash",
    [PG_TOKEN_MATCH] = "SELECT hash, revoked_at FROM tokens "
                       "WHERE substr(encode(hash, 'hex'), 1, length($1::text)) = $1::text "
                       "AND ($2::text IS NULL OR owner = $2::text) LIMIT 2",
    [PG_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
    [PG_JOB_INSERT] = "INSERT INTO jobs (" JOB_COLS ") "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    [PG_JOB_UPDATE] = "UPDATE jobs SET state = $3, result_json = $4, started_at = $5, "
                      "finished_at = $6, expires_at = $7, gas_used = $8, duration_us = $9, "
                      "error_code = $10 WHERE id = $1 AND owner = $2",
    [PG_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = $1 AND owner = $2",
    [PG_JOB_CURSOR] = "SELECT created_at FROM jobs WHERE id = $1 AND owner = $2",
    [PG_JOB_LIST_FIRST] = "SELECT " LIST_COLS " FROM jobs WHERE owner = $1 AND created_at >= $3 "
                          "AND created_at < $4 AND ($5::text IS NULL OR state = $5::text) AND "
                          "($6::text IS NULL OR runtime = $6::text) "
                          "ORDER BY created_at DESC, id DESC LIMIT $2",
    [PG_JOB_LIST_AFTER] = "SELECT " LIST_COLS " FROM jobs WHERE owner = $1 AND "
                          "(created_at, id) < ($7::bigint, $8::text) AND created_at >= $3 "
                          "AND created_at < $4 AND ($5::text IS NULL OR state = $5::text) AND "
                          "($6::text IS NULL OR runtime = $6::text) "
                          "ORDER BY created_at DESC, id DESC LIMIT $2",
    [PG_JOB_FIGURES] = "SELECT finished_at, state, runtime, error_code, "
                       "coalesce(duration_us, (finished_at - started_at) * 1000), "
                       "coalesce(gas_used, 0) FROM jobs WHERE owner = $1 AND finished_at >= $2 "
                       "AND finished_at < $3 AND state IN ('completed', 'failed')",
    [PG_JOBS_RUNNING_IDS] =
        "SELECT id, owner FROM jobs WHERE state = 'running' ORDER BY id FOR UPDATE",
    [PG_JOB_INTERRUPT_ONE] = "UPDATE jobs SET state = 'failed', result_json = $3, "
                             "finished_at = $4, gas_used = 0, error_code = 'INTERRUPTED' "
                             "WHERE id = $1 AND owner = $2 AND state = 'running'",
    [PG_JOBS_QUEUED] =
        "SELECT " JOB_COLS " FROM jobs WHERE state = 'queued' ORDER BY created_at, id",
    [PG_JOBS_RUNNING] =
        "SELECT " JOB_COLS " FROM jobs WHERE state = 'running' ORDER BY created_at, id",
    [PG_JOBS_PURGE] = "DELETE FROM jobs WHERE expires_at <= $1",
    [PG_JOBS_COUNT] = "SELECT count(*) FROM jobs",
    [PG_MODULE_PUT] = "INSERT INTO modules (hash, bytes, size, info_json, created_at) "
                      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
    [PG_MODULE_OWN] = "INSERT INTO module_owners (owner, hash, created_at, size, last_used_at) "
                      "VALUES ($1, $2, $3, $4, $3)",
    [PG_MODULE_GET] = "SELECT m.bytes, m.info_json, o.created_at, o.last_used_at "
                      "FROM module_owners o JOIN modules m ON m.hash = o.hash "
                      "WHERE o.owner = $1 AND o.hash = $2",
    [PG_MODULE_CLAIM] = "SELECT size FROM module_owners WHERE owner = $1 AND hash = $2",
    [PG_MODULE_USAGE] =
        "SELECT count(*), coalesce(sum(size), 0) FROM module_owners WHERE owner = $1",
    [PG_MODULE_TOUCH] = "UPDATE module_owners SET last_used_at = greatest(last_used_at, $3) "
                        "WHERE owner = $1 AND hash = $2",
    [PG_MODULE_DISOWN] = "DELETE FROM module_owners WHERE owner = $1 AND hash = $2",
    [PG_MODULE_FREE] = "DELETE FROM modules WHERE hash = $1::text "
                       "AND NOT EXISTS (SELECT 1 FROM module_owners WHERE hash = $1::text)",
    [PG_MODULE_CURSOR] = "SELECT created_at FROM module_owners WHERE owner = $1 AND hash = $2",
    [PG_MODULE_LIST_FIRST] = "SELECT " MODULE_META " FROM module_owners o JOIN modules m "
                             "ON m.hash = o.hash WHERE o.owner = $1 "
                             "ORDER BY o.created_at DESC, o.hash DESC LIMIT $2",
    [PG_MODULE_LIST_AFTER] = "SELECT " MODULE_META " FROM module_owners o JOIN modules m "
                             "ON m.hash = o.hash WHERE o.owner = $1 AND "
                             "(o.created_at, o.hash) < ($3::bigint, $4::text) "
                             "ORDER BY o.created_at DESC, o.hash DESC LIMIT $2",
    [PG_MODULES_STALE] = "SELECT owner, hash FROM module_owners WHERE last_used_at < $1 "
                         "ORDER BY last_used_at LIMIT $2",
    [PG_SECRET_GET] =
        "SELECT blob, version, policy_json FROM secrets WHERE owner = $1 AND name = $2",
    [PG_SECRET_COUNT] = "SELECT count(*) FROM secrets WHERE owner = $1",
    [PG_SECRET_INSERT] = "INSERT INTO secrets (owner, name, version, blob, created_at, updated_at) "
                         "VALUES ($1, $2, $3, $4, $5, $5)",
    [PG_SECRET_UPDATE] = "UPDATE secrets SET version = $3, blob = $4, updated_at = $5 "
                         "WHERE owner = $1 AND name = $2 AND version = $6",
    [PG_SECRET_POLICY] = "UPDATE secrets SET policy_json = $3, updated_at = $4 "
                         "WHERE owner = $1 AND name = $2",
    [PG_SECRET_DELETE] = "DELETE FROM secrets WHERE owner = $1 AND name = $2",
    [PG_SECRET_LIST] = "SELECT name, version, policy_json, created_at, updated_at FROM secrets "
                       "WHERE owner = $1 ORDER BY name",
    [PG_AUDIT_ADD] = "INSERT INTO secret_audit (owner, name, job_id, \"user\", version, outcome, "
                     "reason, time_ms, last_ms, count, window_ms, code_hash, entry_point) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1, NULL, $9, $10)",
    [PG_AUDIT_WINDOW] = "SELECT count(*), coalesce(sum(count), 0), "
                        "coalesce(bool_or(name = $4::text AND outcome = $5::text), false)::int "
                        "FROM secret_audit WHERE owner = $1 AND \"user\" = $2 AND window_ms = $3",
    [PG_AUDIT_SUMMARY] =
        "INSERT INTO secret_audit (owner, name, job_id, \"user\", version, outcome, reason, "
        "time_ms, last_ms, count, window_ms, code_hash, entry_point) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1, $9, $10, $11) "
        "ON CONFLICT (owner, name, \"user\", outcome, window_ms) WHERE window_ms IS NOT NULL "
        "DO UPDATE SET count = secret_audit.count + 1, "
        "last_ms = greatest(secret_audit.last_ms, excluded.last_ms), "
        "job_id = excluded.job_id, reason = excluded.reason, version = excluded.version, "
        "code_hash = excluded.code_hash, entry_point = excluded.entry_point",
    [PG_AUDIT_LIST] =
        "SELECT id, owner, name, job_id, \"user\", version, outcome, reason, "
        "time_ms, last_ms, count, window_ms, code_hash, entry_point FROM secret_audit "
        "WHERE owner = $1 AND name = $2 AND id < $4 ORDER BY id DESC LIMIT $3",
    [PG_AUDIT_PURGE] = "DELETE FROM secret_audit WHERE id IN "
                       "(SELECT id FROM secret_audit WHERE last_ms < $1 LIMIT $2)",
    [PG_KV_NS] = "SELECT version, keys, bytes FROM storage_ns WHERE owner = $1 AND id = $2",
    [PG_KV_GET] = "SELECT key, value, size, version FROM storage_kv "
                  "WHERE owner = $1 AND ns = $2 AND id = $3",
    [PG_KV_SCAN] = "SELECT id, key, size, version FROM storage_kv WHERE owner = $1 AND ns = $2",
    [PG_KV_VERSION] =
        "SELECT version, size FROM storage_kv WHERE owner = $1 AND ns = $2 AND id = $3",
    [PG_KV_PUT] = "INSERT INTO storage_kv (owner, ns, id, key, value, size, version) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (owner, ns, id) DO UPDATE "
                  "SET key = excluded.key, value = excluded.value, size = excluded.size, "
                  "version = excluded.version",
    [PG_KV_DELETE] = "DELETE FROM storage_kv WHERE owner = $1 AND ns = $2 AND id = $3",
    [PG_KV_NS_PUT] = "INSERT INTO storage_ns (owner, id, name, version, keys, bytes, updated_at) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (owner, id) DO "
                     "UPDATE SET version = excluded.version, keys = excluded.keys, "
                     "bytes = excluded.bytes, updated_at = excluded.updated_at",
    [PG_KV_NS_LIST] = "SELECT id, name, version, keys, bytes FROM storage_ns WHERE owner = $1",
    [PG_KV_OWNER] = "SELECT namespaces, bytes FROM storage_owners WHERE owner = $1",
    [PG_QUEUE_COUNT] = "SELECT count(*) FROM jobs WHERE owner = $1 AND state = $2::text",
    [PG_NOTIFY] = "SELECT pg_notify('sealrun_jobs', '')",
    /* a job's end frees one of its owner's running slots: worth a wake-up
     * only when that owner has jobs waiting */
    [PG_NOTIFY_OWNER] = "SELECT pg_notify('sealrun_jobs', '') WHERE EXISTS (SELECT 1 FROM jobs "
                        "WHERE owner = $1 AND state = 'queued')",
    [PG_TRY_LOCK] = "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text, 0))::int",
    [PG_JOB_INSERT_LEASED] = "INSERT INTO jobs (" JOB_COLS ", lease_holder, lease_fence, "
                             "lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                             "$11, $12, $13, $14, 1, $15)",
    /* each owner's oldest queued job, locked; an owner whose oldest job
     * another daemon is claiming is passed over (never its next job: an
     * owner's jobs start in the order they came), the owner waiting longest
     * for its turn first */
    [PG_CLAIM_CANDIDATES] =
        "SELECT j.id, j.owner FROM (SELECT DISTINCT owner FROM jobs WHERE state = 'queued') o "
        "CROSS JOIN LATERAL (SELECT id, owner, created_at FROM jobs WHERE id = (SELECT id FROM "
        "jobs WHERE owner = o.owner AND state = 'queued' ORDER BY created_at, id LIMIT 1) AND "
        "state = 'queued' FOR UPDATE SKIP LOCKED) j "
        "LEFT JOIN queue_turns t ON t.owner = j.owner "
        "ORDER BY coalesce(t.last_claim_at, 0), j.created_at, j.id LIMIT 64",
    [PG_TURN_PUT] = "INSERT INTO queue_turns (owner, last_claim_at) VALUES ($1, $2) "
                    "ON CONFLICT (owner) DO UPDATE SET last_claim_at = excluded.last_claim_at",
    [PG_JOBS_RECLAIM] = "UPDATE jobs SET lease_fence = lease_fence + 1, lease_until = $2 "
                        "WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND "
                        "lease_holder = $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) "
                        "RETURNING " JOB_COLS ", lease_fence",
    [PG_CLAIM_ONE] = "UPDATE jobs SET state = 'running', started_at = $2, lease_holder = $3, "
                     "lease_fence = lease_fence + 1, lease_until = $4 "
                     "WHERE id = $1 AND state = 'queued' RETURNING " JOB_COLS ", lease_fence",
    [PG_JOB_RENEW] = "UPDATE jobs SET lease_until = $4 WHERE id = $1 AND state = 'running' "
                     "AND lease_holder = $2 AND lease_fence = $3",
    [PG_JOB_FINISH] = "UPDATE jobs SET state = $3, result_json = $4, started_at = $5, "
                      "finished_at = $6, expires_at = $7, gas_used = $8, duration_us = $9, "
                      "error_code = $10, lease_until = NULL WHERE id = $1 AND owner = $2 AND "
                      "state = 'running' AND lease_holder = $11 AND lease_fence = $12",
    [PG_JOBS_EXPIRED] = "UPDATE jobs SET lease_holder = $1, lease_fence = lease_fence + 1, "
                        "lease_until = $3 WHERE id IN (SELECT id FROM jobs WHERE state = "
                        "'running' AND coalesce(lease_until, 0) < $2 ORDER BY lease_until "
                        "NULLS FIRST LIMIT $4 FOR UPDATE SKIP LOCKED) "
                        "RETURNING " JOB_COLS ", lease_fence",
    /* a cancel: a queued or running job becomes this daemon's to end */
    [PG_JOB_TAKE] =
        "UPDATE jobs SET state = 'running', lease_holder = $3, "
        "lease_fence = lease_fence + 1, lease_until = $4 WHERE id = $1 AND "
        "owner = $2 AND state IN ('queued', 'running') RETURNING " JOB_COLS ", lease_fence",
    /* --queue-max-age: the oldest queued jobs created before $2 */
    [PG_JOBS_STALE] = "UPDATE jobs SET state = 'running', lease_holder = $1, "
                      "lease_fence = lease_fence + 1, lease_until = $3 WHERE id IN (SELECT id "
                      "FROM jobs WHERE state = 'queued' AND created_at < $2 ORDER BY created_at, "
                      "id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLS ", lease_fence",
    [PG_WEBHOOK_ADD] = "INSERT INTO webhooks (job_id, owner, state, next_at, created_at) "
                       "VALUES ($1, $2, 'pending', $3, $3)",
    /* due ones (as SQLite's SQ_WEBHOOK_DUE), claimed in one statement;
     * rows another daemon is claiming are skipped */
    [PG_WEBHOOKS_CLAIM] =
        "UPDATE webhooks SET claim_holder = $1, claim_until = $3 WHERE job_id IN (SELECT "
        "w.job_id FROM webhooks w JOIN jobs j ON j.id = w.job_id WHERE w.state = 'pending' AND "
        "w.next_at <= $2 AND w.claim_until <= $2 AND j.state IN ('completed', 'failed') AND "
        "(SELECT count(*) FROM webhooks x WHERE x.owner = w.owner AND x.state = 'pending' AND "
        "x.claim_until > $2) < $5 ORDER BY w.next_at, w.job_id LIMIT $4 FOR UPDATE OF w SKIP "
        "LOCKED) RETURNING job_id, owner, attempts",
    [PG_WEBHOOK_ATTEMPT_ADD] = "INSERT INTO webhook_attempts (job_id, attempt, owner, at, "
                               "duration_ms, status, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [PG_WEBHOOK_SET] = "UPDATE webhooks SET state = $3, attempts = $4, next_at = $5, "
                       "claim_holder = NULL, claim_until = 0 WHERE job_id = $1 AND "
                       "claim_holder = $2",
    [PG_WEBHOOK_GET] = "SELECT state FROM webhooks WHERE job_id = $1 AND owner = $2",
    [PG_WEBHOOK_ATTEMPTS] = "SELECT attempt, at, duration_ms, status, error FROM "
                            "webhook_attempts WHERE job_id = $1 AND owner = $2 ORDER BY attempt "
                            "LIMIT $3",
    [PG_DAEMON_BEAT] = "INSERT INTO daemons (id, public_key, measurement, version, started_at, "
                       "heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO "
                       "UPDATE SET heartbeat_at = excluded.heartbeat_at",
    /* heartbeat rows of daemons silent for a week (a data directory retired) */
    /* money (store_pg_money.c) */
    [PG_USAGE_GET] = "SELECT jobs, gas_js, gas_wasm, wall_ms, http FROM usage_days "
                     "WHERE subject = $1 AND day = $2",
    [PG_USAGE_ADD] = "INSERT INTO usage_days (subject, day, jobs, gas_js, gas_wasm, wall_ms, http) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (subject, day) DO UPDATE SET "
                     "jobs = usage_days.jobs + excluded.jobs, "
                     "gas_js = usage_days.gas_js + excluded.gas_js, "
                     "gas_wasm = usage_days.gas_wasm + excluded.gas_wasm, "
                     "wall_ms = usage_days.wall_ms + excluded.wall_ms, "
                     "http = usage_days.http + excluded.http",
    [PG_USAGE_SUB] = "UPDATE usage_days SET jobs = greatest(jobs - $3::bigint, 0), "
                     "gas_js = greatest(gas_js - $4::bigint, 0), "
                     "gas_wasm = greatest(gas_wasm - $5::bigint, 0), "
                     "wall_ms = greatest(wall_ms - $6::bigint, 0), "
                     "http = greatest(http - $7::bigint, 0) WHERE subject = $1 AND day = $2",
    [PG_USAGE_PURGE] = "DELETE FROM usage_days WHERE day < $1",
    [PG_HOLD_INSERT] = "INSERT INTO holds (job_id, owner, token_id, day, jobs, gas_js, gas_wasm, "
                       "wall_ms, http, cost, created_at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    [PG_HOLD_GET] = "SELECT owner, token_id, day, jobs, gas_js, gas_wasm, wall_ms, http, cost, "
                    "created_at, settled_at, charged FROM holds WHERE job_id = $1",
    [PG_HOLD_OWNER] = "SELECT owner FROM holds WHERE job_id = $1 AND settled_at = 0",
    [PG_HOLD_CLOSE] = "UPDATE holds SET settled_at = $2, charged = least($3::bigint, cost) "
                      "WHERE job_id = $1 AND settled_at = 0 "
                      "RETURNING token_id, day, jobs, gas_js, gas_wasm, wall_ms, http, cost, "
                      "charged",
    [PG_HOLDS_DANGLING] = "SELECT job_id FROM holds h WHERE settled_at = 0 AND created_at < $1 "
                          "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = h.job_id "
                          "AND j.state IN ('queued', 'running')) ORDER BY created_at LIMIT $2",
    [PG_HOLDS_PURGE] = "DELETE FROM holds WHERE settled_at > 0 AND settled_at < $1",
    [PG_BALANCE_GET] = "SELECT balance FROM accounts WHERE owner = $1",
    [PG_BALANCE_TAKE] = "UPDATE accounts SET balance = balance - $2::bigint, updated_at = $3 "
                        "WHERE owner = $1 AND balance >= $2::bigint",
    [PG_BALANCE_ADD] = "INSERT INTO accounts (owner, balance, updated_at) VALUES ($1, $2, $3) "
                       "ON CONFLICT (owner) DO UPDATE SET "
                       "balance = accounts.balance + excluded.balance, "
                       "updated_at = excluded.updated_at",
    [PG_LEDGER_ADD] = "INSERT INTO ledger (owner, kind, amount, delta, balance, job_id, actor, "
                      "note, time_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    /* a storage charge's mark: store_meta 'storage_charge:DAY:OWNER' = DAY */
    [PG_STORAGE_DUE] = "SELECT owner, bytes FROM storage_owners o WHERE bytes > 0 AND NOT EXISTS "
                       "(SELECT 1 FROM store_meta m WHERE m.key = 'storage_charge:' || "
                       "$1::bigint::text || ':' || o.owner) ORDER BY owner LIMIT $2",
    [PG_STORAGE_MARK] = "INSERT INTO store_meta (key, value) VALUES ('storage_charge:' || "
                        "$1::bigint::text || ':' || $2, $1) ON CONFLICT (key) DO NOTHING",
    [PG_STORAGE_MARKS_PURGE] = "DELETE FROM store_meta WHERE key LIKE 'storage\\_charge:%' "
                               "ESCAPE '\\' AND value < $1",
    [PG_LEDGER_LIST] = "SELECT id, kind, amount, delta, balance, job_id, actor, note, time_ms "
                       "FROM ledger WHERE owner = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    [PG_DAEMONS_PURGE] = "DELETE FROM daemons WHERE heartbeat_at < $1::bigint - 604800000",
    [PG_RECORDING_PUT] = "INSERT INTO recordings (job_id, owner, sealed, sha256, created_at, "
                         "expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    [PG_RECORDING_GET] = "SELECT sealed, sha256 FROM recordings WHERE job_id = $1 AND owner = $2",
    [PG_RECORDINGS_PURGE] = "DELETE FROM recordings WHERE expires_at <= $1",
    /* as SQLite's SQ_WEBHOOKS_ORPHANS_PURGE */
    [PG_WEBHOOKS_ORPHANS_PURGE] = "DELETE FROM webhooks w WHERE w.created_at < $1::bigint - "
                                  "600000 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = "
                                  "w.job_id)",
    [PG_DAEMONS] = "SELECT id, public_key, measurement, version, started_at, heartbeat_at "
                   "FROM daemons WHERE heartbeat_at >= $1 ORDER BY started_at, id LIMIT $2",
    [PG_KEY_CHECK] = "SELECT count(*) FILTER (WHERE key = $1::text), count(*) FROM store_meta "
                     "WHERE key LIKE 'key\\_check:%'",
    [PG_KEY_CHECK_PUT] = "INSERT INTO store_meta (key, value) VALUES ($1, 1)",
    [PG_KV_OWNER_PUT] = "INSERT INTO storage_owners (owner, namespaces, bytes) VALUES ($1, $2, $3) "
                        "ON CONFLICT (owner) DO UPDATE SET namespaces = excluded.namespaces, "
                        "bytes = excluded.bytes",
    [PG_WORKER_ADD] = "INSERT INTO workers (hash, name, created_at) VALUES ($1, $2, $3)",
    [PG_WORKER_GET] = "SELECT " SR_STORE_WORKER_COLS " FROM workers WHERE hash = $1",
    [PG_WORKER_LOCK] = "SELECT " SR_STORE_WORKER_COLS " FROM workers WHERE hash = $1 FOR UPDATE",
    [PG_WORKER_LIST] = "SELECT " SR_STORE_WORKER_COLS " FROM workers ORDER BY created_at, hash",
    [PG_WORKER_MATCH] = "SELECT " SR_STORE_WORKER_COLS " FROM workers "
                        "WHERE substr(encode(hash, 'hex'), 1, length($1::text)) = $1::text "
                        "LIMIT 2 FOR UPDATE",
    [PG_WORKER_REGISTER] = "UPDATE workers SET public_key = $2, measurement = $3, "
                           "attestation = $4, version = $5, "
                           "registered_at = coalesce(registered_at, $6::bigint), seen_at = $6 "
                           "WHERE hash = $1",
    [PG_WORKER_SEEN] = "UPDATE workers SET seen_at = $2 WHERE hash = $1 AND state <> 'revoked'",
    [PG_WORKER_STATE] = "UPDATE workers SET state = $2::text, "
                        "revoked_at = CASE WHEN $2::text = 'revoked' THEN $3::bigint "
                        "ELSE revoked_at END WHERE hash = $1",
};

/* --- row codecs --- */

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

/* Reads JOB_COLS (or LIST_COLS) of row r into *row. On failure *row is empty. */
sr_status
sr_store__pg_read_job(const uint8_t *key, const PGresult *res, int r, struct sr_job_row *row,
                      sr_err *err)
{
    memset(row, 0, sizeof(*row));
    (void)snprintf(row->id, sizeof(row->id), "%s", PQgetvalue(res, r, 0));
    sr_status rc = sr_store__pg_col_dup(res, r, 1, &row->owner, err);
    if (rc == SR_OK && !row->owner)
        rc = sr_err_set(err, SR_EINTERNAL, "stored job '%s' has no owner", row->id);
    if (rc == SR_OK)
        rc = parse_state(PQgetvalue(res, r, 2), &row->state, err);
    if (rc == SR_OK)
        rc = sr_store__pg_col_dup(res, r, 3, &row->runtime, err);
    if (rc == SR_OK)
        rc = sr_store__pg_col_open(key, res, r, 4, SR_SEAL_JOB_REQUEST, row->owner, row->id,
                                   &row->request_json, NULL, err);
    if (rc == SR_OK)
        rc = sr_store__pg_col_open(key, res, r, 5, SR_SEAL_JOB_RESULT, row->owner, row->id,
                                   &row->result_json, NULL, err);
    if (rc != SR_OK) {
        sr_job_row_fini(row);
        return rc;
    }
    row->created_at_ms = sr_store__pg_col_int(res, r, 6);
    row->started_at_ms = sr_store__pg_col_int(res, r, 7);
    row->finished_at_ms = sr_store__pg_col_int(res, r, 8);
    row->expires_at_ms = sr_store__pg_col_int(res, r, 9);
    row->gas_used = (uint64_t)sr_store__pg_col_int(res, r, 10);
    row->duration_us = sr_store__pg_col_int(res, r, 11);
    (void)snprintf(row->error_code, sizeof(row->error_code), "%s", PQgetvalue(res, r, 12));
    return SR_OK;
}

static sr_status
collect_jobs(const uint8_t *key, const PGresult *res, struct sr_job_row **out, size_t *out_n,
             sr_err *err)
{
    int n = PQntuples(res);
    struct sr_job_row *rows = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading %d jobs", n);
    sr_status rc = SR_OK;
    int i = 0;
    for (; rc == SR_OK && i < n; i++)
        rc = sr_store__pg_read_job(key, res, i, &rows[i], err);
    if (rc != SR_OK) {
        for (int j = 0; j < i; j++)
            sr_job_row_fini(&rows[j]);
        free(rows);
        return rc;
    }
    *out = rows;
    *out_n = (size_t)n;
    return SR_OK;
}

static sr_status
read_token(const PGresult *res, int r, struct sr_token_row *row, sr_err *err)
{
    memset(row, 0, sizeof(*row));
    uint8_t hash[32];
    sr_status rc = sr_store__pg_col_fixed(res, r, 0, hash, sizeof(hash), err);
    if (rc == SR_OK) {
        sr_hex_encode(hash, 8, row->id);
        rc = sr_store__pg_col_dup(res, r, 1, &row->owner, err);
    }
    if (rc == SR_OK)
        rc = sr_store__pg_col_dup(res, r, 2, &row->label, err);
    if (rc != SR_OK) {
        sr_token_row_fini(row);
        return rc;
    }
    row->created_at_ms = sr_store__pg_col_int(res, r, 3);
    row->revoked_at_ms = sr_store__pg_col_int(res, r, 4);
    row->scopes = (uint32_t)sr_store__pg_col_int(res, r, 5);
    row->expires_at_ms = sr_store__pg_col_int(res, r, 6); /* NULL reads as 0: never */
    return SR_OK;
}

/* --- tokens --- */

static sr_status
pg_token_add(sr_store *st, const struct sr_token_new *t, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_blob(&a, t->hash, 32);
    sr_store__pg_text(&a, t->owner);
    sr_store__pg_text(&a, t->label);
    sr_store__pg_int(&a, t->now_ms);
    sr_store__pg_int(&a, t->scopes);
    sr_store__pg_ms(&a, t->expires_at_ms);
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, PG_TOKEN_ADD, &a, NULL, "cannot add a token", err);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "a token with this hash exists already");
    return rc;
}

static sr_status
pg_token_get(sr_store *st, const uint8_t hash[32], struct sr_token_row *out, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_blob(&a, hash, 32);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_TOKEN_GET, &a, &res,
                                     "cannot look up a token", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "token not found");
    else if (rc == SR_OK)
        rc = read_token(res, 0, out, err);
    PQclear(res);
    return rc;
}

static sr_status
pg_token_list(sr_store *st, const char *owner, struct sr_token_row **rows, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    if (owner)
        sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, owner ? PG_TOKEN_LIST_OWNER : PG_TOKEN_LIST_ALL,
                          &a, &res, "cannot list tokens", err);
    if (rc != SR_OK)
        return rc;
    int k = PQntuples(res), i = 0;
    struct sr_token_row *v = calloc((size_t)k + 1, sizeof(*v));
    if (!v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing %d tokens", k);
    for (; rc == SR_OK && i < k; i++)
        rc = read_token(res, i, &v[i], err);
    PQclear(res);
    if (rc != SR_OK) {
        for (int j = 0; v && j < i; j++)
            sr_token_row_fini(&v[j]);
        free(v);
        return rc;
    }
    *rows = v;
    *n = (size_t)k;
    return SR_OK;
}

struct token_revoke_arg {
    const char *owner; /* NULL: any */
    const char *prefix;
    int64_t now_ms;
};

static sr_status
tx_token_revoke(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct token_revoke_arg *t = arg;
    struct pg_args a = {0};
    sr_store__pg_text(&a, t->prefix);
    sr_store__pg_text(&a, t->owner);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_TOKEN_MATCH, &a, &res, "cannot look up a token", err);
    if (rc != SR_OK)
        return rc;
    int n = PQntuples(res);
    uint8_t hash[32];
    if (n == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "token '%s' not found", t->prefix);
    else if (n > 1)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "token id '%s' is ambiguous: it matches more than one token; give more "
                        "characters",
                        t->prefix);
    else if (!PQgetisnull(res, 0, 1))
        rc = sr_err_set(err, SR_ECONFLICT, "token '%s' is already revoked", t->prefix);
    else
        rc = sr_store__pg_col_fixed(res, 0, 0, hash, sizeof(hash), err);
    PQclear(res);
    if (rc != SR_OK)
        return rc;
    struct pg_args u = {0};
    sr_store__pg_blob(&u, hash, sizeof(hash));
    sr_store__pg_int(&u, t->now_ms);
    rc = sr_store__pg_run(s, c, PG_TOKEN_REVOKE, &u, &res, "cannot revoke a token", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0) /* revoked by another daemon meanwhile */
        rc = sr_err_set(err, SR_ECONFLICT, "token '%s' is already revoked", t->prefix);
    PQclear(res);
    return rc;
}

static sr_status
pg_token_revoke(sr_store *st, const char *owner, const char *id_prefix, int64_t now_ms, sr_err *err)
{
    struct token_revoke_arg a = {owner, id_prefix, now_ms};
    return sr_store__pg_tx((struct pg_store *)st, tx_token_revoke, &a, err);
}

/* --- jobs --- */

/* The figures are NULL until the job finished. */
static void
add_figures(struct pg_args *a, const struct sr_job_row *r)
{
    bool done = r->state == SR_JOB_COMPLETED || r->state == SR_JOB_FAILED;
    if (done) {
        sr_store__pg_int(a, (int64_t)r->gas_used);
        sr_store__pg_int(a, r->duration_us);
    } else {
        sr_store__pg_text(a, NULL);
        sr_store__pg_text(a, NULL);
    }
    sr_store__pg_text(a, done && r->error_code[0] ? r->error_code : NULL);
}

sr_status
sr_store__pg_job_args(const uint8_t *key, const struct sr_job_row *r, bool insert,
                      struct pg_args *a, uint8_t **req, uint8_t **result, sr_err *err)
{
    size_t req_len = 0, result_len = 0;
    sr_status rc = SR_OK;
    *req = NULL;
    *result = NULL;
    if (insert && r->request_json)
        rc = sr_store__seal(key, SR_SEAL_JOB_REQUEST, r->owner, r->id, r->request_json,
                            strlen(r->request_json), req, &req_len, err);
    if (rc == SR_OK && r->result_json)
        rc = sr_store__seal(key, SR_SEAL_JOB_RESULT, r->owner, r->id, r->result_json,
                            strlen(r->result_json), result, &result_len, err);
    sr_store__pg_text(a, r->id);
    sr_store__pg_text(a, r->owner);
    sr_store__pg_text(a, sr_job_state_name(r->state));
    if (insert) {
        sr_store__pg_text(a, r->runtime);
        sr_store__pg_blob(a, *req, req_len);
    }
    sr_store__pg_blob(a, *result, result_len);
    if (insert)
        sr_store__pg_int(a, r->created_at_ms);
    sr_store__pg_ms(a, r->started_at_ms);
    sr_store__pg_ms(a, r->finished_at_ms);
    sr_store__pg_int(a, r->expires_at_ms);
    add_figures(a, r);
    return rc;
}

static sr_status
job_write(sr_store *st, const struct sr_job_row *r, bool insert, sr_err *err)
{
    uint8_t *req = NULL, *result = NULL;
    struct pg_args a = {0};
    sr_status rc = sr_store__pg_job_args(st->seal_key, r, insert, &a, &req, &result, err);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run1((struct pg_store *)st, insert ? PG_JOB_INSERT : PG_JOB_UPDATE, &a,
                               &res, insert ? "cannot insert a job" : "cannot update a job", err);
    if (rc == SR_ECONFLICT && insert)
        rc = sr_err_set(err, SR_ECONFLICT, "job '%s' exists already", r->id);
    if (rc == SR_OK && !insert && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", r->id);
    PQclear(res);
    free(req);
    free(result);
    return rc;
}

static sr_status
pg_job_insert(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    return job_write(st, row, true, err);
}

static sr_status
pg_job_update(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    return job_write(st, row, false, err);
}

static sr_status
pg_job_get(sr_store *st, const char *owner, const char *id, struct sr_job_row *out, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, PG_JOB_GET, &a, &res, "cannot load a job", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", id);
    else if (rc == SR_OK)
        rc = sr_store__pg_read_job(st->seal_key, res, 0, out, err);
    PQclear(res);
    return rc;
}

struct list_q {
    const char *owner;
    const struct sr_job_filter *f;
    size_t limit;
    const char *before_id;
    const uint8_t *key;
    struct sr_job_row **rows;
    size_t *n;
};

/* The cursor's created_at and the page in one snapshot. */
static sr_status
tx_job_list(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct list_q *q = arg;
    struct pg_args a = {0};
    PGresult *res = NULL;
    int64_t created = 0;
    sr_status rc = SR_OK;
    if (q->before_id) {
        sr_store__pg_text(&a, q->before_id);
        sr_store__pg_text(&a, q->owner);
        rc = sr_store__pg_run(s, c, PG_JOB_CURSOR, &a, &res, "cannot load a job", err);
        if (rc == SR_OK && PQntuples(res) == 0)
            rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", q->before_id);
        if (rc == SR_OK)
            created = sr_store__pg_col_int(res, 0, 0);
        PQclear(res);
        res = NULL;
        if (rc != SR_OK)
            return rc;
    }
    struct pg_args l = {0};
    sr_store__pg_text(&l, q->owner);
    sr_store__pg_int(&l, (int64_t)q->limit);
    sr_store__pg_int(&l, q->f->since_ms);
    sr_store__pg_int(&l, q->f->until_ms ? q->f->until_ms : INT64_MAX);
    sr_store__pg_text(&l, q->f->has_state ? sr_job_state_name(q->f->state) : NULL);
    sr_store__pg_text(&l, q->f->runtime);
    if (q->before_id) {
        sr_store__pg_int(&l, created);
        sr_store__pg_text(&l, q->before_id);
    }
    rc = sr_store__pg_run(s, c, q->before_id ? PG_JOB_LIST_AFTER : PG_JOB_LIST_FIRST, &l, &res,
                          "cannot list jobs", err);
    if (rc == SR_OK)
        rc = collect_jobs(q->key, res, q->rows, q->n, err);
    PQclear(res);
    return rc;
}

static sr_status
pg_job_list(sr_store *st, const char *owner, const struct sr_job_filter *filter, size_t limit,
            const char *before_id, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    struct list_q q = {owner, filter, limit, before_id, st->seal_key, rows, n};
    return sr_store__pg_snapshot((struct pg_store *)st, tx_job_list, &q, err);
}

static sr_status
pg_job_figures(sr_store *st, const char *owner, int64_t since_ms, int64_t until_ms,
               sr_job_figures_fn fn, void *ctx, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_int(&a, since_ms);
    sr_store__pg_int(&a, until_ms);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOB_FIGURES, &a, &res,
                                     "cannot read the job figures", err);
    for (int i = 0; rc == SR_OK && i < PQntuples(res); i++) {
        struct sr_job_figures f = {
            .finished_at_ms = sr_store__pg_col_int(res, i, 0),
            .state =
                strcmp(PQgetvalue(res, i, 1), "completed") == 0 ? SR_JOB_COMPLETED : SR_JOB_FAILED,
            .runtime = PQgetvalue(res, i, 2),
            .error_code = PQgetvalue(res, i, 3), /* "" for NULL */
            .duration_us = sr_store__pg_col_int(res, i, 4),
            .gas_used = (uint64_t)sr_store__pg_col_int(res, i, 5),
        };
        fn(ctx, &f);
    }
    PQclear(res);
    return rc;
}

struct interrupt_arg {
    const uint8_t *key;
    const char *result_json;
    int64_t now_ms;
    size_t n;
};

static sr_status
interrupt_one(struct pg_store *s, struct pg_conn *c, const struct interrupt_arg *t, const char *id,
              const char *owner, sr_err *err)
{
    uint8_t *sealed = NULL;
    size_t len = 0;
    sr_status rc = sr_store__seal(t->key, SR_SEAL_JOB_RESULT, owner, id, t->result_json,
                                  strlen(t->result_json), &sealed, &len, err);
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_text(&a, owner);
    sr_store__pg_blob(&a, sealed, len);
    sr_store__pg_int(&a, t->now_ms);
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_JOB_INTERRUPT_ONE, &a, NULL, "cannot fail a job", err);
    free(sealed);
    return rc;
}

/* Each row is sealed for its own id and owner: one update per running job. */
static sr_status
tx_jobs_interrupt(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct interrupt_arg *t = arg;
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_JOBS_RUNNING_IDS, NULL, &res, "cannot list running jobs", err);
    int n = rc == SR_OK ? PQntuples(res) : 0;
    for (int i = 0; rc == SR_OK && i < n; i++)
        rc = interrupt_one(s, c, t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), err);
    t->n = rc == SR_OK ? (size_t)n : 0;
    PQclear(res);
    return rc;
}

static sr_status
pg_jobs_interrupt(sr_store *st, const char *interrupted_result_json, int64_t now_ms, size_t *n,
                  sr_err *err)
{
    struct interrupt_arg a = {st->seal_key, interrupted_result_json, now_ms, 0};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_jobs_interrupt, &a, err);
    if (rc == SR_OK && n)
        *n = a.n;
    return rc;
}

static sr_status
jobs_in_state(sr_store *st, enum pg_stmt which, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, which, NULL, &res, "cannot list jobs", err);
    if (rc == SR_OK)
        rc = collect_jobs(st->seal_key, res, rows, n, err);
    PQclear(res);
    return rc;
}

static sr_status
pg_jobs_queued(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    return jobs_in_state(st, PG_JOBS_QUEUED, rows, n, err);
}

static sr_status
pg_jobs_running(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    return jobs_in_state(st, PG_JOBS_RUNNING, rows, n, err);
}

struct purge_arg {
    int64_t now_ms;
    size_t n;
};

/* One daemon purges at a time: the others pass (their next purge retries). */
static sr_status
tx_jobs_purge(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct purge_arg *p = arg;
    bool mine = false;
    sr_status rc = sr_store__pg_try_lock(s, c, "sealrun.purge", &mine, err);
    if (rc != SR_OK || !mine)
        return rc;
    struct pg_args a = {0};
    sr_store__pg_int(&a, p->now_ms);
    PGresult *res = NULL;
    rc = sr_store__pg_run(s, c, PG_JOBS_PURGE, &a, &res, "cannot purge expired jobs", err);
    p->n = rc == SR_OK ? (size_t)sr_store__pg_changes(res) : 0;
    PQclear(res);
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_DAEMONS_PURGE, &a, NULL, "cannot purge old heartbeats", err);
    /* recordings go with their jobs (they share the expiry) */
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_RECORDINGS_PURGE, &a, NULL,
                              "cannot purge expired recordings", err);
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_WEBHOOKS_ORPHANS_PURGE, &a, NULL,
                              "cannot purge the webhooks of jobs never stored", err);
    return rc;
}

static sr_status
pg_recording_put(sr_store *st, const struct sr_recording_row *row, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, row->job_id);
    sr_store__pg_text(&a, row->owner);
    sr_store__pg_text(&a, row->sealed);
    sr_store__pg_text(&a, row->sha256);
    sr_store__pg_int(&a, row->created_at_ms);
    sr_store__pg_int(&a, row->expires_at_ms);
    return sr_store__pg_run1((struct pg_store *)st, PG_RECORDING_PUT, &a, NULL,
                             "cannot store a recording", err);
}

static sr_status
pg_recording_get(sr_store *st, const char *owner, const char *id, char **sealed,
                 char sha256[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_RECORDING_GET, &a, &res,
                                     "cannot load a recording", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' has no recording", id);
    else if (rc == SR_OK && strlen(PQgetvalue(res, 0, 1)) != SR_HASH_HEX_LEN)
        rc = sr_err_set(err, SR_EIO, "the recording of job '%s' has a malformed hash", id);
    else if (rc == SR_OK) {
        memcpy(sha256, PQgetvalue(res, 0, 1), SR_HASH_HEX_LEN + 1);
        *sealed = strdup(PQgetvalue(res, 0, 0));
        if (!*sealed)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory loading a recording");
    }
    PQclear(res);
    return rc;
}

static sr_status
pg_jobs_purge(sr_store *st, int64_t now_ms, size_t *n, sr_err *err)
{
    struct purge_arg a = {now_ms, 0};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_jobs_purge, &a, err);
    if (rc == SR_OK && n)
        *n = a.n;
    return rc;
}

static sr_status
pg_jobs_count(sr_store *st, int64_t *total, sr_err *err)
{
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOBS_COUNT, NULL, &res,
                                     "cannot count jobs", err);
    if (rc == SR_OK)
        *total = sr_store__pg_col_int(res, 0, 0);
    PQclear(res);
    return rc;
}

/* --- the ops table --- */

/* Several daemons share one store: they must share its key. The first
 * open with keys records a check value (a keyed hash of a constant: it
 * tells nothing about the key) in store_meta; an open with another key is
 * refused before it could fail other daemons' jobs as unreadable. */
static sr_status
tx_key_check(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const uint8_t *key = arg;
    uint8_t mac[16];
    static const char what[] = "sealrun store key check v1";
    crypto_generichash(mac, sizeof(mac), (const uint8_t *)what, sizeof(what) - 1, key, 32);
    char name[64] = "key_check:";
    sr_hex_encode(mac, sizeof(mac), name + strlen(name));
    sr_status rc = sr_store__pg_lock(s, c, "sealrun.key_check", err);
    struct pg_args a = {0};
    sr_store__pg_text(&a, name);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_KEY_CHECK, &a, &res, "cannot check the store key", err);
    int64_t mine = rc == SR_OK ? sr_store__pg_col_int(res, 0, 0) : 0;
    int64_t any = rc == SR_OK ? sr_store__pg_col_int(res, 0, 1) : 0;
    PQclear(res);
    if (rc == SR_OK && any > 0 && mine == 0)
        return sr_err_set(err, SR_ECONFLICT,
                          "database '%s' is the store of daemons with another COMPUTE_MASTER_KEY: "
                          "every daemon of a cluster needs the same master keys",
                          s->shown);
    if (rc == SR_OK && any == 0)
        rc = sr_store__pg_run(s, c, PG_KEY_CHECK_PUT, &a, NULL, "cannot record the store key", err);
    return rc;
}

static sr_status
pg_open(const char *target, const uint8_t *seal_key, sr_store **out, sr_err *err)
{
    /* a PostgreSQL store never held clear rows (schema/postgres/0001): nothing to seal */
    struct pg_store *s = NULL;
    sr_status rc = sr_store__pg_open(target, &s, err);
    if (rc == SR_OK && seal_key)
        rc = sr_store__pg_tx(s, tx_key_check, (void *)(uintptr_t)seal_key, err);
    if (rc != SR_OK) {
        sr_store__pg_close(s);
        return rc;
    }
    *out = &s->base;
    return rc;
}

static void
pg_close(sr_store *st)
{
    sr_store__pg_close((struct pg_store *)st);
}

static int
pg_schema_version(sr_store *st)
{
    return ((struct pg_store *)st)->version;
}

static bool
pg_ping(sr_store *st)
{
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_PING, NULL, &res, "ping", NULL);
    bool ok = rc == SR_OK && PQntuples(res) == 1 && sr_store__pg_col_int(res, 0, 0) > 0;
    PQclear(res);
    return ok;
}

const struct sr_store_ops sr_store__pg_ops = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .ping = pg_ping,
    .token_add = pg_token_add,
    .token_get = pg_token_get,
    .token_list = pg_token_list,
    .token_revoke = pg_token_revoke,
    .job_insert = pg_job_insert,
    .job_update = pg_job_update,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_figures = pg_job_figures,
    .jobs_interrupt = pg_jobs_interrupt,
    .jobs_queued = pg_jobs_queued,
    .jobs_running = pg_jobs_running,
    .jobs_purge = pg_jobs_purge,
    .jobs_count = pg_jobs_count,
    .recording_put = pg_recording_put,
    .recording_get = pg_recording_get,
    .job_enqueue = sr_store__pg_job_enqueue,
    .job_start = sr_store__pg_job_start,
    .job_claim = sr_store__pg_job_claim,
    .job_renew = sr_store__pg_job_renew,
    .job_finish = sr_store__pg_job_finish,
    .job_end = sr_store__pg_job_end,
    .jobs_expired = sr_store__pg_jobs_expired,
    .jobs_reclaim = sr_store__pg_jobs_reclaim,
    .job_take = sr_store__pg_job_take,
    .jobs_stale = sr_store__pg_jobs_stale,
    .wait_jobs = sr_store__pg_wait_jobs,
    .webhook_add = sr_store__pg_webhook_add,
    .webhooks_claim = sr_store__pg_webhooks_claim,
    .webhook_attempt = sr_store__pg_webhook_attempt,
    .webhook_get = sr_store__pg_webhook_get,
    .daemon_beat = sr_store__pg_daemon_beat,
    .daemons = sr_store__pg_daemons,
    .worker_add = sr_store__pg_worker_add,
    .worker_get = sr_store__pg_worker_get,
    .worker_register = sr_store__pg_worker_register,
    .worker_seen = sr_store__pg_worker_seen,
    .worker_list = sr_store__pg_worker_list,
    .worker_set_state = sr_store__pg_worker_set_state,
    .module_put = sr_store__pg_module_put,
    .module_get = sr_store__pg_module_get,
    .module_touch = sr_store__pg_module_touch,
    .module_delete = sr_store__pg_module_delete,
    .module_list = sr_store__pg_module_list,
    .module_usage = sr_store__pg_module_usage,
    .modules_expire = sr_store__pg_modules_expire,
    .secret_get = sr_store__pg_secret_get,
    .secret_put = sr_store__pg_secret_put,
    .secret_policy = sr_store__pg_secret_policy,
    .secret_delete = sr_store__pg_secret_delete,
    .secret_list = sr_store__pg_secret_list,
    .audit_add = sr_store__pg_audit_add,
    .audit_list = sr_store__pg_audit_list,
    .audit_purge = sr_store__pg_audit_purge,
    .kv_ns = sr_store__pg_kv_ns,
    .kv_get = sr_store__pg_kv_get,
    .kv_snapshot = sr_store__pg_kv_snapshot,
    .kv_commit = sr_store__pg_kv_commit,
    .kv_namespaces = sr_store__pg_kv_namespaces,
    .kv_upgrade = sr_store__pg_kv_upgrade,
    .hold_add = sr_store__pg_hold_add,
    .hold_get = sr_store__pg_hold_get,
    .hold_settle = sr_store__pg_hold_settle,
    .holds_release = sr_store__pg_holds_release,
    .money_purge = sr_store__pg_money_purge,
    .usage_get = sr_store__pg_usage_get,
    .balance = sr_store__pg_balance,
    .credit = sr_store__pg_credit,
    .ledger_list = sr_store__pg_ledger_list,
    .storage_charge = sr_store__pg_storage_charge,
};
