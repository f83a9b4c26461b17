/* SPDX-License-Identifier: MIT
 *
 * sr_engine.h - runs jobs: validates a request, runs it in the sandbox with
 * the right runtime under its limits, protects the output (hash, MAC,
 * sealed copy) and records it in the store; queues async jobs and runs them
 * on worker threads; recovers after a restart.
 *
 * An sr_engine owns the sandbox (zygote) and borrows the store and keys.
 * sr_engine_new() forks the zygote, so it must be called before the program
 * starts any thread. After sr_engine_start() every function is thread-safe.
 */
#ifndef SR_ENGINE_H
#define SR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_http.h"
#include "sealrun/sr_money.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_runner.h"
#include "sealrun/sr_sandbox.h"
#include "sealrun/sr_store.h"

typedef struct sr_engine sr_engine;

struct sr_engine_config {
    enum sr_isolation isolation;   /* SR_ISOLATION_TENANT (default) or _JOB */
    bool js_no_jit;                /* --js-jit=off */
    int64_t result_ttl_ms;         /* how long finished jobs are kept; 0 = 24h */
    unsigned max_running_per_user; /* 0 = SR_DEFAULT_MAX_RUNNING_PER_USER */
    unsigned max_queued_per_user;  /* 0 = SR_DEFAULT_MAX_QUEUED_PER_USER */
    unsigned async_workers;        /* threads running async jobs; 0 = 8 */
    unsigned max_jobs_per_process; /* tenant mode; 0 = sandbox default */
    unsigned idle_ms;              /* tenant mode; 0 = sandbox default */
    uint64_t storage_max_keys;     /* per namespace; 0 = SR_STORAGE_DEFAULT_MAX_KEYS */
    uint64_t storage_max_bytes;    /* per namespace; 0 = SR_STORAGE_DEFAULT_MAX_BYTES */
    uint64_t module_quota_bytes;   /* per owner; 0 = SR_DEFAULT_MODULE_QUOTA_BYTES */
    uint64_t module_quota_count;   /* per owner; 0 = SR_DEFAULT_MODULE_QUOTA_COUNT */
    int64_t module_expiry_ms;      /* unused claims dropped; 0 = SR_DEFAULT_MODULE_EXPIRY_MS */
    int64_t audit_retention_ms;    /* 0 = SR_DEFAULT_AUDIT_RETENTION_MS */
    uint32_t sandbox_uid_first;    /* root only: the sandbox's uids (sr_sandbox_config) */
    uint32_t sandbox_uid_count;
    bool sandbox_no_namespaces;       /* --sandbox-namespaces=off */
    uint64_t storage_max_namespaces;  /* per owner; 0 = SR_STORAGE_DEFAULT_MAX_NAMESPACES */
    uint64_t storage_max_owner_bytes; /* per owner; 0 = SR_STORAGE_DEFAULT_MAX_OWNER_BYTES */
    int64_t lease_ms; /* cluster mode (a shared store): a running job's lease, renewed every
                         third of it; jobs of a daemon silent this long become INTERRUPTED.
                         0 = 15 s */
    struct sr_http_config http;        /* outbound HTTP policy (docs/http.md); borrowed until
                                        * sr_engine_new returns, which copies it */
    const sr_money *money;             /* budgets and prices (docs/accounts.md); borrowed, must
                                        * outlive the engine; NULL: none */
    uint32_t test_pause_after_hold_ms; /* test builds: sleep after a job's hold is taken */
    /* --queue-max-age: a queued async job older than this ends EXPIRED
     * without running. 0 = SR_DEFAULT_QUEUE_MAX_AGE_S; negative = never. */
    int64_t queue_max_age_ms;
    /* The native tier (docs/wasm.md "Two tiers"): the directory of its
     * cache of compiled modules (borrowed until sr_engine_new returns;
     * NULL: the tier is off), the cache's bound in bytes (0 =
     * SR_NATIVE_DEFAULT_CACHE, 256 MiB) and, for "tier": "auto", how many
     * runs of a module the interpreter makes before it is compiled in the
     * background (0 = 3). */
    const char *native_cache_dir;
    uint64_t native_cache_max;
    unsigned native_after;
    /* --role coordinator (docs/workers.md): on a shared store, this engine
     * runs no guest code: its queue is served by remote workers through
     * sr_engine_worker_claim and sr_engine_worker_result. */
    bool coordinator;
    /* the most jobs one remote worker may hold at once, whatever it asks
     * for (its poll's ?jobs=N); 0 = SR_ENGINE_WORKER_MAX_JOBS */
    unsigned worker_max_jobs;
    /* --keystore (docs/keystore.md): a coordinator whose keys hold no
     * secrets master. Sealing keys and at-rest blobs come from the
     * keystore; jobs are handed out with their secret references only,
     * and the keystore releases the values to the worker. Borrowed. */
    const struct sr_engine_keystore *keystore;
};

