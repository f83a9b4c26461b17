# SPDX-License-Identifier: MIT
"""test_docs.py - the shell blocks of README.md and docs/*.md run as written
against a test daemon (every ```sh block, except those marked ```sh no-run:
installing, systemd, files the reader brings), and the worked example of
docs/output-protection.md, run with the real CLI and checked independently
with Python's hashlib/hmac."""
import glob
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, ENV, Daemon, cli, canonical, main  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
FENCE = re.compile(r"^```(\S*)([^\n]*)\n(.*?)^```$", re.M | re.S)


def shell_blocks(path):
    """(line, info, text) of every shell block of a Markdown file."""
    text = open(path).read()
    return [(text[:m.start()].count("\n") + 1, m.group(2).strip(), m.group(3))
            for m in FENCE.finditer(text) if m.group(1) in ("sh", "bash", "shell")]


def complete(cmd):
    """Whether a command has no open quote or trailing backslash."""
    if cmd.endswith("\\"):
        return False
    try:
        shlex.split(cmd)
        return True
    except ValueError:
        return False


def commands(block):
    """A block as a script: a transcript ('$ ' lines and their output) keeps
    its commands only (with their continuation lines, open quotes and
    here-documents); anything else is a script as it is."""
    lines = block.splitlines()
    if not any(line.startswith("$ ") for line in lines):
        return block
    out, cmd, heredoc = [], None, None
    for line in lines:
        if heredoc:
            out.append(line)
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if cmd is not None:
            cmd += "\n" + line
        elif line.startswith("$ "):
            cmd = line[2:]
        else:
            continue  # output
        if complete(cmd):
            out.append(cmd)
            m = re.search(r"<<-?'?([A-Za-z_]+)'?", cmd)
            heredoc = m.group(1) if m else None
            cmd = None
    return "\n".join(out) + "\n"


EX = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples")
KEYS = {
    "COMPUTE_MASTER_KEY": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "SECRETS_MASTER_KEY": "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
}
SK = "8dnovVGWv62tLXBYD0qr+b94IZFhZiUpOha0naxOv/8="


class DocsShellTest(unittest.TestCase):
    """Each file's blocks run in order in one directory (a file written by one
    block is there for the next), with 'sealrun' on PATH, the test daemon in
    place of 127.0.0.1:8080 (named, or as the default server: SEALRUN_SERVER;
    its metrics address for :9464), its token as
    $TOKEN, $T, SEALRUN_TOKEN and wherever a block writes srt_..., and a HOME
    of their own."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--metrics-listen", "127.0.0.1:0").start()
        cls.tok = cls.d.token("docs")
        m = re.search(r"metrics on http://(127\.0\.0\.1:\d+)/metrics", cls.d.log_text())
        cls.metrics = m.group(1)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_file(self, path):
        blocks = [b for b in shell_blocks(path) if "no-run" not in b[1]]
        if not blocks:
            return 0
        work = tempfile.mkdtemp(prefix="sealrun-docs-")
        home = os.path.join(work, "home")
        os.makedirs(home)
        for d in ("docs", "tests", "examples"):
            os.symlink(os.path.join(ROOT, d), os.path.join(work, d))
        env = dict(ENV, PATH=os.path.abspath(BIN) + os.pathsep + ENV.get("PATH", ""),
                   HOME=home, TOKEN=self.tok, T=self.tok, SEALRUN_TOKEN=self.tok,
                   WEATHER_KEY="w-123")
        env.pop("XDG_CONFIG_HOME", None)
        addr = self.d.url[len("http://"):]
        env["SEALRUN_SERVER"] = self.d.url  # where the docs' default server is
        try:
            for line, _, text in blocks:
                script = commands(text).replace("127.0.0.1:8080", addr)
                script = script.replace("127.0.0.1:9464", self.metrics)
                script = script.replace("srt_...", self.tok)
                p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work,
                                   env=env, capture_output=True, text=True, timeout=300)
                where = f"{os.path.relpath(path, ROOT)}:{line}"
                self.assertEqual(p.returncode, 0,
                                 f"{where}: exit {p.returncode}\n{script}\n{p.stdout[-2000:]}"
                                 f"\n{p.stderr[-2000:]}")
                self.assertNotIn("sealrun: error:", p.stderr, where)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return len(blocks)

    def test_blocks_run_as_written(self):
        ran = {}
        for path in DOCS:
            with self.subTest(doc=os.path.relpath(path, ROOT)):
                ran[os.path.basename(path)] = self.run_file(path)
        # the walkthroughs are covered: a block marked no-run by mistake shows here
        for doc in ("README.md", "cli.md", "operations.md", "secrets.md", "storage.md",
                    "output-protection.md"):
            self.assertGreater(ran.get(doc, 0), 0, doc)


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
