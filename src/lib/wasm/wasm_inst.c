/* SPDX-License-Identifier: MIT
 *
 * wasm_inst.c - instantiation (spec 4.5.4: imports, allocation, globals,
 * element and data segments, start), the linker (host functions and the
 * spec's "register"), calls from the host, and trap reporting.
 */
#include "wasm_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct lk_entry {
    char *module;
    char *name;
    size_t name_len;
    uint8_t kind;
    void *obj; /* struct sr_wasm__func/__table/__mem/__global */
};

struct host_func {
    struct sr_wasm__func fn;
    struct sr_wasm__functype type;
    uint8_t types[32];
    struct host_func *next;
};

struct sr_wasm_linker {
    struct lk_entry *v;
    size_t n, cap;
    sr_wasm_instance *instances;
    struct host_func *hosts;
};

static const char *const trap_text[SR_WASM_TRAP_COUNT_] = {
    [SR_WASM_TRAP_NONE] = "no trap",
    [SR_WASM_TRAP_UNREACHABLE] = "unreachable",
    [SR_WASM_TRAP_MEM_OOB] = "out of bounds memory access",
    [SR_WASM_TRAP_TABLE_OOB] = "out of bounds table access",
    [SR_WASM_TRAP_DIV_ZERO] = "integer divide by zero",
    [SR_WASM_TRAP_INT_OVERFLOW] = "integer overflow",
    [SR_WASM_TRAP_INVALID_CONV] = "invalid conversion to integer",
    [SR_WASM_TRAP_UNDEF_ELEM] = "undefined element",
    [SR_WASM_TRAP_UNINIT_ELEM] = "uninitialized element",
    [SR_WASM_TRAP_INDIRECT_TYPE] = "indirect call type mismatch",
    [SR_WASM_TRAP_CALL_DEPTH] = "call stack exhausted",
    [SR_WASM_TRAP_VALUE_STACK] = "call stack exhausted: value stack limit reached",
    [SR_WASM_TRAP_FUEL] = "out of fuel",
    [SR_WASM_TRAP_HOST] = "host function failed",
    [SR_WASM_TRAP_EXIT] = "exit",
};

const char *
sr_wasm_trap_message(sr_wasm_trap trap)
{
    if ((unsigned)trap >= SR_WASM_TRAP_COUNT_)
        return "unknown trap";
    return trap_text[trap];
}

sr_status
sr_wasm__trap_status(sr_wasm_trap t)
{
    return t == SR_WASM_TRAP_FUEL || t == SR_WASM_TRAP_CALL_DEPTH || t == SR_WASM_TRAP_VALUE_STACK
               ? SR_ELIMIT
               : SR_ETRAP;
}

/* The lowest address of the stack of a clang or rustc program whose stack
 * starts at 'top': the end of the data placed below it (clang's default
 * layout: data, then the stack growing down towards it), or 0 when the data
 * lies above it (rustc's and -z stack-first: the stack at the bottom). */
static uint64_t
stack_floor(const struct sr_wasm_module *m, uint32_t top)
{
    uint64_t floor = 0;
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const struct sr_wasm__data *d = &m->datas[i];
        if (d->mode != SR_WASM__SEG_ACTIVE || d->offset.kind != SR_WASM__CE_CONST)
            continue;
        const uint64_t end = (uint64_t)(uint32_t)d->offset.bits + d->len;
        if (end <= top && end > floor)
            floor = end;
    }
    return floor;
}

/* True if an out-of-bounds access is the program's stack running out. C and
 * Rust keep their stack in linear memory, growing down from the initial
 * value of their stack pointer: global 0, a mutable i32 defined with a
 * constant (clang's and rustc's __stack_pointer). Past the bottom the pointer
 * either wraps below 0 to an address beyond memory, which is what traps, or
 * (clang's layout) has already run over the program's data. */
