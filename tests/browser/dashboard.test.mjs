// SPDX-License-Identifier: MIT
//
// dashboard.test.mjs - the dashboard in a real browser (Debian's chromium,
// driven by playwright-core from the dashboard's lock file) against a real
// sealrund started here: sign in, run a job from the playground and see its
// receipt verify, open its page, cancel a running job from its page, create
// and rotate a secret sealed in the
// page (no request carries the value in clear) and use it in a job, filter
// the jobs, write storage, upload and delete a module, read the stats, and
// then, with a test build's --test-tamper, see a tampered receipt and a
// tampered output fail verification. Every page is screenshotted into
// build/<preset>/screenshots/. The page must load nothing from anywhere but
// sealrund and log no error (a Content-Security-Policy violation is one).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const WEB = process.env.SR_WEB_DIR;
const SHOTS = join(process.env.SR_BUILD_DIR ?? ".", "screenshots");
const GUEST = process.env.SR_WASM_GUEST;
const { chromium } = createRequire(join(WEB, "dashboard", "package.json"))("playwright-core");
const { startDaemon } = await import(pathToFileURL(join(WEB, "clients", "js", "test", "daemon.mjs")).href);
const { Client } = await import(pathToFileURL(join(WEB, "clients", "js", "src", "index.js")).href);

const SECRET = "sk_browser_test_7c1e5a";
const dataDir = mkdtempSync(join(tmpdir(), "sealrun-browser-"));
const profile = mkdtempSync(join(tmpdir(), "sealrun-chromium-"));
let d, ctx, page, token;
const problems = []; // console errors, page errors, requests to other origins
const sent = []; // every request's URL and body

// A fresh profile directory is chromium's --user-data-dir.
async function launch() {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

async function openPage() {
  page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    sent.push({ url: r.url(), body: r.postData() ?? "" });
    if (!r.url().startsWith(d.url + "/")) problems.push(`request outside sealrund: ${r.url()}`);
  });
}

async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function signIn() {
  await page.goto(d.url + "/");
  await page.waitForSelector("#signin");
  await page.fill("#token", token);
  await page.click("#signin-submit");
  await page.waitForSelector("#page-jobs");
}

async function go(hash, selector) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector(selector);
}

const checks = () => page.$$eval("#receipt-checks li", (ls) => Object.fromEntries(ls.map((l) => [l.dataset.check, l.dataset.res])));

async function runInPlayground(script, secrets = "") {
  await go("#/playground", "#pg-run");
  await page.fill("#pg-script", script);
  await page.fill("#pg-secrets", secrets);
  await page.click("#pg-run");
  await page.waitForSelector("#pg-result #receipt-status, #pg-error");
  assert.equal(await page.$("#pg-error"), null, await page.textContent("#pg-result"));
  return page.textContent("#pg-job-link");
}

let firstJob;

before(async () => {
  d = await startDaemon({ dataDir });
  token = d.token("alice");
  await launch();
  await openPage();
});

after(async () => {
  await ctx?.close();
  const code = await d?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
  assert.equal(code, 0, "sealrund did not exit cleanly");
});

test("sign-in refuses a wrong token and keeps the right one in the tab only", async () => {
  await page.goto(d.url + "/ui/");
  await page.waitForSelector("#signin");
  await shot("signin");
  await page.fill("#token", "srt_wrong");
  await page.click("#signin-submit");
  await page.waitForSelector("#signin-error");
  assert.match(await page.textContent("#signin-error"), /sign-in failed: invalid, revoked or expired token/);
  // the 401 of the wrong token is the one error this page is expected to log
  const i = problems.findIndex((p) => /status of 401/.test(p));
  assert.ok(i >= 0, "the wrong token's 401 was not seen");
  problems.splice(i, 1);
  await page.fill("#token", token);
  await page.click("#signin-submit");
  await page.waitForSelector("#page-jobs");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("sealrun.token")), token);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.deepEqual(await ctx.cookies(), []);
});

test("a job run from the playground verifies in the browser", async () => {
  firstJob = await runInPlayground("function main(input) { console.log('hi'); return {sum: input.numbers.reduce((a, b) => a + b, 0)}; }");
  assert.match(firstJob, /^[0-9a-f]{32}$/);
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "pass");
  const c = await checks();
  for (const id of ["signature", "worker_key", "measurement", "output_hash", "logs_hash", "code_hash", "input_hash"])
    assert.equal(c[id], "ok", id);
  assert.match(await page.textContent("#job-output"), /"sum": 6/);
  await shot("playground");
});

