"""Reactions on a task's feed message: ▶️ ✅ ❌, refusals, and the keyholder's confirmation."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    FAIL,
    FEED,
    GUILD,
    KEYHOLDER,
    START,
    STRANGER,
    WEARER,
    ChannelRef,
    FakeUser,
    World,
    embed,
    fields,
)
from tests.fakes.discord import reaction_add


async def notice_for(world: World, user: FakeUser, channel_id: int, after: int) -> dict[str, Any]:
    """The bot's reply addressed to `user` (a refusal notice or a ping), posted after `after`."""

    def probe() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in world.discord.bot_messages(channel_id)
                if int(m["id"]) > after
                and "message_reference" in m
                and m["content"].startswith(f"<@{user.id}>")
            ),
            None,
        )

    message = await world.discord.wait_until(probe, what=f"a notice for {user.name}")
    assert [int(u["id"]) for u in message["mentions"]] == [user.id]
    return message


async def clear_of_reactions(world: World, message_id: int | str) -> None:
    await world.discord.wait_for_call("DELETE", rf"/channels/\d+/messages/{message_id}/reactions")
    assert world.discord.reactions.get(int(message_id), []) == []


@pytest.mark.parametrize("emoji", [START, "▶"], ids=["with-FE0F", "bare"])
async def test_start_reaction_starts_the_timer(world: World, emoji: str) -> None:
    session = await world.link()
    feed = await world.assign(duration="10m")
    await world.react(WEARER, int(feed["id"]), emoji, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    assert world.chaster_bodies("POST", "/tasks/start-timer") == [{"actor": "wearer"}]
    assert session.timer_started_at is not None
    assert embed(edited)["title"] == "⏱️ Timer running"
    timer = fields(edited)["Timer"]
    assert timer.startswith("Ends <t:"), timer
    assert ":R>" in timer, timer
    # ▶️ is gone (nothing left to start); ✅ appears now that the task can be completed.
    await world.wait_reactions(feed["id"], [COMPLETE, FAIL])


async def test_complete_reaction_by_the_keyholder(world: World) -> None:
    session = await world.link(enable_points=True, points_required=50, points=5)
    feed = await world.assign(points=5)
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert session.current_task is None
    assert embed(edited)["title"] == "✅ Completed"
    assert fields(edited)["Wearer's points"] == "10 / 50"
    assert fields(edited)["Closed"].startswith("by <@5001> <t:")


@pytest.mark.parametrize("who", [KEYHOLDER, WEARER], ids=["keyholder", "wearer"])
async def test_fail_reaction(world: World, who: FakeUser) -> None:
    session = await world.link()
    feed = await world.assign(duration="5m")
    await world.react(who, int(feed["id"]), FAIL, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": who.name, "isCompleted": False}
    ]
    assert session.current_task is None
    assert embed(edited)["title"] == "❌ Failed"


async def test_a_strangers_reactions_are_removed_quietly(world: World) -> None:
    session = await world.link()
    feed = await world.assign(duration="5m")
    calls = world.chaster.count_calls("POST", "/tasks/")
    last = int(world.discord.bot_messages(CHANNEL)[-1]["id"])
    for emoji in (START, COMPLETE, FAIL):
        await world.react(STRANGER, int(feed["id"]), emoji, CHANNEL)
        await world.wait_reaction_removed(feed["id"], STRANGER, emoji)
    assert world.chaster.count_calls("POST", "/tasks/") == calls
    assert session.current_task is not None
    assert world.discord.find_calls("PATCH", rf"/channels/\d+/messages/{feed['id']}") == []
    # No notice in the channel for a stranger.
    assert int(world.discord.bot_messages(CHANNEL)[-1]["id"]) == last


async def test_complete_reaction_before_the_timer_ran_out_is_refused(world: World) -> None:
    session = await world.link()
    feed = await world.assign(duration="2m")
    await world.react(WEARER, int(feed["id"]), START, CHANNEL)
    await world.wait_reactions(feed["id"], [COMPLETE, FAIL])

    calls = world.chaster.count_calls("POST", "/tasks/")
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await world.wait_reaction_removed(feed["id"], KEYHOLDER, COMPLETE)
    notice = await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))
    assert "The timer is still running; it ends <t:" in notice["content"], notice
    assert notice["message_reference"]["message_id"] == feed["id"]
    assert world.chaster.count_calls("POST", "/tasks/") == calls
    assert session.current_task is not None

    world.advance(120)
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert embed(world.discord.messages[int(feed["id"])])["title"] == "✅ Completed"


