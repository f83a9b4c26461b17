#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// verify-receipt.mjs - checks a sealrun job's signed receipt with nothing but
// the worker's public key and node's standard library (docs/receipts.md).
//
//   node examples/verify-receipt.mjs JOB.json [--worker-key HEX]
//        [--expect-measurement HEX] [--script FILE | --module FILE] [--input FILE]
//
// Prints one line per check ("ok", "FAIL" or "skip") and exits 0 only when
// no check failed (1 when one did, 2 on a usage error).
//
// The signature is Ed25519 over the bytes
//   "sealrun.receipt.v1" 0x00 JCS(receipt)
// where JCS is RFC 8785, the JSON Canonicalization Scheme. The job file is
// read as strictly as sealrun reads JSON (parseStrict): no key twice in an
// object, no number whose value RFC 8785 does not keep.

import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const DOMAIN = "sealrun.receipt.v1";
// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

// RFC 8785: object members sorted by UTF-16 code units (what Array.sort does
// with strings), no whitespace, strings and numbers exactly as
// JSON.stringify writes them (ECMAScript Number::toString, minimal escapes).
export function jcs(v) {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error("non-finite number");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  const keys = Object.keys(v).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
}

// The decimal value of a number literal, as "digits e exponent" (the first
// digit's power of ten) with leading and trailing zeros dropped; "0" for zero.
function decimalValue(lit) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(lit);
  const digits = m[2] + (m[3] ?? "");
  const first = digits.search(/[1-9]/);
  if (first < 0) return "0"; // -0 is the number 0 too
  const e = BigInt(m[2].length - 1 - first) + BigInt(m[4] ?? "0");
  return `${m[1]}${digits.slice(first).replace(/0+$/, "")}e${e}`;
}

const where = (text, i) => `byte ${Buffer.byteLength(text.slice(0, i), "utf8")}`;

// JSON.parse keeps the last of duplicate keys, and reads every number as
// the nearest double while the text may say more. sealrun refuses both (its
// parser and `sealrun verify` do the same): a key twice in one object, and a
// number whose value is not exactly that of its RFC 8785 form (1000000000000000001
// would be hashed as 1000000000000000000). Throws with what and where.
export function parseStrict(text, what) {
  const value = JSON.parse(text); // the syntax first: the scan below relies on it
  const token = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}[\]:,]/g;
  const stack = []; // per open container: the keys seen (objects) or null (arrays)
  let key = false; // the next string is a member name
  for (let m; (m = token.exec(text)) !== null;) {
    const t = m[0];
    const top = stack[stack.length - 1];
    if (t === "{") { stack.push(new Set()); key = true; }
    else if (t === "[") { stack.push(null); key = false; }
    else if (t === "}" || t === "]") { stack.pop(); key = false; }
    else if (t === ",") key = top instanceof Set;
    else if (t === ":") key = false;
    else if (t[0] === '"') {
      if (key) {
        const name = JSON.parse(t);
        if (top.has(name))
          throw new Error(`${what} has the key ${t} twice in one object (the second at ${where(text, m.index)}); a key may appear only once`);
        top.add(name);
      }
      key = false;
    } else {
      const x = Number(t);
      if (!Number.isFinite(x))
        throw new Error(`${what} has a number that RFC 8785 cannot hash: '${t.slice(0, 48)}' at ${where(text, m.index)} is beyond the largest IEEE 754 double; send it as a string`);
      if (decimalValue(t) !== decimalValue(String(x)))
        throw new Error(`${what} has a number that RFC 8785 cannot hash exactly: '${t.slice(0, 48)}' at ${where(text, m.index)} would be hashed as ${String(x)} (the nearest IEEE 754 double); send it as a string`);
    }
  }
  return value;
}

export const sha256Hex = (bytes) => createHash("sha256").update(bytes).digest("hex");
const isLowerHex = (s, len) => typeof s === "string" && s.length === len && /^[0-9a-f]*$/.test(s);

// The exact signed bytes.
export function signedMessage(receipt) {
  return Buffer.concat([Buffer.from(DOMAIN, "utf8"), Buffer.from([0]),
                        Buffer.from(jcs(receipt), "utf8")]);
}

export function verifySignature(receipt, sigHex, pkHex) {
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(pkHex, "hex")]),
    format: "der",
    type: "spki",
  });
  return verify(null, signedMessage(receipt), key, Buffer.from(sigHex, "hex"));
}

// report_data = SHA-512(pk || measurement) at offset 568 (v4) or 574 (v5).
function tdxBinding(quoteB64, pkHex, mHex) {
  const q = Buffer.from(quoteB64, "base64");
  const version = q.length >= 2 ? q.readUInt16LE(0) : 0;
  const off = version === 4 ? 568 : version === 5 ? 574 : -1;
  if (off < 0) return `TDX quote has version ${version}; expected 4 or 5`;
  if (q.length < off + 64) return `TDX quote is ${q.length} bytes; report_data needs ${off + 64}`;
  const rd = createHash("sha512").update(Buffer.from(pkHex + mHex, "hex")).digest();
  return rd.equals(q.subarray(off, off + 64)) ? null
    : "TDX quote's report_data is not SHA-512(worker_public_key || measurement)";
}

