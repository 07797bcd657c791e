"""Benchmarks (not tests): run the scripts, e.g. `python bench/fleet.py`."""
