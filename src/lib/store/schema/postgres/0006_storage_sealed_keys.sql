-- SPDX-License-Identifier: MIT
-- 0006_storage_sealed_keys.sql (PostgreSQL) - storage namespaces and
-- entries by keyed-hash ids with names and keys sealed, and per-owner
-- totals (twin of ../0006_storage_sealed_keys.sql; nothing to move, see 0004).

CREATE TABLE storage_ns (
    owner      text NOT NULL CHECK (length(owner) > 0),
    id         bytea NOT NULL CHECK (length(id) = 32),
    name       bytea NOT NULL,
    version    bigint NOT NULL CHECK (version >= 0),
    keys       bigint NOT NULL CHECK (keys >= 0),
    bytes      bigint NOT NULL CHECK (bytes >= 0),
    updated_at bigint NOT NULL,
    PRIMARY KEY (owner, id)
);

CREATE TABLE storage_kv (
    owner   text NOT NULL,
    ns      bytea NOT NULL CHECK (length(ns) = 32),
    id      bytea NOT NULL CHECK (length(id) = 32),
    key     bytea NOT NULL,
    value   bytea NOT NULL,
    size    bigint NOT NULL CHECK (size > 0),
    version bigint NOT NULL CHECK (version >= 1),
    PRIMARY KEY (owner, ns, id)
);

CREATE TABLE storage_owners (
    owner      text NOT NULL PRIMARY KEY,
    namespaces bigint NOT NULL CHECK (namespaces >= 0),
    bytes      bigint NOT NULL CHECK (bytes >= 0)
);
