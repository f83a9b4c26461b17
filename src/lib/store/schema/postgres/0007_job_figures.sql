-- SPDX-License-Identifier: MIT
-- 0007_job_figures.sql (PostgreSQL) - a finished job's figures in clear for
-- GET /stats and the filters of GET /jobs (twin of ../0007_job_figures.sql).

ALTER TABLE jobs ADD COLUMN gas_used bigint;
ALTER TABLE jobs ADD COLUMN duration_us bigint;
ALTER TABLE jobs ADD COLUMN error_code text;

CREATE INDEX jobs_owner_finished ON jobs (owner, finished_at);