bool
sr_wasm__stack_exhausted(const struct sr_wasm_module *m, uint32_t sp, uint64_t mem_size)
{
    if (m->nglobals == 0 || m->nglobal_imports > 0 || m->nmems == 0)
        return false;
    const struct sr_wasm__global_def *g = &m->globals[0];
    if (!g->mut || g->type != SR_WASM_I32 || g->init.kind != SR_WASM__CE_CONST)
        return false;
    const uint32_t top = (uint32_t)g->init.bits;
    if (top == 0 || top % 16 != 0 || top > (uint64_t)m->mem.min * SR_WASM_PAGE)
        return false; /* not a stack pointer as these toolchains set it */
    if (sp > top && sp >= mem_size)
        return true; /* wrapped below 0 */
    return sp < stack_floor(m, top);
}

static bool
stack_exhausted(const sr_wasm_instance *inst)
{
    if (inst->mod->nglobals == 0 || inst->mod->nglobal_imports > 0)
        return false;
    return sr_wasm__stack_exhausted(inst->mod, (uint32_t)inst->globals[0]->val, inst->mem->size);
}

static sr_status
set_trap_err(sr_wasm_instance *inst, sr_wasm_trap t, sr_err *err)
{
    if (t == SR_WASM_TRAP_HOST && inst->ex.msg[0])
        return sr_err_set(err, SR_ETRAP, "%s", inst->ex.msg);
    if (t == SR_WASM_TRAP_MEM_OOB && stack_exhausted(inst))
        return sr_err_set(err, SR_ETRAP,
                          "%s: the program's stack in linear memory is exhausted (its stack "
                          "pointer, global 0, went below the bottom of the stack): deep "
                          "recursion or large local variables; link it with a larger stack "
                          "(clang -Wl,-z,stack-size=N; rustc -C link-arg=-zstack-size=N) or "
                          "recurse less",
                          sr_wasm_trap_message(t));
    if (t == SR_WASM_TRAP_EXIT)
        return sr_err_set(err, SR_ETRAP, "exit with code %u", inst->ex.exit_code);
    return sr_err_set(err, sr_wasm__trap_status(t), "%s", sr_wasm_trap_message(t));
}

/* ---- the exec state ---------------------------------------------------------------------- */

/* The value stack and the frame stack are large (8 MiB by default) and
 * mostly untouched: take them from the kernel as zero pages that cost
 * nothing until used. (calloc would memset them once glibc's mmap threshold
 * has grown past their size, which made every instance cost a full 8 MiB
 * memset.) */
static void *
zero_pages(size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes))
        return NULL;
    void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void
free_pages(void *p, size_t n, size_t size)
{
    size_t bytes = n * size; /* checked by zero_pages when it was mapped */
    if (p)
        (void)munmap(p, bytes ? bytes : 1);
}

static void
free_exec(sr_wasm_instance *inst)
{
    free_pages(inst->ex.stack, inst->lim.max_stack, sizeof(uint64_t));
    free_pages(inst->ex.frames, (size_t)inst->lim.max_depth + 2, sizeof(struct sr_wasm__frame));
    inst->ex.stack = NULL;
    inst->ex.frames = NULL;
}

static sr_status
ensure_exec(sr_wasm_instance *inst, sr_err *err)
{
    if (inst->ex_ready)
        return SR_OK;
    const size_t slots = inst->lim.max_stack;
    const size_t depth = (size_t)inst->lim.max_depth + 2; /* + sentinel + entry */
    inst->ex.stack = zero_pages(slots, sizeof(uint64_t));
    inst->ex.frames = zero_pages(depth, sizeof(struct sr_wasm__frame));
    if (!inst->ex.stack || !inst->ex.frames) {
        free_exec(inst);
        return sr_err_set(err, SR_ENOMEM, "out of memory allocating a wasm stack of %zu slots",
                          slots);
    }
    inst->ex.stack_end = inst->ex.stack + slots;
    inst->ex.frames_end = inst->ex.frames + depth;
    inst->ex_ready = true;
    return SR_OK;
}

