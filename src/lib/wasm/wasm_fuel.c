/* SPDX-License-Identifier: MIT
 *
 * wasm_fuel.c - fuel at the WebAssembly level: rewrites a validated module so
 * that it charges, in a global of its own, exactly the fuel the interpreter
 * charges for the original (docs/wasm.md, "Fuel in the module").
 *
 * Pass 1 walks each function body as wasm_compile.c does, tracking only what
 * decides the fuel plan: the control stack with its reachability (a block
 * entered from dead code stays dead; br, br_table, return and unreachable make
 * the rest of a block dead) and the basic block boundaries (function entry,
 * loop head, after if, else, end of a block and br_if). Each live block's cost
 * is the sum of sr_wasm__op_cost() over its live operators, plus, for the
 * entry block, one unit per SR_WASM__LOCALS_PER_FUEL declared locals. Pass 2
 * copies the body and inserts at each block head
 *
 *     if (fuel < cost) { exhausted = 1; unreachable }  fuel -= cost
 *
 * and replaces the operators whose charge depends on their operands
 * (memory.grow, table.grow, the bulk memory and table operators) by sequences
 * that charge at the same moment, in the same order relative to their traps,
 * as wasm_exec.c does. Globals are appended after the module's own (so no
 * index of the module changes) and exported as SR_WASM_FUEL_EXPORT and
 * SR_WASM_FUEL_FLAG_EXPORT.
 *
 * Linear in the module: each body byte is read once by each pass; at most one
 * event per instruction; the output is capped at SR_MAX_MODULE.
 */
#include "wasm_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_limits.h"

/* What pass 1 found at one place of a body, in body order. */
enum {
    EV_BLOCK, /* insert the block charge 'cost' at 'at' */
    EV_MGROW, /* memory.grow at [at, end) */
    EV_TGROW, /* table.grow */
    EV_FILL,  /* memory.fill, table.fill: bounds, charge, then the operation */
    EV_COPY,  /* memory.copy, table.copy */
    EV_INIT,  /* memory.init, table.init: the operation, then the charge */
};

struct ev {
    size_t at;  /* offset in the module's bytes */
    size_t end; /* rewrites: end of the operator and its immediates */
    uint64_t cost;
    uint8_t kind;
    uint8_t shift;   /* bulk: fuel = n >> shift (6: bytes, 3: elements) */
    uint8_t reftype; /* table.fill, table.grow: the table's element type */
};

struct walk {
    const struct sr_wasm_module *m;
    struct sr_wasm__rd r;
    uint8_t *ctl; /* per open block: bit 0 unreachable, bit 1 entered dead */
    uint32_t nctl, ctlcap;
    struct ev *ev;
    size_t nev, evcap;
    size_t block; /* index of the event of the current basic block */
    bool rewrites;
};

#define CTL_UNREACHABLE 1u
#define CTL_DEAD 2u

static sr_status
nomem(sr_err *err)
{
    return sr_err_set(err, SR_ENOMEM, "out of memory adding fuel to a wasm module");
}

/* Past the function's final end nothing is live. */
static bool
dead(const struct walk *w)
{
    return w->nctl == 0 || w->ctl[w->nctl - 1] != 0;
}

static sr_status
push_ctl(struct walk *w)
{
    if (w->nctl == w->ctlcap) {
        const uint32_t n = w->ctlcap ? w->ctlcap * 2 : 64;
        uint8_t *p = realloc(w->ctl, n);
        if (!p)
            return nomem(w->r.err);
        w->ctl = p;
        w->ctlcap = n;
    }
    w->ctl[w->nctl] = w->nctl > 0 && dead(w) ? CTL_DEAD : 0;
    w->nctl++;
    return SR_OK;
}

static sr_status
add_ev(struct walk *w, struct ev e)
{
    if (w->nev == w->evcap) {
        const size_t n = w->evcap ? w->evcap * 2 : 64;
        struct ev *p = realloc(w->ev, n * sizeof(*p));
        if (!p)
            return nomem(w->r.err);
        w->ev = p;
        w->evcap = n;
    }
    w->ev[w->nev++] = e;
    return SR_OK;
}

/* A basic block starts here (wasm_compile.c new_block). */
static sr_status
new_block(struct walk *w)
{
    if (dead(w))
        return SR_OK;
    w->block = w->nev;
    return add_ev(w, (struct ev){.kind = EV_BLOCK, .at = (size_t)(w->r.p - w->r.base)});
}

