/* SPDX-License-Identifier: MIT
 *
 * seccomp.c - the syscall allowlist of a job process (libseccomp).
 *
 * Policy (summarised for readers in docs/security-model.md):
 *   - Default action: SCMP_ACT_KILL_PROCESS. A syscall nobody planned for
 *     (ptrace, process_vm_*, bpf, mount, keyctl, io_uring, ...) kills the job
 *     process; the supervisor reports it as "killed by signal 31 (SIGSYS)".
 *     Killing rather than failing makes a probe or an exploit loud and ends
 *     the process before it can try a second path.
 *   - Friendly refusals: the calls a curious guest or an engine probe makes
 *     on purpose (files, sockets, exec, fork) fail with EACCES/EPERM instead,
 *     so the engine can turn them into an ordinary error. clone3 gets ENOSYS
 *     because its flags live in memory that seccomp cannot inspect; glibc then
 *     falls back to clone(), whose flags we filter: threads only.
 *   - Signals only to this process (kill/tgkill with our own pid).
 *   - openat, where the process has the empty root, traps (SIGSYS) into
 *     child.c's handler, which answers EACCES like the rule above, except
 *     for dlopen's read-only open of /proc/self/fd/N of the one descriptor
 *     the runner allows at that moment (the native tier's object, a sealed
 *     memfd the supervisor sent: docs/wasm.md "Two tiers"), which gets a
 *     duplicate of it. Nothing else is ever opened.
 *   - Everything else on the list works on fds the process already has
 *     (stdio on /dev/null, the job socket, /proc/self/statm, and
 *     what proc_init opened) or on the process's own memory and threads.
 *   - Every thread: proc_init starts JavaScriptCore's threads before the
 *     filter exists, so it is loaded with TSYNC (a filter only on the
 *     calling thread would leave the JIT and GC threads unfiltered).
 * The list was found by running JavaScriptCore (JIT on and off, GC under
 * pressure, large allocations) under strace -f; tests/unit/sandbox_jsc_test.c
 * keeps it honest.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>

/* Allowed with any arguments. */
static const int sr_allow[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    SCMP_SYS(close),
    SCMP_SYS(lseek),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(statx),
    SCMP_SYS(poll),
    SCMP_SYS(ppoll),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(mremap),
    SCMP_SYS(futex),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(time),
    SCMP_SYS(getrandom),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigtimedwait),
    SCMP_SYS(rt_sigsuspend),
    SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getppid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(getrusage),
    SCMP_SYS(getrlimit),
    SCMP_SYS(sysinfo),
    SCMP_SYS(uname),
    SCMP_SYS(getcpu),
    SCMP_SYS(set_robust_list),
    SCMP_SYS(get_robust_list),
    SCMP_SYS(set_tid_address),
    SCMP_SYS(rseq),
    SCMP_SYS(membarrier),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(eventfd2),
    SCMP_SYS(pipe2),
    SCMP_SYS(dup),
};

/* Refused with an errno: what probes and engines try on purpose. */
static const struct {
    int nr;
    int err;
} sr_refuse[] = {
    {SCMP_SYS(open), EACCES},       {SCMP_SYS(openat2), EACCES},
    {SCMP_SYS(creat), EACCES},      {SCMP_SYS(execve), EACCES},
    {SCMP_SYS(execveat), EACCES},   {SCMP_SYS(socket), EACCES},
    {SCMP_SYS(socketpair), EACCES}, {SCMP_SYS(connect), EACCES},
    {SCMP_SYS(bind), EACCES},       {SCMP_SYS(listen), EACCES},
    {SCMP_SYS(accept), EACCES},     {SCMP_SYS(accept4), EACCES},
    {SCMP_SYS(readlink), EACCES},   {SCMP_SYS(readlinkat), EACCES},
    {SCMP_SYS(access), EACCES},     {SCMP_SYS(faccessat), EACCES},
    {SCMP_SYS(faccessat2), EACCES}, {SCMP_SYS(mkdir), EACCES},
    {SCMP_SYS(mkdirat), EACCES},    {SCMP_SYS(unlink), EACCES},
    {SCMP_SYS(unlinkat), EACCES},   {SCMP_SYS(rename), EACCES},
    {SCMP_SYS(renameat2), EACCES},  {SCMP_SYS(fork), EPERM},
    {SCMP_SYS(vfork), EPERM},       {SCMP_SYS(clone3), ENOSYS},
    {SCMP_SYS(setrlimit), EPERM},   {SCMP_SYS(sched_setaffinity), EPERM},
    {SCMP_SYS(setpriority), EPERM}, {SCMP_SYS(sched_setscheduler), EPERM},
    {SCMP_SYS(ioctl), ENOTTY},
};

static const int sr_prctl_ok[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_SET_VMA};
static const int sr_fcntl_ok[] = {F_GETFD, F_SETFD, F_GETFL, F_SETFL};

/* Rules whose arguments matter: threads only, signals to self only,
 * read-only rlimits, harmless prctl and fcntl commands. */
static int
add_arg_rules(scmp_filter_ctx ctx, pid_t self, bool trap_open)
{
    int rc = 0;
    const scmp_datum_t me = (scmp_datum_t)self;

    rc |= seccomp_rule_add(ctx, trap_open ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EACCES),
                           SCMP_SYS(openat), 0);

    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, me));
    rc |=
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, me));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, me));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, me));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 2, SCMP_A0(SCMP_CMP_EQ, 0),
                           SCMP_A2(SCMP_CMP_EQ, 0));
    for (size_t i = 0; i < sizeof(sr_prctl_ok) / sizeof(sr_prctl_ok[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                               SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sr_prctl_ok[i]));
    for (size_t i = 0; i < sizeof(sr_fcntl_ok) / sizeof(sr_fcntl_ok[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
                               SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)sr_fcntl_ok[i]));
    return rc;
}

sr_status
sr_sandbox__seccomp_install(pid_t self, bool trap_open, sr_err *err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int rc = 0;

    if (!ctx)
        return sr_err_set(err, SR_ENOMEM, "cannot create the seccomp filter");
    for (size_t i = 0; i < sizeof(sr_allow) / sizeof(sr_allow[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sr_allow[i], 0);
    for (size_t i = 0; i < sizeof(sr_refuse) / sizeof(sr_refuse[0]); i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)sr_refuse[i].err), sr_refuse[i].nr, 0);
    rc |= add_arg_rules(ctx, self, trap_open);
    rc |= seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc != 0) {
        seccomp_release(ctx);
        return sr_err_set(err, SR_EINTERNAL, "cannot add a seccomp rule");
    }
    /* libseccomp sets PR_SET_NO_NEW_PRIVS itself (SCMP_FLTATR_CTL_NNP, on by
     * default); doing it here as well makes the order explicit. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        seccomp_release(ctx);
        return sr_err_set(err, SR_EIO, "cannot set PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    }
    rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0)
        return sr_err_set(err, SR_EIO, "cannot load the seccomp filter: %s", strerror(-rc));
    return SR_OK;
}
