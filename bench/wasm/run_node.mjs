// SPDX-License-Identifier: MIT
// run_node.mjs - times a benchmark guest's run() in node (V8).
// usage: node bench/wasm/run_node.mjs FILE.wasm [REPS]
// The guests import nothing, so no WASI shim is needed. Compilation (V8's
// tiers) happens before the first call; the fastest of REPS (default 3)
// calls, each on a fresh instance, counts. Prints result=<u64> best_ms=<t>.
import { readFileSync } from "node:fs";

const [file, repsArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node run_node.mjs FILE.wasm [REPS]");
  process.exit(1);
}
const reps = Math.max(1, Number(repsArg ?? 3));
const module = await WebAssembly.compile(readFileSync(file));
let best = Infinity;
let result = 0n;
for (let r = 0; r < reps; r++) {
  const instance = await WebAssembly.instantiate(module, {});
  const t0 = process.hrtime.bigint();
  result = instance.exports.run();
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (t < best) best = t;
}
console.log(`result=${BigInt.asUintN(64, result)} best_ms=${best.toFixed(3)}`);
