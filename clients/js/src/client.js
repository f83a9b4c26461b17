// SPDX-License-Identifier: MIT
//
// client.js - the HTTP API of sealrund (docs/http-api.md) for node >= 18
// and browsers (global fetch). Every answer is read with parseStrict, so a
// duplicate key or an inexact number in an answer is an error here as it
// is in sealrun. Errors are SealrunError with the HTTP status and the
// server's {"error": {"code", "message"}}.

import { parseStrict, stringifyChecked } from "./json.js";
import { sealValue, decryptOutput } from "./seal.js";
import { verifyJob } from "./receipt.js";

export class SealrunError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.name = "SealrunError";
    this.status = status; // HTTP status; 0 when no answer came
    this.code = code; // "invalid_request", "not_found", ...
    this.retryAfter = retryAfter; // seconds (429), or undefined
  }
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const finished = (job) => job.status === "completed" || job.status === "failed";

export class Client {
  // server: "http://127.0.0.1:8080" (default: the page's own origin in a
  // browser); token: the API token (sent as the bearer header only).
  constructor({ server, token, fetch: f } = {}) {
    const origin = typeof location !== "undefined" ? location.origin : undefined;
    this.server = (server ?? origin ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    this.token = token;
    this.fetch = f ?? globalThis.fetch.bind(globalThis);
  }

  // One request; 'body' is sent as JSON unless it is bytes (then raw with
  // contentType). Returns the parsed answer.
  async request(method, path, { body, contentType, query } = {}) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let data;
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
      data = body;
      headers["Content-Type"] = contentType ?? "application/octet-stream";
    } else if (body !== undefined) {
      data = stringifyChecked(body);
      headers["Content-Type"] = "application/json";
    }
    const qs = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString() : "";
    let res;
    try {
      res = await this.fetch(this.server + path + (qs ? `?${qs}` : ""), { method, headers, body: data });
    } catch (e) {
      throw new SealrunError(0, "unreachable", `cannot reach ${this.server}: ${e.message}`);
    }
    const text = await res.text();
    let value = null;
    if (text.trim()) value = parseStrict(text, `the answer of ${method} ${path}`);
    if (!res.ok) {
      const err = value && value.error ? value.error : {};
      const ra = res.headers.get("Retry-After");
      throw new SealrunError(res.status, err.code ?? "http_error", err.message ?? `${method} ${path}: HTTP ${res.status}`, ra ? Number(ra) : undefined);
    }
    return value;
  }

  // ---- jobs ----

  // Runs a job and waits for it (POST /execute): the job object.
  execute(job) {
    return this.request("POST", "/execute", { body: { ...job, async: false } });
  }

  // Queues a job (async): {job_id, status: "queued"}.
  submit(job) {
    return this.request("POST", "/execute", { body: { ...job, async: true } });
  }

  getJob(id) {
    return this.request("GET", `/jobs/${encodeURIComponent(id)}`);
  }

  // Polls GET /jobs/{id} until the job finished, with exponential backoff
  // (initialMs doubling up to maxMs); throws SealrunError "timeout" after
  // timeoutMs. A 429 waits its Retry-After.
  async wait(id, { timeoutMs = 150000, initialMs = 50, maxMs = 2000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    let delay = initialMs;
    for (;;) {
      try {
        const job = await this.getJob(id);
        if (finished(job)) return job;
      } catch (e) {
        if (!(e instanceof SealrunError) || e.status !== 429) throw e;
        delay = Math.max(delay, (e.retryAfter ?? 1) * 1000);
      }
      if (Date.now() + delay > deadline)
        throw new SealrunError(0, "timeout", `job '${id}' did not finish within ${timeoutMs} ms`);
      await sleep(delay);
      delay = Math.min(delay * 2, maxMs);
    }
  }

  // Submits and waits: the finished job object.
  async run(job, waitOpts) {
    const q = await this.submit(job);
    return this.wait(q.job_id, waitOpts);
  }

  // GET /jobs: {jobs, next}; filters {status, runtime, since, until, limit, before}.
  listJobs(filters = {}) {
    return this.request("GET", "/jobs", { query: filters });
  }

  // Cancels a queued or running async job (POST /jobs/{id}/cancel): the job
  // object, failed with CANCELLED (on a cluster it may still say running for
  // a moment). A job that has ended is a SealrunError 409.
  cancel(id) {
    return this.request("POST", `/jobs/${encodeURIComponent(id)}/cancel`, { body: {} });
  }

  // The completion webhook of a job and its attempts (GET /jobs/{id}/deliveries):
  // {job_id, state: "none"|"pending"|"delivered"|"failed", attempts}.
  deliveries(id) {
    return this.request("GET", `/jobs/${encodeURIComponent(id)}/deliveries`);
  }

  // ---- verification ----

  attestation() {
    return this.request("GET", "/attestation");
  }

  info() {
    return this.request("GET", "/info");
  }

  // Checks a job's receipt against this server's GET /attestation (the
  // worker key is pinned to it); opts as verifyJob's (code, input).
  async verify(job, opts = {}) {
    const attestation = opts.attestation ?? (await this.attestation());
    return verifyJob(job, { ...opts, attestation });
  }

  decryptOutput(job, secretKeyB64) {
    return decryptOutput(job, secretKeyB64);
  }

  // ---- statistics ----

  // GET /stats: {since, until, step_s, totals, bins}.
  stats({ since, until, step } = {}) {
    return this.request("GET", "/stats", { query: { since, until, step } });
  }

  // ---- secrets ----

  async secretsPublicKey() {
    return (await this.request("GET", "/secrets/pubkey")).public_key;
  }

  // Creates or rotates a secret; the value is sealed here to the owner's
  // key and never sent in clear. {name, version}.
  async setSecret(name, value) {
    const sealed = await sealValue(value, await this.secretsPublicKey());
    return this.request("PUT", `/secrets/${encodeURIComponent(name)}`, { body: { sealed } });
  }

  listSecrets() {
    return this.request("GET", "/secrets");
  }

  deleteSecret(name) {
    return this.request("DELETE", `/secrets/${encodeURIComponent(name)}`);
  }

  setSecretPolicy(name, policy) {
    return this.request("PUT", `/secrets/${encodeURIComponent(name)}/policy`, { body: policy });
  }

  secretAudit(name, { limit, before } = {}) {
    return this.request("GET", `/secrets/${encodeURIComponent(name)}/audit`, { query: { limit, before } });
  }

  // ---- storage ----

  // GET /storage: {namespaces: [{namespace, version, key_count, bytes}], ...quotas}.
  listNamespaces() {
    return this.request("GET", "/storage");
  }

  listStorage(ns, { prefix, after, limit } = {}) {
    return this.request("GET", `/storage/${encodeURIComponent(ns)}`, { query: { prefix, after, limit } });
  }

  getStorage(ns, key) {
    return this.request("GET", `/storage/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`);
  }

  putStorage(ns, key, bytes) {
    const body = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    return this.request("PUT", `/storage/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`, { body, contentType: "application/octet-stream" });
  }

  deleteStorage(ns, key) {
    return this.request("DELETE", `/storage/${encodeURIComponent(ns)}/${encodeURIComponent(key)}`);
  }

  // ---- modules ----

  listModules({ limit, before } = {}) {
    return this.request("GET", "/modules", { query: { limit, before } });
  }

  uploadModule(bytes) {
    return this.request("POST", "/modules", { body: bytes, contentType: "application/wasm" });
  }

  getModule(hash) {
    return this.request("GET", `/modules/${encodeURIComponent(hash)}`);
  }

  deleteModule(hash) {
    return this.request("DELETE", `/modules/${encodeURIComponent(hash)}`);
  }
}
