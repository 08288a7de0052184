"""Units of work in one round trip (`Database.write` / `read`), and the settings cache."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import bot.store.database
from bot.store import ConstraintViolation, Controls, Database, GuildSettings, Store, to_db
from bot.store._settings import SettingsCache

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GUILD = 100


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "bot.db") as database:
        yield database


def count_audit(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])


def insert_audit(conn: sqlite3.Connection, action: str = "x") -> None:
    conn.execute(
        "INSERT INTO audit_log (at, action, result) VALUES (?, ?, 'ok')",
        (to_db(T0), action),
    )


# ---- Database.write / read ----------------------------------------------------------------


async def test_write_commits_its_work_and_returns_its_result(db: Database) -> None:
    def work(conn: sqlite3.Connection) -> int:
        insert_audit(conn)
        insert_audit(conn)
        return count_audit(conn)

    assert await db.write(work) == 2
    assert await db.read(count_audit) == 2


async def test_write_rolls_back_everything_on_error(db: Database) -> None:
    def work(conn: sqlite3.Connection) -> None:
        insert_audit(conn)
        raise RuntimeError("halfway")

    with pytest.raises(RuntimeError, match=r"^halfway$"):
        await db.write(work)
    assert await db.read(count_audit) == 0
    # The connection is usable again: nothing was left open.
    await db.write(insert_audit)
    assert await db.read(count_audit) == 1


async def test_write_maps_integrity_errors(db: Database) -> None:
    def work(conn: sqlite3.Connection) -> None:
        insert_audit(conn)
        conn.execute("INSERT INTO audit_log (at, action, result) VALUES (NULL, 'y', 'ok')")

    with pytest.raises(ConstraintViolation, match=r"^NOT NULL constraint failed: audit_log\.at$"):
        await db.write(work)
    assert await db.read(count_audit) == 0


def hold_the_write_lock(db: Database) -> contextlib.closing[sqlite3.Connection]:
    """Another connection (a tool, another process) that has begun a write and not ended it;
    commit or roll back on it to let the bot's writes through."""
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return contextlib.closing(other)


async def test_reads_see_only_committed_writes(db: Database) -> None:
    with hold_the_write_lock(db) as other:
        insert_audit(other)
        assert await db.read(count_audit) == 0
        other.execute("COMMIT")
    assert await db.read(count_audit) == 1


# ---- the settings cache -------------------------------------------------------------------