test("the job's page shows it and its receipt verifies", async () => {
  await go(`#/jobs/${firstJob}`, "#page-jobs-one #receipt-status");
  assert.equal(await page.textContent("#job-id"), firstJob);
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "pass");
  assert.equal(await page.textContent("#job-status"), "completed");
  assert.match(await page.textContent("#job-logs"), /hi/);
  assert.match(await page.textContent("#job-input"), /"numbers"/);
  assert.match(await page.textContent("#job-gas"), /µs CPU/);
  await page.fill("#check-input", '{"numbers": [1, 2, 3]}');
  await page.click("#check-input-run");
  assert.match(await page.textContent("#check-input-result"), /^pass/);
  await shot("job");
});

test("a secret is sealed in the page, rotated, given a policy, and used by a job", async () => {
  await go("#/secrets", "#secret-form");
  await page.fill("#secret-name", "API_KEY");
  await page.fill("#secret-value", SECRET);
  await page.click("#secret-save");
  await page.waitForSelector("#secret-saved");
  assert.match(await page.textContent("#secret-saved"), /Stored API_KEY, version 1/);
  await page.fill("#secret-name", "API_KEY");
  await page.fill("#secret-value", SECRET + "-2");
  await page.click("#secret-save");
  await page.waitForFunction(() => /version 2/.test(document.querySelector("#secret-saved")?.textContent ?? ""));
  assert.equal(await page.textContent('tr[data-secret="API_KEY"] td[data-version]'), "2");
  for (const r of sent) assert.ok(!r.body.includes(SECRET) && !r.url.includes(SECRET), `sent in clear: ${r.url}`);
  assert.ok(sent.some((r) => r.url.endsWith("/secrets/API_KEY") && r.body.includes('"sealed"')));

  await go("#/secrets?name=API_KEY", "#policy-text");
  await page.fill("#policy-text", '{"runtimes": ["js"]}');
  await page.click("#policy-save");
  await page.waitForSelector("#policy-saved");
  assert.match(await page.inputValue("#policy-text"), /"runtimes": \[\s*"js"\s*\]/);

  const job = await runInPlayground("function main(input, secrets) { return {ok: secrets.API_KEY === 'sk_browser_test_7c1e5a-2', n: secrets.API_KEY.length}; }", "API_KEY");
  assert.match(await page.textContent("#job-output"), /"ok": true/);
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "pass");
  assert.match(await page.textContent("#receipt-json"), /"name": "API_KEY"/);
  await go("#/secrets?name=API_KEY", "#audit");
  assert.match(await page.textContent("#audit"), new RegExp(job));
  assert.match(await page.textContent("#audit"), /allowed/);
  await shot("secrets");
});

test("jobs can be filtered", async () => {
  await runInPlayground("function main() { throw new Error('on purpose'); }");
  assert.equal(await page.textContent("#job-status"), "failed");
  assert.match(await page.textContent("#job-error"), /EXECUTION_ERROR: .*on purpose/);
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "pass");
  await go("#/jobs", "#jobs-table");
  assert.equal((await page.$$("#jobs-table tbody tr")).length, 3);
  await page.selectOption("#filter-status", "failed");
  await page.click("#filter-apply");
  await page.waitForFunction(() => location.hash.includes("status=failed") && document.querySelectorAll("#jobs-table tbody tr").length === 1);
  assert.equal(await page.textContent("#jobs-table tbody .badge"), "failed");
  await page.selectOption("#filter-status", "completed");
  await page.click("#filter-apply");
  await page.waitForFunction(() => location.hash.includes("status=completed") && document.querySelectorAll("#jobs-table tbody tr").length === 2);
  await shot("jobs");
});

test("storage: write a key, see its value and version", async () => {
  await go("#/storage", "#storage-form");
  await page.fill("#storage-key", "greeting");
  await page.fill("#storage-new-value", "hello, storage");
  await page.click("#storage-put");
  await page.waitForSelector("#storage-value-text");
  assert.equal(await page.textContent("#storage-value-text"), "hello, storage");
  assert.match(await page.textContent("#storage-summary"), /version 1, 1 keys/);
  assert.ok(await page.$('tr[data-key="greeting"]'));
  assert.ok(await page.$('#storage-namespaces tr[data-namespace="default"]'));
  await shot("storage");
});

