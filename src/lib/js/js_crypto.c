/* SPDX-License-Identifier: MIT
 *
 * js_crypto.c - the native half of crypto.subtle (subtle.js is the other,
 * with the Web Crypto algorithm and key rules): digests, HMAC, HKDF,
 * Ed25519, ECDSA on P-256 and AES-GCM. libsodium where it has the
 * algorithm (SHA-256/512 and their HMACs, Ed25519, AES-256-GCM with a
 * 96-bit IV and a 128-bit tag on a CPU with AES-NI), OpenSSL's libcrypto
 * for what it lacks (SHA-1, SHA-384, P-256, the other AES-GCM shapes, PKCS
 * #8 and SPKI parsing). The helpers sit on an object only subtle.js holds;
 * each checks its arguments again and throws TypeError on a wrong shape
 * (subtle.js has already turned the guest's mistakes into DOMExceptions).
 * Private key bytes live in the guest's own heap (a key the job made or
 * imported); the C copies here are wiped before they are freed.
 */
#include "js_int.h"

#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#define SUBTLE_JS_URL "sealrun:subtle.js"
#define P256_POINT 65 /* uncompressed SEC 1 point */
#define P256_SCALAR 32
#define MAX_MD 64

/* ---- arguments ---- */

struct bytes {
    const uint8_t *p;
    size_t len;
};

static JSValueRef
bad_args(JSContextRef ctx, const char *what, JSValueRef *exc)
{
    char msg[96];
    (void)snprintf(msg, sizeof(msg), "subtle native %s: bad arguments", what);
    return sr_js__throw(ctx, "TypeError", msg, exc);
}

/* The bytes of argv[i] (a Uint8Array or ArrayBuffer). */
static bool
arg_bytes(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, struct bytes *b)
{
    if (i >= argc || !JSValueIsObject(ctx, argv[i]) ||
        !sr_js__binary_bytes(ctx, argv[i], &b->p, &b->len))
        return false;
    if (!b->p)
        b->p = (const uint8_t *)"";
    return true;
}

/* argv[i] as a short ASCII string (algorithm names). */
static bool
arg_name(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, char *out, size_t cap)
{
    if (i >= argc || !JSValueIsString(ctx, argv[i]))
        return false;
    JSStringRef s = JSValueToStringCopy(ctx, argv[i], NULL);
    if (!s)
        return false;
    bool ok = JSStringGetLength(s) < cap && JSStringGetUTF8CString(s, out, cap) > 0;
    JSStringRelease(s);
    return ok;
}

/* A new ArrayBuffer holding p[0..len). NULL with *exc when it threw. */
static JSValueRef
new_buffer(JSContextRef ctx, const uint8_t *p, size_t len, JSValueRef *exc)
{
    JSObjectRef a = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, len, exc);
    if (!a || *exc)
        return NULL;
    uint8_t *dst = JSObjectGetTypedArrayBytesPtr(ctx, a, exc);
    if (*exc)
        return NULL;
    if (len)
        memcpy(dst, p, len);
    return JSObjectGetTypedArrayBuffer(ctx, a, exc);
}

/* A new Uint8Array holding p[0..len) (key material subtle.js keeps). */
static JSValueRef
new_u8(JSContextRef ctx, const uint8_t *p, size_t len, JSValueRef *exc)
{
    JSObjectRef a = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, len, exc);
    if (!a || *exc)
        return NULL;
    uint8_t *dst = JSObjectGetTypedArrayBytesPtr(ctx, a, exc);
    if (*exc)
        return NULL;
    if (len)
        memcpy(dst, p, len);
    return a;
}

/* [a, b] as a JS array. */
static JSValueRef
pair(JSContextRef ctx, JSValueRef a, JSValueRef b, JSValueRef *exc)
{
    if (!a || !b)
        return NULL;
    JSValueRef v[2] = {a, b};
    return JSObjectMakeArray(ctx, 2, v, exc);
}

/* ---- hashes ---- */

enum hash_id { H_NONE, H_SHA1, H_SHA256, H_SHA384, H_SHA512 };

