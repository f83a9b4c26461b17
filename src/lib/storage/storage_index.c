/* SPDX-License-Identifier: MIT
 *
 * storage_index.c - the id map and the namespace index (storage_int.h).
 *
 * The store keeps keys sealed and finds them by id, so it can neither
 * filter by prefix nor order them. A listing therefore reads one snapshot
 * of the whole namespace (at most SR_STORAGE_HARD_MAX_KEYS entries, the
 * hard cap of the per-namespace key quota), opens every key and sorts them:
 * O(n log n) in the namespace's size, bounded by that cap. A session keeps
 * the index of the version it last saw and reloads it only when the
 * namespace moved.
 *
 * A listing is recorded as its query, the number of index rows it looked
 * at and a digest of those rows (sr_storage__index_digest), never the rows.
 */
#include "storage_int.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

int
sr_storage__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* ---- id map ---- */

static size_t
slot_of(const uint8_t id[32], size_t cap)
{
    uint64_t h = 0;
    memcpy(&h, id, sizeof(h));
    return (size_t)h & (cap - 1);
}

size_t
sr_storage__idmap_get(const struct sr_storage__idmap *m, const uint8_t id[32])
{
    if (!m->cap)
        return 0;
    for (size_t i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
        const struct sr_storage__idslot *e = &m->slots[i];
        if (!e->v)
            return 0;
        if (memcmp(e->id, id, 32) == 0)
            return e->v;
    }
}

static void
place(struct sr_storage__idslot *slots, size_t cap, const uint8_t id[32], size_t v)
{
    size_t i = slot_of(id, cap);
    while (slots[i].v)
        i = (i + 1) & (cap - 1);
    memcpy(slots[i].id, id, 32);
    slots[i].v = v;
}

bool
sr_storage__idmap_put(struct sr_storage__idmap *m, const uint8_t id[32], size_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct sr_storage__idslot *slots = calloc(cap, sizeof(*slots));
        if (!slots)
            return false;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].v)
                place(slots, cap, m->slots[i].id, m->slots[i].v);
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    place(m->slots, m->cap, id, v);
    m->n++;
    return true;
}

void
sr_storage__idmap_fini(struct sr_storage__idmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- the index ---- */

static void
entries_free(struct sr_storage__entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        free(e[i].key);
    free(e);
}

void
sr_storage__index_fini(struct sr_storage__index *idx)
{
    entries_free(idx->e, idx->n);
    memset(idx, 0, sizeof(*idx));
}

static int
entry_cmp(const void *a, const void *b)
{
    const struct sr_storage__entry *x = a, *y = b;
    return sr_storage__key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Opens the keys of rows[0..n) into e. */
static sr_status
open_rows(const struct sr_storage__ns *c, const struct sr_kv_row *rows, size_t n,
          struct sr_storage__entry *e, sr_err *err)
{
    uint8_t key[SR_STORAGE_MAX_KEY];
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        if (sr_storage_key_open(c->k, c->owner, c->ns, rows[i].id, rows[i].key_blob,
                                rows[i].key_blob_len, key, &len, NULL) != SR_OK)
            return sr_err_set(err, SR_EINTERNAL,
                              "a stored key of namespace '%s' does not open: the store is "
                              "damaged or was changed outside sealrun",
                              c->ns);
        e[i].key = malloc(len);
        if (!e[i].key)
            return sr_err_set(err, SR_ENOMEM, "out of memory listing namespace '%s'", c->ns);
        memcpy(e[i].key, key, len);
        memcpy(e[i].id, rows[i].id, 32);
        e[i].key_len = len;
        e[i].size = rows[i].size;
        e[i].version = rows[i].version;
    }
    return SR_OK;
}

sr_status
sr_storage__index_load(struct sr_storage__index *idx, const struct sr_storage__ns *c, sr_err *err)
{
    struct sr_kv_row *rows = NULL;
    size_t n = 0;
    struct sr_kv_ns info;
    sr_storage__index_fini(idx);
    sr_status rc = sr_store_kv_snapshot(c->store, c->owner, c->k->id, NULL, 0,
                                        SR_STORAGE_HARD_MAX_KEYS, &info, &rows, &n, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "listing namespace '%s'", c->ns);
    struct sr_storage__entry *e = calloc(n + 1, sizeof(*e));
    rc = e ? open_rows(c, rows, n, e, err)
           : sr_err_set(err, SR_ENOMEM, "out of memory listing namespace '%s'", c->ns);
    for (size_t i = 0; i < n; i++)
        sr_kv_row_fini(&rows[i]);
    free(rows);
    if (rc != SR_OK) {
        entries_free(e, n);
        return rc;
    }
    qsort(e, n, sizeof(*e), entry_cmp);
    *idx = (struct sr_storage__index){true, info.version, info, e, n};
    return SR_OK;
}

bool
sr_storage__in_range(const uint8_t *k, size_t klen, const struct sr_storage__query *q)
{
    if (klen < q->prefix_len || (q->prefix_len && memcmp(k, q->prefix, q->prefix_len) != 0))
        return false;
    return !q->after || sr_storage__key_cmp(k, klen, q->after, q->after_len) > 0;
}

/* First position whose key is >= (or, strict, >) key. */
static size_t
lower_bound(const struct sr_storage__index *idx, const uint8_t *key, size_t len, bool strict)
{
    size_t lo = 0, hi = idx->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = sr_storage__key_cmp(idx->e[mid].key, idx->e[mid].key_len, key, len);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
sr_storage__index_seek(const struct sr_storage__index *idx, const struct sr_storage__query *q)
{
    /* the keys with a prefix are contiguous in byte order and start at it */
    size_t i = lower_bound(idx, q->prefix ? q->prefix : (const uint8_t *)"", q->prefix_len, false);
    if (q->after) {
        size_t j = lower_bound(idx, q->after, q->after_len, true);
        i = j > i ? j : i;
    }
    return i;
}

void
sr_storage__index_digest(const struct sr_storage__index *idx, const struct sr_storage__query *q,
                         size_t nrows, uint8_t out[32])
{
    crypto_generichash_state st;
    size_t start = sr_storage__index_seek(idx, q), end = start;
    while (end < idx->n && end - start < nrows &&
           sr_storage__in_range(idx->e[end].key, idx->e[end].key_len, q))
        end++;
    uint8_t head[4];
    for (int b = 0; b < 4; b++)
        head[b] = (uint8_t)((end - start) >> (8 * b));
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, head, sizeof(head));
    for (size_t i = start; i < end; i++) {
        const struct sr_storage__entry *e = &idx->e[i];
        uint8_t len[2] = {(uint8_t)(e->key_len & 0xff), (uint8_t)(e->key_len >> 8)}, ver[8];
        for (int b = 0; b < 8; b++)
            ver[b] = (uint8_t)(e->version >> (8 * b));
        crypto_generichash_update(&st, len, sizeof(len));
        crypto_generichash_update(&st, e->key, e->key_len);
        crypto_generichash_update(&st, ver, sizeof(ver));
    }
    crypto_generichash_final(&st, out, 32);
}
