/* SPDX-License-Identifier: MIT
 *
 * core_scope_test.c - scope names, lists and their text (sr_scope.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_scope.h"

static void
test_every_bit_has_a_name(void **state)
{
    (void)state;
    for (uint32_t bit = 1; bit <= SR_SCOPE_ADMIN; bit <<= 1)
        assert_non_null(sr_scope_name(bit));
    assert_string_equal(sr_scope_name(SR_SCOPE_JOBS_READ), "jobs:read");
    assert_null(sr_scope_name(0));
    assert_null(sr_scope_name(SR_SCOPE_EXECUTE | SR_SCOPE_ADMIN));
    assert_null(sr_scope_name(1u << 8));
    assert_int_equal(SR_SCOPES_USER, SR_SCOPES_ALL & ~(uint32_t)SR_SCOPE_ADMIN);
}

static void
test_parses_lists_with_commas_or_spaces(void **state)
{
    (void)state;
    uint32_t set = 0;
    sr_err e = {0};
    assert_int_equal(sr_scopes_parse("execute, jobs:read storage:write", "x", &set, &e), SR_OK);
    assert_int_equal(set, SR_SCOPE_EXECUTE | SR_SCOPE_JOBS_READ | SR_SCOPE_STORAGE_WRITE);
    assert_int_equal(sr_scopes_parse("admin,admin", "x", &set, &e), SR_OK);
    assert_int_equal(set, SR_SCOPE_ADMIN);
}

static void
test_refuses_unknown_and_empty_lists(void **state)
{
    (void)state;
    uint32_t set = 7;
    sr_err e = {0};
    assert_int_equal(sr_scopes_parse("execute,jobs:write", "--scopes", &set, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "--scopes: unknown scope 'jobs:write'"));
    assert_non_null(strstr(e.msg, "modules:write"));
    assert_int_equal(sr_scopes_parse(" , ", "--scopes", &set, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "no scope given"));
    assert_int_equal(sr_scopes_parse(NULL, "--scopes", &set, &e), SR_EINVAL);
    assert_int_equal(set, 7);
}

static void
test_formats_in_bit_order(void **state)
{
    (void)state;
    char buf[SR_SCOPES_TEXT_MAX];
    assert_string_equal(sr_scopes_format(SR_SCOPE_ADMIN | SR_SCOPE_EXECUTE, buf, sizeof(buf)),
                        "execute admin");
    assert_string_equal(sr_scopes_format(0, buf, sizeof(buf)), "");
    sr_scopes_format(SR_SCOPES_ALL, buf, sizeof(buf));
    assert_string_equal(buf, "execute jobs:read secrets:write secrets:read storage:read "
                             "storage:write modules:write admin");
    char small[12];
    assert_string_equal(sr_scopes_format(SR_SCOPES_ALL, small, sizeof(small)), "execute");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bit_has_a_name),
        cmocka_unit_test(test_parses_lists_with_commas_or_spaces),
        cmocka_unit_test(test_refuses_unknown_and_empty_lists),
        cmocka_unit_test(test_formats_in_bit_order),
    };
    return cmocka_run_group_tests_name("core_scope", tests, NULL, NULL);
}
