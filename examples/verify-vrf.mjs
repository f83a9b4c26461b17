#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// verify-vrf.mjs - checks the verifiable randomness of a sealrun job
// (crypto.vrf, docs/receipts.md "Verifiable randomness") with nothing but the
// worker's VRF public key and node's standard library.
//
//   node examples/verify-vrf.mjs JOB.json [--vrf-key HEX]
//
// Each entry of the receipt's "vrf" list must be an ECVRF-EDWARDS25519-
// SHA512-TAI proof (RFC 9381, suite 0x03) of
//   alpha = "sealrun.vrf.v1" 0x00 || job_id || owner_hash || seed
// (job_id and owner_hash as the receipt's hex text, seed its bytes) under
// vrf_public_key, and its output the proof's. --vrf-key pins that key (GET
// /attestation's vrf_public_key); run verify-receipt.mjs too, whose
// signature covers the list. Prints "ok"/"FAIL" lines; exits 0 when every
// entry verifies, 1 when one does not, 2 on a usage error.
//
// The curve arithmetic is written out below with BigInt (RFC 8032 section
// 5.1): it is an example, not a constant-time implementation, which a
// verifier (no secret) does not need.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const P = 2n ** 255n - 19n;
const Q = 2n ** 252n + 27742317777372353535851937790883648493n; // the group order
const SUITE = 0x03;

