// SPDX-License-Identifier: MIT
//
// seal.js - libsodium sealed boxes (crypto_box_seal), as sealrun uses them:
// a secret's value sealed to the owner's key from GET /secrets/pubkey
// (docs/secrets.md), and a job's encrypted_output opened with the secret key
// whose public half was the job's output_pubkey (docs/output-protection.md).
// Keys and boxes travel as standard padded base64.

import sodium from "libsodium-wrappers";
import { fromBase64, sha256Hex, toBase64, utf8 } from "./bytes.js";
import { parseStrict } from "./json.js";

// Resolves once libsodium's WebAssembly is loaded.
export async function sodiumReady() {
  await sodium.ready;
  return sodium;
}

function publicKey32(b64, what) {
  const pk = fromBase64(b64, what);
  if (pk.length !== 32) throw new TypeError(`${what} must be 32 bytes (44 base64 characters), got ${pk.length}`);
  return pk;
}

// Seals value (a string, sent as its UTF-8 bytes, or bytes) to the X25519
// public key publicKeyB64; returns the box in base64 ({"sealed": ...}).
export async function sealValue(value, publicKeyB64) {
  const s = await sodiumReady();
  const msg = typeof value === "string" ? utf8(value) : value;
  return toBase64(s.crypto_box_seal(msg, publicKey32(publicKeyB64, "public key")));
}

// A new X25519 key pair for output_pubkey: {publicKey, secretKey} in base64.
export async function newKeyPair() {
  const s = await sodiumReady();
  const kp = s.crypto_box_keypair();
  return { publicKey: toBase64(kp.publicKey), secretKey: toBase64(kp.privateKey) };
}

// Opens a sealed box with the secret key (base64, 32 bytes); throws
// "authentication failed" when it does not open.
export async function openSealed(boxB64, secretKeyB64) {
  const s = await sodiumReady();
  const sk = publicKey32(secretKeyB64, "secret key");
  const pk = s.crypto_scalarmult_base(sk);
  try {
    return s.crypto_box_seal_open(fromBase64(boxB64, "sealed box"), pk, sk);
  } catch {
    throw new Error("authentication failed: the sealed box does not open with this secret key");
  }
}

// Opens a job's encrypted_output: {output, outputHash, matches} where
// output is the canonical output parsed strictly and matches says whether
// its SHA-256 is the job's output_hash.
export async function decryptOutput(job, secretKeyB64) {
  if (!job || typeof job.encrypted_output !== "string") throw new TypeError("the job has no encrypted_output");
  const canon = await openSealed(job.encrypted_output, secretKeyB64);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(canon);
  const output = parseStrict(text, "encrypted_output");
  const outputHash = sha256Hex(canon);
  return { output, outputHash, matches: outputHash === job.output_hash };
}