static void
charge(struct walk *w, uint32_t op)
{
    if (!dead(w))
        w->ev[w->block].cost += sr_wasm__op_cost(op);
}

static sr_status
skip_u32(struct walk *w, uint32_t n)
{
    uint32_t v = 0;
    sr_status st = SR_OK;
    for (uint32_t i = 0; i < n && st == SR_OK; i++)
        st = sr_wasm__rd_u32(&w->r, &v);
    return st;
}

static sr_status
skip_bytes(struct walk *w, size_t n)
{
    const uint8_t *p = NULL;
    return sr_wasm__rd_bytes(&w->r, n, &p);
}

/* A rewritten operator: from 'at' (its first byte) to the reader's position. */
static sr_status
rewrite(struct walk *w, const uint8_t *at, uint8_t kind, uint8_t shift, uint8_t reftype)
{
    if (dead(w))
        return SR_OK; /* never runs: left as it is */
    w->rewrites = true;
    return add_ev(w, (struct ev){.kind = kind,
                                 .at = (size_t)(at - w->r.base),
                                 .end = (size_t)(w->r.p - w->r.base),
                                 .shift = shift,
                                 .reftype = reftype});
}

static uint8_t
table_type(const struct walk *w, uint32_t t)
{
    return t < w->m->ntables ? w->m->tables[t].type : SR_WASM_FUNCREF;
}

static sr_status
walk_prefixed(struct walk *w, const uint8_t *at)
{
    uint32_t sub = 0, x = 0;
    sr_status st = sr_wasm__rd_u32(&w->r, &sub);
    if (st != SR_OK)
        return st;
    charge(w, 0xfc00u | (sub & 0xffu));
    switch (sub) {
    case 8: /* memory.init seg 0 */
        st = skip_u32(w, 1);
        return st == SR_OK ? (st = skip_bytes(w, 1)) == SR_OK ? rewrite(w, at, EV_INIT, 6, 0) : st
                           : st;
    case 9:  /* data.drop */
    case 13: /* elem.drop */
    case 16: /* table.size */
        return skip_u32(w, 1);
    case 10: /* memory.copy 0 0 */
        st = skip_bytes(w, 2);
        return st == SR_OK ? rewrite(w, at, EV_COPY, 6, 0) : st;
    case 11: /* memory.fill 0 */
        st = skip_bytes(w, 1);
        return st == SR_OK ? rewrite(w, at, EV_FILL, 6, SR_WASM_I32) : st;
    case 12: /* table.init seg table */
        st = skip_u32(w, 2);
        return st == SR_OK ? rewrite(w, at, EV_INIT, 3, 0) : st;
    case 14: /* table.copy dst src */
        st = skip_u32(w, 2);
        return st == SR_OK ? rewrite(w, at, EV_COPY, 3, 0) : st;
    case 15: /* table.grow t */
    case 17: /* table.fill t */
        if ((st = sr_wasm__rd_u32(&w->r, &x)) != SR_OK)
            return st;
        return rewrite(w, at, sub == 15 ? EV_TGROW : EV_FILL, 3, table_type(w, x));
    default: /* 0..7 trunc_sat */
        return SR_OK;
    }
}

static sr_status
walk_control(struct walk *w, uint8_t op)
{
    int64_t bt = 0;
    uint32_t n = 0;
    sr_status st = SR_OK;
    switch (op) {
    case 0x02: /* block, loop, if: a block type */
    case 0x03:
    case 0x04:
        if ((st = sr_wasm__rd_s33(&w->r, &bt)) != SR_OK || (st = push_ctl(w)) != SR_OK)
            return st;
        return op == 0x02 ? SR_OK : new_block(w);
    case 0x05: /* else */
        w->ctl[w->nctl - 1] &= (uint8_t)~CTL_UNREACHABLE;
        return new_block(w);
    case 0x0b: /* end */
        w->nctl--;
        return w->nctl > 0 ? new_block(w) : SR_OK;
    case 0x0d: /* br_if */
        return (st = skip_u32(w, 1)) == SR_OK ? new_block(w) : st;
    case 0x0e: /* br_table */
        if ((st = sr_wasm__rd_u32(&w->r, &n)) != SR_OK)
            return st;
        if (n > SR_WASM__MAX_BR_TABLE)
            return sr_wasm__malformed(&w->r, "br_table too long");
        st = skip_u32(w, n + 1);
        break;
    case 0x0c: /* br */
        st = skip_u32(w, 1);
        break;
    default: /* unreachable, return */
        break;
    }
    w->ctl[w->nctl - 1] |= CTL_UNREACHABLE;
    return st;
}

