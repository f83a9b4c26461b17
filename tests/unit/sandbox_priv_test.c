/* SPDX-License-Identifier: MIT
 *
 * tests/unit/sandbox_priv_test.c - what the zygote and a running job
 * process hold, read from outside in /proc (status, environ, fd, ns) as an
 * operator would: uid, capabilities, no_new_privs, seccomp, namespaces, an
 * empty environment, stdio on /dev/null; that a job cannot see or signal
 * another job; that its log lines reach the daemon's log through the
 * sandbox, capped, and nothing through fd 2; that request and response
 * bytes are wiped; and that the sandbox starts (with less) where the kernel
 * refuses namespaces, and as an ordinary user.
 *
 * The group's sandboxes are created before any thread starts. Tests that
 * change the process (seccomp, uid) fork first and report by exit status.
 * Checks that need root to read another process's /proc say so and skip
 * when the tests run as an ordinary user. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "sandbox_int.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_sandbox.h"

#define CANARY "sealrun-canary-7f3a9c2e51d84b06"
/* malloc's free lists overwrite the first bytes of a freed block: the
 * canary comes after enough padding to survive that unless wiped */
#define PADDING "--------------------------------"

/* ---- the job function: small text commands ---- */

static sr_status
p_job(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len, sr_buf *resp,
      bool *discard, sr_err *err)
{
    const char *r = (const char *)req;
    (void)arg, (void)state, (void)discard;

    if (strncmp(r, "sleep", 5) == 0) {
        for (;;)
            (void)nanosleep(&(struct timespec){.tv_sec = 1}, NULL);
    }
    if (strncmp(r, "see:", 4) == 0) { /* another job process's pid, as the daemon sees it */
        pid_t other = (pid_t)strtol(r + 4, NULL, 10);
        struct sched_param sp;
        int e_kill = kill(other, 0) < 0 ? errno : 0;
        int e_sched = sched_getparam(other, &sp) < 0 ? errno : 0;
        return sr_buf_printf(resp, err, "%d %d %d %d", e_kill, e_sched, (int)getpid(),
                             (int)getppid());
    }
    if (strncmp(r, "log:", 4) == 0) {
        long n = strtol(r + 4, NULL, 10);
        for (long i = 0; i < n; i++) {
            if (i % 2)
                sr_log(SR_LOG_INFO, "test", "via sr_log %ld", i);
            else
                sr_sandbox_log(child, SR_LOG_WARN, "line %ld", i);
        }
        ssize_t w = write(2, "fd2-leak\n", 9); /* fd 2 is /dev/null: goes nowhere */
        return sr_buf_printf(resp, err, "%zd", w);
    }
    if (strcmp(r, "logone") == 0) {
        sr_sandbox_log(child, SR_LOG_INFO, "two\nlines\x1b[2J");
        return sr_buf_printf(resp, err, "ok");
    }
    if (strncmp(r, "keep:", 5) == 0) { /* where the request and the response live */
        sr_status rc = sr_buf_reserve(resp, 4096, err);
        if (rc == SR_OK)
            rc = sr_buf_printf(resp, err, "%p %p %zu " PADDING, (const void *)req,
                               (void *)resp->data, len);
        return rc == SR_OK ? sr_buf_append(resp, r + 5, len - 5, err) : rc;
    }
    return sr_buf_printf(resp, err, "ok");
}

static sr_sandbox *g_tenant;
static sr_sandbox *g_job;

static int
group_setup(void **state)
{
    (void)state;
    struct sr_sandbox_config c = {.job_fn = p_job};
    if (sr_sandbox_new(&c, &g_tenant, NULL) != SR_OK)
        return -1;
    c.isolation = SR_ISOLATION_JOB;
    return sr_sandbox_new(&c, &g_job, NULL) == SR_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    sr_sandbox_free(g_tenant);
    sr_sandbox_free(g_job);
    return 0;
}

/* ---- reading /proc ---- */

