-- SPDX-License-Identifier: MIT
-- 0016_recordings.sql (PostgreSQL) - recorded jobs' recordings (twin of
-- ../0016_recordings.sql, which explains them).

CREATE TABLE recordings (
    job_id     text PRIMARY KEY CHECK (length(job_id) = 32),
    owner      text NOT NULL,
    sealed     text NOT NULL,
    sha256     text NOT NULL CHECK (length(sha256) = 64),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX recordings_expires ON recordings (expires_at);
