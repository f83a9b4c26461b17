/* SPDX-License-Identifier: MIT
 *
 * storage_atrest_test.c - keys and namespace names sealed at rest: nothing
 * of them is in the database files in clear, a sealed key copied to
 * another row does not open, and a store written by the previous sealrun
 * (the schema files below 0006, keys and names in clear, built here from
 * those files and rows sealed as that code sealed values) is converted by the
 * data step of migration 6: in one transaction, values and versions kept,
 * the old tables and their pages gone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include "storage_int.h"

#define CANARY_KEY "canary-key-7f3a9c"
#define CANARY_NS "canary-ns-51d2"

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
    snprintf(f->dir, sizeof(f->dir), "/tmp/sr-atrest-XXXXXX");
    if (sodium_init() < 0 || !mkdtemp(f->dir) ||
        sr_keys_new(k1, 32, k2, 32, &f->keys, NULL) != SR_OK)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
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

/* Whether 'needle' occurs in the database file or its WAL. */
static bool
files_hold(const struct fix *f, const char *needle)
{
    const char *suffix[] = {"", "-wal"};
    size_t nlen = strlen(needle);
    for (int i = 0; i < 2; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
        FILE *fp = fopen(p, "rb");
        if (!fp)
            continue;
        static uint8_t buf[16u << 20];
        size_t n = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        for (size_t j = 0; j + nlen <= n; j++)
            if (memcmp(buf + j, needle, nlen) == 0)
                return true;
    }
    return false;
}

static void
put(struct fix *f, const char *owner, const char *ns, const char *key, const char *value)
{
    const struct sr_storage_config cfg = {
        .store = f->st, .keys = f->keys, .owner = owner, .ns = ns};
    uint64_t v = 0;
    sr_err e = {0};
    assert_int_equal(sr_storage_put(&cfg, (const uint8_t *)key, strlen(key), (const uint8_t *)value,
                                    strlen(value), &v, &e),
                     SR_OK);
}

static void
test_keys_and_names_are_not_stored_in_clear(void **state)
{
    struct fix *f = *state;
    assert_int_equal(sr_store_open_sqlite(f->path, &f->st, NULL), SR_OK);
    put(f, "alice", CANARY_NS, CANARY_KEY, "v1");
    put(f, "alice", CANARY_NS, "other", "v2");
    assert_false(files_hold(f, CANARY_KEY));
    assert_false(files_hold(f, CANARY_NS));
    /* they read back through ids and sealed copies */
    struct sr_storage_listing l;
    const struct sr_storage_config cfg = {
        .store = f->st, .keys = f->keys, .owner = "alice", .ns = CANARY_NS};
    assert_int_equal(sr_storage_list(&cfg, NULL, 0, NULL, 0, 10, &l, NULL), SR_OK);
    assert_int_equal(l.n, 2);
    assert_memory_equal(l.items[0].key, CANARY_KEY, strlen(CANARY_KEY));
    sr_storage_listing_fini(&l);
    struct sr_storage_namespaces ns;
    assert_int_equal(sr_storage_namespaces(f->st, f->keys, "alice", &ns, NULL), SR_OK);
    assert_int_equal(ns.n, 1);
    assert_string_equal(ns.ns[0].name, CANARY_NS);
    sr_storage_namespaces_fini(&ns);

    /* a sealed key moved onto another row does not open: listing refuses */
    sr_store_close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE storage_kv SET key = (SELECT key FROM storage_kv "
                                  "ORDER BY id LIMIT 1) WHERE id = (SELECT id FROM storage_kv "
                                  "ORDER BY id DESC LIMIT 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(sr_store_open_sqlite(f->path, &f->st, NULL), SR_OK);
    sr_err e = {0};
    const struct sr_storage_config again = {
        .store = f->st, .keys = f->keys, .owner = "alice", .ns = CANARY_NS};
    assert_int_equal(sr_storage_list(&again, NULL, 0, NULL, 0, 10, &l, &e), SR_EINTERNAL);
    assert_non_null(strstr(e.msg, "a stored key of namespace '" CANARY_NS "' does not open"));
}

/* ---- a store written by the previous sealrun ---- */

static void
exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* The schema that sealrun had before migration 6: every embedded file
 * below 0006 and its schema_version row, as its migrate() left them. */
static void
old_schema(sqlite3 *db)
{
    const char *src = getenv("SR_SOURCE_DIR");
    assert_non_null(src);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/src/lib/store/schema", src);
    exec_ok(db, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at INTEGER NOT NULL)");
    int applied = 0;
    for (int v = 1; v < 6; v++) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *de;
        char prefix[8], path[1024], name[256] = "";
        snprintf(prefix, sizeof(prefix), "%04d_", v);
        while ((de = readdir(d)))
            if (strncmp(de->d_name, prefix, 5) == 0)
                snprintf(name, sizeof(name), "%s", de->d_name);
        closedir(d);
        if (!name[0])
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        static char sql[65536];
        size_t n = fread(sql, 1, sizeof(sql) - 1, fp);
        fclose(fp);
        sql[n] = 0;
        exec_ok(db, sql);
        char rec[512];
        name[strlen(name) - 4] = 0;
        snprintf(rec, sizeof(rec), "INSERT INTO schema_version VALUES (%d, '%s', 0)", v, name);
        exec_ok(db, rec);
        applied++;
    }
    assert_true(applied >= 4); /* 0001..0004 at least: storage came with 0004 */
}

