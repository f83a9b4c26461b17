/* SPDX-License-Identifier: MIT
 *
 * wasm_parse.c - the binary decoder: header, section order and sizes, and
 * every known section (custom, type, import, function, table, memory, global,
 * export, start, element, data count, code, data).
 *
 * Index checks that the spec calls validation ("unknown type", "unknown
 * function") are done here as the indices are read, with "invalid:" messages;
 * structural problems get "malformed:" messages with the byte offset.
 * Function bodies are only delimited here; wasm_compile.c validates them.
 *
 * Every allocation is sized by bytes already read: a vector's length is
 * checked against the bytes left before anything is allocated for it
 * (sr_wasm__rd_count), the value types of all function types and the names
 * of all imports (and of all exports) share one allocation the size of their
 * section, and local declarations are kept as the bytes that declare them.
 */
#include "wasm_int.h"

#include <stdlib.h>
#include <string.h>

/* Section ids in the order the spec requires them (custom sections aside). */
static int
section_rank(uint8_t id)
{
    static const int rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return rank[id];
}

static void *
alloc_array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static sr_status
oom(sr_err *err, const char *what)
{
    return sr_err_set(err, SR_ENOMEM, "out of memory decoding the %s section", what);
}

/* The names of one section, each NUL-terminated, in one allocation: a name
 * of n bytes takes n + 1, and it took at least as many bytes of the section
 * (its length, then its bytes), so the section's size is enough. */
struct names {
    char *buf;
    size_t used, cap;
};

static sr_status
names_init(struct sr_wasm__rd *r, struct names *nm, char **owner, const char *what)
{
    nm->cap = (size_t)(r->end - r->p) + 1;
    nm->used = 0;
    nm->buf = *owner = malloc(nm->cap);
    return nm->buf ? SR_OK : oom(r->err, what);
}

static sr_status
read_name_bytes(struct sr_wasm__rd *r, const uint8_t **p, uint32_t *n)
{
    sr_status st = sr_wasm__rd_u32(r, n);
    if (st == SR_OK)
        st = sr_wasm__rd_bytes(r, *n, p);
    if (st == SR_OK && !sr_wasm__utf8_valid(*p, *n))
        return sr_wasm__malformed(r, "malformed UTF-8 encoding");
    return st;
}

static sr_status
read_name(struct sr_wasm__rd *r, struct names *nm, char **out, size_t *out_len)
{
    uint32_t n = 0;
    const uint8_t *p = NULL;
    sr_status st = read_name_bytes(r, &p, &n);
    if (st != SR_OK)
        return st;
    if (nm->cap - nm->used < (size_t)n + 1) /* cannot happen: see struct names */
        return sr_err_set(r->err, SR_EINTERNAL, "name storage of the section is too small");
    *out = nm->buf + nm->used;
    memcpy(*out, p, n);
    (*out)[n] = '\0';
    nm->used += (size_t)n + 1;
    *out_len = n;
    return SR_OK;
}

static sr_status
read_valtype(struct sr_wasm__rd *r, uint8_t *t)
{
    sr_status st = sr_wasm__rd_u8(r, t);
    if (st != SR_OK)
        return st;
    switch (*t) {
    case SR_WASM_I32:
    case SR_WASM_I64:
    case SR_WASM_F32:
    case SR_WASM_F64:
    case SR_WASM_FUNCREF:
    case SR_WASM_EXTERNREF:
        return SR_OK;
    case SR_WASM__T_V128:
        r->p--;
        return sr_err_set(r->err, SR_EINVAL,
                          "invalid: SIMD (v128) is not supported at offset 0x%zx",
                          (size_t)(r->p - r->base));
    default:
        r->p--;
        return sr_wasm__malformed(r, "malformed value type");
    }
}

static sr_status
read_reftype(struct sr_wasm__rd *r, uint8_t *t)
{
    sr_status st = sr_wasm__rd_u8(r, t);
    if (st != SR_OK)
        return st;
    if (*t != SR_WASM_FUNCREF && *t != SR_WASM_EXTERNREF) {
        r->p--;
        return sr_wasm__malformed(r, "malformed reference type");
    }
    return SR_OK;
}

