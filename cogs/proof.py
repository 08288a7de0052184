"""/proof settings, and the photo form a proof task's Complete button opens."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Person, Refused
from bot.discord_side.feed_problems import collect_feed_problems, with_feed_problems
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.proof_view import PROOF_FORM, sent_reply, submitted_photos

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)


@app_commands.guild_only()
class Proof(commands.GroupCog, group_name="proof", group_description=command_text("command.proof")):
    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="settings", description=command_text("command.proof.settings"))
    @app_commands.describe(
        wearer=command_text("option.proof.settings.wearer"),
        hours=command_text("option.proof.settings.hours"),
        max_votes=command_text("option.proof.settings.max-votes"),
    )
    @app_commands.rename(max_votes="max-votes")
    async def settings(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        hours: app_commands.Range[float, 0.25, 6.0] | None = None,
        max_votes: app_commands.Range[int, 3, 100] | None = None,
    ) -> None:
        link = await self.bot.core.proof_settings.settings(
            caller_of(interaction), wearer.id, hours=hours, max_votes=max_votes
        )
        voice = self.bot.voice_for(interaction)
        delay = link.proof_delay_seconds
        parts = [
            voice.text("reply.proof-settings", wearer=Person(wearer.id)),
            voice.text("reply.proof-settings.hours", hours=f"{delay / 3600:g}")
            if delay is not None
            else voice.text("reply.proof-settings.hours-default"),
            voice.text("reply.proof-settings.votes", count=link.proof_max_votes)
            if link.proof_max_votes is not None
            else voice.text("reply.proof-settings.votes-default"),
        ]
        await reply(interaction, "\n".join(parts), ephemeral=True)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[TasksBot]) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data = dict(interaction.data or {})
        match = PROOF_FORM.fullmatch(str(data.get("custom_id")))
        if match is None:
            return
        async with self.bot.work.running(("proof-form", interaction.id)):
            await self._submit(interaction, int(match["task"]))

    async def _submit(self, interaction: discord.Interaction[TasksBot], task_id: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        voice = self.bot.voice_for(interaction)
        try:
            with collect_feed_problems() as problems:
                sent = await self.bot.core.proofs.submit(
                    caller_of(interaction), submitted_photos(interaction), task_id=task_id
                )
        except Refused as refusal:
            await reply(interaction, voice.refusal(refusal), ephemeral=True)
            return
        except Exception:
            log.exception("the photo form failed")
            await reply(interaction, voice.text("error.internal"), ephemeral=True)
            return
        await reply(
            interaction,
            with_feed_problems(sent_reply(sent, voice), problems, voice),
            ephemeral=True,
        )


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Proof(bot))
