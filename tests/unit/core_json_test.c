/* SPDX-License-Identifier: MIT
 *
 * core_json_test.c - RFC 8785 canonical JSON: numbers (against V8's
 * Number::toString, tests/data/json/es-numbers.txt), member order by UTF-16
 * code units, string escapes; strict parsing: every number must be one
 * RFC 8785 can hash exactly, no key twice in an object, bounded depth, and
 * the scan that checks it skips strings correctly; the writer
 * (sr_json_dumps) and legacy stored records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json_int.h"
#include "sealrun/sr_json.h"

static void
expect_canon(const char *in, const char *want)
{
    json_t *v = NULL;
    sr_err e = {0};
    if (sr_json_parse(in, strlen(in), 64, "test", &v, &e) != SR_OK)
        fail_msg("'%s' refused: %s", in, e.msg);
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
    expect_canon("[333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]",
                 "[333333333.3333333,1e+30,4.5,0.002,1e-27]");
    expect_canon("[9007199254740992, 295147905179352830000, 5e-324, 1.7976931348623157e308]",
                 "[9007199254740992,295147905179352830000,5e-324,1.7976931348623157e+308]");
    /* a real from a tree built by hand prints in its shortest form */
    json_t *v = json_pack("[f, f, f]", 333333333.33333329, -0.0, 5.0);
    sr_buf b;
    sr_buf_init(&b, 256);
    assert_int_equal(sr_json_canonical(v, &b, NULL), SR_OK);
    assert_string_equal(b.data, "[333333333.3333333,0,5]");
    sr_buf_fini(&b);
    json_decref(v);
}

/* Exponents k whose 2^k the canonical form used to print with a digit too
 * many (the decimal interval of a power of two is lopsided), with V8's
 * String(2 ** k). */
static const struct {
    int k;
    const char *es;
} pow2_cases[] = {
    {-1017, "7.120236347223045e-307"}, {-957, "8.209073602596753e-289"},
    {-24, "5.960464477539063e-8"},     {89, "6.189700196426902e+26"},
    {172, "5.986310706507379e+51"},    {976, "6.386688990511104e+293"},
};

static void
test_powers_of_two_print_as_v8_does(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pow2_cases) / sizeof(pow2_cases[0]); i++) {
        char t[SR_JSON__NUMBER_TEXT_MAX];
        (void)sr_json__number_text(ldexp(1.0, pow2_cases[i].k), t);
        if (strcmp(t, pow2_cases[i].es) != 0)
            fail_msg("2^%d: got %s, V8 writes %s", pow2_cases[i].k, t, pow2_cases[i].es);
    }
}

static FILE *
open_reference(void)
{
    const char *src = getenv("SR_SOURCE_DIR");
    char path[1024];
    (void)snprintf(path, sizeof(path), "%s/tests/data/json/es-numbers.txt", src ? src : ".");
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open '%s' (SR_SOURCE_DIR)", path);
    return f;
}

/* Every line of es-numbers.txt: each double prints as V8 prints it, and
 * each literal is accepted exactly when V8's reference says it is exact. */
static void
test_numbers_and_literals_agree_with_v8(void **state)
{
    (void)state;
    FILE *f = open_reference();
    char line[512];
    size_t doubles = 0, literals = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == 'n') {
            unsigned long long u = strtoull(line + 2, NULL, 16);
            double x;
            memcpy(&x, &u, sizeof(x));
            char t[SR_JSON__NUMBER_TEXT_MAX];
            (void)sr_json__number_text(x, t);
            if (strcmp(t, line + 19) != 0)
                fail_msg("double %.16s: got %s, V8 writes %s", line + 2, t, line + 19);
            doubles++;
        } else if (line[0] == 'l') {
            const char *lit = line + 4;
            json_t *v = NULL;
            sr_err e = {0};
            enum sr_json_fault why;
            sr_status rc = sr_json_parse_fault(lit, strlen(lit), 4, "t", &v, &why, &e);
            bool want = line[2] == '1';
            if ((rc == SR_OK) != want || (!want && why != SR_JSON_FAULT_NUMBER))
                fail_msg("literal %s: %s (reference: %s)", lit, rc == SR_OK ? "accepted" : e.msg,
                         want ? "exact" : "inexact");
            json_decref(v);
            literals++;
        }
    }
    fclose(f);
    assert_true(doubles > 3000);
    assert_true(literals > 2500);
}

