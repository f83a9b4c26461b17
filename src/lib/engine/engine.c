/* SPDX-License-Identifier: MIT
 *
 * engine.c - the engine's lifecycle, per-user admission (running cap and
 * async queue cap), the async workers, recovery after a restart, the
 * expiry purge, and reading jobs back for the API.
 *
 * Invariant 4 (design.md): an acknowledged job is durable. A synchronous job
 * is acknowledged by its answer, so it is stored once, finished, before
 * the answer; an async job is stored 'queued' before the 202, then
 * 'running', then finished. After a crash, 'running' rows become failed
 * with INTERRUPTED (never rerun) and 'queued' rows run.
 *
 * Sections: admission; sync and async execution; workers and recovery;
 * reading jobs; lifecycle.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sealrun/sr_metrics.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_util.h"
#include "sealrun/sr_vrf.h"

#define DEFAULT_TTL_MS (24ll * 3600 * 1000)
#define DEFAULT_WORKERS 8
#define PURGE_INTERVAL_S 60
#define INTERRUPTED_MSG sr_engine__interrupted_msg

const char sr_engine__interrupted_msg[] =
    "sealrund stopped while this job was running; it was not rerun. Submit it again if it is "
    "safe to repeat";

/* ---- admission (eng->mu held) ---- */

static struct user_slot *
slot_get(sr_engine *eng, const char *owner)
{
    for (struct user_slot *u = eng->users; u; u = u->next)
        if (strcmp(u->owner, owner) == 0)
            return u;
    size_t n = strlen(owner) + 1;
    struct user_slot *u = calloc(1, sizeof(*u) + n);
    if (!u)
        return NULL;
    memcpy(u->owner, owner, n);
    u->next = eng->users;
    eng->users = u;
    return u;
}

sr_status
sr_engine__slot_take(sr_engine *eng, const char *owner, sr_err *err)
{
    pthread_mutex_lock(&eng->mu);
    struct user_slot *u = slot_get(eng, owner);
    if (!u) {
        pthread_mutex_unlock(&eng->mu);
        return sr_err_set(err, SR_ENOMEM, "out of memory admitting a job");
    }
    if (u->running >= eng->cfg.max_running_per_user) {
        unsigned cap = eng->cfg.max_running_per_user;
        pthread_mutex_unlock(&eng->mu);
        return sr_err_set(err, SR_EBUSY,
                          "user '%s' already has %u running jobs (the limit); retry later or "
                          "submit with \"async\": true",
                          owner, cap);
    }
    u->running++;
    eng->running++;
    pthread_mutex_unlock(&eng->mu);
    return SR_OK;
}

void
sr_engine__slot_release(sr_engine *eng, const char *owner)
{
    pthread_mutex_lock(&eng->mu);
    struct user_slot *u = slot_get(eng, owner);
    if (u && u->running)
        u->running--;
    eng->running--;
    /* One slot freed lets at most one queued job start; with nothing queued
     * no worker has anything to do (waking them all on every job end cost
     * 8 futex wake-ups and context switches per job). */
    if (eng->nqueued)
        pthread_cond_signal(&eng->work_cv);
    pthread_mutex_unlock(&eng->mu);
}

/* ---- sync and async execution ---- */

static int64_t
ttl_ms(const sr_engine *eng)
{
    return eng->cfg.result_ttl_ms > 0 ? eng->cfg.result_ttl_ms : DEFAULT_TTL_MS;
}

int64_t
sr_engine__ttl_ms(const sr_engine *eng)
{
    return ttl_ms(eng);
}

/* Attempts to store a job's end before the namespace's moving under it is
 * a conflict (each attempt validates and seals again). */
#define END_ATTEMPTS 16

/* Builds the job text and (with a store) stores the job's end: under
 * 'lease' when it has one (cluster mode), else inserted or updated, in one
 * transaction with the storage writes of a completed job
 * (sr_store_job_end). A refused write set fails the job (o) and its end
 * is built again without it. */
static sr_status
try_end(sr_engine *eng, const char *owner, const char *id, const struct sr_job_request *req,
        struct job_outcome *o, const int64_t times[4], bool insert, const struct sr_lease *lease,
        char **out, size_t *out_len, sr_err *err)
{
    int64_t created_ms = times[0], started = times[1], finished = times[2], wall = times[3];
    for (int attempt = 1;; attempt++) {
        const struct sr_kv_commit *kv = sr_engine__storage_prepare(o);
        char *text = NULL;
        size_t len = 0;
        sr_status rc = sr_engine__job_text(eng, id, owner, req, o, created_ms, started, finished,
                                           wall, &text, &len, err);
        if (rc != SR_OK || !eng->store) {
            *out = text;
            *out_len = len;
            return rc;
        }
        struct sr_job_row row = {
            .owner = (char *)(uintptr_t)owner,
            .state = o->code == SR_JOB_OK ? SR_JOB_COMPLETED : SR_JOB_FAILED,
            .runtime = (char *)(uintptr_t)sr_runtime_name(req->runtime),
            .result_json = text,
            .created_at_ms = created_ms,
            .started_at_ms = started,
            .finished_at_ms = finished,
            .expires_at_ms = finished + ttl_ms(eng),
            .gas_used = o->gas_used,
            .duration_us = wall,
        };
        memcpy(row.id, id, sizeof(row.id));
        if (o->code != SR_JOB_OK)
            (void)snprintf(row.error_code, sizeof(row.error_code), "%s", sr_job_code_name(o->code));
        const struct sr_job_end end = {.row = &row, .lease = lease, .insert = insert, .kv = kv};
        struct sr_kv_result res = {0};
        sr_err e = {0};
        rc = sr_store_job_end(eng->store, &end, kv ? &res : NULL, &e);
        if (rc == SR_OK && !res.moved) {
            *out = text;
            *out_len = len;
            return SR_OK;
        }
        free(text);
        if (rc == SR_OK && attempt < END_ATTEMPTS)
            continue; /* the namespace moved: validate again */
        if (rc == SR_OK || (rc == SR_ELIMIT && kv)) {
            sr_engine__storage_refused(o, rc == SR_OK ? NULL : &res, &e);
            continue; /* the job failed: its end without the writes */
        }
        if (err)
            *err = e;
        return sr_err_wrap(err, "storing job '%s'", id);
    }
}

