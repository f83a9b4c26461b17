-- SPDX-License-Identifier: MIT
-- 0019_workers.sql (PostgreSQL) - the twin of ../0019_workers.sql: one row
-- per worker token (its SHA-256), the key, measurement and attestation the
-- worker registered with, the operator's state (active, draining,
-- revoked) and its times (epoch ms).

CREATE TABLE workers (
    hash          bytea PRIMARY KEY CHECK (length(hash) = 32),
    name          text NOT NULL,
    state         text NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'draining', 'revoked')),
    created_at    bigint NOT NULL,
    public_key    text CHECK (public_key IS NULL OR length(public_key) = 64),
    measurement   text CHECK (measurement IS NULL OR length(measurement) = 64),
    attestation   text CHECK (attestation IS NULL OR attestation IN ('none', 'tdx')),
    version       text,
    registered_at bigint,
    seen_at       bigint,
    revoked_at    bigint
);