static void
expect_refused(const char *text, const char *number, size_t at, const char *hashed_as)
{
    json_t *v = NULL;
    sr_err e = {0};
    enum sr_json_fault why = SR_JSON_FAULT_NONE;
    if (sr_json_parse_fault(text, strlen(text), 8, "input", &v, &why, &e) != SR_EINVAL)
        fail_msg("'%s' was accepted", text);
    assert_int_equal(why, SR_JSON_FAULT_NUMBER);
    char want[256];
    (void)snprintf(want, sizeof(want), "'%s' at byte %zu", number, at);
    if (!strstr(e.msg, want) || !strstr(e.msg, "send it as a string") ||
        !strstr(e.msg, "input has a number that RFC 8785 cannot hash"))
        fail_msg("message for '%s' lacks \"%s\": %s", text, want, e.msg);
    if (hashed_as) {
        (void)snprintf(want, sizeof(want), "would be hashed as %s ", hashed_as);
        if (!strstr(e.msg, want))
            fail_msg("message for '%s' lacks \"%s\": %s", text, want, e.msg);
    }
}

static void
test_refuses_numbers_rfc8785_cannot_hash_exactly(void **state)
{
    (void)state;
    expect_refused("1000000000000000001", "1000000000000000001", 0, "1000000000000000000");
    expect_refused("[1, {\"x\": 1000000000000000063}]", "1000000000000000063", 10,
                   "1000000000000000000");
    expect_refused("9007199254740993", "9007199254740993", 0, "9007199254740992");
    /* 2^60 in full: its double is written 1152921504606847000 */
    expect_refused("1152921504606846976", "1152921504606846976", 0, "1152921504606847000");
    expect_refused("0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827",
                   0, "0.1");
    expect_refused("0.10000000000000001", "0.10000000000000001", 0, "0.1");
    expect_refused("-1e-400", "-1e-400", 0, "0");
    expect_refused("4e-324", "4e-324", 0, "5e-324");
    expect_refused("1.7976931348623159e308", "1.7976931348623159e308", 0, NULL);
    expect_refused("[1e400]", "1e400", 1, NULL);
    expect_refused("{\"a\": \"x\", \"b\": 123456789012345678901234567890}",
                   "123456789012345678901234567890", 16, "1.2345678901234568e+29");
}

static void
test_accepts_numbers_rfc8785_hashes_exactly(void **state)
{
    (void)state;
    expect_canon("[0.1, 1e21, 1E+21, 9007199254740992, 9007199254740994, 1152921504606847000]",
                 "[0.1,1e+21,1e+21,9007199254740992,9007199254740994,1152921504606847000]");
    expect_canon("[1.152921504606847e18, 0.30000000000000004, 30e-1, 123.4560000, 1.0]",
                 "[1152921504606847000,0.30000000000000004,3,123.456,1]");
    expect_canon("[5e-324, 2.2250738585072014e-308, 1.7976931348623157e+308, 1e-7]",
                 "[5e-324,2.2250738585072014e-308,1.7976931348623157e+308,1e-7]");
    expect_canon("[0.00000000000000000000000000000000000000000000000000000001, 100e-2]",
                 "[1e-56,1]");
    /* -0 is the number 0: accepted, written and hashed as 0 */
    expect_canon("[-0, -0.0, -0e5, 0e-9]", "[0,0,0,0]");
    /* beyond int64 but exact as a double */
    expect_canon("[100000000000000000000, 295147905179352830000, -18446744073709552000]",
                 "[100000000000000000000,295147905179352830000,-18446744073709552000]");
}

