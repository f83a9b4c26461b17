// SPDX-License-Identifier: MIT
//
// client.test.mjs - the JavaScript client against a real sealrund (node's
// test runner): sync and async jobs, waiting with backoff, listing with
// filters, a secret sealed on the client and used by a job, an output
// sealed to a key made here and opened here, receipts and output hashes
// verified (also for values whose canonical form is awkward), tampering
// caught check by check, and answers refused the way sealrun refuses them
// (a key twice, a number RFC 8785 cannot hash exactly).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, SealrunError, parseStrict, jcs, verifyJob, verified, newKeyPair, outputHash, sha256Hex } from "../src/index.js";
import { startDaemon } from "./daemon.mjs";

let d;
let client;

// A fetch that records what was sent (to prove a secret left sealed).
function recordingFetch(log) {
  return async (url, init = {}) => {
    log.push({ url: String(url), method: init.method, body: init.body === undefined ? null : String(init.body) });
    return fetch(url, init);
  };
}

before(async () => {
  d = await startDaemon();
  client = new Client({ server: d.url, token: d.token("alice") });
});

after(async () => {
  const code = await d.stop();
  assert.equal(code, 0, `sealrund exited with ${code}: ${d.log().slice(-3000)}`);
});

const checkOf = (checks, id) => checks.find((c) => c.id === id);

test("a sync job verifies: signature by the server's worker key, output hash, every field", async () => {
  const job = await client.execute({ script: "function main(input) { return {twice: input.n * 2}; }", input: { n: 21 } });
  assert.equal(job.status, "completed");
  assert.deepEqual(job.output, { twice: 42 });
  const checks = await client.verify(job, { code: "function main(input) { return {twice: input.n * 2}; }", input: { n: 21 } });
  assert.ok(verified(checks), JSON.stringify(checks, null, 1));
  for (const id of ["signature", "worker_key", "measurement", "output_hash", "logs_hash", "code_hash", "input_hash", "job_id", "runtime", "status"])
    assert.equal(checkOf(checks, id).res, "ok", id);
  assert.equal(outputHash(job.output), job.output_hash);
});

test("an async job is waited for with backoff", async () => {
  const log = [];
  const c = new Client({ server: d.url, token: client.token, fetch: recordingFetch(log) });
  const q = await c.submit({ script: "function main() { let s = 0; for (let i = 0; i < 3e6; i++) s += i; return s; }" });
  assert.equal(q.status, "queued");
  const t0 = Date.now();
  const job = await c.wait(q.job_id, { initialMs: 20, maxMs: 200 });
  assert.equal(job.status, "completed");
  assert.deepEqual(job.output, { result: 4499998500000 });
  const polls = log.filter((e) => e.method === "GET" && e.url.includes(`/jobs/${q.job_id}`));
  assert.ok(polls.length >= 1);
  assert.ok(polls.length <= 4 + Math.ceil((Date.now() - t0) / 200), `${polls.length} polls`);
  const run = await c.run({ script: "function main() { return 7; }" });
  assert.deepEqual(run.output, { result: 7 });
});

