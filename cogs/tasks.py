"""/task: assign, random, vote, start, complete, fail, status, history and export."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import Channel, Param, Person, Reason, Refused
from bot.core.library import Source
from bot.core.model import TaskAction, TaskStatus
from bot.core.votes import (
    DEFAULT_HOURS,
    DEFAULT_OPTIONS,
    MAX_HOURS,
    MAX_OPTIONS,
    MIN_HOURS,
    MIN_OPTIONS,
)
from bot.discord_side.automation_text import defaults_lines, pause_line, penalty_line
from bot.discord_side.feed_problems import WARNING_EMOJI, collect_feed_problems, with_feed_problems
from bot.discord_side.feed_view import state_label
from bot.discord_side.history_view import HistoryButton, history_page
from bot.discord_side.interactions import caller_of, reply
from bot.discord_side.language import command_text
from bot.discord_side.polls import end_vote, post_vote
from bot.discord_side.proof_view import PROOF_CHOICES, photos_of, proof_of, sent_reply
from bot.discord_side.replies import assigned
from bot.discord_side.suggestions import duration_choices, task_choices
from bot.discord_side.voice import Voice
from bot.store import TaskState

if TYPE_CHECKING:
    from bot.discord_side.client import TasksBot

SOURCE_CHOICES = [
    app_commands.Choice(name=command_text(f"choice.source.{source.value}"), value=source.value)
    for source in Source
]
_DONE = {
    TaskAction.START: "reply.done.start",
    TaskAction.COMPLETE: "reply.done.complete",
    TaskAction.FAIL: "reply.done.fail",
}


@app_commands.guild_only()
class Tasks(commands.GroupCog, group_name="task", group_description=command_text("command.task")):
    """Every subcommand defers first: they all call Chaster, whose latency is not ours."""

    def __init__(self, bot: TasksBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(HistoryButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HistoryButton)

    @app_commands.command(name="assign", description=command_text("command.task.assign"))
    @app_commands.describe(
        wearer=command_text("option.task.assign.wearer"),
        description=command_text("option.task.assign.description"),
        points=command_text("option.task.assign.points"),
        verification=command_text("option.task.assign.verification"),
        duration=command_text("option.task.assign.duration"),
        deadline=command_text("option.deadline"),
        proof=command_text("option.proof"),
    )
    @app_commands.choices(proof=PROOF_CHOICES)
    async def assign(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        description: app_commands.Range[str, 1, 500],
        points: app_commands.Range[int, 0] | None = None,
        verification: bool | None = None,
        duration: str | None = None,
        deadline: app_commands.Range[str, 1, 16] | None = None,
        proof: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        with collect_feed_problems() as problems:
            task = await self.bot.core.tasks.assign(
                caller_of(interaction),
                wearer.id,
                description=description,
                points=points,
                verification_required=verification,
                duration=duration,
                deadline=deadline,
                proof=proof_of(proof),
                channel_id=interaction.channel_id or 0,
            )
        voice = self.bot.voice_for(interaction)
        done = assigned(task, wearer.id, voice)
        await reply(interaction, with_feed_problems(done, problems, voice), ephemeral=True)

    @assign.autocomplete("description")
    async def _description_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        # Local only: the caller's library and the wearer's lock list as last read.
        wearer = getattr(interaction.namespace, "wearer", None)
        found = await self.bot.core.library.suggestions(
            caller_of(interaction), wearer.id if wearer is not None else None, current
        )
        return task_choices(found, self.bot.voice_for(interaction))

    @app_commands.command(name="random", description=command_text("command.task.random"))
    @app_commands.describe(
        wearer=command_text("option.task.random.wearer"),
        source=command_text("option.task.random.source"),
        tag=command_text("option.task.random.tag"),
        deadline=command_text("option.deadline"),
        proof=command_text("option.proof"),
    )
    @app_commands.choices(source=SOURCE_CHOICES, proof=PROOF_CHOICES)
    async def random(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        source: app_commands.Choice[str] | None = None,
        tag: app_commands.Range[str, 1, 32] | None = None,
        deadline: app_commands.Range[str, 1, 16] | None = None,
        proof: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        with collect_feed_problems() as problems:
            task = await self.bot.core.tasks.random(
                caller_of(interaction),
                wearer.id,
                source=_source(source),
                tag=tag,
                deadline=deadline,
                proof=proof_of(proof),
                channel_id=interaction.channel_id or 0,
            )
        voice = self.bot.voice_for(interaction)
        done = assigned(task, wearer.id, voice)
        await reply(interaction, with_feed_problems(done, problems, voice), ephemeral=True)

    @app_commands.command(name="proof", description=command_text("command.task.proof"))
    @app_commands.describe(photo=command_text("option.task.proof.photo"))
    async def proof(
        self, interaction: discord.Interaction[TasksBot], photo: discord.Attachment
    ) -> None:
        # Private: the reply says only that the photo went to Chaster; the photo is never
        # shown in a channel.
        await interaction.response.defer(ephemeral=True, thinking=True)
        with collect_feed_problems() as problems:
            sent = await self.bot.core.proofs.submit(caller_of(interaction), photos_of([photo]))
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            with_feed_problems(sent_reply(sent, voice), problems, voice),
            ephemeral=True,
        )

    @app_commands.command(name="vote", description=command_text("command.task.vote"))
    @app_commands.describe(
        wearer=command_text("option.task.vote.wearer"),
        options=command_text("option.task.vote.options"),
        hours=command_text("option.task.vote.hours"),
        source=command_text("option.task.random.source"),
        tag=command_text("option.task.random.tag"),
    )
    @app_commands.choices(source=SOURCE_CHOICES)
    async def vote(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member,
        options: app_commands.Range[int, MIN_OPTIONS, MAX_OPTIONS] = DEFAULT_OPTIONS,
        hours: app_commands.Range[int, MIN_HOURS, MAX_HOURS] = DEFAULT_HOURS,
        source: app_commands.Choice[str] | None = None,
        tag: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        core = self.bot.core
        vote = await core.votes.start(
            caller_of(interaction),
            wearer.id,
            options=options,
            hours=hours,
            source=_source(source),
            tag=tag,
            channel_id=interaction.channel_id or 0,
        )
        # The poll is public: in the server's language.
        public = await self.bot.server_voice(vote.guild_id)
        channel = self.bot.get_partial_messageable(vote.channel_id, guild_id=vote.guild_id)
        try:
            message = await post_vote(channel, vote, wearer.display_name, public)
        except discord.HTTPException as error:
            # Nobody can vote on a poll that is not there: withdraw it.
            await core.votes.cancel(vote.id)
            raise Refused(Reason.VOTE_NOT_POSTABLE, error=error.text or str(error.status)) from None
        await core.votes.attach_message(vote.id, message.id)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction,
            voice.text(
                "reply.vote-started",
                wearer=Person(wearer.id),
                channel=Channel(vote.channel_id),
                ends=vote.ends_at,
            ),
            ephemeral=True,
        )

    @app_commands.command(name="vote-end", description=command_text("command.task.vote-end"))
    @app_commands.describe(wearer=command_text("option.task.vote-end.wearer"))
    async def vote_end(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        vote = await self.bot.core.votes.to_end_early(caller_of(interaction), wearer.id)
        await end_vote(self.bot, vote.id)
        voice = self.bot.voice_for(interaction)
        await reply(
            interaction, voice.text("reply.vote-ended", wearer=Person(wearer.id)), ephemeral=True
        )

    @assign.autocomplete("duration")
    async def _duration_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current, self.bot.voice_for(interaction))

    @assign.autocomplete("deadline")
    @random.autocomplete("deadline")
    async def _deadline_choices(
        self, interaction: discord.Interaction[TasksBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return duration_choices(current, self.bot.voice_for(interaction), span=True)

    @app_commands.command(name="start", description=command_text("command.task.start"))
    @app_commands.describe(wearer=command_text("option.task.wearer"))
    async def start(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.START)

    @app_commands.command(name="complete", description=command_text("command.task.complete"))
    @app_commands.describe(wearer=command_text("option.task.wearer"))
    async def complete(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.COMPLETE)

    @app_commands.command(name="fail", description=command_text("command.task.fail"))
    @app_commands.describe(wearer=command_text("option.task.wearer"))
    async def fail(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await self._act(interaction, wearer, TaskAction.FAIL)

    async def _act(
        self,
        interaction: discord.Interaction[TasksBot],
        wearer: discord.Member | None,
        action: TaskAction,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        with collect_feed_problems() as problems:
            task = await self.bot.core.actions.act(caller_of(interaction), wearer_id, action)
        voice = self.bot.voice_for(interaction)
        if task.state is TaskState.AWAITING_CONFIRMATION:
            message = voice.text("reply.awaiting-confirmation")
        elif task.state is TaskState.TIMER_RUNNING and task.timer_ends_at is not None:
            message = voice.text("reply.timer-started", at=task.timer_ends_at)
        else:
            message = voice.text(_DONE[action])
        await reply(interaction, with_feed_problems(message, problems, voice), ephemeral=True)

    @app_commands.command(name="status", description=command_text("command.task.status"))
    @app_commands.describe(wearer=command_text("option.task.status.wearer"))
    async def status(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        status = await self.bot.core.tasks.status(caller_of(interaction), wearer_id)
        voice = self.bot.voice_for(interaction)
        await reply(interaction, _describe(status, self.bot.core.clock(), voice), ephemeral=True)

    @app_commands.command(name="history", description=command_text("command.task.history"))
    @app_commands.describe(wearer=command_text("option.task.history.wearer"))
    async def history(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        wearer_id = (wearer or interaction.user).id
        page = await self.bot.core.record.history(caller_of(interaction), wearer_id)
        content, view = history_page(page, self.bot.voice_for(interaction))
        await interaction.response.send_message(
            content,
            view=view or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="export", description=command_text("command.task.export"))
    @app_commands.describe(wearer=command_text("option.task.export.wearer"))
    async def export(
        self, interaction: discord.Interaction[TasksBot], wearer: discord.Member | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        wearer_id = (wearer or interaction.user).id
        data = await self.bot.core.record.export(caller_of(interaction), wearer_id)
        voice = self.bot.voice_for(interaction)
        await interaction.followup.send(
            voice.text("reply.exported", wearer=Person(wearer_id)),
            file=discord.File(io.BytesIO(data), filename=f"tasks-{wearer_id}.csv"),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )


def _source(choice: app_commands.Choice[str] | None) -> Source:
    """Where a draw or a vote takes its tasks from: both unless chosen."""
    return Source(choice.value) if choice else Source.BOTH


def _describe(status: TaskStatus, now: datetime, voice: Voice) -> str:
    link, task = status.link, status.task
    lines = [
        voice.text(
            "status.header", wearer=Person(link.wearer_id), keyholder=Person(link.keyholder_id)
        )
    ]
    paused = pause_line(link, voice)
    if paused is not None:
        lines.append(paused)
    lines.extend(defaults_lines(link, voice))
    lines.extend(penalty_line(penalty, voice) for penalty in status.penalties)
    if task is None:
        lines.append(voice.text("status.no-task"))
    else:
        shown: dict[str, Param] = {
            "id": task.id,
            "task": voice.task_text(task.description),
            "count": task.points,
            "state": state_label(task, now, voice),
        }
        if task.state is TaskState.TIMER_RUNNING and task.timer_ends_at is not None:
            lines.append(voice.text("status.task-ending", **shown, at=task.timer_ends_at))
        else:
            lines.append(voice.text("status.task", **shown))
        if task.state.is_open and task.deadline_at is not None:
            lines.append(voice.text("status.deadline", at=task.deadline_at))
    if status.chaster is not None:
        chaster = status.chaster
        if chaster.enable_points:
            if chaster.points_required:
                lines.append(
                    voice.text(
                        "status.points-target",
                        points=chaster.points,
                        target=chaster.points_required,
                    )
                )
            else:
                lines.append(voice.text("status.points", points=chaster.points))
        if chaster.current_task is not None and (task is None or not task.state.is_open):
            lines.append(voice.text("status.chaster-task", task=chaster.current_task.task))
    elif status.chaster_problem is not None:
        lines.append(f"{WARNING_EMOJI} {voice.refusal(status.chaster_problem)}")
    if status.read_at is not None:
        lines.append(voice.text("status.read-at", at=status.read_at))
    return "\n".join(lines)


async def setup(bot: TasksBot) -> None:
    await bot.add_cog(Tasks(bot))
