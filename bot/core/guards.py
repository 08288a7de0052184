"""One action at a time per wearer and server: a double ✅ must not complete twice."""

from __future__ import annotations

import asyncio
import weakref


class WearerGuards:
    """An asyncio mutex per (server, wearer), created on first use.

    Held weakly: a mutex lives only while someone holds it or waits for it, so the map stays
    as small as the number of wearers being acted on right now, not every wearer ever seen.
    """

    def __init__(self) -> None:
        self._mutexes: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def __len__(self) -> int:
        return len(self._mutexes)

    def of(self, guild_id: int, wearer_id: int) -> asyncio.Lock:
        """The wearer's mutex; use it as `async with guards.of(guild, wearer):`."""
        key = (guild_id, wearer_id)
        mutex = self._mutexes.get(key)
        if mutex is None:
            mutex = asyncio.Lock()
            self._mutexes[key] = mutex
        return mutex
