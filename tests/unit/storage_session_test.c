/* SPDX-License-Identifier: MIT
 *
 * storage_session_test.c - the storage module: at-rest codec (round trip,
 * compression on and off, AAD binding), names and keys, the host-call wire
 * format, read-your-writes, listing, optimistic commit (conflict, version
 * moved), quotas and owner isolation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>
#include "sealrun/sr_storage.h"
#include "store_keys.h"

struct fix {
    char dir[64];
    char path[96];
    sr_store *st;
    sr_keys *keys;
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    uint8_t k1[32], k2[32];
    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-storage-XXXXXX");
    if (sodium_init() < 0 || !mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
    if (test_store_open_keyless(f->path, &f->st, NULL) != SR_OK ||
        sr_keys_new(k1, 32, k2, 32, &f->keys, NULL) != SR_OK)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;
    sr_store_close(f->st);
    sr_keys_free(f->keys);
    char p[128];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- codec ---- */

static void
seal_open(const uint8_t *v, size_t len, size_t *blob_len)
{
    uint8_t nskey[32];
    memset(nskey, 7, sizeof(nskey));
    uint8_t *blob = NULL, *out = NULL;
    size_t out_len = 0;
    sr_err e = {0};
    assert_int_equal(sr_storage_seal(nskey, "alice", "default", (const uint8_t *)"k", 1, 3, v, len,
                                     &blob, blob_len, &e),
                     SR_OK);
    assert_int_equal(sr_storage_open(nskey, "alice", "default", (const uint8_t *)"k", 1, 3, blob,
                                     *blob_len, &out, &out_len, &e),
                     SR_OK);
    assert_int_equal(out_len, len);
    assert_memory_equal(out, v, len);
    free(out);
    free(blob);
}

static void
test_codec_round_trip_and_compression(void **state)
{
    (void)state;
    size_t blob_len = 0;
    /* short values are never compressed: flag byte + nonce + tag */
    seal_open((const uint8_t *)"hello", 5, &blob_len);
    assert_int_equal(blob_len, 5 + SR_STORAGE_BLOB_OVERHEAD);
    seal_open((const uint8_t *)"", 0, &blob_len);
    assert_int_equal(blob_len, SR_STORAGE_BLOB_OVERHEAD);
    /* a long repetitive value is compressed */
    uint8_t *big = malloc(SR_STORAGE_MAX_VALUE);
    memset(big, 'a', SR_STORAGE_MAX_VALUE);
    seal_open(big, SR_STORAGE_MAX_VALUE, &blob_len);
    assert_true(blob_len < 10000);
    /* random bytes do not shrink: stored raw */
    randombytes_buf(big, 4096);
    seal_open(big, 4096, &blob_len);
    assert_int_equal(blob_len, 4096 + SR_STORAGE_BLOB_OVERHEAD);
    /* 1 KiB exactly is not compressed, 1 KiB + 1 is */
    memset(big, 'b', 1025);
    seal_open(big, 1024, &blob_len);
    assert_int_equal(blob_len, 1024 + SR_STORAGE_BLOB_OVERHEAD);
    seal_open(big, 1025, &blob_len);
    assert_true(blob_len < 1025);
    free(big);
}

static void
test_codec_aad_binds_owner_ns_key_version(void **state)
{
    (void)state;
    uint8_t nskey[32], other[32];
    memset(nskey, 7, sizeof(nskey));
    memset(other, 8, sizeof(other));
    uint8_t *blob = NULL, *out = NULL;
    size_t blen = 0, olen = 0;
    sr_err e = {0};
    const uint8_t *k = (const uint8_t *)"key";
    assert_int_equal(
        sr_storage_seal(nskey, "alice", "ns", k, 3, 5, (const uint8_t *)"v", 1, &blob, &blen, &e),
        SR_OK);
    assert_int_equal(sr_storage_open(nskey, "bob", "ns", k, 3, 5, blob, blen, &out, &olen, &e),
                     SR_EDENIED);
    assert_string_equal(e.msg, "authentication failed");
    assert_int_equal(sr_storage_open(nskey, "alice", "ns2", k, 3, 5, blob, blen, &out, &olen, &e),
                     SR_EDENIED);
    assert_int_equal(sr_storage_open(nskey, "alice", "ns", (const uint8_t *)"kez", 3, 5, blob, blen,
                                     &out, &olen, &e),
                     SR_EDENIED);
    assert_int_equal(sr_storage_open(nskey, "alice", "ns", k, 3, 6, blob, blen, &out, &olen, &e),
                     SR_EDENIED);
    assert_int_equal(sr_storage_open(other, "alice", "ns", k, 3, 5, blob, blen, &out, &olen, &e),
                     SR_EDENIED);
    blob[blen - 1] ^= 1;
    assert_int_equal(sr_storage_open(nskey, "alice", "ns", k, 3, 5, blob, blen, &out, &olen, &e),
                     SR_EDENIED);
    assert_int_equal(sr_storage_open(nskey, "alice", "ns", k, 3, 5, blob, 10, &out, &olen, &e),
                     SR_EDENIED);
    free(blob);
}

