"""The rate limiter obeys the server's own count: no request goes while Chaster says none are
left, even when the limiter's own count of this client's requests would allow one (another
client may share the limit)."""

from __future__ import annotations

import asyncio
import time

from bot.chaster import RateLimiter

NOW = 1_700_000_000.0


def _headers(remaining: int, reset_in: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "100",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(NOW + reset_in),
    }


async def test_no_request_remaining_holds_the_next_one_until_the_reset() -> None:
    limiter = RateLimiter(wall_clock=lambda: NOW)
    async with limiter.slot():
        pass
    # One request of 100 used here, but the server counts none left for 0.3 s.
    limiter.observe(_headers(remaining=0, reset_in=0.3))
    assert limiter.used == 1
    started = time.monotonic()
    async with limiter.slot():
        waited = time.monotonic() - started
    assert waited >= 0.29


async def test_one_request_remaining_does_not_hold_the_next_one() -> None:
    limiter = RateLimiter(wall_clock=lambda: NOW)
    async with limiter.slot():
        pass
    limiter.observe(_headers(remaining=1, reset_in=30))
    # Acquired at once: a hold until the reset would outlast this wait by far.
    async with asyncio.timeout(5), limiter.slot():
        assert limiter.used == 2
