/* SPDX-License-Identifier: MIT
 *
 * store_durability_test.c - concurrency and crash durability of the SQLite
 * store: several threads writing at once (group commit, with failing writes
 * in the same batches), and a child process that acknowledges rows over a
 * pipe and is then SIGKILLed: every acknowledged row must be there after
 * reopening, and a job it left running is interrupted, never lost. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"
#include "store_int.h"
#include "test_tmp.h"

#define THREADS 4
#define PER_THREAD 150
#define ACKED 120 /* rows the parent waits for before killing the child */

static int
setup(void **state)
{
    return test_tmp_setup(state, "store_dur");
}

static int
teardown(void **state)
{
    return test_tmp_teardown(state);
}

static struct sr_job_row
job(unsigned n, const char *owner, enum sr_job_state s)
{
    struct sr_job_row r = {
        .owner = (char *)(uintptr_t)owner,
        .state = s,
        .runtime = "js",
        .request_json = "{\"script\":\"export function main(){return 1}\"}",
        .created_at_ms = 1000 + n,
        .expires_at_ms = INT64_MAX,
    };
    (void)snprintf(r.id, sizeof(r.id), "%032x", n);
    return r;
}

struct worker {
    sr_store *st;
    unsigned base;
    int ok;
    int conflicts;
    int other;
};

static void *
insert_many(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        struct sr_job_row r = job(w->base + i, "alice", SR_JOB_QUEUED);
        sr_status rc = sr_store_job_insert(w->st, &r, NULL);
        w->ok += rc == SR_OK;
        w->other += rc != SR_OK;
        /* every thread also tries the same shared ids: one wins, the rest
         * conflict, and the conflicts must not undo writes batched with them */
        struct sr_job_row dup = job(i, "alice", SR_JOB_QUEUED);
        rc = sr_store_job_insert(w->st, &dup, NULL);
        w->ok += rc == SR_OK;
        w->conflicts += rc == SR_ECONFLICT;
        w->other += rc != SR_OK && rc != SR_ECONFLICT;
        /* and an update of its own job, as an async job does */
        r.state = SR_JOB_COMPLETED;
        r.result_json = "{}";
        rc = sr_store_job_update(w->st, &r, NULL);
        w->other += rc != SR_OK;
    }
    return NULL;
}

static void
test_concurrent_writers(void **state)
{
    struct test_tmp *f = *state;
    sr_store *st = NULL;
    sr_err err = {0};
    assert_int_equal(test_store_open(f->path, &st, &err), SR_OK);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.st = st, .base = 100000 * (i + 1)};
        assert_int_equal(pthread_create(&t[i], NULL, insert_many, &w[i]), 0);
    }
    int ok = 0, conflicts = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].other, 0);
        ok += w[i].ok;
        conflicts += w[i].conflicts;
    }
    assert_int_equal(ok, THREADS * PER_THREAD + PER_THREAD);
    assert_int_equal(conflicts, (THREADS - 1) * PER_THREAD);
    int64_t total = 0;
    assert_int_equal(sr_store_jobs_count(st, &total, &err), SR_OK);
    assert_int_equal(total, THREADS * PER_THREAD + PER_THREAD);
    struct sr_job_row got = {0};
    char id[33];
    (void)snprintf(id, sizeof(id), "%032x", 100000u * THREADS + PER_THREAD - 1);
    assert_int_equal(sr_store_job_get(st, "alice", id, &got, &err), SR_OK);
    assert_int_equal(got.state, SR_JOB_COMPLETED);
    sr_job_row_fini(&got);
    if (!test_store_is_pg()) { /* SQLite's group commit; PostgreSQL commits per connection */
        uint64_t commits = 0, writes = 0;
        sr_store__sqlite_stats(st, &commits, &writes);
        print_message("group commit: %llu writes in %llu commits\n", (unsigned long long)writes,
                      (unsigned long long)commits);
        assert_true(commits > 0 && commits <= writes);
    }
    sr_store_close(st);
}

/* The child: opens the store, marks one job running, then inserts rows and
 * writes each id to the pipe only after the insert returned (acknowledged). */
static void
child_insert_forever(const char *path, int fd)
{
    sr_store *st = NULL;
    if (test_store_open(path, &st, NULL) != SR_OK)
        _exit(2);
    struct sr_job_row running = job(7, "bob", SR_JOB_RUNNING);
    running.started_at_ms = 1500;
    if (sr_store_job_insert(st, &running, NULL) != SR_OK || write(fd, running.id, 32) != 32)
        _exit(3);
    for (unsigned i = 1000;; i++) {
        struct sr_job_row r = job(i, "alice", SR_JOB_COMPLETED);
        if (sr_store_job_insert(st, &r, NULL) != SR_OK)
            _exit(4);
        if (write(fd, r.id, 32) != 32)
            _exit(5);
    }
}

static bool
read_id(int fd, char id[33])
{
    size_t got = 0;
    while (got < 32) {
        ssize_t n = read(fd, id + got, 32 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    id[32] = '\0';
    return true;
}

static void
test_acknowledged_rows_survive_kill9(void **state)
{
    struct test_tmp *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_insert_forever(f->path, fds[1]);
    }
    close(fds[1]);
    static char ids[ACKED + 1][33];
    for (size_t i = 0; i <= ACKED; i++)
        assert_true(read_id(fds[0], ids[i]));
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(fds[0]);

    sr_store *st = NULL;
    sr_err err = {0};
    assert_int_equal(test_store_open(f->path, &st, &err), SR_OK);
    struct sr_job_row got = {0};
    for (size_t i = 1; i <= ACKED; i++) {
        if (sr_store_job_get(st, "alice", ids[i], &got, &err) != SR_OK)
            fail_msg("acknowledged job %zu '%s' lost: %s", i, ids[i], err.msg);
        sr_job_row_fini(&got);
    }
    /* restart: the job the child left running fails as interrupted */
    size_t n = 0;
    assert_int_equal(
        sr_store_jobs_interrupt(st, "{\"error\":{\"code\":\"INTERRUPTED\"}}", 9999, &n, &err),
        SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sr_store_job_get(st, "bob", ids[0], &got, &err), SR_OK);
    assert_int_equal(got.state, SR_JOB_FAILED);
    assert_int_equal(got.finished_at_ms, 9999);
    sr_job_row_fini(&got);
    sr_store_close(st);
}

static void
test_two_stores_on_one_file(void **state)
{
    /* the CLI (token create) and the daemon may have the file open at once */
    struct test_tmp *f = *state;
    sr_store *a = NULL, *b = NULL;
    sr_err err = {0};
    assert_int_equal(test_store_open(f->path, &a, &err), SR_OK);
    assert_int_equal(test_store_open_keyless(f->path, &b, &err), SR_OK);
    uint8_t h[32];
    memset(h, 0x5a, sizeof(h));
    assert_int_equal(sr_store_token_add(b, h, "carol", "cli", 1, &err), SR_OK);
    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(a, h, &owner, &err), SR_OK);
    assert_string_equal(owner, "carol");
    free(owner);
    sr_store_close(b);
    sr_store_close(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acknowledged_rows_survive_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_stores_on_one_file, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_durability", tests, NULL, NULL);
}
