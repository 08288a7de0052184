"""Task descriptions written to ping or mislead, through a task's whole life in the feed.

Whoever writes a description, the only people the bot may ping are the wearer and the keyholder,
each when it is their turn, and never @everyone, @here or a role. Who would be pinged is what the
fake Discord computes for each message the bot sent, from its content and allowed_mentions, as
Discord does. The description itself must be shown exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import discord
import pytest

from bot.core.text import clean_task_text
from tests.e2e.conftest import ADMIN, ADMINS, CHANNEL, KEYHOLDER, STRANGER, WEARER, World, embed

HOSTILE_DESCRIPTIONS = [
    "@everyone look at this",
    "@here now",
    f"<@&{ADMINS.id}> role ping",
    f"<@{STRANGER.id}> and <@!{ADMIN.id}> watch",
    "**x** __y__ ||spoiler|| `tick ``` > quote",
    f"{'x' * 95}<@{STRANGER.id}> cut inside the short form @everyone",
    f"@everyone @here <@&{ADMINS.id}> <@{STRANGER.id}> **all at once**",
]


@dataclass(frozen=True)
class Sent:
    """One message body the bot sent, with whom Discord would ping for it."""

    content: str
    users: frozenset[int]
    roles: tuple[str, ...]
    everyone: bool


_MESSAGE_PATHS = re.compile(
    r"/channels/\d+/messages(/\d+)?"
    r"|/interactions/\d+/[^/]+/callback"
    r"|/webhooks/\d+/[^/]+(/messages/[^/]+)?"
)


def sent_by_bot(world: World) -> list[Sent]:
    """Every message body the bot POSTed or PATCHed that carries content, as Discord reads it."""
    sent = []
    for call in world.discord.calls:
        if call.method not in ("POST", "PATCH") or not _MESSAGE_PATHS.fullmatch(call.path):
            continue
        body: Any = call.json
        if isinstance(body, dict) and "/interactions/" in call.path:
            body = body.get("data")
        if not isinstance(body, dict) or body.get("content") is None:
            continue
        content = str(body["content"])
        users, roles, everyone = world.discord._mentions(content, body.get("allowed_mentions"))
        sent.append(Sent(content, frozenset(int(u["id"]) for u in users), tuple(roles), everyone))
    return sent


def assert_pings_only_whose_turn_it_is(world: World) -> None:
    sent = sent_by_bot(world)
    assert sent, "the bot sent nothing"
    for message in sent:
        assert not message.everyone, message
        assert message.roles == (), message
        if (
            "a new task for you" in message.content
            or "assigned to you in Chaster" in message.content
        ):
            expected = {WEARER.id}
        elif "says they finished" in message.content:
            expected = {KEYHOLDER.id}
        elif "has finished" in message.content:
            expected = {WEARER.id, KEYHOLDER.id}
        else:
            expected = set()
        assert message.users == expected, message
    # And what the fake holds for every message by the bot now (after every edit) agrees.
    for stored in [*world.discord.messages.values(), *world.discord.ephemeral_messages.values()]:
        if int(stored["author"]["id"]) != world.discord.bot_user.id:
            continue
        assert not stored.get("mention_everyone"), stored
        assert not stored.get("mention_roles"), stored
        pinged = {int(user["id"]) for user in stored.get("mentions") or []}
        assert pinged <= {WEARER.id, KEYHOLDER.id}, stored


@pytest.mark.parametrize("description", HOSTILE_DESCRIPTIONS)
async def test_a_hostile_description_pings_only_the_wearer_and_keyholder_in_turn(
    world: World, description: str
) -> None:
    await world.link()
    feed = await world.assign(description=description, duration="2m")
    message_id = int(feed["id"])
    assert embed(feed)["description"] == description

    assert (await world.reply("task", WEARER, "start")).startswith("Timer started")
    world.advance(121)
    await world.discord.wait_until(
        lambda: any("has finished" in m["content"] for m in world.discord.bot_messages(CHANNEL)),
        what="the timer-finished ping",
    )
    # Wearers may not complete on their own here: the keyholder is asked to confirm.
    confirm = await world.reply("task", WEARER, "complete")
    assert confirm == "Marked as done; waiting for the keyholder to confirm."
    assert await world.reply("task", KEYHOLDER, "complete", wearer=WEARER) == "Task completed."
    final = world.discord.messages[message_id]
    assert embed(final)["title"] == "✅ Completed"

    # Shown exactly as written in every version of the feed message.
    for call in world.discord.find_calls("PATCH", rf"/channels/\d+/messages/{message_id}"):
        for shown in call.json.get("embeds") or []:
            assert shown["description"] == description
    assert embed(final)["description"] == description
    assert_pings_only_whose_turn_it_is(world)


async def test_a_hostile_task_from_chaster_is_cleaned_and_pings_only_the_wearer(
    world: World,
) -> None:
    session = await world.link()
    raw = f"@everyone <@&{ADMINS.id}> <@{STRANGER.id}> \u202eetad yrev\u202c **now**"
    world.chaster.assign_in_app(session.session_id, raw, points=1)
    # The same path the poller and webhooks take.
    await world.core.sync.sync_session(session.session_id)
    [feed] = world.feed_messages()
    assert embed(feed)["description"] == clean_task_text(raw)
    assert "\u202e" not in embed(feed)["description"]
    assert_pings_only_whose_turn_it_is(world)


async def test_the_description_quoted_in_a_ping_is_shown_as_written(world: World) -> None:
    description = "Say ||yes|| and `wait"
    await world.link()
    await world.assign(description=description)
    confirm = await world.reply("task", WEARER, "complete")
    assert confirm == "Marked as done; waiting for the keyholder to confirm."
    [ping] = [
        m for m in world.discord.bot_messages(CHANNEL) if "says they finished" in m["content"]
    ]
    # Escaped, the characters Discord would read as markdown are shown as typed.
    assert discord.utils.escape_markdown(description) in ping["content"]