// Runs every check; returns [{res: "ok"|"fail"|"skip", line}].
// opts: {workerKey, measurement (hex), code (Buffer), input (parsed JSON, or undefined)}
export function verifyJob(job, opts = {}) {
  const out = [];
  const ok = (line) => out.push({ res: "ok", line });
  const fail = (line) => out.push({ res: "fail", line });
  const skip = (line) => out.push({ res: "skip", line });
  const r = job && job.receipt;
  const sig = job && job.receipt_signature;
  if (!r || typeof r !== "object" || Array.isArray(r) || typeof sig !== "string") {
    fail("job has no receipt object and receipt_signature string");
    return out;
  }
  ok(`job has a receipt (${r.version})`);
  signatureCheck(r, sig, opts.workerKey, ok, fail);

  const same = (a, b) => (a ?? null) === (b ?? null);
  if (job.job_id && same(job.job_id, r.job_id)) ok(`job_id matches the receipt: ${job.job_id}`);
  else fail(`job_id '${job.job_id}' differs from the receipt's '${r.job_id}'`);
  if (typeof job.runtime === "string" && job.runtime === r.runtime) ok(`runtime matches the receipt: ${job.runtime}`);
  else fail(`runtime '${job.runtime ?? null}' differs from the receipt's '${r.runtime ?? null}'`);
  // WebAssembly jobs say which tier ran them (older receipts do not)
  if (job.tier !== undefined || r.tier !== undefined) {
    if ((job.tier === "interp" || job.tier === "native") && job.tier === r.tier) ok(`tier matches the receipt: ${job.tier}`);
    else fail(`tier '${job.tier ?? null}' differs from the receipt's '${r.tier ?? null}' (expected "interp" or "native" in both)`);
  }
  const code = job.error && job.error.code;
  if (same(job.status, r.status) && same(code, r.error_code))
    ok(`status and error code match the receipt: ${job.status}, ${code ?? null}`);
  else fail(`status/error code '${job.status}'/'${code}' differ from the receipt's '${r.status}'/'${r.error_code}'`);

  outputCheck(job, r, ok, fail, skip);
  const hashCheck = (what, v, want) => {
    const h = sha256Hex(Buffer.from(jcs(v), "utf8"));
    if (h === want) ok(`${what} hash matches the receipt: ${h}`);
    else fail(`${what} hash ${h} differs from the receipt's ${want}`);
  };
  if (typeof job.encrypted_output === "string") {
    const h = sha256Hex(Buffer.from(job.encrypted_output, "utf8"));
    if (h === r.encrypted_output_hash) ok(`encrypted_output hash matches the receipt: ${h}`);
    else fail(`encrypted_output hash ${h} differs from the receipt's ${r.encrypted_output_hash}`);
  } else if (r.encrypted_output_hash != null) {
    fail(`the receipt has encrypted_output_hash ${r.encrypted_output_hash} but the job has none`);
  }
  hashCheck("logs", job.logs ?? [], r.logs_hash);

  if (opts.code) {
    const h = sha256Hex(opts.code);
    if (h === r.code_hash) ok(`code hash matches the given code: ${h}`);
    else fail(`code hash of the given code ${h} differs from the receipt's ${r.code_hash}`);
  } else skip(`code hash not checked (no script or module given): ${r.code_hash}`);
  if (opts.input !== undefined) hashCheck("input", opts.input, r.input_hash);
  else skip(`input hash not checked (no input given): ${r.input_hash}`);
  if (opts.measurement) {
    if (r.measurement === opts.measurement) ok(`measurement is the expected ${opts.measurement}`);
    else fail(`measurement ${r.measurement} differs from the expected ${opts.measurement}`);
  } else skip(`measurement not compared (none expected): ${r.measurement}`);

  if (r.quote_type === "none" && r.quote === null)
    skip("quote: none (software only: no hardware vouches for this key)");
  else if (r.quote_type === "tdx" && typeof r.quote === "string") {
    const why = tdxBinding(r.quote, r.worker_public_key, r.measurement);
    if (why) fail(`quote: ${why}`);
    else ok("TDX quote carries SHA-512(worker key || measurement) as report_data (check its signature chain with Intel DCAP)");
  } else fail(`quote_type '${r.quote_type}' with quote ${r.quote === null ? "null" : "present"} is not a known combination`);
  httpCheck(job, r, ok, fail);
  return out;
}

// The receipt's "http" list (docs/http.md): well formed, and what the job shows.
function exchangeOk(x, r) {
  if (x === null || typeof x !== "object" || typeof x.method !== "string" || typeof x.url !== "string" ||
      !Array.isArray(x.header_names) || !x.header_names.every((n) => typeof n === "string") ||
      !isLowerHex(x.request_body_sha256, 64) ||
      (x.response_body_sha256 !== undefined && !isLowerHex(x.response_body_sha256, 64)) ||
      !Number.isInteger(x.status) || x.status < 0 || x.status > 999 ||
      !Number.isInteger(x.duration_us) || x.duration_us < 0 || typeof x.started_at !== "string")
    return false;
  return typeof r.started_at !== "string" || typeof r.finished_at !== "string" ||
    (x.started_at >= r.started_at && x.started_at <= r.finished_at);
}

