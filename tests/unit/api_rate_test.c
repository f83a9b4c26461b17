/* SPDX-License-Identifier: MIT
 *
 * api_rate_test.c - request-rate limits (ratelimit.c,
 * docs/accounts.md#rate-limits): a bucket's burst, refill, remaining and
 * reset; Retry-After on a refusal; per-user overrides from a file and its
 * errors; and the router answering 429 with the RateLimit-* fields, per
 * token and per address. Time is passed in, so nothing here sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_int.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

#define S 1000000ll /* µs */

static void
key_of(const char *id, uint8_t key[SR_API_RATE_KEY_LEN])
{
    sr_api__rate_key_token(id, key);
}

static void
test_a_bucket_holds_its_burst_then_refills(void **state)
{
    (void)state;
    sr_api__rates *r = NULL;
    sr_err e = {0};
    assert_int_equal(sr_api__rates_new(60, 0, NULL, &r, &e), SR_OK);
    uint8_t k[SR_API_RATE_KEY_LEN];
    key_of("00000000000000aa", k);
    struct sr_api__rate_answer a;
    int64_t t0 = 1000 * S;
    for (unsigned i = 0; i < 60; i++) {
        sr_api__rate_take(r, k, 60, t0, &a);
        assert_false(a.refused);
        assert_int_equal(a.limit, 60);
        assert_int_equal(a.remaining, 59 - i);
        assert_int_equal(a.reset_s, i + 1); /* one request refills per second */
    }
    sr_api__rate_take(r, k, 60, t0, &a);
    assert_true(a.refused);
    assert_int_equal(a.remaining, 0);
    assert_int_equal(a.retry_after_s, 1);
    assert_int_equal(a.reset_s, 60);
    /* a refusal takes nothing: one second later one request passes */
    sr_api__rate_take(r, k, 60, t0 + S, &a);
    assert_false(a.refused);
    assert_int_equal(a.remaining, 0);
    sr_api__rate_take(r, k, 60, t0 + S, &a);
    assert_true(a.refused);
    /* a minute idle: full again */
    sr_api__rate_take(r, k, 60, t0 + 62 * S, &a);
    assert_false(a.refused);
    assert_int_equal(a.remaining, 59);
    sr_api__rates_free(r);
}

static void
test_keys_have_their_own_buckets(void **state)
{
    (void)state;
    sr_api__rates *r = NULL;
    sr_err e = {0};
    assert_int_equal(sr_api__rates_new(1, 1, NULL, &r, &e), SR_OK);
    uint8_t a[SR_API_RATE_KEY_LEN], b[SR_API_RATE_KEY_LEN], c[SR_API_RATE_KEY_LEN];
    key_of("00000000000000aa", a);
    key_of("00000000000000bb", b);
    struct sr_api_client cl = {.family = AF_INET, .addr = {127, 0, 0, 1}};
    sr_api__rate_key_address(&cl, c);
    struct sr_api__rate_answer ans;
    int64_t now = 5 * S;
    sr_api__rate_take(r, a, 1, now, &ans);
    assert_false(ans.refused);
    sr_api__rate_take(r, a, 1, now, &ans);
    assert_true(ans.refused);
    assert_int_equal(ans.retry_after_s, 60);
    sr_api__rate_take(r, b, 1, now, &ans);
    assert_false(ans.refused);
    sr_api__rate_take(r, c, 1, now, &ans);
    assert_false(ans.refused);
    /* no limit: nothing counted, nothing refused */
    for (int i = 0; i < 5; i++) {
        sr_api__rate_take(r, a, 0, now, &ans);
        assert_false(ans.refused);
        assert_int_equal(ans.limit, 0);
    }
    sr_api__rate_take(NULL, a, 5, now, &ans);
    assert_false(ans.refused);
    sr_api__rates_free(r);
}

/* Many more keys than slots: memory stays fixed, and a key that keeps
 * coming is still limited (its bucket is never the one given up while
 * others are full again). */
