"""Buttons on a task's feed message and on a link request, and `/settings controls`.

Who may press what is in test_permissions.py; a press after a SIGKILL in test_durability.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.store import Controls, TaskState
from tests.e2e.conftest import (
    ADMIN,
    CHANNEL,
    COMPLETE,
    EPHEMERAL,
    FAIL,
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
from tests.fakes.discord import MANAGE_MESSAGES, InteractionHandle

DEFERRED_UPDATE = 6


def buttons(message: dict[str, Any]) -> list[str]:
    """The labels of a message's buttons, in order."""
    return [
        button["label"]
        for row in message.get("components") or []
        for button in row.get("components") or []
    ]


def custom_id(message: dict[str, Any], label: str) -> str:
    [found] = [
        button["custom_id"]
        for row in message.get("components") or []
        for button in row.get("components") or []
        if button["label"] == label
    ]
    return str(found)


async def press(world: World, user: FakeUser, message: dict[str, Any], label: str) -> Any:
    """Press a button the message shows; returns the interaction once it was acknowledged."""
    current = world.discord.messages[int(message["id"])]
    handle = await world.discord.send_component(
        message_id=int(message["id"]), custom_id=custom_id(current, label), user=user
    )
    first = await handle.first_response()
    assert (first["type"], first["status"]) == (DEFERRED_UPDATE, 200), first
    return handle


async def refusal_of(handle: InteractionHandle) -> str:
    answer = await handle._fake.wait_until(
        lambda: next(iter(handle.followups()), None), what="a private answer to a press"
    )
    assert int(answer["flags"]) & EPHEMERAL, answer
    return str(answer["content"])


def message(world: World, feed: dict[str, Any]) -> dict[str, Any]:
    return world.discord.messages[int(feed["id"])]


async def wait_buttons(world: World, feed: dict[str, Any], expected: list[str]) -> None:
    await world.discord.wait_until(
        lambda: buttons(message(world, feed)) == expected, what=f"buttons {expected}"
    )


# -- which buttons each state shows -------------------------------------------------------


async def test_a_timed_task_shows_start_then_complete_and_none_once_closed(world: World) -> None:
    session = await world.link()
    feed = await world.assign(duration="1m")
    assert buttons(feed) == ["Start timer", "Fail"]
    [row] = feed["components"]
    styles = {button["label"]: button["style"] for button in row["components"]}
    assert styles == {"Start timer": 1, "Fail": 4}
    await press(world, WEARER, feed, "Start timer")
    await wait_buttons(world, feed, ["Complete", "Fail"])
    assert world.chaster_bodies("POST", "/tasks/start-timer") == [{"actor": "wearer"}]
    assert session.timer_started_at is not None
    assert embed(message(world, feed))["title"] == "⏱️ Timer running"

    # Pressed too early: refused privately, nothing changes.
    early = await press(world, KEYHOLDER, feed, "Complete")
    assert (await refusal_of(early)).startswith("The timer is still running")
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0

    world.advance(60)
    await press(world, KEYHOLDER, feed, "Complete")
    await wait_buttons(world, feed, [])
    shown = message(world, feed)
    assert embed(shown)["title"] == "✅ Completed"
    assert shown["components"] == []
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]


async def test_an_untimed_task_shows_complete_and_a_photo_task_only_fail(world: World) -> None:
    await world.link()
    feed = await world.assign()
    assert buttons(feed) == ["Complete", "Fail"]
    await press(world, KEYHOLDER, feed, "Fail")
    await wait_buttons(world, feed, [])
    assert embed(message(world, feed))["title"] == "❌ Failed"
    photo = await world.assign(description="Show the lock", verification=True)
    assert buttons(photo) == ["Fail"]


async def test_custom_ids_carry_the_task_and_keep_to_discords_limit(world: World) -> None:
    await world.link()
    feed = await world.assign(duration="1m")
    task = await world.store.get_task_by_feed_message(int(feed["id"]))
    assert task is not None
    ids = [custom_id(feed, label) for label in buttons(feed)]
    assert ids == [f"task:start:{task.id}", f"task:fail:{task.id}"]
    assert all(len(i) <= 100 for i in ids)


# -- confirm and reject ---------------------------------------------------------------------


