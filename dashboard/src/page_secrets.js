// SPDX-License-Identifier: MIT
//
// page_secrets.js - Secrets: the caller's secrets (never values), create
// and rotate with the value sealed in this page to the key of GET
// /secrets/pubkey (libsodium crypto_box_seal: the value never leaves the
// page in clear), delete, the policy editor, and each secret's audit page
// by page.

import { parseStrict } from "../../clients/js/src/index.js";
import { h, clear, field, errorBox, when, table } from "./dom.js";
import { go } from "./app.js";

function setForm(client, msg) {
  const name = h("input", { id: "secret-name", placeholder: "API_KEY", class: "mono", required: true, pattern: "[A-Za-z0-9_]{1,128}" });
  const value = h("input", { id: "secret-value", type: "password", autocomplete: "off", required: true });
  const form = h("form", { class: "card", id: "secret-form" }, h("h2", {}, "Create or rotate"),
    h("p", { class: "muted" }, "The value is sealed in this page to your key (GET /secrets/pubkey) and sent only as a sealed box."),
    h("div", { class: "row" }, field("Name", name), field("Value", value)),
    h("button", { type: "submit", id: "secret-save" }, "Seal and store"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      const r = await client.setSecret(name.value.trim(), value.value); // sealed in Client.setSecret
      value.value = "";
      go(`#/secrets?saved=${encodeURIComponent(r.name)}&version=${r.version}`);
    } catch (e) {
      msg.append(errorBox(e, "secret-error"));
    }
  });
  return form;
}

function policyEditor(client, s, msg) {
  const text = h("textarea", { rows: 6, class: "code", id: "policy-text", value: JSON.stringify(parseStrict(JSON.stringify(s.policy)), null, 2) });
  const save = h("button", { type: "button", id: "policy-save" }, "Save policy");
  save.addEventListener("click", async () => {
    clear(msg);
    try {
      await client.setSecretPolicy(s.name, parseStrict(text.value, "policy"));
      go(`#/secrets?name=${encodeURIComponent(s.name)}&policy=saved`);
    } catch (e) {
      msg.append(errorBox(e, "policy-error"));
    }
  });
  return h("section", { class: "card", id: "policy" }, h("h2", {}, `Policy of ${s.name}`),
    h("p", { class: "muted" }, "runtimes, code_hashes, entry_points, condition, expires_at (docs/secrets.md); {} is the owner only."), text, save);
}

async function auditView(client, name, before) {
  const page = await client.secretAudit(name, { limit: 20, before: before || undefined });
  const rows = page.audit.map((a) => h("tr", {}, h("td", {}, when(a.time)), h("td", {}, a.user), h("td", {}, a.outcome),
    h("td", {}, a.version ?? ""), h("td", { class: "mono" }, a.job_id ?? ""), h("td", {}, a.reason ?? ""), h("td", { class: "num" }, a.count ?? 1)));
  return h("section", { class: "card", id: "audit" }, h("h2", {}, `Audit of ${name}`),
    rows.length ? table(["Time", "User", "Outcome", "Version", "Job", "Reason", "Count"], rows) : h("p", {}, "No audit records."),
    h("div", { class: "pager" },
      before ? h("a", { href: `#/secrets?name=${encodeURIComponent(name)}` }, "« Newest") : null,
      page.next ? h("a", { href: `#/secrets?name=${encodeURIComponent(name)}&before=${page.next}`, id: "audit-older" }, "Older »") : null));
}

export async function secretsPage(client, params) {
  const msg = h("div", {});
  const list = await client.listSecrets();
  const open = params.get("name");
  const rows = list.secrets.map((s) => {
    const rotate = h("button", { type: "button", class: "secondary", "data-rotate": s.name }, "Rotate");
    rotate.addEventListener("click", () => {
      const f = document.getElementById("secret-name");
      f.value = s.name;
      document.getElementById("secret-value").focus();
    });
    const del = h("button", { type: "button", class: "danger", "data-delete": s.name }, "Delete");
    del.addEventListener("click", async () => {
      if (!confirm(`Delete the secret ${s.name}? Jobs that reference it will fail.`)) return;
      try {
        await client.deleteSecret(s.name);
        go("#/secrets");
      } catch (e) {
        msg.append(errorBox(e));
      }
    });
    return h("tr", { "data-secret": s.name },
      h("td", {}, h("a", { href: `#/secrets?name=${encodeURIComponent(s.name)}`, class: "mono" }, s.name)),
      h("td", { class: "num", "data-version": s.version }, s.version), h("td", {}, when(s.updated_at)),
      h("td", { class: "mono small" }, JSON.stringify(s.policy)), h("td", {}, rotate, " ", del));
  });
  const view = h("div", {}, h("h1", {}, "Secrets"), msg);
  if (params.get("saved")) view.append(h("p", { class: "ok", id: "secret-saved" }, `Stored ${params.get("saved")}, version ${params.get("version")} (sealed in this page).`));
  if (params.get("policy")) view.append(h("p", { class: "ok", id: "policy-saved" }, `Saved the policy of ${open}.`));
  view.append(setForm(client, msg),
    rows.length ? table(["Name", "Version", "Updated", "Policy", ""], rows, { id: "secrets-table" }) : h("p", { id: "secrets-empty" }, "No secrets yet."));
  const s = list.secrets.find((x) => x.name === open);
  if (s) view.append(policyEditor(client, s, msg), await auditView(client, s.name, params.get("before")));
  return view;
}

