/* SPDX-License-Identifier: MIT
 *
 * store_int.h - private to src/lib/store: the backend interface and the
 * embedded migrations.
 *
 * A backend is one const struct sr_store_ops (like sqlite3_io_methods).
 * Its store objects begin with a struct sr_store whose 'ops' points at that
 * table, so store.c can dispatch on any of them. store.c validates arguments
 * (owner names, ids, limits) before it calls a backend, so every backend may
 * rely on: strings are non-NULL unless the public header allows NULL, owner
 * names are 1..SR_MAX_USER_NAME bytes, job ids are 32 lower-case hex
 * characters, token id prefixes are 8..64 lower-case hex characters, and
 * list limits are 1..SR_MAX_PAGE (+ 1 where the header says so), and every
 * call that reads or writes sealed data has a key (st->seal_key != NULL).
 * Each entry has the contract of the public function of the same name in
 * sr_store.h.
 */
#ifndef SR_STORE_INT_H
#define SR_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sealrun/sr_store.h"

struct sr_store_ops {
    const char *name; /* "sqlite", "postgres" */

    /* Opens the backend at 'target' (a path for SQLite, a DSN for PostgreSQL)
     * and, with 'seal_key' (borrowed; NULL without keys), seals legacy rows.
     * The caller sets (*out)->seal_key afterwards. */
    sr_status (*open)(const char *target, const uint8_t *seal_key, sr_store **out, sr_err *err);
    void (*close)(sr_store *st);
    int (*schema_version)(sr_store *st);
    bool (*ping)(sr_store *st);

    sr_status (*token_add)(sr_store *st, const struct sr_token_new *t, sr_err *err);
    /* Any token with this hash, revoked or expired too (store.c judges);
     * SR_ENOTFOUND when none. */
    sr_status (*token_get)(sr_store *st, const uint8_t hash[32], struct sr_token_row *out,
                           sr_err *err);
    sr_status (*token_list)(sr_store *st, const char *owner, struct sr_token_row **rows, size_t *n,
                            sr_err *err);
    /* owner NULL = among every owner's tokens */
    sr_status (*token_revoke)(sr_store *st, const char *owner, const char *id_prefix,
                              int64_t now_ms, sr_err *err);

    sr_status (*job_insert)(sr_store *st, const struct sr_job_row *row, sr_err *err);
    sr_status (*job_update)(sr_store *st, const struct sr_job_row *row, sr_err *err);
    sr_status (*job_get)(sr_store *st, const char *owner, const char *id, struct sr_job_row *out,
                         sr_err *err);
    sr_status (*job_list)(sr_store *st, const char *owner, const struct sr_job_filter *filter,
                          size_t limit, const char *before_id, struct sr_job_row **rows, size_t *n,
                          sr_err *err);
    sr_status (*job_figures)(sr_store *st, const char *owner, int64_t since_ms, int64_t until_ms,
                             sr_job_figures_fn fn, void *ctx, sr_err *err);
    sr_status (*jobs_interrupt)(sr_store *st, const char *interrupted_result_json, int64_t now_ms,
                                size_t *n, sr_err *err);
    sr_status (*jobs_queued)(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err);
    sr_status (*jobs_running)(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err);
    sr_status (*jobs_purge)(sr_store *st, int64_t now_ms, size_t *n, sr_err *err);
    sr_status (*jobs_count)(sr_store *st, int64_t *total, sr_err *err);
    sr_status (*recording_put)(sr_store *st, const struct sr_recording_row *row, sr_err *err);
    sr_status (*recording_get)(sr_store *st, const char *owner, const char *id, char **sealed,
                               char sha256[SR_HASH_HEX_LEN + 1], sr_err *err);

