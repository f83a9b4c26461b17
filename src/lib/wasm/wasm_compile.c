/* SPDX-License-Identifier: MIT
 *
 * wasm_compile.c - validates a function body (the spec's validation
 * algorithm: operand type stack plus control stack) and translates it in the
 * same pass into internal code for wasm_exec.c.
 *
 * Internal code is slot-addressed: every operand stack height has a fixed
 * frame slot (nlocals + height), so instructions name their operands and
 * destination directly and the interpreter never pushes or pops. On top of
 * that:
 *  - local.get is deferred: the stack entry refers to the local's slot until
 *    something could change that local (local.set/tee, block entry);
 *  - an instruction whose result is immediately stored with local.set/tee
 *    writes the local directly;
 *  - an i32/i64 compare followed by br_if or if becomes one fused
 *    compare-and-branch instruction;
 *  - fuel: a FUEL instruction opens every basic block and carries the summed
 *    cost (sr_wasm__op_cost) of the Wasm operators in that block, so the
 *    charge depends only on the Wasm code, never on these optimisations.
 * Unreachable code is validated but not emitted.
 *
 * Linear in the body (issue 9 item 2): each deferred local.get is
 * materialised at most once (per-local chains of the heights that defer it,
 * and a stack of those heights, replace every scan of the operand stack);
 * two or more values move with one COPY_N; a br_table checks and builds one
 * trampoline per distinct label; the scratch buffers of one module's
 * translation are reused from function to function. The work counter
 * (sr_wasm__work) and the cell cap bound what the rest may cost.
 */
#include "wasm_int.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

enum { K_FUNC, K_BLOCK, K_LOOP, K_IF, K_ELSE };

struct ctl {
    uint8_t kind;
    bool unreachable; /* validation: the rest of the block is polymorphic */
    bool dead;        /* emission: the block was entered from dead code */
    uint32_t np, nr;
    const uint8_t *params, *results;
    uint32_t height; /* stack height below the params */
    size_t label;    /* K_LOOP: code index of the loop head */
    int64_t patches; /* chain of forward branches to the end: the last one's cell, or -1 */
    bool has_else_jump;
    size_t else_cell, else_instr;
    uint32_t save;    /* first save slot of an if with params */
    uint32_t checked; /* br_table serial that type-checked this label */
    uint32_t routed;  /* br_table serial that routed this label (tramp, direct) */
    bool direct;      /* that br_table reaches it without moves */
    size_t tramp;     /* else the trampoline it built */
};

/* Declared locals [previous end, end) have type 'type' (params excluded). */
struct run {
    uint32_t end;
    uint8_t type;
};

/* The highest operand height that defers a local.get of this local; valid
 * only while gen is the translation's current one (no reset per function). */
struct lpend {
    uint32_t gen;
    uint32_t head;
};

struct cc {
    struct sr_wasm_module *m;
    struct sr_wasm__code *fn;
    const struct sr_wasm__functype *ft;
    struct sr_wasm__rd r;
    const void *const *ops;
    sr_err *err;
    union sr_wasm__cell *code; /* this function's code; copied out by finish() */
    size_t len, cap;
    size_t max_len;  /* cells the function may have (SR_WASM__CELLS_PER_BYTE) */
    uint8_t *vt;     /* operand types */
    uint32_t *vl;    /* NONE, or the local a deferred local.get refers to */
    uint32_t *vnext; /* deferred: the next lower height deferring the same local, or NONE */
    uint32_t h, hcap, maxh, npending;
    uint32_t *pend; /* heights that deferred a local.get, increasing (some since materialised) */
    uint32_t npend, pendcap;
    struct lpend *lp; /* [lpcap >= nlocals] */
    uint32_t lpcap, gen;
    struct run *runs; /* this function's declared locals */
    uint32_t nruns, runcap;
    uint32_t *depths; /* br_table labels */
    uint32_t depthcap;
    uint32_t serial; /* br_table counter, for struct ctl's checked and routed */
    struct ctl *ctl;
    uint32_t nctl, ctlcap;
    size_t *fix; /* cells holding save-slot numbers, rebased at the end */
    size_t nfix, fixcap;
    uint32_t nsave, maxsave;
    size_t fuel_cell;
    size_t fuel_end;   /* len right after the last FUEL instruction, SIZE_MAX once a label
                          was bound after it (then it must not absorb the next block) */
    size_t block_head; /* where the current basic block starts (its FUEL instruction) */
    size_t last_const; /* start of the last CONST instruction, if it is last */
    size_t last_end;   /* len after the last instruction the peepholes may rewrite */
    size_t last_dst;   /* its destination cell */
    uint32_t last_h;   /* stack height right after it pushed its result: the peepholes fire
                          only while its result is still the top (see fresh_top) */
    size_t last_cmp;   /* start of the last compare instruction, if it is last */
    int last_cmp_op;   /* enum sr_wasm__op of that compare, or -1 */
    size_t last_cmp_k; /* start of the CONST right before that compare giving its second
                          operand, or SIZE_MAX */
};

static const uint8_t one_type[256] = {
    [SR_WASM_I32] = SR_WASM_I32,         [SR_WASM_I64] = SR_WASM_I64,
    [SR_WASM_F32] = SR_WASM_F32,         [SR_WASM_F64] = SR_WASM_F64,
    [SR_WASM_FUNCREF] = SR_WASM_FUNCREF, [SR_WASM_EXTERNREF] = SR_WASM_EXTERNREF,
};

static sr_status
nomem(struct cc *c)
{
    return sr_err_set(c->err, SR_ENOMEM, "out of memory translating a function");
}

static sr_status
mismatch(struct cc *c, const char *what)
{
    return sr_err_set(c->err, SR_EINVAL, "invalid: type mismatch: %s at offset 0x%zx", what,
                      (size_t)(c->r.p - c->r.base));
}

static sr_status
invalid_at(struct cc *c, const char *what, uint32_t index)
{
    return sr_err_set(c->err, SR_EINVAL, "invalid: %s %u at offset 0x%zx", what, index,
                      (size_t)(c->r.p - c->r.base));
}

static bool
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* ---- emission ---------------------------------------------------------------------------- */

static bool
dead(const struct cc *c)
{
    const struct ctl *t = &c->ctl[c->nctl - 1];
    return t->unreachable || t->dead;
}

static sr_status
emit_cell(struct cc *c, union sr_wasm__cell v, size_t *at)
{
    if (c->len >= c->max_len)
        return sr_wasm__invalid(c->err,
                                "function translates to more than %zu cells of internal code "
                                "(%u per byte of its body, the cap)",
                                c->max_len, SR_WASM__CELLS_PER_BYTE);
    if (c->len == c->cap) { /* doubling, but never past what the function may use */
        size_t n = c->cap ? c->cap * 2 : 64;
        n = n < c->max_len ? n : c->max_len;
        union sr_wasm__cell *q = realloc(c->code, n * sizeof(*q));
        if (!q)
            return nomem(c);
        c->code = q;
        c->cap = n;
    }
    if (at)
        *at = c->len;
    c->code[c->len++] = v;
    return SR_OK;
}

static sr_status
emit_op(struct cc *c, int op, size_t *at)
{
    return emit_cell(c, (union sr_wasm__cell){.op = c->ops[op]}, at);
}

static sr_status
emit_u(struct cc *c, uint64_t v)
{
    return emit_cell(c, (union sr_wasm__cell){.u = v}, NULL);
}

/* Emits op with up to 4 operands. */
static sr_status
emit(struct cc *c, int op, int n, uint64_t a, uint64_t b, uint64_t d, uint64_t e)
{
    const uint64_t v[4] = {a, b, d, e};
    sr_status st = emit_op(c, op, NULL);
    for (int i = 0; i < n && st == SR_OK; i++)
        st = emit_u(c, v[i]);
    return st;
}

static uint32_t
own_slot(const struct cc *c, uint32_t height)
{
    return c->fn->nlocals + height;
}

static uint32_t
slot_at(const struct cc *c, uint32_t height)
{
    return c->vl[height] != NONE ? c->vl[height] : own_slot(c, height);
}

static sr_status
emit_copy(struct cc *c, uint32_t d, uint32_t s)
{
    if (d == s)
        return SR_OK;
    return emit(c, SR_WASM__OP_COPY, 2, d, s, 0, 0);
}

static sr_status
emit_save_slot(struct cc *c, uint32_t k)
{
    if (!grow((void **)&c->fix, &c->fixcap, c->nfix + 1, sizeof(*c->fix)))
        return nomem(c);
    c->fix[c->nfix++] = c->len;
    return emit_u(c, k);
}

/* Forgets the last instruction: no peephole may rewrite or remove it any more. Every
 * change of the operand stack that emits nothing (drop, a label) must call this or
 * leave the stack so that fresh_top() fails. */
static void
forget_last(struct cc *c)
{
    c->last_end = SIZE_MAX;
    c->last_cmp_op = -1;
    c->last_const = SIZE_MAX;
    c->last_cmp_k = SIZE_MAX;
}

/* SR_WASM_NO_FUEL is defined only by the benchmark build in bench/wasm, which
 * compiles a second copy of the engine without FUEL instructions to measure
 * what metering costs. Production builds never define it. */
#ifdef SR_WASM_NO_FUEL
static void
charge(struct cc *c, uint32_t op)
{
    (void)c;
    (void)op;
}

static void
charge_locals(struct cc *c)
{
    (void)c;
}

static sr_status
new_block(struct cc *c)
{
    /* A block start stays a barrier for the peepholes, as the FUEL instruction made it. */
    forget_last(c);
    c->block_head = c->len;
    return SR_OK;
}
#else
static void
charge(struct cc *c, uint32_t op)
{
    if (!dead(c))
        c->code[c->fuel_cell].u += sr_wasm__op_cost(op);
}

/* A call zeroes the callee's declared locals: the entry block pays for them
 * as memory.fill pays for bytes (docs/wasm.md "Fuel"). */
static void
charge_locals(struct cc *c)
{
    c->code[c->fuel_cell].u += (c->fn->nlocals - c->fn->nparams) / SR_WASM__LOCALS_PER_FUEL;
}

