/* SPDX-License-Identifier: MIT
 *
 * secret_crypto.c - per-owner sealing keys, opening client-sealed values,
 * and encryption at rest.
 *
 * Sealing key of an owner (deterministic, so nothing is stored):
 *   seal_key = sr_keys_derive_secrets(keys, "sealrun/secrets-seal/v1")
 *   sk = BLAKE2b-256(key = seal_key, message = owner bytes)
 *   pk = X25519(sk, base point)
 * Clients seal with crypto_box_seal to pk (GET /secrets/pubkey); a box made
 * for another owner's pk fails authentication here.
 *
 * At rest: XChaCha20-Poly1305-IETF under the "sealrun/secrets-at-rest/v1"
 * subkey, blob = nonce(24) || ciphertext || tag(16), and
 *   AAD = "sealrun.secret.v1" 0x00 owner 0x00 name 0x00 version (decimal)
 * so a blob copied to another owner, name or version does not open.
 * Derived keys are wiped before each function returns; clear text only
 * ever sits in sodium_malloc'd memory.
 */
#include "sealrun/sr_secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

#include "secret_int.h"

/* domain + owner + name + a 20-digit version + three NULs */
#define AAD_MAX (sizeof(SR_SECRET_AAD_DOMAIN) + SR_MAX_USER_NAME + SR_SECRET_NAME_MAX + 24)

