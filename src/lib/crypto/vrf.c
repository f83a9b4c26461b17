/* SPDX-License-Identifier: MIT
 *
 * vrf.c - ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 5.5, suite 0x03):
 * encode_to_curve by try-and-increment (5.4.1.1), nonces as RFC 8032
 * (5.4.2.2), challenges of cLen = 16 bytes (5.4.3), proof_to_hash (5.2).
 * Point arithmetic is libsodium's crypto_core_ed25519 and
 * crypto_scalarmult_ed25519 (noclamp: the scalars are RFC 9381's).
 */
#include "sealrun/sr_vrf.h"

#include <string.h>
#include <sodium.h>

#define SUITE 0x03
#define CLEN 16
#define PT 32 /* encoded point */

/* The secret scalar x (clamped, RFC 8032 5.1.5) and the hash's second half,
 * the nonce key (5.4.2.2). */
struct vrf_secret {
    uint8_t x[32];
    uint8_t prefix[32];
};

static void
expand(const uint8_t seed[SR_VRF_SEED], struct vrf_secret *s)
{
    uint8_t h[64];
    crypto_hash_sha512(h, seed, SR_VRF_SEED);
    h[0] &= 248;
    h[31] &= 127;
    h[31] |= 64;
    memcpy(s->x, h, 32);
    memcpy(s->prefix, h + 32, 32);
    sodium_memzero(h, sizeof(h));
}

void
sr_vrf_public(const uint8_t seed[SR_VRF_SEED], uint8_t pk[SR_VRF_PUBLIC])
{
    struct vrf_secret s;
    expand(seed, &s);
    (void)crypto_scalarmult_ed25519_base_noclamp(pk, s.x);
    sodium_memzero(&s, sizeof(s));
}

/* RFC 8032 5.1.3 decoding's canonical check: y < p (the sign bit aside). */
static bool
canonical(const uint8_t p[PT])
{
    /* p = 2^255 - 19: little-endian ed ff .. ff 7f */
    if ((p[31] & 0x7f) != 0x7f)
        return true;
    for (int i = 30; i >= 1; i--)
        if (p[i] != 0xff)
            return true;
    return p[0] < 0xed;
}

/* 8 * p by three doublings (crypto_core_ed25519_add takes any point on the
 * curve, unlike scalar multiplication, which wants the prime-order
 * subgroup). False when p does not decode to a point on the curve. */
static bool
times_cofactor(const uint8_t p[PT], uint8_t out[PT])
{
    uint8_t t[PT];
    if (!canonical(p) || crypto_core_ed25519_add(t, p, p) != 0)
        return false;
    return crypto_core_ed25519_add(t, t, t) == 0 && crypto_core_ed25519_add(out, t, t) == 0;
}

static bool
is_identity(const uint8_t p[PT])
{
    static const uint8_t id[PT] = {1};
    return sodium_memcmp(p, id, PT) == 0;
}

/* ECVRF_encode_to_curve_try_and_increment with salt = the public key. */
static bool
encode_to_curve(const uint8_t pk[PT], const uint8_t *alpha, size_t len, uint8_t h[PT])
{
    for (unsigned ctr = 0; ctr < 256; ctr++) {
        crypto_hash_sha512_state st;
        const uint8_t head[2] = {SUITE, 0x01};
        const uint8_t tail[2] = {(uint8_t)ctr, 0x00};
        uint8_t hash[64];
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, head, 2);
        crypto_hash_sha512_update(&st, pk, PT);
        crypto_hash_sha512_update(&st, alpha, len);
        crypto_hash_sha512_update(&st, tail, 2);
        crypto_hash_sha512_final(&st, hash);
        if (times_cofactor(hash, h))
            return true; /* interpret_hash_value_as_a_point: the first 32 bytes */
    }
    return false;
}

/* ECVRF_challenge_generation: the first 16 bytes of
 * SHA-512(suite || 0x02 || P1 || ... || P5 || 0x00), as a 32-byte scalar. */
static void
challenge(const uint8_t *const pts[5], uint8_t c[32])
{
    crypto_hash_sha512_state st;
    const uint8_t head[2] = {SUITE, 0x02};
    const uint8_t tail[1] = {0x00};
    uint8_t hash[64];
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, head, 2);
    for (int i = 0; i < 5; i++)
        crypto_hash_sha512_update(&st, pts[i], PT);
    crypto_hash_sha512_update(&st, tail, 1);
    crypto_hash_sha512_final(&st, hash);
    memset(c, 0, 32);
    memcpy(c, hash, CLEN);
}

