# SPDX-License-Identifier: MIT
"""test_wasm.py - WebAssembly jobs through the real daemon: module upload
and metadata, execution by hash and inline, WASI args/env/stdin/stdout/stderr,
output formats, every failure code, fuel determinism, async, and the CLI
running the same module locally with the same output and fuel."""
import base64
import hashlib
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, leb, main, output_hash, section, summary  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")


def start_trap_module():
    """A module whose start function counts to 1000 (7,000 fuel) and then
    traps (unreachable, 1 more); its _start is never reached."""
    types = section(1, b"\x01\x60\x00\x00")
    funcs = section(3, b"\x02\x00\x00")
    exports = section(7, b"\x01" + leb(6) + b"_start\x00\x01")
    start = section(8, b"\x00")
    burn = bytes([0x01, 0x01, 0x7F, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6A, 0x22, 0x00,
                  0x41, 0xE8, 0x07, 0x47, 0x0D, 0x00, 0x0B, 0x00, 0x0B])
    nothing = b"\x00\x0b"
    code = section(10, b"\x02" + leb(len(burn)) + burn + leb(len(nothing)) + nothing)
    return b"\0asm\x01\0\0\0" + types + funcs + exports + start + code
RUST = os.path.join(os.path.dirname(GUEST), "guest_rust.wasm") if GUEST else ""
FILES_C = os.path.join(os.path.dirname(GUEST), "files_c.wasm") if GUEST else ""
FILES_RUST = os.path.join(os.path.dirname(GUEST), "files_rust.wasm") if GUEST else ""


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def command(ntypes, nfuncs, body):
    """A valid command module: ntypes types [] -> [] (3 bytes each), nfuncs
    functions of type 0 with the same body, function 0 exported as _start."""
    types = section(1, leb(ntypes) + b"\x60\x00\x00" * ntypes)
    funcs = section(3, leb(nfuncs) + b"\x00" * nfuncs)
    exports = section(7, b"\x01" + leb(6) + b"_start\x00\x00")
    code = section(10, leb(nfuncs) + (leb(len(body)) + body) * nfuncs)
    return b"\0asm\x01\0\0\0" + types + funcs + exports + code


class HostileModuleTest(unittest.TestCase):
    """Small valid modules that used to cost their decoder a gigabyte (issue 9
    item 2): 20,000 functions declaring 49,999 locals each in 4 bytes (50 KB
    per function), and 1,000,000 types of 3 bytes (1,001 bytes per type). The
    module check (a job process under its own memory cap) accepts them, their
    jobs run, and sealrund's peak resident memory (/proc) stays flat."""

    def test_modules_that_used_to_need_a_gigabyte_upload_and_run(self):
        with Daemon() as d:
            tok = d.token("mallory")
            before = vm_kb(d.proc.pid, "VmHWM")
            empty = b"\x00\x0b"
            for name, mod in (("locals", command(1, 20000, b"\x01" + leb(49999) + b"\x7f\x0b")),
                              ("types", command(1000000, 1, empty))):
                st, info, _ = d.request("POST", "/modules", raw=mod, token=tok,
                                        headers={"Content-Type": "application/wasm"})
                self.assertIn(st, (200, 201), (name, len(mod), info))
                st, job, _ = d.request("POST", "/execute",
                                       {"runtime": "wasm", "module_hash": info["hash"],
                                        "output_format": "text"}, token=tok)
                self.assertEqual(st, 200, job)
                self.assertEqual(job["status"], "completed", (name, summary(job)))
            grown = vm_kb(d.proc.pid, "VmHWM") - before
            self.assertLess(grown, 64 * 1024, f"sealrund's peak RSS grew by {grown} KiB")


@unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built (clang + wasi-libc missing)")
class WasmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        cls.bytes = open(GUEST, "rb").read()
        cls.hash = hashlib.sha256(cls.bytes).hexdigest()
        st, info, _ = cls.upload(cls.alice, cls.bytes)
        assert st in (200, 201), info

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    @classmethod
    def upload(cls, token, data, ctype="application/wasm"):
        return cls.d.request("POST", "/modules", raw=data, token=token,
                             headers={"Content-Type": ctype})

    def run_wasm(self, token=None, **fields):
        body = {"runtime": "wasm", "module_hash": self.hash}
        body.update(fields)
        st, job, _ = self.d.request("POST", "/execute", body, token=token or self.alice)
        self.assertEqual(st, 200, summary(job))
        return job

    def failed(self, job, code, text=None):
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], code, job["error"])
        if text:
            self.assertIn(text, job["error"]["message"])

    # --- modules ---
    def test_upload_is_deduplicated_and_described(self):
        st, info, _ = self.upload(self.alice, self.bytes)
        self.assertEqual(st, 200)
        self.assertFalse(info["created"])
        self.assertEqual(info["hash"], self.hash)
        self.assertEqual(info["size"], len(self.bytes))
        st, meta, _ = self.d.request("GET", "/modules/" + self.hash, token=self.alice)
        self.assertEqual(st, 200)
        names = {(i["module"], i["name"]) for i in meta["imports"]}
        self.assertIn(("wasi_snapshot_preview1", "fd_write"), names)
        self.assertIn({"name": "_start", "kind": "func"}, meta["exports"])
        self.assertIn("created_at", meta)

    def test_module_of_another_user_is_not_found(self):
        carol = self.d.token("carol")
        st, body, _ = self.d.request("GET", "/modules/" + self.hash, token=carol)
        self.assertEqual(st, 404)
        st, body, _ = self.d.request("POST", "/execute", {"runtime": "wasm",
                                                          "module_hash": self.hash},
                                     token=carol)
        self.assertEqual(st, 404)
        self.assertIn("POST /modules", body["error"]["message"])

    def test_upload_errors(self):
        st, body, _ = self.upload(self.alice, b"\0asm\x01\0\0\0\x05")
        self.assertEqual(st, 400)
        self.assertIn("invalid module", body["error"]["message"])
        st, body, _ = self.upload(self.alice, self.bytes, ctype="application/json")
        self.assertEqual(st, 400)
        self.assertIn("application/wasm", body["error"]["message"])
        st, body, _ = self.d.request("POST", "/modules", raw=self.bytes,
                                     headers={"Content-Type": "application/wasm"})
        self.assertEqual(st, 401)

    def test_execute_request_errors(self):
        for body, text in (
            ({"runtime": "wasm"}, "exactly one of 'module'"),
            ({"runtime": "wasm", "module_hash": "zz"}, "64 lower-case hex"),
            ({"runtime": "wasm", "module_hash": self.hash, "script": "x"}, "runtime \"js\""),
            ({"runtime": "wasm", "module_hash": self.hash, "output_format": "xml"}, "output_format"),
            ({"runtime": "wasm", "module_hash": self.hash, "env": {"SEALRUN_X": "1"}}, "SEALRUN_"),
            ({"runtime": "wasm", "module_hash": self.hash, "args": [1]}, "'args'"),
            ({"runtime": "wasm", "module": "!!!"}, "invalid base64"),
            ({"runtime": "wasm", "module": base64.b64encode(b"\0asm\x02\0\0\0").decode()},
             "invalid module"),
            ({"runtime": "wasm", "module_hash": self.hash, "gas_limit": 10**12}, "gas_limit"),
            ({"runtime": "python", "script": "x"}, "\"js\" or \"wasm\""),
        ):
            st, ans, _ = self.d.request("POST", "/execute", body, token=self.alice)
            self.assertEqual(st, 400, (body, ans))
            self.assertIn(text, ans["error"]["message"], body)

    # --- running ---
    def test_stdin_json_to_stdout_json(self):
        job = self.run_wasm(args=["echo"], input={"x": [1, 2]})
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"], {"x": [1, 2]})
        self.assertEqual(job["output_hash"], output_hash({"x": [1, 2]}))
        self.assertEqual(job["logs"], ["echo done"])
        self.assertGreater(job["gas_used"], 0)

    def test_string_input_arrives_as_bytes_and_text_output(self):
        job = self.run_wasm(args=["echo"], input="héllo", output_format="text")
        self.assertEqual(job["output"], "héllo")
        job = self.run_wasm(args=["echo"], input="raw", output_format="base64")
        self.assertEqual(base64.b64decode(job["output"]), b"raw")

    def test_args_and_env(self):
        job = self.run_wasm(args=["args", "a b", "c"], env={"GREETING": "hi"},
                            output_format="text")
        self.assertEqual(job["output"], "argc=4 [job] [args] [a b] [c] GREETING=hi\n")

    def test_output_not_json(self):
        self.failed(self.run_wasm(args=["echo"], input="not json"), "OUTPUT_NOT_JSON",
                    "output_format")

    def test_stderr_lines_become_capped_logs(self):
        job = self.run_wasm(args=["logs", "150", "20"])
        self.assertEqual(job["status"], "completed", summary(job))
        logs = job["logs"]
        self.assertEqual(len(logs), 100)
        self.assertTrue(logs[0].startswith("line 0 y"), logs[0])
        self.assertTrue(logs[99].endswith(" [log limit: 50 more entries dropped]"), logs[99])
        job = self.run_wasm(args=["logs", "2", "5000"])
        self.assertEqual(len(job["logs"]), 2)
        for line in job["logs"]:
            self.assertEqual(len(line), 4096 + len(" [truncated: log entry longer than 4096 bytes]"))
            self.assertTrue(line.endswith(" [truncated: log entry longer than 4096 bytes]"))

    def test_exit_code(self):
        self.failed(self.run_wasm(args=["exit", "7"]), "EXIT_CODE", "code 7")

    def test_traps(self):
        self.failed(self.run_wasm(args=["trap"]), "EXECUTION_ERROR", "unreachable")
        self.failed(self.run_wasm(args=["div0"]), "EXECUTION_ERROR", "integer divide by zero")
        self.failed(self.run_wasm(args=["oob"]), "EXECUTION_ERROR", "out of bounds memory access")
        self.assertNotIn("stack", self.run_wasm(args=["oob"])["error"]["message"])

    def test_a_c_stack_overflow_is_named(self):
        job = self.run_wasm(args=["stack"])
        self.failed(job, "EXECUTION_ERROR", "wasm trap: out of bounds memory access: the "
                    "program's stack in linear memory is exhausted")
        self.assertIn("-Wl,-z,stack-size=N", job["error"]["message"])
        self.assertGreater(job["gas_used"], 0)

    def test_fuel_is_exhausted_and_deterministic(self):
        a = self.run_wasm(args=["spin"], gas_limit=2000000)
        self.failed(a, "GAS_EXHAUSTED")
        # fuel is charged per basic block: the block that did not fit is not charged
        self.assertLessEqual(a["gas_used"], 2000000)
        self.assertGreater(a["gas_used"], 1900000)
        b = self.run_wasm(args=["echo"], input={"n": 1})
        c = self.run_wasm(args=["echo"], input={"n": 1})
        self.assertEqual(b["gas_used"], c["gas_used"])

    def test_fuel_of_a_trapping_start_function_is_reported_and_signed(self):
        mod = base64.b64encode(start_trap_module()).decode()
        st, job, _ = self.d.request("POST", "/execute", {"runtime": "wasm", "module": mod},
                                    token=self.alice)
        self.assertEqual(st, 200, summary(job))
        self.failed(job, "EXECUTION_ERROR", "unreachable")
        self.assertEqual(job["gas_used"], 7001)
        self.assertEqual(job["receipt"]["gas_used"], 7001)

    def test_a_c_program_that_opens_files_uploads_and_runs(self):
        # fopen links fd_fdstat_set_flags, path_open...: every preview 1 import
        # resolves, and a job without preopened directories gets errnos
        with open(FILES_C, "rb") as f:
            st, info, _ = self.upload(self.alice, f.read())
        self.assertIn(st, (200, 201), info)
        names = {i["name"] for i in self.d.request("GET", "/modules/" + info["hash"],
                                                   token=self.alice)[1]["imports"]}
        self.assertTrue({"fd_fdstat_set_flags", "path_open", "sock_recv"} <= names)
        job = self.run_wasm(module_hash=info["hash"])
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"]["fopen_read"], "Capabilities insufficient")
        self.assertEqual(job["output"]["read_fd3"], "Bad file descriptor")
        job = self.run_wasm(module_hash=info["hash"], args=["raw"])
        self.assertEqual(job["output"]["path_open"], [8, 54])
        self.assertEqual(job["output"]["fd_fdstat_set_flags"], [8, 76])
        self.assertEqual(job["output"]["sock_send"], [8, 57])

    def test_output_too_large(self):
        self.failed(self.run_wasm(args=["bigout"]), "OUTPUT_TOO_LARGE")

    def test_memory_is_capped_by_memory_mb(self):
        job = self.run_wasm(args=["grow"], memory_mb=16, output_format="text")
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertLess(int(job["output"]), 16)

    def test_deep_recursion_hits_the_call_depth(self):
        self.failed(self.run_wasm(args=["depth", "1000000"]), "EXECUTION_ERROR")

    def test_inline_module_and_async(self):
        mod = base64.b64encode(self.bytes).decode()
        st, ans, _ = self.d.request("POST", "/execute",
                                    {"runtime": "wasm", "module": mod, "args": ["echo"],
                                     "input": {"q": 1}, "async": True}, token=self.bob)
        self.assertEqual(st, 202, ans)
        job = self.d.wait_job(self.bob, ans["job_id"])
        self.assertEqual(job["output"], {"q": 1})
        self.assertEqual(job["runtime"], "wasm")

    def test_cli_run_and_exec_agree(self):
        args = ["--arg", "echo", "--input", '{"k": "v"}']
        local = cli("run", GUEST, *args, check=True)
        remote = cli("exec", "--server", self.d.url, "--token", self.alice, GUEST, *args,
                     check=True)
        l, r = json.loads(local.stdout), json.loads(remote.stdout)
        for k in ("status", "output", "logs", "gas_used", "output_hash"):
            self.assertEqual(l[k], r[k], k)
        p = cli("run", GUEST, "--arg", "exit", "--arg", "5")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "EXIT_CODE")
        p = cli("run", GUEST, "--arg", "spin", "--fuel", "100000")
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "GAS_EXHAUSTED")
        p = cli("run", GUEST, "--env", "nonsense")
        self.assertEqual(p.returncode, 2)


