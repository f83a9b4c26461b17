-- SPDX-License-Identifier: MIT
-- 0010_cluster.sql - one queue for several daemons (docs/cluster.md).
-- A running job carries a lease: the daemon holding it (lease_holder, its
-- random id), until when (lease_until, epoch ms; renewed while it runs) and
-- a fencing number (lease_fence) that grows by one with every claim or
-- take-over. A result is written only where holder and fence still match,
-- so a daemon whose lease was taken over writes nothing. Each daemon
-- records a heartbeat row with its worker key and measurement for /info.
-- The embedded SQLite store serves one daemon and keeps its in-process
-- queue; it has the same columns so that `sealrun store copy` moves rows
-- as they are.

ALTER TABLE jobs ADD COLUMN lease_holder TEXT;
ALTER TABLE jobs ADD COLUMN lease_fence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;

CREATE INDEX jobs_owner_state ON jobs (owner, state);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE daemons (
    id           TEXT PRIMARY KEY CHECK (length(id) = 32),
    public_key   TEXT NOT NULL,
    measurement  TEXT NOT NULL,
    version      TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX daemons_heartbeat ON daemons (heartbeat_at);

-- The owners' turns in the queue: when each owner last had a job claimed.
-- A claim serves the owner waiting longest first (round robin across
-- owners, as the in-process queue does), then that owner's oldest job.
CREATE TABLE queue_turns (
    owner         TEXT PRIMARY KEY,
    last_claim_at INTEGER NOT NULL
) WITHOUT ROWID;
