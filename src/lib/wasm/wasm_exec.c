/* SPDX-License-Identifier: MIT
 *
 * wasm_exec.c - the interpreter: one function with computed-goto dispatch
 * over the slot-addressed internal code of wasm_compile.c.
 *
 * Registers: pc (current cell), fp (frame base: slot 0 = first param), mem
 * and msize (memory 0 of the running instance), fuel (remaining). Wasm calls
 * never recurse on the C stack: a call pushes a struct sr_wasm__frame on an
 * explicit frame stack (bounded by max_depth) and the callee frame lives on
 * the value stack above the caller's arguments (bounded by max_stack).
 *
 * Every operation that the spec says may trap checks first; effective
 * addresses are computed in 64 bits (u32 address + u32 offset cannot wrap);
 * integer division, shifts and float-to-int conversions avoid C undefined
 * behaviour explicitly. This file is the one allowed to exceed the usual
 * function length: the dispatch loop is a flat list of handlers.
 */
#include "wasm_int.h"

#include <math.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wpedantic" /* computed goto (&&label) is a GNU extension */

typedef union sr_wasm__cell cell;

static const void *const *volatile g_op_table;

static inline float
f32_of(uint64_t v)
{
    const uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t
of_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline double
f64_of(uint64_t v)
{
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static inline uint64_t
of_f64(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static float
wmin32(float a, float b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == 0.0f && b == 0.0f)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static float
wmax32(float a, float b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == 0.0f && b == 0.0f)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static double
wmin64(double a, double b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == 0.0 && b == 0.0)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static double
wmax64(double a, double b)
{
    if (isnan(a) || isnan(b))
        return a + b;
    if (a == 0.0 && b == 0.0)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

/* Rounding functions quiet a signalling NaN, as the spec's nan:arithmetic requires. */
#define ROUND32(fn, x) (isnan(x) ? (x) + (x) : fn(x))
#define ROUND64(fn, x) (isnan(x) ? (x) + (x) : fn(x))

const void *const *
sr_wasm__op_table(void)
{
    if (!g_op_table)
        sr_wasm__exec(NULL, NULL, NULL, NULL);
    return g_op_table;
}

/* Bulk operations charge extra fuel in proportion to their size. */
#define BULK_FUEL(n, per) ((uint64_t)(n) / (per))

sr_wasm_trap
sr_wasm__exec(struct sr_wasm__exec *ex, sr_wasm_instance *inst, const struct sr_wasm__func *fn,
              uint64_t *fp)
{
#define SR_WASM__LABEL(name) &&L_##name,
    static const void *const labels[] = {SR_WASM__NUMERIC_OPS(SR_WASM__LABEL)
                                             SR_WASM__ENGINE_OPS(SR_WASM__LABEL)};
#undef SR_WASM__LABEL
    _Static_assert(sizeof(labels) / sizeof(labels[0]) == SR_WASM__OP_COUNT, "label table");
    static const cell halt[1] = {{.op = &&L_HALT}};

    if (!ex) {
        g_op_table = labels;
        return SR_WASM_TRAP_NONE;
    }

    const cell *pc;
    uint64_t fuel = ex->fuel;
    struct sr_wasm__frame *fr = ex->frames;
    struct sr_wasm__frame *const frames_end = ex->frames_end;
    uint64_t *const stack_end = ex->stack_end;
    uint8_t *mem;
    uint64_t msize;
    struct sr_wasm__global **globals;
    struct sr_wasm__func **funcs;
    sr_wasm_trap trap = SR_WASM_TRAP_NONE;
    const struct sr_wasm__func *cf;
    uint64_t *nfp;
    const cell *ret;

#define LOAD_INST()                                                                                \
    do {                                                                                           \
        mem = inst->mem->data;                                                                     \
        msize = inst->mem->size;                                                                   \
        globals = inst->globals;                                                                   \
        funcs = inst->funcs;                                                                       \
    } while (0)
#define DISPATCH() goto * pc->op
#define NEXT(n)                                                                                    \
    do {                                                                                           \
        pc += (n);                                                                                 \
        goto * pc->op;                                                                             \
    } while (0)
#define JUMP(k)                                                                                    \
    do {                                                                                           \
        pc += pc[k].i;                                                                             \
        goto * pc->op;                                                                             \
    } while (0)
#define TRAP(k)                                                                                    \
    do {                                                                                           \
        trap = (k);                                                                                \
        goto trapped;                                                                              \
    } while (0)
#define S(i) fp[pc[i].u]
#define D S(1)
#define A S(2)
#define B S(3)

    LOAD_INST();
    cf = fn; /* frames[0] is a sentinel; the entry call pushes frames[1] */
    nfp = fp;
    ret = halt;
    goto do_call;

    /* ---- numeric ------------------------------------------------------------------------ */
#define UN32(name, expr)                                                                           \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint32_t a = (uint32_t)A;                                                            \
        D = (uint32_t)(expr);                                                                      \
        NEXT(3);                                                                                   \
    }
#define BIN32(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint32_t a = (uint32_t)A, b = (uint32_t)B;                                           \
        D = (uint32_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
#define UN64(name, expr)                                                                           \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint64_t a = A;                                                                      \
        D = (uint64_t)(expr);                                                                      \
        NEXT(3);                                                                                   \
    }
#define BIN64(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint64_t a = A, b = B;                                                               \
        D = (uint64_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
#define CMP64(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint64_t a = A, b = B;                                                               \
        D = (uint32_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
#define FUN32(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const float a = f32_of(A);                                                                 \
        D = of_f32(expr);                                                                          \
        NEXT(3);                                                                                   \
    }
#define FBIN32(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const float a = f32_of(A), b = f32_of(B);                                                  \
        D = of_f32(expr);                                                                          \
        NEXT(4);                                                                                   \
    }
#define FCMP32(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const float a = f32_of(A), b = f32_of(B);                                                  \
        D = (uint32_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
#define FUN64(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const double a = f64_of(A);                                                                \
        D = of_f64(expr);                                                                          \
        NEXT(3);                                                                                   \
    }
#define FBIN64(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const double a = f64_of(A), b = f64_of(B);                                                 \
        D = of_f64(expr);                                                                          \
        NEXT(4);                                                                                   \
    }
#define FCMP64(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const double a = f64_of(A), b = f64_of(B);                                                 \
        D = (uint32_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }

    UN32(I32_EQZ, a == 0)
    BIN32(I32_EQ, a == b)
    BIN32(I32_NE, a != b)
    BIN32(I32_LT_S, (int32_t)a < (int32_t)b)
    BIN32(I32_LT_U, a < b)
    BIN32(I32_GT_S, (int32_t)a > (int32_t)b)
    BIN32(I32_GT_U, a > b)
    BIN32(I32_LE_S, (int32_t)a <= (int32_t)b)
    BIN32(I32_LE_U, a <= b)
    BIN32(I32_GE_S, (int32_t)a >= (int32_t)b)
    BIN32(I32_GE_U, a >= b)
L_I64_EQZ : {
    D = A == 0;
    NEXT(3);
}
    CMP64(I64_EQ, a == b)
    CMP64(I64_NE, a != b)
    CMP64(I64_LT_S, (int64_t)a < (int64_t)b)
    CMP64(I64_LT_U, a < b)
    CMP64(I64_GT_S, (int64_t)a > (int64_t)b)
    CMP64(I64_GT_U, a > b)
    CMP64(I64_LE_S, (int64_t)a <= (int64_t)b)
    CMP64(I64_LE_U, a <= b)
    CMP64(I64_GE_S, (int64_t)a >= (int64_t)b)
    CMP64(I64_GE_U, a >= b)
    FCMP32(F32_EQ, a == b)
    FCMP32(F32_NE, a != b)
    FCMP32(F32_LT, a < b)
    FCMP32(F32_GT, a > b)
    FCMP32(F32_LE, a <= b)
    FCMP32(F32_GE, a >= b)
    FCMP64(F64_EQ, a == b)
    FCMP64(F64_NE, a != b)
    FCMP64(F64_LT, a < b)
    FCMP64(F64_GT, a > b)
    FCMP64(F64_LE, a <= b)
    FCMP64(F64_GE, a >= b)
    UN32(I32_CLZ, a ? __builtin_clz(a) : 32)
    UN32(I32_CTZ, a ? __builtin_ctz(a) : 32)
    UN32(I32_POPCNT, __builtin_popcount(a))
    BIN32(I32_ADD, a + b)
    BIN32(I32_SUB, a - b)
    BIN32(I32_MUL, a * b)
L_I32_DIV_S : {
    const int32_t a = (int32_t)(uint32_t)A, b = (int32_t)(uint32_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    if (a == INT32_MIN && b == -1)
        TRAP(SR_WASM_TRAP_INT_OVERFLOW);
    D = (uint32_t)(a / b);
    NEXT(4);
}
L_I32_DIV_U : {
    const uint32_t a = (uint32_t)A, b = (uint32_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = a / b;
    NEXT(4);
}
L_I32_REM_S : {
    const int32_t a = (int32_t)(uint32_t)A, b = (int32_t)(uint32_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = b == -1 ? 0 : (uint32_t)(a % b);
    NEXT(4);
}
L_I32_REM_U : {
    const uint32_t a = (uint32_t)A, b = (uint32_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = a % b;
    NEXT(4);
}
    BIN32(I32_AND, a & b)
    BIN32(I32_OR, a | b)
    BIN32(I32_XOR, a ^ b)
    BIN32(I32_SHL, a << (b & 31))
    BIN32(I32_SHR_S, (uint32_t)((int32_t)a >> (b & 31)))
    BIN32(I32_SHR_U, a >> (b & 31))
    BIN32(I32_ROTL, (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31)))
    BIN32(I32_ROTR, (a >> (b & 31)) | (a << ((32 - (b & 31)) & 31)))
    UN64(I64_CLZ, a ? __builtin_clzll(a) : 64)
    UN64(I64_CTZ, a ? __builtin_ctzll(a) : 64)
    UN64(I64_POPCNT, __builtin_popcountll(a))
    BIN64(I64_ADD, a + b)
    BIN64(I64_SUB, a - b)
    BIN64(I64_MUL, a * b)
L_I64_DIV_S : {
    const int64_t a = (int64_t)A, b = (int64_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    if (a == INT64_MIN && b == -1)
        TRAP(SR_WASM_TRAP_INT_OVERFLOW);
    D = (uint64_t)(a / b);
    NEXT(4);
}
L_I64_DIV_U : {
    const uint64_t a = A, b = B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = a / b;
    NEXT(4);
}
L_I64_REM_S : {
    const int64_t a = (int64_t)A, b = (int64_t)B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = b == -1 ? 0 : (uint64_t)(a % b);
    NEXT(4);
}
L_I64_REM_U : {
    const uint64_t a = A, b = B;
    if (b == 0)
        TRAP(SR_WASM_TRAP_DIV_ZERO);
    D = a % b;
    NEXT(4);
}
    BIN64(I64_AND, a & b)
    BIN64(I64_OR, a | b)
    BIN64(I64_XOR, a ^ b)
    BIN64(I64_SHL, a << (b & 63))
    BIN64(I64_SHR_S, (uint64_t)((int64_t)a >> (b & 63)))
    BIN64(I64_SHR_U, a >> (b & 63))
    BIN64(I64_ROTL, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
    BIN64(I64_ROTR, (a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)))
L_F32_ABS : {
    D = (uint32_t)A & 0x7fffffffu;
    NEXT(3);
}
L_F32_NEG : {
    D = (uint32_t)A ^ 0x80000000u;
    NEXT(3);
}
    FUN32(F32_CEIL, ROUND32(ceilf, a))
    FUN32(F32_FLOOR, ROUND32(floorf, a))
    FUN32(F32_TRUNC, ROUND32(truncf, a))
    FUN32(F32_NEAREST, ROUND32(nearbyintf, a))
    FUN32(F32_SQRT, sqrtf(a))
    FBIN32(F32_ADD, a + b)
    FBIN32(F32_SUB, a - b)
    FBIN32(F32_MUL, a * b)
    FBIN32(F32_DIV, a / b)
    FBIN32(F32_MIN, wmin32(a, b))
    FBIN32(F32_MAX, wmax32(a, b))
L_F32_COPYSIGN : {
    D = ((uint32_t)A & 0x7fffffffu) | ((uint32_t)B & 0x80000000u);
    NEXT(4);
}
L_F64_ABS : {
    D = A & 0x7fffffffffffffffull;
    NEXT(3);
}
L_F64_NEG : {
    D = A ^ 0x8000000000000000ull;
    NEXT(3);
}
    FUN64(F64_CEIL, ROUND64(ceil, a))
    FUN64(F64_FLOOR, ROUND64(floor, a))
    FUN64(F64_TRUNC, ROUND64(trunc, a))
    FUN64(F64_NEAREST, ROUND64(nearbyint, a))
    FUN64(F64_SQRT, sqrt(a))
    FBIN64(F64_ADD, a + b)
    FBIN64(F64_SUB, a - b)
    FBIN64(F64_MUL, a * b)
    FBIN64(F64_DIV, a / b)
    FBIN64(F64_MIN, wmin64(a, b))
    FBIN64(F64_MAX, wmax64(a, b))
L_F64_COPYSIGN : {
    D = (A & 0x7fffffffffffffffull) | (B & 0x8000000000000000ull);
    NEXT(4);
}
L_I32_WRAP_I64 : {
    D = (uint32_t)A;
    NEXT(3);
}

#define TRUNC(name, from, lo_ok, hi_ok, ctype, utype)                                              \
    L_##name:                                                                                      \
    {                                                                                              \
        const __typeof__(from) x = from;                                                           \
        if (isnan(x))                                                                              \
            TRAP(SR_WASM_TRAP_INVALID_CONV);                                                       \
        if (!(lo_ok && hi_ok))                                                                     \
            TRAP(SR_WASM_TRAP_INT_OVERFLOW);                                                       \
        D = (utype)(ctype)x;                                                                       \
        NEXT(3);                                                                                   \
    }
    TRUNC(I32_TRUNC_F32_S, f32_of(A), x >= -2147483648.0f, x < 2147483648.0f, int32_t, uint32_t)
    TRUNC(I32_TRUNC_F32_U, f32_of(A), x > -1.0f, x < 4294967296.0f, uint32_t, uint32_t)
    TRUNC(I32_TRUNC_F64_S, f64_of(A), x > -2147483649.0, x < 2147483648.0, int32_t, uint32_t)
    TRUNC(I32_TRUNC_F64_U, f64_of(A), x > -1.0, x < 4294967296.0, uint32_t, uint32_t)
L_I64_EXTEND_I32_S : {
    D = (uint64_t)(int64_t)(int32_t)(uint32_t)A;
    NEXT(3);
}
L_I64_EXTEND_I32_U : {
    D = (uint32_t)A;
    NEXT(3);
}
    TRUNC(I64_TRUNC_F32_S, f32_of(A), x >= -9223372036854775808.0f, x < 9223372036854775808.0f,
          int64_t, uint64_t)
    TRUNC(I64_TRUNC_F32_U, f32_of(A), x > -1.0f, x < 18446744073709551616.0f, uint64_t, uint64_t)
    TRUNC(I64_TRUNC_F64_S, f64_of(A), x >= -9223372036854775808.0, x < 9223372036854775808.0,
          int64_t, uint64_t)
    TRUNC(I64_TRUNC_F64_U, f64_of(A), x > -1.0, x < 18446744073709551616.0, uint64_t, uint64_t)
L_F32_CONVERT_I32_S : {
    D = of_f32((float)(int32_t)(uint32_t)A);
    NEXT(3);
}
L_F32_CONVERT_I32_U : {
    D = of_f32((float)(uint32_t)A);
    NEXT(3);
}
L_F32_CONVERT_I64_S : {
    D = of_f32((float)(int64_t)A);
    NEXT(3);
}
L_F32_CONVERT_I64_U : {
    D = of_f32((float)A);
    NEXT(3);
}
L_F32_DEMOTE_F64 : {
    D = of_f32((float)f64_of(A));
    NEXT(3);
}
L_F64_CONVERT_I32_S : {
    D = of_f64((double)(int32_t)(uint32_t)A);
    NEXT(3);
}
L_F64_CONVERT_I32_U : {
    D = of_f64((double)(uint32_t)A);
    NEXT(3);
}
L_F64_CONVERT_I64_S : {
    D = of_f64((double)(int64_t)A);
    NEXT(3);
}
L_F64_CONVERT_I64_U : {
    D = of_f64((double)A);
    NEXT(3);
}
L_F64_PROMOTE_F32 : {
    D = of_f64((double)f32_of(A));
    NEXT(3);
}
L_I32_REINTERPRET_F32 : {
    D = (uint32_t)A;
    NEXT(3);
}
L_I64_REINTERPRET_F64:
L_F64_REINTERPRET_I64 : {
    D = A;
    NEXT(3);
}
L_F32_REINTERPRET_I32 : {
    D = (uint32_t)A;
    NEXT(3);
}
    UN32(I32_EXTEND8_S, (int32_t)(int8_t)(uint8_t)a)
    UN32(I32_EXTEND16_S, (int32_t)(int16_t)(uint16_t)a)
    UN64(I64_EXTEND8_S, (int64_t)(int8_t)(uint8_t)a)
    UN64(I64_EXTEND16_S, (int64_t)(int16_t)(uint16_t)a)
    UN64(I64_EXTEND32_S, (int64_t)(int32_t)(uint32_t)a)

#define TRUNC_SAT(name, from, lo_ok, hi_ok, lo, hi, ctype, utype)                                  \
    L_##name:                                                                                      \
    {                                                                                              \
        const __typeof__(from) x = from;                                                           \
        if (isnan(x))                                                                              \
            D = 0;                                                                                 \
        else if (!(lo_ok))                                                                         \
            D = (utype)(lo);                                                                       \
        else if (!(hi_ok))                                                                         \
            D = (utype)(hi);                                                                       \
        else                                                                                       \
            D = (utype)(ctype)x;                                                                   \
        NEXT(3);                                                                                   \
    }
    TRUNC_SAT(I32_TRUNC_SAT_F32_S, f32_of(A), x >= -2147483648.0f, x < 2147483648.0f, INT32_MIN,
              INT32_MAX, int32_t, uint32_t)
    TRUNC_SAT(I32_TRUNC_SAT_F32_U, f32_of(A), x > -1.0f, x < 4294967296.0f, 0, UINT32_MAX, uint32_t,
              uint32_t)
    TRUNC_SAT(I32_TRUNC_SAT_F64_S, f64_of(A), x > -2147483649.0, x < 2147483648.0, INT32_MIN,
              INT32_MAX, int32_t, uint32_t)
    TRUNC_SAT(I32_TRUNC_SAT_F64_U, f64_of(A), x > -1.0, x < 4294967296.0, 0, UINT32_MAX, uint32_t,
              uint32_t)
    TRUNC_SAT(I64_TRUNC_SAT_F32_S, f32_of(A), x >= -9223372036854775808.0f,
              x < 9223372036854775808.0f, INT64_MIN, INT64_MAX, int64_t, uint64_t)
    TRUNC_SAT(I64_TRUNC_SAT_F32_U, f32_of(A), x > -1.0f, x < 18446744073709551616.0f, 0, UINT64_MAX,
              uint64_t, uint64_t)
    TRUNC_SAT(I64_TRUNC_SAT_F64_S, f64_of(A), x >= -9223372036854775808.0,
              x < 9223372036854775808.0, INT64_MIN, INT64_MAX, int64_t, uint64_t)
    TRUNC_SAT(I64_TRUNC_SAT_F64_U, f64_of(A), x > -1.0, x < 18446744073709551616.0, 0, UINT64_MAX,
              uint64_t, uint64_t)

    /* ---- operators with a constant operand [d a k] ---------------------------------------- */
#define BINK32(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint32_t a = (uint32_t)A, b = (uint32_t)pc[3].u;                                     \
        D = (uint32_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
#define BINK64(name, expr)                                                                         \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint64_t a = A, b = pc[3].u;                                                         \
        D = (uint64_t)(expr);                                                                      \
        NEXT(4);                                                                                   \
    }
    BINK32(I32_ADD_K, a + b)
    BINK32(I32_SUB_K, a - b)
    BINK32(I32_AND_K, a & b)
    BINK32(I32_OR_K, a | b)
    BINK32(I32_XOR_K, a ^ b)
    BINK32(I32_SHL_K, a << (b & 31))
    BINK32(I32_SHR_S_K, (uint32_t)((int32_t)a >> (b & 31)))
    BINK32(I32_SHR_U_K, a >> (b & 31))
    BINK32(I32_MUL_K, a * b)
    BINK64(I64_ADD_K, a + b)
    BINK64(I64_SUB_K, a - b)
    BINK64(I64_AND_K, a & b)
    BINK64(I64_OR_K, a | b)
    BINK64(I64_XOR_K, a ^ b)
    BINK64(I64_SHL_K, a << (b & 63))
    BINK64(I64_SHR_S_K, (uint64_t)((int64_t)a >> (b & 63)))
    BINK64(I64_SHR_U_K, a >> (b & 63))
    BINK64(I64_MUL_K, a * b)
    BINK32(I32_ROTL_K, (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31)))
    BINK32(I32_ROTR_K, (a >> (b & 31)) | (a << ((32 - (b & 31)) & 31)))
    BINK64(I64_ROTL_K, (a << (b & 63)) | (a >> ((64 - (b & 63)) & 63)))
    BINK64(I64_ROTR_K, (a >> (b & 63)) | (a << ((64 - (b & 63)) & 63)))

    /* ---- fused compare-and-branch [a b t] and [a k t] ---------------------------------------- */
#define BRC32(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint32_t a = (uint32_t)A, b = (uint32_t)B;                                           \
        if (expr)                                                                                  \
            JUMP(4);                                                                               \
        NEXT(4);                                                                                   \
    }
#define BRC64(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint64_t a = A, b = B;                                                               \
        if (expr)                                                                                  \
            JUMP(4);                                                                               \
        NEXT(4);                                                                                   \
    }
#define BRK32(name, expr)                                                                          \
    L_##name:                                                                                      \
    {                                                                                              \
        const uint32_t a = (uint32_t)S(1), b = (uint32_t)pc[2].u;                                  \
        if (expr)                                                                                  \
            JUMP(4);                                                                               \
        NEXT(4);                                                                                   \
    }
    /* operands: [op a b t] so a = S(1), b = S(2), t = pc[3] */
#undef A
#undef B
#define A S(1)
#define B S(2)
#undef JUMP
#define JUMP(k)                                                                                    \
    do {                                                                                           \
        pc += pc[(k)-1].i;                                                                         \
        goto * pc->op;                                                                             \
    } while (0)
    BRC32(BR_I32_EQ, a == b)
    BRC32(BR_I32_NE, a != b)
    BRC32(BR_I32_LT_S, (int32_t)a < (int32_t)b)
    BRC32(BR_I32_LT_U, a < b)
    BRC32(BR_I32_GT_S, (int32_t)a > (int32_t)b)
    BRC32(BR_I32_GT_U, a > b)
    BRC32(BR_I32_LE_S, (int32_t)a <= (int32_t)b)
    BRC32(BR_I32_LE_U, a <= b)
    BRC32(BR_I32_GE_S, (int32_t)a >= (int32_t)b)
    BRC32(BR_I32_GE_U, a >= b)
    BRC64(BR_I64_EQ, a == b)
    BRC64(BR_I64_NE, a != b)
    BRC64(BR_I64_LT_S, (int64_t)a < (int64_t)b)
    BRC64(BR_I64_LT_U, a < b)
    BRC64(BR_I64_GT_S, (int64_t)a > (int64_t)b)
    BRC64(BR_I64_GT_U, a > b)
    BRC64(BR_I64_LE_S, (int64_t)a <= (int64_t)b)
    BRC64(BR_I64_LE_U, a <= b)
    BRC64(BR_I64_GE_S, (int64_t)a >= (int64_t)b)
    BRC64(BR_I64_GE_U, a >= b)
    BRK32(BR_I32_EQ_K, a == b)
    BRK32(BR_I32_NE_K, a != b)
    BRK32(BR_I32_LT_S_K, (int32_t)a < (int32_t)b)
    BRK32(BR_I32_LT_U_K, a < b)
    BRK32(BR_I32_GT_S_K, (int32_t)a > (int32_t)b)
    BRK32(BR_I32_GT_U_K, a > b)
    BRK32(BR_I32_LE_S_K, (int32_t)a <= (int32_t)b)
    BRK32(BR_I32_LE_U_K, a <= b)
    BRK32(BR_I32_GE_S_K, (int32_t)a >= (int32_t)b)
    BRK32(BR_I32_GE_U_K, a >= b)
#undef A
#undef B
#undef JUMP
#define A S(2)
#define B S(3)
#define JUMP(k)                                                                                    \
    do {                                                                                           \
        pc += pc[k].i;                                                                             \
        goto * pc->op;                                                                             \
    } while (0)

    /* ---- branches that charge their loop head's fuel [.. t f] -------------------------------- */
#define FJUMP(t)                                                                                   \
    do {                                                                                           \
        const uint64_t k_ = pc[(t) + 1].u;                                                         \
        if (fuel < k_)                                                                             \
            TRAP(SR_WASM_TRAP_FUEL);                                                               \
        fuel -= k_;                                                                                \
        pc += pc[t].i;                                                                             \
        goto * pc->op;                                                                             \
    } while (0)
#define BRC32F(name, expr)                                                                         \
    L_##name##_F:                                                                                  \
    {                                                                                              \
        const uint32_t a = (uint32_t)S(1), b = (uint32_t)S(2);                                     \
        if (expr)                                                                                  \
            FJUMP(3);                                                                              \
        NEXT(5);                                                                                   \
    }
#define BRC64F(name, expr)                                                                         \
    L_##name##_F:                                                                                  \
    {                                                                                              \
        const uint64_t a = S(1), b = S(2);                                                         \
        if (expr)                                                                                  \
            FJUMP(3);                                                                              \
        NEXT(5);                                                                                   \
    }
#define BRK32F(name, expr)                                                                         \
    L_##name##_F:                                                                                  \
    {                                                                                              \
        const uint32_t a = (uint32_t)S(1), b = (uint32_t)pc[2].u;                                  \
        if (expr)                                                                                  \
            FJUMP(3);                                                                              \
        NEXT(5);                                                                                   \
    }
L_BR_F:
    FJUMP(1);
L_BR_IF_F:
    if ((uint32_t)S(1))
        FJUMP(2);
    NEXT(4);
L_BR_UNLESS_F:
    if (!(uint32_t)S(1))
        FJUMP(2);
    NEXT(4);
    BRC32F(BR_I32_EQ, a == b)
    BRC32F(BR_I32_NE, a != b)
    BRC32F(BR_I32_LT_S, (int32_t)a < (int32_t)b)
    BRC32F(BR_I32_LT_U, a < b)
    BRC32F(BR_I32_GT_S, (int32_t)a > (int32_t)b)
    BRC32F(BR_I32_GT_U, a > b)
    BRC32F(BR_I32_LE_S, (int32_t)a <= (int32_t)b)
    BRC32F(BR_I32_LE_U, a <= b)
    BRC32F(BR_I32_GE_S, (int32_t)a >= (int32_t)b)
    BRC32F(BR_I32_GE_U, a >= b)
    BRC64F(BR_I64_EQ, a == b)
    BRC64F(BR_I64_NE, a != b)
    BRC64F(BR_I64_LT_S, (int64_t)a < (int64_t)b)
    BRC64F(BR_I64_LT_U, a < b)
    BRC64F(BR_I64_GT_S, (int64_t)a > (int64_t)b)
    BRC64F(BR_I64_GT_U, a > b)
    BRC64F(BR_I64_LE_S, (int64_t)a <= (int64_t)b)
    BRC64F(BR_I64_LE_U, a <= b)
    BRC64F(BR_I64_GE_S, (int64_t)a >= (int64_t)b)
    BRC64F(BR_I64_GE_U, a >= b)
    BRK32F(BR_I32_EQ_K, a == b)
    BRK32F(BR_I32_NE_K, a != b)
    BRK32F(BR_I32_LT_S_K, (int32_t)a < (int32_t)b)
    BRK32F(BR_I32_LT_U_K, a < b)
    BRK32F(BR_I32_GT_S_K, (int32_t)a > (int32_t)b)
    BRK32F(BR_I32_GT_U_K, a > b)
    BRK32F(BR_I32_LE_S_K, (int32_t)a <= (int32_t)b)
    BRK32F(BR_I32_LE_U_K, a <= b)
    BRK32F(BR_I32_GE_S_K, (int32_t)a >= (int32_t)b)
    BRK32F(BR_I32_GE_U_K, a >= b)

/* ---- control ------------------------------------------------------------------------- */
L_UNREACHABLE:
    TRAP(SR_WASM_TRAP_UNREACHABLE);
L_FUEL : {
    const uint64_t k = pc[1].u;
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    NEXT(2);
}
L_BR:
    JUMP(1);
L_BR_IF:
    if ((uint32_t)S(1))
        JUMP(2);
    NEXT(3);
L_BR_UNLESS:
    if (!(uint32_t)S(1))
        JUMP(2);
    NEXT(3);
L_BR_TABLE : {
    uint64_t i = (uint32_t)S(1);
    if (i > pc[2].u)
        i = pc[2].u;
    JUMP(3 + i);
}
L_RET:
    pc = fr->ret_pc;
    fp = fr->fp;
    if (fr->inst != inst) {
        inst = fr->inst;
        LOAD_INST();
    }
    fr--;
    DISPATCH();
L_HALT:
    ex->fuel = fuel;
    return SR_WASM_TRAP_NONE;
L_CALL : {
    const struct sr_wasm__code *callee = pc[1].code;
    nfp = fp + pc[2].u;
    if (fr + 1 >= frames_end)
        TRAP(SR_WASM_TRAP_CALL_DEPTH);
    if (callee->frame_size > (uint64_t)(stack_end - nfp))
        TRAP(SR_WASM_TRAP_VALUE_STACK);
    fr++;
    fr->ret_pc = pc + 3;
    fr->fp = fp;
    fr->inst = inst;
    memset(nfp + callee->nparams, 0, (size_t)(callee->nlocals - callee->nparams) * 8);
    fp = nfp;
    pc = callee->code;
    DISPATCH();
}
L_CALL_FUNC:
    cf = funcs[pc[1].u];
    nfp = fp + pc[2].u;
    ret = pc + 3;
    goto do_call;
L_CALL_INDIRECT : {
    const struct sr_wasm__table *t = inst->tables[pc[1].u];
    const uint32_t i = (uint32_t)S(3);
    if (i >= t->size)
        TRAP(SR_WASM_TRAP_UNDEF_ELEM);
    cf = (const struct sr_wasm__func *)(uintptr_t)t->elems[i];
    if (!cf)
        TRAP(SR_WASM_TRAP_UNINIT_ELEM);
    if (!sr_wasm__functype_eq(cf->type, &inst->mod->types[pc[2].u]))
        TRAP(SR_WASM_TRAP_INDIRECT_TYPE);
    nfp = fp + pc[4].u;
    ret = pc + 5;
    goto do_call;
}
do_call:
    if (cf->host) {
        ex->fuel = fuel;
        if (cf->host(cf->host_ctx, inst, nfp) != SR_OK) {
            if (&inst->ex != ex) {
                ex->exit_code = inst->ex.exit_code;
                memcpy(ex->msg, inst->ex.msg, sizeof(ex->msg));
            }
            TRAP(inst->ex.trap ? inst->ex.trap : SR_WASM_TRAP_HOST);
        }
        LOAD_INST();
        pc = ret;
        DISPATCH();
    }
    if (fr + 1 >= frames_end)
        TRAP(SR_WASM_TRAP_CALL_DEPTH);
    if (cf->code->frame_size > (uint64_t)(stack_end - nfp))
        TRAP(SR_WASM_TRAP_VALUE_STACK);
    fr++;
    fr->ret_pc = ret;
    fr->fp = fp;
    fr->inst = inst;
    if (cf->inst != inst) {
        inst = cf->inst;
        LOAD_INST();
    }
    memset(nfp + cf->code->nparams, 0, (size_t)(cf->code->nlocals - cf->code->nparams) * 8);
    fp = nfp;
    pc = cf->code->code;
    DISPATCH();

/* ---- variables --------------------------------------------------------------------- */
L_COPY:
    D = A;
    NEXT(3);
L_COPY_N:
    memmove(&D, &A, (size_t)pc[3].u * sizeof(uint64_t));
    NEXT(4);
L_CONST:
    D = pc[2].u;
    NEXT(3);
L_SELECT:
    D = (uint32_t)S(4) ? A : B;
    NEXT(5);
L_GLOBAL_GET:
    D = globals[pc[2].u]->val;
    NEXT(3);
L_GLOBAL_SET:
    globals[pc[1].u]->val = A;
    NEXT(3);

    /* ---- memory [d a k] / [a v k] --------------------------------------------------------- */
#define EA(slot, size)                                                                             \
    const uint64_t ea = (uint64_t)(uint32_t)S(slot) + pc[3].u;                                     \
    if (ea + (size) > msize)                                                                       \
        TRAP(SR_WASM_TRAP_MEM_OOB);
#define LOAD(name, ctype, size, conv)                                                              \
    L_##name:                                                                                      \
    {                                                                                              \
        EA(2, size);                                                                               \
        ctype v;                                                                                   \
        memcpy(&v, mem + ea, size);                                                                \
        D = conv;                                                                                  \
        NEXT(4);                                                                                   \
    }
#define STORE(name, ctype, size)                                                                   \
    L_##name:                                                                                      \
    {                                                                                              \
        EA(1, size);                                                                               \
        const ctype v = (ctype)S(2);                                                               \
        memcpy(mem + ea, &v, size);                                                                \
        NEXT(4);                                                                                   \
    }
    LOAD(I32_LOAD, uint32_t, 4, v)
    LOAD(I64_LOAD, uint64_t, 8, v)
    LOAD(F32_LOAD, uint32_t, 4, v)
    LOAD(F64_LOAD, uint64_t, 8, v)
    LOAD(I32_LOAD8_S, int8_t, 1, (uint32_t)(int32_t)v)
    LOAD(I32_LOAD8_U, uint8_t, 1, (uint32_t)v)
    LOAD(I32_LOAD16_S, int16_t, 2, (uint32_t)(int32_t)v)
    LOAD(I32_LOAD16_U, uint16_t, 2, (uint32_t)v)
    LOAD(I64_LOAD8_S, int8_t, 1, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD8_U, uint8_t, 1, (uint64_t)v)
    LOAD(I64_LOAD16_S, int16_t, 2, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD16_U, uint16_t, 2, (uint64_t)v)
    LOAD(I64_LOAD32_S, int32_t, 4, (uint64_t)(int64_t)v)
    LOAD(I64_LOAD32_U, uint32_t, 4, (uint64_t)v)
    STORE(I32_STORE, uint32_t, 4)
    STORE(I64_STORE, uint64_t, 8)
    STORE(F32_STORE, uint32_t, 4)
    STORE(F64_STORE, uint64_t, 8)
    STORE(I32_STORE8, uint8_t, 1)
    STORE(I32_STORE16, uint16_t, 2)
    STORE(I64_STORE8, uint8_t, 1)
    STORE(I64_STORE16, uint16_t, 2)
    STORE(I64_STORE32, uint32_t, 4)
L_MEMORY_SIZE:
    D = inst->mem->pages;
    NEXT(2);
L_MEMORY_GROW : {
    const uint32_t delta = (uint32_t)A;
    const int64_t old = sr_wasm__mem_grow(inst->mem, delta);
    if (old >= 0) {
        const uint64_t k = (uint64_t)delta * SR_WASM__GROW_FUEL_PER_PAGE;
        if (fuel < k)
            TRAP(SR_WASM_TRAP_FUEL);
        fuel -= k;
    }
    LOAD_INST();
    D = (uint32_t)(int32_t)old;
    NEXT(3);
}
L_MEMORY_INIT : {
    const uint64_t n = (uint32_t)S(4);
    const sr_wasm_trap t =
        sr_wasm__memory_init(inst, (uint32_t)pc[1].u, (uint32_t)S(2), (uint32_t)S(3), n);
    if (t != SR_WASM_TRAP_NONE)
        TRAP(t);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_BYTES_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    NEXT(5);
}
L_DATA_DROP:
    inst->data_dropped[pc[1].u] = 1;
    NEXT(2);
L_MEMORY_COPY : {
    const uint64_t d = (uint32_t)S(1), s = (uint32_t)S(2), n = (uint32_t)S(3);
    if (d + n > msize || s + n > msize)
        TRAP(SR_WASM_TRAP_MEM_OOB);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_BYTES_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    if (n)
        memmove(mem + d, mem + s, n);
    NEXT(4);
}
L_MEMORY_FILL : {
    const uint64_t d = (uint32_t)S(1), n = (uint32_t)S(3);
    if (d + n > msize)
        TRAP(SR_WASM_TRAP_MEM_OOB);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_BYTES_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    if (n)
        memset(mem + d, (int)(uint8_t)S(2), n);
    NEXT(4);
}

/* ---- tables and references ---------------------------------------------------------------- */
L_TABLE_GET : {
    const struct sr_wasm__table *t = inst->tables[pc[2].u];
    const uint32_t i = (uint32_t)S(3);
    if (i >= t->size)
        TRAP(SR_WASM_TRAP_TABLE_OOB);
    D = t->elems[i];
    NEXT(4);
}
L_TABLE_SET : {
    struct sr_wasm__table *t = inst->tables[pc[1].u];
    const uint32_t i = (uint32_t)S(2);
    if (i >= t->size)
        TRAP(SR_WASM_TRAP_TABLE_OOB);
    t->elems[i] = S(3);
    NEXT(4);
}
L_TABLE_INIT : {
    const uint64_t n = (uint32_t)S(5);
    const sr_wasm_trap t = sr_wasm__table_init(inst, (uint32_t)pc[1].u, (uint32_t)pc[2].u,
                                               (uint32_t)S(3), (uint32_t)S(4), n);
    if (t != SR_WASM_TRAP_NONE)
        TRAP(t);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_ELEMS_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    NEXT(6);
}
L_ELEM_DROP:
    inst->elem_len[pc[1].u] = 0;
    NEXT(2);
L_TABLE_COPY : {
    struct sr_wasm__table *dt = inst->tables[pc[1].u];
    const struct sr_wasm__table *st = inst->tables[pc[2].u];
    const uint64_t d = (uint32_t)S(3), s = (uint32_t)S(4), n = (uint32_t)S(5);
    if (d + n > dt->size || s + n > st->size)
        TRAP(SR_WASM_TRAP_TABLE_OOB);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_ELEMS_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    if (n)
        memmove(dt->elems + d, st->elems + s, n * sizeof(uint64_t));
    NEXT(6);
}
L_TABLE_GROW : {
    struct sr_wasm__table *t = inst->tables[pc[2].u];
    const uint32_t n = (uint32_t)S(4);
    const int64_t old = sr_wasm__table_grow(t, n, S(3));
    if (old >= 0) {
        const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_ELEMS_PER_FUEL);
        if (fuel < k)
            TRAP(SR_WASM_TRAP_FUEL);
        fuel -= k;
    }
    D = (uint32_t)(int32_t)old;
    NEXT(5);
}
L_TABLE_SIZE:
    D = inst->tables[pc[2].u]->size;
    NEXT(3);
L_TABLE_FILL : {
    struct sr_wasm__table *t = inst->tables[pc[1].u];
    const uint64_t i = (uint32_t)S(2), v = S(3), n = (uint32_t)S(4);
    if (i + n > t->size)
        TRAP(SR_WASM_TRAP_TABLE_OOB);
    const uint64_t k = BULK_FUEL(n, SR_WASM__BULK_ELEMS_PER_FUEL);
    if (fuel < k)
        TRAP(SR_WASM_TRAP_FUEL);
    fuel -= k;
    for (uint64_t j = 0; j < n; j++)
        t->elems[i + j] = v;
    NEXT(5);
}
L_REF_IS_NULL:
    D = A == 0;
    NEXT(3);
L_REF_FUNC:
    D = (uint64_t)(uintptr_t)funcs[pc[2].u];
    NEXT(3);

trapped:
    ex->fuel = fuel;
    ex->trap = trap;
    return trap;
}
