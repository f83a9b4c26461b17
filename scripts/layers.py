#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# scripts/layers.py - the layer rule of docs/architecture.md, checked: a
# module of libsealrun (or a program) may include the public headers of its
# own floor and the floors below, never one above. This table is the one
# place the floors are written; docs/architecture.md shows it to readers.
# Prints each upward include and exits 1 if there is any.
import os
import re
import subprocess
import sys

FLOORS = [
    ["core"],
    ["crypto", "store", "wasm", "sandbox"],
    ["secret", "receipt", "storage", "http"],
    ["js", "keystore"],
    ["runner", "engine"],
    ["api", "cli", "worker"],
]

# The module each public header belongs to (include/sealrun/<header>).
HEADERS = {
    "sr_err.h": "core", "sr_buf.h": "core", "sr_util.h": "core", "sr_json.h": "core",
    "sr_log.h": "core", "sr_limits.h": "core", "sr_codes.h": "core", "sr_opts.h": "core",
    "sr_scope.h": "core",
    "sr_metrics.h": "core",
    "sr_crypto.h": "crypto", "sr_secp256k1.h": "crypto", "sr_vrf.h": "crypto",
    "sr_store.h": "store", "sr_wasm.h": "wasm",
    "sr_sandbox.h": "sandbox", "sr_native.h": "sandbox", "sr_secret.h": "secret",
    "sr_receipt.h": "receipt", "sr_attest.h": "receipt", "sr_storage.h": "storage",
    "sr_http.h": "http", "sr_js.h": "js",
    "sr_runner.h": "runner", "sr_engine.h": "engine", "sr_money.h": "engine",
    "sr_api.h": "api",
    "sr_worker.h": "worker",
    "sr_keystore.h": "keystore",
}


def floor_of(module):
    for i, mods in enumerate(FLOORS):
        if module in mods:
            return i
    return None


def module_of(path):
    parts = path.split("/")
    if parts[:2] == ["src", "lib"] and len(parts) > 3:
        return parts[2]
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ["include", "sealrun"] and len(parts) == 3:
        return HEADERS.get(parts[2])
    return None


def main():
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.abspath(__file__)),
                         check=True).stdout.strip()
    files = subprocess.run(["git", "ls-files", "src", "include/sealrun"], capture_output=True,
                           text=True, cwd=top, check=True).stdout.split()
    bad = []
    pattern = re.compile(r'^\s*#\s*include\s+"sealrun/([a-z_]+\.h)"', re.M)
    for path in files:
        if not path.endswith((".c", ".h")) or path.startswith("include/sealrun/guest/"):
            continue
        mod = module_of(path)
        if mod is None:
            bad.append(f"{path}: not in any module of the layer table (scripts/layers.py)")
            continue
        f = floor_of(mod)
        if f is None:
            bad.append(f"{path}: module '{mod}' has no floor in scripts/layers.py")
            continue
        with open(os.path.join(top, path), encoding="utf-8") as fh:
            text = fh.read()
        for hdr in pattern.findall(text):
            hmod = HEADERS.get(hdr)
            if hmod is None:
                bad.append(f"{path}: includes sealrun/{hdr}, which has no module in the table")
            elif floor_of(hmod) > f:
                bad.append(f"{path}: module '{mod}' (floor {f}) includes sealrun/{hdr} of "
                           f"module '{hmod}' (floor {floor_of(hmod)}), a floor above")
    if bad:
        print("layer rule (docs/architecture.md):")
        print("\n".join(bad))
        return 1
    print(f"layer rule: {len(files)} files, no upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
