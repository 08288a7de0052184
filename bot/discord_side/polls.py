"""A vote as a native Discord poll: posting it, and reading its counts when it ends."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import discord

from bot.core.durations import format_duration
from bot.core.errors import Person
from bot.discord_side.voice import Voice, quotable
from bot.store import Vote, VoteOption

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

# Discord's limits for a poll.
ANSWER_LIMIT = 55
QUESTION_LIMIT = 300
# What the options in full may take of the message beside the poll (Discord allows 2000).
OPTIONS_TEXT_LIMIT = 1700
# How often the counts are read again while Discord is still tallying an ended poll.
FINAL_TALLY_TRIES = 5


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def option_line(number: int, option: VoteOption, voice: Voice, limit: int) -> str:
    """An option beside the poll ("1. Hold a plank · 5 points · 2m"), its text cut to `limit`
    characters so that all of them fit in one message."""
    parts = [
        discord.utils.escape_markdown(shorten(option.description, limit)),
        voice.text("task.points", count=option.points),
    ]
    if option.duration_seconds:
        parts.append(format_duration(option.duration_seconds))
    if option.verification_required:
        parts.append("\N{CAMERA}")
    return f"{number}. " + " · ".join(parts)


async def post_vote(
    channel: discord.abc.Messageable, vote: Vote, wearer_name: str, voice: Voice
) -> discord.Message:
    """Post the vote's poll, its options in full beside it (a poll answer holds 55
    characters)."""
    hours = round((vote.ends_at - vote.created_at).total_seconds() / 3600)
    poll = discord.Poll(
        question=shorten(
            voice.text("vote.question", wearer=quotable(wearer_name, 80)), QUESTION_LIMIT
        ),
        duration=timedelta(hours=hours),
    )
    for option in vote.options:
        poll.add_answer(text=shorten(option.description, ANSWER_LIMIT))
    lines = [voice.text("vote.intro", wearer=Person(vote.wearer_id), ends=vote.ends_at)]
    limit = OPTIONS_TEXT_LIMIT // len(vote.options) - 40
    lines += [
        option_line(n, option, voice, limit) for n, option in enumerate(vote.options, start=1)
    ]
    return await channel.send(
        "\n".join(lines), poll=poll, allowed_mentions=discord.AllowedMentions.none()
    )


async def end_vote(bot: TasksBot, vote_id: int) -> None:
    """End a vote whose time has come (or that its keyholder ends early): close its poll in
    Discord, read the counts, and let the core decide. A poll that is gone counts as no votes;
    anything else Discord refuses is raised, so the vote is tried again later."""
    vote = await bot.core.votes.get(vote_id)
    if vote is None or vote.outcome is not None:
        return
    if vote.message_id is None:
        # Its poll was never posted, or not yet: nobody could vote, so nothing is decided.
        await bot.core.votes.cancel(vote.id)
        return
    counts = await _close_and_count(bot, vote, vote.message_id)
    await bot.core.votes.finish(vote.id, counts)


async def _close_and_count(bot: TasksBot, vote: Vote, message_id: int) -> dict[int, int] | None:
    channel = bot.get_partial_messageable(vote.channel_id, guild_id=vote.guild_id)
    try:
        await bot.http.end_poll(vote.channel_id, message_id)
    except (discord.NotFound, discord.Forbidden):
        # Deleted, or the bot can no longer see the feed: the votes cannot be read, and
        # waiting would keep the wearer's next vote blocked.
        log.info("the poll of vote %d cannot be read; it ends with no votes", vote.id)
        return None
    except discord.HTTPException as error:
        # Already over in Discord (its own expiry came first): the counts are final anyway.
        if error.status != 400:
            raise
    poll = None
    for _ in range(FINAL_TALLY_TRIES):
        try:
            message = await channel.fetch_message(message_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        poll = message.poll
        if poll is None or poll.is_finalised():
            break
        # Discord tallies an ended poll's votes shortly after; its counts are exact once done.
        await asyncio.sleep(1)
    if poll is None:
        return None
    # Discord numbers the answers from 1, in the order they were given.
    return {answer.id - 1: answer.vote_count for answer in poll.answers}
