"""Benchmarks and measured runs against a real server (``python -m bench.<name>``)."""
