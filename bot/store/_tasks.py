"""`Store` methods for tasks: their state changes, timers and feed messages."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Any, Final

from ._queries import _OPEN_STATES_SQL, StoreBase, _all, _changed, _one, _placeholders, _write
from .errors import NotFound
from .proof_rows import Proof
from .rows import Controls, Origin, Task, TaskState, from_db, to_db

# Columns `transition_task` may set, and whether each holds a time (stored as text).
_TRANSITION_FIELDS: Final[dict[str, bool]] = {
    "timer_started_by": False,
    "timer_started_at": True,
    "timer_ends_at": True,
    "confirmation_requested_by": False,
    "confirmation_requested_at": True,
    "closed_by": False,
    "closed_at": True,
    "points_total": False,
    "points_required": False,
}
TASK_TRANSITION_FIELDS: Final[frozenset[str]] = frozenset(_TRANSITION_FIELDS)

# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
_SELECT_TASK: Final = "SELECT * FROM tasks WHERE id = ?"
_TASKS_MISSING_FEED_MESSAGE: Final = (
    "SELECT * FROM tasks WHERE feed_channel_id IS NOT NULL AND feed_message_id IS NULL"  # noqa: S608
    f" AND state IN ({_OPEN_STATES_SQL}) ORDER BY id"
)


class TasksMixin(StoreBase):
    """Recording tasks, moving them between states, and finding those with work left."""

    async def create_task(
        self,
        *,
        link_id: int,
        description: str,
        points: int,
        verification_required: bool,
        duration_seconds: int | None,
        assigned_by: int | None,
        now: datetime,
        feed_channel_id: int | None = None,
        origin: Origin | None = None,
        deadline_at: datetime | None = None,
        schedule_id: int | None = None,
        proof: Proof | None = None,
    ) -> Task:
        """Record a newly assigned task; `OpenTaskExists` if the link already has an open one.

        `feed_channel_id` is where its feed message belongs, kept before the message exists so
        a message that was never posted (a crash in between) can be posted on the next start.
        """
        stamp = to_db(now)

        def insert(conn: sqlite3.Connection) -> Task:
            task_id = _write(
                conn,
                "INSERT INTO tasks (link_id, description, points, verification_required,"
                " duration_seconds, state, assigned_by, assigned_at, updated_at, feed_channel_id,"
                " origin, deadline_at, schedule_id, proof)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    link_id,
                    description,
                    points,
                    int(verification_required),
                    duration_seconds,
                    TaskState.ASSIGNED.value,
                    assigned_by,
                    stamp,
                    stamp,
                    feed_channel_id,
                    origin.value if origin is not None else None,
                    to_db(deadline_at),
                    schedule_id,
                    proof.value if proof is not None else None,
                ),
            )
            return _task(conn, task_id)

        return await self._db.write(insert)

    async def get_task(self, task_id: int) -> Task | None:
        """A task by id."""
        return await self._read_task(_SELECT_TASK, (task_id,))

    async def get_open_task(self, link_id: int) -> Task | None:
        """The link's open task, if any."""
        return await self._read_task(
            f"SELECT * FROM tasks WHERE link_id = ? AND state IN ({_OPEN_STATES_SQL})",  # noqa: S608
            (link_id,),
        )

    async def get_task_by_feed_message(self, message_id: int) -> Task | None:
        """The task whose feed post is this Discord message."""
        return await self._read_task("SELECT * FROM tasks WHERE feed_message_id = ?", (message_id,))

    async def latest_task(self, link_id: int) -> Task | None:
        """The link's most recent task, open or closed."""
        return await self._read_task(
            "SELECT * FROM tasks WHERE link_id = ? ORDER BY id DESC LIMIT 1", (link_id,)
        )

    async def _read_task(self, sql: str, params: tuple[Any, ...]) -> Task | None:
        def read(conn: sqlite3.Connection) -> Task | None:
            row = _one(conn, sql, params)
            return Task.from_row(row) if row is not None else None

        return await self._db.look_up(read)

    async def set_feed_message(
        self,
        task_id: int,
        *,
        channel_id: int,
        message_id: int,
        controls: Controls = Controls.REACTIONS,
    ) -> Task:
        """Remember the task's feed post and what it carries; `NotFound` if no such task.
        Leaves `updated_at` alone."""

        def update(conn: sqlite3.Connection) -> Task:
            changed = _changed(
                conn,
                "UPDATE tasks SET feed_channel_id = ?, feed_message_id = ?, feed_controls = ?"
                " WHERE id = ?",
                (channel_id, message_id, Controls(controls).value, task_id),
            )
            if not changed:
                raise NotFound(f"no task {task_id}")
            return _task(conn, task_id)

        return await self._db.write(update)

    async def transition_task(
        self,
        task_id: int,
        *,
        from_states: Collection[TaskState],
        to_state: TaskState,
        now: datetime,
        **fields: datetime | int | None,
    ) -> Task | None:
        """Compare-and-set the task's state; None if it was not in `from_states`.

        `fields` may only name columns in `TASK_TRANSITION_FIELDS` (ValueError otherwise).
        Moving to a closed state sets `closed_at = now` unless `closed_at` is given.
        """
        unknown = sorted(set(fields) - TASK_TRANSITION_FIELDS)
        if unknown:
            raise ValueError(f"transition_task cannot set {unknown}")
        states = [TaskState(state) for state in from_states]
        if not states:
            raise ValueError("from_states must name at least one state")
        to_state = TaskState(to_state)
        if not to_state.is_open and "closed_at" not in fields:
            fields = {**fields, "closed_at": now}

        assignments = ["state = ?", "updated_at = ?"]
        values: list[Any] = [to_state.value, to_db(now)]
        for column, value in fields.items():
            assignments.append(f"{column} = ?")
            values.append(_transition_value(column, value))
        # Column names come only from the whitelist above; every value is a parameter.
        sql = (
            f"UPDATE tasks SET {', '.join(assignments)}"  # noqa: S608
            f" WHERE id = ? AND state IN ({_placeholders(len(states))})"
        )
        params = (*values, task_id, *(state.value for state in states))
        return await self._db.write(lambda conn: _task_if_changed(conn, sql, params, task_id))

    async def open_tasks(self) -> list[Task]:
        """Every open task, oldest first."""
        return await self._read_tasks(
            f"SELECT * FROM tasks WHERE state IN ({_OPEN_STATES_SQL}) ORDER BY id"  # noqa: S608
        )

    async def pending_timer_deadlines(self) -> list[tuple[int, datetime]]:
        """(task id, timer end) of every running timer not yet announced, soonest first."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT id, timer_ends_at FROM tasks WHERE state = 'timer_running'"
                " AND timer_notified_at IS NULL AND timer_ends_at IS NOT NULL"
                " ORDER BY timer_ends_at, id",
            )
        )
        return [(row[0], from_db(row[1])) for row in rows]

    async def mark_timer_notified(self, task_id: int, *, now: datetime) -> Task | None:
        """Compare-and-set: note the timer's notice as sent; None if already sent or no timer."""
        sql = (
            "UPDATE tasks SET timer_notified_at = ? WHERE id = ?"
            " AND state = 'timer_running' AND timer_notified_at IS NULL"
        )
        params = (to_db(now), task_id)
        return await self._db.write(lambda conn: _task_if_changed(conn, sql, params, task_id))

    async def mark_feed_shown(self, task_id: int, shown: datetime) -> None:
        """The task's feed message shows it as it was at `shown` (its `updated_at` then):
        recorded only if the task has not changed since (any change unmarks it)."""
        stamp = to_db(shown)
        await self._db.write(
            lambda conn: _changed(
                conn,
                "UPDATE tasks SET feed_shown_at = ? WHERE id = ? AND updated_at = ?",
                (stamp, task_id, stamp),
            )
        )

    async def tasks_with_stale_feed(
        self, *, updated_after: datetime, updated_before: datetime, limit: int
    ) -> list[Task]:
        """Tasks changed in that span whose feed message does not show the change, oldest
        change first."""
        return await self._read_tasks(
            "SELECT * FROM tasks WHERE feed_shown_at IS NULL AND updated_at > ?"
            " AND updated_at <= ? ORDER BY updated_at LIMIT ?",
            (to_db(updated_after), to_db(updated_before), limit),
        )

    async def tasks_missing_feed_message(self) -> list[Task]:
        """Open tasks meant for a feed channel whose message was never posted."""
        return await self._read_tasks(_TASKS_MISSING_FEED_MESSAGE)

    async def wearer_tasks(
        self, guild_id: int, wearer_id: int, *, limit: int = -1, offset: int = 0
    ) -> list[Task]:
        """The wearer's tasks in this server (under every link they had here), newest first;
        `limit` -1 for all."""
        return await self._read_tasks(
            "SELECT t.* FROM tasks AS t JOIN session_links AS l ON l.id = t.link_id"
            " WHERE l.guild_id = ? AND l.wearer_id = ? ORDER BY t.id DESC LIMIT ? OFFSET ?",
            (guild_id, wearer_id, limit, offset),
        )

    async def session_tasks(self, chaster_session_id: str, *, limit: int) -> list[Task]:
        """The tasks given on one Chaster session, in every server it was linked in, newest
        first (for the extension's main page)."""
        return await self._read_tasks(
            "SELECT t.* FROM tasks AS t JOIN session_links AS l ON l.id = t.link_id"
            " WHERE l.chaster_session_id = ? ORDER BY t.id DESC LIMIT ?",
            (chaster_session_id, limit),
        )

    async def count_wearer_tasks(self, guild_id: int, wearer_id: int) -> int:
        row = await self._db.read(
            lambda conn: _one(
                conn,
                "SELECT count(*) FROM tasks AS t JOIN session_links AS l ON l.id = t.link_id"
                " WHERE l.guild_id = ? AND l.wearer_id = ?",
                (guild_id, wearer_id),
            )
        )
        return int(row[0]) if row is not None else 0

    async def _read_tasks(self, sql: str, params: tuple[Any, ...] = ()) -> list[Task]:
        rows = await self._db.read(lambda conn: _all(conn, sql, params))
        return [Task.from_row(row) for row in rows]


def _task(conn: sqlite3.Connection, task_id: int) -> Task:
    row = _one(conn, _SELECT_TASK, (task_id,))
    if row is None:
        raise NotFound(f"no task {task_id}")
    return Task.from_row(row)


def _task_if_changed(
    conn: sqlite3.Connection, sql: str, params: tuple[Any, ...], task_id: int
) -> Task | None:
    """Run a compare-and-set UPDATE of one task: the task as it left it, or None if the
    condition did not hold."""
    if not _changed(conn, sql, params):
        return None
    return _task(conn, task_id)


def _transition_value(column: str, value: datetime | int | None) -> str | int | None:
    if value is None:
        return None
    if _TRANSITION_FIELDS[column]:
        if not isinstance(value, datetime):
            raise TypeError(f"{column} must be a datetime, not {type(value).__name__}")
        return to_db(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{column} must be an int, not {type(value).__name__}")
    return value
