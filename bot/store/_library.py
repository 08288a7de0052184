"""`Store` methods for task libraries: each keyholder's entries in each server."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from ._queries import StoreBase, _all, _changed, _one, _write
from .errors import LibraryFull
from .library_rows import LibraryEntry
from .proof_rows import Proof
from .rows import to_db

_SELECT: Final = "SELECT * FROM library_entries WHERE id = ?"
_OWN: Final = "guild_id = ? AND keyholder_id = ?"


class LibraryMixin(StoreBase):
    """Adding, listing and removing library entries; every method is scoped to one keyholder
    in one server."""

    async def add_library_entry(
        self,
        *,
        guild_id: int,
        keyholder_id: int,
        description: str,
        points: int,
        duration_seconds: int | None,
        verification_required: bool,
        tag: str | None,
        now: datetime,
        limit: int,
        deadline_seconds: int | None = None,
        proof: Proof | None = None,
    ) -> LibraryEntry:
        """Add an entry; `LibraryFull` when the keyholder already has `limit` here, and
        `ConstraintViolation` when the same text is already an entry. Counting and adding are
        one unit of work, so two adds at once cannot pass the limit together."""

        def insert(conn: sqlite3.Connection) -> LibraryEntry:
            row = _one(
                conn,
                f"SELECT count(*) FROM library_entries WHERE {_OWN}",  # noqa: S608
                (guild_id, keyholder_id),
            )
            if row is not None and row[0] >= limit:
                raise LibraryFull(limit)
            entry_id = _write(
                conn,
                "INSERT INTO library_entries (guild_id, keyholder_id, description, points,"
                " duration_seconds, verification_required, tag, created_at, deadline_seconds,"
                " proof)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    keyholder_id,
                    description,
                    points,
                    duration_seconds,
                    int(verification_required),
                    tag,
                    to_db(now),
                    deadline_seconds,
                    proof.value if proof is not None else None,
                ),
            )
            added = _one(conn, _SELECT, (entry_id,))
            assert added is not None
            return LibraryEntry.from_row(added)

        return await self._db.write(insert)

    async def library_entries(
        self, guild_id: int, keyholder_id: int, *, tag: str | None = None
    ) -> list[LibraryEntry]:
        """The keyholder's entries here, oldest first; only those with `tag` when given."""
        sql = f"SELECT * FROM library_entries WHERE {_OWN}"  # noqa: S608
        params: tuple[object, ...] = (guild_id, keyholder_id)
        if tag is not None:
            sql += " AND tag = ?"
            params += (tag,)
        rows = await self._db.read(lambda conn: _all(conn, sql + " ORDER BY id", params))
        return [LibraryEntry.from_row(row) for row in rows]

    async def get_library_entry(
        self, guild_id: int, keyholder_id: int, entry_id: int
    ) -> LibraryEntry | None:
        """One of the keyholder's entries here; None for any other (someone else's too)."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                f"SELECT * FROM library_entries WHERE id = ? AND {_OWN}",  # noqa: S608
                (entry_id, guild_id, keyholder_id),
            )
        )
        return LibraryEntry.from_row(row) if row is not None else None

    async def find_library_entry(
        self, guild_id: int, keyholder_id: int, description: str
    ) -> LibraryEntry | None:
        """The keyholder's entry here with exactly this text (one row, by its unique index)."""
        row = await self._db.read(
            lambda conn: _one(
                conn,
                f"SELECT * FROM library_entries WHERE {_OWN} AND description = ?",  # noqa: S608
                (guild_id, keyholder_id, description),
            )
        )
        return LibraryEntry.from_row(row) if row is not None else None

    async def remove_library_entry(self, guild_id: int, keyholder_id: int, entry_id: int) -> bool:
        """Remove one of the keyholder's entries; False when they have no such entry."""
        return bool(
            await self._db.write(
                lambda conn: _changed(
                    conn,
                    f"DELETE FROM library_entries WHERE id = ? AND {_OWN}",  # noqa: S608
                    (entry_id, guild_id, keyholder_id),
                )
            )
        )
