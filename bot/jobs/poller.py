"""Polling: a sweep of every linked session, round after round, for deployments without
webhooks and to catch deliveries that never arrived.

A round's requests are spread evenly over `CHASTER_POLL_SECONDS`, and at most half of Chaster's
rate limit goes to them whatever the interval; they are background work, which the rate limiter
serves after people's requests and keeps out of the fifth of the limit reserved for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.chaster import RateLimiter
from bot.core.sweep import Pace, SweepReport
from bot.jobs.background import Background

log = logging.getLogger(__name__)

# Share of Chaster's rate limit that polling may use; commands and webhooks keep the rest.
POLL_SHARE = 0.5

Sweeper = Callable[[Pace | None], Awaitable[SweepReport]]


class Poller:
    """Runs a sweep every `interval_seconds`: at once on start-up, then spread over each
    interval."""

    def __init__(
        self,
        sweep: Sweeper,
        limiter: RateLimiter,
        interval_seconds: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sweep = sweep
        self._limiter = limiter
        self.interval = interval_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._loop = Background("poller", self._run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def min_gap(self) -> float:
        """The shortest time between two of a round's requests: POLL_SHARE of the limit."""
        return self._limiter.window / (self._limiter.limit * POLL_SHARE)

    def gap(self, requests: int) -> float:
        """The time between two requests of a round of `requests` spread over the interval."""
        return max(self.interval / max(1, requests), self.min_gap())

    async def run_round(self, *, spread: bool = True) -> SweepReport:
        """Sweep once; with `spread`, its requests are paced evenly over the interval."""
        started = self._monotonic()

        async def pace(made: int, expected: int) -> None:
            await self._sleep(max(0.0, started + made * self.gap(expected) - self._monotonic()))

        return await self._sweep(pace if spread else None)

    async def _run(self) -> None:
        # The first round catches up at once with what changed while the bot was down.
        first = True
        while True:
            started = time.monotonic()
            try:
                report = await self.run_round(spread=not first)
            except Exception:
                log.exception("poll round failed")
                report = None
            log.debug("poll round: %s in %.1f s", report, time.monotonic() - started)
            if report is None or report.requests == 0:
                await self._sleep(self.interval)
            elif first:
                # The catch-up read every page at once. The next round reads its last page
                # a whole interval later, as every round after it does: each page comes round
                # once per interval, so a change in Chaster shows within one.
                await self._sleep(self.gap(report.requests))
            # A spread round lasts the interval already.
            first = False
