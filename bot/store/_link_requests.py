"""`Store` methods for link requests: a keyholder's request awaiting the wearer's consent."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any, Final

from ._links import LinksMixin, _insert_link
from ._queries import _all, _changed, _one, _write
from .errors import LinkRequestNotPending, NotFound
from .rows import LinkRequest, LinkRequestState, SessionLink, to_db

_SELECT_REQUEST: Final = "SELECT * FROM link_requests WHERE id = ?"


class LinkRequestsMixin(LinksMixin):
    """Recording, resolving and accepting link requests; accepting one creates its link."""

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

        def insert(conn: sqlite3.Connection) -> LinkRequest:
            request_id = _write(
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
            return _request(conn, request_id)

        return await self._db.write(insert)

    async def set_link_request_message(self, request_id: int, message_id: int) -> LinkRequest:
        """Remember the Discord message that carries the request; `NotFound` if no such id."""

        def update(conn: sqlite3.Connection) -> LinkRequest:
            changed = _changed(
                conn,
                "UPDATE link_requests SET message_id = ? WHERE id = ?",
                (message_id, request_id),
            )
            if not changed:
                raise NotFound(f"no link request {request_id}")
            return _request(conn, request_id)

        return await self._db.write(update)

    async def get_link_request(self, request_id: int) -> LinkRequest | None:
        """A link request by id, whatever its state."""
        return await self._read_request(_SELECT_REQUEST, (request_id,))

    async def get_link_request_by_message(self, message_id: int) -> LinkRequest | None:
        """The link request carried by a Discord message, whatever its state."""
        return await self._read_request(
            "SELECT * FROM link_requests WHERE message_id = ?", (message_id,)
        )

    async def _read_request(self, sql: str, params: tuple[Any, ...]) -> LinkRequest | None:
        def read(conn: sqlite3.Connection) -> LinkRequest | None:
            row = _one(conn, sql, params)
            return LinkRequest.from_row(row) if row is not None else None

        return await self._db.look_up(read)

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

        def resolve(conn: sqlite3.Connection) -> LinkRequest | None:
            changed = _changed(
                conn,
                "UPDATE link_requests SET state = ?, resolved_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (state.value, to_db(now), request_id),
            )
            return _request(conn, request_id) if changed else None

        return await self._db.write(resolve)

    async def accept_link_request(self, request_id: int, *, now: datetime) -> SessionLink:
        """Accept a pending, unexpired request and create its link in one transaction.

        The requester becomes the keyholder of record. `LinkRequestNotPending` if the request
        is not pending or has expired; `LinkExists` if the wearer got linked meanwhile. On
        either error nothing changes.
        """
        stamp = to_db(now)

        def accept(conn: sqlite3.Connection) -> SessionLink:
            changed = _changed(
                conn,
                "UPDATE link_requests SET state = 'accepted', resolved_at = ?"
                " WHERE id = ? AND state = 'pending' AND expires_at > ?",
                (stamp, request_id, stamp),
            )
            if not changed:
                raise LinkRequestNotPending(
                    f"link request {request_id} is not pending or has expired"
                )
            request = _request(conn, request_id)
            return _insert_link(
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

        return await self._db.write(accept)

    async def pending_link_requests(self) -> list[LinkRequest]:
        """All pending requests, oldest first (including overdue ones not yet expired)."""
        rows = await self._db.read(
            lambda conn: _all(
                conn, "SELECT * FROM link_requests WHERE state = 'pending' ORDER BY id"
            )
        )
        return [LinkRequest.from_row(row) for row in rows]


def _request(conn: sqlite3.Connection, request_id: int) -> LinkRequest:
    row = _one(conn, _SELECT_REQUEST, (request_id,))
    assert row is not None
    return LinkRequest.from_row(row)
