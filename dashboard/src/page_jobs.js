// SPDX-License-Identifier: MIT
//
// page_jobs.js - Jobs: the caller's jobs with filters (status, runtime,
// created since/until) and pages (GET /jobs ... before=), and one job's page
// (GET /jobs/{id}) with its input (when this tab ran it: the server keeps no
// input, only its hash in the receipt), output, logs, error, gas, limits,
// timings and the receipt verified in the browser.

import { decryptOutput, parseStrict, outputHash } from "../../clients/js/src/index.js";
import { h, pre, when, short, table, field, errorBox, clear } from "./dom.js";
import { receiptView } from "./receipt_view.js";
import { go } from "./app.js";
import { rememberedJob } from "./memory.js";

const STATUSES = ["", "queued", "running", "completed", "failed"];
const RUNTIMES = ["", "js", "wasm"];

const select = (id, values, current) =>
  h("select", { id }, values.map((v) => h("option", { value: v, selected: v === current ? true : null }, v || "any")));

// datetime-local text <-> RFC 3339 (the browser's time zone).
const toLocalInput = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocalInput = (v) => (v ? new Date(v).toISOString() : "");

export async function jobsPage(client, params) {
  const f = Object.fromEntries(["status", "runtime", "since", "until", "before"].map((k) => [k, params.get(k) ?? ""]));
  const page = await client.listJobs({ ...f, limit: 20 });
  const status = select("filter-status", STATUSES, f.status);
  const runtime = select("filter-runtime", RUNTIMES, f.runtime);
  const since = h("input", { type: "datetime-local", id: "filter-since", value: toLocalInput(f.since) });
  const until = h("input", { type: "datetime-local", id: "filter-until", value: toLocalInput(f.until) });
  const query = (extra = {}) => {
    const q = new URLSearchParams();
    const v = { status: status.value, runtime: runtime.value, since: fromLocalInput(since.value), until: fromLocalInput(until.value), ...extra };
    for (const [k, x] of Object.entries(v)) if (x) q.set(k, x);
    return `#/jobs${q.toString() ? "?" + q : ""}`;
  };
  const form = h("form", { class: "filters", id: "job-filters" },
    field("Status", status), field("Runtime", runtime), field("Created since", since), field("until", until),
    h("button", { type: "submit", id: "filter-apply" }, "Apply"),
    h("button", { type: "button", class: "secondary", onclick: () => go("#/jobs") }, "Clear"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); go(query()); });
  const rows = page.jobs.map((j) => h("tr", { "data-job": j.job_id },
    h("td", {}, h("a", { href: `#/jobs/${j.job_id}`, class: "mono" }, short(j.job_id, 16))),
    h("td", {}, h("span", { class: `badge ${j.status}` }, j.status)),
    h("td", {}, j.runtime ?? ""),
    h("td", {}, when(j.created_at)),
    h("td", { class: "num" }, j.duration ?? ""),
    h("td", { class: "num" }, j.gas_used ?? ""),
    h("td", {}, j.error ? j.error.code : "")));
  const pager = h("div", { class: "pager" },
    f.before ? h("a", { href: query(), id: "page-newest" }, "« Newest") : null,
    page.next ? h("a", { href: query({ before: page.next }), id: "page-older" }, "Older »") : null);
  return h("div", {},
    h("h1", {}, "Jobs"), form,
    page.jobs.length ? table(["Job", "Status", "Runtime", "Created", "Duration", "Gas", "Error"], rows, { id: "jobs-table" })
      : h("p", { id: "jobs-empty" }, "No jobs match."),
    pager);
}

