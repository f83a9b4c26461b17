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
 *
 * Work is handed to an idle thread directly: push takes the most recently
 * idle thread off a stack, gives it the task and posts its own semaphore, so
 * exactly that thread wakes and it does not need the lane's lock to start.
 * The lock is held only to move tasks and threads between the queue and the
 * idle stack (measured: with one condition variable for all threads, the
 * woken threads queued up on the lane's lock behind each other).
 */
#include "server_int.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>
#include "sealrun/sr_log.h"

struct worker {
    struct sr_server__lane *lane;
    sem_t wake;                   /* posted once per task handed over, and to stop */
    struct sr_server__task *task; /* handed over by push; lane lock */
    struct worker *next_idle;     /* lane lock */
    bool idle;                    /* on the idle stack; lane lock */
};

struct sr_server__lane {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a thread ended */
    struct sr_server__task *head, *tail;
    struct worker *idle; /* stack: the most recently idle thread first */
    unsigned threads;    /* started and not yet ended */
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
    pthread_cond_init(&l->done, NULL);
    l->max = max_threads ? max_threads : 1;
    *out = l;
    return SR_OK;
}

/* Lock held. */
static struct sr_server__task *
pop(sr_server__lane *l)
{
    struct sr_server__task *t = l->head;
    if (t) {
        l->head = t->next;
        if (!l->head)
            l->tail = NULL;
    }
    return t;
}

/* Lock held: takes w off the idle stack (it is on it). */
static void
unlist(sr_server__lane *l, struct worker *w)
{
    struct worker **p = &l->idle;
    while (*p != w)
        p = &(*p)->next_idle;
    *p = w->next_idle;
    w->idle = false;
}

/* Waits on the idle stack for a task. false when the thread should end:
 * idle too long, or the lane stops. Lock held on entry and on return. */
static bool
wait_for_work(sr_server__lane *l, struct worker *w)
{
    w->next_idle = l->idle;
    l->idle = w;
    w->idle = true;
    pthread_mutex_unlock(&l->lock);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += SR_SERVER_LANE_IDLE_S;
    int rc;
    while ((rc = sem_clockwait(&w->wake, CLOCK_MONOTONIC, &until)) != 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&l->lock);
    if (rc == 0)
        return w->task != NULL;
    if (w->idle) { /* timed out and nobody chose this thread meanwhile */
        unlist(l, w);
        return false;
    }
    /* Chosen just as the wait ended: take the post that goes with it. */
    pthread_mutex_unlock(&l->lock);
    while (sem_wait(&w->wake) != 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&l->lock);
    return w->task != NULL;
}

static void *
lane_main(void *arg)
{
    struct worker *w = arg;
    sr_server__lane *l = w->lane;
    for (;;) {
        struct sr_server__task *t = w->task;
        w->task = NULL;
        if (t)
            t->run(t);
        pthread_mutex_lock(&l->lock);
        w->task = pop(l);
        if (!w->task && (l->stopping || !wait_for_work(l, w)))
            break;
        pthread_mutex_unlock(&l->lock);
    }
    l->threads--;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
    sem_destroy(&w->wake);
    free(w);
    return NULL;
}

/* Starts a thread that runs t first. Lock held. */
static bool
start_thread(sr_server__lane *l, struct sr_server__task *t)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return false;
    w->lane = l;
    w->task = t;
    sem_init(&w->wake, 0, 0);
    pthread_attr_t a;
    pthread_t tid;
    int rc = pthread_attr_init(&a);
    if (rc == 0) {
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&tid, &a, lane_main, w);
        pthread_attr_destroy(&a);
    }
    if (rc != 0) {
        sr_log(SR_LOG_WARN, "http", "cannot start a request thread (%u running): error %d",
               l->threads, rc);
        sem_destroy(&w->wake);
        free(w);
        return false;
    }
    l->threads++;
    return true;
}

bool
sr_server__lane_push(sr_server__lane *l, struct sr_server__task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&l->lock);
    if (l->stopping) {
        pthread_mutex_unlock(&l->lock);
        return false;
    }
    struct worker *w = l->idle;
    if (w) {
        l->idle = w->next_idle;
        w->idle = false;
        w->task = t;
        pthread_mutex_unlock(&l->lock);
        sem_post(&w->wake);
        return true;
    }
    if (l->threads < l->max && start_thread(l, t)) {
        pthread_mutex_unlock(&l->lock);
        return true;
    }
    bool queued = l->threads > 0; /* else nobody would ever run it */
    if (queued) {
        if (l->tail)
            l->tail->next = t;
        else
            l->head = t;
        l->tail = t;
    }
    pthread_mutex_unlock(&l->lock);
    return queued;
}

void
sr_server__lane_stop(sr_server__lane *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    while (l->idle) {
        struct worker *w = l->idle;
        l->idle = w->next_idle;
        w->idle = false;
        sem_post(&w->wake); /* no task: it ends */
    }
    /* Busy threads run what is queued before they end. */
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
    pthread_cond_destroy(&l->done);
    pthread_mutex_destroy(&l->lock);
    free(l);
}
