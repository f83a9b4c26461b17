/* SPDX-License-Identifier: MIT
 *
 * child.c - the job process: made by the zygote, gives up what privilege it
 * has, runs the caller's proc_init, installs the seccomp allowlist and then
 * serves jobs on its socket, one at a time, until the supervisor closes the
 * socket or a job asks to be the last.
 *
 * Order matters:
 *   1. signal dispositions are reset (the zygote inherited the daemon's, and
 *      test harnesses install SIGSEGV handlers); the process dies with the
 *      zygote (PR_SET_PDEATHSIG);
 *   2. it waits for START: when the daemon is root, the supervisor has just
 *      mapped the process's own uid into its user namespace;
 *   3. in a user namespace of its own it takes that uid and gid, makes its
 *      empty read-only root and then gives up every capability and the
 *      bounding set, all before any thread exists (capabilities belong to
 *      threads: JavaScriptCore's would keep them otherwise);
 *   4. no_new_privs, rlimits and PR_SET_DUMPABLE 0 before any guest-facing
 *      code; /proc/self/statm is opened while open() still works;
 *   5. proc_init runs before seccomp so an engine may load what it needs
 *      (JavaScriptCore reads /proc/self/maps and /dev/urandom, which the
 *      empty root provides); no fork may follow it, since it starts threads;
 *   6. seccomp is the last step before the first job, on every thread.
 *
 * PID 1: in a PID namespace of its own the job process is that namespace's
 * init, so the kernel drops signals it sends itself while their action is
 * the default (raise(SIGSEGV) returns; abort() still ends the process,
 * through glibc's fallback, as SIGSEGV). Faults and the supervisor's
 * SIGKILL end it as before, and getpid() is 1: the pid the seccomp filter
 * pins signals to.
 *
 * Nothing is written to fd 2 (it is /dev/null): sr_log() and
 * sr_sandbox_log() become LOG frames on the job socket. A failure before
 * the first job is sent as a RESULT frame with the error status and
 * message, so the supervisor can say why the process died. Request and
 * response bytes are wiped before they are freed (they may hold secrets).
 * Every exit is _exit(): no atexit handlers or leak checks run here.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <sodium.h>

#include "sealrun/sr_limits.h"

/* The one descriptor a job may open by path, as /proc/self/fd/N (the native
 * tier's object, which dlopen knows only by path), or -1: set around that
 * dlopen by sr_sandbox_child_allow_open. Read by the SIGSYS handler. */
static volatile sig_atomic_t g_open_fd = -1;

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a SECCOMP_RET_TRAP (linux/signal.h) */
#endif

/* "/proc/self/fd/<fd>" exactly. */
static bool
is_fd_path(const char *p, int fd)
{
    static const char pre[] = "/proc/self/fd/";
    for (size_t i = 0; i < sizeof(pre) - 1; i++)
        if (p[i] != pre[i])
            return false;
    p += sizeof(pre) - 1;
    long v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    return *p == '\0' && v == fd;
}

/* seccomp traps every openat (seccomp.c, with the empty root): the answer
 * is EACCES, as the filter gives elsewhere, except for dlopen's read-only
 * open of the one allowed descriptor, which gets a duplicate of it.
 * Async-signal-safe: dup and fcntl only. */
static void
child_sigsys(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
#if SR_SANDBOX_TRAP_OPEN
    ucontext_t *uc = ctx;
    long rv = -EACCES;
    const int fd = (int)g_open_fd;
    if (si->si_code == SYS_SECCOMP && si->si_syscall == SYS_openat && fd >= 0) {
        const char *path = (const char *)(uintptr_t)SR_UC_ARG(uc, 1);
        const long flags = (long)SR_UC_ARG(uc, 2);
        if (path && flags == (O_RDONLY | O_CLOEXEC) && is_fd_path(path, fd)) {
            const int e = errno;
            const int d = dup(fd);
            rv = d < 0 ? -errno : d;
            if (d >= 0)
                (void)fcntl(d, F_SETFD, FD_CLOEXEC);
            errno = e;
        }
    }
    SR_UC_RET(uc) = rv;
#else
    (void)si;
    (void)ctx;
#endif
}

static sr_status
child_trap_open(sr_err *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = child_sigsys;
    sa.sa_flags = SA_SIGINFO;
    (void)sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return sr_err_set(err, SR_EIO, "cannot install the SIGSYS handler: %s", strerror(errno));
    return SR_OK;
}

void
sr_sandbox_child_allow_open(sr_sandbox_child *child, int fd)
{
    (void)child;
    g_open_fd = fd;
}

/* Fds a job process may have open: stdio, its socket, statm, plus what an
 * engine opens in proc_init (JavaScriptCore needs a few). */
