"""How a task looks in the feed channel, and which reactions apply to it."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.core.durations import format_duration
from bot.core.errors import Person
from bot.core.model import TaskAction
from bot.discord_side.proof_view import proof_field, proof_kind
from bot.discord_side.voice import Voice
from bot.store import Controls, ProofReview, SessionLink, Task, TaskState

START_EMOJI = "\N{BLACK RIGHT-POINTING TRIANGLE}\N{VARIATION SELECTOR-16}"  # ▶️
COMPLETE_EMOJI = "\N{WHITE HEAVY CHECK MARK}"  # ✅
FAIL_EMOJI = "\N{CROSS MARK}"  # ❌
TIMER_EMOJI = "\N{STOPWATCH}\N{VARIATION SELECTOR-16}"  # ⏱️
CAMERA_EMOJI = "\N{CAMERA}"  # 📷
DEADLINE_EMOJI = "\N{HOURGLASS WITH FLOWING SAND}"  # ⏳
FEED_EMOJI = (START_EMOJI, COMPLETE_EMOJI, FAIL_EMOJI)

_EMOJI_ACTIONS = {
    START_EMOJI: TaskAction.START,
    # Clients send ▶ with or without the emoji variation selector.
    "\N{BLACK RIGHT-POINTING TRIANGLE}": TaskAction.START,
    COMPLETE_EMOJI: TaskAction.COMPLETE,
    FAIL_EMOJI: TaskAction.FAIL,
}

# Each state's headline: emoji, catalogue key, colour.
_HEADLINES = {
    TaskState.ASSIGNED: ("\N{CLIPBOARD}", "feed.headline.assigned", discord.Colour.blurple()),
    TaskState.TIMER_RUNNING: (TIMER_EMOJI, "feed.headline.timer-running", discord.Colour.gold()),
    TaskState.AWAITING_CONFIRMATION: (
        "\N{RAISED HAND}",
        "feed.headline.awaiting-confirmation",
        discord.Colour.orange(),
    ),
    TaskState.COMPLETED: (
        "\N{WHITE HEAVY CHECK MARK}",
        "feed.headline.completed",
        discord.Colour.green(),
    ),
    TaskState.FAILED: ("\N{CROSS MARK}", "feed.headline.failed", discord.Colour.red()),
}
_TIMER_FINISHED = ("\N{ALARM CLOCK}", "feed.headline.timer-finished", discord.Colour.teal())
_MISSED_DEADLINE = (
    DEADLINE_EMOJI,
    "feed.headline.missed-deadline",
    discord.Colour.dark_red(),
)
_UNDER_REVIEW = (
    "\N{LEFT-POINTING MAGNIFYING GLASS}",
    "feed.headline.under-review",
    discord.Colour.purple(),
)
_HINTS = {
    START_EMOJI: "feed.hint.start",
    COMPLETE_EMOJI: "feed.hint.complete",
    FAIL_EMOJI: "feed.hint.fail",
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


def state_label(task: Task, now: datetime, voice: Voice) -> str:
    """The task's state in words: "timer running", or "timer finished" once it has."""
    if timer_finished(task, now):
        return voice.text("task-state.timer-finished")
    return voice.text(f"task-state.{task.state.value}")


def reactions_for(task: Task) -> list[str]:
    """The reactions that do something for the task in its current state, in display order."""
    if not task.state.is_open:
        return []
    wanted: list[str] = []
    if task.is_timed and task.state is TaskState.ASSIGNED:
        wanted.append(START_EMOJI)
    # Chaster does not let a bot complete a photo-verified task, and a timed task only once its
    # timer has been started; a reaction cannot carry the photo a proof task needs.
    completable = (
        not task.verification_required
        and task.proof is None
        and not (task.is_timed and task.state is TaskState.ASSIGNED)
    )
    if completable:
        wanted.append(COMPLETE_EMOJI)
    wanted.append(FAIL_EMOJI)
    return wanted


