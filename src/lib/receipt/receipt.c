/* SPDX-License-Identifier: MIT
 *
 * receipt.c - building, signing and verifying the canonical job receipt
 * (docs/receipts.md has every field and the exact bytes).
 *
 * The signature is pure Ed25519 (RFC 8032) over
 *   "sealrun.receipt.v1" 0x00 JCS(receipt)
 * so any Ed25519 verifier, including NEAR's env::ed25519_verify(signature,
 * message, public_key), checks it without hashing first.
 */
#include "receipt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define HASH_INPUT_MAX (4u * SR_MIB) /* canonical input, output or logs we hash */

void
sr_receipt_owner_hash(const char *owner, char out[SR_HASH_HEX_LEN + 1])
{
    static const uint8_t domain[] = SR_OWNER_HASH_DOMAIN; /* hashed with its NUL */
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, domain, sizeof(domain));
    crypto_hash_sha256_update(&st, (const uint8_t *)owner, strlen(owner));
    crypto_hash_sha256_final(&st, h);
    sr_hex_encode(h, sizeof(h), out);
}

sr_status
sr_receipt_json_hash(const json_t *v, char out[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    sr_buf canon;
    sr_buf_init(&canon, HASH_INPUT_MAX);
    sr_status rc = sr_json_canonical(v, &canon, err);
    if (rc == SR_OK)
        sr_sha256_hex(canon.data ? canon.data : "", canon.len, out);
    sr_buf_fini(&canon);
    return rc;
}

sr_status
sr_receipt_canonical(const json_t *receipt, char **out, size_t *out_len, sr_err *err)
{
    sr_buf canon;
    sr_buf_init(&canon, SR_MAX_RECEIPT);
    sr_status rc = sr_json_canonical(receipt, &canon, err);
    if (rc != SR_OK) {
        sr_buf_fini(&canon);
        return sr_err_wrap(err, "canonicalising the receipt");
    }
    size_t len = canon.len;
    char *text = sr_buf_steal(&canon);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory canonicalising the receipt");
    *out = text;
    if (out_len)
        *out_len = len;
    return SR_OK;
}

/* ---- building ---- */

static sr_status
check_fields(const struct sr_receipt_fields *f, sr_err *err)
{
    if (!sr_is_lower_hex(f->job_id, SR_ID_HEX_LEN))
        return sr_err_set(err, SR_EINVAL, "receipt field 'job_id' must be %d lower-case hex",
                          SR_ID_HEX_LEN);
    const char *hashes[] = {f->code_hash_hex, f->input_hash_hex, f->output_hash_hex};
    for (size_t i = 0; i < 3; i++)
        if (hashes[i] && !sr_is_lower_hex(hashes[i], SR_HASH_HEX_LEN))
            return sr_err_set(err, SR_EINVAL,
                              "receipt of job '%s': a given hash is not %d lower-case hex",
                              f->job_id, SR_HASH_HEX_LEN);
    if (!f->owner || !f->runtime || !f->engine_version || (!f->code && !f->code_hash_hex) ||
        !f->worker_pk || !f->measurement)
        return sr_err_set(err, SR_EINVAL,
                          "receipt of job '%s' lacks one of owner, runtime, engine_version, "
                          "code, worker_pk, measurement",
                          f->job_id);
    if (f->completed && f->error_code)
        return sr_err_set(err, SR_EINVAL, "completed job '%s' cannot carry error code '%.32s'",
                          f->job_id, f->error_code);
    if (!f->completed && !f->error_code)
        return sr_err_set(err, SR_EINVAL, "failed job '%s' needs an error code", f->job_id);
    if (f->completed && !f->output && !f->output_hash_hex)
        return sr_err_set(err, SR_EINVAL, "completed job '%s' needs its output", f->job_id);
    if (f->logs && !json_is_array(f->logs))
        return sr_err_set(err, SR_EINVAL, "logs of job '%s' must be an array", f->job_id);
    if (f->vrf && (!json_is_array(f->vrf) || (json_array_size(f->vrf) && !f->vrf_pk)))
        return sr_err_set(err, SR_EINVAL, "the VRF uses of job '%s' need an array and a key",
                          f->job_id);
    if (f->n_secret_refs > SR_MAX_SECRET_REFS || (f->n_secret_refs && !f->secret_refs))
        return sr_err_set(err, SR_EINVAL, "job '%s' has %zu secret references; at most %d",
                          f->job_id, f->n_secret_refs, SR_MAX_SECRET_REFS);
    for (size_t i = 0; i < f->n_secret_refs; i++)
        if (!f->secret_refs[i].name || !f->secret_refs[i].owner ||
            f->secret_refs[i].version > SR_RECEIPT__MAX_INT)
            return sr_err_set(err, SR_EINVAL,
                              "secret reference %zu of job '%s' lacks a name or owner, or its "
                              "version is past 2^53-1",
                              i, f->job_id);
    if (f->gas_limit > SR_RECEIPT__MAX_INT || f->gas_used > SR_RECEIPT__MAX_INT ||
        f->duration_us > SR_RECEIPT__MAX_INT)
        return sr_err_set(err, SR_EINVAL,
                          "gas_limit, gas_used and duration_us of job '%s' must be <= 2^53-1",
                          f->job_id);
    return SR_OK;
}

static json_t *
hex_json(const uint8_t *p, size_t len)
{
    char hex[2 * SR_ED25519_SIG_LEN + 1];
    sr_hex_encode(p, len, hex);
    return json_string(hex);
}

static json_t *
opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *
time_json(int64_t ms)
{
    char ts[32];
    sr_time_rfc3339(ms, ts);
    return json_string(ts);
}

/* Sets o[k] = v; counts a failure (allocation) in *bad. */
static void
put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        (*bad)++;
}

