"""A database file the bot cannot use stops start-up with one clear line and stays untouched.

Not SQLite, damaged, another program's, locked, or in a place that cannot be written: each is
refused by `Database.open` with `DatabaseUnavailable`, and by `python -m bot` with exit status 1
before it ever contacts Discord.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.store import Database, DatabaseUnavailable, Store
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import FakeDiscord

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PAGE = 4096
# Nothing listens on port 9 (discard): a bot that tried Discord or Chaster first would fail
# there, with a different message.
UNREACHABLE = "http://127.0.0.1:9"


def healthy_database(path: Path, *, links: int = 200) -> None:
    """A real bot database, big enough to span many pages, closed (WAL checkpointed)."""

    async def fill() -> None:
        async with await Database.open(path) as db:
            store = Store(db)
            for number in range(links):
                await store.create_link(
                    guild_id=1,
                    wearer_id=number,
                    keyholder_id=2,
                    chaster_session_id=f"session-{number:04d}-" + "x" * 40,
                    lock_id=f"lock-{number:04d}",
                    now=T0,
                )

    asyncio.run(fill())


def write_text(path: Path) -> None:
    path.write_text("DISCORD_TOKEN=oops, this is the .env file\n", encoding="utf-8")


def write_random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(3 * PAGE))


def truncate_database(path: Path) -> None:
    healthy_database(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def overwrite_pages(path: Path) -> None:
    healthy_database(path)
    data = bytearray(path.read_bytes())
    assert len(data) > 6 * PAGE
    data[3 * PAGE : 5 * PAGE] = os.urandom(2 * PAGE)
    path.write_bytes(bytes(data))


def another_programs_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()


# What follows the file's path in the refusal, as a pattern for the rest of the line.
NOT_SQLITE = (
    r"is not an SQLite database; the bot will not overwrite it: restore the database from a"
    r" backup, or set DATABASE_PATH to another file"
)
# SQLite's own words for the damage go in the parentheses.
DAMAGED = (
    r"is damaged \(.+\); stop the bot, keep a copy of the file, and restore it from a backup"
    r" \(sqlite3's \.recover command may rescue its rows\)"
)
ANOTHER_PROGRAMS = (
    r"is another program's SQLite database \(tables notes, no schema version\); the bot will"
    r" not migrate into it: set DATABASE_PATH to a new file"
)
BAD_FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "text file": (write_text, NOT_SQLITE),
    "random bytes": (write_random_bytes, NOT_SQLITE),
    "truncated": (truncate_database, DAMAGED),
    "overwritten pages": (overwrite_pages, DAMAGED),
    "another program's": (another_programs_database, ANOTHER_PROGRAMS),
}


def folder_state(folder: Path) -> dict[str, bytes]:
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}


@pytest.mark.parametrize("case", BAD_FILES)
async def test_open_refuses_a_bad_file_and_leaves_it_as_it_was(tmp_path: Path, case: str) -> None:
    make, expected = BAD_FILES[case]
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(make, path)
    before = folder_state(tmp_path)
    with pytest.raises(DatabaseUnavailable, match=f"^{re.escape(str(path))} {expected}$") as caught:
        await Database.open(path)
    assert "\n" not in str(caught.value)
    # Not modified, not replaced, and no -wal or -shm left beside it.
    assert folder_state(tmp_path) == before


def hold_exclusive_transaction(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def hold_exclusive_locking_mode(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    # In exclusive locking mode the lock is taken by the first write and kept until close.
    holder.execute("UPDATE session_links SET lock_id = lock_id WHERE id = 1")
    return holder


def hold_rollback_journal_lock(path: Path) -> sqlite3.Connection:
    # A database not (yet) in WAL mode, as schema versions from before the bot are: there
    # even reading the schema waits for the lock.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return hold_exclusive_transaction(path)


LOCKS: dict[str, Callable[[Path], sqlite3.Connection]] = {
    "BEGIN EXCLUSIVE": hold_exclusive_transaction,
    "locking_mode=EXCLUSIVE": hold_exclusive_locking_mode,
    "rollback journal": hold_rollback_journal_lock,
}


@pytest.mark.parametrize("lock", LOCKS)
async def test_open_waits_the_busy_timeout_then_refuses_a_locked_file(
    tmp_path: Path, lock: str
) -> None:
    path = tmp_path / "bot.sqlite3"
    await asyncio.to_thread(healthy_database, path, links=3)
    holder = LOCKS[lock](path)
    try:
        before = path.read_bytes()
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as caught:
            await Database.open(path, busy_timeout=0.3)
        waited = time.monotonic() - started
        assert path.read_bytes() == before
    finally:
        holder.close()
    assert str(caught.value) == (
        f"{path} is locked by another process — is another copy of the bot running?"
        " Stop it (or the tool holding the file) and start again"
    )
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    # It waited for the lock (the busy timeout is in force from the first statement) ...
    assert waited >= 0.25
    # ... and once the other process lets go, the same file opens with its rows.
    async with await Database.open(path) as db:
        assert len(await Store(db).open_links()) == 3


async def test_open_refuses_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    with pytest.raises(DatabaseUnavailable) as caught:
        await Database.open(folder)
    assert str(caught.value) == (
        f"{folder} is a directory, not a database file; set DATABASE_PATH to a file in it,"
        f" such as {folder / 'bot.sqlite3'}"
    )
    assert list(folder.iterdir()) == []


async def test_open_refuses_a_folder_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the folder should be")
    path = blocker / "bot.sqlite3"
    with pytest.raises(DatabaseUnavailable) as caught:
        await Database.open(path)
    assert str(caught.value) == (
        f"cannot create the folder {blocker} for bot.sqlite3 (a file is in the way);"
        " create it, or set DATABASE_PATH to a writable place"
    )
    assert blocker.read_text() == "a file where the folder should be"


async def test_open_refuses_a_folder_the_user_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root may write anywhere, so a read-only folder is simulated here; the test below uses
    # a real one when the tests do not run as root.
    folder = tmp_path / "data"
    folder.mkdir()
    real_access = os.access

    def access(target: object, mode: int, **kwargs: object) -> bool:
        if Path(str(target)) == folder and mode & os.W_OK:
            return False
        return real_access(target, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("bot.store._opening.os.access", access)
    with pytest.raises(DatabaseUnavailable) as caught:
        await Database.open(folder / "bot.sqlite3")
    assert str(caught.value) == (
        f"the folder {folder} is not writable by the user the bot runs as (uid {os.geteuid()});"
        " SQLite keeps bot.sqlite3-wal and bot.sqlite3-shm there: change its owner or"
        " permissions, or set DATABASE_PATH elsewhere"
    )
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
async def test_open_refuses_a_folder_it_cannot_write(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            await Database.open(folder / "bot.sqlite3")
    finally:
        folder.chmod(0o755)
    assert str(caught.value) == (
        f"the folder {folder} is not writable by the user the bot runs as (uid {os.geteuid()});"
        " SQLite keeps bot.sqlite3-wal and bot.sqlite3-shm there: change its owner or"
        " permissions, or set DATABASE_PATH elsewhere"
    )


# ---- python -m bot ------------------------------------------------------------------------


@pytest.fixture
def bot_env() -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "DISCORD_TOKEN": "discord-token-value",
        "CHASTER_API_TOKEN": "chaster-token-value",
        "CHASTER_EXTENSION_SLUG": "tasks-bot",
        "DISCORD_API_URL": UNREACHABLE,
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/",
        "CHASTER_API_URL": UNREACHABLE,
    }


def run_bot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("case", BAD_FILES)
def test_python_m_bot_stops_at_a_bad_database_with_one_line(
    tmp_path: Path, bot_env: dict[str, str], case: str
) -> None:
    make, expected = BAD_FILES[case]
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "bot.sqlite3"
    make(path)
    before = folder_state(folder)
    result = run_bot({**bot_env, "DATABASE_PATH": str(path)}, tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(f"chaster-tasks-bot: {re.escape(str(path))} {expected}", lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    assert folder_state(folder) == before


def test_python_m_bot_names_a_relative_path_absolutely(
    tmp_path: Path, bot_env: dict[str, str]
) -> None:
    (tmp_path / "data").mkdir()
    result = run_bot({**bot_env, "DATABASE_PATH": "data"}, tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"chaster-tasks-bot: {tmp_path / 'data'} is a directory, not a database file;"
        f" set DATABASE_PATH to a file in it, such as {tmp_path / 'data' / 'bot.sqlite3'}"
    ]


async def test_python_m_bot_check_reports_a_bad_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    write_random_bytes(path)
    before = path.read_bytes()
    async with (
        FakeDiscord(token="discord-token-value") as discord_fake,
        FakeChaster(slug="tasks-bot") as chaster,
    ):
        env = {
            "PATH": "/usr/bin:/bin",
            "DISCORD_TOKEN": "discord-token-value",
            "CHASTER_API_TOKEN": chaster.token,
            "CHASTER_EXTENSION_SLUG": "tasks-bot",
            "CHASTER_API_URL": chaster.url,
            "DISCORD_API_URL": discord_fake.api_url,
            "DATABASE_PATH": str(path),
        }
        result = await asyncio.to_thread(run_bot, env, tmp_path, "check")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("ok   discord:") and lines[2].startswith("ok   chaster:")
    assert lines[3].startswith(f"FAIL database: {path} is not an SQLite database;"), lines[3]
    assert path.read_bytes() == before
