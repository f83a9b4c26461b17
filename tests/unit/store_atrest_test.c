/* SPDX-License-Identifier: MIT
 *
 * store_atrest_test.c - what the store keeps for users is sealed at rest:
 * no clear copy of a job's request or result, a module's bytes or
 * description, or a policy in the database files; a blob moved to another
 * row, owner or column does not open; other keys, a keyless store and a
 * legacy clear row are clear errors; and a database written by the version
 * before at-rest sealing (built here with the old schema and rows) is
 * sealed in place by the first open with keys, and compacted so the old
 * values are gone from the file too.
 */
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

#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"
#include "store_int.h"
#include "store_keys.h"
#include "test_tmp.h"

#define CANARY "CANARY-7f3a9c41d2e8b605"
#define JOB_A "0000000000000000000000000000000a"
#define JOB_B "0000000000000000000000000000000b"
#define JOB_Q "000000000000000000000000000000cc"
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int
setup(void **state)
{
    return test_tmp_setup(state, "atrest_test");
}

static int
teardown(void **state)
{
    return test_tmp_teardown(state);
}

/* --- looking for the canary in the files --- */

static bool
file_has(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t cap = 1 << 20, len = 0, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(fp);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* The canary in clear, hex and base64, in the database, its WAL or shm. */
static void
assert_no_canary(const char *db)
{
    char hex[2 * sizeof(CANARY) + 1];
    sr_hex_encode((const uint8_t *)CANARY, strlen(CANARY), hex);
    char *b64 = sr_base64_encode(CANARY, strlen(CANARY));
    assert_non_null(b64);
    const char *forms[] = {CANARY, hex, b64};
    const char *suffix[] = {"", "-wal", "-shm"};
    char path[160];
    for (size_t s = 0; s < 3; s++) {
        (void)snprintf(path, sizeof(path), "%s%s", db, suffix[s]);
        for (size_t i = 0; i < 3; i++)
            if (file_has(path, forms[i]))
                fail_msg("'%s' holds the canary (form %zu) in clear", path, i);
    }
    free(b64);
}

/* On PostgreSQL: no sealed column of any row holds the canary in clear. */
static void
assert_no_canary_pg(const char *path)
{
    const char *cols[][2] = {{"jobs", "request_json"},
                             {"jobs", "result_json"},
                             {"modules", "bytes"},
                             {"modules", "info_json"},
                             {"secrets", "policy_json"}};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        char sql[200];
        (void)snprintf(sql, sizeof(sql),
                       "SELECT count(*) FROM %s WHERE position(convert_to('%s', 'UTF8') in %s) > 0",
                       cols[i][0], CANARY, cols[i][1]);
        assert_int_equal(test_store_int(path, sql), 0);
    }
}

/* --- rows through the store --- */

static const char request_json[] = "{\"script\":\"function main(){return '" CANARY "'}\","
                                   "\"input\":\"" CANARY "\",\"env\":{\"X\":\"" CANARY "\"}}";
static const char result_json[] = "{\"output\":\"" CANARY "\",\"logs\":[\"" CANARY "\"]}";
static const uint8_t module_bytes[] = "\0asm\1\0\0\0" CANARY;
static const char module_info[] = "{\"exports\":[{\"name\":\"" CANARY "\"}]}";
static const char policy[] = "{\"condition\":{\"Users\":[\"" CANARY "\"]}}";

static void
write_rows(sr_store *st)
{
    sr_err e = {0};
    struct sr_job_row j = {
        .id = JOB_A,
        .owner = "alice",
        .state = SR_JOB_QUEUED,
        .runtime = "js",
        .request_json = (char *)(uintptr_t)request_json,
        .created_at_ms = 100,
        .expires_at_ms = 9000000000000,
    };
    assert_int_equal(sr_store_job_insert(st, &j, &e), SR_OK);
    j.state = SR_JOB_COMPLETED;
    j.result_json = (char *)(uintptr_t)result_json;
    assert_int_equal(sr_store_job_update(st, &j, &e), SR_OK);
    const struct sr_module_put p = {.owner = "alice",
                                    .hash_hex = HASH_A,
                                    .bytes = module_bytes,
                                    .len = sizeof(module_bytes),
                                    .info_json = module_info,
                                    .now_ms = 100};
    assert_int_equal(sr_store_module_put(st, &p, NULL, NULL, &e), SR_OK);
    assert_int_equal(sr_store_secret_put(st, "alice", "S", 0, (const uint8_t *)"blob", 4, 1, &e),
                     SR_OK);
    assert_int_equal(sr_store_secret_policy(st, "alice", "S", policy, 2, &e), SR_OK);
}

