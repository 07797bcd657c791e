-- The phones the workers of every PC started and have not stopped yet (each PC keeps its own file
-- ledger too): a PC that went silent leaves its phones here, and `--stop-all` on any other PC stops
-- them. A row belongs to the worker that started the phone last (host, worker_id).
CREATE TABLE po_phones (
    phone_id text PRIMARY KEY,
    account text NOT NULL,
    host text NOT NULL,
    worker_id integer,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
