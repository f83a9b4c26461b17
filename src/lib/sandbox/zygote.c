/* SPDX-License-Identifier: MIT
 *
 * zygote.c - the zygote: a single-threaded process, created by
 * sr_sandbox_new() before the daemon starts threads, that forks job
 * processes on request and reports how they ended.
 *
 * It holds nothing and may do nothing: at start it wipes the environment it
 * inherited (the bytes /proc/PID/environ shows, not only the variables),
 * keeps only its control socket (fd 3) with stdio on /dev/null, sends its
 * log lines over the control socket, and gives up privilege (isolate.c):
 * as root it enters an empty root in its own mount namespace and drops to
 * uid and gid uid_first with no groups, no capabilities and an empty
 * bounding set; as an ordinary user it maps itself into the user namespace
 * it was created in (where the kernel allows) and drops that namespace's
 * capabilities the same way. Then it checks once what job processes can
 * get (a probe child, see child.c) and reports all of it in READY. It never
 * creates a JS VM or reads secrets. It dies with the daemon
 * (PR_SET_PDEATHSIG, and end of file on the control socket), and its job
 * processes die with it (PR_SET_PDEATHSIG, and the end of its PID
 * namespace when it has one).
 *
 * Loop: poll the control socket and a signalfd for SIGCHLD. SPAWN creates a
 * job process (in its namespaces) with a fresh socketpair and answers
 * SPAWNED with the pid, the supervisor's end of the pair and a pidfd (so the
 * supervisor can signal it without pid-reuse races). Each reaped child is
 * reported as EXITED.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/prctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ZY_CTL_FD = 3, ZY_SIG_FD = 4 };

/* READY sent: a failure from then on is a LOG record and an exit. */
static bool zy_ready;