/* store_end's attempts, in the namespace's turn when the job writes
 * storage (sr_engine__storage_turn_take). */
static sr_status
store_end(sr_engine *eng, const char *owner, const char *id, const struct sr_job_request *req,
          struct job_outcome *o, const int64_t times[4], bool insert, const struct sr_lease *lease,
          char **out, size_t *out_len, sr_err *err)
{
    struct sr_engine__ns_turn turn;
    sr_engine__storage_turn_take(eng, owner, o, &turn);
    sr_status rc = try_end(eng, owner, id, req, o, times, insert, lease, out, out_len, err);
    sr_engine__storage_turn_give(eng, &turn);
    return rc;
}

/* Stores a recorded job's sealed recording, before the job itself: a
 * receipt's recording_sha256 always has its recording. */
static sr_status
store_recording(sr_engine *eng, const char *owner, const char *id, const struct job_outcome *o,
                int64_t finished, sr_err *err)
{
    if (!eng->store || !o->recording)
        return SR_OK;
    struct sr_recording_row rec = {.owner = owner,
                                   .sealed = o->recording,
                                   .created_at_ms = finished,
                                   .expires_at_ms = finished + ttl_ms(eng)};
    memcpy(rec.job_id, id, sizeof(rec.job_id));
    memcpy(rec.sha256, o->recording_sha256, sizeof(rec.sha256));
    sr_status rc = sr_store_recording_put(eng->store, &rec, err);
    if (rc != SR_OK)
        sr_err_wrap(err, "storing the recording of job '%s'", id);
    return rc;
}

/* Runs a job whose slot is taken; builds its job text and (with a store)
 * records it: under 'lease' when it has one (cluster mode), else inserted
 * or updated; its storage writes commit with it. */
sr_status
sr_engine__run_and_record(sr_engine *eng, const char *owner, const char *id, int64_t created_ms,
                          const struct sr_job_request *req, const struct sr_secret_refs *refs,
                          bool insert, bool inline_module, struct held_lease *held, char **out,
                          size_t *out_len, sr_err *err)
{
    struct job_outcome o;
    const struct sr_lease *lease = held ? &held->lease : NULL;
    int64_t started = sr_now_ms();
    int64_t t0 = sr_mono_us();
    /* a cluster job is stopped through its lease, one on the embedded
     * store through its ctl (control.c): there a fired cancel is the
     * owner's, and the job's end (written) is CANCELLED */
    sr_sandbox_cancel *mine = held ? NULL : sr_engine__ctl_cancel_of(eng, id);
    sr_engine__run(eng, owner, id, req, refs, held ? held->cancel : mine, &o);
    if (mine && sr_sandbox_cancel_fired(mine) && o.code != SR_JOB_OK)
        sr_engine__fail(&o, SR_JOB_CANCELLED, "%s", sr_engine__cancelled_running_msg);
    int64_t wall = sr_mono_us() - t0;
    int64_t finished = sr_now_ms();
    if (inline_module && o.module_invalid) {
        /* a request's own module that is not WebAssembly: a bad request
         * (400), as an upload of it would be; no job is recorded */
        sr_status bad = sr_err_set(err, SR_EINVAL, "field 'module': %s",
                                   o.message ? o.message : "invalid module");
        sr_engine__outcome_fini(&o);
        return bad;
    }
    sr_engine__money_quote(eng, id, req, true, &o, wall);
    sr_status rc = SR_OK;
    char *text = NULL;
    size_t len = 0;
    if (held && sr_engine__lease_lost(eng, held)) {
        rc = SR_ECONFLICT; /* its process was killed when the keeper found out */
    } else {
        const int64_t times[4] = {created_ms, started, finished, wall};
        rc = store_recording(eng, owner, id, &o, finished, err);
        if (rc == SR_OK)
            rc = store_end(eng, owner, id, req, &o, times, insert, lease, &text, &len, err);
    }
    if (rc == SR_ECONFLICT && held) {
        /* taken over while it ran: nothing of it is written
         * (docs/cluster.md "Taken over") */
        sr_log(SR_LOG_WARN, "engine",
               "job '%s' of '%s' was taken over by another daemon while it ran: its result here "
               "(%s) is discarded, nothing written",
               id, owner, o.code == SR_JOB_OK ? "completed" : sr_job_code_name(o.code));
        rc = sr_err_set(err, SR_EIO,
                        "job '%s' was taken over by another daemon (this one lost its lease: it "
                        "stalled or lost the store); GET /jobs/%s shows how it ended",
                        id, id);
    }
    if (rc == SR_OK && eng->store)
        sr_engine__job_settle(eng, id, &o);
    if (rc == SR_OK)
        sr_metrics_job(req->runtime, o.code, wall, o.gas_used);
    if (rc == SR_OK && req->runtime == SR_RUNTIME_WASM)
        sr_metrics_wasm_tier(o.native);
    if (rc == SR_OK)
        sr_log(SR_LOG_DEBUG, "engine", "job '%s' of '%s' %s in %lld us", id, owner,
               o.code == SR_JOB_OK ? "completed" : sr_job_code_name(o.code), (long long)wall);
    sr_engine__outcome_fini(&o);
    if (rc != SR_OK) {
        free(text);
        return rc;
    }
    *out = text;
    *out_len = len;
    return SR_OK;
}

