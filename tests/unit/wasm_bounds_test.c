/* SPDX-License-Identifier: MIT
 *
 * tests/unit/wasm_bounds_test.c - the decoder, validator and compiler stay
 * linear on hostile modules (issue 9 item 2): each case below is generated
 * here, decoded with an allocation counter around sr_wasm_module_new(), and
 * must allocate at most ALLOC_PER_BYTE * module bytes + ALLOC_BASE in total
 * (cumulative, not only at the peak) and do at most WORK_PER_BYTE * module
 * bytes + WORK_BASE steps of validation work (counted by the engine in
 * m->work, never timed).
 *
 * The counter wraps malloc/calloc/realloc/free with the linker's --wrap
 * (tests/CMakeLists.txt), so it sees every allocation the engine makes
 * without any hook in the engine itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wasm_int.h"
#include "wasm_mb.h"

/* ---- the allocation counter ------------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static size_t g_total; /* bytes obtained while counting (a realloc counts its growth) */
static int64_t g_live; /* bytes live (usable size), relative to any start */
static int64_t g_peak; /* highest g_live while counting */
static int64_t g_base; /* g_live when counting started */
static bool g_counting;

static void
note_alloc(void *p, size_t requested)
{
    if (!p)
        return;
    g_live += (int64_t)malloc_usable_size(p);
    if (g_counting) {
        g_total += requested;
        if (g_live > g_peak)
            g_peak = g_live;
    }
}

void *
__wrap_malloc(size_t n)
{
    void *p = __real_malloc(n);
    note_alloc(p, n);
    return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
    void *p = __real_calloc(n, size);
    note_alloc(p, n * size);
    return p;
}

void *
__wrap_realloc(void *p, size_t n)
{
    const int64_t old = p ? (int64_t)malloc_usable_size(p) : 0;
    void *q = __real_realloc(p, n);
    if (q) {
        g_live -= old;
        note_alloc(q, (int64_t)n > old ? n - (size_t)old : 0); /* what it obtained */
    }
    return q;
}

void
__wrap_free(void *p)
{
    if (p)
        g_live -= (int64_t)malloc_usable_size(p);
    __real_free(p);
}

/* ---- the bound ---------------------------------------------------------------------------- */

/* What one module byte may cost. The largest legitimate share is the
 * internal code (a few 8-byte cells per byte of function body); the base
 * covers the per-module scratch of the compiler, whose size is capped by
 * SR_WASM__MAX_FRAME, SR_WASM__MAX_LOCALS and SR_WASM__MAX_BLOCK_DEPTH. */
#define ALLOC_PER_BYTE 96u
#define ALLOC_BASE (4u << 20)
/* Steps of validation work per byte the cases fixed at their cause may take
 * (ordinary code: under 1; the engine refuses past SR_WASM__WORK_PER_BYTE). */
#define FEW_STEPS_PER_BYTE 8u

struct cost {
    sr_status st;
    size_t len;
    size_t total;
    int64_t peak;
    uint64_t work;
    char msg[SR_ERR_MSG_MAX];
};

static struct cost
decode(const struct mb *b)
{

    struct cost c = {.len = b->n};
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    g_total = 0;
    g_base = g_peak = g_live;
    g_counting = true;
    c.st = sr_wasm_module_new(b->p, b->n, &m, &err);
    g_counting = false;
    c.total = g_total;
    c.peak = g_peak - g_base;
    c.work = m ? m->work : 0;
    snprintf(c.msg, sizeof(c.msg), "%s", err.msg);
    sr_wasm_module_free(m);
    return c;
}

static void
assert_linear(const struct cost *c, const char *what)
{
    const size_t bound = ALLOC_PER_BYTE * c->len + ALLOC_BASE;
    printf("%s: %zu bytes, status %s, allocated %zu (peak %lld), bound %zu, work %llu; %s\n", what,
           c->len, sr_status_name(c->st), c->total, (long long)c->peak, bound,
           (unsigned long long)c->work, c->msg);
    assert_true(c->total <= bound);
}

/* A module the engine accepts, validated in a few steps per byte: far below
 * the work cap, so the case is linear by construction, not by refusal. */
static void
assert_accepted_in_few_steps(const struct cost *c)
{
    assert_int_equal(c->st, SR_OK);
    assert_true(c->work <= FEW_STEPS_PER_BYTE * c->len + 4096);
}