/* Runs fn with args already in the stack; results land in stack[0..). */
static sr_wasm_trap
run(sr_wasm_instance *inst, const struct sr_wasm__func *fn)
{
    const uint64_t before = inst->ex.fuel;
    inst->ex.trap = SR_WASM_TRAP_NONE;
    inst->ex.msg[0] = '\0';
    inst->running = true;
    const sr_wasm_trap t = sr_wasm__exec(&inst->ex, inst, fn, inst->ex.stack);
    inst->running = false;
    inst->fuel_used += before - inst->ex.fuel;
    inst->ex.trap = t;
    return t;
}

/* ---- instances ----------------------------------------------------------------------------- */

static void
instance_free(sr_wasm_instance *inst)
{
    if (!inst)
        return;
    const struct sr_wasm_module *m = inst->mod;
    free(inst->funcs);
    free(inst->own_funcs);
    if (inst->own_tables)
        for (uint32_t i = m->ntable_imports; i < m->ntables; i++)
            free(inst->own_tables[i - m->ntable_imports].elems);
    free(inst->own_tables);
    free(inst->tables);
    free(inst->own_mem.data);
    free(inst->globals);
    free(inst->own_globals);
    if (inst->elem_items)
        for (uint32_t i = 0; i < m->nelems; i++)
            free(inst->elem_items[i]);
    free(inst->elem_items);
    free(inst->elem_len);
    free(inst->data_dropped);
    free_exec(inst);
    free(inst);
}

void
sr_wasm_instance_free(sr_wasm_instance *inst)
{
    instance_free(inst);
}

static struct lk_entry *
lk_find(const sr_wasm_linker *lk, const struct sr_wasm__import *im)
{
    for (size_t i = lk ? lk->n : 0; i-- > 0;) {
        const struct lk_entry *e = &lk->v[i];
        if (e->name_len == im->name_len && memcmp(e->name, im->name, im->name_len) == 0 &&
            strcmp(e->module, im->module) == 0)
            return &lk->v[i];
    }
    return NULL;
}

static bool
limits_match(uint32_t size, bool has_max, uint32_t max, const struct sr_wasm__lim *want)
{
    if (size < want->min)
        return false;
    if (!want->has_max)
        return true;
    return has_max && max <= want->max;
}

static sr_status
link_one(sr_wasm_instance *inst, const struct sr_wasm__import *im, const struct lk_entry *e,
         uint32_t idx[4], sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    bool ok = e->kind == im->kind;
    if (ok && im->kind == SR_WASM_EXTERN_FUNC) {
        struct sr_wasm__func *f = e->obj;
        ok = sr_wasm__functype_eq(f->type, &m->types[im->type]);
        if (ok)
            inst->funcs[idx[0]++] = f;
    } else if (ok && im->kind == SR_WASM_EXTERN_TABLE) {
        struct sr_wasm__table *t = e->obj;
        ok = t->type == im->vtype && limits_match(t->size, t->has_max, t->decl_max, &im->lim);
        if (ok)
            inst->tables[idx[1]++] = t;
    } else if (ok && im->kind == SR_WASM_EXTERN_MEMORY) {
        struct sr_wasm__mem *mm = e->obj;
        ok = limits_match(mm->pages, mm->has_max, mm->decl_max, &im->lim);
        if (ok)
            inst->mem = mm;
    } else if (ok) {
        struct sr_wasm__global *g = e->obj;
        ok = g->type == im->vtype && g->mut == im->mut;
        if (ok)
            inst->globals[idx[3]++] = g;
    }
    if (!ok)
        return sr_err_set(err, SR_EINVAL, "incompatible import type for '%s.%s'", im->module,
                          im->name);
    return SR_OK;
}

