# SPDX-License-Identifier: MIT
"""test_cli.py - the sealrun command-line tool: --help of every command,
every option accepted in both spellings, --version, tokens, exec against a
real daemon (with secrets, a storage namespace, a module hash), jobs and
modules commands, where the server and token come from (options,
environment, config file), run locally with the same output and errors (with
secrets and a storage directory), keygen/decrypt, and usage errors (exit
2)."""
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SEALRUND, Daemon, cli, main  # noqa: E402

SCRIPT = "function main(input){ console.log('n', input.n); return {sq: input.n * input.n}; }"
STABLE = ("status", "output", "logs", "output_hash", "error")
# a secret and the storage: the same script locally and on the service
COUNTER = """function main(input) {
  const n = Number(storage.get('counter') ?? 0) + 1;
  storage.set('counter', String(n));
  return {n: n, key: getSecret('api_key')};
}"""
GUEST = os.environ.get("SR_WASM_GUEST", "")
# no server, no token, no config file: what each test sets is all there is
NOWHERE = {"SEALRUN_SERVER": "", "SEALRUN_TOKEN": ""}


def isolated_env(tmp, **extra):
    """An environment with its own (empty) config directory and no
    SEALRUN_* variables."""
    cfg = os.path.join(tmp, "xdg")
    os.makedirs(cfg, exist_ok=True)
    env = {"XDG_CONFIG_HOME": cfg}
    env.update(extra)
    return env


def commands(prefix=()):
    """Every command path of 'sealrun --help', groups (and groups in groups:
    'worker token create') expanded."""
    out = []
    for name in section(cli(*prefix, "--help", check=True).stdout):
        path = [*prefix, name]
        if section(cli(*path, "--help", check=True).stdout):
            out.extend(commands(tuple(path)))
        else:
            out.append(path)
    return out


def section(text):
    """The command names listed under 'Commands:' in a help text."""
    names, inside = [], False
    for line in text.splitlines():
        if line == "Commands:":
            inside = True
        elif inside and line.startswith("  "):
            names.append(line.split()[0])
        elif inside:
            break
    return names