/* ---- builders ----------------------------------------------------------------------------- */

/* A module of 'ntypes' types (type 0 = [] -> []), 'nfuncs' functions of type
 * 'ftype', each with the body 'body' (locals declarations included). */
static void
module_of(struct mb *b, const struct mb *types, uint32_t ntypes, uint32_t nfuncs, uint32_t ftype,
          const struct mb *body)
{
    struct mb s = {0};
    mb_header(b);
    mb_leb(&s, ntypes);
    mb_bytes(&s, types->p, types->n);
    mb_section(b, 1, &s);
    mb_leb(&s, nfuncs);
    for (uint32_t i = 0; i < nfuncs; i++)
        mb_leb(&s, ftype);
    mb_section(b, 3, &s);
    mb_leb(&s, nfuncs);
    for (uint32_t i = 0; i < nfuncs; i++)
        mb_body(&s, body);
    mb_section(b, 10, &s);
    mb_free(&s);
}

static void
functype(struct mb *t, uint32_t np, uint32_t nr)
{
    mb_u8(t, 0x60);
    mb_leb(t, np);
    for (uint32_t i = 0; i < np; i++)
        mb_u8(t, 0x7f);
    mb_leb(t, nr);
    for (uint32_t i = 0; i < nr; i++)
        mb_u8(t, 0x7f);
}

/* ---- cases -------------------------------------------------------------------------------- */

static void
test_declared_locals_cost_their_bytes_not_their_count(void **state)
{
    (void)state;
    /* 49,999 locals per function in 4 bytes of declaration */
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    mb_leb(&body, 1);
    mb_leb(&body, 49999);
    mb_u8(&body, 0x7f);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 1, 1000, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "locals");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

static void
test_function_types_cost_their_bytes(void **state)
{
    (void)state;
    struct mb types = {0}, body = {0}, b = {0};
    for (int i = 0; i < 20000; i++)
        functype(&types, 0, 0);
    mb_leb(&body, 0);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 20000, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "types");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

/* type 1 = [] -> [i32 x arity]: 'extra' values below the branch values
 * make every branch to the block move its values. */
static void
multivalue_block(struct mb *body, uint32_t arity, uint32_t extra)
{
    for (uint32_t i = 0; i < extra; i++) {
        mb_u8(body, 0x41);
        mb_u8(body, 0x00);
    }
    mb_u8(body, 0x02);
    mb_u8(body, 0x01);
    mb_u8(body, 0x41); /* one value the block keeps under its results */
    mb_u8(body, 0x00);
    for (uint32_t i = 0; i < arity; i++) {
        mb_u8(body, 0x41);
        mb_u8(body, 0x00);
    }
}

static void
end_multivalue(struct mb *body, uint32_t arity, uint32_t extra)
{
    mb_u8(body, 0x0b); /* end of the block */
    for (uint32_t i = 0; i < arity + extra; i++)
        mb_u8(body, 0x1a);
    mb_u8(body, 0x0b);
}

static void
test_br_table_to_one_multivalue_label_is_linear(void **state)
{
    (void)state;
    const uint32_t arity = 64, targets = 20000;
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    functype(&types, 0, arity);
    mb_leb(&body, 0);
    multivalue_block(&body, arity, 0);
    mb_u8(&body, 0x41);
    mb_u8(&body, 0x00);
    mb_u8(&body, 0x0e);
    mb_leb(&body, targets);
    for (uint32_t i = 0; i <= targets; i++)
        mb_u8(&body, 0x00);
    /* the stack is polymorphic after br_table: the block's end takes its results */
    mb_u8(&body, 0x0b);
    for (uint32_t i = 0; i < arity; i++)
        mb_u8(&body, 0x1a);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 2, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "br_table");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

static void
test_multivalue_br_if_in_a_row_is_linear(void **state)
{
    (void)state;
    const uint32_t arity = 64, n = 5000;
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    functype(&types, 0, arity);
    mb_leb(&body, 0);
    multivalue_block(&body, arity, 0);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t br_if[] = {0x41, 0x00, 0x0d, 0x00};
        mb_bytes(&body, br_if, sizeof(br_if));
    }
    mb_u8(&body, 0x0c); /* br 0 */
    mb_u8(&body, 0x00);
    mb_u8(&body, 0x0b);
    for (uint32_t i = 0; i < arity; i++)
        mb_u8(&body, 0x1a);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 2, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "br_if");
    assert_int_equal(c.st, SR_OK); /* 64 values checked per br_if: intrinsic to validation */
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

