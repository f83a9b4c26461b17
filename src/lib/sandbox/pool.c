/* SPDX-License-Identifier: MIT
 *
 * pool.c - the supervisor's job processes: spawning through the zygote,
 * the per-owner pool of warm processes, idle reaping and exit statuses.
 *
 * Invariant 1 lives here: a process is only ever handed to the owner it was
 * spawned for (tenant mode) or to a single job (job mode). When the daemon
 * is root and job processes have user namespaces, each live process also
 * has a uid of its own: a slot of the range, taken at spawn and given back
 * only after its SIGKILL has been sent, so two processes never run as one
 * uid. Lock order: a thread holds at most one of sb->lock and sb->ctl_lock
 * at a time; killing and closing happen outside both.
 *
 * Sections: control records, spawning, pool, reaper.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How long the zygote may take to answer a SPAWN: it only forks. */
#define SR_SPAWN_TIMEOUT_MS 10000

uint64_t
sr_sandbox__now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- control records (caller holds ctl_lock) ---- */

static void
ctl_store_exit(sr_sandbox *sb, const struct sr_ctl_msg *m)
{
    uint64_t seq = ++sb->ctl_seq;
    struct sr_exit_rec *r = &sb->exits[seq % SR_EXIT_RING];
    r->pid = m->pid;
    r->status = m->value;
    r->seq = seq;
}

/* Handles one record that is not the SPAWNED a spawner waits for. */
static void
ctl_handle_other(sr_sandbox *sb, struct sr_ctl_msg *m, const int *fds, size_t nfds)
{
    if (m->type == SR_CTL_EXITED) {
        ctl_store_exit(sb, m);
        return;
    }
    if (m->type == SR_CTL_LOG) {
        m->text[SR_CTL_TEXT - 1] = '\0';
        sr_log(m->value >= SR_LOG_DEBUG && m->value <= SR_LOG_ERROR ? (enum sr_log_level)m->value
                                                                    : SR_LOG_ERROR,
               "sandbox", "%s", m->text);
        return;
    }
    /* A SPAWNED nobody waits for (its spawner timed out): end that process. */
    if (nfds == 2)
        (void)syscall(SYS_pidfd_send_signal, fds[1], SIGKILL, NULL, 0);
    for (size_t i = 0; i < nfds; i++)
        (void)close(fds[i]);
}

/* Reads one record, waiting at most timeout_ms (-1: forever, 0: not at all).
 * SR_ELIMIT when none came. */
