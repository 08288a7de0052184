"""Automation through the real bot: a schedule firing, a deadline failing a task with an
add_time consequence, /pause stopping a schedule, and direct messages (opt-in, closed DMs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import ADMIN, CHANNEL, GUILD, KEYHOLDER, WEARER, World, embed, fields
from tests.fakes.discord import OPTION_STRING, FakeUser, option


def pings(world: World, start: str) -> list[str]:
    """The bot's plain messages in the channel that start with `start`."""
    return [
        str(m["content"])
        for m in world.discord.bot_messages(CHANNEL)
        if not m.get("embeds") and str(m["content"]).startswith(start)
    ]


async def at_next_minute(world: World) -> datetime:
    """Set the shared clock to a quarter past a whole hour, and return the next hour: a
    schedule `at` that time fires 45 minutes from now."""
    now = world.clock.now().astimezone(UTC)
    world.clock.current = now.replace(minute=15, second=0, microsecond=0)
    return world.clock.current.replace(minute=0) + timedelta(hours=1)


async def test_a_schedule_fires_at_its_time_through_the_real_bot(world: World) -> None:
    session = await world.link(user_tasks=[{"task": "Kneel for ten minutes", "points": 4}])
    due = await at_next_minute(world)
    answer = await world.reply(
        "schedule",
        KEYHOLDER,
        "add",
        wearer=WEARER,
        every="day",
        at=f"{due:%H:%M}",
        random="lock",
        deadline="2d",
    )
    assert answer.startswith(f"Scheduled for <@5002>: #1 · every day at {due:%H:%M} (UTC)"), answer
    listed = await world.reply("schedule", WEARER, "list")
    assert f"next <t:{int(due.timestamp())}:R>" in listed, listed

    world.advance(30 * 60)  # not yet
    assert world.chaster.count_calls("POST", "/tasks/assign") == 0
    world.advance(15 * 60)
    await world.discord.wait_until(
        lambda: session.current_task is not None, what="the scheduled assign"
    )
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["actor"] == "extension"
    assert body["task"]["task"] == "Kneel for ten minutes"
    message = await world.discord.wait_until(
        lambda: next(iter(world.feed_messages()), None), what="the feed message"
    )
    assert message["content"] == "<@5002>, a task for you, from schedule #1."
    deadline = int((due + timedelta(days=2)).timestamp())
    assert fields(message)["Deadline"] == f"<t:{deadline}:R> (<t:{deadline}:f>)"

    # A day later the task is still open: the occasion is skipped, and the feed says so.
    world.advance(24 * 3600)
    skipped = await world.discord.wait_until(
        lambda: next(iter(pings(world, "⏭️")), None), what="the skip notice"
    )
    assert skipped.startswith("⏭️ Schedule #1 skipped this time: <@5002> still has an open task")
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_a_missed_deadline_fails_the_task_and_adds_time(world: World) -> None:
    session = await world.link()
    answer = await world.reply(
        "penalty", KEYHOLDER, "set", wearer=WEARER, on="deadline", action="add_time", amount="1h"
    )
    assert answer == "Set for <@5002>: On a missed deadline: add 1h to the lock", answer
    end_before = session.end_date
    message = await world.assign(deadline="1h")
    assert "Deadline" in fields(message)

    world.advance(45 * 60 + 1)  # the reminder, 15 minutes before
    reminder = await world.discord.wait_until(
        lambda: next(iter(pings(world, "⏳")), None), what="the deadline reminder"
    )
    assert reminder.startswith("⏳ <@5002>, “Hold a plank” is due <t:"), reminder

    world.advance(15 * 60)
    await world.discord.wait_until(
        lambda: world.chaster.count_calls("POST", "/action") == 1, what="the consequence"
    )
    [complete] = world.chaster_bodies("POST", "/tasks/complete")
    assert complete == {"actor": "extension", "isCompleted": False}
    [action] = world.chaster_bodies("POST", "/action")
    assert action == {"action": {"name": "add_time", "params": 3600}}
    assert session.end_date == end_before + timedelta(hours=1)
    edited = await world.discord.wait_until(
        lambda: next((m for m in world.feed_messages() if "Missed" in embed(m)["title"]), None),
        what="the feed message edited",
    )
    assert embed(edited)["title"] == "⏳ Missed the deadline"
    applied = await world.discord.wait_until(
        lambda: next(iter(pings(world, "⚖️")), None), what="the consequence notice"
    )
    assert applied == (
        "⚖️ <@5002> missed the deadline of “Hold a plank”. Consequence applied in Chaster: "
        "add 1h to the lock."
    )
    [missed] = pings(world, "⌛")
    assert missed.startswith("⌛ <@5002> missed the deadline of “Hold a plank”")
    # The lock's history in Chaster says what the bot did, and for what.
    await world.chaster.wait_for_call("POST", "/logs/custom", count=2)
    logs = [log for log in session.action_logs if log["type"] == "custom"]
    assert [(log["title"], log["description"]) for log in logs] == [
        ("Task assigned from Discord", f"by {KEYHOLDER.name} (Discord) — Hold a plank, 5 points"),
        ("Consequence for a missed deadline, from Discord", "add 1h to the lock — Hold a plank"),
    ]
    # Once: a restart of the deadline's handling changes nothing.
    [task] = [t for t in await world.store.open_tasks()] or [None]
    assert task is None
    failed = await world.store.get_task_by_feed_message(int(message["id"]))
    assert failed is not None
    assert await world.core.deadlines.expire(failed.id) is None
    assert await world.core.consequences.apply(1) is None
    assert world.chaster.count_calls("POST", "/action") == 1
    assert world.chaster.count_calls("POST", "/tasks/complete") == 1


