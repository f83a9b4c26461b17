# SPDX-License-Identifier: MIT
"""test_durability.py - acknowledged jobs survive kill -9 of sealrund; jobs
that were running come back failed with INTERRUPTED (never rerun); queued
jobs run after the restart; a killed job process is a failed job."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, descendants, main  # noqa: E402

LOOP = "function main(){ for(;;){} }"


class DurabilityTest(unittest.TestCase):
    def test_kill9_restart(self):
        d = Daemon("--max-running-per-user", "1")
        try:
            d.start()
            tok = d.token("dora")
            st, done, _ = d.execute(tok, "function main(){ return {kept: true}; }")
            self.assertEqual(st, 200)
            st, a, _ = d.execute(tok, LOOP, timeout=60, **{"async": True})
            self.assertEqual(st, 202)
            st, b, _ = d.execute(tok, "function main(){ return {resumed: 1}; }",
                                 **{"async": True})
            self.assertEqual(st, 202)
            deadline = time.time() + 20
            while d.request("GET", "/jobs/" + a["job_id"], token=tok)[1]["status"] != "running":
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.assertEqual(d.request("GET", "/jobs/" + b["job_id"], token=tok)[1]["status"],
                             "queued")
            d.kill9()
            time.sleep(0.5)
            d.start()
            st, again, _ = d.request("GET", "/jobs/" + done["job_id"], token=tok)
            self.assertEqual((st, again["output"]), (200, {"kept": True}))
            self.assertEqual(again["output_hash"], done["output_hash"])
            st, ja, _ = d.request("GET", "/jobs/" + a["job_id"], token=tok)
            self.assertEqual(ja["status"], "failed")
            self.assertEqual(ja["error"]["code"], "INTERRUPTED")
            # its own receipt, signed by the (persistent) worker key, that verifies
            self.assertEqual(ja["receipt"]["error_code"], "INTERRUPTED")
            self.assertEqual(ja["receipt"]["job_id"], a["job_id"])
            path = os.path.join(d.data_dir, "interrupted.json")
            with open(path, "w") as f:
                json.dump(ja, f)
            p = cli("verify", path)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            jb = d.wait_job(tok, b["job_id"])
            self.assertEqual(jb["output"], {"resumed": 1})
        finally:
            d.cleanup()

    def test_killed_job_process_is_a_failed_job(self):
        with Daemon() as d:
            tok = d.token("victim")
            st, a, _ = d.execute(tok, LOOP, timeout=30, **{"async": True})
            deadline = time.time() + 20
            while d.request("GET", "/jobs/" + a["job_id"], token=tok)[1]["status"] != "running":
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            time.sleep(0.3)
            # zygote is sealrund's child; job processes are the zygote's children
            procs = descendants(d.proc.pid)
            jobs = [p for p in procs if p in sum((descendants(z) for z in procs), [])]
            self.assertTrue(jobs, procs)
            for p in jobs:
                os.kill(p, signal.SIGKILL)
            job = d.wait_job(tok, a["job_id"])
            self.assertEqual(job["error"]["code"], "SANDBOX_CRASHED", job)
            self.assertIn("signal 9", job["error"]["message"])
            st, ok, _ = d.execute(tok, "function main(){ return {alive: true}; }")
            self.assertEqual(ok["output"], {"alive": True})
            self.assertEqual(d.request("GET", "/ready")[0], 200)


if __name__ == "__main__":
    main()
