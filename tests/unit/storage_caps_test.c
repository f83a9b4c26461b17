/* SPDX-License-Identifier: MIT
 *
 * storage_caps_test.c - the per-job caps of a storage session (distinct
 * reads, listings, writes: each refused with SR_STORAGE_WIRE_CAP naming it,
 * before anything is read or kept), listings recorded as a digest (the
 * conflict rule at the edges of a listing's range), and the owner quotas
 * (bytes in all namespaces, number of namespaces). */
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
#include "storage_int.h"
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
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-caps-XXXXXX");
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

static sr_storage_session *
session(struct fix *f, const char *owner, const char *ns)
{
    sr_storage_session *s = NULL;
    const struct sr_storage_config cfg = {
        .store = f->st, .keys = f->keys, .owner = owner, .ns = ns};
    assert_int_equal(sr_storage_session_new(&cfg, &s, NULL), SR_OK);
    return s;
}

/* Sends one request; returns the answer code, the payload in *out. */
static int
call(sr_storage_session *s, char op, const char *key, const char *val, sr_buf *out)
{
    sr_buf req;
    sr_buf_init(&req, 1u << 20);
    assert_int_equal(sr_storage_wire_request(&req, op, (const uint8_t *)key, strlen(key),
                                             (const uint8_t *)val, val ? strlen(val) : 0, NULL),
                     SR_OK);
    sr_buf_reset(out);
    sr_err e = {0};
    assert_int_equal(sr_storage_session_handle(s, (const uint8_t *)req.data, req.len, out, &e),
                     SR_OK);
    sr_buf_fini(&req);
    assert_true(out->len >= 1);
    return (unsigned char)out->data[0];
}

static int
list(sr_storage_session *s, const char *prefix, uint32_t limit, const char *after, sr_buf *out)
{
    sr_buf req;
    sr_buf_init(&req, 1u << 20);
    assert_int_equal(sr_storage_wire_list_request(&req, (const uint8_t *)prefix, strlen(prefix),
                                                  limit, (const uint8_t *)after,
                                                  after ? strlen(after) : 0, NULL),
                     SR_OK);
    sr_buf_reset(out);
    assert_int_equal(sr_storage_session_handle(s, (const uint8_t *)req.data, req.len, out, NULL),
                     SR_OK);
    sr_buf_fini(&req);
    return (unsigned char)out->data[0];
}

static void
commit(sr_storage_session *s, sr_status want)
{
    uint64_t b = 0, a = 0;
    sr_err e = {0};
    assert_int_equal(sr_storage_session_commit(s, &b, &a, &e), want);
}

/* The answer is a cap refusal for 'cap' whose message contains 'text'. */
static void
assert_cap(const sr_buf *out, enum sr_storage_cap cap, const char *text)
{
    assert_int_equal((unsigned char)out->data[0], SR_STORAGE_WIRE_CAP);
    assert_true(out->len > 2);
    assert_int_equal((unsigned char)out->data[1], cap);
    assert_non_null(strstr(out->data + 2, text));
}

static void
test_reads_are_capped_per_job(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "r");
    sr_buf out;
    char k[32];
    sr_buf_init(&out, 1u << 20);
    assert_int_equal(call(s, 'S', "mine", "v", &out), SR_STORAGE_WIRE_OK);
    for (unsigned i = 0; i < SR_STORAGE_MAX_JOB_READS; i++) {
        snprintf(k, sizeof(k), "k%u", i);
        assert_int_equal(call(s, i % 2 ? 'G' : 'H', k, NULL, &out),
                         i % 2 ? SR_STORAGE_WIRE_NOTFOUND : SR_STORAGE_WIRE_OK);
    }
    assert_int_equal(sr_storage_session_cap(s, NULL), SR_STORAGE_CAP_NONE);
    /* the next different key is refused; keys read before, or written by the
     * job, are still answered */
    assert_int_equal(call(s, 'G', "one-more", NULL, &out), SR_STORAGE_WIRE_CAP);
    assert_cap(&out, SR_STORAGE_CAP_READS, "at most 4096 different storage keys");
    assert_int_equal(call(s, 'G', "k7", NULL, &out), SR_STORAGE_WIRE_NOTFOUND);
    assert_int_equal(call(s, 'G', "mine", NULL, &out), SR_STORAGE_WIRE_OK);
    const char *msg = NULL;
    assert_int_equal(sr_storage_session_cap(s, &msg), SR_STORAGE_CAP_READS);
    assert_non_null(strstr(msg, "4096"));
    /* a refused read does not stop the job committing */
    commit(s, SR_OK);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
}

