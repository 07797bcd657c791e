-- The queue: one row per job, in the order jobs were added (position), holding the progress
-- file's cells; the accounts' blocks and cooldowns; every change in order (the journal).
CREATE TABLE po_jobs (
    position bigserial PRIMARY KEY,
    job_id text NOT NULL UNIQUE,
    account text NOT NULL,
    status text NOT NULL,
    cells text[] NOT NULL
);
-- One claimed job per account, held by the database itself.
CREATE UNIQUE INDEX po_one_claim_per_account ON po_jobs (account) WHERE status = 'claimed';
CREATE TABLE po_meta (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL,
    accounts text NOT NULL
);
INSERT INTO po_meta (id, version, accounts) VALUES (1, 0, '');
CREATE TABLE po_history (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    entry jsonb NOT NULL
);
