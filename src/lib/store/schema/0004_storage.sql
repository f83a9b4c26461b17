-- SPDX-License-Identifier: MIT
-- 0004_storage.sql - persistent key-value storage for jobs (docs/storage.md).
-- A namespace belongs to one owner and has a version that goes up by one
-- with every committed write set (a job's, or one HTTP PUT/DELETE); its key
-- count and byte total (plaintext key + value bytes) enforce the quota.
-- Entries hold the key in clear (prefix listing needs it) and the value only
-- as an at-rest blob (zstd, then XChaCha20-Poly1305 whose AAD binds owner,
-- namespace, key and 'version', the namespace version that wrote it).

CREATE TABLE storage_namespaces (
    owner      TEXT NOT NULL CHECK (length(owner) > 0),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    version    INTEGER NOT NULL CHECK (version >= 0),
    keys       INTEGER NOT NULL CHECK (keys >= 0),
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (owner, name)
) WITHOUT ROWID;

CREATE TABLE storage_entries (
    owner     TEXT NOT NULL,
    namespace TEXT NOT NULL,
    key       BLOB NOT NULL CHECK (length(key) BETWEEN 1 AND 256),
    value     BLOB NOT NULL,
    size      INTEGER NOT NULL CHECK (size > 0),
    version   INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (owner, namespace, key)
) WITHOUT ROWID;
