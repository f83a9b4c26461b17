-- SPDX-License-Identifier: MIT
-- 0010_cluster.sql (PostgreSQL) - the cluster queue's leases and the
-- daemons' heartbeat rows (twin of ../0010_cluster.sql, which explains them).

ALTER TABLE jobs ADD COLUMN lease_holder text;
ALTER TABLE jobs ADD COLUMN lease_fence bigint NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until bigint;

CREATE INDEX jobs_owner_state ON jobs (owner, state);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE daemons (
    id           text PRIMARY KEY CHECK (length(id) = 32),
    public_key   text NOT NULL,
    measurement  text NOT NULL,
    version      text NOT NULL,
    started_at   bigint NOT NULL,
    heartbeat_at bigint NOT NULL
);

CREATE INDEX daemons_heartbeat ON daemons (heartbeat_at);

CREATE TABLE queue_turns (
    owner         text PRIMARY KEY,
    last_claim_at bigint NOT NULL
);
