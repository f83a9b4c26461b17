/* SPDX-License-Identifier: MIT
 *
 * store_pg_int.h - private to the PostgreSQL backend (store_pg.c, tokens
 * and jobs; store_pg_modules.c, store_pg_secrets.c, store_pg_storage.c;
 * store_pg_db.c, the pool, statements, transactions and migrations).
 *
 * Connections: a pool of at most PG_POOL libpq connections, handed out
 * from a free list; a caller waits while all are in use. Each connection
 * prepares the statements of sr_store__pg_sql[] lazily, once. Every
 * session runs with statement_timeout (PG_STATEMENT_TIMEOUT_MS) and
 * idle_in_transaction_session_timeout set, so no query and no forgotten
 * transaction can hold the database for long. A connection found broken
 * is closed and opened again at its next use; failed attempts back off
 * (PG_BACKOFF_MIN_MS doubling to PG_BACKOFF_MAX_MS), and while the
 * database is unreachable calls fail fast with SR_EIO and the last cause
 * (GET /ready answers 503 through sr_store_ping).
 *
 * Results are in text format (integers parsed, bytea unescaped);
 * parameters are text, blobs binary. Multi-statement writes run in one
 * transaction on one connection (sr_store__pg_tx); checks that span rows
 * of several daemons (quotas, counters) serialise on a transaction-level
 * advisory lock named for what they guard (sr_store__pg_lock).
 */
#ifndef SR_STORE_PG_INT_H
#define SR_STORE_PG_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_int.h"

#define PG_POOL 8                     /* connections per store (per daemon) */
#define PG_STATEMENT_TIMEOUT_MS 10000 /* any one statement */
#define PG_IDLE_TX_TIMEOUT_MS 30000   /* a transaction left open */
#define PG_CONNECT_TIMEOUT_S "5"      /* libpq connect_timeout */
#define PG_BACKOFF_MIN_MS 100         /* first retry after a failed connect */
#define PG_BACKOFF_MAX_MS 5000        /* at most this long between attempts */
#define PG_MAX_ARGS 16                /* parameters of one statement */

