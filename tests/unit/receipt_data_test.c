/* SPDX-License-Identifier: MIT
 *
 * receipt_data_test.c - the example receipts in tests/data/receipts/ (also
 * the worked example of docs/receipts.md and the input of the node
 * verifier's tests).
 *
 * This test is their generator: it builds each job deterministically (fixed
 * worker seed, times, ids; the sealed output uses a fixed ephemeral key) and
 * compares with the checked-in file; with SR_UPDATE_DATA=1 it rewrites the
 * files instead. Then it verifies every file with sr_receipt_check_job and
 * flips every bit of the output, of the canonical receipt and of the
 * signature, one at a time: each flip must be caught.
 */
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
#include "sealrun/sr_json.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

/* Example values only: never use these keys for anything real. */
#define WORKER_SEED "4040404040404040404040404040404040404040404040404040404040404040"
#define COMPUTE_MASTER "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define BOX_SEED "6060606060606060606060606060606060606060606060606060606060606060"
#define EPHEMERAL_SEED "7070707070707070707070707070707070707070707070707070707070707070"
#define SCRIPT                                                                                     \
    "function main(input){ console.log(\"pair\", \"NEO/USD\"); return {price: input.usd * 100, "   \
    "pair: \"NEO/USD\", note: \"\xc3\xa9\"}; }\n"
#define INPUT "{\"usd\": 12.5}\n"
#define EXE_TEXT "sealrun example executable\n"
#define CONFIG                                                                                     \
    "{\"engines\":{\"js\":{\"jit\":true,\"name\":\"javascriptcore\",\"version\":\"2.44.3\"}},"     \
    "\"isolation\":\"tenant\",\"limits\":{\"max_memory_mb\":512,\"max_timeout_s\":120}}"
#define T0 1768471200000LL /* 2026-01-15T10:00:00.000Z */

struct example {
    const char *file;
    const char *job_id;
    bool completed;
    bool sealed;
};

static const struct example examples[] = {
    {"job-completed.json", "42ffd3ad29fb2e5cfe74259574a1aef2", true, false},
    {"job-failed.json", "9b1c0e7f5a2d4c6e8f0a1b2c3d4e5f60", false, false},
    {"job-sealed.json", "0d6f3a9c2b7e4f1a8c5d0e3b6a9f2c71", true, true},
};

static sr_worker_key *wkey;
static uint8_t wpk[32];
static uint8_t measurement[32];

static char *
data_path(const char *name)
{
    const char *src = getenv("SR_SOURCE_DIR");
    char *p = NULL;
    assert_true(asprintf(&p, "%s/tests/data/receipts/%s", src ? src : ".", name) > 0);
    return p;
}

static char *
read_text(const char *name, size_t *len)
{
    char *path = data_path(name);
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (f)
        fclose(f);
    free(path);
    if (len)
        *len = n;
    return buf;
}

static void
write_or_compare(const char *name, const char *text)
{
    char *path = data_path(name);
    if (getenv("SR_UPDATE_DATA")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
        fclose(f);
    } else {
        char *have = read_text(name, NULL);
        if (strcmp(have, text) != 0)
            fail_msg("%s differs from what the generator makes; run this test with "
                     "SR_UPDATE_DATA=1 and review the diff",
                     path);
        free(have);
    }
    free(path);
}

static void
hex32(const char *hex, uint8_t out[32])
{
    assert_int_equal(sr_hex_decode(hex, 64, out, 32, NULL), SR_OK);
}

/* crypto_box_seal with a fixed ephemeral key (libsodium's format: epk ||
 * box(msg, nonce = BLAKE2b-192(epk || pk), pk, esk)), so the file is stable. */