static void
check_rows(sr_store *st)
{
    sr_err e = {0};
    struct sr_job_row j = {0};
    assert_int_equal(sr_store_job_get(st, "alice", JOB_A, &j, &e), SR_OK);
    assert_string_equal(j.request_json, request_json);
    assert_string_equal(j.result_json, result_json);
    sr_job_row_fini(&j);
    struct sr_module_row m = {0};
    assert_int_equal(sr_store_module_get(st, "alice", HASH_A, &m, &e), SR_OK);
    assert_int_equal(m.len, sizeof(module_bytes));
    assert_memory_equal(m.bytes, module_bytes, sizeof(module_bytes));
    assert_string_equal(m.info_json, module_info);
    sr_module_row_fini(&m);
    struct sr_secret_stored s = {0};
    assert_int_equal(sr_store_secret_get(st, "alice", "S", &s, &e), SR_OK);
    assert_string_equal(s.policy_json, policy);
    sr_secret_stored_fini(&s);
}

static void
test_sealed_fields_leave_no_clear_copy(void **state)
{
    struct test_tmp *f = *state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    write_rows(st);
    check_rows(st);
    if (test_store_is_pg())
        assert_no_canary_pg(f->path);
    else
        assert_no_canary(f->path); /* while open: the WAL holds the writes */
    sr_store_close(st);
    if (!test_store_is_pg())
        assert_no_canary(f->path);
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    check_rows(st);
    struct sr_secret_meta *meta = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_secret_list(st, "alice", &meta, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(meta[0].policy_json, policy);
    sr_secret_meta_fini(&meta[0]);
    free(meta);
    sr_store_close(st);
}

static void
test_keyless_store_refuses_sealed_data(void **state)
{
    struct test_tmp *f = *state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    write_rows(st);
    sr_store_close(st);
    assert_int_equal(test_store_open_keyless(f->path, &st, &e), SR_OK);
    struct sr_job_row j = {0};
    assert_int_equal(sr_store_job_get(st, "alice", JOB_A, &j, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "cannot read a job: the store was opened without the master "
                                  "keys"));
    j = (struct sr_job_row){.id = JOB_B, .owner = "alice", .runtime = "js", .expires_at_ms = 1};
    assert_int_equal(sr_store_job_insert(st, &j, &e), SR_EINVAL);
    struct sr_module_row m = {0};
    assert_int_equal(sr_store_module_get(st, "alice", HASH_A, &m, &e), SR_EINVAL);
    assert_int_equal(sr_store_secret_policy(st, "alice", "S", "{}", 3, &e), SR_EINVAL);
    /* what is not sealed by the store works: tokens, module listing, audit */
    uint8_t h[32];
    memset(h, 7, sizeof(h));
    assert_int_equal(sr_store_token_add(st, h, "alice", NULL, 1, &e), SR_OK);
    struct sr_module_meta *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_module_list(st, "alice", 10, NULL, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    free(rows);
    sr_store_close(st);
}

static void
test_other_keys_and_moved_blobs_do_not_open(void **state)
{
    struct test_tmp *f = *state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    write_rows(st);
    struct sr_job_row j = {.id = JOB_B,
                           .owner = "bob",
                           .state = SR_JOB_COMPLETED,
                           .runtime = "js",
                           .result_json = "{}",
                           .expires_at_ms = 9000000000000};
    assert_int_equal(sr_store_job_insert(st, &j, &e), SR_OK);
    sr_store_close(st);

    /* another COMPUTE_MASTER_KEY: PostgreSQL, shared by daemons, refuses it at
     * open; a SQLite file opens, and its sealed rows do not */
    if (test_store_is_pg()) {
        assert_int_equal(test_store_open_with(f->path, 0x43, &st, &e), SR_ECONFLICT);
        assert_non_null(strstr(e.msg, "another COMPUTE_MASTER_KEY"));
    } else {
        assert_int_equal(test_store_open_with(f->path, 0x43, &st, &e), SR_OK);
        assert_int_equal(sr_store_job_get(st, "alice", JOB_A, &j, &e), SR_EIO);
        assert_non_null(strstr(e.msg, "does not authenticate"));
        assert_non_null(strstr(e.msg, "'" JOB_A "'"));
        sr_store_close(st);
    }

    /* alice's result moved onto bob's job, her module's bytes onto another
     * hash, and the request into the result column: none opens */
    assert_int_equal(
        test_store_exec(
            f->path,
            "UPDATE jobs SET result_json = (SELECT result_json FROM jobs WHERE id = '" JOB_A
            "') WHERE id = '" JOB_B "';"
            "INSERT INTO modules SELECT '" HASH_B "', bytes, size, info_json, created_at "
            "FROM modules WHERE hash = '" HASH_A "';"
            "INSERT INTO module_owners (owner, hash, created_at, size, last_used_at) "
            "VALUES ('alice', '" HASH_B "', 1, 1, 1);"
            "UPDATE jobs SET result_json = request_json WHERE id = '" JOB_A "'"),
        0);
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    assert_int_equal(sr_store_job_get(st, "bob", JOB_B, &j, &e), SR_EIO);
    assert_int_equal(sr_store_job_get(st, "alice", JOB_A, &j, &e), SR_EIO);
    assert_non_null(strstr(e.msg, "jobs.result_json"));
    struct sr_module_row m = {0};
    assert_int_equal(sr_store_module_get(st, "alice", HASH_B, &m, &e), SR_EIO);
    assert_int_equal(sr_store_module_get(st, "alice", HASH_A, &m, &e), SR_OK);
    sr_module_row_fini(&m);
    sr_store_close(st);
}

/* --- a database written by the version before at-rest sealing --- */

static void
exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* The schema of migrations 1..4 exactly as that version applied them, and
 * rows in clear as it wrote them, including a purged job whose text stays
 * in the file's free pages. */
static void
build_legacy(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL; CREATE TABLE schema_version (version INTEGER PRIMARY "
                "KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    for (size_t i = 0; i < 4; i++) {
        exec_ok(db, sr_store__migrations[i].sql);
        char *sql = sqlite3_mprintf("INSERT INTO schema_version VALUES (%d, %Q, 1)",
                                    sr_store__migrations[i].version, sr_store__migrations[i].name);
        exec_ok(db, sql);
        sqlite3_free(sql);
    }
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(
                         db,
                         "INSERT INTO jobs (id, owner, state, runtime, request_json, result_json, "
                         "created_at, expires_at) VALUES (?1, 'alice', ?2, 'js', ?3, ?4, 100, "
                         "9000000000000)",
                         -1, &st, NULL),
                     SQLITE_OK);
    const char *rows[][4] = {{JOB_A, "completed", request_json, result_json},
                             {JOB_Q, "queued", request_json, NULL}};
    for (size_t i = 0; i < 2; i++) {
        for (int c = 0; c < 4; c++)
            sqlite3_bind_text(st, c + 1, rows[i][c], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO modules VALUES ('" HASH_A "', ?1, ?2, ?3, 50)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, module_bytes, sizeof(module_bytes), SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)sizeof(module_bytes));
    sqlite3_bind_text(st, 3, module_info, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    char *sql = sqlite3_mprintf(
        "INSERT INTO module_owners VALUES ('alice', '" HASH_A "', 60);"
        "INSERT INTO secrets VALUES ('alice', 'S', 1, x'626c6f62', %Q, 1, 2);"
        "INSERT INTO secret_audit (owner, name, job_id, user, version, outcome, reason, time_ms) "
        "VALUES ('alice', 'S', 'j', 'bob', 1, 'denied', 'no', 77);"
        "INSERT INTO jobs (id, owner, state, runtime, result_json, created_at, expires_at) "
        "VALUES ('000000000000000000000000000000dd', 'alice', 'completed', 'js', "
        "'purged " CANARY "' || hex(zeroblob(10000)), 1, 1);"
        "DELETE FROM jobs WHERE id = '000000000000000000000000000000dd'",
        policy);
    exec_ok(db, sql);
    sqlite3_free(sql);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_true(file_has(path, CANARY)); /* the premise: the old version left it in clear */
}

static int
query_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void
test_legacy_database_is_sealed_in_place(void **state)
{
    struct test_tmp *f = *state;
    if (test_store_is_pg()) /* a PostgreSQL store never held clear rows (schema/postgres/0001) */
        skip();
    build_legacy(f->path);
    sr_err e = {0};
    sr_store *st = NULL;

    /* a keyless open (sealrun token) migrates the schema, seals nothing */
    assert_int_equal(sr_store_open_sqlite(f->path, &st, &e), SR_OK);
    assert_int_equal(sr_store_schema_version(st),
                     sr_store__migrations[sr_store__migration_count - 1].version);
    sr_store_close(st);
    assert_int_equal(
        query_int(f->path, "SELECT count(*) FROM store_meta WHERE key = 'seal_legacy'"), 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs WHERE typeof(result_json) = "
                                        "'text'"),
                     1);

    /* the first open with keys seals every row and compacts the file */
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    assert_no_canary(f->path);
    check_rows(st);
    struct sr_job_row j = {0};
    assert_int_equal(sr_store_job_get(st, "alice", JOB_Q, &j, &e), SR_OK);
    assert_string_equal(j.request_json, request_json);
    assert_null(j.result_json);
    sr_job_row_fini(&j);
    struct sr_module_usage u = {0};
    assert_int_equal(sr_store_module_usage(st, "alice", &u, &e), SR_OK);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.bytes, sizeof(module_bytes) + strlen(module_info));
    /* uses were never recorded before: a migrated claim counts as used at
     * the upgrade, not at its upload (it must not expire at once) */
    struct sr_module_row m = {0};
    assert_int_equal(sr_store_module_get(st, "alice", HASH_A, &m, &e), SR_OK);
    assert_true(m.last_used_at_ms > sr_now_ms() - 3600 * 1000);
    sr_module_row_fini(&m);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_audit_list(st, "alice", "S", 10, 0, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].last_ms, 77);
    assert_int_equal(rows[0].count, 1);
    sr_audit_row_fini(&rows[0]);
    free(rows);
    sr_store_close(st);
    assert_no_canary(f->path);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM store_meta"), 0);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM jobs WHERE typeof(request_json) = "
                                        "'text' OR typeof(result_json) = 'text'"),
                     0);
    /* and again: nothing left to do, the rows still read */
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    check_rows(st);
    sr_store_close(st);
}

