/* SPDX-License-Identifier: MIT
 *
 * sr_store.h - the persistent store: API tokens (hashed), jobs, modules,
 * secrets and storage. One interface, two backends (SQLite embedded, the
 * default; PostgreSQL for cluster mode, docs/cluster.md); store.c
 * dispatches through a const struct sr_store_ops.
 *
 * Every job lookup is scoped to its owner in the query itself: another
 * owner's job and a missing job are the same SR_ENOTFOUND. An acknowledged
 * write is durable when the call returns (it survives kill -9 of the
 * process). Thread-safe: any thread may call any function on one sr_store.
 *
 * SQLite backend: WAL with synchronous=FULL (every commit is fsynced, so it
 * also survives power loss); concurrent writes share one commit (group
 * commit), each caller returning only once the commit holding its write is
 * on disk. Several processes may open the same file (CLI and daemon). Do
 * not use a store across fork(): open it in the process that uses it.
 * Owner names are 1..SR_MAX_USER_NAME bytes (SR_EINVAL otherwise).
 *
 * At rest (docs/security-model.md): jobs' request_json and result_json,
 * module bytes and descriptions, and secret policies are sealed with the
 * store's subkey (XChaCha20-Poly1305; AAD binds field, owner and record id;
 * modules, shared by hash, bind the hash). A store opened without keys can
 * serve tokens, secret blobs, storage entries and the audit; any call that
 * reads or writes sealed data fails with SR_EINVAL saying the keys are
 * missing, and a sealed field that does not authenticate is SR_EIO.
 */
#ifndef SR_STORE_H
#define SR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_limits.h"

typedef struct sr_store sr_store;

#define SR_WEBHOOK_OWNER_MAX 64    /* = SR_MAX_USER_NAME */
#define SR_WEBHOOK_MAX_ATTEMPTS 12 /* attempts per webhook */

enum sr_job_state {
    SR_JOB_QUEUED = 0,
    SR_JOB_RUNNING = 1,
    SR_JOB_COMPLETED = 2,
    SR_JOB_FAILED = 3,
};

/* "queued", "running", "completed", "failed"; NULL for an unknown value. */
const char *sr_job_state_name(enum sr_job_state s);

struct sr_job_row {
    char id[33]; /* 32 hex characters, 128 random bits */
    char *owner; /* user name */
    enum sr_job_state state;
    char *runtime;          /* "js", "wasm" */
    char *request_json;     /* what is needed to run it (queued async jobs); may be NULL */
    char *result_json;      /* the finished job's response fields; NULL until finished */
    int64_t created_at_ms;  /* epoch ms */
    int64_t started_at_ms;  /* 0 until started */
    int64_t finished_at_ms; /* 0 until finished */
    int64_t expires_at_ms;  /* purged after this */
    /* A finished job's figures, kept in clear for GET /stats (0 and "" until
     * it finishes; rows from before migration 0007 read as 0 and ""). */
    uint64_t gas_used;   /* as the job object's gas_used */
    int64_t duration_us; /* wall time of the run */
    char error_code[32]; /* the job code of a failed job ("TIMEOUT"); "" when completed */
};

/* Frees what a row owns (strings). Safe on a zeroed row. */
void sr_job_row_fini(struct sr_job_row *row);

struct sr_token_row {
    char id[17]; /* first 16 hex characters of the token's SHA-256: safe to show */
    char *owner;
    char *label; /* may be NULL */
    int64_t created_at_ms;
    int64_t revoked_at_ms; /* 0 while valid */
    uint32_t scopes;       /* enum sr_scope bits (sr_scope.h); never 0 */
    int64_t expires_at_ms; /* epoch ms; 0 = never */
};
void sr_token_row_fini(struct sr_token_row *row);

/* Opens (creating it if missing, mode 0600) the SQLite database at 'path'
 * with WAL, applies pending migrations (schema/NNNN_*.sql, embedded) in
 * order, each in its own transaction. SR_EIO names the path and the cause
 * ("cannot open database '/x/y.db': ..."); SR_ECONFLICT if the file's schema
 * is newer than this build knows. Returns owned: sr_store_close().
 * Without keys (see the file comment): `sealrun token` opens this way; rows
 * written by a sealrun from before at-rest sealing stay as they are until
 * the next sr_store_open_sqlite_keyed(). */
sr_status sr_store_open_sqlite(const char *path, sr_store **out, sr_err *err);

/* The same with the master keys (borrowed for the call only): derives the
 * at-rest subkey (SR_LABEL_STORE_AT_REST of the compute master). After the
 * migrations, rows written by a sealrun from before at-rest sealing are
 * sealed in place in one transaction; the file is then compacted (VACUUM)
 * and its WAL truncated, so no clear copy stays in the files. Errors as
 * sr_store_open_sqlite(); a legacy row that cannot be sealed fails the open
 * with its id (nothing is changed). */
sr_status sr_store_open_sqlite_keyed(const char *path, const sr_keys *keys, sr_store **out,
                                     sr_err *err);

/* Opens the store a target names, with the master keys (borrowed for the
 * call; NULL opens without keys, as sr_store_open_sqlite):
 *   postgres://... or postgresql://...  PostgreSQL (libpq URI: user,
 *       password, host or socket directory, port, database, sslmode, ...);
 *       migrations in schema/postgres/ are applied under an advisory lock,
 *       so several daemons may start together. A bounded pool of
 *       connections (8), statement_timeout 10 s on every query; a lost
 *       connection is opened again with backoff (0.1 s doubling to 5 s) and
 *       sr_store_ping() is false meanwhile. The database must answer now.
 *   sqlite:PATH  the SQLite database file PATH (as sr_store_open_sqlite*).
 * Anything else is SR_EINVAL naming the accepted forms. Errors name the
 * target without its password. */
sr_status sr_store_open(const char *target, const sr_keys *keys, sr_store **out, sr_err *err);

/* Moves the SQLite store at sqlite_path into the empty PostgreSQL store at
 * pg_url (both migrated to this sealrun's schema first): every table row by
 * row in one transaction, then each table read back and compared row by
 * row with the source before the commit (nothing is left on failure).
 * Sealed columns move sealed: no master key is needed. SR_ECONFLICT when
 * the versions differ, the target is not empty, or the source still holds
 * rows from before at-rest sealing. The store's daemons must be stopped. */
