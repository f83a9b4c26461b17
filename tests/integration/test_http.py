#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_http.py - outbound HTTP end to end (docs/http.md): a local HTTP and
HTTPS server on 127.0.0.1 started here (its certificate from a throw-away CA
made here with openssl), a sealrund that may reach it only because it runs
with --http-allow-private 127.0.0.1 (and trusts the CA with --http-ca-file),
and a second sealrund without that switch, where every loopback spelling is
refused before a packet is sent. No traffic leaves 127.0.0.0/8.

Set SR_IT_ISOLATION=job to run the same jobs with a fresh process per job.
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import Daemon, cli, main, summary

ISOLATION = os.environ.get("SR_IT_ISOLATION", "tenant")
GUEST_DIR = os.path.dirname(os.environ.get("SR_WASM_GUEST", ""))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []  # (method, path, headers dict, body bytes) of every request, both servers

    def log_message(self, *a):
        pass

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        Handler.seen.append((self.command, self.path, dict(self.headers), body))
        path, _, query = self.path.partition("?")
        q = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path == "/echo":
            doc = {"method": self.command, "path": self.path,
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body_sha256": hashlib.sha256(body).hexdigest(), "body_len": len(body)}
            self._answer(200, json.dumps(doc).encode(),
                         {"Content-Type": "application/json", "X-Multi": "a"})
        elif path == "/text":
            self._answer(200, "héllo wörld".encode(), {"Content-Type": "text/plain; charset=utf-8"})
        elif path == "/redirect":
            self._answer(int(q.get("code", "302")), b"", {"Location": q["to"].replace("%3A", ":")
                                                          .replace("%2F", "/")})
        elif path == "/big":
            self._answer(200, b"x" * int(q["n"]))
        elif path == "/headers":
            self._answer(200, b"h", {f"X-H{i}": "v" for i in range(int(q["n"]))})
        elif path == "/slow":
            time.sleep(int(q["ms"]) / 1000)
            self._answer(200, b"late")
        elif path.startswith("/status/"):
            self._answer(int(path[len("/status/"):]), b"status")
        else:
            self._answer(404, b"no such path")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout tests) is expected