_Static_assert(SR_SECRET_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce length");
_Static_assert(SR_SECRET_BLOB_OVERHEAD ==
                   SR_SECRET_NONCE_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "blob overhead");

/* Derives owner's sealing key pair; sk must be wiped by the caller. */
static sr_status
owner_keypair(const sr_keys *keys, const char *owner, uint8_t pk[SR_BOX_PK_LEN],
              uint8_t sk[SR_BOX_SK_LEN], sr_err *err)
{
    uint8_t seal_key[32];
    if (!keys)
        return sr_err_set(err, SR_EINVAL, "no keys to derive the sealing key");
    size_t len = owner ? strnlen(owner, SR_MAX_USER_NAME + 1) : 0;
    sr_status rc = sr_secret_owner_check(owner, len, err);
    if (rc != SR_OK)
        return rc;
    sr_keys_derive_secrets(keys, SR_LABEL_SECRETS_SEAL, seal_key);
    crypto_generichash(sk, SR_BOX_SK_LEN, (const uint8_t *)owner, len, seal_key, sizeof(seal_key));
    sodium_memzero(seal_key, sizeof(seal_key));
    if (crypto_scalarmult_base(pk, sk) != 0) {
        sodium_memzero(sk, SR_BOX_SK_LEN);
        return sr_err_set(err, SR_EINTERNAL, "cannot derive the sealing key of '%s'", owner);
    }
    return SR_OK;
}

sr_status
sr_secret_owner_pk(const sr_keys *keys, const char *owner, uint8_t pk[SR_BOX_PK_LEN], sr_err *err)
{
    uint8_t sk[SR_BOX_SK_LEN];
    uint8_t tmp[SR_BOX_PK_LEN];
    sr_status rc = owner_keypair(keys, owner, tmp, sk, err);
    sodium_memzero(sk, sizeof(sk));
    if (rc == SR_OK)
        memcpy(pk, tmp, SR_BOX_PK_LEN);
    return rc;
}

sr_status
sr_secret_owner_pk_b64(const sr_keys *keys, const char *owner, char **out, sr_err *err)
{
    uint8_t pk[SR_BOX_PK_LEN];
    sr_status rc = sr_secret_owner_pk(keys, owner, pk, err);
    if (rc != SR_OK)
        return rc;
    char *text = sr_base64_encode(pk, sizeof(pk));
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory encoding a public key");
    *out = text;
    return SR_OK;
}

sr_status
sr_secret_seal(const uint8_t pk[SR_BOX_PK_LEN], const void *value, size_t len, char **out,
               sr_err *err)
{
    sr_status rc = sr_secret_value_check(value, len, err);
    if (rc != SR_OK)
        return rc;
    return sr_box_seal(pk, value, len, out, err);
}

/* Opens box c[0..clen) into *v (checked); SR_EDENIED when it does not open. */
static sr_status
open_box(const uint8_t *c, size_t clen, const uint8_t pk[SR_BOX_PK_LEN],
         const uint8_t sk[SR_BOX_SK_LEN], const char *owner, struct sr_secret_value *v, sr_err *err)
{
    if (clen < crypto_box_SEALBYTES)
        goto denied;
    sr_status rc = sr_secret__value_alloc(clen - crypto_box_SEALBYTES, v, err);
    if (rc != SR_OK)
        return rc;
    if (crypto_box_seal_open(v->data, c, clen, pk, sk) != 0) {
        sr_secret_value_fini(v);
        goto denied;
    }
    rc = sr_secret_value_check(v->data, v->len, err);
    if (rc != SR_OK) {
        sr_secret_value_fini(v);
        return sr_err_wrap(err, "sealed value");
    }
    return SR_OK;
denied:
    return sr_err_set(err, SR_EDENIED,
                      "authentication failed: the sealed value does not open with the sealing "
                      "key of '%s' (sealed for a different owner, or altered); seal to the key "
                      "from GET /secrets/pubkey",
                      owner);
}

sr_status
sr_secret_unseal(const sr_keys *keys, const char *owner, const char *b64, size_t b64_len,
                 struct sr_secret_value *out, sr_err *err)
{
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    struct sr_secret_value v = {0};
    uint8_t *c = NULL;
    size_t clen = 0;
    sr_err sub = {0};
    sr_status rc;

    if (!b64 || b64_len == 0)
        return sr_err_set(err, SR_EINVAL, "sealed value is empty: expected base64 of a sealed box");
    if (b64_len > SR_SECRET_SEALED_MAX)
        return sr_err_set(err, SR_ELIMIT,
                          "sealed value is too large: %zu characters of base64, at most %u (a "
                          "%u-byte secret)",
                          b64_len, (unsigned)SR_SECRET_SEALED_MAX, SR_SECRET_VALUE_MAX);
    if (sr_base64_decode(b64, b64_len, &c, &clen, &sub) != SR_OK)
        return sr_err_set(err, SR_EINVAL, "sealed value is not valid base64: %s", sub.msg);
    rc = owner_keypair(keys, owner, pk, sk, err);
    if (rc == SR_OK)
        rc = open_box(c, clen, pk, sk, owner, &v, err);
    sodium_memzero(sk, sizeof(sk));
    free(c);
    if (rc == SR_OK)
        *out = v;
    return rc;
}

/* Builds the AAD into aad (AAD_MAX bytes); returns its length. */
static size_t
build_aad(const char *owner, const char *name, uint64_t version, uint8_t *aad)
{
    char ver[24];
    size_t n = 0;
    const char *parts[3] = {SR_SECRET_AAD_DOMAIN, owner, name};
    for (size_t i = 0; i < 3; i++) {
        size_t len = strlen(parts[i]);
        memcpy(aad + n, parts[i], len);
        n += len;
        aad[n++] = 0;
    }
    int vl = snprintf(ver, sizeof(ver), "%" PRIu64, version);
    memcpy(aad + n, ver, (size_t)vl);
    return n + (size_t)vl;
}

static sr_status
check_binding(const char *owner, const char *name, uint64_t version, sr_err *err)
{
    sr_status rc =
        sr_secret_owner_check(owner, owner ? strnlen(owner, SR_MAX_USER_NAME + 1) : 0, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_secret_name_check(name, name ? strnlen(name, SR_SECRET_NAME_MAX + 1) : 0, err);
    if (rc != SR_OK)
        return rc;
    if (version == 0)
        return sr_err_set(err, SR_EINVAL, "secret version must be 1 or more, got 0");
    return SR_OK;
}

sr_status
sr_secret_encrypt(const sr_keys *keys, const char *owner, const char *name, uint64_t version,
                  const void *value, size_t len, uint8_t **out, size_t *out_len, sr_err *err)
{
    uint8_t aad[AAD_MAX];
    uint8_t key[32];
    unsigned long long clen = 0;

    sr_status rc = check_binding(owner, name, version, err);
    if (rc == SR_OK)
        rc = sr_secret_value_check(value, len, err);
    if (rc != SR_OK)
        return rc;
    if (!keys)
        return sr_err_set(err, SR_EINVAL, "no keys to encrypt the secret");
    uint8_t *blob = malloc(len + SR_SECRET_BLOB_OVERHEAD);
    if (!blob)
        return sr_err_set(err, SR_ENOMEM, "out of memory encrypting a secret of %zu bytes", len);
    size_t aad_len = build_aad(owner, name, version, aad);
    randombytes_buf(blob, SR_SECRET_NONCE_LEN);
    sr_keys_derive_secrets(keys, SR_LABEL_SECRETS_AT_REST, key);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + SR_SECRET_NONCE_LEN, &clen, value, len, aad,
                                               aad_len, NULL, blob, key);
    sodium_memzero(key, sizeof(key));
    *out = blob;
    *out_len = SR_SECRET_NONCE_LEN + (size_t)clen;
    return SR_OK;
}

sr_status
sr_secret_decrypt(const sr_keys *keys, const char *owner, const char *name, uint64_t version,
                  const uint8_t *blob, size_t blob_len, struct sr_secret_value *out, sr_err *err)
{
    uint8_t aad[AAD_MAX];
    uint8_t key[32];
    struct sr_secret_value v = {0};
    unsigned long long mlen = 0;

    sr_status rc = check_binding(owner, name, version, err);
    if (rc != SR_OK)
        return rc;
    if (!keys)
        return sr_err_set(err, SR_EINVAL, "no keys to decrypt the secret");
    if (!blob || blob_len <= SR_SECRET_BLOB_OVERHEAD ||
        blob_len > SR_SECRET_VALUE_MAX + SR_SECRET_BLOB_OVERHEAD)
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    rc = sr_secret__value_alloc(blob_len - SR_SECRET_BLOB_OVERHEAD, &v, err);
    if (rc != SR_OK)
        return rc;
    size_t aad_len = build_aad(owner, name, version, aad);
    sr_keys_derive_secrets(keys, SR_LABEL_SECRETS_AT_REST, key);
    int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(
        v.data, &mlen, NULL, blob + SR_SECRET_NONCE_LEN, blob_len - SR_SECRET_NONCE_LEN, aad,
        aad_len, blob, key);
    sodium_memzero(key, sizeof(key));
    if (bad != 0) {
        sr_secret_value_fini(&v);
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    }
    if (sr_secret_value_check(v.data, v.len, NULL) != SR_OK) {
        sr_secret_value_fini(&v);
        return sr_err_set(err, SR_EINVAL, "stored secret '%s' of '%s' breaks the value rules", name,
                          owner);
    }
    *out = v;
    return SR_OK;
}
