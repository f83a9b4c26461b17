/* SPDX-License-Identifier: MIT
 *
 * secret_crypto_test.c - per-owner sealing keys, client-side sealing, and
 * encryption at rest, checked against the formats in docs/secrets.md by
 * recomputing them with libsodium directly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_util.h"

#define CANARY "canary-7f3a9c1e-value"

static sr_keys *
keys_with(uint8_t fill)
{
    uint8_t compute[32], secrets[32];
    sr_keys *k = NULL;
    memset(compute, 0x11, sizeof(compute));
    memset(secrets, fill, sizeof(secrets));
    assert_int_equal(sr_keys_new(compute, 32, secrets, 32, &k, NULL), SR_OK);
    return k;
}

static int
setup(void **state)
{
    if (sr_crypto_init(NULL) != SR_OK)
        return -1;
    *state = keys_with(0x5e);
    return 0;
}

static int
teardown(void **state)
{
    sr_keys_free(*state);
    return 0;
}

static void
assert_no_canary(const char *msg)
{
    assert_null(strstr(msg, CANARY));
}

static void
test_owner_key_is_the_documented_derivation(void **state)
{
    sr_keys *keys = *state;
    uint8_t pk[SR_BOX_PK_LEN], seal_key[32], sk[32], want[32];

    assert_int_equal(sr_secret_owner_pk(keys, "alice", pk, NULL), SR_OK);
    /* docs/secrets.md: sk = BLAKE2b-256(key = subkey("sealrun/secrets-seal/v1"), owner) */
    sr_keys_derive_secrets(keys, "sealrun/secrets-seal/v1", seal_key);
    crypto_generichash(sk, 32, (const uint8_t *)"alice", 5, seal_key, 32);
    crypto_scalarmult_base(want, sk);
    assert_memory_equal(pk, want, 32);

    uint8_t again[SR_BOX_PK_LEN], bob[SR_BOX_PK_LEN];
    assert_int_equal(sr_secret_owner_pk(keys, "alice", again, NULL), SR_OK);
    assert_memory_equal(pk, again, 32); /* deterministic */
    assert_int_equal(sr_secret_owner_pk(keys, "bob", bob, NULL), SR_OK);
    assert_memory_not_equal(pk, bob, 32);
}

static void
test_owner_key_depends_on_the_master(void **state)
{
    sr_keys *other = keys_with(0x77);
    uint8_t a[SR_BOX_PK_LEN], b[SR_BOX_PK_LEN];
    assert_int_equal(sr_secret_owner_pk(*state, "alice", a, NULL), SR_OK);
    assert_int_equal(sr_secret_owner_pk(other, "alice", b, NULL), SR_OK);
    assert_memory_not_equal(a, b, 32);
    sr_keys_free(other);
}

static void
test_owner_pk_b64_is_44_characters(void **state)
{
    char *b64 = NULL;
    uint8_t pk[SR_BOX_PK_LEN], parsed[SR_BOX_PK_LEN];
    assert_int_equal(sr_secret_owner_pk_b64(*state, "alice", &b64, NULL), SR_OK);
    assert_int_equal(strlen(b64), 44);
    assert_int_equal(sr_box_pk_parse(b64, parsed, NULL), SR_OK);
    assert_int_equal(sr_secret_owner_pk(*state, "alice", pk, NULL), SR_OK);
    assert_memory_equal(pk, parsed, 32);
    free(b64);
}

static void
test_owner_key_refuses_bad_owner(void **state)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char *b64 = NULL;
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "", pk, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "owner is empty"));
    assert_int_equal(sr_secret_owner_pk(*state, NULL, pk, &err), SR_EINVAL);
    assert_int_equal(sr_secret_owner_pk_b64(*state, "a b", &b64, &err), SR_EINVAL);
    assert_null(b64);
    assert_int_equal(sr_secret_owner_pk(NULL, "alice", pk, &err), SR_EINVAL);
}

static void
test_seal_unseal_round_trip(void **state)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char *box = NULL;
    struct sr_secret_value v = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "alice", pk, NULL), SR_OK);
    assert_int_equal(sr_secret_seal(pk, CANARY, strlen(CANARY), &box, NULL), SR_OK);
    assert_null(strstr(box, CANARY));
    assert_int_equal(sr_secret_unseal(*state, "alice", box, strlen(box), &v, NULL), SR_OK);
    assert_int_equal(v.len, strlen(CANARY));
    assert_string_equal((char *)v.data, CANARY);
    sr_secret_value_fini(&v);
    free(box);
}

