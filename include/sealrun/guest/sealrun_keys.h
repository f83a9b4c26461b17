/* SPDX-License-Identifier: MIT
 *
 * sealrun_keys.h - generated keys for WebAssembly guests of sealrun
 * (docs/secrets.md "Generated keys", docs/wasm.md). A job that names a
 * generated key in its secret_refs sees only its reference in the
 * environment (NAME=sealrun.keyref.v1:<kind>:<public key hex>); the private
 * key stays in the service, and the guest uses it with this import. Each
 * use is listed in the job's signed receipt; at most 64 uses per job and
 * 64 KiB of data per use.
 */
#ifndef SEALRUN_KEYS_H
#define SEALRUN_KEYS_H

#include <stdint.h>

/* Operations (the key's kind decides which it can do). */
#define SEALRUN_KEY_ED25519_SIGN 'E' /* data: the message; answer: 64-byte signature */
#define SEALRUN_KEY_SECP256K1_SIGN                                                                 \
    'S'                              /* data: a 32-byte hash; answer: r || s || recovery id (65) */
#define SEALRUN_KEY_SCHNORR_SIGN 'B' /* secp256k1, BIP-340; data: the message; answer: 64 bytes */
#define SEALRUN_KEY_X25519 'X'       /* data: the peer's 32-byte public key; answer: 32 bytes */
#define SEALRUN_KEY_HMAC 'H'         /* random32: HMAC-SHA-256 of data; answer: 32 bytes */

#define SEALRUN_KEY_EINVAL (-2)       /* a bad name, data, or an operation the key cannot do */
#define SEALRUN_KEY_ELIMIT (-3)       /* over 64 KiB of data, or the job used keys 64 times */
#define SEALRUN_KEY_EUNAVAILABLE (-4) /* no service here (sealrun run) or a host failure */
#define SEALRUN_KEY_EFAULT (-5)       /* a pointer and length outside linear memory */
#define SEALRUN_KEY_EDENIED (-6)      /* the job has no generated key of that name */

/* Uses the job's generated key 'name' for operation op on data; copies the
 * answer to out when it fits in out_cap and returns its length (so a short
 * buffer learns the length), or a SEALRUN_KEY_E* code. */
__attribute__((import_module("sealrun"), import_name("key_use"))) int32_t
sealrun_key_use(int32_t op, const char *name, uint32_t name_len, const void *data,
                uint32_t data_len, uint8_t *out, uint32_t out_cap);

#endif /* SEALRUN_KEYS_H */
