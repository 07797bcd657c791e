"""The run engine: prepare (lock, recovery, seeding, simulator), start and supervise the workers,
stop everything we started, `--stop-all`. Decisions are pure (`supervision`, `stuck`); the rest
applies them to real processes and phones."""
