-- SPDX-License-Identifier: MIT
-- 0001_init.sql (PostgreSQL) - API tokens (SHA-256 only) and jobs; the
-- twin of ../0001_init.sql with the same tables, columns and indexes.
-- Times are epoch milliseconds (bigint); NULL means "not yet". Sealed
-- columns are bytea from the start (a PostgreSQL store never held clear
-- rows: it exists only in versions that seal at rest).

CREATE TABLE tokens (
    hash       bytea PRIMARY KEY CHECK (length(hash) = 32),
    owner      text NOT NULL CHECK (length(owner) > 0),
    label      text,
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE INDEX tokens_owner_created ON tokens (owner, created_at DESC);

CREATE TABLE jobs (
    id           text PRIMARY KEY CHECK (length(id) = 32),
    owner        text NOT NULL CHECK (length(owner) > 0),
    state        text NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed')),
    runtime      text NOT NULL,
    request_json bytea,
    result_json  bytea,
    created_at   bigint NOT NULL,
    started_at   bigint,
    finished_at  bigint,
    expires_at   bigint NOT NULL
);

CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
CREATE INDEX jobs_state ON jobs (state, created_at);
CREATE INDEX jobs_expires ON jobs (expires_at);
