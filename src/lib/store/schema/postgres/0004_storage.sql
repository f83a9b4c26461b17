-- SPDX-License-Identifier: MIT
-- 0004_storage.sql (PostgreSQL) - nothing to create. In SQLite, 0004 made
-- storage tables with names and keys in clear, which 0006 replaced by sealed
-- ones (and a C step moves old rows). A PostgreSQL store is always created
-- by a sealrun that has 0006, so it never holds 0004's tables: its storage
-- tables are made by 0006 directly. The version exists so that both
-- dialects count the same versions.
SELECT 1;
