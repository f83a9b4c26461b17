/* SPDX-License-Identifier: MIT
 *
 * sr_vrf.h - a verifiable random function: ECVRF-EDWARDS25519-SHA512-TAI
 * (RFC 9381, suite 0x03) on libsodium's edwards25519 arithmetic.
 *
 * A key is an Ed25519 key (RFC 8032 5.1.5): a 32-byte secret seed and its
 * 32-byte public key. A proof (pi) is 80 bytes, the output (beta) 64
 * bytes; anyone with the public key checks that beta is the one output of
 * that key for alpha. Stateless and thread-safe; secret material is wiped.
 */
#ifndef SR_VRF_H
#define SR_VRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

#define SR_VRF_SEED 32
#define SR_VRF_PUBLIC 32
#define SR_VRF_PROOF 80
#define SR_VRF_OUTPUT 64

/* The public key of the secret seed (the Ed25519 public key). */
void sr_vrf_public(const uint8_t seed[SR_VRF_SEED], uint8_t pk[SR_VRF_PUBLIC]);

/* ECVRF_prove (RFC 9381 5.1): the proof of alpha[0..len) under seed, and
 * its output (ECVRF_proof_to_hash). SR_EINTERNAL only if the arithmetic
 * fails (a hash-to-curve candidate search that ends, with probability
 * 2^-256, without a point). */
sr_status sr_vrf_prove(const uint8_t seed[SR_VRF_SEED], const uint8_t *alpha, size_t len,
                       uint8_t proof[SR_VRF_PROOF], uint8_t output[SR_VRF_OUTPUT], sr_err *err);

/* ECVRF_verify (RFC 9381 5.3) with key validation: true and the output
 * when proof is pk's proof of alpha. False for anything else, including a
 * public key of small order and points that do not decode. Stricter than
 * the RFC in one respect: a proof whose Gamma has a small-order component
 * is refused (an honest prover never makes one). */
bool sr_vrf_verify(const uint8_t pk[SR_VRF_PUBLIC], const uint8_t proof[SR_VRF_PROOF],
                   const uint8_t *alpha, size_t len, uint8_t output[SR_VRF_OUTPUT]);

#endif /* SR_VRF_H */
