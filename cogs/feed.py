"""The task feed: one message per task, edited as the task moves, plus pings people must see."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.feed import FEED_EMOJI, reactions_for, task_embed
from bot.tasks.service import EventKind, TaskEvent

if TYPE_CHECKING:
    from bot.app import TasksBot

log = logging.getLogger(__name__)


class Feed(commands.Cog):
    """Subscribes to the task service and mirrors every task event in the feed channel."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.service.subscribe(self.on_task_event)

    async def on_task_event(self, event: TaskEvent) -> None:
        if event.kind is EventKind.ASSIGNED:
            await self._post(event)
            return
        await self._update(event)
        if event.kind is EventKind.CONFIRMATION_REQUESTED:
            # An edit notifies nobody, so the keyholder gets a message that mentions them.
            await self._ping(
                event,
                event.link.keyholder_id,
                f"<@{event.link.keyholder_id}>, <@{event.link.wearer_id}> says they finished "
                f"“{_short(event.task.description)}”. Confirm with ✅ on the task (or ❌).",
            )

    async def _post(self, event: TaskEvent) -> None:
        channel = self.bot.get_partial_messageable(event.channel_id, guild_id=event.link.guild_id)
        message = await channel.send(
            f"<@{event.link.wearer_id}>, a new task for you.",
            embed=task_embed(event.task, event.link, self.bot.service.clock()),
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(event.link.wearer_id)]),
        )
        task = await self.bot.service.attach_feed_message(event.task.id, channel.id, message.id)
        for emoji in reactions_for(task):
            await message.add_reaction(emoji)

    async def _update(self, event: TaskEvent) -> None:
        task = event.task
        if task.feed_message_id is None or task.feed_channel_id is None:
            log.warning("task %d has no feed message to update", task.id)
            return
        channel = self.bot.get_partial_messageable(
            task.feed_channel_id, guild_id=event.link.guild_id
        )
        message = channel.get_partial_message(task.feed_message_id)
        await message.edit(embed=task_embed(task, event.link, self.bot.service.clock()))
        wanted = reactions_for(task)
        if not wanted:
            # Closed: nothing left to react to; clearing needs Manage Messages.
            try:
                await message.clear_reactions()
            except discord.Forbidden:
                for emoji in FEED_EMOJI:
                    await message.remove_reaction(emoji, discord.Object(self._bot_id))
            return
        for emoji in FEED_EMOJI:
            if emoji in wanted:
                await message.add_reaction(emoji)
            else:
                await message.remove_reaction(emoji, discord.Object(self._bot_id))

    async def _ping(self, event: TaskEvent, user_id: int, content: str) -> None:
        task = event.task
        channel_id = task.feed_channel_id or event.channel_id
        channel = self.bot.get_partial_messageable(channel_id, guild_id=event.link.guild_id)
        mentions = discord.AllowedMentions(users=[discord.Object(user_id)])
        if task.feed_message_id is None:
            await channel.send(content, allowed_mentions=mentions)
            return
        # A reply, so the ping links straight to the task's message.
        await channel.send(
            content,
            reference=channel.get_partial_message(task.feed_message_id),
            mention_author=False,
            allowed_mentions=mentions,
        )

    @property
    def _bot_id(self) -> int:
        assert self.bot.user is not None
        return self.bot.user.id


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Feed(bot))
