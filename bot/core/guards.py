"""One action at a time per wearer and server: a double ✅ must not complete twice."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """An asyncio mutex per key, created on first use.

    Held weakly: a mutex lives only while someone holds it or waits for it, so the map stays
    as small as the number of keys in use right now, not every key ever seen.
    """

    def __init__(self) -> None:
        self._mutexes: weakref.WeakValueDictionary[K, asyncio.Lock] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._mutexes)

    def of(self, key: K) -> asyncio.Lock:
        mutex = self._mutexes.get(key)
        if mutex is None:
            mutex = asyncio.Lock()
            self._mutexes[key] = mutex
        return mutex


class WearerGuards:
    """An asyncio mutex per (server, wearer)."""

    def __init__(self) -> None:
        self._locks: KeyedLocks[tuple[int, int]] = KeyedLocks()

    def __len__(self) -> int:
        return len(self._locks)

    def of(self, guild_id: int, wearer_id: int) -> asyncio.Lock:
        """The wearer's mutex; use it as `async with guards.of(guild, wearer):`."""
        return self._locks.of((guild_id, wearer_id))
