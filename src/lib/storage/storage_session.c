/* SPDX-License-Identifier: MIT
 *
 * storage_session.c - one job's view of a namespace, kept by the supervisor
 * (docs/storage.md "Isolation"): a write buffer sorted by key (puts and
 * deletes; the job reads its own writes), the read set (each key the job read
 * from the store with the version it saw, 0 for absent) and the listings it
 * read. The commit hands all three to the store, which applies the writes
 * only if nothing read has changed since.
 *
 * Sections: buffers; operations; answering a host call; the commit; single-key
 * access for the API.
 */
#include "sealrun/sr_storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define COMMIT_RETRIES 16
#define STORE_LIST_MAX 1025 /* the store's cap on one listing */

struct wentry {
    uint8_t *key;
    size_t key_len;
    uint8_t *value; /* NULL for a delete */
    size_t len;
};

struct rentry {
    uint8_t *key;
    size_t key_len;
    uint64_t version; /* 0: absent */
};

struct range {
    uint8_t *prefix;
    size_t prefix_len;
    uint8_t *after; /* NULL: from the start */
    size_t after_len;
    size_t limit;
    struct sr_kv_row *rows; /* from the store, in order */
    size_t nrows;
};

struct sr_storage_session {
    sr_store *store;
    const sr_keys *keys;
    char owner[SR_MAX_USER_NAME + 1];
    char ns[SR_STORAGE_MAX_NS + 1];
    uint64_t max_keys, max_bytes;
    uint8_t nskey[32];
    struct wentry *w; /* sorted by key */
    size_t nw, capw;
    size_t wbytes; /* buffered key + value bytes */
    struct rentry *r;
    size_t nr, capr;
    struct range *g;
    size_t ng, capg;
};

/* ---- buffers ---- */

/* SQLite's BLOB order: memcmp, then the shorter first. */
static int
key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

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

/* Index of key in the write buffer, or where it would go (*found false). */
static size_t
wfind(const sr_storage_session *s, const uint8_t *key, size_t len, bool *found)
{
    size_t lo = 0, hi = s->nw;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(s->w[mid].key, s->w[mid].key_len, key, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void
wentry_free(struct wentry *e)
{
    if (e->value) {
        sodium_memzero(e->value, e->len);
        free(e->value);
    }
    free(e->key);
}

/* Buffers a put (value != NULL) or delete; takes nothing, copies both. */
static sr_status
wput(sr_storage_session *s, const uint8_t *key, size_t len, const uint8_t *value, size_t vlen,
     sr_err *err)
{
    bool found;
    size_t i = wfind(s, key, len, &found);
    size_t old = found ? s->w[i].key_len + s->w[i].len : 0;
    size_t add = len + vlen;
    if (s->wbytes - old + add > SR_STORAGE_MAX_JOB_BYTES)
        return sr_err_set(err, SR_ELIMIT,
                          "a job may buffer at most %u bytes of storage writes (keys and values)",
                          SR_STORAGE_MAX_JOB_BYTES);
    uint8_t *v = value ? dup_bytes(value, vlen) : NULL;
    uint8_t *k = found ? NULL : dup_bytes(key, len);
    if ((value && !v) || (!found && !k) ||
        (!found && !grow((void **)&s->w, &s->capw, s->nw, sizeof(*s->w)))) {
        free(v);
        free(k);
        return sr_err_set(err, SR_ENOMEM, "out of memory buffering a storage write");
    }
    if (found) {
        k = s->w[i].key;
        s->w[i].key = NULL;
        wentry_free(&s->w[i]);
    } else {
        memmove(&s->w[i + 1], &s->w[i], (s->nw - i) * sizeof(*s->w));
        s->nw++;
    }
    s->w[i] = (struct wentry){k, len, v, value ? vlen : 0};
    s->wbytes = s->wbytes - old + add;
    return SR_OK;
}

static const struct rentry *
rfind(const sr_storage_session *s, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < s->nr; i++)
        if (key_cmp(s->r[i].key, s->r[i].key_len, key, len) == 0)
            return &s->r[i];
    return NULL;
}

/* Records the first version the job saw of a key. */
static sr_status
rnote(sr_storage_session *s, const uint8_t *key, size_t len, uint64_t version, sr_err *err)
{
    if (rfind(s, key, len))
        return SR_OK;
    uint8_t *k = dup_bytes(key, len);
    if (!k || !grow((void **)&s->r, &s->capr, s->nr, sizeof(*s->r))) {
        free(k);
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a storage read");
    }
    s->r[s->nr++] = (struct rentry){k, len, version};
    return SR_OK;
}

sr_status
sr_storage_session_new(const struct sr_storage_config *cfg, sr_storage_session **out, sr_err *err)
{
    const char *ns = cfg->ns && *cfg->ns ? cfg->ns : SR_STORAGE_DEFAULT_NS;
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc != SR_OK)
        return rc;
    if (!cfg->store || !cfg->keys || !cfg->owner || strlen(cfg->owner) > SR_MAX_USER_NAME)
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
    sr_storage_ns_key(cfg->keys, s->owner, s->ns, s->nskey);
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
    for (size_t i = 0; i < s->nr; i++)
        free(s->r[i].key);
    for (size_t i = 0; i < s->ng; i++) {
        for (size_t j = 0; j < s->g[i].nrows; j++)
            sr_kv_row_fini(&s->g[i].rows[j]);
        free(s->g[i].rows);
        free(s->g[i].prefix);
        free(s->g[i].after);
    }
    free(s->w);
    free(s->r);
    free(s->g);
    sodium_memzero(s->nskey, sizeof(s->nskey));
    free(s);
}

