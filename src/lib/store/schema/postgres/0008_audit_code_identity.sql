-- SPDX-License-Identifier: MIT
-- 0008_audit_code_identity.sql (PostgreSQL) - twin of
-- ../0008_audit_code_identity.sql: every audit row names the code identity
-- (code hash and entry point) of the job that asked.

ALTER TABLE secret_audit ADD COLUMN code_hash text;
ALTER TABLE secret_audit ADD COLUMN entry_point text;