function mod(a, m = P) {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

function pow(b, e) {
  let r = 1n;
  b = mod(b);
  for (; e > 0n; e >>= 1n, b = mod(b * b)) if (e & 1n) r = mod(r * b);
  return r;
}

const inv = (a) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

// Extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z.
const IDENTITY = [0n, 1n, 1n, 0n];

function add([X1, Y1, Z1, T1], [X2, Y2, Z2, T2]) {
  const a = mod((Y1 - X1) * (Y2 - X2));
  const b = mod((Y1 + X1) * (Y2 + X2));
  const c = mod(2n * D * T1 * T2);
  const d = mod(2n * Z1 * Z2);
  const e = b - a, f = d - c, g = d + c, h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function mul(k, pt) {
  let r = IDENTITY;
  for (let b = pt; k > 0n; k >>= 1n, b = add(b, b)) if (k & 1n) r = add(r, b);
  return r;
}

const neg = ([X, Y, Z, T]) => [mod(-X), Y, Z, mod(-T)];

function encode([X, Y, Z]) {
  const zi = inv(Z);
  const x = mod(X * zi), y = mod(Y * zi);
  const out = Buffer.alloc(32);
  let v = y | ((x & 1n) << 255n);
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

function leInt(bytes) {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

// RFC 8032 5.1.3; null when the bytes are no point.
function decode(bytes) {
  const v = leInt(bytes);
  const sign = v >> 255n;
  const y = v & (2n ** 255n - 1n);
  if (y >= P) return null;
  const u = mod(y * y - 1n), w = mod(D * y * y + 1n);
  let x = mod(u * pow(w, 3n) * pow(u * pow(w, 7n), (P - 5n) / 8n));
  if (mod(w * x * x) !== u) {
    if (mod(w * x * x) !== mod(-u)) return null;
    x = mod(x * SQRT_M1);
  }
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

const B = decode(Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex"));
const times8 = (pt) => mul(8n, pt);
const isIdentity = (pt) => encode(pt).equals(encode(IDENTITY));
const sha512 = (...parts) => createHash("sha512").update(Buffer.concat(parts)).digest();

// ECVRF_encode_to_curve_try_and_increment, salt = the public key (5.4.1.1)
function encodeToCurve(pk, alpha) {
  for (let ctr = 0; ctr < 256; ctr++) {
    const h = sha512(Buffer.from([SUITE, 0x01]), pk, alpha, Buffer.from([ctr, 0x00]));
    const pt = decode(h.subarray(0, 32));
    if (pt) return times8(pt);
  }
  return null;
}

function challenge(...points) {
  const h = sha512(Buffer.from([SUITE, 0x02]), ...points.map((p) => (Buffer.isBuffer(p) ? p : encode(p))),
                   Buffer.from([0x00]));
  return leInt(h.subarray(0, 16));
}

// ECVRF_verify (RFC 9381 5.3) with key validation: the output, or null.
export function vrfVerify(pk, proof, alpha) {
  if (pk.length !== 32 || proof.length !== 80) return null;
  const Y = decode(pk);
  if (!Y || isIdentity(times8(Y))) return null;
  const gamma = decode(proof.subarray(0, 32));
  const c = leInt(proof.subarray(32, 48));
  const s = leInt(proof.subarray(48, 80));
  if (!gamma || s >= Q) return null;
  const H = encodeToCurve(pk, alpha);
  if (!H) return null;
  const U = add(mul(s, B), neg(mul(c, Y)));
  const V = add(mul(s, H), neg(mul(c, gamma)));
  if (challenge(pk, H, proof.subarray(0, 32), U, V) !== c) return null;
  return sha512(Buffer.from([SUITE, 0x03]), encode(times8(gamma)), Buffer.from([0x00]));
}

export function vrfAlpha(jobId, ownerHash, seed) {
  return Buffer.concat([Buffer.from("sealrun.vrf.v1\0"), Buffer.from(jobId), Buffer.from(ownerHash), seed]);
}

const isHex = (s, n) => typeof s === "string" && s.length === n && /^[0-9a-f]*$/.test(s);

function checkJob(job, pinned) {
  const r = job && job.receipt;
  const list = r && r.vrf;
  if (!Array.isArray(list) || list.length === 0) {
    console.log("FAIL the job's receipt has no 'vrf' list: the job made no crypto.vrf call");
    return false;
  }
  if (!isHex(r.vrf_public_key, 64) || !isHex(r.job_id, 32) || !isHex(r.owner_hash, 64)) {
    console.log("FAIL the receipt's vrf_public_key, job_id or owner_hash is not lower-case hex");
    return false;
  }
  if (pinned && pinned !== r.vrf_public_key) {
    console.log("FAIL the receipt's vrf_public_key is not the --vrf-key given");
    return false;
  }
  console.log(pinned ? "ok   vrf_public_key is the pinned key"
                     : "skip vrf_public_key not pinned (--vrf-key): the receipt's own key is used");
  const pk = Buffer.from(r.vrf_public_key, "hex");
  let all = true;
  list.forEach((u, i) => {
    const ok = u && typeof u.seed === "string" && u.seed.length % 2 === 0 && isHex(u.seed, u.seed.length) &&
               isHex(u.proof, 160) && isHex(u.output, 128);
    const out = ok ? vrfVerify(pk, Buffer.from(u.proof, "hex"),
                               vrfAlpha(r.job_id, r.owner_hash, Buffer.from(u.seed, "hex"))) : null;
    if (!out) {
      console.log(`FAIL vrf[${i}]: the proof does not verify under the VRF key`);
      all = false;
    } else if (out.toString("hex") !== u.output) {
      console.log(`FAIL vrf[${i}]: the output is not the proof's`);
      all = false;
    } else {
      console.log(`ok   vrf[${i}]: seed ${u.seed || "(empty)"}, output ${u.output.slice(0, 32)}...`);
    }
  });
  return all;
}

function main(argv) {
  let file = null, key = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--vrf-key" && i + 1 < argv.length) key = argv[++i];
    else if (!file && !argv[i].startsWith("--")) file = argv[i];
    else {
      console.error("usage: node verify-vrf.mjs JOB.json [--vrf-key HEX]");
      return 2;
    }
  }
  if (!file || (key && !isHex(key, 64))) {
    console.error("usage: node verify-vrf.mjs JOB.json [--vrf-key HEX (64 lower-case hex)]");
    return 2;
  }
  let job;
  try {
    job = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (e) {
    console.log(`FAIL job file '${file}' is not readable JSON: ${e.message}`);
    return 1;
  }
  return checkJob(job, key) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = main(process.argv.slice(2));