def task_embed(
    task: Task,
    link: SessionLink,
    now: datetime,
    voice: Voice,
    controls: Controls,
    proof: ProofReview | None = None,
) -> discord.Embed:
    """The feed message's embed for `task`, on a message that carries `controls`; `proof` is
    its photo on its way to a review or judged."""
    if task.missed_deadline:
        emoji, headline, colour = _MISSED_DEADLINE
    elif task.state.is_open and proof is not None and proof.state.is_pending:
        emoji, headline, colour = _UNDER_REVIEW
    elif timer_finished(task, now):
        emoji, headline, colour = _TIMER_FINISHED
    else:
        emoji, headline, colour = _HEADLINES[task.state]
    embed = discord.Embed(
        title=f"{emoji} {voice.text(headline)}",
        description=voice.task_text(task.description),
        colour=colour,
    )
    embed.add_field(name=voice.text("feed.field.wearer"), value=f"<@{link.wearer_id}>")
    assigned_by = (
        f"<@{task.assigned_by}>" if task.assigned_by else voice.text("feed.assigned-by-chaster")
    )
    embed.add_field(name=voice.text("feed.field.assigned-by"), value=assigned_by)
    embed.add_field(name=voice.text("feed.field.points"), value=str(task.points))
    embed.add_field(name=voice.text("feed.field.kind"), value=_kind(task, voice), inline=False)
    ends = task.timer_ends_at
    if task.state is TaskState.TIMER_RUNNING and ends is not None:
        key = "feed.timer.ended" if timer_finished(task, now) else "feed.timer.ends"
        embed.add_field(
            name=voice.text("feed.field.timer"), value=voice.text(key, at=ends), inline=False
        )
    if task.deadline_at is not None and task.state.is_open:
        embed.add_field(
            name=voice.text("feed.field.deadline"),
            value=voice.text("feed.deadline", at=task.deadline_at),
            inline=False,
        )
    photo = proof_field(proof, voice)
    if photo is not None:
        embed.add_field(name=voice.text("feed.field.photo"), value=photo, inline=False)
    if task.state is TaskState.AWAITING_CONFIRMATION:
        # The reactions are named whenever the message has them, as before buttons existed.
        waiting = (
            voice.text("feed.waiting-for.buttons", keyholder=Person(link.keyholder_id))
            if not controls.has_reactions
            else voice.text(
                "feed.waiting-for",
                keyholder=Person(link.keyholder_id),
                complete=COMPLETE_EMOJI,
                fail=FAIL_EMOJI,
            )
        )
        embed.add_field(name=voice.text("feed.field.waiting-for"), value=waiting, inline=False)
    if task.state is TaskState.COMPLETED and task.points_total is not None:
        total = f"{task.points_total}"
        if task.points_required:
            total += f" / {task.points_required}"
        embed.add_field(name=voice.text("feed.field.wearers-points"), value=total, inline=False)
    if task.closed_at is not None:
        if task.closed_by is not None:
            closed = voice.text("feed.closed.by", user=Person(task.closed_by), at=task.closed_at)
        elif task.missed_deadline:
            closed = voice.text("feed.closed.deadline", at=task.closed_at)
        else:
            closed = voice.text("feed.closed.in-chaster", at=task.closed_at)
        embed.add_field(name=voice.text("feed.field.closed"), value=closed, inline=False)
    if controls.has_reactions:
        footer = voice.text("feed.footer", id=task.id, hint=_hint(task, voice))
    else:
        # The buttons say what they do.
        footer = voice.text("feed.footer.plain", id=task.id)
    embed.set_footer(text=footer)
    return embed


def _kind(task: Task, voice: Voice) -> str:
    parts = []
    if task.duration_seconds is not None:
        timed = voice.text("feed.kind.timed", duration=format_duration(task.duration_seconds))
        parts.append(f"{TIMER_EMOJI} {timed}")
    if task.verification_required:
        parts.append(f"{CAMERA_EMOJI} {voice.text('feed.kind.photo')}")
    judged = proof_kind(task, voice)
    if judged is not None:
        parts.append(judged)
    return " · ".join(parts) or voice.text("feed.kind.untimed")


def _hint(task: Task, voice: Voice) -> str:
    if not task.state.is_open:
        return voice.text("feed.hint.closed")
    return ", ".join(f"{emoji} {voice.text(_HINTS[emoji])}" for emoji in reactions_for(task))
