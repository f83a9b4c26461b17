/* SPDX-License-Identifier: MIT
 *
 * sandbox_int.h - private contract between the files of the sandbox module.
 *
 *   ipc.c        frames on a job socket (both sides) and SCM_RIGHTS messages
 *                on the zygote control socket
 *   zygote.c     the zygote process: forks job processes, reaps them, reports
 *   child.c      the job process: limits, proc_init, seccomp, the job loop
 *   seccomp.c    the allowlist installed in every job process
 *   isolate.c    namespaces, ids, capabilities, the empty root
 *   supervisor.c sr_sandbox_new/free/run: pools, deadlines, memory watch
 *
 * Two channels exist. The control socket (SOCK_SEQPACKET, one message per
 * record) joins the supervisor and the zygote: READY (or FAILED) comes once
 * at start, SPAWN requests go one way, SPAWNED (pid + job socket + pidfd as
 * SCM_RIGHTS), EXITED (pid + wait status) and LOG records come back. Each
 * job process has its own SOCK_STREAM socketpair with the supervisor that
 * carries frames (struct sr_frame_hdr + body): START once, then one job at a
 * time.
 *
 * Pids: the zygote may live in a PID namespace of its own, so the pids in
 * control records are the zygote's view ('vpid'); the supervisor learns the
 * daemon's view from the pidfd (sr_sandbox__pidfd_pid()).
 */
#ifndef SR_SANDBOX_INT_H
#define SR_SANDBOX_INT_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_sandbox.h"

/* Frame types on a job socket. keep in sync with sr_sandbox__frame_valid() */
enum sr_frame_type {
    SR_FRAME_JOB = 1,       /* supervisor -> child: the request bytes */
    SR_FRAME_RESULT = 2,    /* child -> supervisor: status, flags, response or message */
    SR_FRAME_HOSTCALL = 3,  /* child -> supervisor: request bytes */
    SR_FRAME_HOSTREPLY = 4, /* supervisor -> child: status, answer or message */
    SR_FRAME_START = 5,     /* supervisor -> child, once, first: struct sr_start_body */
    SR_FRAME_LOG = 6,       /* child -> supervisor: one log line (flags: enum sr_log_level) */
};

/* RESULT flags. */
#define SR_FRAME_F_DISCARD 1u

/* The START body: the ids the job process takes inside its user namespace
 * (the supervisor has mapped them already when it runs as root). */
struct sr_start_body {
    uint32_t uid;
    uint32_t gid;
};

/* Every frame starts with this header, in host byte order (both ends are
 * the same machine), followed by 'len' bytes (<= SR_MAX_IPC_FRAME). */
struct sr_frame_hdr {
    uint32_t type;   /* enum sr_frame_type */
    uint32_t status; /* sr_status for RESULT and HOSTREPLY, else 0 */
    uint32_t flags;  /* SR_FRAME_F_* for RESULT, else 0 */
    uint32_t len;    /* body bytes */
};

/* Control records between supervisor and zygote. */
enum sr_ctl_type {
    SR_CTL_SPAWN = 1,   /* supervisor -> zygote */
    SR_CTL_SPAWNED = 2, /* zygote -> supervisor: pid, err; fds [job socket, pidfd] */
    SR_CTL_EXITED = 3,  /* zygote -> supervisor: pid, wait status */
    SR_CTL_READY = 4,   /* zygote -> supervisor, once: flags SR_PROT_*, pid = its uid */
    SR_CTL_FAILED = 5,  /* zygote -> supervisor at start instead of READY: text; flags
                         * SR_PROT_RETRY when a zygote without namespaces may work */
    SR_CTL_LOG = 6,     /* zygote -> supervisor: value = enum sr_log_level, text */
};

#define SR_CTL_TEXT 200

struct sr_ctl_msg {
    uint32_t type; /* enum sr_ctl_type */
    int32_t pid;
    int32_t value; /* SPAWNED: errno of a failed fork (0 on success); EXITED: wait status */
    uint32_t flags;
    char text[SR_CTL_TEXT]; /* NUL-terminated */
};