static void
test_functions_returning_many_values_are_linear(void **state)
{
    (void)state;
    /* 2,000 functions of type [] -> [i32 x 1000] whose body is "call 0": each
     * translation moves 1,000 values for 4 bytes of body */
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 1000);
    const uint8_t call0[] = {0x00, 0x10, 0x00, 0x0b};
    mb_bytes(&body, call0, sizeof(call0));
    module_of(&b, &types, 1, 2000, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "returns");
    /* 2,000 values checked per 4 bytes: past the work cap, refused by name */
    assert_int_equal(c.st, SR_EINVAL);
    assert_non_null(strstr(c.msg, "steps (32 per byte"));
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

/* body: 'n' values deferring local 0, 'm' times "i32.const 0; local.set 1"
 * (each local.set used to rescan the whole operand stack), n drops. */
static void
test_local_set_does_not_rescan_the_stack(void **state)
{
    (void)state;
    const uint32_t n = 20000, m = 20000;
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    mb_leb(&body, 1);
    mb_leb(&body, 2);
    mb_u8(&body, 0x7f);
    for (uint32_t i = 0; i < n; i++) {
        mb_u8(&body, 0x20);
        mb_u8(&body, 0x00);
    }
    for (uint32_t i = 0; i < m; i++) {
        const uint8_t set1[] = {0x41, 0x00, 0x21, 0x01};
        mb_bytes(&body, set1, sizeof(set1));
    }
    for (uint32_t i = 0; i < n; i++)
        mb_u8(&body, 0x1a);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 1, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "local.set");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

/* body: 'n' constants, then 'm' times "local.get 0; block; end; drop": each
 * block entry materialises the one deferred value, and used to scan the
 * whole stack from the bottom to find it. */
static void
test_block_entry_does_not_scan_the_stack(void **state)
{
    (void)state;
    const uint32_t n = 20000, m = 10000;
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    mb_leb(&body, 1);
    mb_leb(&body, 1);
    mb_u8(&body, 0x7f);
    for (uint32_t i = 0; i < n; i++) {
        mb_u8(&body, 0x41);
        mb_u8(&body, 0x00);
    }
    for (uint32_t i = 0; i < m; i++) {
        const uint8_t blk[] = {0x20, 0x00, 0x02, 0x40, 0x0b, 0x1a};
        mb_bytes(&body, blk, sizeof(blk));
    }
    for (uint32_t i = 0; i < n; i++)
        mb_u8(&body, 0x1a);
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 1, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "block entry");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

static void
test_deep_nesting_is_linear(void **state)
{
    (void)state;
    const uint32_t depth = SR_WASM__MAX_BLOCK_DEPTH - 1;
    struct mb types = {0}, body = {0}, b = {0};
    functype(&types, 0, 0);
    mb_leb(&body, 1);
    mb_leb(&body, 1);
    mb_u8(&body, 0x7f);
    for (uint32_t i = 0; i < depth; i++) {
        const uint8_t open[] = {0x20, 0x00, 0x02, 0x40}; /* a deferred value under each block */
        mb_bytes(&body, open, sizeof(open));
    }
    for (uint32_t i = 0; i < depth; i++) {
        const uint8_t close[] = {0x0c, 0x00, 0x0b, 0x1a}; /* br 0; end; drop */
        mb_bytes(&body, close, sizeof(close));
    }
    mb_u8(&body, 0x0b);
    module_of(&b, &types, 1, 1, 0, &body);
    struct cost c = decode(&b);
    assert_linear(&c, "nesting");
    assert_accepted_in_few_steps(&c);
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
}

/* 'k' nested blocks of k distinct (but equal) types of arity 'arity', and
 * br_tables naming all of them: each br_table checks k labels of that
 * arity. Validation work grows with k * arity per br_table: past the cap the
 * module is refused with the cap's message, and it never allocates more. */
