/* SPDX-License-Identifier: MIT
 *
 * cluster.c - the engine on a shared store (cluster mode, docs/cluster.md):
 * the store is the one queue of every daemon.
 *
 * A job runs under a lease (sr_store.h "the cluster queue"): an async job
 * is claimed from the store by a worker, a synchronous one is stored
 * running before it runs, so both count against the owner's cap in the
 * store and both survive the death of their daemon as an INTERRUPTED
 * failure with a receipt. The keeper thread renews this daemon's leases
 * every third of the lease, takes over the jobs whose lease ran out (their
 * daemon died or lost the store) and fails each once, under its own new
 * fence, and writes this daemon's heartbeat row. The listener thread turns
 * NOTIFY wake-ups (a job was queued or ended anywhere) into a broadcast of
 * eng->cv, so idle workers sleep until there is work; their timed wait is
 * only a backstop for lost notifications.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define DEFAULT_LEASE_MS 15000
#define IDLE_WAIT_S 30     /* a worker's backstop when no NOTIFY comes */
#define TAKEOVER_BATCH 32  /* expired jobs taken over per sweep */
#define LISTEN_WAIT_MS 500 /* the listener checks for stopping this often */

int64_t
sr_engine__lease_ms(const sr_engine *eng)
{
    return eng->cfg.lease_ms > 0 ? eng->cfg.lease_ms : DEFAULT_LEASE_MS;
}

static struct sr_lease
new_lease(const sr_engine *eng)
{
    struct sr_lease l = {.until_ms = sr_now_ms() + sr_engine__lease_ms(eng)};
    memcpy(l.holder, eng->holder, sizeof(l.holder));
    return l;
}

void
sr_engine__lease_hold(sr_engine *eng, struct held_lease *h)
{
    sr_err e = {0};
    h->cancel = NULL;
    if (sr_sandbox_cancel_new(&h->cancel, &e) != SR_OK) /* it is still fenced: nothing written */
        sr_log(SR_LOG_WARN, "engine",
               "job '%s' runs without a cancel (%s): if its lease is "
               "taken over, its process runs to its end",
               h->id, e.msg);
    pthread_mutex_lock(&eng->mu);
    h->confirmed_ms = h->lease.until_ms;
    h->lost = false;
    h->next = eng->leases;
    eng->leases = h;
    pthread_mutex_unlock(&eng->mu);
}

