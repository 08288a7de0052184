"""How a task looks in the feed channel, and which reactions apply to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

import discord
from discord.utils import format_dt

from bot.store import SessionLink, Task, TaskState
from bot.tasks.durations import format_duration
from bot.tasks.service import TaskAction

START_EMOJI = "\N{BLACK RIGHT-POINTING TRIANGLE}\N{VARIATION SELECTOR-16}"  # ▶️
COMPLETE_EMOJI = "\N{WHITE HEAVY CHECK MARK}"  # ✅
FAIL_EMOJI = "\N{CROSS MARK}"  # ❌
TIMER_EMOJI = "\N{STOPWATCH}\N{VARIATION SELECTOR-16}"  # ⏱️
WARNING_EMOJI = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"  # ⚠️
FEED_EMOJI = (START_EMOJI, COMPLETE_EMOJI, FAIL_EMOJI)

# Discord's JSON error codes for a channel or message that no longer exists.
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
# What the feed needs in its channel; the README's invite link grants all of them.
FEED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    add_reactions=True,
    read_message_history=True,
)

_EMOJI_ACTIONS = {
    START_EMOJI: TaskAction.START,
    # Clients send ▶ with or without the emoji variation selector.
    "\N{BLACK RIGHT-POINTING TRIANGLE}": TaskAction.START,
    COMPLETE_EMOJI: TaskAction.COMPLETE,
    FAIL_EMOJI: TaskAction.FAIL,
}

_HEADLINES = {
    TaskState.ASSIGNED: ("\N{CLIPBOARD} Task assigned", discord.Colour.blurple()),
    TaskState.TIMER_RUNNING: (
        f"{TIMER_EMOJI} Timer running",
        discord.Colour.gold(),
    ),
    TaskState.AWAITING_CONFIRMATION: (
        "\N{RAISED HAND} Awaiting the keyholder's confirmation",
        discord.Colour.orange(),
    ),
    TaskState.COMPLETED: ("\N{WHITE HEAVY CHECK MARK} Completed", discord.Colour.green()),
    TaskState.FAILED: ("\N{CROSS MARK} Failed", discord.Colour.red()),
}


def action_for_emoji(emoji: str) -> TaskAction | None:
    """The task action a reaction stands for, or None for any other emoji."""
    return _EMOJI_ACTIONS.get(emoji)


def is_confirm_emoji(emoji: str) -> bool:
    return emoji == COMPLETE_EMOJI


def timer_finished(task: Task, now: datetime) -> bool:
    return (
        task.state is TaskState.TIMER_RUNNING
        and task.timer_ends_at is not None
        and task.timer_ends_at <= now
    )


def reactions_for(task: Task) -> list[str]:
    """The reactions that do something for the task in its current state, in display order."""
    if not task.state.is_open:
        return []
    wanted: list[str] = []
    if task.is_timed and task.state is TaskState.ASSIGNED:
        wanted.append(START_EMOJI)
    # Chaster does not let a bot complete a photo-verified task, and a timed task only once its
    # timer has been started.
    completable = not task.verification_required and not (
        task.is_timed and task.state is TaskState.ASSIGNED
    )
    if completable:
        wanted.append(COMPLETE_EMOJI)
    wanted.append(FAIL_EMOJI)
    return wanted


def task_embed(task: Task, link: SessionLink, now: datetime) -> discord.Embed:
    """The feed message's embed for `task`."""
    title, colour = _HEADLINES[task.state]
    if timer_finished(task, now):
        title, colour = "\N{ALARM CLOCK} Timer finished", discord.Colour.teal()
    embed = discord.Embed(title=title, description=task.description, colour=colour)
    embed.add_field(name="Wearer", value=f"<@{link.wearer_id}>")
    assigned_by = f"<@{task.assigned_by}>" if task.assigned_by else "Chaster"
    embed.add_field(name="Assigned by", value=assigned_by)
    embed.add_field(name="Points", value=str(task.points))
    embed.add_field(name="Kind", value=_kind(task), inline=False)
    ends = task.timer_ends_at
    if task.state is TaskState.TIMER_RUNNING and ends is not None:
        verb = "Ended" if timer_finished(task, now) else "Ends"
        embed.add_field(
            name="Timer",
            value=f"{verb} {format_dt(ends, 'R')} ({format_dt(ends, 't')})",
            inline=False,
        )
    if task.state is TaskState.AWAITING_CONFIRMATION:
        embed.add_field(
            name="Waiting for",
            value=f"<@{link.keyholder_id}> to confirm with {COMPLETE_EMOJI} (or {FAIL_EMOJI})",
            inline=False,
        )
    if task.state is TaskState.COMPLETED and task.points_total is not None:
        total = f"{task.points_total}"
        if task.points_required:
            total += f" / {task.points_required}"
        embed.add_field(name="Wearer's points", value=total, inline=False)
    if task.closed_at is not None:
        who = f"by <@{task.closed_by}>" if task.closed_by is not None else "in Chaster"
        embed.add_field(
            name="Closed", value=f"{who} {format_dt(task.closed_at, 'R')}", inline=False
        )
    embed.set_footer(text=f"Task #{task.id} · {_hint(task)}")
    return embed


