/* SPDX-License-Identifier: MIT
 *
 * engine_money_test.c - the operator's budgets and price table
 * (sr_money.h): the option specs, the --budgets and --prices files and
 * every error they name, per-user overrides over the defaults, the cost
 * arithmetic (rounding, overflow) and who is charged what at the end of
 * a job. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_money.h"

static sr_money *
fresh(void)
{
    sr_money *m = NULL;
    assert_int_equal(sr_money_new(&m, NULL), SR_OK);
    return m;
}

static void
test_budget_specs(void **state)
{
    (void)state;
    sr_money *m = fresh();
    assert_false(sr_money_active(m));
    sr_err e = {0};
    assert_int_equal(sr_money_set_budgets(m, false,
                                          "jobs_per_day=10,wall_s_per_day=60,gas_js_per_day=5,"
                                          "gas_wasm_per_day=7,http_requests_per_day=3",
                                          &e),
                     SR_OK);
    assert_int_equal(sr_money_set_budgets(m, true, "jobs_per_day=2", &e), SR_OK);
    assert_true(sr_money_active(m));
    assert_false(sr_money_priced(m));
    struct sr_usage u, t;
    sr_money_budgets(m, "anyone", &u, &t);
    assert_int_equal(u.jobs, 10);
    assert_int_equal(u.wall_ms, 60000);
    assert_int_equal(u.gas_js, 5);
    assert_int_equal(u.gas_wasm, 7);
    assert_int_equal(u.http, 3);
    assert_int_equal(t.jobs, 2);
    assert_int_equal(t.wall_ms, 0);
    static const struct {
        const char *spec, *want;
    } bad[] = {
        {"", "needs NAME=N"},
        {"jobs_per_day", "is not NAME=N"},
        {"jobs=3", "unknown budget 'jobs'"},
        {"jobs_per_day=", "needs a number"},
        {"jobs_per_day=-1", "--budget-user jobs_per_day"},
        {"jobs_per_day=1x", "--budget-user jobs_per_day"},
        {"jobs_per_day=1,", "needs"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = (sr_err){0};
        assert_int_equal(sr_money_set_budgets(m, false, bad[i].spec, &e), SR_EINVAL);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("'%s': got '%s', want '%s'", bad[i].spec, e.msg, bad[i].want);
    }
    sr_money_free(m);
    sr_money_free(NULL);
}

static void
test_budget_file_overrides(void **state)
{
    (void)state;
    sr_money *m = fresh();
    assert_int_equal(sr_money_set_budgets(m, false, "jobs_per_day=10,wall_s_per_day=60", NULL),
                     SR_OK);
    const char *f = "{\"users\": {\"big\": {\"user\": {\"jobs_per_day\": 1000}, \"token\": "
                    "{\"http_requests_per_day\": 0}}, \"small\": {\"user\": {\"wall_s_per_day\": "
                    "5}}}}";
    sr_err e = {0};
    assert_int_equal(sr_money_parse_budgets(m, f, strlen(f), "budgets file 'x'", &e), SR_OK);
    struct sr_usage u, t;
    sr_money_budgets(m, "big", &u, &t);
    assert_int_equal(u.jobs, 1000);
    assert_int_equal(u.wall_ms, 60000); /* not named: the default */
    sr_money_budgets(m, "small", &u, &t);
    assert_int_equal(u.jobs, 10);
    assert_int_equal(u.wall_ms, 5000);
    sr_money_budgets(m, "other", &u, &t);
    assert_int_equal(u.jobs, 10);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[]", "must be {\"users\""},
        {"{\"users\": {}, \"x\": 1}", "must be {\"users\""},
        {"{\"users\": {\"a b\": {}}}", "'a b' is not a user name"},
        {"{\"users\": {\"a\": 3}}", "users.a must be an object"},
        {"{\"users\": {\"a\": {\"users\": {}}}}", "unknown field 'users'"},
        {"{\"users\": {\"a\": {\"user\": {\"jobs\": 1}}}}", "unknown budget 'jobs'"},
        {"{\"users\": {\"a\": {\"user\": {\"jobs_per_day\": -1}}}}",
         "users.a.user.jobs_per_day must be an integer"},
        {"{\"users\": {\"a\": {\"token\": {\"jobs_per_day\": 1.5}}}}",
         "users.a.token.jobs_per_day must be an integer"},
        {"{\"users\": {\"a\": {\"token\": 7}}}", "users.a.token must be an object"},
        {"{\"users\": ", "budgets file 'x'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = (sr_err){0};
        assert_int_equal(
            sr_money_parse_budgets(m, bad[i].text, strlen(bad[i].text), "budgets file 'x'", &e),
            SR_EINVAL);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("'%s': got '%s', want '%s'", bad[i].text, e.msg, bad[i].want);
    }
    /* the last good file still holds */
    sr_money_budgets(m, "big", &u, &t);
    assert_int_equal(u.jobs, 1000);
    sr_money_free(m);
}

