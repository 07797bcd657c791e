"""geelark package."""
