# SPDX-License-Identifier: MIT
"""harness.py - starts a real sealrund on 127.0.0.1 (port 0) in a fresh data
directory, creates tokens with the real CLI, and talks HTTP to it.

Every test module uses Daemon as a context manager; the daemon is stopped
(SIGTERM, then SIGKILL) by PID when the test ends. Only loopback traffic.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

BIN = os.environ.get("SR_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "dev", "bin")
SEALRUND = os.path.join(BIN, "sealrund")
SEALRUN = os.path.join(BIN, "sealrun")

# ASan: child processes of a sandbox are killed on purpose; do not treat that
# as a failure of the daemon, but do fail on real errors in the daemon.
ENV = dict(os.environ)
ENV.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0")


def cli(*args, input=None, env=None, check=False, timeout=120):
    """Runs build/bin/sealrun; returns CompletedProcess with text output."""
    e = dict(ENV)
    if env:
        e.update(env)
    p = subprocess.run([SEALRUN, *args], input=input, capture_output=True, text=True,
                       env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"sealrun {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def summary(job):
    """A short description of a job for assertion messages (never the logs)."""
    if not isinstance(job, dict):
        return repr(job)[:300]
    return {k: (repr(v)[:200] if k != "logs" else f"<{len(v)} entries>")
            for k, v in job.items()}


def canonical(v):
    """RFC 8785 for the values the tests use (ASCII keys, integers, strings)."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def output_hash(v):
    return hashlib.sha256(canonical(v).encode()).hexdigest()


class Daemon:
    def __init__(self, *extra, data_dir=None, env=None):
        self.extra = list(extra)
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sealrun-it-")
        self.env = dict(ENV)
        if env:
            self.env.update(env)
        self.proc = None
        self.url = None
        self.log_path = os.path.join(self.data_dir, "sealrund.log")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SEALRUND, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--dev",
             *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.match(rb"listening on (http://[0-9.]+:\d+)", line)
            if m:
                self.url = m.group(1).decode()
                break
        if not self.url:
            self.stop()
            raise AssertionError("sealrund did not start: " + open(self.log_path).read())
        # Keep draining stderr so the daemon never blocks on a full pipe.
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.log.close()

    def cleanup(self):
        """Stops the daemon; fails if it did not exit cleanly (status 0), which
        also catches sanitizer reports (leaks, UB) in sealrund itself."""
        rc = self.stop()
        log = self.log_text() if rc not in (0, None) else ""
        self.log.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if rc not in (0, None):
            raise AssertionError(f"sealrund exited with {rc}; log tail:\n{log[-3000:]}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.cleanup()

    def token(self, user):
        p = cli("token", "create", "--data-dir", self.data_dir, "--user", user, check=True)
        return p.stdout.strip().splitlines()[-1]

    def request(self, method, path, body=None, token=None, raw=None, headers=None,
                timeout=180):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None, dict(e.headers)

    def request_big(self, path, size, token=None):
        """POSTs a body of 'size' bytes; the server may answer and close
        before reading it all, so a failed send is not an error here."""
        import http.client
        host, port = self.url[len("http://"):].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(size))
        if token:
            conn.putheader("Authorization", "Bearer " + token)
        conn.endheaders()
        try:
            chunk = b"x" * 65536
            sent = 0
            while sent < size:
                n = min(len(chunk), size - sent)
                conn.send(chunk[:n])
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        return r.status, body

    def execute(self, token, script, **fields):
        body = {"script": script}
        body.update(fields)
        return self.request("POST", "/execute", body, token=token)

    def wait_job(self, token, job_id, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, job, _ = self.request("GET", "/jobs/" + job_id, token=token)
            if st == 200 and job["status"] in ("completed", "failed"):
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout}s")

    def log_text(self):
        self.log.flush()
        return open(self.log_path, errors="replace").read()


def main():
    unittest.main(verbosity=2)
