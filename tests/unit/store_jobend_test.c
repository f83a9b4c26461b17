/* SPDX-License-Identifier: MIT
 *
 * store_jobend_test.c - a job's end and its storage writes in one
 * transaction (sr_store_job_end, docs/cluster.md "A job's end"), on SQLite
 * and (SR_TEST_STORE=postgres, unit-pg/store_jobend_test) on PostgreSQL:
 * both are written or neither; a fenced end after a take-over writes no
 * storage; a namespace that moved, a quota, or a row that cannot be
 * written roll the whole end back. Each test has its own database in a
 * mkdtemp directory under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"
#define HOLDER_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HOLDER_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fix {
    char dir[64];
    char path[96];
    sr_store *st;
    uint8_t ns[SR_KV_ID_LEN];
    uint8_t key[2][SR_KV_ID_LEN];
    struct sr_kv_write w[2];
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/sr-store-end-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    (void)snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
    sr_err e = {0};
    if (test_store_open(f->path, &f->st, &e) != SR_OK) {
        fprintf(stderr, "open: %s\n", e.msg);
        return -1;
    }
    memset(f->ns, 1, sizeof(f->ns));
    for (int i = 0; i < 2; i++) {
        memset(f->key[i], 2 + i, sizeof(f->key[i]));
        f->w[i] = (struct sr_kv_write){.id = f->key[i],
                                       .key_blob = (const uint8_t *)"sealedkey",
                                       .key_blob_len = 9,
                                       .blob = (const uint8_t *)"sealedvalue",
                                       .blob_len = 11,
                                       .size = 8};
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;
    sr_store_close(f->st);
    char p[128];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        (void)snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        (void)unlink(p);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* A write set of n puts into the test namespace on top of 'version'. */
static struct sr_kv_commit
write_set(const struct fix *f, size_t n, uint64_t version)
{
    return (struct sr_kv_commit){.owner = "alice",
                                 .ns_id = f->ns,
                                 .name_blob = (const uint8_t *)"sealedname",
                                 .name_blob_len = 10,
                                 .expected_version = version,
                                 .writes = f->w,
                                 .nwrites = n,
                                 .now_ms = 50};
}

static struct sr_job_row
running_row(void)
{
    struct sr_job_row r = {.owner = "alice",
                           .state = SR_JOB_RUNNING,
                           .runtime = "js",
                           .request_json = "{\"script\":\"1\"}",
                           .created_at_ms = 10,
                           .started_at_ms = 20,
                           .expires_at_ms = 100000};
    memcpy(r.id, JOB_ID, sizeof(r.id));
    return r;
}

static struct sr_job_row
ended_row(void)
{
    struct sr_job_row r = running_row();
    r.state = SR_JOB_COMPLETED;
    r.request_json = NULL;
    r.result_json = "{\"output\":1}";
    r.finished_at_ms = 30;
    return r;
}

static void
insert_running(struct fix *f)
{
    struct sr_job_row r = running_row();
    sr_err e = {0};
    assert_int_equal(sr_store_job_insert(f->st, &r, &e), SR_OK);
}

static uint64_t
ns_version(struct fix *f)
{
    struct sr_kv_ns ns;
    sr_err e = {0};
    assert_int_equal(sr_store_kv_ns(f->st, "alice", f->ns, &ns, &e), SR_OK);
    return ns.version;
}

static long long
entries(struct fix *f)
{
    return test_store_int(f->path, "SELECT count(*) FROM storage_kv");
}

static enum sr_job_state
job_state(struct fix *f)
{
    struct sr_job_row got = {0};
    sr_err e = {0};
    assert_int_equal(sr_store_job_get(f->st, "alice", JOB_ID, &got, &e), SR_OK);
    enum sr_job_state s = got.state;
    sr_job_row_fini(&got);
    return s;
}

static void
test_end_writes_the_row_and_the_storage_together(void **state)
{
    struct fix *f = *state;
    insert_running(f);
    struct sr_job_row row = ended_row();
    const struct sr_kv_commit kv = write_set(f, 2, 0);
    struct sr_kv_result res;
    sr_err e = {0};
    const struct sr_job_end end = {.row = &row, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end, &res, &e), SR_OK);
    assert_false(res.moved);
    assert_int_equal(res.version_before, 0);
    assert_int_equal(res.version_after, 1);
    assert_int_equal(job_state(f), SR_JOB_COMPLETED);
    assert_int_equal(ns_version(f), 1);
    assert_int_equal(entries(f), 2);
    /* an end without writes is the plain update */
    row.state = SR_JOB_FAILED;
    const struct sr_job_end bare = {.row = &row};
    assert_int_equal(sr_store_job_end(f->st, &bare, NULL, &e), SR_OK);
    assert_int_equal(job_state(f), SR_JOB_FAILED);
    /* a write set needs somewhere to report */
    assert_int_equal(sr_store_job_end(f->st, &end, NULL, &e), SR_EINVAL);
}

static void
test_an_end_that_inserts_its_row(void **state)
{
    struct fix *f = *state;
    struct sr_job_row row = ended_row();
    const struct sr_kv_commit kv = write_set(f, 1, 0);
    struct sr_kv_result res;
    sr_err e = {0};
    const struct sr_job_end end = {.row = &row, .insert = true, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end, &res, &e), SR_OK);
    assert_int_equal(job_state(f), SR_JOB_COMPLETED);
    assert_int_equal(ns_version(f), 1);
    /* the same id again: the row conflicts, and its writes go with it */
    const struct sr_kv_commit again = write_set(f, 1, 1);
    const struct sr_job_end dup = {.row = &row, .insert = true, .kv = &again};
    assert_int_equal(sr_store_job_end(f->st, &dup, &res, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "exists already"));
    assert_int_equal(ns_version(f), 1);
}

