/* SPDX-License-Identifier: MIT
 *
 * runner_cache_test.c - the job process's cache of compiled modules: hits by
 * hash, a bound in bytes and in slots, least recently used out, and a module
 * too large to keep handed back to its job.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "runner_int.h"

static sr_wasm_module *
empty_module(void)
{
    static const uint8_t bytes[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(bytes, sizeof(bytes), &m, NULL), SR_OK);
    return m;
}

static void
hash_of(int i, uint8_t h[32])
{
    memset(h, 0, 32);
    h[0] = (uint8_t)i;
    h[1] = (uint8_t)(i >> 8);
}

static void
test_hits_and_bytes_bound(void **state)
{
    (void)state;
    struct runner_cache c = {.max_bytes = 100};
    uint8_t h[32];
    for (int i = 0; i < 3; i++) {
        hash_of(i, h);
        assert_non_null(sr_runner__cache_put(&c, h, empty_module(), 40));
    }
    /* 3 x 40 > 100: the first (least recently used) went */
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bytes, 80);
    hash_of(0, h);
    assert_null(sr_runner__cache_get(&c, h));
    hash_of(1, h);
    assert_non_null(sr_runner__cache_get(&c, h)); /* now 1 is the most recent */
    hash_of(3, h);
    assert_non_null(sr_runner__cache_put(&c, h, empty_module(), 40));
    hash_of(2, h);
    assert_null(sr_runner__cache_get(&c, h)); /* 2 was the least recent */
    hash_of(1, h);
    assert_non_null(sr_runner__cache_get(&c, h));
    /* a module over the whole bound is not kept: its job frees it */
    hash_of(9, h);
    assert_null(sr_runner__cache_put(&c, h, empty_module(), 101));
    assert_int_equal(c.n, 2);
    sr_runner__cache_fini(&c);
    assert_int_equal(c.n, 0);
    assert_int_equal(c.bytes, 0);
}

static void
test_slot_bound(void **state)
{
    (void)state;
    struct runner_cache c = {.max_bytes = SR_RUNNER_DEFAULT_CACHE};
    uint8_t h[32];
    for (int i = 0; i < RUNNER_CACHE_SLOTS + 10; i++) {
        hash_of(i, h);
        assert_non_null(sr_runner__cache_put(&c, h, empty_module(), 1));
    }
    assert_int_equal(c.n, RUNNER_CACHE_SLOTS);
    hash_of(0, h);
    assert_null(sr_runner__cache_get(&c, h));
    hash_of(RUNNER_CACHE_SLOTS + 9, h);
    assert_non_null(sr_runner__cache_get(&c, h));
    sr_runner__cache_fini(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hits_and_bytes_bound),
        cmocka_unit_test(test_slot_bound),
    };
    return cmocka_run_group_tests_name("runner_cache", tests, NULL, NULL);
}
