-- SPDX-License-Identifier: MIT
-- 0002_modules.sql (PostgreSQL) - WebAssembly modules stored once by hash,
-- and the owners who uploaded them (twin of ../0002_modules.sql).

CREATE TABLE modules (
    hash       text PRIMARY KEY CHECK (length(hash) = 64),
    bytes      bytea NOT NULL,
    size       bigint NOT NULL,
    info_json  bytea NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE module_owners (
    owner      text NOT NULL CHECK (length(owner) > 0),
    hash       text NOT NULL REFERENCES modules (hash),
    created_at bigint NOT NULL,
    PRIMARY KEY (owner, hash)
);