static sr_status
new_block(struct cc *c)
{
    size_t at = 0;
    if (dead(c))
        return SR_OK;
    if (c->fuel_end == c->len && c->code[c->fuel_cell].u == 0) {
        /* The previous block is empty and nothing branches to its end: every path
         * through its FUEL instruction enters this block next, so that instruction
         * charges this block instead (the same fuel on every path, one dispatch less). */
        c->block_head = c->fuel_cell - 1;
        return SR_OK;
    }
    sr_status st = emit_op(c, SR_WASM__OP_FUEL, &at);
    if (st == SR_OK)
        st = emit_u(c, 0);
    c->fuel_cell = at + 1;
    c->fuel_end = c->len;
    c->block_head = at;
    return st;
}
#endif

/* Marks that the last instruction wrote its result to a fresh own slot, which is now
 * the top of the operand stack. */
static void
note_dst(struct cc *c, size_t dst_cell)
{
    c->last_end = c->len;
    c->last_dst = dst_cell;
    c->last_h = c->h;
    c->last_cmp_op = -1;      /* op_numeric sets it again if this was a compare */
    c->last_const = SIZE_MAX; /* op_const sets it again */
}

/* True if the top of the operand stack is the result of the last instruction emitted,
 * untouched since: nothing emitted or bound after it, the stack exactly as it left it
 * (a drop and a push would give the same height, so the value must also be in its own
 * slot, the one the instruction writes). Every peephole that rewrites, removes or
 * fuses the last instruction with its consumer checks this before popping. */
static bool
fresh_top(const struct cc *c)
{
    return !dead(c) && c->last_end == c->len && c->h == c->last_h &&
           c->h > c->ctl[c->nctl - 1].height && c->vl[c->h - 1] == NONE &&
           c->code[c->last_dst].u == (uint64_t)c->fn->nlocals + c->h - 1;
}

/* ---- operand stack ------------------------------------------------------------------------ */

/* ---- deferred local.get -------------------------------------------------------------------
 *
 * Height i defers local x when vl[i] == x: its value is still in x's slot.
 * The heights deferring x form a chain from lp[x].head down through vnext
 * (highest first: pushes happen at the top), so local.set x finds and
 * materialises exactly those; pend[] lists every deferring height in
 * increasing order for block entries and the top n values. An entry of
 * pend[] whose vl is NONE was materialised through its chain and is dropped
 * when next visited. Every height joins once per local.get and leaves once:
 * the bookkeeping is O(1) amortised per operator. */

static uint32_t
pend_head(const struct cc *c, uint32_t x)
{
    return c->lp[x].gen == c->gen ? c->lp[x].head : NONE;
}

static void
pend_set_head(struct cc *c, uint32_t x, uint32_t i)
{
    c->lp[x] = (struct lpend){.gen = c->gen, .head = i};
}

/* Height i (the top of the stack) now defers local x. */
static sr_status
pend_add(struct cc *c, uint32_t i, uint32_t x)
{
    size_t cap = c->pendcap;
    if (!grow((void **)&c->pend, &cap, (size_t)c->npend + 1, sizeof(*c->pend)))
        return nomem(c);
    c->pendcap = (uint32_t)cap;
    c->vl[i] = x;
    c->vnext[i] = pend_head(c, x);
    pend_set_head(c, x, i);
    c->pend[c->npend++] = i;
    c->npending++;
    return SR_OK;
}

/* Height i, the highest deferring its local, stops deferring. */
static void
pend_unlink_head(struct cc *c, uint32_t i)
{
    pend_set_head(c, c->vl[i], c->vnext[i]);
    c->vl[i] = NONE;
    c->npending--;
}

/* Drops the entries of pend[] at heights >= h (popped ones). */
static void
pend_trim(struct cc *c, uint32_t h)
{
    while (c->npend > 0 && c->pend[c->npend - 1] >= h) {
        c->npend--;
        c->m->work++;
    }
}

/* ---- operand stack ------------------------------------------------------------------------ */

static sr_status
push(struct cc *c, uint8_t t)
{
    c->m->work++;
    if (c->h + 1 > SR_WASM__MAX_FRAME)
        return sr_wasm__invalid(c->err, "operand stack deeper than the cap of %u",
                                SR_WASM__MAX_FRAME);
    if (c->h + 1 > c->hcap) {
        size_t cap1 = c->hcap, cap2 = c->hcap, cap3 = c->hcap;
        if (!grow((void **)&c->vt, &cap1, (size_t)c->h + 1, 1) ||
            !grow((void **)&c->vl, &cap2, (size_t)c->h + 1, sizeof(*c->vl)) ||
            !grow((void **)&c->vnext, &cap3, (size_t)c->h + 1, sizeof(*c->vnext)))
            return nomem(c);
        const size_t cap = cap1 < cap2 ? cap1 : cap2;
        c->hcap = (uint32_t)(cap < cap3 ? cap : cap3);
    }
    c->vt[c->h] = t;
    c->vl[c->h] = NONE;
    c->h++;
    if (c->h > c->maxh)
        c->maxh = c->h;
    return SR_OK;
}

static sr_status
push_local(struct cc *c, uint8_t t, uint32_t x)
{
    sr_status st = push(c, t);
    if (st == SR_OK && !dead(c))
        st = pend_add(c, c->h - 1, x);
    return st;
}

/* Removes the top value (which is above the current block's base). */
static void
drop_top(struct cc *c)
{
    c->h--;
    if (c->vl[c->h] != NONE)
        pend_unlink_head(c, c->h);
    pend_trim(c, c->h);
}

/* Pops a value of type want (0 = any). *t gets the actual type: 0 if unknown
 * (the polymorphic stack of unreachable code). */
static sr_status
pop(struct cc *c, uint8_t want, uint8_t *t, uint32_t *slot)
{
    const struct ctl *top = &c->ctl[c->nctl - 1];
    c->m->work++;
    if (c->h == top->height) {
        if (!top->unreachable)
            return mismatch(c, "operand stack underflow");
        if (t)
            *t = 0;
        if (slot)
            *slot = 0;
        return SR_OK;
    }
    const uint8_t got = c->vt[c->h - 1];
    if (want && got && got != want)
        return mismatch(c, "operand has the wrong type");
    if (slot)
        *slot = slot_at(c, c->h - 1);
    drop_top(c);
    if (t)
        *t = got;
    return SR_OK;
}

/* Copies the deferred local of height i into the height's own slot. */
static sr_status
materialize_copy(struct cc *c, uint32_t i)
{
    c->m->work++;
    return dead(c) ? SR_OK : emit_copy(c, own_slot(c, i), c->vl[i]);
}

/* Materialises every deferred value (at block entry). */
static sr_status
materialize_all(struct cc *c)
{
    sr_status st = SR_OK;
    for (uint32_t k = 0; k < c->npend && st == SR_OK; k++) {
        const uint32_t i = c->pend[k];
        c->m->work++;
        if (c->vl[i] == NONE)
            continue;
        st = materialize_copy(c, i);
        pend_set_head(c, c->vl[i], NONE); /* its whole chain is in pend[] too */
        c->vl[i] = NONE;
        c->npending--;
    }
    c->npend = 0;
    return st;
}

/* Materialises the values that defer local x (before x changes). */
static sr_status
materialize_local(struct cc *c, uint32_t x)
{
    sr_status st = SR_OK;
    for (uint32_t i = pend_head(c, x); i != NONE && st == SR_OK;) {
        const uint32_t next = c->vnext[i];
        st = materialize_copy(c, i);
        c->vl[i] = NONE;
        c->npending--;
        i = next;
    }
    pend_set_head(c, x, NONE);
    return st;
}

/* Materialises the top n values (those of the current block among them). */
static sr_status
materialize_top(struct cc *c, uint32_t n)
{
    const uint32_t base = c->ctl[c->nctl - 1].height;
    const uint32_t from = c->h - base > n ? c->h - n : base;
    sr_status st = SR_OK;
    while (c->npend > 0 && c->pend[c->npend - 1] >= from && st == SR_OK) {
        const uint32_t i = c->pend[c->npend - 1];
        c->m->work++;
        if (c->vl[i] != NONE) { /* the highest of its chain: higher ones were done first */
            st = materialize_copy(c, i);
            pend_unlink_head(c, i);
        }
        c->npend--;
    }
    return st;
}

static sr_status
pop_types(struct cc *c, const uint8_t *types, uint32_t n)
{
    sr_status st = SR_OK;
    for (uint32_t i = n; i-- > 0 && st == SR_OK;)
        st = pop(c, types[i], NULL, NULL);
    return st;
}

static sr_status
push_types(struct cc *c, const uint8_t *types, uint32_t n)
{
    sr_status st = SR_OK;
    for (uint32_t i = 0; i < n && st == SR_OK; i++)
        st = push(c, types[i]);
    return st;
}

/* Checks the top n values against types and leaves them (deferred locals kept). */
static sr_status
check_types(struct cc *c, const uint8_t *types, uint32_t n)
{
    uint32_t saved[16];
    if (n > 16) {
        sr_status st0 = materialize_top(c, n);
        if (st0 != SR_OK)
            return st0;
    }
    const uint32_t h0 = c->h;
    const bool keep = n <= 16 && h0 >= n;
    for (uint32_t i = 0; keep && i < n; i++)
        saved[i] = c->vl[h0 - n + i];
    sr_status st = pop_types(c, types, n);
    if (st == SR_OK)
        st = push_types(c, types, n);
    if (st == SR_OK && keep && c->h == h0 && !dead(c)) {
        for (uint32_t i = 0; i < n && st == SR_OK; i++)
            if (saved[i] != NONE)
                st = pend_add(c, h0 - n + i, saved[i]);
    }
    return st;
}

/* br_table's rule: push_vals(pop_vals(label types)) keeps unknown types unknown. */
static sr_status
check_types_actual(struct cc *c, const uint8_t *types, uint32_t n)
{
    uint8_t got[SR_WASM__MAX_TYPE_ARITY];
    sr_status st = materialize_top(c, n);
    for (uint32_t i = n; i-- > 0 && st == SR_OK;)
        st = pop(c, types[i], &got[i], NULL);
    for (uint32_t i = 0; i < n && st == SR_OK; i++)
        st = push(c, got[i]);
    return st;
}

