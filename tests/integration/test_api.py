# SPDX-License-Identifier: MIT
"""test_api.py - every endpoint of the HTTP API against a real sealrund:
results and their conventions, output protection, authentication, per-user
isolation of jobs, the async flow, listing, and every request error."""
import base64
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, output_hash, main  # noqa: E402

ISOLATION = os.environ.get("SR_IT_ISOLATION", "tenant")


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--isolation=" + ISOLATION).start()
        cls.alice = cls.d.token("alice")
        cls.bob = cls.d.token("bob")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_js(self, script, token=None, **fields):
        st, job, _ = self.d.execute(token or self.alice, script, **fields)
        self.assertEqual(st, 200, job)
        return job

    # --- public endpoints ---
    def test_health_ready_info(self):
        self.assertEqual(self.d.request("GET", "/health")[:2], (200, {"status": "ok"}))
        self.assertEqual(self.d.request("GET", "/ready")[:2], (200, {"status": "ready"}))
        st, info, _ = self.d.request("GET", "/info")
        self.assertEqual(st, 200)
        self.assertEqual(info["name"], "sealrun")
        self.assertIn("JavaScriptCore", info["engines"]["js"]["engine"])
        self.assertTrue(info["engines"]["js"]["jit"])
        self.assertEqual(info["isolation"], ISOLATION)
        self.assertEqual(info["limits"]["script_bytes"], 1048576)
        self.assertEqual(info["limits"]["running_jobs_per_user"], 5)
        self.assertEqual(info["result_ttl_ms"], 24 * 3600 * 1000)
        self.assertIn("jobs_total", info["stats"])

    # --- results ---
    def test_object_result_and_fields(self):
        job = self.run_js("function main(input){ return {sum: input.a + input.b}; }",
                          input={"a": 2, "b": 3})
        self.assertEqual(job["status"], "completed")
        self.assertEqual(job["output"], {"sum": 5})
        self.assertRegex(job["job_id"], "^[0-9a-f]{32}$")
        for k in ("started_at", "finished_at", "created_at", "duration", "duration_ms",
                  "gas_used", "gas_limit", "logs", "output_hash", "signature"):
            self.assertIn(k, job)
        self.assertNotIn("error", job)
        self.assertRegex(job["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(job["output_hash"], output_hash({"sum": 5}))
        self.assertRegex(job["signature"], "^[0-9a-f]{64}$")

    def test_non_object_results_are_wrapped(self):
        self.assertEqual(self.run_js("function main(){ return 42; }")["output"], {"result": 42})
        self.assertEqual(self.run_js("function main(){ return 'hi'; }")["output"],
                         {"result": "hi"})
        self.assertEqual(self.run_js("function main(){ return [1,2]; }")["output"],
                         {"result": [1, 2]})
        self.assertEqual(self.run_js("function main(){ }")["output"], {})
        self.assertEqual(self.run_js("function main(){ return null; }")["output"], {})

    def test_globals_promise_console_crypto(self):
        job = self.run_js(
            "async function main(input, secrets){ console.log('in', input.x);"
            " console.warn('w'); await null;"
            " return {g: globalThis.input.x, s: typeof secrets, h: crypto.sha256('abc'),"
            " r: crypto.randomBytes(4).length}; }", input={"x": 7})
        self.assertEqual(job["status"], "completed", job)
        out = job["output"]
        self.assertEqual(out["g"], 7)
        self.assertEqual(out["s"], "object")
        self.assertEqual(out["h"],
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        self.assertEqual(out["r"], 8)
        self.assertIn("in 7", job["logs"][0])
        self.assertTrue(any("w" in l for l in job["logs"][1:]))

    def test_entry_point(self):
        job = self.run_js("function go(){ return {ok:true}; }", entry_point="go")
        self.assertEqual(job["output"], {"ok": True})

    # --- guest errors are failed jobs (200) ---
    def assert_failed(self, job, code, text=None):
        self.assertEqual(job["status"], "failed", job)
        self.assertEqual(job["error"]["code"], code, job)
        if text:
            self.assertIn(text, job["error"]["message"])
        self.assertIn("gas_used", job)
        self.assertIn("logs", job)
        self.assertIsNone(job["output"])

    def test_script_error(self):
        job = self.run_js("function main( { return 1 }")
        self.assert_failed(job, "SCRIPT_ERROR")
        self.assertRegex(job["error"]["message"], r"SyntaxError: .*job\.js:1")

    def test_entry_point_not_found(self):
        self.assert_failed(self.run_js("var x = 1;"), "ENTRY_POINT_NOT_FOUND", "main")

    def test_execution_error_keeps_logs(self):
        job = self.run_js("function main(){ console.log('before'); throw new Error('boom'); }")
        self.assert_failed(job, "EXECUTION_ERROR", "boom")
        self.assertEqual(job["logs"][0], "before")

    def test_rejected_promise(self):
        job = self.run_js("async function main(){ throw new TypeError('nope'); }")
        self.assert_failed(job, "EXECUTION_ERROR", "nope")

    def test_output_not_json(self):
        self.assert_failed(self.run_js("function main(){ const a={}; a.a=a; return a; }"),
                           "OUTPUT_NOT_JSON")
        self.assert_failed(self.run_js("function main(){ return {n: 10n}; }"),
                           "OUTPUT_NOT_JSON")

    def test_input_too_large(self):
        job = self.run_js("function main(){ return 1; }", input="x" * (1024 * 1024 + 10))
        self.assert_failed(job, "INPUT_TOO_LARGE")

    def test_failed_job_is_stored(self):
        job = self.run_js("function main(){ throw new Error('stored'); }")
        st, again, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=self.alice)
        self.assertEqual(st, 200)
        self.assertEqual(again["status"], "failed")
        self.assertEqual(again["error"], job["error"])

    # --- output protection ---
    def test_encrypted_output_roundtrip(self):
        keys = json.loads(cli("keygen", check=True).stdout)
        job = self.run_js("function main(){ return {secret: 'only you'}; }",
                          output_pubkey=keys["public_key"])
        self.assertIsNone(job["output"])
        self.assertIn("encrypted_output", job)
        path = os.path.join(self.d.data_dir, "enc-job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("decrypt", "--secret-key", keys["secret_key"], path, check=True)
        self.assertEqual(json.loads(p.stdout), {"secret": "only you"})
        p = cli("verify-output", path, "--secret-key", keys["secret_key"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        other = json.loads(cli("keygen", check=True).stdout)
        p = cli("decrypt", "--secret-key", other["secret_key"], path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("authentication failed", p.stderr)

    def test_verify_output_detects_tampering(self):
        job = self.run_js("function main(){ return {v: 1}; }")
        path = os.path.join(self.d.data_dir, "job.json")
        with open(path, "w") as f:
            json.dump(job, f)
        keyenv = self.keys_env()
        p = cli("verify-output", path, env=keyenv)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ok   signature", p.stdout)
        job["output"] = {"v": 2}
        with open(path, "w") as f:
            json.dump(job, f)
        p = cli("verify-output", path, env=keyenv)
        self.assertEqual(p.returncode, 1)
        self.assertIn("FAIL output_hash", p.stdout)

    def keys_env(self):
        keys = {}
        for name, var in (("compute.key", "COMPUTE_MASTER_KEY"),
                          ("secrets.key", "SECRETS_MASTER_KEY")):
            with open(os.path.join(self.d.data_dir, "keys", name)) as f:
                keys[var] = f.read().strip()
        return keys

    # --- authentication and isolation ---
    def test_auth_required(self):
        st, body, _ = self.d.request("POST", "/execute", {"script": "1"})
        self.assertEqual(st, 401)
        self.assertEqual(body["error"]["code"], "unauthorized")
        st, body, _ = self.d.request("GET", "/jobs", token="srt_not_a_real_token")
        self.assertEqual(st, 401)
        st, body, _ = self.d.request("GET", "/jobs", headers={"Authorization": "Basic eDp5"})
        self.assertEqual(st, 401)

    def test_revoked_token_is_refused(self):
        tok = self.d.token("carol")
        self.assertEqual(self.d.request("GET", "/jobs", token=tok)[0], 200)
        listing = cli("token", "list", *self.d.where(), "--user", "carol",
                      check=True).stdout
        tid = listing.splitlines()[1].split()[0]
        cli("token", "revoke", *self.d.where(), tid, check=True)
        self.assertEqual(self.d.request("GET", "/jobs", token=tok)[0], 401)

    def test_other_users_job_is_not_found(self):
        job = self.run_js("function main(){ return {mine: 'alice'}; }")
        st, body, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=self.bob)
        self.assertEqual(st, 404)
        st2, body2, _ = self.d.request("GET", "/jobs/" + "0" * 32, token=self.bob)
        self.assertEqual((st, body["error"]["code"]), (st2, body2["error"]["code"]))
        self.assertEqual(body["error"]["message"].replace(job["job_id"], "0" * 32),
                         body2["error"]["message"])
        st, lst, _ = self.d.request("GET", "/jobs?limit=100", token=self.bob)
        self.assertNotIn(job["job_id"], [j["job_id"] for j in lst["jobs"]])

    # --- listing ---
    def test_list_pagination(self):
        tok = self.d.token("pager")
        ids = [self.run_js("function main(i){ return {i}; }", token=tok, input=i)["job_id"]
               for i in range(5)]
        st, page, _ = self.d.request("GET", "/jobs?limit=2", token=tok)
        self.assertEqual(st, 200)
        self.assertEqual([j["job_id"] for j in page["jobs"]], ids[::-1][:2])
        st, page2, _ = self.d.request("GET", "/jobs?limit=2&before=" + page["next"], token=tok)
        self.assertEqual([j["job_id"] for j in page2["jobs"]], ids[::-1][2:4])
        st, page3, _ = self.d.request("GET", "/jobs?limit=2&before=" + page2["next"], token=tok)
        self.assertEqual([j["job_id"] for j in page3["jobs"]], ids[:1])
        self.assertIsNone(page3["next"])
        self.assertEqual(self.d.request("GET", "/jobs?limit=0", token=tok)[0], 400)
        self.assertEqual(self.d.request("GET", "/jobs?limit=101", token=tok)[0], 400)
        self.assertEqual(self.d.request("GET", "/jobs?before=zz", token=tok)[0], 400)

    # --- async ---
    def test_async_flow(self):
        st, ans, _ = self.d.execute(self.alice, "function main(i){ return {twice: i*2}; }",
                                    input=21, **{"async": True})
        self.assertEqual(st, 202)
        self.assertEqual(ans["status"], "queued")
        job = self.d.wait_job(self.alice, ans["job_id"])
        self.assertEqual(job["status"], "completed")
        self.assertEqual(job["output"], {"twice": 42})
        self.assertEqual(job["output_hash"], output_hash({"twice": 42}))
        st, _, _ = self.d.request("GET", "/jobs/" + ans["job_id"], token=self.bob)
        self.assertEqual(st, 404)

    def test_async_failed_job(self):
        st, ans, _ = self.d.execute(self.alice, "function main(){ null.x; }", **{"async": True})
        self.assertEqual(st, 202)
        job = self.d.wait_job(self.alice, ans["job_id"])
        self.assertEqual(job["error"]["code"], "EXECUTION_ERROR")

    # --- request errors ---
    def assert_error(self, status, code, text, *args, **kw):
        st, body, _ = self.d.request(*args, **kw)
        self.assertEqual(st, status, body)
        self.assertEqual(body["error"]["code"], code)
        self.assertIn(text, body["error"]["message"])

    def test_request_errors(self):
        t = self.alice
        self.assert_error(400, "invalid_request", "not valid JSON", "POST", "/execute",
                          raw=b"{nope", token=t)
        self.assert_error(400, "invalid_request", "must be a JSON object", "POST", "/execute",
                          raw=b"[1]", token=t)
        self.assert_error(400, "invalid_request", "'script' is required", "POST", "/execute",
                          {}, token=t)
        self.assert_error(400, "invalid_request", "unknown field 'scirpt'", "POST", "/execute",
                          {"scirpt": "x"}, token=t)
        self.assert_error(400, "invalid_request", "is for runtime \"js\", not \"wasm\"", "POST",
                          "/execute", {"script": "x", "runtime": "wasm"}, token=t)
        self.assert_error(400, "invalid_request", "must be \"js\" or \"wasm\"", "POST",
                          "/execute", {"script": "x", "runtime": "lua"}, token=t)
        self.assert_error(400, "invalid_request", "'timeout' must be 1..120, got 500", "POST",
                          "/execute", {"script": "x", "timeout": 500}, token=t)
        self.assert_error(400, "invalid_request", "'memory_mb'", "POST", "/execute",
                          {"script": "x", "memory_mb": 4096}, token=t)
        self.assert_error(400, "invalid_request", "'entry_point'", "POST", "/execute",
                          {"script": "x", "entry_point": "a b"}, token=t)
        self.assert_error(400, "invalid_request", "output_pubkey", "POST", "/execute",
                          {"script": "x", "output_pubkey": "abc"}, token=t)
        self.assert_error(400, "invalid_request", "secret_refs", "POST", "/execute",
                          {"script": "x", "secret_refs": ["bad name!"]}, token=t)
        self.assert_error(400, "invalid_request", "secret_refs", "POST", "/execute",
                          {"script": "x", "secret_refs": ["K%d" % i for i in range(17)]},
                          token=t)
        self.assert_error(413, "payload_too_large", "script", "POST", "/execute",
                          {"script": "x" * (1024 * 1024 + 1)}, token=t)
        st, body = self.d.request_big("/execute", 8 * 1024 * 1024 + 1, token=t)
        self.assertEqual(st, 413)
        self.assertEqual(body["error"]["code"], "payload_too_large")
        self.assertIn("8388608", body["error"]["message"])
        self.assert_error(404, "not_found", "no such endpoint", "GET", "/nope")
        # a query parameter the endpoint does not take is a typo, not ignored
        self.assert_error(400, "invalid_request", "unknown query parameter 'limt' for GET /jobs; "
                          "expected limit before", "GET", "/jobs?limt=5", token=t)
        self.assert_error(400, "invalid_request", "unknown query parameter 'x'", "GET",
                          "/jobs/" + "a" * 32 + "?x=1", token=t)
        self.assert_error(405, "method_not_allowed", "use POST", "GET", "/execute")
        self.assert_error(405, "method_not_allowed", "use GET", "DELETE", "/jobs")
        self.assert_error(404, "not_found", "not found", "GET", "/jobs/xyz", token=t)

    def test_daemon_is_still_healthy(self):
        self.assertEqual(self.d.request("GET", "/ready")[0], 200)


if __name__ == "__main__":
    main()