static void
test_unseal_of_a_plain_libsodium_box(void **state)
{
    /* what another client does: crypto_box_seal to the fetched key, base64 */
    uint8_t pk[SR_BOX_PK_LEN];
    const char *msg = "sk_live_123";
    uint8_t c[11 + crypto_box_SEALBYTES];
    struct sr_secret_value v = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "carol", pk, NULL), SR_OK);
    assert_int_equal(crypto_box_seal(c, (const uint8_t *)msg, 11, pk), 0);
    char *b64 = sr_base64_encode(c, sizeof(c));
    assert_int_equal(sr_secret_unseal(*state, "carol", b64, strlen(b64), &v, NULL), SR_OK);
    assert_string_equal((char *)v.data, msg);
    sr_secret_value_fini(&v);
    free(b64);
}

static void
test_value_sealed_for_another_owner_is_refused(void **state)
{
    uint8_t bob_pk[SR_BOX_PK_LEN];
    char *box = NULL;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "bob", bob_pk, NULL), SR_OK);
    assert_int_equal(sr_secret_seal(bob_pk, CANARY, strlen(CANARY), &box, NULL), SR_OK);
    assert_int_equal(sr_secret_unseal(*state, "alice", box, strlen(box), &v, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "authentication failed"));
    assert_non_null(strstr(err.msg, "sealed for a different owner"));
    assert_non_null(strstr(err.msg, "'alice'"));
    assert_non_null(strstr(err.msg, "GET /secrets/pubkey"));
    assert_no_canary(err.msg);
    assert_null(v.data);
    free(box);
}

static void
test_tampered_or_short_box_fails_authentication(void **state)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char *box = NULL;
    uint8_t *raw = NULL;
    size_t len = 0;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "alice", pk, NULL), SR_OK);
    assert_int_equal(sr_secret_seal(pk, CANARY, strlen(CANARY), &box, NULL), SR_OK);
    assert_int_equal(sr_base64_decode(box, strlen(box), &raw, &len, NULL), SR_OK);
    for (size_t i = 0; i < len; i += 7) {
        raw[i] ^= 0x01;
        char *t = sr_base64_encode(raw, len);
        assert_int_equal(sr_secret_unseal(*state, "alice", t, strlen(t), &v, &err), SR_EDENIED);
        assert_non_null(strstr(err.msg, "authentication failed"));
        free(t);
        raw[i] ^= 0x01;
    }
    char *shortbox = sr_base64_encode(raw, crypto_box_SEALBYTES - 1);
    assert_int_equal(sr_secret_unseal(*state, "alice", shortbox, strlen(shortbox), &v, &err),
                     SR_EDENIED);
    free(shortbox);
    free(raw);
    free(box);
}

static void
test_unseal_rejects_bad_input(void **state)
{
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_unseal(*state, "alice", "", 0, &v, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "sealed value is empty"));
    assert_int_equal(sr_secret_unseal(*state, "alice", "!!not base64!!", 14, &v, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "sealed value is not valid base64"));
    size_t n = SR_SECRET_SEALED_MAX + 4;
    char *big = malloc(n);
    memset(big, 'A', n);
    assert_int_equal(sr_secret_unseal(*state, "alice", big, n, &v, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "sealed value is too large"));
    free(big);
    assert_int_equal(sr_secret_unseal(*state, "a/b", "AAAA", 4, &v, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "owner"));
}