static void
test_scan_skips_strings(void **state)
{
    (void)state;
    /* numbers inside strings, escaped quotes and backslashes included */
    expect_canon("[\"1000000000000000001\", \"\\\"1e400\", \"\\\\\", \"\\\\\\\"9007199254740993\"]",
                 "[\"1000000000000000001\",\"\\\"1e400\",\"\\\\\",\"\\\\\\\"9007199254740993\"]");
    expect_canon("{\"1e400\": \"[[[[[[[[[[[[\"}", "{\"1e400\":\"[[[[[[[[[[[[\"}");
    /* an escaped backslash ends the string: what follows is a number */
    expect_refused("[\"\\\\\", 1000000000000000001]", "1000000000000000001", 7, NULL);
    /* and a string is not a number's end: the digits of a key are skipped */
    expect_refused("{\"9007199254740993\": 9007199254740993}", "9007199254740993", 21, NULL);
}

static void
test_long_literals_are_refused_in_linear_time(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    char *t = malloc(n + 1);
    assert_non_null(t);
    /* four MiB of digits: more than any double holds */
    memset(t, '7', n);
    t[n] = '\0';
    json_t *v = NULL;
    sr_err e = {0};
    assert_int_equal(sr_json_parse(t, n, 8, "input", &v, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "'7777777777777777777777777777777777777777... (4194304 "
                                  "characters)' at byte 0 has more digits than an IEEE 754 "
                                  "double holds; send it as a string"));
    /* 0.000...0001 with four MiB of zeros: below the smallest double */
    memcpy(t, "0.", 2);
    memset(t + 2, '0', n - 3);
    t[n - 1] = '1';
    assert_int_equal(sr_json_parse(t, n, 8, "input", &v, &e), SR_EINVAL);
    /* ...and 1 followed by m of them, times 10^-m: exactly 1 */
    size_t m = n - 32;
    t[0] = '1';
    memset(t + 1, '0', m);
    (void)snprintf(t + 1 + m, n - m, "e-%zu", m);
    assert_int_equal(sr_json_parse(t, strlen(t), 8, "input", &v, &e), SR_OK);
    assert_true(json_number_value(v) == 1.0);
    json_decref(v);
    /* an exponent far outside int range saturates */
    const char *huge = "[1e99999999999999999999999, 1e-99999999999999999999999]";
    assert_int_equal(sr_json_parse(huge, strlen(huge), 8, "input", &v, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "'1e99999999999999999999999' at byte 1 is beyond"));
    free(t);
}

static void
expect_duplicate(const char *text, const char *key, long at)
{
    json_t *v = NULL;
    sr_err e = {0};
    enum sr_json_fault why = SR_JSON_FAULT_NONE;
    if (sr_json_parse_fault(text, strlen(text), 8, "job file", &v, &why, &e) != SR_EINVAL)
        fail_msg("'%s' was accepted", text);
    assert_int_equal(why, SR_JSON_FAULT_DUPLICATE);
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "job file has the key %s twice in one object (the second at byte %ld); a key "
                   "may appear only once",
                   key, at);
    assert_string_equal(e.msg, want);
}