/* ---- control ------------------------------------------------------------------------------- */

static sr_status
push_ctl(struct cc *c, uint8_t kind, const uint8_t *params, uint32_t np, const uint8_t *results,
         uint32_t nr)
{
    if (c->nctl >= SR_WASM__MAX_BLOCK_DEPTH)
        return sr_wasm__invalid(c->err, "blocks nested deeper than the cap of %u",
                                SR_WASM__MAX_BLOCK_DEPTH);
    size_t cap = c->ctlcap;
    if (!grow((void **)&c->ctl, &cap, (size_t)c->nctl + 1, sizeof(*c->ctl)))
        return nomem(c);
    c->ctlcap = (uint32_t)cap;
    const bool was_dead = c->nctl > 0 && dead(c);
    c->ctl[c->nctl++] = (struct ctl){.kind = kind,
                                     .dead = was_dead,
                                     .np = np,
                                     .nr = nr,
                                     .params = params,
                                     .results = results,
                                     .height = c->h - np,
                                     .patches = -1,
                                     .save = c->nsave};
    return SR_OK;
}

static void
set_unreachable(struct cc *c)
{
    struct ctl *t = &c->ctl[c->nctl - 1];
    while (c->h > t->height) {
        c->m->work++;
        drop_top(c);
    }
    t->unreachable = true;
}

static uint32_t
label_arity(const struct ctl *t, const uint8_t **types)
{
    if (t->kind == K_LOOP) {
        *types = t->params;
        return t->np;
    }
    *types = t->results;
    return t->nr;
}

/* Points the branch cell 'cell' of the instruction at 'instr' to label t. */
static sr_status
set_target(struct cc *c, struct ctl *t, size_t cell, size_t instr)
{
    if (t->kind == K_LOOP) {
        c->code[cell].i = (int64_t)t->label - (int64_t)instr;
        return SR_OK;
    }
    /* Until bound, the branch cell holds the chain itself: the previous
     * patch's cell + 1 (0 ends it) in the high half, the distance back to
     * its instruction in the low half (cells < 2^32: SR_WASM__CELLS_PER_BYTE
     * times SR_MAX_MODULE). */
    c->code[cell].u = ((uint64_t)(t->patches + 1) << 32) | (uint64_t)(cell - instr);
    t->patches = (int64_t)cell;
    return SR_OK;
}

/* The variant of a branch that charges its target's fuel itself, or -1. */
static int
fuel_variant(int op)
{
    if (op >= SR_WASM__OP_BR && op <= SR_WASM__OP_BR_UNLESS)
        return SR_WASM__OP_BR_F + (op - SR_WASM__OP_BR);
    if (op >= SR_WASM__OP_BR_I32_EQ && op <= SR_WASM__OP_BR_I64_GE_U)
        return SR_WASM__OP_BR_I32_EQ_F + (op - SR_WASM__OP_BR_I32_EQ);
    if (op >= SR_WASM__OP_BR_I32_EQ_K && op <= SR_WASM__OP_BR_I32_GE_U_K)
        return SR_WASM__OP_BR_I32_EQ_K_F + (op - SR_WASM__OP_BR_I32_EQ_K);
    return -1;
}

/* True if a branch to loop t may charge the loop head's FUEL itself. Every
 * branch ends a basic block and is charged before it is emitted, so the cost
 * in the head's FUEL cell is final by now (a later block can be merged into
 * a FUEL only while its cost is 0 and nothing follows it). */
static bool
loop_fuel_fusable(const struct cc *c, const struct ctl *t, int op)
{
#ifdef SR_WASM_NO_FUEL
    (void)c;
    (void)t;
    (void)op;
    return false;
#else
    return t->kind == K_LOOP && fuel_variant(op) >= 0 && t->label + 2 <= c->len &&
           c->code[t->label].op == c->ops[SR_WASM__OP_FUEL];
#endif
}

static sr_status
emit_branch(struct cc *c, int op, int nargs, uint64_t a, uint64_t b, struct ctl *t)
{
    size_t instr = 0;
    const bool fuse = loop_fuel_fusable(c, t, op);
    sr_status st = emit_op(c, fuse ? fuel_variant(op) : op, &instr);
    if (st == SR_OK && nargs > 0)
        st = emit_u(c, a);
    if (st == SR_OK && nargs > 1)
        st = emit_u(c, b);
    if (st == SR_OK)
        st = emit_u(c, 0);
    if (st == SR_OK && fuse) { /* [.. t f]: charge f and land after the head's FUEL */
        c->code[c->len - 1].i = (int64_t)t->label + 2 - (int64_t)instr;
        return emit_u(c, c->code[t->label + 1].u);
    }
    if (st == SR_OK)
        st = set_target(c, t, c->len - 1, instr);
    return st;
}

/* Where a label bound now points: the end of the code, or an empty FUEL
 * instruction just before it (equivalent, and that FUEL may then still absorb
 * the next block, see new_block). */
static size_t
label_here(struct cc *c)
{
#ifndef SR_WASM_NO_FUEL
    if (c->fuel_end == c->len && c->code[c->fuel_cell].u == 0)
        return c->fuel_cell - 1;
#endif
    c->fuel_end = SIZE_MAX;
    return c->len;
}

static void
bind_chain(struct cc *c, int64_t p)
{
    while (p >= 0) {
        const uint64_t link = c->code[p].u;
        const size_t instr = (size_t)p - (size_t)(link & 0xffffffffu);
        c->code[p].i = (int64_t)label_here(c) - (int64_t)instr;
        p = (int64_t)(link >> 32) - 1;
    }
    forget_last(c); /* a label: the previous instruction is no longer alone */
}

/* Destination slot of value i when branching to t (function label = return). */
static uint32_t
branch_dst(const struct cc *c, const struct ctl *t, uint32_t i)
{
    return t->kind == K_FUNC ? i : own_slot(c, t->height) + i;
}

static bool
needs_copies(struct cc *c, const struct ctl *t)
{
    const uint8_t *types = NULL;
    const uint32_t n = label_arity(t, &types);
    c->m->work += n;
    for (uint32_t i = 0; i < n; i++)
        if (slot_at(c, c->h - n + i) != branch_dst(c, t, i))
            return true;
    return false;
}

/* Moves n consecutive slots (n >= 2) with one instruction: the cost of a
 * multi-value branch does not grow with its arity. */
static sr_status
emit_move(struct cc *c, uint32_t d, uint32_t a, uint32_t n)
{
    if (d == a)
        return SR_OK;
    return emit(c, SR_WASM__OP_COPY_N, 3, d, a, n, 0);
}

/* Moves the branch values to label t's slots without changing the compile-time
 * stack (the fall-through path still sees it as it was). Two or more values
 * must have been materialised by the caller (before a conditional branch),
 * so that they lie in consecutive own slots. */
static sr_status
emit_branch_copies(struct cc *c, const struct ctl *t)
{
    const uint8_t *types = NULL;
    const uint32_t n = label_arity(t, &types);
    sr_status st = SR_OK;
    const bool to_locals = t->kind == K_FUNC;
    if (n >= 2)
        return emit_move(c, branch_dst(c, t, 0), own_slot(c, c->h - n), n);
    for (uint32_t i = 0; to_locals && i < n && st == SR_OK; i++) {
        const uint32_t k = c->h - n + i;
        if (c->vl[k] != NONE)
            st = emit_copy(c, own_slot(c, k), c->vl[k]);
    }
    for (uint32_t i = 0; i < n && st == SR_OK; i++) {
        const uint32_t k = c->h - n + i;
        st = emit_copy(c, branch_dst(c, t, i), to_locals ? own_slot(c, k) : slot_at(c, k));
    }
    return st;
}

/* Materialises the values a branch to t carries when they are two or more:
 * emitted before the branch, so both paths see them in their own slots. */
static sr_status
prepare_branch(struct cc *c, const struct ctl *t)
{
    const uint8_t *types = NULL;
    const uint32_t n = label_arity(t, &types);
    return n >= 2 ? materialize_top(c, n) : SR_OK;
}

/* Emits an unconditional branch (with its copies) to t. */
static sr_status
emit_jump(struct cc *c, struct ctl *t)
{
    sr_status st = prepare_branch(c, t);
    if (st == SR_OK)
        st = emit_branch_copies(c, t);
    if (st != SR_OK)
        return st;
    if (t->kind == K_FUNC)
        return emit(c, SR_WASM__OP_RET, 0, 0, 0, 0, 0);
    return emit_branch(c, SR_WASM__OP_BR, 0, 0, 0, t);
}

/* ---- conditions and fused compare-and-branch ------------------------------------------------ */

struct cond {
    int op;  /* branch op taken when the condition holds */
    int inv; /* branch op taken when it does not */
    int nargs;
    uint64_t a, b;
};

static int
fused_op(int cmp)
{
    if (cmp >= SR_WASM__OP_I32_EQ && cmp <= SR_WASM__OP_I32_GE_U)
        return SR_WASM__OP_BR_I32_EQ + (cmp - SR_WASM__OP_I32_EQ);
    return SR_WASM__OP_BR_I64_EQ + (cmp - SR_WASM__OP_I64_EQ);
}

static int
inverse_cmp(int cmp)
{
    /* eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u */
    static const int inv[10] = {1, 0, 8, 9, 6, 7, 4, 5, 2, 3};
    const int base = cmp <= SR_WASM__OP_I32_GE_U ? SR_WASM__OP_I32_EQ : SR_WASM__OP_I64_EQ;
    return base + inv[cmp - base];
}

/* Pops the i32 condition; if the instruction just before computed it with a
 * compare, removes that instruction and describes the fused branch. */
