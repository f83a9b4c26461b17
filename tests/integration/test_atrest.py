# SPDX-License-Identifier: MIT
"""test_atrest.py - what sealrund keeps for users is sealed at rest: a canary
sent through every path a user's data takes into the store (a script, an
input, WASM env and args, an output, logs, an error message, a module's bytes
and its description, a secret policy, a secret value, a storage key and
value) is in none of the SQLite files (sealrun.db, -wal, -shm) in clear,
base64 or hex, while the daemon runs and after it stopped; and a database
written by the version before at-rest sealing (built here with the old schema
and rows in clear) is sealed in place when the new sealrund first opens it,
with every row still served.

On PostgreSQL (SR_TEST_STORE=postgres): the same canary is in no file of the
server's data directory (tables, WAL, after a CHECKPOINT wrote every page) nor
its log, and not in the `pg_dump` of the database (which shows every column as
the server holds it, decompressed). The legacy database is SQLite's only (a
PostgreSQL store never held rows in clear): that test is skipped there."""
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, _pg_bin, leb, main, postgres, section, summary, test_store_is_pg  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")
SCHEMA = os.path.join(os.environ.get("SR_SOURCE_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..")), "src", "lib", "store", "schema")


def with_custom_section(module, name, payload):
    """The module with a custom section appended (valid anywhere)."""
    body = leb(len(name)) + name.encode() + payload
    return module + section(0, body)


def exporting(name):
    """A minimal valid module exporting one empty function under 'name'."""
    n = name.encode()
    return (b"\0asm\x01\0\0\0" + section(1, b"\x01\x60\x00\x00") + section(3, b"\x01\x00") +
            section(7, b"\x01" + leb(len(n)) + n + b"\x00\x00") +
            section(10, b"\x01\x02\x00\x0b"))


def forms(canary):
    raw = canary.encode()
    return [raw, base64.b64encode(raw), raw.hex().encode(), raw.hex().upper().encode()]


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def db_files(data_dir):
    return [os.path.join(data_dir, f) for f in sorted(os.listdir(data_dir))
            if f.startswith("sealrun.db")]


def pg_files(pg):
    """Every file of the PostgreSQL server: its data directory and its log."""
    out = [os.path.join(pg.dir, "server.log")]
    for root, _, names in os.walk(pg.data):
        out.extend(os.path.join(root, n) for n in names)
    return out


