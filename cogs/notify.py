"""/notify: whether the bot also sends you a direct message when something needs you."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

DM_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.dm.{value}"), value=value)
    for value in ("on", "off")
]


@app_commands.guild_only()
class Notify(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @app_commands.command(name="notify", description=command_text("command.notify"))
    @app_commands.describe(dm=command_text("option.notify.dm"))
    @app_commands.choices(dm=DM_CHOICES)
    async def notify(
        self,
        interaction: discord.Interaction[TasksBot],
        dm: app_commands.Choice[str] | None = None,
    ) -> None:
        caller = caller_of(interaction)
        core = self.bot.core
        if dm is None:
            prefs = await core.notify.prefs(caller.guild_id, caller.user_id)
        else:
            prefs = await core.notify.set_dm(caller, dm.value == "on")
        voice = self.bot.voice_for(interaction)
        if not prefs.dm:
            key = "reply.dm-off"
        elif prefs.dms_closed_at is not None:
            key = "reply.dm-closed"
        else:
            key = "reply.dm-on"
        await reply(interaction, voice.text(key), ephemeral=True)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Notify(bot))
