/* SPDX-License-Identifier: MIT
 *
 * receipt_build_test.c - sr_receipt_build (fields, hashes, refusals),
 * sr_receipt_sign/verify (exact signed bytes, error paths) and the per-check
 * lines of sr_receipt_check_job. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

#define JOB_ID "0123456789abcdef0123456789abcdef"
#define SCRIPT "function main(i){ return i; }"
/* Python: hashlib.sha256(b"sealrun.owner.v1\0alice").hexdigest() */
#define ALICE_HASH "d1ac369edc73e3002bb4ab97081188eedc86bd6499459689d365533ffd4479f0"
/* Python: hashlib.sha256(b'{"a":[1,"x"],"b":null}').hexdigest() */
#define INPUT_TEXT "{\"b\": null, \"a\": [1, \"x\"]}"

static sr_worker_key *key;
static uint8_t pk[32];
static uint8_t meas[32];

static int
setup(void **state)
{
    (void)state;
    uint8_t seed[32];
    if (sodium_init() < 0)
        return -1;
    memset(seed, 7, sizeof(seed));
    memset(meas, 0xab, sizeof(meas));
    if (sr_worker_key_new(seed, &key, NULL) != SR_OK)
        return -1;
    sr_worker_key_public(key, pk);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sr_worker_key_free(key);
    return 0;
}

static struct sr_receipt_fields
base_fields(json_t *input, json_t *output, json_t *logs)
{
    return (struct sr_receipt_fields){
        .job_id = JOB_ID,
        .owner = "alice",
        .runtime = "js",
        .engine_version = "javascriptcore 2.44.3",
        .entry_point = "main",
        .code = SCRIPT,
        .code_len = strlen(SCRIPT),
        .input = input,
        .timeout_s = 30,
        .memory_mb = 128,
        .gas_limit = 1000,
        .gas_used = 10,
        .duration_us = 1234,
        .completed = true,
        .output = output,
        .logs = logs,
        .started_ms = 1768471200000LL,
        .finished_ms = 1768471200001LL,
        .worker_pk = pk,
        .measurement = meas,
    };
}

static const char *
str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
test_builds_every_field(void **state)
{
    (void)state;
    json_t *input = json_loads(INPUT_TEXT, 0, NULL);
    json_t *output = json_pack("{s:i}", "a", 1);
    json_t *logs = json_pack("[s]", "hello");
    const struct sr_receipt_secret_ref refs[] = {{"api_key", "alice", 3}};
    struct sr_receipt_fields f = base_fields(input, output, logs);
    f.secret_refs = refs;
    f.n_secret_refs = 1;
    f.encrypted_output = "QUJD";
    json_t *r = NULL;
    char *canon = NULL;
    sr_err err = {0};
    assert_int_equal(sr_receipt_build(&f, &r, &canon, &err), SR_OK);
    assert_int_equal(json_object_size(r), 25);
    assert_string_equal(str(r, "version"), "sealrun.receipt.v1");
    assert_string_equal(str(r, "owner_hash"), ALICE_HASH);
    char h[65];
    sr_sha256_hex(SCRIPT, strlen(SCRIPT), h);
    assert_string_equal(str(r, "code_hash"), h);
    sr_sha256_hex("{\"a\":[1,\"x\"],\"b\":null}", 22, h);
    assert_string_equal(str(r, "input_hash"), h);
    sr_sha256_hex("{\"a\":1}", 7, h);
    assert_string_equal(str(r, "output_hash"), h);
    sr_sha256_hex("QUJD", 4, h); /* of the base64 text */
    assert_string_equal(str(r, "encrypted_output_hash"), h);
    sr_sha256_hex("[\"hello\"]", 9, h);
    assert_string_equal(str(r, "logs_hash"), h);
    assert_string_equal(str(r, "started_at"), "2026-01-15T10:00:00.000Z");
    assert_string_equal(str(r, "quote_type"), "none");
    assert_true(json_is_null(json_object_get(r, "quote")));
    assert_true(json_is_null(json_object_get(r, "error_code")));
    assert_true(json_is_null(json_object_get(r, "storage_version_before")));
    json_t *ref = json_array_get(json_object_get(r, "secret_refs"), 0);
    assert_string_equal(str(ref, "name"), "api_key");
    assert_int_equal(json_integer_value(json_object_get(ref, "version")), 3);
    /* the canonical text starts with the sorted first member, no spaces */
    assert_true(strncmp(canon, "{\"code_hash\":\"", 14) == 0);
    assert_non_null(
        strstr(canon, "\"limits\":{\"gas_limit\":1000,\"memory_mb\":128,\"timeout_s\":30}"));
    free(canon);
    json_decref(r);
    json_decref(input);
    json_decref(output);
    json_decref(logs);
}

