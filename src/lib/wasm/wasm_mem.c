/* SPDX-License-Identifier: MIT
 *
 * wasm_mem.c - linear memory and table growth, and the segment copies shared
 * by instantiation and the interpreter (memory.init, table.init).
 *
 * All growth goes through here so that the module's declared maximum and the
 * caller's sr_wasm_limits caps are both enforced (max_table counts the
 * elements of all tables of an instance); new memory is zeroed.
 */
#include "wasm_int.h"

#include <stdlib.h>
#include <string.h>

int64_t
sr_wasm__mem_grow(struct sr_wasm__mem *m, uint32_t delta)
{
    const uint32_t old = m->pages;
    if (delta == 0)
        return old;
    const uint64_t pages = (uint64_t)old + delta;
    if (pages > m->decl_max)
        return -1;
    if (pages > m->max) {
        m->limit_hit = true;
        return -1;
    }
    uint8_t *p = realloc(m->data, (size_t)pages * SR_WASM_PAGE);
    if (!p)
        return -1; /* the spec allows grow to fail; the guest sees -1 */
    memset(p + m->size, 0, (size_t)(pages - old) * SR_WASM_PAGE);
    m->data = p;
    m->pages = (uint32_t)pages;
    m->size = pages * SR_WASM_PAGE;
    return old;
}

int64_t
sr_wasm__table_grow(struct sr_wasm__table *t, uint32_t delta, uint64_t init)
{
    const uint32_t old = t->size;
    if (delta == 0)
        return old;
    const uint64_t size = (uint64_t)old + delta;
    if (size > t->decl_max)
        return -1;
    if (size > t->max || *t->owner_elems + delta > t->owner_cap) {
        t->limit_hit = true;
        return -1;
    }
    uint64_t *p = realloc(t->elems, (size_t)size * sizeof(*p));
    if (!p)
        return -1;
    for (uint64_t i = old; i < size; i++)
        p[i] = init;
    t->elems = p;
    t->size = (uint32_t)size;
    *t->owner_elems += delta;
    return old;
}

sr_wasm_trap
sr_wasm__table_init(sr_wasm_instance *inst, uint32_t table, uint32_t seg, uint64_t d, uint64_t s,
                    uint64_t n)
{
    struct sr_wasm__table *t = inst->tables[table];
    if (s + n > inst->elem_len[seg] || d + n > t->size)
        return SR_WASM_TRAP_TABLE_OOB;
    if (n)
        memcpy(t->elems + d, inst->elem_items[seg] + s, (size_t)n * sizeof(uint64_t));
    return SR_WASM_TRAP_NONE;
}

sr_wasm_trap
sr_wasm__memory_init(sr_wasm_instance *inst, uint32_t seg, uint64_t d, uint64_t s, uint64_t n)
{
    const struct sr_wasm__data *ds = &inst->mod->datas[seg];
    const uint64_t len = inst->data_dropped[seg] ? 0 : ds->len;
    if (s + n > len || d + n > inst->mem->size)
        return SR_WASM_TRAP_MEM_OOB;
    if (n)
        memcpy(inst->mem->data + d, ds->bytes + s, (size_t)n);
    return SR_WASM_TRAP_NONE;
}
