"""Small helpers for answering an interaction."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands

from bot.chaster.calls import listen_for_long_waits
from bot.core.model import Caller
from bot.discord_side.voice import Voice

log = logging.getLogger(__name__)

# Where an interaction keeps its pending "Chaster is busy" notice (Interaction.extras).
_BUSY_NOTICE = "chaster_busy_notice"


def say_when_chaster_is_busy(interaction: discord.Interaction[Any]) -> None:
    """When Chaster's rate limit will hold this interaction's request long, say so in its
    (already deferred) reply, once; the answer follows when the request has gone through."""

    def notice(seconds: float) -> None:
        if _BUSY_NOTICE in interaction.extras or not interaction.response.is_done():
            return
        # The words are looked up only now: most commands never wait long.
        voice: Voice = interaction.client.voice_for(interaction)
        text = voice.text(
            "reply.chaster-busy", at=discord.utils.utcnow() + timedelta(seconds=seconds)
        )
        interaction.extras[_BUSY_NOTICE] = asyncio.create_task(_show(interaction, text))

    listen_for_long_waits(notice)


async def _show(interaction: discord.Interaction[Any], text: str) -> None:
    try:
        await interaction.edit_original_response(
            content=text, allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException:
        log.warning("could not show the rate-limit notice for interaction %d", interaction.id)


async def reply(interaction: discord.Interaction[Any], content: str, *, ephemeral: bool) -> None:
    """Answer through the initial response if it is still open, else through a followup."""
    allowed = discord.AllowedMentions.none()
    busy_notice = interaction.extras.pop(_BUSY_NOTICE, None)
    if busy_notice is not None:
        # Shown first, so the answer never gets overwritten by it.
        await busy_notice
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=allowed)
    else:
        await interaction.response.send_message(
            content, ephemeral=ephemeral, allowed_mentions=allowed
        )


def caller_of(interaction: discord.Interaction[Any]) -> Caller:
    """The core's view of who invoked a command, and where."""
    if interaction.guild_id is None:
        # Rendered by the tree's error handler, in the person's language.
        raise app_commands.NoPrivateMessage()
    return Caller(
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        can_manage_guild=interaction.permissions.manage_guild,
    )
