// SPDX-License-Identifier: MIT
//
// json.js - JSON the way sealrun reads and hashes it (docs/receipts.md,
// docs/errors.md): RFC 8785 canonical form (jcs), and a strict reader that
// refuses what JSON.parse lets through silently: a key twice in one object
// (JSON.parse keeps the last; another parser may keep the first, so one job
// text could show one output and verify with another), and a number whose
// value is not exactly that of its RFC 8785 form (1000000000000000001 would
// be hashed as 1000000000000000000). sealrun refuses both with 400; so does
// every read of this client.

const enc = new TextEncoder();

// RFC 8785: members sorted by UTF-16 code units (what Array.prototype.sort
// does with strings), no whitespace, strings and numbers exactly as
// JSON.stringify writes them (ECMAScript Number::toString, minimal escapes).
export function jcs(v) {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v))
      throw new TypeError(`RFC 8785 has no form for the number ${v}`);
    if (v === undefined || typeof v === "function" || typeof v === "symbol" || typeof v === "bigint")
      throw new TypeError(`RFC 8785 has no form for a ${typeof v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  const keys = Object.keys(v).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
}

// The UTF-8 bytes of jcs(v): what output_hash, input_hash, logs_hash and
// the receipt signature are computed over.
export const jcsBytes = (v) => enc.encode(jcs(v));

// The decimal value of a number literal as "digits e exponent" (the first
// digit's power of ten), leading and trailing zeros dropped; "0" for zero.
function decimalValue(lit) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(lit);
  const digits = m[2] + (m[3] ?? "");
  const first = digits.search(/[1-9]/);
  if (first < 0) return "0"; // -0 is the number 0 too
  const e = BigInt(m[2].length - 1 - first) + BigInt(m[4] ?? "0");
  return `${m[1]}${digits.slice(first).replace(/0+$/, "")}e${e}`;
}

const where = (text, i) => `byte ${enc.encode(text.slice(0, i)).length}`;

// Parses text as JSON, refusing duplicate keys and numbers RFC 8785 cannot
// hash exactly. Throws SyntaxError saying what and where; 'what' names the
// text in the message ("job", "answer of GET /jobs/...").
export function parseStrict(text, what = "JSON text") {
  let value;
  try {
    value = JSON.parse(text); // the syntax first: the scan below relies on it
  } catch (e) {
    throw new SyntaxError(`${what} is not JSON: ${e.message}`);
  }
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
          throw new SyntaxError(`${what} has the key ${t} twice in one object (the second at ${where(text, m.index)}); a key may appear only once`);
        top.add(name);
      }
      key = false;
    } else {
      const x = Number(t);
      if (!Number.isFinite(x))
        throw new SyntaxError(`${what} has a number that RFC 8785 cannot hash: '${t.slice(0, 48)}' at ${where(text, m.index)} is beyond the largest IEEE 754 double; send it as a string`);
      if (decimalValue(t) !== decimalValue(String(x)))
        throw new SyntaxError(`${what} has a number that RFC 8785 cannot hash exactly: '${t.slice(0, 48)}' at ${where(text, m.index)} would be hashed as ${String(x)} (the nearest IEEE 754 double); send it as a string`);
    }
  }
  return value;
}

// Refuses a value this client is about to send that sealrun would refuse
// (a number that is not finite or not an exact integer beyond 2^53 cannot
// appear: JavaScript numbers are doubles, so only NaN and the infinities,
// which JSON.stringify would turn into null, need a check). Returns the JSON
// text.
export function stringifyChecked(v, what = "request") {
  const walk = (x, path) => {
    if (typeof x === "number" && !Number.isFinite(x))
      throw new TypeError(`${what} has ${x} at ${path}: JSON has no such number`);
    if (typeof x === "bigint")
      throw new TypeError(`${what} has a BigInt at ${path}: send it as a string`);
    if (x && typeof x === "object")
      for (const [k, y] of Object.entries(x)) walk(y, `${path}.${k}`);
  };
  walk(v, "$");
  return JSON.stringify(v);
}
