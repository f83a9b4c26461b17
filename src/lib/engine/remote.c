/* SPDX-License-Identifier: MIT
 *
 * remote.c - jobs run by remote workers (docs/workers.md).
 *
 * The coordinator's side: a worker's poll claims a queued job from the
 * store under a lease held in the worker's name (sr_engine_worker_holder)
 * with the cluster's fencing number, resolves its secrets here, and hands
 * the job out; the worker's renewals extend that lease; its result is
 * checked (the receipt verifies with the worker's registered key and binds
 * the job handed out) and stored only while the lease is still the job's
 * (sr_store_job_finish matches holder and fence). A worker that goes away
 * stops renewing: the keeper (cluster.c) takes the job over when the lease
 * runs out and ends it INTERRUPTED, once, with the coordinator's receipt.
 *
 * The worker's side: sr_engine_run_remote runs the job handed out in the
 * worker's own sandbox through the same run as a daemon's job, and builds
 * the job object with the worker's signed receipt.
 *
 * Locking: eng->remote and eng->npolls under eng->mu, never held across a
 * store call.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_metrics.h"
#include "sealrun/sr_util.h"

#define POLL_SLICE_MS 1000   /* a waiting poll looks at the store at least this often */
#define REMOTE_MAX_HOSTS 256 /* http_hosts of one secret a worker accepts */
#define SYNC_MARGIN_MS 30000 /* a coordinator's sync caller waits timeout + this */
#define SYNC_SLICE_MS 1000   /* ... and looks at the store at least this often */

void
sr_engine_worker_holder(const uint8_t pk[SR_ED25519_PK_LEN], char out[SR_ID_HEX_LEN + 1])
{
    uint8_t h[32];
    sr_sha256(pk, SR_ED25519_PK_LEN, h);
    sr_hex_encode(h, SR_ID_HEX_LEN / 2, out);
}

/* ---- the coordinator's list of jobs handed out (under mu) ---- */

static unsigned
held_by_locked(const sr_engine *eng, const char *holder)
{
    unsigned n = 0;
    for (const struct remote_job *r = eng->remote; r; r = r->next)
        n += strcmp(r->holder, holder) == 0;
    return n;
}

static struct remote_job **
find_locked(sr_engine *eng, const char *holder, const char *id, uint64_t fence)
{
    for (struct remote_job **p = &eng->remote; *p; p = &(*p)->next)
        if (strcmp((*p)->holder, holder) == 0 && strcmp((*p)->id, id) == 0 && (*p)->fence == fence)
            return p;
    return NULL;
}

void
sr_engine__remote_free(struct remote_job *r)
{
    if (!r)
        return;
    if (r->out) {
        sr_engine__outcome_fini(r->out); /* frees the storage session with it */
        free(r->out);
    }
    free(r);
}

/* Takes the entry out of the list (the job ended, or its lease is lost);
 * one a request uses now is freed when that request gives it back. */
static void
forget(sr_engine *eng, const char *holder, const char *id, uint64_t fence)
{
    struct remote_job *gone = NULL;
    pthread_mutex_lock(&eng->mu);
    struct remote_job **p = find_locked(eng, holder, id, fence);
    if (p) {
        struct remote_job *r = *p;
        *p = r->next;
        if (r->busy)
            r->dead = true;
        else
            gone = r;
    }
    eng->done_gen++;
    pthread_cond_broadcast(&eng->done_cv);
    pthread_mutex_unlock(&eng->mu);
    sr_engine__remote_free(gone);
}

void
sr_engine__remote_forget_id(sr_engine *eng, const char *id)
{
    struct remote_job *gone = NULL;
    pthread_mutex_lock(&eng->mu);
    for (struct remote_job **p = &eng->remote; *p;) {
        struct remote_job *r = *p;
        if (strcmp(r->id, id) != 0) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        if (r->busy) {
            r->dead = true;
        } else {
            r->next = gone;
            gone = r;
        }
    }
    eng->done_gen++;
    pthread_cond_broadcast(&eng->done_cv);
    pthread_mutex_unlock(&eng->mu);
    while (gone) {
        struct remote_job *r = gone;
        gone = r->next;
        sr_engine__remote_free(r);
    }
}

/* The entry of the job leased to holder with fence, for one request at a
 * time: NULL with SR_ECONFLICT when there is none or another request of
 * the job uses it. Give it back with give(). */
static struct remote_job *
take(sr_engine *eng, const char *holder, const char *id, uint64_t fence, sr_err *err)
{
    pthread_mutex_lock(&eng->mu);
    struct remote_job **p = find_locked(eng, holder, id, fence);
    struct remote_job *r = p && !(*p)->busy ? *p : NULL;
    if (r)
        r->busy = true;
    bool busy = p && !r;
    pthread_mutex_unlock(&eng->mu);
    if (!r)
        (void)sr_err_set(err, SR_ECONFLICT,
                         busy ? "job '%.32s': one request of a job at a time"
                              : "job '%.32s' is not leased to this worker with fence %llu (it "
                                "ended, was cancelled or was taken over): refused, nothing "
                                "written",
                         id, (unsigned long long)fence);
    return r;
}

static void
give(sr_engine *eng, struct remote_job *r)
{
    pthread_mutex_lock(&eng->mu);
    r->busy = false;
    bool dead = r->dead;
    pthread_mutex_unlock(&eng->mu);
    if (dead)
        sr_engine__remote_free(r);
}

/* ---- handing a job out ---- */

