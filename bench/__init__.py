"""Benchmarks: the real bot (`python -m bot`) against the in-process fakes, next to a floor bot.

Run with `python -m bench` (see bench/README.md).
"""
