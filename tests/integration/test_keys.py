# SPDX-License-Identifier: MIT
"""test_keys.py - keys a job can use but never read (docs/secrets.md
"Generated keys"), end to end against the real daemon in this run's
isolation mode (SR_IT_ISOLATION): POST /secrets/NAME/generate for each kind
returns the public key only; a JavaScript job gets handles from keys.get and
signs (Ed25519 through crypto.subtle, secp256k1 ECDSA and BIP-340 through
crypto.secp256k1), derives (X25519) and MACs (random32) with them, while its
secrets hold only public references; node checks the signatures and the
shared secret; every use is in the signed receipt; PUT cannot plant a key,
and a job without the reference cannot use it."""
import base64
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main  # noqa: E402

NODE = shutil.which("node")
ISOLATION = os.environ.get("SR_IT_ISOLATION", "tenant")
GUEST = os.environ.get("SR_WASM_GUEST", "")
KEYS_GUEST = os.path.join(os.path.dirname(GUEST), "keys_guest.wasm") if GUEST else ""

SCRIPT = """
async function main(input) {
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const unhex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
  const msg = new TextEncoder().encode('pay 5 to bob');
  const ed = await keys.get('ED');
  const edSig = await crypto.subtle.sign('Ed25519', ed, msg);
  const k1 = await keys.get('K1');
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', msg));
  const ecdsa = crypto.secp256k1.sign(hash, k1);
  const schnorr = crypto.secp256k1.schnorr.sign(msg, k1);
  const x = await keys.get('X');
  const peer = await crypto.subtle.importKey('raw', unhex(input.peer), 'X25519', true, []);
  const shared = await crypto.subtle.deriveBits({name: 'X25519', public: peer}, x, 256);
  const mac = await keys.get('R');
  const tag = await crypto.subtle.sign('HMAC', mac, msg);
  const name = async (f) => { try { await f(); return 'none'; } catch (e) { return e.name; } };
  return {
    edSig: hex(edSig), edPub: hex(keys.publicKey('ED')), edInfo: [ed.type, ed.extractable, ed.usages],
    ecdsa: hex(ecdsa.signature), recovery: ecdsa.recovery, k1Pub: hex(k1.publicKey),
    recovered: hex(crypto.secp256k1.recover(ecdsa.signature, ecdsa.recovery, hash)),
    schnorrOk: crypto.secp256k1.schnorr.verify(schnorr, msg, k1.publicKey.subarray(1)),
    shared: hex(shared), xPub: hex(keys.publicKey('X')),
    tag: hex(tag), tagOk: await crypto.subtle.verify('HMAC', mac, tag, msg),
    macPub: keys.publicKey('R'),
    refs: [secrets.ED, secrets.K1, secrets.X, secrets.R].map((v) => v.split(':').slice(0, 2).join(':')),
    exportEd: await name(() => crypto.subtle.exportKey('jwk', ed)),
    exportMac: await name(() => crypto.subtle.exportKey('raw', mac)),
    missing: await name(() => keys.get('NOPE')),
  };
}"""

NODE_CHECK = r"""
const c = require('crypto');
const [edPub, edSig, msgHex, k1Pub, ecdsa, xPub, peerSk, shared] = JSON.parse(process.argv[1]);
const b = (h) => Buffer.from(h, 'hex');
const msg = b(msgHex);
const ed = c.createPublicKey({format: 'jwk', key: {kty: 'OKP', crv: 'Ed25519', x: b(edPub).toString('base64url')}});
const edOk = c.verify(null, msg, ed, b(edSig));
const ecdh = c.createECDH('secp256k1');
const full = c.ECDH.convertKey(b(k1Pub), 'secp256k1', null, 'hex', 'uncompressed');
const k1 = c.createPublicKey({format: 'jwk', key: {kty: 'EC', crv: 'secp256k1',
  x: b(full.slice(2, 66)).toString('base64url'), y: b(full.slice(66)).toString('base64url')}});
const ecdsaOk = c.verify('sha256', msg, {key: k1, dsaEncoding: 'ieee-p1363'}, b(ecdsa));
const priv = c.createPrivateKey({format: 'der', type: 'pkcs8',
  key: Buffer.concat([b('302e020100300506032b656e04220420'), b(peerSk)])});
const pub = c.createPublicKey({format: 'der', type: 'spki', key: Buffer.concat([b('302a300506032b656e032100'), b(xPub)])});
const s = c.diffieHellman({privateKey: priv, publicKey: pub}).toString('hex');
process.stdout.write(JSON.stringify([edOk, ecdsaOk, s === shared]));
"""

