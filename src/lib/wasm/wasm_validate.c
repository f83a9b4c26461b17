/* SPDX-License-Identifier: MIT
 *
 * wasm_validate.c - module-level validation (constant expressions, export
 * names), the validation work budget, the fuel cost table, and the module
 * object's lifecycle and introspection. Function bodies are validated by
 * wasm_compile.c.
 */
#include "wasm_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"

static sr_status
cexpr_value(struct sr_wasm__rd *r, struct sr_wasm_module *m, uint32_t nvis, uint8_t op,
            struct sr_wasm__cexpr *out)
{
    sr_status st = SR_OK;
    const uint8_t *p = NULL;
    int32_t v32 = 0;
    int64_t v64 = 0;

    switch (op) {
    case 0x41:
        st = sr_wasm__rd_s32(r, &v32);
        *out = (struct sr_wasm__cexpr){
            .kind = SR_WASM__CE_CONST, .type = SR_WASM_I32, .bits = (uint32_t)v32};
        return st;
    case 0x42:
        st = sr_wasm__rd_s64(r, &v64);
        *out = (struct sr_wasm__cexpr){
            .kind = SR_WASM__CE_CONST, .type = SR_WASM_I64, .bits = (uint64_t)v64};
        return st;
    case 0x43:
    case 0x44: {
        const size_t n = op == 0x43 ? 4 : 8;
        uint64_t bits = 0;
        if ((st = sr_wasm__rd_bytes(r, n, &p)) != SR_OK)
            return st;
        memcpy(&bits, p, n); /* little-endian host (x86-64, aarch64) */
        *out = (struct sr_wasm__cexpr){.kind = SR_WASM__CE_CONST,
                                       .type = op == 0x43 ? SR_WASM_F32 : SR_WASM_F64,
                                       .bits = bits};
        return SR_OK;
    }
    case 0x23: {
        uint32_t g = 0;
        if ((st = sr_wasm__rd_u32(r, &g)) != SR_OK)
            return st;
        if (g >= nvis)
            return sr_wasm__invalid(r->err, "unknown global %u in a constant expression", g);
        if (m->globals[g].mut)
            return sr_wasm__invalid(r->err, "constant expression required (global %u is mutable)",
                                    g);
        *out = (struct sr_wasm__cexpr){
            .kind = SR_WASM__CE_GLOBAL, .type = m->globals[g].type, .index = g};
        return SR_OK;
    }
    case 0xd0: {
        uint8_t t = 0;
        if ((st = sr_wasm__rd_u8(r, &t)) != SR_OK)
            return st;
        if (t != SR_WASM_FUNCREF && t != SR_WASM_EXTERNREF)
            return sr_wasm__malformed(r, "malformed reference type");
        *out = (struct sr_wasm__cexpr){.kind = SR_WASM__CE_NULL, .type = t};
        return SR_OK;
    }
    case 0xd2: {
        uint32_t f = 0;
        if ((st = sr_wasm__rd_u32(r, &f)) != SR_OK)
            return st;
        if (f >= m->nfuncs)
            return sr_wasm__invalid(r->err, "unknown function %u in a constant expression", f);
        m->declared[f] = 1;
        *out =
            (struct sr_wasm__cexpr){.kind = SR_WASM__CE_FUNC, .type = SR_WASM_FUNCREF, .index = f};
        return SR_OK;
    }
    case 0x0b:
        return sr_wasm__invalid(r->err, "type mismatch: empty constant expression");
    default:
        return sr_wasm__invalid(r->err, "constant expression required (opcode 0x%02x)", op);
    }
}

sr_status
sr_wasm__read_cexpr(struct sr_wasm__rd *r, struct sr_wasm_module *m, uint32_t nglobals_visible,
                    uint8_t want, struct sr_wasm__cexpr *out)
{
    uint8_t op = 0;
    sr_status st = sr_wasm__rd_u8(r, &op);
    if (st != SR_OK)
        return st;
    if ((st = cexpr_value(r, m, nglobals_visible, op, out)) != SR_OK)
        return st;
    if ((st = sr_wasm__rd_u8(r, &op)) != SR_OK)
        return st;
    if (op != 0x0b)
        return sr_wasm__invalid(r->err,
                                "type mismatch: constant expression must be one "
                                "instruction (found opcode 0x%02x)",
                                op);
    if (out->type != want)
        return sr_wasm__invalid(r->err,
                                "type mismatch: constant expression of type 0x%02x, "
                                "expected 0x%02x",
                                out->type, want);
    return SR_OK;
}

bool
sr_wasm__functype_eq(const struct sr_wasm__functype *a, const struct sr_wasm__functype *b)
{
    if (a == b)
        return true;
    return a->nparams == b->nparams && a->nresults == b->nresults &&
           memcmp(a->types, b->types, (size_t)a->nparams + a->nresults) == 0;
}

/* Export names ordered by length, then bytes: the order of export_order. */
static int
cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

static int
cmp_export(const void *x, const void *y)
{
    const struct sr_wasm__export *a = *(const struct sr_wasm__export *const *)x;
    const struct sr_wasm__export *b = *(const struct sr_wasm__export *const *)y;
    return cmp_name(a->name, a->name_len, b->name, b->name_len);
}

/* Sorts the exports by name once: duplicates are then neighbours (O(n log n)
 * comparisons, never a pair-wise check), and lookups by name are binary
 * searches. */
