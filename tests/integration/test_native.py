# SPDX-License-Identifier: MIT
"""test_native.py - the native tier through the real daemon (docs/wasm.md,
"Two tiers"): "tier": "interp" and "native" give the same output hash,
gas_used, error codes and messages on the same module and input; the job
object and the signed receipt say which tier ran, and `sealrun verify`
accepts both; "auto" runs a module in the interpreter --native-after times,
compiles it in the background and then runs it natively; a bad tier is a
400, and a module the native tier cannot run is a clear job error."""
import base64
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, leb, main, section, summary  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")


def burn_module(count, memory=False):
    """_start counts a local to 'count' (7 fuel a turn) and returns. With
    memory: it also declares a memory of one page that it does not export
    (the native tier needs it exported as "memory")."""
    types = section(1, b"\x01\x60\x00\x00")
    funcs = section(3, b"\x01\x00")
    mem = section(5, b"\x01\x00\x01") if memory else b""
    exports = section(7, b"\x01" + leb(6) + b"_start\x00\x00")
    n = leb(count)
    body = (bytes([0x01, 0x01, 0x7F, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6A, 0x22, 0x00, 0x41])
            + n + bytes([0x47, 0x0D, 0x00, 0x0B, 0x0B]))
    code = section(10, b"\x01" + leb(len(body)) + body)
    return b"\0asm\x01\0\0\0" + types + funcs + mem + exports + code


