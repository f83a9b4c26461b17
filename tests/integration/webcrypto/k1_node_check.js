// SPDX-License-Identifier: MIT
// k1_node_check.js OUTPUT_JSON - checks k1_sign.js's results with node's
// secp256k1: the public keys node derives, and node's verification of each
// ECDSA signature (r || s over SHA-256 of the message). Prints a JSON list.
'use strict';
const crypto = require('crypto');
const out = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const b64u = (h) => Buffer.from(h, 'hex').toString('base64url');
const res = out.keys.map((k) => {
    const ecdh = crypto.createECDH('secp256k1');
    ecdh.setPrivateKey(Buffer.from(k.sk, 'hex'));
    const pub = ecdh.getPublicKey('hex', 'uncompressed');
    const key = crypto.createPublicKey({format: 'jwk', key: {kty: 'EC', crv: 'secp256k1',
        x: b64u(pub.slice(2, 66)), y: b64u(pub.slice(66))}});
    const ok = crypto.verify('sha256', Buffer.from(k.msg, 'hex'), {key, dsaEncoding: 'ieee-p1363'},
                             Buffer.from(k.sig, 'hex'));
    return [pub === k.pub, ecdh.getPublicKey('hex', 'compressed') === k.compressed, ok];
});
process.stdout.write(JSON.stringify(res));
