/* SPDX-License-Identifier: MIT
 *
 * receipt_request_test.c - a remote worker's request signatures: a
 * signature verifies with its key only, and changing any signed part
 * (method, path, query, time, body) or the signature's text makes it fail. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_receipt.h"

static void
test_signature_binds_every_part(void **state)
{
    (void)state;
    assert_int_equal(sr_crypto_init(NULL), SR_OK);
    uint8_t seed_a[32], seed_b[32], pk_a[32], pk_b[32];
    memset(seed_a, 1, sizeof(seed_a));
    memset(seed_b, 2, sizeof(seed_b));
    sr_worker_key *a = NULL, *b = NULL;
    assert_int_equal(sr_worker_key_new(seed_a, &a, NULL), SR_OK);
    assert_int_equal(sr_worker_key_new(seed_b, &b, NULL), SR_OK);
    sr_worker_key_public(a, pk_a);
    sr_worker_key_public(b, pk_b);

    const char *body = "{\"x\":1}";
    uint8_t d[32], o[32];
    sr_worker_request_digest("POST", "/worker/heartbeat", "", "1700000000000", body, strlen(body),
                             d);
    char sig[SR_ED25519_SIG_HEX_LEN + 1];
    sr_worker_request_sign(a, d, sig);
    sr_err e = {0};
    assert_int_equal(sr_worker_request_verify(pk_a, d, sig, &e), SR_OK);
    /* another key's signature, or another key checking it */
    assert_int_equal(sr_worker_request_verify(pk_b, d, sig, &e), SR_EDENIED);
    assert_non_null(strstr(e.msg, "does not verify"));

    /* each part is bound */
    sr_worker_request_digest("GET", "/worker/heartbeat", "", "1700000000000", body, strlen(body),
                             o);
    assert_int_equal(sr_worker_request_verify(pk_a, o, sig, &e), SR_EDENIED);
    sr_worker_request_digest("POST", "/worker/register", "", "1700000000000", body, strlen(body),
                             o);
    assert_int_equal(sr_worker_request_verify(pk_a, o, sig, &e), SR_EDENIED);
    sr_worker_request_digest("POST", "/worker/heartbeat", "wait=1", "1700000000000", body,
                             strlen(body), o);
    assert_int_equal(sr_worker_request_verify(pk_a, o, sig, &e), SR_EDENIED);
    sr_worker_request_digest("POST", "/worker/heartbeat", "", "1700000000001", body, strlen(body),
                             o);
    assert_int_equal(sr_worker_request_verify(pk_a, o, sig, &e), SR_EDENIED);
    sr_worker_request_digest("POST", "/worker/heartbeat", "", "1700000000000", "{\"x\":2}", 7, o);
    assert_int_equal(sr_worker_request_verify(pk_a, o, sig, &e), SR_EDENIED);
    /* parts cannot slide into each other: the NUL separators */
    sr_worker_request_digest("POST", "/worker/heartbeat", "", "1700000000000", body, strlen(body),
                             o);
    assert_memory_equal(o, d, 32);
    uint8_t s1[32], s2[32];
    sr_worker_request_digest("POST", "/a", "b", "1", NULL, 0, s1);
    sr_worker_request_digest("POST", "/ab", "", "1", NULL, 0, s2);
    assert_memory_not_equal(s1, s2, 32);

    /* malformed signature texts */
    assert_int_equal(sr_worker_request_verify(pk_a, d, NULL, &e), SR_EDENIED);
    assert_int_equal(sr_worker_request_verify(pk_a, d, "abcd", &e), SR_EDENIED);
    assert_non_null(strstr(e.msg, "128 lower-case hex"));
    char upper[sizeof(sig)];
    memcpy(upper, sig, sizeof(sig));
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    if (strcmp(upper, sig) != 0)
        assert_int_equal(sr_worker_request_verify(pk_a, d, upper, &e), SR_EDENIED);
    sig[0] = sig[0] == '0' ? '1' : '0';
    assert_int_equal(sr_worker_request_verify(pk_a, d, sig, &e), SR_EDENIED);
    sr_worker_key_free(a);
    sr_worker_key_free(b);
}

static void
test_box_sealed_to_a_worker_opens_only_with_its_key(void **state)
{
    (void)state;
    assert_int_equal(sr_crypto_init(NULL), SR_OK);
    uint8_t seed_a[32], seed_b[32], pk_a[32];
    memset(seed_a, 3, sizeof(seed_a));
    memset(seed_b, 4, sizeof(seed_b));
    sr_worker_key *a = NULL, *b = NULL;
    assert_int_equal(sr_worker_key_new(seed_a, &a, NULL), SR_OK);
    assert_int_equal(sr_worker_key_new(seed_b, &b, NULL), SR_OK);
    sr_worker_key_public(a, pk_a);
    char *box = NULL;
    assert_int_equal(sr_worker_box_seal(pk_a, "canary", 6, &box, NULL), SR_OK);
    assert_null(strstr(box, "canary"));
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(sr_worker_key_box_open(a, box, &out, &len, NULL), SR_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "canary", 6);
    free(out);
    sr_err e = {0};
    out = NULL;
    assert_int_equal(sr_worker_key_box_open(b, box, &out, &len, &e), SR_EDENIED);
    assert_string_equal(e.msg, "authentication failed");
    assert_null(out);
    free(box);
    sr_worker_key_free(a);
    sr_worker_key_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_binds_every_part),
        cmocka_unit_test(test_box_sealed_to_a_worker_opens_only_with_its_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
