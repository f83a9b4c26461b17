# SPDX-License-Identifier: MIT
"""test_docs.py - the worked example of docs/output-protection.md, run with
the real CLI and checked independently with Python's hashlib/hmac."""
import hashlib
import hmac
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import cli, canonical, main  # noqa: E402

EX = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples")
KEYS = {
    "COMPUTE_MASTER_KEY": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "SECRETS_MASTER_KEY": "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
}
SK = "8dnovVGWv62tLXBYD0qr+b94IZFhZiUpOha0naxOv/8="


class DocsTest(unittest.TestCase):
    def test_verify_output_example(self):
        p = cli("verify-output", os.path.join(EX, "output-job.json"), env=KEYS)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok   signature", p.stdout)

    def test_example_matches_independent_computation(self):
        job = json.load(open(os.path.join(EX, "output-job.json")))
        h = hashlib.sha256(canonical(job["output"]).encode()).hexdigest()
        self.assertEqual(h, job["output_hash"])
        sub = hashlib.blake2b(b"sealrun/output-mac/v1",
                              key=bytes.fromhex(KEYS["COMPUTE_MASTER_KEY"]),
                              digest_size=32).digest()
        mac = hmac.new(sub, b"sealrun.output.v1\0" + job["job_id"].encode() + b"\0" +
                       h.encode(), hashlib.sha256).hexdigest()
        self.assertEqual(mac, job["signature"])

    def test_decrypt_example(self):
        p = cli("decrypt", "--secret-key", SK, os.path.join(EX, "output-job-sealed.json"),
                check=True)
        self.assertEqual(json.loads(p.stdout), {"price": 1250, "pair": "NEO/USD", "note": "é"})
        p = cli("verify-output", os.path.join(EX, "output-job-sealed.json"), "--secret-key", SK,
                env=KEYS)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_run_reproduces_the_hash(self):
        p = cli("run", os.path.join(EX, "price.js"), "--input", '{"usd": 12.5}', env=KEYS,
                check=True)
        job = json.loads(p.stdout)
        self.assertEqual(job["output_hash"],
                         "175e4612f0931acf943ca112fb57ee959050bfa551cd80bccdb33c89e5530027")


if __name__ == "__main__":
    main()
