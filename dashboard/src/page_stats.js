// SPDX-License-Identifier: MIT
//
// page_stats.js - Stats: the caller's finished jobs over a window (GET
// /stats), as charts drawn with uPlot: jobs per bin by status and by
// runtime, run-time percentiles (p50, p90, p99), and gas (JavaScript: CPU
// µs; WebAssembly: fuel), with the totals and error codes.

import uPlot from "uplot";
import { h, table } from "./dom.js";
import { go } from "./app.js";

const WINDOWS = [["1h", 3600, 60], ["6h", 21600, 300], ["24h", 86400, 900]];

function chart(title, id, xs, series, width) {
  const box = h("div", { class: "chart", id });
  const opts = {
    title, width, height: 220,
    scales: { x: { time: true } },
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: false, points: { show: xs.length < 80 } }))],
    axes: [{}, { size: 60 }],
  };
  new uPlot(opts, [xs, ...series.map((s) => s[2])], box);
  return box;
}

export async function statsPage(client, params) {
  const chosen = WINDOWS.find((w) => w[0] === params.get("window")) ?? WINDOWS[0];
  const [, span, step] = chosen;
  const until = Math.ceil(Date.now() / (step * 1000)) * step * 1000;
  const st = await client.stats({ since: until - span * 1000, until, step });
  const bins = st.bins;
  const xs = bins.map((b) => Date.parse(b.start) / 1000);
  const col = (k) => bins.map((b) => b[k]);
  const us = (k) => bins.map((b) => (b[k] === null ? null : b[k] / 1000));
  const width = Math.max(320, Math.min(1000, (document.getElementById("app")?.clientWidth ?? 900) - 40));
  const t = st.totals;
  const errors = Object.entries(t.errors ?? {});
  const picker = h("div", { class: "pager", id: "stats-window" },
    WINDOWS.map(([label]) => h("a", { href: `#/stats?window=${label}`, class: label === chosen[0] ? "active" : null, onclick: (ev) => { ev.preventDefault(); go(`#/stats?window=${label}`); } }, `last ${label}`)));
  return h("div", {}, h("h1", {}, "Stats"), picker,
    h("section", { class: "card", id: "stats-totals" },
      h("p", {}, `${t.completed + t.failed} jobs finished from ${new Date(st.since).toLocaleString()} to ${new Date(st.until).toLocaleString()} (bins of ${st.step_s} s): `,
        h("b", { id: "stats-completed" }, t.completed), " completed, ", h("b", { id: "stats-failed" }, t.failed), " failed; ",
        h("b", { id: "stats-js" }, t.js), " JavaScript, ", h("b", { id: "stats-wasm" }, t.wasm), " WebAssembly."),
      h("p", {}, `Run time p50 ${fmt(t.p50_us)}, p90 ${fmt(t.p90_us)}, p99 ${fmt(t.p99_us)}, max ${fmt(t.max_us)}. Gas: ${t.gas_js} µs of JavaScript CPU, ${t.gas_wasm} WebAssembly fuel.`),
      errors.length ? table(["Error code", "Jobs"], errors.map(([c, n]) => h("tr", {}, h("td", {}, c), h("td", { class: "num" }, n))), { id: "stats-errors" }) : null),
    h("section", { class: "card charts" },
      chart(`Jobs per ${st.step_s} s by status`, "chart-status", xs, [["completed", "#15803d", col("completed")], ["failed", "#b91c1c", col("failed")]], width),
      chart(`Jobs per ${st.step_s} s by runtime`, "chart-runtime", xs, [["js", "#1d4ed8", col("js")], ["wasm", "#7c3aed", col("wasm")]], width),
      chart("Run time (ms)", "chart-latency", xs, [["p50", "#0f766e", us("p50_us")], ["p90", "#ca8a04", us("p90_us")], ["p99", "#b91c1c", us("p99_us")]], width),
      chart("Gas", "chart-gas", xs, [["js CPU µs", "#1d4ed8", col("gas_js")], ["wasm fuel", "#7c3aed", col("gas_wasm")]], width)));
}

function fmt(v) {
  if (v === null || v === undefined) return "n/a";
  return v >= 1000000 ? `${(v / 1000000).toFixed(2)} s` : v >= 1000 ? `${(v / 1000).toFixed(1)} ms` : `${v} µs`;
}
