# SPDX-License-Identifier: MIT
"""test_audit.py - a secret's audit under attack, through the real daemon:
2,000 denied attempts by another user on alice's secret leave a handful of
summary rows (with their count, first and last time) and alice's own
allowed row stays on the first page; past the per-window caps the attempts
are refused unrecorded; referencing many names cannot grow her audit either;
the daemon's memory stays bounded meanwhile (from /proc); the audit pages by
cursor over HTTP and with `sealrun secret audit --limit --before`; and rows
older than --audit-retention are purged."""
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main, summary  # noqa: E402

USE = "function main(i, s){ return {n: s.API.length}; }"
MAX_ATTEMPTS = 1000  # SR_AUDIT_MAX_DENIED_ATTEMPTS
MAX_ROWS = 64        # SR_AUDIT_MAX_DENIED_ROWS


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def audit_rows(d):
    return d.sql("SELECT count(*) FROM secret_audit")[0][0]


class AuditFloodTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--max-running-per-user", "16").start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        cls.carol = cls.d.token("carol")
        st, _, _ = cls.d.request("PUT", "/secrets/API", {"value": "k-1"}, token=cls.alice)
        assert st == 201

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def attempts(self, token, refs, threads=8):
        """Runs one job per reference in 'refs' from 'threads' threads; returns
        the error messages (every job must fail SECRET_UNAVAILABLE)."""
        msgs, lock, todo = [], threading.Lock(), list(refs)

        def run():
            while True:
                with lock:
                    if not todo:
                        return
                    ref = todo.pop()
                st, job, _ = self.d.execute(token, USE, secret_refs=[ref])
                with lock:
                    msgs.append((st, job))
        ts = [threading.Thread(target=run) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for st, job in msgs:
            self.assertEqual(st, 200, summary(job))
            self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", summary(job))
        return [job["error"]["message"] for _, job in msgs]

    def test_flood_of_denials_is_summarised_and_capped(self):
        st, job, _ = self.d.execute(self.alice, USE, secret_refs=["API"])
        self.assertEqual(job["status"], "completed", summary(job))
        rows_before = audit_rows(self.d)
        hwm_before = proc_kib(self.d.proc.pid, "VmHWM")
        t0 = time.time()
        msgs = self.attempts(self.bob, ["alice/API"] * 2000)
        took = time.time() - t0
        one_window = t0 // 3600 == time.time() // 3600
        hwm_after = proc_kib(self.d.proc.pid, "VmHWM")
        masked = [m for m in msgs if "not found or not shared with 'bob'" in m]
        limited = [m for m in msgs if "too many denied attempts by 'bob' on secrets of 'alice'"
                   in m]
        self.assertEqual(len(masked) + len(limited), 2000, set(msgs))
        # one window counts at most MAX_ATTEMPTS (unless an hour turned meanwhile)
        if one_window:
            self.assertEqual(len(limited), 2000 - MAX_ATTEMPTS)
            self.assertIn("try again after", limited[0])
        # alice's audit: bob's attempts are one row per window, hers is kept
        grown = audit_rows(self.d) - rows_before
        self.assertLessEqual(grown, 2, grown)
        st, page, _ = self.d.request("GET", "/secrets/API/audit", token=self.alice)
        self.assertEqual(st, 200, page)
        self.assertLessEqual(len(page["audit"]), 3)
        mine = [r for r in page["audit"] if r["user"] == "alice"]
        self.assertEqual(len(mine), 1, page)
        self.assertEqual((mine[0]["outcome"], mine[0]["count"]), ("allowed", 1))
        bobs = [r for r in page["audit"] if r["user"] == "bob"]
        self.assertEqual(sum(r["count"] for r in bobs), len(masked))
        self.assertTrue(all(r["outcome"] == "missing" or r["outcome"] == "denied"
                            for r in bobs))
        self.assertTrue(all(r["time"] <= r["last_time"] for r in bobs))
        # the daemon's memory did not grow with the attempts (ASan adds its own)
        self.assertLess(hwm_after - hwm_before, 64 * 1024, (hwm_before, hwm_after))
        print(f"\n2000 denied attempts in {took:.1f} s; audit rows +{grown}; "
              f"VmHWM {hwm_before} -> {hwm_after} KiB", file=sys.stderr)

    def test_many_names_cannot_grow_the_audit(self):
        rows_before = audit_rows(self.d)
        t0 = time.time()
        msgs = self.attempts(self.carol, [f"alice/NAME_{i}" for i in range(MAX_ROWS + 40)])
        limited = [m for m in msgs if "too many different denied references by 'carol'" in m]
        grown = audit_rows(self.d) - rows_before
        if t0 // 3600 == time.time() // 3600:  # (unless an hour turned meanwhile)
            self.assertEqual((len(limited), grown), (40, MAX_ROWS))
        self.assertLessEqual(grown, 2 * MAX_ROWS)
        # and carol still reaches what is shared with her: the cap blocks denials only
        self.d.request("PUT", "/secrets/SHARED", {"value": "s"}, token=self.alice)
        self.d.request("PUT", "/secrets/SHARED/policy", {"condition": {"Users": ["carol"]}},
                       token=self.alice)
        st, job, _ = self.d.execute(self.carol, "function main(i, s){ return {n: "
                                    "s.SHARED.length}; }", secret_refs=["alice/SHARED"])
        self.assertEqual(job["status"], "completed", summary(job))

    def test_audit_pages_by_cursor(self):
        self.d.request("PUT", "/secrets/PAGED", {"value": "p"}, token=self.alice)
        for _ in range(25):
            st, job, _ = self.d.execute(self.alice, "function main(i, s){ return 1; }",
                                        secret_refs=["PAGED"])
            self.assertEqual(job["status"], "completed", summary(job))
        seen, before = [], None
        while True:
            q = "?limit=10" + (f"&before={before}" if before else "")
            st, page, _ = self.d.request("GET", "/secrets/PAGED/audit" + q, token=self.alice)
            self.assertEqual(st, 200, page)
            seen += [r["id"] for r in page["audit"]]
            before = page["next"]
            if before is None:
                break
        self.assertEqual(len(seen), 25)
        self.assertEqual(seen, sorted(seen, reverse=True))
        # the CLI: the same pages
        env = {"SEALRUN_SERVER": self.d.url, "SEALRUN_TOKEN": self.alice}
        p = cli("secret", "audit", "PAGED", "--limit", "10", env=env, check=True)
        first = json.loads(p.stdout)
        self.assertEqual([r["id"] for r in first["audit"]], seen[:10])
        p = cli("secret", "audit", "PAGED", "--limit", "10", "--before", str(first["next"]),
                env=env, check=True)
        self.assertEqual([r["id"] for r in json.loads(p.stdout)["audit"]], seen[10:20])
        p = cli("secret", "audit", "PAGED", "--before", "x", env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--before", p.stderr)
        for q in ("?before=0", "?before=abc", "?limit=101"):
            st, ans, _ = self.d.request("GET", "/secrets/PAGED/audit" + q, token=self.alice)
            self.assertEqual(st, 400, (q, ans))


class AuditRetentionTest(unittest.TestCase):
    def test_old_rows_are_purged(self):
        data_dir = tempfile.mkdtemp(prefix="sealrun-it-audit-")
        try:
            d = Daemon(data_dir=data_dir).start()
            try:
                tok = d.token("hal")
                d.request("PUT", "/secrets/K", {"value": "v"}, token=tok)
                d.execute(tok, USE.replace("API", "K"), secret_refs=["K"])
                st, page, _ = d.request("GET", "/secrets/K/audit", token=tok)
                self.assertEqual(len(page["audit"]), 1)
            finally:
                d.cleanup()
            time.sleep(1.2)
            d = Daemon("--audit-retention", "1s", data_dir=data_dir).start()
            try:
                st, page, _ = d.request("GET", "/secrets/K/audit", token=tok)
                self.assertEqual((st, page["audit"], page["next"]), (200, [], None))
                self.assertIn("purged 1 audit row(s)", d.log_text())
            finally:
                d.cleanup()
            d = Daemon("--audit-retention", "0s", data_dir=data_dir)
            with self.assertRaises(AssertionError):
                d.start()
            self.assertIn("--audit-retention must be a positive duration (90d, 24h, 45s, 1500ms), got '0s'", d.log_text())
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
