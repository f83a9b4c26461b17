/* SPDX-License-Identifier: MIT
 *
 * store_worker_test.c - remote workers in the store: tokens stored by hash,
 * the first registration binds the key and another key is refused, a
 * re-registration with the same key updates the rest, drain and resume,
 * revocation is final (registration and requests refused after it), id
 * prefixes (malformed, unknown, ambiguous), listing, and names checked.
 * Runs on SQLite and, as unit-pg/store_worker_test, on PostgreSQL. */
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
#include "store_keys.h"

static int
setup(void **state)
{
    return test_store_setup(state, "store_wrk");
}

static int
teardown(void **state)
{
    return test_store_teardown(state);
}

static void
hash_of(uint8_t fill, uint8_t h[32])
{
    memset(h, fill, 32);
}

static struct sr_worker_reg
reg(const char *pk, int64_t now)
{
    return (struct sr_worker_reg){
        .public_key = pk,
        .measurement = "1111111111111111111111111111111111111111111111111111111111111111",
        .attestation = "none",
        .version = "0.1.0",
        .now_ms = now,
    };
}

#define PK_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PK_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
test_register_binds_the_first_key(void **state)
{
    struct test_tmp *f = *state;
    uint8_t h[32];
    hash_of(0x11, h);
    sr_err e = {0};
    assert_int_equal(sr_store_worker_add(f->st, h, "w1", 1000, &e), SR_OK);
    struct sr_worker_row row;
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_OK);
    assert_string_equal(row.id, "1111111111111111");
    assert_string_equal(row.name, "w1");
    assert_int_equal(row.state, SR_WORKER_ACTIVE);
    assert_string_equal(row.public_key, "");
    assert_int_equal(row.registered_at_ms, 0);
    assert_int_equal(row.created_at_ms, 1000);

    struct sr_worker_reg r = reg(PK_A, 2000);
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_OK);
    assert_string_equal(row.public_key, PK_A);
    assert_string_equal(row.attestation, "none");
    assert_int_equal(row.registered_at_ms, 2000);
    assert_int_equal(row.seen_at_ms, 2000);

    /* the same key again (a restart): registered_at stays, the rest moves */
    r = reg(PK_A, 3000);
    r.version = "0.2.0";
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_OK);
    assert_int_equal(row.registered_at_ms, 2000);
    assert_int_equal(row.seen_at_ms, 3000);
    assert_string_equal(row.version, "0.2.0");

    /* another key with the same token: refused, nothing changes */
    r = reg(PK_B, 4000);
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "bound to another key"));
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_OK);
    assert_string_equal(row.public_key, PK_A);
    assert_int_equal(row.seen_at_ms, 3000);

    /* requests are recorded */
    assert_int_equal(sr_store_worker_seen(f->st, h, 5000, &e), SR_OK);
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_OK);
    assert_int_equal(row.seen_at_ms, 5000);
}

static void
test_unknown_tokens_and_bad_fields(void **state)
{
    struct test_tmp *f = *state;
    uint8_t h[32];
    hash_of(0x22, h);
    sr_err e = {0};
    struct sr_worker_row row;
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_ENOTFOUND);
    struct sr_worker_reg r = reg(PK_A, 1);
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_worker_seen(f->st, h, 1, &e), SR_ENOTFOUND);

    assert_int_equal(sr_store_worker_add(f->st, h, "", 1, &e), SR_EINVAL);
    assert_int_equal(sr_store_worker_add(f->st, h, "bad name", 1, &e), SR_EINVAL);
    assert_int_equal(sr_store_worker_add(f->st, h, "ok", 1, &e), SR_OK);
    assert_int_equal(sr_store_worker_add(f->st, h, "again", 1, &e), SR_ECONFLICT);

    r = reg("AAAA", 1);
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_EINVAL);
    r = reg(PK_A, 1);
    r.measurement = "xyz";
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_EINVAL);
    r = reg(PK_A, 1);
    r.attestation = "sgx";
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_EINVAL);
    r = reg(PK_A, 1);
    r.version = "";
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_EINVAL);
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_OK);
    assert_string_equal(row.public_key, "");
}