static sr_status
read_limits(struct sr_wasm__rd *r, struct sr_wasm__lim *lim)
{
    uint8_t flag = 0;
    sr_status st = sr_wasm__rd_u8(r, &flag);
    if (st != SR_OK)
        return st;
    if (flag > 1) {
        r->p--;
        return sr_wasm__malformed(r, "integer too large (limits flag)");
    }
    st = sr_wasm__rd_u32(r, &lim->min);
    if (st != SR_OK)
        return st;
    lim->has_max = flag == 1;
    lim->max = UINT32_MAX;
    if (lim->has_max)
        st = sr_wasm__rd_u32(r, &lim->max);
    return st;
}

static sr_status
check_mem_limits(const struct sr_wasm__lim *lim, sr_err *err)
{
    if (lim->min > SR_WASM_MAX_PAGES || (lim->has_max && lim->max > SR_WASM_MAX_PAGES))
        return sr_wasm__invalid(err, "memory size must be at most 65536 pages (4GiB)");
    if (lim->has_max && lim->min > lim->max)
        return sr_wasm__invalid(err, "size minimum must not be greater than maximum");
    return SR_OK;
}

static sr_status
check_table_limits(const struct sr_wasm__lim *lim, sr_err *err)
{
    if (lim->has_max && lim->min > lim->max)
        return sr_wasm__invalid(err, "size minimum must not be greater than maximum");
    return SR_OK;
}

static sr_status
read_valtypes(struct sr_wasm__rd *r, const char *what, uint8_t *out, uint32_t *n)
{
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_TYPE_ARITY, 1, what, n);
    for (uint32_t k = 0; k < *n && st == SR_OK; k++)
        st = read_valtype(r, &out[k]);
    return st;
}

static sr_status
parse_types(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_TYPES, 3, "function types", &n);
    if (st != SR_OK)
        return st;
    m->types = alloc_array(n, sizeof(*m->types));
    /* each value type is one byte of this section: its size is enough for all */
    m->type_bytes = malloc((size_t)(r->end - r->p) + 1);
    if (!m->types || !m->type_bytes)
        return oom(r->err, "type");
    size_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__functype *ft = &m->types[i];
        uint8_t *t = m->type_bytes + used;
        uint8_t form = 0;
        uint32_t np = 0, nr = 0;
        if ((st = sr_wasm__rd_u8(r, &form)) != SR_OK)
            return st;
        if (form != 0x60)
            return sr_wasm__malformed(r, "integer representation too long (function type form)");
        if ((st = read_valtypes(r, "parameters of one function type", t, &np)) != SR_OK ||
            (st = read_valtypes(r, "results of one function type", t + np, &nr)) != SR_OK)
            return st;
        *ft = (struct sr_wasm__functype){.nparams = np, .nresults = nr, .types = t};
        used += (size_t)np + nr;
    }
    m->ntypes = n;
    return SR_OK;
}

static sr_status
parse_import_desc(struct sr_wasm__rd *r, struct sr_wasm_module *m, struct sr_wasm__import *im)
{
    sr_status st = sr_wasm__rd_u8(r, &im->kind);
    if (st != SR_OK)
        return st;
    switch (im->kind) {
    case SR_WASM_EXTERN_FUNC:
        if ((st = sr_wasm__rd_u32(r, &im->type)) != SR_OK)
            return st;
        if (im->type >= m->ntypes)
            return sr_wasm__invalid(r->err, "unknown type %u in import '%s.%s'", im->type,
                                    im->module, im->name);
        im->index = m->nfunc_imports++;
        return SR_OK;
    case SR_WASM_EXTERN_TABLE:
        if ((st = read_reftype(r, &im->vtype)) != SR_OK || (st = read_limits(r, &im->lim)))
            return st;
        im->index = m->ntable_imports++;
        if (m->ntable_imports > SR_WASM__MAX_TABLES)
            return sr_wasm__invalid(r->err, "more than %u tables (imported and defined)",
                                    SR_WASM__MAX_TABLES);
        return check_table_limits(&im->lim, r->err);
    case SR_WASM_EXTERN_MEMORY:
        if ((st = read_limits(r, &im->lim)) != SR_OK)
            return st;
        im->index = m->nmem_imports++;
        m->mem = im->lim;
        return check_mem_limits(&im->lim, r->err);
    case SR_WASM_EXTERN_GLOBAL: {
        uint8_t mut = 0;
        if ((st = read_valtype(r, &im->vtype)) != SR_OK || (st = sr_wasm__rd_u8(r, &mut)))
            return st;
        if (mut > 1)
            return sr_wasm__malformed(r, "malformed mutability");
        im->mut = mut == 1;
        im->index = m->nglobal_imports++;
        return SR_OK;
    }
    default:
        r->p--;
        return sr_wasm__malformed(r, "malformed import kind");
    }
}

