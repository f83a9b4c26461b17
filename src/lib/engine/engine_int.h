/* SPDX-License-Identifier: MIT
 *
 * engine_int.h - private structures of the engine module.
 *
 * Locking: eng->mu guards the per-user counters, the async queue, and the
 * totals; it is never held across a job run, a store call or a sandbox call.
 */
#ifndef SR_ENGINE_INT_H
#define SR_ENGINE_INT_H

#include <pthread.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_runner.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_storage.h"

/* Job control (control.c): how a cancel reaches a job this daemon is about
 * to run or runs. In eng->ctls (under mu) from the moment the job leaves
 * the queue until its end is stored. */
struct job_ctl {
    struct job_ctl *next;
    char id[SR_ID_HEX_LEN + 1];
    char owner[SR_MAX_USER_NAME + 1];
    sr_sandbox_cancel
        *cancel;    /* owned: fired by a cancel (the run's sandbox limits); may be NULL */
    bool cancelled; /* a cancel (or a lost lease) asked for the run to end */
};

struct queued_job {
    struct queued_job *next; /* in its owner's FIFO */
    char id[SR_ID_HEX_LEN + 1];
    char *owner;
    int64_t created_at_ms;
    struct sr_job_request req;
    struct sr_secret_refs refs; /* req's secret_refs, parsed for the owner at submit */
    struct job_ctl ctl;         /* in eng->ctls once a worker took it */
};

struct user_slot {
    struct user_slot *next;           /* every owner seen */
    unsigned running;                 /* <= cfg.max_running_per_user */
    unsigned queued;                  /* <= cfg.max_queued_per_user; reserved places included */
    struct queued_job *qhead, *qtail; /* the owner's queued jobs, oldest first */
    struct user_slot *anext;          /* in the turn of owners with queued jobs */
    bool active;                      /* in that turn */
    char owner[];
};

/* A lease this daemon holds on a running job (cluster mode), on the
 * running thread's stack, in eng->leases while the job runs; the keeper
 * thread renews it. */
struct held_lease {
    struct held_lease *next;
    char id[SR_ID_HEX_LEN + 1];
    struct sr_lease lease;     /* until_ms updated by the keeper, under mu */
    int64_t confirmed_ms;      /* under mu: the lease's end as the store last confirmed it */
    bool lost;                 /* under mu: taken over (or unconfirmed past its end): the
                                  job's process is killed and nothing of it is written */
    sr_sandbox_cancel *cancel; /* owned (lease_hold/_release); fired when lost; may be NULL */
};

/* A job's money at its end (settle.c): what it held, used and is charged. */
struct job_money {
    bool has_hold; /* admitted with budgets or prices configured */
    uint64_t reserved;
    uint64_t charged; /* <= reserved */
    struct sr_usage used;
};

/* A job handed to a remote worker (remote.c), in eng->remote under mu from
 * its claim until its result is stored or its lease is found lost. */
struct remote_job {
    struct remote_job *next;
    char holder[SR_ID_HEX_LEN + 1];
    char id[SR_ID_HEX_LEN + 1];
    char owner[SR_MAX_USER_NAME + 1];
    uint64_t fence;
    int64_t created_ms, started_ms;
    enum sr_runtime runtime;
    char code_hash[SR_HASH_HEX_LEN + 1];
    char input_hash[SR_HASH_HEX_LEN + 1];
    bool has_pubkey;
    struct job_money money;     /* its hold here (has_hold false: none); charged at the result */
    struct sr_secret_refs refs; /* the job's secret references: its key uses' audit */
    /* the job's storage (docs/workers.md "Storage"): its session lives
     * here, the worker's host calls go to it; at the job's end 'out' keeps
     * it and the write set prepared for the commit */
    struct job_outcome *out;       /* owned; its ->storage the session (NULL: no storage) */
    const struct sr_kv_commit *kv; /* prepared (owned by the session), or NULL */
    bool prepared;                 /* the worker asked for the storage end */
    bool busy;                     /* a request of the worker uses the entry now */
    bool dead;                     /* forgotten while busy: its user frees it */
};
/* Frees a remote_job and what it owns (remote.c). */
void sr_engine__remote_free(struct remote_job *r);
/* Drops the entries of job 'id' handed to a worker (its lease was taken
 * over or the job cancelled here): their renewals and results are then
 * refused. remote.c */
void sr_engine__remote_forget_id(sr_engine *eng, const char *id);

