"""What kept the feed from showing a change, told to the person whose command caused it.

The feed runs inside the command that caused its event, so its troubles can be added to that
command's reply: the task itself is saved, but the person should know the feed is stuck.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import discord

from bot.core.errors import Channel, Permissions
from bot.discord_side.voice import Voice
from bot.store import Controls

# Discord's JSON error codes for a channel or message that no longer exists.
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
# What the feed needs in its channel whatever its controls.
_FEED_BASE = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
)


def posting_permissions(controls: Controls) -> discord.Permissions:
    """What messages that carry `controls` cannot be shown without: with reactions on, the
    bot must be able to add them."""
    if controls.has_reactions:
        return _FEED_BASE | discord.Permissions(add_reactions=True)
    return _FEED_BASE


def feed_permissions(controls: Controls) -> discord.Permissions:
    """Everything the feed uses in its channel for messages that carry `controls` (the
    README's permission table says the same): with reactions on, also removing a refused
    reaction and a closed task's reactions, without which they only stay; and for votes,
    sending their polls."""
    used = posting_permissions(controls) | discord.Permissions(send_polls=True)
    if controls.has_reactions:
        return used | discord.Permissions(manage_messages=True)
    return used


# Everything any controls need; the README's invite link grants all of them.
FEED_PERMISSIONS = feed_permissions(Controls.BOTH)
WARNING_EMOJI = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"  # ⚠️
# As Discord's channel settings name them, in the order they show them.
PERMISSION_ORDER = (
    "view_channel",
    "send_messages",
    "embed_links",
    "add_reactions",
    "manage_messages",
    "read_message_history",
    "send_polls",
)


@dataclass(frozen=True)
class FeedProblem:
    """Discord refused a feed message: how, and in which channel."""

    # The message that says so.
    key: Literal["feed-problem.channel-gone", "feed-problem.forbidden", "feed-problem.refused"]
    status: int
    channel_id: int | None

    @classmethod
    def of(cls, error: discord.HTTPException, channel_id: int | None) -> FeedProblem:
        if isinstance(error, discord.NotFound) and error.code == UNKNOWN_CHANNEL:
            return cls("feed-problem.channel-gone", error.status, channel_id)
        if isinstance(error, discord.Forbidden):
            return cls("feed-problem.forbidden", error.status, channel_id)
        return cls("feed-problem.refused", error.status, channel_id)

    def describe(self, voice: Voice) -> str:
        """What went wrong with the feed, and who can fix it how."""
        where: Channel | str = (
            Channel(self.channel_id)
            if self.channel_id
            else voice.text("feed-problem.the-feed-channel")
        )
        return voice.text(
            self.key,
            where=where,
            status=self.status,
            permissions=permission_names(FEED_PERMISSIONS),
        )


_feed_problems: ContextVar[list[FeedProblem] | None] = ContextVar("feed_problems", default=None)


@contextmanager
def collect_feed_problems() -> Iterator[list[FeedProblem]]:
    """Collect what kept the feed from showing a change made inside the block."""
    problems: list[FeedProblem] = []
    token = _feed_problems.set(problems)
    try:
        yield problems
    finally:
        _feed_problems.reset(token)


def report_feed_problem(error: discord.HTTPException, channel_id: int | None) -> None:
    """Tell the command being handled, if any, what kept the feed from showing its change."""
    problems = _feed_problems.get()
    problem = FeedProblem.of(error, channel_id)
    if problems is not None and problem not in problems:
        problems.append(problem)


def permission_names(permissions: discord.Permissions) -> Permissions:
    """The feed's `permissions` for a message, in the order Discord's settings show them."""
    return Permissions(tuple(name for name in PERMISSION_ORDER if getattr(permissions, name)))


def with_feed_problems(text: str, problems: list[FeedProblem], voice: Voice) -> str:
    """A command's reply, followed by anything that kept the feed from showing it."""
    return "\n".join([text, *(f"{WARNING_EMOJI} {p.describe(voice)}" for p in problems)])
