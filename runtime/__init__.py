"""What every process of a run shares: the platform module, run-state files, settings and logging."""
