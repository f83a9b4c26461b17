/* SPDX-License-Identifier: MIT
 *
 * supervisor.c - the daemon side of the sandbox: starting the zygote and
 * running one job in a job process under a wall clock and a memory watch.
 *
 * Start: the zygote is created in namespaces of its own where the kernel
 * allows (as root: PID, network, mount, IPC, UTS; as an ordinary user: a
 * user namespace as well, which the others need); sr_sandbox_new() waits
 * for its READY and starts it again without namespaces if it could not
 * set them up. A zygote that cannot give up root is an error, never a
 * fallback.
 *
 * A job is an exchange of frames on the process's socket: JOB out, any
 * number of HOSTCALL in / HOSTREPLY out and LOG in, then RESULT in. LOG
 * lines go to the daemon's log with the job's label and pid, at most
 * SR_MAX_SANDBOX_LOG_LINES per job (the rest are counted). While waiting, the
 * supervisor polls with the time left, samples the process's RSS from
 * /proc/PID/statm every SR_SAMPLE_MS and its CPU clock, and SIGKILLs it (via
 * its pidfd) at the deadline, the memory cap, or when the run's cancel is
 * fired (the daemon lost the job). Anything the child sends
 * that breaks the protocol kills it. The caller's thread never blocks past
 * the deadline on the child and never gets SIGPIPE (MSG_NOSIGNAL).
 *
 * Sections: lifecycle, measurements, frame I/O, the exchange, sr_sandbox_run.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealrun/sr_limits.h"

/* Memory (and CPU) sampling period while a job runs: cheap (one pread of
 * statm) and short enough that a memory bomb overshoots by little. */
#define SR_SAMPLE_MS 5
/* How long to wait for the zygote's report on a process that died. */
#define SR_EXIT_REPORT_MS 2000
/* How long the zygote may take to start (isolate itself, probe once). */
#define SR_READY_TIMEOUT_MS 10000

/* ---- lifecycle ---- */

/* Locks only: the reaper thread starts with the first job (pool.c), so a
 * program may create several sandboxes before it has any thread. */
static sr_status
sandbox_locks(sr_sandbox *sb, sr_err *err)
{
    pthread_condattr_t ca;

    if (pthread_mutex_init(&sb->lock, NULL) != 0 || pthread_mutex_init(&sb->ctl_lock, NULL) != 0 ||
        pthread_cond_init(&sb->cond, NULL) != 0 || pthread_condattr_init(&ca) != 0)
        return sr_err_set(err, SR_ENOMEM, "cannot create the sandbox locks");
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&sb->reaper_cond, &ca);
    (void)pthread_condattr_destroy(&ca);
    if (rc != 0)
        return sr_err_set(err, SR_ENOMEM, "cannot create the sandbox locks");
    sb->has_locks = true;
    return SR_OK;
}

static sr_status
sandbox_fork_zygote(sr_sandbox *sb, uint64_t flags, sr_err *err)
{
    int sv[2];
    pid_t parent = getpid();
    int pidfd = -1;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return sr_err_set(err, SR_EIO, "cannot create the zygote socket: %s", strerror(errno));
    sb->iso.zygote_clone = flags;
    sb->iso.outer_uid = (uint32_t)geteuid();
    sb->iso.outer_gid = (uint32_t)getegid();
    pid_t pid = sr_sandbox__clone(flags, &pidfd);
    if (pid < 0 && flags) {
        sr_log(SR_LOG_WARN, "sandbox", "the zygote gets no namespaces of its own: clone3: %s",
               strerror(errno));
        sb->iso.zygote_clone = 0;
        pid = sr_sandbox__clone(0, &pidfd);
    }
    if (pid == 0) {
        (void)close(sv[0]);
        sr_sandbox__zygote_main(&sb->cfg, &sb->iso, sv[1], parent);
    }
    (void)close(sv[1]);
    if (pid < 0) {
        (void)close(sv[0]);
        return sr_err_set(err, SR_EIO, "cannot fork the sandbox zygote: %s", strerror(errno));
    }
    sb->ctl = sv[0];
    sb->zpid = pid;
    sb->zpidfd = pidfd >= 0 ? pidfd : (int)syscall(SYS_pidfd_open, pid, 0);
    if (sb->zpidfd < 0)
        return sr_err_set(err, SR_EIO, "cannot open a pidfd for the zygote: %s", strerror(errno));
    return SR_OK;
}

