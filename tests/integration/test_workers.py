# SPDX-License-Identifier: MIT
"""test_workers.py - remote workers register with a coordinator
(docs/workers.md), each role a separate process on 127.0.0.1.

Checks: two workers with their own tokens register and GET /workers (admin
only) lists each with the key it logged and attestation "none"; a second
machine with a copied token but its own key is refused (the token is bound
to the first key) and the first key stays; requests with the token but no
signature, a signature of another key, or a time off the clock get nothing;
an unknown token gets nothing; drain and resume reach the worker in its
heartbeat; a revoked worker is refused at its next request and exits, and
its token never registers again; a coordinator that asks for TDX refuses a
software-only worker; a worker asked to attest with TDX on a machine without
configfs-tsm refuses to start; the worker role refuses a store and a
listener and needs its coordinator and token. Runs on SQLite and, as
integration-pg/workers, on PostgreSQL.
"""
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import SEALRUND, ENV, Daemon, Worker, cli, worker_token  # noqa: E402

import subprocess  # noqa: E402

HEARTBEAT_S = 10


def admin_token(d):
    p = cli("token", "create", *d.where(), "--user", "root", "--scopes", "admin", check=True)
    return p.stdout.strip().splitlines()[-1]


def raw(d, method, path, token=None, headers=None, body=None):
    req = urllib.request.Request(d.url + path, data=body, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None


def workers(d, tok):
    st, body, _ = d.request("GET", "/workers", token=tok)
    assert st == 200, body
    return {w["id"]: w for w in body["workers"]}


class WorkersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.admin = admin_token(cls.d)
        cls.started = []

    @classmethod
    def tearDownClass(cls):
        for w in cls.started:
            w.cleanup()
        cls.d.cleanup()

    def worker(self, token, *extra, **kw):
        w = Worker(self.d.url, token, *extra, **kw).start()
        self.started.append(w)
        return w

    def test_register_list_and_stolen_token(self):
        t1, t2 = worker_token(self.d, "alpha"), worker_token(self.d, "beta")
        w1, w2 = self.worker(t1), self.worker(t2)
        self.assertIsNotNone(w1.id, w1.log_text())
        self.assertIsNotNone(w2.id, w2.log_text())
        self.assertNotEqual(w1.public_key, w2.public_key)
        ws = workers(self.d, self.admin)
        for w, name in ((w1, "alpha"), (w2, "beta")):
            row = ws[w.id]
            self.assertEqual(row["name"], name)
            self.assertEqual(row["state"], "active")
            self.assertEqual(row["public_key"], w.public_key)
            self.assertEqual(row["attestation"], "none")
            self.assertRegex(row["measurement"], "^[0-9a-f]{64}$")
            self.assertIsNotNone(row["registered_at"])
            self.assertIsNotNone(row["last_seen_at"])
            self.assertIsNone(row["revoked_at"])
        # the token never appears, nor its whole hash
        st, body, _ = self.d.request("GET", "/workers", token=self.admin)
        self.assertNotIn(t1, json.dumps(body))
        # admin only
        user = self.d.token("ann")
        st, body, _ = self.d.request("GET", "/workers", token=user)
        self.assertEqual(st, 403, body)
        self.assertIn("admin", body["error"]["message"])
        st, body, _ = self.d.request("GET", "/workers")
        self.assertEqual(st, 401, body)

        # a copy of w1's token on another machine (its own key) gets nothing
        thief = self.worker(t1)
        self.assertIsNone(thief.id)
        self.assertEqual(thief.returncode, 1, thief.log_text())
        self.assertIn("bound to another key", thief.log_text())
        self.assertEqual(workers(self.d, self.admin)[w1.id]["public_key"], w1.public_key)
        # the worker keeps working after the attempt (its heartbeats pass)
        seen = workers(self.d, self.admin)[w1.id]["last_seen_at"]
        deadline = time.time() + 3 * HEARTBEAT_S
        while time.time() < deadline and workers(self.d, self.admin)[w1.id]["last_seen_at"] == seen:
            time.sleep(0.5)
        self.assertNotEqual(workers(self.d, self.admin)[w1.id]["last_seen_at"], seen)
        self.assertIsNone(w1.proc.poll())

    def test_requests_without_the_key_get_nothing(self):
        tok = worker_token(self.d, "gamma")
        w = self.worker(tok)
        self.assertIsNotNone(w.id, w.log_text())
        now = str(int(time.time() * 1000))
        cases = [
            ({}, "X-Sealrun-Time"),
            ({"X-Sealrun-Time": now}, "signature"),
            ({"X-Sealrun-Time": now, "X-Sealrun-Signature": "ab" * 64}, "does not verify"),
            ({"X-Sealrun-Time": now, "X-Sealrun-Signature": "zz"}, "128 lower-case hex"),
            ({"X-Sealrun-Time": str(int(now) - 3600_000), "X-Sealrun-Signature": "ab" * 64},
             "clock"),
        ]
        for headers, why in cases:
            st, body = raw(self.d, "POST", "/worker/heartbeat", tok, headers)
            self.assertEqual(st, 401, (headers, body))
            self.assertIn(why, body["error"]["message"])
        # a registration that is not signed by the key it brings
        reg = json.dumps({"public_key": "ab" * 32, "measurement": "cd" * 32,
                          "attestation": "none", "version": "x"}).encode()
        st, body = raw(self.d, "POST", "/worker/register", tok,
                       {"X-Sealrun-Time": now, "X-Sealrun-Signature": "ab" * 64,
                        "Content-Type": "application/json"}, reg)
        self.assertEqual(st, 401, body)
        # an unknown token, with and without a body
        st, body = raw(self.d, "POST", "/worker/heartbeat", "srt_not_a_worker_token")
        self.assertEqual(st, 401, body)
        st, body = raw(self.d, "POST", "/worker/register", "srt_not_a_worker_token",
                       {"Content-Type": "application/json"}, reg)
        self.assertEqual(st, 401, body)
        # a user's API token is no worker token, and a worker token no API token
        st, body = raw(self.d, "POST", "/worker/heartbeat", self.admin)
        self.assertEqual(st, 401, body)
        st, body, _ = self.d.request("GET", "/jobs", token=tok)
        self.assertEqual(st, 401, body)
        # nothing changed
        self.assertEqual(workers(self.d, self.admin)[w.id]["public_key"], w.public_key)

    def test_drain_resume_revoke(self):
        tok = worker_token(self.d, "delta")
        w = self.worker(tok)
        self.assertIsNotNone(w.id, w.log_text())
        p = cli("worker", "drain", *self.d.where(), w.id[:10], check=True)
        self.assertIn("draining worker " + w.id, p.stdout)
        deadline = time.time() + 3 * HEARTBEAT_S
        while time.time() < deadline and "this worker is draining" not in w.log_text():
            time.sleep(0.5)
        self.assertIn("this worker is draining", w.log_text())
        self.assertEqual(workers(self.d, self.admin)[w.id]["state"], "draining")
        cli("worker", "resume", *self.d.where(), w.id, check=True)
        p = cli("worker", "list", *self.d.where(), check=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith(w.id)][0]
        self.assertIn("active", line)
        self.assertIn(w.public_key, line)

        p = cli("worker", "revoke", *self.d.where(), w.id, check=True)
        self.assertIn("revoked worker " + w.id, p.stdout)
        # refused at once: its next request, signed or not
        st, body = raw(self.d, "POST", "/worker/heartbeat", tok,
                       {"X-Sealrun-Time": str(int(time.time() * 1000))})
        self.assertEqual(st, 403, body)
        self.assertIn("revoked", body["error"]["message"])
        self.assertEqual(w.wait_exit(3 * HEARTBEAT_S), 1)
        self.assertIn("revoked", w.log_text())
        row = workers(self.d, self.admin)[w.id]
        self.assertEqual(row["state"], "revoked")
        self.assertIsNotNone(row["revoked_at"])
        # for good: the same worker cannot come back, nor the worker be resumed
        again = self.worker(tok, data_dir=w.data_dir)
        self.assertIsNone(again.id)
        self.assertEqual(again.returncode, 1)
        self.assertIn("revoked", again.log_text())
        p = cli("worker", "resume", *self.d.where(), w.id)
        self.assertEqual(p.returncode, 1)
        self.assertIn("revoked already", p.stderr)
        p = cli("worker", "drain", *self.d.where(), "0000")
        self.assertEqual(p.returncode, 1)
        self.assertIn("8 to 16 lower-case hex", p.stderr)

    def test_attestation_refusals(self):
        tsm = "/sys/kernel/config/tsm/report"
        if os.path.isdir(tsm):
            self.skipTest("this machine has configfs-tsm: the refusal cannot be shown here")
        tok = worker_token(self.d, "epsilon")
        w = self.worker(tok, "--attestation", "tdx")
        self.assertIsNone(w.id)
        self.assertNotEqual(w.returncode, 0)
        self.assertIn(tsm, w.log_text())
        row = [r for r in workers(self.d, self.admin).values() if r["name"] == "epsilon"][0]
        self.assertIsNone(row["public_key"])  # it never registered

        with Daemon("--worker-attestation", "tdx") as strict:
            tok = worker_token(strict, "zeta")
            w = Worker(strict.url, tok).start()
            self.started.append(w)
            self.assertIsNone(w.id)
            self.assertEqual(w.returncode, 1)
            self.assertIn("accepts only workers attested by TDX", w.log_text())
            st, body, _ = strict.request("GET", "/workers", token=admin_token(strict))
            self.assertIsNone(body["workers"][0]["public_key"])

    def test_worker_role_options(self):
        def run(*args, env=None):
            e = dict(ENV)
            e.pop("SEALRUN_WORKER_TOKEN", None)
            e.update(env or {})
            return subprocess.run([SEALRUND, *args], capture_output=True, text=True, env=e,
                                  timeout=60)
        p = run("--role", "worker", "--worker-token", "x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--coordinator", p.stderr)
        p = run("--role", "worker", "--coordinator", self.d.url)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--worker-token", p.stderr)
        p = run("--role", "worker", "--coordinator", self.d.url, "--store", "sqlite:/tmp/x.db",
                env={"SEALRUN_WORKER_TOKEN": "x"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("holds no store", p.stderr)
        p = run("--coordinator", self.d.url)
        self.assertEqual(p.returncode, 2)
        self.assertIn("go with --role worker", p.stderr)
        p = run("--role", "keystore")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
