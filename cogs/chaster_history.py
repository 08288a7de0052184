"""Chaster's history names who acted in Discord: each action taken from Discord is also written
in the lock's history, in the server's language, with the person's display name at that moment
(never a Discord id). `/settings chaster-history` turns it off; the core sends each once, in
the background."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.core.errors import TaskText
from bot.core.model import (
    AutomationEvent,
    AutomationEventKind,
    Event,
    EventKind,
    LinkEvent,
    LinkEventKind,
    TaskEvent,
)
from bot.discord_side.automation_text import action_words
from bot.discord_side.voice import Voice
from bot.store import SessionLink, to_db

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

# Each action's entry: catalogue key of its title, FontAwesome 5 icon, colour.
_TASK_ENTRIES = {
    EventKind.ASSIGNED: ("chaster-log.assigned", "tasks", "#5865f2"),
    EventKind.TIMER_STARTED: ("chaster-log.timer-started", "stopwatch", "#f1c40f"),
    EventKind.CONFIRMATION_REQUESTED: ("chaster-log.confirmation-asked", "hand-paper", "#e67e22"),
    EventKind.CONFIRMATION_REJECTED: ("chaster-log.confirmation-rejected", "undo", "#e67e22"),
    EventKind.COMPLETED: ("chaster-log.completed", "check", "#43a047"),
    EventKind.FAILED: ("chaster-log.failed", "times", "#e53935"),
}
_PAUSE_ENTRIES = {
    LinkEventKind.PAUSED: ("chaster-log.paused", "pause", "#95a5a6"),
    LinkEventKind.RESUMED: ("chaster-log.resumed", "play", "#95a5a6"),
}


class ChasterHistoryEntries(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.core.events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, TaskEvent):
            await self._on_task(event)
        elif isinstance(event, LinkEvent) and event.kind in _PAUSE_ENTRIES:
            await self._on_pause(event)
        elif (
            isinstance(event, AutomationEvent)
            and event.kind is AutomationEventKind.CONSEQUENCE_APPLIED
        ):
            await self._on_consequence(event)

    async def _on_task(self, event: TaskEvent) -> None:
        entry = _TASK_ENTRIES.get(event.kind)
        # Only what a person did in Discord (not a schedule's assign): Chaster's own history
        # already says the rest.
        if entry is None or event.by_user_id is None or event.task.schedule_id is not None:
            return
        title, icon, color = entry
        task, link = event.task, event.link
        voice = await self.bot.server_voice(link.guild_id)
        description = voice.text(
            "chaster-log.by-task",
            name=await self._name(link, event.by_user_id, voice),
            task=TaskText(task.description),
            count=task.points,
        )
        await self.bot.core.chaster_history.write(
            link,
            # The task's state change names the action: the same one seen again (a restart
            # posting its feed message late) is not written twice.
            key=f"task:{task.id}:{event.kind.value}:{to_db(task.updated_at)}",
            title=voice.text(title),
            description=description,
            icon=icon,
            color=color,
        )

    async def _on_pause(self, event: LinkEvent) -> None:
        link = event.link
        if link is None or event.by_user_id is None:
            return
        title, icon, color = _PAUSE_ENTRIES[event.kind]
        voice = await self.bot.server_voice(link.guild_id)
        name = await self._name(link, event.by_user_id, voice)
        if event.kind is LinkEventKind.PAUSED and link.pause_reason:
            description = voice.text(
                "chaster-log.by-reason", name=name, reason=TaskText(link.pause_reason)
            )
        else:
            description = voice.text("chaster-log.by", name=name)
        moment = link.paused_at or self.bot.core.clock()
        await self.bot.core.chaster_history.write(
            link,
            key=f"{event.kind.value}:{link.id}:{to_db(moment)}",
            title=voice.text(title),
            description=description,
            icon=icon,
            color=color,
        )

    async def _on_consequence(self, event: AutomationEvent) -> None:
        consequence = event.consequence
        if consequence is None:
            return
        voice = await self.bot.server_voice(event.link.guild_id)
        action = action_words(consequence.action, consequence.seconds, consequence.reason, voice)
        task = event.task.description if event.task is not None else ""
        await self.bot.core.chaster_history.write(
            event.link,
            key=f"consequence:{consequence.id}",
            title=voice.text(f"chaster-log.consequence.{consequence.on.value}"),
            description=voice.text(
                "chaster-log.consequence-detail", action=action, task=TaskText(task)
            ),
            icon="gavel",
            color="#8e24aa",
        )

    async def _name(self, link: SessionLink, user_id: int, voice: Voice) -> str:
        """The person's display name in the server now; never their id."""
        name = await self.bot.member_name(link.guild_id, user_id)
        return name or voice.text("chaster-log.someone")


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(ChasterHistoryEntries(bot))
