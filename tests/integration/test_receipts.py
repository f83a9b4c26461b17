"""test_receipts.py - signed receipts end to end against the real daemon
(docs/receipts.md): GET /attestation (key, measurement recomputed here from
its exe_sha256 and config, quote type none), a receipt on every job response
(sync, async, failed, sealed, WebAssembly, with secrets) and stored with the
job, `sealrun verify` and examples/verify-receipt.mjs accepting fresh jobs
and both catching every tampered output, receipt field, encrypted output and
signature, and --attestation tdx stopping sealrund when configfs-tsm is
absent."""
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
import unittest

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
        self.assertEqual(out.count("\nok   "), 8, out)  # all but the quote (software only)
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
