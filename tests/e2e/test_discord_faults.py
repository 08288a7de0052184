"""Discord misbehaving: a feed channel that is gone or closed to the bot, a feed message deleted
by a moderator, and a gateway connection that drops in the middle of things.

In every case the task itself is safe in Chaster and in the store; what is checked is that the
person is told what to fix, that the feed heals once it can, and that nothing is done twice.
"""

from __future__ import annotations

from typing import Any

from bot.core.model import EventKind
from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    FAIL,
    FEED,
    KEYHOLDER,
    START,
    WEARER,
    ChannelRef,
    World,
    embed,
)
from tests.fakes.discord import EMBED_LINKS, MISSING_PERMISSIONS


async def use_feed_channel(world: World) -> None:
    text = await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    assert text == f"Task updates will be posted in <#{FEED}>."


async def assign_reply(world: World, **options: Any) -> str:
    return await world.reply(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Hold a plank", points=5, **options
    )


async def open_task_state(world: World) -> str | None:
    link = await world.store.get_open_link(world.discord.guild_id, WEARER.id)
    assert link is not None
    task = await world.store.get_open_task(link.id)
    return None if task is None else str(task.state)


async def settled(world: World) -> None:
    """Every command and reaction the bot has started is finished."""
    assert await world.bot.work.drained(within=5)


# ------------------------------------------------------------------------------ feed channel


async def test_a_deleted_feed_channel_is_reported_and_the_task_is_kept(world: World) -> None:
    await use_feed_channel(world)
    await world.link()
    del world.discord.channels[FEED]

    text = await assign_reply(world)

    assert text.startswith("Assigned to <@"), text
    assert f"The task feed channel <#{FEED}> no longer exists" in text
    assert "/settings feed" in text
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1
    assert await open_task_state(world) == "assigned"
    assert world.feed_messages() == []


async def test_the_task_moves_to_the_new_feed_once_a_manager_picks_one(world: World) -> None:
    await use_feed_channel(world)
    await world.link()
    del world.discord.channels[FEED]
    assert "no longer exists" in await assign_reply(world)

    text = await world.reply("settings", ADMIN, "feed", channel=ChannelRef(CHANNEL))
    assert text == f"Task updates will be posted in <#{CHANNEL}>."
    text = await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)

    assert text == "Task marked as failed."
    [message] = world.feed_messages()
    assert int(message["channel_id"]) == CHANNEL
    assert embed(message)["title"].endswith("Failed")
    assert message["mentions"] == []


async def test_no_permission_in_the_feed_channel_is_reported_to_a_manager(world: World) -> None:
    await use_feed_channel(world)
    await world.link()
    world.discord.fail("POST", rf"/channels/{FEED}/messages", 403, MISSING_PERMISSIONS)

    text = await assign_reply(world, duration="10m")

    assert text.startswith("Assigned to <@"), text
    assert f"I can't post the task feed in <#{FEED}>: I'm missing permissions there." in text
    assert "send messages, embed links, add reactions" in text
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1
    assert world.feed_messages() == []

    # Permission given back: the next change posts the task's message, with its reactions.
    text = await world.reply("task", WEARER, "start")
    assert text.startswith("Timer started; it ends"), text
    [message] = world.feed_messages()
    assert int(message["channel_id"]) == FEED
    assert message["content"] == f"<@{WEARER.id}>'s task (it could not be shown before)."
    await world.wait_reactions(message["id"], [COMPLETE, FAIL])
    task = await world.core.tasks.for_message(int(message["id"]))
    assert task is not None and str(task.state) == "timer_running"


async def test_reactions_refused_by_discord_are_reported_too(world: World) -> None:
    await world.link()
    world.discord.fail(
        "PUT", r"/channels/\d+/messages/\d+/reactions/.+/@me", 403, MISSING_PERMISSIONS
    )

    text = await assign_reply(world)

    assert "I'm missing permissions there" in text
    assert len(world.feed_messages()) == 1


