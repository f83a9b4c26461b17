/* SPDX-License-Identifier: MIT
 *
 * tests/unit/wasm_fuel_test.c - sr_wasm_fuel_instrument(): the rewritten module charges, at
 * every fuel limit, exactly what the interpreter charges for the original (same result or
 * trap, same gas), including the operators whose charge depends on their operands; and it
 * refuses what it must. The corpora and the guests: scripts/wasm-fuel-diff.py (ctest
 * fuzz-replay/fuel_*).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_wasm.h"
#include "wasm_int.h"

/* (memory 1)
 * (func (export "run") (param $n i32) (result i32) (local $i i32)
 *   (block (loop
 *     (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
 *     (memory.fill (i32.const 0) (local.get $i) (i32.const 256))
 *     (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *     (br 0)))
 *   (drop (memory.grow (i32.const 1)))
 *   (local.get $i))
 * (func (export "oob") (result i32)
 *   (memory.fill (i32.const 65530) (i32.const 0) (i32.const 100)) (i32.const 0)) */
static const uint8_t loop_mod[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,                         /* header */
    0x01, 0x0a, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f, /* types */
    0x03, 0x03, 0x02, 0x00, 0x01,                                           /* functions */
    0x05, 0x03, 0x01, 0x00, 0x01,                                           /* memory 1 */
    0x07, 0x0d, 0x02, 0x03, 'r',  'u',  'n',  0x00, 0x00, 0x03, 'o',  'o',  'b',  0x00, 0x01, 0x0a,
    0x3e, 0x02, /* code */
    0x2b, 0x01, 0x01, 0x7f, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00, 0x4f, 0x0d, 0x01, 0x41,
    0x00, 0x20, 0x01, 0x41, 0x80, 0x02, 0xfc, 0x0b, 0x00, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,
    0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x01, 0x40, 0x00, 0x1a, 0x20, 0x01, 0x0b, 0x10, 0x00, 0x41, 0xfa,
    0xff, 0x03, 0x41, 0x00, 0x41, 0xe4, 0x00, 0xfc, 0x0b, 0x00, 0x41, 0x00, 0x0b};

/* Every operator whose charge depends on its operands, in range, then (k = 1..4) one of
 * memory.copy, table.copy, memory.init, table.fill out of range (tests/data/wasm/fuel_bulk.wat,
 * assembled by wat2wasm):
 *   memory.init 80 bytes; memory.copy k+200; table.init 3; table.copy 3; table.fill 4 (a
 *   funcref and an externref table); table.grow k+20; memory.grow 2; memory.fill 70000;
 *   then the out-of-range one; returns table.size + memory.size. */
static const uint8_t bulk_mod[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60, 0x00, 0x01, 0x7f, 0x60,
    0x01, 0x7f, 0x01, 0x7f, 0x03, 0x03, 0x02, 0x00, 0x01, 0x04, 0x08, 0x02, 0x70, 0x01, 0x04, 0x64,
    0x6f, 0x00, 0x02, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x08, 0x01, 0x04, 0x62, 0x75, 0x6c, 0x6b,
    0x00, 0x01, 0x09, 0x07, 0x01, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0c, 0x01, 0x01, 0x0a, 0xbb,
    0x01, 0x02, 0x04, 0x00, 0x41, 0x01, 0x0b, 0xb3, 0x01, 0x00, 0x41, 0xe4, 0x00, 0x41, 0x00, 0x41,
    0xd0, 0x00, 0xfc, 0x08, 0x00, 0x00, 0x41, 0xe8, 0x07, 0x41, 0xe4, 0x00, 0x20, 0x00, 0x41, 0xc8,
    0x01, 0x6a, 0xfc, 0x0a, 0x00, 0x00, 0x41, 0x01, 0x41, 0x00, 0x41, 0x03, 0xfc, 0x0c, 0x00, 0x00,
    0x41, 0x00, 0x41, 0x01, 0x41, 0x03, 0xfc, 0x0e, 0x00, 0x00, 0x41, 0x00, 0xd2, 0x00, 0x41, 0x04,
    0xfc, 0x11, 0x00, 0x41, 0x00, 0xd0, 0x6f, 0x41, 0x02, 0xfc, 0x11, 0x01, 0xd0, 0x70, 0x20, 0x00,
    0x41, 0x14, 0x6a, 0xfc, 0x0f, 0x00, 0x1a, 0x41, 0x02, 0x40, 0x00, 0x1a, 0x41, 0x00, 0x41, 0x07,
    0x41, 0xf0, 0xa2, 0x04, 0xfc, 0x0b, 0x00, 0x20, 0x00, 0x41, 0x01, 0x46, 0x04, 0x40, 0x41, 0xf8,
    0xff, 0x0b, 0x41, 0x00, 0x41, 0xe4, 0x00, 0xfc, 0x0a, 0x00, 0x00, 0x0b, 0x20, 0x00, 0x41, 0x02,
    0x46, 0x04, 0x40, 0x41, 0xe4, 0x00, 0x41, 0x00, 0x41, 0x1e, 0xfc, 0x0e, 0x00, 0x00, 0x0b, 0x20,
    0x00, 0x41, 0x03, 0x46, 0x04, 0x40, 0x41, 0x00, 0x41, 0xc6, 0x00, 0x41, 0xe4, 0x00, 0xfc, 0x08,
    0x00, 0x00, 0x0b, 0x20, 0x00, 0x41, 0x04, 0x46, 0x04, 0x40, 0x41, 0x14, 0xd0, 0x70, 0x41, 0xe8,
    0x07, 0xfc, 0x11, 0x00, 0x0b, 0xfc, 0x10, 0x00, 0x3f, 0x00, 0x6a, 0x0b, 0x0b, 0x55, 0x01, 0x01,
    0x52, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65,
    0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75,
    0x76, 0x77, 0x78, 0x79, 0x7a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61,
    0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71,
    0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36,
    0x37, 0x38, 0x39};

