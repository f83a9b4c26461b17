/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_int.h - private to the SQLite backend (store_sqlite.c, the
 * operations; store_sqlite_db.c, connections, migrations and group commit).
 *
 * Connections: one writer, used only by the current group-commit leader,
 * and SQ_READERS readers handed out from a free list. In WAL mode readers
 * never block the writer and see every committed write, so a caller reads
 * its own writes. Each connection caches its prepared statements
 * (lazily, SQLITE_PREPARE_PERSISTENT); a statement is reset and unbound
 * after every use (sr_store__sq_done), so no read transaction stays open.
 *
 * Writes go through sr_store__sq_write: callers queue a write function; one
 * of them (the leader) runs every queued write in one transaction, each in
 * its own savepoint, commits once (one fsync for the batch), and wakes the
 * others. Each caller returns only after the commit that holds its write.
 */
#ifndef SR_STORE_SQLITE_INT_H
#define SR_STORE_SQLITE_INT_H

#include <pthread.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store_int.h"

#define SQ_READERS 4     /* read connections; more than the cores, fewer than the callers */
#define SQ_BATCH_MAX 256 /* writes per group commit */
#define SQ_BUSY_MS 5000  /* wait for another process's write lock (CLI vs daemon) */

/* keep in sync with sr_store__sq_sql[] in store_sqlite.c */
enum sq_stmt {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ_PING,
    SQ_TOKEN_ADD,
    SQ_TOKEN_GET,
    SQ_TOKEN_LIST_ALL,
    SQ_TOKEN_LIST_OWNER,
    SQ_TOKEN_MATCH,
    SQ_TOKEN_REVOKE,
    SQ_JOB_INSERT,
    SQ_JOB_UPDATE,
    SQ_JOB_GET,
    SQ_JOB_CURSOR,
    SQ_JOB_LIST_FIRST,
    SQ_JOB_LIST_AFTER,
    SQ_JOB_FIGURES,
    SQ_JOBS_RUNNING_IDS,
    SQ_JOB_INTERRUPT_ONE,
    SQ_JOBS_QUEUED,
    SQ_JOBS_RUNNING,
    SQ_JOBS_PURGE,
    SQ_JOBS_COUNT,
    SQ_RECORDING_PUT,
    SQ_RECORDING_GET,
    SQ_RECORDINGS_PURGE,
    SQ_WEBHOOKS_ORPHANS_PURGE,
    SQ_MODULE_PUT,
    SQ_MODULE_OWN,
    SQ_MODULE_GET,
    SQ_MODULE_CLAIM,
    SQ_MODULE_USAGE,
    SQ_MODULE_TOUCH,
    SQ_MODULE_DISOWN,
    SQ_MODULE_FREE,
    SQ_MODULE_CURSOR,
    SQ_MODULE_LIST_FIRST,
    SQ_MODULE_LIST_AFTER,
    SQ_MODULES_STALE,
    SQ_SECRET_GET,
    SQ_SECRET_COUNT,
    SQ_SECRET_INSERT,
    SQ_SECRET_UPDATE,
    SQ_SECRET_POLICY,
    SQ_SECRET_DELETE,
    SQ_SECRET_LIST,
    SQ_AUDIT_ADD,
    SQ_AUDIT_WINDOW,
    SQ_AUDIT_SUMMARY,
    SQ_AUDIT_LIST,
    SQ_AUDIT_PURGE,
    SQ_KV_NS,
    SQ_KV_GET,
    SQ_KV_SNAPSHOT,
    SQ_KV_SCAN,
    SQ_KV_VERSION,
    SQ_KV_PUT,
    SQ_KV_DELETE,
    SQ_KV_NS_PUT,
    SQ_KV_NS_LIST,
    SQ_KV_OWNER,
    SQ_KV_OWNER_PUT,
    SQ_WORKER_ADD,
    SQ_WORKER_GET,
    SQ_WORKER_LIST,
    SQ_WORKER_MATCH,
    SQ_WORKER_REGISTER,
    SQ_WORKER_SEEN,
    SQ_WORKER_STATE,
    SQ_JOB_FINISH,
    SQ_USAGE_GET,
    SQ_USAGE_ADD,
    SQ_USAGE_SUB,
    SQ_USAGE_PURGE,
    SQ_HOLD_INSERT,
    SQ_HOLD_GET,
    SQ_HOLD_CLOSE,
    SQ_HOLDS_DANGLING,
    SQ_HOLDS_PURGE,
    SQ_BALANCE_GET,
    SQ_BALANCE_TAKE,
    SQ_BALANCE_ADD,
    SQ_LEDGER_ADD,
    SQ_LEDGER_LIST,
    SQ_STORAGE_DUE,
    SQ_STORAGE_MARK,
    SQ_STORAGE_MARKS_PURGE,
    SQ_WEBHOOK_ADD,
    SQ_WEBHOOK_DUE,
    SQ_WEBHOOK_CLAIM,
    SQ_WEBHOOK_ATTEMPT_ADD,
    SQ_WEBHOOK_SET,
    SQ_WEBHOOK_GET,
    SQ_WEBHOOK_ATTEMPTS,
    SQ__COUNT
};
extern const char *const sr_store__sq_sql[SQ__COUNT];

struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQ__COUNT]; /* NULL until first use */
    struct sq_conn *next_free;     /* readers: free list link, under rlock */
};

struct sq_write; /* a queued write, on its caller's stack */

struct sq_store {
    struct sr_store base; /* first: base.ops == &sr_store__sqlite_ops */
    char *path;
    int version; /* schema version after migrations */

    struct sq_conn writer; /* only the leader touches it */
    pthread_mutex_t wlock; /* guards everything below up to the readers */
    pthread_cond_t wdone;  /* signalled after every batch */
    struct sq_write *head; /* queued writes not yet taken by a leader */
    struct sq_write *tail;
    bool has_leader;
    uint64_t commits; /* transactions committed by group commit */
    uint64_t writes;  /* writes they carried */

    pthread_mutex_t rlock; /* guards free_readers */
    pthread_cond_t rfree;
    struct sq_conn readers[SQ_READERS];
    struct sq_conn *free_readers;
};

/* A write run by the leader inside the batch transaction, on the writer. */
typedef sr_status (*sq_write_fn)(struct sq_conn *c, void *arg, sr_err *err);

/* Opens connections, sets WAL/synchronous/busy_timeout/foreign keys, applies
 * migrations and, with 'seal_key' (borrowed), seals legacy rows
 * (sr_store__sq_seal_legacy). Returns owned: sr_store__sq_close. */
sr_status sr_store__sq_open(const char *path, const uint8_t *seal_key, struct sq_store **out,
                            sr_err *err);
void sr_store__sq_close(struct sq_store *s);

/* Queues 'fn' and returns once a commit holding it is durable (or it failed). */
sr_status sr_store__sq_write(struct sq_store *s, sq_write_fn fn, void *arg, sr_err *err);

/* Borrows a reader (waits while all are in use); give it back with _put. */
struct sq_conn *sr_store__sq_reader(struct sq_store *s);
void sr_store__sq_reader_put(struct sq_store *s, struct sq_conn *c);

/* The cached statement 'id' of c, ready to bind. */
sr_status sr_store__sq_stmt(struct sq_conn *c, enum sq_stmt id, sqlite3_stmt **out, sr_err *err);
/* Resets and unbinds a statement after use. NULL is a no-op. */
void sr_store__sq_done(sqlite3_stmt *stmt);
/* Maps a SQLite failure to a status (constraint on a key: SR_ECONFLICT, no
 * memory: SR_ENOMEM, else SR_EIO) with the message "<what>: <sqlite message>". */
