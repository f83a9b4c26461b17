/* SPDX-License-Identifier: MIT
 *
 * sr_secp256k1.h - the secp256k1 curve of Bitcoin and Ethereum, on Debian's
 * libsecp256k1 (the library Bitcoin Core uses): ECDSA with deterministic
 * nonces (RFC 6979) and low-s signatures, public key recovery, and BIP-340
 * Schnorr signatures over x-only keys.
 *
 * Keys and signatures are fixed-size byte strings: a private key is 32
 * bytes (a scalar in [1, n)), a public key 33 (compressed) or 65 bytes
 * (uncompressed SEC 1), an x-only key 32 bytes, an ECDSA signature 64
 * bytes (r || s), a Schnorr signature 64 bytes. Private bytes are copied
 * nowhere but the library's stack and wiped there by it. Thread-safe: one
 * process-wide context, made and randomised on first use.
 */
#ifndef SR_SECP256K1_H
#define SR_SECP256K1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

#define SR_SECP256K1_SECRET 32
#define SR_SECP256K1_PUB_COMPRESSED 33
#define SR_SECP256K1_PUB_UNCOMPRESSED 65
#define SR_SECP256K1_XONLY 32
#define SR_SECP256K1_SIG 64

/* The public key of sk: 33 bytes when compressed, else 65, into out (of
 * at least 65 bytes); *out_len is set. SR_EINVAL when sk is not a scalar in
 * [1, n). */
sr_status sr_secp256k1_pubkey(const uint8_t sk[SR_SECP256K1_SECRET], bool compressed, uint8_t *out,
                              size_t *out_len, sr_err *err);

/* ECDSA over the 32-byte hash with sk, nonce from RFC 6979, s in the lower
 * half: sig = r || s and *recid (0..3) for sr_secp256k1_recover. SR_EINVAL
 * for an invalid sk. */
sr_status sr_secp256k1_sign(const uint8_t hash[32], const uint8_t sk[SR_SECP256K1_SECRET],
                            uint8_t sig[SR_SECP256K1_SIG], int *recid, sr_err *err);

/* True if sig (r || s, s in the lower half, as libsecp256k1 and Bitcoin
 * require) signs hash under pub (33 or 65 bytes). False for anything that
 * does not parse. */
bool sr_secp256k1_verify(const uint8_t sig[SR_SECP256K1_SIG], const uint8_t hash[32],
                         const uint8_t *pub, size_t pub_len);

/* The public key that made sig over hash with recovery id recid, into out
 * (33 or 65 bytes as 'compressed' says). SR_EINVAL when no key does. */
sr_status sr_secp256k1_recover(const uint8_t sig[SR_SECP256K1_SIG], int recid,
                               const uint8_t hash[32], bool compressed, uint8_t *out,
                               size_t *out_len, sr_err *err);

/* The BIP-340 x-only public key of sk. SR_EINVAL for an invalid sk. */
sr_status sr_secp256k1_xonly(const uint8_t sk[SR_SECP256K1_SECRET], uint8_t out[SR_SECP256K1_XONLY],
                             sr_err *err);

/* BIP-340 Schnorr signature of msg[0..len) (any length) with sk and the 32
 * bytes aux (NULL: 32 fresh random bytes, as BIP-340 recommends).
 * SR_EINVAL for an invalid sk. */
sr_status sr_secp256k1_schnorr_sign(const uint8_t *msg, size_t len,
                                    const uint8_t sk[SR_SECP256K1_SECRET], const uint8_t *aux,
                                    uint8_t sig[SR_SECP256K1_SIG], sr_err *err);

/* True if sig is a BIP-340 signature of msg[0..len) under the x-only key. */
bool sr_secp256k1_schnorr_verify(const uint8_t sig[SR_SECP256K1_SIG], const uint8_t *msg,
                                 size_t len, const uint8_t xonly[SR_SECP256K1_XONLY]);

#endif /* SR_SECP256K1_H */
