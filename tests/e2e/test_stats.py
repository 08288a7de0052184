"""/stats through the bot: the numbers, the lock's points, and a PNG chart."""

from __future__ import annotations

import struct

import httpx

from tests.e2e.conftest import CHANNEL, KEYHOLDER, WEARER, World

PNG = b"\x89PNG\r\n\x1a\n"


async def png_size(url: str) -> tuple[int, int, int]:
    """Width, height and bytes of the PNG at `url`."""
    async with httpx.AsyncClient() as client:
        body = (await client.get(url)).content
    assert body.startswith(PNG), body[:16]
    width, height = struct.unpack(">II", body[16:24])
    return width, height, len(body)


async def test_stats_privately_with_a_chart(world: World) -> None:
    session = await world.link(enable_points=True, points_required=20, points=4)
    await world.assign(description="One", points=3)
    completed = await world.reply("task", KEYHOLDER, "complete", wearer=WEARER)
    assert completed == "Task completed.", completed
    await world.assign(description="Two", points=2)
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    assert session.points == 7
    handle = await world.command("stats", WEARER, days=7)
    answer = await handle.final_message()
    lines = answer["content"].splitlines()
    assert lines[0] == "**Stats of <@5002>**, the last 7 days"
    assert lines[1] == "✅ 1 completed · ❌ 1 failed · ⌛ 0 missed the deadline · 🕒 0 open"
    assert lines[2] == "Completion rate: 50%"
    assert lines[3] == "Streak: 0 completed in a row now, best 1 in this period"
    assert lines[4] == "Points earned through the bot: 3"
    assert lines[5].startswith("Lock: ■■■■□□□□□□ 7 / 20 points")
    stored = handle.original_message()
    assert stored is not None
    [attachment] = stored["attachments"]
    width, height, size = await png_size(attachment["url"])
    assert 600 <= width <= 2000 and 300 <= height <= 1200 and size < 200_000


async def test_only_the_wearer_shows_them_to_everyone(world: World) -> None:
    await world.link()
    refused = await world.reply("stats", KEYHOLDER, wearer=WEARER, public=True)
    assert refused == "Only the wearer can show their stats to everyone."
    assert [m for m in world.discord.bot_messages(CHANNEL) if m.get("attachments")] == []
    posted = await world.reply("stats", WEARER, public=True)
    assert posted == "Posted for everyone here."
    [message] = [m for m in world.discord.bot_messages(CHANNEL) if m.get("attachments")]
    assert message["content"].startswith("**Stats of <@5002>**, the last 30 days")
    assert "flags" not in message or not int(message["flags"]) & 64