sr_status sr_store__sq_fail(sqlite3 *db, int rc, sr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Row and statement helpers shared by the backend's files (store_sqlite.c). */
int sr_store__sq_bind_text(sqlite3_stmt *stmt, int i, const char *s); /* NULL binds NULL */
sr_status sr_store__sq_bind_failed(sqlite3_stmt *stmt, int rc, sr_err *err);
sr_status sr_store__sq_col_dup(sqlite3_stmt *stmt, int i, char **out, sr_err *err);
sr_status sr_store__sq_step_done(sqlite3_stmt *stmt, sr_err *err, const char *what,
                                 const char *subject);

/* Steps a bound statement to its end, reading each row into a growing array
 * of 'size'-byte rows with 'read' (which gets 'ctx' and leaves a row empty
 * when it fails). On failure every row read is released with 'fini' and
 * nothing is returned; 'what' names the rows in the message. Returns owned
 * *out (free()). */
typedef sr_status (*sr_store__sq_row_fn)(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err);
typedef void (*sr_store__sq_fini_fn)(void *row);
sr_status sr_store__sq_collect(sqlite3_stmt *stmt, size_t size, sr_store__sq_row_fn read, void *ctx,
                               sr_store__sq_fini_fn fini, const char *what, void **out,
                               size_t *out_n, sr_err *err);

/* Opens sealed column i of the current row into an owned NUL-terminated
 * string, its length in *out_len (may be NULL); NULL stays NULL. A column
 * in clear (a legacy row) is SR_EIO. */
sr_status sr_store__sq_col_open(const uint8_t *key, sqlite3_stmt *stmt, int i, const char *field,
                                const char *owner, const char *record, char **out, size_t *out_len,
                                sr_err *err);
/* Binds a sealed blob (NULL binds NULL). */
int sr_store__sq_bind_blob(sqlite3_stmt *stmt, int i, const uint8_t *p, size_t len);

/* Completion webhooks (store_sqlite_webhooks.c; sr_store.h). */
sr_status sr_store__sq_webhook_add(sr_store *st, const char *owner, const char *job_id,
                                   int64_t now_ms, sr_err *err);
sr_status sr_store__sq_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms,
                                      int64_t until_ms, size_t max, unsigned per_owner,
                                      struct sr_webhook_row **rows, size_t *n, sr_err *err);
sr_status sr_store__sq_webhook_attempt(sr_store *st, const char *holder,
                                       const struct sr_webhook_row *w,
                                       const struct sr_webhook_attempt *a,
                                       enum sr_webhook_state next, int64_t next_at_ms, sr_err *err);
sr_status sr_store__sq_webhook_get(sr_store *st, const char *owner, const char *job_id,
                                   enum sr_webhook_state *state, struct sr_webhook_attempt **rows,
                                   size_t *n, sr_err *err);

/* Seals the rows a sealrun from before at-rest sealing wrote in clear (jobs,
 * modules, policies), in one transaction on the writer, when the store_meta
 * flag says it is due; then compacts the file. store_sqlite_seal.c */
sr_status sr_store__sq_seal_legacy(struct sq_store *s, const uint8_t *key, sr_err *err);

/* Remote workers (store_sqlite_workers.c); see sr_store.h. */
sr_status sr_store__sq_worker_add(sr_store *st, const uint8_t hash[32], const char *name,
                                  int64_t now_ms, sr_err *err);
sr_status sr_store__sq_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                                  sr_err *err);
sr_status sr_store__sq_worker_register(sr_store *st, const uint8_t hash[32],
                                       const struct sr_worker_reg *r, struct sr_worker_row *out,
                                       sr_err *err);
sr_status sr_store__sq_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms,
                                   sr_err *err);
sr_status sr_store__sq_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n,
                                   sr_err *err);
sr_status sr_store__sq_worker_set_state(sr_store *st, const char *id_prefix,
                                        enum sr_worker_state state, int64_t now_ms,
                                        struct sr_worker_row *out, sr_err *err);

/* WebAssembly modules and their claims (store_sqlite_modules.c); see sr_store.h. */
sr_status sr_store__sq_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                                  struct sr_module_usage *usage, sr_err *err);
sr_status sr_store__sq_module_get(sr_store *st, const char *owner, const char *hash_hex,
                                  struct sr_module_row *out, sr_err *err);