static sr_status
pop_cond(struct cc *c, struct cond *out)
{
    uint32_t slot = 0;
    const bool fuse =
        c->last_cmp_op >= 0 && fresh_top(c) && c->code[c->last_cmp + 1].u == own_slot(c, c->h - 1);
    sr_status st = pop(c, SR_WASM_I32, NULL, &slot);
    if (st != SR_OK)
        return st;
    *out =
        (struct cond){.op = SR_WASM__OP_BR_IF, .inv = SR_WASM__OP_BR_UNLESS, .nargs = 1, .a = slot};
    if (!fuse)
        return SR_OK;
    const int cmp = c->last_cmp_op;
    const size_t at = c->last_cmp;
    if (c->last_cmp_k != SIZE_MAX && c->last_cmp_k + 3 == at) {
        /* CONST t k; CMP d a t; br_if  ->  BR_CMP_K a k target */
        const int base = SR_WASM__OP_BR_I32_EQ_K - SR_WASM__OP_I32_EQ;
        *out = (struct cond){.op = base + cmp,
                             .inv = base + inverse_cmp(cmp),
                             .nargs = 2,
                             .a = c->code[at + 2].u,
                             .b = c->code[c->last_cmp_k + 2].u};
        c->len = c->last_cmp_k;
        forget_last(c);
        return SR_OK;
    }
    if (cmp == SR_WASM__OP_I32_EQZ) {
        *out = (struct cond){.op = SR_WASM__OP_BR_UNLESS,
                             .inv = SR_WASM__OP_BR_IF,
                             .nargs = 1,
                             .a = c->code[at + 2].u};
    } else {
        *out = (struct cond){.op = fused_op(cmp),
                             .inv = fused_op(inverse_cmp(cmp)),
                             .nargs = 2,
                             .a = c->code[at + 2].u,
                             .b = c->code[at + 3].u};
    }
    c->len = at;
    forget_last(c);
    return SR_OK;
}

/* ---- immediates ------------------------------------------------------------------------------ */

static sr_status
read_blocktype(struct cc *c, const uint8_t **params, uint32_t *np, const uint8_t **results,
               uint32_t *nr)
{
    const uint8_t b = c->r.p < c->r.end ? *c->r.p : 0;
    *params = *results = NULL;
    *np = *nr = 0;
    if (c->r.p < c->r.end && b == 0x40) {
        c->r.p++;
        return SR_OK;
    }
    if (c->r.p < c->r.end && one_type[b]) {
        c->r.p++;
        *results = &one_type[b];
        *nr = 1;
        return SR_OK;
    }
    int64_t idx = 0;
    sr_status st = sr_wasm__rd_s33(&c->r, &idx);
    if (st != SR_OK)
        return st;
    if (idx < 0 && idx >= -64)
        return sr_wasm__malformed(&c->r, "malformed value type (block type)");
    if (idx < 0 || (uint64_t)idx >= c->m->ntypes)
        return invalid_at(c, "unknown type", (uint32_t)idx);
    const struct sr_wasm__functype *ft = &c->m->types[idx];
    *params = ft->types;
    *np = ft->nparams;
    *results = ft->types + ft->nparams;
    *nr = ft->nresults;
    return SR_OK;
}

static sr_status
read_index(struct cc *c, uint32_t limit, const char *what, uint32_t *x)
{
    sr_status st = sr_wasm__rd_u32(&c->r, x);
    if (st == SR_OK && *x >= limit)
        return invalid_at(c, what, *x);
    return st;
}

static sr_status
zero_byte(struct cc *c)
{
    uint8_t b = 0;
    sr_status st = sr_wasm__rd_u8(&c->r, &b);
    if (st == SR_OK && b != 0)
        return sr_wasm__malformed(&c->r, "zero byte expected");
    return st;
}

/* ---- operators --------------------------------------------------------------------------------
 */

static sr_status
op_block(struct cc *c, uint8_t kind)
{
    const uint8_t *params = NULL, *results = NULL;
    uint32_t np = 0, nr = 0;
    sr_status st = read_blocktype(c, &params, &np, &results, &nr);
    if (st == SR_OK)
        st = check_types(c, params, np);
    if (st == SR_OK)
        st = materialize_all(c);
    if (st == SR_OK)
        st = push_ctl(c, kind, params, np, results, nr);
    if (st == SR_OK && kind == K_LOOP) {
        st = new_block(c);
        c->ctl[c->nctl - 1].label = c->block_head;
        forget_last(c);
    }
    return st;
}

static sr_status
op_if(struct cc *c)
{
    const uint8_t *params = NULL, *results = NULL;
    uint32_t np = 0, nr = 0;
    struct cond cd;
    sr_status st = pop_cond(c, &cd);
    if (st == SR_OK)
        st = read_blocktype(c, &params, &np, &results, &nr);
    if (st == SR_OK)
        st = check_types(c, params, np);
    if (st == SR_OK)
        st = materialize_all(c);
    if (st != SR_OK)
        return st;
    const bool was_dead = dead(c);
    if (!was_dead && np > 0) { /* the else branch needs the params again */
        st = emit_op(c, np == 1 ? SR_WASM__OP_COPY : SR_WASM__OP_COPY_N, NULL);
        if (st == SR_OK)
            st = emit_save_slot(c, c->nsave);
        if (st == SR_OK)
            st = emit_u(c, own_slot(c, c->h - np));
        if (st == SR_OK && np > 1)
            st = emit_u(c, np);
    }
    if (st == SR_OK)
        st = push_ctl(c, K_IF, params, np, results, nr);
    if (st != SR_OK)
        return st;
    struct ctl *t = &c->ctl[c->nctl - 1];
    c->nsave += np;
    if (c->nsave > c->maxsave)
        c->maxsave = c->nsave;
    if (!was_dead) {
        size_t instr = 0;
        st = emit_op(c, cd.inv, &instr);
        for (int i = 0; i < cd.nargs && st == SR_OK; i++)
            st = emit_u(c, i == 0 ? cd.a : cd.b);
        if (st == SR_OK)
            st = emit_u(c, 0);
        t->has_else_jump = true;
        t->else_cell = c->len - 1;
        t->else_instr = instr;
    }
    return st == SR_OK ? new_block(c) : st;
}

static sr_status
op_else(struct cc *c)
{
    struct ctl *t = &c->ctl[c->nctl - 1];
    if (t->kind != K_IF)
        return sr_wasm__malformed(&c->r, "else without if");
    sr_status st = materialize_top(c, t->nr);
    if (st == SR_OK)
        st = pop_types(c, t->results, t->nr);
    if (st == SR_OK && c->h != t->height)
        return mismatch(c, "values left at the end of the then branch");
    if (st == SR_OK && !dead(c))
        st = emit_branch(c, SR_WASM__OP_BR, 0, 0, 0, t);
    if (st != SR_OK)
        return st;
    if (t->has_else_jump) {
        c->code[t->else_cell].i = (int64_t)label_here(c) - (int64_t)t->else_instr;
        t->has_else_jump = false;
    }
    t->kind = K_ELSE;
    t->unreachable = false;
    st = push_types(c, t->params, t->np);
    if (st == SR_OK && t->np > 0 && !t->dead) {
        st = emit(c, t->np == 1 ? SR_WASM__OP_COPY : SR_WASM__OP_COPY_N, 1, own_slot(c, t->height),
                  0, 0, 0);
        if (st == SR_OK)
            st = emit_save_slot(c, t->save);
        if (st == SR_OK && t->np > 1)
            st = emit_u(c, t->np);
    }
    forget_last(c);
    return st == SR_OK ? new_block(c) : st;
}

static sr_status
op_end(struct cc *c)
{
    struct ctl *t = &c->ctl[c->nctl - 1];
    sr_status st = SR_OK;
    if (t->kind == K_FUNC) {
        if ((st = check_types(c, t->results, t->nr)) != SR_OK)
            return st;
        if (c->h != t->height + t->nr)
            return mismatch(c, "values left at the end of the function");
        if (!dead(c))
            st = emit_jump(c, t);
        c->nctl--;
        return st;
    }
    st = materialize_top(c, t->nr);
    if (st == SR_OK)
        st = pop_types(c, t->results, t->nr);
    if (st != SR_OK)
        return st;
    if (c->h != t->height)
        return mismatch(c, "values left at the end of a block");
    if (t->kind == K_IF &&
        (t->np != t->nr || (t->np > 0 && memcmp(t->params, t->results, t->np) != 0)))
        return mismatch(c, "if without else must leave the same types as it takes");
    if (t->has_else_jump) {
        c->code[t->else_cell].i = (int64_t)label_here(c) - (int64_t)t->else_instr;
    }
    bind_chain(c, t->patches);
    c->nsave = t->save;
    const uint8_t *results = t->results;
    const uint32_t nr = t->nr;
    c->nctl--;
    st = push_types(c, results, nr);
    return st == SR_OK ? new_block(c) : st;
}

static sr_status
read_label(struct cc *c, struct ctl **t)
{
    uint32_t depth = 0;
    sr_status st = sr_wasm__rd_u32(&c->r, &depth);
    if (st != SR_OK)
        return st;
    if (depth >= c->nctl)
        return invalid_at(c, "unknown label", depth);
    *t = &c->ctl[c->nctl - 1 - depth];
    return SR_OK;
}

static sr_status
op_br(struct cc *c)
{
    struct ctl *t = NULL;
    const uint8_t *types = NULL;
    sr_status st = read_label(c, &t);
    if (st != SR_OK)
        return st;
    const uint32_t n = label_arity(t, &types);
    if ((st = check_types(c, types, n)) != SR_OK)
        return st;
    if (!dead(c) && (st = emit_jump(c, t)) != SR_OK)
        return st;
    set_unreachable(c);
    return SR_OK;
}

static sr_status
emit_cond_branch(struct cc *c, const struct cond *cd, int op, struct ctl *t)
{
    return emit_branch(c, op, cd->nargs, cd->a, cd->b, t);
}

static sr_status
op_br_if(struct cc *c)
{
    struct ctl *t = NULL;
    const uint8_t *types = NULL;
    struct cond cd;
    sr_status st = read_label(c, &t);
    if (st == SR_OK)
        st = pop_cond(c, &cd);
    if (st != SR_OK)
        return st;
    const uint32_t n = label_arity(t, &types);
    if ((st = check_types(c, types, n)) != SR_OK || dead(c))
        return st;
    if ((st = prepare_branch(c, t)) != SR_OK)
        return st;
    if (t->kind != K_FUNC && !needs_copies(c, t)) {
        st = emit_cond_branch(c, &cd, cd.op, t);
    } else {
        /* skip over the copies when the condition does not hold */
        struct ctl skip = {.kind = K_BLOCK, .patches = -1};
        st = emit_cond_branch(c, &cd, cd.inv, &skip);
        if (st == SR_OK)
            st = emit_jump(c, t);
        if (st == SR_OK)
            bind_chain(c, skip.patches);
    }
    return st == SR_OK ? new_block(c) : st;
}

