"""/stats: how it is going, in numbers and a chart."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.report import DEFAULT_DAYS
from bot.core.stats import MAX_DAYS, MIN_DAYS
from bot.discord_side.chart import chart_png
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.stats_view import chart_labels, stats_text

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot


@app_commands.guild_only()
class Stats(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    @app_commands.command(name="stats", description=command_text("command.stats"))
    @app_commands.describe(
        wearer=command_text("option.stats.wearer"),
        days=command_text("option.stats.days"),
        public=command_text("option.stats.public"),
    )
    async def stats(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member | None = None,
        days: app_commands.Range[int, MIN_DAYS, MAX_DAYS] = DEFAULT_DAYS,
        public: bool = False,
    ) -> None:
        # Deferred privately whatever `public` says: a refusal is never shown to everyone.
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        report = await self.bot.core.report.stats(
            caller_of(interaction), wearer_id, days=days, public=public
        )
        private = self.bot.voice_for(interaction)
        if not public:
            png = await chart_png(report.stats.days, chart_labels(days, private))
            await interaction.followup.send(
                stats_text(report, days, private),
                file=discord.File(io.BytesIO(png), filename=f"stats-{report.wearer_id}.png"),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        # Shown to everyone: in the server's language, as a message of its own.
        voice = await self.bot.server_voice(report.guild_id)
        png = await chart_png(report.stats.days, chart_labels(days, voice))
        channel = self.bot.get_partial_messageable(
            interaction.channel_id or 0, guild_id=report.guild_id
        )
        await channel.send(
            stats_text(report, days, voice),
            file=discord.File(io.BytesIO(png), filename=f"stats-{report.wearer_id}.png"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await reply(interaction, private.text("reply.stats-posted"), ephemeral=True)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Stats(bot))
