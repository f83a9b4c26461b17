/* SPDX-License-Identifier: MIT
 *
 * tests/unit/crypto_vrf_test.c - ECVRF-EDWARDS25519-SHA512-TAI against the
 * three test vectors of RFC 9381 appendix B.3 (keys from RFC 8032 7.1),
 * and the refusals: any changed bit of a proof, another alpha, another or
 * a small-order public key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include "sealrun/sr_util.h"
#include "sealrun/sr_vrf.h"

struct vector {
    const char *sk, *pk, *alpha, *pi, *beta;
};

static const struct vector g_vectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f"
     "26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab12"
     "68a1b0db10836d9826a528ca76567805",
     "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff"
     "66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593"
     "3bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926d"
     "a3ef39226bbc355bdc9850112c8f4b02",
     "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb"
     "5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80"
     "96bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a"
     "2d41b00b05081ed0f58ee5e31b3a970e",
     "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45"
     "2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f"},
};

static size_t
unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    assert_true(n <= cap);
    assert_int_equal(sr_hex_decode(h, strlen(h), out, n, NULL), SR_OK);
    return n;
}

static void
test_rfc9381_vectors_prove_and_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(g_vectors) / sizeof(g_vectors[0]); i++) {
        const struct vector *v = &g_vectors[i];
        uint8_t sk[32], pk[32], alpha[8], pi[80], beta[64], got_pk[32], got_pi[80], got_beta[64];
        unhex(v->sk, sk, 32);
        unhex(v->pk, pk, 32);
        size_t alen = unhex(v->alpha, alpha, sizeof(alpha));
        unhex(v->pi, pi, 80);
        unhex(v->beta, beta, 64);
        sr_vrf_public(sk, got_pk);
        assert_memory_equal(got_pk, pk, 32);
        assert_int_equal(sr_vrf_prove(sk, alpha, alen, got_pi, got_beta, NULL), SR_OK);
        assert_memory_equal(got_pi, pi, 80);
        assert_memory_equal(got_beta, beta, 64);
        memset(got_beta, 0, 64);
        assert_true(sr_vrf_verify(pk, pi, alpha, alen, got_beta));
        assert_memory_equal(got_beta, beta, 64);
    }
}

static void
test_refuses_changed_proofs_alphas_and_keys(void **state)
{
    (void)state;
    const struct vector *v = &g_vectors[1];
    uint8_t pk[32], other[32], alpha[1], pi[80], out[64];
    unhex(v->pk, pk, 32);
    unhex(g_vectors[0].pk, other, 32);
    unhex(v->alpha, alpha, 1);
    unhex(v->pi, pi, 80);
    for (size_t byte = 0; byte < 80; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            pi[byte] ^= (uint8_t)(1u << bit);
            if (sr_vrf_verify(pk, pi, alpha, 1, out))
                fail_msg("a proof with bit %d of byte %zu flipped verified", bit, byte);
            pi[byte] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(sr_vrf_verify(pk, pi, alpha, 1, out));
    assert_false(sr_vrf_verify(pk, pi, (const uint8_t *)"s", 1, out));
    assert_false(sr_vrf_verify(pk, pi, NULL, 0, out));
    assert_false(sr_vrf_verify(other, pi, alpha, 1, out));
    /* small-order keys: the identity, and a point of order 2 */
    uint8_t identity[32] = {1}, order2[32] = {0};
    order2[0] = 0xec;
    memset(order2 + 1, 0xff, 30);
    order2[31] = 0x7f;
    assert_false(sr_vrf_verify(identity, pi, alpha, 1, out));
    assert_false(sr_vrf_verify(order2, pi, alpha, 1, out));
}

static void
test_outputs_differ_per_alpha_and_match_the_proof(void **state)
{
    (void)state;
    uint8_t seed[32] = {42}, pk[32], pi[80], beta[64], pi2[80], beta2[64], check[64];
    sr_vrf_public(seed, pk);
    const uint8_t a[] = "job 1";
    const uint8_t b[] = "job 2";
    assert_int_equal(sr_vrf_prove(seed, a, sizeof(a), pi, beta, NULL), SR_OK);
    assert_int_equal(sr_vrf_prove(seed, b, sizeof(b), pi2, beta2, NULL), SR_OK);
    assert_memory_not_equal(beta, beta2, 64);
    assert_true(sr_vrf_verify(pk, pi, a, sizeof(a), check));
    assert_memory_equal(check, beta, 64);
    assert_false(sr_vrf_verify(pk, pi2, a, sizeof(a), check));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9381_vectors_prove_and_verify),
        cmocka_unit_test(test_refuses_changed_proofs_alphas_and_keys),
        cmocka_unit_test(test_outputs_differ_per_alpha_and_match_the_proof),
    };
    return cmocka_run_group_tests_name("crypto_vrf", tests, NULL, NULL);
}
