"""The canary: the real bot starts against the fakes, links a wearer and assigns a task."""

from __future__ import annotations

from tests.e2e.conftest import CHANNEL, KEYHOLDER, WEARER, World


async def test_link_and_assign_posts_a_feed_message(world: World) -> None:
    session = await world.link()
    text = await world.reply(
        "task",
        KEYHOLDER,
        "assign",
        wearer=WEARER,
        description="Hold a plank",
        points=5,
        duration="2m",
    )
    assert text.startswith("Assigned to <@5002>"), text
    assert session.current_task is not None
    assert session.current_task["task"] == "Hold a plank"
    [message] = world.discord.bot_messages(CHANNEL)
    [embed] = message["embeds"]
    assert embed["description"] == "Hold a plank"
    assert embed["title"] == "📋 Task assigned"
    reactions = world.discord.reactions[int(message["id"])]
    assert sorted(emoji for emoji, _ in reactions) == ["▶️", "❌"]
