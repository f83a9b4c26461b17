/* SPDX-License-Identifier: MIT
 *
 * wasm_int.h - private structures of the WebAssembly engine.
 *
 * Pipeline: wasm_leb.c (reader) -> wasm_parse.c (sections) -> wasm_validate.c
 * (module-level rules, constant expressions) -> wasm_compile.c (function
 * bodies: validation and translation into internal code in one pass) ->
 * wasm_inst.c (instantiation, linking, calls) -> wasm_exec.c (interpreter).
 * docs/wasm.md describes the internal code and the fuel plan.
 */
#ifndef SR_WASM_INT_H
#define SR_WASM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"

/* Implementation limits. Each keeps the memory and the work of decoding a
 * module linear in its size, or bounds a structure the interpreter walks; each
 * is reported as an invalid module ("invalid: ... exceed the cap of N ...")
 * naming what was counted. Keep in sync with docs/wasm.md ("Implementation
 * limits"); tests/unit/wasm_bounds_test.c holds the engine to them. */
#define SR_WASM__MAX_TYPES 1000000u     /* function types of a module */
#define SR_WASM__MAX_TYPE_ARITY 1000u   /* params, or results, of one function type */
#define SR_WASM__MAX_IMPORTS 1000000u   /* imports of a module */
#define SR_WASM__MAX_FUNCS 1000000u     /* functions, imported and defined */
#define SR_WASM__MAX_TABLES 100000u     /* tables, imported and defined */
#define SR_WASM__MAX_GLOBALS 1000000u   /* globals, imported and defined */
#define SR_WASM__MAX_EXPORTS 1000000u   /* exports of a module */
#define SR_WASM__MAX_SEGMENTS 1000000u  /* element segments; data segments */
#define SR_WASM__MAX_ELEMS 10000000u    /* items of one element segment */
#define SR_WASM__MAX_LOCALS 50000u      /* locals + params of one function */
#define SR_WASM__MAX_BLOCK_DEPTH 10000u /* nested blocks in one function */
#define SR_WASM__MAX_BR_TABLE 100000u   /* labels of one br_table */
#define SR_WASM__MAX_FRAME 200000u      /* slots of one function frame */
/* Validation work: type-stack pushes and pops, label checks, moves of values.
 * Ordinary code needs a few steps per byte; operands of high arity passed
 * through many branches or blocks can need up to SR_WASM__MAX_TYPE_ARITY per
 * byte, which this cap refuses so that a module is validated in time linear
 * in its size. */
#define SR_WASM__WORK_PER_BYTE 32u    /* steps per module byte */
#define SR_WASM__WORK_BASE (1u << 22) /* steps any module may take */
/* Internal code: cells (8 bytes) per byte of function body. The translation
 * emits at most about 8 (a br_table whose labels all need their own moves);
 * ordinary code 2 to 4. */
#define SR_WASM__CELLS_PER_BYTE 12u
#define SR_WASM__CELLS_BASE 64u /* cells any function may have */

/* Value types inside the engine: the binary codes, plus "unknown" for the
 * polymorphic stack of unreachable code. */
#define SR_WASM__T_UNKNOWN 0
#define SR_WASM__T_V128 0x7b

/* ---- reader (wasm_leb.c) ------------------------------------------------------- */

struct sr_wasm__rd {
    const uint8_t *p;    /* next byte */
    const uint8_t *end;  /* end of the current section or body */
    const uint8_t *base; /* start of the module, for offsets in messages */
    sr_err *err;
};

sr_status sr_wasm__rd_u8(struct sr_wasm__rd *r, uint8_t *v);
sr_status sr_wasm__rd_u32(struct sr_wasm__rd *r, uint32_t *v);
sr_status sr_wasm__rd_s32(struct sr_wasm__rd *r, int32_t *v);
sr_status sr_wasm__rd_s33(struct sr_wasm__rd *r, int64_t *v);
sr_status sr_wasm__rd_s64(struct sr_wasm__rd *r, int64_t *v);
sr_status sr_wasm__rd_bytes(struct sr_wasm__rd *r, size_t n, const uint8_t **out);
/* A vector length, checked against the bytes left (each element >= min_elem
 * bytes) and a cap; 'what' names the elements in the cap's message
 * ("imports"). */
