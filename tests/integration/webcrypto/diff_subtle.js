// SPDX-License-Identifier: MIT
// crypto.subtle: digests, HMAC, HKDF, AES-GCM, Ed25519, ECDSA P-256 and the
// errors of misuse; every result must equal node's. Signatures that are
// random (ECDSA) go out in 'own' and come back from the other side as
// input.peer, which this script verifies.
const S = crypto.subtle;
const enc = (s) => new TextEncoder().encode(s);
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
const MSGS = ['', 'abc', 'a'.repeat(1000), '\u00e9\u20ac'];

async function errName(p) {
    try {
        await p();
        return 'no error';
    } catch (e) {
        return e.name;
    }
}

function keyInfo(k) {
    return {type: k.type, extractable: k.extractable, algorithm: k.algorithm,
            usages: k.usages, tag: Object.prototype.toString.call(k)};
}

async function digests() {
    const out = [];
    for (const h of HASHES)
        for (const m of MSGS)
            out.push(hex(await S.digest(h, enc(m))));
    out.push(hex(await S.digest({name: 'sha-256'}, new Uint8Array([1, 2, 3]).buffer)));
    out.push(hex(await S.digest('SHA-256', new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2))));
    return out;
}

async function hmacs() {
    const out = [];
    for (const h of HASHES) {
        for (const klen of [1, 16, 64, 65, 200]) {
            const raw = new Uint8Array(klen).map((_, i) => (i * 7 + klen) & 255);
            const k = await S.importKey('raw', raw, {name: 'HMAC', hash: h}, true, ['sign', 'verify']);
            const sig = await S.sign('HMAC', k, enc('message ' + klen));
            out.push(hex(sig), await S.verify('HMAC', k, sig, enc('message ' + klen)),
                     await S.verify('HMAC', k, sig, enc('message!')),
                     await S.verify('HMAC', k, sig.slice(1), enc('message ' + klen)));
            if (klen === 16)
                out.push(keyInfo(k), await S.exportKey('jwk', k), hex(await S.exportKey('raw', k)));
        }
        const g = await S.generateKey({name: 'HMAC', hash: h}, true, ['verify', 'sign']);
        out.push(keyInfo(g), (await S.exportKey('raw', g)).byteLength);
        const g2 = await S.generateKey({name: 'HMAC', hash: {name: h}, length: 256}, false, ['sign']);
        out.push(keyInfo(g2));
    }
    const jwk = {kty: 'oct', k: 'AAECAwQFBgcICQoLDA0ODw', alg: 'HS256'};
    const jk = await S.importKey('jwk', jwk, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);
    out.push(keyInfo(jk), hex(await S.sign({name: 'HMAC'}, jk, enc('x'))));
    return out;
}

async function hkdfs() {
    const out = [];
    const ikm = await S.importKey('raw', unhex('0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b'), 'HKDF',
                                  false, ['deriveBits', 'deriveKey']);
    out.push(keyInfo(ikm));
    for (const h of HASHES) {
        for (const len of [0, 8, 256, 336, 1024]) {
            const bits = await S.deriveBits({name: 'HKDF', hash: h, salt: unhex('000102030405060708090a0b0c'),
                                             info: unhex('f0f1f2f3f4f5f6f7f8f9')}, ikm, len);
            out.push(hex(bits));
        }
        out.push(hex(await S.deriveBits({name: 'HKDF', hash: h, salt: new Uint8Array(0),
                                         info: new Uint8Array(0)}, ikm, 128)));
    }
    const params = {name: 'HKDF', hash: 'SHA-256', salt: enc('salt'), info: enc('info')};
    const aes = await S.deriveKey(params, ikm, {name: 'AES-GCM', length: 192}, true, ['encrypt']);
    out.push(keyInfo(aes), hex(await S.exportKey('raw', aes)));
    const mac = await S.deriveKey(params, ikm, {name: 'HMAC', hash: 'SHA-384'}, true, ['sign']);
    out.push(keyInfo(mac), hex(await S.exportKey('raw', mac)));
    const mac2 = await S.deriveKey(params, ikm, {name: 'HMAC', hash: 'SHA-1', length: 96}, true, ['sign']);
    out.push(keyInfo(mac2), hex(await S.exportKey('raw', mac2)));
    out.push(await errName(() => S.deriveBits(params, ikm, 7)));
    out.push(await errName(() => S.deriveBits(params, ikm)));
    out.push(await errName(() => S.deriveBits(params, ikm, 255 * 32 * 8 + 8)));
    out.push(hex(await S.deriveBits(params, ikm, 255 * 32 * 8)).length);
    return out;
}

