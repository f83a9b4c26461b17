-- SPDX-License-Identifier: MIT
-- 0014_token_scopes.sql (PostgreSQL) - the twin of ../0014_token_scopes.sql:
-- a token's scopes (bit mask of enum sr_scope; existing tokens get every
-- scope but admin, 127) and its expiry (epoch ms; NULL never expires).

ALTER TABLE tokens ADD COLUMN scopes integer NOT NULL DEFAULT 127
    CHECK (scopes > 0 AND scopes < 256);
ALTER TABLE tokens ADD COLUMN expires_at bigint;