/* Ends a zygote that did not become ready. */
static void
sandbox_stop_zygote(sr_sandbox *sb)
{
    if (sb->zpidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, sb->zpidfd, SIGKILL, NULL, 0);
    if (sb->zpid > 0)
        while (waitpid(sb->zpid, NULL, 0) < 0 && errno == EINTR)
            ;
    if (sb->zpidfd >= 0)
        (void)close(sb->zpidfd);
    if (sb->ctl >= 0)
        (void)close(sb->ctl);
    sb->zpid = 0;
    sb->zpidfd = -1;
    sb->ctl = -1;
}

/* A LOG record from the zygote: its text is ours, but capped and ended. */
static void
zygote_log_line(struct sr_ctl_msg *m)
{
    m->text[SR_CTL_TEXT - 1] = '\0';
    enum sr_log_level lvl = m->value >= SR_LOG_DEBUG && m->value <= SR_LOG_ERROR
                                ? (enum sr_log_level)m->value
                                : SR_LOG_ERROR;
    sr_log(lvl, "sandbox", "%s", m->text);
}

/* Takes in the READY record: what the zygote and its job processes got. */
static void
sandbox_take_ready(sr_sandbox *sb, const struct sr_ctl_msg *m)
{
    sb->ready = m->flags;
    sb->zygote_uid = (uint32_t)m->pid;
    sb->zygote_gid = (uint32_t)m->value;
    sb->iso.job_clone = (m->flags >> SR_PROT_JOB_NS_SHIFT) & SR_SANDBOX_NS_USER ? SR_CLONE_JOB : 0;
}

/* Waits for READY; *retry when the zygote says one without namespaces may
 * work. */
static sr_status
sandbox_await_ready(sr_sandbox *sb, bool *retry, sr_err *err)
{
    uint64_t end = sr_sandbox__now_ns() + (uint64_t)SR_READY_TIMEOUT_MS * 1000000u;

    *retry = false;
    for (;;) {
        uint64_t now = sr_sandbox__now_ns();
        if (now >= end)
            return sr_err_set(err, SR_EIO, "the sandbox zygote did not start within %d ms",
                              SR_READY_TIMEOUT_MS);
        struct pollfd pf[2] = {{.fd = sb->ctl, .events = POLLIN},
                               {.fd = sb->zpidfd, .events = POLLIN}};
        if (poll(pf, 2, (int)((end - now) / 1000000u) + 1) < 0 && errno != EINTR)
            return sr_err_set(err, SR_EIO, "cannot poll the zygote socket: %s", strerror(errno));
        struct sr_ctl_msg m;
        sr_status rc = SR_ELIMIT;
        if (pf[0].revents)
            rc = sr_sandbox__ctl_recv(sb->ctl, true, &m, NULL, NULL, NULL);
        if (rc == SR_OK && m.type == SR_CTL_LOG) {
            zygote_log_line(&m);
        } else if (rc == SR_OK && m.type == SR_CTL_READY) {
            sandbox_take_ready(sb, &m);
            return SR_OK;
        } else if (rc == SR_OK && m.type == SR_CTL_FAILED) {
            m.text[SR_CTL_TEXT - 1] = '\0';
            *retry = (m.flags & SR_PROT_RETRY) != 0;
            return sr_err_set(err, SR_EIO, "%s", m.text);
        } else if (rc != SR_OK && (rc != SR_ELIMIT || pf[1].revents)) {
            int st = 0;
            char how[128];
            (void)waitpid(sb->zpid, &st, WNOHANG);
            (void)sr_sandbox__describe_status(st, how, sizeof(how));
            return sr_err_set(err, SR_EIO, "the sandbox zygote ended before it was ready: %s", how);
        }
    }
}

/* As root the zygote makes its namespaces itself; an ordinary user needs a
 * user namespace for them. A zygote that could not set up its namespaces
 * is started again without (a sandbox must run where the kernel refuses). */
