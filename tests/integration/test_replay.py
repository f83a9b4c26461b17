#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_replay.py - record and replay (docs/http.md "Record and replay"):
jobs with "record": true that fetch from a local HTTP server on 127.0.0.1
(reachable only through --http-allow-private 127.0.0.1), read the clock and
draw randomness; then the server is stopped and `sealrun replay` reruns each
job offline from its sealed recording and reproduces the output hash (and,
for WebAssembly, the gas). A tampered recording is refused, another user
cannot read a recording, and a recording is purged with its job. No traffic
leaves 127.0.0.0/8.
"""
import base64
import hashlib
import json
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Daemon, cli, main, summary

GUEST_DIR = os.path.dirname(os.environ.get("SR_WASM_GUEST", ""))

FETCHER = """
async function main(input) {
  const a = await fetch(input.base + "/count");
  const b = await fetch(input.base + "/echo", {method: "POST", body: "hi",
                                              headers: {"X-A": "1"}});
  const c = await fetch(input.base + "/status/503");
  return {a: await a.text(), b: await b.json(), c: c.status,
          t: Date.now(), d: new Date().toISOString(), r: Math.random(),
          u: crypto.randomUUID(), g: [...crypto.getRandomValues(new Uint8Array(4))],
          h: crypto.randomBytes(4)};
}
"""

NONDETERMINISTIC = """
function main() {
  const t0 = Date.now();
  const s = Date();
  return {t0, s, t1: new Date().getTime(), r: [Math.random(), Math.random()],
          u: crypto.randomUUID(), b: crypto.randomBytes(8),
          sub: new (class extends Date {})(5).getTime()};
}
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    count = 0

    def log_message(self, *a):
        pass

    def _answer(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/count":  # a different answer every time: only a recording repeats it
            Handler.count += 1
            self._answer(200, f"call {Handler.count}".encode())
        elif self.path == "/echo":
            doc = {"method": self.command, "a": self.headers.get("X-A"),
                   "body": body.decode()}
            self._answer(200, json.dumps(doc).encode(), "application/json")
        elif self.path.startswith("/status/"):
            self._answer(int(self.path[len("/status/"):]), b"status")
        else:
            self._answer(404, b"no such path")

    do_GET = do_POST = _handle


class ReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--http-allow-private", "127.0.0.1", "--http-allow-http").start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        keys = json.loads(cli("keygen", check=True).stdout)
        cls.pk, cls.sk = keys["public_key"], keys["secret_key"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def serve(self):
        """A local HTTP server for one test; stopped by the caller."""
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    def stop(self, srv):
        srv.shutdown()
        srv.server_close()

    def execute(self, body, token=None):
        body = dict(body, record=True, record_pubkey=self.pk)
        st, job, _ = self.d.request("POST", "/execute", body, token=token or self.alice)
        self.assertEqual(st, 200, summary(job))
        return job

    def replay(self, job_id, token=None, sk=None):
        p = cli("replay", job_id, "--server", self.d.url, "--token", token or self.alice,
                "--secret-key", sk or self.sk, timeout=300)
        out = json.loads(p.stdout) if p.stdout.strip().startswith("{") else None
        return p, out

    def assert_replays(self, job):
        p, out = self.replay(job["job_id"])
        self.assertEqual(p.returncode, 0, (p.stdout, p.stderr))
        self.assertTrue(out["output_hash_matches"], out)
        self.assertEqual(out["output_hash"], job["output_hash"])
        self.assertEqual(out["recorded_output_hash"], job["output_hash"])
        self.assertIsNone(out["diverged"], out)
        return out

    def test_js_fetch_replays_offline(self):
        srv = self.serve()
        base = f"http://127.0.0.1:{srv.server_address[1]}"
        job = self.execute({"script": FETCHER, "input": {"base": base},
                            "http": {"allow": [f"127.0.0.1:{srv.server_address[1]}"]}})
        self.stop(srv)  # from now on only the recording can answer
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"]["b"], {"method": "POST", "a": "1", "body": "hi"})
        self.assertEqual(job["output"]["c"], 503)
        self.assertRegex(job["receipt"]["recording_sha256"], "^[0-9a-f]{64}$")
        self.assertEqual(job["recording_sha256"], job["receipt"]["recording_sha256"])
        self.assertEqual(len(job["receipt"]["http"]), 3)
        self.assert_replays(job)
        # and again: a replay changes nothing on the server
        self.assert_replays(job)

    def test_clock_and_randomness_replay_identically(self):
        job = self.execute({"script": NONDETERMINISTIC})
        self.assertEqual(job["status"], "completed", summary(job))
        out = job["output"]
        self.assertNotEqual(out["r"][0], out["r"][1])
        self.assertEqual(out["sub"], 5)
        self.assertGreater(out["t0"], 1.7e12)
        self.assert_replays(job)
        # a second run of the same job draws other values: the recording makes the difference
        again = self.execute({"script": NONDETERMINISTIC})
        self.assertNotEqual(again["output"]["u"], out["u"])

    def wasm(self, name, args, http=None, output_format=None):
        path = os.path.join(GUEST_DIR, name)
        if not GUEST_DIR or not os.path.exists(path):
            self.skipTest(f"{name} was not built")
        with open(path, "rb") as f:
            body = {"runtime": "wasm", "module": base64.b64encode(f.read()).decode(),
                    "args": args}
        if http:
            body["http"] = http
        if output_format:
            body["output_format"] = output_format
        return self.execute(body)

    def test_wasm_fetch_replays_with_gas(self):
        srv = self.serve()
        port = srv.server_address[1]
        job = self.wasm("http_guest.wasm", ["POST", f"http://127.0.0.1:{port}/echo", "abc",
                                            "X-A: 2"], http={"allow": [f"127.0.0.1:{port}"]})
        self.stop(srv)
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"]["rc"], 200, job["output"])
        out = self.assert_replays(job)
        self.assertTrue(out["gas_matches"], out)
        self.assertEqual(out["gas_used"], job["gas_used"])

    def test_wasm_clock_and_random_replay(self):
        job = self.wasm("guest_c.wasm", ["random"], output_format="text")
        self.assertEqual(job["status"], "completed", summary(job))
        out = self.assert_replays(job)
        self.assertEqual(out["gas_used"], job["gas_used"])
        job = self.wasm("guest_c.wasm", ["clock"], output_format="text")
        self.assertEqual(job["output"], "1\n", summary(job))
        self.assert_replays(job)

    def test_tampered_recording_is_refused(self):
        job = self.execute({"script": NONDETERMINISTIC})
        jid = job["job_id"]
        other = self.execute({"script": "function main() { return {x: 1} }"})
        # put another job's recording (a valid sealed box to the same key) in its place,
        # hash column and all: only the receipt can tell
        self.d.sql(f"UPDATE recordings SET sealed = (SELECT sealed FROM recordings WHERE "
                   f"job_id = '{other['job_id']}'), sha256 = (SELECT sha256 FROM recordings "
                   f"WHERE job_id = '{other['job_id']}') WHERE job_id = '{jid}'")
        p, _ = self.replay(jid)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("does not match its receipt's recording_sha256", p.stderr)
        # a box that was altered cannot be opened with the key, whatever the hashes say
        st, rec, _ = self.d.request("GET", f"/jobs/{other['job_id']}/recording",
                                    token=self.alice)
        self.assertEqual(st, 200)
        raw = bytearray(base64.b64decode(rec["recording"]))
        raw[40] ^= 1
        bad = base64.b64encode(bytes(raw)).decode()
        self.d.sql(f"UPDATE recordings SET sealed = '{bad}' WHERE job_id = '{other['job_id']}'")
        p, _ = self.replay(other["job_id"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("recording_sha256", p.stderr)
        # the wrong key: not opened
        wrong = json.loads(cli("keygen", check=True).stdout)["secret_key"]
        fresh = self.execute({"script": "function main() { return {y: Date.now() > 0} }"})
        p, _ = self.replay(fresh["job_id"], sk=wrong)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("authentication failed", p.stderr)

    def test_other_user_cannot_read_a_recording(self):
        job = self.execute({"script": NONDETERMINISTIC})
        st, ans, _ = self.d.request("GET", f"/jobs/{job['job_id']}/recording", token=self.bob)
        self.assertEqual(st, 404, ans)
        st, ans, _ = self.d.request("GET", f"/jobs/{job['job_id']}/recording", token=self.alice)
        self.assertEqual(st, 200, ans)
        self.assertEqual(hashlib.sha256(ans["recording"].encode()).hexdigest(),
                         job["receipt"]["recording_sha256"])
        p, _ = self.replay(job["job_id"], token=self.bob)
        self.assertEqual(p.returncode, 1)
        self.assertIn("404", p.stderr)

    def test_unrecorded_job_has_no_recording(self):
        st, job, _ = self.d.execute(self.alice, "function main() { return 1 }")
        self.assertEqual(st, 200)
        self.assertNotIn("recording_sha256", job["receipt"])
        st, ans, _ = self.d.request("GET", f"/jobs/{job['job_id']}/recording", token=self.alice)
        self.assertEqual(st, 404, ans)
        p, _ = self.replay(job["job_id"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("was not recorded", p.stderr)

    def test_record_needs_a_key(self):
        st, ans, _ = self.d.execute(self.alice, "function main() { return 1 }", record=True)
        self.assertEqual(st, 400, ans)
        self.assertIn("record_pubkey", ans["error"]["message"])
        st, ans, _ = self.d.execute(self.alice, "function main() { return 1 }",
                                    record_pubkey=self.pk)
        self.assertEqual(st, 400, ans)
        # output_pubkey serves when record_pubkey is not given
        st, job, _ = self.d.execute(self.alice, "function main() { return 1 }", record=True,
                                    output_pubkey=self.pk)
        self.assertEqual(st, 200, summary(job))
        self.assertIn("recording_sha256", job["receipt"])
        self.assert_replays(job)


class PurgeTest(unittest.TestCase):
    def test_recording_is_purged_with_its_job(self):
        keys = json.loads(cli("keygen", check=True).stdout)
        d = Daemon(env={"SEALRUN_RESULT_TTL": "1s"}).start()
        try:
            tok = d.token("carol")
            st, job, _ = d.execute(tok, "function main() { return Date.now() }", record=True,
                                   record_pubkey=keys["public_key"])
            self.assertEqual(st, 200, summary(job))
            self.assertEqual(d.sql("SELECT count(*) FROM recordings"), [(1,)])
            d.stop()
            import time
            time.sleep(1.5)
            d.start()  # expired jobs are purged at start
            st, _, _ = d.request("GET", f"/jobs/{job['job_id']}", token=tok)
            self.assertEqual(st, 404)
            st, _, _ = d.request("GET", f"/jobs/{job['job_id']}/recording", token=tok)
            self.assertEqual(st, 404)
            self.assertEqual(d.sql("SELECT count(*) FROM recordings"), [(0,)])
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()