/* What the zygote put in place (READY flags). */
#define SR_PROT_ZYGOTE_NS_SHIFT 0    /* SR_SANDBOX_NS_* of the zygote, bits 0..7 */
#define SR_PROT_JOB_NS_SHIFT 8       /* SR_SANDBOX_NS_* of each job process, bits 8..15 */
#define SR_PROT_ZYGOTE_ROOT 0x10000u /* the zygote's root is empty */
#define SR_PROT_JOB_ROOT 0x20000u    /* each job process makes its own empty root */
#define SR_PROT_BOUNDING 0x40000u    /* bounding sets cleared */
#define SR_PROT_RETRY 0x80000u       /* FAILED: try again without namespaces */

/* Clone flags: the zygote's (with CLONE_NEWUSER unless the daemon is root,
 * which makes the others itself) and each job process's. Job processes share
 * the zygote's network namespace (docs/security-model.md says why). */
#define SR_CLONE_ZYGOTE (CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)
#define SR_CLONE_JOB (CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

/* How the zygote and its job processes are isolated; filled by the
 * supervisor before the zygote starts and completed by the zygote. The job
 * process reads its copy (made by the fork). */
struct sr_iso {
    bool privileged;    /* the daemon is root: the zygote drops to uid_first */
    uint32_t uid_first; /* privileged: the zygote's uid and gid */
    uint32_t outer_uid; /* the zygote's euid/egid as its own namespace sees them */
    uint32_t outer_gid;
    uint64_t zygote_clone; /* the flags the zygote was created with */
    uint64_t job_clone;    /* the flags job processes are created with (0: a plain fork) */
    bool zygote_root;      /* the zygote is in an empty root */
    bool job_root;         /* job processes make an empty root of their own */
    bool bounding;         /* bounding sets cleared */
    bool no_namespaces;
};

/* The job process side of one process (sr_sandbox_child is opaque outside). */
struct sr_sandbox_child {
    int sock;                   /* job socket, blocking */
    int statm_fd;               /* /proc/self/statm, opened before seccomp */
    pthread_mutex_t write_lock; /* frames are written whole: log lines may come from any thread */
    unsigned logs;              /* log lines sent during this job */
};

/* ipc.c: frames. */

/* Checks a header received from the child (or the supervisor). Returns
 * SR_EINVAL with a message naming the bad field. */
sr_status sr_sandbox__frame_valid(const struct sr_frame_hdr *h, sr_err *err);

/* Moves a message's iovecs past n bytes just sent (a partial sendmsg). */
struct msghdr;
void sr_sandbox__iov_advance(struct msghdr *mh, size_t n);

/* Blocking write of one frame (header + body) with MSG_NOSIGNAL. */
sr_status sr_sandbox__frame_write(int fd, uint32_t type, uint32_t status, uint32_t flags,
                                  const void *body, size_t len, sr_err *err);

/* Blocking read of exactly len bytes. SR_ENOTFOUND on EOF before the first
 * byte, SR_EIO otherwise. */
sr_status sr_sandbox__read_full(int fd, void *p, size_t len, sr_err *err);

/* Control records with optional SCM_RIGHTS fds (at most 2). */
sr_status sr_sandbox__ctl_send(int fd, const struct sr_ctl_msg *m, const int *fds, size_t nfds,
                               sr_err *err);
/* Reads one record; received fds go to fds[0..*nfds) (others closed).
 * SR_ENOTFOUND on EOF; with 'nonblock', SR_ELIMIT when nothing is waiting. */
sr_status sr_sandbox__ctl_recv(int fd, bool nonblock, struct sr_ctl_msg *m, int *fds, size_t *nfds,
                               sr_err *err);

/* Describes a wait status: "exited with status 3", "killed by signal 11
 * (SIGSEGV)". Returns the terminating signal or 0. */
int sr_sandbox__describe_status(int wstatus, char *out, size_t cap);

