# SPDX-License-Identifier: MIT
"""test_webhooks.py - completion webhooks against the real daemon
(docs/accounts.md, "Webhooks"): a local receiver on 127.0.0.1 (sealrund
with --http-allow-private 127.0.0.1 and --http-allow-http) fails the first
two deliveries and accepts the third: three attempts are recorded in GET
/jobs/{id}/deliveries, every body is the job object as GET /jobs/{id}
answers it, and its Sealrun-Signature verifies with the worker key from
/attestation (checked with examples/verify-webhook.mjs, as a receiver
would); a pending delivery survives a restart of sealrund; a
callback_url to loopback without the switch, over plain http without
--http-allow-http, or on a synchronous job is refused at submit. Also run
on PostgreSQL (integration-pg/webhooks)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main, summary  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
VERIFIER = os.path.join(ROOT, "examples", "verify-webhook.mjs")
NODE = shutil.which("node") or "node"
QUICK = "function main(i) { return {twice: i.n * 2}; }"


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers 500 to the first 'fail'
    deliveries (and to every one while 'down'), then 204; keeps each
    delivery's headers and exact body."""

    def __init__(self, fail=0):
        self.fail = fail
        self.down = False
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.got.append((dict(self.headers), body))
                    bad = outer.down or len(outer.got) <= outer.fail
                self.send_response(500 if bad else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, n, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.got)} deliveries arrived, expected {n}")

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def signature_ok(body, sig_hex, pk_hex):
    """Checks a delivery with examples/verify-webhook.mjs, as a receiver
    would (node is required by the build; Python's standard library has no
    Ed25519)."""
    with tempfile.NamedTemporaryFile(prefix="sr-hook-", suffix=".json") as f:
        f.write(body)
        f.flush()
        p = subprocess.run([NODE, VERIFIER, f.name, sig_hex, "--worker-key", pk_hex],
                           capture_output=True, text=True, timeout=60)
    if p.returncode not in (0, 1):
        raise AssertionError(f"verify-webhook.mjs failed: {p.stdout}{p.stderr}")
    return p.returncode == 0


