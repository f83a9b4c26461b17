// SPDX-License-Identifier: MIT
//
// build.mjs - bundles the dashboard into OUT_DIR (run by the CMake build in
// build/<preset>/web/dashboard, next to web/clients/js): src/app.js and
// everything it imports (the sealrun JavaScript client, its Ed25519
// verifier and libsodium, uPlot) into one app.js, src/style.css (with
// uPlot's) into app.css, and the static files. Nothing is fetched at run
// time: the page loads only these files from sealrund.
//
//   node build.mjs OUT_DIR

import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: node build.mjs OUT_DIR\n");
  process.exit(2);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, logLevel: "warning", legalComments: "eof" };
await build({
  ...common,
  entryPoints: [join(here, "src/app.js")],
  outfile: join(out, "app.js"),
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  // libsodium's build looks for node's modules only when it runs in node
  external: ["crypto", "fs", "path", "url", "module", "worker_threads"],
});
await build({ ...common, entryPoints: [join(here, "src/style.css")], outfile: join(out, "app.css") });
for (const f of ["index.html", "favicon.svg"]) copyFileSync(join(here, "src", f), join(out, f));
