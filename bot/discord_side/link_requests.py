"""How a link request looks: its message, with the Accept and Decline buttons and the ✅
reaction as the server's controls say, and its message once answered or expired."""

from __future__ import annotations

import contextlib

import discord

from bot.core.errors import Param, Person
from bot.discord_side.controls import link_request_buttons
from bot.discord_side.feed_view import COMPLETE_EMOJI
from bot.discord_side.voice import Voice
from bot.store import Controls, LinkRequest, SessionLink


async def post_link_request(
    channel: discord.PartialMessageable,
    request: LinkRequest,
    title: str,
    controls: Controls,
    voice: Voice,
) -> discord.Message:
    """Post the request for the wearer to answer; the ✅ reaction accepts it whatever the
    controls, but the bot adds it only when reactions are on."""
    params: dict[str, Param] = {
        "wearer": Person(request.wearer_id),
        "requester": Person(request.requested_by),
        "title": title,
        "expires": request.expires_at,
    }
    mentions = discord.AllowedMentions(users=[discord.Object(request.wearer_id)])
    if controls.has_buttons:
        key = "link.request.buttons" if not controls.has_reactions else "link.request.both"
        message = await channel.send(
            voice.text(key, **params, accept=COMPLETE_EMOJI),
            view=link_request_buttons(request, voice),
            allowed_mentions=mentions,
        )
    else:
        message = await channel.send(
            voice.text("link.request", **params, accept=COMPLETE_EMOJI),
            allowed_mentions=mentions,
        )
    return message


async def add_accept_reaction(message: discord.Message, controls: Controls) -> None:
    if controls.has_reactions:
        await message.add_reaction(COMPLETE_EMOJI)


async def close_link_request(message: discord.PartialMessage, text: str, bot_id: int) -> None:
    """Show what became of the request, with nothing left to press or react to."""
    await message.edit(content=text, view=None, allowed_mentions=discord.AllowedMentions.none())
    # Missing when the request was posted with buttons only; nothing to remove then.
    with contextlib.suppress(discord.HTTPException):
        await message.remove_reaction(COMPLETE_EMOJI, discord.Object(bot_id))


async def show_link_accepted(
    message: discord.PartialMessage, link: SessionLink, voice: Voice
) -> None:
    """The request's message once the wearer accepted, its buttons gone."""
    await message.edit(
        content=voice.text(
            "link.accepted", wearer=Person(link.wearer_id), keyholder=Person(link.keyholder_id)
        ),
        view=None,
        allowed_mentions=discord.AllowedMentions.none(),
    )
