/* SPDX-License-Identifier: MIT */
/* crypto_token_test.c - token format, token hash, random ids. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_util.h"

static bool
is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void
test_token_has_prefix_and_43_base64url_chars(void **state)
{
    (void)state;
    char tok[SR_TOKEN_LEN + 1];
    memset(tok, 'X', sizeof(tok));
    sr_token_new(tok);
    assert_int_equal(strlen(tok), SR_TOKEN_LEN);
    assert_int_equal(strlen(tok), 47);
    assert_memory_equal(tok, "srt_", 4);
    for (size_t i = 4; i < SR_TOKEN_LEN; i++)
        assert_true(is_b64url(tok[i]));
}

static void
test_tokens_are_distinct(void **state)
{
    (void)state;
    char a[SR_TOKEN_LEN + 1], b[SR_TOKEN_LEN + 1];
    sr_token_new(a);
    sr_token_new(b);
    assert_string_not_equal(a, b);
}

static void
test_token_hash_is_sha256_of_text(void **state)
{
    (void)state;
    uint8_t h[32];
    char hex[65];
    sr_token_hash("srt_abc", h); /* hashlib.sha256(b"srt_abc") */
    sr_hex_encode(h, sizeof(h), hex);
    assert_string_equal(hex, "301a95451a7bfded76f44f37b30f04b1d56d59614e2e0abc22fe5675e6456f45");
}

static void
test_random_id_is_32_lower_hex(void **state)
{
    (void)state;
    char a[SR_ID_HEX_LEN + 1], b[SR_ID_HEX_LEN + 1];
    sr_random_id(a);
    sr_random_id(b);
    assert_int_equal(strlen(a), 32);
    for (size_t i = 0; i < 32; i++)
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
    assert_string_not_equal(a, b);
}

static void
test_random_bytes_fill(void **state)
{
    (void)state;
    uint8_t buf[64] = {0};
    uint8_t zero[64] = {0};
    sr_random_bytes(buf, sizeof(buf));
    assert_memory_not_equal(buf, zero, sizeof(buf));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_has_prefix_and_43_base64url_chars),
        cmocka_unit_test(test_tokens_are_distinct),
        cmocka_unit_test(test_token_hash_is_sha256_of_text),
        cmocka_unit_test(test_random_id_is_32_lower_hex),
        cmocka_unit_test(test_random_bytes_fill),
    };
    if (sr_crypto_init(NULL) != SR_OK)
        return 1;
    return cmocka_run_group_tests_name("crypto_token", tests, NULL, NULL);
}