/* What a coordinator asks its keystore (sr_keystore.h, bound by sealrund). */
struct sr_engine_keystore {
    /* owner's sealing key, base64; *out owned (free()) */
    sr_status (*pubkey)(void *arg, const char *owner, char **out, sr_err *err);
    /* the at-rest blob of a value sealed to owner's key, for (owner, name,
     * version); *blob owned (free()) */
    sr_status (*seal)(void *arg, const char *owner, const char *name, uint64_t version,
                      const char *sealed_b64, uint8_t **blob, size_t *blob_len, sr_err *err);
    /* POST /secrets/{name}/generate: the keystore makes a key of 'kind' and
     * returns its at-rest blob for (owner, name, version) (*blob owned,
     * free()) and its public key in hex (empty for random32) */
    sr_status (*generate)(void *arg, const char *owner, const char *name, uint64_t version,
                          const char *kind, uint8_t **blob, size_t *blob_len, char pub_hex[131],
                          sr_err *err);
    void *arg;
};

/* A validated job request (POST /execute body or `sealrun run`): typed,
 * with everything computed once that later steps need (the code's hash,
 * the input's canonical bytes and their hash). */
struct sr_job_request {
    enum sr_runtime runtime;
    uint8_t *code; /* owned: the script (JS) or the module (WASM); NULL for a WASM job
                      given by module_hash (the job process gets it by hash) */
    size_t code_len;
    uint8_t code_hash[32];                   /* SHA-256 of the script or module */
    char code_hash_hex[SR_HASH_HEX_LEN + 1]; /* the same, hex (the module_hash) */
    char *entry_point;                       /* JS: owned; "main" by default. WASM: NULL */
    char *input; /* owned canonical JSON text (RFC 8785) of "input" ("null" if absent) */
    size_t input_len;
    char input_hash_hex[SR_HASH_HEX_LEN + 1]; /* SHA-256 of input[0..input_len) */
    uint8_t *stdin_data; /* WASM: owned bytes of stdin: a string input's UTF-8, else the input */
    size_t stdin_len;
    enum sr_output_format output_format;
    char **args; /* wasm: owned argv[1..] for the program */
    size_t nargs;
    char **env; /* wasm: owned "NAME=value" strings */
    size_t nenv;
    char **secret_refs; /* owned reference texts ("NAME", "owner/NAME", "secrets:NAME") */
    size_t nrefs;       /* <= SR_MAX_SECRET_REFS */
    uint32_t timeout_s; /* 1..SR_MAX_TIMEOUT_S */
    uint32_t memory_mb; /* 16..SR_MAX_MEMORY_MB */
    uint64_t gas_limit; /* js: CPU microseconds, 0 = the timeout; wasm: fuel, never 0 */
    bool has_pubkey;
    uint8_t output_pubkey[SR_BOX_PK_LEN];
    bool async;
    char storage_namespace[65]; /* [A-Za-z0-9_.-]{1,64}; "" = "default" */
    struct sr_http_job http;    /* the "http" field: allow list and limits; nallow 0: none */
    uint32_t http_only_refs;    /* bit i: secret_refs[i] is "mode": "http-only" (the job
                                 * process never receives it; placeholders only) */
    bool record;                /* "record": keep the job's recording (docs/http.md) */
    uint8_t record_pubkey[SR_BOX_PK_LEN]; /* record: the key it is sealed to */
    char token_id[17];  /* the API token's id, set by the API after parsing (never from the
                         * body): its budget counts the job; "" = none */
    char *callback_url; /* owned: where the job's end is POSTed (async jobs,
                         * docs/accounts.md#webhooks), 1..SR_WEBHOOK_MAX_URL bytes; NULL: none */
    enum sr_tier tier;  /* WASM: "tier" (docs/wasm.md "Two tiers"); JS: SR_TIER_AUTO */
};