/* One owner's sealing key as the keystore gave it (secrets.c). */
struct sr_engine__pk_entry {
    char owner[SR_MAX_USER_NAME + 1];
    char b64[64];
    uint64_t used; /* pk_tick at its last use: the least recent goes first */
};
#define SR_ENGINE_PK_CACHE_MAX 1024 /* owners whose keystore sealing key is kept */

struct sr_engine {
    struct sr_engine_config cfg;
    sr_store *store;     /* borrowed; NULL for local runs */
    const sr_keys *keys; /* borrowed; NULL: no signature */
    sr_sandbox *sandbox;
    pthread_mutex_t mu;
    /* under mu: the keystore's sealing keys (its key is pinned, so an
     * answer stays valid while this process runs) */
    struct sr_engine__pk_entry *pk_cache; /* SR_ENGINE_PK_CACHE_MAX, made on first use */
    size_t npk;
    uint64_t pk_tick;
    pthread_cond_t cv;      /* stopping (the purge thread's sleep) */
    pthread_cond_t work_cv; /* a queued job may have become runnable, or stopping: wakes
                               one async worker per such change, never all of them */
    struct user_slot *users;
    struct user_slot *ahead, *atail; /* owners with queued jobs, in turn order */
    unsigned nqueued;
    unsigned running;
    bool stopping;
    bool started;
    pthread_t *workers;
    unsigned nworkers;
    pthread_t purger;
    bool has_purger;
    const sr_worker_key *wkey;     /* borrowed; NULL: jobs carry no receipt */
    const sr_attest_quote *quote;  /* borrowed; NULL: quote type "none" */
    uint8_t pk[SR_ED25519_PK_LEN]; /* wkey's public key */
    uint8_t measurement[SR_MEASUREMENT_LEN];
    json_t *attestation;            /* owned reference: the /attestation document, or NULL */
    struct sr_runner_config runner; /* given to the job processes (read after fork) */
    /* cluster mode (cluster.c): the store is shared and is the queue */
    bool cluster;
    char holder[SR_ID_HEX_LEN + 1]; /* this daemon's id in leases and heartbeats */
    int64_t started_ms;
    struct held_lease *leases; /* under mu */
    pthread_cond_t qcv;        /* idle cluster workers wait here: one woken per wake-up */
    pthread_t keeper, listener;
    bool has_keeper, has_listener;
    sr_http_policy *http;             /* owned: the operator's outbound HTTP policy */
    struct sr_engine__ns_turn *turns; /* under mu: namespaces whose turn a job's end holds */
    pthread_cond_t turn_cv;           /* a turn was given back */
    struct job_ctl *ctls;             /* under mu: the jobs a cancel can reach here (control.c) */
    pthread_cond_t ctl_cv;            /* a job left ctls */
    pthread_t hooks[SR_WEBHOOK_WORKERS]; /* completion webhook workers (webhook.c) */
    unsigned nhooks;
    struct sr_engine__native *native; /* owned: the native tier (native.c) */
    struct remote_job *remote;        /* under mu: jobs handed to remote workers (remote.c) */
    unsigned npolls;                  /* under mu: workers' polls waiting */
    bool polls_closed;                /* under mu: the server stops: polls and sync waits end now */
    pthread_cond_t done_cv;           /* a remote job ended (sync callers of a coordinator wait) */
    uint64_t done_gen;                /* under mu: grows with every done_cv broadcast */
    uint64_t qgen;                    /* under mu: grows with every qcv wake-up (a job may wait),
                                         so a poll that was not waiting yet does not miss one */
};

/* ---- completion webhooks (webhook.c) ---- */

/* Checks a request's callback_url at submit (async only; the operator's
 * outbound HTTP policy and address guard): SR_EINVAL naming the rule. */
sr_status sr_engine__webhook_check(sr_engine *eng, const struct sr_job_request *req, sr_err *err);
/* Starts the delivery workers (with a store and a worker key). */
sr_status sr_engine__webhooks_start(sr_engine *eng, sr_err *err);

/* ---- job control: cancel and queue expiry (control.c) ---- */

/* Puts c (id and owner copied) in eng->ctls with a sandbox cancel of its
 * own (embedded store; on a cluster a job's held lease has one). _locked:
 * eng->mu held. A ctl whose cancel cannot be made still counts (the cancel
 * then waits for the job's end). */
void sr_engine__ctl_add_locked(sr_engine *eng, struct job_ctl *c, const char *id,
                               const char *owner);
