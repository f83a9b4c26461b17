/* SPDX-License-Identifier: MIT
 *
 * keystore_channel_test.c - the keystore's side without a network
 * (sr_keystore.h): a signed answer verifies only for its path, request
 * signature and text; a request verifies only with its key and within the
 * clock window; the keystore answers the coordinator's key only, gives the
 * sealing key the embedded daemon gives, makes an at-rest blob that
 * decrypts to the sealed value (and refuses a generated key's value), and
 * seals the storage subkeys to the coordinator; keys without the secrets
 * master give back the subkeys they were handed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_keystore.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

struct fixture {
    sr_keys *keys;
    sr_worker_key *ks_key, *coord_key, *other_key;
    uint8_t coord_pk[32];
    sr_keystore *ks;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    uint8_t c[32], s[32], seed[32];
    memset(c, 7, sizeof(c));
    memset(s, 9, sizeof(s));
    if (!f || sr_crypto_init(NULL) != SR_OK || sr_keys_new(c, 32, s, 32, &f->keys, NULL) != SR_OK)
        return -1;
    memset(seed, 1, sizeof(seed));
    (void)sr_worker_key_new(seed, &f->ks_key, NULL);
    memset(seed, 2, sizeof(seed));
    (void)sr_worker_key_new(seed, &f->coord_key, NULL);
    memset(seed, 3, sizeof(seed));
    (void)sr_worker_key_new(seed, &f->other_key, NULL);
    sr_worker_key_public(f->coord_key, f->coord_pk);
    const struct sr_keystore_config kc = {.keys = f->keys,
                                          .key = f->ks_key,
                                          .coordinator = "http://127.0.0.1:9",
                                          .coordinator_pk = f->coord_pk};
    if (sr_keystore_new(&kc, &f->ks, NULL) != SR_OK)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    sr_keystore_free(f->ks);
    sr_worker_key_free(f->ks_key);
    sr_worker_key_free(f->coord_key);
    sr_worker_key_free(f->other_key);
    sr_keys_free(f->keys);
    free(f);
    return 0;
}

/* A request as signed by key, now. */
struct signed_req {
    char tm[24], sig[SR_ED25519_SIG_HEX_LEN + 1];
    struct sr_keystore_request r;
};

static void
sign_req(struct signed_req *s, const sr_worker_key *key, const char *method, const char *path,
         const char *query, const char *body, int64_t skew_ms)
{
    (void)snprintf(s->tm, sizeof(s->tm), "%lld", (long long)(sr_now_ms() + skew_ms));
    uint8_t d[32];
    sr_worker_request_digest(method, path, query, s->tm, body, body ? strlen(body) : 0, d);
    sr_worker_request_sign(key, d, s->sig);
    s->r = (struct sr_keystore_request){.method = method,
                                        .path = path,
                                        .query = query,
                                        .time_text = s->tm,
                                        .signature = s->sig,
                                        .body = body,
                                        .body_len = body ? strlen(body) : 0};
}

/* The answer inside a signed envelope, verified with pk for the request. */
static json_t *
opened(const json_t *env, const uint8_t pk[32], const char *path, const char *req_sig)
{
    const char *a = json_string_value(json_object_get(env, "answer"));
    const char *s = json_string_value(json_object_get(env, "signature"));
    assert_non_null(a);
    uint8_t d[32];
    sr_keystore_answer_digest(path, req_sig, a, strlen(a), d);
    if (sr_worker_request_verify(pk, d, s, NULL) != SR_OK)
        return NULL;
    return json_loads(a, 0, NULL);
}

static void
test_answer_binds_path_request_and_text(void **state)
{
    struct fixture *f = *state;
    uint8_t pk[32];
    sr_worker_key_public(f->ks_key, pk);
    json_t *a = json_pack("{s:s}", "k", "v");
    json_t *env = sr_keystore_answer_sign(f->ks_key, "/keystore/seal", "ab", a);
    json_t *got = opened(env, pk, "/keystore/seal", "ab");
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "k")), "v");
    json_decref(got);
    assert_null(opened(env, pk, "/keystore/release", "ab"));       /* another path */
    assert_null(opened(env, pk, "/keystore/seal", "cd"));          /* another request */
    assert_null(opened(env, f->coord_pk, "/keystore/seal", "ab")); /* another key */
    json_object_set_new(env, "answer", json_string("{\"k\":\"w\"}"));
    assert_null(opened(env, pk, "/keystore/seal", "ab")); /* another text */
    json_decref(env);
    json_decref(a);
}

