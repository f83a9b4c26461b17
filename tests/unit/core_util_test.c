/* SPDX-License-Identifier: MIT */
/* core_util_test.c - errors, capped buffers, parsing, hex, base64, time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_util.h"

static void
test_err_wrap_prefixes_context(void **state)
{
    (void)state;
    sr_err e = {0};
    assert_int_equal(sr_err_set(&e, SR_EIO, "disk full"), SR_EIO);
    assert_int_equal(sr_err_wrap(&e, "storing job '%s'", "a1"), SR_EIO);
    assert_string_equal(e.msg, "storing job 'a1': disk full");
    assert_int_equal(sr_err_set(NULL, SR_EINVAL, "x"), SR_EINVAL);
}

static void
test_every_status_has_a_name(void **state)
{
    (void)state;
    for (int s = 0; s < SR_STATUS_COUNT_; s++) {
        const char *n = sr_status_name((sr_status)s);
        assert_non_null(n);
        if (s != SR_EINTERNAL)
            assert_string_not_equal(n, "internal_error");
    }
}

static void
test_buf_refuses_past_its_cap(void **state)
{
    (void)state;
    sr_buf b;
    sr_buf_init(&b, 10);
    sr_err e = {0};
    assert_int_equal(sr_buf_append_str(&b, "0123456789", &e), SR_OK);
    assert_int_equal(sr_buf_append(&b, "x", 1, &e), SR_ELIMIT);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    sr_buf_reset(&b);
    assert_int_equal(sr_buf_printf(&b, &e, "%d-%s", 42, "ok"), SR_OK);
    assert_string_equal(b.data, "42-ok");
    char *s = sr_buf_steal(&b);
    assert_string_equal(s, "42-ok");
    free(s);
    assert_null(b.data);
}

static void
test_parse_durations(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(sr_parse_duration_ms("24h", &ms, NULL), SR_OK);
    assert_int_equal(ms, 86400000);
    assert_int_equal(sr_parse_duration_ms("90m", &ms, NULL), SR_OK);
    assert_int_equal(ms, 5400000);
    assert_int_equal(sr_parse_duration_ms("45s", &ms, NULL), SR_OK);
    assert_int_equal(ms, 45000);
    assert_int_equal(sr_parse_duration_ms("7", &ms, NULL), SR_OK);
    assert_int_equal(ms, 7000);
    sr_err e = {0};
    assert_int_equal(sr_parse_duration_ms("5 weeks", &ms, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "'5 weeks'"));
    assert_int_equal(sr_parse_duration_ms("-1s", &ms, &e), SR_EINVAL);
}

static void
test_parse_i64_ranges(void **state)
{
    (void)state;
    int64_t v = 0;
    sr_err e = {0};
    assert_int_equal(sr_parse_i64("17", 1, 100, "limit", &v, &e), SR_OK);
    assert_int_equal(v, 17);
    assert_int_equal(sr_parse_i64("0", 1, 100, "limit", &v, &e), SR_EINVAL);
    assert_string_equal(e.msg, "limit must be 1..100, got 0");
    assert_int_equal(sr_parse_i64("12x", 1, 100, "limit", &v, &e), SR_EINVAL);
    assert_int_equal(sr_parse_i64("", 1, 100, "limit", &v, &e), SR_EINVAL);
}

static void
test_hex_and_base64_roundtrip(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0xff, 0x10, 0xab};
    char hex[9];
    sr_hex_encode(in, 4, hex);
    assert_string_equal(hex, "00ff10ab");
    uint8_t out[4];
    assert_int_equal(sr_hex_decode("00FF10ab", 8, out, 4, NULL), SR_OK);
    assert_memory_equal(in, out, 4);
    assert_int_equal(sr_hex_decode("00zz10ab", 8, out, 4, NULL), SR_EINVAL);
    char *b64 = sr_base64_encode((const uint8_t *)"hello", 5);
    assert_string_equal(b64, "aGVsbG8=");
    uint8_t *dec = NULL;
    size_t n = 0;
    assert_int_equal(sr_base64_decode(b64, strlen(b64), &dec, &n, NULL), SR_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(dec, "hello", 5);
    free(dec);
    assert_int_equal(sr_base64_decode("aGVsbG8", 7, &dec, &n, NULL), SR_OK);
    free(dec);
    sr_err e = {0};
    assert_int_equal(sr_base64_decode("a$Vs", 4, &dec, &n, &e), SR_EINVAL);
    free(b64);
}

static void
test_time_formats(void **state)
{
    (void)state;
    char ts[32];
    sr_time_rfc3339(1700000000123, ts);
    assert_string_equal(ts, "2023-11-14T22:13:20.123Z");
    sr_duration_str(850, ts);
    assert_string_equal(ts, "850us");
    sr_duration_str(12345, ts);
    assert_string_equal(ts, "12.3ms");
    sr_duration_str(1204000, ts);
    assert_string_equal(ts, "1.204s");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_wrap_prefixes_context),
        cmocka_unit_test(test_every_status_has_a_name),
        cmocka_unit_test(test_buf_refuses_past_its_cap),
        cmocka_unit_test(test_parse_durations),
        cmocka_unit_test(test_parse_i64_ranges),
        cmocka_unit_test(test_hex_and_base64_roundtrip),
        cmocka_unit_test(test_time_formats),
    };
    return cmocka_run_group_tests_name("core_util", tests, NULL, NULL);
}