async def test_the_keyholder_confirms_a_wearers_completion_with_a_button(world: World) -> None:
    session = await world.link()
    feed = await world.assign()
    writes = world.chaster.count_calls("POST", "/tasks/")
    await press(world, WEARER, feed, "Complete")
    await wait_buttons(world, feed, ["Confirm", "Reject", "Fail"])
    shown = message(world, feed)
    assert embed(shown)["title"] == "✋ Awaiting the keyholder's confirmation"
    # Reactions are on too (the default, both): the text names them, as before.
    assert fields(shown)["Waiting for"] == "<@5001> to confirm with ✅ (or ❌)"
    assert world.chaster.count_calls("POST", "/tasks/") == writes

    refused = await press(world, WEARER, feed, "Confirm")
    assert await refusal_of(refused) == (
        "Only the keyholder of record can confirm or reject a completion."
    )
    await press(world, KEYHOLDER, feed, "Confirm")
    await wait_buttons(world, feed, [])
    assert embed(message(world, feed))["title"] == "✅ Completed"
    assert session.current_task is None
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1


async def test_reject_puts_the_task_back_tells_the_wearer_and_calls_nothing(world: World) -> None:
    session = await world.link()
    feed = await world.assign(description="Tidy the desk", duration="1m")
    await press(world, WEARER, feed, "Start timer")
    await wait_buttons(world, feed, ["Complete", "Fail"])
    world.advance(60)
    await press(world, WEARER, feed, "Complete")
    await wait_buttons(world, feed, ["Confirm", "Reject", "Fail"])
    writes = world.chaster.count_calls("POST", "/tasks/")

    await press(world, KEYHOLDER, feed, "Reject")
    await wait_buttons(world, feed, ["Complete", "Fail"])
    assert embed(message(world, feed))["title"] == "⏰ Timer finished"
    assert world.chaster.count_calls("POST", "/tasks/") == writes
    assert session.current_task is not None
    task = await world.store.get_task_by_feed_message(int(feed["id"]))
    assert task is not None and task.state is TaskState.TIMER_RUNNING

    def ping() -> dict[str, Any] | None:
        return next(
            (m for m in world.discord.bot_messages(CHANNEL) if "did not accept" in m["content"]),
            None,
        )

    told = await world.discord.wait_until(ping, what="the wearer told of the rejection")
    assert told["content"] == (
        "<@5002>, <@5001> did not accept “Tidy the desk” as done: the task is open again."
    )
    assert [int(u["id"]) for u in told["mentions"]] == [WEARER.id]
    assert told["message_reference"]["message_id"] == feed["id"]


# -- one Chaster call, whichever way people act -------------------------------------------


async def test_a_press_a_reaction_and_a_command_at_once_make_one_chaster_call(
    world: World,
) -> None:
    session = await world.link()
    feed = await world.assign()
    handle, _, command = await asyncio.gather(
        world.discord.send_component(
            message_id=int(feed["id"]), custom_id=custom_id(feed, "Fail"), user=KEYHOLDER
        ),
        world.react(KEYHOLDER, int(feed["id"]), FAIL, CHANNEL),
        world.command("task", KEYHOLDER, "fail", wearer=WEARER),
    )
    await command.final_message()
    await handle.first_response()
    assert await world.bot.work.drained(5)
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1
    assert session.current_task is None
    await wait_buttons(world, feed, [])
    task = await world.store.get_task_by_feed_message(int(feed["id"]))
    assert task is not None and task.state is TaskState.FAILED


async def test_a_stranger_is_refused_privately_and_nothing_is_called(world: World) -> None:
    await world.link()
    feed = await world.assign()
    calls = len(world.chaster.calls)
    refused = await press(world, STRANGER, feed, "Complete")
    assert await refusal_of(refused) == "Only the wearer or their keyholder can act on this task."
    assert len(world.chaster.calls) == calls
    assert buttons(message(world, feed)) == ["Complete", "Fail"]
    # Nothing public: no notice in the channel, no reaction to remove.
    assert [m for m in world.discord.bot_messages(CHANNEL) if "message_reference" in m] == []


async def test_a_press_for_a_task_that_is_gone_is_refused(world: World) -> None:
    await world.link()
    feed = await world.assign()
    message_id = int(feed["id"])
    stored = world.discord.messages[message_id]
    # A message that names a task this database never had (say, restored from elsewhere).
    stored["components"][0]["components"][0]["custom_id"] = "task:complete:999999"
    handle = await world.discord.send_component(
        message_id=message_id, custom_id="task:complete:999999", user=KEYHOLDER
    )
    assert await refusal_of(handle) == "That task no longer exists."
    assert world.chaster.count_calls("POST", "/tasks/") == 1  # the assign only


