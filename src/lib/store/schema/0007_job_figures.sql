-- SPDX-License-Identifier: MIT
-- 0007_job_figures.sql - a finished job's figures in clear, for the
-- dashboard's Stats page (GET /stats) and the filters of GET /jobs: the
-- gas it used, the wall time of its run and its error code (one of the
-- fixed job codes, never a message). Like states and times they are not
-- user data: the queries sum and group on them (docs/security-model.md).
-- Jobs finished before this version have NULL figures.

ALTER TABLE jobs ADD COLUMN gas_used INTEGER;
ALTER TABLE jobs ADD COLUMN duration_us INTEGER;
ALTER TABLE jobs ADD COLUMN error_code TEXT;

CREATE INDEX jobs_owner_finished ON jobs (owner, finished_at);