    sr_status (*job_enqueue)(sr_store *st, const struct sr_job_row *row, unsigned max_queued,
                             sr_err *err);
    sr_status (*job_start)(sr_store *st, const struct sr_job_row *row, unsigned max_running,
                           struct sr_lease *lease, sr_err *err);
    sr_status (*job_claim)(sr_store *st, int64_t now_ms, unsigned max_running,
                           struct sr_lease *lease, struct sr_job_row *out, sr_err *err);
    sr_status (*job_renew)(sr_store *st, const char *id, const struct sr_lease *lease, sr_err *err);
    sr_status (*job_finish)(sr_store *st, const struct sr_job_row *row,
                            const struct sr_lease *lease, sr_err *err);
    /* Both backends: with end->lease a fenced finish, else an insert or
     * update; with end->kv its write set, in the same transaction. */
    sr_status (*job_end)(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res,
                         sr_err *err);
    sr_status (*jobs_expired)(sr_store *st, int64_t now_ms, const struct sr_lease *lease,
                              size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n,
                              sr_err *err);
    sr_status (*jobs_reclaim)(sr_store *st, const struct sr_lease *lease, size_t max,
                              struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err);
    sr_status (*job_take)(sr_store *st, const char *owner, const char *id, struct sr_lease *lease,
                          struct sr_job_row *out, sr_err *err);
    sr_status (*jobs_stale)(sr_store *st, int64_t created_before_ms, const struct sr_lease *lease,
                            size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n,
                            sr_err *err);
    bool (*wait_jobs)(sr_store *st, int timeout_ms);
    sr_status (*webhook_add)(sr_store *st, const char *owner, const char *job_id, int64_t now_ms,
                             sr_err *err);
    sr_status (*webhooks_claim)(sr_store *st, const char *holder, int64_t now_ms, int64_t until_ms,
                                size_t max, unsigned per_owner, struct sr_webhook_row **rows,
                                size_t *n, sr_err *err);
    sr_status (*webhook_attempt)(sr_store *st, const char *holder, const struct sr_webhook_row *w,
                                 const struct sr_webhook_attempt *a, enum sr_webhook_state next,
                                 int64_t next_at_ms, sr_err *err);
    sr_status (*webhook_get)(sr_store *st, const char *owner, const char *job_id,
                             enum sr_webhook_state *state, struct sr_webhook_attempt **rows,
                             size_t *n, sr_err *err);
    sr_status (*daemon_beat)(sr_store *st, const struct sr_daemon_row *d, sr_err *err);
    sr_status (*daemons)(sr_store *st, int64_t since_ms, size_t max, struct sr_daemon_row **rows,
                         size_t *n, sr_err *err);

    sr_status (*worker_add)(sr_store *st, const uint8_t hash[32], const char *name, int64_t now_ms,
                            sr_err *err);
    sr_status (*worker_get)(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                            sr_err *err);
    sr_status (*worker_register)(sr_store *st, const uint8_t hash[32],
                                 const struct sr_worker_reg *r, struct sr_worker_row *out,
                                 sr_err *err);
    sr_status (*worker_seen)(sr_store *st, const uint8_t hash[32], int64_t now_ms, sr_err *err);
    sr_status (*worker_list)(sr_store *st, struct sr_worker_row **rows, size_t *n, sr_err *err);
    sr_status (*worker_set_state)(sr_store *st, const char *id_prefix, enum sr_worker_state state,
                                  int64_t now_ms, struct sr_worker_row *out, sr_err *err);

    sr_status (*module_put)(sr_store *st, const struct sr_module_put *p, bool *created,
                            struct sr_module_usage *usage, sr_err *err);
    sr_status (*module_get)(sr_store *st, const char *owner, const char *hash_hex,
                            struct sr_module_row *out, sr_err *err);
    sr_status (*module_touch)(sr_store *st, const char *owner, const char *hash_hex, int64_t now_ms,
                              sr_err *err);
    sr_status (*module_delete)(sr_store *st, const char *owner, const char *hash_hex, bool *freed,
                               sr_err *err);
    sr_status (*module_list)(sr_store *st, const char *owner, size_t limit, const char *before_hash,
                             struct sr_module_meta **rows, size_t *n, sr_err *err);
    sr_status (*module_usage)(sr_store *st, const char *owner, struct sr_module_usage *out,
                              sr_err *err);
    sr_status (*modules_expire)(sr_store *st, int64_t unused_before_ms, size_t max, size_t *claims,
                                size_t *freed, sr_err *err);

