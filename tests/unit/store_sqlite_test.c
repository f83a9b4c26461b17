/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_test.c - the SQLite store: migrations, tokens, jobs, owner
 * scoping, pagination, restart scans and purge. Each test gets a fresh
 * database in a mkdtemp directory under /tmp, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "store_keys.h"
#include "store_int.h"
#include "test_tmp.h"

static int
setup(void **state)
{
    return test_store_setup(state, "store_test");
}

static int
teardown(void **state)
{
    return test_store_teardown(state);
}

static void
make_id(unsigned n, char id[33])
{
    (void)snprintf(id, 33, "%032x", n);
}

static struct sr_job_row
job(unsigned n, const char *owner, enum sr_job_state s, int64_t created)
{
    struct sr_job_row r = {
        .owner = (char *)(uintptr_t)owner,
        .state = s,
        .runtime = "js",
        .request_json = "{\"script\":\"1\"}",
        .created_at_ms = created,
        .expires_at_ms = created + 1000,
    };
    make_id(n, r.id);
    return r;
}

static void
insert(sr_store *st, struct sr_job_row r)
{
    sr_err err = {0};
    sr_status rc = sr_store_job_insert(st, &r, &err);
    if (rc != SR_OK)
        fail_msg("insert: %s", err.msg);
}

static int
count_versions(const char *path)
{
    return (int)test_store_int(path, "SELECT count(*) FROM schema_version");
}

/* The migrations of the backend under test, and the last version. */
static const struct sr_store__migration *
migrations(size_t *n)
{
    *n = test_store_is_pg() ? sr_store__pg_migrations_count : sr_store__migration_count;
    return test_store_is_pg() ? sr_store__pg_migrations : sr_store__migrations;
}

static int
last_version(void)
{
    size_t n = 0;
    const struct sr_store__migration *m = migrations(&n);
    return m[n - 1].version;
}

static void
test_migrations_apply_once(void **state)
{
    struct test_tmp *f = *state;
    size_t count = 0;
    (void)migrations(&count);
    assert_int_equal(sr_store_schema_version(f->st), last_version());
    assert_true(sr_store_ping(f->st));
    assert_int_equal(count_versions(f->path), (int)count);
    if (!test_store_is_pg()) {
        struct stat sb;
        assert_int_equal(stat(f->path, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
    }

    /* reopening applies nothing new and keeps the data */
    insert(f->st, job(1, "alice", SR_JOB_QUEUED, 100));
    sr_store_close(f->st);
    sr_err err = {0};
    assert_int_equal(test_store_open(f->path, &f->st, &err), SR_OK);
    assert_int_equal(sr_store_schema_version(f->st), last_version());
    assert_int_equal(count_versions(f->path), (int)count);
    int64_t total = 0;
    assert_int_equal(sr_store_jobs_count(f->st, &total, &err), SR_OK);
    assert_int_equal(total, 1);
}

static void
test_refuses_newer_schema(void **state)
{
    struct test_tmp *f = *state;
    sr_store_close(f->st);
    f->st = NULL;
    assert_int_equal(
        test_store_exec(f->path, "INSERT INTO schema_version VALUES (9999, '9999_future', 0)"), 0);
    sr_err err = {0};
    assert_int_equal(test_store_open_keyless(f->path, &f->st, &err), SR_ECONFLICT);
    assert_null(f->st);
    assert_non_null(strstr(err.msg, "schema version 9999, newer than the "));
}

static void
test_open_error_names_the_path(void **state)
{
    (void)state;
    sr_store *st = NULL;
    sr_err err = {0};
    assert_int_equal(sr_store_open_sqlite("/nonexistent-dir/x/y.db", &st, &err), SR_EIO);
    assert_null(st);
    assert_non_null(strstr(err.msg, "cannot open database '/nonexistent-dir/x/y.db'"));
    assert_int_equal(sr_store_open_sqlite("", &st, &err), SR_EINVAL);
}

static void
test_open_rejects_a_file_that_is_not_a_database(void **state)
{
    struct test_tmp *f = *state;
    char path[160];
    (void)snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not sqlite ", fp);
    fclose(fp);
    sr_store *st = NULL;
    sr_err err = {0};
    assert_int_equal(sr_store_open_sqlite(path, &st, &err), SR_EIO);
    assert_null(st);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "not a database"));
}

