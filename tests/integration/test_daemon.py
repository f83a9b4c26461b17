"""test_daemon.py - sealrund's command line and start-up: refusing to start
without keys (naming what is missing), keys from the environment, bad
options, port 0, the result TTL and the purge of expired jobs."""
import os
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
                           (["--frobnicate"], "unknown argument")):
            p = sealrund(*args, "--data-dir", self.dir, "--dev")
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(text, p.stderr, args)
        p = sealrund("--listen", "127.0.0.1:0", "--data-dir", self.dir, "--dev",
                     env={"SEALRUN_RESULT_TTL": "forever"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("SEALRUN_RESULT_TTL", p.stderr)

    def test_port_in_use_is_a_clear_error(self):
        with Daemon() as d:
            port = d.url.rsplit(":", 1)[1]
            p = sealrund("--listen", "127.0.0.1:" + port, "--data-dir", self.dir, "--dev")
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("cannot listen on 127.0.0.1:" + port, p.stderr)

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