/* Type-checks br_table's labels. Checking pops the label's types and pushes
 * back what it found, which leaves the stack as it was: a label (or a run of
 * labels of the same types) is checked once, not once per target. */
static sr_status
br_table_check(struct cc *c, uint32_t n, uint32_t serial)
{
    const uint8_t *dtypes = NULL;
    const uint32_t arity = label_arity(&c->ctl[c->nctl - 1 - c->depths[n]], &dtypes);
    const uint8_t *last = NULL;
    sr_status st = SR_OK;
    for (uint32_t i = 0; i <= n && st == SR_OK; i++) {
        struct ctl *t = &c->ctl[c->nctl - 1 - c->depths[i]];
        const uint8_t *types = NULL;
        c->m->work++;
        if (label_arity(t, &types) != arity)
            return mismatch(c, "br_table labels have different arities");
        if (t->checked == serial || (i > 0 && types == last))
            continue;
        t->checked = serial;
        last = types;
        st = check_types_actual(c, types, arity);
        if (st == SR_OK)
            st = sr_wasm__work(c->m, 0, c->err);
    }
    return st;
}

/* Emits the table; each label that needs its values moved gets one
 * trampoline (moves + jump) shared by all the targets naming it. */
static sr_status
br_table_emit(struct cc *c, uint32_t n, uint32_t slot, uint32_t serial)
{
    sr_status st = emit(c, SR_WASM__OP_BR_TABLE, 2, slot, n, 0, 0);
    const size_t instr = c->len - 3;
    for (uint32_t i = 0; i <= n && st == SR_OK; i++)
        st = emit_u(c, 0);
    for (uint32_t i = 0; i <= n && st == SR_OK; i++) {
        struct ctl *t = &c->ctl[c->nctl - 1 - c->depths[i]];
        const size_t cell = instr + 3 + i;
        if (t->routed != serial) {
            t->routed = serial;
            t->direct = t->kind != K_FUNC && !needs_copies(c, t);
            t->tramp = c->len;
            if (!t->direct)
                st = emit_jump(c, t);
        }
        if (st == SR_OK && t->direct)
            st = set_target(c, t, cell, instr);
        else if (st == SR_OK)
            c->code[cell].i = (int64_t)t->tramp - (int64_t)instr;
    }
    return st;
}

static sr_status
op_br_table(struct cc *c)
{
    uint32_t n = 0, slot = 0;
    sr_status st = sr_wasm__rd_count(&c->r, SR_WASM__MAX_BR_TABLE, 1, "labels of one br_table", &n);
    if (st != SR_OK)
        return st;
    size_t cap = c->depthcap;
    if (!grow((void **)&c->depths, &cap, (size_t)n + 1, sizeof(*c->depths)))
        return nomem(c);
    c->depthcap = (uint32_t)cap;
    for (uint32_t i = 0; i <= n && st == SR_OK; i++) {
        st = sr_wasm__rd_u32(&c->r, &c->depths[i]);
        if (st == SR_OK && c->depths[i] >= c->nctl)
            st = invalid_at(c, "unknown label", c->depths[i]);
    }
    if (st == SR_OK)
        st = pop(c, SR_WASM_I32, NULL, &slot);
    const uint32_t serial = ++c->serial;
    if (st == SR_OK)
        st = br_table_check(c, n, serial);
    if (st == SR_OK && !dead(c))
        st = br_table_emit(c, n, slot, serial);
    if (st == SR_OK)
        set_unreachable(c);
    return st;
}

static sr_status
op_return(struct cc *c)
{
    struct ctl *t = &c->ctl[0];
    sr_status st = check_types(c, t->results, t->nr);
    if (st == SR_OK && !dead(c))
        st = emit_jump(c, t);
    if (st == SR_OK)
        set_unreachable(c);
    return st;
}

/* Pops call arguments into consecutive own slots; *base is the first one. */
static sr_status
pop_args(struct cc *c, const struct sr_wasm__functype *ft, uint32_t *base)
{
    sr_status st = materialize_top(c, ft->nparams);
    if (st == SR_OK)
        st = pop_types(c, ft->types, ft->nparams);
    *base = own_slot(c, c->h);
    return st;
}

static sr_status
op_call(struct cc *c)
{
    uint32_t f = 0, base = 0;
    sr_status st = read_index(c, c->m->nfuncs, "unknown function", &f);
    if (st != SR_OK)
        return st;
    const struct sr_wasm__functype *ft = &c->m->types[c->m->func_types[f]];
    if ((st = pop_args(c, ft, &base)) != SR_OK)
        return st;
    if (!dead(c)) {
        if (f >= c->m->nfunc_imports) {
            st = emit_op(c, SR_WASM__OP_CALL, NULL);
            if (st == SR_OK)
                st = emit_cell(
                    c, (union sr_wasm__cell){.code = &c->m->codes[f - c->m->nfunc_imports]}, NULL);
            if (st == SR_OK)
                st = emit_u(c, base);
        } else {
            st = emit(c, SR_WASM__OP_CALL_FUNC, 2, f, base, 0, 0);
        }
    }
    return st == SR_OK ? push_types(c, ft->types + ft->nparams, ft->nresults) : st;
}

static sr_status
op_call_indirect(struct cc *c)
{
    uint32_t type = 0, table = 0, slot = 0, base = 0;
    sr_status st = read_index(c, c->m->ntypes, "unknown type", &type);
    if (st == SR_OK)
        st = read_index(c, c->m->ntables, "unknown table", &table);
    if (st != SR_OK)
        return st;
    if (c->m->tables[table].type != SR_WASM_FUNCREF)
        return mismatch(c, "call_indirect through a table that is not funcref");
    const struct sr_wasm__functype *ft = &c->m->types[type];
    if ((st = pop(c, SR_WASM_I32, NULL, &slot)) != SR_OK)
        return st;
    if ((st = pop_args(c, ft, &base)) != SR_OK)
        return st;
    if (!dead(c))
        st = emit(c, SR_WASM__OP_CALL_INDIRECT, 4, table, type, slot, base);
    return st == SR_OK ? push_types(c, ft->types + ft->nparams, ft->nresults) : st;
}

/* Pushes a result of type t and emits op d, operands. */
static sr_status
emit_result(struct cc *c, int op, uint8_t t, int n, uint64_t a, uint64_t b, uint64_t k)
{
    sr_status st = push(c, t);
    if (st != SR_OK || dead(c))
        return st;
    const uint32_t d = own_slot(c, c->h - 1);
    size_t instr = 0;
    st = emit_op(c, op, &instr);
    if (st == SR_OK)
        st = emit_u(c, d);
    for (int i = 0; i < n && st == SR_OK; i++)
        st = emit_u(c, i == 0 ? a : i == 1 ? b : k);
    note_dst(c, instr + 1);
    return st;
}

/* The type of local x (< nlocals): a parameter, or a binary search of the
 * declared runs. */
