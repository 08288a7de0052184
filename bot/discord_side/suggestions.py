"""Autocomplete: what an option suggests as it is typed, answered locally (no Chaster call),
well inside Discord's 3 s."""

from __future__ import annotations

from discord import app_commands

from bot.core.durations import SUGGESTED_DURATIONS, parse_duration
from bot.core.errors import Refused
from bot.discord_side.voice import Voice, quotable

# Discord's limits for autocomplete results.
MAX_CHOICES = 25
CHOICE_NAME_LIMIT = 100
CHOICE_VALUE_LIMIT = 100


def duration_choices(typed: str, voice: Voice) -> list[app_commands.Choice[str]]:
    """What was typed, read back in words (or what is wrong with it), then the suggestions
    that begin with it."""
    typed = typed.strip()
    choices: list[app_commands.Choice[str]] = []
    if typed:
        try:
            name = _reading(typed, parse_duration(typed), voice)
        except Refused as refusal:
            # Picking it anyway sends it, and the command then refuses it the same way.
            name = voice.refusal(refusal)
        choices.append(_choice(name, typed))
    for suggestion in SUGGESTED_DURATIONS:
        if suggestion.startswith(typed.lower()) and suggestion != typed.lower():
            choices.append(
                _choice(_reading(suggestion, parse_duration(suggestion), voice), suggestion)
            )
    return choices[:MAX_CHOICES]


def _reading(typed: str, seconds: int, voice: Voice) -> str:
    return voice.text(
        "autocomplete.duration", typed=quotable(typed), duration=voice.duration_words(seconds)
    )


def _choice(name: str, value: str) -> app_commands.Choice[str]:
    if len(name) > CHOICE_NAME_LIMIT:
        name = name[: CHOICE_NAME_LIMIT - 1] + "…"
    return app_commands.Choice(name=name, value=value[:CHOICE_VALUE_LIMIT])