static sr_status
parse_imports(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    struct names nm;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_IMPORTS, 4, "imports", &n);
    if (st != SR_OK || (st = names_init(r, &nm, &m->import_names, "import")) != SR_OK)
        return st;
    m->imports = alloc_array(n, sizeof(*m->imports));
    if (!m->imports)
        return oom(r->err, "import");
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__import *im = &m->imports[i];
        m->nimports = i + 1;
        if ((st = read_name(r, &nm, &im->module, &im->module_len)) != SR_OK ||
            (st = read_name(r, &nm, &im->name, &im->name_len)) != SR_OK ||
            (st = parse_import_desc(r, m, im)) != SR_OK)
            return st;
    }
    if (m->nmem_imports > 1)
        return sr_wasm__invalid(r->err, "multiple memories");
    /* globals and tables of imports, indexed like defined ones */
    m->globals = alloc_array(m->nglobal_imports, sizeof(*m->globals));
    m->tables = alloc_array(m->ntable_imports, sizeof(*m->tables));
    m->func_types = alloc_array(m->nfunc_imports, sizeof(*m->func_types));
    if (!m->globals || !m->tables || !m->func_types)
        return oom(r->err, "import");
    uint32_t g = 0, t = 0, f = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        if (im->kind == SR_WASM_EXTERN_GLOBAL)
            m->globals[g++] = (struct sr_wasm__global_def){.type = im->vtype, .mut = im->mut};
        else if (im->kind == SR_WASM_EXTERN_TABLE)
            m->tables[t++] = (struct sr_wasm__table_def){.type = im->vtype, .lim = im->lim};
        else if (im->kind == SR_WASM_EXTERN_FUNC)
            m->func_types[f++] = im->type;
    }
    m->nglobals = g;
    m->ntables = t;
    m->nfuncs = f;
    m->nmems = m->nmem_imports;
    return SR_OK;
}

static sr_status
parse_functions(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_FUNCS, 1, "functions", &n);
    if (st != SR_OK)
        return st;
    if ((uint64_t)m->nfunc_imports + n > SR_WASM__MAX_FUNCS)
        return sr_wasm__invalid(r->err,
                                "%llu functions (imported and defined) exceed the cap of %u",
                                (unsigned long long)m->nfunc_imports + n, SR_WASM__MAX_FUNCS);
    uint32_t *ft = realloc(m->func_types, ((size_t)m->nfunc_imports + n + 1) * sizeof(*ft));
    if (!ft)
        return oom(r->err, "function");
    m->func_types = ft;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = 0;
        if ((st = sr_wasm__rd_u32(r, &t)) != SR_OK)
            return st;
        if (t >= m->ntypes)
            return sr_wasm__invalid(r->err, "unknown type %u for function %u", t,
                                    m->nfunc_imports + i);
        ft[m->nfunc_imports + i] = t;
    }
    m->nfuncs = m->nfunc_imports + n;
    m->ncodes = n;
    return SR_OK;
}

