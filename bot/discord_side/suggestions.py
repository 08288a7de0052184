"""Autocomplete: what an option suggests as it is typed, answered locally (no Chaster call),
well inside Discord's 3 s."""

from __future__ import annotations

from discord import app_commands

from bot.core.durations import (
    SUGGESTED_DURATIONS,
    SUGGESTED_SPANS,
    format_duration,
    format_span,
    parse_duration,
    parse_span,
)
from bot.core.errors import Refused
from bot.core.library import Candidate
from bot.core.occasions import zone_names_matching
from bot.discord_side.voice import Voice, quotable
from bot.store import LibraryEntry

# Discord's limits for autocomplete results.
MAX_CHOICES = 25
CHOICE_NAME_LIMIT = 100
CHOICE_VALUE_LIMIT = 100


def duration_choices(
    typed: str, voice: Voice, *, span: bool = False
) -> list[app_commands.Choice[str]]:
    """What was typed, read back in words (or what is wrong with it), then the suggestions
    that begin with it; with `span`, for a deadline or the like (up to 7 days)."""
    parse, suggested = (
        (parse_span, SUGGESTED_SPANS) if span else (parse_duration, SUGGESTED_DURATIONS)
    )
    typed = typed.strip()
    choices: list[app_commands.Choice[str]] = []
    if typed:
        try:
            name = _reading(typed, parse(typed), voice)
        except Refused as refusal:
            # Picking it anyway sends it, and the command then refuses it the same way.
            name = voice.refusal(refusal)
        choices.append(_choice(name, typed))
    for suggestion in suggested:
        if suggestion.startswith(typed.lower()) and suggestion != typed.lower():
            choices.append(_choice(_reading(suggestion, parse(suggestion), voice), suggestion))
    return choices[:MAX_CHOICES]


def timezone_choices(typed: str) -> list[app_commands.Choice[str]]:
    """IANA time zones matching what is typed (their names are the same in every language)."""
    return [_choice(name, name) for name in zone_names_matching(typed, MAX_CHOICES)]


def _reading(typed: str, seconds: int, voice: Voice) -> str:
    return voice.text(
        "autocomplete.duration", typed=quotable(typed), duration=voice.duration_words(seconds)
    )


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    if len(name) > CHOICE_NAME_LIMIT:
        name = name[: CHOICE_NAME_LIMIT - 1] + "…"
    return app_commands.Choice(name=name, value=value[:CHOICE_VALUE_LIMIT])


LIBRARY_MARK = "\N{BOOKS}"  # 📚
LOCK_MARK = "\N{LOCK}"  # 🔒


def task_choices(found: list[Candidate], voice: Voice) -> list[app_commands.Choice[str]]:
    """Library entries and lock tasks to pick as a description. The value is the text itself;
    an entry too long to be a choice's value is sent as "#N", which names it too. A lock task
    that long cannot be offered."""
    choices = []
    for candidate in found:
        value = candidate.description
        if len(value) > CHOICE_VALUE_LIMIT:
            if candidate.entry_id is None:
                continue
            value = f"#{candidate.entry_id}"
        choices.append(_choice(f"{_mark(candidate)} {describe(candidate, voice)}", value))
        if len(choices) == MAX_CHOICES:
            break
    return choices


def entry_choices(
    entries: list[LibraryEntry], typed: str, voice: Voice
) -> list[app_commands.Choice[str]]:
    """The caller's entries whose number or text matches what is typed, to remove one."""
    needle = typed.strip().lstrip("#").casefold()
    choices = []
    for entry in entries:
        if needle and needle not in str(entry.id) and needle not in entry.description.casefold():
            continue
        name = f"#{entry.id} {describe(Candidate.of(entry), voice)}"
        if len(name) > CHOICE_NAME_LIMIT:
            name = name[: CHOICE_NAME_LIMIT - 1] + "…"
        choices.append(app_commands.Choice(name=name, value=str(entry.id)))
        if len(choices) == MAX_CHOICES:
            break
    return choices


def describe(candidate: Candidate, voice: Voice) -> str:
    """ "Plank · 5 points · 10m · 📷 · ⏳ 2h": a task on one line, its text shown as typed."""
    text = quotable(candidate.description, CHOICE_NAME_LIMIT)
    parts = [text, voice.text("task.points", count=candidate.points)]
    if candidate.duration_seconds:
        parts.append(format_duration(candidate.duration_seconds))
    if candidate.verification_required:
        parts.append("\N{CAMERA}")
    if candidate.deadline_seconds:
        parts.append(f"\N{HOURGLASS WITH FLOWING SAND} {format_span(candidate.deadline_seconds)}")
    return " · ".join(parts)


def _mark(candidate: Candidate) -> str:
    return LOCK_MARK if candidate.from_lock else LIBRARY_MARK
