// SPDX-License-Identifier: MIT
// crypto.secp256k1 under sealrun: keys, ECDSA signatures with their
// recovery ids, BIP-340 signatures; k1_node_check.js then checks them with
// node's own secp256k1 (OpenSSL).
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
async function main() {
    const k = crypto.secp256k1;
    const out = [];
    for (let i = 1; i <= 6; i++) {
        const sk = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('key ' + i)));
        const msg = new TextEncoder().encode('message ' + i);
        const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', msg));
        const {signature, recovery} = k.sign(hash, sk);
        const again = k.sign(hash, sk);
        const pub = k.getPublicKey(sk, false);
        const rec = k.recover(signature, recovery, hash, false);
        const xonly = k.schnorr.getPublicKey(sk);
        const ssig = k.schnorr.sign(msg, sk);
        out.push({sk: hex(sk), msg: hex(msg), sig: hex(signature), pub: hex(pub),
                  compressed: hex(k.getPublicKey(sk)), recovered: hex(rec) === hex(pub),
                  deterministic: hex(again.signature) === hex(signature) && again.recovery === recovery,
                  verifies: k.verify(signature, hash, pub) && k.verify(signature, hash, k.getPublicKey(sk)),
                  xonly: hex(xonly), schnorr: k.schnorr.verify(ssig, msg, xonly),
                  schnorrOther: k.schnorr.verify(ssig, new Uint8Array(1), xonly)});
    }
    // BIP-340 vector 1 through the JS binding
    const v = k.schnorr.sign(unhex('243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89'),
                             unhex('B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF'),
                             unhex('0000000000000000000000000000000000000000000000000000000000000001'));
    const name = (f) => { try { f(); return 'none'; } catch (e) { return e.name; } };
    const z = new Uint8Array(32);
    return {keys: out, bip340_1: hex(v).toUpperCase(),
            errors: [name(() => k.sign(z, z)), name(() => k.sign(new Uint8Array(31), z)),
                     name(() => k.getPublicKey('00')), name(() => k.recover(new Uint8Array(64), 7, z)),
                     name(() => k.recover(new Uint8Array(64), 0, z)),
                     name(() => k.schnorr.sign(z, new Uint8Array(32).fill(1), new Uint8Array(3)))],
            bad: k.verify(new Uint8Array(64), z, new Uint8Array(33))};
}
