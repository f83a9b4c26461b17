/* SPDX-License-Identifier: MIT
 *
 * store_seal.c - the store's at-rest format for the user data it keeps:
 * jobs' request and result, module bytes and descriptions, secret policies
 * (docs/security-model.md "At rest" is the reader's copy).
 *
 *   key  = sr_keys_derive_compute(keys, SR_LABEL_STORE_AT_REST)
 *   blob = 0x01 || nonce (24 random bytes) || XChaCha20-Poly1305(plain) (+16 tag)
 *   AAD  = "sealrun.store.v1" 0x00 field 0x00 owner 0x00 record
 * 'field' names the column ("jobs.result_json"), 'owner' the row's owner
 * ("" for a module, which is shared by hash), 'record' the row's id (job id,
 * module hash, secret name). None of them can hold a 0x00 (owner names,
 * hex ids and secret names are checked before they reach the store), so the
 * AAD is unambiguous: a blob moved to another row, owner or column does not
 * open. The leading byte is the format version, so a later key rotation can
 * tell old blobs from new ones.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"

#define SEAL_FORMAT 1
#define SEAL_DOMAIN "sealrun.store.v1"
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
/* field names are short constants; records are ids, hashes or secret names */
#define AAD_MAX (sizeof(SEAL_DOMAIN) + 64 + SR_MAX_USER_NAME + 1 + 160)

_Static_assert(SR_STORE_SEAL_OVERHEAD == 1 + NONCE_LEN + TAG_LEN, "seal overhead");

sr_status
sr_store__key_new(const sr_keys *keys, uint8_t **out, sr_err *err)
{
    uint8_t *k = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!k)
        return sr_err_set(err, SR_ENOMEM, "out of memory deriving the store key");
    sr_keys_derive_compute(keys, SR_LABEL_STORE_AT_REST, k);
    (void)sodium_mprotect_readonly(k); /* best effort, as for the master keys */
    *out = k;
    return SR_OK;
}

void
sr_store__key_free(uint8_t *key)
{
    if (key)
        sodium_free(key);
}

/* Builds the AAD; false when a part is too long to be one we made. */
static bool
build_aad(const char *field, const char *owner, const char *record, uint8_t aad[AAD_MAX],
          size_t *len)
{
    const char *parts[4] = {SEAL_DOMAIN, field, owner, record};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]);
        if (n + l + 1 > AAD_MAX)
            return false;
        memcpy(aad + n, parts[i], l);
        n += l;
        if (i < 3)
            aad[n++] = 0;
    }
    *len = n;
    return true;
}

sr_status
sr_store__seal(const uint8_t *key, const char *field, const char *owner, const char *record,
               const void *plain, size_t len, uint8_t **out, size_t *out_len, sr_err *err)
{
    uint8_t aad[AAD_MAX];
    size_t aad_len = 0;
    if (!key)
        return sr_err_set(err, SR_EINVAL,
                          "cannot seal %s of '%s': the store was opened without the master keys",
                          field, record);
    if (!build_aad(field, owner, record, aad, &aad_len))
        return sr_err_set(err, SR_EINVAL, "record '%.64s' is too long to seal", record);
    size_t total = 0;
    if (len > SIZE_MAX - SR_STORE_SEAL_OVERHEAD)
        return sr_err_set(err, SR_ELIMIT, "%s of '%s' is too large to seal", field, record);
    total = len + SR_STORE_SEAL_OVERHEAD;
    uint8_t *blob = malloc(total);
    if (!blob)
        return sr_err_set(err, SR_ENOMEM, "out of memory sealing %s of '%s' (%zu bytes)", field,
                          record, len);
    blob[0] = SEAL_FORMAT;
    randombytes_buf(blob + 1, NONCE_LEN);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 1 + NONCE_LEN, &clen, plain, len, aad,
                                               aad_len, NULL, blob + 1, key);
    *out = blob;
    *out_len = 1 + NONCE_LEN + (size_t)clen;
    return SR_OK;
}

sr_status
sr_store__open(const uint8_t *key, const char *field, const char *owner, const char *record,
               const uint8_t *blob, size_t len, uint8_t **out, size_t *out_len, sr_err *err)
{
    uint8_t aad[AAD_MAX];
    size_t aad_len = 0;
    if (!key)
        return sr_err_set(err, SR_EINVAL,
                          "cannot read %s of '%s': the store was opened without the master keys, "
                          "and this data is sealed at rest",
                          field, record);
    if (!blob || len < SR_STORE_SEAL_OVERHEAD || blob[0] != SEAL_FORMAT ||
        !build_aad(field, owner, record, aad, &aad_len))
        return sr_err_set(err, SR_EIO,
                          "stored %s of '%s' is not a sealed record of this store (format byte "
                          "%d, %zu bytes)",
                          field, record, blob && len ? blob[0] : -1, len);
    size_t plain_len = len - SR_STORE_SEAL_OVERHEAD;
    uint8_t *p = malloc(plain_len + 1);
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory opening %s of '%s' (%zu bytes)", field,
                          record, plain_len);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &mlen, NULL, blob + 1 + NONCE_LEN,
                                                   len - 1 - NONCE_LEN, aad, aad_len, blob + 1,
                                                   key) != 0) {
        free(p);
        return sr_err_set(err, SR_EIO,
                          "stored %s of '%s' does not authenticate: the database was written "
                          "with another COMPUTE_MASTER_KEY, or altered",
                          field, record);
    }
    p[mlen] = '\0';
    *out = p;
    *out_len = (size_t)mlen;
    return SR_OK;
}
