/* SPDX-License-Identifier: MIT
 *
 * store_queue_test.c - the cluster queue on PostgreSQL (sr_store.h "the
 * cluster queue"): the per-owner queue bound and running cap are counted
 * in the store, claims by concurrent stores (as several daemons) take
 * different jobs and never pass the cap, an owner's jobs start in the
 * order they came (a claim passes over an owner whose oldest job another
 * daemon holds), a finish is written only under
 * the current lease (fencing), an expired lease is taken over once with a
 * new fence, and SQLite refuses these calls by name. Starts its own
 * throw-away server (test_pg.h); two sr_store objects on one database
 * stand for two daemons.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"

#define HOLDER_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HOLDER_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static sr_store *
open_pg(const char *name)
{
    uint8_t k[32];
    memset(k, 0x42, sizeof(k));
    sr_keys *keys = NULL;
    sr_err e = {0};
    char target[512];
    test_pg_database(name, target, sizeof(target));
    sr_store *st = NULL;
    assert_int_equal(sr_keys_new(k, sizeof(k), k, sizeof(k), &keys, &e), SR_OK);
    if (sr_store_open(target, keys, &st, &e) != SR_OK)
        fail_msg("open: %s", e.msg);
    sr_keys_free(keys);
    return st;
}

static void
enqueue(sr_store *st, unsigned n, const char *owner, int64_t created, sr_status want)
{
    struct sr_job_row r = {
        .owner = (char *)(uintptr_t)owner,
        .state = SR_JOB_QUEUED,
        .runtime = "js",
        .request_json = "{\"script\":\"1\"}",
        .created_at_ms = created,
        .expires_at_ms = created + 100000,
    };
    (void)snprintf(r.id, sizeof(r.id), "%032x", n);
    sr_err e = {0};
    assert_int_equal(sr_store_job_enqueue(st, &r, 2, &e), want);
}

static struct sr_lease
lease(const char *holder, int64_t until)
{
    struct sr_lease l = {.until_ms = until};
    (void)snprintf(l.holder, sizeof(l.holder), "%s", holder);
    return l;
}

static void
test_queue_bound_is_counted_in_the_store(void **state)
{
    (void)state;
    sr_store *a = open_pg("/bound"), *b = open_pg("/bound");
    enqueue(a, 1, "alice", 10, SR_OK);
    enqueue(b, 2, "alice", 11, SR_OK);
    enqueue(a, 3, "alice", 12, SR_EBUSY); /* two queued: the limit, whichever daemon asks */
    enqueue(b, 4, "bob", 13, SR_OK);
    sr_store_close(a);
    sr_store_close(b);
}

static void
test_claims_respect_the_cap_and_take_turns(void **state)
{
    (void)state;
    sr_store *a = open_pg("/claim"), *b = open_pg("/claim");
    enqueue(a, 1, "alice", 10, SR_OK);
    enqueue(a, 2, "alice", 11, SR_OK);
    enqueue(a, 3, "bob", 12, SR_OK);
    sr_err e = {0};
    struct sr_job_row r = {0};
    struct sr_lease la = lease(HOLDER_A, 5000), lb = lease(HOLDER_B, 5000);
    /* alice's oldest first, then bob (no running jobs) before alice's second */
    assert_int_equal(sr_store_job_claim(a, 100, 1, &la, &r, &e), SR_OK);
    assert_string_equal(r.id, "00000000000000000000000000000001");
    assert_int_equal(r.state, SR_JOB_RUNNING);
    assert_string_equal(r.request_json, "{\"script\":\"1\"}");
    assert_int_equal(la.fence, 1);
    sr_job_row_fini(&r);
    assert_int_equal(sr_store_job_claim(b, 100, 1, &lb, &r, &e), SR_OK);
    assert_string_equal(r.id, "00000000000000000000000000000003");
    sr_job_row_fini(&r);
    /* alice runs one job: her second waits for it (cap 1), on any daemon */
    assert_int_equal(sr_store_job_claim(b, 100, 1, &lb, &r, &e), SR_ENOTFOUND);
    /* the sync path counts the same running jobs */
    struct sr_job_row s = {.owner = "alice",
                           .state = SR_JOB_RUNNING,
                           .runtime = "js",
                           .request_json = "{}",
                           .created_at_ms = 100,
                           .started_at_ms = 100,
                           .expires_at_ms = 100000};
    (void)snprintf(s.id, sizeof(s.id), "%032x", 9u);
    struct sr_lease ls = lease(HOLDER_B, 5000);
    assert_int_equal(sr_store_job_start(b, &s, 1, &ls, &e), SR_EBUSY);
    assert_non_null(strstr(e.msg, "already has 1 running jobs"));
    sr_store_close(a);
    sr_store_close(b);
}