sr_status sr_wasm__rd_count(struct sr_wasm__rd *r, uint32_t cap, size_t min_elem, const char *what,
                            uint32_t *n);
/* Sets a "malformed: ... at offset 0x.." error and returns SR_EINVAL. */
sr_status sr_wasm__malformed(struct sr_wasm__rd *r, const char *what);
bool sr_wasm__utf8_valid(const uint8_t *s, size_t n);

/* ---- module ---------------------------------------------------------------------- */

struct sr_wasm__functype {
    uint32_t nparams;
    uint32_t nresults;
    const uint8_t *types; /* params then results; into the module's type_bytes */
};

struct sr_wasm__lim {
    uint32_t min;
    uint32_t max;
    bool has_max;
};

/* A constant expression (Wasm 2.0: one instruction then end). */
enum { SR_WASM__CE_CONST, SR_WASM__CE_GLOBAL, SR_WASM__CE_NULL, SR_WASM__CE_FUNC };
struct sr_wasm__cexpr {
    uint8_t kind;
    uint8_t type;
    uint32_t index; /* global or function index */
    uint64_t bits;  /* SR_WASM__CE_CONST */
};

struct sr_wasm__import {
    char *module; /* NUL-terminated, into the module's import_names */
    char *name;
    size_t name_len;
    size_t module_len;
    uint8_t kind;   /* enum sr_wasm_extern */
    uint32_t index; /* among the imports of its kind (= its function/table/... index) */
    uint32_t type;  /* function type index */
    uint8_t vtype;  /* global value type or table reference type */
    bool mut;       /* global */
    struct sr_wasm__lim lim;
};

struct sr_wasm__export {
    char *name; /* NUL-terminated, into the module's export_names */
    size_t name_len;
    uint8_t kind;
    uint32_t index;
};

struct sr_wasm__global_def {
    uint8_t type;
    bool mut;
    struct sr_wasm__cexpr init; /* defined globals only */
};

struct sr_wasm__table_def {
    uint8_t type;
    struct sr_wasm__lim lim;
};

enum { SR_WASM__SEG_ACTIVE, SR_WASM__SEG_PASSIVE, SR_WASM__SEG_DECLARATIVE };

struct sr_wasm__elem {
    uint8_t mode;
    uint8_t type;
    uint32_t table;
    struct sr_wasm__cexpr offset;
    uint32_t count;
    struct sr_wasm__cexpr *items;
};

struct sr_wasm__data {
    uint8_t mode;
    struct sr_wasm__cexpr offset;
    const uint8_t *bytes; /* into the module's copy of its bytes */
    uint32_t len;
};

union sr_wasm__cell;

/* A defined function: its source and, after wasm_compile.c, its internal code. */
struct sr_wasm__code {
    uint32_t type; /* type index */
    uint32_t nparams;
    uint32_t nlocals; /* params + declared locals */
    uint32_t nresults;
    uint32_t ngroups;      /* local declarations (count, type), read again by the compiler */
    uint32_t frame_size;   /* slots: locals + operand stack + saved if-params */
    const uint8_t *locals; /* the first declaration */
    const uint8_t *body;   /* expression bytes (after the locals) */
    const uint8_t *body_end;
    union sr_wasm__cell *code;
    size_t code_len; /* cells */
};

