/* store_module_test.c - WebAssembly modules in the store: deduplicated by
 * hash, visible only to owners who uploaded them, migrations in order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sealrun/sr_store.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct fix {
    char dir[64];
    char path[96];
    sr_store *st;
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-store-mod-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
    if (sr_store_open_sqlite(f->path, &f->st, NULL) != SR_OK)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;
    sr_store_close(f->st);
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

static void
test_schema_has_modules_migration(void **state)
{
    struct fix *f = *state;
    assert_true(sr_store_schema_version(f->st) >= 2);
}

static void
test_module_is_deduplicated_and_scoped_to_uploaders(void **state)
{
    struct fix *f = *state;
    const uint8_t bytes[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    bool created = false;
    sr_err e = {0};
    assert_int_equal(sr_store_module_put(f->st, "alice", HASH_A, bytes, sizeof(bytes), "{\"k\":1}",
                                         1000, &created, &e),
                     SR_OK);
    assert_true(created);
    assert_int_equal(sr_store_module_put(f->st, "alice", HASH_A, bytes, sizeof(bytes), "{\"k\":1}",
                                         2000, &created, &e),
                     SR_OK);
    assert_false(created);
    struct sr_module_row row = {0};
    assert_int_equal(sr_store_module_get(f->st, "alice", HASH_A, &row, &e), SR_OK);
    assert_int_equal(row.len, sizeof(bytes));
    assert_memory_equal(row.bytes, bytes, sizeof(bytes));
    assert_string_equal(row.info_json, "{\"k\":1}");
    assert_int_equal(row.created_at_ms, 1000);
    sr_module_row_fini(&row);
    /* bob never uploaded it: the same answer as a missing module */
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_ENOTFOUND);
    assert_non_null(strstr(e.msg, "not found"));
    assert_int_equal(sr_store_module_put(f->st, "bob", HASH_A, bytes, sizeof(bytes), "{\"k\":1}",
                                         3000, &created, &e),
                     SR_OK);
    assert_true(created);
    assert_int_equal(sr_store_module_get(f->st, "bob", HASH_A, &row, &e), SR_OK);
    assert_int_equal(row.created_at_ms, 3000);
    sr_module_row_fini(&row);
}

static void
test_module_rejects_bad_arguments(void **state)
{
    struct fix *f = *state;
    const uint8_t bytes[] = {1};
    sr_err e = {0};
    struct sr_module_row row = {0};
    assert_int_equal(sr_store_module_put(f->st, "alice", "XYZ", bytes, 1, "{}", 1, NULL, &e),
                     SR_EINVAL);
    assert_int_equal(sr_store_module_put(f->st, "alice", HASH_A, bytes, 0, "{}", 1, NULL, &e),
                     SR_EINVAL);
    assert_int_equal(sr_store_module_get(f->st, "alice", "../etc", &row, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_module_get(f->st, "", HASH_A, &row, &e), SR_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_has_modules_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_module_is_deduplicated_and_scoped_to_uploaders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_module_rejects_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_module", tests, NULL, NULL);
}