static sr_status
sandbox_start_zygote(sr_sandbox *sb, sr_err *err)
{
    uint64_t flags = SR_CLONE_ZYGOTE | (sb->iso.privileged ? 0 : CLONE_NEWUSER);
    if (sb->iso.no_namespaces)
        flags = 0;
    for (;;) {
        bool retry = false;
        sr_status rc = sandbox_fork_zygote(sb, flags, err);
        if (rc == SR_OK)
            rc = sandbox_await_ready(sb, &retry, err);
        if (rc == SR_OK || !retry || !sb->iso.zygote_clone)
            return rc;
        sr_log(SR_LOG_WARN, "sandbox", "starting the zygote without namespaces: %s", err->msg);
        sandbox_stop_zygote(sb);
        flags = 0;
    }
}

/* Fills in the defaults and checks the uid range. */
static sr_status
sandbox_defaults(sr_sandbox *sb, sr_err *err)
{
    struct sr_sandbox_config *c = &sb->cfg;

    if (!c->max_jobs_per_process)
        c->max_jobs_per_process = 256;
    if (!c->idle_ms)
        c->idle_ms = 30000;
    if (!c->max_processes)
        c->max_processes = 64;
    if (!c->uid_first)
        c->uid_first = SR_SANDBOX_UID_FIRST;
    if (!c->uid_count)
        c->uid_count = c->max_processes + 1;
    if (c->uid_count != 1 && c->uid_count < c->max_processes + 1)
        return sr_err_set(err, SR_EINVAL,
                          "the sandbox uid range needs one uid for the zygote and one for each "
                          "of %u job processes, got %u uids",
                          c->max_processes, c->uid_count);
    if ((uint64_t)c->uid_first + c->uid_count - 1 >= UINT32_MAX)
        return sr_err_set(err, SR_EINVAL, "the sandbox uid range %u + %u passes uid 4294967294",
                          c->uid_first, c->uid_count);
    sb->uid_used = calloc(c->max_processes, sizeof(*sb->uid_used));
    if (!sb->uid_used)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the sandbox");
    sb->iso.privileged = geteuid() == 0;
    sb->iso.uid_first = c->uid_first;
    sb->iso.no_namespaces = c->no_namespaces;
    return SR_OK;
}

sr_status
sr_sandbox_new(const struct sr_sandbox_config *cfg, sr_sandbox **out, sr_err *err)
{
    if (!cfg || !cfg->job_fn)
        return sr_err_set(err, SR_EINVAL, "sandbox configuration needs a job_fn");
    if (cfg->isolation != SR_ISOLATION_TENANT && cfg->isolation != SR_ISOLATION_JOB)
        return sr_err_set(err, SR_EINVAL, "isolation must be 'tenant' or 'job', got %d",
                          (int)cfg->isolation);
    sr_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the sandbox");
    sb->cfg = *cfg;
    sb->page_size = sysconf(_SC_PAGESIZE);
    sb->ctl = -1;
    sb->zpidfd = -1;
    sr_status rc = sandbox_defaults(sb, err);
    if (rc == SR_OK)
        rc = sandbox_start_zygote(sb, err);
    if (rc == SR_OK)
        rc = sandbox_locks(sb, err);
    if (rc != SR_OK) {
        sr_sandbox_free(sb);
        return sr_err_wrap(err, "starting the sandbox");
    }
    *out = sb;
    return SR_OK;
}

