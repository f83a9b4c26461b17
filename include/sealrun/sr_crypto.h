/* SPDX-License-Identifier: MIT
 *
 * sr_crypto.h - typed wrappers over libsodium: master keys and purpose
 * subkeys, hashes, the output MAC, sealed boxes, API tokens and ids.
 *
 * Key material lives in sodium_malloc'd memory and is wiped on free. Nothing
 * here logs or puts key bytes in an error message. Thread-safe once
 * sr_crypto_init() has returned.
 */
#ifndef SR_CRYPTO_H
#define SR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

typedef struct sr_keys sr_keys;

#define SR_HASH_HEX_LEN 64 /* hex SHA-256 without the NUL */
#define SR_ID_HEX_LEN 32   /* 128-bit ids */
#define SR_BOX_PK_LEN 32   /* X25519 */
#define SR_BOX_SK_LEN 32

/* Purpose labels: fixed and versioned; one per use of a subkey. */
#define SR_LABEL_OUTPUT_MAC "sealrun/output-mac/v1"
#define SR_LABEL_SECRETS_AT_REST "sealrun/secrets-at-rest/v1"
#define SR_LABEL_STORAGE "sealrun/storage/v1"
/* The store's at-rest subkey (of the compute master): jobs' requests and
 * results, module bytes and descriptions, secret policies (store_seal.c). */
#define SR_LABEL_STORE_AT_REST "sealrun/store-at-rest/v1"

/* Initialises libsodium. Call once before threads start. SR_EINTERNAL if it fails. */
sr_status sr_crypto_init(sr_err *err);

/* Loads COMPUTE_MASTER_KEY and SECRETS_MASTER_KEY (hex or base64, >= 32 bytes)
 * from the environment, else from DIR/keys/compute.key and secrets.key. With
 * 'dev', missing key files are created (mode 0600) and *created is set true.
 * Without keys and without 'dev', SR_EINVAL naming each missing key.
 * Returns owned: sr_keys_free().
 * Details: each key is looked up on its own (env, then file, then dev);
 * text is hex when all hex digits of even length, else standard base64
 * (padding optional); surrounding whitespace is ignored; decoded length
 * 32..1024 bytes. A set-but-bad variable is SR_EINVAL naming the variable
 * and the problem, never the value. A key file must be a regular file with
 * no group/other permission bits (SR_EINVAL with the chmod fix). Dev files
 * hold 32 random bytes as hex, are created with O_EXCL (directory 0700) and
 * a warning is logged. 'data_dir' may be NULL (environment only); 'created'
 * may be NULL. */
sr_status sr_keys_load(const char *data_dir, bool dev, bool *created, sr_keys **out, sr_err *err);

/* Which master keys sr_keys_load_only() loads. */
#define SR_KEYS_COMPUTE 1u
#define SR_KEYS_SECRETS 2u
/* Subkeys of the secrets master a process without it may be given. */
#define SR_KEYS_MAX_SUBKEYS 4

/* As sr_keys_load(), but only the masters in 'which' (SR_KEYS_COMPUTE,
 * SR_KEYS_SECRETS): a coordinator with a keystore loads the compute master
 * alone (docs/keystore.md), a keystore the secrets master alone. A master
 * not loaded is absent: its derive function must not be called for it
 * (sr_keys_has_secrets), except for a subkey given with
 * sr_keys_add_secrets_subkey(). */
sr_status sr_keys_load_only(const char *data_dir, bool dev, unsigned which, bool *created,
                            sr_keys **out, sr_err *err);
/* true when keys hold the secrets master. */
bool sr_keys_has_secrets(const sr_keys *keys);
/* true when sr_keys_derive_secrets(keys, label) may be called. */
bool sr_keys_has_secrets_subkey(const sr_keys *keys, const char *label);
/* Without the secrets master: copies key, the subkey of it for 'label'
 * (what sr_keys_derive_secrets returns for it). SR_ECONFLICT when keys hold
 * the master, SR_ELIMIT past SR_KEYS_MAX_SUBKEYS. */
sr_status sr_keys_add_secrets_subkey(sr_keys *keys, const char *label, const uint8_t key[32],
                                     sr_err *err);

