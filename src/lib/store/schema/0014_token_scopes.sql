-- SPDX-License-Identifier: MIT
-- 0014_token_scopes.sql - what a token may do, and until when
-- (docs/accounts.md#tokens-and-scopes). 'scopes' is a bit mask of enum
-- sr_scope (include/sealrun/sr_scope.h: execute 1, jobs:read 2,
-- secrets:write 4, secrets:read 8, storage:read 16, storage:write 32,
-- modules:write 64, admin 128). Tokens made before scopes existed get every
-- scope but admin (127), so nothing stored stops working; new tokens always
-- name their scopes. 'expires_at' is epoch ms; NULL never expires.

ALTER TABLE tokens ADD COLUMN scopes INTEGER NOT NULL DEFAULT 127
    CHECK (scopes > 0 AND scopes < 256);
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
