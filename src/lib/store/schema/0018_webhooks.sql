-- SPDX-License-Identifier: MIT
-- 0018_webhooks.sql - completion webhooks (docs/accounts.md#webhooks). One
-- row per async job submitted with a callback_url (its URL stays in the
-- job's sealed request_json), due once the job has ended; one row per
-- delivery attempt. A daemon claims a webhook (claim_holder, claim_until)
-- for the time of one attempt, so each attempt is made by one daemon.
-- Times are epoch ms. Both go when their job is purged (the trigger).

CREATE TABLE webhooks (
    job_id       TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    claim_holder TEXT,
    claim_until  INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (state, next_at);
CREATE INDEX webhooks_owner ON webhooks (owner, state, claim_until);

CREATE TABLE webhook_attempts (
    job_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (job_id, attempt)
);

CREATE TRIGGER jobs_webhooks_purge AFTER DELETE ON jobs BEGIN
    DELETE FROM webhook_attempts WHERE job_id = old.id;
    DELETE FROM webhooks WHERE job_id = old.id;
END;
