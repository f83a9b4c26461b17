/* SPDX-License-Identifier: MIT
 *
 * sr_worker.h - a remote worker's side of the coordinator protocol
 * (docs/workers.md): `sealrund --role worker` registers its Ed25519 worker
 * key, measurement and attestation with the coordinator, then sends a
 * heartbeat every few seconds until it is stopped or the operator revokes
 * it. Every request carries the worker token and is signed with the worker
 * key (sr_receipt.h, "a remote worker's signed requests"). The worker holds
 * no database handle and no master key.
 *
 * Bounds: every answer is read up to SR_WORKER_MAX_ANSWER bytes (a job
 * handed out: SR_WORKER_MAX_JOB), every request has a total time limit,
 * and at most two requests are in flight (a heartbeat and a poll or a
 * result); one job runs at a time.
 * Thread-safety: one thread runs sr_worker_run(); sr_worker_stop() may be
 * called from any thread.
 */
#ifndef SR_WORKER_H
#define SR_WORKER_H

#include <stdint.h>
#include "sealrun/sr_attest.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_receipt.h"

typedef struct sr_worker sr_worker;

#define SR_WORKER_MAX_ANSWER (64u * 1024u) /* bytes of one coordinator answer */
#define SR_WORKER_REQUEST_TIMEOUT_S 30     /* default total time of one request */
#define SR_WORKER_TOKEN_MAX 512            /* bytes of a worker token */
/* bytes of the answer that hands out a job: its request with a module
 * inline (SR_MAX_MODULE in base64), input and secrets */
#define SR_WORKER_MAX_JOB (32u * 1024u * 1024u)
#define SR_WORKER_JOBS_MAX 16    /* --jobs (the coordinator's cap: SR_ENGINE_WORKER_MAX_JOBS) */
#define SR_WORKER_POLL_WAIT_S 30 /* GET /worker/jobs?wait= */
#define SR_WORKER_DEFAULT_CACHE_BYTES (256ull * 1024 * 1024) /* the module cache's bound */

struct sr_worker_config {
    const char *coordinator; /* base URL, http:// or https://, no trailing path */
    const char *token;       /* the worker token (sealrun worker token create) */
    const sr_worker_key *key;
    const sr_attest_quote *quote;
    const uint8_t *measurement; /* 32 bytes */
    const char *version;        /* what it registers as (SR_VERSION) */
    unsigned request_timeout_s; /* 0 = SR_WORKER_REQUEST_TIMEOUT_S */
    sr_engine *eng;       /* borrowed, started without a store: runs the jobs handed out; NULL:
                             registration and heartbeats only */
    const char *data_dir; /* with eng: the module cache lives in DATA_DIR/modules */
    uint64_t module_cache_bytes; /* its bound; 0 = SR_WORKER_DEFAULT_CACHE_BYTES */
    /* --keystore URL and --keystore-key (docs/keystore.md): the jobs of a
     * coordinator with a keystore get their secrets from it, in answers
     * signed by keystore_pk (32 bytes, pinned here: a coordinator cannot
     * put another keystore in its place). NULL: no keystore. */
    const char *keystore;
    const uint8_t *keystore_pk;
    /* --jobs: jobs run at once, each in its own sandbox; 0 = 1, at most
     * SR_WORKER_JOBS_MAX. The worker asks the coordinator for that many
     * (GET /worker/jobs?jobs=N); the coordinator may give fewer. */
    unsigned jobs;
};

/* Copies the strings; borrows key, quote, measurement and eng (they outlive
 * the worker); with eng, creates the module cache in DATA_DIR/modules.
 * SR_EINVAL for a URL that is not http(s)://..., an empty or oversized
 * token, a missing key, or eng without data_dir. Returns owned:
 * sr_worker_free(). */
sr_status sr_worker_new(const struct sr_worker_config *cfg, sr_worker **out, sr_err *err);
void sr_worker_free(sr_worker *w);

/* Registers with the coordinator. The coordinator's refusals keep their
 * status and message: SR_EDENIED (unknown token, bad signature, clock),
 * SR_EFORBIDDEN (revoked, attestation not accepted), SR_ECONFLICT (the
 * token is bound to another key), SR_EINVAL; SR_EIO when it cannot be
 * reached or answers 5xx (worth retrying). On SR_OK *id (17 bytes) is the
 * worker's id and *state its state ("active" or "draining"). */
sr_status sr_worker_register(sr_worker *w, char id[17], char state[16], sr_err *err);

/* Registers (retrying SR_EIO with backoff from 0.5 s doubling to 10 s),
 * then, until sr_worker_stop(): SR_OK, sends heartbeats at the interval
 * the coordinator names (every third of the lease while a job runs: they
 * renew its lease) on a thread of its own, and long-polls GET /worker/jobs
 * for one job at a time, runs it in cfg->eng and posts its result with
 * the signed receipt (a job whose lease the coordinator says is lost is
 * killed and its result not sent). A refusal that retrying cannot cure (revoked,
 * unknown token, another key) ends it with that status. 'ready' (may be
 * NULL) is called once after the first registration. */
typedef void (*sr_worker_ready_fn)(void *arg, const char *id, const char *state);
sr_status sr_worker_run(sr_worker *w, sr_worker_ready_fn ready, void *arg, sr_err *err);

/* Makes sr_worker_run() return soon (within one request's time). */
void sr_worker_stop(sr_worker *w);

#endif /* SR_WORKER_H */