/* The job's secrets for the worker, each value sealed to its key. */
static json_t *
secrets_json(const struct sr_secret_set *set, const uint8_t pk[SR_ED25519_PK_LEN])
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < set->n; i++) {
        const struct sr_secret_entry *s = &set->entry[i];
        char *b64 = NULL;
        if (sr_worker_box_seal(pk, s->value.data, s->value.len, &b64, NULL) != SR_OK)
            b64 = NULL;
        json_t *o = sr_secret_entry_to_json(s, b64);
        if (b64) {
            sodium_memzero(b64, strlen(b64));
            free(b64);
        }
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The request as the worker gets it: a WASM job's module by its hash
 * (the worker fetches it with GET /worker/modules/{hash} unless cached). */
static json_t *
request_json(const struct sr_job_request *req)
{
    return sr_job_request_to_json(req);
}

/* Prepares claimed row r for the worker: *out the job (owned), or NULL
 * when the job ended here instead (recorded under the worker's lease l). */
static void
prepare(sr_engine *eng, const struct sr_job_row *r, const struct sr_lease *l,
        const uint8_t pk[SR_ED25519_PK_LEN], json_t **out)
{
    *out = NULL;
    sr_err e = {0};
    struct sr_job_request req;
    if (sr_engine__request_from_row(r, &req, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "engine", "job '%s' of '%s': %s", r->id, r->owner, e.msg);
        sr_engine__finish_unreadable(eng, r, l, "the stored request could not be read back");
        return;
    }
    int64_t max_age = sr_engine__queue_max_age_ms(eng);
    int64_t waited = sr_now_ms() - r->created_at_ms;
    struct sr_secret_refs refs;
    struct sr_secret_set set = {0};
    struct job_outcome o;
    sr_engine__outcome_init(&o);
    char unavailable[SR_ERR_MSG_MAX] = "";
    enum sr_job_code code = SR_JOB_OK;
    char msg[SR_ERR_MSG_MAX] = "";
    sr_status rc = SR_OK;
    if (max_age && waited > max_age) {
        code = SR_JOB_EXPIRED;
        sr_engine__expired_msg(eng, waited, msg, sizeof(msg));
    }
    if (code == SR_JOB_OK) {
        rc = sr_engine__refs_check(r->owner, &req, &refs, &e);
        if (rc == SR_OK)
            rc = sr_engine__module_load(eng, r->owner, &req, &e);
        /* with a keystore, the worker asks it for the values: the job goes
         * out with its references only (docs/keystore.md) */
        if (rc == SR_OK && !eng->cfg.keystore)
            rc = sr_engine__secrets_for_job(eng, r->owner, r->id, &req, &refs, &set, &o,
                                            unavailable, sizeof(unavailable), &e);
        if (rc != SR_OK) {
            code = rc == SR_ENOTFOUND ? SR_JOB_MODULE_ERROR : SR_JOB_INTERNAL_ERROR;
            (void)snprintf(msg, sizeof(msg), "%s", e.msg);
        } else if (unavailable[0]) {
            code = SR_JOB_SECRET_UNAVAILABLE;
            (void)snprintf(msg, sizeof(msg), "%s", unavailable);
        }
    }
    if (code != SR_JOB_OK) {
        if (sr_engine__record_failure(eng, r->id, r->owner, r->created_at_ms, r->started_at_ms,
                                      &req, code, msg, l, &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "failing job '%s' for a worker: %s", r->id, e.msg);
        goto out;
    }
    json_t *rj = request_json(&req);
    json_t *sj = secrets_json(&set, pk);
    json_t *job = rj && sj ? json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:O, s:O}", "id", r->id,
                                       "owner", r->owner, "fence", (json_int_t)l->fence, "lease_ms",
                                       (json_int_t)sr_engine__lease_ms(eng), "created_at_ms",
                                       (json_int_t)r->created_at_ms, "started_at_ms",
                                       (json_int_t)r->started_at_ms, "request", rj, "secrets", sj)
                           : NULL;
    if (job && eng->cfg.keystore && json_object_set_new(job, "keystore", json_true()) != 0) {
        json_decref(job);
        job = NULL;
    }
    json_decref(rj);
    json_decref(sj);
    struct job_money money;
    json_t *mj = sr_engine__remote_money_json(eng, r->id, &money); /* the worker signs the cost */
    if (job && mj && json_object_set_new(job, "money", mj) != 0) {
        json_decref(job);
        job = NULL;
    } else if (!job) {
        json_decref(mj);
    }
    struct remote_job *x = job ? calloc(1, sizeof(*x)) : NULL;
    sr_storage_session *ss = NULL;
    if (x && (x->out = calloc(1, sizeof(*x->out))) != NULL) {
        sr_engine__outcome_init(x->out);
        if (sr_engine__storage_begin(eng, r->owner, &req, &ss, &e) != SR_OK) {
            sr_log(SR_LOG_ERROR, "engine", "job '%s': its storage: %s", r->id, e.msg);
            sr_engine__remote_free(x);
            x = NULL;
        }
        if (x)
            x->out->storage = ss; /* kept (sr_engine__storage_keep) at the job's end */
    } else if (x) {
        free(x);
        x = NULL;
    }
    if (!x) {
        json_decref(job);
        (void)sr_engine__record_failure(eng, r->id, r->owner, r->created_at_ms, r->started_at_ms,
                                        &req, SR_JOB_INTERNAL_ERROR,
                                        "out of memory handing the job to a worker", l, &e);
        goto out;
    }
    memcpy(x->holder, l->holder, sizeof(x->holder));
    memcpy(x->id, r->id, sizeof(x->id));
    (void)snprintf(x->owner, sizeof(x->owner), "%s", r->owner);
    x->fence = l->fence;
    x->created_ms = r->created_at_ms;
    x->started_ms = r->started_at_ms ? r->started_at_ms : sr_now_ms();
    x->runtime = req.runtime;
    memcpy(x->code_hash, req.code_hash_hex, sizeof(x->code_hash));
    memcpy(x->input_hash, req.input_hash_hex, sizeof(x->input_hash));
    x->has_pubkey = req.has_pubkey;
    x->money = money;
    x->refs = refs;
    pthread_mutex_lock(&eng->mu);
    x->next = eng->remote;
    eng->remote = x;
    pthread_mutex_unlock(&eng->mu);
    *out = job;
out:
    sr_secret_set_fini(&set);
    sr_engine__outcome_fini(&o);
    sr_job_request_fini(&req);
}

