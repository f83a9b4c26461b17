/* SPDX-License-Identifier: MIT
 *
 * ipc.c - the wire formats of the sandbox module (see sandbox_int.h).
 *
 * Frames on a job socket are a fixed 16-byte header plus a body capped at
 * SR_MAX_IPC_FRAME. The blocking helpers here serve the job process, which
 * has nothing else to do while it waits; the supervisor reads frames with
 * its own deadline-aware loop in supervisor.c and only uses the writers.
 * Every send uses MSG_NOSIGNAL so a dead peer is an error, never SIGPIPE.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealrun/sr_limits.h"

sr_status
sr_sandbox__frame_valid(const struct sr_frame_hdr *h, sr_err *err)
{
    if (h->type < SR_FRAME_JOB || h->type > SR_FRAME_LOG)
        return sr_err_set(err, SR_EINVAL, "frame type must be 1..6, got %u", h->type);
    if (h->len > SR_MAX_IPC_FRAME)
        return sr_err_set(err, SR_EINVAL, "frame of %u bytes exceeds the cap of %u bytes", h->len,
                          SR_MAX_IPC_FRAME);
    if (h->status >= SR_STATUS_COUNT_)
        return sr_err_set(err, SR_EINVAL, "frame status must be below %d, got %u",
                          (int)SR_STATUS_COUNT_, h->status);
    uint32_t flags_ok = h->type == SR_FRAME_RESULT ? SR_FRAME_F_DISCARD : 0;
    if (h->type == SR_FRAME_LOG) {
        if (h->flags > SR_LOG_ERROR)
            return sr_err_set(err, SR_EINVAL, "log frame level must be 0..%d, got %u",
                              (int)SR_LOG_ERROR, h->flags);
        if (h->len > SR_MAX_SANDBOX_LOG_LINE)
            return sr_err_set(err, SR_EINVAL, "log line of %u bytes exceeds the cap of %u bytes",
                              h->len, SR_MAX_SANDBOX_LOG_LINE);
    } else if (h->flags & ~flags_ok) {
        return sr_err_set(err, SR_EINVAL, "frame flags 0x%x are unknown", h->flags);
    }
    if (h->type == SR_FRAME_START && h->len != sizeof(struct sr_start_body))
        return sr_err_set(err, SR_EINVAL, "start frame of %u bytes, expected %zu", h->len,
                          sizeof(struct sr_start_body));
    return SR_OK;
}

void
sr_sandbox__iov_advance(struct msghdr *mh, size_t n)
{
    while (n > 0 && mh->msg_iovlen > 0) {
        size_t take = n < mh->msg_iov->iov_len ? n : mh->msg_iov->iov_len;
        mh->msg_iov->iov_base = (char *)mh->msg_iov->iov_base + take;
        mh->msg_iov->iov_len -= take;
        n -= take;
        if (mh->msg_iov->iov_len == 0) {
            mh->msg_iov++;
            mh->msg_iovlen--;
        }
    }
}

sr_status
sr_sandbox__frame_write(int fd, uint32_t type, uint32_t status, uint32_t flags, const void *body,
                        size_t len, sr_err *err)
{
    if (len > SR_MAX_IPC_FRAME)
        return sr_err_set(err, SR_ELIMIT, "frame of %zu bytes exceeds the cap of %u bytes", len,
                          SR_MAX_IPC_FRAME);
    struct sr_frame_hdr h = {.type = type, .status = status, .flags = flags, .len = (uint32_t)len};
    struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof(h)},
                           {.iov_base = (void *)(uintptr_t)body, .iov_len = len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    size_t left = sizeof(h) + len;

    while (left > 0) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sr_err_set(err, SR_EIO, "cannot send frame: %s", strerror(errno));
        left -= (size_t)n;
        sr_sandbox__iov_advance(&mh, (size_t)n);
    }
    return SR_OK;
}

sr_status
sr_sandbox__read_full(int fd, void *p, size_t len, sr_err *err)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sr_err_set(err, SR_EIO, "cannot read frame: %s", strerror(errno));
        if (n == 0 && got == 0)
            return sr_err_set(err, SR_ENOTFOUND, "peer closed the socket");
        if (n == 0)
            return sr_err_set(err, SR_EIO, "peer closed the socket after %zu of %zu bytes", got,
                              len);
        got += (size_t)n;
    }
    return SR_OK;
}

sr_status
sr_sandbox__ctl_send(int fd, const struct sr_ctl_msg *m, const int *fds, size_t nfds, sr_err *err)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = (void *)(uintptr_t)m, .iov_len = sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (nfds > 2)
        return sr_err_set(err, SR_EINTERNAL, "control record carries at most 2 fds, got %zu", nfds);
    if (nfds > 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sr_err_set(err, SR_EIO, "cannot send control record: %s", strerror(errno));
        return SR_OK;
    }
}

static void
take_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
    size_t kept = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
            if (kept < 2 && fds)
                fds[kept++] = fd;
            else
                close(fd);
        }
    }
    if (nfds)
        *nfds = kept;
}

sr_status
sr_sandbox__ctl_recv(int fd, bool nonblock, struct sr_ctl_msg *m, int *fds, size_t *nfds,
                     sr_err *err)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;

    if (nfds)
        *nfds = 0;
    do {
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return sr_err_set(err, SR_ELIMIT, "no control record waiting");
    if (n < 0)
        return sr_err_set(err, SR_EIO, "cannot read control record: %s", strerror(errno));
    if (n == 0)
        return sr_err_set(err, SR_ENOTFOUND, "control socket closed");
    take_fds(&mh, fds, nfds);
    if ((size_t)n != sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (size_t i = 0; nfds && fds && i < *nfds; i++)
            close(fds[i]);
        if (nfds)
            *nfds = 0;
        return sr_err_set(err, SR_EIO, "control record of %zd bytes, expected %zu", n, sizeof(*m));
    }
    return SR_OK;
}

int
sr_sandbox__describe_status(int wstatus, char *out, size_t cap)
{
    if (WIFSIGNALED(wstatus)) {
        int sig = WTERMSIG(wstatus);
        const char *name = sigabbrev_np(sig);
        (void)snprintf(out, cap, "killed by signal %d (SIG%s)", sig, name ? name : "UNKNOWN");
        return sig;
    }
    if (WIFEXITED(wstatus)) {
        (void)snprintf(out, cap, "exited with status %d", WEXITSTATUS(wstatus));
        return 0;
    }
    (void)snprintf(out, cap, "ended with wait status 0x%x", (unsigned)wstatus);
    return 0;
}