static void
test_refuses_duplicate_keys(void **state)
{
    (void)state;
    /* a fake "output" before the real one: every reader must see one value */
    expect_duplicate("{\"output\": 1, \"status\": \"completed\", \"output\": 2}", "\"output\"", 37);
    expect_duplicate("{\"a\": 1, \"\\u0061\": 2}", "\"\\u0061\"", 9);
    expect_duplicate("[{}, {\"r\": {\"k\": [], \"k\": {}}}]", "\"k\"", 21);
    /* the same key in different objects is fine */
    expect_canon("{\"a\": {\"a\": 1}, \"b\": {\"a\": 2}}", "{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
}

static void
test_parse_reports_position(void **state)
{
    (void)state;
    json_t *v = NULL;
    sr_err e = {0};
    enum sr_json_fault why;
    assert_int_equal(sr_json_parse_fault("{\"a\": }", 7, 64, "request body", &v, &why, &e),
                     SR_EINVAL);
    assert_int_equal(why, SR_JSON_FAULT_SYNTAX);
    assert_non_null(strstr(e.msg, "request body is not valid JSON"));
    assert_non_null(strstr(e.msg, "line 1"));
}

static void
test_parse_enforces_depth(void **state)
{
    (void)state;
    json_t *v = NULL;
    sr_err e = {0};
    enum sr_json_fault why;
    const char *deep = "[[[[[1]]]]]";
    assert_int_equal(sr_json_parse_fault(deep, strlen(deep), 4, "input", &v, &why, &e), SR_EINVAL);
    assert_int_equal(why, SR_JSON_FAULT_DEPTH);
    assert_non_null(strstr(e.msg, "deeper than 4"));
    assert_int_equal(sr_json_parse(deep, strlen(deep), 5, "input", &v, &e), SR_OK);
    json_decref(v);
    /* brackets inside strings do not count */
    const char *flat = "[\"[[[[[[\", {\"{{{{\": 1}]";
    assert_int_equal(sr_json_parse(flat, strlen(flat), 2, "input", &v, &e), SR_OK);
    json_decref(v);
    /* counted before jansson builds anything: far past its own cap */
    size_t n = 1u << 20;
    char *t = malloc(n);
    assert_non_null(t);
    memset(t, '[', n);
    assert_int_equal(sr_json_parse(t, n, 64, "input", &v, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "input nests deeper than 64 levels"));
    free(t);
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

static sr_status
canon_of(json_t *v, sr_buf *b, sr_err *e)
{
    sr_buf_reset(b);
    sr_status rc = sr_json_canonical(v, b, e);
    json_decref(v);
    return rc;
}

static void
test_canonical_refuses_inexact_integers(void **state)
{
    (void)state;
    sr_buf b;
    sr_buf_init(&b, 256);
    sr_err e = {0};
    /* a tree built by hand is held to the parser's rule */
    assert_int_equal(canon_of(json_integer(9007199254740993LL), &b, &e), SR_EINVAL);
    assert_string_equal(e.msg, "integer 9007199254740993 cannot be hashed exactly: RFC 8785 "
                               "would write it as 9007199254740992 (the nearest IEEE 754 "
                               "double); send it as a string");
    assert_int_equal(canon_of(json_pack("[I]", (json_int_t)1152921504606846976LL), &b, &e),
                     SR_EINVAL);
    assert_int_equal(canon_of(json_integer(INT64_MAX), &b, &e), SR_EINVAL);
    assert_int_equal(canon_of(json_integer(INT64_MIN), &b, &e), SR_EINVAL);
    assert_int_equal(canon_of(json_integer(-9007199254740993LL), &b, &e), SR_EINVAL);
    assert_int_equal(canon_of(json_integer(1152921504606847000LL), &b, &e), SR_OK);
    assert_string_equal(b.data, "1152921504606847000");
    assert_int_equal(canon_of(json_integer(-9007199254740992LL), &b, &e), SR_OK);
    assert_string_equal(b.data, "-9007199254740992");
    assert_int_equal(canon_of(NULL, &b, &e), SR_EINVAL); /* jansson makes no NaN: json_real(NAN) */
    sr_buf_fini(&b);
}

static void
test_dumps_writes_numbers_that_parse_back(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:f, s:f, s:f, s:f, s:I, s:[f, f]}", "tenth", 0.1, "big", 1e21, "whole",
                          5.0, "negzero", -0.0, "int", (json_int_t)1152921504606847000LL, "a",
                          2.5e-7, 1.0 / 3.0);
    char *t = sr_json_dumps(v, JSON_COMPACT);
    assert_string_equal(t, "{\"tenth\":0.1,\"big\":1e+21,\"whole\":5,\"negzero\":0,"
                           "\"int\":1152921504606847000,\"a\":[2.5e-7,0.3333333333333333]}");
    /* jansson's own writer gives 0.10000000000000001: refused on the way back */
    json_t *back = NULL;
    sr_err e = {0};
    assert_int_equal(sr_json_parse(t, strlen(t), 8, "dump", &back, &e), SR_OK);
    assert_true(json_real_value(json_object_get(back, "tenth")) == 0.1);
    assert_true(json_number_value(json_object_get(back, "big")) == 1e21);
    assert_int_equal(json_integer_value(json_object_get(back, "int")), 1152921504606847000LL);
    assert_true(json_real_value(json_array_get(json_object_get(back, "a"), 1)) == 1.0 / 3.0);
    json_decref(back);
    char *theirs = json_dumps(v, JSON_COMPACT);
    assert_non_null(strstr(theirs, "0.10000000000000001"));
    assert_int_equal(sr_json_parse(theirs, strlen(theirs), 8, "dump", &back, &e), SR_EINVAL);
    free(theirs);
    free(t);
    json_decref(v);
}