static void
test_br_table_over_many_label_types_is_capped(void **state)
{
    (void)state;
    const uint32_t k = 100, arity = 100, tables = 400;
    struct mb types = {0}, body = {0}, b = {0}, s = {0};
    functype(&types, 0, 0);
    for (uint32_t i = 0; i < k; i++)
        functype(&types, 0, arity);
    mb_leb(&body, 0);
    for (uint32_t i = 0; i < k; i++) {
        mb_u8(&body, 0x02);
        mb_sleb(&body, 1 + i);
    }
    for (uint32_t t = 0; t < tables; t++) {
        mb_u8(&body, 0x10); /* call 1: [] -> [i32 x arity] */
        mb_u8(&body, 0x01);
        mb_u8(&body, 0x41);
        mb_u8(&body, 0x00);
        mb_u8(&body, 0x0e);
        mb_leb(&body, k);
        for (uint32_t i = 0; i <= k; i++)
            mb_leb(&body, i % k);
    }
    for (uint32_t i = 0; i < k; i++) /* each block's results are the next one's */
        mb_u8(&body, 0x0b);
    for (uint32_t j = 0; j < arity; j++)
        mb_u8(&body, 0x1a);
    mb_u8(&body, 0x0b);
    /* function 0: the one above; function 1: [] -> [i32 x arity], "unreachable" */
    mb_header(&b);
    mb_leb(&s, k + 1);
    mb_bytes(&s, types.p, types.n);
    mb_section(&b, 1, &s);
    mb_leb(&s, 2);
    mb_leb(&s, 0);
    mb_leb(&s, 1);
    mb_section(&b, 3, &s);
    mb_leb(&s, 2);
    mb_body(&s, &body);
    const uint8_t trap[] = {0x03, 0x00, 0x00, 0x0b};
    mb_bytes(&s, trap, sizeof(trap));
    mb_section(&b, 10, &s);
    struct cost c = decode(&b);
    assert_linear(&c, "label types");
    assert_int_equal(c.st, SR_EINVAL);
    assert_non_null(strstr(c.msg, "steps (32 per byte"));
    mb_free(&types);
    mb_free(&body);
    mb_free(&b);
    mb_free(&s);
}

/* Exports with long names that share a prefix, elements and data segments:
 * the sections whose entries are smallest in the binary. */
static void
test_exports_and_segments_cost_their_bytes(void **state)
{
    (void)state;
    struct mb b = {0}, s = {0}, name = {0};
    mb_header(&b);
    mb_leb(&s, 1);
    functype(&s, 0, 0);
    mb_section(&b, 1, &s);
    mb_leb(&s, 1);
    mb_leb(&s, 0);
    mb_section(&b, 3, &s);
    mb_leb(&s, 1); /* table 0: funcref, min 0 */
    const uint8_t table[] = {0x70, 0x00, 0x00};
    mb_bytes(&s, table, sizeof(table));
    mb_section(&b, 4, &s);
    mb_leb(&s, 1);
    mb_u8(&s, 0x00);
    mb_u8(&s, 0x00);
    mb_section(&b, 5, &s);
    const uint32_t nexp = 2000;
    for (int i = 0; i < 1000; i++)
        mb_u8(&name, 'x');
    mb_leb(&s, nexp);
    for (uint32_t i = 0; i < nexp; i++) {
        char tail[16];
        snprintf(tail, sizeof(tail), "%05u", i);
        mb_leb(&s, (uint32_t)(name.n + strlen(tail)));
        mb_bytes(&s, name.p, name.n);
        mb_bytes(&s, tail, strlen(tail));
        mb_u8(&s, 0x00);
        mb_u8(&s, 0x00);
    }
    mb_section(&b, 7, &s);
    const uint32_t nelem = 20000;
    mb_leb(&s, nelem);
    for (uint32_t i = 0; i < nelem; i++) {
        const uint8_t passive[] = {0x01, 0x00, 0x01, 0x00}; /* passive, elemkind, [func 0] */
        mb_bytes(&s, passive, sizeof(passive));
    }
    mb_section(&b, 9, &s);
    const uint32_t ndata = 20000;
    mb_leb(&s, ndata);
    mb_section(&b, 12, &s);
    mb_leb(&s, 1);
    const uint8_t empty[] = {0x02, 0x00, 0x0b};
    mb_bytes(&s, empty, sizeof(empty));
    mb_section(&b, 10, &s);
    mb_leb(&s, ndata);
    for (uint32_t i = 0; i < ndata; i++) {
        mb_u8(&s, 0x01); /* passive, empty */
        mb_u8(&s, 0x00);
    }
    mb_section(&b, 11, &s);
    struct cost c = decode(&b);
    assert_linear(&c, "exports+segments");
    assert_accepted_in_few_steps(&c);
    mb_free(&b);
    mb_free(&s);
    mb_free(&name);
}

