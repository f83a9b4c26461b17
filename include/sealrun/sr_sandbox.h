/* SPDX-License-Identifier: MIT
 *
 * sr_sandbox.h - the process model of design.md section 2: a zygote that
 * forks job processes, each under rlimits, no_new_privs and a seccomp
 * allowlist; the supervisor side that sends a job, enforces the wall clock
 * with SIGKILL, watches memory and turns a dead process into a report.
 *
 * Privilege (docs/security-model.md, "The sandbox"): the zygote and every
 * job process run with no capabilities, an empty environment, stdio on
 * /dev/null, and as an unprivileged uid (when the daemon is root: the
 * zygote as uid_first and each live job process as a uid of its own from
 * the range after it). Where the kernel allows, the zygote has its own PID,
 * network, mount, IPC and UTS namespaces (and user namespace when the
 * daemon is not root), and each job process its own user, PID, mount, IPC
 * and UTS namespaces and an empty read-only root. What the job process logs
 * reaches the daemon's log through its socket (sr_sandbox_log()), capped per
 * job, never through a shared file descriptor.
 *
 * The module knows nothing of JS or WASM: the caller (engine) gives two
 * callbacks that run inside the job process. sr_sandbox_new() must be called
 * before the program starts any thread (it forks the zygote). Everything
 * else is thread-safe: many threads may call sr_sandbox_run() at once.
 *
 * Isolation (invariant 1): a job process only ever serves one owner. In
 * SR_ISOLATION_TENANT a process is reused for the same owner's next job and
 * discarded after an abnormal end, after max_jobs_per_process jobs, or when
 * idle for idle_ms. In SR_ISOLATION_JOB every job gets a fresh process.
 */
#ifndef SR_SANDBOX_H
#define SR_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_log.h"

typedef struct sr_sandbox sr_sandbox;
typedef struct sr_sandbox_child sr_sandbox_child;
/* A way for another thread to stop one run at once (sr_sandbox_cancel_*). */
typedef struct sr_sandbox_cancel sr_sandbox_cancel;

enum sr_isolation {
    SR_ISOLATION_TENANT = 0,
    SR_ISOLATION_JOB = 1,
};

/* Runs once in a new job process after rlimits, before seccomp; returns the
 * per-process state given to every job_fn call (NULL allowed). A failure
 * ends the process and the job reports SANDBOX_CRASHED with the message. */
typedef sr_status (*sr_sandbox_proc_init_fn)(void *arg, void **state, sr_err *err);

/* Runs in the job process, under seccomp, once per job: reads req[0..len)
 * (req[len] is 0, so a text request is also a C string), appends the
 * response to 'resp' (cap SR_MAX_IPC_FRAME). Sets *discard to end
 * the process after this job. A status other than SR_OK ends the process
 * (reported as SANDBOX_CRASHED with err's message). 'child' is for
 * sr_sandbox_hostcall(). */
typedef sr_status (*sr_sandbox_job_fn)(void *arg, void *state, sr_sandbox_child *child,
                                       const uint8_t *req, size_t len, sr_buf *resp, bool *discard,
                                       sr_err *err);

/* Runs in the supervisor (a thread of sr_sandbox_run's caller) when the job
 * process makes a host call: reads req, appends the answer to resp. */
typedef sr_status (*sr_sandbox_host_fn)(void *arg, const uint8_t *req, size_t len, sr_buf *resp,
                                        sr_err *err);

/* The default uid range when the daemon runs as root: no user database
 * assigns these (systemd leaves 1879048192..2147352575 unused), so nothing
 * else on the machine can signal or trace a process running as one. */
#define SR_SANDBOX_UID_FIRST 2000000000u

struct sr_sandbox_config {
    enum sr_isolation isolation;
    unsigned max_jobs_per_process; /* tenant mode; 0 = 256 */
    unsigned idle_ms;              /* tenant mode; 0 = 30000 */
    unsigned max_processes;        /* live job processes, busy or warm; 0 = 64 */
    sr_sandbox_proc_init_fn proc_init;
    sr_sandbox_job_fn job_fn;
    void *arg; /* borrowed, given to both callbacks; must be valid in the fork */
    /* Only when the daemon runs as root (an ordinary user keeps its uid):
     * the zygote runs as uid and gid uid_first and, with user namespaces,
     * each live job process as one of uid_first+1 .. uid_first+uid_count-1. */
    uint32_t uid_first; /* 0 = SR_SANDBOX_UID_FIRST; never 0 (root) */
    uint32_t uid_count; /* uids from uid_first: 0 = max_processes + 1; 1 = one uid for all;
                         * else at least max_processes + 1 */
    bool no_namespaces; /* no Linux namespaces even where the kernel allows them */
};