/* Validates a request body. Unknown fields are refused (a typo must not be
 * silently ignored). SR_EINVAL names the field and what was expected;
 * SR_ELIMIT for a script over SR_MAX_SCRIPT or a module over SR_MAX_MODULE.
 * A "module" (base64) is decoded and hashed here, never parsed: the job
 * process validates it (a module that is not valid WebAssembly is a job
 * that fails with MODULE_ERROR). Fills *out (caller: _fini). */
sr_status sr_job_request_parse(const json_t *body, struct sr_job_request *out, sr_err *err);
void sr_job_request_fini(struct sr_job_request *req);
/* The request as stored for a queued job (and parsed back after a restart):
 * a JSON object sr_job_request_parse takes. Returns owned or NULL (ENOMEM). */
json_t *sr_job_request_to_json(const struct sr_job_request *req);

/* GET /info "engines.wasm.native": {"enabled": true, "compiler": identity,
 * "cache_max_bytes", "after"} or {"enabled": false, "reason"}. Returns owned
 * (NULL: out of memory). */
json_t *sr_engine_native_info(const sr_engine *eng);

/* Creates the engine and forks the sandbox zygote. Copies cfg. Call it
 * before loading keys or opening the store, so the zygote (and every job
 * process forked from it) never holds either. Returns owned: sr_engine_free(). */
sr_status sr_engine_new(const struct sr_engine_config *cfg, sr_engine **out, sr_err *err);

/* Borrows 'store' (NULL: local runs only, as `sealrun run`) and 'keys'
 * (NULL: no signature); both must outlive the engine. With a store: marks
 * jobs left running by a previous process as failed (INTERRUPTED), requeues
 * queued ones, purges expired ones, and starts the async workers and the
 * purge thread. */
sr_status sr_engine_start(sr_engine *eng, sr_store *store, const sr_keys *keys, sr_err *err);

/* Gives the engine the worker identity for signed receipts
 * (docs/receipts.md): every finished job then carries "receipt" and
 * "receipt_signature". Borrows 'key' and 'quote' (NULL = provider "none"),
 * which must outlive the engine; copies 'measurement' (32 bytes); takes a
 * reference to 'document' (the GET /attestation body, may be NULL).
 * Optional: without it jobs have no receipt (`sealrun run`). Call it before
 * sr_engine_start(). */
void sr_engine_set_attestation(sr_engine *eng, const sr_worker_key *key,
                               const sr_attest_quote *quote,
                               const uint8_t measurement[SR_MEASUREMENT_LEN], json_t *document);

/* The GET /attestation document (borrowed), or NULL when not set. */
const json_t *sr_engine_attestation(const sr_engine *eng);

/* The operator's outbound HTTP policy (borrowed, valid while eng lives). */
const sr_http_policy *sr_engine_http_policy(const sr_engine *eng);

/* Stops the threads (running jobs finish first), kills the sandbox. NULL ok. */
void sr_engine_free(sr_engine *eng);

/* Runs a job and waits for it. On SR_OK, *out is the job object as JSON
 * text (owned, free(); *out_len bytes), whether the job completed or
 * failed; its "output" is the canonical output, byte for byte what
 * output_hash, the MAC, the receipt and encrypted_output cover. With a
 * store the job is stored before this returns. SR_EBUSY when 'owner'
 * already runs max_running_per_user jobs (the caller answers 429). */
sr_status sr_engine_execute(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                            char **out, size_t *out_len, sr_err *err);

/* Stores the job as queued and returns {"job_id","status":"queued"} (owned).
 * SR_EBUSY when the owner's queue is full. Needs a store. */
sr_status sr_engine_submit(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                           json_t **out, sr_err *err);

/* Validates a WebAssembly module in a job process of 'owner' (never in
 * this process: the bytes are untrusted), stores it for 'owner'
 * (deduplicated by SHA-256) and returns its metadata (owned): {"hash",
 * "size","imports","exports","import_count","export_count","created_at",
 * "last_used_at"}. The check counts as one of the owner's running jobs:
 * SR_EBUSY beyond the cap. *created says whether the owner did not have it
 * yet. SR_EINVAL with the decoder's message for an invalid module;
 * SR_ELIMIT when the owner's module quota (count or bytes) would be passed,
 * the message naming the quota, the usage and the limit. */
sr_status sr_engine_module_put(sr_engine *eng, const char *owner, const uint8_t *bytes, size_t len,
                               bool *created, json_t **out, sr_err *err);

