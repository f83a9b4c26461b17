-- SPDX-License-Identifier: MIT
-- 0008_audit_code_identity.sql - every audit row names the code identity of
-- the job that asked: the SHA-256 of its script or module and the entry
-- point it called (NULL: the runtime's default, main or _start), so that the
-- owner of a secret bound with code_hashes and entry_points can see exactly
-- which code used it (docs/secrets.md). A summary of denied attempts keeps
-- its latest attempt's. Rows written before this version have NULLs.

ALTER TABLE secret_audit ADD COLUMN code_hash TEXT;
ALTER TABLE secret_audit ADD COLUMN entry_point TEXT;
