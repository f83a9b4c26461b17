-- SPDX-License-Identifier: MIT
-- 0017_money.sql - budgets, balances and the ledger (docs/accounts.md).
--
-- usage_days: what each subject ('u:' owner, or 't:' token id) used or
--   holds on one UTC day (day = epoch ms / 86400000): admission adds a
--   job's maximum, its end takes back what it did not use.
-- holds: one row per admitted job while budgets or prices are configured:
--   the maximum it may use and cost (reserved), settled exactly once at its
--   end (settled_at > 0; charged = what it cost).
-- accounts: each user's balance in micro-units, never negative.
-- ledger: append-only; every change of a balance is one row (delta), so
--   every balance is the sum of its rows' deltas. kinds: reservation
--   (delta -amount), charge (delta 0: the part of a reservation kept),
--   refund (delta +amount: the rest given back), credit (delta +amount).

CREATE TABLE usage_days (
    subject  TEXT NOT NULL,
    day      INTEGER NOT NULL,
    jobs     INTEGER NOT NULL DEFAULT 0 CHECK (jobs >= 0),
    gas_js   INTEGER NOT NULL DEFAULT 0 CHECK (gas_js >= 0),
    gas_wasm INTEGER NOT NULL DEFAULT 0 CHECK (gas_wasm >= 0),
    wall_ms  INTEGER NOT NULL DEFAULT 0 CHECK (wall_ms >= 0),
    http     INTEGER NOT NULL DEFAULT 0 CHECK (http >= 0),
    PRIMARY KEY (subject, day)
);

CREATE TABLE holds (
    job_id     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    token_id   TEXT NOT NULL,
    day        INTEGER NOT NULL,
    jobs       INTEGER NOT NULL,
    gas_js     INTEGER NOT NULL,
    gas_wasm   INTEGER NOT NULL,
    wall_ms    INTEGER NOT NULL,
    http       INTEGER NOT NULL,
    cost       INTEGER NOT NULL CHECK (cost >= 0),
    created_at INTEGER NOT NULL,
    settled_at INTEGER NOT NULL DEFAULT 0,
    charged    INTEGER NOT NULL DEFAULT 0 CHECK (charged >= 0 AND charged <= cost)
);
CREATE INDEX holds_open ON holds (settled_at, created_at);

CREATE TABLE accounts (
    owner      TEXT PRIMARY KEY,
    balance    INTEGER NOT NULL CHECK (balance >= 0),
    updated_at INTEGER NOT NULL
);

CREATE TABLE ledger (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    owner   TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('reservation', 'charge', 'refund', 'credit')),
    amount  INTEGER NOT NULL CHECK (amount >= 0),
    delta   INTEGER NOT NULL,
    balance INTEGER NOT NULL CHECK (balance >= 0),
    job_id  TEXT,
    actor   TEXT,
    note    TEXT,
    time_ms INTEGER NOT NULL
);
CREATE INDEX ledger_owner ON ledger (owner, id);