/* The metadata of a module 'owner' uploaded. SR_ENOTFOUND otherwise. */
sr_status sr_engine_module_info(sr_engine *eng, const char *owner, const char *hash, json_t **out,
                                sr_err *err);

/* Validates module bytes in a job process of 'owner' and describes them
 * (no store): owned metadata without "created_at". */
sr_status sr_engine_module_describe(sr_engine *eng, const char *owner, const uint8_t *bytes,
                                    size_t len, json_t **out, sr_err *err);

/* Drops owner's claim on a module (its bytes go with the last claim).
 * SR_ENOTFOUND when the owner has none. */
sr_status sr_engine_module_delete(sr_engine *eng, const char *owner, const char *hash, sr_err *err);

/* {"modules":[{hash, size, stored_bytes, created_at, last_used_at}], "next": hash|null,
 * "usage": {modules, bytes, quota_modules, quota_bytes}} (owned), newest
 * first; limit 1..SR_MAX_PAGE; 'before' a hash from "next" (SR_ENOTFOUND
 * when not one of the owner's). */
sr_status sr_engine_module_list(sr_engine *eng, const char *owner, size_t limit, const char *before,
                                json_t **out, sr_err *err);

/* --- secrets (docs/secrets.md); all need a store and keys --- */

/* The X25519 public key values are sealed to for 'owner' (base64, owned). */
sr_status sr_engine_secret_pubkey(sr_engine *eng, const char *owner, char **out_b64, sr_err *err);
/* Sets a secret from a sealed box (sealed_b64) or a plain value; the new
 * version in *version. SR_EINVAL for a bad name or value, SR_EDENIED when
 * the box does not open with the owner's key. */
sr_status sr_engine_secret_set(sr_engine *eng, const char *owner, const char *name,
                               const char *sealed_b64, const char *plain, size_t plain_len,
                               uint64_t *version, sr_err *err);
/* Generates a key of 'kind' ("ed25519", "secp256k1", "x25519",
 * "random32") inside the service as the value of the owner's secret 'name'
 * (docs/secrets.md "Generated keys"); the value is never returned. The
 * public key goes into pub_hex as lower-case hex (ed25519 and x25519: 32
 * bytes, secp256k1: 33, compressed; random32: ""); the new version in
 * *version. On a coordinator with a keystore (cfg.keystore) the keystore
 * makes the key and its at-rest blob; the private key is never here.
 * SR_EINVAL for a bad name or kind. */
sr_status sr_engine_secret_generate(sr_engine *eng, const char *owner, const char *name,
                                    const char *kind, uint64_t *version, char pub_hex[131],
                                    sr_err *err);
/* Sets a secret's policy from JSON text; *out is the policy as stored (owned). */
sr_status sr_engine_secret_policy(sr_engine *eng, const char *owner, const char *name,
                                  const char *policy_text, size_t len, json_t **out, sr_err *err);
sr_status sr_engine_secret_delete(sr_engine *eng, const char *owner, const char *name, sr_err *err);
/* {"secrets":[{name, version, created_at, updated_at, policy}]} (owned; never values). */
sr_status sr_engine_secret_list(sr_engine *eng, const char *owner, json_t **out, sr_err *err);
/* {"name", "audit":[{id, job_id, user, version, outcome, reason, time,
 * last_time, count}], "next": id|null} newest first; limit 1..SR_MAX_PAGE;
 * 'before' 0 or an id from "next". */
sr_status sr_engine_secret_audit(sr_engine *eng, const char *owner, const char *name, size_t limit,
                                 int64_t before, json_t **out, sr_err *err);

/* --- storage (docs/storage.md); all need a store and keys --- */

/* One value of owner's namespace 'ns' (owned *value, free()); *version is
 * the namespace version that wrote it. SR_ENOTFOUND when absent, SR_EINVAL
 * for a bad namespace or key. */
sr_status sr_engine_storage_get(sr_engine *eng, const char *owner, const char *ns,
                                const uint8_t *key, size_t key_len, uint8_t **value, size_t *len,
                                uint64_t *version, sr_err *err);
/* Writes (value != NULL) or deletes (value NULL; SR_ENOTFOUND when absent)
 * one key as its own commit; *version = the namespace version after.
 * SR_ELIMIT for a value over 1 MiB or a byte or key quota (namespace,
 * owner), SR_ECONFLICT when a concurrent commit changed the key or when the
 * owner has as many namespaces as allowed and this one would be new. */
