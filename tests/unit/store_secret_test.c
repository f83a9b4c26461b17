/* SPDX-License-Identifier: MIT
 *
 * store_secret_test.c - secrets in the store: compare-and-set versions,
 * policies, listing without values, deletion, owner scoping, and the audit:
 * individual rows, summaries of others' denials with their caps, paging by
 * cursor, retention. */
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
#include "sealrun/sr_limits.h"
#include "sealrun/sr_store.h"
#include "store_keys.h"

static int
setup(void **state)
{
    return test_store_setup(state, "store_sec");
}

static int
teardown(void **state)
{
    return test_store_teardown(state);
}

static void
test_versions_are_compare_and_set(void **state)
{
    struct test_tmp *f = *state;
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
    struct test_tmp *f = *state;
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
test_secrets_per_owner_are_capped(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    char sql[240];
    (void)snprintf(sql, sizeof(sql),
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d) "
                   "INSERT INTO secrets SELECT 'alice', 'S' || i, 1, %s, NULL, 1, 1 FROM n",
                   SR_MAX_SECRETS_PER_OWNER - 1,
                   test_store_is_pg() ? "decode('00', 'hex')" : "x'00'");
    assert_int_equal(test_store_exec(f->path, sql), 0);
    const uint8_t v[] = "x";
    assert_int_equal(sr_store_secret_put(f->st, "alice", "LAST", 0, v, 1, 2, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "OVER", 0, v, 1, 3, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "secret quota reached: 'alice' has 1000 secrets, at most 1000"));
    /* a new version of an existing one, and another owner, are not affected */
    assert_int_equal(sr_store_secret_put(f->st, "alice", "LAST", 1, v, 1, 4, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(f->st, "bob", "OVER", 0, v, 1, 5, &e), SR_OK);
    assert_int_equal(sr_store_secret_delete(f->st, "alice", "S1", &e), SR_OK);
    assert_int_equal(sr_store_secret_put(f->st, "alice", "OVER", 0, v, 1, 6, &e), SR_OK);
}

static void
free_audit(struct sr_audit_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sr_audit_row_fini(&rows[i]);
    free(rows);
}

static void
test_audit_is_kept_per_owner_and_name(void **state)
{
    struct test_tmp *f = *state;
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
    r.code_hash = "ab01";
    r.entry_point = "helper";
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].job_id, "j2");
    assert_string_equal(rows[0].outcome, "allowed");
    assert_int_equal(rows[0].count, 1);
    assert_int_equal(rows[0].last_ms, 200);
    assert_true(rows[0].id > rows[1].id);
    assert_string_equal(rows[1].reason, "user 'bob' not allowed");
    assert_int_equal(rows[1].version, 3);
    assert_string_equal(rows[0].code_hash, "ab01"); /* the code identity that asked */
    assert_string_equal(rows[0].entry_point, "helper");
    assert_null(rows[1].code_hash); /* not given: NULL, never "" */
    assert_null(rows[1].entry_point);
    free_audit(rows, n);
    assert_int_equal(sr_store_audit_list(f->st, "bob", "K", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 0);
    free(rows);
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 0, 0, &rows, &n, &e), SR_EINVAL);
    r.window_ms = 12345; /* not a window start */
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_EINVAL);
}

#define W SR_AUDIT_WINDOW_MS

static struct sr_audit_row
denial(const char *name, const char *user, const char *outcome, int64_t t)
{
    return (struct sr_audit_row){.owner = "alice",
                                 .name = (char *)(uintptr_t)name,
                                 .job_id = "j",
                                 .user = (char *)(uintptr_t)user,
                                 .outcome = (char *)(uintptr_t)outcome,
                                 .reason = "not shared",
                                 .time_ms = t,
                                 .window_ms = t - t % W};
}