static void
test_drain_resume_and_revoke(void **state)
{
    struct test_tmp *f = *state;
    uint8_t h[32];
    hash_of(0x33, h);
    sr_err e = {0};
    struct sr_worker_row row;
    assert_int_equal(sr_store_worker_add(f->st, h, "w3", 10, &e), SR_OK);
    struct sr_worker_reg r = reg(PK_A, 20);
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_OK);

    assert_int_equal(sr_store_worker_set_state(f->st, "33333333", SR_WORKER_DRAINING, 30, &row, &e),
                     SR_OK);
    assert_int_equal(row.state, SR_WORKER_DRAINING);
    assert_int_equal(row.revoked_at_ms, 0);
    /* a draining worker still registers and is seen (it finishes its jobs) */
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_OK);
    assert_int_equal(row.state, SR_WORKER_DRAINING);
    assert_int_equal(
        sr_store_worker_set_state(f->st, "3333333333333333", SR_WORKER_ACTIVE, 40, &row, &e),
        SR_OK);
    assert_int_equal(row.state, SR_WORKER_ACTIVE);

    assert_int_equal(sr_store_worker_set_state(f->st, "33333333", SR_WORKER_REVOKED, 50, NULL, &e),
                     SR_OK);
    assert_int_equal(sr_store_worker_get(f->st, h, &row, &e), SR_OK);
    assert_int_equal(row.state, SR_WORKER_REVOKED);
    assert_int_equal(row.revoked_at_ms, 50);
    /* final: no registration, no request, no way back */
    assert_int_equal(sr_store_worker_register(f->st, h, &r, &row, &e), SR_EFORBIDDEN);
    assert_int_equal(sr_store_worker_seen(f->st, h, 60, &e), SR_ENOTFOUND);
    assert_int_equal(sr_store_worker_set_state(f->st, "33333333", SR_WORKER_ACTIVE, 70, NULL, &e),
                     SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "revoked already"));
}

static void
test_id_prefixes_and_listing(void **state)
{
    struct test_tmp *f = *state;
    uint8_t a[32], b[32];
    hash_of(0x44, a);
    hash_of(0x44, b);
    b[31] = 0x45; /* the same first 16 hex characters */
    sr_err e = {0};
    assert_int_equal(sr_store_worker_add(f->st, a, "first", 100, &e), SR_OK);
    assert_int_equal(sr_store_worker_add(f->st, b, "second", 200, &e), SR_OK);
    assert_int_equal(sr_store_worker_set_state(f->st, "4444", SR_WORKER_DRAINING, 1, NULL, &e),
                     SR_EINVAL);
    assert_int_equal(
        sr_store_worker_set_state(f->st, "44444444444444444", SR_WORKER_DRAINING, 1, NULL, &e),
        SR_EINVAL);
    assert_int_equal(sr_store_worker_set_state(f->st, "4444444G", SR_WORKER_DRAINING, 1, NULL, &e),
                     SR_EINVAL);
    assert_int_equal(sr_store_worker_set_state(f->st, "55555555", SR_WORKER_DRAINING, 1, NULL, &e),
                     SR_ENOTFOUND);
    assert_int_equal(sr_store_worker_set_state(f->st, "44444444", SR_WORKER_DRAINING, 1, NULL, &e),
                     SR_ECONFLICT);
    assert_non_null(strstr(e.msg, "ambiguous"));

    struct sr_worker_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(sr_store_worker_list(f->st, &rows, &n, &e), SR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].name, "first"); /* oldest first */
    assert_string_equal(rows[1].name, "second");
    assert_int_equal(rows[0].state, SR_WORKER_ACTIVE);
    free(rows);
    assert_string_equal(sr_worker_state_name(SR_WORKER_DRAINING), "draining");
    assert_null(sr_worker_state_name((enum sr_worker_state)9));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_binds_the_first_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_tokens_and_bad_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_resume_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_prefixes_and_listing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