sr_status
sr_engine_execute(sr_engine *eng, const char *owner, const struct sr_job_request *req, char **out,
                  size_t *out_len, sr_err *err)
{
    if (eng->cfg.coordinator) /* no guest code here: a worker runs it */
        return sr_engine__remote_execute(eng, owner, req, out, out_len, err);
    struct sr_job_request local = *req; /* shallow: only 'code' may be loaded into it */
    struct sr_secret_refs refs;
    sr_status rc = sr_engine__webhook_check(eng, req, err); /* callback_url: async only */
    if (rc == SR_OK)
        rc = sr_engine__refs_check(owner, req, &refs, err);
    if (rc == SR_OK)
        rc = sr_engine__module_load(eng, owner, &local, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_engine__slot_take(eng, owner, err);
    if (rc == SR_OK) {
        char id[SR_ID_HEX_LEN + 1];
        sr_random_id(id);
        bool inline_module = req->runtime == SR_RUNTIME_WASM && req->code;
        rc = sr_engine__money_admit(eng, owner, id, req, err);
        if (rc == SR_OK) {
            rc = eng->cluster
                     ? sr_engine__cluster_execute(eng, owner, id, &local, &refs, inline_module, out,
                                                  out_len, err)
                     : sr_engine__run_and_record(eng, owner, id, sr_now_ms(), &local, &refs, true,
                                                 inline_module, NULL, out, out_len, err);
            if (rc != SR_OK) /* not stored (a bad module, a store failure): nothing to pay */
                sr_engine__money_release(eng, id);
        }
        sr_engine__slot_release(eng, owner);
    }
    if (local.code != req->code)
        free(local.code);
    return rc;
}

/* The async queue is fair across owners (issue 9 item 6): each owner has
 * its own FIFO, and the owners with queued jobs take turns, round robin,
 * so one owner's backlog never delays another owner's next job by more
 * than one job per owner ahead of it. */
static void
active_append(sr_engine *eng, struct user_slot *u)
{
    u->anext = NULL;
    u->active = true;
    if (eng->atail)
        eng->atail->anext = u;
    else
        eng->ahead = u;
    eng->atail = u;
}

/* eng->mu held; q->owner's slot exists (the caller counted it). */
static void
queue_push(sr_engine *eng, struct queued_job *q)
{
    struct user_slot *u = slot_get(eng, q->owner);
    q->next = NULL;
    if (u->qtail)
        u->qtail->next = q;
    else
        u->qhead = q;
    u->qtail = q;
    if (!u->active)
        active_append(eng, u);
    eng->nqueued++;
    pthread_cond_signal(&eng->work_cv); /* one new job: one worker */
}

static void
queued_free(struct queued_job *q)
{
    if (!q)
        return;
    free(q->owner);
    sr_job_request_fini(&q->req);
    free(q);
}

void
sr_engine__queued_free(struct queued_job *q)
{
    queued_free(q);
}

/* Takes u out of the turn of owners with queued jobs (its queue emptied
 * other than by queue_take). Linear in that turn. eng->mu held. */
static void
active_remove(sr_engine *eng, struct user_slot *u)
{
    struct user_slot *prev = NULL;
    for (struct user_slot *a = eng->ahead; a; prev = a, a = a->anext) {
        if (a != u)
            continue;
        if (prev)
            prev->anext = u->anext;
        else
            eng->ahead = u->anext;
        if (eng->atail == u)
            eng->atail = prev;
        break;
    }
    u->anext = NULL;
    u->active = false;
}

/* Unlinks q (after 'prev', NULL: the head) from u's queue. eng->mu held. */
static void
queue_unlink(sr_engine *eng, struct user_slot *u, struct queued_job *prev, struct queued_job *q)
{
    if (prev)
        prev->next = q->next;
    else
        u->qhead = q->next;
    if (u->qtail == q)
        u->qtail = prev;
    q->next = NULL;
    u->queued--;
    eng->nqueued--;
    if (!u->qhead && u->active)
        active_remove(eng, u);
}

struct queued_job *
sr_engine__queue_unlink_locked(sr_engine *eng, const char *owner, const char *id)
{
    struct user_slot *u = NULL;
    for (u = eng->users; u && strcmp(u->owner, owner) != 0; u = u->next) {
    }
    struct queued_job *prev = NULL;
    for (struct queued_job *q = u ? u->qhead : NULL; q; prev = q, q = q->next) {
        if (strcmp(q->id, id) == 0) {
            queue_unlink(eng, u, prev, q);
            return q;
        }
    }
    return NULL;
}

struct queued_job *
sr_engine__queue_unlink_stale_locked(sr_engine *eng, int64_t cutoff_ms)
{
    struct queued_job *list = NULL;
    struct user_slot *next = NULL;
    /* each owner's queue is oldest first: only its head can be stale */
    for (struct user_slot *u = eng->ahead; u; u = next) {
        next = u->anext;
        while (u->qhead && u->qhead->created_at_ms < cutoff_ms) {
            struct queued_job *q = u->qhead;
            queue_unlink(eng, u, NULL, q);
            q->next = list;
            list = q;
        }
    }
    return list;
}

static struct queued_job *
queued_new(const char *owner, const struct sr_job_request *req, sr_err *err)
{
    struct queued_job *q = calloc(1, sizeof(*q));
    if (!q) {
        sr_err_set(err, SR_ENOMEM, "out of memory queueing a job");
        return NULL;
    }
    q->owner = strdup(owner);
    if (!q->owner || sr_engine__request_copy(req, &q->req, err) != SR_OK) {
        if (!q->owner)
            sr_err_set(err, SR_ENOMEM, "out of memory queueing a job");
        free(q->owner);
        free(q);
        return NULL;
    }
    return q;
}

static sr_status
store_queued(sr_engine *eng, const struct queued_job *q, sr_err *err)
{
    json_t *rj = sr_job_request_to_json(&q->req);
    char *text = rj ? sr_json_dumps(rj, JSON_COMPACT) : NULL;
    json_decref(rj);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory storing job '%s'", q->id);
    struct sr_job_row row = {
        .owner = q->owner,
        .state = SR_JOB_QUEUED,
        .runtime = (char *)(uintptr_t)sr_runtime_name(q->req.runtime),
        .request_json = text,
        .created_at_ms = q->created_at_ms,
        .expires_at_ms = q->created_at_ms + ttl_ms(eng) + (int64_t)SR_MAX_TIMEOUT_S * 1000,
    };
    memcpy(row.id, q->id, sizeof(row.id));
    /* cluster mode: the store is the queue, and counts the owner's queued jobs */
    sr_status rc = eng->cluster
                       ? sr_store_job_enqueue(eng->store, &row, eng->cfg.max_queued_per_user, err)
                       : sr_store_job_insert(eng->store, &row, err);
    free(text);
    if (rc == SR_EBUSY)
        return rc;
    return rc == SR_OK ? SR_OK : sr_err_wrap(err, "storing job '%s'", q->id);
}

/* An async WASM job's module must be in the store by the time the job is
 * acknowledged: an inline module is stored for its owner (like an upload),
 * a module_hash must name one of the owner's modules. */
static sr_status
submit_module(sr_engine *eng, const char *owner, const struct sr_job_request *req, sr_err *err)
{
    if (req->runtime != SR_RUNTIME_WASM)
        return SR_OK;
    json_t *info = NULL;
    sr_status rc =
        req->code ? sr_engine_module_put(eng, owner, req->code, req->code_len, NULL, &info, err)
                  : sr_engine_module_info(eng, owner, req->code_hash_hex, &info, err);
    json_decref(info);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND,
                          "module '%s' not found: upload it with POST /modules first",
                          req->code_hash_hex);
    return rc;
}