async def test_a_component_the_bot_does_not_know_is_answered_by_nobody(world: World) -> None:
    await world.link()
    feed = await world.assign()
    message_id = int(feed["id"])
    world.discord.messages[message_id]["components"][0]["components"].append(
        {"type": 2, "style": 2, "label": "Other app", "custom_id": "someone-else:42"}
    )
    unknown = await world.discord.send_component(
        message_id=message_id, custom_id="someone-else:42", user=KEYHOLDER
    )
    # Interactions are handled in the order they arrive: once a later press is answered, the
    # first one has been seen and left alone.
    known = await press(world, STRANGER, feed, "Complete")
    await refusal_of(known)
    assert unknown.responses() == []


# -- link requests --------------------------------------------------------------------------


async def request_message(world: World) -> dict[str, Any]:
    session = world.session()
    text = await world.reply("link", ADMIN, wearer=WEARER, session_id=session.session_id)
    assert text.startswith("Asked"), text
    [request] = world.discord.bot_messages(CHANNEL)
    return request


async def test_a_link_request_carries_accept_and_decline(world: World) -> None:
    request = await request_message(world)
    assert buttons(request) == ["Accept", "Decline"]
    assert request["content"].startswith("<@5002>, <@5004> wants to manage your Chaster tasks")
    assert "Press Accept (or react ✅) or Decline" in request["content"]
    await world.wait_reactions(request["id"], [COMPLETE])

    refused = await press(world, ADMIN, request, "Accept")
    assert await refusal_of(refused) == "Only the wearer named in the request can accept it."
    await press(world, WEARER, request, "Accept")
    await world.discord.wait_until(
        lambda: message(world, request)["components"] == [], what="the buttons gone"
    )
    assert message(world, request)["content"] == (
        "<@5002> accepted: <@5004> is now their keyholder here."
    )
    link = await world.store.get_open_link(1000, WEARER.id)
    assert link is not None and link.keyholder_id == ADMIN.id


async def test_the_accept_reaction_still_works_and_clears_the_buttons(world: World) -> None:
    request = await request_message(world)
    await world.react(WEARER, int(request["id"]), COMPLETE, CHANNEL)
    edited = await world.wait_edits(request["id"])
    assert edited["content"] == "<@5002> accepted: <@5004> is now their keyholder here."
    assert edited["components"] == []


async def test_decline_withdraws_the_request_and_tells_the_requester(world: World) -> None:
    request = await request_message(world)
    refused = await press(world, STRANGER, request, "Decline")
    assert await refusal_of(refused) == "Only the wearer named in the request can answer it."
    await press(world, WEARER, request, "Decline")
    await world.discord.wait_until(
        lambda: message(world, request)["components"] == [], what="the buttons gone"
    )
    assert message(world, request)["content"] == "<@5002> declined this request to link them."
    assert await world.store.get_open_link(1000, WEARER.id) is None
    # A ✅ afterwards links nobody.
    await world.react(WEARER, int(request["id"]), COMPLETE, CHANNEL)
    await world.wait_reaction_removed(request["id"], WEARER, COMPLETE)
    assert await world.store.get_open_link(1000, WEARER.id) is None


# -- /settings controls ---------------------------------------------------------------------


