"""/settings: where the feed goes and whether wearers may complete their own tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import caller_of, reply
from bot.feed import FEED_PERMISSIONS, missing_permissions_text

if TYPE_CHECKING:
    from bot.app import TasksBot


# Discord hides the group from members without Manage Server; the service checks it again,
# because server admins can override command permissions.
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class ServerSettings(
    commands.GroupCog, group_name="settings", group_description="Configure the task bot here."
):
    """Per-server settings (Manage Server only; checked by the bot, not just by Discord)."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="feed", description="Post task updates in this channel.")
    @app_commands.describe(channel="The channel for the task feed")
    async def feed(
        self, interaction: discord.Interaction[TasksBot], channel: discord.TextChannel
    ) -> None:
        await self.bot.service.set_feed_channel(
            caller_of(interaction), channel.id, unusable_because=_unusable_for_feed(channel)
        )
        await reply(
            interaction, f"Task updates will be posted in {channel.mention}.", ephemeral=True
        )

    @app_commands.command(
        name="wearer-complete",
        description="Let wearers complete their own tasks (otherwise the keyholder confirms).",
    )
    @app_commands.describe(allowed="True: wearers complete directly; False: keyholder confirms")
    async def wearer_complete(
        self, interaction: discord.Interaction[TasksBot], allowed: bool
    ) -> None:
        await self.bot.service.set_wearer_can_complete(caller_of(interaction), allowed)
        await reply(
            interaction,
            "Wearers can now complete their own tasks."
            if allowed
            else "A wearer's completion now waits for their keyholder's confirmation.",
            ephemeral=True,
        )


def _unusable_for_feed(channel: discord.TextChannel) -> str | None:
    """Why the bot could not run the feed in `channel`, judged by its permissions there."""
    me = channel.guild.me
    if me is None:
        return None
    missing = discord.Permissions(FEED_PERMISSIONS.value & ~channel.permissions_for(me).value)
    if not missing.value:
        return None
    return (
        f"I can't run the task feed in {channel.mention}: I need permission to "
        f"{missing_permissions_text(missing)} there. Give me that, or pick another channel."
    )


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(ServerSettings(bot))
