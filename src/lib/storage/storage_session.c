/* SPDX-License-Identifier: MIT
 *
 * storage_session.c - one job's view of a namespace, kept by the supervisor
 * (docs/storage.md "Atomicity and isolation"):
 *   - the write buffer: puts and deletes by key id (an id map), in key
 *     order (an index array) for listings; the job reads its own writes;
 *   - the read set: each key the job read from the store with the version
 *     it saw (0: absent), in an id map;
 *   - the listings: each one's query, the number of index rows it looked
 *     at and their digest, de-duplicated by a fingerprint;
 *   - the namespace index of the version last listed (storage_index.c).
 * Each is capped per job (SR_STORAGE_MAX_JOB_*); a call past a cap is
 * refused with SR_STORAGE_WIRE_CAP before anything is read or kept, and the
 * session remembers the first such refusal (sr_storage_session_cap).
 *
 * The commit validates the read set and the listings at a namespace
 * version V (one snapshot for the reads; the index at V for listings not
 * recorded at V), outside the store's write lock, then asks the store to
 * apply the writes only if the namespace is still at V. If it moved, the
 * commit validates again. The store's lock is thus held for the writes
 * only, however much the job read.
 *
 * Sections: buffers; operations; answering a host call; the commit;
 * single-key access for the API.
 */
#include "storage_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define COMMIT_RETRIES 16

struct wentry {
    uint8_t id[32];
    uint8_t *key;
    size_t key_len;
    uint8_t *value; /* NULL for a delete */
    size_t len;
    uint8_t *key_blob; /* puts: sealed at commit, once */
    size_t key_blob_len;
};

struct rentry {
    uint8_t id[32];
    uint8_t *key; /* for conflict messages */
    size_t key_len;
    uint64_t version; /* the first version the job saw; 0: absent */
};

struct lrec {
    uint8_t *prefix; /* NULL with prefix_len 0 */
    size_t prefix_len;
    uint8_t *after; /* NULL: from the start */
    size_t after_len;
    size_t nrows;     /* index rows the listing looked at, + 1 */
    uint64_t version; /* a version at which those rows had this digest */
    uint8_t digest[32];
};

/* A prepared commit's buffers: the write set and its sealed blobs. */
struct commit_bufs {
    struct sr_kv_write *writes;
    uint8_t **blobs;
    size_t n; /* writes (and blobs) allocated: the session's nw at bufs_init */
    uint8_t *name_blob;
    size_t name_blob_len;
};

struct sr_storage_session {
    sr_store *store;
    const sr_keys *keys;
    char owner[SR_MAX_USER_NAME + 1];
    char ns[SR_STORAGE_MAX_NS + 1];
    uint64_t max_keys, max_bytes, max_namespaces, max_owner_bytes;
    struct sr_storage_ns_keys k;
    struct sr_storage__ns ctx; /* points into this session */

    struct wentry *w; /* in the order buffered; w_order sorts them by key */
    uint32_t *w_order;
    size_t nw, capw;
    struct sr_storage__idmap wmap; /* id -> index in w + 1 */
    size_t wbytes;                 /* buffered key + value bytes */

    struct rentry *r;
    size_t nr, capr;
    struct sr_storage__idmap rmap; /* id -> index in r + 1 */

    struct lrec *g;
    size_t ng, capg;
    struct sr_storage__idmap gmap; /* fingerprint -> index in g + 1 */

    struct sr_storage__index idx;

    enum sr_storage_cap cap; /* the first cap a call was refused for */
    char cap_msg[256];
    enum sr_storage_cap refused; /* the cap the current call was refused for */
    enum sr_kv_quota quota;      /* after a SR_ELIMIT commit */

    struct commit_bufs bufs;    /* the prepared commit's (sr_storage_session_prepare) */
    struct sr_kv_commit commit; /* points into bufs and this session */
};

/* ---- buffers ---- */

static void bufs_free(struct commit_bufs *b);

static bool
grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16, bytes;
    if (__builtin_mul_overflow(ncap, size, &bytes))
        return false;
    void *q = realloc(*p, bytes);
    if (!q)
        return false;
    *p = q;
    *cap = ncap;
    return true;
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

static void
wentry_free(struct wentry *e)
{
    if (e->value) {
        sodium_memzero(e->value, e->len);
        free(e->value);
    }
    free(e->key);
    free(e->key_blob);
}

/* The buffered entry at sorted position i. */
static const struct wentry *
wat(const sr_storage_session *s, size_t i)
{
    return &s->w[s->w_order[i]];
}