def change_behind_the_store(path: Path, language: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO guild_settings (guild_id, language, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (guild_id) DO UPDATE SET language = excluded.language",
            (GUILD, language, to_db(T0)),
        )


async def test_settings_are_read_once_then_served_from_memory(db: Database) -> None:
    store = Store(db)
    assert (await store.get_guild_settings(GUILD)).language == "auto"
    # Only the store writes the settings; a change made around it shows that the second read
    # did not go to the database.
    change_behind_the_store(db.path, "de")
    assert (await store.get_guild_settings(GUILD)).language == "auto"
    assert (await Store(db).get_guild_settings(GUILD)).language == "de"


async def test_each_setting_write_replaces_the_cached_settings(db: Database) -> None:
    store = Store(db)
    assert (await store.get_guild_settings(GUILD)).feed_channel_id is None
    written = await store.set_language(GUILD, "fr", now=T0)
    assert await store.get_guild_settings(GUILD) == written
    await store.set_feed_channel(GUILD, 555, now=T0)
    await store.set_wearer_can_complete(GUILD, True, now=T0)
    assert (await store.get_guild_settings(GUILD)).controls is Controls.BOTH
    await store.set_controls(GUILD, Controls.BUTTONS, now=T0)
    settings = await store.get_guild_settings(GUILD)
    assert (
        settings.language,
        settings.feed_channel_id,
        settings.wearer_can_complete,
        settings.controls,
    ) == ("fr", 555, True, Controls.BUTTONS)
    assert settings == await Store(db).get_guild_settings(GUILD)


async def test_a_cancelled_setting_write_still_updates_the_cache(db: Database) -> None:
    store = Store(db)
    assert (await store.get_guild_settings(GUILD)).language == "auto"
    started = asyncio.Event()

    async def set_language() -> GuildSettings:
        started.set()
        return await store.set_language(GUILD, "es", now=T0)

    with hold_the_write_lock(db) as other:
        # The write waits for the lock on the writer's thread; its caller gives up meanwhile.
        setter = asyncio.create_task(set_language())
        await started.wait()
        setter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await setter
        # Read while the write is still to come: what it sees must not stay cached.
        assert (await store.get_guild_settings(GUILD)).language == "auto"
        other.execute("ROLLBACK")
    # Closing runs what the writer's thread has queued, so the write has committed and the
    # cache has learnt its outcome.
    await db.close()
    assert (await store.get_guild_settings(GUILD)).language == "es"


async def test_a_read_overlapping_a_write_is_not_kept() -> None:
    cache = SettingsCache()
    old = GuildSettings(GUILD)
    new = GuildSettings(GUILD, language="de")
    loop = asyncio.get_running_loop()

    # Read began before the write and ended after it: it may hold the row from before.
    ticket = cache.read_started()
    cache.write_started(GUILD)
    done: asyncio.Future[GuildSettings] = loop.create_future()
    done.set_result(new)
    cache.write_done(GUILD, done)
    cache.read_done(ticket, old)
    assert cache.get(GUILD) == new

    # Read began and ended while a write was in flight.
    cache.write_started(GUILD)
    ticket = cache.read_started()
    cache.read_done(ticket, old)
    assert cache.get(GUILD) is None

    # A failed write leaves nothing cached: the next read asks the database.
    failed: asyncio.Future[GuildSettings] = loop.create_future()
    failed.set_exception(sqlite3.OperationalError("disk I/O error"))
    cache.write_done(GUILD, failed)
    assert cache.get(GUILD) is None
    ticket = cache.read_started()
    cache.read_done(ticket, new)
    assert cache.get(GUILD) == new


# ---- look-ups on the event loop's thread --------------------------------------------------


def busy_error(path: Path) -> sqlite3.OperationalError:
    """The error SQLite raises for a lock it would have to wait for."""
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("BEGIN IMMEDIATE")
        return caught.value
    finally:
        holder.rollback()
        holder.close()
        other.close()


async def test_a_look_up_that_would_wait_goes_to_the_reader_thread(db: Database) -> None:
    error = busy_error(db.path)
    threads: list[int] = []

    def work(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        if len(threads) == 1:
            raise error
        return count_audit(conn)

    assert await db.look_up(work) == 0
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()


async def test_a_look_up_runs_on_the_loop_thread_and_sees_committed_writes(db: Database) -> None:
    threads: list[int] = []

    def work(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        return count_audit(conn)

    await db.write(insert_audit)
    assert await db.look_up(work) == 1
    assert threads == [threading.get_ident()]


async def test_other_errors_of_a_look_up_are_raised(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match=r"^no such table: nowhere$"):
        await db.look_up(lambda conn: conn.execute("SELECT * FROM nowhere").fetchall())


# ---- writes on the event loop's thread ----------------------------------------------------


async def test_a_write_that_would_wait_for_the_lock_waits_on_the_writer_thread(
    db: Database,
) -> None:
    holder = sqlite3.connect(db.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        writing = asyncio.create_task(db.write(lambda conn: insert_audit(conn, "ours")))
        # One pass of the loop: the write found the lock taken and did not wait for it on the
        # loop's thread; it waits on the writer's.
        await asyncio.sleep(0)
        assert not writing.done()
        insert_audit(holder, "theirs")
        holder.execute("COMMIT")
    finally:
        holder.close()
    await writing
    actions = await db.read(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log")])
    assert actions == ["theirs", "ours"]


def rows_in_main_file(path: Path) -> int:
    """Audit rows in the database file itself, leaving out what is still only in the WAL."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        return count_audit(conn)


async def test_the_wal_is_checkpointed_on_the_writer_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.store.database, "CHECKPOINT_EVERY", 3)
    with sqlite3.connect(db.path) as conn:  # the migrations' tables into the main file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(2):
        await db.write(insert_audit)
    assert rows_in_main_file(db.path) == 0
    await db.write(insert_audit)
    # The third commit started a checkpoint; a write waits for it to finish.
    await asyncio.sleep(0)
    await db.write(insert_audit)
    assert rows_in_main_file(db.path) == 3
