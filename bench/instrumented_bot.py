"""`python -m bot`, with counters patched in from outside (the bot's code is not changed).

Used by `python -m bench.profile --instrument`. Counts aiosqlite operations (each one is a hop
to aiosqlite's worker thread and back), the store's writes and look-ups (run on the event
loop's thread unless they would wait, then by a hop), Discord REST requests (aiohttp) and
Chaster requests (httpx), and times the `Database` lock: how long commands wait for it and how
long it is held.
On SIGUSR1 the totals are written as JSON to $BENCH_COUNTERS.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import runpy
import signal
import time
from types import FrameType
from typing import Any, Literal

import aiohttp
import aiosqlite.core
import httpx

import bot.store.database as database

counters: collections.Counter[str] = collections.Counter()
seconds: collections.defaultdict[str, float] = collections.defaultdict(float)


class TimedLock(asyncio.Lock):
    """The Database lock, timing each wait for it and each hold of it."""

    _acquired_at = 0.0

    async def acquire(self) -> Literal[True]:
        started = time.monotonic()
        await super().acquire()
        self._acquired_at = time.monotonic()
        seconds["db_lock_wait"] += self._acquired_at - started
        counters["db_lock_acquisitions"] += 1
        return True

    def release(self) -> None:
        seconds["db_lock_held"] += time.monotonic() - self._acquired_at
        super().release()


_database_init = database.Database.__init__


def _init(self: database.Database, *args: Any, **kwargs: Any) -> None:
    _database_init(self, *args, **kwargs)
    self._lock = TimedLock()


_execute: Any = aiosqlite.core.Connection._execute


async def _counted_execute(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
    counters["sqlite_ops"] += 1
    counters[f"sqlite_op:{getattr(fn, '__name__', 'other')}"] += 1
    return await _execute(self, fn, *args, **kwargs)


_write_now: Any = database.Database._write_now
_look_up: Any = database.Database.look_up


async def _counted_write_now(self: database.Database, work: Any) -> Any:
    counters["db_writes"] += 1
    return await _write_now(self, work)


async def _counted_look_up(self: database.Database, work: Any) -> Any:
    counters["db_look_ups"] += 1
    return await _look_up(self, work)


_aiohttp_request = aiohttp.ClientSession._request


async def _counted_request(self: aiohttp.ClientSession, method: str, *args: Any, **kw: Any) -> Any:
    counters["discord_rest_requests"] += 1
    return await _aiohttp_request(self, method, *args, **kw)


_httpx_send = httpx.AsyncClient.send


async def _counted_send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
    counters["chaster_requests"] += 1
    return await _httpx_send(self, request, **kw)


def _dump(signum: int, frame: FrameType | None) -> None:
    totals: dict[str, float] = {**counters, **seconds}
    target = os.environ["BENCH_COUNTERS"]
    with open(target + ".tmp", "w", encoding="utf-8") as out:
        json.dump(totals, out)
    os.replace(target + ".tmp", target)  # the reader never sees half a file


if __name__ == "__main__":
    database.Database.__init__ = _init  # type: ignore[method-assign]
    aiosqlite.core.Connection._execute = _counted_execute  # type: ignore[method-assign]
    database.Database._write_now = _counted_write_now  # type: ignore[method-assign]
    database.Database.look_up = _counted_look_up  # type: ignore[method-assign]
    aiohttp.ClientSession._request = _counted_request  # type: ignore[method-assign]
    httpx.AsyncClient.send = _counted_send  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR1, _dump)
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