static sr_status
link_imports(sr_wasm_instance *inst, const sr_wasm_linker *lk, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    uint32_t idx[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        const struct lk_entry *e = lk_find(lk, im);
        if (!e)
            return sr_err_set(err, SR_EINVAL, "unknown import '%s.%s'", im->module, im->name);
        sr_status st = link_one(inst, im, e, idx, err);
        if (st != SR_OK)
            return st;
    }
    return SR_OK;
}

static sr_status
alloc_memory(sr_wasm_instance *inst, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    struct sr_wasm__mem *mm = &inst->own_mem;
    if (m->nmems == 0 || m->nmem_imports > 0)
        return SR_OK; /* no memory (inst->mem is the empty own_mem), or linked already */
    mm->has_max = m->mem.has_max;
    mm->decl_max = m->mem.has_max ? m->mem.max : SR_WASM_MAX_PAGES;
    mm->max = mm->decl_max;
    if (inst->lim.max_pages && inst->lim.max_pages < mm->max)
        mm->max = inst->lim.max_pages;
    if (m->mem.min > mm->max)
        return sr_err_set(err, SR_ELIMIT,
                          "initial memory of %u pages exceeds the limit of %u pages", m->mem.min,
                          mm->max);
    mm->pages = m->mem.min;
    mm->size = (uint64_t)m->mem.min * SR_WASM_PAGE;
    mm->data = calloc(mm->size ? mm->size : 1, 1);
    if (!mm->data)
        return sr_err_set(err, SR_ENOMEM, "out of memory allocating %u pages of wasm memory",
                          m->mem.min);
    return SR_OK;
}

static sr_status
alloc_tables(sr_wasm_instance *inst, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    const uint32_t n = m->ntables - m->ntable_imports;
    inst->own_tables = calloc(n ? n : 1, sizeof(*inst->own_tables));
    if (!inst->own_tables)
        return sr_err_set(err, SR_ENOMEM, "out of memory allocating tables");
    for (uint32_t i = 0; i < n; i++) {
        const struct sr_wasm__table_def *d = &m->tables[m->ntable_imports + i];
        struct sr_wasm__table *t = &inst->own_tables[i];
        t->type = d->type;
        t->has_max = d->lim.has_max;
        t->decl_max = d->lim.has_max ? d->lim.max : UINT32_MAX;
        t->max = t->decl_max < inst->lim.max_table ? t->decl_max : inst->lim.max_table;
        t->owner_elems = &inst->table_elems;
        t->owner_cap = inst->lim.max_table;
        if (d->lim.min > t->max)
            return sr_err_set(err, SR_ELIMIT,
                              "initial table of %u elements exceeds the limit of %u elements",
                              d->lim.min, t->max);
        if (inst->table_elems + d->lim.min > t->owner_cap)
            return sr_err_set(err, SR_ELIMIT,
                              "initial tables of %llu elements in all exceed the limit of %u "
                              "elements",
                              (unsigned long long)(inst->table_elems + d->lim.min),
                              inst->lim.max_table);
        inst->table_elems += d->lim.min;
        t->size = d->lim.min;
        t->elems = calloc(t->size ? t->size : 1, sizeof(uint64_t));
        if (!t->elems)
            return sr_err_set(err, SR_ENOMEM, "out of memory allocating a table of %u elements",
                              t->size);
        inst->tables[m->ntable_imports + i] = t;
    }
    return SR_OK;
}

static uint64_t
eval_cexpr(const sr_wasm_instance *inst, const struct sr_wasm__cexpr *ce)
{
    switch (ce->kind) {
    case SR_WASM__CE_CONST:
        return ce->bits;
    case SR_WASM__CE_GLOBAL:
        return inst->globals[ce->index]->val;
    case SR_WASM__CE_FUNC:
        return (uint64_t)(uintptr_t)inst->funcs[ce->index];
    default:
        return 0;
    }
}