struct old_entry {
    const char *owner, *ns, *key, *value;
    uint64_t version;
};

static const struct old_entry old_entries[] = {
    {"alice", CANARY_NS, CANARY_KEY, "first", 1}, {"alice", CANARY_NS, "b/2", "second", 3},
    {"alice", CANARY_NS, "a/1", "third", 2},      {"alice", "default", "counter", "41", 7},
    {"bob", CANARY_NS, CANARY_KEY, "bob's", 1},
};
#define NOLD (sizeof(old_entries) / sizeof(old_entries[0]))

/* Rows as the previous code wrote them: the key in clear, the value sealed
 * by sr_storage_seal (unchanged since) for the namespace version. */
static void
old_rows(sqlite3 *db, const sr_keys *keys, const char *bad_key)
{
    sqlite3_stmt *e = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO storage_entries (owner, namespace, key, "
                                        "value, size, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                        -1, &e, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < NOLD; i++) {
        const struct old_entry *o = &old_entries[i];
        const char *key = bad_key && i == NOLD - 1 ? bad_key : o->key;
        uint8_t nskey[32], *blob = NULL;
        size_t blen = 0;
        sr_storage_ns_key(keys, o->owner, o->ns, nskey);
        assert_int_equal(sr_storage_seal(nskey, o->owner, o->ns, (const uint8_t *)key, strlen(key),
                                         o->version, (const uint8_t *)o->value, strlen(o->value),
                                         &blob, &blen, NULL),
                         SR_OK);
        sqlite3_bind_text(e, 1, o->owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(e, 2, o->ns, -1, SQLITE_STATIC);
        sqlite3_bind_blob(e, 3, key, (int)strlen(key), SQLITE_STATIC);
        sqlite3_bind_blob(e, 4, blob, (int)blen, SQLITE_STATIC);
        sqlite3_bind_int64(e, 5, (sqlite3_int64)(strlen(key) + strlen(o->value)));
        sqlite3_bind_int64(e, 6, (sqlite3_int64)o->version);
        assert_int_equal(sqlite3_step(e), SQLITE_DONE);
        sqlite3_reset(e);
        free(blob);
    }
    sqlite3_finalize(e);
    exec_ok(db, "INSERT INTO storage_namespaces (owner, name, version, keys, bytes, updated_at) "
                "SELECT owner, namespace, max(version), count(*), sum(size), 0 "
                "FROM storage_entries GROUP BY owner, namespace");
    /* a namespace whose keys were all deleted keeps its version */
    exec_ok(db, "INSERT INTO storage_namespaces VALUES ('alice', 'emptied', 9, 0, 0, 0)");
}

static void
old_store(struct fix *f, const char *bad_key)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL");
    old_schema(db);
    old_rows(db, f->keys, bad_key);
    sqlite3_close(db);
}

static bool
has_table(const struct fix *f, const char *name)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                        "AND name = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool yes = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return yes;
}