sr_status
sr_engine_worker_claim(sr_engine *eng, const uint8_t pk[SR_ED25519_PK_LEN], unsigned takes,
                       int64_t wait_ms, sr_engine_worker_ok_fn ok, void *ok_arg, json_t **out,
                       sr_err *err)
{
    char holder[SR_ID_HEX_LEN + 1];
    sr_engine_worker_holder(pk, holder);
    if (!eng->cfg.coordinator || !eng->cluster)
        return sr_err_set(err, SR_ECONFLICT,
                          "this sealrund is not a coordinator (sealrund --role coordinator); "
                          "it runs its jobs itself");
    unsigned cap = eng->cfg.worker_max_jobs ? eng->cfg.worker_max_jobs : SR_ENGINE_WORKER_MAX_JOBS;
    unsigned max = takes ? takes : 1;
    if (max > cap)
        max = cap;
    pthread_mutex_lock(&eng->mu);
    unsigned held = held_by_locked(eng, holder);
    bool full = eng->npolls >= SR_WORKER_MAX_POLLS;
    if (held < max && !full)
        eng->npolls++;
    pthread_mutex_unlock(&eng->mu);
    if (held >= max)
        return sr_err_set(err, SR_ECONFLICT,
                          "this worker already holds %u job(s), the most it may hold at once; "
                          "post their results first",
                          held);
    if (full)
        return sr_err_set(err, SR_EBUSY, "%d workers' polls already wait; retry later",
                          SR_WORKER_MAX_POLLS);
    int64_t until = sr_mono_us() / 1000 + wait_ms;
    sr_status rc = SR_OK;
    json_t *job = NULL;
    for (;;) {
        if (ok && !ok(ok_arg))
            break; /* drained or revoked meanwhile: no job */
        pthread_mutex_lock(&eng->mu);
        uint64_t gen = eng->qgen; /* a wake-up after this one is not missed */
        pthread_mutex_unlock(&eng->mu);
        struct sr_lease l = {.until_ms = sr_now_ms() + sr_engine__lease_ms(eng)};
        memcpy(l.holder, holder, sizeof(l.holder));
        struct sr_job_row r = {0};
        sr_err e = {0};
        rc = sr_store_job_claim(eng->store, sr_now_ms(), eng->cfg.max_running_per_user, &l, &r, &e);
        if (rc == SR_OK) {
            pthread_mutex_lock(&eng->mu);
            eng->qgen++;
            pthread_cond_signal(&eng->qcv); /* there may be more: another poll looks */
            pthread_mutex_unlock(&eng->mu);
            prepare(eng, &r, &l, pk, &job);
            sr_job_row_fini(&r);
            if (job)
                break;
            continue;
        }
        if (rc != SR_ENOTFOUND) {
            if (err)
                *err = e;
            rc = sr_err_wrap(err, "claiming a job for a worker");
            break;
        }
        rc = SR_OK;
        int64_t left = until - sr_mono_us() / 1000;
        if (left <= 0)
            break;
        struct timespec ts;
        sr_deadline_in_ms(left < POLL_SLICE_MS ? left : POLL_SLICE_MS, &ts);
        pthread_mutex_lock(&eng->mu);
        bool stop = eng->stopping || eng->polls_closed;
        if (!stop && eng->qgen == gen)
            (void)pthread_cond_timedwait(&eng->qcv, &eng->mu, &ts);
        stop = eng->stopping || eng->polls_closed;
        pthread_mutex_unlock(&eng->mu);
        if (stop)
            break;
    }
    pthread_mutex_lock(&eng->mu);
    eng->npolls--;
    pthread_mutex_unlock(&eng->mu);
    if (rc == SR_OK)
        *out = job;
    else
        json_decref(job);
    return rc;
}

void
sr_engine_worker_polls_close(sr_engine *eng)
{
    pthread_mutex_lock(&eng->mu);
    eng->polls_closed = true;
    pthread_cond_broadcast(&eng->qcv);
    pthread_cond_broadcast(&eng->done_cv);
    pthread_mutex_unlock(&eng->mu);
}

sr_status
sr_engine_worker_renew(sr_engine *eng, const char *holder, const char *id, uint64_t fence,
                       sr_err *err)
{
    pthread_mutex_lock(&eng->mu);
    bool known = find_locked(eng, holder, id, fence) != NULL;
    pthread_mutex_unlock(&eng->mu);
    if (!known)
        return sr_err_set(err, SR_ECONFLICT,
                          "job '%.32s' is not leased to this worker with fence %llu (it ended, "
                          "was cancelled or was taken over)",
                          id, (unsigned long long)fence);
    struct sr_lease l = {.until_ms = sr_now_ms() + sr_engine__lease_ms(eng), .fence = fence};
    memcpy(l.holder, holder, sizeof(l.holder));
    sr_status rc = sr_store_job_renew(eng->store, id, &l, err);
    if (rc == SR_ECONFLICT) {
        forget(eng, holder, id, fence);
        return sr_err_set(err, SR_ECONFLICT,
                          "job '%.32s' is no longer leased to this worker (fence %llu): it was "
                          "cancelled or taken over; stop it",
                          id, (unsigned long long)fence);
    }
    return rc;
}

/* ---- a worker's result ---- */

static const char *
str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The receipt binds the job handed out: SR_EINVAL naming what differs. */
static sr_status
check_binding(const struct remote_job *x, const json_t *job, const json_t *receipt, sr_err *err)
{
    static const char *const keys[] = {"job_id", "runtime", "code_hash", "input_hash"};
    const char *want[] = {x->id, sr_runtime_name(x->runtime), x->code_hash, x->input_hash};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *got = str_of(receipt, keys[i]);
        if (!got || strcmp(got, want[i]) != 0)
            return sr_err_set(err, SR_EINVAL,
                              "the receipt's '%s' is '%.64s', the job handed out has '%s'", keys[i],
                              got ? got : "(none)", want[i]);
    }
    const char *jid = str_of(job, "job_id");
    if (!jid || strcmp(jid, x->id) != 0)
        return sr_err_set(err, SR_EINVAL, "the job object's 'job_id' is not '%s'", x->id);
    if (json_object_get(job, "signature"))
        return sr_err_set(err, SR_EINVAL,
                          "the job object has 'signature': the output MAC is the coordinator's");
    return SR_OK;
}