static void
test_tokens_add_owner_list_revoke(void **state)
{
    struct test_tmp *f = *state;
    uint8_t h1[32], h2[32], h3[32];
    memset(h1, 0x11, 32);
    memset(h2, 0x22, 32);
    memset(h3, 0x33, 32);
    sr_err err = {0};
    assert_int_equal(sr_store_token_add(f->st, h1, "alice", "laptop", 10, &err), SR_OK);
    assert_int_equal(sr_store_token_add(f->st, h2, "bob", NULL, 20, &err), SR_OK);
    assert_int_equal(sr_store_token_add(f->st, h3, "alice", NULL, 30, &err), SR_OK);
    assert_int_equal(sr_store_token_add(f->st, h1, "carol", NULL, 40, &err), SR_ECONFLICT);
    assert_int_equal(sr_store_token_add(f->st, h1, "", NULL, 40, &err), SR_EINVAL);

    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(f->st, h2, &owner, &err), SR_OK);
    assert_string_equal(owner, "bob");
    free(owner);

    struct sr_token_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_token_list(f->st, NULL, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].id, "3333333333333333"); /* newest first */
    assert_string_equal(rows[2].owner, "alice");
    assert_string_equal(rows[2].label, "laptop");
    assert_int_equal(rows[2].created_at_ms, 10);
    for (size_t i = 0; i < n; i++)
        sr_token_row_fini(&rows[i]);
    free(rows);
    assert_int_equal(sr_store_token_list(f->st, "alice", &rows, &n, &err), SR_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        sr_token_row_fini(&rows[i]);
    free(rows);

    assert_int_equal(sr_store_token_revoke(f->st, "22222222", 50, &err), SR_OK);
    owner = NULL;
    assert_int_equal(sr_store_token_owner(f->st, h2, &owner, &err), SR_ENOTFOUND);
    assert_null(owner);
    assert_int_equal(sr_store_token_revoke(f->st, "2222222222222222", 60, &err), SR_ECONFLICT);
    assert_non_null(strstr(err.msg, "already revoked"));
    assert_int_equal(sr_store_token_list(f->st, "bob", &rows, &n, &err), SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].revoked_at_ms, 50);
    sr_token_row_fini(&rows[0]);
    free(rows);
}

static void
test_token_revoke_by_prefix(void **state)
{
    struct test_tmp *f = *state;
    uint8_t a[32], b[32];
    memset(a, 0, 32);
    memset(b, 0, 32);
    memcpy(a, "\xab\xcd\xef\x01\x11", 5);
    memcpy(b, "\xab\xcd\xef\x01\x22", 5);
    sr_err err = {0};
    assert_int_equal(sr_store_token_add(f->st, a, "alice", NULL, 1, &err), SR_OK);
    assert_int_equal(sr_store_token_add(f->st, b, "alice", NULL, 2, &err), SR_OK);
    assert_int_equal(sr_store_token_revoke(f->st, "abcdef01", 3, &err), SR_ECONFLICT);
    assert_non_null(strstr(err.msg, "ambiguous"));
    assert_int_equal(sr_store_token_revoke(f->st, "12345678", 3, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "token '12345678' not found"));
    assert_int_equal(sr_store_token_revoke(f->st, "abc", 3, &err), SR_EINVAL);
    assert_int_equal(sr_store_token_revoke(f->st, "ABCDEF0122", 3, &err), SR_EINVAL);
    assert_int_equal(sr_store_token_revoke(f->st, "abcdef0122", 3, &err), SR_OK);
    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(f->st, b, &owner, &err), SR_ENOTFOUND);
    assert_int_equal(sr_store_token_owner(f->st, a, &owner, &err), SR_OK);
    free(owner);
}

static void
free_token_rows(struct sr_token_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sr_token_row_fini(&rows[i]);
    free(rows);
}