sr_status
sr_engine_submit(sr_engine *eng, const char *owner, const struct sr_job_request *req, json_t **out,
                 sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "async jobs need a server with a store");
    struct sr_secret_refs refs;
    sr_status rc = sr_engine__webhook_check(eng, req, err);
    if (rc == SR_OK)
        rc = sr_engine__refs_check(owner, req, &refs, err);
    if (rc == SR_OK)
        rc = submit_module(eng, owner, req, err);
    if (rc != SR_OK)
        return rc;
    struct queued_job *q = queued_new(owner, req, err);
    if (!q)
        return err ? err->status : SR_ENOMEM;
    q->refs = refs;
    sr_random_id(q->id);
    q->created_at_ms = sr_now_ms();

    pthread_mutex_lock(&eng->mu);
    struct user_slot *u = slot_get(eng, owner);
    bool full = !u || u->queued >= eng->cfg.max_queued_per_user;
    if (!full)
        u->queued++; /* reserve the place before the slow store write */
    pthread_mutex_unlock(&eng->mu);
    if (full) {
        queued_free(q);
        return sr_err_set(err, SR_EBUSY,
                          "user '%s' already has %u queued jobs (the limit); retry later", owner,
                          eng->cfg.max_queued_per_user);
    }
    /* the worker loads the module by hash, as after a restart */
    if (q->req.runtime == SR_RUNTIME_WASM) {
        free(q->req.code);
        q->req.code = NULL;
        q->req.code_len = 0;
    }
    rc = sr_engine__money_admit(eng, owner, q->id, req, err);
    /* the webhook before the queued row: a job is never queued without the
     * webhook it was submitted with. A refusal between the two (a cluster's
     * queue bound is counted by the enqueue) leaves a row without a job,
     * which the purge removes ten minutes later (sr_store_jobs_purge) */
    if (rc == SR_OK && q->req.callback_url)
        rc = sr_store_webhook_add(eng->store, owner, q->id, q->created_at_ms, err);
    if (rc == SR_OK)
        rc = store_queued(eng, q, err);
    if (rc != SR_OK)
        sr_engine__money_release(eng, q->id);
    json_t *ans = NULL;
    if (rc == SR_OK) {
        ans = json_pack("{s:s, s:s}", "job_id", q->id, "status", "queued");
        rc = ans ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&eng->mu);
    if (rc == SR_OK && !eng->cluster) {
        queue_push(eng, q);
        q = NULL;
    } else {
        u->queued--;
        if (rc == SR_OK) { /* cluster mode: a worker here or elsewhere claims it */
            eng->qgen++;
            pthread_cond_signal(&eng->qcv);
        }
    }
    pthread_mutex_unlock(&eng->mu);
    queued_free(q);
    if (rc == SR_OK)
        *out = ans;
    return rc;
}

/* ---- workers and recovery ---- */

/* Takes the next job: the first owner in turn who is under the running
 * cap gives its oldest job and goes to the back of the turn. Linear in the
 * number of owners with queued jobs. eng->mu held. */
static struct queued_job *
queue_take(sr_engine *eng)
{
    struct user_slot *prev = NULL;
    for (struct user_slot *u = eng->ahead; u; prev = u, u = u->anext) {
        if (u->running >= eng->cfg.max_running_per_user)
            continue;
        struct queued_job *q = u->qhead;
        u->qhead = q->next;
        if (!u->qhead)
            u->qtail = NULL;
        q->next = NULL;
        if (prev)
            prev->anext = u->anext;
        else
            eng->ahead = u->anext;
        if (eng->atail == u)
            eng->atail = prev;
        u->active = false;
        if (u->qhead)
            active_append(eng, u);
        eng->nqueued--;
        u->queued--;
        u->running++;
        eng->running++;
        return q;
    }
    return NULL;
}

/* Records a job that could not run as failed with 'code', with its own
 * job object and receipt ('started' 0: it never started); under 'lease'
 * when it has one. */
static int64_t
row_duration_us(int64_t started_ms, int64_t now_ms)
{
    return now_ms > started_ms ? (now_ms - started_ms) * 1000 : 0;
}

sr_status
sr_engine__record_failure(sr_engine *eng, const char *id, const char *owner, int64_t created_ms,
                          int64_t started_ms, const struct sr_job_request *req,
                          enum sr_job_code code, const char *msg, const struct sr_lease *lease,
                          sr_err *err)
{
    struct job_outcome o;
    sr_engine__outcome_init(&o);
    sr_engine__fail(&o, code, "%s", msg);
    int64_t now = sr_now_ms();
    int64_t started = started_ms ? started_ms : now;
    sr_engine__money_quote(eng, id, req, false, &o, 0);
    char *text = NULL;
    size_t len = 0;
    sr_status rc = sr_engine__job_text(eng, id, owner, req, &o, created_ms, started, now,
                                       (now - started) * 1000, &text, &len, err);
    if (rc == SR_OK) {
        struct sr_job_row row = {
            .owner = (char *)(uintptr_t)owner,
            .state = SR_JOB_FAILED,
            .runtime = (char *)(uintptr_t)sr_runtime_name(req->runtime),
            .result_json = text,
            .created_at_ms = created_ms,
            .started_at_ms = started,
            .finished_at_ms = now,
            .expires_at_ms = now + ttl_ms(eng),
            .gas_used = o.gas_used,
            .duration_us = (now - started) * 1000,
        };
        memcpy(row.id, id, sizeof(row.id));
        (void)snprintf(row.error_code, sizeof(row.error_code), "%s", sr_job_code_name(code));
        rc = lease ? sr_store_job_finish(eng->store, &row, lease, err)
                   : sr_store_job_update(eng->store, &row, err);
    }
    /* a job ended without running (INTERRUPTED at a restart or a lease
     * take-over, a module gone): counted as every other ending is */
    if (rc == SR_OK)
        sr_engine__job_settle(eng, id, &o);
    if (rc == SR_OK)
        sr_metrics_job(req->runtime, code, row_duration_us(started, now), 0);
    free(text);
    sr_engine__outcome_fini(&o);
    return rc;
}