static sr_status
ctl_read(sr_sandbox *sb, int timeout_ms, struct sr_ctl_msg *m, int *fds, size_t *nfds, sr_err *err)
{
    if (sb->zygote_gone)
        return sr_err_set(err, SR_EIO, "the sandbox zygote is gone");
    struct pollfd pf = {.fd = sb->ctl, .events = POLLIN};
    int n = poll(&pf, 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        return sr_err_set(err, SR_EIO, "cannot poll the zygote socket: %s", strerror(errno));
    if (n <= 0)
        return sr_err_set(err, SR_ELIMIT, "no control record within %d ms", timeout_ms);
    sr_status rc = sr_sandbox__ctl_recv(sb->ctl, true, m, fds, nfds, err);
    if (rc == SR_ENOTFOUND || rc == SR_EIO) {
        sb->zygote_gone = true;
        return sr_err_set(err, SR_EIO, "the sandbox zygote is gone");
    }
    return rc;
}

/* ---- spawning ---- */

static sr_status
spawn_request(sr_sandbox *sb, struct sr_ctl_msg *m, int fds[2], sr_err *err)
{
    const struct sr_ctl_msg req = {.type = SR_CTL_SPAWN};
    uint64_t end = sr_sandbox__now_ns() + (uint64_t)SR_SPAWN_TIMEOUT_MS * 1000000u;
    sr_status rc;

    if (sb->zygote_gone)
        return sr_err_set(err, SR_EIO, "the sandbox zygote is gone");
    sr_err e = {0};
    if (sr_sandbox__ctl_send(sb->ctl, &req, NULL, 0, &e) != SR_OK) {
        sb->zygote_gone = true;
        return sr_err_set(err, SR_EIO, "the sandbox zygote is gone (%s)", e.msg);
    }
    for (;;) {
        size_t nfds = 0;
        uint64_t now = sr_sandbox__now_ns();
        int left = now >= end ? 0 : (int)((end - now) / 1000000u) + 1;
        rc = ctl_read(sb, left, m, fds, &nfds, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "waiting for a job process");
        if (m->type != SR_CTL_SPAWNED) {
            ctl_handle_other(sb, m, fds, nfds);
            continue;
        }
        if (m->value != 0 || nfds != 2) {
            for (size_t i = 0; i < nfds; i++)
                (void)close(fds[i]);
            return sr_err_set(err, SR_EIO, "the zygote cannot start a job process: %s",
                              strerror(m->value ? m->value : EPROTO));
        }
        return SR_OK;
    }
}

/* A free uid slot (caller holds sb->lock), waiting for one that a dying
 * process is about to give back; -1 when processes do not get uids of
 * their own. */
static int
take_uid_slot(sr_sandbox *sb)
{
    if (!sb->iso.privileged || !(sb->iso.job_clone & CLONE_NEWUSER) || sb->cfg.uid_count < 2)
        return -1;
    for (;;) {
        for (unsigned i = 0; i < sb->cfg.max_processes; i++) {
            if (!sb->uid_used[i]) {
                sb->uid_used[i] = true;
                return (int)i;
            }
        }
        (void)pthread_cond_wait(&sb->cond, &sb->lock);
    }
}

static void
give_uid_slot(sr_sandbox *sb, int slot)
{
    if (slot < 0)
        return;
    (void)pthread_mutex_lock(&sb->lock);
    sb->uid_used[slot] = false;
    (void)pthread_cond_broadcast(&sb->cond);
    (void)pthread_mutex_unlock(&sb->lock);
}

/* The new process's pid as the daemon sees it, its ids, and START. As
 * root, its uid and gid are mapped into its user namespace here (the
 * zygote cannot: it has no capabilities). */
static sr_status
start_proc(sr_sandbox *sb, struct sr_proc *p, sr_err *err)
{
    p->pid = p->vpid;
    if (sb->iso.zygote_clone & CLONE_NEWPID)
        p->pid = sr_sandbox__pidfd_pid(p->pidfd);
    if (p->pid <= 0)
        return sr_err_set(err, SR_EIO, "cannot learn the pid of job process %d", (int)p->vpid);
    struct sr_start_body start = {.uid = sb->zygote_uid, .gid = sb->zygote_gid};
    if (p->slot >= 0) {
        start.uid = sb->cfg.uid_first + 1 + (uint32_t)p->slot;
        start.gid = start.uid;
    }
    if (sb->iso.privileged && (sb->iso.job_clone & CLONE_NEWUSER)) {
        sr_status rc = sr_sandbox__map_ids(p->pid, start.uid, start.gid, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "giving job process %d its uid", (int)p->pid);
    }
    /* 24 bytes into an empty socket: the blocking write cannot wait */
    return sr_sandbox__frame_write(p->sock, SR_FRAME_START, 0, 0, &start, sizeof(start), err);
}

static sr_status
spawn_proc(sr_sandbox *sb, const char *owner, struct sr_proc **out, sr_err *err)
{
    struct sr_ctl_msg m;
    int fds[2] = {-1, -1};
    struct sr_proc *p = calloc(1, sizeof(*p));
    char *own = strdup(owner);

    if (!p || !own) {
        free(p);
        free(own);
        return sr_err_set(err, SR_ENOMEM, "out of memory starting a job process");
    }
    (void)pthread_mutex_lock(&sb->lock);
    int slot = take_uid_slot(sb);
    (void)pthread_mutex_unlock(&sb->lock);
    (void)pthread_mutex_lock(&sb->ctl_lock);
    sr_status rc = spawn_request(sb, &m, fds, err);
    uint64_t seq = ++sb->ctl_seq;
    (void)pthread_mutex_unlock(&sb->ctl_lock);
    if (rc != SR_OK) {
        give_uid_slot(sb, slot);
        free(p);
        free(own);
        return rc;
    }
    *p = (struct sr_proc){.vpid = m.pid,
                          .slot = slot,
                          .sock = fds[0],
                          .pidfd = fds[1],
                          .statm_fd = -1,
                          .owner = own,
                          .spawn_seq = seq,
                          .busy = true};
    rc = start_proc(sb, p, err);
    if (rc != SR_OK) {
        sr_sandbox__proc_destroy(sb, p);
        return rc;
    }
    (void)fcntl(p->sock, F_SETFL, O_NONBLOCK);
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)p->pid);
    p->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
    p->has_cpu_clock = clock_getcpuclockid(p->pid, &p->cpu_clock) == 0;
    /* If the process is already dead, /proc/PID may name a newer process. */
    struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
    if (poll(&pf, 1, 0) > 0) {
        if (p->statm_fd >= 0)
            (void)close(p->statm_fd);
        p->statm_fd = -1;
        p->has_cpu_clock = false;
    }
    *out = p;
    return SR_OK;
}

