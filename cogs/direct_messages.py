"""Direct messages, for those who asked with /notify: a task for them, their timer finished, a
deadline coming, a confirmation asked of them. If Discord refuses one (their DMs are closed),
the bot stops trying for that person and says so once in the feed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.errors import Person, TaskText
from bot.core.model import Event, EventKind, TaskEvent
from bot.discord_side.voice import Voice

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

# Discord's code for "Cannot send messages to this user".
CANNOT_MESSAGE_USER = 50007
# What is sent for each event; the wearer gets all but the confirmation, which is the
# keyholder's.
_DM_KEYS = {
    EventKind.ASSIGNED: "dm.assigned",
    EventKind.TIMER_FINISHED: "dm.timer-finished",
    EventKind.DEADLINE_REMINDER: "dm.reminder",
    EventKind.CONFIRMATION_REQUESTED: "dm.confirm",
}


class DirectMessages(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.core.events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, TaskEvent):
            return
        link, task = event.link, event.task
        key = _DM_KEYS.get(event.kind)
        if key is None:
            return
        recipient = (
            link.keyholder_id if event.kind is EventKind.CONFIRMATION_REQUESTED else link.wearer_id
        )
        if recipient == event.by_user_id:
            # Nobody needs a message about what they just did themselves.
            return
        prefs = await self.bot.core.notify.prefs(link.guild_id, recipient)
        if not prefs.sends_dms:
            return
        voice = await self.bot.server_voice(link.guild_id)
        guild = self.bot.get_guild(link.guild_id)
        text = voice.text(
            key,
            server=guild.name if guild is not None else str(link.guild_id),
            task=TaskText(task.description),
            wearer=Person(link.wearer_id),
            at=task.deadline_at,
        )
        try:
            user = self.bot.get_user(recipient) or await self.bot.fetch_user(recipient)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.Forbidden as error:
            if error.code != CANNOT_MESSAGE_USER:
                raise
            await self._closed(event, recipient, voice)
        except discord.HTTPException as error:
            log.warning("could not send a DM to %d: %s %s", recipient, error.status, error.text)

    async def _closed(self, event: TaskEvent, recipient: int, voice: Voice) -> None:
        link = event.link
        if not await self.bot.core.notify.dms_refused(link.guild_id, recipient):
            return
        log.info("DMs to %d are closed; not trying again", recipient)
        channel_id = event.task.feed_channel_id or event.channel_id
        if channel_id is None:
            return
        channel = self.bot.get_partial_messageable(channel_id, guild_id=link.guild_id)
        try:
            await channel.send(
                voice.text("feed.dms-closed", user=Person(recipient)),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(recipient)]),
            )
        except discord.HTTPException as error:
            log.warning("feed: could not say DMs are closed: %s %s", error.status, error.text)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(DirectMessages(bot))