static void
test_request_needs_its_key_and_the_clock(void **state)
{
    struct fixture *f = *state;
    struct signed_req s;
    sr_err e = {0};
    sign_req(&s, f->coord_key, "POST", "/keystore/seal", "", "{}", 0);
    assert_int_equal(sr_keystore_request_verify(f->coord_pk, "POST", "/keystore/seal", "", s.tm,
                                                s.sig, "{}", 2, &e),
                     SR_OK);
    assert_int_equal(sr_keystore_request_verify(f->coord_pk, "POST", "/keystore/seal", "", s.tm,
                                                s.sig, "{ }", 3, &e),
                     SR_EDENIED);
    sign_req(&s, f->coord_key, "POST", "/keystore/seal", "", "{}",
             -(SR_WORKER_CLOCK_SKEW_MS + 5000));
    assert_int_equal(sr_keystore_request_verify(f->coord_pk, "POST", "/keystore/seal", "", s.tm,
                                                s.sig, "{}", 2, &e),
                     SR_EDENIED);
    assert_non_null(strstr(e.msg, "ms from this clock"));
}

static void
test_pubkey_only_for_the_coordinator_and_as_embedded(void **state)
{
    struct fixture *f = *state;
    struct signed_req s;
    sr_err e = {0};
    json_t *env = NULL;
    sign_req(&s, f->other_key, "GET", "/keystore/pubkey", "owner=alice", NULL, 0);
    s.r.owner = "alice";
    assert_int_equal(sr_keystore_handle(f->ks, &s.r, &env, &e), SR_EDENIED);
    assert_non_null(strstr(e.msg, "only the coordinator"));
    sign_req(&s, f->coord_key, "GET", "/keystore/pubkey", "owner=alice", NULL, 0);
    s.r.owner = "alice";
    assert_int_equal(sr_keystore_handle(f->ks, &s.r, &env, &e), SR_OK);
    uint8_t pk[32];
    sr_worker_key_public(f->ks_key, pk);
    json_t *a = opened(env, pk, "/keystore/pubkey", s.sig);
    assert_non_null(a);
    char *want = NULL;
    assert_int_equal(sr_secret_owner_pk_b64(f->keys, "alice", &want, NULL), SR_OK);
    assert_string_equal(json_string_value(json_object_get(a, "public_key")), want);
    free(want);
    json_decref(a);
    json_decref(env);
    sign_req(&s, f->coord_key, "GET", "/keystore/nope", "", NULL, 0);
    assert_int_equal(sr_keystore_handle(f->ks, &s.r, &env, &e), SR_ENOTFOUND);
}

static json_t *
seal_req(struct fixture *f, const char *value, sr_status want, sr_err *e, char sig[129])
{
    uint8_t pk[32];
    char *sealed = NULL;
    assert_int_equal(sr_secret_owner_pk(f->keys, "alice", pk, NULL), SR_OK);
    assert_int_equal(sr_secret_seal(pk, value, strlen(value), &sealed, NULL), SR_OK);
    json_t *b = json_pack("{s:s, s:s, s:i, s:s}", "owner", "alice", "name", "API", "version", 3,
                          "sealed", sealed);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    free(sealed);
    struct signed_req s;
    sign_req(&s, f->coord_key, "POST", "/keystore/seal", "", body, 0);
    json_t *env = NULL;
    assert_int_equal(sr_keystore_handle(f->ks, &s.r, &env, e), want);
    memcpy(sig, s.sig, 129);
    free(body);
    return env;
}

