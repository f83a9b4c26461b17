# SPDX-License-Identifier: MIT
"""receipt.py - checks a job's signed receipt exactly as docs/receipts.md
says: Ed25519 (libsodium, through PyNaCl) over
    "sealrun.receipt.v1" 0x00 JCS(receipt)
by the worker key, the job's fields against the receipt, the output, logs
and sealed-output hashes recomputed, and the worker key and measurement
against GET /attestation when given. Each check is a dict {id, res, line}
with res "ok", "fail" or "skip"; a job verifies when none failed."""

import base64
import hashlib
import re

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from .jsonstrict import jcs_bytes

DOMAIN = "sealrun.receipt.v1"


def _lower_hex(s, n):
    return isinstance(s, str) and len(s) == n and re.fullmatch(r"[0-9a-f]*", s) is not None


def signed_message(receipt):
    return DOMAIN.encode() + b"\0" + jcs_bytes(receipt)


def output_hash(value):
    """SHA-256 of JCS(value), lower-case hex: a job's output_hash."""
    return hashlib.sha256(jcs_bytes(value)).hexdigest()


def verify_signature(receipt, sig_hex, pk_hex):
    if not _lower_hex(sig_hex, 128) or not _lower_hex(pk_hex, 64):
        return False
    try:
        VerifyKey(bytes.fromhex(pk_hex)).verify(signed_message(receipt), bytes.fromhex(sig_hex))
        return True
    except (BadSignatureError, CryptoError, ValueError):
        return False


def verified(checks):
    return bool(checks) and all(c["res"] != "fail" for c in checks)


def _tdx_binding(quote_b64, pk_hex, m_hex):
    try:
        q = base64.b64decode(quote_b64, validate=True)
    except ValueError as e:
        return f"quote is not base64: {e}"
    version = int.from_bytes(q[:2], "little") if len(q) >= 2 else 0
    off = {4: 568, 5: 574}.get(version)
    if off is None:
        return f"TDX quote has version {version}; expected 4 or 5"
    if len(q) < off + 64:
        return f"TDX quote is {len(q)} bytes; report_data needs {off + 64}"
    rd = hashlib.sha512(bytes.fromhex(pk_hex) + bytes.fromhex(m_hex)).digest()
    return None if rd == q[off:off + 64] else \
        "TDX quote's report_data is not SHA-512(worker_public_key || measurement)"


def verify_job(job, attestation=None, worker_key=None, measurement=None, code=None,
               input=None, has_input=False):
    """Runs every check on a job object as GET /jobs/{id} answers it.
    attestation: the GET /attestation document (pins the worker key and the
    measurement); code: the script (str) or module (bytes); input with
    has_input=True: the job's input value (None is a valid input)."""
    out = []

    def add(cid, res, line):
        out.append({"id": cid, "res": res, "line": line})

    r = job.get("receipt") if isinstance(job, dict) else None
    sig = job.get("receipt_signature") if isinstance(job, dict) else None
    if not isinstance(r, dict) or not isinstance(sig, str):
        add("receipt", "fail", "the job has no receipt object and receipt_signature string")
        return out
    add("receipt", "ok", f"the job has a receipt ({r.get('version')})")
    pinned = worker_key or (attestation or {}).get("worker_public_key")
    _signature(r, sig, pinned, add)
    _worker(r, attestation, measurement, add)
    if job.get("job_id") and job.get("job_id") == r.get("job_id"):
        add("job_id", "ok", f"job_id matches the receipt: {job['job_id']}")
    else:
        add("job_id", "fail", f"job_id '{job.get('job_id')}' differs from the receipt's '{r.get('job_id')}'")
    if isinstance(job.get("runtime"), str) and job["runtime"] == r.get("runtime"):
        add("runtime", "ok", f"runtime matches the receipt: {job['runtime']}")
    else:
        add("runtime", "fail", f"runtime '{job.get('runtime')}' differs from the receipt's '{r.get('runtime')}'")
    err_code = (job.get("error") or {}).get("code")
    if job.get("status") == r.get("status") and err_code == r.get("error_code"):
        add("status", "ok", f"status and error code match the receipt: {job.get('status')}, {err_code}")
    else:
        add("status", "fail", f"status/error code '{job.get('status')}'/'{err_code}' differ from the receipt's '{r.get('status')}'/'{r.get('error_code')}'")
    _output(job, r, add)
    enc = job.get("encrypted_output")
    if isinstance(enc, str):
        h = hashlib.sha256(enc.encode()).hexdigest()
        add("encrypted_output_hash", "ok" if h == r.get("encrypted_output_hash") else "fail",
            f"encrypted_output hash {h}" + (" matches the receipt" if h == r.get("encrypted_output_hash")
                                            else f" differs from the receipt's {r.get('encrypted_output_hash')}"))
    elif r.get("encrypted_output_hash") is not None:
        add("encrypted_output_hash", "fail", "the receipt has encrypted_output_hash but the job has none")
    lh = output_hash(job.get("logs") or [])
    add("logs_hash", "ok" if lh == r.get("logs_hash") else "fail",
        f"logs hash {lh}" + (" matches the receipt" if lh == r.get("logs_hash") else f" differs from the receipt's {r.get('logs_hash')}"))
    if code is not None:
        h = hashlib.sha256(code.encode() if isinstance(code, str) else code).hexdigest()
        add("code_hash", "ok" if h == r.get("code_hash") else "fail",
            f"code hash {h}" + (" matches the given code" if h == r.get("code_hash") else f" differs from the receipt's {r.get('code_hash')}"))
    if has_input:
        h = output_hash(input)
        add("input_hash", "ok" if h == r.get("input_hash") else "fail",
            f"input hash {h}" + (" matches the receipt" if h == r.get("input_hash") else f" differs from the receipt's {r.get('input_hash')}"))
    _quote(r, add)
    return out


