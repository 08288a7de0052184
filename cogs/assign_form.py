""" "Assign task" in a member's context menu (Apps): a form that does what `/task assign` does."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Reason, Refused
from bot.discord_side.feed_problems import collect_feed_problems, with_feed_problems
from bot.discord_side.forms import ASSIGN_FORM, as_typed, assign_form, read_assign_form
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.replies import assigned
from bot.store import Proof

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)


class AssignForm(commands.Cog):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        self.menu = app_commands.guild_only(
            app_commands.ContextMenu(name=command_text("command.menu.assign"), callback=self.open)
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def open(
        self, interaction: discord.Interaction[TasksBot], member: discord.Member
    ) -> None:
        """Open the form, unless the caller may not assign this member a task: checked first,
        so nobody types a task only to be told they may not give it."""
        if member.bot:
            raise Refused(Reason.BOTS_DONT_WEAR_LOCKS)
        await self.bot.core.tasks.may_assign(caller_of(interaction), member.id)
        await interaction.response.send_modal(
            assign_form(member.id, self.bot.voice_for(interaction))
        )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[TasksBot]) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = dict(interaction.data or {})
        match = ASSIGN_FORM.fullmatch(str(data.get("custom_id")))
        if match is None:
            return
        async with self.bot.work.running(("form", interaction.id)):
            await self._submit(interaction, int(match["wearer"]), data)

    async def _submit(
        self, interaction: discord.Interaction[TasksBot], wearer_id: int, data: dict[str, object]
    ) -> None:
        """The same as `/task assign` with the form's values, with the same checks; a refusal
        shows the values back so nothing typed is lost."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        voice = self.bot.voice_for(interaction)
        typed = read_assign_form(data)
        try:
            with collect_feed_problems() as problems:
                task = await self.bot.core.tasks.assign(
                    caller_of(interaction),
                    wearer_id,
                    description=typed.description,
                    points=typed.points_value(),
                    # Unticked leaves it to the entry, if the text names one (else: no photo).
                    verification_required=typed.verification or None,
                    duration=typed.duration,
                    proof=None if typed.proof == "none" else Proof(typed.proof),
                    channel_id=interaction.channel_id or 0,
                )
        except Refused as refusal:
            answer = voice.refusal(refusal)
        except Exception:
            log.exception("the assign form failed")
            answer = voice.text("error.internal")
        else:
            done = assigned(task, wearer_id, voice)
            await reply(interaction, with_feed_problems(done, problems, voice), ephemeral=True)
            return
        await reply(interaction, f"{answer}\n\n{as_typed(typed, voice)}", ephemeral=True)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(AssignForm(bot))
