# SPDX-License-Identifier: MIT
"""seal.py - libsodium sealed boxes (crypto_box_seal) through PyNaCl: a
secret's value sealed to the owner's key from GET /secrets/pubkey
(docs/secrets.md), and a job's encrypted_output opened with the secret key
whose public half was its output_pubkey (docs/output-protection.md). Keys
and boxes are standard padded base64."""

import base64
import hashlib

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from .jsonstrict import parse_strict


def _key32(b64, what):
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        raise ValueError(f"{what} must be standard base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes (44 base64 characters), got {len(raw)}")
    return raw


def seal_value(value, public_key_b64):
    """Seals value (str as UTF-8, or bytes) to the X25519 key; base64 box."""
    msg = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    box = SealedBox(PublicKey(_key32(public_key_b64, "public key"))).encrypt(msg)
    return base64.b64encode(box).decode()


def new_keypair():
    """A new X25519 key pair for output_pubkey: (public_b64, secret_b64)."""
    sk = PrivateKey.generate()
    return base64.b64encode(bytes(sk.public_key)).decode(), base64.b64encode(bytes(sk)).decode()


def open_sealed(box_b64, secret_key_b64):
    sk = PrivateKey(_key32(secret_key_b64, "secret key"))
    try:
        return SealedBox(sk).decrypt(base64.b64decode(box_b64, validate=True))
    except (CryptoError, ValueError):
        raise ValueError("authentication failed: the sealed box does not open with this secret key") from None


def decrypt_output(job, secret_key_b64):
    """Opens a job's encrypted_output: (output, output_hash, matches), where
    matches says whether the canonical bytes hash to the job's output_hash."""
    if not isinstance(job.get("encrypted_output"), str):
        raise ValueError("the job has no encrypted_output")
    canon = open_sealed(job["encrypted_output"], secret_key_b64)
    h = hashlib.sha256(canon).hexdigest()
    return parse_strict(canon, "encrypted_output"), h, h == job.get("output_hash")
