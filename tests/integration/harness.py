# SPDX-License-Identifier: MIT
"""harness.py - starts a real sealrund on 127.0.0.1 (port 0) in a fresh data
directory, creates tokens with the real CLI, and talks HTTP to it.

Every test module uses Daemon as a context manager; the daemon is stopped
(SIGTERM, then SIGKILL) by PID when the test ends. Only loopback traffic.

SR_TEST_STORE=postgres (the CTest variants integration-pg/...) runs the
same tests on PostgreSQL: the first Daemon starts one throw-away server for
the test module (Postgres below: initdb and pg_ctl as 'nobody' when root, a
unix socket in a temp directory, no TCP port), each data directory gets its
own database (a restarted daemon finds its data again), and the server is
stopped when the module ends.
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


def _pg_bin():
    """The directory of Debian's PostgreSQL server programs (newest version)."""
    base = "/usr/lib/postgresql"
    versions = sorted((int(v) for v in os.listdir(base) if v.isdigit()), reverse=True) \
        if os.path.isdir(base) else []
    for v in versions:
        d = os.path.join(base, str(v), "bin")
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    return os.path.dirname(shutil.which("initdb") or "/usr/bin/initdb")


def _as_nobody():
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("nobody")
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)


class Postgres:
    """A throw-away PostgreSQL server on a unix socket in its own directory."""

    def __init__(self, fsync=False):
        self.fsync = fsync  # off for tests (they never crash this server); on for benchmarks
        self.dir = tempfile.mkdtemp(prefix="sr-pg-")
        self.bin = _pg_bin()
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", self.data, "-U", "sealrun", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        self.start()
        import atexit
        atexit.register(self.destroy)

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    def _run(self, prog, *args):
        with open(os.path.join(self.dir, "tool.log"), "ab") as log:
            subprocess.run([os.path.join(self.bin, prog), *args], stdout=log, stderr=log,
                           preexec_fn=_as_nobody, check=True, timeout=120)

    def start(self):
        opts = f"-k {self.dir} -c listen_addresses= -c fsync={'on' if self.fsync else 'off'} " \
               "-c max_connections=300"
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self):
        if not os.path.isdir(self.dir):
            return  # destroyed already
        try:
            self.stop("immediate")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db):
        return f"postgresql:///{db}?host={self.dir}&user=sealrun"

    def sql(self, db, statement):
        """Runs one statement with psql; returns its unaligned output."""
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                            self.url(db), "-c", statement], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql {statement!r}: {p.stderr}")
        return p.stdout.strip()

    def database(self, name):
        """The URL of database 'name', created on first use."""
        if self.sql("postgres", f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") \
                == "0":
            self.sql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)


_PG = None


def test_store_is_pg():
    return os.environ.get("SR_TEST_STORE") == "postgres"


def postgres():
    """The module's PostgreSQL server (started on first use)."""
    global _PG
    if _PG is None:
        _PG = Postgres()
    return _PG


def store_for(data_dir):
    """The --store URL of a data directory under SR_TEST_STORE (None: SQLite)."""
    if not test_store_is_pg():
        return None
    name = "d" + hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:20]
    return postgres().database(name)


