// SPDX-License-Identifier: MIT
//
// memory.js - what this tab remembers of the jobs it ran from the
// playground (script or module hash, entry point, input), so a job's page
// can show the input and check the code and input hashes of its receipt:
// the server keeps neither. sessionStorage, at most 50 jobs.

const KEY = "sealrun.jobs";
const MAX = 50;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? "[]");
  } catch {
    return [];
  }
}

export function rememberJob(id, what) {
  const list = load().filter((e) => e.id !== id);
  list.unshift({ id, ...what });
  try {
    sessionStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    // storage full: the job page then shows the hashes only
  }
}

export function rememberedJob(id) {
  const e = load().find((x) => x.id === id);
  if (!e) return {};
  const out = {};
  if (typeof e.code === "string") out.code = e.code;
  if ("input" in e) out.input = e.input;
  return out;
}
