/* SPDX-License-Identifier: MIT
 *
 * sr_receipt.h - signed job receipts: the worker's Ed25519 identity, the
 * measurement of the running sealrund, the canonical receipt (RFC 8785) of
 * a finished job, its signature, and verification of receipts and of whole
 * job objects (docs/receipts.md has every field and the exact bytes).
 *
 * The worker key is immutable after load and may be shared by any number of
 * threads; every other function is thread-safe and keeps no state.
 */
#ifndef SR_RECEIPT_H
#define SR_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_attest.h"
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"

typedef struct sr_worker_key sr_worker_key;

#define SR_RECEIPT_VERSION "sealrun.receipt.v1" /* also the signature's domain string */
#define SR_OWNER_HASH_DOMAIN "sealrun.owner.v1"
#define SR_MEASUREMENT_DOMAIN "sealrun.measurement.v1"
#define SR_WORKER_KEY_FILE "worker.key" /* under DATA_DIR/keys/ */
#define SR_ED25519_PK_LEN 32
#define SR_ED25519_SIG_LEN 64
#define SR_ED25519_SIG_HEX_LEN 128
#define SR_MEASUREMENT_LEN 32
/* Canonical receipt text: fixed fields plus a base64 quote and 16 secret refs. */
#define SR_MAX_RECEIPT (SR_ATTEST_MAX_QUOTE * 2u + 64u * 1024u)
/* Canonical measurement config. */
#define SR_MAX_MEASUREMENT_CONFIG (64u * 1024u)

/* ---- worker identity ---- */

/* Loads the worker key from DATA_DIR/keys/worker.key: 64 hex characters (the
 * Ed25519 seed) and an optional newline, a regular file with no group or
 * other permission bits. When the file is missing and 'create' is set, a new
 * random seed is written (directory 0700 if missing, file 0600, made with
 * O_EXCL under a temporary name and linked into place, so a concurrent start
 * or a crash never leaves a half-written key) and *created is set (may be
 * NULL). Missing without 'create': SR_ENOTFOUND naming the path. Bad content
 * or mode: SR_EINVAL naming the path and the fix, never the key. Seed and
 * secret key live in sodium_malloc'd read-only memory.
 * Returns owned: sr_worker_key_free(). */
sr_status sr_worker_key_load(const char *data_dir, bool create, bool *created, sr_worker_key **out,
                             sr_err *err);

/* A worker key from a known seed (tests, tools). Copies the seed. */
sr_status sr_worker_key_new(const uint8_t seed[32], sr_worker_key **out, sr_err *err);

/* Wipes and frees. NULL is a no-op. */
void sr_worker_key_free(sr_worker_key *key);

/* The 32-byte Ed25519 public key. */
void sr_worker_key_public(const sr_worker_key *key, uint8_t pk[SR_ED25519_PK_LEN]);

/* Pure Ed25519 (RFC 8032, no prehash) signature of msg[0..len). */
void sr_worker_key_sign(const sr_worker_key *key, const void *msg, size_t len,
                        uint8_t sig[SR_ED25519_SIG_LEN]);

/* Seals msg[0..len) to a worker: crypto_box_seal to the X25519 form of its
 * Ed25519 key 'pk', so that only the holder of that worker key opens it
 * (a job's secret values on their way to a remote worker). *out owned
 * base64 (free()). SR_EINVAL for a key that has no X25519 form. */
sr_status sr_worker_box_seal(const uint8_t pk[SR_ED25519_PK_LEN], const void *msg, size_t len,
                             char **out, sr_err *err);
/* Opens a box sealed to this worker key (sr_worker_box_seal). SR_EDENIED
 * "authentication failed" for any other box. *out owned (wipe, then
 * free()), NUL-terminated, *len bytes. */
sr_status sr_worker_key_box_open(const sr_worker_key *key, const char *b64, uint8_t **out,
                                 size_t *len, sr_err *err);

