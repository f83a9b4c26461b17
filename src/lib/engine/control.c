/* SPDX-License-Identifier: MIT
 *
 * control.c - job control: cancel (POST /jobs/{id}/cancel) and the queue's
 * maximum age (--queue-max-age), docs/accounts.md#cancel.
 *
 * On the embedded store, every job a cancel can reach has a struct job_ctl
 * in eng->ctls from the moment it leaves the queue (an async worker took
 * it) until its end is stored. A cancel sets it and
 * fires its sandbox cancel, which the supervisor polls with the job
 * process's socket: the process is killed at once and the run ends
 * CANCELLED, recorded as every other ending is. A queued job is taken out of the queue and ended
 * without running.
 *
 * On a cluster the store decides (cluster.c): the cancelling daemon takes
 * the job in the store under a lease of its own and ends it; the daemon
 * that ran it sees its next renewal refused and kills the process (its
 * own end is then refused by the fence). Expired queued jobs end the same
 * way, each taken once in the store.
 *
 * Both end through sr_engine__record_failure or the run's own end, so
 * every job has exactly one end with one receipt.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define CANCEL_WAIT_S 10 /* a cancel waits this long for a killed run's end to be stored */

const char sr_engine__cancelled_queued_msg[] =
    "cancelled by its owner before it started; it did not run";
const char sr_engine__cancelled_running_msg[] =
    "cancelled by its owner while it was running: its job process was killed and nothing it "
    "did was kept";

/* ---- the ctl list ---- */

