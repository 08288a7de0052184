"""Per-wearer mutexes: one action at a time per wearer, and no mutex kept once nobody needs it."""

from __future__ import annotations

import asyncio
import gc

from bot.core.guards import WearerGuards


async def test_one_action_at_a_time_per_wearer() -> None:
    guards = WearerGuards()
    inside: list[str] = []
    order: list[str] = []
    entered, release = asyncio.Event(), asyncio.Event()

    async def act(name: str) -> None:
        async with guards.of(1, 2):
            inside.append(name)
            assert len(inside) == 1, inside
            order.append(name)
            if name == "first":
                entered.set()
                await release.wait()
            inside.remove(name)

    first = asyncio.create_task(act("first"))
    await entered.wait()
    second = asyncio.create_task(act("second"))
    other_wearer = asyncio.create_task(_hold(guards, 1, 3))
    await other_wearer  # another wearer is not held up by the first one
    assert order == ["first"]
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"]


async def _hold(guards: WearerGuards, guild_id: int, wearer_id: int) -> None:
    async with guards.of(guild_id, wearer_id):
        await asyncio.sleep(0)


async def test_a_mutex_lives_only_while_it_is_held_or_awaited() -> None:
    guards = WearerGuards()
    for wearer in range(1_000):
        await _hold(guards, 1, wearer)
    gc.collect()
    assert len(guards) == 0
    async with guards.of(1, 5):
        assert len(guards) == 1
        assert guards.of(1, 5) is guards.of(1, 5)
    gc.collect()
    assert len(guards) == 0
