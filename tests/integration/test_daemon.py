# SPDX-License-Identifier: MIT
"""test_daemon.py - sealrund's command line and start-up: refusing to start
without keys (naming what is missing), keys from the environment, bad
options, port 0, the result TTL and the purge of expired jobs."""
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import ENV, SEALRUND, Daemon, main  # noqa: E402

KEY = "00" * 32


def sealrund(*args, env=None, timeout=30):
    e = {k: v for k, v in ENV.items() if not k.endswith("_MASTER_KEY")}
    e.update(env or {})
    return subprocess.run([SEALRUND, *args], capture_output=True, text=True, env=e,
                          timeout=timeout)


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sealrun-d-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_refuses_to_start_without_keys(self):
        p = sealrund("--listen", "127.0.0.1:0", "--data-dir", self.dir)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("COMPUTE_MASTER_KEY", p.stderr)
        self.assertIn("SECRETS_MASTER_KEY", p.stderr)
        self.assertNotIn("listening on", p.stderr)

    def test_refuses_a_short_key_without_echoing_it(self):
        p = sealrund("--listen", "127.0.0.1:0", "--data-dir", self.dir,
                     env={"COMPUTE_MASTER_KEY": "abcdef0123", "SECRETS_MASTER_KEY": KEY})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("COMPUTE_MASTER_KEY", p.stderr)
        self.assertNotIn("abcdef0123", p.stderr)

    def test_starts_with_keys_from_the_environment(self):
        d = Daemon(data_dir=self.dir, env={"COMPUTE_MASTER_KEY": KEY, "SECRETS_MASTER_KEY": KEY})
        d.extra = []
        try:
            d.start()
            self.assertEqual(d.request("GET", "/ready")[0], 200)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "keys", "compute.key")))
        finally:
            d.cleanup()

    def test_bad_options(self):
        for args, text in ((["--listen", "nonsense"], "--listen must be HOST:PORT"),
                           (["--listen", "127.0.0.1:99999"], "--listen port must be 0..65535"),
                           (["--isolation=both"], "--isolation must be 'tenant' or 'job'"),
                           (["--js-jit=maybe"], "--js-jit must be 'on' or 'off'"),
                           (["--frobnicate"], "unknown option '--frobnicate'"),
                           (["stray"], "unexpected argument 'stray'")):
            p = sealrund(*args, "--data-dir", self.dir, "--dev")
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(text, p.stderr, args)
        p = sealrund("--listen", "127.0.0.1:0", "--data-dir", self.dir, "--dev",
                     env={"SEALRUN_RESULT_TTL": "forever"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("SEALRUN_RESULT_TTL", p.stderr)

    def test_one_daemon_per_data_directory(self):
        with Daemon(data_dir=self.dir) as d:
            p = sealrund("--listen", "127.0.0.1:0", "--data-dir", self.dir, "--dev")
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(f"data directory '{self.dir}' is in use by another sealrund "
                          f"(pid {d.proc.pid})", p.stderr)
            tok = d.token("one")
            self.assertEqual(d.execute(tok, "function main(){ return 1; }")[0], 200)
        # the lock goes with the process, kill -9 included
        d = Daemon(data_dir=self.dir)
        d.start()
        d.kill9()
        with Daemon(data_dir=self.dir) as d2:
            self.assertEqual(d2.request("GET", "/health")[0], 200)

    def test_stop_signals_reach_only_the_waiting_thread(self):
        """SIGINT and SIGTERM are blocked in every thread of sealrund but
        the one waiting for them (sigwait unblocks them there while it
        waits): a thread that did not block them would take a stop signal
        with its default action and end the process without its orderly
        stop, depending on which thread the kernel picked."""
        want = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
        with Daemon() as d:
            time.sleep(0.5)  # every thread started
            open_to_stop = []
            for tid in os.listdir(f"/proc/{d.proc.pid}/task"):
                try:
                    with open(f"/proc/{d.proc.pid}/task/{tid}/status") as f:
                        status = f.read()
                except OSError:
                    continue
                blocked = int(status.split("SigBlk:")[1].split()[0], 16)
                name = status.split("Name:")[1].split()[0]
                if blocked & want != want:
                    open_to_stop.append((tid, name))
            self.assertLessEqual(len(open_to_stop), 1, open_to_stop)

    def test_port_in_use_is_a_clear_error(self):
        with Daemon() as d:
            port = d.url.rsplit(":", 1)[1]
            p = sealrund("--listen", "127.0.0.1:" + port, "--data-dir", self.dir, "--dev")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("cannot listen on 127.0.0.1:" + port, p.stderr)

    def test_job_processes_never_hold_the_master_keys(self):
        """Neither the zygote nor a job process has the key variables in its
        environment block (/proc/PID/environ), from sealrund or `sealrun run`."""
        from harness import descendants
        key = "ab" * 32
        env = {"COMPUTE_MASTER_KEY": key, "SECRETS_MASTER_KEY": "cd" * 32}

        def check_tree(root):
            pids = descendants(root)
            self.assertTrue(pids)
            for pid in pids:
                try:
                    data = open(f"/proc/{pid}/environ", "rb").read()
                except OSError:
                    continue
                self.assertNotIn(key.encode(), data, pid)
            return pids

        d = Daemon(data_dir=self.dir, env=env)
        d.extra = []
        try:
            d.start()
            tok = d.token("k")
            st, a, _ = d.execute(tok, "function main(){ for(;;){} }", timeout=5,
                                 **{"async": True})
            deadline = time.time() + 10
            while d.request("GET", "/jobs/" + a["job_id"], token=tok)[1]["status"] != "running":
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            # the job is 'running' in the store just before its process starts
            while len(descendants(d.proc.pid)) < 2 and time.time() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(len(check_tree(d.proc.pid)), 2)  # zygote + job process
        finally:
            d.cleanup()
        script = os.path.join(self.dir, "loop.js")
        with open(script, "w") as f:
            f.write("function main(){ for(;;){} }")
        e = dict(ENV)
        e.update(env)
        from harness import SEALRUN
        p = subprocess.Popen([SEALRUN, "run", script, "--timeout", "5"], env=e,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)
            self.assertGreaterEqual(len(check_tree(p.pid)), 2)
        finally:
            p.wait(timeout=30)

    def test_expired_jobs_are_purged(self):
        d = Daemon(data_dir=self.dir, env={"SEALRUN_RESULT_TTL": "1s"})
        try:
            d.start()
            tok = d.token("ttl")
            st, info, _ = d.request("GET", "/info")
            self.assertEqual((info["result_ttl"], info["result_ttl_ms"]), ("1s", 1000))
            st, job, _ = d.execute(tok, "function main(){ return {x: 1}; }")
            self.assertEqual(d.request("GET", "/jobs/" + job["job_id"], token=tok)[0], 200)
            d.stop()
            time.sleep(1.2)
            d.start()  # expired jobs are purged at start (and every minute)
            self.assertEqual(d.request("GET", "/jobs/" + job["job_id"], token=tok)[0], 404)
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()
