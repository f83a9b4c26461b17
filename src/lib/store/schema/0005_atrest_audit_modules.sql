-- SPDX-License-Identifier: MIT
-- 0005_atrest_audit_modules.sql - sealing at rest, audit summaries and
-- paging, module claims with sizes and last use.
--
-- At rest: from this version on, jobs.request_json and result_json,
-- modules.bytes and info_json and secrets.policy_json hold sealed blobs
-- (src/lib/store/store_seal.c). Rows an older sealrun wrote are sealed in
-- place by the first open that has the master keys (store_sqlite_seal.c),
-- in one transaction; store_meta 'seal_legacy' = 1 says that is still due.
-- A new database (no rows, no free pages that could hold old ones) has
-- nothing to seal and does not get the flag.

CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO store_meta (key, value)
    SELECT 'seal_legacy', 1
    WHERE (SELECT count(*) FROM jobs) + (SELECT count(*) FROM modules)
          + (SELECT count(*) FROM secrets) + (SELECT count(*) FROM secret_audit)
          + (SELECT freelist_count FROM pragma_freelist_count) > 0;

-- A claim counts its module's bytes plus the description's against the
-- owner's quota (size, in bytes of the clear text), and records its last
-- use for expiry. Uses before this version were never recorded, so existing
-- claims count as used now: an upgrade must not expire a module in use.
ALTER TABLE module_owners ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE module_owners ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
UPDATE module_owners SET
    size = (SELECT m.size + length(CAST(m.info_json AS BLOB)) FROM modules m
            WHERE m.hash = module_owners.hash),
    last_used_at = max(created_at, CAST(strftime('%s', 'now') AS INTEGER) * 1000);

CREATE INDEX module_owners_list ON module_owners (owner, created_at DESC, hash DESC);
CREATE INDEX module_owners_hash ON module_owners (hash);
CREATE INDEX module_owners_used ON module_owners (last_used_at);

-- The audit, rebuilt with ids that only grow (AUTOINCREMENT: the page
-- cursor), summaries of other users' denied attempts (count, first and
-- last time, the window they fall in) and the last time for retention.
CREATE TABLE secret_audit_v5 (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    owner     TEXT NOT NULL,
    name      TEXT NOT NULL,
    job_id    TEXT,
    user      TEXT NOT NULL,
    version   INTEGER NOT NULL,
    outcome   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    time_ms   INTEGER NOT NULL,
    last_ms   INTEGER NOT NULL,
    count     INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    window_ms INTEGER
);

INSERT INTO secret_audit_v5 (id, owner, name, job_id, user, version, outcome, reason, time_ms,
                             last_ms)
    SELECT id, owner, name, job_id, user, version, outcome, reason, time_ms, time_ms
    FROM secret_audit ORDER BY id;

DROP TABLE secret_audit;
ALTER TABLE secret_audit_v5 RENAME TO secret_audit;

CREATE INDEX secret_audit_page ON secret_audit (owner, name, id);
CREATE UNIQUE INDEX secret_audit_summary ON secret_audit (owner, name, user, outcome, window_ms)
    WHERE window_ms IS NOT NULL;
CREATE INDEX secret_audit_window ON secret_audit (owner, user, window_ms)
    WHERE window_ms IS NOT NULL;
CREATE INDEX secret_audit_last ON secret_audit (last_ms);