#define SR_CHILD_NOFILE 32

static void
child_reset_signals(void)
{
    sigset_t all;

    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)signal(sig, SIG_DFL);
    }
    /* A dead supervisor is an EPIPE; a write to a file (none should exist)
     * is EFBIG under RLIMIT_FSIZE 0 rather than a SIGXFSZ death. */
    (void)signal(SIGPIPE, SIG_IGN);
    (void)signal(SIGXFSZ, SIG_IGN);
    (void)sigemptyset(&all);
    (void)sigprocmask(SIG_SETMASK, &all, NULL);
}

static sr_status
child_limit(int res, rlim_t v, const char *name, sr_err *err)
{
    struct rlimit rl = {.rlim_cur = v, .rlim_max = v};
    if (setrlimit(res, &rl) < 0)
        return sr_err_set(err, SR_EIO, "cannot set %s to %lu: %s", name, (unsigned long)v,
                          strerror(errno));
    return SR_OK;
}

/* Writes one frame whole, whichever thread asks. */
static sr_status
child_write(sr_sandbox_child *c, uint32_t type, uint32_t status, uint32_t flags, const void *body,
            size_t len, sr_err *err)
{
    (void)pthread_mutex_lock(&c->write_lock);
    sr_status rc = sr_sandbox__frame_write(c->sock, type, status, flags, body, len, err);
    (void)pthread_mutex_unlock(&c->write_lock);
    return rc;
}

static void
child_send_log(sr_sandbox_child *c, enum sr_log_level lvl, const char *text)
{
    size_t n = strnlen(text, SR_MAX_SANDBOX_LOG_LINE);
    (void)child_write(c, SR_FRAME_LOG, 0, (uint32_t)lvl, text, n, NULL);
}

/* sr_log() in a job process. */
static void
child_log_sink(void *arg, enum sr_log_level lvl, const char *component, const char *msg)
{
    char line[SR_MAX_SANDBOX_LOG_LINE + 1];
    (void)snprintf(line, sizeof(line), "%s: %s", component, msg);
    child_send_log(arg, lvl, line);
}

void
sr_sandbox_log(sr_sandbox_child *child, enum sr_log_level lvl, const char *fmt, ...)
{
    char line[SR_MAX_SANDBOX_LOG_LINE + 1];
    va_list ap;

    if (!child)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= 0)
        child_send_log(child, lvl, line);
}

static void __attribute__((noreturn)) child_fail(sr_sandbox_child *c, const sr_err *err)
{
    size_t n = strnlen(err->msg, sizeof(err->msg));
    sr_status st = err->status == SR_OK ? SR_EINTERNAL : err->status;

    (void)child_write(c, SR_FRAME_RESULT, st, 0, err->msg, n, NULL);
    _exit(1);
}

/* The first frame: START, with the ids to take. End of file: the
 * supervisor gave up on this process. */
static void
child_wait_start(sr_sandbox_child *c, struct sr_start_body *start)
{
    struct sr_frame_hdr h;
    sr_status rc = sr_sandbox__read_full(c->sock, &h, sizeof(h), NULL);

    if (rc == SR_ENOTFOUND)
        _exit(0);
    if (rc != SR_OK || sr_sandbox__frame_valid(&h, NULL) != SR_OK || h.type != SR_FRAME_START ||
        sr_sandbox__read_full(c->sock, start, sizeof(*start), NULL) != SR_OK)
        _exit(2);
}

/* Step 3 of the file comment: only in a user namespace of our own (else the
 * process has the zygote's uid and no capabilities already). */
static sr_status
child_isolate(const struct sr_iso *iso, const struct sr_start_body *start, sr_err *err)
{
    sr_status rc = SR_OK;

    if (!(iso->job_clone & CLONE_NEWUSER))
        return SR_OK;
    if (!iso->privileged) {
        (void)prctl(PR_SET_DUMPABLE, 1); /* /proc/self/uid_map belongs to root otherwise */
        rc = sr_sandbox__map_ids(0, iso->outer_uid, iso->outer_gid, err);
    }
    if (rc == SR_OK)
        rc = sr_sandbox__set_ids(start->uid, start->gid, false, err);
    if (rc == SR_OK)
        (void)sethostname("sealrun", 7);
    if (rc == SR_OK && iso->job_root)
        rc = sr_sandbox__enter_empty_root(false, err);
    if (rc == SR_OK)
        (void)sr_sandbox__drop_bounding();
    if (rc == SR_OK)
        rc = sr_sandbox__clear_caps(err);
    return rc == SR_OK ? SR_OK : sr_err_wrap(err, "isolating the job process");
}

