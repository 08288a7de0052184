"""Client-side pacing for Chaster's rate limit (documented: 100 requests per minute).

A burst is queued and paced instead of being answered with 429s. The limiter counts a request
against the window from the moment its response arrives, which is never earlier than the server
counted it, so a sliding or fixed window on the server is never exceeded. The server's
`X-RateLimit-*` headers correct the local picture: another client sharing the IP, or a window
other than the documented one.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from datetime import datetime

DEFAULT_LIMIT = 100
DEFAULT_WINDOW = 60.0
# Slack for clock granularity and latency when a window is measured from the headers.
WINDOW_MARGIN = 0.1


class RateLimiter:
    """Keeps at most `limit` requests in any `window` seconds, commands before background work."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window: float = DEFAULT_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._wall_clock = wall_clock
        self._in_flight = 0
        # Heap of monotonic times at which a finished request stops counting against the window
        # (a heap, because the window may shrink once the server's headers have been read).
        self._cooling: list[float] = []
        self._paused_until = 0.0
        # Until a first answer has shown the server's real limit, requests go one at a time:
        # a burst at start-up must not overrun a limit lower than the documented one.
        self._calibrated = False
        self._changed = asyncio.Condition()
        # Background work (polling) leaves this many slots to commands.
        self.reserve = max(1, limit // 5)

    @property
    def used(self) -> int:
        """Slots taken right now: requests in flight plus those still inside the window."""
        self._expire(self._clock())
        return self._in_flight + len(self._cooling)

    @asynccontextmanager
    async def slot(self, *, background: bool = False) -> AsyncIterator[None]:
        """Wait for room in the window, then hold a slot for one request."""
        await self._acquire(background)
        try:
            yield
        finally:
            self._calibrated = True
            self._in_flight -= 1
            heapq.heappush(self._cooling, self._clock() + self.window)
            async with self._changed:
                self._changed.notify_all()

    async def _acquire(self, background: bool) -> None:
        headroom = self.reserve if background else 0
        async with self._changed:
            while True:
                now = self._clock()
                self._expire(now)
                room = self.limit - headroom if self._calibrated else 1
                if now >= self._paused_until and self.used < room:
                    self._in_flight += 1
                    return
                wake_at = self._paused_until if now < self._paused_until else None
                if wake_at is None and self._cooling:
                    wake_at = self._cooling[0]
                timeout = None if wake_at is None else max(0.0, wake_at - now)
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout)

    def _expire(self, now: float) -> None:
        while self._cooling and self._cooling[0] <= now:
            heapq.heappop(self._cooling)

    def pause_for(self, seconds: float) -> None:
        """Hold every request for `seconds` (after a 429 without usable headers)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adjust to the server's view from `X-RateLimit-Limit/-Remaining/-Reset`."""
        limit = _int(headers.get("x-ratelimit-limit"))
        if limit is not None and 0 < limit < self.limit:
            self.limit = limit
            self.reserve = max(1, limit // 5)
        remaining = _int(headers.get("x-ratelimit-remaining"))
        reset_in = self.seconds_until_reset(headers)
        if reset_in is None:
            return
        # The first request of a window resets a whole window later: that measures the
        # server's real window, which may be shorter than the documented minute.
        first_of_window = remaining is not None and limit is not None and remaining == limit - 1
        if first_of_window and 0 < reset_in <= DEFAULT_WINDOW:
            self.window = reset_in + WINDOW_MARGIN
        if remaining is not None and remaining <= 0:
            self.pause_for(reset_in)

    def seconds_until_reset(self, headers: Mapping[str, str]) -> float | None:
        """`X-RateLimit-Reset` as seconds from now; it may be epoch s or ms, ISO, or a delta."""
        raw = headers.get("x-ratelimit-reset")
        if raw is None:
            return None
        number = _float(raw)
        now = self._wall_clock()
        if number is None:
            try:
                return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() - now
            except ValueError:
                return None
        if number > 1e12:
            return number / 1000 - now
        if number > 1e9:
            return number - now
        return number


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _float(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None
