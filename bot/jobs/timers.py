"""Deadlines that outlive the process: task timers, link-request expiry and the end of votes.

Every deadline lives in the database; this only decides when to look. One asyncio task sleeps
until the soonest deadline, so thousands of pending timers cost one heap, not one task each.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta

from bot.core.model import (
    Clock,
    Event,
    EventKind,
    LinkEventKind,
    TaskEvent,
    VoteEvent,
    VoteEventKind,
)
from bot.jobs.background import Background
from bot.store import LinkRequest, Store, Task

log = logging.getLogger(__name__)

# Wake at least this often, so a clock that jumps (suspend, NTP, a test) is noticed.
MAX_SLEEP_SECONDS = 1.0

Action = Callable[[], Awaitable[object]]
# How long after a failed try a vote's end is tried again.
VOTE_RETRY = timedelta(seconds=30)


class Deadlines:
    """Runs each scheduled action once its time has come, in time order."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int, str, Action]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._loop = Background("deadlines", self._run)

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, when: datetime, name: str, action: Action) -> None:
        heapq.heappush(self._heap, (when, next(self._order), name, action))
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            now = self._clock()
            while self._heap and self._heap[0][0] <= now:
                _, _, name, action = heapq.heappop(self._heap)
                try:
                    await action()
                except Exception:
                    log.exception("deadline %s failed", name)
            delay = MAX_SLEEP_SECONDS
            if self._heap:
                delay = min(delay, max(0.0, (self._heap[0][0] - self._clock()).total_seconds()))
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)


class Timers:
    """Schedules timer and expiry deadlines, from the store at start and from events after."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        finish_timer: Callable[[int], Awaitable[Task | None]],
        expire_request: Callable[[int], Awaitable[LinkRequest | None]],
        end_vote: Callable[[int], Awaitable[object]],
    ) -> None:
        self._store = store
        self._clock = clock
        self._finish_timer = finish_timer
        self._expire_request = expire_request
        self._end_vote = end_vote
        self.deadlines = Deadlines(clock)

    async def start(self) -> None:
        """Load every pending deadline (some may be overdue: they run at once) and start."""
        for task_id, ends_at in await self._store.pending_timer_deadlines():
            self._timer(task_id, ends_at)
        for request in await self._store.pending_link_requests():
            self._expiry(request.id, request.expires_at)
        for vote in await self._store.pending_votes():
            self._vote_end(vote.id, vote.ends_at)
        log.info("%d deadlines pending after start-up", len(self.deadlines))
        self.deadlines.start()

    async def stop(self) -> None:
        await self.deadlines.stop()

    async def on_event(self, event: Event) -> None:
        """A timer started or a link request was made: its deadline joins the others."""
        if isinstance(event, TaskEvent):
            ends_at = event.task.timer_ends_at
            if event.kind is EventKind.TIMER_STARTED and ends_at is not None:
                self._timer(event.task.id, ends_at)
        elif isinstance(event, VoteEvent):
            if event.kind is VoteEventKind.STARTED:
                self._vote_end(event.vote.id, event.vote.ends_at)
        elif event.kind is LinkEventKind.REQUESTED and event.request is not None:
            self._expiry(event.request.id, event.request.expires_at)

    def _timer(self, task_id: int, when: datetime) -> None:
        async def finish() -> None:
            await self._finish_timer(task_id)

        self.deadlines.schedule(when, f"timer of task {task_id}", finish)

    def _expiry(self, request_id: int, when: datetime) -> None:
        async def expire() -> None:
            await self._expire_request(request_id)

        self.deadlines.schedule(when, f"expiry of link request {request_id}", expire)

    def _vote_end(self, vote_id: int, when: datetime) -> None:
        async def end() -> None:
            try:
                await self._end_vote(vote_id)
            except Exception:
                # Discord or Chaster could not be reached: the vote stays pending, and is
                # tried again; it ends once, whenever that is.
                log.exception("the end of vote %d failed; trying again", vote_id)
                self._vote_end(vote_id, self._clock() + VOTE_RETRY)

        self.deadlines.schedule(when, f"end of vote {vote_id}", end)