static void
test_token_scopes_and_expiry(void **state)
{
    struct test_tmp *f = *state;
    uint8_t h[32], g[32];
    memset(h, 0x44, 32);
    memset(g, 0x55, 32);
    sr_err err = {0};
    struct sr_token_new t = {.hash = h,
                             .owner = "alice",
                             .label = "ci",
                             .scopes = SR_SCOPE_EXECUTE | SR_SCOPE_JOBS_READ,
                             .expires_at_ms = 1000,
                             .now_ms = 10};
    assert_int_equal(sr_store_token_create(f->st, &t, &err), SR_OK);
    struct sr_token_row row;
    assert_int_equal(sr_store_token_lookup(f->st, h, 999, &row, &err), SR_OK);
    assert_string_equal(row.owner, "alice");
    assert_string_equal(row.id, "4444444444444444");
    assert_int_equal(row.scopes, SR_SCOPE_EXECUTE | SR_SCOPE_JOBS_READ);
    assert_int_equal(row.expires_at_ms, 1000);
    sr_token_row_fini(&row);
    /* expired at its expiry, and for sr_store_token_owner (the wall clock) */
    assert_int_equal(sr_store_token_lookup(f->st, h, 1000, &row, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "expired"));
    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(f->st, h, &owner, &err), SR_ENOTFOUND);
    assert_null(owner);

    /* a token from sr_store_token_add has every scope but admin, no expiry */
    assert_int_equal(sr_store_token_add(f->st, g, "bob", NULL, 20, &err), SR_OK);
    assert_int_equal(sr_store_token_lookup(f->st, g, INT64_MAX, &row, &err), SR_OK);
    assert_int_equal(row.scopes, SR_SCOPES_USER);
    assert_int_equal(row.expires_at_ms, 0);
    sr_token_row_fini(&row);

    uint8_t x[32];
    memset(x, 0x66, 32);
    t.hash = x;
    t.scopes = 0;
    assert_int_equal(sr_store_token_create(f->st, &t, &err), SR_EINVAL);
    t.scopes = 0x100;
    assert_int_equal(sr_store_token_create(f->st, &t, &err), SR_EINVAL);
    t.scopes = SR_SCOPE_ADMIN;
    t.expires_at_ms = 10;
    assert_int_equal(sr_store_token_create(f->st, &t, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "future"));
    t.expires_at_ms = 0;
    t.now_ms = 11;
    assert_int_equal(sr_store_token_create(f->st, &t, &err), SR_OK);

    struct sr_token_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_token_list(f->st, "alice", &rows, &n, &err), SR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].scopes, SR_SCOPE_ADMIN); /* newest first */
    assert_int_equal(rows[1].scopes, SR_SCOPE_EXECUTE | SR_SCOPE_JOBS_READ);
    assert_int_equal(rows[1].expires_at_ms, 1000);
    free_token_rows(rows, n);
}

static void
test_token_revoke_among_an_owners_tokens(void **state)
{
    struct test_tmp *f = *state;
    uint8_t a[32], b[32];
    memset(a, 0, 32);
    memset(b, 0, 32);
    memcpy(a, "\x77\x77\x77\x77\x11", 5);
    memcpy(b, "\x77\x77\x77\x77\x22", 5);
    sr_err err = {0};
    assert_int_equal(sr_store_token_add(f->st, a, "alice", NULL, 1, &err), SR_OK);
    assert_int_equal(sr_store_token_add(f->st, b, "bob", NULL, 2, &err), SR_OK);
    /* another owner's token is not found; the prefix is unique among bob's */
    assert_int_equal(sr_store_token_revoke_owned(f->st, "alice", "7777777722", 3, &err),
                     SR_ENOTFOUND);
    assert_int_equal(sr_store_token_revoke_owned(f->st, "bob", "77777777", 3, &err), SR_OK);
    assert_int_equal(sr_store_token_revoke_owned(f->st, "bob", "77777777", 3, &err), SR_ECONFLICT);
    assert_int_equal(sr_store_token_revoke_owned(f->st, "", "77777777", 3, &err), SR_EINVAL);
    struct sr_token_row row;
    assert_int_equal(sr_store_token_lookup(f->st, a, 4, &row, &err), SR_OK);
    sr_token_row_fini(&row);
    assert_int_equal(sr_store_token_lookup(f->st, b, 4, &row, &err), SR_ENOTFOUND);
}

/* A token stored before migration 0014 (a row without scopes) reads with
 * every scope but admin: what the migration gives existing rows. */
static void
test_tokens_from_before_scopes_keep_user_scopes(void **state)
{
    struct test_tmp *f = *state;
    const char *sql =
        test_store_is_pg()
            ? "INSERT INTO tokens (hash, owner, created_at) VALUES "
              "(decode(repeat('88', 32), 'hex'), 'old', 5)"
            : "INSERT INTO tokens (hash, owner, created_at) VALUES (x'" /* 32 bytes */
              "8888888888888888888888888888888888888888888888888888888888888888', 'old', 5)";
    assert_int_equal(test_store_exec(f->path, sql), 0);
    uint8_t h[32];
    memset(h, 0x88, 32);
    struct sr_token_row row;
    sr_err err = {0};
    assert_int_equal(sr_store_token_lookup(f->st, h, 6, &row, &err), SR_OK);
    assert_int_equal(row.scopes, SR_SCOPES_USER);
    assert_int_equal(row.scopes & SR_SCOPE_ADMIN, 0);
    assert_int_equal(row.expires_at_ms, 0);
    sr_token_row_fini(&row);
}