static sr_status
alloc_funcs_globals(sr_wasm_instance *inst, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->ncodes; i++) {
        struct sr_wasm__func *f = &inst->own_funcs[i];
        f->type = &m->types[m->codes[i].type];
        f->inst = inst;
        f->code = &m->codes[i];
        inst->funcs[m->nfunc_imports + i] = f;
    }
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        struct sr_wasm__global *g = &inst->own_globals[i - m->nglobal_imports];
        g->type = m->globals[i].type;
        g->mut = m->globals[i].mut;
        g->val = eval_cexpr(inst, &m->globals[i].init);
        inst->globals[i] = g;
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        const struct sr_wasm__elem *e = &m->elems[i];
        inst->elem_items[i] = calloc(e->count ? e->count : 1, sizeof(uint64_t));
        if (!inst->elem_items[i])
            return sr_err_set(err, SR_ENOMEM, "out of memory evaluating element segment %u", i);
        for (uint32_t k = 0; k < e->count; k++)
            inst->elem_items[i][k] = eval_cexpr(inst, &e->items[k]);
        inst->elem_len[i] = e->mode == SR_WASM__SEG_PASSIVE ? e->count : e->count;
    }
    return SR_OK;
}

static sr_status
inst_alloc(const sr_wasm_module *m, const struct sr_wasm_limits *lim, sr_wasm_instance **out,
           sr_err *err)
{
    sr_wasm_instance *inst = calloc(1, sizeof(*inst));
    if (!inst)
        return sr_err_set(err, SR_ENOMEM, "out of memory instantiating a wasm module");
    inst->mod = m;
    if (lim)
        inst->lim = *lim;
    if (!inst->lim.max_depth)
        inst->lim.max_depth = SR_WASM_DEFAULT_DEPTH;
    if (!inst->lim.max_stack)
        inst->lim.max_stack = SR_WASM_DEFAULT_STACK;
    if (!inst->lim.max_table)
        inst->lim.max_table = SR_WASM_DEFAULT_TABLE;
    inst->ex.fuel = inst->lim.fuel ? inst->lim.fuel : UINT64_MAX;
    inst->funcs = calloc((size_t)m->nfuncs + 1, sizeof(*inst->funcs));
    inst->own_funcs = calloc((size_t)m->ncodes + 1, sizeof(*inst->own_funcs));
    inst->tables = calloc((size_t)m->ntables + 1, sizeof(*inst->tables));
    inst->globals = calloc((size_t)m->nglobals + 1, sizeof(*inst->globals));
    inst->own_globals =
        calloc((size_t)(m->nglobals - m->nglobal_imports) + 1, sizeof(*inst->own_globals));
    inst->elem_items = calloc((size_t)m->nelems + 1, sizeof(*inst->elem_items));
    inst->elem_len = calloc((size_t)m->nelems + 1, sizeof(*inst->elem_len));
    inst->data_dropped = calloc((size_t)m->ndatas + 1, 1);
    inst->mem = &inst->own_mem;
    *out = inst;
    if (!inst->funcs || !inst->own_funcs || !inst->tables || !inst->globals || !inst->own_globals ||
        !inst->elem_items || !inst->elem_len || !inst->data_dropped)
        return sr_err_set(err, SR_ENOMEM, "out of memory instantiating a wasm module");
    return SR_OK;
}

/* Spec 4.5.4 steps before any guest-visible effect. */
static sr_status
inst_prepare(const sr_wasm_linker *lk, const sr_wasm_module *m, const struct sr_wasm_limits *lim,
             sr_wasm_instance **out, sr_err *err)
{
    sr_wasm_instance *inst = NULL;
    sr_status st = inst_alloc(m, lim, &inst, err);
    if (st == SR_OK)
        st = link_imports(inst, lk, err);
    if (st == SR_OK)
        st = alloc_memory(inst, err);
    if (st == SR_OK)
        st = alloc_tables(inst, err);
    if (st == SR_OK)
        st = alloc_funcs_globals(inst, err);
    if (st == SR_OK)
        st = ensure_exec(inst, err);
    if (st != SR_OK) {
        instance_free(inst);
        return st;
    }
    *out = inst;
    return SR_OK;
}