void sr_engine__ctl_add(sr_engine *eng, struct job_ctl *c, const char *id, const char *owner);
/* Takes c out of eng->ctls, frees its cancel and wakes cancels waiting
 * for the job's end. */
void sr_engine__ctl_remove(sr_engine *eng, struct job_ctl *c);
/* Asks the run of owner's job 'id' here to end (fires its cancel: the
 * process is killed). true when the job has a ctl here. eng->mu held. */
bool sr_engine__ctl_cancel_locked(sr_engine *eng, const char *id, const char *owner);
/* The cancel of job 'id' for its run's sandbox limits (borrowed, valid
 * until its ctl is removed); NULL when none. */
sr_sandbox_cancel *sr_engine__ctl_cancel_of(sr_engine *eng, const char *id);
/* The messages of a job cancelled while queued and while running. */
extern const char sr_engine__cancelled_queued_msg[];
extern const char sr_engine__cancelled_running_msg[];
/* The queue age past which a queued job ends EXPIRED (ms); 0: never. */
int64_t sr_engine__queue_max_age_ms(const sr_engine *eng);
/* Ends queued jobs older than the queue age as EXPIRED (both modes; on a
 * cluster each exactly once, claimed in the store). Failures are logged. */
void sr_engine__expire_once(sr_engine *eng);
/* The message of an EXPIRED job that waited 'waited_ms'. */
void sr_engine__expired_msg(const sr_engine *eng, int64_t waited_ms, char *out, size_t cap);

/* The in-process queue (engine.c), for control.c. _locked: eng->mu held.
 * Unlinks owner's queued job 'id' (NULL when it is not in the queue). */
struct queued_job *sr_engine__queue_unlink_locked(sr_engine *eng, const char *owner,
                                                  const char *id);
/* Unlinks every queued job created before cutoff_ms, as a list through
 * ->next (NULL: none); linear in the queued jobs' owners plus those unlinked. */
struct queued_job *sr_engine__queue_unlink_stale_locked(sr_engine *eng, int64_t cutoff_ms);
void sr_engine__queued_free(struct queued_job *q);

/* Cluster mode (cluster.c): a cancel on the shared store: takes the job in
 * the store from whichever daemon holds it (that daemon kills it when its
 * renewal is refused) and ends it CANCELLED with its receipt under this
 * daemon's lease. Errors as sr_engine_job_cancel. */
sr_status sr_engine__cluster_cancel(sr_engine *eng, const char *owner, const char *id, sr_err *err);
/* Cluster mode: one round of expiry through sr_store_jobs_stale. */
void sr_engine__cluster_expire(sr_engine *eng, int64_t cutoff_ms);

/* Cluster mode (cluster.c). */
/* Starts the keeper (renews leases, takes over expired ones, heartbeats)
 * and the listener (LISTEN wake-ups) and sweeps once. */
sr_status sr_engine__cluster_start(sr_engine *eng, sr_err *err);
/* An async worker: claims jobs from the store and runs them under a lease. */
void *sr_engine__cluster_worker(void *arg);
/* A sync job in cluster mode: stored running under a lease (the cap counted
 * in the store: SR_EBUSY), run, and finished under the lease. */
sr_status sr_engine__cluster_execute(sr_engine *eng, const char *owner, const char *id,
                                     const struct sr_job_request *req,
                                     const struct sr_secret_refs *refs, bool inline_module,
                                     char **out, size_t *out_len, sr_err *err);
/* Holds/releases a lease in eng->leases (renewed while held; its cancel
 * made and freed here). */
void sr_engine__lease_hold(sr_engine *eng, struct held_lease *h);
void sr_engine__lease_release(sr_engine *eng, struct held_lease *h);
/* Whether the keeper found the held lease taken over. */
bool sr_engine__lease_lost(sr_engine *eng, const struct held_lease *h);
/* The lease length. */
int64_t sr_engine__lease_ms(const sr_engine *eng);

/* Shared with cluster.c (engine.c): runs a job and records it (with a
 * lease: finished under it; else inserted or updated); records a job that
 * could not run as failed with 'code' (with its own receipt); the result
 * TTL. */
sr_status sr_engine__run_and_record(sr_engine *eng, const char *owner, const char *id,
                                    int64_t created_ms, const struct sr_job_request *req,
                                    const struct sr_secret_refs *refs, bool insert,
                                    bool inline_module, struct held_lease *held, char **out,
                                    size_t *out_len, sr_err *err);
