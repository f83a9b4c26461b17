/* SPDX-License-Identifier: MIT
 *
 * js_secp256k1.c - crypto.secp256k1, the guest's secp256k1 (Bitcoin's and
 * Ethereum's curve) on libsecp256k1 through sr_secp256k1.h: getPublicKey,
 * sign (ECDSA, RFC 6979, low-s, with the recovery id), verify, recover,
 * and schnorr.getPublicKey/sign/verify (BIP-340). Synchronous; bytes in
 * (Uint8Array or ArrayBuffer), Uint8Array out; a wrong shape is a
 * TypeError, an invalid private key a RangeError (docs/js.md).
 */
#include "js_int.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_secp256k1.h"

struct k1_bytes {
    const uint8_t *p;
    size_t len;
};

/* argv[i] as bytes of one of the lengths len1/len2 (0: any). False with a
 * TypeError naming fn and what. */
static bool
k1_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, size_t len1, size_t len2,
       const char *where, JSValueRef *exc, struct k1_bytes *b)
{
    char msg[192];
    if (i < argc && JSValueIsObject(ctx, argv[i]) &&
        sr_js__binary_bytes(ctx, argv[i], &b->p, &b->len) &&
        (len1 == 0 || b->len == len1 || (len2 && b->len == len2))) {
        if (!b->p)
            b->p = (const uint8_t *)"";
        return true;
    }
    if (len2)
        (void)snprintf(msg, sizeof(msg),
                       "%s must be a Uint8Array or ArrayBuffer of %zu or %zu bytes", where, len1,
                       len2);
    else if (len1)
        (void)snprintf(msg, sizeof(msg), "%s must be a Uint8Array or ArrayBuffer of %zu bytes",
                       where, len1);
    else
        (void)snprintf(msg, sizeof(msg), "%s must be a Uint8Array or ArrayBuffer", where);
    (void)sr_js__throw(ctx, "TypeError", msg, exc);
    return false;
}

static JSValueRef
k1_u8(JSContextRef ctx, const uint8_t *p, size_t len, JSValueRef *exc)
{
    JSObjectRef a = JSObjectMakeTypedArray(ctx, kJSTypedArrayTypeUint8Array, len, exc);
    uint8_t *dst = a && !*exc ? JSObjectGetTypedArrayBytesPtr(ctx, a, exc) : NULL;
    if (!dst || *exc)
        return NULL;
    memcpy(dst, p, len);
    return a;
}

/* A failed call: rc SR_EINVAL (an invalid key or signature) is a
 * RangeError, anything else an Error. */
static JSValueRef
k1_fail(JSContextRef ctx, const char *where, sr_status rc, const sr_err *err, JSValueRef *exc)
{
    char msg[SR_ERR_MSG_MAX + 64];
    (void)snprintf(msg, sizeof(msg), "%s: %s", where, err->msg);
    return sr_js__throw(ctx, rc == SR_EINVAL ? "RangeError" : "Error", msg, exc);
}

/* The optional boolean argv[i] (default true). */
static bool
k1_flag(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i)
{
    return i >= argc || JSValueIsUndefined(ctx, argv[i]) || JSValueToBoolean(ctx, argv[i]);
}

/* getPublicKey(privateKey, compressed = true) */
static JSValueRef
k1_get_public(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    const char *where = "crypto.secp256k1.getPublicKey(privateKey, compressed)";
    struct k1_bytes sk;
    uint8_t pub[SR_SECP256K1_PUB_UNCOMPRESSED];
    size_t len = 0;
    sr_err err;
    if (!k1_arg(ctx, argc, argv, 0, 32, 0, "'privateKey'", exc, &sk))
        return NULL;
    sr_status rc = sr_secp256k1_pubkey(sk.p, k1_flag(ctx, argc, argv, 1), pub, &len, &err);
    if (rc != SR_OK)
        return k1_fail(ctx, where, rc, &err, exc);
    return k1_u8(ctx, pub, len, exc);
}

/* sign(hash, privateKey) -> {signature, recovery} */
static JSValueRef
k1_sign(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
        JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes hash;
    struct k1_bytes sk;
    uint8_t sig[SR_SECP256K1_SIG];
    int recid = 0;
    sr_err err;
    if (!k1_arg(ctx, argc, argv, 0, 32, 0, "'hash' (the 32-byte message hash)", exc, &hash) ||
        !k1_arg(ctx, argc, argv, 1, 32, 0, "'privateKey'", exc, &sk))
        return NULL;
    sr_status rc = sr_secp256k1_sign(hash.p, sk.p, sig, &recid, &err);
    if (rc != SR_OK)
        return k1_fail(ctx, "crypto.secp256k1.sign(hash, privateKey)", rc, &err, exc);
    JSObjectRef r = JSObjectMake(ctx, NULL, NULL);
    JSValueRef s = k1_u8(ctx, sig, sizeof(sig), exc);
    if (!s || !sr_js__set(ctx, r, "signature", s, kJSPropertyAttributeNone, exc) ||
        !sr_js__set(ctx, r, "recovery", JSValueMakeNumber(ctx, recid), kJSPropertyAttributeNone,
                    exc))
        return NULL;
    return r;
}

/* verify(signature, hash, publicKey) -> boolean */
static JSValueRef
k1_verify(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
          JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes sig;
    struct k1_bytes hash;
    struct k1_bytes pub;
    if (!k1_arg(ctx, argc, argv, 0, 64, 0, "'signature' (r || s)", exc, &sig) ||
        !k1_arg(ctx, argc, argv, 1, 32, 0, "'hash'", exc, &hash) ||
        !k1_arg(ctx, argc, argv, 2, 33, 65, "'publicKey'", exc, &pub))
        return NULL;
    return JSValueMakeBoolean(ctx, sr_secp256k1_verify(sig.p, hash.p, pub.p, pub.len));
}