/* ECVRF_proof_to_hash from Gamma: SHA-512(suite || 0x03 || 8*Gamma || 0x00). */
static bool
gamma_to_hash(const uint8_t gamma[PT], uint8_t out[SR_VRF_OUTPUT])
{
    uint8_t g8[PT];
    if (!times_cofactor(gamma, g8))
        return false;
    crypto_hash_sha512_state st;
    const uint8_t head[2] = {SUITE, 0x03};
    const uint8_t tail[1] = {0x00};
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, head, 2);
    crypto_hash_sha512_update(&st, g8, PT);
    crypto_hash_sha512_update(&st, tail, 1);
    crypto_hash_sha512_final(&st, out);
    return true;
}

sr_status
sr_vrf_prove(const uint8_t seed[SR_VRF_SEED], const uint8_t *alpha, size_t len,
             uint8_t proof[SR_VRF_PROOF], uint8_t output[SR_VRF_OUTPUT], sr_err *err)
{
    struct vrf_secret s;
    uint8_t pk[PT], h[PT], gamma[PT], u[PT], v[PT], k[32], kh[64], c[32], cx[32];
    expand(seed, &s);
    bool ok = crypto_scalarmult_ed25519_base_noclamp(pk, s.x) == 0 &&
              encode_to_curve(pk, alpha ? alpha : (const uint8_t *)"", alpha ? len : 0, h) &&
              crypto_scalarmult_ed25519_noclamp(gamma, s.x, h) == 0;
    if (ok) {
        /* k = SHA-512(prefix || h_string) mod q */
        crypto_hash_sha512_state st;
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, s.prefix, 32);
        crypto_hash_sha512_update(&st, h, PT);
        crypto_hash_sha512_final(&st, kh);
        crypto_core_ed25519_scalar_reduce(k, kh);
        ok = crypto_scalarmult_ed25519_base_noclamp(u, k) == 0 &&
             crypto_scalarmult_ed25519_noclamp(v, k, h) == 0;
    }
    if (ok) {
        const uint8_t *const pts[5] = {pk, h, gamma, u, v};
        challenge(pts, c);
        crypto_core_ed25519_scalar_mul(cx, c, s.x);
        memcpy(proof, gamma, PT);
        memcpy(proof + PT, c, CLEN);
        crypto_core_ed25519_scalar_add(proof + PT + CLEN, k, cx); /* s = k + c*x mod q */
        ok = gamma_to_hash(gamma, output);
    }
    sodium_memzero(&s, sizeof(s));
    sodium_memzero(k, sizeof(k));
    sodium_memzero(kh, sizeof(kh));
    sodium_memzero(cx, sizeof(cx));
    return ok ? SR_OK : sr_err_set(err, SR_EINTERNAL, "VRF: the proof could not be computed");
}

/* s < q, the group order (little-endian). */
static bool
scalar_canonical(const uint8_t s[32])
{
    static const uint8_t q[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                  0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    for (int i = 31; i >= 0; i--)
        if (s[i] != q[i])
            return s[i] < q[i];
    return false;
}

bool
sr_vrf_verify(const uint8_t pk[SR_VRF_PUBLIC], const uint8_t proof[SR_VRF_PROOF],
              const uint8_t *alpha, size_t len, uint8_t output[SR_VRF_OUTPUT])
{
    uint8_t y8[PT], h[PT], sb[PT], cy[PT], u[PT], sh[PT], cg[PT], v[PT], c[32], c2[32], s[32];
    const uint8_t *gamma = proof;
    memset(c, 0, sizeof(c));
    memcpy(c, proof + PT, CLEN);
    memcpy(s, proof + PT + CLEN, 32);
    /* ECVRF_validate_key: 8*Y is not the identity */
    if (!times_cofactor(pk, y8) || is_identity(y8) || !scalar_canonical(s) ||
        !encode_to_curve(pk, alpha ? alpha : (const uint8_t *)"", alpha ? len : 0, h))
        return false;
    /* U = s*B - c*Y, V = s*H - c*Gamma */
    if (crypto_scalarmult_ed25519_base_noclamp(sb, s) != 0 ||
        crypto_scalarmult_ed25519_noclamp(cy, c, pk) != 0 || crypto_core_ed25519_sub(u, sb, cy) ||
        crypto_scalarmult_ed25519_noclamp(sh, s, h) != 0 ||
        crypto_scalarmult_ed25519_noclamp(cg, c, gamma) != 0 || crypto_core_ed25519_sub(v, sh, cg))
        return false;
    const uint8_t *const pts[5] = {pk, h, gamma, u, v};
    challenge(pts, c2);
    return sodium_memcmp(c, c2, 32) == 0 && gamma_to_hash(gamma, output);
}
