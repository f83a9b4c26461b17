# SPDX-License-Identifier: MIT
"""test_openapi.py - GET /openapi.json is docs/openapi.json, an OpenAPI 3.1
document whose operations are exactly the routes of src/api/router.c (method,
path, authentication, query parameters), and real answers of every route,
successes and errors, validate against it. A route missing from the
document, or one this test does not call, fails the test."""
import base64
import hashlib
import http.client
import json
import os
import re
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, Worker, cli, main, worker_token  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DOC = json.load(open(os.path.join(ROOT, "docs", "openapi.json")))
GUEST = os.environ.get("SR_WASM_GUEST", "")
METHODS = ("get", "put", "post", "delete", "head")


def router_routes():
    """(METHOD, pattern, auth, [query names]) of the table in router.c."""
    text = open(os.path.join(ROOT, "src", "api", "router.c")).read()
    table = text[text.index("static const struct sr_api__route routes[] = {"):]
    table = table[:table.index("};")]
    return [(m, p, a == "true", q.split())
            for m, p, a, q in re.findall(
                r'\{"([A-Z]+)", "([^"]+)", (true|false), [A-Za-z_0-9]+, "([^"]*)"', table)]


def norm(path):
    """A path template with its parameters as {} (the router's {} and {*})."""
    return re.sub(r"\{[^}]*\}", "{}", path)


OPS = {}
for tpl, item in DOC["paths"].items():
    for m, o in item.items():
        if m in METHODS:
            OPS[(m.upper(), norm(tpl))] = o


