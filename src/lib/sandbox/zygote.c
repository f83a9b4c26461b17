/*
 * zygote.c - the zygote: a single-threaded process, forked by
 * sr_sandbox_new() before the daemon starts threads, that forks job
 * processes on request and reports how they ended.
 *
 * It holds nothing: at start it closes every fd but its control socket and
 * stderr (stdin and stdout become /dev/null so a stray printf can never
 * write into a socket), and it never creates a JS VM or reads secrets. It
 * dies with the daemon (PR_SET_PDEATHSIG plus a getppid() check for the race
 * where the daemon died first), and its job processes die with it.
 *
 * Loop: poll the control socket and a signalfd for SIGCHLD. SPAWN forks a
 * job process with a fresh socketpair and answers SPAWNED with the pid, the
 * supervisor's end of the pair and a pidfd (so the supervisor can signal it
 * without pid-reuse races). Each reaped child is reported as EXITED.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealrun/sr_log.h"

enum { ZY_CTL_FD = 3, ZY_SIG_FD = 4 };

static void __attribute__((noreturn)) zygote_die(const char *what)
{
    sr_log(SR_LOG_ERROR, "sandbox", "zygote: %s: %s", what, strerror(errno));
    _exit(1);
}

/* Leaves fd 0/1 on /dev/null, 2 as is, the control socket on ZY_CTL_FD, and
 * nothing else. */
static void
zygote_close_fds(int ctl)
{
    int hi = fcntl(ctl, F_DUPFD_CLOEXEC, 16);
    if (hi < 0)
        zygote_die("cannot move the control socket");
    if (dup3(hi, ZY_CTL_FD, O_CLOEXEC) < 0)
        zygote_die("cannot move the control socket");
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
        zygote_die("cannot open '/dev/null'");
    if (syscall(SYS_close_range, ZY_CTL_FD + 1, ~0u, 0) < 0) {
        for (int fd = ZY_CTL_FD + 1; fd < 65536; fd++)
            (void)close(fd);
    }
}

static void
zygote_signals(void)
{
    sigset_t set;

    (void)signal(SIGPIPE, SIG_IGN);
    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        zygote_die("cannot block SIGCHLD");
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || (sfd != ZY_SIG_FD && dup3(sfd, ZY_SIG_FD, O_CLOEXEC) < 0))
        zygote_die("cannot create the SIGCHLD signalfd");
    if (sfd != ZY_SIG_FD)
        (void)close(sfd);
}

static void
zygote_spawn(const struct sr_sandbox_config *cfg)
{
    int sv[2];
    struct sr_ctl_msg m = {.type = SR_CTL_SPAWNED};
    pid_t self = getpid();

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        m.value = errno;
        (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        (void)close(ZY_CTL_FD);
        (void)close(ZY_SIG_FD);
        (void)close(sv[0]);
        sr_sandbox__child_main(cfg, sv[1], self);
    }
    (void)close(sv[1]);
    if (pid < 0) {
        m.value = errno;
        (void)close(sv[0]);
        (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
        return;
    }
    /* The child cannot have been reaped yet (only this loop reaps), so the
     * pidfd names exactly this process. */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        m.value = errno;
        (void)kill(pid, SIGKILL);
        (void)close(sv[0]);
        (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
        return;
    }
    m.pid = pid;
    int fds[2] = {sv[0], pidfd};
    (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, fds, 2, NULL);
    (void)close(sv[0]);
    (void)close(pidfd);
}

static void
zygote_reap(void)
{
    struct signalfd_siginfo si;
    int st;
    pid_t pid;

    while (read(ZY_SIG_FD, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct sr_ctl_msg m = {.type = SR_CTL_EXITED, .pid = pid, .value = st};
        if (sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL) != SR_OK)
            _exit(0); /* the supervisor is gone */
    }
}

/* Master keys given in the environment must never reach a job process
 * (sealrund moves them out before forking the zygote; other programs that
 * make a sandbox, such as `sealrun run`, may not): wipe the bytes of every
 * *_MASTER_KEY variable in the inherited environment block and drop it. */
static void
zygote_scrub_env(void)
{
    extern char **environ;
    for (size_t i = 0; environ && environ[i];) {
        char *eq = strchr(environ[i], '=');
        size_t n = eq ? (size_t)(eq - environ[i]) : 0;
        if (n >= 11 && strncmp(environ[i] + n - 11, "_MASTER_KEY", 11) == 0) {
            char name[128];
            (void)snprintf(name, sizeof(name), "%.*s", (int)n, environ[i]);
            memset(eq + 1, 0, strlen(eq + 1));
            unsetenv(name);
            continue; /* the array shifted down: look at index i again */
        }
        i++;
    }
}

void
sr_sandbox__zygote_main(const struct sr_sandbox_config *cfg, int ctl, pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        zygote_die("cannot set PR_SET_PDEATHSIG");
    if (getppid() != parent)
        _exit(0);
    (void)prctl(PR_SET_NAME, "sealrun-zygote");
    zygote_scrub_env();
    zygote_close_fds(ctl);
    zygote_signals();

    for (;;) {
        struct pollfd pf[2] = {{.fd = ZY_CTL_FD, .events = POLLIN},
                               {.fd = ZY_SIG_FD, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            zygote_die("poll failed");
        }
        if (pf[1].revents)
            zygote_reap();
        if (pf[0].revents & POLLIN) {
            struct sr_ctl_msg m;
            sr_status rc = sr_sandbox__ctl_recv(ZY_CTL_FD, true, &m, NULL, NULL, NULL);
            if (rc == SR_ENOTFOUND)
                _exit(0);
            if (rc == SR_OK && m.type == SR_CTL_SPAWN)
                zygote_spawn(cfg);
        } else if (pf[0].revents & (POLLHUP | POLLERR)) {
            _exit(0);
        }
    }
}
