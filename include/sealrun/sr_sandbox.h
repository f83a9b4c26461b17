/*
 * sr_sandbox.h - the process model of design.md section 2: a zygote that
 * forks job processes, each under rlimits, no_new_privs and a seccomp
 * allowlist; the supervisor side that sends a job, enforces the wall clock
 * with SIGKILL, watches memory and turns a dead process into a report.
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

typedef struct sr_sandbox sr_sandbox;
typedef struct sr_sandbox_child sr_sandbox_child;

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

struct sr_sandbox_config {
    enum sr_isolation isolation;
    unsigned max_jobs_per_process; /* tenant mode; 0 = 256 */
    unsigned idle_ms;              /* tenant mode; 0 = 30000 */
    unsigned max_processes;        /* live job processes, busy or warm; 0 = 64 */
    sr_sandbox_proc_init_fn proc_init;
    sr_sandbox_job_fn job_fn;
    void *arg; /* borrowed, given to both callbacks; must be valid in the fork */
};

/* Forks the zygote. Copies cfg. Returns owned: sr_sandbox_free().
 * Call it from the main thread, before any thread starts and before keys or
 * secrets are loaded: every job process is a copy of the memory the program
 * has at this point, and the zygote is tied to the calling thread's life
 * (PR_SET_PDEATHSIG). Several sandboxes may be created in a row: the
 * background reaper thread of each starts with its first job.
 * SR_EINVAL without job_fn or with an unknown isolation; SR_EIO when the
 * fork fails. */
sr_status sr_sandbox_new(const struct sr_sandbox_config *cfg, sr_sandbox **out, sr_err *err);

/* Kills every job process and the zygote and waits for them. NULL is a no-op.
 * No sr_sandbox_run() may be in progress. */
void sr_sandbox_free(sr_sandbox *sb);

struct sr_sandbox_limits {
    uint64_t wall_ms;           /* SIGKILL after this; 0 (or more) = SR_MAX_TIMEOUT_S */
    uint64_t memory_bytes;      /* SIGKILL when the RSS passes this; 0 = no watch */
    sr_sandbox_host_fn host_fn; /* NULL: host calls are refused */
    void *host_arg;
    bool discard_after; /* end the process after this job, whatever it answers */
};

enum sr_sandbox_outcome {
    SR_SANDBOX_OK = 0,  /* job_fn answered; resp holds its bytes */
    SR_SANDBOX_TIMEOUT, /* killed at the wall clock */
    SR_SANDBOX_MEMORY,  /* killed at the memory cap */
    SR_SANDBOX_CRASHED, /* died by itself (signal or exit), or job_fn failed */
};

struct sr_sandbox_report {
    enum sr_sandbox_outcome outcome;
    int signal;        /* terminating signal when CRASHED by a signal, else 0 */
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

/* true while the zygote is alive (for GET /ready). */
bool sr_sandbox_alive(sr_sandbox *sb);

/* Live job processes (busy and warm), for /info. */
unsigned sr_sandbox_process_count(sr_sandbox *sb);

/* In the job process, from job_fn: sends a host call to the supervisor and
 * waits for its answer (appended to resp). SR_EDENIED when the run has no
 * host_fn. */
sr_status sr_sandbox_hostcall(sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
                              sr_err *err);

/* In the job process: the fd of /proc/self/statm, opened before seccomp
 * (pread() it at offset 0 to watch the process's own RSS). Returns borrowed,
 * valid for the life of the process; -1 if child is NULL. */
int sr_sandbox_child_statm_fd(const sr_sandbox_child *child);

#endif /* SR_SANDBOX_H */
