-- SPDX-License-Identifier: MIT
-- 0005_atrest_audit_modules.sql (PostgreSQL) - twin of
-- ../0005_atrest_audit_modules.sql: module claims with sizes and last use,
-- audit summaries and paging. There are no legacy clear rows to seal (see
-- 0001), so store_meta never gets the 'seal_legacy' flag here.

CREATE TABLE store_meta (
    key   text PRIMARY KEY,
    value bigint NOT NULL
);

ALTER TABLE module_owners ADD COLUMN size bigint NOT NULL DEFAULT 0;
ALTER TABLE module_owners ADD COLUMN last_used_at bigint NOT NULL DEFAULT 0;

CREATE INDEX module_owners_list ON module_owners (owner, created_at DESC, hash DESC);
CREATE INDEX module_owners_hash ON module_owners (hash);
CREATE INDEX module_owners_used ON module_owners (last_used_at);

ALTER TABLE secret_audit ADD COLUMN last_ms bigint;
UPDATE secret_audit SET last_ms = time_ms;
ALTER TABLE secret_audit ALTER COLUMN last_ms SET NOT NULL;
ALTER TABLE secret_audit ADD COLUMN count bigint NOT NULL DEFAULT 1 CHECK (count >= 1);
ALTER TABLE secret_audit ADD COLUMN window_ms bigint;

DROP INDEX secret_audit_owner_name;
CREATE INDEX secret_audit_page ON secret_audit (owner, name, id);
CREATE UNIQUE INDEX secret_audit_summary ON secret_audit (owner, name, "user", outcome, window_ms)
    WHERE window_ms IS NOT NULL;
CREATE INDEX secret_audit_window ON secret_audit (owner, "user", window_ms)
    WHERE window_ms IS NOT NULL;
CREATE INDEX secret_audit_last ON secret_audit (last_ms);
