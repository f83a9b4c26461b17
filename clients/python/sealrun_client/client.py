# SPDX-License-Identifier: MIT
"""client.py - the HTTP API of sealrund (docs/http-api.md) with urllib.
Answers are parsed with parse_strict; failures raise SealrunError with the
HTTP status and the server's {"error": {"code", "message"}}."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from .jsonstrict import parse_strict
from .receipt import verify_job
from .seal import seal_value, decrypt_output


class SealrunError(Exception):
    def __init__(self, status, code, message, retry_after=None):
        super().__init__(message)
        self.status = status  # HTTP status; 0 when no answer came
        self.code = code
        self.message = message
        self.retry_after = retry_after


class Client:
    def __init__(self, server="http://127.0.0.1:8080", token=None, timeout=180):
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, raw=None, content_type=None, query=None):
        q = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        url = self.server + path + ("?" + urllib.parse.urlencode(q) if q else "")
        data = raw if raw is not None else (json.dumps(body, allow_nan=False).encode()
                                            if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                text = r.read()
                return parse_strict(text, f"the answer of {method} {path}") if text.strip() else None
        except urllib.error.HTTPError as e:
            text = e.read()
            err = {}
            try:
                err = (parse_strict(text, "error answer") or {}).get("error", {}) if text.strip() else {}
            except ValueError:
                pass
            ra = e.headers.get("Retry-After")
            raise SealrunError(e.code, err.get("code", "http_error"),
                               err.get("message", f"{method} {path}: HTTP {e.code}"),
                               int(ra) if ra and ra.isdigit() else None) from None
        except urllib.error.URLError as e:
            raise SealrunError(0, "unreachable", f"cannot reach {self.server}: {e.reason}") from None

    # ---- jobs ----
    def execute(self, job):
        return self.request("POST", "/execute", dict(job, **{"async": False}))

    def submit(self, job):
        return self.request("POST", "/execute", dict(job, **{"async": True}))

    def get_job(self, job_id):
        return self.request("GET", "/jobs/" + urllib.parse.quote(job_id, safe=""))

    def wait(self, job_id, timeout=150.0, initial=0.05, maximum=2.0):
        """Polls until the job finished, the delay doubling from initial to
        maximum seconds; a 429 waits its Retry-After. SealrunError "timeout"."""
        deadline = time.monotonic() + timeout
        delay = initial
        while True:
            try:
                job = self.get_job(job_id)
                if job["status"] in ("completed", "failed"):
                    return job
            except SealrunError as e:
                if e.status != 429:
                    raise
                delay = max(delay, float(e.retry_after or 1))
            if time.monotonic() + delay > deadline:
                raise SealrunError(0, "timeout", f"job '{job_id}' did not finish within {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, maximum)

    def run(self, job, **wait_opts):
        return self.wait(self.submit(job)["job_id"], **wait_opts)

    def list_jobs(self, **filters):
        """GET /jobs: {jobs, next}; status, runtime, since, until, limit, before."""
        return self.request("GET", "/jobs", query=filters)

    def cancel(self, job_id):
        """POST /jobs/{id}/cancel: a queued or running async job ends failed
        with CANCELLED; the job object. SealrunError 409 if it had ended."""
        return self.request("POST", "/jobs/" + urllib.parse.quote(job_id, safe="") + "/cancel",
                            body={})

    def deliveries(self, job_id):
        """GET /jobs/{id}/deliveries: the job's completion webhook and its
        attempts: {job_id, state, attempts}."""
        return self.request("GET",
                            "/jobs/" + urllib.parse.quote(job_id, safe="") + "/deliveries")

    # ---- verification ----
    def attestation(self):
        return self.request("GET", "/attestation")

    def verify(self, job, **opts):
        att = opts.pop("attestation", None) or self.attestation()
        return verify_job(job, attestation=att, **opts)

    @staticmethod
    def decrypt_output(job, secret_key_b64):
        return decrypt_output(job, secret_key_b64)

    def stats(self, since=None, until=None, step=None):
        return self.request("GET", "/stats", query={"since": since, "until": until, "step": step})

    # ---- secrets ----
    def secrets_public_key(self):
        return self.request("GET", "/secrets/pubkey")["public_key"]

    def set_secret(self, name, value):
        """Creates or rotates a secret, sealed here: the value never leaves in clear."""
        sealed = seal_value(value, self.secrets_public_key())
        return self.request("PUT", "/secrets/" + urllib.parse.quote(name, safe=""), {"sealed": sealed})

    def list_secrets(self):
        return self.request("GET", "/secrets")

    def delete_secret(self, name):
        return self.request("DELETE", "/secrets/" + urllib.parse.quote(name, safe=""))

    def set_secret_policy(self, name, policy):
        return self.request("PUT", f"/secrets/{urllib.parse.quote(name, safe='')}/policy", policy)

    def secret_audit(self, name, limit=None, before=None):
        return self.request("GET", f"/secrets/{urllib.parse.quote(name, safe='')}/audit",
                            query={"limit": limit, "before": before})

    # ---- storage and modules ----
    def list_namespaces(self):
        """GET /storage: the caller's namespaces with their versions and sizes."""
        return self.request("GET", "/storage")

    def list_storage(self, ns, prefix=None, after=None, limit=None):
        return self.request("GET", "/storage/" + urllib.parse.quote(ns, safe=""),
                            query={"prefix": prefix, "after": after, "limit": limit})

    def put_storage(self, ns, key, value):
        data = value.encode() if isinstance(value, str) else bytes(value)
        return self.request("PUT", f"/storage/{urllib.parse.quote(ns, safe='')}/{urllib.parse.quote(key, safe='')}",
                            raw=data, content_type="application/octet-stream")

    def upload_module(self, data):
        return self.request("POST", "/modules", raw=bytes(data), content_type="application/wasm")

    def list_modules(self, limit=None, before=None):
        return self.request("GET", "/modules", query={"limit": limit, "before": before})

    def delete_module(self, module_hash):
        return self.request("DELETE", "/modules/" + module_hash)