static void
test_names_and_keys(void **state)
{
    (void)state;
    sr_err e = {0};
    assert_int_equal(sr_storage_ns_check("a.b-c_D9", 8, &e), SR_OK);
    assert_int_equal(sr_storage_ns_check("", 0, &e), SR_EINVAL);
    assert_int_equal(sr_storage_ns_check("a/b", 3, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "offset 1"));
    char longns[66];
    memset(longns, 'n', 65);
    assert_int_equal(sr_storage_ns_check(longns, 65, &e), SR_EINVAL);
    assert_int_equal(sr_storage_ns_check(longns, 64, &e), SR_OK);
    assert_int_equal(sr_storage_key_check((const uint8_t *)"\xc3\xa9t\xc3\xa9", 5, &e), SR_OK);
    assert_int_equal(sr_storage_key_check((const uint8_t *)"a\xff", 2, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "offset 1"));
    assert_int_equal(sr_storage_key_check((const uint8_t *)"a\0b", 3, &e), SR_EINVAL);
    assert_int_equal(sr_storage_key_check((const uint8_t *)"\xed\xa0\x80", 3, &e), SR_EINVAL);
    assert_int_equal(sr_storage_key_check((const uint8_t *)"", 0, &e), SR_EINVAL);
    uint8_t k[257];
    memset(k, 'k', sizeof(k));
    assert_int_equal(sr_storage_key_check(k, 256, &e), SR_OK);
    assert_int_equal(sr_storage_key_check(k, 257, &e), SR_EINVAL);
}

/* ---- sessions ---- */

static sr_storage_session *
session(struct fix *f, const char *owner, const char *ns, uint64_t max_keys, uint64_t max_bytes)
{
    sr_storage_session *s = NULL;
    const struct sr_storage_config cfg = {f->st, f->keys, owner, ns, max_keys, max_bytes};
    assert_int_equal(sr_storage_session_new(&cfg, &s, NULL), SR_OK);
    return s;
}

/* Sends one request; returns the answer code, the payload in *out. */
static int
call(sr_storage_session *s, char op, const char *key, const char *val, size_t vlen, sr_buf *out)
{
    sr_buf req;
    sr_buf_init(&req, 4u << 20);
    assert_int_equal(sr_storage_wire_request(&req, op, (const uint8_t *)key, strlen(key),
                                             (const uint8_t *)val, vlen, NULL),
                     SR_OK);
    sr_buf_reset(out);
    sr_err e = {0};
    assert_int_equal(sr_storage_session_handle(s, (const uint8_t *)req.data, req.len, out, &e),
                     SR_OK);
    sr_buf_fini(&req);
    assert_true(out->len >= 1);
    return (unsigned char)out->data[0];
}

static void
set(sr_storage_session *s, const char *k, const char *v)
{
    sr_buf out;
    sr_buf_init(&out, 4u << 20);
    assert_int_equal(call(s, 'S', k, v, strlen(v), &out), SR_STORAGE_WIRE_OK);
    sr_buf_fini(&out);
}

/* get: the value as a string, or NULL when absent (owned). */
static char *
get(sr_storage_session *s, const char *k)
{
    sr_buf out;
    sr_buf_init(&out, 4u << 20);
    int code = call(s, 'G', k, NULL, 0, &out);
    char *v = code == SR_STORAGE_WIRE_OK ? strndup(out.data + 1, out.len - 1) : NULL;
    assert_true(code == SR_STORAGE_WIRE_OK || code == SR_STORAGE_WIRE_NOTFOUND);
    sr_buf_fini(&out);
    return v;
}