/* A completed job's output hash: the receipt's, the job object's and (when
 * the output is in clear) the SHA-256 of the canonical output agree. */
static sr_status
check_output(const struct remote_job *x, const json_t *job, const json_t *receipt, sr_err *err)
{
    const char *h = str_of(job, "output_hash");
    const char *rh = str_of(receipt, "output_hash");
    if (!h || !rh || strcmp(h, rh) != 0 || !sr_is_lower_hex(h, SR_HASH_HEX_LEN))
        return sr_err_set(err, SR_EINVAL,
                          "a completed job needs 'output_hash', the same as its receipt's");
    if (x->has_pubkey)
        return SR_OK; /* sealed to the client: the receipt signs encrypted_output */
    sr_buf b;
    sr_buf_init(&b, SR_MAX_OUTPUT);
    sr_status rc = sr_json_canonical(json_object_get(job, "output"), &b, err);
    if (rc == SR_OK) {
        uint8_t d[32];
        char hex[SR_HASH_HEX_LEN + 1];
        sr_sha256(b.data ? b.data : "", b.len, d);
        sr_hex_encode(d, sizeof(d), hex);
        if (strcmp(hex, h) != 0)
            rc = sr_err_set(err, SR_EINVAL, "the job's output does not hash to its 'output_hash'");
    }
    sr_buf_fini(&b);
    return rc;
}

/* The job text with the output MAC ("signature") spliced in after '{'. */
static char *
with_mac(const sr_engine *eng, const char *id, const char *text, size_t len, const char *hash)
{
    if (!eng->keys || !hash) {
        char *t = malloc(len + 1);
        if (t) {
            memcpy(t, text, len);
            t[len] = '\0';
        }
        return t;
    }
    char mac[SR_HASH_HEX_LEN + 1];
    sr_output_mac(eng->keys, id, hash, mac);
    char head[SR_HASH_HEX_LEN + 32];
    int n = snprintf(head, sizeof(head), "{\"signature\":\"%s\",", mac);
    char *t = malloc((size_t)n + len);
    if (!t)
        return NULL;
    memcpy(t, head, (size_t)n);
    memcpy(t + n, text + 1, len - 1);
    t[(size_t)n + len - 1] = '\0';
    return t;
}

static sr_status
store_recording(sr_engine *eng, const struct remote_job *x, const json_t *job,
                const char *recording, int64_t now, sr_err *err)
{
    const char *want = str_of(job, "recording_sha256");
    if (!want && !recording)
        return SR_OK;
    if (!want || !recording)
        return sr_err_set(err, SR_EINVAL,
                          "a recorded job's result carries its 'recording' and the job its "
                          "'recording_sha256', both or neither");
    uint8_t d[32];
    char hex[SR_HASH_HEX_LEN + 1];
    sr_sha256(recording, strlen(recording), d);
    sr_hex_encode(d, sizeof(d), hex);
    if (strcmp(hex, want) != 0)
        return sr_err_set(err, SR_EINVAL, "the recording does not hash to 'recording_sha256'");
    struct sr_recording_row rec = {.owner = x->owner,
                                   .sealed = recording,
                                   .created_at_ms = now,
                                   .expires_at_ms = now + sr_engine__ttl_ms(eng)};
    memcpy(rec.job_id, x->id, sizeof(rec.job_id));
    memcpy(rec.sha256, hex, sizeof(rec.sha256));
    return sr_store_recording_put(eng->store, &rec, err);
}

/* The receipt's storage versions are those the coordinator prepared (or
 * none when the job has no storage): SR_EINVAL otherwise. */
static sr_status
check_storage(const struct remote_job *x, const json_t *receipt, sr_err *err)
{
    const struct job_outcome *o = x->out;
    bool has = o && o->storage;
    if (has && !x->prepared)
        return sr_err_set(err, SR_EINVAL,
                          "the job's storage end was never asked for: POST "
                          "/worker/jobs/%s/storage with \"end\" before the result",
                          x->id);
    const char *b = str_of(receipt, "storage_version_before");
    const char *a = str_of(receipt, "storage_version_after");
    b = b && *b ? b : NULL; /* "" as the job's end left them: none */
    a = a && *a ? a : NULL;
    const char *wb = has && o->storage_version_before[0] ? o->storage_version_before : NULL;
    const char *wa = has && o->storage_version_after[0] ? o->storage_version_after : NULL;
    if ((b == NULL) != (wb == NULL) || (a == NULL) != (wa == NULL) || (b && strcmp(b, wb) != 0) ||
        (a && strcmp(a, wa) != 0))
        return sr_err_set(err, SR_EINVAL,
                          "the receipt's storage versions are not the ones the coordinator "
                          "prepared (%s to %s)",
                          wb ? wb : "none", wa ? wa : "none");
    return SR_OK;
}

/* Checks a worker's job object against the entry x: the receipt verifies
 * with pk and binds the job; fills *code. */