static void
test_unseal_checks_the_value(void **state)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char *box = NULL;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "alice", pk, NULL), SR_OK);
    /* sr_box_seal does not check values: a NUL inside must be refused on open */
    assert_int_equal(sr_box_seal(pk, "a\0b", 3, &box, NULL), SR_OK);
    assert_int_equal(sr_secret_unseal(*state, "alice", box, strlen(box), &v, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "sealed value: secret value has a NUL byte at offset 1"));
    free(box);
    box = NULL;
    assert_int_equal(sr_box_seal(pk, "", 0, &box, NULL), SR_OK);
    assert_int_equal(sr_secret_unseal(*state, "alice", box, strlen(box), &v, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secret value is empty"));
    free(box);
    /* the largest value fits in SR_SECRET_SEALED_MAX */
    char *big = malloc(SR_SECRET_VALUE_MAX);
    memset(big, 'z', SR_SECRET_VALUE_MAX);
    box = NULL;
    assert_int_equal(sr_secret_seal(pk, big, SR_SECRET_VALUE_MAX, &box, NULL), SR_OK);
    assert_true(strlen(box) <= SR_SECRET_SEALED_MAX);
    assert_int_equal(sr_secret_unseal(*state, "alice", box, strlen(box), &v, NULL), SR_OK);
    assert_int_equal(v.len, SR_SECRET_VALUE_MAX);
    sr_secret_value_fini(&v);
    free(box);
    free(big);
}

static void
test_seal_checks_the_value(void **state)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char *box = NULL;
    sr_err err = {0};
    assert_int_equal(sr_secret_owner_pk(*state, "alice", pk, NULL), SR_OK);
    assert_int_equal(sr_secret_seal(pk, "\xff", 1, &box, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not valid UTF-8"));
    assert_null(box);
}

static void
test_at_rest_round_trip_and_format(void **state)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    struct sr_secret_value v = {0};
    assert_int_equal(
        sr_secret_encrypt(*state, "alice", "API_KEY", 3, CANARY, strlen(CANARY), &blob, &len, NULL),
        SR_OK);
    assert_int_equal(len, strlen(CANARY) + SR_SECRET_BLOB_OVERHEAD);
    assert_null(memmem(blob, len, CANARY, strlen(CANARY)));
    assert_int_equal(sr_secret_decrypt(*state, "alice", "API_KEY", 3, blob, len, &v, NULL), SR_OK);
    assert_string_equal((char *)v.data, CANARY);
    sr_secret_value_fini(&v);

    /* docs/secrets.md: key = subkey("sealrun/secrets-at-rest/v1"), blob = nonce || ct,
     * AAD = "sealrun.secret.v1" 0 owner 0 name 0 "3" */
    uint8_t key[32], m[64];
    unsigned long long mlen = 0;
    static const uint8_t aad[] = "sealrun.secret.v1\0alice\0API_KEY\0003";
    sr_keys_derive_secrets(*state, "sealrun/secrets-at-rest/v1", key);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(m, &mlen, NULL, blob + 24, len - 24,
                                                                aad, sizeof(aad) - 1, blob, key),
                     0);
    assert_int_equal(mlen, strlen(CANARY));
    assert_memory_equal(m, CANARY, mlen);
    free(blob);
}

static void
test_at_rest_nonces_are_random(void **state)
{
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(sr_secret_encrypt(*state, "alice", "K", 1, "v", 1, &a, &la, NULL), SR_OK);
    assert_int_equal(sr_secret_encrypt(*state, "alice", "K", 1, "v", 1, &b, &lb, NULL), SR_OK);
    assert_memory_not_equal(a, b, SR_SECRET_NONCE_LEN);
    free(a);
    free(b);
}

static void
test_at_rest_binds_owner_name_version_and_key(void **state)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    sr_keys *other = keys_with(0x99);
    assert_int_equal(
        sr_secret_encrypt(*state, "alice", "K", 7, CANARY, strlen(CANARY), &blob, &len, NULL),
        SR_OK);
    struct {
        sr_keys *keys;
        const char *owner, *name;
        uint64_t version;
    } wrong[] = {
        {*state, "bob", "K", 7},
        {*state, "alice", "J", 7},
        {*state, "alice", "K", 8},
        {*state, "alice", "K", 70},
        {other, "alice", "K", 7},
        /* ambiguity check: shifting a byte between owner and name changes the AAD */
        {*state, "alic", "eK", 7},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        assert_int_equal(sr_secret_decrypt(wrong[i].keys, wrong[i].owner, wrong[i].name,
                                           wrong[i].version, blob, len, &v, &err),
                         SR_EDENIED);
        assert_string_equal(err.msg, "authentication failed");
        assert_null(v.data);
    }
    sr_keys_free(other);
    free(blob);
}

static void
test_at_rest_tampering_fails(void **state)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_encrypt(*state, "alice", "K", 1, "value", 5, &blob, &len, NULL),
                     SR_OK);
    for (size_t i = 0; i < len; i++) {
        blob[i] ^= 0x80;
        assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, blob, len, &v, &err),
                         SR_EDENIED);
        blob[i] ^= 0x80;
    }
    for (size_t n = 0; n <= SR_SECRET_BLOB_OVERHEAD; n++)
        assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, blob, n, &v, &err), SR_EDENIED);
    assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, blob, len - 1, &v, &err),
                     SR_EDENIED);
    assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, NULL, len, &v, &err), SR_EDENIED);
    assert_string_equal(err.msg, "authentication failed");
    assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, blob, len, &v, NULL), SR_OK);
    sr_secret_value_fini(&v);
    free(blob);
}

