"""/task and /settings end to end: what Chaster receives, the feed message, refusals."""

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
    KEYHOLDER,
    START,
    STRANGER,
    WEARER,
    ChannelRef,
    World,
    fields,
)


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        pytest.param(
            {},
            {"task": "Hold a plank", "points": 5, "verificationRequired": False},
            id="untimed",
        ),
        pytest.param(
            {"duration": "1h30m"},
            {"task": "Hold a plank", "points": 5, "verificationRequired": False, "duration": 5400},
            id="timed",
        ),
        pytest.param(
            {"verification": True, "duration": "15"},
            {"task": "Hold a plank", "points": 5, "verificationRequired": True, "duration": 900},
            id="photo-timed",
        ),
    ],
)
async def test_assign_sends_exactly_the_task_to_chaster(
    world: World, options: dict[str, Any], sent: dict[str, Any]
) -> None:
    await world.link()
    await world.assign(description="  Hold a plank ", **options)
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body == {"task": sent, "actor": "keyholder"}


async def test_assign_on_a_self_lock_acts_as_the_extension(world: World) -> None:
    session = await world.link(has_keyholder=False)
    feed = await world.assign(by=WEARER)
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["actor"] == "extension"
    assert session.current_task is not None
    assert fields(feed)["Assigned by"] == "<@5002>"


INVALID_ASSIGNMENTS: list[tuple[dict[str, Any], str]] = [
    ({"duration": "30s"}, "between 1 minute and 24 hours"),
    ({"duration": "2 days"}, "can't read the duration"),
    ({"duration": "abc"}, "can't read the duration"),
    ({"duration": "90000s"}, "between 1 minute and 24 hours"),
    ({"duration": "1441"}, "between 1 minute and 24 hours"),
    ({"description": "   "}, "description must be 1 to 500"),
    ({"description": "x" * 501}, "description must be 1 to 500"),
    # Discord's client enforces the option's minimum; the bot must not rely on it.
    ({"points": -3}, "cannot be negative"),
]


async def test_assign_refuses_invalid_input_without_calling_chaster(world: World) -> None:
    await world.link()
    for options, expected in INVALID_ASSIGNMENTS:
        arguments: dict[str, Any] = {"description": "Hold a plank", "points": 5, **options}
        text = await world.refusal("task", KEYHOLDER, "assign", wearer=WEARER, **arguments)
        assert expected in text, (options, text)
    assert world.chaster.count_calls("POST", "/tasks/") == 0
    assert world.feed_messages() == []


async def test_assign_is_for_the_keyholder_only(world: World) -> None:
    await world.link()
    for who in (WEARER, STRANGER):
        text = await world.refusal(
            "task", who, "assign", wearer=WEARER, description="Self-serve", points=1
        )
        assert "Only <@5001>, the keyholder, can assign tasks." == text
    assert world.chaster.count_calls("POST", "/tasks/assign") == 0


async def test_assign_refused_while_a_task_is_open(world: World) -> None:
    await world.link()
    await world.assign(description="Write 100 lines")
    text = await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Another one", points=1
    )
    assert "already has an open task: “Write 100 lines”" in text, text
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1
    assert len(world.feed_messages()) == 1


async def test_feed_message_shows_the_task_in_the_assigning_channel(world: World) -> None:
    await world.link()
    feed = await world.assign(description="Hold a plank", points=7, duration="2m")
    assert int(feed["channel_id"]) == CHANNEL
    assert feed["content"] == "<@5002>, a new task for you."
    assert [int(user["id"]) for user in feed["mentions"]] == [WEARER.id]
    [embed] = feed["embeds"]
    assert embed["title"] == "📋 Task assigned"
    assert embed["description"] == "Hold a plank"
    assert fields(feed) == {
        "Wearer": "<@5002>",
        "Assigned by": "<@5001>",
        "Points": "7",
        "Kind": "⏱️ Timed: 2m",
    }


async def test_feed_goes_to_the_channel_set_by_settings_feed(world: World) -> None:
    text = await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    assert text == f"Task updates will be posted in <#{FEED}>."
    await world.link()
    feed = await world.assign(verification=True)
    assert int(feed["channel_id"]) == FEED
    assert "Needs a verification photo" in fields(feed)["Kind"]
    assert world.discord.bot_messages(CHANNEL) == []


@pytest.mark.parametrize(
    ("options", "reactions"),
    [
        pytest.param({}, [COMPLETE, FAIL], id="untimed"),
        pytest.param({"duration": "10m"}, [START, FAIL], id="timed"),
        pytest.param({"verification": True}, [FAIL], id="photo"),
        pytest.param({"verification": True, "duration": "10m"}, [START, FAIL], id="photo-timed"),
    ],
)
async def test_feed_reactions_offer_only_what_applies(
    world: World, options: dict[str, Any], reactions: list[str]
) -> None:
    await world.link()
    feed = await world.assign(**options)
    # The reactions are added before the command's answer.
    assert world.reactions_by(feed["id"]) == sorted(reactions)