struct sr_wasm_module {
    uint8_t *bytes;
    size_t len;
    uint64_t work; /* validation steps taken, <= SR_WASM__WORK_PER_BYTE * len + BASE */
    struct sr_wasm__functype *types;
    uint8_t *type_bytes; /* the value types of every function type, one allocation */
    uint32_t ntypes;
    char *import_names; /* every import's module and field name, NUL-terminated */
    char *export_names;
    struct sr_wasm__import *imports;
    uint32_t nimports;
    uint32_t *func_types; /* [nfuncs] type index of every function (imports first) */
    uint32_t nfuncs;
    uint32_t nfunc_imports;
    struct sr_wasm__table_def *tables;
    uint32_t ntables;
    uint32_t ntable_imports;
    struct sr_wasm__lim mem; /* memory 0 (imported or defined) */
    uint32_t nmems;
    uint32_t nmem_imports;
    struct sr_wasm__global_def *globals;
    uint32_t nglobals;
    uint32_t nglobal_imports;
    struct sr_wasm__export *exports;
    const struct sr_wasm__export **export_order; /* [nexports] sorted by name */
    uint32_t nexports;
    bool has_start;
    uint32_t start;
    struct sr_wasm__elem *elems;
    uint32_t nelems;
    struct sr_wasm__data *datas;
    uint32_t ndatas;
    bool has_datacount;
    uint32_t datacount;
    struct sr_wasm__code *codes; /* [nfuncs - nfunc_imports] */
    uint32_t ncodes;
    uint8_t *declared; /* [nfuncs] 1 if ref.func may name it (C.refs) */
};

sr_status sr_wasm__parse(struct sr_wasm_module *m, sr_err *err);
sr_status sr_wasm__validate_module(struct sr_wasm_module *m, sr_err *err);
sr_status sr_wasm__read_cexpr(struct sr_wasm__rd *r, struct sr_wasm_module *m,
                              uint32_t nglobals_visible, uint8_t want, struct sr_wasm__cexpr *out);
/* Validates and translates every function body. */
sr_status sr_wasm__compile_all(struct sr_wasm_module *m, sr_err *err);
/* Adds n steps of validation work; SR_EINVAL once the module's budget
 * (SR_WASM__WORK_PER_BYTE per byte + SR_WASM__WORK_BASE) is spent. */
sr_status sr_wasm__work(struct sr_wasm_module *m, uint64_t n, sr_err *err);
/* The export named name[0..len), or NULL: binary search, O(log n). */
const struct sr_wasm__export *sr_wasm__find_export(const struct sr_wasm_module *m, const char *name,
                                                   size_t len);
