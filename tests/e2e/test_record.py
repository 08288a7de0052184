"""/task history with its buttons, and /task export as a CSV attachment, through the bot."""

from __future__ import annotations

import csv
import io

import httpx

from tests.e2e.conftest import ADMIN, GUILD, KEYHOLDER, STRANGER, WEARER, World


async def fail_tasks(world: World, count: int) -> None:
    for n in range(count):
        await world.assign(description=f"Task {n:02}", points=n)
        failed = await world.reply("task", KEYHOLDER, "fail", wearer=WEARER)
        assert failed == "Task marked as failed.", failed


async def test_history_pages_with_buttons(world: World) -> None:
    await world.link()
    await fail_tasks(world, 12)
    handle = await world.command("task", WEARER, "history")
    first = await handle.final_message()
    lines = first["content"].splitlines()
    assert lines[0] == "**Tasks of <@5002>** (12 tasks, newest first)"
    assert lines[1].startswith("`#12` ❌ failed · “Task 11” · 11 points · by <@5001> · <t:")
    assert " · finished <t:" in lines[1] and lines[1].endswith(", after 0s")
    assert lines[-1] == "Page 1 of 2"
    [row] = first["components"]
    assert [(b["label"], b.get("disabled", False)) for b in row["components"]] == [
        ("Previous", True),
        ("Next", False),
    ]
    assert row["components"][1]["custom_id"] == f"history:page:{WEARER.id}:1"
    press = await world.discord.send_component(
        message_id=handle.original_message_id,
        custom_id=f"history:page:{WEARER.id}:1",
        user=WEARER,
    )
    second = (await press.final_message())["content"].splitlines()
    assert second[1].startswith("`#2` ❌ failed · “Task 01”")
    assert second[-1] == "Page 2 of 2"
    # A stranger pressing a copy of it is refused, privately.
    other = await world.discord.send_component(
        message_id=handle.original_message_id,
        custom_id=f"history:page:{WEARER.id}:0",
        user=STRANGER,
    )
    refused = await other.final_message()
    assert refused["content"] == "Only the wearer or their keyholder can see their task status."


async def test_export_is_a_csv_attachment(world: World) -> None:
    await world.link()
    await fail_tasks(world, 2)
    await world.assign(description="=1+1 and more")
    handle = await world.command("task", KEYHOLDER, "export", wearer=WEARER)
    message = await handle.final_message()
    assert message["content"] == "The tasks of <@5002>, as CSV (times in UTC)."
    stored = handle.original_message() or next(iter(handle.followups()), None)
    assert stored is not None
    [attachment] = stored["attachments"]
    assert attachment["filename"] == f"tasks-{WEARER.id}.csv"
    async with httpx.AsyncClient() as client:
        body = (await client.get(attachment["url"])).content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [(r["task"], r["outcome"]) for r in rows] == [
        ("'=1+1 and more", "open"),
        ("Task 01", "failed"),
        ("Task 00", "failed"),
    ]


async def test_retention_is_set_by_a_manager(world: World) -> None:
    refused = await world.reply("settings", ADMIN, "retention", days="10")
    assert refused == (
        "`10` is not a retention: give a number of days from 30 to 3650, or forever."
    )
    answer = await world.reply("settings", ADMIN, "retention", days="90")
    assert answer == (
        "This server keeps finished tasks and its audit log for 90 days; older ones are "
        "pruned daily."
    )
    assert (await world.store.get_guild_settings(GUILD)).retention_days == 90
    assert (await world.reply("settings", ADMIN, "retention", days="forever")).endswith("forever.")
