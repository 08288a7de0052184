"""The task feed: one message per task, edited as the task moves, plus pings people must see."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.feed import COMPLETE_EMOJI, FAIL_EMOJI, FEED_EMOJI, reactions_for, task_embed
from bot.tasks.service import Event, EventKind, LinkEvent, LinkEventKind, TaskEvent

if TYPE_CHECKING:
    from bot.app import TasksBot

log = logging.getLogger(__name__)


class Feed(commands.Cog):
    """Subscribes to the task service and mirrors every task event in the feed channel."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.service.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        if isinstance(event, LinkEvent):
            await self._on_link_event(event)
            return
        if event.kind is EventKind.ASSIGNED:
            await self._post(event)
            return
        await self._update(event)
        task, link = event.task, event.link
        # An edit notifies nobody, so these also get a message that mentions who must act.
        if event.kind is EventKind.CONFIRMATION_REQUESTED:
            await self._ping(
                event,
                [link.keyholder_id],
                f"<@{link.keyholder_id}>, <@{link.wearer_id}> says they finished "
                f"“{_short(task.description)}”. Confirm with {COMPLETE_EMOJI} on the task "
                f"(or {FAIL_EMOJI}).",
            )
        elif event.kind is EventKind.TIMER_FINISHED:
            await self._ping(
                event,
                [link.wearer_id, link.keyholder_id],
                f"<@{link.wearer_id}> <@{link.keyholder_id}>, the timer of "
                f"“{_short(task.description)}” has finished: react {COMPLETE_EMOJI} on the "
                "task to complete it.",
            )

    async def _on_link_event(self, event: LinkEvent) -> None:
        request = event.request
        if event.kind is LinkEventKind.REQUEST_EXPIRED and request is not None:
            if request.message_id is None:
                return
            channel = self.bot.get_partial_messageable(
                request.channel_id, guild_id=request.guild_id
            )
            message = channel.get_partial_message(request.message_id)
            await message.edit(
                content=f"This request to link <@{request.wearer_id}> expired without an answer.",
                allowed_mentions=discord.AllowedMentions.none(),
            )
            with contextlib.suppress(discord.HTTPException):
                await message.remove_reaction(COMPLETE_EMOJI, discord.Object(self._bot_id))
        elif event.kind is LinkEventKind.LOCK_ENDED and event.link is not None:
            if event.channel_id is None:
                return
            link = event.link
            channel = self.bot.get_partial_messageable(event.channel_id, guild_id=link.guild_id)
            await channel.send(
                f"<@{link.wearer_id}>'s Chaster lock has ended, so its link here is closed.",
                allowed_mentions=discord.AllowedMentions.none(),
            )

    async def _post(self, event: TaskEvent) -> None:
        if event.channel_id is None:
            log.warning("task %d has no feed channel; it is not shown", event.task.id)
            return
        channel = self.bot.get_partial_messageable(event.channel_id, guild_id=event.link.guild_id)
        message = await channel.send(
            f"<@{event.link.wearer_id}>, a new task for you."
            if event.task.assigned_by is not None
            else f"<@{event.link.wearer_id}>, a task was assigned to you in Chaster.",
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

    async def _ping(self, event: TaskEvent, user_ids: list[int], content: str) -> None:
        task = event.task
        if task.feed_channel_id is None:
            return
        channel = self.bot.get_partial_messageable(
            task.feed_channel_id, guild_id=event.link.guild_id
        )
        mentions = discord.AllowedMentions(users=[discord.Object(uid) for uid in set(user_ids)])
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