static void
commit(sr_storage_session *s, sr_status want, uint64_t *before, uint64_t *after)
{
    sr_err e = {0};
    uint64_t b = 0, a = 0;
    assert_int_equal(sr_storage_session_commit(s, &b, &a, &e), want);
    if (before)
        *before = b;
    if (after)
        *after = a;
}

static void
test_read_your_writes_and_commit(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", NULL, 0, 0);
    assert_null(get(s, "x"));
    set(s, "x", "1");
    char *v = get(s, "x");
    assert_string_equal(v, "1");
    free(v);
    uint64_t b, a;
    commit(s, SR_OK, &b, &a);
    assert_int_equal(b, 0);
    assert_int_equal(a, 1);
    sr_storage_session_free(s);

    s = session(f, "alice", "default", 0, 0);
    v = get(s, "x");
    assert_string_equal(v, "1");
    free(v);
    commit(s, SR_OK, &b, &a); /* read only: no new version */
    assert_int_equal(b, 1);
    assert_int_equal(a, 1);
    sr_storage_session_free(s);

    /* the value and the key are encrypted at rest */
    struct sr_kv_row row = {0};
    struct sr_storage_ns_keys k;
    uint8_t id[32];
    sr_storage_ns_keys_init(f->keys, "alice", "default", &k);
    sr_storage_key_id(&k, (const uint8_t *)"x", 1, id);
    assert_int_equal(sr_store_kv_get(f->st, "alice", k.id, id, &row, NULL), SR_OK);
    assert_int_equal(row.blob_len, 1 + SR_STORAGE_BLOB_OVERHEAD);
    assert_int_equal(row.key_blob_len, 1 + SR_STORAGE_NAME_OVERHEAD);
    assert_int_equal(row.version, 1);
    sr_kv_row_fini(&row);

    /* another owner sees nothing */
    s = session(f, "bob", NULL, 0, 0);
    assert_null(get(s, "x"));
    sr_storage_session_free(s);
}

static void
test_conflict_when_a_read_key_changed(void **state)
{
    struct fix *f = *state;
    sr_storage_session *a = session(f, "alice", NULL, 0, 0);
    sr_storage_session *b = session(f, "alice", NULL, 0, 0);
    free(get(a, "counter"));
    free(get(b, "counter"));
    set(a, "counter", "1");
    set(b, "counter", "1");
    commit(a, SR_OK, NULL, NULL);
    commit(b, SR_ECONFLICT, NULL, NULL);
    sr_storage_session_free(a);
    sr_storage_session_free(b);

    /* blind writes (nothing read) on other keys both commit: version moves */
    a = session(f, "alice", NULL, 0, 0);
    b = session(f, "alice", NULL, 0, 0);
    set(a, "p", "1");
    set(b, "q", "2");
    uint64_t before, after;
    commit(a, SR_OK, NULL, NULL);
    commit(b, SR_OK, &before, &after);
    assert_int_equal(before, 2);
    assert_int_equal(after, 3);
    sr_storage_session_free(a);
    sr_storage_session_free(b);

    /* a listing that gains a key conflicts */
    a = session(f, "alice", NULL, 0, 0);
    b = session(f, "alice", NULL, 0, 0);
    sr_buf out, req;
    sr_buf_init(&out, 1 << 20);
    sr_buf_init(&req, 1 << 20);
    assert_int_equal(sr_storage_wire_list_request(&req, (const uint8_t *)"z", 1, 10, NULL, 0, NULL),
                     SR_OK);
    assert_int_equal(sr_storage_session_handle(a, (const uint8_t *)req.data, req.len, &out, NULL),
                     SR_OK);
    set(b, "z1", "new");
    commit(b, SR_OK, NULL, NULL);
    set(a, "other", "x");
    commit(a, SR_ECONFLICT, NULL, NULL);
    sr_buf_fini(&out);
    sr_buf_fini(&req);
    sr_storage_session_free(a);
    sr_storage_session_free(b);
}

/* The commit for a caller that applies it itself (a job's end,
 * sr_store_job_end): validated and sealed for the next version; when the
 * namespace moved, prepared again; a changed read is a conflict; a quota
 * the store refuses gets the session's message. */