@unittest.skipUnless(GUEST and os.path.exists(GUEST), "SR_WASM_GUEST is not built")
class NativeTierTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--native-after", "2").start()
        cls.tok = cls.d.token("alice")
        with open(GUEST, "rb") as f:
            cls.mod = base64.b64encode(f.read()).decode()
        # the first native job compiles the module (every other one hits the cache)
        job = cls.submit(cls, "native", args=["echo"], input={"warm": 1})
        if job.get("tier") != "native" or job["status"] != "completed":
            raise AssertionError("the native tier did not run: " + json.dumps(job)[:2000] +
                                 cls.d.log_text()[-3000:])

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def submit(self, tier, module=None, **fields):
        body = {"runtime": "wasm", "module": module or self.mod, "tier": tier}
        body.update(fields)
        st, job, _ = self.d.request("POST", "/execute", body, token=self.tok)
        if st != 200:
            raise AssertionError(f"HTTP {st}: {job}")
        return job

    def both(self, **fields):
        a = self.submit("interp", **fields)
        b = self.submit("native", **fields)
        self.assertEqual(a["tier"], "interp")
        self.assertEqual(b["tier"], "native")
        self.assertEqual(a["receipt"]["tier"], "interp")
        self.assertEqual(b["receipt"]["tier"], "native")
        return a, b

    def same(self, a, b):
        self.assertEqual(a["status"], b["status"], summary(b))
        self.assertEqual(a.get("output_hash"), b.get("output_hash"))
        self.assertEqual(a.get("output"), b.get("output"))
        self.assertEqual(a["gas_used"], b["gas_used"])
        self.assertEqual(a["receipt"]["gas_used"], b["receipt"]["gas_used"])
        self.assertEqual(a["logs"], b["logs"])
        self.assertEqual(a.get("error"), b.get("error"))

    def verify(self, job):
        path = os.path.join(self.d.data_dir, job["job_id"] + ".json")
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify", path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("tier matches the receipt: " + job["tier"], p.stdout)
        # a job object whose tier was changed after signing does not verify
        job = dict(job, tier="interp" if job["tier"] == "native" else "native")
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify", path)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("tier", p.stdout + p.stderr)

    def test_same_output_and_gas_in_both_tiers(self):
        for fields in ({"args": ["echo"], "input": {"n": [1, 2, 3], "s": "x"}},
                       {"args": ["args", "a b", "c"], "env": {"GREETING": "hi"},
                        "output_format": "text"},
                       {"args": ["logs", "3", "10"], "output_format": "text"},
                       {"args": ["depth", "37"], "output_format": "text"}):
            with self.subTest(fields=fields):
                a, b = self.both(**fields)
                self.assertEqual(a["status"], "completed", summary(a))
                self.same(a, b)
        self.verify(a)
        self.verify(b)

    def test_traps_give_the_same_codes_and_messages(self):
        for mode, code, text in (("trap", "EXECUTION_ERROR", "unreachable"),
                                 ("div0", "EXECUTION_ERROR", "integer divide by zero"),
                                 ("oob", "EXECUTION_ERROR", "out of bounds memory access"),
                                 ("stack", "EXECUTION_ERROR", "stack in linear memory is "
                                  "exhausted"),
                                 ("exit", "EXIT_CODE", "exited with code 3")):
            with self.subTest(mode=mode):
                a, b = self.both(args=[mode, "3"] if mode == "exit" else [mode])
                self.assertEqual(b["status"], "failed")
                self.assertEqual(b["error"]["code"], code, b["error"])
                self.assertIn(text, b["error"]["message"])
                self.same(a, b)
        self.verify(b)

    def test_fuel_exhaustion_is_the_same(self):
        for limit in (2000000, 123457):
            a, b = self.both(args=["spin"], gas_limit=limit)
            self.assertEqual(b["error"]["code"], "GAS_EXHAUSTED")
            self.assertLessEqual(b["gas_used"], limit)
            self.same(a, b)

    def test_memory_cap_is_the_same(self):
        a, b = self.both(args=["grow"], memory_mb=16, output_format="text")
        self.assertEqual(b["status"], "completed", summary(b))
        self.assertLess(int(b["output"]), 16)
        self.same(a, b)

    def test_rust_guest_is_the_same_with_its_memory_limit(self):
        rust = os.path.join(os.path.dirname(GUEST), "guest_rust.wasm")
        if not os.path.exists(rust):
            self.skipTest("guest_rust.wasm is not built")
        with open(rust, "rb") as f:
            mod = base64.b64encode(f.read()).decode()
        for fields in ({"args": ["echo"], "input": {"rust": [1, 2]}},
                       {"args": ["grow"], "memory_mb": 32},
                       {"args": ["panic"]},
                       {"args": ["stack"]}):
            with self.subTest(fields=fields):
                a, b = self.both(module=mod, **fields)
                self.same(a, b)
                if fields["args"] == ["grow"]:
                    self.assertEqual(b["status"], "failed", summary(b))
                    self.assertIn(b["error"]["code"], ("MEMORY_LIMIT", "EXECUTION_ERROR"))

    def test_bad_tier_is_a_400(self):
        for tier in ("fast", "", 1, True):
            st, body, _ = self.d.request("POST", "/execute",
                                         {"runtime": "wasm", "module": self.mod, "tier": tier},
                                         token=self.tok)
            self.assertEqual(st, 400, body)
            self.assertEqual(body["error"]["code"], "invalid_request")
            self.assertIn("'tier' must be \"auto\", \"interp\" or \"native\"",
                          body["error"]["message"])
        st, body, _ = self.d.execute(self.tok, "function main() { return 1; }", tier="native")
        self.assertEqual(st, 400, body)
        self.assertIn("field 'tier' is for runtime \"wasm\"", body["error"]["message"])
        # a JavaScript job has no tier in its object or receipt
        st, js, _ = self.d.execute(self.tok, "function main() { return 1; }")
        self.assertEqual(st, 200, js)
        self.assertNotIn("tier", js)
        self.assertNotIn("tier", js["receipt"])

    def test_native_tier_failure_is_a_job_error(self):
        mod = base64.b64encode(burn_module(10, memory=True)).decode()
        job = self.submit("native", module=mod)
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], "MODULE_ERROR")
        self.assertIn("the native tier needs the module's memory exported as 'memory'",
                      job["error"]["message"])
        self.assertEqual(job["tier"], "native")
        # the interpreter runs it, and so does "auto" (it falls back)
        self.assertEqual(self.submit("interp", module=mod, output_format="text")["status"],
                         "completed")
        auto = self.submit("auto", module=mod, output_format="text")
        self.assertEqual(auto["status"], "completed", summary(auto))
        self.assertEqual(auto["tier"], "interp")

    def test_info_says_the_tier_is_on(self):
        st, info, _ = self.d.request("GET", "/info")
        self.assertEqual(st, 200)
        nat = info["engines"]["wasm"]["native"]
        self.assertTrue(nat["enabled"], nat)
        self.assertTrue(nat["compiler"].startswith("sealrun-native/"), nat)
        self.assertEqual(nat["after"], 2)
        self.assertEqual(nat["cache_max_bytes"], 256 << 20)

    def test_native_off(self):
        with Daemon("--native", "off") as d:
            tok = d.token("bob")
            st, info, _ = d.request("GET", "/info")
            self.assertEqual(info["engines"]["wasm"]["native"],
                             {"enabled": False, "reason": "the native tier is off on this service"})
            body = {"runtime": "wasm", "module": self.mod, "args": ["echo"], "input": 1}
            st, job, _ = d.request("POST", "/execute", dict(body, tier="native"), token=tok)
            self.assertEqual(job["error"]["code"], "MODULE_ERROR", summary(job))
            self.assertIn("the native tier cannot run this module", job["error"]["message"])
            self.assertIn("the native tier is off on this service", job["error"]["message"])
            for _ in range(4):  # past --native-after: still the interpreter
                st, job, _ = d.request("POST", "/execute", body, token=tok)
                self.assertEqual((job["status"], job["tier"]), ("completed", "interp"))

    def test_auto_switches_after_n_runs(self):
        mod = base64.b64encode(burn_module(5000)).decode()
        want = self.submit("interp", module=mod, output_format="text")
        self.assertEqual(want["status"], "completed", summary(want))
        # --native-after 2: the first two runs in the interpreter, then a
        # background compile; the runs after it in native code
        first = [self.submit("auto", module=mod, output_format="text") for _ in range(2)]
        self.assertEqual([j["tier"] for j in first], ["interp", "interp"])
        deadline = time.time() + 240
        tiers = []
        while time.time() < deadline:
            job = self.submit("auto", module=mod, output_format="text")
            tiers.append(job["tier"])
            self.same(want, job)
            if job["tier"] == "native":
                break
            time.sleep(0.2)
        self.assertEqual(tiers[-1], "native", tiers)
        self.assertEqual(job["receipt"]["tier"], "native")
        self.assertIn("compiled module", self.d.log_text())
        self.verify(job)


if __name__ == "__main__":
    main()
