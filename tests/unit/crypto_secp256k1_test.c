/* SPDX-License-Identifier: MIT
 *
 * tests/unit/crypto_secp256k1_test.c - sr_secp256k1.h: BIP-340's official
 * test vectors (bitcoin/bips bip-0340/test-vectors.csv, the 15 of the
 * even-y revision with 32-byte messages), and ECDSA
 * with RFC 6979 nonces: deterministic, low-s, verified, recovered; invalid
 * private keys and high-s signatures refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include "sealrun/sr_secp256k1.h"
#include "sealrun/sr_util.h"

struct bip340 {
    const char *sk, *pk, *aux, *msg, *sig;
    bool valid;
};

/* index, secret key, public key, aux_rand, message, signature, result */
static const struct bip340 g_vectors[] = {
    {"0000000000000000000000000000000000000000000000000000000000000003",
     "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
     "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
     true},
    {"B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF",
     "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
     "0000000000000000000000000000000000000000000000000000000000000001",
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
     "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A",
     true},
    {"C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9",
     "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
     "C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906",
     "7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C",
     "5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1B"
     "AB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7",
     true},
    {"0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710",
     "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
     "7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC"
     "97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3",
     true}, /* test fails if msg is reduced modulo p or n */
    {NULL, "D69C3509BB99E412E68B0FE8544E72837DFA30746D8BE2AA65975F29D22DC7B9", NULL,
     "4DF3C3F68FCC83B27E9D42C90431A72499F17875C81A599B566C9889B9696703",
     "00000000000000000000003B78CE563F89A0ED9414F5AA28AD0D96D6795F9C63"
     "76AFB1548AF603B3EB45C9F8207DEE1060CB71C04E80F593060B07D28308D7F4",
     true},
    {NULL, "EEFDEA4CDB677750A420FEE807EACF21EB9898AE79B9768766E4FAA04A2D4A34", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false}, /* public key not on the curve */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFF97BD5755EEEA420453A14355235D382F6472F8568A18B2F057A1460297556"
     "3CC27944640AC607CD107AE10923D9EF7A73C643E166BE5EBEAFA34B1AC553E2",
     false}, /* has_even_y(R) is false */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "1FA62E331EDBC21C394792D2AB1100A7B432B013DF3F6FF4F99FCB33E0E1515F"
     "28890B3EDB6E7189B630448B515CE4F8622A954CFE545735AAEA5134FCCDB2BD",
     false}, /* negated message */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "961764B3AA9B2FFCB6EF947B6887A226E8D7C93E00C5ED0C1834FF0D0C2E6DA6",
     false}, /* negated s value */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000000"
     "123DDA8328AF9C23A94C1FEECFD123BA4FB73476F0D594DCB65C6425BD186051",
     false}, /* sG - eP is infinite (x(inf) as 0) */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "0000000000000000000000000000000000000000000000000000000000000001"
     "7615FBAF5AE28864013C099742DEADB4DBA87F11AC6754F93780D5A1837CF197",
     false}, /* sG - eP is infinite (x(inf) as 1) */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "4A298DACAE57395A15D0795DDBFD1DCB564DA82B0F269BC70A74F8220429BA1D"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false}, /* sig[0:32] is not an X coordinate on the curve */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false}, /* sig[0:32] is equal to field size */
    {NULL, "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
     false}, /* sig[32:64] is equal to curve order */
    {NULL, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC30", NULL,
     "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89",
     "6CFF5C3BA86C69EA4B7376F31A9BCB4F74C1976089B2D9963DA2E5543E177769"
     "69E89B4C5564D00349106B8497785DD7D1D713A8AE82B32FA79D5F7FC407D39B",
     false}, /* public key exceeds the field size */
};

static void
unhex(const char *h, uint8_t *out, size_t len)
{
    assert_int_equal(strlen(h), 2 * len);
    assert_int_equal(sr_hex_decode(h, strlen(h), out, len, NULL), SR_OK);
}

static void
test_bip340_vectors_sign_and_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(g_vectors) / sizeof(g_vectors[0]); i++) {
        const struct bip340 *v = &g_vectors[i];
        uint8_t pk[32], msg[32], sig[64], got[64];
        unhex(v->pk, pk, 32);
        unhex(v->msg, msg, 32);
        unhex(v->sig, sig, 64);
        if (v->sk) {
            uint8_t sk[32], aux[32], xonly[32];
            unhex(v->sk, sk, 32);
            unhex(v->aux, aux, 32);
            assert_int_equal(sr_secp256k1_xonly(sk, xonly, NULL), SR_OK);
            assert_memory_equal(xonly, pk, 32);
            assert_int_equal(sr_secp256k1_schnorr_sign(msg, 32, sk, aux, got, NULL), SR_OK);
            assert_memory_equal(got, sig, 64);
        }
        if (sr_secp256k1_schnorr_verify(sig, msg, 32, pk) != v->valid)
            fail_msg("BIP-340 vector %zu: verification should be %s", i,
                     v->valid ? "TRUE" : "FALSE");
    }
}