const char *
sr_storage_session_ns(const sr_storage_session *s)
{
    return s->ns;
}

/* ---- operations ---- */

/* Reads a key: the buffer first, else the store (recording the read).
 * *value owned (NULL when absent or when want_value is false). */
static sr_status
op_get(sr_storage_session *s, const uint8_t *key, size_t len, bool want_value, bool *found,
       uint8_t **value, size_t *vlen, sr_err *err)
{
    bool in_buf;
    size_t i = wfind(s, key, len, &in_buf);
    *value = NULL;
    *vlen = 0;
    if (in_buf) {
        const struct wentry *e = &s->w[i];
        *found = e->value != NULL;
        if (*found && want_value && !(*value = dup_bytes(e->value, e->len)))
            return sr_err_set(err, SR_ENOMEM, "out of memory reading storage");
        *vlen = e->len;
        return SR_OK;
    }
    struct sr_kv_row row = {0};
    sr_status rc = sr_store_kv_get(s->store, s->owner, s->ns, key, len, &row, err);
    *found = rc == SR_OK;
    if (rc == SR_ENOTFOUND)
        rc = SR_OK;
    if (rc == SR_OK)
        rc = rnote(s, key, len, *found ? row.version : 0, err);
    if (rc == SR_OK && *found && want_value) {
        rc = sr_storage_open(s->nskey, s->owner, s->ns, key, len, row.version, row.blob,
                             row.blob_len, value, vlen, err);
        if (rc != SR_OK)
            (void)sr_err_wrap(err, "the stored value of a key in namespace '%s'", s->ns);
    }
    sr_kv_row_fini(&row);
    return rc;
}

/* Buffered entries that fall in a listing's range. */
static bool
in_range(const uint8_t *k, size_t klen, const struct range *g)
{
    if (klen < g->prefix_len || (g->prefix_len && memcmp(k, g->prefix, g->prefix_len) != 0))
        return false;
    return !g->after || key_cmp(k, klen, g->after, g->after_len) > 0;
}

