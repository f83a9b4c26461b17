// SPDX-License-Identifier: MIT
//
// page_playground.js - Playground: write JavaScript (or pick a .wasm file or
// an uploaded module), set the input, limits, secret references and storage
// namespace, run it (POST /execute), and see the output, logs, gas and the
// receipt verified in the browser. "Seal the output" makes a key pair in the
// page, sends its public half as output_pubkey and opens the answer here.

import { newKeyPair, decryptOutput, parseStrict, toBase64 } from "../../clients/js/src/index.js";
import { h, clear, field, errorBox, pre } from "./dom.js";
import { jobDetails } from "./page_jobs.js";
import { receiptView } from "./receipt_view.js";
import { rememberJob } from "./memory.js";

const EXAMPLE = `// main(input, secrets) returns the job's output.
async function main(input, secrets) {
  console.log("hello from the playground");
  const sum = (input.numbers || []).reduce((a, b) => a + b, 0);
  return { sum, digest: crypto.sha256(String(sum)) };
}
`;

const num = (id, placeholder) => h("input", { type: "number", id, min: 1, placeholder });

export async function playgroundPage(client) {
  const runtime = h("select", { id: "pg-runtime" }, h("option", { value: "js" }, "JavaScript"), h("option", { value: "wasm" }, "WebAssembly (WASI)"));
  const script = h("textarea", { id: "pg-script", rows: 14, spellcheck: "false", class: "code", value: EXAMPLE });
  const entry = h("input", { id: "pg-entry", placeholder: "main" });
  const wasmFile = h("input", { type: "file", id: "pg-wasm", accept: ".wasm,application/wasm" });
  const moduleHash = h("input", { id: "pg-module-hash", placeholder: "or the hash of an uploaded module", class: "mono" });
  const input = h("textarea", { id: "pg-input", rows: 4, class: "code", value: '{"numbers": [1, 2, 3]}' });
  const timeout = num("pg-timeout", "30 s");
  const memory = num("pg-memory", "128 MB");
  const gas = num("pg-gas", "default");
  const refs = h("input", { id: "pg-secrets", placeholder: "NAME, owner/NAME", class: "mono" });
  const ns = h("input", { id: "pg-namespace", placeholder: "default" });
  const seal = h("input", { type: "checkbox", id: "pg-seal" });
  const jsPart = h("div", { id: "pg-js" }, field("Script", script), field("Entry point", entry));
  const wasmPart = h("div", { id: "pg-wasm-part", hidden: true }, field("Module (.wasm)", wasmFile), field("Module hash", moduleHash));
  runtime.addEventListener("change", () => {
    jsPart.hidden = runtime.value !== "js";
    wasmPart.hidden = runtime.value !== "wasm";
  });
  const result = h("div", { id: "pg-result" });
  const run = h("button", { type: "submit", id: "pg-run" }, "Run");
  const form = h("form", { class: "card", id: "pg-form" },
    field("Runtime", runtime), jsPart, wasmPart,
    field("Input (JSON)", input),
    h("div", { class: "row" }, field("Timeout (s)", timeout), field("Memory (MB)", memory), field("Gas limit", gas, "js: CPU µs; wasm: fuel")),
    field("Secret references", refs, "comma-separated; your own or owner/NAME shared with you"),
    field("Storage namespace", ns),
    h("label", { class: "check" }, seal, " Seal the output to a key made in this page (output_pubkey)"),
    run);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(result);
    run.disabled = true;
    try {
      const req = { runtime: runtime.value };
      let code;
      if (runtime.value === "js") {
        req.script = code = script.value;
        if (entry.value.trim()) req.entry_point = entry.value.trim();
      } else if (wasmFile.files.length) {
        req.module = toBase64(new Uint8Array(await wasmFile.files[0].arrayBuffer()));
      } else if (moduleHash.value.trim()) {
        req.module_hash = moduleHash.value.trim();
      } else {
        throw new Error("choose a .wasm file or give a module hash");
      }
      if (input.value.trim()) req.input = parseStrict(input.value, "input");
      for (const [k, el] of [["timeout", timeout], ["memory_mb", memory], ["gas_limit", gas]])
        if (el.value) req[k] = Number(el.value);
      const names = refs.value.split(",").map((x) => x.trim()).filter(Boolean);
      if (names.length) req.secret_refs = names;
      if (ns.value.trim()) req.storage_namespace = ns.value.trim();
      let kp = null;
      if (seal.checked) {
        kp = await newKeyPair();
        req.output_pubkey = kp.publicKey;
      }
      result.append(h("p", { class: "muted" }, "running…"));
      const job = await client.execute(req);
      rememberJob(job.job_id, { code, input: req.input ?? null });
      clear(result);
      result.append(h("p", {}, "Job ", h("a", { href: `#/jobs/${job.job_id}`, id: "pg-job-link", class: "mono" }, job.job_id)));
      if (kp && typeof job.encrypted_output === "string") {
        const opened = await decryptOutput(job, kp.secretKey);
        result.append(h("section", { class: "card" }, h("h2", {}, "Opened output"), pre(opened.output, { id: "pg-opened" }),
          h("p", { class: opened.matches ? "ok" : "fail" }, opened.matches ? "its hash is the job's output_hash" : "its hash is NOT the job's output_hash")));
      }
      const known = { input: req.input ?? null };
      if (code !== undefined) known.code = code;
      result.append(...jobDetails(job), await receiptView(client, job, known));
    } catch (e) {
      clear(result);
      result.append(errorBox(e, "pg-error"));
    } finally {
      run.disabled = false;
    }
  });
  return h("div", {}, h("h1", {}, "Playground"), form, result);
}
