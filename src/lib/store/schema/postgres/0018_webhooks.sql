-- SPDX-License-Identifier: MIT
-- 0018_webhooks.sql - completion webhooks (docs/accounts.md#webhooks); the
-- same tables as the SQLite migration of this number, and the same purge.

CREATE TABLE webhooks (
    job_id       text PRIMARY KEY,
    owner        text NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     bigint NOT NULL DEFAULT 0,
    next_at      bigint NOT NULL,
    claim_holder text,
    claim_until  bigint NOT NULL DEFAULT 0,
    created_at   bigint NOT NULL
);
CREATE INDEX webhooks_due ON webhooks (state, next_at);
CREATE INDEX webhooks_owner ON webhooks (owner, state, claim_until);

CREATE TABLE webhook_attempts (
    job_id      text NOT NULL,
    attempt     bigint NOT NULL,
    owner       text NOT NULL,
    at          bigint NOT NULL,
    duration_ms bigint NOT NULL,
    status      bigint NOT NULL,
    error       text NOT NULL,
    PRIMARY KEY (job_id, attempt)
);

CREATE FUNCTION sealrun_webhooks_purge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_attempts WHERE job_id = OLD.id;
    DELETE FROM webhooks WHERE job_id = OLD.id;
    RETURN OLD;
END
$$;
CREATE TRIGGER jobs_webhooks_purge AFTER DELETE ON jobs
    FOR EACH ROW EXECUTE FUNCTION sealrun_webhooks_purge();
