/* SPDX-License-Identifier: MIT
 *
 * store_module_test.c - WebAssembly modules in the store: deduplicated by
 * hash, visible only to owners who claim them, quotas of count and bytes
 * checked with the insert, deletion of a claim (the bytes go with the last
 * one), listing page by page, and expiry of unused claims. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "sealrun/sr_store.h"
#include "store_keys.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static const uint8_t mod_bytes[] = {0, 'a', 's', 'm', 1, 0, 0, 0};

/* Puts 'hash' for owner (the same 8 bytes and "{"k":1}", 15 bytes claimed)
 * under a quota; returns the status. */
static sr_status
put(sr_store *st, const char *owner, const char *hash, int64_t now, uint64_t max_count,
    uint64_t max_bytes, bool *created, struct sr_module_usage *u, sr_err *e)
{
    const struct sr_module_put p = {
        .owner = owner,
        .hash_hex = hash,
        .bytes = mod_bytes,
        .len = sizeof(mod_bytes),
        .info_json = "{\"k\":1}",
        .now_ms = now,
        .max_count = max_count,
        .max_bytes = max_bytes,
    };
    return sr_store_module_put(st, &p, created, u, e);
}

/* Rows of a table, by raw SQL on the database. */
static int
count_rows(const char *path, const char *table)
{
    char sql[128];
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    long long n = test_store_int(path, sql);
    assert_true(n >= 0);
    return (int)n;
}

static int
setup(void **state)
{
    return test_store_setup(state, "store_mod");
}

static int
teardown(void **state)
{
    return test_store_teardown(state);
}

static void
test_schema_has_modules_migration(void **state)
{
    struct test_tmp *f = *state;
    assert_true(sr_store_schema_version(f->st) >= 2);
}

static void
test_module_is_deduplicated_and_scoped_to_uploaders(void **state)
{
    struct test_tmp *f = *state;
    bool created = false;
    sr_err e = {0};
    assert_int_equal(put(f->st, "alice", HASH_A, 1000, 0, 0, &created, NULL, &e), SR_OK);
    assert_true(created);
    assert_int_equal(put(f->st, "alice", HASH_A, 2000, 0, 0, &created, NULL, &e), SR_OK);
    assert_false(created);
    struct sr_module_row row = {0};
    assert_int_equal(sr_store_module_get(f->st, "alice", HASH_A, &row, &e), SR_OK);
    assert_int_equal(row.len, sizeof(mod_bytes));
    assert_memory_equal(row.bytes, mod_bytes, sizeof(mod_bytes));
    assert_string_equal(row.info_json, "{\"k\":1}");
    assert_int_equal(row.created_at_ms, 1000);
    assert_int_equal(row.last_used_at_ms, 2000); /* uploading it again is a use */
    sr_module_row_fini(&row);
    /* bob never uploaded it: the same answer as a missing module */
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_ENOTFOUND);
    assert_non_null(strstr(e.msg, "not found"));
    assert_int_equal(put(f->st, "bob", HASH_A, 3000, 0, 0, &created, NULL, &e), SR_OK);
    assert_true(created);
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_OK);
    assert_int_equal(row.created_at_ms, 3000);
    sr_module_row_fini(&row);
    assert_int_equal(count_rows(f->path, "modules"), 1);
}

static void
test_module_rejects_bad_arguments(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    struct sr_module_row row = {0};
    assert_int_equal(put(f->st, "alice", "XYZ", 1, 0, 0, NULL, NULL, &e), SR_EINVAL);
    const struct sr_module_put empty = {
        .owner = "alice", .hash_hex = HASH_A, .bytes = mod_bytes, .len = 0, .info_json = "{}"};
    assert_int_equal(sr_store_module_put(f->st, &empty, NULL, NULL, &e), SR_EINVAL);
    assert_int_equal(sr_store_module_get(f->st, "alice", "../etc", &row, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_module_get(f->st, "", HASH_A, &row, &e), SR_EINVAL);
    assert_int_equal(sr_store_module_delete(f->st, "alice", "../etc", NULL, &e), SR_ENOTFOUND);
    struct sr_module_meta *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_module_list(f->st, "alice", 0, NULL, &rows, &n, &e), SR_EINVAL);
}

static void
test_quota_counts_each_claimant_and_is_checked_with_the_insert(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    struct sr_module_usage u = {0};
    /* each claim counts 8 module bytes + 7 description bytes = 15 */
    assert_int_equal(put(f->st, "alice", HASH_A, 1, 10, 30, NULL, &u, &e), SR_OK);
    assert_int_equal(u.count, 0); /* usage before the put */
    assert_int_equal(put(f->st, "alice", HASH_B, 2, 10, 30, NULL, &u, &e), SR_OK);
    assert_int_equal(u.bytes, 15);
    /* a third would make 45 > 30: refused, nothing written */
    const char *hash_c = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    assert_int_equal(put(f->st, "alice", hash_c, 3, 10, 30, NULL, &u, &e), SR_ELIMIT);
    assert_int_equal(u.count, 2);
    assert_int_equal(u.bytes, 30);
    assert_non_null(strstr(e.msg, "30 bytes claimed, this module adds 15, at most 30"));
    assert_int_equal(count_rows(f->path, "modules"), 2);
    /* a module already claimed adds nothing and passes any quota */
    assert_int_equal(put(f->st, "alice", HASH_A, 4, 1, 1, NULL, NULL, &e), SR_OK);
    /* bob's claim on alice's module counts for bob in full (deduplicated
     * bytes are counted for each claimant) */
    assert_int_equal(put(f->st, "bob", HASH_A, 5, 10, 14, NULL, &u, &e), SR_ELIMIT);
    assert_int_equal(put(f->st, "bob", HASH_A, 5, 10, 15, NULL, &u, &e), SR_OK);
    assert_int_equal(sr_store_module_usage(f->st, "bob", &u, &e), SR_OK);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.bytes, 15);
    /* the count quota */
    assert_int_equal(put(f->st, "bob", HASH_B, 6, 1, 0, NULL, &u, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "1 modules claimed, at most 1"));
}

