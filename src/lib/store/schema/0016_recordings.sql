-- SPDX-License-Identifier: MIT
-- 0016_recordings.sql - recorded jobs' recordings (docs/http.md "Record and
-- replay"): the base64 text of a box sealed to the job's record_pubkey,
-- which only its owner can open. A recording has its job's expiry and is
-- purged with the job (sr_store_jobs_purge). 'sha256' is the hex SHA-256 of
-- 'sealed', as the job's receipt states it.

CREATE TABLE recordings (
    job_id     TEXT PRIMARY KEY CHECK (length(job_id) = 32),
    owner      TEXT NOT NULL,
    sealed     TEXT NOT NULL,
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX recordings_expires ON recordings (expires_at);