async def test_photo_task_cannot_be_completed_from_discord(world: World) -> None:
    session = await world.link()
    await world.assign(verification=True)
    for who in (KEYHOLDER, WEARER):
        text = await world.refusal("task", who, "complete", wearer=WEARER)
        assert "needs a verification photo" in text, text
        assert "in Chaster" in text, text
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0
    assert session.current_task is not None


async def test_timed_task_completes_only_after_its_timer(world: World) -> None:
    session = await world.link()
    await world.assign(duration="2m")
    early = await world.refusal("task", KEYHOLDER, "complete", wearer=WEARER)
    assert "Start the timer first" in early, early

    started = await world.reply("task", WEARER, "start")
    assert started.startswith("Timer started; it ends <t:"), started
    assert world.chaster_bodies("POST", "/tasks/start-timer") == [{"actor": "wearer"}]

    text = await world.refusal("task", KEYHOLDER, "complete", wearer=WEARER)
    assert text.startswith("The timer is still running; it ends <t:"), text
    assert text.endswith(":R>."), text
    assert world.chaster.count_calls("POST", "/tasks/complete") == 0

    world.advance(121)
    assert await world.reply("task", KEYHOLDER, "complete", wearer=WEARER) == "Task completed."
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert session.current_task is None


async def test_wearer_complete_command_waits_for_the_keyholder(world: World) -> None:
    session = await world.link()
    feed = await world.assign()
    calls = world.chaster.count_calls("POST", "/tasks/")
    text = await world.reply("task", WEARER, "complete")
    assert text == "Marked as done; waiting for the keyholder to confirm."
    assert world.chaster.count_calls("POST", "/tasks/") == calls
    ping = world.discord.bot_messages(CHANNEL)[-1]
    assert ping["content"].startswith("<@5001>, <@5002> says they finished “Hold a plank”")
    assert [int(user["id"]) for user in ping["mentions"]] == [KEYHOLDER.id]
    assert ping["message_reference"]["message_id"] == feed["id"]

    again = await world.refusal("task", WEARER, "complete")
    assert "Already waiting for <@5001>" in again, again
    assert await world.reply("task", KEYHOLDER, "complete", wearer=WEARER) == "Task completed."
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "keyholder", "isCompleted": True}
    ]
    assert session.current_task is None


async def test_fail_command(world: World) -> None:
    session = await world.link()
    await world.assign()
    assert await world.reply("task", WEARER, "fail") == "Task marked as failed."
    assert world.chaster_bodies("POST", "/tasks/complete") == [
        {"actor": "wearer", "isCompleted": False}
    ]
    assert session.current_task is None
    # Closed: a new task can be assigned.
    await world.assign(description="Second chance")


async def test_status_for_wearer_and_keyholder_but_not_a_stranger(world: World) -> None:
    await world.link(enable_points=True, points_required=50, points=5)
    await world.assign(description="Hold a plank", points=3)
    read_at = discord.utils.format_dt(world.clock.now(), "R")
    reads = world.chaster.count_calls("GET", "/sessions/")
    for who, options in ((WEARER, {}), (KEYHOLDER, {"wearer": WEARER})):
        text = await world.reply("task", who, "status", **options)
        assert text.splitlines() == [
            "**<@5002>** · keyholder <@5001>",
            "Task #1: “Hold a plank” · 3 points · assigned",
            "Points in Chaster: 5 / 50",
            f"As read from Chaster {read_at}",
        ]
    # The second lookup answered from the first one's reading.
    assert world.chaster.count_calls("GET", "/sessions/") == reads + 1
    text = await world.refusal("task", STRANGER, "status", wearer=WEARER)
    assert "Only the wearer or their keyholder" in text, text
    assert "Hold a plank" not in text


async def test_chaster_error_reaches_the_user_and_changes_nothing(world: World) -> None:
    session = await world.link()
    world.chaster.fail_next("POST", "/tasks/assign", 422, "Some Chaster reason")
    text = await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Doomed", points=1
    )
    assert "Some Chaster reason" in text, text
    assert world.feed_messages() == []
    assert session.current_task is None
    status = await world.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert "No task yet." in status, status
    assert "Doomed" not in status
    # Nothing is left behind that would block the next assignment.
    await world.assign(description="Second try")


async def test_assign_with_a_slow_chaster_defers_within_the_deadline(world: World) -> None:
    await world.link()
    world.chaster.latency = 4.0
    handle = await world.command(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Slowly", points=1
    )
    first = await handle.first_response()
    assert first["type"] == 5  # deferred: "thinking"
    assert not first["late"]
    assert first["at"] - handle.dispatched_at < 3
    final = await handle.final_message(timeout=20)
    assert final["content"] == "Assigned to <@5002>: “Slowly” (1 points)."
    assert final["at"] - handle.dispatched_at >= 4
    # The deferral and then the answer, neither of them late.
    assert [(r["kind"], r["late"]) for r in handle.responses()] == [
        ("callback", False),
        ("followup", False),
    ]
    [feed] = world.feed_messages()
    assert feed["embeds"][0]["description"] == "Slowly"