/* Tables are allocated at instantiation by their declared minimum, which
 * costs a few bytes of module: max_table bounds all tables of an instance
 * together, at instantiation and when they grow. */
static void
test_max_table_bounds_all_tables_together(void **state)
{
    (void)state;
    struct mb b = {0}, s = {0}, body = {0};
    mb_header(&b);
    mb_leb(&s, 1);
    functype(&s, 1, 1);
    mb_section(&b, 1, &s);
    mb_leb(&s, 2);
    mb_leb(&s, 0);
    mb_leb(&s, 0);
    mb_section(&b, 3, &s);
    const uint32_t ntables = 100;
    mb_leb(&s, ntables);
    for (uint32_t i = 0; i < ntables; i++) {
        mb_u8(&s, 0x70);
        mb_u8(&s, 0x00);
        mb_leb(&s, i < 2 ? 0 : 100000); /* tables 0 and 1 start empty */
    }
    mb_section(&b, 4, &s);
    mb_leb(&s, 2);
    mb_name(&s, "grow0");
    mb_u8(&s, 0x00);
    mb_leb(&s, 0);
    mb_name(&s, "grow1");
    mb_u8(&s, 0x00);
    mb_leb(&s, 1);
    mb_section(&b, 7, &s);
    mb_leb(&s, 2);
    for (uint8_t t = 0; t < 2; t++) {
        const uint8_t grow[] = {0x00, 0xd0, 0x70, 0x20, 0x00, 0xfc, 0x0f, t, 0x0b};
        body.n = 0;
        mb_bytes(&body, grow, sizeof(grow));
        mb_body(&s, &body);
    }
    mb_section(&b, 10, &s);

    sr_wasm_module *m = NULL;
    sr_wasm_instance *inst = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, &err), SR_OK);
    struct sr_wasm_limits lim = {.max_table = 1000000};
    assert_int_equal(sr_wasm_instance_new(m, &lim, &inst, &err), SR_ELIMIT);
    assert_string_equal(err.msg, "initial tables of 1100000 elements in all exceed the limit of "
                                 "1000000 elements");

    lim.max_table = 10000000; /* 9.8 M in the 98 full tables, 200,000 left */
    assert_int_equal(sr_wasm_instance_new(m, &lim, &inst, &err), SR_OK);
    uint64_t arg = 150000, res = 0;
    assert_int_equal(sr_wasm_call(inst, "grow0", &arg, 1, &res, 1, &err), SR_OK);
    assert_int_equal(res, 0);
    assert_false(sr_wasm_instance_limit_hit(inst));
    assert_int_equal(sr_wasm_call(inst, "grow1", &arg, 1, &res, 1, &err), SR_OK);
    assert_int_equal((uint32_t)res, UINT32_MAX); /* 150,000 more would pass 10 M in all */
    assert_true(sr_wasm_instance_limit_hit(inst));
    arg = 50000;
    assert_int_equal(sr_wasm_call(inst, "grow1", &arg, 1, &res, 1, &err), SR_OK);
    assert_int_equal(res, 0);
    sr_wasm_instance_free(inst);
    sr_wasm_module_free(m);
    mb_free(&b);
    mb_free(&s);
    mb_free(&body);
}

/* ---- each cap, its own message ------------------------------------------------------------ */

/* The module is refused with a message that says what (and then, if given,
 * which cap). */
static void
expect_refused(const struct mb *b, const char *what, const char *cap)
{
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(b->p, b->n, &m, &err), SR_EINVAL);
    if (!strstr(err.msg, what) || (cap && !strstr(err.msg, cap)))
        fail_msg("'%s' does not say '%s' ... '%s'", err.msg, what, cap ? cap : "");
}