/* sr_log() in the zygote (and in its probe child): a LOG record. */
static void
zygote_log(void *arg, enum sr_log_level lvl, const char *component, const char *msg)
{
    struct sr_ctl_msg m = {.type = SR_CTL_LOG, .value = (int32_t)lvl};
    (void)arg;
    (void)component; /* the supervisor writes every line as "sandbox" */
    (void)snprintf(m.text, sizeof(m.text), "%s", msg);
    (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
}

/* Before READY: FAILED with the reason ('retry': a zygote without
 * namespaces may work); after: an error line. Then exits. */
static void __attribute__((noreturn)) zygote_fail(const sr_err *err, bool retry)
{
    struct sr_ctl_msg m = {.type = zy_ready ? SR_CTL_LOG : SR_CTL_FAILED,
                           .value = SR_LOG_ERROR,
                           .flags = retry ? SR_PROT_RETRY : 0};
    (void)snprintf(m.text, sizeof(m.text), "zygote: %.190s", err->msg);
    (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
    _exit(1);
}

static void __attribute__((noreturn)) zygote_die(const char *what)
{
    sr_err err = {0};
    (void)sr_err_set(&err, SR_EIO, "%s: %s", what, strerror(errno));
    zygote_fail(&err, false);
}

/* Leaves fd 0/1/2 on /dev/null, the control socket on ZY_CTL_FD, and
 * nothing else: the daemon's log (its stderr) included. */
static void
zygote_close_fds(int ctl)
{
    int hi = fcntl(ctl, F_DUPFD_CLOEXEC, 16);
    if (hi < 0 || dup3(hi, ZY_CTL_FD, O_CLOEXEC) < 0)
        _exit(1); /* nowhere to report it: the supervisor sees the zygote die */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
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

/* Fields 1..52 of /proc/self/stat (the process's memory layout among them)
 * into f[]; false if unreadable. */
static bool
self_stat(unsigned long f[53])
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        (void)close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    /* field 2, the name, may hold spaces: start after its ')' and the
     * one-letter state (field 3) */
    char *p = strrchr(buf, ')');
    if (!p || strlen(p) < 4)
        return false;
    p += 4;
    memset(f, 0, 53 * sizeof(*f));
    for (int i = 4; i <= 52; i++) {
        char *q = NULL;
        f[i] = strtoul(p, &q, 10);
        if (q == p)
            return i > 51; /* older kernels stop before field 52 */
        p = q;
    }
    return true;
}

/* Nothing of the daemon's environment reaches a job process, not even in
 * the bytes the kernel keeps showing in /proc/PID/environ after unsetenv():
 * wipe them all, then tell the kernel the block is empty (PR_SET_MM_MAP
 * with the layout unchanged but env_end = env_start; no privilege needed).
 * 'environ' stays a valid, empty array rather than NULL (clearenv()):
 * JavaScriptCore walks it for JSC_* options. */
static void
zygote_scrub_env(void)
{
    extern char **environ;
    static char *empty[] = {NULL};
    unsigned long f[53];

    environ = empty;
    if (!self_stat(f) || !f[50] || f[51] <= f[50])
        return;
    memset((void *)(uintptr_t)f[50], 0, f[51] - f[50]);
    struct prctl_mm_map m = {
        .start_code = f[26],
        .end_code = f[27],
        .start_stack = f[28],
        .start_data = f[45],
        .end_data = f[46],
        .start_brk = f[47],
        .brk = (uint64_t)syscall(SYS_brk, 0),
        .arg_start = f[48],
        .arg_end = f[49],
        .env_start = f[50],
        .env_end = f[50],
        .exe_fd = (uint32_t)-1,
    };
    (void)prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0);
}

static unsigned
ns_bits(uint64_t clone)
{
    unsigned b = 0;
    b |= (clone & CLONE_NEWUSER) ? SR_SANDBOX_NS_USER : 0;
    b |= (clone & CLONE_NEWPID) ? SR_SANDBOX_NS_PID : 0;
    b |= (clone & CLONE_NEWNET) ? SR_SANDBOX_NS_NET : 0;
    b |= (clone & CLONE_NEWNS) ? SR_SANDBOX_NS_MOUNT : 0;
    b |= (clone & CLONE_NEWIPC) ? SR_SANDBOX_NS_IPC : 0;
    b |= (clone & CLONE_NEWUTS) ? SR_SANDBOX_NS_UTS : 0;
    return b;
}

/* Root: the empty root while still root, then uid_first with no groups and
 * no capabilities. Ordinary user in a user namespace of its own: map
 * ourselves, the empty root, then no capabilities. A failure here is fatal
 * (a sandbox that stays privileged is the bug this prevents). */
static sr_status
zygote_isolate(struct sr_iso *iso, sr_err *err)
{
    sr_status rc = SR_OK;
    sr_err e = {0};

    if (iso->zygote_clone & CLONE_NEWUSER) {
        (void)prctl(PR_SET_DUMPABLE, 1); /* /proc/self/uid_map belongs to root otherwise */
        rc = sr_sandbox__map_ids(0, iso->outer_uid, iso->outer_gid, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "mapping the zygote's user namespace");
    }
    if (iso->zygote_clone & CLONE_NEWUTS)
        (void)sethostname("sealrun", 7);
    if (iso->zygote_clone & CLONE_NEWNS) {
        iso->zygote_root = sr_sandbox__enter_empty_root(true, &e) == SR_OK;
        if (!iso->zygote_root)
            sr_log(SR_LOG_WARN, "sandbox", "zygote: keeps the host's files in view: %s", e.msg);
    }
    iso->bounding = sr_sandbox__drop_bounding();
    if (iso->privileged)
        rc = sr_sandbox__set_ids(iso->uid_first, iso->uid_first, true, err);
    if (rc == SR_OK)
        rc = sr_sandbox__clear_caps(err);
    if (rc == SR_OK && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = sr_err_set(err, SR_EIO, "cannot set PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if (rc != SR_OK)
        return sr_err_wrap(err, "dropping the zygote's privileges");
    (void)prctl(PR_SET_DUMPABLE, 0);
    /* job processes map this uid and gid as the zygote's namespace sees them */
    iso->outer_uid = (uint32_t)geteuid();
    iso->outer_gid = (uint32_t)getegid();
    return SR_OK;
}

/* What job processes can get here: one probe process made as they are. */
static void
zygote_probe(struct sr_iso *iso)
{
    int st = 0, pidfd = -1;

    iso->job_clone = 0;
    iso->job_root = false;
    if (iso->no_namespaces)
        return;
    pid_t pid = sr_sandbox__clone(SR_CLONE_JOB, &pidfd);
    if (pid == 0)
        sr_sandbox__child_probe(iso);
    if (pid < 0) {
        sr_log(SR_LOG_WARN, "sandbox",
               "job processes get no namespaces of their own: clone3 with user, pid, mount, "
               "ipc and uts namespaces failed: %s",
               strerror(errno));
        return;
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (pidfd >= 0)
        (void)close(pidfd);
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 2)) {
        iso->job_clone = SR_CLONE_JOB;
        iso->job_root = WEXITSTATUS(st) == 0;
    }
}

static void
zygote_ready(const struct sr_iso *iso)
{
    struct sr_ctl_msg m = {
        .type = SR_CTL_READY, .pid = (int32_t)iso->outer_uid, .value = (int32_t)iso->outer_gid};

    m.flags = ns_bits(iso->zygote_clone) << SR_PROT_ZYGOTE_NS_SHIFT | ns_bits(iso->job_clone)
                                                                          << SR_PROT_JOB_NS_SHIFT;
    m.flags |= (iso->zygote_root ? SR_PROT_ZYGOTE_ROOT : 0) |
               (iso->job_root ? SR_PROT_JOB_ROOT : 0) | (iso->bounding ? SR_PROT_BOUNDING : 0);
    if (sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL) != SR_OK)
        _exit(0); /* the supervisor is gone */
    zy_ready = true;
}

static void
zygote_spawn(const struct sr_sandbox_config *cfg, const struct sr_iso *iso)
{
    int sv[2];
    struct sr_ctl_msg m = {.type = SR_CTL_SPAWNED};
    pid_t self = getpid();
    int pidfd = -1;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        m.value = errno;
        (void)sr_sandbox__ctl_send(ZY_CTL_FD, &m, NULL, 0, NULL);
        return;
    }
    pid_t pid = sr_sandbox__clone(iso->job_clone, &pidfd);
    if (pid == 0) {
        (void)close(ZY_CTL_FD);
        (void)close(ZY_SIG_FD);
        (void)close(sv[0]);
        sr_log_set_sink(NULL, NULL);
        sr_sandbox__child_main(cfg, iso, sv[1], self);
    }
    (void)close(sv[1]);
    if (pid > 0 && pidfd < 0) {
        /* The child cannot have been reaped yet (only this loop reaps), so
         * the pidfd names exactly this process. */
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
            m.value = errno;
            (void)kill(pid, SIGKILL);
            pid = -1;
        }
    }
    if (pid < 0) {
        m.value = m.value ? m.value : errno;
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

void
sr_sandbox__zygote_main(const struct sr_sandbox_config *cfg, struct sr_iso *iso, int ctl,
                        pid_t parent)
{
    sr_err err = {0};

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(1);
    /* the daemon died before the prctl (in a PID namespace of our own the
     * parent is invisible; then end of file on ctl tells) */
    if (!(iso->zygote_clone & CLONE_NEWPID) && getppid() != parent)
        _exit(0);
    zygote_close_fds(ctl);
    sr_log_set_sink(zygote_log, NULL);
    (void)prctl(PR_SET_NAME, "sealrun-zygote");
    zygote_scrub_env();
    zygote_signals();
    if (zygote_isolate(iso, &err) != SR_OK)
        zygote_fail(&err, !iso->privileged && iso->zygote_clone != 0);
    zygote_probe(iso);
    zygote_ready(iso);

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
                zygote_spawn(cfg, iso);
        } else if (pf[0].revents & (POLLHUP | POLLERR)) {
            _exit(0);
        }
    }
}