static enum hash_id
hash_of(const char *name)
{
    if (strcmp(name, "SHA-1") == 0)
        return H_SHA1;
    if (strcmp(name, "SHA-256") == 0)
        return H_SHA256;
    if (strcmp(name, "SHA-384") == 0)
        return H_SHA384;
    if (strcmp(name, "SHA-512") == 0)
        return H_SHA512;
    return H_NONE;
}

static const EVP_MD *
evp_md(enum hash_id h)
{
    switch (h) {
    case H_SHA1:
        return EVP_sha1();
    case H_SHA256:
        return EVP_sha256();
    case H_SHA384:
        return EVP_sha384();
    case H_SHA512:
        return EVP_sha512();
    case H_NONE:
    default:
        return NULL;
    }
}

static size_t
hash_len(enum hash_id h)
{
    static const size_t lens[] = {0, 20, 32, 48, 64};
    return lens[h];
}

/* out = H(p), hash_len(h) bytes. */
static bool
digest(enum hash_id h, const uint8_t *p, size_t len, uint8_t *out)
{
    if (h == H_SHA256)
        return crypto_hash_sha256(out, p, len) == 0;
    if (h == H_SHA512)
        return crypto_hash_sha512(out, p, len) == 0;
    unsigned n = 0;
    return evp_md(h) && EVP_Digest(p, len, out, &n, evp_md(h), NULL) == 1;
}

/* out = HMAC-H(key, p), hash_len(h) bytes. */
static bool
hmac(enum hash_id h, const struct bytes *key, const uint8_t *p, size_t len, uint8_t *out)
{
    if (h == H_SHA256) {
        crypto_auth_hmacsha256_state st;
        (void)crypto_auth_hmacsha256_init(&st, key->p, key->len);
        (void)crypto_auth_hmacsha256_update(&st, p, len);
        (void)crypto_auth_hmacsha256_final(&st, out);
        sodium_memzero(&st, sizeof(st));
        return true;
    }
    if (h == H_SHA512) {
        crypto_auth_hmacsha512_state st;
        (void)crypto_auth_hmacsha512_init(&st, key->p, key->len);
        (void)crypto_auth_hmacsha512_update(&st, p, len);
        (void)crypto_auth_hmacsha512_final(&st, out);
        sodium_memzero(&st, sizeof(st));
        return true;
    }
    unsigned n = 0;
    return evp_md(h) && key->len <= INT32_MAX &&
           HMAC(evp_md(h), key->p, (int)key->len, p, len, out, &n) != NULL;
}

/* digest(name, data) -> ArrayBuffer */
static JSValueRef
n_digest(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
         JSValueRef *exc)
{
    (void)fn, (void)self;
    char name[16];
    struct bytes data;
    uint8_t out[MAX_MD];
    enum hash_id h = arg_name(ctx, argc, argv, 0, name, sizeof(name)) ? hash_of(name) : H_NONE;
    if (h == H_NONE || !arg_bytes(ctx, argc, argv, 1, &data) || !digest(h, data.p, data.len, out))
        return bad_args(ctx, "digest", exc);
    return new_buffer(ctx, out, hash_len(h), exc);
}

/* hmac(hash, key, data) -> ArrayBuffer */
static JSValueRef
n_hmac(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
       JSValueRef *exc)
{
    (void)fn, (void)self;
    char name[16];
    struct bytes key;
    struct bytes data;
    uint8_t out[MAX_MD];
    enum hash_id h = arg_name(ctx, argc, argv, 0, name, sizeof(name)) ? hash_of(name) : H_NONE;
    if (h == H_NONE || !arg_bytes(ctx, argc, argv, 1, &key) ||
        !arg_bytes(ctx, argc, argv, 2, &data) || !hmac(h, &key, data.p, data.len, out))
        return bad_args(ctx, "hmac", exc);
    return new_buffer(ctx, out, hash_len(h), exc);
}