static void
test_job_insert_get_update(void **state)
{
    struct test_tmp *f = *state;
    sr_err err = {0};
    struct sr_job_row r = job(7, "alice", SR_JOB_QUEUED, 1000);
    insert(f->st, r);
    assert_int_equal(sr_store_job_insert(f->st, &r, &err), SR_ECONFLICT);
    assert_non_null(strstr(err.msg, "exists already"));

    struct sr_job_row got = {0};
    assert_int_equal(sr_store_job_get(f->st, "alice", r.id, &got, &err), SR_OK);
    assert_string_equal(got.id, r.id);
    assert_string_equal(got.owner, "alice");
    assert_int_equal(got.state, SR_JOB_QUEUED);
    assert_string_equal(got.runtime, "js");
    assert_string_equal(got.request_json, "{\"script\":\"1\"}");
    assert_null(got.result_json);
    assert_int_equal(got.created_at_ms, 1000);
    assert_int_equal(got.started_at_ms, 0);
    assert_int_equal(got.finished_at_ms, 0);
    assert_int_equal(got.expires_at_ms, 2000);
    sr_job_row_fini(&got);

    r.state = SR_JOB_COMPLETED;
    r.result_json = "{\"output\":{\"x\":1}}";
    r.started_at_ms = 1100;
    r.finished_at_ms = 1200;
    r.expires_at_ms = 5000;
    assert_int_equal(sr_store_job_update(f->st, &r, &err), SR_OK);
    assert_int_equal(sr_store_job_get(f->st, "alice", r.id, &got, &err), SR_OK);
    assert_int_equal(got.state, SR_JOB_COMPLETED);
    assert_string_equal(got.result_json, "{\"output\":{\"x\":1}}");
    assert_int_equal(got.started_at_ms, 1100);
    assert_int_equal(got.finished_at_ms, 1200);
    assert_int_equal(got.expires_at_ms, 5000);
    sr_job_row_fini(&got);

    struct sr_job_row missing = job(8, "alice", SR_JOB_FAILED, 1);
    assert_int_equal(sr_store_job_update(f->st, &missing, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not found"));
    r.state = (enum sr_job_state)9;
    assert_int_equal(sr_store_job_update(f->st, &r, &err), SR_EINVAL);
}

static void
test_other_owner_sees_not_found(void **state)
{
    struct test_tmp *f = *state;
    sr_err err = {0}, err2 = {0};
    struct sr_job_row r = job(42, "alice", SR_JOB_RUNNING, 10);
    insert(f->st, r);
    struct sr_job_row got = {0};
    assert_int_equal(sr_store_job_get(f->st, "bob", r.id, &got, &err), SR_ENOTFOUND);
    char other[33];
    make_id(43, other);
    assert_int_equal(sr_store_job_get(f->st, "bob", other, &got, &err2), SR_ENOTFOUND);
    /* the two answers differ only by the id */
    assert_non_null(strstr(err.msg, "not found"));
    assert_int_equal(strlen(err.msg), strlen(err2.msg));
    assert_null(got.owner);

    struct sr_job_row upd = r;
    upd.owner = "bob";
    upd.state = SR_JOB_FAILED;
    assert_int_equal(sr_store_job_update(f->st, &upd, &err), SR_ENOTFOUND);
    assert_int_equal(sr_store_job_get(f->st, "alice", r.id, &got, &err), SR_OK);
    assert_int_equal(got.state, SR_JOB_RUNNING);
    sr_job_row_fini(&got);

    struct sr_job_row *rows = NULL;
    size_t n = 9;
    assert_int_equal(sr_store_job_list(f->st, "bob", NULL, 10, NULL, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 0);
    free(rows);
    assert_int_equal(sr_store_job_list(f->st, "bob", NULL, 10, r.id, &rows, &n, &err),
                     SR_ENOTFOUND);
}

static void
test_rejects_bad_ids_and_limits(void **state)
{
    struct test_tmp *f = *state;
    sr_err err = {0};
    struct sr_job_row got = {0};
    assert_int_equal(sr_store_job_get(f->st, "alice", "../../etc/passwd", &got, &err),
                     SR_ENOTFOUND);
    assert_int_equal(
        sr_store_job_get(f->st, "alice", "0000000000000000000000000000000A", &got, &err),
        SR_ENOTFOUND);
    struct sr_job_row r = job(1, "alice", SR_JOB_QUEUED, 1);
    r.id[5] = 'g';
    assert_int_equal(sr_store_job_insert(f->st, &r, &err), SR_EINVAL);
    r = job(1, "", SR_JOB_QUEUED, 1);
    assert_int_equal(sr_store_job_insert(f->st, &r, &err), SR_EINVAL);
    r = job(1, "alice", SR_JOB_QUEUED, 1);
    r.runtime = NULL;
    assert_int_equal(sr_store_job_insert(f->st, &r, &err), SR_EINVAL);
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_job_list(f->st, "alice", NULL, 102, NULL, &rows, &n, &err),
                     SR_EINVAL);
    assert_non_null(strstr(err.msg, "at most 101"));
}

static void
test_job_list_pages_newest_first(void **state)
{
    struct test_tmp *f = *state;
    /* 25 jobs; created_at repeats so the id breaks ties */
    for (unsigned i = 0; i < 25; i++)
        insert(f->st, job(100 + (i * 7) % 25, "alice", SR_JOB_COMPLETED, 1000 + i / 3));
    insert(f->st, job(999, "bob", SR_JOB_COMPLETED, 5000));
    sr_err err = {0};
    char cursor[33] = "";
    int64_t last_created = INT64_MAX;
    char last_id[33] = "~";
    size_t total = 0, pages = 0;
    for (;;) {
        struct sr_job_row *rows = NULL;
        size_t n = 0;
        assert_int_equal(
            sr_store_job_list(f->st, "alice", NULL, 10, cursor[0] ? cursor : NULL, &rows, &n, &err),
            SR_OK);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(rows[i].owner, "alice");
            assert_null(rows[i].request_json);
            bool older = rows[i].created_at_ms < last_created ||
                         (rows[i].created_at_ms == last_created && strcmp(rows[i].id, last_id) < 0);
            assert_true(older);
            last_created = rows[i].created_at_ms;
            memcpy(last_id, rows[i].id, 33);
        }
        if (n)
            memcpy(cursor, rows[n - 1].id, 33);
        for (size_t i = 0; i < n; i++)
            sr_job_row_fini(&rows[i]);
        free(rows);
        total += n;
        pages++;
        if (n < 10)
            break;
    }
    assert_int_equal(total, 25);
    assert_int_equal(pages, 3);

    /* limit 0 means the default page */
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_job_list(f->st, "alice", NULL, 0, NULL, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 20);
    for (size_t i = 0; i < n; i++)
        sr_job_row_fini(&rows[i]);
    free(rows);
}

/* Counts ids of a filtered list (one page of up to 100). */
static size_t
count_filtered(sr_store *st, const struct sr_job_filter *flt)
{
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_store_job_list(st, "alice", flt, 100, NULL, &rows, &n, &err), SR_OK);
    for (size_t i = 0; i < n; i++)
        sr_job_row_fini(&rows[i]);
    free(rows);
    return n;
}