static sr_status
parse_tables(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_TABLES, 3, "tables", &n);
    if (st != SR_OK)
        return st;
    if ((uint64_t)m->ntables + n > SR_WASM__MAX_TABLES)
        return sr_wasm__invalid(r->err, "%llu tables (imported and defined) exceed the cap of %u",
                                (unsigned long long)m->ntables + n, SR_WASM__MAX_TABLES);
    struct sr_wasm__table_def *t =
        realloc(m->tables, ((size_t)m->ntables + n + 1) * sizeof(*m->tables));
    if (!t)
        return oom(r->err, "table");
    m->tables = t;
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__table_def *d = &m->tables[m->ntables];
        if ((st = read_reftype(r, &d->type)) != SR_OK || (st = read_limits(r, &d->lim)) != SR_OK)
            return st;
        m->ntables++;
        if ((st = check_table_limits(&d->lim, r->err)) != SR_OK)
            return st;
    }
    return SR_OK;
}

static sr_status
parse_memories(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, UINT32_MAX, 2, "memories", &n);
    if (st != SR_OK)
        return st;
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__lim lim = {0};
        if ((st = read_limits(r, &lim)) != SR_OK)
            return st;
        if ((st = check_mem_limits(&lim, r->err)) != SR_OK)
            return st;
        if (m->nmems >= 1)
            return sr_wasm__invalid(r->err, "multiple memories");
        m->mem = lim;
        m->nmems++;
    }
    return SR_OK;
}

static sr_status
parse_globals(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_GLOBALS, 3, "globals", &n);
    if (st != SR_OK)
        return st;
    if ((uint64_t)m->nglobals + n > SR_WASM__MAX_GLOBALS)
        return sr_wasm__invalid(r->err, "%llu globals (imported and defined) exceed the cap of %u",
                                (unsigned long long)m->nglobals + n, SR_WASM__MAX_GLOBALS);
    struct sr_wasm__global_def *g =
        realloc(m->globals, ((size_t)m->nglobals + n + 1) * sizeof(*m->globals));
    if (!g)
        return oom(r->err, "global");
    m->globals = g;
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__global_def *d = &m->globals[m->nglobals];
        uint8_t mut = 0;
        memset(d, 0, sizeof(*d));
        if ((st = read_valtype(r, &d->type)) != SR_OK || (st = sr_wasm__rd_u8(r, &mut)) != SR_OK)
            return st;
        if (mut > 1)
            return sr_wasm__malformed(r, "malformed mutability");
        d->mut = mut == 1;
        st = sr_wasm__read_cexpr(r, m, m->nglobal_imports, d->type, &d->init);
        if (st != SR_OK)
            return st;
        m->nglobals++;
    }
    return SR_OK;
}

static sr_status
check_extern_index(struct sr_wasm__rd *r, const struct sr_wasm_module *m, uint8_t kind,
                   uint32_t index)
{
    static const char *const names[] = {"function", "table", "memory", "global"};
    const uint32_t limit = kind == SR_WASM_EXTERN_FUNC     ? m->nfuncs
                           : kind == SR_WASM_EXTERN_TABLE  ? m->ntables
                           : kind == SR_WASM_EXTERN_MEMORY ? m->nmems
                                                           : m->nglobals;
    if (index >= limit)
        return sr_wasm__invalid(r->err, "unknown %s %u", names[kind], index);
    return SR_OK;
}

static sr_status
parse_exports(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    struct names nm;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_EXPORTS, 3, "exports", &n);
    if (st != SR_OK || (st = names_init(r, &nm, &m->export_names, "export")) != SR_OK)
        return st;
    m->exports = alloc_array(n, sizeof(*m->exports));
    if (!m->exports)
        return oom(r->err, "export");
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__export *e = &m->exports[i];
        m->nexports = i + 1;
        if ((st = read_name(r, &nm, &e->name, &e->name_len)) != SR_OK ||
            (st = sr_wasm__rd_u8(r, &e->kind)) != SR_OK)
            return st;
        if (e->kind > SR_WASM_EXTERN_GLOBAL) {
            r->p--;
            return sr_wasm__malformed(r, "malformed export kind");
        }
        if ((st = sr_wasm__rd_u32(r, &e->index)) != SR_OK ||
            (st = check_extern_index(r, m, e->kind, e->index)) != SR_OK)
            return st;
        if (e->kind == SR_WASM_EXTERN_FUNC)
            m->declared[e->index] = 1;
    }
    return SR_OK;
}

