/* SPDX-License-Identifier: MIT
 *
 * store_money_test.c - budgets, holds, balances and the ledger of the
 * store (sr_store.h, "money"), on SQLite and (unit-pg/) PostgreSQL: every
 * budget refuses with its name, the usage, the limit and the reset time;
 * a hold is settled exactly once; concurrent admissions never take a
 * balance below zero; dangling holds are released once; every balance is
 * the sum of its ledger's deltas. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"
#include "test_tmp.h"

static int
setup(void **state)
{
    return test_store_setup(state, "money_test");
}

static int
teardown(void **state)
{
    return test_store_teardown(state);
}

#define DAY 20000 /* 2024-10-04 */
#define TOKEN "0123456789abcdef"

static void
make_id(unsigned n, char id[33])
{
    (void)snprintf(id, 33, "%032x", n);
}

static struct sr_hold_new
hold(const char *id, const char *owner, uint64_t cost)
{
    return (struct sr_hold_new){
        .job_id = id,
        .owner = owner,
        .token_id = TOKEN,
        .day = DAY,
        .max = {.jobs = 1, .gas_js = 1000, .wall_ms = 2000, .http = 3},
        .cost = cost,
        .now_ms = DAY * SR_DAY_MS + 5,
    };
}

static void
add_ok(sr_store *st, const struct sr_hold_new *h)
{
    sr_err err = {0};
    sr_status rc = sr_store_hold_add(st, h, NULL, &err);
    if (rc != SR_OK)
        fail_msg("hold_add: %s", err.msg);
}

static void
settle_ok(sr_store *st, const char *id, struct sr_usage used, uint64_t charge, bool want)
{
    sr_err err = {0};
    bool done = !want;
    const struct sr_hold_end e = {.job_id = id, .used = used, .charge = charge, .now_ms = 99};
    sr_status rc = sr_store_hold_settle(st, &e, &done, &err);
    if (rc != SR_OK)
        fail_msg("settle: %s", err.msg);
    assert_int_equal(done, want);
}

static uint64_t
balance_of(sr_store *st, const char *owner)
{
    uint64_t b = 7;
    assert_int_equal(sr_store_balance(st, owner, &b, NULL), SR_OK);
    return b;
}

/* Every row's delta summed equals the balance, and each row's balance is
 * the running sum. */
static void
check_ledger(sr_store *st, const char *owner)
{
    struct sr_ledger_row *rows = NULL;
    size_t n = 0;
    int64_t sum = 0;
    assert_int_equal(sr_store_ledger_list(st, owner, SR_MAX_PAGE, 0, &rows, &n, NULL), SR_OK);
    for (size_t i = n; i-- > 0;) { /* oldest first */
        sum += rows[i].delta;
        assert_int_equal(rows[i].balance, (uint64_t)sum);
        sr_ledger_row_fini(&rows[i]);
    }
    free(rows);
    assert_int_equal((uint64_t)sum, balance_of(st, owner));
}

static void
test_budget_jobs_refuses_with_name_usage_and_reset(void **state)
{
    struct test_tmp *f = *state;
    char a[33], b[33], c[33];
    make_id(1, a);
    make_id(2, b);
    make_id(3, c);
    struct sr_hold_new h = hold(a, "alice", 0);
    h.user_budget.jobs = 2;
    add_ok(f->st, &h);
    h.job_id = b;
    add_ok(f->st, &h);
    h.job_id = c;
    sr_err err = {0};
    struct sr_hold_refusal why;
    assert_int_equal(sr_store_hold_add(f->st, &h, &why, &err), SR_EBUDGET);
    assert_int_equal(why.kind, SR_BUDGET_JOBS);
    assert_false(why.is_token);
    assert_int_equal(why.used, 2);
    assert_int_equal(why.limit, 2);
    assert_non_null(strstr(err.msg, "budget 'jobs_per_day' of user 'alice' exhausted"));
    assert_non_null(strstr(err.msg, "resets at 2024-10-05T00:00:00"));
    /* nothing of the refused job was recorded */
    struct sr_hold_row row;
    assert_int_equal(sr_store_hold_get(f->st, c, &row, NULL), SR_ENOTFOUND);
    struct sr_usage u;
    assert_int_equal(sr_store_usage_get(f->st, "alice", NULL, DAY, &u, NULL), SR_OK);
    assert_int_equal(u.jobs, 2);
    assert_int_equal(u.gas_js, 2000);
    /* another day counts from zero */
    h.day = DAY + 1;
    add_ok(f->st, &h);
}

