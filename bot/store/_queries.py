"""What every part of `Store` shares: the base holding the database, and query helpers.

The helpers are plain sqlite3 calls: they run inside a unit of work that `Database.read` or
`Database.write` sends to the database thread in one round trip, or that `Database.look_up`
runs at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .database import Database
from .rows import OPEN_TASK_STATES

# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
_OPEN_STATES_SQL: Final = ", ".join(f"'{state.value}'" for state in OPEN_TASK_STATES)


class StoreBase:
    """The database the `Store` mixins read and write, set by `Store.__init__`."""

    _db: Database


# Positional values, or named ones (":guild") for a statement that names a value more than once.
Params = Iterable[Any] | Mapping[str, Any]


def _bind(params: Params) -> tuple[Any, ...] | Mapping[str, Any]:
    return params if isinstance(params, Mapping) else tuple(params)


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


# Each helper closes its cursor: on the reader, an unfinished statement would keep its
# snapshot of the database open and hold back WAL checkpoints.


def _one(connection: sqlite3.Connection, sql: str, params: Params = ()) -> sqlite3.Row | None:
    cursor = connection.execute(sql, _bind(params))
    try:
        row: sqlite3.Row | None = cursor.fetchone()
    finally:
        cursor.close()
    return row


def _all(connection: sqlite3.Connection, sql: str, params: Params = ()) -> list[sqlite3.Row]:
    cursor = connection.execute(sql, _bind(params))
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _write(connection: sqlite3.Connection, sql: str, params: Params = ()) -> int:
    """Run one write and return the rowid it inserted (or 0) — for UPDATEs, see `_changed`."""
    cursor = connection.execute(sql, _bind(params))
    cursor.close()
    return cursor.lastrowid or 0


def _changed(connection: sqlite3.Connection, sql: str, params: Params = ()) -> int:
    cursor = connection.execute(sql, _bind(params))
    cursor.close()
    return cursor.rowcount