static void
test_at_rest_rejects_bad_arguments(void **state)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    struct sr_secret_value v = {0};
    sr_err err = {0};
    assert_int_equal(sr_secret_encrypt(*state, "alice", "K", 0, "v", 1, &blob, &len, &err),
                     SR_EINVAL);
    assert_string_equal(err.msg, "secret version must be 1 or more, got 0");
    assert_int_equal(sr_secret_encrypt(*state, "alice", "SEALRUN_X", 1, "v", 1, &blob, &len, &err),
                     SR_EINVAL);
    assert_non_null(strstr(err.msg, "reserved"));
    assert_int_equal(sr_secret_encrypt(*state, "", "K", 1, "v", 1, &blob, &len, &err), SR_EINVAL);
    assert_int_equal(sr_secret_encrypt(*state, "alice", "K", 1, "", 0, &blob, &len, &err),
                     SR_EINVAL);
    assert_int_equal(sr_secret_encrypt(NULL, "alice", "K", 1, "v", 1, &blob, &len, &err),
                     SR_EINVAL);
    assert_null(blob);
    assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 0, (const uint8_t *)"x", 1, &v, &err),
                     SR_EINVAL);
}

static void
test_decrypt_refuses_a_value_that_breaks_the_rules(void **state)
{
    /* a blob made with the right key but a NUL in the value (only a key
     * holder could): refused instead of reaching an environment string */
    uint8_t key[32], blob[24 + 3 + 16];
    unsigned long long clen = 0;
    static const uint8_t aad[] = "sealrun.secret.v1\0alice\0K\0001";
    struct sr_secret_value v = {0};
    sr_err err = {0};
    sr_keys_derive_secrets(*state, SR_LABEL_SECRETS_AT_REST, key);
    randombytes_buf(blob, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 24, &clen, (const uint8_t *)"a\0b", 3, aad,
                                               sizeof(aad) - 1, NULL, blob, key);
    assert_int_equal(sr_secret_decrypt(*state, "alice", "K", 1, blob, sizeof(blob), &v, &err),
                     SR_EINVAL);
    assert_non_null(strstr(err.msg, "breaks the value rules"));
    assert_null(v.data);
}

/* docs/secrets.md carries the formats other clients and auditors rely on:
 * the labels, the AAD example (whose bytes decrypt a real blob above). */
static void
test_docs_match_the_formats(void **state)
{
    (void)state;
    const char *src = getenv("SR_SOURCE_DIR");
    if (!src)
        skip();
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/docs/secrets.md", src);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof(doc) - 1, fp);
    doc[n] = '\0';
    (void)fclose(fp);
    static const uint8_t aad[] = "sealrun.secret.v1\0alice\0API_KEY\0003";
    char hex[2 * sizeof(aad) + 1];
    sr_hex_encode(aad, sizeof(aad) - 1, hex);
    assert_non_null(strstr(doc, hex));
    assert_non_null(strstr(doc, "\"" SR_LABEL_SECRETS_SEAL "\""));
    assert_non_null(strstr(doc, "\"" SR_LABEL_SECRETS_AT_REST "\""));
    assert_non_null(strstr(doc, "\"" SR_SECRET_AAD_DOMAIN "\" 0x00 owner 0x00 name 0x00 version"));
    char sealed_max[32];
    (void)snprintf(sealed_max, sizeof(sealed_max), "%u,%03u characters",
                   (unsigned)SR_SECRET_SEALED_MAX / 1000, (unsigned)SR_SECRET_SEALED_MAX % 1000);
    assert_non_null(strstr(doc, sealed_max));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_key_is_the_documented_derivation),
        cmocka_unit_test(test_owner_key_depends_on_the_master),
        cmocka_unit_test(test_owner_pk_b64_is_44_characters),
        cmocka_unit_test(test_owner_key_refuses_bad_owner),
        cmocka_unit_test(test_seal_unseal_round_trip),
        cmocka_unit_test(test_unseal_of_a_plain_libsodium_box),
        cmocka_unit_test(test_value_sealed_for_another_owner_is_refused),
        cmocka_unit_test(test_tampered_or_short_box_fails_authentication),
        cmocka_unit_test(test_unseal_rejects_bad_input),
        cmocka_unit_test(test_unseal_checks_the_value),
        cmocka_unit_test(test_seal_checks_the_value),
        cmocka_unit_test(test_at_rest_round_trip_and_format),
        cmocka_unit_test(test_at_rest_nonces_are_random),
        cmocka_unit_test(test_at_rest_binds_owner_name_version_and_key),
        cmocka_unit_test(test_at_rest_tampering_fails),
        cmocka_unit_test(test_at_rest_rejects_bad_arguments),
        cmocka_unit_test(test_decrypt_refuses_a_value_that_breaks_the_rules),
        cmocka_unit_test(test_docs_match_the_formats),
    };
    return cmocka_run_group_tests_name("secret_crypto", tests, setup, teardown);
}