void
sr_sandbox__proc_destroy(sr_sandbox *sb, struct sr_proc *p)
{
    if (!p)
        return;
    (void)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
    give_uid_slot(sb, p->slot); /* after the kill: it can run nothing more as this uid */
    (void)close(p->sock);
    (void)close(p->pidfd);
    if (p->statm_fd >= 0)
        (void)close(p->statm_fd);
    free(p->owner);
    free(p);
}

bool
sr_sandbox__exit_status(sr_sandbox *sb, const struct sr_proc *p, int timeout_ms, int *status)
{
    uint64_t end = sr_sandbox__now_ns() + (uint64_t)timeout_ms * 1000000u;
    bool found = false;

    (void)pthread_mutex_lock(&sb->ctl_lock);
    for (;;) {
        for (size_t i = 0; i < SR_EXIT_RING && !found; i++) {
            const struct sr_exit_rec *r = &sb->exits[i];
            if (r->seq > p->spawn_seq && r->pid == p->vpid) {
                *status = r->status;
                found = true;
            }
        }
        uint64_t now = sr_sandbox__now_ns();
        if (found || now >= end)
            break;
        struct sr_ctl_msg m;
        int fds[2];
        size_t nfds = 0;
        int left = (int)((end - now) / 1000000u) + 1;
        sr_status rc = ctl_read(sb, left, &m, fds, &nfds, NULL);
        if (rc == SR_OK)
            ctl_handle_other(sb, &m, fds, nfds);
        else if (rc != SR_ELIMIT)
            break;
    }
    (void)pthread_mutex_unlock(&sb->ctl_lock);
    return found;
}

/* ---- pool (caller holds sb->lock unless said otherwise) ---- */

static void
unlink_proc(sr_sandbox *sb, struct sr_proc *p)
{
    for (struct sr_proc **pp = &sb->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->next = NULL;
            return;
        }
    }
}

/* Moves idle processes past idle_ms to *dead; they stop counting. */
static void
collect_idle(sr_sandbox *sb, uint64_t now, struct sr_proc **dead)
{
    const uint64_t idle_ns = (uint64_t)sb->cfg.idle_ms * 1000000u;
    struct sr_proc **pp = &sb->procs;

    while (*pp) {
        struct sr_proc *p = *pp;
        if (!p->busy && now - p->idle_since >= idle_ns) {
            *pp = p->next;
            p->next = *dead;
            *dead = p;
            sb->nprocs--;
            continue;
        }
        pp = &p->next;
    }
}

static struct sr_proc *
find_warm(sr_sandbox *sb, const char *owner)
{
    if (sb->cfg.isolation != SR_ISOLATION_TENANT)
        return NULL;
    for (struct sr_proc *p = sb->procs; p; p = p->next) {
        if (!p->busy && strcmp(p->owner, owner) == 0)
            return p;
    }
    return NULL;
}

static struct sr_proc *
oldest_idle(sr_sandbox *sb)
{
    struct sr_proc *best = NULL;
    for (struct sr_proc *p = sb->procs; p; p = p->next) {
        if (!p->busy && (!best || p->idle_since < best->idle_since))
            best = p;
    }
    return best;
}

static void
destroy_list(sr_sandbox *sb, struct sr_proc *p)
{
    while (p) {
        struct sr_proc *next = p->next;
        sr_sandbox__proc_destroy(sb, p);
        p = next;
    }
}

/* Reserves a slot for a new process, evicting if needed; returns the warm
 * process to use instead when one of the owner's turns up. Caller holds the
 * lock; *dead collects processes to destroy after unlocking. */