static sr_status
parse_start(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    sr_status st = sr_wasm__rd_u32(r, &m->start);
    if (st != SR_OK)
        return st;
    if (m->start >= m->nfuncs)
        return sr_wasm__invalid(r->err, "unknown function %u (start)", m->start);
    const struct sr_wasm__functype *ft = &m->types[m->func_types[m->start]];
    if (ft->nparams != 0 || ft->nresults != 0)
        return sr_wasm__invalid(r->err, "start function %u must have type [] -> []", m->start);
    m->has_start = true;
    return SR_OK;
}

static sr_status
parse_elem_items(struct sr_wasm__rd *r, struct sr_wasm_module *m, struct sr_wasm__elem *e,
                 bool exprs)
{
    sr_status st =
        sr_wasm__rd_count(r, SR_WASM__MAX_ELEMS, 1, "items of one element segment", &e->count);
    if (st != SR_OK)
        return st;
    e->items = alloc_array(e->count, sizeof(*e->items));
    if (!e->items)
        return oom(r->err, "element");
    for (uint32_t k = 0; k < e->count; k++) {
        struct sr_wasm__cexpr *ce = &e->items[k];
        if (exprs) {
            st = sr_wasm__read_cexpr(r, m, m->nglobal_imports, e->type, ce);
            if (st != SR_OK)
                return st;
            continue;
        }
        uint32_t f = 0;
        if ((st = sr_wasm__rd_u32(r, &f)) != SR_OK)
            return st;
        if (f >= m->nfuncs)
            return sr_wasm__invalid(r->err, "unknown function %u in element segment", f);
        *ce =
            (struct sr_wasm__cexpr){.kind = SR_WASM__CE_FUNC, .type = SR_WASM_FUNCREF, .index = f};
        m->declared[f] = 1;
    }
    return SR_OK;
}

static sr_status
parse_elem(struct sr_wasm__rd *r, struct sr_wasm_module *m, struct sr_wasm__elem *e)
{
    uint32_t flags = 0;
    sr_status st = sr_wasm__rd_u32(r, &flags);
    if (st != SR_OK)
        return st;
    if (flags > 7)
        return sr_wasm__malformed(r, "malformed elements segment kind");
    e->type = SR_WASM_FUNCREF;
    e->mode = !(flags & 1)  ? SR_WASM__SEG_ACTIVE
              : (flags & 2) ? SR_WASM__SEG_DECLARATIVE
                            : SR_WASM__SEG_PASSIVE;
    if (e->mode == SR_WASM__SEG_ACTIVE) {
        if ((flags & 2) && (st = sr_wasm__rd_u32(r, &e->table)) != SR_OK)
            return st;
        if ((st = sr_wasm__read_cexpr(r, m, m->nglobal_imports, SR_WASM_I32, &e->offset)))
            return st;
    }
    if (flags & 3) {
        uint8_t kind = 0;
        if (flags & 4) {
            if ((st = read_reftype(r, &e->type)) != SR_OK)
                return st;
        } else {
            if ((st = sr_wasm__rd_u8(r, &kind)) != SR_OK)
                return st;
            if (kind != 0)
                return sr_wasm__malformed(r, "malformed element kind");
        }
    }
    if ((st = parse_elem_items(r, m, e, (flags & 4) != 0)) != SR_OK)
        return st;
    if (e->mode == SR_WASM__SEG_ACTIVE) {
        if (e->table >= m->ntables)
            return sr_wasm__invalid(r->err, "unknown table %u in element segment", e->table);
        if (m->tables[e->table].type != e->type)
            return sr_wasm__invalid(r->err, "type mismatch: element segment and table %u",
                                    e->table);
    }
    return SR_OK;
}

static sr_status
parse_elems(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_SEGMENTS, 2, "element segments", &n);
    if (st != SR_OK)
        return st;
    m->elems = alloc_array(n, sizeof(*m->elems));
    if (!m->elems)
        return oom(r->err, "element");
    for (uint32_t i = 0; i < n; i++) {
        m->nelems = i + 1;
        if ((st = parse_elem(r, m, &m->elems[i])) != SR_OK)
            return st;
    }
    return SR_OK;
}