sr_status sr_engine_storage_put(sr_engine *eng, const char *owner, const char *ns,
                                const uint8_t *key, size_t key_len, const uint8_t *value,
                                size_t len, uint64_t *version, sr_err *err);
/* {"namespace","version","key_count","bytes","keys":[{key,size,version}],
 * "next": key|null} (owned): keys with 'prefix' (NULL = all) after 'after'
 * (NULL or "" = from the first), at most 'limit' (1..1000). */
sr_status sr_engine_storage_list(sr_engine *eng, const char *owner, const char *ns,
                                 const char *prefix, const char *after, size_t limit, json_t **out,
                                 sr_err *err);
/* {"namespaces":[{namespace, version, key_count, bytes}], "namespace_count",
 * "bytes", "max_namespaces", "max_bytes"} (owned): owner's namespaces by
 * name, with the totals the owner quotas count and the quotas. */
sr_status sr_engine_storage_namespaces(sr_engine *eng, const char *owner, json_t **out,
                                       sr_err *err);

/* One job of 'owner' as the API shows it, as JSON text (owned, free()).
 * SR_ENOTFOUND if missing or not theirs. */
sr_status sr_engine_job_get(sr_engine *eng, const char *owner, const char *id, char **out,
                            size_t *out_len, sr_err *err);

/* Cancels one of 'owner's async jobs (docs/accounts.md#cancel): a queued
 * job ends at once, a running one has its job process killed (on whichever
 * daemon of a cluster runs it); either ends failed with CANCELLED and its
 * own signed receipt, through the same end as every other job. *out is the
 * job as it ended (owned JSON text, free()). SR_ENOTFOUND if missing or not
 * theirs; SR_ECONFLICT naming the state when it had already ended;
 * SR_EBUSY when it is between the queue and its run (retry). */
sr_status sr_engine_job_cancel(sr_engine *eng, const char *owner, const char *id, char **out,
                               size_t *out_len, sr_err *err);

/* The completion webhook of one of 'owner's jobs (docs/accounts.md#webhooks):
 * {"job_id", "state": "none"|"pending"|"delivered"|"failed", "attempts":
 * [{"attempt", "at", "duration_ms", "status", "error"}]}, owned.
 * SR_ENOTFOUND if the job is missing or not theirs. */
sr_status sr_engine_job_deliveries(sr_engine *eng, const char *owner, const char *id, json_t **out,
                                   sr_err *err);

/* {"jobs":[...], "next": id|null} as JSON text (owned, free()), newest
 * first, only the jobs 'filter' lets through (NULL = all; borrowed);
 * limit 1..SR_MAX_PAGE. */
/* The sealed recording of owner's recorded job 'id' (docs/http.md "Record
 * and replay"): {"job_id", "recording": base64 sealed box,
 * "recording_sha256"} (owned). SR_ENOTFOUND for a job that is not the
 * owner's, has no recording, or has been purged. */
sr_status sr_engine_job_recording(sr_engine *eng, const char *owner, const char *id, json_t **out,
                                  sr_err *err);
/* Replays an opened recording (its plaintext JSON, which `sealrun replay`
 * opened with the owner's key) in a job process of this engine: the same
 * request, seed, job id and owner, every host call answered from the
 * recording, none performed. On SR_OK, *out is the replayed job object
 * (owned text; compare its output_hash and gas_used with the recorded
 * job's), and diverged names the first host call that differed from the
 * recorded one ("" when none did). SR_EINVAL for a malformed recording. */
sr_status sr_engine_replay(sr_engine *eng, const char *plain, size_t len, char **out,
                           size_t *out_len, char diverged[SR_ERR_MSG_MAX], sr_err *err);
sr_status sr_engine_job_list(sr_engine *eng, const char *owner, const struct sr_job_filter *filter,
                             size_t limit, const char *before, char **out, size_t *out_len,
                             sr_err *err);

/* A window of GET /stats (docs/http-api.md): the caller's jobs that
 * finished in [since_ms, until_ms), in bins of step_ms. */
struct sr_stats_window {
    int64_t since_ms;
    int64_t until_ms;
    int64_t step_ms; /* until - since must be a whole number of steps, at most SR_STATS_MAX_BINS */
};
/* The figures of the window as the JSON body of GET /stats (owned): totals
 * and one bin per step (jobs by status and runtime, error codes, gas,
 * run-time percentiles). SR_EINVAL for a window that is empty, not a whole
 * number of steps or more than SR_STATS_MAX_BINS bins; time linear in the
 * jobs that finished in it, memory bounded by the bins. */
