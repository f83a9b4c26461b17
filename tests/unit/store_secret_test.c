/* store_secret_test.c - secrets in the store: compare-and-set versions,
 * policies, listing without values, deletion, owner scoping, audit. */
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

struct fix {
    char dir[64];
    char path[96];
    sr_store *st;
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-store-sec-XXXXXX");
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
test_versions_are_compare_and_set(void **state)
{
    struct fix *f = *state;
    sr_err e = {0};
    const uint8_t v1[] = "blob-1", v2[] = "blob-2";
    assert_int_equal(sr_store_secret_put(f->st, "alice", "API_KEY", 0, v1, 6, 10, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "API_KEY", 0, v1, 6, 11, &e),
                     SR_ECONFLICT);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "API_KEY", 1, v2, 6, 12, &e), SR_OK);
    /* a writer that read version 1 loses against the one that wrote version 2 */
    assert_int_equal(sr_store_secret_put(f->st, "alice", "API_KEY", 1, v1, 6, 13, &e),
                     SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "expected version 1"));
    struct sr_secret_stored s = {0};
    assert_int_equal(sr_store_secret_get(f->st, "alice", "API_KEY", &s, &e), SR_OK);
    assert_int_equal(s.version, 2);
    assert_memory_equal(s.blob, "blob-2", 6);
    assert_null(s.policy_json);
    sr_secret_stored_fini(&s);
    assert_int_equal(sr_store_secret_get(f->st, "bob", "API_KEY", &s, &e), SR_ENOTFOUND);
}

static void
test_policy_list_delete(void **state)
{
    struct fix *f = *state;
    sr_err e = {0};
    const uint8_t v[] = "x";
    assert_int_equal(sr_store_secret_policy(f->st, "alice", "NOPE", "{}", 1, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "B", 0, v, 1, 5, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "A", 0, v, 1, 6, &e), SR_OK);
    assert_int_equal(sr_store_secret_policy(f->st, "alice", "A", "{\"runtimes\":[\"js\"]}", 7, &e),
                     SR_OK);
    struct sr_secret_meta *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_secret_list(f->st, "alice", &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].name, "A");
    assert_string_equal(rows[0].policy_json, "{\"runtimes\":[\"js\"]}");
    assert_int_equal(rows[0].updated_at_ms, 7);
    assert_string_equal(rows[1].name, "B");
    assert_null(rows[1].policy_json);
    for (size_t i = 0; i < n; i++)
        sr_secret_meta_fini(&rows[i]);
    free(rows);
    assert_int_equal(sr_store_secret_delete(f->st, "bob", "A", &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_secret_delete(f->st, "alice", "A", &e), SR_OK);
    assert_int_equal(sr_store_secret_delete(f->st, "alice", "A", &e), SR_ENOTFOUND);
}

static void
test_audit_is_kept_per_owner_and_name(void **state)
{
    struct fix *f = *state;
    sr_err e = {0};
    struct sr_audit_row r = {.owner = "alice",
                             .name = "K",
                             .job_id = "j1",
                             .user = "bob",
                             .version = 3,
                             .outcome = "denied",
                             .reason = "user 'bob' not allowed",
                             .time_ms = 100};
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    r.job_id = "j2";
    r.outcome = "allowed";
    r.reason = "";
    r.time_ms = 200;
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 10, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].job_id, "j2");
    assert_string_equal(rows[0].outcome, "allowed");
    assert_string_equal(rows[1].reason, "user 'bob' not allowed");
    assert_int_equal(rows[1].version, 3);
    for (size_t i = 0; i < n; i++)
        sr_audit_row_fini(&rows[i]);
    free(rows);
    assert_int_equal(sr_store_audit_list(f->st, "bob", "K", 10, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 0);
    free(rows);
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 0, &rows, &n, &e), SR_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_are_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_is_kept_per_owner_and_name, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_secret", tests, NULL, NULL);
}