async def test_pause_stops_a_schedule_and_resume_starts_it_again(world: World) -> None:
    session = await world.link(user_tasks=[{"task": "Kneel", "points": 1}])
    due = await at_next_minute(world)
    await world.reply(
        "schedule", KEYHOLDER, "add", wearer=WEARER, every="1h", at=f"{due:%H:%M}", random="lock"
    )
    paused = await world.reply("pause", WEARER, reason="Not today")
    assert paused == (
        "Paused: no schedule, deadline, reminder or consequence does anything for <@5002> "
        "until /resume."
    )
    notice = await world.discord.wait_until(
        lambda: next(iter(pings(world, "⏸️")), None), what="the pause notice"
    )
    assert notice.startswith("⏸️ <@5002> paused the automation of <@5002> (“Not today”)")
    status = await world.reply("task", KEYHOLDER, "status", wearer=WEARER)
    assert "⏸️ Automation paused by <@5002>" in status, status

    calls = len(world.chaster.calls)
    link = await world.store.get_open_link(GUILD, WEARER.id)
    assert link is not None
    [schedule] = await world.store.schedules_of_link(link.id)
    for _ in range(3):  # three occasions, an hour apart, all in the pause
        world.advance(3600)
        # What the bot's own timer does at that moment (whichever of the two comes first
        # claims the occasion; the other finds it taken): no Discord call would say when.
        await world.core.schedules.fire(schedule.id)
    occasions = await world.store.occasions_of(schedule.id)
    assert [o.state.value for o in occasions] == ["paused"] * 3
    # Nothing at all reached Chaster for them (the poller's sweep is not automation).
    assert [c.path for c in world.chaster.calls[calls:] if "/sessions/search" not in c.path] == []

    resumed = await world.reply("resume", WEARER)
    assert resumed == "Resumed the automation of <@5002>."
    world.advance(3600)
    await world.discord.wait_until(
        lambda: session.current_task is not None, what="the next occasion after the pause"
    )
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_direct_messages_are_opt_in_and_stop_when_dms_are_closed(world: World) -> None:
    await world.link()
    assert (await world.reply("notify", WEARER)).startswith("You get no direct messages")
    await world.assign(description="Before opting in")
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    assert world.discord.dm_messages(WEARER.id) == []

    answer = await world.reply("notify", WEARER, dm="on")
    assert answer == "You get direct messages from the bot for this server."
    await world.assign(description="Hold a plank")
    dm = await world.discord.wait_until(
        lambda: next(iter(world.discord.dm_messages(WEARER.id)), None), what="the DM"
    )
    assert dm["content"] == "📋 A new task for you in Test Guild: “Hold a plank”"
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)

    # The wearer closes their DMs: Discord refuses the next one; the feed says so once.
    world.discord.close_dms(WEARER.id)
    await world.assign(description="Second")
    notice = await world.discord.wait_until(
        lambda: next(iter(pings(world, "✉️")), None), what="the closed-DMs notice"
    )
    assert notice.startswith("✉️ <@5002>, Discord refused a direct message to you")
    assert (await world.reply("notify", WEARER)).startswith("Direct messages are on, but Discord")
    refused = len(
        world.discord.find_calls(
            "POST", rf"/channels/{world.discord.dm_channel_id(WEARER.id)}/messages"
        )
    )
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    await world.assign(description="Third")
    # No more tries, and no second notice.
    assert (
        len(
            world.discord.find_calls(
                "POST", rf"/channels/{world.discord.dm_channel_id(WEARER.id)}/messages"
            )
        )
        == refused
    )
    assert len(pings(world, "✉️")) == 1
    assert [m["content"] for m in world.discord.dm_messages(WEARER.id)] == [dm["content"]]


