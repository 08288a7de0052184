"""Polling reconcile: re-read linked sessions from Chaster, for deployments without webhooks
and to catch deliveries that never arrived.

Each round reads the sessions with an open task first, then the others in turn, spread evenly
over `CHASTER_POLL_SECONDS`. A round reads at most half as many sessions as Chaster's rate limit
allows in that time, and its requests are background work, which the rate limiter keeps out of
the fifth of the limit reserved for commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from bot.chaster import RateLimiter
from bot.jobs.background import Background
from bot.store import Store

log = logging.getLogger(__name__)

# Share of Chaster's rate limit that polling may use; commands and webhooks keep the rest.
POLL_SHARE = 0.5


class SyncSession(Protocol):
    async def __call__(self, session_id: str, *, background: bool) -> None: ...


class Poller:
    """Calls `sync_session` for linked sessions, round after round."""

    def __init__(
        self,
        store: Store,
        limiter: RateLimiter,
        sync_session: SyncSession,
        interval_seconds: float,
    ) -> None:
        self._store = store
        self._limiter = limiter
        self._sync_session = sync_session
        self.interval = interval_seconds
        # Where the rotation through each group of sessions stopped last round.
        self._cursors: dict[str, int] = {}
        self._loop = Background("poller", self._run)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    def budget(self) -> int:
        """How many sessions one round may read."""
        per_second = self._limiter.limit / self._limiter.window
        return max(1, int(self.interval * per_second * POLL_SHARE))

    async def plan(self) -> list[str]:
        """This round's sessions: those with an open task first, then the rest.

        Both groups are read in turn from where the last round stopped, so when there are more
        sessions than one round may read, every one still comes round.
        """
        sessions = await self._store.linked_sessions()
        urgent = [session for session, has_open_task in sessions if has_open_task]
        rest = [session for session, has_open_task in sessions if not has_open_task]
        budget = self.budget()
        chosen = self._next(urgent, budget, "urgent")
        return chosen + self._next(rest, budget - len(chosen), "rest")

    def _next(self, sessions: list[str], count: int, group: str) -> list[str]:
        """Up to `count` sessions of `group`, continuing the rotation of earlier rounds."""
        if not sessions or count <= 0:
            return []
        start = self._cursors.get(group, 0) % len(sessions)
        taken = (sessions[start:] + sessions[:start])[:count]
        self._cursors[group] = start + len(taken)
        return taken

    async def run_round(self, *, spread: bool = True) -> int:
        """Read one round of sessions; with `spread`, pace them over the interval."""
        sessions = await self.plan()
        gap = self.interval / len(sessions) if sessions and spread else 0.0
        for session_id in sessions:
            started = time.monotonic()
            try:
                await self._sync_session(session_id, background=True)
            except Exception:
                log.exception("poll of session %s failed", session_id)
            await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))
        return len(sessions)

    async def _run(self) -> None:
        # The first round catches up at once with what changed while the bot was down.
        first = True
        while True:
            started = time.monotonic()
            count = await self.run_round(spread=not first)
            log.debug("poll round read %d sessions in %.1f s", count, time.monotonic() - started)
            if first:
                first = False
                await asyncio.sleep(self.interval)
            elif count == 0:
                await asyncio.sleep(self.interval)
