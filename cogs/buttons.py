"""Presses of the buttons on feed messages and link requests.

Each press is dispatched by its custom id alone (discord.py's dynamic items), so buttons on
messages from before a restart work with nothing registered per message. A press goes through
the same core call as the command and the reaction, under the same per-wearer lock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.core.errors import Reason, Refused
from bot.core.model import Caller, TaskAction
from bot.discord_side.controls import (
    ACCEPT,
    LINK_BUTTON,
    TASK_BUTTON,
    link_custom_id,
    task_custom_id,
)
from bot.discord_side.feed_problems import WARNING_EMOJI, collect_feed_problems
from bot.discord_side.interactions import caller_of
from bot.discord_side.link_requests import show_link_accepted
from bot.discord_side.proof_view import open_proof_form

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

log = logging.getLogger(__name__)

Press = Callable[[Caller], Awaitable[None]]


class TaskButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=TASK_BUTTON):
    """Start timer, Complete, Fail, Confirm or Reject on a task's feed message."""

    def __init__(self, action: TaskAction, task_id: int) -> None:
        super().__init__(discord.ui.Button(custom_id=task_custom_id(action, task_id)))
        self.action = action
        self.task_id = task_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> TaskButton:
        return cls(TaskAction(match["action"]), int(match["task"]))

    async def callback(self, interaction: discord.Interaction[TasksBot]) -> None:  # type: ignore[override]
        core = interaction.client.core
        if self.action is TaskAction.COMPLETE:
            shown = await core.tasks.get(self.task_id)
            if shown is not None and shown.proof is not None:
                # Its completion is a photo's verdict: the press opens the upload form.
                await open_proof_form(interaction, shown)
                return

        async def press(caller: Caller) -> None:
            task = await core.tasks.get(self.task_id)
            if task is None:
                raise Refused(Reason.TASK_GONE)
            await core.actions.act_on_message(caller, task, self.action, via="button")

        await answer_press(interaction, press)


class LinkButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=LINK_BUTTON):
    """Accept or Decline on a link request."""

    def __init__(self, answer: str, request_id: int) -> None:
        super().__init__(discord.ui.Button(custom_id=link_custom_id(answer, request_id)))
        self.answer = answer
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> LinkButton:
        return cls(match["answer"], int(match["request"]))

    async def callback(self, interaction: discord.Interaction[TasksBot]) -> None:  # type: ignore[override]
        bot = interaction.client

        async def press(caller: Caller) -> None:
            request = await bot.core.links.request(self.request_id)
            if request is None:
                raise Refused(Reason.LINK_REQUEST_NOT_PENDING)
            if self.answer != ACCEPT:
                # The feed shows the answer and tells the requester.
                await bot.core.links.decline(caller, request)
                return
            link = await bot.core.links.confirm(caller, request)
            voice = await bot.server_voice(request.guild_id)
            channel = bot.get_partial_messageable(request.channel_id, guild_id=request.guild_id)
            message_id = interaction.message.id if interaction.message else request.message_id
            if message_id is None:
                return
            try:
                await show_link_accepted(channel.get_partial_message(message_id), link, voice)
            except discord.HTTPException as error:
                # The link is made; only its message could not say so.
                log.warning("could not show an accepted link request: %s", error)

        await answer_press(interaction, press)


async def answer_press(interaction: discord.Interaction[TasksBot], press: Press) -> None:
    """Acknowledge at once, then act: an accepted press shows on the message itself once
    Chaster has answered (the feed edits it); a refused one gets a reply only the presser sees,
    and changes nothing."""
    bot = interaction.client
    async with bot.work.running(("button", interaction.id)):
        # A deferred update: Discord's 3 s are met whatever Chaster's latency.
        try:
            await interaction.response.defer()
        except discord.HTTPException as error:
            # Too late: Discord already told the presser it failed, so nothing is done.
            log.warning("could not acknowledge button press %d: %s", interaction.id, error)
            return
        voice = bot.voice_for(interaction)
        try:
            with collect_feed_problems() as problems:
                await press(caller_of(interaction))
        except Refused as refusal:
            await _privately(interaction, voice.refusal(refusal))
            return
        except Exception:
            log.exception(
                "button %s failed", interaction.data and interaction.data.get("custom_id")
            )
            await _privately(interaction, voice.text("error.internal"))
            return
        if problems:
            # Done, but the message could not show it: the presser should know.
            await _privately(
                interaction, "\n".join(f"{WARNING_EMOJI} {p.describe(voice)}" for p in problems)
            )


async def _privately(interaction: discord.Interaction[TasksBot], text: str) -> None:
    try:
        await interaction.followup.send(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
    except discord.HTTPException:
        log.warning("could not answer button press %d", interaction.id)


class Buttons(commands.Cog):
    """Keeps the dynamic items registered while the cog is loaded."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(TaskButton, LinkButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(TaskButton, LinkButton)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Buttons(bot))