static sr_status
walk_op(struct walk *w, const uint8_t *at, uint8_t op)
{
    uint32_t n = 0;
    if (op != 0xfc)
        charge(w, op);
    switch (op) {
    case 0x00:
    case 0x02:
    case 0x03:
    case 0x04:
    case 0x05:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x0e:
    case 0x0f:
        return walk_control(w, op);
    case 0x10: /* call, local.*, global.*, table.get/set, ref.func: one index */
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
    case 0xd2:
        return skip_u32(w, 1);
    case 0x11: /* call_indirect type table */
        return skip_u32(w, 2);
    case 0x1c: /* select t* */
        if (sr_wasm__rd_u32(&w->r, &n) != SR_OK)
            return SR_EINVAL;
        return skip_bytes(w, n);
    case 0x3f: /* memory.size 0 */
    case 0xd0: /* ref.null t */
        return skip_bytes(w, 1);
    case 0x40: /* memory.grow 0 */
        return skip_bytes(w, 1) == SR_OK ? rewrite(w, at, EV_MGROW, 0, 0) : SR_EINVAL;
    case 0x41:
        return sr_wasm__rd_s32(&w->r, &(int32_t){0});
    case 0x42:
        return sr_wasm__rd_s64(&w->r, &(int64_t){0});
    case 0x43:
        return skip_bytes(w, 4);
    case 0x44:
        return skip_bytes(w, 8);
    case 0xfc:
        return walk_prefixed(w, at);
    default:
        if (op >= 0x28 && op <= 0x3e) /* memarg */
            return skip_u32(w, 2);
        return SR_OK; /* no immediates (validated: nothing else can occur) */
    }
}

/* Pass 1 over the body of code index i: fills w->ev. */
static sr_status
walk_fn(struct walk *w, const struct sr_wasm__code *fn)
{
    w->r.p = fn->body;
    w->r.end = fn->body_end;
    w->nev = 0;
    w->nctl = 0;
    w->rewrites = false;
    sr_status st = push_ctl(w);
    if (st == SR_OK)
        st = new_block(w);
    if (st == SR_OK)
        w->ev[w->block].cost += (fn->nlocals - fn->nparams) / SR_WASM__LOCALS_PER_FUEL;
    while (st == SR_OK && w->nctl > 0) {
        const uint8_t *at = w->r.p;
        uint8_t op = 0;
        if ((st = sr_wasm__rd_u8(&w->r, &op)) == SR_OK)
            st = walk_op(w, at, op);
    }
    return st;
}

/* ---- pass 2: emission ------------------------------------------------------------------- */

struct out {
    sr_buf b;
    sr_err *err;
    sr_status st;        /* the first failure; later appends do nothing */
    uint32_t fuel, flag; /* global indexes */
    uint32_t loc;        /* first scratch local: 3 x i32, funcref, externref */
    bool native;         /* SR_WASM_FUEL_NATIVE: start as an export, global 0 exported */
    const struct sr_wasm_module *m;
};

static void
put(struct out *o, const void *p, size_t n)
{
    if (o->st == SR_OK)
        o->st = sr_buf_append(&o->b, p, n, o->err);
}

static void
put_u8(struct out *o, uint8_t v)
{
    put(o, &v, 1);
}

static void
put_u32(struct out *o, uint32_t v)
{
    uint8_t t[5];
    size_t n = 0;
    do {
        t[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            t[n] |= 0x80;
        n++;
    } while (v);
    put(o, t, n);
}

static void
put_s64(struct out *o, int64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    for (;;) {
        const uint8_t b = (uint8_t)((uint64_t)v & 0x7f);
        v = (int64_t)((uint64_t)v >> 7) | (v < 0 ? (int64_t)(~(UINT64_MAX >> 7)) : 0);
        if ((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40))) {
            t[n++] = b;
            break;
        }
        t[n++] = b | 0x80;
    }
    put(o, t, n);
}

