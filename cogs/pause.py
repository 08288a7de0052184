"""/pause and /resume: the safeword. The wearer can always pause every schedule, deadline,
reminder and consequence of their link, at once; nothing here asks Chaster anything."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Person
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot


@app_commands.guild_only()
class Pause(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @app_commands.command(name="pause", description=command_text("command.pause"))
    @app_commands.describe(
        reason=command_text("option.pause.reason"), wearer=command_text("option.pause.wearer")
    )
    async def pause(
        self,
        interaction: discord.Interaction[TasksBot],
        reason: app_commands.Range[str, 1, 200] | None = None,
        wearer: discord.Member | None = None,
    ) -> None:
        link = await self.bot.core.pause.pause(
            caller_of(interaction), wearer.id if wearer else None, reason
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction, voice.text("reply.paused", wearer=Person(link.wearer_id)), ephemeral=True
        )

    @app_commands.command(name="resume", description=command_text("command.resume"))
    @app_commands.describe(wearer=command_text("option.pause.wearer"))
    async def resume(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        link = await self.bot.core.pause.resume(
            caller_of(interaction), wearer.id if wearer else None
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction, voice.text("reply.resumed", wearer=Person(link.wearer_id)), ephemeral=True
        )


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Pause(bot))