    sr_status (*secret_get)(sr_store *st, const char *owner, const char *name,
                            struct sr_secret_stored *out, sr_err *err);
    sr_status (*secret_put)(sr_store *st, const char *owner, const char *name,
                            uint64_t expected_version, const uint8_t *blob, size_t len,
                            int64_t now_ms, sr_err *err);
    sr_status (*secret_policy)(sr_store *st, const char *owner, const char *name,
                               const char *policy_json, int64_t now_ms, sr_err *err);
    sr_status (*secret_delete)(sr_store *st, const char *owner, const char *name, sr_err *err);
    sr_status (*secret_list)(sr_store *st, const char *owner, struct sr_secret_meta **rows,
                             size_t *n, sr_err *err);
    sr_status (*audit_add)(sr_store *st, const struct sr_audit_row *row, sr_err *err);
    sr_status (*audit_list)(sr_store *st, const char *owner, const char *name, size_t limit,
                            int64_t before_id, struct sr_audit_row **rows, size_t *n, sr_err *err);
    sr_status (*audit_purge)(sr_store *st, int64_t before_ms, size_t max, size_t *n, sr_err *err);

    sr_status (*kv_ns)(sr_store *st, const char *owner, const uint8_t *ns_id, struct sr_kv_ns *out,
                       sr_err *err);
    sr_status (*kv_get)(sr_store *st, const char *owner, const uint8_t *ns_id,
                        const uint8_t *key_id, struct sr_kv_row *out, sr_err *err);
    sr_status (*kv_snapshot)(sr_store *st, const char *owner, const uint8_t *ns_id,
                             struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                             struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows,
                             sr_err *err);
    sr_status (*kv_commit)(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                           sr_err *err);
    sr_status (*kv_namespaces)(sr_store *st, const char *owner, size_t max_rows,
                               struct sr_kv_ns_row **rows, size_t *n, struct sr_kv_usage *usage,
                               sr_err *err);
    sr_status (*kv_upgrade)(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved,
                            sr_err *err);

    /* money (store_money.c checks the arguments; why is never NULL, and
     * usage_get gets the subject "u:OWNER" or "t:TOKEN_ID") */
    sr_status (*hold_add)(sr_store *st, const struct sr_hold_new *h, struct sr_hold_refusal *why,
                          sr_err *err);
    sr_status (*hold_get)(sr_store *st, const char *job_id, struct sr_hold_row *out, sr_err *err);
    sr_status (*hold_settle)(sr_store *st, const struct sr_hold_end *e, bool *settled, sr_err *err);
    sr_status (*holds_release)(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max,
                               size_t *n, sr_err *err);
    sr_status (*money_purge)(sr_store *st, int64_t before_ms, size_t *n, sr_err *err);
    sr_status (*usage_get)(sr_store *st, const char *subject, int64_t day, struct sr_usage *out,
                           sr_err *err);
    sr_status (*balance)(sr_store *st, const char *owner, uint64_t *balance, sr_err *err);
    sr_status (*credit)(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                        const char *note, int64_t now_ms, uint64_t *balance, sr_err *err);
    sr_status (*ledger_list)(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                             struct sr_ledger_row **rows, size_t *n, sr_err *err);
    sr_status (*storage_charge)(sr_store *st, int64_t day, uint64_t price, int64_t now_ms,
                                size_t max, size_t *n, sr_err *err);
};

/* The note of a storage charge and what it takes (store_money.c): cost =
 * bytes x price capped at SR_MAX_BALANCE, take = min(cost, balance). */
uint64_t sr_store__storage_cost(uint64_t bytes, uint64_t price, uint64_t balance, int64_t day,
                                char *note, size_t note_len);

/* The admission decision both backends make inside their transaction, from
 * the day's usages (token_used NULL: no token level) and the balance:
 * SR_OK, or SR_EBUDGET / SR_EBALANCE with *why (may be NULL) and the
 * message of sr_store_hold_add(). store_money.c */
sr_status sr_store__hold_check(const struct sr_hold_new *h, const struct sr_usage *user_used,
                               const struct sr_usage *token_used, uint64_t balance,
                               struct sr_hold_refusal *why, sr_err *err);