static void
test_job_list_filters(void **state)
{
    struct test_tmp *f = *state;
    for (unsigned i = 0; i < 12; i++) {
        struct sr_job_row r = job(200 + i, "alice", (enum sr_job_state)(i % 4), 1000 + i);
        r.runtime = i % 3 ? "js" : "wasm";
        insert(f->st, r);
    }
    insert(f->st, job(299, "bob", SR_JOB_FAILED, 1005));
    assert_int_equal(count_filtered(f->st, NULL), 12);
    assert_int_equal(
        count_filtered(f->st, &(struct sr_job_filter){.has_state = true, .state = SR_JOB_FAILED}),
        3);
    assert_int_equal(count_filtered(f->st, &(struct sr_job_filter){.runtime = "wasm"}), 4);
    assert_int_equal(count_filtered(f->st, &(struct sr_job_filter){.has_state = true,
                                                                   .state = SR_JOB_QUEUED,
                                                                   .runtime = "wasm"}),
                     1); /* i = 0 */
    assert_int_equal(
        count_filtered(f->st, &(struct sr_job_filter){.since_ms = 1004, .until_ms = 1008}), 4);
    /* paging keeps the filter: failed jobs one at a time */
    char cursor[33] = "";
    size_t seen = 0;
    const struct sr_job_filter failed = {.has_state = true, .state = SR_JOB_FAILED};
    for (;;) {
        struct sr_job_row *rows = NULL;
        size_t n = 0;
        sr_err err = {0};
        assert_int_equal(sr_store_job_list(f->st, "alice", &failed, 1, cursor[0] ? cursor : NULL,
                                           &rows, &n, &err),
                         SR_OK);
        if (n == 0) {
            free(rows);
            break;
        }
        assert_int_equal(rows[0].state, SR_JOB_FAILED);
        memcpy(cursor, rows[0].id, 33);
        sr_job_row_fini(&rows[0]);
        free(rows);
        seen++;
    }
    assert_int_equal(seen, 3);
    sr_err err = {0};
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_job_list(f->st, "alice",
                                       &(struct sr_job_filter){.has_state = true, .state = 9}, 10,
                                       NULL, &rows, &n, &err),
                     SR_EINVAL);
}

struct figures_seen {
    size_t n;
    uint64_t gas;
    int64_t duration;
    size_t timeouts;
};