sr_status sr_engine__record_failure(sr_engine *eng, const char *id, const char *owner,
                                    int64_t created_ms, int64_t started_ms,
                                    const struct sr_job_request *req, enum sr_job_code code,
                                    const char *msg, const struct sr_lease *lease, sr_err *err);
int64_t sr_engine__ttl_ms(const sr_engine *eng);
/* One round of the purge: expired jobs, unused module claims, old audit
 * rows (at start and every minute; on PostgreSQL one daemon at a time). */
void sr_engine__purge_once(sr_engine *eng);
/* Parses a stored request (request_json) back into a request. */
sr_status sr_engine__request_from_row(const struct sr_job_row *r, struct sr_job_request *req,
                                      sr_err *err);
/* The message of an INTERRUPTED job. */
extern const char sr_engine__interrupted_msg[];

/* A secret a job used, for its receipt and job object. */
struct job_secret_used {
    char owner[SR_MAX_USER_NAME + 1];
    char name[SR_SECRET_NAME_MAX + 1];
    uint64_t version;
};

/* What a job run produced, before it becomes the job object. */
struct job_outcome {
    enum sr_job_code code; /* SR_JOB_OK: completed */
    char *message;         /* owned, when failed */
    sr_buf canon;          /* completed: the canonical output (RFC 8785), <= SR_MAX_OUTPUT */
    char output_hash[SR_HASH_HEX_LEN + 1]; /* completed: SHA-256 of canon */
    json_t *logs;                          /* owned array of strings */
    uint64_t gas_used;
    size_t nused;
    struct job_secret_used used[SR_MAX_SECRET_REFS];
    bool discard_process; /* the process received another owner's or a code-bound secret */
    bool module_invalid;  /* MODULE_ERROR: the bytes are not a valid module */
    /* storage (docs/storage.md): set when the job ran with a store; the
     * versions are decimal text ("" until known), as the receipt's
     * storage_version_before/after take them */
    bool has_storage;
    sr_storage_session *storage; /* owned: the job's buffered writes, committed with its end */
    char storage_ns[65];
    char storage_version_before[24];
    char storage_version_after[24];
    json_t *http; /* owned: the receipt's list of HTTP exchanges, NULL when none */
    /* the job's VRF calls for its receipt (owned array; NULL: none),
     * at most SR_VRF_MAX_CALLS: {"seed","output","proof"} in hex */
    json_t *vrf;
    /* the job's uses of its generated keys for the receipt (owned array;
     * NULL: none): {"name","kind","operation","data_sha256"} */
    json_t *key_uses;
    /* a recorded job: its sealed recording (owned base64, the store's and
     * GET /jobs/{id}/recording's) and the SHA-256 of that text (the
     * receipt's recording_sha256); NULL and "" otherwise */
    char *recording;
    char recording_sha256[SR_HASH_HEX_LEN + 1];
    struct job_money money; /* set by sr_engine__money_quote before the job object is built */
    bool native;            /* WASM: the native tier ran it (the job object's "tier") */
};

/* ---- the native tier (native.c, docs/wasm.md "Two tiers") ---- */

struct sr_engine__native;

/* The compiler, its cache and the background queue, from cfg's native_*
 * options. Without native_cache_dir, without an empty root for job
 * processes (empty_root) or without the tools, the tier is off (logged;
 * sr_engine__native_why says why) and *out still SR_OK. SR_ENOMEM. */
sr_status sr_engine__native_new(const struct sr_engine_config *cfg, bool empty_root,
                                struct sr_engine__native **out, sr_err *err);
/* Stops the compiler thread. NULL is a no-op. */
void sr_engine__native_free(struct sr_engine__native *n);
/* What the job process is told to do about native code for 'req': its
 * tier, and under "auto" how often its module ran (counted here, once per
 * call) and whether it is compiled. Thread-safe. */
enum sr_spec_native sr_engine__native_plan(struct sr_engine__native *n,
                                           const struct sr_job_request *req);
/* Answers a job process's 'N' host call for the job's module 'code_hash'
 * (sr_runner.h): 'G' compiles (or hits the cache), 'L' only looks (a miss
 * is SR_ENOTFOUND and queues it), 'Q' queues. An object comes back as a
 * sealed memfd in *fd (the caller's). SR_ENOTFOUND when the tier is off
 * (the message says why); the compiler's SR_ELIMIT or SR_EINVAL. */
sr_status sr_engine__native_call(struct sr_engine__native *n, const uint8_t code_hash[32],
                                 const uint8_t *req, size_t len, int *fd, sr_err *err);
