# SPDX-License-Identifier: MIT
"""test_accounts.py - tokens, scopes and rate limits against a real
sealrund (docs/accounts.md): the first admin token from the data directory,
tokens made, listed and revoked over HTTP and with `sealrun token --server`,
a token that works only where its scope reaches, 403 naming the scope,
expiry, the rules that keep a token within its maker's reach, and 429 with
Retry-After and RateLimit-* per token, per user and per address."""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ENV, SEALRUND, Daemon, cli, main  # noqa: E402


class AccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        p = cli("token", "create", *cls.d.where(), "--user", "ops", "--scopes",
                "admin,execute,jobs:read", "--label", "operator", check=True)
        cls.admin = p.stdout.strip().splitlines()[-1]
        cls.alice = cls.d.token("alice")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def make(self, token, **body):
        st, ans, _ = self.d.request("POST", "/tokens", body, token=token)
        self.assertEqual(st, 201, ans)
        return ans

    def test_a_token_works_only_within_its_scopes(self):
        t = self.make(self.alice, scopes=["execute"], label="runner")
        self.assertEqual(t["scopes"], ["execute"])
        self.assertEqual(t["user"], "alice")
        st, job, _ = self.d.execute(t["token"], "function main(){ return {n: 7}; }")
        self.assertEqual((st, job["output"]), (200, {"n": 7}))
        st, body, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=t["token"])
        self.assertEqual(st, 403)
        self.assertEqual(body["error"]["code"], "forbidden")
        self.assertIn("GET /jobs/{} needs the 'jobs:read' scope", body["error"]["message"])
        self.assertIn(t["id"], body["error"]["message"])
        # the token of the same user with jobs:read sees the job
        st, again, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=self.alice)
        self.assertEqual((st, again["output"]), (200, {"n": 7}))
        st, body, _ = self.d.request("PUT", "/secrets/K", {"value": "v"}, token=t["token"])
        self.assertEqual(st, 403)
        self.assertIn("'secrets:write'", body["error"]["message"])

    def test_tokens_made_before_scopes_and_by_the_cli_have_user_scopes(self):
        st, ans, _ = self.d.request("GET", "/tokens", token=self.alice)
        self.assertEqual(st, 200)
        mine = [t for t in ans["tokens"] if t["label"] is None]
        self.assertTrue(mine)
        self.assertNotIn("admin", mine[-1]["scopes"])
        self.assertEqual(len(mine[-1]["scopes"]), 7)
        self.assertNotIn("token", mine[-1])  # never shown again

    def test_a_user_cannot_reach_beyond_their_token(self):
        st, body, _ = self.d.request("POST", "/tokens", {"user": "bob"}, token=self.alice)
        self.assertEqual(st, 403)
        self.assertIn("'admin' scope", body["error"]["message"])
        st, body, _ = self.d.request("POST", "/tokens", {"scopes": ["admin"]}, token=self.alice)
        self.assertEqual(st, 403)
        self.assertIn("lacks 'admin'", body["error"]["message"])
        st, body, _ = self.d.request("GET", "/tokens?user=ops", token=self.alice)
        self.assertEqual(st, 403)
        st, body, _ = self.d.request("POST", "/tokens", {"scopes": ["exec"]}, token=self.alice)
        self.assertEqual(st, 400)
        self.assertIn("unknown scope 'exec'", body["error"]["message"])
        st, body, _ = self.d.request("GET", "/tokens?users=x", token=self.alice)
        self.assertEqual(st, 400)

    def test_expiry(self):
        t = self.make(self.alice, expires_in=1)
        self.assertIsNotNone(t["expires_at"])
        self.assertEqual(self.d.request("GET", "/jobs", token=t["token"])[0], 200)
        # a token made by one that expires cannot outlive it
        st, body, _ = self.d.request("POST", "/tokens", {"expires_in": "1h"}, token=t["token"])
        self.assertEqual(st, 403)
        self.assertIn("cannot outlive", body["error"]["message"])
        time.sleep(1.2)
        st, body, _ = self.d.request("GET", "/jobs", token=t["token"])
        self.assertEqual(st, 401)
        self.assertIn("expired", body["error"]["message"])
        listed = self.d.request("GET", "/tokens", token=self.alice)[1]["tokens"]
        self.assertIn("expired", [x["state"] for x in listed if x["id"] == t["id"]])

    def test_admin_manages_other_users_tokens(self):
        t = self.make(self.admin, user="carol", scopes=["storage:read"])
        self.assertEqual(t["user"], "carol")
        st, ans, _ = self.d.request("GET", "/tokens?user=carol", token=self.admin)
        self.assertEqual([x["id"] for x in ans["tokens"]], [t["id"]])
        st, ans, _ = self.d.request("DELETE", "/tokens/" + t["id"], token=self.admin)
        self.assertEqual((st, ans), (200, {"id": t["id"], "revoked": True}))
        self.assertEqual(self.d.request("GET", "/storage", token=t["token"])[0], 401)
        st, ans, _ = self.d.request("DELETE", "/tokens/" + t["id"], token=self.admin)
        self.assertEqual(st, 409)

    def test_revoking_own_tokens(self):
        wide = self.make(self.alice, label="wide")
        narrow = self.make(self.alice, scopes=["jobs:read"], label="narrow")
        st, body, _ = self.d.request("DELETE", "/tokens/" + wide["id"], token=narrow["token"])
        self.assertEqual(st, 403)
        self.assertIn("needs every scope it has", body["error"]["message"])
        # another user's token: not found, as a missing one
        dave = self.d.token("dave")
        st, body, _ = self.d.request("DELETE", "/tokens/" + wide["id"], token=dave)
        self.assertEqual(st, 404)
        st, _, _ = self.d.request("DELETE", "/tokens/" + narrow["id"][:8], token=wide["token"])
        self.assertEqual(st, 200)
        self.assertEqual(self.d.request("GET", "/jobs", token=narrow["token"])[0], 401)
        st, _, _ = self.d.request("DELETE", "/tokens/" + wide["id"], token=wide["token"])
        self.assertEqual(st, 200)
        self.assertEqual(self.d.request("GET", "/jobs", token=wide["token"])[0], 401)

    def test_cli_over_http(self):
        srv = ["--server", self.d.url, "--token", self.admin]
        p = cli("token", "create", *srv, "--user", "erin", "--scopes", "execute,storage:read",
                "--expires-in", "2h", "--label", "from-cli", check=True)
        tok = p.stdout.strip().splitlines()[-1]
        self.assertRegex(tok, r"^srt_[A-Za-z0-9_-]{43}$")
        lst = cli("token", "list", *srv, "--user", "erin", check=True).stdout.splitlines()
        self.assertEqual(lst[0].split()[:6],
                         ["ID", "USER", "CREATED", "REVOKED", "EXPIRES", "SCOPES"])
        row = lst[1].split()
        self.assertEqual(row[1], "erin")
        self.assertEqual(row[5], "execute,storage:read")
        self.assertEqual(row[6], "from-cli")
        # the new token lists its own with the environment's server and token
        env = {"SEALRUN_SERVER": self.d.url, "SEALRUN_TOKEN": tok}
        own = cli("token", "list", env=env, check=True).stdout
        self.assertIn(row[0], own)
        p = cli("token", "create", "--scopes", "admin", env=env)
        self.assertEqual(p.returncode, 1)
        self.assertIn("403", p.stderr)
        self.assertIn("lacks 'admin'", p.stderr)
        cli("token", "revoke", *srv, row[0], check=True)
        self.assertEqual(self.d.request("GET", "/storage", token=tok)[0], 401)
        p = cli("token", "create", *srv, "--scopes", "root")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown scope 'root'", p.stderr)
        p = cli("token", "list", *srv, *self.d.where())
        self.assertEqual(p.returncode, 2)

    def test_cli_on_the_store_shows_scopes_and_expiry(self):
        p = cli("token", "create", *self.d.where(), "--user", "frank", "--scopes", "jobs:read",
                "--expires-in", "90m", check=True)
        tok = p.stdout.strip().splitlines()[-1]
        lst = cli("token", "list", *self.d.where(), "--user", "frank",
                  check=True).stdout.splitlines()
        row = lst[1].split()
        self.assertEqual(row[5], "jobs:read")
        self.assertNotEqual(row[4], "-")
        self.assertEqual(self.d.request("GET", "/jobs", token=tok)[0], 200)
        self.assertEqual(self.d.execute(tok, "function main(){ return 1; }")[0], 403)
        p = cli("token", "create", *self.d.where(), "--user", "frank", "--expires-in", "0")
        self.assertEqual(p.returncode, 2)