/* keep in sync with sr_store__pg_sql[] in store_pg.c */
enum pg_stmt {
    PG_PING,
    PG_LOCK,
    PG_TOKEN_ADD,
    PG_TOKEN_GET,
    PG_TOKEN_LIST_ALL,
    PG_TOKEN_LIST_OWNER,
    PG_TOKEN_MATCH,
    PG_TOKEN_REVOKE,
    PG_JOB_INSERT,
    PG_JOB_UPDATE,
    PG_JOB_GET,
    PG_JOB_CURSOR,
    PG_JOB_LIST_FIRST,
    PG_JOB_LIST_AFTER,
    PG_JOB_FIGURES,
    PG_JOBS_RUNNING_IDS,
    PG_JOB_INTERRUPT_ONE,
    PG_JOBS_QUEUED,
    PG_JOBS_RUNNING,
    PG_JOBS_PURGE,
    PG_JOBS_COUNT,
    PG_MODULE_PUT,
    PG_MODULE_OWN,
    PG_MODULE_GET,
    PG_MODULE_CLAIM,
    PG_MODULE_USAGE,
    PG_MODULE_TOUCH,
    PG_MODULE_DISOWN,
    PG_MODULE_FREE,
    PG_MODULE_CURSOR,
    PG_MODULE_LIST_FIRST,
    PG_MODULE_LIST_AFTER,
    PG_MODULES_STALE,
    PG_SECRET_GET,
    PG_SECRET_COUNT,
    PG_SECRET_INSERT,
    PG_SECRET_UPDATE,
    PG_SECRET_POLICY,
    PG_SECRET_DELETE,
    PG_SECRET_LIST,
    PG_AUDIT_ADD,
    PG_AUDIT_WINDOW,
    PG_AUDIT_SUMMARY,
    PG_AUDIT_LIST,
    PG_AUDIT_PURGE,
    PG_KV_NS,
    PG_KV_GET,
    PG_KV_SCAN,
    PG_KV_VERSION,
    PG_KV_PUT,
    PG_KV_DELETE,
    PG_KV_NS_PUT,
    PG_KV_NS_LIST,
    PG_KV_OWNER,
    PG_KV_OWNER_PUT,
    PG_QUEUE_COUNT,
    PG_KEY_CHECK,
    PG_KEY_CHECK_PUT,
    PG_NOTIFY,
    PG_NOTIFY_OWNER,
    PG_TRY_LOCK,
    PG_JOB_INSERT_LEASED,
    PG_CLAIM_CANDIDATES,
    PG_CLAIM_ONE,
    PG_TURN_PUT,
    PG_JOBS_RECLAIM,
    PG_JOB_RENEW,
    PG_JOB_FINISH,
    PG_JOBS_EXPIRED,
    PG_JOB_TAKE,
    PG_JOBS_STALE,
    PG_WEBHOOK_ADD,
    PG_WEBHOOKS_CLAIM,
    PG_WEBHOOK_ATTEMPT_ADD,
    PG_WEBHOOK_SET,
    PG_WEBHOOK_GET,
    PG_WEBHOOK_ATTEMPTS,
    PG_DAEMON_BEAT,
    PG_DAEMONS,
    PG_DAEMONS_PURGE,
    PG_RECORDING_PUT,
    PG_RECORDING_GET,
    PG_RECORDINGS_PURGE,
    PG_WEBHOOKS_ORPHANS_PURGE,
    PG_USAGE_GET,
    PG_USAGE_ADD,
    PG_USAGE_SUB,
    PG_USAGE_PURGE,
    PG_HOLD_INSERT,
    PG_HOLD_GET,
    PG_HOLD_OWNER,
    PG_HOLD_CLOSE,
    PG_HOLDS_DANGLING,
    PG_HOLDS_PURGE,
    PG_BALANCE_GET,
    PG_BALANCE_TAKE,
    PG_BALANCE_ADD,
    PG_LEDGER_ADD,
    PG_LEDGER_LIST,
    PG_STORAGE_DUE,
    PG_STORAGE_MARK,
    PG_STORAGE_MARKS_PURGE,
    PG_WORKER_ADD,
    PG_WORKER_GET,
    PG_WORKER_LOCK,
    PG_WORKER_LIST,
    PG_WORKER_MATCH,
    PG_WORKER_REGISTER,
    PG_WORKER_SEEN,
    PG_WORKER_STATE,
    PG__COUNT
};
extern const char *const sr_store__pg_sql[PG__COUNT];

struct pg_conn {
    PGconn *db;                /* NULL until connected, and after it broke */
    bool prepared[PG__COUNT];  /* statements prepared on db */
    bool in_tx;                /* inside sr_store__pg_tx */
    struct pg_conn *next_free; /* under mu */
};

struct pg_store {
    struct sr_store base; /* first: base.ops == &sr_store__pg_ops */
    char *target;         /* the connection URI as given (owned) */
    char *shown;          /* the same without a password, for messages (owned) */
    int version;          /* schema version after migrations */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t freed;
    struct pg_conn conns[PG_POOL];
    struct pg_conn *free;
    pthread_mutex_t lmu; /* guards 'listener' (sr_store_wait_jobs) */
    PGconn *listener;    /* LISTEN sealrun_jobs; NULL until the first wait */
    int64_t retry_at_ms; /* no connect attempt before this */
    int64_t backoff_ms;  /* 0 while connected */
    char cause[256];     /* why the last attempt failed */
};

/* Parameters of one statement; 'v' may point into 'num'. Do not copy. */
struct pg_args {
    int n;
    const char *v[PG_MAX_ARGS];
    int len[PG_MAX_ARGS];
    int fmt[PG_MAX_ARGS];
    char num[PG_MAX_ARGS][24];
};
void sr_store__pg_text(struct pg_args *a, const char *s); /* NULL is NULL */
void sr_store__pg_int(struct pg_args *a, int64_t v);
void sr_store__pg_ms(struct pg_args *a, int64_t ms);                  /* 0 is NULL */
void sr_store__pg_blob(struct pg_args *a, const void *p, size_t len); /* NULL is NULL */

/* Opens the pool (one connection now: the database must answer), applies
 * migrations under an advisory lock (several daemons may start together).
 * Returns owned: sr_store__pg_close. */