def _signature(r, sig, pinned, add):
    if r.get("version") != DOMAIN:
        return add("signature", "fail", f"signature: receipt version is '{r.get('version')}'; expected '{DOMAIN}'")
    if not _lower_hex(r.get("worker_public_key"), 64):
        return add("signature", "fail", "signature: receipt field 'worker_public_key' must be 64 lower-case hex characters")
    if not _lower_hex(sig, 128):
        return add("signature", "fail", "signature: receipt_signature must be 128 lower-case hex characters")
    key = pinned or r["worker_public_key"]
    if not verify_signature(r, sig, key):
        return add("signature", "fail", f"signature: the receipt signature does not verify with the worker key {key}")
    add("signature", "ok", f"signature (Ed25519) by the worker key {key}" +
        ("" if pinned else " (the receipt's own key: not pinned)"))


def _worker(r, att, measurement, add):
    if att is None:
        add("worker_key", "skip", "worker key not compared with GET /attestation (none given)")
    elif r.get("worker_public_key") == att.get("worker_public_key"):
        add("worker_key", "ok", f"worker key is the server's (GET /attestation): {att['worker_public_key']}")
    else:
        add("worker_key", "fail", f"worker key {r.get('worker_public_key')} is not the server's {att.get('worker_public_key')}")
    want = measurement or (att or {}).get("measurement")
    if want is None:
        add("measurement", "skip", "measurement not compared (none expected)")
    else:
        add("measurement", "ok" if r.get("measurement") == want else "fail",
            f"measurement {r.get('measurement')}" + (" is the expected one" if r.get("measurement") == want else f" differs from the expected {want}"))


def _output(job, r, add):
    if isinstance(job.get("output_hash"), str) and job["output_hash"] != r.get("output_hash"):
        return add("output_hash", "fail", f"job output_hash {job['output_hash']} differs from the receipt's {r.get('output_hash')}")
    output = job.get("output")
    if r.get("status") != "completed":
        if output is not None:
            add("output_hash", "fail", "failed job, yet the job carries an output")
        elif r.get("output_hash") is None:
            add("output_hash", "ok", "failed job: no output, and the receipt has no output hash")
        else:
            add("output_hash", "fail", f"failed job, yet the receipt has output hash {r.get('output_hash')}")
        return
    if isinstance(job.get("encrypted_output"), str) and output is None:
        return add("output_hash", "skip", f"output is sealed: open it and compare with {r.get('output_hash')}")
    try:
        h = output_hash(output)
    except ValueError as e:
        return add("output_hash", "fail", f"output has no canonical form: {e}")
    add("output_hash", "ok" if h == r.get("output_hash") else "fail",
        f"output hash {h} recomputed from the canonical output" +
        (" matches the receipt" if h == r.get("output_hash") else f" differs from the receipt's {r.get('output_hash')}"))


def _quote(r, add):
    if r.get("quote_type") == "none" and r.get("quote") is None:
        add("quote", "skip", "quote: none (software only: no hardware vouches for this key)")
    elif r.get("quote_type") == "tdx" and isinstance(r.get("quote"), str):
        why = _tdx_binding(r["quote"], r["worker_public_key"], r["measurement"])
        add("quote", "fail" if why else "ok", f"quote: {why}" if why else
            "TDX quote carries SHA-512(worker key || measurement) as report_data")
    else:
        add("quote", "fail", f"quote_type '{r.get('quote_type')}' is not a known combination")
