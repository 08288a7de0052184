"""Settings shared by every test."""

from __future__ import annotations

from hypothesis import settings

# Property-based tests must give CI the same verdict every run: a fixed walk through the
# examples, no example database carried between runs, no timing flakes on a slow runner.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=60,
    print_blob=True,
)
settings.load_profile("ci")
