"""The state view: the last Chaster state of each linked session, with when it was read.

Sweeps, single reads and webhook-triggered reads all feed it, so `/task status` can answer
without spending Chaster's rate limit, and concurrent reads of one session share one request.
Readings are ordered by when their request was sent, and every write to a session makes the
readings sent before it stale: the bot never acts on, or records, a state from before its own
change.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime

from bot.chaster import ChasterClient
from bot.chaster.state import ListedTask, LockState
from bot.core.model import Clock


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a request was sent: its place among this bot's reads and writes, and the time."""

    order: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Reading:
    """One session's lock as Chaster answered a request sent at `sent`."""

    session_id: str
    lock: LockState
    sent: Stamp

    @property
    def read_at(self) -> datetime:
        return self.sent.at


class StateView:
    def __init__(self, chaster: ChasterClient, clock: Clock) -> None:
        self._chaster = chaster
        self._clock = clock
        self._order = itertools.count()
        self._readings: dict[str, Reading] = {}
        # The order of the last write to each session: readings sent before it are stale.
        self._written: dict[str, int] = {}
        # Reads in flight, by session and whether they are background work.
        self._reading: dict[tuple[str, bool], asyncio.Task[Reading]] = {}
        # Each lock's own task list as last read. Kept apart from the readings: the bot's
        # writes (assign, complete) change the task, never the list, so they leave it known.
        self._task_lists: dict[str, tuple[ListedTask, ...]] = {}
        chaster.on_write(self.wrote)

    def __len__(self) -> int:
        return len(self._readings)

    def stamp(self) -> Stamp:
        """Take just before sending a request whose answer will be offered."""
        return Stamp(next(self._order), self._clock())

    def wrote(self, session_id: str) -> None:
        """A write to the session went out (whatever its outcome)."""
        self._written[session_id] = next(self._order)
        self._readings.pop(session_id, None)

    def forget(self, session_id: str) -> None:
        """The session is no longer linked anywhere."""
        self._readings.pop(session_id, None)
        self._written.pop(session_id, None)
        self._task_lists.pop(session_id, None)

    def keep_only(self, session_ids: set[str]) -> None:
        """Drop what is held of sessions no longer linked."""
        for session_id in [sid for sid in self._readings if sid not in session_ids]:
            del self._readings[session_id]
        for session_id in [sid for sid in self._written if sid not in session_ids]:
            del self._written[session_id]
        for session_id in [sid for sid in self._task_lists if sid not in session_ids]:
            del self._task_lists[session_id]

    def is_stale(self, reading: Reading) -> bool:
        """Whether a write to the session went out after the reading's request was sent."""
        return reading.sent.order < self._written.get(reading.session_id, -1)

    def offer(self, reading: Reading) -> Reading | None:
        """Keep `reading` unless a newer one is held. The newest usable reading of the
        session: the held one when newer, else `reading`, or None when it is stale (a write
        went out after it was sent)."""
        held = self._readings.get(reading.session_id)
        if held is not None and held.sent.order > reading.sent.order:
            return held
        tasks = reading.lock.tasks
        self._task_lists[reading.session_id] = tasks.task_list if tasks is not None else ()
        if self.is_stale(reading):
            return None
        self._readings[reading.session_id] = reading
        return reading

    def fresh(self, session_id: str, within: float) -> Reading | None:
        """The held reading when it is at most `within` seconds old and not stale."""
        held = self._readings.get(session_id)
        if held is None or self.is_stale(held):
            return None
        if (self._clock() - held.read_at).total_seconds() > within:
            return None
        return held

    def task_list(self, session_id: str) -> tuple[ListedTask, ...]:
        """The lock's own task list as last read (empty when it was never read): local, so
        it can answer while someone types."""
        return self._task_lists.get(session_id, ())

    async def read(
        self, session_id: str, *, within: float = 0.0, background: bool = False
    ) -> Reading:
        """The session's lock, from a reading at most `within` seconds old or from Chaster.

        With `within` > 0 a read already in flight is shared (a background caller shares any;
        a person shares only a person's, which the rate limiter serves first). With 0 the
        answer comes from a request sent now, after whatever made the caller ask.
        """
        if within <= 0:
            return await self._fetch(session_id, background)
        if (held := self.fresh(session_id, within)) is not None:
            return held
        for shared_background in (False, True) if background else (False,):
            shared = self._reading.get((session_id, shared_background))
            if shared is not None:
                return await asyncio.shield(shared)
        # Shared by whoever asks meanwhile, so one caller giving up does not fail the others.
        key = (session_id, background)
        fetch = asyncio.ensure_future(self._fetch(session_id, background))
        self._reading[key] = fetch
        fetch.add_done_callback(lambda _: self._done_reading(key, fetch))
        return await asyncio.shield(fetch)

    def _done_reading(self, key: tuple[str, bool], fetch: asyncio.Task[Reading]) -> None:
        if self._reading.get(key) is fetch:
            del self._reading[key]
        if not fetch.cancelled():
            fetch.exception()  # retrieved: every sharer has seen it, or none was left

    async def _fetch(self, session_id: str, background: bool) -> Reading:
        sent = self.stamp()
        session = await self._chaster.get_session(session_id, background=background)
        reading = Reading(session_id, LockState.of(session.lock), sent)
        return self.offer(reading) or reading