sr_status sr_engine_job_stats(sr_engine *eng, const char *owner, const struct sr_stats_window *w,
                              json_t **out, sr_err *err);

struct sr_engine_stats {
    int64_t jobs_total;      /* jobs in the store */
    unsigned running;        /* jobs running now */
    unsigned queued;         /* async jobs waiting */
    unsigned processes;      /* live job processes */
    unsigned processes_busy; /* of them, running a job */
    int64_t result_ttl_ms;
};
sr_status sr_engine_stats(sr_engine *eng, struct sr_engine_stats *out, sr_err *err);
/* The same without touching the store (jobs_total stays 0): what GET
 * /metrics reads at every scrape, in time independent of the jobs stored. */
void sr_engine_live_stats(sr_engine *eng, struct sr_engine_stats *out);

/* Cluster mode (a shared store): a new JSON object (caller: json_decref)
 * with this daemon's id and the live daemons of the cluster (heartbeat
 * within two leases), each with id, worker public key, measurement,
 * version, started_at and heartbeat_at; NULL when the store is not shared
 * (or the listing failed: logged). For GET /info. */
json_t *sr_engine_cluster_info(sr_engine *eng);

/* --- remote workers (docs/workers.md) --- */

/* The lease holder id of a remote worker: the first 16 bytes of SHA-256
 * of its registered key, in hex (as a daemon's id follows its key). */
void sr_engine_worker_holder(const uint8_t pk[SR_ED25519_PK_LEN], char out[SR_ID_HEX_LEN + 1]);

/* Says whether the worker polling may still get a job (active, not
 * draining or revoked): asked before every claim while a poll waits. */
typedef bool (*sr_engine_worker_ok_fn)(void *arg);

/* Coordinator: claims the next queued job for the remote worker whose
 * registered key is 'pk' (its holder id: sr_engine_worker_holder) under a lease of the cluster
 * queue (sr_store_job_claim), waiting up to wait_ms for one. On SR_OK *out is the job for the
 * worker (owned) or NULL when none came: {"id", "owner", "fence", "lease_ms", "created_at_ms",
 * "started_at_ms", "request" (a WASM job's module by "module_hash"), "secrets": [{"key",
 * "owner", "name", "version", "binds_code", "sealed_value" (the value sealed to
 * the worker's key, sr_worker_box_seal),
 * "hosts": the policy's http_hosts}]}; the secrets are resolved (policies checked, audited)
 * here. A job that cannot be handed out (request unreadable, module gone,
 * a secret unavailable, past --queue-max-age) ends here as it would on a
 * daemon, and the wait goes on. SR_ECONFLICT when this engine is not a
 * coordinator or the worker already holds as many jobs as it takes:
 * 'takes' (its poll's ?jobs=, 0 = 1), at most cfg.worker_max_jobs;
 * SR_EBUSY when SR_WORKER_MAX_POLLS polls already wait. */
#define SR_WORKER_MAX_POLLS 64
#define SR_ENGINE_WORKER_MAX_JOBS 16 /* jobs a remote worker holds at once, at most */
sr_status sr_engine_worker_claim(sr_engine *eng, const uint8_t pk[SR_ED25519_PK_LEN],
                                 unsigned takes, int64_t wait_ms, sr_engine_worker_ok_fn ok,
                                 void *ok_arg, json_t **out, sr_err *err);

/* Coordinator: the server is stopping: polls waiting answer at once
 * (without a job) and so do synchronous callers waiting for a worker. */
void sr_engine_worker_polls_close(sr_engine *eng);

/* Coordinator: renews the lease of job 'id' held by 'holder' under
 * 'fence'. SR_ECONFLICT when that is no longer the job's lease (taken
 * over, cancelled, ended): the worker must stop the job. */
sr_status sr_engine_worker_renew(sr_engine *eng, const char *holder, const char *id, uint64_t fence,
                                 sr_err *err);