static void
test_prepare_for_a_jobs_end(void **state)
{
    struct fix *f = *state;
    sr_err e = {0};
    const struct sr_kv_commit *kv = NULL;
    uint64_t b = 9, a = 9;
    sr_storage_session *s = session(f, "alice", NULL, 0, 0);
    assert_int_equal(sr_storage_session_prepare(s, &kv, &b, &a, &e), SR_OK);
    assert_null(kv); /* no writes: nothing to apply, the current version */
    assert_int_equal(b, 0);
    assert_int_equal(a, 0);
    free(get(s, "counter"));
    set(s, "counter", "1");
    assert_int_equal(sr_storage_session_prepare(s, &kv, &b, &a, &e), SR_OK);
    assert_non_null(kv);
    assert_int_equal(kv->expected_version, 0);
    assert_int_equal(kv->nwrites, 1);
    assert_int_equal(b, 0);
    assert_int_equal(a, 1);
    /* another job commits a blind write first: the store says "moved" */
    sr_storage_session *o = session(f, "alice", NULL, 0, 0);
    set(o, "p", "x");
    commit(o, SR_OK, NULL, NULL);
    sr_storage_session_free(o);
    struct sr_kv_result res = {0};
    assert_int_equal(sr_store_kv_commit(f->st, kv, &res, &e), SR_OK);
    assert_true(res.moved);
    /* prepared again at the new version: the key it read is still absent */
    assert_int_equal(sr_storage_session_prepare(s, &kv, &b, &a, &e), SR_OK);
    assert_int_equal(kv->expected_version, 1);
    assert_int_equal(b, 1);
    assert_int_equal(a, 2);
    assert_int_equal(sr_store_kv_commit(f->st, kv, &res, &e), SR_OK);
    assert_false(res.moved);
    assert_int_equal(res.version_after, 2);
    sr_storage_session_free(s);

    /* a key it read changed: no write set, a conflict naming the key */
    s = session(f, "alice", NULL, 0, 0);
    o = session(f, "alice", NULL, 0, 0);
    free(get(s, "counter"));
    set(s, "counter", "2");
    free(get(o, "counter"));
    set(o, "counter", "2");
    commit(o, SR_OK, NULL, NULL);
    kv = NULL;
    assert_int_equal(sr_storage_session_prepare(s, &kv, &b, &a, &e), SR_ECONFLICT);
    assert_null(kv);
    assert_non_null(strstr(e.msg, "'counter'"));
    sr_storage_session_free(s);
    sr_storage_session_free(o);

    /* a quota only the store can judge: the session words its refusal */
    s = session(f, "alice", "q", 1, 0);
    set(s, "k1", "v");
    set(s, "k2", "v");
    assert_int_equal(sr_storage_session_prepare(s, &kv, &b, &a, &e), SR_OK);
    assert_int_equal(sr_store_kv_commit(f->st, kv, &res, &e), SR_ELIMIT);
    assert_int_equal(sr_storage_session_quota_error(s, &res, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "namespace 'q' would hold 2 keys; its quota is 1 keys"));
    assert_int_equal(sr_storage_session_quota(s), SR_KV_QUOTA_KEYS);
    sr_storage_session_free(s);
}

static void
test_list_merges_buffer(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "list", 0, 0);
    set(s, "a/1", "x");
    set(s, "a/2", "x");
    set(s, "a/3", "x");
    set(s, "b/1", "x");
    commit(s, SR_OK, NULL, NULL);
    sr_storage_session_free(s);
    s = session(f, "alice", "list", 0, 0);
    sr_buf out, req;
    sr_buf_init(&out, 1 << 20);
    assert_int_equal(call(s, 'D', "a/2", NULL, 0, &out), SR_STORAGE_WIRE_OK);
    set(s, "a/25", "y");
    sr_buf_init(&req, 1 << 20);
    assert_int_equal(sr_storage_wire_list_request(&req, (const uint8_t *)"a/", 2, 2, NULL, 0, NULL),
                     SR_OK);
    sr_buf_reset(&out);
    assert_int_equal(sr_storage_session_handle(s, (const uint8_t *)req.data, req.len, &out, NULL),
                     SR_OK);
    assert_int_equal(out.data[0], SR_STORAGE_WIRE_OK);
    uint32_t n = 0;
    bool more = false;
    const uint8_t *p = (const uint8_t *)out.data + 1;
    size_t len = out.len - 1, pos = 5;
    assert_int_equal(sr_storage_wire_list_head(p, len, &n, &more, NULL), SR_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    struct sr_storage_key_view k;
    assert_int_equal(sr_storage_wire_list_key(p, len, &pos, &k, NULL), SR_OK);
    assert_memory_equal(k.p, "a/1", 3);
    assert_int_equal(sr_storage_wire_list_key(p, len, &pos, &k, NULL), SR_OK);
    assert_int_equal(k.len, 4);
    assert_memory_equal(k.p, "a/25", 4);
    /* page two: after "a/25" */
    sr_buf_reset(&req);
    assert_int_equal(sr_storage_wire_list_request(&req, (const uint8_t *)"a/", 2, 2,
                                                  (const uint8_t *)"a/25", 4, NULL),
                     SR_OK);
    sr_buf_reset(&out);
    assert_int_equal(sr_storage_session_handle(s, (const uint8_t *)req.data, req.len, &out, NULL),
                     SR_OK);
    p = (const uint8_t *)out.data + 1;
    len = out.len - 1;
    pos = 5;
    assert_int_equal(sr_storage_wire_list_head(p, len, &n, &more, NULL), SR_OK);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_int_equal(sr_storage_wire_list_key(p, len, &pos, &k, NULL), SR_OK);
    assert_memory_equal(k.p, "a/3", 3);
    sr_buf_fini(&out);
    sr_buf_fini(&req);
    sr_storage_session_free(s);
}

