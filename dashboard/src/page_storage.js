// SPDX-License-Identifier: MIT
//
// page_storage.js - Storage: the caller's key-value namespaces, the ones
// jobs read and write (docs/storage.md): a namespace's keys (by prefix, page
// by page), one key's value (as text when it is UTF-8, else hex) and
// version, writing and deleting a key; the caller's namespaces (GET
// /storage) with their versions, key counts and sizes, and the owner quota.

import { fromBase64, toHex } from "../../clients/js/src/index.js";
import { h, clear, field, errorBox, table } from "./dom.js";
import { go } from "./app.js";

const link = (ns, extra = {}) => {
  const q = new URLSearchParams({ ns, ...extra });
  return `#/storage?${q}`;
};

function namespacesView(all, current) {
  const rows = all.namespaces.map((n) => h("tr", { "data-namespace": n.namespace, class: n.namespace === current ? "active" : null },
    h("td", {}, h("a", { href: link(n.namespace), class: "mono" }, n.namespace)),
    h("td", { class: "num" }, n.version), h("td", { class: "num" }, n.key_count), h("td", { class: "num" }, n.bytes)));
  return h("section", { class: "card", id: "storage-namespaces" }, h("h2", {}, "Namespaces"),
    h("p", { class: "muted" }, `${all.namespace_count} of ${all.max_namespaces} namespaces, ${all.bytes} of ${all.max_bytes} bytes.`),
    rows.length ? table(["Namespace", "Version", "Keys", "Bytes"], rows) : h("p", {}, "None yet: a job's or your first write creates one."));
}

function valueView(v) {
  const bytes = fromBase64(v.value, "value");
  let text = null;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = null;
  }
  return h("section", { class: "card", id: "storage-value" }, h("h2", {}, `${v.namespace} / ${v.key}`),
    h("p", {}, `${v.size} bytes, written at namespace version ${v.version}`),
    text !== null ? h("pre", { id: "storage-value-text" }, text) : h("pre", { class: "mono" }, toHex(bytes)));
}

function writeForm(client, ns, msg) {
  const key = h("input", { id: "storage-key", required: true, class: "mono" });
  const value = h("textarea", { id: "storage-new-value", rows: 3 });
  const form = h("form", { class: "card", id: "storage-form" }, h("h2", {}, "Write a key"),
    h("div", { class: "row" }, field("Key", key), field("Value (text)", value)), h("button", { type: "submit", id: "storage-put" }, "Write"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      await client.putStorage(ns, key.value, value.value);
      go(link(ns, { key: key.value }));
    } catch (e) {
      msg.append(errorBox(e, "storage-error"));
    }
  });
  return form;
}

export async function storagePage(client, params) {
  const ns = params.get("ns") || "default";
  const msg = h("div", {});
  const all = await client.listNamespaces();
  const known = [...new Set(["default", ...all.namespaces.map((n) => n.namespace)])].sort();
  const choose = h("input", { id: "storage-ns", value: ns, list: "storage-ns-list", class: "mono" });
  const prefix = h("input", { id: "storage-prefix", value: params.get("prefix") ?? "", class: "mono" });
  const form = h("form", { class: "filters" }, field("Namespace", choose), field("Key prefix", prefix), h("button", { type: "submit", id: "storage-open" }, "Open"),
    h("datalist", { id: "storage-ns-list" }, known.map((n) => h("option", { value: n }))));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); go(link(choose.value.trim() || "default", prefix.value ? { prefix: prefix.value } : {})); });
  const page = await client.listStorage(ns, { prefix: params.get("prefix") || undefined, after: params.get("after") || undefined, limit: 50 });
  const rows = page.keys.map((k) => {
    const del = h("button", { type: "button", class: "danger" }, "Delete");
    del.addEventListener("click", async () => {
      try {
        await client.deleteStorage(ns, k.key);
        go(link(ns));
      } catch (e) {
        msg.append(errorBox(e));
      }
    });
    return h("tr", { "data-key": k.key }, h("td", {}, h("a", { href: link(ns, { key: k.key }), class: "mono" }, k.key)),
      h("td", { class: "num" }, k.size), h("td", { class: "num" }, k.version), h("td", {}, del));
  });
  const view = h("div", {}, h("h1", {}, "Storage"), namespacesView(all, ns), form, msg,
    h("p", { id: "storage-summary" }, `Namespace ${page.namespace}: version ${page.version}, ${page.key_count} keys, ${page.bytes} bytes.`),
    rows.length ? table(["Key", "Size", "Version", ""], rows, { id: "storage-table" }) : h("p", {}, "No keys."),
    h("div", { class: "pager" }, page.next ? h("a", { href: link(ns, { after: page.next }), id: "storage-more" }, "More »") : null));
  const key = params.get("key");
  if (key) {
    try {
      view.append(valueView(await client.getStorage(ns, key)));
    } catch (e) {
      view.append(errorBox(e));
    }
  }
  view.append(writeForm(client, ns, msg));
  return view;
}