async function gcms() {
    const out = [];
    for (const klen of [16, 24, 32]) {
        const raw = new Uint8Array(klen).map((_, i) => i + 1);
        const k = await S.importKey('raw', raw, 'AES-GCM', true, ['encrypt', 'decrypt']);
        out.push(keyInfo(k), await S.exportKey('jwk', k));
        for (const ivlen of [12, 16, 64]) {
            for (const tag of [undefined, 32, 96, 128]) {
                const iv = new Uint8Array(ivlen).map((_, i) => 200 - i);
                const p = {name: 'AES-GCM', iv, additionalData: enc('aad' + ivlen)};
                if (tag !== undefined)
                    p.tagLength = tag;
                const ct = await S.encrypt(p, k, enc('plain text ' + klen + ' ' + ivlen));
                out.push(hex(ct));
                out.push(new TextDecoder().decode(await S.decrypt(p, k, ct)));
                const bad = new Uint8Array(ct);
                bad[0] ^= 1;
                out.push(await errName(() => S.decrypt(p, k, bad)));
            }
        }
        out.push(hex(await S.encrypt({name: 'AES-GCM', iv: new Uint8Array(12)}, k, new Uint8Array(0))));
    }
    const k = await S.importKey('jwk', {kty: 'oct', k: 'AAECAwQFBgcICQoLDA0ODw', alg: 'A128GCM'},
                                {name: 'AES-GCM'}, false, ['decrypt', 'encrypt']);
    out.push(keyInfo(k));
    const iv = new Uint8Array(12);
    out.push(await errName(() => S.decrypt({name: 'AES-GCM', iv}, k, new Uint8Array(15))));
    out.push(await errName(() => S.encrypt({name: 'AES-GCM', iv, tagLength: 100}, k, new Uint8Array(1))));
    out.push(await errName(() => S.encrypt({name: 'AES-GCM'}, k, new Uint8Array(1))));
    const g = await S.generateKey({name: 'AES-GCM', length: 256}, true, ['encrypt', 'wrapKey', 'unwrapKey']);
    out.push(keyInfo(g), (await S.exportKey('raw', g)).byteLength);
    const wk = await S.importKey('raw', new Uint8Array(32).fill(7), 'AES-GCM', false, ['wrapKey', 'unwrapKey']);
    const mk = await S.importKey('raw', new Uint8Array(20).fill(3), {name: 'HMAC', hash: 'SHA-256'}, true, ['sign']);
    const wp = {name: 'AES-GCM', iv: new Uint8Array(12).fill(1)};
    const wrapped = await S.wrapKey('raw', mk, wk, wp);
    out.push(hex(wrapped));
    const un = await S.unwrapKey('raw', wrapped, wk, wp, {name: 'HMAC', hash: 'SHA-256'}, true, ['sign']);
    out.push(keyInfo(un), hex(await S.exportKey('raw', un)));
    const wj = await S.wrapKey('jwk', mk, wk, wp);
    const unj = await S.unwrapKey('jwk', wj, wk, wp, {name: 'HMAC', hash: 'SHA-256'}, true, ['sign']);
    out.push(keyInfo(unj), hex(await S.exportKey('raw', unj)));
    return out;
}

// RFC 8032 7.1, test 1 and test 3
const ED = [['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', ''],
            ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'af82']];