/* ---- a remote worker's signed requests (docs/workers.md, "Protocol") ----
 * Every request a worker makes to its coordinator carries its worker
 * token and, in headers, the time (epoch ms) and an Ed25519 signature of
 * the worker key over
 *   SHA-256("sealrun.worker.request.v1" 0x00 METHOD 0x00 PATH 0x00 QUERY 0x00
 *           TIME 0x00 SHA-256(body))
 * where QUERY is the decoded parameters as sent, "k=v" joined by '&' ("" for
 * none) and TIME the decimal text of the header. The coordinator accepts it
 * only from the key registered for the token and only within
 * SR_WORKER_CLOCK_SKEW_MS of its own clock. */
#define SR_WORKER_REQUEST_DOMAIN "sealrun.worker.request.v1"
#define SR_WORKER_CLOCK_SKEW_MS 60000
#define SR_WORKER_TIME_HEADER "X-Sealrun-Time"
#define SR_WORKER_SIGNATURE_HEADER "X-Sealrun-Signature"

/* The 32 bytes signed (above). Strings borrowed; body may be NULL when len is 0. */
void sr_worker_request_digest(const char *method, const char *path, const char *query,
                              const char *time_text, const void *body, size_t len, uint8_t out[32]);
/* Lower-case hex signature of the digest with the worker key. */
void sr_worker_request_sign(const sr_worker_key *key, const uint8_t digest[32],
                            char sig_hex[SR_ED25519_SIG_HEX_LEN + 1]);
/* SR_OK when sig_hex (128 lower-case hex characters) is pk's signature of
 * the digest; SR_EDENIED otherwise, saying which part was wrong. */
sr_status sr_worker_request_verify(const uint8_t pk[SR_ED25519_PK_LEN], const uint8_t digest[32],
                                   const char *sig_hex, sr_err *err);

/* ---- the worker's VRF key (docs/receipts.md "Verifiable randomness") ----
 * A second key of the worker, for ECVRF-EDWARDS25519-SHA512-TAI (sr_vrf.h):
 * its seed is BLAKE2b-256 keyed with the worker key's seed over
 * SR_VRF_KEY_DOMAIN, so it needs no file of its own and never signs. */
#define SR_VRF_KEY_DOMAIN "sealrun.vrf.key.v1"
#define SR_VRF_ALPHA_DOMAIN "sealrun.vrf.v1" /* with its NUL, the first bytes of alpha */
#define SR_VRF_MAX_SEED 256                  /* bytes of a job's seed */

/* The 32-byte public key of the worker's VRF key. */
void sr_worker_key_vrf_public(const sr_worker_key *key, uint8_t pk[32]);
/* ECVRF_prove of alpha[0..len) under the worker's VRF key (sr_vrf_prove). */
sr_status sr_worker_key_vrf_prove(const sr_worker_key *key, const uint8_t *alpha, size_t len,
                                  uint8_t proof[80], uint8_t output[64], sr_err *err);
/* Appends the VRF input of a job's seed to out:
 *   "sealrun.vrf.v1" 0x00 || job_id (32 hex) || owner_hash (64 hex, the
 *   receipt's: sr_receipt_owner_hash) || seed
 * (fixed widths: the seed is the rest), so a verifier rebuilds it from the
 * receipt alone. SR_EINVAL for a job id or owner hash that is not lower-case
 * hex of its width, or a seed over SR_VRF_MAX_SEED; SR_ELIMIT/SR_ENOMEM
 * from the buffer. */
sr_status sr_vrf_alpha(const char *job_id, const char *owner_hash, const uint8_t *seed,
                       size_t seed_len, sr_buf *out, sr_err *err);

/* ---- measurement ---- */

/* SHA-256 of the bytes of the file at 'path' (read in chunks; the running
 * executable is "/proc/self/exe"). SR_EIO naming the path on failure,
 * SR_EINVAL if it is not a regular file. */
sr_status sr_measurement_file_sha256(const char *path, uint8_t out[32], sr_err *err);

/* measurement = SHA-256("sealrun.measurement.v1" 0x00 || exe_sha256 (32 raw
 * bytes) || JCS(config)). 'config' must be an object (SR_EINVAL) whose
 * canonical form fits SR_MAX_MEASUREMENT_CONFIG (SR_ELIMIT). */
