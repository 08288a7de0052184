"""`python -m bot check` against the fakes, as a new user would run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.store import load_migrations
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import FakeDiscord

SLUG = "discord-tasks-bot"


def run_check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_for(discord_fake: FakeDiscord, chaster: FakeChaster, tmp_path: Path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "discord-token-value",
        "CHASTER_API_TOKEN": chaster.token,
        "CHASTER_EXTENSION_SLUG": SLUG,
        "CHASTER_API_URL": chaster.url,
        "DISCORD_API_URL": discord_fake.api_url,
        "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
    }


async def test_check_passes_and_counts_locked_sessions(tmp_path: Path) -> None:
    async with (
        FakeDiscord(token="discord-token-value") as discord_fake,
        FakeChaster(slug=SLUG) as chaster,
    ):
        for _ in range(3):
            chaster.add_session()
        chaster.add_session(status="unlocked")
        result = await _in_thread(
            run_check, settings_for(discord_fake, chaster, tmp_path), tmp_path
        )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0:2] for line in lines] == [
        ["ok", "settings:"],
        ["ok", "discord:"],
        ["ok", "chaster:"],
        ["ok", "database:"],
    ]
    assert "3 locked session(s)" in lines[2]
    assert "testbot" in lines[1]
    assert f"schema version {len(load_migrations())}" in lines[3]
    assert "discord-token-value" not in result.stdout + result.stderr


async def test_check_reports_each_failure_on_its_line(tmp_path: Path) -> None:
    async with (
        FakeDiscord(token="another-token") as discord_fake,
        FakeChaster(slug=SLUG) as chaster,
    ):
        env = settings_for(discord_fake, chaster, tmp_path)
        env["CHASTER_API_TOKEN"] = "wrong-chaster-token"
        result = await _in_thread(run_check, env, tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[1] == "FAIL discord: Discord refused DISCORD_TOKEN (401)"
    assert lines[2] == "FAIL chaster: Chaster refused CHASTER_API_TOKEN (401)"
    assert lines[3].startswith("ok   database:")
    assert "wrong-chaster-token" not in result.stdout + result.stderr


async def test_check_without_settings_fails_in_one_line(tmp_path: Path) -> None:
    result = await _in_thread(run_check, {}, tmp_path)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert line.startswith("FAIL settings: invalid configuration: DISCORD_TOKEN is missing")


async def _in_thread(
    function: Callable[[dict[str, str], Path], subprocess.CompletedProcess[str]],
    env: dict[str, str],
    cwd: Path,
) -> subprocess.CompletedProcess[str]:
    # The fakes run on this event loop, so the blocking subprocess runs in a thread.
    return await asyncio.to_thread(function, env, cwd)