/* Coordinator: stores the end of job 'id' a remote worker ran. job_text is
 * the job object the worker built (borrowed); its receipt must verify with
 * 'pk' (the worker's registered key, SR_EDENIED otherwise) and bind the
 * job handed out (id, code and input hashes, runtime, the storage
 * versions its storage end gave; SR_EINVAL). The output MAC is added here.
 * Written only under the worker's lease (holder, fence), in one
 * transaction with the job's storage writes: SR_ECONFLICT and nothing
 * written when it is no longer the job's current lease; SR_EBUSY and
 * nothing written when the storage end must be asked for again (the
 * namespace moved since, or a quota refused the writes). recording: the sealed recording of a
 * recorded job (base64, borrowed) or NULL. */
sr_status sr_engine_worker_result(sr_engine *eng, const char *holder,
                                  const uint8_t pk[SR_ED25519_PK_LEN], const char *id,
                                  uint64_t fence, const char *job_text, size_t len,
                                  const char *recording, sr_err *err);

/* Coordinator: one storage host call (the wire format of sr_storage.h) of
 * job 'id' running on the worker 'holder' under 'fence', answered by the
 * job's storage session here into 'answer' (reads from the store, writes
 * buffered until the job's end). SR_ECONFLICT when the lease is not the
 * worker's or the job's storage has ended. */
sr_status sr_engine_worker_storage(sr_engine *eng, const char *holder, const char *id,
                                   uint64_t fence, const uint8_t *call, size_t len, sr_buf *answer,
                                   sr_err *err);
/* Coordinator: the storage end of job 'id' whose run ended with 'code'
 * (and 'message' when failed), before the worker builds its job object:
 * the job's reads are validated and its writes prepared for the commit
 * with its result, as a daemon does at a job's end. *out (owned) is what
 * the job object and receipt must say: {"code", "message", "namespace",
 * "version_before", "version_after"} (a storage cap, conflict or quota
 * changes the code). Asked again after sr_engine_worker_result answered
 * SR_EBUSY. */
sr_status sr_engine_worker_storage_end(sr_engine *eng, const char *holder, const char *id,
                                       uint64_t fence, enum sr_job_code code, const char *message,
                                       json_t **out, sr_err *err);

/* Coordinator: a worker (re)registered: the jobs still running under its
 * lease are from before it restarted; each ends INTERRUPTED at once (with
 * the coordinator's receipt) instead of when its lease runs out. */
void sr_engine_worker_restarted(sr_engine *eng, const char *holder);

/* Coordinator: the bytes of module 'hash' for the remote worker 'holder',
 * only while it holds a job of that module (a worker reads no module it
 * has no job for). *out owned (free()). SR_ENOTFOUND otherwise. */
sr_status sr_engine_worker_module(sr_engine *eng, const char *holder, const char *hash,
                                  uint8_t **out, size_t *len, sr_err *err);

/* Worker: how a job handed out reaches its coordinator while it runs.
 * storage_call forwards one storage host call (sr_engine_worker_storage
 * on the coordinator); storage_end asks for the job's storage end
 * (sr_engine_worker_storage_end) with the run's code name and message
 * (NULL when completed), *out its answer (owned). */
struct sr_secret_set;
struct sr_engine_remote_io {
    sr_sandbox_host_fn storage_call;
    sr_status (*storage_end)(void *arg, const char *code, const char *message, json_t **out,
                             sr_err *err);
    void *arg;
    /* A job handed out by a coordinator with a keystore ("keystore": true)
     * gets its secrets here (sr_keystore_release): *set filled on SR_OK;
     * any other status ends the job SECRET_UNAVAILABLE with err's
     * message. NULL: such a job ends SECRET_UNAVAILABLE, this worker has
     * no keystore. */
    sr_status (*secrets)(void *arg, const char *job_id, uint64_t fence, const char *owner,
                         const struct sr_job_request *req, struct sr_secret_set *set, sr_err *err);
};

/* A job a worker ran, until its result is stored. */
typedef struct sr_engine_remote_run sr_engine_remote_run;

/* Worker: runs one job handed out by sr_engine_worker_claim ('job', as the
 * coordinator sent it; borrowed) in this engine's sandbox exactly as a
 * daemon runs a job, with the secrets it carries (opened with this
 * engine's worker key) and its storage at the coordinator through 'io'
 * (borrowed, outlives *out); a WASM job's module is module[0..module_len)
 * (borrowed; its SHA-256 must be the job's module_hash, SR_EINVAL
 * otherwise). 'cancel' (may be NULL) fired kills the run. On SR_OK *out
 * is the run (owned: sr_engine_remote_run_free). SR_EINVAL for a
 * malformed job. */
