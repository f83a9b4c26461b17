/* SPDX-License-Identifier: MIT
 *
 * storage_codec.c - names, keys and the at-rest formats of storage values,
 * keys and namespace names (docs/storage.md "Encryption at rest").
 *
 *   nskey = BLAKE2b-256(key = subkey(secrets_master, SR_LABEL_STORAGE),
 *                       message = owner 0x00 ns)
 *   plain = flag (0 raw | 1 zstd frame) || bytes
 *   blob  = nonce (24 random bytes) || XChaCha20-Poly1305(plain, AAD) (+16 tag)
 *   AAD   = "sealrun.storage.v1" 0x00 owner 0x00 ns 0x00 decimal(version) 0x00 key
 * Owner, namespace and the version digits contain no 0x00 and the key runs
 * to the end, so the AAD is unambiguous.
 *
 * Keys and names are found by keyed hashes and kept sealed, all under
 * subkeys of N = subkey(secrets_master, SR_LABEL_STORAGE_NAMES):
 *   ns_id  = BLAKE2b(N, "ns-id" 0 owner 0 ns)       the namespace's row
 *   key_id = BLAKE2b(BLAKE2b(N, "key-id" 0 owner 0 ns), key)   an entry's row
 *   key    = nonce || XChaCha20-Poly1305(key, "sealrun.storage.key.v1" 0 owner
 *            0 ns 0 key_id) under BLAKE2b(N, "key-seal" 0 owner 0 ns)
 *   name   = nonce || XChaCha20-Poly1305(ns, "sealrun.storage.ns.v1" 0 owner
 *            0 ns_id) under BLAKE2b(N, "ns-seal" 0 owner)
 */
#include "sealrun/sr_storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zstd.h>

#define AAD_LABEL "sealrun.storage.v1"
#define ZSTD_LEVEL 3

sr_status
sr_storage_ns_check(const char *ns, size_t len, sr_err *err)
{
    if (len == 0 || len > SR_STORAGE_MAX_NS)
        return sr_err_set(err, SR_EINVAL,
                          "storage namespace must be 1..%d characters of A-Z a-z 0-9 _ . -, got "
                          "%zu characters",
                          SR_STORAGE_MAX_NS, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)ns[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return sr_err_set(err, SR_EINVAL,
                              "storage namespace '%.*s' has an invalid character at offset %zu: "
                              "only A-Z a-z 0-9 _ . - are allowed",
                              (int)len, ns, i);
    }
    return SR_OK;
}

/* Length of the UTF-8 sequence at p[0..n) or 0 if invalid (RFC 3629:
 * no overlongs, no surrogates, <= U+10FFFF). */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

sr_status
sr_storage_key_check(const uint8_t *key, size_t len, sr_err *err)
{
    if (len == 0 || len > SR_STORAGE_MAX_KEY)
        return sr_err_set(err, SR_EINVAL, "storage key must be 1..%d bytes of UTF-8, got %zu bytes",
                          SR_STORAGE_MAX_KEY, len);
    for (size_t i = 0; i < len;) {
        if (key[i] == 0)
            return sr_err_set(err, SR_EINVAL, "storage key has a NUL byte at offset %zu", i);
        size_t n = utf8_seq(key + i, len - i);
        if (n == 0)
            return sr_err_set(err, SR_EINVAL, "storage key is not valid UTF-8 at byte offset %zu",
                              i);
        i += n;
    }
    return SR_OK;
}

void
sr_storage_ns_key(const sr_keys *keys, const char *owner, const char *ns, uint8_t out[32])
{
    uint8_t sub[32];
    crypto_generichash_state st;
    sr_keys_derive_secrets(keys, SR_LABEL_STORAGE, sub);
    crypto_generichash_init(&st, sub, sizeof(sub), 32);
    crypto_generichash_update(&st, (const uint8_t *)owner, strlen(owner) + 1); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)ns, strlen(ns));
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(sub, sizeof(sub));
    sodium_memzero(&st, sizeof(st));
}