static void
test_every_budget_and_the_token_level(void **state)
{
    struct test_tmp *f = *state;
    static const struct {
        enum sr_budget_kind kind;
        struct sr_usage budget;
        const char *name;
    } cases[] = {
        {SR_BUDGET_GAS_JS, {.gas_js = 1500}, "gas_js_per_day"},
        {SR_BUDGET_GAS_WASM, {.gas_wasm = 10}, "gas_wasm_per_day"},
        {SR_BUDGET_WALL, {.wall_ms = 3000}, "wall_s_per_day"},
        {SR_BUDGET_HTTP, {.http = 5}, "http_requests_per_day"},
    };
    for (unsigned i = 0; i < 4; i++) {
        for (int level = 0; level < 2; level++) {
            char id1[33], id2[33], owner[16];
            make_id(100 + i * 10 + (unsigned)level * 2, id1);
            make_id(101 + i * 10 + (unsigned)level * 2, id2);
            (void)snprintf(owner, sizeof(owner), "u%u%d", i, level);
            struct sr_hold_new h = hold(id1, owner, 0);
            char tok[17];
            (void)snprintf(tok, sizeof(tok), "%016x", i * 2 + (unsigned)level + 1);
            h.token_id = tok;
            if (cases[i].kind == SR_BUDGET_GAS_WASM) {
                h.max.gas_js = 0;
                h.max.gas_wasm = 6;
            }
            if (level)
                h.token_budget = cases[i].budget;
            else
                h.user_budget = cases[i].budget;
            add_ok(f->st, &h); /* the first fits */
            h.job_id = id2;
            sr_err err = {0};
            struct sr_hold_refusal why;
            assert_int_equal(sr_store_hold_add(f->st, &h, &why, &err), SR_EBUDGET);
            assert_int_equal(why.kind, cases[i].kind);
            assert_int_equal(why.is_token, level == 1);
            assert_non_null(strstr(err.msg, cases[i].name));
            assert_non_null(strstr(err.msg, level ? tok : owner));
            /* the first one ends having used nothing: the second fits */
            settle_ok(f->st, id1, (struct sr_usage){.jobs = 1}, 0, true);
            add_ok(f->st, &h);
        }
    }
}