sr_status
sr_wasm__validate_module(struct sr_wasm_module *m, sr_err *err)
{
    m->export_order = calloc((size_t)m->nexports + 1, sizeof(*m->export_order));
    if (!m->export_order)
        return sr_err_set(err, SR_ENOMEM, "out of memory validating exports");
    for (uint32_t i = 0; i < m->nexports; i++)
        m->export_order[i] = &m->exports[i];
    if (m->nexports > 1)
        qsort(m->export_order, m->nexports, sizeof(*m->export_order), cmp_export);
    for (uint32_t i = 1; i < m->nexports; i++)
        if (cmp_export(&m->export_order[i - 1], &m->export_order[i]) == 0)
            return sr_wasm__invalid(err, "duplicate export name '%s'", m->export_order[i]->name);
    return SR_OK;
}

const struct sr_wasm__export *
sr_wasm__find_export(const struct sr_wasm_module *m, const char *name, size_t len)
{
    size_t lo = 0, hi = m->nexports;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const struct sr_wasm__export *e = m->export_order[mid];
        const int c = cmp_name(e->name, e->name_len, name, len);
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

sr_status
sr_wasm__work(struct sr_wasm_module *m, uint64_t n, sr_err *err)
{
    const uint64_t budget = (uint64_t)SR_WASM__WORK_PER_BYTE * m->len + SR_WASM__WORK_BASE;
    m->work += n;
    if (m->work <= budget)
        return SR_OK;
    return sr_wasm__invalid(err,
                            "validating this module takes more than %llu steps (%u per byte of "
                            "its %zu bytes, the cap): its functions pass values of high arity "
                            "through many blocks or branches",
                            (unsigned long long)budget, SR_WASM__WORK_PER_BYTE, m->len);
}

/* The fuel plan: the cost of each Wasm operator, charged when the basic block
 * that contains it is entered. Keep in sync with docs/wasm.md. Operators with
 * a size operand (bulk memory and tables, grow) pay extra at run time. */
uint32_t
sr_wasm__op_cost(uint32_t op)
{
    switch (op) {
    case 0x01: /* nop */
    case 0x02: /* block */
    case 0x03: /* loop */
    case 0x05: /* else */
    case 0x0b: /* end */
        return 0;
    case 0x10: /* call */
        return 5;
    case 0x11: /* call_indirect */
        return 6;
    case 0x6d:
    case 0x6e:
    case 0x6f:
    case 0x70: /* i32 div/rem */
    case 0x7f:
    case 0x80:
    case 0x81:
    case 0x82: /* i64 div/rem */
    case 0x95:
    case 0x91:
    case 0xa3:
    case 0x9f: /* f32/f64 div, sqrt */
        return 3;
    case 0x40:   /* memory.grow */
    case 0xfc0f: /* table.grow */
        return 10;
    case 0xfc08:
    case 0xfc0a:
    case 0xfc0b: /* memory.init, copy, fill */
    case 0xfc0c:
    case 0xfc0e:
    case 0xfc11: /* table.init, copy, fill */
        return 5;
    default:
        return 1;
    }
}

static void
module_free_parts(struct sr_wasm_module *m)
{
    free(m->types);
    free(m->type_bytes);
    free(m->imports);
    free(m->import_names);
    free(m->func_types);
    free(m->tables);
    free(m->globals);
    free(m->exports);
    free(m->export_names);
    free(m->export_order);
    for (uint32_t i = 0; i < m->nelems; i++)
        free(m->elems[i].items);
    free(m->elems);
    free(m->datas);
    for (uint32_t i = 0; m->codes && i < m->ncodes; i++)
        free(m->codes[i].code);
    free(m->codes);
    free(m->declared);
    free(m->bytes);
}

void
sr_wasm_module_free(sr_wasm_module *mod)
{
    if (!mod)
        return;
    module_free_parts(mod);
    free(mod);
}

sr_status
sr_wasm_module_new(const uint8_t *bytes, size_t len, sr_wasm_module **out, sr_err *err)
{
    sr_status st;
    if (len > SR_MAX_MODULE)
        return sr_err_set(err, SR_ELIMIT, "wasm module of %zu bytes exceeds the cap of %u bytes",
                          len, SR_MAX_MODULE);
    sr_wasm_module *m = calloc(1, sizeof(*m));
    if (!m)
        return sr_err_set(err, SR_ENOMEM, "out of memory loading a wasm module");
    m->bytes = malloc(len ? len : 1);
    if (!m->bytes) {
        free(m);
        return sr_err_set(err, SR_ENOMEM, "out of memory loading a wasm module");
    }
    if (len)
        memcpy(m->bytes, bytes, len);
    m->len = len;
    st = sr_wasm__parse(m, err);
    if (st == SR_OK)
        st = sr_wasm__validate_module(m, err);
    if (st == SR_OK)
        st = sr_wasm__compile_all(m, err);
    if (st != SR_OK) {
        sr_wasm_module_free(m);
        return st;
    }
    *out = m;
    return SR_OK;
}

size_t
sr_wasm_module_import_count(const sr_wasm_module *mod)
{
    return mod->nimports;
}

size_t
sr_wasm_module_export_count(const sr_wasm_module *mod)
{
    return mod->nexports;
}

bool
sr_wasm_module_import(const sr_wasm_module *mod, size_t i, struct sr_wasm_extern_info *out)
{
    if (i >= mod->nimports)
        return false;
    const struct sr_wasm__import *im = &mod->imports[i];
    *out = (struct sr_wasm_extern_info){.module = im->module,
                                        .name = im->name,
                                        .name_len = im->name_len,
                                        .kind = im->kind,
                                        .index = im->index};
    return true;
}

bool
sr_wasm_module_export(const sr_wasm_module *mod, size_t i, struct sr_wasm_extern_info *out)
{
    if (i >= mod->nexports)
        return false;
    const struct sr_wasm__export *e = &mod->exports[i];
    *out = (struct sr_wasm_extern_info){.module = NULL,
                                        .name = e->name,
                                        .name_len = e->name_len,
                                        .kind = e->kind,
                                        .index = e->index};
    return true;
}