static void
test_writes_are_capped_per_job(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "w");
    sr_buf out;
    char k[32];
    sr_buf_init(&out, 1u << 20);
    for (unsigned i = 0; i < SR_STORAGE_MAX_JOB_WRITES; i++) {
        snprintf(k, sizeof(k), "k%u", i);
        assert_int_equal(call(s, i % 3 ? 'S' : 'D', k, i % 3 ? "v" : NULL, &out),
                         SR_STORAGE_WIRE_OK);
    }
    assert_int_equal(call(s, 'S', "one-more", "v", &out), SR_STORAGE_WIRE_CAP);
    assert_cap(&out, SR_STORAGE_CAP_WRITES, "at most 4096 different storage keys");
    assert_int_equal(call(s, 'D', "one-more", NULL, &out), SR_STORAGE_WIRE_CAP);
    assert_int_equal(call(s, 'S', "k5", "again", &out), SR_STORAGE_WIRE_OK); /* a key it has */
    assert_int_equal(sr_storage_session_cap(s, NULL), SR_STORAGE_CAP_WRITES);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
}

static void
test_listings_are_capped_and_repeats_do_not_count(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "l");
    sr_buf out;
    char k[32];
    sr_buf_init(&out, 1u << 20);
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "k%02d", i);
        assert_int_equal(call(s, 'S', k, "v", &out), SR_STORAGE_WIRE_OK);
    }
    commit(s, SR_OK);
    sr_storage_session_free(s);

    s = session(f, "alice", "l");
    for (unsigned i = 0; i < SR_STORAGE_MAX_JOB_LISTINGS; i++) {
        snprintf(k, sizeof(k), "a%04u", i);
        assert_int_equal(list(s, "", 1, k, &out), SR_STORAGE_WIRE_OK);
    }
    /* the same listing again (same query, same rows) is answered */
    for (int i = 0; i < 3000; i++)
        assert_int_equal(list(s, "", 1, "a0007", &out), SR_STORAGE_WIRE_OK);
    /* a new one is refused and nothing of it reaches the guest */
    assert_int_equal(list(s, "k1", 3, NULL, &out), SR_STORAGE_WIRE_CAP);
    assert_cap(&out, SR_STORAGE_CAP_LISTINGS, "at most 1024 different storage listings");
    assert_int_equal(sr_storage_session_cap(s, NULL), SR_STORAGE_CAP_LISTINGS);
    assert_int_equal(call(s, 'S', "done", "1", &out), SR_STORAGE_WIRE_OK);
    commit(s, SR_OK);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
}

/* Lists prefix/limit/after in s, writes other's key in another session and
 * commits it, then commits s (which writes "x"): want is s's result. */
static void
race(struct fix *f, const char *ns, const char *prefix, uint32_t limit, const char *after, char op,
     const char *other, sr_status want)
{
    sr_storage_session *s = session(f, "alice", ns), *o = session(f, "alice", ns);
    sr_buf out;
    sr_buf_init(&out, 1u << 20);
    assert_int_equal(list(s, prefix, limit, after, &out), SR_STORAGE_WIRE_OK);
    assert_int_equal(call(o, op, other, op == 'S' ? "new" : NULL, &out), SR_STORAGE_WIRE_OK);
    commit(o, SR_OK);
    assert_int_equal(call(s, 'S', "x", "1", &out), SR_STORAGE_WIRE_OK);
    commit(s, want);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
    sr_storage_session_free(o);
}

static void
test_listing_conflicts_at_the_edges_of_its_range(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "edge");
    sr_buf out;
    sr_buf_init(&out, 1u << 20);
    const char *keys[] = {"a/1", "a/2", "a/3", "b/1"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(call(s, 'S', keys[i], "v", &out), SR_STORAGE_WIRE_OK);
    commit(s, SR_OK);
    sr_storage_session_free(s);
    sr_buf_fini(&out);
    /* a key added past the end of a range that had ended: the listing would
     * now return it */
    race(f, "edge", "a/", 10, NULL, 'S', "a/4", SR_ECONFLICT);
    /* a listed key rewritten (new version) or deleted */
    race(f, "edge", "a/", 10, NULL, 'S', "a/2", SR_ECONFLICT);
    race(f, "edge", "a/", 10, NULL, 'D', "a/4", SR_ECONFLICT);
    /* outside the range: before it, another prefix, or past the row that
     * stopped a listing that was cut by its limit */
    race(f, "edge", "a/", 10, "a/1", 'S', "a/0", SR_OK);
    race(f, "edge", "a/", 10, NULL, 'S', "b/2", SR_OK);
    race(f, "edge", "a/", 1, NULL, 'S', "a/3", SR_OK);
    /* ... but the row that decided "more" is part of it */
    race(f, "edge", "a/", 1, NULL, 'S', "a/1", SR_ECONFLICT);
}