/* NULL when the tier is on, else why not. */
const char *sr_engine__native_why(const struct sr_engine__native *n);

/* ---- money (settle.c, docs/accounts.md) ---- */

/* The most a request may use (jobs 1) and cost (0 without a price table). */
sr_status sr_engine__money_max(const sr_engine *eng, const struct sr_job_request *req,
                               struct sr_usage *max, uint64_t *cost, sr_err *err);
/* Holds the most job 'id' may use and cost (nothing without budgets or
 * prices): SR_EBUDGET or SR_EBALANCE with the store's message. */
sr_status sr_engine__money_admit(sr_engine *eng, const char *owner, const char *id,
                                 const struct sr_job_request *req, sr_err *err);
/* Fills o->money from the job's hold and what it did ('ran' false: it
 * never ran, and is charged nothing). Before the job object is built. */
void sr_engine__money_quote(sr_engine *eng, const char *id, const struct sr_job_request *req,
                            bool ran, struct job_outcome *o, int64_t wall_us);
/* The settle step of every terminal state, after the job's row is stored:
 * charges o->money and gives the rest back, once. Failures are logged
 * (the sweep releases the hold later). */
void sr_engine__job_settle(sr_engine *eng, const char *id, const struct job_outcome *o);
/* Releases a job's hold in full (a job refused or dropped before it was
 * stored). */
void sr_engine__money_release(sr_engine *eng, const char *id);
/* Releases dangling holds (at start: every one whose job is not queued or
 * running) and, after start, purges old settled holds. */
void sr_engine__money_sweep(sr_engine *eng, bool at_start);
/* The job object's "cost" (owned), or NULL when nothing was reserved. */
json_t *sr_engine__cost_json(const struct job_money *m);
/* Settles a job's hold with what m says it used and is charged (as
 * sr_engine__job_settle; nothing without a hold). */
void sr_engine__money_settle(sr_engine *eng, const char *id, const struct job_money *m);

/* A remote worker's job (settle.c, docs/workers.md "Money"). The
 * coordinator: the hand-out's "money" member ({"reserved", "prices"},
 * owned) and *m the hold (has_hold false and NULL: none). */
json_t *sr_engine__remote_money_json(sr_engine *eng, const char *id, struct job_money *m);
/* The coordinator: computes m's use and charge again from the worker's
 * job object (its receipt's gas_used, duration_us and http) and checks
 * the receipt's "cost" is exactly that: SR_EINVAL naming the expected
 * cost otherwise. Nothing without a hold. */
sr_status sr_engine__remote_money_check(sr_engine *eng, const char *id, enum sr_runtime rt,
                                        enum sr_job_code code, const json_t *job,
                                        struct job_money *m, sr_err *err);
/* The worker: the hand-out's reservation and the coordinator's prices. */
struct remote_money {
    bool has_hold;
    uint64_t reserved;
    sr_money *money; /* owned: the coordinator's price table (none: no prices) */
};
/* Parses the hand-out's "money" (NULL or null: no hold) into *out
 * (sr_engine__remote_money_fini frees it). SR_EINVAL naming the shape. */
sr_status sr_engine__remote_money_parse(const json_t *j, struct remote_money *out, sr_err *err);
void sr_engine__remote_money_fini(struct remote_money *rm);
/* Sets o->money as the coordinator will charge it (wall_us the run's). */
void sr_engine__remote_money_quote(const struct remote_money *rm, enum sr_runtime rt,
                                   struct job_outcome *o, int64_t wall_us);

/* ---- record and replay (record.c, replay.c; docs/http.md) ---- */

struct sr_engine__record {
    json_t *calls;    /* recording: owned array of calls; replay: the recording's (borrowed) */
    bool replay;      /* answer from calls instead of performing them */
    size_t next;      /* replay: the next recorded call */
    size_t bytes;     /* recording: bytes kept, <= SR_MAX_RECORDING */
    bool over;        /* recording: past SR_MAX_RECORDING: the job fails RECORDING_LIMIT */
    uint8_t seed[32]; /* the job's randomness (sr_job_spec.record_seed) */
    char diverged[SR_ERR_MSG_MAX]; /* replay: the first call that differed ("" none) */
};

/* A job run as a replay: the recorded job's id and owner (the guest sees
 * both) and whether it had storage. */
struct sr_engine__replay_job {
    struct sr_engine__record *rec;
    char job_id[SR_ID_HEX_LEN + 1];
    char owner[SR_MAX_USER_NAME + 1];
    bool storage;
};

