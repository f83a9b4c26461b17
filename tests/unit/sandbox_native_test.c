/* SPDX-License-Identifier: MIT
 *
 * tests/unit/sandbox_native_test.c - the native tier's compiler (sr_native.h): a module
 * through wasm2c and cc into a shared object, cached; what a tool refuses, a function that
 * would keep the compiler busy past the time cap, and a cache that fills.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_native.h"

/* (module (memory 1) (func (export "run") (param i32) (result i32) ...)): a loop with
 * memory.fill and memory.grow (tests/unit/wasm_fuel_test.c). */
static const uint8_t mod_a[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x00, 0x01, 0x7f, 0x03, 0x03, 0x02, 0x00, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x0d,
    0x02, 0x03, 'r',  'u',  'n',  0x00, 0x00, 0x03, 'o',  'o',  'b',  0x00, 0x01, 0x0a, 0x3e, 0x02,
    0x2b, 0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, 0x41,
    0x00, 0x20, 0x01, 0x41, 0x80, 0x02, 0xfc, 0x0b, 0x00, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,
    0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x01, 0x40, 0x00, 0x1a, 0x20, 0x01, 0x0b, 0x10, 0x00, 0x41, 0xfa,
    0xff, 0x03, 0x41, 0x00, 0x41, 0xe4, 0x00, 0xfc, 0x0b, 0x00, 0x41, 0x00, 0x0b};

/* (module (func (export "f") (result i32) (i32.const 7))) */
static const uint8_t mod_b[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01,
                                0x00, 0x07, 0x05, 0x01, 0x01, 'f',  0x00, 0x00, 0x0a,
                                0x06, 0x01, 0x04, 0x00, 0x41, 0x07, 0x0b};