def _kind(task: Task) -> str:
    parts = []
    if task.duration_seconds is not None:
        parts.append(f"{TIMER_EMOJI} Timed: {format_duration(task.duration_seconds)}")
    if task.verification_required:
        parts.append("\N{CAMERA} Needs a verification photo: the wearer finishes it in Chaster")
    return " · ".join(parts) or "Untimed"


def _hint(task: Task) -> str:
    if not task.state.is_open:
        return "closed"
    names = {START_EMOJI: "start the timer", COMPLETE_EMOJI: "complete", FAIL_EMOJI: "fail"}
    return ", ".join(f"{emoji} {names[emoji]}" for emoji in reactions_for(task))


# The feed runs inside the command that caused its event, so its troubles can be added to that
# command's reply: the task itself is saved, but the person should know the feed is stuck.
_feed_problems: ContextVar[list[str] | None] = ContextVar("feed_problems", default=None)


@contextmanager
def collect_feed_problems() -> Iterator[list[str]]:
    """Collect what kept the feed from showing a change made inside the block."""
    problems: list[str] = []
    token = _feed_problems.set(problems)
    try:
        yield problems
    finally:
        _feed_problems.reset(token)


def report_feed_problem(error: discord.HTTPException, channel_id: int | None) -> None:
    """Tell the command being handled, if any, what to fix so the feed works again."""
    problems = _feed_problems.get()
    text = feed_problem(error, channel_id)
    if problems is not None and text not in problems:
        problems.append(text)


def feed_problem(error: discord.HTTPException, channel_id: int | None) -> str:
    """What went wrong with the feed, and who can fix it how."""
    where = f"<#{channel_id}>" if channel_id else "the feed channel"
    if isinstance(error, discord.NotFound) and error.code == UNKNOWN_CHANNEL:
        return (
            f"The task feed channel {where} no longer exists. A server manager should pick "
            "another with `/settings feed`."
        )
    if isinstance(error, discord.Forbidden):
        return (
            f"I can't post the task feed in {where}: I'm missing permissions there. A server "
            f"manager should let me {missing_permissions_text(FEED_PERMISSIONS)} in that "
            "channel, or pick another with `/settings feed`."
        )
    return (
        f"Discord did not take the task feed update in {where} ({error.status}). The task is "
        "saved; the feed catches up with its next change."
    )


# As Discord's channel settings name them, in the order they show them.
_PERMISSION_NAMES = {
    "view_channel": "view the channel",
    "send_messages": "send messages",
    "embed_links": "embed links",
    "add_reactions": "add reactions",
    "read_message_history": "read message history",
}


def missing_permissions_text(permissions: discord.Permissions) -> str:
    """The feed's `permissions` as words, e.g. "send messages, add reactions"."""
    return ", ".join(
        words for name, words in _PERMISSION_NAMES.items() if getattr(permissions, name)
    )


def with_feed_problems(text: str, problems: list[str]) -> str:
    """A command's reply, followed by anything that kept the feed from showing it."""
    return "\n".join([text, *(f"{WARNING_EMOJI} {problem}" for problem in problems)])