test("modules: upload, details, delete", { skip: !GUEST }, async () => {
  await go("#/modules", "#module-form");
  await page.setInputFiles("#module-file", GUEST);
  await page.click("#module-upload");
  await page.waitForSelector("#module-details");
  assert.match(await page.textContent("#module-details"), /_start/);
  assert.match(await page.textContent("#module-usage"), /^1 of 256 modules/);
  await shot("modules");
  page.once("dialog", (dlg) => dlg.accept());
  await page.click("#modules-table button[data-delete]");
  await page.waitForFunction(() => /^0 of 256 modules/.test(document.querySelector("#module-usage")?.textContent ?? ""));
});

test("stats show the jobs as charts", async () => {
  await go("#/stats", "#stats-totals");
  assert.equal(await page.textContent("#stats-completed"), "2");
  assert.equal(await page.textContent("#stats-failed"), "1");
  assert.equal(await page.textContent("#stats-js"), "3");
  assert.equal((await page.$$(".chart canvas")).length, 4);
  await shot("stats");
});

// after the filters and stats, whose counts it would change
test("a running job is cancelled from its page", async () => {
  const c = new Client({ server: d.url, token });
  const q = await c.submit({ script: "function main() { for (;;) {} }", timeout: 60 });
  for (const deadline = Date.now() + 30000; (await c.getJob(q.job_id)).status !== "running";) {
    assert.ok(Date.now() < deadline, "the job did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  await go(`#/jobs/${q.job_id}`, "#page-jobs-one #job-cancel");
  assert.equal(await page.textContent("#job-status"), "running");
  await page.click("#job-cancel");
  await page.waitForFunction(() => document.querySelector("#job-status")?.textContent === "failed");
  assert.match(await page.textContent("#job-error"), /^CANCELLED: cancelled by its owner while it was running/);
  assert.equal(await page.$("#job-cancel"), null);
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "pass");
  await shot("job-cancelled");
});

test("nothing was loaded from elsewhere and nothing logged an error", () => {
  assert.deepEqual(problems, []);
});

test("the Content-Security-Policy is in force: no inline or foreign script", async () => {
  const r = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
    const inline = document.createElement("script");
    inline.textContent = "window.inlineRan = true;";
    document.body.append(inline);
    const data = document.createElement("script");
    data.src = "data:text/javascript,window.dataRan=true";
    document.body.append(data);
    await new Promise((res) => setTimeout(res, 300));
    return { inline: window.inlineRan === true, data: window.dataRan === true, violations };
  });
  assert.equal(r.inline, false);
  assert.equal(r.data, false);
  assert.ok(r.violations.length >= 2 && r.violations.every((v) => v.startsWith("script-src")), JSON.stringify(r.violations));
  problems.length = 0; // the refusals above are logged as errors, as they should be
});

async function restartWith(args) {
  await page.close();
  const code = await d.stop();
  assert.equal(code, 0);
  d = await startDaemon({ dataDir, args });
  await openPage();
  await signIn();
}

test("a tampered receipt fails verification (--test-tamper receipt)", async () => {
  await restartWith(["--test-tamper", "receipt"]);
  await go(`#/jobs/${firstJob}`, "#page-jobs-one #receipt-status");
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "fail");
  assert.match(await page.textContent("#receipt-status"), /FAILED/);
  const c = await checks();
  assert.equal(c.signature, "fail");
  assert.equal(c.output_hash, "ok");
  assert.equal(c.worker_key, "ok");
  await shot("tampered-receipt");
});

test("a tampered output fails verification (--test-tamper output)", async () => {
  await restartWith(["--test-tamper", "output"]);
  await go(`#/jobs/${firstJob}`, "#page-jobs-one #receipt-status");
  assert.equal(await page.getAttribute("#receipt-status", "data-result"), "fail");
  const c = await checks();
  assert.equal(c.output_hash, "fail");
  assert.equal(c.signature, "ok");
  assert.match(await page.textContent("#job-output"), /"tampered": true/);
  await shot("tampered-output");
});
