# SPDX-License-Identifier: MIT
"""test_dashboard.py - what sealrund serves for the dashboard and the two
endpoints the dashboard added, through the real daemon on 127.0.0.1:

- GET /ui/...: the embedded files byte for byte as the build made them
  (build/<preset>/web/dist), a strong ETag and 304 for If-None-Match (also
  weak and in a list), the strict Content-Security-Policy and the other
  security headers on every answer, "/" and "/ui" redirected, other methods
  405, a missing file 404; --dashboard-dir serving from disk at every
  request, refusing a directory without index.html, and never anything
  outside it (.., hidden files, symlinks, oversized files);
- GET /jobs?status=&runtime=&since=&until=: the filters, with paging, and
  400 for a bad value or a parameter GET /jobs does not take;
- GET /stats: jobs by status and runtime, error codes, gas sums equal to the
  jobs' own gas_used, percentiles within the jobs' run times, one owner's
  jobs only, its errors, and the daemon's peak memory under many maximal
  requests (measured from /proc);
- sealrund --test-tamper (test builds): the job answered is altered, the
  stored one is not.
"""
import base64
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SEALRUND, ENV, Daemon, main  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")
DIST = os.path.join(os.environ.get("SR_WEB_DIR", ""), "dist")
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def raw_get(d, path, method="GET", headers=None):
    """A request without urllib's redirect handling: (status, headers, body)."""
    host, port = d.url[len("http://"):].rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, body


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class EmbeddedUiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_serves_the_built_files_byte_for_byte(self):
        self.assertTrue(os.path.isfile(os.path.join(DIST, "index.html")), DIST)
        for name in sorted(os.listdir(DIST)):
            want = open(os.path.join(DIST, name), "rb").read()
            st, h, body = raw_get(self.d, "/ui/" + name)
            self.assertEqual(st, 200, name)
            self.assertEqual(body, want, name)
            self.assertEqual(h["etag"], '"%s"' % hashlib.sha256(want).hexdigest()[:32], name)
        st, h, body = raw_get(self.d, "/ui/")
        self.assertEqual(body, open(os.path.join(DIST, "index.html"), "rb").read())
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(raw_get(self.d, "/ui/app.js")[1]["content-type"],
                         "text/javascript; charset=utf-8")
        self.assertEqual(raw_get(self.d, "/ui/app.css")[1]["content-type"],
                         "text/css; charset=utf-8")

    def test_index_loads_only_its_own_files(self):
        html = raw_get(self.d, "/ui/")[2].decode()
        self.assertIn('src="app.js"', html)
        self.assertNotIn("http:", html.replace("http-equiv", ""))
        self.assertNotIn("https:", html)

    def test_every_answer_has_the_security_headers(self):
        for path in ("/ui/", "/ui/app.js", "/"):
            st, h, _ = raw_get(self.d, path)
            self.assertEqual(h["content-security-policy"], CSP, path)
            self.assertEqual(h["x-content-type-options"], "nosniff", path)
            self.assertEqual(h["x-frame-options"], "DENY", path)
            self.assertEqual(h["referrer-policy"], "no-referrer", path)
            self.assertEqual(h["cache-control"], "no-cache", path)

    def test_etag_gives_304(self):
        st, h, _ = raw_get(self.d, "/ui/app.js")
        tag = h["etag"]
        for inm in (tag, "W/" + tag, '"nope", ' + tag, "*"):
            st, h2, body = raw_get(self.d, "/ui/app.js", headers={"If-None-Match": inm})
            self.assertEqual(st, 304, inm)
            self.assertEqual(body, b"")
            self.assertEqual(h2["etag"], tag)
        st, _, body = raw_get(self.d, "/ui/app.js", headers={"If-None-Match": '"other"'})
        self.assertEqual(st, 200)
        self.assertGreater(len(body), 1000)

    def test_redirects_and_errors(self):
        for path in ("/", "/ui"):
            st, h, _ = raw_get(self.d, path)
            self.assertEqual(st, 308, path)
            self.assertEqual(h["location"], "/ui/")
        st, _, body = raw_get(self.d, "/ui/nothing.js")
        self.assertEqual(st, 404)
        self.assertIn(b"the dashboard has no file '/ui/nothing.js'", body)
        st, _, body = raw_get(self.d, "/ui/", method="POST")
        self.assertEqual(st, 405)
        self.assertIn(b"use GET", body)
        st, h, body = raw_get(self.d, "/ui/app.js", method="HEAD")
        self.assertEqual(st, 200)
        self.assertEqual(body, b"")


class DashboardDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sealrun-ui-")
        self.outside = tempfile.mkdtemp(prefix="sealrun-ui-outside-")
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write("<!doctype html><p>one</p>")
        with open(os.path.join(self.outside, "secret.txt"), "w") as f:
            f.write("not for the web")
        os.mkdir(os.path.join(self.dir, "sub"))
        with open(os.path.join(self.dir, "sub", "a.js"), "w") as f:
            f.write("export const a = 1;")
        with open(os.path.join(self.dir, ".hidden.js"), "w") as f:
            f.write("hidden")
        os.symlink(os.path.join(self.outside, "secret.txt"), os.path.join(self.dir, "link.txt"))
        with open(os.path.join(self.dir, "big.js"), "wb") as f:
            f.truncate(16 * 1024 * 1024 + 1)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.outside, ignore_errors=True)

    def test_serves_from_disk_at_every_request(self):
        with Daemon("--dashboard-dir", self.dir) as d:
            st, h, body = raw_get(d, "/ui/")
            self.assertEqual((st, body), (200, b"<!doctype html><p>one</p>"))
            self.assertEqual(h["content-security-policy"], CSP)
            tag = h["etag"]
            with open(os.path.join(self.dir, "index.html"), "w") as f:
                f.write("<!doctype html><p>two</p>")
            st, h2, body = raw_get(d, "/ui/", headers={"If-None-Match": tag})
            self.assertEqual((st, body), (200, b"<!doctype html><p>two</p>"))
            self.assertNotEqual(h2["etag"], tag)
            self.assertEqual(raw_get(d, "/ui/", headers={"If-None-Match": h2["etag"]})[0], 304)
            st, h, body = raw_get(d, "/ui/sub/a.js")
            self.assertEqual((st, body), (200, b"export const a = 1;"))
            self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
            for bad in ("/ui/../sealrun.db", "/ui/sub/../index.html", "/ui/.hidden.js",
                        "/ui/sub//a.js", "/ui/link.txt", "/ui/big.js", "/ui/sub",
                        "/ui/%2e%2e/sealrun.db", "/ui/" + "a" * 300):
                st, _, body = raw_get(d, bad)
                self.assertEqual(st, 404, bad)
                self.assertNotIn(b"not for the web", body)
            for bad in ("/ui/a%00.js", "/ui/%ff.js"):  # refused by the HTTP edge itself
                st, _, body = raw_get(d, bad)
                self.assertEqual(st, 400, bad)
                self.assertNotIn(b"not for the web", body)

    def test_refuses_a_directory_without_index(self):
        empty = tempfile.mkdtemp(prefix="sealrun-ui-empty-")
        data = tempfile.mkdtemp(prefix="sealrun-it-")
        try:
            p = subprocess.run([SEALRUND, "--listen", "127.0.0.1:0", "--data-dir", data, "--dev",
                                "--dashboard-dir", empty], capture_output=True, text=True,
                               env=ENV, timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(f"--dashboard-dir '{empty}' has no index.html", p.stderr)
        finally:
            shutil.rmtree(empty, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)


class JobFiltersAndStatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")
        cls.t0 = int(time.time() * 1000)
        cls.jobs = []
        for script in ("function main() { return 1; }", "function main() { return 2; }",
                       "function main() { throw new Error('no'); }",
                       "function main() { let x = 0; for (;;) x++; }"):
            st, job, _ = cls.d.execute(cls.alice, script, gas_limit=200000)
            assert st == 200, job
            cls.jobs.append(job)
        if os.path.exists(GUEST):
            mod = base64.b64encode(open(GUEST, "rb").read()).decode()
            st, job, _ = cls.d.request("POST", "/execute", {"runtime": "wasm", "module": mod},
                                       token=cls.alice)
            assert st == 200, job
            cls.jobs.append(job)
        st, job, _ = cls.d.execute(cls.bob, "function main() { return 3; }")
        assert st == 200, job
        cls.t1 = int(time.time() * 1000) + 1

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def get(self, path, token=None):
        return self.d.request("GET", path, token=token or self.alice)

    def test_status_and_runtime_filters(self):
        st, page, _ = self.get("/jobs?status=failed")
        self.assertEqual(st, 200, page)
        want = {j["job_id"] for j in self.jobs if j["status"] == "failed"}
        self.assertEqual({j["job_id"] for j in page["jobs"]}, want)
        self.assertTrue(all(j["status"] == "failed" for j in page["jobs"]))
        st, page, _ = self.get("/jobs?status=completed&runtime=js")
        self.assertEqual({j["job_id"] for j in page["jobs"]},
                         {j["job_id"] for j in self.jobs
                          if j["status"] == "completed" and j["runtime"] == "js"})
        st, page, _ = self.get("/jobs?runtime=wasm")
        self.assertEqual(len(page["jobs"]), sum(j["runtime"] == "wasm" for j in self.jobs))
        st, page, _ = self.get("/jobs?status=queued")
        self.assertEqual(page, {"jobs": [], "next": None})

    def test_time_filters_and_paging(self):
        st, page, _ = self.get(f"/jobs?since={self.t1 + 60000}")
        self.assertEqual((st, page["jobs"]), (200, []))
        st, page, _ = self.get(f"/jobs?since={self.t0 - 1000}&until={self.t1 + 1000}")
        self.assertEqual(len(page["jobs"]), len(self.jobs))
        st, page, _ = self.get("/jobs?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        self.assertEqual((st, page["jobs"]), (200, []))
        seen, before = [], None
        while True:
            q = "/jobs?status=completed&limit=1" + (f"&before={before}" if before else "")
            st, page, _ = self.get(q)
            self.assertEqual(st, 200, page)
            seen += [j["job_id"] for j in page["jobs"]]
            before = page["next"]
            if not before:
                break
        self.assertEqual(sorted(seen), sorted(j["job_id"] for j in self.jobs
                                              if j["status"] == "completed"))

    def test_bad_filters_are_400(self):
        cases = {
            "/jobs?state=failed": "unknown query parameter 'state' for GET /jobs; expected "
                                  "limit before status runtime since until",
            "/jobs?prefix=a": "unknown query parameter 'prefix' for GET /jobs",
            "/jobs?status=done": "query parameter 'status' must be queued, running, completed "
                                 "or failed, got 'done'",
            "/jobs?runtime=py": "query parameter 'runtime' must be js or wasm, got 'py'",
            "/jobs?since=yesterday": "query parameter 'since' must be an RFC 3339 time",
            "/jobs?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z":
                "query parameter 'since' must be before 'until'",
        }
        for path, msg in cases.items():
            st, body, _ = self.get(path)
            self.assertEqual(st, 400, path)
            self.assertIn(msg, body["error"]["message"], path)

    def test_stats_count_the_callers_jobs(self):
        since = (self.t0 // 60000) * 60000
        until = (self.t1 // 60000 + 1) * 60000
        st, s, _ = self.get(f"/stats?since={since}&until={until}&step=60")
        self.assertEqual(st, 200, s)
        t = s["totals"]
        done = [j for j in self.jobs]
        self.assertEqual(t["completed"], sum(j["status"] == "completed" for j in done))
        self.assertEqual(t["failed"], sum(j["status"] == "failed" for j in done))
        self.assertEqual(t["js"], sum(j["runtime"] == "js" for j in done))
        self.assertEqual(t["wasm"], sum(j["runtime"] == "wasm" for j in done))
        self.assertEqual(t["gas_js"], sum(j["gas_used"] for j in done if j["runtime"] == "js"))
        self.assertEqual(t["gas_wasm"],
                         sum(j["gas_used"] for j in done if j["runtime"] == "wasm"))
        codes = {}
        for j in done:
            if j["status"] == "failed":
                codes[j["error"]["code"]] = codes.get(j["error"]["code"], 0) + 1
        self.assertEqual(t["errors"], codes)
        self.assertEqual(len(s["bins"]), (until - since) // 60000)
        self.assertEqual(sum(b["completed"] + b["failed"] for b in s["bins"]), len(done))
        self.assertEqual(s["step_s"], 60)
        # run times: the receipts' duration_us; percentiles lie within them (5%)
        runs = sorted(j["receipt"]["duration_us"] for j in done)
        for k in ("p50_us", "p90_us", "p99_us"):
            self.assertGreaterEqual(t[k] * 1.05, runs[0] * 0.95, k)
            self.assertLessEqual(t[k], t["max_us"], k)
        self.assertLessEqual(abs(t["max_us"] - runs[-1]), 0.05 * runs[-1] + 2000)
        # bob sees only his own job
        st, s, _ = self.get(f"/stats?since={since}&until={until}&step=60", token=self.bob)
        self.assertEqual((s["totals"]["completed"], s["totals"]["failed"]), (1, 0))

    def test_stats_default_window(self):
        st, s, _ = self.get("/stats")
        self.assertEqual(st, 200, s)
        self.assertEqual(s["step_s"], 60)
        self.assertIn(len(s["bins"]), (60, 61))
        self.assertEqual(s["totals"]["completed"] + s["totals"]["failed"], len(self.jobs))
        st, s, _ = self.get("/stats?step=7")
        self.assertEqual(st, 200, s)
        self.assertEqual(s["step_s"], 7)

    def test_stats_errors(self):
        cases = {
            "/stats?limit=5": "unknown query parameter 'limit' for GET /stats; expected since "
                              "until step",
            "/stats?bogus=1": "unknown query parameter 'bogus' for GET /stats",
            "/stats?step=0": "query parameter 'step' (seconds)",
            "/stats?since=0&until=86400001&step=1": "must be a whole number of steps",
            "/stats?since=0&until=86400000&step=1": "the window has 86400 steps of 1 s; at most "
                                                   "1440",
            "/stats?since=5000&until=5000": "'since' must be before 'until'",
        }
        for path, msg in cases.items():
            st, body, _ = self.get(path)
            self.assertEqual(st, 400, path)
            self.assertIn(msg, body["error"]["message"], path)
        st, body, _ = self.d.request("GET", "/stats")
        self.assertEqual(st, 401)
        st, body, _ = self.d.request("POST", "/stats", {}, token=self.alice)
        self.assertEqual(st, 405)

    def test_stats_memory_is_bounded(self):
        until = (int(time.time()) // 60 + 1) * 60000
        path = f"/stats?since={until - 1440 * 60000}&until={until}&step=60"
        st, s, _ = self.get(path)
        self.assertEqual((st, len(s["bins"])), (200, 1440))
        hwm0 = proc_kib(self.d.proc.pid, "VmHWM")
        errors = []

        def hammer():
            for _ in range(25):
                st, body, _ = self.get(path)
                if st != 200:
                    errors.append(body)
        ts = [threading.Thread(target=hammer) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        hwm1 = proc_kib(self.d.proc.pid, "VmHWM")
        print(f"GET /stats x200 (1440 bins, 8 at once): VmHWM {hwm0} -> {hwm1} KiB",
              file=sys.stderr)
        self.assertEqual(errors, [])
        self.assertLess(hwm1 - hwm0, 96 * 1024)


class TestTamperTest(unittest.TestCase):
    def test_the_answer_is_altered_not_the_job(self):
        data = tempfile.mkdtemp(prefix="sealrun-it-")
        try:
            with Daemon(data_dir=data) as d:
                tok = d.token("alice")
                st, job, _ = d.execute(tok, "function main() { return {a: 1}; }")
                self.assertEqual(st, 200, job)
            with Daemon("--test-tamper", "receipt", data_dir=data) as d:
                st, got, _ = d.request("GET", "/jobs/" + job["job_id"], token=tok)
                self.assertEqual(got["receipt"]["gas_used"], job["receipt"]["gas_used"] + 1)
                self.assertEqual(got["output"], job["output"])
                self.assertIn("TEST BUILD: --test-tamper receipt", d.log_text())
            with Daemon("--test-tamper", "output", data_dir=data) as d:
                st, got, _ = d.request("GET", "/jobs/" + job["job_id"], token=tok)
                self.assertEqual(got["output"], {"a": 1, "tampered": True})
                self.assertEqual(got["receipt"], job["receipt"])
            with Daemon(data_dir=data) as d:
                st, got, _ = d.request("GET", "/jobs/" + job["job_id"], token=tok)
                self.assertEqual(got, job)
        finally:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