def options(text):
    """(name, takes_value) for each option line of a help text."""
    return [(m.group(1), bool(m.group(2)))
            for m in re.finditer(r"^  (--[a-z0-9-]+)( \S+)?", text, re.M)]


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
        cmds = commands()
        for want in (["exec"], ["run"], ["jobs", "wait"], ["modules", "upload"],
                     ["secret", "set"], ["storage", "ls"], ["token", "create"], ["verify"],
                     ["worker", "token", "create"], ["worker", "revoke"]):
            self.assertIn(want, cmds)
        for cmd in cmds:
            p = cli(*cmd, "--help")
            self.assertEqual(p.returncode, 0, cmd)
            self.assertTrue(p.stdout.startswith("usage: sealrun " + " ".join(cmd)), p.stdout)
            self.assertIn("  --help ", p.stdout, cmd)
            # -h and --help anywhere on the line print the same text
            self.assertEqual(cli(*cmd, "x", "-h").stdout, p.stdout, cmd)
        p = subprocess.run([SEALRUND, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--listen HOST:PORT", p.stdout)
        self.assertIn("--version", p.stdout)

    def test_every_option_in_help_is_parsed_in_both_spellings(self):
        # nothing listens on port 1: a command that gets as far as a request fails there
        env = isolated_env(self.tmp, SEALRUN_SERVER="http://127.0.0.1:1", SEALRUN_TOKEN="x")
        for cmd in commands():
            for name, takes in options(cli(*cmd, "--help").stdout):
                if name == "--help":
                    continue
                for spelling in ([f"{name}=1"], [name, "1"]) if takes else ([name],):
                    p = cli(*cmd, *spelling, input="", env=env, timeout=60)
                    self.assertNotIn("unknown option", p.stderr, (cmd, spelling))
                    self.assertNotIn("needs a value", p.stderr, (cmd, spelling))
        p = cli("exec", "--frobnicate=1", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--frobnicate=1'", p.stderr)
        self.assertIn("see 'sealrun exec --help'", p.stderr)

    def test_version(self):
        p = cli("--version", check=True)
        self.assertRegex(p.stdout, r"^sealrun \d+\.\d+\.\d+\n$")
        d = subprocess.run([SEALRUND, "--version"], capture_output=True, text=True)
        self.assertEqual(d.returncode, 0)
        self.assertEqual(d.stdout, p.stdout.replace("sealrun", "sealrund"))

    def test_usage_errors(self):
        self.assertEqual(cli().returncode, 2)
        p = cli("frobnicate")
        self.assertEqual(p.returncode, 2)
        self.assertIn("sealrun: error: unknown command 'frobnicate'", p.stderr)
        self.assertEqual(cli("run").returncode, 2)
        env = isolated_env(self.tmp, **NOWHERE)
        p = cli("exec", self.script, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no API token", p.stderr)
        p = cli("exec", "--token", "x", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("a script or module FILE (or --module-hash) is required", p.stderr)
        p = cli("exec", "--token", "x", "--timeout=0", self.script, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--timeout must be 1..120, got 0", p.stderr)
        p = cli("exec", "--token", "x", "--server", "ftp://x", self.script, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--server 'ftp://x' must start with http:// or https://", p.stderr)
        p = cli("jobs", "list", "--token", "x", "--status", "done", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--status must be 'queued', 'running', 'completed' or 'failed'", p.stderr)
        p = cli("exec", "--token", "x", "--http-max-requests", "3", self.script, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--http-max-requests goes with --http-allow", p.stderr)
        p = cli("jobs", "frob")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown jobs command 'frob'", p.stderr)
        p = cli("modules")
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: sealrun modules COMMAND", p.stderr)
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

    def test_both_spellings_run_the_same_job(self):
        a = cli("exec", "--server=" + self.d.url, "--token=" + self.tok, self.script,
                '--input={"n": 4}', "--timeout=5", "--memory-mb=64", check=True)
        b = cli("exec", "--server", self.d.url, "--token", self.tok, self.script,
                "--input", '{"n": 4}', "--timeout", "5", "--memory-mb", "64", check=True)
        self.assertEqual(json.loads(a.stdout)["output"], json.loads(b.stdout)["output"])

    def test_exec_with_http_allow(self):
        p = cli("exec", "--server", self.d.url, "--token", self.tok, self.script, "--input",
                '{"n": 2}', "--http-allow", "api.example.com", "--http-allow=*.example.org:443",
                "--http-max-requests", "2", check=True)
        job = json.loads(p.stdout)
        self.assertEqual(job["output"], {"sq": 4})
        p = cli("exec", "--server", self.d.url, "--token", self.tok, self.script,
                "--http-allow", "not a host")
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 400", p.stderr)

    def test_exec_with_secrets_and_a_storage_namespace(self):
        srv = ["--server", self.d.url, "--token", self.tok]
        cli("secret", "set", "api_key", *srv, input="k-123", check=True)
        script = os.path.join(self.tmp, "counter.js")
        with open(script, "w") as f:
            f.write(COUNTER)
        for n in (1, 2):
            p = cli("exec", *srv, script, "--secret", "api_key", "--storage-namespace=ns-cli",
                    check=True)
            job = json.loads(p.stdout)
            self.assertEqual(job["output"], {"n": n, "key": "k-123"})
            self.assertEqual(job["receipt"]["secret_refs"][0]["name"], "api_key",
                             job["receipt"])
        p = cli("storage", "get", "counter", "--namespace", "ns-cli", *srv, check=True)
        self.assertEqual(p.stdout, "2")
        # the default namespace was not touched
        p = cli("storage", "get", "counter", *srv)
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 404", p.stderr)
        # an unknown secret is the job's error, named
        p = cli("exec", *srv, script, "--secret", "nope")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("nope", p.stdout + p.stderr)
        # 17 references: refused before anything is sent
        many = [a for i in range(17) for a in ("--secret", f"s{i}")]
        p = cli("exec", *srv, script, *many)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--secret may be given at most 16 times", p.stderr)

    def test_jobs_list_get_wait(self):
        srv = ["--server", self.d.url, "--token", self.tok]
        p = cli("exec", *srv, self.script, "--input", '{"n": 6}', "--async", check=True)
        jid = json.loads(p.stdout)["job_id"]
        done = json.loads(cli("jobs", "wait", jid, *srv, "--timeout", "60s",
                              check=True).stdout)
        self.assertEqual((done["job_id"], done["output"]), (jid, {"sq": 36}))
        got = json.loads(cli("jobs", "get", jid, *srv, check=True).stdout)
        self.assertEqual(got["output_hash"], done["output_hash"])
        page = json.loads(cli("jobs", "list", *srv, "--status=completed", "--runtime", "js",
                              "--limit", "100", check=True).stdout)
        self.assertIn(jid, [j["job_id"] for j in page["jobs"]])
        self.assertTrue(all(j["status"] == "completed" for j in page["jobs"]))
        page = json.loads(cli("jobs", "list", *srv, "--status", "failed", check=True).stdout)
        self.assertNotIn(jid, [j["job_id"] for j in page["jobs"]])
        p = cli("jobs", "list", *srv, "--since", "yesterday")
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 400", p.stderr)
        self.assertIn("since", p.stderr)
        p = cli("jobs", "get", "0" * 32, *srv)
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 404", p.stderr)
        # a failed job: exit 1 from get and wait too
        bad = json.loads(cli("exec", *srv, self.bad, "--async", check=True).stdout)["job_id"]
        self.assertEqual(cli("jobs", "wait", bad, *srv).returncode, 1)
        self.assertEqual(cli("jobs", "get", bad, *srv).returncode, 1)

    @unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
    def test_modules_and_module_hash(self):
        srv = ["--server", self.d.url, "--token", self.tok]
        up = json.loads(cli("modules", "upload", GUEST, *srv, check=True).stdout)
        h = hashlib.sha256(open(GUEST, "rb").read()).hexdigest()
        self.assertEqual(up["hash"], h)
        lst = json.loads(cli("modules", "list", *srv, "--limit=10", check=True).stdout)
        self.assertIn(h, [m["hash"] for m in lst["modules"]])
        self.assertEqual(json.loads(cli("modules", "get", h, *srv, check=True).stdout)["hash"],
                         h)
        job = json.loads(cli("exec", *srv, "--module-hash", h, "--arg", "echo", "--input", "7",
                             check=True).stdout)
        self.assertEqual((job["status"], job["output"]), ("completed", 7))
        p = cli("exec", *srv, "--module-hash", h, GUEST)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not both", p.stderr)
        cli("modules", "rm", h, *srv, check=True)
        p = cli("modules", "get", h, *srv)
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 404", p.stderr)

    def test_server_and_token_from_env_and_config_file(self):
        home = tempfile.mkdtemp(dir=self.tmp)
        env = isolated_env(home, **NOWHERE)
        cfg = os.path.join(env["XDG_CONFIG_HOME"], "sealrun")
        with open(cfg, "w") as f:
            f.write(f"# my server\nserver = {self.d.url}/\n\ntoken = {self.tok}\n")
        os.chmod(cfg, 0o600)
        p = cli("exec", self.script, "--input", '{"n": 2}', env=env, check=True)
        self.assertEqual(json.loads(p.stdout)["output"], {"sq": 4})
        # the environment wins over the file, an option over the environment
        p = cli("jobs", "list", env=dict(env, SEALRUN_TOKEN="srt_wrong"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("server answered 401", p.stderr)
        cli("jobs", "list", "--token", self.tok, env=dict(env, SEALRUN_TOKEN="srt_wrong"),
            check=True)
        p = cli("jobs", "list", env=dict(env, SEALRUN_SERVER="http://127.0.0.1:1"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("http://127.0.0.1:1/jobs", p.stderr)
        # HOME/.config/sealrun when XDG_CONFIG_HOME is not set
        os.makedirs(os.path.join(home, ".config"))
        os.rename(cfg, os.path.join(home, ".config", "sealrun"))
        e2 = dict(NOWHERE, HOME=home, XDG_CONFIG_HOME="")
        cli("jobs", "list", env=e2, check=True)
        os.rename(os.path.join(home, ".config", "sealrun"), cfg)
        # a token others can read is refused, with the fix
        os.chmod(cfg, 0o644)
        p = cli("jobs", "list", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("holds a token but is readable by others (mode 0644)", p.stderr)
        self.assertIn(f"chmod 600 '{cfg}'", p.stderr)
        # a server-only file may be readable; the default server when none is named
        with open(cfg, "w") as f:
            f.write(f"server = {self.d.url}\n")
        os.chmod(cfg, 0o644)
        cli("jobs", "list", "--token", self.tok, env=env, check=True)
        os.remove(cfg)
        p = cli("jobs", "list", "--token", "srt_wrong", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"127\.0\.0\.1:8080/jobs' failed|server answered 401")
        with open(cfg, "w") as f:
            f.write("server = x\nsecret = y\n")
        p = cli("jobs", "list", "--token", "x", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 2: unknown key 'secret'; expected 'server' or 'token'", p.stderr)
        with open(cfg, "w") as f:
            f.write("just words\n")
        p = cli("jobs", "list", "--token", "x", env=env)
        self.assertIn("line 1: expected KEY = VALUE", p.stderr)
        os.remove(cfg)

    def test_run_with_secrets_and_a_storage_dir(self):
        script = os.path.join(self.tmp, "counter-local.js")
        with open(script, "w") as f:
            f.write(COUNTER)
        store = os.path.join(self.tmp, "local-store")
        for n in (1, 2):
            p = cli("run", script, "--secret", "api_key=k-local", "--storage-dir", store,
                    check=True)
            self.assertEqual(json.loads(p.stdout)["output"], {"n": n, "key": "k-local"})
        self.assertEqual(stat.S_IMODE(os.stat(store).st_mode), 0o700)
        # a secrets file instead; no storage dir: a temporary store, removed after
        sf = os.path.join(self.tmp, "secrets.json")
        with open(sf, "w") as f:
            json.dump({"api_key": "from-file"}, f)
        tmpdir = tempfile.mkdtemp(dir=self.tmp)
        p = cli("run", script, "--secrets-file", sf, env={"TMPDIR": tmpdir}, check=True)
        self.assertEqual(json.loads(p.stdout)["output"], {"n": 1, "key": "from-file"})
        self.assertEqual(os.listdir(tmpdir), [])
        # the same job on the service gives the same output
        srv = ["--server", self.d.url, "--token", self.d.token("twin")]
        cli("secret", "set", "api_key", *srv, input="from-file", check=True)
        r = cli("exec", *srv, script, "--secret", "api_key", check=True)
        self.assertEqual(json.loads(r.stdout)["output"], json.loads(p.stdout)["output"])
        for args, text, code in ((["--secret", "novalue"], "--secret takes NAME=VALUE", 2),
                                 (["--secret", "a=1", "--secret", "a=2"],
                                  "secret 'a' is given twice", 1),
                                 (["--secrets-file", self.script], "--secrets-file", 1)):
            p = cli("run", script, *args)
            self.assertEqual(p.returncode, code, args)
            self.assertIn(text, p.stderr, args)
        with open(sf, "w") as f:
            f.write('["api_key"]')
        p = cli("run", script, "--secrets-file", sf)
        self.assertIn("must hold a JSON object", p.stderr)

    def test_keygen(self):
        k = json.loads(cli("keygen", check=True).stdout)
        import base64
        self.assertEqual(len(base64.b64decode(k["public_key"])), 32)
        self.assertEqual(len(base64.b64decode(k["secret_key"])), 32)


if __name__ == "__main__":
    main()
