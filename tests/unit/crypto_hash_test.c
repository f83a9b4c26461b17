/* SPDX-License-Identifier: MIT
 *
 * crypto_hash_test.c - SHA-256, subkey derivation and the output MAC against
 * known answers computed independently with Python's hashlib/hmac:
 *
 *   master = bytes(range(32)); label = b"sealrun/output-mac/v1"
 *   sub = hashlib.blake2b(label, key=master, digest_size=32).digest()
 *   msg = b"sealrun.output.v1\0" + job_id + b"\0" + output_hash_hex
 *   hmac.new(sub, msg, hashlib.sha256).hexdigest()
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_util.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"
/* sha256('{"a":1}') */
#define OUT_HASH "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
#define OUT_MAC "ada0129dcddc6b7573946e9b181e537d54fb046b779c4f16de42bf2217aae7d3"
#define MAC_SUBKEY "fb5916053d5084bc62dbc5888dc775c7ef7ad683dcd8890c74ca874794580e2a"

static sr_keys *
make_keys(size_t compute_len)
{
    uint8_t compute[128];
    uint8_t secrets[32];
    for (size_t i = 0; i < sizeof(compute); i++)
        compute[i] = (uint8_t)i;
    memset(secrets, 0x55, sizeof(secrets));
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_new(compute, compute_len, secrets, sizeof(secrets), &keys, &err),
                     SR_OK);
    return keys;
}

static void
test_sha256_hex_matches_known_answer(void **state)
{
    (void)state;
    char hex[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex("{\"a\":1}", 7, hex);
    assert_string_equal(hex, OUT_HASH);
    sr_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_derives_blake2b_subkey(void **state)
{
    (void)state;
    sr_keys *keys = make_keys(32);
    uint8_t sub[32];
    char hex[65];
    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, sub);
    sr_hex_encode(sub, sizeof(sub), hex);
    assert_string_equal(hex, MAC_SUBKEY);
    /* the secrets master gives a different subkey for the same label */
    uint8_t other[32];
    sr_keys_derive_secrets(keys, SR_LABEL_OUTPUT_MAC, other);
    assert_false(sr_ct_equal(sub, other, sizeof(sub)));
    sr_keys_free(keys);
}

static void
test_uses_64_byte_master_directly(void **state)
{
    (void)state;
    sr_keys *keys = make_keys(64);
    uint8_t sub[32];
    char hex[65];
    sr_keys_derive_compute(keys, SR_LABEL_STORAGE, sub);
    sr_hex_encode(sub, sizeof(sub), hex);
    assert_string_equal(hex, "0aae8da26db023d31a0c8248dda49aae26c92c046ab45549a4a8f3a2a2f7def6");
    sr_keys_free(keys);
}

static void
test_compresses_long_master_with_label(void **state)
{
    (void)state;
    /* master = bytes(range(100)); comp = blake2b(b"sealrun/master-key/v1\0" + master,
     * digest_size=64); blake2b(b"sealrun/secrets-at-rest/v1", key=comp, digest_size=32) */
    uint8_t compute[100];
    for (size_t i = 0; i < sizeof(compute); i++)
        compute[i] = (uint8_t)i;
    sr_keys *keys = NULL;
    assert_int_equal(sr_keys_new(compute, 32, compute, sizeof(compute), &keys, NULL), SR_OK);
    uint8_t sub[32];
    char hex[65];
    sr_keys_derive_secrets(keys, SR_LABEL_SECRETS_AT_REST, sub);
    sr_hex_encode(sub, sizeof(sub), hex);
    assert_string_equal(hex, "78ba31c09be81dba34998a71444fb603d149a1b47e9953edea81e9fb3872c16e");
    sr_keys_free(keys);
}

static void
test_output_mac_matches_known_answer(void **state)
{
    (void)state;
    sr_keys *keys = make_keys(32);
    char mac[SR_HASH_HEX_LEN + 1];
    sr_output_mac(keys, JOB_ID, OUT_HASH, mac);
    assert_string_equal(mac, OUT_MAC);
    sr_keys_free(keys);
}

static void
test_output_mac_verify_accepts_only_the_right_mac(void **state)
{
    (void)state;
    sr_keys *keys = make_keys(32);
    assert_true(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, OUT_MAC));
    /* upper-case hex is the same MAC */
    char upper[] = OUT_MAC;
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_true(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, upper));
    char flipped[] = OUT_MAC;
    flipped[10] = flipped[10] == '0' ? '1' : '0';
    assert_false(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, flipped));
    assert_false(sr_output_mac_verify(keys, "ffffffffffffffffffffffffffffffff", OUT_HASH, OUT_MAC));
    assert_false(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, "abc"));
    assert_false(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, NULL));
    char garbage[] = OUT_MAC;
    garbage[0] = 'z';
    assert_false(sr_output_mac_verify(keys, JOB_ID, OUT_HASH, garbage));
    sr_keys_free(keys);
}

static void
test_output_mac_depends_on_master(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    sr_keys *ka = NULL, *kb = NULL;
    assert_int_equal(sr_keys_new(a, 32, b, 32, &ka, NULL), SR_OK);
    assert_int_equal(sr_keys_new(b, 32, b, 32, &kb, NULL), SR_OK);
    char ma[65], mb[65];
    sr_output_mac(ka, JOB_ID, OUT_HASH, ma);
    sr_output_mac(kb, JOB_ID, OUT_HASH, mb);
    assert_string_not_equal(ma, mb);
    sr_keys_free(ka);
    sr_keys_free(kb);
}

static void
test_ct_equal(void **state)
{
    (void)state;
    assert_true(sr_ct_equal("abcd", "abcd", 4));
    assert_false(sr_ct_equal("abcd", "abce", 4));
    assert_true(sr_ct_equal("x", "y", 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_hex_matches_known_answer),
        cmocka_unit_test(test_derives_blake2b_subkey),
        cmocka_unit_test(test_uses_64_byte_master_directly),
        cmocka_unit_test(test_compresses_long_master_with_label),
        cmocka_unit_test(test_output_mac_matches_known_answer),
        cmocka_unit_test(test_output_mac_verify_accepts_only_the_right_mac),
        cmocka_unit_test(test_output_mac_depends_on_master),
        cmocka_unit_test(test_ct_equal),
    };
    if (sr_crypto_init(NULL) != SR_OK)
        return 1;
    return cmocka_run_group_tests_name("crypto_hash", tests, NULL, NULL);
}