/* Builds the AAD; returns owned bytes in *out. */
static sr_status
make_aad(const char *owner, const char *ns, uint64_t version, const uint8_t *key, size_t key_len,
         sr_buf *aad, sr_err *err)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "%s%c%s%c%s%c%llu%c", AAD_LABEL, 0, owner, 0, ns, 0,
                     (unsigned long long)version, 0);
    if (n <= 0 || (size_t)n >= sizeof(head))
        return sr_err_set(err, SR_EINVAL, "storage owner or namespace too long for the AAD");
    sr_buf_init(aad, sizeof(head) + SR_STORAGE_MAX_KEY);
    sr_status rc = sr_buf_append(aad, head, (size_t)n, err);
    return rc == SR_OK ? sr_buf_append(aad, key, key_len, err) : rc;
}

/* flag || bytes: zstd when the value is long and compresses. */
static sr_status
frame_plain(const uint8_t *value, size_t len, uint8_t **out, size_t *out_len, sr_err *err)
{
    size_t bound = len > SR_STORAGE_COMPRESS_MIN ? ZSTD_compressBound(len) : 0;
    uint8_t *p = malloc(1 + (bound > len ? bound : len));
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory sealing a storage value");
    if (bound) {
        size_t z = ZSTD_compress(p + 1, bound, value, len, ZSTD_LEVEL);
        if (!ZSTD_isError(z) && z < len) {
            p[0] = 1;
            *out = p;
            *out_len = z + 1;
            return SR_OK;
        }
    }
    p[0] = 0;
    if (len)
        memcpy(p + 1, value, len);
    *out = p;
    *out_len = len + 1;
    return SR_OK;
}

sr_status
sr_storage_seal(const uint8_t nskey[32], const char *owner, const char *ns, const uint8_t *key,
                size_t key_len, uint64_t version, const uint8_t *value, size_t len, uint8_t **out,
                size_t *out_len, sr_err *err)
{
    if (len > SR_STORAGE_MAX_VALUE)
        return sr_err_set(err, SR_ELIMIT, "storage value is %zu bytes; the limit is %u bytes", len,
                          SR_STORAGE_MAX_VALUE);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sr_buf aad;
    sr_status rc = make_aad(owner, ns, version, key, key_len, &aad, err);
    if (rc == SR_OK)
        rc = frame_plain(value, len, &plain, &plain_len, err);
    uint8_t *blob = rc == SR_OK ? malloc(plain_len + SR_STORAGE_BLOB_OVERHEAD) : NULL;
    if (rc == SR_OK && !blob)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory sealing a storage value");
    if (rc == SR_OK) {
        unsigned long long clen = 0;
        randombytes_buf(blob, 24);
        crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 24, &clen, plain, plain_len,
                                                   (const uint8_t *)aad.data, aad.len, NULL, blob,
                                                   nskey);
        *out = blob;
        *out_len = 24 + (size_t)clen;
        blob = NULL;
    }
    if (plain) {
        sodium_memzero(plain, plain_len);
        free(plain);
    }
    free(blob);
    sr_buf_fini(&aad);
    return rc;
}

/* Turns the opened flag||bytes into the value. */
static sr_status
unframe(const uint8_t *plain, size_t len, uint8_t **out, size_t *out_len, sr_err *err)
{
    if (len < 1 || plain[0] > 1)
        return sr_err_set(err, SR_EINVAL, "stored value has an unknown format flag");
    size_t n = len - 1;
    if (plain[0] == 1) {
        unsigned long long size = ZSTD_getFrameContentSize(plain + 1, n);
        if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
            size > SR_STORAGE_MAX_VALUE)
            return sr_err_set(err, SR_EINVAL, "stored value has a bad compressed size");
        n = (size_t)size;
    }
    uint8_t *v = malloc(n + 1);
    if (!v)
        return sr_err_set(err, SR_ENOMEM, "out of memory opening a storage value");
    if (plain[0] == 1) {
        size_t z = ZSTD_decompress(v, n, plain + 1, len - 1);
        if (ZSTD_isError(z) || z != n) {
            free(v);
            return sr_err_set(err, SR_EINVAL, "stored value does not decompress");
        }
    } else if (n) {
        memcpy(v, plain + 1, n);
    }
    v[n] = 0;
    *out = v;
    *out_len = n;
    return SR_OK;
}

