# SPDX-License-Identifier: MIT
"""test_vrf.py - verifiable randomness end to end against the real daemon
(docs/receipts.md "Verifiable randomness"): crypto.vrf in a JavaScript job
in this run's isolation mode (SR_IT_ISOLATION, tenant by default), the uses
in the signed receipt, the VRF key in GET /attestation, `sealrun
verify-vrf` and examples/verify-vrf.mjs accepting them and refusing every
tampered seed, output, proof and key; the caps (seed size, calls per job)."""
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
NODE_VERIFIER = os.path.join(ROOT, "examples", "verify-vrf.mjs")
NODE = shutil.which("node")
ISOLATION = os.environ.get("SR_IT_ISOLATION", "tenant")

SCRIPT = """
function main(input) {
  const a = crypto.vrf(input.seed);
  const b = crypto.vrf(new TextEncoder().encode(input.seed));
  const c = crypto.vrf(new Uint8Array([0, 1, 2, 255]));
  return {a, b, c};
}"""


def flip_hex(s):
    return s[:-1] + ("0" if s[-1] != "0" else "1")


class VrfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--isolation", ISOLATION).start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        st, cls.att, _ = cls.d.request("GET", "/attestation")
        assert st == 200, cls.att
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-vrf-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.d.cleanup()

    def job(self, token, script=SCRIPT, seed="block 0x1234"):
        st, job, _ = self.d.request("POST", "/execute", {"script": script, "input": {"seed": seed}},
                                    token=token)
        self.assertEqual(st, 200, job)
        return job

    def write(self, job):
        path = os.path.join(self.tmp, job["job_id"] + "-%d.json" % id(job))
        with open(path, "w") as f:
            json.dump(job, f)
        return path

    def verify_vrf(self, job, key=None):
        args = ["verify-vrf", self.write(job)]
        if key:
            args += ["--vrf-key", key]
        return cli(*args)

    def test_uses_are_in_the_signed_receipt_and_verify(self):
        job = self.job(self.alice)
        self.assertEqual(job["status"], "completed", job)
        out, r = job["output"], job["receipt"]
        vrf_key = self.att["vrf_public_key"]
        self.assertRegex(vrf_key, "^[0-9a-f]{64}$")
        self.assertNotEqual(vrf_key, self.att["worker_public_key"])
        self.assertEqual(r["vrf_public_key"], vrf_key)
        self.assertEqual(out["a"]["publicKey"], vrf_key)
        self.assertEqual([u["output"] for u in r["vrf"]],
                         [out["a"]["output"], out["b"]["output"], out["c"]["output"]])
        self.assertEqual(r["vrf"][0]["seed"], "block 0x1234".encode().hex())
        self.assertEqual(r["vrf"][2]["seed"], "000102ff")
        # a string seed is its UTF-8: the same randomness as its bytes
        self.assertEqual(out["a"], out["b"])
        self.assertNotEqual(out["a"]["output"], out["c"]["output"])
        p = cli("verify", self.write(job), "--worker-key", self.att["worker_public_key"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.verify_vrf(job, vrf_key)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.count("ok   vrf["), 3, p.stdout)

    def test_randomness_is_bound_to_the_job_and_the_owner(self):
        a1, a2, b = self.job(self.alice), self.job(self.alice), self.job(self.bob)
        outs = {j["output"]["a"]["output"] for j in (a1, a2, b)}
        self.assertEqual(len(outs), 3)
        # the same proof under another job id or owner does not verify
        moved = copy.deepcopy(a1)
        moved["receipt"]["job_id"] = a2["job_id"]
        self.assertEqual(self.verify_vrf(moved).returncode, 1)
        moved = copy.deepcopy(a1)
        moved["receipt"]["owner_hash"] = b["receipt"]["owner_hash"]
        self.assertEqual(self.verify_vrf(moved).returncode, 1)

    def test_tampering_is_refused(self):
        job = self.job(self.alice)
        for field in ("seed", "output", "proof"):
            t = copy.deepcopy(job)
            t["receipt"]["vrf"][1][field] = flip_hex(t["receipt"]["vrf"][1][field])
            p = self.verify_vrf(t)
            self.assertEqual(p.returncode, 1, field)
            self.assertIn("FAIL vrf[1]", p.stdout, field)
        p = self.verify_vrf(job, flip_hex(self.att["vrf_public_key"]))
        self.assertEqual(p.returncode, 1)
        self.assertIn("not the --vrf-key given", p.stdout)
        t = copy.deepcopy(job)
        t["receipt"]["vrf_public_key"] = self.att["worker_public_key"]
        self.assertEqual(self.verify_vrf(t).returncode, 1)
        # the receipt signature covers the list: `sealrun verify` catches edits too
        t = copy.deepcopy(job)
        t["receipt"]["vrf"][0]["output"] = flip_hex(t["receipt"]["vrf"][0]["output"])
        p = cli("verify", self.write(t), "--worker-key", self.att["worker_public_key"])
        self.assertEqual(p.returncode, 1)

    def test_a_job_without_randomness_has_no_vrf_in_its_receipt(self):
        job = self.job(self.alice, "function main() { return {x: 1}; }")
        self.assertNotIn("vrf", job["receipt"])
        self.assertNotIn("vrf_public_key", job["receipt"])
        p = self.verify_vrf(job)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no 'vrf' list", p.stdout)

    def test_caps(self):
        job = self.job(self.alice, """
function main() {
  const name = (f) => { try { f(); return 'none'; } catch (e) { return e.name + ': ' + e.message; } };
  const big = name(() => crypto.vrf(new Uint8Array(257)));
  const edge = crypto.vrf(new Uint8Array(256)).output.length;
  const bad = name(() => crypto.vrf(12));
  let n = 1;
  let last = 'none';
  for (let i = 0; i < 9 && last === 'none'; i++) { last = name(() => crypto.vrf('s' + i)); n++; }
  return {big, edge, bad, n, last};
}""")
        out = job["output"]
        self.assertTrue(out["big"].startswith("RangeError"), out)
        self.assertEqual(out["edge"], 128)
        self.assertTrue(out["bad"].startswith("TypeError"), out)
        self.assertEqual(out["n"], 9, out)  # 8 calls per job, the 9th refused
        self.assertIn("at most 8 times", out["last"])
        self.assertEqual(len(job["receipt"]["vrf"]), 8)

    @unittest.skipUnless(NODE, "node is not installed")
    def test_the_javascript_example_verifier_passes_the_rfc_vectors(self):
        # RFC 9381 appendix B.3: public key, alpha, pi, beta
        vectors = [
            ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
             "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee"
             "1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
             "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59"
             "d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae"),
            ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
             "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3e"
             "d7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
             "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb9"
             "4db5e5b54c70a848a0bef4553a41befc57663b56373a5031"),
            ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
             "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf8096bb474e53895c36"
             "2d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
             "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0"
             "edcf038bb6373241578be7217ba85a2687f7a0310b2df19f"),
        ]
        src = ("import {vrfVerify} from %s;\n"
               "const v = JSON.parse(process.argv[1]);\n"
               "const b = (h) => Buffer.from(h, 'hex');\n"
               "console.log(JSON.stringify(v.map(([pk, a, pi]) => {\n"
               "  const o = vrfVerify(b(pk), b(pi), b(a)); return o && o.toString('hex'); })));\n"
               % json.dumps("file://" + os.path.abspath(NODE_VERIFIER)))
        p = subprocess.run([NODE, "--input-type=module", "-e", src, json.dumps(vectors)],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), [v[3] for v in vectors])

    @unittest.skipUnless(NODE, "node is not installed")
    def test_the_javascript_example_verifier_agrees(self):
        job = self.job(self.alice)
        path = self.write(job)
        p = subprocess.run([NODE, NODE_VERIFIER, path, "--vrf-key", self.att["vrf_public_key"]],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout.count("ok   vrf["), 3, p.stdout)
        t = copy.deepcopy(job)
        t["receipt"]["vrf"][2]["proof"] = flip_hex(t["receipt"]["vrf"][2]["proof"])
        p = subprocess.run([NODE, NODE_VERIFIER, self.write(t)], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAIL vrf[2]", p.stdout)


if __name__ == "__main__":
    main()