def wait_state(d, token, job_id, want, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, ans, _ = d.request("GET", f"/jobs/{job_id}/deliveries", token=token)
        assert st == 200, ans
        if ans["state"] == want:
            return ans
        time.sleep(0.1)
    raise AssertionError(f"deliveries of {job_id} never became {want}: {ans}")


class WebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-webhooks-")
        cls.d = Daemon("--http-allow-private", "127.0.0.1", "--http-allow-http").start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        st, att, _ = cls.d.request("GET", "/attestation")
        assert st == 200, att
        cls.pk = att["worker_public_key"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_retries_until_accepted_and_signs_the_job(self):
        rx = Receiver(fail=2)
        try:
            st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 21},
                                        callback_url=rx.url(), **{"async": True})
            self.assertEqual(st, 202, ans)
            jid = ans["job_id"]
            got = rx.wait(3)
            done = wait_state(self.d, self.alice, jid, "delivered")
            self.assertEqual([a["attempt"] for a in done["attempts"]], [1, 2, 3])
            self.assertEqual([a["status"] for a in done["attempts"]], [500, 500, 204])
            self.assertEqual(done["attempts"][0]["error"], "the receiver answered 500")
            self.assertIsNone(done["attempts"][2]["error"])
            # backoff: the second pause is longer than the first
            ts = [a["at"] for a in done["attempts"]]
            self.assertEqual(ts, sorted(ts))
            st, job_text, _ = self.d.request("GET", "/jobs/" + jid, token=self.alice)
            for i, (hdrs, body) in enumerate(got[:3]):
                self.assertEqual(hdrs["Sealrun-Job"], jid)
                self.assertEqual(hdrs["Sealrun-Delivery"], str(i + 1))
                self.assertEqual(hdrs["Sealrun-Worker-Key"], self.pk)
                self.assertEqual(hdrs["Content-Type"], "application/json")
                self.assertTrue(signature_ok(body, hdrs["Sealrun-Signature"], self.pk), hdrs)
                job = json.loads(body)
                self.assertEqual(job, job_text)  # the job object, as GET /jobs/{id} has it
                self.assertEqual(job["status"], "completed", summary(job))
                self.assertEqual(job["output"], {"twice": 42})
            # a changed byte, or another key, does not verify
            hdrs, body = got[2]
            self.assertFalse(signature_ok(body + b" ", hdrs["Sealrun-Signature"], self.pk))
            self.assertFalse(signature_ok(body, hdrs["Sealrun-Signature"], "11" * 32))
            # no more deliveries after it was accepted
            time.sleep(1.5)
            self.assertEqual(len(rx.got), 3)
            # another user sees nothing
            st, ans, _ = self.d.request("GET", f"/jobs/{jid}/deliveries", token=self.bob)
            self.assertEqual(st, 404, ans)
        finally:
            rx.close()

    def test_failed_and_cancelled_jobs_are_delivered_too(self):
        rx = Receiver()
        try:
            st, ans, _ = self.d.execute(self.alice, "function main() { for (;;) {} }",
                                        timeout=60, callback_url=rx.url("/c"),
                                        **{"async": True})
            self.assertEqual(st, 202, ans)
            jid = ans["job_id"]
            deadline = time.time() + 60
            while time.time() < deadline:
                st, job, _ = self.d.request("GET", "/jobs/" + jid, token=self.alice)
                if job["status"] == "running":
                    break
                time.sleep(0.05)
            st, job, _ = self.d.request("POST", f"/jobs/{jid}/cancel", token=self.alice)
            self.assertEqual(st, 200, job)
            hdrs, body = rx.wait(1)[0]
            self.assertEqual(json.loads(body)["error"]["code"], "CANCELLED")
            self.assertTrue(signature_ok(body, hdrs["Sealrun-Signature"], self.pk))
            self.assertEqual(wait_state(self.d, self.alice, jid, "delivered")["attempts"][0]
                             ["status"], 204)
        finally:
            rx.close()

    def test_cli_submits_with_a_callback_and_shows_deliveries(self):
        rx = Receiver()
        try:
            script = os.path.join(self.tmp, "q.js")
            with open(script, "w") as f:
                f.write(QUICK)
            remote = ["--server", self.d.url, "--token", self.alice]
            p = cli("exec", script, "--input", '{"n": 4}', "--async", "--callback-url",
                    rx.url("/cli"), *remote)
            self.assertEqual(p.returncode, 0, p.stderr)
            jid = json.loads(p.stdout)["job_id"]
            rx.wait(1)
            wait_state(self.d, self.alice, jid, "delivered")
            p = cli("jobs", "deliveries", jid, *remote)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = json.loads(p.stdout)
            self.assertEqual((out["state"], len(out["attempts"])), ("delivered", 1))
            p = cli("exec", script, "--callback-url", rx.url(), *remote)
            self.assertEqual(p.returncode, 2)
            self.assertIn("--callback-url goes with --async", p.stderr)
        finally:
            rx.close()

    def test_refused_at_submit(self):
        st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 1},
                                    callback_url="ftp://127.0.0.1/x", **{"async": True})
        self.assertEqual(st, 400, ans)
        self.assertIn("callback_url", ans["error"]["message"])
        st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 1},
                                    callback_url="http://10.0.0.1/x", **{"async": True})
        self.assertEqual(st, 400, ans)
        self.assertIn("address guard", ans["error"]["message"])
        st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 1},
                                    callback_url="http://127.0.0.1:1/x")
        self.assertEqual(st, 400, ans)
        self.assertIn("\"async\": true", ans["error"]["message"])
        st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 1},
                                    callback_url="x" * 3000, **{"async": True})
        self.assertEqual(st, 400, ans)
        # a job without a callback_url has no deliveries
        st, ans, _ = self.d.execute(self.alice, QUICK, input={"n": 1}, **{"async": True})
        self.assertEqual(st, 202, ans)
        st, dl, _ = self.d.request("GET", f"/jobs/{ans['job_id']}/deliveries", token=self.alice)
        self.assertEqual((st, dl["state"], dl["attempts"]), (200, "none", []))
        st, dl, _ = self.d.request("GET", "/jobs/" + "0" * 32 + "/deliveries", token=self.alice)
        self.assertEqual(st, 404, dl)


class GuardTest(unittest.TestCase):
    def test_loopback_and_plain_http_need_the_operator(self):
        with Daemon() as d:
            tok = d.token("alice")
            for url, why in (("https://127.0.0.1:8443/hook", "address guard"),
                             ("https://localhost/hook", "address guard"),
                             ("https://[::1]/hook", "address guard"),
                             ("http://hooks.example.com/hook", "only https")):
                st, ans, _ = d.execute(tok, QUICK, input={"n": 1}, callback_url=url,
                                       **{"async": True})
                self.assertEqual(st, 400, (url, ans))
                self.assertIn(why, ans["error"]["message"], url)


class RestartTest(unittest.TestCase):
    def test_a_pending_delivery_survives_a_restart(self):
        rx = Receiver()
        rx.down = True
        d = Daemon("--http-allow-private", "127.0.0.1", "--http-allow-http")
        try:
            d.start()
            tok = d.token("alice")
            st, ans, _ = d.execute(tok, QUICK, input={"n": 2}, callback_url=rx.url(),
                                   **{"async": True})
            self.assertEqual(st, 202, ans)
            jid = ans["job_id"]
            rx.wait(1)
            deadline = time.time() + 60
            while time.time() < deadline:
                st, dl, _ = d.request("GET", f"/jobs/{jid}/deliveries", token=tok)
                if dl["attempts"]:
                    break
                time.sleep(0.05)
            self.assertEqual(dl["state"], "pending", dl)
            self.assertEqual(d.stop(), 0)
            before = len(rx.got)
            rx.down = False
            d.start()
            done = wait_state(d, tok, jid, "delivered")
            self.assertGreater(len(rx.got), before)  # delivered by the restarted daemon
            self.assertEqual(done["attempts"][-1]["status"], 204)
            self.assertTrue(all(a["status"] == 500 for a in done["attempts"][:-1]), done)
        finally:
            d.cleanup()
            rx.close()


if __name__ == "__main__":
    main()
