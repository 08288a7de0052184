"""`Store` methods for session links: a wearer's Chaster session, linked in one server."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Final

from ._queries import _OPEN_STATES_SQL, StoreBase, _all, _changed, _one, _write
from .automation_rows import LinkDefaults
from .rows import SessionLink, to_db

_SELECT_LINK: Final = "SELECT * FROM session_links WHERE id = ?"
# _OPEN_STATES_SQL is built from the TaskState enum, never from input.
# Sessions to poll, without loading whole rows: at 10,000 links that is most of start-up memory.
_LINKED_SESSIONS: Final = (
    "SELECT l.chaster_session_id, MAX(t.id IS NOT NULL) FROM session_links AS l"  # noqa: S608
    " LEFT JOIN tasks AS t ON t.link_id = l.id"
    f" AND t.state IN ({_OPEN_STATES_SQL})"
    " WHERE l.closed_at IS NULL GROUP BY l.chaster_session_id ORDER BY MIN(l.id)"
)


class LinksMixin(StoreBase):
    """Creating, finding and closing session links."""

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
        keyholder_chaster_id: str | None = None,
        defaults: LinkDefaults | None = None,
    ) -> SessionLink:
        """Link a session to a wearer, with the `defaults` the lock's keyholder chose, in one
        unit of work; `LinkExists` if the wearer has an open link here. A link made from a
        wearer's or keyholder's code ends the proofs that waited for it."""

        def create(conn: sqlite3.Connection) -> SessionLink:
            link = _insert_link(
                conn,
                guild_id=guild_id,
                wearer_id=wearer_id,
                keyholder_id=keyholder_id,
                chaster_session_id=chaster_session_id,
                lock_id=lock_id,
                now=now,
                channel_id=channel_id,
                keyholder_is_lock_keyholder=keyholder_is_lock_keyholder,
                keyholder_chaster_id=keyholder_chaster_id,
                defaults=defaults or LinkDefaults(),
            )
            for penalty in (defaults or LinkDefaults()).penalties:
                _write(
                    conn,
                    "INSERT INTO penalties (link_id, occasion, action, seconds, reason, set_by,"
                    " set_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        link.id,
                        penalty.on.value,
                        penalty.action.value,
                        penalty.seconds,
                        penalty.reason,
                        keyholder_id,
                        to_db(now),
                    ),
                )
            _write(
                conn,
                "DELETE FROM lock_proofs WHERE guild_id = ? AND chaster_session_id = ?",
                (guild_id, chaster_session_id),
            )
            return link

        return await self._db.write(create)

    async def get_open_link(self, guild_id: int, wearer_id: int) -> SessionLink | None:
        """The wearer's open link in this server, if any."""
        return await self._read_link(
            "SELECT * FROM session_links"
            " WHERE guild_id = ? AND wearer_id = ? AND closed_at IS NULL",
            (guild_id, wearer_id),
        )

    async def get_link(self, link_id: int) -> SessionLink | None:
        """A link by id, open or closed."""
        return await self._read_link(_SELECT_LINK, (link_id,))

    async def _read_link(self, sql: str, params: tuple[Any, ...]) -> SessionLink | None:
        def read(conn: sqlite3.Connection) -> SessionLink | None:
            row = _one(conn, sql, params)
            return SessionLink.from_row(row) if row is not None else None

        return await self._db.look_up(read)

    async def close_link(
        self, link_id: int, *, closed_by: int | None, reason: str, now: datetime
    ) -> SessionLink | None:
        """Close an open link; None when it was already closed (or does not exist)."""

        def close(conn: sqlite3.Connection) -> SessionLink | None:
            changed = _changed(
                conn,
                "UPDATE session_links SET closed_at = ?, closed_by = ?, close_reason = ?"
                " WHERE id = ? AND closed_at IS NULL",
                (to_db(now), closed_by, reason, link_id),
            )
            return _link(conn, link_id) if changed else None

        return await self._db.write(close)

    async def set_keyholder_of_record(
        self, link_id: int, *, keyholder_id: int, keyholder_chaster_id: str
    ) -> SessionLink | None:
        """Make the person a keyholder's code proved the link's keyholder of record (acting as
        the lock's keyholder in Chaster); None when the link is closed."""

        def change(conn: sqlite3.Connection) -> SessionLink | None:
            changed = _changed(
                conn,
                "UPDATE session_links SET keyholder_id = ?, keyholder_chaster_id = ?,"
                " keyholder_is_lock_keyholder = 1 WHERE id = ? AND closed_at IS NULL",
                (keyholder_id, keyholder_chaster_id, link_id),
            )
            return _link(conn, link_id) if changed else None

        return await self._db.write(change)

    async def set_keyholder_is_lock_keyholder(self, link_id: int, value: bool) -> None:
        """Record whether the link's keyholder of record is its lock's keyholder in Chaster."""
        await self._db.write_one(
            "UPDATE session_links SET keyholder_is_lock_keyholder = ? WHERE id = ?",
            (int(value), link_id),
        )

    async def linked_sessions(self) -> list[tuple[str, bool]]:
        """Each session with an open link, and whether one of its links has an open task."""
        rows = await self._db.read(lambda conn: _all(conn, _LINKED_SESSIONS))
        return [(row[0], bool(row[1])) for row in rows]

    async def open_links_for_session(self, chaster_session_id: str) -> list[SessionLink]:
        """Open links to one Chaster session (one per server it is linked in)."""
        return await self._read_links(
            "SELECT * FROM session_links"
            " WHERE chaster_session_id = ? AND closed_at IS NULL ORDER BY id",
            (chaster_session_id,),
        )

    async def open_links_held_by(self, guild_id: int, keyholder_id: int) -> list[SessionLink]:
        """The open links of one server whose keyholder of record is `keyholder_id`."""
        return await self._read_links(
            "SELECT * FROM session_links WHERE guild_id = ? AND keyholder_id = ?"
            " AND closed_at IS NULL ORDER BY id",
            (guild_id, keyholder_id),
        )

    async def open_links(self, guild_id: int | None = None) -> list[SessionLink]:
        """All open links, or those of one server."""
        if guild_id is None:
            return await self._read_links(
                "SELECT * FROM session_links WHERE closed_at IS NULL ORDER BY id", ()
            )
        return await self._read_links(
            "SELECT * FROM session_links WHERE guild_id = ? AND closed_at IS NULL ORDER BY id",
            (guild_id,),
        )

    async def _read_links(self, sql: str, params: tuple[Any, ...]) -> list[SessionLink]:
        rows = await self._db.read(lambda conn: _all(conn, sql, params))
        return [SessionLink.from_row(row) for row in rows]