struct sr_store_copy_report {
    uint64_t tables;
    uint64_t rows;
    bool verified;
};
sr_status sr_store_copy(const char *sqlite_path, const char *pg_url,
                        struct sr_store_copy_report *rep, sr_err *err);

/* "sqlite" or "postgres". */
const char *sr_store_backend(const sr_store *st);

/* Closes. NULL is a no-op. No call may be in progress. */
void sr_store_close(sr_store *st);

/* Schema version after migrations (for /info and tests). */
int sr_store_schema_version(sr_store *st);

/* true if the store answers a trivial query (for GET /ready). */
bool sr_store_ping(sr_store *st);

/* --- tokens --- */

/* A token to store (everything borrowed for the call). */
struct sr_token_new {
    const uint8_t *hash; /* 32 bytes: SHA-256 of the token (sr_token_hash) */
    const char *owner;
    const char *label;     /* may be NULL; at most 200 bytes */
    uint32_t scopes;       /* a non-empty subset of SR_SCOPES_ALL */
    int64_t expires_at_ms; /* epoch ms, after now_ms; 0 = never */
    int64_t now_ms;
};

/* Stores a new token's hash with its owner, scopes and expiry (copies).
 * SR_EINVAL for a bad owner, label, scope set or an expiry not after now;
 * SR_ECONFLICT if the hash exists. */
sr_status sr_store_token_create(sr_store *st, const struct sr_token_new *t, sr_err *err);
/* sr_store_token_create() with every scope but admin (SR_SCOPES_USER) and
 * no expiry. 'label' may be NULL. */
sr_status sr_store_token_add(sr_store *st, const uint8_t hash[32], const char *owner,
                             const char *label, int64_t now_ms, sr_err *err);
/* Loads the token with this hash if it is valid at now_ms (not revoked,
 * not expired). *out is filled (caller: sr_token_row_fini). SR_ENOTFOUND
 * when unknown, revoked or expired (one message for all three). */
sr_status sr_store_token_lookup(sr_store *st, const uint8_t hash[32], int64_t now_ms,
                                struct sr_token_row *out, sr_err *err);
/* Finds the owner of a token hash valid now (wall clock). *owner is owned
 * (free()). SR_ENOTFOUND when unknown, revoked or expired. */
sr_status sr_store_token_owner(sr_store *st, const uint8_t hash[32], char **owner, sr_err *err);
/* All tokens, newest first; *rows is an owned array of *n rows: free each with
 * sr_token_row_fini() and the array with free(). 'owner' NULL = every owner. */
sr_status sr_store_token_list(sr_store *st, const char *owner, struct sr_token_row **rows,
                              size_t *n, sr_err *err);
/* Revokes the token whose id (hash prefix, 8..64 lower-case hex characters,
 * unique) matches. SR_EINVAL for a malformed prefix, SR_ENOTFOUND when none,
 * SR_ECONFLICT when the prefix is ambiguous or the token is already revoked. */
sr_status sr_store_token_revoke(sr_store *st, const char *id_prefix, int64_t now_ms, sr_err *err);
/* The same among the tokens of 'owner' only (NULL = every owner's): another
 * owner's token is SR_ENOTFOUND, as a missing one. */
sr_status sr_store_token_revoke_owned(sr_store *st, const char *owner, const char *id_prefix,
                                      int64_t now_ms, sr_err *err);

/* --- jobs --- */

/* Inserts a job (copies every field). SR_EINVAL if the id is not 32
 * lower-case hex characters, the owner or runtime is empty or the state
 * unknown; SR_ECONFLICT on a duplicate id. */
sr_status sr_store_job_insert(sr_store *st, const struct sr_job_row *row, sr_err *err);
/* Updates state, result_json, started/finished/expires of the job with
 * row->id and row->owner. SR_ENOTFOUND if missing. */
sr_status sr_store_job_update(sr_store *st, const struct sr_job_row *row, sr_err *err);
/* Loads one job of 'owner'. *out is filled (caller: sr_job_row_fini).
 * SR_ENOTFOUND for another owner's job, a missing one, or an id that cannot
 * exist (any string is accepted, e.g. straight from a URL). */
sr_status sr_store_job_get(sr_store *st, const char *owner, const char *id, struct sr_job_row *out,
                           sr_err *err);
/* Which of an owner's jobs a listing shows; zero is "all". */
struct sr_job_filter {
    bool has_state; /* only jobs in 'state' */
    enum sr_job_state state;
    const char *runtime; /* "js" or "wasm"; NULL = any (borrowed) */
    int64_t since_ms;    /* created_at >= since_ms; 0 = no lower bound */
    int64_t until_ms;    /* created_at < until_ms; 0 = no upper bound */
};

/* Lists owner's jobs newest first (by created_at, then id), at most 'limit',
 * strictly older than the cursor job 'before_id' when not NULL (SR_ENOTFOUND
 * if that job is not the owner's), only those 'filter' lets through (NULL =
 * all; borrowed). request_json is not loaded. 'limit' 0 means
 * SR_DEFAULT_PAGE; above SR_MAX_PAGE + 1 is SR_EINVAL (the one extra row
 * tells a caller whether a next page exists). Owned array as for
 * sr_store_token_list. */
sr_status sr_store_job_list(sr_store *st, const char *owner, const struct sr_job_filter *filter,
                            size_t limit, const char *before_id, struct sr_job_row **rows,
                            size_t *n, sr_err *err);

/* One finished job as GET /stats counts it (strings borrowed for the call). */
struct sr_job_figures {
    int64_t finished_at_ms;
    enum sr_job_state state; /* SR_JOB_COMPLETED or SR_JOB_FAILED */
    const char *runtime;     /* "js", "wasm" */
    const char *error_code;  /* "" when completed or unknown */
    int64_t duration_us;     /* the run's wall time (from the times for old rows) */
    uint64_t gas_used;       /* 0 for rows from before migration 0007 */
};
typedef void (*sr_job_figures_fn)(void *ctx, const struct sr_job_figures *f);

/* Calls fn once per job of 'owner' that finished in [since_ms, until_ms), in
 * no particular order; fn must not call the store. Reads only clear columns
 * (no key needed). One pass over the owner's finished jobs in the window:
 * time linear in their number, memory constant. */
sr_status sr_store_job_figures(sr_store *st, const char *owner, int64_t since_ms, int64_t until_ms,
                               sr_job_figures_fn fn, void *ctx, sr_err *err);
