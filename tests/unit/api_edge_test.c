/* SPDX-License-Identifier: MIT
 *
 * api_edge_test.c - the request checks of the HTTP edge (src/api/edge.c):
 * targets, the request line, header fields and framing, and the header
 * block as libmicrohttpd 0.9.75 leaves it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "server_int.h"

static sr_status
parse(const char *raw, struct sr_api_target *t, sr_err *e)
{
    return sr_api__target_parse(raw, strlen(raw), t, e);
}

static void
test_decodes_path_and_query(void **state)
{
    (void)state;
    struct sr_api_target t;
    sr_err e = {0};
    assert_int_equal(parse("/storage/ns/a%2Fb%20c%C3%A9?prefix=x+y%2B&limit=5&flag", &t, &e),
                     SR_OK);
    assert_string_equal(t.path, "/storage/ns/a/b c\xc3\xa9");
    assert_int_equal(t.nquery, 3);
    assert_string_equal(sr_api__target_query(&t, "prefix"), "x y+");
    assert_string_equal(sr_api__target_query(&t, "limit"), "5");
    assert_string_equal(sr_api__target_query(&t, "flag"), "");
    assert_null(sr_api__target_query(&t, "after"));
    sr_api__target_fini(&t);
    /* '+' stays itself in the path; empty segments are skipped. */
    assert_int_equal(parse("/a+b?&&limit=1&", &t, &e), SR_OK);
    assert_string_equal(t.path, "/a+b");
    assert_int_equal(t.nquery, 1);
    sr_api__target_fini(&t);
}

static void
test_refuses_nul_and_bad_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *msg;
    } bad[] = {
        {"/jobs%00x", "'%00' (a NUL byte)"},
        {"/jobs?limit=1%00", "'%00' (a NUL byte)"},
        {"/jobs?l%00=1", "'%00' (a NUL byte)"},
        {"/jobs%zz", "malformed percent-escape at offset 5"},
        {"/jobs%4", "malformed percent-escape"},
        {"/jobs%", "malformed percent-escape"},
        {"/j%C0%80", "not valid UTF-8"},       /* overlong NUL */
        {"/j%ED%A0%80", "not valid UTF-8"},    /* a surrogate */
        {"/j%F4%90%80%80", "not valid UTF-8"}, /* past U+10FFFF */
        {"/j%C3", "not valid UTF-8"},          /* cut short */
        {"/jobs?a=%FF", "not valid UTF-8"},
        {"/jobs\x01", "byte 0x01 at offset 5"},
        {"/jobs/\xc3\xa9", "byte 0xc3 at offset 6"},
        {"/jobs x", "byte 0x20"},
        {"/jobs#x", "byte 0x23"},
        {"/a\"b", "byte 0x22"},
        {"/a\\b", "byte 0x5c"},
        {"*", "origin form"},
        {"jobs", "origin form"},
        {"", "origin form"},
        {"/jobs?limit=1&limit=2", "'limit' is given more than once"},
        {"/jobs?a=1&%61=2", "'a' is given more than once"},
        {"/jobs?=1", "empty name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sr_api_target t;
        sr_err e = {0};
        assert_int_equal(parse(bad[i].raw, &t, &e), SR_EINVAL);
        if (!strstr(e.msg, bad[i].msg))
            fail_msg("'%s': got '%s', want '%s'", bad[i].raw, e.msg, bad[i].msg);
        assert_null(t.buf);
    }
}