/* Linux namespaces, in struct sr_sandbox_protections. */
#define SR_SANDBOX_NS_USER 0x01u
#define SR_SANDBOX_NS_PID 0x02u
#define SR_SANDBOX_NS_NET 0x04u
#define SR_SANDBOX_NS_MOUNT 0x08u
#define SR_SANDBOX_NS_IPC 0x10u
#define SR_SANDBOX_NS_UTS 0x20u

/* What the sandbox put in place on this machine (for the start-up log line
 * and GET /info). */
struct sr_sandbox_protections {
    uint32_t zygote_uid;    /* uid and gid of the zygote */
    uint32_t job_uid_first; /* job processes run as uid (and gid) job_uid_first .. */
    uint32_t job_uid_count; /* .. + job_uid_count - 1, one each; 1: they share job_uid_first */
    unsigned zygote_ns;     /* SR_SANDBOX_NS_*: namespaces of the zygote apart from the daemon's */
    unsigned job_ns;        /* SR_SANDBOX_NS_*: namespaces each job process has to itself */
    bool empty_root;        /* job processes see an empty read-only root */
    bool bounding_cleared;  /* capability bounding sets are empty too (not possible for an
                             * ordinary user without user namespaces) */
};

/* Forks the zygote and waits until it has given up its privileges (and
 * checked what job processes can get). Copies cfg. Returns owned:
 * sr_sandbox_free(). Call it from the main thread, before any thread starts
 * and before keys or secrets are loaded: every job process is a copy of the
 * memory the program has at this point, and the zygote is tied to the
 * calling thread's life (PR_SET_PDEATHSIG). Several sandboxes may be
 * created in a row: the background reaper thread of each starts with its
 * first job. Where the kernel refuses namespaces the sandbox starts without
 * them (sr_sandbox_protections() says what is in place). SR_EINVAL without
 * job_fn, with an unknown isolation or a uid range too small for
 * max_processes; SR_EIO when the fork fails or the zygote cannot give up
 * root (the message says why). */
sr_status sr_sandbox_new(const struct sr_sandbox_config *cfg, sr_sandbox **out, sr_err *err);

/* Kills every job process and the zygote and waits for them. NULL is a no-op.
 * No sr_sandbox_run() may be in progress. */
void sr_sandbox_free(sr_sandbox *sb);

/* What is in place (never fails; the sandbox must be alive or not). */
void sr_sandbox_protections(const sr_sandbox *sb, struct sr_sandbox_protections *out);

/* One line for logs: "zygote uid 2000000000 with its own pid, net, ...;
 * job processes: uids 2000000001-2000000064, own user, pid, ... namespaces,
 * empty read-only root; no capabilities; seccomp". Returns out. */
char *sr_sandbox_protections_describe(const struct sr_sandbox_protections *p, char *out,
                                      size_t cap);

struct sr_sandbox_limits {
    uint64_t wall_ms;           /* SIGKILL after this; 0 (or more) = SR_MAX_TIMEOUT_S */
    uint64_t memory_bytes;      /* SIGKILL when the RSS passes this; 0 = no watch */
    sr_sandbox_host_fn host_fn; /* NULL: host calls are refused */
    void *host_arg;
    bool discard_after;        /* end the process after this job, whatever it answers (it received
                                * another owner's secret, or one bound to this code) */
    const char *label;         /* borrowed: names the job in the process's log lines (the job id) */
    sr_sandbox_cancel *cancel; /* borrowed, NULL: none. Once fired, the run's process is
                                * killed at once (SR_SANDBOX_CANCELLED) */
    /* NULL: answers carry no descriptor. Else *host_fd starts at -1; a
     * host_fn that sets it to a descriptor has it sent with its (SR_OK)
     * answer (SCM_RIGHTS), and the supervisor closes it after and sets -1
     * again (sr_sandbox_hostcall_fd receives it). */
    int *host_fd;
};

enum sr_sandbox_outcome {
    SR_SANDBOX_OK = 0,    /* job_fn answered; resp holds its bytes */
    SR_SANDBOX_TIMEOUT,   /* killed at the wall clock */
    SR_SANDBOX_MEMORY,    /* killed at the memory cap */
    SR_SANDBOX_CRASHED,   /* died by itself (signal or exit), or job_fn failed */
    SR_SANDBOX_CANCELLED, /* killed because lim->cancel was fired */
};