/* At start: every 'running' job becomes 'failed' with result_json
 * 'interrupted_result_json' and finished_at now; returns how many in *n
 * (n may be NULL). Queued jobs stay queued (see sr_store_jobs_queued). */
sr_status sr_store_jobs_interrupt(sr_store *st, const char *interrupted_result_json, int64_t now_ms,
                                  size_t *n, sr_err *err);
/* Queued jobs of every owner, oldest first (to resume after a restart),
 * with request_json. Owned array as above. */
sr_status sr_store_jobs_queued(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err);
/* Jobs left 'running' (by a process that stopped), every owner, oldest first,
 * with request_json: at start, to fail each with its own signed receipt
 * before sr_store_jobs_interrupt() sweeps any that remain. Owned array as above. */
sr_status sr_store_jobs_running(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err);
/* Deletes jobs whose expires_at_ms <= now_ms (their recordings, webhooks and
 * attempts go with them) and webhook rows older than ten minutes whose job
 * was never stored; *n = how many jobs (n may be NULL). */
sr_status sr_store_jobs_purge(sr_store *st, int64_t now_ms, size_t *n, sr_err *err);
/* A recorded job's sealed recording (docs/http.md "Record and replay"):
 * the base64 text of the box sealed to the job's record_pubkey, its hex
 * SHA-256 (the receipt's recording_sha256), and the job's expiry; it is
 * purged with the job (sr_store_jobs_purge). Copies every field.
 * SR_ECONFLICT if the job has one already. */
struct sr_recording_row {
    char job_id[SR_ID_HEX_LEN + 1];
    const char *owner;
    const char *sealed; /* NUL-terminated base64 */
    char sha256[SR_HASH_HEX_LEN + 1];
    int64_t created_at_ms;
    int64_t expires_at_ms;
};
sr_status sr_store_recording_put(sr_store *st, const struct sr_recording_row *row, sr_err *err);
/* The recording of owner's job 'id': *sealed (owned, free()) and its hash.
 * SR_ENOTFOUND for another owner's job, a job without a recording, or a
 * missing one. */
sr_status sr_store_recording_get(sr_store *st, const char *owner, const char *id, char **sealed,
                                 char sha256[SR_HASH_HEX_LEN + 1], sr_err *err);
/* Counts for /info: all stored jobs. */
sr_status sr_store_jobs_count(sr_store *st, int64_t *total, sr_err *err);

/* --- the cluster queue (docs/cluster.md) ---
 *
 * With several daemons on one PostgreSQL store, the store is the queue.
 * A running job holds a lease: holder (the daemon's 32-hex id), until
 * (epoch ms) and a fencing number that grows with every claim or
 * take-over. Every write of a running job's result names holder and fence
 * and is applied only while both still match. Per-user caps are counted in
 * the store, under a per-owner lock, so they hold across daemons. The
 * embedded SQLite store serves one daemon, whose engine keeps its
 * in-process queue: these calls are SR_EINVAL there, saying so. */

struct sr_lease {
    char holder[33];
    uint64_t fence;
    int64_t until_ms;
};

/* Stores a queued async job (row as for sr_store_job_insert) unless its
 * owner already has max_queued queued jobs (SR_EBUSY naming the limit), and
 * wakes idle daemons (sr_store_wait_jobs). */
sr_status sr_store_job_enqueue(sr_store *st, const struct sr_job_row *row, unsigned max_queued,
                               sr_err *err);
/* Stores a job that starts running now under 'lease' (a synchronous job;
 * row->state must be SR_JOB_RUNNING, with its request), unless its owner
 * already runs max_running jobs: SR_EBUSY. lease->fence is set. */
sr_status sr_store_job_start(sr_store *st, const struct sr_job_row *row, unsigned max_running,
                             struct sr_lease *lease, sr_err *err);
/* Claims a queued job for lease->holder until lease->until_ms: among the
 * oldest queued jobs, one of an owner with the fewest running jobs and
 * fewer than max_running, skipping rows and owners other daemons are
 * claiming at that moment (FOR UPDATE SKIP LOCKED). *out (with its request)
 * becomes running; lease->fence is set. SR_ENOTFOUND when none can run. */
sr_status sr_store_job_claim(sr_store *st, int64_t now_ms, unsigned max_running,
                             struct sr_lease *lease, struct sr_job_row *out, sr_err *err);
/* Extends a lease to lease->until_ms. SR_ECONFLICT when it is no longer
 * held (taken over, or the job ended). */
sr_status sr_store_job_renew(sr_store *st, const char *id, const struct sr_lease *lease,
                             sr_err *err);
/* Writes a running job's end (as sr_store_job_update) only while 'lease'
 * is still its current one: SR_ECONFLICT, nothing written, otherwise. */
sr_status sr_store_job_finish(sr_store *st, const struct sr_job_row *row,
                              const struct sr_lease *lease, sr_err *err);

/* A job's end together with what it wrote to storage (docs/cluster.md
 * "A job's end"). Everything borrowed for the call. */
struct sr_kv_commit;
struct sr_kv_result;
struct sr_job_end {
    const struct sr_job_row *row;  /* the finished job, as for sr_store_job_update */
    const struct sr_lease *lease;  /* non-NULL: written only while this is the job's current
                                      lease (as sr_store_job_finish) */
    bool insert;                   /* without a lease: insert the row (a job stored only at
                                      its end) instead of updating it */
    const struct sr_kv_commit *kv; /* the job's storage write set (kv->owner is the row's
                                      owner); NULL: it wrote nothing */
};
/* Writes a job's end and applies its storage write set in one transaction:
 * both or neither. With a lease: SR_ECONFLICT, nothing written (storage
 * included), when the lease is no longer the job's current one (taken
 * over). With kv, *res reports as sr_store_kv_commit does, and in each of
 * these cases nothing is written, the job's row included: SR_OK with
 * res->moved (the namespace is not at kv->expected_version: validate
 * again and retry) and SR_ELIMIT with res->quota (end the job failed,
 * without its writes). res may be NULL only without kv. Both backends;
 * on PostgreSQL the end wakes idle daemons as sr_store_job_finish does. */
sr_status sr_store_job_end(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res,
                           sr_err *err);
/* Takes over at most 'max' running jobs whose lease ran out before now_ms
 * (their daemon died or lost the store): each gets 'lease' with its own
 * new fence (fences[i]) and is returned with its request, for the caller
 * to end as failed/INTERRUPTED with sr_store_job_finish. Owned arrays. */
