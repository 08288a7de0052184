"""The rate limiter obeys the server's own count: no request goes while Chaster says none are
left, even when the limiter's own count of this client's requests would allow one (another
client may share the limit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.chaster import Priority, RateLimiter
from bot.chaster.ratelimit import LONG_WAIT_SECONDS, SHARING_SECONDS

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
        # The server's 99 (another client's 98 among them), and this one.
        assert limiter.used == 100


class _Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _full_limiter(ticks: _Ticks, *, limit: int = 1) -> RateLimiter:
    """A calibrated limiter with a 10 s window whose `limit` slots were all just used."""
    limiter = RateLimiter(limit=limit, window=10.0, clock=ticks, wall_clock=lambda: NOW)
    for _ in range(limit):
        async with limiter.slot():
            pass
    return limiter


async def _served_in_order(
    limiter: RateLimiter, ticks: _Ticks, requests: list[tuple[str, Priority, int | None]]
) -> list[str]:
    """Queue every request, then let the window free one slot at a time; the order served."""
    served: list[str] = []

    async def request(name: str, priority: Priority, server: int | None) -> None:
        async with limiter.slot(priority, server=server):
            served.append(name)

    tasks = [asyncio.create_task(request(*r)) for r in requests]
    await asyncio.sleep(0)  # every request is queued before the first slot frees
    assert limiter.waiting == len(requests)
    while len(served) < len(requests):
        before = len(served)
        ticks.now += 10.0
        limiter.wake()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(served) == before + 1, "one slot freed, one request served"
    await asyncio.gather(*tasks)
    return served


async def test_writes_go_before_a_persons_reads_and_those_before_background_work() -> None:
    ticks = _Ticks()
    limiter = await _full_limiter(ticks)
    order = await _served_in_order(
        limiter,
        ticks,
        [
            ("sweep", Priority.BACKGROUND, None),
            ("status", Priority.PERSON, 1),
            ("assign", Priority.WRITE, 1),
            ("link", Priority.PERSON, 2),
            ("complete", Priority.WRITE, 2),
        ],
    )
    assert order == ["assign", "complete", "status", "link", "sweep"]


async def test_servers_take_turns_so_one_burst_does_not_hold_back_another_server() -> None:
    ticks = _Ticks()
    limiter = await _full_limiter(ticks)
    burst = [(f"a{n}", Priority.PERSON, 1) for n in range(6)]
    order = await _served_in_order(
        limiter, ticks, [*burst, ("b0", Priority.PERSON, 2), ("c0", Priority.PERSON, 3)]
    )
    # Server 2 and 3 each queued behind six of server 1's requests, yet wait for one at most.
    assert order[:4] == ["a0", "b0", "c0", "a1"]
    assert order[4:] == ["a2", "a3", "a4", "a5"]


async def test_background_work_leaves_the_reserve_to_people() -> None:
    ticks = _Ticks()
    limiter = RateLimiter(limit=10, window=10.0, clock=ticks, wall_clock=lambda: NOW)
    async with limiter.slot():
        pass  # calibrated; 1 of 10 used
    held: list[asyncio.Task[None]] = []
    release = asyncio.Event()

    async def hold(priority: Priority) -> None:
        async with limiter.slot(priority):
            await release.wait()

    for _ in range(7):
        held.append(asyncio.create_task(hold(Priority.BACKGROUND)))
    await asyncio.sleep(0)
    assert limiter.used == 8  # the reserve is 2 of 10: background work stops here
    held.append(asyncio.create_task(hold(Priority.BACKGROUND)))
    await asyncio.sleep(0)
    assert limiter.used == 8 and limiter.waiting == 1
    async with asyncio.timeout(1), limiter.slot(Priority.PERSON):
        assert limiter.used == 9
    release.set()
    await asyncio.gather(*held[:7])
    held[-1].cancel()
    await asyncio.gather(held[-1], return_exceptions=True)
    assert limiter.waiting == 0


async def test_a_cancelled_wait_gives_its_turn_to_the_next_request() -> None:
    ticks = _Ticks()
    limiter = await _full_limiter(ticks)
    served: list[str] = []

    async def request(name: str) -> None:
        async with limiter.slot(Priority.PERSON, server=1):
            served.append(name)

    first = asyncio.create_task(request("first"))
    second = asyncio.create_task(request("second"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    ticks.now += 10.0
    limiter.wake()
    await asyncio.wait_for(second, 1)
    assert served == ["second"]
    assert limiter.waiting == 0


async def test_a_person_is_told_when_the_wait_will_be_long() -> None:
    ticks = _Ticks()
    limiter = await _full_limiter(ticks, limit=2)
    told: list[float] = []

    async def request(notice: Callable[[float], None] | None) -> None:
        async with limiter.slot(Priority.PERSON, server=1, notice=notice):
            pass

    short = asyncio.create_task(request(told.append))
    await asyncio.sleep(0)
    assert told == []  # the next slot frees within the 10 s window: not long
    ticks.now += 5.0
    long_ones = [asyncio.create_task(request(told.append)) for _ in range(3)]
    await asyncio.sleep(0)
    # Both slots free in 5 s: the first of the three goes then, behind the one queued before;
    # the other two need a slot used again, a window later.
    assert told == [15.0, 15.0]
    assert told[0] > LONG_WAIT_SECONDS
    for _ in range(4):
        ticks.now += 10.0
        limiter.wake()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(short, *long_ones), 1)


async def test_while_servers_share_the_limit_none_takes_more_than_its_share_of_the_window() -> None:
    ticks = _Ticks()
    limiter = RateLimiter(limit=10, window=10.0, clock=ticks, wall_clock=lambda: NOW)
    async with limiter.slot(server=2):
        pass  # server 2 uses Chaster too (and calibrates the limiter); 1 of 10 used
    served: list[int] = []

    async def request(server: int) -> None:
        async with limiter.slot(Priority.PERSON, server=server):
            served.append(server)

    burst = [asyncio.create_task(request(1)) for _ in range(9)]
    await asyncio.sleep(0)
    # Server 1 stops at its four fifths (8 of 10), though the window has room for one more...
    assert served == [1] * 8 and limiter.waiting == 1
    # ...which server 2 gets at once, however long server 1's queue.
    async with asyncio.timeout(1), limiter.slot(Priority.PERSON, server=2):
        assert limiter.used == 10
    ticks.now += 10.0
    limiter.wake()
    await asyncio.wait_for(asyncio.gather(*burst), 1)
    assert served == [1] * 9


async def test_a_server_alone_may_use_the_whole_window() -> None:
    ticks = _Ticks()
    limiter = RateLimiter(limit=10, window=10.0, clock=ticks, wall_clock=lambda: NOW)
    async with limiter.slot(server=1):
        pass
    for _ in range(9):
        async with asyncio.timeout(1), limiter.slot(Priority.PERSON, server=1):
            pass
    assert limiter.used == 10
    # Another server that asked long ago no longer counts as sharing.
    ticks.now += 20.0
    async with limiter.slot(server=2):
        pass
    ticks.now += SHARING_SECONDS + 1
    for _ in range(9):
        async with asyncio.timeout(1), limiter.slot(Priority.PERSON, server=1):
            pass
    assert limiter.used == 9


async def test_before_the_first_answer_a_queued_person_is_not_told_of_a_wait_of_minutes() -> None:
    # Found by the soak: 24 /link commands at start-up, while the first request was still on
    # its way, were told they would wait 1, 2, 3... minutes; they went through in a second,
    # once the first answer had shown the limit.
    ticks = _Ticks()
    limiter = RateLimiter(limit=100, window=60.0, clock=ticks, wall_clock=lambda: NOW)
    told: list[float] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with limiter.slot(Priority.PERSON, server=1):
            first_in.set()
            await release.wait()

    async def queued() -> None:
        async with limiter.slot(Priority.PERSON, server=1, notice=told.append):
            pass

    holder = asyncio.create_task(first())
    await first_in.wait()
    others = [asyncio.create_task(queued()) for _ in range(5)]
    await asyncio.sleep(0)
    assert limiter.waiting == 5  # one at a time until the first answer
    assert told == []
    release.set()
    await asyncio.wait_for(asyncio.gather(holder, *others), 1)


async def test_requests_the_server_counted_before_a_restart_take_their_slots() -> None:
    # Found by the soak: a bot restarted within the minute started with an empty window while
    # Chaster still counted its earlier requests, and its start-up burst met a 429.
    ticks = _Ticks()
    limiter = RateLimiter(limit=10, window=10.0, clock=ticks, wall_clock=lambda: NOW)
    async with limiter.slot():
        # Chaster counts 7 requests (this one and 6 of the process before).
        limiter.observe(
            {
                "x-ratelimit-limit": "10",
                "x-ratelimit-remaining": "3",
                "x-ratelimit-reset": str(NOW + 4),
            }
        )
    assert limiter.used == 7
    served = 0

    async def request() -> None:
        nonlocal served
        async with limiter.slot():
            served += 1

    waiting = [asyncio.create_task(request()) for _ in range(5)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert served == 3  # the three Chaster has left, not the nine this process has not used
    ticks.now += 10.0
    limiter.wake()
    await asyncio.wait_for(asyncio.gather(*waiting), 1)
    assert served == 5