static void
on_figures(void *ctx, const struct sr_job_figures *fig)
{
    struct figures_seen *s = ctx;
    s->n++;
    s->gas += fig->gas_used;
    s->duration += fig->duration_us;
    s->timeouts += strcmp(fig->error_code, "TIMEOUT") == 0;
}

static void
test_job_figures_of_finished_jobs(void **state)
{
    struct test_tmp *f = *state;
    for (unsigned i = 0; i < 6; i++) {
        struct sr_job_row r = job(300 + i, i == 5 ? "bob" : "alice",
                                  i < 2   ? SR_JOB_COMPLETED
                                  : i < 4 ? SR_JOB_FAILED
                                          : SR_JOB_RUNNING,
                                  100 + i);
        r.started_at_ms = 100 + i;
        r.finished_at_ms = r.state == SR_JOB_RUNNING ? 0 : 200 + i;
        r.gas_used = 10 * (i + 1);
        r.duration_us = 1000 * (i + 1);
        if (r.state == SR_JOB_FAILED)
            (void)snprintf(r.error_code, sizeof(r.error_code), "TIMEOUT");
        insert(f->st, r);
    }
    struct figures_seen s = {0};
    sr_err err = {0};
    assert_int_equal(sr_store_job_figures(f->st, "alice", 0, 1000, on_figures, &s, &err), SR_OK);
    /* jobs 0..3 finished; 4 is running, 5 is bob's */
    assert_int_equal(s.n, 4);
    assert_int_equal(s.gas, 10 + 20 + 30 + 40);
    assert_int_equal(s.duration, 1000 + 2000 + 3000 + 4000);
    assert_int_equal(s.timeouts, 2);
    struct figures_seen w = {0};
    assert_int_equal(sr_store_job_figures(f->st, "alice", 201, 203, on_figures, &w, &err), SR_OK);
    assert_int_equal(w.n, 2); /* finished at 201 and 202 */
    assert_int_equal(sr_store_job_figures(f->st, "alice", 5, 4, on_figures, &w, &err), SR_EINVAL);
    /* the figures read back with the row */
    struct sr_job_row got = {0};
    char id[33];
    make_id(302, id);
    assert_int_equal(sr_store_job_get(f->st, "alice", id, &got, &err), SR_OK);
    assert_int_equal(got.gas_used, 30);
    assert_int_equal(got.duration_us, 3000);
    assert_string_equal(got.error_code, "TIMEOUT");
    sr_job_row_fini(&got);
}

static void
test_interrupt_fails_running_jobs(void **state)
{
    struct test_tmp *f = *state;
    insert(f->st, job(1, "alice", SR_JOB_RUNNING, 10));
    insert(f->st, job(2, "bob", SR_JOB_RUNNING, 11));
    insert(f->st, job(3, "alice", SR_JOB_QUEUED, 12));
    insert(f->st, job(4, "alice", SR_JOB_COMPLETED, 13));
    sr_err err = {0};
    size_t n = 0;
    const char *res = "{\"error\":{\"code\":\"INTERRUPTED\"}}";
    assert_int_equal(sr_store_jobs_interrupt(f->st, res, 777, &n, &err), SR_OK);
    assert_int_equal(n, 2);
    struct sr_job_row got = {0};
    assert_int_equal(sr_store_job_get(f->st, "bob", "00000000000000000000000000000002", &got, &err),
                     SR_OK);
    assert_int_equal(got.state, SR_JOB_FAILED);
    assert_string_equal(got.result_json, res);
    assert_int_equal(got.finished_at_ms, 777);
    sr_job_row_fini(&got);
    assert_int_equal(
        sr_store_job_get(f->st, "alice", "00000000000000000000000000000003", &got, &err), SR_OK);
    assert_int_equal(got.state, SR_JOB_QUEUED);
    sr_job_row_fini(&got);
    assert_int_equal(sr_store_jobs_interrupt(f->st, res, 778, &n, &err), SR_OK);
    assert_int_equal(n, 0);
}

static void
test_queued_oldest_first_with_request(void **state)
{
    struct test_tmp *f = *state;
    insert(f->st, job(5, "bob", SR_JOB_QUEUED, 30));
    insert(f->st, job(6, "alice", SR_JOB_QUEUED, 10));
    insert(f->st, job(7, "alice", SR_JOB_RUNNING, 5));
    insert(f->st, job(8, "carol", SR_JOB_QUEUED, 20));
    struct sr_job_row *rows = NULL;
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_store_jobs_queued(f->st, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].owner, "alice");
    assert_string_equal(rows[1].owner, "carol");
    assert_string_equal(rows[2].owner, "bob");
    assert_string_equal(rows[0].request_json, "{\"script\":\"1\"}");
    for (size_t i = 0; i < n; i++)
        sr_job_row_fini(&rows[i]);
    free(rows);
}

