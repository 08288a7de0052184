"""/library, assigning from it (description autocomplete, points from the entry) and
/task random, end to end."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import (
    EPHEMERAL,
    KEYHOLDER,
    STRANGER,
    WEARER,
    FakeUser,
    World,
    embed,
)
from tests.fakes.discord import OPTION_INTEGER, OPTION_STRING, option, user_option

LOCK_LIST = [
    {"task": "Kneel for ten minutes", "points": 4, "duration": 600},
    {"task": "Write a letter to your keyholder", "points": 2},
]


async def add(world: World, description: str, user: FakeUser = KEYHOLDER, **options: Any) -> str:
    options.setdefault("points", 3)
    return await world.reply("library", user, "add", description=description, **options)


async def list_page(world: World, user: FakeUser = KEYHOLDER, **options: Any) -> dict[str, Any]:
    handle = await world.command("library", user, "list", **options)
    answer = await handle.final_message()
    assert int(answer["flags"]) & EPHEMERAL
    return dict(answer) | {"handle": handle}


async def test_add_list_and_remove_keep_to_the_callers_own_library(world: World) -> None:
    assert (
        await add(world, "Plank", tag="gym", duration="10m")
        == "Kept in your library as #1: “Plank”."
    )
    assert await add(world, "Lines") == "Kept in your library as #2: “Lines”."
    assert (await add(world, "Plank")).startswith("That task is already in your library as #1")
    page = await list_page(world)
    assert page["content"].splitlines() == [
        "**Your library here** (2 entries):",
        "`#1` Plank · 3 points · 10m · `gym`",
        "`#2` Lines · 3 points",
    ]
    assert (await list_page(world, tag="gym"))["content"].count("\n") == 1
    # Someone else sees nothing of it, and cannot remove it.
    assert (await list_page(world, STRANGER))["content"].startswith("Your library here is empty")
    refusal = await world.refusal("library", STRANGER, "remove", entry="1")
    assert refusal == "Your library here has no entry #1."
    # Remove offers the caller's entries as they type.
    handle = await world.discord.send_autocomplete(
        "library",
        user=KEYHOLDER,
        subcommand="remove",
        focused="entry",
        options=[option("entry", "pla", OPTION_STRING)],
    )
    answer = await handle.first_response()
    assert [(c["name"], c["value"]) for c in answer["data"]["choices"]] == [
        ("#1 Plank · 3 points · 10m", "1")
    ]
    assert await world.reply("library", KEYHOLDER, "remove", entry="1") == (
        "Removed #1 from your library: “Plank”."
    )
    assert [line for line in (await list_page(world))["content"].splitlines()][1:] == [
        "`#2` Lines · 3 points"
    ]
    assert world.chaster.calls == []


async def test_a_long_list_pages_with_buttons(world: World) -> None:
    for n in range(23):
        await add(world, f"Task {n:02}")
    page = await list_page(world)
    lines = page["content"].splitlines()
    assert lines[0] == "**Your library here** (23 entries):"
    assert lines[1].startswith("`#1` Task 00") and lines[-1] == "Page 1 of 3"
    [row] = page["components"]
    assert [(b["label"], b.get("disabled", False)) for b in row["components"]] == [
        ("Previous", True),
        ("Next", False),
    ]
    message_id = page["handle"].original_message_id
    press = await world.discord.send_component(
        message_id=message_id, custom_id="library:page:1", user=KEYHOLDER
    )
    turned = await press.final_message()
    assert turned["content"].splitlines()[1].startswith("`#11` Task 10")
    assert turned["content"].splitlines()[-1] == "Page 2 of 3"
    # A stranger pressing it (say, on a copy) sees only their own, empty, library.
    other = await world.discord.send_component(
        message_id=message_id, custom_id="library:page:2", user=STRANGER
    )
    assert (await other.final_message())["content"].startswith("Your library here is empty")


async def test_import_copies_the_lock_list_once(world: World) -> None:
    await world.link(user_tasks=LOCK_LIST)
    text = await world.reply("library", KEYHOLDER, "import", wearer=WEARER)
    assert text == (
        "Imported 2 tasks from <@5002>'s lock into your library (0 already there or unusable)."
    )
    again = await world.reply("library", KEYHOLDER, "import", wearer=WEARER)
    assert again.startswith("Imported 0 tasks") and "(2 already there" in again
    page = await list_page(world)
    assert "`#1` Kneel for ten minutes · 4 points · 10m" in page["content"]
    refusal = await world.refusal("library", WEARER, "import", wearer=WEARER)
    assert refusal == "Only <@5001>, the keyholder, can import this lock's task list."


async def description_choices(world: World, typed: str) -> list[tuple[str, str]]:
    handle = await world.discord.send_autocomplete(
        "task",
        user=KEYHOLDER,
        subcommand="assign",
        focused="description",
        options=[user_option("wearer", WEARER), option("description", typed, OPTION_STRING)],
    )
    answer = await handle.first_response()
    assert (answer["type"], answer["late"]) == (8, False), answer
    return [(c["name"], c["value"]) for c in answer["data"]["choices"]]


async def test_description_suggests_library_entries_and_the_lock_list(world: World) -> None:
    await world.link(user_tasks=LOCK_LIST)
    await world.reply("task", KEYHOLDER, "status", wearer=WEARER)  # the lock is read once
    await add(world, "Write 100 lines", points=5)
    await add(world, "x" * 120 + " write it long", points=1)
    calls = len(world.chaster.calls)
    got = await description_choices(world, "WRI")
    assert got == [
        ("📚 Write 100 lines · 5 points", "Write 100 lines"),
        ("📚 " + "x" * 97 + "…", "#2"),
        ("🔒 Write a letter to your keyholder · 2 points", "Write a letter to your keyholder"),
    ]
    # Typed into nothing: everything, still without asking Chaster.
    assert len(await description_choices(world, "")) == 4
    assert len(world.chaster.calls) == calls


async def test_an_entry_gives_its_points_and_duration_to_assign(world: World) -> None:
    await world.link()
    await add(world, "Plank", points=7, duration="10m", verification=False)
    text = await world.reply("task", KEYHOLDER, "assign", wearer=WEARER, description="Plank")
    assert text == "Assigned to <@5002>: “Plank” (7 points, timed 10m).", text
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"] == {
        "task": "Plank",
        "points": 7,
        "verificationRequired": False,
        "duration": 600,
    }


async def test_a_new_text_still_needs_points_and_asks_chaster_nothing(world: World) -> None:
    await world.link()
    calls = len(world.chaster.calls)
    refusal = await world.refusal("task", KEYHOLDER, "assign", wearer=WEARER, description="Dance")
    assert refusal.startswith("Give the task's points")
    assert len(world.chaster.calls) == calls
    # Existing uses keep working unchanged.
    assert (await world.assign(description="Dance", points=2))["embeds"]


async def test_random_assigns_a_drawn_task_and_the_feed_says_from_where(world: World) -> None:
    await world.link(user_tasks=[])
    await add(world, "Plank", points=2, tag="gym")
    text = await world.reply(
        "task", KEYHOLDER, "random", wearer=WEARER, source="library", tag="gym"
    )
    assert text.startswith("Assigned to <@5002>: “Plank” (2 points)"), text
    [feed] = world.feed_messages()
    assert feed["content"] == (
        "<@5002>, a task for you, drawn at random from your keyholder's library."
    )
    assert embed(feed)["description"] == "Plank"
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    refusal = await world.refusal("task", KEYHOLDER, "random", wearer=WEARER, source="lock")
    assert refusal == "There is nothing to draw for <@5002>: their lock's task list is empty."
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1


async def test_the_points_option_is_optional_in_discord(world: World) -> None:
    commands = {c["name"]: c for c in world.discord.guild_commands[1000]}
    assign = next(o for o in commands["task"]["options"] if o["name"] == "assign")
    options = {o["name"]: o for o in assign["options"]}
    assert options["points"].get("required", False) is False
    assert options["points"]["type"] == OPTION_INTEGER
    assert options["description"]["autocomplete"] is True