static uint8_t
local_type(const struct cc *c, uint32_t x)
{
    if (x < c->fn->nparams)
        return c->ft->types[x];
    uint32_t lo = 0, hi = c->nruns - 1; /* x < nlocals = runs[nruns - 1].end */
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (c->runs[mid].end > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return c->runs[lo].type;
}

/* Reads the function's local declarations (checked by wasm_parse.c) into
 * runs, merging neighbours of one type. */
static sr_status
read_locals(struct cc *c)
{
    struct sr_wasm__rd r = {.p = c->fn->locals, .end = c->fn->body, .base = c->m->bytes};
    uint32_t end = c->fn->nparams;
    c->nruns = 0;
    for (uint32_t g = 0; g < c->fn->ngroups; g++) {
        uint32_t cnt = 0;
        uint8_t t = 0;
        (void)sr_wasm__rd_u32(&r, &cnt);
        (void)sr_wasm__rd_u8(&r, &t);
        if (cnt == 0)
            continue;
        end += cnt;
        if (c->nruns > 0 && c->runs[c->nruns - 1].type == t) {
            c->runs[c->nruns - 1].end = end;
            continue;
        }
        size_t cap = c->runcap;
        if (!grow((void **)&c->runs, &cap, (size_t)c->nruns + 1, sizeof(*c->runs)))
            return nomem(c);
        c->runcap = (uint32_t)cap;
        c->runs[c->nruns++] = (struct run){.end = end, .type = t};
    }
    return SR_OK;
}

static sr_status
op_local_set(struct cc *c, bool tee)
{
    uint32_t x = 0, slot = 0;
    uint8_t t = 0;
    sr_status st = read_index(c, c->fn->nlocals, "unknown local", &x);
    if (st != SR_OK)
        return st;
    const uint8_t lt = local_type(c, x);
    const bool fresh = fresh_top(c); /* before pop: the top is the last instruction's result */
    if ((st = pop(c, lt, &t, &slot)) != SR_OK)
        return st;
    if (!dead(c)) {
        const bool pending = pend_head(c, x) != NONE;
        if (fresh && !pending) {
            c->code[c->last_dst].u = x; /* the producer writes the local directly */
        } else {
            st = materialize_local(c, x);
            if (st == SR_OK)
                st = emit_copy(c, x, slot);
        }
        forget_last(c);
    }
    if (st == SR_OK && tee)
        st = push_local(c, lt, x);
    return st;
}

static sr_status
op_global(struct cc *c, bool set)
{
    uint32_t g = 0, slot = 0;
    sr_status st = read_index(c, c->m->nglobals, "unknown global", &g);
    if (st != SR_OK)
        return st;
    const struct sr_wasm__global_def *gd = &c->m->globals[g];
    if (!set)
        return emit_result(c, SR_WASM__OP_GLOBAL_GET, gd->type, 1, g, 0, 0);
    if (!gd->mut)
        return sr_wasm__invalid(c->err, "global is immutable: global.set %u", g);
    if ((st = pop(c, gd->type, NULL, &slot)) != SR_OK || dead(c))
        return st;
    return emit(c, SR_WASM__OP_GLOBAL_SET, 2, g, slot, 0, 0);
}

static sr_status
read_memarg(struct cc *c, uint32_t natural_log2, uint32_t *offset)
{
    uint32_t align = 0;
    sr_status st = sr_wasm__rd_u32(&c->r, &align);
    if (st == SR_OK)
        st = sr_wasm__rd_u32(&c->r, offset);
    if (st != SR_OK)
        return st;
    if (c->m->nmems == 0)
        return invalid_at(c, "unknown memory", 0);
    if (align > natural_log2)
        return sr_wasm__invalid(c->err, "alignment must not be larger than natural (2^%u > %u)",
                                align < 32 ? align : 31, 1u << natural_log2);
    return SR_OK;
}

static sr_status
op_load(struct cc *c, uint8_t op)
{
    static const uint8_t rt[14] = {0x7f, 0x7e, 0x7d, 0x7c, 0x7f, 0x7f, 0x7f,
                                   0x7f, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e};
    static const uint8_t lg[14] = {2, 3, 2, 3, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2};
    const int i = op - 0x28;
    uint32_t off = 0, a = 0;
    sr_status st = read_memarg(c, lg[i], &off);
    if (st == SR_OK)
        st = pop(c, SR_WASM_I32, NULL, &a);
    if (st != SR_OK)
        return st;
    return emit_result(c, SR_WASM__OP_I32_LOAD + i, rt[i], 2, a, off, 0);
}

static sr_status
op_store(struct cc *c, uint8_t op)
{
    static const uint8_t vt[9] = {0x7f, 0x7e, 0x7d, 0x7c, 0x7f, 0x7f, 0x7e, 0x7e, 0x7e};
    static const uint8_t lg[9] = {2, 3, 2, 3, 0, 1, 0, 1, 2};
    const int i = op - 0x36;
    uint32_t off = 0, a = 0, v = 0;
    sr_status st = read_memarg(c, lg[i], &off);
    if (st == SR_OK)
        st = pop(c, vt[i], NULL, &v);
    if (st == SR_OK)
        st = pop(c, SR_WASM_I32, NULL, &a);
    if (st != SR_OK || dead(c))
        return st;
    return emit(c, SR_WASM__OP_I32_STORE + i, 3, a, v, off, 0);
}

static sr_status
op_memory_sizegrow(struct cc *c, bool grow_op)
{
    uint32_t a = 0;
    sr_status st = zero_byte(c);
    if (st != SR_OK)
        return st;
    if (c->m->nmems == 0)
        return invalid_at(c, "unknown memory", 0);
    if (!grow_op)
        return emit_result(c, SR_WASM__OP_MEMORY_SIZE, SR_WASM_I32, 0, 0, 0, 0);
    if ((st = pop(c, SR_WASM_I32, NULL, &a)) != SR_OK)
        return st;
    return emit_result(c, SR_WASM__OP_MEMORY_GROW, SR_WASM_I32, 1, a, 0, 0);
}

static sr_status
op_const(struct cc *c, uint8_t op)
{
    const uint8_t *p = NULL;
    int32_t v32 = 0;
    int64_t v64 = 0;
    sr_status st = SR_OK;
    uint64_t bits = 0;
    switch (op) {
    case 0x41:
        st = sr_wasm__rd_s32(&c->r, &v32);
        bits = (uint32_t)v32;
        break;
    case 0x42:
        st = sr_wasm__rd_s64(&c->r, &v64);
        bits = (uint64_t)v64;
        break;
    default:
        st = sr_wasm__rd_bytes(&c->r, op == 0x43 ? 4 : 8, &p);
        if (st == SR_OK)
            memcpy(&bits, p, op == 0x43 ? 4 : 8);
        break;
    }
    if (st != SR_OK)
        return st;
    static const uint8_t types[4] = {0x7f, 0x7e, 0x7d, 0x7c};
    const size_t start = c->len;
    st = emit_result(c, SR_WASM__OP_CONST, types[op - 0x41], 1, bits, 0, 0);
    if (st == SR_OK && !dead(c))
        c->last_const = start; /* op_numeric may fold it into the next operator */
    return st;
}

/* Operand and result types of the numeric operators 0x45..0xc4. */
static void
numeric_sig(uint8_t op, uint8_t *in1, uint8_t *in2, uint8_t *out)
{
    static const struct {
        uint8_t lo, hi, in1, in2, out;
    } sig[] = {
        {0x45, 0x45, 0x7f, 0, 0x7f},    {0x46, 0x4f, 0x7f, 0x7f, 0x7f},
        {0x50, 0x50, 0x7e, 0, 0x7f},    {0x51, 0x5a, 0x7e, 0x7e, 0x7f},
        {0x5b, 0x60, 0x7d, 0x7d, 0x7f}, {0x61, 0x66, 0x7c, 0x7c, 0x7f},
        {0x67, 0x69, 0x7f, 0, 0x7f},    {0x6a, 0x78, 0x7f, 0x7f, 0x7f},
        {0x79, 0x7b, 0x7e, 0, 0x7e},    {0x7c, 0x8a, 0x7e, 0x7e, 0x7e},
        {0x8b, 0x91, 0x7d, 0, 0x7d},    {0x92, 0x98, 0x7d, 0x7d, 0x7d},
        {0x99, 0x9f, 0x7c, 0, 0x7c},    {0xa0, 0xa6, 0x7c, 0x7c, 0x7c},
        {0xa7, 0xa7, 0x7e, 0, 0x7f},    {0xa8, 0xa9, 0x7d, 0, 0x7f},
        {0xaa, 0xab, 0x7c, 0, 0x7f},    {0xac, 0xad, 0x7f, 0, 0x7e},
        {0xae, 0xaf, 0x7d, 0, 0x7e},    {0xb0, 0xb1, 0x7c, 0, 0x7e},
        {0xb2, 0xb3, 0x7f, 0, 0x7d},    {0xb4, 0xb5, 0x7e, 0, 0x7d},
        {0xb6, 0xb6, 0x7c, 0, 0x7d},    {0xb7, 0xb8, 0x7f, 0, 0x7c},
        {0xb9, 0xba, 0x7e, 0, 0x7c},    {0xbb, 0xbb, 0x7d, 0, 0x7c},
        {0xbc, 0xbc, 0x7d, 0, 0x7f},    {0xbd, 0xbd, 0x7c, 0, 0x7e},
        {0xbe, 0xbe, 0x7f, 0, 0x7d},    {0xbf, 0xbf, 0x7e, 0, 0x7c},
        {0xc0, 0xc1, 0x7f, 0, 0x7f},    {0xc2, 0xc4, 0x7e, 0, 0x7e},
    };
    for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++) {
        if (op >= sig[i].lo && op <= sig[i].hi) {
            *in1 = sig[i].in1;
            *in2 = sig[i].in2;
            *out = sig[i].out;
            return;
        }
    }
}

static bool
is_fusable_cmp(int op)
{
    return op == SR_WASM__OP_I32_EQZ || (op >= SR_WASM__OP_I32_EQ && op <= SR_WASM__OP_I32_GE_U) ||
           (op >= SR_WASM__OP_I64_EQ && op <= SR_WASM__OP_I64_GE_U);
}

/* The [d a k] variant of a binary operator, or -1. */
static int
const_variant(int iop)
{
    static const struct {
        int op, k;
    } map[] = {
        {SR_WASM__OP_I32_ADD, SR_WASM__OP_I32_ADD_K},
        {SR_WASM__OP_I32_SUB, SR_WASM__OP_I32_SUB_K},
        {SR_WASM__OP_I32_AND, SR_WASM__OP_I32_AND_K},
        {SR_WASM__OP_I32_OR, SR_WASM__OP_I32_OR_K},
        {SR_WASM__OP_I32_XOR, SR_WASM__OP_I32_XOR_K},
        {SR_WASM__OP_I32_SHL, SR_WASM__OP_I32_SHL_K},
        {SR_WASM__OP_I32_SHR_S, SR_WASM__OP_I32_SHR_S_K},
        {SR_WASM__OP_I32_SHR_U, SR_WASM__OP_I32_SHR_U_K},
        {SR_WASM__OP_I32_MUL, SR_WASM__OP_I32_MUL_K},
        {SR_WASM__OP_I64_ADD, SR_WASM__OP_I64_ADD_K},
        {SR_WASM__OP_I64_SUB, SR_WASM__OP_I64_SUB_K},
        {SR_WASM__OP_I64_AND, SR_WASM__OP_I64_AND_K},
        {SR_WASM__OP_I64_OR, SR_WASM__OP_I64_OR_K},
        {SR_WASM__OP_I64_XOR, SR_WASM__OP_I64_XOR_K},
        {SR_WASM__OP_I64_SHL, SR_WASM__OP_I64_SHL_K},
        {SR_WASM__OP_I64_SHR_S, SR_WASM__OP_I64_SHR_S_K},
        {SR_WASM__OP_I64_SHR_U, SR_WASM__OP_I64_SHR_U_K},
        {SR_WASM__OP_I64_MUL, SR_WASM__OP_I64_MUL_K},
        {SR_WASM__OP_I32_ROTL, SR_WASM__OP_I32_ROTL_K},
        {SR_WASM__OP_I32_ROTR, SR_WASM__OP_I32_ROTR_K},
        {SR_WASM__OP_I64_ROTL, SR_WASM__OP_I64_ROTL_K},
        {SR_WASM__OP_I64_ROTR, SR_WASM__OP_I64_ROTR_K},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].op == iop)
            return map[i].k;
    return -1;
}

/* True if the top operand was produced by the CONST that is the last
 * instruction (no label since), so a consumer may take the constant instead. */
static bool
top_is_last_const(const struct cc *c)
{
    return c->last_const != SIZE_MAX && c->last_const + 3 == c->len && fresh_top(c);
}