sr_status sr_store__pg_open(const char *target, struct pg_store **out, sr_err *err);
void sr_store__pg_close(struct pg_store *s);

/* A new session (with the pool's settings and backoff), for the listener.
 * Owned *out: PQfinish. */
sr_status sr_store__pg_connect(struct pg_store *s, PGconn **out, sr_err *err);

/* Borrows a connected connection (waits while all are in use; connects or
 * reconnects under the backoff: SR_EIO naming the cause when it cannot).
 * Give it back with _put, which drops it if it is broken or left inside a
 * transaction. */
sr_status sr_store__pg_get(struct pg_store *s, struct pg_conn **out, sr_err *err);
void sr_store__pg_put(struct pg_store *s, struct pg_conn *c);

/* Runs statement id with a (NULL: none). *res (may be NULL: dropped) is
 * owned (PQclear). Unique violations are SR_ECONFLICT, other constraint
 * failures SR_EINVAL, anything else SR_EIO with the server's message after
 * "<what>: ". A statement outside a transaction that meets a broken
 * connection is retried once on a new one when it is a read (SELECT). */
sr_status sr_store__pg_run(struct pg_store *s, struct pg_conn *c, enum pg_stmt id,
                           const struct pg_args *a, PGresult **res, const char *what, sr_err *err);
/* The same on a connection borrowed for this one statement. */
sr_status sr_store__pg_run1(struct pg_store *s, enum pg_stmt id, const struct pg_args *a,
                            PGresult **res, const char *what, sr_err *err);
/* Rows a write changed (PQcmdTuples). */
uint64_t sr_store__pg_changes(PGresult *res);

/* A write in one transaction: begins, runs fn, commits (or rolls back when
 * fn fails: its status stays). */
typedef sr_status (*pg_tx_fn)(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err);
sr_status sr_store__pg_tx(struct pg_store *s, pg_tx_fn fn, void *arg, sr_err *err);
/* A consistent read in one REPEATABLE READ, READ ONLY transaction. */
sr_status sr_store__pg_snapshot(struct pg_store *s, pg_tx_fn fn, void *arg, sr_err *err);
/* Takes the transaction-level advisory lock named 'name' (released at the
 * transaction's end); inside sr_store__pg_tx only. */
sr_status sr_store__pg_lock(struct pg_store *s, struct pg_conn *c, const char *name, sr_err *err);

/* The same lock if it is free now (*got), without waiting. */
sr_status sr_store__pg_try_lock(struct pg_store *s, struct pg_conn *c, const char *name, bool *got,
                                sr_err *err);

/* Column readers for row r, column i. NULL reads as 0 / NULL. */
int64_t sr_store__pg_col_int(const PGresult *res, int r, int i);
sr_status sr_store__pg_col_dup(const PGresult *res, int r, int i, char **out, sr_err *err);
/* A bytea column as an owned buffer (malloc; at least one byte). */
sr_status sr_store__pg_col_blob(const PGresult *res, int r, int i, uint8_t **out, size_t *len,
                                sr_err *err);
/* A bytea column of exactly n bytes into out. */
sr_status sr_store__pg_col_fixed(const PGresult *res, int r, int i, uint8_t *out, size_t n,
                                 sr_err *err);
/* Opens a sealed bytea column into an owned NUL-terminated string (NULL
 * stays NULL). */
sr_status sr_store__pg_col_open(const uint8_t *key, const PGresult *res, int r, int i,
                                const char *field, const char *owner, const char *record,
                                char **out, size_t *out_len, sr_err *err);

/* Remote workers (store_pg_workers.c): the contracts of sr_store.h. */
sr_status sr_store__pg_worker_add(sr_store *st, const uint8_t hash[32], const char *name,
                                  int64_t now_ms, sr_err *err);
sr_status sr_store__pg_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                                  sr_err *err);
sr_status sr_store__pg_worker_register(sr_store *st, const uint8_t hash[32],
                                       const struct sr_worker_reg *r, struct sr_worker_row *out,
                                       sr_err *err);
sr_status sr_store__pg_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms,
                                   sr_err *err);
