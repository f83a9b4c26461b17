# SPDX-License-Identifier: MIT
"""test_webcrypto.py - the web platform and Web Crypto globals of a JavaScript
job, end to end through `sealrun run` (the same sandbox and runtime as
sealrund): every webcrypto/diff_*.js script gives the same output under
sealrun as under node (node's own implementation is the reference), and the
cases where node departs from the specs give what the specs say."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import cli, main  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "webcrypto")
NODE = os.environ.get("SR_NODE", "node")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def node_run(path, input_json="null"):
    p = subprocess.run([NODE, os.path.join(HERE, "node_run.js"), path, input_json],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"node failed on {path}: {p.stderr}")
    return json.loads(p.stdout)


def sealrun_run(path, input_json="null"):
    p = cli("run", path, "--input", input_json, "--gas-limit", "20000000")
    job = json.loads(p.stdout) if p.stdout.strip() else {}
    if p.returncode != 0:
        raise AssertionError(f"sealrun run failed on {path}: {p.stderr} {job.get('error')}")
    return job["output"]


def first_difference(a, b, where="output"):
    """A readable path to the first place a and b differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}.{k}: only in {'node' if k in b else 'sealrun'}"
            d = first_difference(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return f"{where}: {len(a)} items under sealrun, {len(b)} under node"
        return None
    return None if a == b else f"{where}: sealrun {a!r}, node {b!r}"


class WebPlatformTest(unittest.TestCase):
    def run_script(self, body, input_json="null"):
        with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
            f.write(body)
        try:
            return sealrun_run(f.name, input_json)
        finally:
            os.unlink(f.name)

    def test_same_results_as_node(self):
        scripts = sorted(f for f in os.listdir(HERE) if f.startswith("diff_") and f.endswith(".js"))
        self.assertTrue(scripts)
        for name in scripts:
            with self.subTest(script=name):
                path = os.path.join(HERE, name)
                # random results (ECDSA signatures) cross over: each side
                # verifies what the other made, and 'own' is not compared
                first = node_run(path)
                got = sealrun_run(path, json.dumps({"peer": first.get("own")}))
                want = node_run(path, json.dumps({"peer": got.get("own")}))
                got.pop("own", None)
                want.pop("own", None)
                self.assertIsNone(first_difference(got, want))

    def test_where_node_departs_from_the_specs(self):
        out = self.run_script("""
function main() {
  const name = (f) => { try { f(); return 'none'; } catch (e) { return e.name; } };
  const de = structuredClone(new DOMException('m', 'DataError'));
  return {
    // WebIDL: an argument that is not an ArrayBufferView is a TypeError
    notView: name(() => crypto.getRandomValues([1, 2])),
    // WebIDL 2.8.1: DOMException is serializable
    clone: [de instanceof DOMException, de.name, de.message, de.code],
    illegal: [name(() => new Crypto()),
              name(() => crypto.getRandomValues.call({}, new Uint8Array(1)))],
    transfer: name(() => structuredClone(new ArrayBuffer(1), {transfer: [new ArrayBuffer(1)]})),
    latin1: name(() => new TextDecoder('latin1')),
  };
}""")
        self.assertEqual(out["notView"], "TypeError")
        self.assertEqual(out["clone"], [True, "DataError", "m", 0])
        self.assertEqual(out["illegal"], ["TypeError", "TypeError"])
        self.assertEqual(out["transfer"], "DataCloneError")
        self.assertEqual(out["latin1"], "RangeError")

    def test_globals_become_data_properties_on_first_use(self):
        out = self.run_script("""
function main() {
  const d = (o, n) => { const x = Object.getOwnPropertyDescriptor(o, n);
                        return [typeof x.get, 'value' in x, x.enumerable, x.configurable]; };
  const before = d(globalThis, 'TextEncoder');
  globalThis.btoa = 'mine';
  const enc = new TextEncoder().encode('\u00e9');
  return {before, after: d(globalThis, 'TextEncoder'), btoa: btoa, enc: Array.from(enc),
          member: d(Crypto.prototype, 'getRandomValues'),
          subtle: typeof crypto.subtle, own: Object.getOwnPropertyNames(crypto).sort()};
}""")
        self.assertEqual(out["before"], ["function", False, False, True])
        self.assertEqual(out["after"], ["undefined", True, False, True])
        self.assertEqual(out["btoa"], "mine")
        self.assertEqual(out["enc"], [0xc3, 0xa9])
        self.assertEqual(out["member"], ["undefined", True, False, True])
        self.assertEqual(out["subtle"], "object")
        self.assertEqual(out["own"], ["randomBytes", "secp256k1", "sha256", "vrf"])

    def test_subtle_where_node_departs_from_the_spec(self):
        out = self.run_script("""
async function main() {
  const S = crypto.subtle;
  const name = async (f) => { try { await f(); return 'none'; } catch (e) { return e.name; } };
  const hk = await S.importKey('raw', new Uint8Array(16), 'HKDF', false, ['deriveBits']);
  const mac = await S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'},
                                false, ['sign']);
  const aes = await S.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const p = {name: 'AES-GCM', iv: new Uint8Array([7])};
  const ct = await S.encrypt(p, aes, new TextEncoder().encode('short iv'));
  const clone = structuredClone(mac);
  return {
    // 14.3.10: an algorithm without export is NotSupportedError, before extractable
    hkdfExport: await name(() => S.exportKey('raw', hk)),
    notExtractable: await name(() => S.exportKey('raw', mac)),
    // 14.3.9 step 2: keyData that does not suit the format is a TypeError
    jwkBytes: await name(() => S.importKey('jwk', new Uint8Array(16), 'HKDF', false, ['deriveBits'])),
    rawObject: await name(() => S.importKey('raw', {kty: 'oct'}, 'HKDF', false, ['deriveBits'])),
    // AesGcmParams allows any IV length (node wants 12 or more bytes)
    shortIv: new TextDecoder().decode(await S.decrypt(p, aes, ct)),
    // HmacImportParams.length within the last byte of the key
    hmac121: (await S.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256',
                                length: 121}, false, ['sign'])).algorithm.length,
    notHere: [await name(() => S.generateKey({name: 'AES-CTR', length: 128}, false, ['encrypt'])),
              await name(() => S.generateKey({name: 'ECDSA', namedCurve: 'P-384'}, false, ['sign']))],
    illegal: [await name(() => new CryptoKey()), await name(() => new SubtleCrypto())],
    clone: [clone instanceof CryptoKey, clone !== mac, clone.type, clone.usages,
            new Uint8Array(await S.sign('HMAC', clone, new Uint8Array(1))).length],
  };
}""")
        self.assertEqual(out["hkdfExport"], "NotSupportedError")
        self.assertEqual(out["notExtractable"], "InvalidAccessError")
        self.assertEqual(out["jwkBytes"], "TypeError")
        self.assertEqual(out["rawObject"], "TypeError")
        self.assertEqual(out["shortIv"], "short iv")
        self.assertEqual(out["hmac121"], 121)
        self.assertEqual(out["notHere"], ["NotSupportedError", "NotSupportedError"])
        self.assertEqual(out["illegal"], ["TypeError", "TypeError"])
        self.assertEqual(out["clone"], [True, True, "secret", ["sign"], 32])

    def test_secp256k1_agrees_with_node_and_bip340(self):
        out = sealrun_run(os.path.join(HERE, "k1_sign.js"))
        # BIP-340 test vector 1 (the C layer has all 15: crypto_secp256k1_test)
        self.assertEqual(out["bip340_1"],
                         "6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE3341"
                         "8906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A")
        self.assertEqual(out["errors"], ["RangeError", "TypeError", "TypeError", "TypeError",
                                         "RangeError", "TypeError"])
        self.assertFalse(out["bad"])
        for k in out["keys"]:
            self.assertEqual([k["recovered"], k["deterministic"], k["verifies"], k["schnorr"],
                              k["schnorrOther"]], [True, True, True, True, False])
            self.assertLessEqual(int(k["sig"][64:], 16), SECP256K1_N // 2)  # low s
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(out, f)
        try:
            p = subprocess.run([NODE, os.path.join(HERE, "k1_node_check.js"), f.name],
                               capture_output=True, text=True, timeout=120)
        finally:
            os.unlink(f.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), [[True, True, True]] * len(out["keys"]))

    def test_globals_are_not_entry_points(self):
        for name in ("TextEncoder", "atob", "structuredClone", "DOMException", "CryptoKey"):
            with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
                f.write(f"function {name}() {{ return 1; }}")
            try:
                p = cli("run", f.name, "--entry-point", name)
            finally:
                os.unlink(f.name)
            self.assertEqual(p.returncode, 1, name)
            self.assertIn("ENTRY_POINT_NOT_FOUND", p.stdout, name)


if __name__ == "__main__":
    main()