/* Segments and start: may trap after writing to shared tables and memories. */
static sr_status
inst_run_init(sr_wasm_instance *inst, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    sr_wasm_trap t = SR_WASM_TRAP_NONE;
    for (uint32_t i = 0; i < m->nelems && t == SR_WASM_TRAP_NONE; i++) {
        const struct sr_wasm__elem *e = &m->elems[i];
        if (e->mode == SR_WASM__SEG_ACTIVE) {
            const uint64_t off = (uint32_t)eval_cexpr(inst, &e->offset);
            t = sr_wasm__table_init(inst, e->table, i, off, 0, e->count);
        }
        if (e->mode != SR_WASM__SEG_PASSIVE)
            inst->elem_len[i] = 0;
    }
    for (uint32_t i = 0; i < m->ndatas && t == SR_WASM_TRAP_NONE; i++) {
        const struct sr_wasm__data *d = &m->datas[i];
        if (d->mode != SR_WASM__SEG_ACTIVE)
            continue;
        const uint64_t off = (uint32_t)eval_cexpr(inst, &d->offset);
        t = sr_wasm__memory_init(inst, i, off, 0, d->len);
        inst->data_dropped[i] = 1;
    }
    if (t == SR_WASM_TRAP_NONE && m->has_start)
        t = run(inst, inst->funcs[m->start]);
    inst->ex.trap = t;
    if (t != SR_WASM_TRAP_NONE)
        return set_trap_err(inst, t, err);
    return SR_OK;
}

sr_status
sr_wasm_instance_new(const sr_wasm_module *mod, const struct sr_wasm_limits *lim,
                     sr_wasm_instance **out, sr_err *err)
{
    sr_wasm_instance *inst = NULL;
    if (mod->nimports > 0)
        return sr_err_set(err, SR_EINVAL, "unknown import '%s.%s' (no linker given)",
                          mod->imports[0].module, mod->imports[0].name);
    sr_status st = inst_prepare(NULL, mod, lim, &inst, err);
    if (st != SR_OK)
        return st;
    if ((st = inst_run_init(inst, err)) != SR_OK) {
        instance_free(inst);
        return st;
    }
    *out = inst;
    return SR_OK;
}

/* ---- calls ------------------------------------------------------------------------------------
 */

static const struct sr_wasm__export *
find_export_n(const sr_wasm_module *m, const char *name, size_t len, uint8_t kind)
{
    const struct sr_wasm__export *e = sr_wasm__find_export(m, name, len);
    return e && e->kind == kind ? e : NULL;
}

static const struct sr_wasm__export *
find_export(const sr_wasm_module *m, const char *name, uint8_t kind)
{
    return find_export_n(m, name, strlen(name), kind);
}

sr_status
sr_wasm_call(sr_wasm_instance *inst, const char *name, const uint64_t *args, size_t nargs,
             uint64_t *results, size_t nresults, sr_err *err)
{
    return sr_wasm_call_n(inst, name, strlen(name), args, nargs, results, nresults, err);
}

sr_status
sr_wasm_call_n(sr_wasm_instance *inst, const char *name, size_t name_len, const uint64_t *args,
               size_t nargs, uint64_t *results, size_t nresults, sr_err *err)
{
    const struct sr_wasm__export *e = find_export_n(inst->mod, name, name_len, SR_WASM_EXTERN_FUNC);
    if (!e)
        return sr_err_set(err, SR_ENOTFOUND, "no exported function '%s'", name);
    const struct sr_wasm__func *f = inst->funcs[e->index];
    if (nargs != f->type->nparams || nresults != f->type->nresults)
        return sr_err_set(
            err, SR_EINVAL,
            "function '%s' takes %u arguments and returns %u results, got %zu and %zu", name,
            f->type->nparams, f->type->nresults, nargs, nresults);
    if (inst->running)
        return sr_err_set(err, SR_ECONFLICT, "wasm instance is already running (re-entrant call)");
    sr_status st = ensure_exec(inst, err);
    if (st != SR_OK)
        return st;
    if (nargs)
        memcpy(inst->ex.stack, args, nargs * sizeof(uint64_t));
    const sr_wasm_trap t = run(inst, f);
    if (t != SR_WASM_TRAP_NONE)
        return set_trap_err(inst, t, err);
    if (nresults)
        memcpy(results, inst->ex.stack, nresults * sizeof(uint64_t));
    return SR_OK;
}