static sr_status
op_numeric(struct cc *c, uint8_t op)
{
    uint8_t in1 = 0, in2 = 0, out = 0;
    uint32_t a = 0, b = 0;
    numeric_sig(op, &in1, &in2, &out);
    const int iop = op - 0x45;
    const bool kconst = in2 && top_is_last_const(c);
    const size_t kat = c->last_const;
    /* CMP d x y; EQZ d d  ->  the inverse CMP (integer compares invert exactly) */
    const bool invert =
        iop == SR_WASM__OP_I32_EQZ && c->last_cmp_op > SR_WASM__OP_I32_EQZ && fresh_top(c);
    sr_status st = SR_OK;
    if (in2)
        st = pop(c, in2, NULL, &b);
    if (st == SR_OK)
        st = pop(c, in1, NULL, &a);
    if (st != SR_OK)
        return st;
    if (invert) {
        c->last_cmp_op = inverse_cmp(c->last_cmp_op);
        c->code[c->last_cmp].op = c->ops[c->last_cmp_op];
        return push(c, SR_WASM_I32);
    }
    const int kop = kconst ? const_variant(iop) : -1;
    if (kop >= 0) { /* CONST t k; OP d a t  ->  OP_K d a k */
        const uint64_t k = c->code[kat + 2].u;
        c->len = kat;
        return emit_result(c, kop, out, 2, a, k, 0);
    }
    const bool reinterpret = op >= 0xbc && op <= 0xbf;
    const size_t start = c->len;
    st = emit_result(c, reinterpret ? SR_WASM__OP_COPY : iop, out, in2 ? 2 : 1, a, b, 0);
    if (st == SR_OK && !dead(c) && is_fusable_cmp(iop)) {
        c->last_cmp = start;
        c->last_cmp_op = iop;
        c->last_cmp_k =
            kconst && iop >= SR_WASM__OP_I32_EQ && iop <= SR_WASM__OP_I32_GE_U ? kat : SIZE_MAX;
    }
    return st;
}

static sr_status
op_select(struct cc *c, bool typed)
{
    uint8_t t1 = 0, t2 = 0;
    uint32_t a = 0, b = 0, cond = 0;
    sr_status st = SR_OK;
    if (typed) {
        uint32_t n = 0;
        if ((st = sr_wasm__rd_u32(&c->r, &n)) != SR_OK)
            return st;
        if (n != 1)
            return sr_wasm__invalid(c->err, "invalid result arity %u for select", n);
        if ((st = sr_wasm__rd_u8(&c->r, &t1)) != SR_OK)
            return st;
        if (!one_type[t1])
            return sr_wasm__malformed(&c->r, "malformed value type");
        t2 = t1;
    }
    const uint8_t declared = t1;
    if ((st = pop(c, SR_WASM_I32, NULL, &cond)) != SR_OK || (st = pop(c, t1, &t1, &b)) != SR_OK ||
        (st = pop(c, t2, &t2, &a)) != SR_OK)
        return st;
    if (typed) {
        t1 = declared;
    } else {
        if ((t1 == SR_WASM_FUNCREF || t1 == SR_WASM_EXTERNREF) ||
            (t2 == SR_WASM_FUNCREF || t2 == SR_WASM_EXTERNREF))
            return mismatch(c, "select without a type needs numeric operands");
        if (t1 && t2 && t1 != t2)
            return mismatch(c, "select operands differ");
        t1 = t1 ? t1 : t2;
    }
    return emit_result(c, SR_WASM__OP_SELECT, t1, 3, a, b, cond);
}

static sr_status
need_datacount(struct cc *c, uint32_t *x)
{
    sr_status st = sr_wasm__rd_u32(&c->r, x);
    if (st != SR_OK)
        return st;
    if (!c->m->has_datacount)
        return sr_wasm__malformed(&c->r, "data count section required");
    if (*x >= c->m->datacount)
        return invalid_at(c, "unknown data segment", *x);
    return SR_OK;
}

static sr_status
pop3(struct cc *c, uint8_t t1, uint8_t t2, uint8_t t3, uint32_t *a, uint32_t *b, uint32_t *d)
{
    sr_status st = pop(c, t3, NULL, d);
    if (st == SR_OK)
        st = pop(c, t2, NULL, b);
    if (st == SR_OK)
        st = pop(c, t1, NULL, a);
    return st;
}

static sr_status
op_memory_bulk(struct cc *c, uint32_t sub)
{
    uint32_t x = 0, d = 0, s = 0, n = 0;
    sr_status st = SR_OK;
    if (sub == 8 || sub == 9) {
        if ((st = need_datacount(c, &x)) != SR_OK)
            return st;
        if (sub == 9)
            return dead(c) ? SR_OK : emit(c, SR_WASM__OP_DATA_DROP, 1, x, 0, 0, 0);
    }
    if ((st = zero_byte(c)) != SR_OK)
        return st;
    if (sub == 10 && (st = zero_byte(c)) != SR_OK)
        return st;
    if (c->m->nmems == 0)
        return invalid_at(c, "unknown memory", 0);
    if ((st = pop3(c, SR_WASM_I32, SR_WASM_I32, SR_WASM_I32, &d, &s, &n)) != SR_OK || dead(c))
        return st;
    if (sub == 8) {
        st = emit(c, SR_WASM__OP_MEMORY_INIT, 4, x, d, s, n);
    } else {
        st = emit(c, sub == 10 ? SR_WASM__OP_MEMORY_COPY : SR_WASM__OP_MEMORY_FILL, 3, d, s, n, 0);
    }
    return st;
}

static sr_status
op_table_init_copy(struct cc *c, uint32_t sub)
{
    uint32_t x = 0, y = 0, d = 0, s = 0, n = 0;
    sr_status st;
    uint8_t dst_type, src_type;
    if (sub == 12) {
        if ((st = read_index(c, c->m->nelems, "unknown elem segment", &y)) != SR_OK ||
            (st = read_index(c, c->m->ntables, "unknown table", &x)) != SR_OK)
            return st;
        dst_type = c->m->tables[x].type;
        src_type = c->m->elems[y].type;
    } else {
        if ((st = read_index(c, c->m->ntables, "unknown table", &x)) != SR_OK ||
            (st = read_index(c, c->m->ntables, "unknown table", &y)) != SR_OK)
            return st;
        dst_type = c->m->tables[x].type;
        src_type = c->m->tables[y].type;
    }
    if (dst_type != src_type)
        return mismatch(c, "table and segment element types differ");
    if ((st = pop3(c, SR_WASM_I32, SR_WASM_I32, SR_WASM_I32, &d, &s, &n)) != SR_OK || dead(c))
        return st;
    st = emit(c, sub == 12 ? SR_WASM__OP_TABLE_INIT : SR_WASM__OP_TABLE_COPY, 4, x, y, d, s);
    return st == SR_OK ? emit_u(c, n) : st;
}

static sr_status
op_table_misc(struct cc *c, uint32_t sub)
{
    uint32_t x = 0, a = 0, b = 0, n = 0;
    sr_status st = read_index(c, c->m->ntables, "unknown table", &x);
    if (st != SR_OK)
        return st;
    const uint8_t tt = c->m->tables[x].type;
    switch (sub) {
    case 15: /* table.grow */
        if ((st = pop(c, SR_WASM_I32, NULL, &n)) != SR_OK || (st = pop(c, tt, NULL, &a)))
            return st;
        return emit_result(c, SR_WASM__OP_TABLE_GROW, SR_WASM_I32, 3, x, a, n);
    case 16: /* table.size */
        return emit_result(c, SR_WASM__OP_TABLE_SIZE, SR_WASM_I32, 1, x, 0, 0);
    case 17: /* table.fill */
        if ((st = pop3(c, SR_WASM_I32, tt, SR_WASM_I32, &a, &b, &n)) != SR_OK || dead(c))
            return st;
        return emit(c, SR_WASM__OP_TABLE_FILL, 4, x, a, b, n);
    case 0x25: /* table.get */
        if ((st = pop(c, SR_WASM_I32, NULL, &a)) != SR_OK)
            return st;
        return emit_result(c, SR_WASM__OP_TABLE_GET, tt, 2, x, a, 0);
    default: /* table.set */
        if ((st = pop(c, tt, NULL, &b)) != SR_OK || (st = pop(c, SR_WASM_I32, NULL, &a)))
            return st;
        return dead(c) ? SR_OK : emit(c, SR_WASM__OP_TABLE_SET, 3, x, a, b, 0);
    }
}

static sr_status
op_prefixed(struct cc *c)
{
    uint32_t sub = 0, x = 0, a = 0;
    sr_status st = sr_wasm__rd_u32(&c->r, &sub);
    if (st != SR_OK)
        return st;
    charge(c, 0xfc00u | (sub & 0xffu));
    if (sub <= 7) {
        static const uint8_t in[8] = {0x7d, 0x7d, 0x7c, 0x7c, 0x7d, 0x7d, 0x7c, 0x7c};
        if ((st = pop(c, in[sub], NULL, &a)) != SR_OK)
            return st;
        return emit_result(c, SR_WASM__OP_I32_TRUNC_SAT_F32_S + (int)sub,
                           sub < 4 ? SR_WASM_I32 : SR_WASM_I64, 1, a, 0, 0);
    }
    switch (sub) {
    case 8:
    case 9:
    case 10:
    case 11:
        return op_memory_bulk(c, sub);
    case 12:
    case 14:
        return op_table_init_copy(c, sub);
    case 13:
        if ((st = read_index(c, c->m->nelems, "unknown elem segment", &x)) != SR_OK || dead(c))
            return st;
        return emit(c, SR_WASM__OP_ELEM_DROP, 1, x, 0, 0, 0);
    case 15:
    case 16:
    case 17:
        return op_table_misc(c, sub);
    default:
        return sr_err_set(c->err, SR_EINVAL, "malformed: illegal opcode 0xfc %u at offset 0x%zx",
                          sub, (size_t)(c->r.p - c->r.base));
    }
}