static struct sr_proc *
reserve_slot(sr_sandbox *sb, const char *owner, struct sr_proc **dead)
{
    for (;;) {
        collect_idle(sb, sr_sandbox__now_ns(), dead);
        struct sr_proc *warm = find_warm(sb, owner);
        if (warm) {
            warm->busy = true;
            return warm;
        }
        if (sb->nprocs < sb->cfg.max_processes) {
            sb->nprocs++;
            return NULL;
        }
        struct sr_proc *victim = oldest_idle(sb);
        if (victim) {
            unlink_proc(sb, victim); /* its slot passes to the new process */
            victim->next = *dead;
            *dead = victim;
            return NULL;
        }
        (void)pthread_cond_wait(&sb->cond, &sb->lock);
    }
}

sr_status
sr_sandbox__acquire(sr_sandbox *sb, const char *owner, struct sr_proc **out, sr_err *err)
{
    struct sr_proc *dead = NULL;
    struct sr_proc *p;

    (void)pthread_mutex_lock(&sb->lock);
    if (!sb->has_reaper) {
        int e = pthread_create(&sb->reaper, NULL, sr_sandbox__reaper_main, sb);
        if (e != 0) {
            (void)pthread_mutex_unlock(&sb->lock);
            return sr_err_set(err, SR_EIO, "cannot start the sandbox reaper thread: %s",
                              strerror(e));
        }
        sb->has_reaper = true;
    }
    p = reserve_slot(sb, owner, &dead);
    (void)pthread_mutex_unlock(&sb->lock);
    destroy_list(sb, dead);
    if (p) {
        *out = p;
        return SR_OK;
    }
    sr_status rc = spawn_proc(sb, owner, &p, err);
    (void)pthread_mutex_lock(&sb->lock);
    if (rc == SR_OK) {
        p->next = sb->procs;
        sb->procs = p;
    } else {
        sb->nprocs--;
        (void)pthread_cond_signal(&sb->cond);
    }
    (void)pthread_mutex_unlock(&sb->lock);
    if (rc == SR_OK)
        *out = p;
    return rc;
}

void
sr_sandbox__release(sr_sandbox *sb, struct sr_proc *p, bool discard)
{
    (void)pthread_mutex_lock(&sb->lock);
    p->busy = false;
    p->jobs++;
    if (sb->cfg.isolation == SR_ISOLATION_JOB || p->jobs >= sb->cfg.max_jobs_per_process)
        discard = true;
    if (discard) {
        unlink_proc(sb, p);
        sb->nprocs--;
    } else {
        p->idle_since = sr_sandbox__now_ns();
    }
    /* Waiters may want this process (same owner) or its slot (anyone). */
    (void)pthread_cond_broadcast(&sb->cond);
    (void)pthread_mutex_unlock(&sb->lock);
    if (discard)
        sr_sandbox__proc_destroy(sb, p);
}

/* ---- reaper ---- */

void
sr_sandbox__reap_idle(sr_sandbox *sb)
{
    struct sr_proc *dead = NULL;

    (void)pthread_mutex_lock(&sb->lock);
    collect_idle(sb, sr_sandbox__now_ns(), &dead);
    if (dead)
        (void)pthread_cond_broadcast(&sb->cond);
    (void)pthread_mutex_unlock(&sb->lock);
    destroy_list(sb, dead);

    /* Drain EXITED records so the zygote never blocks on a full socket. */
    if (pthread_mutex_trylock(&sb->ctl_lock) != 0)
        return;
    for (;;) {
        struct sr_ctl_msg m;
        int fds[2];
        size_t nfds = 0;
        if (ctl_read(sb, 0, &m, fds, &nfds, NULL) != SR_OK)
            break;
        ctl_handle_other(sb, &m, fds, nfds);
    }
    (void)pthread_mutex_unlock(&sb->ctl_lock);
}

void *
sr_sandbox__reaper_main(void *arg)
{
    sr_sandbox *sb = arg;
    unsigned period = sb->cfg.idle_ms / 4;

    if (period < 5)
        period = 5;
    if (period > 1000)
        period = 1000;
    (void)pthread_mutex_lock(&sb->lock);
    while (!sb->stopping) {
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)period * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        (void)pthread_cond_timedwait(&sb->reaper_cond, &sb->lock, &ts);
        if (sb->stopping)
            break;
        (void)pthread_mutex_unlock(&sb->lock);
        sr_sandbox__reap_idle(sb);
        (void)pthread_mutex_lock(&sb->lock);
    }
    (void)pthread_mutex_unlock(&sb->lock);
    return NULL;
}
