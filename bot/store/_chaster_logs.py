"""`Store` methods for the entries the bot writes in locks' Chaster history."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ._queries import StoreBase, _all, _changed, _one, _placeholders
from .rows import from_db, to_db

_SELECT: Final = "SELECT * FROM chaster_logs WHERE id = ?"


@dataclass(frozen=True, slots=True)
class ChasterLog:
    id: int
    key: str
    link_id: int
    title: str
    description: str
    icon: str
    color: str
    state: str
    created_at: datetime
    sending_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ChasterLog:
        return cls(
            id=row["id"],
            key=row["key"],
            link_id=row["link_id"],
            title=row["title"],
            description=row["description"],
            icon=row["icon"],
            color=row["color"],
            state=row["state"],
            created_at=from_db(row["created_at"]),
            sending_at=from_db(row["sending_at"]),
        )


class ChasterLogsMixin(StoreBase):
    async def queue_chaster_log(
        self,
        *,
        key: str,
        link_id: int,
        title: str,
        description: str,
        icon: str,
        color: str,
        now: datetime,
    ) -> ChasterLog | None:
        """Queue an entry; None when one with this key was queued before (the same action)."""

        def insert(conn: sqlite3.Connection) -> ChasterLog | None:
            inserted = _changed(
                conn,
                "INSERT OR IGNORE INTO chaster_logs (key, link_id, title, description, icon,"
                " color, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, link_id, title, description, icon, color, to_db(now)),
            )
            if not inserted:
                return None
            row = _one(conn, "SELECT * FROM chaster_logs WHERE key = ?", (key,))
            assert row is not None
            return ChasterLog.from_row(row)

        return await self._db.write(insert)

    async def get_chaster_log(self, log_id: int) -> ChasterLog | None:
        row = await self._db.look_up(lambda conn: _one(conn, _SELECT, (log_id,)))
        return ChasterLog.from_row(row) if row is not None else None

    async def move_chaster_log(
        self, log_id: int, *, from_states: Collection[str], to_state: str, now: datetime
    ) -> ChasterLog | None:
        """Compare-and-set an entry's state; None when it was not in `from_states`."""
        states = list(from_states)
        stamp = "sending_at" if to_state == "sending" else "sent_at"
        # `stamp` is one of two literals; the values are parameters.
        sql = (
            f"UPDATE chaster_logs SET state = ?, {stamp} = ?"  # noqa: S608
            f" WHERE id = ? AND state IN ({_placeholders(len(states))})"
        )

        def update(conn: sqlite3.Connection) -> ChasterLog | None:
            if not _changed(conn, sql, (to_state, to_db(now), log_id, *states)):
                return None
            row = _one(conn, _SELECT, (log_id,))
            assert row is not None
            return ChasterLog.from_row(row)

        return await self._db.write(update)

    async def count_sent_chaster_logs(
        self, link_id: int, title: str, description: str, *, since: datetime, excluding: int
    ) -> int:
        """How many of the link's other entries with these words were sent since `since`."""

        def count(conn: sqlite3.Connection) -> int:
            row = _one(
                conn,
                "SELECT COUNT(*) FROM chaster_logs WHERE link_id = ? AND title = ?"
                " AND description = ? AND state = 'sent' AND sent_at >= ? AND id != ?",
                (link_id, title, description, to_db(since), excluding),
            )
            return int(row[0]) if row is not None else 0

        return await self._db.look_up(count)

    async def unsent_chaster_logs(self) -> list[ChasterLog]:
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT * FROM chaster_logs WHERE state IN ('pending', 'sending') ORDER BY id",
            )
        )
        return [ChasterLog.from_row(row) for row in rows]