def validator(schema):
    return jsonschema.Draft202012Validator(dict(schema, components=DOC["components"]))


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *a):
        pass


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a job's HTTP hops appear in its answer and receipt: a local server to call
        cls.web = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
        threading.Thread(target=cls.web.serve_forever, daemon=True).start()
        cls.d = Daemon("--http-allow-private", "127.0.0.1", "--http-allow-http").start()
        cls.tok = cls.d.token("openapi")
        cls.covered = set()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.web.shutdown()
        cls.web.server_close()

    def request(self, method, path, body, raw, token, headers):
        """One request; the answer parsed when it is JSON."""
        host, port = self.d.url[len("http://"):].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        h = {"Content-Type": "application/json"}
        h.update(headers)
        if token:
            h["Authorization"] = "Bearer " + token
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read()
        hdrs = dict(r.getheaders())
        conn.close()
        ans = json.loads(text) if hdrs.get("Content-Type", "").startswith(
            "application/json") and text else text
        return r.status, ans, hdrs

    def call(self, pattern, method, path, want, body=None, raw=None, token=True, headers=None):
        """Makes the request, checks the status is 'want' and documented, and
        validates a JSON answer against the document; returns the body."""
        tok = self.tok if token is True else token
        st, ans, hdrs = self.request(method, path, body, raw, tok, headers or {})
        self.assertEqual(st, want, (method, path, ans))
        self.covered.add((method, pattern))
        op = OPS.get((method, norm(pattern)))
        if op is None and st == 405:  # another method of the path says it
            op = next(o for (m, p), o in OPS.items() if p == norm(pattern))
            method = None
        self.assertIsNotNone(op, f"{method} {pattern} is not in docs/openapi.json")
        resp = op["responses"].get(str(st))
        self.assertIsNotNone(resp, f"{method} {pattern} answered {st}, not documented")
        if "$ref" in resp:
            resp = DOC["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        content = resp.get("content", {})
        if "application/json" in content and method != "HEAD":
            self.assertTrue(hdrs.get("Content-Type", "").startswith("application/json"), hdrs)
            errors = sorted(validator(content["application/json"]["schema"]).iter_errors(ans),
                            key=str)
            self.assertEqual([], [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]],
                             (method, path))
        if body is not None and op.get("requestBody"):
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            errors = list(validator(schema).iter_errors(body))
            if want < 300:
                self.assertEqual(errors, [], (method, path, "request"))
        return ans

    def test_served_document_is_the_file(self):
        st, ans, hdrs = self.request("GET", "/openapi.json", None, None, None, {})
        self.assertEqual(st, 200)
        self.assertEqual(ans, DOC)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertEqual(DOC["openapi"], "3.1.0")
        for name, schema in DOC["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)
        for (m, p), op in OPS.items():
            for code, resp in op["responses"].items():
                self.assertRegex(code, r"^[1-5][0-9][0-9]$", (m, p))

    def test_operations_are_the_router_table(self):
        routes = router_routes()
        self.assertGreater(len(routes), 20)
        table = {(m, norm(p)) for m, p, _, _ in routes}
        self.assertEqual(sorted(table - OPS.keys()), [], "routes missing from docs/openapi.json")
        self.assertEqual(sorted(OPS.keys() - table), [], "operations the router does not have")
        for m, p, auth, query in routes:
            op = OPS[(m, norm(p))]
            self.assertEqual(bool(op.get("security")), auth, (m, p))
            if auth:
                self.assertIn("401", op["responses"], (m, p))
            names = sorted(x["name"] for x in op.get("parameters", []) if x["in"] == "query")
            self.assertEqual(names, sorted(query), (m, p))
            self.assertIn("405", op["responses"], (m, p))

    def test_job_error_codes_are_the_documented_ones(self):
        errs = open(os.path.join(ROOT, "docs", "errors.md")).read().split("## Job errors")[1]
        codes = re.findall(r"^\| `([A-Z_]+)` \|", errs, re.M)
        self.assertEqual(DOC["components"]["schemas"]["JobError"]["properties"]["code"]["enum"],
                         codes)
        reply = open(os.path.join(ROOT, "src", "api", "reply.c")).read()
        api = set(re.findall(r'\{\d+, "([A-Za-z_]+)"\}', reply) +
                  re.findall(r'return "([a-z_]+)";', reply)) - {"ok"}
        self.assertEqual(api, set(DOC["components"]["schemas"]["Error"]["properties"]["error"]
                                  ["properties"]["code"]["enum"]))

    def test_zz_every_route_answers_as_documented(self):
        c = self.call
        c("/health", "GET", "/health", 200)
        c("/health", "DELETE", "/health", 405)
        c("/ready", "GET", "/ready", 200)
        c("/info", "GET", "/info", 200)
        c("/attestation", "GET", "/attestation", 200)
        c("/openapi.json", "GET", "/openapi.json", 200)
        job = c("/execute", "POST", "/execute", 200, body={
            "script": "function main(i, s){ console.log('hi'); storage.set('k', 'v');"
                      " return {v: i.v, s: s.K}; }",
            "input": {"v": 1}, "timeout": 10, "memory_mb": 64, "secret_refs": []})
        self.assertEqual(job["status"], "completed", job)
        c("/execute", "POST", "/execute", 200, body={"script": "function main(){ throw 1 }"})
        vrf = c("/execute", "POST", "/execute", 200,
                body={"script": "function main(){ return crypto.vrf('seed-1') }"})
        self.assertEqual(len(vrf["receipt"].get("vrf", [])), 1, vrf)
        port = self.web.server_address[1]
        hop = c("/execute", "POST", "/execute", 200, body={
            "script": "async function main(i){ const r = await fetch(i.url);"
                      " return {s: r.status, t: await r.text()} }",
            "input": {"url": f"http://127.0.0.1:{port}/x"},
            "http": {"allow": [f"127.0.0.1:{port}"], "max_requests": 2}})
        self.assertEqual(hop["output"], {"s": 200, "t": "hello"}, hop)
        self.assertEqual(len(hop["receipt"].get("http", [])), 1, hop["receipt"])
        sealed = c("/execute", "POST", "/execute", 200, body={
            "script": "function main(){ return 2 }",
            "output_pubkey": base64.b64encode(bytes(range(32))).decode()})
        self.assertIn("encrypted_output", sealed)
        recorded = c("/execute", "POST", "/execute", 200, body={
            "script": "function main(){ return {t: Date.now() > 0, r: Math.random() < 1} }",
            "record": True, "record_pubkey": base64.b64encode(bytes(range(32))).decode()})
        self.assertIn("recording_sha256", recorded["receipt"], recorded)
        queued = c("/execute", "POST", "/execute", 202,
                   body={"script": "function main(){ return 3 }", "async": True})
        c("/execute", "POST", "/execute", 400, body={"script": "x", "timeout": 500})
        c("/execute", "POST", "/execute", 400, body={"scrpt": "x"})
        c("/execute", "POST", "/execute", 401, body={"script": "x"}, token=None)
        c("/execute", "GET", "/execute", 405)
        c("/jobs/{}", "GET", "/jobs/" + job["job_id"], 200)
        self.d.wait_job(self.tok, queued["job_id"])
        c("/jobs/{}", "GET", "/jobs/" + queued["job_id"], 200)
        c("/jobs/{}", "GET", "/jobs/" + "0" * 32, 404)
        c("/jobs/{}/recording", "GET", "/jobs/" + recorded["job_id"] + "/recording", 200)
        c("/jobs/{}/recording", "GET", "/jobs/" + job["job_id"] + "/recording", 404)
        spin = c("/execute", "POST", "/execute", 202, body={
            "script": "function main(){ for(;;){} }", "async": True, "timeout": 30})
        cancelled = c("/jobs/{}/cancel", "POST", f"/jobs/{spin['job_id']}/cancel", 200)
        self.assertEqual(cancelled["job_id"], spin["job_id"])
        c("/jobs/{}/cancel", "POST", f"/jobs/{queued['job_id']}/cancel", 409)
        c("/jobs/{}/cancel", "POST", "/jobs/" + "0" * 32 + "/cancel", 404)
        c("/jobs/{}/cancel", "GET", "/jobs/" + "0" * 32 + "/cancel", 405)
        c("/jobs/{}/deliveries", "GET", f"/jobs/{queued['job_id']}/deliveries", 200)
        c("/jobs/{}/deliveries", "GET", "/jobs/" + "0" * 32 + "/deliveries", 404)
        c("/execute", "POST", "/execute", 400, body={
            "script": "function main(){ return 1 }", "async": True,
            "callback_url": "https://10.0.0.1/hook"})
        c("/jobs", "GET", "/jobs?limit=2&status=completed&runtime=js", 200)
        c("/jobs", "GET", "/jobs?since=2026-01-01T00:00:00Z&until=99999999999999", 200)
        c("/jobs", "GET", "/jobs?state=x", 400)
        c("/jobs", "GET", "/jobs", 401, token="srt_wrong")
        c("/stats", "GET", "/stats?step=60", 200)
        c("/stats", "GET", "/stats?step=0", 400)
        # modules
        g = open(GUEST, "rb").read() if os.path.exists(GUEST) else None
        if g is None:
            self.skipTest("WASI guest not built")
        h = hashlib.sha256(g).hexdigest()
        wasm = {"Content-Type": "application/wasm"}
        c("/modules", "POST", "/modules", 201, raw=g, headers=wasm)
        c("/modules", "POST", "/modules", 200, raw=g, headers=wasm)
        c("/modules", "POST", "/modules", 400, raw=b"\0asm\x01\0\0\0\x99", headers=wasm)
        c("/modules", "GET", "/modules?limit=5", 200)
        c("/modules", "GET", "/modules?before=xyz", 400)
        c("/modules/{}", "GET", "/modules/" + h, 200)
        c("/execute", "POST", "/execute", 200, body={
            "runtime": "wasm", "module_hash": h, "args": ["echo"], "env": {"A": "1"},
            "output_format": "json", "input": 5})
        dry = c("/estimate", "POST", "/estimate", 200, body={
            "runtime": "wasm", "module_hash": h, "args": ["echo"], "input": 5, "dry_run": True})
        self.assertTrue(dry["dry_run"])
        c("/modules/{}", "DELETE", "/modules/" + h, 200)
        c("/modules/{}", "GET", "/modules/" + h, 404)
        c("/modules/{}", "DELETE", "/modules/" + h, 404)
        # secrets
        c("/secrets/pubkey", "GET", "/secrets/pubkey", 200)
        c("/secrets/{}", "PUT", "/secrets/K", 201, body={"value": "v1"})
        c("/secrets/{}", "PUT", "/secrets/K", 200, body={"value": "v2"})
        c("/secrets/{}", "PUT", "/secrets/K", 400, body={"value": "v", "sealed": "x"})
        c("/secrets/{}/policy", "PUT", "/secrets/K/policy", 200,
          body={"runtimes": ["js"], "expires_at": "2099-01-01T00:00:00Z"})
        c("/secrets/{}/policy", "PUT", "/secrets/K/policy", 400, body={"users": ["x"]})
        c("/secrets/{}/generate", "POST", "/secrets/G/generate", 201, body={"kind": "ed25519"})
        c("/secrets/{}/generate", "POST", "/secrets/G/generate", 200, body={"kind": "random32"})
        c("/secrets/{}/generate", "POST", "/secrets/G/generate", 400, body={"kind": "rsa"})
        c("/secrets", "GET", "/secrets", 200)
        c("/execute", "POST", "/execute", 200,
          body={"script": "function main(i, s){ return s.K.length }", "secret_refs": ["K"]})
        audit = c("/secrets/{}/audit", "GET", "/secrets/K/audit?limit=5", 200)
        self.assertTrue(audit["audit"], audit)
        c("/secrets/{}/audit", "GET", "/secrets/K/audit?before=x", 400)
        c("/secrets/{}", "DELETE", "/secrets/K", 200)
        c("/secrets/{}", "DELETE", "/secrets/K", 404)
        # storage
        octet = {"Content-Type": "application/octet-stream"}
        c("/storage/{}/{*}", "PUT", "/storage/ns1/a/b", 200, raw=b"hello", headers=octet)
        c("/storage/{}/{*}", "PUT", "/storage/ns1/a/b", 400, raw=b"x")
        c("/storage/{}/{*}", "PUT", "/storage/ns1/big", 413, raw=b"x" * (1024 * 1024 + 1),
          headers=octet)
        c("/storage/{}/{*}", "GET", "/storage/ns1/a/b", 200)
        c("/storage/{}", "GET", "/storage/ns1?prefix=a&limit=10", 200)
        c("/storage/{}", "GET", "/storage/bad%20ns", 400)
        c("/storage", "GET", "/storage", 200)
        c("/storage/{}/{*}", "DELETE", "/storage/ns1/a/b", 200)
        c("/storage/{}/{*}", "GET", "/storage/ns1/a/b", 404)
        c("/storage/{}/{*}", "DELETE", "/storage/ns1/a/b", 404)
        # tokens (docs/accounts.md)
        made = c("/tokens", "POST", "/tokens", 201,
                 body={"scopes": ["jobs:read"], "label": "openapi", "expires_in": "1h"})
        c("/tokens", "POST", "/tokens", 400, body={"scopes": ["nope"]})
        c("/tokens", "GET", "/tokens", 200)
        c("/tokens", "GET", "/tokens?user=someone-else", 403)
        c("/jobs", "GET", "/jobs", 200, token=made["token"])
        c("/execute", "POST", "/execute", 403, body={"script": "x"}, token=made["token"])
        c("/tokens/{}", "DELETE", "/tokens/" + made["id"], 200)
        c("/tokens/{}", "DELETE", "/tokens/" + made["id"], 409)
        c("/tokens/{}", "DELETE", "/tokens/" + "0" * 16, 404)
        # remote workers (docs/workers.md): one registered by a real worker
        admin = cli("token", "create", *self.d.where(), "--user", "root", "--scopes", "admin",
                    check=True).stdout.strip().splitlines()[-1]
        wtok = worker_token(self.d, "openapi")
        w = Worker(self.d.url, wtok).start()
        try:
            self.assertIsNotNone(w.id, w.log_text())
            listed = c("/workers", "GET", "/workers", 200, token=admin)
            self.assertEqual([x["public_key"] for x in listed["workers"]], [w.public_key])
            c("/workers", "GET", "/workers", 403)
            c("/worker/register", "POST", "/worker/register", 401, body={}, token=wtok)
            now = {"X-Sealrun-Time": str(int(time.time() * 1000))}
            c("/worker/register", "POST", "/worker/register", 400, body={"x": 1}, token=wtok,
              headers=now)
            c("/worker/heartbeat", "POST", "/worker/heartbeat", 401, token=wtok)
            c("/worker/heartbeat", "POST", "/worker/heartbeat", 401, token=None)
            # the job path (test_workers.py drives it signed, on a coordinator)
            c("/worker/jobs", "GET", "/worker/jobs?wait=0", 401, token=wtok, headers=now)
            c("/worker/modules/{}", "GET", "/worker/modules/" + "0" * 64, 401, token=wtok,
              headers=now)
            c("/worker/jobs/{}/storage", "POST", "/worker/jobs/" + "0" * 32 + "/storage", 401,
              body={"fence": 1, "call": ""}, token=wtok, headers=now)
            c("/worker/jobs/{}/result", "POST", "/worker/jobs/" + "0" * 32 + "/result", 401,
              body={"fence": 1, "job": "{}"}, token=wtok, headers=now)
        finally:
            w.cleanup()
        # the keystore's channel: only on a coordinator with --keystore (test_keystore.py
        # drives it signed)
        c("/keystore/context", "POST", "/keystore/context", 409,
          body={"worker_public_key": "0" * 64, "job_id": "0" * 32, "fence": 1})
        c("/keystore/audit", "POST", "/keystore/audit", 409, body={"records": []})
        # budgets, prices and balances (docs/accounts.md)
        c("/estimate", "POST", "/estimate", 200, body={"script": "function main(){}", "timeout": 2})
        c("/estimate", "POST", "/estimate", 400, body={"script": "x", "nope": 1})
        c("/account", "GET", "/account?limit=5", 200)
        c("/account", "GET", "/account?user=someone-else", 403)
        c("/account", "GET", "/account?limit=0", 400)
        c("/account/credit", "POST", "/account/credit", 403, body={"user": "openapi", "amount": 5})
        p = cli("token", "create", *self.d.where(), "--user", "ops", "--scopes", "admin",
                check=True)
        ops = p.stdout.strip().splitlines()[-1]
        c("/account/credit", "POST", "/account/credit", 200,
          body={"user": "openapi", "amount": 5, "note": "openapi"}, token=ops)
        c("/account/credit", "POST", "/account/credit", 400, body={"user": "openapi"},
          token=ops)
        acct = c("/account", "GET", "/account", 200)
        self.assertEqual(acct["balance"], 5)
        # the dashboard
        for m in ("GET", "HEAD"):
            c("/", m, "/", 308)
            c("/ui", m, "/ui", 308)
            c("/ui/", m, "/ui/", 200)
            c("/ui/{*}", m, "/ui/app.js", 200)
            c("/ui/{*}", m, "/ui/nope.txt", 404)
        missing = {(m, p) for m, p, _, _ in router_routes()} - self.covered
        self.assertEqual(sorted(missing), [], "routes this test never called")


if __name__ == "__main__":
    main()
