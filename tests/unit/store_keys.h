/* SPDX-License-Identifier: MIT
 *
 * store_keys.h - for the store's unit tests: opens a store with fixed
 * master keys, as sealrund opens it with its own (job data, modules and
 * policies are sealed at rest and need them). 'fill' picks the key bytes,
 * so a test can open the same file with other keys.
 *
 * One parameter picks the backend: SR_TEST_STORE=postgres (the CTest
 * variants unit-pg/...) opens every store on PostgreSQL instead of SQLite.
 * The first open starts a throw-away PostgreSQL cluster (test_pg.h: initdb
 * and pg_ctl as an unprivileged user, a unix socket in a temp directory),
 * stopped when the test binary exits; each test's 'path' names its own
 * database there, so a test that reopens the same path reopens the same
 * data. test_store_int/test_store_exec run SQL on the same database in
 * either dialect (tests keep to SQL both understand).
 */
#ifndef SR_TEST_STORE_KEYS_H
#define SR_TEST_STORE_KEYS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_store.h"
#include "test_pg.h"
#include "test_tmp.h"

static inline int
test_store_is_pg(void)
{
    const char *v = getenv("SR_TEST_STORE");
    return v && strcmp(v, "postgres") == 0;
}

/* The target for 'path' (a SQLite file path) under the chosen backend. */
static inline void
test_store_target(const char *path, char *out, size_t n)
{
    if (test_store_is_pg())
        test_pg_database(path, out, n);
    else
        (void)snprintf(out, n, "sqlite:%s", path);
}

static inline sr_status
test_store_open_with(const char *path, uint8_t fill, sr_store **out, sr_err *err)
{
    uint8_t k[32];
    memset(k, fill, sizeof(k));
    sr_keys *keys = NULL;
    char target[512];
    test_store_target(path, target, sizeof(target));
    sr_status rc = sr_keys_new(k, sizeof(k), k, sizeof(k), &keys, err);
    if (rc == SR_OK)
        rc = sr_store_open(target, keys, out, err);
    sr_keys_free(keys);
    return rc;
}

static inline sr_status
test_store_open(const char *path, sr_store **out, sr_err *err)
{
    return test_store_open_with(path, 0x42, out, err);
}

/* Without the master keys (as `sealrun token` opens it). */
static inline sr_status
test_store_open_keyless(const char *path, sr_store **out, sr_err *err)
{
    char target[512];
    test_store_target(path, target, sizeof(target));
    return sr_store_open(target, NULL, out, err);
}

/* Runs sql (one or more statements) on path's database; 0 on success. */
static inline int
test_store_exec(const char *path, const char *sql)
{
    if (test_store_is_pg()) {
        char target[512];
        test_pg_database(path, target, sizeof(target));
        return test_pg_exec(target, sql);
    }
    sqlite3 *db = NULL;
    char *msg = NULL;
    int rc = sqlite3_open(path, &db) == SQLITE_OK ? sqlite3_exec(db, sql, NULL, NULL, &msg) : -1;
    if (rc != SQLITE_OK)
        fprintf(stderr, "test_store_exec: %s\n", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The integer in the first column of the first row of sql; -1 on failure. */
static inline long long
test_store_int(const char *path, const char *sql)
{
    if (test_store_is_pg()) {
        char target[512];
        test_pg_database(path, target, sizeof(target));
        return test_pg_int(target, sql);
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long long v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

/* cmocka setup and teardown of a store test: *state is a struct test_tmp
 * whose store (at its path, fixed keys, the chosen backend) is open in st. */
static inline int
test_store_setup(void **state, const char *name)
{
    if (test_tmp_setup(state, name) != 0)
        return -1;
    struct test_tmp *t = *state;
    sr_err err = {0};
    if (test_store_open(t->path, &t->st, &err) != SR_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static inline int
test_store_teardown(void **state)
{
    struct test_tmp *t = *state;
    sr_store_close(t->st);
    return test_tmp_teardown(state);
}

#endif /* SR_TEST_STORE_KEYS_H */