sr_status sr_store__pg_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n,
                                   sr_err *err);
sr_status sr_store__pg_worker_set_state(sr_store *st, const char *id_prefix,
                                        enum sr_worker_state state, int64_t now_ms,
                                        struct sr_worker_row *out, sr_err *err);

/* Modules (store_pg_modules.c), secrets and audit (store_pg_secrets.c),
 * storage (store_pg_storage.c): the contracts of sr_store.h. */
sr_status sr_store__pg_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                                  struct sr_module_usage *usage, sr_err *err);
sr_status sr_store__pg_module_get(sr_store *st, const char *owner, const char *hash_hex,
                                  struct sr_module_row *out, sr_err *err);
sr_status sr_store__pg_module_touch(sr_store *st, const char *owner, const char *hash_hex,
                                    int64_t now_ms, sr_err *err);
sr_status sr_store__pg_module_delete(sr_store *st, const char *owner, const char *hash_hex,
                                     bool *freed, sr_err *err);
sr_status sr_store__pg_module_list(sr_store *st, const char *owner, size_t limit,
                                   const char *before_hash, struct sr_module_meta **rows, size_t *n,
                                   sr_err *err);
sr_status sr_store__pg_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out,
                                    sr_err *err);
sr_status sr_store__pg_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max,
                                      size_t *claims, size_t *freed, sr_err *err);

sr_status sr_store__pg_secret_get(sr_store *st, const char *owner, const char *name,
                                  struct sr_secret_stored *out, sr_err *err);
sr_status sr_store__pg_secret_put(sr_store *st, const char *owner, const char *name,
                                  uint64_t expected_version, const uint8_t *blob, size_t len,
                                  int64_t now_ms, sr_err *err);
sr_status sr_store__pg_secret_policy(sr_store *st, const char *owner, const char *name,
                                     const char *policy_json, int64_t now_ms, sr_err *err);
sr_status sr_store__pg_secret_delete(sr_store *st, const char *owner, const char *name,
                                     sr_err *err);
sr_status sr_store__pg_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **rows,
                                   size_t *n, sr_err *err);
sr_status sr_store__pg_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err);
sr_status sr_store__pg_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                                  int64_t before_id, struct sr_audit_row **rows, size_t *n,
                                  sr_err *err);
sr_status sr_store__pg_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n,
                                   sr_err *err);

sr_status sr_store__pg_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id,
                             struct sr_kv_ns *out, sr_err *err);
sr_status sr_store__pg_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id,
                              const uint8_t *key_id, struct sr_kv_row *out, sr_err *err);
sr_status sr_store__pg_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                                   struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                                   struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows,
                                   sr_err *err);
sr_status sr_store__pg_kv_commit(sr_store *st, const struct sr_kv_commit *c,
                                 struct sr_kv_result *res, sr_err *err);
/* The body of sr_store__pg_kv_commit inside the caller's transaction on c
 * (the owner's storage lock, the version check, the writes, the counters):
 * a job's end applies its write set with it. */
sr_status sr_store__pg_kv_apply(struct pg_store *s, struct pg_conn *c, const struct sr_kv_commit *k,
                                struct sr_kv_result *res, sr_err *err);
sr_status sr_store__pg_kv_namespaces(sr_store *st, const char *owner, size_t max_rows,
                                     struct sr_kv_ns_row **rows, size_t *n,
                                     struct sr_kv_usage *usage, sr_err *err);
/* The cluster queue and heartbeats (store_pg_queue.c). */
sr_status sr_store__pg_job_enqueue(sr_store *st, const struct sr_job_row *row, unsigned max_queued,
                                   sr_err *err);
sr_status sr_store__pg_job_start(sr_store *st, const struct sr_job_row *row, unsigned max_running,
                                 struct sr_lease *lease, sr_err *err);
sr_status sr_store__pg_job_claim(sr_store *st, int64_t now_ms, unsigned max_running,
                                 struct sr_lease *lease, struct sr_job_row *out, sr_err *err);
sr_status sr_store__pg_job_renew(sr_store *st, const char *id, const struct sr_lease *lease,
                                 sr_err *err);