/* The usage subject of a hold's owner ("u:OWNER") and token ("t:ID"). */
#define SR_STORE_SUBJECT_MAX (3 + SR_MAX_USER_NAME)

/* The head of every backend's store object. */
struct sr_store {
    const struct sr_store_ops *ops;
    uint8_t *seal_key; /* owned (sodium_malloc, 32 bytes, read-only), freed by
                          sr_store_close(); NULL when opened without keys */
};

/* --- the at-rest format (store_seal.c) --- */

/* Bytes a sealed blob adds to its plain text: format byte, nonce, tag. */
#define SR_STORE_SEAL_OVERHEAD 41

/* Field names in the AAD; keep them stable (changing one makes every row
 * of that column unreadable). */
#define SR_SEAL_JOB_REQUEST "jobs.request_json"
#define SR_SEAL_JOB_RESULT "jobs.result_json"
#define SR_SEAL_MODULE_BYTES "modules.bytes"
#define SR_SEAL_MODULE_INFO "modules.info_json"
#define SR_SEAL_POLICY "secrets.policy_json"

/* Derives the store key from the master keys. Returns owned *out
 * (sr_store__key_free). */
sr_status sr_store__key_new(const sr_keys *keys, uint8_t **out, sr_err *err);
void sr_store__key_free(uint8_t *key);

/* Seals plain[0..len) for (field, owner, record); owner "" for a module.
 * Returns owned *out (free()). SR_EINVAL without a key. */
sr_status sr_store__seal(const uint8_t *key, const char *field, const char *owner,
                         const char *record, const void *plain, size_t len, uint8_t **out,
                         size_t *out_len, sr_err *err);
/* Opens a blob sealed for the same (field, owner, record). Returns owned
 * *out (free()), NUL-terminated. SR_EINVAL without a key; SR_EIO, naming
 * the field and record, for anything that does not authenticate. */
sr_status sr_store__open(const uint8_t *key, const char *field, const char *owner,
                         const char *record, const uint8_t *blob, size_t len, uint8_t **out,
                         size_t *out_len, sr_err *err);

/* --- workers: what both backends share (store.c) --- */

/* The columns every worker query selects, in this order. */
#define SR_STORE_WORKER_COLS                                                                       \
    "hash, name, state, created_at, public_key, measurement, attestation, version, "               \
    "registered_at, seen_at, revoked_at"

/* The text columns of one worker row as the backend read them (NULL for
 * SQL NULL); fills *out, truncating nothing a valid row holds. SR_EIO for
 * a row the schema's checks should have refused. */
struct sr_store__worker_cols {
    const uint8_t *hash; /* 32 bytes */
    const char *name, *state, *public_key, *measurement, *attestation, *version;
    int64_t created_at, registered_at, seen_at, revoked_at;
};
sr_status sr_store__worker_fill(const struct sr_store__worker_cols *c, struct sr_worker_row *out,
                                sr_err *err);
/* "active" etc. into *out; false for anything else. */
bool sr_store__worker_state_parse(const char *s, enum sr_worker_state *out);

/* The one table each backend file exports. */
extern const struct sr_store_ops sr_store__sqlite_ops;
extern const struct sr_store_ops sr_store__pg_ops; /* store_pg.c */

/* One embedded migration (schema/NNNN_name.sql). The generated migrations.c
 * holds them sorted by version, strictly growing (gaps allowed: numbers are
 * reserved per feature); pg_migrations.c holds the PostgreSQL twins
 * (schema/postgres/NNNN_name.sql), the same versions and names. */
struct sr_store__migration {
    int version;
    const char *name; /* "0001_init" */
    const char *sql;  /* the file's text, NUL-terminated */
};
extern const struct sr_store__migration sr_store__migrations[];
extern const size_t sr_store__migration_count;
extern const struct sr_store__migration sr_store__pg_migrations[];
extern const size_t sr_store__pg_migrations_count;

/* Group-commit counters of a SQLite store (bench and tests only): how many
 * transactions were committed and how many writes they carried. */
void sr_store__sqlite_stats(sr_store *st, uint64_t *commits, uint64_t *writes);

#endif /* SR_STORE_INT_H */