static struct job_ctl *
ctl_find_locked(sr_engine *eng, const char *id)
{
    for (struct job_ctl *c = eng->ctls; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

void
sr_engine__ctl_add_locked(sr_engine *eng, struct job_ctl *c, const char *id, const char *owner)
{
    (void)snprintf(c->id, sizeof(c->id), "%s", id);
    (void)snprintf(c->owner, sizeof(c->owner), "%s", owner);
    c->cancelled = false;
    c->cancel = NULL;
    sr_err e = {0};
    if (sr_sandbox_cancel_new(&c->cancel, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine",
               "job '%s' runs without a cancel (%s): a cancel waits for its "
               "end",
               id, e.msg);
    c->next = eng->ctls;
    eng->ctls = c;
}

void
sr_engine__ctl_add(sr_engine *eng, struct job_ctl *c, const char *id, const char *owner)
{
    pthread_mutex_lock(&eng->mu);
    sr_engine__ctl_add_locked(eng, c, id, owner);
    pthread_mutex_unlock(&eng->mu);
}

void
sr_engine__ctl_remove(sr_engine *eng, struct job_ctl *c)
{
    pthread_mutex_lock(&eng->mu);
    for (struct job_ctl **p = &eng->ctls; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_cond_broadcast(&eng->ctl_cv);
    pthread_mutex_unlock(&eng->mu);
    sr_sandbox_cancel_free(c->cancel);
    c->cancel = NULL;
}

bool
sr_engine__ctl_cancel_locked(sr_engine *eng, const char *id, const char *owner)
{
    struct job_ctl *c = ctl_find_locked(eng, id);
    if (!c || (owner && strcmp(c->owner, owner) != 0))
        return false;
    c->cancelled = true;
    sr_sandbox_cancel_fire(c->cancel);
    return true;
}

sr_sandbox_cancel *
sr_engine__ctl_cancel_of(sr_engine *eng, const char *id)
{
    pthread_mutex_lock(&eng->mu);
    struct job_ctl *c = ctl_find_locked(eng, id);
    sr_sandbox_cancel *x = c ? c->cancel : NULL;
    pthread_mutex_unlock(&eng->mu);
    return x;
}

/* ---- cancel ---- */

/* Waits (eng->mu held) until job 'id' has left the ctl list: its end is
 * stored. Bounded: a run still waiting for a job process is reported as
 * it is then. */
static void
wait_gone_locked(sr_engine *eng, const char *id)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CANCEL_WAIT_S;
    while (!eng->stopping && ctl_find_locked(eng, id)) {
        if (pthread_cond_timedwait(&eng->ctl_cv, &eng->mu, &until) == ETIMEDOUT)
            break;
    }
}

/* The embedded store: the queue and the runs are in this process. */
static sr_status
local_cancel(sr_engine *eng, const char *owner, const char *id, sr_err *err)
{
    pthread_mutex_lock(&eng->mu);
    struct queued_job *q = sr_engine__queue_unlink_locked(eng, owner, id);
    bool running = !q && sr_engine__ctl_cancel_locked(eng, id, owner);
    if (running)
        wait_gone_locked(eng, id);
    pthread_mutex_unlock(&eng->mu);
    if (q) {
        sr_status rc =
            sr_engine__record_failure(eng, q->id, q->owner, q->created_at_ms, 0, &q->req,
                                      SR_JOB_CANCELLED, sr_engine__cancelled_queued_msg, NULL, err);
        sr_engine__queued_free(q);
        return rc == SR_OK ? SR_OK : sr_err_wrap(err, "cancelling job '%s'", id);
    }
    if (running) /* its run ended (killed, or it finished just before) */
        return SR_OK;
    struct sr_job_row r = {0};
    sr_status rc = sr_store_job_get(eng->store, owner, id, &r, err);
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    if (rc != SR_OK)
        return rc;
    enum sr_job_state s = r.state;
    sr_job_row_fini(&r);
    if (s == SR_JOB_QUEUED || s == SR_JOB_RUNNING) /* being queued, or not yet a run */
        return sr_err_set(err, SR_EBUSY,
                          "job '%s' is between the queue and its run; retry the cancel", id);
    return sr_err_set(err, SR_ECONFLICT, "job '%s' has already ended: it is %s", id,
                      sr_job_state_name(s));
}

sr_status
sr_engine_job_cancel(sr_engine *eng, const char *owner, const char *id, char **out, size_t *out_len,
                     sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    if (!sr_is_lower_hex(id, SR_ID_HEX_LEN))
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id);
    sr_status rc = eng->cluster ? sr_engine__cluster_cancel(eng, owner, id, err)
                                : local_cancel(eng, owner, id, err);
    if (rc != SR_OK)
        return rc;
    sr_log(SR_LOG_INFO, "engine", "job '%s' of '%s' cancelled", id, owner);
    return sr_engine_job_get(eng, owner, id, out, out_len, err);
}

/* ---- queue expiry ---- */

int64_t
sr_engine__queue_max_age_ms(const sr_engine *eng)
{
    if (eng->cfg.queue_max_age_ms < 0)
        return 0;
    return eng->cfg.queue_max_age_ms ? eng->cfg.queue_max_age_ms
                                     : (int64_t)SR_DEFAULT_QUEUE_MAX_AGE_S * 1000;
}

void
sr_engine__expired_msg(const sr_engine *eng, int64_t waited_ms, char *out, size_t cap)
{
    (void)snprintf(out, cap,
                   "the job waited %lld s in the queue, longer than this server keeps a job "
                   "queued (%lld s, --queue-max-age); it did not run",
                   (long long)(waited_ms / 1000),
                   (long long)(sr_engine__queue_max_age_ms(eng) / 1000));
}

void
sr_engine__expire_once(sr_engine *eng)
{
    int64_t age = sr_engine__queue_max_age_ms(eng);
    if (!age || !eng->store)
        return;
    int64_t now = sr_now_ms();
    if (eng->cluster) {
        sr_engine__cluster_expire(eng, now - age);
        return;
    }
    pthread_mutex_lock(&eng->mu);
    struct queued_job *list = sr_engine__queue_unlink_stale_locked(eng, now - age);
    pthread_mutex_unlock(&eng->mu);
    size_t n = 0;
    while (list) {
        struct queued_job *q = list;
        list = q->next;
        char msg[256];
        sr_err e = {0};
        sr_engine__expired_msg(eng, now - q->created_at_ms, msg, sizeof(msg));
        if (sr_engine__record_failure(eng, q->id, q->owner, q->created_at_ms, 0, &q->req,
                                      SR_JOB_EXPIRED, msg, NULL, &e) != SR_OK)
            sr_log(SR_LOG_ERROR, "engine", "expiring job '%s': %s", q->id, e.msg);
        else
            n++;
        sr_engine__queued_free(q);
    }
    if (n)
        sr_log(SR_LOG_INFO, "engine", "%zu queued job(s) expired (--queue-max-age)", n);
}