/* equal(a, b): constant-time comparison of two byte strings of one length. */
static JSValueRef
n_equal(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
        JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes a;
    struct bytes b;
    if (!arg_bytes(ctx, argc, argv, 0, &a) || !arg_bytes(ctx, argc, argv, 1, &b))
        return bad_args(ctx, "equal", exc);
    return JSValueMakeBoolean(ctx, a.len == b.len && sodium_memcmp(a.p, b.p, a.len) == 0);
}

/* RFC 5869 with HMAC-H: okm[0..n) from ikm, salt, info; n <= 255 * HashLen
 * (the caller checks). */
static bool
hkdf(enum hash_id h, const struct bytes *ikm, const struct bytes *salt, const struct bytes *info,
     uint8_t *okm, size_t n)
{
    uint8_t zeros[MAX_MD] = {0};
    uint8_t prk[MAX_MD];
    uint8_t t[MAX_MD];
    size_t hl = hash_len(h);
    struct bytes s = salt->len ? *salt : (struct bytes){zeros, hl};
    bool ok = hmac(h, &s, ikm->p, ikm->len, prk);
    struct bytes k = {prk, hl};
    size_t tlen = 0;
    for (uint8_t i = 1; ok && n > 0; i++) {
        /* T(i) = HMAC(PRK, T(i-1) | info | i) */
        size_t mlen = tlen + info->len + 1;
        uint8_t *m = sodium_malloc(mlen);
        if (!m)
            return false;
        memcpy(m, t, tlen);
        memcpy(m + tlen, info->p, info->len);
        m[mlen - 1] = i;
        ok = hmac(h, &k, m, mlen, t);
        sodium_free(m);
        tlen = hl;
        size_t take = n < hl ? n : hl;
        memcpy(okm, t, take);
        okm += take;
        n -= take;
    }
    sodium_memzero(prk, sizeof(prk));
    sodium_memzero(t, sizeof(t));
    return ok;
}

/* hkdf(hash, ikm, salt, info, bytes) -> ArrayBuffer */
static JSValueRef
n_hkdf(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
       JSValueRef *exc)
{
    (void)fn, (void)self;
    char name[16];
    struct bytes ikm;
    struct bytes salt;
    struct bytes info;
    enum hash_id h = arg_name(ctx, argc, argv, 0, name, sizeof(name)) ? hash_of(name) : H_NONE;
    double n = argc > 4 && JSValueIsNumber(ctx, argv[4]) ? JSValueToNumber(ctx, argv[4], NULL) : -1;
    if (h == H_NONE || !arg_bytes(ctx, argc, argv, 1, &ikm) ||
        !arg_bytes(ctx, argc, argv, 2, &salt) || !arg_bytes(ctx, argc, argv, 3, &info) ||
        !(n >= 0 && n <= 255.0 * (double)hash_len(h)))
        return bad_args(ctx, "hkdf", exc);
    uint8_t okm[255 * MAX_MD];
    bool ok = hkdf(h, &ikm, &salt, &info, okm, (size_t)n);
    JSValueRef v = ok ? new_buffer(ctx, okm, (size_t)n, exc) : bad_args(ctx, "hkdf", exc);
    sodium_memzero(okm, (size_t)n);
    return v;
}

/* ---- Ed25519 (libsodium) ---- */

/* ed25519Generate() -> [seed, public] */
static JSValueRef
n_ed_generate(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self, (void)argc, (void)argv;
    uint8_t seed[crypto_sign_SEEDBYTES];
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    randombytes_buf(seed, sizeof(seed));
    (void)crypto_sign_seed_keypair(pk, sk, seed);
    JSValueRef v =
        pair(ctx, new_u8(ctx, seed, sizeof(seed), exc), new_u8(ctx, pk, sizeof(pk), exc), exc);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    return v;
}

/* ed25519Public(seed) -> public */
static JSValueRef
n_ed_public(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes seed;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    if (!arg_bytes(ctx, argc, argv, 0, &seed) || seed.len != crypto_sign_SEEDBYTES)
        return bad_args(ctx, "ed25519Public", exc);
    (void)crypto_sign_seed_keypair(pk, sk, seed.p);
    sodium_memzero(sk, sizeof(sk));
    return new_u8(ctx, pk, sizeof(pk), exc);
}

