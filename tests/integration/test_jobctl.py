# SPDX-License-Identifier: MIT
"""test_jobctl.py - job control against the real daemon (docs/accounts.md,
"Cancel" and "Queue expiry"): POST /jobs/{id}/cancel of a queued job (it
ends at once, never runs) and of a running one (its job process is gone
from /proc, the job ends failed with CANCELLED), each with a signed receipt
that `sealrun verify` accepts with the worker key from /attestation; a job
that has ended answers 409 naming its state, another user's job 404;
`sealrun jobs cancel`; and --queue-max-age: a job left queued past it ends
EXPIRED with its receipt, without running. Also run on PostgreSQL
(integration-pg/jobctl), where the cancel and the expiry go through the
store's cluster queue."""
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, alive, cli, descendants, main, summary  # noqa: E402

SPIN = "function main() { for (;;) {} }"
QUICK = "function main(i) { return i; }"


class JobControlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # one running job per user: the second one waits in the queue
        cls.d = Daemon("--max-running-per-user", "1").start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        st, att, _ = cls.d.request("GET", "/attestation")
        assert st == 200, att
        cls.pk = att["worker_public_key"]
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-jobctl-")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def submit(self, token, script, **fields):
        st, ans, _ = self.d.execute(token, script, **{"async": True, **fields})
        self.assertEqual(st, 202, ans)
        return ans["job_id"]

    def wait_running(self, token, job_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, job, _ = self.d.request("GET", "/jobs/" + job_id, token=token)
            self.assertEqual(st, 200, job)
            if job["status"] == "running":
                return job
            self.assertEqual(job["status"], "queued", summary(job))
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not start in {timeout}s")

    def cancel(self, token, job_id):
        return self.d.request("POST", f"/jobs/{job_id}/cancel", token=token)

    def assert_verifies(self, job, code):
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], code, summary(job))
        self.assertEqual(job["receipt"]["status"], "failed")
        self.assertEqual(job["receipt"]["error_code"], code)
        path = os.path.join(self.tmp, job["job_id"] + ".json")
        with open(path, "w") as f:
            json.dump(job, f)
        c = cli("verify", path, "--worker-key", self.pk)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertNotIn("FAIL", c.stdout)

    def test_cancel_queued_and_running(self):
        before = set(descendants(self.d.proc.pid))
        running = self.submit(self.alice, SPIN, timeout=60)
        # running first: a cluster claims an owner's jobs in about the order they came,
        # not strictly (two claims at once may take them either way round)
        self.wait_running(self.alice, running)
        queued = self.submit(self.alice, QUICK, input={"n": 1})
        # the spinning job's process: new under sealrund since the submit
        deadline = time.time() + 30
        procs = []
        while time.time() < deadline and not procs:
            procs = [p for p in descendants(self.d.proc.pid) if p not in before and alive(p)]
            time.sleep(0.05)
        self.assertTrue(procs, "no job process appeared for the running job")

        # another user's job is not found, whatever its state
        st, ans, _ = self.cancel(self.bob, queued)
        self.assertEqual(st, 404, ans)
        st, ans, _ = self.cancel(self.bob, running)
        self.assertEqual(st, 404, ans)
        st, ans, _ = self.cancel(self.alice, "0" * 32)
        self.assertEqual(st, 404, ans)
        st, ans, _ = self.cancel(self.alice, "not-an-id")
        self.assertEqual(st, 404, ans)

        # queued: ends at once, never started
        st, job, _ = self.cancel(self.alice, queued)
        self.assertEqual(st, 200, job)
        self.assertEqual(job["job_id"], queued)
        self.assert_verifies(job, "CANCELLED")
        self.assertIn("before it started", job["error"]["message"])
        self.assertIsNone(job["output"])
        st, again, _ = self.d.request("GET", "/jobs/" + queued, token=self.alice)
        self.assertEqual((st, again["error"]["code"]), (200, "CANCELLED"))

        # running: its process is killed, the job ends CANCELLED
        t0 = time.time()
        st, job, _ = self.cancel(self.alice, running)
        self.assertEqual(st, 200, job)
        if job["status"] == "running":  # a cluster ends it in the store, then the holder kills
            job = self.d.wait_job(self.alice, running)
        self.assert_verifies(job, "CANCELLED")
        self.assertIn("job process was killed", job["error"]["message"])
        deadline = time.time() + 30
        while time.time() < deadline and any(alive(p) for p in procs):
            time.sleep(0.05)
        self.assertFalse([p for p in procs if alive(p)], "the cancelled job's process lives on")
        self.assertLess(time.time() - t0, 30)  # long before its 60 s timeout

        # ended: 409 naming its state, for a cancelled and a completed job
        st, ans, _ = self.cancel(self.alice, running)
        self.assertEqual(st, 409, ans)
        self.assertEqual(ans["error"]["code"], "conflict")
        self.assertIn("has already ended: it is failed", ans["error"]["message"])
        done = self.submit(self.alice, QUICK, input=3)
        self.assertEqual(self.d.wait_job(self.alice, done)["status"], "completed")
        st, ans, _ = self.cancel(self.alice, done)
        self.assertEqual(st, 409, ans)
        self.assertIn("it is completed", ans["error"]["message"])

        # the owner's next job runs as usual: the slot came back
        nxt = self.submit(self.alice, QUICK, input=4)
        self.assertEqual(self.d.wait_job(self.alice, nxt)["output"], {"result": 4})

    def test_cli_cancels(self):
        blocker = self.submit(self.bob, SPIN, timeout=60)
        self.wait_running(self.bob, blocker)
        waiting = self.submit(self.bob, QUICK, input=5)
        remote = ["--server", self.d.url, "--token", self.bob]
        p = cli("jobs", "cancel", waiting, *remote)
        self.assertEqual(p.returncode, 0, p.stderr)
        job = json.loads(p.stdout)
        self.assertEqual(job["error"]["code"], "CANCELLED", summary(job))
        p = cli("jobs", "cancel", waiting, *remote)
        self.assertEqual(p.returncode, 1)
        self.assertIn("409", p.stderr)
        self.assertIn("has already ended", p.stderr)
        p = cli("jobs", "cancel", blocker, *remote)
        self.assertEqual(p.returncode, 0, p.stderr)
        job = self.d.wait_job(self.bob, blocker)
        self.assertEqual(job["error"]["code"], "CANCELLED", summary(job))


