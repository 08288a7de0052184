"""Reactions: ✅ on a link request, and ▶️ ✅ ❌ on a task's feed message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.errors import NotAllowed, Refused
from bot.core.model import Caller
from bot.discord_side.feed_view import action_for_emoji, is_confirm_emoji
from bot.discord_side.link_requests import show_link_accepted

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

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
        core = self.bot.core
        try:
            if is_confirm_emoji(emoji):
                request = await core.links.request_for_message(event.message_id)
                if request is not None:
                    link = await core.links.confirm(caller, request)
                    voice = await self.bot.server_voice(event.guild_id)
                    await show_link_accepted(self._message(event), link, voice)
                    return
            action = action_for_emoji(emoji)
            if action is None:
                return
            task = await core.tasks.for_message(event.message_id)
            if task is None:
                return
            await core.actions.act_on_message(caller, task, action)
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
        assert event.guild_id is not None
        # A reaction carries no locale: the notice is public, in the server's language.
        voice = await self.bot.server_voice(event.guild_id)
        channel = self.bot.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        try:
            await channel.send(
                f"<@{event.user_id}> {voice.refusal(refusal)}",
                reference=message,
                mention_author=False,
                # Only the person who reacted: the refusal may name the keyholder too.
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
