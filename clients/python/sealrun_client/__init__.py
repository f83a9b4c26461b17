# SPDX-License-Identifier: MIT
"""sealrun_client - the sealrun HTTP API from Python (stdlib plus PyNaCl,
Debian's python3-nacl): submit jobs sync and async, wait with backoff, list
with filters, seal a secret, open an encrypted_output, verify a receipt and
an output hash. Every answer is read as strictly as sealrun reads JSON (no
key twice in an object, no number RFC 8785 cannot hash exactly).
docs/dashboard.md, "Client libraries"."""

from .jsonstrict import jcs, jcs_bytes, parse_strict, StrictJSONError
from .receipt import verify_job, verify_signature, verified, signed_message, output_hash
from .seal import seal_value, new_keypair, open_sealed, decrypt_output
from .client import Client, SealrunError

__all__ = ["jcs", "jcs_bytes", "parse_strict", "StrictJSONError", "verify_job",
           "verify_signature", "verified", "signed_message", "output_hash", "seal_value",
           "new_keypair", "open_sealed", "decrypt_output", "Client", "SealrunError"]