/* A module with one section 'id' of 'count' entries, each the bytes of 'entry'. */
static void
one_section(struct mb *b, uint8_t id, uint32_t count, const void *entry, size_t len)
{
    struct mb s = {0};
    b->n = 0;
    mb_header(b);
    mb_leb(&s, count);
    for (uint32_t i = 0; i < count; i++)
        mb_bytes(&s, entry, len);
    mb_section(b, id, &s);
    mb_free(&s);
}

static void
test_each_cap_has_its_own_message(void **state)
{
    (void)state;
    struct mb b = {0}, types = {0}, body = {0};
    const uint8_t zero = 0;
    one_section(&b, 3, SR_WASM__MAX_FUNCS + 1, &zero, 1);
    expect_refused(&b, "1000001 functions at offset", "exceed the cap of 1000000 functions");
    const uint8_t table[] = {0x70, 0x00, 0x00};
    one_section(&b, 4, SR_WASM__MAX_TABLES + 1, table, sizeof(table));
    expect_refused(&b, "100001 tables at offset", "exceed the cap of 100000 tables");
    const uint8_t ftype[] = {0x60, 0x00, 0x00};
    one_section(&b, 1, SR_WASM__MAX_TYPES + 1, ftype, sizeof(ftype));
    expect_refused(&b, "1000001 function types at offset", "exceed the cap of 1000000");
    const uint8_t import[] = {0x00, 0x00, 0x03, 0x7f, 0x00}; /* "" "" global i32 */
    one_section(&b, 2, SR_WASM__MAX_IMPORTS + 1, import, sizeof(import));
    expect_refused(&b, "1000001 imports at offset", "exceed the cap of 1000000 imports");
    const uint8_t global[] = {0x7f, 0x00, 0x41, 0x00, 0x0b};
    one_section(&b, 6, SR_WASM__MAX_GLOBALS + 1, global, sizeof(global));
    expect_refused(&b, "1000001 globals at offset", "exceed the cap of 1000000 globals");
    const uint8_t export[] = {0x00, 0x00, 0x00};
    one_section(&b, 7, SR_WASM__MAX_EXPORTS + 1, export, sizeof(export));
    expect_refused(&b, "1000001 exports at offset", "exceed the cap of 1000000 exports");
    const uint8_t segment[] = {0x01, 0x00};
    one_section(&b, 9, SR_WASM__MAX_SEGMENTS + 1, segment, sizeof(segment));
    expect_refused(&b, "1000001 element segments at offset", "exceed the cap of 1000000");
    one_section(&b, 11, SR_WASM__MAX_SEGMENTS + 1, segment, sizeof(segment));
    expect_refused(&b, "1000001 data segments at offset", "exceed the cap of 1000000");

    /* 600,000 imported and 500,000 defined functions */
    b.n = 0;
    mb_header(&b);
    struct mb s = {0};
    mb_leb(&s, 1);
    mb_bytes(&s, ftype, sizeof(ftype));
    mb_section(&b, 1, &s);
    mb_leb(&s, 600000);
    for (int i = 0; i < 600000; i++) {
        const uint8_t fimport[] = {0x00, 0x00, 0x00, 0x00};
        mb_bytes(&s, fimport, sizeof(fimport));
    }
    mb_section(&b, 2, &s);
    mb_leb(&s, 500000);
    for (int i = 0; i < 500000; i++)
        mb_u8(&s, 0x00);
    mb_section(&b, 3, &s);
    expect_refused(&b, "1100000 functions (imported and defined) exceed the cap of 1000000", NULL);

    functype(&types, SR_WASM__MAX_TYPE_ARITY + 1, 0);
    one_section(&b, 1, 1, types.p, types.n);
    expect_refused(&b, "1001 parameters of one function type at offset", "exceed the cap of 1000");
    types.n = 0;
    functype(&types, 0, 0);

    mb_leb(&body, 2); /* 25,000 + 25,001 locals */
    mb_leb(&body, 25000);
    mb_u8(&body, 0x7f);
    mb_leb(&body, 25001);
    mb_u8(&body, 0x7e);
    mb_u8(&body, 0x0b);
    b.n = 0;
    module_of(&b, &types, 1, 1, 0, &body);
    expect_refused(&b, "too many locals: 50001, the cap is 50000 per function", NULL);

    body.n = 0;
    mb_leb(&body, 0);
    for (uint32_t i = 0; i < SR_WASM__MAX_BLOCK_DEPTH; i++) {
        mb_u8(&body, 0x02);
        mb_u8(&body, 0x40);
    }
    b.n = 0;
    module_of(&b, &types, 1, 1, 0, &body);
    expect_refused(&b, "blocks nested deeper than the cap of 10000", NULL);

    body.n = 0;
    mb_leb(&body, 0);
    mb_u8(&body, 0x41);
    mb_u8(&body, 0x00);
    mb_u8(&body, 0x0e);
    mb_leb(&body, SR_WASM__MAX_BR_TABLE + 1);
    for (uint32_t i = 0; i <= SR_WASM__MAX_BR_TABLE + 1; i++)
        mb_u8(&body, 0x00);
    mb_u8(&body, 0x0b);
    b.n = 0;
    module_of(&b, &types, 1, 1, 0, &body);
    expect_refused(&b, "100001 labels of one br_table at offset", "exceed the cap of 100000");

    body.n = 0; /* 200,001 values on the operand stack */
    mb_leb(&body, 0);
    for (uint32_t i = 0; i <= SR_WASM__MAX_FRAME; i++) {
        mb_u8(&body, 0x41);
        mb_u8(&body, 0x00);
    }
    mb_u8(&body, 0x0b);
    b.n = 0;
    module_of(&b, &types, 1, 1, 0, &body);
    expect_refused(&b, "operand stack deeper than the cap of 200000", NULL);
    mb_free(&b);
    mb_free(&s);
    mb_free(&types);
    mb_free(&body);
}

