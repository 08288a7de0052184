"""A vote as a native Discord poll: posting it, and reading its counts when it ends."""

from __future__ import annotations

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


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def option_line(number: int, option: VoteOption, voice: Voice) -> str:
    """ "1. Hold a plank for 2 minutes · 5 points · 2m": an option in full, beside the poll."""
    parts = [
        discord.utils.escape_markdown(option.description),
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
    lines += [option_line(n, option, voice) for n, option in enumerate(vote.options, start=1)]
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
    counts: dict[int, int] | None = None
    if vote.message_id is not None:
        counts = await _close_and_count(bot, vote, vote.message_id)
    await bot.core.votes.finish(vote.id, counts)


async def _close_and_count(bot: TasksBot, vote: Vote, message_id: int) -> dict[int, int] | None:
    channel = bot.get_partial_messageable(vote.channel_id, guild_id=vote.guild_id)
    try:
        await bot.http.end_poll(vote.channel_id, message_id)
    except discord.NotFound:
        log.info("the poll of vote %d is gone; it ends with no votes", vote.id)
        return None
    except discord.HTTPException as error:
        # Already over in Discord (its own expiry came first): the counts are final anyway.
        if error.status != 400:
            raise
    try:
        message = await channel.fetch_message(message_id)
    except discord.NotFound:
        return None
    poll = message.poll
    if poll is None:
        return None
    # Discord numbers the answers from 1, in the order they were given.
    return {answer.id - 1: answer.vote_count for answer in poll.answers}
