"""/schedule: a keyholder's routine for a wearer (add, list, remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Person
from bot.core.library import Source
from bot.discord_side.automation_text import schedule_line
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.proof_view import PROOF_CHOICES, proof_of
from bot.discord_side.suggestions import duration_choices, task_choices, timezone_choices

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

RANDOM_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.source.{source.value}"), value=source.value)
    for source in Source
]


@app_commands.guild_only()
class Schedules(
    commands.GroupCog, group_name="schedule", group_description=command_text("command.schedule")
):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="add", description=command_text("command.schedule.add"))
    @app_commands.describe(
        wearer=command_text("option.schedule.add.wearer"),
        every=command_text("option.schedule.add.every"),
        at=command_text("option.schedule.add.at"),
        entry=command_text("option.schedule.add.entry"),
        random=command_text("option.schedule.add.random"),
        timezone=command_text("option.schedule.add.timezone"),
        tag=command_text("option.schedule.add.tag"),
        deadline=command_text("option.deadline"),
        proof=command_text("option.proof"),
    )
    @app_commands.choices(random=RANDOM_CHOICES, proof=PROOF_CHOICES)
    async def add(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        every: app_commands.Range[str, 1, 16],
        at: app_commands.Range[str, 1, 8],
        entry: app_commands.Range[str, 1, 500] | None = None,
        random: app_commands.Choice[str] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        tag: app_commands.Range[str, 1, 32] | None = None,
        deadline: app_commands.Range[str, 1, 16] | None = None,
        proof: app_commands.Choice[str] | None = None,
    ) -> None:
        schedule = await self.bot.core.schedules.add(
            caller_of(interaction),
            wearer.id,
            every=every,
            at=at,
            entry=entry,
            source=random.value if random is not None else None,
            timezone=timezone,
            tag=tag,
            deadline=deadline,
            proof=proof_of(proof),
        )
        voice = self.bot.voice_for(interaction)
        line = schedule_line(schedule, await self.bot.core.schedules.entry_text(schedule), voice)
        await reply(
            interaction,
            voice.text("reply.schedule-added", wearer=Person(wearer.id), schedule=line),
            ephemeral=True,
        )

    @add.autocomplete("entry")
    async def _entry_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        # The caller's library only: a schedule keeps an entry, not a lock task.
        found = await self.bot.core.library.suggestions(caller_of(interaction), None, current)
        return task_choices(
            [task for task in found if not task.from_lock], self.bot.voice_for(interaction)
        )

    @add.autocomplete("every")
    async def _every_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        voice = self.bot.voice_for(interaction)
        options = [
            ("day", voice.text("choice.every.day")),
            ("weekday", voice.text("choice.every.weekday")),
            ("week", voice.text("choice.every.week")),
            *((f"{n}h", voice.text("choice.every.hours", count=n)) for n in (1, 2, 3, 4, 6, 8, 12)),
        ]
        typed = current.strip().lower()
        return [
            app_commands.Choice(name=f"{value} · {words}", value=value)
            for value, words in options
            if value.startswith(typed)
        ][:25]

    @add.autocomplete("timezone")
    async def _timezone_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @add.autocomplete("deadline")
    async def _deadline_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current, self.bot.voice_for(interaction), span=True)

    @app_commands.command(name="list", description=command_text("command.schedule.list"))
    @app_commands.describe(wearer=command_text("option.schedule.list.wearer"))
    async def list_(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        wearer_id = (wearer or interaction.user).id
        core = self.bot.core
        schedules = await core.schedules.of_wearer(caller_of(interaction), wearer_id)
        voice = self.bot.voice_for(interaction)
        if not schedules:
            text = voice.text("reply.schedules-none", wearer=Person(wearer_id))
        else:
            lines = [voice.text("reply.schedules", wearer=Person(wearer_id))]
            for schedule in schedules:
                entry = await core.schedules.entry_text(schedule)
                lines.append(f"- {schedule_line(schedule, entry, voice)}")
            text = "\n".join(lines)
        await reply(interaction, text, ephemeral=True)

    @app_commands.command(name="remove", description=command_text("command.schedule.remove"))
    @app_commands.describe(schedule=command_text("option.schedule.remove.schedule"))
    async def remove(
        self, interaction: discord.Interaction[TasksBot], schedule: app_commands.Range[str, 1, 20]
    ) -> None:
        removed = await self.bot.core.schedules.remove(caller_of(interaction), schedule)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text(
                "reply.schedule-removed", number=removed.id, wearer=Person(removed.wearer_id)
            ),
            ephemeral=True,
        )

    @remove.autocomplete("schedule")
    async def _schedule_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        core, voice = self.bot.core, self.bot.voice_for(interaction)
        typed = current.strip().lstrip("#")
        choices = []
        for schedule in await core.schedules.removable(caller_of(interaction)):
            if typed and not str(schedule.id).startswith(typed):
                continue
            entry = await core.schedules.entry_text(schedule)
            line = schedule_line(schedule, entry, voice, with_next=False)
            choices.append(app_commands.Choice(name=line[:100], value=str(schedule.id)))
        return choices[:25]


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Schedules(bot))