/* zygote.c: runs the zygote on the control socket 'ctl'; never returns.
 * Completes *iso (its own copy) and reports it in READY. */
void sr_sandbox__zygote_main(const struct sr_sandbox_config *cfg, struct sr_iso *iso, int ctl,
                             pid_t parent) __attribute__((noreturn));

/* child.c: runs a job process on its job socket; never returns. */
void sr_sandbox__child_main(const struct sr_sandbox_config *cfg, const struct sr_iso *iso, int sock,
                            pid_t zygote) __attribute__((noreturn));

/* child.c: the zygote's start-up check of what job processes can get: in a
 * process made with SR_CLONE_JOB, the steps of child.c up to the empty
 * root. Exits with 0 when all worked, 2 when only the root failed, 1
 * otherwise (the reason goes to the log). */
void sr_sandbox__child_probe(const struct sr_iso *iso) __attribute__((noreturn));

/* seccomp.c: builds and loads the allowlist in the calling job process
 * (pid 'self': signals may only target it) on all its threads. Sets
 * PR_SET_NO_NEW_PRIVS. */
/* trap_open: openat raises SIGSYS (SCMP_ACT_TRAP) instead of failing with
 * EACCES, so that child.c's handler can answer dlopen's open of the native
 * tier's object (a received memfd) with a duplicate of it, and EACCES to
 * everything else. Only with the empty root, on the architectures below. */
sr_status sr_sandbox__seccomp_install(pid_t self, bool trap_open, sr_err *err);

/* Where a SIGSYS handler finds a trapped system call's arguments and puts
 * its result (ucontext_t): x86-64 and aarch64; elsewhere openat keeps its
 * plain EACCES and the native tier cannot load. */
#if defined(__x86_64__)
#define SR_SANDBOX_TRAP_OPEN 1
#define SR_UC_ARG(uc, i)                                                                           \
    ((uc)->uc_mcontext.gregs[(i) == 0 ? REG_RDI : (i) == 1 ? REG_RSI : REG_RDX])
#define SR_UC_RET(uc) ((uc)->uc_mcontext.gregs[REG_RAX])
#elif defined(__aarch64__)
#define SR_SANDBOX_TRAP_OPEN 1
#define SR_UC_ARG(uc, i) ((uc)->uc_mcontext.regs[(i)])
#define SR_UC_RET(uc) ((uc)->uc_mcontext.regs[0])
#else
#define SR_SANDBOX_TRAP_OPEN 0
#endif

/* isolate.c */

/* fork() with namespace flags (CLONE_NEW*), leaving glibc's thread
 * descriptor as fork() does; returns as fork(). On success in the parent,
 * *pidfd is a pidfd of the child, or -1 when the kernel gave none (then use
 * pidfd_open). errno ENOSYS when flags cannot be honoured here. Only for a
 * single-threaded caller. */
pid_t sr_sandbox__clone(uint64_t flags, int *pidfd);

/* The pid, as the calling process's namespace sees it, of the process
 * behind pidfd; -1 if unknown. */
pid_t sr_sandbox__pidfd_pid(int pidfd);

/* Maps uid and gid to themselves in the new user namespace of process pid
 * (0: the caller), after refusing setgroups there. */
sr_status sr_sandbox__map_ids(pid_t pid, uint32_t uid, uint32_t gid, sr_err *err);

/* setresgid/setresuid to gid/uid (after setgroups(0) if clear_groups). */
sr_status sr_sandbox__set_ids(uint32_t uid, uint32_t gid, bool clear_groups, sr_err *err);

/* Empties the bounding set where allowed (needs CAP_SETPCAP, so before
 * the ids change or the capabilities go); true when all of it went. */
bool sr_sandbox__drop_bounding(void);

/* Empties the calling thread's capability sets (and the ambient set), and
 * checks that they are empty. */
sr_status sr_sandbox__clear_caps(sr_err *err);

/* In a mount namespace of our own: makes the root an empty read-only tmpfs
 * with /proc (of the caller's PID namespace), /dev/null, /dev/urandom and,
 * with_tmp, an empty /tmp; the old root is detached. */
