-- SPDX-License-Identifier: MIT
-- 0003_secrets.sql (PostgreSQL) - per-owner named secrets (ciphertext only)
-- and their audit (twin of ../0003_secrets.sql). "user" is a reserved word
-- in PostgreSQL and is quoted wherever it is named.

CREATE TABLE secrets (
    owner       text NOT NULL CHECK (length(owner) > 0),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    version     bigint NOT NULL CHECK (version >= 1),
    blob        bytea NOT NULL,
    policy_json bytea,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    PRIMARY KEY (owner, name)
);

CREATE TABLE secret_audit (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner    text NOT NULL,
    name     text NOT NULL,
    job_id   text,
    "user"   text NOT NULL,
    version  bigint NOT NULL,
    outcome  text NOT NULL,
    reason   text NOT NULL,
    time_ms  bigint NOT NULL
);

CREATE INDEX secret_audit_owner_name ON secret_audit (owner, name, time_ms DESC);