/* An owner's jobs start in the order they came: while another daemon holds
 * the owner's oldest queued row (claiming it), a claim passes the owner
 * over instead of starting its second job; another owner is served. */
static void
test_a_claim_never_starts_an_owners_later_job_first(void **state)
{
    (void)state;
    sr_store *a = open_pg("/order");
    enqueue(a, 1, "alice", 10, SR_OK);
    enqueue(a, 2, "alice", 11, SR_OK);
    enqueue(a, 3, "bob", 12, SR_OK);
    char uri[512];
    test_pg_database("/order", uri, sizeof(uri));
    PGconn *other = PQconnectdb(uri);
    assert_int_equal(PQstatus(other), CONNECTION_OK);
    PGresult *res = PQexec(other, "BEGIN");
    PQclear(res);
    res = PQexec(other, "SELECT id FROM jobs WHERE id = '00000000000000000000000000000001' "
                        "FOR UPDATE");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    PQclear(res);
    sr_err e = {0};
    struct sr_job_row r = {0};
    struct sr_lease la = lease(HOLDER_A, 5000);
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_OK);
    assert_string_equal(r.id, "00000000000000000000000000000003"); /* bob's */
    sr_job_row_fini(&r);
    /* alice's second job is not started while her first is being claimed */
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_ENOTFOUND);
    res = PQexec(other, "ROLLBACK");
    PQclear(res);
    PQfinish(other);
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_OK);
    assert_string_equal(r.id, "00000000000000000000000000000001");
    sr_job_row_fini(&r);
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_OK);
    assert_string_equal(r.id, "00000000000000000000000000000002");
    sr_job_row_fini(&r);
    sr_store_close(a);
}

static void
finish_row(struct sr_job_row *r, const char *id)
{
    *r = (struct sr_job_row){.owner = "alice",
                             .state = SR_JOB_COMPLETED,
                             .runtime = "js",
                             .result_json = "{\"output\":1}",
                             .created_at_ms = 10,
                             .started_at_ms = 100,
                             .finished_at_ms = 200,
                             .expires_at_ms = 100000};
    (void)snprintf(r->id, sizeof(r->id), "%s", id);
}