static sr_status
child_lower(pid_t zygote, const struct sr_iso *iso, sr_sandbox_child *c, sr_err *err)
{
    sr_status rc;
    struct sr_start_body start;

    (void)setsid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return sr_err_set(err, SR_EIO, "cannot set PR_SET_PDEATHSIG: %s", strerror(errno));
    /* the zygote died between fork and prctl (in a PID namespace of our
     * own the parent is invisible: then the supervisor's end of the socket
     * closes, and START never comes) */
    if (!(iso->job_clone & CLONE_NEWPID) && getppid() != zygote)
        _exit(0);
    (void)prctl(PR_SET_NAME, "sealrun-job");
    child_wait_start(c, &start);
    if ((rc = child_isolate(iso, &start, err)) != SR_OK)
        return rc;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return sr_err_set(err, SR_EIO, "cannot set PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if ((rc = child_limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err)) != SR_OK ||
        (rc = child_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", err)) != SR_OK ||
        (rc = child_limit(RLIMIT_NOFILE, SR_CHILD_NOFILE, "RLIMIT_NOFILE", err)) != SR_OK)
        return rc;
    if (prctl(PR_SET_DUMPABLE, 0) < 0)
        return sr_err_set(err, SR_EIO, "cannot clear PR_SET_DUMPABLE: %s", strerror(errno));
    c->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (c->statm_fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '/proc/self/statm': %s", strerror(errno));
    return SR_OK;
}

void
sr_sandbox__child_probe(const struct sr_iso *iso)
{
    sr_err err = {0};

    (void)prctl(PR_SET_DUMPABLE, 1);
    if (sr_sandbox__map_ids(0, iso->outer_uid, iso->outer_gid, &err) != SR_OK) {
        sr_log(SR_LOG_WARN, "sandbox", "job processes get no namespaces of their own: %s", err.msg);
        _exit(1);
    }
    if (sr_sandbox__enter_empty_root(false, &err) != SR_OK) {
        sr_log(SR_LOG_WARN, "sandbox", "job processes keep the host's files in view: %s", err.msg);
        _exit(2);
    }
    _exit(0);
}

/* Reads the next JOB frame. Returns NULL at a clean end of the socket. */
static uint8_t *
child_read_job(sr_sandbox_child *c, size_t *len)
{
    struct sr_frame_hdr h;
    sr_status rc = sr_sandbox__read_full(c->sock, &h, sizeof(h), NULL);

    if (rc == SR_ENOTFOUND)
        _exit(0);
    if (rc != SR_OK || sr_sandbox__frame_valid(&h, NULL) != SR_OK || h.type != SR_FRAME_JOB)
        _exit(2);
    uint8_t *req = malloc((size_t)h.len + 1);
    if (!req)
        _exit(3);
    if (sr_sandbox__read_full(c->sock, req, h.len, NULL) != SR_OK)
        _exit(2);
    req[h.len] = '\0'; /* text requests may be used as C strings */
    *len = h.len;
    return req;
}

static void __attribute__((noreturn))
child_serve(const struct sr_sandbox_config *cfg, sr_sandbox_child *c, void *state)
{
    for (;;) {
        size_t len = 0;
        uint8_t *req = child_read_job(c, &len);
        sr_buf resp;
        sr_err err = {0};
        bool discard = false;

        sr_buf_init_secure(&resp, SR_MAX_IPC_FRAME); /* an output may carry a secret */
        sr_status rc = cfg->job_fn(cfg->arg, state, c, req, len, &resp, &discard, &err);
        /* the request held the job's secrets: nothing of it stays behind */
        sodium_memzero(req, len + 1);
        free(req);
        if (rc != SR_OK) {
            sr_buf_fini_secure(&resp);
            if (err.status == SR_OK)
                (void)sr_err_set(&err, rc, "job function failed with '%s'", sr_status_name(rc));
            child_fail(c, &err);
        }
        rc = child_write(c, SR_FRAME_RESULT, SR_OK, discard ? SR_FRAME_F_DISCARD : 0, resp.data,
                         resp.len, NULL);
        sr_buf_fini_secure(&resp);
        if (rc != SR_OK || discard)
            _exit(0);
    }
}

void
sr_sandbox__child_main(const struct sr_sandbox_config *cfg, const struct sr_iso *iso, int sock,
                       pid_t zygote)
{
    static sr_sandbox_child c;
    sr_err err = {0};
    void *state = NULL;

    c.sock = sock;
    c.statm_fd = -1;
    (void)pthread_mutex_init(&c.write_lock, NULL);
    child_reset_signals();
    sr_log_set_sink(child_log_sink, &c);
    if (child_lower(zygote, iso, &c, &err) != SR_OK)
        child_fail(&c, &err);
    if (cfg->proc_init && cfg->proc_init(cfg->arg, &state, &err) != SR_OK) {
        (void)sr_err_wrap(&err, "starting the job process");
        child_fail(&c, &err);
    }
    /* with the empty root every openat traps into child_sigsys (native code) */
    const bool trap_open = iso->job_root && SR_SANDBOX_TRAP_OPEN;
    if (trap_open && child_trap_open(&err) != SR_OK)
        child_fail(&c, &err);
    if (sr_sandbox__seccomp_install(getpid(), trap_open, &err) != SR_OK)
        child_fail(&c, &err);
    child_serve(cfg, &c, state);
}

int
sr_sandbox_child_statm_fd(const sr_sandbox_child *child)
{
    return child ? child->statm_fd : -1;
}

/* Reads and drops n bytes of a frame body, keeping the stream in step. */
static sr_status
child_drain(sr_sandbox_child *c, size_t n, sr_err *err)
{
    char sink[512];
    sr_status rc = SR_OK;

    while (rc == SR_OK && n > 0) {
        size_t take = n < sizeof(sink) ? n : sizeof(sink);
        rc = sr_sandbox__read_full(c->sock, sink, take, err);
        n -= take;
    }
    sodium_memzero(sink, sizeof(sink)); /* a host call answer may carry a stored secret */
    return rc;
}

/* Reads a HOSTREPLY refusal message into err without trusting its length. */
static sr_status
child_reply_error(sr_sandbox_child *c, const struct sr_frame_hdr *h, sr_err *err)
{
    char msg[SR_ERR_MSG_MAX - 64];
    size_t keep = h->len < sizeof(msg) - 1 ? h->len : sizeof(msg) - 1;
    sr_status rc = sr_sandbox__read_full(c->sock, msg, keep, err);

    if (rc == SR_OK)
        rc = child_drain(c, h->len - keep, err);
    if (rc != SR_OK)
        _exit(2);
    msg[keep] = '\0';
    return sr_err_set(err, (sr_status)h->status, "host call refused: %s", msg);
}

/* Reads a frame header; a descriptor sent with its first byte goes to *fd
 * (-1: none). */
static sr_status
child_read_header(sr_sandbox_child *c, struct sr_frame_hdr *h, int *fd, sr_err *err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = h, .iov_len = sizeof(*h)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;

    *fd = -1;
    do {
        n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return sr_err_set(err, SR_EIO, "cannot read a host call answer: %s",
                          n == 0 ? "socket closed" : strerror(errno));
    for (struct cmsghdr *m = CMSG_FIRSTHDR(&mh); m; m = CMSG_NXTHDR(&mh, m)) {
        if (m->cmsg_level != SOL_SOCKET || m->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (m->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(m) + i * sizeof(int), sizeof(got));
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    if ((size_t)n < sizeof(*h))
        return sr_sandbox__read_full(c->sock, (char *)h + n, sizeof(*h) - (size_t)n, err);
    return SR_OK;
}

sr_status
sr_sandbox_hostcall(sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
                    sr_err *err)
{
    int fd = -1;
    sr_status rc = sr_sandbox_hostcall_fd(child, req, len, resp, &fd, err);
    if (fd >= 0)
        close(fd);
    return rc;
}

sr_status
sr_sandbox_hostcall_fd(sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
                       int *fd, sr_err *err)
{
    struct sr_frame_hdr h;
    *fd = -1;
    sr_status rc = child_write(child, SR_FRAME_HOSTCALL, 0, 0, req, len, err);

    if (rc != SR_OK)
        return sr_err_wrap(err, "sending a host call");
    rc = child_read_header(child, &h, fd, err);
    if (rc == SR_OK)
        rc = sr_sandbox__frame_valid(&h, err);
    if (rc == SR_OK && h.type != SR_FRAME_HOSTREPLY)
        rc = sr_err_set(err, SR_EIO, "expected a host call answer, got frame type %u", h.type);
    if (rc != SR_OK)
        _exit(2);                        /* the stream is out of step: this process cannot go on */
    if (h.status != SR_OK && *fd >= 0) { /* only an answer carries one */
        close(*fd);
        *fd = -1;
    }
    if (h.status != SR_OK)
        return child_reply_error(child, &h, err);
    if (sr_buf_reserve(resp, h.len, err) != SR_OK) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        if (child_drain(child, h.len, NULL) != SR_OK)
            _exit(2);
        return sr_err_wrap(err, "host call answer of %u bytes", h.len);
    }
    rc = sr_sandbox__read_full(child->sock, resp->data + resp->len, h.len, err);
    if (rc != SR_OK)
        _exit(2);
    resp->len += h.len;
    resp->data[resp->len] = '\0';
    return SR_OK;
}
