"""What every part of `Store` shares: the base holding the database, and query helpers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, Final

import aiosqlite

from .database import Database
from .rows import OPEN_TASK_STATES

# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
_OPEN_STATES_SQL: Final = ", ".join(f"'{state.value}'" for state in OPEN_TASK_STATES)


class StoreBase:
    """The database the `Store` mixins read and write, set by `Store.__init__`."""

    _db: Database


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


async def _one(
    connection: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> sqlite3.Row | None:
    async with connection.execute(sql, tuple(params)) as cursor:
        return await cursor.fetchone()


async def _all(
    connection: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[sqlite3.Row]:
    async with connection.execute(sql, tuple(params)) as cursor:
        return list(await cursor.fetchall())


async def _write(connection: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> int:
    """Run one write and return the rowid it inserted (or 0) — for UPDATEs, see `_changed`."""
    async with connection.execute(sql, tuple(params)) as cursor:
        return cursor.lastrowid or 0


async def _changed(connection: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> int:
    async with connection.execute(sql, tuple(params)) as cursor:
        return cursor.rowcount