static sr_status
op_ref(struct cc *c, uint8_t op)
{
    uint8_t t = 0;
    uint32_t a = 0, f = 0;
    sr_status st;
    switch (op) {
    case 0xd0:
        if ((st = sr_wasm__rd_u8(&c->r, &t)) != SR_OK)
            return st;
        if (t != SR_WASM_FUNCREF && t != SR_WASM_EXTERNREF)
            return sr_wasm__malformed(&c->r, "malformed reference type");
        return emit_result(c, SR_WASM__OP_CONST, t, 1, 0, 0, 0);
    case 0xd1:
        if ((st = pop(c, 0, &t, &a)) != SR_OK)
            return st;
        if (t && t != SR_WASM_FUNCREF && t != SR_WASM_EXTERNREF)
            return mismatch(c, "ref.is_null needs a reference");
        return emit_result(c, SR_WASM__OP_REF_IS_NULL, SR_WASM_I32, 1, a, 0, 0);
    default:
        if ((st = read_index(c, c->m->nfuncs, "unknown function", &f)) != SR_OK)
            return st;
        if (!c->m->declared[f])
            return invalid_at(c, "undeclared function reference", f);
        return emit_result(c, SR_WASM__OP_REF_FUNC, SR_WASM_FUNCREF, 1, f, 0, 0);
    }
}

/* drop emits nothing, so the last instruction stays last: it must not be fused with
 * the next consumer, which takes the value below the dropped one (issue 9 item 7:
 * 'i32.lt_s; drop; br_if' branched on the dropped compare). */
static sr_status
op_drop(struct cc *c)
{
    sr_status st = pop(c, 0, NULL, NULL);
    forget_last(c);
    return st;
}

static sr_status
op_local_get(struct cc *c)
{
    uint32_t x = 0;
    sr_status st = read_index(c, c->fn->nlocals, "unknown local", &x);
    return st == SR_OK ? push_local(c, local_type(c, x), x) : st;
}

static sr_status
compile_op(struct cc *c, uint8_t op)
{
    if (op != 0xfc)
        charge(c, op);
    switch (op) {
    case 0x00:
        if (!dead(c) && emit(c, SR_WASM__OP_UNREACHABLE, 0, 0, 0, 0, 0) != SR_OK)
            return nomem(c);
        set_unreachable(c);
        return SR_OK;
    case 0x01:
        return SR_OK;
    case 0x02:
        return op_block(c, K_BLOCK);
    case 0x03:
        return op_block(c, K_LOOP);
    case 0x04:
        return op_if(c);
    case 0x05:
        return op_else(c);
    case 0x0b:
        return op_end(c);
    case 0x0c:
        return op_br(c);
    case 0x0d:
        return op_br_if(c);
    case 0x0e:
        return op_br_table(c);
    case 0x0f:
        return op_return(c);
    case 0x10:
        return op_call(c);
    case 0x11:
        return op_call_indirect(c);
    case 0x1a:
        return op_drop(c);
    case 0x1b:
        return op_select(c, false);
    case 0x1c:
        return op_select(c, true);
    case 0x20:
        return op_local_get(c);
    case 0x21:
        return op_local_set(c, false);
    case 0x22:
        return op_local_set(c, true);
    case 0x23:
        return op_global(c, false);
    case 0x24:
        return op_global(c, true);
    case 0x25:
    case 0x26:
        return op_table_misc(c, op);
    case 0x3f:
        return op_memory_sizegrow(c, false);
    case 0x40:
        return op_memory_sizegrow(c, true);
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x44:
        return op_const(c, op);
    case 0xd0:
    case 0xd1:
    case 0xd2:
        return op_ref(c, op);
    case 0xfc:
        return op_prefixed(c);
    case 0xfd:
        return sr_err_set(c->err, SR_EINVAL,
                          "invalid: SIMD instructions (0xfd prefix) are not supported, at offset "
                          "0x%zx",
                          (size_t)(c->r.p - 1 - c->r.base));
    default:
        break;
    }
    if (op >= 0x28 && op <= 0x35)
        return op_load(c, op);
    if (op >= 0x36 && op <= 0x3e)
        return op_store(c, op);
    if (op >= 0x45 && op <= 0xc4)
        return op_numeric(c, op);
    c->r.p--;
    return sr_wasm__malformed(&c->r, "illegal opcode");
}

static sr_status
finish(struct cc *c)
{
    struct sr_wasm__code *fn = c->fn;
    const uint64_t frame = (uint64_t)fn->nlocals + c->maxh + c->maxsave;
    if (frame > SR_WASM__MAX_FRAME)
        return sr_wasm__invalid(c->err, "function frame of %llu slots exceeds the cap of %u",
                                (unsigned long long)frame, SR_WASM__MAX_FRAME);
    for (size_t i = 0; i < c->nfix; i++)
        c->code[c->fix[i]].u += (uint64_t)fn->nlocals + c->maxh;
    /* the code buffer is scratch for the next function: keep an exact copy */
    fn->code = malloc((c->len ? c->len : 1) * sizeof(*c->code));
    if (!fn->code)
        return nomem(c);
    memcpy(fn->code, c->code, c->len * sizeof(*c->code));
    fn->frame_size = (uint32_t)frame;
    fn->code_len = c->len;
    return SR_OK;
}

/* Buffers that outlive one function's translation: each grows to what the
 * largest function of the module needs, once, instead of once per function
 * (a module of many small functions would otherwise allocate their sum). */
struct scratch {
    union sr_wasm__cell *code;
    size_t cap;
    uint8_t *vt;
    uint32_t *vl, *vnext;
    uint32_t hcap;
    uint32_t *pend;
    uint32_t pendcap;
    struct lpend *lp;
    uint32_t lpcap, gen;
    struct run *runs;
    uint32_t runcap;
    uint32_t *depths;
    uint32_t depthcap, serial;
    struct ctl *ctl;
    uint32_t ctlcap;
    size_t *fix;
    size_t fixcap;
};

static void
scratch_lend(struct cc *c, const struct scratch *s)
{
    c->code = s->code;
    c->cap = s->cap;
    c->vt = s->vt;
    c->vl = s->vl;
    c->vnext = s->vnext;
    c->hcap = s->hcap;
    c->pend = s->pend;
    c->pendcap = s->pendcap;
    c->lp = s->lp;
    c->lpcap = s->lpcap;
    c->gen = s->gen + 1; /* every struct lpend of earlier functions is now stale */
    c->runs = s->runs;
    c->runcap = s->runcap;
    c->depths = s->depths;
    c->depthcap = s->depthcap;
    c->serial = s->serial;
    c->ctl = s->ctl;
    c->ctlcap = s->ctlcap;
    c->fix = s->fix;
    c->fixcap = s->fixcap;
}

static void
scratch_take_back(struct scratch *s, const struct cc *c)
{
    *s = (struct scratch){.code = c->code,
                          .cap = c->cap,
                          .vt = c->vt,
                          .vl = c->vl,
                          .vnext = c->vnext,
                          .hcap = c->hcap,
                          .pend = c->pend,
                          .pendcap = c->pendcap,
                          .lp = c->lp,
                          .lpcap = c->lpcap,
                          .gen = c->gen,
                          .runs = c->runs,
                          .runcap = c->runcap,
                          .depths = c->depths,
                          .depthcap = c->depthcap,
                          .serial = c->serial,
                          .ctl = c->ctl,
                          .ctlcap = c->ctlcap,
                          .fix = c->fix,
                          .fixcap = c->fixcap};
}

static void
scratch_free(struct scratch *s)
{
    free(s->code);
    free(s->vt);
    free(s->vl);
    free(s->vnext);
    free(s->pend);
    free(s->lp);
    free(s->runs);
    free(s->depths);
    free(s->ctl);
    free(s->fix);
}

/* Sizes the per-local table for this function; new entries are zero (gen 0:
 * stale), so it is never cleared per function. */
static sr_status
prepare_locals(struct cc *c)
{
    if (c->fn->nlocals > c->lpcap) {
        struct lpend *p = realloc(c->lp, (size_t)c->fn->nlocals * sizeof(*p));
        if (!p)
            return nomem(c);
        memset(p + c->lpcap, 0, (size_t)(c->fn->nlocals - c->lpcap) * sizeof(*p));
        c->lp = p;
        c->lpcap = c->fn->nlocals;
    }
    return read_locals(c);
}

static sr_status
compile_fn(struct sr_wasm_module *m, uint32_t code_index, struct scratch *s, sr_err *err)
{
    struct sr_wasm__code *fn = &m->codes[code_index];
    const struct sr_wasm__functype *ft = &m->types[fn->type];
    const size_t body = (size_t)(fn->body_end - fn->locals);
    struct cc c = {.m = m,
                   .fn = fn,
                   .ft = ft,
                   .ops = sr_wasm__op_table(),
                   .err = err,
                   .r = {.p = fn->body, .end = fn->body_end, .base = m->bytes, .err = err},
                   .max_len = SR_WASM__CELLS_PER_BYTE * body + SR_WASM__CELLS_BASE,
                   .last_end = SIZE_MAX,
                   .last_cmp_op = -1,
                   .fuel_end = SIZE_MAX,
                   .last_const = SIZE_MAX,
                   .last_cmp_k = SIZE_MAX};
    scratch_lend(&c, s);
    sr_status st = prepare_locals(&c);
    if (st == SR_OK)
        st = push_ctl(&c, K_FUNC, NULL, 0, ft->types + ft->nparams, ft->nresults);
    if (st == SR_OK)
        st = new_block(&c);
    if (st == SR_OK)
        charge_locals(&c);
    while (st == SR_OK && c.nctl > 0) {
        uint8_t op = 0;
        if ((st = sr_wasm__rd_u8(&c.r, &op)) != SR_OK)
            break;
        st = compile_op(&c, op);
        if (st == SR_OK)
            st = sr_wasm__work(m, 0, err);
    }
    if (st == SR_OK && c.r.p != c.r.end)
        st = sr_wasm__malformed(&c.r, "section size mismatch (bytes after the final end)");
    if (st == SR_OK)
        st = finish(&c);
    scratch_take_back(s, &c);
    return st;
}

sr_status
sr_wasm__compile_all(struct sr_wasm_module *m, sr_err *err)
{
    struct scratch s = {0};
    sr_status st = SR_OK;
    for (uint32_t i = 0; i < m->ncodes && st == SR_OK; i++) {
        st = compile_fn(m, i, &s, err);
        if (st != SR_OK)
            sr_err_wrap(err, "function %u", m->nfunc_imports + i);
    }
    scratch_free(&s);
    return st;
}
