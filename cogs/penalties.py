"""/penalty: what happens to the lock in Chaster when a task fails or misses its deadline, and
when the wearer is reminded of a deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.durations import format_span
from bot.core.errors import Person
from bot.core.penalties import ALL
from bot.discord_side.automation_text import penalty_line
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.suggestions import duration_choices
from bot.store import PenaltyAction, PenaltyOn

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

ON_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.penalty-on.{on.value}"), value=on.value)
    for on in PenaltyOn
]
CLEAR_CHOICES = [
    *ON_CHOICES,
    app_commands.Choice(name=command_text(f"choice.penalty-on.{ALL}"), value=ALL),
]
ACTION_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.penalty-action.{kind.value}"), value=kind.value)
    for kind in PenaltyAction
]


@app_commands.guild_only()
class Penalties(
    commands.GroupCog, group_name="penalty", group_description=command_text("command.penalty")
):
    """Each subcommand that reads the lock defers first: setting one reads Chaster."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="set", description=command_text("command.penalty.set"))
    @app_commands.describe(
        wearer=command_text("option.penalty.wearer"),
        on=command_text("option.penalty.set.on"),
        action=command_text("option.penalty.set.action"),
        amount=command_text("option.penalty.set.amount"),
        reason=command_text("option.penalty.set.reason"),
    )
    @app_commands.choices(on=ON_CHOICES, action=ACTION_CHOICES)
    async def set_(
        self,
        interaction: discord.Interaction[TasksBot],
        on: app_commands.Choice[str],
        action: app_commands.Choice[str],
        amount: app_commands.Range[str, 1, 16] | None = None,
        reason: app_commands.Range[str, 1, 200] | None = None,
        wearer: discord.Member | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        link, penalty = await self.bot.core.penalties.set(
            caller_of(interaction),
            _id(wearer),
            on=on.value,
            action=action.value,
            amount=amount,
            reason=reason,
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text(
                "reply.penalty-set",
                wearer=Person(link.wearer_id),
                penalty=penalty_line(penalty, voice),
            ),
            ephemeral=True,
        )

    @set_.autocomplete("amount")
    async def _amount_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current, self.bot.voice_for(interaction), span=True)

    @app_commands.command(name="list", description=command_text("command.penalty.list"))
    @app_commands.describe(wearer=command_text("option.penalty.list.wearer"))
    async def list_(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        wearer_id = (wearer or interaction.user).id
        link, penalties = await self.bot.core.penalties.of_wearer(caller_of(interaction), wearer_id)
        voice = self.bot.voice_for(interaction)
        lines = [voice.text("reply.penalties", wearer=Person(wearer_id))]
        lines += [f"- {penalty_line(penalty, voice)}" for penalty in penalties]
        if not penalties:
            lines.append(voice.text("reply.penalties-none"))
        lines.append(
            voice.text("reply.remind-before", duration=format_span(link.remind_before_seconds))
        )
        await reply(interaction, "\n".join(lines), ephemeral=True)

    @app_commands.command(name="clear", description=command_text("command.penalty.clear"))
    @app_commands.describe(
        wearer=command_text("option.penalty.wearer"), on=command_text("option.penalty.clear.on")
    )
    @app_commands.choices(on=CLEAR_CHOICES)
    async def clear(
        self,
        interaction: discord.Interaction[TasksBot],
        on: app_commands.Choice[str],
        wearer: discord.Member | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        link, count = await self.bot.core.penalties.clear(
            caller_of(interaction), _id(wearer), on.value
        )
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text("reply.penalties-cleared", count=count, wearer=Person(link.wearer_id)),
            ephemeral=True,
        )

    @app_commands.command(name="remind", description=command_text("command.penalty.remind"))
    @app_commands.describe(
        wearer=command_text("option.penalty.wearer"),
        before=command_text("option.penalty.remind.before"),
    )
    async def remind(
        self,
        interaction: discord.Interaction[TasksBot],
        before: app_commands.Range[str, 1, 16],
        wearer: discord.Member | None = None,
    ) -> None:
        link = await self.bot.core.penalties.remind(caller_of(interaction), _id(wearer), before)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text(
                "reply.remind-set",
                wearer=Person(link.wearer_id),
                duration=format_span(link.remind_before_seconds),
            ),
            ephemeral=True,
        )

    @remind.autocomplete("before")
    async def _before_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current, self.bot.voice_for(interaction), span=True)


def _id(wearer: discord.Member | None) -> int | None:
    """The wearer named, if any: without one, the core finds the one meant."""
    return wearer.id if wearer is not None else None


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Penalties(bot))