static sr_status
check_result(const struct remote_job *x, const uint8_t pk[SR_ED25519_PK_LEN], const json_t *job,
             enum sr_job_code *code, bool *ok, sr_err *err)
{
    const json_t *receipt = json_object_get(job, "receipt");
    const char *sig = str_of(job, "receipt_signature");
    const char *status = str_of(job, "status");
    *ok = status && strcmp(status, "completed") == 0;
    *code = SR_JOB_OK;
    if (!json_is_object(receipt) || !sig)
        return sr_err_set(err, SR_EINVAL,
                          "the job object has no 'receipt' and 'receipt_signature'");
    if (!status || (!*ok && strcmp(status, "failed") != 0))
        return sr_err_set(err, SR_EINVAL, "the job's 'status' must be \"completed\" or \"failed\"");
    sr_status rc = sr_receipt_verify(receipt, sig, pk, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "the receipt of job '%s' is not this worker's", x->id);
    rc = check_binding(x, job, receipt, err);
    if (rc == SR_OK && *ok)
        rc = check_output(x, job, receipt, err);
    if (rc == SR_OK)
        rc = check_storage(x, receipt, err);
    if (rc == SR_OK && !*ok) {
        const char *c = str_of(json_object_get(job, "error"), "code");
        if (!c || !sr_job_code_from_name(c, strlen(c), code) || *code == SR_JOB_OK)
            rc = sr_err_set(err, SR_EINVAL, "a failed job needs 'error.code', a job code");
    }
    return rc;
}

/* Stores the checked job: its row under the worker's lease, in one
 * transaction with its storage writes. SR_EBUSY when the storage end must
 * be asked for again (the namespace moved, or a quota refused the
 * writes: the job's end changed). */
static sr_status
store_result(sr_engine *eng, struct remote_job *x, const char *holder, uint64_t fence,
             const json_t *job, const char *job_text, size_t len, bool ok, enum sr_job_code code,
             sr_err *err)
{
    const json_t *receipt = json_object_get(job, "receipt");
    char *text = with_mac(eng, x->id, job_text, len, ok ? str_of(job, "output_hash") : NULL);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory storing job '%s'", x->id);
    json_int_t gas = json_integer_value(json_object_get(job, "gas_used"));
    json_int_t dur = json_integer_value(json_object_get(receipt, "duration_us"));
    int64_t now = sr_now_ms();
    struct sr_job_row row = {
        .owner = x->owner,
        .state = ok ? SR_JOB_COMPLETED : SR_JOB_FAILED,
        .runtime = (char *)(uintptr_t)sr_runtime_name(x->runtime),
        .result_json = text,
        .created_at_ms = x->created_ms,
        .started_at_ms = x->started_ms,
        .finished_at_ms = now,
        .expires_at_ms = now + sr_engine__ttl_ms(eng),
        .gas_used = gas > 0 ? (uint64_t)gas : 0,
        .duration_us = dur > 0 ? dur : 0,
    };
    memcpy(row.id, x->id, sizeof(row.id));
    if (!ok)
        (void)snprintf(row.error_code, sizeof(row.error_code), "%s", sr_job_code_name(code));
    struct sr_lease l = {.fence = fence};
    memcpy(l.holder, holder, sizeof(l.holder));
    const struct sr_kv_commit *kv = ok ? x->kv : NULL;
    const struct sr_job_end end = {.row = &row, .lease = &l, .kv = kv};
    struct sr_kv_result res = {0};
    sr_err e = {0};
    sr_status rc = sr_store_job_end(eng->store, &end, kv ? &res : NULL, &e);
    free(text);
    if (rc == SR_OK && res.moved) {
        x->prepared = false; /* validated again at the next storage end */
        return sr_err_set(err, SR_EBUSY,
                          "job '%s': its storage namespace moved since its end was prepared; ask "
                          "for the storage end again and send the result again",
                          x->id);
    }
    if (rc == SR_ELIMIT && kv) {
        sr_engine__storage_refused(x->out, &res, &e); /* the job fails, without its writes */
        x->kv = NULL;
        x->prepared = false;
        return sr_err_set(err, SR_EBUSY,
                          "job '%s': a storage quota refused its writes; ask for the storage end "
                          "again and send the result again",
                          x->id);
    }
    if (rc != SR_OK && err)
        *err = e;
    if (rc == SR_OK)
        sr_metrics_job(x->runtime, code, row.duration_us, row.gas_used);
    return rc;
}

sr_status
sr_engine_worker_result(sr_engine *eng, const char *holder, const uint8_t pk[SR_ED25519_PK_LEN],
                        const char *id, uint64_t fence, const char *job_text, size_t len,
                        const char *recording, sr_err *err)
{
    json_t *job = NULL;
    sr_status rc =
        len >= 2 && job_text[0] == '{'
            ? sr_json_parse(job_text, len, SR_MAX_JSON_DEPTH + 8, "field 'job'", &job, err)
            : sr_err_set(err, SR_EINVAL, "field 'job' must be the job object's text");
    if (rc != SR_OK)
        return rc;
    struct remote_job *x = take(eng, holder, id, fence, err);
    if (!x) {
        json_decref(job);
        return SR_ECONFLICT;
    }
    enum sr_job_code code = SR_JOB_OK;
    bool ok = false;
    rc = check_result(x, pk, job, &code, &ok, err);
    if (rc == SR_OK)
        rc = sr_engine__remote_money_check(eng, x->id, x->runtime, code, job, &x->money, err);
    if (rc == SR_OK)
        rc = store_recording(eng, x, job, recording, sr_now_ms(), err);
    if (rc == SR_OK)
        rc = store_result(eng, x, holder, fence, job, job_text, len, ok, code, err);
    if (rc == SR_OK) /* its generated keys' uses, in their secrets' audit */
        sr_engine__keys_audit_remote(eng, &x->refs, json_object_get(job, "receipt"), x->owner,
                                     x->id);
    char owner[SR_MAX_USER_NAME + 1];
    memcpy(owner, x->owner, sizeof(owner));
    const struct job_money money = x->money;
    give(eng, x);
    json_decref(job);
    if (rc == SR_ECONFLICT) {
        forget(eng, holder, id, fence);
        sr_log(SR_LOG_WARN, "engine",
               "job '%s': the result of worker %s (fence %llu) is refused: its lease is no longer "
               "the job's; nothing written",
               id, holder, (unsigned long long)fence);
        return sr_err_set(err, SR_ECONFLICT,
                          "job '%s' is no longer leased to this worker (fence %llu): it was "
                          "cancelled or taken over; the result is refused, nothing written",
                          id, (unsigned long long)fence);
    }
    if (rc != SR_OK)
        return rc == SR_EBUSY || rc == SR_EINVAL || rc == SR_EDENIED
                   ? rc
                   : sr_err_wrap(err, "storing job '%s'", id);
    forget(eng, holder, id, fence);
    sr_engine__money_settle(eng, id, &money); /* after its row, as a daemon's own job */
    sr_log(SR_LOG_DEBUG, "engine", "job '%s' of '%s' ran on worker %s: %s", id, owner, holder,
           ok ? "completed" : sr_job_code_name(code));
    return SR_OK;
}