struct fixture {
    char dir[64];
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-native-test-XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    DIR *d = opendir(f->dir);
    const struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.'))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static sr_native *
make(const struct fixture *f, uint64_t cache_max, uint32_t timeout_ms)
{
    const struct sr_native_config cfg = {
        .cache_dir = f->dir, .cache_max_bytes = cache_max, .timeout_ms = timeout_ms};
    sr_native *n = NULL;
    sr_err err = {0};
    if (sr_native_new(&cfg, &n, &err) != SR_OK)
        fail_msg("sr_native_new: %s", err.msg);
    return n;
}

static void
test_compiles_a_module_and_serves_it_from_the_cache(void **state)
{
    sr_native *n = make(*state, 0, 0);
    assert_non_null(strstr(sr_native_identity(n), "sealrun-native/3 wasm2c 1.0"));
    uint8_t *so = NULL, *so2 = NULL;
    size_t len = 0, len2 = 0;
    bool hit = true;
    sr_err err = {0};
    assert_int_equal(sr_native_get(n, mod_a, sizeof(mod_a), &so, &len, &hit, &err), SR_OK);
    assert_false(hit);
    assert_true(len > 1000);
    assert_memory_equal(so,
                        "\x7f"
                        "ELF",
                        4);
    assert_int_equal(sr_native_get(n, mod_a, sizeof(mod_a), &so2, &len2, &hit, &err), SR_OK);
    assert_true(hit);
    assert_int_equal(len, len2);
    assert_memory_equal(so, so2, len);
    assert_int_equal(sr_native_cache_bytes(n), len);
    free(so);
    free(so2);
    sr_native_free(n);
}

/* A caller with more descriptors open than the tools' cap (a busy daemon):
 * the tools still start, and sr_native_lookup finds what was compiled. */
static void
test_compiles_with_many_descriptors_open_and_looks_up(void **state)
{
    sr_native *n = make(*state, 0, 0);
    int fds[100];
    for (size_t i = 0; i < 100; i++)
        assert_true((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    uint8_t *so = NULL, *so2 = NULL;
    size_t len = 0, len2 = 0;
    bool hit = true;
    sr_err err = {0};
    assert_int_equal(sr_native_lookup(n, mod_a, sizeof(mod_a), &so, &len, &err), SR_ENOTFOUND);
    assert_int_equal(sr_native_get(n, mod_a, sizeof(mod_a), &so, &len, &hit, &err), SR_OK);
    assert_false(hit);
    assert_int_equal(sr_native_lookup(n, mod_a, sizeof(mod_a), &so2, &len2, &err), SR_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(so, so2, len);
    for (size_t i = 0; i < 100; i++)
        close(fds[i]);
    free(so);
    free(so2);
    sr_native_free(n);
}

static void
test_reports_what_wasm2c_refuses(void **state)
{
    sr_native *n = make(*state, 0, 0);
    static const uint8_t junk[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x7f};
    uint8_t *so = NULL;
    size_t len = 0;
    bool hit = true;
    sr_err err = {0};
    assert_int_equal(sr_native_get(n, junk, sizeof(junk), &so, &len, &hit, &err), SR_EINVAL);
    assert_null(so);
    assert_non_null(strstr(err.msg, "wasm2c failed (exit 1)"));
    assert_int_equal(sr_native_cache_bytes(n), 0);
    sr_native_free(n);
}

/* One function of 100,000 dependent loads and adds (1 MB of body): many seconds of wasm2c
 * and gcc -O2. */
static uint8_t *
huge_function(size_t *len)
{
    const size_t body_ops = 100000;
    uint8_t *p = malloc(64 + body_ops * 10);
    size_t k = 0;
    static const uint8_t head[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                   0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02,
                                   0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x0a};
    memcpy(p, head, sizeof(head));
    k = sizeof(head);
    const size_t body = 1 + body_ops * 10 + 3; /* no locals, ops, local.get 0 end */
    const size_t sec = 1 + 3 + body;           /* count, size (3 bytes), body */
    p[k++] = (uint8_t)(0x80 | (sec & 0x7f));
    p[k++] = (uint8_t)(0x80 | ((sec >> 7) & 0x7f));
    p[k++] = (uint8_t)((sec >> 14) & 0x7f);
    p[k++] = 1;
    p[k++] = (uint8_t)(0x80 | (body & 0x7f));
    p[k++] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
    p[k++] = (uint8_t)((body >> 14) & 0x7f);
    p[k++] = 0; /* locals */
    for (size_t i = 0; i < body_ops; i++) {
        /* local.get 0; local.get 0; i32.load offset=(i % 128); i32.add; local.set 0 */
        const uint8_t op[10] = {0x20, 0x00, 0x20, 0x00, 0x28, 0x02, (uint8_t)(i % 128),
                                0x6a, 0x21, 0x00};
        memcpy(p + k, op, sizeof(op));
        k += sizeof(op);
    }
    p[k++] = 0x20;
    p[k++] = 0x00;
    p[k++] = 0x0b;
    *len = k;
    return p;
}

static void
test_stops_a_compiler_past_its_time_cap(void **state)
{
    sr_native *n = make(*state, 0, 300); /* well under a compile of this size on any machine */
    size_t mlen = 0;
    uint8_t *m = huge_function(&mlen);
    uint8_t *so = NULL;
    size_t len = 0;
    bool hit = true;
    sr_err err = {0};
    assert_int_equal(sr_native_get(n, m, mlen, &so, &len, &hit, &err), SR_ELIMIT);
    assert_null(so);
    assert_non_null(strstr(err.msg, "took longer than 300 ms (the cap)"));
    assert_int_equal(sr_native_cache_bytes(n), 0);
    free(m);
    sr_native_free(n);
}

static void
test_evicts_the_least_recently_used_when_full(void **state)
{
    uint8_t *so = NULL;
    size_t la = 0, lb = 0;
    bool hit = true;
    sr_native *n = make(*state, 0, 0);
    assert_int_equal(sr_native_get(n, mod_a, sizeof(mod_a), &so, &la, &hit, NULL), SR_OK);
    free(so);
    sr_native_free(n);
    /* room for the larger object and not both */
    n = make(*state, la + la / 4, 0);
    assert_int_equal(sr_native_get(n, mod_b, sizeof(mod_b), &so, &lb, &hit, NULL), SR_OK);
    free(so);
    assert_false(hit);
    assert_true(sr_native_cache_bytes(n) <= la + la / 4);
    assert_int_equal(sr_native_cache_bytes(n), lb); /* mod_a went */
    assert_int_equal(sr_native_get(n, mod_a, sizeof(mod_a), &so, &la, &hit, NULL), SR_OK);
    free(so);
    assert_false(hit);
    assert_int_equal(sr_native_cache_bytes(n), la); /* and now mod_b */
    sr_native_free(n);
}

static void
test_refuses_an_unknown_optimisation_level(void **state)
{
    const struct fixture *f = *state;
    const struct sr_native_config cfg = {.cache_dir = f->dir, .opt_level = "-O3; rm"};
    sr_native *n = NULL;
    sr_err err = {0};
    assert_int_equal(sr_native_new(&cfg, &n, &err), SR_EINVAL);
    assert_null(n);
    assert_non_null(strstr(err.msg, "expected -O0, -O1, -O2, -O3 or -Os"));
    const struct sr_native_config cfg2 = {.cache_dir = f->dir, .cc = "/nonexistent/cc"};
    assert_int_equal(sr_native_new(&cfg2, &n, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'/nonexistent/cc' is not an executable"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compiles_a_module_and_serves_it_from_the_cache, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_compiles_with_many_descriptors_open_and_looks_up,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports_what_wasm2c_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stops_a_compiler_past_its_time_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evicts_the_least_recently_used_when_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_an_unknown_optimisation_level, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("sandbox_native", tests, NULL, NULL);
}
