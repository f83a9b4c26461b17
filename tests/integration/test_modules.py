# SPDX-License-Identifier: MIT
"""test_modules.py - WebAssembly modules kept for users, through the real
daemon: the per-owner quotas of bytes and of modules (413 naming the quota,
the usage and the limit, also for an async job's inline module), checked in
the same transaction as the insert so concurrent uploads cannot pass them
together, and the database's size bounded by them under repeated distinct
uploads; DELETE /modules/{hash} with two owners of one module (the bytes go
with the last claim); GET /modules page by page; and the expiry of claims no
job used, while a job's use keeps its claim."""
import base64
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, leb, main, section, summary, test_store_is_pg  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")
MIB = 1024 * 1024


def module(tag, pad=0):
    """A small valid module, distinct per 'tag', with 'pad' bytes of custom
    section (incompressible) to make it big."""
    def sec(i, p):
        return bytes([i]) + leb(len(p)) + p
    body = b"\x04note" + tag.encode() + os.urandom(pad)
    return (b"\0asm\x01\0\0\0" + sec(1, b"\x01\x60\x00\x00") + sec(3, b"\x01\x00") +
            sec(7, b"\x01\x01f\x00\x00") + sec(10, b"\x01\x02\x00\x0b") + sec(0, body))


def db_bytes(data_dir):
    return sum(os.path.getsize(os.path.join(data_dir, f)) for f in os.listdir(data_dir)
               if f.startswith("sealrun.db"))


def db_query(d, sql):
    return d.sql(sql)


class ModulesTest(unittest.TestCase):
    QUOTA = 4 * MIB

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--module-quota-bytes", str(cls.QUOTA), "--module-quota-count", "12",
                       "--max-running-per-user", "16").start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        cls.carol = cls.d.token("carol")
        cls.dave = cls.d.token("dave")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def upload(self, token, data):
        return self.d.request("POST", "/modules", raw=data, token=token,
                              headers={"Content-Type": "application/wasm"})

    @unittest.skipIf(test_store_is_pg(), "measures the SQLite file")
    def test_byte_quota_bounds_the_database(self):
        start = db_bytes(self.d.data_dir)
        ok = 0
        for i in range(10):  # ten distinct 1 MiB modules against a 4 MiB quota
            st, ans, _ = self.upload(self.carol, module(f"c{i}", MIB))
            if st == 201:
                ok += 1
                continue
            self.assertEqual(st, 413, ans)
            msg = ans["error"]["message"]
            self.assertIn("module quota exceeded: 'carol' has", msg)
            self.assertIn(f"the limit is {self.QUOTA} bytes (--module-quota-bytes)", msg)
            self.assertIn("DELETE /modules/{hash}", msg)
        self.assertEqual(ok, 3)
        st, mods, _ = self.d.request("GET", "/modules", token=self.carol)
        self.assertEqual(mods["usage"]["modules"], 3)
        self.assertLessEqual(mods["usage"]["bytes"], self.QUOTA)
        self.assertEqual(mods["usage"]["quota_bytes"], self.QUOTA)
        grown = db_bytes(self.d.data_dir) - start
        # the refused seven left nothing: growth is what the quota allows
        # plus the WAL's copy of it and page overhead
        self.assertLess(grown, 2 * self.QUOTA + MIB, grown)
        print(f"\n10 distinct 1 MiB uploads, quota {self.QUOTA}: {ok} stored, database files "
              f"+{grown} bytes", file=sys.stderr)
        # removing one makes room for one more
        self.assertEqual(self.d.request("DELETE", "/modules/" + mods["modules"][0]["hash"],
                                        token=self.carol)[0], 200)
        self.assertEqual(self.upload(self.carol, module("c-again", MIB))[0], 201)

    def test_concurrent_uploads_cannot_pass_the_quota_together(self):
        mods = [module(f"d{i}", MIB) for i in range(8)]
        codes = []

        def up(m):
            codes.append(self.upload(self.dave, m)[0])
        threads = [threading.Thread(target=up, args=(m,)) for m in mods]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(set(codes)), [201, 413], codes)
        st, usage, _ = self.d.request("GET", "/modules", token=self.dave)
        self.assertLessEqual(usage["usage"]["bytes"], self.QUOTA)
        self.assertEqual(codes.count(201), usage["usage"]["modules"])

    def test_count_quota_and_async_inline_modules(self):
        erin = self.d.token("erin")
        for i in range(12):
            self.assertEqual(self.upload(erin, module(f"e{i}"))[0], 201)
        st, ans, _ = self.upload(erin, module("e-last"))
        self.assertEqual(st, 413, ans)
        self.assertIn("module quota reached: 'erin' has 12 modules, the limit is 12 "
                      "(--module-quota-count)", ans["error"]["message"])
        # uploading one it has is no growth: accepted
        self.assertEqual(self.upload(erin, module("e0"))[0], 200)
        # an async job's inline module is stored like an upload, under the same quota
        st, ans, _ = self.d.request("POST", "/execute", {
            "runtime": "wasm", "module": base64.b64encode(module("e-inline")).decode(),
            "async": True}, token=erin)
        self.assertEqual(st, 413, ans)
        self.assertIn("module quota reached", ans["error"]["message"])

    def test_delete_with_two_owners(self):
        m = module("shared")
        h = hashlib.sha256(m).hexdigest()
        self.assertEqual(self.upload(self.alice, m)[0], 201)
        self.assertEqual(self.upload(self.bob, m)[0], 201)
        # another user's module and a malformed hash: 404, nothing changes
        self.assertEqual(self.d.request("DELETE", "/modules/" + h, token=self.carol)[0], 404)
        self.assertEqual(self.d.request("DELETE", "/modules/zz", token=self.alice)[0], 404)
        self.assertEqual(self.d.request("DELETE", "/modules/" + h)[0], 401)
        st, ans, _ = self.d.request("DELETE", "/modules/" + h, token=self.alice)
        self.assertEqual((st, ans), (200, {"hash": h, "deleted": True}))
        self.assertEqual(self.d.request("GET", "/modules/" + h, token=self.alice)[0], 404)
        self.assertEqual(self.d.request("DELETE", "/modules/" + h, token=self.alice)[0], 404)
        st, info, _ = self.d.request("GET", "/modules/" + h, token=self.bob)
        self.assertEqual(st, 200, info)
        self.assertEqual(db_query(self.d, f"SELECT count(*) FROM modules WHERE hash = '{h}'"),
                         [(1,)])
        st, ans, _ = self.d.request("DELETE", "/modules/" + h, token=self.bob)
        self.assertEqual((st, ans), (200, {"hash": h, "deleted": True}))  # says no more
        self.assertEqual(db_query(self.d, f"SELECT count(*) FROM modules WHERE hash = '{h}'"),
                         [(0,)])
        st, job, _ = self.d.request("POST", "/execute", {"runtime": "wasm", "module_hash": h},
                                    token=self.bob)
        self.assertEqual(st, 404, job)

    def test_list_pages_by_cursor(self):
        frank = self.d.token("frank")
        hashes = []
        for i in range(5):
            m = module(f"f{i}")
            hashes.append(hashlib.sha256(m).hexdigest())
            self.assertEqual(self.upload(frank, m)[0], 201)
            time.sleep(0.002)  # distinct upload times: newest first is well defined
        seen, before = [], None
        for _ in range(4):
            q = "?limit=2" + (f"&before={before}" if before else "")
            st, page, _ = self.d.request("GET", "/modules" + q, token=frank)
            self.assertEqual(st, 200, page)
            self.assertLessEqual(len(page["modules"]), 2)
            seen += [m["hash"] for m in page["modules"]]
            for m in page["modules"]:
                self.assertEqual(set(m), {"hash", "size", "stored_bytes", "created_at",
                                          "last_used_at"})
            before = page["next"]
            if not before:
                break
        self.assertEqual(seen, hashes[::-1])
        self.assertEqual(self.d.request("GET", "/modules?before=xyz", token=frank)[0], 400)
        self.assertEqual(self.d.request("GET", "/modules?limit=0", token=frank)[0], 400)
        st, ans, _ = self.d.request("GET", "/modules?before=" + "0" * 64, token=frank)
        self.assertEqual(st, 404, ans)
        self.assertEqual(self.d.request("GET", "/modules")[0], 401)
        self.assertEqual(self.d.request("PUT", "/modules", token=frank)[0], 405)


@unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
class ExpiryTest(unittest.TestCase):
    def test_unused_claims_expire_and_used_ones_stay(self):
        data_dir = tempfile.mkdtemp(prefix="sealrun-it-expiry-")
        try:
            d = Daemon(data_dir=data_dir).start()
            try:
                tok = d.token("gina")
                with open(GUEST, "rb") as f:
                    guest = f.read()
                used = hashlib.sha256(guest).hexdigest()
                idle = module("idle")
                idle_hash = hashlib.sha256(idle).hexdigest()
                for m in (guest, idle):
                    self.assertEqual(d.request("POST", "/modules", raw=m, token=tok,
                                               headers={"Content-Type": "application/wasm"})[0],
                                     201)
                # both last used two hours ago, as if uploaded then
                old = int(time.time() * 1000) - 2 * 3600 * 1000
                d.sql(f"UPDATE module_owners SET last_used_at = {old}")
                # a job loads one: its use is recorded
                st, job, _ = d.request("POST", "/execute", {
                    "runtime": "wasm", "module_hash": used, "args": ["echo"], "input": 1},
                    token=tok)
                self.assertEqual(job["status"], "completed", summary(job))
                st, meta, _ = d.request("GET", "/modules/" + used, token=tok)
                st, meta2, _ = d.request("GET", "/modules/" + idle_hash, token=tok)
                self.assertGreater(meta["last_used_at"], meta2["last_used_at"])
            finally:
                d.cleanup()
            # the purge at start drops claims unused for an hour, and the bytes with them
            d = Daemon("--module-expiry", "1h", data_dir=data_dir).start()
            try:
                self.assertEqual(d.request("GET", "/modules/" + idle_hash, token=tok)[0], 404)
                self.assertEqual(d.request("GET", "/modules/" + used, token=tok)[0], 200)
                self.assertEqual(db_query(d, "SELECT hash FROM modules"), [(used,)])
                self.assertIn("dropped 1 module claim(s)", d.log_text())
            finally:
                d.cleanup()
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
