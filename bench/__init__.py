"""Benchmarks: `python -m bench.run` (see docs/performance.md). Not part of the installed package."""
