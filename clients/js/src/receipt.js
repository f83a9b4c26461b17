// SPDX-License-Identifier: MIT
//
// receipt.js - checks a job's signed receipt exactly as docs/receipts.md
// says, in node or a browser: Ed25519 (RFC 8032, strict as libsodium) over
//   "sealrun.receipt.v1" 0x00 JCS(receipt)
// by the worker key, the job's fields against the receipt, the output, logs
// and sealed-output hashes recomputed, and the worker key and measurement
// against GET /attestation when it is given. Each check is
// {id, res: "ok" | "fail" | "skip", line}; a job verifies when none failed.

import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2";
import { concat, fromBase64, fromHex, isLowerHex, sha256Hex, sha512Bytes, equalBytes, utf8 } from "./bytes.js";
import { jcs, jcsBytes } from "./json.js";

ed.etc.sha512Sync = (...m) => sha512(ed.etc.concatBytes(...m));

export const RECEIPT_DOMAIN = "sealrun.receipt.v1";

// The exact signed bytes of a receipt.
export const signedMessage = (receipt) => concat(utf8(RECEIPT_DOMAIN), new Uint8Array([0]), jcsBytes(receipt));

// true when sigHex (128 lower-case hex) is the worker key pkHex's (64)
// Ed25519 signature of the receipt.
export function verifySignature(receipt, sigHex, pkHex) {
  if (!isLowerHex(sigHex, 128) || !isLowerHex(pkHex, 64)) return false;
  try {
    return ed.verify(fromHex(sigHex), signedMessage(receipt), fromHex(pkHex), { zip215: false });
  } catch {
    return false;
  }
}

// SHA-256 of JCS(value) as lower-case hex: a job's output_hash.
export const outputHash = (value) => sha256Hex(jcsBytes(value));

// report_data = SHA-512(pk || measurement) at offset 568 (v4) or 574 (v5).
function tdxBinding(quoteB64, pkHex, mHex) {
  let q;
  try {
    q = fromBase64(quoteB64, "quote");
  } catch (e) {
    return e.message;
  }
  const version = q.length >= 2 ? q[0] | (q[1] << 8) : 0;
  const off = version === 4 ? 568 : version === 5 ? 574 : -1;
  if (off < 0) return `TDX quote has version ${version}; expected 4 or 5`;
  if (q.length < off + 64) return `TDX quote is ${q.length} bytes; report_data needs ${off + 64}`;
  const rd = sha512Bytes(concat(fromHex(pkHex), fromHex(mHex)));
  return equalBytes(rd, q.subarray(off, off + 64)) ? null
    : "TDX quote's report_data is not SHA-512(worker_public_key || measurement)";
}

// Runs every check on a job object (as GET /jobs/{id} answers it).
// opts: {attestation (the GET /attestation document), workerKey (hex, pins
// the key without a document), measurement (hex), code (Uint8Array or
// string: the script or module), input (the job's input value)}.
export function verifyJob(job, opts = {}) {
  const out = [];
  const add = (id, res, line) => out.push({ id, res, line });
  const r = job && job.receipt;
  const sig = job && job.receipt_signature;
  if (!r || typeof r !== "object" || Array.isArray(r) || typeof sig !== "string") {
    add("receipt", "fail", "the job has no receipt object and receipt_signature string");
    return out;
  }
  add("receipt", "ok", `the job has a receipt (${r.version})`);
  const att = opts.attestation;
  const pinned = opts.workerKey ?? (att ? att.worker_public_key : undefined);
  signatureCheck(r, sig, pinned, add);
  workerCheck(r, att, opts.measurement, add);

  const same = (a, b) => (a ?? null) === (b ?? null);
  if (job.job_id && same(job.job_id, r.job_id)) add("job_id", "ok", `job_id matches the receipt: ${job.job_id}`);
  else add("job_id", "fail", `job_id '${job.job_id}' differs from the receipt's '${r.job_id}'`);
  if (typeof job.runtime === "string" && job.runtime === r.runtime) add("runtime", "ok", `runtime matches the receipt: ${job.runtime}`);
  else add("runtime", "fail", `runtime '${job.runtime ?? null}' differs from the receipt's '${r.runtime ?? null}'`);
  const code = job.error && job.error.code;
  if (same(job.status, r.status) && same(code, r.error_code))
    add("status", "ok", `status and error code match the receipt: ${job.status}, ${code ?? null}`);
  else add("status", "fail", `status/error code '${job.status}'/'${code}' differ from the receipt's '${r.status}'/'${r.error_code}'`);

  outputCheck(job, r, add);
  if (typeof job.encrypted_output === "string") {
    const h = sha256Hex(utf8(job.encrypted_output));
    if (h === r.encrypted_output_hash) add("encrypted_output_hash", "ok", `encrypted_output hash matches the receipt: ${h}`);
    else add("encrypted_output_hash", "fail", `encrypted_output hash ${h} differs from the receipt's ${r.encrypted_output_hash}`);
  } else if (r.encrypted_output_hash != null) {
    add("encrypted_output_hash", "fail", `the receipt has encrypted_output_hash ${r.encrypted_output_hash} but the job has none`);
  }
  const lh = outputHash(job.logs ?? []);
  if (lh === r.logs_hash) add("logs_hash", "ok", `logs hash matches the receipt: ${lh}`);
  else add("logs_hash", "fail", `logs hash ${lh} differs from the receipt's ${r.logs_hash}`);

  if (opts.code !== undefined) {
    const h = sha256Hex(typeof opts.code === "string" ? utf8(opts.code) : opts.code);
    if (h === r.code_hash) add("code_hash", "ok", `code hash matches the given code: ${h}`);
    else add("code_hash", "fail", `code hash of the given code ${h} differs from the receipt's ${r.code_hash}`);
  }
  if (opts.input !== undefined) {
    const h = outputHash(opts.input);
    if (h === r.input_hash) add("input_hash", "ok", `input hash matches the receipt: ${h}`);
    else add("input_hash", "fail", `input hash ${h} differs from the receipt's ${r.input_hash}`);
  }
  quoteCheck(r, add);
  return out;
}

