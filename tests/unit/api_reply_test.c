/* SPDX-License-Identifier: MIT
 *
 * api_reply_test.c - every library status maps to an HTTP status with an
 * error code (the table in docs/errors.md). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_api.h"

static void
test_every_status_maps_to_http(void **state)
{
    (void)state;
    static const unsigned want[SR_STATUS_COUNT_] = {
        [SR_OK] = 200,      [SR_EINVAL] = 400,    [SR_ENOTFOUND] = 404, [SR_ECONFLICT] = 409,
        [SR_EDENIED] = 401, [SR_ELIMIT] = 413,    [SR_ETRAP] = 422,     [SR_EIO] = 503,
        [SR_ENOMEM] = 500,  [SR_EINTERNAL] = 500, [SR_EBUSY] = 429,     [SR_EFORBIDDEN] = 403,
        [SR_EBUDGET] = 429, [SR_EBALANCE] = 402,
    };
    for (int s = 0; s < SR_STATUS_COUNT_; s++) {
        unsigned h = sr_api_http_status((sr_status)s);
        assert_int_equal(h, want[s]);
        if (s != SR_OK && h != 500)
            assert_string_not_equal(sr_api_error_code(h), "internal_error");
    }
}

static void
test_codes_come_from_the_status(void **state)
{
    (void)state;
    static const char *const want[SR_STATUS_COUNT_] = {
        [SR_OK] = "ok",
        [SR_EINVAL] = "invalid_request",
        [SR_ENOTFOUND] = "not_found",
        [SR_ECONFLICT] = "conflict",
        [SR_EDENIED] = "unauthorized",
        [SR_ELIMIT] = "payload_too_large",
        [SR_ETRAP] = "guest_error",
        [SR_EIO] = "unavailable",
        [SR_ENOMEM] = "internal_error",
        [SR_EINTERNAL] = "internal_error",
        [SR_EBUSY] = "too_many_requests",
        [SR_EFORBIDDEN] = "forbidden",
        [SR_EBUDGET] = "BUDGET_EXHAUSTED",
        [SR_EBALANCE] = "INSUFFICIENT_BALANCE",
    };
    for (int s = 0; s < SR_STATUS_COUNT_; s++) {
        assert_string_equal(sr_api_status_code((sr_status)s), want[s]);
        json_t *b = sr_api_status_body((sr_status)s, "m");
        assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
                            want[s]);
        json_decref(b);
    }
    assert_string_equal(sr_api_status_code(SR_STATUS_COUNT_), "internal_error");
}

static void
test_error_body_shape(void **state)
{
    (void)state;
    json_t *b = sr_api_error_body(429, "slow down");
    json_t *e = json_object_get(b, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "too_many_requests");
    assert_string_equal(json_string_value(json_object_get(e, "message")), "slow down");
    json_decref(b);
    assert_string_equal(sr_api_error_code(405), "method_not_allowed");
    assert_string_equal(sr_api_error_code(401), "unauthorized");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_maps_to_http),
        cmocka_unit_test(test_codes_come_from_the_status),
        cmocka_unit_test(test_error_body_shape),
    };
    return cmocka_run_group_tests_name("api_reply", tests, NULL, NULL);
}
