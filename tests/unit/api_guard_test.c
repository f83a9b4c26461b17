/* SPDX-License-Identifier: MIT
 *
 * api_guard_test.c - the HTTP edge's memory of clients (src/api/guard.c):
 * the failed-authentication bucket per address, its bounded table, and the
 * tokens seen valid lately. Times are passed in, so nothing sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "api_int.h"
#include "sealrun/sr_limits.h"

static struct sr_api_client
v4(const char *s)
{
    struct sr_api_client c = {.family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, s, c.addr), 1);
    return c;
}

static struct sr_api_client
v6(const char *s)
{
    struct sr_api_client c = {.family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, s, c.addr), 1);
    return c;
}

static void
test_burst_then_one_per_interval(void **state)
{
    (void)state;
    sr_api_guard *g = NULL;
    assert_int_equal(sr_api__guard_new(30, &g, NULL), SR_OK); /* one per 2 s */
    struct sr_api_client a = v4("192.0.2.1");
    int64_t t = 1000000;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(sr_api__guard_wait(g, &a, t), 0);
        sr_api__guard_failed(g, &a, t);
    }
    assert_int_equal(sr_api__guard_wait(g, &a, t), 2);
    assert_int_equal(sr_api__guard_wait(g, &a, t + 1001), 1);
    assert_int_equal(sr_api__guard_wait(g, &a, t + 2000), 0);
    sr_api__guard_failed(g, &a, t + 2000);
    assert_int_equal(sr_api__guard_wait(g, &a, t + 2000), 2);
    /* A minute later the whole burst is back. */
    t += 2000 + 60000;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(sr_api__guard_wait(g, &a, t), 0);
        sr_api__guard_failed(g, &a, t);
    }
    assert_int_not_equal(sr_api__guard_wait(g, &a, t), 0);
    sr_api__guard_free(g);
}

static void
test_addresses_are_apart_and_ipv6_goes_by_64(void **state)
{
    (void)state;
    sr_api_guard *g = NULL;
    assert_int_equal(sr_api__guard_new(1, &g, NULL), SR_OK);
    int64_t t = 5000;
    struct sr_api_client a = v4("192.0.2.1"), b = v4("192.0.2.2");
    sr_api__guard_failed(g, &a, t);
    assert_int_equal(sr_api__guard_wait(g, &a, t), 60);
    assert_int_equal(sr_api__guard_wait(g, &b, t), 0);
    /* IPv4-mapped IPv6 is the IPv4 address. */
    struct sr_api_client m = v6("::ffff:192.0.2.1");
    assert_int_equal(sr_api__guard_wait(g, &m, t), 60);
    /* One /64 is one client; the next /64 is another. */
    struct sr_api_client x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"),
                         z = v6("2001:db8:1:3::1");
    sr_api__guard_failed(g, &x, t);
    assert_int_equal(sr_api__guard_wait(g, &y, t), 60);
    assert_int_equal(sr_api__guard_wait(g, &z, t), 0);
    /* No guard (tests, the fuzzer): nothing is limited. */
    sr_api__guard_failed(NULL, &a, t);
    assert_int_equal(sr_api__guard_wait(NULL, &a, t), 0);
    sr_api__guard_free(g);
}

static void
test_table_stays_bounded_and_keeps_working(void **state)
{
    (void)state;
    sr_api_guard *g = NULL;
    assert_int_equal(sr_api__guard_new(5, &g, NULL), SR_OK);
    int64_t t = 1;
    /* Ten times as many addresses as slots, each failing once: the table
     * is fixed, so most are forgotten, and none costs more than a window. */
    for (uint32_t i = 0; i < 10u * SR_HTTP_GUARD_SLOTS; i++) {
        struct sr_api_client c = {.family = AF_INET};
        uint32_t n = htonl(0x0a000000u + i);
        memcpy(c.addr, &n, 4);
        sr_api__guard_failed(g, &c, t);
    }
    /* An address that keeps failing is still caught among them. */
    struct sr_api_client a = v4("198.51.100.7");
    for (int i = 0; i < 5; i++)
        sr_api__guard_failed(g, &a, t);
    assert_int_not_equal(sr_api__guard_wait(g, &a, t), 0);
    sr_api__guard_free(g);
    assert_int_equal(sr_api__guard_new(0, &g, NULL), SR_EINVAL);
    assert_int_equal(sr_api__guard_new(60001, &g, NULL), SR_EINVAL);
}

static void
test_known_tokens_expire(void **state)
{
    (void)state;
    sr_api_guard *g = NULL;
    assert_int_equal(sr_api__guard_new(30, &g, NULL), SR_OK);
    uint8_t h1[32], h2[32];
    assert_true(sr_api__bearer_hash("Bearer srt_abc", h1));
    assert_true(sr_api__bearer_hash("bearer   srt_abc", h2));
    assert_memory_equal(h1, h2, 32);
    assert_false(sr_api__bearer_hash("Basic eDp5", h2));
    assert_false(sr_api__bearer_hash("Bearer ", h2));
    assert_false(sr_api__bearer_hash(NULL, h2));
    assert_true(sr_api__bearer_hash("Bearer srt_other", h2));
    int64_t t = 100;
    assert_false(sr_api__guard_token_known(g, h1, t));
    sr_api__guard_token_ok(g, h1, t);
    assert_true(sr_api__guard_token_known(g, h1, t + SR_HTTP_KNOWN_TOKEN_MS - 1));
    assert_false(sr_api__guard_token_known(g, h1, t + SR_HTTP_KNOWN_TOKEN_MS));
    assert_false(sr_api__guard_token_known(g, h2, t));
    assert_false(sr_api__guard_token_known(NULL, h1, t));
    sr_api__guard_free(g);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_one_per_interval),
        cmocka_unit_test(test_addresses_are_apart_and_ipv6_goes_by_64),
        cmocka_unit_test(test_table_stays_bounded_and_keeps_working),
        cmocka_unit_test(test_known_tokens_expire),
    };
    return cmocka_run_group_tests_name("api_guard", tests, NULL, NULL);
}
