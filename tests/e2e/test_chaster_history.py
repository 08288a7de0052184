"""Chaster's history names who acted in Discord: one entry per action, through the real bot."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import ADMIN, KEYHOLDER, WEARER, World
from tests.fakes.chaster import FakeSession


async def entries(world: World, session: FakeSession, count: int) -> list[dict[str, Any]]:
    """The lock's custom history entries, once there are `count`."""

    def found() -> list[dict[str, Any]] | None:
        logs = [log for log in session.action_logs if log["type"] == "custom"]
        return logs if len(logs) >= count else None

    # The entries go out in the background: the fake Chaster's calls say when.
    await world.chaster.wait_for_call("POST", "/logs/custom", count=count)
    logs = found()
    assert logs is not None
    return logs


async def test_each_action_from_discord_is_written_once_with_the_names(world: World) -> None:
    session = await world.link()
    await world.assign(description="Plank", points=5, duration="5m")
    await world.reply("task", WEARER, "start")
    world.advance(301)
    await world.reply("task", WEARER, "complete")
    await world.reply("task", KEYHOLDER, "complete", wearer=WEARER)  # confirms it
    await world.assign(description="Lines", points=1)
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    await world.reply("pause", WEARER, reason="Tired")
    await world.reply("resume", WEARER)
    logs = await entries(world, session, 8)
    shown = [(log["title"], log["description"]) for log in logs]
    kh, wr = KEYHOLDER.name, WEARER.name
    assert shown == [
        ("Task assigned from Discord", f"by {kh} (Discord) — Plank, 5 points"),
        ("Task timer started from Discord", f"by {wr} (Discord) — Plank, 5 points"),
        ("Task reported done from Discord", f"by {wr} (Discord) — Plank, 5 points"),
        ("Task completed from Discord", f"by {kh} (Discord) — Plank, 5 points"),
        ("Task assigned from Discord", f"by {kh} (Discord) — Lines, 1 points"),
        ("Task failed from Discord", f"by {kh} (Discord) — Lines, 1 points"),
        ("Automation paused from Discord", f"by {wr} (Discord) — Tired"),
        ("Automation resumed from Discord", f"by {wr} (Discord)"),
    ]
    for log in logs:
        assert log["role"] == "extension"
        # No Discord id ever goes to Chaster.
        assert str(KEYHOLDER.id) not in str(log) and str(WEARER.id) not in str(log)


async def test_none_when_the_server_turned_it_off(world: World) -> None:
    session = await world.link()
    off = await world.reply("settings", ADMIN, "chaster-history", enabled=False)
    assert off == "Actions taken here are no longer written in the locks' Chaster history."
    await world.assign()
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    # The feed has shown the failure, and with it everything the bot does for it.
    await world.discord.wait_until(
        lambda: any("Failed" in str(m.get("embeds")) for m in world.feed_messages()),
        what="the failure in the feed",
    )
    assert [log for log in session.action_logs if log["type"] == "custom"] == []
    assert world.chaster.count_calls("POST", "/logs/custom") == 0
