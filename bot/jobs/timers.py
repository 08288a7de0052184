"""Deadlines that outlive the process: task timers, link-request expiry, the end of votes,
task deadlines and their reminders, schedules and consequences.

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

from bot.core.chaster_errors import log_retry
from bot.core.chaster_history import ChasterHistory
from bot.core.consequences import Consequences
from bot.core.deadlines import TaskDeadlines
from bot.core.model import (
    Clock,
    Event,
    EventKind,
    LinkEvent,
    LinkEventKind,
    TaskEvent,
    VoteEvent,
    VoteEventKind,
)
from bot.core.proofs import Proofs
from bot.core.retention import Retention
from bot.core.schedules import Schedules
from bot.jobs.background import Background
from bot.store import LinkRequest, Store, Task

log = logging.getLogger(__name__)

# Wake at least this often, so a clock that jumps (suspend, NTP, a test) is noticed.
MAX_SLEEP_SECONDS = 1.0

Action = Callable[[], Awaitable[object]]
# How long after a failed try a vote's end, or a missed deadline, is tried again.
VOTE_RETRY = timedelta(seconds=30)
DEADLINE_RETRY = timedelta(seconds=30)


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

    def pending(self) -> list[str]:
        """The names of what is waiting, soonest first."""
        return [name for _, _, name, _ in sorted(self._heap)]

    def schedule(self, when: datetime, name: str, action: Action) -> None:
        heapq.heappush(self._heap, (when, next(self._order), name, action))
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_due(self) -> int:
        """Run every action whose time has come, in time order; how many ran."""
        ran = 0
        while self._heap and self._heap[0][0] <= self._clock():
            _, _, name, action = heapq.heappop(self._heap)
            ran += 1
            try:
                await action()
            except Exception:
                log.exception("deadline %s failed", name)
        return ran

    async def _run(self) -> None:
        while True:
            await self.run_due()
            delay = MAX_SLEEP_SECONDS
            if self._heap:
                delay = min(delay, max(0.0, (self._heap[0][0] - self._clock()).total_seconds()))
            self._wake.clear()
            # Not asyncio.wait_for: on Python 3.11 it can swallow a cancellation that comes
            # while the wake-up is being set, and then stop() would wait for ever.
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()


class Timers:
    """Schedules every deadline, from the store at start and from events after."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        deadlines: Deadlines,
        *,
        finish_timer: Callable[[int], Awaitable[Task | None]],
        expire_request: Callable[[int], Awaitable[LinkRequest | None]],
        end_vote: Callable[[int], Awaitable[object]],
        task_deadlines: TaskDeadlines,
        schedules: Schedules,
        consequences: Consequences,
        proofs: Proofs,
        retention: Retention,
        chaster_history: ChasterHistory,
    ) -> None:
        self._store = store
        self._clock = clock
        self._finish_timer = finish_timer
        self._expire_request = expire_request
        self._end_vote = end_vote
        self._task_deadlines = task_deadlines
        self._schedules = schedules
        self._consequences = consequences
        self._proofs = proofs
        self._retention = retention
        self._chaster_history = chaster_history
        # Shared with the core, which leaves its own follow-ups on it.
        self.deadlines = deadlines

    async def start(self) -> None:
        """Load every pending deadline (some may be overdue: they run at once) and start.

        What a crash left half done comes first: occasions in progress are settled (never
        fired again), consequences recorded but not known applied are applied or settled,
        photos on their way to a review are given up or settled from Chaster's history.
        """
        await self._schedules.settle_interrupted()
        await self._consequences.resume()
        try:
            await self._proofs.resume()
        except Exception:
            # Chaster down at start-up: the sweep settles them later.
            log.exception("photo reviews not settled at start-up")
        await self._chaster_history.resume()
        for task_id, ends_at in await self._store.pending_timer_deadlines():
            self._timer(task_id, ends_at)
        for request in await self._store.pending_link_requests():
            self._expiry(request.id, request.expires_at)
        for vote in await self._store.pending_votes():
            self._vote_end(vote.id, vote.ends_at)
        for task_id, deadline in await self._store.pending_deadlines():
            await self._deadline(task_id, deadline)
        for schedule in await self._store.active_schedules():
            self._schedules.wake(schedule.id, schedule.next_at)
        self._retention.wake()
        log.info("%d deadlines pending after start-up", len(self.deadlines))
        self.deadlines.start()

    async def stop(self) -> None:
        await self.deadlines.stop()

    async def on_event(self, event: Event) -> None:
        """A timer started, a task with a deadline was given (or reopened), a link request was
        made, a vote began, a pause ended: its deadline joins the others."""
        if isinstance(event, TaskEvent):
            task = event.task
            if event.kind is EventKind.TIMER_STARTED and task.timer_ends_at is not None:
                self._timer(task.id, task.timer_ends_at)
            reopened = event.kind is EventKind.CONFIRMATION_REJECTED
            if (event.kind is EventKind.ASSIGNED or reopened) and task.deadline_at is not None:
                await self._deadline(task.id, max(task.deadline_at, self._clock()))
        elif isinstance(event, VoteEvent):
            if event.kind is VoteEventKind.STARTED:
                self._vote_end(event.vote.id, event.vote.ends_at)
        elif isinstance(event, LinkEvent):
            if event.kind is LinkEventKind.REQUESTED and event.request is not None:
                self._expiry(event.request.id, event.request.expires_at)
            elif event.kind is LinkEventKind.RESUMED and event.link is not None:
                # The pause moved the open task's deadline later.
                open_task = await self._store.get_open_task(event.link.id)
                if open_task is not None and open_task.deadline_at is not None:
                    await self._deadline(open_task.id, open_task.deadline_at)

    def _timer(self, task_id: int, when: datetime) -> None:
        async def finish() -> None:
            await self._finish_timer(task_id)

        self.deadlines.schedule(when, f"timer of task {task_id}", finish)

    def _expiry(self, request_id: int, when: datetime) -> None:
        async def expire() -> None:
            await self._expire_request(request_id)

        self.deadlines.schedule(when, f"expiry of link request {request_id}", expire)

    async def _deadline(self, task_id: int, when: datetime) -> None:
        async def expire() -> None:
            try:
                await self._task_deadlines.expire(task_id)
            except Exception as error:
                # Chaster could not be told: the task stays open and is tried again (the
                # decision is recorded, so it ends as missed whatever happens meanwhile).
                log_retry(log, error, "the deadline of task %d could not be acted on", task_id)
                self.deadlines.schedule(
                    self._clock() + DEADLINE_RETRY, f"deadline of task {task_id}", expire
                )

        self.deadlines.schedule(when, f"deadline of task {task_id}", expire)
        due = await self._task_deadlines.reminder_of(task_id)
        if due is not None:
            self._reminder(task_id, due)

    def _reminder(self, task_id: int, when: datetime) -> None:
        async def remind() -> None:
            later = await self._task_deadlines.remind(task_id)
            if later is not None:
                self._reminder(task_id, later)

        self.deadlines.schedule(when, f"reminder of task {task_id}", remind)

    def _vote_end(self, vote_id: int, when: datetime) -> None:
        async def end() -> None:
            try:
                await self._end_vote(vote_id)
            except Exception as error:
                # Discord or Chaster could not be reached: the vote stays pending, and is
                # tried again; it ends once, whenever that is.
                log_retry(log, error, "the end of vote %d failed", vote_id)
                self._vote_end(vote_id, self._clock() + VOTE_RETRY)

        self.deadlines.schedule(when, f"end of vote {vote_id}", end)
