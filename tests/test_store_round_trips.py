"""Units of work in one round trip: `Database.write` and `Database.read`."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import ConstraintViolation, Database, to_db

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


async def test_write_never_lands_inside_an_open_transaction(db: Database) -> None:
    queued = asyncio.Event()

    async def later_write() -> None:
        queued.set()
        await db.write(lambda conn: insert_audit(conn, "outside"))

    with pytest.raises(RuntimeError, match=r"^abandon$"):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO audit_log (at, action, result) VALUES ('t', 'inside', 'ok')"
            )
            writer = asyncio.create_task(later_write())
            await queued.wait()
            raise RuntimeError("abandon")
    await writer
    # Had the later write run inside the transaction, the rollback would have taken it along.
    actions = await db.read(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log")])
    assert actions == ["outside"]


async def test_reads_see_only_committed_writes(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO audit_log (at, action, result) VALUES ('t', 'a', 'ok')")
        assert await db.read(count_audit) == 0
    assert await db.read(count_audit) == 1
