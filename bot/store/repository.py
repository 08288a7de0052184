"""Every query the bot runs, as typed async methods on one `Store`."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import aiosqlite

from .database import Database
from .errors import LinkRequestNotPending, NotFound
from .rows import (
    AUDIT_RESULTS,
    OPEN_TASK_STATES,
    AuditEntry,
    AuditResult,
    GuildSettings,
    LinkRequest,
    LinkRequestState,
    SessionLink,
    Task,
    TaskState,
    from_db,
    to_db,
)

__all__ = ["TASK_TRANSITION_FIELDS", "Store"]

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

_OPEN_STATES_SQL: Final = ", ".join(f"'{state.value}'" for state in OPEN_TASK_STATES)


# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
_TASKS_MISSING_FEED_MESSAGE: Final = (
    "SELECT * FROM tasks WHERE feed_channel_id IS NOT NULL AND feed_message_id IS NULL"  # noqa: S608
    f" AND state IN ({_OPEN_STATES_SQL}) ORDER BY id"
)

# Sessions to poll, without loading whole rows: at 10,000 links that is most of start-up memory.
_LINKED_SESSIONS: Final = (
    "SELECT l.chaster_session_id, MAX(t.id IS NOT NULL) FROM session_links AS l"  # noqa: S608
    " LEFT JOIN tasks AS t ON t.link_id = l.id"
    f" AND t.state IN ({_OPEN_STATES_SQL})"
    " WHERE l.closed_at IS NULL GROUP BY l.chaster_session_id ORDER BY MIN(l.id)"
)

_SET_FEED_CHANNEL: Final = (
    "INSERT INTO guild_settings (guild_id, feed_channel_id, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET feed_channel_id = excluded.feed_channel_id, updated_at = excluded.updated_at"
)
_SET_WEARER_CAN_COMPLETE: Final = (
    "INSERT INTO guild_settings (guild_id, wearer_can_complete, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (guild_id) DO UPDATE"
    " SET wearer_can_complete = excluded.wearer_can_complete, updated_at = excluded.updated_at"
)


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


class Store:
    """The repository the service receives: each method is one committed unit of work.

    Times are aware datetimes (naive ones raise ValueError); `now` always comes from the caller.
    Constraint failures raise `ConstraintViolation` or a subclass (`LinkExists`, `OpenTaskExists`).
    """

    def __init__(self, db: Database) -> None:
        """Use an open, migrated database."""
        self._db = db

    @property
    def db(self) -> Database:
        """The database this store reads and writes."""
        return self._db

    # ---- guild settings ---------------------------------------------------------------------

    async def get_guild_settings(self, guild_id: int) -> GuildSettings:
        """The server's settings, or the defaults when it has never changed any."""
        async with self._db.reading() as conn:
            row = await _one(conn, "SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return GuildSettings.from_row(row) if row is not None else GuildSettings(guild_id)

    async def set_feed_channel(
        self, guild_id: int, channel_id: int | None, *, now: datetime | None = None
    ) -> GuildSettings:
        """Set (or clear, with None) the server's feed channel."""
        return await self._upsert_setting(_SET_FEED_CHANNEL, guild_id, channel_id, now)

    async def set_wearer_can_complete(
        self, guild_id: int, allowed: bool, *, now: datetime | None = None
    ) -> GuildSettings:
        """Allow or forbid wearers to complete their own tasks in this server."""
        return await self._upsert_setting(_SET_WEARER_CAN_COMPLETE, guild_id, int(allowed), now)

    async def _upsert_setting(
        self, sql: str, guild_id: int, value: int | None, now: datetime | None
    ) -> GuildSettings:
        stamp = to_db(now if now is not None else datetime.now(UTC))
        async with self._db.transaction() as conn:
            await _write(conn, sql, (guild_id, value, stamp))
            row = await _one(conn, "SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        assert row is not None
        return GuildSettings.from_row(row)

    # ---- session links ----------------------------------------------------------------------

    async def create_link(
        self,
        *,
        guild_id: int,
        wearer_id: int,
        keyholder_id: int,
        chaster_session_id: str,
        lock_id: str,
        now: datetime,
        channel_id: int | None = None,
        keyholder_is_lock_keyholder: bool | None = None,
    ) -> SessionLink:
        """Link a session to a wearer; `LinkExists` if the wearer has an open link here."""
        async with self._db.transaction() as conn:
            return await self._insert_link(
                conn,
                guild_id=guild_id,
                wearer_id=wearer_id,
                keyholder_id=keyholder_id,
                chaster_session_id=chaster_session_id,
                lock_id=lock_id,
                now=now,
                channel_id=channel_id,
                keyholder_is_lock_keyholder=keyholder_is_lock_keyholder,
            )

    async def _insert_link(
        self,
        conn: aiosqlite.Connection,
        *,
        guild_id: int,
        wearer_id: int,
        keyholder_id: int,
        chaster_session_id: str,
        lock_id: str,
        now: datetime,
        channel_id: int | None,
        keyholder_is_lock_keyholder: bool | None = None,
    ) -> SessionLink:
        # No check-then-insert: the partial unique index decides, and transaction() maps it.
        link_id = await _write(
            conn,
            "INSERT INTO session_links (guild_id, wearer_id, keyholder_id, chaster_session_id,"
            " lock_id, created_at, channel_id, keyholder_is_lock_keyholder)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                guild_id,
                wearer_id,
                keyholder_id,
                chaster_session_id,
                lock_id,
                to_db(now),
                channel_id,
                None if keyholder_is_lock_keyholder is None else int(keyholder_is_lock_keyholder),
            ),
        )
        row = await _one(conn, "SELECT * FROM session_links WHERE id = ?", (link_id,))
        assert row is not None
        return SessionLink.from_row(row)

    async def get_open_link(self, guild_id: int, wearer_id: int) -> SessionLink | None:
        """The wearer's open link in this server, if any."""
        async with self._db.reading() as conn:
            row = await _one(
                conn,
                "SELECT * FROM session_links"
                " WHERE guild_id = ? AND wearer_id = ? AND closed_at IS NULL",
                (guild_id, wearer_id),
            )
        return SessionLink.from_row(row) if row is not None else None

    async def get_link(self, link_id: int) -> SessionLink | None:
        """A link by id, open or closed."""
        async with self._db.reading() as conn:
            row = await _one(conn, "SELECT * FROM session_links WHERE id = ?", (link_id,))
        return SessionLink.from_row(row) if row is not None else None

    async def close_link(
        self, link_id: int, *, closed_by: int | None, reason: str, now: datetime
    ) -> SessionLink | None:
        """Close an open link; None when it was already closed (or does not exist)."""
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE session_links SET closed_at = ?, closed_by = ?, close_reason = ?"
                " WHERE id = ? AND closed_at IS NULL",
                (to_db(now), closed_by, reason, link_id),
            )
            if not changed:
                return None
            row = await _one(conn, "SELECT * FROM session_links WHERE id = ?", (link_id,))
        assert row is not None
        return SessionLink.from_row(row)

    async def set_keyholder_is_lock_keyholder(self, link_id: int, value: bool) -> None:
        """Record whether the link's keyholder of record is its lock's keyholder in Chaster."""
        await self._db.write_one(
            "UPDATE session_links SET keyholder_is_lock_keyholder = ? WHERE id = ?",
            (int(value), link_id),
        )

    async def linked_sessions(self) -> list[tuple[str, bool]]:
        """Each session with an open link, and whether one of its links has an open task."""
        async with self._db.reading() as conn:
            rows = await _all(conn, _LINKED_SESSIONS)
        return [(row[0], bool(row[1])) for row in rows]

    async def open_links_for_session(self, chaster_session_id: str) -> list[SessionLink]:
        """Open links to one Chaster session (one per server it is linked in)."""
        async with self._db.reading() as conn:
            rows = await _all(
                conn,
                "SELECT * FROM session_links"
                " WHERE chaster_session_id = ? AND closed_at IS NULL ORDER BY id",
                (chaster_session_id,),
            )
        return [SessionLink.from_row(row) for row in rows]

    async def open_links(self, guild_id: int | None = None) -> list[SessionLink]:
        """All open links, or those of one server."""
        async with self._db.reading() as conn:
            if guild_id is None:
                rows = await _all(
                    conn, "SELECT * FROM session_links WHERE closed_at IS NULL ORDER BY id"
                )
            else:
                rows = await _all(
                    conn,
                    "SELECT * FROM session_links"
                    " WHERE guild_id = ? AND closed_at IS NULL ORDER BY id",
                    (guild_id,),
                )
        return [SessionLink.from_row(row) for row in rows]

    # ---- link requests ----------------------------------------------------------------------

    async def create_link_request(
        self,
        *,
        guild_id: int,
        channel_id: int,
        wearer_id: int,
        requested_by: int,
        chaster_session_id: str,
        lock_id: str,
        now: datetime,
        expires_at: datetime,
    ) -> LinkRequest:
        """Record a pending request for the wearer's consent."""
        async with self._db.transaction() as conn:
            request_id = await _write(
                conn,
                "INSERT INTO link_requests (guild_id, channel_id, wearer_id, requested_by,"
                " chaster_session_id, lock_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    wearer_id,
                    requested_by,
                    chaster_session_id,
                    lock_id,
                    to_db(now),
                    to_db(expires_at),
                ),
            )
            row = await _one(conn, "SELECT * FROM link_requests WHERE id = ?", (request_id,))
        assert row is not None
        return LinkRequest.from_row(row)

    async def set_link_request_message(self, request_id: int, message_id: int) -> LinkRequest:
        """Remember the Discord message that carries the request; `NotFound` if no such id."""
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE link_requests SET message_id = ? WHERE id = ?",
                (message_id, request_id),
            )
            if not changed:
                raise NotFound(f"no link request {request_id}")
            row = await _one(conn, "SELECT * FROM link_requests WHERE id = ?", (request_id,))
        assert row is not None
        return LinkRequest.from_row(row)

    async def get_link_request(self, request_id: int) -> LinkRequest | None:
        """A link request by id, whatever its state."""
        async with self._db.reading() as conn:
            row = await _one(conn, "SELECT * FROM link_requests WHERE id = ?", (request_id,))
        return LinkRequest.from_row(row) if row is not None else None

    async def get_link_request_by_message(self, message_id: int) -> LinkRequest | None:
        """The link request carried by a Discord message, whatever its state."""
        async with self._db.reading() as conn:
            row = await _one(
                conn, "SELECT * FROM link_requests WHERE message_id = ?", (message_id,)
            )
        return LinkRequest.from_row(row) if row is not None else None

    async def resolve_link_request(
        self, request_id: int, state: LinkRequestState, *, now: datetime
    ) -> LinkRequest | None:
        """Move a pending request to expired or cancelled; None if it was no longer pending.

        Accepting goes through `accept_link_request`, which also creates the link.
        """
        if state not in (LinkRequestState.EXPIRED, LinkRequestState.CANCELLED):
            raise ValueError(
                f"resolve_link_request cannot set {state!r}; use accept_link_request to accept"
            )
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE link_requests SET state = ?, resolved_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (state.value, to_db(now), request_id),
            )
            if not changed:
                return None
            row = await _one(conn, "SELECT * FROM link_requests WHERE id = ?", (request_id,))
        assert row is not None
        return LinkRequest.from_row(row)

    async def accept_link_request(self, request_id: int, *, now: datetime) -> SessionLink:
        """Accept a pending, unexpired request and create its link in one transaction.

        The requester becomes the keyholder of record. `LinkRequestNotPending` if the request
        is not pending or has expired; `LinkExists` if the wearer got linked meanwhile. On
        either error nothing changes.
        """
        stamp = to_db(now)
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE link_requests SET state = 'accepted', resolved_at = ?"
                " WHERE id = ? AND state = 'pending' AND expires_at > ?",
                (stamp, request_id, stamp),
            )
            if not changed:
                raise LinkRequestNotPending(
                    f"link request {request_id} is not pending or has expired"
                )
            row = await _one(conn, "SELECT * FROM link_requests WHERE id = ?", (request_id,))
            assert row is not None
            request = LinkRequest.from_row(row)
            return await self._insert_link(
                conn,
                guild_id=request.guild_id,
                wearer_id=request.wearer_id,
                keyholder_id=request.requested_by,
                chaster_session_id=request.chaster_session_id,
                lock_id=request.lock_id,
                now=now,
                channel_id=request.channel_id,
                # A request is made only when Chaster does not show the requester as the lock's
                # keyholder.
                keyholder_is_lock_keyholder=False,
            )

    async def pending_link_requests(self) -> list[LinkRequest]:
        """All pending requests, oldest first (including overdue ones not yet expired)."""
        async with self._db.reading() as conn:
            rows = await _all(
                conn, "SELECT * FROM link_requests WHERE state = 'pending' ORDER BY id"
            )
        return [LinkRequest.from_row(row) for row in rows]

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
    ) -> Task:
        """Record a newly assigned task; `OpenTaskExists` if the link already has an open one.

        `feed_channel_id` is where its feed message belongs, kept before the message exists so
        a message that was never posted (a crash in between) can be posted on the next start.
        """
        stamp = to_db(now)
        async with self._db.transaction() as conn:
            task_id = await _write(
                conn,
                "INSERT INTO tasks (link_id, description, points, verification_required,"
                " duration_seconds, state, assigned_by, assigned_at, updated_at, feed_channel_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                ),
            )
            return await self._task(conn, task_id)

    async def _task(self, conn: aiosqlite.Connection, task_id: int) -> Task:
        row = await _one(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"no task {task_id}")
        return Task.from_row(row)

    async def get_task(self, task_id: int) -> Task | None:
        """A task by id."""
        async with self._db.reading() as conn:
            row = await _one(conn, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        return Task.from_row(row) if row is not None else None

    async def get_open_task(self, link_id: int) -> Task | None:
        """The link's open task, if any."""
        async with self._db.reading() as conn:
            row = await _one(
                conn,
                f"SELECT * FROM tasks WHERE link_id = ? AND state IN ({_OPEN_STATES_SQL})",  # noqa: S608
                (link_id,),
            )
        return Task.from_row(row) if row is not None else None

    async def get_task_by_feed_message(self, message_id: int) -> Task | None:
        """The task whose feed post is this Discord message."""
        async with self._db.reading() as conn:
            row = await _one(conn, "SELECT * FROM tasks WHERE feed_message_id = ?", (message_id,))
        return Task.from_row(row) if row is not None else None

    async def latest_task(self, link_id: int) -> Task | None:
        """The link's most recent task, open or closed."""
        async with self._db.reading() as conn:
            row = await _one(
                conn,
                "SELECT * FROM tasks WHERE link_id = ? ORDER BY id DESC LIMIT 1",
                (link_id,),
            )
        return Task.from_row(row) if row is not None else None

    async def set_feed_message(self, task_id: int, *, channel_id: int, message_id: int) -> Task:
        """Remember the task's feed post; `NotFound` if no such task. Leaves `updated_at` alone."""
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE tasks SET feed_channel_id = ?, feed_message_id = ? WHERE id = ?",
                (channel_id, message_id, task_id),
            )
            if not changed:
                raise NotFound(f"no task {task_id}")
            return await self._task(conn, task_id)

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
        async with self._db.transaction() as conn:
            # Column names come only from the whitelist above; every value is a parameter.
            changed = await _changed(
                conn,
                f"UPDATE tasks SET {', '.join(assignments)}"  # noqa: S608
                f" WHERE id = ? AND state IN ({_placeholders(len(states))})",
                (*values, task_id, *(state.value for state in states)),
            )
            if not changed:
                return None
            return await self._task(conn, task_id)

    async def open_tasks(self) -> list[Task]:
        """Every open task, oldest first."""
        async with self._db.reading() as conn:
            rows = await _all(
                conn,
                f"SELECT * FROM tasks WHERE state IN ({_OPEN_STATES_SQL}) ORDER BY id",  # noqa: S608
            )
        return [Task.from_row(row) for row in rows]

    async def pending_timer_deadlines(self) -> list[tuple[int, datetime]]:
        """(task id, timer end) of every running timer not yet announced, soonest first."""
        async with self._db.reading() as conn:
            rows = await _all(
                conn,
                "SELECT id, timer_ends_at FROM tasks WHERE state = 'timer_running'"
                " AND timer_notified_at IS NULL AND timer_ends_at IS NOT NULL"
                " ORDER BY timer_ends_at, id",
            )
        return [(row[0], from_db(row[1])) for row in rows]

    async def mark_timer_notified(self, task_id: int, *, now: datetime) -> Task | None:
        """Compare-and-set: note the timer's notice as sent; None if already sent or no timer."""
        async with self._db.transaction() as conn:
            changed = await _changed(
                conn,
                "UPDATE tasks SET timer_notified_at = ? WHERE id = ?"
                " AND state = 'timer_running' AND timer_notified_at IS NULL",
                (to_db(now), task_id),
            )
            if not changed:
                return None
            return await self._task(conn, task_id)

    async def tasks_missing_feed_message(self) -> list[Task]:
        """Open tasks meant for a feed channel whose message was never posted."""
        async with self._db.reading() as conn:
            rows = await _all(conn, _TASKS_MISSING_FEED_MESSAGE)
        return [Task.from_row(row) for row in rows]

    # ---- webhook deliveries -----------------------------------------------------------------

    async def webhook_delivery_seen(self, request_id: str) -> bool:
        """Whether a delivery with this `requestId` has been handled."""
        async with self._db.reading() as conn:
            row = await _one(
                conn, "SELECT 1 FROM webhook_deliveries WHERE request_id = ?", (request_id,)
            )
        return row is not None

    async def record_webhook_delivery(
        self, request_id: str, *, event: str, now: datetime, keep: timedelta = timedelta(days=2)
    ) -> bool:
        """Remember a delivery; False if this `requestId` was seen before (a retry).

        Entries older than `keep` are dropped: Chaster stops retrying long before that.
        """
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM webhook_deliveries WHERE received_at < ?", (to_db(now - keep),)
            )
            inserted = await _changed(
                conn,
                "INSERT INTO webhook_deliveries (request_id, event, received_at) VALUES (?, ?, ?)"
                " ON CONFLICT (request_id) DO NOTHING",
                (request_id, event, to_db(now)),
            )
        return inserted == 1

    # ---- audit log --------------------------------------------------------------------------

    async def record_audit(
        self,
        *,
        action: str,
        result: AuditResult,
        guild_id: int | None,
        user_id: int | None,
        detail: str = "",
        link_id: int | None = None,
        task_id: int | None = None,
        now: datetime,
    ) -> AuditEntry:
        """Append one attempted action and its outcome to the audit log."""
        if result not in AUDIT_RESULTS:
            raise ValueError(f"audit result must be one of {sorted(AUDIT_RESULTS)}, not {result!r}")
        # Every action writes one of these: a single statement, no transaction, no read-back.
        at = to_db(now)
        entry_id = await self._db.write_one(
            "INSERT INTO audit_log (at, guild_id, user_id, action, result, detail, link_id,"
            " task_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, guild_id, user_id, action, result, detail, link_id, task_id),
        )
        return AuditEntry(
            id=entry_id,
            at=from_db(at),
            guild_id=guild_id,
            user_id=user_id,
            action=action,
            result=result,
            detail=detail,
            link_id=link_id,
            task_id=task_id,
        )

    async def audit_entries(
        self, *, guild_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest audit entries first, optionally for one server only."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        async with self._db.reading() as conn:
            if guild_id is None:
                rows = await _all(
                    conn, "SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?", (limit,)
                )
            else:
                rows = await _all(
                    conn,
                    "SELECT * FROM audit_log WHERE guild_id = ? ORDER BY at DESC, id DESC LIMIT ?",
                    (guild_id, limit),
                )
        return [AuditEntry.from_row(row) for row in rows]


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