static void
test_purge_and_count(void **state)
{
    struct test_tmp *f = *state;
    for (unsigned i = 0; i < 10; i++)
        insert(f->st, job(i + 1, "alice", SR_JOB_COMPLETED, 1000 * i)); /* expires +1000 */
    sr_err err = {0};
    int64_t total = 0;
    size_t n = 0;
    assert_int_equal(sr_store_jobs_count(f->st, &total, &err), SR_OK);
    assert_int_equal(total, 10);
    assert_int_equal(sr_store_jobs_purge(f->st, 4000, &n, &err), SR_OK); /* expires <= 4000 */
    assert_int_equal(n, 4);
    assert_int_equal(sr_store_jobs_count(f->st, &total, &err), SR_OK);
    assert_int_equal(total, 6);
    struct sr_job_row got = {0};
    assert_int_equal(
        sr_store_job_get(f->st, "alice", "00000000000000000000000000000004", &got, &err),
        SR_ENOTFOUND);
    assert_int_equal(
        sr_store_job_get(f->st, "alice", "00000000000000000000000000000005", &got, &err), SR_OK);
    sr_job_row_fini(&got);
    assert_int_equal(sr_store_jobs_purge(f->st, 4000, &n, &err), SR_OK);
    assert_int_equal(n, 0);
}

static void
test_state_names(void **state)
{
    (void)state;
    assert_string_equal(sr_job_state_name(SR_JOB_QUEUED), "queued");
    assert_string_equal(sr_job_state_name(SR_JOB_RUNNING), "running");
    assert_string_equal(sr_job_state_name(SR_JOB_COMPLETED), "completed");
    assert_string_equal(sr_job_state_name(SR_JOB_FAILED), "failed");
    assert_null(sr_job_state_name((enum sr_job_state)4));
    sr_store_close(NULL);
    sr_job_row_fini(NULL);
    struct sr_job_row zero = {0};
    sr_job_row_fini(&zero);
}

/* Completion webhooks: due once the job has ended, claimed by one holder
 * at a time and per owner, the attempt and next state written only under
 * the claim, read back for the owner alone, purged with the job; a row
 * whose job was never stored is purged ten minutes after it was made. */