static void
test_a_moved_namespace_rolls_back_the_whole_end(void **state)
{
    struct fix *f = *state;
    insert_running(f);
    /* another job commits first: the namespace is at 1 */
    const struct sr_kv_commit first = write_set(f, 1, 0);
    struct sr_kv_result res;
    sr_err e = {0};
    assert_int_equal(sr_store_kv_commit(f->st, &first, &res, &e), SR_OK);
    struct sr_job_row row = ended_row();
    const struct sr_kv_commit stale = write_set(f, 2, 0);
    const struct sr_job_end end = {.row = &row, .kv = &stale};
    assert_int_equal(sr_store_job_end(f->st, &end, &res, &e), SR_OK);
    assert_true(res.moved);
    assert_int_equal(res.version_before, 1);
    /* nothing written: neither the writes nor the row */
    assert_int_equal(job_state(f), SR_JOB_RUNNING);
    assert_int_equal(ns_version(f), 1);
    assert_int_equal(entries(f), 1);
}

static void
test_a_quota_rolls_back_the_whole_end(void **state)
{
    struct fix *f = *state;
    insert_running(f);
    struct sr_job_row row = ended_row();
    struct sr_kv_commit kv = write_set(f, 2, 0);
    kv.max_keys = 1;
    struct sr_kv_result res;
    sr_err e = {0};
    const struct sr_job_end end = {.row = &row, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end, &res, &e), SR_ELIMIT);
    assert_int_equal(res.quota, SR_KV_QUOTA_KEYS);
    assert_int_equal(res.quota_limit, 1);
    assert_int_equal(job_state(f), SR_JOB_RUNNING);
    assert_int_equal(ns_version(f), 0);
    assert_int_equal(entries(f), 0);
}

static void
test_a_row_that_cannot_be_written_rolls_back_the_storage(void **state)
{
    struct fix *f = *state;
    /* no such job: the writes applied before the row are undone with it */
    struct sr_job_row row = ended_row();
    const struct sr_kv_commit kv = write_set(f, 2, 0);
    struct sr_kv_result res;
    sr_err e = {0};
    const struct sr_job_end end = {.row = &row, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end, &res, &e), SR_ENOTFOUND);
    assert_int_equal(ns_version(f), 0);
    assert_int_equal(entries(f), 0);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM storage_ns"), 0);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM storage_owners"), 0);
    /* another owner's write set is refused before the store is touched */
    struct sr_kv_commit other = write_set(f, 1, 0);
    other.owner = "bob";
    const struct sr_job_end wrong = {.row = &row, .kv = &other};
    assert_int_equal(sr_store_job_end(f->st, &wrong, &res, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "cannot write the storage of 'bob'"));
}

static void
test_a_fenced_end_after_a_take_over_writes_no_storage(void **state)
{
    struct fix *f = *state;
    insert_running(f);
    /* daemon A holds the job (as a claim leaves it), then daemon B takes it
     * over: another holder and the next fence, as B's UPDATE would */
    assert_int_equal(test_store_exec(f->path, "UPDATE jobs SET lease_holder = '" HOLDER_A
                                              "', lease_fence = 1, lease_until = 1000"),
                     0);
    assert_int_equal(test_store_exec(f->path, "UPDATE jobs SET lease_holder = '" HOLDER_B
                                              "', lease_fence = 2, lease_until = 9000"),
                     0);
    struct sr_lease la = {.holder = HOLDER_A, .fence = 1, .until_ms = 1000};
    struct sr_job_row row = ended_row();
    const struct sr_kv_commit kv = write_set(f, 2, 0);
    struct sr_kv_result res;
    sr_err e = {0};
    const struct sr_job_end end_a = {.row = &row, .lease = &la, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end_a, &res, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "taken over"));
    /* A wrote nothing: no row, no storage; B still holds the job */
    assert_int_equal(job_state(f), SR_JOB_RUNNING);
    assert_int_equal(ns_version(f), 0);
    assert_int_equal(entries(f), 0);
    assert_int_equal(
        test_store_int(f->path, "SELECT count(*) FROM jobs WHERE lease_holder = '" HOLDER_B "'"),
        1);
    /* the same fence with A's name, or B's name with the old fence: refused */
    struct sr_lease mixed = {.holder = HOLDER_B, .fence = 1};
    const struct sr_job_end end_m = {.row = &row, .lease = &mixed, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end_m, &res, &e), SR_ECONFLICT);
    assert_int_equal(ns_version(f), 0);
    /* B, the current holder, ends it with its writes, once */
    struct sr_lease lb = {.holder = HOLDER_B, .fence = 2, .until_ms = 9000};
    const struct sr_job_end end_b = {.row = &row, .lease = &lb, .kv = &kv};
    assert_int_equal(sr_store_job_end(f->st, &end_b, &res, &e), SR_OK);
    assert_int_equal(job_state(f), SR_JOB_COMPLETED);
    assert_int_equal(ns_version(f), 1);
    assert_int_equal(entries(f), 2);
    const struct sr_kv_commit next = write_set(f, 1, 1);
    const struct sr_job_end twice = {.row = &row, .lease = &lb, .kv = &next};
    assert_int_equal(sr_store_job_end(f->st, &twice, &res, &e), SR_ECONFLICT); /* ended */
    assert_int_equal(ns_version(f), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_end_writes_the_row_and_the_storage_together, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_end_that_inserts_its_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_moved_namespace_rolls_back_the_whole_end, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_quota_rolls_back_the_whole_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_row_that_cannot_be_written_rolls_back_the_storage,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_fenced_end_after_a_take_over_writes_no_storage,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("store_jobend", tests, NULL, NULL);
}
