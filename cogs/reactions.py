"""Reactions: ✅ on a link request, and ▶️ ✅ ❌ on a task's feed message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.app import render_refusal
from bot.feed import action_for_emoji, is_confirm_emoji
from bot.tasks.errors import NotAllowed, Refused
from bot.tasks.service import Caller

if TYPE_CHECKING:
    from bot.app import TasksBot

log = logging.getLogger(__name__)
# Refusal notices in the channel disappear after this many seconds.
NOTICE_SECONDS = 30.0


class Reactions(commands.Cog):
    """Raw events, so messages posted before a restart (not in any cache) still work."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        if event.guild_id is None or self.bot.user is None or event.user_id == self.bot.user.id:
            return
        emoji = event.emoji.name
        if emoji is None or event.emoji.id is not None:
            return
        async with self.bot.work.running(("reaction", event.message_id, event.user_id, emoji)):
            await self._handle(event, emoji)

    async def _handle(self, event: discord.RawReactionActionEvent, emoji: str) -> None:
        assert event.guild_id is not None
        caller = Caller(user_id=event.user_id, guild_id=event.guild_id)
        service = self.bot.service
        try:
            if is_confirm_emoji(emoji):
                request = await service.link_request_for_message(event.message_id)
                if request is not None:
                    link = await service.confirm_link(caller, request)
                    await self._message(event).edit(
                        content=f"<@{link.wearer_id}> accepted: <@{link.keyholder_id}> is now "
                        "their keyholder here.",
                        allowed_mentions=discord.AllowedMentions.none(),
                    )
                    return
            action = action_for_emoji(emoji)
            if action is None:
                return
            task = await service.task_for_message(event.message_id)
            if task is None:
                return
            await service.act_on_message(caller, task, action)
        except Refused as refusal:
            await self._refuse(event, refusal)

    async def _refuse(self, event: discord.RawReactionActionEvent, refusal: Refused) -> None:
        message = self._message(event)
        try:
            await message.remove_reaction(event.emoji, discord.Object(event.user_id))
        except discord.HTTPException as error:
            log.warning("could not remove a refused reaction: %s", error)
        if isinstance(refusal, NotAllowed):
            # Strangers' reactions are removed quietly rather than answered in the channel.
            return
        channel = self.bot.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        try:
            await channel.send(
                f"<@{event.user_id}> {render_refusal(refusal)}",
                reference=message,
                mention_author=False,
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(event.user_id)]),
                delete_after=NOTICE_SECONDS,
            )
        except discord.HTTPException as error:
            log.warning("could not post a refusal notice: %s", error)

    def _message(self, event: discord.RawReactionActionEvent) -> discord.PartialMessage:
        channel = self.bot.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        return channel.get_partial_message(event.message_id)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Reactions(bot))
