"""Call recording: a short line for every Chaster call an action makes, for its log entry."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# Chaster calls made on behalf of the current action, for its one-line log entry.
_recorded_calls: ContextVar[list[str] | None] = ContextVar("chaster_calls", default=None)


@contextmanager
def record_calls() -> Iterator[list[str]]:
    """Collect a short description of every Chaster call made inside the block."""
    calls: list[str] = []
    token = _recorded_calls.set(calls)
    try:
        yield calls
    finally:
        _recorded_calls.reset(token)


def note_call(method: str, path: str, outcome: str, started: float) -> None:
    """Add one call to the current action's list, if one is being recorded."""
    calls = _recorded_calls.get()
    if calls is not None:
        # The endpoint without the session id: "GET sessions", "POST tasks/assign".
        endpoint = re.sub(r"^/api/extensions/sessions(/[^/]+)?/?", "", path) or "sessions"
        calls.append(f"{method} {endpoint} {outcome} {(time.monotonic() - started) * 1000:.0f}ms")
