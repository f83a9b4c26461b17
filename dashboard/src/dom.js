// SPDX-License-Identifier: MIT
//
// dom.js - building the page without a framework and without innerHTML:
// every text a server or a guest produced goes in as a text node, so no
// output, log line or error message can become markup.

// h("div", {class: "x", onclick: f}, child, ...): children are nodes,
// strings (text nodes) or arrays of them; null and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A <pre> of a JSON value, pretty-printed.
export const pre = (v, attrs = {}) => h("pre", { class: "json", ...attrs }, v === undefined ? "" : JSON.stringify(v, null, 2));

// "2026-11-21T10:00:00.123Z" -> local time text.
export function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

export const short = (id, n = 12) => (id && id.length > n ? id.slice(0, n) + "…" : id ?? "");

// An error line for a page (SealrunError or any Error).
export const errorBox = (e, id) => h("div", { class: "error", role: "alert", id: id ?? null }, e && e.message ? e.message : String(e));

export function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", {}, hint) : null);
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}
