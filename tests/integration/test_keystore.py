# SPDX-License-Identifier: MIT
"""test_keystore.py - the keystore role (docs/keystore.md): a coordinator
that never holds the secrets master key or a secret value, a keystore that
alone holds it, and two workers; every role its own process on 127.0.0.1,
the coordinator's store on a throw-away PostgreSQL (integration-pg/keystore).

Checks: a user seals a canary secret with the real CLI through the
coordinator (which asks the keystore to make the at-rest blob); a job of
that user on the allowed worker sees the value (its output is the value
reversed); the same job on the worker whose measurement is not on the
allowlist ends SECRET_UNAVAILABLE and the audit row says the measurement is
not allowed; a job its policy refuses ends SECRET_UNAVAILABLE with the
policy's reason; a release asked with a key that is not registered (a
stolen token without its key), for a job the worker does not hold, or with
a stale fence gets nothing; the canary is never in the coordinator's
PostgreSQL files, its log or an API answer, and the coordinator runs
without SECRETS_MASTER_KEY (neither in its environment nor in its data
directory); {"value": ...} to the coordinator is a 400 telling the client
to seal; the coordinator refuses to start with both SECRETS_MASTER_KEY and
--keystore, naming both; an empty allowlist is said at the keystore's start;
a WASM job gets its secret as its environment. KeystoreProtocolTest drives a
keystore alone against a scripted coordinator: a release comes back sealed
to the job key, signed by the keystore, only after its audit record was
stored; when the audit cannot be stored, nothing is released.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SEALRUND, ENV, Daemon, Worker, cli, ed25519_sign, http_json, postgres, \
    sign_request, summary, worker_token  # noqa: E402

import base64  # noqa: E402
import hashlib  # noqa: E402


CANARY = "canary-7f3e9a1c-keystore-only"
GUEST = os.environ.get("SR_WASM_GUEST", "")
# a generated key's value (docs/secrets.md "Generated keys")
KEY_VALUE = re.compile(r"sealrun\.key\.v1:[a-z0-9]+:[0-9a-f]{64}")
KEY_VALUE_BYTES = re.compile(rb"sealrun\.key\.v1:[a-z0-9]+:[0-9a-f]{64}")
REVERSE = "function main(i, s) { return {r: s.CANARY.split('').reverse().join('')}; }"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pub_hex(seed):
    """The Ed25519 public key of a 32-byte seed, hex (libsodium, as harness.ed25519_sign)."""
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert lib.sodium_init() >= 0
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert lib.crypto_sign_seed_keypair(pk, sk, seed) == 0
    return pk.raw.hex()


def put_key(data_dir, seed):
    """Gives a data directory its Ed25519 identity (DATA_DIR/keys/worker.key)."""
    os.makedirs(os.path.join(data_dir, "keys"), mode=0o700, exist_ok=True)
    path = os.path.join(data_dir, "keys", "worker.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (seed.hex() + "\n").encode())
    os.close(fd)


def post(url, path, body, headers):
    return http_json(url + path, "POST", body, headers)


def measurement_of(*extra):
    """The measurement a worker started with these options logs at start
    (it is deterministic: the binary and the options that shape a run)."""
    d = tempfile.mkdtemp(prefix="sealrun-meas-")
    env = dict(ENV)
    env["SEALRUN_WORKER_TOKEN"] = "srt_measure_only"
    p = subprocess.Popen([SEALRUND, "--role", "worker", "--coordinator", "http://127.0.0.1:9",
                          "--data-dir", d, "--dev", *extra], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            m = re.search(rb"measurement ([0-9a-f]{64})", line)
            if m:
                return m.group(1).decode()
        raise AssertionError("no measurement logged")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stderr.close()
        shutil.rmtree(d, ignore_errors=True)


class Keystore:
    """sealrund --role keystore in its own data directory (by PID)."""

    def __init__(self, port, coordinator_url, coordinator_pk, seed, allow, env=None, extra=()):
        self.data_dir = tempfile.mkdtemp(prefix="sealrun-ks-")
        put_key(self.data_dir, seed)
        self.url = f"http://127.0.0.1:{port}"
        self.args = [SEALRUND, "--role", "keystore", "--listen", f"127.0.0.1:{port}",
                     "--data-dir", self.data_dir, "--dev", "--coordinator", coordinator_url,
                     "--coordinator-key", coordinator_pk]
        for m in allow:
            self.args += ["--allow-measurement", m]
        self.args += list(extra)
        self.env = dict(ENV)
        self.env.update(env or {})
        self.log_path = os.path.join(self.data_dir, "keystore.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if "listening on http://" in self.log_text():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("keystore did not start: " + self.log_text())

    def log_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def cleanup(self):
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if rc not in (0, None):
            raise AssertionError(f"keystore exited with {rc}:\n{text[-3000:]}")


def sodium():
    import ctypes
    import ctypes.util
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert lib.sodium_init() >= 0
    return lib


def seal_to(pk_b64, value):
    """value sealed (crypto_box_seal) to a base64 X25519 key, in base64."""
    import ctypes
    box = ctypes.create_string_buffer(len(value) + 48)
    assert sodium().crypto_box_seal(box, value, len(value), base64.b64decode(pk_b64)) == 0
    return base64.b64encode(box.raw).decode()


def answer_digest(path, request_sig, text):
    h = hashlib.sha256()
    for part in ("sealrun.keystore.answer.v1", path, request_sig):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(text.encode()).digest())
    return h.digest()


class FakeCoordinator:
    """The coordinator's side of the keystore channel, scripted: it answers
    POST /keystore/context with a context it is given, signed with the
    coordinator's key, and POST /keystore/audit as told (stored, or 503),
    and keeps the audit records it got. On 127.0.0.1, in a thread."""

    def __init__(self, seed):
        import http.server
        import threading
        fake = self
        self.seed = seed
        self.context = None
        self.audit_ok = True
        self.records = []
        self.hold = None  # a threading.Event: context answers wait for it
        self.waiting = 0
        lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sig = self.headers["X-Sealrun-Signature"]
                if self.path == "/keystore/audit":
                    fake.records += body["records"]
                    if not fake.audit_ok:
                        return self.reply(503, {"error": {"code": "unavailable",
                                                          "message": "the store is down"}})
                    answer = {"stored": len(body["records"])}
                else:
                    if fake.hold is not None:
                        with lock:
                            fake.waiting += 1
                        fake.hold.wait(30)
                    answer = fake.context
                text = json.dumps(answer, separators=(",", ":"))
                signature = ed25519_sign(fake.seed, answer_digest(self.path, sig, text)).hex()
                self.reply(200, {"answer": text, "signature": signature})

            def reply(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class KeystoreInflightTest(unittest.TestCase):
    """The keystore works on at most 16 releases at once: with 16 waiting
    for the coordinator's context, the 17th is a 429 at once; once they
    end, a release is taken again."""

    def test_the_17th_release_is_refused(self):
        import threading
        coord_seed, ks_seed, worker_seed = os.urandom(32), os.urandom(32), os.urandom(32)
        fake = FakeCoordinator(coord_seed)
        fake.context = {"worker": None, "job": None, "lease": None, "secrets": []}
        ks = Keystore(free_port(), fake.url, pub_hex(coord_seed), ks_seed, ["ab" * 32],
                      extra=["--request-threads", "32"]).start()

        def release(out):
            body = json.dumps({"worker_public_key": pub_hex(worker_seed), "job_id": "c" * 32,
                               "fence": 3, "job_public_key": os.urandom(32).hex(),
                               "owner": "kim", "runtime": "js", "code_hash": "d" * 64,
                               "entry_point": "main", "quote": None}).encode()
            out.append(post(ks.url, "/keystore/release", body,
                            sign_request(worker_seed, "POST", "/keystore/release", "", body)))

        try:
            fake.hold = threading.Event()
            got = []
            threads = [threading.Thread(target=release, args=(got,)) for _ in range(16)]
            for t in threads:
                t.start()
            deadline = time.time() + 20
            while time.time() < deadline and fake.waiting < 16:
                time.sleep(0.05)
            self.assertEqual(fake.waiting, 16)
            extra = []
            release(extra)
            st, ans = extra[0]
            self.assertEqual(st, 429, ans)
            self.assertIn("16 releases are in progress already", ans["error"]["message"])
            fake.hold.set()
            for t in threads:
                t.join(30)
            self.assertEqual(len(got), 16)
            # they were worked on (the coordinator knows no such job), none refused for the cap
            for st, ans in got:
                self.assertNotEqual(st, 429, ans)
                self.assertIn("is not registered", ans["error"]["message"])
            fake.hold = None
            again = []
            release(again)
            self.assertNotEqual(again[0][0], 429, again[0][1])
        finally:
            if fake.hold is not None:
                fake.hold.set()
            ks.cleanup()
            fake.close()


class KeystoreProtocolTest(unittest.TestCase):
    """The keystore alone against a scripted coordinator, driven at the
    protocol's level: the coordinator's key gets the owner's sealing key and
    an at-rest blob for a box sealed to it; a release the context allows
    comes back sealed to the job key and opens to the value, after its
    'allowed' record reached the audit; when the audit cannot be stored,
    nothing is released."""

    def test_release_only_after_the_audit(self):
        lib = sodium()
        coord_seed, ks_seed, worker_seed = os.urandom(32), os.urandom(32), os.urandom(32)
        meas = "ab" * 32
        fake = FakeCoordinator(coord_seed)
        ks = Keystore(free_port(), fake.url, pub_hex(coord_seed), ks_seed, [meas]).start()
        try:
            ks_pk = pub_hex(ks_seed)

            def call(method, path, query, body, seed=coord_seed):
                h = sign_request(seed, method, path, query, body or b"")
                url = ks.url + path + ("?" + query if query else "")
                st, env = http_json(url, method, body, h)
                if st != 200:
                    return st, env
                d = answer_digest(path, h["X-Sealrun-Signature"], env["answer"])
                self.assertEqual(
                    lib.crypto_sign_verify_detached(bytes.fromhex(env["signature"]), d,
                                                    len(d), bytes.fromhex(ks_pk)), 0)
                return 200, json.loads(env["answer"])

            st, a = call("GET", "/keystore/pubkey", "owner=kim", None)
            self.assertEqual(st, 200, a)
            owner_pk = base64.b64decode(a["public_key"])
            value = b"protocol-value-51c2"
            import ctypes
            box = ctypes.create_string_buffer(len(value) + 48)
            self.assertEqual(lib.crypto_box_seal(box, value, len(value), owner_pk), 0)
            st, a = call("POST", "/keystore/seal", "", json.dumps(
                {"owner": "kim", "name": "S", "version": 1,
                 "sealed": base64.b64encode(box.raw).decode()}).encode())
            self.assertEqual(st, 200, a)
            self.assertNotIn(value.decode(), json.dumps(a))
            wpk = pub_hex(worker_seed)
            jid = "c" * 32
            code_hash = "d" * 64
            fake.context = {
                "worker": {"id": "0123456789abcdef", "state": "active", "public_key": wpk,
                           "measurement": meas, "attestation": "none"},
                "job": {"id": jid, "owner": "kim", "state": "running", "runtime": "js",
                        "code_hash": code_hash, "entry_point": "main", "secret_refs": ["S"]},
                "lease": {"holder": hashlib.sha256(bytes.fromhex(wpk)).hexdigest()[:32],
                          "fence": 3},
                "secrets": [{"owner": "kim", "name": "S", "found": True, "version": 1,
                             "policy": None, "blob": a["blob"]}]}
            jpk, jsk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(32)
            self.assertEqual(lib.crypto_box_keypair(jpk, jsk), 0)

            def release():
                body = json.dumps({"worker_public_key": wpk, "job_id": jid, "fence": 3,
                                   "job_public_key": jpk.raw.hex(), "owner": "kim",
                                   "runtime": "js", "code_hash": code_hash,
                                   "entry_point": "main", "quote": None}).encode()
                return call("POST", "/keystore/release", "", body, seed=worker_seed)

            st, a = release()
            self.assertEqual(st, 200, a)
            self.assertEqual([(s["name"], s["version"]) for s in a["secrets"]], [("S", 1)])
            sealed = base64.b64decode(a["secrets"][0]["sealed_value"])
            out = ctypes.create_string_buffer(len(sealed) - 48)
            self.assertEqual(lib.crypto_box_seal_open(out, sealed, len(sealed), jpk, jsk), 0)
            self.assertEqual(out.raw, value)
            self.assertEqual([(r["name"], r["outcome"], r["job_id"]) for r in fake.records],
                             [("S", "allowed", jid)])
            # the audit cannot be stored: nothing is released
            fake.audit_ok = False
            fake.records.clear()
            st, a = release()
            self.assertEqual(st, 503, a)
            self.assertIn("nothing released: the audit could not be recorded",
                          a["error"]["message"])
            self.assertNotIn("secrets", a)
            self.assertEqual([r["outcome"] for r in fake.records], ["allowed"])
        finally:
            ks.cleanup()
            fake.close()


class KeystoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.allowed = measurement_of()
        cls.other = measurement_of("--js-jit", "off")
        assert cls.allowed != cls.other
        cls.pg = postgres()
        cls.store = cls.pg.database("keystore")
        cls.coord_seed = os.urandom(32)
        cls.ks_seed = os.urandom(32)
        cport, kport = free_port(), free_port()
        cls.ks = Keystore(kport, f"http://127.0.0.1:{cport}", pub_hex(cls.coord_seed),
                          cls.ks_seed, [cls.allowed]).start()
        cdir = tempfile.mkdtemp(prefix="sealrun-it-")
        put_key(cdir, cls.coord_seed)
        cls.c = Daemon("--role", "coordinator", "--listen", f"127.0.0.1:{cport}", "--keystore",
                       cls.ks.url, "--keystore-key", pub_hex(cls.ks_seed), data_dir=cdir,
                       store=cls.store).start()
        cls.c.own_dir = True
        cls.tok = cls.c.token("kim")
        cls.other_tok = cls.c.token("lou")
        kext = ["--keystore", cls.ks.url, "--keystore-key", pub_hex(cls.ks_seed)]
        cls.w1 = Worker(cls.c.url, worker_token(cls.c, "good"), *kext).start()
        cls.w2 = Worker(cls.c.url, worker_token(cls.c, "other"), "--js-jit", "off",
                        *kext).start()
        assert cls.w1.id and cls.w2.id, cls.w1.log_text() + cls.w2.log_text()
        cls.answers = []

    @classmethod
    def tearDownClass(cls):
        rcs = [cls.w1.stop(), cls.w2.stop()]
        logs = cls.w1.log_text() + cls.w2.log_text()
        cls.w1.cleanup()
        cls.w2.cleanup()
        cls.c.cleanup()
        cls.ks.cleanup()
        # the workers stop cleanly too (and so without a sanitizer report)
        assert rcs == [0, 0], f"workers exited with {rcs}:\n{logs[-3000:]}"


    def req(self, method, path, body=None, token=None):
        st, ans, _ = self.c.request(method, path, body, token=token or self.tok)
        self.answers.append(json.dumps(ans))
        return st, ans

    def only(self, worker):
        """Drains the other worker so the next jobs run on 'worker'."""
        for w in (self.w1, self.w2):
            verb = "resume" if w is worker else "drain"
            cli("worker", verb, *self.c.where(), w.id, check=True)

    def run_job(self, script, refs, token=None):
        st, ans = self.req("POST", "/execute", {"script": script, "secret_refs": refs,
                                                "async": True}, token=token)
        self.assertEqual(st, 202, ans)
        job = self.c.wait_job(token or self.tok, ans["job_id"], timeout=90)
        self.answers.append(json.dumps(job))
        return job

    def test_a_seal_and_release(self):
        # the CLI seals to the keystore's per-owner key through the coordinator
        p = cli("secret", "set", "CANARY", "--server", self.c.url, "--token", self.tok,
                input=CANARY)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # a value in clear is refused by a coordinator with a keystore
        st, ans = self.req("PUT", "/secrets/PLAIN", {"value": "x-plain"})
        self.assertEqual(st, 400, ans)
        self.assertIn("seal it to the key from GET /secrets/pubkey", ans["error"]["message"])
        # a value in the generated keys' format is refused (the keystore makes those)
        st, ans = self.req("PUT", "/secrets/FAKEKEY", {"sealed": seal_to(
            self.req("GET", "/secrets/pubkey")[1]["public_key"],
            b"sealrun.key.v1:ed25519:" + b"0" * 64)})
        self.assertEqual(st, 400, ans)
        self.assertIn("POST /secrets/FAKEKEY/generate", ans["error"]["message"])
        # the allowed worker's job sees the value
        self.only(self.w1)
        job = self.run_job(REVERSE, ["CANARY"])
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"], {"r": CANARY[::-1]})
        self.assertEqual(job["receipt"]["worker_public_key"], self.w1.public_key)
        self.assertEqual([(r["name"], r["version"]) for r in job["receipt"]["secret_refs"]],
                         [("CANARY", 1)])
        self.assertIn("released 1 secret(s) to worker " + self.w1.id, self.ks.log_text())
        st, audit = self.req("GET", "/secrets/CANARY/audit")
        self.assertEqual(audit["audit"][0]["outcome"], "allowed", audit)
        self.assertEqual(audit["audit"][0]["job_id"], job["job_id"])

    def test_a1_sealing_keys_are_cached(self):
        """The coordinator asks the keystore once per owner for its sealing
        key (the keystore's key is pinned: the answer stays valid)."""
        keys = set()
        for _ in range(3):
            st, ans = self.req("GET", "/secrets/pubkey")
            self.assertEqual(st, 200, ans)
            keys.add(ans["public_key"])
        st, other = self.req("GET", "/secrets/pubkey", token=self.other_tok)
        self.assertEqual(st, 200, other)
        self.assertEqual(len(keys), 1)
        self.assertNotIn(other["public_key"], keys)
        log = self.ks.log_text()
        # test_a's `sealrun secret set` asked first; nothing since
        self.assertEqual(log.count("sent the sealing key of 'kim'"), 1, log[-2000:])
        self.assertEqual(log.count("sent the sealing key of 'lou'"), 1, log[-2000:])

    def test_a2_generated_key_made_by_the_keystore(self):
        """POST /secrets/{name}/generate on a coordinator with a keystore: the
        keystore makes the key and its at-rest blob; the allowed worker's
        job signs with it (the signature verifies with the public key the
        answer gave) and the secret's audit has its 'allowed' and 'used'
        rows. The private key is in no answer, log or store file here."""
        st, ans = self.req("POST", "/secrets/GEN/generate", {"kind": "ed25519"})
        self.assertEqual(st, 201, ans)
        self.assertEqual((ans["name"], ans["kind"], ans["version"]), ("GEN", "ed25519", 1))
        pk = bytes.fromhex(ans["public_key"])
        self.assertEqual(len(pk), 32)
        self.assertIn("generated a ed25519 key for kim's secret 'GEN' version 1",
                      self.ks.log_text())
        st, ans = self.req("POST", "/secrets/GEN2/generate", {"kind": "secp256k1"})
        self.assertEqual(st, 201, ans)
        self.assertEqual(len(ans["public_key"]), 66)
        st, ans = self.req("POST", "/secrets/GEN3/generate", {"kind": "rsa"})
        self.assertEqual(st, 400, ans)
        self.assertIn("'kind' must be", ans["error"]["message"])
        self.only(self.w1)
        msg = b"pay 7 to dan"
        script = ("async function main(i, s0) { const k = await keys.get('GEN'); "
                  "const s = await crypto.subtle.sign('Ed25519', k, "
                  "new TextEncoder().encode('pay 7 to dan')); "
                  "return {sig: Array.from(new Uint8Array(s)).map(b => "
                  "b.toString(16).padStart(2, '0')).join(''), seen: String(s0.GEN)}; }")
        job = self.run_job(script, ["GEN"])
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["receipt"]["worker_public_key"], self.w1.public_key)
        sig = bytes.fromhex(job["output"]["sig"])
        lib = sodium()
        self.assertEqual(lib.crypto_sign_verify_detached(sig, msg, len(msg), pk), 0)
        bad = bytearray(sig)
        bad[0] ^= 1
        self.assertNotEqual(lib.crypto_sign_verify_detached(bytes(bad), msg, len(msg), pk), 0)
        # the job process sees only the reference, as on an embedded daemon
        self.assertEqual(job["output"]["seen"], "sealrun.keyref.v1:ed25519:" + pk.hex())
        data = hashlib.sha256(msg).hexdigest()
        self.assertEqual([(u["name"], u["operation"], u["data_sha256"])
                          for u in job["receipt"]["key_uses"]], [("GEN", "sign", data)])
        st, audit = self.req("GET", "/secrets/GEN/audit")
        rows = [r for r in audit["audit"] if r["job_id"] == job["job_id"]]
        self.assertEqual(sorted(r["outcome"] for r in rows), ["allowed", "used"], audit)
        self.assertEqual([r["reason"] for r in rows if r["outcome"] == "used"],
                         [f"ed25519 sign of data sha256 {data}"])
        # the private key's value is nowhere on the coordinator (checked for
        # every answer and the store files in test_e, by its prefix)
        self.assertIsNone(KEY_VALUE.search(self.c.log_text()))
        self.assertIsNone(KEY_VALUE.search(self.ks.log_text()))
        self.assertIsNone(KEY_VALUE.search(self.w1.log_text()))

    def test_b_worker_not_allowed(self):
        self.only(self.w2)
        try:
            job = self.run_job(REVERSE, ["CANARY"])
        finally:
            self.only(self.w1)
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", summary(job))
        self.assertIn("worker measurement not allowed", job["error"]["message"])
        self.assertEqual(job["receipt"]["worker_public_key"], self.w2.public_key)
        st, audit = self.req("GET", "/secrets/CANARY/audit")
        row = audit["audit"][0]
        self.assertEqual((row["job_id"], row["outcome"]), (job["job_id"], "denied"), audit)
        self.assertIn("worker measurement not allowed", row["reason"])
        self.assertIn(self.other, row["reason"])
        self.assertNotIn(CANARY, self.w2.log_text())

    def test_c_policy_refuses(self):
        st, ans = self.req("PUT", "/secrets/CANARY/policy", {"runtimes": ["wasm"]})
        self.assertEqual(st, 200, ans)
        try:
            job = self.run_job(REVERSE, ["CANARY"])
        finally:
            st, ans = self.req("PUT", "/secrets/CANARY/policy", {})
            self.assertEqual(st, 200, ans)
        self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", summary(job))
        self.assertIn("runtime 'js' is not allowed (allowed: wasm)", job["error"]["message"])
        st, audit = self.req("GET", "/secrets/CANARY/audit")
        self.assertIn("runtime 'js' is not allowed", audit["audit"][0]["reason"])
        # another user's job: the policy (owner only) refuses it
        job = self.run_job(REVERSE.replace("CANARY", "K"), ["kim/CANARY"], token=self.other_tok)
        self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", summary(job))
        self.assertIn("not found or not shared with 'lou'", job["error"]["message"])

    def release(self, seed, job_id, fence, code_hash="0" * 64):
        body = json.dumps({"worker_public_key": pub_hex(seed), "job_id": job_id, "fence": fence,
                           "job_public_key": os.urandom(32).hex(), "owner": "kim",
                           "runtime": "js", "code_hash": code_hash,
                           "entry_point": "main", "quote": None}).encode()
        st, ans = post(self.ks.url, "/keystore/release", body,
                       sign_request(seed, "POST", "/keystore/release", "", body))
        self.answers.append(json.dumps(ans))
        return st, ans

    def test_d_releases_refused(self):
        slow = ("function main(i, s) { const t = Date.now(); while (Date.now() - t < 4000) {} "
                "return {n: s.CANARY.length}; }")
        st, ans = self.req("POST", "/execute", {"script": slow, "secret_refs": ["CANARY"],
                                                "async": True})
        self.assertEqual(st, 202, ans)
        jid = ans["job_id"]
        deadline = time.time() + 60
        fence = None
        while fence is None and time.time() < deadline:
            m = re.search(r"job '%s': running \(fence (\d+)\)" % jid, self.w1.log_text())
            fence = int(m.group(1)) if m else None
            time.sleep(0.05)
        self.assertIsNotNone(fence, self.w1.log_text())
        code_hash = hashlib.sha256(slow.encode()).hexdigest()
        # a stolen token without the registered key: the keystore knows no such worker
        st, ans = self.release(os.urandom(32), jid, fence, code_hash)
        self.assertIn(st, (401, 403), ans)
        self.assertIn("is not registered", ans["error"]["message"])
        with open(os.path.join(self.w1.data_dir, "keys", "worker.key")) as f:
            seed1 = bytes.fromhex(f.read().strip())
        with open(os.path.join(self.w2.data_dir, "keys", "worker.key")) as f:
            seed2 = bytes.fromhex(f.read().strip())
        # the holder with a stale fence
        st, ans = self.release(seed1, jid, fence + 1, code_hash)
        self.assertIn(st, (401, 403), ans)
        self.assertIn("is not leased to worker", ans["error"]["message"])
        # the allowed worker asking for a job it does not hold
        st, ans = self.release(seed1, "0" * 32, 1, code_hash)
        self.assertIn(st, (401, 403), ans)
        self.assertIn("is not known to the coordinator", ans["error"]["message"])
        # a registered worker that is drained (w2, here) gets nothing either
        st, ans = self.release(seed2, jid, fence, code_hash)
        self.assertIn(st, (401, 403), ans)
        self.assertIn("is draining, not active", ans["error"]["message"])
        # the holder with its fence but another code than the job's
        st, ans = self.release(seed1, jid, fence, "1" * 64)
        self.assertIn(st, (401, 403), ans)
        self.assertIn("its code_hash differs", ans["error"]["message"])
        # a request signed by another key than the one it names
        body = json.dumps({"worker_public_key": pub_hex(seed1), "job_id": jid, "fence": fence,
                           "job_public_key": os.urandom(32).hex(), "owner": "kim",
                           "runtime": "js", "code_hash": code_hash, "entry_point": "main",
                           "quote": None}).encode()
        st, ans = post(self.ks.url, "/keystore/release", body,
                       sign_request(os.urandom(32), "POST", "/keystore/release", "", body))
        self.assertEqual(st, 401, ans)
        job = self.c.wait_job(self.tok, jid, timeout=60)
        self.assertEqual(job["status"], "completed", summary(job))
        self.assertEqual(job["output"], {"n": len(CANARY)})
        # the coordinator's keystore routes take only the keystore's signature
        st, ans = post(self.c.url, "/keystore/context", b"{}",
                       sign_request(seed1, "POST", "/keystore/context", "", b"{}"))
        self.assertEqual(st, 401, ans)
        # and the keystore's only the coordinator's
        st, ans = post(self.ks.url, "/keystore/storage-keys", b"{}",
                       sign_request(seed1, "POST", "/keystore/storage-keys", "", b"{}"))
        self.assertEqual(st, 401, ans)

    def test_e_canary_never_on_the_coordinator(self):
        st, ans = self.req("GET", "/secrets")
        self.assertEqual(st, 200, ans)
        st, ans = self.req("GET", "/secrets/CANARY/audit")
        for text in self.answers:
            self.assertNotIn(CANARY, text)
            self.assertIsNone(KEY_VALUE.search(text), text)
        self.assertNotIn(CANARY, self.c.log_text())
        found = []
        for root, _, files in os.walk(self.pg.data):
            for name in files:
                try:
                    with open(os.path.join(root, name), "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                # the canary, and any generated key's value (test_a2)
                if CANARY.encode() in data or KEY_VALUE_BYTES.search(data):
                    found.append(os.path.join(root, name))
        self.assertEqual(found, [])
        # the coordinator holds no secrets master key
        with open(f"/proc/{self.c.proc.pid}/environ", "rb") as f:
            self.assertNotIn(b"SECRETS_MASTER_KEY", f.read())
        self.assertFalse(os.path.exists(os.path.join(self.c.data_dir, "keys", "secrets.key")))
        self.assertIn("no secrets master key here", self.c.log_text())

    def test_g_a_wasm_job_gets_its_secret_from_the_keystore(self):
        if not os.path.exists(GUEST):
            self.skipTest("WASI guest not built")
        p = cli("secret", "set", "GREETING", "--server", self.c.url, "--token", self.tok,
                input="from-the-keystore")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(GUEST, "rb") as f:
            mod = base64.b64encode(f.read()).decode()
        self.only(self.w1)
        st, ans = self.req("POST", "/execute", {
            "runtime": "wasm", "module": mod, "args": ["args"], "output_format": "text",
            "secret_refs": ["GREETING"], "async": True})
        self.assertEqual(st, 202, ans)
        job = self.c.wait_job(self.tok, ans["job_id"], timeout=90)
        self.assertEqual(job["output"], "argc=2 [job] [args] GREETING=from-the-keystore\n",
                         summary(job))
        self.assertEqual(job["receipt"]["worker_public_key"], self.w1.public_key)

    def test_f_refusals_at_start(self):
        env = dict(ENV)
        env["SECRETS_MASTER_KEY"] = "ab" * 32
        d = tempfile.mkdtemp(prefix="sealrun-it-")
        try:
            p = subprocess.run([SEALRUND, "--role", "coordinator", "--data-dir", d, "--dev",
                                "--store", self.store, "--listen", "127.0.0.1:0",
                                "--keystore", self.ks.url, "--keystore-key",
                                pub_hex(self.ks_seed)], env=env, capture_output=True,
                               text=True, timeout=60)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("SECRETS_MASTER_KEY is set and --keystore is given", p.stderr)
        # an empty allowlist releases nothing, and the keystore says so at start
        k = Keystore(free_port(), self.c.url, pub_hex(self.coord_seed), os.urandom(32), [])
        k.start()
        try:
            self.assertIn("the allowlist is empty", k.log_text())
        finally:
            k.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