static void
run_queued(sr_engine *eng, struct queued_job *q)
{
    sr_err e = {0};
    int64_t max_age = sr_engine__queue_max_age_ms(eng);
    int64_t waited = sr_now_ms() - q->created_at_ms;
    if (max_age && waited > max_age) { /* too old to run: it ends here, once */
        char msg[256];
        sr_engine__expired_msg(eng, waited, msg, sizeof(msg));
        if (sr_engine__record_failure(eng, q->id, q->owner, q->created_at_ms, 0, &q->req,
                                      SR_JOB_EXPIRED, msg, NULL, &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "expiring job '%s': %s", q->id, e.msg);
        return;
    }
    struct sr_job_row row = {
        .owner = q->owner,
        .state = SR_JOB_RUNNING,
        .runtime = (char *)(uintptr_t)sr_runtime_name(q->req.runtime),
        .created_at_ms = q->created_at_ms,
        .started_at_ms = sr_now_ms(),
        .expires_at_ms = q->created_at_ms + ttl_ms(eng) + (int64_t)SR_MAX_TIMEOUT_S * 1000,
    };
    memcpy(row.id, q->id, sizeof(row.id));
    if (sr_store_job_update(eng->store, &row, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "engine", "cannot mark job '%s' running: %s", q->id, e.msg);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    sr_status rc = sr_engine__module_load(eng, q->owner, &q->req, &e);
    if (rc == SR_ENOTFOUND) /* deleted by its owner after the job was queued */
        rc = sr_engine__record_failure(eng, q->id, q->owner, q->created_at_ms, row.started_at_ms,
                                       &q->req, SR_JOB_MODULE_ERROR, e.msg, NULL, &e);
    else if (rc == SR_OK)
        rc = sr_engine__run_and_record(eng, q->owner, q->id, q->created_at_ms, &q->req, &q->refs,
                                       false, false, NULL, &text, &len, &e);
    if (rc != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "async job '%s' of '%s': %s", q->id, q->owner, e.msg);
    free(text);
}

static void *
worker_main(void *arg)
{
    sr_engine *eng = arg;
    pthread_mutex_lock(&eng->mu);
    while (!eng->stopping) {
        struct queued_job *q = queue_take(eng);
        if (!q) {
            pthread_cond_wait(&eng->work_cv, &eng->mu);
            continue;
        }
        /* a cancel can reach it from the moment it leaves the queue */
        sr_engine__ctl_add_locked(eng, &q->ctl, q->id, q->owner);
        pthread_mutex_unlock(&eng->mu);
        run_queued(eng, q);
        sr_engine__ctl_remove(eng, &q->ctl);
        sr_engine__slot_release(eng, q->owner);
        queued_free(q);
        pthread_mutex_lock(&eng->mu);
    }
    pthread_mutex_unlock(&eng->mu);
    return NULL;
}

void
sr_engine__purge_once(sr_engine *eng)
{
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_jobs_purge(eng->store, sr_now_ms(), &n, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine", "purging expired jobs failed: %s", e.msg);
    else if (n)
        sr_log(SR_LOG_INFO, "engine", "purged %zu expired job(s)", n);
    sr_engine__modules_expire(eng, sr_now_ms());
    sr_engine__audit_purge(eng, sr_now_ms());
    sr_engine__money_sweep(eng, false);
}

/* The purge runs every PURGE_INTERVAL_S; the queue expiry as often, or
 * every quarter of --queue-max-age when that is shorter (at least 1 s). */
static int64_t
expire_interval_s(const sr_engine *eng)
{
    int64_t age_s = sr_engine__queue_max_age_ms(eng) / 1000;
    if (!age_s || age_s / 4 >= PURGE_INTERVAL_S)
        return PURGE_INTERVAL_S;
    return age_s / 4 > 1 ? age_s / 4 : 1;
}

static void *
purger_main(void *arg)
{
    sr_engine *eng = arg;
    int64_t every = expire_interval_s(eng);
    int64_t since_purge = 0;
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    next.tv_sec += (time_t)every;
    pthread_mutex_lock(&eng->mu);
    while (!eng->stopping) {
        /* cv is signalled only to stop: the deadline purges. */
        if (pthread_cond_timedwait(&eng->cv, &eng->mu, &next) != ETIMEDOUT || eng->stopping)
            continue;
        pthread_mutex_unlock(&eng->mu);
        sr_engine__expire_once(eng);
        since_purge += every;
        if (since_purge >= PURGE_INTERVAL_S) {
            sr_engine__purge_once(eng);
            since_purge = 0;
        }
        clock_gettime(CLOCK_REALTIME, &next);
        next.tv_sec += (time_t)every;
        pthread_mutex_lock(&eng->mu);
    }
    pthread_mutex_unlock(&eng->mu);
    return NULL;
}

static sr_status
requeue_row(sr_engine *eng, const struct sr_job_row *r, sr_err *err)
{
    json_t *body = NULL;
    sr_status rc = sr_json_parse_stored(r->request_json ? r->request_json : "",
                                        r->request_json ? strlen(r->request_json) : 0,
                                        SR_MAX_JSON_DEPTH + 2, "stored request", &body, err);
    struct sr_job_request req;
    if (rc == SR_OK) {
        json_object_del(body, "async");
        rc = sr_job_request_parse(body, &req, err);
    }
    json_decref(body);
    if (rc != SR_OK)
        return sr_err_wrap(err, "requeueing job '%s'", r->id);
    struct queued_job *q = queued_new(r->owner, &req, err);
    rc = q ? sr_engine__refs_check(r->owner, &req, &q->refs, err) : SR_ENOMEM;
    sr_job_request_fini(&req);
    if (rc != SR_OK) {
        queued_free(q);
        return err ? err->status : SR_ENOMEM;
    }
    memcpy(q->id, r->id, sizeof(q->id));
    q->created_at_ms = r->created_at_ms;
    pthread_mutex_lock(&eng->mu);
    struct user_slot *u = slot_get(eng, r->owner);
    if (u) {
        u->queued++;
        queue_push(eng, q);
    }
    pthread_mutex_unlock(&eng->mu);
    if (!u) {
        queued_free(q);
        return sr_err_set(err, SR_ENOMEM, "out of memory requeueing job '%s'", r->id);
    }
    return SR_OK;
}

sr_status
sr_engine__request_from_row(const struct sr_job_row *r, struct sr_job_request *req, sr_err *err)
{
    json_t *body = NULL;
    sr_status rc = sr_json_parse_stored(r->request_json ? r->request_json : "",
                                        r->request_json ? strlen(r->request_json) : 0,
                                        SR_MAX_JSON_DEPTH + 2, "stored request", &body, err);
    if (rc == SR_OK) {
        json_object_del(body, "async");
        rc = sr_job_request_parse(body, req, err);
    }
    json_decref(body);
    return rc;
}

/* Fails one job left running by a stopped sealrund with INTERRUPTED: the
 * same job object (and signed receipt) as any failed job, never rerun. */
static sr_status
interrupt_row(sr_engine *eng, const struct sr_job_row *r, sr_err *err)
{
    struct sr_job_request req;
    sr_status rc = sr_engine__request_from_row(r, &req, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_engine__record_failure(eng, r->id, r->owner, r->created_at_ms, r->started_at_ms, &req,
                                   SR_JOB_INTERRUPTED, INTERRUPTED_MSG, NULL, err);
    sr_job_request_fini(&req);
    return rc;
}

static void
interrupt_each(sr_engine *eng)
{
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_jobs_running(eng->store, &rows, &n, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "engine", "listing interrupted jobs: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (interrupt_row(eng, &rows[i], &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "failing interrupted job '%s': %s", rows[i].id, e.msg);
        sr_job_row_fini(&rows[i]);
    }
    free(rows);
    if (n)
        sr_log(SR_LOG_WARN, "engine",
               "%zu job(s) were running when sealrund stopped: failed with INTERRUPTED", n);
}

static sr_status
recover(sr_engine *eng, sr_err *err)
{
    interrupt_each(eng); /* what it could not do, the sweep below does (no receipt) */
    json_t *res =
        json_pack("{s:n, s:[], s:{s:s, s:s}, s:i}", "output", "logs", "error", "code",
                  sr_job_code_name(SR_JOB_INTERRUPTED), "message", INTERRUPTED_MSG, "gas_used", 0);
    char *text = res ? sr_json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory recovering jobs");
    size_t n = 0;
    sr_status rc = sr_store_jobs_interrupt(eng->store, text, sr_now_ms(), &n, err);
    free(text);
    if (rc != SR_OK)
        return sr_err_wrap(err, "marking interrupted jobs");
    if (n)
        sr_log(SR_LOG_WARN, "engine",
               "%zu job(s) were running when sealrund stopped: failed "
               "with INTERRUPTED",
               n);
    /* holds of jobs that ended (or were never stored) without being
     * settled: released in full, once */
    sr_engine__money_sweep(eng, true);
    struct sr_job_row *rows = NULL;
    rc = sr_store_jobs_queued(eng->store, &rows, &n, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "loading queued jobs");
    for (size_t i = 0; i < n; i++) {
        sr_err e = {0};
        if (requeue_row(eng, &rows[i], &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "%s", e.msg);
        sr_job_row_fini(&rows[i]);
    }
    free(rows);
    if (n)
        sr_log(SR_LOG_INFO, "engine", "resumed %zu queued job(s)", n);
    sr_engine__purge_once(eng);
    sr_engine__expire_once(eng);
    return SR_OK;
}

/* ---- reading jobs ---- */

/* A finished job stored by this version: its text is the whole job object,
 * as answered when it finished (splice_output in job.c writes "output"
 * first). Other rows (queued, running, and rows of earlier versions) are
 * completed from the row's columns. */
static bool
is_whole_job(const struct sr_job_row *r)
{
    return r->result_json && strncmp(r->result_json, "{\"output\":", 10) == 0 &&
           (r->state == SR_JOB_COMPLETED || r->state == SR_JOB_FAILED);
}

static json_t *
row_to_job(const struct sr_job_row *r)
{
    json_t *job = NULL;
    sr_err e = {0};
    /* jansson's own depth cap (2048) bounds a stored job object */
    if (r->result_json && sr_json_parse_stored(r->result_json, strlen(r->result_json), 2048 + 8,
                                               "stored job", &job, &e) != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "job '%s': %s", r->id, e.msg);
    if (!job)
        job = json_object();
    if (!job)
        return NULL;
    json_object_set_new(job, "job_id", json_string(r->id));
    json_object_set_new(job, "status", json_string(sr_job_state_name(r->state)));
    json_object_set_new(job, "runtime", json_string(r->runtime ? r->runtime : "js"));
    char ts[32];
    sr_time_rfc3339(r->created_at_ms, ts);
    json_object_set_new(job, "created_at", json_string(ts));
    if (r->started_at_ms && !json_object_get(job, "started_at")) {
        sr_time_rfc3339(r->started_at_ms, ts);
        json_object_set_new(job, "started_at", json_string(ts));
    }
    if (r->finished_at_ms && !json_object_get(job, "finished_at")) {
        sr_time_rfc3339(r->finished_at_ms, ts);
        json_object_set_new(job, "finished_at", json_string(ts));
    }
    return job;
}

/* Appends the API text of one stored job to b. */
static sr_status
row_text(const struct sr_job_row *r, sr_buf *b, sr_err *err)
{
    if (is_whole_job(r))
        return sr_buf_append_str(b, r->result_json, err);
    json_t *job = row_to_job(r);
    char *text = job ? sr_json_dumps(job, JSON_COMPACT) : NULL;
    json_decref(job);
    sr_status rc = text ? sr_buf_append_str(b, text, err)
                        : sr_err_set(err, SR_ENOMEM, "out of memory loading job '%s'", r->id);
    free(text);
    return rc;
}

static sr_status
steal_text(sr_buf *b, char **out, size_t *out_len, sr_err *err)
{
    *out_len = b->len;
    *out = sr_buf_steal(b);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory answering");
}

sr_status
sr_engine_job_get(sr_engine *eng, const char *owner, const char *id, char **out, size_t *out_len,
                  sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    struct sr_job_row r = {0};
    sr_status rc = sr_store_job_get(eng->store, owner, id, &r, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    if (rc != SR_OK)
        return rc;
    sr_buf b;
    sr_buf_init(&b, SR_MAX_IPC_FRAME);
    rc = row_text(&r, &b, err);
    sr_job_row_fini(&r);
    if (rc == SR_OK)
        rc = steal_text(&b, out, out_len, err);
    sr_buf_fini(&b);
    return rc;
}

sr_status
sr_engine_job_recording(sr_engine *eng, const char *owner, const char *id, json_t **out,
                        sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' has no recording", id);
    char *sealed = NULL;
    char hash[SR_HASH_HEX_LEN + 1];
    sr_status rc = sr_store_recording_get(eng->store, owner, id, &sealed, hash, err);
    if (rc != SR_OK)
        return rc;
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "job_id", id, "recording", sealed, "recording_sha256", hash);
    free(sealed);
    if (!o)
        return sr_err_set(err, SR_ENOMEM, "out of memory answering a recording");
    *out = o;
    return SR_OK;
}

sr_status
sr_engine_job_list(sr_engine *eng, const char *owner, const struct sr_job_filter *filter,
                   size_t limit, const char *before, char **out, size_t *out_len, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "listing jobs needs a server with a store");
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    sr_status rc = sr_store_job_list(eng->store, owner, filter, limit + 1, before, &rows, &n, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_EINVAL, "cursor 'before=%.40s' is not one of your jobs", before);
    if (rc != SR_OK)
        return rc;
    sr_buf b;
    sr_buf_init(&b, (size_t)SR_MAX_PAGE * SR_MAX_IPC_FRAME);
    rc = sr_buf_append_str(&b, "{\"jobs\":[", err);
    for (size_t i = 0; rc == SR_OK && i < n && i < limit; i++) {
        if (i)
            rc = sr_buf_append(&b, ",", 1, err);
        if (rc == SR_OK)
            rc = row_text(&rows[i], &b, err);
    }
    if (rc == SR_OK && n > limit)
        rc = sr_buf_printf(&b, err, "],\"next\":\"%s\"}", rows[limit - 1].id);
    else if (rc == SR_OK)
        rc = sr_buf_append_str(&b, "],\"next\":null}", err);
    for (size_t i = 0; i < n; i++)
        sr_job_row_fini(&rows[i]);
    free(rows);
    if (rc == SR_OK)
        rc = steal_text(&b, out, out_len, err);
    sr_buf_fini(&b);
    return rc;
}

void
sr_engine_live_stats(sr_engine *eng, struct sr_engine_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&eng->mu);
    out->running = eng->running;
    out->queued = eng->nqueued;
    pthread_mutex_unlock(&eng->mu);
    unsigned warm = 0;
    sr_sandbox_process_states(eng->sandbox, &out->processes_busy, &warm);
    out->processes = out->processes_busy + warm;
    out->result_ttl_ms = ttl_ms(eng);
}

sr_status
sr_engine_stats(sr_engine *eng, struct sr_engine_stats *out, sr_err *err)
{
    sr_engine_live_stats(eng, out);
    if (eng->store)
        return sr_store_jobs_count(eng->store, &out->jobs_total, err);
    return SR_OK;
}

bool
sr_engine_ready(sr_engine *eng, char *why, size_t why_len)
{
    if (!sr_sandbox_alive(eng->sandbox)) {
        (void)snprintf(why, why_len, "the sandbox zygote is not running");
        return false;
    }
    if (eng->store && !sr_store_ping(eng->store)) {
        (void)snprintf(why, why_len, "the store does not answer");
        return false;
    }
    return true;
}

const struct sr_engine_config *
sr_engine_config(const sr_engine *eng)
{
    return &eng->cfg;
}

void
sr_engine_sandbox_protections(const sr_engine *eng, struct sr_sandbox_protections *out)
{
    sr_sandbox_protections(eng->sandbox, out);
}

/* ---- lifecycle ---- */

sr_status
sr_engine_new(const struct sr_engine_config *cfg, sr_engine **out, sr_err *err)
{
    sr_engine *eng = calloc(1, sizeof(*eng));
    if (!eng)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the engine");
    eng->cfg = *cfg;
    if (!eng->cfg.max_running_per_user)
        eng->cfg.max_running_per_user = SR_DEFAULT_MAX_RUNNING_PER_USER;
    if (!eng->cfg.max_queued_per_user)
        eng->cfg.max_queued_per_user = SR_DEFAULT_MAX_QUEUED_PER_USER;
    if (!eng->cfg.async_workers)
        eng->cfg.async_workers = DEFAULT_WORKERS;
    if (!eng->cfg.result_ttl_ms)
        eng->cfg.result_ttl_ms = DEFAULT_TTL_MS;
    pthread_mutex_init(&eng->mu, NULL);
    pthread_cond_init(&eng->cv, NULL);
    pthread_cond_init(&eng->qcv, NULL);
    pthread_cond_init(&eng->work_cv, NULL);
    pthread_cond_init(&eng->turn_cv, NULL);
    pthread_cond_init(&eng->ctl_cv, NULL);
    pthread_cond_init(&eng->done_cv, NULL);
    eng->runner = (struct sr_runner_config){.js_no_jit = cfg->js_no_jit};
    const struct sr_sandbox_config sc = {
        .isolation = cfg->isolation,
        .max_jobs_per_process = cfg->max_jobs_per_process,
        .idle_ms = cfg->idle_ms,
        .proc_init = sr_runner_proc_init,
        .job_fn = sr_runner_job_fn,
        .arg = &eng->runner,
        .uid_first = cfg->sandbox_uid_first,
        .uid_count = cfg->sandbox_uid_count,
        .no_namespaces = cfg->sandbox_no_namespaces,
    };
    sr_status rc = sr_sandbox_new(&sc, &eng->sandbox, err);
    if (rc != SR_OK) {
        sr_engine_free(eng);
        return sr_err_wrap(err, "starting the sandbox");
    }
    /* after the fork: the zygote never holds libcurl's state */
    rc = sr_http_global_init(err);
    if (rc == SR_OK)
        rc = sr_http_policy_new(&cfg->http, &eng->http, err);
    memset(&eng->cfg.http, 0, sizeof(eng->cfg.http)); /* borrowed pointers: not kept */
    if (rc == SR_OK && cfg->http.nprivate) {
        char line[256];
        sr_http_policy_describe(eng->http, line, sizeof(line));
        sr_log(SR_LOG_WARN, "http", "outbound HTTP: %s", line);
    }
    if (rc != SR_OK) {
        sr_engine_free(eng);
        return sr_err_wrap(err, "outbound HTTP policy");
    }
    struct sr_sandbox_protections prot;
    sr_sandbox_protections(eng->sandbox, &prot);
    rc = sr_engine__native_new(cfg, prot.empty_root, &eng->native, err);
    eng->cfg.native_cache_dir = NULL; /* borrowed: not kept */
    if (rc != SR_OK) {
        sr_engine_free(eng);
        return sr_err_wrap(err, "starting the native tier");
    }
    *out = eng;
    return SR_OK;
}

void
sr_engine_set_attestation(sr_engine *eng, const sr_worker_key *key, const sr_attest_quote *quote,
                          const uint8_t measurement[SR_MEASUREMENT_LEN], json_t *document)
{
    eng->wkey = key;
    eng->quote = quote;
    if (key)
        sr_worker_key_public(key, eng->pk);
    memcpy(eng->measurement, measurement, SR_MEASUREMENT_LEN);
    json_decref(eng->attestation);
    eng->attestation = document ? json_deep_copy(document) : NULL;
    if (eng->attestation && key) {
        /* the key crypto.vrf proves with; every receipt that used it holds
         * it too, under the worker key's signature */
        uint8_t vrf_pk[SR_VRF_PUBLIC];
        char hex[2 * SR_VRF_PUBLIC + 1];
        sr_worker_key_vrf_public(key, vrf_pk);
        sr_hex_encode(vrf_pk, sizeof(vrf_pk), hex);
        json_object_set_new(eng->attestation, "vrf_public_key", json_string(hex));
    }
}

const sr_http_policy *
sr_engine_http_policy(const sr_engine *eng)
{
    return eng->http;
}

const json_t *
sr_engine_attestation(const sr_engine *eng)
{
    return eng->attestation;
}

sr_status
sr_engine_start(sr_engine *eng, sr_store *store, const sr_keys *keys, sr_err *err)
{
    eng->store = store;
    eng->keys = keys;
    if (!eng->store)
        return SR_OK;
    /* a shared store is the queue: no restart recovery (another daemon's
     * running jobs are not ours to fail), expired leases are taken over */
    eng->cluster = sr_store_is_shared(store);
    sr_status rc = sr_engine__storage_upgrade(eng, err);
    if (rc == SR_OK)
        rc = eng->cluster ? sr_engine__cluster_start(eng, err) : recover(eng, err);
    if (rc != SR_OK)
        return rc;
    if (eng->cfg.coordinator && !eng->cluster)
        return sr_err_set(err, SR_EINVAL,
                          "--role coordinator needs a shared store (--store postgres://...): its "
                          "queue and the workers' leases live there (docs/cluster.md)");
    /* a coordinator runs no guest code: remote workers claim its queue */
    unsigned nworkers = eng->cfg.coordinator ? 0 : eng->cfg.async_workers;
    eng->workers = calloc(eng->cfg.async_workers, sizeof(*eng->workers));
    if (!eng->workers)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting workers");
    for (unsigned i = 0; i < nworkers; i++) {
        if (pthread_create(&eng->workers[i], NULL,
                           eng->cluster ? sr_engine__cluster_worker : worker_main, eng) != 0)
            return sr_err_set(err, SR_EIO, "cannot start async worker %u", i);
        eng->nworkers++;
    }
    if (pthread_create(&eng->purger, NULL, purger_main, eng) != 0)
        return sr_err_set(err, SR_EIO, "cannot start the purge thread");
    eng->has_purger = true;
    if (eng->wkey && sr_engine__webhooks_start(eng, err) != SR_OK)
        return err ? err->status : SR_EIO;
    eng->started = true;
    return SR_OK;
}

void
sr_engine_free(sr_engine *eng)
{
    if (!eng)
        return;
    pthread_mutex_lock(&eng->mu);
    eng->stopping = true;
    pthread_cond_broadcast(&eng->cv);
    pthread_cond_broadcast(&eng->qcv);
    pthread_cond_broadcast(&eng->work_cv);
    pthread_cond_broadcast(&eng->done_cv);
    pthread_mutex_unlock(&eng->mu);
    for (unsigned i = 0; i < eng->nworkers; i++)
        pthread_join(eng->workers[i], NULL);
    free(eng->pk_cache);
    if (eng->has_purger)
        pthread_join(eng->purger, NULL);
    for (unsigned i = 0; i < eng->nhooks; i++)
        pthread_join(eng->hooks[i], NULL);
    if (eng->has_keeper)
        pthread_join(eng->keeper, NULL);
    if (eng->has_listener)
        pthread_join(eng->listener, NULL);
    free(eng->workers);
    sr_engine__native_free(eng->native);
    sr_sandbox_free(eng->sandbox);
    while (eng->users) {
        struct user_slot *u = eng->users;
        eng->users = u->next;
        while (u->qhead) {
            struct queued_job *q = u->qhead;
            u->qhead = q->next;
            queued_free(q);
        }
        free(u);
    }
    json_decref(eng->attestation);
    sr_http_policy_free(eng->http);
    pthread_cond_destroy(&eng->cv);
    pthread_cond_destroy(&eng->qcv);
    pthread_cond_destroy(&eng->work_cv);
    pthread_cond_destroy(&eng->turn_cv);
    pthread_cond_destroy(&eng->ctl_cv);
    pthread_cond_destroy(&eng->done_cv);
    while (eng->remote) {
        struct remote_job *r = eng->remote;
        eng->remote = r->next;
        sr_engine__remote_free(r);
    }
    pthread_mutex_destroy(&eng->mu);
    free(eng);
}
