// SPDX-License-Identifier: MIT
//
// app.js - the dashboard shell (docs/dashboard.md): sign-in with an API
// token kept in this tab's sessionStorage (never a cookie, never
// localStorage: it goes when the tab closes) and sent only as the bearer
// header; the navigation; and the pages, chosen by the location's hash
// (#/jobs, #/jobs/ID, #/playground, #/secrets, #/storage, #/modules, #/stats).

import { Client, SealrunError } from "../../clients/js/src/index.js";
import { h, clear, errorBox, field } from "./dom.js";
import { jobsPage, jobPage } from "./page_jobs.js";
import { playgroundPage } from "./page_playground.js";
import { secretsPage } from "./page_secrets.js";
import { storagePage } from "./page_storage.js";
import { modulesPage } from "./page_modules.js";
import { statsPage } from "./page_stats.js";

const TOKEN_KEY = "sealrun.token";

const pages = [
  ["jobs", "Jobs", jobsPage],
  ["playground", "Playground", playgroundPage],
  ["secrets", "Secrets", secretsPage],
  ["storage", "Storage", storagePage],
  ["modules", "Modules", modulesPage],
  ["stats", "Stats", statsPage],
];

// The current route: {page, arg, params} from "#/jobs/ID?status=failed".
export function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, qs] = hash.split("?");
  const [page, ...rest] = path.split("/");
  return { page: page || "jobs", arg: rest.length ? decodeURIComponent(rest.join("/")) : null, params: new URLSearchParams(qs ?? "") };
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function signIn(root) {
  const token = h("input", { type: "password", id: "token", autocomplete: "off", placeholder: "API token", required: true });
  const msg = h("div", {});
  const form = h("form", { class: "card signin", id: "signin" },
    h("h1", {}, "sealrun"),
    h("p", {}, "Sign in with an API token (", h("code", {}, "sealrun token create"), "). It is kept in this tab only and sent as the bearer header."),
    field("Token", token), msg,
    h("button", { type: "submit", id: "signin-submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(msg);
    const client = new Client({ token: token.value.trim() });
    try {
      await client.listJobs({ limit: 1 }); // proves the token
      sessionStorage.setItem(TOKEN_KEY, token.value.trim());
      go(location.hash && !location.hash.startsWith("#/signin") ? location.hash : "#/jobs");
      render();
    } catch (e) {
      msg.append(errorBox(e instanceof SealrunError && e.status === 401 ? new Error(`sign-in failed: ${e.message}`) : e, "signin-error"));
    }
  });
  clear(root).append(form);
  token.focus();
}

function nav(current, client) {
  const out = h("button", { type: "button", id: "signout", class: "link" }, "Sign out");
  out.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    client.token = undefined;
    render();
  });
  return h("nav", {}, h("a", { href: "#/jobs", class: "brand" }, "sealrun"),
    pages.map(([id, label]) => h("a", { href: `#/${id}`, id: `nav-${id}`, class: id === current ? "active" : null }, label)),
    h("span", { class: "spacer" }), out);
}

let generation = 0;

export async function render() {
  const root = document.getElementById("app");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return signIn(root);
  const client = new Client({ token });
  const r = route();
  const entry = pages.find(([id]) => id === r.page);
  const main = h("main", { id: `page-${r.page}${r.page === "jobs" && r.arg ? "-one" : ""}` });
  clear(root).append(nav(r.page, client), main);
  const mine = ++generation;
  try {
    let view;
    if (r.page === "jobs" && r.arg) view = await jobPage(client, r.arg);
    else if (entry) view = await entry[2](client, r.params);
    else view = errorBox(new Error(`no page '${r.page}'`));
    if (mine === generation) main.append(view);
  } catch (e) {
    if (e instanceof SealrunError && e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      return signIn(root);
    }
    if (mine === generation) main.append(errorBox(e, "page-error"));
  }
}

window.addEventListener("hashchange", render);
render();