static void
test_upgrade_seals_an_old_store(void **state)
{
    struct fix *f = *state;
    old_store(f, NULL);
    assert_true(files_hold(f, CANARY_KEY));
    assert_true(files_hold(f, CANARY_NS));
    assert_int_equal(sr_store_open_sqlite(f->path, &f->st, NULL), SR_OK);
    uint64_t moved = 0;
    sr_err e = {0};
    assert_int_equal(sr_storage_upgrade(f->st, f->keys, &moved, &e), SR_OK);
    assert_int_equal(moved, NOLD);
    /* the old tables are gone, and so are their pages, from both files */
    assert_false(has_table(f, "storage_entries"));
    assert_false(has_table(f, "storage_namespaces"));
    assert_false(files_hold(f, CANARY_KEY));
    assert_false(files_hold(f, CANARY_NS));
    /* every value reads back with the version that wrote it */
    for (size_t i = 0; i < NOLD; i++) {
        const struct old_entry *o = &old_entries[i];
        const struct sr_storage_config cfg = {
            .store = f->st, .keys = f->keys, .owner = o->owner, .ns = o->ns};
        uint8_t *v = NULL;
        size_t len = 0;
        uint64_t ver = 0;
        assert_int_equal(
            sr_storage_get(&cfg, (const uint8_t *)o->key, strlen(o->key), &v, &len, &ver, &e),
            SR_OK);
        assert_int_equal(len, strlen(o->value));
        assert_memory_equal(v, o->value, len);
        assert_int_equal(ver, o->version);
        free(v);
    }
    /* listings in key order; namespaces by name with their counters */
    const struct sr_storage_config cfg = {
        .store = f->st, .keys = f->keys, .owner = "alice", .ns = CANARY_NS};
    struct sr_storage_listing l;
    assert_int_equal(sr_storage_list(&cfg, NULL, 0, NULL, 0, 10, &l, &e), SR_OK);
    assert_int_equal(l.n, 3);
    assert_memory_equal(l.items[0].key, "a/1", 3);
    assert_memory_equal(l.items[1].key, "b/2", 3);
    assert_memory_equal(l.items[2].key, CANARY_KEY, strlen(CANARY_KEY));
    assert_int_equal(l.info.version, 3);
    sr_storage_listing_fini(&l);
    struct sr_storage_namespaces ns;
    assert_int_equal(sr_storage_namespaces(f->st, f->keys, "alice", &ns, &e), SR_OK);
    assert_int_equal(ns.n, 3);
    assert_string_equal(ns.ns[0].name, CANARY_NS);
    assert_string_equal(ns.ns[1].name, "default");
    assert_string_equal(ns.ns[2].name, "emptied");
    assert_int_equal(ns.ns[2].counters.version, 9);
    assert_int_equal(ns.usage.namespaces, 3);
    assert_int_equal(ns.usage.bytes, strlen(CANARY_KEY) + 5 + 3 + 6 + 3 + 5 + 7 + 2);
    sr_storage_namespaces_fini(&ns);
    /* the next commit continues the namespace's versions */
    uint64_t v = 0;
    const struct sr_storage_config def = {.store = f->st, .keys = f->keys, .owner = "alice"};
    assert_int_equal(
        sr_storage_put(&def, (const uint8_t *)"counter", 7, (const uint8_t *)"42", 2, &v, &e),
        SR_OK);
    assert_int_equal(v, 8);
    /* once done, the step does nothing */
    assert_int_equal(sr_storage_upgrade(f->st, f->keys, &moved, &e), SR_OK);
    assert_int_equal(moved, 0);
}

static void
test_upgrade_is_one_transaction(void **state)
{
    struct fix *f = *state;
    old_store(f, "bad\xff");
    assert_int_equal(sr_store_open_sqlite(f->path, &f->st, NULL), SR_OK);
    uint64_t moved = 0;
    sr_err e = {0};
    assert_int_equal(sr_storage_upgrade(f->st, f->keys, &moved, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "sealing the storage keys of an older store"));
    assert_non_null(strstr(e.msg, "not valid UTF-8"));
    /* nothing moved, nothing lost: the old tables are still whole */
    assert_true(has_table(f, "storage_entries"));
    sr_store_close(f->st);
    f->st = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM storage_entries), "
                                        "(SELECT count(*) FROM storage_kv), "
                                        "(SELECT count(*) FROM storage_ns)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), NOLD);
    assert_int_equal(sqlite3_column_int(st, 1), 0);
    assert_int_equal(sqlite3_column_int(st, 2), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keys_and_names_are_not_stored_in_clear, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_seals_an_old_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_is_one_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