bool sr_wasm__functype_eq(const struct sr_wasm__functype *a, const struct sr_wasm__functype *b);
sr_status sr_wasm__invalid(sr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- internal code ----------------------------------------------------------------- */

/* One cell of internal code: an instruction is a handler address followed by
 * its operands (slot indices relative to the frame, immediates, or branch
 * offsets in cells relative to the instruction's first cell). */
union sr_wasm__cell {
    const void *op;
    uint64_t u;
    int64_t i;
    const struct sr_wasm__code *code;
};

/* Numeric operators 0x45..0xc4 keep their Wasm order (op = wasm opcode - 0x45),
 * followed by the engine's own instructions. Keep in sync with the handlers
 * in wasm_exec.c (the label table is built from this list). */
/* (clang-format 14 is not stable on these X-macro tables: left as written) */
// clang-format off
#define SR_WASM__NUMERIC_OPS(X)                                                                    \
    X(I32_EQZ) X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U) X(I32_LE_S)     \
    X(I32_LE_U) X(I32_GE_S) X(I32_GE_U) X(I64_EQZ) X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U)    \
    X(I64_GT_S) X(I64_GT_U) X(I64_LE_S) X(I64_LE_U) X(I64_GE_S) X(I64_GE_U) X(F32_EQ) X(F32_NE)   \
    X(F32_LT) X(F32_GT) X(F32_LE) X(F32_GE) X(F64_EQ) X(F64_NE) X(F64_LT) X(F64_GT) X(F64_LE)     \
    X(F64_GE) X(I32_CLZ) X(I32_CTZ) X(I32_POPCNT) X(I32_ADD) X(I32_SUB) X(I32_MUL) X(I32_DIV_S)   \
    X(I32_DIV_U) X(I32_REM_S) X(I32_REM_U) X(I32_AND) X(I32_OR) X(I32_XOR) X(I32_SHL)             \
    X(I32_SHR_S) X(I32_SHR_U) X(I32_ROTL) X(I32_ROTR) X(I64_CLZ) X(I64_CTZ) X(I64_POPCNT)         \
    X(I64_ADD) X(I64_SUB) X(I64_MUL) X(I64_DIV_S) X(I64_DIV_U) X(I64_REM_S) X(I64_REM_U)          \
    X(I64_AND) X(I64_OR) X(I64_XOR) X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U) X(I64_ROTL) X(I64_ROTR)  \
    X(F32_ABS) X(F32_NEG) X(F32_CEIL) X(F32_FLOOR) X(F32_TRUNC) X(F32_NEAREST) X(F32_SQRT)        \
    X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV) X(F32_MIN) X(F32_MAX) X(F32_COPYSIGN) X(F64_ABS)  \
    X(F64_NEG) X(F64_CEIL) X(F64_FLOOR) X(F64_TRUNC) X(F64_NEAREST) X(F64_SQRT) X(F64_ADD)        \
    X(F64_SUB) X(F64_MUL) X(F64_DIV) X(F64_MIN) X(F64_MAX) X(F64_COPYSIGN) X(I32_WRAP_I64)        \
    X(I32_TRUNC_F32_S) X(I32_TRUNC_F32_U) X(I32_TRUNC_F64_S) X(I32_TRUNC_F64_U)                   \
    X(I64_EXTEND_I32_S) X(I64_EXTEND_I32_U) X(I64_TRUNC_F32_S) X(I64_TRUNC_F32_U)                 \
    X(I64_TRUNC_F64_S) X(I64_TRUNC_F64_U) X(F32_CONVERT_I32_S) X(F32_CONVERT_I32_U)               \
    X(F32_CONVERT_I64_S) X(F32_CONVERT_I64_U) X(F32_DEMOTE_F64) X(F64_CONVERT_I32_S)              \
    X(F64_CONVERT_I32_U) X(F64_CONVERT_I64_S) X(F64_CONVERT_I64_U) X(F64_PROMOTE_F32)             \
    X(I32_REINTERPRET_F32) X(I64_REINTERPRET_F64) X(F32_REINTERPRET_I32) X(F64_REINTERPRET_I64)  \
    X(I32_EXTEND8_S) X(I32_EXTEND16_S) X(I64_EXTEND8_S) X(I64_EXTEND16_S) X(I64_EXTEND32_S)

/* Engine instructions. Operands in brackets; d = destination slot, a/b/c =
 * source slots, t = branch offset, k = immediate. */
