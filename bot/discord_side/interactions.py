"""Small helpers for answering an interaction."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.core.model import Caller


async def reply(interaction: discord.Interaction[Any], content: str, *, ephemeral: bool) -> None:
    """Answer through the initial response if it is still open, else through a followup."""
    allowed = discord.AllowedMentions.none()
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
