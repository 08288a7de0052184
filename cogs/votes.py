"""What came of a vote, said in the feed beside its poll."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.errors import Person, TaskText
from bot.core.model import Event, VoteEvent, VoteEventKind
from bot.store import VoteOutcome

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

# Why nothing was assigned, by outcome.
_NOTHING_ASSIGNED = {
    VoteOutcome.OPEN_TASK: "vote.nothing-assigned.open-task",
    VoteOutcome.UNLINKED: "vote.nothing-assigned.unlinked",
    VoteOutcome.FAILED: "vote.nothing-assigned.failed",
}


class Votes(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        bot.core.events.subscribe(self.on_event)

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, VoteEvent) or event.kind is not VoteEventKind.ENDED:
            return
        vote = event.vote
        if vote.winner is None or vote.outcome is VoteOutcome.CANCELLED:
            return
        voice = await self.bot.server_voice(vote.guild_id)
        wearer = Person(vote.wearer_id)
        task = TaskText(vote.options[vote.winner].description)
        if vote.winner_votes:
            lines = [voice.text("vote.won", wearer=wearer, task=task, count=vote.winner_votes)]
        else:
            lines = [voice.text("vote.no-votes", wearer=wearer, task=task)]
        why = _NOTHING_ASSIGNED.get(vote.outcome) if vote.outcome is not None else None
        if why is not None:
            lines.append(voice.text(why, wearer=wearer))
        channel = self.bot.get_partial_messageable(vote.channel_id, guild_id=vote.guild_id)
        reference = (
            channel.get_partial_message(vote.message_id).to_reference(fail_if_not_exists=False)
            if vote.message_id is not None
            else None
        )
        try:
            await channel.send(
                " ".join(lines),
                reference=reference or discord.utils.MISSING,
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as error:
            log.warning("could not announce the end of vote %d: %s", vote.id, error)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Votes(bot))
