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


def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        done = (n == 0 and not b & 0x40) or (n == -1 and b & 0x40)
        out.append(b | (0 if done else 0x80))
        if done:
            return bytes(out)


def i32(n):
    """i32.const n (n as an unsigned 32-bit value)."""
    return b"\x41" + sleb(n - (1 << 32) if n >= 1 << 31 else n)


def mem_module(pages, *funcs):
    """A module with a memory of 'pages' pages exported as "memory" and
    _start = funcs[0]: each func is (type index, locals bytes, code bytes);
    types 0 = [] -> [], 1 = [i64] -> [i64]."""
    types = section(1, b"\x02\x60\x00\x00\x60\x01\x7e\x01\x7e")
    fsec = section(3, leb(len(funcs)) + b"".join(leb(t) for t, _, _ in funcs))
    mem = section(5, b"\x01\x00" + leb(pages))
    exports = section(7, b"\x02" + leb(6) + b"_start\x00\x00" + leb(6) + b"memory\x02\x00")
    bodies = [loc + code + b"\x0b" for _, loc, code in funcs]
    code = section(10, leb(len(funcs)) + b"".join(leb(len(b)) + b for b in bodies))
    return b"\0asm\x01\0\0\0" + types + fsec + mem + exports + code


def access(op, addr, offset=0, value=None):
    """One load (dropped) or store of opcode op at addr + offset."""
    align = {0x2D: 0, 0x3A: 0, 0x28: 2, 0x36: 2, 0x29: 3, 0x37: 3}[op]
    code = i32(addr)
    if value is not None:
        code += (b"\x42" + sleb(value)) if op == 0x37 else i32(value)
    code += bytes([op]) + leb(align) + leb(offset)
    return code + (b"" if value is not None else b"\x1a")


GROW1 = i32(1) + b"\x40\x00\x1a"  # memory.grow 1; drop
LOAD8, LOAD32, LOAD64, STORE8, STORE32, STORE64 = 0x2D, 0x28, 0x29, 0x3A, 0x36, 0x37


def deep_frames_module(depth, nlocals):
    """_start calls f(depth): f loads nlocals i64s from memory into locals,
    stores n at address 0 and calls f(n - 1) (which stores there too, so the
    values loaded stay live across the call: a large C frame), then folds
    them into its result: a recursion that runs out of the C stack before the depth
    limit."""
    loc = b"\x01" + leb(nlocals) + b"\x7e"
    body = b""
    for k in range(nlocals):
        body += i32(0) + b"\x29\x03" + leb(8 * k) + b"\x21" + leb(k + 1)
    body += i32(0) + b"\x20\x00\x37\x03\x00"  # i64.store (0, n)
    # if n == 0 then 0 else f(n - 1)
    body += (b"\x20\x00\x50\x04\x7e\x42\x00\x05\x20\x00\x42\x01\x7d\x10\x01\x0b")
    for k in range(nlocals):  # r = (r ^ l) * 3: nothing the compiler can add up before the call
        body += b"\x20" + leb(k + 1) + b"\x85\x42\x03\x7e"
    start = i32(8192) + b"\x42" + sleb(depth) + b"\x10\x01\x37\x03\x00"  # kept in memory
    return mem_module(1, (0, b"\x00", start), (1, loc, body))


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

    def test_memory_edges_are_the_same(self):
        """Native linear memory is guarded by pages: a load or store past its
        end faults, and the fault is the interpreter's trap, at every edge."""
        ok, oob = "completed", "out of bounds memory access"
        cases = (
            ("last byte", 1, access(LOAD8, 65535), ok),
            ("last word", 1, access(LOAD32, 65532), ok),
            ("last i64 stored", 1, access(STORE64, 65528, value=-2), ok),
            ("one past", 1, access(LOAD8, 65536), oob),
            ("store one past", 1, access(STORE32, 65536, value=7), oob),
            ("word across the end", 1, access(LOAD32, 65533), oob),
            ("i64 across the end", 1, access(STORE64, 65529, value=1), oob),
            ("offset past the end", 1, access(LOAD8, 0, offset=65536), oob),
            ("offset overflow", 1, access(LOAD32, 1, offset=0xFFFFFFFF), oob),
            ("highest address", 1, access(LOAD64, 0xFFFFFFFF, offset=0xFFFFFFFF), oob),
            ("no pages", 0, access(LOAD8, 0), oob),
            ("after grow", 1, GROW1 + access(STORE8, 131071, value=9) + access(LOAD8, 65536),
             ok),
            ("past the grown end", 1, GROW1 + access(LOAD8, 131072), oob),
        )
        for name, pages, code, want in cases:
            with self.subTest(case=name):
                mod = base64.b64encode(mem_module(pages, (0, b"\x00", code))).decode()
                a, b = self.both(module=mod, output_format="text")
                if want == ok:
                    self.assertEqual(b["status"], "completed", summary(b))
                else:
                    self.assertEqual(b["status"], "failed", summary(b))
                    self.assertEqual(b["error"]["code"], "EXECUTION_ERROR", b["error"])
                    self.assertIn(want, b["error"]["message"])
                self.same(a, b)

    def test_a_fault_outside_linear_memory_is_still_a_crash(self):
        """The fault handler takes only faults inside linear memory: a
        recursion whose C frames exhaust the job process's stack (before the
        depth limit) still ends the job process, and the daemon goes on."""
        mod = base64.b64encode(deep_frames_module(9000, 400)).decode()
        job = self.submit("native", module=mod, output_format="text")
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], "SANDBOX_CRASHED", job["error"])
        self.assertIn("SIGSEGV", job["error"]["message"])
        # the daemon is up and the next native job runs
        again = self.submit("native", args=["echo"], input={"after": "crash"})
        self.assertEqual(again["status"], "completed", summary(again))

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