void
sr_sandbox_free(sr_sandbox *sb)
{
    if (!sb)
        return;
    if (sb->has_reaper) {
        (void)pthread_mutex_lock(&sb->lock);
        sb->stopping = true;
        (void)pthread_cond_signal(&sb->reaper_cond);
        (void)pthread_mutex_unlock(&sb->lock);
        (void)pthread_join(sb->reaper, NULL);
    }
    while (sb->procs) {
        struct sr_proc *p = sb->procs;
        sb->procs = p->next;
        sr_sandbox__proc_destroy(sb, p);
    }
    if (sb->has_locks) {
        (void)pthread_cond_destroy(&sb->reaper_cond);
        (void)pthread_cond_destroy(&sb->cond);
        (void)pthread_mutex_destroy(&sb->lock);
        (void)pthread_mutex_destroy(&sb->ctl_lock);
    }
    if (sb->ctl >= 0)
        (void)close(sb->ctl); /* the zygote sees EOF and exits */
    if (sb->zpid > 0) {
        if (sb->zpidfd >= 0)
            (void)syscall(SYS_pidfd_send_signal, sb->zpidfd, SIGKILL, NULL, 0);
        while (waitpid(sb->zpid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (sb->zpidfd >= 0)
        (void)close(sb->zpidfd);
    free(sb->uid_used);
    free(sb);
}

/* ---- protections ---- */

void
sr_sandbox_protections(const sr_sandbox *sb, struct sr_sandbox_protections *out)
{
    const unsigned job_ns = (sb->ready >> SR_PROT_JOB_NS_SHIFT) & 0xffu;
    const bool own_uids =
        sb->iso.privileged && (job_ns & SR_SANDBOX_NS_USER) && sb->cfg.uid_count > 1;

    *out = (struct sr_sandbox_protections){
        .zygote_uid = sb->zygote_uid,
        .job_uid_first = own_uids ? sb->cfg.uid_first + 1 : sb->zygote_uid,
        .job_uid_count = own_uids ? sb->cfg.uid_count - 1 : 1,
        .zygote_ns = (sb->ready >> SR_PROT_ZYGOTE_NS_SHIFT) & 0xffu,
        .job_ns = job_ns,
        .empty_root = (sb->ready & (SR_PROT_JOB_ROOT | SR_PROT_ZYGOTE_ROOT)) != 0,
        .bounding_cleared = (sb->ready & SR_PROT_BOUNDING) != 0,
    };
}

/* "pid, net and mount" from SR_SANDBOX_NS_* bits; "" for none. */
static void
ns_names(unsigned ns, char *out, size_t cap)
{
    static const char *const names[] = {"user", "pid", "net", "mount", "ipc", "uts"};
    unsigned n = (unsigned)__builtin_popcount(ns & 0x3fu), k = 0;
    size_t len = 0;

    out[0] = '\0';
    for (unsigned i = 0; i < 6 && len < cap; i++) {
        if (!(ns & (1u << i)))
            continue;
        k++;
        const char *sep = k == 1 ? "" : k == n ? " and " : ", ";
        int w = snprintf(out + len, cap - len, "%s%s", sep, names[i]);
        len += w > 0 ? (size_t)w : 0;
    }
}

char *
sr_sandbox_protections_describe(const struct sr_sandbox_protections *p, char *out, size_t cap)
{
    char zns[64], jns[64], uids[48];

    ns_names(p->zygote_ns, zns, sizeof(zns));
    ns_names(p->job_ns, jns, sizeof(jns));
    if (p->job_uid_count > 1)
        (void)snprintf(uids, sizeof(uids), "uids %u-%u, one each", p->job_uid_first,
                       p->job_uid_first + p->job_uid_count - 1);
    else
        (void)snprintf(uids, sizeof(uids), "uid %u", p->job_uid_first);
    (void)snprintf(out, cap,
                   "zygote: uid %u, %s%s namespaces; job processes: %s, %s%s namespaces of their "
                   "own, %s; no capabilities%s; no environment; stdio on /dev/null; seccomp",
                   p->zygote_uid, p->zygote_ns ? "own " : "the daemon's", p->zygote_ns ? zns : "",
                   uids, p->job_ns ? "" : "no", p->job_ns ? jns : "",
                   p->empty_root ? "an empty read-only root" : "the host's files in view",
                   p->bounding_cleared ? ", empty bounding set" : " (bounding set kept)");
    return out;
}

bool
sr_sandbox_alive(sr_sandbox *sb)
{
    if (!sb || sb->zpidfd < 0)
        return false;
    struct pollfd pf = {.fd = sb->zpidfd, .events = POLLIN};
    return poll(&pf, 1, 0) == 0;
}

unsigned
sr_sandbox_process_count(sr_sandbox *sb)
{
    unsigned n = 0;

    if (!sb)
        return 0;
    (void)pthread_mutex_lock(&sb->lock);
    for (const struct sr_proc *p = sb->procs; p; p = p->next)
        n++;
    (void)pthread_mutex_unlock(&sb->lock);
    return n;
}

void
sr_sandbox_process_states(sr_sandbox *sb, unsigned *busy, unsigned *warm)
{
    *busy = *warm = 0;
    if (!sb)
        return;
    (void)pthread_mutex_lock(&sb->lock);
    for (const struct sr_proc *p = sb->procs; p; p = p->next) {
        if (p->busy)
            (*busy)++;
        else
            (*warm)++;
    }
    (void)pthread_mutex_unlock(&sb->lock);
}

/* ---- measurements ---- */

/* One job in flight: the process, the limits and the frame being read. */
struct job_run {
    sr_sandbox *sb;
    struct sr_proc *p;
    const struct sr_sandbox_limits *lim;
    sr_buf *resp;
    struct sr_sandbox_report *rep;
    uint64_t t0;       /* ns */
    uint64_t deadline; /* ns */
    uint64_t cpu0;     /* ns of process CPU time when the job started */
    uint64_t cpu_last; /* ns, last successful reading */
    struct sr_frame_hdr h;
    size_t hgot; /* header bytes read */
    size_t bgot; /* body bytes read */
    sr_buf *dst; /* where the body goes: resp or aux */
    sr_buf aux;  /* HOSTCALL request, LOG line or RESULT error message (secure) */
    bool child_discard;
    unsigned logs;         /* LOG lines written to the daemon's log for this job */
    unsigned logs_dropped; /* and those past SR_MAX_SANDBOX_LOG_LINES */
};

static void
sample_cpu(struct job_run *r)
{
    struct timespec ts;
    if (r->p->has_cpu_clock && clock_gettime(r->p->cpu_clock, &ts) == 0)
        r->cpu_last = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Samples RSS and CPU; returns true when the RSS is over the cap. */
static bool
sample(struct job_run *r)
{
    char buf[128];

    sample_cpu(r);
    if (r->p->statm_fd < 0)
        return false;
    ssize_t n = pread(r->p->statm_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *end = NULL;
    (void)strtoull(buf, &end, 10); /* total program size */
    uint64_t rss = strtoull(end, NULL, 10) * (uint64_t)r->sb->page_size;
    if (rss > r->rep->peak_rss)
        r->rep->peak_rss = rss;
    return r->lim->memory_bytes && rss > r->lim->memory_bytes;
}

/* ---- cancels ---- */

struct sr_sandbox_cancel {
    int fd; /* eventfd: readable once fired */
};

sr_status
sr_sandbox_cancel_new(sr_sandbox_cancel **out, sr_err *err)
{
    sr_sandbox_cancel *c = calloc(1, sizeof(*c));
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "out of memory making a cancel");
    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0) {
        int e = errno;
        free(c);
        return sr_err_set(err, SR_EIO, "cannot make a cancel (eventfd): %s", strerror(e));
    }
    *out = c;
    return SR_OK;
}

void
sr_sandbox_cancel_free(sr_sandbox_cancel *c)
{
    if (!c)
        return;
    (void)close(c->fd);
    free(c);
}

void
sr_sandbox_cancel_fire(sr_sandbox_cancel *c)
{
    uint64_t one = 1;
    if (c)
        (void)!write(c->fd, &one, sizeof(one));
}

bool
sr_sandbox_cancel_fired(const sr_sandbox_cancel *c)
{
    struct pollfd pf = {.fd = c ? c->fd : -1, .events = POLLIN};
    return c && poll(&pf, 1, 0) > 0;
}

static void
kill_proc(struct job_run *r)
{
    sample_cpu(r);
    (void)syscall(SYS_pidfd_send_signal, r->p->pidfd, SIGKILL, NULL, 0);
}

/* ---- frame I/O ---- */

enum step { STEP_MORE, STEP_FRAME, STEP_EOF, STEP_BAD, STEP_TIMEOUT };

/* Writes a whole frame before the deadline. STEP_FRAME when sent. */
static enum step
send_frame_fd(struct job_run *r, uint32_t type, uint32_t status, const void *body, size_t len,
              int fd)
{
    struct sr_frame_hdr h = {.type = type, .status = status, .len = (uint32_t)len};
    struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
                           {.iov_base = (void *)(uintptr_t)body, .iov_len = len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    if (fd >= 0) { /* with the first byte: the receiver takes it with the header */
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    }

    while (mh.msg_iovlen > 0) {
        ssize_t n = sendmsg(r->p->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            uint64_t now = sr_sandbox__now_ns();
            if (now >= r->deadline)
                return STEP_TIMEOUT;
            struct pollfd pf = {.fd = r->p->sock, .events = POLLOUT};
            (void)poll(&pf, 1, (int)((r->deadline - now) / 1000000u) + 1);
            continue;
        }
        if (n < 0)
            return STEP_EOF;
        mh.msg_control = NULL; /* the descriptor went with the first bytes */
        mh.msg_controllen = 0;
        sr_sandbox__iov_advance(&mh, (size_t)n);
    }
    return STEP_FRAME;
}

static enum step
send_frame(struct job_run *r, uint32_t type, uint32_t status, const void *body, size_t len)
{
    return send_frame_fd(r, type, status, body, len, -1);
}

/* A header arrived: checks it and picks where the body goes. */
static enum step
accept_header(struct job_run *r)
{
    sr_err e = {0};

    if (sr_sandbox__frame_valid(&r->h, &e) != SR_OK) {
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "job process sent a malformed frame: %.200s", e.msg);
        return STEP_BAD;
    }
    if (r->h.type != SR_FRAME_RESULT && r->h.type != SR_FRAME_HOSTCALL &&
        r->h.type != SR_FRAME_LOG) {
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "job process sent a frame of type %u, expected RESULT, HOSTCALL or LOG",
                       r->h.type);
        return STEP_BAD;
    }
    /* aux may have held a host call's stored values: growing it must not
     * leave them in freed memory (a secure buffer wipes what it leaves) */
    sr_buf_reset(&r->aux);
    r->dst = (r->h.type == SR_FRAME_RESULT && r->h.status == SR_OK) ? r->resp : &r->aux;
    if (sr_buf_reserve(r->dst, r->h.len, &e) != SR_OK) {
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "job process sent %u bytes, more than the buffer takes: %.150s", r->h.len,
                       e.msg);
        return STEP_BAD;
    }
    r->bgot = 0;
    return STEP_MORE;
}

/* Reads what is available. STEP_FRAME when a whole frame is in r->dst. */
static enum step
pump(struct job_run *r)
{
    for (;;) {
        bool in_header = r->hgot < sizeof(r->h);
        char *at = in_header ? (char *)&r->h + r->hgot : r->dst->data + r->dst->len + r->bgot;
        size_t want = in_header ? sizeof(r->h) - r->hgot : r->h.len - r->bgot;
        if (!in_header && want == 0)
            break;
        ssize_t n = recv(r->p->sock, at, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return STEP_MORE;
        if (n <= 0)
            return STEP_EOF;
        if (!in_header) {
            r->bgot += (size_t)n;
            continue;
        }
        r->hgot += (size_t)n;
        if (r->hgot == sizeof(r->h) && accept_header(r) == STEP_BAD)
            return STEP_BAD;
    }
    r->dst->len += r->h.len;
    r->dst->data[r->dst->len] = '\0';
    r->hgot = 0;
    return STEP_FRAME;
}

/* ---- the exchange ---- */

static enum step
answer_hostcall(struct job_run *r)
{
    sr_buf ans;
    sr_err herr = {0};
    sr_status st;

    sr_buf_init_secure(&ans, SR_MAX_IPC_FRAME);
    if (!r->lim->host_fn)
        st = sr_err_set(&herr, SR_EDENIED, "host calls are not enabled for this job");
    else
        st = r->lim->host_fn(r->lim->host_arg, (const uint8_t *)r->aux.data, r->aux.len, &ans,
                             &herr);
    if (st != SR_OK && herr.status == SR_OK)
        (void)sr_err_set(&herr, st, "host call failed with '%s'", sr_status_name(st));
    int fd = r->lim->host_fd ? *r->lim->host_fd : -1;
    enum step s = st == SR_OK ? send_frame_fd(r, SR_FRAME_HOSTREPLY, SR_OK, ans.data, ans.len, fd)
                              : send_frame(r, SR_FRAME_HOSTREPLY, (uint32_t)st, herr.msg,
                                           strnlen(herr.msg, sizeof(herr.msg)));
    if (fd >= 0) { /* the job process has its own copy now (or none: it failed) */
        close(fd);
        *r->lim->host_fd = -1;
    }
    sr_buf_fini_secure(&ans);
    return s;
}

/* A LOG frame: the runtime's own line, written to the daemon's log with
 * the job's label and the process's pid; past the cap, only counted.
 * Control characters become '?' so one line stays one line. */
static void
log_line(struct job_run *r)
{
    char text[SR_MAX_SANDBOX_LOG_LINE + 1];
    size_t n = r->aux.len < SR_MAX_SANDBOX_LOG_LINE ? r->aux.len : SR_MAX_SANDBOX_LOG_LINE;

    if (r->logs >= SR_MAX_SANDBOX_LOG_LINES) {
        r->logs_dropped++;
        return;
    }
    r->logs++;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)r->aux.data[i];
        text[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    text[n] = '\0';
    sr_log((enum sr_log_level)r->h.flags, "sandbox", "job %s (pid %d): %s",
           r->lim->label ? r->lim->label : "-", (int)r->p->pid, text);
}

/* Handles a complete frame; STEP_FRAME when it was the RESULT. */
static enum step
on_frame(struct job_run *r)
{
    if (r->h.type == SR_FRAME_HOSTCALL) {
        enum step s = answer_hostcall(r);
        return s == STEP_FRAME ? STEP_MORE : s;
    }
    if (r->h.type == SR_FRAME_LOG) {
        log_line(r);
        return STEP_MORE;
    }
    r->child_discard = (r->h.flags & SR_FRAME_F_DISCARD) != 0;
    if (r->h.status != SR_OK) {
        r->rep->outcome = SR_SANDBOX_CRASHED;
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail), "%s", r->aux.data);
    } else {
        r->rep->outcome = SR_SANDBOX_OK;
    }
    return STEP_FRAME;
}