/* A new recording with a fresh seed (calls NULL on ENOMEM: keep fails). */
void sr_engine__record_init(struct sr_engine__record *r);
void sr_engine__record_fini(struct sr_engine__record *r);
/* One host call of a recorded or replayed job: performed by fn (or, for
 * 'T', by the supervisor's clock) and kept, or answered from the
 * recording. */
sr_status sr_engine__record_call(struct sr_engine__record *r, sr_sandbox_host_fn fn, void *arg,
                                 const uint8_t *req, size_t len, sr_buf *resp, sr_err *err);
/* A replayed call: the recorded answer when req is the recorded call,
 * else SR_EINVAL naming the first difference (kept in r->diverged). */
sr_status sr_engine__replay_call(struct sr_engine__record *r, const uint8_t *req, size_t len,
                                 sr_buf *resp, sr_err *err);
/* Seals the recording to req->record_pubkey: *sealed (owned base64) and
 * the hex SHA-256 of that text. */
sr_status sr_engine__record_seal(const struct sr_engine__record *r, const char *owner,
                                 const char *job_id, const struct sr_job_request *req, bool storage,
                                 char **sealed, char hash[SR_HASH_HEX_LEN + 1], sr_err *err);

/* ---- generated keys a job uses but never reads (keys.c) ---- */

/* kinds: SR_KEY_* of sr_secret.h */
#define SR_KEY_MAX_DATA (64 * 1024) /* bytes one key call signs */
#define SR_KEY_MAX_USES 64          /* key calls per job */

struct sr_engine__key {
    char name[SR_SECRET_NAME_MAX + 1]; /* as the job names it (the secret's key) */
    char owner[SR_MAX_USER_NAME + 1];  /* the secret's owner, name and version (the audit) */
    char secret[SR_SECRET_NAME_MAX + 1];
    uint64_t version;
    int kind;    /* SR_KEY_* */
    uint8_t *sk; /* sodium_malloc, 32 bytes */
};

/* A job's generated keys, held by the supervisor for its run. */
struct sr_engine__keys {
    size_t n;
    struct sr_engine__key key[SR_MAX_SECRET_REFS];
};

/* True if a secret value is a generated key ("sealrun.key.v1:..."). */
bool sr_engine__is_key_value(const uint8_t *p, size_t len);
/* Moves the generated keys of 'set' into *keys and replaces each such value
 * in the set with its public reference "sealrun.keyref.v1:<kind>:<hex>".
 * *keys must be fini'd (sr_engine__keys_fini) whatever is returned. */
sr_status sr_engine__keys_take(struct sr_secret_set *set, struct sr_engine__keys *keys,
                               sr_err *err);
void sr_engine__keys_fini(struct sr_engine__keys *keys);
/* Answers one 'K' host call (SR_RUNNER_HOSTCALL_KEY) and appends the use to
 * *uses (made on first use). SR_EDENIED for a key the job does not have,
 * SR_EINVAL for an operation the key cannot do, SR_ELIMIT past the caps. */
sr_status sr_engine__key_call(const struct sr_engine__keys *keys, const uint8_t *req, size_t len,
                              json_t **uses, sr_buf *resp, sr_err *err);
/* Writes one secret audit row per use in 'uses' (outcome "used", the reason
 * naming the operation and the SHA-256 of its data) for 'user's job.
 * Failures are logged: the job's result stands. */
void sr_engine__keys_audit(sr_engine *eng, const struct sr_engine__keys *keys, const json_t *uses,
                           const char *user, const char *job_id, const struct sr_job_request *req);
/* The same for a job a remote worker ran (a coordinator): one row per use
 * in the verified receipt's key_uses that names one of the job's own
 * references 'refs' (others are logged and skipped), at the version the
 * receipt's secret_refs give. */
void sr_engine__keys_audit_remote(sr_engine *eng, const struct sr_secret_refs *refs,
                                  const json_t *receipt, const char *user, const char *job_id);
/* Makes the at-rest blob of a secret's version 'version' (*blob owned). */
typedef sr_status (*sr_engine__blob_fn)(void *arg, uint64_t version, uint8_t **blob, size_t *len,
                                        sr_err *err);
/* Writes the owner's secret 'name' at the next version with compare-and-set
 * on the current one, the blob made by 'make' for that version (the
 * version is in the blob's AAD, so a lost race makes it again); at most 8
 * tries, then SR_ECONFLICT. *version the one written. secrets.c */
