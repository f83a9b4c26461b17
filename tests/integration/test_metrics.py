# SPDX-License-Identifier: MIT
"""test_metrics.py - sealrund --metrics-listen: GET /metrics there, without a
token, in the Prometheus text format (every line parsed), with jobs by
runtime, status and error code, duration and gas histograms, the queue
depth, job processes by state, store statement times and HTTP requests by
route and status; nothing else on that address, and no /metrics on the API."""
import http.client
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, main, test_store_is_pg  # noqa: E402

GUEST = os.environ.get("SR_WASM_GUEST", "")
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\}'
SAMPLE = re.compile(rf"^({NAME})({LABELS})? (-?[0-9.e+-]+|\+Inf|NaN)$")


def parse(text):
    """{(name, frozenset(labels)): value} and {name: type}, strictly: every
    line is a comment, a HELP/TYPE line or a sample, every sample's family
    has a TYPE before it."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        m = re.match(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus text line: {line!r}")
        name, labels, value = m.group(1), m.group(2) or "{}", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and family not in types:
            raise AssertionError(f"sample before its TYPE: {line!r}")
        lab = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        key = (name, lab)
        if key in samples:
            raise AssertionError(f"series twice: {line!r}")
        samples[key] = float(value)
    return samples, types


def get(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--metrics-listen", "127.0.0.1:0").start()
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", cls.d.log_text())
        assert m, cls.d.log_text()
        cls.port = int(m.group(1))
        cls.tok = cls.d.token("metrics")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def scrape(self, method="GET", path="/metrics", headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read().decode()
        hdrs = dict(r.getheaders())
        conn.close()
        return r.status, body, hdrs

    def test_series(self):
        st, before, _ = self.scrape()
        self.assertEqual(st, 200)
        b, _ = parse(before)
        for _ in range(3):
            _, job, _ = self.d.execute(self.tok, "function main(i){ return i * 2 }", input=4)
            self.assertEqual(job["status"], "completed")
        _, job, _ = self.d.execute(self.tok, "function main(){ throw new Error('x') }")
        self.assertEqual(job["error"]["code"], "EXECUTION_ERROR")
        _, job, _ = self.d.execute(self.tok, "function main(){ for(;;){} }", timeout=1)
        self.assertEqual(job["error"]["code"], "TIMEOUT")
        if os.path.exists(GUEST):
            import base64
            mod = base64.b64encode(open(GUEST, "rb").read()).decode()
            st, job, _ = self.d.request("POST", "/execute", {
                "runtime": "wasm", "module": mod, "args": ["echo"], "input": 1}, token=self.tok)
            self.assertEqual(job["status"], "completed")
        self.assertEqual(self.d.request("GET", "/nowhere")[0], 404)
        self.assertEqual(self.d.request("GET", "/jobs", token="srt_bad")[0], 401)
        st, text, hdrs = self.scrape()
        self.assertEqual(st, 200)
        self.assertEqual(hdrs["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        s, types = parse(text)
        for fam, typ in (("sealrun_jobs_total", "counter"),
                         ("sealrun_job_duration_seconds", "histogram"),
                         ("sealrun_job_gas", "histogram"), ("sealrun_jobs_running", "gauge"),
                         ("sealrun_queue_depth", "gauge"), ("sealrun_job_processes", "gauge"),
                         ("sealrun_store_statement_seconds", "histogram"),
                         ("sealrun_http_requests_total", "counter")):
            self.assertEqual(types.get(fam), typ, fam)

        def delta(name, **lab):
            return get(s, name, **lab) - get(b, name, **lab)
        self.assertEqual(delta("sealrun_jobs_total", runtime="js", status="completed"), 3)
        self.assertEqual(delta("sealrun_jobs_total", runtime="js", status="failed",
                               code="EXECUTION_ERROR"), 1)
        self.assertEqual(delta("sealrun_jobs_total", runtime="js", status="failed",
                               code="TIMEOUT"), 1)
        if os.path.exists(GUEST):
            self.assertEqual(delta("sealrun_jobs_total", runtime="wasm", status="completed"), 1)
            self.assertGreater(delta("sealrun_job_gas_sum", runtime="wasm"), 0)
        self.assertEqual(delta("sealrun_job_duration_seconds_count", runtime="js"), 5)
        # the timed-out job ran for about a second: it is above the 0.5 s bucket
        self.assertLessEqual(delta("sealrun_job_duration_seconds_bucket", runtime="js",
                                   le="0.5"), 4)
        self.assertGreaterEqual(delta("sealrun_job_duration_seconds_sum", runtime="js"), 0.9)
        for fam, lab in (("sealrun_job_duration_seconds", ("runtime", "js")),
                         ("sealrun_job_gas", ("runtime", "js")),
                         ("sealrun_store_statement_seconds", ("connection", "writer")),
                         ("sealrun_store_statement_seconds", ("connection", "reader"))):
            buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in s.items()
                              if k[0] == fam + "_bucket" and lab in k[1]), key=lambda x: x[0])
            self.assertGreater(len(buckets), 5, fam)
            counts = [v for _, v in buckets]
            self.assertEqual(counts, sorted(counts), f"{fam} buckets are cumulative")
            self.assertEqual(buckets[-1][0], float("inf"))
            self.assertEqual(counts[-1], get(s, fam + "_count", **dict([lab])), fam)
        self.assertGreater(get(s, "sealrun_store_statement_seconds_count", connection="writer"),
                           0)
        self.assertGreaterEqual(delta("sealrun_http_requests_total", method="POST",
                                      route="/execute", status="200"), 5)
        self.assertEqual(delta("sealrun_http_requests_total", method="GET", route="unmatched",
                               status="404"), 1)
        self.assertEqual(delta("sealrun_http_requests_total", method="GET", route="/jobs",
                               status="401"), 1)
        self.assertEqual(get(s, "sealrun_queue_depth"), 0)
        self.assertEqual(get(s, "sealrun_jobs_running"), 0)
        self.assertEqual(get(s, "sealrun_job_processes", state="busy"), 0)
        # tenant isolation keeps this owner's process warm after its jobs
        self.assertGreaterEqual(get(s, "sealrun_job_processes", state="warm"), 1)
        # the scrape before this one is counted too
        self.assertGreaterEqual(get(s, "sealrun_http_requests_total", method="GET",
                                    route="/metrics", status="200"), 1)

    def native_job(self, d, tok, path, tier="native"):
        import base64
        mod = base64.b64encode(open(path, "rb").read()).decode()
        st, job, _ = d.request("POST", "/execute", {
            "runtime": "wasm", "module": mod, "tier": tier, "args": ["echo"], "input": 1},
            token=tok)
        self.assertEqual((st, job["status"], job["tier"]), (200, "completed", tier), job)

    def test_native_tier_series(self):
        """Jobs by tier, compilations, compile time and the native cache's
        hits, misses and evictions."""
        rust = os.path.join(os.path.dirname(GUEST), "guest_rust.wasm")
        if not (os.path.exists(GUEST) and os.path.exists(rust)):
            self.skipTest("the C and Rust guests are not built")
        st, info, _ = self.d.request("GET", "/info")
        if not info["engines"]["wasm"]["native"]["enabled"]:
            self.skipTest("the native tier is off here")
        _, before, _ = self.scrape()
        b, _ = parse(before)
        self.native_job(self.d, self.tok, GUEST, "interp")
        self.native_job(self.d, self.tok, GUEST)  # a miss: compiled
        # another owner's job process asks the daemon again: a hit
        self.native_job(self.d, self.d.token("metrics-2"), GUEST)
        self.native_job(self.d, self.tok, rust)  # a miss: compiled
        _, text, _ = self.scrape()
        s, types = parse(text)
        for fam in ("sealrun_wasm_jobs_total", "sealrun_native_compiles_total",
                    "sealrun_native_compile_seconds_total", "sealrun_native_cache_total"):
            self.assertEqual(types.get(fam), "counter", fam)

        def delta(name, **lab):
            return get(s, name, **lab) - get(b, name, **lab)
        self.assertEqual(delta("sealrun_wasm_jobs_total", tier="interp"), 1)
        self.assertEqual(delta("sealrun_wasm_jobs_total", tier="native"), 3)
        self.assertEqual(delta("sealrun_native_compiles_total", result="ok"), 2)
        self.assertEqual(delta("sealrun_native_compiles_total", result="failed"), 0)
        self.assertGreater(delta("sealrun_native_compile_seconds_total"), 0.01)
        self.assertEqual(delta("sealrun_native_cache_total", event="miss"), 2)
        self.assertEqual(delta("sealrun_native_cache_total", event="hit"), 1)
        self.assertEqual(delta("sealrun_native_cache_total", event="eviction"), 0)
        # a cache that holds either object but not both evicts the older one
        cache = os.path.join(self.d.data_dir, "native")
        sizes = [os.path.getsize(os.path.join(cache, f)) for f in os.listdir(cache)
                 if f.endswith(".so")]
        self.assertEqual(len(sizes), 2, sizes)
        with Daemon("--metrics-listen", "127.0.0.1:0", "--native-cache-max",
                    str(sum(sizes) - 1)) as d2:
            port = int(re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                                 d2.log_text()).group(1))
            tok = d2.token("metrics")
            self.native_job(d2, tok, GUEST)
            self.native_job(d2, tok, rust)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/metrics")
            s2, _ = parse(conn.getresponse().read().decode())
            conn.close()
            self.assertEqual(get(s2, "sealrun_native_cache_total", event="eviction"), 1)
            self.assertEqual(get(s2, "sealrun_native_compiles_total", result="ok"), 2)
            self.assertEqual(len([f for f in os.listdir(os.path.join(d2.data_dir, "native"))
                                  if f.endswith(".so")]), 1)

    def test_queue_depth_while_jobs_wait(self):
        ids = []
        for _ in range(8):
            # 2 s each (a CPU-bound loop ends sooner than a loaded machine
            # submits the next job): 5 run, the rest wait
            st, job, _ = self.d.execute(self.tok, "function main(){ const t = Date.now();"
                                        " while (Date.now() - t < 2000) {} return 1 }",
                                        **{"async": True})
            self.assertEqual(st, 202)
            ids.append(job["job_id"])
        seen_queue = seen_busy = in_store = 0
        deadline = time.time() + 60
        while time.time() < deadline:
            s, _ = parse(self.scrape()[1])
            seen_queue = max(seen_queue, get(s, "sealrun_queue_depth"))
            if test_store_is_pg():
                in_store = max(in_store, self.d.sql(
                    "SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0])
            seen_busy = max(seen_busy, get(s, "sealrun_job_processes", state="busy"))
            if get(s, "sealrun_queue_depth") == 0 and get(s, "sealrun_jobs_running") == 0:
                break
            time.sleep(0.05)
        for i in ids:
            self.d.wait_job(self.tok, i)
        # 5 run at once (the per-user cap), the rest wait in the queue
        if test_store_is_pg():
            # cluster mode: they wait in the store for any daemon; the gauge
            # is this daemon's own queue, which stays empty (docs/operations.md)
            self.assertGreater(in_store, 0)
            self.assertEqual(seen_queue, 0)
        else:
            self.assertGreater(seen_queue, 0)
        self.assertGreater(seen_busy, 0)

    def test_only_metrics_on_that_address(self):
        self.assertEqual(self.scrape("GET", "/info")[0], 404)
        self.assertEqual(self.scrape("GET", "/execute")[0], 404)
        self.assertEqual(self.scrape("POST", "/metrics")[0], 405)
        self.assertEqual(self.scrape("GET", "/metrics?x=1")[0], 400)
        st, body, _ = self.scrape("HEAD", "/metrics")
        self.assertEqual((st, body), (200, ""))
        # and none on the API, with or without a token
        self.assertEqual(self.d.request("GET", "/metrics")[0], 404)
        self.assertEqual(self.d.request("GET", "/metrics", token=self.tok)[0], 404)

    def test_bad_option(self):
        import subprocess
        from harness import SEALRUND, ENV
        p = subprocess.run([SEALRUND, "--metrics-listen", "nowhere", "--data-dir",
                            self.d.data_dir + "-x"], capture_output=True, text=True, env=ENV,
                           timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--metrics-listen must be HOST:PORT, got 'nowhere'", p.stderr)


class RestartMetricsTest(unittest.TestCase):
    def test_jobs_interrupted_by_a_restart_are_counted(self):
        d = Daemon("--metrics-listen", "127.0.0.1:0")
        try:
            d.start()
            tok = d.token("metrics")
            st, job, _ = d.execute(tok, "function main(){ for(;;){} }", timeout=60,
                                   **{"async": True})
            self.assertEqual(st, 202, job)
            deadline = time.time() + 20
            while d.request("GET", "/jobs/" + job["job_id"], token=tok)[1]["status"] != "running":
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            d.kill9()
            time.sleep(0.5)
            d.start()
            ports = re.findall(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", d.log_text())
            self.assertTrue(ports, d.log_text())
            conn = http.client.HTTPConnection("127.0.0.1", int(ports[-1]), timeout=30)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            conn.close()
            s, _ = parse(text)
            self.assertEqual(get(s, "sealrun_jobs_total", runtime="js", status="failed",
                                 code="INTERRUPTED"), 1, text)
        finally:
            d.cleanup()


if __name__ == "__main__":
    main()
