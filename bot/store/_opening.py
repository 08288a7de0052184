"""Opening the database file: is it a place SQLite can use, a healthy database of ours (or
empty), and not held by another process; and, when it is not, a one-line refusal that says what
to do. `Database.open` runs these before it migrates.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import aiosqlite

from ._result_codes import _SQLITE_CORRUPT, _SQLITE_NOTADB, _error_code, _is_busy
from .errors import DatabaseUnavailable
from .schema import _user_version

log = logging.getLogger("bot.store.database")


def check_location(path: Path) -> None:
    """Refuse a path SQLite cannot use, with a clearer message than its "unable to open"."""
    if path.is_dir():
        raise DatabaseUnavailable(
            f"{path} is a directory, not a database file; set DATABASE_PATH to a file in it,"
            f" such as {path / 'bot.sqlite3'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        # mkdir's own words for this case ("File exists") suggest the folder is fine.
        in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
        reason = "a file is in the way" if in_the_way else exc.strerror
        raise DatabaseUnavailable(
            f"cannot create the folder {path.parent} for {path.name} ({reason});"
            " create it, or set DATABASE_PATH to a writable place"
        ) from exc
    # SQLite creates its -wal and -shm files next to the database, so the folder itself
    # must be writable, not only the file.
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(
            f"the folder {path.parent} is not writable by the user the bot runs as"
            f" (uid {os.geteuid()}); SQLite keeps {path.name}-wal and {path.name}-shm there:"
            " change its owner or permissions, or set DATABASE_PATH elsewhere"
        )


async def prepare(connection: aiosqlite.Connection, path: Path) -> None:
    """Check the file is a healthy database of ours (or empty), then set it up for the bot.

    Everything before `journal_mode=WAL` only reads, so a file refused here is unchanged.
    """
    async with connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%'"
        " ESCAPE '\\' ORDER BY name"
    ) as cursor:
        tables = [str(row[0]) for row in await cursor.fetchall()]
    # quick_check reads every page (it skips integrity_check's index-content cross-checks):
    # about 50 ms at 10,000 links, tasks and audit rows (8 MB), once per start, and it turns
    # a damaged file into a refusal at start-up instead of errors or missing rows later.
    async with connection.execute("PRAGMA quick_check(5)") as cursor:
        problems = [str(row[0]) for row in await cursor.fetchall()]
    if problems != ["ok"]:
        # Rows may hold several lines under a "*** in database main ***" heading: show the
        # first actual problem, so the message stays one line.
        lines = [
            line.strip()
            for problem in problems
            for line in problem.splitlines()
            if line.strip() and not line.startswith("***")
        ]
        raise DatabaseUnavailable(damaged(path, lines[0] if lines else "quick_check failed"))
    if tables and await _user_version(connection) == 0:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise DatabaseUnavailable(
            f"{path} is another program's SQLite database (tables {shown}, no schema version);"
            " the bot will not migrate into it: set DATABASE_PATH to a new file"
        )
    async with connection.execute("PRAGMA journal_mode=WAL") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        log.warning("SQLite refused WAL journal mode for %s (got %r)", path, row)
    for pragma in ("foreign_keys=ON", "synchronous=NORMAL"):
        await connection.execute(f"PRAGMA {pragma}")
    # In WAL mode readers never wait, so a copy of the bot (or a tool) holding a write lock
    # would go unnoticed until the first write fails. Take the write lock once, now, to find
    # out at start-up; this waits up to the busy timeout.
    await connection.execute("BEGIN IMMEDIATE")
    await connection.rollback()


def damaged(path: Path, problem: str) -> str:
    return (
        f"{path} is damaged ({problem}); stop the bot, keep a copy of the file, and restore"
        " it from a backup (sqlite3's .recover command may rescue its rows)"
    )


def unavailable(path: Path, exc: sqlite3.Error) -> DatabaseUnavailable:
    """Translate an SQLite error at open into a one-line refusal that says what to do."""
    code = _error_code(exc)
    if _is_busy(exc):
        return DatabaseUnavailable(
            f"{path} is locked by another process — is another copy of the bot running?"
            " Stop it (or the tool holding the file) and start again"
        )
    if code == _SQLITE_NOTADB:
        # SQLite reads the header before anything else and writes nothing to such a file.
        return DatabaseUnavailable(
            f"{path} is not an SQLite database; the bot will not overwrite it: restore the"
            " database from a backup, or set DATABASE_PATH to another file"
        )
    if code == _SQLITE_CORRUPT:
        return DatabaseUnavailable(damaged(path, " ".join(str(exc).split())))
    return DatabaseUnavailable(
        f"cannot use {path} ({' '.join(str(exc).split())}); check that the file and its folder"
        " exist and are writable by the user the bot runs as"
    )