function kv(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// What this tab knows of the job's request (from the playground), and a
// box to check an input or script given by hand against the receipt.
function requestView(job, known) {
  const r = job.receipt ?? {};
  const body = [];
  if (known.input !== undefined) body.push(h("h3", {}, "Input"), pre(known.input, { id: "job-input" }));
  else body.push(h("p", {}, "The server keeps no job input; its hash is in the receipt: ", h("code", {}, r.input_hash ?? "none"), "."));
  if (typeof known.code === "string") body.push(h("h3", {}, "Script"), h("pre", { id: "job-script" }, known.code));
  const text = h("textarea", { rows: 3, id: "check-input", placeholder: "an input as JSON, to compare with the receipt's input_hash" });
  const out = h("div", {});
  const check = h("button", { type: "button", id: "check-input-run", class: "secondary" }, "Check input");
  check.addEventListener("click", async () => {
    clear(out);
    try {
      const v = parseStrict(text.value, "input");
      const hh = outputHash(v);
      out.append(h("p", { class: hh === r.input_hash ? "ok" : "fail", id: "check-input-result" }, hh === r.input_hash ? `pass: the input's hash is the receipt's ${hh}` : `FAIL: the input's hash ${hh} is not the receipt's ${r.input_hash}`));
    } catch (e) {
      out.append(errorBox(e));
    }
  });
  body.push(h("div", { class: "row" }, text, check), out);
  return h("section", { class: "card" }, h("h2", {}, "Request"), body);
}

function sealedOutput(job) {
  const key = h("input", { type: "password", id: "output-secret-key", placeholder: "secret key (base64) for output_pubkey" });
  const out = h("div", {});
  const btn = h("button", { type: "button", class: "secondary" }, "Open");
  btn.addEventListener("click", async () => {
    clear(out);
    try {
      const r = await decryptOutput(job, key.value.trim());
      out.append(pre(r.output, { id: "job-output" }), h("p", { class: r.matches ? "ok" : "fail" }, r.matches ? `the opened output hashes to output_hash ${r.outputHash}` : `the opened output hashes to ${r.outputHash}, not output_hash`));
    } catch (e) {
      out.append(errorBox(e));
    }
  });
  return [h("p", {}, "The output is sealed to the job's output_pubkey."), h("div", { class: "row" }, key, btn), out];
}

export function jobDetails(job) {
  const r = job.receipt ?? {};
  const limits = r.limits ?? {};
  const out = [];
  out.push(h("section", { class: "card" }, h("h2", {}, "Result"),
    kv([["Status", h("span", { class: `badge ${job.status}`, id: "job-status" }, job.status)], ["Runtime", job.runtime],
      ["Error", job.error ? h("span", { id: "job-error" }, `${job.error.code}: ${job.error.message}`) : null],
      ["Gas used", job.gas_used !== undefined ? h("span", { id: "job-gas" }, `${job.gas_used}${job.runtime === "js" ? " µs CPU" : " fuel"}`) : null],
      ["Gas limit", job.gas_limit], ["Timeout", limits.timeout_s !== undefined ? `${limits.timeout_s} s` : null],
      ["Memory", limits.memory_mb !== undefined ? `${limits.memory_mb} MB` : null],
      ["Created", when(job.created_at)], ["Started", when(job.started_at)], ["Finished", when(job.finished_at)],
      ["Duration", job.duration], ["Tier", job.tier ? h("span", { id: "job-tier" }, job.tier) : null],
      ["Cost", job.cost ? h("span", { id: "job-cost" }, `${job.cost.charged} charged of ${job.cost.reserved} reserved, ${job.cost.refunded} refunded (${job.cost.unit})`) : null],
      ["Output hash", job.output_hash ? h("code", {}, job.output_hash) : null],
      ["Storage", job.storage ? `${job.storage.namespace} v${job.storage.version_before} → v${job.storage.version_after}` : null]]),
    h("h3", {}, "Output"),
    typeof job.encrypted_output === "string" && (job.output === null || job.output === undefined) ? sealedOutput(job) : pre(job.output ?? null, { id: "job-output" }),
    h("h3", {}, `Logs (${(job.logs ?? []).length})`),
    h("pre", { class: "logs", id: "job-logs" }, (job.logs ?? []).join("\n"))));
  return out;
}

// The job's completion webhook (submitted with callback_url): its state
// and every attempt (GET /jobs/{id}/deliveries); nothing without one.
function webhookView(dl) {
  if (!dl || dl.state === "none") return null;
  const rows = dl.attempts.map((a) => h("tr", {},
    h("td", { class: "num" }, String(a.attempt)), h("td", {}, when(a.at)), h("td", { class: "num" }, `${a.duration_ms} ms`),
    h("td", {}, a.status === null ? "no answer" : String(a.status)), h("td", {}, a.error ?? "")));
  return h("section", { class: "card", id: "job-webhook" }, h("h2", {}, "Webhook"),
    kv([["State", h("span", { id: "job-webhook-state" }, dl.state)]]),
    rows.length ? table(["Attempt", "At", "Took", "Answer", "Error"], rows, { id: "job-deliveries" }) : h("p", {}, "No attempt yet."));
}

export async function jobPage(client, id) {
  const job = await client.getJob(id);
  const known = rememberedJob(id);
  const checks = {};
  if (known.code !== undefined) checks.code = known.code;
  if (known.input !== undefined) checks.input = known.input;
  const wrap = h("div", {}, h("h1", {}, "Job ", h("span", { class: "mono", id: "job-id" }, job.job_id)));
  const live = job.status === "queued" || job.status === "running";
  const actions = h("div", { class: "row" });
  const problem = h("div", {});
  if (live) {
    actions.append(h("button", { type: "button", onclick: () => go(`#/jobs/${id}`) }, "Refresh"));
    const cancel = h("button", { type: "button", class: "secondary", id: "job-cancel" }, "Cancel job");
    cancel.addEventListener("click", async () => {
      clear(problem);
      cancel.disabled = true;
      try {
        await client.cancel(id);
        go(`#/jobs/${id}`); // shows it as it ended
      } catch (e) {
        cancel.disabled = false;
        problem.append(errorBox(e));
      }
    });
    actions.append(cancel);
  }
  const deliveries = await client.deliveries(id);
  wrap.append(...jobDetails(job));
  if (live) wrap.append(actions, problem);
  const hook = webhookView(deliveries);
  if (hook) wrap.append(hook);
  wrap.append(requestView(job, known), await receiptView(client, job, checks));
  return wrap;
}
