"""Numbered SQL migrations: reading `migrations/NNNN_name.sql`, and applying them in order,
tracked by `PRAGMA user_version`."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import aiosqlite

from ._result_codes import _is_busy
from .errors import MigrationError

__all__ = ["Migration", "load_migrations", "split_statements"]

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
# Migrations run inside a transaction the loader owns; these would break out of it.
_FORBIDDEN_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file, already split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _strip_comments(sql: str) -> str:
    return _COMMENTS.sub(" ", sql).strip()


def split_statements(script: str, *, source: str = "<script>") -> list[str]:
    """Split an SQL script into single statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer: list[str] = []
    for char in script:
        buffer.append(char)
        if char == ";":
            candidate = "".join(buffer)
            if sqlite3.complete_statement(candidate):
                if _strip_comments(candidate).rstrip(";").strip():
                    statements.append(candidate.strip())
                buffer.clear()
    if _strip_comments("".join(buffer)):
        raise MigrationError(f"{source}: the last statement is not terminated with ';'")
    for statement in statements:
        words = _strip_comments(statement).split(maxsplit=1)
        if words and words[0].upper().rstrip(";") in _FORBIDDEN_KEYWORDS:
            raise MigrationError(
                f"{source}: transaction control ({words[0]}) is not allowed in a migration"
            )
    return statements


def load_migrations(source: Traversable | Path | None = None) -> list[Migration]:
    """Read and validate `NNNN_name.sql` files (default: the package's `migrations/` folder).

    Numbering must start at 0001 and be contiguous; any other `.sql` name is an error.
    """
    folder = source if source is not None else files(__package__ or "bot.store") / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name!r} is not named NNNN_lowercase_name.sql"
            )
        version = int(match["version"])
        if version in found:
            raise MigrationError(
                f"migrations {found[version].name!r} and {entry.name!r} share number {version}"
            )
        statements = split_statements(entry.read_text(encoding="utf-8"), source=entry.name)
        if not statements:
            raise MigrationError(f"migration {entry.name!r} has no statements")
        found[version] = Migration(version, entry.name, tuple(statements))
    expected = list(range(1, len(found) + 1))
    if sorted(found) != expected:
        raise MigrationError(
            f"migration numbers must run 1..{len(found)} without gaps, found {sorted(found)}"
        )
    return [found[version] for version in expected]


async def _user_version(connection: aiosqlite.Connection) -> int:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def _migrate(connection: aiosqlite.Connection, migrations: Sequence[Migration]) -> int:
    newest = len(migrations)
    if [m.version for m in migrations] != list(range(1, newest + 1)):
        raise MigrationError("migrations must be numbered 1..N in order")
    current = await _user_version(connection)
    if current > newest:
        raise MigrationError(
            f"database schema version {current} is newer than this bot ({newest}); upgrade the bot"
        )
    for migration in migrations[current:]:
        try:
            await connection.execute("BEGIN IMMEDIATE")
            # Another process may have migrated between our read and the write lock.
            if await _user_version(connection) >= migration.version:
                await connection.rollback()
                continue
            for statement in migration.statements:
                await connection.execute(statement)
            async with connection.execute("PRAGMA foreign_key_check") as cursor:
                dangling = await cursor.fetchall()
            if dangling:
                raise MigrationError(f"foreign key violations: {[tuple(r) for r in dangling]}")
            # PRAGMA takes no parameters; version is an int we parsed from the file name.
            await connection.execute(f"PRAGMA user_version = {int(migration.version)}")
            await connection.commit()
        except BaseException as exc:
            await connection.rollback()
            if _is_busy(exc):
                # Not the migration's fault: the caller reports the file as locked.
                raise
            if isinstance(exc, Exception):
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            raise
        log.info("applied migration %s", migration.name)
    return await _user_version(connection)