sr_status sr_measurement_combine(const uint8_t exe_sha256[32], const json_t *config,
                                 uint8_t out[SR_MEASUREMENT_LEN], sr_err *err);

/* sr_measurement_file_sha256(exe_path) then sr_measurement_combine(). */
sr_status sr_measurement_compute(const char *exe_path, const json_t *config,
                                 uint8_t out[SR_MEASUREMENT_LEN], sr_err *err);

/* ---- receipts ---- */

struct sr_receipt_secret_ref {
    const char *name;  /* secret name as referenced by the job */
    const char *owner; /* owner of the secret (as stored) */
    uint64_t version;  /* version the job saw; <= 2^53-1 */
};

/* Everything a receipt states, filled by the caller. All pointers are
 * borrowed for the call. Integers must be <= 2^53-1 (exact in JSON numbers
 * and in every verifier's doubles); the build refuses larger ones. */
struct sr_receipt_fields {
    const char *job_id;         /* 32 hex characters */
    const char *owner;          /* raw owner name; the receipt holds its hash */
    const char *runtime;        /* "js" or "wasm" */
    const char *engine_version; /* e.g. "javascriptcore 2.44.3", "sr_wasm 0.1.0" */
    const char *entry_point;    /* function called; NULL = null (WASI _start) */
    const void *code;           /* script text or module bytes (when no code_hash_hex) */
    size_t code_len;
    const char *code_hash_hex;  /* hex SHA-256 of the code, computed once by the caller */
    const json_t *input;        /* NULL = JSON null (when no input_hash_hex) */
    const char *input_hash_hex; /* hex SHA-256 of the canonical input, when already known */
    const struct sr_receipt_secret_ref *secret_refs; /* n_secret_refs entries */
    size_t n_secret_refs;                            /* <= SR_MAX_SECRET_REFS */
    uint32_t timeout_s;                              /* limits as applied */
    uint32_t memory_mb;
    uint64_t gas_limit;
    uint64_t gas_used;
    uint64_t duration_us;         /* wall clock of the run */
    bool completed;               /* status "completed", else "failed" */
    const char *error_code;       /* failed jobs: "TIMEOUT", ...; NULL when completed */
    const json_t *output;         /* completed jobs (when no output_hash_hex) */
    const char *output_hash_hex;  /* completed jobs: hex SHA-256 of the canonical output */
    const char *encrypted_output; /* base64 text as in the job, or NULL */
    const json_t *logs;           /* array of log entries; NULL = [] */
    int64_t started_ms;           /* Unix ms */
    int64_t finished_ms;
    const uint8_t *worker_pk;           /* 32 bytes */
    const uint8_t *measurement;         /* 32 bytes */
    const sr_attest_quote *quote;       /* NULL = quote_type "none" */
    const char *storage_version_before; /* NULL = null (no storage yet) */
    const char *storage_version_after;
    /* the job's crypto.vrf / sealrun.vrf calls, in order: an array of
     * {"seed": hex, "output": hex (64 bytes), "proof": hex (80 bytes)};
     * NULL or empty: the receipt has no "vrf" and no "vrf_public_key" */
    const json_t *vrf;
    const uint8_t *vrf_pk; /* 32 bytes, when vrf is not empty */
    const json_t *http;    /* the job's HTTP exchanges (docs/http.md), an array; NULL: the
                            * receipt has no "http" member (a job that made no request) */
    /* uses of the job's generated keys, in order: {"name", "kind",
     * "operation", "data_sha256"}; NULL or empty: no "key_uses" */
    const json_t *key_uses;
    /* what the job cost (docs/accounts.md): {"reserved", "charged", "refunded",
     * "unit"}; NULL: the receipt has no "cost" (no price table) */
    const json_t *cost;
    /* a recorded job: hex SHA-256 of its sealed recording as GET
     * /jobs/{id}/recording returns it (the base64 text of "recording");
     * NULL: no "recording_sha256" member */
    const char *recording_sha256;
    /* WebAssembly jobs: the tier that ran the module, "interp" or "native"
     * (docs/wasm.md "Two tiers"); NULL: no "tier" member (JavaScript) */
    const char *tier;
};

