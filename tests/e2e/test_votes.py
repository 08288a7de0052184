"""/task vote from the poll to the assignment, /task vote-end, and a vote that ends on its own
time (the bot's clock) or while the bot was away."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.core.model import Caller, Event, VoteEvent, VoteEventKind
from bot.store import VoteOutcome
from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    GUILD,
    KEYHOLDER,
    STRANGER,
    WEARER,
    World,
    embed,
)
from tests.fakes.discord import SEND_POLLS

OPTIONS = ["Hold a plank for two minutes", "Write a letter" + " to your keyholder" * 4, "Kneel"]


async def with_library(world: World) -> None:
    await world.link(user_tasks=[])
    for n, text in enumerate(OPTIONS):
        answer = await world.reply("library", KEYHOLDER, "add", description=text, points=n + 1)
        assert answer.startswith("Kept"), answer


def poll_message(world: World) -> dict[str, Any]:
    [message] = [m for m in world.discord.bot_messages(CHANNEL) if "poll" in m]
    return message


async def test_a_vote_from_the_poll_to_the_assignment(world: World) -> None:
    await with_library(world)
    answer = await world.reply("task", KEYHOLDER, "vote", wearer=WEARER, options=3, hours=2)
    assert answer.startswith("The vote for <@5002>'s next task is open in <#2000>"), answer
    message = poll_message(world)
    poll = message["poll"]
    assert poll["question"]["text"] == "Which task should wearer do next?"
    texts = [a["poll_media"]["text"] for a in poll["answers"]]
    assert all(len(t) <= 55 for t in texts) and len(texts) == 3
    # Beside the poll, every option in full.
    lines = message["content"].splitlines()
    assert lines[0].startswith("**Vote on <@5002>'s next task** (ends <t:")
    full = [line.split(". ", 1)[1].split(" · ")[0] for line in lines[1:]]
    assert sorted(full) == sorted(OPTIONS)
    assert world.chaster.count_calls("POST", "/tasks/assign") == 0

    winner = next(n for n, t in enumerate(full, start=1) if t == "Kneel")
    for user in (KEYHOLDER, STRANGER, ADMIN):
        await world.discord.vote(user=user, message_id=int(message["id"]), answer_id=winner)
    await world.discord.vote(user=WEARER, message_id=int(message["id"]), answer_id=winner % 3 + 1)

    # The bot's clock reaches the end: it ends the poll in Discord, reads it, assigns.
    world.advance(2 * 3600)
    await world.discord.wait_for_call("POST", rf"/channels/{CHANNEL}/polls/{message['id']}/expire")
    result = await world.discord.wait_until(
        lambda: next(
            (m for m in world.discord.bot_messages(CHANNEL) if "is over" in m["content"]), None
        ),
        what="the vote's result",
    )
    assert result["content"] == "The vote for <@5002> is over: “Kneel” won with 3 votes."
    assert result["message_reference"]["message_id"] == message["id"]
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"]["task"] == "Kneel" and body["task"]["points"] == 3
    [feed] = world.feed_messages()
    assert feed["content"] == "<@5002>, a task for you, chosen by the server's vote."
    assert embed(feed)["description"] == "Kneel"
    assert world.discord.messages[int(message["id"])]["poll"]["results"]["is_finalized"]


async def test_the_keyholder_ends_a_vote_early_and_nobody_voted(world: World) -> None:
    await with_library(world)
    await world.reply("task", KEYHOLDER, "vote", wearer=WEARER, options=2, hours=24)
    again = await world.refusal("task", KEYHOLDER, "vote", wearer=WEARER)
    assert again == "<@5002> already has a vote open here. End it with /task vote-end first."
    refused = await world.refusal("task", STRANGER, "vote-end", wearer=WEARER)
    assert refused.startswith("Only <@5001>, the keyholder")
    ended = await world.reply("task", KEYHOLDER, "vote-end", wearer=WEARER)
    assert ended == "The vote for <@5002> is over; the feed says what won."
    [result] = [m for m in world.discord.bot_messages(CHANNEL) if "is over" in m["content"]]
    picked = re.fullmatch(
        r"The vote for <@5002> is over: nobody voted, so “(.+)” was picked at random\.",
        result["content"],
    )
    assert picked is not None and picked[1] in OPTIONS, result["content"]
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1
    # Ended once: the timer at its old end does nothing more.
    world.advance(25 * 3600)
    assert await world.bot.work.drained(5)
    nothing = await world.refusal("task", KEYHOLDER, "vote-end", wearer=WEARER)
    assert nothing == "<@5002> has no vote open here."
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_a_poll_discord_ended_on_its_own_is_read_as_it_is(world: World) -> None:
    await with_library(world)
    await world.reply("task", KEYHOLDER, "vote", wearer=WEARER, options=2)
    message = poll_message(world)
    await world.discord.vote(user=STRANGER, message_id=int(message["id"]), answer_id=2)
    await world.discord.finalize_poll(int(message["id"]))  # Discord's own expiry came first
    world.advance(3600)
    result = await world.discord.wait_until(
        lambda: next(
            (m for m in world.discord.bot_messages(CHANNEL) if "is over" in m["content"]), None
        ),
        what="the vote's result",
    )
    assert "won with 1 vote." in result["content"]
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_an_open_task_at_the_end_is_announced_and_nothing_assigned(world: World) -> None:
    await with_library(world)
    await world.reply("task", KEYHOLDER, "vote", wearer=WEARER, options=2)
    await world.assign(description="Something else", points=1)
    world.advance(3600)
    result = await world.discord.wait_until(
        lambda: next(
            (m for m in world.discord.bot_messages(CHANNEL) if "is over" in m["content"]), None
        ),
        what="the vote's result",
    )
    assert result["content"].endswith("<@5002> already has an open task, so nothing was assigned.")
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_without_send_polls_there_is_no_vote(world: World) -> None:
    await with_library(world)
    role = world.discord.bot_role_id
    await world.discord.set_role_permissions(
        role, world.discord.roles[role].permissions & ~SEND_POLLS
    )
    refusal = await world.refusal("task", KEYHOLDER, "vote", wearer=WEARER)
    assert refusal.startswith("I couldn't post the vote's poll in the feed channel ("), refusal
    # Withdrawn: another vote can be started once the permission is given.
    await world.discord.set_role_permissions(
        role, world.discord.roles[role].permissions | SEND_POLLS
    )
    answer = await world.reply("task", KEYHOLDER, "vote", wearer=WEARER)
    assert answer.startswith("The vote for <@5002>'s next task is open"), answer


async def test_long_tasks_still_fit_beside_the_poll(world: World) -> None:
    await world.link(user_tasks=[])
    for n in range(10):
        text = f"Task {n} " + "with a very long description " * 17
        assert await world.reply("library", KEYHOLDER, "add", description=text[:500], points=1)
    answer = await world.reply("task", KEYHOLDER, "vote", wearer=WEARER, options=10)
    assert answer.startswith("The vote for <@5002>'s next task is open"), answer
    message = poll_message(world)
    assert len(message["content"]) <= 2000
    assert len(message["content"].splitlines()) == 11


async def test_a_vote_whose_poll_was_never_saved_is_withdrawn_not_decided(world: World) -> None:
    await with_library(world)
    withdrawn = asyncio.Event()

    async def on_event(event: Event) -> None:
        if isinstance(event, VoteEvent) and event.kind is VoteEventKind.ENDED:
            assert event.vote.outcome is VoteOutcome.CANCELLED
            withdrawn.set()

    world.core.events.subscribe(on_event)
    # As if the bot died between saving the vote and posting its poll.
    vote = await world.core.votes.start(
        Caller(KEYHOLDER.id, GUILD), WEARER.id, options=2, channel_id=CHANNEL
    )
    world.advance(3600)
    # The deadlines look at the clock at least once a second.
    async with asyncio.timeout(5):
        await withdrawn.wait()
    ended = await world.core.votes.get(vote.id)
    assert ended is not None and ended.outcome is VoteOutcome.CANCELLED
    assert world.chaster.count_calls("POST", "/tasks/assign") == 0
    answer = await world.reply("task", KEYHOLDER, "vote", wearer=WEARER)
    assert answer.startswith("The vote for <@5002>'s next task is open"), answer
