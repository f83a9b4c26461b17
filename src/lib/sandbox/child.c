/*
 * child.c - the job process: forked by the zygote, lowers its privileges,
 * runs the caller's proc_init, installs the seccomp allowlist and then
 * serves jobs on its socket, one at a time, until the supervisor closes the
 * socket or a job asks to be the last.
 *
 * Order matters: signal dispositions are reset first (the zygote inherited
 * the daemon's, and test harnesses install SIGSEGV handlers); then the
 * process dies with the zygote (PR_SET_PDEATHSIG); rlimits and
 * PR_SET_DUMPABLE before any guest-facing code; /proc/self/statm is opened
 * while open() still works; proc_init runs before seccomp so an engine may
 * load what it needs; seccomp is the last step before the first job.
 *
 * A failure before the first job is sent as a RESULT frame with the error
 * status and message, so the supervisor can say why the process died. Every
 * exit is _exit(): no atexit handlers or leak checks run in a job process.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sealrun/sr_limits.h"

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

static sr_status
child_lower(pid_t zygote, sr_sandbox_child *c, sr_err *err)
{
    sr_status rc;

    (void)setsid();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return sr_err_set(err, SR_EIO, "cannot set PR_SET_PDEATHSIG: %s", strerror(errno));
    if (getppid() != zygote)
        _exit(0); /* the zygote died between fork and prctl */
    (void)prctl(PR_SET_NAME, "sealrun-job");
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

static void __attribute__((noreturn)) child_fail(sr_sandbox_child *c, const sr_err *err)
{
    size_t n = strnlen(err->msg, sizeof(err->msg));
    sr_status st = err->status == SR_OK ? SR_EINTERNAL : err->status;

    (void)sr_sandbox__frame_write(c->sock, SR_FRAME_RESULT, st, 0, err->msg, n, NULL);
    _exit(1);
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

        sr_buf_init(&resp, SR_MAX_IPC_FRAME);
        sr_status rc = cfg->job_fn(cfg->arg, state, c, req, len, &resp, &discard, &err);
        free(req);
        if (rc != SR_OK) {
            if (err.status == SR_OK)
                (void)sr_err_set(&err, rc, "job function failed with '%s'", sr_status_name(rc));
            child_fail(c, &err);
        }
        rc = sr_sandbox__frame_write(c->sock, SR_FRAME_RESULT, SR_OK,
                                     discard ? SR_FRAME_F_DISCARD : 0, resp.data, resp.len, NULL);
        sr_buf_fini(&resp);
        if (rc != SR_OK || discard)
            _exit(0);
    }
}

void
sr_sandbox__child_main(const struct sr_sandbox_config *cfg, int sock, pid_t zygote)
{
    sr_sandbox_child c = {.sock = sock, .statm_fd = -1};
    sr_err err = {0};
    void *state = NULL;

    child_reset_signals();
    if (child_lower(zygote, &c, &err) != SR_OK)
        child_fail(&c, &err);
    if (cfg->proc_init && cfg->proc_init(cfg->arg, &state, &err) != SR_OK) {
        (void)sr_err_wrap(&err, "starting the job process");
        child_fail(&c, &err);
    }
    if (sr_sandbox__seccomp_install(getpid(), &err) != SR_OK)
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

sr_status
sr_sandbox_hostcall(sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
                    sr_err *err)
{
    struct sr_frame_hdr h;
    sr_status rc = sr_sandbox__frame_write(child->sock, SR_FRAME_HOSTCALL, 0, 0, req, len, err);

    if (rc != SR_OK)
        return sr_err_wrap(err, "sending a host call");
    rc = sr_sandbox__read_full(child->sock, &h, sizeof(h), err);
    if (rc == SR_OK)
        rc = sr_sandbox__frame_valid(&h, err);
    if (rc == SR_OK && h.type != SR_FRAME_HOSTREPLY)
        rc = sr_err_set(err, SR_EIO, "expected a host call answer, got frame type %u", h.type);
    if (rc != SR_OK)
        _exit(2); /* the stream is out of step: this process cannot go on */
    if (h.status != SR_OK)
        return child_reply_error(child, &h, err);
    if (sr_buf_reserve(resp, h.len, err) != SR_OK) {
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