async def test_settings_feed_refuses_a_channel_the_bot_cannot_post_in(world: World) -> None:
    fake = world.discord
    # Neither @everyone nor the bot's own role may embed links any more. The role updates
    # reach the bot through the gateway before the command does.
    for role_id in (fake.guild_id, fake.bot_role_id):
        await fake.set_role_permissions(role_id, fake.roles[role_id].permissions & ~EMBED_LINKS)

    text = await world.refusal("settings", ADMIN, "feed", channel=ChannelRef(FEED))

    assert text == (
        f"I can't run the task feed in <#{FEED}>: I need permission to embed links there. "
        "Give me that, or pick another channel."
    )
    settings = await world.store.get_guild_settings(world.discord.guild_id)
    assert settings.feed_channel_id is None


# ------------------------------------------------------------------------------ feed message


async def test_a_deleted_feed_message_is_posted_again(world: World) -> None:
    await world.link()
    first = await world.assign(duration="10m")
    world.discord.messages.pop(int(first["id"]))

    text = await world.reply("task", WEARER, "start")

    assert text.startswith("Timer started"), text
    [again] = world.feed_messages()
    assert again["id"] != first["id"]
    assert again["content"] == f"<@{WEARER.id}>'s task (its earlier message was deleted)."
    assert again["mentions"] == []
    assert embed(again)["title"].endswith("Timer running")
    await world.wait_reactions(again["id"], [COMPLETE, FAIL])

    # The new message works like the old one.
    world.advance(601)
    await world.react(KEYHOLDER, int(again["id"]), COMPLETE, int(again["channel_id"]))
    await world.chaster.wait_for_call("POST", "/tasks/complete")
    await world.wait_reactions(again["id"], [])
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1


async def test_a_ping_still_goes_out_when_its_task_message_was_deleted(world: World) -> None:
    await world.reply("settings", ADMIN, "wearer-complete", allowed=False)
    await world.link()
    first = await world.assign()
    world.discord.messages.pop(int(first["id"]))

    text = await world.reply("task", WEARER, "complete")

    assert text == "Marked as done; waiting for the keyholder to confirm."
    [again] = world.feed_messages()
    ping = world.discord.bot_messages(int(again["channel_id"]))[-1]
    assert ping["content"].startswith(f"<@{KEYHOLDER.id}>, <@{WEARER.id}> says they finished")
    assert [int(user["id"]) for user in ping["mentions"]] == [KEYHOLDER.id]
    assert ping["message_reference"]["message_id"] == again["id"]


async def test_a_feed_message_deleted_by_someone_is_posted_again_at_once(world: World) -> None:
    await world.link()
    first = await world.assign()

    await world.discord.delete_message(int(first["id"]))
    again = await world.discord.wait_until(
        lambda: next((m for m in world.feed_messages() if m["id"] != first["id"]), None),
        what="the task posted again",
    )

    assert again["content"] == f"<@{WEARER.id}>'s task (its earlier message was deleted)."
    assert embed(again)["title"].endswith("Task assigned")
    await world.wait_reactions(again["id"], [COMPLETE, FAIL])
    # The same deletion told again (a resumed gateway) posts nothing more.
    await world.discord.dispatch(
        "MESSAGE_DELETE",
        {"id": first["id"], "channel_id": first["channel_id"], "guild_id": first["guild_id"]},
    )
    await settled(world)
    assert [m["id"] for m in world.feed_messages()] == [again["id"]]


async def test_a_closed_tasks_message_deleted_stays_deleted(world: World) -> None:
    await world.link()
    message = await world.assign()
    assert (await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)) == "Task marked as failed."

    posted = len(world.discord.calls)
    await world.discord.delete_message(int(message["id"]))
    await settled(world)

    assert world.feed_messages() == []
    assert [c for c in world.discord.calls[posted:] if c.method == "POST"] == []