static void
test_a_clear_row_in_a_sealed_store_is_an_error(void **state)
{
    struct test_tmp *f = *state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    sr_store_close(st);
    /* PostgreSQL's column is bytea: clear bytes there fail to authenticate */
    assert_int_equal(
        test_store_exec(f->path, test_store_is_pg()
                                     ? "INSERT INTO jobs (id, owner, state, runtime, "
                                       "result_json, created_at, expires_at) VALUES ('" JOB_A
                                       "', 'alice', 'completed', 'js', "
                                       "convert_to('{}', 'UTF8'), 1, 9000000000000)"
                                     : "INSERT INTO jobs (id, owner, state, runtime, "
                                       "result_json, created_at, expires_at) VALUES ('" JOB_A
                                       "', 'alice', 'completed', 'js', '{}', 1, "
                                       "9000000000000)"),
        0);
    assert_int_equal(test_store_open(f->path, &st, &e), SR_OK);
    struct sr_job_row j = {0};
    assert_int_equal(sr_store_job_get(st, "alice", JOB_A, &j, &e), SR_EIO);
    assert_non_null(strstr(e.msg, test_store_is_pg() ? "jobs.result_json" : "is not sealed"));
    sr_store_close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sealed_fields_leave_no_clear_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keyless_store_refuses_sealed_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_keys_and_moved_blobs_do_not_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_legacy_database_is_sealed_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_clear_row_in_a_sealed_store_is_an_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("store_atrest", tests, NULL, NULL);
}
