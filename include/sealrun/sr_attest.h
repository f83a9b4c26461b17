/* SPDX-License-Identifier: MIT
 *
 * sr_attest.h - attestation quotes that bind the worker's public key and
 * measurement to the machine (docs/receipts.md, "Quote providers").
 *
 * Providers:
 *   none  software only: there is no quote; receipts and /attestation say
 *         "quote_type":"none" and "quote":null, so nobody mistakes them for
 *         hardware-backed.
 *   tdx   Intel TDX through the Linux configfs-tsm report interface
 *         (Documentation/ABI/testing/configfs-tsm-report): mkdir a report
 *         directory under the root, write report_data to 'inblob', read the
 *         quote from 'outblob' (checking 'provider' and that 'generation'
 *         advanced by exactly our one write), rmdir.
 *
 * report_data (64 bytes) = SHA-512(worker public key (32) || measurement (32)).
 *
 * A quote is taken once at start (the key and measurement do not change while
 * sealrund runs) and is immutable afterwards: any number of threads may read
 * it. sr_attest_quote_new() is not meant to run concurrently with itself on
 * one report root (each call makes its own directory, so it is safe, but
 * there is no reason to).
 */
#ifndef SR_ATTEST_H
#define SR_ATTEST_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_err.h"

typedef struct sr_attest_quote sr_attest_quote;

#define SR_ATTEST_TSM_ROOT "/sys/kernel/config/tsm/report" /* kernel default */
#define SR_ATTEST_MAX_QUOTE (64u * 1024u) /* bytes of outblob we accept; TDX quotes are ~5 KiB */
#define SR_REPORT_DATA_LEN 64

enum sr_attest_provider {
    SR_ATTEST_NONE = 0, /* software only */
    SR_ATTEST_TDX,      /* configfs-tsm, provider "tdx_guest" */
};

struct sr_attest_config {
    enum sr_attest_provider provider; /* SR_ATTEST_NONE by default */
    const char *tsm_root;             /* borrowed; NULL = SR_ATTEST_TSM_ROOT */
};

/* "none" or "tdx" into *out; SR_EINVAL naming the value and the choices. */
sr_status sr_attest_provider_parse(const char *name, enum sr_attest_provider *out, sr_err *err);

/* "none" or "tdx". Never NULL. */
const char *sr_attest_provider_name(enum sr_attest_provider p);

/* report_data = SHA-512(pk || measurement). */
void sr_attest_report_data(const uint8_t pk[32], const uint8_t measurement[32],
                           uint8_t out[SR_REPORT_DATA_LEN]);

/* Takes a quote for (pk, measurement) with cfg's provider. For SR_ATTEST_NONE
 * it cannot fail except SR_ENOMEM. For SR_ATTEST_TDX: SR_ENOTFOUND when the
 * report root does not exist (the message names the path and what to check),
 * SR_EIO for file errors (naming the file), SR_EINVAL when the provider is
 * not TDX, the outblob is empty or larger than SR_ATTEST_MAX_QUOTE, or
 * 'generation' shows another writer. Copies cfg, pk and measurement.
 * Returns owned: sr_attest_quote_free(). */
sr_status sr_attest_quote_new(const struct sr_attest_config *cfg, const uint8_t pk[32],
                              const uint8_t measurement[32], sr_attest_quote **out, sr_err *err);

/* NULL is a no-op. */
void sr_attest_quote_free(sr_attest_quote *q);

/* The provider that made it. */
enum sr_attest_provider sr_attest_quote_provider(const sr_attest_quote *q);

/* Raw quote bytes (outblob); NULL and *len = 0 for "none". Returns borrowed,
 * valid until sr_attest_quote_free(). */
const uint8_t *sr_attest_quote_bytes(const sr_attest_quote *q, size_t *len);

/* Standard base64 of the quote bytes, or NULL for "none". Borrowed as above. */
const char *sr_attest_quote_base64(const sr_attest_quote *q);

/* The configfs-tsm 'provider' text ("tdx_guest"), or "" for "none". Borrowed. */
const char *sr_attest_quote_tsm_provider(const sr_attest_quote *q);

/* The document GET /attestation returns (docs/receipts.md):
 *   {"worker_public_key": hex, "measurement": hex, "report_data": hex,
 *    "quote_type": "none"|"tdx", "quote": base64|null,
 *    "tsm_provider": text|null, "note": text}
 * plus "exe_sha256": hex and "config": {...} when those are given (so an
 * operator can recompute the measurement). Borrows everything; copies what it
 * keeps. Returns owned (json_decref), or SR_ENOMEM. */
sr_status sr_attest_document(const sr_attest_quote *q, const uint8_t pk[32],
                             const uint8_t measurement[32], const uint8_t *exe_sha256,
                             const json_t *config, json_t **out, sr_err *err);

/* Checks that a TDX quote (version 4 or 5) carries
 * report_data = SHA-512(pk || measurement) in its TD report body (offset 568
 * for v4, 574 for v5). This proves the binding only; the quote's signature
 * chain is checked with Intel's DCAP tooling. SR_EINVAL says what differs. */
sr_status sr_attest_tdx_check_binding(const uint8_t *quote, size_t len, const uint8_t pk[32],
                                      const uint8_t measurement[32], sr_err *err);

#endif /* SR_ATTEST_H */
