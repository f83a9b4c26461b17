/* SPDX-License-Identifier: MIT
 *
 * store_copy_test.c - sr_store_copy: a SQLite store written through the
 * store API (tokens, jobs, modules, secrets, audit, storage) moves into an
 * empty PostgreSQL store, verified row by row; the copy opens there with
 * the same keys (sealed rows moved sealed) and every row reads back the
 * same; a second copy into the now non-empty store is refused. A token's
 * scopes and expiry and the storage charge day marks move too; a table or
 * a column the copy does not know, on either side, stops it before
 * anything is written. Starts its own throw-away PostgreSQL (test_pg.h).
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

#include <sqlite3.h>

#include "sealrun/sr_store.h"
#include "store_keys.h"
#include "test_tmp.h"

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
    test_tmp_rm_tree(dir);
}

static void
sq_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* A new SQLite store (tokens with scopes and an expiry, a storage charge
 * mark) and a new, migrated PostgreSQL database named 'name'. */
static void
fresh_pair(const char *dir, const char *name, char *path, size_t pn, char *dst, size_t dn)
{
    char src[128];
    (void)snprintf(path, pn, "%s/%s.db", dir, name + 1);
    (void)snprintf(src, sizeof(src), "sqlite:%s", path);
    test_pg_database(name, dst, dn);
    sr_store *a = open_target(src);
    sr_err e = {0};
    uint8_t h[32];
    memset(h, 0x33, sizeof(h));
    const struct sr_token_new t = {.hash = h,
                                   .owner = "bob",
                                   .label = "ci",
                                   .scopes = 1 /* execute */,
                                   .expires_at_ms = 777000,
                                   .now_ms = 5};
    assert_int_equal(sr_store_token_create(a, &t, &e), SR_OK);
    sr_store_close(a);
    sq_exec(path, "INSERT INTO store_meta (key, value) VALUES ('storage_charge:alice', 20000), "
                  "('compact_due', 1)");
    sr_store_close(open_target(dst));
}

static void
test_copy_keeps_scopes_and_marks_and_knows_every_column(void **state)
{
    (void)state;
    char dir[] = "/tmp/sr_copy_guard.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[96], dst[512];
    struct sr_store_copy_report rep;
    sr_err e = {0};

    fresh_pair(dir, "/guard-ok", path, sizeof(path), dst, sizeof(dst));
    if (sr_store_copy(path, dst, &rep, &e) != SR_OK)
        fail_msg("copy: %s", e.msg);
    assert_true(rep.verified);
    assert_int_equal(test_pg_int(dst, "SELECT scopes FROM tokens WHERE owner = 'bob'"), 1);
    assert_int_equal(test_pg_int(dst, "SELECT expires_at FROM tokens WHERE owner = 'bob'"), 777000);
    assert_int_equal(
        test_pg_int(dst, "SELECT value FROM store_meta WHERE key = 'storage_charge:alice'"), 20000);
    assert_int_equal(test_pg_int(dst, "SELECT count(*) FROM store_meta WHERE key = 'compact_due'"),
                     0);
    (void)unlink(path);

    /* a column the copy does not know, on the SQLite side */
    fresh_pair(dir, "/guard-col", path, sizeof(path), dst, sizeof(dst));
    sq_exec(path, "ALTER TABLE tokens ADD COLUMN surprise INTEGER");
    assert_int_equal(sr_store_copy(path, dst, &rep, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "SQLite store's table 'tokens' has a column 'surprise'"));
    assert_int_equal(test_pg_int(dst, "SELECT count(*) FROM tokens"), 0);
    (void)unlink(path);

    /* a table it does not know */
    fresh_pair(dir, "/guard-table", path, sizeof(path), dst, sizeof(dst));
    sq_exec(path, "CREATE TABLE extra (x INTEGER)");
    assert_int_equal(sr_store_copy(path, dst, &rep, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "has a table 'extra'"));
    (void)unlink(path);

    /* and on the PostgreSQL side */
    fresh_pair(dir, "/guard-pg", path, sizeof(path), dst, sizeof(dst));
    assert_int_equal(test_pg_exec(dst, "ALTER TABLE jobs ADD COLUMN surprise bigint"), 0);
    assert_int_equal(sr_store_copy(path, dst, &rep, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "PostgreSQL store's table 'jobs' has a column 'surprise'"));
    test_tmp_rm_tree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_moves_every_row_verified),
        cmocka_unit_test(test_copy_keeps_scopes_and_marks_and_knows_every_column),
    };
    return cmocka_run_group_tests_name("store_copy", tests, NULL, NULL);
}