struct outcome {
    sr_status st;
    sr_wasm_trap trap;
    uint64_t result;
    uint64_t gas;
};

static struct outcome
run_original(const sr_wasm_module *m, const char *fn, uint64_t fuel, uint64_t arg)
{
    const struct sr_wasm_limits lim = {.fuel = fuel};
    sr_wasm_instance *inst = NULL;
    struct outcome o = {0};
    assert_int_equal(sr_wasm_instance_new(m, &lim, &inst, NULL), SR_OK);
    o.st = sr_wasm_call(inst, fn, &arg, strcmp(fn, "oob") == 0 ? 0 : 1, &o.result, 1, NULL);
    o.trap = sr_wasm_instance_trap(inst);
    o.gas = sr_wasm_instance_fuel_used(inst);
    sr_wasm_instance_free(inst);
    return o;
}

/* The original rewritten once (no start function: the fuel global is set after
 * instantiation, as the native tier's host does). */
static sr_wasm_module *
instrumented(const sr_wasm_module *orig)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_fuel_instrument(orig, UINT64_MAX, &bytes, &len, &m, NULL), SR_OK);
    free(bytes);
    return m;
}

static struct outcome
run_instrumented(const sr_wasm_module *m, const char *fn, uint64_t fuel, uint64_t arg)
{
    sr_wasm_instance *inst = NULL;
    struct outcome o = {0};
    const uint64_t init = fuel ? fuel : UINT64_MAX;
    assert_int_equal(sr_wasm_instance_new(m, NULL, &inst, NULL), SR_OK);
    const struct sr_wasm__export *e =
        sr_wasm__find_export(m, SR_WASM_FUEL_EXPORT, strlen(SR_WASM_FUEL_EXPORT));
    assert_non_null(e);
    inst->globals[e->index]->val = init;
    o.st = sr_wasm_call(inst, fn, &arg, strcmp(fn, "oob") == 0 ? 0 : 1, &o.result, 1, NULL);
    o.trap = sr_wasm_instance_trap(inst);
    int type = 0;
    uint64_t left = 0, flag = 0;
    assert_int_equal(sr_wasm_global_read(inst, SR_WASM_FUEL_EXPORT, &type, &left, NULL), SR_OK);
    assert_int_equal(type, SR_WASM_I64);
    assert_int_equal(sr_wasm_global_read(inst, SR_WASM_FUEL_FLAG_EXPORT, &type, &flag, NULL),
                     SR_OK);
    if (flag == 1 && o.trap == SR_WASM_TRAP_UNREACHABLE) {
        o.trap = SR_WASM_TRAP_FUEL;
        o.st = SR_ELIMIT;
    }
    o.gas = init - left;
    sr_wasm_instance_free(inst);
    return o;
}

static void
expect_same(const sr_wasm_module *m, const sr_wasm_module *fm, const char *fn, uint64_t fuel,
            uint64_t arg)
{
    const struct outcome a = run_original(m, fn, fuel, arg);
    const struct outcome b = run_instrumented(fm, fn, fuel, arg);
    assert_int_equal(a.st, b.st);
    assert_int_equal(a.trap, b.trap);
    assert_int_equal(a.gas, b.gas);
    if (a.st == SR_OK)
        assert_int_equal(a.result, b.result);
}

