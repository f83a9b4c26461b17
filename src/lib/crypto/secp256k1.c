/* SPDX-License-Identifier: MIT
 *
 * secp256k1.c - sr_secp256k1.h over libsecp256k1 (0.2: the recovery,
 * extrakeys and schnorrsig modules).
 */
#include "sealrun/sr_secp256k1.h"

#include <pthread.h>
#include <string.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_recovery.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void
make_context(void)
{
    uint8_t seed[32];
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    randombytes_buf(seed, sizeof(seed));
    /* blinding of the signing arithmetic against side channels */
    if (ctx && !secp256k1_context_randomize(ctx, seed)) {
        secp256k1_context_destroy(ctx);
        ctx = NULL;
    }
    sodium_memzero(seed, sizeof(seed));
    g_ctx = ctx;
}

static const secp256k1_context *
context(void)
{
    (void)pthread_once(&g_once, make_context);
    return g_ctx;
}

static sr_status
bad_key(sr_err *err)
{
    return sr_err_set(
        err, SR_EINVAL,
        "secp256k1: the private key is not a scalar in [1, n) (32 bytes, big-endian)");
}

static sr_status
no_context(sr_err *err)
{
    return sr_err_set(err, SR_EINTERNAL, "secp256k1: the library context could not be made");
}

sr_status
sr_secp256k1_pubkey(const uint8_t sk[SR_SECP256K1_SECRET], bool compressed, uint8_t *out,
                    size_t *out_len, sr_err *err)
{
    const secp256k1_context *ctx = context();
    secp256k1_pubkey pk;
    if (!ctx)
        return no_context(err);
    if (!secp256k1_ec_pubkey_create(ctx, &pk, sk))
        return bad_key(err);
    *out_len = compressed ? SR_SECP256K1_PUB_COMPRESSED : SR_SECP256K1_PUB_UNCOMPRESSED;
    (void)secp256k1_ec_pubkey_serialize(
        ctx, out, out_len, &pk, compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    return SR_OK;
}

sr_status
sr_secp256k1_sign(const uint8_t hash[32], const uint8_t sk[SR_SECP256K1_SECRET],
                  uint8_t sig[SR_SECP256K1_SIG], int *recid, sr_err *err)
{
    const secp256k1_context *ctx = context();
    secp256k1_ecdsa_recoverable_signature rs;
    if (!ctx)
        return no_context(err);
    /* the default nonce function is RFC 6979 with HMAC-SHA256; the library
     * produces s in the lower half */
    if (!secp256k1_ecdsa_sign_recoverable(ctx, &rs, hash, sk, NULL, NULL))
        return bad_key(err);
    (void)secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, sig, recid, &rs);
    return SR_OK;
}

bool
sr_secp256k1_verify(const uint8_t sig[SR_SECP256K1_SIG], const uint8_t hash[32], const uint8_t *pub,
                    size_t pub_len)
{
    const secp256k1_context *ctx = context();
    secp256k1_ecdsa_signature s;
    secp256k1_pubkey pk;
    return ctx && secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig) &&
           secp256k1_ec_pubkey_parse(ctx, &pk, pub, pub_len) &&
           secp256k1_ecdsa_verify(ctx, &s, hash, &pk) == 1;
}

sr_status
sr_secp256k1_recover(const uint8_t sig[SR_SECP256K1_SIG], int recid, const uint8_t hash[32],
                     bool compressed, uint8_t *out, size_t *out_len, sr_err *err)
{
    const secp256k1_context *ctx = context();
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    if (!ctx)
        return no_context(err);
    if (recid < 0 || recid > 3 ||
        !secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, recid) ||
        !secp256k1_ecdsa_recover(ctx, &pk, &rs, hash))
        return sr_err_set(err, SR_EINVAL,
                          "secp256k1: no public key makes this signature with recovery id %d",
                          recid);
    *out_len = compressed ? SR_SECP256K1_PUB_COMPRESSED : SR_SECP256K1_PUB_UNCOMPRESSED;
    (void)secp256k1_ec_pubkey_serialize(
        ctx, out, out_len, &pk, compressed ? SECP256K1_EC_COMPRESSED : SECP256K1_EC_UNCOMPRESSED);
    return SR_OK;
}

sr_status
sr_secp256k1_xonly(const uint8_t sk[SR_SECP256K1_SECRET], uint8_t out[SR_SECP256K1_XONLY],
                   sr_err *err)
{
    const secp256k1_context *ctx = context();
    secp256k1_keypair kp;
    secp256k1_xonly_pubkey xp;
    if (!ctx)
        return no_context(err);
    if (!secp256k1_keypair_create(ctx, &kp, sk))
        return bad_key(err);
    int ok = secp256k1_keypair_xonly_pub(ctx, &xp, NULL, &kp) &&
             secp256k1_xonly_pubkey_serialize(ctx, out, &xp);
    sodium_memzero(&kp, sizeof(kp));
    return ok ? SR_OK : bad_key(err);
}

sr_status
sr_secp256k1_schnorr_sign(const uint8_t *msg, size_t len, const uint8_t sk[SR_SECP256K1_SECRET],
                          const uint8_t *aux, uint8_t sig[SR_SECP256K1_SIG], sr_err *err)
{
    const secp256k1_context *ctx = context();
    secp256k1_keypair kp;
    uint8_t fresh[32];
    if (!ctx)
        return no_context(err);
    if (!secp256k1_keypair_create(ctx, &kp, sk))
        return bad_key(err);
    if (!aux) {
        randombytes_buf(fresh, sizeof(fresh));
        aux = fresh;
    }
    secp256k1_schnorrsig_extraparams extra = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
    extra.ndata = (void *)(uintptr_t)aux; /* read only by the default nonce function */
    int ok = secp256k1_schnorrsig_sign_custom(ctx, sig, msg, len, &kp, &extra);
    sodium_memzero(&kp, sizeof(kp));
    sodium_memzero(fresh, sizeof(fresh));
    return ok ? SR_OK : sr_err_set(err, SR_EINTERNAL, "secp256k1: Schnorr signing failed");
}

bool
sr_secp256k1_schnorr_verify(const uint8_t sig[SR_SECP256K1_SIG], const uint8_t *msg, size_t len,
                            const uint8_t xonly[SR_SECP256K1_XONLY])
{
    const secp256k1_context *ctx = context();
    secp256k1_xonly_pubkey xp;
    return ctx && secp256k1_xonly_pubkey_parse(ctx, &xp, xonly) &&
           secp256k1_schnorrsig_verify(ctx, sig, msg, len, &xp) == 1;
}