/* The cap on one element segment's items, at the reader (a real module
 * would need 10 MB of items before the cap is even reached). */
static void
test_a_vector_past_its_cap_is_named_before_anything_is_allocated(void **state)
{
    (void)state;
    const size_t n = SR_WASM__MAX_ELEMS + 8;
    uint8_t *buf = calloc(n, 1);
    assert_non_null(buf);
    buf[0] = 0x81; /* 10,000,001 = 0x989681 */
    buf[1] = 0xad;
    buf[2] = 0xe2;
    buf[3] = 0x04;
    sr_err err = {0};
    struct sr_wasm__rd r = {.p = buf, .end = buf + n, .base = buf, .err = &err};
    uint32_t count = 0;
    g_total = 0;
    g_counting = true;
    const sr_status st =
        sr_wasm__rd_count(&r, SR_WASM__MAX_ELEMS, 1, "items of one element segment", &count);
    g_counting = false;
    assert_int_equal(st, SR_EINVAL);
    assert_string_equal(err.msg, "invalid: 10000001 items of one element segment at offset 0x4 "
                                 "exceed the cap of 10000000 items of one element segment");
    assert_int_equal(g_total, 0);
    free(buf);
}

/* A call zeroes the callee's declared locals: fuel pays for that work, so a
 * function of 49,999 locals called in a loop cannot buy 400 KB of memset per
 * unit of fuel. */
static void
test_a_call_pays_for_zeroing_its_locals(void **state)
{
    (void)state;
    const uint32_t counts[] = {7, 8, 49999};
    const uint64_t fuel[] = {0, 1, 49999 / 8};
    for (size_t k = 0; k < 3; k++) {
        struct mb b = {0}, s = {0}, body = {0};
        mb_header(&b);
        mb_leb(&s, 1);
        functype(&s, 0, 0);
        mb_section(&b, 1, &s);
        mb_leb(&s, 1);
        mb_leb(&s, 0);
        mb_section(&b, 3, &s);
        mb_leb(&s, 1);
        mb_name(&s, "f");
        mb_u8(&s, 0x00);
        mb_leb(&s, 0);
        mb_section(&b, 7, &s);
        mb_leb(&body, 1);
        mb_leb(&body, counts[k]);
        mb_u8(&body, 0x7e);
        mb_u8(&body, 0x0b);
        mb_leb(&s, 1);
        mb_body(&s, &body);
        mb_section(&b, 10, &s);
        sr_wasm_module *m = NULL;
        sr_wasm_instance *inst = NULL;
        sr_err err = {0};
        assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, &err), SR_OK);
        assert_int_equal(sr_wasm_instance_new(m, NULL, &inst, &err), SR_OK);
        assert_int_equal(sr_wasm_call(inst, "f", NULL, 0, NULL, 0, &err), SR_OK);
        assert_int_equal(sr_wasm_instance_fuel_used(inst), fuel[k]);
        sr_wasm_instance_free(inst);
        sr_wasm_module_free(m);
        mb_free(&b);
        mb_free(&s);
        mb_free(&body);
    }
}

