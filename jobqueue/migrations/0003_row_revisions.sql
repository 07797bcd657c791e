-- Every write stamps its rows with a number from one sequence (writers hold the table lock, so the
-- numbers grow in commit order): a store re-reads only the rows past the last number it saw.
CREATE SEQUENCE po_rev;
ALTER TABLE po_jobs ADD COLUMN rev bigint NOT NULL DEFAULT 0;
CREATE INDEX po_jobs_rev ON po_jobs (rev);
