"""The SQLite connections: `Database`, and where each unit of the store's work runs.

Usage::

    async with await Database.open(path) as db:
        store = Store(db)
        ...

`await db.close()` does the same as leaving the `async with` block. The checks it makes of the
file at open are in `bot.store._opening`; the migrations it then applies, in `bot.store.schema`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

import aiosqlite

from ._opening import check_location, prepare, unavailable
from ._result_codes import _is_busy
from .errors import StoreError, constraint_error
from .schema import Migration, _migrate, load_migrations

__all__ = ["DEFAULT_BUSY_TIMEOUT", "Database", "Work"]

log = logging.getLogger(__name__)

# Seconds a statement waits for another connection's lock before failing as "locked".
DEFAULT_BUSY_TIMEOUT = 5.0
# Commits on the loop's connection between two checkpoints: the store's writes change a few
# pages each, so this is about SQLite's own threshold of 1000 pages of WAL.
CHECKPOINT_EVERY = 250

T = TypeVar("T")
# A unit of work: plain sqlite3 calls on one connection, run from start to end without a
# pause, on the event loop's thread or on the connection's own.
Work = Callable[[sqlite3.Connection], T]


class Database:
    """A writer connection and a reader connection, each with its own thread, so reads never
    queue behind a write (WAL lets them run side by side); and a third, used from the event
    loop's own thread, which runs the store's writes and look-ups by key whenever SQLite can
    take them without waiting. Every unit of work runs whole (`write`, `read`, `look_up`), so
    no other coroutine's statements can land inside it."""

    def __init__(
        self,
        connection: aiosqlite.Connection,
        path: Path,
        schema_version: int,
        reader: aiosqlite.Connection | None = None,
        inline: sqlite3.Connection | None = None,
    ) -> None:
        """Wrap open, migrated connections; use `Database.open` instead."""
        self._connection: aiosqlite.Connection | None = connection
        self._reader: aiosqlite.Connection | None = reader
        self._inline = inline
        self._commits_unchecked = 0
        self._checkpointing: asyncio.Task[None] | None = None
        self._path = path
        self._schema_version = schema_version
        # Held by a checkpoint and by the close, which writes wait for.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        migrations: Sequence[Migration] | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> Database:
        """Open (creating folders and file if needed), check and migrate to the newest schema.

        A file that is not SQLite, is damaged, holds another program's tables, stays locked by
        another process for `busy_timeout` seconds, or cannot be written raises
        `DatabaseUnavailable`, with the file left as it was.
        """
        path = Path(path)
        if migrations is None:
            migrations = load_migrations()
        # Messages name the file absolutely: a relative path means little in a container's log.
        where = path.absolute()
        check_location(where)
        try:
            # isolation_level=None: no implicit BEGIN/COMMIT from the sqlite3 module; we issue
            # them. timeout= is SQLite's busy timeout, in force from the first statement on:
            # even reading the schema needs a shared lock another process may be holding.
            connection = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise unavailable(where, exc) from exc
        try:
            connection.row_factory = sqlite3.Row
            await prepare(connection, where)
            version = await _migrate(connection, migrations)
            reader = await _open_reader(path, busy_timeout)
            try:
                inline = _open_inline(path)
            except BaseException:
                await reader.close()
                raise
        except sqlite3.Error as exc:
            await connection.close()
            raise unavailable(where, exc) from exc
        except BaseException:
            await connection.close()
            raise
        return cls(connection, path, version, reader, inline)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def schema_version(self) -> int:
        """The `PRAGMA user_version` after migrating: the number of applied migrations."""
        return self._schema_version

    @property
    def connection(self) -> aiosqlite.Connection:
        """The underlying connection; raises StoreError once closed."""
        if self._connection is None:
            raise StoreError("the database is closed")
        return self._connection

    async def close(self) -> None:
        """Checkpoint the WAL into the main file and close the connections; closing twice
        is harmless."""
        if self._checkpointing is not None:
            await self._checkpointing
        inline, self._inline = self._inline, None
        if inline is not None:
            inline.close()
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            async with self._lock:
                await _checkpoint(connection, self._path)
                await connection.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def write(self, work: Work[T]) -> T:
        """Run `work` inside `BEGIN IMMEDIATE` ... `COMMIT`; any error rolls it back.
        IntegrityErrors leave as `ConstraintViolation` (or a subclass).

        It runs at once on the loop's thread (see `_write_now`), else in one round trip to
        the writer's thread; never statement by statement, which costs a round trip per
        execute, fetch, close, BEGIN and COMMIT. Once begun, the work runs to its end (commit
        or rollback) even if the caller is cancelled.
        """
        try:
            return await self._write(partial(_in_transaction, work))
        except sqlite3.IntegrityError as exc:
            raise constraint_error(exc) from exc

    async def write_one(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement on its own, returning its `lastrowid`.

        A single statement is atomic in autocommit mode, so this skips BEGIN and COMMIT.
        IntegrityErrors leave as `ConstraintViolation` (or a subclass).
        """
        try:
            return await self._write(partial(_execute_one, sql, tuple(params)))
        except sqlite3.IntegrityError as exc:
            raise constraint_error(exc) from exc

    async def read(self, work: Work[T]) -> T:
        """Run `work` (reads only) in one round trip to the database thread, in autocommit
        mode: each statement sees only committed writes.

        Reads go to the reader connection without waiting for writes; without one (a database
        opened by hand with a single connection) they queue with the writes.
        """
        if self._reader is not None:
            return await _run(self._reader, work)
        return await self._outside_checkpoints(lambda: _run(self.connection, work))

    async def look_up(self, work: Work[T]) -> T:
        """Run `work`, a read of a few rows by key, at once on the event loop's thread.

        Such a read costs SQLite a few microseconds, against about 100 us of CPU for a round
        trip to a database thread (a queue put that wakes it, a wake-up of the loop through its
        self-pipe). Readers never wait for writers in WAL mode; in the rare case SQLite would
        make this one wait (another connection recovering the WAL, say), it answers "busy" at
        once and the read goes to the reader's thread instead, so the loop never blocks on a
        lock. Reads of many rows go through `read`: they would hold up the loop.
        """
        if self._inline is None:
            return await self.read(work)
        try:
            return work(self._inline)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await self.read(work)

    async def _write(self, work: Work[T]) -> T:
        return await self._outside_checkpoints(partial(self._write_now, work))

    async def _write_now(self, work: Work[T]) -> T:
        """Run a write at once on the loop's thread, or on the writer's if it would wait.

        The store's writes are a few small statements: tens of microseconds for SQLite, with
        no fsync (WAL with synchronous=NORMAL syncs only at checkpoints, and when the WAL
        starts over after one, which is then the only sync on this thread). A round trip to
        the writer's thread costs more CPU than that. The loop's connection has a busy timeout
        of 0: if another connection holds the write lock (another process, or a write of ours
        on the writer's thread), SQLite answers busy at once, nothing of the work stays
        written, and the work goes to the writer's thread, which waits for the lock there.
        Checkpoints run on that thread too (`_checkpoint`).
        """
        inline = self._inline
        if inline is not None:
            try:
                result = work(inline)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
            else:
                self._committed()
                return result
        return await _run(self.connection, work)

    def _committed(self) -> None:
        self._commits_unchecked += 1
        if self._commits_unchecked >= CHECKPOINT_EVERY and self._checkpointing is None:
            self._commits_unchecked = 0
            self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL into the main file, as SQLite does after a commit once the WAL has
        grown, but on the writer's thread: a checkpoint syncs the WAL and the database file.

        Writes wait for it (it holds the lock), so it copies the whole WAL and the next write
        starts the WAL over instead of making it longer. PASSIVE waits for no reader.
        """
        try:
            async with self._lock:
                await _run(self.connection, _passive_checkpoint)
        except (sqlite3.Error, StoreError, ValueError) as exc:
            log.warning("could not checkpoint %s (%s); the next checkpoint will", self._path, exc)
        finally:
            self._checkpointing = None

    async def _outside_checkpoints(self, run: Callable[[], Awaitable[T]]) -> T:
        """`await run()`, which uses the writer, never while a checkpoint (or the close) holds
        it: the checkpoint then copies the whole WAL, and the next write starts it over.

        When the lock is free, `run` queues or does its work before this coroutine yields, so
        no checkpoint can begin in between.
        """
        if self._lock.locked():
            async with self._lock:
                return await run()
        return await run()


async def _run(connection: aiosqlite.Connection, work: Work[T]) -> T:
    """Run `work` on the connection's thread: one round trip, however many statements.

    aiosqlite has no public call for this; `_execute` is the queue its own methods use, so the
    work runs in order with theirs.
    """
    execute: Callable[..., Awaitable[Any]] = connection._execute
    return cast(T, await execute(work, connection._conn))


def _in_transaction(work: Work[T], connection: sqlite3.Connection) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return result


def _execute_one(sql: str, params: tuple[Any, ...], connection: sqlite3.Connection) -> int:
    cursor = connection.execute(sql, params)
    cursor.close()
    return int(cursor.lastrowid or 0)


async def _open_reader(path: Path, busy_timeout: float) -> aiosqlite.Connection:
    reader = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
    try:
        reader.row_factory = sqlite3.Row
        # query_only: a write through the reader would bypass the writer's lock.
        for pragma in ("query_only=ON", "foreign_keys=ON"):
            await reader.execute(f"PRAGMA {pragma}")
    except BaseException:
        await reader.close()
        raise
    return reader


def _open_inline(path: Path) -> sqlite3.Connection:
    # timeout=0: a statement that would wait for a lock fails at once rather than block the
    # loop; the work then goes to a thread.
    inline = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        inline.row_factory = sqlite3.Row
        # The writer's pragmas, which hold per connection; its checkpoints run on a thread.
        for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "wal_autocheckpoint=0"):
            inline.execute(f"PRAGMA {pragma}")
    except BaseException:
        inline.close()
        raise
    return inline


def _passive_checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


async def _checkpoint(connection: aiosqlite.Connection, path: Path) -> None:
    """Copy the WAL into the main file and empty it, so the file alone is a complete database
    (a backup that copies only `bot.sqlite3` misses nothing). Failing is not fatal: SQLite
    replays the WAL on the next open."""
    try:
        async with connection.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
            row = await cursor.fetchone()
    except (sqlite3.Error, ValueError) as exc:
        log.warning("could not checkpoint %s on close (%s); its -wal file is kept", path, exc)
        return
    if row is not None and row[0]:
        log.warning(
            "could not checkpoint %s on close: another connection is reading it;"
            " its -wal file is kept",
            path,
        )
