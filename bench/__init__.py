"""Benchmarks; see bench/_harness.py and BENCHMARKS.md."""
