/* SPDX-License-Identifier: MIT
 *
 * token.c - API tokens, random ids and random bytes (libsodium's CSPRNG).
 *
 * A token is "srt_" followed by 32 random bytes in unpadded base64url (43
 * characters). The store keeps only SHA-256 of the token text.
 */
#include "sealrun/sr_crypto.h"

#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

#define TOKEN_PREFIX "srt_"
#define TOKEN_RANDOM_BYTES 32

_Static_assert(sizeof(TOKEN_PREFIX) - 1 + 43 == SR_TOKEN_LEN, "token length");

void
sr_token_new(char out[SR_TOKEN_LEN + 1])
{
    uint8_t raw[TOKEN_RANDOM_BYTES];
    const size_t plen = sizeof(TOKEN_PREFIX) - 1;

    randombytes_buf(raw, sizeof(raw));
    memcpy(out, TOKEN_PREFIX, plen);
    sodium_bin2base64(out + plen, SR_TOKEN_LEN + 1 - plen, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void
sr_token_hash(const char *token, uint8_t out[32])
{
    crypto_hash_sha256(out, (const uint8_t *)token, strlen(token));
}

void
sr_random_id(char out[SR_ID_HEX_LEN + 1])
{
    uint8_t raw[SR_ID_HEX_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sr_hex_encode(raw, sizeof(raw), out);
}

void
sr_random_bytes(void *p, size_t n)
{
    randombytes_buf(p, n);
}