static void
test_balance_reserve_charge_refund_once(void **state)
{
    struct test_tmp *f = *state;
    char a[33];
    make_id(7, a);
    struct sr_hold_new h = hold(a, "bob", 500);
    sr_err err = {0};
    struct sr_hold_refusal why;
    assert_int_equal(sr_store_hold_add(f->st, &h, &why, &err), SR_EBALANCE);
    assert_int_equal(why.balance, 0);
    assert_non_null(strstr(err.msg, "insufficient balance: user 'bob' has 0"));
    uint64_t after = 0;
    assert_int_equal(sr_store_credit(f->st, "bob", 1200, "admin", "top-up", 10, &after, &err),
                     SR_OK);
    assert_int_equal(after, 1200);
    add_ok(f->st, &h);
    assert_int_equal(balance_of(f->st, "bob"), 700);
    struct sr_hold_row row;
    assert_int_equal(sr_store_hold_get(f->st, a, &row, NULL), SR_OK);
    assert_int_equal(row.cost, 500);
    assert_int_equal(row.settled_at_ms, 0);
    assert_string_equal(row.owner, "bob");
    assert_string_equal(row.token_id, TOKEN);
    /* a charge above the reservation is capped at it; used 400 of 1000 gas */
    settle_ok(f->st, a, (struct sr_usage){.jobs = 1, .gas_js = 400, .wall_ms = 10}, 120, true);
    settle_ok(f->st, a, (struct sr_usage){.jobs = 1}, 0, false); /* once */
    assert_int_equal(balance_of(f->st, "bob"), 1080);
    assert_int_equal(sr_store_hold_get(f->st, a, &row, NULL), SR_OK);
    assert_int_equal(row.charged, 120);
    assert_true(row.settled_at_ms > 0);
    struct sr_usage u;
    assert_int_equal(sr_store_usage_get(f->st, NULL, TOKEN, DAY, &u, NULL), SR_OK);
    assert_int_equal(u.gas_js, 400);
    assert_int_equal(u.wall_ms, 10);
    assert_int_equal(u.http, 0);
    /* the ledger: credit, reservation, charge, refund (newest first) */
    struct sr_ledger_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_ledger_list(f->st, "bob", 10, 0, &rows, &n, NULL), SR_OK);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].kind, "refund");
    assert_int_equal(rows[0].amount, 380);
    assert_string_equal(rows[0].job_id, a);
    assert_string_equal(rows[1].kind, "charge");
    assert_int_equal(rows[1].amount, 120);
    assert_int_equal(rows[1].delta, 0);
    assert_string_equal(rows[2].kind, "reservation");
    assert_int_equal(rows[2].delta, -500);
    assert_string_equal(rows[3].kind, "credit");
    assert_string_equal(rows[3].actor, "admin");
    assert_string_equal(rows[3].note, "top-up");
    for (size_t i = 0; i < n; i++)
        sr_ledger_row_fini(&rows[i]);
    free(rows);
    /* a page below the second row */
    assert_int_equal(sr_store_ledger_list(f->st, "bob", 10, 0, &rows, &n, NULL), SR_OK);
    int64_t cursor = rows[1].id;
    for (size_t i = 0; i < n; i++)
        sr_ledger_row_fini(&rows[i]);
    free(rows);
    assert_int_equal(sr_store_ledger_list(f->st, "bob", 10, cursor, &rows, &n, NULL), SR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].kind, "reservation");
    for (size_t i = 0; i < n; i++)
        sr_ledger_row_fini(&rows[i]);
    free(rows);
    check_ledger(f->st, "bob");
    /* the same job cannot hold twice */
    assert_int_equal(sr_store_hold_add(f->st, &h, NULL, NULL), SR_ECONFLICT);
}

static void
test_credit_checks(void **state)
{
    struct test_tmp *f = *state;
    sr_err err = {0};
    assert_int_equal(sr_store_credit(f->st, "c", 0, "admin", NULL, 1, NULL, &err), SR_EINVAL);
    assert_int_equal(sr_store_credit(f->st, "c", SR_MAX_CREDIT + 1, "admin", NULL, 1, NULL, &err),
                     SR_EINVAL);
    assert_int_equal(sr_store_credit(f->st, "c", 5, "", NULL, 1, NULL, &err), SR_EINVAL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sr_store_credit(f->st, "c", SR_MAX_CREDIT, "admin", NULL, 1, NULL, &err),
                         SR_OK);
    assert_int_equal(sr_store_credit(f->st, "c", 1, "admin", NULL, 1, NULL, &err), SR_ELIMIT);
    assert_int_equal(balance_of(f->st, "c"), 4 * SR_MAX_CREDIT);
    check_ledger(f->st, "c");
    char id[33];
    make_id(1, id);
    struct sr_hold_new h = hold(id, "c", 0);
    h.token_id = "XYZ";
    assert_int_equal(sr_store_hold_add(f->st, &h, NULL, &err), SR_EINVAL);
    h.token_id = NULL;
    h.job_id = "nope";
    assert_int_equal(sr_store_hold_add(f->st, &h, NULL, &err), SR_EINVAL);
}

