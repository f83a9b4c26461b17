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

/* ---- the replayable stream of a recorded job (sr_random_replayable) ---- */

/* ChaCha20 (IETF) keystream under the job's seed, block after block; one
 * job process uses it for one job and is then discarded. */
static struct {
    uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
    uint8_t block[64];
    size_t used; /* bytes of block handed out */
    uint32_t counter;
} g_replay;

static const char *
replay_name(void)
{
    return "sealrun-replayable";
}

static void
replay_buf(void *const buf, const size_t size)
{
    static const uint8_t zeros[64];
    static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
    uint8_t *p = buf;
    size_t left = size;
    while (left > 0) {
        if (g_replay.used == sizeof(g_replay.block)) {
            crypto_stream_chacha20_ietf_xor_ic(g_replay.block, zeros, sizeof(zeros), nonce,
                                               g_replay.counter++, g_replay.key);
            g_replay.used = 0;
        }
        size_t n = sizeof(g_replay.block) - g_replay.used;
        n = n < left ? n : left;
        memcpy(p, g_replay.block + g_replay.used, n);
        g_replay.used += n;
        p += n;
        left -= n;
    }
}

static uint32_t
replay_random(void)
{
    uint32_t v;
    replay_buf(&v, sizeof(v));
    return v;
}

static randombytes_implementation g_replay_impl = {
    .implementation_name = replay_name,
    .random = replay_random,
    .buf = replay_buf,
};

void
sr_random_replayable(const uint8_t seed[32])
{
    memcpy(g_replay.key, seed, sizeof(g_replay.key));
    g_replay.used = sizeof(g_replay.block);
    g_replay.counter = 0;
    (void)randombytes_set_implementation(&g_replay_impl);
}