static void
test_many_keys_fit_in_a_fixed_table(void **state)
{
    (void)state;
    sr_api__rates *r = NULL;
    sr_err e = {0};
    assert_int_equal(sr_api__rates_new(2, 0, NULL, &r, &e), SR_OK);
    uint8_t hot[SR_API_RATE_KEY_LEN];
    key_of("ffffffffffffffff", hot);
    struct sr_api__rate_answer a;
    sr_api__rate_take(r, hot, 2, 0, &a);
    sr_api__rate_take(r, hot, 2, 0, &a);
    for (unsigned i = 0; i < 4 * SR_HTTP_RATE_SLOTS; i++) {
        char id[17];
        (void)snprintf(id, sizeof(id), "%016x", i);
        uint8_t k[SR_API_RATE_KEY_LEN];
        key_of(id, k);
        sr_api__rate_take(r, k, 2, 31 * S + i, &a); /* each a fresh bucket */
        assert_false(a.refused);
    }
    sr_api__rate_take(r, hot, 2, 31 * S, &a);
    assert_false(a.refused); /* refilled one in 30 s: allowed */
    sr_api__rates_free(r);
}

static const char *
write_file(const char *text)
{
    static char path[64];
    (void)snprintf(path, sizeof(path), "/tmp/sr_rates_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void
test_users_file_overrides_the_token_rate(void **state)
{
    (void)state;
    sr_api__rates *r = NULL;
    sr_err e = {0};
    const char *p =
        write_file("{\"users\": {\"alice\": {\"per_token\": 5}, \"ops\": {\"per_token\": 0}}}");
    assert_int_equal(sr_api__rates_new(100, 7, p, &r, &e), SR_OK);
    unlink(p);
    assert_int_equal(sr_api__rate_of(r, "alice"), 5);
    assert_int_equal(sr_api__rate_of(r, "ops"), 0);
    assert_int_equal(sr_api__rate_of(r, "bob"), 100);
    assert_int_equal(sr_api__rate_per_address(r), 7);
    sr_api__rates_free(r);
}

static void
test_bad_users_files_name_the_problem(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"user\": {}}", "must be {\"users\""},
        {"{\"users\": {\"a b\": {\"per_token\": 5}}}", "'a b' is not a user name"},
        {"{\"users\": {\"alice\": {\"per_token\": -1}}}", "user 'alice' must be"},
        {"{\"users\": {\"alice\": {\"per_token\": 5, \"x\": 1}}}", "user 'alice' must be"},
        {"{\"users\": {\"alice\": 5}}", "user 'alice' must be"},
        {"{\"users\": ", "JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sr_api__rates *r = NULL;
        sr_err e = {0};
        const char *p = write_file(cases[i].text);
        assert_int_equal(sr_api__rates_new(1, 1, p, &r, &e), SR_EINVAL);
        unlink(p);
        assert_null(r);
        if (!strstr(e.msg, cases[i].want))
            fail_msg("%s: '%s' does not say '%s'", cases[i].text, e.msg, cases[i].want);
    }
    sr_api__rates *r = NULL;
    sr_err e = {0};
    assert_int_equal(sr_api__rates_new(1, 1, "/nonexistent/rates.json", &r, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "cannot open rate limits file '/nonexistent/rates.json'"));
    assert_int_equal(sr_api__rates_new(SR_HTTP_MAX_RATE + 1, 1, NULL, &r, &e), SR_EINVAL);
}

/* --- through the router --- */

struct fixture {
    char dir[64];
    sr_store *st;
    sr_api *api;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/sr_rate_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/sealrun.db", f->dir);
    sr_err e = {0};
    assert_int_equal(sr_crypto_init(&e), SR_OK);
    assert_int_equal(sr_store_open_sqlite(path, &f->st, &e), SR_OK);
    assert_int_equal(sr_api_new(NULL, f->st, &f->api, &e), SR_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    sr_api_free(f->api);
    sr_store_close(f->st);
    char cmd[128];
    (void)snprintf(cmd, sizeof(cmd), "%s/sealrun.db", f->dir);
    unlink(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s/sealrun.db-wal", f->dir);
    unlink(cmd);
    (void)snprintf(cmd, sizeof(cmd), "%s/sealrun.db-shm", f->dir);
    unlink(cmd);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void
bearer(struct fixture *f, const char *user, char auth[SR_TOKEN_LEN + 8])
{
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    sr_err e = {0};
    assert_int_equal(sr_store_token_add(f->st, hash, user, NULL, sr_now_ms(), &e), SR_OK);
    (void)snprintf(auth, SR_TOKEN_LEN + 8, "Bearer %s", tok);
}

static void
get_tokens(struct fixture *f, const char *auth, uint8_t addr_last, struct sr_api_response *resp)
{
    struct sr_api_request req = {.method = "GET",
                                 .path = "/tokens",
                                 .authorization = auth,
                                 .client = {.family = AF_INET, .addr = {10, 0, 0, addr_last}}};
    sr_api_dispatch(f->api, &req, resp);
}

static void
test_router_answers_429_with_the_headers_per_token(void **state)
{
    struct fixture *f = *state;
    sr_err e = {0};
    assert_int_equal(sr_api_set_rate_limits(f->api, 2, 0, NULL, &e), SR_OK);
    char a[SR_TOKEN_LEN + 8], b[SR_TOKEN_LEN + 8];
    bearer(f, "alice", a);
    bearer(f, "alice", b);
    struct sr_api_response resp;
    get_tokens(f, a, 1, &resp);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.ratelimit_limit, 2);
    assert_int_equal(resp.ratelimit_remaining, 1);
    assert_int_equal(resp.ratelimit_reset, 30);
    json_decref(resp.body);
    get_tokens(f, a, 1, &resp);
    assert_int_equal(resp.ratelimit_remaining, 0);
    json_decref(resp.body);
    get_tokens(f, a, 1, &resp);
    assert_int_equal(resp.status, 429);
    assert_int_equal(resp.retry_after, 30);
    const char *msg =
        json_string_value(json_object_get(json_object_get(resp.body, "error"), "message"));
    assert_non_null(strstr(msg, "may make 2 requests per minute; retry in 30 s"));
    assert_non_null(strstr(msg, "rate limit: token "));
    json_decref(resp.body);
    /* the same user's other token has its own bucket */
    get_tokens(f, b, 1, &resp);
    assert_int_equal(resp.status, 200);
    json_decref(resp.body);
}

static void
test_router_limits_each_address(void **state)
{
    struct fixture *f = *state;
    sr_err e = {0};
    assert_int_equal(sr_api_set_rate_limits(f->api, 0, 1, NULL, &e), SR_OK);
    char a[SR_TOKEN_LEN + 8];
    bearer(f, "alice", a);
    struct sr_api_response resp;
    get_tokens(f, a, 1, &resp);
    assert_int_equal(resp.status, 200);
    json_decref(resp.body);
    get_tokens(f, a, 1, &resp);
    assert_int_equal(resp.status, 429);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(resp.body, "error"), "message")),
               "this address may make 1 requests per minute"));
    json_decref(resp.body);
    get_tokens(f, NULL, 1, &resp); /* before any token is looked at */
    assert_int_equal(resp.status, 429);
    json_decref(resp.body);
    get_tokens(f, a, 2, &resp);
    assert_int_equal(resp.status, 200);
    json_decref(resp.body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_bucket_holds_its_burst_then_refills),
        cmocka_unit_test(test_keys_have_their_own_buckets),
        cmocka_unit_test(test_many_keys_fit_in_a_fixed_table),
        cmocka_unit_test(test_users_file_overrides_the_token_rate),
        cmocka_unit_test(test_bad_users_files_name_the_problem),
        cmocka_unit_test_setup_teardown(test_router_answers_429_with_the_headers_per_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_router_limits_each_address, setup, teardown),
    };
    return cmocka_run_group_tests_name("api_rate", tests, NULL, NULL);
}
