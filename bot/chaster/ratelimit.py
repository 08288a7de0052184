"""Client-side pacing for Chaster's rate limit (documented: 100 requests per minute).

A burst is queued and paced instead of being answered with 429s. The limiter counts a request
against the window from the moment its response arrives, which is never earlier than the server
counted it, so a sliding or fixed window on the server is never exceeded. The server's
`X-RateLimit-*` headers correct the local picture: another client sharing the IP, or a window
other than the documented one.

Queued requests go in order of priority: a person's change to a task first, then what a person
is waiting to read, then background work (sweeps, sync), which also leaves a fifth of the window
to the others. Within one priority, servers take turns; and while more than one server uses
Chaster, none may hold more than four fifths of the window, so one server's burst holds another
server's command back by at most a slot or two. No request is ever dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

DEFAULT_LIMIT = 100
DEFAULT_WINDOW = 60.0
# Slack for clock granularity and latency when a window is measured from the headers.
WINDOW_MARGIN = 0.1
# A person whose request is expected to wait longer than this is told so.
LONG_WAIT_SECONDS = 10.0
# A server that asked for a slot this recently counts as sharing the limit with the others.
SHARING_SECONDS = 600.0


# Who holds the slots of requests the server counted but this limiter did not make.
OTHERS = "requests counted by the server"


class Priority(IntEnum):
    """Who waits for a request, most urgent first."""

    WRITE = 0  # assign, start-timer, complete: a person's change
    PERSON = 1  # a read a person is waiting for (status, link)
    BACKGROUND = 2  # sweeps and sync: nobody is waiting


# Told, once, how many seconds a queued request is expected to wait, when that is long.
WaitNotice = Callable[[float], None]


@dataclass(eq=False)
class _Waiter:
    priority: Priority
    server: Hashable
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RateLimiter:
    """Keeps at most `limit` requests in any `window` seconds, the most urgent first."""

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
        # Heap of (monotonic time, tie-breaker, server): when a finished request stops counting
        # against the window (a heap, because the window may shrink once the server's headers
        # have been read).
        self._cooling: list[tuple[float, int, Hashable]] = []
        self._tie = itertools.count()
        # Slots each server holds (in flight or cooling), and when each last asked for one.
        self._held: Counter[Hashable] = Counter()
        self._asked: dict[Hashable, float] = {}
        self._paused_until = 0.0
        # Until a first answer has shown the server's real limit, requests go one at a time:
        # a burst at start-up must not overrun a limit lower than the documented one.
        self._calibrated = False
        # Per priority, each server's queue; a dict keeps the servers' turn order.
        self._queues: dict[Priority, dict[Hashable, deque[_Waiter]]] = {p: {} for p in Priority}
        self._wake: asyncio.TimerHandle | None = None
        # Background work (polling) leaves this many slots to commands.
        self.reserve = max(1, limit // 5)

    @property
    def used(self) -> int:
        """Slots taken right now: requests in flight plus those still inside the window."""
        self._expire(self._clock())
        return self._in_flight + len(self._cooling)

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return sum(len(queue) for queues in self._queues.values() for queue in queues.values())

    @asynccontextmanager
    async def slot(
        self,
        priority: Priority = Priority.PERSON,
        *,
        server: Hashable = None,
        notice: WaitNotice | None = None,
    ) -> AsyncIterator[None]:
        """Wait for room in the window, then hold a slot for one request."""
        await self._acquire(priority, server, notice)
        try:
            yield
        finally:
            self._calibrated = True
            self._in_flight -= 1
            heapq.heappush(self._cooling, (self._clock() + self.window, next(self._tie), server))
            self._dispatch()

    def wake(self) -> None:
        """Look at the window again now (the clock moved on, or the server's view changed)."""
        self._dispatch()

    def expected_wait(self, priority: Priority = Priority.PERSON) -> float:
        """Seconds a request queued now at `priority` would wait, roughly (turns between
        servers aside)."""
        now = self._clock()
        self._expire(now)
        ahead = sum(
            len(queue) for p in Priority if p <= priority for queue in self._queues[p].values()
        )
        paused = max(0.0, self._paused_until - now)
        # Before the first answer, requests go one at a time only until it arrives (in a
        # moment), not one per window: the room to count with is the whole limit.
        room = self._room_for(priority) if self._calibrated else self.limit
        free = room - self.used
        if ahead < free:
            return paused
        # Every slot frees a window after its request: those cooling, then those in flight.
        frees = sorted(at for at, _, _ in self._cooling) + [now + self.window] * self._in_flight
        turn = ahead - max(0, free)
        if not frees:
            return paused
        rounds, index = divmod(turn, max(1, len(frees)))
        return max(paused, frees[index] - now + rounds * self.window)

    async def _acquire(
        self, priority: Priority, server: Hashable, notice: WaitNotice | None
    ) -> None:
        if server is not None:
            self._asked[server] = self._clock()
        if not self.waiting and self._has_room(priority, server):
            self._take(server)
            return
        if notice is not None:
            expected = self.expected_wait(priority)
            if expected > LONG_WAIT_SECONDS:
                notice(expected)
        waiter = _Waiter(priority, server)
        self._queues[priority].setdefault(server, deque()).append(waiter)
        self._dispatch()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Granted as the wait was cancelled: the slot was never used, so give it back.
                self._in_flight -= 1
                self._release_held(server)
                self._dispatch()
            else:
                self._withdraw(waiter)
            raise

    def _withdraw(self, waiter: _Waiter) -> None:
        queues = self._queues[waiter.priority]
        queue = queues.get(waiter.server)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del queues[waiter.server]

    def _next(self) -> _Waiter | None:
        """The waiter whose turn it is and who may go now: the most urgent priority, servers
        in turn, skipping a server that holds its share of the window."""
        for priority in Priority:
            for server, queue in self._queues[priority].items():
                if self._has_room(priority, server):
                    return queue[0]
        return None

    def _dispatch(self) -> None:
        """Grant slots to waiters in turn while there is room; else wake when there will be."""
        while (waiter := self._next()) is not None:
            queues = self._queues[waiter.priority]
            queue = queues.pop(waiter.server)
            queue.popleft()
            if queue:
                queues[waiter.server] = queue  # to the back of the servers' turn order
            if waiter.granted.done():  # cancelled while queued
                continue
            self._take(waiter.server)
            waiter.granted.set_result(None)
        if self.waiting:
            self._wake_later()

    def _take(self, server: Hashable) -> None:
        self._in_flight += 1
        self._held[server] += 1

    def _release_held(self, server: Hashable) -> None:
        self._held[server] -= 1
        if self._held[server] <= 0:
            del self._held[server]

    def _room_for(self, priority: Priority) -> int:
        if not self._calibrated:
            return 1
        if priority is Priority.BACKGROUND:
            return max(1, self.limit - self.reserve)
        return self.limit

    def _has_room(self, priority: Priority, server: Hashable = None) -> bool:
        now = self._clock()
        if now < self._paused_until or self.used >= self._room_for(priority):
            return False
        # While others share the limit, a server keeps to four fifths of the window.
        share = max(1, self.limit - self.reserve)
        return server is None or self._held[server] < share or not self._shared(server, now)

    def _shared(self, server: Hashable, now: float) -> bool:
        """Whether another server asked for a slot in the last SHARING_SECONDS."""
        for other, asked in list(self._asked.items()):
            if now - asked > SHARING_SECONDS:
                del self._asked[other]
            elif other != server:
                return True
        return False

    def _wake_later(self) -> None:
        """Dispatch again when the next slot leaves the window or the pause ends. A request in
        flight dispatches when it finishes, but the window may free a slot sooner."""
        now = self._clock()
        if now < self._paused_until:
            wake_at = self._paused_until
        elif self._cooling:
            wake_at = self._cooling[0][0]
        else:
            return
        if self._wake is not None:
            self._wake.cancel()
        self._wake = asyncio.get_running_loop().call_later(max(0.0, wake_at - now), self._dispatch)

    def _expire(self, now: float) -> None:
        while self._cooling and self._cooling[0][0] <= now:
            _, _, server = heapq.heappop(self._cooling)
            self._release_held(server)

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
        elif remaining is not None:
            self._count_others((limit if limit is not None else self.limit) - remaining)

    def _count_others(self, server_used: int) -> None:
        """The server counts more requests in its window than this limiter holds: another
        client's, or this bot's own before a restart (a new process starts with an empty
        window, and its start-up burst met a 429). The difference takes slots for a whole
        window from now, as if just made: never earlier than the server counted them."""
        missing = server_used - self.used
        if missing <= 0:
            return
        until = self._clock() + self.window
        for _ in range(missing):
            heapq.heappush(self._cooling, (until, next(self._tie), OTHERS))
            self._held[OTHERS] += 1

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
