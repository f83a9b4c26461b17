/* SPDX-License-Identifier: MIT
 *
 * storage_int.h - private to the storage module: the id map (hash table
 * keyed by 32-byte ids) and the namespace index (a snapshot of a
 * namespace's keys, opened and sorted) with the listing digest.
 */
#ifndef SR_STORAGE_INT_H
#define SR_STORAGE_INT_H

#include "sealrun/sr_storage.h"

/* SQLite's BLOB order: memcmp, then the shorter first. */
int sr_storage__key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* ---- id map: 32-byte id -> value (> 0), open addressing ----
 * Ids are keyed hashes or BLAKE2b outputs: uniform, and a guest cannot
 * choose collisions, so the first 8 bytes serve as the hash. Load <= 1/2. */
struct sr_storage__idslot {
    uint8_t id[32];
    size_t v; /* 0: empty */
};
struct sr_storage__idmap {
    struct sr_storage__idslot *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;
};
/* The value stored for id, or 0. */
size_t sr_storage__idmap_get(const struct sr_storage__idmap *m, const uint8_t id[32]);
/* Adds id -> v (v > 0; id not present). false: out of memory. */
bool sr_storage__idmap_put(struct sr_storage__idmap *m, const uint8_t id[32], size_t v);
void sr_storage__idmap_fini(struct sr_storage__idmap *m);

/* ---- the namespace index ---- */

struct sr_storage__entry {
    uint8_t id[32];
    uint8_t *key; /* owned, opened */
    size_t key_len;
    uint64_t size;    /* plaintext key + value bytes */
    uint64_t version; /* namespace version that wrote it */
};

/* Every key of a namespace at one version, sorted by key. */
struct sr_storage__index {
    bool loaded;
    uint64_t version;
    struct sr_kv_ns info;
    struct sr_storage__entry *e;
    size_t n;
};

/* The context one namespace's operations share. */
struct sr_storage__ns {
    sr_store *store;
    const char *owner; /* borrowed */
    const char *ns;    /* borrowed */
    const struct sr_storage_ns_keys *k;
};

/* Loads the index from one snapshot (replacing what idx held): opens every
 * key (SR_EINTERNAL naming the namespace if one does not open) and sorts
 * them. O(n log n) in the namespace's keys (<= SR_STORAGE_HARD_MAX_KEYS). */
sr_status sr_storage__index_load(struct sr_storage__index *idx, const struct sr_storage__ns *c,
                                 sr_err *err);
void sr_storage__index_fini(struct sr_storage__index *idx);

/* A listing's query. */
struct sr_storage__query {
    const uint8_t *prefix;
    size_t prefix_len;
    const uint8_t *after; /* NULL: from the start */
    size_t after_len;
};
bool sr_storage__in_range(const uint8_t *k, size_t klen, const struct sr_storage__query *q);
/* The first index position in q's range (binary search). */
size_t sr_storage__index_seek(const struct sr_storage__index *idx,
                              const struct sr_storage__query *q);
/* BLAKE2b-256 over the index rows from q's first position, at most nrows of
 * them in range: count (u32 LE), then per row key_len (u16 LE) | key |
 * version (u64 LE). Two states of a namespace give the same digest for a
 * query iff those rows (keys and versions) are the same. */
void sr_storage__index_digest(const struct sr_storage__index *idx,
                              const struct sr_storage__query *q, size_t nrows, uint8_t out[32]);

#endif /* SR_STORAGE_INT_H */