static void
test_denials_are_summarised_per_window(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    const int64_t t0 = 1000 * W + 5;
    for (int i = 0; i < 300; i++) {
        struct sr_audit_row r = denial("K", "mallory", "denied", t0 + i);
        assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    }
    struct sr_audit_row r = denial("K", "mallory", "missing", t0 + 400);
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    r = denial("K", "mallory", "denied", t0 + W); /* the next window: a new row */
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    struct sr_audit_row allowed = {.owner = "alice",
                                   .name = "K",
                                   .job_id = "mine",
                                   .user = "alice",
                                   .outcome = "allowed",
                                   .reason = "",
                                   .time_ms = t0 + 500};
    assert_int_equal(sr_store_audit_add(f->st, &allowed, &e), SR_OK);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].job_id, "mine");
    assert_int_equal(rows[3].count, 300);
    assert_int_equal(rows[3].time_ms, t0);
    assert_int_equal(rows[3].last_ms, t0 + 299);
    assert_int_equal(rows[3].window_ms, 1000 * W);
    assert_string_equal(rows[2].outcome, "missing");
    assert_int_equal(rows[1].count, 1);
    free_audit(rows, n);
}

static void
test_denials_by_one_user_are_capped_per_window(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    const int64_t t0 = 2000 * W;
    char name[16];
    /* distinct names: at most SR_AUDIT_MAX_DENIED_ROWS rows per window */
    for (int i = 0; i < SR_AUDIT_MAX_DENIED_ROWS; i++) {
        (void)snprintf(name, sizeof(name), "N%d", i);
        struct sr_audit_row r = denial(name, "mallory", "missing", t0 + i);
        assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    }
    struct sr_audit_row r = denial("ONE_MORE", "mallory", "missing", t0 + 100);
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "too many different denied references by 'mallory'"));
    assert_non_null(strstr(e.msg, "try again after"));
    /* an existing row still counts attempts up to the attempts cap */
    for (int i = SR_AUDIT_MAX_DENIED_ROWS; i < SR_AUDIT_MAX_DENIED_ATTEMPTS; i++) {
        r = denial("N0", "mallory", "missing", t0 + 200);
        assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    }
    r = denial("N0", "mallory", "missing", t0 + 300);
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "too many denied attempts by 'mallory' on secrets of 'alice'"));
    /* others, and the next window, are not affected */
    r = denial("N0", "trent", "missing", t0 + 300);
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    r = denial("N0", "mallory", "missing", t0 + W);
    assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(f->st, "alice", "N0", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[2].count, SR_AUDIT_MAX_DENIED_ATTEMPTS - SR_AUDIT_MAX_DENIED_ROWS + 1);
    free_audit(rows, n);
}

static void
test_audit_pages_by_cursor_and_is_purged(void **state)
{
    struct test_tmp *f = *state;
    sr_err e = {0};
    for (int i = 0; i < 25; i++) {
        struct sr_audit_row r = {.owner = "alice",
                                 .name = "K",
                                 .user = "alice",
                                 .outcome = "allowed",
                                 .reason = "",
                                 .time_ms = 1000 + i};
        assert_int_equal(sr_store_audit_add(f->st, &r, &e), SR_OK);
    }
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    int64_t before = 0;
    int seen = 0;
    for (int page = 0; page < 4; page++) {
        assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 10, before, &rows, &n, &e),
                         SR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(rows[i].time_ms, 1000 + 24 - seen); /* newest first, none twice */
            seen++;
        }
        before = n ? rows[n - 1].id : before;
        free_audit(rows, n);
    }
    assert_int_equal(seen, 25);
    /* retention: everything whose last attempt is before 1010, in batches */
    size_t purged = 0;
    assert_int_equal(sr_store_audit_purge(f->st, 1010, 4, &purged, &e), SR_OK);
    assert_int_equal(purged, 4);
    assert_int_equal(sr_store_audit_purge(f->st, 1010, 100, &purged, &e), SR_OK);
    assert_int_equal(purged, 6);
    assert_int_equal(sr_store_audit_list(f->st, "alice", "K", 100, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 15);
    assert_int_equal(rows[n - 1].time_ms, 1010);
    free_audit(rows, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_are_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_list_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_per_owner_are_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_is_kept_per_owner_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denials_are_summarised_per_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_denials_by_one_user_are_capped_per_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_pages_by_cursor_and_is_purged, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_secret", tests, NULL, NULL);
}