class QueueExpiryTest(unittest.TestCase):
    def test_a_job_queued_too_long_expires(self):
        with Daemon("--max-running-per-user", "1", "--queue-max-age", "1") as d:
            st, att, _ = d.request("GET", "/attestation")
            alice = d.token("alice")
            st, ans, _ = d.execute(alice, SPIN, timeout=8, **{"async": True})
            self.assertEqual(st, 202, ans)
            first = ans["job_id"]
            deadline = time.time() + 60
            while d.request("GET", "/jobs/" + first, token=alice)[1]["status"] == "queued":
                self.assertLess(time.time(), deadline, "the first job did not start")
                time.sleep(0.05)
            st, ans, _ = d.execute(alice, QUICK, input=1, **{"async": True})
            self.assertEqual(st, 202, ans)
            second = ans["job_id"]
            job = d.wait_job(alice, second, timeout=60)
            self.assertEqual(job["status"], "failed", summary(job))
            self.assertEqual(job["error"]["code"], "EXPIRED", summary(job))
            self.assertIn("--queue-max-age", job["error"]["message"])
            self.assertIsNone(job["output"])
            self.assertEqual(job["receipt"]["error_code"], "EXPIRED")
            with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
                json.dump(job, f)
                f.flush()
                c = cli("verify", f.name, "--worker-key", att["worker_public_key"])
            self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
            # the running job was not touched by the expiry: it timed out by itself
            self.assertEqual(d.wait_job(alice, first, timeout=60)["error"]["code"], "TIMEOUT")
            # a job that does not wait is not expired
            st, ans, _ = d.execute(alice, QUICK, input=2, **{"async": True})
            self.assertEqual(d.wait_job(alice, ans["job_id"])["output"], {"result": 2})

    def test_bad_queue_max_age_stops_sealrund(self):
        from harness import SEALRUND, ENV
        import subprocess
        p = subprocess.run([SEALRUND, "--queue-max-age", "-1"], capture_output=True, text=True,
                           env=ENV, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--queue-max-age", p.stderr)


if __name__ == "__main__":
    main()