static void
test_only_the_current_lease_writes_the_end(void **state)
{
    (void)state;
    sr_store *a = open_pg("/fence"), *b = open_pg("/fence");
    enqueue(a, 1, "alice", 10, SR_OK);
    sr_err e = {0};
    struct sr_job_row r = {0};
    struct sr_lease la = lease(HOLDER_A, 1000);
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_OK);
    sr_job_row_fini(&r);
    la.until_ms = 1500;
    assert_int_equal(sr_store_job_renew(a, "00000000000000000000000000000001", &la, &e), SR_OK);

    /* a's lease runs out (it stalled): b takes the job over, once */
    struct sr_lease lb = lease(HOLDER_B, 9000);
    struct sr_job_row *rows = NULL;
    uint64_t *fences = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_jobs_expired(b, 1400, &lb, 10, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 0); /* not expired yet */
    free(rows);
    free(fences);
    assert_int_equal(sr_store_jobs_expired(b, 2000, &lb, 10, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(fences[0], 2);
    assert_string_equal(rows[0].request_json, "{\"script\":\"1\"}");
    sr_job_row_fini(&rows[0]);
    free(rows);
    free(fences);
    assert_int_equal(sr_store_jobs_expired(a, 2000, &la, 10, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 0); /* b's lease is fresh: nobody else takes it */
    free(rows);
    free(fences);

    /* a comes back: its renewal and its result are refused, nothing written */
    assert_int_equal(sr_store_job_renew(a, "00000000000000000000000000000001", &la, &e),
                     SR_ECONFLICT);
    struct sr_job_row end;
    finish_row(&end, "00000000000000000000000000000001");
    assert_int_equal(sr_store_job_finish(a, &end, &la, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "taken over"));
    struct sr_job_row got = {0};
    assert_int_equal(sr_store_job_get(b, "alice", end.id, &got, &e), SR_OK);
    assert_int_equal(got.state, SR_JOB_RUNNING);
    sr_job_row_fini(&got);
    /* b, the holder, writes it; afterwards no lease writes again */
    lb.fence = 2;
    end.state = SR_JOB_FAILED;
    (void)snprintf(end.error_code, sizeof(end.error_code), "INTERRUPTED");
    assert_int_equal(sr_store_job_finish(b, &end, &lb, &e), SR_OK);
    assert_int_equal(sr_store_job_finish(b, &end, &lb, &e), SR_ECONFLICT);
    assert_int_equal(sr_store_job_get(a, "alice", end.id, &got, &e), SR_OK);
    assert_int_equal(got.state, SR_JOB_FAILED);
    assert_string_equal(got.error_code, "INTERRUPTED");
    sr_job_row_fini(&got);
    sr_store_close(a);
    sr_store_close(b);
}

/* A cancel takes a queued or running job from whoever held it (their
 * renewal and finish are then refused); an ended job is a conflict,
 * another owner's is not found. */
static void
test_a_cancel_takes_the_job_from_its_holder(void **state)
{
    (void)state;
    sr_store *a = open_pg("/take"), *b = open_pg("/take");
    enqueue(a, 1, "alice", 10, SR_OK);
    enqueue(a, 2, "alice", 11, SR_OK);
    sr_err e = {0};
    struct sr_job_row r = {0};
    struct sr_lease la = lease(HOLDER_A, 100000);
    assert_int_equal(sr_store_job_claim(a, 100, 5, &la, &r, &e), SR_OK); /* job 1 runs on a */
    assert_string_equal(r.id, "00000000000000000000000000000001");
    sr_job_row_fini(&r);

    struct sr_lease lb = lease(HOLDER_B, 100000);
    assert_int_equal(sr_store_job_take(b, "bob", "00000000000000000000000000000001", &lb, &r, &e),
                     SR_ENOTFOUND);
    assert_int_equal(sr_store_job_take(b, "alice", "nope", &lb, &r, &e), SR_ENOTFOUND);
    /* the running job: b holds it now, with a new fence */
    assert_int_equal(sr_store_job_take(b, "alice", "00000000000000000000000000000001", &lb, &r, &e),
                     SR_OK);
    assert_int_equal(lb.fence, 2);
    assert_int_equal(r.state, SR_JOB_RUNNING);
    assert_true(r.started_at_ms == 100);
    assert_string_equal(r.request_json, "{\"script\":\"1\"}");
    sr_job_row_fini(&r);
    assert_int_equal(sr_store_job_renew(a, "00000000000000000000000000000001", &la, &e),
                     SR_ECONFLICT);
    struct sr_job_row end;
    finish_row(&end, "00000000000000000000000000000001");
    end.state = SR_JOB_FAILED;
    (void)snprintf(end.error_code, sizeof(end.error_code), "CANCELLED");
    assert_int_equal(sr_store_job_finish(a, &end, &la, &e), SR_ECONFLICT);
    assert_int_equal(sr_store_job_finish(b, &end, &lb, &e), SR_OK);
    /* ended: a second cancel is a conflict naming the state */
    struct sr_lease lc = lease(HOLDER_B, 100000);
    assert_int_equal(sr_store_job_take(b, "alice", "00000000000000000000000000000001", &lc, &r, &e),
                     SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "has already ended: it is failed"));
    /* the queued job: taken before any claim, never started */
    assert_int_equal(sr_store_job_take(a, "alice", "00000000000000000000000000000002", &lc, &r, &e),
                     SR_OK);
    assert_int_equal(r.started_at_ms, 0);
    sr_job_row_fini(&r);
    assert_int_equal(sr_store_job_claim(b, 200, 5, &lb, &r, &e), SR_ENOTFOUND);
    sr_store_close(a);
    sr_store_close(b);
}

/* --queue-max-age: queued jobs created before the cut-off are taken once,
 * oldest first, by whichever store asks first. */
static void
test_stale_queued_jobs_are_taken_once(void **state)
{
    (void)state;
    sr_store *a = open_pg("/stale"), *b = open_pg("/stale");
    enqueue(a, 1, "alice", 10, SR_OK);
    enqueue(a, 2, "bob", 20, SR_OK);
    enqueue(a, 3, "carol", 30, SR_OK);
    sr_err e = {0};
    struct sr_lease la = lease(HOLDER_A, 100000), lb = lease(HOLDER_B, 100000);
    struct sr_job_row *rows = NULL;
    uint64_t *fences = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_jobs_stale(a, 25, &la, 1, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].id, "00000000000000000000000000000001");
    assert_int_equal(fences[0], 1);
    sr_job_row_fini(&rows[0]);
    free(rows);
    free(fences);
    assert_int_equal(sr_store_jobs_stale(b, 25, &lb, 10, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].id, "00000000000000000000000000000002");
    sr_job_row_fini(&rows[0]);
    free(rows);
    free(fences);
    assert_int_equal(sr_store_jobs_stale(a, 25, &la, 10, &rows, &fences, &n, &e), SR_OK);
    assert_int_equal(n, 0); /* job 3 is young enough; 1 and 2 are taken */
    free(rows);
    free(fences);
    assert_int_equal(sr_store_jobs_stale(a, 25, &la, 0, &rows, &fences, &n, &e), SR_EINVAL);
    sr_store_close(a);
    sr_store_close(b);
}