/* ed25519Sign(seed, data) -> ArrayBuffer(64) */
static JSValueRef
n_ed_sign(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
          JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes seed;
    struct bytes data;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t sig[crypto_sign_BYTES];
    if (!arg_bytes(ctx, argc, argv, 0, &seed) || seed.len != crypto_sign_SEEDBYTES ||
        !arg_bytes(ctx, argc, argv, 1, &data))
        return bad_args(ctx, "ed25519Sign", exc);
    (void)crypto_sign_seed_keypair(pk, sk, seed.p);
    (void)crypto_sign_detached(sig, NULL, data.p, data.len, sk);
    sodium_memzero(sk, sizeof(sk));
    return new_buffer(ctx, sig, sizeof(sig), exc);
}

/* ed25519Verify(public, data, signature) -> boolean */
static JSValueRef
n_ed_verify(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes pk;
    struct bytes data;
    struct bytes sig;
    if (!arg_bytes(ctx, argc, argv, 0, &pk) || pk.len != crypto_sign_PUBLICKEYBYTES ||
        !arg_bytes(ctx, argc, argv, 1, &data) || !arg_bytes(ctx, argc, argv, 2, &sig))
        return bad_args(ctx, "ed25519Verify", exc);
    bool ok = sig.len == crypto_sign_BYTES &&
              crypto_sign_verify_detached(sig.p, data.p, data.len, pk.p) == 0;
    return JSValueMakeBoolean(ctx, ok);
}

/* ---- P-256 (libcrypto) ---- */

/* The uncompressed point of d * G into pub; false if d is not in [1, n). */
static bool
p256_public(const uint8_t d[P256_SCALAR], uint8_t pub[P256_POINT])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *k = BN_bin2bn(d, P256_SCALAR, NULL);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    bool ok = g && k && q && !BN_is_zero(k) && BN_cmp(k, EC_GROUP_get0_order(g)) < 0 &&
              EC_POINT_mul(g, q, k, NULL, NULL, NULL) == 1 &&
              EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, P256_POINT, NULL) ==
                  P256_POINT;
    EC_POINT_free(q);
    BN_clear_free(k);
    EC_GROUP_free(g);
    return ok;
}

/* A SEC 1 point (compressed or not) checked to be on P-256, uncompressed
 * into pub. */
static bool
p256_point(const struct bytes *in, uint8_t pub[P256_POINT])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    bool ok = q && (in->len == P256_POINT || in->len == 33) &&
              EC_POINT_oct2point(g, q, in->p, in->len, NULL) == 1 &&
              EC_POINT_is_on_curve(g, q, NULL) == 1 && EC_POINT_is_at_infinity(g, q) == 0 &&
              EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, P256_POINT, NULL) ==
                  P256_POINT;
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return ok;
}

/* An EVP_PKEY for P-256 from a public point and, if d is not NULL, the
 * private scalar. Returns owned, or NULL. */
static EVP_PKEY *
p256_pkey(const uint8_t *d, const uint8_t pub[P256_POINT])
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *k = d ? BN_secure_new() : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    bool ok = b && pctx && (!d || (k && BN_bin2bn(d, P256_SCALAR, k))) &&
              OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
              OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, P256_POINT) &&
              (!d || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, k));
    params = ok ? OSSL_PARAM_BLD_to_param(b) : NULL;
    if (params && EVP_PKEY_fromdata_init(pctx) == 1)
        (void)EVP_PKEY_fromdata(pctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_clear_free(k);
    EVP_PKEY_CTX_free(pctx);
    return pkey;
}

/* p256Generate() -> [d, public] */
static JSValueRef
n_p256_generate(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self, (void)argc, (void)argv;
    uint8_t d[P256_SCALAR];
    uint8_t pub[P256_POINT];
    bool ok = false;
    for (int i = 0; !ok && i < 8; i++) { /* each draw is in [1, n) with p > 1 - 2^-32 */
        randombytes_buf(d, sizeof(d));
        ok = p256_public(d, pub);
    }
    if (!ok)
        return sr_js__throw(ctx, "Error", "P-256 key generation failed in libcrypto", exc);
    JSValueRef v =
        pair(ctx, new_u8(ctx, d, sizeof(d), exc), new_u8(ctx, pub, sizeof(pub), exc), exc);
    sodium_memzero(d, sizeof(d));
    return v;
}

