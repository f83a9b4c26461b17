-- SPDX-License-Identifier: MIT
-- 0006_storage_sealed_keys.sql - storage keys and namespace names sealed at
-- rest (docs/storage.md "Encryption at rest"), and per-owner totals for the
-- owner quotas.
-- A namespace is found by 'id' and an entry by 'id', keyed hashes of the
-- name and of the key (equality only); the name and the key themselves are
-- kept only sealed ('name', 'key': XChaCha20-Poly1305 whose AAD binds owner,
-- namespace and field). Values are the at-rest blobs of 0004, unchanged.
-- The rows of 0004's storage_namespaces and storage_entries are moved here
-- by the C step that follows this migration (sr_store_kv_upgrade, run by
-- sealrund at start with the keys), which then drops those tables.

CREATE TABLE storage_ns (
    owner      TEXT NOT NULL CHECK (length(owner) > 0),
    id         BLOB NOT NULL CHECK (length(id) = 32),
    name       BLOB NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 0),
    keys       INTEGER NOT NULL CHECK (keys >= 0),
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner, id)
) WITHOUT ROWID;

CREATE TABLE storage_kv (
    owner   TEXT NOT NULL,
    ns      BLOB NOT NULL CHECK (length(ns) = 32),
    id      BLOB NOT NULL CHECK (length(id) = 32),
    key     BLOB NOT NULL,
    value   BLOB NOT NULL,
    size    INTEGER NOT NULL CHECK (size > 0),
    version INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (owner, ns, id)
) WITHOUT ROWID;

CREATE TABLE storage_owners (
    owner      TEXT NOT NULL PRIMARY KEY,
    namespaces INTEGER NOT NULL CHECK (namespaces >= 0),
    bytes      INTEGER NOT NULL CHECK (bytes >= 0)
) WITHOUT ROWID;