sr_status sr_store_jobs_expired(sr_store *st, int64_t now_ms, const struct sr_lease *lease,
                                size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n,
                                sr_err *err);
/* At a daemon's start: takes back (new fence, lease->until_ms) at most
 * 'max' jobs still running under lease->holder, its own id from before it
 * restarted: nothing runs them any more; the caller ends each as
 * INTERRUPTED, as after an expiry. Owned arrays as above. */
sr_status sr_store_jobs_reclaim(sr_store *st, const struct sr_lease *lease, size_t max,
                                struct sr_job_row **rows, uint64_t **fences, size_t *n,
                                sr_err *err);
/* Takes one of 'owner's queued or running jobs for this daemon to end (a
 * cancel, docs/accounts.md#cancel): the job becomes running under 'lease'
 * with a new fence, so a daemon that was running it can neither renew nor
 * finish it any more (it sees its renewal refused and kills the job), and
 * *out is the row with its request (started_at_ms 0: it was still queued),
 * for the caller to end with sr_store_job_finish. lease->fence is set.
 * SR_ENOTFOUND for another owner's job, a missing one or an id that cannot
 * exist; SR_ECONFLICT naming the state when the job has already ended. */
sr_status sr_store_job_take(sr_store *st, const char *owner, const char *id, struct sr_lease *lease,
                            struct sr_job_row *out, sr_err *err);
/* Takes at most 'max' jobs still queued that were created before
 * created_before_ms (older than --queue-max-age) as running under 'lease',
 * each with its own new fence (fences[i]), oldest first, skipping rows
 * another daemon is taking at that moment: the caller ends each EXPIRED
 * with sr_store_job_finish, so each expires exactly once across daemons.
 * Owned arrays as for sr_store_jobs_expired. */
sr_status sr_store_jobs_stale(sr_store *st, int64_t created_before_ms, const struct sr_lease *lease,
                              size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n,
                              sr_err *err);
/* Waits up to timeout_ms for a wake-up (LISTEN/NOTIFY: a job was queued or
 * ended somewhere). true when one came. */
bool sr_store_wait_jobs(sr_store *st, int timeout_ms);
/* Whether this store is shared by several daemons (PostgreSQL). */
bool sr_store_is_shared(const sr_store *st);

/* --- completion webhooks (docs/accounts.md#webhooks) ---
 *
 * A webhook row says that an async job's end is to be POSTed to its
 * callback_url (which stays in the job's sealed request_json). It is due
 * once its job has ended and its next_at has come; a daemon claims it for
 * the time of one attempt (each attempt is made by one daemon), records
 * the attempt and its next state. Rows go with their job's purge. */

enum sr_webhook_state {
    SR_WEBHOOK_PENDING = 0,
    SR_WEBHOOK_DELIVERED = 1,
    SR_WEBHOOK_FAILED = 2, /* every attempt failed */
};
/* "pending", "delivered", "failed"; NULL for an unknown value. */
const char *sr_webhook_state_name(enum sr_webhook_state s);

struct sr_webhook_row {
    char job_id[33];
    char owner[SR_WEBHOOK_OWNER_MAX + 1];
    uint32_t attempts; /* made so far */
};

struct sr_webhook_attempt {
    uint32_t attempt; /* 1, 2, ... */
    int64_t at_ms;
    int64_t duration_ms;
    unsigned status; /* the receiver's HTTP status; 0 when none came */
    char error[256]; /* why it failed; "" when delivered */
};

/* Records that 'owner's job 'job_id' has a webhook (pending, due when the
 * job has ended). SR_EINVAL for a bad id or owner; SR_ECONFLICT if the job
 * has one already. */
sr_status sr_store_webhook_add(sr_store *st, const char *owner, const char *job_id, int64_t now_ms,
                               sr_err *err);
/* Claims for 'holder' until until_ms at most 'max' webhooks that are due
 * at now_ms (pending, next_at passed, job ended, not claimed by anyone
 * now), skipping owners who already have per_owner claimed ones, oldest
 * due first. Owned array (free()); *n may be 0. */
sr_status sr_store_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms,
                                  int64_t until_ms, size_t max, unsigned per_owner,
                                  struct sr_webhook_row **rows, size_t *n, sr_err *err);
/* Records attempt 'a' of a webhook 'holder' has claimed and its next
 * state (pending again from next_at_ms, delivered or failed), releasing
 * the claim, in one transaction. SR_ECONFLICT, nothing written, when the
 * claim is no longer holder's. */
sr_status sr_store_webhook_attempt(sr_store *st, const char *holder, const struct sr_webhook_row *w,
                                   const struct sr_webhook_attempt *a, enum sr_webhook_state next,
                                   int64_t next_at_ms, sr_err *err);
/* The webhook of 'owner's job: its state and attempts, oldest first (at
 * most SR_WEBHOOK_MAX_ATTEMPTS; owned array, free()). SR_ENOTFOUND when
 * the job has none (or is not owner's). */
sr_status sr_store_webhook_get(sr_store *st, const char *owner, const char *job_id,
                               enum sr_webhook_state *state, struct sr_webhook_attempt **rows,
                               size_t *n, sr_err *err);

/* A daemon's heartbeat row (GET /info lists the live ones). */
struct sr_daemon_row {
    char id[33];
    char public_key[65];  /* hex Ed25519 worker key */
    char measurement[65]; /* hex */
    char version[32];
    int64_t started_at_ms;
    int64_t heartbeat_at_ms;
};
sr_status sr_store_daemon_beat(sr_store *st, const struct sr_daemon_row *d, sr_err *err);
/* Daemons whose heartbeat is at or after since_ms, oldest start first, at
 * most 'max'. Owned array (free()). */
sr_status sr_store_daemons(sr_store *st, int64_t since_ms, size_t max, struct sr_daemon_row **rows,
                           size_t *n, sr_err *err);

/* --- remote workers (docs/workers.md) ---
 *
 * One row per worker token, made by the operator (`sealrun worker token
 * create`); only the token's SHA-256 is stored. The first registration
 * with a token binds the worker's Ed25519 key to it for good: a later
 * registration with another key is refused, so a copied token without
 * the key is worth nothing. Revocation is final and seen at the next
 * request (there is no cache). */

enum sr_worker_state {
    SR_WORKER_ACTIVE = 0,   /* receives jobs */
    SR_WORKER_DRAINING = 1, /* finishes what it holds, receives no new job */
    SR_WORKER_REVOKED = 2,  /* refused at once, for good */
};