sr_status sr_store__sq_module_touch(sr_store *st, const char *owner, const char *hash_hex,
                                    int64_t now_ms, sr_err *err);
sr_status sr_store__sq_module_delete(sr_store *st, const char *owner, const char *hash_hex,
                                     bool *freed, sr_err *err);
sr_status sr_store__sq_module_list(sr_store *st, const char *owner, size_t limit,
                                   const char *before_hash, struct sr_module_meta **rows, size_t *n,
                                   sr_err *err);
sr_status sr_store__sq_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out,
                                    sr_err *err);
sr_status sr_store__sq_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max,
                                      size_t *claims, size_t *freed, sr_err *err);

/* Secrets and their audit (store_sqlite_secrets.c); see sr_store.h. */
sr_status sr_store__sq_secret_get(sr_store *st, const char *owner, const char *name,
                                  struct sr_secret_stored *out, sr_err *err);
sr_status sr_store__sq_secret_put(sr_store *st, const char *owner, const char *name,
                                  uint64_t expected_version, const uint8_t *blob, size_t len,
                                  int64_t now_ms, sr_err *err);
sr_status sr_store__sq_secret_policy(sr_store *st, const char *owner, const char *name,
                                     const char *policy_json, int64_t now_ms, sr_err *err);
sr_status sr_store__sq_secret_delete(sr_store *st, const char *owner, const char *name,
                                     sr_err *err);
sr_status sr_store__sq_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **rows,
                                   size_t *n, sr_err *err);
sr_status sr_store__sq_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err);
sr_status sr_store__sq_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                                  int64_t before_id, struct sr_audit_row **rows, size_t *n,
                                  sr_err *err);
sr_status sr_store__sq_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n,
                                   sr_err *err);

/* Storage namespaces and entries (store_sqlite_storage.c); see sr_store.h. */
sr_status sr_store__sq_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id,
                             struct sr_kv_ns *out, sr_err *err);
sr_status sr_store__sq_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id,
                              const uint8_t *key_id, struct sr_kv_row *out, sr_err *err);
sr_status sr_store__sq_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                                   struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                                   struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows,
                                   sr_err *err);
/* Applies a write set on the writer inside the caller's write (the body
 * of sr_store__sq_kv_commit, for a job's end in the same savepoint). */
sr_status sr_store__sq_kv_apply(struct sq_conn *c, const struct sr_kv_commit *k,
                                struct sr_kv_result *res, sr_err *err);
sr_status sr_store__sq_kv_commit(sr_store *st, const struct sr_kv_commit *c,
                                 struct sr_kv_result *res, sr_err *err);
sr_status sr_store__sq_kv_namespaces(sr_store *st, const char *owner, size_t max_rows,
                                     struct sr_kv_ns_row **rows, size_t *n,
                                     struct sr_kv_usage *usage, sr_err *err);
sr_status sr_store__sq_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved,
                                  sr_err *err);

/* Budgets, holds, balances and the ledger (store_sqlite_money.c); see sr_store.h. */
sr_status sr_store__sq_hold_add(sr_store *st, const struct sr_hold_new *h,
                                struct sr_hold_refusal *why, sr_err *err);
sr_status sr_store__sq_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out,
                                sr_err *err);
sr_status sr_store__sq_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled,
                                   sr_err *err);
sr_status sr_store__sq_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max,
                                     size_t *n, sr_err *err);
sr_status sr_store__sq_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err);
sr_status sr_store__sq_usage_get(sr_store *st, const char *subject, int64_t day,
                                 struct sr_usage *out, sr_err *err);
sr_status sr_store__sq_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err);
sr_status sr_store__sq_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                              const char *note, int64_t now_ms, uint64_t *balance, sr_err *err);
sr_status sr_store__sq_storage_charge(sr_store *st, int64_t day, uint64_t price, int64_t now_ms,
                                      size_t max, size_t *n, sr_err *err);
sr_status sr_store__sq_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                                   struct sr_ledger_row **rows, size_t *n, sr_err *err);

#endif /* SR_STORE_SQLITE_INT_H */