static void
op_idx(struct out *o, uint8_t op, uint32_t idx)
{
    put_u8(o, op);
    put_u32(o, idx);
}

/* Scratch locals of a rewritten operator. */
enum { LA, LB, LC, LFUNCREF, LEXTERNREF };

static uint32_t
ref_local(const struct out *o, uint8_t reftype)
{
    return o->loc + (reftype == SR_WASM_EXTERNREF ? LEXTERNREF : LFUNCREF);
}

/* Pushes the dynamic charge: i64(local n) >> shift, or i64(local n) * 16 for memory.grow. */
static void
put_dyn_cost(struct out *o, uint32_t local, const struct ev *e)
{
    op_idx(o, 0x20, local);
    put_u8(o, 0xad); /* i64.extend_i32_u */
    put_u8(o, 0x42);
    if (e->kind == EV_MGROW) {
        put_s64(o, SR_WASM__GROW_FUEL_PER_PAGE);
        put_u8(o, 0x7e); /* i64.mul */
    } else {
        put_s64(o, e->shift);
        put_u8(o, 0x88); /* i64.shr_u */
    }
}

static void
put_cost(struct out *o, uint64_t cost, uint32_t local, const struct ev *e)
{
    if (e)
        put_dyn_cost(o, local, e);
    else {
        put_u8(o, 0x42);
        put_s64(o, (int64_t)cost);
    }
}

/* if (fuel < cost) { <rare>; flag = 1; unreachable }: 'rare' is what must trap first. */
static void
put_check_open(struct out *o, uint64_t cost, uint32_t local, const struct ev *e)
{
    op_idx(o, 0x23, o->fuel);
    put_cost(o, cost, local, e);
    put_u8(o, 0x54); /* i64.lt_u */
    put(o, (const uint8_t[]){0x04, 0x40}, 2);
}

static void
put_check_close(struct out *o)
{
    put(o, (const uint8_t[]){0x41, 0x01}, 2);
    op_idx(o, 0x24, o->flag);
    put(o, (const uint8_t[]){0x00, 0x0b}, 2);
}

/* fuel -= cost */
static void
put_debit(struct out *o, uint64_t cost, uint32_t local, const struct ev *e)
{
    op_idx(o, 0x23, o->fuel);
    put_cost(o, cost, local, e);
    put_u8(o, 0x7d); /* i64.sub */
    op_idx(o, 0x24, o->fuel);
}

static void
put_block_charge(struct out *o, uint64_t cost)
{
    if (cost == 0)
        return;
    put_check_open(o, cost, 0, NULL);
    put_check_close(o);
    put_debit(o, cost, 0, NULL);
}

/* Pushes i32 (i64(local a) + i64(local b) > 0xffffffff). */
static void
put_sum_overflows(struct out *o, uint32_t a, uint32_t b)
{
    op_idx(o, 0x20, a);
    put_u8(o, 0xad);
    op_idx(o, 0x20, b);
    put_u8(o, 0xad);
    put_u8(o, 0x7c); /* i64.add */
    put_u8(o, 0x42);
    put_s64(o, 0xffffffffll);
    put_u8(o, 0x56); /* i64.gt_u */
}

static void
put_args(struct out *o, uint32_t a, uint32_t b, uint32_t c)
{
    op_idx(o, 0x20, a);
    op_idx(o, 0x20, b);
    op_idx(o, 0x20, c);
}

/* The rare path of a fill or copy short of fuel: the interpreter checks the
 * bounds before the fuel, so an access out of bounds must trap as such. The
 * operation with length 0 at (d + n, s + n) traps exactly when (d, s, n) is
 * out of bounds and writes nothing; when d + n or s + n does not fit in 32
 * bits the access is out of bounds for every table and every memory but one
 * of 4 GiB, and the operation itself is run (it traps). */
static void
put_bounds_trap(struct out *o, const struct ev *e, uint32_t a, uint32_t b, uint32_t n,
                const uint8_t *opb, size_t oplen)
{
    const bool copy = e->kind == EV_COPY;
    put_sum_overflows(o, a, n);
    if (copy) {
        put_sum_overflows(o, b, n);
        put_u8(o, 0x72); /* i32.or */
    }
    put(o, (const uint8_t[]){0x04, 0x40}, 2);
    put_args(o, a, b, n);
    put(o, opb, oplen);
    put_u8(o, 0x05); /* else: the same operation, length 0, at the ends */
    op_idx(o, 0x20, a);
    op_idx(o, 0x20, n);
    put_u8(o, 0x6a); /* i32.add */
    if (copy) {
        op_idx(o, 0x20, b);
        op_idx(o, 0x20, n);
        put_u8(o, 0x6a);
    } else {
        op_idx(o, 0x20, b);
    }
    put(o, (const uint8_t[]){0x41, 0x00}, 2);
    put(o, opb, oplen);
    put_u8(o, 0x0b);
}

