"""The orchestrator's doors to the outside: the queue store and GeeLark, opened from the settings."""