@pytest.mark.parametrize("style", list(Controls))
async def test_controls_pick_what_new_feed_messages_carry(world: World, style: Controls) -> None:
    answer = await world.reply("settings", ADMIN, "controls", style=style.value)
    assert answer.startswith("New task messages will carry"), answer
    await world.link()
    feed = await world.assign(duration="1m")
    footer = embed(feed)["footer"]["text"]
    if style.has_buttons:
        assert buttons(feed) == ["Start timer", "Fail"]
    else:
        assert feed["components"] == []
    if style.has_reactions:
        await world.wait_reactions(feed["id"], [START, FAIL])
        assert footer.endswith("▶️ start the timer, ❌ fail"), footer
    else:
        assert world.reactions_by(feed["id"]) == []
        assert world.discord.find_calls("PUT", r"/reactions/") == []
        assert footer == embed(feed)["footer"]["text"] == footer.split(" · ")[0]

    # The wearer's ▶️ works whatever the message carries.
    await world.react(WEARER, int(feed["id"]), START, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    assert embed(edited)["title"] == "⏱️ Timer running"
    assert buttons(edited) == (["Complete", "Fail"] if style.has_buttons else [])
    if style.has_reactions:
        await world.wait_reactions(feed["id"], [COMPLETE, FAIL])
    else:
        assert world.discord.find_calls("PUT", r"/reactions/") == []


async def test_with_buttons_only_the_texts_name_the_buttons(world: World) -> None:
    await world.reply("settings", ADMIN, "controls", style="buttons")
    request = await request_message(world)
    assert "Press Accept or Decline" in request["content"]
    assert world.reactions_by(request["id"]) == []
    await press(world, WEARER, request, "Accept")
    await world.discord.wait_until(
        lambda: message(world, request)["components"] == [], what="the request answered"
    )
    feed = await world.assign(by=ADMIN)
    await press(world, WEARER, feed, "Complete")
    await wait_buttons(world, feed, ["Confirm", "Reject", "Fail"])
    assert fields(message(world, feed))["Waiting for"] == "<@5004> to press Confirm or Reject"
    assert embed(message(world, feed))["footer"]["text"].startswith("Task #")
    ping = await world.discord.wait_until(
        lambda: next(
            (m for m in world.discord.bot_messages(CHANNEL) if "says they" in m["content"]), None
        ),
        what="the keyholder's ping",
    )
    assert ping["content"] == (
        "<@5004>, <@5002> says they finished “Hold a plank”. Press Confirm or Reject on the task."
    )


async def test_a_message_keeps_its_controls_when_the_setting_changes(world: World) -> None:
    await world.link()
    feed = await world.assign()
    await world.wait_reactions(feed["id"], [COMPLETE, FAIL])
    await world.reply("settings", ADMIN, "controls", style="buttons")
    await world.react(KEYHOLDER, int(feed["id"]), COMPLETE, CHANNEL)
    edited = await world.wait_edits(feed["id"])
    assert embed(edited)["title"] == "✅ Completed"
    # Posted with both, it is still tidied as a message with reactions.
    await world.discord.wait_for_call("DELETE", rf"/channels/\d+/messages/{feed['id']}/reactions")
    assert edited["components"] == []
    second = await world.assign(description="Another")
    assert buttons(second) == ["Complete", "Fail"]
    assert world.reactions_by(second["id"]) == []


async def test_controls_warn_of_missing_permissions_in_the_feed(world: World) -> None:
    assert (await world.reply("settings", ADMIN, "feed", channel=ChannelRef(2001))).startswith(
        "Task updates will be posted in"
    )
    # The role update reaches the bot through the gateway before the command does.
    bot_role = world.discord.bot_role_id
    await world.discord.set_role_permissions(
        bot_role, world.discord.roles[bot_role].permissions & ~MANAGE_MESSAGES
    )
    both = await world.reply("settings", ADMIN, "controls", style="both")
    assert both.splitlines()[1] == (
        "⚠️ In <#2001> the bot still lacks manage messages, which these controls need."
    )
    buttons_only = await world.reply("settings", ADMIN, "controls", style="buttons")
    assert len(buttons_only.splitlines()) == 1, buttons_only
    settings = await world.store.get_guild_settings(1000)
    assert settings.controls is Controls.BUTTONS


async def test_a_press_discord_gave_up_on_does_nothing(world: World) -> None:
    await world.link()
    feed = await world.assign()
    writes = world.chaster.count_calls("POST", "/tasks/")
    # Every acknowledgement now arrives after Discord's deadline (the presser saw it fail).
    world.discord.interaction_deadline = 0.0
    handle = await world.discord.send_component(
        message_id=int(feed["id"]), custom_id=custom_id(feed, "Fail"), user=KEYHOLDER
    )
    late = await handle.first_response()
    assert (late["status"], late["late"]) == (404, True)
    assert await world.bot.work.drained(5)
    assert world.chaster.count_calls("POST", "/tasks/") == writes
    task = await world.store.get_task_by_feed_message(int(feed["id"]))
    assert task is not None and task.state is TaskState.ASSIGNED


async def test_buttons_speak_the_servers_language(world: World) -> None:
    await world.reply("settings", ADMIN, "language", language="fr")
    await world.link()
    feed = await world.assign(duration="1m")
    assert buttons(feed) == ["Lancer le minuteur", "Échouer"]
    # The custom ids do not change with the language.
    assert custom_id(feed, "Échouer").startswith("task:fail:")
