"""/link and /unlink: connect a wearer's Chaster session to this server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.app import caller_of, reply
from bot.feed import COMPLETE_EMOJI
from bot.tasks.errors import Refused

if TYPE_CHECKING:
    from bot.app import TasksBot


class Links(commands.Cog):
    """Linking Chaster sessions to wearers."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @app_commands.command(name="link", description="Link a wearer's Chaster lock to this server.")
    @app_commands.describe(
        wearer="The wearer whose lock to link",
        session_id="The extension session id (found automatically when left out)",
    )
    @app_commands.guild_only()
    async def link(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        session_id: str | None = None,
    ) -> None:
        # Chaster is called below; defer first so a slow answer cannot miss Discord's deadline.
        await interaction.response.defer(ephemeral=True, thinking=True)
        if wearer.bot:
            raise Refused("Bots don't wear locks.")
        caller = caller_of(interaction)
        outcome = await self.bot.service.link(
            caller, wearer.id, session_id, interaction.channel_id or 0
        )
        # The lock's title is the wearer's own text from Chaster: shown, never formatted.
        lock_title = discord.utils.escape_markdown(outcome.lock_title or "")
        title = f"“{lock_title}”" if lock_title else "their lock"
        if outcome.link is not None:
            await reply(
                interaction,
                f"Linked {wearer.mention} ({title}). <@{outcome.link.keyholder_id}> is their "
                "keyholder here.",
                ephemeral=True,
            )
            return
        request = outcome.request
        assert request is not None
        channel = self.bot.get_partial_messageable(request.channel_id, guild_id=caller.guild_id)
        try:
            message = await channel.send(
                f"{wearer.mention}, {interaction.user.mention} wants to manage your Chaster "
                f"tasks for {title} from this server. React {COMPLETE_EMOJI} to accept (until "
                f"{format_dt(request.expires_at, 't')}, {format_dt(request.expires_at, 'R')}).",
                allowed_mentions=discord.AllowedMentions(users=[wearer]),
            )
            await self.bot.service.attach_link_request_message(request.id, message.id)
            await message.add_reaction(COMPLETE_EMOJI)
        except discord.HTTPException as error:
            # The wearer cannot answer a request they cannot see: withdraw it.
            await self.bot.service.cancel_link_request(request.id)
            raise Refused(
                "I can't post the link request in this channel (I need to send messages and "
                f"add reactions here): {error.text or error.status}."
            ) from None
        await reply(
            interaction,
            f"Asked {wearer.mention} to confirm with {COMPLETE_EMOJI} within 15 minutes.",
            ephemeral=True,
        )

    @app_commands.command(name="unlink", description="Unlink a wearer's Chaster lock here.")
    @app_commands.describe(wearer="The wearer to unlink")
    @app_commands.guild_only()
    async def unlink(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.service.unlink(caller_of(interaction), wearer.id)
        await reply(
            interaction,
            f"Unlinked {wearer.mention}. Nothing was changed in Chaster.",
            ephemeral=True,
        )


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Links(bot))
