// SPDX-License-Identifier: MIT
//
// page_modules.js - Modules: the caller's WebAssembly modules with what
// they count against the quota (GET /modules), upload (POST /modules),
// details (imports and exports) and delete (DELETE /modules/{hash}).

import { h, clear, field, errorBox, when, table, short } from "./dom.js";
import { go } from "./app.js";

export async function modulesPage(client, params) {
  const msg = h("div", {});
  const page = await client.listModules({ limit: 50, before: params.get("before") || undefined });
  const file = h("input", { type: "file", id: "module-file", accept: ".wasm,application/wasm", required: true });
  const form = h("form", { class: "card", id: "module-form" }, h("h2", {}, "Upload"), field("Module (.wasm)", file), h("button", { type: "submit", id: "module-upload" }, "Upload"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      const r = await client.uploadModule(new Uint8Array(await file.files[0].arrayBuffer()));
      go(`#/modules?hash=${r.hash}`);
    } catch (e) {
      msg.append(errorBox(e, "module-error"));
    }
  });
  const rows = page.modules.map((m) => {
    const del = h("button", { type: "button", class: "danger", "data-delete": m.hash }, "Delete");
    del.addEventListener("click", async () => {
      try {
        await client.deleteModule(m.hash);
        go("#/modules");
      } catch (e) {
        msg.append(errorBox(e));
      }
    });
    return h("tr", { "data-module": m.hash }, h("td", {}, h("a", { href: `#/modules?hash=${m.hash}`, class: "mono" }, short(m.hash, 20))),
      h("td", { class: "num" }, m.size), h("td", { class: "num" }, m.stored_bytes), h("td", {}, when(m.created_at)), h("td", {}, when(m.last_used_at)), h("td", {}, del));
  });
  const u = page.usage;
  const view = h("div", {}, h("h1", {}, "Modules"), msg,
    h("p", { id: "module-usage" }, `${u.modules} of ${u.quota_modules} modules, ${u.bytes} of ${u.quota_bytes} bytes.`),
    rows.length ? table(["Hash", "Size", "Stored", "Uploaded", "Last used", ""], rows, { id: "modules-table" }) : h("p", {}, "No modules."),
    h("div", { class: "pager" }, page.next ? h("a", { href: `#/modules?before=${page.next}` }, "Older »") : null), form);
  const hash = params.get("hash");
  if (hash) {
    try {
      const m = await client.getModule(hash);
      view.append(h("section", { class: "card", id: "module-details" }, h("h2", { class: "mono" }, m.hash),
        h("p", {}, `${m.size} bytes`),
        h("h3", {}, "Imports"), table(["Module", "Name", "Kind"], m.imports.map((i) => h("tr", {}, h("td", {}, i.module), h("td", {}, i.name), h("td", {}, i.kind)))),
        h("h3", {}, "Exports"), table(["Name", "Kind"], m.exports.map((x) => h("tr", {}, h("td", {}, x.name), h("td", {}, x.kind))))));
    } catch (e) {
      view.append(errorBox(e));
    }
  }
  return view;
}