static sr_status
parse_datacount(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    m->has_datacount = true;
    return sr_wasm__rd_u32(r, &m->datacount);
}

static sr_status
parse_data(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_SEGMENTS, 2, "data segments", &n);
    if (st != SR_OK)
        return st;
    if (m->has_datacount && n != m->datacount)
        return sr_wasm__malformed(r, "data count and data section have inconsistent lengths");
    m->datas = alloc_array(n, sizeof(*m->datas));
    if (!m->datas)
        return oom(r->err, "data");
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__data *d = &m->datas[i];
        uint32_t flags = 0, mem = 0;
        m->ndatas = i + 1;
        if ((st = sr_wasm__rd_u32(r, &flags)) != SR_OK)
            return st;
        if (flags > 2)
            return sr_wasm__malformed(r, "malformed data segment kind");
        d->mode = flags == 1 ? SR_WASM__SEG_PASSIVE : SR_WASM__SEG_ACTIVE;
        if (flags == 2 && (st = sr_wasm__rd_u32(r, &mem)) != SR_OK)
            return st;
        if (d->mode == SR_WASM__SEG_ACTIVE) {
            if (mem >= m->nmems)
                return sr_wasm__invalid(r->err, "unknown memory %u in data segment %u", mem, i);
            if ((st = sr_wasm__read_cexpr(r, m, m->nglobal_imports, SR_WASM_I32, &d->offset)))
                return st;
        }
        if ((st = sr_wasm__rd_u32(r, &d->len)) != SR_OK ||
            (st = sr_wasm__rd_bytes(r, d->len, &d->bytes)) != SR_OK)
            return st;
    }
    return SR_OK;
}

/* Checks the local declarations and counts the locals; the declarations stay
 * in the module's bytes (wasm_compile.c reads them again), so a function's
 * locals cost nothing here however many they are. */
static sr_status
parse_locals(struct sr_wasm__rd *r, const struct sr_wasm_module *m, struct sr_wasm__code *c)
{
    const struct sr_wasm__functype *ft = &m->types[c->type];
    uint32_t ngroups = 0;
    uint64_t total = ft->nparams;
    sr_status st = sr_wasm__rd_count(r, UINT32_MAX, 2, "local declarations", &ngroups);
    if (st != SR_OK)
        return st;
    c->locals = r->p;
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t cnt = 0;
        uint8_t t = 0;
        if ((st = sr_wasm__rd_u32(r, &cnt)) != SR_OK || (st = read_valtype(r, &t)) != SR_OK)
            return st;
        total += cnt;
        if (total > UINT32_MAX)
            return sr_wasm__malformed(r, "too many locals");
    }
    if (total > SR_WASM__MAX_LOCALS)
        return sr_wasm__invalid(r->err, "too many locals: %llu, the cap is %u per function",
                                (unsigned long long)total, SR_WASM__MAX_LOCALS);
    c->ngroups = ngroups;
    c->nparams = ft->nparams;
    c->nresults = ft->nresults;
    c->nlocals = (uint32_t)total;
    return SR_OK;
}

static sr_status
parse_code(struct sr_wasm__rd *r, struct sr_wasm_module *m)
{
    uint32_t n = 0;
    sr_status st = sr_wasm__rd_count(r, SR_WASM__MAX_FUNCS, 2, "function bodies", &n);
    if (st != SR_OK)
        return st;
    if (n != m->ncodes)
        return sr_wasm__malformed(r, "function and code section have inconsistent lengths");
    m->codes = alloc_array(n, sizeof(*m->codes));
    if (!m->codes)
        return oom(r->err, "code");
    for (uint32_t i = 0; i < n; i++) {
        struct sr_wasm__code *c = &m->codes[i];
        c->type = m->func_types[m->nfunc_imports + i];
        uint32_t size = 0;
        const uint8_t *body = NULL;
        if ((st = sr_wasm__rd_u32(r, &size)) != SR_OK ||
            (st = sr_wasm__rd_bytes(r, size, &body)) != SR_OK)
            return st;
        struct sr_wasm__rd br = {.p = body, .end = body + size, .base = r->base, .err = r->err};
        if ((st = parse_locals(&br, m, c)) != SR_OK)
            return st;
        c->body = br.p;
        c->body_end = br.end;
    }
    return SR_OK;
}