static char *
seal_fixed(const uint8_t pk[32], const char *msg, size_t len)
{
    uint8_t seed[32];
    uint8_t epk[32];
    uint8_t esk[32];
    uint8_t nonce[crypto_box_NONCEBYTES];
    crypto_generichash_state st;
    hex32(EPHEMERAL_SEED, seed);
    crypto_box_seed_keypair(epk, esk, seed);
    crypto_generichash_init(&st, NULL, 0, sizeof(nonce));
    crypto_generichash_update(&st, epk, 32);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, nonce, sizeof(nonce));
    size_t n = 32 + crypto_box_MACBYTES + len;
    uint8_t *out = malloc(n);
    assert_non_null(out);
    memcpy(out, epk, 32);
    assert_int_equal(crypto_box_easy(out + 32, (const uint8_t *)msg, len, nonce, pk, esk), 0);
    char *b64 = sr_base64_encode(out, n);
    free(out);
    return b64;
}

static void
set_time(json_t *job, const char *key, int64_t ms)
{
    char ts[32];
    sr_time_rfc3339(ms, ts);
    json_object_set_new(job, key, json_string(ts));
}

/* The job object as the engine answers it (src/lib/engine/job.c), plus
 * receipt and receipt_signature. */
static json_t *
make_job(const struct example *ex)
{
    json_t *input = json_loads(INPUT, 0, NULL);
    json_t *output =
        json_pack("{s:i, s:s, s:s}", "price", 1250, "pair", "NEO/USD", "note", "\xc3\xa9");
    json_t *logs = json_pack("[s]", "pair NEO/USD");
    json_t *job = json_pack("{s:s, s:s, s:s}", "job_id", ex->job_id, "status",
                            ex->completed ? "completed" : "failed", "runtime", "js");
    json_object_set(job, "output", ex->completed && !ex->sealed ? output : json_null());
    json_object_set(job, "logs", logs);
    if (!ex->completed)
        json_object_set_new(job, "error",
                            json_pack("{s:s, s:s}", "code", "EXECUTION_ERROR", "message",
                                      "TypeError: undefined is not an object (evaluating "
                                      "'input.usd') at main (job.js:1)"));
    json_object_set_new(job, "gas_used", json_integer(ex->completed ? 797 : 412));
    json_object_set_new(job, "gas_limit", json_integer(30000000));
    set_time(job, "created_at", T0);
    set_time(job, "started_at", T0 + 2);
    set_time(job, "finished_at", T0 + 98);
    json_object_set_new(job, "duration", json_string("96.2ms"));
    json_object_set_new(job, "duration_ms", json_integer(96));

    char *sealed = NULL;
    if (ex->completed) {
        sr_buf canon;
        sr_buf_init(&canon, 1 << 20);
        assert_int_equal(sr_json_canonical(output, &canon, NULL), SR_OK);
        char h[65];
        char mac[65];
        uint8_t master[32];
        sr_keys *keys = NULL;
        sr_sha256_hex(canon.data, canon.len, h);
        hex32(COMPUTE_MASTER, master);
        assert_int_equal(sr_keys_new(master, 32, master, 32, &keys, NULL), SR_OK);
        sr_output_mac(keys, ex->job_id, h, mac);
        sr_keys_free(keys);
        json_object_set_new(job, "output_hash", json_string(h));
        json_object_set_new(job, "signature", json_string(mac));
        if (ex->sealed) {
            uint8_t seed[32];
            uint8_t pk[32];
            uint8_t sk[32];
            hex32(BOX_SEED, seed);
            crypto_box_seed_keypair(pk, sk, seed);
            sealed = seal_fixed(pk, canon.data, canon.len);
            json_object_set_new(job, "encrypted_output", json_string(sealed));
        }
        sr_buf_fini(&canon);
    }

    const struct sr_receipt_fields f = {
        .job_id = ex->job_id,
        .owner = "alice",
        .runtime = "js",
        .engine_version = "javascriptcore 2.44.3",
        .entry_point = "main",
        .code = SCRIPT,
        .code_len = strlen(SCRIPT),
        .input = ex->completed ? input : NULL,
        .timeout_s = 30,
        .memory_mb = 128,
        .gas_limit = 30000000,
        .gas_used = ex->completed ? 797 : 412,
        .duration_us = 96200,
        .completed = ex->completed,
        .error_code = ex->completed ? NULL : "EXECUTION_ERROR",
        .output = ex->completed ? output : NULL,
        .encrypted_output = sealed,
        .logs = logs,
        .started_ms = T0 + 2,
        .finished_ms = T0 + 98,
        .worker_pk = wpk,
        .measurement = measurement,
    };
    json_t *receipt = NULL;
    char *canon = NULL;
    char sig[129];
    assert_int_equal(sr_receipt_build(&f, &receipt, &canon, NULL), SR_OK);
    assert_int_equal(sr_receipt_sign(wkey, canon, strlen(canon), sig, NULL), SR_OK);
    json_object_set_new(job, "receipt", receipt);
    json_object_set_new(job, "receipt_signature", json_string(sig));
    free(canon);
    free(sealed);
    json_decref(input);
    json_decref(output);
    json_decref(logs);
    return job;
}