static void
test_delete_drops_the_claim_and_the_bytes_with_the_last(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    bool freed = true;
    struct sr_module_row row = {0};
    assert_int_equal(put(f->st, "alice", HASH_A, 1, 0, 0, NULL, NULL, &e), SR_OK);
    assert_int_equal(put(f->st, "bob", HASH_A, 2, 0, 0, NULL, NULL, &e), SR_OK);
    /* carol has no claim: not found, and nothing changes */
    assert_int_equal(sr_store_module_delete(f->st, "carol", HASH_A, &freed, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_module_delete(f->st, "alice", HASH_A, &freed, &e), SR_OK);
    assert_false(freed); /* bob still claims it */
    assert_int_equal(sr_store_module_get(f->st, "alice", HASH_A, &row, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_OK);
    sr_module_row_fini(&row);
    assert_int_equal(sr_store_module_delete(f->st, "alice", HASH_A, &freed, &e), SR_ENOTFOUND);
    assert_int_equal(count_rows(f->path, "modules"), 1);
    assert_int_equal(sr_store_module_delete(f->st, "bob", HASH_A, &freed, &e), SR_OK);
    assert_true(freed);
    assert_int_equal(count_rows(f->path, "modules"), 0);
    assert_int_equal(count_rows(f->path, "module_owners"), 0);
    /* and it can be uploaded again */
    assert_int_equal(put(f->st, "alice", HASH_A, 3, 0, 0, NULL, NULL, &e), SR_OK);
}

static void
test_list_pages_newest_first(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    char hash[65];
    for (int i = 0; i < 5; i++) {
        memset(hash, 'a' + i, 64);
        hash[64] = '\0';
        assert_int_equal(put(f->st, "alice", hash, 100 + i, 0, 0, NULL, NULL, &e), SR_OK);
    }
    const char *hash_f = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    assert_int_equal(put(f->st, "bob", hash_f, 999, 0, 0, NULL, NULL, &e), SR_OK);
    struct sr_module_meta *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_module_list(f->st, "alice", 2, NULL, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].hash[0], 'e');
    assert_int_equal(rows[1].hash[0], 'd');
    assert_int_equal(rows[0].size, sizeof(mod_bytes));
    assert_int_equal(rows[0].stored, 15);
    assert_int_equal(rows[0].created_at_ms, 104);
    memcpy(hash, rows[1].hash, sizeof(hash));
    free(rows);
    assert_int_equal(sr_store_module_list(f->st, "alice", 10, hash, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].hash[0], 'c');
    assert_int_equal(rows[2].hash[0], 'a');
    free(rows);
    /* a cursor that is not one of the owner's claims */
    assert_int_equal(sr_store_module_list(f->st, "alice", 10, hash_f, &rows, &n, &e), SR_ENOTFOUND);
}

static void
test_unused_claims_expire(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    size_t claims = 0, freed = 0;
    struct sr_module_row row = {0};
    assert_int_equal(put(f->st, "alice", HASH_A, 1000, 0, 0, NULL, NULL, &e), SR_OK);
    assert_int_equal(put(f->st, "bob", HASH_A, 1000, 0, 0, NULL, NULL, &e), SR_OK);
    assert_int_equal(put(f->st, "alice", HASH_B, 1000, 0, 0, NULL, NULL, &e), SR_OK);
    /* bob's job uses the module later; alice's claims stay unused */
    assert_int_equal(sr_store_module_touch(f->st, "bob", HASH_A, 5000, &e), SR_OK);
    assert_int_equal(sr_store_module_touch(f->st, "carol", HASH_A, 5000, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_modules_expire(f->st, 2000, 100, &claims, &freed, &e), SR_OK);
    assert_int_equal(claims, 2); /* alice's two */
    assert_int_equal(freed, 1);  /* B had no other claimant; A is bob's too */
    assert_int_equal(sr_store_module_get(f->st, "alice", HASH_A, &row, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_OK);
    assert_int_equal(row.last_used_at_ms, 5000);
    sr_module_row_fini(&row);
    assert_int_equal(count_rows(f->path, "modules"), 1);
    /* batches: at most 'max' per call */
    assert_int_equal(sr_store_modules_expire(f->st, 9000, 1, &claims, &freed, &e), SR_OK);
    assert_int_equal(claims, 1);
    assert_int_equal(count_rows(f->path, "modules"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_has_modules_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_is_deduplicated_and_scoped_to_uploaders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_module_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_quota_counts_each_claimant_and_is_checked_with_the_insert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_drops_the_claim_and_the_bytes_with_the_last,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_pages_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unused_claims_expire, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_module", tests, NULL, NULL);
}
