/* SPDX-License-Identifier: MIT
 *
 * seal.c - sealed boxes (crypto_box_seal: X25519 + XSalsa20-Poly1305 with an
 * ephemeral sender key) for encrypted_output, in standard padded base64.
 *
 * Opening fails with the fixed text "authentication failed" for anything a
 * tamperer controls (short or altered ciphertext, wrong key), never saying
 * why; only malformed base64, which leaks nothing, gets its own message.
 */
#include "sealrun/sr_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

void
sr_box_keygen(uint8_t pk[SR_BOX_PK_LEN], uint8_t sk[SR_BOX_SK_LEN])
{
    crypto_box_keypair(pk, sk);
}

sr_status
sr_box_pk_parse(const char *b64, uint8_t pk[SR_BOX_PK_LEN], sr_err *err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    sr_err sub = {0};

    if (!b64 || !*b64)
        return sr_err_set(err, SR_EINVAL,
                          "public key is empty: expected 32 bytes of base64 (X25519)");
    /* 32 bytes are 44 characters of padded base64; a longer text cannot fit */
    size_t text_len = strnlen(b64, 128);
    if (text_len > 64)
        return sr_err_set(err, SR_EINVAL,
                          "public key is too long: expected 44 characters of base64 (32 bytes, "
                          "X25519), got %zu or more",
                          text_len);
    if (sr_base64_decode(b64, text_len, &raw, &len, &sub) != SR_OK)
        return sr_err_set(err, SR_EINVAL, "public key is not valid base64: %s", sub.msg);
    if (len != SR_BOX_PK_LEN) {
        free(raw);
        return sr_err_set(err, SR_EINVAL, "public key must be %d bytes (X25519), got %zu bytes",
                          SR_BOX_PK_LEN, len);
    }
    memcpy(pk, raw, SR_BOX_PK_LEN);
    free(raw);
    return SR_OK;
}

sr_status
sr_box_seal(const uint8_t pk[SR_BOX_PK_LEN], const void *msg, size_t len, char **out, sr_err *err)
{
    size_t clen = 0;
    if (!sr_add_size(len, crypto_box_SEALBYTES, &clen))
        return sr_err_set(err, SR_ELIMIT, "message of %zu bytes is too large to seal", len);
    uint8_t *c = malloc(clen);
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "out of memory sealing %zu bytes", len);
    if (crypto_box_seal(c, msg, len, pk) != 0) {
        free(c);
        return sr_err_set(err, SR_EINVAL,
                          "cannot seal to this public key: it is not a usable X25519 key");
    }
    char *text = sr_base64_encode(c, clen);
    free(c);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding %zu sealed bytes", clen);
    *out = text;
    return SR_OK;
}

sr_status
sr_box_open(const uint8_t pk[SR_BOX_PK_LEN], const uint8_t sk[SR_BOX_SK_LEN], const char *b64,
            uint8_t **out, size_t *out_len, sr_err *err)
{
    uint8_t *c = NULL;
    size_t clen = 0;
    sr_err sub = {0};

    if (sr_base64_decode(b64, strlen(b64), &c, &clen, &sub) != SR_OK)
        return sr_err_set(err, SR_EINVAL, "sealed box is not valid base64: %s", sub.msg);
    if (clen < crypto_box_SEALBYTES) {
        free(c);
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    }
    size_t mlen = clen - crypto_box_SEALBYTES;
    uint8_t *m = malloc(mlen + 1);
    if (!m) {
        free(c);
        return sr_err_set(err, SR_ENOMEM, "out of memory opening %zu sealed bytes", clen);
    }
    int rc = crypto_box_seal_open(m, c, clen, pk, sk);
    free(c);
    if (rc != 0) {
        free(m);
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    }
    m[mlen] = '\0';
    *out = m;
    *out_len = mlen;
    return SR_OK;
}