/* Makes keys from raw bytes (tests, tools). Copies both. Each must be
 * 32..1024 bytes (SR_EINVAL). */
sr_status sr_keys_new(const uint8_t *compute, size_t compute_len, const uint8_t *secrets,
                      size_t secrets_len, sr_keys **out, sr_err *err);

/* Wipes and frees. NULL is a no-op. */
void sr_keys_free(sr_keys *keys);

/* 32-byte subkey of the compute master for 'label': BLAKE2b-256 keyed with
 * the master over the label bytes (no NUL). A master longer than 64 bytes is
 * first compressed to BLAKE2b-512("sealrun/master-key/v1" 0x00 master). */
void sr_keys_derive_compute(const sr_keys *keys, const char *label, uint8_t out[32]);
/* 32-byte subkey of the secrets master for 'label'; without the master,
 * the subkey given for label (aborts when none was: a bug). */
void sr_keys_derive_secrets(const sr_keys *keys, const char *label, uint8_t out[32]);

/* Hex SHA-256 of p[0..len) into out (65 bytes). */
void sr_sha256_hex(const void *p, size_t len, char out[SR_HASH_HEX_LEN + 1]);
/* SHA-256 of p[0..len), 32 raw bytes. */
void sr_sha256(const void *p, size_t len, uint8_t out[32]);

/* The output MAC (docs/output-protection.md): hex HMAC-SHA256 under the
 * SR_LABEL_OUTPUT_MAC subkey over
 *   "sealrun.output.v1" 0x00 job_id 0x00 output_hash_hex */
void sr_output_mac(const sr_keys *keys, const char *job_id, const char *output_hash_hex,
                   char out[SR_HASH_HEX_LEN + 1]);
/* Constant-time check of a hex MAC against the expected one. */
bool sr_output_mac_verify(const sr_keys *keys, const char *job_id, const char *output_hash_hex,
                          const char *mac_hex);

/* X25519 key pair for sealed boxes. */
void sr_box_keygen(uint8_t pk[SR_BOX_PK_LEN], uint8_t sk[SR_BOX_SK_LEN]);
/* Parses a base64 X25519 public key; SR_EINVAL says what was wrong. */
sr_status sr_box_pk_parse(const char *b64, uint8_t pk[SR_BOX_PK_LEN], sr_err *err);
/* Seals msg to pk (crypto_box_seal). Returns owned base64 in *out (free()). */
sr_status sr_box_seal(const uint8_t pk[SR_BOX_PK_LEN], const void *msg, size_t len, char **out,
                      sr_err *err);
/* Opens a base64 sealed box. SR_EDENIED "authentication failed" on any
 * tampering; returns owned plaintext (free()), NUL-terminated, length in *out_len. */
sr_status sr_box_open(const uint8_t pk[SR_BOX_PK_LEN], const uint8_t sk[SR_BOX_SK_LEN],
                      const char *b64, uint8_t **out, size_t *out_len, sr_err *err);

/* A new API token: "srt_" + 43 characters of base64url (256 random bits). */
#define SR_TOKEN_LEN 47
void sr_token_new(char out[SR_TOKEN_LEN + 1]);
/* SHA-256 of the token text: all the store ever keeps. */
void sr_token_hash(const char *token, uint8_t out[32]);

/* A random 128-bit id as 32 lower-case hex characters. */
void sr_random_id(char out[SR_ID_HEX_LEN + 1]);
/* Fills p with n random bytes. */
void sr_random_bytes(void *p, size_t n);
/* From now on every libsodium random draw of this process (randombytes_*,
 * key generation, sr_random_bytes) is the ChaCha20 keystream under 'seed':
 * the same seed gives the same bytes, in the same order. For the job
 * process of a recorded job only (docs/http.md "Record and replay"), which
 * is discarded after that job; there is no way back. Not thread-safe. */
void sr_random_replayable(const uint8_t seed[32]);

/* Constant-time equality of two byte strings of equal length. */
bool sr_ct_equal(const void *a, const void *b, size_t len);

#endif /* SR_CRYPTO_H */