static void
test_webhooks_claim_attempt_and_purge(void **state)
{
    struct test_tmp *f = *state;
    sr_err err = {0};
    const char *ha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", *hb = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    insert(f->st, job(1, "alice", SR_JOB_QUEUED, 100));
    insert(f->st, job(2, "alice", SR_JOB_QUEUED, 101));
    insert(f->st, job(3, "bob", SR_JOB_QUEUED, 102));
    char id[33];
    for (unsigned i = 1; i <= 3; i++) {
        make_id(i, id);
        assert_int_equal(sr_store_webhook_add(f->st, i == 3 ? "bob" : "alice", id, 200, &err),
                         SR_OK);
    }
    make_id(1, id);
    assert_int_equal(sr_store_webhook_add(f->st, "alice", id, 200, &err), SR_ECONFLICT);
    assert_int_equal(sr_store_webhook_add(f->st, "alice", "x", 200, &err), SR_EINVAL);
    struct sr_webhook_row *rows = NULL;
    size_t n = 9;
    /* no job has ended: nothing is due */
    assert_int_equal(sr_store_webhooks_claim(f->st, ha, 300, 1300, 10, 1, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 0);
    free(rows);
    for (unsigned i = 1; i <= 3; i++) {
        struct sr_job_row r = job(i, i == 3 ? "bob" : "alice", SR_JOB_COMPLETED, 100 + i);
        r.result_json = "{\"output\":1}";
        r.finished_at_ms = 250;
        r.expires_at_ms = 5000;
        assert_int_equal(sr_store_job_update(f->st, &r, &err), SR_OK);
    }
    /* one per owner at a time: alice's first and bob's */
    assert_int_equal(sr_store_webhooks_claim(f->st, ha, 300, 1300, 10, 1, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 2);
    struct sr_webhook_row w = rows[0];
    assert_string_equal(rows[0].job_id, "00000000000000000000000000000001");
    assert_string_equal(rows[0].owner, "alice");
    assert_int_equal(rows[0].attempts, 0);
    assert_string_equal(rows[1].owner, "bob");
    free(rows);
    /* claimed: another holder gets nothing until the claims run out */
    assert_int_equal(sr_store_webhooks_claim(f->st, hb, 400, 1400, 10, 1, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 0);
    free(rows);
    /* only the holder records; a failed attempt makes it due again later */
    struct sr_webhook_attempt a = {.attempt = 1, .at_ms = 310, .duration_ms = 5, .status = 500};
    (void)snprintf(a.error, sizeof(a.error), "the receiver answered 500");
    assert_int_equal(sr_store_webhook_attempt(f->st, hb, &w, &a, SR_WEBHOOK_PENDING, 2000, &err),
                     SR_ECONFLICT);
    assert_int_equal(sr_store_webhook_attempt(f->st, ha, &w, &a, SR_WEBHOOK_PENDING, 2000, &err),
                     SR_OK);
    assert_int_equal(sr_store_webhooks_claim(f->st, hb, 1500, 2500, 10, 2, &rows, &n, &err), SR_OK);
    /* alice's second and bob's (his claim ran out at 1300); her first waits until 2000 */
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].job_id, "00000000000000000000000000000002");
    assert_string_equal(rows[1].job_id, "00000000000000000000000000000003");
    free(rows);
    assert_int_equal(sr_store_webhooks_claim(f->st, hb, 2600, 3600, 10, 2, &rows, &n, &err), SR_OK);
    assert_int_equal(n, 3); /* all claims ran out; 1 is due again, last (latest next_at) */
    w = rows[2];
    assert_string_equal(w.job_id, "00000000000000000000000000000001");
    assert_int_equal(w.attempts, 1);
    free(rows);
    struct sr_webhook_attempt b = {.attempt = 2, .at_ms = 2610, .duration_ms = 3, .status = 204};
    assert_int_equal(sr_store_webhook_attempt(f->st, hb, &w, &b, SR_WEBHOOK_DELIVERED, 0, &err),
                     SR_OK);

    enum sr_webhook_state ws = SR_WEBHOOK_FAILED;
    struct sr_webhook_attempt *at = NULL;
    assert_int_equal(sr_store_webhook_get(f->st, "alice", w.job_id, &ws, &at, &n, &err), SR_OK);
    assert_int_equal(ws, SR_WEBHOOK_DELIVERED);
    assert_int_equal(n, 2);
    assert_int_equal(at[0].attempt, 1);
    assert_int_equal(at[0].status, 500);
    assert_string_equal(at[0].error, "the receiver answered 500");
    assert_int_equal(at[1].status, 204);
    assert_string_equal(at[1].error, "");
    free(at);
    assert_int_equal(sr_store_webhook_get(f->st, "bob", w.job_id, &ws, &at, &n, &err),
                     SR_ENOTFOUND);
    assert_string_equal(sr_webhook_state_name(SR_WEBHOOK_FAILED), "failed");
    /* rows of submissions whose job was never stored (refused after the
     * webhook's row was written): one old, one just made */
    make_id(9, id);
    assert_int_equal(sr_store_webhook_add(f->st, "alice", id, 200, &err), SR_OK);
    make_id(10, id);
    assert_int_equal(sr_store_webhook_add(f->st, "alice", id, 650000, &err), SR_OK);
    /* the job's purge takes its webhook and attempts along */
    size_t gone = 0;
    assert_int_equal(sr_store_jobs_purge(f->st, 6000, &gone, &err), SR_OK);
    assert_int_equal(gone, 3);
    assert_int_equal(sr_store_webhook_get(f->st, "alice", w.job_id, &ws, &at, &n, &err),
                     SR_ENOTFOUND);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM webhook_attempts"), 0);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM webhooks"), 2);
    /* a row without its job goes ten minutes after it was made */
    assert_int_equal(sr_store_jobs_purge(f->st, 700000, &gone, &err), SR_OK);
    assert_int_equal(test_store_int(f->path, "SELECT count(*) FROM webhooks"), 1);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_migrations_apply_once),
        T(test_refuses_newer_schema),
        T(test_open_error_names_the_path),
        T(test_open_rejects_a_file_that_is_not_a_database),
        T(test_tokens_add_owner_list_revoke),
        T(test_token_revoke_by_prefix),
        T(test_token_scopes_and_expiry),
        T(test_token_revoke_among_an_owners_tokens),
        T(test_tokens_from_before_scopes_keep_user_scopes),
        T(test_job_insert_get_update),
        T(test_other_owner_sees_not_found),
        T(test_rejects_bad_ids_and_limits),
        T(test_job_list_pages_newest_first),
        T(test_job_list_filters),
        T(test_job_figures_of_finished_jobs),
        T(test_interrupt_fails_running_jobs),
        T(test_queued_oldest_first_with_request),
        T(test_purge_and_count),
        T(test_state_names),
        T(test_webhooks_claim_attempt_and_purge),
    };
#undef T
    return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
}