async def test_settings_need_manage_server_checked_by_the_bot(world: World) -> None:
    # Server admins can let anyone run /settings; the bot must still refuse.
    world.discord.enforce_command_permissions = False
    text = await world.refusal("settings", STRANGER, "feed", channel=ChannelRef(FEED))
    assert "Manage Server" in text, text
    text = await world.refusal("settings", STRANGER, "wearer-complete", allowed=True)
    assert "Manage Server" in text, text

    # Nothing was stored: the feed stays where /task assign runs, wearers still need a confirm.
    await world.link()
    feed = await world.assign()
    assert int(feed["channel_id"]) == CHANNEL
    confirm = await world.reply("task", WEARER, "complete")
    assert confirm == "Marked as done; waiting for the keyholder to confirm."
    assert await world.reply("task", KEYHOLDER, "complete", wearer=WEARER) == "Task completed."

    assert await world.reply("settings", ADMIN, "wearer-complete", allowed=True) == (
        "Wearers can now complete their own tasks."
    )
    await world.reply("settings", ADMIN, "feed", channel=ChannelRef(FEED))
    feed = await world.assign(description="Now in the feed")
    assert int(feed["channel_id"]) == FEED
    assert await world.reply("task", WEARER, "complete") == "Task completed."
    assert world.chaster_bodies("POST", "/tasks/complete")[-1] == {
        "actor": "wearer",
        "isCompleted": True,
    }


async def test_discord_hides_settings_from_members_without_manage_server(world: World) -> None:
    # /settings asks for Manage Server by default.
    manage_server = discord.Permissions(manage_guild=True).value
    needs_manage_server = (
        rf"^Discord would not let {STRANGER.name} run /settings: needs permissions {manage_server}$"
    )
    with pytest.raises(PermissionError, match=needs_manage_server):
        await world.command("settings", STRANGER, "feed", channel=ChannelRef(FEED))


async def test_assign_refused_while_chaster_shows_a_task(world: World) -> None:
    session = await world.link()
    world.chaster.assign_in_app(session.session_id, "Picked in the app", 2)
    status = await world.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert "Chaster shows a current task: “Picked in the app”" in status, status
    text = await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Mine", points=1
    )
    # The bot does not read Chaster before an assign; Chaster refuses it in its own words.
    assert text == "Chaster said: A task is already assigned", text
    assert session.current_task is not None
    assert session.current_task["task"] == "Picked in the app"
    assert world.feed_messages() == []


async def test_assign_refused_while_a_vote_runs_in_chaster(world: World) -> None:
    session = await world.link()
    world.chaster.start_vote_in_app(session.session_id)
    text = await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Mine", points=1
    )
    assert text == "Chaster said: A task vote is in progress", text
    assert world.feed_messages() == []


async def test_assign_whose_answer_is_lost_but_landed_is_recorded(world: World) -> None:
    session = await world.link()
    world.chaster.drop_next("POST", "/tasks/assign", apply=True)
    feed = await world.assign(description="Landed anyway")
    assert feed["embeds"][0]["description"] == "Landed anyway"
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1  # never sent twice
    assert session.current_task is not None


async def test_assign_whose_answer_is_lost_and_did_not_land_is_refused(world: World) -> None:
    session = await world.link()
    world.chaster.drop_next("POST", "/tasks/assign", apply=False)
    text = await world.refusal(
        "task", KEYHOLDER, "assign", wearer=WEARER, description="Lost", points=1
    )
    assert "nothing was assigned" in text, text
    assert world.feed_messages() == []
    assert session.current_task is None
    await world.assign(description="Second try")


async def test_chaster_error_on_start_reaches_the_user(world: World) -> None:
    session = await world.link()
    feed = await world.assign(duration="5m")
    world.chaster.fail_next("POST", "/tasks/start-timer", 400, "Timer says no")
    text = await world.refusal("task", WEARER, "start")
    assert text == "Chaster said: Timer says no"
    assert session.timer_started_at is None
    assert "· assigned" in await world.reply("task", WEARER, "status")
    assert world.discord.messages[int(feed["id"])]["edited_timestamp"] is None


async def test_task_commands_without_a_task_or_link(world: World) -> None:
    for subcommand in ("start", "complete", "fail", "status"):
        text = await world.refusal("task", WEARER, subcommand)
        assert "<@5002> is not linked to a Chaster lock here" in text, text
    await world.link()
    for subcommand in ("start", "complete", "fail"):
        text = await world.refusal("task", WEARER, subcommand)
        assert text == "<@5002> has no open task.", text
        text = await world.refusal("task", STRANGER, subcommand, wearer=WEARER)
        assert "Only the wearer or their keyholder" in text, text
    await world.assign()
    assert "not timed" in await world.refusal("task", WEARER, "start")
