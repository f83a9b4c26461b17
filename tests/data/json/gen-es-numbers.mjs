#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// gen-es-numbers.mjs - writes es-numbers.txt, the reference that
// tests/unit/core_json_test.c holds sealrun's JSON numbers to, from V8's
// own Number::toString (the form RFC 8785 hashes):
//   n <64-bit pattern, hex> <String(x)>   every power of two, and doubles
//                                         from a fixed pseudo-random stream
//   l <1|0> <literal>                     whether the literal's decimal value
//                                         is exactly that of String(Number(literal))
//
//   node tests/data/json/gen-es-numbers.mjs > tests/data/json/es-numbers.txt
let seed = 20261121;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const bits = (x) => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b.toString("hex");
};
const lines = [];
for (let k = -1074; k <= 1023; k++) lines.push(`n ${bits(2 ** k)} ${String(2 ** k)}`);
for (let i = 0; i < 1500; i++) {
  const b = Buffer.alloc(8);
  for (let j = 0; j < 8; j++) b[j] = Math.floor(rnd() * 256);
  if (i % 3 === 0) b.fill(0, 2, 6); // mostly-zero mantissas: short forms
  const x = b.readDoubleBE(0);
  if (Number.isFinite(x)) lines.push(`n ${b.toString("hex")} ${String(x)}`);
}

// The decimal value as "digits e exponent", "0" for zero (-0 included).
function value(lit) {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(lit);
  const digits = m[2] + (m[3] ?? "");
  const first = digits.search(/[1-9]/);
  if (first < 0) return "0";
  const e = BigInt(m[2].length - 1 - first) + BigInt(m[4] ?? "0");
  return `${m[1]}${digits.slice(first).replace(/0+$/, "")}e${e}`;
}
const exact = (lit) => {
  const x = Number(lit);
  return Number.isFinite(x) && value(lit) === value(String(x));
};
const literals = [];
for (let i = 0; i < 1500; i++) {
  let d = "";
  const nd = 1 + Math.floor(rnd() * 20);
  for (let j = 0; j < nd; j++) d += Math.floor(rnd() * 10);
  let lit = d.replace(/^0+(?=\d)/, "");
  if (rnd() < 0.3 && lit.length > 1) {
    const p = 1 + Math.floor(rnd() * (lit.length - 1));
    lit = (lit.slice(0, p) + "." + lit.slice(p)).replace(/^0+(?=\d)/, "");
  }
  if (rnd() < 0.5) lit += "e" + (Math.floor(rnd() * 660) - 330);
  if (rnd() < 0.3) lit = "-" + lit;
  literals.push(lit);
}
for (let i = 0; i < 500; i++) { // doubles written shortest, with 17 and with 16 digits
  const b = Buffer.alloc(8);
  for (let j = 0; j < 8; j++) b[j] = Math.floor(rnd() * 256);
  const x = b.readDoubleBE(0);
  if (Number.isFinite(x)) literals.push(String(x), x.toExponential(16), x.toPrecision(16));
}
for (const lit of literals) lines.push(`l ${exact(lit) ? 1 : 0} ${lit}`);
process.stdout.write(lines.join("\n") + "\n");
