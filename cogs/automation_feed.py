"""What the bot did on its own, in the feed: schedules that skipped or missed an occasion,
consequences applied (or not), and pauses."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.errors import Person, TaskText
from bot.core.model import AutomationEvent, AutomationEventKind, Event, LinkEvent, LinkEventKind
from bot.discord_side.automation_text import action_words
from bot.discord_side.voice import Voice

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

_OCCASION_KEYS = {
    AutomationEventKind.OCCASION_SKIPPED: "feed.occasion-skipped",
    AutomationEventKind.OCCASIONS_MISSED: "feed.occasions-missed",
    AutomationEventKind.OCCASION_FAILED: "feed.occasion-failed",
    AutomationEventKind.OCCASION_INTERRUPTED: "feed.occasion-interrupted",
}


class AutomationFeed(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.core.events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        try:
            if isinstance(event, AutomationEvent):
                await self._on_automation(event)
            elif isinstance(event, LinkEvent) and event.kind in (
                LinkEventKind.PAUSED,
                LinkEventKind.RESUMED,
            ):
                await self._on_pause(event)
        except discord.HTTPException as error:
            # Done already; only showing it failed.
            log.warning(
                "feed: could not show %s in channel %s: %s %s",
                event.kind,
                event.channel_id,
                error.status,
                error.text,
            )

    async def _on_automation(self, event: AutomationEvent) -> None:
        if event.kind is AutomationEventKind.SCHEDULE_ADDED or event.channel_id is None:
            return
        link = event.link
        voice = await self.bot.server_voice(link.guild_id)
        wearer, keyholder = Person(link.wearer_id), Person(link.keyholder_id)
        mentions: list[int] = []
        if event.kind in _OCCASION_KEYS:
            text = voice.text(
                _OCCASION_KEYS[event.kind],
                number=event.schedule.id if event.schedule is not None else 0,
                wearer=wearer,
                task=TaskText(event.task.description) if event.task is not None else None,
                count=event.count,
                at=event.at,
                reason=voice.refusal(event.refusal) if event.refusal is not None else "",
            )
        elif event.consequence is not None:
            consequence = event.consequence
            action = action_words(
                consequence.action, consequence.seconds, consequence.reason, voice
            )
            task = TaskText(event.task.description) if event.task is not None else None
            if event.kind is AutomationEventKind.CONSEQUENCE_APPLIED:
                text = voice.text(
                    f"feed.consequence-applied.{consequence.on.value}",
                    wearer=wearer,
                    action=action,
                    task=task,
                )
            else:
                # The keyholder must know: either it did not happen, or nobody can tell.
                mentions.append(link.keyholder_id)
                key = (
                    "feed.consequence-unknown"
                    if event.kind is AutomationEventKind.CONSEQUENCE_UNKNOWN
                    else "feed.consequence-refused"
                )
                text = voice.text(
                    key,
                    keyholder=keyholder,
                    wearer=wearer,
                    action=action,
                    reason=voice.refusal(event.refusal) if event.refusal is not None else "",
                )
        else:
            return
        await self._send(event.channel_id, link.guild_id, text, mentions)

    async def _on_pause(self, event: LinkEvent) -> None:
        link = event.link
        if link is None or event.channel_id is None:
            return
        voice = await self.bot.server_voice(link.guild_id)
        by = Person(event.by_user_id or link.wearer_id)
        wearer, keyholder = Person(link.wearer_id), Person(link.keyholder_id)
        text = _pause_text(event, voice, by=by, wearer=wearer, keyholder=keyholder)
        # Whoever did not do it is told.
        others = {link.wearer_id, link.keyholder_id} - {event.by_user_id}
        await self._send(event.channel_id, link.guild_id, text, sorted(others))

    async def _send(self, channel_id: int, guild_id: int, text: str, mentions: list[int]) -> None:
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        await channel.send(
            text,
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(user) for user in mentions]
            ),
        )


def _pause_text(
    event: LinkEvent, voice: Voice, *, by: Person, wearer: Person, keyholder: Person
) -> str:
    link = event.link
    assert link is not None
    if event.kind is LinkEventKind.RESUMED:
        return voice.text("feed.resumed", by=by, wearer=wearer, keyholder=keyholder)
    if link.pause_reason:
        return voice.text(
            "feed.paused-reason",
            by=by,
            wearer=wearer,
            keyholder=keyholder,
            reason=TaskText(link.pause_reason),
        )
    return voice.text("feed.paused", by=by, wearer=wearer, keyholder=keyholder)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(AutomationFeed(bot))