/* The value of "Key:" in /proc/PID/status (tabs squeezed to spaces). */
static bool
status_field(int pid, const char *key, char *out, size_t cap)
{
    char path[64], line[512];
    size_t klen = strlen(key);
    bool found = false;

    (void)snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ':')
            continue;
        const char *p = line + klen + 1;
        size_t n = 0;
        for (; *p && *p != '\n' && n + 1 < cap; p++) {
            if ((*p == '\t' || *p == ' ') && (n == 0 || out[n - 1] == ' '))
                continue;
            out[n++] = *p == '\t' ? ' ' : *p;
        }
        while (n && out[n - 1] == ' ')
            n--;
        out[n] = '\0';
        found = true;
    }
    (void)fclose(f);
    return found;
}

static void
assert_field(int pid, const char *key, const char *want)
{
    char got[256];
    assert_true(status_field(pid, key, got, sizeof(got)));
    if (strcmp(got, want) != 0)
        print_message("pid %d %s: '%s', want '%s'\n", pid, key, got, want);
    assert_string_equal(got, want);
}

/* Bytes of /proc/PID/environ that are not NUL (the block may be empty or
 * wiped); -1 if unreadable. */
static long
environ_bytes(int pid)
{
    char path[64], buf[4096];
    long n = 0;
    ssize_t r;

    (void)snprintf(path, sizeof(path), "/proc/%d/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while ((r = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < r; i++)
            n += buf[i] != '\0';
    (void)close(fd);
    return n;
}

/* The fds of pid (count), and whether 0, 1 and 2 are /dev/null. */
static int
fd_count(int pid, bool *stdio_null)
{
    char path[64];
    struct stat null_st, st;
    int n = 0, ok = 0;

    assert_int_equal(stat("/dev/null", &null_st), 0);
    (void)snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        long fd = strtol(e->d_name, NULL, 10);
        char fpath[96];
        (void)snprintf(fpath, sizeof(fpath), "%s/%ld", path, fd);
        if (fd <= 2 && stat(fpath, &st) == 0 && S_ISCHR(st.st_mode) &&
            st.st_rdev == null_st.st_rdev)
            ok++;
    }
    (void)closedir(d);
    *stdio_null = ok == 3;
    return n;
}

static bool
same_ns(int a, int b, const char *ns)
{
    char pa[64], pb[64], la[64] = "", lb[64] = "";
    (void)snprintf(pa, sizeof(pa), "/proc/%d/ns/%s", a, ns);
    (void)snprintf(pb, sizeof(pb), "/proc/%d/ns/%s", b, ns);
    assert_true(readlink(pa, la, sizeof(la) - 1) > 0);
    assert_true(readlink(pb, lb, sizeof(lb) - 1) > 0);
    return strcmp(la, lb) == 0;
}

static bool
can_inspect(void)
{
    if (geteuid() == 0)
        return true;
    print_message("not root: another process's /proc/PID/{environ,fd,ns} is unreadable, skipped\n");
    return false;
}

/* ---- a job that runs while we look ---- */

struct bg_job {
    sr_sandbox *sb;
    const char *owner;
    pthread_t t;
    struct sr_sandbox_report rep;
};

static void *
bg_main(void *arg)
{
    struct bg_job *b = arg;
    sr_buf resp;
    const struct sr_sandbox_limits lim = {.wall_ms = 1500};
    sr_buf_init(&resp, 1024);
    (void)sr_sandbox_run(b->sb, b->owner, (const uint8_t *)"sleep", 5, &lim, &resp, &b->rep, NULL);
    sr_buf_fini(&resp);
    return NULL;
}

/* Starts a sleeping job of 'owner' and returns its process's pid once it
 * runs (the busy process of that owner in the pool). */
