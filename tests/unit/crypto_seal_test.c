/* SPDX-License-Identifier: MIT */
/* crypto_seal_test.c - sealed boxes: round trip, tampering, key parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_util.h"

static void
test_seal_open_round_trip(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    const char *msg = "{\"answer\":42}";
    char *box = NULL;
    sr_err err = {0};
    assert_int_equal(sr_box_seal(pk, msg, strlen(msg), &box, &err), SR_OK);
    /* standard padded base64 of 48 + 13 bytes = 84 characters */
    assert_int_equal(strlen(box), 84);
    uint8_t *plain = NULL;
    size_t n = 0;
    assert_int_equal(sr_box_open(pk, sk, box, &plain, &n, &err), SR_OK);
    assert_int_equal(n, strlen(msg));
    assert_string_equal((char *)plain, msg);
    free(plain);
    free(box);
}

static void
test_seal_of_empty_message(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    char *box = NULL;
    assert_int_equal(sr_box_seal(pk, "", 0, &box, NULL), SR_OK);
    uint8_t *plain = NULL;
    size_t n = 99;
    assert_int_equal(sr_box_open(pk, sk, box, &plain, &n, NULL), SR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(plain[0], 0);
    free(plain);
    free(box);
}

static void
test_tampered_box_fails_authentication(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    char *box = NULL;
    assert_int_equal(sr_box_seal(pk, "hello world", 11, &box, NULL), SR_OK);
    /* flip one bit of one ciphertext byte and re-encode */
    uint8_t *raw = NULL;
    size_t len = 0;
    assert_int_equal(sr_base64_decode(box, strlen(box), &raw, &len, NULL), SR_OK);
    raw[len - 3] ^= 0x01;
    char *bad = sr_base64_encode(raw, len);
    uint8_t *plain = NULL;
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_box_open(pk, sk, bad, &plain, &n, &err), SR_EDENIED);
    assert_string_equal(err.msg, "authentication failed");
    assert_null(plain);
    /* truncated below the seal overhead */
    char *shortb = sr_base64_encode(raw, 20);
    assert_int_equal(sr_box_open(pk, sk, shortb, &plain, &n, &err), SR_EDENIED);
    assert_string_equal(err.msg, "authentication failed");
    free(shortb);
    free(bad);
    free(raw);
    free(box);
}

static void
test_wrong_key_fails_authentication(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN], pk2[SR_BOX_PK_LEN], sk2[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    sr_box_keygen(pk2, sk2);
    char *box = NULL;
    assert_int_equal(sr_box_seal(pk, "x", 1, &box, NULL), SR_OK);
    uint8_t *plain = NULL;
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_box_open(pk2, sk2, box, &plain, &n, &err), SR_EDENIED);
    assert_string_equal(err.msg, "authentication failed");
    free(box);
}

static void
test_open_rejects_bad_base64(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    uint8_t *plain = NULL;
    size_t n = 0;
    sr_err err = {0};
    assert_int_equal(sr_box_open(pk, sk, "!!not base64!!", &plain, &n, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not valid base64"));
}

static void
test_pk_parse(void **state)
{
    (void)state;
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN], got[SR_BOX_PK_LEN];
    sr_box_keygen(pk, sk);
    char *b64 = sr_base64_encode(pk, sizeof(pk));
    sr_err err = {0};
    assert_int_equal(sr_box_pk_parse(b64, got, &err), SR_OK);
    assert_memory_equal(pk, got, sizeof(pk));
    free(b64);

    assert_int_equal(sr_box_pk_parse("", got, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(sr_box_pk_parse("AAECAwQFBgcICQoLDA0ODw==", got, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "must be 32 bytes (X25519), got 16 bytes"));
    assert_int_equal(sr_box_pk_parse("%%%%", got, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not valid base64"));
    char longtext[200];
    memset(longtext, 'A', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    assert_int_equal(sr_box_pk_parse(longtext, got, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "too long"));
}

static void
test_seal_to_zero_key_is_refused(void **state)
{
    (void)state;
    uint8_t zero[SR_BOX_PK_LEN] = {0};
    char *box = NULL;
    sr_err err = {0};
    assert_int_equal(sr_box_seal(zero, "x", 1, &box, &err), SR_EINVAL);
    assert_null(box);
    assert_non_null(strstr(err.msg, "not a usable X25519 key"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_seal_of_empty_message),
        cmocka_unit_test(test_tampered_box_fails_authentication),
        cmocka_unit_test(test_wrong_key_fails_authentication),
        cmocka_unit_test(test_open_rejects_bad_base64),
        cmocka_unit_test(test_pk_parse),
        cmocka_unit_test(test_seal_to_zero_key_is_refused),
    };
    if (sr_crypto_init(NULL) != SR_OK)
        return 1;
    return cmocka_run_group_tests_name("crypto_seal", tests, NULL, NULL);
}