static json_t *
secret_refs_json(const struct sr_receipt_fields *f)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < f->n_secret_refs; i++) {
        const struct sr_receipt_secret_ref *r = &f->secret_refs[i];
        json_t *e = json_pack("{s:s, s:s, s:I}", "name", r->name, "owner", r->owner, "version",
                              (json_int_t)r->version);
        if (!e || json_array_append_new(a, e) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The four content hashes: input, output, encrypted output, logs. */
static sr_status
put_hashes(const struct sr_receipt_fields *f, json_t *r, int *bad, sr_err *err)
{
    char h[SR_HASH_HEX_LEN + 1];
    sr_status rc = SR_OK;
    if (f->input_hash_hex)
        (void)snprintf(h, sizeof(h), "%s", f->input_hash_hex);
    else
        rc = sr_receipt_json_hash(f->input ? f->input : json_null(), h, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "hashing the input of job '%s'", f->job_id);
    put(r, "input_hash", json_string(h), bad);
    if (f->completed && f->output_hash_hex) {
        put(r, "output_hash", json_string(f->output_hash_hex), bad);
    } else if (f->completed) {
        rc = sr_receipt_json_hash(f->output, h, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "hashing the output of job '%s'", f->job_id);
        put(r, "output_hash", json_string(h), bad);
    } else {
        put(r, "output_hash", json_null(), bad);
    }
    if (f->encrypted_output) {
        sr_sha256_hex(f->encrypted_output, strlen(f->encrypted_output), h);
        put(r, "encrypted_output_hash", json_string(h), bad);
    } else {
        put(r, "encrypted_output_hash", json_null(), bad);
    }
    json_t *empty = json_array();
    rc = sr_receipt_json_hash(f->logs ? f->logs : empty, h, err);
    json_decref(empty);
    if (rc != SR_OK)
        return sr_err_wrap(err, "hashing the logs of job '%s'", f->job_id);
    put(r, "logs_hash", json_string(h), bad);
    return SR_OK;
}

static void
put_identity(const struct sr_receipt_fields *f, json_t *r, int *bad)
{
    char h[SR_HASH_HEX_LEN + 1];
    put(r, "version", json_string(SR_RECEIPT_VERSION), bad);
    put(r, "job_id", json_string(f->job_id), bad);
    sr_receipt_owner_hash(f->owner, h);
    put(r, "owner_hash", json_string(h), bad);
    put(r, "runtime", json_string(f->runtime), bad);
    put(r, "engine_version", json_string(f->engine_version), bad);
    put(r, "entry_point", opt_string(f->entry_point), bad);
    if (f->code_hash_hex)
        (void)snprintf(h, sizeof(h), "%s", f->code_hash_hex);
    else
        sr_sha256_hex(f->code, f->code_len, h);
    put(r, "code_hash", json_string(h), bad);
    put(r, "secret_refs", secret_refs_json(f), bad);
    put(r, "limits",
        json_pack("{s:I, s:I, s:I}", "timeout_s", (json_int_t)f->timeout_s, "memory_mb",
                  (json_int_t)f->memory_mb, "gas_limit", (json_int_t)f->gas_limit),
        bad);
}

static void
put_result(const struct sr_receipt_fields *f, json_t *r, int *bad)
{
    put(r, "gas_used", json_integer((json_int_t)f->gas_used), bad);
    put(r, "duration_us", json_integer((json_int_t)f->duration_us), bad);
    put(r, "status", json_string(f->completed ? "completed" : "failed"), bad);
    put(r, "error_code", opt_string(f->error_code), bad);
    put(r, "started_at", time_json(f->started_ms), bad);
    put(r, "finished_at", time_json(f->finished_ms), bad);
    put(r, "worker_public_key", hex_json(f->worker_pk, SR_ED25519_PK_LEN), bad);
    put(r, "measurement", hex_json(f->measurement, SR_MEASUREMENT_LEN), bad);
    enum sr_attest_provider p = f->quote ? sr_attest_quote_provider(f->quote) : SR_ATTEST_NONE;
    put(r, "quote_type", json_string(sr_attest_provider_name(p)), bad);
    const char *b64 = f->quote ? sr_attest_quote_base64(f->quote) : NULL;
    put(r, "quote", opt_string(p == SR_ATTEST_NONE ? NULL : b64), bad);
    put(r, "storage_version_before", opt_string(f->storage_version_before), bad);
    put(r, "storage_version_after", opt_string(f->storage_version_after), bad);
    /* only in receipts of jobs that asked for randomness: older receipts,
     * and every other job's, keep their exact bytes */
    if (f->vrf && json_array_size(f->vrf) > 0) {
        put(r, "vrf", json_deep_copy(f->vrf), bad);
        put(r, "vrf_public_key", hex_json(f->vrf_pk, 32), bad);
    }
    if (f->http) /* only when the job made requests: older receipts keep their bytes */
        put(r, "http", json_deep_copy(f->http), bad);
    if (f->key_uses && json_array_size(f->key_uses) > 0)
        put(r, "key_uses", json_deep_copy(f->key_uses), bad);
    if (f->cost)
        put(r, "cost", json_deep_copy(f->cost), bad);
    if (f->recording_sha256) /* only recorded jobs: the others keep their bytes */
        put(r, "recording_sha256", json_string(f->recording_sha256), bad);
    if (f->tier) /* WebAssembly jobs: which tier ran the module */
        put(r, "tier", json_string(f->tier), bad);
}

sr_status
sr_receipt_build(const struct sr_receipt_fields *f, json_t **receipt, char **canonical, sr_err *err)
{
    sr_status rc = check_fields(f, err);
    if (rc != SR_OK)
        return rc;
    json_t *r = json_object();
    if (!r)
        return sr_err_set(err, SR_ENOMEM, "out of memory building the receipt");
    int bad = 0;
    put_identity(f, r, &bad);
    put_result(f, r, &bad);
    rc = put_hashes(f, r, &bad, err);
    if (rc == SR_OK && bad)
        rc =
            sr_err_set(err, SR_ENOMEM, "out of memory building the receipt of job '%s'", f->job_id);
    char *text = NULL;
    if (rc == SR_OK && canonical)
        rc = sr_receipt_canonical(r, &text, NULL, err);
    if (rc != SR_OK) {
        json_decref(r);
        return rc;
    }
    if (canonical)
        *canonical = text;
    if (receipt)
        *receipt = r;
    else
        json_decref(r);
    return SR_OK;
}

/* ---- signing and verifying ---- */

/* "sealrun.receipt.v1" 0x00 canonical: the exact signed bytes. */
static uint8_t *
signed_message(const char *canonical, size_t len, size_t *out_len)
{
    static const char domain[] = SR_RECEIPT_VERSION;
    size_t n = 0;
    if (!sr_add_size(sizeof(domain), len, &n))
        return NULL;
    uint8_t *msg = malloc(n ? n : 1);
    if (!msg)
        return NULL;
    memcpy(msg, domain, sizeof(domain)); /* includes the 0x00 */
    memcpy(msg + sizeof(domain), canonical, len);
    *out_len = n;
    return msg;
}

sr_status
sr_receipt_sign(const sr_worker_key *key, const char *canonical, size_t len,
                char sig_hex[SR_ED25519_SIG_HEX_LEN + 1], sr_err *err)
{
    size_t n = 0;
    uint8_t *msg = signed_message(canonical, len, &n);
    if (!msg)
        return sr_err_set(err, SR_ENOMEM, "out of memory signing the receipt");
    uint8_t sig[SR_ED25519_SIG_LEN];
    sr_worker_key_sign(key, msg, n, sig);
    free(msg);
    sr_hex_encode(sig, sizeof(sig), sig_hex);
    return SR_OK;
}

static sr_status
receipt_key(const json_t *receipt, uint8_t pk[SR_ED25519_PK_LEN], sr_err *err)
{
    if (!json_is_object(receipt))
        return sr_err_set(err, SR_EINVAL, "receipt must be a JSON object");
    const char *v = json_string_value(json_object_get(receipt, "version"));
    if (!v || strcmp(v, SR_RECEIPT_VERSION) != 0)
        return sr_err_set(err, SR_EINVAL, "receipt version is '%.40s'; expected '%s'",
                          v ? v : "(missing)", SR_RECEIPT_VERSION);
    const char *k = json_string_value(json_object_get(receipt, "worker_public_key"));
    if (!sr_is_lower_hex(k, 2 * SR_ED25519_PK_LEN))
        return sr_err_set(err, SR_EINVAL,
                          "receipt field 'worker_public_key' must be %d lower-case hex characters",
                          2 * SR_ED25519_PK_LEN);
    return sr_hex_decode(k, 2 * SR_ED25519_PK_LEN, pk, SR_ED25519_PK_LEN, err);
}

sr_status
sr_receipt_verify(const json_t *receipt, const char *sig_hex, const uint8_t *expected_pk,
                  sr_err *err)
{
    uint8_t pk[SR_ED25519_PK_LEN];
    uint8_t sig[SR_ED25519_SIG_LEN];
    sr_status rc = receipt_key(receipt, pk, err);
    if (rc != SR_OK)
        return rc;
    if (!sr_is_lower_hex(sig_hex, SR_ED25519_SIG_HEX_LEN))
        return sr_err_set(err, SR_EINVAL, "receipt_signature must be %d lower-case hex characters",
                          SR_ED25519_SIG_HEX_LEN);
    (void)sr_hex_decode(sig_hex, SR_ED25519_SIG_HEX_LEN, sig, sizeof(sig), NULL);
    if (expected_pk && memcmp(pk, expected_pk, SR_ED25519_PK_LEN) != 0) {
        char want[2 * SR_ED25519_PK_LEN + 1];
        sr_hex_encode(expected_pk, SR_ED25519_PK_LEN, want);
        return sr_err_set(err, SR_EDENIED, "receipt names worker key %s; expected %s",
                          json_string_value(json_object_get(receipt, "worker_public_key")), want);
    }
    char *canon = NULL;
    size_t len = 0;
    rc = sr_receipt_canonical(receipt, &canon, &len, err);
    if (rc != SR_OK)
        return rc;
    size_t n = 0;
    uint8_t *msg = signed_message(canon, len, &n);
    free(canon);
    if (!msg)
        return sr_err_set(err, SR_ENOMEM, "out of memory verifying the receipt");
    int bad = crypto_sign_verify_detached(sig, msg, n, pk);
    free(msg);
    if (bad)
        return sr_err_set(err, SR_EDENIED, "receipt signature does not verify");
    return SR_OK;
}
