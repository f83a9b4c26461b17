/* SPDX-License-Identifier: MIT */
/* tests/unit/wasm_compile_test.c - the one-pass compiler's peepholes (wasm_compile.c):
 * compare-and-branch fusion, constant operands, deferred local.get, direct writes to
 * locals. Each test builds a one-function module around a hand-written body, runs it
 * and checks the result the spec gives, so a peephole that fires where it must not
 * (or loses a value) fails here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "wasm_int.h"

#define I32 0x7f
#define I64 0x7e

struct sig {
    uint8_t np, nr;
    uint8_t params[4], results[4];
    uint8_t nlocals; /* declared locals, all of type local_type */
    uint8_t local_type;
};

/* Appends v as unsigned LEB128. */
static size_t
leb(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* A module with one function "f" of signature s and the given body (without the final
 * end, which is added), plus one memory page. Returns its length in out[0..). */
static size_t
build(uint8_t *out, const struct sig *s, const uint8_t *body, size_t blen)
{
    static const uint8_t hdr[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    uint8_t sec[512];
    size_t n = 0, k = 0;
    memcpy(out, hdr, sizeof(hdr));
    n = sizeof(hdr);
    /* type section */
    k = 0;
    sec[k++] = 1;
    sec[k++] = 0x60;
    sec[k++] = s->np;
    memcpy(sec + k, s->params, s->np);
    k += s->np;
    sec[k++] = s->nr;
    memcpy(sec + k, s->results, s->nr);
    k += s->nr;
    out[n++] = 1;
    n += leb(out + n, (uint32_t)k);
    memcpy(out + n, sec, k);
    n += k;
    /* function, memory, export sections */
    static const uint8_t fme[] = {3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 'f', 0, 0};
    memcpy(out + n, fme, sizeof(fme));
    n += sizeof(fme);
    /* code section */
    k = 0;
    uint8_t fn[4096];
    size_t f = 0;
    if (s->nlocals) {
        fn[f++] = 1;
        fn[f++] = s->nlocals;
        fn[f++] = s->local_type;
    } else {
        fn[f++] = 0;
    }
    assert_true(f + blen + 1 <= sizeof(fn));
    memcpy(fn + f, body, blen);
    f += blen;
    fn[f++] = 0x0b;
    sec[k++] = 1;
    k += leb(sec + k, (uint32_t)f);
    uint8_t code[4200];
    memcpy(code, sec, k);
    memcpy(code + k, fn, f);
    k += f;
    out[n++] = 10;
    n += leb(out + n, (uint32_t)k);
    memcpy(out + n, code, k);
    n += k;
    return n;
}

/* Runs f(args) and returns its first result; fails the test on any error. */
static uint64_t
run(const struct sig *s, const uint8_t *body, size_t blen, const uint64_t *args)
{
    uint8_t bytes[8192];
    const size_t len = build(bytes, s, body, blen);
    sr_err err = {0};
    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = NULL;
    uint64_t res[4] = {0};
    if (sr_wasm_module_new(bytes, len, &m, &err) != SR_OK)
        fail_msg("module rejected: %s", err.msg);
    assert_int_equal(sr_wasm_instance_new(m, NULL, &inst, &err), SR_OK);
    if (sr_wasm_call(inst, "f", args, s->np, res, s->nr, &err) != SR_OK)
        fail_msg("call failed: %s", err.msg);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
    return res[0];
}

#define RUN(s, args, ...)                                                                          \
    run(s, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}), args)

static const struct sig ret_i32 = {.nr = 1, .results = {I32}};

/* issue 9 item 7: the compare is dropped; br_if must test the 0 below it. */
static void
test_dropped_compare_is_not_fused_into_br_if(void **state)
{
    (void)state;
    /* block; i32.const 0; i32.const 1; i32.const 2; i32.lt_s; drop; br_if 0;
     * i32.const 7; return; end; i32.const 9 */
    assert_int_equal(RUN(&ret_i32, NULL, 0x02, 0x40, 0x41, 0x00, 0x41, 0x01, 0x41, 0x02, 0x48, 0x1a,
                         0x0d, 0x00, 0x41, 0x07, 0x0f, 0x0b, 0x41, 0x09),
                     7);
}

/* The same rule for if: the condition is the 0 below the dropped compare. */
static void
test_dropped_compare_is_not_fused_into_if(void **state)
{
    (void)state;
    /* i32.const 0; i32.const 1; i32.const 2; i32.lt_s; drop;
     * if (result i32) i32.const 7 else i32.const 9 end */
    assert_int_equal(RUN(&ret_i32, NULL, 0x41, 0x00, 0x41, 0x01, 0x41, 0x02, 0x48, 0x1a, 0x04, 0x7f,
                         0x41, 0x07, 0x05, 0x41, 0x09, 0x0b),
                     9);
}

/* i32.eqz inverts a compare only if the compare's result is what it tests. */
static void
test_eqz_after_dropped_compare_tests_the_value_below(void **state)
{
    (void)state;
    /* block; i32.const 0; i32.const 1; i32.const 2; i32.lt_s; drop; i32.eqz; br_if 0;
     * i32.const 7; return; end; i32.const 9 */
    assert_int_equal(RUN(&ret_i32, NULL, 0x02, 0x40, 0x41, 0x00, 0x41, 0x01, 0x41, 0x02, 0x48, 0x1a,
                         0x45, 0x0d, 0x00, 0x41, 0x07, 0x0f, 0x0b, 0x41, 0x09),
                     9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_compare_is_not_fused_into_br_if),
        cmocka_unit_test(test_dropped_compare_is_not_fused_into_if),
        cmocka_unit_test(test_eqz_after_dropped_compare_tests_the_value_below),
    };
    return cmocka_run_group_tests_name("wasm_compile", tests, NULL, NULL);
}
