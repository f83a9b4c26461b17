// SPDX-License-Identifier: MIT
//
// receipt_view.js - a job's receipt checked in the browser, one line per
// check with a clear pass or fail: the Ed25519 signature over
// "sealrun.receipt.v1" 0x00 JCS(receipt) with the worker key of GET
// /attestation, the worker key and measurement against that document, the
// output hash recomputed from the canonical output (RFC 8785), the logs and
// sealed-output hashes, and, when the page knows them, the code and input.

import { verifyJob, verified } from "../../clients/js/src/index.js";
import { h, pre } from "./dom.js";

const MARK = { ok: "✔", fail: "✘", skip: "–" };
const WORD = { ok: "pass", fail: "FAIL", skip: "skip" };

let attestation = null; // the server's document, fetched once per page load

export async function receiptView(client, job, known = {}) {
  if (!job.receipt) return h("section", { class: "card", id: "receipt" }, h("h2", {}, "Receipt"), h("p", {}, `No receipt yet (the job is ${job.status}).`));
  let att = attestation;
  let attError = null;
  if (!att) {
    try {
      att = attestation = await client.attestation();
    } catch (e) {
      attError = e;
    }
  }
  const checks = verifyJob(job, { attestation: att ?? undefined, ...known });
  if (attError) checks.push({ id: "attestation", res: "fail", line: `GET /attestation failed: ${attError.message}` });
  const good = verified(checks);
  return h("section", { class: "card", id: "receipt" },
    h("h2", {}, "Receipt"),
    h("div", { id: "receipt-status", class: `verdict ${good ? "pass" : "fail"}`, "data-result": good ? "pass" : "fail" },
      good ? "Receipt verified in this browser" : "Receipt verification FAILED"),
    h("ul", { class: "checks", id: "receipt-checks" },
      checks.map((c) => h("li", { class: c.res, "data-check": c.id, "data-res": c.res },
        h("span", { class: "mark", title: WORD[c.res] }, MARK[c.res]), h("b", {}, WORD[c.res]), " ", c.line))),
    h("details", {}, h("summary", {}, "Receipt and signature"), pre(job.receipt, { id: "receipt-json" }),
      h("code", { class: "sig" }, job.receipt_signature)));
}
