"""Two people (or two clicks) acting on one task at the same moment: Chaster hears it once.

Chaster is made slow so both requests are in the bot at once; every action on a wearer's tasks
goes through the core's per-wearer mutex, and the loser is told what happened.
"""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import COMPLETE, EPHEMERAL, KEYHOLDER, WEARER, World

# Long enough that the second request arrives while the first is still waiting on Chaster.
CHASTER_LATENCY = 0.2


async def test_a_command_and_a_reaction_completing_one_task_call_chaster_once(
    world: World,
) -> None:
    await world.link()
    message = await world.assign()
    message_id, channel_id = int(message["id"]), int(message["channel_id"])
    world.chaster.latency = CHASTER_LATENCY

    command = await world.command("task", KEYHOLDER, "complete", wearer=WEARER)
    await world.react(KEYHOLDER, message_id, COMPLETE, channel_id)
    answer = str((await command.final_message(timeout=10))["content"])
    assert await world.bot.work.drained(within=10)

    assert world.chaster.count_calls("POST", "/tasks/complete") == 1
    link = await world.store.get_open_link(world.discord.guild_id, WEARER.id)
    assert link is not None
    task = await world.store.latest_task(link.id)
    assert task is not None and str(task.state) == "completed"
    notices = [m for m in world.discord.bot_messages(channel_id) if not m.get("embeds")]
    if answer == "Task completed.":
        # The command came first: the reaction was refused and removed.
        assert [n["content"] for n in notices] == [
            f"<@{KEYHOLDER.id}> This task is already completed."
        ]
    else:
        # The reaction came first: the command found nothing left to complete.
        assert answer == f"<@{WEARER.id}> has no open task.", answer
        assert notices == []


async def test_two_assigns_at_once_make_one_task(world: World) -> None:
    await world.link()
    world.chaster.latency = CHASTER_LATENCY

    first, second = [
        await world.command("task", KEYHOLDER, "assign", wearer=WEARER, description=text, points=1)
        for text in ("Hold a plank", "Run a lap")
    ]
    answers = await asyncio.gather(first.final_message(timeout=10), second.final_message(10))

    # Both answers, the assignment and the refusal, are shown only to the keyholder.
    assert [int(answer.get("flags") or 0) & EPHEMERAL for answer in answers] == [EPHEMERAL] * 2
    done, refused = sorted(
        (str(answer["content"]) for answer in answers), key=lambda t: not t.startswith("Assign")
    )
    assert done.startswith("Assigned to <@"), done
    assert refused.startswith(f"<@{WEARER.id}> already has an open task: “"), refused
    assert world.chaster.count_calls("POST", "/tasks/assign") == 1
    assert len(world.feed_messages()) == 1