async function eds() {
    const out = [];
    for (const [seed, msg] of ED) {
        const pk8 = unhex('302e020100300506032b657004220420' + seed);
        const k = await S.importKey('pkcs8', pk8, 'Ed25519', true, ['sign']);
        out.push(keyInfo(k), await S.exportKey('jwk', k), hex(await S.exportKey('pkcs8', k)));
        const sig = await S.sign('Ed25519', k, unhex(msg || '00').subarray(msg ? 0 : 1));
        out.push(hex(sig));
        const jwk = await S.exportKey('jwk', k);
        const pub = await S.importKey('jwk', {kty: 'OKP', crv: 'Ed25519', x: jwk.x}, 'Ed25519', true, ['verify']);
        out.push(keyInfo(pub), hex(await S.exportKey('raw', pub)), hex(await S.exportKey('spki', pub)));
        out.push(await S.verify('Ed25519', pub, sig, unhex(msg || '00').subarray(msg ? 0 : 1)));
        out.push(await S.verify('Ed25519', pub, sig, enc('other')));
        out.push(await S.verify({name: 'Ed25519'}, pub, sig.slice(0, 63), enc('')));
        const spk = await S.importKey('spki', await S.exportKey('spki', pub), 'Ed25519', false, []);
        out.push(keyInfo(spk));
        const jpriv = await S.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
        out.push(hex(await S.sign('Ed25519', jpriv, enc('jwk'))));
        out.push(await errName(() => S.exportKey('raw', k)));
        out.push(await errName(() => S.exportKey('pkcs8', pub)));
        out.push(await errName(() => S.importKey('jwk', {...jwk, x: pub.x || 'AAAA'}, 'Ed25519', false, ['sign'])));
    }
    const g = await S.generateKey('Ed25519', false, ['sign', 'verify']);
    out.push(keyInfo(g.publicKey), keyInfo(g.privateKey), Object.keys(g).sort());
    const sig = await S.sign('Ed25519', g.privateKey, enc('m'));
    out.push(await S.verify('Ed25519', g.publicKey, sig, enc('m')));
    out.push(await errName(() => S.importKey('raw', new Uint8Array(31), 'Ed25519', true, ['verify'])));
    out.push(await errName(() => S.importKey('raw', new Uint8Array(32), 'Ed25519', true, ['sign'])));
    out.push(await errName(() => S.importKey('pkcs8', new Uint8Array(48), 'Ed25519', true, ['sign'])));
    out.push(await errName(() => S.importKey('spki', new Uint8Array(44), 'Ed25519', true, ['verify'])));
    return out;
}

const EC_JWK = {kty: 'EC', crv: 'P-256', x: 'MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4',
                y: '4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM',
                d: '870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE'};