sr_status sr_store__pg_job_finish(sr_store *st, const struct sr_job_row *row,
                                  const struct sr_lease *lease, sr_err *err);
sr_status sr_store__pg_job_end(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res,
                               sr_err *err);
sr_status sr_store__pg_jobs_expired(sr_store *st, int64_t now_ms, const struct sr_lease *lease,
                                    size_t max, struct sr_job_row **rows, uint64_t **fences,
                                    size_t *n, sr_err *err);
sr_status sr_store__pg_jobs_reclaim(sr_store *st, const struct sr_lease *lease, size_t max,
                                    struct sr_job_row **rows, uint64_t **fences, size_t *n,
                                    sr_err *err);
sr_status sr_store__pg_job_take(sr_store *st, const char *owner, const char *id,
                                struct sr_lease *lease, struct sr_job_row *out, sr_err *err);
sr_status sr_store__pg_jobs_stale(sr_store *st, int64_t created_before_ms,
                                  const struct sr_lease *lease, size_t max,
                                  struct sr_job_row **rows, uint64_t **fences, size_t *n,
                                  sr_err *err);
bool sr_store__pg_wait_jobs(sr_store *st, int timeout_ms);
/* Completion webhooks (store_pg_webhooks.c). */
sr_status sr_store__pg_webhook_add(sr_store *st, const char *owner, const char *job_id,
                                   int64_t now_ms, sr_err *err);
sr_status sr_store__pg_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms,
                                      int64_t until_ms, size_t max, unsigned per_owner,
                                      struct sr_webhook_row **rows, size_t *n, sr_err *err);
sr_status sr_store__pg_webhook_attempt(sr_store *st, const char *holder,
                                       const struct sr_webhook_row *w,
                                       const struct sr_webhook_attempt *a,
                                       enum sr_webhook_state next, int64_t next_at_ms, sr_err *err);
sr_status sr_store__pg_webhook_get(sr_store *st, const char *owner, const char *job_id,
                                   enum sr_webhook_state *state, struct sr_webhook_attempt **rows,
                                   size_t *n, sr_err *err);
sr_status sr_store__pg_daemon_beat(sr_store *st, const struct sr_daemon_row *d, sr_err *err);
sr_status sr_store__pg_daemons(sr_store *st, int64_t since_ms, size_t max,
                               struct sr_daemon_row **rows, size_t *n, sr_err *err);
/* Job rows as the queue statements return them (JOB_COLS, then the fence
 * in column 13). store_pg.c */
sr_status sr_store__pg_read_job(const uint8_t *key, const PGresult *res, int r,
                                struct sr_job_row *row, sr_err *err);
/* The job columns' parameters $1..$13 of an insert, sealed (owned *sealed
 * blobs freed by the caller: free(req), free(result)). store_pg.c */
sr_status sr_store__pg_job_args(const uint8_t *key, const struct sr_job_row *r, bool insert,
                                struct pg_args *a, uint8_t **req, uint8_t **result, sr_err *err);

sr_status sr_store__pg_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved,
                                  sr_err *err);

/* Budgets, holds, balances and the ledger (store_pg_money.c). */
sr_status sr_store__pg_hold_add(sr_store *st, const struct sr_hold_new *h,
                                struct sr_hold_refusal *why, sr_err *err);
sr_status sr_store__pg_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out,
                                sr_err *err);
sr_status sr_store__pg_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled,
                                   sr_err *err);
sr_status sr_store__pg_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max,
                                     size_t *n, sr_err *err);
sr_status sr_store__pg_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err);
sr_status sr_store__pg_usage_get(sr_store *st, const char *subject, int64_t day,
                                 struct sr_usage *out, sr_err *err);
sr_status sr_store__pg_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err);
sr_status sr_store__pg_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                              const char *note, int64_t now_ms, uint64_t *balance, sr_err *err);
sr_status sr_store__pg_storage_charge(sr_store *st, int64_t day, uint64_t price, int64_t now_ms,
                                      size_t max, size_t *n, sr_err *err);
sr_status sr_store__pg_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                                   struct sr_ledger_row **rows, size_t *n, sr_err *err);

#endif /* SR_STORE_PG_INT_H */