def _link(conn: sqlite3.Connection, link_id: int) -> SessionLink:
    row = _one(conn, _SELECT_LINK, (link_id,))
    assert row is not None
    return SessionLink.from_row(row)


def _insert_link(
    conn: sqlite3.Connection,
    *,
    guild_id: int,
    wearer_id: int,
    keyholder_id: int,
    chaster_session_id: str,
    lock_id: str,
    now: datetime,
    channel_id: int | None,
    keyholder_is_lock_keyholder: bool | None = None,
    keyholder_chaster_id: str | None = None,
    defaults: LinkDefaults | None = None,
) -> SessionLink:
    defaults = defaults or LinkDefaults()
    # No check-then-insert: the partial unique index decides, and Database.write maps it.
    link_id = _write(
        conn,
        "INSERT INTO session_links (guild_id, wearer_id, keyholder_id, chaster_session_id,"
        " lock_id, created_at, channel_id, keyholder_is_lock_keyholder, keyholder_chaster_id,"
        " wearer_can_complete, default_deadline_seconds)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            guild_id,
            wearer_id,
            keyholder_id,
            chaster_session_id,
            lock_id,
            to_db(now),
            channel_id,
            None if keyholder_is_lock_keyholder is None else int(keyholder_is_lock_keyholder),
            keyholder_chaster_id,
            None if defaults.wearer_can_complete is None else int(defaults.wearer_can_complete),
            defaults.deadline_seconds,
        ),
    )
    return _link(conn, link_id)