static int
setup(void **state)
{
    (void)state;
    uint8_t seed[32];
    uint8_t exe[32];
    if (sodium_init() < 0)
        return -1;
    hex32(WORKER_SEED, seed);
    if (sr_worker_key_new(seed, &wkey, NULL) != SR_OK)
        return -1;
    sr_worker_key_public(wkey, wpk);
    json_t *cfg = json_loads(CONFIG, 0, NULL);
    crypto_hash_sha256(exe, (const uint8_t *)EXE_TEXT, strlen(EXE_TEXT));
    sr_status rc = sr_measurement_combine(exe, cfg, measurement, NULL);
    json_decref(cfg);
    return rc == SR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    sr_worker_key_free(wkey);
    return 0;
}

static void
test_generator_matches_checked_in_files(void **state)
{
    (void)state;
    char pk_hex[65];
    char m_hex[65];
    char line[256];
    sr_hex_encode(wpk, 32, pk_hex);
    sr_hex_encode(measurement, 32, m_hex);
    (void)snprintf(line, sizeof(line), "%s\n", pk_hex);
    write_or_compare("worker.pub", line);
    (void)snprintf(line, sizeof(line), "%s\n", m_hex);
    write_or_compare("measurement.hex", line);
    write_or_compare("script.js", SCRIPT);
    write_or_compare("input.json", INPUT);
    write_or_compare("sealrund.example", EXE_TEXT);
    write_or_compare("config.json", CONFIG "\n");
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        json_t *job = make_job(&examples[i]);
        char *text = json_dumps(job, JSON_INDENT(2));
        char *with_nl = NULL;
        assert_true(asprintf(&with_nl, "%s\n", text) > 0);
        write_or_compare(examples[i].file, with_nl);
        free(with_nl);
        free(text);
        json_decref(job);
    }
}

static json_t *
load_job(const char *name)
{
    size_t len = 0;
    char *text = read_text(name, &len);
    json_t *job = NULL;
    assert_int_equal(sr_json_parse(text, len, 64, name, &job, NULL), SR_OK);
    free(text);
    return job;
}

static void
count_line(void *arg, enum sr_check_result res, const char *line)
{
    (void)line;
    int *n = arg;
    n[res]++;
}

static void
test_checked_in_jobs_verify_with_every_check(void **state)
{
    (void)state;
    json_t *input = json_loads(INPUT, 0, NULL);
    const struct sr_receipt_check_opts o = {.worker_pk = wpk,
                                            .measurement = measurement,
                                            .code = SCRIPT,
                                            .code_len = strlen(SCRIPT),
                                            .has_code = true,
                                            .input = input};
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        json_t *job = load_job(examples[i].file);
        int n[3] = {0};
        sr_err err = {0};
        const struct sr_receipt_check_opts *po = &o;
        struct sr_receipt_check_opts failed_opts = o;
        failed_opts.input = NULL; /* the failed example ran with no input */
        if (!examples[i].completed)
            po = &failed_opts;
        sr_status rc = sr_receipt_check_job(job, po, count_line, n, &err);
        if (rc != SR_OK)
            fail_msg("%s: %s", examples[i].file, err.msg);
        assert_int_equal(n[SR_CHECK_FAIL], 0);
        assert_true(n[SR_CHECK_OK] >= 8);
        json_decref(job);
    }
    json_decref(input);
}