static void
test_quota_and_guest_errors(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "q", 2, 100);
    set(s, "a", "1");
    set(s, "b", "2");
    set(s, "c", "3");
    commit(s, SR_ELIMIT, NULL, NULL);
    sr_storage_session_free(s);
    struct sr_kv_ns ns;
    struct sr_storage_ns_keys k;
    sr_storage_ns_keys_init(f->keys, "alice", "q", &k);
    assert_int_equal(sr_store_kv_ns(f->st, "alice", k.id, &ns, NULL), SR_OK);
    assert_int_equal(ns.version, 0); /* nothing was written */
    s = session(f, "alice", "q", 2, 100);
    char big[200];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    set(s, "a", big);
    commit(s, SR_ELIMIT, NULL, NULL);
    sr_storage_session_free(s);

    s = session(f, "alice", "q", 0, 0);
    sr_buf out;
    sr_buf_init(&out, 4u << 20);
    assert_int_equal(call(s, 'G', "bad\xff", NULL, 0, &out), SR_STORAGE_WIRE_INVALID);
    assert_int_equal(call(s, 'S', "", "v", 1, &out), SR_STORAGE_WIRE_INVALID);
    char *huge = malloc(SR_STORAGE_MAX_VALUE + 1);
    memset(huge, 'h', SR_STORAGE_MAX_VALUE + 1);
    assert_int_equal(call(s, 'S', "k", huge, SR_STORAGE_MAX_VALUE + 1, &out),
                     SR_STORAGE_WIRE_LIMIT);
    assert_int_equal(call(s, 'S', "k", huge, SR_STORAGE_MAX_VALUE, &out), SR_STORAGE_WIRE_OK);
    free(huge);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
}

static void
test_api_put_get_delete(void **state)
{
    struct fix *f = *state;
    uint64_t v = 0;
    sr_err e = {0};
    const uint8_t *k = (const uint8_t *)"bin";
    const uint8_t val[] = {0, 1, 2, 255};
    const struct sr_storage_config alice = {
        .store = f->st, .keys = f->keys, .owner = "alice", .ns = "api"};
    const struct sr_storage_config bob = {
        .store = f->st, .keys = f->keys, .owner = "bob", .ns = "api"};
    assert_int_equal(sr_storage_put(&alice, k, 3, val, 4, &v, &e), SR_OK);
    assert_int_equal(v, 1);
    uint8_t *out = NULL;
    size_t len = 0;
    uint64_t wv = 0;
    assert_int_equal(sr_storage_get(&alice, k, 3, &out, &len, &wv, &e), SR_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(out, val, 4);
    free(out);
    assert_int_equal(sr_storage_get(&bob, k, 3, &out, &len, &wv, &e), SR_ENOTFOUND);
    assert_int_equal(sr_storage_put(&alice, k, 3, NULL, 0, &v, &e), SR_OK);
    assert_int_equal(v, 2);
    assert_int_equal(sr_storage_put(&alice, k, 3, NULL, 0, &v, &e), SR_ENOTFOUND);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip_and_compression),
        cmocka_unit_test(test_codec_aad_binds_owner_ns_key_version),
        cmocka_unit_test(test_names_and_keys),
        cmocka_unit_test_setup_teardown(test_read_your_writes_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_when_a_read_key_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_for_a_jobs_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_merges_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_and_guest_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_put_get_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