/* Custom sections (names, producers, debug info) are checked for a valid
 * name and skipped without being read. */
static sr_status
parse_custom(struct sr_wasm__rd *r)
{
    const uint8_t *p = NULL;
    uint32_t n = 0;
    sr_status st = read_name_bytes(r, &p, &n);
    if (st != SR_OK)
        return st;
    r->p = r->end;
    return SR_OK;
}

static sr_status
parse_section(struct sr_wasm__rd *r, struct sr_wasm_module *m, uint8_t id)
{
    switch (id) {
    case 0:
        return parse_custom(r);
    case 1:
        return parse_types(r, m);
    case 2:
        return parse_imports(r, m);
    case 3:
        return parse_functions(r, m);
    case 4:
        return parse_tables(r, m);
    case 5:
        return parse_memories(r, m);
    case 6:
        return parse_globals(r, m);
    case 7:
        return parse_exports(r, m);
    case 8:
        return parse_start(r, m);
    case 9:
        return parse_elems(r, m);
    case 10:
        return parse_code(r, m);
    case 11:
        return parse_data(r, m);
    default:
        return parse_datacount(r, m);
    }
}

/* The declared-functions map is sized once the function count is known. */
static sr_status
ensure_declared(struct sr_wasm_module *m, sr_err *err)
{
    if (m->declared)
        return SR_OK;
    m->declared = calloc((size_t)m->nfuncs + 1, 1);
    if (!m->declared)
        return sr_err_set(err, SR_ENOMEM, "out of memory decoding the module");
    return SR_OK;
}

static sr_status
parse_header(struct sr_wasm__rd *r)
{
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
    if (r->end - r->p < 4 || memcmp(r->p, magic, 4) != 0)
        return sr_wasm__malformed(r, "magic header not detected");
    r->p += 4;
    if (r->end - r->p < 4 || memcmp(r->p, version, 4) != 0)
        return sr_wasm__malformed(r, "unknown binary version");
    r->p += 4;
    return SR_OK;
}

sr_status
sr_wasm__parse(struct sr_wasm_module *m, sr_err *err)
{
    struct sr_wasm__rd r = {.p = m->bytes, .end = m->bytes + m->len, .base = m->bytes, .err = err};
    int last = 0;
    sr_status st = parse_header(&r);

    while (st == SR_OK && r.p < r.end) {
        uint8_t id = 0;
        uint32_t size = 0;
        const uint8_t *body = NULL;
        if ((st = sr_wasm__rd_u8(&r, &id)) != SR_OK)
            break;
        if (id > 12) {
            r.p--;
            return sr_wasm__malformed(&r, "malformed section id");
        }
        if ((st = sr_wasm__rd_u32(&r, &size)) != SR_OK)
            break;
        if ((size_t)(r.end - r.p) < size)
            return sr_wasm__malformed(&r, "unexpected end (section size out of bounds)");
        if (id != 0) {
            if (section_rank(id) <= last)
                return sr_wasm__malformed(&r, "unexpected content after last section "
                                              "(section out of order or repeated)");
            last = section_rank(id);
        }
        if (id >= 6 && id != 12 && (st = ensure_declared(m, err)) != SR_OK)
            break;
        body = r.p;
        struct sr_wasm__rd sub = {.p = body, .end = body + size, .base = r.base, .err = err};
        if ((st = parse_section(&sub, m, id)) != SR_OK)
            break;
        if (sub.p != sub.end)
            return sr_wasm__malformed(&sub, "section size mismatch");
        r.p = body + size;
    }
    if (st != SR_OK)
        return st;
    if ((st = ensure_declared(m, err)) != SR_OK)
        return st;
    if (m->ncodes > 0 && m->codes == NULL)
        return sr_wasm__malformed(&r, "function and code section have inconsistent lengths");
    if (m->has_datacount && m->datacount != m->ndatas)
        return sr_wasm__malformed(&r, "data count and data section have inconsistent lengths");
    return SR_OK;
}