static void
test_release_dangling_holds_once(void **state)
{
    struct test_tmp *f = *state;
    char lost[33], queued[33], young[33];
    make_id(21, lost);
    make_id(22, queued);
    make_id(23, young);
    assert_int_equal(sr_store_credit(f->st, "dan", 1000, "admin", NULL, 1, NULL, NULL), SR_OK);
    struct sr_hold_new h = hold(lost, "dan", 300);
    h.now_ms = 1000;
    add_ok(f->st, &h);
    h.job_id = queued;
    add_ok(f->st, &h);
    h.job_id = young;
    h.now_ms = 5000;
    add_ok(f->st, &h);
    struct sr_job_row row = {
        .owner = "dan",
        .state = SR_JOB_QUEUED,
        .runtime = "js",
        .request_json = "{}",
        .created_at_ms = 1000,
        .expires_at_ms = 1 << 30,
    };
    memcpy(row.id, queued, sizeof(row.id));
    assert_int_equal(sr_store_job_insert(f->st, &row, NULL), SR_OK);
    assert_int_equal(balance_of(f->st, "dan"), 100);
    size_t n = 9;
    assert_int_equal(sr_store_holds_release(f->st, 2000, 6000, 10, &n, NULL), SR_OK);
    assert_int_equal(n, 1); /* only 'lost': 'queued' has its job, 'young' is too young */
    assert_int_equal(balance_of(f->st, "dan"), 400);
    assert_int_equal(sr_store_holds_release(f->st, 2000, 6000, 10, &n, NULL), SR_OK);
    assert_int_equal(n, 0);
    struct sr_usage u;
    assert_int_equal(sr_store_usage_get(f->st, "dan", NULL, DAY, &u, NULL), SR_OK);
    assert_int_equal(u.jobs, 2); /* the released job counts no more */
    check_ledger(f->st, "dan");
    /* settled holds and old usage days go with the purge; the ledger stays */
    settle_ok(f->st, queued, (struct sr_usage){0}, 0, true);
    assert_int_equal(sr_store_money_purge(f->st, (DAY + 2) * SR_DAY_MS, &n, NULL), SR_OK);
    assert_true(n >= 3);
    check_ledger(f->st, "dan");
}

/* Concurrent admissions: exactly as many as the balance covers pass. */
struct racer {
    sr_store *st;
    unsigned first;
    unsigned ok, refused;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    for (unsigned i = 0; i < 20; i++) {
        char id[33];
        make_id(r->first + i, id);
        struct sr_hold_new h = hold(id, "eve", 100);
        sr_status rc = sr_store_hold_add(r->st, &h, NULL, NULL);
        r->ok += rc == SR_OK;
        r->refused += rc == SR_EBALANCE;
        if (rc == SR_OK && i % 2) /* half end at once, charged 40 of 100 */
            (void)sr_store_hold_settle(
                r->st, &(struct sr_hold_end){.job_id = id, .charge = 40, .now_ms = 5}, NULL, NULL);
    }
    return NULL;
}

static void
test_concurrent_admissions_never_overdraw(void **state)
{
    struct test_tmp *f = *state;
    assert_int_equal(sr_store_credit(f->st, "eve", 2500, "admin", NULL, 1, NULL, NULL), SR_OK);
    struct racer r[4];
    pthread_t t[4];
    for (unsigned i = 0; i < 4; i++) {
        r[i] = (struct racer){.st = f->st, .first = 1000 + i * 100};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    unsigned ok = 0, refused = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].ok;
        refused += r[i].refused;
    }
    assert_int_equal(ok + refused, 80);
    assert_true(refused > 0);
    check_ledger(f->st, "eve");
    /* what the holds say agrees with the balance: credit - open - charged */
    long long open = test_store_int(f->path, "SELECT coalesce(sum(cost), 0) FROM holds "
                                             "WHERE owner = 'eve' AND settled_at = 0");
    long long charged = test_store_int(f->path, "SELECT coalesce(sum(charged), 0) FROM holds "
                                                "WHERE owner = 'eve' AND settled_at > 0");
    assert_int_equal((long long)balance_of(f->st, "eve"), 2500 - open - charged);
    assert_int_equal(open + charged, test_store_int(f->path, "SELECT count(*) FROM holds") * 100 -
                                         (test_store_int(f->path, "SELECT count(*) FROM holds "
                                                                  "WHERE settled_at > 0") *
                                          60));
}

