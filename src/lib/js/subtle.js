// SPDX-License-Identifier: MIT
//
// subtle.js - crypto.subtle, SubtleCrypto and CryptoKey (W3C Web
// Cryptography API, https://w3c.github.io/webcrypto/) for a job's script:
// digest (SHA-1, SHA-256, SHA-384, SHA-512), HMAC, Ed25519, ECDSA on
// P-256, AES-GCM and HKDF, with importKey/exportKey (raw, jwk, and
// pkcs8/spki where the spec has them), generateKey, sign, verify,
// encrypt, decrypt, deriveBits, deriveKey, wrapKey and unwrapKey.
//
// This file holds the spec's rules (algorithm normalization, usages,
// formats, which DOMException for what); the arithmetic is js_crypto.c's
// (N). Run on first use of crypto.subtle, SubtleCrypto or CryptoKey (after
// web.js, whose internals are W), as web.js is. Every method is async, so
// each failure is a rejected promise, as the spec has it.
(function (N, G, W) {
'use strict';
const {domError, bytesOf, cloneHooks, webidl, crypto, TextEncoder, TextDecoder, atob, btoa} = W;
const O = Object;
const objectCreate = O.create;
const defineProperty = O.defineProperty;
const WeakMapC = WeakMap;
const Uint8ArrayC = Uint8Array;
const TypeErrorC = TypeError;
const JSONC = JSON;
const weakGet = WeakMapC.prototype.get;
const weakSet = WeakMapC.prototype.set;
const ReflectApply = Reflect.apply;

function call(fn, self, ...args) {
    return ReflectApply(fn, self, args);
}

// ---- CryptoKey (Web Crypto 13) ----

// CryptoKey -> {type, extractable, algorithm, usages, data}; data holds the
// key's bytes: {raw} for secret keys, {priv, pub} or {pub} for key pairs.
const slots = new WeakMapC();

function slotOf(key, where) {
    const s = key !== null && typeof key === 'object' ? call(weakGet, slots, key) : undefined;
    if (s === undefined)
        throw new TypeErrorC(`${where}: the key must be a CryptoKey`);
    return s;
}

class CryptoKey {
    constructor() {
        throw new TypeErrorC('Illegal constructor');
    }
    get type() {
        return slotOf(this, 'CryptoKey.type').type;
    }
    get extractable() {
        return slotOf(this, 'CryptoKey.extractable').extractable;
    }
    get algorithm() {
        return slotOf(this, 'CryptoKey.algorithm').algorithm;
    }
    get usages() {
        return slotOf(this, 'CryptoKey.usages').usages;
    }
}
webidl(CryptoKey, 'CryptoKey');

function makeKey(type, extractable, algorithm, usages, data) {
    const k = objectCreate(CryptoKey.prototype);
    call(weakSet, slots, k, {type, extractable, algorithm, usages: [...usages], data});
    return k;
}

// structuredClone of a CryptoKey (it is serializable): the same key.
cloneHooks.push((v) => {
    const s = v !== null && typeof v === 'object' ? call(weakGet, slots, v) : undefined;
    if (s === undefined)
        return undefined;
    return makeKey(s.type, s.extractable, JSONC.parse(JSONC.stringify(s.algorithm)), s.usages,
                   s.data);
});

// ---- WebIDL conversions ----

const usageNames = ['encrypt', 'decrypt', 'sign', 'verify', 'deriveKey', 'deriveBits', 'wrapKey',
                    'unwrapKey'];
const formats = ['raw', 'spki', 'pkcs8', 'jwk'];

function usagesArg(v, where) {
    if (v === null || typeof v !== 'object' || typeof v[Symbol.iterator] !== 'function')
        throw new TypeErrorC(`${where}: 'keyUsages' must be a sequence of KeyUsage`);
    const out = [];
    for (const u of v) {
        const s = `${u}`;
        if (!usageNames.includes(s))
            throw new TypeErrorC(`${where}: '${s}' is not a KeyUsage (one of ` +
                                 `${usageNames.join(', ')})`);
        if (!out.includes(s))
            out.push(s);
    }
    return out;
}

function formatArg(v, where) {
    const s = `${v}`;
    if (!formats.includes(s))
        throw new TypeErrorC(`${where}: '${s}' is not a KeyFormat (raw, spki, pkcs8 or jwk)`);
    return s;
}

function bufferArg(v, where, what) {
    const b = bytesOf(v);
    if (b === null)
        throw new TypeErrorC(`${where}: '${what}' must be an ArrayBuffer or ArrayBufferView`);
    return b;
}

// [EnforceRange] integer conversion of WebIDL.
function enforceRange(v, max, where, what) {
    const n = +v;
    if (!Number.isFinite(n))
        throw new TypeErrorC(`${where}: '${what}' must be a finite number`);
    const t = Math.trunc(n);
    if (t < 0 || t > max)
        throw new TypeErrorC(`${where}: '${what}' is out of range (0 to ${max})`);
    return t;
}

function required(alg, member, dict, where) {
    const v = alg[member];
    if (v === undefined)
        throw new TypeErrorC(`${where}: '${member}' is required in ${dict}`);
    return v;
}

// ---- algorithm normalization (Web Crypto 18.4) ----

const digests = {'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64};
const blockBits = {'SHA-1': 512, 'SHA-256': 512, 'SHA-384': 1024, 'SHA-512': 1024};

const params = {
    hash(alg, r, where, dict) {
        r.hash = normalize('digest', required(alg, 'hash', dict, where), where);
    },
    EcdsaParams(alg, r, where) {
        params.hash(alg, r, where, 'EcdsaParams');
    },
    HmacKeyGenParams(alg, r, where, dict = 'HmacKeyGenParams') {
        params.hash(alg, r, where, dict);
        if (alg.length !== undefined)
            r.length = enforceRange(alg.length, 0xffffffff, where, 'length');
    },
    HmacImportParams(alg, r, where) {
        params.HmacKeyGenParams(alg, r, where, 'HmacImportParams');
    },
    AesKeyGenParams(alg, r, where, dict = 'AesKeyGenParams') {
        r.length = enforceRange(required(alg, 'length', dict, where), 0xffff, where, 'length');
    },
    AesDerivedKeyParams(alg, r, where) {
        params.AesKeyGenParams(alg, r, where, 'AesDerivedKeyParams');
    },
    EcKeyParams(alg, r, where) {
        r.namedCurve = `${required(alg, 'namedCurve', 'EcKeyGenParams', where)}`;
    },
    AesGcmParams(alg, r, where) {
        r.iv = bufferArg(required(alg, 'iv', 'AesGcmParams', where), where, 'iv');
        if (alg.additionalData !== undefined)
            r.additionalData = bufferArg(alg.additionalData, where, 'additionalData');
        if (alg.tagLength !== undefined)
            r.tagLength = enforceRange(alg.tagLength, 255, where, 'tagLength');
    },
    HkdfParams(alg, r, where) {
        params.hash(alg, r, where, 'HkdfParams');
        r.salt = bufferArg(required(alg, 'salt', 'HkdfParams', where), where, 'salt');
        r.info = bufferArg(required(alg, 'info', 'HkdfParams', where), where, 'info');
    },
};

const signAlgs = {HMAC: null, Ed25519: null, ECDSA: 'EcdsaParams'};
const gcmOnly = {'AES-GCM': 'AesGcmParams'};
const operations = {
    digest: {'SHA-1': null, 'SHA-256': null, 'SHA-384': null, 'SHA-512': null},
    sign: signAlgs,
    verify: signAlgs,
    generateKey: {HMAC: 'HmacKeyGenParams', 'AES-GCM': 'AesKeyGenParams', Ed25519: null,
                  ECDSA: 'EcKeyParams'},
    importKey: {HMAC: 'HmacImportParams', 'AES-GCM': null, Ed25519: null, ECDSA: 'EcKeyParams',
                HKDF: null},
    encrypt: gcmOnly,
    decrypt: gcmOnly,
    wrapKey: gcmOnly,
    unwrapKey: gcmOnly,
    deriveBits: {HKDF: 'HkdfParams'},
    'get key length': {HMAC: 'HmacImportParams', 'AES-GCM': 'AesDerivedKeyParams'},
};

function asciiUpper(s) {
    return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

function normalize(op, alg, where) {
    // WebIDL (object or DOMString): anything but an object is a string
    if (alg === null || (typeof alg !== 'object' && typeof alg !== 'function'))
        alg = {name: `${alg}`};
    const name = `${required(alg, 'name', 'Algorithm', where)}`;
    const table = operations[op];
    const upper = asciiUpper(name);
    const canonical = O.keys(table).find((k) => asciiUpper(k) === upper);
    if (canonical === undefined)
        throw domError('NotSupportedError',
                       `${where}: the algorithm '${name}' is not supported for ${op}`);
    const r = {name: canonical};
    if (table[canonical] !== null)
        params[table[canonical]](alg, r, where);
    return r;
}

// ---- base64url (JWK) ----

function b64urlEncode(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i++)
        s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function b64urlDecode(s, what) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1)
        throw domError('DataError', `importKey: the JWK member '${what}' is not base64url`);
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    const out = new Uint8ArrayC(bin.length);
    for (let i = 0; i < bin.length; i++)
        out[i] = bin.charCodeAt(i);
    return out;
}

// ---- shared checks ----

function checkUsages(usages, allowed, what) {
    for (const u of usages)
        if (!allowed.includes(u))
            throw domError('SyntaxError',
                           `the usage '${u}' is not allowed for ${what} (allowed: ` +
                           `${allowed.join(', ') || 'none'})`);
}

function nonEmpty(usages, what) {
    if (usages.length === 0)
        throw domError('SyntaxError', `a ${what} needs at least one usage`);
}

function jwkArg(v) {
    if (v === null || typeof v !== 'object' || bytesOf(v) !== null)
        throw new TypeErrorC("importKey: with format 'jwk', 'keyData' must be a JsonWebKey object");
    return v;
}

// The checks of a JWK's kty, use, key_ops and ext (Web Crypto 18.x import).
function checkJwk(jwk, kty, usages, extractable, use) {
    if (jwk.kty !== kty)
        throw domError('DataError', `importKey: the JWK's kty must be '${kty}'`);
    if (usages.length && jwk.use !== undefined && jwk.use !== use)
        throw domError('DataError', `importKey: the JWK's use must be '${use}'`);
    if (jwk.key_ops !== undefined) {
        const ops = [...jwk.key_ops].map((x) => `${x}`);
        for (const u of usages)
            if (!ops.includes(u))
                throw domError('DataError',
                               `importKey: the JWK's key_ops do not include '${u}'`);
    }
    if (jwk.ext === false && extractable)
        throw domError('DataError',
                       'importKey: the JWK is not extractable (ext: false), so the key cannot be');
}

function checkLength(b, n, what) {
    if (b.length !== n)
        throw domError('DataError', `importKey: ${what} must be ${n} bytes, got ${b.length}`);
}

function exportJwk(jwk, s) {
    jwk.key_ops = [...s.usages];
    jwk.ext = s.extractable;
    return jwk;
}

function startsWith(b, prefix) {
    if (b.length < prefix.length)
        return false;
    for (let i = 0; i < prefix.length; i++)
        if (b[i] !== prefix[i])
            return false;
    return true;
}

function concat(...parts) {
    let n = 0;
    for (const p of parts)
        n += p.length;
    const out = new Uint8ArrayC(n);
    let o = 0;
    for (const p of parts) {
        out.set(p, o);
        o += p.length;
    }
    return out;
}

function hexBytes(h) {
    const out = new Uint8ArrayC(h.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = parseInt(h.substr(2 * i, 2), 16);
    return out;
}

function buffer(u8) {
    return u8.slice().buffer;
}

// ---- HMAC (Web Crypto 29) ----

const hmacJwkAlg = {'SHA-1': 'HS1', 'SHA-256': 'HS256', 'SHA-384': 'HS384', 'SHA-512': 'HS512'};

const HMAC = {
    sign(alg, s, data) {
        return N.hmac(s.algorithm.hash.name, s.data.raw, data);
    },
    verify(alg, s, sig, data) {
        return N.equal(new Uint8ArrayC(N.hmac(s.algorithm.hash.name, s.data.raw, data)), sig);
    },
    generate(alg, extractable, usages) {
        checkUsages(usages, ['sign', 'verify'], 'an HMAC key');
        const bits = alg.length === undefined ? blockBits[alg.hash.name] : alg.length;
        if (bits === 0)
            throw domError('OperationError', 'generateKey: an HMAC key cannot be 0 bits');
        nonEmpty(usages, 'secret key');
        const raw = new Uint8ArrayC((bits + 7) >> 3);
        crypto.getRandomValues(raw);
        return makeKey('secret', extractable, {name: 'HMAC', length: bits,
                                               hash: {name: alg.hash.name}}, usages, {raw});
    },
    import(format, data, alg, extractable, usages) {
        checkUsages(usages, ['sign', 'verify'], 'an HMAC key');
        let raw;
        let hash = alg.hash.name;
        if (format === 'raw') {
            raw = data;
        } else if (format === 'jwk') {
            checkJwk(data, 'oct', usages, extractable, 'sig');
            raw = b64urlDecode(data.k, 'k');
            if (data.alg !== undefined && data.alg !== hmacJwkAlg[hash])
                throw domError('DataError', `importKey: the JWK's alg must be '` +
                                            `${hmacJwkAlg[hash]}' for ${hash}`);
        } else {
            throw domError('NotSupportedError', `importKey: an HMAC key has no '${format}' format`);
        }
        let bits = raw.length * 8;
        if (bits === 0)
            throw domError('DataError', 'importKey: an HMAC key cannot be empty');
        if (alg.length !== undefined) {
            if (alg.length > bits || alg.length <= bits - 8)
                throw domError('DataError', `importKey: 'length' ${alg.length} does not fit a ` +
                                            `key of ${raw.length} bytes`);
            bits = alg.length;
        }
        nonEmpty(usages, 'secret key');
        return makeKey('secret', extractable, {name: 'HMAC', length: bits, hash: {name: hash}},
                       usages, {raw});
    },
    export(format, s) {
        if (format === 'raw')
            return buffer(s.data.raw);
        if (format === 'jwk')
            return exportJwk({kty: 'oct', k: b64urlEncode(s.data.raw),
                              alg: hmacJwkAlg[s.algorithm.hash.name]}, s);
        throw domError('NotSupportedError', `exportKey: an HMAC key has no '${format}' format`);
    },
    keyLength(alg) {
        if (alg.length === undefined)
            return blockBits[alg.hash.name];
        if (alg.length === 0)
            throw new TypeErrorC("deriveKey: an HMAC key's 'length' cannot be 0");
        return alg.length;
    },
};

// ---- AES-GCM (Web Crypto 27) ----

const gcmTags = [32, 64, 96, 104, 112, 120, 128];

function gcmCall(encrypt, alg, s, data) {
    const tag = alg.tagLength === undefined ? 128 : alg.tagLength;
    if (!gcmTags.includes(tag))
        throw domError('OperationError', `AES-GCM: 'tagLength' must be one of ${gcmTags.join(', ')}`);
    if (alg.iv.length === 0)
        throw domError('OperationError', "AES-GCM: 'iv' cannot be empty");
    const aad = alg.additionalData === undefined ? new Uint8ArrayC(0) : alg.additionalData;
    if (!encrypt && data.length < tag / 8)
        throw domError('OperationError', 'decrypt: the data is shorter than the tag');
    const r = N.aesGcm(encrypt, s.data.raw, alg.iv, aad, data, tag / 8);
    if (r === null)
        throw domError('OperationError',
                       'decrypt: the data could not be decrypted (wrong key, iv, ' +
                       'additionalData or tag)');
    return r;
}

const AES_GCM = {
    encrypt(alg, s, data) {
        return gcmCall(true, alg, s, data);
    },
    decrypt(alg, s, data) {
        return gcmCall(false, alg, s, data);
    },
    generate(alg, extractable, usages) {
        checkUsages(usages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'an AES-GCM key');
        if (alg.length !== 128 && alg.length !== 192 && alg.length !== 256)
            throw domError('OperationError', "generateKey: an AES key's 'length' must be 128, " +
                                             '192 or 256');
        nonEmpty(usages, 'secret key');
        const raw = new Uint8ArrayC(alg.length / 8);
        crypto.getRandomValues(raw);
        return makeKey('secret', extractable, {name: 'AES-GCM', length: alg.length}, usages,
                       {raw});
    },
    import(format, data, alg, extractable, usages) {
        checkUsages(usages, ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'], 'an AES-GCM key');
        let raw;
        if (format === 'raw') {
            raw = data;
        } else if (format === 'jwk') {
            checkJwk(data, 'oct', usages, extractable, 'enc');
            raw = b64urlDecode(data.k, 'k');
            if (data.alg !== undefined && data.alg !== `A${raw.length * 8}GCM`)
                throw domError('DataError', `importKey: the JWK's alg must be ` +
                                            `'A${raw.length * 8}GCM' for this key`);
        } else {
            throw domError('NotSupportedError', `importKey: an AES key has no '${format}' format`);
        }
        if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32)
            throw domError('DataError', `importKey: an AES key must be 16, 24 or 32 bytes, got ` +
                                        `${raw.length}`);
        nonEmpty(usages, 'secret key');
        return makeKey('secret', extractable, {name: 'AES-GCM', length: raw.length * 8}, usages,
                       {raw});
    },
    export(format, s) {
        if (format === 'raw')
            return buffer(s.data.raw);
        if (format === 'jwk')
            return exportJwk({kty: 'oct', k: b64urlEncode(s.data.raw),
                              alg: `A${s.data.raw.length * 8}GCM`}, s);
        throw domError('NotSupportedError', `exportKey: an AES key has no '${format}' format`);
    },
    keyLength(alg) {
        if (alg.length !== 128 && alg.length !== 192 && alg.length !== 256)
            throw domError('OperationError', "deriveKey: an AES key's 'length' must be 128, 192 " +
                                             'or 256');
        return alg.length;
    },
};

// ---- HKDF (Web Crypto 32) ----

const HKDF = {
    import(format, data, alg, extractable, usages) {
        if (format !== 'raw')
            throw domError('NotSupportedError', `importKey: an HKDF key has only the 'raw' format`);
        checkUsages(usages, ['deriveKey', 'deriveBits'], 'an HKDF key');
        if (extractable)
            throw domError('SyntaxError', 'importKey: an HKDF key cannot be extractable');
        nonEmpty(usages, 'secret key');
        return makeKey('secret', false, {name: 'HKDF'}, usages, {raw: data});
    },
    deriveBits(alg, s, length) {
        if (length === null)
            throw domError('OperationError', "deriveBits: HKDF needs a 'length'");
        if (length % 8 !== 0)
            throw domError('OperationError', "deriveBits: HKDF's 'length' must be a multiple of 8");
        if (length / 8 > 255 * digests[alg.hash.name])
            throw domError('OperationError', `deriveBits: HKDF with ${alg.hash.name} derives at ` +
                                             `most ${255 * digests[alg.hash.name] * 8} bits`);
        return N.hkdf(alg.hash.name, s.data.raw, alg.salt, alg.info, length / 8);
    },
};

// ---- Ed25519 (Web Crypto 24, Secure Curves) ----

const edSpki = hexBytes('302a300506032b6570032100');
const edPkcs8 = hexBytes('302e020100300506032b657004220420');

function pairUsages(usages, priv, pub, what) {
    checkUsages(usages, [...priv, ...pub], what);
    const p = usages.filter((u) => priv.includes(u));
    nonEmpty(p, `private ${what}`);
    return [p, usages.filter((u) => pub.includes(u))];
}

const Ed25519 = {
    sign(alg, s, data) {
        return N.ed25519Sign(s.data.priv, data);
    },
    verify(alg, s, sig, data) {
        return N.ed25519Verify(s.data.pub, data, sig);
    },
    generate(alg, extractable, usages) {
        const [pu, vu] = pairUsages(usages, ['sign'], ['verify'], 'Ed25519 key');
        const [seed, pub] = N.ed25519Generate();
        const a = () => ({name: 'Ed25519'});
        return {publicKey: makeKey('public', true, a(), vu, {pub}),
                privateKey: makeKey('private', extractable, a(), pu, {priv: seed, pub})};
    },
    import(format, data, alg, extractable, usages) {
        const a = {name: 'Ed25519'};
        if (format === 'raw' || format === 'spki') {
            checkUsages(usages, ['verify'], 'an Ed25519 public key');
            if (format === 'spki' && !startsWith(data, edSpki))
                throw domError('DataError', 'importKey: not an Ed25519 SubjectPublicKeyInfo');
            const pub = format === 'spki' ? data.slice(edSpki.length) : data;
            checkLength(pub, 32, 'an Ed25519 public key');
            return makeKey('public', extractable, a, usages, {pub});
        }
        if (format === 'pkcs8') {
            checkUsages(usages, ['sign'], 'an Ed25519 private key');
            if (!startsWith(data, edPkcs8) || data.length !== edPkcs8.length + 32)
                throw domError('DataError', 'importKey: not an Ed25519 PKCS #8 PrivateKeyInfo');
            nonEmpty(usages, 'private key');
            const priv = data.slice(edPkcs8.length);
            return makeKey('private', extractable, a, usages, {priv, pub: N.ed25519Public(priv)});
        }
        checkJwk(data, 'OKP', usages, extractable, 'sig');
        if (data.crv !== 'Ed25519')
            throw domError('DataError', "importKey: the JWK's crv must be 'Ed25519'");
        if (data.alg !== undefined && data.alg !== 'Ed25519' && data.alg !== 'EdDSA')
            throw domError('DataError', "importKey: the JWK's alg must be 'Ed25519' or 'EdDSA'");
        const pub = b64urlDecode(data.x, 'x');
        checkLength(pub, 32, "the JWK's x");
        if (data.d === undefined) {
            checkUsages(usages, ['verify'], 'an Ed25519 public key');
            return makeKey('public', extractable, a, usages, {pub});
        }
        checkUsages(usages, ['sign'], 'an Ed25519 private key');
        const priv = b64urlDecode(data.d, 'd');
        checkLength(priv, 32, "the JWK's d");
        if (!N.equal(N.ed25519Public(priv), pub))
            throw domError('DataError', "importKey: the JWK's x is not the public key of its d");
        nonEmpty(usages, 'private key');
        return makeKey('private', extractable, a, usages, {priv, pub});
    },
    export(format, s) {
        if (format === 'jwk') {
            const j = {kty: 'OKP', crv: 'Ed25519', x: b64urlEncode(s.data.pub), alg: 'Ed25519'};
            if (s.type === 'private')
                j.d = b64urlEncode(s.data.priv);
            return exportJwk(j, s);
        }
        if (format === 'pkcs8' && s.type === 'private')
            return buffer(concat(edPkcs8, s.data.priv));
        if ((format === 'raw' || format === 'spki') && s.type === 'public')
            return buffer(format === 'raw' ? s.data.pub : concat(edSpki, s.data.pub));
        throw domError('InvalidAccessError',
                       `exportKey: an Ed25519 ${s.type} key has no '${format}' format`);
    },
};

// ---- ECDSA on P-256 (Web Crypto 23) ----

const p256Spki = hexBytes('3059301306072a8648ce3d020106082a8648ce3d030107034200');
const p256Pkcs8 = hexBytes('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b' +
                           '0201010420');
const p256Pkcs8Pub = hexBytes('a144034200');

function checkCurve(alg, what) {
    if (alg.namedCurve === 'P-384' || alg.namedCurve === 'P-521')
        throw domError('NotSupportedError', `${what}: a job's ECDSA supports P-256 only`);
    if (alg.namedCurve !== 'P-256')
        throw domError('NotSupportedError', `${what}: the curve '${alg.namedCurve}' is not ` +
                                            'supported (P-256 only)');
}

function ecPoint(bytes) {
    const pub = N.p256Point(bytes);
    if (pub === null)
        throw domError('DataError', 'importKey: the public key is not a point on P-256');
    return pub;
}

function ecJwk(data, usages, extractable) {
    checkJwk(data, 'EC', usages, extractable, 'sig');
    if (data.crv !== 'P-256')
        throw domError('DataError', "importKey: the JWK's crv must be 'P-256'");
    if (data.alg !== undefined && data.alg !== 'ES256')
        throw domError('DataError', "importKey: the JWK's alg must be 'ES256'");
    const x = b64urlDecode(data.x, 'x');
    const y = b64urlDecode(data.y, 'y');
    checkLength(x, 32, "the JWK's x");
    checkLength(y, 32, "the JWK's y");
    const pub = ecPoint(concat([4], x, y));
    if (data.d === undefined)
        return {pub};
    const priv = b64urlDecode(data.d, 'd');
    checkLength(priv, 32, "the JWK's d");
    const derived = N.p256Public(priv);
    if (derived === null || !N.equal(derived, pub))
        throw domError('DataError', "importKey: the JWK's x and y are not the public key of d");
    return {priv, pub};
}

const ECDSA = {
    sign(alg, s, data) {
        return N.p256Sign(alg.hash.name, s.data.priv, s.data.pub, data);
    },
    verify(alg, s, sig, data) {
        return N.p256Verify(alg.hash.name, s.data.pub, data, sig);
    },
    generate(alg, extractable, usages) {
        checkCurve(alg, 'generateKey');
        const [pu, vu] = pairUsages(usages, ['sign'], ['verify'], 'ECDSA key');
        const [priv, pub] = N.p256Generate();
        const a = () => ({name: 'ECDSA', namedCurve: 'P-256'});
        return {publicKey: makeKey('public', true, a(), vu, {pub}),
                privateKey: makeKey('private', extractable, a(), pu, {priv, pub})};
    },
    import(format, data, alg, extractable, usages) {
        checkCurve(alg, 'importKey');
        const a = {name: 'ECDSA', namedCurve: 'P-256'};
        let d;
        if (format === 'raw') {
            d = {pub: ecPoint(data)};
        } else if (format === 'spki' || format === 'pkcs8') {
            const r = N.p256Parse(data, format === 'pkcs8');
            if (r === null)
                throw domError('DataError', `importKey: not a P-256 ${format === 'spki' ?
                               'SubjectPublicKeyInfo' : 'PKCS #8 PrivateKeyInfo'}`);
            d = format === 'pkcs8' ? {priv: r[0], pub: r[1]} : {pub: r[1]};
        } else {
            d = ecJwk(data, usages, extractable);
        }
        if (d.priv === undefined) {
            checkUsages(usages, ['verify'], 'an ECDSA public key');
            return makeKey('public', extractable, a, usages, d);
        }
        checkUsages(usages, ['sign'], 'an ECDSA private key');
        nonEmpty(usages, 'private key');
        return makeKey('private', extractable, a, usages, d);
    },
    export(format, s) {
        const pub = s.data.pub;
        if (format === 'jwk') {
            const j = {kty: 'EC', crv: 'P-256', x: b64urlEncode(pub.subarray(1, 33)),
                       y: b64urlEncode(pub.subarray(33))};
            if (s.type === 'private')
                j.d = b64urlEncode(s.data.priv);
            return exportJwk(j, s);
        }
        if (format === 'pkcs8' && s.type === 'private')
            return buffer(concat(p256Pkcs8, s.data.priv, p256Pkcs8Pub, pub));
        if ((format === 'raw' || format === 'spki') && s.type === 'public')
            return buffer(format === 'raw' ? pub : concat(p256Spki, pub));
        throw domError('InvalidAccessError',
                       `exportKey: an ECDSA ${s.type} key has no '${format}' format`);
    },
};

const algorithms = {HMAC, 'AES-GCM': AES_GCM, HKDF, Ed25519, ECDSA};

// ---- SubtleCrypto (Web Crypto 14) ----

function keyFor(key, alg, usage, where) {
    const s = slotOf(key, where);
    if (s.algorithm.name !== alg.name)
        throw domError('InvalidAccessError', `${where}: the key is for ${s.algorithm.name}, ` +
                                             `not ${alg.name}`);
    if (!s.usages.includes(usage))
        throw domError('InvalidAccessError', `${where}: the key's usages do not include '${usage}'`);
    return s;
}

// importKey step 2: keyData must suit the format (before the algorithm).
function keyDataArg(format, keyData, where) {
    if (format === 'jwk')
        return jwkArg(keyData);
    const b = bytesOf(keyData);
    if (b === null)
        throw new TypeErrorC(`${where}: with format '${format}', 'keyData' must be an ` +
                             'ArrayBuffer or ArrayBufferView');
    return b;
}

function importInto(format, keyData, alg, extractable, usages, where) {
    const a = algorithms[alg.name];
    if ((format === 'spki' || format === 'pkcs8') && (a === HMAC || a === AES_GCM))
        throw domError('NotSupportedError', `${where}: a ${alg.name} key has no '${format}' format`);
    return a.import(format, keyData, alg, extractable, usages);
}

function exportOf(format, key, where) {
    const s = slotOf(key, where);
    const a = algorithms[s.algorithm.name];
    if (!a.export)
        throw domError('NotSupportedError', `${where}: a ${s.algorithm.name} key cannot be exported`);
    if (!s.extractable)
        throw domError('InvalidAccessError', `${where}: the key is not extractable`);
    return a.export(format, s);
}

function argc(n, got, where) {
    if (got < n)
        throw new TypeErrorC(`${where}: ${n} arguments required, but only ${got} present`);
}

class SubtleCrypto {
    constructor() {
        throw new TypeErrorC('Illegal constructor');
    }
    async digest(algorithm, data) {
        argc(2, arguments.length, 'digest');
        const alg = normalize('digest', algorithm, 'digest');
        return N.digest(alg.name, bufferArg(data, 'digest', 'data'));
    }
    async sign(algorithm, key, data) {
        argc(3, arguments.length, 'sign');
        const alg = normalize('sign', algorithm, 'sign');
        const bytes = bufferArg(data, 'sign', 'data');
        const s = keyFor(key, alg, 'sign', 'sign');
        return algorithms[alg.name].sign(alg, s, bytes);
    }
    async verify(algorithm, key, signature, data) {
        argc(4, arguments.length, 'verify');
        const alg = normalize('verify', algorithm, 'verify');
        const sig = bufferArg(signature, 'verify', 'signature');
        const bytes = bufferArg(data, 'verify', 'data');
        const s = keyFor(key, alg, 'verify', 'verify');
        return algorithms[alg.name].verify(alg, s, sig, bytes);
    }
    async encrypt(algorithm, key, data) {
        argc(3, arguments.length, 'encrypt');
        const alg = normalize('encrypt', algorithm, 'encrypt');
        const bytes = bufferArg(data, 'encrypt', 'data');
        return algorithms[alg.name].encrypt(alg, keyFor(key, alg, 'encrypt', 'encrypt'), bytes);
    }
    async decrypt(algorithm, key, data) {
        argc(3, arguments.length, 'decrypt');
        const alg = normalize('decrypt', algorithm, 'decrypt');
        const bytes = bufferArg(data, 'decrypt', 'data');
        return algorithms[alg.name].decrypt(alg, keyFor(key, alg, 'decrypt', 'decrypt'), bytes);
    }
    async generateKey(algorithm, extractable, keyUsages) {
        argc(3, arguments.length, 'generateKey');
        const ext = !!extractable;
        const usages = usagesArg(keyUsages, 'generateKey');
        const alg = normalize('generateKey', algorithm, 'generateKey');
        return algorithms[alg.name].generate(alg, ext, usages);
    }
    async importKey(format, keyData, algorithm, extractable, keyUsages) {
        argc(5, arguments.length, 'importKey');
        const f = formatArg(format, 'importKey');
        const ext = !!extractable;
        const usages = usagesArg(keyUsages, 'importKey');
        const data = keyDataArg(f, keyData, 'importKey');
        const alg = normalize('importKey', algorithm, 'importKey');
        return importInto(f, data, alg, ext, usages, 'importKey');
    }
    async exportKey(format, key) {
        argc(2, arguments.length, 'exportKey');
        return exportOf(formatArg(format, 'exportKey'), key, 'exportKey');
    }
    async deriveBits(algorithm, baseKey, length = null) {
        argc(2, arguments.length, 'deriveBits');
        const alg = normalize('deriveBits', algorithm, 'deriveBits');
        const n = length === null ? null : enforceRange(length, 0xffffffff, 'deriveBits', 'length');
        const s = keyFor(baseKey, alg, 'deriveBits', 'deriveBits');
        return algorithms[alg.name].deriveBits(alg, s, n);
    }
    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
        argc(5, arguments.length, 'deriveKey');
        const alg = normalize('deriveBits', algorithm, 'deriveKey');
        const imp = normalize('importKey', derivedKeyType, 'deriveKey');
        const len = normalize('get key length', derivedKeyType, 'deriveKey');
        const ext = !!extractable;
        const usages = usagesArg(keyUsages, 'deriveKey');
        const s = keyFor(baseKey, alg, 'deriveKey', 'deriveKey');
        const bits = algorithms[len.name].keyLength(len);
        const secret = new Uint8ArrayC(algorithms[alg.name].deriveBits(alg, s, bits));
        return importInto('raw', secret, imp, ext, usages, 'deriveKey');
    }
    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
        argc(4, arguments.length, 'wrapKey');
        const f = formatArg(format, 'wrapKey');
        const alg = normalize('wrapKey', wrapAlgorithm, 'wrapKey');
        const s = keyFor(wrappingKey, alg, 'wrapKey', 'wrapKey');
        let bytes = exportOf(f, key, 'wrapKey');
        if (f === 'jwk')
            bytes = new TextEncoder().encode(JSONC.stringify(bytes));
        return algorithms[alg.name].encrypt(alg, s, new Uint8ArrayC(bytes));
    }
    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm,
                    extractable, keyUsages) {
        argc(7, arguments.length, 'unwrapKey');
        const f = formatArg(format, 'unwrapKey');
        const bytes = bufferArg(wrappedKey, 'unwrapKey', 'wrappedKey');
        const alg = normalize('unwrapKey', unwrapAlgorithm, 'unwrapKey');
        const imp = normalize('importKey', unwrappedKeyAlgorithm, 'unwrapKey');
        const ext = !!extractable;
        const usages = usagesArg(keyUsages, 'unwrapKey');
        const s = keyFor(unwrappingKey, alg, 'unwrapKey', 'unwrapKey');
        let key = new Uint8ArrayC(algorithms[alg.name].decrypt(alg, s, bytes));
        if (f === 'jwk') {
            try {
                key = JSONC.parse(new TextDecoder('utf-8', {fatal: true}).decode(key));
            } catch {
                throw domError('DataError', 'unwrapKey: the unwrapped data is not a JWK');
            }
        }
        return importInto(f, keyDataArg(f, key, 'unwrapKey'), imp, ext, usages, 'unwrapKey');
    }
}
webidl(SubtleCrypto, 'SubtleCrypto');
for (const m of O.getOwnPropertyNames(SubtleCrypto.prototype))
    if (m !== 'constructor')
        defineProperty(SubtleCrypto.prototype, m, {enumerable: true});

const subtle = objectCreate(SubtleCrypto.prototype);
defineProperty(W.Crypto.prototype, 'subtle', {
    get: function subtle_() {
        if (this !== crypto)
            throw new TypeErrorC('Crypto.prototype.subtle: illegal invocation');
        return subtle;
    },
    enumerable: true,
    configurable: true,
});
delete crypto.subtle;
return undefined;
})