struct claimer {
    sr_store *st;
    char holder[33];
    unsigned got;
    unsigned lost;    /* finishes refused (none may be: nobody took a lease over) */
    unsigned overcap; /* times the owner was seen with more running jobs than the cap */
    char uri[512];
};

static void *
claim_all(void *arg)
{
    struct claimer *c = arg;
    for (;;) {
        struct sr_lease l = lease(c->holder, 1000000);
        struct sr_job_row r = {0};
        sr_status rc = sr_store_job_claim(c->st, 100, 2, &l, &r, NULL);
        if (rc == SR_ENOTFOUND)
            break;
        if (rc != SR_OK)
            continue; /* a deadlock or a busy lock: try again */
        c->got++;
        char sql[160];
        (void)snprintf(sql, sizeof(sql),
                       "SELECT count(*) FROM jobs WHERE owner = '%s' AND state = 'running'",
                       r.owner);
        c->overcap += test_pg_int(c->uri, sql) > 2;
        struct sr_job_row end;
        finish_row(&end, r.id);
        end.owner = r.owner;
        if (sr_store_job_finish(c->st, &end, &l, NULL) != SR_OK)
            c->lost++;
        sr_job_row_fini(&r);
    }
    return NULL;
}

static void
test_concurrent_claims_take_each_job_once(void **state)
{
    (void)state;
    sr_store *st[3] = {open_pg("/race"), open_pg("/race"), open_pg("/race")};
    const char *owners[] = {"alice", "bob", "carol"};
    unsigned total = 0;
    for (unsigned i = 0; i < 60; i++) { /* bound 0: no limit */
        struct sr_job_row r = {.owner = (char *)(uintptr_t)owners[i % 3],
                               .state = SR_JOB_QUEUED,
                               .runtime = "js",
                               .created_at_ms = i,
                               .expires_at_ms = 100000};
        (void)snprintf(r.id, sizeof(r.id), "%032x", 1000 + i);
        sr_err e = {0};
        assert_int_equal(sr_store_job_enqueue(st[i % 3], &r, 0, &e), SR_OK);
        total++;
    }
    pthread_t t[3];
    struct claimer c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = (struct claimer){.st = st[i]};
        test_pg_database("/race", c[i].uri, sizeof(c[i].uri));
        (void)snprintf(c[i].holder, sizeof(c[i].holder), "%032x", 0xc0 + i);
        assert_int_equal(pthread_create(&t[i], NULL, claim_all, &c[i]), 0);
    }
    unsigned got = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        got += c[i].got;
        assert_int_equal(c[i].lost, 0);
        assert_int_equal(c[i].overcap, 0);
    }
    assert_int_equal(got, total); /* every job claimed exactly once */
    char uri[512];
    test_pg_database("/race", uri, sizeof(uri));
    assert_int_equal(test_pg_int(uri, "SELECT count(*) FROM jobs WHERE state = 'completed' "
                                      "AND lease_fence = 1"),
                     total);
    for (int i = 0; i < 3; i++)
        sr_store_close(st[i]);
}