function httpCheck(job, r, ok, fail) {
  if (r.http === undefined && job.http === undefined) return;
  if (!Array.isArray(r.http)) return fail("http: the job shows requests the receipt does not list");
  const bad = r.http.findIndex((x) => !exchangeOk(x, r));
  if (bad >= 0) return fail(`http: exchange ${bad} of the receipt is malformed`);
  if (job.http !== undefined && jcs(job.http) !== jcs(r.http))
    return fail("http: the job's list of exchanges differs from the receipt's");
  ok(`http: ${r.http.length} exchange(s) listed, each with its URL as written, request and response hashes, status and time`);
}

function signatureCheck(r, sig, pinned, ok, fail) {
  if (r.version !== DOMAIN) return fail(`signature: receipt version is '${r.version}'; expected '${DOMAIN}'`);
  if (!isLowerHex(r.worker_public_key, 64))
    return fail("signature: receipt field 'worker_public_key' must be 64 lower-case hex characters");
  if (!isLowerHex(sig, 128)) return fail("signature: receipt_signature must be 128 lower-case hex characters");
  if (pinned && pinned !== r.worker_public_key)
    return fail(`signature: receipt names worker key ${r.worker_public_key}; expected ${pinned}`);
  let good = false;
  try {
    good = verifySignature(r, sig, r.worker_public_key);
  } catch (e) {
    return fail(`signature: ${e.message}`);
  }
  if (!good) return fail("signature: receipt signature does not verify");
  if (pinned) ok(`signature (Ed25519) by the pinned worker key ${pinned}`);
  else ok(`signature (Ed25519) by the receipt's own key ${r.worker_public_key} (not pinned: pass the worker's public key to prove who signed)`);
}

function outputCheck(job, r, ok, fail, skip) {
  if (typeof job.output_hash === "string" && job.output_hash !== r.output_hash)
    fail(`job output_hash ${job.output_hash} differs from the receipt's ${r.output_hash}`);
  const output = job.output ?? null;
  if (r.status !== "completed") {
    if (output !== null) fail("failed job, yet the job carries an output");
    else if (r.output_hash === null) ok("failed job: no output, and the receipt has no output hash");
    else fail(`failed job, yet the receipt has output hash ${r.output_hash}`);
    return;
  }
  if (typeof job.encrypted_output === "string" && output === null) {
    skip(`output is sealed (encrypted_output): open it and compare with output_hash ${r.output_hash}`);
    return;
  }
  const h = sha256Hex(Buffer.from(jcs(output), "utf8"));
  if (h === r.output_hash) ok(`output hash matches the receipt: ${h}`);
  else fail(`output hash ${h} differs from the receipt's ${r.output_hash}`);
}

function usage(msg) {
  process.stderr.write(`verify-receipt: error: ${msg}\n` +
    "usage: node verify-receipt.mjs JOB.json [--worker-key HEX] [--expect-measurement HEX]\n" +
    "       [--script FILE | --module FILE] [--input FILE]\n");
  process.exit(2);
}

function readArg(opt, file) {
  try {
    return readFileSync(file);
  } catch (e) {
    return usage(`${opt} '${file}': ${e.message}`);
  }
}

function parseArgs(argv) {
  const opts = {};
  let file = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === "--worker-key") opts.workerKey = val();
    else if (a === "--expect-measurement") opts.measurement = val();
    else if (a === "--script" || a === "--module") opts.code = readArg(a, val());
    else if (a === "--input") {
      const f = val();
      try {
        opts.input = parseStrict(new TextDecoder("utf-8", { fatal: true }).decode(readArg(a, f)), "input file");
      } catch (e) {
        usage(`--input '${f}' is not JSON: ${e.message}`);
      }
    }
    else if (a.startsWith("--")) usage(`unknown option '${a}'`);
    else if (file) usage("give one job file");
    else file = a;
  }
  if (!file) usage("no job file given");
  for (const k of ["workerKey", "measurement"])
    if (opts[k] !== undefined && !isLowerHex(opts[k], 64)) usage(`${k === "workerKey" ? "--worker-key" : "--expect-measurement"} must be 64 lower-case hex characters`);
  return { file, opts };
}

function main() {
  const { file, opts } = parseArgs(process.argv.slice(2));
  let job;
  try {
    job = parseStrict(new TextDecoder("utf-8", { fatal: true }).decode(readArg("job", file)), "job file");
  } catch (e) {
    process.stdout.write(`FAIL job file '${file}' is not readable JSON: ${e.message}\n`);
    process.exit(1);
  }
  const checks = verifyJob(job, opts);
  const tag = { ok: "ok  ", fail: "FAIL", skip: "skip" };
  for (const c of checks) process.stdout.write(`${tag[c.res]} ${c.line}\n`);
  process.exit(checks.some((c) => c.res === "fail") ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