/* "active", "draining", "revoked"; NULL for an unknown value. */
const char *sr_worker_state_name(enum sr_worker_state s);

#define SR_WORKER_NAME_MAX 64 /* bytes of a worker's name (user-name characters) */

struct sr_worker_row {
    char id[17]; /* first 16 hex characters of the token's SHA-256: safe to show */
    char name[SR_WORKER_NAME_MAX + 1];
    enum sr_worker_state state;
    char public_key[65];  /* hex Ed25519 key; "" until it registered */
    char measurement[65]; /* hex; "" until it registered */
    char attestation[8];  /* "none" or "tdx"; "" until it registered */
    char version[32];     /* the sealrun version it registered with; "" before */
    int64_t created_at_ms;
    int64_t registered_at_ms; /* first registration; 0 before */
    int64_t seen_at_ms;       /* its last authenticated request; 0 before */
    int64_t revoked_at_ms;    /* 0 unless revoked */
};

/* Stores a new worker token's hash under 'name' (1..SR_WORKER_NAME_MAX of
 * A-Z a-z 0-9 _ - . @). SR_EINVAL for a bad name; SR_ECONFLICT if the hash
 * exists. */
sr_status sr_store_worker_add(sr_store *st, const uint8_t hash[32], const char *name,
                              int64_t now_ms, sr_err *err);
/* The worker of a token hash, in any state. SR_ENOTFOUND when none. */
sr_status sr_store_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                              sr_err *err);
/* What a worker registers with (hex strings, 64 characters each). */
struct sr_worker_reg {
    const char *public_key;
    const char *measurement;
    const char *attestation; /* "none" or "tdx" */
    const char *version;     /* at most 31 bytes */
    int64_t now_ms;
};
/* Registers the worker of this token: binds the key on the first call;
 * later calls with the same key update measurement, attestation, version
 * and seen_at (a restart, an upgrade). SR_ENOTFOUND for an unknown token,
 * SR_EFORBIDDEN when it is revoked, SR_ECONFLICT when the token is bound
 * to another key, SR_EINVAL for malformed fields. *out is the row after. */
sr_status sr_store_worker_register(sr_store *st, const uint8_t hash[32],
                                   const struct sr_worker_reg *r, struct sr_worker_row *out,
                                   sr_err *err);
/* Records an authenticated request of the worker at now_ms. SR_ENOTFOUND
 * when unknown or revoked. */
sr_status sr_store_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms, sr_err *err);
/* Every worker, oldest first. Owned array of *n rows (free()). */
sr_status sr_store_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n, sr_err *err);
/* Sets the state of the worker whose id (8..16 lower-case hex characters,
 * unique) matches: SR_WORKER_DRAINING, SR_WORKER_ACTIVE (back from
 * draining) or SR_WORKER_REVOKED (final; revoked_at = now). SR_EINVAL for
 * a malformed id, SR_ENOTFOUND when none, SR_ECONFLICT when the id is
 * ambiguous or the worker is revoked already. *out (may be NULL): the row
 * after. */
sr_status sr_store_worker_set_state(sr_store *st, const char *id_prefix, enum sr_worker_state state,
                                    int64_t now_ms, struct sr_worker_row *out, sr_err *err);

/* --- WebAssembly modules --- */

/* Modules are stored once by hash; each owner who uploaded one holds a
 * claim on it. A claim counts its module's bytes plus the stored
 * description against the owner's quota (a module two owners claim counts
 * for both); the module's bytes go when the last claim does. */

struct sr_module_row {
    uint8_t *bytes; /* owned, len bytes */
    size_t len;
    char *info_json;         /* owned: metadata computed at upload (size, imports, exports) */
    int64_t created_at_ms;   /* when this owner first uploaded it */
    int64_t last_used_at_ms; /* upload, or the last job that loaded it (to SR_MODULE_TOUCH_MS) */
};
void sr_module_row_fini(struct sr_module_row *row);

/* One claim as listed (no bytes, no description: nothing to unseal). */
struct sr_module_meta {
    char hash[65];
    uint64_t size;   /* module bytes */
    uint64_t stored; /* what the claim counts: module bytes + description bytes */
    int64_t created_at_ms;
    int64_t last_used_at_ms;
};

/* An owner's claims: what the quota is checked against. */
struct sr_module_usage {
    uint64_t count;
    uint64_t bytes; /* sum of the claims' 'stored' */
};

struct sr_module_put {
    const char *owner;
    const char *hash_hex; /* 64 lower-case hex characters, computed by the caller from bytes */
    const uint8_t *bytes;
    size_t len;
    const char *info_json;
    int64_t now_ms;
    uint64_t max_count; /* the owner's quota; 0 = no limit */
    uint64_t max_bytes; /* 0 = no limit */
};

/* Stores a module (once however many owners upload it) and records the
 * owner's claim. The quota check and the insert are one transaction, so
 * concurrent uploads cannot pass the quota together. A module the owner
 * already claims is not counted again (and passes any quota). SR_ELIMIT
 * when the new claim would take the owner past max_count or max_bytes
 * (nothing written). *created (may be NULL): the owner did not claim it
 * before. *usage (may be NULL), on SR_OK and SR_ELIMIT: the owner's claims
 * before this call. Copies everything. */
sr_status sr_store_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                              struct sr_module_usage *usage, sr_err *err);

/* Loads a module 'owner' claims. SR_ENOTFOUND when it does not exist or
 * the owner has no claim on it (the same answer). *out: sr_module_row_fini. */
sr_status sr_store_module_get(sr_store *st, const char *owner, const char *hash_hex,
                              struct sr_module_row *out, sr_err *err);

/* Records that a job of 'owner' used the module at now_ms (its claim's
 * last use). SR_ENOTFOUND when the owner has no claim. */
sr_status sr_store_module_touch(sr_store *st, const char *owner, const char *hash_hex,
                                int64_t now_ms, sr_err *err);

/* Drops owner's claim; when no owner claims the module any more its bytes
 * are deleted too (*freed, may be NULL, says so). SR_ENOTFOUND when the
 * owner has no claim (another owner's module included). */
sr_status sr_store_module_delete(sr_store *st, const char *owner, const char *hash_hex, bool *freed,
                                 sr_err *err);