static void
put_grow(struct out *o, const struct ev *e, const uint8_t *opb, size_t oplen)
{
    const uint32_t a = o->loc + LA, old = o->loc + LB;
    if (e->kind == EV_TGROW) { /* [init n] */
        op_idx(o, 0x21, a);
        op_idx(o, 0x21, ref_local(o, e->reftype));
        op_idx(o, 0x20, ref_local(o, e->reftype));
        op_idx(o, 0x20, a);
    } else { /* [delta] */
        op_idx(o, 0x22, a);
    }
    put(o, opb, oplen);
    op_idx(o, 0x22, old);
    put(o, (const uint8_t[]){0x41, 0x7f, 0x47, 0x04, 0x40}, 5); /* if (old != -1) */
    put_check_open(o, 0, a, e);
    put_check_close(o);
    put_debit(o, 0, a, e);
    put_u8(o, 0x0b);
    op_idx(o, 0x20, old);
}

/* A bulk operator [x y n]: x, y, n in scratch locals, then as wasm_exec.c orders
 * bounds check, charge and operation. */
static void
put_bulk(struct out *o, const struct ev *e, const uint8_t *opb, size_t oplen)
{
    const uint32_t a = o->loc + LA, n = o->loc + LC;
    const uint32_t b =
        e->kind == EV_FILL && e->reftype != SR_WASM_I32 ? ref_local(o, e->reftype) : o->loc + LB;
    op_idx(o, 0x21, n);
    op_idx(o, 0x21, b);
    op_idx(o, 0x21, a);
    if (e->kind == EV_INIT) { /* the interpreter copies, then charges */
        put_args(o, a, b, n);
        put(o, opb, oplen);
        put_check_open(o, 0, n, e);
        put_check_close(o);
        put_debit(o, 0, n, e);
        return;
    }
    put_check_open(o, 0, n, e);
    put_bounds_trap(o, e, a, b, n, opb, oplen);
    put_check_close(o);
    put_args(o, a, b, n);
    put(o, opb, oplen);
    put_debit(o, 0, n, e);
}

static void
put_event(struct out *o, const struct sr_wasm_module *m, const struct ev *e)
{
    const uint8_t *opb = m->bytes + e->at;
    const size_t oplen = e->end - e->at;
    switch (e->kind) {
    case EV_BLOCK:
        put_block_charge(o, e->cost);
        return;
    case EV_MGROW:
    case EV_TGROW:
        put_grow(o, e, opb, oplen);
        return;
    default:
        put_bulk(o, e, opb, oplen);
        return;
    }
}

/* One entry of the code section: size, locals, the instrumented body. */
static sr_status
emit_fn(struct out *o, struct walk *w, const struct sr_wasm__code *fn, struct out *body)
{
    sr_buf_reset(&body->b);
    body->st = SR_OK;
    body->loc = fn->nlocals;
    put_u32(body, fn->ngroups + (w->rewrites ? 3 : 0));
    put(body, fn->locals, (size_t)(fn->body - fn->locals));
    if (w->rewrites)
        put(body, (const uint8_t[]){3, SR_WASM_I32, 1, SR_WASM_FUNCREF, 1, SR_WASM_EXTERNREF}, 6);
    size_t pos = (size_t)(fn->body - w->m->bytes);
    for (size_t i = 0; i < w->nev; i++) {
        const struct ev *e = &w->ev[i];
        put(body, w->m->bytes + pos, e->at - pos);
        put_event(body, w->m, e);
        pos = e->kind == EV_BLOCK ? e->at : e->end;
    }
    put(body, w->m->bytes + pos, (size_t)(fn->body_end - w->m->bytes) - pos);
    if (body->st != SR_OK)
        return body->st;
    put_u32(o, (uint32_t)body->b.len);
    put(o, body->b.data, body->b.len);
    return o->st;
}

