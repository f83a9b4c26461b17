/* SPDX-License-Identifier: MIT
 *
 * core_err_test.c - sr_err: setting (also with the error's own message as
 * an argument), wrapping, truncation and status names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_err.h"

static void
test_set_formats_the_message(void **state)
{
    (void)state;
    sr_err e = {0};
    assert_int_equal(
        sr_err_set(&e, SR_ELIMIT, "field '%s' must be 1..%d, got %d", "timeout", 120, 0),
        SR_ELIMIT);
    assert_int_equal(e.status, SR_ELIMIT);
    assert_string_equal(e.msg, "field 'timeout' must be 1..120, got 0");
    assert_int_equal(sr_err_set(NULL, SR_EIO, "no error object"), SR_EIO);
}

/* A message formatted from itself used to be written over while it was
 * read: "invalid module: invalid module: ..." or worse. */
static void
test_set_may_take_its_own_message(void **state)
{
    (void)state;
    sr_err e = {0};
    (void)sr_err_set(&e, SR_EINVAL, "section 'code' at offset 0x1c4: unexpected end of data");
    assert_int_equal(sr_err_set(&e, SR_EINVAL, "invalid module: %s", e.msg), SR_EINVAL);
    assert_string_equal(e.msg,
                        "invalid module: section 'code' at offset 0x1c4: unexpected end of data");
    /* the message after the argument, and one that fills the buffer */
    (void)sr_err_set(&e, SR_EIO, "disk full");
    (void)sr_err_set(&e, SR_EIO, "%s while writing '%s'", e.msg, "/var/lib/sealrun/sealrun.db");
    assert_string_equal(e.msg, "disk full while writing '/var/lib/sealrun/sealrun.db'");
    char big[SR_ERR_MSG_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    (void)sr_err_set(&e, SR_EINVAL, "%s", big);
    (void)sr_err_set(&e, SR_EINVAL, "ab: %s", e.msg);
    assert_int_equal(strlen(e.msg), SR_ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "ab: xxxx", 8);
}

static void
test_wrap_prefixes_context(void **state)
{
    (void)state;
    sr_err e = {0};
    (void)sr_err_set(&e, SR_ENOTFOUND, "job 'a1' not found");
    assert_int_equal(sr_err_wrap(&e, "loading job '%s'", "a1"), SR_ENOTFOUND);
    assert_string_equal(e.msg, "loading job 'a1': job 'a1' not found");
    /* context built from the message itself is safe too (a local copy) */
    (void)sr_err_set(&e, SR_EINVAL, "bad");
    (void)sr_err_wrap(&e, "[%s]", e.msg);
    assert_string_equal(e.msg, "[bad]: bad");
    assert_int_equal(sr_err_wrap(NULL, "x"), SR_EINTERNAL);
}

static void
test_clear_and_names(void **state)
{
    (void)state;
    sr_err e = {0};
    (void)sr_err_set(&e, SR_EDENIED, "no");
    sr_err_clear(&e);
    assert_int_equal(e.status, SR_OK);
    assert_string_equal(e.msg, "");
    sr_err_clear(NULL);
    for (int st = 0; st < SR_STATUS_COUNT_; st++)
        assert_string_not_equal(sr_status_name((sr_status)st), "");
    assert_string_equal(sr_status_name(SR_EINVAL), "invalid_argument");
    assert_string_equal(sr_status_name((sr_status)999), "internal_error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_formats_the_message),
        cmocka_unit_test(test_set_may_take_its_own_message),
        cmocka_unit_test(test_wrap_prefixes_context),
        cmocka_unit_test(test_clear_and_names),
    };
    return cmocka_run_group_tests_name("core_err", tests, NULL, NULL);
}