/* Owner's claims, newest first (created_at, then hash), at most 'limit'
 * (1..SR_MAX_PAGE + 1), strictly older than the claim on 'before_hash' when
 * not NULL (SR_ENOTFOUND when the owner has no such claim). Owned array of
 * *n rows (free()). Works without keys. */
sr_status sr_store_module_list(sr_store *st, const char *owner, size_t limit,
                               const char *before_hash, struct sr_module_meta **rows, size_t *n,
                               sr_err *err);

/* Owner's claims in total. */
sr_status sr_store_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out,
                                sr_err *err);

/* Drops at most 'max' claims last used before 'unused_before_ms', and the
 * bytes of every module left without a claim; *claims and *freed (may be
 * NULL) count them. One transaction; call again while *claims == max. */
sr_status sr_store_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max,
                                  size_t *claims, size_t *freed, sr_err *err);

/* --- secrets (ciphertext only) and their audit --- */

struct sr_secret_stored {
    uint8_t *blob; /* owned at-rest blob (sr_secret_encrypt's format) */
    size_t blob_len;
    uint64_t version;  /* >= 1 */
    char *policy_json; /* owned canonical policy, or NULL for the default */
};
void sr_secret_stored_fini(struct sr_secret_stored *s);

struct sr_secret_meta {
    char *name; /* owned */
    uint64_t version;
    char *policy_json; /* owned or NULL */
    int64_t created_at_ms;
    int64_t updated_at_ms;
};
void sr_secret_meta_fini(struct sr_secret_meta *m);

struct sr_audit_row {
    int64_t id;  /* set by the store (>= 1, grows with every new row): the page cursor */
    char *owner; /* the secret's owner */
    char *name;
    char *job_id; /* may be NULL; a summary keeps its latest attempt's */
    char *user;   /* who ran the job */
    uint64_t version;
    char *outcome;     /* "allowed", "missing", "expired", "denied", "error" */
    char *reason;      /* "" when allowed; never a value; a summary keeps its latest */
    int64_t time_ms;   /* the attempt (a summary: its first) */
    int64_t last_ms;   /* a summary's latest attempt; = time_ms for one record */
    uint64_t count;    /* attempts in this row: 1, or more for a summary */
    int64_t window_ms; /* adding: 0 = an individual record; else the start of the
                          SR_AUDIT_WINDOW_MS window this attempt is summarised in */
    char *code_hash;   /* the job's code identity: SHA-256 of its code (hex), */
    char *entry_point; /* and the entry point it called; each NULL when not known
                          (rows from before 0008) or the runtime's default */
};
void sr_audit_row_fini(struct sr_audit_row *r);

/* One secret of 'owner'. SR_ENOTFOUND when missing. *out: _fini. */
sr_status sr_store_secret_get(sr_store *st, const char *owner, const char *name,
                              struct sr_secret_stored *out, sr_err *err);
/* Writes a secret's new value as version expected_version + 1: inserts it when
 * expected_version is 0, else replaces it only while its version is still
 * expected_version (compare-and-set). SR_ECONFLICT when another write came
 * first (the caller re-reads, re-encrypts and retries). SR_ELIMIT when a
 * new secret would give the owner more than SR_MAX_SECRETS_PER_OWNER.
 * Copies everything. */
sr_status sr_store_secret_put(sr_store *st, const char *owner, const char *name,
                              uint64_t expected_version, const uint8_t *blob, size_t len,
                              int64_t now_ms, sr_err *err);
/* Sets (or with NULL resets to the default) a secret's policy. SR_ENOTFOUND. */
sr_status sr_store_secret_policy(sr_store *st, const char *owner, const char *name,
                                 const char *policy_json, int64_t now_ms, sr_err *err);
/* Deletes a secret (its audit stays). SR_ENOTFOUND when missing. */
sr_status sr_store_secret_delete(sr_store *st, const char *owner, const char *name, sr_err *err);
/* The owner's secrets by name, without values. Owned array: _fini each, free(). */
sr_status sr_store_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **rows,
                               size_t *n, sr_err *err);
/* Records an attempt (copies). row->window_ms 0: a new individual row.
 * Otherwise the attempt is counted into the summary row of (owner, name,
 * user, outcome, window_ms), made on the first one (its id, time and count
 * 1), then count + 1, last_ms, job_id, reason and version of the latest.
 * Summaries are capped per (owner, user, window): SR_ELIMIT, and nothing
 * written, when the window already counts SR_AUDIT_MAX_DENIED_ATTEMPTS
 * attempts, or holds SR_AUDIT_MAX_DENIED_ROWS rows and this one would be
 * new; the message says which cap and when the window ends. */
sr_status sr_store_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err);
/* The audit rows of one of owner's secret names, newest first (by id), at
 * most 'limit' (1..SR_MAX_PAGE + 1), with ids below 'before_id' (0: from the
 * newest). Owned array: _fini each, free(). */
sr_status sr_store_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                              int64_t before_id, struct sr_audit_row **rows, size_t *n,
                              sr_err *err);
/* Deletes at most 'max' rows whose last attempt is before 'before_ms'
 * (retention); *n (may be NULL) = how many. Call again while *n == max. */
sr_status sr_store_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n, sr_err *err);

/* --- storage: per-owner key-value namespaces (docs/storage.md) ---
 *
 * The store never sees a namespace name or a key in clear. A namespace is
 * addressed by owner and a 32-byte id, an entry by its key's 32-byte id
 * (keyed hashes made by the storage module); the name and the key are kept
 * only sealed (name_blob, key_blob), values only as sealed blobs. Listing
 * and ordering are the storage module's (it opens the keys). */

#define SR_KV_ID_LEN 32

/* A namespace's counters. A namespace that was never written reads as all
 * zeros (version 0). */
struct sr_kv_ns {
    uint64_t version; /* committed write sets so far */
    uint64_t keys;    /* entries */
    uint64_t bytes;   /* sum of the entries' sizes (plaintext key + value bytes) */
};

/* An owner's totals over all its namespaces. */
struct sr_kv_usage {
    uint64_t namespaces; /* namespace rows (a namespace once written stays, with its version) */
    uint64_t bytes;      /* sum of their bytes */
};

/* One entry as stored. */
struct sr_kv_row {
    uint8_t id[SR_KV_ID_LEN]; /* the key's id */
    uint8_t *key_blob;        /* owned sealed key */
    size_t key_blob_len;
    uint8_t *blob; /* owned sealed value; NULL in snapshots */
    size_t blob_len;
    uint64_t size;    /* plaintext key + value bytes */
    uint64_t version; /* namespace version that wrote it (>= 1) */
};
void sr_kv_row_fini(struct sr_kv_row *r);