static void
test_schnorr_signs_any_length_with_fresh_randomness(void **state)
{
    (void)state;
    uint8_t sk[32] = {[31] = 7}, xonly[32], a[64], b[64];
    const uint8_t msg[] = "not 32 bytes long";
    assert_int_equal(sr_secp256k1_xonly(sk, xonly, NULL), SR_OK);
    assert_int_equal(sr_secp256k1_schnorr_sign(msg, sizeof(msg), sk, NULL, a, NULL), SR_OK);
    assert_int_equal(sr_secp256k1_schnorr_sign(msg, sizeof(msg), sk, NULL, b, NULL), SR_OK);
    assert_memory_not_equal(a, b, 64);
    assert_true(sr_secp256k1_schnorr_verify(a, msg, sizeof(msg), xonly));
    assert_true(sr_secp256k1_schnorr_verify(b, msg, sizeof(msg), xonly));
    assert_false(sr_secp256k1_schnorr_verify(a, msg, sizeof(msg) - 1, xonly));
}

/* n / 2, big-endian: a low-s signature has s <= this. */
static const char HALF_N[] = "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0";

static void
test_ecdsa_is_deterministic_low_s_and_recoverable(void **state)
{
    (void)state;
    uint8_t sk[32], hash[32], half[32], pub[65], rec[65], sig[64], again[64];
    size_t pub_len = 0, rec_len = 0;
    int recid = -1, recid2 = -1;
    unhex(HALF_N, half, 32);
    for (int k = 1; k <= 20; k++) {
        memset(sk, 0, sizeof(sk));
        sk[31] = (uint8_t)k;
        sk[0] = (uint8_t)(k * 3);
        memset(hash, k, sizeof(hash));
        assert_int_equal(sr_secp256k1_pubkey(sk, k % 2, pub, &pub_len, NULL), SR_OK);
        assert_int_equal(pub_len, k % 2 ? 33 : 65);
        assert_int_equal(sr_secp256k1_sign(hash, sk, sig, &recid, NULL), SR_OK);
        assert_int_equal(sr_secp256k1_sign(hash, sk, again, &recid2, NULL), SR_OK);
        assert_memory_equal(sig, again, 64); /* RFC 6979 */
        assert_int_equal(recid, recid2);
        assert_true(memcmp(sig + 32, half, 32) <= 0);
        assert_true(sr_secp256k1_verify(sig, hash, pub, pub_len));
        hash[0] ^= 1;
        assert_false(sr_secp256k1_verify(sig, hash, pub, pub_len));
        hash[0] ^= 1;
        assert_int_equal(sr_secp256k1_recover(sig, recid, hash, k % 2, rec, &rec_len, NULL), SR_OK);
        assert_int_equal(rec_len, pub_len);
        assert_memory_equal(rec, pub, pub_len);
        if (sr_secp256k1_recover(sig, recid ^ 1, hash, k % 2, rec, &rec_len, NULL) == SR_OK)
            assert_memory_not_equal(rec, pub, pub_len);
    }
}

/* The curve order n, big-endian. */
static const char ORDER_N[] = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141";

static void
test_refuses_invalid_private_keys_and_high_s(void **state)
{
    (void)state;
    uint8_t zero[32] = {0}, n[32], hash[32] = {1}, sig[64], out[65], sk[32] = {[31] = 9};
    size_t len = 0;
    int recid = 0;
    sr_err err;
    unhex(ORDER_N, n, 32);
    assert_int_equal(sr_secp256k1_pubkey(zero, true, out, &len, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not a scalar in [1, n)"));
    assert_int_equal(sr_secp256k1_pubkey(n, true, out, &len, NULL), SR_EINVAL);
    assert_int_equal(sr_secp256k1_sign(hash, n, sig, &recid, NULL), SR_EINVAL);
    assert_int_equal(sr_secp256k1_xonly(zero, out, NULL), SR_EINVAL);
    assert_int_equal(sr_secp256k1_schnorr_sign(hash, 32, n, NULL, sig, NULL), SR_EINVAL);
    assert_int_equal(sr_secp256k1_recover(sig, 4, hash, true, out, &len, NULL), SR_EINVAL);
    /* s' = n - s signs the same message, but is high: refused */
    assert_int_equal(sr_secp256k1_sign(hash, sk, sig, &recid, NULL), SR_OK);
    assert_int_equal(sr_secp256k1_pubkey(sk, true, out, &len, NULL), SR_OK);
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned d = (unsigned)n[i] - sig[32 + i] - borrow;
        borrow = d > 0xff;
        sig[32 + i] = (uint8_t)d;
    }
    assert_false(sr_secp256k1_verify(sig, hash, out, len));
    assert_false(sr_secp256k1_verify(sig, hash, out, len - 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip340_vectors_sign_and_verify),
        cmocka_unit_test(test_schnorr_signs_any_length_with_fresh_randomness),
        cmocka_unit_test(test_ecdsa_is_deterministic_low_s_and_recoverable),
        cmocka_unit_test(test_refuses_invalid_private_keys_and_high_s),
    };
    return cmocka_run_group_tests_name("crypto_secp256k1", tests, NULL, NULL);
}
