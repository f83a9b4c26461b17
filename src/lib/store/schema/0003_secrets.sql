-- SPDX-License-Identifier: MIT
-- 0003_secrets.sql - per-owner named secrets (ciphertext only: XChaCha20-
-- Poly1305 blobs whose AAD binds owner, name and version) and the audit of
-- every use and denial. The version is part of the encryption, so a value
-- is replaced only by a compare-and-set on it (store.c).

CREATE TABLE secrets (
    owner       TEXT NOT NULL CHECK (length(owner) > 0),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    version     INTEGER NOT NULL CHECK (version >= 1),
    blob        BLOB NOT NULL,
    policy_json TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (owner, name)
) WITHOUT ROWID;

CREATE TABLE secret_audit (
    id       INTEGER PRIMARY KEY,
    owner    TEXT NOT NULL,
    name     TEXT NOT NULL,
    job_id   TEXT,
    user     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    outcome  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    time_ms  INTEGER NOT NULL
);

CREATE INDEX secret_audit_owner_name ON secret_audit (owner, name, time_ms DESC);