#define SR_WASM__ENGINE_OPS(X)                                                                     \
    X(I32_TRUNC_SAT_F32_S) X(I32_TRUNC_SAT_F32_U) X(I32_TRUNC_SAT_F64_S) X(I32_TRUNC_SAT_F64_U)   \
    X(I64_TRUNC_SAT_F32_S) X(I64_TRUNC_SAT_F32_U) X(I64_TRUNC_SAT_F64_S) X(I64_TRUNC_SAT_F64_U)   \
    X(UNREACHABLE)   /* */                                                                         \
    X(FUEL)          /* [k] charge k at basic block entry */                                      \
    X(BR)            /* [t] */                                                                     \
    X(BR_IF)         /* [c t] */                                                                   \
    X(BR_UNLESS)     /* [c t] */                                                                   \
    X(BR_TABLE)      /* [a n t0..tn] */                                                            \
    X(RET)           /* results already in slots 0.. */                                           \
    X(HALT)          /* return from the outermost frame to the host */                            \
    X(CALL)          /* [code base] a function of this module */                                  \
    X(CALL_FUNC)     /* [funcidx base] through the instance's function table */                  \
    X(CALL_INDIRECT) /* [table type a base] */                                                    \
    X(COPY)          /* [d a] */                                                                   \
    X(COPY_N)        /* [d a n] n >= 2 consecutive slots (memmove) */                             \
    X(CONST)         /* [d k] */                                                                   \
    X(SELECT)        /* [d a b c] */                                                               \
    X(GLOBAL_GET)    /* [d k] */                                                                   \
    X(GLOBAL_SET)    /* [k a] */                                                                   \
    X(I32_LOAD) X(I64_LOAD) X(F32_LOAD) X(F64_LOAD) X(I32_LOAD8_S) X(I32_LOAD8_U)                 \
    X(I32_LOAD16_S) X(I32_LOAD16_U) X(I64_LOAD8_S) X(I64_LOAD8_U) X(I64_LOAD16_S)                 \
    X(I64_LOAD16_U) X(I64_LOAD32_S) X(I64_LOAD32_U) /* [d a k] */                                  \
    X(I32_STORE) X(I64_STORE) X(F32_STORE) X(F64_STORE) X(I32_STORE8) X(I32_STORE16)              \
    X(I64_STORE8) X(I64_STORE16) X(I64_STORE32) /* [a b k] */                                      \
    X(MEMORY_SIZE)   /* [d] */                                                                     \
    X(MEMORY_GROW)   /* [d a] */                                                                   \
    X(MEMORY_INIT)   /* [seg d s n] */                                                             \
    X(DATA_DROP)     /* [seg] */                                                                   \
    X(MEMORY_COPY)   /* [d s n] */                                                                 \
    X(MEMORY_FILL)   /* [d v n] */                                                                 \
    X(TABLE_GET)     /* [d table a] */                                                             \
    X(TABLE_SET)     /* [table a b] */                                                             \
    X(TABLE_INIT)    /* [table seg d s n] */                                                       \
    X(ELEM_DROP)     /* [seg] */                                                                   \
    X(TABLE_COPY)    /* [dt st d s n] */                                                           \
    X(TABLE_GROW)    /* [d table init n] */                                                        \
    X(TABLE_SIZE)    /* [d table] */                                                               \
    X(TABLE_FILL)    /* [table i v n] */                                                           \
    X(REF_IS_NULL)   /* [d a] */                                                                   \
    X(REF_FUNC)      /* [d k] */                                                                   \
    X(BR_I32_EQ) X(BR_I32_NE) X(BR_I32_LT_S) X(BR_I32_LT_U) X(BR_I32_GT_S) X(BR_I32_GT_U)         \
    X(BR_I32_LE_S) X(BR_I32_LE_U) X(BR_I32_GE_S) X(BR_I32_GE_U) /* [a b t] fused compare+br */     \
    X(BR_I64_EQ) X(BR_I64_NE) X(BR_I64_LT_S) X(BR_I64_LT_U) X(BR_I64_GT_S) X(BR_I64_GT_U)         \
    X(BR_I64_LE_S) X(BR_I64_LE_U) X(BR_I64_GE_S) X(BR_I64_GE_U)                                   \
    X(I32_ADD_K) X(I32_SUB_K) X(I32_AND_K) X(I32_OR_K) X(I32_XOR_K) X(I32_SHL_K) X(I32_SHR_S_K)   \
    X(I32_SHR_U_K) X(I32_MUL_K) X(I64_ADD_K) X(I64_SUB_K) X(I64_AND_K) X(I64_OR_K) X(I64_XOR_K)   \
    X(I64_SHL_K) X(I64_SHR_S_K) X(I64_SHR_U_K) X(I64_MUL_K) X(I32_ROTL_K) X(I32_ROTR_K)           \
    X(I64_ROTL_K) X(I64_ROTR_K) /* [d a k] op with a constant */                                  \
    X(BR_I32_EQ_K) X(BR_I32_NE_K) X(BR_I32_LT_S_K) X(BR_I32_LT_U_K) X(BR_I32_GT_S_K)              \
    X(BR_I32_GT_U_K) X(BR_I32_LE_S_K) X(BR_I32_LE_U_K) X(BR_I32_GE_S_K) X(BR_I32_GE_U_K)          \
    /* [a k t] fused compare-with-constant + br */                                                \
    X(BR_F) X(BR_IF_F) X(BR_UNLESS_F)                                                              \
    X(BR_I32_EQ_F) X(BR_I32_NE_F) X(BR_I32_LT_S_F) X(BR_I32_LT_U_F) X(BR_I32_GT_S_F)               \
    X(BR_I32_GT_U_F) X(BR_I32_LE_S_F) X(BR_I32_LE_U_F) X(BR_I32_GE_S_F) X(BR_I32_GE_U_F)          \
    X(BR_I64_EQ_F) X(BR_I64_NE_F) X(BR_I64_LT_S_F) X(BR_I64_LT_U_F) X(BR_I64_GT_S_F)               \
    X(BR_I64_GT_U_F) X(BR_I64_LE_S_F) X(BR_I64_LE_U_F) X(BR_I64_GE_S_F) X(BR_I64_GE_U_F)          \
    X(BR_I32_EQ_K_F) X(BR_I32_NE_K_F) X(BR_I32_LT_S_K_F) X(BR_I32_LT_U_K_F) X(BR_I32_GT_S_K_F)     \
    X(BR_I32_GT_U_K_F) X(BR_I32_LE_S_K_F) X(BR_I32_LE_U_K_F) X(BR_I32_GE_S_K_F)                   \
    X(BR_I32_GE_U_K_F)                                                                             \
    /* the branches above with one more cell [.. t f]: a backward branch to a loop head whose     \
     * FUEL instruction (cost f) it charges itself, jumping just past it */