static void
test_prices_parse_and_errors(void **state)
{
    (void)state;
    sr_money *m = fresh();
    json_t *none = sr_money_prices_json(m);
    assert_true(json_is_null(none));
    json_decref(none);
    const char *p = "{\"base_fee\": 1000, \"gas_per_million\": {\"js\": 30, \"wasm\": 2}, "
                    "\"wall_ms\": 5, \"http_request\": 700}";
    sr_err e = {0};
    assert_int_equal(sr_money_parse_prices(m, p, strlen(p), "prices file 'p'", &e), SR_OK);
    assert_true(sr_money_priced(m));
    assert_true(sr_money_active(m));
    const struct sr_prices *pr = sr_money_prices(m);
    assert_int_equal(pr->base_fee, 1000);
    assert_int_equal(pr->gas_per_million[SR_RUNTIME_JS], 30);
    assert_int_equal(pr->gas_per_million[SR_RUNTIME_WASM], 2);
    json_t *j = sr_money_prices_json(m);
    assert_int_equal(json_integer_value(json_object_get(j, "http_request")), 700);
    json_decref(j);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[1]", "must be a JSON object of prices"},
        {"{\"base\": 1}", "unknown field 'base'"},
        {"{\"base_fee\": 1.5}", "'base_fee' must be an integer 0..1000000000000"},
        {"{\"base_fee\": -1}", "'base_fee' must be an integer"},
        {"{\"wall_ms\": 1000000000001}", "'wall_ms' must be an integer"},
        {"{\"gas_per_million\": 3}", "'gas_per_million' must be {\"js\": N, \"wasm\": N}"},
        {"{\"gas_per_million\": {\"lua\": 3}}", "unknown runtime 'lua'"},
        {"{\"http_request\": \"5\"}", "'http_request' must be an integer"},
        {"{\"base_fee\": 1, \"base_fee\": 2}", "prices file 'p'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = (sr_err){0};
        assert_int_equal(
            sr_money_parse_prices(m, bad[i].text, strlen(bad[i].text), "prices file 'p'", &e),
            SR_EINVAL);
        if (!strstr(e.msg, bad[i].want))
            fail_msg("'%s': got '%s', want '%s'", bad[i].text, e.msg, bad[i].want);
    }
    assert_int_equal(sr_money_prices(m)->base_fee, 1000); /* unchanged */
    sr_money_free(m);
}

static void
test_files_and_their_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/sr_money_test.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *p = "{\"base_fee\": 9}";
    assert_int_equal(write(fd, p, strlen(p)), (ssize_t)strlen(p));
    close(fd);
    sr_money *m = fresh();
    sr_err e = {0};
    assert_int_equal(sr_money_load_prices(m, path, &e), SR_OK);
    assert_int_equal(sr_money_prices(m)->base_fee, 9);
    assert_int_equal(sr_money_load_budgets(m, path, &e), SR_EINVAL); /* not a budgets file */
    assert_non_null(strstr(e.msg, path));
    unlink(path);
    assert_int_equal(sr_money_load_prices(m, path, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "cannot open prices file"));
    sr_money_free(m);
}

