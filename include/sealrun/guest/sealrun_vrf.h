/* SPDX-License-Identifier: MIT
 *
 * sealrun_vrf.h - verifiable randomness for WebAssembly guests of sealrun
 * (docs/receipts.md "Verifiable randomness", docs/wasm.md). The import of
 * module "sealrun" asks the service for the ECVRF-EDWARDS25519-SHA512-TAI
 * output of the worker's VRF key over this job's id, its owner and the
 * seed; the proof lets anyone check it (sealrun verify-vrf), and every call
 * is listed in the job's signed receipt. The same seed in the same job gives
 * the same output. At most 8 calls per job, seeds of at most 256 bytes.
 */
#ifndef SEALRUN_VRF_H
#define SEALRUN_VRF_H

#include <stdint.h>

#define SEALRUN_VRF_EINVAL (-2)       /* the seed is longer than 256 bytes */
#define SEALRUN_VRF_ELIMIT (-3)       /* the job already called it 8 times */
#define SEALRUN_VRF_EUNAVAILABLE (-4) /* no VRF key here (sealrun run) or a host failure */
#define SEALRUN_VRF_EFAULT (-5)       /* a pointer and length outside linear memory */

#define SEALRUN_VRF_MAX_SEED 256
#define SEALRUN_VRF_OUTPUT 64
#define SEALRUN_VRF_PROOF 80
#define SEALRUN_VRF_PUBLIC_KEY 32

/* Writes output (64 bytes) || proof (80) || the VRF public key (32), 176
 * bytes in all, to out, and returns 0; or a SEALRUN_VRF_E* code. */
__attribute__((import_module("sealrun"), import_name("vrf"))) int32_t
sealrun_vrf(const void *seed, uint32_t seed_len, uint8_t *out);

#endif /* SEALRUN_VRF_H */
