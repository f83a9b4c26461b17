-- SPDX-License-Identifier: MIT
-- 0001_init.sql - API tokens (SHA-256 only) and jobs.
--
-- Times are epoch milliseconds; NULL means "not yet" (started_at,
-- finished_at, revoked_at). Every job query filters on owner, so the list
-- index leads with it; (state, created_at) serves the restart scans
-- (running -> interrupted, queued -> resumed oldest first); expires_at
-- serves the purge.

CREATE TABLE tokens (
    hash       BLOB PRIMARY KEY CHECK (length(hash) = 32),
    owner      TEXT NOT NULL CHECK (length(owner) > 0),
    label      TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;

CREATE INDEX tokens_owner_created ON tokens (owner, created_at DESC);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY CHECK (length(id) = 32),
    owner        TEXT NOT NULL CHECK (length(owner) > 0),
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed')),
    runtime      TEXT NOT NULL,
    request_json TEXT,
    result_json  TEXT,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    expires_at   INTEGER NOT NULL
);

CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
CREATE INDEX jobs_state ON jobs (state, created_at);
CREATE INDEX jobs_expires ON jobs (expires_at);
