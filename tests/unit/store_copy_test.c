/* SPDX-License-Identifier: MIT
 *
 * store_copy_test.c - sr_store_copy: a SQLite store written through the
 * store API (tokens, jobs, modules, secrets, audit, storage) moves into an
 * empty PostgreSQL store, verified row by row; the copy opens there with
 * the same keys (sealed rows moved sealed) and every row reads back the
 * same; a second copy into the now non-empty store is refused. Starts its
 * own throw-away PostgreSQL (test_pg.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"

#define JOB "0000000000000000000000000000000a"
#define HASH "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static sr_store *
open_target(const char *target)
{
    uint8_t k[32];
    memset(k, 0x42, sizeof(k));
    sr_keys *keys = NULL;
    sr_err e = {0};
    sr_store *st = NULL;
    assert_int_equal(sr_keys_new(k, sizeof(k), k, sizeof(k), &keys, &e), SR_OK);
    if (sr_store_open(target, keys, &st, &e) != SR_OK)
        fail_msg("open %s: %s", target, e.msg);
    sr_keys_free(keys);
    return st;
}

static void
fill(sr_store *st)
{
    sr_err e = {0};
    uint8_t h[32];
    memset(h, 0x71, sizeof(h));
    assert_int_equal(sr_store_token_add(st, h, "alice", "laptop", 5, &e), SR_OK);
    struct sr_job_row j = {.id = JOB,
                           .owner = "alice",
                           .state = SR_JOB_COMPLETED,
                           .runtime = "js",
                           .request_json = "{\"script\":\"x\"}",
                           .result_json = "{\"output\":7}",
                           .created_at_ms = 10,
                           .started_at_ms = 11,
                           .finished_at_ms = 12,
                           .expires_at_ms = 9000000000000,
                           .gas_used = 99,
                           .duration_us = 1000};
    assert_int_equal(sr_store_job_insert(st, &j, &e), SR_OK);
    static const uint8_t mod[] = "\0asm\1\0\0\0";
    const struct sr_module_put p = {.owner = "alice",
                                    .hash_hex = HASH,
                                    .bytes = mod,
                                    .len = sizeof(mod),
                                    .info_json = "{}",
                                    .now_ms = 20};
    assert_int_equal(sr_store_module_put(st, &p, NULL, NULL, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(st, "alice", "KEY", 0, (const uint8_t *)"b", 1, 30, &e),
                     SR_OK);
    assert_int_equal(sr_store_secret_policy(st, "alice", "KEY", "{\"p\":1}", 31, &e), SR_OK);
    struct sr_audit_row a = {.owner = "alice",
                             .name = "KEY",
                             .job_id = JOB,
                             .user = "alice",
                             .version = 1,
                             .outcome = "allowed",
                             .reason = "",
                             .time_ms = 40};
    assert_int_equal(sr_store_audit_add(st, &a, &e), SR_OK);
    uint8_t ns[SR_KV_ID_LEN], key[SR_KV_ID_LEN];
    memset(ns, 1, sizeof(ns));
    memset(key, 2, sizeof(key));
    const struct sr_kv_write w = {.id = key,
                                  .key_blob = (const uint8_t *)"sealedkey",
                                  .key_blob_len = 9,
                                  .blob = (const uint8_t *)"sealedvalue",
                                  .blob_len = 11,
                                  .size = 8};
    const struct sr_kv_commit c = {.owner = "alice",
                                   .ns_id = ns,
                                   .name_blob = (const uint8_t *)"sealedname",
                                   .name_blob_len = 10,
                                   .writes = &w,
                                   .nwrites = 1,
                                   .now_ms = 50};
    struct sr_kv_result res;
    assert_int_equal(sr_store_kv_commit(st, &c, &res, &e), SR_OK);
}

static void
check(sr_store *st)
{
    sr_err e = {0};
    uint8_t h[32];
    memset(h, 0x71, sizeof(h));
    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(st, h, &owner, &e), SR_OK);
    assert_string_equal(owner, "alice");
    free(owner);
    struct sr_job_row j = {0};
    assert_int_equal(sr_store_job_get(st, "alice", JOB, &j, &e), SR_OK);
    assert_string_equal(j.request_json, "{\"script\":\"x\"}");
    assert_string_equal(j.result_json, "{\"output\":7}");
    assert_int_equal(j.gas_used, 99);
    sr_job_row_fini(&j);
    struct sr_module_row m = {0};
    assert_int_equal(sr_store_module_get(st, "alice", HASH, &m, &e), SR_OK);
    assert_int_equal(m.len, 9);
    sr_module_row_fini(&m);
    struct sr_secret_stored s = {0};
    assert_int_equal(sr_store_secret_get(st, "alice", "KEY", &s, &e), SR_OK);
    assert_string_equal(s.policy_json, "{\"p\":1}");
    sr_secret_stored_fini(&s);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(st, "alice", "KEY", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    sr_audit_row_fini(&rows[0]);
    free(rows);
    uint8_t ns[SR_KV_ID_LEN], key[SR_KV_ID_LEN];
    memset(ns, 1, sizeof(ns));
    memset(key, 2, sizeof(key));
    struct sr_kv_row kv = {0};
    assert_int_equal(sr_store_kv_get(st, "alice", ns, key, &kv, &e), SR_OK);
    assert_int_equal(kv.blob_len, 11);
    assert_memory_equal(kv.blob, "sealedvalue", 11);
    sr_kv_row_fini(&kv);
}

static void
test_copy_moves_every_row_verified(void **state)
{
    (void)state;
    char dir[] = "/tmp/sr_copy_test.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], src[80], dst[512];
    (void)snprintf(path, sizeof(path), "%s/sealrun.db", dir);
    (void)snprintf(src, sizeof(src), "sqlite:%s", path);
    test_pg_database("/copy-target", dst, sizeof(dst));
    sr_store *a = open_target(src);
    fill(a);
    sr_store_close(a);
    sr_store *b = open_target(dst); /* migrated, empty */
    sr_store_close(b);

    struct sr_store_copy_report rep;
    sr_err e = {0};
    if (sr_store_copy(path, dst, &rep, &e) != SR_OK)
        fail_msg("copy: %s", e.msg);
    assert_true(rep.verified);
    assert_int_equal(rep.rows, 9); /* token, job, module, claim, secret, audit, ns, entry, owner */
    b = open_target(dst);
    check(b);
    /* the audit ids go on after the copied ones */
    struct sr_audit_row r = {.owner = "alice",
                             .name = "KEY",
                             .user = "bob",
                             .version = 1,
                             .outcome = "denied",
                             .reason = "x",
                             .time_ms = 60};
    assert_int_equal(sr_store_audit_add(b, &r, &e), SR_OK);
    sr_store_close(b);
    assert_int_equal(sr_store_copy(path, dst, &rep, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "is not empty"));
    char file[96];
    (void)snprintf(file, sizeof(file), "%s", path);
    (void)unlink(file);
    (void)rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_moves_every_row_verified),
    };
    return cmocka_run_group_tests_name("store_copy", tests, NULL, NULL);
}