sr_status
sr_storage_open(const uint8_t nskey[32], const char *owner, const char *ns, const uint8_t *key,
                size_t key_len, uint64_t version, const uint8_t *blob, size_t blob_len,
                uint8_t **out, size_t *out_len, sr_err *err)
{
    if (blob_len < SR_STORAGE_BLOB_OVERHEAD)
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    sr_buf aad;
    sr_status rc = make_aad(owner, ns, version, key, key_len, &aad, err);
    size_t plen = blob_len - 24 - 16;
    uint8_t *plain = rc == SR_OK ? malloc(plen) : NULL;
    if (rc == SR_OK && !plain)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory opening a storage value");
    unsigned long long got = 0;
    if (rc == SR_OK && crypto_aead_xchacha20poly1305_ietf_decrypt(
                           plain, &got, NULL, blob + 24, blob_len - 24, (const uint8_t *)aad.data,
                           aad.len, blob, nskey) != 0)
        rc = sr_err_set(err, SR_EDENIED, "authentication failed");
    if (rc == SR_OK)
        rc = unframe(plain, (size_t)got, out, out_len, err);
    if (plain) {
        sodium_memzero(plain, plen);
        free(plain);
    }
    sr_buf_fini(&aad);
    return rc;
}

/* ---- keys and namespace names at rest ---- */

/* BLAKE2b-256 keyed with sub over tag 0x00 owner [0x00 ns]. */
static void
derive_ns(const uint8_t sub[32], const char *tag, const char *owner, const char *ns,
          uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, sub, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)tag, strlen(tag) + 1); /* with its NUL */
    if (ns) {
        crypto_generichash_update(&st, (const uint8_t *)owner, strlen(owner) + 1);
        crypto_generichash_update(&st, (const uint8_t *)ns, strlen(ns));
    } else {
        crypto_generichash_update(&st, (const uint8_t *)owner, strlen(owner));
    }
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof(st));
}

void
sr_storage_ns_keys_init(const sr_keys *keys, const char *owner, const char *ns,
                        struct sr_storage_ns_keys *out)
{
    uint8_t sub[32];
    sr_keys_derive_secrets(keys, SR_LABEL_STORAGE_NAMES, sub);
    derive_ns(sub, "ns-id", owner, ns, out->id);
    derive_ns(sub, "key-id", owner, ns, out->key_id);
    derive_ns(sub, "key-seal", owner, ns, out->key_seal);
    derive_ns(sub, "ns-seal", owner, NULL, out->name_seal);
    sodium_memzero(sub, sizeof(sub));
    sr_storage_ns_key(keys, owner, ns, out->value);
}

void
sr_storage_ns_keys_wipe(struct sr_storage_ns_keys *k)
{
    sodium_memzero(k, sizeof(*k));
}

void
sr_storage_key_id(const struct sr_storage_ns_keys *k, const uint8_t *key, size_t len,
                  uint8_t out[32])
{
    crypto_generichash(out, 32, key, len, k->key_id, sizeof(k->key_id));
}

/* label 0 owner 0 name 0 id (32 bytes, last): owner and name hold no 0x00. */
static sr_status
name_aad(const char *label, const char *owner, const char *ns, const uint8_t id[32], sr_buf *aad,
         sr_err *err)
{
    sr_buf_init(aad, 512);
    const uint8_t zero = 0;
    sr_status rc = sr_buf_append(aad, label, strlen(label) + 1, err);
    if (rc == SR_OK)
        rc = sr_buf_append(aad, owner, strlen(owner), err);
    if (rc == SR_OK && ns)
        rc = sr_buf_append(aad, &zero, 1, err);
    if (rc == SR_OK && ns)
        rc = sr_buf_append(aad, ns, strlen(ns), err);
    if (rc == SR_OK)
        rc = sr_buf_append(aad, &zero, 1, err);
    if (rc == SR_OK)
        rc = sr_buf_append(aad, id, 32, err);
    return rc;
}

static sr_status
seal_small(const uint8_t key[32], const sr_buf *aad, const uint8_t *p, size_t len, uint8_t **out,
           size_t *out_len, sr_err *err)
{
    uint8_t *blob = malloc(len + SR_STORAGE_NAME_OVERHEAD);
    if (!blob)
        return sr_err_set(err, SR_ENOMEM, "out of memory sealing a storage key");
    unsigned long long clen = 0;
    randombytes_buf(blob, 24);
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 24, &clen, p, len, (const uint8_t *)aad->data,
                                               aad->len, NULL, blob, key);
    *out = blob;
    *out_len = 24 + (size_t)clen;
    return SR_OK;
}