static int
bg_start(struct bg_job *b, sr_sandbox *sb, const char *owner)
{
    *b = (struct bg_job){.sb = sb, .owner = owner};
    assert_int_equal(pthread_create(&b->t, NULL, bg_main, b), 0);
    for (int i = 0; i < 400; i++) {
        int pid = 0;
        (void)pthread_mutex_lock(&sb->lock);
        for (struct sr_proc *p = sb->procs; p; p = p->next)
            if (p->busy && strcmp(p->owner, owner) == 0 && p->pid > 0)
                pid = p->pid;
        (void)pthread_mutex_unlock(&sb->lock);
        char seccomp[16];
        if (pid && status_field(pid, "Seccomp", seccomp, sizeof(seccomp)) &&
            strcmp(seccomp, "2") == 0)
            return pid; /* past its setup: what a guest would find */
        (void)nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    }
    fail_msg("the job of '%s' did not start", owner);
    return -1;
}

static void
bg_wait(struct bg_job *b)
{
    assert_int_equal(pthread_join(b->t, NULL), 0);
    assert_int_equal(b->rep.outcome, SR_SANDBOX_TIMEOUT);
}

/* ---- tests ---- */

static void
test_zygote_runs_unprivileged(void **state)
{
    (void)state;
    struct sr_sandbox_protections p;
    char want[64];
    sr_sandbox_protections(g_tenant, &p);
    int z = g_tenant->zpid;
    uint32_t uid = geteuid() == 0 ? SR_SANDBOX_UID_FIRST : (uint32_t)geteuid();

    assert_int_equal(p.zygote_uid, uid);
    (void)snprintf(want, sizeof(want), "%u %u %u %u", uid, uid, uid, uid);
    assert_field(z, "Uid", want);
    if (geteuid() == 0) {
        assert_field(z, "Gid", want);
        assert_field(z, "Groups", "");
    }
    assert_field(z, "CapEff", "0000000000000000");
    assert_field(z, "CapPrm", "0000000000000000");
    assert_field(z, "CapInh", "0000000000000000");
    assert_field(z, "CapAmb", "0000000000000000");
    assert_field(z, "CapBnd", "0000000000000000");
    assert_true(p.bounding_cleared);
    assert_field(z, "NoNewPrivs", "1");
    assert_true(p.zygote_ns & SR_SANDBOX_NS_PID);
    if (!can_inspect())
        return;
    assert_int_equal(environ_bytes(z), 0);
    bool null = false;
    assert_int_equal(fd_count(z, &null), 5); /* stdio, control socket, signalfd */
    assert_true(null);
    const char *own[] = {"pid", "net", "mnt", "ipc", "uts"};
    for (size_t i = 0; i < 5; i++)
        assert_false(same_ns(getpid(), z, own[i]));
}

/* What a guest's process holds while it runs, in either isolation mode. */
static void
check_job_process(sr_sandbox *sb)
{
    struct bg_job b;
    struct sr_sandbox_protections p;
    char want[64], nspid[64];
    sr_sandbox_protections(sb, &p);
    int pid = bg_start(&b, sb, "inspect");
    uint32_t uid = p.job_uid_first;

    if (geteuid() == 0) {
        assert_true(p.job_uid_count > 1);
        assert_true(uid > p.zygote_uid);
    }
    (void)snprintf(want, sizeof(want), "%u %u %u %u", uid, uid, uid, uid);
    assert_field(pid, "Uid", want);
    if (geteuid() == 0)
        assert_field(pid, "Gid", want);
    assert_field(pid, "CapEff", "0000000000000000");
    assert_field(pid, "CapPrm", "0000000000000000");
    assert_field(pid, "CapBnd", "0000000000000000");
    assert_field(pid, "NoNewPrivs", "1");
    assert_field(pid, "Seccomp", "2");
    assert_true(status_field(pid, "NSpid", nspid, sizeof(nspid)));
    assert_non_null(strchr(nspid, ' '));               /* seen from more than one namespace */
    assert_string_equal(strrchr(nspid, ' ') + 1, "1"); /* its own namespace's first process */
    if (can_inspect()) {
        assert_int_equal(environ_bytes(pid), 0);
        bool null = false;
        int n = fd_count(pid, &null);
        assert_true(null);
        assert_int_equal(n, 5); /* stdio, its socket, /proc/self/statm */
        const char *own[] = {"user", "pid", "mnt", "ipc", "uts"};
        for (size_t i = 0; i < 5; i++) {
            assert_false(same_ns(getpid(), pid, own[i]));
            assert_false(same_ns(sb->zpid, pid, own[i]));
        }
        assert_false(same_ns(getpid(), pid, "net"));
        assert_true(same_ns(sb->zpid, pid, "net")); /* shared: see docs/security-model.md */
    }
    assert_true(p.empty_root);
    bg_wait(&b);
}

