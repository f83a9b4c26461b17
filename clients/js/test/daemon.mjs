// SPDX-License-Identifier: MIT
//
// daemon.mjs - starts a real sealrund on 127.0.0.1 (port 0) in a fresh data
// directory for the client tests, creates tokens with the real CLI, and
// stops it (SIGTERM, then SIGKILL) by its pid. SR_BIN_DIR names the build's
// bin directory (ctest sets it).

import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.SR_BIN_DIR;

// args: more sealrund options; dataDir: reuse a data directory (kept at
// stop) instead of a fresh one (removed at stop).
export async function startDaemon({ args: extra = [], dataDir: reuse } = {}) {
  if (!BIN) throw new Error("SR_BIN_DIR is not set (run through ctest)");
  const dataDir = reuse ?? mkdtempSync(join(tmpdir(), "sealrun-js-"));
  const proc = spawn(join(BIN, "sealrund"), ["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--dev", ...extra],
    { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sealrund did not start: ${log}`)), 60000);
    proc.stderr.on("data", (b) => {
      log += b.toString();
      const m = /listening on (http:\/\/[0-9.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => reject(new Error(`sealrund exited with ${code}: ${log}`)));
  });
  proc.stderr.on("data", (b) => { log = (log + b.toString()).slice(-20000); });
  const token = (user) => execFileSync(join(BIN, "sealrun"), ["token", "create", "--data-dir", dataDir, "--user", user],
    { encoding: "utf8" }).trim().split("\n").pop();
  const stop = async () => {
    if (proc.exitCode === null) {
      const done = new Promise((res) => proc.on("exit", res));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 30000);
      await done;
      clearTimeout(t);
    }
    if (!reuse) rmSync(dataDir, { recursive: true, force: true });
    return proc.exitCode;
  };
  return { url, token, stop, log: () => log, dataDir };
}
