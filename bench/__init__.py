"""Load benchmarks (scripts, not tests): see bench/run.py."""
