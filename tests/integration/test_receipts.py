# SPDX-License-Identifier: MIT
"""test_receipts.py - signed receipts end to end against the real daemon
(docs/receipts.md): GET /attestation (key, measurement recomputed here from
its exe_sha256 and config, quote type none), a receipt on every job response
(sync, async, failed, sealed, WebAssembly, with secrets) and stored with the
job, `sealrun verify` and examples/verify-receipt.mjs accepting fresh jobs
and both catching every tampered output, receipt field, encrypted output and
signature, and --attestation tdx stopping sealrund when configfs-tsm is
absent. Numbers RFC 8785 cannot hash exactly are refused where they enter
(a 400 for input, OUTPUT_NUMBER_INEXACT for JS and WebAssembly outputs), and
every reader refuses a key twice in one object (requests, the CLI's answers,
both verifiers), which also check the job's runtime against the receipt."""
import base64
import copy
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import (ENV, SEALRUND, Daemon, canonical, cli, main,  # noqa: E402
                     output_hash, summary)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
NODE_VERIFIER = os.path.join(ROOT, "examples", "verify-receipt.mjs")
NODE = shutil.which("node")
GUEST = os.environ.get("SR_WASM_GUEST", "")

SCRIPT = ("function main(input) {\n"
          "  console.log('pair', input.pair);\n"
          "  return {price: Math.round(input.usd * 100), pair: input.pair, note: 'é'};\n"
          "}\n")
INPUT = {"usd": 12.5, "pair": "NEO/USD", "tags": ["a", "ü"], "n": None}
THROWS = "function main(i) { console.log('about to fail'); throw new Error('boom ' + i.x); }"
LOOP = "function main() { for (;;) {} }"


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def flip_hex(s):
    """The same string with its last hex digit changed."""
    return s[:-1] + ("0" if s[-1] != "0" else "1")


