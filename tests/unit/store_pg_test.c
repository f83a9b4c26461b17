/* SPDX-License-Identifier: MIT
 *
 * store_pg_test.c - what is particular to the PostgreSQL backend (the
 * operations themselves are the unit-pg/ runs of the other store tests):
 * the two dialects' migrations are twins, targets are parsed strictly, an
 * unreachable database is named without its password, and a store whose
 * server stops answers SR_EIO and ping false, then recovers by itself
 * (reconnect with backoff) when the server is back. Starts its own
 * throw-away server (test_pg.h).
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
#include "sealrun/sr_util.h"
#include "store_int.h"
#include "store_keys.h"

static void
test_both_dialects_have_the_same_versions(void **state)
{
    (void)state;
    assert_int_equal(sr_store__migration_count, sr_store__pg_migrations_count);
    for (size_t i = 0; i < sr_store__migration_count; i++) {
        assert_int_equal(sr_store__migrations[i].version, sr_store__pg_migrations[i].version);
        assert_string_equal(sr_store__migrations[i].name, sr_store__pg_migrations[i].name);
    }
}

static void
test_open_refuses_unknown_targets(void **state)
{
    (void)state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(sr_store_open("mysql://db/x", NULL, &st, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "expected postgres://... (or postgresql://...) or sqlite:PATH"));
    assert_int_equal(sr_store_open("sqlite:", NULL, &st, &e), SR_EINVAL);
    assert_int_equal(sr_store_open("", NULL, &st, &e), SR_EINVAL);
    assert_null(st);
}

static void
test_unreachable_database_is_named_without_its_password(void **state)
{
    (void)state;
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(
        sr_store_open("postgresql://alice:hunter2@/db?host=/nonexistent-sr-dir", NULL, &st, &e),
        SR_EIO);
    assert_null(st);
    assert_non_null(strstr(e.msg, "postgresql://alice:***@/db?host=/nonexistent-sr-dir"));
    assert_null(strstr(e.msg, "hunter2"));
}

static void
test_lost_server_is_reported_and_reconnected(void **state)
{
    (void)state;
    char target[512];
    test_pg_database("/lost-server", target, sizeof(target));
    sr_store *st = NULL;
    sr_err e = {0};
    assert_int_equal(sr_store_open(target, NULL, &st, &e), SR_OK);
    assert_string_equal(sr_store_backend(st), "postgres");
    uint8_t h[32];
    memset(h, 0x61, sizeof(h));
    assert_int_equal(sr_store_token_add(st, h, "alice", NULL, 1, &e), SR_OK);
    assert_true(sr_store_ping(st));

    assert_int_equal(test_pg_ctl("stop"), 0);
    assert_false(sr_store_ping(st));
    char *owner = NULL;
    assert_int_equal(sr_store_token_owner(st, h, &owner, &e), SR_EIO);
    assert_non_null(strstr(e.msg, "unreachable"));
    assert_int_equal(sr_store_token_add(st, h, "bob", NULL, 2, &e), SR_EIO);

    assert_int_equal(test_pg_ctl("start"), 0);
    bool back = false;
    for (int i = 0; i < 100 && !back; i++) { /* the backoff is at most 5 s */
        back = sr_store_ping(st);
        if (!back)
            usleep(100 * 1000);
    }
    assert_true(back);
    assert_int_equal(sr_store_token_owner(st, h, &owner, &e), SR_OK);
    assert_string_equal(owner, "alice");
    free(owner);
    sr_store_close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_dialects_have_the_same_versions),
        cmocka_unit_test(test_open_refuses_unknown_targets),
        cmocka_unit_test(test_unreachable_database_is_named_without_its_password),
        cmocka_unit_test(test_lost_server_is_reported_and_reconnected),
    };
    return cmocka_run_group_tests_name("store_pg", tests, NULL, NULL);
}
