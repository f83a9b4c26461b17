/* core_json_test.c - RFC 8785 canonical JSON: numbers, member order by UTF-16
 * code units, string escapes; and bounded parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_json.h"

static void
expect_canon(const char *in, const char *want)
{
    json_t *v = NULL;
    sr_err e = {0};
    assert_int_equal(sr_json_parse(in, strlen(in), 64, "test", &v, &e), SR_OK);
    sr_buf b;
    sr_buf_init(&b, 1 << 20);
    assert_int_equal(sr_json_canonical(v, &b, &e), SR_OK);
    assert_string_equal(b.data, want);
    sr_buf_fini(&b);
    json_decref(v);
}

static void
test_numbers_follow_ecmascript(void **state)
{
    (void)state;
    /* RFC 8785 appendix B samples and the ES Number::toString cases */
    expect_canon("[0, -0, 1, -1, 1.5, 100, 1e21, 1e20, 0.000001, 1e-7]",
                 "[0,0,1,-1,1.5,100,1e+21,100000000000000000000,0.000001,1e-7]");
    expect_canon("[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]",
                 "[333333333.3333333,1e+30,4.5,0.002,1e-27]");
    expect_canon("[9007199254740992, 295147905179352830000, 5e-324, 1.7976931348623157e308]",
                 "[9007199254740992,295147905179352830000,5e-324,1.7976931348623157e+308]");
}

static void
test_members_sorted_by_utf16_units(void **state)
{
    (void)state;
    /* U+1F600 (surrogates D83D DE00) sorts before U+E000 in UTF-16 order,
     * although its UTF-8 bytes sort after. */
    expect_canon("{\"\\ue000\":1,\"\\ud83d\\ude00\":2,\"b\":3,\"a\":4,\"\\u0080\":5}",
                 "{\"a\":4,\"b\":3,\"\xc2\x80\":5,\"\xf0\x9f\x98\x80\":2,\"\xee\x80\x80\":1}");
}

static void
test_strings_use_minimal_escapes(void **state)
{
    (void)state;
    expect_canon("[\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/\\u20ac\"]",
                 "[\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/\xe2\x82\xac\"]");
}

static void
test_nested_and_literals(void **state)
{
    (void)state;
    expect_canon(" { \"z\" : [ true , false , null ] , \"a\" : { } } ",
                 "{\"a\":{},\"z\":[true,false,null]}");
}

static void
test_parse_reports_position(void **state)
{
    (void)state;
    json_t *v = NULL;
    sr_err e = {0};
    assert_int_equal(sr_json_parse("{\"a\": }", 7, 64, "request body", &v, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "request body is not valid JSON"));
    assert_non_null(strstr(e.msg, "line 1"));
}

static void
test_parse_enforces_depth(void **state)
{
    (void)state;
    json_t *v = NULL;
    sr_err e = {0};
    const char *deep = "[[[[[1]]]]]";
    assert_int_equal(sr_json_parse(deep, strlen(deep), 4, "input", &v, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "deeper than 4"));
    assert_int_equal(sr_json_parse(deep, strlen(deep), 5, "input", &v, &e), SR_OK);
    json_decref(v);
}

static void
test_canonical_respects_buffer_cap(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:s}", "k", "0123456789");
    sr_buf b;
    sr_buf_init(&b, 8);
    sr_err e = {0};
    assert_int_equal(sr_json_canonical(v, &b, &e), SR_ELIMIT);
    sr_buf_fini(&b);
    json_decref(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_follow_ecmascript),
        cmocka_unit_test(test_members_sorted_by_utf16_units),
        cmocka_unit_test(test_strings_use_minimal_escapes),
        cmocka_unit_test(test_nested_and_literals),
        cmocka_unit_test(test_parse_reports_position),
        cmocka_unit_test(test_parse_enforces_depth),
        cmocka_unit_test(test_canonical_respects_buffer_cap),
    };
    return cmocka_run_group_tests_name("core_json", tests, NULL, NULL);
}