async def test_an_edit_discord_refused_is_shown_once_discord_lets_it(world: World) -> None:
    # Found by the soak: a 403 on an edit left the message showing the old state for good.
    await world.link()
    message = await world.assign(duration="10m")
    world.discord.fail("PATCH", r"/channels/\d+/messages/\d+", 403, MISSING_PERMISSIONS)

    text = await world.reply("task", WEARER, "start")

    assert text.startswith("Timer started"), text
    assert embed(world.feed_messages()[-1])["title"].endswith("Task assigned")
    feed: Any = world.bot.get_cog("Feed")
    assert await feed.repair() == 0  # the change is too fresh: its own edit may be on its way
    world.advance(11)
    assert await feed.repair() == 1
    [shown] = world.feed_messages()
    assert shown["id"] == message["id"]
    assert embed(shown)["title"].endswith("Timer running")
    assert await feed.repair() == 0


async def test_a_task_whose_post_discord_refused_is_posted_by_the_repair(world: World) -> None:
    await world.link()
    world.discord.fail("POST", rf"/channels/{CHANNEL}/messages", 403, MISSING_PERMISSIONS)
    await assign_reply(world)
    assert world.feed_messages() == []

    world.advance(11)
    feed: Any = world.bot.get_cog("Feed")
    assert await feed.repair() == 1

    [message] = world.feed_messages()
    assert message["content"] == f"<@{WEARER.id}>'s task (it could not be shown before)."
    assert await feed.repair() == 0


async def test_a_task_told_as_assigned_twice_has_one_message(world: World) -> None:
    await world.link()
    message = await world.assign()
    task = await world.core.tasks.for_message(int(message["id"]))
    assert task is not None
    link = await world.core.tasks.link_of(task)
    assert link is not None

    # As when the start-up catch-up and the assign itself both tell of it.
    await world.core.events.task_event(EventKind.ASSIGNED, task, link, KEYHOLDER.id)

    assert [m["id"] for m in world.feed_messages()] == [message["id"]]


# ------------------------------------------------------------------------------ gateway


async def test_a_reaction_made_while_the_gateway_is_down_is_handled_once(world: World) -> None:
    await world.link()
    message = await world.assign()
    message_id, channel_id = int(message["id"]), int(message["channel_id"])

    await world.discord.disconnect_clients()
    # Sent while the bot is disconnected: Discord replays it when the session resumes.
    await world.react(KEYHOLDER, message_id, COMPLETE, channel_id)
    await world.discord.wait_resumed()
    await world.chaster.wait_for_call("POST", "/tasks/complete")
    await world.wait_reactions(message_id, [])
    await settled(world)

    assert world.chaster.count_calls("POST", "/tasks/complete") == 1
    assert await open_task_state(world) is None
    notices = [m for m in world.discord.bot_messages(channel_id) if not m.get("embeds")]
    assert notices == [], "a second handling would have been refused with a notice"


async def test_events_from_before_a_drop_are_not_handled_again(world: World) -> None:
    await world.link()
    message = await world.assign(duration="10m")
    message_id, channel_id = int(message["id"]), int(message["channel_id"])
    await world.react(WEARER, message_id, START, channel_id)
    await world.chaster.wait_for_call("POST", "/tasks/start-timer")
    await world.wait_reactions(message_id, [COMPLETE, FAIL])

    await world.discord.disconnect_clients()
    await world.discord.wait_resumed()
    # A command after the resume: anything replayed by mistake would be handled by now.
    assert (await world.reply("task", KEYHOLDER, "status", wearer=WEARER)).startswith("**<@")
    await settled(world)

    assert world.chaster.count_calls("POST", "/tasks/start-timer") == 1
    assert await open_task_state(world) == "timer_running"
    # Removing someone's reaction is how a refused (e.g. repeated) reaction is answered.
    assert world.discord.find_calls("DELETE", r"/channels/\d+/messages/\d+/reactions/.+/\d+") == []


async def test_a_session_discord_cannot_resume_starts_afresh_and_keeps_working(
    world: World,
) -> None:
    await world.link()
    await world.discord.disconnect_clients(invalidate=True)
    # discord.py waits 5 s before identifying again, as Discord asks of clients.
    await world.discord.wait_identified(count=2, timeout=15)
    await world.bot.wait_until_ready()

    message = await world.assign()
    await world.react(KEYHOLDER, int(message["id"]), COMPLETE, int(message["channel_id"]))
    await world.chaster.wait_for_call("POST", "/tasks/complete")
    await world.wait_reactions(message["id"], [])
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1