static void
test_caps_target_and_parameters(void **state)
{
    (void)state;
    char big[SR_HTTP_MAX_TARGET + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[0] = '/';
    big[sizeof(big) - 1] = '\0';
    struct sr_api_target t;
    sr_err e = {0};
    assert_int_equal(parse(big, &t, &e), SR_ELIMIT);
    big[SR_HTTP_MAX_TARGET] = '\0';
    assert_int_equal(parse(big, &t, &e), SR_OK);
    sr_api__target_fini(&t);
    char q[600] = "/x?";
    for (int i = 0; i <= SR_HTTP_MAX_QUERY_PARAMS; i++) {
        char p[16];
        (void)snprintf(p, sizeof(p), "p%d=&", i);
        strncat(q, p, sizeof(q) - strlen(q) - 1);
    }
    assert_int_equal(parse(q, &t, &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "more than 32 parameters"));
    /* The worst case for the decoded buffer: names without values. */
    assert_int_equal(parse("/?a&b&c&d&e&f&g&h", &t, &e), SR_OK);
    assert_int_equal(t.nquery, 8);
    assert_string_equal(sr_api__target_query(&t, "h"), "");
    sr_api__target_fini(&t);
}

/* A request line laid out as libmicrohttpd 0.9.75 leaves it: the spaces
 * and the line end turned into NULs, in one buffer. */
static void
test_request_line(void **state)
{
    (void)state;
    sr_err e = {0};
    char line[] = "GET\0/x?a=1\0HTTP/1.1\0\0";
    const char *target = line + 4;
    size_t tlen = strlen(target);
    assert_int_equal(sr_api__request_line_check(line, target, tlen, target + tlen + 1, &e), 0);
    /* A NUL inside the target: the version is further than the C string. */
    char nul[] = "GET\0/x\0y\0HTTP/1.1\0\0";
    assert_int_equal(sr_api__request_line_check(nul, nul + 4, 2, nul + 9, &e), 400);
    assert_non_null(strstr(e.msg, "single spaces"));
    /* Two spaces after the method: libmicrohttpd skips the second. */
    char two[] = "GET\0 /x\0HTTP/1.1\0\0";
    assert_int_equal(sr_api__request_line_check(two, two + 5, 2, two + 8, &e), 400);
    char lower[] = "G(T\0/x\0HTTP/1.1\0\0";
    assert_int_equal(sr_api__request_line_check(lower, lower + 4, 2, lower + 7, &e), 400);
    char v12[] = "GET\0/x\0HTTP/1.2\0\0";
    assert_int_equal(sr_api__request_line_check(v12, v12 + 4, 2, v12 + 7, &e), 505);
    assert_non_null(strstr(e.msg, "'HTTP/1.2' is not supported"));
    char v10[] = "GET\0/x\0HTTP/1.0\0\0";
    assert_int_equal(sr_api__request_line_check(v10, v10 + 4, 2, v10 + 7, &e), 0);
}

#define F(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static unsigned
check(const struct sr_api_field *f, size_t n, bool http10, struct sr_api_framing *fr, sr_err *e)
{
    return sr_api__fields_check(f, n, http10, fr, e);
}

static void
test_fields_and_framing(void **state)
{
    (void)state;
    struct sr_api_framing fr;
    sr_err e = {0};
    const struct sr_api_field ok[] = {F("Host", "t"), F("authorization", "Bearer x"),
                                      F("Content-Length", "18446744073709551"),
                                      F("Content-Type", "a/b"), F("X-Tab", "a\tb\x80")};
    assert_int_equal(check(ok, 5, false, &fr, &e), 0);
    assert_string_equal(fr.authorization, "Bearer x");
    assert_string_equal(fr.content_type, "a/b");
    assert_true(fr.has_length);
    assert_true(fr.content_length == 18446744073709551ull);
    assert_false(fr.chunked);
    const struct sr_api_field ch[] = {F("Host", "t"), F("Transfer-Encoding", "Chunked")};
    assert_int_equal(check(ch, 2, false, &fr, &e), 0);
    assert_true(fr.chunked);
    static const struct {
        struct sr_api_field f[2];
        bool http10;
        unsigned st;
        const char *msg;
    } bad[] = {
        {{F("Host", "t"), F("host", "u")}, false, 400, "'Host' is given more than once"},
        {{F("Host", "t"), F("X", "a\x01")}, false, 400, "control byte 0x01"},
        {{F("Host", "t"), F("X", "a\r")}, false, 400, "control byte 0x0d"},
        {{F("Host", "t"), F("X", "\x7f")}, false, 400, "control byte 0x7f"},
        {{F("Host", "t"), F("X Y", "1")}, false, 400, "'X Y' is not a token"},
        {{F("Host", "t"), F("", "1")}, false, 400, "is not a token"},
        {{F("Host", "t"), F("Content-Length", "1a")}, false, 400, "decimal number"},
        {{F("Host", "t"), F("Content-Length", "")}, false, 400, "decimal number"},
        {{F("Host", "t"), F("Content-Length", "12345678901234567890")}, false, 400, "decimal"},
        {{F("Host", "t"), F("Transfer-Encoding", "gzip")}, false, 400, "'gzip' is not supported"},
        {{F("Host", "t"), F("Transfer-Encoding", "chunked ")}, false, 400, "not supported"},
        {{F("Content-Length", "1"), F("Transfer-Encoding", "chunked")}, true, 400, "HTTP/1.0"},
        {{F("Content-Length", "1"), F("Transfer-Encoding", "chunked")}, false, 400, "Host"},
        {{F("X", "1"), F("Y", "2")}, false, 400, "must have a Host"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned st = check(bad[i].f, 2, bad[i].http10, &fr, &e);
        if (st != bad[i].st || !strstr(e.msg, bad[i].msg))
            fail_msg("case %zu: got %u '%s', want %u '%s'", i, st, e.msg, bad[i].st, bad[i].msg);
    }
    const struct sr_api_field both[] = {F("Host", "t"), F("Content-Length", "1"),
                                        F("Transfer-Encoding", "chunked")};
    assert_int_equal(check(both, 3, false, &fr, &e), 400);
    assert_non_null(strstr(e.msg, "both Content-Length and Transfer-Encoding"));
    const struct sr_api_field h10[] = {F("X", "1")};
    assert_int_equal(check(h10, 1, true, &fr, &e), 0);
}

static void
test_field_caps(void **state)
{
    (void)state;
    static struct sr_api_field f[SR_HTTP_MAX_FIELDS + 1];
    static char big[SR_HTTP_MAX_FIELD_LINE];
    memset(big, 'v', sizeof(big));
    for (size_t i = 0; i <= SR_HTTP_MAX_FIELDS; i++)
        f[i] = (struct sr_api_field){"X-A", 3, "1", 1};
    f[0] = (struct sr_api_field){"Host", 4, "t", 1};
    struct sr_api_framing fr;
    sr_err e = {0};
    assert_int_equal(sr_api__fields_check(f, SR_HTTP_MAX_FIELDS, false, &fr, &e), 0);
    assert_int_equal(sr_api__fields_check(f, SR_HTTP_MAX_FIELDS + 1, false, &fr, &e), 431);
    f[1] = (struct sr_api_field){"X-Big", 5, big, SR_HTTP_MAX_FIELD_LINE - 7};
    assert_int_equal(sr_api__fields_check(f, 2, false, &fr, &e), 0);
    f[1].value_len++;
    assert_int_equal(sr_api__fields_check(f, 2, false, &fr, &e), 431);
    assert_non_null(strstr(e.msg, "'X-Big' is longer than 8192 bytes"));
    for (size_t i = 1; i < 6; i++)
        f[i] = (struct sr_api_field){"X-Big", 5, big, 7000};
    assert_int_equal(sr_api__fields_check(f, 6, false, &fr, &e), 431);
    assert_non_null(strstr(e.msg, "at most 32768"));
}

/* A header block as libmicrohttpd 0.9.75 leaves it. 'text' is what the
 * client sent after the request line's version (with its line end);
 * the fields are found the way libmicrohttpd does: the name up to ':', the
 * value from the first byte after ':' and spaces, each a C string. */
struct block {
    char buf[256];
    struct sr_api_field f[8];
    size_t n;
    const char *end;
};

static void
make_block(struct block *b, const char *text, size_t len)
{
    memset(b, 0, sizeof(*b));
    memcpy(b->buf, text, len);
    char *end = b->buf + len;
    b->end = end;
    char *line = b->buf;
    bool first = true; /* the end of the request line comes first */
    while (line < end) {
        char *lf = memchr(line, '\n', (size_t)(end - line));
        assert_non_null(lf);
        char *le = lf > line && lf[-1] == '\r' ? lf - 1 : lf;
        for (char *q = le; q <= lf; q++) /* the line end becomes NULs */
            *q = '\0';
        if (!first && le > line) {
            char *colon = strchr(line, ':'); /* C strings, as libmicrohttpd */
            assert_non_null(colon);
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            b->f[b->n++] = (struct sr_api_field){line, strlen(line), v, strlen(v)};
        } else if (!first) {
            break; /* the empty line */
        }
        first = false;
        line = lf + 1;
    }
}

static bool
block_ok(const char *text, size_t len)
{
    struct block b;
    make_block(&b, text, len);
    return sr_api__block_check(b.buf, b.end, b.f, b.n);
}

#define BLOCK_OK(s) block_ok(s, sizeof(s) - 1)

static void
test_header_block_finds_hidden_nuls(void **state)
{
    (void)state;
    assert_true(BLOCK_OK("\r\nHost: t\r\nAuthorization: Bearer x\r\n\r\n"));
    assert_true(BLOCK_OK("\nHost: t\nA:b\n\n"));
    assert_true(BLOCK_OK("\r\nHost: t\nA:\t b\r\n\n"));
    assert_true(BLOCK_OK("\r\nEmpty:\r\nHost: t\r\n\r\n"));
    assert_true(BLOCK_OK("\r\n\r\n"));
    /* A NUL and junk after a value, in the middle and at the end. */
    assert_false(BLOCK_OK("\r\nAuthorization: Bearer x\0junk\r\nHost: t\r\n\r\n"));
    assert_false(BLOCK_OK("\r\nHost: t\r\nAuthorization: Bearer x\0junk\r\n\r\n"));
    assert_false(BLOCK_OK("\r\nHost: t\r\nAuthorization: Bearer x\0junk\n\n"));
    /* NULs alone after a value: more than a line end can hold. */
    assert_false(BLOCK_OK("\r\nHost: t\r\nA: x\0\0\r\n\r\n"));
    assert_false(BLOCK_OK("\r\nA: x\0\0\r\nHost: t\r\n\r\n"));
    /* A NUL as the first byte of a value. */
    assert_false(BLOCK_OK("\r\nHost: t\r\nA: \0x\r\n\r\n"));
}

static void
test_header_block_refuses_folding(void **state)
{
    (void)state;
    /* "Host: t", then "X: a" folded onto " b": libmicrohttpd joins the two
     * lines into a new string elsewhere in its pool, so the field list no
     * longer matches the bytes. */
    char buf[] = "\0\0Host\0 t\0\0X\0 a\0\0 b\0\0\0\0"
                 "a b"; /* the joined value, past the block (same pool) */
    const char *end = buf + sizeof(buf) - 4;
    const struct sr_api_field f[] = {{buf + 2, 4, buf + 8, 1}, {buf + 11, 1, end, 3}};
    assert_false(sr_api__block_check(buf, end, f, 2));
    /* The same bytes without the continuation line pass. */
    char plain[] = "\0\0Host\0 t\0\0X\0 a\0\0\0\0";
    const struct sr_api_field g[] = {{plain + 2, 4, plain + 8, 1}, {plain + 11, 1, plain + 14, 1}};
    assert_true(sr_api__block_check(plain, plain + sizeof(plain) - 1, g, 2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_path_and_query),
        cmocka_unit_test(test_refuses_nul_and_bad_escapes),
        cmocka_unit_test(test_caps_target_and_parameters),
        cmocka_unit_test(test_request_line),
        cmocka_unit_test(test_fields_and_framing),
        cmocka_unit_test(test_field_caps),
        cmocka_unit_test(test_header_block_finds_hidden_nuls),
        cmocka_unit_test(test_header_block_refuses_folding),
    };
    return cmocka_run_group_tests_name("api_edge", tests, NULL, NULL);
}
