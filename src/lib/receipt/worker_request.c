/* SPDX-License-Identifier: MIT
 *
 * worker_request.c - the signature a remote worker puts on every request
 * to its coordinator (sr_receipt.h, "a remote worker's signed requests").
 * The worker signs with its worker key; the coordinator verifies with the
 * key registered for the worker's token, so a copied token alone cannot
 * make a request that is accepted.
 */
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

static void
part(crypto_hash_sha256_state *h, const char *s)
{
    crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s) + 1); /* with its NUL */
}

void
sr_worker_request_digest(const char *method, const char *path, const char *query,
                         const char *time_text, const void *body, size_t len, uint8_t out[32])
{
    uint8_t bh[32];
    crypto_hash_sha256(bh, len ? body : (const void *)"", len);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    part(&h, SR_WORKER_REQUEST_DOMAIN);
    part(&h, method);
    part(&h, path);
    part(&h, query ? query : "");
    part(&h, time_text);
    crypto_hash_sha256_update(&h, bh, sizeof(bh));
    crypto_hash_sha256_final(&h, out);
}

void
sr_worker_request_sign(const sr_worker_key *key, const uint8_t digest[32],
                       char sig_hex[SR_ED25519_SIG_HEX_LEN + 1])
{
    uint8_t sig[SR_ED25519_SIG_LEN];
    sr_worker_key_sign(key, digest, 32, sig);
    sr_hex_encode(sig, sizeof(sig), sig_hex);
}

sr_status
sr_worker_request_verify(const uint8_t pk[SR_ED25519_PK_LEN], const uint8_t digest[32],
                         const char *sig_hex, sr_err *err)
{
    uint8_t sig[SR_ED25519_SIG_LEN];
    if (!sig_hex || !sr_is_lower_hex(sig_hex, SR_ED25519_SIG_HEX_LEN) ||
        sr_hex_decode(sig_hex, SR_ED25519_SIG_HEX_LEN, sig, sizeof(sig), NULL) != SR_OK)
        return sr_err_set(err, SR_EDENIED,
                          "the request signature must be %d lower-case hex "
                          "characters (header " SR_WORKER_SIGNATURE_HEADER ")",
                          SR_ED25519_SIG_HEX_LEN);
    if (crypto_sign_verify_detached(sig, digest, 32, pk) != 0)
        return sr_err_set(err, SR_EDENIED,
                          "the request signature does not verify with the worker's registered key");
    return SR_OK;
}
