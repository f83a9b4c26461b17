/* SPDX-License-Identifier: MIT
 *
 * server_lane.c - a lane: a FIFO of requests and the threads that run them.
 *
 * The I/O threads of libmicrohttpd never run the router: a complete request
 * is suspended and queued on a lane, a lane thread runs it and resumes the
 * connection. Threads start when work waits and no thread is idle (up to
 * the lane's maximum) and end after SR_SERVER_LANE_IDLE_S idle, so an idle
 * daemon holds none. The server has two lanes (server.c): one for requests
 * whose token is known to be valid, one for everything else.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "sealrun/sr_log.h"

struct sr_server__lane {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a task was queued, or the lane stops */
    pthread_cond_t done; /* a thread ended */
    struct sr_server__task *head, *tail;
    size_t queued;    /* tasks in the queue */
    unsigned threads; /* started and not yet ended */
    unsigned idle;    /* of those, waiting for work */
    unsigned max;
    bool stopping;
};

sr_status
sr_server__lane_new(unsigned max_threads, sr_server__lane **out, sr_err *err)
{
    sr_server__lane *l = calloc(1, sizeof(*l));
    if (!l)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating a request lane");
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&l->done, NULL);
    l->max = max_threads ? max_threads : 1;
    *out = l;
    return SR_OK;
}

/* Waits for a task; NULL when the thread should end. Lock held. */
static struct sr_server__task *
next_task(sr_server__lane *l)
{
    while (!l->head && !l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += SR_SERVER_LANE_IDLE_S;
        l->idle++;
        int rc = pthread_cond_timedwait(&l->work, &l->lock, &until);
        l->idle--;
        if (rc == ETIMEDOUT && !l->head)
            return NULL;
    }
    struct sr_server__task *t = l->head;
    if (t) {
        l->head = t->next;
        if (!l->head)
            l->tail = NULL;
        l->queued--;
    }
    return t;
}

static void *
lane_main(void *arg)
{
    sr_server__lane *l = arg;
    pthread_mutex_lock(&l->lock);
    struct sr_server__task *t;
    while ((t = next_task(l)) != NULL) {
        pthread_mutex_unlock(&l->lock);
        t->run(t);
        pthread_mutex_lock(&l->lock);
    }
    l->threads--;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Lock held. */
static bool
start_thread(sr_server__lane *l)
{
    pthread_attr_t a;
    pthread_t tid;
    if (pthread_attr_init(&a) != 0)
        return false;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &a, lane_main, l);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        sr_log(SR_LOG_WARN, "http", "cannot start a request thread (%d running): error %d",
               l->threads, rc);
        return false;
    }
    l->threads++;
    return true;
}

bool
sr_server__lane_push(sr_server__lane *l, struct sr_server__task *t)
{
    pthread_mutex_lock(&l->lock);
    if (l->stopping) {
        pthread_mutex_unlock(&l->lock);
        return false;
    }
    if (l->queued + 1 > l->idle && l->threads < l->max && !start_thread(l) && l->threads == 0) {
        pthread_mutex_unlock(&l->lock);
        return false;
    }
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    l->queued++;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->lock);
    return true;
}

void
sr_server__lane_stop(sr_server__lane *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->work);
    /* Threads end only once the queue is empty, so this also waits for the
     * queued tasks. */
    while (l->threads > 0)
        pthread_cond_wait(&l->done, &l->lock);
    pthread_mutex_unlock(&l->lock);
}

void
sr_server__lane_free(sr_server__lane *l)
{
    if (!l)
        return;
    sr_server__lane_stop(l);
    pthread_cond_destroy(&l->work);
    pthread_cond_destroy(&l->done);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