sr_status
sr_wasm_global_read(const sr_wasm_instance *inst, const char *name, int *type, uint64_t *value,
                    sr_err *err)
{
    const struct sr_wasm__export *e = find_export(inst->mod, name, SR_WASM_EXTERN_GLOBAL);
    if (!e)
        return sr_err_set(err, SR_ENOTFOUND, "no exported global '%s'", name);
    *type = inst->globals[e->index]->type;
    *value = inst->globals[e->index]->val;
    return SR_OK;
}

sr_wasm_trap
sr_wasm_instance_trap(const sr_wasm_instance *inst)
{
    return inst->ex.trap;
}

uint64_t
sr_wasm_instance_fuel_used(const sr_wasm_instance *inst)
{
    return inst->fuel_used;
}

uint32_t
sr_wasm_instance_exit_code(const sr_wasm_instance *inst)
{
    return inst->ex.exit_code;
}

bool
sr_wasm_instance_limit_hit(const sr_wasm_instance *inst)
{
    bool hit = inst->mem->limit_hit;
    for (uint32_t i = 0; i < inst->mod->ntables; i++)
        hit |= inst->tables[i]->limit_hit;
    return hit;
}

sr_status
sr_wasm_host_trap(sr_wasm_instance *caller, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(caller->ex.msg, sizeof(caller->ex.msg), fmt, ap);
    va_end(ap);
    caller->ex.trap = SR_WASM_TRAP_HOST;
    return SR_ETRAP;
}

sr_status
sr_wasm_host_exit(sr_wasm_instance *caller, uint32_t code)
{
    caller->ex.trap = SR_WASM_TRAP_EXIT;
    caller->ex.exit_code = code;
    return SR_ETRAP;
}

uint8_t *
sr_wasm_guest_bytes(sr_wasm_instance *inst, uint64_t ptr, uint64_t len)
{
    const struct sr_wasm__mem *m = inst->mem;
    if (!m->data || ptr > m->size || len > m->size - ptr)
        return NULL;
    return m->data + ptr;
}

/* ---- linker -----------------------------------------------------------------------------------
 */

sr_status
sr_wasm_linker_new(sr_wasm_linker **out, sr_err *err)
{
    sr_wasm_linker *lk = calloc(1, sizeof(*lk));
    if (!lk)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating a wasm linker");
    *out = lk;
    return SR_OK;
}

void
sr_wasm_linker_free(sr_wasm_linker *lk)
{
    if (!lk)
        return;
    for (size_t i = 0; i < lk->n; i++) {
        free(lk->v[i].module);
        free(lk->v[i].name);
    }
    free(lk->v);
    while (lk->instances) {
        sr_wasm_instance *next = lk->instances->next;
        instance_free(lk->instances);
        lk->instances = next;
    }
    while (lk->hosts) {
        struct host_func *next = lk->hosts->next;
        free(lk->hosts);
        lk->hosts = next;
    }
    free(lk);
}