/* p256Public(d) -> public, or null when d is not a valid scalar */
static JSValueRef
n_p256_public(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes d;
    uint8_t pub[P256_POINT];
    if (!arg_bytes(ctx, argc, argv, 0, &d) || d.len != P256_SCALAR)
        return bad_args(ctx, "p256Public", exc);
    return p256_public(d.p, pub) ? new_u8(ctx, pub, sizeof(pub), exc) : JSValueMakeNull(ctx);
}

/* p256Point(bytes) -> uncompressed public, or null when not on the curve */
static JSValueRef
n_p256_point(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes in;
    uint8_t pub[P256_POINT];
    if (!arg_bytes(ctx, argc, argv, 0, &in))
        return bad_args(ctx, "p256Point", exc);
    return p256_point(&in, pub) ? new_u8(ctx, pub, sizeof(pub), exc) : JSValueMakeNull(ctx);
}

/* The DER ECDSA-Sig-Value der[0..len) as r || s, 32 bytes each. */
static bool
sig_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    bool ok = sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok;
}

/* p256Sign(hash, d, public, data) -> ArrayBuffer(64), r || s */
static JSValueRef
n_p256_sign(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
            const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    char name[16];
    struct bytes d;
    struct bytes pub;
    struct bytes data;
    uint8_t md[MAX_MD];
    enum hash_id h = arg_name(ctx, argc, argv, 0, name, sizeof(name)) ? hash_of(name) : H_NONE;
    if (h == H_NONE || !arg_bytes(ctx, argc, argv, 1, &d) || d.len != P256_SCALAR ||
        !arg_bytes(ctx, argc, argv, 2, &pub) || pub.len != P256_POINT ||
        !arg_bytes(ctx, argc, argv, 3, &data) || !digest(h, data.p, data.len, md))
        return bad_args(ctx, "p256Sign", exc);
    EVP_PKEY *pkey = p256_pkey(d.p, pub.p);
    EVP_PKEY_CTX *pctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    uint8_t der[80];
    size_t der_len = sizeof(der);
    uint8_t raw[64];
    bool ok = pctx && EVP_PKEY_sign_init(pctx) == 1 &&
              EVP_PKEY_sign(pctx, der, &der_len, md, hash_len(h)) == 1 &&
              sig_to_raw(der, der_len, raw);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    if (!ok)
        return sr_js__throw(ctx, "Error", "ECDSA signing failed in libcrypto", exc);
    return new_buffer(ctx, raw, sizeof(raw), exc);
}

/* p256Verify(hash, public, data, signature) -> boolean */
static JSValueRef
n_p256_verify(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    char name[16];
    struct bytes pub;
    struct bytes data;
    struct bytes sig;
    uint8_t md[MAX_MD];
    enum hash_id h = arg_name(ctx, argc, argv, 0, name, sizeof(name)) ? hash_of(name) : H_NONE;
    if (h == H_NONE || !arg_bytes(ctx, argc, argv, 1, &pub) || pub.len != P256_POINT ||
        !arg_bytes(ctx, argc, argv, 2, &data) || !arg_bytes(ctx, argc, argv, 3, &sig) ||
        !digest(h, data.p, data.len, md))
        return bad_args(ctx, "p256Verify", exc);
    if (sig.len != 64)
        return JSValueMakeBoolean(ctx, false);
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig.p, 32, NULL);
    BIGNUM *s = BN_bin2bn(sig.p + 32, 32, NULL);
    unsigned char *der = NULL;
    int der_len = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        der_len = i2d_ECDSA_SIG(es, &der);
    }
    EVP_PKEY *pkey = der_len > 0 ? p256_pkey(NULL, pub.p) : NULL;
    EVP_PKEY_CTX *pctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    bool ok = pctx && EVP_PKEY_verify_init(pctx) == 1 &&
              EVP_PKEY_verify(pctx, der, (size_t)der_len, md, hash_len(h)) == 1;
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return JSValueMakeBoolean(ctx, ok);
}