struct sr_sandbox_report {
    enum sr_sandbox_outcome outcome;
    int signal;        /* terminating signal when CRASHED by a signal, else 0 */
    int exit_status;   /* exit status when CRASHED by an exit (a runtime's own stop) */
    uint64_t cpu_us;   /* CPU time of the job process (all threads) during this job */
    uint64_t wall_us;  /* wall time of this job */
    uint64_t peak_rss; /* bytes, highest RSS seen */
    char detail[256];  /* for CRASHED: what happened ("killed by signal 11 (SIGSEGV)") */
};

/* Runs one job for 'owner' (borrowed) in a job process of that owner and
 * blocks until it ends. On SR_OK, *rep says how it ended and, for
 * SR_SANDBOX_OK, the job_fn's bytes were appended to resp (a response larger
 * than resp->max kills the process: SR_SANDBOX_CRASHED). When max_processes
 * are all busy it waits for one (idle processes of other owners are evicted
 * first); that wait is not part of wall_ms. Other statuses mean the sandbox
 * itself failed (zygote gone: SR_EIO; SR_ENOMEM; SR_EINVAL for NULL
 * arguments; SR_ELIMIT for len > SR_MAX_IPC_FRAME). Thread-safe. */
sr_status sr_sandbox_run(sr_sandbox *sb, const char *owner, const uint8_t *req, size_t len,
                         const struct sr_sandbox_limits *lim, sr_buf *resp,
                         struct sr_sandbox_report *rep, sr_err *err);

/* A cancel for one run at a time (an eventfd). SR_EIO when the system has
 * none to give. Returns owned: _free (NULL is a no-op; no run may be using
 * it). */
sr_status sr_sandbox_cancel_new(sr_sandbox_cancel **out, sr_err *err);
void sr_sandbox_cancel_free(sr_sandbox_cancel *c);
/* Fires it, from any thread: a run using it (now or later) has its process
 * killed within a poll's wake-up (host calls in progress finish first).
 * Idempotent. */
void sr_sandbox_cancel_fire(sr_sandbox_cancel *c);
/* Whether it was fired. */
bool sr_sandbox_cancel_fired(const sr_sandbox_cancel *c);

/* true while the zygote is alive (for GET /ready). */
bool sr_sandbox_alive(sr_sandbox *sb);

/* Live job processes (busy and warm), for /info. */
unsigned sr_sandbox_process_count(sr_sandbox *sb);
/* The same split: running a job (*busy) or kept for their owner (*warm),
 * for GET /metrics. */
void sr_sandbox_process_states(sr_sandbox *sb, unsigned *busy, unsigned *warm);

/* In the job process, from job_fn: sends a host call to the supervisor and
 * waits for its answer (appended to resp). SR_EDENIED when the run has no
 * host_fn. */
sr_status sr_sandbox_hostcall(sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
                              sr_err *err);

/* sr_sandbox_hostcall() whose answer may carry a descriptor (lim->host_fd):
 * *fd is it (the caller's, close-on-exec) or -1. A descriptor that comes
 * with an answer to sr_sandbox_hostcall() is closed. */
sr_status sr_sandbox_hostcall_fd(sr_sandbox_child *child, const uint8_t *req, size_t len,
                                 sr_buf *resp, int *fd, sr_err *err);

/* In the job process: while fd >= 0, an openat of "/proc/self/fd/<fd>"
 * read-only with O_CLOEXEC (what dlopen of a received memfd does) opens a
 * duplicate of fd; every other open still fails with EACCES. -1 ends it.
 * Only where job processes have the empty root (struct
 * sr_sandbox_protections); elsewhere that open fails too. */
void sr_sandbox_child_allow_open(sr_sandbox_child *child, int fd);

/* In the job process: the fd of /proc/self/statm, opened before seccomp
 * (pread() it at offset 0 to watch the process's own RSS). Returns borrowed,
 * valid for the life of the process; -1 if child is NULL. */
int sr_sandbox_child_statm_fd(const sr_sandbox_child *child);

/* In the job process, any thread: sends one line to the daemon's log, where
 * the supervisor writes it with the job's label and the process's pid. At
 * most SR_MAX_SANDBOX_LOG_LINES per job of at most SR_MAX_SANDBOX_LOG_LINE
 * bytes (longer ones are cut); the rest are dropped and counted. sr_log()
 * in a job process comes here too. Never pass guest output or a secret. */
void sr_sandbox_log(sr_sandbox_child *child, enum sr_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* SR_SANDBOX_H */
