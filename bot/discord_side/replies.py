"""Replies that more than one way of doing something shares."""

from __future__ import annotations

from bot.core.durations import format_duration
from bot.core.errors import Person
from bot.discord_side.voice import Voice
from bot.store import Task


def assigned(task: Task, wearer_id: int, voice: Voice) -> str:
    """What `/task assign` and the "Assign task" form answer once Chaster took the task."""
    wearer = Person(wearer_id)
    if task.duration_seconds:
        return voice.text(
            "reply.assigned-timed",
            wearer=wearer,
            task=task.description,
            count=task.points,
            duration=format_duration(task.duration_seconds),
        )
    return voice.text("reply.assigned", wearer=wearer, task=task.description, count=task.points)
