/*
 * engine_int.h - private structures of the engine module.
 *
 * Locking: eng->mu guards the per-user counters, the async queue, and the
 * totals; it is never held across a job run, a store call or a sandbox call.
 */
#ifndef SR_ENGINE_INT_H
#define SR_ENGINE_INT_H

#include <pthread.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_wasm.h"

struct user_slot {
    struct user_slot *next;
    unsigned running; /* <= cfg.max_running_per_user */
    unsigned queued;  /* <= cfg.max_queued_per_user */
    char owner[];
};

struct queued_job {
    struct queued_job *next;
    char id[SR_ID_HEX_LEN + 1];
    char *owner;
    int64_t created_at_ms;
    struct sr_job_request req;
};

struct sr_engine {
    struct sr_engine_config cfg;
    sr_store *store;     /* borrowed; NULL for local runs */
    const sr_keys *keys; /* borrowed; NULL: no signature */
    sr_sandbox *sandbox;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue changed, a slot freed, or stopping */
    struct user_slot *users;
    struct queued_job *qhead;
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
    json_t *attestation; /* owned reference: the /attestation document, or NULL */
};

/* What a job run produced, before it becomes the job object. */
struct job_outcome {
    bool ok;
    const char *code; /* SR_CODE_* when !ok */
    char *message;    /* owned, when !ok */
    json_t *output;   /* owned, when ok */
    json_t *logs;     /* owned array */
    uint64_t gas_used;
    json_t *secrets_used; /* owned [{owner,name,version}], may be NULL */
    /* storage (docs/storage.md): set when the job ran with a store; the
     * versions are decimal text ("" until known), as the receipt's
     * storage_version_before/after take them */
    bool has_storage;
    char storage_ns[65];
    char storage_version_before[24];
    char storage_version_after[24];
};
void sr_engine__outcome_fini(struct job_outcome *o);

/* Runs one job in the sandbox and fills *o (never fails: sandbox trouble is
 * itself an outcome). job.c */
void sr_engine__run(sr_engine *eng, const char *owner, const char *job_id,
                    const struct sr_job_request *req, struct job_outcome *o);

/* Resolves the job's secret_refs and appends the JSON object of what the
 * job process receives (the values plus SEALRUN_JOB_ID and SEALRUN_USER) to
 * 'secrets' (the caller wipes it). *used: owned [{owner,name,version}].
 * When a secret is unavailable, returns SR_OK with the job's failure
 * message in 'fail' (SECRET_UNAVAILABLE); other statuses are sealrun's own
 * failures. secrets.c */
sr_status sr_engine__secrets_for_job(sr_engine *eng, const char *owner, const char *job_id,
                                     const struct sr_job_request *req, sr_buf *secrets,
                                     json_t **used, char *fail, size_t fail_len, sr_err *err);

/* Checks the request's secret_refs for 'owner' (syntax, duplicates, count):
 * SR_EINVAL naming the bad reference. secrets.c */
sr_status sr_engine__refs_check(const char *owner, const struct sr_job_request *req, sr_err *err);

/* Builds the job object from an outcome, with output protection and, when
 * the engine has a worker key, the signed receipt of 'owner's job. job.c */
sr_status sr_engine__job_object(const sr_engine *eng, const char *id, const char *owner,
                                const struct sr_job_request *req, struct job_outcome *o,
                                int64_t created_ms, int64_t started_ms, int64_t finished_ms,
                                int64_t wall_us, json_t **out, sr_err *err);

/* Deep copy of a request (for the async queue). request.c */
sr_status sr_engine__request_copy(const struct sr_job_request *src, struct sr_job_request *dst,
                                  sr_err *err);

/* Loads req->module from the store by req->module_hash when it is a WASM
 * job without its bytes. SR_ENOTFOUND when the owner has no such module.
 * module.c */
sr_status sr_engine__module_load(sr_engine *eng, const char *owner, struct sr_job_request *req,
                                 sr_err *err);

/* The job's storage session (supervisor side) for 'owner' and the request's
 * namespace, or *out NULL when the engine has no store or keys (local runs:
 * storage calls then fail in the guest). storage.c */
sr_status sr_engine__storage_begin(sr_engine *eng, const char *owner,
                                   const struct sr_job_request *req, sr_storage_session **out,
                                   sr_err *err);
/* After the run: commits the session's writes when o->ok (a conflict or
 * quota failure turns o into STORAGE_CONFLICT / STORAGE_QUOTA), otherwise
 * drops them; fills o's storage fields and frees the session. storage.c */
void sr_engine__storage_finish(sr_storage_session *s, struct job_outcome *o);

/* In the job process: the 'sealrun' WASM imports bound to the sandbox
 * child (sr_sandbox_hostcall); fills funcs[0..4). child_storage.c */
#define SR_ENGINE__WASM_STORAGE_FUNCS 4
void sr_engine__wasm_storage_funcs(sr_sandbox_child *child,
                                   struct sr_wasi_host_func funcs[SR_ENGINE__WASM_STORAGE_FUNCS]);
/* In the job process: the JS host_call bound to the sandbox child. */
sr_status sr_engine__js_hostcall(void *child, const uint8_t *req, size_t len, sr_buf *resp,
                                 sr_err *err);

/* The sandbox callbacks (run inside job processes). child.c */
sr_status sr_engine__proc_init(void *arg, void **state, sr_err *err);
sr_status sr_engine__job_fn(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req,
                            size_t len, sr_buf *resp, bool *discard, sr_err *err);

#endif /* SR_ENGINE_INT_H */
