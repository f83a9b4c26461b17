/* SPDX-License-Identifier: MIT
 *
 * hash.c - SHA-256 in hex and the output MAC.
 *
 * The output MAC is HMAC-SHA256 under the SR_LABEL_OUTPUT_MAC subkey of the
 * compute master over the domain-separated message
 *   "sealrun.output.v1" 0x00 job_id 0x00 output_hash_hex
 * (docs/output-protection.md). The subkey and the HMAC state are wiped after
 * each use; verification compares the decoded MAC bytes in constant time.
 */
#include "sealrun/sr_crypto.h"

#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

#define OUTPUT_MAC_DOMAIN "sealrun.output.v1"

void
sr_sha256_hex(const void *p, size_t len, char out[SR_HASH_HEX_LEN + 1])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, len);
    sr_hex_encode(h, sizeof(h), out);
}

void
sr_sha256(const void *p, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, p, len);
}

static void
output_mac_raw(const sr_keys *keys, const char *job_id, const char *output_hash_hex,
               uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
    static const uint8_t zero = 0;
    uint8_t key[32];
    crypto_auth_hmacsha256_state st;

    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, key);
    crypto_auth_hmacsha256_init(&st, key, sizeof(key));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)OUTPUT_MAC_DOMAIN,
                                  strlen(OUTPUT_MAC_DOMAIN));
    crypto_auth_hmacsha256_update(&st, &zero, 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)job_id, strlen(job_id));
    crypto_auth_hmacsha256_update(&st, &zero, 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)output_hash_hex, strlen(output_hash_hex));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(key, sizeof(key));
}

void
sr_output_mac(const sr_keys *keys, const char *job_id, const char *output_hash_hex,
              char out[SR_HASH_HEX_LEN + 1])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    output_mac_raw(keys, job_id, output_hash_hex, mac);
    sr_hex_encode(mac, sizeof(mac), out);
}

bool
sr_output_mac_verify(const sr_keys *keys, const char *job_id, const char *output_hash_hex,
                     const char *mac_hex)
{
    uint8_t want[crypto_auth_hmacsha256_BYTES];
    uint8_t got[crypto_auth_hmacsha256_BYTES];

    if (!mac_hex || strnlen(mac_hex, SR_HASH_HEX_LEN + 1) != SR_HASH_HEX_LEN)
        return false;
    if (sr_hex_decode(mac_hex, SR_HASH_HEX_LEN, got, sizeof(got), NULL) != SR_OK)
        return false;
    output_mac_raw(keys, job_id, output_hash_hex, want);
    bool ok = sodium_memcmp(want, got, sizeof(want)) == 0;
    sodium_memzero(want, sizeof(want));
    return ok;
}

bool
sr_ct_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}