sr_status
sr_engine_worker_storage(sr_engine *eng, const char *holder, const char *id, uint64_t fence,
                         const uint8_t *call, size_t len, sr_buf *answer, sr_err *err)
{
    struct remote_job *x = take(eng, holder, id, fence, err);
    if (!x)
        return SR_ECONFLICT;
    sr_status rc;
    if (!x->out || !x->out->storage)
        rc = sr_err_set(err, SR_EINVAL, "job '%s' has no storage here", id);
    else if (x->prepared || x->out->has_storage)
        rc = sr_err_set(err, SR_ECONFLICT, "job '%s' has ended: no more storage calls", id);
    else
        rc = sr_storage_session_handle(x->out->storage, call, len, answer, err);
    give(eng, x);
    return rc;
}

sr_status
sr_engine_worker_storage_end(sr_engine *eng, const char *holder, const char *id, uint64_t fence,
                             enum sr_job_code code, const char *message, json_t **out, sr_err *err)
{
    struct remote_job *x = take(eng, holder, id, fence, err);
    if (!x)
        return SR_ECONFLICT;
    struct job_outcome *o = x->out;
    sr_status rc = SR_OK;
    if (!o || !o->storage) {
        rc = sr_err_set(err, SR_EINVAL, "job '%s' has no storage here", id);
    } else {
        if (!o->has_storage) { /* the first end: the run's outcome as the worker saw it */
            o->code = code;
            free(o->message);
            o->message = message && code != SR_JOB_OK ? strdup(message) : NULL;
            sr_engine__storage_keep(o->storage, o);
        }
        x->kv = sr_engine__storage_prepare(o);
        x->prepared = true;
        const char *cn = sr_job_code_name(o->code); /* NULL: completed */
        *out = json_pack(
            "{s:o, s:o, s:s, s:o, s:o}", "code", cn ? json_string(cn) : json_null(), "message",
            o->message ? json_string(o->message) : json_null(), "namespace", o->storage_ns,
            "version_before",
            o->storage_version_before[0] ? json_string(o->storage_version_before) : json_null(),
            "version_after",
            o->storage_version_after[0] ? json_string(o->storage_version_after) : json_null());
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    give(eng, x);
    return rc;
}

sr_status
sr_engine_worker_module(sr_engine *eng, const char *holder, const char *hash, uint8_t **out,
                        size_t *len, sr_err *err)
{
    char owner[SR_MAX_USER_NAME + 1] = "";
    pthread_mutex_lock(&eng->mu);
    for (const struct remote_job *r = eng->remote; r; r = r->next)
        if (strcmp(r->holder, holder) == 0 && r->runtime == SR_RUNTIME_WASM &&
            strcmp(r->code_hash, hash) == 0) {
            memcpy(owner, r->owner, sizeof(owner));
            break;
        }
    pthread_mutex_unlock(&eng->mu);
    if (!owner[0])
        return sr_err_set(err, SR_ENOTFOUND,
                          "module '%.64s' is not the module of a job this worker holds", hash);
    struct sr_job_request req = {.runtime = SR_RUNTIME_WASM};
    (void)snprintf(req.code_hash_hex, sizeof(req.code_hash_hex), "%s", hash);
    sr_status rc = sr_engine__module_load(eng, owner, &req, err);
    if (rc != SR_OK)
        return rc;
    *out = req.code;
    *len = req.code_len;
    return SR_OK;
}

void
sr_engine_worker_restarted(sr_engine *eng, const char *holder)
{
    if (!eng->cfg.coordinator || !eng->cluster)
        return;
    pthread_mutex_lock(&eng->mu);
    for (struct remote_job **p = &eng->remote; *p;) {
        if (strcmp((*p)->holder, holder) == 0) {
            struct remote_job *r = *p;
            *p = r->next;
            if (r->busy)
                r->dead = true; /* its request frees it */
            else
                sr_engine__remote_free(r);
        } else {
            p = &(*p)->next;
        }
    }
    pthread_mutex_unlock(&eng->mu);
    struct sr_lease l = {.until_ms = sr_now_ms() + sr_engine__lease_ms(eng)};
    memcpy(l.holder, holder, sizeof(l.holder));
    struct sr_job_row *rows = NULL;
    uint64_t *fences = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_jobs_reclaim(eng->store, &l, 32, &rows, &fences, &n, &e) != SR_OK) {
        sr_log(SR_LOG_WARN, "engine", "worker %s: taking back its old jobs: %s", holder, e.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct sr_lease mine = l;
        mine.fence = fences[i];
        sr_engine__interrupt_row(eng, &rows[i], &mine);
        sr_job_row_fini(&rows[i]);
    }
    if (n)
        sr_log(SR_LOG_WARN, "engine",
               "%zu job(s) were running on worker %s when it restarted: failed with INTERRUPTED", n,
               holder);
    free(rows);
    free(fences);
}

/* ---- a coordinator's synchronous jobs ---- */

sr_status
sr_engine__remote_execute(sr_engine *eng, const char *owner, const struct sr_job_request *req,
                          char **out, size_t *out_len, sr_err *err)
{
    json_t *ans = NULL;
    sr_status rc = sr_engine_submit(eng, owner, req, &ans, err);
    if (rc != SR_OK)
        return rc;
    char id[SR_ID_HEX_LEN + 1];
    (void)snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(ans, "job_id")));
    json_decref(ans);
    /* a worker ends it, or the keeper when the worker's lease runs out */
    int64_t until = sr_mono_us() / 1000 + (int64_t)req->timeout_s * 1000 +
                    2 * sr_engine__lease_ms(eng) + SYNC_MARGIN_MS;
    for (;;) {
        pthread_mutex_lock(&eng->mu);
        uint64_t gen = eng->done_gen; /* an end after this one is not missed */
        pthread_mutex_unlock(&eng->mu);
        char *text = NULL;
        size_t len = 0;
        rc = sr_engine_job_get(eng, owner, id, &text, &len, err);
        if (rc != SR_OK)
            return rc;
        json_t *j = NULL;
        const char *st = NULL;
        if (sr_json_parse_stored(text, len, 2048 + 8, "job", &j, NULL) == SR_OK)
            st = json_string_value(json_object_get(j, "status"));
        bool done = st && (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0);
        json_decref(j);
        if (done) {
            *out = text;
            *out_len = len;
            return SR_OK;
        }
        free(text);
        int64_t left = until - sr_mono_us() / 1000;
        if (left <= 0)
            return sr_err_set(err, SR_EIO,
                              "job '%s' did not end in time on a worker; GET /jobs/%s shows how "
                              "it ends",
                              id, id);
        struct timespec ts;
        sr_deadline_in_ms(left < SYNC_SLICE_MS ? left : SYNC_SLICE_MS, &ts);
        pthread_mutex_lock(&eng->mu);
        bool stop = eng->stopping || eng->polls_closed;
        if (!stop && eng->done_gen == gen)
            (void)pthread_cond_timedwait(&eng->done_cv, &eng->mu, &ts);
        pthread_mutex_unlock(&eng->mu);
        if (stop)
            return sr_err_set(err, SR_EIO,
                              "the coordinator is stopping; GET /jobs/%s shows how "
                              "job '%s' ends",
                              id, id);
    }
}