// clang-format on

#define SR_WASM__ENUM(name) SR_WASM__OP_##name,
enum sr_wasm__op {
    SR_WASM__NUMERIC_OPS(SR_WASM__ENUM) SR_WASM__ENGINE_OPS(SR_WASM__ENUM) SR_WASM__OP_COUNT
};
#undef SR_WASM__ENUM

/* The interpreter's handler addresses, indexed by enum sr_wasm__op. */
const void *const *sr_wasm__op_table(void);

/* ---- instances ----------------------------------------------------------------------- */

struct sr_wasm__mem {
    uint8_t *data;
    uint64_t size; /* bytes = pages * 64 KiB */
    uint32_t pages;
    uint32_t max;      /* pages: min(declared max, limit) */
    uint32_t decl_max; /* pages: the declared maximum, or 65536 */
    bool has_max;      /* the module declared a maximum */
    bool limit_hit;    /* a grow was refused by the sr_wasm_limits cap */
};

struct sr_wasm__table {
    uint64_t *elems; /* funcref: (uintptr_t)struct sr_wasm__func *; externref: host bits */
    uint32_t size;
    uint32_t max;          /* min(declared max, limit) */
    uint64_t *owner_elems; /* elements of all tables of the instance that owns it */
    uint64_t owner_cap;    /* that instance's max_table */
    uint32_t decl_max;     /* the declared maximum, or UINT32_MAX */
    bool has_max;
    uint8_t type;
    bool limit_hit;
};

struct sr_wasm__global {
    uint64_t val;
    uint8_t type;
    bool mut;
};

struct sr_wasm__func {
    const struct sr_wasm__functype *type;
    sr_wasm_instance *inst;           /* NULL for host functions */
    const struct sr_wasm__code *code; /* NULL for host functions */
    sr_wasm_host_fn host;
    void *host_ctx;
};

struct sr_wasm__frame {
    const union sr_wasm__cell *ret_pc;
    uint64_t *fp;
    sr_wasm_instance *inst;
};

/* State of one call from the host into the engine (it spans instances). */
struct sr_wasm__exec {
    uint64_t *stack;
    uint64_t *stack_end;
    struct sr_wasm__frame *frames;
    struct sr_wasm__frame *frames_end;
    uint64_t fuel; /* remaining */
    sr_wasm_trap trap;
    char msg[256]; /* host trap message */
    uint32_t exit_code;
};

