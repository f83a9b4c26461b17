/* SPDX-License-Identifier: MIT
 *
 * core_codes_test.c - every job error code has a name, the names round
 * trip, and docs/errors.md has a row for each (the copy for readers must not
 * drift from the enum).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sealrun/sr_codes.h"

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    return buf;
}

static void
test_every_code_is_documented(void **state)
{
    (void)state;
    const char *src = getenv("SR_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/docs/errors.md", src);
    const char *doc = read_file(path);
    assert_non_null(doc);
    for (unsigned c = 1; c < SR_JOB_CODE_COUNT_; c++) {
        const char *n = sr_job_code_name((enum sr_job_code)c);
        char row[96];
        (void)snprintf(row, sizeof(row), "| `%s` |", n);
        if (!strstr(doc, row))
            fail_msg("docs/errors.md has no row '%s'", row);
    }
}

static void
test_names_round_trip(void **state)
{
    (void)state;
    for (unsigned c = 1; c < SR_JOB_CODE_COUNT_; c++) {
        const char *n = sr_job_code_name((enum sr_job_code)c);
        assert_non_null(n);
        enum sr_job_code back = SR_JOB_OK;
        assert_true(sr_job_code_from_name(n, strlen(n), &back));
        assert_int_equal(back, c);
        for (unsigned d = 1; d < c; d++)
            assert_string_not_equal(n, sr_job_code_name((enum sr_job_code)d));
    }
    assert_null(sr_job_code_name(SR_JOB_OK));
    enum sr_job_code x = SR_JOB_OK;
    assert_false(sr_job_code_from_name("TIMEOUT", 6, &x));
    assert_false(sr_job_code_from_name(NULL, 0, &x));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_is_documented),
        cmocka_unit_test(test_names_round_trip),
    };
    return cmocka_run_group_tests_name("core_codes", tests, NULL, NULL);
}