static void
test_failed_job_has_null_output_hash(void **state)
{
    (void)state;
    struct sr_receipt_fields f = base_fields(NULL, NULL, NULL);
    f.completed = false;
    f.error_code = "TIMEOUT";
    json_t *r = NULL;
    sr_err err = {0};
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_OK);
    assert_true(json_is_null(json_object_get(r, "output_hash")));
    assert_string_equal(str(r, "error_code"), "TIMEOUT");
    assert_string_equal(str(r, "status"), "failed");
    char h[65];
    sr_sha256_hex("null", 4, h);
    assert_string_equal(str(r, "input_hash"), h); /* absent input is JSON null */
    sr_sha256_hex("[]", 2, h);
    assert_string_equal(str(r, "logs_hash"), h);
    json_decref(r);
}

static void
test_refuses_inconsistent_fields(void **state)
{
    (void)state;
    json_t *out = json_null();
    sr_err err = {0};
    json_t *r = NULL;
    struct sr_receipt_fields f = base_fields(NULL, out, NULL);
    f.job_id = "XYZ";
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'job_id'"));
    f = base_fields(NULL, out, NULL);
    f.error_code = "TIMEOUT";
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "cannot carry error code 'TIMEOUT'"));
    f = base_fields(NULL, out, NULL);
    f.completed = false;
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "needs an error code"));
    f = base_fields(NULL, NULL, NULL);
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "needs its output"));
    f = base_fields(NULL, out, NULL);
    f.gas_used = 1ull << 53;
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "2^53-1"));
    f = base_fields(NULL, out, out);
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "logs"));
    f = base_fields(NULL, out, NULL);
    f.worker_pk = NULL;
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    f = base_fields(NULL, out, NULL);
    f.n_secret_refs = 17;
    assert_int_equal(sr_receipt_build(&f, &r, NULL, &err), SR_EINVAL);
    assert_null(r);
}

static void
test_signature_is_ed25519_over_domain_nul_canonical(void **state)
{
    (void)state;
    struct sr_receipt_fields f = base_fields(NULL, json_null(), NULL);
    json_t *r = NULL;
    char *canon = NULL;
    char sig_hex[129];
    sr_err err = {0};
    assert_int_equal(sr_receipt_build(&f, &r, &canon, &err), SR_OK);
    assert_int_equal(sr_receipt_sign(key, canon, strlen(canon), sig_hex, &err), SR_OK);

    /* what a NEAR contract does: ed25519_verify(sig, message, pk) */
    size_t n = sizeof("sealrun.receipt.v1") + strlen(canon);
    uint8_t *msg = malloc(n);
    memcpy(msg, "sealrun.receipt.v1", sizeof("sealrun.receipt.v1")); /* with its 0x00 */
    memcpy(msg + sizeof("sealrun.receipt.v1"), canon, strlen(canon));
    uint8_t sig[64];
    assert_int_equal(sr_hex_decode(sig_hex, 128, sig, 64, NULL), SR_OK);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, n, pk), 0);
    free(msg);

    assert_int_equal(sr_receipt_verify(r, sig_hex, pk, &err), SR_OK);
    assert_int_equal(sr_receipt_verify(r, sig_hex, NULL, &err), SR_OK);
    free(canon);
    json_decref(r);
}

