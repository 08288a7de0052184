"""/settings: where the feed goes, what its messages carry (buttons, reactions or both),
whether wearers may complete their own tasks, the language of the server's public messages, the
time zone of its schedules and how long it keeps its record."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Channel, Permissions
from bot.core.retention import FOREVER
from bot.core.settings import AUTO_LANGUAGE
from bot.discord_side.feed_problems import (
    WARNING_EMOJI,
    feed_permissions,
    permission_names,
    posting_permissions,
)
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text, server_language
from bot.discord_side.suggestions import timezone_choices
from bot.i18n import default_catalogue
from bot.store import Controls

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

LANGUAGE_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.language.{code}"), value=code)
    for code in (AUTO_LANGUAGE, *default_catalogue().languages)
]

CONTROLS_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.controls.{style.value}"), value=style.value)
    for style in Controls
]


# Discord hides the group from members without Manage Server; the core checks it again,
# because server admins can override command permissions.
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class ServerSettings(
    commands.GroupCog,
    group_name="settings",
    group_description=command_text("command.settings"),
):
    """Per-server settings (Manage Server only; checked by the bot, not just by Discord)."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="feed", description=command_text("command.settings.feed"))
    @app_commands.describe(channel=command_text("option.settings.feed.channel"))
    async def feed(
        self, interaction: discord.Interaction[TasksBot], channel: discord.TextChannel
    ) -> None:
        caller = caller_of(interaction)
        controls = (await self.bot.core.settings.of(caller.guild_id)).controls
        await self.bot.core.settings.set_feed_channel(
            caller,
            channel.id,
            missing_permissions=_missing(channel, posting_permissions(controls)),
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text("reply.feed-set", channel=Channel(channel.id)),
            ephemeral=True,
        )

    @app_commands.command(
        name="wearer-complete", description=command_text("command.settings.wearer-complete")
    )
    @app_commands.describe(allowed=command_text("option.settings.wearer-complete.allowed"))
    async def wearer_complete(
        self, interaction: discord.Interaction[TasksBot], allowed: bool
    ) -> None:
        await self.bot.core.settings.set_wearer_can_complete(caller_of(interaction), allowed)
        voice = self.bot.voice_for(interaction)
        key = "reply.wearer-complete-on" if allowed else "reply.wearer-complete-off"
        await reply(interaction, voice.text(key), ephemeral=True)

    @app_commands.command(name="controls", description=command_text("command.settings.controls"))
    @app_commands.describe(style=command_text("option.settings.controls.style"))
    @app_commands.choices(style=CONTROLS_CHOICES)
    async def controls(
        self, interaction: discord.Interaction[TasksBot], style: app_commands.Choice[str]
    ) -> None:
        settings = await self.bot.core.settings.set_controls(caller_of(interaction), style.value)
        voice = self.bot.voice_for(interaction)
        lines = [voice.text(f"reply.controls.{settings.controls.value}")]
        # Set anyway: the permissions can be given afterwards, and the reply says which.
        feed = (
            interaction.guild.get_channel(settings.feed_channel_id)
            if interaction.guild is not None and settings.feed_channel_id is not None
            else None
        )
        if isinstance(feed, discord.TextChannel):
            missing = _missing(feed, feed_permissions(settings.controls))
            if missing:
                lines.append(
                    f"{WARNING_EMOJI} "
                    + voice.text(
                        "reply.controls.missing",
                        channel=Channel(feed.id),
                        permissions=Permissions(tuple(missing)),
                    )
                )
        await reply(interaction, "\n".join(lines), ephemeral=True)

    @app_commands.command(name="timezone", description=command_text("command.settings.timezone"))
    @app_commands.describe(zone=command_text("option.settings.timezone.zone"))
    async def timezone(
        self, interaction: discord.Interaction[TasksBot], zone: app_commands.Range[str, 1, 64]
    ) -> None:
        settings = await self.bot.core.settings.set_timezone(caller_of(interaction), zone)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction, voice.text("reply.timezone-set", zone=settings.timezone), ephemeral=True
        )

    @timezone.autocomplete("zone")
    async def _zone_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @app_commands.command(
        name="chaster-history", description=command_text("command.settings.chaster-history")
    )
    @app_commands.describe(enabled=command_text("option.settings.chaster-history.enabled"))
    async def chaster_history(
        self, interaction: discord.Interaction[TasksBot], enabled: bool
    ) -> None:
        await self.bot.core.settings.set_chaster_history(caller_of(interaction), enabled)
        voice = self.bot.voice_for(interaction)
        key = "reply.chaster-history-on" if enabled else "reply.chaster-history-off"
        await reply(interaction, voice.text(key), ephemeral=True)

    @app_commands.command(name="retention", description=command_text("command.settings.retention"))
    @app_commands.describe(days=command_text("option.settings.retention.days"))
    async def retention(
        self, interaction: discord.Interaction[TasksBot], days: app_commands.Range[str, 1, 10]
    ) -> None:
        settings = await self.bot.core.settings.set_retention(caller_of(interaction), days)
        voice = self.bot.voice_for(interaction)
        kept = settings.retention_days
        text = (
            voice.text("reply.retention-forever")
            if kept is None
            else voice.text("reply.retention-set", count=kept)
        )
        await reply(interaction, text, ephemeral=True)

    @retention.autocomplete("days")
    async def _retention_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=value, value=value)
            for value in ("30", "90", "180", "365", "730", "3650", FOREVER)
            if value.startswith(typed)
        ]

    @app_commands.command(name="language", description=command_text("command.settings.language"))
    @app_commands.describe(language=command_text("option.settings.language.language"))
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def language(
        self, interaction: discord.Interaction[TasksBot], language: app_commands.Choice[str]
    ) -> None:
        settings = await self.bot.core.settings.set_language(caller_of(interaction), language.value)
        voice = self.bot.voice_for(interaction)
        speaks = server_language(settings.language, interaction.guild, self.bot.catalogue)
        key = "reply.language-auto" if settings.language == AUTO_LANGUAGE else "reply.language-set"
        await reply(
            interaction,
            voice.text(key, language=voice.text(f"choice.language.{speaks}")),
            ephemeral=True,
        )


def _missing(channel: discord.TextChannel, needed: discord.Permissions) -> list[str]:
    """The `needed` permissions the bot lacks in `channel`."""
    me = channel.guild.me
    if me is None:
        return []
    missing = discord.Permissions(needed.value & ~channel.permissions_for(me).value)
    return list(permission_names(missing).names)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(ServerSettings(bot))