/* Appends one key of a list answer. */
static sr_status
list_emit(sr_buf *resp, const uint8_t *k, size_t len, sr_err *err)
{
    uint8_t n[2] = {(uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    sr_status rc = sr_buf_append(resp, n, 2, err);
    return rc == SR_OK ? sr_buf_append(resp, k, len, err) : rc;
}

/* The next buffered put in g's range at or after index j. */
static size_t
next_put(const sr_storage_session *s, const struct range *g, size_t j)
{
    while (j < s->nw && !(s->w[j].value && in_range(s->w[j].key, s->w[j].key_len, g)))
        j++;
    return j;
}

/* The next store row at or after i that the buffer does not decide. */
static size_t
next_row(const sr_storage_session *s, const struct range *g, size_t i)
{
    bool found = true;
    while (i < g->nrows) {
        (void)wfind(s, g->rows[i].key, g->rows[i].key_len, &found);
        if (!found)
            break;
        i++;
    }
    return i;
}

/* Merges the store's rows with the buffer (puts added; deleted and
 * overwritten keys come from the buffer) and writes at most 'limit' keys. */
static sr_status
list_merge(const sr_storage_session *s, const struct range *g, size_t limit, sr_buf *resp,
           sr_err *err)
{
    size_t head = resp->len, count = 0;
    bool more = false;
    const uint8_t zero[5] = {0};
    sr_status rc = sr_buf_append(resp, zero, sizeof(zero), err);
    size_t i = next_row(s, g, 0), j = next_put(s, g, 0);
    while (rc == SR_OK && (i < g->nrows || j < s->nw)) {
        bool from_store = i < g->nrows && (j >= s->nw || key_cmp(g->rows[i].key, g->rows[i].key_len,
                                                                 s->w[j].key, s->w[j].key_len) < 0);
        if (count == limit) {
            more = true;
            break;
        }
        if (from_store) {
            rc = list_emit(resp, g->rows[i].key, g->rows[i].key_len, err);
            i = next_row(s, g, i + 1);
        } else {
            rc = list_emit(resp, s->w[j].key, s->w[j].key_len, err);
            j = next_put(s, g, j + 1);
        }
        count++;
    }
    if (rc != SR_OK)
        return rc;
    /* the store was cut at g->limit rows: keys past its last row are unknown */
    more = more || g->nrows == g->limit;
    uint8_t *p = (uint8_t *)resp->data + head;
    for (int b = 0; b < 4; b++)
        p[b] = (uint8_t)(count >> (8 * b));
    p[4] = more;
    return SR_OK;
}

/* Buffered entries (puts and deletes) in g's range: each may hide or add one
 * store row, so the store is asked for that many more. */
static size_t
buffered_in_range(const sr_storage_session *s, const struct range *g)
{
    size_t n = 0;
    for (size_t j = 0; j < s->nw; j++)
        n += in_range(s->w[j].key, s->w[j].key_len, g);
    return n;
}

static sr_status
op_list(sr_storage_session *s, struct range *g, size_t limit, sr_buf *resp, sr_err *err)
{
    size_t want = limit + buffered_in_range(s, g) + 1;
    g->limit = want < STORE_LIST_MAX ? want : STORE_LIST_MAX;
    sr_status rc = sr_store_kv_list(s->store, s->owner, s->ns, g->prefix, g->prefix_len, g->after,
                                    g->after_len, g->limit, &g->rows, &g->nrows, err);
    if (rc != SR_OK)
        return rc;
    if (!grow((void **)&s->g, &s->capg, s->ng, sizeof(*s->g))) {
        for (size_t j = 0; j < g->nrows; j++)
            sr_kv_row_fini(&g->rows[j]);
        free(g->rows);
        g->rows = NULL; /* the caller frees prefix and after */
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a storage listing");
    }
    s->g[s->ng++] = *g; /* the session owns it now */
    uint8_t ok = SR_STORAGE_WIRE_OK;
    rc = sr_buf_append(resp, &ok, 1, err);
    return rc == SR_OK ? list_merge(s, &s->g[s->ng - 1], limit, resp, err) : rc;
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

static uint32_t
get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parses the list payload into g (copies prefix and after). */
static sr_status
parse_list(const uint8_t *key, size_t klen, const uint8_t *p, size_t len, struct range *g,
           size_t *limit, sr_err *err)
{
    if (len < 6 || len - 6 != ((size_t)p[4] | (size_t)p[5] << 8))
        return sr_err_set(err, SR_EINVAL, "malformed storage list request");
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
    g->prefix = klen ? dup_bytes(key, klen) : NULL;
    g->prefix_len = klen;
    g->after = alen ? dup_bytes(p + 6, alen) : NULL;
    g->after_len = alen;
    if ((klen && !g->prefix) || (alen && !g->after)) {
        free(g->prefix);
        free(g->after);
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    return SR_OK;
}

static sr_status
handle_list(sr_storage_session *s, const uint8_t *key, size_t klen, const uint8_t *p, size_t len,
            sr_buf *resp, sr_err *err)
{
    struct range g = {0};
    size_t limit = 0;
    sr_err why = {0};
    if (parse_list(key, klen, p, len, &g, &limit, &why) != SR_OK)
        return why.status == SR_ENOMEM ? sr_err_set(err, SR_ENOMEM, "%s", why.msg)
                                       : refuse(resp, &why);
    sr_status rc = op_list(s, &g, limit, resp, err);
    if (rc != SR_OK && g.rows == NULL) {
        free(g.prefix);
        free(g.after);
    }
    return rc;
}

static sr_status
handle_get(sr_storage_session *s, char op, const uint8_t *key, size_t klen, sr_buf *resp,
           sr_err *err)
{
    bool found = false;
    uint8_t *v = NULL;
    size_t vlen = 0;
    sr_status rc = op_get(s, key, klen, op == 'G', &found, &v, &vlen, err);
    if (rc == SR_OK && op == 'H') {
        uint8_t b = found;
        rc = answer(resp, SR_STORAGE_WIRE_OK, &b, 1, err);
    } else if (rc == SR_OK) {
        rc = found ? answer(resp, SR_STORAGE_WIRE_OK, v, vlen, err)
                   : answer(resp, SR_STORAGE_WIRE_NOTFOUND, NULL, 0, err);
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
    sr_status rc = wput(s, key, klen, op == 'S' ? p : NULL, op == 'S' ? len : 0, &why);
    if (rc == SR_ELIMIT)
        return refuse(resp, &why);
    if (rc != SR_OK)
        return sr_err_set(err, rc, "%s", why.msg);
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

struct commit_bufs {
    struct sr_kv_read *reads;
    struct sr_kv_range *ranges;
    struct sr_kv_read *rows; /* every range's rows, back to back */
    struct sr_kv_write *writes;
    uint8_t **blobs;
};

static void
bufs_free(struct commit_bufs *b, size_t nw)
{
    for (size_t i = 0; b->blobs && i < nw; i++)
        free(b->blobs[i]);
    free(b->blobs);
    free(b->reads);
    free(b->ranges);
    free(b->rows);
    free(b->writes);
    memset(b, 0, sizeof(*b));
}

/* The read set and listings as the store wants them (borrowing the session). */
static sr_status
bufs_evidence(const sr_storage_session *s, struct commit_bufs *b, sr_err *err)
{
    size_t nrows = 0;
    for (size_t i = 0; i < s->ng; i++)
        nrows += s->g[i].nrows;
    b->reads = calloc(s->nr + 1, sizeof(*b->reads));
    b->ranges = calloc(s->ng + 1, sizeof(*b->ranges));
    b->rows = calloc(nrows + 1, sizeof(*b->rows));
    b->writes = calloc(s->nw + 1, sizeof(*b->writes));
    b->blobs = calloc(s->nw + 1, sizeof(*b->blobs));
    if (!b->reads || !b->ranges || !b->rows || !b->writes || !b->blobs)
        return sr_err_set(err, SR_ENOMEM, "out of memory committing storage");
    for (size_t i = 0; i < s->nr; i++)
        b->reads[i] = (struct sr_kv_read){s->r[i].key, s->r[i].key_len, s->r[i].version};
    size_t k = 0;
    for (size_t i = 0; i < s->ng; i++) {
        const struct range *g = &s->g[i];
        b->ranges[i] = (struct sr_kv_range){g->prefix, g->prefix_len, g->after, g->after_len,
                                            g->limit,  &b->rows[k],   g->nrows};
        for (size_t j = 0; j < g->nrows; j++)
            b->rows[k++] =
                (struct sr_kv_read){g->rows[j].key, g->rows[j].key_len, g->rows[j].version};
    }
    return SR_OK;
}

/* Seals every put for 'version'. */
static sr_status
bufs_seal(const sr_storage_session *s, uint64_t version, struct commit_bufs *b, sr_err *err)
{
    for (size_t i = 0; i < s->nw; i++) {
        const struct wentry *e = &s->w[i];
        free(b->blobs[i]);
        b->blobs[i] = NULL;
        size_t blen = 0;
        if (e->value) {
            sr_status rc = sr_storage_seal(s->nskey, s->owner, s->ns, e->key, e->key_len, version,
                                           e->value, e->len, &b->blobs[i], &blen, err);
            if (rc != SR_OK)
                return rc;
        }
        b->writes[i] = (struct sr_kv_write){e->key, e->key_len, b->blobs[i], blen,
                                            e->value ? e->key_len + e->len : 0};
    }
    return SR_OK;
}

sr_status
sr_storage_session_commit(sr_storage_session *s, uint64_t *before, uint64_t *after, sr_err *err)
{
    struct commit_bufs b = {0};
    struct sr_kv_result res = {0};
    struct sr_kv_ns ns;
    sr_status rc = sr_store_kv_ns(s->store, s->owner, s->ns, &ns, err);
    if (rc == SR_OK && s->nw == 0) {
        *before = *after = ns.version;
        return SR_OK;
    }
    if (rc == SR_OK)
        rc = bufs_evidence(s, &b, err);
    for (int attempt = 0; rc == SR_OK && attempt < COMMIT_RETRIES; attempt++) {
        rc = bufs_seal(s, ns.version + 1, &b, err);
        const struct sr_kv_commit c = {
            .owner = s->owner,
            .ns = s->ns,
            .expected_version = ns.version,
            .reads = b.reads,
            .nreads = s->nr,
            .ranges = b.ranges,
            .nranges = s->ng,
            .writes = b.writes,
            .nwrites = s->nw,
            .max_keys = s->max_keys,
            .max_bytes = s->max_bytes,
            .now_ms = sr_now_ms(),
        };
        if (rc == SR_OK)
            rc = sr_store_kv_commit(s->store, &c, &res, err);
        if (rc == SR_OK && !res.moved) {
            *before = res.version_before;
            *after = res.version_after;
            bufs_free(&b, s->nw);
            return SR_OK;
        }
        ns.version = res.version_before; /* others committed meanwhile: re-seal */
    }
    bufs_free(&b, s->nw);
    if (rc == SR_OK)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "namespace '%s' kept changing during the commit (%d attempts)", s->ns,
                        COMMIT_RETRIES);
    return rc;
}

sr_status
sr_storage_session_version(sr_storage_session *s, uint64_t *version, sr_err *err)
{
    struct sr_kv_ns ns;
    sr_status rc = sr_store_kv_ns(s->store, s->owner, s->ns, &ns, err);
    if (rc == SR_OK)
        *version = ns.version;
    return rc;
}

/* ---- single-key access for the API ---- */

sr_status
sr_storage_get(sr_store *st, const sr_keys *keys, const char *owner, const char *ns,
               const uint8_t *key, size_t key_len, uint8_t **value, size_t *len, uint64_t *version,
               sr_err *err)
{
    sr_status rc = sr_storage_ns_check(ns, strlen(ns), err);
    if (rc == SR_OK)
        rc = sr_storage_key_check(key, key_len, err);
    struct sr_kv_row row = {0};
    if (rc == SR_OK)
        rc = sr_store_kv_get(st, owner, ns, key, key_len, &row, err);
    if (rc == SR_OK) {
        uint8_t nskey[32];
        sr_storage_ns_key(keys, owner, ns, nskey);
        rc = sr_storage_open(nskey, owner, ns, key, key_len, row.version, row.blob, row.blob_len,
                             value, len, err);
        sodium_memzero(nskey, sizeof(nskey));
        if (rc == SR_OK) {
            *version = row.version;
        } else {
            /* a row that does not open is damage or tampering: sealrun's error,
             * never the caller's (not a 401 for an authentication failure) */
            (void)sr_err_wrap(err, "the stored value of key '%.*s'", (int)key_len,
                              (const char *)key);
            if (err)
                err->status = SR_EINTERNAL;
            rc = SR_EINTERNAL;
        }
    }
    sr_kv_row_fini(&row);
    return rc;
}

sr_status
sr_storage_put(sr_store *st, const sr_keys *keys, const char *owner, const char *ns,
               const uint8_t *key, size_t key_len, const uint8_t *value, size_t len,
               uint64_t max_keys, uint64_t max_bytes, uint64_t *version, sr_err *err)
{
    sr_storage_session *s = NULL;
    const struct sr_storage_config cfg = {st, keys, owner, ns, max_keys, max_bytes};
    sr_status rc = sr_storage_session_new(&cfg, &s, err);
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
            rc = sr_err_set(err, SR_ENOTFOUND, "key '%.*s' not found in namespace '%s'",
                            (int)(key_len > 64 ? 64 : key_len), (const char *)key, ns);
    }
    if (rc == SR_OK)
        rc = wput(s, key, key_len, value, value ? len : 0, err);
    uint64_t before = 0;
    if (rc == SR_OK)
        rc = sr_storage_session_commit(s, &before, version, err);
    sr_storage_session_free(s);
    return rc;
}