static void
test_job_process_runs_unprivileged_tenant(void **state)
{
    (void)state;
    check_job_process(g_tenant);
}

static void
test_job_process_runs_unprivileged_job_mode(void **state)
{
    (void)state;
    check_job_process(g_job);
}

static void
test_a_job_cannot_see_or_signal_another(void **state)
{
    (void)state;
    struct bg_job b;
    int other = bg_start(&b, g_tenant, "victim");
    char cmd[32], out[64];
    sr_buf resp;
    struct sr_sandbox_report rep;
    int e_kill = -1, e_sched = -1, self = -1, parent = -1;

    (void)snprintf(cmd, sizeof(cmd), "see:%d", other);
    sr_buf_init(&resp, 256);
    assert_int_equal(sr_sandbox_run(g_tenant, "prober", (const uint8_t *)cmd, strlen(cmd), NULL,
                                    &resp, &rep, NULL),
                     SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    (void)snprintf(out, sizeof(out), "%s", resp.data);
    assert_int_equal(sscanf(out, "%d %d %d %d", &e_kill, &e_sched, &self, &parent), 4);
    assert_int_equal(e_kill, EPERM);  /* seccomp: signals only to itself */
    assert_int_equal(e_sched, ESRCH); /* its PID namespace has no such process */
    assert_int_equal(self, 1);
    assert_int_equal(parent, 0); /* the zygote is outside its namespace */
    /* and the two run as different uids */
    char ua[64], ub[64];
    assert_true(status_field(other, "Uid", ua, sizeof(ua)));
    (void)pthread_mutex_lock(&g_tenant->lock);
    int prober = 0;
    for (struct sr_proc *p = g_tenant->procs; p; p = p->next)
        if (strcmp(p->owner, "prober") == 0)
            prober = p->pid;
    (void)pthread_mutex_unlock(&g_tenant->lock);
    assert_true(prober > 0);
    assert_true(status_field(prober, "Uid", ub, sizeof(ub)));
    if (geteuid() == 0)
        assert_string_not_equal(ua, ub);
    sr_buf_fini(&resp);
    bg_wait(&b);
}

/* Runs fn with this process's stderr (the daemon's log) in a file; returns
 * what was written there (owned). */
static char *
capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/sealrun-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    (void)unlink(path);
    int saved = dup(2);
    assert_true(saved >= 0 && dup2(fd, 2) == 2);
    fn();
    assert_int_equal(dup2(saved, 2), 2);
    (void)close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)n, 0), (ssize_t)n);
    (void)close(fd);
    return text;
}

static int g_log_pid;