/* True if pkey is an EC key on P-256. */
static bool
is_p256(const EVP_PKEY *pkey)
{
    char group[32];
    size_t len = 0;
    return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                          &len) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

/* Parses DER PKCS #8 (private) or SPKI (public) of a P-256 key; all of the
 * input must be the structure. d is set for a private key. */
static bool
p256_parse(const struct bytes *der, bool private_key, uint8_t d[P256_SCALAR],
           uint8_t pub[P256_POINT])
{
    const unsigned char *p = der->p;
    EVP_PKEY *pkey = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    if (der->len > 4096)
        return false;
    if (private_key) {
        p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der->len);
        pkey = p8 && p == der->p + der->len ? EVP_PKCS82PKEY(p8) : NULL;
    } else {
        pkey = d2i_PUBKEY(NULL, &p, (long)der->len);
    }
    BIGNUM *k = NULL;
    size_t len = 0;
    uint8_t enc[P256_POINT + 8];
    bool ok = pkey && p == der->p + der->len && is_p256(pkey);
    if (ok && private_key)
        ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &k) == 1 &&
             BN_bn2binpad(k, d, P256_SCALAR) == P256_SCALAR && p256_public(d, pub);
    else if (ok)
        ok = EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, enc, sizeof(enc),
                                             &len) == 1 &&
             p256_point(&(struct bytes){enc, len}, pub);
    BN_clear_free(k);
    EVP_PKEY_free(pkey);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return ok;
}

/* p256Parse(der, isPrivate) -> [d or null, public], or null */
static JSValueRef
n_p256_parse(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
             const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes der;
    uint8_t d[P256_SCALAR];
    uint8_t pub[P256_POINT];
    if (!arg_bytes(ctx, argc, argv, 0, &der) || argc < 2)
        return bad_args(ctx, "p256Parse", exc);
    bool private_key = JSValueToBoolean(ctx, argv[1]);
    if (!p256_parse(&der, private_key, d, pub))
        return JSValueMakeNull(ctx);
    JSValueRef first = private_key ? new_u8(ctx, d, sizeof(d), exc) : JSValueMakeNull(ctx);
    sodium_memzero(d, sizeof(d));
    return pair(ctx, first, new_u8(ctx, pub, sizeof(pub), exc), exc);
}

/* ---- AES-GCM ---- */

static const EVP_CIPHER *
aes_gcm(size_t key_len)
{
    return key_len == 16   ? EVP_aes_128_gcm()
           : key_len == 24 ? EVP_aes_192_gcm()
           : key_len == 32 ? EVP_aes_256_gcm()
                           : NULL;
}

/* Encrypts (out = ciphertext || tag) or decrypts (out = plaintext) with
 * libcrypto; false on a bad tag. */
static bool
gcm_evp(bool enc, const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
        const struct bytes *in, size_t tag_len, uint8_t *out)
{
    size_t body = enc ? in->len : in->len - tag_len;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    bool ok = c && iv->len <= INT32_MAX && aad->len <= INT32_MAX && body <= INT32_MAX &&
              EVP_CipherInit_ex(c, aes_gcm(key->len), NULL, NULL, NULL, enc) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)iv->len, NULL) == 1 &&
              EVP_CipherInit_ex(c, NULL, NULL, key->p, iv->p, enc) == 1 &&
              (aad->len == 0 || EVP_CipherUpdate(c, NULL, &n, aad->p, (int)aad->len) == 1) &&
              (body == 0 || EVP_CipherUpdate(c, out, &n, in->p, (int)body) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, (int)tag_len,
                                 (void *)(uintptr_t)(in->p + body)) == 1;
    ok = ok && EVP_CipherFinal_ex(c, out + body, &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, (int)tag_len, out + body) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* The same with libsodium's AES-256-GCM (AES-NI, 96-bit IV, 128-bit tag). */