def descendants(pid):
    """Every process below 'pid' (children, their children, ...), from /proc."""
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                kids.setdefault(int(fields[1]), []).append(int(p))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    """True while /proc has the process and it is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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


def leb(n):
    """n as an unsigned LEB128 (the WebAssembly binary format's integers)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def section(sid, body):
    """A WebAssembly module section: its id, its size, its body."""
    return bytes([sid]) + leb(len(body)) + body


def ed25519_sign(seed, msg):
    """An Ed25519 signature of msg by the key of the 32-byte seed, through
    libsodium (a build dependency) so the tests need nothing outside
    Python's standard library."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert lib.sodium_init() >= 0
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert lib.crypto_sign_seed_keypair(pk, sk, seed) == 0
    sig = ctypes.create_string_buffer(64)
    assert lib.crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), sk) == 0
    return sig.raw


def sign_request(seed, method, path, query, body):
    """The X-Sealrun-* headers of a worker request signed with 'seed'
    (docs/workers.md: SHA-256 over the domain, method, path, query and time,
    each NUL-terminated, and the body's SHA-256)."""
    tm = str(int(time.time() * 1000))
    h = hashlib.sha256()
    for part in ("sealrun.worker.request.v1", method, path, query, tm):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(body).digest())
    sig = ed25519_sign(seed, h.digest()).hex()
    return {"X-Sealrun-Time": tm, "X-Sealrun-Signature": sig,
            "Content-Type": "application/json"}


def http_json(url, method, body=None, headers=None, token=None):
    """One request to url: (status, the answer's JSON or None), HTTP errors
    included; body bytes or None."""
    req = urllib.request.Request(url, data=body, method=method)
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
    def __init__(self, *extra, data_dir=None, env=None, store=None):
        self.extra = list(extra)
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sealrun-it-")
        # the store: given (several daemons on one database), else the
        # data directory's own (SQLite, or its database under SR_TEST_STORE)
        self.store = store or store_for(self.data_dir)
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
             *(["--store", self.store] if self.store else []), *self.extra],
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
            self.log.flush()
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

    def sql(self, statement):
        """The rows of one SQL statement (values written into it) on this
        daemon's store: the SQLite file, or its PostgreSQL database. Integers
        come back as int on both."""
        if self.store:
            out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-v",
                                  "ON_ERROR_STOP=1", "-d", self.store, "-c", statement],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise AssertionError(f"psql {statement!r}: {out.stderr}")
            return [tuple(int(v) if v.lstrip("-").isdigit() else v for v in line.split("\x1f"))
                    for line in out.stdout.splitlines() if line]
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data_dir, "sealrun.db"), timeout=10)
        try:
            rows = db.execute(statement).fetchall()
            db.commit()
            return rows
        finally:
            db.close()

    def where(self):
        """The CLI arguments that name this daemon's store."""
        return ["--store", self.store] if self.store else ["--data-dir", self.data_dir]

    def token(self, user):
        p = cli("token", "create", *self.where(), "--user", user, check=True)
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


class Worker:
    """A remote worker (sealrund --role worker, docs/workers.md) in its own
    data directory, registered with a coordinator (a Daemon) by a worker
    token; stopped by PID like a Daemon. start() waits for its registration
    line, or for it to exit (then .returncode and .log_text() say why)."""

    def __init__(self, coordinator_url, token, *extra, data_dir=None, env=None):
        self.url = coordinator_url
        self.token = token
        self.extra = list(extra)
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sealrun-wk-")
        self.env = dict(ENV)
        self.env["SEALRUN_WORKER_TOKEN"] = token
        if env:
            self.env.update(env)
        self.proc = None
        self.id = None
        self.public_key = None
        self.returncode = None
        self.log_path = os.path.join(self.data_dir, "worker.log")

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SEALRUND, "--role", "worker", "--coordinator", self.url, "--data-dir",
             self.data_dir, "--dev", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            m = re.search(rb"worker key ([0-9a-f]{64})", line)
            if m:
                self.public_key = m.group(1).decode()
            m = re.match(rb"worker ([0-9a-f]{16}) registered with ", line)
            if m:
                self.id = m.group(1).decode()
                break
        self.log.flush()
        if not self.id:
            self.returncode = self.proc.wait(timeout=30)
            self.proc = None
            return self
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()

    def wait_exit(self, timeout):
        """Waits for the worker to end by itself; its exit status."""
        self.returncode = self.proc.wait(timeout=timeout)
        self.proc = None
        return self.returncode

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def cleanup(self):
        self.stop()
        if not self.log.closed:
            self.log.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return open(self.log_path, errors="replace").read()


def worker_token(daemon, name):
    """A new worker token in the daemon's store (sealrun worker token create)."""
    p = cli("worker", "token", "create", *daemon.where(), "--name", name, check=True)
    return p.stdout.strip().splitlines()[-1]


def main():
    unittest.main(verbosity=2)
