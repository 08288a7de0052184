"""What the Chaster client knows of the action a call serves: a short line for every call, for
the action's log entry; the server it is for, so servers take turns at the rate limit; and who to
tell when the rate limit will hold it long."""

from __future__ import annotations

import re
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.chaster.ratelimit import WaitNotice

# Chaster calls made on behalf of the current action, for its one-line log entry.
_recorded_calls: ContextVar[list[str] | None] = ContextVar("chaster_calls", default=None)
# The Discord server the current action is for (None: background work).
_server: ContextVar[Hashable] = ContextVar("chaster_server", default=None)
# Who to tell when the rate limit is expected to hold a call of the current action long.
_wait_notice: ContextVar[WaitNotice | None] = ContextVar("chaster_wait_notice", default=None)


@contextmanager
def record_calls(*, server: Hashable = None) -> Iterator[list[str]]:
    """Collect a short description of every Chaster call made inside the block, made for
    `server`."""
    calls: list[str] = []
    token = _recorded_calls.set(calls)
    server_token = _server.set(server)
    try:
        yield calls
    finally:
        _server.reset(server_token)
        _recorded_calls.reset(token)


def listen_for_long_waits(notice: WaitNotice) -> None:
    """For the rest of the current task, `notice` hears when the rate limit will hold one of
    its calls long. Call it at the start of a task that serves one person, such as a Discord
    interaction's: asyncio gives each task its own copy of these variables."""
    _wait_notice.set(notice)


def current_server() -> Hashable:
    return _server.get()


def current_wait_notice() -> WaitNotice | None:
    return _wait_notice.get()


def note_call(method: str, path: str, outcome: str, started: float) -> None:
    """Add one call to the current action's list, if one is being recorded."""
    calls = _recorded_calls.get()
    if calls is not None:
        # The endpoint without the session id: "GET sessions", "POST tasks/assign".
        endpoint = re.sub(r"^/api/extensions/sessions(/[^/]+)?/?", "", path) or "sessions"
        calls.append(f"{method} {endpoint} {outcome} {(time.monotonic() - started) * 1000:.0f}ms")