static void
test_cost_rounds_up_and_checks_overflow(void **state)
{
    (void)state;
    sr_money *m = fresh();
    const char *p = "{\"base_fee\": 100, \"gas_per_million\": {\"js\": 3, \"wasm\": 1000000000000},"
                    " \"wall_ms\": 2, \"http_request\": 50}";
    assert_int_equal(sr_money_parse_prices(m, p, strlen(p), "p", NULL), SR_OK);
    uint64_t c = 0;
    /* 1 gas at 3 per million rounds up to 1 */
    struct sr_usage u = {.jobs = 1, .gas_js = 1, .wall_ms = 10, .http = 2};
    assert_int_equal(sr_money_cost(m, SR_RUNTIME_JS, &u, &c, NULL), SR_OK);
    assert_int_equal(c, 100 + 1 + 20 + 100);
    u.gas_js = 2000000; /* exactly 6 */
    assert_int_equal(sr_money_cost(m, SR_RUNTIME_JS, &u, &c, NULL), SR_OK);
    assert_int_equal(c, 100 + 6 + 20 + 100);
    u.gas_js = 2000001; /* 6.000003: 7 */
    assert_int_equal(sr_money_cost(m, SR_RUNTIME_JS, &u, &c, NULL), SR_OK);
    assert_int_equal(c, 100 + 7 + 20 + 100);
    /* wasm: 10^13 fuel at 10^12 per million passes SR_MAX_BALANCE */
    u = (struct sr_usage){.gas_wasm = 10000000000000ull};
    sr_err e = {0};
    assert_int_equal(sr_money_cost(m, SR_RUNTIME_WASM, &u, &c, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "lower its limits"));
    u = (struct sr_usage){.gas_wasm = UINT64_MAX};
    assert_int_equal(sr_money_cost(m, SR_RUNTIME_WASM, &u, &c, &e), SR_ELIMIT);
    sr_money_free(m);
}

static void
test_who_is_charged_what(void **state)
{
    (void)state;
    sr_money *m = fresh();
    const char *p = "{\"base_fee\": 100, \"wall_ms\": 1}";
    assert_int_equal(sr_money_parse_prices(m, p, strlen(p), "p", NULL), SR_OK);
    const struct sr_usage u = {.jobs = 1, .wall_ms = 50};
    /* completed and failed: the cost (base fee included) */
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_OK, true, &u, 1000), 150);
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_EXECUTION_ERROR, true, &u, 1000),
                     150);
    /* never more than the reservation */
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_OK, true, &u, 120), 120);
    /* a timeout: the whole reservation */
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_TIMEOUT, true, &u, 1000), 1000);
    /* ended without running: nothing */
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_INTERRUPTED, false, &u, 1000), 0);
    assert_int_equal(sr_money_charge(m, SR_RUNTIME_JS, SR_JOB_OK, true, &u, 0), 0);
    struct sr_usage budget = {.jobs = 5}, used = {.jobs = 2, .wall_ms = 1500};
    json_t *b = sr_money_budget_json(&budget, &used);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(b, "jobs_per_day"), "limit")), 5);
    assert_true(json_is_null(json_object_get(json_object_get(b, "wall_s_per_day"), "limit")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(b, "wall_s_per_day"), "used")), 2);
    json_decref(b);
    sr_money_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_specs),
        cmocka_unit_test(test_budget_file_overrides),
        cmocka_unit_test(test_prices_parse_and_errors),
        cmocka_unit_test(test_files_and_their_errors),
        cmocka_unit_test(test_cost_rounds_up_and_checks_overflow),
        cmocka_unit_test(test_who_is_charged_what),
    };
    return cmocka_run_group_tests_name("engine_money", tests, NULL, NULL);
}