static void
test_verify_error_paths(void **state)
{
    (void)state;
    struct sr_receipt_fields f = base_fields(NULL, json_null(), NULL);
    json_t *r = NULL;
    char *canon = NULL;
    char sig[129];
    sr_err err = {0};
    assert_int_equal(sr_receipt_build(&f, &r, &canon, &err), SR_OK);
    assert_int_equal(sr_receipt_sign(key, canon, strlen(canon), sig, &err), SR_OK);
    uint8_t other[32];
    memset(other, 1, sizeof(other));
    assert_int_equal(sr_receipt_verify(r, sig, other, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "expected 0101"));

    char upper[129];
    memcpy(upper, sig, sizeof(upper));
    for (size_t i = 0; i < 128; i++)
        upper[i] = (char)(upper[i] >= 'a' ? upper[i] - 32 : upper[i]);
    assert_int_equal(sr_receipt_verify(r, upper, pk, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "lower-case hex"));
    assert_int_equal(sr_receipt_verify(r, "abcd", pk, &err), SR_EINVAL);

    json_object_set_new(r, "gas_used", json_integer(11));
    assert_int_equal(sr_receipt_verify(r, sig, pk, &err), SR_EDENIED);
    assert_string_equal(err.msg, "receipt signature does not verify");
    json_object_set_new(r, "gas_used", json_integer(10));
    assert_int_equal(sr_receipt_verify(r, sig, pk, &err), SR_OK);

    json_object_set_new(r, "version", json_string("sealrun.receipt.v2"));
    assert_int_equal(sr_receipt_verify(r, sig, pk, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'sealrun.receipt.v2'"));
    json_object_set_new(r, "version", json_string("sealrun.receipt.v1"));
    json_object_set_new(r, "worker_public_key", json_string("00"));
    assert_int_equal(sr_receipt_verify(r, sig, NULL, &err), SR_EINVAL);
    json_t *arr = json_array();
    assert_int_equal(sr_receipt_verify(arr, sig, NULL, &err), SR_EINVAL);
    json_decref(arr);
    free(canon);
    json_decref(r);
}

struct lines {
    int n[3];
    char last_fail[512];
};

static void
collect(void *arg, enum sr_check_result res, const char *line)
{
    struct lines *l = arg;
    l->n[res]++;
    if (res == SR_CHECK_FAIL)
        (void)snprintf(l->last_fail, sizeof(l->last_fail), "%s", line);
}

static json_t *
job_for(const struct sr_receipt_fields *f, json_t *output)
{
    json_t *r = NULL;
    char *canon = NULL;
    char sig[129];
    assert_int_equal(sr_receipt_build(f, &r, &canon, NULL), SR_OK);
    assert_int_equal(sr_receipt_sign(key, canon, strlen(canon), sig, NULL), SR_OK);
    free(canon);
    json_t *job = json_pack("{s:s, s:s, s:s, s:O, s:[], s:o, s:s}", "job_id", f->job_id, "runtime",
                            f->runtime, "status", f->completed ? "completed" : "failed", "output",
                            output, "logs", "receipt", r, "receipt_signature", sig);
    if (!f->completed)
        json_object_set_new(job, "error", json_pack("{s:s}", "code", f->error_code));
    return job;
}

static void
test_check_job_reports_each_check(void **state)
{
    (void)state;
    json_t *input = json_loads(INPUT_TEXT, 0, NULL);
    json_t *output = json_pack("{s:i}", "a", 1);
    struct sr_receipt_fields f = base_fields(input, output, NULL);
    json_t *job = job_for(&f, output);
    struct lines l = {0};
    sr_err err = {0};
    const struct sr_receipt_check_opts o = {.worker_pk = pk,
                                            .measurement = meas,
                                            .code = SCRIPT,
                                            .code_len = strlen(SCRIPT),
                                            .has_code = true,
                                            .input = input};
    assert_int_equal(sr_receipt_check_job(job, &o, collect, &l, &err), SR_OK);
    assert_int_equal(l.n[SR_CHECK_FAIL], 0);
    assert_int_equal(l.n[SR_CHECK_OK], 10);
    assert_int_equal(l.n[SR_CHECK_SKIP], 1); /* quote: none */

    /* wrong code, input and measurement are each a failing line */
    uint8_t other_meas[32] = {0};
    json_t *other_input = json_pack("{s:i}", "a", 2);
    const struct sr_receipt_check_opts bad = {.measurement = other_meas,
                                              .code = "x",
                                              .code_len = 1,
                                              .has_code = true,
                                              .input = other_input};
    memset(&l, 0, sizeof(l));
    assert_int_equal(sr_receipt_check_job(job, &bad, collect, &l, &err), SR_EDENIED);
    assert_int_equal(l.n[SR_CHECK_FAIL], 3);
    assert_non_null(strstr(err.msg, "3 check(s) failed; first: code hash"));
    assert_non_null(strstr(l.last_fail, "measurement"));

    /* the runtime changed in the job only (or missing): a JavaScript
     * receipt does not vouch for a WebAssembly job */
    json_object_set_new(job, "runtime", json_string("wasm"));
    memset(&l, 0, sizeof(l));
    assert_int_equal(sr_receipt_check_job(job, NULL, collect, &l, &err), SR_EDENIED);
    assert_int_equal(l.n[SR_CHECK_FAIL], 1);
    assert_non_null(strstr(err.msg, "runtime 'wasm' differs from the receipt's 'js'"));
    json_object_del(job, "runtime");
    assert_int_equal(sr_receipt_check_job(job, NULL, NULL, NULL, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "runtime 'null' differs from the receipt's 'js'"));
    json_object_set_new(job, "runtime", json_string("js"));

    /* status changed in the job only */
    json_object_set_new(job, "status", json_string("failed"));
    memset(&l, 0, sizeof(l));
    assert_int_equal(sr_receipt_check_job(job, NULL, collect, &l, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "status/error code"));
    json_decref(other_input);
    json_decref(job);

    /* no receipt at all */
    json_t *bare = json_pack("{s:s}", "job_id", JOB_ID);
    assert_int_equal(sr_receipt_check_job(bare, NULL, NULL, NULL, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "no receipt"));
    json_decref(bare);
    json_decref(input);
    json_decref(output);
}

static void
test_failed_job_verifies_and_must_not_carry_output(void **state)
{
    (void)state;
    struct sr_receipt_fields f = base_fields(NULL, NULL, NULL);
    f.completed = false;
    f.error_code = "MEMORY_LIMIT";
    json_t *job = job_for(&f, json_null());
    sr_err err = {0};
    assert_int_equal(sr_receipt_check_job(job, &(struct sr_receipt_check_opts){.worker_pk = pk},
                                          NULL, NULL, &err),
                     SR_OK);
    json_object_set_new(job, "output", json_pack("{s:i}", "forged", 1));
    assert_int_equal(sr_receipt_check_job(job, NULL, NULL, NULL, &err), SR_EDENIED);
    assert_non_null(strstr(err.msg, "carries an output"));
    json_object_set_new(job, "output", json_null());
    json_object_set_new(json_object_get(job, "error"), "code", json_string("TIMEOUT"));
    assert_int_equal(sr_receipt_check_job(job, NULL, NULL, NULL, &err), SR_EDENIED);
    json_decref(job);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builds_every_field),
        cmocka_unit_test(test_failed_job_has_null_output_hash),
        cmocka_unit_test(test_refuses_inconsistent_fields),
        cmocka_unit_test(test_signature_is_ed25519_over_domain_nul_canonical),
        cmocka_unit_test(test_verify_error_paths),
        cmocka_unit_test(test_check_job_reports_each_check),
        cmocka_unit_test(test_failed_job_verifies_and_must_not_carry_output),
    };
    return cmocka_run_group_tests_name("receipt_build", tests, setup, teardown);
}
