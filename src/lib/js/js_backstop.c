/* SPDX-License-Identifier: MIT
 *
 * js_backstop.c - the CPU backstop of a job process: a thread that ends the
 * process with SIGXCPU (or, as a PID namespace's init, with exit status
 * SR_JS_BACKSTOP_EXIT_STATUS) when the guest's CPU time passes the job's
 * budget by more than SR_JS_BACKSTOP_GRACE_US.
 *
 * JavaScriptCore's watchdog (js.c) measures CPU from each outermost VM
 * entry, and JSC 2.50 runs every microtask as its own entry: a chain of
 * promise jobs that each take microseconds restarts the watchdog's clock
 * forever and ran until the wall clock (issue 9 item 12, the same class as
 * WebAssembly called from JS). A single RegExp match and some long C++ loops
 * (Array.prototype.join over holes) do not poll it either. Nothing in JSC's
 * API can interrupt those, so this thread ends the process instead; the
 * engine reports a JS job process ended either way as GAS_EXHAUSTED.
 *
 * The thread sleeps on a condition variable while no job is armed; while one
 * is, it reads the job thread's CPU clock at most every
 * SR_JS_BACKSTOP_PERIOD_US of wall time (CPU cannot advance faster than wall
 * time on one thread, so it never sleeps past the deadline by more than one
 * period). Only system calls the job process's seccomp policy allows.
 */
#include "js_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Wall time between two readings of the job thread's CPU clock. */
#define SR_JS_BACKSTOP_PERIOD_US 10000

struct sr_js__backstop {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    clockid_t clock;     /* CPU clock of the thread running the armed job */
    int64_t deadline_ns; /* on 'clock'; 0 = no job armed. Under lock. */
    bool quit;           /* under lock */
};

static int64_t
clock_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Ends the process the way the supervisor recognises as a CPU overrun. */
static void
overrun(void)
{
    sigset_t set;
    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGXCPU);
    (void)pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    (void)signal(SIGXCPU, SIG_DFL);
    (void)raise(SIGXCPU);
    /* still here: the process is the init of a PID namespace, whose own
     * default-action signals the kernel drops */
    _exit(SR_JS_BACKSTOP_EXIT_STATUS);
}

static void *
backstop_main(void *arg)
{
    struct sr_js__backstop *b = arg;
    (void)pthread_mutex_lock(&b->lock);
    while (!b->quit) {
        if (b->deadline_ns == 0) {
            (void)pthread_cond_wait(&b->cond, &b->lock);
            continue;
        }
        int64_t used = clock_ns(b->clock);
        if (used >= b->deadline_ns)
            overrun();
        int64_t wait_ns = SR_JS_BACKSTOP_PERIOD_US * 1000;
        if (used >= 0 && b->deadline_ns - used < wait_ns)
            wait_ns = b->deadline_ns - used;
        int64_t now = clock_ns(CLOCK_MONOTONIC) + wait_ns;
        struct timespec until = {.tv_sec = (time_t)(now / 1000000000),
                                 .tv_nsec = (long)(now % 1000000000)};
        (void)pthread_cond_timedwait(&b->cond, &b->lock, &until);
    }
    (void)pthread_mutex_unlock(&b->lock);
    return NULL;
}

sr_status
sr_js__backstop_new(struct sr_js__backstop **out, sr_err *err)
{
    struct sr_js__backstop *b = calloc(1, sizeof(*b));
    if (!b)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting the CPU backstop");
    pthread_condattr_t ca;
    bool ok = pthread_mutex_init(&b->lock, NULL) == 0;
    ok = ok && pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&b->cond, &ca) == 0;
    if (!ok) {
        free(b);
        return sr_err_set(err, SR_ENOMEM, "cannot create the CPU backstop's locks");
    }
    (void)pthread_condattr_destroy(&ca);
    int rc = pthread_create(&b->thread, NULL, backstop_main, b);
    if (rc != 0) {
        (void)pthread_cond_destroy(&b->cond);
        (void)pthread_mutex_destroy(&b->lock);
        free(b);
        return sr_err_set(err, SR_ENOMEM, "cannot start the CPU backstop thread: %s", strerror(rc));
    }
    *out = b;
    return SR_OK;
}

void
sr_js__backstop_free(struct sr_js__backstop *b)
{
    if (!b)
        return;
    (void)pthread_mutex_lock(&b->lock);
    b->quit = true;
    (void)pthread_cond_signal(&b->cond);
    (void)pthread_mutex_unlock(&b->lock);
    (void)pthread_join(b->thread, NULL);
    (void)pthread_cond_destroy(&b->cond);
    (void)pthread_mutex_destroy(&b->lock);
    free(b);
}

void
sr_js__backstop_arm(struct sr_js__backstop *b, uint64_t budget_us)
{
    if (!b || !budget_us)
        return;
    clockid_t c;
    if (pthread_getcpuclockid(pthread_self(), &c) != 0)
        return;
    int64_t now = clock_ns(c);
    if (now < 0)
        return;
    (void)pthread_mutex_lock(&b->lock);
    b->clock = c;
    b->deadline_ns = now + (int64_t)(budget_us + SR_JS_BACKSTOP_GRACE_US) * 1000;
    (void)pthread_cond_signal(&b->cond);
    (void)pthread_mutex_unlock(&b->lock);
}

void
sr_js__backstop_disarm(struct sr_js__backstop *b)
{
    if (!b)
        return;
    (void)pthread_mutex_lock(&b->lock);
    b->deadline_ns = 0;
    (void)pthread_mutex_unlock(&b->lock);
}