/* The process closed its socket: find out how it ended. */
static void
on_death(struct job_run *r)
{
    int st = 0;
    char how[128];

    r->rep->outcome = SR_SANDBOX_CRASHED;
    if (!sr_sandbox__exit_status(r->sb, r->p, SR_EXIT_REPORT_MS, &st)) {
        kill_proc(r);
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "job process %d closed its socket mid-job", (int)r->p->pid);
        return;
    }
    r->rep->signal = sr_sandbox__describe_status(st, how, sizeof(how));
    r->rep->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
    (void)snprintf(r->rep->detail, sizeof(r->rep->detail), "%s%s", how,
                   r->rep->signal == SIGSYS ? " (a system call the sandbox does not allow)" : "");
}

static void
on_limit(struct job_run *r, enum sr_sandbox_outcome o)
{
    kill_proc(r);
    r->rep->outcome = o;
    if (o == SR_SANDBOX_CANCELLED)
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "killed: its run was cancelled by the daemon");
    else if (o == SR_SANDBOX_TIMEOUT)
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "killed at the wall-clock limit of %" PRIu64 " ms",
                       (r->deadline - r->t0) / 1000000u);
    else
        (void)snprintf(r->rep->detail, sizeof(r->rep->detail),
                       "killed at the memory limit: RSS %" PRIu64 " bytes over %" PRIu64,
                       r->rep->peak_rss, r->lim->memory_bytes);
}