/* One of an owner's namespaces. */
struct sr_kv_ns_row {
    uint8_t id[SR_KV_ID_LEN];
    uint8_t *name_blob; /* owned sealed name */
    size_t name_blob_len;
    struct sr_kv_ns counters;
};
void sr_kv_ns_row_fini(struct sr_kv_ns_row *r);

/* A key looked up in a snapshot: 'id' in, 'version' out (0: absent). */
struct sr_kv_probe {
    uint8_t id[SR_KV_ID_LEN];
    uint64_t version;
};

/* A put (blob != NULL) or a delete (blob == NULL). */
struct sr_kv_write {
    const uint8_t *id;       /* SR_KV_ID_LEN bytes */
    const uint8_t *key_blob; /* puts: the sealed key */
    size_t key_blob_len;
    const uint8_t *blob; /* sealed for expected_version + 1 */
    size_t blob_len;
    uint64_t size; /* plaintext key + value bytes; 0 for a delete */
};

/* A write set, to apply only if the namespace is still at expected_version
 * (the reads it depends on were validated at that version beforehand). */
struct sr_kv_commit {
    const char *owner;
    const uint8_t *ns_id;     /* SR_KV_ID_LEN bytes */
    const uint8_t *name_blob; /* the sealed name, stored when the namespace is created */
    size_t name_blob_len;
    uint64_t expected_version;        /* the version validated and sealed on top of */
    const struct sr_kv_write *writes; /* distinct ids */
    size_t nwrites;
    uint64_t max_keys;        /* per namespace; 0 = no limit */
    uint64_t max_bytes;       /* per namespace; 0 = no limit */
    uint64_t max_namespaces;  /* per owner; 0 = no limit */
    uint64_t max_owner_bytes; /* per owner, all namespaces; 0 = no limit */
    int64_t now_ms;
};

/* Which quota a commit would pass (SR_ELIMIT). */
enum sr_kv_quota {
    SR_KV_QUOTA_NONE = 0,
    SR_KV_QUOTA_KEYS,        /* keys in the namespace */
    SR_KV_QUOTA_BYTES,       /* bytes in the namespace */
    SR_KV_QUOTA_NAMESPACES,  /* the owner's namespaces */
    SR_KV_QUOTA_OWNER_BYTES, /* the owner's bytes in all namespaces */
};

struct sr_kv_result {
    uint64_t version_before;
    uint64_t version_after; /* version_before + 1 when committed */
    bool moved;             /* not committed: the namespace is at version_before, not
                               expected_version; validate again and retry */
    enum sr_kv_quota quota; /* with SR_ELIMIT: which one, the total it would reach and the limit */
    uint64_t quota_would;
    uint64_t quota_limit;
};

/* The counters of owner's namespace ns_id (zeros when it does not exist). */
sr_status sr_store_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id,
                         struct sr_kv_ns *out, sr_err *err);
/* One entry with its value blob. SR_ENOTFOUND when absent. *out: _fini. */
sr_status sr_store_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id,
                          const uint8_t *key_id, struct sr_kv_row *out, sr_err *err);
/* One consistent snapshot of a namespace: its counters (*info), the version
 * of each probed key, and, when rows != NULL, every entry without its value
 * (owned array: _fini each, free()). More than max_rows entries: SR_ELIMIT. */
sr_status sr_store_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                               struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                               struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows,
                               sr_err *err);
/* Applies a write set atomically (one transaction of the group commit). The
 * work done under the store's write lock is proportional to the writes
 * only. When the namespace is not at expected_version: SR_OK with
 * res->moved (nothing written). When the result would pass a quota (and
 * grows what it measures): SR_ELIMIT with res->quota. Otherwise every put
 * and delete is applied, the namespace's and the owner's counters updated
 * and the version bumped by one (res has before and after). */
sr_status sr_store_kv_commit(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                             sr_err *err);
/* Owner's namespaces (at most max_rows, else SR_ELIMIT) and totals. Owned
 * array: _fini each, free(). */
sr_status sr_store_kv_namespaces(sr_store *st, const char *owner, size_t max_rows,
                                 struct sr_kv_ns_row **rows, size_t *n, struct sr_kv_usage *usage,
                                 sr_err *err);

/* The data step of schema migration 6: entries written before it (names
 * and keys in clear, in tables storage_namespaces and storage_entries) are
 * moved to the sealed tables in one transaction, with ids and sealed
 * copies made by these callbacks (owned *blob, free()); values move as
 * they are. The old tables are dropped. No-op once done. */
struct sr_kv_upgrade {
    void *arg;
    sr_status (*ns)(void *arg, const char *owner, const char *ns, uint8_t id[SR_KV_ID_LEN],
                    uint8_t **blob, size_t *len, sr_err *err);
    sr_status (*key)(void *arg, const char *owner, const char *ns, const uint8_t *key,
                     size_t key_len, uint8_t id[SR_KV_ID_LEN], uint8_t **blob, size_t *len,
                     sr_err *err);
};
/* *moved = entries moved (0 when there was nothing to do). */
sr_status sr_store_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved,
                              sr_err *err);

/* --- money: budgets, balances and the ledger (docs/accounts.md) ---
 *
 * A job admitted while budgets or prices are configured holds, until it
 * ends, the most it may use (counted in its owner's and its token's usage
 * of the UTC day it was admitted on) and the most it may cost (taken from
 * its owner's balance). Its end settles the hold exactly once: the usage it
 * did not use and the part of the reservation it was not charged go back.
 * Every change of a balance is one ledger row, in the same transaction, so
 * a balance is always the sum of its ledger's deltas and never negative;
 * concurrent admissions cannot pass a budget or the balance together (one
 * transaction under row locks; on SQLite one write of the group commit). */

#define SR_DAY_MS 86400000ll

/* Amounts of one day's use, or a budget (a 0 field = no limit). */
struct sr_usage {
    uint64_t jobs;
    uint64_t gas_js;   /* JavaScript gas: CPU microseconds */
    uint64_t gas_wasm; /* WebAssembly gas: fuel */
    uint64_t wall_ms;  /* wall clock of the runs */
    uint64_t http;     /* outbound HTTP requests */
};