def tampered_value(v):
    """A different value of the same kind, for every receipt field type."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1
    if isinstance(v, str):
        return flip_hex(v) if v and v[-1] in "0123456789abcdef" else v + "x"
    if v is None:
        return "x"
    if isinstance(v, list):
        return v + [{"name": "X", "owner": "mallory", "version": 1}]
    if isinstance(v, dict):
        w = dict(v)
        k = sorted(w)[0]
        w[k] = tampered_value(w[k])
        return w
    raise AssertionError(f"unexpected receipt value {v!r}")


class ReceiptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.alice = cls.d.token("alice")
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-receipts-")
        st, cls.att, _ = cls.d.request("GET", "/attestation")
        assert st == 200, cls.att
        cls.pk = cls.att["worker_public_key"]
        cls.meas = cls.att["measurement"]
        cls.script = cls.file("script.js", SCRIPT.encode())
        cls.input = cls.file("input.json", json.dumps(INPUT).encode())

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def file(cls, name, data):
        path = os.path.join(cls.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def save(self, job, name="job.json"):
        return self.file(name, json.dumps(job, ensure_ascii=False).encode())

    def verify(self, job, *args, pin=True):
        """Runs both verifiers on 'job'; returns (C result, node result or None)."""
        path = self.save(job)
        extra = list(args) + (["--worker-key", self.pk] if pin else [])
        c = cli("verify", path, *extra)
        n = None
        if NODE:
            n = subprocess.run([NODE, NODE_VERIFIER, path, *extra], capture_output=True,
                               text=True, timeout=60)
        return c, n

    def assert_verifies(self, job, *args, pin=True):
        c, n = self.verify(job, *args, pin=pin)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertNotIn("FAIL", c.stdout)
        if n:
            self.assertEqual(n.returncode, 0, n.stdout + n.stderr)
            # the same checks in the same order, whatever the language
            self.assertEqual([ln.split()[0] for ln in c.stdout.splitlines()],
                             [ln.split()[0] for ln in n.stdout.splitlines()])
        return c.stdout

    def assert_rejected(self, job, what, *args):
        c, n = self.verify(job, *args)
        self.assertEqual(c.returncode, 1, f"sealrun verify accepted {what}:\n{c.stdout}")
        self.assertIn("FAIL", c.stdout, what)
        if n:
            self.assertEqual(n.returncode, 1, f"verify-receipt.mjs accepted {what}:\n{n.stdout}")
            self.assertIn("FAIL", n.stdout, what)

    def run_js(self, script=SCRIPT, **fields):
        fields.setdefault("input", INPUT)
        st, job, _ = self.d.execute(self.alice, script, **fields)
        self.assertEqual(st, 200, summary(job))
        return job

    def assert_receipt(self, job, status, code=None):
        self.assertIn("receipt", job, summary(job))
        r = job["receipt"]
        self.assertRegex(job["receipt_signature"], r"^[0-9a-f]{128}$")
        self.assertEqual(r["version"], "sealrun.receipt.v1")
        self.assertEqual(r["job_id"], job["job_id"])
        self.assertEqual(r["status"], status)
        self.assertEqual(r["error_code"], code)
        self.assertEqual(r["worker_public_key"], self.pk)
        self.assertEqual(r["measurement"], self.meas)
        self.assertEqual((r["quote_type"], r["quote"]), ("none", None))
        self.assertEqual(r["owner_hash"],
                         hashlib.sha256(b"sealrun.owner.v1\0" + b"alice").hexdigest())
        self.assertEqual(r["logs_hash"], output_hash(job["logs"]))
        self.assertEqual(r["gas_used"], job["gas_used"])
        self.assertEqual(r["limits"]["gas_limit"], job["gas_limit"])
        self.assertEqual((r["started_at"], r["finished_at"]),
                         (job["started_at"], job["finished_at"]))
        # stored with the job: GET returns the same receipt and signature
        st, again, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=self.alice)
        self.assertEqual(st, 200)
        self.assertEqual((again["receipt"], again["receipt_signature"]),
                         (r, job["receipt_signature"]))
        return r

    # --- /attestation ---
    def test_attestation_document(self):
        st, doc, _ = self.d.request("GET", "/attestation")  # no token needed
        self.assertEqual(st, 200)
        self.assertRegex(doc["worker_public_key"], r"^[0-9a-f]{64}$")
        self.assertEqual((doc["quote_type"], doc["quote"], doc["tsm_provider"]),
                         ("none", None, None))
        self.assertIn("software only", doc["note"])
        exe = hashlib.sha256(read_bytes(SEALRUND)).hexdigest()
        self.assertEqual(doc["exe_sha256"], exe)
        # an operator recomputes the measurement from the binary and the config
        m = hashlib.sha256(b"sealrun.measurement.v1\0" + bytes.fromhex(exe) +
                           canonical(doc["config"]).encode()).hexdigest()
        self.assertEqual(doc["measurement"], m)
        rd = hashlib.sha512(bytes.fromhex(doc["worker_public_key"] + m)).hexdigest()
        self.assertEqual(doc["report_data"], rd)
        cfg = doc["config"]
        self.assertTrue(cfg["engines"]["js"]["jit"])
        self.assertEqual(cfg["isolation"], os.environ.get("SR_IT_ISOLATION", "tenant"))
        self.assertEqual(cfg["limits"]["timeout_max_s"], 120)
        # the native tier's compiler, as GET /info names it (null when the tier is off)
        st, info, _ = self.d.request("GET", "/info")
        self.assertEqual(st, 200, info)
        self.assertEqual(cfg["engines"]["wasm"]["native"],
                         info["engines"]["wasm"]["native"].get("compiler"))
        self.assertEqual(self.d.request("POST", "/attestation", {})[0], 405)

    def test_worker_key_file(self):
        path = os.path.join(self.d.data_dir, "keys", "worker.key")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600)
        seed = read_bytes(path).decode()
        self.assertRegex(seed, r"^[0-9a-f]{64}\n?$")
        self.assertNotIn(seed.strip(), json.dumps(self.att))

    # --- receipts on every job ---
    def test_sync_job_receipt_verifies_with_code_and_input(self):
        job = self.run_js()
        self.assertEqual(job["status"], "completed", summary(job))
        r = self.assert_receipt(job, "completed")
        self.assertEqual(r["code_hash"], hashlib.sha256(SCRIPT.encode()).hexdigest())
        self.assertEqual(r["input_hash"], output_hash(INPUT))
        self.assertEqual(r["output_hash"], job["output_hash"])
        self.assertEqual((r["runtime"], r["entry_point"]), ("js", "main"))
        self.assertIsNone(r["encrypted_output_hash"])
        out = self.assert_verifies(job, "--script", self.script, "--input", self.input,
                                   "--expect-measurement", self.meas)
        self.assertEqual(out.count("\nok   "), 9, out)  # all but the quote (software only)
        self.assertIn("ok   runtime matches the receipt: js", out)
        self.assertIn("skip quote: none", out)
        # unpinned: integrity only, and the line says so
        self.assertIn("not pinned", self.assert_verifies(job, pin=False))

    def test_async_job_receipt(self):
        st, q, _ = self.d.execute(self.alice, SCRIPT, input=INPUT, **{"async": True})
        self.assertEqual(st, 202)
        self.assertNotIn("receipt", q)  # nothing finished yet
        job = self.d.wait_job(self.alice, q["job_id"])
        self.assert_receipt(job, "completed")
        self.assert_verifies(job, "--script", self.script, "--input", self.input)
        st, page, _ = self.d.request("GET", "/jobs?limit=100", token=self.alice)
        listed = [j for j in page["jobs"] if j["job_id"] == q["job_id"]]
        self.assertEqual(listed[0]["receipt_signature"], job["receipt_signature"])

    def test_failed_jobs_have_receipts_that_verify(self):
        boom = self.run_js(THROWS, input={"x": 7})
        self.assertEqual(boom["error"]["code"], "EXECUTION_ERROR", summary(boom))
        r = self.assert_receipt(boom, "failed", "EXECUTION_ERROR")
        self.assertIsNone(r["output_hash"])
        self.assertEqual(r["input_hash"], output_hash({"x": 7}))
        thrower = self.file("throws.js", THROWS.encode())
        inp = self.file("x7.json", b'{"x": 7}')
        self.assert_verifies(boom, "--script", thrower, "--input", inp)
        slow = self.run_js(LOOP, input=None, timeout=1)
        self.assert_receipt(slow, "failed", "TIMEOUT")
        self.assertEqual(slow["receipt"]["input_hash"], output_hash(None))
        self.assert_verifies(slow, "--script", self.file("loop.js", LOOP.encode()))
        bad = self.run_js("function main( {", input=None)
        self.assert_receipt(bad, "failed", "SCRIPT_ERROR")
        self.assert_verifies(bad)
        # the failed job's error code is bound: claiming success is caught
        forged = copy.deepcopy(boom)
        forged["status"] = "completed"
        del forged["error"]
        self.assert_rejected(forged, "a failed job relabelled completed")

    def test_oversized_input_still_gets_a_receipt(self):
        # INPUT_TOO_LARGE with an input past what the receipt library hashes
        # (4 MiB canonical): the engine hashes it itself, the same way.
        big = "x" * (5 * 1024 * 1024)
        job = self.run_js("function main() { return 1; }", input=big)
        r = self.assert_receipt(job, "failed", "INPUT_TOO_LARGE")
        self.assertEqual(r["input_hash"], output_hash(big))
        self.assert_verifies(job)
        if NODE:
            path = self.file("big-input.json", json.dumps(big).encode())
            n = subprocess.run([NODE, NODE_VERIFIER, self.save(job), "--input", path,
                                "--worker-key", self.pk], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(n.returncode, 0, n.stdout)

    def test_sealed_output_receipt(self):
        keys = json.loads(cli("keygen", check=True).stdout)
        job = self.run_js(output_pubkey=keys["public_key"])
        r = self.assert_receipt(job, "completed")
        self.assertIsNone(job["output"])
        self.assertEqual(r["encrypted_output_hash"],
                         hashlib.sha256(job["encrypted_output"].encode()).hexdigest())
        self.assertEqual(r["output_hash"], output_hash(
            {"price": 1250, "pair": "NEO/USD", "note": "é"}))
        out = self.assert_verifies(job, "--script", self.script, "--input", self.input)
        self.assertIn("output is sealed", out)
        b = bytearray(base64.b64decode(job["encrypted_output"]))
        b[len(b) // 2] ^= 1
        forged = copy.deepcopy(job)
        forged["encrypted_output"] = base64.b64encode(bytes(b)).decode()
        self.assert_rejected(forged, "a flipped byte of encrypted_output")

    def test_secret_refs_are_in_the_receipt_without_values(self):
        st, ans, _ = self.d.request("PUT", "/secrets/RECEIPT_KEY", {"value": "s3cr3t-value"},
                                    token=self.alice)
        self.assertIn(st, (200, 201), ans)
        job = self.run_js("function main() { return getSecret('RECEIPT_KEY').length; }",
                          input=None, secret_refs=["RECEIPT_KEY"])
        self.assertEqual(job["output"], {"result": 12}, summary(job))
        r = self.assert_receipt(job, "completed")
        self.assertEqual(r["secret_refs"],
                         [{"name": "RECEIPT_KEY", "owner": "alice", "version": ans["version"]}])
        self.assertNotIn("s3cr3t-value", json.dumps(job))
        self.assert_verifies(job)
        missing = self.run_js("function main() { return 1; }", input=None,
                              secret_refs=["NO_SUCH_SECRET"])
        self.assertEqual(self.assert_receipt(missing, "failed", "SECRET_UNAVAILABLE")
                         ["secret_refs"], [])
        self.assert_verifies(missing)

    @unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
    def test_wasm_receipts(self):
        mod = read_bytes(GUEST)
        body = {"runtime": "wasm", "module": base64.b64encode(mod).decode(),
                "args": ["echo"], "input": {"x": [1, 2]}}
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual((st, job["status"]), (200, "completed"), summary(job))
        r = self.assert_receipt(job, "completed")
        self.assertEqual((r["runtime"], r["entry_point"]), ("wasm", None))
        self.assertEqual(r["code_hash"], hashlib.sha256(mod).hexdigest())
        self.assertTrue(r["engine_version"].startswith("sealrun-wasm "))
        inp = self.file("wasm-input.json", b'{"x": [1, 2]}')
        self.assert_verifies(job, "--module", GUEST, "--input", inp)
        body["args"] = ["exit", "7"]
        st, failed, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assert_receipt(failed, "failed", "EXIT_CODE")
        self.assert_verifies(failed, "--module", GUEST, "--input", inp)
        # by hash, as uploaded modules run
        st, info, _ = self.d.request("POST", "/modules", raw=mod, token=self.alice,
                                     headers={"Content-Type": "application/wasm"})
        self.assertIn(st, (200, 201), info)
        body = {"runtime": "wasm", "module_hash": r["code_hash"], "args": ["echo"],
                "input": {"x": [1, 2]}}
        st, byhash, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual(byhash["receipt"]["code_hash"], r["code_hash"], summary(byhash))
        self.assert_verifies(byhash, "--module", GUEST)

    # --- tampering ---
    def test_tampering_is_caught_by_both_verifiers(self):
        job = self.run_js()
        self.assert_verifies(job)
        # the output
        forged = copy.deepcopy(job)
        forged["output"]["price"] += 1
        self.assert_rejected(forged, "a changed output")
        forged = copy.deepcopy(job)
        forged["output"]["note"] = "e"
        self.assert_rejected(forged, "a changed output string")
        forged = copy.deepcopy(job)
        forged["logs"] = ["pair NEO/EUR"]
        self.assert_rejected(forged, "changed logs")
        # every field of the receipt
        for k in sorted(job["receipt"]):
            forged = copy.deepcopy(job)
            forged["receipt"][k] = tampered_value(forged["receipt"][k])
            self.assert_rejected(forged, f"a changed receipt field '{k}'")
        # the signature: a flipped bit in several places, and letter case
        sig = job["receipt_signature"]
        for pos in (0, 31, 64, 127):
            forged = copy.deepcopy(job)
            c = int(sig[pos], 16) ^ 1
            forged["receipt_signature"] = sig[:pos] + format(c, "x") + sig[pos + 1:]
            self.assert_rejected(forged, f"a flipped bit at signature hex {pos}")
        forged = copy.deepcopy(job)
        forged["receipt_signature"] = sig.upper()
        self.assert_rejected(forged, "an upper-case signature")
        forged = copy.deepcopy(job)
        del forged["receipt_signature"]
        self.assert_rejected(forged, "a missing signature")

    def test_wrong_evidence_is_caught(self):
        job = self.run_js()
        other = self.file("other.js", SCRIPT.replace("100", "101").encode())
        self.assert_rejected(job, "another script", "--script", other)
        inp = self.file("other-input.json", json.dumps(dict(INPUT, usd=12.51)).encode())
        self.assert_rejected(job, "another input", "--input", inp)
        self.assert_rejected(job, "another measurement", "--expect-measurement",
                             flip_hex(self.meas))
        # pinned to another worker key (the C and node verifiers both refuse)
        c = cli("verify", self.save(job), "--worker-key", flip_hex(self.pk))
        self.assertEqual(c.returncode, 1, c.stdout)
        self.assertIn("FAIL", c.stdout)

    def test_verify_usage(self):
        self.assertEqual(cli("verify", "--help").returncode, 0)
        self.assertIn("--worker-key", cli("verify", "--help").stdout)
        self.assertEqual(cli("verify").returncode, 2)
        job = self.save(self.run_js())
        self.assertEqual(cli("verify", job, "--worker-key", "ABC").returncode, 2)
        self.assertEqual(cli("verify", job, "--script", self.script, "--module",
                             self.script).returncode, 2)
        p = cli("verify", self.file("notjson.json", b"{nope"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL", p.stdout)

    # --- numbers RFC 8785 cannot hash exactly ---
    def job_ids(self):
        st, page, _ = self.d.request("GET", "/jobs?limit=100", token=self.alice)
        self.assertEqual(st, 200, page)
        return {j["job_id"] for j in page["jobs"]}

    def test_inexact_input_numbers_are_refused_with_400(self):
        before = self.job_ids()
        for lit in ("1000000000000000001", "9007199254740993", "1152921504606846976",
                    "0.1000000000000000055511151231257827", "1e400", "-1e-400"):
            raw = ('{"script": "function main(i) { return i; }", "input": {"amount": %s}}'
                   % lit).encode()
            st, ans, _ = self.d.request("POST", "/execute", raw=raw, token=self.alice)
            self.assertEqual(st, 400, (lit, ans))
            msg = ans["error"]["message"]
            self.assertIn(f"request body has a number that RFC 8785 cannot hash", msg)
            self.assertIn(f"'{lit}' at byte {raw.index(lit.encode())}", msg)
            self.assertIn("send it as a string", msg)
        self.assertEqual(self.job_ids(), before)  # nothing was run or stored
        # as a string it goes through, and is hashed as that string
        job = self.run_js("function main(i) { return i; }",
                          input={"amount": "1000000000000000001"})
        self.assertEqual(job["output"], {"amount": "1000000000000000001"}, summary(job))
        self.assertEqual(job["output_hash"], output_hash({"amount": "1000000000000000001"}))
        # numbers RFC 8785 writes exactly pass, big ones included; -0 is 0
        raw = (b'{"script": "function main(i) { return i; }",'
               b' "input": {"a": [1152921504606847000, 1e21, 0.1, -0, 9007199254740992]}}')
        st, job, _ = self.d.request("POST", "/execute", raw=raw, token=self.alice)
        self.assertEqual((st, job["status"]), (200, "completed"), summary(job))
        want = {"a": [1152921504606847000, 1e21, 0.1, 0, 9007199254740992]}
        self.assertEqual(job["output"], want)
        self.assertEqual(job["output_hash"], output_hash(want))
        self.assertEqual(job["receipt"]["input_hash"], output_hash(want))
        self.assert_verifies(job)
        # the CLI's --input holds the same rule
        p = cli("run", self.script, "--input", '{"usd": 1000000000000000001}')
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("'1000000000000000001' at byte 8", p.stderr)

    def test_js_output_with_an_inexact_number_fails_the_job(self):
        hashes = set()
        for lit in ("1000000000000000001", "1000000000000000063"):
            script = ("function main() { console.log('made it');"
                      f" return {{n: JSON.rawJSON('{lit}')}}; }}")
            job = self.run_js(script, input=None)
            self.assertEqual((job["status"], job["error"]["code"]),
                             ("failed", "OUTPUT_NUMBER_INEXACT"), summary(job))
            msg = job["error"]["message"]
            self.assertIn(f"'{lit}' at byte", msg)
            self.assertIn("would be hashed as 1000000000000000000", msg)
            self.assertIn("send it as a string", msg)
            self.assertIsNone(job["output"])
            self.assertNotIn("output_hash", job)
            self.assertEqual(job["logs"], ["made it"])
            r = self.assert_receipt(job, "failed", "OUTPUT_NUMBER_INEXACT")
            self.assertIsNone(r["output_hash"])
            hashes.add(job["receipt_signature"])
            self.assert_verifies(job)
        self.assertEqual(len(hashes), 2)
        job = self.run_js("function main() { return [JSON.rawJSON('1e400')]; }", input=None)
        self.assertEqual(job["error"]["code"], "OUTPUT_NUMBER_INEXACT", summary(job))
        self.assertIn("'1e400' at byte 11 is beyond the largest IEEE 754 double",
                      job["error"]["message"])
        # the double 2^60 and the exact literal of it are one output
        a = self.run_js("function main() { return {n: 2 ** 60}; }", input=None)
        b = self.run_js("function main() { return {n: JSON.rawJSON('1152921504606847000')}; }",
                        input=None)
        for job in (a, b):
            self.assertEqual(job["output"], {"n": 1152921504606847000}, summary(job))
            self.assertEqual(job["output_hash"], output_hash({"n": 1152921504606847000}))
        self.assert_verifies(a)

    @unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
    def test_wasm_output_with_an_inexact_number_fails_the_job(self):
        mod = base64.b64encode(read_bytes(GUEST)).decode()
        body = {"runtime": "wasm", "module": mod, "args": ["echo"],
                "input": "[1, 1000000000000000001]"}  # a string: stdin gets its bytes
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual((st, job["status"]), (200, "failed"), summary(job))
        self.assertEqual(job["error"]["code"], "OUTPUT_NUMBER_INEXACT")
        self.assertIn("stdout has a number that RFC 8785 cannot hash exactly: "
                      "'1000000000000000001' at byte 4", job["error"]["message"])
        self.assert_receipt(job, "failed", "OUTPUT_NUMBER_INEXACT")
        self.assert_verifies(job, "--module", GUEST)
        body["input"] = "[1152921504606847000, 0.1, -0.0]"
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual((st, job["status"]), (200, "completed"), summary(job))
        self.assertEqual(job["output"], [1152921504606847000, 0.1, 0])
        self.assertEqual(job["output_hash"], output_hash([1152921504606847000, 0.1, 0]))
        # a key twice in stdout is not one JSON value
        body["input"] = '{"to": "bob", "to": "mallory"}'
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual(job["error"]["code"], "OUTPUT_NOT_JSON", summary(job))
        self.assertIn('stdout has the key "to" twice in one object', job["error"]["message"])
        # a number as text output is a string, whatever its digits
        body.update(input="1000000000000000001", output_format="text")
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual(job["output"], "1000000000000000001", summary(job))

    # --- one value per key, and the runtime ---
    def test_requests_with_a_key_twice_are_refused(self):
        before = self.job_ids()
        for raw, key in (
            (b'{"script": "function main() { return 1; }", "input": 1,'
             b' "script": "function main() { return 2; }"}', '"script"'),
            (b'{"script": "function main(i) { return i; }", "input": {"to": "bob",'
             b' "to": "mallory"}}', '"to"'),
        ):
            st, ans, _ = self.d.request("POST", "/execute", raw=raw, token=self.alice)
            self.assertEqual(st, 400, ans)
            self.assertIn(f"request body has the key {key} twice in one object",
                          ans["error"]["message"])
        self.assertEqual(self.job_ids(), before)

    def save_text(self, text, name="job.json"):
        return self.file(name, text.encode())

    def test_verifiers_refuse_a_key_twice(self):
        job = self.run_js()
        real = json.dumps(job, ensure_ascii=False)
        # a fake "output" before the real one: a first-wins reader sees the fake
        fake = json.dumps({"price": 1, "pair": "NEO/USD", "note": "é"}, ensure_ascii=False)
        for text, key in (
            ('{"output": ' + fake + ", " + real[1:], '"output"'),
            (real.replace('"receipt": {', '"receipt": {"status": "failed", ', 1), '"status"'),
        ):
            path = self.save_text(text, "dup.json")
            c = cli("verify", path, "--worker-key", self.pk)
            self.assertEqual(c.returncode, 1, c.stdout)
            self.assertIn(f"FAIL job file '{path}' is not readable JSON: job file has the key "
                          f"{key} twice in one object", c.stdout)
            if NODE:
                n = subprocess.run([NODE, NODE_VERIFIER, path, "--worker-key", self.pk],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(n.returncode, 1, n.stdout)
                self.assertIn(f"job file has the key {key} twice in one object", n.stdout)
        # and in the --input file
        inp = self.save_text('{"usd": 12.5, "usd": 13}', "dup-input.json")
        c = cli("verify", self.save(job), "--input", inp)
        self.assertEqual(c.returncode, 2, c.stdout)
        self.assertIn('input file has the key "usd" twice', c.stderr)
        if NODE:
            n = subprocess.run([NODE, NODE_VERIFIER, self.save(job), "--input", inp],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(n.returncode, 2, n.stdout)
            self.assertIn('input file has the key "usd" twice', n.stderr)

    def test_verifiers_refuse_an_inexact_number(self):
        job = self.run_js("function main() { return {n: 1000000000000000000}; }", input=None)
        self.assertEqual(job["output"], {"n": 1000000000000000000}, summary(job))
        self.assert_verifies(job)
        text = json.dumps(job).replace('"n": 1000000000000000000', '"n": 1000000000000000001')
        path = self.save_text(text, "inexact.json")
        c = cli("verify", path)
        self.assertEqual(c.returncode, 1, c.stdout)
        self.assertIn("'1000000000000000001' at byte", c.stdout)
        if NODE:
            n = subprocess.run([NODE, NODE_VERIFIER, path], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(n.returncode, 1, n.stdout)
            self.assertIn("'1000000000000000001' at byte", n.stdout)

    def test_runtime_is_checked_against_the_receipt(self):
        job = self.run_js()
        forged = copy.deepcopy(job)
        forged["runtime"] = "wasm"
        self.assert_rejected(forged, "a JavaScript receipt on a job that says wasm")
        c, _ = self.verify(forged)
        self.assertIn("FAIL runtime 'wasm' differs from the receipt's 'js'", c.stdout)
        del forged["runtime"]
        self.assert_rejected(forged, "a job without its runtime")

    def test_cli_refuses_an_answer_with_a_key_twice(self):
        answer = (b'{"job_id": "00112233445566778899aabbccddeeff", "status": "completed",'
                  b' "output": {"price": 1}, "output": {"price": 1250}}')

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        srv = HTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{srv.server_address[1]}"
            p = cli("exec", "--server", url, "--token", "t", self.script)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn('server answer has the key "output" twice in one object', p.stderr)
            self.assertNotIn("1250", p.stdout)
        finally:
            srv.shutdown()
            srv.server_close()

    def test_local_run_has_no_receipt(self):
        p = cli("run", self.script, "--input", json.dumps(INPUT))
        self.assertEqual(p.returncode, 0, p.stderr)
        job = json.loads(p.stdout)
        self.assertNotIn("receipt", job)
        c = cli("verify", self.save(job))
        self.assertEqual(c.returncode, 1)
        self.assertIn("FAIL job has no receipt", c.stdout)


class ReceiptRestartTest(unittest.TestCase):
    def test_worker_key_survives_restart(self):
        d = Daemon()
        try:
            d.start()
            tok = d.token("alice")
            pk = d.request("GET", "/attestation")[1]["worker_public_key"]
            st, job, _ = d.execute(tok, "function main() { return 1; }")
            d.stop()
            d.log.close()
            d.start()
            self.assertEqual(d.request("GET", "/attestation")[1]["worker_public_key"], pk)
            st, again, _ = d.request("GET", "/jobs/" + job["job_id"], token=tok)
            self.assertEqual(again["receipt_signature"], job["receipt_signature"])
            path = os.path.join(d.data_dir, "again.json")
            with open(path, "w") as f:
                json.dump(again, f)
            p = cli("verify", path, "--worker-key", pk)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            d.cleanup()


class AttestationStartTest(unittest.TestCase):
    def start(self, *args):
        data = tempfile.mkdtemp(prefix="sealrun-att-")
        try:
            return subprocess.run([SEALRUND, "--listen", "127.0.0.1:0", "--data-dir", data,
                                   "--dev", *args], capture_output=True, text=True,
                                  env=ENV, timeout=60)
        finally:
            shutil.rmtree(data, ignore_errors=True)

    def test_tdx_without_configfs_tsm_stops_sealrund(self):
        p = self.start("--attestation", "tdx", "--tsm-root", "/nonexistent/tsm/report")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("attestation 'tdx' needs the configfs-tsm report interface", p.stderr)
        self.assertIn("/nonexistent/tsm/report", p.stderr)
        self.assertNotIn("listening on", p.stderr)

    def test_tdx_on_a_plain_directory_stops_sealrund(self):
        root = tempfile.mkdtemp(prefix="sealrun-notsm-")
        try:
            p = self.start("--attestation=tdx", "--tsm-root", root)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(root, p.stderr)
            self.assertNotIn("listening on", p.stderr)
            self.assertEqual(os.listdir(root), [])  # its report directory was removed
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_unknown_provider_is_a_usage_error(self):
        p = self.start("--attestation", "sgx")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--attestation must be 'none' or 'tdx'", p.stderr)


if __name__ == "__main__":
    main()