class AtRestTest(unittest.TestCase):
    def assert_sealed(self, data_dir, canary, d=None, clear=None):
        if test_store_is_pg():
            return self.assert_sealed_pg(d, canary, clear)
        files = db_files(data_dir)
        self.assertTrue(files)
        for fn in files:
            data = read(fn)
            for f in forms(canary):
                self.assertNotIn(f, data, f"{fn} holds the canary as {f[:16]!r}...")

    def assert_sealed_pg(self, d, canary, clear):
        """'clear' is a value the store keeps in clear (a job id): the premise
        that the scans see the rows at all."""
        pg = postgres()
        # every dirty page to its file (the WAL holds every change already)
        pg.sql("postgres", "CHECKPOINT")
        files = pg_files(pg)
        self.assertGreater(len(files), 100)  # the premise: the whole data directory
        seen = False
        for fn in files:
            try:
                data = read(fn)
            except OSError:  # a file the server removed meanwhile
                continue
            seen = seen or clear.encode() in data
            for f in forms(canary):
                self.assertNotIn(f, data, f"{fn} holds the canary as {f[:16]!r}...")
        self.assertTrue(seen, "the scan never met a job id kept in clear: no premise")
        dump = subprocess.run([os.path.join(_pg_bin(), "pg_dump"), "-d", d.store],
                              capture_output=True, timeout=120)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertIn(clear.encode(), dump.stdout)  # the premise: the rows are in it
        for f in forms(canary):
            self.assertNotIn(f, dump.stdout, f"pg_dump holds the canary as {f[:16]!r}...")

    @unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
    def test_canary_through_every_path_is_sealed(self):
        canary = "CANARY-" + uuid.uuid4().hex
        d = Daemon().start()
        try:
            alice = d.token("alice")
            jobs = []
            # script, input and output; logs; an error message and its stack
            script = ("function main(i){ console.log('log " + canary + "'); "
                      "return {out: i.c, s: '" + canary + "'}; }")
            st, a, _ = d.execute(alice, script, input={"c": canary}, **{"async": True})
            self.assertEqual(st, 202, a)
            jobs.append(a["job_id"])
            st, job, _ = d.execute(alice, script, input={"c": canary})
            self.assertEqual(job["output"]["out"], canary, summary(job))
            st, job, _ = d.execute(alice, "function main(i){ throw new Error('bad ' + i.c); }",
                                   input={"c": canary})
            self.assertEqual(job["error"]["code"], "EXECUTION_ERROR", summary(job))
            self.assertIn(canary, job["error"]["message"])
            # a module's bytes (a custom section) and its description (an export name)
            guest = with_custom_section(read(GUEST), "note", canary.encode())
            st, info, _ = d.request("POST", "/modules", raw=guest, token=alice,
                                    headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 201, info)
            st, info2, _ = d.request("POST", "/modules", raw=exporting(canary), token=alice,
                                     headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 201, info2)
            self.assertEqual(info2["exports"][0]["name"], canary)
            # WASM env and args (async: the request is stored), and the output they make
            st, w, _ = d.request("POST", "/execute", {
                "runtime": "wasm", "module_hash": info["hash"], "output_format": "text",
                "args": ["args", canary], "env": {"GREETING": canary}, "async": True},
                token=alice)
            self.assertEqual(st, 202, w)
            jobs.append(w["job_id"])
            # a policy
            self.assertEqual(d.request("PUT", "/secrets/POL", {"value": "v"}, token=alice)[0],
                             201)
            st, pol, _ = d.request("PUT", "/secrets/POL/policy",
                                   {"condition": {"Users": [canary]}}, token=alice)
            self.assertEqual(st, 200, pol)
            for jid in jobs:
                done = d.wait_job(alice, jid)
                self.assertEqual(done["status"], "completed", summary(done))
                self.assertIn(canary, json.dumps(done["output"]))
            # everything reads back through the API
            st, listing, _ = d.request("GET", "/secrets", token=alice)
            self.assertEqual(listing["secrets"][0]["policy"]["condition"], {"Users": [canary]})
            st, meta, _ = d.request("GET", "/modules/" + info2["hash"], token=alice)
            self.assertEqual(meta["exports"][0]["name"], canary)
            # a secret's value; a storage key and value, written by a job and over HTTP
            self.assertEqual(d.request("PUT", "/secrets/VAL", {"value": canary},
                                       token=alice)[0], 201)
            st, job, _ = d.execute(alice, "function main(i){ storage.set('k-' + i.c, i.c); "
                                   "return 1; }", input={"c": canary})
            self.assertEqual(job["status"], "completed", summary(job))
            st, put, _ = d.request("PUT", "/storage/default/h-" + canary, raw=canary.encode(),
                                   token=alice,
                                   headers={"Content-Type": "application/octet-stream"})
            self.assertEqual(st, 200, put)
            st, got, _ = d.request("GET", "/storage/default/k-" + canary, token=alice)
            self.assertEqual((st, base64.b64decode(got["value"]).decode()), (200, canary))
            self.assert_sealed(d.data_dir, canary, d, jobs[0])
            d.stop()
            self.assert_sealed(d.data_dir, canary, d, jobs[0])
        finally:
            d.cleanup()

    @unittest.skipIf(test_store_is_pg(), "the legacy database is a SQLite file; a PostgreSQL "
                     "store was sealed from its first row")
    def test_legacy_database_is_sealed_at_the_first_start(self):
        canary = "CANARY-" + uuid.uuid4().hex
        data_dir = tempfile.mkdtemp(prefix="sealrun-it-legacy-")
        try:
            self.build_legacy(data_dir, canary)
            for fn in db_files(data_dir):
                if canary.encode() in read(fn):
                    break
            else:
                self.fail("the legacy database does not hold the canary: no premise")
            # its queued job was made in 1970: --queue-max-age 0 keeps it from expiring
            d = Daemon("--queue-max-age", "0", data_dir=data_dir)
            # the CLI opens it first without keys: it migrates, seals nothing
            alice = d.token("alice")
            d.start()
            try:
                self.check_served(d, alice, canary)
                self.assert_sealed(data_dir, canary)
                self.assertIn("sealed at rest", d.log_text())
            finally:
                d.cleanup()
            self.assert_sealed(data_dir, canary)
            # and a second start serves the same rows, sealing nothing more
            d = Daemon(data_dir=data_dir).start()
            try:
                self.check_served(d, alice, canary)
            finally:
                d.cleanup()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    # --- the legacy database, as the version before 0005 wrote it ---
    JOB_DONE = "0123456789abcdef0123456789abcd01"
    JOB_QUEUED = "0123456789abcdef0123456789abcd02"

    def build_legacy(self, data_dir, canary):
        db = sqlite3.connect(os.path.join(data_dir, "sealrun.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT "
                   "NULL, applied_at INTEGER NOT NULL)")
        for v in range(1, 5):
            fn = [f for f in os.listdir(SCHEMA) if f.startswith("%04d_" % v)][0]
            db.executescript(read(os.path.join(SCHEMA, fn), "r"))
            db.execute("INSERT INTO schema_version VALUES (?, ?, 1)", (v, fn[:-4]))
        far = 4102444800000  # 2100: not purged
        result = {"output": {"legacy": canary}, "logs": [canary], "gas_used": 5,
                  "output_hash": "00" * 32}
        db.execute("INSERT INTO jobs (id, owner, state, runtime, request_json, result_json, "
                   "created_at, started_at, finished_at, expires_at) VALUES (?, 'alice', "
                   "'completed', 'js', ?, ?, 1000, 1000, 1001, ?)",
                   (self.JOB_DONE, json.dumps({"script": canary}), json.dumps(result), far))
        request = {"runtime": "js", "input": {"c": canary}, "timeout": 5, "memory_mb": 64,
                   "async": True, "script": "function main(i){ return {n: i.c.length}; }",
                   "entry_point": "main"}
        db.execute("INSERT INTO jobs (id, owner, state, runtime, request_json, created_at, "
                   "expires_at) VALUES (?, 'alice', 'queued', 'js', ?, 1002, ?)",
                   (self.JOB_QUEUED, json.dumps(request), far))
        mod = exporting(canary)
        self.legacy_hash = hashlib.sha256(mod).hexdigest()
        info = {"hash": self.legacy_hash, "size": len(mod), "imports": [],
                "exports": [{"name": canary, "kind": "func"}]}
        db.execute("INSERT INTO modules VALUES (?, ?, ?, ?, 1000)",
                   (self.legacy_hash, mod, len(mod), json.dumps(info)))
        db.execute("INSERT INTO module_owners VALUES ('alice', ?, 1000)", (self.legacy_hash,))
        db.execute("INSERT INTO secrets VALUES ('alice', 'POL', 1, x'00', ?, 1000, 1000)",
                   (json.dumps({"condition": {"Users": [canary]}}),))
        db.commit()
        db.close()

    def check_served(self, d, alice, canary):
        st, job, _ = d.request("GET", "/jobs/" + self.JOB_DONE, token=alice)
        self.assertEqual((st, job["output"]), (200, {"legacy": canary}), summary(job))
        queued = d.wait_job(alice, self.JOB_QUEUED)
        self.assertEqual(queued["output"], {"n": len(canary)}, summary(queued))
        st, meta, _ = d.request("GET", "/modules/" + self.legacy_hash, token=alice)
        self.assertEqual(st, 200, meta)
        self.assertEqual(meta["exports"][0]["name"], canary)
        st, mods, _ = d.request("GET", "/modules", token=alice)
        self.assertEqual(mods["modules"][0]["hash"], self.legacy_hash)
        st, listing, _ = d.request("GET", "/secrets", token=alice)
        self.assertEqual(listing["secrets"][0]["policy"]["condition"], {"Users": [canary]})


if __name__ == "__main__":
    main()