static void
test_storage_byte_days_are_charged_once_a_day(void **state)
{
    struct test_tmp *f = *state;
    assert_int_equal(test_store_exec(f->path, "INSERT INTO storage_owners (owner, namespaces, "
                                              "bytes) VALUES ('sam', 1, 1000), ('zed', 1, 10), "
                                              "('nil', 1, 0)"),
                     0);
    assert_int_equal(sr_store_credit(f->st, "sam", 5000, "admin", NULL, 1, NULL, NULL), SR_OK);
    assert_int_equal(sr_store_credit(f->st, "zed", 15, "admin", NULL, 1, NULL, NULL), SR_OK);
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_store_storage_charge(f->st, DAY, 2, 7, 1, &n, &err), SR_OK);
    assert_int_equal(n, 1); /* a batch of one: call again */
    assert_int_equal(sr_store_storage_charge(f->st, DAY, 2, 7, 10, &n, &err), SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(sr_store_storage_charge(f->st, DAY, 2, 7, 10, &n, &err), SR_OK);
    assert_int_equal(n, 0); /* once a day */
    assert_int_equal(balance_of(f->st, "sam"), 3000);
    assert_int_equal(balance_of(f->st, "zed"), 0); /* 20 due, 15 taken: never below zero */
    struct sr_ledger_row *rows = NULL;
    size_t k = 0;
    assert_int_equal(sr_store_ledger_list(f->st, "zed", 10, 0, &rows, &k, NULL), SR_OK);
    assert_int_equal(k, 2);
    assert_string_equal(rows[0].kind, "charge");
    assert_string_equal(rows[0].actor, "storage");
    assert_int_equal(rows[0].amount, 15);
    assert_int_equal(rows[0].delta, -15);
    assert_non_null(strstr(rows[0].note, "storage on 2024-10-04: 10 bytes at 2 per byte-day = 20"));
    assert_non_null(strstr(rows[0].note, "15 taken: the balance ran out"));
    for (size_t i = 0; i < k; i++)
        sr_ledger_row_fini(&rows[i]);
    free(rows);
    assert_int_equal(sr_store_storage_charge(f->st, DAY + 1, 2, 8, 10, &n, &err), SR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(balance_of(f->st, "sam"), 1000);
    check_ledger(f->st, "sam");
    check_ledger(f->st, "zed");
    assert_int_equal(sr_store_storage_charge(f->st, DAY, 0, 7, 10, &n, &err), SR_EINVAL);
    assert_int_equal(sr_store_storage_charge(f->st, DAY, 2, 7, 0, &n, &err), SR_EINVAL);
    /* the day marks go with the purge */
    assert_int_equal(sr_store_money_purge(f->st, (DAY + 5) * SR_DAY_MS, &n, NULL), SR_OK);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM store_meta WHERE key LIKE "
                                             "'storage_charge:%'"),
                     0);
}

static void
test_budget_names(void **state)
{
    (void)state;
    assert_null(sr_budget_name(SR_BUDGET_NONE));
    assert_string_equal(sr_budget_name(SR_BUDGET_JOBS), "jobs_per_day");
    assert_string_equal(sr_budget_name(SR_BUDGET_HTTP), "http_requests_per_day");
    sr_ledger_row_fini(NULL);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_budget_jobs_refuses_with_name_usage_and_reset),
        T(test_every_budget_and_the_token_level),
        T(test_balance_reserve_charge_refund_once),
        T(test_credit_checks),
        T(test_release_dangling_holds_once),
        T(test_concurrent_admissions_never_overdraw),
        T(test_storage_byte_days_are_charged_once_a_day),
        T(test_budget_names),
    };
#undef T
    return cmocka_run_group_tests_name("store_money", tests, NULL, NULL);
}