/* Builds the receipt object (*receipt, owned, json_decref) and its RFC 8785
 * canonical text (*canonical, owned, free(); NUL-terminated) from f. Either
 * out-pointer may be NULL if not wanted. SR_EINVAL names the field that is
 * missing or out of range (completed with an error_code, failed without
 * one, job_id not 32 hex, ...). */
sr_status sr_receipt_build(const struct sr_receipt_fields *f, json_t **receipt, char **canonical,
                           sr_err *err);

/* The canonical text of a receipt object (what is signed after the domain
 * prefix). Returns owned (free()), length in *out_len (may be NULL).
 * SR_EINVAL for non-finite numbers, SR_ELIMIT past SR_MAX_RECEIPT. */
sr_status sr_receipt_canonical(const json_t *receipt, char **out, size_t *out_len, sr_err *err);

/* receipt_signature = lower-case hex of Ed25519 over
 *   "sealrun.receipt.v1" 0x00 canonical[0..len)
 * into sig_hex (129 bytes with the NUL). SR_ENOMEM only. */
sr_status sr_receipt_sign(const sr_worker_key *key, const char *canonical, size_t len,
                          char sig_hex[SR_ED25519_SIG_HEX_LEN + 1], sr_err *err);

/* Verifies 'sig_hex' over the receipt. The public key is 'expected_pk' when
 * given, and then the receipt's worker_public_key must equal it; with NULL
 * the receipt's own key is used (proves integrity, not origin).
 * SR_EINVAL: the receipt is malformed (not an object, wrong version, key not
 * 64 lower-case hex) or the signature is not 128 lower-case hex.
 * SR_EDENIED: the key differs from expected_pk, or "receipt signature does
 * not verify". */
sr_status sr_receipt_verify(const json_t *receipt, const char *sig_hex, const uint8_t *expected_pk,
                            sr_err *err);

/* Hex SHA-256 of "sealrun.owner.v1" 0x00 owner. */
void sr_receipt_owner_hash(const char *owner, char out[SR_HASH_HEX_LEN + 1]);

/* Hex SHA-256 of JCS(v). SR_EINVAL/SR_ELIMIT as sr_json_canonical (cap 4 MiB). */
sr_status sr_receipt_json_hash(const json_t *v, char out[SR_HASH_HEX_LEN + 1], sr_err *err);

/* ---- checking a whole job object (sealrun verify) ---- */

/* What the verifier knows besides the job; every pointer may be NULL (that
 * check is then skipped and reported as skipped). Borrowed for the call. */
struct sr_receipt_check_opts {
    const uint8_t *worker_pk;   /* pinned key (32 bytes) */
    const uint8_t *measurement; /* expected measurement (32 bytes) */
    const void *code;           /* script or module bytes; has_code says if given */
    size_t code_len;
    bool has_code;
    const json_t *input; /* the job's input as given to the verifier */
};

/* Called once per check: ok is true, false, or (skipped) the check did not
 * apply; 'line' is a one-line description ("signature (Ed25519, pinned
 * key)", "output_hash matches the output: ..."). */
enum sr_check_result { SR_CHECK_OK, SR_CHECK_FAIL, SR_CHECK_SKIP };
typedef void (*sr_receipt_check_fn)(void *arg, enum sr_check_result res, const char *line);

/* Runs every check on a job object ({job_id, status, output, logs,
 * encrypted_output, output_hash, receipt, receipt_signature, ...}): receipt
 * present, signature, pinned key, job_id, runtime and status agree, error
 * code agrees, output hash recomputed from "output" (or absent for failed
 * jobs), encrypted_output hash, logs hash, code hash, input hash,
 * measurement, and for "tdx" receipts that the quote carries SHA-512(key ||
 * measurement).
 * Calls fn (may be NULL) for each. SR_OK only when no check failed; otherwise
 * SR_EDENIED with the first failure's line in err. */
sr_status sr_receipt_check_job(const json_t *job, const struct sr_receipt_check_opts *opts,
                               sr_receipt_check_fn fn, void *arg, sr_err *err);

#endif /* SR_RECEIPT_H */
