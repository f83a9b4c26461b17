/* SPDX-License-Identifier: MIT
 *
 * tests/unit/sandbox_zygote_test.c - the zygote's life: what it holds, that
 * it and its job processes die with the daemon, and what the supervisor
 * says when it is gone. Each test creates and frees its own sandbox, so no
 * sandbox thread is alive when the next one forks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_int.h"
#include "sealrun/sr_sandbox.h"

static sr_status
z_job(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
      bool *discard, sr_err *err)
{
    (void)arg, (void)state, (void)req, (void)len, (void)discard;
    if (len == 5 && memcmp(req, "sleep", 5) == 0) {
        for (;;)
            (void)nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
    }
    return sr_buf_printf(resp, err, "%d", child->sock);
}

static sr_sandbox *
new_sandbox(void)
{
    const struct sr_sandbox_config c = {.job_fn = z_job};
    sr_sandbox *sb = NULL;
    sr_err err = {0};
    assert_int_equal(sr_sandbox_new(&c, &sb, &err), SR_OK);
    return sb;
}

/* Returns the job process's pid (as this process sees it: inside, getpid()
 * may be 1) and its socket fd. */
static void
job_pid(sr_sandbox *sb, int *pid, int *sock)
{
    sr_buf resp;
    struct sr_sandbox_report rep;

    sr_buf_init(&resp, 256);
    assert_int_equal(
        sr_sandbox_run(sb, "owner", (const uint8_t *)"pid", 3, NULL, &resp, &rep, NULL), SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    assert_int_equal(sscanf(resp.data, "%d", sock), 1);
    assert_non_null(sb->procs); /* the warm process of that job */
    *pid = sb->procs->pid;
    sr_buf_fini(&resp);
}

/* Lists /proc/PID/fd into a bitmask of fds below 62 (bit 62: any other); -1 if unreadable. */
static long long
proc_fd_mask(int pid)
{
    char path[64];
    unsigned long long mask = 0;

    (void)snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        mask |= fd < 63 ? 1ull << fd : 1ull << 62;
    }
    (void)closedir(d);
    return (long long)mask;
}

static void
test_zygote_and_job_processes_hold_only_their_fds(void **state)
{
    (void)state;
    int leak1 = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must not reach the zygote */
    int leak2 = open("/dev/null", O_RDONLY);
    assert_true(leak1 >= 0 && leak2 >= 0);
    sr_sandbox *sb = new_sandbox();
    int pid = 0, sock = -1;
    job_pid(sb, &pid, &sock);

    long long z = proc_fd_mask(sb->zpid);
    long long j = proc_fd_mask(pid);
    if (z < 0 || j < 0) {
        print_message("cannot read /proc/PID/fd (not root?): skipping the fd check\n");
    } else {
        assert_int_equal(z, 0x1f); /* stdio, control socket, signalfd */
        long long want_job = 0x7 | (1ll << sock);
        assert_int_equal(j & want_job, want_job);
        assert_int_equal(__builtin_popcountll(j), 5); /* + /proc/self/statm */
    }
    sr_sandbox_free(sb);
    (void)close(leak1);
    (void)close(leak2);
}

/* Waits until the process behind pidfd has ended. */
static bool
ended(int pidfd, int ms)
{
    struct pollfd pf = {.fd = pidfd, .events = POLLIN};
    return poll(&pf, 1, ms) == 1;
}

static void
test_zygote_and_jobs_die_with_the_daemon(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t daemon = fork();
    assert_true(daemon >= 0);
    if (daemon == 0) {
        /* The "daemon": a sandbox with a busy job, then wait to be killed. */
        sr_sandbox *sb = new_sandbox();
        int pid = 0, sock = -1;
        job_pid(sb, &pid, &sock);
        int pids[2] = {sb->zpid, pid};
        if (write(pfd[1], pids, sizeof(pids)) != (ssize_t)sizeof(pids))
            _exit(1);
        for (;;)
            (void)pause();
    }
    int pids[2];
    assert_int_equal(read(pfd[0], pids, sizeof(pids)), (ssize_t)sizeof(pids));
    int zfd = (int)syscall(SYS_pidfd_open, pids[0], 0);
    int jfd = (int)syscall(SYS_pidfd_open, pids[1], 0);
    assert_true(zfd >= 0 && jfd >= 0);
    assert_false(ended(zfd, 0));
    assert_false(ended(jfd, 0));
    assert_int_equal(kill(daemon, SIGKILL), 0);
    assert_int_equal(waitpid(daemon, NULL, 0), daemon);
    assert_true(ended(zfd, 30000));
    assert_true(ended(jfd, 30000));
    (void)close(zfd);
    (void)close(jfd);
    (void)close(pfd[0]);
    (void)close(pfd[1]);
}

static void
test_reports_a_dead_zygote(void **state)
{
    (void)state;
    sr_sandbox *sb = new_sandbox();
    int pid = 0, sock = -1;
    sr_err err = {0};
    sr_buf resp;
    struct sr_sandbox_report rep;

    job_pid(sb, &pid, &sock);
    assert_true(sr_sandbox_alive(sb));
    assert_int_equal(kill(sb->zpid, SIGKILL), 0);
    for (int i = 0; i < 2000 && sr_sandbox_alive(sb); i++) /* 20 s on a loaded machine */
        (void)usleep(10000);
    assert_false(sr_sandbox_alive(sb));
    /* The warm job process died with the zygote; a new one cannot be made. */
    sr_buf_init(&resp, 256);
    assert_int_equal(
        sr_sandbox_run(sb, "owner", (const uint8_t *)"pid", 3, NULL, &resp, &rep, &err), SR_EIO);
    print_message("dead zygote: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "zygote is gone"));
    sr_buf_fini(&resp);
    sr_sandbox_free(sb);
}

static void
test_free_ends_the_job_processes_and_the_zygote(void **state)
{
    (void)state;
    sr_sandbox *sb = new_sandbox();
    int pid = 0, sock = -1;

    job_pid(sb, &pid, &sock);
    int zfd = (int)syscall(SYS_pidfd_open, sb->zpid, 0);
    int jfd = (int)syscall(SYS_pidfd_open, pid, 0);
    assert_true(zfd >= 0 && jfd >= 0);
    assert_int_equal(sr_sandbox_process_count(sb), 1);
    sr_sandbox_free(sb);
    assert_true(ended(zfd, 30000));
    assert_true(ended(jfd, 30000));
    (void)close(zfd);
    (void)close(jfd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zygote_and_job_processes_hold_only_their_fds),
        cmocka_unit_test(test_zygote_and_jobs_die_with_the_daemon),
        cmocka_unit_test(test_reports_a_dead_zygote),
        cmocka_unit_test(test_free_ends_the_job_processes_and_the_zygote),
    };
    return cmocka_run_group_tests_name("sandbox_zygote", tests, NULL, NULL);
}