static void
test_owner_quotas_bytes_and_namespaces(void **state)
{
    struct fix *f = *state;
    sr_err e = {0};
    uint64_t v = 0;
    struct sr_storage_config cfg = {.store = f->st,
                                    .keys = f->keys,
                                    .owner = "alice",
                                    .max_namespaces = 2,
                                    .max_owner_bytes = 100};
    char val[61];
    memset(val, 'v', 60);
    val[60] = 0;
    cfg.ns = "one";
    assert_int_equal(
        sr_storage_put(&cfg, (const uint8_t *)"k", 1, (const uint8_t *)val, 60, &v, &e), SR_OK);
    /* 61 + 61 bytes in two namespaces pass the owner's 100 */
    cfg.ns = "two";
    assert_int_equal(
        sr_storage_put(&cfg, (const uint8_t *)"k", 1, (const uint8_t *)val, 60, &v, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "owner 'alice' would hold 122 bytes of storage in all "
                                  "namespaces; the quota is 100 bytes per owner"));
    assert_int_equal(sr_storage_put(&cfg, (const uint8_t *)"k", 1, (const uint8_t *)"s", 1, &v, &e),
                     SR_OK);
    /* a third namespace: 409-style for the API, STORAGE_QUOTA for a job */
    cfg.ns = "three";
    assert_int_equal(sr_storage_put(&cfg, (const uint8_t *)"k", 1, (const uint8_t *)"s", 1, &v, &e),
                     SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "the quota is 2 namespaces per owner"));
    sr_storage_session *s = NULL;
    assert_int_equal(sr_storage_session_new(&cfg, &s, NULL), SR_OK);
    sr_buf out;
    sr_buf_init(&out, 1u << 20);
    assert_int_equal(call(s, 'S', "k", "v", &out), SR_STORAGE_WIRE_OK);
    commit(s, SR_ELIMIT);
    assert_int_equal(sr_storage_session_quota(s), SR_KV_QUOTA_NAMESPACES);
    sr_storage_session_free(s);
    sr_buf_fini(&out);
    /* other owners are not counted; emptying a namespace keeps it (with its
     * version) */
    cfg.owner = "bob";
    assert_int_equal(sr_storage_put(&cfg, (const uint8_t *)"k", 1, (const uint8_t *)"s", 1, &v, &e),
                     SR_OK);
    cfg.owner = "alice";
    cfg.ns = "one";
    assert_int_equal(sr_storage_put(&cfg, (const uint8_t *)"k", 1, NULL, 0, &v, &e), SR_OK);
    struct sr_storage_namespaces l;
    assert_int_equal(sr_storage_namespaces(f->st, f->keys, "alice", &l, &e), SR_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ns[0].name, "one");
    assert_int_equal(l.ns[0].counters.keys, 0);
    assert_int_equal(l.ns[0].counters.version, 2);
    assert_string_equal(l.ns[1].name, "two");
    assert_int_equal(l.usage.namespaces, 2);
    assert_int_equal(l.usage.bytes, 2);
    sr_storage_namespaces_fini(&l);
}

/* The job process is untrusted: whatever bytes it sends as a host call are
 * refused cleanly (an answer, or SR_EINVAL), never read past or kept. */
static void
test_hostile_requests_are_refused_cleanly(void **state)
{
    struct fix *f = *state;
    sr_storage_session *s = session(f, "alice", "hostile");
    sr_buf out, req;
    sr_buf_init(&out, 1u << 20);
    sr_buf_init(&req, 1u << 20);
    assert_int_equal(call(s, 'S', "a", "1", &out), SR_STORAGE_WIRE_OK);
    assert_int_equal(call(s, 'S', "b", "2", &out), SR_STORAGE_WIRE_OK);
    const uint8_t seeds[][12] = {
        {'L', 1, 0, 'a', 5, 0, 0, 0, 1, 0, 'a'},
        {'G', 1, 0, 'a'},
        {'S', 1, 0, 'k', 'v'},
        {'D', 2, 0, 'a', 'b'},
        {'H', 0xff, 0xff, 'x'},
    };
    const size_t lens[] = {11, 4, 5, 5, 4};
    uint32_t x = 2463534242u; /* xorshift32: the same inputs on every run */
    for (int round = 0; round < 20000; round++) {
        size_t which = (size_t)round % 5, len = lens[which];
        uint8_t msg[16];
        memcpy(msg, seeds[which], sizeof(seeds[which]));
        for (int m = 0; m < 3; m++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            msg[x % 12] = (uint8_t)(x >> 8);
        }
        len = (x >> 24) % 2 ? len : (x >> 16) % 13;
        sr_buf_reset(&out);
        sr_err e = {0};
        sr_status rc = sr_storage_session_handle(s, msg, len, &out, &e);
        assert_true(rc == SR_OK || rc == SR_EINVAL);
        if (rc == SR_OK)
            assert_true(out.len >= 1 && (unsigned char)out.data[0] <= SR_STORAGE_WIRE_CAP);
    }
    sr_buf_fini(&req);
    sr_buf_fini(&out);
    sr_storage_session_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_are_capped_per_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_are_capped_per_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listings_are_capped_and_repeats_do_not_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_listing_conflicts_at_the_edges_of_its_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_owner_quotas_bytes_and_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_requests_are_refused_cleanly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