@pytest.mark.parametrize("emoji", [START, "▶"], ids=["with-FE0F", "bare"])
async def test_start_reaction_on_an_untimed_task_is_refused(world: World, emoji: str) -> None:
    await world.link()
    feed = await world.assign()
    calls = world.chaster.count_calls("POST", "/tasks/")
    await world.react(WEARER, int(feed["id"]), emoji, CHANNEL)
    await world.wait_reaction_removed(feed["id"], WEARER, emoji)
    notice = await notice_for(world, WEARER, CHANNEL, int(feed["id"]))
    assert "not timed" in notice["content"], notice
    assert world.chaster.count_calls("POST", "/tasks/") == calls


async def test_the_bots_own_reactions_are_ignored(world: World) -> None:
    await world.link()
    feed = await world.assign()
    # The fake echoes the bot's own ✅ and ❌ as gateway events; replay one more explicitly.
    await world.react(world.discord.bot_user, int(feed["id"]), COMPLETE, CHANNEL)
    # A stranger's reaction afterwards: once it is handled, the bot's event was handled too.
    await world.react(STRANGER, int(feed["id"]), FAIL, CHANNEL)
    await world.wait_reaction_removed(feed["id"], STRANGER, FAIL)
    assert world.discord.find_calls("DELETE", r"/channels/.*/reactions/.*") == [
        world.discord.find_calls("DELETE", rf".*/reactions/{FAIL}/{STRANGER.id}")[0]
    ]
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0
    assert world.reactions_by(feed["id"]) == sorted([COMPLETE, FAIL])


async def test_wearer_completion_waits_for_the_keyholders_confirmation(world: World) -> None:
    session = await world.link()
    feed = await world.assign(description="Write 100 lines")
    calls = world.chaster.count_calls("POST", "/tasks/")
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    assert embed(edited)["title"] == "✋ Awaiting the keyholder's confirmation"
    assert fields(edited)["Waiting for"].startswith("<@5001> to confirm")
    ping = await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))
    assert ping["content"].startswith("<@5001>, <@5002> says they finished “Write 100 lines”")
    assert world.chaster.count_calls("POST", "/tasks/") == calls
    assert session.current_task is not None
    # The wearer's ✅ is not taken away: it is the request.
    assert world.reactions_by(feed["id"], WEARER.id) == [COMPLETE]

    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert embed(world.discord.messages[int(feed["id"])])["title"] == "✅ Completed"
    assert session.current_task is None


async def test_wearer_completes_directly_when_allowed(world: World) -> None:
    await world.reply("settings", ADMIN, "wearer-complete", allowed=True)
    await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    session = await world.link()
    feed = await world.assign()
    assert int(feed["channel_id"]) == FEED
    await world.react(WEARER, int(feed["id"]), COMPLETE, FEED)
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "wearer", "isCompleted": True}
    ]
    assert session.current_task is None
    assert embed(world.discord.messages[int(feed["id"])])["title"] == "✅ Completed"
    # Only the feed message: no confirmation ping anywhere.
    assert world.discord.bot_messages(CHANNEL) == []
    assert world.discord.bot_messages(FEED) == [world.discord.messages[int(feed["id"])]]


async def test_refusal_notice_in_the_feed_channel(world: World) -> None:
    await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    await world.link()
    feed = await world.assign(duration="3m")
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, FEED)
    await world.wait_reaction_removed(feed["id"], KEYHOLDER, COMPLETE)
    notice = await notice_for(world, KEYHOLDER, FEED, int(feed["id"]))
    assert "Start the timer first" in notice["content"], notice
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0


async def test_self_lock_wearer_completes_with_the_extension_actor(world: World) -> None:
    session = await world.link(has_keyholder=False)
    feed = await world.assign(by=WEARER)
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    await clear_of_reactions(world, feed["id"])
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "extension", "isCompleted": True}
    ]
    assert session.current_task is None


async def test_chaster_error_on_a_reaction_is_shown_and_changes_nothing(world: World) -> None:
    session = await world.link()
    feed = await world.assign()
    world.chaster.fail_next("POST", "/tasks/complete", 400, "Some Chaster reason")
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await world.wait_reaction_removed(feed["id"], KEYHOLDER, COMPLETE)
    notice = await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))
    assert "Chaster said: Some Chaster reason" in notice["content"], notice
    assert session.current_task is not None
    assert embed(world.discord.messages[int(feed["id"])])["title"] == "📋 Task assigned"
    assert world.reactions_by(feed["id"]) == sorted([COMPLETE, FAIL])
    assert "· assigned" in await world.reply("task", WEARER, "status")


async def test_simultaneous_complete_and_fail_close_the_task_once(world: World) -> None:
    session = await world.link()
    feed = await world.assign()
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await world.react(WEARER, int(feed["id"]), FAIL, CHANNEL)
    await clear_of_reactions(world, feed["id"])

    def loser_notice() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in world.discord.bot_messages(CHANNEL)
                if int(m["id"]) > int(feed["id"]) and "This task is already" in m["content"]
            ),
            None,
        )

    await world.discord.wait_until(loser_notice, what="the refusal of the second reaction")
    assert len(world.chaster_bodies("POST", "/tasks/complete")) == 1
    assert session.current_task is None
    assert embed(world.discord.messages[int(feed["id"])])["title"] in ("✅ Completed", "❌ Failed")