/* ---- the module ---------------------------------------------------------------------------- */

static int
rank(uint8_t id)
{
    static const int r[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return id < 13 ? r[id] : 99;
}

static void
put_section(struct out *o, uint8_t id, const struct out *content)
{
    put_u8(o, id);
    put_u32(o, (uint32_t)content->b.len);
    put(o, content->b.data, content->b.len);
}

static void
put_name(struct out *o, const char *s)
{
    put_u32(o, (uint32_t)strlen(s));
    put(o, s, strlen(s));
}

/* SR_WASM_FUEL_NATIVE exports global 0 when it is what C and Rust toolchains
 * use as their stack pointer (a defined mutable i32), so that an
 * out-of-bounds trap can say the program's stack ran out, as the interpreter
 * does (sr_wasm__stack_exhausted). */
static bool
exports_sp(const struct sr_wasm_module *m)
{
    return m->nglobals > 0 && m->nglobal_imports == 0 && m->globals[0].mut &&
           m->globals[0].type == SR_WASM_I32;
}

/* The global (id 6) or export (id 7) section: the module's entries (body
 * [p, end), NULL if it has none) plus the two of the fuel. */
static sr_status
put_extended(struct out *o, uint8_t id, const uint8_t *p, const uint8_t *end, uint64_t fuel,
             struct out *tmp)
{
    uint32_t n = 0;
    struct sr_wasm__rd r = {.p = p, .end = end, .base = p, .err = o->err};
    if (p && sr_wasm__rd_u32(&r, &n) != SR_OK)
        return SR_EINVAL;
    sr_buf_reset(&tmp->b);
    tmp->st = SR_OK;
    const bool start = id == 7 && o->native && o->m->has_start;
    const bool sp = id == 7 && o->native && exports_sp(o->m);
    put_u32(tmp, n + 2 + (start ? 1u : 0u) + (sp ? 1u : 0u));
    if (p)
        put(tmp, r.p, (size_t)(end - r.p));
    if (start) {
        put_name(tmp, SR_WASM_START_EXPORT);
        put_u8(tmp, SR_WASM_EXTERN_FUNC);
        put_u32(tmp, o->m->start);
    }
    if (sp) {
        put_name(tmp, SR_WASM_SP_EXPORT);
        put_u8(tmp, SR_WASM_EXTERN_GLOBAL);
        put_u32(tmp, 0);
    }
    if (id == 6) {
        put(tmp, (const uint8_t[]){SR_WASM_I64, 1, 0x42}, 3);
        put_s64(tmp, (int64_t)fuel);
        put(tmp, (const uint8_t[]){0x0b, SR_WASM_I32, 1, 0x41, 0x00, 0x0b}, 6);
    } else {
        put_name(tmp, SR_WASM_FUEL_EXPORT);
        put_u8(tmp, SR_WASM_EXTERN_GLOBAL);
        put_u32(tmp, o->fuel);
        put_name(tmp, SR_WASM_FUEL_FLAG_EXPORT);
        put_u8(tmp, SR_WASM_EXTERN_GLOBAL);
        put_u32(tmp, o->flag);
    }
    if (tmp->st != SR_OK)
        return tmp->st;
    put_section(o, id, tmp);
    return o->st;
}

static sr_status
put_code(struct out *o, const struct sr_wasm_module *m, struct out *tmp, struct out *body)
{
    struct walk w = {.m = m, .r = {.base = m->bytes, .err = o->err}};
    sr_status st = SR_OK;
    sr_buf_reset(&tmp->b);
    tmp->st = SR_OK;
    put_u32(tmp, m->ncodes);
    for (uint32_t i = 0; i < m->ncodes && st == SR_OK; i++) {
        st = walk_fn(&w, &m->codes[i]);
        if (st == SR_OK)
            st = emit_fn(tmp, &w, &m->codes[i], body);
        if (st != SR_OK)
            sr_err_wrap(o->err, "function %u", m->nfunc_imports + i);
    }
    free(w.ctl);
    free(w.ev);
    if (st == SR_OK)
        put_section(o, 10, tmp);
    return st == SR_OK ? o->st : st;
}

/* Copies the sections of m, extending the global and export sections (made if
 * absent, in their place) and rewriting the code section. */
static sr_status
put_module(struct out *o, const struct sr_wasm_module *m, uint64_t fuel, struct out *tmp,
           struct out *body)
{
    struct sr_wasm__rd r = {
        .p = m->bytes + 8, .end = m->bytes + m->len, .base = m->bytes, .err = o->err};
    bool globals = false, exports = false;
    sr_status st = SR_OK;
    put(o, m->bytes, 8); /* magic, version */
    while (st == SR_OK && r.p < r.end) {
        uint8_t id = 0;
        uint32_t size = 0;
        const uint8_t *p = NULL;
        if ((st = sr_wasm__rd_u8(&r, &id)) != SR_OK || (st = sr_wasm__rd_u32(&r, &size)) != SR_OK ||
            (st = sr_wasm__rd_bytes(&r, size, &p)) != SR_OK)
            break;
        if (id == 0)
            continue; /* custom sections: names and debug data the tier does not need */
        if (id == 8 && o->native)
            continue; /* the start function: exported as SR_WASM_START_EXPORT instead */
        if (!globals && rank(id) >= rank(6)) {
            st = put_extended(o, 6, id == 6 ? p : NULL, p + size, fuel, tmp);
            globals = true;
            if (id == 6 || st != SR_OK)
                continue;
        }
        if (!exports && rank(id) >= rank(7)) {
            st = put_extended(o, 7, id == 7 ? p : NULL, p + size, fuel, tmp);
            exports = true;
            if (id == 7 || st != SR_OK)
                continue;
        }
        if (id == 10)
            st = put_code(o, m, tmp, body);
        else {
            put_u8(o, id);
            put_u32(o, size);
            put(o, p, size);
        }
    }
    if (st == SR_OK && !globals)
        st = put_extended(o, 6, NULL, NULL, fuel, tmp);
    if (st == SR_OK && !exports)
        st = put_extended(o, 7, NULL, NULL, fuel, tmp);
    return st == SR_OK ? o->st : st;
}

sr_status
sr_wasm_fuel_instrument(const sr_wasm_module *mod, uint64_t fuel, uint8_t **out, size_t *out_len,
                        sr_wasm_module **checked, sr_err *err)
{
    return sr_wasm_fuel_instrument_ex(mod, fuel, 0, out, out_len, checked, err);
}

sr_status
sr_wasm_fuel_instrument_ex(const sr_wasm_module *mod, uint64_t fuel, unsigned flags, uint8_t **out,
                           size_t *out_len, sr_wasm_module **checked, sr_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (checked)
        *checked = NULL;
    static const char *const reserved[] = {SR_WASM_FUEL_EXPORT, SR_WASM_FUEL_FLAG_EXPORT,
                                           SR_WASM_START_EXPORT, SR_WASM_SP_EXPORT};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (sr_wasm__find_export(mod, reserved[i], strlen(reserved[i])))
            return sr_err_set(err, SR_EINVAL,
                              "the module exports '%s', a name the native tier reserves for its "
                              "fuel",
                              reserved[i]);
    struct out o = {.err = err,
                    .fuel = mod->nglobals,
                    .flag = mod->nglobals + 1,
                    .native = (flags & SR_WASM_FUEL_NATIVE) != 0,
                    .m = mod};
    struct out tmp = {.err = err}, body = {.err = err};
    sr_buf_init(&o.b, SR_MAX_MODULE);
    sr_buf_init(&tmp.b, SR_MAX_MODULE);
    sr_buf_init(&body.b, SR_MAX_MODULE);
    body.fuel = tmp.fuel = o.fuel;
    body.flag = tmp.flag = o.flag;
    body.native = tmp.native = o.native;
    body.m = tmp.m = mod;
    sr_status st = put_module(&o, mod, fuel, &tmp, &body);
    sr_buf_fini(&tmp.b);
    sr_buf_fini(&body.b);
    sr_wasm_module *m2 = NULL;
    if (st == SR_OK)
        st = sr_wasm_module_new((const uint8_t *)o.b.data, o.b.len, &m2, err);
    if (st != SR_OK) {
        sr_err_wrap(err, "adding fuel to the module");
        sr_buf_fini(&o.b);
        return st;
    }
    *out_len = o.b.len;
    *out = (uint8_t *)sr_buf_steal(&o.b);
    if (checked)
        *checked = m2;
    else
        sr_wasm_module_free(m2);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory adding fuel to a module");
}
