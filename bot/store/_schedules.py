"""`Store` methods for schedules and their occasions: each occasion is claimed in the same unit
of work that moves the schedule on, so it is acted on at most once."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Final

from ._queries import StoreBase, _all, _changed, _one, _write
from .automation_rows import Every, Occasion, OccasionState, Schedule
from .proof_rows import Proof
from .rows import to_db

_SELECT: Final = "SELECT * FROM schedules WHERE id = ?"
_ACTIVE: Final = "SELECT * FROM schedules WHERE removed_at IS NULL"


class SchedulesMixin(StoreBase):
    """Creating, listing and removing schedules; claiming and settling their occasions."""

    async def create_schedule(
        self,
        *,
        link_id: int,
        guild_id: int,
        wearer_id: int,
        created_by: int,
        entry_id: int | None,
        source: str | None,
        tag: str | None,
        every: Every,
        hours: int | None,
        at: str,
        weekday: int | None,
        timezone: str,
        deadline_seconds: int | None,
        next_at: datetime,
        now: datetime,
        proof: Proof | None = None,
    ) -> Schedule:
        def insert(conn: sqlite3.Connection) -> Schedule:
            schedule_id = _write(
                conn,
                "INSERT INTO schedules (link_id, guild_id, wearer_id, created_by, entry_id,"
                " source, tag, every, hours, at, weekday, timezone, deadline_seconds,"
                " created_at, next_at, proof)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    link_id,
                    guild_id,
                    wearer_id,
                    created_by,
                    entry_id,
                    source,
                    tag,
                    Every(every).value,
                    hours,
                    at,
                    weekday,
                    timezone,
                    deadline_seconds,
                    to_db(now),
                    to_db(next_at),
                    proof.value if proof is not None else None,
                ),
            )
            return _schedule(conn, schedule_id)

        return await self._db.write(insert)

    async def get_schedule(self, schedule_id: int) -> Schedule | None:
        return await self._db.look_up(lambda conn: _schedule_or_none(conn, schedule_id))

    async def schedules_of_link(self, link_id: int) -> list[Schedule]:
        """The link's schedules that are not removed, oldest first."""
        return await self._read_schedules(f"{_ACTIVE} AND link_id = ? ORDER BY id", (link_id,))

    async def active_schedules(self) -> list[Schedule]:
        """Every schedule not removed, soonest occasion first."""
        return await self._read_schedules(f"{_ACTIVE} ORDER BY next_at, id", ())

    async def remove_schedule(self, schedule_id: int, *, now: datetime) -> Schedule | None:
        """Remove a schedule; None when it was removed already."""

        def remove(conn: sqlite3.Connection) -> Schedule | None:
            changed = _changed(
                conn,
                "UPDATE schedules SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (to_db(now), schedule_id),
            )
            return _schedule(conn, schedule_id) if changed else None

        return await self._db.write(remove)

    async def claim_occasion(
        self,
        schedule_id: int,
        due_at: datetime,
        *,
        next_at: datetime,
        state: OccasionState = OccasionState.CLAIMED,
        now: datetime,
    ) -> bool:
        """Record the occasion at `due_at` (in progress, or already settled as `state`) and
        move the schedule on to `next_at`, in one unit of work. False when the occasion was
        recorded before, or the schedule is removed: it must not be acted on again."""

        def claim(conn: sqlite3.Connection) -> bool:
            moved = _changed(
                conn,
                "UPDATE schedules SET next_at = ? WHERE id = ? AND removed_at IS NULL",
                (to_db(next_at), schedule_id),
            )
            if not moved:
                return False
            settled = None if state is OccasionState.CLAIMED else to_db(now)
            inserted = _changed(
                conn,
                "INSERT OR IGNORE INTO schedule_occasions (schedule_id, due_at, state,"
                " settled_at) VALUES (?, ?, ?, ?)",
                (schedule_id, to_db(due_at), OccasionState(state).value, settled),
            )
            return bool(inserted)

        return await self._db.write(claim)

    async def note_drawn(self, schedule_id: int, due_at: datetime, drawn: str) -> None:
        """Keep the text about to be assigned for a claimed occasion."""
        await self._db.write_one(
            "UPDATE schedule_occasions SET drawn = ? WHERE schedule_id = ? AND due_at = ?"
            " AND state = 'claimed'",
            (drawn, schedule_id, to_db(due_at)),
        )

    async def settle_occasion(
        self,
        schedule_id: int,
        due_at: datetime,
        state: OccasionState,
        *,
        now: datetime,
        task_id: int | None = None,
    ) -> bool:
        """Compare-and-set a claimed occasion to what came of it; False if already settled."""
        changed = await self._db.write(
            lambda conn: _changed(
                conn,
                "UPDATE schedule_occasions SET state = ?, task_id = ?, settled_at = ?"
                " WHERE schedule_id = ? AND due_at = ? AND state = 'claimed'",
                (OccasionState(state).value, task_id, to_db(now), schedule_id, to_db(due_at)),
            )
        )
        return bool(changed)

    async def claimed_occasions(self) -> list[Occasion]:
        """Occasions a crash left in progress."""
        rows = await self._db.read(
            lambda conn: _all(
                conn, "SELECT * FROM schedule_occasions WHERE state = 'claimed' ORDER BY due_at"
            )
        )
        return [Occasion.from_row(row) for row in rows]

    async def occasions_of(self, schedule_id: int) -> list[Occasion]:
        """Every recorded occasion of a schedule, oldest first."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT * FROM schedule_occasions WHERE schedule_id = ? ORDER BY due_at",
                (schedule_id,),
            )
        )
        return [Occasion.from_row(row) for row in rows]

    async def _read_schedules(self, sql: str, params: tuple[Any, ...]) -> list[Schedule]:
        rows = await self._db.read(lambda conn: _all(conn, sql, params))
        return [Schedule.from_row(row) for row in rows]


def _schedule_or_none(conn: sqlite3.Connection, schedule_id: int) -> Schedule | None:
    row = _one(conn, _SELECT, (schedule_id,))
    return Schedule.from_row(row) if row is not None else None


def _schedule(conn: sqlite3.Connection, schedule_id: int) -> Schedule:
    found = _schedule_or_none(conn, schedule_id)
    assert found is not None
    return found
