"""The store against a real SQLite file: migrations, constraints, compare-and-set writes."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from importlib.resources import files
from pathlib import Path

import pytest

from bot.store import (
    TASK_TRANSITION_FIELDS,
    ConstraintViolation,
    Controls,
    Database,
    LinkExists,
    LinkRequestNotPending,
    LinkRequestState,
    MigrationError,
    NotFound,
    OpenTaskExists,
    SessionLink,
    Store,
    StoreError,
    Task,
    TaskState,
    from_db,
    load_migrations,
    to_db,
)
from bot.store.schema import split_statements

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GUILD = 100
OTHER_GUILD = 200
WEARER = 1_000_000_000_000_000_001
KEYHOLDER = 1_000_000_000_000_000_002
REQUESTER = 1_000_000_000_000_000_003

# What the store says when one of the unique indexes the core relies on refuses a write,
# and the SQLite error it translates (which names the index's columns).
LINK_EXISTS = r"^the wearer already has an open link in this server$"
LINK_UNIQUE = "UNIQUE constraint failed: session_links.guild_id, session_links.wearer_id"
OPEN_TASK_EXISTS = r"^the link already has an open task$"
OPEN_TASK_UNIQUE = "UNIQUE constraint failed: tasks.link_id"


def naive(moment: datetime) -> str:
    """The refusal of a datetime without a timezone, as a pattern."""
    return f"^{re.escape(f'naive datetime {moment!r}: pass a timezone-aware UTC datetime')}$"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "bot.db") as database:
        yield database


@pytest.fixture
def store(db: Database) -> Store:
    return Store(db)


async def make_link(
    store: Store, *, guild_id: int = GUILD, wearer_id: int = WEARER, session: str = "sess-1"
) -> SessionLink:
    return await store.create_link(
        guild_id=guild_id,
        wearer_id=wearer_id,
        keyholder_id=KEYHOLDER,
        chaster_session_id=session,
        lock_id="lock-1",
        now=T0,
    )


async def make_task(store: Store, link_id: int, /, **overrides: object) -> Task:
    args: dict[str, object] = {
        "link_id": link_id,
        "description": "Write 100 lines",
        "points": 5,
        "verification_required": False,
        "duration_seconds": None,
        "assigned_by": KEYHOLDER,
        "now": T0,
    }
    args.update(overrides)
    return await store.create_task(**args)  # type: ignore[arg-type]


def read_pragma(path: Path, pragma: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {pragma}").fetchone()[0]


def write_migrations(folder: Path, extra: dict[str, str]) -> Path:
    folder.mkdir()
    initial = files("bot.store") / "migrations" / "0001_initial.sql"
    (folder / "0001_initial.sql").write_text(initial.read_text(encoding="utf-8"))
    for name, sql in extra.items():
        (folder / name).write_text(sql)
    return folder


# ---- migrations ---------------------------------------------------------------------------


async def test_open_migrates_empty_db_and_reopen_is_a_noop(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    newest = len(load_migrations())
    assert newest >= 1
    async with await Database.open(path) as db:
        assert db.schema_version == newest
        pragmas = await db.read(
            lambda conn: [
                conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        )
        assert pragmas == ["wal", 1, 5000]
        await make_link(Store(db))
    assert read_pragma(path, "user_version") == newest

    async with await Database.open(path) as db:
        assert db.schema_version == newest
        assert len(await Store(db).open_links()) == 1
    assert read_pragma(path, "user_version") == newest


async def test_close_twice_and_use_after_close(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.db")
    await db.close()
    await db.close()
    with pytest.raises(StoreError, match=r"^the database is closed$") as caught:
        await Store(db).get_link(1)
    assert type(caught.value) is StoreError


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with await Database.open(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    newest = len(load_migrations())
    with pytest.raises(MigrationError) as caught:
        await Database.open(path)
    assert str(caught.value) == (
        f"database schema version 99 is newer than this bot ({newest}); upgrade the bot"
    )


async def test_failing_migration_leaves_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with await Database.open(
        path, migrations=load_migrations(write_migrations(tmp_path / "good", {}))
    ) as db:
        assert db.schema_version == 1
        # Written with SQL: the repository speaks the newest schema, this database is at 1.
        await db.write_one(
            "INSERT INTO session_links (guild_id, wearer_id, keyholder_id,"
            " chaster_session_id, lock_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (GUILD, WEARER, KEYHOLDER, "sess-1", "lock-1", to_db(T0)),
        )

    broken = write_migrations(
        tmp_path / "broken",
        {
            "0002_broken.sql": (
                "CREATE TABLE extra (x INTEGER);\n"
                "UPDATE session_links SET lock_id = 'changed';\n"
                "INSERT INTO no_such_table VALUES (1);\n"
            )
        },
    )
    failed = r"^migration 0002_broken\.sql failed: no such table: no_such_table$"
    with pytest.raises(MigrationError, match=failed) as caught:
        await Database.open(path, migrations=load_migrations(broken))
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)

    assert read_pragma(path, "user_version") == 1
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in tables
        assert conn.execute("SELECT lock_id FROM session_links").fetchone()[0] == "lock-1"

    async with await Database.open(path) as db:
        store = Store(db)
        assert (await store.get_open_link(GUILD, WEARER)) is not None
        assert (await store.set_feed_channel(GUILD, 5, now=T0)).feed_channel_id == 5


async def test_second_migration_applies_on_top(tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"0002_extra.sql": "CREATE TABLE extra (x);\n"})
    path = tmp_path / "bot.db"
    async with await Database.open(path, migrations=load_migrations(folder)) as db:
        assert db.schema_version == 2
    assert read_pragma(path, "user_version") == 2


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            {"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"},
            "migration numbers must run 1..2 without gaps, found [1, 3]",
        ),
        ({"0002_b.sql": "SELECT 1;"}, "migration numbers must run 1..1 without gaps, found [2]"),
        (
            {"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"},
            "migrations '0001_a.sql' and '0001_b.sql' share number 1",
        ),
        ({"1_a.sql": "SELECT 1;"}, "migration file '1_a.sql' is not named NNNN_lowercase_name.sql"),
        (
            {"0001-a.sql": "SELECT 1;"},
            "migration file '0001-a.sql' is not named NNNN_lowercase_name.sql",
        ),
        (
            {"0001_A.sql": "SELECT 1;"},
            "migration file '0001_A.sql' is not named NNNN_lowercase_name.sql",
        ),
        ({"0001_a.sql": "-- nothing here\n"}, "migration '0001_a.sql' has no statements"),
        (
            {"0001_a.sql": "CREATE TABLE t (x);\nCREATE TABLE u (y)"},
            "0001_a.sql: the last statement is not terminated with ';'",
        ),
        (
            {"0001_a.sql": "BEGIN;\nCREATE TABLE t (x);\nCOMMIT;"},
            "0001_a.sql: transaction control (BEGIN;) is not allowed in a migration",
        ),
    ],
)
def test_bad_migration_files_fail_loudly(
    tmp_path: Path, names: dict[str, str], message: str
) -> None:
    for name, sql in names.items():
        (tmp_path / name).write_text(sql)
    with pytest.raises(MigrationError, match=f"^{re.escape(message)}$"):
        load_migrations(tmp_path)


def test_migration_loader_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("CREATE TABLE t (x);")
    (tmp_path / "README.md").write_text("notes")
    assert [m.name for m in load_migrations(tmp_path)] == ["0001_a.sql"]


def test_split_statements_keeps_triggers_and_strings_whole() -> None:
    script = (
        "-- header; with a semicolon\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
        "  UPDATE t SET x = 'c'; UPDATE t SET x = 'd';\n"
        "END;\n"
        "/* trailing; comment */\n"
    )
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[0].endswith("DEFAULT 'a;b');")
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")


# ---- times ----------------------------------------------------------------------------------


def test_time_helpers_round_trip_and_refuse_naive() -> None:
    assert to_db(T0) == "2026-01-01T12:00:00.000000+00:00"
    plus_two = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert to_db(plus_two) == to_db(T0)
    assert from_db(to_db(plus_two)) == T0
    assert from_db(to_db(T0)).tzinfo == UTC
    with pytest.raises(ValueError, match=naive(datetime(2026, 1, 1, 12, 0))) as caught:
        to_db(datetime(2026, 1, 1, 12, 0))
    assert type(caught.value) is ValueError


async def test_naive_now_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(ValueError, match=naive(datetime(2026, 1, 1))) as caught:
        await store.create_link(
            guild_id=GUILD,
            wearer_id=WEARER,
            keyholder_id=KEYHOLDER,
            chaster_session_id="s",
            lock_id="l",
            now=datetime(2026, 1, 1),
        )
    assert type(caught.value) is ValueError
    assert await store.open_links() == []


# ---- settings -------------------------------------------------------------------------------


async def test_guild_settings_default_and_upsert(store: Store) -> None:
    settings = await store.get_guild_settings(GUILD)
    assert settings.feed_channel_id is None
    assert settings.wearer_can_complete is False
    assert settings.updated_at is None

    updated = await store.set_feed_channel(GUILD, 555, now=T0)
    assert updated.feed_channel_id == 555
    assert updated.wearer_can_complete is False
    assert updated.updated_at == T0

    later = T0 + timedelta(minutes=1)
    updated = await store.set_wearer_can_complete(GUILD, True, now=later)
    assert (updated.feed_channel_id, updated.wearer_can_complete, updated.updated_at) == (
        555,
        True,
        later,
    )
    assert await store.get_guild_settings(GUILD) == updated
    assert (await store.set_feed_channel(GUILD, None, now=later)).feed_channel_id is None
    assert (await store.get_guild_settings(OTHER_GUILD)).wearer_can_complete is False


# ---- links ----------------------------------------------------------------------------------


async def test_one_open_link_per_guild_and_wearer(store: Store) -> None:
    link = await make_link(store)
    assert link.is_open and link.keyholder_id == KEYHOLDER and link.created_at == T0
    assert await store.get_open_link(GUILD, WEARER) == link
    assert await store.get_link(link.id) == link

    with pytest.raises(LinkExists, match=LINK_EXISTS) as caught:
        await make_link(store, session="sess-2")
    assert str(caught.value.__cause__) == LINK_UNIQUE

    elsewhere = await make_link(store, guild_id=OTHER_GUILD)
    assert [x.id for x in await store.open_links()] == [link.id, elsewhere.id]
    assert [x.id for x in await store.open_links(GUILD)] == [link.id]
    assert [x.id for x in await store.open_links_for_session("sess-1")] == [link.id, elsewhere.id]


async def test_close_link_once_then_relink(store: Store) -> None:
    link = await make_link(store)
    later = T0 + timedelta(hours=1)
    closed = await store.close_link(link.id, closed_by=KEYHOLDER, reason="unlink", now=later)
    assert closed is not None
    assert (closed.closed_at, closed.closed_by, closed.close_reason) == (later, KEYHOLDER, "unlink")
    assert not closed.is_open
    assert await store.close_link(link.id, closed_by=None, reason="again", now=later) is None
    assert await store.get_open_link(GUILD, WEARER) is None
    assert await store.open_links_for_session("sess-1") == []
    assert await store.close_link(9999, closed_by=None, reason="x", now=later) is None

    relinked = await make_link(store, session="sess-2")
    assert relinked.id != link.id
    assert (await store.get_link(link.id)) == closed


# ---- link requests --------------------------------------------------------------------------


async def make_request(store: Store, *, wearer_id: int = WEARER, minutes: int = 10) -> int:
    request = await store.create_link_request(
        guild_id=GUILD,
        channel_id=77,
        wearer_id=wearer_id,
        requested_by=REQUESTER,
        chaster_session_id="sess-9",
        lock_id="lock-9",
        now=T0,
        expires_at=T0 + timedelta(minutes=minutes),
    )
    assert request.state is LinkRequestState.PENDING
    assert request.message_id is None and request.resolved_at is None
    return request.id


async def test_link_request_message_lookup(store: Store) -> None:
    request_id = await make_request(store)
    request = await store.set_link_request_message(request_id, 4242)
    assert request.message_id == 4242
    assert await store.get_link_request_by_message(4242) == request
    assert await store.get_link_request(request_id) == request
    assert await store.get_link_request_by_message(1) is None
    with pytest.raises(NotFound, match=r"^no link request 9999$"):
        await store.set_link_request_message(9999, 1)
    other = await make_request(store, wearer_id=5)
    taken = r"^UNIQUE constraint failed: link_requests\.message_id$"
    with pytest.raises(ConstraintViolation, match=taken) as caught:
        await store.set_link_request_message(other, 4242)
    assert type(caught.value) is ConstraintViolation


async def test_concurrent_resolves_exactly_one_wins(store: Store, db: Database) -> None:
    request_id = await make_request(store)
    # A second connection to the same file, so the CAS is tested by SQLite, not our lock.
    async with await Database.open(db.path) as other_db:
        results = await asyncio.gather(
            store.resolve_link_request(request_id, LinkRequestState.CANCELLED, now=T0),
            Store(other_db).resolve_link_request(request_id, LinkRequestState.EXPIRED, now=T0),
            store.resolve_link_request(request_id, LinkRequestState.CANCELLED, now=T0),
        )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await store.get_link_request(request_id)
    assert stored is not None and stored.state is winners[0].state
    assert stored.resolved_at == T0
    use_accept = (
        f"resolve_link_request cannot set {LinkRequestState.ACCEPTED!r};"
        " use accept_link_request to accept"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(use_accept)}$") as caught:
        await store.resolve_link_request(request_id, LinkRequestState.ACCEPTED, now=T0)
    assert type(caught.value) is ValueError


async def test_accept_creates_link_atomically(store: Store, db: Database) -> None:
    request_id = await make_request(store)
    later = T0 + timedelta(minutes=1)
    async with await Database.open(db.path) as other_db:
        results = await asyncio.gather(
            store.accept_link_request(request_id, now=later),
            Store(other_db).accept_link_request(request_id, now=later),
            return_exceptions=True,
        )
    links = [r for r in results if isinstance(r, SessionLink)]
    assert len(links) == 1
    assert [type(r) for r in results if not isinstance(r, SessionLink)] == [LinkRequestNotPending]
    link = links[0]
    assert (link.guild_id, link.wearer_id, link.keyholder_id) == (GUILD, WEARER, REQUESTER)
    assert (link.chaster_session_id, link.lock_id, link.created_at) == ("sess-9", "lock-9", later)
    request = await store.get_link_request(request_id)
    assert request is not None
    assert (request.state, request.resolved_at) == (LinkRequestState.ACCEPTED, later)
    assert await store.pending_link_requests() == []


async def test_accept_when_wearer_already_linked_rolls_back(store: Store) -> None:
    request_id = await make_request(store)
    existing = await make_link(store)
    with pytest.raises(LinkExists, match=LINK_EXISTS) as caught:
        await store.accept_link_request(request_id, now=T0)
    assert str(caught.value.__cause__) == LINK_UNIQUE
    request = await store.get_link_request(request_id)
    assert request is not None
    assert (request.state, request.resolved_at) == (LinkRequestState.PENDING, None)
    assert await store.open_links() == [existing]


async def test_accept_after_expiry_is_refused(store: Store) -> None:
    request_id = await make_request(store, minutes=10)
    not_pending = rf"^link request {request_id} is not pending or has expired$"
    with pytest.raises(LinkRequestNotPending, match=not_pending):
        await store.accept_link_request(request_id, now=T0 + timedelta(minutes=10))
    assert await store.open_links() == []
    assert [r.id for r in await store.pending_link_requests()] == [request_id]


# ---- tasks ----------------------------------------------------------------------------------


async def test_create_task_and_one_open_per_link(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id, duration_seconds=600, verification_required=True)
    assert task.state is TaskState.ASSIGNED and task.is_open and task.is_timed
    assert task.verification_required is True
    assert (task.assigned_at, task.updated_at, task.closed_at) == (T0, T0, None)
    assert await store.get_task(task.id) == task
    assert await store.get_open_task(link.id) == task

    with pytest.raises(OpenTaskExists, match=OPEN_TASK_EXISTS) as caught:
        await make_task(store, link.id)
    assert str(caught.value.__cause__) == OPEN_TASK_UNIQUE

    other_link = await make_link(store, guild_id=OTHER_GUILD)
    untimed = await make_task(store, other_link.id)
    assert not untimed.is_timed
    assert [t.id for t in await store.open_tasks()] == [task.id, untimed.id]

    done = await store.transition_task(
        task.id,
        from_states=[TaskState.ASSIGNED],
        to_state=TaskState.COMPLETED,
        now=T0,
        closed_by=KEYHOLDER,
    )
    assert done is not None and not done.is_open and done.closed_at == T0
    assert await store.get_open_task(link.id) is None
    assert await store.latest_task(link.id) == done

    second = await make_task(store, link.id, description="Second")
    assert await store.latest_task(link.id) == second
    assert await store.latest_task(9999) is None


async def test_transition_task_is_compare_and_set(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id, duration_seconds=600)
    started = T0 + timedelta(minutes=1)
    ends = started + timedelta(seconds=600)

    assert (
        await store.transition_task(
            task.id,
            from_states=[TaskState.TIMER_RUNNING],
            to_state=TaskState.AWAITING_CONFIRMATION,
            now=started,
        )
        is None
    )
    assert await store.get_task(task.id) == task

    running = await store.transition_task(
        task.id,
        from_states={TaskState.ASSIGNED},
        to_state=TaskState.TIMER_RUNNING,
        now=started,
        timer_started_by=WEARER,
        timer_started_at=started,
        timer_ends_at=ends,
    )
    assert running is not None
    assert (running.state, running.timer_started_by, running.timer_ends_at) == (
        TaskState.TIMER_RUNNING,
        WEARER,
        ends,
    )
    assert running.updated_at == started and running.assigned_at == T0
    assert await store.pending_timer_deadlines() == [(task.id, ends)]

    results = await asyncio.gather(
        *(
            store.transition_task(
                task.id,
                from_states=[TaskState.TIMER_RUNNING],
                to_state=state,
                now=ends,
                points_total=points,
            )
            for state, points in ((TaskState.COMPLETED, 1), (TaskState.FAILED, 2))
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await store.get_task(task.id) == winners[0]
    assert winners[0].closed_at == ends
    assert await store.pending_timer_deadlines() == []
    assert await store.open_tasks() == []


@pytest.mark.parametrize(
    "field", ["state", "description", "link_id", "updated_at", "closed_at = 0 --"]
)
async def test_transition_task_rejects_unlisted_fields(store: Store, field: str) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id)
    refusal = f"^{re.escape(f'transition_task cannot set {[field]!r}')}$"
    with pytest.raises(ValueError, match=refusal) as caught:
        await store.transition_task(
            task.id,
            from_states=[TaskState.ASSIGNED],
            to_state=TaskState.TIMER_RUNNING,
            now=T0,
            **{field: 1},
        )
    assert type(caught.value) is ValueError
    assert await store.get_task(task.id) == task
    assert "closed_by" in TASK_TRANSITION_FIELDS


async def test_transition_task_checks_value_types(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id)
    with pytest.raises(TypeError, match=r"^timer_ends_at must be a datetime, not int$") as wrong:
        await store.transition_task(
            task.id,
            from_states=[TaskState.ASSIGNED],
            to_state=TaskState.TIMER_RUNNING,
            now=T0,
            timer_ends_at=5,
        )
    assert type(wrong.value) is TypeError
    with pytest.raises(ValueError, match=naive(datetime(2026, 1, 1))) as unaware:
        await store.transition_task(
            task.id,
            from_states=[TaskState.ASSIGNED],
            to_state=TaskState.TIMER_RUNNING,
            now=T0,
            timer_ends_at=datetime(2026, 1, 1),
        )
    assert type(unaware.value) is ValueError
    with pytest.raises(ValueError, match=r"^from_states must name at least one state$") as empty:
        await store.transition_task(task.id, from_states=[], to_state=TaskState.FAILED, now=T0)
    assert type(empty.value) is ValueError
    assert await store.get_task(task.id) == task


async def test_feed_message_lookup(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id)
    posted = await store.set_feed_message(task.id, channel_id=555, message_id=9001)
    assert (posted.feed_channel_id, posted.feed_message_id) == (555, 9001)
    # Unless told otherwise, a message carries reactions, as before controls existed.
    assert (task.feed_controls, posted.feed_controls, posted.controls) == (
        None,
        Controls.REACTIONS,
        Controls.REACTIONS,
    )
    assert posted.updated_at == task.updated_at
    again = await store.set_feed_message(
        task.id, channel_id=555, message_id=9003, controls=Controls.BUTTONS
    )
    assert (again.feed_message_id, again.controls) == (9003, Controls.BUTTONS)
    posted = await store.set_feed_message(task.id, channel_id=555, message_id=9001)
    assert await store.get_task_by_feed_message(9001) == posted
    assert await store.get_task_by_feed_message(9002) is None
    with pytest.raises(NotFound, match=r"^no task 9999$"):
        await store.set_feed_message(9999, channel_id=1, message_id=2)

    other = await make_task(store, (await make_link(store, guild_id=OTHER_GUILD)).id)
    taken = r"^UNIQUE constraint failed: tasks\.feed_message_id$"
    with pytest.raises(ConstraintViolation, match=taken) as caught:
        await store.set_feed_message(other.id, channel_id=555, message_id=9001)
    assert type(caught.value) is ConstraintViolation


POINTS_CHECK = r"^CHECK constraint failed: points >= 0$"
DESCRIPTION_CHECK = r"^CHECK constraint failed: length\(description\) BETWEEN 1 AND 500$"
# SQLite quotes the CHECK as written in the schema, across two lines.
DURATION_CHECK = (
    r"^CHECK constraint failed: duration_seconds IS NULL"
    r"\s+OR duration_seconds BETWEEN 60 AND 86400$"
)
FOREIGN_KEY = r"^FOREIGN KEY constraint failed$"


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"points": -1}, POINTS_CHECK),
        ({"description": ""}, DESCRIPTION_CHECK),
        ({"description": "x" * 501}, DESCRIPTION_CHECK),
        ({"duration_seconds": 30}, DURATION_CHECK),
        ({"duration_seconds": 86_401}, DURATION_CHECK),
        ({"link_id": 9999}, FOREIGN_KEY),
    ],
)
async def test_constraints_raise_constraint_violation(
    store: Store, overrides: dict[str, object], constraint: str
) -> None:
    link = await make_link(store)
    with pytest.raises(ConstraintViolation, match=constraint) as caught:
        await make_task(store, link.id, **overrides)
    # The plain class, not one of the unique-index subclasses (LinkExists, OpenTaskExists).
    assert type(caught.value) is ConstraintViolation
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    # The failed write was rolled back and the connection is still usable.
    assert await store.open_tasks() == []
    assert (await make_task(store, link.id)).state is TaskState.ASSIGNED


async def test_closing_state_without_closed_at_is_rejected_by_schema(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id)
    closing = (
        "CHECK constraint failed: (state IN ('completed', 'failed')) = (closed_at IS NOT NULL)"
    )
    with pytest.raises(ConstraintViolation, match=f"^{re.escape(closing)}$") as caught:
        await store.transition_task(
            task.id,
            from_states=[TaskState.ASSIGNED],
            to_state=TaskState.TIMER_RUNNING,
            now=T0,
            closed_at=T0,
        )
    assert type(caught.value) is ConstraintViolation
    assert await store.get_task(task.id) == task


# ---- audit ----------------------------------------------------------------------------------


async def test_audit_newest_first_with_guild_filter(store: Store) -> None:
    link = await make_link(store)
    task = await make_task(store, link.id)
    first = await store.record_audit(
        action="link", result="ok", guild_id=GUILD, user_id=KEYHOLDER, link_id=link.id, now=T0
    )
    second = await store.record_audit(
        action="assign",
        result="refused",
        guild_id=OTHER_GUILD,
        user_id=WEARER,
        detail="not the keyholder",
        now=T0 + timedelta(seconds=1),
    )
    third = await store.record_audit(
        action="complete",
        result="error",
        guild_id=GUILD,
        user_id=None,
        task_id=task.id,
        now=T0 + timedelta(seconds=2),
    )
    assert (first.detail, first.link_id, first.task_id, first.at) == ("", link.id, None, T0)
    assert second.result == "refused" and second.detail == "not the keyholder"

    assert [e.id for e in await store.audit_entries()] == [third.id, second.id, first.id]
    assert [e.id for e in await store.audit_entries(guild_id=GUILD)] == [third.id, first.id]
    assert [e.id for e in await store.audit_entries(limit=1)] == [third.id]
    unknown_result = r"^audit result must be one of \['error', 'ok', 'refused'\], not 'maybe'$"
    with pytest.raises(ValueError, match=unknown_result) as unknown:
        await store.record_audit(
            action="x",
            result="maybe",  # type: ignore[arg-type]
            guild_id=None,
            user_id=None,
            now=T0,
        )
    assert type(unknown.value) is ValueError
    with pytest.raises(ConstraintViolation, match=FOREIGN_KEY) as dangling:
        await store.record_audit(
            action="x", result="ok", guild_id=None, user_id=None, task_id=9999, now=T0
        )
    assert type(dangling.value) is ConstraintViolation


async def test_reads_do_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.db") as db:
        store = Store(db)
        link = await make_link(store)
        # Another connection (a tool, another process) is in the middle of a write.
        with contextlib.closing(sqlite3.connect(db.path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE session_links SET lock_id = 'changing' WHERE id = ?", (link.id,))
            # A read still answers at once, with the last committed state.
            seen = await asyncio.wait_for(store.get_link(link.id), timeout=2)
            assert seen is not None and seen.lock_id == "lock-1"
            other.execute("COMMIT")
        after = await store.get_link(link.id)
        assert after is not None and after.lock_id == "changing"


async def test_the_reader_cannot_write(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.db") as db:
        with pytest.raises(
            sqlite3.OperationalError, match=r"^attempt to write a readonly database$"
        ) as caught:
            await db.read(lambda conn: conn.execute("DELETE FROM session_links"))
        assert caught.value.sqlite_errorname == "SQLITE_READONLY"


# ---- shutdown -------------------------------------------------------------------------------


async def test_close_checkpoints_the_wal_into_the_main_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with await Database.open(path):
        pass  # the schema, checkpointed by the last connection's close
    db = await Database.open(path)
    # Another connection (a backup tool, a second copy of the bot) keeps SQLite from
    # checkpointing on its own when the bot's last connection closes: only the explicit
    # checkpoint in close() can make the main file complete.
    other = sqlite3.connect(path)
    try:
        other.execute("SELECT count(*) FROM session_links").fetchone()
        link = await make_link(Store(db))
        await db.close()
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        copy = tmp_path / "copy" / "bot.sqlite3"
        copy.parent.mkdir()
        copy.write_bytes(path.read_bytes())  # the main file alone, as a careless backup takes it
        with sqlite3.connect(copy) as conn:
            rows = conn.execute("SELECT id, chaster_session_id FROM session_links").fetchall()
        assert rows == [(link.id, "sess-1")]
    finally:
        other.close()


async def test_close_logs_instead_of_raising_when_it_cannot_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path, busy_timeout=0.1)
    await make_link(Store(db))
    # An open read transaction elsewhere pins the WAL: TRUNCATE cannot finish.
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN")
        other.execute("SELECT count(*) FROM session_links").fetchone()
        await db.close()
    finally:
        other.close()
    assert "could not checkpoint" in caplog.text
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM session_links").fetchone()[0] == 1
