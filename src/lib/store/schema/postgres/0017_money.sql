-- SPDX-License-Identifier: MIT
-- 0017_money.sql (PostgreSQL) - the twin of ../0017_money.sql: budgets'
-- daily usage, the holds of admitted jobs, balances and the append-only
-- ledger (docs/accounts.md).

CREATE TABLE usage_days (
    subject  text NOT NULL,
    day      bigint NOT NULL,
    jobs     bigint NOT NULL DEFAULT 0 CHECK (jobs >= 0),
    gas_js   bigint NOT NULL DEFAULT 0 CHECK (gas_js >= 0),
    gas_wasm bigint NOT NULL DEFAULT 0 CHECK (gas_wasm >= 0),
    wall_ms  bigint NOT NULL DEFAULT 0 CHECK (wall_ms >= 0),
    http     bigint NOT NULL DEFAULT 0 CHECK (http >= 0),
    PRIMARY KEY (subject, day)
);

CREATE TABLE holds (
    job_id     text PRIMARY KEY,
    owner      text NOT NULL,
    token_id   text NOT NULL,
    day        bigint NOT NULL,
    jobs       bigint NOT NULL,
    gas_js     bigint NOT NULL,
    gas_wasm   bigint NOT NULL,
    wall_ms    bigint NOT NULL,
    http       bigint NOT NULL,
    cost       bigint NOT NULL CHECK (cost >= 0),
    created_at bigint NOT NULL,
    settled_at bigint NOT NULL DEFAULT 0,
    charged    bigint NOT NULL DEFAULT 0 CHECK (charged >= 0 AND charged <= cost)
);
CREATE INDEX holds_open ON holds (settled_at, created_at);

CREATE TABLE accounts (
    owner      text PRIMARY KEY,
    balance    bigint NOT NULL CHECK (balance >= 0),
    updated_at bigint NOT NULL
);

CREATE TABLE ledger (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner   text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('reservation', 'charge', 'refund', 'credit')),
    amount  bigint NOT NULL CHECK (amount >= 0),
    delta   bigint NOT NULL,
    balance bigint NOT NULL CHECK (balance >= 0),
    job_id  text,
    actor   text,
    note    text,
    time_ms bigint NOT NULL
);
CREATE INDEX ledger_owner ON ledger (owner, id);