/* Waits for frames until the RESULT, a limit or the process's end. */
static void
await_result(struct job_run *r)
{
    uint64_t next_sample = sr_sandbox__now_ns() + (uint64_t)SR_SAMPLE_MS * 1000000u;

    for (;;) {
        uint64_t now = sr_sandbox__now_ns();
        if (r->lim->memory_bytes && now >= next_sample) {
            next_sample = now + (uint64_t)SR_SAMPLE_MS * 1000000u;
            if (sample(r)) {
                on_limit(r, SR_SANDBOX_MEMORY);
                return;
            }
        }
        if (now >= r->deadline) {
            on_limit(r, SR_SANDBOX_TIMEOUT);
            return;
        }
        uint64_t wake =
            r->lim->memory_bytes && next_sample < r->deadline ? next_sample : r->deadline;
        struct pollfd pf[2] = {{.fd = r->p->sock, .events = POLLIN},
                               {.fd = r->lim->cancel ? r->lim->cancel->fd : -1, .events = POLLIN}};
        int n = poll(pf, 2, (int)((wake - now + 999999u) / 1000000u));
        if (n > 0 && pf[1].revents) {
            on_limit(r, SR_SANDBOX_CANCELLED);
            return;
        }
        if (n <= 0)
            continue;
        enum step s = pump(r);
        if (s == STEP_FRAME)
            s = on_frame(r);
        if (s == STEP_FRAME)
            return;
        if (s == STEP_EOF) {
            on_death(r);
            return;
        }
        if (s == STEP_TIMEOUT) {
            on_limit(r, SR_SANDBOX_TIMEOUT);
            return;
        }
        if (s == STEP_BAD) {
            kill_proc(r);
            r->rep->outcome = SR_SANDBOX_CRASHED;
            return;
        }
    }
}

