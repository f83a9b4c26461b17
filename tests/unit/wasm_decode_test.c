/* SPDX-License-Identifier: MIT
 *
 * tests/unit/wasm_decode_test.c - decoder and validator edge cases (LEB128,
 * truncation, section order, limits, SIMD rejection), engine limits and fuel
 * determinism on small hand-made modules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "wasm_int.h"

#define HDR 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00

/* loop.wat: sum(n) loop, rec(n) recursion, fused(a, b) (regression: a compare
 * that was dropped must not be fused into a later br_if), grow(n) on 1 page. */
static const uint8_t loop_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x05, 0x04, 0x00, 0x00, 0x01, 0x00, 0x05, 0x03, 0x01,
    0x00, 0x01, 0x07, 0x1c, 0x04, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00, 0x03, 0x72, 0x65, 0x63, 0x00,
    0x01, 0x05, 0x66, 0x75, 0x73, 0x65, 0x64, 0x00, 0x02, 0x04, 0x67, 0x72, 0x6f, 0x77, 0x00, 0x03,
    0x0a, 0x58, 0x04, 0x21, 0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01,
    0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x0c, 0x00,
    0x0b, 0x0b, 0x20, 0x01, 0x0b, 0x15, 0x00, 0x20, 0x00, 0x45, 0x04, 0x7f, 0x41, 0x00, 0x05, 0x41,
    0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01, 0x6a, 0x0b, 0x0b, 0x17, 0x00, 0x02, 0x40, 0x20,
    0x00, 0x20, 0x01, 0x48, 0x1a, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0d, 0x00, 0x41, 0x01, 0x0f, 0x0b,
    0x41, 0x02, 0x0b, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b};

static sr_status
load(const uint8_t *b, size_t n, sr_err *err)
{
    sr_wasm_module *m = NULL;
    sr_status st = sr_wasm_module_new(b, n, &m, err);
    sr_wasm_module_free(m);
    return st;
}

/* The decoder's own LEB128 reader over in[0..n): *used bytes consumed. */
static struct sr_wasm__rd
reader(const uint8_t *in, size_t n, sr_err *err)
{
    return (struct sr_wasm__rd){.p = in, .end = in + n, .base = in, .err = err};
}

static void
test_decodes_max_u32(void **state)
{
    (void)state;
    const uint8_t in[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x2a};
    uint32_t v = 0;
    sr_err err = {0};
    struct sr_wasm__rd r = reader(in, sizeof(in), &err);
    assert_int_equal(sr_wasm__rd_u32(&r, &v), SR_OK);
    assert_int_equal(v, UINT32_MAX);
    assert_ptr_equal(r.p, in + 5);
}

static void
expect_leb_error(const uint8_t *in, size_t n, bool is_signed, const char *msg)
{
    sr_err err = {0};
    struct sr_wasm__rd r = reader(in, n, &err);
    uint32_t v;
    int32_t s;
    assert_int_equal(is_signed ? sr_wasm__rd_s32(&r, &s) : sr_wasm__rd_u32(&r, &v), SR_EINVAL);
    assert_non_null(strstr(err.msg, msg));
}

