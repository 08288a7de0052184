""" "Assign task" in a member's context menu: the form, good and bad values, and who may."""

from __future__ import annotations

from typing import Any

import pytest

from bot.store import Proof, TaskState
from tests.e2e.conftest import EPHEMERAL, GUILD, KEYHOLDER, STRANGER, WEARER, FakeUser, World
from tests.fakes.discord import InteractionHandle

MODAL = 9


async def open_form(world: World, user: FakeUser = KEYHOLDER) -> InteractionHandle:
    handle = await world.discord.send_user_command("Assign task", user=user, target=WEARER)
    opened = await handle.first_response()
    assert (opened["type"], opened["status"]) == (MODAL, 200), opened
    return handle


def fields_of(handle: InteractionHandle) -> dict[str, dict[str, Any]]:
    """The form's fields by custom id: each Label with its component."""
    [callback] = [r for r in handle.responses() if r["kind"] == "callback"]
    return {
        label["component"]["custom_id"]: label for label in callback["body"]["data"]["components"]
    }


async def submit(world: World, handle: InteractionHandle, **values: str | bool) -> dict[str, Any]:
    submitted = await world.discord.send_modal_submit(handle, values)
    answer = await submitted.final_message()
    assert int(answer.get("flags") or 0) & EPHEMERAL, answer
    return answer


async def test_the_form_asks_what_the_command_asks(world: World) -> None:
    await world.link()
    handle = await open_form(world)
    [callback] = [r for r in handle.responses() if r["kind"] == "callback"]
    form = callback["body"]["data"]
    assert form["title"] == "Assign a task"
    assert form["custom_id"] == f"assign-form:{WEARER.id}"
    fields = fields_of(handle)
    assert list(fields) == ["description", "points", "duration", "verification", "proof"]
    proof = fields["proof"]["component"]
    assert [(o["value"], o.get("default", False)) for o in proof["options"]] == [
        ("none", True),
        ("keyholder", False),
        ("community", False),
    ]
    description = fields["description"]
    assert description["label"] == "Description"
    assert description["component"]["style"] == 2  # a paragraph
    assert (description["component"]["min_length"], description["component"]["max_length"]) == (
        1,
        500,
    )
    # Empty, so that a library entry's points can apply; the command needs them otherwise.
    assert fields["points"]["component"].get("value") in (None, "")
    assert fields["points"]["component"]["required"] is False
    assert fields["duration"]["component"]["required"] is False
    assert fields["verification"]["component"]["type"] == 23  # a checkbox


async def test_a_good_form_assigns_the_task_as_the_command_does(world: World) -> None:
    session = await world.link()
    handle = await open_form(world)
    answer = await submit(
        world, handle, description="Hold a plank", points="7", duration="1h30m", verification=False
    )
    assert answer["content"].startswith("Assigned to <@5002>: “Hold a plank”"), answer
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"] == {
        "task": "Hold a plank",
        "points": 7,
        "verificationRequired": False,
        "duration": 5400,
    }
    assert body["actor"] == "keyholder"
    assert session.current_task is not None
    [feed] = world.feed_messages()
    assert feed["embeds"][0]["description"] == "Hold a plank"


async def test_the_verification_checkbox_asks_for_a_photo(world: World) -> None:
    await world.link()
    handle = await open_form(world)
    await submit(world, handle, description="Show the lock", points="2", verification=True)
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"]["verificationRequired"] is True
    assert "duration" not in body["task"] or body["task"]["duration"] is None


async def test_the_proof_choice_gives_a_task_judged_in_chaster(world: World) -> None:
    await world.link()
    handle = await open_form(world)
    submitted = await world.discord.send_modal_submit(
        handle, {"description": "Kneel", "points": "3", "proof": ["community"]}
    )
    answer = await submitted.final_message()
    assert str(answer["content"]).startswith("Assigned to <@"), answer
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"]["verificationRequired"] is False
    link = await world.store.get_open_link(GUILD, WEARER.id)
    assert link is not None
    task = await world.store.get_open_task(link.id)
    assert task is not None and task.proof is Proof.COMMUNITY


