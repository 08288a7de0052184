"""`Store` methods for linking by code: the one-time codes of the extension's main page, the
misses that limit guessing, and the proofs that wait for the other party of a link."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ._queries import StoreBase, _all, _changed, _one, _write
from .rows import from_db, to_db

_SELECT_CODE: Final = "SELECT * FROM link_codes WHERE code_hash = ?"


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A code shown on the main page to the lock's wearer or keyholder."""

    code_hash: str
    chaster_session_id: str
    lock_id: str
    # "wearer" or "keyholder": who opened the page.
    role: str
    chaster_user_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LinkCode:
        return cls(
            code_hash=row["code_hash"],
            chaster_session_id=row["chaster_session_id"],
            lock_id=row["lock_id"],
            role=row["role"],
            chaster_user_id=row["chaster_user_id"],
            created_at=from_db(row["created_at"]),
            expires_at=from_db(row["expires_at"]),
            used_at=from_db(row["used_at"]),
        )


@dataclass(frozen=True, slots=True)
class LockProof:
    """Who a code proved, in one server, to be the lock's wearer or keyholder."""

    guild_id: int
    chaster_session_id: str
    role: str
    user_id: int
    chaster_user_id: str
    expires_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LockProof:
        return cls(
            guild_id=row["guild_id"],
            chaster_session_id=row["chaster_session_id"],
            role=row["role"],
            user_id=row["user_id"],
            chaster_user_id=row["chaster_user_id"],
            expires_at=from_db(row["expires_at"]),
        )


class LinkCodesMixin(StoreBase):
    async def issue_link_code(
        self,
        *,
        code_hash: str,
        chaster_session_id: str,
        lock_id: str,
        role: str,
        chaster_user_id: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Record a new code; the codes of this session and role not used yet stop working,
        so only the code on the page last opened does."""

        def issue(conn: sqlite3.Connection) -> None:
            _write(
                conn,
                "DELETE FROM link_codes WHERE chaster_session_id = ? AND role = ?"
                " AND used_at IS NULL",
                (chaster_session_id, role),
            )
            _write(
                conn,
                "INSERT INTO link_codes (code_hash, chaster_session_id, lock_id, role,"
                " chaster_user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    code_hash,
                    chaster_session_id,
                    lock_id,
                    role,
                    chaster_user_id,
                    to_db(now),
                    to_db(expires_at),
                ),
            )

        await self._db.write(issue)

    async def get_link_code(self, code_hash: str) -> LinkCode | None:
        row = await self._db.read(lambda conn: _one(conn, _SELECT_CODE, (code_hash,)))
        return LinkCode.from_row(row) if row is not None else None

    async def use_link_code(
        self, code_hash: str, *, user_id: int, guild_id: int, now: datetime
    ) -> bool:
        """Mark the code used; False when it was used (or expired) meanwhile."""
        changed = await self._db.write(
            lambda conn: _changed(
                conn,
                "UPDATE link_codes SET used_at = ?, used_by = ?, used_in = ?"
                " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                (to_db(now), user_id, guild_id, code_hash, to_db(now)),
            )
        )
        return bool(changed)

    async def link_code_misses(self, user_id: int, *, since: datetime) -> list[datetime]:
        """When the person typed a code that did not work, since `since`, oldest first."""
        rows = await self._db.read(
            lambda conn: _all(
                conn,
                "SELECT at FROM link_code_misses WHERE user_id = ? AND at > ? ORDER BY at",
                (user_id, to_db(since)),
            )
        )
        return [from_db(row[0]) for row in rows]

    async def record_link_code_miss(
        self, user_id: int, *, now: datetime, forget_before: datetime
    ) -> None:
        """Count a code that did not work; misses older than `forget_before` are dropped."""

        def record(conn: sqlite3.Connection) -> None:
            _write(
                conn,
                "DELETE FROM link_code_misses WHERE user_id = ? AND at <= ?",
                (user_id, to_db(forget_before)),
            )
            _write(
                conn,
                "INSERT INTO link_code_misses (user_id, at) VALUES (?, ?)",
                (user_id, to_db(now)),
            )

        await self._db.write(record)

    async def prove(
        self,
        *,
        guild_id: int,
        chaster_session_id: str,
        role: str,
        user_id: int,
        chaster_user_id: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Keep what a code proved while the link waits for the other party (the newest proof
        of a role wins)."""
        await self._db.write(
            lambda conn: _write(
                conn,
                "INSERT INTO lock_proofs (guild_id, chaster_session_id, role, user_id,"
                " chaster_user_id, proven_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (guild_id, chaster_session_id, role) DO UPDATE"
                " SET user_id = excluded.user_id, chaster_user_id = excluded.chaster_user_id,"
                " proven_at = excluded.proven_at, expires_at = excluded.expires_at",
                (
                    guild_id,
                    chaster_session_id,
                    role,
                    user_id,
                    chaster_user_id,
                    to_db(now),
                    to_db(expires_at),
                ),
            )
        )

    async def proof(
        self, guild_id: int, chaster_session_id: str, role: str, *, now: datetime
    ) -> LockProof | None:
        """The unexpired proof of `role` for the session in this server."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                "SELECT * FROM lock_proofs WHERE guild_id = ? AND chaster_session_id = ?"
                " AND role = ? AND expires_at > ?",
                (guild_id, chaster_session_id, role, to_db(now)),
            )
        )
        return LockProof.from_row(row) if row is not None else None

    async def proof_of_user(
        self, guild_id: int, user_id: int, role: str, *, now: datetime
    ) -> LockProof | None:
        """The person's newest unexpired proof of `role` in this server."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                "SELECT * FROM lock_proofs WHERE guild_id = ? AND user_id = ? AND role = ?"
                " AND expires_at > ? ORDER BY proven_at DESC LIMIT 1",
                (guild_id, user_id, role, to_db(now)),
            )
        )
        return LockProof.from_row(row) if row is not None else None

    async def prune_link_codes(self, before: datetime) -> int:
        """Drop codes that expired, proofs that lapsed and misses counted, all before
        `before`: none of them can matter again. How many rows went."""

        def prune(conn: sqlite3.Connection) -> int:
            moment = (to_db(before),)
            return (
                _changed(conn, "DELETE FROM link_codes WHERE expires_at < ?", moment)
                + _changed(conn, "DELETE FROM lock_proofs WHERE expires_at < ?", moment)
                + _changed(conn, "DELETE FROM link_code_misses WHERE at < ?", moment)
            )

        return int(await self._db.write(prune))
