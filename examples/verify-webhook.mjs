#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// verify-webhook.mjs - checks a sealrund completion webhook (docs/accounts.md,
// "Webhooks") with nothing but the worker's public key and node's standard
// library.
//
//   node examples/verify-webhook.mjs BODY_FILE SIGNATURE_HEX --worker-key HEX
//   node examples/verify-webhook.mjs --listen PORT --worker-key HEX
//
// The first form checks one saved delivery: the exact body bytes and the
// value of its Sealrun-Signature header. The second runs a receiver on
// 127.0.0.1:PORT that prints each delivery's job id, status and whether its
// signature verifies, and answers 204 only to deliveries that verify.
//
// The signature is Ed25519 by the worker key over the bytes
//   "sealrun.webhook.v1" 0x00 BODY
// where BODY is the request body exactly as received (the job object, as
// GET /jobs/{id} answers it). Pin the key: take it from GET /attestation
// ("worker_public_key") of the server you trust, not from the request's
// Sealrun-Worker-Key header, which only says which key signed.

import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

const DOMAIN = "sealrun.webhook.v1";
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const isLowerHex = (s, len) => typeof s === "string" && s.length === len && /^[0-9a-f]*$/.test(s);

// true when sigHex is the worker key pkHex's signature of body (a Buffer).
export function verifyWebhook(body, sigHex, pkHex) {
  if (!isLowerHex(sigHex, 128) || !isLowerHex(pkHex, 64)) return false;
  const key = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(pkHex, "hex")]),
    format: "der",
    type: "spki",
  });
  const msg = Buffer.concat([Buffer.from(DOMAIN, "utf8"), Buffer.from([0]), body]);
  return verify(null, msg, key, Buffer.from(sigHex, "hex"));
}

function usage() {
  console.error("usage: verify-webhook.mjs BODY_FILE SIGNATURE_HEX --worker-key HEX\n" +
                "       verify-webhook.mjs --listen PORT --worker-key HEX");
  process.exit(2);
}

function main(argv) {
  let key = null, listen = null;
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--worker-key") key = argv[++i];
    else if (argv[i] === "--listen") listen = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (!isLowerHex(key, 64)) usage();
  if (listen !== null) {
    if (!Number.isInteger(listen) || listen < 1 || listen > 65535 || pos.length) usage();
    createServer((req, res) => {
      const chunks = [];
      let size = 0;
      req.on("data", (c) => {
        size += c.length;
        if (size > 16 * 1024 * 1024) req.destroy(); // sealrund sends at most 1 MiB
        else chunks.push(c);
      });
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const good = verifyWebhook(body, req.headers["sealrun-signature"], key);
        let job = {};
        try { job = JSON.parse(body.toString("utf8")); } catch { /* reported below */ }
        console.log(`${good ? "ok" : "FAIL"} job ${job.job_id} ${job.status} ` +
                    `(delivery ${req.headers["sealrun-delivery"]})`);
        res.writeHead(good ? 204 : 400).end();
      });
    }).listen(listen, "127.0.0.1");
    return;
  }
  if (pos.length !== 2) usage();
  const good = verifyWebhook(readFileSync(pos[0]), pos[1], key);
  console.log(good ? `ok signature (Ed25519) by the pinned worker key ${key}`
                   : "FAIL signature does not verify");
  process.exit(good ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