async function ecdsas(peer) {
    const out = [];
    const own = [];
    const k = await S.importKey('jwk', EC_JWK, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign']);
    out.push(keyInfo(k), await S.exportKey('jwk', k), hex(await S.exportKey('pkcs8', k)));
    const {d, ...pubJwk} = EC_JWK;
    const pub = await S.importKey('jwk', pubJwk, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);
    const raw = await S.exportKey('raw', pub);
    const spki = await S.exportKey('spki', pub);
    out.push(keyInfo(pub), hex(raw), hex(spki));
    const pk2 = await S.importKey('pkcs8', await S.exportKey('pkcs8', k), {name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign']);
    out.push(await S.exportKey('jwk', pk2));
    const sp2 = await S.importKey('spki', spki, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);
    const rw2 = await S.importKey('raw', raw, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify']);
    out.push(await S.exportKey('jwk', sp2), await S.exportKey('jwk', rw2));
    for (const h of HASHES) {
        const sig = await S.sign({name: 'ECDSA', hash: h}, k, enc('ecdsa ' + h));
        own.push(hex(sig));
        out.push(sig.byteLength, await S.verify({name: 'ECDSA', hash: h}, pub, sig, enc('ecdsa ' + h)),
                 await S.verify({name: 'ECDSA', hash: h}, pub, sig, enc('other')));
    }
    if (peer)
        for (let i = 0; i < HASHES.length; i++)
            out.push(await S.verify({name: 'ECDSA', hash: HASHES[i]}, pub, unhex(peer[i]),
                                    enc('ecdsa ' + HASHES[i])));
    const g = await S.generateKey({name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign', 'verify']);
    out.push(keyInfo(g.publicKey), keyInfo(g.privateKey), (await S.exportKey('raw', g.publicKey)).byteLength,
             (await S.exportKey('pkcs8', g.privateKey)).byteLength);
    const gs = await S.sign({name: 'ECDSA', hash: 'SHA-256'}, g.privateKey, enc('g'));
    out.push(await S.verify({name: 'ECDSA', hash: 'SHA-256'}, g.publicKey, gs, enc('g')));
    out.push(await errName(() => S.sign({name: 'ECDSA'}, k, enc('x'))));
    out.push(await errName(() => S.importKey('raw', new Uint8Array(65), {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify'])));
    out.push(await errName(() => S.importKey('jwk', {...EC_JWK, d: 'AAAA'}, {name: 'ECDSA', namedCurve: 'P-256'}, true, ['sign'])));
    out.push(await errName(() => S.importKey('spki', new Uint8Array(91), {name: 'ECDSA', namedCurve: 'P-256'}, true, ['verify'])));
    out.push(await errName(() => S.generateKey({name: 'ECDSA', namedCurve: 'P-999'}, true, ['sign'])));
    out.push(await errName(() => S.exportKey('raw', k)));
    return {out, own};
}

async function misuse() {
    const hk = await S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);
    const cases = [
        () => S.digest('SHA-3', new Uint8Array(1)),
        () => S.digest({}, new Uint8Array(1)),
        () => S.digest('SHA-256', 'abc'),
        () => S.digest(42, new Uint8Array(1)),
        () => S.digest('SHA-256'),
        () => S.generateKey({name: 'Ed25519'}, true, ['verify']),
        () => S.generateKey({name: 'HMAC', hash: 'SHA-256'}, true, []),
        () => S.generateKey({name: 'HMAC', hash: 'SHA-256'}, true, ['encrypt']),
        () => S.generateKey({name: 'HMAC'}, true, ['sign']),
        () => S.generateKey({name: 'AES-GCM', length: 100}, false, ['encrypt']),
        () => S.generateKey({name: 'AES-GCM'}, false, ['encrypt']),
        () => S.importKey('raw', new Uint8Array(16), 'HKDF', true, ['deriveBits']),
        () => S.importKey('raw', new Uint8Array(16), 'HKDF', false, ['sign']),
        () => S.importKey('raw', new Uint8Array(15), 'AES-GCM', false, ['encrypt']),
        () => S.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['sign']),
        () => S.importKey('raw', new Uint8Array(16), 'AES-GCM', false, []),
        () => S.importKey('spki', new Uint8Array(16), 'AES-GCM', false, ['encrypt']),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC'}, false, ['sign']),
        () => S.importKey('raw', new Uint8Array(0), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, ['sin']),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256', length: 200}, false, ['sign']),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256', length: 120}, false, ['sign']),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, 'sign'),
        () => S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, []),
        () => S.importKey('pem', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.importKey('jwk', {kty: 'RSA', k: 'AAAA'}, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.importKey('jwk', {kty: 'oct', k: 'AAAA', alg: 'HS512'}, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.importKey('jwk', {kty: 'oct', k: 'AAAA', ext: false}, {name: 'HMAC', hash: 'SHA-256'}, true, ['sign']),
        () => S.importKey('jwk', {kty: 'oct', k: 'AAAA', key_ops: ['verify']}, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.importKey('jwk', {kty: 'oct', k: 'AAAA', use: 'enc'}, {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']),
        () => S.sign('HMAC', hk, 'data'),
        () => S.sign('Ed25519', hk, new Uint8Array(1)),
        () => S.sign('HMAC', {}, new Uint8Array(1)),
        () => S.verify('HMAC', hk, new Uint8Array(32), new Uint8Array(1)),
        () => S.encrypt({name: 'AES-GCM', iv: new Uint8Array(12)}, hk, new Uint8Array(1)),
        () => S.exportKey('raw', {}),
        () => S.deriveBits({name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new Uint8Array(0)}, hk, 8),
        () => S.deriveBits({name: 'HKDF', hash: 'SHA-256', info: new Uint8Array(0)}, hk, 8),
    ];
    const out = [];
    for (const c of cases)
        out.push(await errName(c));
    const p = S.digest('nope', new Uint8Array(1));
    out.push(p instanceof Promise);
    p.catch(() => {});
    out.push(Object.prototype.toString.call(S), typeof SubtleCrypto, typeof CryptoKey,
             crypto.subtle === crypto.subtle);
    return out;
}

async function main(input) {
    const e = await ecdsas(input && input.peer);
    return {digests: await digests(), hmacs: await hmacs(), hkdfs: await hkdfs(), gcms: await gcms(),
            eds: await eds(), ecdsa: e.out, misuse: await misuse(), own: e.own};
}