@unittest.skipUnless(os.path.exists(RUST), "Rust guest not built (/usr/bin/rustc + wasm32-wasi std)")
class RustGuestTest(unittest.TestCase):
    """A program built by Debian's rustc for wasm32-wasi, through the daemon."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.tok = cls.d.token("rusty")
        cls.mod = base64.b64encode(open(RUST, "rb").read()).decode()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_rust(self, *args, **fields):
        body = {"runtime": "wasm", "module": self.mod, "args": list(args)}
        body.update(fields)
        st, job, _ = self.d.request("POST", "/execute", body, token=self.tok)
        self.assertEqual(st, 200, summary(job))
        return job

    def test_stdin_stdout_stderr(self):
        job = self.run_rust("echo", input={"rust": [1, 2, 3]})
        self.assertEqual(job["output"], {"rust": [1, 2, 3]})
        self.assertEqual(job["logs"], ["rust echo: 16 bytes"])  # {"rust":[1,2,3]}

    def test_args_env_clock(self):
        job = self.run_rust("env", env={"GREETING": "hi"})
        self.assertEqual(job["output"], {"argc": 2, "greeting": "hi"})
        self.assertEqual(self.run_rust("time")["output"], True)

    def test_exit_code_and_panic(self):
        job = self.run_rust("exit", "9")
        self.assertEqual(job["error"]["code"], "EXIT_CODE", summary(job))
        job = self.run_rust("panic")
        self.assertEqual(job["status"], "failed")
        self.assertIn("panicked on purpose", json.dumps(job["logs"]) + job["error"]["message"])

    def test_memory_growth_past_the_limit(self):
        job = self.run_rust("grow", memory_mb=32)
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertIn(job["error"]["code"], ("MEMORY_LIMIT", "EXECUTION_ERROR"))

    def test_stack_overflow_is_named(self):
        job = self.run_rust("stack")
        self.assertEqual(job["error"]["code"], "EXECUTION_ERROR", summary(job))
        self.assertIn("out of bounds memory access: the program's stack in linear memory is "
                      "exhausted", job["error"]["message"])
        self.assertEqual(self.run_rust("stack", "100")["output"], 100)

    def test_std_fs_fails_cleanly(self):
        with open(FILES_RUST, "rb") as f:
            mod = base64.b64encode(f.read()).decode()
        job = self.run_rust(module=mod)
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertIn("failed to find a pre-opened file descriptor", job["output"]["open"])
        self.assertIn("\"/tmp/out.txt\"", job["output"]["create"])

    def test_recursion_and_fuel(self):
        self.assertEqual(self.run_rust("depth", "1000")["output"], 1000)
        self.assertEqual(self.run_rust("depth", "10000000")["status"], "failed")
        job = self.run_rust("spin", gas_limit=5000000)
        self.assertEqual(job["error"]["code"], "GAS_EXHAUSTED")
        again = self.run_rust("spin", gas_limit=5000000)
        self.assertEqual(job["gas_used"], again["gas_used"])


if __name__ == "__main__":
    main()