def make_ca(d):
    """A throw-away CA and a certificate for 127.0.0.1 and localhost."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=sealrun test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")


def start_servers(d):
    plain = Server(("127.0.0.1", 0), Handler)
    tls = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"))
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return plain, tls


# URL parsing, compared with node's WHATWG URL (the same inputs in both)
URL_CASES = [["https://EXAMPLE.com/a/../b/./c?x#y", None], ["http://a.com:80/", None],
    ["https://a.com:443/x", None], ["http://0x7f.1/", None], ["http://2130706433/", None],
    ["http://017700000001/", None], ["http://127.1/", None],
    ["http://[::ffff:127.0.0.1]/", None], ["http://[0:0:0:0:0:0:0:1]/", None],
    ["http://[2001:db8:0:0:1:0:0:1]/", None], ["http://[::]/", None], ["http://[1:0::]/", None],
    ["http://a/%7B%7Bx%7D%7D", None], ["http://a/{{x}}?{{y}}#{{z}}", None],
    ["http://a/ b/é?c d=é#f g", None], ["../x", "http://a/b/c/d"], ["?q", "http://a/b?c#d"],
    ["#f", "http://a/b?c"], ["//h/p", "https://a/b"], ["/abs", "https://u:p@a:8080/b"],
    ["", "http://a/b?c#d"], ["x", "http://a"], ["HTTP://A.B/%2e%2E/c", None],
    ["http://a/b/%2e/c", None], ["http:\\\\a\\b\\c", None], ["http:a/b", None],
    ["http:a/b", "http://x/y"], ["mailto:Someone@Example.com", None],
    ["data:text/plain,hi there", None], ["foo://host/p?q#f", None], ["foo:/p", None],
    ["file:///etc/passwd", None], ["http://a@b@c/", None], ["http://user:pa ss@h/", None],
    ["http://h:/", None], ["http://h:0080/", None], ["https://h.:8/", None],
    ["http://1.2.3.4.5/", None], ["http://256.0.0.1/", None], ["http://1.2.3.256/", None],
    ["http://0x100000000/", None], ["  http://a/\t\nb  ", None], ["http://a/?a=1&b=%zz", None],
    ["http://a/'q'?'x'", None], ["ws://a/", None], ["http://a/b;c/../d", None],
    ["http://[::1.2.3.4]/", None], ["http://[1::2::3]/", None], ["http://exa mple/", None],
    ["https://xn--nxasmq6b.com/", None], ["http://a/%", None], ["http://a/?%", None],
    ["file://host/share/x", None], ["file:/x/y", None], ["file:x", None],
    ["file://localhost/etc", None], ["y", "file:///a/b"]]

URL_PROBE = """
function main(input) {
  return {r: input.map(([u, b]) => {
    try {
      const x = b === null ? new URL(u) : new URL(u, b);
      return [x.href, x.origin, x.protocol, x.username, x.password, x.host, x.hostname, x.port,
              x.pathname, x.search, x.hash];
    } catch (e) { return "fail"; }
  })};
}"""

FETCH_JSON = """
async function main(input) {
  const r = await fetch(input.url, input.init || {});
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) {}
  return {status: r.status, ok: r.ok, url: r.url, redirected: r.redirected,
          type: r.headers.get("content-type"), text: json ? null : text, json,
          headers: [...r.headers.keys()]};
}
"""

CATCH = """
async function main(input) {
  try { await fetch(input.url, input.init || {}); return {ok: true}; }
  catch (e) { return {name: e.name, code: e.code || null, message: String(e.message)}; }
}
"""


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sealrun-http-")
        make_ca(cls.tmp)
        cls.plain, cls.tls = start_servers(cls.tmp)
        cls.pport = cls.plain.server_address[1]
        cls.tport = cls.tls.server_address[1]
        cls.d = Daemon(f"--isolation={ISOLATION}", "--http-allow-private", "127.0.0.1",
                       "--http-allow-http", "--http-ca-file",
                       os.path.join(cls.tmp, "ca.pem")).start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        for s in (cls.plain, cls.tls):
            s.shutdown()
            s.server_close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def allow(self, *extra, **kw):
        http = {"allow": [f"127.0.0.1:{self.pport}", f"127.0.0.1:{self.tport}", *extra]}
        http.update(kw)
        return http

    def run_job(self, script, input, token=None, http=None, **fields):
        st, job, _ = self.d.execute(token or self.alice, script, input=input,
                                    http=http if http is not None else self.allow(), **fields)
        self.assertEqual(st, 200, summary(job))
        return job

    def ok(self, job):
        self.assertEqual(job["status"], "completed", summary(job))
        return job["output"]

    def failed(self, job, code, text=None):
        self.assertEqual(job["status"], "failed", summary(job))
        self.assertEqual(job["error"]["code"], code, summary(job))
        if text:
            self.assertIn(text, job["error"]["message"])

    # ---- URL ----

    def test_url_parsing_matches_node(self):
        node = shutil.which("node")
        if not node:
            self.skipTest("node is missing")
        ours = self.ok(self.run_job(URL_PROBE, URL_CASES, http={"allow": ["a.example"]}))["r"]
        probe = ("const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));" +
                 URL_PROBE.replace("function main(input)", "function f(input)") +
                 "process.stdout.write(JSON.stringify(f(cases).r));")
        p = subprocess.run([node, "-e", probe], input=json.dumps(URL_CASES), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        theirs = json.loads(p.stdout)
        for case, a, b in zip(URL_CASES, ours, theirs):
            self.assertEqual(a, b, case)

    # ---- requests ----

    def test_https_get_with_a_verified_certificate(self):
        out = self.ok(self.run_job(FETCH_JSON, {"url": f"https://127.0.0.1:{self.tport}/echo"}))
        self.assertEqual(out["status"], 200)
        self.assertTrue(out["ok"])
        self.assertEqual(out["type"], "application/json")
        self.assertEqual(out["json"]["method"], "GET")
        self.assertTrue(out["json"]["headers"]["user-agent"].startswith("sealrun/"))
        self.assertIn("x-multi", out["headers"])

    def test_post_with_headers_and_body(self):
        init = {"method": "post", "headers": {"X-Thing": "42", "Content-Type": "application/json"},
                "body": json.dumps({"a": 1})}
        out = self.ok(self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/echo",
                                                "init": init}))
        j = out["json"]
        self.assertEqual(j["method"], "POST")
        self.assertEqual(j["headers"]["x-thing"], "42")
        self.assertEqual(j["body_sha256"], hashlib.sha256(init["body"].encode()).hexdigest())

    def test_text_json_arraybuffer_and_headers(self):
        script = """
        async function main(input) {
          const r = await fetch(input.url);
          const c = r.clone();
          const t = await r.text();
          const b = new Uint8Array(await c.arrayBuffer());
          let used = null;
          try { await r.text(); } catch (e) { used = e.name; }
          const j = await (await fetch(input.json)).json();
          return {t, n: b.length, used, bodyUsed: r.bodyUsed, m: j.method,
                  h: r.headers instanceof Headers, s: r.statusText};
        }"""
        out = self.ok(self.run_job(script, {"url": f"https://127.0.0.1:{self.tport}/text",
                                            "json": f"https://127.0.0.1:{self.tport}/echo"}))
        self.assertEqual(out, {"t": "héllo wörld", "n": len("héllo wörld".encode()),
                               "used": "TypeError", "bodyUsed": True, "m": "GET", "h": True,
                               "s": "OK"})

    def test_status_codes_are_answers_not_errors(self):
        out = self.ok(self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/status/503"}))
        self.assertEqual((out["status"], out["ok"], out["text"]), (503, False, "status"))

    def test_redirects_are_followed_hop_by_hop(self):
        to = f"https://127.0.0.1:{self.tport}/echo"
        url = f"http://127.0.0.1:{self.pport}/redirect?code=303&to={to}"
        out = self.ok(self.run_job(FETCH_JSON, {"url": url, "init": {"method": "POST",
                                                                     "body": "x"}}))
        self.assertTrue(out["redirected"])
        self.assertEqual(out["url"], to)
        self.assertEqual(out["json"]["method"], "GET")  # 303: GET without the body
        manual = self.ok(self.run_job(FETCH_JSON, {"url": url, "init": {"redirect": "manual"}}))
        self.assertEqual(manual["status"], 303)
        err = self.ok(self.run_job(CATCH, {"url": url, "init": {"redirect": "error"}}))
        self.assertEqual(err["code"], "HTTP_ERROR")

    def test_redirect_to_a_refused_address_is_refused(self):
        # 127.0.0.2 is loopback and not in --http-allow-private: the hop is checked again
        to = f"http://127.0.0.2:{self.pport}/echo"
        before = len(Handler.seen)
        url = f"http://127.0.0.1:{self.pport}/redirect?to={to}"
        job = self.run_job(FETCH_JSON, {"url": url}, http=self.allow(f"127.0.0.2:{self.pport}"))
        self.failed(job, "HTTP_DENIED", "127.0.0.2, a loopback address")
        self.assertEqual(len(Handler.seen), before + 1)  # only the redirect itself
        # and to a host outside the job's allow list
        job = self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/redirect?to="
                                               f"http://localhost:{self.pport}/echo"})
        self.failed(job, "HTTP_DENIED", "not in the job's http.allow")

    # ---- WebAssembly: the sealrun HTTP imports ----

    def wasm_job(self, name, args, http=None, env=None):
        path = os.path.join(GUEST_DIR, name)
        if not GUEST_DIR or not os.path.exists(path):
            self.skipTest(f"{name} was not built")
        with open(path, "rb") as f:
            mod = base64.b64encode(f.read()).decode()
        body = {"runtime": "wasm", "module": mod, "args": args,
                "http": http if http is not None else self.allow()}
        if env:
            body["env"] = env
        st, job, _ = self.d.request("POST", "/execute", body, token=self.alice)
        self.assertEqual(st, 200, summary(job))
        return job

    def test_c_guest_requests(self):
        out = self.ok(self.wasm_job("http_guest.wasm",
                                    ["POST", f"https://127.0.0.1:{self.tport}/echo", "abc",
                                     "X-A: 1\nContent-Type: text/plain"]))
        self.assertEqual(out["rc"], 200)
        self.assertEqual(out["len"], out["len_again"])
        self.assertIn("'method'", out["body"])
        out = self.ok(self.wasm_job("http_guest.wasm", ["GET", "https://api.example.com/"]))
        self.assertEqual(out["rc"], -2)
        self.assertIn("not in the job's http.allow", out["error"])
        out = self.ok(self.wasm_job("http_guest.wasm",
                                    ["GET", f"http://127.0.0.1:{self.pport}/big?n=5000"],
                                    http=self.allow(max_response_bytes=100)))
        self.assertEqual(out["rc"], -3)
        # a program that exits non-zero after a refusal fails with the request's code
        job = self.wasm_job("http_guest.wasm", ["GET", "https://api.example.com/"],
                            env={"EXIT_ON_ERROR": "1"})
        self.failed(job, "HTTP_DENIED", "not in the job's http.allow")

    def test_rust_guest_requests(self):
        out = self.ok(self.wasm_job("http_guest_rust.wasm",
                                    ["GET", f"https://127.0.0.1:{self.tport}/text"]))
        self.assertEqual(out, {"rc": 200, "len": len("héllo wörld".encode()),
                               "body": "héllo wörld"})
        out = self.ok(self.wasm_job("http_guest_rust.wasm", ["GET", "https://127.0.0.2/"],
                                    http=self.allow("127.0.0.2")))
        self.assertEqual(out["rc"], -2)

    def test_the_measurement_states_the_policy(self):
        st, doc, _ = self.d.request("GET", "/attestation", token=self.alice)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["config"]["http"], {"allow_http": True, "allow": [], "deny": [],
                                                 "private": ["127.0.0.1/32"], "custom_ca": True})

    # ---- the CLI ----

    def test_sealrun_run_makes_requests_with_the_same_policy(self):
        path = os.path.join(self.tmp, "fetch.js")
        with open(path, "w") as f:
            f.write(FETCH_JSON)
        url = f"https://127.0.0.1:{self.tport}/echo"
        inp = json.dumps({"url": url})
        p = cli("run", path, "--input", inp, "--http-allow", f"127.0.0.1:{self.tport}")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertEqual(json.loads(p.stdout)["error"]["code"], "HTTP_DENIED")
        p = cli("run", path, "--input", inp, "--http-allow", f"127.0.0.1:{self.tport}",
                "--http-allow-private", "127.0.0.1", "--http-ca-file",
                os.path.join(self.tmp, "ca.pem"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        job = json.loads(p.stdout)
        self.assertEqual(job["output"]["status"], 200)
        self.assertEqual(job["http"][0]["url"], url)

    # ---- receipts ----

    def test_receipt_lists_every_exchange_and_verify_checks_it(self):
        script = """
        async function main(input) {
          const a = await fetch(input.a, {headers: {"X-Key": "v"}});
          const b = await fetch(input.b, {method: "POST", body: "hello"});
          return {a: a.status, b: b.status, t: await b.text()};
        }"""
        to = f"https://127.0.0.1:{self.tport}/text"
        inp = {"a": f"http://127.0.0.1:{self.pport}/redirect?to={to}",
               "b": f"https://127.0.0.1:{self.tport}/status/201"}
        st, job, _ = self.d.execute(self.alice, script, input=inp, http=self.allow())
        self.assertEqual(job["status"], "completed", summary(job))
        xs = job["receipt"]["http"]
        self.assertEqual([(x["method"], x["url"], x["status"]) for x in xs],
                         [("GET", inp["a"], 302), ("GET", to, 200), ("POST", inp["b"], 201)])
        self.assertEqual(xs[0]["header_names"], ["x-key"])
        self.assertEqual(xs[2]["request_body_sha256"], hashlib.sha256(b"hello").hexdigest())
        self.assertEqual(xs[2]["response_body_sha256"], hashlib.sha256(b"status").hexdigest())
        self.assertEqual(xs[1]["response_body_sha256"],
                         hashlib.sha256("héllo wörld".encode()).hexdigest())
        self.assertEqual(job["http"], xs)
        path = os.path.join(self.tmp, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify", path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok   http: 3 exchange(s) listed", p.stdout)
        node = shutil.which("node")
        verifier = os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                                "verify-receipt.mjs")
        if node:
            n = subprocess.run([node, verifier, path], capture_output=True, text=True, timeout=60)
            self.assertEqual(n.returncode, 0, n.stdout + n.stderr)
            self.assertIn("ok   http: 3 exchange(s) listed", n.stdout)
        # the job's list altered: both verifiers refuse it; the receipt altered: the signature
        job["http"][2]["status"] = 200
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify", path)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("differs from the receipt's", p.stdout)
        job["http"][2]["status"] = 201
        job["receipt"]["http"][0]["url"] = "https://elsewhere.example/"
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify", path)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("signature", p.stdout)

    # ---- policy ----

    def test_denied_request_is_an_exception_the_job_may_catch(self):
        out = self.ok(self.run_job(CATCH, {"url": "https://api.example.com/"}))
        self.assertEqual(out["code"], "HTTP_DENIED")
        self.assertEqual(out["name"], "TypeError")
        self.assertIn("'api.example.com:443' is not in the job's http.allow", out["message"])
        # uncaught: the job fails with the request's code
        job = self.run_job(FETCH_JSON, {"url": "https://api.example.com/"})
        self.failed(job, "HTTP_DENIED", "not in the job's http.allow")

    def test_a_job_without_http_makes_no_request(self):
        st, job, _ = self.d.execute(self.alice, CATCH,
                                    input={"url": f"https://127.0.0.1:{self.tport}/echo"})
        self.assertEqual(self.ok(job)["code"], "HTTP_DENIED")
        self.assertIn("no http.allow", job["output"]["message"])

    def test_bad_http_fields_are_refused(self):
        for bad in ({"allow": []}, {"allow": ["http://x"]}, {"allow": ["a.com"], "max_requests": 65},
                    {"allow": ["a.com"], "nope": 1}, "x"):
            st, body, _ = self.d.execute(self.alice, CATCH, input={}, http=bad)
            self.assertEqual(st, 400, (bad, body))
            self.assertIn("http", body["error"]["message"])

    # ---- limits ----

    def test_request_count_limit(self):
        script = """
        async function main(input) {
          for (let i = 0; i < 3; i++) await fetch(input.url);
          return {};
        }"""
        job = self.run_job(script, {"url": f"http://127.0.0.1:{self.pport}/echo"},
                           http=self.allow(max_requests=2))
        self.failed(job, "HTTP_LIMIT", "the job made its 2 requests (http.max_requests)")

    def test_response_body_limit(self):
        job = self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/big?n=5000"},
                           http=self.allow(max_response_bytes=4096))
        self.failed(job, "HTTP_LIMIT", "over 4096 bytes (http.max_response_bytes)")
        out = self.ok(self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/big?n=4096"},
                                   http=self.allow(max_response_bytes=4096)))
        self.assertEqual(len(out["text"]), 4096)

    def test_response_header_limit(self):
        out = self.ok(self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/headers?n=100"}))
        self.assertEqual(out["status"], 200)
        job = self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/headers?n=200"})
        self.failed(job, "HTTP_LIMIT", "more than 128 headers")

    def test_request_body_limit(self):
        script = """
        async function main(input) {
          await fetch(input.url, {method: "POST", body: "y".repeat(1048577)});
        }"""
        before = len(Handler.seen)
        job = self.run_job(script, {"url": f"http://127.0.0.1:{self.pport}/echo"})
        self.failed(job, "HTTP_LIMIT", "request body")
        self.assertEqual(len(Handler.seen), before)

    def test_timeouts(self):
        script = """
        async function main(input) {
          try { await fetch(input.url, {signal: AbortSignal.timeout(300)}); }
          catch (e) { return {name: e.name, m: e.message}; }
        }"""
        out = self.ok(self.run_job(script, {"url": f"http://127.0.0.1:{self.pport}/slow?ms=1500"}))
        self.assertEqual(out["name"], "TimeoutError")
        self.assertIn("HTTP_TIMEOUT", out["m"])
        # the job's wall clock bounds every request: uncaught, the job has the code
        job = self.run_job(FETCH_JSON, {"url": f"http://127.0.0.1:{self.pport}/slow?ms=3000"},
                           timeout=1)
        self.failed(job, "HTTP_TIMEOUT")

    def test_connection_and_tls_errors(self):
        # a port nobody listens on
        s = Server(("127.0.0.1", 0), Handler)
        dead = s.server_address[1]
        s.server_close()
        out = self.ok(self.run_job(CATCH, {"url": f"http://127.0.0.1:{dead}/"},
                                   http=self.allow(f"127.0.0.1:{dead}")))
        self.assertEqual(out["code"], "HTTP_ERROR")
        # TLS to the plain server
        out = self.ok(self.run_job(CATCH, {"url": f"https://127.0.0.1:{self.pport}/"}))
        self.assertEqual(out["code"], "HTTP_ERROR")

    def test_forbidden_headers_and_methods(self):
        for init in ({"headers": {"Host": "evil"}}, {"method": "TRACE"},
                     {"method": "GET", "body": "x"}):
            out = self.ok(self.run_job(CATCH, {"url": f"http://127.0.0.1:{self.pport}/echo",
                                               "init": init}))
            self.assertEqual(out["name"], "TypeError", init)


    # ---- secrets in requests: placeholders, http_hosts, http-only ----

    def secret(self, name, value, policy=None):
        st, body, _ = self.d.request("PUT", "/secrets/" + name, {"value": value},
                                     token=self.alice)
        self.assertIn(st, (200, 201), body)
        if policy is not None:
            st, body, _ = self.d.request("PUT", f"/secrets/{name}/policy", policy,
                                         token=self.alice)
            self.assertEqual(st, 200, body)

    def test_http_only_placeholder_canary_is_never_visible(self):
        canary = "CANARY-" + uuid.uuid4().hex
        self.secret("HTTP_CANARY", canary, {"http_hosts": [f"127.0.0.1:{self.tport}"]})
        script = """
        async function main(input, secrets) {
          const r = await fetch(input.url + "?key={{secrets.HTTP_CANARY}}", {
            method: "POST", headers: {"X-Key": "k {{secrets.HTTP_CANARY}}"},
            body: "v={{secrets.HTTP_CANARY}}"});
          return {status: r.status, seen: typeof secrets.HTTP_CANARY, url: r.url,
                  body: await r.text()};
        }"""
        refs = [{"name": "HTTP_CANARY", "mode": "http-only"}]
        before = len(Handler.seen)
        url = f"https://127.0.0.1:{self.tport}/status/200"
        st, job, _ = self.d.execute(self.alice, script, input={"url": url}, secret_refs=refs,
                                    http=self.allow())
        out = self.ok(job)
        self.assertEqual(out["seen"], "undefined")
        self.assertEqual(out["status"], 200)
        self.assertIn("{{secrets.HTTP_CANARY}}", out["url"])  # what the guest wrote
        method, path, headers, body = Handler.seen[before]
        self.assertEqual(path, "/status/200?key=" + canary)
        self.assertEqual({k.lower(): v for k, v in headers.items()}["x-key"], "k " + canary)
        self.assertEqual(body, ("v=" + canary).encode())
        # to a host outside its http_hosts: refused, by placeholder
        st, job2, _ = self.d.execute(self.alice, script, secret_refs=refs, http=self.allow(),
                                     input={"url": f"http://127.0.0.1:{self.pport}/status/200"})
        self.failed(job2, "HTTP_DENIED", "secret 'HTTP_CANARY' may not be sent to '127.0.0.1:")
        self.assertEqual(len(Handler.seen), before + 1)
        # async, stored, listed: never the value
        st, a, _ = self.d.execute(self.alice, script, input={"url": url}, secret_refs=refs,
                                  http=self.allow(), **{"async": True})
        done = self.d.wait_job(self.alice, a["job_id"])
        self.assertEqual(done["status"], "completed", summary(done))
        answers = [job, job2, done, self.d.request("GET", "/jobs?limit=100", token=self.alice)[1],
                   self.d.request("GET", "/jobs/" + job["job_id"], token=self.alice)[1]]
        text = json.dumps(answers) + self.d.log_text()
        forms = [canary, base64.b64encode(canary.encode()).decode(), canary.encode().hex()]
        for f in forms:
            self.assertNotIn(f, text)
        for fn in os.listdir(self.d.data_dir):
            if fn.startswith("sealrun.db"):
                data = open(os.path.join(self.d.data_dir, fn), "rb").read()
                for f in forms:
                    self.assertNotIn(f.encode(), data, fn)

    def test_value_sent_elsewhere_is_refused(self):
        value = "bound-" + uuid.uuid4().hex
        self.secret("BOUND", value, {"http_hosts": [f"127.0.0.1:{self.tport}"]})
        script = """
        async function main(input, secrets) {
          const r = await fetch(input.url, {headers: {"X-Leak": secrets.BOUND}});
          return {status: r.status};
        }"""
        before = len(Handler.seen)
        st, job, _ = self.d.execute(self.alice, script, secret_refs=["BOUND"], http=self.allow(),
                                    input={"url": f"http://127.0.0.1:{self.pport}/status/200"})
        self.failed(job, "HTTP_DENIED", "carries the value of secret 'BOUND'")
        self.assertEqual(len(Handler.seen), before)
        st, job, _ = self.d.execute(self.alice, script, secret_refs=["BOUND"], http=self.allow(),
                                    input={"url": f"https://127.0.0.1:{self.tport}/status/200"})
        self.assertEqual(self.ok(job)["status"], 200)

    def test_unknown_placeholder_is_a_type_error(self):
        out = self.ok(self.run_job(CATCH, {"url": f"http://127.0.0.1:{self.pport}/x?{{{{secrets.NOPE}}}}"}))
        self.assertEqual(out["name"], "TypeError")
        self.assertIn("names no secret of this job", out["message"])

    def test_bad_secret_ref_modes_are_refused(self):
        for bad in ([{"name": "X", "mode": "secret"}], [{"mode": "http-only"}],
                    [{"name": "X", "mode": "http-only", "extra": 1}]):
            st, body, _ = self.d.execute(self.alice, CATCH, input={}, secret_refs=bad)
            self.assertEqual(st, 400, (bad, body))


class NoPrivateTest(unittest.TestCase):
    """Without --http-allow-private every loopback spelling is refused end to end."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.port = cls.srv.server_address[1]
        cls.d = Daemon(f"--isolation={ISOLATION}", "--http-allow-http").start()
        cls.tok = cls.d.token("carol")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.srv.shutdown()
        cls.srv.server_close()

    def test_every_loopback_spelling_is_refused(self):
        p = self.port
        hosts = ["127.0.0.1", "127.0.0.2", "localhost", "2130706433", "0x7f.1", "[::1]",
                 "[::ffff:127.0.0.1]", "017700000001", "127.1", "0.0.0.0"]
        allow = [f"{h}:{p}" for h in hosts] + [f"[::ffff:7f00:1]:{p}"]
        before = len(Handler.seen)
        for scheme in ("http", "https"):
            for h in hosts:
                st, job, _ = self.d.execute(self.tok, CATCH, input={"url": f"{scheme}://{h}:{p}/"},
                                            http={"allow": allow})
                self.assertEqual(job["status"], "completed", summary(job))
                out = job["output"]
                self.assertEqual(out["code"], "HTTP_DENIED", (h, out))
                self.assertIn("address guard", out["message"], (h, out))
        self.assertEqual(len(Handler.seen), before, "a request reached the server")


if __name__ == "__main__":
    main()
