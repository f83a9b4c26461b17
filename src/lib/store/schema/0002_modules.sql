-- SPDX-License-Identifier: MIT
-- 0002_modules.sql - WebAssembly modules, stored once by SHA-256 (hex) and
-- usable by every owner who uploaded them (module_owners). Lookups always
-- go through module_owners with the caller's owner, so a module another
-- user uploaded is "not found" for you until you upload it too.

CREATE TABLE modules (
    hash       TEXT PRIMARY KEY CHECK (length(hash) = 64),
    bytes      BLOB NOT NULL,
    size       INTEGER NOT NULL,
    info_json  TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE module_owners (
    owner      TEXT NOT NULL CHECK (length(owner) > 0),
    hash       TEXT NOT NULL REFERENCES modules (hash),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner, hash)
) WITHOUT ROWID;
