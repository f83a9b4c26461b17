# SPDX-License-Identifier: MIT
"""test_cli.py - the sealrun command-line tool: --help everywhere, tokens,
exec against a real daemon, run locally with the same output and errors,
keygen/decrypt, and usage errors (exit 2)."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main  # noqa: E402

SCRIPT = "function main(input){ console.log('n', input.n); return {sq: input.n * input.n}; }"
STABLE = ("status", "output", "logs", "output_hash", "error")


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-cli-")
        cls.script = os.path.join(cls.tmp, "sq.js")
        with open(cls.script, "w") as f:
            f.write(SCRIPT)
        cls.bad = os.path.join(cls.tmp, "bad.js")
        with open(cls.bad, "w") as f:
            f.write("function main( {")
        cls.d = Daemon().start()
        cls.tok = cls.d.token("cli")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_help_everywhere(self):
        for cmd in (["--help"], ["token", "--help"], ["exec", "--help"], ["run", "--help"],
                    ["keygen", "--help"], ["decrypt", "--help"], ["verify-output", "--help"]):
            p = cli(*cmd)
            self.assertEqual(p.returncode, 0, cmd)
            self.assertIn("usage: sealrun", p.stdout, cmd)
        from harness import SEALRUND
        import subprocess
        p = subprocess.run([SEALRUND, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--listen HOST:PORT", p.stdout)

    def test_usage_errors(self):
        self.assertEqual(cli().returncode, 2)
        p = cli("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("sealrun: error: unknown command 'frobnicate'", p.stderr)
        self.assertEqual(cli("run").returncode, 2)
        self.assertEqual(cli("exec", self.script).returncode, 2)
        self.assertEqual(cli("token", "create", "--data-dir", self.tmp).returncode, 2)
        p = cli("token", "create", "--data-dir", self.tmp, "--user", "bad user!")
        self.assertEqual(p.returncode, 2)
        p = cli("run", "/nonexistent/x.js")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open '/nonexistent/x.js'", p.stderr)

    def test_token_commands_refuse_a_missing_data_dir(self):
        # a typo must not make a new, empty database whose tokens no daemon sees
        for args in (("create", "--user", "x"), ("list",)):
            p = cli("token", *args, "--data-dir", "/nonexistent/sealrun")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("data directory '/nonexistent/sealrun' does not exist", p.stderr)
            self.assertIn("--create", p.stderr)
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        p = cli("token", "list", "--data-dir", empty)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no sealrun database in", p.stderr)
        self.assertEqual(os.listdir(empty), [])
        fresh = os.path.join(self.tmp, "fresh")
        p = cli("token", "create", "--create", "--data-dir", fresh, "--user", "new")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("new", cli("token", "list", "--data-dir", fresh, check=True).stdout)
        self.assertEqual(cli("token", "list", "--create", "--data-dir", fresh).returncode, 2)

    def test_token_create_prints_token_last(self):
        p = cli("token", "create", "--data-dir", self.d.data_dir, "--user", "zed", check=True)
        tok = p.stdout.strip().splitlines()[-1]
        self.assertRegex(tok, r"^srt_[A-Za-z0-9_-]{43}$")
        lst = cli("token", "list", "--data-dir", self.d.data_dir, check=True).stdout
        self.assertIn("zed", lst)
        self.assertNotIn(tok, lst)
        p = cli("token", "revoke", "--data-dir", self.d.data_dir, "ffffffffffff")
        self.assertEqual(p.returncode, 1)

    def test_exec_and_run_agree(self):
        remote = cli("exec", "--server", self.d.url, "--token", self.tok, self.script,
                     "--input", '{"n": 12}', check=True)
        local = cli("run", self.script, "--input", '{"n": 12}', check=True)
        r, l = json.loads(remote.stdout), json.loads(local.stdout)
        self.assertEqual(r["output"], {"sq": 144})
        for k in STABLE:
            self.assertEqual(r.get(k), l.get(k), k)

    def test_exec_and_run_agree_on_errors(self):
        remote = cli("exec", "--server", self.d.url, "--token", self.tok, self.bad)
        local = cli("run", self.bad)
        self.assertEqual((remote.returncode, local.returncode), (1, 1))
        r, l = json.loads(remote.stdout), json.loads(local.stdout)
        self.assertEqual(r["error"]["code"], "SCRIPT_ERROR")
        self.assertEqual(r["error"], l["error"])

    def test_run_without_jit(self):
        p = cli("run", self.script, "--input", '{"n": 3}', "--js-jit", "off", check=True)
        self.assertEqual(json.loads(p.stdout)["output"], {"sq": 9})

    def test_exec_async_wait(self):
        p = cli("exec", "--server", self.d.url, "--token", self.tok, self.script, "--input",
                '{"n": 5}', "--async", "--wait", check=True)
        self.assertEqual(json.loads(p.stdout)["output"], {"sq": 25})

    def test_exec_reports_server_errors(self):
        p = cli("exec", "--server", self.d.url, "--token", "srt_wrong", self.script)
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 401", p.stderr)
        self.assertIn("hint", p.stderr)
        p = cli("exec", "--server", "http://127.0.0.1:1", "--token", "x", self.script)
        self.assertEqual(p.returncode, 1)
        self.assertIn("failed", p.stderr)

    def test_keygen(self):
        k = json.loads(cli("keygen", check=True).stdout)
        import base64
        self.assertEqual(len(base64.b64decode(k["public_key"])), 32)
        self.assertEqual(len(base64.b64decode(k["secret_key"])), 32)


if __name__ == "__main__":
    main()