static void
run_logging_job(void)
{
    sr_buf resp;
    struct sr_sandbox_report rep;
    const struct sr_sandbox_limits lim = {.label = "job-log-1"};
    sr_buf_init(&resp, 256);
    assert_int_equal(
        sr_sandbox_run(g_tenant, "logger", (const uint8_t *)"log:40", 6, &lim, &resp, &rep, NULL),
        SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    assert_string_equal(resp.data, "9"); /* the write to fd 2 "worked": /dev/null */
    sr_buf_fini(&resp);
    (void)pthread_mutex_lock(&g_tenant->lock);
    for (struct sr_proc *p = g_tenant->procs; p; p = p->next)
        if (strcmp(p->owner, "logger") == 0)
            g_log_pid = p->pid;
    (void)pthread_mutex_unlock(&g_tenant->lock);
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void
test_job_log_lines_reach_the_daemon_log_capped(void **state)
{
    (void)state;
    char *log = capture_stderr(run_logging_job);
    char prefix[64];
    (void)snprintf(prefix, sizeof(prefix), "sandbox: job job-log-1 (pid %d): ", g_log_pid);

    assert_int_equal(count(log, prefix), SR_MAX_SANDBOX_LOG_LINES + 1); /* + the summary */
    assert_non_null(strstr(log, "warn sandbox: job job-log-1"));
    assert_non_null(strstr(log, "): line 0\n"));
    assert_non_null(strstr(log, "): test: via sr_log 1\n"));
    assert_null(strstr(log, "line 38")); /* past the cap */
    char dropped[96];
    (void)snprintf(dropped, sizeof(dropped), "%s8 more log lines dropped (at most %d per job)",
                   prefix, SR_MAX_SANDBOX_LOG_LINES);
    assert_non_null(strstr(log, dropped)); /* 40 lines, 32 kept */
    assert_null(strstr(log, "fd2-leak"));
    free(log);
}

static void
run_logone_job(void)
{
    sr_buf resp;
    struct sr_sandbox_report rep;
    sr_buf_init(&resp, 256);
    assert_int_equal(
        sr_sandbox_run(g_tenant, "logger", (const uint8_t *)"logone", 6, NULL, &resp, &rep, NULL),
        SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    sr_buf_fini(&resp);
}

static void
test_a_log_line_stays_one_line(void **state)
{
    (void)state;
    char *log = capture_stderr(run_logone_job);
    /* no label given: "-"; the cap is per job, so this line is kept */
    assert_non_null(strstr(log, "): two?lines?[2J\n"));
    assert_non_null(strstr(log, "sandbox: job - (pid "));
    assert_null(strstr(log, "two\n"));
    free(log);
}

/* Reads n bytes of another process's memory at addr (root only). */
static bool
peek(int pid, uintptr_t addr, char *buf, size_t n)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/mem", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t r = pread(fd, buf, n, (off_t)addr);
    (void)close(fd);
    return r == (ssize_t)n;
}

static void
test_request_and_response_bytes_are_wiped(void **state)
{
    (void)state;
    if (!can_inspect())
        return;
    const char *cmd = "keep:" PADDING CANARY;
    sr_buf resp;
    struct sr_sandbox_report rep;
    void *req_at = NULL, *resp_at = NULL;
    size_t len = 0;

    sr_buf_init(&resp, 8192);
    assert_int_equal(sr_sandbox_run(g_tenant, "wipe", (const uint8_t *)cmd, strlen(cmd), NULL,
                                    &resp, &rep, NULL),
                     SR_OK);
    assert_int_equal(rep.outcome, SR_SANDBOX_OK);
    assert_int_equal(sscanf(resp.data, "%p %p %zu", &req_at, &resp_at, &len), 3);
    assert_non_null(strstr(resp.data, CANARY));
    /* the response is wiped once it is sent: a second job on the same
     * process starts only after that */
    sr_buf_reset(&resp);
    assert_int_equal(
        sr_sandbox_run(g_tenant, "wipe", (const uint8_t *)"x", 1, NULL, &resp, &rep, NULL), SR_OK);
    assert_string_equal(resp.data, "ok");
    sr_buf_fini(&resp);
    int pid = 0;
    (void)pthread_mutex_lock(&g_tenant->lock);
    for (struct sr_proc *p = g_tenant->procs; p; p = p->next)
        if (strcmp(p->owner, "wipe") == 0)
            pid = p->pid;
    (void)pthread_mutex_unlock(&g_tenant->lock);
    /* the process is warm, the job done: both buffers are freed, and must
     * not hold the bytes any more */
    char mem[128];
    assert_int_equal(len, strlen(cmd));
    assert_true(peek(pid, (uintptr_t)req_at, mem, len));
    assert_null(memmem(mem, len, CANARY, strlen(CANARY)));
    assert_true(peek(pid, (uintptr_t)resp_at, mem, sizeof(mem)));
    assert_null(memmem(mem, sizeof(mem), CANARY, strlen(CANARY)));
}

static void
test_a_secure_buffer_wipes_what_it_outgrows(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    sr_buf b;
    sr_buf_init_secure(&b, 1u << 20);
    assert_int_equal(sr_buf_append_str(&b, CANARY, NULL), SR_OK);
    char *old = b.data;
    size_t old_cap = b.cap;
    char pad[4096];
    memset(pad, 'x', sizeof(pad));
    assert_int_equal(sr_buf_append(&b, pad, sizeof(pad), NULL), SR_OK);
    assert_ptr_not_equal(b.data, old);
    assert_non_null(strstr(b.data, CANARY));
    /* the old block sits in ASan's quarantine, untouched since free */
    __asan_unpoison_memory_region(old, old_cap);
    assert_null(memmem(old, old_cap, CANARY, strlen(CANARY)));
    __asan_poison_memory_region(old, old_cap);
    sr_buf_fini_secure(&b);
#else
    print_message("needs AddressSanitizer to look at freed memory: skipped\n");
#endif
}

/* ---- where the kernel refuses namespaces, and as an ordinary user ---- */

/* As Docker's default seccomp profile does for a container without
 * CAP_SYS_ADMIN: clone3 is ENOSYS (its flags cannot be filtered), and
 * clone and unshare with any CLONE_NEW* flag are EPERM. */
static void
refuse_namespaces(void)
{
    static const scmp_datum_t ns[] = {CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,   CLONE_NEWNS,
                                      CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ctx ? 0 : -1;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) /* any one of the flags */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
    if (rc != 0 || seccomp_load(ctx) != 0)
        _exit(90);
    seccomp_release(ctx);
}

/* In a forked child: a sandbox must start and run a job; returns through
 * the exit status (0 when all held). */
static int
child_checks(bool expect_ns, uint32_t expect_uid, struct sr_sandbox_config c)
{
    sr_sandbox *sb = NULL;
    sr_err err = {0};
    c.job_fn = p_job;
    if (sr_sandbox_new(&c, &sb, &err) != SR_OK) {
        fprintf(stderr, "sandbox: %s\n", err.msg);
        return 10;
    }
    struct sr_sandbox_protections p;
    sr_sandbox_protections(sb, &p);
    int rc = 0;
    if (p.zygote_uid != expect_uid || p.job_uid_first != (expect_ns ? p.job_uid_first : expect_uid))
        rc = 11;
    if (!expect_ns && (p.zygote_ns || p.job_ns))
        rc = 12;
    if (expect_ns && (!(p.job_ns & SR_SANDBOX_NS_USER) ||
                      (geteuid() != 0 && !(p.zygote_ns & SR_SANDBOX_NS_USER))))
        rc = 13;
    if (expect_ns && c.uid_count == 1 && (p.job_uid_first != expect_uid || p.job_uid_count != 1))
        rc = 17;
    sr_buf resp;
    struct sr_sandbox_report rep;
    sr_buf_init(&resp, 256);
    if (!rc &&
        (sr_sandbox_run(sb, "o", (const uint8_t *)"x", 1, NULL, &resp, &rep, &err) != SR_OK ||
         rep.outcome != SR_SANDBOX_OK || strcmp(resp.data, "ok") != 0))
        rc = 14;
    char caps[64];
    int pid = sb->procs ? sb->procs->pid : 0;
    if (!rc &&
        (!status_field(pid, "CapEff", caps, sizeof(caps)) || strcmp(caps, "0000000000000000") != 0))
        rc = 15;
    if (!rc && (!status_field(pid, "Seccomp", caps, sizeof(caps)) || strcmp(caps, "2") != 0))
        rc = 16;
    char line[512];
    fprintf(stderr, "%s\n", sr_sandbox_protections_describe(&p, line, sizeof(line)));
    sr_buf_fini(&resp);
    sr_sandbox_free(sb);
    return rc;
}

static int
run_forked(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int
where_namespaces_are_refused(void)
{
    refuse_namespaces();
    uint32_t uid = geteuid() == 0 ? SR_SANDBOX_UID_FIRST : (uint32_t)geteuid();
    return child_checks(false, uid, (struct sr_sandbox_config){0});
}

static void
test_starts_where_the_kernel_refuses_namespaces(void **state)
{
    (void)state;
    assert_int_equal(run_forked(where_namespaces_are_refused), 0);
}

static int
with_namespaces_off(void)
{
    uint32_t uid = geteuid() == 0 ? SR_SANDBOX_UID_FIRST + 7 : (uint32_t)geteuid();
    return child_checks(false, uid,
                        (struct sr_sandbox_config){.no_namespaces = true,
                                                   .uid_first = SR_SANDBOX_UID_FIRST + 7,
                                                   .uid_count = 1});
}

static void
test_runs_without_namespaces_when_told(void **state)
{
    (void)state;
    assert_int_equal(run_forked(with_namespaces_off), 0);
}

static int
one_uid_for_all(void)
{
    if (geteuid() != 0)
        return 0; /* a uid of their own needs root */
    struct sr_sandbox_config c = {.uid_first = SR_SANDBOX_UID_FIRST + 9, .uid_count = 1};
    return child_checks(true, SR_SANDBOX_UID_FIRST + 9, c);
}

static void
test_one_uid_for_the_zygote_and_every_job(void **state)
{
    (void)state;
    assert_int_equal(run_forked(one_uid_for_all), 0);
}

static int
as_an_ordinary_user(void)
{
    if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(54321, 54321, 54321) != 0 ||
                           setresuid(54321, 54321, 54321) != 0))
        return 20;
    return child_checks(true, (uint32_t)geteuid(), (struct sr_sandbox_config){0});
}

static void
test_runs_as_an_ordinary_user(void **state)
{
    (void)state;
    assert_int_equal(run_forked(as_an_ordinary_user), 0);
}

static void
test_refuses_a_uid_range_too_small(void **state)
{
    (void)state;
    sr_sandbox *sb = NULL;
    sr_err err = {0};
    const struct sr_sandbox_config c = {
        .job_fn = p_job, .max_processes = 8, .uid_first = 3000000000u, .uid_count = 5};
    assert_int_equal(sr_sandbox_new(&c, &sb, &err), SR_EINVAL);
    assert_null(sb);
    assert_non_null(strstr(err.msg, "of 8 job processes, got 5 uids"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zygote_runs_unprivileged),
        cmocka_unit_test(test_job_process_runs_unprivileged_tenant),
        cmocka_unit_test(test_job_process_runs_unprivileged_job_mode),
        cmocka_unit_test(test_a_job_cannot_see_or_signal_another),
        cmocka_unit_test(test_job_log_lines_reach_the_daemon_log_capped),
        cmocka_unit_test(test_a_log_line_stays_one_line),
        cmocka_unit_test(test_request_and_response_bytes_are_wiped),
        cmocka_unit_test(test_a_secure_buffer_wipes_what_it_outgrows),
        cmocka_unit_test(test_starts_where_the_kernel_refuses_namespaces),
        cmocka_unit_test(test_runs_without_namespaces_when_told),
        cmocka_unit_test(test_one_uid_for_the_zygote_and_every_job),
        cmocka_unit_test(test_runs_as_an_ordinary_user),
        cmocka_unit_test(test_refuses_a_uid_range_too_small),
    };
    return cmocka_run_group_tests_name("sandbox_priv", tests, group_setup, group_teardown);
}