void
sr_engine__lease_release(sr_engine *eng, struct held_lease *h)
{
    pthread_mutex_lock(&eng->mu);
    for (struct held_lease **p = &eng->leases; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
    pthread_mutex_unlock(&eng->mu);
    sr_sandbox_cancel_free(h->cancel);
    h->cancel = NULL;
}

bool
sr_engine__lease_lost(sr_engine *eng, const struct held_lease *h)
{
    pthread_mutex_lock(&eng->mu);
    bool lost = h->lost;
    pthread_mutex_unlock(&eng->mu);
    return lost;
}

/* ---- synchronous jobs ---- */

/* The request as stored for a running job (a WASM job's module is in the
 * store by hash, or inline: only its hash is kept). */
static char *
request_text(const struct sr_job_request *req)
{
    json_t *rj = sr_job_request_to_json(req);
    if (rj && req->runtime == SR_RUNTIME_WASM && req->code) {
        json_object_del(rj, "module");
        json_object_set_new(rj, "module_hash", json_string(req->code_hash_hex));
    }
    char *text = rj ? sr_json_dumps(rj, JSON_COMPACT) : NULL;
    json_decref(rj);
    return text;
}

sr_status
sr_engine__cluster_execute(sr_engine *eng, const char *owner, const char *id,
                           const struct sr_job_request *req, const struct sr_secret_refs *refs,
                           bool inline_module, char **out, size_t *out_len, sr_err *err)
{
    char *text = request_text(req);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory storing job '%s'", id);
    int64_t now = sr_now_ms();
    struct sr_job_row row = {
        .owner = (char *)(uintptr_t)owner,
        .state = SR_JOB_RUNNING,
        .runtime = (char *)(uintptr_t)sr_runtime_name(req->runtime),
        .request_json = text,
        .created_at_ms = now,
        .started_at_ms = now,
        .expires_at_ms = now + sr_engine__ttl_ms(eng) + (int64_t)SR_MAX_TIMEOUT_S * 1000,
    };
    memcpy(row.id, id, sizeof(row.id));
    struct held_lease h = {.lease = new_lease(eng)};
    memcpy(h.id, id, sizeof(h.id));
    sr_status rc =
        sr_store_job_start(eng->store, &row, eng->cfg.max_running_per_user, &h.lease, err);
    free(text);
    if (rc != SR_OK)
        return rc == SR_EBUSY ? rc : sr_err_wrap(err, "storing job '%s'", id);
    sr_engine__lease_hold(eng, &h);
    rc = sr_engine__run_and_record(eng, owner, id, now, req, refs, false, inline_module, &h, out,
                                   out_len, err);
    if (rc == SR_EINVAL && inline_module) { /* not a module: a 400, and its row says so */
        sr_err e = {0};
        (void)sr_engine__record_failure(eng, id, owner, now, now, req, SR_JOB_MODULE_ERROR,
                                        err ? err->msg : "invalid module", &h.lease, &e);
    }
    sr_engine__lease_release(eng, &h);
    return rc;
}

/* ---- async workers ---- */

/* A claimed row whose request cannot be read back: ended without a receipt
 * (there is nothing to bind one to), so it is not taken over forever. */
void
sr_engine__finish_unreadable(sr_engine *eng, const struct sr_job_row *r, const struct sr_lease *l,
                             const char *why)
{
    json_t *res = json_pack("{s:n, s:[], s:{s:s, s:s}, s:i}", "output", "logs", "error", "code",
                            sr_job_code_name(SR_JOB_INTERNAL_ERROR), "message", why, "gas_used", 0);
    char *text = res ? sr_json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    int64_t now = sr_now_ms();
    struct sr_job_row row = *r;
    row.state = SR_JOB_FAILED;
    row.request_json = NULL;
    row.result_json = text;
    row.finished_at_ms = now;
    row.expires_at_ms = now + sr_engine__ttl_ms(eng);
    (void)snprintf(row.error_code, sizeof(row.error_code), "%s",
                   sr_job_code_name(SR_JOB_INTERNAL_ERROR));
    sr_err e = {0};
    if (!text || sr_store_job_finish(eng->store, &row, l, &e) != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "cannot fail job '%s': %s", r->id, text ? e.msg : "ENOMEM");
    free(text);
}

static void
run_claimed(sr_engine *eng, const struct sr_job_row *r, struct held_lease *h)
{
    sr_err e = {0};
    struct sr_job_request req;
    struct sr_secret_refs refs;
    if (sr_engine__request_from_row(r, &req, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "engine", "job '%s' of '%s': %s", r->id, r->owner, e.msg);
        sr_engine__finish_unreadable(eng, r, &h->lease,
                                     "the stored request could not be read back");
        return;
    }
    int64_t max_age = sr_engine__queue_max_age_ms(eng);
    int64_t waited = sr_now_ms() - r->created_at_ms;
    if (max_age && waited > max_age) { /* too old to run: ends here, under the claim */
        char msg[256];
        sr_engine__expired_msg(eng, waited, msg, sizeof(msg));
        if (sr_engine__record_failure(eng, r->id, r->owner, r->created_at_ms, 0, &req,
                                      SR_JOB_EXPIRED, msg, &h->lease, &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "expiring job '%s': %s", r->id, e.msg);
        sr_job_request_fini(&req);
        return;
    }
    sr_status rc = sr_engine__refs_check(r->owner, &req, &refs, &e);
    if (rc == SR_OK)
        rc = sr_engine__module_load(eng, r->owner, &req, &e);
    char *text = NULL;
    size_t len = 0;
    if (rc == SR_ENOTFOUND || rc == SR_EINVAL) /* module deleted after it was queued; bad refs */
        rc = sr_engine__record_failure(
            eng, r->id, r->owner, r->created_at_ms, r->started_at_ms, &req,
            rc == SR_ENOTFOUND ? SR_JOB_MODULE_ERROR : SR_JOB_INTERNAL_ERROR, e.msg, &h->lease, &e);
    else if (rc == SR_OK)
        rc = sr_engine__run_and_record(eng, r->owner, r->id, r->created_at_ms, &req, &refs, false,
                                       false, h, &text, &len, &e);
    if (rc != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "async job '%s' of '%s': %s", r->id, r->owner, e.msg);
    free(text);
    sr_job_request_fini(&req);
}

/* Counts a claimed job in this daemon's figures (/info) while it runs. */
static void
count_running(sr_engine *eng, int delta)
{
    pthread_mutex_lock(&eng->mu);
    eng->running = (unsigned)((int)eng->running + delta);
    pthread_mutex_unlock(&eng->mu);
}

/* Idle workers wait on qcv, and each wake-up (a NOTIFY, a local submit, a
 * claim that found work) wakes one of them: a burst of jobs draws workers
 * in one after another, and a job's end does not send every idle worker of
 * every daemon to the store at once. */
static void
idle_wait(sr_engine *eng, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&eng->mu);
    if (!eng->stopping)
        (void)pthread_cond_timedwait(&eng->qcv, &eng->mu, &until);
    pthread_mutex_unlock(&eng->mu);
}

static void
wake_one(sr_engine *eng)
{
    pthread_mutex_lock(&eng->mu);
    eng->qgen++;
    pthread_cond_signal(&eng->qcv);
    pthread_mutex_unlock(&eng->mu);
}

static bool
stopping(sr_engine *eng)
{
    pthread_mutex_lock(&eng->mu);
    bool s = eng->stopping;
    pthread_mutex_unlock(&eng->mu);
    return s;
}

void *
sr_engine__cluster_worker(void *arg)
{
    sr_engine *eng = arg;
    while (!stopping(eng)) {
        struct held_lease h = {.lease = new_lease(eng)};
        struct sr_job_row r = {0};
        sr_err e = {0};
        sr_status rc = sr_store_job_claim(eng->store, sr_now_ms(), eng->cfg.max_running_per_user,
                                          &h.lease, &r, &e);
        if (rc != SR_OK) {
            if (rc != SR_ENOTFOUND)
                sr_log(SR_LOG_WARN, "engine", "claiming a job: %s", e.msg);
            idle_wait(eng, rc == SR_ENOTFOUND ? IDLE_WAIT_S : 1);
            continue;
        }
        wake_one(eng); /* there may be more: another worker looks */
        memcpy(h.id, r.id, sizeof(h.id));
        sr_engine__lease_hold(eng, &h);
        count_running(eng, 1);
        run_claimed(eng, &r, &h);
        count_running(eng, -1);
        sr_engine__lease_release(eng, &h);
        sr_job_row_fini(&r);
    }
    return NULL;
}

/* ---- the keeper: renewals, take-overs, heartbeats ---- */

/* The held lease h (still held: same id and fence) or NULL. Under mu. */
static struct held_lease *
still_held(sr_engine *eng, const struct held_lease *h, const char *id, uint64_t fence)
{
    for (struct held_lease *x = eng->leases; x; x = x->next)
        if (x == h && strcmp(x->id, id) == 0 && x->lease.fence == fence)
            return x;
    return NULL;
}

/* Renews every lease this daemon holds. A lease the store says is no
 * longer held (another daemon took the job over: other holder or fence),
 * or one the store could not confirm until past its end (another daemon
 * may take it over now), is lost: the job's process is killed at once and
 * nothing of it will be written (docs/cluster.md "Taken over"). */
static void
renew_all(sr_engine *eng)
{
    int64_t until = sr_now_ms() + sr_engine__lease_ms(eng);
    for (;;) { /* one at a time, without mu held across the store call */
        pthread_mutex_lock(&eng->mu);
        struct held_lease *h = eng->leases;
        while (h && (h->lost || h->lease.until_ms >= until))
            h = h->next;
        struct sr_lease l = {0};
        char id[SR_ID_HEX_LEN + 1] = "";
        if (h) {
            h->lease.until_ms = until;
            l = h->lease;
            memcpy(id, h->id, sizeof(id));
        }
        pthread_mutex_unlock(&eng->mu);
        if (!id[0])
            return;
        sr_err e = {0};
        sr_status rc = sr_store_job_renew(eng->store, id, &l, &e);
        bool lost = false;
        pthread_mutex_lock(&eng->mu);
        struct held_lease *x = still_held(eng, h, id, l.fence);
        if (x && rc == SR_OK) {
            x->confirmed_ms = l.until_ms;
        } else if (x && !x->lost && (rc == SR_ECONFLICT || sr_now_ms() >= x->confirmed_ms)) {
            x->lost = lost = true;
            sr_sandbox_cancel_fire(x->cancel); /* under mu: x is not released meanwhile */
        }
        pthread_mutex_unlock(&eng->mu);
        if (lost)
            sr_log(SR_LOG_WARN, "engine",
                   "job '%s': lost its lease (fence %llu): %s; its process is killed and "
                   "nothing of it will be written here",
                   id, (unsigned long long)l.fence,
                   rc == SR_ECONFLICT ? "another daemon took it over"
                                      : "the store could not renew it before it ran out");
        else if (rc != SR_OK)
            sr_log(SR_LOG_WARN, "engine", "job '%s': %s", id, e.msg);
    }
}

/* Ends one job taken back from a holder that stopped (its lease under
 * *mine): INTERRUPTED with its receipt, or failed as unreadable when its
 * stored request no longer parses. Errors are logged. */
void
sr_engine__interrupt_row(sr_engine *eng, const struct sr_job_row *row, const struct sr_lease *mine)
{
    sr_err e = {0};
    struct sr_job_request req;
    if (sr_engine__request_from_row(row, &req, &e) != SR_OK) {
        sr_engine__finish_unreadable(eng, row, mine, sr_engine__interrupted_msg);
        return;
    }
    if (sr_engine__record_failure(eng, row->id, row->owner, row->created_at_ms, row->started_at_ms,
                                  &req, SR_JOB_INTERRUPTED, sr_engine__interrupted_msg, mine,
                                  &e) != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "failing interrupted job '%s': %s", row->id, e.msg);
    sr_job_request_fini(&req);
}

/* Fails, once each, the jobs whose daemon stopped renewing their lease
 * (own: at start, the jobs this daemon ran before it restarted). Returns
 * how many (at most TAKEOVER_BATCH). */
static size_t
take_over(sr_engine *eng, bool own)
{
    struct sr_lease l = new_lease(eng);
    struct sr_job_row *rows = NULL;
    uint64_t *fences = NULL;
    size_t n = 0;
    sr_err e = {0};
    sr_status rc =
        own ? sr_store_jobs_reclaim(eng->store, &l, TAKEOVER_BATCH, &rows, &fences, &n, &e)
            : sr_store_jobs_expired(eng->store, sr_now_ms(), &l, TAKEOVER_BATCH, &rows, &fences, &n,
                                    &e);
    if (rc != SR_OK) {
        sr_log(SR_LOG_WARN, "engine", "looking for expired leases: %s", e.msg);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct sr_lease mine = l;
        mine.fence = fences[i];
        sr_engine__interrupt_row(eng, &rows[i], &mine);
        sr_engine__remote_forget_id(eng, rows[i].id); /* its worker's entry, if any */
        sr_job_row_fini(&rows[i]);
    }
    if (n)
        sr_log(SR_LOG_WARN, "engine", "%zu job(s) %s: failed with INTERRUPTED", n,
               own ? "were running when this daemon stopped"
                   : "of a daemon that stopped renewing its leases");
    free(rows);
    free(fences);
    return n;
}

static void
heartbeat(sr_engine *eng)
{
    struct sr_daemon_row d = {.started_at_ms = eng->started_ms, .heartbeat_at_ms = sr_now_ms()};
    memcpy(d.id, eng->holder, sizeof(d.id));
    sr_hex_encode(eng->pk, sizeof(eng->pk), d.public_key);
    sr_hex_encode(eng->measurement, sizeof(eng->measurement), d.measurement);
    (void)snprintf(d.version, sizeof(d.version), "%s", SR_VERSION);
    sr_err e = {0};
    if (sr_store_daemon_beat(eng->store, &d, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine", "heartbeat: %s", e.msg);
}

static void *
keeper_main(void *arg)
{
    sr_engine *eng = arg;
    int64_t every = sr_engine__lease_ms(eng) / 3;
    while (!stopping(eng)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = (int64_t)until.tv_nsec + (every % 1000) * 1000000;
        until.tv_sec += (time_t)(every / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&eng->mu);
        while (!eng->stopping && pthread_cond_timedwait(&eng->cv, &eng->mu, &until) != ETIMEDOUT) {
        }
        bool stop = eng->stopping;
        pthread_mutex_unlock(&eng->mu);
        if (stop)
            break;
        renew_all(eng);
        heartbeat(eng);
        (void)take_over(eng, false);
    }
    return NULL;
}

static void *
listener_main(void *arg)
{
    sr_engine *eng = arg;
    while (!stopping(eng)) {
        if (sr_store_wait_jobs(eng->store, LISTEN_WAIT_MS))
            wake_one(eng);
    }
    return NULL;
}

sr_status
sr_engine__cluster_start(sr_engine *eng, sr_err *err)
{
    /* the daemon's id follows its worker key (one per data directory, which
     * one daemon at a time holds): after a restart it knows its old jobs */
    uint8_t h[32];
    sr_sha256(eng->pk, sizeof(eng->pk), h);
    sr_hex_encode(h, SR_ID_HEX_LEN / 2, eng->holder);
    eng->started_ms = sr_now_ms();
    heartbeat(eng);
    while (take_over(eng, true) == TAKEOVER_BATCH) {
    }
    (void)take_over(eng, false);
    sr_engine__purge_once(eng);
    sr_engine__expire_once(eng);
    if (pthread_create(&eng->keeper, NULL, keeper_main, eng) != 0)
        return sr_err_set(err, SR_EIO, "cannot start the lease keeper thread");
    eng->has_keeper = true;
    if (pthread_create(&eng->listener, NULL, listener_main, eng) != 0)
        return sr_err_set(err, SR_EIO, "cannot start the queue listener thread");
    eng->has_listener = true;
    sr_log(SR_LOG_INFO, "engine", "cluster mode: daemon %s, leases of %lld ms", eng->holder,
           (long long)sr_engine__lease_ms(eng));
    return SR_OK;
}

/* ---- cancel and expiry (control.c) ---- */

#define EXPIRE_BATCH 32 /* expired queued jobs taken per store call */

/* Ends one job taken for a cancel or an expiry, under its lease. */
static sr_status
end_taken(sr_engine *eng, const struct sr_job_row *r, const struct sr_lease *l,
          enum sr_job_code code, const char *msg, sr_err *err)
{
    struct sr_job_request req;
    if (sr_engine__request_from_row(r, &req, err) != SR_OK) {
        sr_log(SR_LOG_ERROR, "engine", "job '%s' of '%s': %s", r->id, r->owner, err->msg);
        sr_engine__finish_unreadable(eng, r, l, "the stored request could not be read back");
        return SR_OK;
    }
    sr_status rc = sr_engine__record_failure(eng, r->id, r->owner, r->created_at_ms,
                                             r->started_at_ms, &req, code, msg, l, err);
    sr_job_request_fini(&req);
    return rc;
}

sr_status
sr_engine__cluster_cancel(sr_engine *eng, const char *owner, const char *id, sr_err *err)
{
    struct held_lease h = {.lease = new_lease(eng)};
    struct sr_job_row r = {0};
    sr_status rc = sr_store_job_take(eng->store, owner, id, &h.lease, &r, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    if (rc != SR_OK)
        return rc;
    /* run here: its lease is lost now and its process killed; run
     * elsewhere: its daemon's next renewal is refused, which does the same */
    pthread_mutex_lock(&eng->mu);
    for (struct held_lease *x = eng->leases; x; x = x->next) {
        if (strcmp(x->id, id) == 0 && !x->lost) {
            x->lost = true;
            sr_sandbox_cancel_fire(x->cancel);
        }
    }
    pthread_mutex_unlock(&eng->mu);
    sr_engine__remote_forget_id(eng, id); /* a worker running it finds out at its renewal */
    memcpy(h.id, r.id, sizeof(h.id));
    sr_engine__lease_hold(eng, &h);
    rc = end_taken(
        eng, &r, &h.lease, SR_JOB_CANCELLED,
        r.started_at_ms ? sr_engine__cancelled_running_msg : sr_engine__cancelled_queued_msg, err);
    sr_engine__lease_release(eng, &h);
    sr_job_row_fini(&r);
    return rc == SR_OK ? SR_OK : sr_err_wrap(err, "cancelling job '%s'", id);
}

void
sr_engine__cluster_expire(sr_engine *eng, int64_t cutoff_ms)
{
    size_t total = 0;
    for (;;) {
        struct sr_lease l = new_lease(eng);
        struct sr_job_row *rows = NULL;
        uint64_t *fences = NULL;
        size_t n = 0;
        sr_err e = {0};
        if (sr_store_jobs_stale(eng->store, cutoff_ms, &l, EXPIRE_BATCH, &rows, &fences, &n, &e) !=
            SR_OK) {
            sr_log(SR_LOG_WARN, "engine", "expiring queued jobs: %s", e.msg);
            break;
        }
        int64_t now = sr_now_ms();
        for (size_t i = 0; i < n; i++) {
            struct sr_lease mine = l;
            mine.fence = fences[i];
            char msg[256];
            sr_engine__expired_msg(eng, now - rows[i].created_at_ms, msg, sizeof(msg));
            if (end_taken(eng, &rows[i], &mine, SR_JOB_EXPIRED, msg, &e) != SR_OK)
                sr_log(SR_LOG_ERROR, "engine", "expiring job '%s': %s", rows[i].id, e.msg);
            sr_job_row_fini(&rows[i]);
        }
        free(rows);
        free(fences);
        total += n;
        if (n < EXPIRE_BATCH)
            break;
    }
    if (total)
        sr_log(SR_LOG_INFO, "engine", "%zu queued job(s) expired (--queue-max-age)", total);
}

/* ---- /info ---- */

json_t *
sr_engine_cluster_info(sr_engine *eng)
{
    if (!eng->cluster)
        return NULL;
    struct sr_daemon_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    int64_t since = sr_now_ms() - 2 * sr_engine__lease_ms(eng);
    if (sr_store_daemons(eng->store, since, SR_MAX_PAGE, &rows, &n, &e) != SR_OK) {
        sr_log(SR_LOG_WARN, "engine", "listing the cluster's daemons: %s", e.msg);
        return NULL;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        char started[32], beat[32];
        sr_time_rfc3339(rows[i].started_at_ms, started);
        sr_time_rfc3339(rows[i].heartbeat_at_ms, beat);
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "id", rows[i].id,
                            "worker_public_key", rows[i].public_key, "measurement",
                            rows[i].measurement, "version", rows[i].version, "started_at", started,
                            "heartbeat_at", beat, "self", strcmp(rows[i].id, eng->holder) == 0));
    }
    free(rows);
    return list ? json_pack("{s:s, s:s, s:I, s:o}", "store", "postgres", "daemon", eng->holder,
                            "lease_ms", (json_int_t)sr_engine__lease_ms(eng), "daemons", list)
                : NULL;
}
