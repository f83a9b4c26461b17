// SPDX-License-Identifier: MIT
//
// index.js - the sealrun client (docs/dashboard.md, "Client libraries").

export { Client, SealrunError } from "./client.js";
export { jcs, jcsBytes, parseStrict, stringifyChecked } from "./json.js";
export { verifyJob, verifySignature, verified, signedMessage, outputHash, RECEIPT_DOMAIN } from "./receipt.js";
export { sealValue, newKeyPair, openSealed, decryptOutput, sodiumReady } from "./seal.js";
export { toBase64, fromBase64, toHex, fromHex, sha256Hex } from "./bytes.js";