sr_status sr_sandbox__enter_empty_root(bool with_tmp, sr_err *err);

/* Supervisor side (pool.c, supervisor.c). */

/* One job process as the supervisor sees it. Fields are guarded by
 * sb->lock while the process is in the pool; a busy process belongs to the
 * thread running its job. */
struct sr_proc {
    struct sr_proc *next;
    pid_t pid;           /* as the daemon sees it */
    pid_t vpid;          /* as the zygote sees it (control records) */
    int slot;            /* index of its uid in the job range, -1 for none */
    int sock;            /* supervisor end of the job socket, O_NONBLOCK */
    int pidfd;           /* signals without pid-reuse races; readable once dead */
    int statm_fd;        /* /proc/PID/statm, -1 if it could not be opened */
    clockid_t cpu_clock; /* the process's CPU clock (all threads) */
    bool has_cpu_clock;
    uint64_t spawn_seq;  /* control sequence number of its SPAWNED record */
    char *owner;         /* owned copy */
    unsigned jobs;       /* jobs finished in this process */
    uint64_t idle_since; /* ns, CLOCK_MONOTONIC */
    bool busy;
};

/* Wait statuses reported by the zygote, newest overwriting oldest. */
#define SR_EXIT_RING 256
struct sr_exit_rec {
    pid_t pid;
    int status;
    uint64_t seq; /* control sequence number; 0 = empty slot */
};

struct sr_sandbox {
    struct sr_sandbox_config cfg; /* copied, defaults filled in */
    struct sr_iso iso;            /* as the zygote reported it */
    uint32_t ready;               /* SR_PROT_* of the READY record */
    uint32_t zygote_uid;          /* the zygote's uid and gid (READY) */
    uint32_t zygote_gid;
    pid_t zpid;
    int zpidfd; /* readable once the zygote is dead */
    int ctl;    /* SOCK_SEQPACKET to the zygote */

    pthread_mutex_t ctl_lock; /* guards reading ctl, exits[], ctl_seq, zygote_gone */
    struct sr_exit_rec exits[SR_EXIT_RING];
    uint64_t ctl_seq;
    bool zygote_gone;

    pthread_mutex_t lock; /* guards procs, nprocs, stopping */
    pthread_cond_t cond;  /* a process became idle or a slot became free */
    pthread_cond_t reaper_cond;
    struct sr_proc *procs; /* live processes, busy and idle */
    unsigned nprocs;       /* live processes plus slots reserved by spawners */
    bool *uid_used;        /* [max_processes]: job uid slots in use */
    bool stopping;
    pthread_t reaper;
    bool has_reaper; /* started by the first sr_sandbox__acquire() */
    bool has_locks;
    long page_size;
};

uint64_t sr_sandbox__now_ns(void);

/* pool.c */

/* Takes a process for 'owner': a warm one of that owner (tenant mode) or a
 * new one, within max_processes (evicting idle processes of other owners,
 * else waiting). Returns it busy. */
sr_status sr_sandbox__acquire(sr_sandbox *sb, const char *owner, struct sr_proc **out, sr_err *err);

/* Gives a process back after a job; 'discard' ends it. */
void sr_sandbox__release(sr_sandbox *sb, struct sr_proc *p, bool discard);

/* Kills the process (if still alive), gives back its uid and frees
 * everything it held. Called without sb->lock. */
void sr_sandbox__proc_destroy(sr_sandbox *sb, struct sr_proc *p);

/* Waits up to timeout_ms for the zygote's report of how p ended. Returns
 * true and the wait status when it came. */
bool sr_sandbox__exit_status(sr_sandbox *sb, const struct sr_proc *p, int timeout_ms, int *status);

/* Discards processes idle past idle_ms and reads pending control records. */
void sr_sandbox__reap_idle(sr_sandbox *sb);

/* The background thread that calls sr_sandbox__reap_idle(). */
void *sr_sandbox__reaper_main(void *arg);

#endif /* SR_SANDBOX_INT_H */
