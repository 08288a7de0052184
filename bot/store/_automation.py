"""`Store` methods for what automation needs besides schedules: pause, deadlines and
reminders, penalties and the consequences applied, and who wants direct messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Final

from ._queries import _OPEN_STATES_SQL, StoreBase, _all, _changed, _one, _placeholders, _write
from .automation_rows import (
    Consequence,
    ConsequenceState,
    NotifyPrefs,
    Penalty,
    PenaltyAction,
    PenaltyOn,
)
from .rows import SessionLink, Task, from_db, to_db

_SELECT_LINK: Final = "SELECT * FROM session_links WHERE id = ?"
_SELECT_TASK: Final = "SELECT * FROM tasks WHERE id = ?"
_SELECT_CONSEQUENCE: Final = "SELECT * FROM consequences WHERE id = ?"
# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
_OPEN_DEADLINES: Final = (
    "SELECT id, deadline_at FROM tasks WHERE deadline_at IS NOT NULL"  # noqa: S608
    f" AND state IN ({_OPEN_STATES_SQL}) ORDER BY deadline_at, id"
)


class AutomationMixin(StoreBase):
    """Pausing links, deadlines and reminders, penalties, consequences, DM preferences."""

    # -- pause ------------------------------------------------------------------------------

    async def pause_link(
        self, link_id: int, *, by: int, reason: str | None, now: datetime
    ) -> SessionLink | None:
        """Pause an open link; None when it is closed or paused already."""

        def pause(conn: sqlite3.Connection) -> SessionLink | None:
            changed = _changed(
                conn,
                "UPDATE session_links SET paused_at = ?, paused_by = ?, pause_reason = ?"
                " WHERE id = ? AND closed_at IS NULL AND paused_at IS NULL",
                (to_db(now), by, reason, link_id),
            )
            return _link(conn, link_id) if changed else None

        return await self._db.write(pause)

    async def resume_link(self, link_id: int, *, now: datetime) -> SessionLink | None:
        """End a link's pause and move the deadlines of its open tasks later by the time each
        spent paused (a task given during the pause gains only the part after it was given),
        in one unit of work; None when it was not paused."""
        # _OPEN_STATES_SQL is built from the TaskState enum, never from input.
        open_deadlines = (
            "SELECT id, deadline_at, assigned_at FROM tasks WHERE link_id = ?"  # noqa: S608
            f" AND deadline_at IS NOT NULL AND state IN ({_OPEN_STATES_SQL})"
        )

        def resume(conn: sqlite3.Connection) -> SessionLink | None:
            row = _one(conn, "SELECT paused_at FROM session_links WHERE id = ?", (link_id,))
            if row is None or row[0] is None:
                return None
            paused_at = from_db(row[0])
            for task_id, deadline, assigned_at in _all(conn, open_deadlines, (link_id,)):
                paused_for = now - max(paused_at, from_db(assigned_at))
                if paused_for <= timedelta(0):
                    continue
                _write(
                    conn,
                    "UPDATE tasks SET deadline_at = ? WHERE id = ?",
                    (to_db(from_db(deadline) + paused_for), task_id),
                )
            _write(
                conn,
                "UPDATE session_links SET paused_at = NULL, paused_by = NULL,"
                " pause_reason = NULL WHERE id = ?",
                (link_id,),
            )
            return _link(conn, link_id)

        return await self._db.write(resume)

    async def set_remind_before(self, link_id: int, seconds: int) -> SessionLink:
        def update(conn: sqlite3.Connection) -> SessionLink:
            _write(
                conn,
                "UPDATE session_links SET remind_before_seconds = ? WHERE id = ?",
                (seconds, link_id),
            )
            return _link(conn, link_id)

        return await self._db.write(update)

    # -- deadlines and reminders ------------------------------------------------------------

    async def pending_deadlines(self) -> list[tuple[int, datetime]]:
        """(task id, deadline) of every open task with a deadline, soonest first."""
        rows = await self._db.read(lambda conn: _all(conn, _OPEN_DEADLINES))
        return [(row[0], from_db(row[1])) for row in rows]

    async def mark_deadline_missed(self, task_id: int, *, now: datetime) -> Task | None:
        """Compare-and-set: the open task's deadline passed, decided before Chaster is told;
        None when it was decided before, the task is closed or it awaits confirmation."""
        return await self._task_update(
            "UPDATE tasks SET deadline_missed_at = ? WHERE id = ? AND deadline_missed_at IS NULL"
            " AND state IN ('assigned', 'timer_running')",
            (to_db(now), task_id),
            task_id,
        )

    async def mark_reminded(self, task_id: int, *, now: datetime) -> Task | None:
        """Compare-and-set: the deadline reminder is being sent; None if it was before."""
        # _OPEN_STATES_SQL is built from the TaskState enum, never from input.
        return await self._task_update(
            "UPDATE tasks SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL"  # noqa: S608
            f" AND state IN ({_OPEN_STATES_SQL})",
            (to_db(now), task_id),
            task_id,
        )

    async def _task_update(self, sql: str, params: tuple[object, ...], task_id: int) -> Task | None:
        def update(conn: sqlite3.Connection) -> Task | None:
            if not _changed(conn, sql, params):
                return None
            row = _one(conn, _SELECT_TASK, (task_id,))
            return Task.from_row(row) if row is not None else None

        return await self._db.write(update)

    # -- penalties --------------------------------------------------------------------------

    async def set_penalty(
        self,
        link_id: int,
        on: PenaltyOn,
        action: PenaltyAction,
        *,
        seconds: int | None,
        reason: str | None,
        set_by: int,
        now: datetime,
    ) -> Penalty:
        """Set (or replace) the link's consequence for `on`."""

        def upsert(conn: sqlite3.Connection) -> Penalty:
            _write(
                conn,
                "INSERT INTO penalties (link_id, occasion, action, seconds, reason, set_by,"
                " set_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (link_id, occasion) DO UPDATE"
                " SET action = excluded.action, seconds = excluded.seconds,"
                " reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at",
                (link_id, on.value, action.value, seconds, reason, set_by, to_db(now)),
            )
            row = _one(
                conn,
                "SELECT * FROM penalties WHERE link_id = ? AND occasion = ?",
                (link_id, on.value),
            )
            assert row is not None
            return Penalty.from_row(row)

        return await self._db.write(upsert)

    async def penalties_of(self, link_id: int) -> list[Penalty]:
        rows = await self._db.read(
            lambda conn: _all(
                conn, "SELECT * FROM penalties WHERE link_id = ? ORDER BY occasion", (link_id,)
            )
        )
        return [Penalty.from_row(row) for row in rows]

    async def get_penalty(self, link_id: int, on: PenaltyOn) -> Penalty | None:
        row = await self._db.look_up(
            lambda conn: _one(
                conn,
                "SELECT * FROM penalties WHERE link_id = ? AND occasion = ?",
                (link_id, on.value),
            )
        )
        return Penalty.from_row(row) if row is not None else None

    async def clear_penalties(self, link_id: int, ons: Collection[PenaltyOn]) -> int:
        """Remove the link's penalties for `ons`; how many there were."""
        values = [PenaltyOn(on).value for on in ons]
        # Only placeholders are formatted into the statement.
        where = f"link_id = ? AND occasion IN ({_placeholders(len(values))})"
        sql = f"DELETE FROM penalties WHERE {where}"  # noqa: S608
        return int(await self._db.write(lambda conn: _changed(conn, sql, (link_id, *values))))

    # -- consequences -----------------------------------------------------------------------

    async def record_consequence(
        self, task_id: int, penalty: Penalty, *, now: datetime
    ) -> Consequence | None:
        """Record that `penalty` applies for the task, before anything is sent; None when the
        task already has one (a consequence is applied once per task)."""

        def insert(conn: sqlite3.Connection) -> Consequence | None:
            inserted = _changed(
                conn,
                "INSERT OR IGNORE INTO consequences (task_id, link_id, occasion, action,"
                " seconds, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    penalty.link_id,
                    penalty.on.value,
                    penalty.action.value,
                    penalty.seconds,
                    penalty.reason,
                    to_db(now),
                ),
            )
            if not inserted:
                return None
            row = _one(conn, "SELECT * FROM consequences WHERE task_id = ?", (task_id,))
            assert row is not None
            return Consequence.from_row(row)

        return await self._db.write(insert)

    async def move_consequence(
        self,
        consequence_id: int,
        *,
        from_states: Collection[ConsequenceState],
        to_state: ConsequenceState,
        now: datetime,
        detail: str | None = None,
    ) -> Consequence | None:
        """Compare-and-set a consequence's state; None when it was not in `from_states`."""
        states = [ConsequenceState(state).value for state in from_states]
        stamp = "applying_at" if to_state is ConsequenceState.APPLYING else "settled_at"
        # The stamp column is one of two literals; everything else is a parameter.
        sql = (
            f"UPDATE consequences SET state = ?, {stamp} = ?, detail = coalesce(?, detail)"  # noqa: S608
            f" WHERE id = ? AND state IN ({_placeholders(len(states))})"
        )
        params = (to_state.value, to_db(now), detail, consequence_id, *states)

        def update(conn: sqlite3.Connection) -> Consequence | None:
            if not _changed(conn, sql, params):
                return None
            row = _one(conn, _SELECT_CONSEQUENCE, (consequence_id,))
            assert row is not None
            return Consequence.from_row(row)

        return await self._db.write(update)

    async def unsettled_consequences(self) -> list[Consequence]:
        """Consequences recorded but not known to be applied or refused, oldest first."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT * FROM consequences WHERE state IN ('pending', 'applying') ORDER BY id",
            )
        )
        return [Consequence.from_row(row) for row in rows]

    async def get_consequence(self, consequence_id: int) -> Consequence | None:
        row = await self._db.look_up(
            lambda conn: _one(conn, _SELECT_CONSEQUENCE, (consequence_id,))
        )
        return Consequence.from_row(row) if row is not None else None

    async def consequence_for_task(self, task_id: int) -> Consequence | None:
        row = await self._db.look_up(
            lambda conn: _one(conn, "SELECT * FROM consequences WHERE task_id = ?", (task_id,))
        )
        return Consequence.from_row(row) if row is not None else None

    # -- direct messages --------------------------------------------------------------------

    async def notify_prefs(self, guild_id: int, user_id: int) -> NotifyPrefs:
        row = await self._db.look_up(
            lambda conn: _one(
                conn,
                "SELECT dm, dms_closed_at FROM notify_prefs WHERE guild_id = ? AND user_id = ?",
                (guild_id, user_id),
            )
        )
        if row is None:
            return NotifyPrefs(guild_id, user_id)
        return NotifyPrefs(guild_id, user_id, bool(row[0]), from_db(row[1]))

    async def set_dm(self, guild_id: int, user_id: int, on: bool, *, now: datetime) -> NotifyPrefs:
        """Turn a person's DMs on or off; either way the bot tries again, so a person who has
        opened their DMs since Discord refused one turns them on again to say so."""
        await self._db.write_one(
            "INSERT INTO notify_prefs (guild_id, user_id, dm, dms_closed_at, updated_at)"
            " VALUES (?, ?, ?, NULL, ?) ON CONFLICT (guild_id, user_id) DO UPDATE"
            " SET dm = excluded.dm, dms_closed_at = NULL, updated_at = excluded.updated_at",
            (guild_id, user_id, int(on), to_db(now)),
        )
        return NotifyPrefs(guild_id, user_id, on, None)

    async def mark_dms_closed(self, guild_id: int, user_id: int, *, now: datetime) -> bool:
        """Discord refused a DM: stop trying. True the first time (the feed says so once)."""
        changed = await self._db.write(
            lambda conn: _changed(
                conn,
                "UPDATE notify_prefs SET dms_closed_at = ?, updated_at = ?"
                " WHERE guild_id = ? AND user_id = ? AND dms_closed_at IS NULL",
                (to_db(now), to_db(now), guild_id, user_id),
            )
        )
        return bool(changed)


def _link(conn: sqlite3.Connection, link_id: int) -> SessionLink:
    row = _one(conn, _SELECT_LINK, (link_id,))
    assert row is not None
    return SessionLink.from_row(row)