/* ---- the worker's side ---- */

static sr_status
secret_from_json(const sr_engine *eng, const json_t *s, struct sr_secret_entry *e, sr_err *err)
{
    const char *value = NULL;
    sr_status rc = sr_secret_entry_from_json(s, REMOTE_MAX_HOSTS, "a secret of the job", SR_EINVAL,
                                             e, &value, err);
    if (rc != SR_OK)
        return rc;
    uint8_t *raw = NULL;
    size_t rlen = 0;
    rc = eng->wkey ? sr_worker_key_box_open(eng->wkey, value, &raw, &rlen, err)
                   : sr_err_set(err, SR_EINVAL, "a worker needs its worker key");
    if (rc != SR_OK)
        return sr_err_wrap(err, "opening secret '%s'", e->name);
    if (rlen > SR_SECRET_VALUE_MAX)
        rc = sr_err_set(err, SR_ELIMIT, "a secret value is %zu bytes, at most %u", rlen,
                        SR_SECRET_VALUE_MAX);
    if (rc == SR_OK)
        rc = sr_secret_value_set(raw, rlen, &e->value, err);
    if (raw) {
        sodium_memzero(raw, rlen);
        free(raw);
    }
    return rc;
}

struct sr_engine_remote_run {
    const struct sr_engine_remote_io *io;
    char id[SR_ID_HEX_LEN + 1];
    char owner[SR_MAX_USER_NAME + 1];
    struct sr_job_request req;
    struct job_outcome o;
    int64_t created, started, finished, wall;
    struct remote_money money; /* the coordinator's hold and prices: the receipt's cost */
};

void
sr_engine_remote_run_free(sr_engine_remote_run *run)
{
    if (!run)
        return;
    sr_engine__outcome_fini(&run->o);
    sr_job_request_fini(&run->req);
    sr_engine__remote_money_fini(&run->money);
    free(run);
}

/* Takes the coordinator's storage end into the outcome: the job's code
 * (a storage cap, conflict or quota fails it) and storage versions. */
static sr_status
apply_storage_end(struct job_outcome *o, const json_t *a, sr_err *err)
{
    const char *code = str_of(a, "code"), *ns = str_of(a, "namespace");
    const char *msg = str_of(a, "message");
    const json_t *vb = json_object_get(a, "version_before"),
                 *va = json_object_get(a, "version_after");
    enum sr_job_code c = SR_JOB_OK;
    if ((!json_is_null(json_object_get(a, "code")) &&
         (!code || !sr_job_code_from_name(code, strlen(code), &c))) ||
        !ns || strlen(ns) > SR_STORAGE_MAX_NS || (!json_is_null(vb) && !json_is_string(vb)) ||
        (!json_is_null(va) && !json_is_string(va)) ||
        (json_is_string(vb) && json_string_length(vb) >= sizeof(o->storage_version_before)) ||
        (json_is_string(va) && json_string_length(va) >= sizeof(o->storage_version_after)))
        return sr_err_set(err, SR_EIO,
                          "the coordinator's storage end needs 'code', 'namespace', "
                          "'version_before', 'version_after'");
    if (c != o->code || (c != SR_JOB_OK && msg && (!o->message || strcmp(msg, o->message) != 0)))
        sr_engine__fail(o, c, "%s", msg ? msg : "storage");
    o->has_storage = true;
    (void)snprintf(o->storage_ns, sizeof(o->storage_ns), "%s", ns);
    (void)snprintf(o->storage_version_before, sizeof(o->storage_version_before), "%s",
                   json_is_string(vb) ? json_string_value(vb) : "");
    (void)snprintf(o->storage_version_after, sizeof(o->storage_version_after), "%s",
                   json_is_string(va) ? json_string_value(va) : "");
    return SR_OK;
}

