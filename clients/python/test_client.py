# SPDX-License-Identifier: MIT
"""test_client.py - the Python client against a real sealrund (unittest):
sync and async jobs, waiting with backoff, listing with filters, a secret
sealed on the client (never sent in clear) and used by a job, an output
sealed to a key made here and opened here, receipts and output hashes
verified (also for values whose canonical form is awkward), tampering caught
check by check, and text refused the way sealrun refuses it (a key twice, a
number RFC 8785 cannot hash exactly). Run by ctest (clients/python) with
Debian's python3 and python3-nacl."""
import copy
import json
import os
import sys
import time
import unittest
import urllib.request

SRC = os.environ.get("SR_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon  # noqa: E402
from sealrun_client import (Client, SealrunError, StrictJSONError, decrypt_output, jcs,  # noqa: E402
                            new_keypair, output_hash, parse_strict, verified, verify_job)
import sealrun_client.client as client_module  # noqa: E402


def check(checks, cid):
    return next(c for c in checks if c["id"] == cid)["res"]


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.c = Client(cls.d.url, cls.d.token("alice"))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_sync_job_verifies(self):
        script = "function main(input) { return {twice: input.n * 2}; }"
        job = self.c.execute({"script": script, "input": {"n": 21}})
        self.assertEqual((job["status"], job["output"]), ("completed", {"twice": 42}))
        checks = self.c.verify(job, code=script, input={"n": 21}, has_input=True)
        self.assertTrue(verified(checks), checks)
        for cid in ("signature", "worker_key", "measurement", "output_hash", "logs_hash",
                    "code_hash", "input_hash", "job_id", "runtime", "status"):
            self.assertEqual(check(checks, cid), "ok", cid)
        self.assertEqual(output_hash(job["output"]), job["output_hash"])

    def test_async_job_and_wait_with_backoff(self):
        q = self.c.submit({"script": "function main() { let s = 0; for (let i = 0; i < 3e6; i++) s += i; return s; }"})
        self.assertEqual(q["status"], "queued")
        polls = []
        real = self.c.get_job

        def counting(job_id):
            polls.append(job_id)
            return real(job_id)
        self.c.get_job = counting
        try:
            job = self.c.wait(q["job_id"], initial=0.02, maximum=0.2)
        finally:
            del self.c.get_job
        self.assertEqual(job["output"], {"result": 4499998500000})
        self.assertGreaterEqual(len(polls), 1)
        self.assertEqual(self.c.run({"script": "function main() { return 7; }"})["output"], {"result": 7})
        with self.assertRaises(SealrunError) as e:
            self.c.wait("0" * 32)
        self.assertEqual(e.exception.status, 404)

    def test_cancel_and_deliveries(self):
        q = self.c.submit({"script": "function main() { for (;;) {} }", "timeout": 60})
        deadline = time.time() + 30
        while True:  # 429: between the queue and its run
            try:
                job = self.c.cancel(q["job_id"])
                break
            except SealrunError as e:
                if e.status != 429 or time.time() > deadline:
                    raise
                time.sleep(0.05)
        if job["status"] != "failed":
            job = self.c.wait(q["job_id"])
        self.assertEqual(job["error"]["code"], "CANCELLED")
        self.assertTrue(verified(self.c.verify(job)))
        with self.assertRaises(SealrunError) as e:
            self.c.cancel(q["job_id"])
        self.assertEqual(e.exception.status, 409)
        self.assertIn("has already ended", str(e.exception))
        self.assertEqual(self.c.deliveries(q["job_id"]),
                         {"job_id": q["job_id"], "state": "none", "attempts": []})

    def test_list_with_filters(self):
        failed = self.c.execute({"script": "function main() { throw new Error('boom'); }"})
        self.assertEqual(failed["error"]["code"], "EXECUTION_ERROR")
        self.assertTrue(verified(self.c.verify(failed)))
        page = self.c.list_jobs(status="failed")
        self.assertTrue(page["jobs"] and all(j["status"] == "failed" for j in page["jobs"]))
        one = self.c.list_jobs(limit=1)
        self.assertEqual(len(one["jobs"]), 1)
        with self.assertRaises(SealrunError) as e:
            self.c.list_jobs(colour="red")
        self.assertEqual(e.exception.status, 400)
        self.assertIn("unknown query parameter 'colour'", e.exception.message)

    def test_secret_sealed_here_and_used(self):
        value = "sk_live_python_client_41d2"
        sent = []
        real = client_module.urllib.request.urlopen

        def spy(req, timeout=None):
            sent.append((req.full_url, req.data or b""))
            return real(req, timeout=timeout)
        client_module.urllib.request.urlopen = spy
        try:
            r1 = self.c.set_secret("PY_KEY", value)
            r2 = self.c.set_secret("PY_KEY", value + "-v2")
        finally:
            client_module.urllib.request.urlopen = real
        self.assertEqual(r2["version"], r1["version"] + 1)
        for url, data in sent:
            self.assertNotIn(value.encode(), data)
            self.assertNotIn(value, url)
        self.assertTrue(any(b'"sealed"' in data for _, data in sent))
        job = self.c.execute({"script": "function main(i, s) { return {ok: s.PY_KEY === 'sk_live_python_client_41d2-v2'}; }",
                              "secret_refs": ["PY_KEY"]})
        self.assertEqual(job["output"], {"ok": True})
        self.assertEqual(job["receipt"]["secret_refs"],
                         [{"name": "PY_KEY", "owner": "alice", "version": r2["version"]}])

    def test_sealed_output_opens_here(self):
        pub, sec = new_keypair()
        job = self.c.execute({"script": "function main() { return {secret: 'only for me', n: 5}; }",
                              "output_pubkey": pub})
        self.assertIsNone(job["output"])
        out, h, matches = decrypt_output(job, sec)
        self.assertEqual(out, {"secret": "only for me", "n": 5})
        self.assertTrue(matches)
        checks = self.c.verify(job)
        self.assertTrue(verified(checks))
        self.assertEqual(check(checks, "output_hash"), "skip")
        self.assertEqual(check(checks, "encrypted_output_hash"), "ok")
        with self.assertRaisesRegex(ValueError, "authentication failed"):
            decrypt_output(job, new_keypair()[1])

    def test_awkward_values_hash_as_in_sealrund(self):
        script = ("function main() { return {big: 1e21, tiny: 5e-324, neg0: -0, f: 0.1 + 0.2, "
                  "e: 1e-7, m: 123456789.125, max: 9007199254740991, s: '\\u2028\\u0000\\u00e9\\ud83d\\ude00\\u007f', "
                  "'\\u00e9': 1, '\\ud83d\\ude00': 2, '\\uff61': 3, z: [null, true, {}], '': 0, "
                  "ints: [1e16, 4.5e15, -1e-6, 2e-6]}; }")
        job = self.c.execute({"script": script})
        self.assertEqual(job["status"], "completed", job.get("error"))
        self.assertEqual(output_hash(job["output"]), job["output_hash"])
        self.assertTrue(verified(self.c.verify(job)))

    def test_tampering_is_caught(self):
        job = self.c.execute({"script": "function main() { console.log('x'); return {v: 1}; }"})
        att = self.c.attestation()
        t = copy.deepcopy(job)
        t["output"]["v"] = 2
        self.assertEqual(check(verify_job(t, attestation=att), "output_hash"), "fail")
        t = copy.deepcopy(job)
        t["receipt"]["gas_used"] += 1
        self.assertEqual(check(verify_job(t, attestation=att), "signature"), "fail")
        t = copy.deepcopy(job)
        t["logs"] = ["y"]
        self.assertEqual(check(verify_job(t, attestation=att), "logs_hash"), "fail")
        wrong = dict(att, worker_public_key="00" * 32)
        c = verify_job(job, attestation=wrong)
        self.assertEqual((check(c, "worker_key"), check(c, "signature")), ("fail", "fail"))
        t = copy.deepcopy(job)
        t["receipt_signature"] = t["receipt_signature"].upper()
        self.assertEqual(check(verify_job(t, attestation=att), "signature"), "fail")
        self.assertTrue(verified(verify_job(job, attestation=att)))

    def test_strict_parsing_as_sealrun(self):
        with self.assertRaisesRegex(StrictJSONError, r'job has the key "output" twice in one object \(the second at byte 14\)'):
            parse_strict('{"output": 1, "output": 2}', "job")
        with self.assertRaisesRegex(StrictJSONError, r"cannot hash exactly: '1000000000000000001' at byte 7 would be hashed as 1000000000000000000"):
            parse_strict('{"a": [1000000000000000001]}', "job")
        with self.assertRaisesRegex(StrictJSONError, "beyond the largest IEEE 754 double"):
            parse_strict("[1e400]", "job")
        with self.assertRaisesRegex(StrictJSONError, "'NaN' is not JSON"):
            parse_strict("[NaN]", "job")
        self.assertEqual(parse_strict('{"a": 1.5e3, "b": -0, "c": "\\u0061"}'), {"a": 1500.0, "b": 0, "c": "a"})
        self.assertEqual(jcs({"b": 1, "a": [2, "x", 1e21, 0.5, -0.0]}), '{"a":[2,"x",1e+21,0.5,0],"b":1}')
        # the server refuses the same input
        req = urllib.request.Request(self.d.url + "/execute", method="POST",
                                     data=b'{"script": "function main(i) { return i; }", "input": 1000000000000000001}',
                                     headers={"Authorization": "Bearer " + self.c.token})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=60)
        self.assertEqual(e.exception.code, 400)
        self.assertIn("cannot hash exactly", json.loads(e.exception.read())["error"]["message"])
        # and so does this client when an answer has a key twice
        job = self.c.execute({"script": "function main() { return {v: 1}; }"})
        text = json.dumps(job).replace('"output":', '"output": {"v": 666}, "output":', 1)
        with self.assertRaisesRegex(StrictJSONError, 'has the key "output" twice'):
            parse_strict(text, "the answer of GET /jobs")

    def test_errors(self):
        with self.assertRaises(SealrunError) as e:
            Client(self.d.url, "srt_not_a_token").list_jobs()
        self.assertEqual((e.exception.status, e.exception.code), (401, "unauthorized"))
        with self.assertRaises(SealrunError) as e:
            self.c.get_job("0" * 32)
        self.assertEqual((e.exception.status, e.exception.code), (404, "not_found"))
        with self.assertRaises(SealrunError) as e:
            Client("http://127.0.0.1:1", "t").list_jobs()
        self.assertEqual((e.exception.status, e.exception.code), (0, "unreachable"))

    def test_stats(self):
        self.c.execute({"script": "function main() { return 1; }"})
        s = self.c.stats(step=60)
        self.assertGreaterEqual(s["totals"]["completed"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