static void
test_dumps_spacing_matches_jansson(void **state)
{
    (void)state;
    const char *in = "{\"a\": [1, \"x\\u0000y\", {}, [], {\"b\": null, \"c\": [true, false]}],"
                     " \"\\u00e9\\n\": \"\\u001f\"}";
    json_t *v = NULL;
    assert_int_equal(sr_json_parse(in, strlen(in), 8, "t", &v, NULL), SR_OK);
    const size_t flags[] = {0, JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(1) | JSON_COMPACT};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char *ours = sr_json_dumps(v, flags[i]);
        char *theirs = json_dumps(v, flags[i] | JSON_ENCODE_ANY);
        /* jansson writes \u001F in capitals, RFC 8785 in lower case */
        for (char *p = theirs; (p = strstr(p, "\\u001F")); p++)
            p[5] = 'f';
        assert_string_equal(ours, theirs);
        free(ours);
        free(theirs);
    }
    json_decref(v);
    json_t *s = json_string("scalar");
    char *t = sr_json_dumps(s, JSON_INDENT(2));
    assert_string_equal(t, "\"scalar\"");
    free(t);
    json_decref(s);
    json_t *bad = json_pack("[f]", INFINITY);
    assert_null(sr_json_dumps(bad, JSON_COMPACT));
    json_decref(bad);
}

static void
test_stored_records_keep_legacy_reals(void **state)
{
    (void)state;
    /* what jansson's writer gave reals before sr_json_dumps() */
    const char *old = "{\"output\": [0.10000000000000001, 1.0000000000000001e+300, 2.5],"
                      " \"gas_used\": 12}";
    json_t *v = NULL;
    sr_err e = {0};
    assert_int_equal(sr_json_parse(old, strlen(old), 8, "input", &v, &e), SR_EINVAL);
    assert_int_equal(sr_json_parse_stored(old, strlen(old), 8, "stored job", &v, &e), SR_OK);
    char *t = sr_json_dumps(v, JSON_COMPACT);
    assert_string_equal(t, "{\"output\":[0.1,1e+300,2.5],\"gas_used\":12}");
    free(t);
    json_decref(v);
    /* never an inexact integer, nor a literal that is not jansson's 17 digits */
    const char *forged[] = {"[1000000000000000001]", "[0.1000000000000000055511151231257827]",
                            "[9.5000000000000001]", "{\"a\": 1, \"a\": 2}"};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++)
        assert_int_equal(
            sr_json_parse_stored(forged[i], strlen(forged[i]), 8, "stored job", &v, &e), SR_EINVAL);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_follow_ecmascript),
        cmocka_unit_test(test_powers_of_two_print_as_v8_does),
        cmocka_unit_test(test_numbers_and_literals_agree_with_v8),
        cmocka_unit_test(test_refuses_numbers_rfc8785_cannot_hash_exactly),
        cmocka_unit_test(test_accepts_numbers_rfc8785_hashes_exactly),
        cmocka_unit_test(test_scan_skips_strings),
        cmocka_unit_test(test_long_literals_are_refused_in_linear_time),
        cmocka_unit_test(test_refuses_duplicate_keys),
        cmocka_unit_test(test_parse_reports_position),
        cmocka_unit_test(test_parse_enforces_depth),
        cmocka_unit_test(test_canonical_respects_buffer_cap),
        cmocka_unit_test(test_canonical_refuses_inexact_integers),
        cmocka_unit_test(test_dumps_writes_numbers_that_parse_back),
        cmocka_unit_test(test_dumps_spacing_matches_jansson),
        cmocka_unit_test(test_stored_records_keep_legacy_reals),
        cmocka_unit_test(test_members_sorted_by_utf16_units),
        cmocka_unit_test(test_strings_use_minimal_escapes),
        cmocka_unit_test(test_nested_and_literals),
    };
    return cmocka_run_group_tests_name("core_json", tests, NULL, NULL);
}