static void
test_seal_makes_the_at_rest_blob(void **state)
{
    struct fixture *f = *state;
    sr_err e = {0};
    char sig[129];
    json_t *env = seal_req(f, "sk_live_123", SR_OK, &e, sig);
    uint8_t pk[32];
    sr_worker_key_public(f->ks_key, pk);
    json_t *a = opened(env, pk, "/keystore/seal", sig);
    assert_non_null(a);
    const char *b64 = json_string_value(json_object_get(a, "blob"));
    uint8_t *blob = NULL;
    size_t n = 0;
    assert_int_equal(sr_base64_decode(b64, strlen(b64), &blob, &n, NULL), SR_OK);
    struct sr_secret_value v = {0};
    assert_int_equal(sr_secret_decrypt(f->keys, "alice", "API", 3, blob, n, &v, NULL), SR_OK);
    assert_memory_equal(v.data, "sk_live_123", 11);
    sr_secret_value_fini(&v);
    assert_int_equal(sr_secret_decrypt(f->keys, "alice", "API", 4, blob, n, &v, NULL), SR_EDENIED);
    free(blob);
    json_decref(a);
    json_decref(env);
    assert_null(seal_req(f, "sealrun.key.v1:ed25519:00", SR_EINVAL, &e, sig));
    assert_non_null(strstr(e.msg, "generated keys"));
}

static void
test_storage_keys_sealed_to_the_coordinator(void **state)
{
    struct fixture *f = *state;
    struct signed_req s;
    sr_err e = {0};
    json_t *env = NULL;
    sign_req(&s, f->coord_key, "POST", "/keystore/storage-keys", "", "{}", 0);
    assert_int_equal(sr_keystore_handle(f->ks, &s.r, &env, &e), SR_OK);
    uint8_t pk[32];
    sr_worker_key_public(f->ks_key, pk);
    json_t *a = opened(env, pk, "/keystore/storage-keys", s.sig);
    assert_non_null(a);
    const char *sealed = json_string_value(
        json_object_get(json_object_get(json_object_get(a, "keys"), SR_LABEL_STORAGE), "sealed"));
    uint8_t *raw = NULL, want[32], got[32];
    size_t n = 0;
    assert_int_equal(sr_worker_key_box_open(f->other_key, sealed, &raw, &n, NULL), SR_EDENIED);
    assert_int_equal(sr_worker_key_box_open(f->coord_key, sealed, &raw, &n, NULL), SR_OK);
    assert_int_equal(n, 32);
    sr_keys_derive_secrets(f->keys, SR_LABEL_STORAGE, want);
    assert_memory_equal(raw, want, 32);
    /* keys without the secrets master give back the subkey they were handed */
    setenv("COMPUTE_MASTER_KEY", "0707070707070707070707070707070707070707070707070707070707070707",
           1);
    sr_keys *only = NULL;
    assert_int_equal(sr_keys_load_only(NULL, false, SR_KEYS_COMPUTE, NULL, &only, NULL), SR_OK);
    unsetenv("COMPUTE_MASTER_KEY");
    assert_false(sr_keys_has_secrets(only));
    assert_false(sr_keys_has_secrets_subkey(only, SR_LABEL_STORAGE));
    assert_int_equal(sr_keys_add_secrets_subkey(only, SR_LABEL_STORAGE, raw, NULL), SR_OK);
    assert_true(sr_keys_has_secrets_subkey(only, SR_LABEL_STORAGE));
    sr_keys_derive_secrets(only, SR_LABEL_STORAGE, got);
    assert_memory_equal(got, want, 32);
    assert_int_equal(sr_keys_add_secrets_subkey(f->keys, SR_LABEL_STORAGE, raw, NULL),
                     SR_ECONFLICT);
    free(raw);
    sr_keys_free(only);
    json_decref(a);
    json_decref(env);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_binds_path_request_and_text),
        cmocka_unit_test(test_request_needs_its_key_and_the_clock),
        cmocka_unit_test(test_pubkey_only_for_the_coordinator_and_as_embedded),
        cmocka_unit_test(test_seal_makes_the_at_rest_blob),
        cmocka_unit_test(test_storage_keys_sealed_to_the_coordinator),
    };
    return cmocka_run_group_tests_name("keystore_channel", tests, setup, teardown);
}