static void
run_job(struct job_run *r, const uint8_t *req, size_t len)
{
    r->t0 = sr_sandbox__now_ns();
    const uint64_t max_ms = (uint64_t)SR_MAX_TIMEOUT_S * 1000u;
    uint64_t wall_ms = r->lim->wall_ms && r->lim->wall_ms < max_ms ? r->lim->wall_ms : max_ms;
    r->deadline = r->t0 + wall_ms * 1000000u;
    sr_buf_init_secure(&r->aux, SR_MAX_IPC_FRAME);
    (void)sample(r);
    r->cpu0 = r->cpu_last;

    enum step s = sr_sandbox_cancel_fired(r->lim->cancel)
                      ? STEP_BAD /* cancelled before it was sent */
                      : send_frame(r, SR_FRAME_JOB, SR_OK, req, len);
    if (s == STEP_BAD)
        on_limit(r, SR_SANDBOX_CANCELLED);
    else if (s == STEP_TIMEOUT)
        on_limit(r, SR_SANDBOX_TIMEOUT);
    else
        await_result(r); /* after STEP_EOF too: a dying process may have said why */
    if (r->rep->outcome == SR_SANDBOX_OK)
        (void)sample(r);
    r->rep->cpu_us = (r->cpu_last - r->cpu0) / 1000u;
    r->rep->wall_us = (sr_sandbox__now_ns() - r->t0) / 1000u;
    sr_buf_fini_secure(&r->aux);
    if (r->logs_dropped)
        sr_log(SR_LOG_WARN, "sandbox",
               "job %s (pid %d): %u more log lines dropped (at most %d per job)",
               r->lim->label ? r->lim->label : "-", (int)r->p->pid, r->logs_dropped,
               SR_MAX_SANDBOX_LOG_LINES);
}

