// SPDX-License-Identifier: MIT
//
// bytes.js - hex, base64 and SHA-256 that work the same in node and in a
// browser (no Buffer, no crypto.subtle: the dashboard must verify on plain
// http:// too, where browsers give no crypto.subtle).

import { sha256, sha512 } from "@noble/hashes/sha2";

const enc = new TextEncoder();

export const utf8 = (s) => enc.encode(s);

export function toHex(b) {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export const isLowerHex = (s, len) =>
  typeof s === "string" && s.length === len && /^[0-9a-f]*$/.test(s);

// Lower-case hex only (sealrun writes nothing else); throws on anything else.
export function fromHex(s, what = "hex") {
  if (typeof s !== "string" || s.length % 2 || !/^[0-9a-f]*$/.test(s))
    throw new TypeError(`${what} must be lower-case hex`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Standard alphabet, padded (what sealrun writes and reads).
export function toBase64(b) {
  let s = "";
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[n >> 18] + B64[(n >> 12) & 63];
    s += i + 1 < b.length ? B64[(n >> 6) & 63] : "=";
    s += i + 2 < b.length ? B64[n & 63] : "=";
  }
  return s;
}

export function fromBase64(s, what = "base64") {
  if (typeof s !== "string" || s.length % 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s))
    throw new TypeError(`${what} must be standard base64 with padding`);
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const v = [0, 1, 2, 3].map((k) => (s[i + k] === "=" ? 0 : B64.indexOf(s[i + k])));
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    for (const x of [n >> 16, (n >> 8) & 255, n & 255]) if (o < out.length) out[o++] = x;
  }
  return out;
}

export const sha256Hex = (bytes) => toHex(sha256(typeof bytes === "string" ? utf8(bytes) : bytes));
export const sha512Bytes = (bytes) => sha512(bytes);

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