static sr_status
lk_add(sr_wasm_linker *lk, const char *module, const char *name, size_t name_len, uint8_t kind,
       void *obj, sr_err *err)
{
    if (lk->n == lk->cap) {
        const size_t cap = lk->cap ? lk->cap * 2 : 32;
        struct lk_entry *v = realloc(lk->v, cap * sizeof(*v));
        if (!v)
            return sr_err_set(err, SR_ENOMEM, "out of memory in the wasm linker");
        lk->v = v;
        lk->cap = cap;
    }
    struct lk_entry *e = &lk->v[lk->n];
    e->module = strdup(module);
    e->name = malloc(name_len + 1);
    if (!e->module || !e->name) {
        free(e->module);
        free(e->name);
        return sr_err_set(err, SR_ENOMEM, "out of memory in the wasm linker");
    }
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    e->name_len = name_len;
    e->kind = kind;
    e->obj = obj;
    lk->n++;
    return SR_OK;
}

static int
sig_type(char c)
{
    switch (c) {
    case 'i':
        return SR_WASM_I32;
    case 'I':
        return SR_WASM_I64;
    case 'f':
        return SR_WASM_F32;
    case 'F':
        return SR_WASM_F64;
    case 'r':
        return SR_WASM_EXTERNREF;
    case 'R':
        return SR_WASM_FUNCREF;
    default:
        return -1;
    }
}

sr_status
sr_wasm_linker_define_func(sr_wasm_linker *lk, const char *module, const char *name,
                           const char *sig, sr_wasm_host_fn fn, void *ctx, sr_err *err)
{
    struct host_func *h = calloc(1, sizeof(*h));
    if (!h)
        return sr_err_set(err, SR_ENOMEM, "out of memory defining host function '%s.%s'", module,
                          name);
    uint32_t n = 0, np = 0;
    bool results = false;
    for (const char *p = sig; *p; p++) {
        if (*p == ':' && !results) {
            results = true;
            np = n;
            continue;
        }
        const int t = sig_type(*p);
        if (t < 0 || n >= sizeof(h->types)) {
            free(h);
            return sr_err_set(err, SR_EINVAL, "bad signature '%s' for host function '%s.%s'", sig,
                              module, name);
        }
        h->types[n++] = (uint8_t)t;
    }
    if (!results)
        np = n;
    h->type = (struct sr_wasm__functype){.nparams = np, .nresults = n - np, .types = h->types};
    h->fn = (struct sr_wasm__func){.type = &h->type, .host = fn, .host_ctx = ctx};
    h->next = lk->hosts;
    lk->hosts = h;
    return lk_add(lk, module, name, strlen(name), SR_WASM_EXTERN_FUNC, &h->fn, err);
}

sr_status
sr_wasm_linker_register(sr_wasm_linker *lk, const char *as, sr_wasm_instance *inst, sr_err *err)
{
    const struct sr_wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const struct sr_wasm__export *e = &m->exports[i];
        void *obj = e->kind == SR_WASM_EXTERN_FUNC     ? (void *)inst->funcs[e->index]
                    : e->kind == SR_WASM_EXTERN_TABLE  ? (void *)inst->tables[e->index]
                    : e->kind == SR_WASM_EXTERN_MEMORY ? (void *)inst->mem
                                                       : (void *)inst->globals[e->index];
        sr_status st = lk_add(lk, as, e->name, e->name_len, e->kind, obj, err);
        if (st != SR_OK)
            return st;
    }
    return SR_OK;
}

sr_status
sr_wasm_linker_instantiate(sr_wasm_linker *lk, const sr_wasm_module *mod,
                           const struct sr_wasm_limits *lim, sr_wasm_instance **out, sr_err *err)
{
    sr_wasm_instance *inst = NULL;
    sr_status st = inst_prepare(lk, mod, lim, &inst, err);
    if (st != SR_OK)
        return st;
    /* From here the instance may be referenced from shared tables: the linker keeps
     * it, and the caller gets it even when the start function traps (its trap,
     * exit code and fuel used are the result of that run). */
    inst->next = lk->instances;
    lk->instances = inst;
    *out = inst;
    return inst_run_init(inst, err);
}