/* Which budget refused a job. */
enum sr_budget_kind {
    SR_BUDGET_NONE = 0,
    SR_BUDGET_JOBS,
    SR_BUDGET_GAS_JS,
    SR_BUDGET_GAS_WASM,
    SR_BUDGET_WALL,
    SR_BUDGET_HTTP,
};

/* "jobs_per_day", "gas_js_per_day", "gas_wasm_per_day", "wall_s_per_day",
 * "http_requests_per_day"; NULL for SR_BUDGET_NONE. */
const char *sr_budget_name(enum sr_budget_kind k);

struct sr_hold_new {
    const char *job_id; /* 32 lower-case hex characters */
    const char *owner;
    const char *token_id;         /* the token's id (16 hex); NULL or "": no token budget */
    int64_t day;                  /* the UTC day its use counts on (epoch ms / SR_DAY_MS) */
    struct sr_usage max;          /* the most the job may use (jobs: 1) */
    struct sr_usage user_budget;  /* per day; 0 fields: no limit */
    struct sr_usage token_budget; /* per day, ignored without token_id */
    uint64_t cost; /* micro-units reserved from the balance; 0: none (no ledger row) */
    int64_t now_ms;
};

/* Why a hold was refused (SR_EBUDGET or SR_EBALANCE). */
struct sr_hold_refusal {
    enum sr_budget_kind kind; /* SR_EBUDGET: the budget */
    bool is_token;            /* the token's budget, else the user's */
    uint64_t used;            /* used and held today */
    uint64_t limit;
    uint64_t balance; /* SR_EBALANCE: the balance now */
};

/* Admits a job: checks the owner's and the token's budgets (used + held +
 * max <= budget for every non-zero field) and the balance (>= cost), then
 * records the hold, adds max to both usages and, when cost > 0, takes cost
 * from the balance with a 'reservation' ledger row; all or nothing.
 * SR_EBUDGET naming the budget, the usage, the limit and the reset time
 * (the next UTC midnight), SR_EBALANCE naming the balance and the cost
 * (*why, may be NULL, says the same in numbers); SR_ECONFLICT when the job
 * already has a hold. Copies everything. */
sr_status sr_store_hold_add(sr_store *st, const struct sr_hold_new *h, struct sr_hold_refusal *why,
                            sr_err *err);

/* A job's hold as stored. */
struct sr_hold_row {
    char job_id[33];
    char owner[SR_MAX_USER_NAME + 1];
    char token_id[17];
    int64_t day;
    struct sr_usage max;
    uint64_t cost;
    int64_t created_at_ms;
    int64_t settled_at_ms; /* 0 while open */
    uint64_t charged;
};
/* SR_ENOTFOUND when the job has none (admitted without budgets or prices). */
sr_status sr_store_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out, sr_err *err);

/* The end of a job. */
struct sr_hold_end {
    const char *job_id;
    struct sr_usage used; /* what it used; each field is capped at the hold's max */
    uint64_t charge;      /* what it costs; capped at the reservation */
    int64_t now_ms;
};
/* Settles the job's open hold once: the usages lose max - used, the balance
 * gets the reservation minus the charge back, with a 'charge' ledger row
 * (and a 'refund' row when something goes back). *settled (may be NULL):
 * true when this call settled it, false when it was settled before or
 * there is no hold (nothing changes: calling it again is safe). */
sr_status sr_store_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled,
                               sr_err *err);

/* Releases in full (nothing charged, no usage kept) the open holds created
 * before 'before_ms' whose job is not queued or running (never stored, or
 * finished without being settled: sealrund stopped in between), at most
 * 'max' per call; *n (may be NULL) = how many. Each exactly once. */
sr_status sr_store_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max,
                                 size_t *n, sr_err *err);

/* Deletes settled holds and usage days older than 'before_ms' (the
 * ledger is kept); *n (may be NULL) = rows deleted. */
sr_status sr_store_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err);

/* Charges, once per UTC day 'day', every owner whose storage (the jobs'
 * key-value namespaces, sr_kv_usage.bytes) holds bytes: bytes x
 * price_per_byte_day micro-units, taken from the balance with a 'charge'
 * ledger row whose actor is "storage" and whose note names the day, the
 * bytes and the price. Never more than the balance (it never goes
 * negative): what could not be taken is named in the note. At most 'max'
 * owners (1..SR_MAX_PAGE) per call; *n (may be NULL) = owners charged or
 * passed; call again while *n == max. */
sr_status sr_store_storage_charge(sr_store *st, int64_t day, uint64_t price_per_byte_day,
                                  int64_t now_ms, size_t max, size_t *n, sr_err *err);

/* The day's usage of owner (token_id NULL) or of one token (owner ignored):
 * zeros when nothing was used. */
sr_status sr_store_usage_get(sr_store *st, const char *owner, const char *token_id, int64_t day,
                             struct sr_usage *out, sr_err *err);

/* The owner's balance in micro-units (0 for a user never credited). */
sr_status sr_store_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err);

/* Adds 'amount' (1..SR_MAX_CREDIT) to owner's balance with a 'credit'
 * ledger row naming 'actor' (who did it) and 'note' (may be NULL; at most
 * 200 bytes). SR_ELIMIT when the balance would pass SR_MAX_BALANCE.
 * *balance (may be NULL): the balance after. */
#define SR_MAX_CREDIT 1000000000000000000ull  /* 10^18 micro-units in one credit */
#define SR_MAX_BALANCE 4000000000000000000ull /* under INT64_MAX */
sr_status sr_store_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                          const char *note, int64_t now_ms, uint64_t *balance, sr_err *err);

/* One ledger row. */
struct sr_ledger_row {
    int64_t id;    /* grows with every row: the page cursor */
    char kind[16]; /* "reservation", "charge", "refund", "credit" */
    uint64_t amount;
    int64_t delta;    /* the change of the balance */
    uint64_t balance; /* after this row */
    char job_id[33];  /* "" for a credit */
    char *actor;      /* owned; NULL unless a credit */
    char *note;       /* owned; may be NULL */
    int64_t time_ms;
};
void sr_ledger_row_fini(struct sr_ledger_row *r);
/* The owner's ledger newest first (by id), at most 'limit' (1..SR_MAX_PAGE
 * + 1), with ids below 'before_id' (0: from the newest). Owned array:
 * _fini each, free(). */
sr_status sr_store_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                               struct sr_ledger_row **rows, size_t *n, sr_err *err);

#endif /* SR_STORE_H */
