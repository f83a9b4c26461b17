-- SPDX-License-Identifier: MIT
-- 0019_workers.sql - remote workers (docs/workers.md). One row per worker
-- token: the operator makes it with `sealrun worker token create` (only
-- the token's SHA-256 is kept, as for API tokens); the worker that first
-- registers with it binds its Ed25519 key (hex), measurement (hex) and
-- attestation kind to it, and from then on every request it makes must be
-- signed with that key. 'state' is what the operator set: active,
-- draining (no new jobs) or revoked (refused at once, for good). Times
-- are epoch ms; registered_at, seen_at and revoked_at are NULL until then.

CREATE TABLE workers (
    hash          BLOB PRIMARY KEY CHECK (length(hash) = 32),
    name          TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'draining', 'revoked')),
    created_at    INTEGER NOT NULL,
    public_key    TEXT CHECK (public_key IS NULL OR length(public_key) = 64),
    measurement   TEXT CHECK (measurement IS NULL OR length(measurement) = 64),
    attestation   TEXT CHECK (attestation IS NULL OR attestation IN ('none', 'tdx')),
    version       TEXT,
    registered_at INTEGER,
    seen_at       INTEGER,
    revoked_at    INTEGER
) WITHOUT ROWID;