/* Sorted position of the first buffered key >= key (> with strict). */
static size_t
wseek_key(const sr_storage_session *s, const uint8_t *key, size_t len, bool strict)
{
    size_t lo = 0, hi = s->nw;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct wentry *e = wat(s, mid);
        int c = sr_storage__key_cmp(e->key, e->key_len, key, len);
        if (c < 0 || (strict && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Cuts resp back to its first len bytes (keeping the NUL sr_buf promises). */
static void
buf_cut(sr_buf *resp, size_t len)
{
    resp->len = len;
    if (resp->data)
        resp->data[len] = 0;
}

/* Refuses the current call for a cap (SR_ELIMIT with the message) and
 * remembers the first such refusal. */
static sr_status
cap_hit(sr_storage_session *s, enum sr_storage_cap cap, sr_err *err, const char *msg)
{
    s->refused = cap;
    if (s->cap == SR_STORAGE_CAP_NONE) {
        s->cap = cap;
        (void)snprintf(s->cap_msg, sizeof(s->cap_msg), "%s", msg);
    }
    return sr_err_set(err, SR_ELIMIT, "%s", msg);
}

static sr_status
write_cap(sr_storage_session *s, bool bytes, sr_err *err)
{
    char msg[200];
    if (bytes)
        (void)snprintf(msg, sizeof(msg),
                       "a job may buffer at most %u bytes of storage writes (keys and values)",
                       SR_STORAGE_MAX_JOB_BYTES);
    else
        (void)snprintf(msg, sizeof(msg),
                       "a job may write at most %u different storage keys (puts and deletes); "
                       "this one has written that many",
                       SR_STORAGE_MAX_JOB_WRITES);
    return cap_hit(s, SR_STORAGE_CAP_WRITES, err, msg);
}

/* Adds a new entry (copies key) at its sorted place. */
static sr_status
wadd(sr_storage_session *s, const uint8_t id[32], const uint8_t *key, size_t len, uint8_t *v,
     size_t vlen, sr_err *err)
{
    size_t cap = s->capw;
    uint8_t *k = dup_bytes(key, len);
    bool ok = k && grow((void **)&s->w, &cap, s->nw, sizeof(*s->w));
    if (ok && cap != s->capw) {
        size_t c2 = s->capw;
        ok = grow((void **)&s->w_order, &c2, s->nw, sizeof(*s->w_order));
        s->capw = ok ? cap : s->capw;
    }
    if (!ok || !sr_storage__idmap_put(&s->wmap, id, s->nw + 1)) {
        free(k);
        return sr_err_set(err, SR_ENOMEM, "out of memory buffering a storage write");
    }
    size_t pos = wseek_key(s, key, len, false);
    memmove(&s->w_order[pos + 1], &s->w_order[pos], (s->nw - pos) * sizeof(*s->w_order));
    s->w_order[pos] = (uint32_t)s->nw;
    s->w[s->nw] = (struct wentry){.key = k, .key_len = len, .value = v, .len = vlen};
    memcpy(s->w[s->nw].id, id, 32);
    s->nw++;
    return SR_OK;
}

/* Buffers a put (value != NULL) or delete; copies both. */
static sr_status
wput(sr_storage_session *s, const uint8_t *key, size_t len, const uint8_t *value, size_t vlen,
     sr_err *err)
{
    uint8_t id[32];
    sr_storage_key_id(&s->k, key, len, id);
    size_t i = sr_storage__idmap_get(&s->wmap, id);
    size_t old = i ? s->w[i - 1].key_len + s->w[i - 1].len : 0;
    if (s->wbytes - old + len + vlen > SR_STORAGE_MAX_JOB_BYTES)
        return write_cap(s, true, err);
    if (!i && s->nw >= SR_STORAGE_MAX_JOB_WRITES)
        return write_cap(s, false, err);
    uint8_t *v = value ? dup_bytes(value, vlen) : NULL;
    if (value && !v)
        return sr_err_set(err, SR_ENOMEM, "out of memory buffering a storage write");
    if (i) {
        struct wentry *e = &s->w[i - 1];
        if (e->value) {
            sodium_memzero(e->value, e->len);
            free(e->value);
        }
        e->value = v;
        e->len = value ? vlen : 0;
    } else {
        sr_status rc = wadd(s, id, key, len, v, value ? vlen : 0, err);
        if (rc != SR_OK) {
            free(v);
            return rc;
        }
    }
    s->wbytes = s->wbytes - old + len + (value ? vlen : 0);
    return SR_OK;
}

/* Records the first version the job saw of a key (the caller checked the
 * cap). */
static sr_status
rnote(sr_storage_session *s, const uint8_t id[32], const uint8_t *key, size_t len, uint64_t version,
      sr_err *err)
{
    uint8_t *k = dup_bytes(key, len);
    if (!k || !grow((void **)&s->r, &s->capr, s->nr, sizeof(*s->r)) ||
        !sr_storage__idmap_put(&s->rmap, id, s->nr + 1)) {
        free(k);
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a storage read");
    }
    s->r[s->nr] = (struct rentry){.key = k, .key_len = len, .version = version};
    memcpy(s->r[s->nr].id, id, 32);
    s->nr++;
    return SR_OK;
}

sr_status
sr_storage_session_new(const struct sr_storage_config *cfg, sr_storage_session **out, sr_err *err)
{
    const char *ns = cfg->ns && *cfg->ns ? cfg->ns : SR_STORAGE_DEFAULT_NS;
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc != SR_OK)
        return rc;
    if (!cfg->store || !cfg->keys || !cfg->owner || !*cfg->owner ||
        strlen(cfg->owner) > SR_MAX_USER_NAME)
        return sr_err_set(err, SR_EINVAL, "storage needs a store, keys and an owner");
    sr_storage_session *s = calloc(1, sizeof(*s));
    if (!s)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting a storage session");
    s->store = cfg->store;
    s->keys = cfg->keys;
    (void)snprintf(s->owner, sizeof(s->owner), "%s", cfg->owner);
    (void)snprintf(s->ns, sizeof(s->ns), "%s", ns);
    s->max_keys = cfg->max_keys ? cfg->max_keys : SR_STORAGE_DEFAULT_MAX_KEYS;
    s->max_bytes = cfg->max_bytes ? cfg->max_bytes : SR_STORAGE_DEFAULT_MAX_BYTES;
    s->max_namespaces =
        cfg->max_namespaces ? cfg->max_namespaces : SR_STORAGE_DEFAULT_MAX_NAMESPACES;
    s->max_owner_bytes =
        cfg->max_owner_bytes ? cfg->max_owner_bytes : SR_STORAGE_DEFAULT_MAX_OWNER_BYTES;
    sr_storage_ns_keys_init(cfg->keys, s->owner, s->ns, &s->k);
    s->ctx = (struct sr_storage__ns){s->store, s->owner, s->ns, &s->k};
    *out = s;
    return SR_OK;
}

void
sr_storage_session_free(sr_storage_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nw; i++)
        wentry_free(&s->w[i]);
    free(s->w);
    free(s->w_order);
    sr_storage__idmap_fini(&s->wmap);
    for (size_t i = 0; i < s->nr; i++)
        free(s->r[i].key);
    free(s->r);
    sr_storage__idmap_fini(&s->rmap);
    for (size_t i = 0; i < s->ng; i++) {
        free(s->g[i].prefix);
        free(s->g[i].after);
    }
    free(s->g);
    sr_storage__idmap_fini(&s->gmap);
    sr_storage__index_fini(&s->idx);
    bufs_free(&s->bufs);
    sr_storage_ns_keys_wipe(&s->k);
    free(s);
}

const char *
sr_storage_session_ns(const sr_storage_session *s)
{
    return s->ns;
}

enum sr_storage_cap
sr_storage_session_cap(const sr_storage_session *s, const char **msg)
{
    if (msg)
        *msg = s->cap_msg;
    return s->cap;
}

enum sr_kv_quota
sr_storage_session_quota(const sr_storage_session *s)
{
    return s->quota;
}

/* ---- operations ---- */

/* A read: from the buffer when the job wrote the key, else from the store
 * (recorded in the read set). *found; *value owned (NULL if !want_value). */
static sr_status
op_get(sr_storage_session *s, const uint8_t *key, size_t len, bool want_value, bool *found,
       uint8_t **value, size_t *vlen, sr_err *err)
{
    uint8_t id[32];
    sr_storage_key_id(&s->k, key, len, id);
    size_t wi = sr_storage__idmap_get(&s->wmap, id);
    *value = NULL;
    *vlen = 0;
    if (wi) {
        const struct wentry *e = &s->w[wi - 1];
        *found = e->value != NULL;
        if (*found && want_value && !(*value = dup_bytes(e->value, e->len)))
            return sr_err_set(err, SR_ENOMEM, "out of memory reading storage");
        *vlen = e->len;
        return SR_OK;
    }
    bool known = sr_storage__idmap_get(&s->rmap, id) != 0;
    if (!known && s->nr >= SR_STORAGE_MAX_JOB_READS) {
        char msg[200];
        (void)snprintf(msg, sizeof(msg),
                       "a job may read at most %u different storage keys; this one has read that "
                       "many (keys it wrote itself do not count)",
                       SR_STORAGE_MAX_JOB_READS);
        return cap_hit(s, SR_STORAGE_CAP_READS, err, msg);
    }
    struct sr_kv_row row = {0};
    sr_status rc = sr_store_kv_get(s->store, s->owner, s->k.id, id, &row, err);
    *found = rc == SR_OK;
    if (rc == SR_ENOTFOUND)
        rc = SR_OK;
    if (rc == SR_OK && !known)
        rc = rnote(s, id, key, len, *found ? row.version : 0, err);
    if (rc == SR_OK && *found && want_value) {
        rc = sr_storage_open(s->k.value, s->owner, s->ns, key, len, row.version, row.blob,
                             row.blob_len, value, vlen, err);
        if (rc != SR_OK)
            (void)sr_err_wrap(err, "the stored value of a key in namespace '%s'", s->ns);
    }
    sr_kv_row_fini(&row);
    return rc;
}

/* Appends one key of a list answer. */
static sr_status
list_emit(sr_buf *resp, const uint8_t *k, size_t len, sr_err *err)
{
    uint8_t n[2] = {(uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    sr_status rc = sr_buf_append(resp, n, 2, err);
    return rc == SR_OK ? sr_buf_append(resp, k, len, err) : rc;
}

/* Sorted position of the first buffered key in q's range. */
static size_t
wseek(const sr_storage_session *s, const struct sr_storage__query *q)
{
    size_t i = wseek_key(s, q->prefix ? q->prefix : (const uint8_t *)"", q->prefix_len, false);
    if (q->after) {
        size_t j = wseek_key(s, q->after, q->after_len, true);
        i = j > i ? j : i;
    }
    return i;
}

struct merge {
    size_t count;
    bool more;
    size_t looked; /* index rows looked at, counting the one that stopped the walk */
};

/* Skips index rows the buffer decides (written or deleted by the job). */
static size_t
next_row(const sr_storage_session *s, const struct sr_storage__query *q, size_t i)
{
    const struct sr_storage__index *x = &s->idx;
    while (i < x->n && sr_storage__in_range(x->e[i].key, x->e[i].key_len, q) &&
           sr_storage__idmap_get(&s->wmap, x->e[i].id))
        i++;
    return i;
}

/* Skips buffered deletes. */
static size_t
next_put(const sr_storage_session *s, const struct sr_storage__query *q, size_t j)
{
    while (j < s->nw && sr_storage__in_range(wat(s, j)->key, wat(s, j)->key_len, q) &&
           !wat(s, j)->value)
        j++;
    return j;
}

/* Merges the index with the buffer (puts added; deleted and overwritten
 * keys come from the buffer) and writes at most 'limit' keys. */
static sr_status
list_merge(const sr_storage_session *s, const struct sr_storage__query *q, size_t limit,
           sr_buf *resp, struct merge *m, sr_err *err)
{
    const struct sr_storage__index *x = &s->idx;
    size_t start = sr_storage__index_seek(x, q), i = start, j = wseek(s, q);
    sr_status rc = SR_OK;
    *m = (struct merge){0};
    while (rc == SR_OK) {
        i = next_row(s, q, i);
        j = next_put(s, q, j);
        bool ci = i < x->n && sr_storage__in_range(x->e[i].key, x->e[i].key_len, q);
        bool cj = j < s->nw && sr_storage__in_range(wat(s, j)->key, wat(s, j)->key_len, q);
        if (!ci && !cj)
            break;
        if (m->count == limit) {
            m->more = true;
            break;
        }
        if (ci && (!cj || sr_storage__key_cmp(x->e[i].key, x->e[i].key_len, wat(s, j)->key,
                                              wat(s, j)->key_len) < 0)) {
            rc = list_emit(resp, x->e[i].key, x->e[i].key_len, err);
            i++;
        } else {
            rc = list_emit(resp, wat(s, j)->key, wat(s, j)->key_len, err);
            j++;
        }
        m->count++;
    }
    m->looked = i - start + 1;
    return rc;
}

/* Reloads the index when the namespace moved since it was loaded. */
static sr_status
index_fresh(sr_storage_session *s, sr_err *err)
{
    struct sr_kv_ns ns;
    sr_status rc = sr_store_kv_ns(s->store, s->owner, s->k.id, &ns, err);
    if (rc == SR_OK && (!s->idx.loaded || s->idx.version != ns.version))
        rc = sr_storage__index_load(&s->idx, &s->ctx, err);
    return rc;
}

/* The fingerprint that de-duplicates listings: a listing made again with
 * the same query, over the same rows, records nothing new. */
static void
fingerprint(const struct sr_storage__query *q, size_t nrows, const uint8_t digest[32],
            uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t head[13] = {(uint8_t)(q->prefix_len & 0xff), (uint8_t)(q->prefix_len >> 8),
                        q->after != NULL, (uint8_t)(q->after_len & 0xff),
                        (uint8_t)(q->after_len >> 8)};
    for (int b = 0; b < 8; b++)
        head[5 + b] = (uint8_t)((uint64_t)nrows >> (8 * b));
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, head, sizeof(head));
    crypto_generichash_update(&st, q->prefix ? q->prefix : head, q->prefix_len);
    crypto_generichash_update(&st, q->after ? q->after : head, q->after_len);
    crypto_generichash_update(&st, digest, 32);
    crypto_generichash_final(&st, out, 32);
}

static sr_status
lrec_add(sr_storage_session *s, const struct sr_storage__query *q, size_t nrows,
         const uint8_t digest[32], const uint8_t fp[32], sr_err *err)
{
    struct lrec g = {.prefix_len = q->prefix_len,
                     .after_len = q->after_len,
                     .nrows = nrows,
                     .version = s->idx.version};
    memcpy(g.digest, digest, 32);
    g.prefix = q->prefix_len ? dup_bytes(q->prefix, q->prefix_len) : NULL;
    g.after = q->after ? dup_bytes(q->after, q->after_len) : NULL;
    if ((q->prefix_len && !g.prefix) || (q->after && !g.after) ||
        !grow((void **)&s->g, &s->capg, s->ng, sizeof(*s->g)) ||
        !sr_storage__idmap_put(&s->gmap, fp, s->ng + 1)) {
        free(g.prefix);
        free(g.after);
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a storage listing");
    }
    s->g[s->ng++] = g;
    return SR_OK;
}

/* Answers a listing into resp (after its code byte) and records it. A
 * listing that cannot be recorded (the cap) is not answered. */
static sr_status
op_list(sr_storage_session *s, const struct sr_storage__query *q, size_t limit, sr_buf *resp,
        sr_err *err)
{
    sr_status rc = index_fresh(s, err);
    size_t head = resp->len;
    const uint8_t zero[5] = {0};
    struct merge m;
    if (rc == SR_OK)
        rc = sr_buf_append(resp, zero, sizeof(zero), err);
    if (rc == SR_OK)
        rc = list_merge(s, q, limit, resp, &m, err);
    if (rc != SR_OK)
        return rc;
    uint8_t digest[32], fp[32];
    sr_storage__index_digest(&s->idx, q, m.looked, digest);
    fingerprint(q, m.looked, digest, fp);
    if (!sr_storage__idmap_get(&s->gmap, fp)) {
        if (s->ng >= SR_STORAGE_MAX_JOB_LISTINGS) {
            char msg[200];
            (void)snprintf(msg, sizeof(msg),
                           "a job may make at most %u different storage listings; this one has "
                           "made that many (the same listing again does not count)",
                           SR_STORAGE_MAX_JOB_LISTINGS);
            buf_cut(resp, head); /* nothing of this listing reaches the guest */
            return cap_hit(s, SR_STORAGE_CAP_LISTINGS, err, msg);
        }
        rc = lrec_add(s, q, m.looked, digest, fp, err);
        if (rc != SR_OK)
            return rc;
    }
    uint8_t *p = (uint8_t *)resp->data + head;
    for (int b = 0; b < 4; b++)
        p[b] = (uint8_t)(m.count >> (8 * b));
    p[4] = m.more;
    return SR_OK;
}

/* ---- answering a host call ---- */

static sr_status
answer(sr_buf *resp, enum sr_storage_wire_code code, const void *p, size_t len, sr_err *err)
{
    uint8_t c = (uint8_t)code;
    sr_status rc = sr_buf_append(resp, &c, 1, err);
    return rc == SR_OK && len ? sr_buf_append(resp, p, len, err) : rc;
}

/* A guest mistake: the answer carries the message. */
static sr_status
refuse(sr_buf *resp, const sr_err *why)
{
    enum sr_storage_wire_code code =
        why->status == SR_ELIMIT ? SR_STORAGE_WIRE_LIMIT : SR_STORAGE_WIRE_INVALID;
    return answer(resp, code, why->msg, strnlen(why->msg, sizeof(why->msg)), NULL);
}

/* A per-job cap: the cap's number, then its message. */
static sr_status
refuse_cap(const sr_storage_session *s, sr_buf *resp, const sr_err *why, sr_err *err)
{
    uint8_t head[2] = {SR_STORAGE_WIRE_CAP, (uint8_t)s->refused};
    sr_status rc = sr_buf_append(resp, head, sizeof(head), err);
    return rc == SR_OK ? sr_buf_append(resp, why->msg, strnlen(why->msg, sizeof(why->msg)), err)
                       : rc;
}

/* After an operation failed with 'why': a refusal for a cap is an answer;
 * anything else is the host call's failure (the guest sees an Error). */
static sr_status
failed(const sr_storage_session *s, sr_buf *resp, const sr_err *why, sr_err *err)
{
    if (s->refused != SR_STORAGE_CAP_NONE)
        return refuse_cap(s, resp, why, err);
    return sr_err_set(err, why->status, "%s", why->msg);
}

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parses the list payload into q (borrowing the request) and *limit. */
static sr_status
parse_list(const uint8_t *key, size_t klen, const uint8_t *p, size_t len,
           struct sr_storage__query *q, size_t *limit, sr_err *err)
{
    if (len < 6 || len - 6 != ((size_t)p[4] | (size_t)p[5] << 8))
        return sr_err_set(err, SR_EINTERNAL, "malformed storage list request");
    *limit = get_u32(p);
    size_t alen = len - 6;
    if (*limit == 0)
        *limit = SR_STORAGE_DEFAULT_LIST;
    if (*limit > SR_STORAGE_MAX_LIST)
        return sr_err_set(err, SR_EINVAL, "storage.list: 'limit' must be 1..%d, got %zu",
                          SR_STORAGE_MAX_LIST, *limit);
    if (klen > SR_STORAGE_MAX_KEY)
        return sr_err_set(err, SR_EINVAL, "storage.list: 'prefix' must be at most %d bytes",
                          SR_STORAGE_MAX_KEY);
    sr_status rc = alen ? sr_storage_key_check(p + 6, alen, err) : SR_OK;
    if (rc != SR_OK)
        return sr_err_wrap(err, "storage.list: 'after'");
    *q = (struct sr_storage__query){klen ? key : NULL, klen, alen ? p + 6 : NULL, alen};
    return SR_OK;
}

static sr_status
handle_list(sr_storage_session *s, const uint8_t *key, size_t klen, const uint8_t *p, size_t len,
            sr_buf *resp, sr_err *err)
{
    struct sr_storage__query q;
    size_t limit = 0;
    sr_err why = {0};
    sr_status rc = parse_list(key, klen, p, len, &q, &limit, &why);
    if (rc == SR_EINTERNAL)
        return sr_err_set(err, SR_EINVAL, "%s", why.msg);
    if (rc != SR_OK)
        return refuse(resp, &why);
    uint8_t ok = SR_STORAGE_WIRE_OK;
    size_t head = resp->len;
    rc = sr_buf_append(resp, &ok, 1, err);
    if (rc != SR_OK)
        return rc;
    s->refused = SR_STORAGE_CAP_NONE;
    rc = op_list(s, &q, limit, resp, &why);
    if (rc == SR_OK)
        return SR_OK;
    buf_cut(resp, head);
    return failed(s, resp, &why, err);
}

static sr_status
handle_get(sr_storage_session *s, char op, const uint8_t *key, size_t klen, sr_buf *resp,
           sr_err *err)
{
    bool found = false;
    uint8_t *v = NULL;
    size_t vlen = 0;
    sr_err why = {0};
    s->refused = SR_STORAGE_CAP_NONE;
    sr_status rc = op_get(s, key, klen, op == 'G', &found, &v, &vlen, &why);
    if (rc == SR_OK && op == 'H') {
        uint8_t b = found;
        rc = answer(resp, SR_STORAGE_WIRE_OK, &b, 1, err);
    } else if (rc == SR_OK) {
        rc = found ? answer(resp, SR_STORAGE_WIRE_OK, v, vlen, err)
                   : answer(resp, SR_STORAGE_WIRE_NOTFOUND, NULL, 0, err);
    } else {
        rc = failed(s, resp, &why, err);
    }
    if (v) {
        sodium_memzero(v, vlen);
        free(v);
    }
    return rc;
}

static sr_status
handle_write(sr_storage_session *s, char op, const uint8_t *key, size_t klen, const uint8_t *p,
             size_t len, sr_buf *resp, sr_err *err)
{
    sr_err why = {0};
    if (op == 'S' && len > SR_STORAGE_MAX_VALUE) {
        (void)sr_err_set(&why, SR_ELIMIT, "storage.set: the value is %zu bytes; the limit is %u",
                         len, SR_STORAGE_MAX_VALUE);
        return refuse(resp, &why);
    }
    if (op == 'D' && len)
        return sr_err_set(err, SR_EINVAL, "malformed storage delete request");
    s->refused = SR_STORAGE_CAP_NONE;
    sr_status rc = wput(s, key, klen, op == 'S' ? p : NULL, op == 'S' ? len : 0, &why);
    if (rc != SR_OK)
        return failed(s, resp, &why, err);
    return answer(resp, SR_STORAGE_WIRE_OK, NULL, 0, err);
}

sr_status
sr_storage_session_handle(void *session, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    sr_storage_session *s = session;
    if (len < 3)
        return sr_err_set(err, SR_EINVAL, "storage request of %zu bytes is too short", len);
    char op = (char)req[0];
    size_t klen = (size_t)req[1] | (size_t)req[2] << 8;
    if (len - 3 < klen)
        return sr_err_set(err, SR_EINVAL, "storage request is cut inside its key");
    const uint8_t *key = req + 3, *p = key + klen;
    size_t plen = len - 3 - klen;
    if (op == 'L')
        return handle_list(s, key, klen, p, plen, resp, err);
    if (op != 'G' && op != 'H' && op != 'S' && op != 'D')
        return sr_err_set(err, SR_EINVAL, "unknown storage operation 0x%02x", (unsigned)req[0]);
    sr_err why = {0};
    if (sr_storage_key_check(key, klen, &why) != SR_OK)
        return refuse(resp, &why);
    if (op == 'G' || op == 'H')
        return plen ? sr_err_set(err, SR_EINVAL, "malformed storage read request")
                    : handle_get(s, op, key, klen, resp, err);
    return handle_write(s, op, key, klen, p, plen, resp, err);
}

/* ---- the commit ---- */

#define KEY_FMT "'%.*s'"
#define KEY_ARG(p, n) (int)((n) > 64 ? 64 : (n)), (const char *)(p)

/* Checks the read set in one snapshot; *version = its namespace version. */
static sr_status
check_reads(const sr_storage_session *s, uint64_t *version, sr_err *err)
{
    struct sr_kv_probe *probes = calloc(s->nr + 1, sizeof(*probes));
    struct sr_kv_ns ns;
    if (!probes)
        return sr_err_set(err, SR_ENOMEM, "out of memory committing storage");
    for (size_t i = 0; i < s->nr; i++)
        memcpy(probes[i].id, s->r[i].id, 32);
    sr_status rc =
        sr_store_kv_snapshot(s->store, s->owner, s->k.id, probes, s->nr, 0, &ns, NULL, NULL, err);
    for (size_t i = 0; rc == SR_OK && i < s->nr; i++) {
        const struct rentry *r = &s->r[i];
        uint64_t v = probes[i].version;
        if (v != r->version)
            rc = sr_err_set(err, SR_ECONFLICT,
                            "key " KEY_FMT " of namespace '%s' changed after the job read it "
                            "(read at version %llu, now %s %llu)",
                            KEY_ARG(r->key, r->key_len), s->ns, (unsigned long long)r->version,
                            v ? "version" : "deleted, was",
                            (unsigned long long)(v ? v : r->version));
    }
    free(probes);
    if (rc == SR_OK)
        *version = ns.version;
    return rc;
}

/* Checks every listing not known to hold at 'version' against the index at
 * that version. *moved: the namespace moved on while the index was read. */
static sr_status
check_listings(sr_storage_session *s, uint64_t version, bool *moved, sr_err *err)
{
    *moved = false;
    size_t stale = 0;
    for (size_t i = 0; i < s->ng; i++)
        stale += s->g[i].version != version;
    if (!stale)
        return SR_OK;
    if (!s->idx.loaded || s->idx.version != version) {
        sr_status rc = sr_storage__index_load(&s->idx, &s->ctx, err);
        if (rc != SR_OK)
            return rc;
        if (s->idx.version != version) {
            *moved = true;
            return SR_OK;
        }
    }
    for (size_t i = 0; i < s->ng; i++) {
        struct lrec *g = &s->g[i];
        if (g->version == version)
            continue;
        const struct sr_storage__query q = {g->prefix, g->prefix_len, g->after, g->after_len};
        uint8_t digest[32];
        sr_storage__index_digest(&s->idx, &q, g->nrows, digest);
        if (memcmp(digest, g->digest, 32) != 0)
            return sr_err_set(err, SR_ECONFLICT,
                              "the keys under prefix " KEY_FMT " of namespace '%s' changed after "
                              "the job listed them",
                              KEY_ARG(g->prefix ? g->prefix : (const uint8_t *)"", g->prefix_len),
                              s->ns);
        g->version = version; /* the same rows at this version: later checks start here */
    }
    return SR_OK;
}

static void
bufs_free(struct commit_bufs *b)
{
    for (size_t i = 0; b->blobs && i < b->n; i++)
        free(b->blobs[i]);
    free(b->blobs);
    free(b->writes);
    free(b->name_blob);
    memset(b, 0, sizeof(*b));
}

/* What does not depend on the version: the sealed keys and name. */
static sr_status
bufs_init(sr_storage_session *s, struct commit_bufs *b, sr_err *err)
{
    if (b->writes && b->n == s->nw)
        return SR_OK; /* made by an earlier prepare: keys and name do not change */
    bufs_free(b);
    b->writes = calloc(s->nw + 1, sizeof(*b->writes));
    b->blobs = calloc(s->nw + 1, sizeof(*b->blobs));
    if (!b->writes || !b->blobs)
        return sr_err_set(err, SR_ENOMEM, "out of memory committing storage");
    b->n = s->nw;
    sr_status rc =
        sr_storage_name_seal(&s->k, s->owner, s->ns, &b->name_blob, &b->name_blob_len, err);
    for (size_t i = 0; rc == SR_OK && i < s->nw; i++) {
        struct wentry *e = &s->w[i];
        if (e->value && !e->key_blob)
            rc = sr_storage_key_seal(&s->k, s->owner, s->ns, e->key, e->key_len, e->id,
                                     &e->key_blob, &e->key_blob_len, err);
    }
    return rc;
}

/* Seals every put's value for 'version'. */
static sr_status
bufs_seal(const sr_storage_session *s, uint64_t version, struct commit_bufs *b, sr_err *err)
{
    for (size_t i = 0; i < s->nw; i++) {
        const struct wentry *e = &s->w[i];
        free(b->blobs[i]);
        b->blobs[i] = NULL;
        size_t blen = 0;
        if (e->value) {
            sr_status rc = sr_storage_seal(s->k.value, s->owner, s->ns, e->key, e->key_len, version,
                                           e->value, e->len, &b->blobs[i], &blen, err);
            if (rc != SR_OK)
                return rc;
        }
        b->writes[i] =
            (struct sr_kv_write){e->id,       e->key_blob, e->key_blob_len,
                                 b->blobs[i], blen,        e->value ? e->key_len + e->len : 0};
    }
    return SR_OK;
}

/* The quota message, from what the store reported. */
static sr_status
quota_error(sr_storage_session *s, const struct sr_kv_result *res, sr_err *err)
{
    unsigned long long would = res->quota_would, limit = res->quota_limit;
    s->quota = res->quota;
    switch (res->quota) {
    case SR_KV_QUOTA_KEYS:
        return sr_err_set(err, SR_ELIMIT,
                          "namespace '%s' would hold %llu keys; its quota is %llu "
                          "keys",
                          s->ns, would, limit);
    case SR_KV_QUOTA_BYTES:
        return sr_err_set(err, SR_ELIMIT,
                          "namespace '%s' would hold %llu bytes; its quota is %llu bytes", s->ns,
                          would, limit);
    case SR_KV_QUOTA_NAMESPACES:
        return sr_err_set(err, SR_ELIMIT,
                          "creating namespace '%s' would give owner '%s' %llu storage namespaces; "
                          "the quota is %llu namespaces per owner",
                          s->ns, s->owner, would, limit);
    case SR_KV_QUOTA_OWNER_BYTES:
        return sr_err_set(
            err, SR_ELIMIT,
            "owner '%s' would hold %llu bytes of storage in all namespaces; the quota "
            "is %llu bytes per owner",
            s->owner, would, limit);
    case SR_KV_QUOTA_NONE:
        break;
    }
    return SR_ELIMIT; /* the store's own message stands */
}

sr_status
sr_storage_session_quota_error(sr_storage_session *s, const struct sr_kv_result *res, sr_err *err)
{
    return quota_error(s, res, err);
}

sr_status
sr_storage_session_prepare(sr_storage_session *s, const struct sr_kv_commit **out, uint64_t *before,
                           uint64_t *after, sr_err *err)
{
    *out = NULL;
    if (s->nw == 0) {
        sr_status rc = sr_storage_session_version(s, before, err);
        if (rc == SR_OK)
            *after = *before;
        return rc;
    }
    sr_status rc = bufs_init(s, &s->bufs, err);
    for (int attempt = 0; rc == SR_OK && attempt < COMMIT_RETRIES; attempt++) {
        uint64_t v = 0;
        bool moved = false;
        rc = check_reads(s, &v, err);
        if (rc == SR_OK)
            rc = check_listings(s, v, &moved, err);
        if (rc != SR_OK || moved)
            continue; /* moved: the namespace changed while its index was read */
        rc = bufs_seal(s, v + 1, &s->bufs, err);
        if (rc != SR_OK)
            break;
        s->commit = (struct sr_kv_commit){
            .owner = s->owner,
            .ns_id = s->k.id,
            .name_blob = s->bufs.name_blob,
            .name_blob_len = s->bufs.name_blob_len,
            .expected_version = v,
            .writes = s->bufs.writes,
            .nwrites = s->nw,
            .max_keys = s->max_keys,
            .max_bytes = s->max_bytes,
            .max_namespaces = s->max_namespaces,
            .max_owner_bytes = s->max_owner_bytes,
            .now_ms = sr_now_ms(),
        };
        *out = &s->commit;
        *before = v;
        *after = v + 1;
        return SR_OK;
    }
    if (rc == SR_OK)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "namespace '%s' kept changing during the commit (%d attempts)", s->ns,
                        COMMIT_RETRIES);
    return rc;
}

sr_status
sr_storage_session_commit(sr_storage_session *s, uint64_t *before, uint64_t *after, sr_err *err)
{
    for (int attempt = 0; attempt < COMMIT_RETRIES; attempt++) {
        const struct sr_kv_commit *c = NULL;
        struct sr_kv_result res = {0};
        sr_status rc = sr_storage_session_prepare(s, &c, before, after, err);
        if (rc != SR_OK || !c)
            return rc;
        rc = sr_store_kv_commit(s->store, c, &res, err);
        if (rc == SR_ELIMIT)
            return quota_error(s, &res, err);
        if (rc != SR_OK)
            return rc;
        if (!res.moved) {
            *before = res.version_before;
            *after = res.version_after;
            return SR_OK;
        }
    }
    return sr_err_set(err, SR_ECONFLICT,
                      "namespace '%s' kept changing during the commit (%d attempts)", s->ns,
                      COMMIT_RETRIES);
}

sr_status
sr_storage_session_version(sr_storage_session *s, uint64_t *version, sr_err *err)
{
    struct sr_kv_ns ns;
    sr_status rc = sr_store_kv_ns(s->store, s->owner, s->k.id, &ns, err);
    if (rc == SR_OK)
        *version = ns.version;
    return rc;
}

/* ---- single-key access for the API ---- */

sr_status
sr_storage_get(const struct sr_storage_config *cfg, const uint8_t *key, size_t key_len,
               uint8_t **value, size_t *len, uint64_t *version, sr_err *err)
{
    const char *ns = cfg->ns ? cfg->ns : SR_STORAGE_DEFAULT_NS;
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc == SR_OK)
        rc = sr_storage_key_check(key, key_len, err);
    if (rc != SR_OK)
        return rc;
    struct sr_storage_ns_keys k;
    struct sr_kv_row row = {0};
    uint8_t id[32];
    sr_storage_ns_keys_init(cfg->keys, cfg->owner, ns, &k);
    sr_storage_key_id(&k, key, key_len, id);
    rc = sr_store_kv_get(cfg->store, cfg->owner, k.id, id, &row, err);
    if (rc == SR_ENOTFOUND)
        rc = sr_err_set(err, SR_ENOTFOUND, "key " KEY_FMT " not found in namespace '%s'",
                        KEY_ARG(key, key_len), ns);
    if (rc == SR_OK) {
        rc = sr_storage_open(k.value, cfg->owner, ns, key, key_len, row.version, row.blob,
                             row.blob_len, value, len, err);
        if (rc == SR_OK) {
            *version = row.version;
        } else if (rc != SR_ENOMEM) {
            /* a row that does not open is damage or tampering: sealrun's
             * error, never the caller's (not a 401 for "authentication
             * failed") */
            (void)sr_err_wrap(err, "the stored value of key " KEY_FMT, KEY_ARG(key, key_len));
            if (err)
                err->status = SR_EINTERNAL;
            rc = SR_EINTERNAL;
        }
    }
    sr_kv_row_fini(&row);
    sr_storage_ns_keys_wipe(&k);
    return rc;
}