static void
test_sealed_example_opens_to_the_hashed_output(void **state)
{
    (void)state;
    json_t *job = load_job("job-sealed.json");
    uint8_t seed[32];
    uint8_t pk[32];
    uint8_t sk[32];
    hex32(BOX_SEED, seed);
    crypto_box_seed_keypair(pk, sk, seed);
    uint8_t *plain = NULL;
    size_t len = 0;
    const char *enc = json_string_value(json_object_get(job, "encrypted_output"));
    assert_int_equal(sr_box_open(pk, sk, enc, &plain, &len, NULL), SR_OK);
    char h[65];
    sr_sha256_hex(plain, len, h);
    assert_string_equal(
        h, json_string_value(json_object_get(json_object_get(job, "receipt"), "output_hash")));
    free(plain);
    json_decref(job);
}

/* Flips bits of text[0..len), one at a time: for each byte, each bit set in
 * 'bits'. For each flip that still parses, 'apply' puts the value into a
 * copy of the job, and the check must fail. Returns the flips tried. */
static size_t
flip_all(const json_t *job, const char *text, size_t len, unsigned bits,
         void (*apply)(json_t *job, const json_t *v))
{
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t tried = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            if (!(bits & (1u << bit)))
                continue;
            tried++;
            memcpy(buf, text, len + 1);
            buf[i] = (char)(buf[i] ^ (1 << bit));
            json_t *v = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
            if (!v)
                continue; /* no longer JSON: any verifier rejects it */
            json_t *copy = json_deep_copy(job);
            apply(copy, v);
            if (sr_receipt_check_job(copy, NULL, NULL, NULL, NULL) == SR_OK)
                fail_msg("flip of bit %d of byte %zu ('%c') not caught", bit, i, text[i]);
            json_decref(copy);
            json_decref(v);
        }
    }
    free(buf);
    return tried;
}

static void
apply_output(json_t *job, const json_t *v)
{
    json_object_set(job, "output", (json_t *)(uintptr_t)v);
}

static void
apply_receipt(json_t *job, const json_t *v)
{
    json_object_set(job, "receipt", (json_t *)(uintptr_t)v);
}

static void
apply_signature(json_t *job, const json_t *v)
{
    json_object_set(job, "receipt_signature", (json_t *)(uintptr_t)v);
}

static void
test_every_single_bit_flip_is_caught(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        json_t *job = load_job(examples[i].file);
        assert_int_equal(sr_receipt_check_job(job, NULL, NULL, NULL, NULL), SR_OK);
        char *out = json_dumps(json_object_get(job, "output"), JSON_COMPACT | JSON_ENCODE_ANY);
        char *rec = NULL;
        size_t rec_len = 0;
        assert_int_equal(
            sr_receipt_canonical(json_object_get(job, "receipt"), &rec, &rec_len, NULL), SR_OK);
        char *sig = NULL;
        assert_true(asprintf(&sig, "\"%s\"",
                             json_string_value(json_object_get(job, "receipt_signature"))) > 0);
        /* output and receipt: the low bit (a different character) and 0x20
         * (case: "A" for "a"); a set high bit is never valid UTF-8 here.
         * signature: every bit. */
        size_t n = flip_all(job, out, strlen(out), 0x21, apply_output);
        n += flip_all(job, rec, rec_len, 0x21, apply_receipt);
        n += flip_all(job, sig, strlen(sig), 0xff, apply_signature);
        assert_true(n > 2 * rec_len + 8 * 128);
        free(out);
        free(rec);
        free(sig);
        json_decref(job);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_matches_checked_in_files),
        cmocka_unit_test(test_checked_in_jobs_verify_with_every_check),
        cmocka_unit_test(test_sealed_example_opens_to_the_hashed_output),
        cmocka_unit_test(test_every_single_bit_flip_is_caught),
    };
    return cmocka_run_group_tests_name("receipt_data", tests, setup, teardown);
}