async def test_completing_while_the_timer_notice_is_in_flight_leaves_it_completed(
    world: World,
) -> None:
    await world.link()
    feed = await world.assign(duration="2m")
    message_id = int(feed["id"])
    await world.react(WEARER, message_id, START, CHANNEL)
    await world.wait_reactions(feed["id"], [COMPLETE, FAIL])
    edits = len(world.discord.find_calls("PATCH", rf"/channels/\d+/messages/{message_id}"))
    # Slow Discord a little, so the bot's own update for the finished timer is still running
    # when the keyholder completes the task.
    world.discord.rest_latency = 0.25
    world.advance(121)
    await world.wait_edits(message_id, edits + 1)  # the bot noticed the timer ran out
    await world.react(KEYHOLDER, message_id, COMPLETE, CHANNEL)
    await clear_of_reactions(world, message_id)
    # The timer's notice is the bot's last step for it.
    await world.discord.wait_until(
        lambda: any("timer of" in m["content"] for m in world.discord.bot_messages(CHANNEL)),
        what="the timer-finished ping",
    )
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert embed(world.discord.messages[message_id])["title"] == "✅ Completed"
    assert world.discord.reactions.get(message_id, []) == []


async def test_reactions_on_an_old_task_do_not_touch_the_current_one(world: World) -> None:
    session = await world.link()
    old = await world.assign(description="Old task")
    assert await world.reply("task", KEYHOLDER, "complete", wearer=WEARER) == "Task completed."
    await world.assign(description="New task")

    await world.react(WEARER, int(old["id"]), FAIL, CHANNEL)
    await world.wait_reaction_removed(old["id"], WEARER, FAIL)
    notice = await notice_for(world, WEARER, CHANNEL, int(old["id"]))
    assert "This task is already completed." in notice["content"], notice
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1
    assert session.current_task is not None
    assert session.current_task["task"] == "New task"


async def test_a_task_keeps_its_message_when_the_feed_channel_changes(world: World) -> None:
    await world.link()
    feed = await world.assign()
    assert int(feed["channel_id"]) == CHANNEL
    await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    assert embed(edited)["title"] == "✋ Awaiting the keyholder's confirmation"
    ping = await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))
    assert ping["message_reference"]["message_id"] == feed["id"]
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await clear_of_reactions(world, feed["id"])
    assert embed(world.discord.messages[int(feed["id"])])["title"] == "✅ Completed"
    assert world.discord.bot_messages(FEED) == []


async def test_reactions_after_unlink_are_refused(world: World) -> None:
    session = await world.link()
    feed = await world.assign()
    await world.reply("unlink", KEYHOLDER, wearer=WEARER)
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    await world.wait_reaction_removed(feed["id"], KEYHOLDER, COMPLETE)
    notice = await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))
    assert "no longer linked" in notice["content"], notice
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0
    assert session.current_task is not None


async def test_a_notice_that_names_the_keyholder_pings_only_the_wearer(world: World) -> None:
    await world.link()
    feed = await world.assign()
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    await notice_for(world, KEYHOLDER, CHANNEL, int(feed["id"]))  # the confirmation request
    await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
    await world.wait_reaction_removed(feed["id"], WEARER, COMPLETE)
    # The refusal names the keyholder; only the wearer who reacted is notified.
    notice = await notice_for(world, WEARER, CHANNEL, int(feed["id"]))
    assert notice["content"] == (
        f"<@{WEARER.id}> Already waiting for <@{KEYHOLDER.id}> to confirm."
    ), notice


async def test_the_gateways_echo_of_the_bots_own_reactions_is_dropped_unparsed(
    world: World,
) -> None:
    await world.link()
    feed = await world.assign()
    seen: list[int] = []

    async def listener(event: discord.RawReactionActionEvent) -> None:
        seen.append(event.user_id)

    world.bot.add_listener(listener, "on_raw_reaction_add")
    try:
        bot_user = world.discord.bot_user
        await world.discord.dispatch(
            "MESSAGE_REACTION_ADD",
            reaction_add(
                user=bot_user,
                channel_id=CHANNEL,
                message_id=int(feed["id"]),
                guild_id=GUILD,
                emoji=COMPLETE,
                message_author_id=bot_user.id,
            ),
        )
        await world.react(WEARER, int(feed["id"]), COMPLETE, CHANNEL)
        await world.discord.wait_until(lambda: seen or None, what="the wearer's reaction")
    finally:
        world.bot.remove_listener(listener, "on_raw_reaction_add")
    # Events arrive in order: the bot's own came first and never reached a listener.
    assert seen == [WEARER.id]
