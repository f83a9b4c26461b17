// tamper.mjs - the JavaScript verifier (examples/verify-receipt.mjs) against
// the example jobs here: each verifies with the pinned key, measurement,
// script and input, and flipping a bit of the output, of the canonical
// receipt or of the signature is caught every time (the same flips as
// tests/unit/receipt_data_test.c makes for the C verifier).
//
//   node tests/data/receipts/tamper.mjs      exit 0 when all is as expected
//
// Run by tests/unit/receipt_node_test.c.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jcs, verifyJob } from "../../../examples/verify-receipt.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const read = (f) => readFileSync(join(here, f));
const workerKey = read("worker.pub").toString().trim();
const measurement = read("measurement.hex").toString().trim();
const code = read("script.js");
const input = JSON.parse(read("input.json"));
const decoder = new TextDecoder("utf-8", { fatal: true });
let problems = 0;
const problem = (msg) => {
  problems++;
  process.stdout.write(`FAIL ${msg}\n`);
};
const failed = (checks) => checks.some((c) => c.res === "fail");

// Flips bits of text (as UTF-8 bytes), one at a time; every flip that still
// decodes and parses goes into a copy of the job through apply(), and the
// verifier must then report a failure.
function flipAll(name, job, text, bits, apply) {
  const bytes = Buffer.from(text, "utf8");
  let tried = 0;
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      if (!(bits & (1 << bit))) continue;
      tried++;
      const b = Buffer.from(bytes);
      b[i] ^= 1 << bit;
      let v;
      try {
        v = JSON.parse(decoder.decode(b));
      } catch {
        continue; // no longer UTF-8 JSON: rejected before any check
      }
      const copy = structuredClone(job);
      apply(copy, v);
      if (!failed(verifyJob(copy, {})))
        problem(`${name}: flip of bit ${bit} of byte ${i} was not caught`);
    }
  }
  return tried;
}

for (const [file, hasInput] of [["job-completed.json", true], ["job-failed.json", false],
                                ["job-sealed.json", true]]) {
  const job = JSON.parse(read(file));
  const full = verifyJob(job, { workerKey, measurement, code, input: hasInput ? input : undefined });
  if (failed(full)) problem(`${file}: does not verify: ${full.filter((c) => c.res === "fail").map((c) => c.line).join("; ")}`);
  if (failed(verifyJob(job, {}))) problem(`${file}: does not verify with the receipt's own key`);
  if (!failed(verifyJob(job, { workerKey: "00".repeat(32) }))) problem(`${file}: another pinned key was accepted`);
  let n = flipAll(`${file} output`, job, JSON.stringify(job.output ?? null), 0x21, (j, v) => { j.output = v; });
  n += flipAll(`${file} receipt`, job, jcs(job.receipt), 0x21, (j, v) => { j.receipt = v; });
  n += flipAll(`${file} signature`, job, JSON.stringify(job.receipt_signature), 0xff, (j, v) => { j.receipt_signature = v; });
  process.stdout.write(`${file}: ${n} single-bit flips tried, ${problems ? "see failures above" : "every one caught"}\n`);
}
process.exit(problems ? 1 : 0);