/* The C and Rust guests of tests/data/wasm: what real programs cost, far
 * below the hostile cases' bound. */
static void
test_real_programs_cost_a_few_bytes_per_byte(void **state)
{
    (void)state;
    static const char *const guests[] = {"guest_c.wasm", "guest_rust.wasm", "files_rust.wasm"};
    const char *dir = getenv("SR_WASM_GUESTS");
    for (size_t i = 0; i < sizeof(guests) / sizeof(guests[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "data/wasm", guests[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        struct mb b = {0};
        uint8_t chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            mb_bytes(&b, chunk, n);
        fclose(f);
        struct cost c = decode(&b);
        assert_linear(&c, guests[i]);
        assert_accepted_in_few_steps(&c);
        assert_true(c.total <= 16 * c.len + (1u << 20)); /* measured: 3 to 8 */
        mb_free(&b);
    }
}

static void
test_imports_cost_their_bytes_and_know_their_kind_index(void **state)
{
    (void)state;
    /* 30,000 imports alternating function and global, with empty names */
    const uint32_t n = 30000;
    struct mb b = {0}, s = {0};
    mb_header(&b);
    functype(&s, 0, 0);
    struct mb t = {0};
    mb_leb(&t, 1);
    mb_bytes(&t, s.p, s.n);
    mb_section(&b, 1, &t);
    s.n = 0;
    mb_leb(&s, n);
    for (uint32_t i = 0; i < n; i++) {
        mb_name(&s, "");
        mb_name(&s, "");
        if (i % 2 == 0) {
            mb_u8(&s, 0x00);
            mb_u8(&s, 0x00);
        } else {
            mb_u8(&s, 0x03);
            mb_u8(&s, 0x7f);
            mb_u8(&s, 0x00);
        }
    }
    mb_section(&b, 2, &s);
    struct cost c = decode(&b);
    assert_linear(&c, "imports");
    assert_accepted_in_few_steps(&c);

    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, NULL), SR_OK);
    assert_int_equal(sr_wasm_module_import_count(m), n);
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm_extern_info x;
        assert_true(sr_wasm_module_import(m, i, &x));
        assert_int_equal(x.kind, i % 2 == 0 ? SR_WASM_EXTERN_FUNC : SR_WASM_EXTERN_GLOBAL);
        assert_int_equal(x.index, i / 2);
    }
    sr_wasm_module_free(m);
    mb_free(&t);
    mb_free(&s);
    mb_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_declared_locals_cost_their_bytes_not_their_count),
        cmocka_unit_test(test_function_types_cost_their_bytes),
        cmocka_unit_test(test_br_table_to_one_multivalue_label_is_linear),
        cmocka_unit_test(test_multivalue_br_if_in_a_row_is_linear),
        cmocka_unit_test(test_functions_returning_many_values_are_linear),
        cmocka_unit_test(test_imports_cost_their_bytes_and_know_their_kind_index),
        cmocka_unit_test(test_local_set_does_not_rescan_the_stack),
        cmocka_unit_test(test_block_entry_does_not_scan_the_stack),
        cmocka_unit_test(test_deep_nesting_is_linear),
        cmocka_unit_test(test_br_table_over_many_label_types_is_capped),
        cmocka_unit_test(test_exports_and_segments_cost_their_bytes),
        cmocka_unit_test(test_max_table_bounds_all_tables_together),
        cmocka_unit_test(test_each_cap_has_its_own_message),
        cmocka_unit_test(test_a_call_pays_for_zeroing_its_locals),
        cmocka_unit_test(test_real_programs_cost_a_few_bytes_per_byte),
        cmocka_unit_test(test_a_vector_past_its_cap_is_named_before_anything_is_allocated),
    };
    return cmocka_run_group_tests_name("wasm_bounds", tests, NULL, NULL);
}