struct sr_wasm_instance {
    const struct sr_wasm_module *mod;
    struct sr_wasm_limits lim;
    struct sr_wasm__func **funcs;    /* [nfuncs] */
    struct sr_wasm__func *own_funcs; /* [ncodes] */
    struct sr_wasm__table **tables;  /* [ntables] */
    struct sr_wasm__table *own_tables;
    uint64_t table_elems;     /* elements of own_tables, <= lim.max_table */
    struct sr_wasm__mem *mem; /* memory 0 or &empty_mem */
    struct sr_wasm__mem own_mem;
    struct sr_wasm__global **globals; /* [nglobals] */
    struct sr_wasm__global *own_globals;
    uint64_t **elem_items; /* [nelems] evaluated references */
    uint32_t *elem_len;    /* [nelems] 0 once dropped */
    uint8_t *data_dropped; /* [ndatas] */
    struct sr_wasm__exec ex;
    bool ex_ready;
    bool running;
    uint64_t fuel_used;
    sr_wasm_instance *next; /* linker's list */
};

/* Runs code from 'fp' (args in fp[0..)) until the outermost frame returns.
 * Returns SR_WASM_TRAP_NONE or the trap. Registers come from 'inst'. */
sr_wasm_trap sr_wasm__exec(struct sr_wasm__exec *ex, sr_wasm_instance *inst,
                           const struct sr_wasm__func *fn, uint64_t *fp);

/* Grows memory by delta pages, returning the old size in pages or -1. */
int64_t sr_wasm__mem_grow(struct sr_wasm__mem *m, uint32_t delta);
int64_t sr_wasm__table_grow(struct sr_wasm__table *t, uint32_t delta, uint64_t init);
/* Shared by instantiation and the interpreter; return SR_WASM_TRAP_NONE or the trap. */
sr_wasm_trap sr_wasm__table_init(sr_wasm_instance *inst, uint32_t table, uint32_t seg, uint64_t d,
                                 uint64_t s, uint64_t n);
sr_wasm_trap sr_wasm__memory_init(sr_wasm_instance *inst, uint32_t seg, uint64_t d, uint64_t s,
                                  uint64_t n);

/* Fuel charged for one Wasm operator (the documented cost table). */
uint32_t sr_wasm__op_cost(uint32_t opcode);
/* Extra fuel for bulk operations: one unit per 64 bytes or 8 elements moved. */
#define SR_WASM__BULK_BYTES_PER_FUEL 64u
#define SR_WASM__BULK_ELEMS_PER_FUEL 8u
#define SR_WASM__GROW_FUEL_PER_PAGE 16u
/* A call zeroes its callee's declared locals: one unit per 8 of them (64
 * bytes, as for the bulk operations), charged at the callee's entry. */
#define SR_WASM__LOCALS_PER_FUEL 8u

/* SR_ELIMIT for fuel, call depth and value stack traps, SR_ETRAP otherwise. */
sr_status sr_wasm__trap_status(sr_wasm_trap t);
/* True if an out-of-bounds trap of a C or Rust program is its stack in linear
 * memory running out, given global 0 ('sp') and the memory's size in bytes. */
bool sr_wasm__stack_exhausted(const struct sr_wasm_module *m, uint32_t sp, uint64_t mem_size);

/* ---- the native tier (wasm_native.c) ---- */

#define SR_WASM__NATIVE_MAX_IMPORTS 256u /* host functions a native module's glue may name */

/* How a native run ended, beyond the status and err's wording. */
struct sr_wasm__native_end {
    sr_wasm_trap trap;
    uint32_t exit_code;
    bool has_fuel, fuel_exhausted, limit_hit;
    uint64_t fuel_left;
};

/* Runs 'n' (compiled from 'mod' made native by sr_wasm_fuel_instrument_ex)
 * with the host functions imports[0..nimports): its start function, then
 * '_start'. Returns the interpreter's status and wording for the same end. */
sr_status sr_wasm__native_run(const sr_wasm_native *n, const sr_wasm_module *mod,
                              const struct sr_wasi_host_func *imports, size_t nimports,
                              const struct sr_wasm_limits *lim, struct sr_wasm__native_end *end,
                              sr_err *err);

/* The WASI functions (wasm_wasi.c), for the native glue: module, name, sig, fn
 * (ctx NULL). */
size_t sr_wasm__wasi_count(void);
void sr_wasm__wasi_entry(size_t i, struct sr_wasi_host_func *out);

#endif /* SR_WASM_INT_H */