class RateLimitTest(unittest.TestCase):
    """--rate-per-token, --rate-per-address and --rate-limits FILE: 429 with
    Retry-After and the RateLimit-* headers."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sr_rates_")
        cls.file = os.path.join(cls.tmp, "rates.json")
        with open(cls.file, "w", encoding="utf-8") as f:
            json.dump({"users": {"slow": {"per_token": 2}, "free": {"per_token": 0}}}, f)
        cls.d = Daemon("--rate-per-token", "4", "--rate-per-address", "60",
                       "--rate-limits", cls.file).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_a_token_over_its_rate_gets_429_with_headers(self):
        tok = self.d.token("quick")
        for left in (3, 2, 1, 0):
            st, _, h = self.d.request("GET", "/tokens", token=tok)
            self.assertEqual(st, 200)
            self.assertEqual(h["RateLimit-Limit"], "4")
            self.assertEqual(h["RateLimit-Remaining"], str(left))
            self.assertGreaterEqual(int(h["RateLimit-Reset"]), 1)
        st, body, h = self.d.request("GET", "/tokens", token=tok)
        self.assertEqual(st, 429)
        self.assertEqual(body["error"]["code"], "too_many_requests")
        self.assertIn("may make 4 requests per minute", body["error"]["message"])
        self.assertEqual(h["Retry-After"], "15")
        self.assertEqual(h["RateLimit-Remaining"], "0")

    def test_the_dashboards_files_carry_the_address_headers(self):
        import urllib.request
        with urllib.request.urlopen(self.d.url + "/ui/", timeout=30) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["RateLimit-Limit"], "60")
            self.assertIn("RateLimit-Remaining", r.headers)

    def test_info_shows_the_defaults(self):
        limits = self.d.request("GET", "/info")[1]["limits"]
        self.assertEqual(limits["requests_per_minute_per_token"], 4)
        self.assertEqual(limits["requests_per_minute_per_address"], 60)

    def test_per_user_overrides_from_the_file(self):
        slow = self.d.token("slow")
        self.assertEqual(self.d.request("GET", "/tokens", token=slow)[2]["RateLimit-Limit"],
                         "2")
        self.assertEqual(self.d.request("GET", "/tokens", token=slow)[0], 200)
        st, _, h = self.d.request("GET", "/tokens", token=slow)
        self.assertEqual((st, h["Retry-After"]), (429, "30"))
        free = self.d.token("free")
        for _ in range(6):  # no per-token limit: only the address's shows
            st, _, h = self.d.request("GET", "/tokens", token=free)
            self.assertEqual(st, 200)
            self.assertEqual(h["RateLimit-Limit"], "60")

    def test_bad_rate_options_stop_the_daemon(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            f.write('{"users": {"x": {"per_token": "many"}}}')
        data = tempfile.mkdtemp(prefix="sr_rates_d_", dir=self.tmp)
        for args, want in ((("--rate-limits", bad), "user 'x' must be"),
                           (("--rate-limits", os.path.join(self.tmp, "none.json")),
                            "cannot open rate limits file"),
                           (("--rate-per-token", "-1"), "--rate-per-token")):
            p = subprocess.run([SEALRUND, "--dev", "--data-dir", data, "--listen",
                                "127.0.0.1:0", *args], capture_output=True, text=True,
                               env=ENV, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(want, p.stderr)
            self.assertNotIn("listening on http://127", p.stderr)


class DevRatesTest(unittest.TestCase):
    def test_dev_has_no_rate_limits_unless_asked(self):
        with Daemon() as d:  # --dev, no rate options
            lim = d.request("GET", "/info")[1]["limits"]
            self.assertEqual(lim["requests_per_minute_per_token"], 0, lim)
            self.assertEqual(lim["requests_per_minute_per_address"], 0, lim)
        with Daemon("--rate-per-token", "7") as d:  # asked for: it holds
            lim = d.request("GET", "/info")[1]["limits"]
            self.assertEqual(lim["requests_per_minute_per_token"], 7, lim)
            self.assertEqual(lim["requests_per_minute_per_address"], 0, lim)


if __name__ == "__main__":
    main()