sr_status
sr_engine_remote_text(sr_engine *eng, sr_engine_remote_run *run, char **out, size_t *out_len,
                      const char **recording, sr_err *err)
{
    struct job_outcome *o = &run->o;
    if (run->io && run->io->storage_end) {
        json_t *a = NULL;
        sr_status rc = run->io->storage_end(run->io->arg, sr_job_code_name(o->code),
                                            o->code == SR_JOB_OK ? NULL : o->message, &a, err);
        if (rc == SR_OK)
            rc = apply_storage_end(o, a, err);
        json_decref(a);
        if (rc != SR_OK)
            return sr_err_wrap(err, "the storage end of job '%s'", run->id);
    }
    sr_engine__remote_money_quote(&run->money, run->req.runtime, o, run->wall);
    sr_status rc = sr_engine__job_text(eng, run->id, run->owner, &run->req, o, run->created,
                                       run->started, run->finished, run->wall, out, out_len, err);
    if (rc == SR_OK)
        *recording = o->recording;
    return rc;
}

sr_status
sr_engine_run_remote(sr_engine *eng, const json_t *job, const uint8_t *module, size_t module_len,
                     const struct sr_engine_remote_io *io, sr_sandbox_cancel *cancel,
                     sr_engine_remote_run **out, sr_err *err)
{
    const char *id = str_of(job, "id"), *owner = str_of(job, "owner");
    const json_t *secrets = json_object_get(job, "secrets");
    json_int_t created = json_integer_value(json_object_get(job, "created_at_ms"));
    if (!id || !sr_is_lower_hex(id, SR_ID_HEX_LEN) || strlen(id) != SR_ID_HEX_LEN || !owner ||
        !*owner || strlen(owner) > SR_MAX_USER_NAME || !json_is_array(secrets) ||
        json_array_size(secrets) > SR_MAX_SECRET_REFS || created <= 0)
        return sr_err_set(err, SR_EINVAL,
                          "the coordinator's job needs 'id' (32 hex), 'owner', 'created_at_ms' "
                          "and at most %d 'secrets'",
                          SR_MAX_SECRET_REFS);
    json_t *body = json_deep_copy(json_object_get(job, "request"));
    struct sr_job_request req;
    sr_status rc = body ? SR_OK : sr_err_set(err, SR_EINVAL, "the job has no 'request'");
    if (rc == SR_OK) {
        json_object_del(body, "async");
        rc = sr_job_request_parse(body, &req, err);
        if (rc != SR_OK)
            sr_err_wrap(err, "the request of job '%s'", id);
    }
    json_decref(body);
    if (rc != SR_OK)
        return rc;
    if (req.runtime == SR_RUNTIME_WASM && !req.code) {
        uint8_t d[32];
        if (module)
            sr_sha256(module, module_len, d);
        if (!module || memcmp(d, req.code_hash, sizeof(d)) != 0) {
            sr_job_request_fini(&req);
            return sr_err_set(err, SR_EINVAL, "job '%s' needs module '%s', not the bytes given", id,
                              req.code_hash_hex);
        }
        req.code = malloc(module_len ? module_len : 1);
        if (!req.code) {
            sr_job_request_fini(&req);
            return sr_err_set(err, SR_ENOMEM, "out of memory for job '%s''s module", id);
        }
        memcpy(req.code, module, module_len);
        req.code_len = module_len;
    }
    struct sr_secret_set set;
    memset(&set, 0, sizeof(set));
    bool from_keystore = json_is_true(json_object_get(job, "keystore"));
    if (from_keystore && json_array_size(secrets))
        rc = sr_err_set(err, SR_EINVAL,
                        "a job of a coordinator with a keystore carries no secret values");
    else if (!from_keystore && io && io->secrets && json_array_size(secrets))
        rc = sr_err_set(err, SR_EINVAL,
                        "this worker takes secrets from its keystore only (--keystore), not "
                        "values the coordinator sealed");
    for (size_t i = 0; rc == SR_OK && i < json_array_size(secrets); i++) {
        rc = secret_from_json(eng, json_array_get(secrets, i), &set.entry[i], err);
        set.n = i + 1;
    }
    if (rc != SR_OK) {
        sr_secret_set_fini(&set);
        sr_job_request_fini(&req);
        return sr_err_wrap(err, "the secrets of job '%s'", id);
    }
    sr_engine_remote_run *run = calloc(1, sizeof(*run));
    if (!run) {
        sr_secret_set_fini(&set);
        sr_job_request_fini(&req);
        return sr_err_set(err, SR_ENOMEM, "out of memory running job '%s'", id);
    }
    rc = sr_engine__remote_money_parse(json_object_get(job, "money"), &run->money, err);
    if (rc != SR_OK) {
        free(run);
        sr_secret_set_fini(&set);
        sr_job_request_fini(&req);
        return sr_err_wrap(err, "job '%s'", id);
    }
    run->io = io;
    memcpy(run->id, id, sizeof(run->id));
    (void)snprintf(run->owner, sizeof(run->owner), "%s", owner);
    run->req = req;
    run->created = (int64_t)created;
    run->started = sr_now_ms();
    int64_t t0 = sr_mono_us();
    json_int_t fence = json_integer_value(json_object_get(job, "fence"));
    char refused[SR_ERR_MSG_MAX] = "";
    if (from_keystore && run->req.nrefs) {
        sr_err ke = {0};
        sr_status krc = io && io->secrets ? io->secrets(io->arg, run->id, (uint64_t)fence,
                                                        run->owner, &run->req, &set, &ke)
                                          : sr_err_set(&ke, SR_EDENIED,
                                                       "secrets are unavailable: this worker "
                                                       "has no keystore (--keystore)");
        if (krc != SR_OK)
            (void)snprintf(refused, sizeof(refused), "%s", ke.msg);
    }
    if (refused[0]) {
        sr_engine__outcome_init(&run->o);
        sr_engine__fail(&run->o, SR_JOB_SECRET_UNAVAILABLE, "%s", refused);
    } else {
        sr_engine__run_given(eng, run->owner, run->id, &run->req, &set, io, cancel, &run->o);
    }
    run->wall = sr_mono_us() - t0;
    run->finished = sr_now_ms();
    *out = run;
    return SR_OK;
}