// true when no check failed.
export const verified = (checks) => checks.length > 0 && checks.every((c) => c.res !== "fail");

function signatureCheck(r, sig, pinned, add) {
  const fail = (line) => add("signature", "fail", `signature: ${line}`);
  if (r.version !== RECEIPT_DOMAIN) return fail(`receipt version is '${r.version}'; expected '${RECEIPT_DOMAIN}'`);
  if (!isLowerHex(r.worker_public_key, 64)) return fail("receipt field 'worker_public_key' must be 64 lower-case hex characters");
  if (!isLowerHex(sig, 128)) return fail("receipt_signature must be 128 lower-case hex characters");
  const key = pinned ?? r.worker_public_key;
  if (!verifySignature(r, sig, key))
    return fail(pinned ? `the receipt signature does not verify with the worker key ${key}` : "the receipt signature does not verify");
  if (pinned) add("signature", "ok", `signature (Ed25519) by the worker key ${key}`);
  else add("signature", "ok", `signature (Ed25519) by the receipt's own key ${key} (not pinned: give the worker's key to prove who signed)`);
}

function workerCheck(r, att, measurement, add) {
  if (!att) {
    add("worker_key", "skip", `worker key not compared with GET /attestation (none given): ${r.worker_public_key}`);
  } else if (r.worker_public_key === att.worker_public_key) {
    add("worker_key", "ok", `worker key is the server's (GET /attestation): ${att.worker_public_key}`);
  } else {
    add("worker_key", "fail", `worker key ${r.worker_public_key} is not the server's ${att.worker_public_key} (GET /attestation)`);
  }
  const want = measurement ?? (att ? att.measurement : undefined);
  if (want === undefined) add("measurement", "skip", `measurement not compared (none expected): ${r.measurement}`);
  else if (r.measurement === want) add("measurement", "ok", `measurement is the expected ${want}`);
  else add("measurement", "fail", `measurement ${r.measurement} differs from the expected ${want}`);
}

function outputCheck(job, r, add) {
  if (typeof job.output_hash === "string" && job.output_hash !== r.output_hash)
    return add("output_hash", "fail", `job output_hash ${job.output_hash} differs from the receipt's ${r.output_hash}`);
  const output = job.output ?? null;
  if (r.status !== "completed") {
    if (output !== null) add("output_hash", "fail", "failed job, yet the job carries an output");
    else if (r.output_hash === null) add("output_hash", "ok", "failed job: no output, and the receipt has no output hash");
    else add("output_hash", "fail", `failed job, yet the receipt has output hash ${r.output_hash}`);
    return;
  }
  if (typeof job.encrypted_output === "string" && output === null)
    return add("output_hash", "skip", `output is sealed (encrypted_output): open it and compare with output_hash ${r.output_hash}`);
  let h;
  try {
    h = outputHash(output);
  } catch (e) {
    return add("output_hash", "fail", `output has no canonical form: ${e.message}`);
  }
  if (h === r.output_hash) add("output_hash", "ok", `output hash recomputed from the canonical output matches the receipt: ${h}`);
  else add("output_hash", "fail", `output hash ${h} recomputed from the output differs from the receipt's ${r.output_hash}`);
}

function quoteCheck(r, add) {
  if (r.quote_type === "none" && r.quote === null)
    add("quote", "skip", "quote: none (software only: no hardware vouches for this key)");
  else if (r.quote_type === "tdx" && typeof r.quote === "string") {
    const why = tdxBinding(r.quote, r.worker_public_key, r.measurement);
    if (why) add("quote", "fail", `quote: ${why}`);
    else add("quote", "ok", "TDX quote carries SHA-512(worker key || measurement) as report_data (check its signature chain with Intel DCAP)");
  } else add("quote", "fail", `quote_type '${r.quote_type}' with quote ${r.quote === null ? "null" : "present"} is not a known combination`);
}

export { jcs };