async def test_proof_with_the_verification_checkbox_is_refused_and_kept(world: World) -> None:
    await world.link()
    handle = await open_form(world)
    submitted = await world.discord.send_modal_submit(
        handle,
        {"description": "Kneel", "points": "3", "verification": True, "proof": ["keyholder"]},
    )
    text = str((await submitted.final_message())["content"])
    assert text.startswith("A task cannot need both Chaster's own verification photo"), text
    assert text.endswith("Photo judged in Chaster: the keyholder"), text
    assert world.chaster.count_calls("POST", "/tasks/") == 0


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"description": "Hold a plank", "points": "lots", "duration": "10m"},
            "Points must be a whole number, 0 or more, not `lots`.",
        ),
        (
            {"description": "Hold a plank", "points": "-3"},
            "Points must be a whole number, 0 or more, not `-3`.",
        ),
        ({"description": "Hold a plank", "points": "5", "duration": "5 parsecs"}, "5 parsecs"),
        ({"description": "Hold a plank", "points": "5", "duration": "48h"}, "48h"),
        ({"description": "   ", "points": "5"}, "description"),
    ],
    ids=["points-word", "points-negative", "duration-unreadable", "duration-too-long", "blank"],
)
async def test_a_bad_form_is_refused_privately_and_shows_what_was_typed(
    world: World, values: dict[str, str], reason: str
) -> None:
    await world.link()
    writes = world.chaster.count_calls("POST", "/tasks/")
    handle = await open_form(world)
    answer = await submit(world, handle, **values)
    text = str(answer["content"])
    refusal, kept = text.split("\n\nYour form, as you typed it:\n")
    assert reason.lower() in refusal.lower(), refusal
    # Everything typed comes back, the text where it can be copied from.
    assert kept.startswith(f"```\n{values['description']}\n```\n"), kept
    assert f"Points: `{values['points']}`" in kept
    duration = values.get("duration")
    assert (
        f"Duration (leave empty for an untimed task): `{duration}`" if duration else "—"
    ) in kept
    assert kept.endswith("Photo verification in Chaster: no")
    assert world.chaster.count_calls("POST", "/tasks/") == writes
    assert world.feed_messages() == []


async def test_a_long_description_comes_back_whole(world: World) -> None:
    await world.link()
    # Refused the second time (a task is open already): what was typed must not be lost.
    handle = await open_form(world)
    text = "Line one\nline two with ``` backticks\n" + "x" * 400
    first = await submit(world, handle, description=text, points="1")
    assert first["content"].startswith("Assigned"), first
    again = await open_form(world)
    answer = await submit(world, again, description=text, points="1")
    refusal, kept = answer["content"].split("\n\nYour form, as you typed it:\n")
    assert "already has an open task" in refusal, refusal
    assert "x" * 400 in kept and "Line one\nline two with `\u200b`` backticks" in kept


async def test_only_the_keyholder_of_record_gets_the_form(world: World) -> None:
    await world.link()
    handle = await world.discord.send_user_command("Assign task", user=STRANGER, target=WEARER)
    answer = await handle.final_message()
    assert answer["content"] == "Only <@5001>, the keyholder, can assign tasks."
    assert int(answer["flags"]) & EPHEMERAL
    assert [r["body"]["type"] for r in handle.responses() if r["kind"] == "callback"] != [MODAL]


async def test_no_form_for_a_member_who_is_not_linked(world: World) -> None:
    handle = await world.discord.send_user_command("Assign task", user=KEYHOLDER, target=WEARER)
    answer = await handle.final_message()
    assert answer["content"] == "<@5002> is not linked to a Chaster lock here. Use /link first."


async def test_the_rule_is_checked_again_when_the_form_comes_back(world: World) -> None:
    await world.link()
    handle = await open_form(world)
    # Unlinked while the form was open.
    assert (await world.reply("unlink", WEARER, wearer=WEARER)).startswith("Unlinked")
    answer = await submit(world, handle, description="Hold a plank", points="3")
    assert answer["content"].startswith("<@5002> is not linked"), answer
    assert world.chaster.count_calls("POST", "/tasks/") == 0
    assert await world.store.get_open_link(GUILD, WEARER.id) is None
    tasks = [t for t in await world.store.open_tasks() if t.state is TaskState.ASSIGNED]
    assert tasks == []


async def test_a_library_entry_in_the_form_gives_what_is_left_empty(world: World) -> None:
    await world.link()
    await world.reply(
        "library",
        KEYHOLDER,
        "add",
        description="Plank",
        points=10,
        duration="10m",
        verification=True,
    )
    handle = await open_form(world)
    answer = await submit(world, handle, description="Plank")
    assert answer["content"].startswith("Assigned to <@5002>: “Plank” (10 points"), answer
    [body] = world.chaster_bodies("POST", "/tasks/assign")
    assert body["task"] == {
        "task": "Plank",
        "points": 10,
        "verificationRequired": True,
        "duration": 600,
    }
    # Without an entry, points are needed: refused, with what was typed shown back.
    await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
    again = await open_form(world)
    refused = await submit(world, again, description="Something new")
    assert refused["content"].startswith("Give the task's points"), refused
