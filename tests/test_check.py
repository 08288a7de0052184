"""`python -m bot check` against the fakes, as a new user would run it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.check import channel_permissions
from bot.store import Controls, Database, Store, load_migrations
from tests.fakes.chaster import FakeChaster
from tests.fakes.discord import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    EMBED_LINKS,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeDiscord,
)

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
        ["ok", "feed"],
    ]
    assert lines[4].endswith(
        "no feed channel set (/settings feed): task updates go to the channel of each command;"
        " controls both"
    ), lines[4]
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


FEED = 2001


async def feed_lines(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    chaster: FakeChaster,
    controls: Controls,
) -> tuple[int, list[str]]:
    database = tmp_path / "data" / "bot.sqlite3"
    database.parent.mkdir(exist_ok=True)
    async with await Database.open(database) as db:
        store = Store(db)
        await store.set_feed_channel(discord_fake.guild_id, FEED)
        await store.set_controls(discord_fake.guild_id, controls)
    result = await _in_thread(run_check, settings_for(discord_fake, chaster, tmp_path), tmp_path)
    return result.returncode, [line for line in result.stdout.splitlines() if " feed in " in line]


async def test_check_names_the_feed_permissions_each_server_lacks_for_its_controls(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord(token="discord-token-value", channel_ids=(2000, FEED)) as discord_fake,
        FakeChaster(slug=SLUG) as chaster,
    ):
        role = discord_fake.bot_role_id
        await discord_fake.set_role_permissions(
            role, discord_fake.roles[role].permissions & ~MANAGE_MESSAGES
        )
        code, [line] = await feed_lines(tmp_path, discord_fake, chaster, Controls.BOTH)
        assert code == 1
        assert line == (
            f"FAIL feed in {discord_fake.guild_name} ({discord_fake.guild_id}): channel {FEED}"
            " lacks Manage Messages for controls both"
        )
        # Buttons need neither reactions permission.
        code, [line] = await feed_lines(tmp_path, discord_fake, chaster, Controls.BUTTONS)
        assert code == 0, line
        assert line.endswith(f"channel {FEED} has all that controls buttons need")
        # A channel overwrite counts too: here the bot's role may not embed links.
        await discord_fake.set_channel_overwrites(
            FEED, [{"id": role, "type": 0, "allow": 0, "deny": EMBED_LINKS}]
        )
        code, [line] = await feed_lines(tmp_path, discord_fake, chaster, Controls.BUTTONS)
        assert code == 1
        assert line.endswith(f"channel {FEED} lacks Embed Links for controls buttons")


async def test_check_reports_a_feed_channel_that_is_gone(tmp_path: Path) -> None:
    async with (
        FakeDiscord(token="discord-token-value", channel_ids=(2000,)) as discord_fake,
        FakeChaster(slug=SLUG) as chaster,
    ):
        code, [line] = await feed_lines(tmp_path, discord_fake, chaster, Controls.REACTIONS)
    assert code == 1
    assert line.endswith(f"the feed channel {FEED} is gone or hidden from the bot")


# @everyone (the server's own id) and two roles of the member's.
ROLES_JSON = [
    {"id": "1", "permissions": str(VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS)},
    {"id": "7", "permissions": str(EMBED_LINKS)},
    {"id": "8", "permissions": "0"},
]
GUILD_JSON = {"id": "1", "owner_id": "99", "roles": ROLES_JSON}
MEMBER_JSON = {"roles": ["7", "8"]}


def overwrite(target: str, kind: int, allow: int = 0, deny: int = 0) -> dict[str, object]:
    return {"id": target, "type": kind, "allow": str(allow), "deny": str(deny)}


def test_channel_permissions_follow_discords_order_of_overwrites() -> None:
    def perms(*overwrites: dict[str, object]) -> int:
        channel = {"permission_overwrites": list(overwrites)}
        return channel_permissions(GUILD_JSON, MEMBER_JSON, channel, "5")

    base = VIEW_CHANNEL | SEND_MESSAGES | ADD_REACTIONS | EMBED_LINKS
    assert perms() == base
    assert perms(overwrite("1", 0, deny=SEND_MESSAGES)) == base & ~SEND_MESSAGES
    # A role's allow beats @everyone's deny; among roles, an allow beats another's deny.
    assert (
        perms(overwrite("1", 0, deny=SEND_MESSAGES), overwrite("7", 0, allow=SEND_MESSAGES)) == base
    )
    assert (
        perms(overwrite("7", 0, deny=ADD_REACTIONS), overwrite("8", 0, allow=ADD_REACTIONS)) == base
    )
    # The member's own overwrite comes last.
    assert (
        perms(overwrite("7", 0, allow=MANAGE_MESSAGES), overwrite("5", 1, deny=MANAGE_MESSAGES))
        == base
    )
    # Without View Channel, nothing.
    assert perms(overwrite("5", 1, deny=VIEW_CHANNEL)) == 0
    # The owner and administrators have everything, whatever the overwrites.
    everything = channel_permissions(GUILD_JSON, MEMBER_JSON, {}, "99")
    assert everything & MANAGE_MESSAGES and everything & ADMINISTRATOR
    admin_guild = {
        **GUILD_JSON,
        "roles": [*ROLES_JSON, {"id": "9", "permissions": str(ADMINISTRATOR)}],
    }
    assert (
        channel_permissions(
            admin_guild,
            {"roles": ["9"]},
            {"permission_overwrites": [overwrite("1", 0, deny=VIEW_CHANNEL)]},
            "5",
        )
        == everything
    )


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
