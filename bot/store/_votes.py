"""`Store` methods for votes: their options, their end, and what came of them."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import datetime
from typing import Final

from ._queries import StoreBase, _all, _changed, _one, _write
from .errors import NotFound
from .library_rows import Vote, VoteOption, VoteOutcome, VoteState
from .rows import to_db

_SELECT: Final = "SELECT * FROM votes WHERE id = ?"


def _vote(conn: sqlite3.Connection, vote_id: int) -> Vote:
    row = _one(conn, _SELECT, (vote_id,))
    if row is None:
        raise NotFound(f"no vote {vote_id}")
    return Vote.from_row(row)


class VotesMixin(StoreBase):
    async def create_vote(
        self,
        *,
        link_id: int,
        guild_id: int,
        wearer_id: int,
        started_by: int,
        channel_id: int,
        options: list[VoteOption],
        now: datetime,
        ends_at: datetime,
    ) -> Vote:
        """Record an open vote; `ConstraintViolation` when the wearer already has one here."""
        encoded = json.dumps([dataclasses.asdict(option) for option in options])

        def insert(conn: sqlite3.Connection) -> Vote:
            vote_id = _write(
                conn,
                "INSERT INTO votes (link_id, guild_id, wearer_id, started_by, channel_id,"
                " options, created_at, ends_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    link_id,
                    guild_id,
                    wearer_id,
                    started_by,
                    channel_id,
                    encoded,
                    to_db(now),
                    to_db(ends_at),
                ),
            )
            return _vote(conn, vote_id)

        return await self._db.write(insert)

    async def get_vote(self, vote_id: int) -> Vote | None:
        row = await self._db.read(lambda conn: _one(conn, _SELECT, (vote_id,)))
        return Vote.from_row(row) if row is not None else None

    async def current_vote(self, guild_id: int, wearer_id: int) -> Vote | None:
        """The wearer's vote here that has not ended, if any."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                "SELECT * FROM votes WHERE guild_id = ? AND wearer_id = ? AND state != 'ended'",
                (guild_id, wearer_id),
            )
        )
        return Vote.from_row(row) if row is not None else None

    async def pending_votes(self) -> list[Vote]:
        """Every vote that has not ended, soonest end first."""
        rows = await self._db.read(
            lambda conn: _all(
                conn, "SELECT * FROM votes WHERE state != 'ended' ORDER BY ends_at, id"
            )
        )
        return [Vote.from_row(row) for row in rows]

    async def set_vote_message(self, vote_id: int, message_id: int) -> Vote:
        def update(conn: sqlite3.Connection) -> Vote:
            _changed(conn, "UPDATE votes SET message_id = ? WHERE id = ?", (message_id, vote_id))
            return _vote(conn, vote_id)

        return await self._db.write(update)

    async def decide_vote(self, vote_id: int, *, winner: int, votes: int) -> Vote | None:
        """Open -> deciding with its winner; None if it was no longer open."""

        def update(conn: sqlite3.Connection) -> Vote | None:
            changed = _changed(
                conn,
                "UPDATE votes SET state = 'deciding', winner = ?, winner_votes = ?"
                " WHERE id = ? AND state = 'open'",
                (winner, votes, vote_id),
            )
            return _vote(conn, vote_id) if changed else None

        return await self._db.write(update)

    async def end_vote(
        self, vote_id: int, *, outcome: VoteOutcome, task_id: int | None, now: datetime
    ) -> Vote | None:
        """Record what came of a vote that has not ended; None if it already had."""

        def update(conn: sqlite3.Connection) -> Vote | None:
            changed = _changed(
                conn,
                "UPDATE votes SET state = ?, outcome = ?, task_id = ?, ended_at = ?"
                " WHERE id = ? AND state != 'ended'",
                (VoteState.ENDED.value, outcome.value, task_id, to_db(now), vote_id),
            )
            return _vote(conn, vote_id) if changed else None

        return await self._db.write(update)