static bool
gcm_sodium(bool enc, const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
           const struct bytes *in, uint8_t *out)
{
    if (enc)
        return crypto_aead_aes256gcm_encrypt(out, NULL, in->p, in->len, aad->p, aad->len, NULL,
                                             iv->p, key->p) == 0;
    return crypto_aead_aes256gcm_decrypt(out, NULL, NULL, in->p, in->len, aad->p, aad->len, iv->p,
                                         key->p) == 0;
}

/* aesGcm(encrypt, key, iv, aad, data, tagBytes) -> ArrayBuffer, or null
 * when decryption fails (a wrong key, IV, data or tag). */
static JSValueRef
n_aes_gcm(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
          JSValueRef *exc)
{
    (void)fn, (void)self;
    struct bytes key;
    struct bytes iv;
    struct bytes aad;
    struct bytes in;
    double tag =
        argc > 5 && JSValueIsNumber(ctx, argv[5]) ? JSValueToNumber(ctx, argv[5], NULL) : 0;
    if (argc < 6 || !arg_bytes(ctx, argc, argv, 1, &key) || !aes_gcm(key.len) ||
        !arg_bytes(ctx, argc, argv, 2, &iv) || iv.len == 0 ||
        !arg_bytes(ctx, argc, argv, 3, &aad) || !arg_bytes(ctx, argc, argv, 4, &in) ||
        !(tag >= 4 && tag <= 16))
        return bad_args(ctx, "aesGcm", exc);
    bool enc = JSValueToBoolean(ctx, argv[0]);
    size_t tag_len = (size_t)tag;
    if (!enc && in.len < tag_len)
        return JSValueMakeNull(ctx);
    size_t out_len = enc ? in.len + tag_len : in.len - tag_len;
    uint8_t *out = sodium_malloc(out_len ? out_len : 1);
    if (!out)
        return sr_js__throw(ctx, "RangeError", "AES-GCM: out of memory", exc);
    bool ok = key.len == 32 && iv.len == 12 && tag_len == 16 && crypto_aead_aes256gcm_is_available()
                  ? gcm_sodium(enc, &key, &iv, &aad, &in, out)
                  : gcm_evp(enc, &key, &iv, &aad, &in, tag_len, out);
    JSValueRef v = ok ? new_buffer(ctx, out, out_len, exc) : JSValueMakeNull(ctx);
    sodium_free(out); /* wipes */
    return v;
}

/* ---- installation ---- */

sr_status
sr_js__run_subtle(struct sr_js__run *run, JSValueRef *exc)
{
    static const char *const names[] = {
        "digest",        "hmac",        "equal",         "hkdf",         "ed25519Generate",
        "ed25519Public", "ed25519Sign", "ed25519Verify", "p256Generate", "p256Public",
        "p256Point",     "p256Sign",    "p256Verify",    "p256Parse",    "aesGcm"};
    static const JSObjectCallAsFunctionCallback fns[] = {
        n_digest,     n_hmac,      n_equal,       n_hkdf,          n_ed_generate,
        n_ed_public,  n_ed_sign,   n_ed_verify,   n_p256_generate, n_p256_public,
        n_p256_point, n_p256_sign, n_p256_verify, n_p256_parse,    n_aes_gcm};
    JSContextRef ctx = run->ctx;
    JSObjectRef natives = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!sr_js__set(ctx, natives, names[i], sr_js__function(ctx, names[i], fns[i]),
                        kJSPropertyAttributeReadOnly, exc))
            return SR_EINTERNAL;
    JSValueRef args[3] = {natives, JSContextGetGlobalObject(ctx), run->web_internals};
    JSValueRef out = NULL;
    return sr_js__eval_prelude(ctx, sr_js__subtle_js, SUBTLE_JS_URL, 3, args, &out, exc);
}

void
sr_js__crypto_init(void)
{
    /* before the sandbox: no configuration file (a job process can open
     * none), and the algorithm tables loaded while that is still allowed */
    (void)OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_ADD_ALL_CIPHERS |
                                  OPENSSL_INIT_ADD_ALL_DIGESTS,
                              NULL);
}
