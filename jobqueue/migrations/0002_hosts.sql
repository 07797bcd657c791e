-- Several PCs on one queue: each running orchestrator keeps a row here, its heartbeat in seen_at
-- (the database's clock: PCs' clocks may differ). A PC silent for longer than the lease has its
-- claims recovered by any other. stop_requested_at: `--stop-all --fleet` asks every PC to stop.
CREATE TABLE po_hosts (
    host text PRIMARY KEY,
    folder text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE po_meta ADD COLUMN stop_requested_at timestamptz;