async def autocomplete(
    world: World, command: str, subcommand: str, focused: str, typed: str, user: FakeUser
) -> list[tuple[str, str]]:
    handle = await world.discord.send_autocomplete(
        command,
        user=user,
        subcommand=subcommand,
        focused=focused,
        options=[option(focused, typed, OPTION_STRING)],
    )
    answer = await handle.first_response()
    assert answer["type"] == 8, answer
    return [(c["name"], c["value"]) for c in answer["data"]["choices"]]


async def test_the_servers_time_zone_is_named_and_checked(world: World) -> None:
    suggested = await autocomplete(world, "settings", "timezone", "zone", "paris", ADMIN)
    assert ("Europe/Paris", "Europe/Paris") in suggested
    refused = await world.reply("settings", ADMIN, "timezone", zone="Europe/Pariss")
    assert refused == (
        "`Europe/Pariss` is not a time zone I know. Did you mean Europe/Paris? Time zones are "
        "IANA names, such as Europe/Paris or America/New_York."
    )
    assert (await world.store.get_guild_settings(GUILD)).timezone == "UTC"
    answer = await world.reply("settings", ADMIN, "timezone", zone="europe/paris")
    assert answer == "Schedules here follow Europe/Paris unless they name another time zone."
    # A schedule that names none follows it.
    await world.link()
    await world.reply("library", KEYHOLDER, "add", description="Kneel", points=1)
    added = await world.reply(
        "schedule", KEYHOLDER, "add", wearer=WEARER, every="weekday", at="7:30", entry="Kneel"
    )
    assert added.startswith(
        "Scheduled for <@5002>: #1 · Monday to Friday at 07:30 (Europe/Paris) · library entry #1"
    ), added
    every = await autocomplete(world, "schedule", "add", "every", "", KEYHOLDER)
    assert [value for _, value in every][:4] == ["day", "weekday", "week", "1h"]


async def test_a_library_entrys_deadline_comes_with_it(world: World) -> None:
    await world.link()
    kept = await world.reply(
        "library", KEYHOLDER, "add", description="Plank", points=2, deadline="2h"
    )
    assert kept.startswith("Kept"), kept
    listed = await world.reply("library", KEYHOLDER, "list")
    assert "Plank · 2 points · ⏳ 2h" in listed, listed
    refused = await world.reply(
        "library", KEYHOLDER, "add", description="Too long", points=1, deadline="8d"
    )
    assert refused == "`8d` is 8d: it must be from 1m to 7d.", refused
    message = await world.assign(description="Plank")
    deadline = int((world.clock.now() + timedelta(hours=2)).timestamp())
    assert fields(message)["Deadline"] == f"<t:{deadline}:R> (<t:{deadline}:f>)"