static void
test_heartbeats_list_live_daemons_and_old_rows_go(void **state)
{
    (void)state;
    sr_store *st = open_pg("/beats");
    sr_err e = {0};
    struct sr_daemon_row d = {.id = HOLDER_A,
                              .public_key = "ab",
                              .measurement = "cd",
                              .version = "0.1.0",
                              .started_at_ms = 1000,
                              .heartbeat_at_ms = 1000};
    assert_int_equal(sr_store_daemon_beat(st, &d, &e), SR_OK);
    memcpy(d.id, HOLDER_B, sizeof(d.id));
    d.heartbeat_at_ms = 9 * 86400000ll;
    assert_int_equal(sr_store_daemon_beat(st, &d, &e), SR_OK);
    d.heartbeat_at_ms = 9 * 86400000ll + 5; /* a beat again: the same row */
    assert_int_equal(sr_store_daemon_beat(st, &d, &e), SR_OK);
    struct sr_daemon_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_daemons(st, 0, 10, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    free(rows);
    assert_int_equal(sr_store_daemons(st, 2000, 10, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 1); /* live: heartbeat since */
    assert_string_equal(rows[0].id, HOLDER_B);
    assert_int_equal(rows[0].heartbeat_at_ms, 9 * 86400000ll + 5);
    free(rows);
    /* the purge drops rows silent for a week */
    size_t purged = 0;
    assert_int_equal(sr_store_jobs_purge(st, 9 * 86400000ll, &purged, &e), SR_OK);
    assert_int_equal(sr_store_daemons(st, 0, 10, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    free(rows);
    sr_store_close(st);
}

static void
test_sqlite_refuses_the_cluster_queue(void **state)
{
    (void)state;
    char dir[] = "/tmp/sr_queue_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    (void)snprintf(path, sizeof(path), "sqlite:%s/db", dir);
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(sr_store_open(path, NULL, &st, &e), SR_OK);
    assert_false(sr_store_is_shared(st));
    struct sr_lease l = lease(HOLDER_A, 1);
    struct sr_job_row r = {0};
    assert_int_equal(sr_store_job_claim(st, 1, 1, &l, &r, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "the cluster queue needs a PostgreSQL store"));
    assert_int_equal(sr_store_job_take(st, "alice", "00000000000000000000000000000001", &l, &r, &e),
                     SR_EINVAL);
    sr_store_close(st);
    char file[80];
    (void)snprintf(file, sizeof(file), "%s/db", dir);
    (void)remove(file);
    (void)rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_bound_is_counted_in_the_store),
        cmocka_unit_test(test_claims_respect_the_cap_and_take_turns),
        cmocka_unit_test(test_a_claim_never_starts_an_owners_later_job_first),
        cmocka_unit_test(test_only_the_current_lease_writes_the_end),
        cmocka_unit_test(test_a_cancel_takes_the_job_from_its_holder),
        cmocka_unit_test(test_stale_queued_jobs_are_taken_once),
        cmocka_unit_test(test_concurrent_claims_take_each_job_once),
        cmocka_unit_test(test_heartbeats_list_live_daemons_and_old_rows_go),
        cmocka_unit_test(test_sqlite_refuses_the_cluster_queue),
    };
    return cmocka_run_group_tests_name("store_queue", tests, NULL, NULL);
}