test("an async job is cancelled; its deliveries say it has no webhook", async () => {
  const q = await client.submit({ script: "function main() { for (;;) {} }", timeout: 60 });
  let job;
  for (const deadline = Date.now() + 30000; ;) { // 429: between the queue and its run
    try { job = await client.cancel(q.job_id); break; } catch (e) {
      if (!(e instanceof SealrunError) || e.status !== 429 || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (job.status !== "failed") job = await client.wait(q.job_id);
  assert.equal(job.error.code, "CANCELLED");
  assert.ok(verified(await client.verify(job)));
  await assert.rejects(client.cancel(q.job_id), (e) => e.status === 409 && /has already ended: it is failed/.test(e.message));
  const dl = await client.deliveries(q.job_id);
  assert.deepEqual(dl, { job_id: q.job_id, state: "none", attempts: [] });
  await assert.rejects(client.deliveries("0".repeat(32)), (e) => e.status === 404);
});

test("listing with filters and pages", async () => {
  const failed = await client.execute({ script: "function main() { throw new Error('boom'); }" });
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "EXECUTION_ERROR");
  assert.ok(verified(await client.verify(failed)));
  const page = await client.listJobs({ status: "failed" });
  assert.ok(page.jobs.length >= 1);
  assert.ok(page.jobs.every((j) => j.status === "failed"));
  const one = await client.listJobs({ limit: 1 });
  assert.equal(one.jobs.length, 1);
  assert.equal(typeof one.next, "string");
  const next = await client.listJobs({ limit: 1, before: one.next });
  assert.notEqual(next.jobs[0].job_id, one.jobs[0].job_id);
  await assert.rejects(client.listJobs({ colour: "red" }), (e) => e instanceof SealrunError && e.status === 400 && /unknown query parameter 'colour'/.test(e.message));
});

test("a secret is sealed on the client, never sent in clear, and a job uses it", async () => {
  const log = [];
  const c = new Client({ server: d.url, token: client.token, fetch: recordingFetch(log) });
  const value = "sk_live_client_test_9f3a1c";
  const r = await c.setSecret("API_KEY", value);
  assert.equal(r.name, "API_KEY");
  assert.ok(r.version >= 1);
  const put = log.find((e) => e.method === "PUT");
  assert.ok(put.body.includes('"sealed"'));
  for (const e of log) assert.ok(!(e.body ?? "").includes(value) && !e.url.includes(value), "the value went out in clear");
  const r2 = await c.setSecret("API_KEY", value + "-v2");
  assert.equal(r2.version, r.version + 1);
  const list = await c.listSecrets();
  assert.equal(list.secrets.find((s) => s.name === "API_KEY").version, r2.version);
  const job = await c.execute({ script: "function main(i, s) { return {ok: s.API_KEY === 'sk_live_client_test_9f3a1c-v2', len: s.API_KEY.length}; }", secret_refs: ["API_KEY"] });
  assert.deepEqual(job.output, { ok: true, len: value.length + 3 });
  assert.deepEqual(job.receipt.secret_refs, [{ name: "API_KEY", owner: "alice", version: r2.version }]);
  const audit = await c.secretAudit("API_KEY", { limit: 5 });
  assert.ok(audit.audit.some((a) => a.job_id === job.job_id && a.outcome === "allowed"));
});

test("an output sealed to a key made here opens here and matches output_hash", async () => {
  const kp = await newKeyPair();
  const job = await client.execute({ script: "function main() { return {secret: 'only for me', n: 5}; }", output_pubkey: kp.publicKey });
  assert.equal(job.output, null);
  const opened = await client.decryptOutput(job, kp.secretKey);
  assert.deepEqual(opened.output, { secret: "only for me", n: 5 });
  assert.ok(opened.matches);
  const checks = await client.verify(job);
  assert.ok(verified(checks));
  assert.equal(checkOf(checks, "output_hash").res, "skip");
  assert.equal(checkOf(checks, "encrypted_output_hash").res, "ok");
  const other = await newKeyPair();
  await assert.rejects(client.decryptOutput(job, other.secretKey), /authentication failed/);
});

test("awkward values hash the same here as in sealrund (RFC 8785)", async () => {
  const script = `function main() { return {big: 1e21, tiny: 5e-324, neg0: -0, f: 0.1 + 0.2, e: 1e-7, max: 9007199254740991,
    s: "\\u2028\\u0000é😀", "é": 1, "\\ud83d\\ude00": 2, z: [null, true, {}], "": 0}; }`;
  const job = await client.execute({ script });
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  assert.equal(outputHash(job.output), job.output_hash);
  assert.ok(verified(await client.verify(job)));
});

test("tampering is caught, check by check", async () => {
  const job = await client.execute({ script: "function main() { console.log('x'); return {v: 1}; }" });
  const att = await client.attestation();
  const t1 = structuredClone(job);
  t1.output.v = 2;
  assert.equal(checkOf(verifyJob(t1, { attestation: att }), "output_hash").res, "fail");
  const t2 = structuredClone(job);
  t2.receipt.gas_used += 1;
  assert.equal(checkOf(verifyJob(t2, { attestation: att }), "signature").res, "fail");
  const t3 = structuredClone(job);
  t3.logs = ["y"];
  assert.equal(checkOf(verifyJob(t3, { attestation: att }), "logs_hash").res, "fail");
  const wrong = { ...att, worker_public_key: "00".repeat(32) };
  const c4 = verifyJob(job, { attestation: wrong });
  assert.equal(checkOf(c4, "worker_key").res, "fail");
  assert.equal(checkOf(c4, "signature").res, "fail");
  const t5 = structuredClone(job);
  t5.receipt_signature = t5.receipt_signature.toUpperCase();
  assert.equal(checkOf(verifyJob(t5, { attestation: att }), "signature").res, "fail");
  assert.ok(!verified(verifyJob(t1, { attestation: att })));
  assert.ok(verified(verifyJob(job, { attestation: att })));
});

test("answers with a key twice or an inexact number are refused, as sealrun refuses them", async () => {
  assert.throws(() => parseStrict('{"output": 1, "output": 2}', "job"), /job has the key "output" twice in one object \(the second at byte 14\)/);
  assert.throws(() => parseStrict('{"a": [1000000000000000001]}', "job"), /cannot hash exactly: '1000000000000000001' at byte 7 would be hashed as 1000000000000000000/);
  assert.throws(() => parseStrict("[1e400]", "job"), /beyond the largest IEEE 754 double/);
  assert.deepEqual(parseStrict('{"a": 1.5e3, "b": -0, "c": "\\u0061"}'), { a: 1500, b: -0, c: "a" });
  const job = await client.execute({ script: "function main() { return {v: 1}; }" });
  const text = JSON.stringify(job).replace('"output":', '"output":{"v":666},"output":');
  const fake = new Client({ server: d.url, token: client.token, fetch: async () => new Response(text, { status: 200 }) });
  await assert.rejects(fake.getJob(job.job_id), /has the key "output" twice/);
  const big = new Client({ server: d.url, token: client.token, fetch: async () => new Response('{"jobs": [], "n": 12345678901234567890}', { status: 200 }) });
  await assert.rejects(big.listJobs(), /cannot hash exactly/);
  // and sealrund refuses the same input
  await assert.rejects(client.request("POST", "/execute", { body: undefined }), SealrunError);
  const raw = await fetch(d.url + "/execute", { method: "POST", headers: { Authorization: `Bearer ${client.token}` }, body: '{"script": "function main(i) { return i; }", "input": 1000000000000000001}' });
  assert.equal(raw.status, 400);
  assert.equal(jcs({ b: 1, a: [2, "x"] }), '{"a":[2,"x"],"b":1}');
  assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("errors carry the status and the server's code", async () => {
  const bad = new Client({ server: d.url, token: "srt_not_a_token" });
  await assert.rejects(bad.listJobs(), (e) => e instanceof SealrunError && e.status === 401 && e.code === "unauthorized");
  await assert.rejects(client.getJob("0".repeat(32)), (e) => e.status === 404 && e.code === "not_found");
  await assert.rejects(client.execute({ script: "x", timeout: 0 }), (e) => e.status === 400 && /timeout/.test(e.message));
  const nowhere = new Client({ server: "http://127.0.0.1:1", token: "t" });
  await assert.rejects(nowhere.info(), (e) => e.status === 0 && e.code === "unreachable");
});

test("statistics", async () => {
  const s = await client.stats({ step: 60 });
  assert.ok(s.totals.completed >= 5, JSON.stringify(s.totals));
  assert.ok(s.totals.failed >= 1);
  assert.equal(s.step_s, 60);
});