/* Opens into out (room for max bytes); SR_EDENIED on any failure. */
static sr_status
open_small(const uint8_t key[32], const sr_buf *aad, const uint8_t *blob, size_t blob_len,
           uint8_t *out, size_t max, size_t *out_len, sr_err *err)
{
    unsigned long long got = 0;
    if (blob_len < SR_STORAGE_NAME_OVERHEAD || blob_len - SR_STORAGE_NAME_OVERHEAD > max ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(out, &got, NULL, blob + 24, blob_len - 24,
                                                   (const uint8_t *)aad->data, aad->len, blob,
                                                   key) != 0)
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    *out_len = (size_t)got;
    return SR_OK;
}

sr_status
sr_storage_key_seal(const struct sr_storage_ns_keys *k, const char *owner, const char *ns,
                    const uint8_t *key, size_t len, const uint8_t id[32], uint8_t **out,
                    size_t *out_len, sr_err *err)
{
    sr_buf aad;
    sr_status rc = name_aad("sealrun.storage.key.v1", owner, ns, id, &aad, err);
    if (rc == SR_OK)
        rc = seal_small(k->key_seal, &aad, key, len, out, out_len, err);
    sr_buf_fini(&aad);
    return rc;
}

sr_status
sr_storage_key_open(const struct sr_storage_ns_keys *k, const char *owner, const char *ns,
                    const uint8_t id[32], const uint8_t *blob, size_t blob_len,
                    uint8_t out[SR_STORAGE_MAX_KEY], size_t *out_len, sr_err *err)
{
    sr_buf aad;
    uint8_t again[32];
    sr_status rc = name_aad("sealrun.storage.key.v1", owner, ns, id, &aad, err);
    if (rc == SR_OK)
        rc = open_small(k->key_seal, &aad, blob, blob_len, out, SR_STORAGE_MAX_KEY, out_len, err);
    sr_buf_fini(&aad);
    if (rc != SR_OK)
        return rc;
    sr_storage_key_id(k, out, *out_len, again);
    if (sodium_memcmp(again, id, 32) != 0 || sr_storage_key_check(out, *out_len, NULL) != SR_OK)
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    return SR_OK;
}

sr_status
sr_storage_name_seal(const struct sr_storage_ns_keys *k, const char *owner, const char *ns,
                     uint8_t **out, size_t *out_len, sr_err *err)
{
    sr_buf aad;
    sr_status rc = name_aad("sealrun.storage.ns.v1", owner, NULL, k->id, &aad, err);
    if (rc == SR_OK)
        rc = seal_small(k->name_seal, &aad, (const uint8_t *)ns, strlen(ns), out, out_len, err);
    sr_buf_fini(&aad);
    return rc;
}

sr_status
sr_storage_name_open(const sr_keys *keys, const char *owner, const uint8_t id[32],
                     const uint8_t *blob, size_t blob_len, char out[SR_STORAGE_MAX_NS + 1],
                     sr_err *err)
{
    struct sr_storage_ns_keys k;
    sr_buf aad;
    size_t n = 0;
    sr_storage_ns_keys_init(keys, owner, SR_STORAGE_DEFAULT_NS, &k); /* name_seal: owner only */
    sr_status rc = name_aad("sealrun.storage.ns.v1", owner, NULL, id, &aad, err);
    if (rc == SR_OK)
        rc = open_small(k.name_seal, &aad, blob, blob_len, (uint8_t *)out, SR_STORAGE_MAX_NS, &n,
                        err);
    sr_buf_fini(&aad);
    if (rc == SR_OK) {
        out[n] = 0;
        struct sr_storage_ns_keys named;
        bool ok = sr_storage_ns_check(out, n, NULL) == SR_OK;
        if (ok) {
            sr_storage_ns_keys_init(keys, owner, out, &named);
            ok = sodium_memcmp(named.id, id, 32) == 0;
            sr_storage_ns_keys_wipe(&named);
        }
        if (!ok)
            rc = sr_err_set(err, SR_EDENIED, "authentication failed");
    }
    sr_storage_ns_keys_wipe(&k);
    return rc;
}