sr_status
sr_storage_put(const struct sr_storage_config *cfg, const uint8_t *key, size_t key_len,
               const uint8_t *value, size_t len, uint64_t *version, sr_err *err)
{
    sr_storage_session *s = NULL;
    sr_status rc = sr_storage_session_new(cfg, &s, err);
    if (rc == SR_OK)
        rc = sr_storage_key_check(key, key_len, err);
    if (rc == SR_OK && value && len > SR_STORAGE_MAX_VALUE)
        rc = sr_err_set(err, SR_ELIMIT, "storage value is %zu bytes; the limit is %u bytes", len,
                        SR_STORAGE_MAX_VALUE);
    if (rc == SR_OK && !value) { /* a delete must find the key, and conflicts if it changes */
        bool found = false;
        uint8_t *v = NULL;
        size_t vlen = 0;
        rc = op_get(s, key, key_len, false, &found, &v, &vlen, err);
        if (rc == SR_OK && !found)
            rc = sr_err_set(err, SR_ENOTFOUND, "key " KEY_FMT " not found in namespace '%s'",
                            KEY_ARG(key, key_len), s->ns);
    }
    if (rc == SR_OK)
        rc = wput(s, key, key_len, value, value ? len : 0, err);
    uint64_t before = 0;
    if (rc == SR_OK)
        rc = sr_storage_session_commit(s, &before, version, err);
    /* the request is fine but the owner cannot have another namespace now */
    if (rc == SR_ELIMIT && s->quota == SR_KV_QUOTA_NAMESPACES) {
        rc = SR_ECONFLICT;
        if (err)
            err->status = SR_ECONFLICT;
    }
    sr_storage_session_free(s);
    return rc;
}
