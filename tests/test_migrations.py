"""Every earlier schema version upgrades to the newest with its data intact and usable.

tests/fixtures/db/schema-vN.sqlite3 is a database as the bot at schema version N left it (see
make_fixtures.py, which also holds the rows they contain). Each is upgraded in a copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path

import pytest

from bot.store import (
    Database,
    LinkExists,
    OpenTaskExists,
    Store,
    TaskState,
    from_db,
    load_migrations,
    to_db,
)
from tests.fixtures.db import make_fixtures as fixtures
from tests.fixtures.db.make_fixtures import (
    GUILD,
    KEYHOLDER,
    OTHER_GUILD,
    ROWS,
    SECOND_WEARER,
    THIRD_WEARER,
    WEARER,
    WRITTEN_AT,
    expected_after_upgrade,
    fixture_path,
)

NEWEST = len(load_migrations())
VERSIONS = list(range(1, NEWEST + 1))


def test_every_schema_version_has_a_frozen_fixture() -> None:
    """A new migration needs `python -m tests.fixtures.db.make_fixtures` for its version."""
    folder = fixture_path(1).parent
    # By name: "schema-v10" sorts before "schema-v2".
    assert sorted(p.name for p in folder.glob("*.sqlite3*")) == sorted(
        fixture_path(version).name for version in VERSIONS
    )
    for version in VERSIONS:
        path = fixture_path(version)
        assert path.stat().st_size < 96 * 1024, f"{path.name} should stay tiny (VACUUM)"
        # Read-only: the fixture itself must never be migrated in place.
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == version
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.close()


@pytest.fixture(params=VERSIONS, ids=[f"v{version}" for version in VERSIONS])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[int, Path]:
    """(fixture version, a copy of its fixture to upgrade)."""
    version: int = request.param
    copy = tmp_path / "bot.sqlite3"
    shutil.copyfile(fixture_path(version), copy)
    return version, copy


@pytest.fixture
async def store(upgraded: tuple[int, Path]) -> AsyncIterator[Store]:
    async with await Database.open(upgraded[1]) as db:
        assert db.schema_version == NEWEST
        yield Store(db)


def stored(value: object) -> object:
    """A value the store returned, in the form it has in the database."""
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    return value


def as_stored(row: object) -> dict[str, object]:
    assert is_dataclass(row) and not isinstance(row, type)
    return {field.name: stored(getattr(row, field.name)) for field in fields(row)}


def read_tables(path: Path) -> dict[str, list[dict[str, object]]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        tables = {
            table: [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            for table in ROWS
        }
    conn.close()
    return tables


async def test_rows_read_back_through_the_store(upgraded: tuple[int, Path], store: Store) -> None:
    version = upgraded[0]
    expected = expected_after_upgrade(version)
    for row in expected["guild_settings"]:
        assert as_stored(await store.get_guild_settings(int(str(row["guild_id"])))) == row
    for row in expected["session_links"]:
        assert as_stored(await store.get_link(int(str(row["id"])))) == row
    for row in expected["link_requests"]:
        assert as_stored(await store.get_link_request(int(str(row["id"])))) == row
    for row in expected["tasks"]:
        assert as_stored(await store.get_task(int(str(row["id"])))) == row
    for row in expected["library_entries"]:
        owner = (int(str(row["guild_id"])), int(str(row["keyholder_id"])))
        entry = await store.get_library_entry(*owner, int(str(row["id"])))
        assert as_stored(entry) == row
        # Nobody else's: the same id asked for by another keyholder is no entry.
        assert await store.get_library_entry(owner[0], owner[1] + 1, int(str(row["id"]))) is None
    entries = await store.audit_entries(limit=1000)
    assert (
        sorted((as_stored(e) for e in entries), key=lambda e: str(e["id"]))
        == (expected["audit_log"])
    )
    for row in ROWS["webhook_deliveries"]:
        seen = await store.webhook_delivery_seen(str(row["request_id"]))
        assert seen == (version >= fixtures.TABLE_SINCE["webhook_deliveries"])


async def test_upgraded_file_is_sound_and_holds_every_row(upgraded: tuple[int, Path]) -> None:
    version, path = upgraded
    async with await Database.open(path):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == NEWEST
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()
    # Every column of the newest schema, the ones added after `version` with their defaults;
    # a new migration that adds a column must add it to ROWS too, or this fails.
    assert read_tables(path) == expected_after_upgrade(version)


async def test_opening_an_upgraded_file_again_changes_nothing(upgraded: tuple[int, Path]) -> None:
    path = upgraded[1]
    async with await Database.open(path):
        pass
    before = path.read_bytes()
    async with await Database.open(path) as db:
        assert db.schema_version == NEWEST
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists()


async def test_the_bot_carries_on_with_upgraded_data(
    upgraded: tuple[int, Path], store: Store
) -> None:
    version = upgraded[0]
    tasks = {int(str(row["id"])): row for row in ROWS["tasks"]}
    now = WRITTEN_AT + timedelta(minutes=1)

    # What start-up loads: running timers, pending requests, feed messages never posted.
    assert await store.pending_timer_deadlines() == [(4, from_db(str(tasks[4]["timer_ends_at"])))]
    assert [r.id for r in await store.pending_link_requests()] == [1, 2]
    assert [t.id for t in await store.tasks_missing_feed_message()] == [4]
    assert await store.linked_sessions() == [
        ("65a1f0c2e4b0a1b2c3d4e5f6", True),
        ("65a1f0c2e4b0a1b2c3d4e610", True),
        ("65a1f0c2e4b0a1b2c3d4e620", True),
    ]

    # What commands and reactions look up.
    link = await store.get_open_link(GUILD, WEARER)
    assert link is not None and link.id == 1
    assert await store.get_open_link(GUILD, SECOND_WEARER) is None
    open_tasks = {link_id: await store.get_open_task(link_id) for link_id in (1, 2, 3, 4, 5)}
    assert {k: (t.id, t.state) if t else None for k, t in open_tasks.items()} == {
        1: (2, TaskState.ASSIGNED),
        2: None,
        3: (4, TaskState.TIMER_RUNNING),
        4: (5, TaskState.AWAITING_CONFIRMATION),
        5: None,
    }
    request = await store.get_link_request_by_message(1_400_000_000_000_000_001)
    assert request is not None and request.id == 1
    task = await store.get_task_by_feed_message(1_500_000_000_000_000_002)
    assert task is not None and task.id == 2
    assert [e.id for e in await store.audit_entries(guild_id=OTHER_GUILD)] == [6, 5]

    # The unique indexes still hold.
    with pytest.raises(OpenTaskExists, match=r"^the link already has an open task$") as open_task:
        await store.create_task(
            link_id=3,
            description="another",
            points=1,
            verification_required=False,
            duration_seconds=None,
            assigned_by=KEYHOLDER,
            now=now,
        )
    assert str(open_task.value.__cause__) == "UNIQUE constraint failed: tasks.link_id"
    linked = r"^the wearer already has an open link in this server$"
    with pytest.raises(LinkExists, match=linked) as open_link:
        await store.create_link(
            guild_id=GUILD,
            wearer_id=THIRD_WEARER,
            keyholder_id=KEYHOLDER,
            chaster_session_id="new-session",
            lock_id="new-lock",
            now=now,
        )
    assert str(open_link.value.__cause__) == (
        "UNIQUE constraint failed: session_links.guild_id, session_links.wearer_id"
    )

    # And the next steps of each open thing work.
    notified = await store.mark_timer_notified(4, now=now)
    assert notified is not None and notified.timer_notified_at == now
    assert await store.pending_timer_deadlines() == []
    completed = await store.transition_task(
        5,
        from_states=[TaskState.AWAITING_CONFIRMATION],
        to_state=TaskState.COMPLETED,
        now=now,
        closed_by=KEYHOLDER,
    )
    assert completed is not None and completed.state is TaskState.COMPLETED
    accepted = await store.accept_link_request(1, now=now)
    assert (accepted.guild_id, accepted.wearer_id, accepted.keyholder_id) == (
        GUILD,
        SECOND_WEARER,
        fixtures.REQUESTER,
    )
    retried = not await store.record_webhook_delivery(
        str(ROWS["webhook_deliveries"][1]["request_id"]), event="action_log.created", now=now
    )
    assert retried == (version >= fixtures.TABLE_SINCE["webhook_deliveries"])
    await store.set_keyholder_is_lock_keyholder(1, True)
    relinked = await store.get_link(1)
    assert relinked is not None and relinked.keyholder_is_lock_keyholder is True
