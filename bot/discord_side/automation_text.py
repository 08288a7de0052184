"""Schedules, consequences and pauses in words: for the lists people ask for, and the feed."""

from __future__ import annotations

from bot.core.durations import format_span
from bot.core.errors import Person, TaskText
from bot.discord_side.voice import Voice
from bot.store import Every, Penalty, PenaltyAction, Schedule, SessionLink

_EVERY = {
    Every.DAY: "schedule.every-day",
    Every.WEEKDAY: "schedule.every-weekday",
    Every.WEEK: "schedule.every-week",
    Every.HOURS: "schedule.every-hours",
}


def schedule_line(
    schedule: Schedule, entry: TaskText | None, voice: Voice, *, with_next: bool = True
) -> str:
    """ "#3 · every weekday at 07:30 (Europe/Paris) · random, library · next …"; without the
    next occasion where Discord shows no times (an autocomplete choice)."""
    when = voice.text(
        _EVERY[schedule.every],
        count=schedule.hours or 0,
        at=schedule.at,
        zone=schedule.timezone,
        weekday=voice.text(f"weekday.{schedule.weekday}") if schedule.weekday is not None else "",
    )
    if schedule.entry_id is not None:
        what = (
            voice.text("schedule.entry", number=schedule.entry_id, task=entry)
            if entry is not None
            else voice.text("schedule.entry-gone", number=schedule.entry_id)
        )
    else:
        source = voice.text(f"choice.source.{schedule.source or 'both'}")
        what = (
            voice.text("schedule.random-tag", source=source, tag=TaskText(schedule.tag))
            if schedule.tag
            else voice.text("schedule.random", source=source)
        )
    parts = [f"#{schedule.id}", when, what]
    if schedule.deadline_seconds:
        parts.append(
            voice.text("schedule.deadline", duration=format_span(schedule.deadline_seconds))
        )
    if with_next:
        parts.append(voice.text("schedule.next", at=schedule.next_at))
    return " · ".join(parts)


def penalty_line(penalty: Penalty, voice: Voice) -> str:
    """ "On a missed deadline: add 1h to the lock" """
    words = action_words(penalty.action, penalty.seconds, penalty.reason, voice)
    return voice.text(f"penalty.on.{penalty.on.value}", action=words)


def action_words(
    action: PenaltyAction, seconds: int | None, reason: str | None, voice: Voice
) -> str:
    """What a consequence does to the lock, in words: "add 1h to the lock"."""
    duration = format_span(seconds) if seconds else ""
    if action is PenaltyAction.PILLORY and reason:
        return voice.text(
            "penalty.action.pillory-reason", duration=duration, reason=TaskText(reason)
        )
    return voice.text(f"penalty.action.{action.value}", duration=duration)


def pause_line(link: SessionLink, voice: Voice) -> str | None:
    """ "⏸️ Paused by @kim 5 minutes ago: reason" (None when not paused)."""
    if link.paused_at is None or link.paused_by is None:
        return None
    if link.pause_reason:
        return voice.text(
            "status.paused-reason",
            by=Person(link.paused_by),
            at=link.paused_at,
            reason=TaskText(link.pause_reason),
        )
    return voice.text("status.paused", by=Person(link.paused_by), at=link.paused_at)


def defaults_lines(link: SessionLink, voice: Voice) -> list[str]:
    """What the link took from the lock's configuration page in Chaster."""
    lines = []
    if link.wearer_can_complete is not None:
        key = "status.wearer-completes" if link.wearer_can_complete else "status.keyholder-confirms"
        lines.append(voice.text(key))
    if link.default_deadline_seconds is not None:
        lines.append(
            voice.text(
                "status.default-deadline",
                duration=voice.duration_words(link.default_deadline_seconds),
            )
        )
    return lines
