"""Benchmarks: run one with ``python -m bench.<name>``; see docs/performance.md."""