PEER_SK = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"  # RFC 7748 6.1
PEER_PK = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"


class KeysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--isolation", ISOLATION).start()
        cls.alice = cls.d.token("alice")
        cls.pub = {}
        for name, kind in (("ED", "ed25519"), ("K1", "secp256k1"), ("X", "x25519"),
                           ("R", "random32")):
            st, ans, _ = cls.d.request("POST", f"/secrets/{name}/generate", {"kind": kind},
                                       token=cls.alice)
            assert st == 201, ans
            cls.pub[name] = ans

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_generate_returns_the_public_key_only(self):
        self.assertRegex(self.pub["ED"]["public_key"], "^[0-9a-f]{64}$")
        self.assertRegex(self.pub["K1"]["public_key"], "^0[23][0-9a-f]{64}$")
        self.assertRegex(self.pub["X"]["public_key"], "^[0-9a-f]{64}$")
        self.assertIsNone(self.pub["R"]["public_key"])
        self.assertEqual(set(self.pub["ED"]), {"name", "kind", "version", "public_key"})
        st, ans, _ = self.d.request("POST", "/secrets/ED/generate", {"kind": "ed25519"},
                                    token=self.alice)
        self.assertEqual((st, ans["version"]), (200, 2))
        self.pub["ED"] = ans
        st, ans, _ = self.d.request("POST", "/secrets/B/generate", {"kind": "rsa"}, token=self.alice)
        self.assertEqual(st, 400)
        self.assertIn("'kind' must be", json.dumps(ans))

    def test_the_cli_generates_keys(self):
        env = {"SEALRUN_SERVER": self.d.url, "SEALRUN_TOKEN": self.alice}
        p = cli("secret", "generate", "CLIKEY", "secp256k1", env=env, check=True)
        ans = json.loads(p.stdout)
        self.assertEqual((ans["name"], ans["kind"], ans["version"]), ("CLIKEY", "secp256k1", 1))
        self.assertRegex(ans["public_key"], "^0[23][0-9a-f]{64}$")
        p = cli("secret", "generate", "CLIKEY", env=env)
        self.assertEqual(p.returncode, 2)

    def test_put_cannot_plant_a_key(self):
        st, ans, _ = self.d.request("PUT", "/secrets/PLANT",
                                    {"value": "sealrun.key.v1:ed25519:" + "00" * 32},
                                    token=self.alice)
        self.assertEqual(st, 400, ans)
        self.assertIn("generated keys", json.dumps(ans))

    def test_a_job_uses_its_keys_without_reading_them(self):
        st, job, _ = self.d.request("POST", "/execute", {
            "script": SCRIPT, "input": {"peer": PEER_PK},
            "secret_refs": ["ED", "K1", "X", "R"]}, token=self.alice)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["status"], "completed", job)
        out = job["output"]
        self.assertEqual(out["edPub"], self.pub["ED"]["public_key"])
        self.assertEqual(out["k1Pub"], self.pub["K1"]["public_key"])
        self.assertEqual(out["recovered"], self.pub["K1"]["public_key"])
        self.assertEqual(out["xPub"], self.pub["X"]["public_key"])
        self.assertEqual(out["edInfo"], ["private", False, ["sign"]])
        self.assertTrue(out["schnorrOk"])
        self.assertTrue(out["tagOk"])
        self.assertEqual(len(out["tag"]), 64)
        self.assertIsNone(out["macPub"])
        self.assertEqual(out["refs"], ["sealrun.keyref.v1:ed25519", "sealrun.keyref.v1:secp256k1",
                                       "sealrun.keyref.v1:x25519", "sealrun.keyref.v1:random32"])
        self.assertEqual([out["exportEd"], out["exportMac"], out["missing"]],
                         ["InvalidAccessError", "InvalidAccessError", "NotFoundError"])
        self.assertNotIn("sealrun.key.v1:", json.dumps(job))
        uses = job["receipt"]["key_uses"]
        self.assertEqual([(u["name"], u["kind"], u["operation"]) for u in uses],
                         [("ED", "ed25519", "sign"), ("K1", "secp256k1", "ecdsa-sign"),
                          ("K1", "secp256k1", "schnorr-sign"), ("X", "x25519", "derive"),
                          ("R", "random32", "hmac"), ("R", "random32", "hmac")])
        import hashlib
        self.assertEqual(uses[0]["data_sha256"], hashlib.sha256(b"pay 5 to bob").hexdigest())
        # every use is in the secret's audit too
        st, audit, _ = self.d.request("GET", "/secrets/K1/audit", token=self.alice)
        self.assertEqual(st, 200, audit)
        used = [r for r in audit["audit"] if r["job_id"] == job["job_id"] and r["outcome"] == "used"]
        self.assertEqual(sorted(r["reason"].split(" of ")[0] for r in used),
                         ["secp256k1 ecdsa-sign", "secp256k1 schnorr-sign"])
        self.assertIn(hashlib.sha256(b"pay 5 to bob").hexdigest(), json.dumps(used))
        if NODE:
            args = [out["edPub"], out["edSig"], b"pay 5 to bob".hex(), out["k1Pub"], out["ecdsa"],
                    out["xPub"], PEER_SK, out["shared"]]
            p = subprocess.run([NODE, "-e", NODE_CHECK, json.dumps(args)], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout), [True, True, True])

    @unittest.skipUnless(KEYS_GUEST and os.path.exists(KEYS_GUEST), "the WASM guests are not built")
    def test_webassembly_import(self):
        with open(KEYS_GUEST, "rb") as f:
            mod = base64.b64encode(f.read()).decode()
        args = ["E", "ED", "pay 5 to bob", "H", "R", "x", "H", "ED", "x", "E", "NOPE", "x"]
        st, job, _ = self.d.request("POST", "/execute", {"runtime": "wasm", "module": mod,
                                                         "args": args, "secret_refs": ["ED", "R"]},
                                    token=self.alice)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["status"], "completed", job)
        out = job["output"]
        self.assertEqual(out["env"], "sealrun.keyref.v1:ed25519:" + self.pub["ED"]["public_key"])
        self.assertEqual([r["rc"] for r in out["results"]], [64, 32, -2, -6])
        self.assertEqual([u["operation"] for u in job["receipt"]["key_uses"]], ["sign", "hmac"])
        if NODE:
            check = ("const c = require('crypto'); const [pk, sig] = JSON.parse(process.argv[1]);"
                     "const k = c.createPublicKey({format: 'jwk', key: {kty: 'OKP', crv: 'Ed25519',"
                     " x: Buffer.from(pk, 'hex').toString('base64url')}});"
                     "process.stdout.write(String(c.verify(null, Buffer.from('pay 5 to bob'), k,"
                     " Buffer.from(sig, 'hex'))));")
            p = subprocess.run([NODE, "-e", check, json.dumps(
                [self.pub["ED"]["public_key"], out["results"][0]["answer"]])],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(p.stdout, "true", p.stderr)

    def test_a_job_without_the_reference_cannot_use_the_key(self):
        st, job, _ = self.d.request("POST", "/execute", {"script": """
async function main() {
  const name = async (f) => { try { await f(); return 'none'; } catch (e) { return e.name + ': ' + e.message; } };
  return {get: await name(() => keys.get('K1')),
          forged: await name(() => crypto.secp256k1.sign(new Uint8Array(32), {type: 'secp256k1', name: 'K1'}))};
}"""}, token=self.alice)
        self.assertEqual(st, 200, job)
        out = job["output"]
        self.assertTrue(out["get"].startswith("NotFoundError"), out)
        self.assertIn("the job has no generated key 'K1'", out["forged"])


if __name__ == "__main__":
    main()