/* ---- sr_sandbox_run ---- */

static bool
proc_dead(const struct sr_proc *p)
{
    struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
    return poll(&pf, 1, 0) > 0;
}

sr_status
sr_sandbox_run(sr_sandbox *sb, const char *owner, const uint8_t *req, size_t len,
               const struct sr_sandbox_limits *lim, sr_buf *resp, struct sr_sandbox_report *rep,
               sr_err *err)
{
    static const struct sr_sandbox_limits no_limits = {0};
    struct sr_proc *p = NULL;
    sr_status rc;

    if (!sb || !owner || !resp || !rep || (!req && len))
        return sr_err_set(err, SR_EINVAL,
                          "sr_sandbox_run needs a sandbox, an owner, a "
                          "request, a response buffer and a report");
    if (len > SR_MAX_IPC_FRAME)
        return sr_err_set(err, SR_ELIMIT, "job request of %zu bytes exceeds the cap of %u bytes",
                          len, SR_MAX_IPC_FRAME);
    /* Without the zygote every job process is about to die (PDEATHSIG). */
    if (!sr_sandbox_alive(sb))
        return sr_err_set(err, SR_EIO, "running a sandbox job: the sandbox zygote is gone");
    /* A warm process may have died while idle (OOM killer, operator): skip
     * it rather than fail the job. */
    for (int tries = 0;; tries++) {
        rc = sr_sandbox__acquire(sb, owner, &p, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "running a sandbox job");
        if (tries >= 3 || p->jobs == 0 || !proc_dead(p))
            break;
        sr_sandbox__release(sb, p, true);
    }
    *rep = (struct sr_sandbox_report){.outcome = SR_SANDBOX_CRASHED};
    struct job_run r = {.sb = sb, .p = p, .lim = lim ? lim : &no_limits, .resp = resp, .rep = rep};
    run_job(&r, req, len);
    sr_sandbox__release(sb, p,
                        rep->outcome != SR_SANDBOX_OK || r.child_discard || r.lim->discard_after);
    return SR_OK;
}