static void
test_rejects_overlong_and_too_large_leb(void **state)
{
    (void)state;
    const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    const uint8_t large[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    const uint8_t s32_bad[] = {0xff, 0xff, 0xff, 0xff, 0x4f};
    const uint8_t trunc[] = {0x80};
    expect_leb_error(overlong, sizeof(overlong), false, "integer representation too long");
    expect_leb_error(large, sizeof(large), false, "integer too large");
    expect_leb_error(s32_bad, sizeof(s32_bad), true, "integer too large");
    expect_leb_error(trunc, sizeof(trunc), false, "unexpected end");
}

static void
test_decodes_signed_leb(void **state)
{
    (void)state;
    const uint8_t m1[] = {0x7f};
    const uint8_t min32[] = {0x80, 0x80, 0x80, 0x80, 0x78};
    const uint8_t min64[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f};
    const uint8_t s33[] = {0x80, 0x80, 0x80, 0x80, 0x70}; /* -2^32, a block type's range */
    int32_t s = 0;
    int64_t l = 0;
    sr_err err = {0};
    struct sr_wasm__rd r = reader(m1, sizeof(m1), &err);
    assert_int_equal(sr_wasm__rd_s32(&r, &s), SR_OK);
    assert_int_equal(s, -1);
    r = reader(min32, sizeof(min32), &err);
    assert_int_equal(sr_wasm__rd_s32(&r, &s), SR_OK);
    assert_true(s == INT32_MIN);
    r = reader(min64, sizeof(min64), &err);
    assert_int_equal(sr_wasm__rd_s64(&r, &l), SR_OK);
    assert_true(l == INT64_MIN);
    r = reader(s33, sizeof(s33), &err);
    assert_int_equal(sr_wasm__rd_s33(&r, &l), SR_OK);
    assert_true(l == -((int64_t)1 << 32));
}

static void
test_header_and_empty_module(void **state)
{
    (void)state;
    const uint8_t ok[] = {HDR};
    const uint8_t magic[] = {0x00, 0x61, 0x73, 0x6e, 0x01, 0x00, 0x00, 0x00};
    const uint8_t version[] = {0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00};
    sr_err err = {0};
    assert_int_equal(load(ok, sizeof(ok), &err), SR_OK);
    assert_int_equal(load(magic, sizeof(magic), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "magic header not detected"));
    assert_int_equal(load(version, sizeof(version), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "unknown binary version"));
}

static void
test_rejects_truncated_section(void **state)
{
    (void)state;
    const uint8_t trunc[] = {HDR, 0x01, 0x05, 0x01, 0x60, 0x00}; /* size 5, 3 bytes follow */
    const uint8_t short_body[] = {HDR, 0x01, 0x02, 0x01, 0x60};  /* functype cut short */
    sr_err err = {0};
    assert_int_equal(load(trunc, sizeof(trunc), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "malformed"));
    assert_int_equal(load(short_body, sizeof(short_body), &err), SR_EINVAL);
}

static void
test_enforces_section_order(void **state)
{
    (void)state;
    /* function section (3) before type section (1); type section twice */
    const uint8_t order[] = {HDR, 0x03, 0x01, 0x00, 0x01, 0x01, 0x00};
    const uint8_t twice[] = {HDR, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00};
    const uint8_t custom_anywhere[] = {HDR,  0x01, 0x01, 0x00, 0x00, 0x02,
                                       0x01, 'x',  0x03, 0x01, 0x00};
    const uint8_t bad_id[] = {HDR, 0x0d, 0x00};
    sr_err err = {0};
    assert_int_equal(load(order, sizeof(order), &err), SR_EINVAL);
    assert_int_equal(load(twice, sizeof(twice), &err), SR_EINVAL);
    assert_int_equal(load(custom_anywhere, sizeof(custom_anywhere), &err), SR_OK);
    assert_int_equal(load(bad_id, sizeof(bad_id), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "malformed section id"));
}

static void
test_validates_memory_limits(void **state)
{
    (void)state;
    const uint8_t too_big[] = {HDR, 0x05, 0x05, 0x01, 0x00, 0x81, 0x80, 0x04}; /* 65537 */
    const uint8_t min_gt_max[] = {HDR, 0x05, 0x04, 0x01, 0x01, 0x02, 0x01};
    const uint8_t two[] = {HDR, 0x05, 0x05, 0x02, 0x00, 0x01, 0x00, 0x01};
    sr_err err = {0};
    assert_int_equal(load(too_big, sizeof(too_big), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "65536 pages"));
    assert_int_equal(load(min_gt_max, sizeof(min_gt_max), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "minimum must not be greater"));
    assert_int_equal(load(two, sizeof(two), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "multiple memories"));
}

static void
test_rejects_simd_clearly(void **state)
{
    (void)state;
    /* type [] -> [v128] */
    const uint8_t v128[] = {HDR, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b};
    /* a body with the 0xfd prefix */
    const uint8_t op[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01,
                          0x00, 0x0a, 0x06, 0x01, 0x04, 0x00, 0xfd, 0x0c, 0x0b};
    sr_err err = {0};
    assert_int_equal(load(v128, sizeof(v128), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "SIMD"));
    assert_int_equal(load(op, sizeof(op), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "SIMD"));
}

static void
test_function_and_code_counts_must_agree(void **state)
{
    (void)state;
    const uint8_t no_code[] = {HDR, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00};
    sr_err err = {0};
    assert_int_equal(load(no_code, sizeof(no_code), &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "inconsistent lengths"));
}

static sr_wasm_instance *
instance(sr_wasm_module **m, const struct sr_wasm_limits *lim)
{
    sr_err err = {0};
    sr_wasm_instance *inst = NULL;
    assert_int_equal(sr_wasm_module_new(loop_wasm, sizeof(loop_wasm), m, &err), SR_OK);
    assert_int_equal(sr_wasm_instance_new(*m, lim, &inst, &err), SR_OK);
    return inst;
}

static void
test_fuel_is_deterministic_and_out_of_fuel_is_distinct(void **state)
{
    (void)state;
    uint64_t used[2];
    for (int i = 0; i < 2; i++) {
        sr_wasm_module *m = NULL;
        sr_wasm_instance *inst = instance(&m, NULL);
        uint64_t arg = 1000, res = 0;
        assert_int_equal(sr_wasm_call(inst, "sum", &arg, 1, &res, 1, NULL), SR_OK);
        assert_int_equal(res, 500500);
        used[i] = sr_wasm_instance_fuel_used(inst);
        sr_wasm_instance_free(inst);
        sr_wasm_module_free(m);
    }
    assert_true(used[0] == used[1]);
    assert_true(used[0] > 1000 * 5);
    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = instance(&m, &(struct sr_wasm_limits){.fuel = used[0] - 1});
    uint64_t arg = 1000, res = 0;
    sr_err err = {0};
    assert_int_equal(sr_wasm_call(inst, "sum", &arg, 1, &res, 1, &err), SR_ELIMIT);
    assert_int_equal(sr_wasm_instance_trap(inst), SR_WASM_TRAP_FUEL);
    assert_string_equal(err.msg, "out of fuel");
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
}

static void
test_depth_and_value_stack_limits_are_distinct(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = instance(&m, &(struct sr_wasm_limits){.max_depth = 100});
    uint64_t arg = 99, res = 0;
    assert_int_equal(sr_wasm_call(inst, "rec", &arg, 1, &res, 1, NULL), SR_OK);
    assert_int_equal(res, 99);
    arg = 1000;
    assert_int_equal(sr_wasm_call(inst, "rec", &arg, 1, &res, 1, NULL), SR_ELIMIT);
    assert_int_equal(sr_wasm_instance_trap(inst), SR_WASM_TRAP_CALL_DEPTH);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
    inst = instance(&m, &(struct sr_wasm_limits){.max_stack = 64});
    assert_int_equal(sr_wasm_call(inst, "rec", &arg, 1, &res, 1, NULL), SR_ELIMIT);
    assert_int_equal(sr_wasm_instance_trap(inst), SR_WASM_TRAP_VALUE_STACK);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
}

static void
test_dropped_compare_is_not_fused(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = instance(&m, NULL);
    uint64_t args[2] = {5, 1}, res = 0;
    assert_int_equal(sr_wasm_call(inst, "fused", args, 2, &res, 1, NULL), SR_OK);
    assert_int_equal(res, 2); /* branch on 5 + 1, not on 5 < 1 */
    args[0] = 1;
    args[1] = (uint32_t)-1;
    assert_int_equal(sr_wasm_call(inst, "fused", args, 2, &res, 1, NULL), SR_OK);
    assert_int_equal(res, 1);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
}

static void
test_memory_limit_caps_grow_and_initial_size(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = instance(&m, &(struct sr_wasm_limits){.max_pages = 4});
    uint64_t arg = 3, res = 0;
    assert_int_equal(sr_wasm_call(inst, "grow", &arg, 1, &res, 1, NULL), SR_OK);
    assert_int_equal(res, 1);
    arg = 1;
    assert_int_equal(sr_wasm_call(inst, "grow", &arg, 1, &res, 1, NULL), SR_OK);
    assert_int_equal((uint32_t)res, UINT32_MAX);
    assert_true(sr_wasm_instance_limit_hit(inst));
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);

    const uint8_t big[] = {HDR, 0x05, 0x03, 0x01, 0x00, 0x64}; /* (memory 100) */
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(big, sizeof(big), &m, &err), SR_OK);
    assert_int_equal(
        sr_wasm_instance_new(m, &(struct sr_wasm_limits){.max_pages = 10}, &inst, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "100 pages"));
    sr_wasm_module_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_max_u32),
        cmocka_unit_test(test_rejects_overlong_and_too_large_leb),
        cmocka_unit_test(test_decodes_signed_leb),
        cmocka_unit_test(test_header_and_empty_module),
        cmocka_unit_test(test_rejects_truncated_section),
        cmocka_unit_test(test_enforces_section_order),
        cmocka_unit_test(test_validates_memory_limits),
        cmocka_unit_test(test_rejects_simd_clearly),
        cmocka_unit_test(test_function_and_code_counts_must_agree),
        cmocka_unit_test(test_fuel_is_deterministic_and_out_of_fuel_is_distinct),
        cmocka_unit_test(test_depth_and_value_stack_limits_are_distinct),
        cmocka_unit_test(test_dropped_compare_is_not_fused),
        cmocka_unit_test(test_memory_limit_caps_grow_and_initial_size),
    };
    return cmocka_run_group_tests_name("wasm_decode", tests, NULL, NULL);
}