sr_status sr_engine_run_remote(sr_engine *eng, const json_t *job, const uint8_t *module,
                               size_t module_len, const struct sr_engine_remote_io *io,
                               sr_sandbox_cancel *cancel, sr_engine_remote_run **out, sr_err *err);
/* Asks the coordinator for the run's storage end (io->storage_end) and
 * builds the job object with this engine's signed receipt, the storage
 * versions (or the storage failure) the coordinator gave: *out owned
 * text; *recording the sealed recording of a recorded job (borrowed,
 * valid until the run is freed, or NULL). Call it again when the
 * coordinator answers the result with SR_EBUSY. */
sr_status sr_engine_remote_text(sr_engine *eng, sr_engine_remote_run *run, char **out,
                                size_t *out_len, const char **recording, sr_err *err);
void sr_engine_remote_run_free(sr_engine_remote_run *run);

/* Coordinator with a keystore (docs/keystore.md): what the keystore needs
 * to decide a release of job_id's secrets to the worker of key wpk with
 * that fence: {"worker": its registration or null, "job": {"id", "owner",
 * "state", "runtime", "code_hash", "entry_point", "secret_refs"} or null,
 * "lease": {"holder", "fence"} of the hand-out this coordinator knows, or
 * null, "secrets": [{"owner", "name", "found", "version", "policy",
 * "blob"}] in reference order}. *out owned. */
sr_status sr_engine_keystore_context(sr_engine *eng, const uint8_t wpk[SR_ED25519_PK_LEN],
                                     const char *job_id, uint64_t fence, json_t **out, sr_err *err);
/* Stores the keystore's audit records ({"job_id", "owner", "name", "user",
 * "version", "outcome", "reason", "time_ms", "code_hash", "entry_point"}),
 * as a daemon's own resolution records them. SR_EINVAL for a malformed
 * record, naming its field. */
sr_status sr_engine_keystore_audit(sr_engine *eng, const json_t *records, sr_err *err);

/* true when the store answers and the sandbox is alive; otherwise why. */
bool sr_engine_ready(sr_engine *eng, char *why, size_t why_len);

/* The configuration in force (for /info). */
const struct sr_engine_config *sr_engine_config(const sr_engine *eng);

/* What the sandbox put in place (for the start-up log and /info). */
void sr_engine_sandbox_protections(const sr_engine *eng, struct sr_sandbox_protections *out);

/* --- money (docs/accounts.md) --- */

/* {"runtime", "max": {"gas", "wall_ms", "http_requests"}, "max_cost": N|null,
 * "prices": {...}|null, "unit"} (owned): the most a request may use and
 * cost from its limits (max_cost null without a price table). */
sr_status sr_engine_estimate(sr_engine *eng, const struct sr_job_request *req, json_t **out,
                             sr_err *err);
/* POST /estimate with "dry_run": runs a WebAssembly request of 'owner' for
 * real, as a job that is never stored and whose storage writes are never
 * committed (a request with "http" is SR_EINVAL: its requests cannot be
 * undone): admitted, counted and charged like any job (a dry run is work
 * done); answers {"runtime", "dry_run": true, "status", "gas_used" (exact:
 * fuel), "duration_ms", "error"?, "max", "cost" (at the price table for
 * this run) | null, "max_cost", "charged"?, "prices", "unit"} (owned).
 * SR_EBUDGET, SR_EBALANCE, SR_EBUSY as a job. */
sr_status sr_engine_dry_run(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                            json_t **out, sr_err *err);
/* {"user", "balance", "unit", "prices", "day", "resets_at", "budgets":
 * {"user": {NAME: {"used", "limit"}}, "token": {"id", "budgets"}}, "ledger":
 * [...], "next": id|null} (owned): owner's balance, today's usage (used or
 * held by running jobs) against each budget (token_id NULL or "": no token
 * part), and the ledger newest first, 'limit' rows (1..SR_MAX_PAGE) below
 * id 'before' (0: from the newest). Needs a store. */
sr_status sr_engine_account(sr_engine *eng, const char *owner, const char *token_id, size_t limit,
                            int64_t before, json_t **out, sr_err *err);
/* Credits owner's balance (sr_store_credit; 'actor' is who did it). */
sr_status sr_engine_credit(sr_engine *eng, const char *owner, uint64_t amount, const char *actor,
                           const char *note, uint64_t *balance, sr_err *err);

#endif /* SR_ENGINE_H */