sr_status sr_engine__secret_put_cas(sr_engine *eng, const char *owner, const char *name,
                                    sr_engine__blob_fn make, void *arg, uint64_t *version,
                                    sr_err *err);
/* Stores a value under the owner's secret 'name' (the next version). secrets.c */
sr_status sr_engine__secret_put_raw(sr_engine *eng, const char *owner, const char *name,
                                    const uint8_t *value, size_t len, uint64_t *version,
                                    sr_err *err);
void sr_engine__outcome_init(struct job_outcome *o);
void sr_engine__outcome_fini(struct job_outcome *o);
/* Fails the outcome with a code and a message (the output is dropped). */
void sr_engine__fail(struct job_outcome *o, enum sr_job_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs one job in the sandbox and fills *o (initialised here; never fails:
 * sandbox trouble is itself an outcome). 'cancel' (may be NULL) fired
 * kills the job's process at once. job.c */
void sr_engine__run(sr_engine *eng, const char *owner, const char *job_id,
                    const struct sr_job_request *req, const struct sr_secret_refs *refs,
                    sr_sandbox_cancel *cancel, struct job_outcome *o);
/* As sr_engine__run, as the replay of a recording when 'replay' is not
 * NULL (replay.c). */
void sr_engine__run_job(sr_engine *eng, const char *owner, const char *job_id,
                        const struct sr_job_request *req, const struct sr_secret_refs *refs,
                        const struct sr_engine__replay_job *replay, sr_sandbox_cancel *cancel,
                        struct job_outcome *o);

/* Records in o the secrets of 'set' a job of 'owner' uses (o->used) and
 * whether its process must be discarded after it. secrets.c */
void sr_engine__secrets_used(const char *owner, const struct sr_secret_set *set,
                             struct job_outcome *o);
/* As sr_engine__run, with the secrets already resolved (a remote
 * worker's job): takes *given (wiped and emptied). job.c */
void sr_engine__run_given(sr_engine *eng, const char *owner, const char *job_id,
                          const struct sr_job_request *req, struct sr_secret_set *given,
                          const struct sr_engine_remote_io *io, sr_sandbox_cancel *cancel,
                          struct job_outcome *o);
/* Ends a claimed row whose request cannot be read back (cluster.c). */
void sr_engine__finish_unreadable(sr_engine *eng, const struct sr_job_row *r,
                                  const struct sr_lease *l, const char *why);
/* Ends one job taken back from a holder that stopped, under the new lease
 * *mine: INTERRUPTED with its receipt, or as unreadable; errors logged
 * (cluster.c). */
void sr_engine__interrupt_row(sr_engine *eng, const struct sr_job_row *row,
                              const struct sr_lease *mine);
/* A coordinator's synchronous job: queued for the workers and waited for
 * (remote.c); errors as sr_engine_execute. */
sr_status sr_engine__remote_execute(sr_engine *eng, const char *owner,
                                    const struct sr_job_request *req, char **out, size_t *out_len,
                                    sr_err *err);

/* Resolves the job's secret references (parsed once, by
 * sr_engine__refs_check) into *set (values, wiped by
 * sr_secret_set_fini) and records in o which were used and whether the
 * process must be discarded after the job. When a secret is unavailable,
 * returns SR_OK with the job's failure message in 'fail'
 * (SECRET_UNAVAILABLE); other statuses are sealrun's own failures.
 * secrets.c */
sr_status sr_engine__secrets_for_job(sr_engine *eng, const char *owner, const char *job_id,
                                     const struct sr_job_request *req,
                                     const struct sr_secret_refs *refs, struct sr_secret_set *set,
                                     struct job_outcome *o, char *fail, size_t fail_len,
                                     sr_err *err);

/* Records one audit row of a secret's use or denial (the resolver's audit
 * callback; ctx is the engine). secrets.c */
sr_status sr_engine__audit_add(void *ctx, const struct sr_secret_audit *rec, sr_err *err);

/* Parses the request's secret_refs for 'owner' into *out (syntax,
 * duplicates, count): SR_EINVAL naming the bad reference. secrets.c */
sr_status sr_engine__refs_check(const char *owner, const struct sr_job_request *req,
                                struct sr_secret_refs *out, sr_err *err);

/* The job object as JSON text (owned, free()), from an outcome, with output
 * protection and, when the engine has a worker key, the signed receipt of
 * 'owner's job; the canonical output is spliced in byte for byte. job.c */
sr_status sr_engine__job_text(const sr_engine *eng, const char *id, const char *owner,
                              const struct sr_job_request *req, const struct job_outcome *o,
                              int64_t created_ms, int64_t started_ms, int64_t finished_ms,
                              int64_t wall_us, char **out, size_t *out_len, sr_err *err);

/* Deep copy of a request (for the async queue). request.c */
sr_status sr_engine__request_copy(const struct sr_job_request *src, struct sr_job_request *dst,
                                  sr_err *err);

/* Loads req->code from the store by req->code_hash_hex when it is a WASM
 * job without its bytes. SR_ENOTFOUND when the owner has no such module.
 * module.c */
sr_status sr_engine__module_load(sr_engine *eng, const char *owner, struct sr_job_request *req,
                                 sr_err *err);
/* Stores module bytes and their description for 'owner' under the owner's
 * module quotas (SR_ELIMIT naming the quota, usage and limit). module.c */
sr_status sr_engine__module_store(sr_engine *eng, const char *owner, const char *hash,
                                  const uint8_t *bytes, size_t len, const char *info_json,
                                  bool *created, sr_err *err);
/* Purge work beside the jobs' (called by the purge): module claims unused
 * for the expiry period (module.c), audit rows past retention (secrets.c).
 * Failures are logged; the next purge retries. */
void sr_engine__modules_expire(sr_engine *eng, int64_t now_ms);
void sr_engine__audit_purge(sr_engine *eng, int64_t now_ms);

/* Admission (engine.c): takes one of 'owner's running slots, SR_EBUSY when
 * all are in use; release it with sr_engine__slot_release. */
sr_status sr_engine__slot_take(sr_engine *eng, const char *owner, sr_err *err);
void sr_engine__slot_release(sr_engine *eng, const char *owner);

/* Seals the storage keys an older store holds in clear (once; needs the
 * keys). storage.c */
sr_status sr_engine__storage_upgrade(sr_engine *eng, sr_err *err);

/* The job's storage session (supervisor side) for 'owner' and the request's
 * namespace, or *out NULL when the engine has no store or keys (local runs:
 * storage calls then fail in the guest). storage.c */
sr_status sr_engine__storage_begin(sr_engine *eng, const char *owner,
                                   const struct sr_job_request *req, sr_storage_session **out,
                                   sr_err *err);
/* After the run: o takes the session (freed with o); a failed job that a
 * per-job storage cap ended gets that cap's code. Nothing is committed
 * here: the writes go with the job's end (sr_engine__storage_prepare).
 * storage.c */
void sr_engine__storage_keep(sr_storage_session *s, struct job_outcome *o);
/* Before each attempt to store the job's end: a completed job's write set,
 * validated and sealed for the namespace's next version (NULL when it
 * wrote nothing, failed, or has no storage), and o's storage versions as
 * they will be once it commits (a failed job: the current version, writes
 * dropped). A read the job made that changed, or a store failure, fails o
 * (STORAGE_CONFLICT / INTERNAL_ERROR) and returns NULL. storage.c */
const struct sr_kv_commit *sr_engine__storage_prepare(struct job_outcome *o);
/* A namespace's turn (storage.c): one job's end at a time per owner's
 * namespace in this daemon, held from the validation of its writes to its
 * stored end. Jobs of one owner writing one namespace would otherwise
 * validate, seal and sign their ends together, and all but one would find
 * the namespace moved and do it all again; other namespaces never wait.
 * Across daemons the commit stays optimistic. */
struct sr_engine__ns_turn {
    struct sr_engine__ns_turn *next;
    const char *owner; /* borrowed */
    const char *ns;    /* borrowed */
    bool held;
};
/* Takes the turn of o's namespace when o is a completed job with storage
 * writes (waits while another job's end holds it); else holds nothing.
 * Give it back with _give in every case. */
void sr_engine__storage_turn_take(sr_engine *eng, const char *owner, const struct job_outcome *o,
                                  struct sr_engine__ns_turn *t);
void sr_engine__storage_turn_give(sr_engine *eng, struct sr_engine__ns_turn *t);
/* The store refused the prepared write set (SR_ELIMIT with res and the
 * store's error 'why', or the namespace kept moving: res NULL): o fails
 * with STORAGE_QUOTA or STORAGE_CONFLICT and its writes are dropped.
 * storage.c */
void sr_engine__storage_refused(struct job_outcome *o, const struct sr_kv_result *res,
                                const sr_err *why);

#endif /* SR_ENGINE_INT_H */