static void
test_charges_the_interpreters_gas_at_every_limit(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(loop_mod, sizeof(loop_mod), &m, NULL), SR_OK);
    sr_wasm_module *fm = instrumented(m);
    const struct outcome full = run_original(m, "run", 0, 10);
    assert_int_equal(full.st, SR_OK);
    assert_int_equal(full.result, 10);
    assert_true(full.gas > 100);
    /* every limit from 1 to one past what the run needs: the fuel runs out in every block,
     * in memory.fill's charge for its bytes and in memory.grow's for its page */
    for (uint64_t fuel = 0; fuel <= full.gas + 1; fuel++)
        expect_same(m, fm, "run", fuel, 10);
    sr_wasm_module_free(fm);
    sr_wasm_module_free(m);
}

static void
test_out_of_bounds_traps_before_the_bulk_charge(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(loop_mod, sizeof(loop_mod), &m, NULL), SR_OK);
    sr_wasm_module *fm = instrumented(m);
    const struct outcome full = run_original(m, "oob", 0, 0);
    assert_int_equal(full.trap, SR_WASM_TRAP_MEM_OOB);
    for (uint64_t fuel = 0; fuel <= full.gas + 2; fuel++)
        expect_same(m, fm, "oob", fuel, 0);
    sr_wasm_module_free(fm);
    sr_wasm_module_free(m);
}

static void
test_charges_bulk_operators_as_the_interpreter_at_every_limit(void **state)
{
    (void)state;
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(bulk_mod, sizeof(bulk_mod), &m, NULL), SR_OK);
    sr_wasm_module *fm = instrumented(m);
    static const sr_wasm_trap want[5] = {SR_WASM_TRAP_NONE, SR_WASM_TRAP_MEM_OOB,
                                         SR_WASM_TRAP_TABLE_OOB, SR_WASM_TRAP_MEM_OOB,
                                         SR_WASM_TRAP_TABLE_OOB};
    for (uint64_t k = 0; k < 5; k++) {
        const struct outcome full = run_original(m, "bulk", 0, k);
        assert_int_equal(full.trap, want[k]);
        for (uint64_t fuel = 0; fuel <= full.gas + 1; fuel++)
            expect_same(m, fm, "bulk", fuel, k);
    }
    sr_wasm_module_free(fm);
    sr_wasm_module_free(m);
}

static void
test_refuses_a_module_exporting_the_fuel_name(void **state)
{
    (void)state;
    /* (global (export "sealrun:fuel") i32 (i32.const 0)) */
    static const uint8_t mod[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x06,
                                  0x06, 0x01, 0x7f, 0x00, 0x41, 0x00, 0x0b, 0x07, 0x10,
                                  0x01, 0x0c, 's',  'e',  'a',  'l',  'r',  'u',  'n',
                                  ':',  'f',  'u',  'e',  'l',  0x03, 0x00};
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(mod, sizeof(mod), &m, NULL), SR_OK);
    uint8_t *out = NULL;
    size_t len = 0;
    sr_err err = {0};
    assert_int_equal(sr_wasm_fuel_instrument(m, 100, &out, &len, NULL, &err), SR_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "'sealrun:fuel', a name the native tier reserves"));
    sr_wasm_module_free(m);
}

static void
test_adds_globals_and_exports_to_a_module_without_them(void **state)
{
    (void)state;
    static const uint8_t empty[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    sr_wasm_module *m = NULL, *m2 = NULL;
    assert_int_equal(sr_wasm_module_new(empty, sizeof(empty), &m, NULL), SR_OK);
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(sr_wasm_fuel_instrument(m, 77, &out, &len, &m2, NULL), SR_OK);
    sr_wasm_instance *inst = NULL;
    assert_int_equal(sr_wasm_instance_new(m2, NULL, &inst, NULL), SR_OK);
    int type = 0;
    uint64_t v = 0;
    assert_int_equal(sr_wasm_global_read(inst, SR_WASM_FUEL_EXPORT, &type, &v, NULL), SR_OK);
    assert_int_equal(v, 77);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m2);
    sr_wasm_module_free(m);
    free(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charges_the_interpreters_gas_at_every_limit),
        cmocka_unit_test(test_out_of_bounds_traps_before_the_bulk_charge),
        cmocka_unit_test(test_charges_bulk_operators_as_the_interpreter_at_every_limit),
        cmocka_unit_test(test_refuses_a_module_exporting_the_fuel_name),
        cmocka_unit_test(test_adds_globals_and_exports_to_a_module_without_them),
    };
    return cmocka_run_group_tests_name("wasm_fuel", tests, NULL, NULL);
}