/* recover(signature, recovery, hash, compressed = true) -> publicKey */
static JSValueRef
k1_recover(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
           JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes sig;
    struct k1_bytes hash;
    uint8_t pub[SR_SECP256K1_PUB_UNCOMPRESSED];
    size_t len = 0;
    sr_err err;
    if (!k1_arg(ctx, argc, argv, 0, 64, 0, "'signature' (r || s)", exc, &sig))
        return NULL;
    double id =
        argc > 1 && JSValueIsNumber(ctx, argv[1]) ? JSValueToNumber(ctx, argv[1], NULL) : -1;
    if (!(id == 0 || id == 1 || id == 2 || id == 3))
        return sr_js__throw(ctx, "TypeError",
                            "crypto.secp256k1.recover: 'recovery' must be 0, 1, 2 or 3", exc);
    if (!k1_arg(ctx, argc, argv, 2, 32, 0, "'hash'", exc, &hash))
        return NULL;
    sr_status rc =
        sr_secp256k1_recover(sig.p, (int)id, hash.p, k1_flag(ctx, argc, argv, 3), pub, &len, &err);
    if (rc != SR_OK)
        return k1_fail(ctx, "crypto.secp256k1.recover", rc, &err, exc);
    return k1_u8(ctx, pub, len, exc);
}

/* schnorr.getPublicKey(privateKey) -> 32-byte x-only key */
static JSValueRef
k1_schnorr_public(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                  const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes sk;
    uint8_t x[SR_SECP256K1_XONLY];
    sr_err err;
    if (!k1_arg(ctx, argc, argv, 0, 32, 0, "'privateKey'", exc, &sk))
        return NULL;
    sr_status rc = sr_secp256k1_xonly(sk.p, x, &err);
    if (rc != SR_OK)
        return k1_fail(ctx, "crypto.secp256k1.schnorr.getPublicKey", rc, &err, exc);
    return k1_u8(ctx, x, sizeof(x), exc);
}

/* schnorr.sign(message, privateKey, auxRand?) -> 64-byte signature */
static JSValueRef
k1_schnorr_sign(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes msg;
    struct k1_bytes sk;
    struct k1_bytes aux = {NULL, 0};
    uint8_t sig[SR_SECP256K1_SIG];
    sr_err err;
    if (!k1_arg(ctx, argc, argv, 0, 0, 0, "'message'", exc, &msg) ||
        !k1_arg(ctx, argc, argv, 1, 32, 0, "'privateKey'", exc, &sk))
        return NULL;
    bool has_aux = argc > 2 && !JSValueIsUndefined(ctx, argv[2]);
    if (has_aux && !k1_arg(ctx, argc, argv, 2, 32, 0, "'auxRand'", exc, &aux))
        return NULL;
    sr_status rc =
        sr_secp256k1_schnorr_sign(msg.p, msg.len, sk.p, has_aux ? aux.p : NULL, sig, &err);
    if (rc != SR_OK)
        return k1_fail(ctx, "crypto.secp256k1.schnorr.sign", rc, &err, exc);
    return k1_u8(ctx, sig, sizeof(sig), exc);
}

/* schnorr.verify(signature, message, publicKey) -> boolean */
static JSValueRef
k1_schnorr_verify(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                  const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self;
    struct k1_bytes sig;
    struct k1_bytes msg;
    struct k1_bytes pub;
    if (!k1_arg(ctx, argc, argv, 0, 64, 0, "'signature'", exc, &sig) ||
        !k1_arg(ctx, argc, argv, 1, 0, 0, "'message'", exc, &msg) ||
        !k1_arg(ctx, argc, argv, 2, 32, 0, "'publicKey' (x-only)", exc, &pub))
        return NULL;
    return JSValueMakeBoolean(ctx, sr_secp256k1_schnorr_verify(sig.p, msg.p, msg.len, pub.p));
}

static JSObjectRef
k1_object(JSContextRef ctx, const char *const *names, const JSObjectCallAsFunctionCallback *fns,
          size_t n, JSValueRef *exc)
{
    JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        if (!sr_js__set(ctx, o, names[i], sr_js__function(ctx, names[i], fns[i]),
                        kJSPropertyAttributeDontEnum, exc))
            return NULL;
    return o;
}

JSObjectRef
sr_js__secp256k1_object(JSContextRef ctx, JSValueRef *exc)
{
    static const char *const names[] = {"getPublicKey", "sign", "verify", "recover"};
    static const JSObjectCallAsFunctionCallback fns[] = {k1_get_public, k1_sign, k1_verify,
                                                         k1_recover};
    static const char *const schnorr_names[] = {"getPublicKey", "sign", "verify"};
    static const JSObjectCallAsFunctionCallback schnorr_fns[] = {k1_schnorr_public, k1_schnorr_sign,
                                                                 k1_schnorr_verify};
    JSObjectRef o = k1_object(ctx, names, fns, 4, exc);
    JSObjectRef s = o ? k1_object(ctx, schnorr_names, schnorr_fns, 3, exc) : NULL;
    if (!s || !sr_js__set(ctx, o, "schnorr", s, kJSPropertyAttributeDontEnum, exc))
        return NULL;
    return o;
}
