# SPDX-License-Identifier: MIT
"""test_engine.py - the job path end to end: untrusted modules are decoded in
a job process and never in sealrund (its memory stays flat under hostile
uploads), uploads count against the per-user running cap, the async queue
takes owners in turn, a process that received another owner's or a
code-bound secret serves no later job, a secret bound to code is bound to
its entry point too, and the output and input a job shows are the exact
canonical bytes that output_hash and the receipt cover."""
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, descendants, leb, main, section  # noqa: E402


def locals_bomb(nfuncs, nlocals):
    """nfuncs functions () -> () that each declare nlocals i32 locals: 7
    module bytes per function, tens of KB of decoder state each in an engine
    that expands declared locals."""
    types = section(1, leb(1) + b"\x60\x00\x00")
    funcs = section(3, leb(nfuncs) + b"\x00" * nfuncs)
    body = leb(1) + leb(nlocals) + b"\x7f" + b"\x0b"
    code = section(10, leb(nfuncs) + (leb(len(body)) + body) * nfuncs)
    return b"\x00asm\x01\x00\x00\x00" + types + funcs + code


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def job_pids(d):
    out = set()
    for p in descendants(d.proc.pid):
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == "sealrun-job":
                    out.add(p)
        except OSError:
            pass
    return out


def raw_post(d, path, body, token):
    """POST returning the raw body bytes (to check exact serialisation)."""
    host, port = d.url[len("http://"):].rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request("POST", path, body=json.dumps(body),
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def raw_output(text):
    """The bytes of the top-level "output" member, as sent."""
    assert text.startswith(b'{"output":'), text[:80]
    dec = json.JSONDecoder()
    s = text.decode()
    _, end = dec.raw_decode(s, len('{"output":'))
    return s[len('{"output":'):end].encode()


class EngineTest(unittest.TestCase):
    def test_hostile_module_is_not_decoded_in_sealrund(self):
        with Daemon() as d:
            tok = d.token("mallory")
            bomb = locals_bomb(40000, 50000)
            self.assertLess(len(bomb), 400 * 1024)
            # warm up allocations of the HTTP path with a small valid module
            st, _, _ = d.request("POST", "/modules", raw=locals_bomb(1, 1), token=tok,
                                 headers={"Content-Type": "application/wasm"})
            self.assertIn(st, (200, 201))
            before = status_kb(d.proc.pid, "VmRSS")
            for _ in range(3):
                st, body, _ = d.request("POST", "/modules", raw=bomb, token=tok,
                                        headers={"Content-Type": "application/wasm"})
                self.assertIn(st, (200, 201, 400, 413), body)
            hwm = status_kb(d.proc.pid, "VmHWM")
            rss = status_kb(d.proc.pid, "VmRSS")
            # the daemon buffers the upload (<= 16 MiB) and nothing more
            self.assertLess(rss - before, 64 * 1024, (before, rss, hwm))
            self.assertLess(hwm, before + 96 * 1024, (before, rss, hwm))
            self.assertEqual(d.request("GET", "/ready")[0], 200)

    def test_invalid_uploads_are_refused_by_the_job_process(self):
        with Daemon() as d:
            tok = d.token("uma")
            st, body, _ = d.request("POST", "/modules", raw=b"\x00asm\x01\x00\x00\x00\x0b",
                                    token=tok, headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 400, body)
            self.assertIn("invalid module", body["error"]["message"])
            # an import nothing provides would fail every run: refused at upload
            types = section(1, leb(1) + b"\x60\x00\x00")
            imp = section(2, leb(1) + leb(3) + b"env" + leb(3) + b"foo" + b"\x00" + leb(0))
            st, body, _ = d.request("POST", "/modules",
                                    raw=b"\x00asm\x01\x00\x00\x00" + types + imp, token=tok,
                                    headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 400, body)
            self.assertIn("import 'env.foo' is not available", body["error"]["message"])
            # an inline module that is not WebAssembly is a bad request too
            import base64
            st, body, _ = d.request("POST", "/execute", {
                "runtime": "wasm", "module": base64.b64encode(b"\x00asm\x02").decode()},
                token=tok)
            self.assertEqual(st, 400, body)
            self.assertIn("field 'module': invalid module", body["error"]["message"])

    def test_upload_counts_against_the_running_cap(self):
        with Daemon("--max-running-per-user", "1") as d:
            tok = d.token("ursula")
            t = threading.Thread(target=d.execute, args=(tok, "function main(){ for(;;){} }"),
                                 kwargs={"timeout": 3})
            t.start()
            deadline = time.time() + 10
            while d.request("GET", "/info")[1]["stats"]["jobs_running"] < 1:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            st, body, headers = d.request("POST", "/modules", raw=locals_bomb(1, 1), token=tok,
                                          headers={"Content-Type": "application/wasm"})
            self.assertEqual(st, 429, body)
            self.assertEqual(headers.get("Retry-After"), "1")
            t.join()
            st, body, _ = d.request("POST", "/modules", raw=locals_bomb(1, 1), token=tok,
                                    headers={"Content-Type": "application/wasm"})
            self.assertIn(st, (200, 201), body)

    def test_async_queue_takes_owners_in_turn(self):
        # one worker, one running job per owner: two owners' backlogs and a
        # third owner's single job; FIFO would run it last
        with Daemon("--async-workers", "1", "--max-running-per-user", "1",
                    "--max-queued-per-user", "50") as d:
            toks = {u: d.token(u) for u in ("amy", "bo", "cy")}
            slow = "function main(){ const t = Date.now(); while (Date.now() - t < 60) {} " \
                   "return 1; }"
            ids = {"amy": [], "bo": []}
            for _ in range(12):
                for u in ("amy", "bo"):
                    st, ans, _ = d.execute(toks[u], slow, **{"async": True})
                    self.assertEqual(st, 202, ans)
                    ids[u].append(ans["job_id"])
            st, ans, _ = d.execute(toks["cy"], "function main(){ return 'cy'; }",
                                   **{"async": True})
            self.assertEqual(st, 202, ans)
            cy = d.wait_job(toks["cy"], ans["job_id"], timeout=120)
            self.assertEqual(cy["status"], "completed", cy)
            others = [d.wait_job(toks[u], i, timeout=120) for u in ids for i in ids[u]]
            # of the jobs queued when cy's arrived, in turn amy, bo, cy: at
            # most one of each starts before cy's (FIFO would start them all)
            ahead = [j for j in others if cy["created_at"] <= j["started_at"] < cy["started_at"]]
            later = [j for j in others if j["started_at"] > cy["started_at"]]
            self.assertLessEqual(len(ahead), 2, (cy, [j["started_at"] for j in others]))
            self.assertGreaterEqual(len(later), 10, (cy, [j["started_at"] for j in others]))

    def share(self, d, owner_tok, name, value, policy):
        st, body, _ = d.request("PUT", "/secrets/" + name, {"value": value}, token=owner_tok)
        self.assertIn(st, (200, 201), body)
        st, body, _ = d.request("PUT", f"/secrets/{name}/policy", policy, token=owner_tok)
        self.assertEqual(st, 200, body)

    def test_process_with_a_foreign_secret_serves_no_later_job(self):
        with Daemon("--isolation=tenant") as d:
            alice, bob = d.token("alice"), d.token("bob")
            self.share(d, alice, "SHARED", "alice-shared-value",
                       {"condition": {"Users": ["bob"]}})
            self.share(d, bob, "OWN", "bob-own-value", {})
            use = "function main(input, s){ return {n: Object.keys(s).length}; }"
            self.assertEqual(d.execute(bob, use)[1]["status"], "completed")
            warm = job_pids(d)
            self.assertEqual(len(warm), 1, warm)
            # his own secret: the warm process stays
            st, job, _ = d.execute(bob, use, secret_refs=["OWN"])
            self.assertEqual(job["status"], "completed", job)
            time.sleep(0.3)
            self.assertEqual(job_pids(d), warm)
            # alice's value: that process ends after the job
            st, job, _ = d.execute(bob, use, secret_refs=["alice/SHARED"])
            self.assertEqual(job["status"], "completed", job)
            deadline = time.time() + 5
            while job_pids(d) & warm and time.time() < deadline:
                time.sleep(0.05)
            self.assertFalse(job_pids(d) & warm, "the process that held alice's value lives on")
            self.assertEqual(d.execute(bob, use)[1]["status"], "completed")

    def test_code_bound_secret_is_bound_to_the_entry_point(self):
        script = ("function main(input, s){ return {main: s.KEY.length}; }\n"
                  "function helper(input, s){ return {leak: s.KEY}; }")
        code_hash = hashlib.sha256(script.encode()).hexdigest()
        with Daemon() as d:
            alice, bob = d.token("alice"), d.token("bob")
            self.share(d, alice, "KEY", "k-e-y-value",
                       {"condition": {"Users": ["bob"]}, "code_hashes": [code_hash]})
            st, job, _ = d.execute(bob, script, secret_refs=["alice/KEY"])
            self.assertEqual(job["status"], "completed", job)
            self.assertEqual(job["output"], {"main": 11})
            self.assertEqual(job["receipt"]["entry_point"], "main")
            st, job, _ = d.execute(bob, script, secret_refs=["alice/KEY"], entry_point="helper")
            self.assertEqual(job["status"], "failed", job)
            self.assertEqual(job["error"]["code"], "SECRET_UNAVAILABLE", job)
            self.assertNotIn("k-e-y-value", json.dumps(job))
            st, audit, _ = d.request("GET", "/secrets/KEY/audit", token=alice)
            reasons = [a["reason"] for a in audit["audit"] if a["outcome"] == "denied"]
            self.assertTrue(any("entry point 'helper' is not allowed" in r for r in reasons),
                            audit)
            # every row names the code identity that asked: code hash and entry point
            rows = audit["audit"]
            denied = [a for a in rows if a["outcome"] == "denied"]
            allowed = [a for a in rows if a["outcome"] == "allowed"]
            self.assertEqual(denied[0]["code_hash"], code_hash, denied)
            self.assertEqual(denied[0]["entry_point"], "helper", denied)
            self.assertEqual(allowed[0]["code_hash"], code_hash, allowed)
            self.assertIn(allowed[0]["entry_point"], (None, "main"), allowed)
            # the owner may pin other entry points explicitly
            self.share(d, alice, "KEY", "k-e-y-value",
                       {"condition": {"Users": ["bob"]}, "code_hashes": [code_hash],
                        "entry_points": ["helper", "main"]})
            st, job, _ = d.execute(bob, script, secret_refs=["alice/KEY"], entry_point="helper")
            self.assertEqual(job["status"], "completed", job)
            self.assertEqual(job["receipt"]["entry_point"], "helper")

    def test_output_and_input_are_the_canonical_bytes(self):
        with Daemon() as d:
            tok = d.token("cara")
            script = ("function main(input){ return {z: 1.5e3, a: [1.0, 'x\\u00e9', 0.1], "
                      "keys: Object.keys(input)}; }")
            st, text = raw_post(d, "/execute", {"script": script, "input": {"b": 1, "a": 2}},
                                tok)
            self.assertEqual(st, 200, text)
            out = raw_output(text)
            self.assertEqual(out, '{"a":[1,"xé",0.1],"keys":["a","b"],"z":1500}'.encode())
            job = json.loads(text)
            self.assertEqual(hashlib.sha256(out).hexdigest(), job["output_hash"])
            self.assertEqual(job["receipt"]["output_hash"], job["output_hash"])
            self.assertEqual(job["receipt"]["input_hash"],
                             hashlib.sha256(b'{"a":2,"b":1}').hexdigest())
            # GET /jobs/{id} answers the same bytes
            st, data = 0, b""
            host, port = d.url[len("http://"):].rsplit(":", 1)
            c = http.client.HTTPConnection(host, int(port), timeout=30)
            c.request("GET", "/jobs/" + job["job_id"], headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            data = r.read()
            c.close()
            self.assertEqual(r.status, 200)
            self.assertEqual(raw_output(data), out)


GUEST = os.environ.get("SR_WASM_GUEST", "")


@unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built (clang + wasi-libc missing)")
class ModuleCacheTest(unittest.TestCase):
    """A job process keeps compiled modules: an uploaded module reaches a
    warm tenant process once (the upload's check compiled it there) and is
    never sent again; with a process per job each job's process asks."""

    def sends(self, isolation):
        with Daemon("--isolation=" + isolation, "--log-level", "debug") as d:
            tok = d.token("mo")
            data = open(GUEST, "rb").read()
            st, info, _ = d.request("POST", "/modules", raw=data, token=tok,
                                    headers={"Content-Type": "application/wasm"})
            self.assertIn(st, (200, 201), info)
            for i in range(3):
                st, job, _ = d.request("POST", "/execute", {
                    "runtime": "wasm", "module_hash": info["hash"], "args": ["echo"],
                    "input": {"i": i}}, token=tok)
                self.assertEqual(job["status"], "completed", job)
                self.assertEqual(job["output"], {"i": i})
            time.sleep(0.2)
            return d.log_text().count("sent module " + info["hash"][:16])

    def test_tenant_process_compiles_once(self):
        self.assertEqual(self.sends("tenant"), 0)

    def test_job_isolation_sends_it_to_each_process(self):
        self.assertEqual(self.sends("job"), 3)


if __name__ == "__main__":
    main()
