"""The web dashboard: a read-only page of the status document, `/api/status`, `/metrics`, the run's
logs under `/logs/`, and token-guarded actions (see `app.dashboard_app`)."""
